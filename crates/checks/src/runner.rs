//! Runs checks in the sandbox, several at a time, and collects the results.

use crate::{Check, Exercise};
use sandbox::{Isolation, Outcome, Spec, Status};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The result of one check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The check's name.
    pub name: &'static str,
    /// The command line it ran.
    pub command: String,
    /// Points earned: all or nothing.
    pub score: u32,
    /// Points it is worth.
    pub max_score: u32,
    /// Whether only graders see it.
    pub hidden: bool,
    /// Why it did not pass, as a type (`None`: it passed). What anything
    /// decides on; `output` is the same for people.
    pub failure: Option<Failure>,
    /// Why it failed (empty when it passed).
    pub output: String,
    /// How long the run took.
    pub duration: Duration,
    /// The protections the run had (`None` when nothing ran: a compile
    /// error, a sandbox failure).
    pub isolation: Option<Isolation>,
}

/// Why a check did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The exercise did not compile.
    DidNotCompile,
    /// The sandbox could not run the program: the machine's fault (out of
    /// processes for a moment), not the program's, so worth running again.
    Sandbox,
    /// The program ran, and the judge found what it did wrong.
    Judged,
    /// Grading's time budget ran out before the check could run (or finish).
    OutOfTime,
    /// The exercise is exactly as released.
    NotAttempted,
    /// The grader could not take the exercise's files from the submission
    /// (missing, unreadable) or lay them out.
    NotGraded,
}

impl CheckResult {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The results of one exercise's checks.
#[derive(Debug, Clone)]
pub struct ExerciseResult {
    /// Which exercise.
    pub exercise: &'static Exercise,
    /// One entry per check, in catalogue order.
    pub checks: Vec<CheckResult>,
}

impl ExerciseResult {
    /// Every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(CheckResult::passed)
    }

    /// Points earned.
    pub fn score(&self) -> u32 {
        self.checks.iter().map(|c| c.score).sum()
    }

    /// Points possible.
    pub fn max_score(&self) -> u32 {
        self.checks.iter().map(|c| c.max_score).sum()
    }
}

/// Runs one check of `exercise` against `binary` (or fails it with the
/// compile error when there is no binary).
pub fn run_check(exercise: &Exercise, check: &Check, binary: Result<&Path, &str>) -> CheckResult {
    run_nth_check(exercise, check, 0, binary)
}

/// [`run_check`] for the check at `index` in the exercise's list: only the
/// first one repeats a compile error in full, the others point to it.
fn run_nth_check(
    exercise: &Exercise,
    check: &Check,
    index: usize,
    binary: Result<&Path, &str>,
) -> CheckResult {
    let command = check.command_line(exercise.name);
    let start = Instant::now();
    let mut isolation = None;
    let verdict = match binary {
        Err(compile_error) if index == 0 => Err((
            Failure::DidNotCompile,
            format!("it did not compile:\n{compile_error}"),
        )),
        Err(_) => Err((
            Failure::DidNotCompile,
            "it did not compile (the error is shown under the first check)".to_string(),
        )),
        Ok(binary) => {
            let spec = Spec::new(binary)
                .args(check.args.iter())
                .stdin(check.stdin.clone())
                .timeout(check.timeout);
            match sandbox::run(&spec) {
                Ok(outcome) => {
                    isolation = Some(outcome.isolation.clone());
                    (check.judge)(&outcome).map_err(|why| (Failure::Judged, explain(&why, &outcome)))
                }
                Err(e) => Err((Failure::Sandbox, format!("the sandbox could not run it: {e}"))),
            }
        }
    };
    let (failure, output) = match verdict {
        Ok(()) => (None, String::new()),
        Err((failure, why)) => (Some(failure), why),
    };
    CheckResult {
        name: check.name,
        command,
        score: if failure.is_none() { check.points } else { 0 },
        max_score: check.points,
        hidden: check.hidden,
        failure,
        output,
        duration: start.elapsed(),
        isolation,
    }
}

/// The protections every run of `results` had, and each one some run
/// lacked with its reason (the first seen): the weakest of them, which is
/// what a report can promise. `None` when nothing ran.
pub fn isolation(results: &[ExerciseResult]) -> Option<Isolation> {
    let mut runs = results
        .iter()
        .flat_map(|r| &r.checks)
        .filter_map(|c| c.isolation.as_ref());
    let mut weakest = runs.next()?.clone();
    for run in runs {
        weakest.in_force.retain(|p| run.has(*p));
        for (p, why) in &run.missing {
            if !weakest.missing.iter().any(|(m, _)| m == p) {
                weakest.missing.push((*p, why.clone()));
            }
        }
    }
    weakest.missing.sort_by_key(|(p, _)| *p);
    Some(weakest)
}

/// Adds what the judge may not have said: how the program ended, the
/// sandbox's notes (processes left behind, the hang diagnosis) and the tail
/// of standard error.
fn explain(why: &str, o: &Outcome) -> String {
    let mut out = why.trim_end().to_string();
    let ended = format!("the program {}", o.summary());
    if !matches!(o.status, Status::Exited(0)) && !out.contains(&o.summary()) {
        out.push_str(&format!("\n{ended}"));
    }
    for note in &o.notes {
        out.push_str(&format!("\n{note}"));
    }
    let err = String::from_utf8_lossy(&o.stderr);
    let err = err.trim_end();
    if !err.is_empty() && !out.contains(err) {
        let tail: Vec<&str> = err.lines().rev().take(12).collect();
        out.push_str("\nits standard error ended with:");
        for line in tail.into_iter().rev() {
            out.push_str(&format!("\n    {line}"));
        }
    }
    out
}

/// Runs one exercise's checks (hidden ones too when asked), one at a time.
pub fn run_exercise(
    exercise: &'static Exercise,
    binary: Result<&Path, &str>,
    include_hidden: bool,
) -> ExerciseResult {
    let checks = (exercise.checks)()
        .iter()
        .filter(|c| include_hidden || !c.hidden)
        .enumerate()
        .map(|(k, c)| run_nth_check(exercise, c, k, binary))
        .collect();
    ExerciseResult { exercise, checks }
}

/// Runs the checks of many exercises on `jobs` threads; `on_done` is called
/// after each check with (done, total), for a progress indicator.
///
/// Results come back in the order of `exercises`, checks in catalogue order.
pub fn run_exercises(
    exercises: &[(&'static Exercise, Result<PathBuf, String>)],
    include_hidden: bool,
    jobs: usize,
    on_done: &(dyn Fn(usize, usize) + Sync),
) -> Vec<ExerciseResult> {
    let work: Vec<(usize, usize, Check)> = exercises
        .iter()
        .enumerate()
        .flat_map(|(i, (e, _))| {
            (e.checks)()
                .into_iter()
                .filter(|c| include_hidden || !c.hidden)
                .enumerate()
                .map(move |(j, c)| (i, j, c))
        })
        .collect();
    let total = work.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, usize, CheckResult)>> = Mutex::new(Vec::with_capacity(total));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(total.max(1)) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some((i, j, check)) = work.get(k) else { break };
                    let (exercise, binary) = &exercises[*i];
                    let binary = binary.as_deref().map_err(String::as_str);
                    let result = run_nth_check(exercise, check, *j, binary);
                    results
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((*i, *j, result));
                    on_done(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, j, _)| (*i, *j));
    let mut out: Vec<ExerciseResult> = exercises
        .iter()
        .map(|(e, _)| ExerciseResult {
            exercise: e,
            checks: Vec::new(),
        })
        .collect();
    for (i, _, r) in results {
        out[i].checks.push(r);
    }
    out
}

/// The number of checks to run at once: one per CPU.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
