//! Exercise 07, fork-thread: what it must print, and its hint.

use crate::expect::{
    exited, numbers, stderr_contains, stdout, stdout_contains, stdout_lines_any_order, waited_for,
};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 7,
    name: "fork-thread",
    dir: "07-fork-thread",
    title: "A thread is a process that shares the address space",
    mirrors: "fork-thread.cc",
    lesson: "clone(CLONE_VM) makes a process that shares its parent's memory: both changes land in one global",
    hint: "clone(2) is fork with switches: the flags say what to share. CLONE_VM shares the memory (without it, the child changes a copy and you see 43 and 84), CLONE_FS and CLONE_FILES the working directory and descriptor table; an exit signal of SIGCHLD lets waitpid wait for it. The new task needs its own stack, and stacks grow down. The parent must wait before it unmaps that stack.",
    checks,
};

/// The parent's line and the child's line, in either order. Without
/// `CLONE_THREAD` the clone child is its own process, so its pid differs.
const PARENT: &str = "Hello from pid {P}, precious={N}";
const CHILD: &str = "Hello from pid {C}, precious={N}";

/// The value at the end of the line matching `template`, if one does.
fn value(o: &Outcome, template: &str) -> Option<i64> {
    stdout(o)
        .lines()
        .find_map(|l| numbers(template, l, o.pid))
        .and_then(|n| n.last().copied())
}

/// Both lines are there, and their values show one shared global: 43 and 86
/// when the parent added first, 85 and 84 when the child doubled first.
fn shared_values(o: &Outcome) -> Verdict {
    exited(o, 0)?;
    stdout_lines_any_order(o, &[PARENT, CHILD])?;
    let (parent, child) = (value(o, PARENT), value(o, CHILD));
    match (parent, child) {
        (Some(43), Some(86)) | (Some(85), Some(84)) => Ok(()),
        (Some(43), Some(84)) => Err("the parent saw 43 and the child 84: each changed its own copy \
             of the global, as after fork. With CLONE_VM both change the same one (43 and 86, \
             or 85 and 84)"
            .to_string()),
        _ => Err(format!(
            "expected the parent and the child to print 43 and 86 (parent first) or 85 and 84 \
             (child first), got parent {parent:?}, child {child:?}"
        )),
    }
}

fn checks() -> Vec<Check> {
    vec![
        Check::public("both sides change one shared global", 4, shared_values),
        Check::public("the parent waits for the clone child", 2, |o| {
            shared_values(o)?;
            waited_for(o, "the clone child")
        }),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: fork-thread")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("rejects an unknown argument with exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: fork-thread")
        })
        .args(["--bogus"]),
        // END HIDDEN
    ]
}
