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
//! Which calls stop the program: a seccomp filter, installed in the child
//! before it execs (inherited by every process and thread it makes), stops
//! a tracee (`SECCOMP_RET_TRACE`, seen with `PTRACE_O_TRACESECCOMP`) only
//! at the calls the model follows; the recorder then asks for that call's
//! return too (`PTRACE_SYSCALL`) and lets the tracee run on to the next
//! such call (`PTRACE_CONT`). Every other call (memory, time, the loader's
//! files) runs at full speed. A read or write on fds 0–2 stops only
//! briefly: unless that fd is now one of the program's own pipes (a
//! pipeline's `dup2`), it is the sandbox's output and the tracee goes on at
//! once, so a program that prints a line per byte (05) costs one stop per
//! line, not two. Where seccomp is refused, every call stops at entry and
//! exit, as before the filter. Each stop costs the program two context
//! switches, and on an idle virtual machine the wake-up of a sleeping CPU
//! (tens of µs): the tracer looks for the next stop for a moment before it
//! sleeps, and `cargo xtask trace` runs the benchmarks with lighter
//! arguments.
//!
//! At a stop, the recorder reads the call number and arguments from
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
    buffer: String,
}

/// How much the sink keeps before it writes anyway.
const BUFFER: usize = 64 << 10;

impl Sink {
    /// Records into `file`.
    pub fn new(file: std::fs::File) -> Sink {
        let mut buffer = String::with_capacity(BUFFER);
        buffer.push_str(crate::log::HEADER);
        Sink { file, buffer }
    }

    /// Adds one record.
    pub fn put(&mut self, record: &Record) {
        record.write_line(&mut self.buffer);
        if self.buffer.len() >= BUFFER {
            self.flush();
        }
    }

    /// Writes out what is kept.
    pub fn flush(&mut self) {
        let _ = self.file.write_all(self.buffer.as_bytes());
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

/// How long the tracer looks for the next stop before it sleeps.
const SPIN: Duration = Duration::from_micros(200);

/// The exit status a child uses to say `PTRACE_TRACEME` was refused.
const REFUSED: i32 = 125;

/// Runs `program` with `argv` (its `argv[0]` included) under the tracer,
/// logging into `sink`, until its first process ends.
pub fn record(program: &CString, argv: &[CString], sink: &mut Sink) -> Result<Ending, Failure> {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let filter = filter();
    let fprog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
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
        // of pointers into `argv`'s CStrings, and `fprog` points into
        // `filter`, both made before the fork and alive until exec.
        unsafe {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0usize, 0usize) == -1 {
                libc::_exit(REFUSED);
            }
            // Only the calls the model follows stop the program (see
            // `filter`); where seccomp is refused, every call stops, as
            // the tracer finds out from /proc at the stop below.
            // `no_new_privs` is what lets an unprivileged process filter.
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 {
                libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &fprog as *const libc::sock_fprog,
                );
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
    let filtered = seccomp_mode(child) == Some(2);
    // Asked for only with a filter: a kernel without seccomp may refuse it.
    let seccomp = if filtered { libc::PTRACE_O_TRACESECCOMP } else { 0 };
    let options = libc::PTRACE_O_TRACESYSGOOD
        | seccomp
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
        filtered,
        outside: HashSet::new(),
    };
    tracer.tracees.insert(child, Tracee::default());
    tracer.resume(child, 0);
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
    /// For fds 0–2: whether reads and writes on it touch none of the
    /// program's pipes (`None`: not looked up since the tables last
    /// changed).
    low: [Option<bool>; 3],
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
    /// The seccomp filter is in place: a tracee stops only at the calls it
    /// names (and then at their return, when asked), not at every call.
    filtered: bool,
    /// The inodes of the pipes the program was started with on fds 0–2:
    /// the sandbox's, not the program's (as the model decides too).
    outside: HashSet<u64>,
}

impl Tracer<'_> {
    fn run(&mut self) -> Result<Ending, Failure> {
        let mut ending: Option<Ending> = None;
        let mut deadline: Option<Instant> = None;
        loop {
            let mut status = 0;
            let mut got = wait(-1, &mut status, libc::WNOHANG);
            // A tracee resumed a moment ago usually stops again within
            // microseconds: look again for a little while before sleeping,
            // since waking a sleeping tracer costs far more than the stop
            // itself where an idle CPU must be woken (a virtual machine's:
            // 131,073 stops took 5.7 s with a sleeping tracer, 2.1 s with
            // one that looks again first, on the course's 2-CPU machine).
            let spin_until = Instant::now() + SPIN;
            while matches!(got, Ok(0)) && ending.is_none() && Instant::now() < spin_until {
                std::thread::yield_now();
                got = wait(-1, &mut status, libc::WNOHANG);
            }
            // Nothing to handle right now: write the records out before
            // waiting (this is where a hanging run is when it is killed).
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
            self.resume(pid, 0);
        } else if sig == libc::SIGTRAP && event == libc::PTRACE_EVENT_SECCOMP {
            // The filter's data: LOW | fd for a read or write on fd 0–2.
            let data = event_message(pid) as u32;
            if data & LOW == 0 || self.concerns_a_pipe(pid, (data & 0xff) as i32) {
                self.syscall_stop(pid);
            }
            self.resume(pid, 0);
        } else if sig == libc::SIGTRAP && event != 0 {
            self.event(pid, event);
            self.resume(pid, 0);
        } else if sig == libc::SIGSTOP && t.fresh {
            t.fresh = false;
            self.resume(pid, 0);
        } else {
            if self.started {
                self.sink.put(&Record::Signal { pid, signal: sig });
            }
            self.resume(pid, sig);
        }
    }

