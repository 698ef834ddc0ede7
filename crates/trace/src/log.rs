//! The recorder's log: one JSON record per line, what the kernel did and
//! what `/proc` showed, in the order the tracer saw it.
//!
//! The recorder writes each record with a single `write`, so a log cut short
//! by a timeout's `SIGKILL` still holds every record up to the kill. The
//! model ([`crate::model`]) replays the records; nothing in the log is
//! interpreted by the recorder beyond reading it from the kernel.

use serde::{Deserialize, Serialize};

/// A system call the model understands (each variant is the call of that
/// name; [`Call::name`] gives the name a reader knows).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    Pipe,
    Pipe2,
    Close,
    Dup,
    Dup2,
    Dup3,
    Fcntl,
    Read,
    Write,
    Readv,
    Writev,
    Wait4,
    Waitid,
    /// Any other call that returns a new descriptor (`open`, `openat`,
    /// `socket`, …): the model only needs to know the descriptor exists.
    Open,
    Clone,
    Clone3,
    Fork,
    Vfork,
}

impl Call {
    /// The name a reader knows it by.
    pub fn name(self) -> &'static str {
        match self {
            Call::Pipe => "pipe",
            Call::Pipe2 => "pipe2",
            Call::Close => "close",
            Call::Dup => "dup",
            Call::Dup2 => "dup2",
            Call::Dup3 => "dup3",
            Call::Fcntl => "fcntl",
            Call::Read => "read",
            Call::Write => "write",
            Call::Readv => "readv",
            Call::Writev => "writev",
            Call::Wait4 => "waitpid",
            Call::Waitid => "waitid",
            Call::Open => "open",
            Call::Clone => "clone",
            Call::Clone3 => "clone3",
            Call::Fork => "fork",
            Call::Vfork => "vfork",
        }
    }

    /// Whether the call can wait (on a pipe or a child), so the recorder
    /// logs its entry too.
    pub fn can_block(self) -> bool {
        matches!(
            self,
            Call::Read | Call::Write | Call::Readv | Call::Writev | Call::Wait4 | Call::Waitid
        )
    }
}

/// What a descriptor refers to, as `/proc/PID/fd` and `fdinfo` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    /// One end of a pipe, named by the pipe's inode.
    Pipe { inode: u64, write: bool },
    /// Anything else: the link's text (`/dev/null`, `/dev/pts/0`, `socket:[…]`).
    Other { name: String },
}

/// One descriptor of a table.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fd {
    pub fd: i32,
    pub object: Object,
    /// `O_CLOEXEC`: closed by a successful `execve`.
    pub cloexec: bool,
}

/// One thing the tracer saw (fields: `pid` the process or thread, by its
/// kernel id; `args` the call's first four arguments).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Record {
    /// The traced program has started (after its `execve`): its pid,
    /// arguments and inherited table.
    Start {
        pid: i32,
        argv: Vec<String>,
        fds: Vec<Fd>,
    },
    /// `parent` made `child` with `call`; `flags` are the clone flags
    /// (`CLONE_FILES`: the table is shared, not copied).
    Spawn {
        parent: i32,
        child: i32,
        call: Call,
        flags: u64,
    },
    /// `pid` replaced its program; `fds` is its table afterwards.
    Exec {
        pid: i32,
        argv: Vec<String>,
        fds: Vec<Fd>,
    },
    /// `pid` entered a call that may wait.
    Enter { pid: i32, call: Call, args: [i64; 4] },
    /// `pid` returned from `call`: `ret` is the result or `-errno`; `fds`
    /// are the descriptors it made, as `/proc` showed them just after.
    Exit {
        pid: i32,
        call: Call,
        args: [i64; 4],
        ret: i64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fds: Vec<Fd>,
    },
    /// A signal was delivered to `pid`.
    Signal { pid: i32, signal: i32 },
    /// `pid` is exiting (its descriptors close now): with `code`, or killed
    /// by `signal`.
    Gone {
        pid: i32,
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The program's first process ended while these were still running;
    /// the tracer ended them.
    Left { pids: Vec<i32> },
    /// The kernel refused `ptrace` (with this errno): nothing was traced.
    Refused { errno: i32 },
}

impl Record {
    /// The record as one line of the log, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// Reads a log file's records; a last line cut short (the run was killed
/// mid-write) is left out, any other bad line is an error naming it.
pub fn parse(text: &str) -> Result<Vec<Record>, String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut records = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(r) => records.push(r),
            Err(_) if n + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => return Err(format!("trace log line {}: {e}", n + 1)),
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_the_round_trip_and_a_cut_last_line_is_dropped() {
        let r = Record::Exit {
            pid: 7,
            call: Call::Pipe2,
            args: [1, 2, 3, 4],
            ret: 0,
            fds: vec![Fd {
                fd: 3,
                object: Object::Pipe {
                    inode: 99,
                    write: false,
                },
                cloexec: true,
            }],
        };
        let line = r.to_line();
        assert_eq!(parse(&line).unwrap(), vec![r.clone()]);
        let cut = format!("{line}{}", &line[..10]);
        assert_eq!(parse(&cut).unwrap(), vec![r]);
        assert!(parse("{}\nnot json\n").is_err());
    }
}
