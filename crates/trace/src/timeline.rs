//! The terminal's view of a trace: a numbered line per step in the
//! lecture's words, and every table at one step (`--at`).
//!
//! Readable for many processes: a run of plain reads and writes on one
//! pipe becomes one line, consecutive alike steps of sibling processes
//! become one line, and processes whose tables and states are alike are
//! printed once.

use crate::model::{Action, Blocked, Io, Life, Obj, State, Step, Trace, holders, open_ends, pipe_name};
use std::fmt::Write as _;

/// A signal's name (`SIGPIPE`), or its number.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EBADF => "EBADF",
        libc::EPIPE => "EPIPE",
        libc::ECHILD => "ECHILD",
        libc::EINTR => "EINTR",
        libc::EAGAIN => "EAGAIN",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::EFAULT => "EFAULT",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "pipe A now has 2 read ends and 1 write end".
fn ends(state: &State, pipe: usize) -> String {
    let r = open_ends(state, pipe, false);
    let w = open_ends(state, pipe, true);
    let mut s = format!(
        "pipe {} now has {} and {}",
        pipe_name(pipe),
        plural(r, "read end", "read ends"),
        plural(w, "write end", "write ends")
    );
    if w == 0 && r > 0 && state.pipes[pipe].held() == 0 {
        s.push_str(" (a read now sees end of file)");
    } else if r == 0 && w > 0 {
        s.push_str(" (a write now fails with EPIPE)");
    }
    s
}

