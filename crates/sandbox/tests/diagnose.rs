//! The hang diagnosis on real blocked processes.
//!
//! Each test forks a child that builds one situation from the lecture — a
//! reader that keeps its own write end, a writer facing a full pipe, a
//! parent waiting for a child that waits for the parent — and blocks. The
//! test waits until the kernel shows the expected block, takes two samples a
//! moment apart, and checks the verdict and the words.
//!
//! Forking in a multithreaded test binary needs care:
//! - a forked child calls only async-signal-safe functions (raw system
//!   calls: pipe, dup2, close, read, write, fork, waitpid, nanosleep, alarm,
//!   prctl, _exit); no allocation, no `println!`;
//! - pipes are created in the child, after the fork, so that a concurrent
//!   test's fork never inherits an end of them (it would then hold that end
//!   and change the verdict);
//! - every child leads its own process group, which its children join, and
//!   calls `alarm(10)`, so it dies by itself even if the test binary dies;
//! - a [`Tree`] guard kills the group and reaps every process of it when it
//!   drops, even when an assertion fails; the test binary is a child
//!   subreaper, so grandchildren come back to it to be reaped.

use std::ffi::CStr;
use std::sync::Once;
use std::time::{Duration, Instant};

use sandbox::{Diagnosis, diagnose};

/// The descriptor numbers the children move their pipe ends to, so the
/// tests know them without asking.
const R: i32 = 100;
const W: i32 = 101;
const R2: i32 = 102;
const W2: i32 = 103;

// ---------------------------------------------------------------------------
// Child side: async-signal-safe only.
// ---------------------------------------------------------------------------

/// Ends the child (or grandchild) at once.
fn die(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Creates a pipe and moves its ends to descriptors `r` and `w`.
fn pipe_at(r: i32, w: i32) {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a valid array of two ints.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        die(90);
    }
    move_fd(fds[0], r);
    move_fd(fds[1], w);
}

/// Moves descriptor `from` to number `to`.
fn move_fd(from: i32, to: i32) {
    if from == to {
        return;
    }
    // SAFETY: dup2 and close take plain descriptor numbers.
    if unsafe { libc::dup2(from, to) } != to || unsafe { libc::close(from) } != 0 {
        die(91);
    }
}

/// Closes descriptor `fd`.
fn close(fd: i32) {
    // SAFETY: close takes a plain descriptor number.
    if unsafe { libc::close(fd) } != 0 {
        die(92);
    }
}

/// Names the calling process (what `/proc/PID/comm` shows).
fn set_name(name: &CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string, which `name` is.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
}

/// What every process of a test does first: a name, and a bounded life.
fn start(name: &CStr) {
    set_name(name);
    // SAFETY: alarm has no preconditions. SIGALRM's default action ends the
    // process, so it cannot outlive the test binary by more than 10 s.
    unsafe { libc::alarm(10) };
}

/// Forks a grandchild named `name` that runs `body` (which should not
/// return); returns its pid.
fn fork_child(name: &CStr, body: impl FnOnce()) -> i32 {
    // SAFETY: called in a single-threaded forked child; the grandchild, like
    // its parent, only makes async-signal-safe calls.
    match unsafe { libc::fork() } {
        -1 => die(93),
        0 => {
            start(name);
            body();
            die(0)
        }
        pid => pid,
    }
}

/// Blocks reading `fd` (for good, if nobody writes).
fn block_reading(fd: i32) -> ! {
    let mut byte = [0u8; 1];
    // SAFETY: `byte` is valid for a write of one byte.
    unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
    die(3)
}

/// Writes to `fd` until the pipe is full and the write blocks.
fn fill(fd: i32) -> ! {
    let chunk = [b'x'; 4096];
    loop {
        // SAFETY: `chunk` is valid for reads of its length.
        if unsafe { libc::write(fd, chunk.as_ptr().cast(), chunk.len()) } < 0 {
            die(4);
        }
    }
}

