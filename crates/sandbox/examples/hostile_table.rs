//! Runs every hostile program of `tests/fixtures` once and prints a Markdown
//! table: what it does, the status and its one-line summary, the first line
//! of the explanation, and the time to the verdict. Then measures how soon
//! a deadlock is seen, and says which per-run cgroups this machine gives.
//!
//! A report, not a test: `cargo run -p sandbox --example hostile_table`
//! (needs `cc` and `rustc`; as root, the programs run as `nobody`).

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

use sandbox::{Outcome, Spec};
use std::time::{Duration, Instant};

/// The first line of the explanation: the first note, cut to a table
/// cell; after a heading such as "timed out after 1.0 s, with …:", the
/// first sentence of the diagnosis about a process.
fn explanation(o: &Outcome) -> String {
    const WIDTH: usize = 200;
    let first = match o.notes.as_slice() {
        [] => return "(no notes)".to_string(),
        [heading, rest @ ..] if heading.ends_with(':') => {
            let about = rest.iter().find(|n| n.starts_with("pid ")).or(rest.first());
            format!("{heading} {}", about.map_or("", String::as_str))
        }
        [first, ..] => first.clone(),
    };
    let mut cell: String = first.chars().take(WIDTH).collect();
    if first.chars().count() > WIDTH {
        cell.push('…');
    }
    cell.replace('|', "\\|")
}

fn main() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let fixtures = fixtures::Fixtures::build(dir.path())?;
    eprintln!("hostile programs built in {}", fixtures.dir().display());

    println!("| hostile program | status | summary | explanation (first note) | verdict after |");
    println!("|---|---|---|---|---|");
    for (n, name) in fixtures::ALL.iter().enumerate() {
        let marker = format!("{}{n:04}", std::process::id());
        let program = fixtures::hostile(&fixtures, name, &marker);
        let started = Instant::now();
        let o = sandbox::run(&program.spec)?;
        let took = started.elapsed();
        println!(
            "| {name}: {} | `{:?}` | {} | {} | {:.2} s (timeout {:.0} s) |",
            program.does,
            o.status,
            o.summary(),
            explanation(&o),
            took.as_secs_f64(),
            program.spec.limits.timeout.as_secs_f64(),
        );
    }

    // How long a program that deadlocks at once runs before it is stopped.
    let mut delays: Vec<Duration> = (0..5)
        .map(|n| {
            let marker = format!("{}9{n:03}", std::process::id());
            let program = fixtures::hostile(&fixtures, "selfreader", &marker);
            sandbox::run(&program.spec).map(|o| o.duration)
        })
        .collect::<Result<_, _>>()?;
    delays.sort();
    println!(
        "\nDeadlock detection (selfreader, 5 runs): median {:.0} ms, min {:.0} ms, max {:.0} ms",
        delays[2].as_secs_f64() * 1000.0,
        delays[0].as_secs_f64() * 1000.0,
        delays[4].as_secs_f64() * 1000.0,
    );

    // The program's own view of its cgroups: a per-run one is "…/sandbox-PID-N".
    let o = sandbox::run(&Spec::new("/bin/cat").arg("/proc/self/cgroup"))?;
    let text = String::from_utf8_lossy(&o.stdout);
    for controller in ["pids", "memory"] {
        let own = text.lines().find(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|c| c == controller))
                && l.contains("/sandbox-")
        });
        match own {
            Some(line) => println!("per-run {controller} cgroup: yes ({line})"),
            None => println!("per-run {controller} cgroup: no"),
        }
    }
    Ok(())
}
