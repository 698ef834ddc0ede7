//! `cargo xtask bench grade`: a TA's loop, measured. Seconds per submission
//! when grading a class, ours against the plain way, in one run.
//!
//! It makes 20 submissions in a temporary folder — solved, the bare
//! release, half-done, and broken ones (a compile error, a fork bomb, a
//! program that hangs), as folders, `.tar.gz` and `.zip`. As in a real
//! class, every student's solutions differ (a comment with their number),
//! so each compiles on its own; untouched stubs are the same for all. It
//! grades them:
//! - **ours**, three times: cold, with nothing cached (the toolchain copy
//!   and the dependencies are built: once per machine, shown apart); then
//!   as a TA's later submissions find it, the dependencies ready but every
//!   submission's programs compiled anew; then regrading, everything cached;
//! - **the plain way**: what a TA does without the grader — copy the
//!   reference workspace, drop the submission's exercise sources in, and
//!   `cargo test -p checks --test reference` (the test that runs every
//!   check, hidden ones included) with the copy's own cold target folder.
//!   That takes half a minute or more each, so it runs on 4 of the 20 (one of
//!   each kind: solved, bare, compile error, hang), or on
//!   `IPC_LAB_BENCH_PLAIN` of them.
//!
//! Per-submission seconds of both, then the ratio. The machine is shared
//! and noisy: only the ratio, measured side by side, means much.

use crate::term::{out, outln};
use anyhow::{Context as _, Result, anyhow, bail};
use checks::Exercise;
use grader::zip_writer::ZipWriter;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// A program that forks without end, bounded by itself.
pub const FORK_BOMB: &str = include_str!("../fixtures/fork_bomb.rs");

/// A program that never finishes.
const HANG: &str = r#"//! A submission gone wrong: it never finishes.
fn main() {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
"#;

/// What goes wrong in a submission, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Solved,
    Bare,
    /// The first `n` exercises solved, the rest as released.
    Partial(usize),
    CompileError,
    ForkBomb,
    Hang,
}

impl Kind {
    fn label(self) -> String {
        match self {
            Kind::Solved => "solved".into(),
            Kind::Bare => "bare".into(),
            Kind::Partial(n) => format!("partial{n}"),
            Kind::CompileError => "compile-error".into(),
            Kind::ForkBomb => "fork-bomb".into(),
            Kind::Hang => "hang".into(),
        }
    }
}

/// The 20 submissions: kind and form, mixed as a class list sorted by
/// name mixes them. (Grading goes in this order. All the hangs last would
/// add one timeout, 5 s, of waiting alone at the end of the run: the other
/// submissions' work overlaps with a hang's anywhere else.)
const CLASS: [(Kind, Form); 20] = [
    (Kind::Solved, Form::Folder),
    (Kind::Bare, Form::Folder),
    (Kind::Partial(4), Form::Folder),
    (Kind::CompileError, Form::Folder),
    (Kind::Solved, Form::TarGz),
    (Kind::Hang, Form::Folder),
    (Kind::Solved, Form::Zip),
    (Kind::Bare, Form::Zip),
    (Kind::ForkBomb, Form::Folder),
    (Kind::Partial(8), Form::Zip),
    (Kind::Solved, Form::Folder),
    (Kind::Bare, Form::Folder),
    (Kind::Hang, Form::Folder),
    (Kind::Partial(12), Form::Folder),
    (Kind::Solved, Form::Folder),
    (Kind::CompileError, Form::Zip),
    (Kind::Bare, Form::Folder),
    (Kind::ForkBomb, Form::TarGz),
    (Kind::Partial(14), Form::TarGz),
    (Kind::Solved, Form::TarGz),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Folder,
    TarGz,
    Zip,
}

pub fn run(root: &Path) -> Result<ExitCode> {
    let catalogue = checks::catalogue();
    let scratch = Scratch::new()?;
    let paths = make_class(root, catalogue, &scratch)?;
    let ours = grade_ours(root, &scratch, &paths)?;
    let plain = grade_plain(root, catalogue, &scratch, &plain_subset())?;
    out!("{}", table(&ours, &plain));
    outln!("\ngrades.csv:\n{}", ours.grades);
    Ok(ExitCode::SUCCESS)
}

