//! `cargo xtask release`, and the student repository it writes, driven the
//! way course staff and then a student drive them.
//!
//! Each test releases the reference workspace into a scratch folder of its
//! own (it takes well under a second). The slow test builds the release's
//! own xtask and exercises, into `target/release-tests` so that its stubs
//! never land among the reference's binaries and later runs are warm.

mod common;

use assert_cmd::Command;
use common::{Scratch, root};
use predicates::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The reference's `cargo xtask`.
fn xtask() -> Command {
    let mut cmd = Command::cargo_bin("xtask").expect("xtask binary is built");
    cmd.env("IPC_LAB_ROOT", root())
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(300));
    cmd
}

/// `cargo xtask …` typed by a student inside the release at `dir`: the
/// release's own xtask, built by cargo from the release's sources.
fn student_xtask(dir: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .arg("xtask")
        .env_remove("IPC_LAB_ROOT")
        .env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", root().join("target").join("release-tests"))
        // The first run compiles xtask and every exercise; a hang must
        // still fail this test rather than stall the run.
        .timeout(Duration::from_secs(900));
    cmd
}

/// A scratch folder holding a fresh release.
fn released(tag: &str) -> Scratch {
    let s = Scratch::new(&format!("release-{tag}"));
    xtask().arg("release").arg(&s.dir).assert().success();
    s
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every file of the release, as (path relative to it, text).
fn release_files(dir: &Path) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    files_under(dir, &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            (p.strip_prefix(dir).unwrap().display().to_string(), text)
        })
        .collect()
}

/// The reference's exercise sources: every `.rs` under `crates/` but the
/// checks.
fn reference_sources() -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    files_under(&root().join("crates"), &mut paths);
    paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| !p.starts_with(root().join("crates/checks")))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// One solution region as the reference has it: the TODO text above it.
struct Region {
    todo: String,
}

/// The regions of a source, parsed independently of the release code.
fn regions(text: &str) -> Vec<Region> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "// BEGIN SOLUTION" {
            i += 1;
            continue;
        }
        let mut comment = Vec::new();
        for above in lines[..i].iter().rev() {
            let t = above.trim();
            let Some(rest) = t.strip_prefix("//") else { break };
            comment.push(rest.trim());
            if t.starts_with("// TODO:") {
                break;
            }
        }
        comment.reverse();
        let todo = comment.join(" ").trim_start_matches("TODO:").trim().to_string();
        let end = (i..lines.len())
            .find(|&j| lines[j].trim() == "// END SOLUTION")
            .expect("regions close");
        out.push(Region { todo });
        i = end + 1;
    }
    out
}

/// The regions of one exercise's crate.
fn exercise_regions(e: &checks::Exercise) -> Vec<Region> {
    let dir = root().join("crates").join(e.dir);
    reference_sources()
        .into_iter()
        .filter(|(p, _)| p.starts_with(&dir))
        .flat_map(|(_, text)| regions(&text))
        .collect()
}

/// A line too plain to tell a solution from anything else: no letters
/// (`}`, `);`) or a few characters.
fn trivial(line: &str) -> bool {
    line.chars().filter(|c| c.is_alphanumeric()).count() < 4
}

#[test]
fn release_refuses_a_non_empty_folder_unless_forced_and_keeps_what_was_there() {
    let s = Scratch::new("release-nonempty");
    std::fs::write(s.dir.join("notes.txt"), "mine").unwrap();
    xtask().arg("release").arg(&s.dir).assert().code(2).stderr(
        predicate::str::contains("not empty")
            .and(predicate::str::contains("--force"))
            .and(predicate::function(|e: &str| e.lines().count() == 1)),
    );
    let names: Vec<_> = std::fs::read_dir(&s.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["notes.txt"], "a refused release writes nothing");

    xtask()
        .arg("release")
        .arg(&s.dir)
        .arg("--force")
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(s.dir.join("notes.txt")).unwrap(), "mine");
    assert!(s.dir.join("Cargo.toml").is_file() && s.dir.join("crates/01-selfpipe/src/main.rs").is_file());
}

