//! `cargo xtask bench isolation`: a class where full submissions sit
//! between hostile ones, graded three times, and what the hostile ones
//! managed; then the sandbox's cost per run, side by side in one run.
//!
//! Each hostile submission is a full one with one exercise replaced by a
//! program from `xtask/fixtures/`: a fork bomb that never stops trying
//! (02), 64 spinning threads (03), a leaver of files in /tmp, /var/tmp and
//! /dev/shm (01), a caller of a port on 127.0.0.1 where this bench listens
//! (04), and a reader of the grading workspace's hidden checks (05). The
//! report says, for three rounds of grading the class with `--force`:
//! every full submission's score (goal: full marks every time), the points
//! each hostile one lost outside its own exercise (goal: 0), the files
//! left, the connections made and whether the hidden checks reached a
//! results file (goal: none); then the seconds to grade one full
//! submission and one fork bomb alone, compiled already, three times each
//! by turns (goal: the bomb's median at most 1.5× the full one's).
//!
//! Last, the cost of one sandbox run of `/bin/true` with every protection,
//! without the namespaces, and also without a user of its own: the
//! differences are what the namespaces and the uid switch cost.

use crate::bench_grade::{Kind, Scratch, write_sources};
use crate::term::{out, outln};
use anyhow::{Context as _, Result, anyhow, bail};
use checks::Exercise;
use checks::report::Results;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// A hostile replacement: the exercise it replaces, its name, its source.
struct Hostile {
    exercise: u8,
    name: &'static str,
    source: &'static str,
}

const HOSTILE: [Hostile; 5] = [
    Hostile {
        exercise: 2,
        name: "fork-bomb",
        source: include_str!("../fixtures/fork_loop.rs"),
    },
    Hostile {
        exercise: 3,
        name: "spinner",
        source: include_str!("../fixtures/spinner.rs"),
    },
    Hostile {
        exercise: 1,
        name: "tmp-leaver",
        source: include_str!("../fixtures/tmp_leaver.rs"),
    },
    Hostile {
        exercise: 4,
        name: "net-caller",
        source: include_str!("../fixtures/net_caller.rs"),
    },
    Hostile {
        exercise: 5,
        name: "reference-reader",
        source: include_str!("../fixtures/reference_reader.rs"),
    },
];

/// Rounds of grading the whole class.
const ROUNDS: usize = 3;
/// Sandbox runs per variant when measuring the cost of one.
const RUNS: usize = 200;

pub fn run(root: &Path) -> Result<ExitCode> {
    let catalogue = checks::catalogue();
    let scratch = Scratch::new()?;
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    listener
        .set_nonblocking(true)
        .context("cannot listen on 127.0.0.1")?;
    let port = listener
        .local_addr()
        .context("cannot listen on 127.0.0.1")?
        .port();
    let tag = std::process::id().to_string();
    let class = make_class(root, catalogue, &scratch, &tag, port)?;
    let options = grader::Options {
        out: scratch.path.join("grades"),
        jobs: checks::default_jobs(),
        force: true,
        budget: None,
        cache: scratch.path.join("cache"),
    };
    let rounds = grade_rounds(root, catalogue, &class, &options, &listener)?;
    let leaked = left_files(&tag);
    for path in &leaked {
        let _ = std::fs::remove_file(path);
    }
    let alone = grade_alone(root, &class.subs, &options)?;
    let costs = sandbox_costs()?;
    let protections = sandbox::run(&sandbox::Spec::new("/bin/true"))
        .ok()
        .map(|o| o.isolation);
    let measured = Measured {
        rounds,
        leaked: leaked.len(),
        port,
        alone,
        costs,
        protections,
    };
    out!("{}", table(&measured));
    Ok(ExitCode::SUCCESS)
}

