//! Who a run is: a uid and gid of its own, lent from a pool, and the
//! runner's way to read `/proc` as that identity.
//!
//! `RLIMIT_NPROC`, signals and `/proc` access all go by user. When every run
//! is the same user (`nobody`, say), a fork bomb in one run makes `fork`
//! fail in the runs beside it, and one run's program may signal another's.
//! So, when the runner is root, each run borrows a *slot*: a uid (and a gid
//! of the same number) from a range that no account uses, held for the
//! whole run and given back only once every process of the run is gone.
//! No `/etc/passwd` entry is needed: the kernel only deals in numbers.
//!
//! **The range** is [`DEFAULT_FIRST`]…, [`DEFAULT_COUNT`] uids, or what
//! `IPC_LAB_SANDBOX_UIDS=FIRST-LAST` says (as isolate's boxes are 60000 and
//! up). A slot is held with `flock` on `/run/ipc-lab-sandbox/uid-N.lock`
//! (or the same under the temporary directory when `/run` is missing), so
//! runners in different processes — two graders, a test run beside a
//! check — never lend the same uid twice. The lock file says `clean` when
//! its last run ended with every process gone; otherwise (a runner that
//! died mid-run, a tree that could not be killed) the next borrower looks
//! through `/proc` first, and skips the slot while its uid still owns a
//! process.
//!
//! **Exhausted**: more runs at once than slots. The run waits a little for
//! a slot, then goes on as a shared overflow uid (the one after the range),
//! and its [`crate::Isolation`] says that it had no user of its own.
//!
//! **Reading `/proc` as the run.** `/proc/PID/syscall`, `fd/` and `wchan`
//! are open to a reader that may ptrace the process: the same user, or
//! `CAP_SYS_PTRACE`, which Docker drops from root. The runner is root but
//! sets its thread's *filesystem* uid and gid to the run's ([`ReadAs`]) for
//! the moment it reads, which the kernel's check accepts as the same user.
//! `setfsuid` changes only the calling thread, so concurrent runs on other
//! threads are unaffected.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The first uid of the default pool.
pub const DEFAULT_FIRST: u32 = 61_000;
/// How many uids the default pool has: more runs than this at once share
/// the overflow uid.
pub const DEFAULT_COUNT: u32 = 128;
/// The variable that sets another range: `FIRST-LAST`, inclusive.
pub const RANGE_ENV: &str = "IPC_LAB_SANDBOX_UIDS";
/// How long a run waits for a free slot before it shares the overflow uid.
const WAIT_FOR_SLOT: Duration = Duration::from_secs(2);

/// The pool's range: (first uid, how many).
pub(crate) fn range() -> io::Result<(u32, u32)> {
    static RANGE: OnceLock<Result<(u32, u32), String>> = OnceLock::new();
    RANGE
        .get_or_init(|| match std::env::var(RANGE_ENV) {
            Err(_) => Ok((DEFAULT_FIRST, DEFAULT_COUNT)),
            Ok(text) => parse_range(&text).ok_or_else(|| {
                format!("sandbox: {RANGE_ENV}={text:?} is not a range of uids like 61000-61127")
            }),
        })
        .clone()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// Parses `FIRST-LAST` into (first, count); refuses root's uid, an empty
/// range, and one that reaches `nobody` or the invalid uid.
fn parse_range(text: &str) -> Option<(u32, u32)> {
    let (first, last) = text.trim().split_once('-')?;
    let (first, last): (u32, u32) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    // The overflow uid (`last + 1`) is lent too.
    let overflow = last.checked_add(1)?;
    let clear = |uid: u32| !(first..=overflow).contains(&uid);
    (first > 0 && last >= first && clear(65_534) && clear(u32::MAX)).then(|| (first, last - first + 1))
}

/// One run's identity, held until dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The uid; the gid is the same number.
    pub uid: u32,
    /// Whether the uid is this run's alone (false: the shared overflow uid).
    pub own: bool,
    /// The lock that holds it (none for the overflow uid).
    _lock: Option<File>,
}

