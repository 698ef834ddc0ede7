//! The model: replays a log into numbered steps, each holding every
//! process's descriptor table and every pipe's state after that step.
//!
//! Tables follow the kernel's rules: `fork` copies the caller's table,
//! `clone(CLONE_FILES)` shares it (a thread, or 07's clone child, sees the
//! same table), `execve` closes the close-on-exec descriptors (the new table
//! is read from `/proc`, not guessed), an exiting process closes its table
//! when no other process shares it. A pipe's open ends are counted over the
//! tables, each table once: that count is what decides end of file (no
//! write end left) and `EPIPE` (no read end left). The bytes a pipe holds
//! are what successful writes put in minus what successful reads took out.
//!
//! Only what concerns pipes and processes becomes a step; a program's other
//! descriptors (the libraries the loader opens) change the tables silently.
//! Alike reads or writes in a row (same process, descriptor, size and
//! result, none of them waiting) are one step that counts them (`times`):
//! 05's 65,536 one-byte writes are one step, every byte in the pipe's count.
//! A pipe's capacity is Linux's default until `fcntl(F_SETPIPE_SZ)` or
//! `F_GETPIPE_SZ` says otherwise.
//!
//! The tracer sees concurrent processes' stops in the order they reach it,
//! not always the kernel's: a read that returned bytes no write has put in
//! yet is replayed after that write, and an end of file reported before the
//! close (or exit) that dropped the last write end after that close.
//!
//! A call that may wait is logged when it starts; if other processes act
//! before it returns and the model says it cannot go on (an empty pipe
//! whose write end is still open, a full pipe, children all still
//! running), a "blocks" step says so, naming who holds the other end.

use crate::log::{Call, Fd, Object, Record};
use std::collections::{BTreeMap, BTreeSet};

/// What a descriptor refers to, in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obj {
    /// One end of pipe number `pipe` (an index into [`State::pipes`]).
    Pipe {
        /// The pipe.
        pipe: usize,
        /// The write end (else the read end).
        write: bool,
    },
    /// Anything else: `/dev/null`, a terminal, the sandbox's capture pipes.
    Other(String),
}

/// One descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it refers to.
    pub obj: Obj,
    /// Closed by `execve`.
    pub cloexec: bool,
}

/// A descriptor table: fd → entry.
pub type Table = BTreeMap<i32, Entry>;

/// How a process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Running (or waiting).
    Running,
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Killed(i32),
}

/// One process (or thread) of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    /// Who made it (`None` for the program's first process).
    pub parent: Option<i32>,
    /// Its table (an index into [`State::tables`]; shared tables share it).
    pub table: usize,
    /// The program it runs (its `argv[0]`).
    pub program: String,
    /// A thread (`CLONE_THREAD`) of `parent`'s group, not a child process.
    pub thread: bool,
    /// Its thread group: its own pid for a process, the pid of the process
    /// it belongs to for a thread.
    pub group: i32,
    /// Running or how it ended.
    pub life: Life,
    /// Its parent collected its ending with `waitpid`/`waitid`.
    pub reaped: bool,
    /// The call it waits in, when the model says it cannot go on.
    pub blocked: Option<Blocked>,
    /// Pipe descriptors it read or wrote (for the advice).
    pub used: BTreeSet<i32>,
}

/// A call that cannot go on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// `read(fd)` on an empty pipe whose write end is open in `writers`.
    Read {
        /// The descriptor read.
        fd: i32,
        /// The pipe.
        pipe: usize,
        /// Every (pid, fd) holding the write end.
        writers: Vec<(i32, i32)>,
    },
    /// `write(fd)` on a full pipe that `readers` could still read.
    Write {
        /// The descriptor written.
        fd: i32,
        /// The pipe.
        pipe: usize,
        /// Every (pid, fd) holding the read end.
        readers: Vec<(i32, i32)>,
    },
    /// `waitpid` for children that are all still running.
    Wait {
        /// The children it may wait for.
        children: Vec<i32>,
    },
}

/// One pipe: what went through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipe {
    /// Its inode (as `/proc/PID/fd` shows it: `pipe:[INODE]`).
    pub inode: u64,
    /// Bytes written into it, in all.
    pub written: u64,
    /// Bytes read out of it, in all.
    pub taken: u64,
    /// The most it holds: Linux's default, or what `fcntl(F_SETPIPE_SZ)`
    /// or `F_GETPIPE_SZ` returned.
    pub capacity: u64,
}

impl Proc {
    /// How it relates to the others, for its heading: ", child of 812",
    /// ", thread of 812", or nothing for the program's first process.
    pub fn role(&self) -> String {
        match (self.parent, self.thread) {
            _ if self.thread => format!(", thread of {}", self.group),
            (Some(parent), _) => format!(", child of {parent}"),
            (None, _) => String::new(),
        }
    }
}

impl Pipe {
    /// The bytes it holds now.
    pub fn held(&self) -> u64 {
        self.written.saturating_sub(self.taken)
    }
}

