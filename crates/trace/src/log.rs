//! The recorder's log: one record per line, what the kernel did and what
//! `/proc` showed, in the order the tracer saw it.
//!
//! A line is words separated by single spaces: the record's kind, then its
//! fields in a fixed order (`exit 812 write 4 94 1 0 1`: pid 812's
//! `write(4, …, 1)` returned 1). Strings are one word, `=` then the text
//! with `%`, spaces, commas and control characters as `%XX`; a descriptor
//! is `FD,c|-,r|w,INODE` (a pipe end, `c` for close-on-exec) or
//! `FD,c|-,o,=NAME`. Lines starting with `#` are comments. The format is
//! written and read here by hand, so the crate a student compiles needs no
//! derive macro, and a run of 65,536 calls writes and reads quickly.
//!
//! A log cut short by a timeout's `SIGKILL` still holds every record up to
//! the kill (the recorder writes out before it waits). The model
//! ([`crate::model`]) replays the records; nothing in the log is
//! interpreted by the recorder beyond reading it from the kernel.

/// A system call the model understands (each variant is the call of that
/// name; [`Call::name`] gives the name a reader knows).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Every call, for reading the log.
const ALL: [Call; 18] = [
    Call::Pipe,
    Call::Pipe2,
    Call::Close,
    Call::Dup,
    Call::Dup2,
    Call::Dup3,
    Call::Fcntl,
    Call::Read,
    Call::Write,
    Call::Readv,
    Call::Writev,
    Call::Wait4,
    Call::Waitid,
    Call::Open,
    Call::Clone,
    Call::Clone3,
    Call::Fork,
    Call::Vfork,
];

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

    /// Its word in the log.
    pub fn key(self) -> &'static str {
        match self {
            Call::Wait4 => "wait4",
            other => other.name(),
        }
    }

    /// The call whose word in the log is `key`.
    pub fn from_key(key: &str) -> Option<Call> {
        ALL.iter().copied().find(|c| c.key() == key)
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
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Object {
    /// One end of a pipe, named by the pipe's inode.
    Pipe { inode: u64, write: bool },
    /// Anything else: the link's text (`/dev/null`, `/dev/pts/0`, `socket:[…]`).
    Other { name: String },
}

/// One descriptor of a table.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fd {
    pub fd: i32,
    pub object: Object,
    /// `O_CLOEXEC`: closed by a successful `execve`.
    pub cloexec: bool,
}

