//! The recorder: runs a program under `ptrace` and logs every call that
//! changes or uses a descriptor table, with what `/proc` shows right after.
//!
//! The tracer is the program's parent: its child asks to be traced
//! (`PTRACE_TRACEME`), stops itself, and execs the program; from then on
//! `PTRACE_O_TRACEFORK | TRACEVFORK | TRACECLONE` make every process and
//! thread the program creates a tracee too, and `PTRACE_O_EXITKILL` ends them
//! all if the tracer dies (a sandbox's timeout kill). Tracing one's own child
//! needs no privilege, so this works for an ordinary user and for the
//! unprivileged user a sandbox drops to; it fails only where `ptrace` is
//! refused outright (Yama `ptrace_scope` 3, a seccomp profile without it),
//! which [`record`] reports as [`Failure::Refused`] at once.
//!
//! Each tracee stops at every system call's entry and exit
//! (`PTRACE_SYSCALL`). The recorder reads the call number and arguments from
//! the registers (`PTRACE_GETREGSET`, x86_64 and aarch64 layouts), keeps the
//! entry until the exit, and logs a [`Record`]: entries only for calls that
//! may wait (so a hang shows what it waits in), exits with the result, and
//! for each new descriptor its pipe inode, end and close-on-exec flag from
//! `/proc/PID/fd` and `fdinfo` — the kernel's own account, not a guess.
//!
//! Ordering: a new child can report its first stop before its parent reports
//! the fork; it is then held stopped until the parent's event has been
//! logged, so the log never shows a process acting before it was made.
//!
//! This module runs in a single-threaded process (the `ipc-lab-trace`
//! binary), so the child between `fork` and `execve` may call anything; it
//! still makes only raw system calls on data prepared before the fork.

use crate::log::{Call, Fd, Object, Record};
use std::collections::{HashMap, HashSet};
use std::ffi::{CString, c_void};
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Where records go: a file, one record per line.
///
/// Records are kept in memory while tracees keep the tracer busy, and
/// written out whenever it is about to wait for them (and every 64 KiB).
/// A run killed at its timeout is killed while it hangs, that is while the
/// tracer waits: by then every record, the hang's included, is in the file.
/// Writing once per stop instead would double the system calls of a
/// program that makes many small writes.
pub struct Sink {
    file: std::fs::File,
    buffer: Vec<u8>,
}

/// How much the sink keeps before it writes anyway.
const BUFFER: usize = 64 << 10;

impl Sink {
    /// Records into `file`.
    pub fn new(file: std::fs::File) -> Sink {
        Sink {
            file,
            buffer: Vec::with_capacity(BUFFER),
        }
    }

    /// Adds one record.
    pub fn put(&mut self, record: &Record) {
        self.buffer.extend_from_slice(record.to_line().as_bytes());
        if self.buffer.len() >= BUFFER {
            self.flush();
        }
    }

    /// Writes out what is kept.
    pub fn flush(&mut self) {
        let _ = self.file.write_all(&self.buffer);
        self.buffer.clear();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.flush();
    }
}

/// How the program's first process ended: its exit code, or the signal
/// that killed it.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signaled(i32),
}

/// Why nothing could be traced.
#[derive(Debug)]
pub enum Failure {
    /// The kernel refused `ptrace` (the error it gave).
    Refused(io::Error),
    /// The program could not be started.
    Start(String),
    /// Waiting for the tracees failed.
    Wait(io::Error),
}

/// How long the tracer follows what the program left running after its
/// first process ended, before ending it (as a sandbox would).
const GRACE: Duration = Duration::from_millis(100);

/// The exit status a child uses to say `PTRACE_TRACEME` was refused.
const REFUSED: i32 = 125;

