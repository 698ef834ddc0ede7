//! `cargo xtask hint N`: what the exercise teaches and how to get unstuck.

use std::process::ExitCode;

pub fn run(query: &str) -> crate::Result {
    let e = crate::exercise(query)?;
    println!("{} — {}", e.label(), e.title);
    println!("mirrors {} (lecture 16); the lesson: {}.", e.mirrors, e.lesson);
    println!();
    println!("hint: {}", e.hint);
    Ok(ExitCode::SUCCESS)
}