/// One thing the tracer saw (fields: `pid` the process or thread, by its
/// kernel id; `args` the call's first four arguments).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
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
        let mut line = String::new();
        self.write_line(&mut line);
        line
    }

    /// Appends the record's line (newline included) to `out`.
    pub fn write_line(&self, out: &mut String) {
        use std::fmt::Write as _;
        // Writing into a String cannot fail.
        let _ = match self {
            Record::Start { pid, argv, fds } => write!(out, "start {pid}")
                .and_then(|()| strings(out, argv))
                .and_then(|()| fd_list(out, fds)),
            Record::Spawn {
                parent,
                child,
                call,
                flags,
            } => write!(out, "spawn {parent} {child} {} {flags}", call.key()),
            Record::Exec { pid, argv, fds } => write!(out, "exec {pid}")
                .and_then(|()| strings(out, argv))
                .and_then(|()| fd_list(out, fds)),
            Record::Enter { pid, call, args } => write!(
                out,
                "enter {pid} {} {} {} {} {}",
                call.key(),
                args[0],
                args[1],
                args[2],
                args[3]
            ),
            Record::Exit {
                pid,
                call,
                args,
                ret,
                fds,
            } => write!(
                out,
                "exit {pid} {} {} {} {} {} {ret}",
                call.key(),
                args[0],
                args[1],
                args[2],
                args[3]
            )
            .and_then(|()| fd_list(out, fds)),
            Record::Signal { pid, signal } => write!(out, "signal {pid} {signal}"),
            Record::Gone { pid, code, signal } => match (code, signal) {
                (_, Some(s)) => write!(out, "gone {pid} killed {s}"),
                (c, None) => write!(out, "gone {pid} exited {}", c.unwrap_or(0)),
            },
            Record::Left { pids } => {
                out.push_str("left");
                pids.iter().try_for_each(|p| write!(out, " {p}"))
            }
            Record::Refused { errno } => write!(out, "refused {errno}"),
        };
        out.push('\n');
    }

    /// Reads one line (without its newline).
    fn from_line(line: &str) -> Result<Record, String> {
        let mut t = Tokens(line.split(' '));
        let kind = t.word()?;
        let r = match kind {
            "start" | "exec" => {
                let pid = t.num()?;
                let argv = t.strings()?;
                let fds = t.fds()?;
                if kind == "start" {
                    Record::Start { pid, argv, fds }
                } else {
                    Record::Exec { pid, argv, fds }
                }
            }
            "spawn" => Record::Spawn {
                parent: t.num()?,
                child: t.num()?,
                call: t.call()?,
                flags: t.num()?,
            },
            "enter" => Record::Enter {
                pid: t.num()?,
                call: t.call()?,
                args: [t.num()?, t.num()?, t.num()?, t.num()?],
            },
            "exit" => Record::Exit {
                pid: t.num()?,
                call: t.call()?,
                args: [t.num()?, t.num()?, t.num()?, t.num()?],
                ret: t.num()?,
                fds: t.fds()?,
            },
            "signal" => Record::Signal {
                pid: t.num()?,
                signal: t.num()?,
            },
            "gone" => {
                let pid = t.num()?;
                match t.word()? {
                    "exited" => Record::Gone {
                        pid,
                        code: Some(t.num()?),
                        signal: None,
                    },
                    "killed" => Record::Gone {
                        pid,
                        code: None,
                        signal: Some(t.num()?),
                    },
                    other => return Err(format!("`{other}` is neither exited nor killed")),
                }
            }
            "left" => Record::Left {
                pids: t.0.by_ref().map(number).collect::<Result<_, _>>()?,
            },
            "refused" => Record::Refused { errno: t.num()? },
            other => return Err(format!("unknown record `{other}`")),
        };
        match t.0.next() {
            None => Ok(r),
            Some(extra) => Err(format!("unexpected `{extra}` at the end")),
        }
    }
}

/// The first line of every log: says what the file is to whoever opens it.
pub const HEADER: &str = "# ipc-lab trace log: one record per line (crates/trace/src/log.rs)\n";

/// Writes ` N S1 S2 …`: a count, then each string escaped.
fn strings(out: &mut String, list: &[String]) -> std::fmt::Result {
    use std::fmt::Write as _;
    write!(out, " {}", list.len())?;
    for s in list {
        out.push(' ');
        escape(out, s);
    }
    Ok(())
}

/// Writes each descriptor as one token: `FD,c|-,r|w,INODE` for a pipe end,
/// `FD,c|-,o,=NAME` for anything else.
fn fd_list(out: &mut String, fds: &[Fd]) -> std::fmt::Result {
    use std::fmt::Write as _;
    for f in fds {
        let c = if f.cloexec { 'c' } else { '-' };
        match &f.object {
            Object::Pipe { inode, write } => {
                write!(out, " {},{c},{},{inode}", f.fd, if *write { 'w' } else { 'r' })?;
            }
            Object::Other { name } => {
                write!(out, " {},{c},o,", f.fd)?;
                escape(out, name);
            }
        }
    }
    Ok(())
}

/// A string as one token: `=` then the text, with `%`, spaces, commas
/// and control characters as `%XX`, so no token holds a separator.
fn escape(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('=');
    for c in s.chars() {
        if c == '%' || c == ' ' || c == ',' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
}

fn unescape(token: &str) -> Result<String, String> {
    let body = token
        .strip_prefix('=')
        .ok_or_else(|| format!("`{token}` is not a string"))?;
    let mut bytes = Vec::with_capacity(body.len());
    let mut it = body.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next().unwrap_or(0), it.next().unwrap_or(0)];
            let hex = std::str::from_utf8(&hex).map_err(|_| format!("bad escape in `{token}`"))?;
            bytes.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape in `{token}`"))?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).map_err(|_| format!("`{token}` is not UTF-8"))
}