/// A submission's name in the class: its place and its kind.
fn sub_name(i: usize) -> String {
    format!("{:02}-{}", i + 1, CLASS[i].0.label())
}

/// Writes the class's sources under `sources/` (kept for the plain way)
/// and hands each in, in its form, under `submissions/`; returns the
/// submissions' paths in class order.
fn make_class(root: &Path, catalogue: &[Exercise], scratch: &Scratch) -> Result<Vec<PathBuf>> {
    let subs_dir = scratch.path.join("submissions");
    mkdir(&subs_dir)?;
    let mut paths = Vec::new();
    for (i, (kind, form)) in CLASS.iter().enumerate() {
        let name = sub_name(i);
        let folder = scratch.path.join("sources").join(&name);
        write_sources(root, catalogue, i + 1, *kind, &folder)?;
        paths.push(hand_in(&folder, &name, *form, &subs_dir)?);
    }
    outln!(
        "bench grade: {} submissions in {} (6 solved, 4 bare release, 4 half-done, \
         2 compile errors, 2 fork bombs, 2 hangs)",
        paths.len(),
        subs_dir.display()
    );
    Ok(paths)
}

/// Puts the sources in `folder` into `subs_dir` as a student hands them
/// in: a copy of the folder, a `.tar.gz` or a `.zip` named `name`.
fn hand_in(folder: &Path, name: &str, form: Form, subs_dir: &Path) -> Result<PathBuf> {
    match form {
        Form::Folder => {
            let to = subs_dir.join(name);
            copy_tree(folder, &to, |_| false)?;
            Ok(to)
        }
        Form::TarGz => {
            let to = subs_dir.join(format!("{name}.tar.gz"));
            let status = Command::new("tar")
                .arg("-czf")
                .arg(&to)
                .arg("-C")
                .arg(folder.parent().unwrap_or(Path::new(".")))
                .arg(name)
                .status()
                .context("cannot run tar")?;
            if !status.success() {
                bail!("tar failed on {name}");
            }
            Ok(to)
        }
        Form::Zip => {
            let to = subs_dir.join(format!("{name}.zip"));
            zip_tree(folder, &to)?;
            Ok(to)
        }
    }
}

/// Our three gradings of the class, and the `grades.csv` they left.
struct Ours {
    /// Nothing cached: the toolchain copy and dependencies built first.
    cold: grader::Summary,
    /// Dependencies ready, every submission's programs compiled anew.
    steady: grader::Summary,
    /// Everything cached (regrading).
    warm: grader::Summary,
    grades: String,
}

/// Grades the class with the grader three times: cold (nothing cached),
/// then as a TA's next submissions find it (dependencies built, but every
/// submission's programs compiled anew), then regrading (everything cached).
fn grade_ours(root: &Path, scratch: &Scratch, paths: &[PathBuf]) -> Result<Ours> {
    let subs: Vec<grader::Submission> = paths
        .iter()
        .map(|p| grader::Submission::from_path(p))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    let cache = scratch.path.join("cache");
    let out = scratch.path.join("grades");
    let options = grader::Options {
        out: out.clone(),
        jobs: checks::default_jobs(),
        force: true,
        budget: None,
        cache: cache.clone(),
    };
    let shown = crate::grade::Terminal::new();
    outln!("\n== ours: cargo xtask grade, cold (nothing cached)");
    let cold = grader::grade(root, &subs, &options, &shown)?;
    if !cold.errors.is_empty() {
        bail!(cold.errors.join("; "));
    }
    outln!("\n== ours again: dependencies built, every program compiled anew");
    let _ = std::fs::remove_dir_all(cache.join("private").join("bins"));
    let steady = grader::grade(root, &subs, &options, &shown)?;
    outln!("\n== ours again: everything cached (regrading)");
    let warm = grader::grade(root, &subs, &options, &grader::Quiet)?;
    let grades = std::fs::read_to_string(out.join("grades.csv")).unwrap_or_default();
    Ok(Ours {
        cold,
        steady,
        warm,
        grades,
    })
}

