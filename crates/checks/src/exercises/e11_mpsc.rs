//! Exercise 11, mpsc: what it must print, and its hint.

use crate::expect::{
    ensure, exited, numbers, stderr_contains, stdout, stdout_contains, stdout_lines, waited_for,
};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 11,
    name: "mpsc",
    dir: "11-mpsc",
    title: "Many writers, one reader",
    mirrors: "the lecture's multiple-producer, single-consumer pipe",
    lesson: "writes of at most PIPE_BUF bytes never interleave; EOF comes after the last writer closes; \
             larger writes can tear",
    hint: "Each writer must send each record with ONE write (write_all(write_end, &record)): a write of \
           at most PIPE_BUF (4096) bytes lands in the pipe whole, but two writes — a header, then a \
           body — can have another writer's bytes between them. The parent must close its own write \
           end after the forks (drop(write_end)), or its read never sees end of file: the writers \
           exit, but the parent itself still holds a write end.",
    checks,
};

/// The largest write that is never interleaved, on Linux.
const PIPE_BUF: u64 = 4096;

/// `1 writer`, `4 writers`.
fn writers_text(writers: u64) -> String {
    if writers == 1 {
        "1 writer".to_string()
    } else {
        format!("{writers} writers")
    }
}

/// Every one of `writers` writers got all its `messages` records of `size`
/// bytes through whole: exact lines, exit 0, every child waited for.
fn all_whole(o: &Outcome, writers: u64, messages: u64, size: u64) -> Verdict {
    exited(o, 0)?;
    let mut lines: Vec<String> = (1..=writers)
        .map(|w| format!("writer {w}: {messages} of {messages} records whole"))
        .collect();
    lines.push(format!(
        "{} × {messages} records of {size} bytes: {} whole, 0 torn, 0 missing",
        writers_text(writers),
        writers * messages
    ));
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    stdout_lines(o, &lines)?;
    waited_for(o, "every writer")
}

/// What a reader that cuts records into pieces shows: more records than
/// were sent. Named, since the totals alone look like tearing.
fn pieces_not_records(whole: i64, torn: i64, all: i64) -> Verdict {
    ensure(whole + torn <= all, || {
        format!(
            "{whole} whole + {torn} torn records, but only {all} were sent: the reader cut records \
             into pieces. A read() returns at most what the pipe holds at that moment (a pipe \
             holds 65536 bytes), so one read is not one record: read until the record is full"
        )
    })
}

/// One writer, records above `PIPE_BUF`: nobody else writes, so nothing can
/// tear them; all arrive whole, and the closing line says none tore.
fn one_writer_whole(o: &Outcome, messages: u64, size: u64) -> Verdict {
    exited(o, 0)?;
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().collect();
    let totals =
        format!("1 writer × {messages} records of {size} bytes: {{N}} whole, {{N}} torn, {{N}} missing");
    if let Some(found) = lines.get(1).and_then(|l| numbers(&totals, l, o.pid)) {
        pieces_not_records(found[0], found[1], messages as i64)?;
    }
    let whole = format!("writer 1: {messages} of {messages} records whole");
    let totals =
        format!("1 writer × {messages} records of {size} bytes: {messages} whole, 0 torn, 0 missing");
    let none =
        format!("none torn this time: writes above PIPE_BUF ({PIPE_BUF} bytes) may interleave, but need not");
    stdout_lines(o, &[whole.as_str(), totals.as_str(), none.as_str()])?;
    waited_for(o, "every writer")
}

