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
                // Whole lines: anchor `thread` must not be found in `threads`.
                let marker = format!("// ANCHOR: {anchor}");
                assert!(
                    source.lines().any(|l| l.trim() == marker),
                    "docs/src/{chapter} includes anchor '{anchor}' that {file} does not define"
                );
            }
        }
    }
}

/// The pages of the book: every `.md` under docs/src.
fn chapters() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs/src"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    pages
}

/// The targets of Markdown links and images, `[..](TARGET)`, in `text`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| rest[..end].trim())
        })
        .collect()
}

#[test]
fn every_page_in_the_summary_exists() {
    let summary = std::fs::read_to_string(root().join("docs/src/SUMMARY.md")).unwrap();
    for target in link_targets(&summary) {
        assert!(
            root().join("docs/src").join(target).is_file(),
            "docs/src/SUMMARY.md lists {target}, which does not exist (mdbook would make an empty page)"
        );
    }
}

#[test]
fn every_picture_a_chapter_shows_exists_and_every_picture_is_shown() {
    let img = root().join("docs/src/img");
    let mut shown = Vec::new();
    for page in chapters() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        for target in link_targets(&text).into_iter().filter(|t| t.ends_with(".svg")) {
            assert!(
                root().join("docs/src").join(target).is_file(),
                "docs/src/{name} shows {target}, which does not exist: describe it in docs/diagrams/*.txt \
                 and run `cargo xtask docs --svg`"
            );
            shown.push(target.trim_start_matches("img/").to_string());
        }
    }
    for entry in std::fs::read_dir(&img).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        assert!(
            shown.contains(&file),
            "docs/src/img/{file} is shown by no chapter: include it with ![…](img/{file}) or remove it"
        );
    }
}

#[test]
fn every_step_through_a_chapter_links_exists_and_every_one_is_linked() {
    let mut linked = Vec::new();
    for page in chapters() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        for target in link_targets(&text)
            .into_iter()
            .filter(|t| t.starts_with("trace/"))
        {
            assert!(
                root().join("docs/src").join(target).is_file(),
                "docs/src/{name} links {target}, which does not exist: record docs/traces/NAME.log with \
                 `cargo xtask trace N --save-log docs/traces/NAME.log` and run `cargo xtask docs --svg`"
            );
            linked.push(target.trim_start_matches("trace/").to_string());
        }
    }
    for entry in std::fs::read_dir(root().join("docs/src/trace"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        assert!(
            linked.contains(&file),
            "docs/src/trace/{file} is linked by no chapter: link it with [...](trace/{file}) or remove its log"
        );
    }
}

