//! `cargo xtask list`: the exercise table ([`crate::table`]), with each
//! exercise's status at its last check.

use crate::table::{STATUS_WIDTH, Status};
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
            "{:<3} {:<name_w$} {:<title_w$} {:<STATUS_WIDTH$} {:>6}",
            "#", "exercise", "title", "status", "points"
        ))
    );
    let rows = crate::table::rows(&progress);
    for row in &rows {
        let e = row.exercise;
        let status = format!("{:<w$}", row.status.label(), w = STATUS_WIDTH);
        let status = match row.status {
            Status::Passed => paint.green(&status),
            Status::Failing => paint.red(&status),
            Status::Unchecked => paint.dim(&status),
        };
        outln!(
            "{:02}  {:<name_w$} {:<title_w$} {status} {:>6}",
            e.number,
            e.name,
            e.title,
            row.points
        );
    }
    let passed = rows.iter().filter(|r| r.status == Status::Passed).count();
    outln!(
        "\n{passed}/{} passed at their last check. `cargo xtask check` checks them all.",
        checks::catalogue().len()
    );
    Ok(ExitCode::SUCCESS)
}
