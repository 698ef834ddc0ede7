//! The code that runs after `fork`: the per-run supervisor (S) and the
//! program (P) up to its `execve`.
//!
//! The runner is multithreaded, so everything here is limited to
//! async-signal-safe system calls on data prepared before the fork (see the
//! crate docs, "Async-signal-safe after the fork"): no allocation, no locks,
//! no formatting machinery, no panics. [`Plan`] holds every string and
//! pointer array; paths under `/proc` are built in a stack [`CPath`]; reports
//! to the runner are fixed-size [`Record`]s written with one `write` each
//! (40 bytes, below `PIPE_BUF`, so records from S and P never interleave).

use std::ffi::{CString, c_char, c_int, c_uint};
use std::io;
use std::os::fd::RawFd;

use crate::namespace::{self, Namespaces};

/// The rlimit resource type, which differs between C libraries.
pub(crate) type Resource = libc::__rlimit_resource_t;

/// Everything S and P need, built before the first fork.
pub(crate) struct Plan {
    /// The executable (the per-run copy).
    pub path: CString,
    /// NUL-terminated pointer array into `_argv`.
    pub argv: Vec<*const c_char>,
    /// Keeps the strings behind `argv` alive.
    pub _argv: Vec<CString>,
    /// NUL-terminated pointer array into `_envp`.
    pub envp: Vec<*const c_char>,
    /// Keeps the strings behind `envp` alive.
    pub _envp: Vec<CString>,
    /// The working directory.
    pub cwd: CString,
    /// (uid, gid) to switch to, when dropping privileges.
    pub ids: Option<(libc::uid_t, libc::gid_t)>,
    /// Each limit: (resource, soft, hard).
    pub rlimits: [(Resource, libc::rlim_t, libc::rlim_t); 6],
    /// The run's own mount, network and IPC namespaces, when it gets them.
    pub namespaces: Option<Namespaces>,
    /// The descriptors S and P use.
    pub fds: Fds,
}

/// The pipe ends handed to the supervisor.
#[derive(Clone, Copy)]
pub(crate) struct Fds {
    /// Read end of the program's stdin pipe.
    pub stdin: RawFd,
    /// Write end of the program's stdout pipe.
    pub stdout: RawFd,
    /// Write end of the program's stderr pipe.
    pub stderr: RawFd,
    /// Write end of the records pipe (S and P → runner).
    pub report: RawFd,
    /// Read end of the control pipe (runner → S): a byte or end of file
    /// means "kill the tree".
    pub control: RawFd,
    /// The `cgroup.procs` of the run's cgroups (pids, memory, cpu), open
    /// for writing, or -1 where there is none.
    pub cgroups: [RawFd; 3],
}

/// Builds a NUL-terminated pointer array over `strings`.
pub(crate) fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain([std::ptr::null()])
        .collect()
}

/// The steps that can fail before the program runs, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Stage {
    Fork = 0,
    Setsid,
    Setrlimit,
    Setgroups,
    Setgid,
    Setuid,
    Chdir,
    Dup2,
    Execve,
    Subreaper,
    Signalfd,
    Descriptors,
    Cgroup,
    Namespace,
}

impl Stage {
    /// The call that failed, as error messages name it.
    pub(crate) fn from_code(code: i32) -> &'static str {
        const NAMES: [&str; 14] = [
            "fork",
            "setsid",
            "setrlimit",
            "setgroups",
            "setgid",
            "setuid",
            "chdir",
            "dup2",
            "execve",
            "prctl(PR_SET_CHILD_SUBREAPER)",
            "signalfd",
            "fcntl(F_DUPFD_CLOEXEC)",
            "write(cgroup.procs)",
            "setting up the namespaces",
        ];
        usize::try_from(code)
            .ok()
            .and_then(|i| NAMES.get(i))
            .copied()
            .unwrap_or("setup")
    }
}

/// Bytes per record.
pub(crate) const RECORD_LEN: usize = 40;

/// What S and P tell the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// S forked the program; this is its pid.
    Started { pid: i32 },
    /// S reaped `pid`: `si_code` is `CLD_EXITED`, `CLD_KILLED` or
    /// `CLD_DUMPED`, `status` the exit code or signal; `max_rss` its peak
    /// resident size in KiB (`ru_maxrss`); `comm` its name.
    Exited {
        pid: i32,
        code: i32,
        status: i32,
        max_rss: u32,
        comm: [u8; 16],
    },
    /// A step before `execve` failed with `errno`; `detail` says which
    /// part of it (for [`Stage::Namespace`], the step of the plan).
    Failed { stage: i32, errno: i32, detail: i32 },
}

