//! Exercise 13, pipe-rules: what it must print, and its hint.

use crate::expect::{ensure, exited, indent, stderr_contains, stdout, stdout_contains, waited_for};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 13,
    name: "pipe-rules",
    dir: "13-pipe-rules",
    title: "The rules of pipes, by experiment",
    mirrors: "the lecture's questions about pipes",
    lesson: "which end is which, EBADF on the wrong end, EOF, EPIPE and SIGPIPE, PIPE_BUF, capacity: \
             each rule checked by an experiment",
    hint: "Rule 6: read returns 0 only once every write end is closed — drop the second one too \
           (drop(second)). Rule 7: a write with no reader needs the read end closed first \
           (drop(read_end)); Rust ignores SIGPIPE, so the write fails with EPIPE. Rule 8: the child \
           must give SIGPIPE its default action back (default_signal(libc::SIGPIPE)) before it \
           writes, so that the kernel's SIGPIPE kills it.",
    checks,
};

/// The table's header line, split into its columns.
const HEADER: [&str; 4] = ["rule", "expected", "observed", "verdict"];

/// What each rule must find, by number; `None` where it depends on the
/// machine (the pipe-max-size rules, judged apart).
const EXPECTED: [Option<&str>; 12] = [
    Some("read \"ping\""),
    Some("EBADF"),
    Some("EBADF"),
    Some("blocks (100 ms, nothing)"),
    Some("EAGAIN"),
    Some("1 byte, then 0 (EOF)"),
    Some("EPIPE"),
    Some("killed by SIGPIPE"),
    Some("0 of 256 torn"),
    Some("65536 bytes"),
    None,
    None,
];

/// One row of the table: `N. rule | expected | observed | verdict`.
#[derive(Debug)]
struct Row {
    number: usize,
    rule: String,
    expected: String,
    observed: String,
    verdict: String,
}

/// Reads the table: the header, a row per rule, the summary line.
fn parse(o: &Outcome) -> Result<(Vec<Row>, String), String> {
    let out = stdout(o);
    let mut lines: Vec<&str> = out.lines().collect();
    let split = |line: &str| -> Vec<String> { line.split(" | ").map(|c| c.trim().to_string()).collect() };
    ensure(lines.len() >= 2, || {
        format!(
            "expected a header, a row per rule and a summary, got:\n{}",
            indent(&out)
        )
    })?;
    let summary = lines.pop().unwrap_or_default().to_string();
    let header = split(lines[0]);
    ensure(header == HEADER, || {
        format!("expected the header {HEADER:?}, got {header:?}")
    })?;
    let mut rows = Vec::new();
    for line in &lines[1..] {
        let cells = split(line);
        let bad = || format!("not a row `N. rule | expected | observed | verdict`: {line:?}");
        let [rule, expected, observed, verdict] = <[String; 4]>::try_from(cells).map_err(|_| bad())?;
        let (number, rule) = rule.split_once(". ").ok_or_else(bad)?;
        rows.push(Row {
            number: number.parse().map_err(|_| bad())?,
            rule: rule.to_string(),
            expected,
            observed,
            verdict,
        });
    }
    Ok((rows, summary))
}

/// Exactly the rules `wanted`, in order, each as expected with the verdict
/// `ok`, the summary counting them; exit 0, the children waited for.
fn rules_hold(o: &Outcome, wanted: &[usize]) -> Verdict {
    let (rows, summary) = match parse(o) {
        Ok(table) => table,
        Err(why) => {
            // A program that crashed explains itself better by its status.
            exited(o, 0)?;
            return Err(why);
        }
    };
    let numbers_seen: Vec<usize> = rows.iter().map(|r| r.number).collect();
    ensure(numbers_seen == wanted, || {
        format!("expected the rules {wanted:?}, in this order, got {numbers_seen:?}")
    })?;
    let mut wrong = Vec::new();
    for row in &rows {
        let fixed = EXPECTED[row.number - 1];
        if let Some(expected) = fixed.filter(|e| row.expected != *e) {
            wrong.push(format!(
                "rule {} ({}): expected should be {expected:?}, not {:?}",
                row.number, row.rule, row.expected
            ));
        }
        if row.observed != row.expected || row.verdict != "ok" {
            wrong.push(format!(
                "rule {} ({}): expected {:?}, observed {:?}, verdict {:?}",
                row.number, row.rule, row.expected, row.observed, row.verdict
            ));
        }
    }
    ensure(wrong.is_empty(), || {
        format!("some rules did not hold:\n{}", indent(&wrong.join("\n")))
    })?;
    let n = wanted.len();
    ensure(
        summary.starts_with(&format!("{n} of {n} rules as expected (uid ")),
        || format!("expected the summary `{n} of {n} rules as expected (uid U, …)`, got {summary:?}"),
    )?;
    if let Some(row) = rows.iter().find(|r| r.number == 12) {
        privilege_honest(row, &summary)?;
    }
    if let Some(row) = rows.iter().find(|r| r.number == 11) {
        ensure(
            row.expected.ends_with(" bytes") && row.rule.starts_with("F_SETPIPE_SZ to pipe-max-size"),
            || format!("rule 11 grows a pipe to pipe-max-size and reports the bytes it got: {row:?}"),
        )?;
    }
    exited(o, 0)?;
    waited_for(o, "every child")
}

/// Rule 12 expects what its privilege allows: `EPERM` without
/// `CAP_SYS_RESOURCE` (the checker runs programs as nobody), the doubled
/// size with it; and the summary says which.
fn privilege_honest(row: &Row, summary: &str) -> Verdict {
    let privileged = summary.ends_with(", with CAP_SYS_RESOURCE)");
    let unprivileged = summary.ends_with(", without CAP_SYS_RESOURCE)")
        || summary.ends_with(", with CAP_SYS_RESOURCE in a user namespace only)");
    ensure(privileged || unprivileged, || {
        format!("the summary must say whether the program ran with CAP_SYS_RESOURCE: {summary:?}")
    })?;
    let honest = if privileged {
        row.rule.ends_with(", privileged") && row.expected.ends_with(" bytes")
    } else {
        row.rule.ends_with(", unprivileged") && row.expected == "EPERM"
    };
    ensure(honest, || {
        format!(
            "rule 12 must expect EPERM when unprivileged and success when privileged, and say \
             which; the summary says {summary:?} and the rule reads {:?} expecting {:?}",
            row.rule, row.expected
        )
    })
}

fn checks() -> Vec<Check> {
    vec![
        Check::public("every rule holds, decided by experiment", 6, |o| {
            rules_hold(o, &(1..=12).collect::<Vec<_>>())
        }),
        Check::public("rules 7 and 8 alone: EPIPE, then death by SIGPIPE", 2, |o| {
            rules_hold(o, &[7, 8])
        })
        .args(["7", "8"]),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: pipe-rules")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden(
            "rule 12 alone: the privilege reported matches the result",
            1,
            |o| rules_hold(o, &[12]),
        )
        .args(["12"]),
        Check::hidden("rules given twice and out of order run once, in order", 1, |o| {
            rules_hold(o, &[1, 6, 9])
        })
        .args(["9", "1", "6", "9"]),
        Check::hidden("a rule number out of range is a usage error, exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: pipe-rules")
        })
        .args(["13"]),
        // END HIDDEN
    ]
}