/// The class: a full submission before and after each hostile one, as
/// folders; each name with the hostile program it holds, if any.
struct Class {
    names: Vec<(String, Option<&'static Hostile>)>,
    subs: Vec<grader::Submission>,
}

/// Writes the class under `submissions/`. Each hostile program learns the
/// run's `tag` (to name what it leaves), the `port` to call and the root.
fn make_class(root: &Path, catalogue: &[Exercise], scratch: &Scratch, tag: &str, port: u16) -> Result<Class> {
    let dir = scratch.path.join("submissions");
    let mut names: Vec<(String, Option<&'static Hostile>)> = vec![("full-00".into(), None)];
    for (i, h) in HOSTILE.iter().enumerate() {
        names.push((format!("hostile-{:02}-{}", i + 1, h.name), Some(h)));
        names.push((format!("full-{:02}", i + 1), None));
    }
    for (student, (name, hostile)) in names.iter().enumerate() {
        let folder = dir.join(name);
        write_sources(root, catalogue, student + 1, Kind::Solved, &folder)?;
        if let Some(h) = hostile {
            let e = catalogue
                .iter()
                .find(|e| e.number == h.exercise)
                .context("no such exercise")?;
            let source = h
                .source
                .replace("TAG", tag)
                .replace("PORT", &port.to_string())
                .replace("ROOT", &root.display().to_string());
            let main = folder.join("crates").join(e.dir).join("src").join("main.rs");
            std::fs::write(&main, source).with_context(|| format!("cannot write {}", main.display()))?;
        }
    }
    let subs: Vec<grader::Submission> = names
        .iter()
        .map(|(name, _)| grader::Submission::from_path(&dir.join(name)))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    outln!(
        "bench isolation: {} submissions ({} full, {} hostile) in {}, {ROUNDS} rounds",
        subs.len(),
        subs.len() - HOSTILE.len(),
        HOSTILE.len(),
        dir.display()
    );
    Ok(Class { names, subs })
}

/// What one submission's results file showed in one round.
enum Cell {
    /// A full submission's score.
    Full(f64),
    /// A hostile one's points lost outside its own `exercise`, by
    /// exercise number (only those that lost any).
    Hostile { exercise: u8, lost: Vec<(u8, f64)> },
}

/// What [`ROUNDS`] gradings of the class showed.
struct Rounds {
    /// The class's full marks.
    total: f64,
    /// Each submission's cell per round, by name.
    rows: BTreeMap<String, Vec<Cell>>,
    /// Results files that held the hidden checks' source.
    hidden_leaked: usize,
    /// Connections the hostile programs made to our port.
    connections: usize,
}

/// Grades the class [`ROUNDS`] times with `--force` and reads back what
/// each results file says and what reached `listener`.
fn grade_rounds(
    root: &Path,
    catalogue: &[Exercise],
    class: &Class,
    options: &grader::Options,
    listener: &TcpListener,
) -> Result<Rounds> {
    let full_marks: BTreeMap<u8, f64> = catalogue
        .iter()
        .map(|e| (e.number, (e.checks)().iter().map(|c| f64::from(c.points)).sum()))
        .collect();
    let mut rounds = Rounds {
        total: full_marks.values().sum(),
        rows: BTreeMap::new(),
        hidden_leaked: 0,
        connections: 0,
    };
    for round in 1..=ROUNDS {
        outln!("== round {round}: grading the class");
        let summary = grader::grade(root, &class.subs, options, &grader::Quiet)?;
        if !summary.errors.is_empty() {
            bail!(summary.errors.join("; "));
        }
        for (name, hostile) in &class.names {
            let path = grader::results_path(&options.out, name);
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let results: Results =
                Results::from_json(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            let cell = match hostile {
                None => Cell::Full(results.score),
                Some(h) => Cell::Hostile {
                    exercise: h.exercise,
                    lost: per_exercise(&results)
                        .iter()
                        .filter(|(n, _)| **n != h.exercise)
                        .map(|(n, got)| (*n, full_marks[n] - got))
                        .filter(|(_, lost)| *lost > 0.0)
                        .collect(),
                },
            };
            if text.contains("Check::hidden") {
                rounds.hidden_leaked += 1;
            }
            rounds.rows.entry(name.clone()).or_default().push(cell);
        }
        while listener.accept().is_ok() {
            rounds.connections += 1;
        }
    }
    Ok(rounds)
}

/// Seconds to grade one submission alone, compiled already: the median of
/// three, for the first full one and the fork bomb.
struct Alone {
    full: f64,
    bomb: f64,
}

/// Grades the first full submission and the fork bomb alone, alternately,
/// three times each, so the machine's noise falls on both alike.
fn grade_alone(root: &Path, subs: &[grader::Submission], options: &grader::Options) -> Result<Alone> {
    let alone = |i: usize| -> Result<f64> {
        let started = Instant::now();
        grader::grade(root, &subs[i..=i], options, &grader::Quiet)?;
        Ok(started.elapsed().as_secs_f64())
    };
    let (mut fulls, mut bombs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        fulls.push(alone(0)?);
        bombs.push(alone(1)?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(Alone {
        full: median(&mut fulls),
        bomb: median(&mut bombs),
    })
}

/// Milliseconds per sandbox run of `/bin/true`: with every protection,
/// without the namespaces, and also without a user of its own.
fn sandbox_costs() -> Result<Vec<(&'static str, f64)>> {
    [
        ("every protection", sandbox::Spec::new("/bin/true")),
        ("no namespaces", sandbox::Spec::new("/bin/true").namespaces(false)),
        (
            "no namespaces, no user of its own (runner's identity)",
            sandbox::Spec::new("/bin/true")
                .namespaces(false)
                .identity(sandbox::Identity::Runner),
        ),
    ]
    .into_iter()
    .map(|(label, spec)| Ok((label, per_run(&spec)?)))
    .collect()
}

/// Everything the bench measured, for [`table`].
struct Measured {
    rounds: Rounds,
    /// Files the leaver left.
    leaked: usize,
    port: u16,
    alone: Alone,
    costs: Vec<(&'static str, f64)>,
    /// What a sandbox run had in force, if one ran.
    protections: Option<sandbox::Isolation>,
}

/// The report, rendered last from what was measured.
fn table(m: &Measured) -> String {
    let mut table = String::new();
    let _ = writeln!(table, "\n{:<28} round 1 / 2 / 3", "submission");
    for (name, cells) in &m.rounds.rows {
        let cells: Vec<String> = cells.iter().map(|c| cell(c, m.rounds.total)).collect();
        let _ = writeln!(table, "{name:<28} {}", cells.join(" / "));
    }
    let _ = writeln!(
        table,
        "\nfiles left in /tmp, /var/tmp, /dev/shm: {}; connections to 127.0.0.1:{}: {}; \
         results holding the hidden checks: {}",
        m.leaked, m.port, m.rounds.connections, m.rounds.hidden_leaked
    );
    let Alone { full, bomb } = m.alone;
    let _ = writeln!(
        table,
        "seconds to grade one submission alone (compiled already; median of 3, alternately): full {full:.2}, \
         fork bomb {bomb:.2}: {:.2}×",
        bomb / full
    );
    let _ = writeln!(
        table,
        "\n{:<52} {:>10}",
        "one sandbox run of /bin/true", "ms per run"
    );
    for (label, ms) in &m.costs {
        let _ = writeln!(table, "{label:<52} {ms:>10.2}");
    }
    if let Some(isolation) = &m.protections {
        let _ = writeln!(table, "protections: {}", isolation.describe());
    }
    table
}

/// One cell of the rounds' table: a full submission's score out of
/// `total`, or what a hostile one lost outside its own exercise.
fn cell(cell: &Cell, total: f64) -> String {
    match cell {
        Cell::Full(score) => format!("{score}/{total}"),
        Cell::Hostile { exercise, lost } => {
            let sum: f64 = lost.iter().map(|(_, l)| l).sum();
            let which: Vec<String> = lost.iter().map(|(n, l)| format!("{n:02}: {l}")).collect();
            if which.is_empty() {
                format!("lost 0 outside {exercise:02}")
            } else {
                format!("lost {sum} outside {exercise:02} ({})", which.join(", "))
            }
        }
    }
}

/// Points per exercise number in a results file.
fn per_exercise(results: &Results) -> BTreeMap<u8, f64> {
    let mut points = BTreeMap::new();
    for t in &results.tests {
        let n = t
            .number
            .as_deref()
            .and_then(|n| n.split('.').next()?.parse().ok())
            .unwrap_or(0);
        *points.entry(n).or_insert(0.0) += t.score;
    }
    points
}

/// The files the leaver left (`ipc-lab-leak-TAG-*`).
fn left_files(tag: &str) -> Vec<std::path::PathBuf> {
    let prefix = format!("ipc-lab-leak-{tag}-");
    ["/tmp", "/var/tmp", "/dev/shm"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Milliseconds per sandbox run of `spec`, over [`RUNS`] runs, after one
/// to warm up.
fn per_run(spec: &sandbox::Spec) -> Result<f64> {
    sandbox::run(spec).context("the sandbox failed")?;
    let started = Instant::now();
    for _ in 0..RUNS {
        let o = sandbox::run(spec).context("the sandbox failed")?;
        if o.status != sandbox::Status::Exited(0) {
            bail!("/bin/true {}", o.summary());
        }
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0 / RUNS as f64)
}
