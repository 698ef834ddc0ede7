//! `cargo xtask trace N [-- ARGS]`: runs exercise N under the tracer, in
//! the sandbox, and shows every process's descriptor table step by step.
//!
//! The sandbox runs the `ipc-lab-trace` binary (crate `trace`) as its
//! program, with the exercise as the tracer's child: the run keeps the
//! sandbox's user drop, limits, timeout and hang diagnosis. The exercise's
//! executable travels on the tracer's standard input (`--exe-on-stdin`), so
//! the sandbox's unprivileged user need not be able to read the build
//! directory. The tracer's records come back mixed into the program's
//! standard error (`--log -`), framed so they come apart again: that is
//! what the sandbox hands back, even from a run it killed.

use crate::flags::TraceFlags;
use checks::build::{BuildOptions, build};
use std::process::ExitCode;
use trace::log::Record;

/// What a traced run handed back.
struct Run {
    records: Vec<Record>,
    /// The sandbox's account: how it ended, output, notes (the diagnosis).
    outcome: Option<sandbox::Outcome>,
    /// The program's own stderr, the records taken out.
    stderr: Vec<u8>,
}

pub fn run(flags: &TraceFlags) -> crate::Result {
    let e = crate::exercise(&flags.exercise)?;
    let run = match &flags.from_log {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            Run {
                records: trace::log::parse(&text)?,
                outcome: None,
                stderr: Vec::new(),
            }
        }
        None => traced(e, &flags.args)?,
    };
    if let Some(path) = &flags.save_log {
        let text: String = run.records.iter().map(Record::to_line).collect();
        checks::report::write_atomically(path, text.as_bytes())
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    }
    let trace = trace::model::replay(&run.records);
    if trace.refused {
        return Err(trace::refused_reason());
    }
    if trace.steps.is_empty() {
        let why = run
            .outcome
            .as_ref()
            .map_or("nothing was recorded".to_string(), |o| {
                format!(
                    "the run {}: {}",
                    o.summary(),
                    String::from_utf8_lossy(&run.stderr).trim()
                )
            });
        return Err(format!("cannot trace {}: {why}", e.name));
    }
    if let Some(o) = &run.outcome {
        print_output("stdout", &o.stdout);
        print_output("stderr", &run.stderr);
    }
    let advice = trace::advice::advise(&trace);
    match flags.at {
        Some(step) if step == 0 || step > trace.steps.len() => {
            return Err(format!(
                "no step {step}: this trace has steps 1 to {}",
                trace.steps.len()
            ));
        }
        Some(step) => print!("{}", trace::timeline::tables(&trace, step - 1)),
        None => {
            println!("{} step by step (pid {} is the program):", e.name, trace.first);
            print!("{}", trace::timeline::render(&trace, &advice));
        }
    }
    if let Some(o) = &run.outcome {
        println!("\nthe run {}", o.summary());
        for note in &o.notes {
            println!("  {note}");
        }
    }
    if let Some(path) = &flags.html {
        let page = trace::page::render(&trace, &advice, e.name);
        std::fs::write(path, page).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        println!("the step-through page is in {}", path.display());
    }
    if flags.at.is_none() {
        println!("(`--at STEP` prints every table at one step; `--html FILE` writes a page to step through)");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_output(name: &str, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    println!("the program's {name}:");
    for line in String::from_utf8_lossy(bytes).lines() {
        println!("  | {line}");
    }
    println!();
}

/// Builds the exercise and the tracer, and runs them in the sandbox.
fn traced(e: &checks::Exercise, args: &[String]) -> crate::Result<Run> {
    let root = crate::root();
    let options = BuildOptions {
        show_progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ..BuildOptions::default()
    };
    let built = build(&root, &[e.name, "trace"], &options).map_err(|err| err.to_string())?;
    let exe = built.binary(e.name)?;
    let tracer = built.binary("ipc-lab-trace")?;
    let bytes = std::fs::read(exe).map_err(|err| format!("cannot read {}: {err}", exe.display()))?;
    let mut argv: Vec<String> = [
        "--log",
        "-",
        "--exe-on-stdin",
        &bytes.len().to_string(),
        "--",
        e.name,
    ]
    .map(String::from)
    .to_vec();
    argv.extend(args.iter().cloned());
    let spec = sandbox::Spec::new(tracer)
        .args(argv)
        .stdin(bytes)
        // The records share stderr with the program: room for a long trace.
        .output_cap(64 << 20);
    let outcome = sandbox::run(&spec).map_err(|err| format!("the sandbox failed: {err}"))?;
    let (stderr, log) = trace::log::split_stderr(&outcome.stderr);
    Ok(Run {
        records: trace::log::parse(&log)?,
        outcome: Some(outcome),
        stderr,
    })
}
