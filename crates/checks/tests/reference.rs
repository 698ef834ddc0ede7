//! Every check, hidden ones included, against the reference programs.
//!
//! This is the test that keeps the catalogue and the programs honest: a
//! reference that stops behaving as its checks say, or a check that stops
//! accepting the reference, fails here with the check's own explanation.

use checks::build::{BuildOptions, build};
use checks::{catalogue, default_jobs, run_exercises};
use std::path::Path;

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crates/checks is two levels down")
}

#[test]
fn every_reference_passes_every_check() {
    let names: Vec<&str> = catalogue().iter().map(|e| e.name).collect();
    let built = build(workspace_root(), &names, &BuildOptions::default()).expect("cargo runs");
    let items: Vec<_> = catalogue()
        .iter()
        .map(|e| (e, built.binary(e.name).map(Path::to_path_buf)))
        .collect();
    let results = run_exercises(&items, true, default_jobs(), &|_, _| {});
    let mut failures = Vec::new();
    for r in &results {
        for c in r.checks.iter().filter(|c| !c.passed()) {
            failures.push(format!(
                "{} — {} ({}):\n{}",
                r.exercise.label(),
                c.name,
                c.command,
                c.output
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} check(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    let ran: usize = results.iter().map(|r| r.checks.len()).sum();
    assert!(ran >= 2 * catalogue().len(), "only {ran} checks ran");
}
