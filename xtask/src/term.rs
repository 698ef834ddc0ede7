//! Terminal manners: colour only on a terminal and never with NO_COLOR;
//! progress lines only on a terminal; plain text when piped.

use std::io::{IsTerminal, Write};

/// Whether to colour text written to stdout.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
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
}

/// A one-line progress indicator on stderr, shown only when stderr is a
/// terminal; cleared by [`Progress::finish`].
pub struct Progress {
    on: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
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
