//! Terminal manners: colour only on a terminal and never with NO_COLOR;
//! progress lines only on a terminal; plain text when piped; `--quiet` and
//! `--verbose` for every command; and a closed stdout is no error.
//!
//! Everything a command prints to stdout goes through [`out!`] and
//! [`outln!`] (`print!` and `println!` panic when stdout is gone: `cargo
//! xtask list | head -1`). A broken pipe is remembered, not reported: the
//! command finishes its work (a check still records its progress, a grade
//! still writes its results) with nothing more printed, `watch` stops, and
//! `main` exits with the command's own status and no message. Any other
//! failure to write (a full disk) is one error line and status 2, from
//! `main`.
//!
//! Why not give SIGPIPE back its default action at the start of `main`,
//! as ripgrep once did: xtask itself writes into pipes that untrusted
//! programs hold, a check's stdin among them (the sandbox's runner lives
//! in this process). A student program that closes its stdin early would
//! then kill `cargo xtask check` instead of failing a check.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Writes to stdout like `print!`, without ever panicking (see the module
/// docs).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::term::write_stdout(format_args!($($arg)*))
    };
}

/// Writes a line to stdout like `println!`, without ever panicking (see
/// the module docs).
macro_rules! outln {
    () => {
        $crate::term::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::term::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};

/// Set once stdout refused a write; nothing more is written to it.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// The first failure to write to stdout, for `main` to judge.
static STDOUT_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// What [`out!`] and [`outln!`] call: writes and flushes, and on failure
/// remembers the error and drops every later write.
pub fn write_stdout(args: std::fmt::Arguments) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        let mut first = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert(e);
    }
}

/// Whether stdout is gone (a write to it failed): there is no one left to
/// tell, so a loop that only prints may as well stop.
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(Ordering::Relaxed)
}

/// The failure to write to stdout, if one happened.
pub fn stdout_error() -> Option<std::io::Error> {
    STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// How much a command says, from the global `--quiet` / `--verbose` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Failures and the summary only; no progress indicators.
    Quiet,
    Normal,
    /// Also cargo's own output and every passing check.
    Verbose,
}

/// Set once by `main` before any command runs.
static VERBOSITY: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

pub fn set_verbosity(v: Verbosity) {
    VERBOSITY.store(v as u8, Ordering::Relaxed);
}

pub fn verbosity() -> Verbosity {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        2 => Verbosity::Verbose,
        _ => Verbosity::Normal,
    }
}

/// Whether colour is allowed at all: NO_COLOR set to anything non-empty
/// turns it off (https://no-color.org).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether to colour text written to stdout.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && !no_color()
}

/// Green, red, dim and bold, or plain text when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// Paint for stdout.
    pub fn stdout() -> Paint {
        Paint { on: colour() }
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }

    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    pub fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }
}

/// The status line: one line of progress on stderr, shown only when stderr
/// is a terminal and `--quiet` is off; cleared by [`StatusLine::finish`].
/// (Not `Progress`: that is the sandbox's account of a thread's work, and
/// `progress.rs` keeps the exercises' results.)
pub struct StatusLine {
    on: bool,
}

impl StatusLine {
    pub fn new() -> StatusLine {
        StatusLine {
            on: std::io::stderr().is_terminal() && verbosity() != Verbosity::Quiet,
        }
    }

    pub fn update(&self, text: &str) {
        if self.on {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
        }
    }

    pub fn finish(&self) {
        self.update("");
    }
}
