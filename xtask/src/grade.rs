//! `cargo xtask grade SUB... [--out DIR] [--jobs N] [--force] [--budget S]`:
//! the command line of the grader (`crates/grader`), which grades
//! submissions into `DIR/NAME/results.json` and `DIR/grades.csv`.
//!
//! Exit status: 0 when every submission got a results file, 1 when one
//! could not be written, 2 for a usage error. Progress goes to a terminal's
//! stderr; one line per submission and a summary to stdout (none with
//! `--quiet`).

use crate::flags::GradeFlags;
use crate::term::{StatusLine, Verbosity, outln, verbosity};
use anyhow::{Result, bail};
use grader::{Observer, Options, Submission, Summary};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(root: &Path, flags: &GradeFlags) -> Result<ExitCode> {
    let mut subs = Vec::new();
    for path in &flags.submissions {
        subs.push(Submission::from_path(path).map_err(anyhow::Error::msg)?);
    }
    let mut names = BTreeMap::new();
    for s in &subs {
        if let Some(other) = names.insert(s.name.clone(), &s.path) {
            bail!(
                "{} and {} would both be filed as {}: rename one",
                other.display(),
                s.path.display(),
                s.name
            );
        }
    }
    let budget = match flags.budget {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => bail!("--budget {s}: give a positive number of seconds"),
        None => None,
    };
    let options = Options {
        jobs: flags.jobs.unwrap_or_else(checks::default_jobs).max(1),
        force: flags.force,
        budget,
        ..Options::new(flags.out.clone())
    };
    let report = verbosity() != Verbosity::Quiet;
    let summary = if report {
        grader::grade(root, &subs, &options, &Terminal::new())?
    } else {
        grader::grade(root, &subs, &options, &grader::Quiet)?
    };
    if report {
        print_summary(&summary, &options.out);
    }
    for e in &summary.errors {
        eprintln!("error: {e}");
    }
    Ok(if summary.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The grader's progress on a terminal: a progress line, and one line per
/// submission above it.
pub struct Terminal {
    progress: StatusLine,
}

impl Terminal {
    pub fn new() -> Terminal {
        Terminal {
            progress: StatusLine::new(),
        }
    }
}

impl Observer for Terminal {
    fn preparing(&self, step: &str) {
        self.progress.update(&format!("preparing the grader: {step}…"));
    }

    fn progress(&self, done: usize, total: usize, current: &str, left: Option<Duration>) {
        let left = left.map_or(String::new(), |l| {
            format!(" · about {:.0} s left", l.as_secs_f64())
        });
        self.progress
            .update(&format!("grading {done}/{total} · {current}{left}"));
    }

    fn graded(&self, name: &str, outcome: &Result<(f64, f64), String>) {
        self.progress.update("");
        match outcome {
            Ok((score, max)) => outln!("{name:<32} {:>6}/{}", points(*score), points(*max)),
            Err(e) => outln!("{name:<32} error: {e}"),
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.progress.finish();
    }
}

/// The closing lines: how many, in how long, where the results are.
fn print_summary(summary: &Summary, out: &Path) {
    let n = summary.graded.len();
    let each = if n > 0 {
        format!(
            " ({:.2} s per submission)",
            summary.elapsed.as_secs_f64() / n as f64
        )
    } else {
        String::new()
    };
    outln!(
        "graded {n} submission{} in {:.1} s{each}; results in {}, grades in {}",
        if n == 1 { "" } else { "s" },
        summary.elapsed.as_secs_f64(),
        out.display(),
        out.join("grades.csv").display()
    );
    if summary.prepare > Duration::from_secs(5) {
        outln!(
            "(of which {:.1} s getting the toolchain and dependencies ready: once per machine)",
            summary.prepare.as_secs_f64()
        );
    }
    if summary.skipped > 0 {
        outln!(
            "skipped {} already graded (--force grades them again)",
            summary.skipped
        );
    }
}

/// `12` for whole points, `12.5` otherwise.
fn points(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}