/// Runs `program` with `argv` (its `argv[0]` included) under the tracer,
/// logging into `sink`, until its first process ends.
pub fn record(program: &CString, argv: &[CString], sink: &mut Sink) -> Result<Ending, Failure> {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: fork in a single-threaded process; the child runs only raw
    // system calls on `program` and `ptrs`, prepared above, then execs or
    // exits.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(Failure::Start(format!(
            "fork failed: {}",
            io::Error::last_os_error()
        )));
    }
    if child == 0 {
        // SAFETY: raw calls in the child; `ptrs` is a null-terminated array
        // of pointers into `argv`'s CStrings, alive until exec.
        unsafe {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0usize, 0usize) == -1 {
                libc::_exit(REFUSED);
            }
            libc::kill(libc::getpid(), libc::SIGSTOP);
            libc::execv(program.as_ptr(), ptrs.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status = 0;
    if wait(child, &mut status, 0).map_err(Failure::Wait)? == 0 || !libc::WIFSTOPPED(status) {
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == REFUSED {
            return Err(Failure::Refused(io::Error::from_raw_os_error(libc::EPERM)));
        }
        return Err(Failure::Start("the child did not stop before exec".into()));
    }
    let options = libc::PTRACE_O_TRACESYSGOOD
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEEXEC
        | libc::PTRACE_O_TRACEEXIT
        | libc::PTRACE_O_EXITKILL;
    // SAFETY: `child` is our stopped tracee; the data argument is the
    // options word, passed by value.
    if unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, child, 0usize, options as usize) } == -1 {
        let err = io::Error::last_os_error();
        // SAFETY: kill our own child, then reap it.
        unsafe { libc::kill(child, libc::SIGKILL) };
        let _ = wait(child, &mut status, 0);
        return Err(Failure::Refused(err));
    }
    let mut tracer = Tracer {
        sink,
        main: child,
        started: false,
        tracees: HashMap::new(),
        spawning: HashMap::new(),
        held: HashSet::new(),
    };
    tracer.tracees.insert(child, Tracee::default());
    resume(child, 0);
    tracer.run()
}

#[derive(Default)]
struct Tracee {
    /// The call it is inside (entered, not yet returned).
    inside: Option<Entered>,
    /// Made by a fork we logged, first stop not yet seen.
    fresh: bool,
    /// Its exit was logged.
    gone: bool,
}

#[derive(Clone, Copy)]
struct Entered {
    call: Option<Call>,
    args: [u64; 6],
}

struct Tracer<'a> {
    sink: &'a mut Sink,
    main: i32,
    /// The program has exec'd: records start.
    started: bool,
    tracees: HashMap<i32, Tracee>,
    /// Clone flags of a fork/clone in progress, by the caller's tid.
    spawning: HashMap<i32, (Call, u64)>,
    /// New children that stopped before their parent's fork event.
    held: HashSet<i32>,
}