impl Record {
    /// The 40 bytes on the wire: kind, pid, three numbers, 4 bytes unused,
    /// a 16-byte name.
    pub(crate) fn encode(&self) -> [u8; RECORD_LEN] {
        let (kind, pid, a, b, c, comm) = match *self {
            Record::Started { pid } => (1u32, pid, 0, 0, 0, [0; 16]),
            Record::Exited {
                pid,
                code,
                status,
                max_rss,
                comm,
            } => (2, pid, code, status, max_rss, comm),
            Record::Failed { stage, errno, detail } => (3, 0, stage, errno, detail as u32, [0; 16]),
        };
        let mut out = [0u8; RECORD_LEN];
        let (head, name) = out.split_at_mut(24);
        let words = [kind, pid as u32, a as u32, b as u32, c, 0];
        for (slot, word) in head.chunks_exact_mut(4).zip(words) {
            slot.copy_from_slice(&word.to_ne_bytes());
        }
        name.copy_from_slice(&comm);
        out
    }

    /// Reads a record back; `None` for an unknown kind.
    pub(crate) fn decode(bytes: &[u8; RECORD_LEN]) -> Option<Record> {
        let int = |i: usize| i32::from_ne_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let mut comm = [0u8; 16];
        comm.copy_from_slice(&bytes[24..]);
        match int(0) {
            1 => Some(Record::Started { pid: int(4) }),
            2 => Some(Record::Exited {
                pid: int(4),
                code: int(8),
                status: int(12),
                max_rss: int(16) as u32,
                comm,
            }),
            3 => Some(Record::Failed {
                stage: int(8),
                errno: int(12),
                detail: int(16),
            }),
            _ => None,
        }
    }
}

/// A NUL-terminated path built on the stack, for `/proc/PID/...`.
struct CPath {
    buf: [u8; 96],
    len: usize,
}

impl CPath {
    fn new() -> CPath {
        CPath { buf: [0; 96], len: 0 }
    }

    /// Appends `s`, silently cutting what does not fit (the paths built here
    /// are at most ~45 bytes).
    fn push(&mut self, s: &[u8]) -> &mut CPath {
        for &b in s {
            // Keep one byte for the terminating NUL.
            if self.len + 1 < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
        self
    }

    /// Appends the decimal digits of a non-negative `n`.
    fn num(&mut self, n: i32) -> &mut CPath {
        let mut digits = [0u8; 12];
        let mut i = digits.len();
        let mut n = n.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        let (_, used) = digits.split_at(i);
        self.push(used)
    }

    fn as_ptr(&mut self) -> *const c_char {
        self.buf[self.len] = 0;
        self.buf.as_ptr().cast()
    }
}

/// The current `errno`, read without allocating.
pub(crate) fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Writes one record; errors are ignored (the runner may be gone).
fn send(fd: RawFd, record: Record) {
    let bytes = record.encode();
    // SAFETY: `bytes` is a valid buffer of RECORD_LEN bytes.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), RECORD_LEN) };
}

/// Reports that `stage` failed with the current errno, and exits.
fn fail(report: RawFd, stage: Stage, status: i32) -> ! {
    fail_with(report, stage, errno(), 0, status)
}

/// Reports that `stage` (its part `detail`) failed with `errno`, and exits.
fn fail_with(report: RawFd, stage: Stage, errno: i32, detail: i32, status: i32) -> ! {
    send(
        report,
        Record::Failed {
            stage: stage as i32,
            errno,
            detail,
        },
    );
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(status) }
}

/// Closes every descriptor from 3 up, except those in `keep`.
fn close_all_except(keep: &[RawFd]) {
    let mut sorted = [0 as RawFd; 8];
    let n = keep.len().min(sorted.len());
    for (slot, &fd) in sorted.iter_mut().zip(keep) {
        *slot = fd;
    }
    let (sorted, _) = sorted.split_at_mut(n);
    sorted.sort_unstable(); // an in-place insertion sort for short slices: no allocation
    let mut next: c_uint = 3;
    for &fd in sorted.iter() {
        let Ok(fd) = c_uint::try_from(fd) else { continue };
        if fd > next {
            close_range(next, fd - 1);
        }
        next = next.max(fd + 1);
    }
    close_range(next, c_uint::MAX);
}

