//! Several exercises, one crate: the sources of a merged build.
//!
//! Sixteen `rustc` runs for one submission spend most of their time on what
//! they share (starting up, loading the standard library's metadata,
//! linking). So the exercises that compile with the same flags compile as
//! modules of one crate, each file as
//! `#[path = "crates/03-closing-ends/src/main.rs"] mod e_03_closing_ends;`
//! with its `fn main` made `pub(crate)`, and a root `main` that runs the
//! exercise named by the program's file name (`argv[0]`). Each exercise
//! then gets that one program under its own name.
//!
//! Only a file that is plainly a module in disguise merges: exactly one
//! `fn main(` at the start of a line, no crate-level inner attribute (lint
//! levels are fine in a module), no `env!` (cargo's variables are one
//! crate's). Anything else, and anything that does not compile merged,
//! compiles on its own as before: [`failing_members`] reads which members
//! a failed merged build's errors are in, so the others can merge again.

use checks::build::Diagnostic;

/// The inner attributes a module may carry as well as a crate.
const MODULE_ATTRIBUTES: [&str; 4] = ["#![allow(", "#![warn(", "#![deny(", "#![expect("];

/// `source` as a module of the merged crate (its `fn main` made
/// `pub(crate)`), or `None` when it should compile on its own.
pub fn module_source(source: &str) -> Option<String> {
    let mut mains = 0;
    let mut out = String::with_capacity(source.len() + 16);
    for line in source.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#!") && !MODULE_ATTRIBUTES.iter().any(|a| trimmed.starts_with(a)) {
            return None;
        }
        if line.starts_with("fn main(") {
            mains += 1;
            out.push_str("pub(crate) ");
        }
        out.push_str(line);
    }
    (mains == 1 && !source.contains("env!(")).then_some(out)
}

/// One exercise of a merged crate.
pub struct Member<'a> {
    /// The exercise's folder (`03-closing-ends`).
    pub dir: &'a str,
    /// Its program's file name (`closing-ends`), which picks it at run time.
    pub bin: &'a str,
}

/// The module name of the exercise in folder `dir`: `e_03_closing_ends`.
fn module_name(dir: &str) -> String {
    let safe: String = dir
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("e_{safe}")
}

/// The merged crate's root, placed in the work folder (next to `crates/`):
/// a module per exercise, and a `main` that runs the one its program's
/// file name names, reporting what that `main` returned as the standard
/// library would (`fn main() -> ExitCode` and `-> Result` work merged).
pub fn root_source(members: &[Member]) -> String {
    let mut s = String::from(
        "//! Exercises merged into one program by `cargo xtask grade`; the program's name picks one.\n",
    );
    for m in members {
        s.push_str(&format!(
            "#[path = \"crates/{}/src/main.rs\"]\nmod {};\n",
            m.dir,
            module_name(m.dir)
        ));
    }
    s.push_str(
        "\nfn main() -> std::process::ExitCode {\n    \
         let arg0 = std::env::args_os().next().unwrap_or_default();\n    \
         let name = std::path::Path::new(&arg0).file_name().unwrap_or_default();\n    \
         match name.as_encoded_bytes() {\n",
    );
    for m in members {
        s.push_str(&format!(
            "        b{:?} => std::process::Termination::report({}::main()),\n",
            m.bin,
            module_name(m.dir)
        ));
    }
    s.push_str(
        "        _ => {\n            \
         eprintln!(\"{}: no exercise has this name\", name.to_string_lossy());\n            \
         std::process::ExitCode::from(2)\n        \
         }\n    }\n}\n",
    );
    s
}