    /// Lets a stopped tracee run on, delivering `sig`: to its next stop of
    /// any kind without the filter; with it, to the next call the filter
    /// names, or to the return of the call it is in.
    fn resume(&self, pid: i32, sig: i32) {
        let inside = self.tracees.get(&pid).is_some_and(|t| t.inside.is_some());
        let request = if !self.filtered || inside {
            libc::PTRACE_SYSCALL
        } else {
            libc::PTRACE_CONT
        };
        // SAFETY: PTRACE_SYSCALL/CONT on a tracee; the data argument is a
        // signal number passed by value. A tracee that vanished meanwhile
        // gives ESRCH, which the wait loop then sees as its exit.
        unsafe { libc::ptrace(request, pid, 0usize, sig as usize) };
    }

    /// Whether a read or write on `fd` (0–2) of `pid` can touch one of the
    /// program's pipes: not when it is the sandbox's pipe or not a pipe at
    /// all, which is what a program's output goes through (05 prints a
    /// line per byte). Looked up in `/proc` once until the tables change.
    fn concerns_a_pipe(&mut self, pid: i32, fd: i32) -> bool {
        let Some(t) = self.tracees.get_mut(&pid) else {
            return true;
        };
        let slot = fd as usize;
        if let Some(quiet) = t.low.get(slot).copied().flatten() {
            return !quiet;
        }
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok();
        let inode = link.as_ref().and_then(|l| {
            l.to_str()?
                .strip_prefix("pipe:[")?
                .strip_suffix(']')?
                .parse::<u64>()
                .ok()
        });
        let quiet = inode.is_none_or(|i| self.outside.contains(&i));
        if let Some(s) = t.low.get_mut(slot) {
            *s = Some(quiet);
        }
        !quiet
    }

