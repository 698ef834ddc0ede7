//! `cargo xtask list`: the exercises, with their status at the last check.

use crate::term::{Paint, outln};
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

pub fn run(root: &Path) -> Result<ExitCode> {
    let progress = crate::progress::load(root);
    let paint = Paint::stdout();
    // Columns as wide as their longest entry (titles are counted in
    // characters: some have an em dash).
    let width = |f: fn(&checks::Exercise) -> &str| {
        checks::catalogue()
            .iter()
            .map(|e| f(e).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (name_w, title_w) = (width(|e| e.name).max(8), width(|e| e.title).max(5));
    outln!(
        "{}",
        paint.bold(&format!(
            "{:<3} {:<name_w$} {:<title_w$} {:<11} {:>6}",
            "#", "exercise", "title", "status", "points"
        ))
    );
    let mut passed = 0;
    for e in checks::catalogue() {
        let max = e.max_points(true);
        let (status, points) = match progress.get(e.name) {
            Some(p) if p.passed => {
                passed += 1;
                (
                    paint.green(&format!("{:<11}", "✓ passed")),
                    format!("{}/{}", p.score, p.max_score),
                )
            }
            Some(p) => (
                paint.red(&format!("{:<11}", "✗ failing")),
                format!("{}/{}", p.score, p.max_score),
            ),
            None => (paint.dim(&format!("{:<11}", "· unchecked")), format!("-/{max}")),
        };
        outln!(
            "{:02}  {:<name_w$} {:<title_w$} {status} {points:>6}",
            e.number,
            e.name,
            e.title
        );
    }
    outln!(
        "\n{passed}/{} passed at their last check. `cargo xtask check` checks them all.",
        checks::catalogue().len()
    );
    Ok(ExitCode::SUCCESS)
}
