//! The command line every exercise shares: `--help`, usage errors, and the
//! program name that error messages start with.
//!
//! DESIGN.md fixes the contract: `--help` prints usage and exits 0; a bad
//! argument prints the usage line to stderr and exits 2; a failed call prints
//! `<program>: <call> failed: <reason>` and exits 1 (see [`crate::OrExit`]).

use std::ffi::OsString;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::sync::OnceLock;

static PROGRAM: OnceLock<&'static str> = OnceLock::new();

/// The name error messages start with: the one given to [`Program::args`],
/// or `"ipc-lab"` before that.
pub fn program() -> &'static str {
    PROGRAM.get().copied().unwrap_or("ipc-lab")
}

/// One exercise's command-line description.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// The package name, e.g. `"childpipe"`.
    pub name: &'static str,
    /// The arguments part of the usage line, e.g. `"[--atomic]"`.
    pub usage: &'static str,
    /// A few lines on what the program shows; printed by `--help`.
    pub about: &'static str,
}

impl Program {
    /// The usage line, `Usage: NAME ARGS`.
    pub fn usage_line(&self) -> String {
        if self.usage.is_empty() {
            format!("Usage: {}", self.name)
        } else {
            format!("Usage: {} {}", self.name, self.usage)
        }
    }

    /// Records the program name, answers `--help` / `-h` (exit 0) and returns
    /// the remaining arguments (without `argv[0]`).
    ///
    /// `--help` counts anywhere before a `--`.
    pub fn args(&self) -> Vec<OsString> {
        let args = self.raw_args();
        if args
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == "--help" || a == "-h")
        {
            self.help()
        }
        args
    }

    /// Like [`Program::args`], for programs whose arguments are other
    /// programs' command lines: `--help` counts only as the first argument,
    /// so `child-to-child sort -h -- cat` passes `-h` on to sort.
    pub fn command_args(&self) -> Vec<OsString> {
        let args = self.raw_args();
        if args.first().is_some_and(|a| a == "--help" || a == "-h") {
            self.help()
        }
        args
    }

    fn raw_args(&self) -> Vec<OsString> {
        let _ = PROGRAM.set(self.name);
        std::env::args_os().skip(1).collect()
    }

    fn help(&self) -> ! {
        println!("{}\n\n{}", self.usage_line(), self.about.trim_end());
        std::process::exit(0)
    }

    /// For programs whose only arguments are flags: returns, for each name in
    /// `known`, whether it was given. Anything else is a usage error.
    pub fn flags<const N: usize>(&self, known: [&str; N]) -> [bool; N] {
        let mut given = [false; N];
        for arg in self.args() {
            match known.iter().position(|k| arg == **k) {
                Some(i) => given[i] = true,
                None => self.usage_error(&format!("unexpected argument '{}'", arg.to_string_lossy())),
            }
        }
        given
    }

    /// The whole number that follows option `name` (`--threads 4`): `value`
    /// is the next argument. A missing or malformed one is a usage error.
    pub fn number<T: FromStr>(&self, name: &str, value: Option<OsString>) -> T {
        let Some(v) = value else {
            self.usage_error(&format!("{name} needs a number"));
        };
        let v = v.to_string_lossy();
        v.parse()
            .unwrap_or_else(|_| self.usage_error(&format!("{name} needs a whole number, not '{v}'")))
    }

    /// Like [`Program::number`], and the number must lie in `range`.
    pub fn number_in<T>(&self, name: &str, value: Option<OsString>, range: RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + Display,
    {
        let bad = |v: &str| -> ! {
            let (min, max) = (range.start(), range.end());
            self.usage_error(&format!("{name} must be a number from {min} to {max}, not '{v}'"))
        };
        let Some(v) = value else {
            self.usage_error(&format!("{name} needs a number"));
        };
        let v = v.to_string_lossy();
        match v.parse::<T>() {
            Ok(n) if range.contains(&n) => n,
            _ => bad(&v),
        }
    }

    /// Prints `NAME: MESSAGE` and the usage line to stderr, exits with 2.
    pub fn usage_error(&self, message: &str) -> ! {
        let _ = PROGRAM.set(self.name);
        eprintln!(
            "{}: {message}\n{}\nTry '{} --help' for more.",
            self.name,
            self.usage_line(),
            self.name
        );
        std::process::exit(2)
    }
}
