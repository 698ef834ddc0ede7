//! `cargo xtask reset N [--force]`: puts one exercise back as it was
//! released, `todo!()`s and all.
//!
//! It overwrites `crates/NN-name/src/main.rs` and nothing else (not even
//! the progress file: `list` shows the exercise's status at its last check
//! until the next one). It asks first, y/N, on a terminal; without one it
//! refuses unless `--force` says not to ask.
//!
//! Where the released stub comes from, first found wins:
//! 1. `xtask/stubs/NN-name.rs`, the pristine copy a release ships beside
//!    the exercise (a student repository);
//! 2. the file itself, when it still has its solution regions (the
//!    reference workspace): the release's own transform, [`stub_source`],
//!    computes the stub, so the two can never disagree;
//! 3. git: the file as the commit that added it had it (a student
//!    repository made before releases shipped stubs, where that first
//!    commit is the release).
//!
//! [`stub_source`]: course::stub::stub_source

use crate::flags::ResetFlags;
use crate::term::{out, outln};
use anyhow::{Context as _, Result, anyhow, bail};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Where a release keeps each exercise's pristine stub, relative to the
/// repository root: `xtask/stubs/<dir>.rs`.
pub fn pristine_path(e: &checks::Exercise) -> PathBuf {
    Path::new("xtask").join("stubs").join(format!("{}.rs", e.dir))
}

pub fn run(root: &Path, flags: &ResetFlags) -> Result<ExitCode> {
    let e = crate::exercise(&flags.exercise)?;
    let rel = Path::new("crates").join(e.dir).join("src").join("main.rs");
    let file = root.join(&rel);
    let current = std::fs::read_to_string(&file).ok();
    let (stub, origin) = released_stub(root, e, &rel, current.as_deref())?;
    if current.as_deref() == Some(stub.as_str()) {
        outln!("{} is already the released stub: nothing to do.", rel.display());
        return Ok(ExitCode::SUCCESS);
    }
    if !flags.force {
        if !std::io::stdin().is_terminal() {
            bail!(
                "reset overwrites {} and there is no terminal to ask on; pass --force to reset anyway",
                rel.display()
            );
        }
        let warning = if origin == Origin::Reference {
            " This is the reference workspace: its solution will be gone (git can bring it back)."
        } else {
            " Your code in it will be lost."
        };
        out!(
            "Reset {}? This overwrites {} with the released stub.{warning} [y/N] ",
            e.label(),
            rel.display()
        );
        // `out!` flushed the question; if it could not be shown, the
        // answer means nothing.
        if crate::term::stdout_gone() {
            bail!(
                "cannot ask before overwriting {}: stdout is closed",
                rel.display()
            );
        }
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("cannot read the answer")?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            outln!("Nothing changed.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    checks::report::write_atomically(&file, stub.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    outln!(
        "{} is the released stub again (from {}). `cargo xtask check {}` shows what is left to do.",
        rel.display(),
        origin.describe(e),
        e.number
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Pristine,
    Reference,
    Git,
}

impl Origin {
    fn describe(self, e: &checks::Exercise) -> String {
        match self {
            Origin::Pristine => pristine_path(e).display().to_string(),
            Origin::Reference => "the reference solution, with its regions replaced by todo!()".to_string(),
            Origin::Git => "the commit that added it".to_string(),
        }
    }
}

/// The released stub of `e`, and where it came from.
fn released_stub(
    root: &Path,
    e: &checks::Exercise,
    rel: &Path,
    current: Option<&str>,
) -> Result<(String, Origin)> {
    if let Ok(text) = std::fs::read_to_string(root.join(pristine_path(e))) {
        return Ok((text, Origin::Pristine));
    }
    // The reference's own file: its solution regions make the stub.
    if let Some(text) = current.filter(|t| course::stub::regions(t).is_ok_and(|r| !r.is_empty())) {
        let stub = course::stub::stub_source(text).map_err(|err| anyhow!("{}: {err}", rel.display()))?;
        return Ok((stub, Origin::Reference));
    }
    if let Some(text) = first_committed(root, rel) {
        return Ok((text, Origin::Git));
    }
    Err(anyhow!(
        "cannot find the released stub of {}: no {}, no solution regions in {}, and no git history of it",
        e.label(),
        pristine_path(e).display(),
        rel.display()
    ))
}

/// The file as the commit that first added it had it, if git knows.
fn first_committed(root: &Path, rel: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .current_dir(root)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let path = rel.to_str()?;
    let log = git(&["log", "--diff-filter=A", "--format=%H", "--", path])?;
    let first = log.lines().last()?.trim();
    // `./` makes the path relative to `root`, wherever the repository's top is.
    git(&["show", &format!("{first}:./{path}")])
}