#[test]
fn release_refuses_to_write_over_the_reference() {
    xtask()
        .arg("release")
        .arg(root())
        .arg("--force")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("reference"));
    xtask()
        .arg("release")
        .arg(root().join("crates/student"))
        .assert()
        .code(2);
    assert!(!root().join("crates/student").exists());
}

#[test]
fn no_solution_line_reaches_the_release() {
    let s = released("solutions");
    let released: BTreeSet<String> = release_files(&s.dir)
        .iter()
        .flat_map(|(_, text)| text.lines().map(|l| l.trim().to_string()).collect::<Vec<_>>())
        .collect();
    // A line that the reference also has outside every region (in the
    // sources and pages that ship) says nothing about a leak: only a line
    // the reference holds as solution text alone must not reach the release.
    let mut ordinary = BTreeSet::new();
    let mut solution = BTreeSet::new();
    let mut shipped = Vec::new();
    for dir in ["crates", "xtask/src", "docs/src"] {
        files_under(&root().join(dir), &mut shipped);
    }
    let shipped = shipped
        .into_iter()
        .filter(|p| {
            p.components()
                .all(|c| c.as_os_str() != "tests" && c.as_os_str() != "target")
        })
        .filter_map(|p| std::fs::read_to_string(p).ok());
    for text in shipped {
        let mut inside = false;
        for line in text.lines().map(str::trim) {
            match line {
                "// BEGIN SOLUTION" => inside = true,
                "// END SOLUTION" => inside = false,
                _ if inside => {
                    solution.insert(line.to_string());
                }
                _ => {
                    ordinary.insert(line.to_string());
                }
            }
        }
    }
    assert!(
        solution.len() > 20,
        "only {} solution lines found",
        solution.len()
    );
    let leaked: Vec<&String> = solution
        .iter()
        .filter(|l| !trivial(l) && !ordinary.contains(*l) && released.contains(*l))
        .collect();
    assert!(leaked.is_empty(), "solution lines in the release: {leaked:#?}");
}

#[test]
fn no_marker_or_hidden_check_reaches_the_release() {
    let s = released("hidden");
    let files = release_files(&s.dir);
    for (path, text) in &files {
        for (n, line) in text.lines().enumerate() {
            let t = line.trim();
            assert!(
                !matches!(
                    t,
                    "// BEGIN SOLUTION" | "// END SOLUTION" | "// BEGIN HIDDEN" | "// END HIDDEN"
                ),
                "{path}:{}: a marker line in the release",
                n + 1
            );
        }
    }
    let all_checks: Vec<checks::Check> = checks::catalogue().iter().flat_map(|e| (e.checks)()).collect();
    let public: BTreeSet<&str> = all_checks.iter().filter(|c| !c.hidden).map(|c| c.name).collect();
    let hidden: BTreeSet<&str> = all_checks
        .iter()
        .filter(|c| c.hidden && !public.contains(c.name))
        .map(|c| c.name)
        .collect();
    assert!(!hidden.is_empty());
    for (path, text) in &files {
        for name in &hidden {
            assert!(
                !text.contains(&format!("\"{name}\"")),
                "{path} names the hidden check “{name}”"
            );
        }
        if path.starts_with("crates/checks/src/exercises") {
            assert!(
                !text.contains("Check::hidden("),
                "{path} still builds a hidden check"
            );
        }
    }
}

