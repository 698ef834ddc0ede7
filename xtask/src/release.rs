//! `cargo xtask release OUT [--force]`: writes the student repository.
//!
//! The release is the reference workspace as a student needs it, ready for
//! `git init`:
//! - every package (`crates/*` and `xtask`, whose commands students run:
//!   `check`, `hint`, `watch`): its manifest, sources and the files they
//!   include, with each solution region of the exercises replaced by
//!   `todo!("<the TODO text>")` (see [`stub`]) and the hidden checks
//!   removed from `crates/checks`;
//! - the workspace manifest, `Cargo.lock`, `.cargo/config.toml`,
//!   `rustfmt.toml`, and the book in `docs/`;
//! - a README for students, a `.gitignore` and a GitHub Classroom workflow,
//!   made from the templates in `xtask/student/`.
//!
//! Left out on purpose: course staff's code — the grader crate, xtask's
//! staff commands ([`STAFF_ONLY`]), and the blocks between `BEGIN STAFF` and
//! `END STAFF` markers in the files kept (xtask's `main.rs` and `flags.rs`,
//! the manifests), so a student compiles only their own commands; the
//! release's `Cargo.lock` is then pruned by cargo to what is left. Also
//! every `tests/`, `examples/` and `benches/` folder.
//! They test the course's tools, not the student's work; several (the
//! reference test of `crates/checks`, xtask's tidy and command-line tests)
//! only pass with the solutions in place, and a student running
//! `cargo test --workspace` should not meet a wall of failures that are
//! not theirs to fix. Also left out: ARCHITECTURE.md and `.ci/` (course
//! staff's), `target/`, `.git`, the built book, and dotfiles inside the
//! copied folders (editor leftovers).
//!
//! Everything is computed in memory first, so a malformed region stops the
//! release before it writes anything. The output is then checked for any
//! marker line left behind (a solution or hidden check outside the places
//! the release rewrites would leak); files are written atomically, and only
//! when their contents change, so rebuilding a release is incremental.

mod student;

