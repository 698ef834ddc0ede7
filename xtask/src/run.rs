//! `cargo xtask run N [-- ARGS]`: builds and runs one exercise with the
//! terminal attached, and exits with its status.

use anyhow::{Context as _, Result};
use std::path::Path;
use std::process::{Command, ExitCode};

pub fn run(root: &Path, query: &str, args: &[String]) -> Result<ExitCode> {
    let e = crate::exercise(query)?;
    let status = Command::new(checks::build::cargo())
        .current_dir(root)
        .args(["run", "--quiet", "--package", e.name, "--"])
        .args(args)
        .status()
        .context("cannot run cargo")?;
    if let Some(code) = status.code() {
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    // Killed by a signal: report it the way a shell would.
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal().unwrap_or(0);
    eprintln!("{} was killed by signal {signal}", e.name);
    Ok(ExitCode::from(u8::try_from(128 + signal).unwrap_or(1)))
}