impl Tracer<'_> {
    fn run(&mut self) -> Result<Ending, Failure> {
        let mut ending: Option<Ending> = None;
        let mut deadline: Option<Instant> = None;
        loop {
            let mut status = 0;
            // Nothing to handle right now: write the records out before
            // waiting (this is where a hanging run is when it is killed).
            let mut got = wait(-1, &mut status, libc::WNOHANG);
            if matches!(got, Ok(0)) && ending.is_none() {
                self.sink.flush();
                got = wait(-1, &mut status, 0);
            }
            let pid = match got {
                Ok(pid) => pid,
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => break,
                Err(e) => return Err(Failure::Wait(e)),
            };
            if pid == 0 {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let mut pids: Vec<i32> = self
                        .tracees
                        .iter()
                        .filter(|(_, t)| !t.gone)
                        .map(|(&p, _)| p)
                        .collect();
                    pids.sort_unstable();
                    self.sink.put(&Record::Left { pids });
                    break; // PTRACE_O_EXITKILL ends them when we exit.
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                let gone = self.tracees.remove(&pid).is_some_and(|t| t.gone);
                if !gone && self.started {
                    self.sink.put(&gone_record(pid, status));
                }
                if pid == self.main {
                    if !self.started {
                        return Err(Failure::Start("the program could not be executed".into()));
                    }
                    ending = Some(if libc::WIFEXITED(status) {
                        Ending::Exited(libc::WEXITSTATUS(status))
                    } else {
                        Ending::Signaled(libc::WTERMSIG(status))
                    });
                    deadline = Some(Instant::now() + GRACE);
                }
                if self.tracees.is_empty() && self.held.is_empty() {
                    break;
                }
                continue;
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            self.stopped(pid, status);
        }
        ending.ok_or_else(|| Failure::Start("the program vanished".into()))
    }

    fn stopped(&mut self, pid: i32, status: i32) {
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        let Some(t) = self.tracees.get_mut(&pid) else {
            // A new child, before its parent's fork event: hold it.
            self.held.insert(pid);
            return;
        };
        if sig == libc::SIGTRAP | 0x80 {
            self.syscall_stop(pid);
            resume(pid, 0);
        } else if sig == libc::SIGTRAP && event != 0 {
            self.event(pid, event);
            resume(pid, 0);
        } else if sig == libc::SIGSTOP && t.fresh {
            t.fresh = false;
            resume(pid, 0);
        } else {
            if self.started {
                self.sink.put(&Record::Signal { pid, signal: sig });
            }
            resume(pid, sig);
        }
    }

    fn syscall_stop(&mut self, pid: i32) {
        let Some(regs) = Regs::read(pid) else { return };
        let Some(t) = self.tracees.get_mut(&pid) else {
            return;
        };
        match t.inside.take() {
            None => {
                let call = call_of(regs.nr);
                t.inside = Some(Entered {
                    call,
                    args: regs.args,
                });
                let Some(call) = call else { return };
                match call {
                    Call::Clone | Call::Fork | Call::Vfork => {
                        let flags = match call {
                            Call::Clone => regs.args[0],
                            Call::Vfork => (libc::CLONE_VM | libc::CLONE_VFORK) as u64,
                            _ => 0,
                        };
                        self.spawning.insert(pid, (call, flags));
                    }
                    // clone3's flags are the first field of the struct
                    // its first argument points to.
                    Call::Clone3 => {
                        let flags = peek(pid, regs.args[0]).unwrap_or(0);
                        self.spawning.insert(pid, (call, flags));
                    }
                    _ if call.can_block() && self.started => {
                        self.sink.put(&Record::Enter {
                            pid,
                            call,
                            args: four(regs.args),
                        });
                    }
                    _ => {}
                }
            }
            Some(entered) => {
                let Some(call) = entered.call else { return };
                if self.started {
                    self.returned(pid, call, entered.args, regs.ret);
                }
            }
        }
    }

    fn returned(&mut self, pid: i32, call: Call, args: [u64; 6], ret: i64) {
        // -ERESTARTSYS and its kin: a signal interrupted the call, which the
        // kernel restarts (a new entry follows); not a result.
        if (-516..=-512).contains(&ret) {
            return;
        }
        let fd_arg = args[0] as i32;
        let made: Vec<i32> = match call {
            Call::Pipe | Call::Pipe2 if ret == 0 => match peek(pid, args[0]) {
                Some(word) => vec![word as u32 as i32, (word >> 32) as u32 as i32],
                None => Vec::new(),
            },
            Call::Dup | Call::Dup2 | Call::Dup3 | Call::Open if ret >= 0 => vec![ret as i32],
            Call::Fcntl => match args[1] as i32 {
                libc::F_DUPFD | libc::F_DUPFD_CLOEXEC if ret >= 0 => vec![ret as i32],
                libc::F_SETFD if ret == 0 => vec![fd_arg],
                libc::F_DUPFD | libc::F_DUPFD_CLOEXEC | libc::F_SETFD => Vec::new(),
                _ => return,
            },
            Call::Open => return, // a failed open changes nothing
            Call::Clone | Call::Clone3 | Call::Fork | Call::Vfork => {
                self.spawning.remove(&pid);
                return;
            }
            _ => Vec::new(),
        };
        let fds = made.into_iter().filter_map(|fd| fd_info(pid, fd)).collect();
        self.sink.put(&Record::Exit {
            pid,
            call,
            args: four(args),
            ret,
            fds,
        });
    }

    fn event(&mut self, pid: i32, event: i32) {
        let msg = event_message(pid);
        match event {
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                let child = msg as i32;
                let (call, flags) = self.spawning.get(&pid).copied().unwrap_or(match event {
                    libc::PTRACE_EVENT_VFORK => (Call::Vfork, (libc::CLONE_VM | libc::CLONE_VFORK) as u64),
                    libc::PTRACE_EVENT_CLONE => (Call::Clone, 0),
                    _ => (Call::Fork, 0),
                });
                if self.started {
                    self.sink.put(&Record::Spawn {
                        parent: pid,
                        child,
                        call,
                        flags,
                    });
                }
                let fresh = !self.held.remove(&child);
                self.tracees.insert(
                    child,
                    Tracee {
                        fresh,
                        ..Tracee::default()
                    },
                );
                if !fresh {
                    resume(child, 0);
                }
            }
            libc::PTRACE_EVENT_EXEC => {
                // The tracee may have been another thread of the group,
                // now renamed to the leader's pid.
                let argv = cmdline(pid);
                let fds = table(pid);
                if self.started {
                    self.sink.put(&Record::Exec { pid, argv, fds });
                } else if pid == self.main {
                    self.started = true;
                    self.sink.put(&Record::Start { pid, argv, fds });
                }
            }
            libc::PTRACE_EVENT_EXIT => {
                if let Some(t) = self.tracees.get_mut(&pid) {
                    t.gone = true;
                }
                if self.started {
                    self.sink.put(&gone_record(pid, msg as i32));
                }
            }
            _ => {}
        }
    }
}

