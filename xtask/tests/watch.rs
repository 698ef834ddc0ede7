//! The student's loop, driven as a script would drive it: `cargo xtask
//! watch` in plain mode (its stdin is a pipe, not a terminal) and
//! `cargo xtask reset`, on scratch copies of the workspace.
//!
//! The copies build into a target directory of their own, one test at a
//! time: two copies building a package of the same name into one target
//! directory would overwrite each other's binary. Every `watch` started here
//! is killed when its handle drops, so a failing assertion never leaves one
//! running.

mod common;

use common::{Scratch, root, strip_solutions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long any one step may take: a cold build of the copy is the slow
/// part. A step that takes longer fails the test instead of stalling it.
const STEP: Duration = Duration::from_secs(300);

/// Held by a test while its copy builds and runs.
static TARGET: Mutex<()> = Mutex::new(());

fn target_lock() -> MutexGuard<'static, ()> {
    // A test that failed while holding it poisons it; the next may go on.
    TARGET.lock().unwrap_or_else(|p| p.into_inner())
}

/// Makes this test process the reaper of its orphaned descendants: a
/// program that a `watch` started and left behind then shows up as a child
/// of ours, whatever else runs on the machine (other checks, other tests).
fn adopt_orphans() {
    // SAFETY: prctl with integer arguments only; it changes a flag of this
    // process, which only makes orphans below us come back to us.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(
        rc,
        0,
        "PR_SET_CHILD_SUBREAPER: {}",
        std::io::Error::last_os_error()
    );
}

/// Pids of our children (adopted orphans included) named one of `names`.
fn leftovers(names: &[&str]) -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // "pid (comm) state ppid …": the name may hold spaces, so cut at
        // the last parenthesis.
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((head, tail)) = stat.rsplit_once(") ") else {
            continue;
        };
        let comm = head.split_once(" (").map_or("", |(_, c)| c);
        let ppid = tail.split_whitespace().nth(1).unwrap_or("");
        if ppid == me && names.contains(&comm) {
            pids.push(pid);
        }
    }
    pids
}

/// `cargo xtask` (this build of it) against the copy, in a target
/// directory of its own: two copies building one package into one target
/// directory would overwrite each other's binaries.
fn xtask(copy: &Scratch) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.env("IPC_LAB_ROOT", &copy.dir).env("NO_COLOR", "1").env(
        "CARGO_TARGET_DIR",
        root().join("target").join("xtask-watch-tests"),
    );
    cmd
}

/// A running `watch`: its stdin for keys, its stdout line by line. Killed
/// and reaped on drop.
struct Watch {
    child: Child,
    keys: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Everything read so far, for failure messages.
    seen: String,
}

impl Watch {
    fn start(copy: &Scratch, flags: &[&str]) -> Watch {
        let mut child = xtask(copy)
            .arg("watch")
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("xtask starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watch {
            keys: child.stdin.take(),
            child,
            lines,
            seen: String::new(),
        }
    }

    /// Reads lines until one contains `text`; returns the lines read
    /// since the last call, that one included.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + STEP;
        let mut block = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!("watch never printed {text:?}; it printed:\n{}{block}", self.seen);
            };
            block.push_str(&line);
            block.push('\n');
            if line.contains(text) {
                self.seen.push_str(&block);
                return block;
            }
        }
    }

    /// Reads lines until the progress bar that ends every verdict.
    fn verdict(&mut self) -> String {
        self.wait_for("progress ")
    }

    fn key(&mut self, key: &str) {
        let keys = self.keys.as_mut().unwrap();
        writeln!(keys, "{key}").unwrap();
        keys.flush().unwrap();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_save_turns_the_verdict_and_watch_moves_on() {
    let _target = target_lock();
    adopt_orphans();
    let copy = Scratch::workspace("watch");
    let selfpipe = copy.exercise_source("01-selfpipe");
    let solved = std::fs::read_to_string(&selfpipe).unwrap();
    // Without its write, 01 reads an empty pipe whose only writer is itself.
    strip_solutions(&selfpipe);
    strip_solutions(&copy.exercise_source("02-childpipe"));

    let mut watch = Watch::start(&copy, &[]);
    let first = watch.verdict();
    assert!(
        first.contains("✗ 01 selfpipe"),
        "starts with the first exercise:\n{first}"
    );
    assert!(
        first.contains("deadlock") && first.contains("blocked in read"),
        "the hang is diagnosed:\n{first}"
    );
    assert!(
        first.contains("hint: "),
        "a failure comes with its hint:\n{first}"
    );
    assert!(
        first.contains("under the tracer") && first.contains("its own fd 4 is a write end"),
        "the tracer says why, as in check:\n{first}"
    );
    assert!(first.contains(" 0/"), "nothing passes yet:\n{first}");

    std::fs::write(&selfpipe, solved).unwrap();
    let fixed = watch.verdict();
    assert!(
        fixed.contains("✓ 01 selfpipe"),
        "the save turns 01 green:\n{fixed}"
    );
    assert!(
        !fixed.contains("no file event came"),
        "a plain write is announced by a file event:\n{fixed}"
    );
    assert!(fixed.contains(" 1/"), "the progress bar counts it:\n{fixed}");
    let next = watch.verdict();
    assert!(next.contains("✗ 02 childpipe"), "then it moves on to 02:\n{next}");

    watch.key("h");
    let hint = watch.wait_for("hint: ");
    assert!(hint.contains("hint: "), "{hint}");

    watch.key("q");
    let deadline = Instant::now() + STEP;
    let status = loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "q did not stop watch");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "q quits with status 0, got {status}");
    let left = leftovers(&["selfpipe", "childpipe"]);
    assert!(left.is_empty(), "programs left behind: {left:?}");
}

