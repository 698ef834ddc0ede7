//! `cargo xtask grade` and `cargo xtask autograder`, driven the way a TA
//! drives them: a folder of submissions, good and bad, graded for real.
//!
//! One class is graded once and then looked at from every side (the points
//! of each exercise, the results files, the CSV, processes left behind,
//! resuming, `--force`), because grading compiles and runs every check of
//! every exercise: a few seconds per submission. The grading cache (the
//! toolchain copy, the dependencies built once, the compiled exercises)
//! lives in the target folder, shared by the tests and by later runs.

use assert_cmd::Command;
use checks::report::Results;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

mod common;

use common::{Scratch, copy_tree, root};

use grader::zip_writer as zip;

/// The grading cache for the tests: in the target folder, kept between runs.
fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("grade-cache")
}

fn xtask() -> Command {
    let mut cmd = Command::cargo_bin("xtask").expect("xtask binary is built");
    cmd.env("IPC_LAB_ROOT", root())
        .env("IPC_LAB_GRADE_CACHE", cache())
        .env("NO_COLOR", "1")
        // A hang in the grader must fail the test, not stall the run.
        .timeout(Duration::from_secs(600));
    cmd
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A fully solved submission: the reference's exercise sources, next to
/// manifests, a build script, checks and an xtask that would break the
/// build or cheat if grading ever used them.
fn solved(dir: &Path) {
    for e in checks::catalogue() {
        let src = Path::new("crates").join(e.dir).join("src");
        copy_tree(&root().join(&src), &dir.join(&src));
    }
    write(&dir.join("Cargo.toml"), "this is [[not a manifest");
    write(&dir.join("crates/01-selfpipe/Cargo.toml"), "[package\nname = ");
    write(
        &dir.join("crates/01-selfpipe/build.rs"),
        "fn main() { panic!(\"grading ran the submission's build script\") }",
    );
    write(
        &dir.join("crates/checks/src/lib.rs"),
        "pub fn everything_passes() {}",
    );
    write(
        &dir.join("xtask/src/main.rs"),
        "fn main() { std::process::exit(0) }",
    );
}

/// A program that forks in a loop, bounded by itself.
const FORK_BOMB: &str = include_str!("../fixtures/fork_bomb.rs");

/// Zips `dir` with `top/` as its single top-level folder.
fn zip_folder(dir: &Path, top: &str, to: &Path) {
    fn add(z: &mut zip::ZipWriter, dir: &Path, prefix: &str) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}/{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                add(z, &entry.path(), &name);
            } else {
                z.add(&name, &std::fs::read(entry.path()).unwrap(), 0o644)
                    .unwrap();
            }
        }
    }
    let mut z = zip::ZipWriter::new();
    add(&mut z, dir, top);
    std::fs::write(to, z.finish().unwrap()).unwrap();
}

