//! Hang diagnosis: what each thread of a stuck program waits for, in words.
//!
//! "Timed out" teaches a student nothing. Before the runner kills a program
//! that did not finish, it calls [`diagnose`] with the pids of the program's
//! process tree, and [`Diagnosis::explain`] says what every thread is doing,
//! in lecture 16's terms:
//!
//! > pid 812 (closing-ends) is blocked in read(fd 3) on pipe:\[40711\]; the
//! > write end is still open in pid 812 fd 4 (the reader itself). A reader
//! > sees EOF only when every write end is closed.
//!
//! # Where the facts come from
//!
//! Per thread, in `/proc/PID/task/TID/`:
//! - `stat`: the state (`R` running, `S` sleeping, `D` uninterruptible,
//!   `T` stopped, `Z` zombie) and the CPU time used;
//! - `syscall`: the system call the thread is blocked in and its arguments,
//!   the primary source (a running thread reads `running`);
//! - `wchan`: the kernel function it sleeps in, used when `syscall` cannot
//!   tell (Linux 6.15 and later say `anon_pipe_read`, older kernels
//!   `pipe_read`; it may also read `0`);
//! - `status`: the context-switch counts, which change whenever the thread
//!   wakes up, even for an instant.
//!
//! Per process: `comm`, `fd/N` (a pipe reads `pipe:[INODE]`), `fdinfo/N`
//! (the `flags:` access mode tells a read end, `O_RDONLY`, from a write end,
//! `O_WRONLY`) and `task/TID/children`. The descriptor sets of `poll` and
//! `select` are read from the process's memory (`/proc/PID/mem`), those of
//! `epoll` from the epoll descriptor's fdinfo. All of this needs the right to
//! ptrace the process: the runner is root.
//!
//! To say who holds the other end of a pipe, every process on the machine is
//! searched, so a holder *outside* the tree is named too, typically the
//! runner: it holds the write end of the program's stdin until it has written
//! it all, and the read ends of stdout and stderr, which it keeps reading.
//!
//! # Deadlock
//!
//! [`Diagnosis::is_deadlock`] is true when every thread of the tree is blocked
//! for good: reading or writing a pipe, waiting for a child, polling pipes
//! (without a timeout) or waiting on a futex (without a timeout), and
//! everything that could wake it is itself blocked in the tree: every other
//! end of those pipes is held only by processes of the tree, and the children
//! waited for are in the tree and alive. A program that sleeps, computes, is
//! stopped, or waits on anything held outside the tree (such as the runner's
//! end of stdin) is not deadlocked.
//!
//! One sample can catch threads that are about to wake up, so the caller
//! takes two, a moment apart, and joins them with [`Diagnosis::since`]; a
//! deadlock is confirmed only when nothing changed in between:
//!
//! ```ignore
//! let first = sandbox::diagnose(&pids);
//! std::thread::sleep(Duration::from_millis(75));
//! let second = sandbox::diagnose(&pids).since(&first);
//! if second.is_deadlock() {
//!     // Kill the tree now and report second.explain().
//! }
//! ```
//!
//! # Known limits
//!
//! - A pending `alarm`/`setitimer` timer is invisible in `/proc`: a program
//!   that counts on SIGALRM to break a blocked read is called deadlocked.
//! - Only anonymous pipes are followed. A named FIFO, a socket, an eventfd
//!   or a terminal is named, but a thread blocked on one never counts
//!   towards a deadlock; neither does a descriptor in flight in a unix
//!   socket message, which no process holds.
//! - A thread with a descriptor table of its own (`unshare(CLONE_FILES)`)
//!   is read through its process's table.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::FileExt;

/// One sample of a program's process tree, taken by [`diagnose`].
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    /// The processes that were still there, in the order their pids were given.
    pub processes: Vec<ProcessReport>,
    /// Processes outside the tree that hold an end of a pipe the tree waits on.
    pub outsiders: Vec<Outsider>,
    /// Set by [`Diagnosis::since`]: whether the earlier sample showed exactly
    /// the same picture (no thread ran, no descriptor changed in between).
    pub unchanged_since_previous: Option<bool>,
}

/// One process of the tree.
#[derive(Debug, Clone)]
pub struct ProcessReport {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Its command name (`/proc/PID/comm`), at most 15 bytes.
    pub comm: String,
    /// Its threads, the main thread (tid = pid) first.
    pub threads: Vec<ThreadReport>,
    /// Its open descriptors, by number.
    pub fds: Vec<FdReport>,
    /// The pids of its children, alive or zombie.
    pub children: Vec<i32>,
}

/// One thread of a process.
#[derive(Debug, Clone)]
pub struct ThreadReport {
    /// Its thread id (equal to the pid for the main thread).
    pub tid: i32,
    /// The thread's own name (`/proc/PID/task/TID/comm`).
    pub comm: String,
    /// The state letter from `stat`: `R`, `S`, `D`, `T`, `t`, `Z`…
    pub state: char,
    /// The kernel function it sleeps in, when the kernel says.
    pub wchan: Option<String>,
    /// What `/proc/PID/task/TID/syscall` said.
    pub syscall: Syscall,
    /// What the thread waits for, decided from all of the above.
    pub wait: Wait,
    /// CPU time spent in user space, in clock ticks.
    pub user_ticks: u64,
    /// CPU time spent in the kernel, in clock ticks.
    pub system_ticks: u64,
    /// Voluntary plus involuntary context switches so far.
    pub context_switches: u64,
    /// Set by [`Diagnosis::since`]: what the thread did since the earlier sample.
    pub progress: Option<Progress>,
}

/// The contents of `/proc/PID/task/TID/syscall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Syscall {
    /// The thread was running (the file reads `running`).
    Running,
    /// The thread was blocked outside any system call (the file reads `-1 …`).
    NotInSyscall,
    /// Blocked in system call `nr` with these six arguments.
    In {
        /// The system call number (`libc::SYS_*`).
        nr: i64,
        /// Its arguments, as the kernel prints them.
        args: [u64; 6],
    },
    /// The file could not be read.
    Unknown,
}

/// What a thread did between two samples (see [`Diagnosis::since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// User-space CPU time it used, in clock ticks.
    pub user_ticks: u64,
    /// Kernel CPU time it used, in clock ticks.
    pub system_ticks: u64,
    /// Whether it ran at all (a context switch, CPU time, another syscall).
    pub woke: bool,
}

/// One open descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FdReport {
    /// The descriptor number.
    pub fd: i32,
    /// What it refers to, as `/proc/PID/fd/N` reads: `pipe:[40711]`, `/dev/null`…
    pub target: String,
    /// The pipe's inode when it is a pipe.
    pub pipe: Option<u64>,
    /// Which way it was opened (known for pipes).
    pub access: Access,
}

