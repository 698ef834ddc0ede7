//! The run's own view of the machine: mount, network and IPC namespaces,
//! made by the program (P) between `fork` and `execve` while it is still
//! root.
//!
//! **What the program sees** (isolate's and nsjail's idea, in a few mounts):
//! a new root, a size-capped `tmpfs`, holding
//! - the system read-only: `/usr`, `/etc`, `/bin`, `/sbin`, `/lib*` (binds,
//!   or the same symbolic links where the system has merged them into
//!   `/usr`), `/sys` read-only, `/proc` (the same pids: never a PID
//!   namespace, since pids are part of the lecture's output and of the
//!   checks);
//! - a `/dev` with only `null`, `zero`, `full`, `random`, `urandom`, `tty`
//!   and the `fd`/`stdin`/`stdout`/`stderr` links;
//! - `/tmp`, `/var/tmp` and `/dev/shm`, empty, in that same `tmpfs`: what a
//!   run writes there counts against [`crate::Limits::scratch`] and is gone
//!   with the run;
//! - its working directory, at the same path as outside and in the same
//!   `tmpfs`, with the program bound into it read-only;
//! - the caller's [`crate::Spec::readable`] and [`crate::Spec::writable`]
//!   folders, at their own paths.
//!
//! Nothing else: not the workspace, not the submissions, not the results or
//! a cache, wherever they are. The network namespace has only a loopback
//! device (up), so nothing outside the run answers; the IPC namespace has
//! its own System V objects and POSIX message queues.
//!
//! **Nothing is left behind.** Every mount lives in the run's namespace,
//! made private first so that none propagates out; the kernel takes the
//! namespace down with its last process, and the `tmpfs` with it.
//!
//! **Async-signal-safe.** The runner builds every path as a `CString` and
//! the whole sequence as a list of [`Step`]s before the fork; [`enter`]
//! only walks the list with raw system calls (see the crate docs).

use std::ffi::{CStr, CString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The system folders bound read-only into the new root (those that exist).
const SYSTEM: &[&str] = &[
    "usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "opt",
];
/// The devices the program gets.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// One step of building the new root; paths are as seen before the pivot.
pub(crate) enum Step {
    /// `mount -t tmpfs` with these options.
    Tmpfs { target: CString, options: CString },
    /// `mkdir`, then `chmod` to `mode` if it was made (an existing folder,
    /// such as a system one on the way to a bind, is left as it is).
    Dir { path: CString, mode: libc::mode_t },
    /// An empty file to bind a file onto.
    File { path: CString },
    /// A bind mount, then a read-only remount when asked.
    Bind {
        source: CString,
        target: CString,
        recursive: bool,
        read_only: bool,
    },
    /// A symbolic link at `path` to `target`.
    Link { target: CString, path: CString },
    /// `chown`.
    Own {
        path: CString,
        uid: libc::uid_t,
        gid: libc::gid_t,
    },
}

/// Everything [`enter`] needs, built before the fork.
pub(crate) struct Namespaces {
    /// Where the new root is mounted (an empty folder of the runner's).
    root: CString,
    steps: Vec<Step>,
}

/// Folders to show the program at their own paths.
pub(crate) struct Binds<'a> {
    /// The run's working directory (made in the new root, owned by the run).
    pub workdir: &'a Path,
    /// The program's file in it, bound read-only.
    pub program: &'a Path,
    /// Shown read-only.
    pub readable: &'a [PathBuf],
    /// Shown writable.
    pub writable: &'a [PathBuf],
}

