//! Exercise 09, sharing: what it must print, and its hint.

use crate::expect::{ensure, exited, indent, stderr_contains, stdout, stdout_contains};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 9,
    name: "sharing",
    dir: "09-sharing",
    title: "What processes and threads share, measured",
    mirrors: "the lecture's table",
    lesson: "a forked child copies memory and the descriptor table but shares open files; threads share all but their stacks",
    hint: "Each cell is an experiment: one side (a forked child, or a thread) changes something, then the other side looks. For globals the child writes 1 and the parent checks whether it sees it. For descriptors there are two questions: does closing an fd in the child close the parent's (the table), and does the child's write move the parent's offset (the open file)? A thread that closes (drops) a file answers the table question for threads.",
    checks,
};

/// The table's header, in its three columns.
const HEADER: [&str; 3] = [
    "Resource",
    "Processes (parent/child)",
    "Threads (within same process)",
];

/// The lecture's table: resource, then the verdict for processes and for
/// threads. The lecture's "shared" file descriptors for processes is told in
/// its two halves: the open files are shared, the descriptor table copied.
const TABLE: [[&str; 3]; 5] = [
    ["code", "shared, read-only", "shared"],
    ["global variables", "copied", "shared"],
    ["heap", "copied", "shared"],
    ["stack", "copied", "not shared, each thread has its own"],
    ["file descriptors", "open files shared, fd table copied", "shared"],
];

/// One row of the printed table: the three cells of its first line, and
/// the evidence lines under the two verdicts, joined with spaces.
#[derive(Debug, Default)]
struct Row {
    cells: [String; 3],
    evidence: [String; 2],
}

/// Reads the table: a header, then per resource a rule of dashes, a line
/// with the verdicts, and lines of evidence whose first column is empty.
fn parse(o: &Outcome) -> Result<(Vec<String>, Vec<Row>), String> {
    let out = stdout(o);
    let split = |line: &str| -> Vec<String> { line.split('|').map(|c| c.trim().to_string()).collect() };
    let mut lines = out.lines();
    let header = split(lines.next().unwrap_or_default());
    let mut rows: Vec<Row> = Vec::new();
    for line in lines {
        if line.starts_with('-') {
            continue;
        }
        let cells = split(line);
        if cells.len() < 2 || cells.len() > 3 {
            return Err(format!(
                "this line is not a row of three columns split by '|': {line:?}"
            ));
        }
        let cell = |i: usize| cells.get(i).cloned().unwrap_or_default();
        if !cells[0].is_empty() {
            rows.push(Row {
                cells: [cell(0), cell(1), cell(2)],
                ..Row::default()
            });
        } else if let Some(row) = rows.last_mut() {
            for (evidence, text) in row.evidence.iter_mut().zip([cell(1), cell(2)]) {
                if !text.is_empty() {
                    if !evidence.is_empty() {
                        evidence.push(' ');
                    }
                    evidence.push_str(&text);
                }
            }
        } else {
            return Err(format!("an evidence line comes before any row: {line:?}"));
        }
    }
    Ok((header, rows))
}

/// The header and every verdict match the lecture's table.
fn verdicts(o: &Outcome) -> Verdict {
    exited(o, 0)?;
    let (header, rows) = parse(o)?;
    ensure(header == HEADER, || {
        format!("expected the header {HEADER:?}, got {header:?}")
    })?;
    let names: Vec<&str> = rows.iter().map(|r| r.cells[0].as_str()).collect();
    let expected: Vec<&str> = TABLE.iter().map(|r| r[0]).collect();
    ensure(names == expected, || {
        format!("expected the rows {expected:?} in this order, got {names:?}")
    })?;
    let mut wrong = Vec::new();
    for (row, want) in rows.iter().zip(TABLE) {
        for (column, i) in [("processes", 1), ("threads", 2)] {
            if row.cells[i] != want[i] {
                let mut line = format!(
                    "{} / {column}: expected {:?}, got {:?}",
                    want[0], want[i], row.cells[i]
                );
                if row.cells[i].ends_with("untested") {
                    line.push_str(
                        " — the child never closed its fd, so the experiment cannot tell whether \
                         closing it in one process closes it in the other",
                    );
                }
                wrong.push(line);
            }
        }
    }
    ensure(wrong.is_empty(), || {
        format!(
            "some verdicts differ from the lecture's table:\n{}",
            indent(&wrong.join("\n"))
        )
    })
}

/// Each verdict is backed by its evidence, with the values the experiments
/// must have seen.
fn evidence(o: &Outcome) -> Verdict {
    verdicts(o)?;
    let (_, rows) = parse(o)?;
    let must: [[&[&str]; 2]; 5] = [
        [&["in both", "Bad address"], &["in both"]],
        [
            &["child wrote 1", "parent still sees 0"],
            &["thread wrote 1", "main sees 1"],
        ],
        [
            &["child wrote 1", "parent still sees 0"],
            &["thread wrote 1", "main sees 1"],
        ],
        [
            &["child wrote 1", "parent still sees 0"],
            &["is outside it", "main sees 1"],
        ],
        [
            &["child wrote 5 bytes", "is still open", "0 -> 5"],
            &["closed too"],
        ],
    ];
    let mut missing = Vec::new();
    for (row, needles) in rows.iter().zip(must) {
        for (column, (text, needles)) in ["processes", "threads"]
            .iter()
            .zip(row.evidence.iter().zip(needles))
        {
            for needle in needles.iter().filter(|n| !text.contains(*n)) {
                missing.push(format!("{} / {column}: {needle:?} not in {text:?}", row.cells[0]));
            }
        }
    }
    ensure(missing.is_empty(), || {
        format!(
            "the evidence does not show what it should:\n{}",
            indent(&missing.join("\n"))
        )
    })
}

fn checks() -> Vec<Check> {
    vec![
        Check::public("every verdict matches the lecture's table", 4, verdicts),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: sharing")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("the evidence shows the values each experiment saw", 2, evidence),
        // Only the waiting: a wrong verdict is the first check's failure,
        // not this one's.
        Check::hidden("every forked child was waited for", 1, |o| {
            crate::expect::waited_for(o, "every forked child")
        }),
        Check::hidden("rejects an unknown argument with exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: sharing")
        })
        .args(["--bogus"]),
        // END HIDDEN
    ]
}