/// The access mode of a descriptor (`O_ACCMODE` of its flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// `O_RDONLY`: for a pipe, the read end.
    Read,
    /// `O_WRONLY`: for a pipe, the write end.
    Write,
    /// `O_RDWR`.
    ReadWrite,
    /// Not read.
    Unknown,
}

/// A process outside the tree holding an end of a pipe the tree waits on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Outsider {
    /// Its pid.
    pub pid: i32,
    /// Its command name.
    pub comm: String,
    /// Its descriptors on those pipes.
    pub fds: Vec<FdReport>,
}

/// What a thread waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// Running or ready to run: computing, not blocked.
    Running,
    /// Stopped by a signal (SIGSTOP, SIGTSTP…) or by a tracer.
    Stopped,
    /// Exited; a zombie until its parent waits for it.
    Exited,
    /// In an uninterruptible kernel wait (disk I/O, vfork…).
    Uninterruptible,
    /// Sleeping for a time (`nanosleep`, `clock_nanosleep`).
    Sleep {
        /// The system call.
        call: &'static str,
    },
    /// Blocked reading an empty pipe.
    PipeRead {
        /// The system call (`read`, `readv`).
        call: &'static str,
        /// The descriptor it reads.
        fd: i32,
        /// The pipe's inode.
        inode: u64,
    },
    /// Blocked writing a full pipe.
    PipeWrite {
        /// The system call (`write`, `writev`).
        call: &'static str,
        /// The descriptor it writes.
        fd: i32,
        /// The pipe's inode.
        inode: u64,
    },
    /// Blocked reading or writing something that is not a pipe (a terminal, a socket…).
    File {
        /// The system call.
        call: &'static str,
        /// The descriptor.
        fd: i32,
        /// What the descriptor refers to.
        target: String,
    },
    /// Blocked in `poll`, `select` or `epoll_wait`.
    Poll {
        /// The system call.
        call: &'static str,
        /// Whether a timeout will end the wait.
        timed: bool,
        /// The descriptors watched; `None` when they could not be read.
        fds: Option<Vec<Polled>>,
    },
    /// Blocked in `waitpid` (`wait4`) or `waitid`.
    Child {
        /// The system call, as the lecture names it (`waitpid`, `waitid`).
        call: &'static str,
        /// Which children it waits for.
        target: WaitTarget,
    },
    /// Waiting on a futex: a lock, a condition variable, a thread join.
    Futex {
        /// Whether a timeout will end the wait.
        timed: bool,
    },
    /// Waiting for a signal (`pause`, `sigsuspend`, `sigtimedwait`).
    Signal {
        /// The system call.
        call: &'static str,
    },
    /// Blocked somewhere else; the phrase completes "is blocked in …".
    Other {
        /// For example `accept4()` or `the kernel function pipe_read`.
        what: String,
    },
}

/// One descriptor watched by `poll`, `select` or `epoll_wait`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled {
    /// The descriptor.
    pub fd: i32,
    /// Whether it waits for input on it.
    pub read: bool,
    /// Whether it waits for room to write on it.
    pub write: bool,
    /// The pipe's inode when it is a pipe.
    pub pipe: Option<u64>,
    /// Which end of the pipe (or file) it is.
    pub access: Access,
}

/// Which children a `waitpid`/`waitid` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitTarget {
    /// That child.
    Pid(i32),
    /// Any child.
    Any,
    /// Any child in that process group.
    Group(i32),
}

/// Takes one sample of the process tree made of `pids` (the runner's list).
///
/// Never panics: a process or thread that vanishes while it is read is
/// skipped, and a file that cannot be read leaves its field unknown.
pub fn diagnose(pids: &[i32]) -> Diagnosis {
    let mut tree = HashSet::new();
    let mut processes: Vec<ProcessReport> = pids
        .iter()
        .copied()
        .filter(|&pid| tree.insert(pid))
        .filter_map(read_process)
        .collect();

    // The kernel's `children` lists miss a child forked by a thread that has
    // since exited; the parent pids recorded in the tree fill the gap.
    let parents: Vec<(i32, i32)> = processes.iter().map(|p| (p.pid, p.ppid)).collect();
    for process in &mut processes {
        for &(child, parent) in &parents {
            if parent == process.pid && !process.children.contains(&child) {
                process.children.push(child);
            }
        }
        process.children.sort_unstable();
    }

    let waited_on = waited_pipes(&processes);
    let outsiders = if waited_on.is_empty() {
        Vec::new()
    } else {
        find_outsiders(&tree, &waited_on)
    };
    Diagnosis {
        processes,
        outsiders,
        unchanged_since_previous: None,
    }
}

impl Diagnosis {
    /// Joins this sample with an `earlier` one of the same tree: records what
    /// each thread did in between ([`ThreadReport::progress`]) and whether the
    /// picture is unchanged ([`Diagnosis::unchanged_since_previous`]), which
    /// [`Diagnosis::is_deadlock`] then requires.
    pub fn since(mut self, earlier: &Diagnosis) -> Diagnosis {
        let before: HashMap<(i32, i32), &ThreadReport> = earlier
            .processes
            .iter()
            .flat_map(|p| p.threads.iter().map(move |t| ((p.pid, t.tid), t)))
            .collect();
        for process in &mut self.processes {
            for thread in &mut process.threads {
                let Some(old) = before.get(&(process.pid, thread.tid)) else {
                    continue;
                };
                let user_ticks = thread.user_ticks.saturating_sub(old.user_ticks);
                let system_ticks = thread.system_ticks.saturating_sub(old.system_ticks);
                thread.progress = Some(Progress {
                    user_ticks,
                    system_ticks,
                    woke: user_ticks + system_ticks > 0
                        || thread.context_switches != old.context_switches
                        || thread.syscall != old.syscall
                        || thread.state != old.state,
                });
            }
        }
        self.unchanged_since_previous = Some(self.fingerprint() == earlier.fingerprint());
        self
    }

