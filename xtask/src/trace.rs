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

pub fn run(root: &Path, flags: &TraceFlags) -> Result<ExitCode> {
    let e = crate::exercise(&flags.exercise)?;
    let run = match &flags.from_log {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Run {
                records: trace::log::parse(&text).map_err(anyhow::Error::msg)?,
                outcome: None,
            }
        }
        None => traced(root, e, &flags.args)?,
    };
    if let Some(path) = &flags.save_log {
        let text: String = run.records.iter().map(Record::to_line).collect();
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
    let lent = Lent::new()?;
    let copy = lent.dir.join(name);
    std::fs::copy(exe, &copy)
        .with_context(|| format!("cannot copy {} to {}", exe.display(), copy.display()))?;
    let log = lent.dir.join("trace.log");
    let mut argv: Vec<std::ffi::OsString> =
        vec!["--log".into(), log.clone().into(), "--".into(), copy.into()];
    argv.extend(args.iter().map(Into::into));
    let mut spec = sandbox::Spec::new(tracer).args(argv).writable(&lent.dir);
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