/// Everything at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Every process seen so far, by pid.
    pub procs: BTreeMap<i32, Proc>,
    /// Every table (a table outlives none of its processes: an ended
    /// process's unshared table is emptied).
    pub tables: Vec<Table>,
    /// Every pipe, in order of creation (pipe A, B, …).
    pub pipes: Vec<Pipe>,
}

/// What a call returned, for reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// This many bytes.
    Bytes(u64),
    /// End of file (a read returned 0).
    Eof,
    /// Failed with this errno.
    Failed(i32),
    /// Did not return before the run ended.
    Unfinished,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The program started with these descriptors.
    Start {
        /// Its arguments.
        argv: Vec<String>,
    },
    /// `pipe()` made pipe `pipe`: `read_fd` and `write_fd`.
    Pipe {
        /// The new pipe.
        pipe: usize,
        /// Its read end's descriptor.
        read_fd: i32,
        /// Its write end's descriptor.
        write_fd: i32,
    },
    /// `fork`/`clone` made `child`.
    Spawn {
        /// The new process or thread.
        child: i32,
        /// The call used.
        call: Call,
        /// `CLONE_FILES`: the table is shared, not copied.
        shared: bool,
        /// `CLONE_THREAD`: a thread of the same process.
        thread: bool,
        /// The descriptors the child has from the start.
        fds: Vec<i32>,
    },
    /// `close(fd)` of a pipe end (or a failed close).
    Close {
        /// The descriptor.
        fd: i32,
        /// What it referred to (`None`: it was not open).
        was: Option<Obj>,
        /// The errno when it failed.
        failed: Option<i32>,
    },
    /// `dup`/`dup2`/`dup3`/`fcntl(F_DUPFD)`: `new` now refers to what `old` does.
    Dup {
        /// The call.
        call: Call,
        /// The original descriptor.
        old: i32,
        /// The new one.
        new: i32,
        /// What `new` referred to before (closed by `dup2`).
        replaced: Option<Obj>,
    },
    /// `execve` replaced the program; the close-on-exec descriptors closed.
    Exec {
        /// The new program's arguments.
        argv: Vec<String>,
        /// The pipe descriptors closed by it.
        closed: Vec<i32>,
    },
    /// `read` on a pipe (`times` alike reads in a row, each with `result`).
    Read {
        /// The descriptor.
        fd: i32,
        /// The result.
        result: Io,
        /// It had blocked first (a step before said so).
        woke: bool,
        /// How many alike reads in a row this step stands for (1 or more).
        times: u64,
    },
    /// `write` on a pipe (`times` alike writes in a row, each with `result`).
    Write {
        /// The descriptor.
        fd: i32,
        /// How many bytes it was asked to write.
        asked: u64,
        /// The result.
        result: Io,
        /// It had blocked first.
        woke: bool,
        /// How many alike writes in a row this step stands for (1 or more).
        times: u64,
    },
    /// `fcntl(fd, F_SETPIPE_SZ)` gave pipe `pipe` room for `bytes`.
    Capacity {
        /// The descriptor.
        fd: i32,
        /// The pipe.
        pipe: usize,
        /// Its capacity now.
        bytes: u64,
    },
    /// A call cannot go on (the reason is in the process's `blocked`).
    Blocks,
    /// `waitpid`/`waitid` returned.
    Wait {
        /// Whom it collected, or the errno.
        result: Result<i32, i32>,
        /// It had blocked first.
        woke: bool,
    },
    /// A signal was delivered.
    Signal {
        /// Its number.
        signal: i32,
    },
    /// The process ended; its pipe descriptors closed (unless its table is
    /// shared with a process still running).
    Gone {
        /// How.
        life: Life,
        /// The pipe descriptors that closed with it.
        closed: Vec<i32>,
    },
    /// The first process ended with these still running; the tracer ended them.
    Left {
        /// The processes.
        pids: Vec<i32>,
    },
}

/// One step: who did what, and everything just after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The process or thread that acted.
    pub pid: i32,
    /// What it did.
    pub action: Action,
    /// The state after it.
    pub state: State,
}

/// A whole run, replayed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// The program's first process.
    pub first: i32,
    /// The steps, in order (step 1 is `steps[0]`).
    pub steps: Vec<Step>,
    /// The first process's ending, when the log has it.
    pub ending: Option<Life>,
    /// `ptrace` was refused: nothing was traced.
    pub refused: bool,
}

/// The pipe capacity the model assumes for "a write blocks" until the
/// program asks (Linux's default).
const CAPACITY: u64 = 65536;

/// Replays `records` into a [`Trace`].
pub fn replay(records: &[Record]) -> Trace {
    let mut m = Replay {
        records,
        ..Replay::default()
    };
    for (i, r) in records.iter().enumerate() {
        if m.done.remove(&i) {
            continue;
        }
        m.at = i;
        m.record(r);
    }
    m.finish()
}

/// How far ahead a read that took more than the pipe held looks for the
/// write that put it there (reported later: the reader woke first).
const LOOKAHEAD: usize = 64;