/// Sleeps, a long time at a stretch.
fn sleep_forever() -> ! {
    let long = libc::timespec {
        tv_sec: 1000,
        tv_nsec: 0,
    };
    loop {
        // SAFETY: `long` is a valid timespec; the remainder is not wanted.
        unsafe { libc::nanosleep(&long, std::ptr::null_mut()) };
    }
}

/// Computes for ever.
fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Waits for ever on a futex nobody will wake.
fn futex_forever() -> ! {
    let word = 0u32;
    loop {
        // SAFETY: FUTEX_WAIT reads the u32 at `&word`, which lives on this
        // stack frame for as long as the call; the timeout is null (none).
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                &word as *const u32,
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                0u32,
                std::ptr::null::<libc::timespec>(),
            )
        };
    }
}

/// Polls `fd` for input with no timeout (ppoll exists on every architecture).
fn poll_forever(fd: i32) -> ! {
    let mut entry = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `entry` is one valid pollfd; null timeout and signal mask.
    unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            &mut entry as *mut libc::pollfd,
            1 as libc::nfds_t,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<libc::sigset_t>(),
        )
    };
    die(5)
}

/// Waits in pselect6 for input on `fd`, with no timeout.
fn select_forever(fd: i32) -> ! {
    // SAFETY: fd_set is plain data; all zeroes is an empty set.
    let mut reads: libc::fd_set = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is below FD_SETSIZE; FD_SET only sets a bit in `reads`.
    unsafe { libc::FD_SET(fd, &mut reads) };
    // SAFETY: `reads` is a valid fd_set; the other sets, the timeout and
    // the signal mask argument are null (none).
    unsafe {
        libc::syscall(
            libc::SYS_pselect6,
            fd + 1,
            &mut reads as *mut libc::fd_set,
            std::ptr::null::<libc::fd_set>(),
            std::ptr::null::<libc::fd_set>(),
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<libc::c_void>(),
        )
    };
    die(7)
}

/// Waits in epoll_pwait for input on `fd`, with no timeout.
fn epoll_forever(fd: i32) -> ! {
    // SAFETY: epoll_create1 takes a flag.
    let epfd = unsafe { libc::epoll_create1(0) };
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: `event` is a valid epoll_event; the descriptors are plain numbers.
    if epfd < 0 || unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut event) } != 0 {
        die(94);
    }
    // SAFETY: `event` has room for the one event asked for; -1 waits for
    // ever; a null signal mask leaves it unchanged.
    unsafe { libc::epoll_pwait(epfd, &mut event, 1, -1, std::ptr::null()) };
    die(8)
}

/// Waits for child `pid`.
fn wait_for(pid: i32) -> ! {
    // SAFETY: a null status pointer is allowed.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    die(6)
}

// ---------------------------------------------------------------------------
// Test side
// ---------------------------------------------------------------------------

/// A forked child and its process group, killed and reaped on drop.
struct Tree {
    pid: i32,
}

impl Tree {
    /// Forks a child named `name` that runs `body` (which should not return)
    /// as a process group leader.
    fn spawn(name: &CStr, body: impl FnOnce()) -> Tree {
        static SUBREAPER: Once = Once::new();
        SUBREAPER.call_once(|| {
            // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag.
            let ok = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } == 0;
            assert!(ok, "prctl(PR_SET_CHILD_SUBREAPER) failed");
        });
        // SAFETY: the child makes only async-signal-safe calls (setpgid,
        // prctl, alarm, and the raw calls of `body`) and never returns.
        match unsafe { libc::fork() } {
            -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
            0 => {
                // SAFETY: setpgid takes plain numbers.
                unsafe { libc::setpgid(0, 0) };
                start(name);
                body();
                die(0)
            }
            pid => {
                // Also from this side, so the group exists before any kill
                // (the child may not have run yet). Failure means the child
                // did it first.
                // SAFETY: setpgid takes plain numbers.
                unsafe { libc::setpgid(pid, pid) };
                Tree { pid }
            }
        }
    }

    /// The pids of the child's children, once it has `n` of them.
    fn children(&self, n: usize) -> Vec<i32> {
        let path = format!("/proc/{0}/task/{0}/children", self.pid);
        let mut children = Vec::new();
        eventually(&format!("pid {} to have {n} children", self.pid), || {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            children = text.split_whitespace().filter_map(|c| c.parse().ok()).collect();
            children.len() == n
        });
        children
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // SAFETY: kill and waitpid take plain numbers; the group is ours, and
        // only its members (our child, and orphans that came back to us as
        // subreaper) are reaped.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
            libc::kill(self.pid, libc::SIGKILL);
            while libc::waitpid(-self.pid, std::ptr::null_mut(), 0) > 0 {}
        }
    }
}