fn results(out: &Path, name: &str) -> Results {
    let path = out.join(name).join("results.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let r = Results::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
    // Gradescope's schema, consistent with itself.
    let sum: f64 = r.tests.iter().map(|t| t.score).sum();
    let max: f64 = r.tests.iter().map(|t| t.max_score).sum();
    assert_eq!(r.score, sum, "{name}: score is not the sum of the tests");
    assert_eq!(r.max_score, max, "{name}: max_score is not the sum of the tests");
    let expected_max: u32 = checks::catalogue().iter().map(|e| e.max_points(true)).sum();
    assert_eq!(
        r.max_score,
        f64::from(expected_max),
        "{name}: not every check is there"
    );
    for t in &r.tests {
        assert!(t.status == "passed" || t.status == "failed", "{name}: {t:?}");
        assert!(
            t.visibility == "visible" || t.visibility == "after_due_date",
            "{name}: {t:?}"
        );
    }
    assert!(
        r.tests.iter().any(|t| t.visibility == "after_due_date"),
        "{name}: hidden checks must be graded, visible after the due date"
    );
    r
}

/// Points per exercise number.
fn per_exercise(r: &Results) -> BTreeMap<u8, f64> {
    let mut points = BTreeMap::new();
    for t in &r.tests {
        let n: u8 = t
            .number
            .as_deref()
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        *points.entry(n).or_insert(0.0) += t.score;
    }
    points
}

/// The output of exercise `n`'s checks, joined.
fn outputs(r: &Results, n: u8) -> String {
    r.tests
        .iter()
        .filter(|t| t.number.as_deref().unwrap().starts_with(&format!("{n}.")))
        .map(|t| t.output.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn full(n: u8) -> f64 {
    f64::from(checks::find(&n.to_string()).unwrap().max_points(true))
}

/// Every exercise but `except` has full marks.
fn others_full(name: &str, r: &Results, except: u8) {
    for (n, points) in per_exercise(r) {
        if n != except {
            assert_eq!(
                points,
                full(n),
                "{name}: exercise {n} lost points:\n{}",
                outputs(r, n)
            );
        }
    }
}

/// Processes named `gradebomb` still alive.
fn bombs_alive() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "gradebomb"))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn am_root() -> bool {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn grades_a_class_of_submissions() {
    let scratch = Scratch::new("grade-class");
    let subs = scratch.dir.join("submissions");
    let work = scratch.dir.join("work");

    solved(&subs.join("solved"));
    xtask().arg("release").arg(subs.join("bare")).assert().success();

    solved(&subs.join("compile-error"));
    let main3 = subs.join("compile-error/crates/03-closing-ends/src/main.rs");
    let mut text = std::fs::read_to_string(&main3).unwrap();
    text.push_str("\nfn broken() -> u32 {\n    \"not a number\"\n}\n");
    write(&main3, &text);
    // Sources new to the cache (it is kept between runs), so this run
    // compiles them merged: exercise 03 breaks the opt-level 0 group's
    // merged build (the others must still compile, alone), while the
    // optimised group (10, 14, 16) builds merged.
    let started = SystemTime::now() - Duration::from_secs(2);
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    for dir in ["03-closing-ends", "05-pipesizer", "10-incr", "14-parallelism"] {
        let main = subs.join(format!("compile-error/crates/{dir}/src/main.rs"));
        let text = std::fs::read_to_string(&main).unwrap();
        write(&main, &format!("{text}\n// Run {stamp}.\n"));
    }

    // Code runs at compile time too: as root, the compiler runs as a user
    // of its own, who cannot read the grader's private files (and, in a
    // mount namespace, does not even see them).
    let secret = scratch.dir.join("secret.txt");
    write(&secret, "the answers");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let main4 = subs.join("compile-error/crates/04-child-to-child/src/main.rs");
    let mut text = std::fs::read_to_string(&main4).unwrap();
    text.push_str(&format!(
        "\nconst _STOLEN: &str = include_str!({:?});\n",
        secret.display().to_string()
    ));
    write(&main4, &text);

    solved(&subs.join("fork-bomb"));
    write(
        &subs.join("fork-bomb/crates/06-fork-process/src/main.rs"),
        FORK_BOMB,
    );

    solved(&work.join("zipped"));
    zip_folder(&work.join("zipped"), "my-repo", &subs.join("zipped.zip"));

    solved(&work.join("missing-file"));
    std::fs::remove_file(work.join("missing-file/crates/01-selfpipe/src/main.rs")).unwrap();
    let tarred = std::process::Command::new("tar")
        .arg("-czf")
        .arg(subs.join("missing-file.tar.gz"))
        .arg("-C")
        .arg(&work)
        .arg("missing-file")
        .status()
        .unwrap();
    assert!(tarred.success());

    let names = [
        "bare",
        "compile-error",
        "fork-bomb",
        "missing-file",
        "solved",
        "zipped",
    ];
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&subs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let out = scratch.dir.join("grades");
    let graded = xtask()
        .arg("grade")
        .args(&paths)
        .arg("--out")
        .arg(&out)
        .args(["--jobs", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&graded.stdout);
    let stderr = String::from_utf8_lossy(&graded.stderr);
    assert!(graded.status.success(), "grade failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("graded 6 submissions"), "{stdout}");

    // Nothing the fork bomb started outlives grading.
    let alive = bombs_alive();
    assert!(alive.is_empty(), "fork bomb processes left running: {alive:?}");

    // The points of each exercise.
    let solved_r = results(&out, "solved");
    assert_eq!(
        solved_r.score,
        solved_r.max_score,
        "{}",
        solved_r.output.clone().unwrap_or_default()
    );
    let zipped = results(&out, "zipped");
    assert_eq!(
        zipped.score, zipped.max_score,
        "a zip with a top-level folder grades as its folder"
    );

    let bare = results(&out, "bare");
    for (n, points) in per_exercise(&bare) {
        assert_eq!(
            points,
            0.0,
            "exercise {n}, unchanged from the release, must score nothing (full marks would be {})",
            full(n)
        );
    }
    let notes = bare.output.clone().unwrap_or_default();
    assert!(notes.contains("unchanged from the release"), "{notes}");

    let broken = results(&out, "compile-error");
    assert_eq!(per_exercise(&broken)[&3], 0.0);
    let why = outputs(&broken, 3);
    assert!(
        why.contains("did not compile") && why.contains("error[E0308]"),
        "{why}"
    );
    assert!(
        why.contains("crates/03-closing-ends/src/main.rs"),
        "compile errors name the file as in the student's repository: {why}"
    );
    if am_root() {
        assert_eq!(per_exercise(&broken)[&4], 0.0);
        let why = outputs(&broken, 4);
        assert!(
            why.contains("secret.txt")
                && (why.contains("Permission denied") || why.contains("No such file or directory")),
            "{why}"
        );
    }
    for (n, points) in per_exercise(&broken) {
        if n != 3 && n != 4 {
            assert_eq!(
                points,
                full(n),
                "compile-error: exercise {n} lost points:\n{}",
                outputs(&broken, n)
            );
        }
    }

    // This run's merged builds, in the cache: the opt-level 0 group's
    // failed and named the exercises its errors are in (03, and 04 whose
    // secret nobody may not read); those compiled alone, and the rest of
    // the group merged again, or alone when only one was left.
    let merged: Vec<PathBuf> = std::fs::read_dir(cache().join("private").join("bins"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("m-") && mtime(p) >= started)
        .collect();
    let failed: Vec<String> = merged
        .iter()
        .filter_map(|p| std::fs::read_to_string(p.join("merge-failed")).ok())
        .collect();
    let mut expected = vec!["03-closing-ends"];
    if am_root() {
        expected.push("04-child-to-child");
    }
    assert_eq!(
        failed
            .iter()
            .map(|t| {
                // The exercises, in the order of their errors.
                let mut lines: Vec<&str> = t.lines().collect();
                lines.sort_unstable();
                lines
            })
            .collect::<Vec<_>>(),
        [expected],
        "{merged:?}"
    );
    // (How many merged programs depends on what the solved submission,
    // graded at the same time, had already compiled: at least the
    // optimised group's.)
    assert!(
        merged.iter().any(|p| p.join("program").is_file()),
        "no merged program: {merged:?}"
    );

    let bomb = results(&out, "fork-bomb");
    assert!(per_exercise(&bomb)[&6] < full(6));
    others_full("fork-bomb", &bomb, 6);

    let missing = results(&out, "missing-file");
    assert_eq!(per_exercise(&missing)[&1], 0.0);
    let why = outputs(&missing, 1);
    assert!(why.contains("crates/01-selfpipe/src/main.rs is missing"), "{why}");
    others_full("missing-file", &missing, 1);

    // The CSV: a header, then one row per submission whose cells add up.
    let csv = std::fs::read_to_string(out.join("grades.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][0], "submission");
    assert_eq!(rows[0].len(), checks::catalogue().len() + 3);
    assert_eq!(rows.iter().skip(1).map(|r| r[0]).collect::<Vec<_>>(), names);
    for row in &rows[1..] {
        let cells: Vec<f64> = row[1..].iter().map(|c| c.parse().unwrap()).collect();
        let (parts, total_max) = cells.split_at(cells.len() - 2);
        assert_eq!(parts.iter().sum::<f64>(), total_max[0], "{row:?}");
        assert_eq!(total_max[0], results(&out, row[0]).score, "{row:?}");
    }

    // A second run resumes: everything is graded, nothing is redone.
    let before: Vec<SystemTime> = names
        .iter()
        .map(|n| mtime(&out.join(n).join("results.json")))
        .collect();
    let again = xtask()
        .arg("grade")
        .args(&paths)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert!(stdout.contains("skipped 6 already graded"), "{stdout}");
    let after: Vec<SystemTime> = names
        .iter()
        .map(|n| mtime(&out.join(n).join("results.json")))
        .collect();
    assert_eq!(before, after, "a resumed run rewrote results");

    // --force grades again.
    let forced = xtask()
        .arg("grade")
        .arg(subs.join("missing-file.tar.gz"))
        .arg("--out")
        .arg(&out)
        .arg("--force")
        .output()
        .unwrap();
    assert!(forced.status.success());
    assert_ne!(
        mtime(&out.join("missing-file/results.json")),
        before[3],
        "--force did not regrade"
    );
    assert_eq!(results(&out, "missing-file").score, missing.score);
    assert_eq!(std::fs::read_to_string(out.join("grades.csv")).unwrap(), csv);

    // No temporary file is left next to the results.
    for n in names {
        let files: Vec<_> = std::fs::read_dir(out.join(n))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, ["results.json"], "{n}");
    }
}

/// One student's merged program is never another's: a submission whose
/// exercise 05 sabotages the start-up of its whole merged program, then a
/// submission with the very same file for 03 (a one-line exercise often
/// comes out identical). The second must run its own program for 03.
#[test]
fn a_merged_program_is_never_handed_to_another_submission() {
    let scratch = Scratch::new("grade-isolation");
    let (subs, out) = (scratch.dir.join("subs"), scratch.dir.join("out"));
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // Both new to the cache (kept between runs): 03 the same in both.
    for name in ["saboteur", "honest"] {
        solved(&subs.join(name));
        let main3 = subs.join(name).join("crates/03-closing-ends/src/main.rs");
        let text = std::fs::read_to_string(&main3).unwrap();
        write(&main3, &format!("{text}\n// Run {stamp}.\n"));
        let main5 = subs.join(name).join("crates/05-pipesizer/src/main.rs");
        let text = std::fs::read_to_string(&main5).unwrap();
        write(&main5, &format!("{text}\n// {name}, run {stamp}.\n"));
    }
    let main5 = subs.join("saboteur/crates/05-pipesizer/src/main.rs");
    let mut text = std::fs::read_to_string(&main5).unwrap();
    text.push_str(concat!(
        "\n/// Runs before `main`, in every program it is linked into.\n",
        "#[used]\n",
        "#[unsafe(link_section = \".init_array\")]\n",
        "static SABOTAGE: extern \"C\" fn() = sabotage;\n",
        "extern \"C\" fn sabotage() {\n",
        "    // SAFETY: _exit has no preconditions.\n",
        "    unsafe { libc::_exit(3) }\n",
        "}\n",
    ));
    write(&main5, &text);

    // One after the other: the saboteur's programs are in the cache first.
    for name in ["saboteur", "honest"] {
        xtask()
            .arg("grade")
            .arg(subs.join(name))
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
    }
    let saboteur = per_exercise(&results(&out, "saboteur"));
    assert_eq!(
        saboteur[&3], 0.0,
        "the sabotage did not take: the test proves nothing"
    );
    let honest = results(&out, "honest");
    others_full("honest", &honest, 0);
}

#[test]
fn usage_errors_exit_2() {
    xtask().arg("grade").assert().code(2);
    xtask().args(["grade", "/no/such/submission"]).assert().code(2);
    let scratch = Scratch::new("grade-usage");
    let text = scratch.dir.join("notes.txt");
    write(&text, "not a submission");
    xtask().arg("grade").arg(&text).assert().code(2);
    xtask()
        .arg("grade")
        .arg(&scratch.dir)
        .args(["--budget", "-1"])
        .assert()
        .code(2);
}

#[test]
fn autograder_bundle_grades_a_fake_root() {
    let scratch = Scratch::new("grade-autograder");
    let bundle_dir = scratch.dir.join("bundle");
    xtask()
        .arg("autograder")
        .arg("--out")
        .arg(&bundle_dir)
        .assert()
        .success();
    // Refuses to overwrite without --force.
    xtask()
        .arg("autograder")
        .arg("--out")
        .arg(&bundle_dir)
        .assert()
        .code(2);

    // Gradescope unpacks it into /autograder/source; here, a fake root.
    let fake = scratch.dir.join("autograder");
    let source = fake.join("source");
    std::fs::create_dir_all(&source).unwrap();
    let unzipped = std::process::Command::new("unzip")
        .arg("-q")
        .arg(bundle_dir.join("autograder.zip"))
        .arg("-d")
        .arg(&source)
        .status()
        .expect("unzip is installed");
    assert!(unzipped.success());
    let setup = std::fs::read_to_string(source.join("setup.sh")).unwrap();
    assert!(!setup.contains("@RUST_VERSION@"), "the Rust version is filled in");
    assert!(setup.contains("sh.rustup.rs"), "rustup's official installer");
    for script in ["setup.sh", "run_autograder"] {
        let ok = std::process::Command::new("bash")
            .arg("-n")
            .arg(source.join(script))
            .status()
            .unwrap();
        assert!(ok.success(), "{script} is not valid bash");
    }
    let e01 =
        std::fs::read_to_string(source.join("ipc-lab/crates/checks/src/exercises/e01_selfpipe.rs")).unwrap();
    assert!(
        e01.contains("BEGIN HIDDEN"),
        "the bundle grades with the hidden checks"
    );
    assert!(!source.join("ipc-lab/target").exists() && !source.join("ipc-lab/.git").exists());

    // A student's upload, one folder down as a zip of a repository would be.
    solved(&fake.join("submission/ipc-lab-main"));
    std::fs::create_dir_all(fake.join("results")).unwrap();
    let run = |budget: &str| {
        let output = std::process::Command::new("bash")
            .arg(source.join("run_autograder"))
            .env("AUTOGRADER_ROOT", &fake)
            .env("AUTOGRADER_BUDGET", budget)
            .env("XTASK", env!("CARGO_BIN_EXE_xtask"))
            .env("IPC_LAB_ROOT", root())
            .env("IPC_LAB_GRADE_CACHE", cache())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let path = fake.join("results/results.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let r = Results::from_json(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
        std::fs::remove_file(&path).unwrap();
        r
    };
    let graded = run("600");
    assert_eq!(graded.score, graded.max_score, "{:?}", graded.output);
    assert!(!graded.tests.is_empty());

    // Out of time almost at once: a results file all the same, with what
    // could not be graded saying so.
    let rushed = run("3.5");
    assert!(
        rushed
            .tests
            .iter()
            .any(|t| t.output.starts_with("not graded: time budget exceeded")),
        "{:?}",
        rushed.output
    );
    assert!(rushed.output.unwrap_or_default().contains("time budget"));
}