fn gone_record(pid: i32, status: i32) -> Record {
    let (code, signal) = if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (Some(libc::WEXITSTATUS(status)), None)
    };
    Record::Gone { pid, code, signal }
}

fn four(args: [u64; 6]) -> [i64; 4] {
    [args[0] as i64, args[1] as i64, args[2] as i64, args[3] as i64]
}

/// `waitpid` with `__WALL` (threads and clones too), retried on `EINTR`.
fn wait(pid: i32, status: &mut i32, flags: i32) -> io::Result<i32> {
    loop {
        // SAFETY: `status` is a valid out-pointer for the call.
        let r = unsafe { libc::waitpid(pid, status, flags | libc::__WALL) };
        if r >= 0 {
            return Ok(r);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// Lets a stopped tracee run to its next system call stop, delivering `sig`.
fn resume(pid: i32, sig: i32) {
    // SAFETY: PTRACE_SYSCALL on a tracee; the data argument is a signal
    // number passed by value. A tracee that vanished meanwhile gives ESRCH,
    // which the wait loop then sees as its exit.
    unsafe { libc::ptrace(libc::PTRACE_SYSCALL, pid, 0usize, sig as usize) };
}

fn event_message(pid: i32) -> u64 {
    let mut msg: libc::c_ulong = 0;
    // SAFETY: `msg` is a valid out-pointer for PTRACE_GETEVENTMSG.
    unsafe {
        libc::ptrace(
            libc::PTRACE_GETEVENTMSG,
            pid,
            0usize,
            &mut msg as *mut libc::c_ulong,
        )
    };
    msg as u64
}

/// One word of the tracee's memory at `addr`.
fn peek(pid: i32, addr: u64) -> Option<u64> {
    // PEEKDATA returns the word itself, so -1 is ambiguous: clear errno first.
    // SAFETY: errno is thread-local; PTRACE_PEEKDATA reads the tracee's
    // memory, not ours.
    unsafe {
        *libc::__errno_location() = 0;
        let word = libc::ptrace(libc::PTRACE_PEEKDATA, pid, addr as usize, 0usize);
        if word == -1 && *libc::__errno_location() != 0 {
            return None;
        }
        Some(word as u64)
    }
}

/// A system call stop's number, arguments and (at exit) result.
struct Regs {
    nr: i64,
    args: [u64; 6],
    ret: i64,
}

impl Regs {
    fn read(pid: i32) -> Option<Regs> {
        // SAFETY: user_regs_struct is plain integers, valid when zeroed.
        let mut r: libc::user_regs_struct = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: (&mut r as *mut libc::user_regs_struct).cast::<c_void>(),
            iov_len: std::mem::size_of::<libc::user_regs_struct>(),
        };
        // SAFETY: the kernel writes at most iov_len bytes into `r`.
        let ok = unsafe {
            libc::ptrace(
                libc::PTRACE_GETREGSET,
                pid,
                libc::NT_PRSTATUS as usize,
                &mut iov as *mut libc::iovec,
            )
        };
        if ok == -1 {
            return None;
        }
        Some(Regs::from(&r))
    }

    #[cfg(target_arch = "x86_64")]
    fn from(r: &libc::user_regs_struct) -> Regs {
        Regs {
            nr: r.orig_rax as i64,
            args: [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9],
            ret: r.rax as i64,
        }
    }

    #[cfg(target_arch = "aarch64")]
    fn from(r: &libc::user_regs_struct) -> Regs {
        Regs {
            nr: r.regs[8] as i64,
            args: [r.regs[0], r.regs[1], r.regs[2], r.regs[3], r.regs[4], r.regs[5]],
            ret: r.regs[0] as i64,
        }
    }
}

/// The calls the model follows, by number.
fn call_of(nr: i64) -> Option<Call> {
    #[cfg(target_arch = "x86_64")]
    {
        let old = match nr {
            libc::SYS_pipe => Some(Call::Pipe),
            libc::SYS_dup2 => Some(Call::Dup2),
            libc::SYS_fork => Some(Call::Fork),
            libc::SYS_vfork => Some(Call::Vfork),
            libc::SYS_open
            | libc::SYS_creat
            | libc::SYS_accept
            | libc::SYS_eventfd
            | libc::SYS_epoll_create => Some(Call::Open),
            _ => None,
        };
        if old.is_some() {
            return old;
        }
    }
    Some(match nr {
        libc::SYS_pipe2 => Call::Pipe2,
        libc::SYS_close => Call::Close,
        libc::SYS_dup => Call::Dup,
        libc::SYS_dup3 => Call::Dup3,
        libc::SYS_fcntl => Call::Fcntl,
        libc::SYS_read => Call::Read,
        libc::SYS_write => Call::Write,
        libc::SYS_readv => Call::Readv,
        libc::SYS_writev => Call::Writev,
        libc::SYS_wait4 => Call::Wait4,
        libc::SYS_waitid => Call::Waitid,
        libc::SYS_clone => Call::Clone,
        libc::SYS_clone3 => Call::Clone3,
        libc::SYS_openat
        | libc::SYS_openat2
        | libc::SYS_socket
        | libc::SYS_accept4
        | libc::SYS_eventfd2
        | libc::SYS_epoll_create1
        | libc::SYS_memfd_create
        | libc::SYS_pidfd_open
        | libc::SYS_signalfd4
        | libc::SYS_timerfd_create
        | libc::SYS_inotify_init1 => Call::Open,
        _ => return None,
    })
}

/// What descriptor `fd` of `pid` refers to, from `/proc`.
fn fd_info(pid: i32, fd: i32) -> Option<Fd> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let name = link.to_string_lossy().into_owned();
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| i64::from_str_radix(f.trim(), 8).ok())
        .unwrap_or(0);
    let inode = name
        .strip_prefix("pipe:[")
        .and_then(|s| s.strip_suffix(']'))
        .and_then(|s| s.parse().ok());
    let object = match inode {
        Some(inode) => Object::Pipe {
            inode,
            write: flags & i64::from(libc::O_ACCMODE) == i64::from(libc::O_WRONLY),
        },
        None => Object::Other { name },
    };
    Some(Fd {
        fd,
        object,
        cloexec: flags & i64::from(libc::O_CLOEXEC) != 0,
    })
}

/// Every descriptor of `pid`, in order.
pub fn table(pid: i32) -> Vec<Fd> {
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fds.sort_unstable();
    fds.into_iter().filter_map(|fd| fd_info(pid, fd)).collect()
}

fn cmdline(pid: i32) -> Vec<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    bytes
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}