/// Waits (at most 10 s, the children's own lifetime) until `done` is true.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The state letter of a process.
fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 2..)?.chars().next()
}

/// Waits until `pid` sleeps in one of the system calls `nrs`.
fn wait_blocked(pid: i32, nrs: &[i64]) {
    eventually(&format!("pid {pid} to block in system call {nrs:?}"), || {
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let nr = syscall.split_whitespace().next().and_then(|n| n.parse().ok());
        state(pid) == Some('S') && nr.is_some_and(|nr| nrs.contains(&nr))
    });
}

/// Waits until `pid` is in state `letter`.
fn wait_state(pid: i32, letter: char) {
    eventually(&format!("pid {pid} to reach state {letter}"), || {
        state(pid) == Some(letter)
    });
}

const SLEEPS: &[i64] = &[libc::SYS_nanosleep, libc::SYS_clock_nanosleep];

/// Two samples a moment apart, joined: what the runner does.
fn sample(pids: &[i32]) -> Diagnosis {
    let first = diagnose(pids);
    std::thread::sleep(Duration::from_millis(50));
    diagnose(pids).since(&first)
}

/// The explanation as one text, for assertions that print it on failure.
fn text(d: &Diagnosis) -> String {
    d.explain().join("\n")
}

/// Asserts that `text` contains every one of `parts`.
#[track_caller]
fn assert_says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "expected {part:?} in:\n{text}");
    }
}

/// The inode of `pid`'s pipe descriptor `fd`.
fn pipe_of(pid: i32, fd: i32) -> String {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("readlink");
    link.to_string_lossy().into_owned()
}

#[test]
fn a_reader_that_keeps_its_own_write_end_is_deadlocked() {
    let tree = Tree::spawn(c"selfreader", || {
        pipe_at(R, W);
        block_reading(R)
    });
    wait_blocked(tree.pid, &[libc::SYS_read]);
    let d = sample(&[tree.pid]);
    let t = text(&d);
    let pipe = pipe_of(tree.pid, R);
    assert!(d.is_deadlock(), "{t}");
    assert_eq!(d.unchanged_since_previous, Some(true));
    assert!(t.starts_with("Deadlock:"), "{t}");
    assert_says(
        &t,
        &[
            &format!(
                "pid {} (selfreader) is blocked in read(fd {R}) on {pipe}",
                tree.pid
            ),
            &format!(
                "the write end is still open in pid {} fd {W} (the reader itself)",
                tree.pid
            ),
            "A reader sees EOF only when every write end is closed.",
        ],
    );
}

#[test]
fn a_writer_whose_reader_sleeps_is_not_deadlocked() {
    let tree = Tree::spawn(c"fullwriter", || {
        pipe_at(R, W);
        fork_child(c"sleepyreader", || {
            close(W);
            sleep_forever()
        });
        close(R);
        fill(W)
    });
    let reader = tree.children(1)[0];
    wait_blocked(tree.pid, &[libc::SYS_write]);
    wait_blocked(reader, SLEEPS);
    let d = sample(&[tree.pid, reader]);
    let t = text(&d);
    assert!(!d.is_deadlock(), "{t}");
    assert_says(
        &t,
        &[
            &format!(
                "pid {} (fullwriter) is blocked in write(fd {W}) on pipe:[",
                tree.pid
            ),
            &format!(
                "which is full; the read end is open in pid {reader} (sleepyreader) fd {R}, \
                 which is sleeping"
            ),
            &format!("pid {reader} (sleepyreader) is sleeping"),
        ],
    );
}

