//! `cargo xtask bench trace`: what tracing costs, for every exercise. Each
//! reference program runs with the arguments `cargo xtask trace N` gives it
//! (none, or the lighter ones of [`crate::trace::lighter`]), in the
//! sandbox, untraced and traced, by turns, several times in one run; the
//! table gives the median wall time of each (the sandbox's own clock, from
//! start to the end of the run), the time to replay the log and render the
//! timeline and the page, and the whole `xtask trace N` command as a
//! student runs it (this xtask binary, build check included; `cargo run`'s
//! own start is not in it).

use crate::term::{StatusLine, outln};
use anyhow::{Context as _, Result, bail};
use checks::build::{BuildOptions, build};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Runs of each kind per exercise; the median counts.
const RUNS: usize = 5;

pub fn run(root: &Path) -> Result<ExitCode> {
    let progress = StatusLine::new();
    progress.update("building the exercises and the tracer…");
    let exercises = checks::catalogue();
    let mut packages: Vec<&str> = exercises.iter().map(|e| e.name).collect();
    packages.push("trace");
    let built = build(root, &packages, &BuildOptions::default()).context("cannot build")?;
    let tracer = built.binary("ipc-lab-trace").map_err(anyhow::Error::msg)?;
    let xtask = std::env::current_exe().context("cannot find xtask itself")?;
    let mut rows = Vec::new();
    for e in exercises {
        let exe = built.binary(e.name).map_err(anyhow::Error::msg)?;
        let args: Vec<String> = crate::trace::lighter(e.number)
            .map(|(args, _)| args.iter().map(|a| a.to_string()).collect())
            .unwrap_or_default();
        let mut plain = Vec::new();
        let mut traced = Vec::new();
        let mut shown = Vec::new();
        let mut command = Vec::new();
        let mut steps = 0;
        for k in 0..RUNS {
            progress.update(&format!("{:02} {}: run {} of {RUNS}…", e.number, e.name, k + 1));
            let outcome = sandbox::run(&sandbox::Spec::new(exe).args(&args)).context("the sandbox failed")?;
            plain.push(outcome.duration);
            let run = crate::trace::run_traced(exe, tracer, e.name, &args)?;
            let outcome = run.outcome.context("the traced run has no outcome")?;
            traced.push(outcome.duration);
            let start = Instant::now();
            let trace = trace::model::replay(&run.records);
            let advice = trace::advice::advise(&trace);
            let text = trace::timeline::render(&trace, &advice);
            let page = trace::page::render(&trace, &advice, e.name);
            shown.push(start.elapsed());
            steps = trace.steps.len();
            std::hint::black_box((text, page));
            let start = Instant::now();
            // The same binary in the same environment: the same workspace.
            let status = std::process::Command::new(&xtask)
                .args(["trace", &e.number.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .with_context(|| format!("cannot run {}", xtask.display()))?;
            command.push(start.elapsed());
            if !status.success() {
                bail!("`xtask trace {}` failed: {status}", e.number);
            }
        }
        let shown_args = if args.is_empty() {
            String::new()
        } else {
            format!(" `{}`", args.join(" "))
        };
        rows.push((
            format!("{:02} {}{shown_args}", e.number, e.name),
            steps,
            median(&mut plain),
            median(&mut traced),
            median(&mut shown),
            median(&mut command),
        ));
    }
    progress.finish();
    outln!(
        "| exercise (arguments) | steps | untraced | traced | traced / untraced | replay + timeline + page | `xtask trace N` |"
    );
    outln!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, steps, plain, traced, shown, command) in rows {
        outln!(
            "| {name} | {steps} | {:.0} ms | {:.0} ms | {:.2}× | {:.0} ms | {:.0} ms |",
            ms(plain),
            ms(traced),
            traced.as_secs_f64() / plain.as_secs_f64(),
            ms(shown),
            ms(command)
        );
    }
    outln!(
        "\n(median of {RUNS} runs each, by turns: untraced and traced in the sandbox, then the whole command)"
    );
    Ok(ExitCode::SUCCESS)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
