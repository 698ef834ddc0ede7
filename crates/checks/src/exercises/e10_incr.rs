//! Exercise 10, incr: what it must print, and its hint.

use crate::expect::{ensure, exited, numbers, stderr_contains, stdout, stdout_contains, stdout_lines};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;
use std::time::Duration;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 10,
    name: "incr",
    dir: "10-incr",
    title: "Threads that share memory race",
    mirrors: "incr-basic.cc, incr-atomic.cc",
    lesson: "a read then a write of a shared counter loses updates when threads interleave; one atomic fetch_add does not",
    hint: "The racy increment is the lecture's n++ taken apart: read the counter, then store that value plus one — two separate atomic steps, relaxed, so another thread can come between them and one update is lost (no undefined behaviour: each step is atomic, just not the pair). The atomic version does the read-modify-write as one indivisible step (see AtomicU64's fetch_ methods).",
    checks,
};

/// Millions of increments on a loaded machine: give them room.
const SLOW: Duration = Duration::from_secs(20);

/// The single number the program printed.
fn count(o: &Outcome) -> Result<i64, String> {
    exited(o, 0)?;
    stdout_lines(o, &["{N}"])?;
    let out = stdout(o);
    Ok(numbers("{N}", out.trim_end(), o.pid)
        .and_then(|n| n.first().copied())
        .unwrap_or(-1))
}

/// Racy mode: some increments may be lost, none invented. (A check cannot
/// demand a loss: on one CPU the threads may never interleave mid-increment.)
fn at_most_40m(o: &Outcome) -> Verdict {
    let n = count(o)?;
    ensure(n > 0 && n <= 40_000_000, || {
        format!("expected a count between 1 and 40000000 (updates may be lost, never added), got {n}")
    })
}

fn checks() -> Vec<Check> {
    vec![
        Check::public("racy: prints a count of at most 4 × 10000000", 3, at_most_40m).timeout(SLOW),
        Check::public("--atomic: exactly 40000000", 3, |o| {
            exited(o, 0)?;
            stdout_lines(o, &["40000000"])
        })
        .args(["--atomic"])
        .timeout(SLOW),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: incr")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("--atomic --threads 3 --count 1000 prints 3000", 1, |o| {
            exited(o, 0)?;
            stdout_lines(o, &["3000"])
        })
        .args(["--atomic", "--threads", "3", "--count", "1000"]),
        Check::hidden("racy with one thread loses nothing", 1, |o| {
            exited(o, 0)?;
            stdout_lines(o, &["1000000"])
        })
        .args(["--threads", "1", "--count", "1000000"])
        .timeout(SLOW),
        Check::hidden("--threads 0 is a usage error (exit 2)", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: incr")
        })
        .args(["--threads", "0"]),
        // END HIDDEN
    ]
}