fn number<T: std::str::FromStr>(token: &str) -> Result<T, String> {
    token.parse().map_err(|_| format!("`{token}` is not a number"))
}

/// The tokens of one line.
struct Tokens<'a>(std::str::Split<'a, char>);

impl<'a> Tokens<'a> {
    fn word(&mut self) -> Result<&'a str, String> {
        self.0.next().ok_or_else(|| "the line ends too soon".to_string())
    }

    fn num<T: std::str::FromStr>(&mut self) -> Result<T, String> {
        number(self.word()?)
    }

    fn call(&mut self) -> Result<Call, String> {
        let w = self.word()?;
        Call::from_key(w).ok_or_else(|| format!("unknown call `{w}`"))
    }

    fn strings(&mut self) -> Result<Vec<String>, String> {
        let n: usize = self.num()?;
        (0..n).map(|_| unescape(self.word()?)).collect()
    }

    /// The rest of the line, as descriptors.
    fn fds(&mut self) -> Result<Vec<Fd>, String> {
        self.0.by_ref().map(fd).collect()
    }
}

fn fd(token: &str) -> Result<Fd, String> {
    let mut parts = token.splitn(4, ',');
    let (Some(fd), Some(c), Some(kind), Some(what)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("`{token}` is not a descriptor"));
    };
    let object = match kind {
        "r" | "w" => Object::Pipe {
            inode: number(what)?,
            write: kind == "w",
        },
        "o" => Object::Other {
            name: unescape(what)?,
        },
        _ => return Err(format!("`{token}` is not a descriptor")),
    };
    Ok(Fd {
        fd: number(fd)?,
        object,
        cloexec: c == "c",
    })
}

/// Reads a log file's records; a last line cut short (the run was killed
/// mid-write) is left out, any other bad line is an error naming it.
/// Lines starting with `#` are comments.
pub fn parse(text: &str) -> Result<Vec<Record>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::with_capacity(lines.len());
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match Record::from_line(line) {
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
        assert_eq!(line, "exit 7 pipe2 1 2 3 4 0 3,c,r,99\n");
        assert_eq!(parse(&line).unwrap(), vec![r.clone()]);
        let cut = format!("{line}{}", &line[..10]);
        assert_eq!(parse(&cut).unwrap(), vec![r]);
        assert!(parse("{}\nnot a record\n").is_err());
        assert!(parse("exit 7 pipe2 1 2\nsignal 7 13\n").is_err(), "a short line");
        // Every kind, with strings that hold the separators.
        let all = vec![
            Record::Start {
                pid: 1,
                argv: vec![
                    "p".into(),
                    "two words, 100%".into(),
                    String::new(),
                    "“é”\n".into(),
                ],
                fds: vec![Fd {
                    fd: 5,
                    object: Object::Other {
                        name: "/tmp/a b,c".into(),
                    },
                    cloexec: false,
                }],
            },
            Record::Spawn {
                parent: 1,
                child: 2,
                call: Call::Clone3,
                flags: 0x1_0000_0000,
            },
            Record::Exec {
                pid: 2,
                argv: vec![],
                fds: vec![],
            },
            Record::Enter {
                pid: 2,
                call: Call::Wait4,
                args: [-1, 0, 0, 0],
            },
            Record::Signal { pid: 2, signal: 13 },
            Record::Gone {
                pid: 2,
                code: None,
                signal: Some(9),
            },
            Record::Gone {
                pid: 1,
                code: Some(3),
                signal: None,
            },
            Record::Left { pids: vec![3, 4] },
            Record::Left { pids: vec![] },
            Record::Refused { errno: 1 },
        ];
        let text: String = all.iter().map(Record::to_line).collect();
        assert_eq!(text.lines().count(), all.len(), "one line each:\n{text}");
        assert_eq!(parse(&format!("{HEADER}{text}")).unwrap(), all);
    }
}