impl Slot {
    /// Borrows a free slot, waiting up to [`WAIT_FOR_SLOT`]; the overflow
    /// uid after that.
    pub(crate) fn acquire() -> io::Result<Slot> {
        let (first, count) = range()?;
        let dir = lock_dir()?;
        let started = Instant::now();
        loop {
            if let Some(slot) = try_acquire(&dir, first, count)? {
                return Ok(slot);
            }
            if started.elapsed() >= WAIT_FOR_SLOT {
                return Ok(Slot {
                    uid: first + count,
                    own: false,
                    _lock: None,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The gid that goes with the uid.
    pub(crate) fn gid(&self) -> u32 {
        self.uid
    }

    /// Gives the slot back, saying that every process of its run is gone,
    /// so that the next borrower need not look. (Dropped without this, it
    /// is given back all the same, and the next borrower looks.)
    pub(crate) fn release_clean(self) {
        if let Some(file) = &self._lock {
            mark(file, CLEAN);
        }
    }

    /// Keeps the slot from ever being lent again by this process: processes
    /// of the run may still be alive (the supervisor was given up on).
    pub(crate) fn quarantine(self) {
        static KEPT: std::sync::Mutex<Vec<Slot>> = std::sync::Mutex::new(Vec::new());
        KEPT.lock().unwrap_or_else(|e| e.into_inner()).push(self);
    }
}

/// Tries each slot once, starting after the one lent last (so that a uid
/// just given back rests while others are used).
fn try_acquire(dir: &Path, first: u32, count: u32) -> io::Result<Option<Slot>> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut busy: Option<Vec<u32>> = None;
    for i in 0..count {
        let uid = first + (start.wrapping_add(i) % count);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(dir.join(format!("uid-{uid}.lock")))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            continue;
        }
        // Locked: but unless its last run ended cleanly, a process may still
        // run as this uid (its runner died and its tree survived); such a
        // slot is not free.
        if !says_clean(&file) {
            let owners = busy.get_or_insert_with(process_owners);
            if owners.contains(&uid) {
                continue;
            }
        }
        mark(&file, BUSY);
        return Ok(Some(Slot {
            uid,
            own: true,
            _lock: Some(file),
        }));
    }
    Ok(None)
}

/// What a lock file holds: the last run of its uid ended with every
/// process gone, or not (yet).
const CLEAN: &[u8] = b"clean\n";
const BUSY: &[u8] = b"busy\n";

/// Whether the lock file says its last run ended cleanly.
fn says_clean(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 8];
    file.read_at(&mut buf, 0)
        .is_ok_and(|n| buf.get(..n) == Some(CLEAN))
}

/// Writes `state` into the lock file (best effort: a lost mark only costs
/// the next borrower a look through `/proc`).
fn mark(file: &File, state: &[u8]) {
    use std::os::unix::fs::FileExt;
    let _ = file.set_len(0);
    let _ = file.write_all_at(state, 0);
}

/// The owners (effective uids) of every process, from `/proc/PID`'s owner.
fn process_owners() -> Vec<u32> {
    let mut owners: Vec<u32> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().as_encoded_bytes().iter().all(u8::is_ascii_digit))
        .filter_map(|e| e.metadata().ok().map(|m| m.uid()))
        .collect();
    owners.sort_unstable();
    owners.dedup();
    owners
}

/// The folder of the slots' locks: root's, private, made once.
fn lock_dir() -> io::Result<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/run").is_dir() {
            PathBuf::from("/run")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join("ipc-lab-sandbox");
        let made = fs::DirBuilder::new().mode(0o700).create(&dir);
        if let Err(e) = made {
            if e.kind() != io::ErrorKind::AlreadyExists {
                return Err(format!("sandbox: cannot make {}: {e}", dir.display()));
            }
        }
        // Never a link, never someone else's: a user who could put files
        // there could hold every slot.
        let meta = fs::symlink_metadata(&dir).map_err(|e| format!("sandbox: {}: {e}", dir.display()))?;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "sandbox: {} must be a folder of uid {me} that no one else may write",
                dir.display()
            ));
        }
        Ok(dir)
    })
    .clone()
    .map_err(io::Error::other)
}

