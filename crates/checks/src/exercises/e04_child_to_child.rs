//! Exercise 04, child-to-child: what it must print, and its hint.

use crate::expect::{
    ensure, exited, stderr, stderr_contains, stdout, stdout_contains, stdout_lines, stdout_lines_any_order,
    waited_for,
};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 4,
    name: "child-to-child",
    dir: "04-child-to-child",
    title: "A pipe between two children",
    mirrors: "a pipe between two children (shell pipelines)",
    lesson: "pipe + fork + close + dup2 is how a shell builds `A | B`",
    hint: "Count the open ends: after the two forks, the parent still holds both. The reader sees end of file only when every write end is closed — the parent's too — and the parent is waiting for the reader. In pipeline mode, a program writes to fd 1 and reads fd 0 without knowing about your pipe: before exec, make those descriptor numbers refer to the pipe's ends (see dup2(2)).",
    checks,
};

/// Ran as a pipeline: exit `code`, exactly `lines` on stdout, nothing left behind.
fn pipeline(o: &Outcome, code: i32, lines: &[&str]) -> Verdict {
    exited(o, code)?;
    if lines.is_empty() {
        let out = stdout(o);
        ensure(out.is_empty(), || format!("expected no output, got:\n{out}"))?;
    } else {
        stdout_lines(o, lines)?;
    }
    waited_for(o, "both children")
}

fn checks() -> Vec<Check> {
    vec![
        Check::public(
            "the writer child sends, the reader child receives, the parent waits",
            4,
            |o| {
                exited(o, 0)?;
                stdout_lines_any_order(
                    o,
                    &[
                        "[writer: {C1}] sending “Hello, sibling!”",
                        "[reader: {C2}] got “Hello, sibling!”",
                        "[parent: {P}] writer {C1} exited with status 0",
                        "[parent: {P}] reader {C2} exited with status 0",
                    ],
                )?;
                // The reader can only report what the writer has sent.
                let out = stdout(o);
                let sent = out.find("[writer:").unwrap_or(usize::MAX);
                let got = out.find("[reader:").unwrap_or(0);
                ensure(sent < got, || {
                    format!("the reader reported before the writer sent:\n{out}")
                })?;
                waited_for(o, "both children")
            },
        ),
        Check::public(
            "printf 'b\\na\\n' -- sort prints what the shell pipeline prints",
            3,
            |o| pipeline(o, 0, &["a", "b"]),
        )
        .args(["printf", "b\\na\\n", "--", "sort"]),
        Check::public("true -- false: exits with the last command's status, 1", 1, |o| {
            pipeline(o, 1, &[])
        })
        .args(["true", "--", "false"]),
        Check::public("a command that does not exist: says so, status 127", 1, |o| {
            exited(o, 127)?;
            stderr_contains(o, "no-such-command-ipc-lab: command not found")?;
            waited_for(o, "both children")
        })
        .args(["true", "--", "no-such-command-ipc-lab"]),
        // A writer that outlives its reader must be stopped by SIGPIPE, which
        // comes only when no read end is left open: a parent that keeps its
        // copy of the read end makes `yes | head` run forever.
        Check::public(
            "yes -- head -n 2: the writer dies of SIGPIPE when head exits",
            2,
            |o| {
                pipeline(o, 0, &["y", "y"])?;
                let err = stderr(o);
                ensure(err.is_empty(), || {
                    format!(
                        "yes must die of SIGPIPE when head exits (restore SIGPIPE's default \
                     before exec), but it printed:\n{err}"
                    )
                })
            },
        )
        .args(["yes", "--", "head", "-n", "2"]),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: child-to-child")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("more than the pipe holds: seq 1 100000 -- tail -n 1", 2, |o| {
            pipeline(o, 0, &["100000"])
        })
        .args(["seq", "1", "100000", "--", "tail", "-n", "1"]),
        Check::hidden(
            "more than the pipe holds, cut short: seq 1 1000000 -- head -n 1",
            1,
            |o| pipeline(o, 0, &["1"]),
        )
        .args(["seq", "1", "1000000", "--", "head", "-n", "1"]),
        Check::hidden("the left command reads the program's stdin", 1, |o| {
            pipeline(o, 0, &["HELLO", "PIPE"])
        })
        .args(["cat", "--", "tr", "a-z", "A-Z"])
        .stdin("hello\npipe\n"),
        Check::hidden(
            "a missing left command: its error, the right one's status",
            1,
            |o| {
                stderr_contains(o, "no-such-command-ipc-lab: command not found")?;
                pipeline(o, 0, &[])
            },
        )
        .args(["no-such-command-ipc-lab", "--", "cat"]),
        Check::hidden("the last command killed by SIGKILL: status 137", 1, |o| {
            exited(o, 137)?;
            waited_for(o, "both children")
        })
        .args(["true", "--", "sh", "-c", "kill -KILL $$"]),
        Check::hidden("a missing '--' is a usage error, exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: child-to-child")
        })
        .args(["ls", "/"]),
        Check::hidden("an empty side is a usage error, exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: child-to-child")
        })
        .args(["ls", "--"]),
        // END HIDDEN
    ]
}
