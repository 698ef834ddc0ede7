//! Exercise 04 — child-to-child: a pipe between two children, the way a
//! shell builds `A | B`.
//!
//! Lecture 16 (Inter-Process Communication, Threads) asks how to join two
//! *children* with a pipe, using only `pipe`, `fork` and `close`. The parent
//! makes the pipe, forks a writer and a reader, and then — the step that is
//! easy to forget — closes both of its own ends. The reader reads until end
//! of file, which comes only when the writer has exited *and* the parent has
//! closed its copy of the write end.
//!
//! With two commands, `child-to-child CMD1 [ARGS...] -- CMD2 [ARGS...]`, it
//! does what `sh -c 'CMD1 | CMD2'` does: each child points its standard
//! output (the writer) or standard input (the reader) at the pipe with
//! `dup2`, then replaces itself with the command by `execvp`. The exit status
//! is CMD2's, as in a shell.
//!
//! Run it: `cargo run -p child-to-child`, or
//! `cargo run -p child-to-child -- ls / -- sort -r`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::os::fd::OwnedFd;
use syscalls::cli::Program;
use syscalls::{
    _exit, Argv, Fork, OrExit, StackBuf, WaitStatus, default_signal, dup2, execvp, fork, getpid, pipe,
    read_to_end, waitpid, write_all,
};

const PROGRAM: Program = Program {
    name: "child-to-child",
    usage: "[CMD1 [ARGS...] -- CMD2 [ARGS...]]",
    about: "Without arguments: a writer child sends a message through a pipe to a reader\n\
            child; the parent closes its ends and waits for both.\n\
            \n\
            With two commands: runs them joined by a pipe, like sh -c 'CMD1 | CMD2'\n\
            (pipe, fork, dup2, close, execvp); exits with CMD2's status, 127 if a\n\
            command is not found.",
};

/// What the writer sends to the reader in the demonstration.
const MESSAGE: &str = "Hello, sibling!";

/// Where to look for commands when the environment has no `PATH`.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What the two children do.
enum Mode {
    /// Two children of this program talk through the pipe.
    Demo,
    /// Each child becomes a command: `left | right`.
    Pipeline { left: Command, right: Command },
}

/// A command, ready to `exec` from a forked child without allocating.
struct Command {
    argv: Argv,
    /// `argv[0]` as text, for the error message when it cannot be run.
    name: String,
}

fn parse_args() -> Mode {
    let args = PROGRAM.command_args();
    if args.is_empty() {
        return Mode::Demo;
    }
    let Some(split) = args.iter().position(|a| a == "--") else {
        PROGRAM.usage_error("missing '--' between the two commands");
    };
    let (left, right) = (&args[..split], &args[split + 1..]);
    if left.is_empty() {
        PROGRAM.usage_error("no command before '--'");
    }
    if right.is_empty() {
        PROGRAM.usage_error("no command after '--'");
    }
    Mode::Pipeline {
        left: command(left),
        right: command(right),
    }
}

fn command(args: &[OsString]) -> Command {
    let argv = Argv::new(args).unwrap_or_else(|e| PROGRAM.usage_error(&e.to_string()));
    let name = args[0].to_string_lossy().into_owned();
    Command { argv, name }
}

// ANCHOR: main
fn main() {
    let mode = parse_args();
    if std::env::var_os("PATH").is_none() {
        // SAFETY: this program has a single thread, so nobody else can be
        // reading the environment while we change it.
        unsafe { std::env::set_var("PATH", DEFAULT_PATH) };
    }

    let (read_end, write_end) = pipe().or_exit("pipe");
    io::stdout().flush().or_exit("flush");

    // SAFETY: this program has a single thread, so the child may call
    // anything; it ends in _exit or exec and never returns into main.
    let writer = match unsafe { fork() }.or_exit("fork") {
        Fork::Child => {
            drop(read_end); // the writer never reads
            writer_child(&mode, write_end)
        }
        Fork::Parent(pid) => pid,
    };
    // SAFETY: as for the writer: one thread, and the child never returns.
    let reader = match unsafe { fork() }.or_exit("fork") {
        Fork::Child => {
            drop(write_end); // the reader must not keep a write end open itself
            reader_child(&mode, read_end)
        }
        Fork::Parent(pid) => pid,
    };

    // TODO: close both ends in the parent: the reader sees EOF only when every
    // write end is closed.
    // BEGIN SOLUTION
    drop(read_end);
    drop(write_end);
    // END SOLUTION

    let (_, writer_status) = waitpid(writer, 0).or_exit("waitpid");
    let (_, reader_status) = waitpid(reader, 0).or_exit("waitpid");
    match mode {
        Mode::Demo => {
            let me = getpid();
            println!("[parent: {me}] writer {writer} {}", describe(writer_status));
            println!("[parent: {me}] reader {reader} {}", describe(reader_status));
            let ok = writer_status == WaitStatus::Exited(0) && reader_status == WaitStatus::Exited(0);
            std::process::exit(if ok { 0 } else { 1 })
        }
        // A shell reports the status of the last command of a pipeline.
        Mode::Pipeline { .. } => std::process::exit(reader_status.shell_code()),
    }
}

