//! Exercise 02, childpipe: what it must print, and its hint.

use crate::expect::{exited, stderr_contains, stdout_contains, stdout_lines, waited_for};
use crate::{Check, Exercise};

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 2,
    name: "childpipe",
    dir: "02-childpipe",
    title: "A pipe outlives fork",
    mirrors: "childpipe.cc",
    lesson: "fork duplicates the descriptors, not the pipe: a child can write to its parent through it",
    hint: "fork() gave the child its own copies of both pipe ends, but there is still one pipe. The child's job is to put the whole message into its end that writes; the parent's read() is already waiting. Afterwards the parent has one more duty towards the child it created, or the child stays a zombie.",
    checks,
};

/// The two lines, in this order: the child prints before it writes, and the
/// parent cannot print before its read returns.
const LINES: &[&str] = &[
    "[child: {C}] sending message",
    "[parent: {P}] I got a message! It was “Hello, mama!”",
];

fn checks() -> Vec<Check> {
    vec![
        Check::public("the child sends, the parent receives", 4, |o| {
            exited(o, 0)?;
            stdout_lines(o, LINES)
        }),
        Check::public("the parent waits for its child", 2, |o| {
            exited(o, 0)?;
            stdout_lines(o, LINES)?;
            waited_for(o, "its child")
        }),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: childpipe")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("rejects an unknown argument with exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: childpipe")
        })
        .args(["--bogus"]),
        // END HIDDEN
    ]
}