impl Namespaces {
    /// The plan for one run: a new root in a `tmpfs` of `scratch` bytes
    /// mounted at `root`, owned where it must be by `ids`.
    pub(crate) fn plan(
        root: &Path,
        scratch: u64,
        ids: Option<(libc::uid_t, libc::gid_t)>,
        binds: &Binds<'_>,
    ) -> io::Result<Namespaces> {
        let mut plan = Planner {
            root: root.to_path_buf(),
            steps: Vec::new(),
            made: Vec::new(),
        };
        let options = format!("size={scratch},mode=755");
        plan.steps.push(Step::Tmpfs {
            target: c(root)?,
            options: CString::new(options).map_err(io::Error::other)?,
        });
        for name in SYSTEM {
            let host = Path::new("/").join(name);
            let Ok(meta) = fs::symlink_metadata(&host) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&host)?;
                plan.link(&target, &host)?;
            } else if meta.is_dir() {
                plan.bind(&host, false, true, true)?;
            }
        }
        plan.dir(Path::new("/dev"), 0o755)?;
        for name in DEVICES {
            let host = Path::new("/dev").join(name);
            if host.exists() {
                plan.bind(&host, false, false, false)?;
            }
        }
        plan.link(Path::new("/proc/self/fd"), Path::new("/dev/fd"))?;
        for (i, name) in ["stdin", "stdout", "stderr"].iter().enumerate() {
            plan.link(
                &Path::new("/proc/self/fd").join(i.to_string()),
                &Path::new("/dev").join(name),
            )?;
        }
        plan.bind(Path::new("/proc"), true, false, true)?;
        if Path::new("/sys").is_dir() {
            plan.bind(Path::new("/sys"), false, true, true)?;
        }
        for (path, mode) in [
            ("/tmp", 0o1777),
            ("/var", 0o755),
            ("/var/tmp", 0o1777),
            ("/dev/shm", 0o1777),
        ] {
            plan.dir(Path::new(path), mode)?;
        }
        // The working directory lives in the tmpfs, the program bound in.
        plan.parents(binds.workdir)?;
        plan.dir(binds.workdir, 0o700)?;
        if let Some((uid, gid)) = ids {
            plan.steps.push(Step::Own {
                path: plan.inside(binds.workdir)?,
                uid,
                gid,
            });
        }
        plan.bind(binds.program, false, true, false)?;
        for path in binds.readable {
            plan.bind(path, true, true, false)?;
        }
        for path in binds.writable {
            plan.bind(path, false, false, false)?;
        }
        Ok(Namespaces {
            root: c(root)?,
            steps: plan.steps,
        })
    }
}

/// Builds the list of steps, remembering which folders it made.
struct Planner {
    root: PathBuf,
    steps: Vec<Step>,
    made: Vec<PathBuf>,
}

impl Planner {
    /// `path` (absolute, as the program sees it) under the new root.
    fn inside(&self, path: &Path) -> io::Result<CString> {
        c(&self.under(path))
    }

    fn under(&self, path: &Path) -> PathBuf {
        let mut inside = self.root.clone();
        for part in path.components() {
            if let Component::Normal(part) = part {
                inside.push(part);
            }
        }
        inside
    }

    /// A folder at `path` in the new root, and its parents.
    fn dir(&mut self, path: &Path, mode: libc::mode_t) -> io::Result<()> {
        self.parents(path)?;
        if !self.made.iter().any(|m| m == path) {
            self.made.push(path.to_path_buf());
            self.steps.push(Step::Dir {
                path: self.inside(path)?,
                mode,
            });
        }
        Ok(())
    }

    /// The folders above `path` in the new root.
    fn parents(&mut self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(parent) if parent != Path::new("/") && parent.parent().is_some() => self.dir(parent, 0o755),
            _ => Ok(()),
        }
    }

    fn link(&mut self, target: &Path, path: &Path) -> io::Result<()> {
        self.parents(path)?;
        self.steps.push(Step::Link {
            target: c(target)?,
            path: self.inside(path)?,
        });
        Ok(())
    }

    /// Binds the host's `path` at the same place in the new root.
    fn bind(&mut self, path: &Path, recursive: bool, read_only: bool, is_system: bool) -> io::Result<()> {
        if !path.is_absolute() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("sandbox: {} is not an absolute path", path.display()),
            ));
        }
        let meta = fs::metadata(path)
            .map_err(|e| io::Error::new(e.kind(), format!("sandbox: cannot show {}: {e}", path.display())))?;
        if meta.is_dir() {
            self.dir(path, if is_system { 0o755 } else { 0o700 })?;
        } else {
            self.parents(path)?;
            self.steps.push(Step::File {
                path: self.inside(path)?,
            });
        }
        self.steps.push(Step::Bind {
            source: c(path)?,
            target: self.inside(path)?,
            recursive,
            read_only,
        });
        Ok(())
    }
}