#[test]
fn a_writer_whose_reader_waits_for_the_writer_is_deadlocked() {
    // Pipe 1 (R, W): the child fills it. Pipe 2 (R2, W2): the grandchild
    // reads it, and only the child holds its write end.
    let tree = Tree::spawn(c"fullwriter2", || {
        pipe_at(R, W);
        pipe_at(R2, W2);
        fork_child(c"otherreader", || {
            close(W);
            close(W2);
            block_reading(R2)
        });
        close(R);
        close(R2);
        fill(W)
    });
    let reader = tree.children(1)[0];
    wait_blocked(tree.pid, &[libc::SYS_write]);
    wait_blocked(reader, &[libc::SYS_read]);
    let d = sample(&[tree.pid, reader]);
    let t = text(&d);
    assert!(d.is_deadlock(), "{t}");
    assert_says(
        &t,
        &[
            &format!(
                "the read end is open in pid {reader} (otherreader) fd {R}, which is blocked in \
                 read(fd {R2})"
            ),
            &format!(
                "the write end is still open in pid {} (fullwriter2) fd {W2}, which is blocked \
                 in write(fd {W})",
                tree.pid
            ),
        ],
    );
}

#[test]
fn a_parent_waiting_for_a_child_that_reads_its_pipe_is_deadlocked() {
    let tree = Tree::spawn(c"waitingparent", || {
        pipe_at(R, W);
        let child = fork_child(c"stuckchild", || {
            close(W);
            block_reading(R)
        });
        close(R);
        // The lesson's bug: the parent still holds W while it waits.
        wait_for(child)
    });
    let child = tree.children(1)[0];
    wait_blocked(tree.pid, &[libc::SYS_wait4]);
    wait_blocked(child, &[libc::SYS_read]);
    let d = sample(&[tree.pid, child]);
    let t = text(&d);
    assert!(d.is_deadlock(), "{t}");
    assert_says(
        &t,
        &[
            &format!(
                "pid {} (waitingparent) is blocked in waitpid() for its child pid {child} \
                 (stuckchild), which is blocked in read(fd {R}) on pipe:[",
                tree.pid
            ),
            &format!("pid {child} (stuckchild) is blocked in read(fd {R}) on pipe:[",),
            &format!(
                "the write end is still open in pid {} (waitingparent) fd {W}, which is blocked \
                 in waitpid()",
                tree.pid
            ),
        ],
    );
}

#[test]
fn a_reader_whose_write_end_is_held_outside_the_tree_is_not_deadlocked() {
    // Like the runner holding the write end of a program's stdin: this test
    // process keeps the write end while the child reads.
    let (read_end, write_end) = syscalls::pipe().expect("pipe");
    let (r, w) = {
        use std::os::fd::AsRawFd;
        (read_end.as_raw_fd(), write_end.as_raw_fd())
    };
    let tree = Tree::spawn(c"stdinreader", move || {
        move_fd(r, R);
        close(w);
        block_reading(R)
    });
    drop(read_end);
    wait_blocked(tree.pid, &[libc::SYS_read]);
    let d = sample(&[tree.pid]);
    let t = text(&d);
    let me = std::process::id() as i32;
    assert!(!d.is_deadlock(), "{t}");
    assert!(d.outsiders.iter().any(|o| o.pid == me), "{t}");
    assert_says(&t, &[&format!("pid {me} ("), "outside the program"]);
    drop(write_end);
}

#[test]
fn a_poll_on_a_pipe_only_the_poller_could_write_is_deadlocked() {
    let tree = Tree::spawn(c"poller", || {
        pipe_at(R, W);
        poll_forever(R)
    });
    wait_blocked(tree.pid, &[libc::SYS_ppoll]);
    let d = sample(&[tree.pid]);
    let t = text(&d);
    assert!(d.is_deadlock(), "{t}");
    assert_says(
        &t,
        &[
            &format!(
                "pid {} (poller) is blocked in ppoll() waiting for input on fd {R}",
                tree.pid
            ),
            &format!("the write end is still open in pid {} fd {W}", tree.pid),
        ],
    );
}

