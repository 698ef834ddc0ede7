//! Exercise 15, spawn-cost: what it must print, and its hint.
//!
//! No check asks for a speed (the machine is shared, and timings vary): they
//! check that every measurement is reported, with a positive median no
//! larger than its 90th percentile, over the number of runs asked for, and
//! that the closing ratio line agrees with the medians printed.
//!
//! What the lesson rests on — fork's cost grows with the memory the parent
//! has *touched* — is judged by what the program reports about that memory:
//! how much of it is resident (`mincore`) after touching. That number does
//! not depend on the machine's load: a page written is a page present (there
//! is no swap in the sandbox's way: it would have to evict a page written a
//! moment ago). A touch that misses pages (a run of consecutive bytes, one
//! byte per KiB of a 16 MiB area) leaves most of them absent, and fork then
//! looks cheap (the issue measured 1.1× from 0 to 16 MiB for such a mistake,
//! 4.5× for the reference). The check wants at least [`MIN_RESIDENT`] of
//! the area resident: the reference has all of it, every run.

use crate::expect::{ensure, exited, indent, stderr_contains, stdout, stdout_contains};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;
use std::time::Duration;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 15,
    name: "spawn-cost",
    dir: "15-spawn-cost",
    title: "What \"forking is expensive\" means",
    mirrors: "the lecture's \"forking would be expensive\"",
    lesson: "fork copies the parent's page tables, so its cost grows with the memory the parent has touched; posix_spawn and threads copy nothing",
    hint: "fork_and_wait: match unsafe { fork() } — the child calls _exit(0) at once, the \
           parent calls expect_success(pid), which waits for it. spawn_and_wait: \
           posix_spawn(argv) gives the child's pid without copying this process; wait for it the \
           same way. Touched::new: a page of a fresh mapping is not there until it is written, \
           so write one byte every page_size() bytes (bytes.iter_mut().step_by(page_size())).",
    checks,
};

/// Dozens of forks and execs on a machine that others share.
const SLOW: Duration = Duration::from_secs(30);

/// The four measurements of the first table, in order, as labelled there
/// and as keyed in `--tsv` lines.
const FIRST: [(&str, &str); 4] = [
    ("fork + waitpid", "fork"),
    ("fork + exec /bin/true", "fork-exec"),
    ("posix_spawn /bin/true", "posix_spawn"),
    ("thread spawn + join", "thread"),
];

/// The three measurements repeated after touching memory.
const PER_SIZE: [&str; 3] = ["fork", "fork-exec", "posix_spawn"];

/// The smallest number of runs a time-budgeted measurement makes.
const MIN_RUNS: u64 = 5;

/// The share of the touched area that must be resident afterwards.
const MIN_RESIDENT: f64 = 0.95;

/// The memory said to be touched is there: at least [`MIN_RESIDENT`] of
/// `mib` MiB resident.
fn check_resident(mib: u64, resident_mib: f64) -> Verdict {
    let wanted = mib as f64 * MIN_RESIDENT;
    ensure(resident_mib >= wanted && resident_mib <= mib as f64 + 0.5, || {
        format!(
            "after touching {mib} MiB only {resident_mib:.1} MiB of it is resident: pages that \
             were never written are not there, so fork has nothing to copy and looks cheap. \
             Write one byte in every page (page_size() bytes apart)"
        )
    })
}

/// A median and 90th percentile that make sense.
fn check_stats(what: &str, median: f64, p90: f64) -> Verdict {
    ensure(median > 0.0 && median <= p90, || {
        format!("{what}: the median ({median}) must be positive and at most the 90th percentile ({p90})")
    })
}

