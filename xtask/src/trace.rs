//! `cargo xtask trace N [-- ARGS]`: runs exercise N under the tracer, in
//! the sandbox, and shows every process's descriptor table step by step.
//!
//! The sandbox runs the `ipc-lab-trace` binary (crate `trace`) as its
//! program, with the exercise as the tracer's child: the run keeps the
//! sandbox's user drop, limits, timeout and hang diagnosis. A fresh folder
//! under the temporary directory is lent to the run ([`sandbox::Spec::writable`]):
//! it holds a copy of the exercise's executable (the run's user may not be
//! able to read the build directory, nor see it through the run's mount
//! namespace) and the tracer's log, written one record at a time, so even a
//! run the sandbox killed leaves every record up to the kill.
//!
//! Without arguments, the exercises whose default run is a benchmark or a
//! pipe filled byte by byte are traced with lighter arguments
//! ([`lighter`]), said on screen: every call the tracer follows costs two
//! stops of the program, so 05's 65,536 one-byte writes, 12's 10,000 work
//! units or 16's gigabytes alone would take seconds. The calls and tables
//! are the same kind; only their number shrinks.

use crate::flags::TraceFlags;
use crate::term::{out, outln};
use anyhow::{Context as _, Result, bail};
use checks::build::{BuildOptions, build};
use std::path::Path;
use std::process::ExitCode;
use trace::log::Record;

/// What a traced run handed back.
pub struct Run {
    /// The tracer's log.
    pub records: Vec<Record>,
    /// The sandbox's account: how it ended, output, notes (the diagnosis).
    pub outcome: Option<sandbox::Outcome>,
}

/// Arguments that trace exercise `number` in well under a second with
/// the same lesson, when none are given; and why, for the student.
pub fn lighter(number: u8) -> Option<(&'static [&'static str], &'static str)> {
    Some(match number {
        5 => (
            &["--size", "4096"],
            "a one-page pipe fills after 4096 one-byte writes instead of 65536",
        ),
        12 => (&["--units", "1000"], "1000 work units instead of 10000"),
        14 => (&["--steps", "20000000"], "a tenth of the work"),
        15 => (
            &["--iterations", "10", "--sizes", "0,16"],
            "10 runs of each way to start something",
        ),
        16 => (&["--bytes", "1M"], "1 MiB per run instead of 128 MiB"),
        _ => return None,
    })
}

