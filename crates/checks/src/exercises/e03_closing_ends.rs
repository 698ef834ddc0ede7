//! Exercise 03, closing-ends: what it must print, and its hint.

use crate::expect::{ensure, exited, stderr_contains, stdout, stdout_contains, stdout_lines, waited_for};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 3,
    name: "closing-ends",
    dir: "03-closing-ends",
    title: "EOF needs every write end closed",
    mirrors: "childpipe.cc, read until EOF",
    lesson: "a reader sees end of file only when every write end is closed, its own included",
    hint: "After fork() the parent still holds its own copy of the write end. While any write end is open anywhere — even in the reader itself — an empty pipe means \"nothing yet\", not \"nothing ever\", so read() never returns 0. In Rust a descriptor closes when its owner is dropped. Run `cargo xtask run 3 -- --keep-write-end` to see the hang explained.",
    checks,
};

/// What the child sends by default, as the parent prints it.
const DEFAULT_LINES: &[&str] = &[
    "I got a message! It was “Hello, mama!”",
    "I got a message! It was “I tidied my room.”",
    "I got a message! It was “Bye, mama!”",
];

const NO_MORE: &str = "No more messages :(";

/// How many messages the "many messages" check sends.
const MANY: usize = 300;

/// The size of the message that cannot fit one read (nor the pipe).
const LONG: usize = 100_000;

/// Exit 0, each of `messages` printed once in order, then "No more", clean.
fn received(o: &Outcome, messages: &[String]) -> Verdict {
    exited(o, 0)?;
    let lines: Vec<String> = messages
        .iter()
        .map(|m| format!("I got a message! It was “{m}”"))
        .chain([NO_MORE.to_string()])
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    stdout_lines(o, &lines)?;
    waited_for(o, "its child")
}

fn checks() -> Vec<Check> {
    vec![
        Check::public("reads every message, then sees end of file", 4, |o| {
            exited(o, 0)?;
            let mut lines = DEFAULT_LINES.to_vec();
            lines.push(NO_MORE);
            stdout_lines(o, &lines)?;
            waited_for(o, "its child")
        }),
        Check::public("--keep-write-end explains why EOF never comes", 2, |o| {
            // With its write end kept, the parent can never see end of file:
            // printing "No more messages" means it stopped reading early.
            let out = stdout(o);
            ensure(!out.contains(NO_MORE), || {
                format!(
                    "the parent printed {NO_MORE:?} although it kept its write end open, so end of \
                     file never came: it stopped reading before end of file. Read until read() \
                     returns 0; one read is not all the messages. It printed:\n{}",
                    crate::expect::indent(&out)
                )
            })?;
            exited(o, 1)?;
            stdout_lines(o, DEFAULT_LINES)?;
            let pid = o.pid;
            stderr_contains(
                o,
                &format!("the write end, is still open in this process (pid {pid})"),
            )?;
            stderr_contains(o, "a reader sees EOF only when every write end is closed")
        })
        .args(["--keep-write-end"]),
        Check::public("sends the messages given as arguments", 1, |o| {
            received(o, &["one".into(), "".into(), "two words".into()])
        })
        .args(["one", "", "two words"]),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: closing-ends")
        })
        .args(["--help"]),
        Check::public(
            "a message larger than one read (and than the pipe) comes out once",
            2,
            |o| received(o, &["x".repeat(LONG), "short".into()]),
        )
        .args(["x".repeat(LONG), "short".into()]),
        // BEGIN HIDDEN
        Check::hidden(
            "many messages, several per read, each printed once in order",
            2,
            |o| {
                let messages: Vec<String> = (1..=MANY).map(|i| format!("message {i}")).collect();
                received(o, &messages)
            },
        )
        .args((1..=MANY).map(|i| format!("message {i}"))),
        Check::hidden("rejects an unknown option with exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: closing-ends")
        })
        .args(["--bogus"]),
        // END HIDDEN
    ]
}