/// `close_range(first, last)`, with a plain loop where the kernel lacks it.
fn close_range(first: c_uint, last: c_uint) {
    // SAFETY: close_range takes plain integers and only closes descriptors.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as c_uint) };
    if r == 0 {
        return;
    }
    // Before Linux 5.9: close one by one up to the descriptor limit.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let top = (lim.rlim_cur.min(65536) as c_uint).min(last.saturating_add(1));
    for fd in first..top {
        // SAFETY: closing a descriptor number that may or may not be open.
        unsafe { libc::close(fd as c_int) };
    }
}

/// Sets back to the default action every signal with a handler (inherited
/// from the runner, whose code must not run here), or with `all` every
/// signal, ignored ones included.
fn reset_handlers(all: bool) {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        if all {
            default_action(sig);
            continue;
        }
        // SAFETY: a zeroed sigaction is a valid value to read into.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: querying the current action writes only `old`.
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0 {
            continue;
        }
        if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
            default_action(sig);
        }
    }
}

/// Gives `sig` its default action with the raw system call: the C library
/// refuses the two real-time signals it keeps for itself (32 and 33), yet
/// an ignored one would stay ignored in the program.
fn default_action(sig: c_int) {
    // The kernel's struct sigaction all zero: SIG_DFL, no flags, empty mask.
    let dfl = [0u64; 4];
    // SAFETY: `dfl` is a valid kernel sigaction; the old action is not asked
    // for; 8 is the kernel's sigset size.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            dfl.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8usize,
        )
    };
}

/// Starts the supervisor for `plan` and returns its pid.
///
/// # Safety
///
/// `plan` and every descriptor in `plan.fds` must be valid. The child runs
/// only [`supervise`], which is async-signal-safe, so calling this from a
/// multithreaded process is sound.
pub(crate) unsafe fn start(plan: &Plan) -> io::Result<libc::pid_t> {
    // SAFETY: the child only runs `supervise`, which makes async-signal-safe
    // calls on `plan` (prepared before the fork) and never returns.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => supervise(plan),
        pid => Ok(pid),
    }
}