    /// A hash of everything that changes when any thread of the tree runs:
    /// states, system calls and their arguments, CPU times, context switches,
    /// descriptors, children, and the outside holders of the pipes. Two
    /// samples with the same fingerprint show a tree where nothing happened.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        for p in &self.processes {
            (p.pid, p.ppid, p.pgid, &p.fds, &p.children).hash(&mut hasher);
            for t in &p.threads {
                let times = (t.user_ticks, t.system_ticks, t.context_switches);
                (t.tid, t.state, t.syscall, times).hash(&mut hasher);
            }
        }
        self.outsiders.hash(&mut hasher);
        hasher.finish()
    }

    /// Whether the tree is deadlocked: every thread is blocked for good and
    /// only other blocked threads of the tree could wake it (see the module
    /// docs). After [`Diagnosis::since`], also requires that nothing changed
    /// since the earlier sample.
    pub fn is_deadlock(&self) -> bool {
        if self.unchanged_since_previous == Some(false) {
            return false;
        }
        let mut any_alive = false;
        for process in self.processes.iter().filter(|p| !is_zombie(p)) {
            for thread in process.threads.iter().filter(|t| t.wait != Wait::Exited) {
                any_alive = true;
                if thread.progress.is_some_and(|p| p.woke) || !self.stuck(process, thread) {
                    return false;
                }
            }
        }
        any_alive
    }

    /// The findings, one sentence each: a deadlock verdict first when there is
    /// one, then what every thread waits for and who could wake it.
    pub fn explain(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.is_deadlock() {
            out.push(
                "Deadlock: every process of the program is blocked, and only another blocked \
                 process of the program could wake each one, so none will ever proceed."
                    .to_string(),
            );
        }
        // Threads blocked the same way (the same call on the same fd of the
        // same pipe, or waiting for the same kind of child) get one sentence
        // in full, then one line naming the others: with many workers the
        // text stays a few lines, not a paragraph per worker.
        let mut same: Vec<(String, String, Vec<i32>)> = Vec::new();
        let mut zombies: Vec<(String, Vec<i32>)> = Vec::new();
        for process in &self.processes {
            if is_zombie(process) {
                match zombies.iter_mut().find(|(comm, _)| *comm == process.comm) {
                    Some((_, pids)) => pids.push(process.pid),
                    None => zombies.push((process.comm.clone(), vec![process.pid])),
                }
                continue;
            }
            for thread in process.threads.iter().filter(|t| t.wait != Wait::Exited) {
                let key = match &thread.wait {
                    Wait::PipeRead { .. } | Wait::PipeWrite { .. } if process.threads.len() == 1 => {
                        Some(activity(process, thread))
                    }
                    _ => None,
                };
                let known = key.as_ref().and_then(|k| {
                    same.iter_mut()
                        .find(|(key, comm, _)| key == k && *comm == process.comm)
                });
                match known {
                    Some((_, _, pids)) => pids.push(process.pid),
                    None => {
                        out.push(self.sentence(process, thread));
                        if let Some(key) = key {
                            same.push((key, process.comm.clone(), Vec::new()));
                        }
                    }
                }
            }
        }
        for (key, comm, pids) in same.iter().filter(|(_, _, pids)| !pids.is_empty()) {
            let what = if pids.len() == 1 {
                key.clone()
            } else {
                plural_verb(key, "")
            };
            out.push(format!("{} ({comm}) {what} as well.", pid_list(pids)));
        }
        for (comm, pids) in zombies {
            let (verb, noun) = if pids.len() == 1 {
                ("has", "a zombie")
            } else {
                ("have", "zombies")
            };
            out.push(format!(
                "{} ({comm}) {verb} exited, but the parent has not waited for {} yet ({noun}).",
                pid_list(&pids),
                if pids.len() == 1 { "it" } else { "them" }
            ));
        }
        out
    }

    /// The process of the tree with this pid.
    pub fn process(&self, pid: i32) -> Option<&ProcessReport> {
        self.processes.iter().find(|p| p.pid == pid)
    }

    /// Whether `thread` is blocked on something only the tree could end.
    /// (Whether the tree itself can move is checked by the caller, thread by
    /// thread.)
    fn stuck(&self, process: &ProcessReport, thread: &ThreadReport) -> bool {
        let only_inside =
            |holders: Vec<Holder>| -> bool { !holders.is_empty() && holders.iter().all(|h| h.inside) };
        match &thread.wait {
            Wait::PipeRead { inode, .. } => only_inside(self.holders(*inode, End::Write)),
            Wait::PipeWrite { inode, .. } => only_inside(self.holders(*inode, End::Read)),
            Wait::Poll {
                timed: false,
                fds: Some(fds),
                ..
            } => {
                !fds.is_empty()
                    && fds.iter().all(|f| match (f.pipe, other_end(f.access)) {
                        (Some(inode), Some(end)) => only_inside(self.holders(inode, end)),
                        _ => false,
                    })
            }
            Wait::Child { target, .. } => {
                let children = matching_children(process, *target, self);
                !children.is_empty()
                    && children
                        .iter()
                        .all(|&c| self.process(c).is_some_and(|c| !is_zombie(c)))
            }
            // A futex is woken by another thread sharing the memory: the
            // lock holder, or the kernel when the joined thread exits. Nothing
            // outside the tree shares the program's memory.
            Wait::Futex { timed: false } => true,
            _ => false,
        }
    }

    /// Who holds `end` of pipe `inode`: the tree first, then outsiders.
    fn holders(&self, inode: u64, end: End) -> Vec<Holder<'_>> {
        let tree = self
            .processes
            .iter()
            .map(|p| (p.pid, p.comm.as_str(), &p.fds, true));
        let outside = self
            .outsiders
            .iter()
            .map(|o| (o.pid, o.comm.as_str(), &o.fds, false));
        tree.chain(outside)
            .filter_map(|(pid, comm, fds, inside)| {
                let fds: Vec<i32> = fds
                    .iter()
                    .filter(|f| f.pipe == Some(inode) && end.held_by(f.access))
                    .map(|f| f.fd)
                    .collect();
                (!fds.is_empty()).then_some(Holder {
                    pid,
                    comm,
                    fds,
                    inside,
                })
            })
            .collect()
    }

    /// The full sentence for one thread: what it does, and who could wake it.
    fn sentence(&self, process: &ProcessReport, thread: &ThreadReport) -> String {
        let mut s = subject(process, thread);
        if let Wait::Child { call, target } = &thread.wait {
            // Name the children and what they do, instead of the bare pid.
            s += &format!(" is blocked in {call}()");
            s += &self.children_clause(process, *target);
            s += &format!(". {call}() returns only once a child it waits for has exited.");
        } else {
            s += " ";
            s += &activity(process, thread);
        }
        match &thread.wait {
            Wait::PipeRead { inode, .. } => {
                s += "; ";
                s += &self.holders_clause(process, *inode, End::Write);
                s += ". A reader sees EOF only when every write end is closed.";
            }
            Wait::PipeWrite { inode, .. } => {
                s += ", which is full; ";
                s += &self.holders_clause(process, *inode, End::Read);
                s += ". A writer blocks while the pipe is full, until a reader makes room.";
            }
            Wait::Poll { fds: Some(fds), .. } => {
                for f in fds {
                    if let (Some(inode), Some(end)) = (f.pipe, other_end(f.access)) {
                        s += "; for fd ";
                        s += &f.fd.to_string();
                        s += ", ";
                        s += &self.holders_clause(process, inode, end);
                    }
                }
                s += ".";
            }
            Wait::Child { .. } => {}
            Wait::Sleep { .. } => s += "; it wakes up by itself.",
            Wait::Stopped => s += "; only SIGCONT resumes it.",
            _ => s += ".",
        }
        if let Some(progress) = thread.progress.filter(|p| p.woke) {
            let ms = ticks_to_ms(progress.user_ticks + progress.system_ticks);
            s += &match (&thread.wait, ms) {
                (Wait::Running, _) => format!(" It used {ms} ms of CPU since the previous sample."),
                (_, 0) => " It has woken up since the previous sample, so it is making progress.".to_string(),
                _ => format!(
                    " It has been running (computing) since the previous sample ({ms} ms of \
                     CPU), so it is making progress."
                ),
            };
        }
        s
    }

    /// "the write end is still open in pid 812 fd 4 (the reader itself)".
    fn holders_clause(&self, process: &ProcessReport, inode: u64, end: End) -> String {
        let holders = self.holders(inode, end);
        let (end_name, role) = match end {
            End::Write => ("write end", "the reader"),
            End::Read => ("read end", "the writer"),
        };
        if holders.is_empty() {
            return match end {
                End::Write => {
                    format!("no process holds the {end_name} any more, so the read is about to return EOF")
                }
                End::Read => format!(
                    "no process holds the {end_name} any more, so the write is about to fail \
                     with EPIPE"
                ),
            };
        }
        // Holders that look alike (same name, same fds, doing the same) are
        // named together, so the clause does not grow with every worker.
        let mut alike: Vec<(String, String, String, Vec<i32>)> = Vec::new();
        let mut parts: Vec<String> = Vec::new();
        for h in &holders {
            let fds = fd_list(&h.fds);
            if h.pid == process.pid {
                parts.push(format!("pid {} {fds} ({role} itself)", h.pid));
            } else if !h.inside {
                parts.push(format!("pid {} ({}) {fds}, outside the program", h.pid, h.comm));
            } else {
                let what = self.process(h.pid).map(process_activity).unwrap_or_default();
                match alike
                    .iter_mut()
                    .find(|(comm, f, w, _)| comm == h.comm && *f == fds && *w == what)
                {
                    Some((_, _, _, pids)) => pids.push(h.pid),
                    None => {
                        parts.push(String::new()); // filled in below
                        alike.push((h.comm.to_string(), fds, what, vec![h.pid]));
                    }
                }
            }
        }
        let mut groups = alike.into_iter();
        for part in parts.iter_mut().filter(|p| p.is_empty()) {
            let Some((comm, fds, what, pids)) = groups.next() else {
                break;
            };
            *part = if pids.len() == 1 {
                format!("pid {} ({comm}) {fds}, which {what}", pids[0])
            } else {
                format!(
                    "{} ({comm}) {fds} each, which {}",
                    pid_list(&pids),
                    plural_verb(&what, "all ")
                )
            };
        }
        let verb = if end == End::Write {
            "is still open"
        } else {
            "is open"
        };
        format!("the {end_name} {verb} in {}", join_and(&parts))
    }

    /// " for its child pid 813 (x), which is blocked in …": the children a
    /// wait waits for, and what they do.
    fn children_clause(&self, process: &ProcessReport, target: WaitTarget) -> String {
        let describe = |pid: i32| match self.process(pid) {
            Some(c) if is_zombie(c) => format!("pid {pid} ({}), which has already exited", c.comm),
            Some(c) => format!("pid {pid} ({}), which {}", c.comm, process_activity(c)),
            None => format!("pid {pid}, which is not among the diagnosed processes"),
        };
        let which = match target {
            WaitTarget::Pid(pid) => return format!(" for its child {}", describe(pid)),
            WaitTarget::Any => " for any of its children".to_string(),
            WaitTarget::Group(g) => format!(" for any of its children in process group {g}"),
        };
        let children = matching_children(process, target, self);
        if children.is_empty() {
            return format!("{which}, but it has none left");
        }
        let parts: Vec<String> = children.iter().map(|&c| describe(c)).collect();
        format!("{which}: {}", parts.join("; "))
    }
}

