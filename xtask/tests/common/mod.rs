//! Helpers the xtask integration tests share: the workspace root, scratch
//! folders removed on drop, and copies of the workspace with exercises
//! broken on purpose.
//!
//! Each test file includes this module (`mod common;`) and uses only part of
//! it, hence `dead_code` is allowed here.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `cargo xtask` against the workspace at `workspace`: a copy builds into
/// a target directory of its own, so its broken binaries never land where
/// the real workspace's are.
pub fn xtask(workspace: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("xtask").expect("xtask binary is built");
    cmd.env("IPC_LAB_ROOT", workspace).env("NO_COLOR", "1");
    if workspace != root() {
        cmd.env("CARGO_TARGET_DIR", root().join("target").join("xtask-tests"));
    }
    cmd
        // A hang in the code under test must fail this test, not stall the run.
        .timeout(std::time::Duration::from_secs(300));
    cmd
}

/// The workspace root: xtask sits in it.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
}

/// An empty scratch folder under the temporary directory, removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ipc-lab-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    /// A scratch copy of the workspace: its manifests and package sources,
    /// nothing else (no target directory, no tests).
    pub fn workspace(tag: &str) -> Scratch {
        let s = Scratch::new(tag);
        for item in ["Cargo.toml", "Cargo.lock", ".cargo"] {
            copy_tree(&root().join(item), &s.dir.join(item));
        }
        let packages = std::fs::read_dir(root().join("crates"))
            .unwrap()
            .map(|e| e.unwrap().path());
        for package in packages.chain([root().join("xtask")]) {
            let to = s.dir.join(package.strip_prefix(root()).unwrap());
            copy_tree(&package.join("Cargo.toml"), &to.join("Cargo.toml"));
            copy_tree(&package.join("src"), &to.join("src"));
        }
        s
    }

    /// An exercise's `main.rs` in this copy, by directory name (`01-selfpipe`).
    pub fn exercise_source(&self, dir: &str) -> PathBuf {
        self.dir.join("crates").join(dir).join("src/main.rs")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Copies a file, or a folder and everything in it.
pub fn copy_tree(from: &Path, to: &Path) {
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

/// Removes the lines between `// BEGIN SOLUTION` and `// END SOLUTION`, as a
/// student who has not written them yet would have it.
pub fn strip_solutions(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        match line.trim() {
            "// BEGIN SOLUTION" => inside = true,
            "// END SOLUTION" => inside = false,
            _ if !inside => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {}
        }
    }
    assert_ne!(text, out, "{} has no solution region", file.display());
    std::fs::write(file, out).unwrap();
}
