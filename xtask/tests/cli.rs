//! `cargo xtask` driven the way a student drives it.
//!
//! The xtask binary is run with `IPC_LAB_ROOT` pointing at a workspace: the
//! real one, or a copy with an exercise broken on purpose. A copy builds into
//! a target directory of its own, so its broken binaries never land where the
//! real workspace's are.

mod common;

use common::{Scratch, root, strip_solutions, xtask};
use predicates::prelude::*;
use std::time::Duration;

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
    let copy = Scratch::workspace("broken-03");
    strip_solutions(&copy.dir.join("crates/03-closing-ends/src/main.rs"));
    let assert = xtask(&copy.dir).args(["check", "3"]).assert().code(1);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(out.contains("✗ 03 closing-ends"), "{out}");
    assert!(out.contains("hint:"), "the hint is shown:\n{out}");
    assert!(
        out.contains("trace: `cargo xtask trace 3` shows its descriptor tables"),
        "the way to watch it is shown:\n{out}"
    );
    assert!(
        out.contains("deadlock") || out.contains("timed out"),
        "the failure says the program hung:\n{out}"
    );
    // Other tests of this file run closing-ends at the same time (`check
    // --json` checks every exercise): a leftover is one that stays.
    let mut left = running("closing-ends");
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        left.retain(|pid| running("closing-ends").contains(pid));
    }
    assert!(left.is_empty(), "closing-ends left running: {left:?}");
}

/// A pipe whose read end is already closed: every write to the other end
/// fails with EPIPE, as `cargo xtask list | head -1` does once head is gone.
fn closed_pipe() -> std::process::Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    // SAFETY: pipe() just made both; each is owned once, here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write.into()
}

/// Runs xtask with `args` and stdout closed; (status, stderr).
fn with_closed_stdout(args: &[&str]) -> (std::process::ExitStatus, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("IPC_LAB_ROOT", root())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(closed_pipe())
        .output()
        .unwrap();
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_closed_stdout_is_a_quiet_exit_with_the_commands_own_status() {
    // `list | head -1`: nothing to say, and the status list would have had.
    let (status, stderr) = with_closed_stdout(&["list"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr, "", "nothing on stderr either");
    assert_eq!(status.code(), Some(0), "{stderr}");
    // `check 1 | true`: the checks still run (and pass).
    let (status, stderr) = with_closed_stdout(&["--quiet", "check", "1"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn watch_with_a_closed_stdout_stops_quietly() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("watch")
        .env("IPC_LAB_ROOT", root())
        .env("NO_COLOR", "1")
        // A pipe held open: end of input alone would not stop a watch.
        .stdin(std::process::Stdio::piped())
        .stdout(closed_pipe())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("watch went on with nobody reading its stdout");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn a_stdout_that_fails_otherwise_is_one_error_line_and_status_2() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["hint", "1"])
        .env("IPC_LAB_ROOT", root())
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: cannot write to stdout: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