/// Which submissions the plain way runs on: `IPC_LAB_BENCH_PLAIN` of them
/// (4 by default), one of each kind that tells the most first (solved,
/// bare, compile error, hang), then the rest in class order.
fn plain_subset() -> Vec<usize> {
    let wanted = std::env::var("IPC_LAB_BENCH_PLAIN")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(4)
        .min(CLASS.len());
    let mut chosen: Vec<usize> = [Kind::Solved, Kind::Bare, Kind::CompileError, Kind::Hang]
        .iter()
        .filter_map(|k| CLASS.iter().position(|(c, _)| c == k))
        .collect();
    for i in 0..CLASS.len() {
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen.truncate(wanted);
    chosen
}

/// Grades the submissions `subset` the plain way, one after another;
/// returns the seconds each took.
fn grade_plain(root: &Path, catalogue: &[Exercise], scratch: &Scratch, subset: &[usize]) -> Result<Vec<f64>> {
    let mut plain = Vec::new();
    for &i in subset {
        let name = sub_name(i);
        outln!("\n== the plain way: cargo test in a copy, cold target ({name})");
        let copy = scratch.path.join("plain").join(&name);
        copy_workspace(root, &copy)?;
        for e in catalogue {
            let src = copy.join("crates").join(e.dir).join("src");
            let _ = std::fs::remove_dir_all(&src);
            let handed_in = scratch
                .path
                .join("sources")
                .join(&name)
                .join("crates")
                .join(e.dir)
                .join("src");
            copy_tree(&handed_in, &src, |_| false)?;
        }
        let start = Instant::now();
        let status = Command::new(checks::build::cargo())
            .current_dir(&copy)
            .args(["test", "--quiet", "-p", "checks", "--test", "reference"])
            .env("CARGO_TARGET_DIR", copy.join("target"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run cargo")?;
        let seconds = start.elapsed().as_secs_f64();
        let verdict = if status.success() {
            "all checks pass"
        } else {
            "some checks fail"
        };
        outln!("{name}: {seconds:.1} s ({verdict})");
        plain.push(seconds);
        let _ = std::fs::remove_dir_all(&copy);
    }
    Ok(plain)
}

/// The report: seconds and seconds per submission of each grading, then
/// the ratio of the plain way's to ours (none if the plain way did not run).
fn table(ours: &Ours, plain: &[f64]) -> String {
    let n = CLASS.len() as f64;
    let secs = |s: &grader::Summary| s.elapsed.as_secs_f64();
    let plain_each = plain.iter().sum::<f64>() / plain.len().max(1) as f64;
    let mut table = String::new();
    let _ = writeln!(
        table,
        "\n{:<58} {:>5} {:>8} {:>13}",
        "grading", "subs", "seconds", "s/submission"
    );
    let mut row = |label: &str, count: usize, total: f64| {
        let _ = writeln!(
            table,
            "{label:<58} {count:>5} {total:>8.1} {:>13.2}",
            total / count.max(1) as f64
        );
    };
    row(
        "ours, cold: toolchain + dependencies + compile + checks",
        CLASS.len(),
        secs(&ours.cold),
    );
    row(
        "  of which the one-time preparation",
        CLASS.len(),
        ours.cold.prepare.as_secs_f64(),
    );
    row(
        "ours, dependencies ready: compile + checks (a TA's loop)",
        CLASS.len(),
        secs(&ours.steady),
    );
    row(
        "ours, everything cached (regrading with --force)",
        CLASS.len(),
        secs(&ours.warm),
    );
    if plain.is_empty() {
        let _ = writeln!(
            table,
            "\nthe plain way did not run (IPC_LAB_BENCH_PLAIN=0): no ratio; {} CPUs",
            checks::default_jobs()
        );
        return table;
    }
    row(
        "plain: copy + cargo test -p checks --test reference",
        plain.len(),
        plain.iter().sum(),
    );
    let _ = writeln!(
        table,
        "\nratio, plain / ours per submission: {:.1}× (a TA's loop), {:.1}× (cold, preparation included); {} CPUs{}",
        plain_each / (secs(&ours.steady) / n),
        plain_each / (secs(&ours.cold) / n),
        checks::default_jobs(),
        if plain.len() < CLASS.len() {
            format!(
                "; the plain way ran on {} of the {} (IPC_LAB_BENCH_PLAIN sets how many)",
                plain.len(),
                CLASS.len()
            )
        } else {
            String::new()
        }
    );
    table
}

/// Writes a submission's exercise sources (only `crates/NN-x/src/`).
pub(crate) fn write_sources(
    root: &Path,
    catalogue: &[Exercise],
    student: usize,
    kind: Kind,
    folder: &Path,
) -> Result<()> {
    for (i, e) in catalogue.iter().enumerate() {
        let solved = match kind {
            Kind::Bare => false,
            Kind::Partial(n) => i < n,
            _ => true,
        };
        let mut files: Vec<(String, Vec<u8>)> = if solved {
            grader::reference_sources(root, e)
                .with_context(|| format!("cannot read the sources of {}", e.name))?
                .into_iter()
                .map(|(p, t)| (p, t.into_bytes()))
                .collect()
        } else {
            grader::released_stub(root, e).ok_or_else(|| anyhow!("cannot make the stub of {}", e.name))?
        };
        let mut main = files.iter_mut().find(|(p, _)| p == "main.rs");
        // Students' solutions differ (in their comments at least): each
        // compiles on its own. Untouched stubs are the same for everyone.
        if let (true, Some((_, text))) = (solved, main.as_mut()) {
            text.extend_from_slice(format!("// handed in by student {student}\n").as_bytes());
        }
        match (kind, e.number, main) {
            (Kind::CompileError, 3, Some((_, text))) => {
                text.extend_from_slice(b"\nfn broken() -> u32 {\n    \"not a number\"\n}\n");
            }
            (Kind::ForkBomb, 6, Some((_, text))) => *text = FORK_BOMB.as_bytes().to_vec(),
            (Kind::Hang, 2, Some((_, text))) => *text = HANG.as_bytes().to_vec(),
            _ => {}
        }
        for (path, data) in files {
            let to = folder.join("crates").join(e.dir).join("src").join(path);
            if let Some(dir) = to.parent() {
                mkdir(dir)?;
            }
            std::fs::write(&to, data).with_context(|| format!("cannot write {}", to.display()))?;
        }
    }
    Ok(())
}

/// A temporary folder, removed at the end.
pub(crate) struct Scratch {
    pub(crate) path: PathBuf,
}

impl Scratch {
    pub(crate) fn new() -> Result<Scratch> {
        let path = std::env::temp_dir().join(format!("ipc-lab-bench-grade-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        mkdir(&path)?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn mkdir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Copies the folder `from` to `to`, but what `skip` (given a path
/// relative to `from`) leaves out.
fn copy_tree(from: &Path, to: &Path, skip: impl FnMut(&Path) -> bool) -> Result<()> {
    mkdir(to)?;
    for rel in crate::walk::files(from, skip)? {
        let (source, target) = (from.join(&rel), to.join(&rel));
        if let Some(dir) = target.parent() {
            mkdir(dir)?;
        }
        std::fs::copy(&source, &target).with_context(|| format!("cannot copy {}", source.display()))?;
    }
    Ok(())
}

/// The reference workspace without build output, version control or local state.
fn copy_workspace(root: &Path, to: &Path) -> Result<()> {
    copy_tree(root, to, |rel| {
        let name = rel.to_string_lossy();
        // At the top only, as a TA's `cp` would skip them.
        rel.components().count() == 1 && (name == "target" || (name.starts_with('.') && name != ".cargo"))
    })
}

/// Zips a folder, with the folder's name as the top level.
fn zip_tree(folder: &Path, to: &Path) -> Result<()> {
    let mut zip = ZipWriter::new();
    let top = folder
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    for rel in crate::walk::files(folder, |_| false)? {
        let name = format!("{top}/{}", rel.display());
        let data = std::fs::read(folder.join(&rel)).with_context(|| format!("cannot read {name}"))?;
        zip.add(&name, &data, 0o644)
            .with_context(|| format!("cannot zip {name}"))?;
    }
    let bytes = zip.finish().context("cannot zip")?;
    std::fs::write(to, bytes).with_context(|| format!("cannot write {}", to.display()))
}