#[test]
fn a_select_on_a_pipe_only_the_caller_could_write_is_deadlocked() {
    let tree = Tree::spawn(c"selecter", || {
        pipe_at(R, W);
        select_forever(R)
    });
    wait_blocked(tree.pid, &[libc::SYS_pselect6]);
    let d = sample(&[tree.pid]);
    let t = text(&d);
    assert!(d.is_deadlock(), "{t}");
    assert_says(
        &t,
        &[
            &format!(
                "pid {} (selecter) is blocked in pselect6() waiting for input on fd {R}",
                tree.pid
            ),
            &format!("the write end is still open in pid {} fd {W}", tree.pid),
        ],
    );
}

#[test]
fn an_epoll_on_a_pipe_held_open_by_a_sleeper_is_not_deadlocked() {
    let tree = Tree::spawn(c"epoller", || {
        pipe_at(R, W);
        fork_child(c"sleepywriter", || {
            close(R);
            sleep_forever()
        });
        close(W);
        epoll_forever(R)
    });
    let writer = tree.children(1)[0];
    wait_blocked(tree.pid, &[libc::SYS_epoll_pwait]);
    wait_blocked(writer, SLEEPS);
    let d = sample(&[tree.pid, writer]);
    let t = text(&d);
    assert!(!d.is_deadlock(), "{t}");
    assert_says(
        &t,
        &[
            &format!(
                "pid {} (epoller) is blocked in epoll_pwait() waiting for input on fd {R}",
                tree.pid
            ),
            &format!("the write end is still open in pid {writer} (sleepywriter) fd {W}, which is sleeping"),
        ],
    );
}

#[test]
fn a_sleeping_program_is_not_deadlocked() {
    let tree = Tree::spawn(c"sleeper", || sleep_forever());
    wait_blocked(tree.pid, SLEEPS);
    let d = sample(&[tree.pid]);
    let t = text(&d);
    assert!(!d.is_deadlock(), "{t}");
    assert_says(&t, &[&format!("pid {} (sleeper) is sleeping", tree.pid)]);
}

#[test]
fn a_busy_loop_is_running_not_deadlocked() {
    let tree = Tree::spawn(c"spinner", || spin());
    wait_state(tree.pid, 'R');
    let d = sample(&[tree.pid]);
    let t = text(&d);
    assert!(!d.is_deadlock(), "{t}");
    assert_says(
        &t,
        &[&format!(
            "pid {} (spinner) is running (computing), not blocked",
            tree.pid
        )],
    );
}

#[test]
fn a_stopped_program_is_not_deadlocked() {
    let tree = Tree::spawn(c"stopped", || sleep_forever());
    wait_blocked(tree.pid, SLEEPS);
    // SAFETY: kill takes plain numbers; the pid is our unreaped child.
    unsafe { libc::kill(tree.pid, libc::SIGSTOP) };
    wait_state(tree.pid, 'T');
    let d = sample(&[tree.pid]);
    let t = text(&d);
    assert!(!d.is_deadlock(), "{t}");
    assert_says(
        &t,
        &[&format!("pid {} (stopped) is stopped (SIGSTOP?)", tree.pid)],
    );
}

#[test]
fn a_futex_nobody_can_wake_is_deadlocked() {
    let tree = Tree::spawn(c"futexwaiter", || futex_forever());
    wait_blocked(tree.pid, &[libc::SYS_futex]);
    let d = sample(&[tree.pid]);
    let t = text(&d);
    assert!(d.is_deadlock(), "{t}");
    assert_says(
        &t,
        &[&format!(
            "pid {} (futexwaiter) waits on a futex (a lock or a thread join)",
            tree.pid
        )],
    );
}

#[test]
fn vanished_processes_are_skipped() {
    let tree = Tree::spawn(c"quitter", || die(0));
    // Reap it, then diagnose its pid and one that cannot exist.
    let pid = tree.pid;
    drop(tree);
    let d = diagnose(&[pid, i32::MAX]);
    assert!(d.processes.is_empty());
    assert!(!d.is_deadlock());
    assert!(d.explain().is_empty());
}