/// "pid 812", or "pids 812, 813 and 814", or, for many, the first few and
/// how many in all: the text stays short whatever the number of processes.
fn pid_list(pids: &[i32]) -> String {
    const SHOWN: usize = 4;
    match pids {
        [one] => format!("pid {one}"),
        _ if pids.len() <= SHOWN + 1 => {
            let parts: Vec<String> = pids.iter().map(i32::to_string).collect();
            format!("pids {}", join_and(&parts))
        }
        _ => {
            let parts: Vec<String> = pids[..SHOWN].iter().map(i32::to_string).collect();
            format!("pids {} and {} more", parts.join(", "), pids.len() - SHOWN)
        }
    }
}

/// "is blocked in read()" said of several: "are blocked in read()", or
/// with `all` = "all ", "are all blocked in read()".
fn plural_verb(what: &str, all: &str) -> String {
    for (one, many) in [("is ", "are "), ("has ", "have "), ("waits ", "wait ")] {
        if let Some(rest) = what.strip_prefix(one) {
            return format!("{many}{all}{rest}");
        }
    }
    what.to_string()
}

/// Which end of a pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Read,
    Write,
}

impl End {
    /// Whether a descriptor opened with `access` holds this end. An unknown
    /// mode counts as holding both: it can only make a deadlock less likely.
    fn held_by(self, access: Access) -> bool {
        match self {
            End::Read => access != Access::Write,
            End::Write => access != Access::Read,
        }
    }
}

/// The end whose holders can wake a thread waiting on a descriptor opened
/// with `access`.
fn other_end(access: Access) -> Option<End> {
    match access {
        Access::Read => Some(End::Write),
        Access::Write => Some(End::Read),
        Access::ReadWrite | Access::Unknown => None,
    }
}

/// One process holding an end of a pipe, with its descriptors on it.
struct Holder<'a> {
    pid: i32,
    comm: &'a str,
    fds: Vec<i32>,
    inside: bool,
}

/// Whether every thread of the process has exited.
fn is_zombie(process: &ProcessReport) -> bool {
    process.threads.iter().all(|t| t.wait == Wait::Exited)
}

/// The children a wait with `target` waits for.
fn matching_children(process: &ProcessReport, target: WaitTarget, tree: &Diagnosis) -> Vec<i32> {
    process
        .children
        .iter()
        .copied()
        .filter(|&c| match target {
            WaitTarget::Pid(pid) => c == pid,
            WaitTarget::Any => true,
            WaitTarget::Group(group) => match tree.process(c) {
                Some(child) => child.pgid == group,
                None => read_stat(&format!("/proc/{c}/stat")).is_some_and(|s| s.pgid == group),
            },
        })
        .collect()
}

