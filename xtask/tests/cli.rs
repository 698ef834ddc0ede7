//! `cargo xtask` driven the way a student drives it.
//!
//! The xtask binary is run with `IPC_LAB_ROOT` pointing at a workspace: the
//! real one, or a copy with an exercise broken on purpose. A copy builds into
//! a target directory of its own, so its broken binaries never land where the
//! real workspace's are.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
}

/// `cargo xtask` against the workspace at `workspace`.
fn xtask(workspace: &Path) -> Command {
    let mut cmd = Command::cargo_bin("xtask").expect("xtask binary is built");
    cmd.env("IPC_LAB_ROOT", workspace).env("NO_COLOR", "1");
    if workspace != root() {
        cmd.env("CARGO_TARGET_DIR", root().join("target").join("xtask-tests"));
    }
    cmd
        // A hang in the code under test must fail this test, not stall the run.
        .timeout(Duration::from_secs(300));
    cmd
}

/// A scratch copy of the workspace: its manifests and sources, nothing else.
struct Copy {
    dir: PathBuf,
}

impl Copy {
    fn new(tag: &str) -> Copy {
        let dir = std::env::temp_dir().join(format!("ipc-lab-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for item in ["Cargo.toml", "Cargo.lock", ".cargo"] {
            copy_tree(&root().join(item), &dir.join(item));
        }
        let packages = std::fs::read_dir(root().join("crates"))
            .unwrap()
            .map(|e| e.unwrap().path());
        for package in packages.chain([root().join("xtask")]) {
            let to = dir.join(package.strip_prefix(root()).unwrap());
            copy_tree(&package.join("Cargo.toml"), &to.join("Cargo.toml"));
            copy_tree(&package.join("src"), &to.join("src"));
        }
        Copy { dir }
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// Removes the lines between `// BEGIN SOLUTION` and `// END SOLUTION`.
fn strip_solutions(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim() == "// BEGIN SOLUTION" {
            inside = true;
        } else if line.trim() == "// END SOLUTION" {
            inside = false;
        } else if !inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_ne!(text, out, "{} has no solution region", file.display());
    std::fs::write(file, out).unwrap();
}

/// Pids of live processes whose command name is `name`.
fn running(name: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn list_shows_every_exercise_in_order() {
    let out = xtask(root())
        .arg("list")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let mut last = 0;
    for e in checks::catalogue() {
        let at = text
            .find(&format!("{:02}  {}", e.number, e.name))
            .unwrap_or_else(|| panic!("{} missing:\n{text}", e.name));
        assert!(at > last, "{} out of order", e.name);
        last = at;
    }
}

#[test]
fn hint_by_number_or_name_and_one_line_error_otherwise() {
    let hint = checks::find("3").unwrap().hint;
    xtask(root())
        .args(["hint", "3"])
        .assert()
        .success()
        .stdout(predicate::str::contains(hint));
    xtask(root())
        .args(["hint", "closing-ends"])
        .assert()
        .success()
        .stdout(predicate::str::contains(hint));
    xtask(root()).args(["hint", "99"]).assert().code(2).stderr(
        predicate::str::contains("no exercise '99'")
            .and(predicate::function(|s: &str| s.lines().count() == 1)),
    );
}

#[test]
fn usage_errors_exit_2() {
    xtask(root()).arg("frobnicate").assert().code(2);
    xtask(root()).args(["check", "--bogus"]).assert().code(2);
}

#[test]
fn check_json_is_one_gradescope_document_with_full_score() {
    let out = xtask(root())
        .args(["check", "1", "2", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("stdout is exactly one JSON document");
    assert_eq!(v["score"], v["max_score"]);
    assert!(v["max_score"].as_f64().unwrap() > 0.0);
    let tests = v["tests"].as_array().unwrap();
    assert!(tests.iter().all(|t| t["status"] == "passed"));
    assert!(
        tests.iter().any(|t| t["visibility"] == "after_due_date"),
        "hidden checks are marked"
    );
    assert!(tests.iter().all(|t| t["name"].as_str().unwrap().starts_with("0")));
}

#[test]
fn forgetting_to_close_the_write_end_fails_check_3_with_an_explanation() {
    let copy = Copy::new("broken-03");
    strip_solutions(&copy.dir.join("crates/03-closing-ends/src/main.rs"));
    let assert = xtask(&copy.dir).args(["check", "3"]).assert().code(1);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(out.contains("✗ 03 closing-ends"), "{out}");
    assert!(out.contains("hint:"), "the hint is shown:\n{out}");
    assert!(
        out.contains("deadlock") || out.contains("timed out"),
        "the failure says the program hung:\n{out}"
    );
    assert!(running("closing-ends").is_empty(), "closing-ends left running");
}