/// The human-readable tables for memory sizes `sizes`; `runs` is the exact
/// number of runs asked for, or `None` for a time budget.
fn tables(o: &Outcome, sizes: &[u64], runs: Option<u64>) -> Verdict {
    exited(o, 0)?;
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().collect();
    let ratio_line = usize::from(sizes.len() > 1);
    let want = 2 + FIRST.len() + 2 + sizes.len() + ratio_line;
    ensure(lines.len() == want, || {
        format!(
            "expected {want} lines (a title, the four measurements with a header, then one line \
             per memory size with a header{}), got {}:\n{}",
            if ratio_line == 1 {
                ", then the ratio line"
            } else {
                ""
            },
            lines.len(),
            indent(&out)
        )
    })?;
    ensure(lines[0].starts_with("spawn-cost: "), || {
        format!("expected the title line first, got {:?}", lines[0])
    })?;
    for (line, (label, _)) in lines[2..6].iter().zip(FIRST) {
        let numbers: Vec<f64> = line
            .strip_prefix(label)
            .map(|rest| rest.split_whitespace().filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_default();
        let [count, median, p90] = numbers[..] else {
            return Err(format!("expected \"{label}  RUNS MEDIAN P90\", got {line:?}"));
        };
        check_runs(label, count as u64, runs)?;
        check_stats(label, median, p90)?;
    }
    ensure(
        lines[6].starts_with("after the parent touched some memory"),
        || format!("expected the memory table's title on line 7, got {:?}", lines[6]),
    )?;
    let mut medians = Vec::new();
    for (line, &mib) in lines[8..8 + sizes.len()].iter().zip(sizes) {
        let numbers: Vec<f64> = line
            .trim_start()
            .strip_prefix(&format!("{mib} MiB"))
            .map(|rest| rest.split_whitespace().filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_default();
        let [resident, fork, fork_exec, spawn] = numbers[..] else {
            return Err(format!(
                "expected \"{mib} MiB\", the resident MiB and three medians (fork, fork + exec, \
                 posix_spawn), got {line:?}"
            ));
        };
        check_resident(mib, resident)?;
        ensure(fork > 0.0 && fork_exec > 0.0 && spawn > 0.0, || {
            format!("every median must be positive: {line:?}")
        })?;
        medians.push((fork, spawn));
    }
    if ratio_line == 0 {
        return Ok(());
    }
    let (low, high) = (sizes[0], sizes[sizes.len() - 1]);
    let line = lines[want - 1];
    let prefix = format!("from {low} to {high} MiB touched, fork + waitpid costs ");
    let parsed = line.strip_prefix(&prefix).and_then(|rest| {
        let (fork, rest) = rest.split_once("× as much, posix_spawn ")?;
        let spawn = rest.strip_suffix('×')?;
        Some((fork.parse::<f64>().ok()?, spawn.parse::<f64>().ok()?))
    });
    let Some((fork_ratio, spawn_ratio)) = parsed else {
        return Err(format!(
            "expected \"{prefix}A× as much, posix_spawn B×\", got {line:?}"
        ));
    };
    let (first, last) = (medians[0], medians[medians.len() - 1]);
    for (what, printed, expected) in [
        ("fork + waitpid", fork_ratio, last.0 / first.0),
        ("posix_spawn", spawn_ratio, last.1 / first.1),
    ] {
        ensure((printed - expected).abs() <= 0.06 + expected * 0.02, || {
            format!(
                "{what}'s ratio should be its median at {high} MiB over its median at {low} MiB, \
                 {expected:.1}, but {printed} is printed"
            )
        })?;
    }
    Ok(())
}

fn check_runs(what: &str, count: u64, runs: Option<u64>) -> Verdict {
    match runs {
        Some(n) => ensure(count == n, || {
            format!("{what}: asked for {n} runs, it reports {count}")
        }),
        None => ensure(count >= MIN_RUNS, || {
            format!("{what}: at least {MIN_RUNS} runs, however slow, but it reports {count}")
        }),
    }
}

/// The `--tsv` lines: four `cost` lines, then per size a `touched` line
/// (MiB, resident bytes) and three `memory` lines.
fn tsv(o: &Outcome, sizes: &[u64], runs: u64) -> Verdict {
    exited(o, 0)?;
    let out = stdout(o);
    let mut lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    let mut touched = Vec::new();
    lines.retain(|fields| {
        let is_touched = fields.first() == Some(&"touched");
        if is_touched {
            touched.push(fields.clone());
        }
        !is_touched
    });
    ensure(touched.len() == sizes.len(), || {
        format!(
            "expected one line touched\tMIB\tRESIDENT_BYTES per size ({}), got {}:\n{}",
            sizes.len(),
            touched.len(),
            indent(&out)
        )
    })?;
    for (fields, &mib) in touched.iter().zip(sizes) {
        let bytes = match fields[..] {
            [_, m, b] if m == mib.to_string() => b.parse::<u64>().ok(),
            _ => None,
        };
        let Some(bytes) = bytes else {
            return Err(format!(
                "expected touched\t{mib}\tRESIDENT_BYTES, got {:?}",
                fields.join("\t")
            ));
        };
        check_resident(mib, bytes as f64 / f64::from(1 << 20))?;
    }
    let mut expected: Vec<(String, String)> = FIRST
        .iter()
        .map(|(_, key)| ("cost".to_string(), key.to_string()))
        .collect();
    for mib in sizes {
        for key in PER_SIZE {
            expected.push((format!("memory\t{mib}"), key.to_string()));
        }
    }
    ensure(lines.len() == expected.len(), || {
        format!(
            "expected {} tab-separated lines (4 cost lines, 3 memory lines per size), got:\n{}",
            expected.len(),
            indent(&out)
        )
    })?;
    for (fields, (head, key)) in lines.iter().zip(&expected) {
        let n = head.split('\t').count();
        let stats: Vec<u64> = fields.iter().skip(n + 1).filter_map(|v| v.parse().ok()).collect();
        ensure(
            fields.len() == n + 4 && fields[..n].join("\t") == *head && fields[n] == key && stats.len() == 3,
            || {
                format!(
                    "expected {head}\t{key}\tRUNS\tMEDIAN_NS\tP90_NS, got {:?}",
                    fields.join("\t")
                )
            },
        )?;
        check_runs(&format!("{head} {key}"), stats[0], Some(runs))?;
        check_stats(&format!("{head} {key}"), stats[1] as f64, stats[2] as f64)?;
    }
    Ok(())
}

fn checks() -> Vec<Check> {
    vec![
        Check::public(
            "--quick: every measurement and the memory table, consistent",
            3,
            |o| tables(o, &[0, 16], None),
        )
        .args(["--quick"])
        .timeout(SLOW),
        Check::public("--tsv with 5 runs each over 0 and 8 MiB", 2, |o| {
            tsv(o, &[0, 8], 5)
        })
        .args(["--tsv", "--iterations", "5", "--sizes", "0,8"])
        .timeout(SLOW),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: spawn-cost")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("one size, 7 runs each: no ratio line", 1, |o| {
            tables(o, &[4], Some(7))
        })
        .args(["--iterations", "7", "--sizes", "4"])
        .timeout(SLOW),
        // The default sizes, with one run each: whether 512 MiB fits the
        // sandbox is the question, not how stable the timings are (and
        // touching 512 MiB is most of a grader's time on this exercise).
        Check::hidden("the default sizes fit the sandbox: 0, 64 and 512 MiB", 1, |o| {
            tables(o, &[0, 64, 512], Some(1))
        })
        .args(["--iterations", "1"])
        .timeout(Duration::from_secs(60)),
        Check::hidden("--sizes 0,x is a usage error (exit 2)", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: spawn-cost")
        })
        .args(["--sizes", "0,x"]),
        // END HIDDEN
    ]
}