/// "pid 812 (closing-ends)", or "pid 812 (incr) thread 815" when the
/// process has several threads.
fn subject(process: &ProcessReport, thread: &ThreadReport) -> String {
    let live = process.threads.iter().filter(|t| t.wait != Wait::Exited).count();
    if live > 1 {
        format!("pid {} ({}) thread {}", process.pid, process.comm, thread.tid)
    } else {
        format!("pid {} ({})", process.pid, process.comm)
    }
}

/// What a whole process does, completing "which …".
fn process_activity(process: &ProcessReport) -> String {
    let live: Vec<&ThreadReport> = process
        .threads
        .iter()
        .filter(|t| t.wait != Wait::Exited)
        .collect();
    match live.as_slice() {
        [] => "has exited".to_string(),
        [only] => activity(process, only),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|t| format!("thread {} {}", t.tid, activity(process, t)))
                .collect();
            format!("has {} threads: {}", many.len(), parts.join(", "))
        }
    }
}

/// What a thread does, completing "pid 812 (x) …" or "…, which …": a
/// clause with no reasons and no period.
fn activity(process: &ProcessReport, thread: &ThreadReport) -> String {
    match &thread.wait {
        Wait::Running => "is running (computing), not blocked".to_string(),
        Wait::Stopped => "is stopped (SIGSTOP?)".to_string(),
        Wait::Exited => "has exited".to_string(),
        Wait::Uninterruptible => format!(
            "is in an uninterruptible wait{}",
            thread
                .wchan
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default()
        ),
        Wait::Sleep { call } => format!("is sleeping ({call})"),
        Wait::PipeRead { call, fd, inode } => {
            format!("is blocked in {call}(fd {fd}) on pipe:[{inode}]")
        }
        Wait::PipeWrite { call, fd, inode } => {
            format!("is blocked in {call}(fd {fd}) on pipe:[{inode}]")
        }
        Wait::File { call, fd, target } => format!("is blocked in {call}(fd {fd}) on {target}"),
        Wait::Poll { call, timed, fds } => {
            let on = match fds {
                None => " on descriptors that could not be read".to_string(),
                Some(fds) if fds.is_empty() => " on no descriptor at all".to_string(),
                Some(fds) => {
                    let parts: Vec<String> = fds.iter().map(|f| polled(process, f)).collect();
                    format!(" waiting for {}", join_and(&parts))
                }
            };
            let timeout = if *timed { ", with a timeout" } else { "" };
            format!("is blocked in {call}(){on}{timeout}")
        }
        Wait::Child { call, target } => match target {
            WaitTarget::Pid(pid) => format!("is blocked in {call}() for its child pid {pid}"),
            WaitTarget::Any => format!("is blocked in {call}() for any of its children"),
            WaitTarget::Group(g) => {
                format!("is blocked in {call}() for any of its children in process group {g}")
            }
        },
        Wait::Futex { timed } => format!(
            "waits on a futex (a lock or a thread join){}",
            if *timed { ", with a timeout" } else { "" }
        ),
        Wait::Signal { call } => format!("waits for a signal ({call})"),
        Wait::Other { what } => format!(
            "is blocked in {what}{}",
            thread
                .wchan
                .as_deref()
                .map(|w| format!(" (wchan {w})"))
                .unwrap_or_default()
        ),
    }
}

/// `input on fd 3 (pipe:[40711])`.
fn polled(process: &ProcessReport, f: &Polled) -> String {
    let what = match (f.read, f.write) {
        (true, true) => "input or room",
        (false, true) => "room",
        _ => "input",
    };
    let target = process
        .fds
        .iter()
        .find(|d| d.fd == f.fd)
        .map_or("a closed descriptor", |d| d.target.as_str());
    format!("{what} on fd {} ({target})", f.fd)
}

/// "fd 4" or "fds 4 and 7".
fn fd_list(fds: &[i32]) -> String {
    let numbers: Vec<String> = fds.iter().map(i32::to_string).collect();
    let word = if fds.len() == 1 { "fd" } else { "fds" };
    format!("{word} {}", join_and(&numbers))
}

/// "a", "a and b", "a, b and c".
fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Clock ticks (`stat`'s unit) to milliseconds.
fn ticks_to_ms(ticks: u64) -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&hz| hz > 0).unwrap_or(100);
    ticks * 1000 / hz
}

// ---------------------------------------------------------------------------
// Reading /proc
// ---------------------------------------------------------------------------

/// The fields of a `stat` file this module uses.
struct Stat {
    state: char,
    ppid: i32,
    pgid: i32,
    user_ticks: u64,
    system_ticks: u64,
}

/// Reads a small /proc file; `None` when it is gone or unreadable.
fn read(path: &str) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// The numeric entries of a /proc directory (pids, tids, fds), sorted.
fn numeric_entries(path: &str) -> Vec<i32> {
    let Ok(dir) = fs::read_dir(path) else {
        return Vec::new();
    };
    let mut numbers: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    numbers.sort_unstable();
    numbers
}

/// Parses `stat`. The command name in parentheses may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn read_stat(path: &str) -> Option<Stat> {
    let text = read(path)?;
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the name, counted from 0: state, ppid, pgrp, …, utime is
    // field 14 of stat(5), that is index 11 here, stime index 12.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        user_ticks: fields.get(11)?.parse().ok()?,
        system_ticks: fields.get(12)?.parse().ok()?,
    })
}

/// Parses `syscall`: `running`, `-1 SP PC`, or `NR ARG1 … ARG6 SP PC`.
fn parse_syscall(text: &str) -> Syscall {
    let text = text.trim();
    if text == "running" {
        return Syscall::Running;
    }
    let mut fields = text.split_whitespace();
    let Some(Ok(nr)) = fields.next().map(str::parse::<i64>) else {
        return Syscall::Unknown;
    };
    if nr < 0 {
        return Syscall::NotInSyscall;
    }
    let mut args = [0u64; 6];
    for arg in &mut args {
        let Some(Ok(value)) = fields
            .next()
            .map(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16))
        else {
            return Syscall::Unknown;
        };
        *arg = value;
    }
    Syscall::In { nr, args }
}

