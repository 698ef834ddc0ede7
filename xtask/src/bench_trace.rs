//! `cargo xtask bench trace`: what tracing costs. Each of exercises 02, 03,
//! 04 and 11 (their reference programs, default arguments) runs in the
//! sandbox untraced and traced, alternately, several times in one run; the
//! table gives the median wall time of each (the sandbox's own clock, from
//! start to the end of the run) and, for the traced runs, the time to
//! replay the log and render the timeline and the page, with the ratio.

use crate::term::{StatusLine, outln};
use anyhow::{Context as _, Result};
use checks::build::{BuildOptions, build};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Runs of each kind per exercise; the median counts.
const RUNS: usize = 15;

const EXERCISES: [&str; 4] = ["childpipe", "closing-ends", "child-to-child", "mpsc"];

pub fn run(root: &Path) -> Result<ExitCode> {
    let progress = StatusLine::new();
    progress.update("building the exercises and the tracer…");
    let mut packages = EXERCISES.to_vec();
    packages.push("trace");
    let built = build(root, &packages, &BuildOptions::default()).context("cannot build")?;
    let tracer = built.binary("ipc-lab-trace").map_err(anyhow::Error::msg)?;
    let mut rows = Vec::new();
    for name in EXERCISES {
        let exe = built.binary(name).map_err(anyhow::Error::msg)?;
        let mut plain = Vec::new();
        let mut traced = Vec::new();
        let mut shown = Vec::new();
        let mut steps = 0;
        for k in 0..RUNS {
            progress.update(&format!("{name}: run {} of {RUNS}…", k + 1));
            let outcome = sandbox::run(&sandbox::Spec::new(exe)).context("the sandbox failed")?;
            plain.push(outcome.duration);
            let run = crate::trace::run_traced(exe, tracer, name, &[])?;
            let outcome = run.outcome.context("the traced run has no outcome")?;
            traced.push(outcome.duration);
            let start = Instant::now();
            let trace = trace::model::replay(&run.records);
            let advice = trace::advice::advise(&trace);
            let text = trace::timeline::render(&trace, &advice);
            let page = trace::page::render(&trace, &advice, name);
            shown.push(start.elapsed());
            steps = trace.steps.len();
            std::hint::black_box((text, page));
        }
        rows.push((
            name,
            median(&mut plain),
            median(&mut traced),
            median(&mut shown),
            steps,
        ));
    }
    progress.finish();
    outln!("| exercise | steps | untraced | traced | traced / untraced | replay + timeline + page |");
    outln!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, plain, traced, shown, steps) in rows {
        outln!(
            "| {name} | {steps} | {:.1} ms | {:.1} ms | {:.2}× | {:.1} ms |",
            ms(plain),
            ms(traced),
            traced.as_secs_f64() / plain.as_secs_f64(),
            ms(shown)
        );
    }
    outln!("\n(median of {RUNS} runs each, in the sandbox, alternating untraced and traced)");
    Ok(ExitCode::SUCCESS)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
