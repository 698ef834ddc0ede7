//! Exercise 01, selfpipe: what it must print, and its hint.

use crate::expect::{exited, stderr_contains, stdout_lines};
use crate::{Check, Exercise};

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 1,
    name: "selfpipe",
    dir: "01-selfpipe",
    title: "A pipe is a kernel buffer",
    mirrors: "selfpipe.cc",
    lesson: "a pipe is a buffer in the kernel; one process can write into it and read it back",
    hint: "The bytes go in at one end and come out of the other. pipe() returns (read end, write end) — pfd[0] reads, pfd[1] writes, like stdin (0) and stdout (1). Which end does write() take? And how do you know the whole line went in?",
    checks,
};

fn checks() -> Vec<Check> {
    vec![
        Check::public("writes then reads its own line", 3, |o| {
            exited(o, 0)?;
            stdout_lines(o, &["Wrote Hello from pid {P}", "Read Hello from pid {P}"])
        }),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            crate::expect::stdout_contains(o, "Usage: selfpipe")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("rejects an unknown argument with exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: selfpipe")
        })
        .args(["--bogus"]),
        // END HIDDEN
    ]
}