/// The value of a `Key:\tvalue` line of a status or fdinfo file.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// Reads one process, or `None` if it has gone.
fn read_process(pid: i32) -> Option<ProcessReport> {
    let stat = read_stat(&format!("/proc/{pid}/stat"))?;
    let comm = read(&format!("/proc/{pid}/comm")).unwrap_or_default();
    let tids = numeric_entries(&format!("/proc/{pid}/task"));
    let mut fds = read_fds(&format!("/proc/{pid}"));
    if fds.is_empty() {
        // A main thread that has exited (pthread_exit) takes `/proc/PID/fd`
        // with it; the table is still there through the other threads.
        if let Some(tid) = tids.iter().find(|&&tid| tid != pid) {
            fds = read_fds(&format!("/proc/{pid}/task/{tid}"));
        }
    }
    let mut threads = Vec::new();
    let mut children = Vec::new();
    for tid in tids {
        let dir = format!("/proc/{pid}/task/{tid}");
        if let Some(list) = read(&format!("{dir}/children")) {
            children.extend(list.split_whitespace().filter_map(|c| c.parse::<i32>().ok()));
        }
        if let Some(thread) = read_thread(pid, stat.pgid, tid, &dir, &fds) {
            threads.push(thread);
        }
    }
    if threads.is_empty() {
        return None;
    }
    // The main thread first, then the others by tid.
    threads.sort_by_key(|t| (t.tid != pid, t.tid));
    children.sort_unstable();
    children.dedup();
    Some(ProcessReport {
        pid,
        ppid: stat.ppid,
        pgid: stat.pgid,
        comm: comm.trim_end().to_string(),
        threads,
        fds,
        children,
    })
}

/// Reads one thread, or `None` if it has gone.
fn read_thread(pid: i32, pgid: i32, tid: i32, dir: &str, fds: &[FdReport]) -> Option<ThreadReport> {
    let stat = read_stat(&format!("{dir}/stat"))?;
    let syscall = read(&format!("{dir}/syscall")).map_or(Syscall::Unknown, |s| parse_syscall(&s));
    let wchan = read(&format!("{dir}/wchan"))
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty() && w != "0");
    let status = read(&format!("{dir}/status")).unwrap_or_default();
    let switches = |key| {
        field(&status, key)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let context_switches = switches("voluntary_ctxt_switches") + switches("nonvoluntary_ctxt_switches");
    let caller = Caller { pid, pgid, fds };
    let wait = classify(&caller, stat.state, syscall, wchan.as_deref());
    Some(ThreadReport {
        tid,
        comm: read(&format!("{dir}/comm"))
            .unwrap_or_default()
            .trim_end()
            .to_string(),
        state: stat.state,
        wchan,
        syscall,
        wait,
        user_ticks: stat.user_ticks,
        system_ticks: stat.system_ticks,
        context_switches,
        progress: None,
    })
}

/// The open descriptors under `dir` (`/proc/PID` or a thread's
/// `/proc/PID/task/TID`); for pipes, with their access mode.
fn read_fds(dir: &str) -> Vec<FdReport> {
    numeric_entries(&format!("{dir}/fd"))
        .into_iter()
        .filter_map(|fd| {
            let target = fs::read_link(format!("{dir}/fd/{fd}")).ok()?;
            let target = target.to_string_lossy().into_owned();
            let pipe = pipe_inode(&target);
            let access = if pipe.is_some() {
                fd_access(dir, fd)
            } else {
                Access::Unknown
            };
            Some(FdReport {
                fd,
                target,
                pipe,
                access,
            })
        })
        .collect()
}

/// `pipe:[40711]` → 40711.
fn pipe_inode(target: &str) -> Option<u64> {
    target.strip_prefix("pipe:[")?.strip_suffix(']')?.parse().ok()
}

/// The access mode from `DIR/fdinfo/FD`'s `flags:` (octal).
fn fd_access(dir: &str, fd: i32) -> Access {
    let flags = read(&format!("{dir}/fdinfo/{fd}"))
        .and_then(|info| i64::from_str_radix(field(&info, "flags")?, 8).ok());
    match flags.map(|f| f & i64::from(libc::O_ACCMODE)) {
        Some(m) if m == i64::from(libc::O_RDONLY) => Access::Read,
        Some(m) if m == i64::from(libc::O_WRONLY) => Access::Write,
        Some(m) if m == i64::from(libc::O_RDWR) => Access::ReadWrite,
        _ => Access::Unknown,
    }
}

/// The pipes the tree waits on: whose other ends matter.
fn waited_pipes(processes: &[ProcessReport]) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for thread in processes.iter().flat_map(|p| &p.threads) {
        match &thread.wait {
            Wait::PipeRead { inode, .. } | Wait::PipeWrite { inode, .. } => {
                inodes.insert(*inode);
            }
            Wait::Poll { fds: Some(fds), .. } => inodes.extend(fds.iter().filter_map(|f| f.pipe)),
            _ => {}
        }
    }
    inodes
}

/// Searches every process outside the tree for descriptors on `inodes`.
fn find_outsiders(tree: &HashSet<i32>, inodes: &HashSet<u64>) -> Vec<Outsider> {
    let mut outsiders = Vec::new();
    for pid in numeric_entries("/proc") {
        if tree.contains(&pid) {
            continue;
        }
        let mut fds = Vec::new();
        for fd in numeric_entries(&format!("/proc/{pid}/fd")) {
            let Ok(target) = fs::read_link(format!("/proc/{pid}/fd/{fd}")) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = pipe_inode(&target).filter(|i| inodes.contains(i)) {
                let access = fd_access(&format!("/proc/{pid}"), fd);
                fds.push(FdReport {
                    fd,
                    target,
                    pipe: Some(inode),
                    access,
                });
            }
        }
        if !fds.is_empty() {
            let comm = read(&format!("/proc/{pid}/comm")).unwrap_or_default();
            outsiders.push(Outsider {
                pid,
                comm: comm.trim_end().to_string(),
                fds,
            });
        }
    }
    outsiders
}

// ---------------------------------------------------------------------------
// Deciding what a thread waits for
// ---------------------------------------------------------------------------

/// The process a blocked thread belongs to, as classification needs it.
struct Caller<'a> {
    pid: i32,
    pgid: i32,
    fds: &'a [FdReport],
}

impl Caller<'_> {
    fn fd(&self, fd: i32) -> Option<&FdReport> {
        self.fds.iter().find(|f| f.fd == fd)
    }
}

/// Decides what a thread waits for: the state first, then the system call,
/// then `wchan` when the system call does not tell.
fn classify(caller: &Caller, state: char, syscall: Syscall, wchan: Option<&str>) -> Wait {
    match state {
        'R' => return Wait::Running,
        'T' | 't' => return Wait::Stopped,
        'Z' | 'X' | 'x' => return Wait::Exited,
        'D' => return Wait::Uninterruptible,
        _ => {}
    }
    match syscall {
        Syscall::In { nr, args } => {
            from_syscall(caller, nr, args).unwrap_or_else(|| from_wchan(wchan, Some(nr)))
        }
        Syscall::Running | Syscall::NotInSyscall | Syscall::Unknown => from_wchan(wchan, None),
    }
}

