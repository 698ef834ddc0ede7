//! Exercise 06, fork-process: what it must print, and its hint.

use crate::expect::{exited, stderr_contains, stdout_contains, stdout_lines_any_order, waited_for};
use crate::{Check, Exercise};

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 6,
    name: "fork-process",
    dir: "06-fork-process",
    title: "A child gets a copy of the globals",
    mirrors: "fork-process.cc",
    lesson: "fork copies the address space: the child changes its own copy of a global, never the parent's",
    hint: "After fork() each process has its own copy of PRECIOUS. The child doubles its copy (84) while the parent adds 1 to its own (43): neither sees the other's change. And a parent waits for the children it creates.",
    checks,
};

/// The two lines, in either order: parent and child race to print.
const LINES: &[&str] = &[
    "Hello from pid {P} (parent), precious=43",
    "Hello from pid {C} (child), precious=84",
];

fn checks() -> Vec<Check> {
    vec![
        Check::public("parent sees 43, child sees 84: each has its own copy", 4, |o| {
            exited(o, 0)?;
            stdout_lines_any_order(o, LINES)
        }),
        Check::public("the parent waits for its child", 2, |o| {
            exited(o, 0)?;
            stdout_lines_any_order(o, LINES)?;
            waited_for(o, "its child")
        }),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: fork-process")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("rejects an unknown argument with exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: fork-process")
        })
        .args(["--bogus"]),
        // END HIDDEN
    ]
}
