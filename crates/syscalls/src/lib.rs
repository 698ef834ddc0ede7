//! Thin, checked wrappers over the libc calls that lecture 16 uses.
//!
//! The exercises call `pipe`, `fork`, `read`, `write`, `close`, `dup2`,
//! `waitpid` and `_exit` by name, exactly like the lecture's C++ files. This
//! crate only removes the noise around them:
//!
//! - every `-1` becomes an [`io::Error`] in one place ([`cvt`]), and calls that
//!   can be interrupted are retried on `EINTR` ([`cvt_r`]);
//! - every descriptor is owned ([`OwnedFd`]) the moment the kernel returns it,
//!   so closing is `drop` — and an explicit `drop(write_end)` in an exercise is
//!   the lesson, not an accident;
//! - a failed call ends the program the way DESIGN.md asks
//!   (`<program>: <call> failed: <reason>`, exit status 1) through [`OrExit`];
//! - [`cli`] gives every program the same `--help` and usage errors (exit 2).
//!
//! Nothing here allocates on the paths a forked child of a multithreaded
//! process may take ([`write_all`], [`_exit`], [`getpid`]), so those are safe
//! to call between `fork` and `_exit`.

pub mod cli;
mod fmt;

pub use fmt::StackBuf;

// Exercises 14-16 (parallelism, spawn cost, pipe throughput).
mod sched;
mod spawn;
mod splice;
pub use sched::{Usage, getrusage, sched_getaffinity, sched_getcpu, sched_setaffinity};
pub use spawn::posix_spawn;
pub use splice::{splice, vmsplice};

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

pub use libc::pid_t;

