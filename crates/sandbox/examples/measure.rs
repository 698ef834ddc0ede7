//! Measures the sandbox: what a run costs, and how soon a verdict comes for
//! the programs that do not end by themselves.
//!
//! A program and a report, not a timed test: `cargo run -p sandbox
//! --example measure --release`. Ratios are measured side by side in one
//! run, since these machines are noisy.

use sandbox::Spec;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `f` `n` times; returns the median, min and max wall-clock times.
fn time(n: usize, mut f: impl FnMut()) -> (Duration, Duration, Duration) {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[n / 2], times[0], times[n - 1])
}

fn report(what: &str, (median, min, max): (Duration, Duration, Duration)) {
    println!("{what:<58} median {median:>10.2?}  min {min:>10.2?}  max {max:>10.2?}");
}

fn sh(script: &str) -> Spec {
    Spec::new("/bin/sh").args(["-c", script])
}

fn main() {
    let t = time(20, || {
        Command::new("/bin/true").status().unwrap();
    });
    report("/bin/true, plain std::process::Command", t);
    let t = time(20, || {
        sandbox::run(&Spec::new("/bin/true")).unwrap();
    });
    report("/bin/true in the sandbox", t);
    let t = time(10, || {
        sandbox::run(&Spec::new("/bin/bash").args(["-c", "true"])).unwrap();
    });
    report("bash -c true in the sandbox (copies 1.2 MB)", t);

    let t = time(3, || {
        let o = sandbox::run(&sh("sleep 1000").timeout(Duration::from_secs(1))).unwrap();
        assert_eq!(o.status, sandbox::Status::TimedOut);
    });
    report("sleep 1000, timeout 1 s: until run() returns", t);

    let t = time(3, || {
        let spec = Spec::new("/bin/bash").args(["-c", "coproc cat; read -r x <&\"${COPROC[0]}\""]);
        let o = sandbox::run(&spec).unwrap();
        assert_eq!(o.status, sandbox::Status::Deadlock);
    });
    report("pipe deadlock (bash coproc), timeout 5 s: until returned", t);

    let t = time(5, || {
        let o = sandbox::run(&sh("sleep 1000 & (setsid sleep 1000 &); exit 0")).unwrap();
        assert_eq!(o.notes.len(), 1);
    });
    report("exit leaving a child and a setsid daemon: until returned", t);

    let t = time(3, || {
        let o = sandbox::run(&sh("while :; do sleep 1000 & done").timeout(Duration::from_secs(1))).unwrap();
        assert!(!o.notes.is_empty());
    });
    report("fork loop up to the process limit (256): until returned", t);

    for jobs in [1, 4] {
        let t = time(3, || {
            std::thread::scope(|s| {
                for _ in 0..jobs {
                    s.spawn(|| {
                        for _ in 0..20 / jobs {
                            sandbox::run(&sh("echo hi")).unwrap();
                        }
                    });
                }
            });
        });
        report(&format!("20 runs of sh -c 'echo hi' on {jobs} thread(s)"), t);
    }
}