/// While alive, this thread reads files as `uid`/`gid` (its filesystem
/// ids); dropping it gives the thread its own back. A no-op when the
/// runner is not root.
pub(crate) struct ReadAs {
    previous: Option<(u32, u32)>,
}

impl ReadAs {
    /// Reads as (`uid`, `gid`) from now on, on this thread only.
    pub(crate) fn new(ids: Option<(u32, u32)>) -> ReadAs {
        let Some((uid, gid)) = ids else {
            return ReadAs { previous: None };
        };
        // Group first: once the fsuid is not 0, setting the fsgid still
        // works (CAP_SETGID stays), but keep the order of least surprise.
        // SAFETY: setfsgid/setfsuid take plain integers and change only
        // this thread's filesystem ids.
        let previous = unsafe {
            let gid_before = libc::syscall(libc::SYS_setfsgid, gid) as u32;
            let uid_before = libc::syscall(libc::SYS_setfsuid, uid) as u32;
            (uid_before, gid_before)
        };
        ReadAs {
            previous: Some(previous),
        }
    }
}

impl Drop for ReadAs {
    fn drop(&mut self) {
        if let Some((uid, gid)) = self.previous {
            // The uid first: it brings back the capabilities that an fsuid
            // of 0 carries.
            // SAFETY: as in `new`.
            unsafe {
                libc::syscall(libc::SYS_setfsuid, uid);
                libc::syscall(libc::SYS_setfsgid, gid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_whose_uid_still_runs_is_not_lent_unless_its_last_run_was_clean() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("not root: cannot start a process as another uid");
            return;
        }
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let uid = 61_999;
        // A leftover of a run whose runner died: a process of that uid.
        let mut stray = std::process::Command::new("sleep")
            .arg("5")
            .uid(uid)
            .gid(uid)
            .spawn()
            .unwrap();
        let first = try_acquire(dir.path(), uid, 1).unwrap();
        assert!(first.is_none(), "lent a uid that still owns a process");
        stray.kill().unwrap();
        stray.wait().unwrap();
        let slot = try_acquire(dir.path(), uid, 1)
            .unwrap()
            .expect("the uid is free now");
        assert_eq!(slot.uid, uid);
        // Held: another borrower cannot have it.
        assert!(try_acquire(dir.path(), uid, 1).unwrap().is_none());
        let lock = dir.path().join(format!("uid-{uid}.lock"));
        assert_eq!(std::fs::read(&lock).unwrap(), BUSY);
        slot.release_clean();
        assert_eq!(std::fs::read(&lock).unwrap(), CLEAN);
        let again = try_acquire(dir.path(), uid, 1).unwrap().expect("free again");
        drop(again);
        // Dropped without a clean release: the next borrower looks again.
        assert_eq!(std::fs::read(&lock).unwrap(), BUSY);
    }

    #[test]
    fn parses_a_range_of_uids() {
        assert_eq!(parse_range("61000-61127"), Some((61000, 128)));
        assert_eq!(parse_range(" 70000 - 70000 "), Some((70000, 1)));
        assert_eq!(parse_range("0-10"), None, "root is never lent");
        assert_eq!(parse_range("65000-65534"), None, "nobody is never lent");
        assert_eq!(parse_range("65000-65533"), None, "nor as the overflow uid");
        assert_eq!(parse_range("61010-61000"), None);
        assert_eq!(parse_range("61000"), None);
        assert_eq!(parse_range("a-b"), None);
    }
}