#[test]
fn with_poll_a_save_is_noticed_without_file_events() {
    let _target = target_lock();
    let copy = Scratch::workspace("watch-poll");
    let selfpipe = copy.exercise_source("01-selfpipe");
    let solved = std::fs::read_to_string(&selfpipe).unwrap();
    strip_solutions(&selfpipe);
    // Everything after 01 passed already, so the fix ends the tour.
    let entries: Vec<String> = checks::catalogue()[1..]
        .iter()
        .map(|e| {
            format!(
                "\"{}\": {{\"passed\": true, \"score\": 1, \"max_score\": 1}}",
                e.name
            )
        })
        .collect();
    let progress = format!("{{{}}}", entries.join(", "));
    std::fs::create_dir_all(copy.dir.join(".ipc-lab")).unwrap();
    std::fs::write(copy.dir.join(".ipc-lab/progress.json"), progress).unwrap();

    let mut watch = Watch::start(&copy, &["--poll"]);
    let first = watch.verdict();
    assert!(first.contains("✗ 01 selfpipe"), "{first}");
    std::fs::write(&selfpipe, solved).unwrap();
    let fixed = watch.verdict();
    assert!(fixed.contains("✓ 01 selfpipe"), "{fixed}");
    let done = watch.wait_for("exercises pass their checks");
    assert!(
        done.contains("✓ All "),
        "with everything passing it says so:\n{done}"
    );
}

/// Writes one byte of `file` through a shared mapping: the contents change
/// on disk, but inotify reports no event for it (inotify(7)), as on a
/// folder shared from macOS or Windows.
fn write_byte_unannounced(file: &Path, at: usize, byte: u8) {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let len = usize::try_from(f.metadata().unwrap().len()).unwrap();
    assert!(at < len);
    // SAFETY: a fresh shared mapping of `len` bytes of an open file; it is
    // written within its bounds only, and unmapped before `f` closes.
    unsafe {
        let map = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(map, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
        *map.cast::<u8>().add(at) = byte;
        assert_eq!(libc::msync(map, len, libc::MS_SYNC), 0);
        assert_eq!(libc::munmap(map, len), 0);
    }
}

#[test]
fn when_file_events_miss_a_save_watch_polls_faster_and_says_so() {
    let _target = target_lock();
    adopt_orphans();
    let copy = Scratch::workspace("watch-unannounced");
    // Everything passed already: watch waits for a save.
    let entries: Vec<String> = checks::catalogue()
        .iter()
        .map(|e| {
            format!(
                "\"{}\": {{\"passed\": true, \"score\": 1, \"max_score\": 1}}",
                e.name
            )
        })
        .collect();
    std::fs::create_dir_all(copy.dir.join(".ipc-lab")).unwrap();
    std::fs::write(
        copy.dir.join(".ipc-lab/progress.json"),
        format!("{{{}}}", entries.join(", ")),
    )
    .unwrap();
    let selfpipe = copy.exercise_source("01-selfpipe");
    let text = std::fs::read_to_string(&selfpipe).unwrap();
    // A byte of the first doc comment ("//! …"): still a comment after.
    assert!(text.starts_with("//! "), "{}", &text[..20]);

    let mut watch = Watch::start(&copy, &[]);
    watch.wait_for("exercises pass their checks");
    write_byte_unannounced(&selfpipe, 3, b'.');
    let noticed = watch.wait_for("no file event came");
    assert!(noticed.contains("polling every 0.3 s"), "{noticed}");
    let verdict = watch.verdict();
    assert!(
        verdict.contains("✓ 01 selfpipe"),
        "the save is checked all the same:\n{verdict}"
    );
    watch.key("q");
    let deadline = Instant::now() + STEP;
    while watch.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "q did not stop watch");
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = leftovers(&["selfpipe"]);
    assert!(left.is_empty(), "programs left behind: {left:?}");
}

/// Every file of the copy but one, with its contents.
fn snapshot(dir: &Path, except: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|f| f != except)
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect()
}

#[test]
fn reset_restores_the_released_stub_and_nothing_else() {
    let copy = Scratch::workspace("reset");
    let source = copy.exercise_source("03-closing-ends");
    let reference = std::fs::read_to_string(&source).unwrap();
    let others = snapshot(&copy.dir, &source);

    // No terminal to ask on, no --force: refuse, change nothing.
    let out = xtask(&copy)
        .args(["reset", "3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--force"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&source).unwrap(), reference);

    // In the reference workspace the stub is computed from the solution.
    let out = xtask(&copy).args(["reset", "3", "--force"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stub = std::fs::read_to_string(&source).unwrap();
    assert!(
        stub.contains("todo!(\"close the write end in the parent, or read() never sees EOF.\")"),
        "{stub}"
    );
    assert!(!stub.contains("// BEGIN SOLUTION"), "{stub}");
    assert_eq!(snapshot(&copy.dir, &source), others, "reset touched another file");

    // A student repository ships the pristine stub; reset takes it from there.
    let pristine = copy.dir.join("xtask/stubs/03-closing-ends.rs");
    std::fs::create_dir_all(pristine.parent().unwrap()).unwrap();
    std::fs::write(&pristine, "//! the released stub\nfn main() { todo!() }\n").unwrap();
    std::fs::write(&source, "//! a student's attempt\nfn main() {}\n").unwrap();
    let out = xtask(&copy)
        .args(["reset", "closing-ends", "--force"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&source).unwrap(),
        "//! the released stub\nfn main() { todo!() }\n"
    );
    let again = xtask(&copy)
        .args(["reset", "3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "already the stub: nothing to ask, {again:?}"
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));
}