/// "fds 0–4" or "fds 0, 1, 5".
fn fd_list(fds: &[i32]) -> String {
    match fds {
        [] => "no fds".into(),
        [one] => format!("fd {one}"),
        _ if fds.windows(2).all(|w| w[1] == w[0] + 1) => format!("fds {}–{}", fds[0], fds[fds.len() - 1]),
        _ => format!(
            "fds {}",
            fds.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// ", 4096 times in a row," for a step that stands for alike calls.
fn again(times: u64) -> String {
    if times > 1 {
        format!(", {times} times in a row,")
    } else {
        String::new()
    }
}

fn holder_list(list: &[(i32, i32)], me: i32) -> String {
    let each: Vec<String> = list
        .iter()
        .map(|(pid, fd)| {
            if *pid == me {
                format!("pid {pid} fd {fd} (itself)")
            } else {
                format!("pid {pid} fd {fd}")
            }
        })
        .collect();
    each.join(", ")
}

fn pipe_of(state: &State, pid: i32, fd: i32) -> Option<(usize, bool)> {
    let p = state.procs.get(&pid)?;
    match state.tables[p.table].get(&fd)?.obj {
        Obj::Pipe { pipe, write } => Some((pipe, write)),
        Obj::Other(_) => None,
    }
}

/// The pipes whose ends differ between two states.
fn changed_pipes(before: &State, after: &State) -> Vec<usize> {
    (0..after.pipes.len())
        .filter(|&p| {
            p >= before.pipes.len()
                || open_ends(before, p, true) != open_ends(after, p, true)
                || open_ends(before, p, false) != open_ends(after, p, false)
        })
        .collect()
}

/// What step `k` of `trace` did, in the lecture's words (without its number).
pub fn describe(trace: &Trace, k: usize) -> String {
    let step = &trace.steps[k];
    let empty = State::default();
    let before = if k == 0 { &empty } else { &trace.steps[k - 1].state };
    describe_step(step, before)
}

fn describe_step(step: &Step, before: &State) -> String {
    let pid = step.pid;
    let s = &step.state;
    let who = format!("pid {pid}");
    let pipes_changed = |prefix: String| {
        let changed = changed_pipes(before, s);
        if changed.is_empty() {
            prefix
        } else {
            let parts: Vec<String> = changed.iter().map(|&p| ends(s, p)).collect();
            format!("{prefix}: {}", parts.join("; "))
        }
    };
    match &step.action {
        Action::Start { argv } => {
            let p = &s.procs[&pid];
            let fds: Vec<i32> = s.tables[p.table].keys().copied().collect();
            format!("{who} starts `{}` with {}", argv.join(" "), fd_list(&fds))
        }
        Action::Pipe {
            pipe,
            read_fd,
            write_fd,
        } => format!(
            "{who} pipe() → fd {read_fd} (read end of pipe {n}), fd {write_fd} (write end of pipe {n})",
            n = pipe_name(*pipe)
        ),
        Action::Spawn {
            child,
            call,
            shared,
            thread,
            fds,
        } => {
            let what = if *thread {
                format!(
                    "{who} starts thread {child}, which shares its table ({})",
                    fd_list(fds)
                )
            } else if *shared {
                format!(
                    "{who} {}(CLONE_FILES) → pid {child}, which shares its table ({}): no end is added",
                    call.name(),
                    fd_list(fds)
                )
            } else {
                // glibc's fork() is clone(SIGCHLD) without CLONE_VM: say fork.
                let name = match call {
                    crate::log::Call::Clone | crate::log::Call::Clone3 => "fork",
                    other => other.name(),
                };
                format!("{who} {name}() → pid {child}, a copy of {}", fd_list(fds))
            };
            pipes_changed(what)
        }
        Action::Close { fd, was, failed } => match (failed, was) {
            (Some(e), _) => format!("{who} close({fd}) fails with {}", errno_name(*e)),
            _ => pipes_changed(format!("{who} close({fd})")),
        },
        Action::Dup {
            call,
            old,
            new,
            replaced,
        } => {
            let what = match pipe_of(s, pid, *new) {
                Some((p, w)) => format!(
                    "fd {new} is now the {} end of pipe {}",
                    if w { "write" } else { "read" },
                    pipe_name(p)
                ),
                None => format!("fd {new} is now a copy of fd {old}"),
            };
            let was = match replaced {
                Some(Obj::Other(name)) => format!(" (it was {name})"),
                Some(Obj::Pipe { pipe, write }) => format!(
                    " (it was the {} end of pipe {})",
                    if *write { "write" } else { "read" },
                    pipe_name(*pipe)
                ),
                None => String::new(),
            };
            let args = match call {
                crate::log::Call::Dup => format!("{old}"),
                crate::log::Call::Fcntl => format!("{old}, F_DUPFD"),
                _ => format!("{old}, {new}"),
            };
            pipes_changed(format!("{who} {}({args}): {what}{was}", call.name()))
        }
        Action::Exec { argv, closed } => {
            let mut text = format!("{who} execve(`{}`)", argv.join(" "));
            if !closed.is_empty() {
                let _ = write!(text, ", which closes the close-on-exec {}", fd_list(closed));
            }
            pipes_changed(text)
        }
        Action::Read {
            fd,
            result,
            woke,
            times,
        } => {
            let call = if *woke {
                format!("read({fd}) wakes up and")
            } else {
                format!("read({fd})")
            };
            let call = format!("{call}{}", again(*times));
            let pipe = pipe_of(before, pid, *fd).or_else(|| pipe_of(s, pid, *fd));
            let held = |p: usize| {
                format!(
                    "pipe {} holds {}",
                    pipe_name(p),
                    plural(s.pipes[p].held() as usize, "byte", "bytes")
                )
            };
            match (result, pipe) {
                (Io::Bytes(n), Some((p, _))) => format!(
                    "{who} {call} returns {}: {}",
                    plural(*n as usize, "byte", "bytes"),
                    held(p)
                ),
                (Io::Eof, Some((p, _))) => format!(
                    "{who} {call} returns 0, end of file: pipe {} is empty and has no write end left",
                    pipe_name(p)
                ),
                (Io::Failed(e), Some((p, true))) if *e == libc::EBADF => format!(
                    "{who} read({fd}) fails with EBADF: fd {fd} is the write end of pipe {}",
                    pipe_name(p)
                ),
                (Io::Failed(e), _) => format!("{who} read({fd}) fails with {}", errno_name(*e)),
                _ => format!("{who} read({fd})"),
            }
        }
        Action::Write {
            fd,
            asked,
            result,
            woke,
            times,
        } => {
            let call = if *woke {
                format!("write({fd}) wakes up and")
            } else {
                format!("write({fd}, {})", plural(*asked as usize, "byte", "bytes"))
            };
            let call = format!("{call}{}", again(*times));
            let pipe = pipe_of(before, pid, *fd).or_else(|| pipe_of(s, pid, *fd));
            match (result, pipe) {
                (Io::Bytes(n), Some((p, _))) => format!(
                    "{who} {call} returns {n}: pipe {} holds {}",
                    pipe_name(p),
                    plural(s.pipes[p].held() as usize, "byte", "bytes")
                ),
                (Io::Failed(e), Some((p, _))) if *e == libc::EPIPE => format!(
                    "{who} write({fd}) fails with EPIPE: pipe {} has no read end left",
                    pipe_name(p)
                ),
                (Io::Failed(e), Some((p, false))) if *e == libc::EBADF => format!(
                    "{who} write({fd}) fails with EBADF: fd {fd} is the read end of pipe {}",
                    pipe_name(p)
                ),
                (Io::Failed(e), _) => format!("{who} write({fd}) fails with {}", errno_name(*e)),
                _ => format!("{who} write({fd})"),
            }
        }
        Action::Capacity { fd, pipe, bytes } => format!(
            "{who} fcntl({fd}, F_SETPIPE_SZ): pipe {} now holds at most {}",
            pipe_name(*pipe),
            plural(*bytes as usize, "byte", "bytes")
        ),
        Action::Blocks => match s.procs.get(&pid).and_then(|p| p.blocked.as_ref()) {
            Some(Blocked::Read { fd, pipe, writers }) => format!(
                "{who} read({fd}) blocks: pipe {} is empty and its write end is still open in {}",
                pipe_name(*pipe),
                holder_list(writers, pid)
            ),
            Some(Blocked::Write { fd, pipe, readers }) => format!(
                "{who} write({fd}) blocks: pipe {} is full and its read end is open in {}",
                pipe_name(*pipe),
                holder_list(readers, pid)
            ),
            Some(Blocked::Wait { children }) => format!(
                "{who} waitpid blocks: {} still running",
                match children.as_slice() {
                    [one] => format!("child {one} is"),
                    many => format!(
                        "children {} are",
                        many.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
                    ),
                }
            ),
            None => format!("{who} waits"),
        },
        Action::Wait { result, woke } => {
            let call = if *woke { "waitpid wakes up and" } else { "waitpid" };
            match result {
                Ok(c) => {
                    let how = match s.procs.get(c).map(|p| p.life) {
                        Some(Life::Exited(code)) => format!(" (it exited with status {code})"),
                        Some(Life::Killed(sig)) => format!(" (it was killed by {})", signal_name(sig)),
                        _ => String::new(),
                    };
                    format!("{who} {call} collects pid {c}{how}")
                }
                Err(e) if *e == libc::ECHILD => {
                    format!("{who} waitpid fails with ECHILD: no child left to wait for")
                }
                Err(e) => format!("{who} waitpid fails with {}", errno_name(*e)),
            }
        }
        Action::Signal { signal } => format!("{who} receives {}", signal_name(*signal)),
        Action::Gone { life, closed } => {
            let how = match life {
                Life::Exited(code) => format!("{who} exits with status {code}"),
                Life::Killed(sig) => format!("{who} is killed by {}", signal_name(*sig)),
                Life::Running => who.clone(),
            };
            if closed.is_empty() {
                how
            } else {
                pipes_changed(format!("{how}, closing {}", fd_list(closed)))
            }
        }
        Action::Left { pids } => format!(
            "{who} has ended while {} still running; the tracer ended them",
            match pids.as_slice() {
                [one] => format!("pid {one} was"),
                many => format!(
                    "pids {} were",
                    many.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
                ),
            }
        ),
    }
}

/// One line of the timeline: the steps it covers (1-based, inclusive) and
/// its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// First step.
    pub first: usize,
    /// Last step.
    pub last: usize,
    /// The words.
    pub text: String,
}

/// The shortest run of plain reads and writes made into one line.
const RUN: usize = 4;

/// The timeline: one line per step, runs of plain pipe I/O and alike steps
/// of siblings folded.
pub fn lines(trace: &Trace) -> Vec<Line> {
    fold_repeats(step_lines(trace))
}

/// The shortest block of lines that [`fold_repeats`] looks for.
const PERIOD: usize = 6;

/// A block of lines that comes again and again, alike but for its numbers
/// (15's fork, wait, exit, collect; a worker's read, work, write): the
/// first time in full, the rest on one line.
fn fold_repeats(lines: Vec<Line>) -> Vec<Line> {
    let shape = |l: &Line| -> String {
        let mut out = String::new();
        for c in l.text.chars() {
            if !c.is_ascii_digit() {
                out.push(c);
            } else if !out.ends_with('#') {
                out.push('#');
            }
        }
        out
    };
    let shapes: Vec<String> = lines.iter().map(shape).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let best = (1..=PERIOD)
            .filter(|p| i + 3 * p <= lines.len())
            .map(|p| {
                let mut times = 1;
                while i + (times + 1) * p <= lines.len()
                    && (0..p).all(|j| shapes[i + times * p + j] == shapes[i + j])
                {
                    times += 1;
                }
                (p, times)
            })
            .filter(|&(_, times)| times >= 3)
            .max_by_key(|&(p, times)| p * times);
        let Some((p, times)) = best else {
            out.push(lines[i].clone());
            i += 1;
            continue;
        };
        out.extend_from_slice(&lines[i..i + p]);
        let rest = &lines[i + p..i + times * p];
        let what = if p == 1 {
            "the line above happens".to_string()
        } else {
            format!("the {p} lines above happen")
        };
        out.push(Line {
            first: rest[0].first,
            last: rest[rest.len() - 1].last,
            text: format!(
                "{what} {} more, alike but for their numbers; the last time: {}",
                plural(times - 1, "time", "times"),
                rest[rest.len() - 1].text
            ),
        });
        i += times * p;
    }
    out
}

/// One line per step, but runs of I/O and alike siblings folded.
fn step_lines(trace: &Trace) -> Vec<Line> {
    let mut out = Vec::new();
    let n = trace.steps.len();
    let mut k = 0;
    while k < n {
        // A run of reads and writes on one pipe, with the waits between
        // them (a full or empty pipe): the steady state of a busy pipe.
        let io_pipe = |j: usize| -> Option<usize> {
            let s = &trace.steps[j];
            let before = if j == 0 {
                &s.state
            } else {
                &trace.steps[j - 1].state
            };
            match s.action {
                Action::Read {
                    fd,
                    result: Io::Bytes(_),
                    ..
                }
                | Action::Write {
                    fd,
                    result: Io::Bytes(_),
                    ..
                } => pipe_of(before, s.pid, fd).map(|p| p.0),
                Action::Blocks => match s.state.procs.get(&s.pid)?.blocked {
                    Some(Blocked::Read { pipe, .. } | Blocked::Write { pipe, .. }) => Some(pipe),
                    _ => None,
                },
                _ => None,
            }
        };
        if let Some(p) = io_pipe(k) {
            let mut end = k;
            while end + 1 < n && io_pipe(end + 1) == Some(p) {
                end += 1;
            }
            // A run that ends in a block the run never leaves keeps that
            // last step on its own line: it is the hang.
            let unfinished = |j: usize| {
                matches!(trace.steps[j].action, Action::Blocks)
                    && !trace.steps[j + 1..].iter().any(|s| s.pid == trace.steps[j].pid)
            };
            while end > k && unfinished(end) {
                end -= 1;
            }
            if end + 1 - k >= RUN {
                out.push(Line {
                    first: k + 1,
                    last: end + 1,
                    text: io_run(trace, k, end, p),
                });
                k = end + 1;
                continue;
            }
        }
        // Alike steps of siblings: the same words but for the pid.
        let text = describe(trace, k);
        let key = |j: usize| -> Option<(Option<i32>, String)> {
            let s = &trace.steps[j];
            let parent = s.state.procs.get(&s.pid).and_then(|p| p.parent);
            let words = describe(trace, j);
            let cut = words.split_once(": ").map_or(words.as_str(), |(a, _)| a);
            Some((parent, cut.replacen(&format!("pid {}", s.pid), "pid _", 1)))
        };
        let mut end = k;
        let this = key(k);
        let mut pids = vec![trace.steps[k].pid];
        while end + 1 < n
            && key(end + 1) == this
            && !pids.contains(&trace.steps[end + 1].pid)
            && this.as_ref().is_some_and(|(parent, _)| parent.is_some())
        {
            end += 1;
            pids.push(trace.steps[end].pid);
        }
        if end > k {
            let last_text = describe(trace, end);
            let tail = last_text
                .split_once(": ")
                .map(|(_, t)| format!(": {t}"))
                .unwrap_or_default();
            let head = this.map(|(_, h)| h).unwrap_or_default();
            let head = head.strip_prefix("pid _ ").unwrap_or(&head);
            let list = pids.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
            out.push(Line {
                first: k + 1,
                last: end + 1,
                text: format!("pids {list}, each: {head}{tail}"),
            });
        } else {
            out.push(Line {
                first: k + 1,
                last: k + 1,
                text,
            });
        }
        k = end + 1;
    }
    out
}

fn io_run(trace: &Trace, first: usize, last: usize, pipe: usize) -> String {
    let mut writes = 0;
    let mut reads = 0;
    let mut wrote = 0u64;
    let mut read = 0u64;
    let mut writers = std::collections::BTreeSet::new();
    let mut readers = std::collections::BTreeSet::new();
    let mut full = 0;
    let mut empty = 0;
    for s in &trace.steps[first..=last] {
        match s.action {
            Action::Blocks => match s.state.procs.get(&s.pid).and_then(|p| p.blocked.as_ref()) {
                Some(Blocked::Write { .. }) => full += 1,
                Some(Blocked::Read { .. }) => empty += 1,
                _ => {}
            },
            Action::Write {
                result: Io::Bytes(n),
                times,
                ..
            } => {
                writes += times;
                wrote += n * times;
                writers.insert(s.pid);
            }
            Action::Read {
                result: Io::Bytes(n),
                times,
                ..
            } => {
                reads += times;
                read += n * times;
                readers.insert(s.pid);
            }
            _ => {}
        }
    }
    let by = |set: &std::collections::BTreeSet<i32>| {
        let v: Vec<String> = set.iter().map(i32::to_string).collect();
        if v.len() == 1 {
            format!("pid {}", v[0])
        } else {
            format!("pids {}", v.join(", "))
        }
    };
    let mut parts = Vec::new();
    if writes > 0 {
        parts.push(format!(
            "{} ({wrote} bytes) by {}",
            plural(writes as usize, "write", "writes"),
            by(&writers)
        ));
    }
    if reads > 0 {
        parts.push(format!(
            "{} ({read} bytes) by {}",
            plural(reads as usize, "read", "reads"),
            by(&readers)
        ));
    }
    let mut waits = Vec::new();
    if full > 0 {
        waits.push(format!(
            "writers waited {} for room",
            plural(full, "time", "times")
        ));
    }
    if empty > 0 {
        waits.push(format!(
            "readers waited {} for bytes",
            plural(empty, "time", "times")
        ));
    }
    let waits = if waits.is_empty() {
        String::new()
    } else {
        format!(" ({})", waits.join(", "))
    };
    let held = trace.steps[last].state.pipes[pipe].held();
    format!(
        "{} on pipe {}{waits}: it holds {}",
        parts.join(" and "),
        pipe_name(pipe),
        plural(held as usize, "byte", "bytes")
    )
}

/// The whole timeline as text, with a heading and the advice.
pub fn render(trace: &Trace, advice: &[crate::advice::Advice]) -> String {
    let mut out = String::new();
    let width = trace.steps.len().to_string().len();
    for line in lines(trace) {
        let num = if line.first == line.last {
            format!("{:>width$}.", line.first)
        } else {
            format!("{}–{}.", line.first, line.last)
        };
        let _ = writeln!(out, "{num} {}", line.text);
    }
    if !advice.is_empty() {
        let _ = writeln!(out, "\nadvice:");
        for a in advice {
            let _ = writeln!(out, "  - {}", a.text());
        }
    }
    out
}

/// Every table at step `k` (0-based), processes that are alike printed once.
pub fn tables(trace: &Trace, k: usize) -> String {
    let step = &trace.steps[k];
    let s = &step.state;
    let mut out = format!("after step {}: {}\n\n", k + 1, describe(trace, k));
    let culprits = crate::model::culprits(s);
    // Group processes whose description (but for the pid) is the same.
    let mut groups: Vec<(Vec<i32>, String)> = Vec::new();
    for (&pid, p) in &s.procs {
        let mut text = String::new();
        let role = p.role();
        let life = match (p.life, &p.blocked) {
            (Life::Running, Some(Blocked::Read { fd, .. })) => format!("blocked in read({fd})"),
            (Life::Running, Some(Blocked::Write { fd, .. })) => format!("blocked in write({fd})"),
            (Life::Running, Some(Blocked::Wait { .. })) => "blocked in waitpid".to_string(),
            (Life::Running, None) => "running".to_string(),
            (Life::Exited(c), _) => format!("exited {c}{}", if p.reaped { "" } else { ", not waited for" }),
            (Life::Killed(sig), _) => format!(
                "killed by {}{}",
                signal_name(sig),
                if p.reaped { "" } else { ", not waited for" }
            ),
        };
        let _ = writeln!(text, "{}{role}: {life}", p.program);
        let table = &s.tables[p.table];
        if table.is_empty() {
            let _ = writeln!(text, "    (no descriptors)");
        }
        for (fd, e) in table {
            let what = match &e.obj {
                Obj::Pipe { pipe, write } => format!(
                    "pipe {}, {} end",
                    pipe_name(*pipe),
                    if *write { "write" } else { "read" }
                ),
                Obj::Other(name) => name.clone(),
            };
            let mark = if culprits.contains(&(pid, *fd)) {
                "   ← keeps a reader waiting"
            } else {
                ""
            };
            let _ = writeln!(text, "    fd {fd:<3} {what}{mark}");
        }
        match groups
            .iter_mut()
            .find(|(pids, t)| *t == text && !culprits.iter().any(|c| c.0 == pid || pids.contains(&c.0)))
        {
            Some((pids, _)) if p.parent.is_some() => pids.push(pid),
            _ => groups.push((vec![pid], text)),
        }
    }
    for (pids, text) in &groups {
        let head = if pids.len() == 1 {
            format!("pid {}", pids[0])
        } else {
            format!(
                "pids {} ({} alike)",
                pids.iter().map(i32::to_string).collect::<Vec<_>>().join(", "),
                pids.len()
            )
        };
        let _ = write!(out, "{head} {text}");
    }
    for p in 0..s.pipes.len() {
        let w = holders(s, p, true);
        let r = holders(s, p, false);
        let list = |v: &[(i32, i32)], one: &str, many: &str| {
            let each: Vec<String> = v.iter().map(|(pid, fd)| format!("pid {pid} fd {fd}")).collect();
            if each.is_empty() {
                plural(0, one, many)
            } else {
                format!("{} ({})", plural(each.len(), one, many), each.join(", "))
            }
        };
        let _ = writeln!(
            out,
            "pipe {}: {}, {}; holds {}",
            pipe_name(p),
            list(&r, "read end", "read ends"),
            list(&w, "write end", "write ends"),
            plural(s.pipes[p].held() as usize, "byte", "bytes")
        );
    }
    out
}