fn c(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("sandbox: {} contains a NUL byte", path.display()),
        )
    })
}

/// Why [`enter`] failed: which call, at which step, with `errno`.
pub(crate) struct Failure {
    /// 0: `unshare`; 1 + i: step i; `u32::MAX`: the pivot into the new root.
    pub step: i32,
    pub errno: i32,
}

/// The step number of a failed `unshare`: the kernel will make no
/// namespace for us.
pub(crate) const UNSHARE: i32 = 0;
/// The step number of a failed pivot into the new root.
pub(crate) const PIVOT: i32 = i32::MAX;

/// Enters new mount, network and IPC namespaces and the new root.
/// Async-signal-safe: raw system calls on `ns`, built before the fork.
pub(crate) fn enter(ns: &Namespaces) -> Result<(), Failure> {
    let fail = |step: i32| Failure {
        step,
        errno: crate::spawn::errno(),
    };
    // SAFETY: unshare takes flags only.
    if unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWIPC) } != 0 {
        return Err(fail(UNSHARE));
    }
    // Nothing we mount may propagate back to the machine's namespace.
    // SAFETY: mount with a static path and null pointers where allowed.
    if unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(fail(1));
    }
    // Folders get exactly the modes asked for.
    // SAFETY: umask takes a mode and cannot fail.
    let umask = unsafe { libc::umask(0) };
    for (i, step) in ns.steps.iter().enumerate() {
        if !perform(step) {
            return Err(fail(i32::try_from(i).unwrap_or(PIVOT - 1).saturating_add(2)));
        }
    }
    // SAFETY: restoring the mask read above.
    unsafe { libc::umask(umask) };
    if !pivot(&ns.root) {
        return Err(fail(PIVOT));
    }
    loopback_up();
    Ok(())
}

/// Performs one step; false on failure (errno says why).
fn perform(step: &Step) -> bool {
    // SAFETY: every pointer below is a NUL-terminated string owned by the
    // plan (alive for the call), or null where the call allows it.
    unsafe {
        match step {
            Step::Tmpfs { target, options } => {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    target.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    options.as_ptr().cast(),
                ) == 0
            }
            Step::Dir { path, mode } => {
                if libc::mkdir(path.as_ptr(), *mode) == 0 {
                    // mkdir leaves out the sticky bit: chmod sets it.
                    libc::chmod(path.as_ptr(), *mode) == 0
                } else {
                    crate::spawn::errno() == libc::EEXIST
                }
            }
            Step::File { path } => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                );
                fd >= 0 && libc::close(fd) == 0
            }
            Step::Bind {
                source,
                target,
                recursive,
                read_only,
            } => {
                let rec = if *recursive { libc::MS_REC } else { 0 };
                let bound = libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | rec,
                    std::ptr::null(),
                ) == 0;
                bound
                    && (!*read_only
                        || libc::mount(
                            std::ptr::null(),
                            target.as_ptr(),
                            std::ptr::null(),
                            libc::MS_REMOUNT
                                | libc::MS_BIND
                                | libc::MS_RDONLY
                                | libc::MS_NOSUID
                                | libc::MS_NODEV,
                            std::ptr::null(),
                        ) == 0)
            }
            Step::Link { target, path } => libc::symlink(target.as_ptr(), path.as_ptr()) == 0,
            Step::Own { path, uid, gid } => libc::chown(path.as_ptr(), *uid, *gid) == 0,
        }
    }
}

/// Makes `root` the root: `pivot_root(".", ".")` stacks the old root on
/// the new one, and a lazy unmount takes it away (pivot_root(2)).
fn pivot(root: &CStr) -> bool {
    // SAFETY: plain system calls on NUL-terminated static or planned paths.
    unsafe {
        libc::chdir(root.as_ptr()) == 0
            && libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) == 0
            && libc::umount2(c".".as_ptr(), libc::MNT_DETACH) == 0
            && libc::chdir(c"/".as_ptr()) == 0
    }
}

