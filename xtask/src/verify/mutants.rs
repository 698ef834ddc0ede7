//! `cargo xtask verify --mutants`: proof that the checks catch realistic
//! mistakes and accept realistic variants.
//!
//! `mutants/NN-name/*.mutant` are edits of a reference program, each one a
//! thing a student could write: a *wrong* solution (it must fail at least one
//! public check, so the student can find the mistake before the due date) or
//! an *acceptable* variant (it must pass every check, hidden ones too). A
//! mutant file is a few `#` lines saying what the student did, a
//! `kind: wrong` or `kind: ok` line, then one or more edits:
//!
//! ```text
//! --- find
//!     drop(read_end);
//! +++ replace
//!     let _keep = &read_end;
//! ```
//!
//! The text after `--- find` must occur exactly once in the exercise's
//! `src/main.rs`; it is replaced by the text after `+++ replace` (which may
//! be empty). Edits are text, not line numbers, so a mutant survives changes
//! elsewhere in the file, and one that no longer applies says so.
//!
//! Each mutant is built in a scratch copy of the workspace
//! (`target/mutants/ws`, one shared target directory), then every check runs
//! `--runs N` times; a score that differs between runs is reported, since a
//! student's score must not depend on scheduling luck.

use crate::term::{Paint, StatusLine, outln};
use anyhow::{Context as _, Result, anyhow, bail};
use checks::build::{BuildOptions, build};
use checks::{Exercise, ExerciseResult};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// What a mutant claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A mistake: some public check must fail.
    Wrong,
    /// A different but correct way: every check must pass.
    Ok,
}

/// One find-and-replace in the exercise's `main.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub find: String,
    pub replace: String,
}

/// One mutant, as read from its file.
#[derive(Debug, Clone)]
pub struct Mutant {
    /// `03-closing-ends/keeps-write-end`.
    pub id: String,
    pub exercise: &'static Exercise,
    pub kind: Kind,
    /// The `#` lines, joined: what the student did.
    pub about: String,
    pub edits: Vec<Edit>,
}

/// Parses a mutant file's text; `Err` says which line is wrong.
pub fn parse(text: &str) -> Result<(Kind, String, Vec<Edit>), String> {
    let mut kind = None;
    let mut about = Vec::new();
    let mut edits: Vec<Edit> = Vec::new();
    // Where the following lines go: nowhere yet, a find, or a replace.
    #[derive(PartialEq)]
    enum Into {
        Header,
        Find,
        Replace,
    }
    let mut into = Into::Header;
    for (n, line) in text.lines().enumerate() {
        match line {
            "--- find" => {
                if into == Into::Find {
                    return Err(format!("line {}: a find without its '+++ replace'", n + 1));
                }
                edits.push(Edit {
                    find: String::new(),
                    replace: String::new(),
                });
                into = Into::Find;
                continue;
            }
            "+++ replace" => {
                if into != Into::Find {
                    return Err(format!(
                        "line {}: '+++ replace' without a '--- find' before it",
                        n + 1
                    ));
                }
                into = Into::Replace;
                continue;
            }
            _ => {}
        }
        match into {
            Into::Header => {
                if let Some(text) = line.strip_prefix('#') {
                    about.push(text.trim().to_string());
                } else if let Some(k) = line.strip_prefix("kind:") {
                    kind = Some(match k.trim() {
                        "wrong" => Kind::Wrong,
                        "ok" => Kind::Ok,
                        other => {
                            return Err(format!("line {}: kind is 'wrong' or 'ok', not {other:?}", n + 1));
                        }
                    });
                } else if !line.trim().is_empty() {
                    return Err(format!(
                        "line {}: expected '#', 'kind:' or '--- find', got {line:?}",
                        n + 1
                    ));
                }
            }
            Into::Find | Into::Replace => {
                let edit = edits.last_mut().expect("an edit was started");
                let part = if into == Into::Find {
                    &mut edit.find
                } else {
                    &mut edit.replace
                };
                part.push_str(line);
                part.push('\n');
            }
        }
    }
    if into == Into::Find {
        return Err("the last find has no '+++ replace'".to_string());
    }
    let kind = kind.ok_or("no 'kind: wrong' or 'kind: ok' line")?;
    if edits.is_empty() || edits.iter().any(|e| e.find.trim().is_empty()) {
        return Err("no edit, or an edit with nothing to find".to_string());
    }
    Ok((kind, about.join(" "), edits))
}