use crate::flags::ReleaseFlags;
use crate::term::outln;
use anyhow::{Context as _, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

pub use course::stub::{self, strip_hidden, stub_source};

pub fn run(root: &Path, flags: &ReleaseFlags) -> Result<ExitCode> {
    let out = &flags.out;
    refuse_overlap(root, out)?;
    if !flags.force && !is_empty_or_missing(out)? {
        bail!(
            "{} is not empty; pass --force to write the release into it anyway",
            out.display()
        );
    }
    let start = Instant::now();
    let release = Release::from_workspace(root)?;
    let written = release.write(out)?;
    outln!(
        "wrote the student repository to {}: {} files ({} changed), {} exercises, \
         {} solution regions replaced by todo!(), {} hidden check blocks removed, in {:.1} s",
        out.display(),
        release.files.len(),
        written,
        release.exercises,
        release.regions,
        release.hidden_blocks,
        start.elapsed().as_secs_f64()
    );
    outln!(
        "next: cd {} && git init && git add -A && git commit -m 'ipc-lab'",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Course staff's alone: never in the release.
pub const STAFF_ONLY: &[&str] = &[
    "crates/grader",
    "xtask/autograder",
    "xtask/fixtures",
    "xtask/student",
    "xtask/src/autograder.rs",
    "xtask/src/bench.rs",
    "xtask/src/bench_grade.rs",
    "xtask/src/bench_isolation.rs",
    "xtask/src/bench_trace.rs",
    "xtask/src/grade.rs",
    "xtask/src/release.rs",
    "xtask/src/release",
    "xtask/src/verify.rs",
    "xtask/src/verify",
];

/// Whether `rel` (relative to the workspace) is course staff's alone.
fn is_staff_only(rel: &Path) -> bool {
    STAFF_ONLY.iter().any(|s| rel.starts_with(s))
}

/// A text transform of [`stub`]: the file's new text, or what is wrong with it.
type Rewrite = fn(&str) -> Result<String, String>;

/// One file of the release.
#[derive(Debug, Clone)]
pub struct File {
    pub contents: Vec<u8>,
    /// Whether the reference's file is executable (kept in the release).
    pub executable: bool,
}

/// The student repository, in memory: path (relative, `/`-separated) → file.
#[derive(Debug, Default)]
pub struct Release {
    pub files: BTreeMap<PathBuf, File>,
    /// How many exercises of the catalogue it holds.
    pub exercises: usize,
    /// How many solution regions became `todo!()`s.
    pub regions: usize,
    /// How many hidden-check blocks were removed.
    pub hidden_blocks: usize,
}

impl Release {
    /// Builds the release of the reference workspace at `root`.
    pub fn from_workspace(root: &Path) -> Result<Release> {
        let mut r = Release::default();
        for name in ["Cargo.toml", "Cargo.lock", "rustfmt.toml"] {
            if root.join(name).is_file() {
                r.copy(root, Path::new(name))?;
            }
        }
        r.copy_tree(root, Path::new(".cargo"))?;
        r.copy_package(root, Path::new("xtask"))?;
        for package in crate_dirs(root)? {
            r.copy_package(root, &package)?;
        }
        r.copy_docs(root)?;
        for e in checks::catalogue() {
            if !r
                .files
                .contains_key(&Path::new("crates").join(e.dir).join("Cargo.toml"))
            {
                bail!("exercise {} has no crates/{}/Cargo.toml", e.label(), e.dir);
            }
            r.exercises += 1;
            // A pristine copy of each stub, so `cargo xtask reset N` can
            // restore it in the student's repository, git or no git.
            let main = Path::new("crates").join(e.dir).join("src/main.rs");
            if let Some(stub) = r.files.get(&main) {
                let copy = File {
                    contents: stub.contents.clone(),
                    executable: false,
                };
                r.files
                    .insert(Path::new("xtask/stubs").join(format!("{}.rs", e.dir)), copy);
            }
        }
        for (path, contents) in student::files(root)? {
            r.files.insert(
                path,
                File {
                    contents: contents.into_bytes(),
                    executable: false,
                },
            );
        }
        r.refuse_leftover_markers()?;
        Ok(r)
    }

    /// Copies one file, rewriting Rust sources under `crates/`: exercise
    /// regions become `todo!()`s, hidden checks go.
    fn copy(&mut self, root: &Path, rel: &Path) -> Result<()> {
        if is_staff_only(rel) {
            return Ok(());
        }
        let from = root.join(rel);
        let bytes = std::fs::read(&from).with_context(|| format!("cannot read {}", from.display()))?;
        let executable = std::fs::metadata(&from).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
        let extension = rel.extension().and_then(|x| x.to_str()).unwrap_or("");
        let rewrite: Option<Rewrite> = match extension {
            "rs" if rel.starts_with("crates/checks") => Some(strip_hidden),
            "rs" if rel.starts_with("crates") => Some(stub_source),
            "rs" if rel.starts_with("xtask") => Some(stub::strip_staff),
            "toml" => Some(stub::strip_staff),
            "md" if rel.starts_with("docs") => Some(stub::stub_page),
            _ => None,
        };
        let contents = match rewrite {
            None => bytes,
            Some(rewrite) => {
                let text = String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8", rel.display()))?;
                let out = rewrite(&text).map_err(|e| anyhow!("{}: {e}", rel.display()))?;
                if rel.starts_with("crates") {
                    // Counted for the summary line (the book's regions are examples).
                    self.regions += stub::regions(&text).map_or(0, |r| r.len());
                    let hidden = text.lines().filter(|l| l.trim() == stub::BEGIN_HIDDEN);
                    self.hidden_blocks += hidden.count();
                }
                out.into_bytes()
            }
        };
        self.files
            .insert(rel.to_path_buf(), File { contents, executable });
        Ok(())
    }

    /// Copies a directory's files, skipping dotfiles and `target`.
    fn copy_tree(&mut self, root: &Path, rel: &Path) -> Result<()> {
        let dir = root.join(rel);
        if !dir.is_dir() || is_staff_only(rel) {
            return Ok(());
        }
        let skip = |inner: &Path| {
            let name = inner.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with('.') || name == "target" || is_staff_only(&rel.join(inner))
        };
        for inner in crate::walk::files(&dir, skip)? {
            self.copy(root, &rel.join(inner))?;
        }
        Ok(())
    }

    /// A package: everything in its folder (sources, manifest, files its
    /// sources include with `include_str!`) but its tests, examples and
    /// benchmarks.
    fn copy_package(&mut self, root: &Path, rel: &Path) -> Result<()> {
        if is_staff_only(rel) {
            return Ok(());
        }
        for entry in sorted_entries(&root.join(rel))? {
            let name = entry
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.starts_with('.') || ["target", "tests", "examples", "benches"].contains(&name.as_str()) {
                continue;
            }
            if entry.is_dir() {
                self.copy_tree(root, &rel.join(&name))?;
            } else {
                self.copy(root, &rel.join(&name))?;
            }
        }
        Ok(())
    }

    /// The book: `docs/` but its build output.
    fn copy_docs(&mut self, root: &Path) -> Result<()> {
        let docs = Path::new("docs");
        if !root.join(docs).is_dir() {
            return Ok(());
        }
        for entry in sorted_entries(&root.join(docs))? {
            let name = entry
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let child = docs.join(&name);
            match (entry.is_dir(), name.as_str()) {
                (true, "book") => {}
                (true, _) => self.copy_tree(root, &child)?,
                (false, _) => self.copy(root, &child)?,
            }
        }
        // The staff chapter is for the reference workspace's book only.
        self.files.remove(Path::new(stub::STAFF_CHAPTER));
        let summary = Path::new("docs/src/SUMMARY.md");
        if let Some(file) = self.files.get_mut(summary) {
            let text = String::from_utf8_lossy(&file.contents).into_owned();
            file.contents = stub::student_summary(&text).into_bytes();
        }
        Ok(())
    }

    /// No marker line may survive: one would mean solution or hidden-check
    /// text in a place the release does not rewrite.
    fn refuse_leftover_markers(&self) -> Result<()> {
        for (path, file) in &self.files {
            let Ok(text) = std::str::from_utf8(&file.contents) else {
                continue;
            };
            if let Some((n, line)) = text.lines().enumerate().find(|(_, l)| stub::is_any_marker(l)) {
                bail!(
                    "{}:{}: `{}` would reach the release; markers belong in crates/*/src only",
                    path.display(),
                    n + 1,
                    line.trim()
                );
            }
        }
        Ok(())
    }

    /// Writes the release into `out` (created if missing), and returns how
    /// many files changed. A file whose contents are already right is not
    /// touched, so cargo sees it unchanged. Nothing outside `out` is
    /// written, and nothing is deleted.
    pub fn write(&self, out: &Path) -> Result<usize> {
        let mut changed = 0;
        for (rel, file) in &self.files {
            let to = out.join(rel);
            if std::fs::read(&to).is_ok_and(|old| old == file.contents) {
                continue;
            }
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            checks::report::write_atomically(&to, &file.contents)
                .with_context(|| format!("cannot write {}", to.display()))?;
            let mode = if file.executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot set the mode of {}", to.display()))?;
            changed += 1;
        }
        if self.files.contains_key(Path::new("Cargo.lock")) {
            prune_lockfile(out)?;
        }
        Ok(changed)
    }

    /// Removes from `out` every file and folder the release does not hold,
    /// so `out` is exactly the release. Only for a folder the caller owns
    /// (verify's scratch copy): it deletes.
    pub fn prune(&self, out: &Path) -> Result<()> {
        prune_dir(out, &self.files)
    }
}

/// Lets cargo drop from the release's `Cargo.lock` the packages only course
/// staff's crates used (the grader's archive readers), keeping every other
/// version as the reference has it: `cargo metadata` resolves against the
/// lock, offline, and writes it back pruned.
fn prune_lockfile(out: &Path) -> Result<()> {
    let output = std::process::Command::new(checks::build::cargo())
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(out.join("Cargo.toml"))
        .env_remove("CARGO_TARGET_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        bail!(
            "cargo metadata could not settle the release's Cargo.lock: {}",
            err.lines().find(|l| l.starts_with("error")).unwrap_or(err.trim())
        );
    }
    Ok(())
}

/// Deletes what is not in `keep` under `out`, and the folders that leaves
/// empty (never `out` itself). A symlink is removed as a file, never
/// followed.
fn prune_dir(out: &Path, keep: &BTreeMap<PathBuf, File>) -> Result<()> {
    // Contents first: a folder is looked at once what it held is gone.
    let walk = walkdir::WalkDir::new(out)
        .min_depth(1)
        .contents_first(true)
        .sort_by_file_name();
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot read {}", out.display()))?;
        let path = entry.path();
        let rel = path.strip_prefix(out).unwrap_or(path);
        if entry.file_type().is_dir() {
            let empty = std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none());
            if empty {
                std::fs::remove_dir(path).with_context(|| format!("cannot remove {}", path.display()))?;
            }
        } else if !keep.contains_key(rel) {
            std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// The packages under `crates/` (folders with a Cargo.toml), sorted.
fn crate_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(sorted_entries(&root.join("crates"))?
        .into_iter()
        .filter(|p| p.join("Cargo.toml").is_file())
        .filter_map(|p| p.file_name().map(|n| Path::new("crates").join(n)))
        .collect())
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in read {
        paths.push(
            entry
                .with_context(|| format!("cannot read {}", dir.display()))?
                .path(),
        );
    }
    paths.sort();
    Ok(paths)
}

fn is_empty_or_missing(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(anyhow!("cannot use {} as the release folder: {e}", dir.display())),
    }
}

/// An absolute, `..`-free form of `path`: symlinks resolved where it
/// exists (so a `..` after one goes where the kernel would go), lexical
/// where it does not exist yet.
fn resolved(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in abs.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => {
                out.push(other);
                if let Ok(real) = out.canonicalize() {
                    out = real;
                }
            }
        }
    }
    out
}

