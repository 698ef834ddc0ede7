//! `cargo xtask verify`: course staff's proof that the checks bite.
//!
//! For every exercise of the catalogue:
//! - the reference passes every check, public and hidden;
//! - the released stub builds, and fails at least one public check;
//!
//! and for the release as a whole: `cargo build --workspace` succeeds with
//! no warning (students read every warning), and `cargo fmt --check` is
//! clean.
//!
//! The release is written to `target/verify/release` and built once into
//! `target/verify/target`; both stay between runs, and the release rewrites
//! only the files that changed, so a second `verify` rebuilds only what
//! changed. The stubs are checked with those binaries, public checks only
//! (the student's view). Exit status: 0 when all holds, 1 when something
//! does not (the table says what), 2 when it could not run at all.
//!
//! `verify --mutants` proves more: that realistic wrong solutions fail a
//! public check and acceptable variants pass (see [`mutants`]).

pub mod mutants;

use crate::flags::VerifyFlags;
use crate::release::Release;
use crate::term::{Paint, StatusLine, outln};
use anyhow::{Context as _, Result, bail};
use checks::build::{BuildOptions, CargoMessage, build, cargo};
use checks::{CheckResult, Exercise, ExerciseResult};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// What `todo!()` prints when a stub reaches it.
const TODO_PANIC: &str = "not yet implemented";

pub fn run(root: &Path, flags: &VerifyFlags) -> Result<ExitCode> {
    let start = Instant::now();
    let jobs = flags.jobs.unwrap_or_else(checks::default_jobs);
    if flags.mutants {
        return mutants::run(root, &flags.exercises, flags.runs.max(1), jobs);
    }
    let exercises: Vec<&'static Exercise> = checks::catalogue().iter().collect();
    let names: Vec<&str> = exercises.iter().map(|e| e.name).collect();
    let cargo_output = std::io::stderr().is_terminal();
    let progress = StatusLine::new();

    // The release first: a malformed region is the cheapest thing to find.
    let scratch = root.join("target").join("verify");
    let release_dir = scratch.join("release");
    let release = Release::from_workspace(root)?;
    release.write(&release_dir)?;
    release.prune(&release_dir)?;

    progress.update("building the references…");
    let options = BuildOptions {
        show_progress: cargo_output,
        target_dir: None,
    };
    let reference = build(root, &names, &options).context("cannot build")?;
    progress.update("building the release…");
    let released = build_release(&release_dir, &scratch.join("target"), cargo_output)?;
    progress.update("rustfmt --check on the release…");
    let unformatted = fmt_check(&release_dir)?;

    let reference_items: Vec<_> = exercises
        .iter()
        .map(|e| (*e, reference.binary(e.name).map(Path::to_path_buf)))
        .collect();
    let stub_items: Vec<_> = exercises.iter().map(|e| (*e, released.binary(e.name))).collect();
    let on_done = |what: &'static str| {
        let progress = &progress;
        move |done: usize, total: usize| progress.update(&format!("checking the {what}… {done}/{total}"))
    };
    let reference_results = checks::run_exercises(&reference_items, true, jobs, &on_done("references"));
    let stub_results = checks::run_exercises(&stub_items, false, jobs, &on_done("stubs"));
    progress.finish();

    let rows: Vec<Row> = exercises
        .iter()
        .zip(reference_results.iter().zip(&stub_results))
        .map(|(e, (r, s))| Row::new(e, r, s, &released))
        .collect();
    let problems = report(&rows, &released, &unformatted, start.elapsed().as_secs_f64());
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What building the release produced.
#[derive(Debug, Default)]
struct ReleaseBuild {
    /// Executable of each binary target that built.
    binaries: BTreeMap<String, PathBuf>,
    /// First error of each target that did not.
    errors: BTreeMap<String, String>,
    /// Every warning, rendered, with the target it is about.
    warnings: Vec<(String, String)>,
    /// Whether cargo exited 0.
    succeeded: bool,
}

impl ReleaseBuild {
    /// Whether the release built: cargo succeeded and no target failed.
    fn builds(&self) -> bool {
        self.succeeded && self.errors.is_empty()
    }

    fn binary(&self, name: &str) -> Result<PathBuf, String> {
        self.binaries.get(name).cloned().ok_or_else(|| {
            self.errors
                .get(name)
                .cloned()
                .unwrap_or_else(|| format!("{name} did not build in the release"))
        })
    }
}