/// The left side: writes into the pipe.
fn writer_child(mode: &Mode, write_end: OwnedFd) -> ! {
    match mode {
        Mode::Demo => {
            println!("[writer: {}] sending “{MESSAGE}”", getpid());
            write_all(&write_end, MESSAGE.as_bytes()).or_exit("write");
            _exit(0)
        }
        Mode::Pipeline { left, .. } => {
            // TODO: make the write end this child's standard output (fd 1), so
            // the command writes into the pipe.
            // BEGIN SOLUTION
            dup2(&write_end, libc::STDOUT_FILENO).or_die("dup2");
            // END SOLUTION
            drop(write_end); // fd 1 is the pipe now; this extra copy is not needed
            exec(left)
        }
    }
}

/// The right side: reads from the pipe until end of file.
fn reader_child(mode: &Mode, read_end: OwnedFd) -> ! {
    match mode {
        Mode::Demo => {
            let mut message = Vec::new();
            read_to_end(&read_end, &mut message).or_exit("read");
            let message = String::from_utf8_lossy(&message);
            println!("[reader: {}] got “{message}”", getpid());
            _exit(0)
        }
        Mode::Pipeline { right, .. } => {
            // TODO: make the read end this child's standard input (fd 0), so
            // the command reads from the pipe.
            // BEGIN SOLUTION
            dup2(&read_end, libc::STDIN_FILENO).or_die("dup2");
            // END SOLUTION
            drop(read_end); // fd 0 is the pipe now
            exec(right)
        }
    }
}
// ANCHOR_END: main

/// Replaces this child with `command`; if that fails, says why the way a
/// shell does and exits with 127 (not found) or 126 (found, cannot run).
///
/// Runs in a forked child: it allocates nothing.
fn exec(command: &Command) -> ! {
    // Rust starts programs with SIGPIPE ignored, and exec would pass that on:
    // `yes` would then complain about EPIPE instead of dying quietly.
    default_signal(libc::SIGPIPE).or_die("signal");
    let err = execvp(&command.argv);
    let errno = err.raw_os_error().unwrap_or(0);
    let name = command.name.as_str();
    let mut msg = StackBuf::<1024>::new();
    let status = match errno {
        libc::ENOENT if !name.contains('/') => {
            let _ = write!(msg, "{}: {name}: command not found", PROGRAM.name);
            127
        }
        libc::ENOENT => {
            let _ = write!(msg, "{}: {name}: No such file or directory", PROGRAM.name);
            127
        }
        libc::EACCES => {
            let _ = write!(msg, "{}: {name}: Permission denied", PROGRAM.name);
            126
        }
        _ => {
            let _ = write!(msg, "{}: {name}: execvp failed: errno {errno}", PROGRAM.name);
            126
        }
    };
    report_and_exit(&mut msg, status)
}

/// How a child ended, for the parent's report.
fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(code) => format!("exited with status {code}"),
        WaitStatus::Signaled(sig) => format!("was killed by signal {sig}"),
        WaitStatus::Other(raw) => format!("changed state ({raw:#x})"),
    }
}

/// `or_exit` for a forked child on its way to `exec`: reports the failed
/// call with a single `write` and leaves with `_exit(1)`, allocating nothing.
trait OrDie<T> {
    fn or_die(self, call: &str) -> T;
}

impl<T> OrDie<T> for io::Result<T> {
    fn or_die(self, call: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => {
                let mut msg = StackBuf::<256>::new();
                let errno = e.raw_os_error().unwrap_or(0);
                let _ = write!(msg, "{}: {call} failed: errno {errno}", PROGRAM.name);
                report_and_exit(&mut msg, 1)
            }
        }
    }
}

/// Writes `msg` and a newline to stderr in one `write` (so that two
/// children failing at once do not mix their lines), then `_exit(status)`.
fn report_and_exit<const N: usize>(msg: &mut StackBuf<N>, status: i32) -> ! {
    // A line cut off at the buffer's end loses its newline: the lesser harm.
    let _ = msg.write_str("\n");
    // io::stderr() is a handle to fd 2: taking its descriptor locks nothing.
    let _ = write_all(io::stderr(), msg.as_bytes());
    _exit(status)
}