/// Which members hold the errors of a failed merged build (rustc's JSON
/// diagnostics on `stderr`): indices into `dirs`, the members' folders.
/// `None` when an error is anywhere else (the root, the standard library)
/// or nowhere (a linker's): then no member can be told apart.
pub fn failing_members(stderr: &[u8], dirs: &[&str]) -> Option<Vec<usize>> {
    let mut failing = Vec::new();
    for line in String::from_utf8_lossy(stderr).lines() {
        let Some(d) = Diagnostic::from_rustc_json(line).filter(Diagnostic::is_error) else {
            continue;
        };
        let files: Vec<&str> = d.primary_files().collect();
        if files.is_empty() {
            // "aborting due to 2 previous errors" sums up; anything else
            // without a place cannot be pinned on a member.
            if d.message.starts_with("aborting due to") {
                continue;
            }
            return None;
        }
        for file in files {
            let i = dirs.iter().position(|d| file.contains(&format!("crates/{d}/")))?;
            if !failing.contains(&i) {
                failing.push(i);
            }
        }
    }
    (!failing.is_empty()).then_some(failing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn errors_are_pinned_on_the_members_that_hold_them() {
        let dirs = ["01-selfpipe", "03-closing-ends", "05-pipesizer"];
        let diag = |level: &str, message: &str, file: Option<&str>| {
            let spans = file.map_or(String::new(), |f| {
                format!(
                    r#"{{"file_name":"{f}","is_primary":true}},{{"file_name":"x.rs","is_primary":false}}"#
                )
            });
            format!(
                r#"{{"$message_type":"diagnostic","level":"{level}","message":"{message}","spans":[{spans}]}}"#
            )
        };
        let stderr = [
            diag("warning", "unused", Some("crates/01-selfpipe/src/main.rs")),
            diag(
                "error",
                "mismatched types",
                Some("/crates/05-pipesizer/src/main.rs"),
            ),
            diag(
                "error",
                "expected `;`",
                Some("crates/03-closing-ends/src/main.rs"),
            ),
            diag(
                "error",
                "mismatched types",
                Some("crates/05-pipesizer/src/main.rs"),
            ),
            diag("error", "aborting due to 3 previous errors", None),
            "not json".to_string(),
        ]
        .join("\n");
        assert_eq!(failing_members(stderr.as_bytes(), &dirs), Some(vec![2, 1]));
        // An error in the root, or with no place but a summary: unknown.
        let root = diag("error", "the name `x` is defined twice", Some("m-0123.rs"));
        assert_eq!(failing_members(root.as_bytes(), &dirs), None);
        let linker = diag("error", "linking with `cc` failed", None);
        assert_eq!(failing_members(linker.as_bytes(), &dirs), None);
        // No error at all.
        assert_eq!(failing_members(b"", &dirs), None);
    }

    #[test]
    fn main_becomes_pub_crate_once() {
        let src = "//! Docs.\n#![allow(dead_code)]\nuse std::process::ExitCode;\n\
                   fn main() -> ExitCode {\n    ExitCode::from(3)\n}\n";
        let module = module_source(src).unwrap();
        assert!(module.contains("\npub(crate) fn main() -> ExitCode {\n"));
        assert_eq!(module.replace("pub(crate) ", ""), src);
    }

    #[test]
    fn odd_files_compile_alone() {
        // No main, two mains, an indented one only.
        assert!(module_source("fn other() {}\n").is_none());
        assert!(module_source("fn main() {}\n#[cfg(x)]\nfn main() {}\n").is_none());
        assert!(module_source("mod m {\n    fn main() {}\n}\n").is_none());
        // Crate-level inner attributes, and cargo's variables.
        for attr in [
            "#![no_main]",
            "#![feature(never_type)]",
            "#![recursion_limit = \"9\"]",
            "#![forbid(x)]",
        ] {
            assert!(
                module_source(&format!("{attr}\nfn main() {{}}\n")).is_none(),
                "{attr}"
            );
        }
        assert!(module_source("fn main() { println!(\"{}\", env!(\"CARGO_PKG_NAME\")) }\n").is_none());
        // Lint levels are fine.
        assert!(module_source("#![warn(missing_docs)]\n#![deny(unused)]\nfn main() {}\n").is_some());
    }

    #[test]
    fn root_dispatches_by_program_name() {
        let root = root_source(&[
            Member {
                dir: "03-closing-ends",
                bin: "closing-ends",
            },
            Member {
                dir: "16-pipe-throughput",
                bin: "pipe-throughput",
            },
        ]);
        assert!(root.contains("#[path = \"crates/03-closing-ends/src/main.rs\"]\nmod e_03_closing_ends;\n"));
        assert!(root.contains(
            "b\"pipe-throughput\" => std::process::Termination::report(e_16_pipe_throughput::main()),"
        ));
    }

    /// The merged program, compiled for real: each name runs its exercise,
    /// and an `ExitCode` or `()` from its `main` becomes the exit status.
    #[test]
    fn merged_program_runs_each_exercise_by_name() {
        let dir = std::env::temp_dir().join(format!("ipc-lab-merge-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let write = |rel: &str, text: &str| {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        let three =
            "//! Exits 3.\nuse std::process::ExitCode;\nfn main() -> ExitCode {\n    ExitCode::from(3)\n}\n";
        let unit = "//! Prints.\nfn main() {\n    println!(\"unit\");\n}\n";
        write("crates/01-three/src/main.rs", &module_source(three).unwrap());
        write("crates/02-unit/src/main.rs", &module_source(unit).unwrap());
        let members = [
            Member {
                dir: "01-three",
                bin: "three",
            },
            Member {
                dir: "02-unit",
                bin: "unit",
            },
        ];
        write("root.rs", &root_source(&members));
        let compiled = Command::new("rustc")
            .args(["--edition=2024", "-C", "opt-level=0", "-o"])
            .arg(dir.join("merged"))
            .arg(dir.join("root.rs"))
            .output()
            .unwrap();
        let run = |name: &str| {
            std::fs::hard_link(dir.join("merged"), dir.join(name)).unwrap();
            Command::new(dir.join(name)).output().unwrap()
        };
        let results = compiled
            .status
            .success()
            .then(|| (run("three"), run("unit"), run("other")));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            compiled.status.success(),
            "{}",
            String::from_utf8_lossy(&compiled.stderr)
        );
        let (three, unit, other) = results.unwrap();
        assert_eq!(three.status.code(), Some(3));
        assert_eq!(unit.status.code(), Some(0));
        assert_eq!(unit.stdout, b"unit\n");
        assert_eq!(other.status.code(), Some(2));
    }
}
