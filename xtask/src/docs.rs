//! `cargo xtask docs [--svg [--check]]`: the book.
//!
//! First the diagrams: `docs/diagrams/*.txt` drawn into `docs/src/img/`,
//! and the step-throughs: `docs/traces/*.log` into `docs/src/trace/` (see
//! [`crate::diagrams`]). Then, unless `--svg`, the book itself, with
//! mdbook when it is installed (`$MDBOOK`, else `mdbook` on the PATH), into
//! `target/book`; without mdbook, a one-line way to install it: the
//! [`MDBOOK_VERSION`] that the release's devcontainer preinstalls, which
//! builds on the Rust the course promises (mdbook 0.5 needs Rust 1.88).
//!
//! The book ships to students, so it must never show a solution, and its
//! chapters include code straight from the exercise sources. In the
//! reference workspace those sources hold the solutions; so the book is
//! built from a staged copy where every exercise source and every page went
//! through the release's own transforms (`todo!()` in place of each
//! region), exactly what a student repository holds. In a student
//! repository the staging changes nothing: the book shows the student's
//! own code. The staff chapter is left out, as the release leaves it out.
//! Course staff who want the solutions and their chapter in the book run
//! `mdbook serve docs` in the reference workspace.

use crate::flags::DocsFlags;
use crate::term::outln;
use anyhow::{Context as _, Result, anyhow, bail};
use course::stub;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// The mdbook the book is built with: the last release that builds on Rust
/// 1.85 (it needs 1.82). The devcontainer installs it.
pub const MDBOOK_VERSION: &str = "0.4.52";

pub fn run(root: &Path, flags: &DocsFlags) -> Result<ExitCode> {
    let mut drawn = crate::diagrams::generate(root, flags.check)?;
    let pages = crate::diagrams::generate_traces(root, flags.check)?;
    drawn.all.extend(pages.all);
    drawn.changed.extend(pages.changed);
    if flags.check {
        if drawn.changed.is_empty() {
            outln!(
                "{} diagrams and step-throughs match their sources.",
                drawn.all.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for f in &drawn.changed {
            outln!("{} is out of date (or missing)", shown(root, f));
        }
        outln!("run `cargo xtask docs --svg` to draw them again, and commit the result");
        return Ok(ExitCode::from(1));
    }
    if crate::term::verbosity() != crate::term::Verbosity::Quiet {
        outln!(
            "drew {} diagrams and step-throughs into docs/src/img and docs/src/trace ({} changed)",
            drawn.all.len(),
            drawn.changed.len()
        );
    }
    if flags.svg {
        return Ok(ExitCode::SUCCESS);
    }

    let mdbook = std::env::var_os("MDBOOK").map_or_else(|| PathBuf::from("mdbook"), PathBuf::from);
    let installed = Command::new(&mdbook)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        bail!(install_hint(rustc_version().as_deref()));
    }
    let stage = Stage::new()?;
    stage.fill(root)?;
    let out = root.join("target").join("book");
    let status = Command::new(&mdbook)
        .arg("build")
        .arg(stage.dir.join("docs"))
        .arg("--dest-dir")
        .arg(&out)
        .status()
        .context("cannot run mdbook")?;
    if !status.success() {
        eprintln!("mdbook could not build the book (its messages are above)");
        return Ok(ExitCode::from(1));
    }
    outln!("the book is in {}", out.join("index.html").display());
    Ok(ExitCode::SUCCESS)
}

/// One line: how to get an mdbook that builds on the student's Rust.
fn install_hint(rustc: Option<&str>) -> String {
    let yours = rustc.map_or(String::new(), |v| format!(" on your Rust {v}"));
    format!(
        "mdbook is not installed: `cargo install mdbook --version {MDBOOK_VERSION} --locked` \
         (it builds{yours} in a few minutes; the devcontainer has it), then `cargo xtask docs` again; \
         meanwhile the chapters are plain Markdown in docs/src"
    )
}

/// The version of the `rustc` that cargo uses here ("1.85.0"), if it runs.
fn rustc_version() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    // "rustc 1.85.0 (4d91de4e4 2025-02-17)"
    text.split_whitespace().nth(1).map(str::to_string)
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// A scratch folder holding `docs/` and `crates/*/src` as a student would
/// have them; removed when dropped.
struct Stage {
    dir: PathBuf,
}

impl Stage {
    fn new() -> Result<Stage> {
        let dir = std::env::temp_dir().join(format!("ipc-lab-book-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Stage { dir })
    }

    fn fill(&self, root: &Path) -> Result<()> {
        copy_tree(root, &self.dir, Path::new("docs"), &|rel, text| {
            if rel.extension().is_some_and(|x| x == "md") {
                stub::stub_page(text)
            } else {
                Ok(text.to_string())
            }
        })?;
        // The students' book has no staff chapter (staff read it with
        // `mdbook serve docs` in the reference workspace).
        let _ = std::fs::remove_file(self.dir.join(stub::STAFF_CHAPTER));
        let summary = self.dir.join("docs/src/SUMMARY.md");
        if let Ok(text) = std::fs::read_to_string(&summary) {
            std::fs::write(&summary, stub::student_summary(&text))
                .with_context(|| format!("cannot write {}", summary.display()))?;
        }
        let crates = std::fs::read_dir(root.join("crates")).context("cannot read crates/")?;
        for entry in crates.flatten() {
            let src = Path::new("crates").join(entry.file_name()).join("src");
            if root.join(&src).is_dir() {
                copy_tree(root, &self.dir, &src, &|rel, text| {
                    if rel.extension().is_some_and(|x| x == "rs") {
                        stub::stub_source(text)
                    } else {
                        Ok(text.to_string())
                    }
                })?;
            }
        }
        Ok(())
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Transform = dyn Fn(&Path, &str) -> Result<String, String>;

/// Copies `root/rel` to `to/rel`, passing text files through `transform`;
/// skips the built book and dotfiles.
fn copy_tree(root: &Path, to: &Path, rel: &Path, transform: &Transform) -> Result<()> {
    let skip = |inner: &Path| {
        let dotfile = inner
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        dotfile || rel.join(inner) == Path::new("docs/book")
    };
    for inner in crate::walk::files(&root.join(rel), skip)? {
        copy_file(root, to, &rel.join(inner), transform)?;
    }
    Ok(())
}

/// Copies the file `root/rel` to `to/rel` (see [`copy_tree`]).
fn copy_file(root: &Path, to: &Path, rel: &Path, transform: &Transform) -> Result<()> {
    let from = root.join(rel);
    let dest = to.join(rel);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let bytes = std::fs::read(&from).with_context(|| format!("cannot read {}", from.display()))?;
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => transform(rel, &text)
            .map_err(|e| anyhow!("{}: {e}", rel.display()))?
            .into_bytes(),
        Err(e) => e.into_bytes(),
    };
    std::fs::write(&dest, bytes).with_context(|| format!("cannot write {}", dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_hint_is_one_line_naming_a_version_and_the_students_rust() {
        let hint = install_hint(Some("1.85.0"));
        assert!(!hint.contains('\n'), "{hint}");
        assert!(hint.contains(&format!(
            "cargo install mdbook --version {MDBOOK_VERSION} --locked"
        )));
        assert!(hint.contains("your Rust 1.85.0"), "{hint}");
        assert!(!install_hint(None).contains("your Rust"));
    }
}