/// Brings the new network namespace's loopback device up (best effort: a
/// program that needs no network does not care).
fn loopback_up() {
    // SAFETY: socket/ioctl/close on a zeroed ifreq naming "lo".
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (slot, &b) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = b as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as libc::c_short;
        libc::ioctl(sock, libc::SIOCSIFFLAGS, &req);
        libc::close(sock);
    }
}

/// The protections the namespaces give.
pub(crate) const PROTECTIONS: [crate::Protection; 3] = [
    crate::Protection::MountNamespace,
    crate::Protection::NetworkNamespace,
    crate::Protection::IpcNamespace,
];

/// Describes a failed step for a note: "mount(/usr) failed: Operation not
/// permitted".
pub(crate) fn describe(ns: &Namespaces, failure: &Failure) -> String {
    let reason = io::Error::from_raw_os_error(failure.errno);
    let what = match failure.step {
        UNSHARE => "unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)".to_string(),
        1 => "making / private".to_string(),
        PIVOT => "pivot_root".to_string(),
        n => match usize::try_from(n - 2).ok().and_then(|i| ns.steps.get(i)) {
            Some(Step::Tmpfs { target, .. }) => format!("mount tmpfs on {}", target.to_string_lossy()),
            Some(Step::Dir { path, .. }) => format!("mkdir {}", path.to_string_lossy()),
            Some(Step::File { path }) => format!("creating {}", path.to_string_lossy()),
            Some(Step::Bind { source, .. }) => format!("bind mount of {}", source.to_string_lossy()),
            Some(Step::Link { path, .. }) => format!("symlink {}", path.to_string_lossy()),
            Some(Step::Own { path, .. }) => format!("chown {}", path.to_string_lossy()),
            None => "setting up the namespaces".to_string(),
        },
    };
    format!("{what} failed: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &CString) -> String {
        s.to_string_lossy().into_owned()
    }

    #[test]
    fn the_plan_makes_each_folder_once_parents_first() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("run");
        fs::create_dir(&work).unwrap();
        let program = work.join("prog");
        fs::write(&program, b"").unwrap();
        let root = Path::new("/ROOT");
        let ns = Namespaces::plan(
            root,
            1 << 20,
            Some((61000, 61000)),
            &Binds {
                workdir: &work,
                program: &program,
                readable: &[],
                writable: &[],
            },
        )
        .unwrap();
        let mut dirs = Vec::new();
        for step in &ns.steps {
            if let Step::Dir { path, .. } = step {
                let path = text(path);
                assert!(!dirs.contains(&path), "{path} made twice");
                let parent = Path::new(&path).parent().unwrap().to_string_lossy().into_owned();
                assert!(
                    parent == "/ROOT" || dirs.contains(&parent),
                    "{path} before its parent"
                );
                dirs.push(path);
            }
        }
        for wanted in ["/ROOT/tmp", "/ROOT/var/tmp", "/ROOT/dev/shm", "/ROOT/proc"] {
            assert!(dirs.iter().any(|d| d == wanted), "no {wanted} in {dirs:?}");
        }
        let inside_work = format!("/ROOT{}", work.display());
        assert!(dirs.contains(&inside_work));
        let owned = ns
            .steps
            .iter()
            .any(|s| matches!(s, Step::Own { path, uid: 61000, .. } if text(path) == inside_work));
        assert!(owned, "the working directory is not the run's");
        let program_bound_read_only = ns.steps.iter().any(|s| {
            matches!(s, Step::Bind { source, read_only: true, .. } if text(source) == program.to_string_lossy())
        });
        assert!(program_bound_read_only);
    }

    #[test]
    fn a_missing_folder_to_show_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("prog");
        fs::write(&program, b"").unwrap();
        let missing = [dir.path().join("missing")];
        let planned = Namespaces::plan(
            Path::new("/ROOT"),
            1 << 20,
            None,
            &Binds {
                workdir: dir.path(),
                program: &program,
                readable: &missing,
                writable: &[],
            },
        );
        let err = planned.err().expect("planned a bind of a missing folder");
        assert!(err.to_string().contains("cannot show"), "{err}");
    }
}
