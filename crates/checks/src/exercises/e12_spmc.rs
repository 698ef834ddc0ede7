//! Exercise 12, spmc: what it must print, and its hint.

use crate::expect::{ensure, exited, numbers, stderr_contains, stdout, stdout_contains, waited_for};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;
use std::sync::Mutex;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 12,
    name: "spmc",
    dir: "12-spmc",
    title: "One writer, workers competing",
    mirrors: "the lecture's single-producer, multiple-consumer pipe",
    lesson: "worker children compete for fixed-size work units on one pipe; every unit is done exactly once",
    hint: "A worker sees end of file on the work pipe only when no write end is left anywhere: each \
           worker must close its own inherited copy right after the fork (drop(work_tx)), and the \
           parent its copy once the last unit is written (drop(work_tx)). Without either, the workers \
           wait forever for more work and the parent waits forever for their results. In next_unit, \
           read into a buffer of exactly UNIT_SIZE bytes, once: a larger buffer can take several \
           units at once, or a unit and a half.",
    checks,
};

/// `1 unit`, `2 units`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The work: Collatz steps from `start` down to 1.
fn collatz_steps(start: u64) -> u64 {
    let (mut n, mut steps) = (start, 0);
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

/// The sum of [`collatz_steps`] over `1..=units`, worked out once per
/// `units` in a process: a grader checks hundreds of submissions with the
/// same arguments, and the 100000-unit sum is a tenth of a second of work.
fn collatz_sum(units: u64) -> u64 {
    static SUMS: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
    let known = SUMS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(u, _)| *u == units)
        .map(|(_, s)| *s);
    known.unwrap_or_else(|| {
        let sum = (1..=units).map(collatz_steps).sum();
        SUMS.lock().unwrap_or_else(|p| p.into_inner()).push((units, sum));
        sum
    })
}

/// Every one of `units` units done exactly once by `workers` workers: a
/// line per worker, in order, with counts that add up to `units`, then the
/// summary with the right sum of results; exit 0, every worker waited for.
fn exactly_once(o: &Outcome, workers: u64, units: u64) -> Verdict {
    exited(o, 0)?;
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().collect();
    let sum = collatz_sum(units);
    let summary = format!(
        "{} done, each exactly once, by {}; sum of results {sum}",
        plural(units, "unit"),
        plural(workers, "worker")
    );
    let shape = || {
        format!(
            "expected {workers} lines `worker W: N units`, one per worker in order, then\n    \
             {summary}\ngot:\n{out}"
        )
    };
    ensure(lines.len() == workers as usize + 1, shape)?;
    let mut done = 0;
    for (w, line) in (1..=workers).zip(&lines) {
        let found = numbers("worker {N}: {N} unit", line, o.pid)
            .or_else(|| numbers("worker {N}: {N} units", line, o.pid))
            .ok_or_else(shape)?;
        ensure(
            found[0] == w as i64 && *line == format!("worker {w}: {}", plural(found[1] as u64, "unit")),
            || format!("line {w} should be `worker {w}: N units` (`1 unit` for one), got {line:?}"),
        )?;
        done += found[1];
    }
    ensure(done == units as i64, || {
        format!("the workers' counts add up to {done}, but there were {units} units, each to be done once")
    })?;
    let last = lines[workers as usize];
    ensure(last == summary, || {
        format!("expected the last line to be\n    {summary}\ngot\n    {last}")
    })?;
    waited_for(o, "every worker")
}

fn checks() -> Vec<Check> {
    vec![
        Check::public("4 workers share 10000 units, each done exactly once", 5, |o| {
            exactly_once(o, 4, 10_000)
        }),
        Check::public("--workers 2 --units 300", 2, |o| exactly_once(o, 2, 300)).args([
            "--workers",
            "2",
            "--units",
            "300",
        ]),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: spmc")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden(
            "7 workers, 25000 units (a dozen pipefuls): each done exactly once",
            2,
            |o| exactly_once(o, 7, 25_000),
        )
        .args(["--workers", "7", "--units", "25000"]),
        Check::hidden("one worker, one unit", 1, |o| exactly_once(o, 1, 1)).args([
            "--workers",
            "1",
            "--units",
            "1",
        ]),
        Check::hidden("no units: every worker stops at once", 1, |o| {
            exactly_once(o, 3, 0)
        })
        .args(["--workers", "3", "--units", "0"]),
        Check::hidden("--workers 0 is a usage error, exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: spmc")
        })
        .args(["--workers", "0"]),
        // END HIDDEN
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collatz_steps_of_small_numbers() {
        assert_eq!(collatz_steps(1), 0);
        assert_eq!(collatz_steps(6), 8);
        assert_eq!(collatz_steps(27), 111);
        assert_eq!((1..=10_000).map(collatz_steps).sum::<u64>(), 849_666);
        // Worked out, then remembered: the same either way.
        assert_eq!(collatz_sum(10_000), 849_666);
        assert_eq!(collatz_sum(10_000), 849_666);
        assert_eq!(collatz_sum(1), 0);
    }
}
