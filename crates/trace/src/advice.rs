//! Advice from a trace: the mistakes the lecture warns about, found in the
//! steps (as types; [`Advice::text`] words them).

use crate::model::{Action, Blocked, Io, Life, Obj, Trace, pipe_name};
use std::collections::BTreeSet;

/// One thing worth a look.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Advice {
    /// A reader blocked while it held a write end of the same pipe itself:
    /// it waits for an end of file only it can cause.
    WriteEndInReader {
        /// The blocked reader.
        pid: i32,
        /// Its own write end.
        fd: i32,
        /// The pipe.
        pipe: usize,
    },
    /// A process held a pipe end it never read or wrote, and had not closed
    /// it when it blocked (or exited).
    UnusedEnd {
        /// The process.
        pid: i32,
        /// The descriptor.
        fd: i32,
        /// The pipe.
        pipe: usize,
        /// The write end (else the read end).
        write: bool,
        /// When: it blocked (else it exited).
        blocked: bool,
    },
    /// A child ended and its parent never collected it with `waitpid`.
    NotWaitedFor {
        /// The parent.
        parent: i32,
        /// The child.
        child: i32,
    },
    /// A write found no read end left (`EPIPE` / `SIGPIPE`).
    NoReader {
        /// The writer.
        pid: i32,
        /// The descriptor written.
        fd: i32,
    },
    /// A read on a write end or a write on a read end (`EBADF`).
    WrongEnd {
        /// The process.
        pid: i32,
        /// The descriptor.
        fd: i32,
        /// The pipe.
        pipe: usize,
        /// It wrote (on a read end); else it read (on a write end).
        wrote: bool,
    },
}