/// The supervisor: subreaper of the run, reaper and killer of its tree.
fn supervise(plan: &Plan) -> ! {
    let mut fds = plan.fds;
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    // Our own process group: a Ctrl-C on the runner's terminal must not kill
    // S before it has cleaned up (it cleans up when the runner goes away).
    // SAFETY: setpgid on ourselves takes plain integers.
    unsafe { libc::setpgid(0, 0) };
    reset_handlers(false);
    // A write to the runner after it is gone must be EPIPE, not death; and a
    // runner that ignores SIGCHLD must not make our children vanish unreaped.
    // SAFETY: installing SIG_IGN / SIG_DFL runs no code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
    }

    // Move our descriptors above 2 so that P's dup2 onto 0, 1, 2 can never
    // overwrite one it still needs, then close everything else: descriptors
    // of concurrent runs, inherited by this fork, must not stay open here.
    let report = fds.report;
    let [pids_cgroup, memory_cgroup, cpu_cgroup] = &mut fds.cgroups;
    for fd in [
        &mut fds.stdin,
        &mut fds.stdout,
        &mut fds.stderr,
        &mut fds.report,
        &mut fds.control,
        pids_cgroup,
        memory_cgroup,
        cpu_cgroup,
    ] {
        // (-1 is "no cgroup", not a descriptor.)
        if (0..3).contains(fd) {
            // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor we own.
            let new = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 3) };
            if new < 0 {
                fail(report, Stage::Descriptors, 1);
            }
            *fd = new;
        }
    }
    close_all_except(&[
        fds.stdin,
        fds.stdout,
        fds.stderr,
        fds.report,
        fds.control,
        fds.cgroups[0],
        fds.cgroups[1],
        fds.cgroups[2],
    ]);

    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        fail(fds.report, Stage::Subreaper, 1);
    }

    // SIGCHLD arrives through a signalfd, so one poll waits for both a child
    // to end and the runner's word.
    // SAFETY: a zeroed sigset_t is valid storage for sigemptyset.
    let mut chld: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `chld` is valid; these calls only manipulate signal masks.
    let sfd = unsafe {
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &chld, std::ptr::null_mut());
        libc::signalfd(-1, &chld, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
    };
    if sfd < 0 {
        fail(fds.report, Stage::Signalfd, 1);
    }

    // SAFETY: the child only runs `program`: async-signal-safe calls, then
    // execve or _exit.
    let p = unsafe { libc::fork() };
    if p == 0 {
        program(plan, fds, me);
    }
    if p < 0 {
        fail(fds.report, Stage::Fork, 1);
    }
    // SAFETY: closing our copies of the program's ends, so that end of file
    // on stdout/stderr depends only on the program's processes.
    unsafe {
        libc::close(fds.stdin);
        libc::close(fds.stdout);
        libc::close(fds.stderr);
    }
    send(fds.report, Record::Started { pid: p });

    let mut p_unreaped = true;
    let mut killing = false;
    let mut control_open = true;
    loop {
        // Reap whatever has ended, naming each while it is still a zombie.
        loop {
            // SAFETY: a zeroed siginfo_t is valid storage for waitid.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: `info` is valid and writable.
            let r = unsafe {
                libc::waitid(
                    libc::P_ALL,
                    0,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                )
            };
            if r < 0 {
                match errno() {
                    libc::EINTR => continue,
                    // No child left, dead or alive: the whole tree is gone.
                    libc::ECHILD => {
                        // SAFETY: _exit has no preconditions.
                        unsafe { libc::_exit(0) }
                    }
                    // SAFETY: _exit has no preconditions.
                    _ => unsafe { libc::_exit(1) },
                }
            }
            // SAFETY: waitid filled `info` for a child event (or left zeros).
            let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
            if pid == 0 {
                break;
            }
            let comm = read_comm(pid);
            // Reap exactly `pid`, with its resource usage: its peak resident
            // size is evidence when the run ends out of memory.
            // SAFETY: a zeroed rusage is valid storage for wait4.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            loop {
                let mut raw = 0;
                // SAFETY: `raw` and `usage` are valid and writable.
                let r = unsafe { libc::wait4(pid, &mut raw, 0, &mut usage) };
                if r >= 0 || errno() != libc::EINTR {
                    break;
                }
            }
            send(
                fds.report,
                Record::Exited {
                    pid,
                    code: info.si_code,
                    status,
                    max_rss: u32::try_from(usage.ru_maxrss).unwrap_or(u32::MAX),
                    comm,
                },
            );
            if pid == p {
                p_unreaped = false;
            }
        }

        if killing {
            // P's group cannot be recycled while P is our unreaped child;
            // our children's pids cannot be recycled since only we reap them.
            if p_unreaped {
                // SAFETY: kill takes plain integers.
                unsafe { libc::kill(-p, libc::SIGKILL) };
            }
            kill_children(me);
        }

        let mut polls = [
            libc::pollfd {
                fd: sfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if control_open { fds.control } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // While killing, look again soon: a killed parent's children become
        // ours only once it is gone.
        let timeout = if killing { 5 } else { -1 };
        // SAFETY: `polls` is a valid array of two pollfds.
        unsafe { libc::poll(polls.as_mut_ptr(), 2, timeout) };
        if polls[0].revents != 0 {
            let mut sink = [0u8; 128 * 4];
            // SAFETY: draining the signalfd into a stack buffer.
            while unsafe { libc::read(sfd, sink.as_mut_ptr().cast(), sink.len()) } > 0 {}
        }
        if control_open && polls[1].revents != 0 {
            let mut byte = 0u8;
            // SAFETY: reading one byte into a stack variable.
            let n = unsafe { libc::read(fds.control, (&raw mut byte).cast(), 1) };
            let again = n < 0 && matches!(errno(), libc::EINTR | libc::EAGAIN);
            // A byte, end of file (the runner is gone) or an error: kill.
            killing |= !again;
            if n == 0 || (n < 0 && !again) {
                // SAFETY: closing our own descriptor.
                unsafe { libc::close(fds.control) };
                control_open = false;
            }
        }
    }
}

