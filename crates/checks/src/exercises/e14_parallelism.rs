//! Exercise 14, parallelism: what it must print, and its hint.
//!
//! Timings differ from run to run and machine to machine, and the checks
//! run beside others on a shared machine: nothing here asks for a speed.
//! What is checked is what must hold on any machine: four runs reported, the
//! same result from each (the same work was done), pinned runs confined to
//! one CPU (seen on one, and using no more CPU time than wall time), and a
//! speed-up that is the ratio of the times printed.

use crate::expect::{ensure, exited, indent, stderr_contains, stdout, stdout_contains};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;
use std::time::Duration;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 14,
    name: "parallelism",
    dir: "14-parallelism",
    title: "Concurrency takes turns, parallelism runs at once",
    mirrors: "the lecture's \"Concurrency vs. Parallelism\"",
    lesson: "the same work split over two workers takes half the wall time only when two CPUs run them at once; pinned to one CPU they just take turns",
    hint: "Pinning: call sched_setaffinity(cpus) in measure() before starting the workers; \
           threads inherit the affinity of the thread that creates them, forked children that \
           of their parent. Processes: for each worker make a pipe, then fork; the child drops \
           the read end, computes work(i, steps_of(i, workers, steps)), writes \
           share.to_bytes() with write_all and leaves with _exit(0); the parent drops the write \
           end and keeps (pid, read_end). Then, for each child, read_share(&read_end) and \
           waitpid(pid, 0).",
    checks,
};

/// A few hundred milliseconds of work on a machine that others share.
const SLOW: Duration = Duration::from_secs(30);

/// Small enough to be quick, large enough to be sampled on each CPU.
const STEPS: &str = "20000000";

/// One row of the table: how, CPUs allowed, wall ms, CPU ms, CPUs seen, result.
#[derive(Debug)]
struct Row {
    kind: String,
    cpus: u64,
    wall: f64,
    cpu: f64,
    seen: u64,
    result: String,
}

/// The four rows must be threads, threads, processes, processes: the first
/// of each pinned to 1 CPU, the second free to use all `cpus`.
fn check_rows(rows: &[Row], cpus: u64) -> Verdict {
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    ensure(kinds == ["threads", "threads", "processes", "processes"], || {
        format!("expected four runs: threads, threads, processes, processes; got {kinds:?}")
    })?;
    for (i, row) in rows.iter().enumerate() {
        let pinned = i % 2 == 0;
        let want = if pinned { 1 } else { cpus };
        let which = format!("{} {}", if pinned { "pinned" } else { "free" }, row.kind);
        // The program reports what the workers themselves were allowed
        // (their affinity masks, read in the workers): the same on every
        // run, unlike the CPUs they happened to be seen on.
        ensure(row.cpus == want, || {
            if pinned {
                format!(
                    "the {which} run's workers were allowed {} CPUs, not 1: confine the thread \
                     that starts them (sched_setaffinity) before starting them",
                    row.cpus
                )
            } else {
                format!("the {which} run should use {want} CPU(s), but says {}", row.cpus)
            }
        })?;
        ensure(row.wall > 0.0 && row.cpu > 0.0, || {
            format!("the {which} run reports a wall or CPU time that is not positive: {row:?}")
        })?;
        ensure(row.seen >= 1 && row.seen <= row.cpus, || {
            format!(
                "the {which} run's workers were seen on {} CPUs, but it may use {}: were they \
                 confined (sched_setaffinity before starting them)?",
                row.seen, row.cpus
            )
        })?;
        // On one CPU a second of CPU time takes at least a second: allow
        // for accounting granularity, not for a second CPU.
        ensure(!pinned || row.cpu <= row.wall * 1.1 + 5.0, || {
            format!(
                "the {which} run used {:.1} ms of CPU time in {:.1} ms of wall time: more than one \
                 CPU was busy, so it was not pinned",
                row.cpu, row.wall
            )
        })?;
        ensure(
            row.result.len() == 16 && row.result.bytes().all(|b| b.is_ascii_hexdigit()),
            || format!("the result should be 16 hex digits, got {:?}", row.result),
        )?;
    }
    ensure(rows.iter().all(|r| r.result == rows[0].result), || {
        "the runs did the same work but report different results: each worker's result must \
         reach the parent (for processes, through the pipe)"
            .to_string()
    })
}

/// `speed-up with KIND: R (A ms pinned to 1 CPU, B ms free)`, where R is A / B.
fn check_speedup(line: &str, kind: &str, pinned: &Row, free: &Row) -> Verdict {
    let prefix = format!("speed-up with {kind}: ");
    let parsed = line.strip_prefix(&prefix).and_then(|rest| {
        let (ratio, rest) = rest.split_once(" (")?;
        let (a, rest) = rest.split_once(" ms pinned to 1 CPU, ")?;
        let b = rest.strip_suffix(" ms free)")?;
        Some((
            ratio.parse::<f64>().ok()?,
            a.parse::<f64>().ok()?,
            b.parse::<f64>().ok()?,
        ))
    });
    let Some((ratio, a, b)) = parsed else {
        return Err(format!(
            "expected \"{prefix}R (A ms pinned to 1 CPU, B ms free)\", got {line:?}"
        ));
    };
    ensure(a == pinned.wall && b == free.wall, || {
        format!("the speed-up line for {kind} should quote the wall times of its two runs: {line:?}")
    })?;
    // The times are printed to 0.1 ms, the ratio to 0.01.
    let expected = a / b;
    ensure((ratio - expected).abs() <= 0.011 + expected * 0.01, || {
        format!("{a} ms / {b} ms is {expected:.2}, but the speed-up printed is {ratio}")
    })
}

