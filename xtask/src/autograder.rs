//! `cargo xtask autograder [--out DIR] [--force]`: the Gradescope bundle,
//! `DIR/autograder.zip`.
//!
//! Gradescope unpacks the bundle into `/autograder/source`, runs `setup.sh`
//! once to build its image, then `run_autograder` for each submission. The
//! bundle holds:
//! - `setup.sh` (from `xtask/autograder/`): installs a C toolchain and Rust
//!   (rustup's official installer, pinned to the Rust release this bundle
//!   was made with), builds xtask, makes the reference root's only, then
//!   grades the reference — it must score full marks — and the student
//!   release, which fills the grading cache;
//! - `run_autograder`: `xtask grade` on `/autograder/submission` with a
//!   time budget below Gradescope's timeout, into
//!   `/autograder/results/results.json`. `AUTOGRADER_ROOT` moves
//!   `/autograder` (the tests use a temporary folder), `AUTOGRADER_BUDGET`
//!   sets the budget;
//! - `ipc-lab/`: the reference workspace's sources, hidden checks included
//!   (Gradescope keeps the bundle from students), without `target/`, `.git`
//!   or the built book.
//!
//! The zip is written here (stored, no compression): no `zip` program needed.

use crate::flags::AutograderFlags;
use crate::term::outln;
use anyhow::{Context as _, Result, anyhow, bail};
use grader::zip_writer::ZipWriter;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const SETUP: &str = include_str!("../autograder/setup.sh");
const RUN: &str = include_str!("../autograder/run_autograder");

pub fn run(root: &Path, flags: &AutograderFlags) -> Result<ExitCode> {
    let bundle = flags.out.join("autograder.zip");
    if bundle.exists() && !flags.force {
        bail!("{} exists; pass --force to write it again", bundle.display());
    }
    let version = rust_version(root)?;
    let mut zip = ZipWriter::new();
    let add = |zip: &mut ZipWriter, name: &str, data: &[u8], mode: u32| {
        zip.add(name, data, mode)
            .with_context(|| format!("cannot add {name} to the bundle"))
    };
    add(
        &mut zip,
        "setup.sh",
        SETUP.replace("@RUST_VERSION@", &version).as_bytes(),
        0o755,
    )?;
    add(&mut zip, "run_autograder", RUN.as_bytes(), 0o755)?;
    let files = workspace_files(root)?;
    for rel in &files {
        let path = root.join(rel);
        let data = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mode = std::fs::metadata(&path).map_or(0o644, |m| m.permissions().mode() & 0o777);
        add(&mut zip, &format!("ipc-lab/{}", rel.display()), &data, mode)?;
    }
    let bytes = zip.finish().context("cannot finish the bundle")?;
    std::fs::create_dir_all(&flags.out).with_context(|| format!("cannot create {}", flags.out.display()))?;
    checks::report::write_atomically(&bundle, &bytes)
        .with_context(|| format!("cannot write {}", bundle.display()))?;
    outln!(
        "wrote {} ({} files of the reference workspace, {} KiB, Rust {version})",
        bundle.display(),
        files.len(),
        bytes.len() / 1024
    );
    outln!(
        "upload it as the assignment's autograder (Gradescope: Configure Autograder → Zip file \
         upload); run_autograder grades within AUTOGRADER_BUDGET seconds (480 by default), \
         below Gradescope's 10-minute default timeout"
    );
    Ok(ExitCode::SUCCESS)
}

/// The Rust release in use here (`1.95.0`), which the bundle installs.
fn rust_version(root: &Path) -> Result<String> {
    let out = Command::new("rustc")
        .arg("-V")
        .current_dir(root)
        .output()
        .context("cannot run rustc")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("cannot read rustc's version from {text:?}"))
}

/// The workspace's files, relative to `root`, sorted: everything but build
/// output, version control, local state and editor dotfiles (`.cargo/`,
/// which holds the `xtask` alias, is kept), and symlinks.
fn workspace_files(root: &Path) -> Result<Vec<PathBuf>> {
    crate::walk::files(root, |rel| {
        let name = rel.file_name().unwrap_or_default().to_string_lossy();
        (name.starts_with('.') && name != ".cargo")
            || name == "target"
            || rel == Path::new("docs/book")
            || root.join(rel).is_symlink()
    })
}