/// Above `PIPE_BUF` any number of torn records is fine, but the report must
/// add up: a line per writer, whole counts that sum to the total, whole +
/// torn = every record, none missing, and the closing line that matches the
/// torn count (or says that none tore this time).
fn honest_totals(o: &Outcome, writers: u64, messages: u64, size: u64) -> Verdict {
    exited(o, 0)?;
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().collect();
    let shape = || {
        format!(
            "expected {writers} lines `writer W: X of {messages} records whole`, the totals line and \
             a line on tearing; got:\n{out}"
        )
    };
    ensure(lines.len() == writers as usize + 2, shape)?;
    let mut whole_sum = 0;
    for (w, line) in (1..=writers).zip(&lines) {
        let template = format!("writer {{N}}: {{N}} of {messages} records whole");
        let found = numbers(&template, line, o.pid).ok_or_else(shape)?;
        ensure(found[0] == w as i64, || {
            format!("the writer lines must be in order, 1 to {writers}; line {w} is {line:?}")
        })?;
        ensure((0..=messages as i64).contains(&found[1]), || {
            format!("writer {w} cannot have more than {messages} whole records: {line:?}")
        })?;
        whole_sum += found[1];
    }
    let totals = format!(
        "{} × {messages} records of {size} bytes: {{N}} whole, {{N}} torn, {{N}} missing",
        writers_text(writers)
    );
    let found = numbers(&totals, lines[writers as usize], o.pid).ok_or_else(shape)?;
    let (whole, torn, missing) = (found[0], found[1], found[2]);
    ensure(whole == whole_sum, || {
        format!("the writers' whole records add up to {whole_sum}, but the totals line says {whole}")
    })?;
    let all = (writers * messages) as i64;
    pieces_not_records(whole, torn, all)?;
    ensure(missing == 0 && whole + torn == all, || {
        format!(
            "every byte arrives, so the {all} records must all be there, whole or torn: got {whole} \
             whole + {torn} torn, {missing} missing"
        )
    })?;
    let last = lines[writers as usize + 1];
    let expected = if torn == 0 {
        format!("none torn this time: writes above PIPE_BUF ({PIPE_BUF} bytes) may interleave, but need not")
    } else {
        format!(
            "{torn} records failed the check: writes above PIPE_BUF ({PIPE_BUF} bytes) were \
             interleaved with other writers' writes"
        )
    };
    ensure(last == expected, || {
        format!("expected the last line to be\n    {expected}\ngot\n    {last}")
    })?;
    waited_for(o, "every writer")
}

fn checks() -> Vec<Check> {
    vec![
        Check::public(
            "4 writers × 1000 records of PIPE_BUF bytes: every record whole, none missing",
            4,
            |o| all_whole(o, 4, 1000, PIPE_BUF),
        ),
        Check::public(
            "2 writers × 3000 small records (100 bytes): every record whole",
            2,
            |o| all_whole(o, 2, 3000, 100),
        )
        .args(["--writers", "2", "--messages", "3000", "--size", "100"]),
        // One writer cannot tear its own records, so every one of these must
        // arrive whole whatever the timing; but a record of 100000 bytes
        // never fits one read (the pipe holds 65536), so a reader that takes
        // one read for a record cuts every record into pieces.
        Check::public(
            "1 writer × 20 records of 100000 bytes: every record whole (one read is not a record)",
            2,
            |o| one_writer_whole(o, 20, 100_000),
        )
        .args(["--writers", "1", "--messages", "20", "--size", "100000"]),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: mpsc")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden(
            "9 writers × 10000 records of 16 bytes: every record whole",
            2,
            |o| all_whole(o, 9, 10_000, 16),
        )
        // Each writer sends more than the pipe holds, so the writers block
        // and take turns many times: a record made of two writes tears on
        // every run, even with all nine on one CPU.
        .args(["--writers", "9", "--messages", "10000", "--size", "16"]),
        Check::hidden(
            "--size 100000 (above PIPE_BUF): torn records counted honestly, totals add up",
            2,
            |o| honest_totals(o, 4, 40, 100_000),
        )
        .args(["--messages", "40", "--size", "100000"]),
        Check::hidden("one writer, no records: end of file at once", 1, |o| {
            all_whole(o, 1, 0, PIPE_BUF)
        })
        .args(["--writers", "1", "--messages", "0"]),
        Check::hidden(
            "a record smaller than its header is a usage error, exit 2",
            1,
            |o| {
                exited(o, 2)?;
                stderr_contains(o, "Usage: mpsc")
            },
        )
        .args(["--size", "15"]),
        // END HIDDEN
    ]
}