#[test]
fn the_release_holds_what_a_student_needs_and_no_staff_files() {
    let s = released("layout");
    for e in checks::catalogue() {
        let stubs = release_files(&s.dir.join("crates").join(e.dir))
            .iter()
            .flat_map(|(_, text)| {
                text.lines()
                    .filter(|l| l.trim().starts_with("todo!("))
                    .collect::<Vec<_>>()
            })
            .count();
        let expected = exercise_regions(e).len();
        assert!(expected > 0, "{} has no solution region", e.label());
        assert_eq!(stubs, expected, "{}: one todo!() per solution region", e.label());
    }
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "rustfmt.toml",
        "README.md",
        ".gitignore",
        ".github/workflows/classroom.yml",
        "xtask/Cargo.toml",
        "xtask/src/main.rs",
        "crates/checks/src/lib.rs",
        "docs/src/SUMMARY.md",
    ] {
        assert!(s.dir.join(needed).is_file(), "the release lacks {needed}");
    }
    for staff in [
        ".ci",
        "ARCHITECTURE.md",
        "target",
        ".git",
        "xtask/tests",
        "crates/checks/tests",
        // Course staff's code: the grader and xtask's staff commands.
        "crates/grader",
        "xtask/src/grade.rs",
        "xtask/src/release.rs",
        "xtask/src/verify.rs",
        "xtask/src/autograder.rs",
        "xtask/src/bench.rs",
        "xtask/autograder",
        "xtask/student",
        "xtask/src/verify",
        "docs/src/staff.md",
        "mutants",
    ] {
        assert!(!s.dir.join(staff).exists(), "the release holds {staff}");
    }
    let summary = std::fs::read_to_string(s.dir.join("docs/src/SUMMARY.md")).unwrap();
    assert!(
        !summary.contains("staff.md") && !summary.contains("course staff"),
        "the student book lists the staff chapter:\n{summary}"
    );
    // Nor any word of them in the files it keeps: no staff subcommand, no
    // dependency on the grader, no package only the grader uses.
    let main = std::fs::read_to_string(s.dir.join("xtask/src/main.rs")).unwrap();
    for module in [
        "mod grade;",
        "mod release;",
        "mod verify;",
        "mod autograder;",
        "mod bench;",
    ] {
        assert!(!main.contains(module), "the student's xtask has `{module}`");
    }
    for manifest in ["Cargo.toml", "xtask/Cargo.toml", "Cargo.lock"] {
        let text = std::fs::read_to_string(s.dir.join(manifest)).unwrap();
        for staff in ["grader", "name = \"zip\"", "name = \"tar\"", "flate2"] {
            assert!(!text.contains(staff), "the release's {manifest} names {staff}");
        }
    }
    let gitignore = std::fs::read_to_string(s.dir.join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "/target") && gitignore.contains(".ipc-lab"));
    let readme = std::fs::read_to_string(s.dir.join("README.md")).unwrap();
    for e in checks::catalogue() {
        assert!(
            readme.contains(&format!("`{}`", e.name)),
            "README lacks {}",
            e.name
        );
    }
    for command in [
        "cargo xtask check",
        "cargo xtask hint",
        "cargo xtask watch",
        "cargo xtask run",
    ] {
        assert!(readme.contains(command), "README does not mention {command}");
    }
}

/// What `cargo xtask check` printed for each exercise: ✓ or ✗.
fn verdicts(stdout: &str) -> Vec<(String, bool)> {
    checks::catalogue()
        .iter()
        .map(|e| {
            let label = e.label();
            let passed = stdout.contains(&format!("✓ {label} "));
            let failed = stdout.contains(&format!("✗ {label} "));
            assert!(passed != failed, "no single verdict for {label}:\n{stdout}");
            (label, passed)
        })
        .collect()
}

#[test]
fn in_the_release_every_exercise_fails_with_its_todo_until_its_solution_is_back() {
    let s = released("student");
    let assert = student_xtask(&s.dir).arg("check").assert().code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for (label, passed) in verdicts(&stdout) {
        assert!(!passed, "{label} passes as released:\n{stdout}");
    }
    for e in checks::catalogue() {
        let shown = exercise_regions(e)
            .iter()
            .any(|r| stdout.contains(&format!("not yet implemented: {}", r.todo)));
        assert!(
            shown,
            "{}: no failure shows one of its TODO messages:\n{stdout}",
            e.label()
        );
    }
    assert!(
        !stdout.contains("(hidden check)"),
        "the release runs hidden checks:\n{stdout}"
    );

    // The student writes exercise 1: exactly that one passes.
    let first = &checks::catalogue()[0];
    let main = Path::new("crates").join(first.dir).join("src/main.rs");
    std::fs::copy(root().join(&main), s.dir.join(&main)).unwrap();
    student_xtask(&s.dir)
        .args(["check", &first.number.to_string()])
        .assert()
        .success();
    let assert = student_xtask(&s.dir).arg("check").assert().code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for (label, passed) in verdicts(&stdout) {
        assert_eq!(passed, label == first.label(), "{label}:\n{stdout}");
    }
}