/// The name of `pid` from `/proc/PID/comm` (empty when unreadable).
fn read_comm(pid: i32) -> [u8; 16] {
    let mut comm = [0u8; 16];
    let mut path = CPath::new();
    path.push(b"/proc/").num(pid).push(b"/comm");
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return comm;
    }
    // SAFETY: reading at most 16 bytes into `comm`.
    let n = unsafe { libc::read(fd, comm.as_mut_ptr().cast(), comm.len()) };
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(fd) };
    let n = usize::try_from(n).unwrap_or(0).min(comm.len());
    for b in comm.iter_mut().skip(n) {
        *b = 0;
    }
    if n > 0 && comm[n - 1] == b'\n' {
        comm[n - 1] = 0;
    }
    comm
}

/// Sends `SIGKILL` to every child of S (`me`).
fn kill_children(me: i32) {
    let mut path = CPath::new();
    path.push(b"/proc/")
        .num(me)
        .push(b"/task/")
        .num(me)
        .push(b"/children");
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        kill_children_by_scan(me);
        return;
    }
    // The file is "pid pid pid ": parse numbers across reads.
    let mut buf = [0u8; 512];
    let mut current: i32 = 0;
    let mut in_number = false;
    loop {
        // SAFETY: reading into a stack buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        let Ok(n) = usize::try_from(n) else { break };
        if n == 0 {
            break;
        }
        for &b in buf.iter().take(n) {
            if b.is_ascii_digit() {
                current = current.saturating_mul(10).saturating_add(i32::from(b - b'0'));
                in_number = true;
            } else if in_number {
                // SAFETY: kill takes plain integers; `current` is our child.
                unsafe { libc::kill(current, libc::SIGKILL) };
                current = 0;
                in_number = false;
            }
        }
    }
    if in_number {
        // SAFETY: as above.
        unsafe { libc::kill(current, libc::SIGKILL) };
    }
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(fd) };
}

/// [`kill_children`] for kernels without `/proc/PID/task/TID/children`:
/// every `/proc/PID/stat` whose parent is `me`.
fn kill_children_by_scan(me: i32) {
    let mut path = CPath::new();
    path.push(b"/proc");
    // SAFETY: `path` is NUL-terminated.
    let dir = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return;
    }
    // getdents64 wants an 8-byte-aligned buffer.
    let mut buf = [0u64; 512];
    loop {
        // SAFETY: the buffer is valid for its size in bytes.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir,
                buf.as_mut_ptr(),
                std::mem::size_of_val(&buf),
            )
        };
        let Ok(n) = usize::try_from(n) else { break };
        if n == 0 {
            break;
        }
        // SAFETY: viewing the u64 buffer as the bytes the kernel filled.
        let bytes: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
        let mut off = 0;
        // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
        while off + 19 < n {
            let reclen = usize::from(u16::from_ne_bytes([bytes[off + 16], bytes[off + 17]]));
            if reclen == 0 || off + reclen > n {
                break;
            }
            let mut pid: i32 = 0;
            let mut digits = 0;
            for &b in bytes.iter().take(off + reclen).skip(off + 19) {
                if b == 0 {
                    break;
                }
                if !b.is_ascii_digit() {
                    digits = 0;
                    break;
                }
                pid = pid.saturating_mul(10).saturating_add(i32::from(b - b'0'));
                digits += 1;
            }
            if digits > 0 && parent_of(pid) == Some(me) {
                // SAFETY: kill takes plain integers; `pid` is our child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            off += reclen;
        }
    }
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(dir) };
}

/// The parent pid of `pid`, from `/proc/PID/stat`.
fn parent_of(pid: i32) -> Option<i32> {
    let mut path = CPath::new();
    path.push(b"/proc/").num(pid).push(b"/stat");
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 512];
    // SAFETY: reading into a stack buffer.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(fd) };
    let n = usize::try_from(n).ok()?.min(buf.len());
    // "pid (comm) S ppid …": the name may contain anything, so start after
    // the last ')'.
    let close = buf.iter().take(n).rposition(|&b| b == b')')?;
    let mut ppid: i32 = 0;
    let mut field = 0;
    for &b in buf.iter().take(n).skip(close + 1) {
        if b == b' ' {
            field += 1;
            if field == 3 {
                break;
            }
        } else if field == 2 && b.is_ascii_digit() {
            ppid = ppid * 10 + i32::from(b - b'0');
        }
    }
    Some(ppid)
}