/// Applies the edits to `source`; `Err` names the edit that does not fit.
pub fn apply(source: &str, edits: &[Edit]) -> Result<String, String> {
    let mut out = source.to_string();
    for (i, edit) in edits.iter().enumerate() {
        let found = out.matches(edit.find.as_str()).count();
        if found != 1 {
            let first = edit
                .find
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            return Err(format!(
                "edit {}: its find text (starting {:?}) occurs {found} times, not once",
                i + 1,
                first.trim()
            ));
        }
        out = out.replacen(edit.find.as_str(), &edit.replace, 1);
    }
    Ok(out)
}

/// Every mutant under `root/mutants`, in exercise then file-name order.
pub fn load(root: &Path) -> Result<Vec<Mutant>> {
    let dir = root.join("mutants");
    let mut mutants = Vec::new();
    for exercise in checks::catalogue() {
        let sub = dir.join(exercise.dir);
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "mutant"))
            .collect();
        files.sort();
        for file in files {
            let stem = file
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let id = format!("{}/{stem}", exercise.dir);
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let (kind, about, edits) = parse(&text).map_err(|e| anyhow!("mutants/{id}.mutant: {e}"))?;
            mutants.push(Mutant {
                id,
                exercise,
                kind,
                about,
                edits,
            });
        }
    }
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !checks::catalogue().iter().any(|e| e.dir == name) {
                bail!("mutants/{name}: no exercise has that directory name");
            }
        }
    }
    Ok(mutants)
}

/// One mutant's runs.
struct Tally<'a> {
    mutant: &'a Mutant,
    /// Each run's score (hidden checks included).
    scores: Vec<u32>,
    max: u32,
    /// Runs in which a public check failed.
    caught: u32,
    /// Runs in which every check passed.
    passed: u32,
    /// The first failure of a run, to show why a mutant did what it did.
    example: Option<String>,
    /// Why it could not even be checked (its edit does not apply).
    broken: Option<String>,
}

impl Tally<'_> {
    fn good(&self, runs: u32) -> bool {
        self.broken.is_none()
            && match self.mutant.kind {
                Kind::Wrong => self.caught == runs,
                Kind::Ok => self.passed == runs,
            }
    }

    fn varied(&self) -> bool {
        self.scores.iter().min() != self.scores.iter().max()
    }

    fn record(&mut self, result: &ExerciseResult) {
        self.scores.push(result.score());
        self.max = result.max_score();
        if result.checks.iter().any(|c| !c.passed() && !c.hidden) {
            self.caught += 1;
        }
        if result.passed() {
            self.passed += 1;
        }
        if self.example.is_none() {
            // A public failure first: that is what the student gets to see.
            let public = result.checks.iter().find(|c| !c.passed() && !c.hidden);
            if let Some(c) = public.or_else(|| result.checks.iter().find(|c| !c.passed())) {
                let hidden = if c.hidden { " (hidden)" } else { "" };
                let first = c.output.lines().next().unwrap_or_default();
                self.example = Some(format!("fails “{}”{hidden}: {first}", c.name));
            }
        }
    }
}