    /// Tables changed: what fds 0–2 refer to must be looked up again.
    fn tables_changed(&mut self) {
        for t in self.tracees.values_mut() {
            t.low = [None; 3];
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
        if !call.can_block() {
            self.tables_changed();
        }
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
                // A pipe's capacity, asked for or told.
                libc::F_SETPIPE_SZ | libc::F_GETPIPE_SZ => Vec::new(),
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
                    self.resume(child, 0);
                }
            }
            libc::PTRACE_EVENT_EXEC => {
                // The tracee may have been another thread of the group,
                // now renamed to the leader's pid.
                let argv = cmdline(pid);
                let fds = table(pid);
                self.tables_changed();
                if !self.started && pid == self.main {
                    for f in fds.iter().filter(|f| f.fd <= 2) {
                        if let Object::Pipe { inode, .. } = f.object {
                            self.outside.insert(inode);
                        }
                    }
                }
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

/// `Seccomp:` of `/proc/PID/status`: 2 when a filter is in place.
fn seccomp_mode(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The filter's data for a read or write on fd 0–2: `LOW | fd`.
const LOW: u32 = 0x100;

/// The seccomp filter: `SECCOMP_RET_TRACE` (a stop for the tracer) for
/// every call [`call_of`] names, with data `LOW | fd` for a read or write
/// on fd 0–2 (the tracer lets those go on at once unless the fd is one of
/// the program's pipes); every other call runs without a stop. The
/// numbers are the native ones; a call made through another ABI (x32)
/// runs unstopped, as no exercise makes one.
fn filter() -> Vec<libc::sock_filter> {
    const NR: u32 = 0; // offsetof(seccomp_data, nr)
    const ARCH: u32 = 4; // offsetof(seccomp_data, arch)
    const ARG0: u32 = 16; // offsetof(seccomp_data, args[0]), low word (little-endian)
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let io: Vec<u32> = [libc::SYS_read, libc::SYS_write, libc::SYS_readv, libc::SYS_writev]
        .iter()
        .map(|&n| n as u32)
        .collect();
    let others: Vec<u32> = (0..512)
        .filter(|&nr| call_of(nr).is_some())
        .map(|nr| nr as u32)
        .filter(|nr| !io.contains(nr))
        .collect();
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret_k = libc::BPF_RET | libc::BPF_K;
    let mut f = vec![
        stmt(ld, ARCH),
        jeq(AUDIT_ARCH, 1, 0),
        stmt(ret_k, libc::SECCOMP_RET_ALLOW),
        stmt(ld, NR),
    ];
    // Comparison i of n jumps forward (from the instruction after it) over
    // the n - i - 1 comparisons left, then over `allow` to reach `trace`,
    // or over `allow` and `trace` to reach `io`:
    // [cmp 0 … cmp n-1] [allow] [trace] [io: ld arg0; jgt 2; ret trace; or; ret A].
    let n = others.len() + io.len();
    for (i, nr) in others.iter().chain(&io).enumerate() {
        let left = n - i - 1;
        let skip = if i < others.len() { left + 1 } else { left + 2 };
        f.push(jeq(*nr, skip as u8, 0));
    }
    f.push(stmt(ret_k, libc::SECCOMP_RET_ALLOW));
    f.push(stmt(ret_k, libc::SECCOMP_RET_TRACE));
    // io: fd above 2 (as unsigned: a negative fd too) is traced in full.
    f.push(stmt(ld, ARG0));
    f.push(libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16,
        jt: 0,
        jf: 1,
        k: 2,
    });
    f.push(stmt(ret_k, libc::SECCOMP_RET_TRACE));
    f.push(stmt(
        libc::BPF_ALU | libc::BPF_OR | libc::BPF_K,
        libc::SECCOMP_RET_TRACE | LOW,
    ));
    f.push(stmt(libc::BPF_RET | libc::BPF_A, 0));
    f
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter on one call, as the kernel would: its action and data.
    fn run(filter: &[libc::sock_filter], nr: i64, arch: u32, fd: i64) -> u32 {
        let word = |k: u32| match k {
            0 => nr as u32,
            4 => arch,
            16 => fd as u32,
            _ => panic!("the filter reads offset {k}"),
        };
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = filter[pc];
            let code = u32::from(i.code);
            pc += 1;
            match code {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => a = word(i.k),
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                    pc += usize::from(if a == i.k { i.jt } else { i.jf });
                }
                c if c == libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K => {
                    pc += usize::from(if a > i.k { i.jt } else { i.jf });
                }
                c if c == libc::BPF_ALU | libc::BPF_OR | libc::BPF_K => a |= i.k,
                c if c == libc::BPF_RET | libc::BPF_K => return i.k,
                c if c == libc::BPF_RET | libc::BPF_A => return a,
                c => panic!("unexpected instruction {c:#x}"),
            }
        }
    }

    #[test]
    fn the_filter_stops_the_followed_calls_and_marks_reads_and_writes_on_fds_0_to_2() {
        let f = filter();
        let arch = f[1].k;
        for nr in 0..512 {
            for fd in [0, 1, 2, 3, 100, -1] {
                let got = run(&f, nr, arch, fd);
                let io = [libc::SYS_read, libc::SYS_write, libc::SYS_readv, libc::SYS_writev].contains(&nr);
                let want = match call_of(nr) {
                    None => libc::SECCOMP_RET_ALLOW,
                    Some(_) if io && (0..=2).contains(&fd) => libc::SECCOMP_RET_TRACE | LOW | fd as u32,
                    Some(_) => libc::SECCOMP_RET_TRACE,
                };
                assert_eq!(got, want, "call {nr} on fd {fd}");
            }
        }
        // Another ABI's calls run unstopped.
        assert_eq!(run(&f, libc::SYS_write, arch ^ 1, 1), libc::SECCOMP_RET_ALLOW);
    }
}