/// Refuses an OUT that would overwrite the reference: the workspace root
/// or a folder above it, or one inside the trees the release copies.
fn refuse_overlap(root: &Path, out: &Path) -> Result<()> {
    let (root, target) = (resolved(root), resolved(out));
    if root.starts_with(&target) {
        bail!(
            "{} holds the reference workspace; write the release somewhere else",
            out.display()
        );
    }
    for source in ["crates", "xtask", "docs", ".cargo"] {
        if target.starts_with(root.join(source)) {
            bail!(
                "{} is inside the reference's {source}/; write the release somewhere else",
                out.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> File {
        File {
            contents: text.as_bytes().to_vec(),
            executable: false,
        }
    }

    #[test]
    fn write_touches_only_changed_files_and_prune_removes_the_rest() {
        let out = std::env::temp_dir().join(format!("ipc-lab-release-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let mut r = Release::default();
        r.files.insert(PathBuf::from("a.txt"), file("a"));
        r.files
            .insert(PathBuf::from("crates/x/src/main.rs"), file("fn main() {}\n"));
        assert_eq!(r.write(&out).unwrap(), 2);
        assert_eq!(r.write(&out).unwrap(), 0, "unchanged files are left alone");
        std::fs::create_dir_all(out.join("crates/old/src")).unwrap();
        std::fs::write(out.join("crates/old/src/main.rs"), "stale").unwrap();
        std::fs::write(out.join("crates/x/src/extra.rs"), "stale").unwrap();
        r.prune(&out).unwrap();
        assert!(!out.join("crates/old").exists(), "an emptied folder goes too");
        assert!(!out.join("crates/x/src/extra.rs").exists());
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "a");
        assert!(out.join("crates/x/src/main.rs").is_file());
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn out_may_not_hold_or_sit_inside_the_reference_sources() {
        let root = crate::workspace_root();
        assert!(refuse_overlap(&root, &root).is_err());
        assert!(refuse_overlap(&root, root.parent().unwrap()).is_err());
        assert!(refuse_overlap(&root, &root.join("crates/new")).is_err());
        assert!(refuse_overlap(&root, &root.join("xtask/src/../student-out")).is_err());
        assert!(refuse_overlap(&root, &root.join("target/verify/release")).is_ok());
        assert!(refuse_overlap(&root, Path::new("/tmp/ipc-lab-student")).is_ok());
        let sneaky = Path::new("/tmp/no-such-dir/../..").join(root.strip_prefix("/").unwrap());
        assert!(refuse_overlap(&root, &sneaky).is_err());
    }
}