/// Classifies by system call; `None` when the call needs `wchan` to tell
/// (`restart_syscall` after a signal).
fn from_syscall(caller: &Caller, nr: i64, args: [u64; 6]) -> Option<Wait> {
    // Arguments are printed as unsigned registers; an `int` argument is the
    // low 32 bits (truncating is the point).
    let int = |i: usize| args[i] as i32;
    let wait = match nr {
        libc::SYS_read => io(caller, "read", int(0), End::Read),
        libc::SYS_readv => io(caller, "readv", int(0), End::Read),
        libc::SYS_write => io(caller, "write", int(0), End::Write),
        libc::SYS_writev => io(caller, "writev", int(0), End::Write),
        libc::SYS_wait4 => Wait::Child {
            call: "waitpid",
            target: match int(0) {
                -1 => WaitTarget::Any,
                0 => WaitTarget::Group(caller.pgid),
                pid if pid > 0 => WaitTarget::Pid(pid),
                group => WaitTarget::Group(group.saturating_neg()),
            },
        },
        libc::SYS_waitid => Wait::Child {
            call: "waitid",
            target: match (args[0] as libc::idtype_t, int(1)) {
                (libc::P_PID, pid) => WaitTarget::Pid(pid),
                (libc::P_PGID, 0) => WaitTarget::Group(caller.pgid),
                (libc::P_PGID, group) => WaitTarget::Group(group),
                (libc::P_PIDFD, fd) => pidfd_target(caller.pid, fd),
                _ => WaitTarget::Any,
            },
        },
        libc::SYS_nanosleep => Wait::Sleep { call: "nanosleep" },
        libc::SYS_clock_nanosleep => Wait::Sleep {
            call: "clock_nanosleep",
        },
        // futex(uaddr, op, val, timeout, …) and futex_waitv(waiters, n,
        // flags, timeout, clock): a null timeout waits for ever.
        libc::SYS_futex | libc::SYS_futex_waitv => Wait::Futex { timed: args[3] != 0 },
        libc::SYS_ppoll => poll(caller, "ppoll", args[0], args[1], args[2] != 0),
        libc::SYS_pselect6 => select(caller, "pselect6", args, args[4] != 0),
        libc::SYS_epoll_pwait => epoll(caller, "epoll_pwait", int(0), int(3) >= 0),
        libc::SYS_epoll_pwait2 => epoll(caller, "epoll_pwait2", int(0), args[3] != 0),
        libc::SYS_rt_sigsuspend => Wait::Signal { call: "sigsuspend" },
        libc::SYS_rt_sigtimedwait => Wait::Signal { call: "sigtimedwait" },
        libc::SYS_restart_syscall => return None,
        _ => return from_x86_64_syscall(caller, nr, args),
    };
    Some(wait)
}

/// The calls only x86_64 has (aarch64 emulates them in libc with the `p`
/// variants above).
#[cfg(target_arch = "x86_64")]
fn from_x86_64_syscall(caller: &Caller, nr: i64, args: [u64; 6]) -> Option<Wait> {
    let wait = match nr {
        libc::SYS_poll => poll(caller, "poll", args[0], args[1], (args[2] as i32) >= 0),
        libc::SYS_select => select(caller, "select", args, args[4] != 0),
        libc::SYS_epoll_wait => epoll(caller, "epoll_wait", args[0] as i32, (args[3] as i32) >= 0),
        libc::SYS_pause => Wait::Signal { call: "pause" },
        _ => Wait::Other {
            what: format!("{}()", syscall_name(nr)),
        },
    };
    Some(wait)
}

#[cfg(not(target_arch = "x86_64"))]
fn from_x86_64_syscall(_caller: &Caller, nr: i64, _args: [u64; 6]) -> Option<Wait> {
    Some(Wait::Other {
        what: format!("{}()", syscall_name(nr)),
    })
}

/// A blocked read or write on descriptor `fd`.
fn io(caller: &Caller, call: &'static str, fd: i32, end: End) -> Wait {
    match caller.fd(fd) {
        Some(FdReport {
            pipe: Some(inode), ..
        }) => match end {
            End::Read => Wait::PipeRead {
                call,
                fd,
                inode: *inode,
            },
            End::Write => Wait::PipeWrite {
                call,
                fd,
                inode: *inode,
            },
        },
        Some(f) => Wait::File {
            call,
            fd,
            target: f.target.clone(),
        },
        None => Wait::File {
            call,
            fd,
            target: "a descriptor that is no longer open".to_string(),
        },
    }
}

/// `waitid(P_PIDFD, fd)`: the pidfd's fdinfo names the process.
fn pidfd_target(pid: i32, fd: i32) -> WaitTarget {
    read(&format!("/proc/{pid}/fdinfo/{fd}"))
        .and_then(|info| field(&info, "Pid")?.parse().ok())
        .map_or(WaitTarget::Any, WaitTarget::Pid)
}

/// Reads `len` bytes of the caller's memory at `addr`.
fn read_memory(pid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
    // A student's poll set is a few entries; refuse absurd sizes.
    if addr == 0 || len > 64 * 1024 {
        return None;
    }
    let file = fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, addr).ok()?;
    Some(buf)
}

/// A watched descriptor, with what the caller's table says about it.
fn watched(caller: &Caller, fd: i32, read: bool, write: bool) -> Polled {
    let known = caller.fd(fd);
    Polled {
        fd,
        read,
        write,
        pipe: known.and_then(|f| f.pipe),
        access: known.map_or(Access::Unknown, |f| f.access),
    }
}

/// `poll(fds, nfds, timeout)` / `ppoll`: the `struct pollfd` array
/// (`int fd; short events; short revents;`) is read from memory.
fn poll(caller: &Caller, call: &'static str, addr: u64, nfds: u64, timed: bool) -> Wait {
    const POLLFD: usize = std::mem::size_of::<libc::pollfd>();
    let fds = usize::try_from(nfds)
        .ok()
        .and_then(|n| read_memory(caller.pid, addr, n.checked_mul(POLLFD)?))
        .map(|bytes| {
            bytes
                .chunks_exact(POLLFD)
                .filter_map(|entry| {
                    let fd = i32::from_ne_bytes(entry.get(0..4)?.try_into().ok()?);
                    let events = i16::from_ne_bytes(entry.get(4..6)?.try_into().ok()?);
                    let read = events & (libc::POLLIN | libc::POLLRDNORM | libc::POLLPRI) != 0;
                    let write = events & (libc::POLLOUT | libc::POLLWRNORM) != 0;
                    // A negative fd is an entry the caller switched off.
                    (fd >= 0).then(|| watched(caller, fd, read, write))
                })
                .collect()
        });
    // nfds == 0 reads nothing; that is a wait on no descriptor at all.
    let fds = if nfds == 0 { Some(Vec::new()) } else { fds };
    Wait::Poll { call, timed, fds }
}