#[derive(Default)]
struct Replay<'a> {
    records: &'a [Record],
    /// The record being replayed.
    at: usize,
    /// Records replayed early (a write the reader's wake-up revealed).
    done: BTreeSet<usize>,
    trace: Trace,
    state: State,
    /// Pipe inodes → index; the sandbox's own pipes (inherited on fds 0–2)
    /// are not the program's and stay `Other`.
    inodes: BTreeMap<u64, usize>,
    outside: BTreeMap<u64, String>,
    /// Calls entered and not yet returned, by pid, and whether a "blocks"
    /// step was shown for them.
    pending: BTreeMap<i32, (Call, [i64; 4], bool)>,
}

impl Replay<'_> {
    fn step(&mut self, pid: i32, action: Action) {
        // A read or write just like the step before (same process, same
        // descriptor, same result, neither waited): one step, `times` more.
        if let Some(last) = self.trace.steps.last_mut() {
            if last.pid == pid {
                if let Some(more) = again(&last.action, &action) {
                    match &mut last.action {
                        Action::Read { times, .. } | Action::Write { times, .. } => *times += more,
                        _ => {}
                    }
                    last.state.clone_from(&self.state);
                    return;
                }
            }
        }
        self.trace.steps.push(Step {
            pid,
            action,
            state: self.state.clone(),
        });
    }

    fn obj(&mut self, fd: &Fd) -> Obj {
        match &fd.object {
            Object::Pipe { inode, write } => {
                if let Some(name) = self.outside.get(inode) {
                    return Obj::Other(name.clone());
                }
                let next = self.state.pipes.len();
                let pipe = *self.inodes.entry(*inode).or_insert(next);
                if pipe == next {
                    self.state.pipes.push(Pipe {
                        inode: *inode,
                        written: 0,
                        taken: 0,
                        capacity: CAPACITY,
                    });
                }
                Obj::Pipe { pipe, write: *write }
            }
            Object::Other { name } => Obj::Other(name.clone()),
        }
    }

    /// A table as `/proc` showed it.
    fn table_from(&mut self, fds: &[Fd]) -> Table {
        let mut table = Table::new();
        for fd in fds {
            let obj = self.obj(fd);
            table.insert(
                fd.fd,
                Entry {
                    obj,
                    cloexec: fd.cloexec,
                },
            );
        }
        table
    }

    fn table_of(&self, pid: i32) -> Option<&Table> {
        self.state.procs.get(&pid).map(|p| &self.state.tables[p.table])
    }

    fn table_mut(&mut self, pid: i32) -> Option<&mut Table> {
        let t = self.state.procs.get(&pid)?.table;
        self.state.tables.get_mut(t)
    }

    fn lookup(&self, pid: i32, fd: i32) -> Option<Obj> {
        self.table_of(pid)?.get(&fd).map(|e| e.obj.clone())
    }

    fn record(&mut self, r: &Record) {
        self.announce_blocks(actor(r));
        match r {
            Record::Start { pid, argv, fds } => self.start(*pid, argv, fds),
            Record::Spawn {
                parent,
                child,
                call,
                flags,
            } => self.spawn(*parent, *child, *call, *flags),
            Record::Exec { pid, argv, fds } => self.exec(*pid, argv, fds),
            Record::Enter { pid, call, args } => {
                // A restarted call (after a signal) keeps its "blocks" step.
                let shown = self
                    .pending
                    .get(pid)
                    .is_some_and(|(c, a, shown)| c == call && a[0] == args[0] && *shown);
                self.pending.insert(*pid, (*call, *args, shown));
            }
            Record::Exit {
                pid,
                call,
                args,
                ret,
                fds,
            } => self.exit(*pid, *call, *args, *ret, fds),
            Record::Signal { pid, signal } => {
                // SIGCHLD only tells a parent what its waitpid will say.
                if *signal != libc::SIGCHLD && self.state.procs.contains_key(pid) {
                    self.step(*pid, Action::Signal { signal: *signal });
                }
            }
            Record::Gone { pid, code, signal } => self.gone(*pid, *code, *signal),
            Record::Left { pids } => {
                if !pids.is_empty() {
                    let first = self.trace.first;
                    self.step(first, Action::Left { pids: pids.clone() });
                }
            }
            Record::Refused { .. } => self.trace.refused = true,
        }
    }

    fn start(&mut self, pid: i32, argv: &[String], fds: &[Fd]) {
        self.trace.first = pid;
        let names = ["stdin", "stdout", "stderr"];
        for fd in fds {
            if let (Object::Pipe { inode, .. }, Some(name)) = (&fd.object, names.get(fd.fd as usize)) {
                // A pipe on fd 0–2 at the start is how the sandbox talks to
                // the program, not one of the program's pipes.
                self.outside
                    .insert(*inode, format!("{name} (a pipe from outside)"));
            }
        }
        let table = self.table_from(fds);
        self.state.tables.push(table);
        self.state.procs.insert(
            pid,
            Proc {
                parent: None,
                table: self.state.tables.len() - 1,
                program: argv.first().cloned().unwrap_or_default(),
                thread: false,
                group: pid,
                life: Life::Running,
                reaped: false,
                blocked: None,
                used: BTreeSet::new(),
            },
        );
        self.step(pid, Action::Start { argv: argv.to_vec() });
    }

    fn spawn(&mut self, parent: i32, child: i32, call: Call, flags: u64) {
        let Some(p) = self.state.procs.get(&parent).cloned() else {
            return;
        };
        let shared = flags & libc::CLONE_FILES as u64 != 0;
        let thread = flags & libc::CLONE_THREAD as u64 != 0;
        let table = if shared {
            p.table
        } else {
            self.state.tables.push(self.state.tables[p.table].clone());
            self.state.tables.len() - 1
        };
        let fds = self.state.tables[table].keys().copied().collect();
        self.state.procs.insert(
            child,
            Proc {
                // A thread's parent (for waitpid) is its creator's parent.
                parent: if thread { p.parent } else { Some(parent) },
                table,
                program: p.program.clone(),
                thread,
                group: if thread { p.group } else { child },
                life: Life::Running,
                reaped: false,
                blocked: None,
                used: BTreeSet::new(),
            },
        );
        self.step(
            parent,
            Action::Spawn {
                child,
                call,
                shared,
                thread,
                fds,
            },
        );
    }

    fn exec(&mut self, pid: i32, argv: &[String], fds: &[Fd]) {
        let Some(old) = self.table_of(pid).cloned() else {
            return;
        };
        let table = self.table_from(fds);
        let closed = old
            .iter()
            .filter(|(fd, e)| matches!(e.obj, Obj::Pipe { .. }) && !table.contains_key(fd))
            .map(|(fd, _)| *fd)
            .collect();
        // execve gives a process that shared its table a table of its own.
        self.state.tables.push(table);
        let index = self.state.tables.len() - 1;
        if let Some(p) = self.state.procs.get_mut(&pid) {
            p.table = index;
            p.program = argv.first().cloned().unwrap_or_default();
            p.used.clear();
        }
        self.step(
            pid,
            Action::Exec {
                argv: argv.to_vec(),
                closed,
            },
        );
    }

    fn set(&mut self, pid: i32, fd: i32, obj: Obj, cloexec: bool) {
        if let Some(t) = self.table_mut(pid) {
            t.insert(fd, Entry { obj, cloexec });
        }
    }

    fn exit(&mut self, pid: i32, call: Call, args: [i64; 4], ret: i64, fds: &[Fd]) {
        let woke = self.pending.remove(&pid).is_some_and(|(_, _, shown)| shown);
        if let Some(p) = self.state.procs.get_mut(&pid) {
            p.blocked = None;
        }
        let fd = args[0] as i32;
        let failed = (ret < 0).then_some((-ret) as i32);
        match call {
            Call::Pipe | Call::Pipe2 => {
                for f in fds {
                    let obj = self.obj(f);
                    self.set(pid, f.fd, obj, f.cloexec);
                }
                if let [r, w] = fds {
                    if let Some(Obj::Pipe { pipe, .. }) = self.lookup(pid, r.fd) {
                        let (read_fd, write_fd) = (r.fd, w.fd);
                        self.step(
                            pid,
                            Action::Pipe {
                                pipe,
                                read_fd,
                                write_fd,
                            },
                        );
                    }
                }
            }
            Call::Close => {
                let was = self.table_mut(pid).and_then(|t| t.remove(&fd)).map(|e| e.obj);
                if matches!(was, Some(Obj::Pipe { .. })) || (failed.is_some() && fd > 2) {
                    self.step(pid, Action::Close { fd, was, failed });
                }
            }
            Call::Fcntl if matches!(args[1] as i32, libc::F_SETPIPE_SZ | libc::F_GETPIPE_SZ) => {
                let Some(Obj::Pipe { pipe, .. }) = self.lookup(pid, fd) else {
                    return;
                };
                if ret > 0 {
                    self.state.pipes[pipe].capacity = ret as u64;
                    if args[1] as i32 == libc::F_SETPIPE_SZ {
                        self.step(
                            pid,
                            Action::Capacity {
                                fd,
                                pipe,
                                bytes: ret as u64,
                            },
                        );
                    }
                }
            }
            Call::Dup | Call::Dup2 | Call::Dup3 | Call::Fcntl | Call::Open => {
                let Some(f) = fds.first() else { return };
                let replaced = if matches!(call, Call::Dup2 | Call::Dup3) && f.fd != fd {
                    self.lookup(pid, f.fd)
                } else {
                    None
                };
                let obj = self.obj(f);
                let before = self.lookup(pid, f.fd);
                self.set(pid, f.fd, obj.clone(), f.cloexec);
                let pipe_involved =
                    matches!(obj, Obj::Pipe { .. }) || matches!(replaced, Some(Obj::Pipe { .. }));
                let is_dup = matches!(call, Call::Dup | Call::Dup2 | Call::Dup3)
                    || (call == Call::Fcntl && ret >= 0 && ret as i32 == f.fd && before.is_none());
                if pipe_involved && is_dup && f.fd != fd {
                    self.step(
                        pid,
                        Action::Dup {
                            call,
                            old: fd,
                            new: f.fd,
                            replaced,
                        },
                    );
                }
            }
            Call::Read | Call::Readv | Call::Write | Call::Writev => {
                let write = matches!(call, Call::Write | Call::Writev);
                let Some(Obj::Pipe { pipe, .. }) = self.lookup(pid, fd) else {
                    return;
                };
                if !write && ret > self.state.pipes[pipe].held() as i64 {
                    self.replay_writer_first(pid, pipe);
                }
                if !write && ret == 0 {
                    self.replay_closers_first(pid, pipe);
                }
                let result = match ret {
                    0 if !write => Io::Eof,
                    n if n >= 0 => Io::Bytes(n as u64),
                    _ => Io::Failed(failed.unwrap_or(0)),
                };
                if let Io::Bytes(n) = result {
                    let p = &mut self.state.pipes[pipe];
                    if write {
                        p.written += n;
                    } else {
                        p.taken += n;
                    }
                }
                if let Some(p) = self.state.procs.get_mut(&pid) {
                    p.used.insert(fd);
                }
                let action = if write {
                    let asked = if call == Call::Write { args[2] as u64 } else { 0 };
                    Action::Write {
                        fd,
                        asked,
                        result,
                        woke,
                        times: 1,
                    }
                } else {
                    Action::Read {
                        fd,
                        result,
                        woke,
                        times: 1,
                    }
                };
                self.step(pid, action);
            }
            Call::Wait4 | Call::Waitid => {
                let reaped = match call {
                    Call::Wait4 => ret as i32,
                    // waitid(P_PID, id, …) returns 0; the id says whom.
                    _ if args[0] == libc::P_PID as i64 && ret == 0 => args[1] as i32,
                    _ => -1,
                };
                let result = match failed {
                    Some(e) => Err(e),
                    None => Ok(reaped),
                };
                if reaped > 0 {
                    if let Some(c) = self.state.procs.get_mut(&reaped) {
                        c.reaped = true;
                    }
                }
                if reaped != 0 || failed.is_some() {
                    self.step(pid, Action::Wait { result, woke });
                }
            }
            Call::Clone | Call::Clone3 | Call::Fork | Call::Vfork => {}
        }
    }

    /// A read returned bytes the model has not seen written: the writer's
    /// return was reported after the reader's wake-up. Replay that write
    /// (the next successful one into `pipe` by another process) now.
    fn replay_writer_first(&mut self, reader: i32, pipe: usize) {
        let end = (self.at + 1 + LOOKAHEAD).min(self.records.len());
        let found = (self.at + 1..end).find(|&j| {
            !self.done.contains(&j)
                && matches!(&self.records[j], Record::Exit { pid, call: Call::Write | Call::Writev, args, ret, .. }
                    if *pid != reader && *ret > 0
                        && self.lookup(*pid, args[0] as i32) == Some(Obj::Pipe { pipe, write: true }))
        });
        if let Some(j) = found {
            self.done.insert(j);
            let at = self.at;
            self.at = j;
            self.record(&self.records[j].clone());
            self.at = at;
        }
    }

    /// A read returned end of file while the model still has a write end
    /// of `pipe` open in another process: the call that dropped it (a
    /// `close`, `dup2` over it, `execve`, the exit) was reported after the
    /// reader's wake-up. Replay that process's records up to that call now,
    /// in its own order, for each such holder.
    fn replay_closers_first(&mut self, reader: i32, pipe: usize) {
        let end = (self.at + 1 + LOOKAHEAD).min(self.records.len());
        loop {
            let holders = self.holders(pipe, true);
            let Some(&(holder, fd)) = holders.iter().find(|(h, _)| *h != reader) else {
                return;
            };
            let drops = |r: &Record| match r {
                Record::Exit {
                    pid,
                    call: Call::Close,
                    args,
                    ret: 0,
                    ..
                } => *pid == holder && args[0] as i32 == fd,
                Record::Exit {
                    pid,
                    call: Call::Dup2 | Call::Dup3,
                    args,
                    ret,
                    ..
                } => *pid == holder && args[1] as i32 == fd && *ret >= 0,
                Record::Gone { pid, .. } | Record::Exec { pid, .. } => *pid == holder,
                _ => false,
            };
            let Some(j) = (self.at + 1..end).find(|&j| !self.done.contains(&j) && drops(&self.records[j]))
            else {
                return;
            };
            let own: Vec<usize> = (self.at + 1..=j)
                .filter(|&k| !self.done.contains(&k) && actor(&self.records[k]) == holder)
                .collect();
            let at = self.at;
            for k in own {
                self.done.insert(k);
                self.at = k;
                self.record(&self.records[k].clone());
            }
            self.at = at;
            if self.holders(pipe, true).contains(&(holder, fd)) {
                return;
            }
        }
    }

    fn gone(&mut self, pid: i32, code: Option<i32>, signal: Option<i32>) {
        self.pending.remove(&pid);
        let Some(p) = self.state.procs.get(&pid).cloned() else {
            return;
        };
        if p.life != Life::Running {
            return;
        }
        let life = match (code, signal) {
            (_, Some(s)) => Life::Killed(s),
            (c, None) => Life::Exited(c.unwrap_or(0)),
        };
        let sharers = self
            .state
            .procs
            .iter()
            .any(|(&q, other)| q != pid && other.table == p.table && other.life == Life::Running);
        let mut closed = Vec::new();
        if !sharers {
            let table = std::mem::take(&mut self.state.tables[p.table]);
            closed = table
                .iter()
                .filter(|(_, e)| matches!(e.obj, Obj::Pipe { .. }))
                .map(|(fd, _)| *fd)
                .collect();
        }
        if let Some(p) = self.state.procs.get_mut(&pid) {
            p.life = life;
            p.blocked = None;
        }
        self.step(pid, Action::Gone { life, closed });
    }

    /// Another process acts while these calls are pending: those the model
    /// says cannot go on get a "blocks" step (once).
    fn announce_blocks(&mut self, acting: i32) {
        let waiting: Vec<i32> = self
            .pending
            .iter()
            .filter(|(pid, (_, _, shown))| **pid != acting && !shown)
            .map(|(pid, _)| *pid)
            .collect();
        for pid in waiting {
            self.announce(pid);
        }
    }

    fn announce(&mut self, pid: i32) {
        let Some((call, args, _)) = self.pending.get(&pid).cloned() else {
            return;
        };
        let Some(blocked) = self.would_block(pid, call, args) else {
            return;
        };
        if let Some(p) = self.state.procs.get_mut(&pid) {
            p.blocked = Some(blocked);
        }
        self.pending.insert(pid, (call, args, true));
        self.step(pid, Action::Blocks);
    }

    /// Whether the model says `call` cannot complete now.
    fn would_block(&self, pid: i32, call: Call, args: [i64; 4]) -> Option<Blocked> {
        let fd = args[0] as i32;
        match call {
            Call::Read | Call::Readv => {
                let Some(Obj::Pipe { pipe, write: false }) = self.lookup(pid, fd) else {
                    return None;
                };
                let writers = self.holders(pipe, true);
                (self.state.pipes[pipe].held() == 0 && !writers.is_empty()).then_some(Blocked::Read {
                    fd,
                    pipe,
                    writers,
                })
            }
            Call::Write | Call::Writev => {
                let Some(Obj::Pipe { pipe, write: true }) = self.lookup(pid, fd) else {
                    return None;
                };
                let readers = self.holders(pipe, false);
                let asked = if call == Call::Write { args[2] as u64 } else { 1 };
                let p = &self.state.pipes[pipe];
                (p.held() + asked.min(4096) > p.capacity && !readers.is_empty()).then_some(Blocked::Write {
                    fd,
                    pipe,
                    readers,
                })
            }
            Call::Wait4 | Call::Waitid => {
                let (target, options) = if call == Call::Wait4 {
                    (fd, args[2] as i32)
                } else {
                    (
                        if args[0] == libc::P_PID as i64 {
                            args[1] as i32
                        } else {
                            -1
                        },
                        args[3] as i32,
                    )
                };
                if options & libc::WNOHANG != 0 {
                    return None;
                }
                let mine: Vec<(i32, &Proc)> = self
                    .state
                    .procs
                    .iter()
                    .filter(|(c, p)| {
                        p.parent == Some(pid) && !p.thread && !p.reaped && (target <= 0 || **c == target)
                    })
                    .map(|(c, p)| (*c, p))
                    .collect();
                let ready = mine.iter().any(|(_, p)| p.life != Life::Running);
                let children: Vec<i32> = mine.iter().map(|(c, _)| *c).collect();
                (!ready && !children.is_empty()).then_some(Blocked::Wait { children })
            }
            _ => None,
        }
    }

    /// Every (pid, fd) of a running process holding this end of `pipe`;
    /// a shared table is named once, by its lowest pid.
    pub(crate) fn holders(&self, pipe: usize, write: bool) -> Vec<(i32, i32)> {
        holders(&self.state, pipe, write)
    }

    fn finish(mut self) -> Trace {
        // Calls still pending when the log ends never returned: the run
        // ended (or was killed) with them waiting.
        // A call shown blocked earlier is shown again if what keeps it
        // waiting changed since (the other writers are gone: only its own
        // end is left).
        let pids: Vec<i32> = self.pending.keys().copied().collect();
        for pid in pids {
            let (call, args, shown) = self.pending[&pid];
            let now = self.would_block(pid, call, args);
            let before = self.state.procs.get(&pid).and_then(|p| p.blocked.clone());
            if !shown || (now.is_some() && now != before) {
                self.announce(pid);
            }
        }
        self.trace.ending = self.state.procs.get(&self.trace.first).map(|p| p.life);
        self.trace
    }
}