/// `cargo build --workspace` in the release, reading cargo's JSON messages
/// for binaries, errors and warnings (cargo replays the warnings of crates
/// that are already built, so a warm build reports them too).
fn build_release(release: &Path, target_dir: &Path, show_progress: bool) -> Result<ReleaseBuild> {
    let mut child = Command::new(cargo())
        .current_dir(release)
        .args(["build", "--workspace", "--keep-going", "--message-format=json"])
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if show_progress {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .context("cannot run cargo")?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let mut built = ReleaseBuild::default();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("cannot read cargo's output")?;
        match CargoMessage::parse(&line) {
            Some(CargoMessage::Binary { target, executable }) => {
                built.binaries.insert(target, executable);
            }
            // "warning: 3 warnings emitted" sums up the others.
            Some(CargoMessage::Compiler { target, diagnostic }) if !diagnostic.is_summary() => {
                let rendered = diagnostic.text().to_string();
                match diagnostic.level.as_str() {
                    "error" => {
                        built.errors.entry(target).or_insert(rendered);
                    }
                    "warning" => built.warnings.push((target, rendered)),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let status = child.wait().context("cannot wait for cargo")?;
    built.succeeded = status.success();
    Ok(built)
}

/// `cargo fmt --all --check` in the release: the files rustfmt would
/// change (empty when clean).
fn fmt_check(release: &Path) -> Result<Vec<String>> {
    let out = Command::new(cargo())
        .current_dir(release)
        .args(["fmt", "--all", "--check"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run cargo fmt")?;
    if out.status.success() {
        return Ok(Vec::new());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut files: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Diff in "))
        .map(|l| {
            // "Diff in /…/release/xtask/src/main.rs:12:"
            let l = l.trim_end_matches(':');
            let l = l.rsplit_once(':').map_or(l, |(file, _line)| file);
            let l = l.strip_prefix(&format!("{}/", release.display())).unwrap_or(l);
            l.to_string()
        })
        .collect();
    files.sort();
    files.dedup();
    if files.is_empty() {
        // Not a formatting difference: rustfmt itself failed.
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "cargo fmt --check failed in {}: {}",
            release.display(),
            err.lines().next().unwrap_or("no message")
        );
    }
    Ok(files)
}

/// One exercise's line of the table.
struct Row<'a> {
    exercise: &'a Exercise,
    reference: &'a ExerciseResult,
    stub: &'a ExerciseResult,
    stub_builds: bool,
}

impl<'a> Row<'a> {
    fn new(
        exercise: &'a Exercise,
        reference: &'a ExerciseResult,
        stub: &'a ExerciseResult,
        released: &ReleaseBuild,
    ) -> Row<'a> {
        Row {
            exercise,
            reference,
            stub,
            stub_builds: released.binaries.contains_key(exercise.name),
        }
    }

    /// Whether the reference passes every check, and ran some.
    fn reference_ok(&self) -> bool {
        self.reference.passed() && !self.reference.checks.is_empty()
    }

    /// Whether the stub builds and fails a public check, as it must.
    fn stub_ok(&self) -> bool {
        self.stub_builds && self.stub_failures() > 0
    }

    fn stub_failures(&self) -> usize {
        self.stub.checks.iter().filter(|c| !c.passed()).count()
    }

    /// Whether some failing public check shows the `todo!()` message, so
    /// the student is pointed at the TODO.
    fn points_at_todo(&self) -> bool {
        self.stub
            .checks
            .iter()
            .any(|c| !c.passed() && c.output.contains(TODO_PANIC))
    }
}

/// Something that keeps `verify` from passing.
enum Problem<'a> {
    /// The reference fails this check of the exercise.
    ReferenceFails(&'a Exercise, &'a CheckResult),
    /// The reference ran no check at all.
    NoReferenceCheck(&'a Exercise),
    /// The released stub does not build: why, as the compiler said.
    StubDoesNotBuild(&'a Exercise, String),
    /// The released stub passes every public check: the points for free.
    StubPassesEveryCheck(&'a Exercise),
    /// The release does not build: the first error of each target.
    ReleaseDoesNotBuild(&'a BTreeMap<String, String>),
    /// The release builds with these warnings (target, rendered).
    ReleaseWarns(&'a [(String, String)]),
    /// rustfmt would change these files of the release.
    Unformatted(&'a [String]),
}

/// Every problem, in the order the report tells them: each exercise's,
/// then the release's.
fn problems<'a>(rows: &[Row<'a>], released: &'a ReleaseBuild, unformatted: &'a [String]) -> Vec<Problem<'a>> {
    let mut problems = Vec::new();
    for row in rows {
        let reference: &'a ExerciseResult = row.reference;
        for c in reference.checks.iter().filter(|c| !c.passed()) {
            problems.push(Problem::ReferenceFails(row.exercise, c));
        }
        if reference.checks.is_empty() {
            problems.push(Problem::NoReferenceCheck(row.exercise));
        }
        if !row.stub_builds {
            let why = released.binary(row.exercise.name).err().unwrap_or_default();
            problems.push(Problem::StubDoesNotBuild(row.exercise, why));
        } else if row.stub_failures() == 0 {
            problems.push(Problem::StubPassesEveryCheck(row.exercise));
        }
    }
    if !released.builds() {
        problems.push(Problem::ReleaseDoesNotBuild(&released.errors));
    }
    if !released.warnings.is_empty() {
        problems.push(Problem::ReleaseWarns(&released.warnings));
    }
    if !unformatted.is_empty() {
        problems.push(Problem::Unformatted(unformatted));
    }
    problems
}

impl Problem<'_> {
    /// What the report says about it: a line, then details indented.
    fn render(&self) -> String {
        match self {
            Problem::ReferenceFails(exercise, c) => {
                let hidden = if c.hidden { " (hidden)" } else { "" };
                format!(
                    "{}: the reference fails “{}”{hidden}\n  $ {}\n{}",
                    exercise.label(),
                    c.name,
                    c.command,
                    indent(&c.output)
                )
            }
            Problem::NoReferenceCheck(exercise) => {
                format!("{}: the reference ran no check", exercise.label())
            }
            Problem::StubDoesNotBuild(exercise, why) => format!(
                "{}: the released stub does not build\n{}",
                exercise.label(),
                indent(why)
            ),
            Problem::StubPassesEveryCheck(exercise) => format!(
                "{}: the released stub passes every public check; a student would get the \
                 points without writing anything (are its regions the lines that matter?)",
                exercise.label()
            ),
            Problem::ReleaseDoesNotBuild(errors) => {
                let mut errors: Vec<String> = errors
                    .iter()
                    .map(|(t, e)| format!("{t}:\n{}", indent(e)))
                    .collect();
                if errors.is_empty() {
                    errors.push("  cargo build failed without a compiler error (see its output)".to_string());
                }
                format!("the release does not build:\n{}", errors.join("\n"))
            }
            Problem::ReleaseWarns(warnings) => {
                let shown: Vec<String> = warnings
                    .iter()
                    .take(10)
                    .map(|(t, w)| format!("{t}:\n{}", indent(w)))
                    .collect();
                format!(
                    "the release builds with {} warnings; students would see them (first ones):\n{}",
                    warnings.len(),
                    shown.join("\n")
                )
            }
            Problem::Unformatted(files) => format!(
                "rustfmt would change these files of the release: {}",
                files.join(", ")
            ),
        }
    }
}

/// Prints the table and the details of each problem; returns how many.
fn report(rows: &[Row], released: &ReleaseBuild, unformatted: &[String], seconds: f64) -> usize {
    let problems = problems(rows, released, unformatted);
    let paint = Paint::stdout();
    print_table(&paint, rows, released, unformatted);
    for p in &problems {
        outln!();
        outln!("{} {}", paint.red("✗"), p.render());
    }
    outln!();
    if problems.is_empty() {
        outln!(
            "verify: all good: {} exercises, {} reference checks, {} stub checks, {seconds:.1} s",
            rows.len(),
            rows.iter().map(|r| r.reference.checks.len()).sum::<usize>(),
            rows.iter().map(|r| r.stub.checks.len()).sum::<usize>(),
        );
    } else {
        outln!("verify: {} problem(s), {seconds:.1} s", problems.len());
    }
    problems.len()
}

/// Prints one line per exercise (reference passes, stub builds, stub
/// fails a public check), then a mark for each of the release's checks.
fn print_table(paint: &Paint, rows: &[Row], released: &ReleaseBuild, unformatted: &[String]) {
    let mark = |ok: bool| if ok { paint.green("✓") } else { paint.red("✗") };
    outln!(
        "{}",
        paint.bold(&format!(
            "{:<22} {:<18} {:<12} {}",
            "exercise", "reference passes", "stub builds", "stub fails a public check"
        ))
    );
    for row in rows {
        let passed = row.reference.checks.iter().filter(|c| c.passed()).count();
        let total = row.reference.checks.len();
        let fails = row.stub_failures();
        let note = if row.stub_ok() && !row.points_at_todo() {
            " (no failure shows the todo!() message)"
        } else {
            ""
        };
        outln!(
            "{:<22} {} {:<16} {:<12} {} {fails}/{} fail{note}",
            row.exercise.label(),
            mark(row.reference_ok()),
            format!("{passed}/{total} checks"),
            mark(row.stub_builds),
            mark(row.stub_ok()),
            row.stub.checks.len(),
        );
    }
    outln!();
    outln!(
        "{} the release builds (cargo build --workspace)",
        mark(released.builds())
    );
    outln!(
        "{} the release builds without warnings ({} warnings)",
        mark(released.warnings.is_empty()),
        released.warnings.len()
    );
    outln!(
        "{} the release is rustfmt-clean (cargo fmt --check)",
        mark(unformatted.is_empty())
    );
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use checks::Failure;

    fn result(name: &'static str, failure: Option<Failure>) -> CheckResult {
        CheckResult {
            name,
            command: format!("run {name}"),
            score: 0,
            max_score: 1,
            hidden: false,
            failure,
            output: String::new(),
            duration: std::time::Duration::ZERO,
            isolation: None,
        }
    }

    #[test]
    fn problems_are_found_on_the_rows_and_the_release_not_in_text() {
        let [first, second, ..] = checks::catalogue() else {
            panic!("the catalogue has two exercises at least")
        };
        let reference = |e| ExerciseResult {
            exercise: e,
            checks: vec![result("ok", None), result("bad", Some(Failure::Judged))],
        };
        let passing_stub = |e| ExerciseResult {
            exercise: e,
            checks: vec![result("ok", None)],
        };
        let (r1, s1) = (reference(first), passing_stub(first));
        let empty = ExerciseResult {
            exercise: second,
            checks: Vec::new(),
        };
        let mut released = ReleaseBuild {
            succeeded: false,
            ..ReleaseBuild::default()
        };
        released
            .binaries
            .insert(first.name.to_string(), PathBuf::from("x"));
        released.warnings.push(("t".into(), "w".into()));
        let rows = [
            Row::new(first, &r1, &s1, &released),
            Row::new(second, &empty, &empty, &released),
        ];
        let unformatted = ["a.rs".to_string()];
        let found: Vec<String> = problems(&rows, &released, &unformatted)
            .iter()
            .map(|p| match p {
                Problem::ReferenceFails(e, c) => format!("{} fails {}", e.name, c.name),
                Problem::NoReferenceCheck(e) => format!("{} no check", e.name),
                Problem::StubDoesNotBuild(e, _) => format!("{} stub unbuilt", e.name),
                Problem::StubPassesEveryCheck(e) => format!("{} stub passes", e.name),
                Problem::ReleaseDoesNotBuild(_) => "release unbuilt".into(),
                Problem::ReleaseWarns(w) => format!("{} warnings", w.len()),
                Problem::Unformatted(f) => f.join(","),
            })
            .collect();
        assert_eq!(
            found,
            [
                format!("{} fails bad", first.name),
                format!("{} stub passes", first.name),
                format!("{} no check", second.name),
                format!("{} stub unbuilt", second.name),
                "release unbuilt".into(),
                "1 warnings".into(),
                "a.rs".into(),
            ]
        );
        // A reference that passes and a stub that builds and fails: nothing.
        let good_reference = passing_stub(first);
        let failing_stub = ExerciseResult {
            exercise: first,
            checks: vec![result("bad", Some(Failure::Judged))],
        };
        released.succeeded = true;
        released.warnings.clear();
        let row = Row::new(first, &good_reference, &failing_stub, &released);
        assert!(row.reference_ok() && row.stub_ok());
        assert!(problems(&[row], &released, &[]).is_empty());
    }
}