#[test]
fn the_pictures_match_their_descriptions() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["docs", "--svg", "--check"])
        .env("IPC_LAB_ROOT", root())
        .output()
        .expect("xtask runs");
    assert!(
        out.status.success(),
        "docs/src/img or docs/src/trace is out of step with docs/diagrams or docs/traces: \
         run `cargo xtask docs --svg` and commit the result\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn no_chapter_spells_out_a_solution() {
    // A chapter guides (what to call and why); the lines between the
    // markers are the student's to write, so none may appear in the book.
    for e in checks::catalogue() {
        let main = root().join("crates").join(e.dir).join("src/main.rs");
        let code = std::fs::read_to_string(&main).unwrap();
        let Ok(text) = std::fs::read_to_string(root().join("docs/src").join(format!("{}.md", e.dir))) else {
            continue; // the chapter test above reports it
        };
        let mut inside = false;
        for line in code.lines().map(str::trim) {
            match line {
                "// BEGIN SOLUTION" => inside = true,
                "// END SOLUTION" => inside = false,
                // Short or comment lines say little; a real line of code
                // copied into the chapter is the leak to catch.
                _ if inside && line.len() >= 12 && !line.starts_with("//") => {
                    let statement = line.trim_end_matches(';');
                    assert!(
                        !text.contains(statement),
                        "docs/src/{}.md gives away a solution line of {}: `{line}`; say what to do and why instead",
                        e.dir,
                        e.label()
                    );
                }
                _ => {}
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

#[test]
fn no_grade_is_decided_by_message_text() {
    // Where grades and verdicts are decided, nothing may branch on the words
    // of a message: rewording one would change a grade. Decide on the types
    // instead (CheckResult::failure, grader::compile::Compiled, the facts on
    // sandbox::Outcome such as not_waited and left_running).
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("crates/grader/src"), &mut files);
    for f in ["runner.rs", "report.rs", "expect.rs", "lib.rs"] {
        files.push(root.join("crates/checks/src").join(f));
    }
    for f in ["check.rs", "grade.rs", "list.rs", "table.rs"] {
        files.push(root.join("xtask/src").join(f));
    }
    rust_files(&root.join("xtask/src/watch"), &mut files);
    let forbidden = [
        ".output.starts_with(",
        ".output.contains(",
        ".output.ends_with(",
        ".output ==",
        ".notes.is_empty()",
        ".notes.iter()",
        "text.contains(\"link",
    ];
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for f in forbidden {
                if line.contains(f) {
                    found.push(format!(
                        "{}:{}: {}",
                        file.strip_prefix(root).unwrap().display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "decisions read message text; decide on a type instead (CheckResult::failure, Compiled, Outcome's facts):\n{}",
        found.join("\n")
    );
}

/// The line ranges of each `// ANCHOR: name` … `// ANCHOR_END: name` in
/// `code`, 1-based and inclusive.
fn anchors(code: &str) -> Vec<(String, usize, usize)> {
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut out = Vec::new();
    for (i, line) in code.lines().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("// ANCHOR: ") {
            open.push((name.trim().to_string(), i + 1));
        } else if let Some(name) = line.strip_prefix("// ANCHOR_END: ") {
            if let Some(at) = open.iter().position(|(n, _)| n == name.trim()) {
                let (name, start) = open.remove(at);
                out.push((name, start, i + 1));
            }
        }
    }
    out
}

/// The book shows every line a student writes: each solution region of an
/// exercise lies inside an anchor that its chapter includes, so a reader
/// sees the `todo!()` in the book, where the text talks about it.
#[test]
fn every_student_region_is_in_an_anchor_the_chapter_includes() {
    let mut hidden = Vec::new();
    for e in checks::catalogue() {
        let rel = format!("crates/{}/src/main.rs", e.dir);
        let code = std::fs::read_to_string(root().join(&rel)).unwrap();
        let chapter = std::fs::read_to_string(root().join("docs/src").join(format!("{}.md", e.dir))).unwrap();
        let prefix = format!("{{{{#include ../../{rel}:");
        let included: Vec<&str> = chapter
            .lines()
            .filter_map(|l| l.trim().strip_prefix(prefix.as_str()))
            .map(|rest| rest.trim_end_matches("}}"))
            .collect();
        let ranges = anchors(&code);
        for (i, line) in code.lines().enumerate() {
            if line.trim() != "// BEGIN SOLUTION" {
                continue;
            }
            let n = i + 1;
            let shown = ranges
                .iter()
                .any(|(name, start, end)| included.contains(&name.as_str()) && *start < n && n < *end);
            if !shown {
                let around: Vec<&str> = ranges
                    .iter()
                    .filter(|(_, start, end)| *start < n && n < *end)
                    .map(|(name, _, _)| name.as_str())
                    .collect();
                hidden.push(format!(
                    "{rel}:{n}: the solution region is {}; the chapter docs/src/{}.md includes {:?}",
                    if around.is_empty() {
                        "in no anchor".to_string()
                    } else {
                        format!("in anchor(s) {around:?}")
                    },
                    e.dir,
                    included
                ));
            }
        }
    }
    assert!(
        hidden.is_empty(),
        "the book must show every line a student writes: put each region inside \
         `// ANCHOR: name` … `// ANCHOR_END: name` and include that anchor in the chapter \
         ({{{{#include ../../crates/NN-name/src/main.rs:name}}}}):\n{}",
        hidden.join("\n")
    );
}

/// The widest TODO comment line the book's code column shows whole.
const TODO_WIDTH: usize = 80;

/// A TODO is read in the book as much as in the editor: its lines fit the
/// book's code column, so none is cut off at the edge.
#[test]
fn todo_comments_fit_the_code_column() {
    let mut long = Vec::new();
    for e in checks::catalogue() {
        let rel = format!("crates/{}/src/main.rs", e.dir);
        let code = std::fs::read_to_string(root().join(&rel)).unwrap();
        let mut in_todo = false;
        for (i, line) in code.lines().enumerate() {
            let t = line.trim_start();
            in_todo =
                t.starts_with("// TODO:") || (in_todo && t.starts_with("//") && t != "// BEGIN SOLUTION");
            if in_todo && line.chars().count() > TODO_WIDTH {
                long.push(format!("{rel}:{}: {} characters", i + 1, line.chars().count()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "wrap these TODO lines at {TODO_WIDTH} characters (a TODO may take several `//` lines):\n{}",
        long.join("\n")
    );
}

/// Chapters speak to students: the words of the book's machinery (the
/// anchors that include code) stay out of their text.
#[test]
fn student_chapters_use_no_authoring_jargon() {
    let mut found = Vec::new();
    for page in chapters() {
        if page.file_name().is_some_and(|n| n == "staff.md") {
            continue;
        }
        let text = std::fs::read_to_string(&page).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.to_lowercase().contains("anchor") && !line.contains("{{#include") {
                found.push(format!("{}:{}: {line}", page.display(), i + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "say \"the code above\" or name the function instead of \"the anchor\":\n{}",
        found.join("\n")
    );
}

/// The sample outputs in the students' chapter on checking show the points a
/// student sees (public checks only: the release has no hidden ones), so
/// they cannot drift from the catalogue when checks are added or moved.
#[test]
fn checking_samples_show_the_students_point_totals() {
    let text = std::fs::read_to_string(root().join("docs/src/checking.md")).unwrap();
    let (mut rows, mut passed, mut earned, mut possible) = (0, 0, 0, 0);
    let mut problems = Vec::new();
    for line in text.lines() {
        let mark = if line.starts_with("✓ ") {
            true
        } else if line.starts_with("✗ ") {
            false
        } else {
            continue;
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(number), Some(score)) = (words.get(1), words.last()) else {
            continue;
        };
        let Some((got, max)) = score.split_once('/') else {
            continue;
        };
        let (Ok(got), Ok(max), Some(e)) = (got.parse::<u32>(), max.parse::<u32>(), checks::find(number))
        else {
            continue;
        };
        let public = e.max_points(false);
        if max != public || (mark && got != max) || (!mark && got >= max) {
            problems.push(format!(
                "{line:?}: a student has {public} points possible for {} (public checks only)",
                e.label()
            ));
        }
        rows += 1;
        passed += u32::from(mark);
        earned += got;
        possible += max;
    }
    assert!(rows > 0, "checking.md shows no table of results");
    let summary = format!("{passed}/{rows} exercises pass, {earned}/{possible} points");
    if !text.contains(&summary) {
        problems.push(format!("the summary under the table should read {summary:?}"));
    }
    for line in text.lines().filter(|l| l.contains(" checks fail")) {
        // "✗ 03 closing-ends: 3 of 5 checks fail  (…)"
        let words: Vec<&str> = line.split_whitespace().collect();
        let e = words.get(1).and_then(|n| checks::find(n));
        let total = words
            .iter()
            .position(|w| *w == "of")
            .and_then(|i| words.get(i + 1));
        if let (Some(e), Some(total)) = (e, total) {
            let public = (e.checks)().iter().filter(|c| !c.hidden).count();
            if total.parse::<usize>() != Ok(public) {
                problems.push(format!("{line:?}: {} has {public} public checks", e.label()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/src/checking.md:\n{}",
        problems.join("\n")
    );
}

/// The id mdBook gives a heading: lower case, spaces as `-`, only letters,
/// digits, `-` and `_` kept.
fn heading_id(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every chapter asks the reader to predict before running, and hides the
/// answers; every link into the glossary names one of its entries.
#[test]
fn chapters_have_hidden_answers_and_glossary_links_resolve() {
    let glossary = std::fs::read_to_string(root().join("docs/src/glossary.md")).unwrap();
    let ids: Vec<String> = glossary
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(heading_id)
        .collect();
    let mut problems = Vec::new();
    for e in checks::catalogue() {
        let text = std::fs::read_to_string(root().join("docs/src").join(format!("{}.md", e.dir))).unwrap();
        let open = text.matches("<details>").count();
        if !text.contains("## Predict, then run") || open == 0 || open != text.matches("</details>").count() {
            problems.push(format!(
                "docs/src/{}.md: a `## Predict, then run` section with answers in <details>…</details>",
                e.dir
            ));
        }
    }
    for page in chapters() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in link_targets(&text) {
            if let Some(id) = target.strip_prefix("glossary.md#") {
                if !ids.iter().any(|i| i == id) {
                    problems.push(format!(
                        "{}: no glossary entry #{id} (entries: {ids:?})",
                        page.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The lines of `text` before its `#[cfg(test)]` module, with their
/// numbers, comments left out.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(n, l)| (n + 1, l))
}

#[test]
fn xtask_prints_to_stdout_only_through_out_and_outln() {
    // `print!` and `println!` panic when stdout is closed (`cargo xtask
    // list | head -1`); `out!` and `outln!` (xtask's term.rs) make that a
    // quiet exit.
    let mut files = Vec::new();
    rust_files(&root().join("xtask/src"), &mut files);
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in code_lines(&text) {
            let bare = |m: &str| {
                line.match_indices(m)
                    .any(|(at, _)| !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
            };
            if bare("println!(") || bare("print!(") {
                let rel = file.strip_prefix(root()).unwrap().display();
                found.push(format!("{rel}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "print with crate::term's outln!/out! instead (they never panic on a closed stdout):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_workspace_root_is_found_once_in_main() {
    // main.rs finds it and hands it to each command as a &Path; a command
    // that looked it up again could disagree with the one it was given.
    let mut files = Vec::new();
    rust_files(&root().join("xtask/src"), &mut files);
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("xtask/src/main.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in code_lines(&text) {
            if line.contains("workspace_root()") || line.contains("IPC_LAB_ROOT") {
                let rel = file.strip_prefix(root()).unwrap().display();
                found.push(format!("{rel}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "take the root as a parameter (`root: &Path`) from the command's run() instead:\n{}",
        found.join("\n")
    );
}

/// The crates a student compiles for `cargo xtask` (xtask's normal
/// dependencies, the staff's grader left out as the release leaves it out)
/// take no procedural macro: `syn` and a derive crate were a third of a
/// student's first, cold build.
#[test]
fn a_student_compiles_no_procedural_macro() {
    // Dependencies for this machine only: serde_core names serde_derive
    // under `cfg(any())`, which no platform builds, to keep their versions
    // together.
    let rustc = std::process::Command::new("rustc").arg("-vV").output().unwrap();
    let version = String::from_utf8_lossy(&rustc.stdout).into_owned();
    let host = version.lines().find_map(|l| l.strip_prefix("host: ")).unwrap();
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            host,
        ])
        .output()
        .expect("cannot run cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let name_of = |id: &str| {
        packages
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| p["name"].as_str())
            .unwrap_or(id)
            .to_string()
    };
    let is_proc_macro = |id: &str| {
        packages.iter().filter(|p| p["id"] == id).any(|p| {
            p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "proc-macro"))
        })
    };
    let nodes = meta["resolve"]["nodes"].as_array().unwrap();
    let xtask = packages
        .iter()
        .find(|p| p["name"] == "xtask")
        .and_then(|p| p["id"].as_str())
        .unwrap()
        .to_string();
    let (mut seen, mut todo, mut found) = (vec![xtask.clone()], vec![xtask], Vec::new());
    while let Some(id) = todo.pop() {
        let node = nodes.iter().find(|n| n["id"] == id.as_str()).unwrap();
        for dep in node["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            let dep_id = dep["pkg"].as_str().unwrap().to_string();
            if !normal || dep["name"] == "grader" || seen.contains(&dep_id) {
                continue;
            }
            if is_proc_macro(&dep_id) {
                found.push(format!("{} (for {})", name_of(&dep_id), name_of(&id)));
            }
            seen.push(dep_id.clone());
            todo.push(dep_id);
        }
    }
    assert!(
        found.is_empty(),
        "a student's build compiles procedural macros; read or write the JSON through serde_json::Value, declare flags with clap's builder: {found:?}"
    );
}