/// `select(nfds, readfds, writefds, exceptfds, timeout)` / `pselect6`: the
/// `fd_set` bitmaps are read from memory.
fn select(caller: &Caller, call: &'static str, args: [u64; 6], timed: bool) -> Wait {
    let nfds = (args[0] as i32).clamp(0, libc::FD_SETSIZE as i32) as usize;
    let bytes = nfds.div_ceil(64) * 8;
    let set = |addr: u64| -> Option<Vec<bool>> {
        if addr == 0 {
            return Some(vec![false; nfds]);
        }
        // An fd_set is an array of longs; descriptor n is bit n % 64 of long n / 64.
        let raw = read_memory(caller.pid, addr, bytes)?;
        let words: Vec<u64> = raw
            .chunks_exact(8)
            .filter_map(|w| Some(u64::from_ne_bytes(w.try_into().ok()?)))
            .collect();
        Some(
            (0..nfds)
                .map(|fd| words.get(fd / 64).is_some_and(|w| w & (1 << (fd % 64)) != 0))
                .collect(),
        )
    };
    let fds = (|| {
        let (reads, writes, excepts) = (set(args[1])?, set(args[2])?, set(args[3])?);
        Some(
            (0..nfds)
                .filter(|&fd| reads[fd] || writes[fd] || excepts[fd])
                .map(|fd| watched(caller, fd as i32, reads[fd] || excepts[fd], writes[fd]))
                .collect(),
        )
    })();
    Wait::Poll { call, timed, fds }
}

/// `epoll_wait(epfd, …, timeout)`: the watched descriptors are the `tfd:`
/// lines of the epoll descriptor's fdinfo.
fn epoll(caller: &Caller, call: &'static str, epfd: i32, timed: bool) -> Wait {
    let fds = read(&format!("/proc/{}/fdinfo/{epfd}", caller.pid)).map(|info| {
        info.lines()
            .filter_map(|line| {
                // "tfd:        5 events:       19 data: …"
                let mut words = line.split_whitespace();
                (words.next()? == "tfd:").then_some(())?;
                let fd: i32 = words.next()?.parse().ok()?;
                (words.next()? == "events:").then_some(())?;
                let events = u32::from_str_radix(words.next()?, 16).ok()?;
                let read = events & (libc::EPOLLIN | libc::EPOLLPRI) as u32 != 0;
                let write = events & libc::EPOLLOUT as u32 != 0;
                Some(watched(caller, fd, read, write))
            })
            .collect()
    });
    Wait::Poll { call, timed, fds }
}

/// Classifies by the kernel function the thread sleeps in, when the system
/// call could not be read or does not tell. Pipe waits found this way lack
/// the descriptor, so they are described but never count towards a deadlock.
fn from_wchan(wchan: Option<&str>, nr: Option<i64>) -> Wait {
    let Some(w) = wchan else {
        return Wait::Other {
            what: nr.map_or_else(
                || "an unknown wait".to_string(),
                |nr| format!("{}()", syscall_name(nr)),
            ),
        };
    };
    if w.contains("pipe_read") {
        Wait::Other {
            what: "a read from a pipe".to_string(),
        }
    } else if w.contains("pipe_write") {
        Wait::Other {
            what: "a write to a full pipe".to_string(),
        }
    } else if w.contains("do_wait") || w.contains("kernel_wait") {
        // The target is unknown; "any child" includes it.
        Wait::Child {
            call: "waitpid",
            target: WaitTarget::Any,
        }
    } else if w.contains("nanosleep") {
        Wait::Sleep { call: "nanosleep" }
    } else if w.contains("futex") {
        // The timeout is unknown: assume there is one.
        Wait::Futex { timed: true }
    } else if w.contains("poll") || w.contains("select") {
        Wait::Poll {
            call: "poll",
            timed: true,
            fds: None,
        }
    } else if w.contains("sigsuspend") || w.contains("pause") {
        Wait::Signal { call: "pause" }
    } else if w.contains("signal_stop") {
        Wait::Stopped
    } else {
        Wait::Other {
            what: format!("the kernel function {w}"),
        }
    }
}

/// A readable name for the system calls a student's program may block in.
fn syscall_name(nr: i64) -> String {
    let name = match nr {
        libc::SYS_read => "read",
        libc::SYS_write => "write",
        libc::SYS_openat => "openat",
        libc::SYS_accept4 => "accept4",
        libc::SYS_connect => "connect",
        libc::SYS_recvfrom => "recvfrom",
        libc::SYS_sendto => "sendto",
        libc::SYS_recvmsg => "recvmsg",
        libc::SYS_sendmsg => "sendmsg",
        libc::SYS_flock => "flock",
        libc::SYS_fcntl => "fcntl",
        libc::SYS_splice => "splice",
        libc::SYS_tee => "tee",
        libc::SYS_msgrcv => "msgrcv",
        libc::SYS_msgsnd => "msgsnd",
        libc::SYS_semtimedop => "semtimedop",
        libc::SYS_mq_timedreceive => "mq_timedreceive",
        libc::SYS_mq_timedsend => "mq_timedsend",
        libc::SYS_clone => "clone",
        libc::SYS_execve => "execve",
        libc::SYS_exit_group => "exit_group",
        _ => return format!("system call {nr}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker blocked reading pipe 7 (fd 3) while holding its write end
    /// (fd 4) itself, as in a pool where each worker forgot to close it.
    fn worker(pid: i32) -> ProcessReport {
        let end = |fd, access| FdReport {
            fd,
            target: "pipe:[7]".to_string(),
            pipe: Some(7),
            access,
        };
        ProcessReport {
            pid,
            ppid: 1,
            pgid: 1,
            comm: "spmc".to_string(),
            threads: vec![ThreadReport {
                tid: pid,
                comm: "spmc".to_string(),
                state: 'S',
                wchan: Some("pipe_read".to_string()),
                syscall: Syscall::Unknown,
                wait: Wait::PipeRead {
                    call: "read",
                    fd: 3,
                    inode: 7,
                },
                user_ticks: 0,
                system_ticks: 0,
                context_switches: 0,
                progress: None,
            }],
            fds: vec![end(3, Access::Read), end(4, Access::Write)],
            children: Vec::new(),
        }
    }

    #[test]
    fn many_alike_processes_are_summarised_not_listed_again_and_again() {
        for workers in [3, 30] {
            let d = Diagnosis {
                processes: (100..100 + workers).map(worker).collect(),
                ..Diagnosis::default()
            };
            let text = d.explain();
            assert!(text.len() <= 3, "{workers} workers: {text:#?}");
            let all = text.join("\n");
            assert!(all.len() < 800, "{workers} workers: {} bytes:\n{all}", all.len());
            assert!(all.contains("pid 100 fd 4 (the reader itself)"), "{all}");
            assert!(all.contains("which are all blocked in read(fd 3)"), "{all}");
            assert!(text.last().unwrap().ends_with("as well."), "{all}");
        }
    }
}
