//! The catalogue: what every exercise must do, written once.
//!
//! Each exercise has a module in `exercises/` with its metadata (number,
//! package, title, the lecture file it mirrors, a hint) and its checks. A
//! check runs the built program in the [`sandbox`] with some arguments and
//! judges the [`Outcome`](sandbox::Outcome) with the helpers in [`expect`].
//!
//! `cargo test`, `cargo xtask check` and `cargo xtask grade` all go through
//! [`run_exercise`], so no expected output lives anywhere else.
//!
//! Checks that only graders run sit between `// BEGIN HIDDEN` and
//! `// END HIDDEN` markers; `cargo xtask release` removes those lines, so the
//! student version never sees them.

pub mod build;
mod exercises;
pub mod expect;
pub mod report;
mod runner;

pub use runner::{
    CheckResult, ExerciseResult, Failure, default_jobs, isolation, run_check, run_exercise, run_exercises,
};

use std::time::Duration;

/// The outcome of a judge: `Ok` or a human explanation of what was wrong.
pub type Verdict = Result<(), String>;

/// A judge looks at one run's outcome and says whether it is right.
pub type Judge = fn(&sandbox::Outcome) -> Verdict;

/// One exercise of the lab.
#[derive(Debug)]
pub struct Exercise {
    /// Its number, 1-based, in lecture order.
    pub number: u8,
    /// The Cargo package name, e.g. `"childpipe"`.
    pub name: &'static str,
    /// The directory under `crates/`, e.g. `"02-childpipe"`.
    pub dir: &'static str,
    /// A short title.
    pub title: &'static str,
    /// The lecture example it mirrors, e.g. `"childpipe.cc"`.
    pub mirrors: &'static str,
    /// The lesson, in one sentence.
    pub lesson: &'static str,
    /// The hint shown on failure and by `cargo xtask hint N`.
    pub hint: &'static str,
    /// Builds the list of checks.
    pub checks: fn() -> Vec<Check>,
}

/// One check: run the program once and judge what it did.
#[derive(Debug, Clone)]
pub struct Check {
    /// What it verifies, in a few words ("prints the two lines").
    pub name: &'static str,
    /// Points it is worth.
    pub points: u32,
    /// Hidden checks run only when grading.
    pub hidden: bool,
    /// Arguments for the program.
    pub args: Vec<String>,
    /// Bytes for its standard input.
    pub stdin: Vec<u8>,
    /// Wall-clock limit for this run.
    pub timeout: Duration,
    /// Decides pass or fail.
    pub judge: Judge,
}

/// The default wall-clock limit of one check.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

impl Check {
    /// A check students see, run with no arguments.
    pub fn public(name: &'static str, points: u32, judge: Judge) -> Check {
        Check {
            name,
            points,
            hidden: false,
            args: Vec::new(),
            stdin: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            judge,
        }
    }

    /// A check only graders run.
    pub fn hidden(name: &'static str, points: u32, judge: Judge) -> Check {
        Check {
            hidden: true,
            ..Check::public(name, points, judge)
        }
    }

    /// Runs the program with these arguments.
    pub fn args<I, S>(mut self, args: I) -> Check
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Feeds these bytes to standard input.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Check {
        self.stdin = bytes.into();
        self
    }

    /// Changes the wall-clock limit.
    pub fn timeout(mut self, timeout: Duration) -> Check {
        self.timeout = timeout;
        self
    }

    /// The command line, for reports: `closing-ends --keep-write-end`.
    ///
    /// Long arguments and long argument lists are abbreviated, so a report
    /// stays readable when a check passes 100 000 bytes or 300 messages.
    pub fn command_line(&self, program: &str) -> String {
        const SHOWN_ARGS: usize = 8;
        const SHOWN_CHARS: usize = 32;
        let mut words = vec![program.to_string()];
        for a in self.args.iter().take(SHOWN_ARGS) {
            let mut word: String = a.chars().take(SHOWN_CHARS).collect();
            let cut = word.len() < a.len();
            let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
            if word.is_empty() || !word.chars().all(plain) {
                // Single quotes keep everything literal in a shell; a quote
                // inside is written '\'' (close, escaped quote, reopen).
                word = format!("'{}'", word.replace('\'', "'\\''"));
            }
            if cut {
                word = format!("{word}…({} bytes)", a.len());
            }
            words.push(word);
        }
        if self.args.len() > SHOWN_ARGS {
            words.push(format!("… ({} arguments in all)", self.args.len()));
        }
        words.join(" ")
    }
}

impl Exercise {
    /// Total points of its checks, hidden ones included or not.
    pub fn max_points(&self, include_hidden: bool) -> u32 {
        (self.checks)()
            .iter()
            .filter(|c| include_hidden || !c.hidden)
            .map(|c| c.points)
            .sum()
    }

    /// `01 selfpipe`, as lists show it.
    pub fn label(&self) -> String {
        format!("{:02} {}", self.number, self.name)
    }
}

/// Every exercise, in lecture order.
pub fn catalogue() -> &'static [Exercise] {
    exercises::ALL
}

/// Finds an exercise by number (`2`, `02`), package name (`childpipe`) or
/// directory name (`02-childpipe`).
pub fn find(query: &str) -> Option<&'static Exercise> {
    let q = query.trim();
    catalogue()
        .iter()
        .find(|e| q.parse::<u8>().is_ok_and(|n| n == e.number) || q == e.name || q == e.dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_names_and_dirs_agree() {
        for (i, e) in catalogue().iter().enumerate() {
            assert_eq!(usize::from(e.number), i + 1, "{} is out of order", e.name);
            assert_eq!(e.dir, format!("{:02}-{}", e.number, e.name));
            assert!(!e.hint.is_empty() && !e.title.is_empty() && !e.mirrors.is_empty());
            let checks = (e.checks)();
            assert!(checks.iter().any(|c| !c.hidden), "{} has no public check", e.name);
            assert!(checks.iter().any(|c| c.hidden), "{} has no hidden check", e.name);
            assert!(checks.iter().all(|c| c.points > 0));
        }
    }

    #[test]
    fn command_lines_are_abbreviated() {
        let check =
            Check::public("x", 1, |_| Ok(())).args(["--keep-write-end", "two words", "", "b\\na", "it's"]);
        assert_eq!(
            check.command_line("p"),
            "p --keep-write-end 'two words' '' 'b\\na' 'it'\\''s'"
        );
        let long = Check::public("x", 1, |_| Ok(())).args(["x".repeat(100)]);
        assert_eq!(
            long.command_line("p"),
            format!("p {}…(100 bytes)", "x".repeat(32))
        );
        let many = Check::public("x", 1, |_| Ok(())).args((0..20).map(|i| i.to_string()));
        assert!(many.command_line("p").ends_with("7 … (20 arguments in all)"));
    }

    #[test]
    fn find_takes_number_name_or_dir() {
        let first = &catalogue()[0];
        assert_eq!(find("1").unwrap().name, first.name);
        assert_eq!(find("01").unwrap().name, first.name);
        assert_eq!(find(first.name).unwrap().number, 1);
        assert_eq!(find(first.dir).unwrap().number, 1);
        assert!(find("99").is_none());
        assert!(find("no-such").is_none());
    }
}