pub fn run(root: &Path, only: &[String], runs: u32, jobs: usize) -> Result<ExitCode> {
    let start = Instant::now();
    let mut mutants = load(root)?;
    if !only.is_empty() {
        let wanted: Vec<&Exercise> = only
            .iter()
            .map(|q| checks::find(q).ok_or_else(|| anyhow!("no exercise {q:?}")))
            .collect::<Result<_, _>>()?;
        mutants.retain(|m| wanted.iter().any(|w| w.number == m.exercise.number));
    }
    if mutants.is_empty() {
        bail!("no mutants to check (mutants/NN-name/*.mutant)");
    }
    let scratch = root.join("target").join("mutants");
    let ws = scratch.join("ws");
    let bins = scratch.join("bin");
    prepare_workspace(root, &ws)?;
    std::fs::create_dir_all(&bins).with_context(|| format!("cannot create {}", bins.display()))?;

    let progress = StatusLine::new();
    let options = BuildOptions {
        show_progress: false,
        target_dir: Some(scratch.join("target")),
    };
    let mut tallies: Vec<Tally> = Vec::new();
    let mut items: Vec<(&'static Exercise, Result<PathBuf, String>)> = Vec::new();
    for (i, m) in mutants.iter().enumerate() {
        progress.update(&format!("building mutant {}/{}: {}…", i + 1, mutants.len(), m.id));
        let mut tally = Tally {
            mutant: m,
            scores: Vec::new(),
            max: 0,
            caught: 0,
            passed: 0,
            example: None,
            broken: None,
        };
        match build_one(root, &ws, &bins, m, &options) {
            Ok(binary) => items.push((m.exercise, Ok(binary))),
            Err(why) => {
                tally.broken = Some(format!("{why:#}"));
                items.push((m.exercise, Err("not built".to_string())));
            }
        }
        tallies.push(tally);
    }
    // Restore the references, so the scratch workspace stays a plain copy.
    prepare_workspace(root, &ws)?;

    for run in 1..=runs {
        let on_done = |done: usize, total: usize| {
            progress.update(&format!("run {run}/{runs}: checking the mutants… {done}/{total}"));
        };
        let results = checks::run_exercises(&items, true, jobs, &on_done);
        for (tally, result) in tallies.iter_mut().zip(&results) {
            if tally.broken.is_none() {
                tally.record(result);
            }
        }
    }
    progress.finish();
    Ok(report(&tallies, runs, start.elapsed().as_secs_f64()))
}

/// A copy of the workspace's manifest, lock file and the crates the
/// exercises build from, with the references' sources.
fn prepare_workspace(root: &Path, ws: &Path) -> Result<()> {
    let copy = |rel: &str| -> Result<()> {
        let (from, to) = (root.join(rel), ws.join(rel));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let text = std::fs::read(&from).with_context(|| format!("cannot read {}", from.display()))?;
        // Unchanged files keep their time stamp, so cargo rebuilds only
        // what a mutant changed.
        if std::fs::read(&to).ok().as_deref() != Some(&text[..]) {
            std::fs::write(&to, &text).with_context(|| format!("cannot write {}", to.display()))?;
        }
        Ok(())
    };
    // The workspace without xtask and the staff crates: only what the
    // exercises need, so that cargo resolves and builds little.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).context("cannot read Cargo.toml")?;
    let manifest = manifest.replace(
        r#"members = ["crates/*", "xtask"]"#,
        r#"members = ["crates/syscalls", "crates/[0-9]*"]"#,
    );
    std::fs::create_dir_all(ws).with_context(|| format!("cannot create {}", ws.display()))?;
    let target = ws.join("Cargo.toml");
    if std::fs::read_to_string(&target).ok().as_deref() != Some(manifest.as_str()) {
        std::fs::write(&target, manifest).with_context(|| format!("cannot write {}", target.display()))?;
    }
    copy("Cargo.lock")?;
    let mut dirs: Vec<String> = checks::catalogue().iter().map(|e| e.dir.to_string()).collect();
    dirs.push("syscalls".to_string());
    for dir in dirs {
        for file in walk(&root.join("crates").join(&dir))? {
            let rel = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .to_string_lossy()
                .into_owned();
            copy(&rel)?;
        }
    }
    Ok(())
}

/// The files of a crate: its manifest and `src/`.
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let src = dir.join("src");
    let mut files = vec![dir.join("Cargo.toml")];
    files.extend(
        crate::walk::files(&src, |_| false)?
            .into_iter()
            .map(|f| src.join(f)),
    );
    Ok(files)
}

/// Writes the mutant into the scratch workspace, builds it and keeps its
/// binary under `bins`.
fn build_one(root: &Path, ws: &Path, bins: &Path, m: &Mutant, options: &BuildOptions) -> Result<PathBuf> {
    let rel = Path::new("crates")
        .join(m.exercise.dir)
        .join("src")
        .join("main.rs");
    let source =
        std::fs::read_to_string(root.join(&rel)).with_context(|| format!("cannot read {}", rel.display()))?;
    let mutated = apply(&source, &m.edits).map_err(anyhow::Error::msg)?;
    std::fs::write(ws.join(&rel), mutated).context("cannot write the mutant")?;
    let built = build(ws, &[m.exercise.name], options).context("cannot build")?;
    let binary = built
        .binary(m.exercise.name)
        .map_err(|e| anyhow!("does not build:\n{e}"))?;
    let kept = bins.join(m.id.replace('/', "--"));
    std::fs::copy(binary, &kept).with_context(|| format!("cannot copy {}", binary.display()))?;
    Ok(kept)
}

