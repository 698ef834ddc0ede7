//! Conventions that matter, checked as tests; each failure says how to fix it.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("xtask"), &mut files);
    files
}

#[test]
fn every_file_has_module_docs() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap()
                .trim_start()
                .starts_with("//!")
        })
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "start these files with `//!` docs saying what they are for: {missing:?}"
    );
}

#[test]
fn every_exercise_has_its_crate_a_chapter_and_its_anchor() {
    let summary =
        std::fs::read_to_string(root().join("docs/src/SUMMARY.md")).expect("docs/src/SUMMARY.md exists");
    for e in checks::catalogue() {
        let main = root().join("crates").join(e.dir).join("src/main.rs");
        let code = std::fs::read_to_string(&main).unwrap_or_else(|_| panic!("{} is missing", main.display()));
        assert!(
            code.contains("// ANCHOR: main") && code.contains("// ANCHOR_END: main"),
            "{}: mark the part the book shows with `// ANCHOR: main` … `// ANCHOR_END: main`",
            main.display()
        );
        assert!(
            code.contains("// BEGIN SOLUTION") && code.contains("// TODO:"),
            "{}: mark the student's part with `// TODO:` and `// BEGIN SOLUTION` / `// END SOLUTION`",
            main.display()
        );
        let chapter = format!("{}.md", e.dir);
        assert!(
            summary.contains(&chapter),
            "docs/src/SUMMARY.md does not list {chapter}"
        );
        let text = std::fs::read_to_string(root().join("docs/src").join(&chapter))
            .unwrap_or_else(|_| panic!("write the chapter docs/src/{chapter}"));
        for include in text.lines().filter_map(|l| l.trim().strip_prefix("{{#include ")) {
            let include = include.trim_end_matches("}}");
            let (file, anchor) = include.split_once(':').unwrap_or((include, ""));
            let target = root().join("docs/src").join(file);
            let source = std::fs::read_to_string(&target)
                .unwrap_or_else(|_| panic!("docs/src/{chapter} includes {file}, which does not exist"));
            if !anchor.is_empty() {
                assert!(
                    source.contains(&format!("// ANCHOR: {anchor}")),
                    "docs/src/{chapter} includes anchor '{anchor}' that {file} does not define"
                );
            }
        }
    }
}

#[test]
fn solution_markers_pair_up() {
    for f in all_rust_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut depth = 0;
        for (n, line) in text.lines().enumerate() {
            match line.trim() {
                "// BEGIN SOLUTION" | "// BEGIN HIDDEN" => depth += 1,
                "// END SOLUTION" | "// END HIDDEN" => depth -= 1,
                _ => {}
            }
            assert!(
                (0..=1).contains(&depth),
                "{}:{}: markers nest or close before opening",
                f.display(),
                n + 1
            );
        }
        assert_eq!(depth, 0, "{}: a BEGIN marker is never closed", f.display());
    }
}

#[test]
fn exercises_depend_on_libc_and_syscalls_only() {
    for e in checks::catalogue() {
        let manifest = root().join("crates").join(e.dir).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let mut section = "";
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line;
                continue;
            }
            if section.contains("dependencies") && !line.is_empty() && !line.starts_with('#') {
                let name = line.split(['=', '.', ' ']).next().unwrap();
                assert!(
                    name == "libc" || name == "syscalls",
                    "{}: an exercise may depend on libc and syscalls only, not {name}",
                    manifest.display()
                );
            }
        }
    }
}