/// The whole human-readable output.
fn table(o: &Outcome) -> Verdict {
    exited(o, 0)?;
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().collect();
    ensure(lines.len() == 9, || {
        format!(
            "expected 9 lines (a title, a header, 4 runs, 2 speed-ups, an explanation), got {}:\n{}",
            lines.len(),
            indent(&out)
        )
    })?;
    let cpus = lines[0]
        .strip_prefix("parallelism: ")
        .and_then(|l| l.split_once(" steps of work; this process may use "))
        .and_then(|(_, rest)| rest.split_once(" CPU"))
        .and_then(|(n, _)| n.parse::<u64>().ok())
        .ok_or_else(|| {
            format!(
                "expected a first line \"parallelism: W workers share S steps of work; this process \
                 may use N CPUs\", got {:?}",
                lines[0]
            )
        })?;
    ensure(lines[1].split_whitespace().next() == Some("how"), || {
        format!("expected the table's header on line 2, got {:?}", lines[1])
    })?;
    let mut rows = Vec::new();
    for line in &lines[2..6] {
        let f: Vec<&str> = line.split_whitespace().collect();
        let row = match f[..] {
            [kind, cpus, wall, cpu, seen, result] => (|| {
                Some(Row {
                    kind: kind.to_string(),
                    cpus: cpus.parse().ok()?,
                    wall: wall.parse().ok()?,
                    cpu: cpu.parse().ok()?,
                    seen: seen.parse().ok()?,
                    result: result.to_string(),
                })
            })(),
            _ => None,
        };
        rows.push(row.ok_or_else(|| {
            format!("expected a run: how, CPUs, wall ms, CPU ms, CPUs seen on, result; got {line:?}")
        })?);
    }
    check_rows(&rows, cpus)?;
    check_speedup(lines[6], "threads", &rows[0], &rows[1])?;
    check_speedup(lines[7], "processes", &rows[2], &rows[3])?;
    let why = lines[8];
    if cpus == 1 {
        ensure(why.contains("no speed-up"), || {
            format!("with 1 CPU the last line should say why there is no speed-up, got {why:?}")
        })
    } else {
        ensure(why.contains("parallelism") && why.contains("concurrency"), || {
            format!(
                "the last line should explain the speed-up (parallelism on {cpus} CPUs vs \
                 concurrency on one), got {why:?}"
            )
        })
    }
}

/// The `--tsv` output: `cpus N`, four `run` lines, two `speedup` lines whose
/// ratios are the ratios of the microseconds printed.
fn tsv(o: &Outcome) -> Verdict {
    exited(o, 0)?;
    let out = stdout(o);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    let shape: Vec<&str> = lines.iter().map(|l| l[0]).collect();
    ensure(
        shape == ["cpus", "run", "run", "run", "run", "speedup", "speedup"],
        || {
            format!(
                "expected the lines cpus, run ×4, speedup ×2 (tab-separated), got:\n{}",
                indent(&out)
            )
        },
    )?;
    let cpus: u64 = lines[0]
        .get(1)
        .and_then(|n| n.parse().ok())
        .ok_or("the cpus line has no number")?;
    let mut rows = Vec::new();
    for l in &lines[1..5] {
        let number = |i: usize| l.get(i).and_then(|v| v.parse::<u64>().ok());
        let row = match (l.len(), number(2), number(3), number(4), number(5)) {
            (7, Some(cpus), Some(wall), Some(cpu), Some(seen)) => Row {
                kind: l[1].to_string(),
                cpus,
                wall: wall as f64 / 1000.0,
                cpu: cpu as f64 / 1000.0,
                seen,
                result: l[6].to_string(),
            },
            _ => {
                return Err(format!(
                    "expected run KIND CPUS WALL_US CPU_US SEEN RESULT, got {l:?}"
                ));
            }
        };
        rows.push(row);
    }
    check_rows(&rows, cpus)?;
    for (l, kind, pinned, free) in [
        (&lines[5], "threads", &rows[0], &rows[1]),
        (&lines[6], "processes", &rows[2], &rows[3]),
    ] {
        let ratio = l.get(2).and_then(|r| r.parse::<f64>().ok());
        ensure(l.len() == 3 && l[1] == kind && ratio.is_some(), || {
            format!("expected speedup\t{kind}\tRATIO, got {l:?}")
        })?;
        let expected = pinned.wall / free.wall;
        let ratio = ratio.unwrap_or_default();
        ensure((ratio - expected).abs() <= 0.006, || {
            format!("the {kind} speed-up should be {expected:.2} (pinned wall / free wall), got {ratio}")
        })?;
    }
    Ok(())
}

fn checks() -> Vec<Check> {
    vec![
        Check::public(
            "four runs, one result, pinned runs on one CPU, the speed-up and why",
            4,
            table,
        )
        .args(["--steps", STEPS])
        .timeout(SLOW),
        Check::public("--tsv: the same numbers, machine-readable and consistent", 2, tsv)
            .args(["--tsv", "--steps", STEPS])
            .timeout(SLOW),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: parallelism")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("3 workers and an uneven split agree on the result", 1, table)
            .args(["--workers", "3", "--steps", "9000001"])
            .timeout(SLOW),
        Check::hidden("--tsv with one worker", 1, tsv)
            .args(["--tsv", "--workers", "1", "--steps", "5000000"])
            .timeout(SLOW),
        Check::hidden("--workers 0 is a usage error (exit 2)", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: parallelism")
        })
        .args(["--workers", "0"]),
        // END HIDDEN
    ]
}