/// Everything worth a look in `trace`, each once, in a stable order.
pub fn advise(trace: &Trace) -> Vec<Advice> {
    let mut out = BTreeSet::new();
    for (k, step) in trace.steps.iter().enumerate() {
        let state = &step.state;
        let before = if k == 0 { state } else { &trace.steps[k - 1].state };
        match &step.action {
            Action::Blocks => {
                let Some(p) = state.procs.get(&step.pid) else {
                    continue;
                };
                let table = &state.tables[p.table];
                // A block that ends is how pipes work; one that never
                // ends is the run's hang, and every end it holds matters.
                let never_woke = !trace.steps[k + 1..].iter().any(|s| {
                    s.pid == step.pid && !matches!(s.action, Action::Blocks | Action::Signal { .. })
                });
                let waits_on = match &p.blocked {
                    Some(Blocked::Read { fd, pipe, writers }) => {
                        let own = |holder: &i32| state.procs.get(holder).is_some_and(|h| h.table == p.table);
                        // Harmful when only the reader itself can still
                        // write, or when the read never returned.
                        let only_own = writers.iter().all(|(h, _)| own(h));
                        for (holder, wfd) in writers {
                            if own(holder) && (only_own || never_woke) {
                                out.insert(Advice::WriteEndInReader {
                                    pid: step.pid,
                                    fd: *wfd,
                                    pipe: *pipe,
                                });
                            }
                        }
                        Some(*fd)
                    }
                    Some(Blocked::Write { fd, .. }) => Some(*fd),
                    _ => None,
                };
                // A writer's own read end of the pipe it fills is not why it
                // hangs (without one its write would fail with EPIPE, not
                // finish): 05 holds it on purpose to find the capacity.
                let fills = match &p.blocked {
                    Some(Blocked::Write { pipe, .. }) => Some(*pipe),
                    _ => None,
                };
                for (&fd, e) in table {
                    if let Obj::Pipe { pipe, write } = e.obj {
                        let flagged = out.iter().any(|a| {
                            matches!(a, Advice::WriteEndInReader { pid, fd: f, .. } if *pid == step.pid && *f == fd)
                        });
                        let own_reader = !write && fills == Some(pipe);
                        if never_woke
                            && Some(fd) != waits_on
                            && !p.used.contains(&fd)
                            && !flagged
                            && !own_reader
                        {
                            out.insert(Advice::UnusedEnd {
                                pid: step.pid,
                                fd,
                                pipe,
                                write,
                                blocked: true,
                            });
                        }
                    }
                }
            }
            Action::Gone { .. } => {
                let Some(p) = before.procs.get(&step.pid) else {
                    continue;
                };
                if p.thread {
                    continue;
                }
                for (&fd, e) in &before.tables[p.table] {
                    if let Obj::Pipe { pipe, write } = e.obj {
                        let others_use = before
                            .procs
                            .iter()
                            .any(|(&q, o)| q != step.pid && o.table == p.table && o.used.contains(&fd));
                        // An exiting process with no pipe work at all (it
                        // only execs or waits) still should not keep ends.
                        if !p.used.contains(&fd) && !others_use && fd > 2 {
                            out.insert(Advice::UnusedEnd {
                                pid: step.pid,
                                fd,
                                pipe,
                                write,
                                blocked: false,
                            });
                        }
                    }
                }
            }
            Action::Write {
                fd,
                result: Io::Failed(e),
                ..
            }
            | Action::Read {
                fd,
                result: Io::Failed(e),
                ..
            } => {
                let wrote = matches!(step.action, Action::Write { .. });
                if *e == libc::EPIPE {
                    out.insert(Advice::NoReader {
                        pid: step.pid,
                        fd: *fd,
                    });
                } else if *e == libc::EBADF {
                    let table = state.procs.get(&step.pid).map(|p| &state.tables[p.table]);
                    if let Some(Obj::Pipe { pipe, .. }) = table.and_then(|t| t.get(fd)).map(|e| &e.obj) {
                        out.insert(Advice::WrongEnd {
                            pid: step.pid,
                            fd: *fd,
                            pipe: *pipe,
                            wrote,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(last) = trace.steps.last() {
        for (&child, c) in &last.state.procs {
            let Some(parent) = c.parent else { continue };
            // Only a parent that ended without waiting: one still running
            // (blocked when the run was stopped) may have waited later.
            let parent_ended = last
                .state
                .procs
                .get(&parent)
                .is_some_and(|p| p.life != Life::Running);
            if !c.thread && !c.reaped && c.life != Life::Running && parent_ended {
                out.insert(Advice::NotWaitedFor { parent, child });
            }
        }
    }
    out.into_iter().collect()
}

/// The advice that names why a run went wrong, for a failed check's
/// explanation, decided on how the run ended:
/// - it hung (a process still blocked at the end): the ends that kept it
///   waiting (the reader's own write end, an end never used nor closed);
/// - a parent exited 0 without waiting for a child: that child;
/// - a process ended on a failed write with no reader (`EPIPE`, or killed
///   by `SIGPIPE`) or on a read or write on the wrong end (`EBADF`), as its
///   last call: that call (13 makes these mistakes on purpose, and goes on).
///
/// Nothing when a process panicked (exit status 101, Rust's): the panic is
/// the cause, and the check shows it; what followed it (a parent that never
/// got to `waitpid`, a child writing to a reader that died) is not. An
/// unused end a process held until it exited is left out too: its exit
/// closed it.
pub fn causes(trace: &Trace) -> Vec<Advice> {
    /// Rust's exit status after a panic.
    const PANICKED: i32 = 101;
    let Some(last) = trace.steps.last() else {
        return Vec::new();
    };
    let procs = &last.state.procs;
    if procs.values().any(|p| p.life == Life::Exited(PANICKED)) {
        return Vec::new();
    }
    let hung = procs
        .values()
        .any(|p| p.life == Life::Running && p.blocked.is_some());
    // `pid` failed and ended, and its last call was this read or write.
    let died_on = |pid: i32, fd: i32| {
        let failed = procs.get(&pid).is_some_and(|p| {
            matches!(p.life, Life::Killed(_)) || matches!(p.life, Life::Exited(c) if c != 0)
        });
        let last_call = trace.steps.iter().rev().filter(|s| s.pid == pid).find(|s| {
            !matches!(
                s.action,
                Action::Gone { .. } | Action::Signal { .. } | Action::Blocks
            )
        });
        failed
            && last_call.is_some_and(|s| {
                matches!(s.action,
                    Action::Read { fd: f, result: Io::Failed(_), .. } | Action::Write { fd: f, result: Io::Failed(_), .. }
                    if f == fd)
            })
    };
    advise(trace)
        .into_iter()
        .filter(|a| match *a {
            Advice::WriteEndInReader { .. } | Advice::UnusedEnd { blocked: true, .. } => hung,
            Advice::UnusedEnd { blocked: false, .. } => false,
            Advice::NotWaitedFor { parent, .. } => {
                procs.get(&parent).is_some_and(|p| p.life == Life::Exited(0))
            }
            Advice::NoReader { pid, fd } | Advice::WrongEnd { pid, fd, .. } => died_on(pid, fd),
        })
        .collect()
}

impl Advice {
    /// The advice in words.
    pub fn text(&self) -> String {
        match *self {
            Advice::WriteEndInReader { pid, fd, pipe } => format!(
                "pid {pid} blocked reading pipe {p} while its own fd {fd} is a write end of pipe {p}: \
                 a reader sees end of file only when every write end is closed, its own included — close it before reading",
                p = pipe_name(pipe)
            ),
            Advice::UnusedEnd {
                pid,
                fd,
                pipe,
                write,
                blocked,
            } => format!(
                "pid {pid} never used fd {fd} ({} end of pipe {}) and had not closed it when it {}: \
                 close the ends a process does not use, right after fork",
                if write { "write" } else { "read" },
                pipe_name(pipe),
                if blocked { "blocked" } else { "exited" }
            ),
            Advice::NotWaitedFor { parent, child } => format!(
                "pid {parent} never waited for its child {child}: call waitpid for every child, or it stays a zombie"
            ),
            Advice::NoReader { pid, fd } => format!(
                "pid {pid} wrote to fd {fd} when no read end was left (EPIPE): close write ends only after the reader is done, or expect the error"
            ),
            Advice::WrongEnd { pid, fd, pipe, wrote } => format!(
                "pid {pid} {} fd {fd}, the {} end of pipe {}: pipe() gives the read end first (fds[0]) and the write end second (fds[1])",
                if wrote { "wrote to" } else { "read from" },
                if wrote { "read" } else { "write" },
                pipe_name(pipe)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{Call, Record};

    fn family(parent_exits: bool) -> Vec<Record> {
        let mut log = vec![
            Record::Start {
                pid: 1,
                argv: vec!["p".into()],
                fds: vec![],
            },
            Record::Spawn {
                parent: 1,
                child: 2,
                call: Call::Fork,
                flags: 0,
            },
            Record::Gone {
                pid: 2,
                code: Some(0),
                signal: None,
            },
        ];
        if parent_exits {
            log.push(Record::Gone {
                pid: 1,
                code: Some(0),
                signal: None,
            });
        }
        log
    }

    #[test]
    fn a_hang_names_the_reader_s_own_write_end_and_a_finished_run_does_not() {
        let mut log = crate::model::tests::start_and_pipe();
        log.push(Record::Enter {
            pid: 1,
            call: Call::Read,
            args: [3, 0, 10, 0],
        });
        let own = Advice::WriteEndInReader {
            pid: 1,
            fd: 4,
            pipe: 0,
        };
        assert_eq!(causes(&crate::model::replay(&log)), vec![own.clone()]);
        // The same process closes fd 4 and exits: nothing hung, nothing to say.
        log.push(Record::Exit {
            pid: 1,
            call: Call::Read,
            args: [3, 0, 10, 0],
            ret: 0,
            fds: vec![],
        });
        log.push(Record::Gone {
            pid: 1,
            code: Some(0),
            signal: None,
        });
        let t = crate::model::replay(&log);
        assert!(causes(&t).is_empty(), "{:?}", advise(&t));
    }

    #[test]
    fn a_parent_that_ends_without_waiting_is_told_one_still_running_is_not() {
        let advice = advise(&crate::model::replay(&family(true)));
        assert_eq!(advice, vec![Advice::NotWaitedFor { parent: 1, child: 2 }]);
        assert_eq!(causes(&crate::model::replay(&family(true))), advice);
        // A parent that panicked never got to waitpid: the panic is the cause.
        let mut panicked = family(false);
        panicked.push(Record::Gone {
            pid: 1,
            code: Some(101),
            signal: None,
        });
        let t = crate::model::replay(&panicked);
        assert_eq!(advise(&t), advice);
        assert!(causes(&t).is_empty());
        assert!(advise(&crate::model::replay(&family(false))).is_empty());
    }
}