/// The process or thread a record is about.
fn actor(r: &Record) -> i32 {
    match r {
        Record::Start { pid, .. }
        | Record::Exec { pid, .. }
        | Record::Enter { pid, .. }
        | Record::Exit { pid, .. }
        | Record::Signal { pid, .. }
        | Record::Gone { pid, .. } => *pid,
        Record::Spawn { parent, .. } => *parent,
        Record::Left { .. } | Record::Refused { .. } => 0,
    }
}

/// How many more times `next` repeats `last`: a read or write with the
/// same descriptor, size and result, that did not wait (a step that woke
/// up keeps its own line, so the wait before it stays in view).
fn again(last: &Action, next: &Action) -> Option<u64> {
    match (last, next) {
        (
            Action::Read {
                fd: a,
                result: ra,
                woke: false,
                ..
            },
            Action::Read {
                fd: b,
                result: rb,
                woke: false,
                times,
            },
        ) if a == b && ra == rb => Some(*times),
        (
            Action::Write {
                fd: a,
                asked: sa,
                result: ra,
                woke: false,
                ..
            },
            Action::Write {
                fd: b,
                asked: sb,
                result: rb,
                woke: false,
                times,
            },
        ) if a == b && sa == sb && ra == rb => Some(*times),
        _ => None,
    }
}