/// The program, from fork to execve. Every failure is reported to the
/// runner as a [`Record::Failed`] and ends P with status 127.
fn program(plan: &Plan, fds: Fds, supervisor: i32) -> ! {
    let report = fds.report;
    // SAFETY: setsid takes no arguments; P is not a group leader yet.
    if unsafe { libc::setsid() } < 0 {
        fail(report, Stage::Setsid, 127);
    }
    // Into the run's cgroups ("0" is the writer itself), while still root.
    for fd in fds.cgroups {
        // SAFETY: writing one byte from a static string.
        if fd >= 0 && unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
            fail(report, Stage::Cgroup, 127);
        }
    }
    // Its own view of the machine, while still root (see namespace.rs).
    if let Some(ns) = &plan.namespaces {
        if let Err(failure) = namespace::enter(ns) {
            fail_with(report, Stage::Namespace, failure.errno, failure.step, 127);
        }
    }
    // Default dispositions, SIGPIPE included: Rust's runner ignores SIGPIPE
    // and exec keeps ignored signals ignored, but the lecture's programs
    // rely on dying of SIGPIPE. Then an empty mask (S blocked SIGCHLD).
    reset_handlers(true);
    // SAFETY: a zeroed sigset_t is valid storage for sigemptyset.
    let mut none: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `none` is valid; this only changes our signal mask.
    unsafe {
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    for &(resource, soft, hard) in &plan.rlimits {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: `lim` is a valid rlimit.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            fail(report, Stage::Setrlimit, 127);
        }
    }
    if let Some((uid, gid)) = plan.ids {
        // Groups first, then the gid, then the uid: after setuid we could no
        // longer change the others.
        // SAFETY: setgroups with zero entries reads no memory.
        if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
            fail(report, Stage::Setgroups, 127);
        }
        // SAFETY: setgid/setuid take plain integers.
        if unsafe { libc::setgid(gid) } != 0 {
            fail(report, Stage::Setgid, 127);
        }
        // SAFETY: as above.
        if unsafe { libc::setuid(uid) } != 0 {
            fail(report, Stage::Setuid, 127);
        }
    }
    // If S dies, so does P (set after setuid, which clears it). No new
    // privileges: a set-user-ID binary cannot take us back to root.
    // SAFETY: prctl with integer arguments; getppid has no preconditions.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != supervisor {
            libc::_exit(127);
        }
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    }
    // SAFETY: `plan.cwd` is a valid C string.
    if unsafe { libc::chdir(plan.cwd.as_ptr()) } != 0 {
        fail(report, Stage::Chdir, 127);
    }
    // S moved these above 2, so each dup2 leaves the others intact (and
    // dup2 onto a different number clears close-on-exec).
    for (from, to) in [(fds.stdin, 0), (fds.stdout, 1), (fds.stderr, 2)] {
        // SAFETY: dup2 takes plain integers.
        if unsafe { libc::dup2(from, to) } < 0 {
            fail(report, Stage::Dup2, 127);
        }
    }
    // The report pipe stays (close-on-exec) to tell of an execve failure.
    close_all_except(&[report]);
    // SAFETY: path, argv and envp are NUL-terminated and alive (in `plan`).
    unsafe { libc::execve(plan.path.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr()) };
    fail(report, Stage::Execve, 127)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut comm = [0u8; 16];
        comm[..5].copy_from_slice(b"sleep");
        for r in [
            Record::Started { pid: 913 },
            Record::Exited {
                pid: 914,
                code: libc::CLD_KILLED,
                status: 9,
                max_rss: 1 << 20,
                comm,
            },
            Record::Failed {
                stage: Stage::Execve as i32,
                errno: libc::ENOENT,
                detail: 7,
            },
        ] {
            assert_eq!(Record::decode(&r.encode()), Some(r));
        }
    }

    #[test]
    fn builds_proc_paths_on_the_stack() {
        let mut p = CPath::new();
        p.push(b"/proc/")
            .num(4194304)
            .push(b"/task/")
            .num(0)
            .push(b"/children");
        // SAFETY: as_ptr returns the NUL-terminated buffer inside `p`.
        let s = unsafe { std::ffi::CStr::from_ptr(p.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "/proc/4194304/task/0/children");
    }

    #[test]
    fn reads_the_parent_of_this_process() {
        let me = std::process::id() as i32;
        // SAFETY: getppid has no preconditions.
        assert_eq!(parent_of(me), Some(unsafe { libc::getppid() }));
    }

    #[test]
    fn stage_names() {
        assert_eq!(Stage::from_code(Stage::Execve as i32), "execve");
        assert_eq!(Stage::from_code(99), "setup");
    }
}
