//! `cargo xtask hint N`: what the exercise teaches and how to get unstuck.

use crate::term::outln;
use anyhow::Result;
use std::process::ExitCode;

pub fn run(query: &str) -> Result<ExitCode> {
    let e = crate::exercise(query)?;
    outln!("{} — {}", e.label(), e.title);
    outln!("mirrors {} (lecture 16); the lesson: {}.", e.mirrors, e.lesson);
    outln!();
    outln!("hint: {}", e.hint);
    Ok(ExitCode::SUCCESS)
}