/// Every (pid, fd) of a running process holding this end of `pipe`; a
/// table shared by several processes is named once, by its lowest pid.
pub fn holders(state: &State, pipe: usize, write: bool) -> Vec<(i32, i32)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (&pid, p) in &state.procs {
        if p.life != Life::Running || !seen.insert(p.table) {
            continue;
        }
        for (&fd, e) in &state.tables[p.table] {
            if e.obj == (Obj::Pipe { pipe, write }) {
                out.push((pid, fd));
            }
        }
    }
    out
}

/// The write ends that keep a blocked reader waiting: every (pid, fd)
/// holding the write end of a pipe some process is blocked reading.
pub fn culprits(state: &State) -> Vec<(i32, i32)> {
    state
        .procs
        .values()
        .filter_map(|p| match &p.blocked {
            Some(Blocked::Read { writers, .. }) => Some(writers.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// How many descriptors refer to this end of `pipe` (each table once).
pub fn open_ends(state: &State, pipe: usize, write: bool) -> usize {
    holders(state, pipe, write).len()
}

/// The letter a reader calls pipe number `n` by: A, B, …, Z, AA, …
pub fn pipe_name(n: usize) -> String {
    let letter = |k: usize| char::from(b'A' + (k % 26) as u8);
    if n < 26 {
        letter(n).to_string()
    } else {
        format!("{}{}", letter(n / 26 - 1), letter(n))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::log::{Fd, Object};

    fn end(fd: i32, write: bool) -> Fd {
        Fd {
            fd,
            object: Object::Pipe { inode: 5, write },
            cloexec: true,
        }
    }

    /// A log that starts pid 1 and makes pipe A (fd 3 read, fd 4 write);
    /// the advice tests start from it too.
    pub(crate) fn start_and_pipe() -> Vec<Record> {
        vec![
            Record::Start {
                pid: 1,
                argv: vec!["p".into()],
                fds: vec![],
            },
            Record::Exit {
                pid: 1,
                call: Call::Pipe2,
                args: [0; 4],
                ret: 0,
                fds: vec![end(3, false), end(4, true)],
            },
        ]
    }

    #[test]
    fn a_shared_table_counts_its_ends_once_and_a_copy_counts_them_again() {
        let mut log = start_and_pipe();
        log.push(Record::Spawn {
            parent: 1,
            child: 2,
            call: Call::Clone,
            flags: (libc::CLONE_VM | libc::CLONE_FILES) as u64,
        });
        let t = replay(&log);
        let s = &t.steps.last().unwrap().state;
        assert_eq!(s.procs[&1].table, s.procs[&2].table);
        assert_eq!((open_ends(s, 0, false), open_ends(s, 0, true)), (1, 1));
        log.push(Record::Spawn {
            parent: 1,
            child: 3,
            call: Call::Fork,
            flags: 0,
        });
        let s = replay(&log).steps.last().unwrap().state.clone();
        assert_eq!((open_ends(&s, 0, false), open_ends(&s, 0, true)), (2, 2));
    }

    #[test]
    fn a_reader_woken_before_its_writer_is_reported_is_replayed_after_the_write() {
        let mut log = start_and_pipe();
        log.push(Record::Spawn {
            parent: 1,
            child: 2,
            call: Call::Fork,
            flags: 0,
        });
        log.push(Record::Enter {
            pid: 1,
            call: Call::Read,
            args: [3, 0, 100, 0],
        });
        log.push(Record::Enter {
            pid: 2,
            call: Call::Write,
            args: [4, 0, 5, 0],
        });
        log.push(Record::Exit {
            pid: 1,
            call: Call::Read,
            args: [3, 0, 100, 0],
            ret: 5,
            fds: vec![],
        });
        log.push(Record::Exit {
            pid: 2,
            call: Call::Write,
            args: [4, 0, 5, 0],
            ret: 5,
            fds: vec![],
        });
        let t = replay(&log);
        let kinds: Vec<&Action> = t.steps.iter().map(|s| &s.action).collect();
        let write = kinds
            .iter()
            .position(|a| matches!(a, Action::Write { .. }))
            .unwrap();
        let read = kinds
            .iter()
            .position(|a| matches!(a, Action::Read { .. }))
            .unwrap();
        assert!(write < read, "{kinds:?}");
        assert_eq!(t.steps[write].state.pipes[0].held(), 5);
        assert_eq!(t.steps[read].state.pipes[0].held(), 0);
        assert_eq!(
            kinds.iter().filter(|a| matches!(a, Action::Write { .. })).count(),
            1
        );
        // It blocked first: the pipe was empty and both write ends open.
        assert!(matches!(kinds[3], Action::Blocks), "{kinds:?}");
    }

    #[test]
    fn a_run_of_alike_writes_is_one_step_with_every_byte_and_the_full_pipe_blocks() {
        // 05: 65,536 one-byte writes into a pipe nobody reads, then one
        // more that never returns.
        let mut log = start_and_pipe();
        let write = [4, 0, 1, 0];
        for _ in 0..CAPACITY {
            log.push(Record::Enter {
                pid: 1,
                call: Call::Write,
                args: write,
            });
            log.push(Record::Exit {
                pid: 1,
                call: Call::Write,
                args: write,
                ret: 1,
                fds: vec![],
            });
        }
        log.push(Record::Enter {
            pid: 1,
            call: Call::Write,
            args: write,
        });
        let t = replay(&log);
        let kinds: Vec<&Action> = t.steps.iter().map(|s| &s.action).collect();
        assert_eq!(t.steps.len(), 4, "{kinds:?}");
        assert!(matches!(
            t.steps[2].action,
            Action::Write {
                fd: 4,
                asked: 1,
                result: Io::Bytes(1),
                times: CAPACITY,
                ..
            }
        ));
        assert_eq!(t.steps[2].state.pipes[0].held(), CAPACITY);
        assert_eq!(t.steps[3].action, Action::Blocks);
        assert!(matches!(
            t.steps[3].state.procs[&1].blocked,
            Some(Blocked::Write { fd: 4, pipe: 0, .. })
        ));
        // A write that waited first keeps its own step, and a smaller
        // pipe (F_SETPIPE_SZ) is full sooner.
        let mut log = start_and_pipe();
        log.push(Record::Exit {
            pid: 1,
            call: Call::Fcntl,
            args: [4, libc::F_SETPIPE_SZ as i64, 4096, 0],
            ret: 4096,
            fds: vec![],
        });
        for _ in 0..4096 {
            log.push(Record::Exit {
                pid: 1,
                call: Call::Write,
                args: write,
                ret: 1,
                fds: vec![],
            });
        }
        log.push(Record::Enter {
            pid: 1,
            call: Call::Write,
            args: write,
        });
        let t = replay(&log);
        assert_eq!(t.steps[3].state.pipes[0].held(), 4096);
        assert!(matches!(
            t.steps.last().unwrap().state.procs[&1].blocked,
            Some(Blocked::Write { .. })
        ));
    }

    #[test]
    fn an_end_of_file_reported_before_the_writer_s_close_is_replayed_after_it() {
        // The reader's read returns 0 first in the log; the writer's close
        // of the last write end (and a write before it) come after.
        let mut log = start_and_pipe();
        log.push(Record::Spawn {
            parent: 1,
            child: 2,
            call: Call::Fork,
            flags: 0,
        });
        for (pid, fd) in [(1, 4), (2, 3)] {
            log.push(Record::Exit {
                pid,
                call: Call::Close,
                args: [fd, 0, 0, 0],
                ret: 0,
                fds: vec![],
            });
        }
        log.push(Record::Exit {
            pid: 1,
            call: Call::Read,
            args: [3, 0, 100, 0],
            ret: 0,
            fds: vec![],
        });
        log.push(Record::Exit {
            pid: 2,
            call: Call::Close,
            args: [4, 0, 0, 0],
            ret: 0,
            fds: vec![],
        });
        let t = replay(&log);
        let eof = t
            .steps
            .iter()
            .position(|s| matches!(s.action, Action::Read { result: Io::Eof, .. }))
            .unwrap();
        assert_eq!(
            open_ends(&t.steps[eof].state, 0, true),
            0,
            "{:?}",
            t.steps[eof - 1].action
        );
        assert_eq!(t.steps[eof - 1].pid, 2);
        assert_eq!(t.steps.len(), 7, "every record is a step, once");
    }

    #[test]
    fn exec_takes_its_table_from_proc_and_an_exit_closes_an_unshared_table() {
        let mut log = start_and_pipe();
        log.push(Record::Exec {
            pid: 1,
            argv: vec!["cat".into()],
            fds: vec![Fd {
                fd: 0,
                object: Object::Pipe {
                    inode: 5,
                    write: false,
                },
                cloexec: false,
            }],
        });
        log.push(Record::Gone {
            pid: 1,
            code: Some(0),
            signal: None,
        });
        let t = replay(&log);
        let exec = &t.steps[2];
        assert_eq!(
            exec.action,
            Action::Exec {
                argv: vec!["cat".into()],
                closed: vec![3, 4]
            }
        );
        assert_eq!(open_ends(&exec.state, 0, true), 0);
        let gone = &t.steps[3];
        assert_eq!(
            gone.action,
            Action::Gone {
                life: Life::Exited(0),
                closed: vec![0]
            }
        );
        assert_eq!(t.ending, Some(Life::Exited(0)));
    }
}
