//! Terminal manners: colour only on a terminal and never with NO_COLOR;
//! progress lines only on a terminal; plain text when piped; `--quiet` and
//! `--verbose` for every command.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};

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

/// A one-line progress indicator on stderr, shown only when stderr is a
/// terminal and `--quiet` is off; cleared by [`Progress::finish`].
pub struct Progress {
    on: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
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