/// Turns a C return value into a `Result`: `-1` becomes the current `errno`.
///
/// This is the one place where a C return code is judged; everything else in
/// the crate goes through it (compare std's `sys::pal::unix::cvt`).
pub fn cvt<T: IsMinusOne>(ret: T) -> io::Result<T> {
    if ret.is_minus_one() {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Like [`cvt`], but calls `f` again while it fails with `EINTR`.
///
/// A signal that arrives while a process is blocked in `read` or `waitpid`
/// interrupts the call; retrying is what the program meant.
pub fn cvt_r<T: IsMinusOne>(mut f: impl FnMut() -> T) -> io::Result<T> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// The integer types that C calls return, where `-1` means failure.
pub trait IsMinusOne {
    /// Whether this value is the error marker `-1`.
    fn is_minus_one(&self) -> bool;
}

macro_rules! impl_is_minus_one {
    ($($t:ident)*) => ($(impl IsMinusOne for $t {
        fn is_minus_one(&self) -> bool {
            *self == -1
        }
    })*)
}
impl_is_minus_one! { i32 i64 isize }

/// `pipe()` — creates a pipe: a one-way byte stream kept in a kernel buffer.
///
/// Returns `(read_end, write_end)`, which is `pfd[0]` and `pfd[1]` in the
/// lecture: data written to the write end can be read from the read end.
/// Both ends are marked close-on-exec, so a program that `exec`s keeps only
/// the descriptors it `dup2`s on purpose.
///
/// References: pipe(2), pipe(7).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut pfd = [-1 as RawFd; 2];
    // SAFETY: `pfd` is a valid, writable array of two ints, as pipe2 requires.
    cvt(unsafe { libc::pipe2(pfd.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by
    // nobody else; each is wrapped exactly once.
    Ok(unsafe { (OwnedFd::from_raw_fd(pfd[0]), OwnedFd::from_raw_fd(pfd[1])) })
}

/// What [`fork`] returns: which side of the fork this process is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    /// This is the new process.
    Child,
    /// This is the original process; the value is the child's pid.
    Parent(pid_t),
}

/// `fork()` — creates a child process, a copy of this one.
///
/// The child gets a copy of the address space and of the descriptor table;
/// what the descriptors refer to (a pipe, an open file and its offset) is
/// shared, not copied.
///
/// # Safety
///
/// If this process has more than one thread, the child may call only
/// async-signal-safe functions (no allocation, no `println!`, no locks) until
/// it calls [`_exit`] or execs: another thread may have held a lock at the
/// moment of the fork, and in the child nobody will ever release it. Also,
/// the child must not return into code that would run the parent's
/// destructors or flush its buffers twice: end it with [`_exit`].
///
/// References: fork(2), signal-safety(7).
pub unsafe fn fork() -> io::Result<Fork> {
    // SAFETY: the caller upholds the contract above.
    match cvt(unsafe { libc::fork() })? {
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// `read()` — reads at most `buf.len()` bytes; retried on `EINTR`.
///
/// Returns the number of bytes read; `0` means end of file, which for a pipe
/// arrives only once *every* write end is closed. While a write end is open
/// and the pipe is empty, `read` blocks.
///
/// References: read(2).
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    let n = cvt_r(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// Reads until end of file, appending to `out`; returns how many bytes came.
///
/// A pipe hands over data in pieces of whatever size the writer wrote, so one
/// `read` is not "the message": loop until `read` returns 0.
pub fn read_to_end(fd: impl AsFd, out: &mut Vec<u8>) -> io::Result<usize> {
    let fd = fd.as_fd();
    let start = out.len();
    let mut chunk = [0u8; 4096];
    loop {
        match read(fd, &mut chunk)? {
            0 => return Ok(out.len() - start),
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// `write()` — writes at most `buf.len()` bytes; retried on `EINTR`.
///
/// May write fewer bytes than asked (a short count); see [`write_all`].
/// Blocks while the pipe is full.
///
/// References: write(2), pipe(7).
pub fn write(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    let n = cvt_r(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// Writes all of `buf`, calling `write` again after each short count.
///
/// Allocates nothing, so a forked child of a multithreaded process may call it.
pub fn write_all(fd: impl AsFd, mut buf: &[u8]) -> io::Result<()> {
    let fd = fd.as_fd();
    while !buf.is_empty() {
        match write(fd, buf)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// `dup2()` — makes `newfd` refer to the same open file as `oldfd`.
///
/// This is how a shell points a child's standard output (fd 1) at a pipe
/// before `exec`. `newfd` is closed first if it was open. The new descriptor
/// does not inherit close-on-exec, so it survives `exec`.
///
/// References: dup2(2).
pub fn dup2(oldfd: impl AsFd, newfd: RawFd) -> io::Result<()> {
    let oldfd = oldfd.as_fd().as_raw_fd();
    // SAFETY: dup2 takes plain integers; a bad descriptor is reported as EBADF.
    cvt_r(|| unsafe { libc::dup2(oldfd, newfd) })?;
    Ok(())
}

/// How a child ended, as `waitpid` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStatus {
    /// It called `exit`/`_exit` (or returned from `main`) with this status.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
    /// Anything else (stopped, continued).
    Other(i32),
}

impl WaitStatus {
    /// Decodes the raw status word that `waitpid` fills in.
    pub fn from_raw(status: i32) -> Self {
        if libc::WIFEXITED(status) {
            WaitStatus::Exited(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            WaitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            WaitStatus::Other(status)
        }
    }

    /// The status a shell would report: the exit code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            WaitStatus::Exited(code) => code,
            WaitStatus::Signaled(sig) => 128 + sig,
            WaitStatus::Other(_) => 1,
        }
    }
}

/// `waitpid()` — waits for the child `pid` (or any child if `-1`) to end.
///
/// Returns the pid that ended and how. A parent that never waits leaves a
/// zombie behind until it exits itself. Retried on `EINTR`.
///
/// References: waitpid(2).
pub fn waitpid(pid: pid_t, options: i32) -> io::Result<(pid_t, WaitStatus)> {
    let mut status = 0;
    // SAFETY: `status` is a valid, writable int.
    let pid = cvt_r(|| unsafe { libc::waitpid(pid, &mut status, options) })?;
    Ok((pid, WaitStatus::from_raw(status)))
}

/// `getpid()` — this process's id. Never fails; async-signal-safe.
pub fn getpid() -> pid_t {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// `_exit()` — ends the process now, without running destructors, `atexit`
/// handlers or flushing Rust's buffered output.
///
/// This is how a forked child leaves: it must not flush a copy of the
/// parent's buffers or run the parent's cleanup a second time.
/// Async-signal-safe.
///
/// References: _exit(2).
pub fn _exit(status: i32) -> ! {
    // SAFETY: _exit has no preconditions and never returns.
    unsafe { libc::_exit(status) }
}

/// `fcntl(F_SETFL, O_NONBLOCK)` — turns non-blocking mode on or off.
///
/// In non-blocking mode a `read` of an empty pipe or a `write` to a full one
/// fails at once with `EAGAIN` ([`io::ErrorKind::WouldBlock`]) instead of
/// putting the process to sleep. The flag belongs to the open file
/// description, so every copy of the descriptor (after `fork` or `dup2`)
/// sees the change.
///
/// References: fcntl(2), pipe(7).
pub fn set_nonblocking(fd: impl AsFd, on: bool) -> io::Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: F_GETFL takes no argument and only reads the descriptor's flags.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let wanted = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if wanted != flags {
        // SAFETY: F_SETFL takes an int of flags; unknown bits are ignored.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, wanted) })?;
    }
    Ok(())
}

/// `fcntl(F_GETPIPE_SZ)` — the capacity of a pipe, in bytes.
///
/// How many bytes the kernel buffers before a `write` blocks: 16 pages
/// (65536 bytes with 4 KiB pages) unless someone changed it. Fails with
/// `EBADF` on a descriptor that is not a pipe.
///
/// References: fcntl(2) "Changing the capacity of a pipe", pipe(7).
pub fn pipe_size(fd: impl AsFd) -> io::Result<usize> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: F_GETPIPE_SZ takes no argument and only reads the pipe's size.
    let size = cvt(unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) })?;
    Ok(size as usize)
}

/// `fcntl(F_SETPIPE_SZ)` — asks for a pipe capacity of at least `bytes`.
///
/// Returns the capacity the kernel chose: `bytes` rounded up to a power of
/// two number of pages. An unprivileged process may ask for at most
/// `/proc/sys/fs/pipe-max-size` (`EPERM` beyond), and not less than what the
/// pipe already holds (`EBUSY`).
///
/// References: fcntl(2) "Changing the capacity of a pipe", pipe(7).
pub fn set_pipe_size(fd: impl AsFd, bytes: usize) -> io::Result<usize> {
    let fd = fd.as_fd().as_raw_fd();
    let bytes = libc::c_int::try_from(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: F_SETPIPE_SZ takes an int; the kernel validates its value.
    let size = cvt(unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, bytes) })?;
    Ok(size as usize)
}

/// `poll()` — waits at most `timeout` until `fd` is readable.
///
/// Returns `true` when a `read` would not block: data is waiting, or every
/// write end is closed (the `read` will return 0, end of file). Returns
/// `false` when the time ran out first. On `EINTR` it waits again, for the
/// full `timeout`.
///
/// References: poll(2).
pub fn poll_readable(fd: impl AsFd, timeout: std::time::Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `pfd` is one valid, writable pollfd, and we pass nfds = 1.
    let ready = cvt_r(|| unsafe { libc::poll(&mut pfd, 1, ms) })?;
    Ok(ready > 0)
}

/// `signal(sig, SIG_DFL)` — gives a signal back its default action.
///
/// A Rust program starts with `SIGPIPE` ignored (so that writing to a closed
/// pipe is an `EPIPE` error instead of death), and an ignored signal stays
/// ignored across `exec`. A child that is about to run another program
/// restores the default, as a shell does, so that `yes | head -n 1` ends
/// `yes` quietly. Async-signal-safe.
///
/// References: signal(2), sigaction(2) ("a child created via fork … inherits
/// … dispositions", execve(2) keeps ignored signals ignored).
pub fn default_signal(sig: i32) -> io::Result<()> {
    // SAFETY: installing SIG_DFL runs no code of ours; the kernel checks `sig`.
    let old = unsafe { libc::signal(sig, libc::SIG_DFL) };
    if old == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A command line prepared for [`execvp`]: NUL-terminated strings and the
/// NULL-terminated array of pointers to them that `execvp` takes.
///
/// Build it *before* `fork`: after the fork the child should allocate
/// nothing, and this holds everything `exec` needs.
#[derive(Debug)]
pub struct Argv {
    // The pointers point into these strings' heap buffers, which do not move
    // when the `CString`s themselves move.
    strings: Vec<std::ffi::CString>,
    ptrs: Vec<*const libc::c_char>,
}

impl Argv {
    /// Prepares `args` (the program name first). Fails with `InvalidInput`
    /// when there is no program name or an argument contains a NUL byte.
    pub fn new<I, S>(args: I) -> io::Result<Argv>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        use std::os::unix::ffi::OsStrExt;
        let strings = args
            .into_iter()
            .map(|a| std::ffi::CString::new(a.as_ref().as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "argument contains a NUL byte"))?;
        if strings.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no program to run"));
        }
        let ptrs = strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Ok(Argv { strings, ptrs })
    }

    /// The program name, `argv[0]`.
    pub fn program(&self) -> &CStr {
        &self.strings[0]
    }
}

/// `execvp()` — replaces this process's program with `argv[0]`, looked up
/// in the directories of `PATH` unless the name contains a `/`.
///
/// On success it never returns: the process keeps its pid and its open
/// descriptors (except close-on-exec ones) and runs the new program from its
/// `main`. It returns only on failure, with the reason: `ENOENT` when no
/// such program exists (a shell says "command not found", status 127),
/// `EACCES` when it is not executable (status 126).
///
/// POSIX lists `execve` but not `execvp` as async-signal-safe, because of the
/// `PATH` search; glibc and musl do that search with stack buffers only (no
/// allocation, no locks), and it is what a forked child calls in practice.
/// It allocates nothing here: [`Argv`] was built before the fork.
///
/// References: execvp(3), execve(2).
pub fn execvp(argv: &Argv) -> io::Error {
    // SAFETY: `ptrs` is a NULL-terminated array of pointers to NUL-terminated
    // strings owned by `argv`, alive for the whole call; argv[0] exists.
    unsafe { libc::execvp(argv.ptrs[0], argv.ptrs.as_ptr()) };
    io::Error::last_os_error()
}

/// `strerror()`-style text for an error, without Rust's "(os error N)" tail.
pub fn reason(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            // SAFETY: strerror returns a pointer to a NUL-terminated string
            // that stays valid at least until the next strerror call on this
            // thread; we copy it out at once.
            let text = unsafe { CStr::from_ptr(libc::strerror(code)) };
            text.to_string_lossy().into_owned()
        }
        None => err.to_string(),
    }
}

/// Ends the program on a failed call, the way every exercise reports it.
pub trait OrExit<T> {
    /// On error prints `<program>: <call> failed: <reason>` to stderr and
    /// exits with status 1; otherwise returns the value.
    fn or_exit(self, call: &str) -> T;
}

impl<T> OrExit<T> for io::Result<T> {
    fn or_exit(self, call: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{}: {call} failed: {}", cli::program(), reason(&e));
                std::process::exit(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvt_maps_minus_one_to_errno() {
        // SAFETY: closing an fd number that is surely not open is harmless.
        let r = cvt(unsafe { libc::close(1 << 20) });
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
        assert_eq!(cvt(5i32).unwrap(), 5);
    }

    #[test]
    fn pipe_carries_bytes_and_reports_eof_after_last_writer() {
        let (r, w) = pipe().unwrap();
        write_all(&w, b"Hello").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(read(&r, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"Hello");
        write_all(&w, b"more").unwrap();
        drop(w);
        let mut rest = Vec::new();
        assert_eq!(read_to_end(&r, &mut rest).unwrap(), 4);
        assert_eq!(rest, b"more");
        assert_eq!(
            read(&r, &mut buf).unwrap(),
            0,
            "EOF once every write end is closed"
        );
    }

    #[test]
    fn wrong_end_is_ebadf() {
        let (r, w) = pipe().unwrap();
        let err = write(&r, b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        let err = read(&w, &mut [0u8; 1]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        assert_eq!(reason(&err), "Bad file descriptor");
    }

    #[test]
    fn fork_waitpid_reports_exit_status() {
        // SAFETY: the child only calls _exit, which is async-signal-safe, so
        // forking from the multithreaded test harness is sound.
        match unsafe { fork() }.unwrap() {
            Fork::Child => _exit(7),
            Fork::Parent(pid) => {
                let (got, status) = waitpid(pid, 0).unwrap();
                assert_eq!(got, pid);
                assert_eq!(status, WaitStatus::Exited(7));
                assert_eq!(status.shell_code(), 7);
            }
        }
    }

    #[test]
    fn shell_code_of_a_signal_is_128_plus_signal() {
        assert_eq!(WaitStatus::Signaled(libc::SIGPIPE).shell_code(), 141);
    }

    #[test]
    fn nonblocking_write_fills_exactly_the_pipe_size() {
        let (r, w) = pipe().unwrap();
        set_nonblocking(&w, true).unwrap();
        set_nonblocking(&r, true).unwrap();
        let err = read(&r, &mut [0u8; 1]).unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::WouldBlock,
            "empty pipe, non-blocking read"
        );
        let chunk = [b'!'; 4096];
        let mut total = 0;
        loop {
            match write(&w, &chunk) {
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        assert_eq!(total, pipe_size(&w).unwrap());
        assert_eq!(
            pipe_size(&r).unwrap(),
            pipe_size(&w).unwrap(),
            "one pipe, one size"
        );
    }

    #[test]
    fn set_pipe_size_rounds_to_pages() {
        let (_r, w) = pipe().unwrap();
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        assert_eq!(set_pipe_size(&w, 1).unwrap(), page);
        assert_eq!(pipe_size(&w).unwrap(), page);
        assert_eq!(
            set_pipe_size(&w, 3 * page).unwrap(),
            4 * page,
            "a power of two pages"
        );
        let not_a_pipe = std::fs::File::open("/dev/null").unwrap();
        assert!(pipe_size(&not_a_pipe).is_err());
    }

    #[test]
    fn poll_readable_sees_data_and_eof() {
        let (r, w) = pipe().unwrap();
        let zero = std::time::Duration::ZERO;
        assert!(!poll_readable(&r, zero).unwrap(), "empty pipe, writer open");
        write_all(&w, b"x").unwrap();
        assert!(poll_readable(&r, zero).unwrap(), "data waiting");
        assert_eq!(read(&r, &mut [0u8; 4]).unwrap(), 1);
        drop(w);
        assert!(
            poll_readable(&r, zero).unwrap(),
            "every writer closed: EOF is readable"
        );
    }

    #[test]
    fn argv_rejects_nul_and_emptiness() {
        assert_eq!(
            Argv::new(["echo", "a\0b"]).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            Argv::new(Vec::<&str>::new()).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(Argv::new(["echo", "hi"]).unwrap().program(), c"echo");
    }

    #[test]
    fn execvp_runs_a_program_or_says_why_not() {
        for (args, want) in [
            (&["sh", "-c", "exit 3"][..], WaitStatus::Exited(3)),
            (
                &["/nonexistent/ipc-lab-no-such-program"][..],
                WaitStatus::Exited(100 + libc::ENOENT),
            ),
        ] {
            let argv = Argv::new(args).unwrap();
            // SAFETY: the child only calls execvp (no allocation: `argv` was
            // built before the fork) and _exit.
            match unsafe { fork() }.unwrap() {
                Fork::Child => {
                    let err = execvp(&argv);
                    _exit(100 + err.raw_os_error().unwrap_or(0))
                }
                Fork::Parent(pid) => assert_eq!(waitpid(pid, 0).unwrap().1, want, "{args:?}"),
            }
        }
    }

    #[test]
    fn default_signal_lets_sigpipe_kill() {
        let (r, w) = pipe().unwrap();
        // SAFETY: the child calls only signal, close (drop of an OwnedFd),
        // write and _exit, all async-signal-safe.
        match unsafe { fork() }.unwrap() {
            Fork::Child => {
                drop(r);
                if default_signal(libc::SIGPIPE).is_err() {
                    _exit(2);
                }
                // Another test's short-lived child may hold a copy of the read
                // end for a moment; keep writing until the last one is gone.
                loop {
                    if write(&w, &[0u8; 512]).is_err() {
                        _exit(1); // EPIPE: SIGPIPE was still ignored
                    }
                }
            }
            Fork::Parent(pid) => {
                drop((r, w));
                assert_eq!(waitpid(pid, 0).unwrap().1, WaitStatus::Signaled(libc::SIGPIPE));
            }
        }
    }
}