pub fn run(root: &Path, flags: &TraceFlags) -> Result<ExitCode> {
    let e = crate::exercise(&flags.exercise)?;
    let light = lighter(e.number).filter(|_| flags.args.is_empty() && flags.from_log.is_none());
    let args: Vec<String> = match light {
        Some((args, why)) => {
            outln!(
                "tracing `{} {}`: {why}; its timings mean nothing under a tracer \
                 (`cargo xtask trace {} -- ARGS` traces other arguments)\n",
                e.name,
                args.join(" "),
                e.number
            );
            args.iter().map(|a| a.to_string()).collect()
        }
        None => flags.args.clone(),
    };
    let run = match &flags.from_log {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Run {
                records: trace::log::parse(&text).map_err(anyhow::Error::msg)?,
                outcome: None,
            }
        }
        None => traced(root, e, &args)?,
    };
    if let Some(path) = &flags.save_log {
        let mut text = trace::log::HEADER.to_string();
        for r in &run.records {
            r.write_line(&mut text);
        }
        checks::report::write_atomically(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let trace = trace::model::replay(&run.records);
    if trace.refused {
        bail!(trace::refused_reason());
    }
    if trace.steps.is_empty() {
        let why = run
            .outcome
            .as_ref()
            .map_or("nothing was recorded".to_string(), |o| {
                format!(
                    "the run {}: {}",
                    o.summary(),
                    String::from_utf8_lossy(&o.stderr).trim()
                )
            });
        bail!("cannot trace {}: {why}", e.name);
    }
    if let Some(o) = &run.outcome {
        print_output("stdout", &o.stdout);
        print_output("stderr", &o.stderr);
    }
    let advice = trace::advice::advise(&trace);
    match flags.at {
        Some(step) if step == 0 || step > trace.steps.len() => {
            bail!("no step {step}: this trace has steps 1 to {}", trace.steps.len());
        }
        Some(step) => out!("{}", trace::timeline::tables(&trace, step - 1)),
        None => {
            outln!("{} step by step (pid {} is the program):", e.name, trace.first);
            out!("{}", trace::timeline::render(&trace, &advice));
        }
    }
    if let Some(o) = &run.outcome {
        outln!("\nthe run {}", o.summary());
        for note in &o.notes {
            outln!("  {note}");
        }
    }
    if let Some(path) = &flags.html {
        let page = trace::page::render(&trace, &advice, e.name);
        std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))?;
        outln!("the step-through page is in {}", path.display());
    }
    if flags.at.is_none() {
        outln!("(`--at STEP` prints every table at one step; `--html FILE` writes a page to step through)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Lines of the program's output shown before the timeline.
const SHOWN_LINES: usize = 40;

fn print_output(name: &str, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    outln!("the program's {name}:");
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(SHOWN_LINES) {
        outln!("  | {line}");
    }
    if lines.len() > SHOWN_LINES {
        outln!("  | … and {} more lines", lines.len() - SHOWN_LINES);
    }
    outln!();
}

/// Builds the exercise and the tracer, and runs them in the sandbox.
fn traced(root: &Path, e: &checks::Exercise, args: &[String]) -> Result<Run> {
    let options = BuildOptions {
        show_progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ..BuildOptions::default()
    };
    let built = build(root, &[e.name, "trace"], &options).context("cannot build the exercise")?;
    run_traced(
        built.binary(e.name).map_err(anyhow::Error::msg)?,
        built.binary("ipc-lab-trace").map_err(anyhow::Error::msg)?,
        e.name,
        args,
    )
}

/// Runs `exe` (exercise `name`) with `args` under `tracer`, in the sandbox.
pub fn run_traced(
    exe: &std::path::Path,
    tracer: &std::path::Path,
    name: &str,
    args: &[String],
) -> Result<Run> {
    run_traced_with(exe, tracer, name, args, |spec| spec)
}

/// A failed check's explanation gains the tracer's advice where it names
/// the cause: in each exercise that makes pipes or processes, the first
/// check that failed on what its program did ([`checks::Failure::Judged`],
/// the one the `trace:` line points to) runs again under the tracer with
/// the same arguments, input and limits, and the advice of
/// [`trace::advice::causes`] (an end that kept a reader waiting, a child
/// never waited for, a write with no reader, the wrong end) is added to its
/// `output`. One run per failing exercise: the advice is about the program,
/// the same under each check it fails (and a fresh release, every exercise
/// failing, pays one short run each). Passing checks cost nothing; where
/// the tracer cannot be built or `ptrace` is refused, nothing is added.
///
/// This lives here, not in `checks`: the checks (and the grader, which
/// needs no ptrace) stay free of the tracer, and only the student's
/// `cargo xtask check` pays for the second run.
pub fn advise_failures(root: &Path, results: &mut [checks::ExerciseResult]) {
    let failed = |c: &checks::CheckResult| c.failure == Some(checks::Failure::Judged);
    let wanted: Vec<&str> = results
        .iter()
        .filter(|r| crate::check::TRACEABLE.contains(&r.exercise.number) && r.checks.iter().any(failed))
        .map(|r| r.exercise.name)
        .collect();
    if wanted.is_empty() {
        return;
    }
    let mut packages = wanted.clone();
    packages.push("trace");
    let Ok(built) = build(root, &packages, &BuildOptions::default()) else {
        return;
    };
    let Ok(tracer) = built.binary("ipc-lab-trace") else {
        return;
    };
    for r in results.iter_mut().filter(|r| wanted.contains(&r.exercise.name)) {
        let Ok(exe) = built.binary(r.exercise.name) else {
            continue;
        };
        let checks = (r.exercise.checks)();
        let Some(c) = r.checks.iter_mut().find(|c| failed(c)) else {
            continue;
        };
        let Some(check) = checks.iter().find(|k| k.name == c.name) else {
            continue;
        };
        let Ok(run) = run_traced_with(exe, tracer, r.exercise.name, &check.args, |spec| {
            spec.stdin(check.stdin.clone()).timeout(check.timeout)
        }) else {
            continue;
        };
        let trace = trace::model::replay(&run.records);
        let causes = trace::advice::causes(&trace);
        if trace.refused || causes.is_empty() {
            continue;
        }
        c.output.push_str("\nrun again under the tracer, it shows why:");
        for a in causes {
            c.output.push_str("\n  - ");
            c.output.push_str(&a.text());
        }
    }
}

/// [`run_traced`], with the sandbox's [`sandbox::Spec`] adjusted by `adjust`
/// (a check's input and time limit).
fn run_traced_with(
    exe: &std::path::Path,
    tracer: &std::path::Path,
    name: &str,
    args: &[String],
    adjust: impl FnOnce(sandbox::Spec) -> sandbox::Spec,
) -> Result<Run> {
    let lent = Lent::new()?;
    let copy = lent.dir.join(name);
    std::fs::copy(exe, &copy)
        .with_context(|| format!("cannot copy {} to {}", exe.display(), copy.display()))?;
    let log = lent.dir.join("trace.log");
    let mut argv: Vec<std::ffi::OsString> =
        vec!["--log".into(), log.clone().into(), "--".into(), copy.into()];
    argv.extend(args.iter().map(Into::into));
    let mut spec = adjust(sandbox::Spec::new(tracer).args(argv).writable(&lent.dir));
    // The log is a file the tracer writes: room for a long one.
    spec.limits.file_size = spec.limits.file_size.max(256 << 20);
    let outcome = sandbox::run(&spec).context("the sandbox failed")?;
    // A log the tracer never created: it could not start (its one line is
    // in stderr, shown by the caller).
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    Ok(Run {
        records: trace::log::parse(&text).map_err(anyhow::Error::msg)?,
        outcome: Some(outcome),
    })
}

/// A folder of our own for one traced run, removed when dropped.
struct Lent {
    dir: std::path::PathBuf,
}

impl Lent {
    fn new() -> Result<Lent> {
        use std::os::unix::fs::DirBuilderExt;
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ipc-lab-trace-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Lent { dir })
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