/// Prints the table and the totals; 0 when every mutant did what it claims.
fn report(tallies: &[Tally], runs: u32, seconds: f64) -> ExitCode {
    let paint = Paint::stdout();
    outln!(
        "{}",
        paint.bold(&format!(
            "{:<44} {:<6} {:<18} {}",
            "mutant", "kind", "result", "score over runs"
        ))
    );
    let mut problems = Vec::new();
    let mut by_kind: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut varied = 0;
    for t in tallies {
        let (kind, verdict) = match t.mutant.kind {
            Kind::Wrong => ("wrong", format!("caught {}/{runs}", t.caught)),
            Kind::Ok => ("ok", format!("passed {}/{runs}", t.passed)),
        };
        let good = t.good(runs);
        let entry = by_kind.entry(kind).or_default();
        entry.1 += 1;
        entry.0 += u32::from(good);
        let min = t.scores.iter().min().copied().unwrap_or(0);
        let max = t.scores.iter().max().copied().unwrap_or(0);
        let scores = if t.broken.is_some() {
            "—".to_string()
        } else if min == max {
            format!("{min}/{}", t.max)
        } else {
            varied += 1;
            format!("{min}–{max}/{} (varied)", t.max)
        };
        let mark = if good {
            paint.green("✓")
        } else {
            paint.red("✗")
        };
        outln!("{:<44} {kind:<6} {mark} {verdict:<16} {scores}", t.mutant.id);
        if crate::term::verbosity() == crate::term::Verbosity::Verbose {
            // What the student reads first, to judge whether it names the mistake.
            if let Some(example) = &t.example {
                outln!("    {example}");
            }
        }
        if let Some(why) = &t.broken {
            problems.push(format!("{}: {why}", t.mutant.id));
        } else if !good {
            let mut text = format!("{} ({}): {}", t.mutant.id, t.mutant.about, verdict);
            if let Some(example) = &t.example {
                let _ = write!(text, "; {example}");
            } else {
                text.push_str("; every check passed");
            }
            problems.push(text);
        } else if t.varied() {
            problems.push(format!(
                "{}: its score varied between runs ({scores})",
                t.mutant.id
            ));
        }
    }
    let (wrong_good, wrong_all) = by_kind.get("wrong").copied().unwrap_or_default();
    let (ok_good, ok_all) = by_kind.get("ok").copied().unwrap_or_default();
    outln!();
    outln!("wrong solutions caught on public checks: {wrong_good}/{wrong_all}");
    outln!("acceptable variants that passed every check: {ok_good}/{ok_all}");
    outln!("scores that varied over {runs} run(s): {varied}");
    for p in &problems {
        outln!("{} {p}", paint.red("✗"));
    }
    outln!(
        "verify --mutants: {} mutants × {runs} run(s), {seconds:.1} s",
        tallies.len()
    );
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mutant_file_parses_into_its_edits() {
        let text = "# keeps the read end\n# (twice)\nkind: wrong\n--- find\n    a();\n    b();\n+++ replace\n    b();\n--- find\nc\n+++ replace\n";
        let (kind, about, edits) = parse(text).unwrap();
        assert_eq!(kind, Kind::Wrong);
        assert_eq!(about, "keeps the read end (twice)");
        assert_eq!(edits.len(), 2);
        assert_eq!(edits[0].find, "    a();\n    b();\n");
        assert_eq!(edits[0].replace, "    b();\n");
        assert_eq!(edits[1].replace, "");
        assert_eq!(
            apply("x\n    a();\n    b();\nc\n", &edits).unwrap(),
            "x\n    b();\n"
        );
    }

    #[test]
    fn bad_mutant_files_say_what_is_wrong() {
        assert!(parse("--- find\nx\n+++ replace\n").unwrap_err().contains("kind"));
        assert!(parse("kind: maybe\n").unwrap_err().contains("maybe"));
        assert!(parse("kind: ok\n--- find\nx\n").unwrap_err().contains("replace"));
        assert!(parse("kind: ok\n+++ replace\n").unwrap_err().contains("line 2"));
        let edit = Edit {
            find: "a\n".to_string(),
            replace: String::new(),
        };
        assert!(
            apply("a\na\n", std::slice::from_ref(&edit))
                .unwrap_err()
                .contains("2 times")
        );
        assert!(apply("b\n", &[edit]).unwrap_err().contains("0 times"));
    }

    /// Every mutant in the repository still applies to its reference, so
    /// the suite never silently tests nothing.
    #[test]
    fn every_mutant_applies_to_its_reference() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        if !root.join("mutants").is_dir() {
            // A student repository: the suite is course staff's.
            return;
        }
        let mutants = load(root).unwrap();
        for m in &mutants {
            let source =
                std::fs::read_to_string(root.join("crates").join(m.exercise.dir).join("src/main.rs"))
                    .unwrap();
            if let Err(e) = apply(&source, &m.edits) {
                panic!("mutants/{}.mutant no longer applies: {e}", m.id);
            }
        }
        for e in checks::catalogue() {
            let count = |kind| {
                mutants
                    .iter()
                    .filter(|m| m.exercise.number == e.number && m.kind == kind)
                    .count()
            };
            let needed = if e.number <= 12 { 2 } else { 1 };
            assert!(
                count(Kind::Wrong) >= needed,
                "{}: write at least {needed} wrong mutant(s) in mutants/{}/",
                e.label(),
                e.dir
            );
        }
    }
}
