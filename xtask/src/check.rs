//! `cargo xtask check [N...] [--json]`: build, run the checks in parallel,
//! print a table and explain each failure with its hint.
//!
//! Exit status: 0 when every check passed, 1 when one failed, 2 when the
//! checks could not run at all (a bad exercise name, cargo missing).

use crate::flags::CheckFlags;
use crate::term::{Paint, StatusLine, Verbosity, out, outln, verbosity};
use anyhow::{Context as _, Result};
use checks::build::{BuildOptions, build};
use checks::report::Results;
use checks::{Exercise, ExerciseResult};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

pub fn run(root: &Path, flags: &CheckFlags) -> Result<ExitCode> {
    let exercises = select(&flags.exercises)?;
    let start = Instant::now();
    // Cargo's "Compiling …" lines are progress: on a terminal, or with
    // --verbose; never with --quiet or --json.
    let show_progress = !flags.json
        && match verbosity() {
            Verbosity::Quiet => false,
            Verbosity::Normal => std::io::IsTerminal::is_terminal(&std::io::stderr()),
            Verbosity::Verbose => true,
        };
    let mut results = check(
        root,
        &exercises,
        flags.jobs.unwrap_or_else(checks::default_jobs),
        show_progress,
    )?;
    // The tracer's advice, where it names why a check failed.
    crate::trace::advise_failures(root, &mut results);
    crate::progress::record(root, &results);
    if flags.json {
        out!("{}", Results::from_results(&results, start.elapsed()).to_json());
    } else {
        print_report(&results, start.elapsed().as_secs_f64());
    }
    let all_passed = results.iter().all(ExerciseResult::passed);
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The exercises named on the command line, or all of them.
fn select(queries: &[String]) -> Result<Vec<&'static Exercise>> {
    if queries.is_empty() {
        return Ok(checks::catalogue().iter().collect());
    }
    let mut chosen: Vec<&'static Exercise> = Vec::new();
    for q in queries {
        let e = crate::exercise(q)?;
        if !chosen.iter().any(|c| c.number == e.number) {
            chosen.push(e);
        }
    }
    chosen.sort_by_key(|e| e.number);
    Ok(chosen)
}

/// Builds the exercises in the workspace at `root` and runs their checks.
pub fn check(
    root: &Path,
    exercises: &[&'static Exercise],
    jobs: usize,
    show_progress: bool,
) -> Result<Vec<ExerciseResult>> {
    let names: Vec<&str> = exercises.iter().map(|e| e.name).collect();
    let options = BuildOptions {
        show_progress,
        target_dir: None,
    };
    let built = build(root, &names, &options).context("cannot build the exercises")?;
    let items: Vec<_> = exercises
        .iter()
        .map(|e| (*e, built.binary(e.name).map(Path::to_path_buf)))
        .collect();
    let progress = StatusLine::new();
    let results = checks::run_exercises(&items, true, jobs, &|done, total| {
        if show_progress {
            progress.update(&format!("checking… {done}/{total}"));
        }
    });
    progress.finish();
    Ok(results)
}

/// The table, the failures explained, the summary. `--quiet` leaves out
/// the exercises that pass; `--verbose` lists every passing check too.
fn print_report(results: &[ExerciseResult], seconds: f64) {
    let paint = Paint::stdout();
    let verbosity = verbosity();
    // What the sandbox could promise: always with --verbose; otherwise only
    // when, as root, a protection was missing (an ordinary user has none of
    // them, and a student's laptop need not hear so on every check).
    if let Some(isolation) = checks::isolation(results) {
        let root =
            std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
        if verbosity == Verbosity::Verbose || (root && !isolation.missing.is_empty()) {
            outln!("{}", paint.dim(&format!("sandbox: {}", isolation.describe())));
        }
    }
    // Columns as wide as their longest entry, in characters.
    let label_w = results
        .iter()
        .map(|r| r.exercise.label().chars().count())
        .max()
        .unwrap_or(0);
    let title_w = results
        .iter()
        .map(|r| r.exercise.title.chars().count())
        .max()
        .unwrap_or(0);
    for r in results {
        if verbosity == Verbosity::Quiet && r.passed() {
            continue;
        }
        let mark = if r.passed() {
            paint.green("✓")
        } else {
            paint.red("✗")
        };
        let points = format!("{}/{}", r.score(), r.max_score());
        outln!(
            "{mark} {:<label_w$} {:<title_w$} {points:>6}",
            r.exercise.label(),
            r.exercise.title
        );
        if verbosity == Verbosity::Verbose {
            for c in r.checks.iter().filter(|c| c.passed()) {
                let hidden = if c.hidden { " (hidden check)" } else { "" };
                outln!(
                    "    {} {}{hidden} {}",
                    paint.green("✓"),
                    c.name,
                    paint.dim(&format!("{:.2} s", c.duration.as_secs_f64()))
                );
            }
        }
    }
    let failing: Vec<&ExerciseResult> = results.iter().filter(|r| !r.passed()).collect();
    for r in &failing {
        outln!();
        for c in r.checks.iter().filter(|c| !c.passed()) {
            let hidden = if c.hidden { " (hidden check)" } else { "" };
            // How soon the verdict came (a hang stopped early, or at the timeout).
            let took = match verbosity {
                Verbosity::Verbose => {
                    format!(" {}", paint.dim(&format!("{:.2} s", c.duration.as_secs_f64())))
                }
                _ => String::new(),
            };
            outln!(
                "{} {}: {}{hidden}{took}",
                paint.red("✗"),
                paint.bold(&r.exercise.label()),
                c.name
            );
            outln!("  {}", paint.dim(&format!("$ {}", c.command)));
            for line in c.output.lines() {
                outln!("  {line}");
            }
        }
        outln!("  {} {}", paint.bold("hint:"), r.exercise.hint);
        if let Some(command) = trace_command(r) {
            outln!(
                "  {} `{command}` shows its descriptor tables and pipes step by step",
                paint.bold("trace:")
            );
        }
    }
    let passed = results.len() - failing.len();
    let score: u32 = results.iter().map(ExerciseResult::score).sum();
    let max: u32 = results.iter().map(ExerciseResult::max_score).sum();
    outln!();
    outln!(
        "{passed}/{} exercises pass, {score}/{max} points, {seconds:.1} s",
        results.len()
    );
}

/// The exercises whose programs make pipes or processes: their failures are
/// what `cargo xtask trace` shows (a pipe never at end of file, a child
/// never waited for).
pub(crate) const TRACEABLE: [u8; 11] = [1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13];

/// `cargo xtask trace N -- ARGS` for the first failing check of `r` that
/// ran (not a compile error), when the exercise makes pipes or processes.
fn trace_command(r: &ExerciseResult) -> Option<String> {
    if !TRACEABLE.contains(&r.exercise.number) {
        return None;
    }
    let failed = r.checks.iter().find(|c| !c.passed() && c.isolation.is_some())?;
    let checks = (r.exercise.checks)();
    let check = checks.iter().find(|k| k.name == failed.name)?;
    let args = check.command_line("");
    let args = args.trim_start();
    let tail = if args.is_empty() {
        String::new()
    } else {
        format!(" -- {args}")
    };
    Some(format!("cargo xtask trace {}{tail}", r.exercise.number))
}
