//! Exercise 05, pipesizer: what it must print, and its hint.

use crate::expect::{ensure, exited, numbers, stderr_contains, stdout, stdout_contains, stdout_lines};
use crate::{Check, Exercise, Verdict};
use sandbox::{Outcome, Status};
use std::time::Duration;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 5,
    name: "pipesizer",
    dir: "05-pipesizer",
    title: "write blocks when the pipe is full",
    mirrors: "pipesizer.cc",
    lesson: "a pipe's buffer is finite: write blocks when it is full (65536 bytes on Linux)",
    hint: "Each turn of the loop puts one byte into a pipe that nobody reads. The kernel buffers it until the pipe is full; then write() blocks, and that hang is the expected end. With --nonblock the write end is switched to non-blocking first, so a write to a full pipe fails at once (EAGAIN, WouldBlock) instead of waiting.",
    checks,
};

/// A Linux pipe's default capacity: 16 pages of 4 KiB.
const CAPACITY: u64 = 65536;

/// How long a run that must block is given before it is stopped.
const BLOCKING_RUN: Duration = Duration::from_secs(3);

/// The program printed 1, 2, …, `capacity`, one per line, and then blocked
/// until the sandbox stopped it.
fn counted_then_blocked(o: &Outcome, capacity: u64) -> Verdict {
    let out = stdout(o);
    let mut expected = 1u64;
    for line in out.lines() {
        ensure(expected <= capacity, || {
            format!(
                "it kept counting past {capacity}: with the pipe full (nobody reads it), write \
                 number {expected} should have blocked"
            )
        })?;
        ensure(line == expected.to_string(), || {
            format!("line {expected} should be \"{expected}\", the running byte count, but it is {line:?}")
        })?;
        expected += 1;
    }
    let printed = expected - 1;
    ensure(printed == capacity, || {
        format!(
            "expected the counts 1 to {capacity} (the pipe's capacity), one per line, but the \
             last count printed was {printed}"
        )
    })?;
    ensure(out.ends_with('\n'), || {
        "the last count has no newline at its end".to_string()
    })?;
    // The sandbox stops a program that can never proceed either when it sees
    // the deadlock (the only reader of the full pipe is the blocked writer)
    // or at the timeout; both mean it blocked for good.
    ensure(matches!(o.status, Status::Deadlock | Status::TimedOut), || {
        format!(
            "expected write to block for good once the pipe was full (nobody reads it), but the \
             program {}",
            o.summary()
        )
    })
}

/// `pipe capacity: X bytes (F_GETPIPE_SZ says Y)` with X == Y == `capacity`, exit 0.
fn reported(o: &Outcome, capacity: i64) -> Verdict {
    exited(o, 0)?;
    const LINE: &str = "pipe capacity: {N} bytes (F_GETPIPE_SZ says {N})";
    stdout_lines(o, &[LINE])?;
    let found = numbers(LINE, stdout(o).trim_end(), o.pid).unwrap_or_default();
    ensure(found == [capacity, capacity], || {
        format!(
            "expected a capacity of {capacity} bytes, found by writing and by F_GETPIPE_SZ; got {found:?}"
        )
    })
}

fn checks() -> Vec<Check> {
    vec![
        Check::public("counts every byte, then blocks when the pipe is full", 4, |o| {
            counted_then_blocked(o, CAPACITY)
        })
        .timeout(BLOCKING_RUN),
        Check::public("--nonblock finds the capacity and exits", 3, |o| {
            reported(o, CAPACITY as i64)
        })
        .args(["--nonblock"]),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: pipesizer")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("--size 8192: blocks after 8192 bytes", 1, |o| {
            counted_then_blocked(o, 8192)
        })
        .args(["--size", "8192"])
        .timeout(BLOCKING_RUN),
        Check::hidden(
            "--nonblock --size 100000: the kernel rounds up to 131072",
            1,
            |o| reported(o, 131072),
        )
        .args(["--nonblock", "--size", "100000"]),
        Check::hidden("rejects an unknown argument with exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: pipesizer")
        })
        .args(["--bogus"]),
        // END HIDDEN
    ]
}
