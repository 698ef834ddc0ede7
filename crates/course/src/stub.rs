//! The text transforms of a release: solution regions become `todo!()`s,
//! hidden checks disappear.
//!
//! They work on lines and markers only, never on Rust syntax, so they are
//! predictable: a region is the lines from `// BEGIN SOLUTION` to
//! `// END SOLUTION` (markers included), and its replacement is one
//! `todo!("<the TODO text>");` statement, written the way rustfmt would
//! write it, so the release stays rustfmt-clean. `cargo xtask grade` uses
//! [`stub_source`] to recognise an exercise a student never touched.

/// The line that opens a student region (lines are compared trimmed).
pub const BEGIN_SOLUTION: &str = "// BEGIN SOLUTION";
/// The line that closes a student region.
pub const END_SOLUTION: &str = "// END SOLUTION";
/// The line that opens checks only graders run.
pub const BEGIN_HIDDEN: &str = "// BEGIN HIDDEN";
/// The line that closes them.
pub const END_HIDDEN: &str = "// END HIDDEN";
/// The line that opens course staff's part of a file the release keeps (a
/// subcommand, a dependency); `# BEGIN STAFF` in a TOML file.
pub const BEGIN_STAFF: &str = "// BEGIN STAFF";
/// The line that closes it; `# END STAFF` in a TOML file.
pub const END_STAFF: &str = "// END STAFF";

/// rustfmt.toml's `max_width`: a `todo!("…");` longer than this is written
/// on three lines, as rustfmt would (a unit test keeps the two in step).
const MAX_WIDTH: usize = 110;

/// Put at the top of a stubbed file. A `todo!()` in place of a region
/// leaves the code after it unreachable and the names only the solution
/// used unused; students read every warning, and these would be noise
/// about code they have not written yet. The lints that matter to a
/// student's own code (`unused_must_use` for an ignored `Result`, say)
/// stay on.
const STUB_ALLOW: &[&str] = &[
    "// Until every todo!() below is written, the code after one is unreachable and some names",
    "// are unused; these two lines keep those warnings quiet meanwhile. Delete them when done.",
    "#![allow(unreachable_code, unused_variables, unused_assignments)]",
    "#![allow(unused_imports, unused_mut, dead_code)]",
];

/// Put at the top of a checks file whose hidden checks were removed: the
/// helpers and imports only they used are unused in the release.
const HIDDEN_ALLOW: &[&str] = &[
    "// Some checks run only when grading; helpers that only they use are unused here.",
    "#![allow(unused_imports, dead_code)]",
];

/// One solution region of a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The TODO text: the `// TODO:` comment above the region, its lines
    /// joined by spaces, without the `// TODO:` prefix.
    pub todo: String,
    /// The indentation of the `// BEGIN SOLUTION` line.
    pub indent: String,
    /// 0-based line index of `// BEGIN SOLUTION`.
    pub begin: usize,
    /// 0-based line index of `// END SOLUTION`.
    pub end: usize,
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.trim() == marker
}

/// Whether a line is one of the markers.
pub fn is_any_marker(line: &str) -> bool {
    [
        BEGIN_SOLUTION,
        END_SOLUTION,
        BEGIN_HIDDEN,
        END_HIDDEN,
        BEGIN_STAFF,
        END_STAFF,
    ]
    .iter()
    .any(|m| is_marker(line, m))
        || [BEGIN_STAFF, END_STAFF].iter().any(|m| is_toml_marker(line, m))
}

/// Whether `line` is `marker` written as a TOML comment (`# BEGIN STAFF`).
fn is_toml_marker(line: &str, marker: &str) -> bool {
    line.trim().strip_prefix('#').map(str::trim) == marker.strip_prefix("//").map(str::trim)
}

/// The solution regions of `text`, in order, or the first malformed one
/// (`line N: …`, 1-based).
pub fn regions(text: &str) -> Result<Vec<Region>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut regions = Vec::new();
    let mut open: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        if is_marker(line, BEGIN_SOLUTION) {
            if let Some(b) = open {
                return Err(format!(
                    "line {}: `{BEGIN_SOLUTION}` inside the region opened at line {}",
                    i + 1,
                    b + 1
                ));
            }
            open = Some(i);
        } else if is_marker(line, END_SOLUTION) {
            let Some(begin) = open.take() else {
                return Err(format!(
                    "line {}: `{END_SOLUTION}` without a `{BEGIN_SOLUTION}`",
                    i + 1
                ));
            };
            let indent: String = lines[begin].chars().take_while(|c| c.is_whitespace()).collect();
            regions.push(Region {
                todo: todo_text(&lines, begin)?,
                indent,
                begin,
                end: i,
            });
        }
    }
    if let Some(b) = open {
        return Err(format!(
            "line {}: `{BEGIN_SOLUTION}` is never closed by `{END_SOLUTION}`",
            b + 1
        ));
    }
    Ok(regions)
}

/// The `// TODO:` comment right above line `begin`: the comment lines
/// between it and the marker continue it.
fn todo_text(lines: &[&str], begin: usize) -> Result<String, String> {
    let mut parts = Vec::new();
    for line in lines[..begin].iter().rev() {
        let t = line.trim();
        let is_plain_comment = t.starts_with("//") && !t.starts_with("///") && !t.starts_with("//!");
        if !is_plain_comment || is_any_marker(t) {
            break;
        }
        if let Some(first) = t.strip_prefix("// TODO:") {
            parts.push(first.trim());
            parts.reverse();
            let text = parts
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            if text.is_empty() {
                return Err(format!(
                    "line {}: the `// TODO:` above this region is empty",
                    begin + 1
                ));
            }
            return Ok(text);
        }
        parts.push(t.trim_start_matches('/').trim());
    }
    Err(format!(
        "line {}: a solution region needs a `// TODO:` comment right above it, saying what to write",
        begin + 1
    ))
}

/// `text` as the body of a `todo!` format string: quotes and backslashes
/// escaped, braces doubled.
fn format_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            c => out.push(c),
        }
    }
    out
}

/// The lines of the `todo!` that replaces a region, as rustfmt lays them
/// out: on one line when it fits, else the string on a line of its own.
pub fn todo_lines(indent: &str, todo: &str) -> Vec<String> {
    let literal = format_literal(todo);
    let one = format!("{indent}todo!(\"{literal}\");");
    if one.chars().count() <= MAX_WIDTH {
        return vec![one];
    }
    vec![
        format!("{indent}todo!("),
        format!("{indent}    \"{literal}\""),
        format!("{indent});"),
    ]
}

/// Puts `allow` lines after the file's leading `//!` docs (inner
/// attributes must come before any item).
fn insert_after_docs(lines: &mut Vec<String>, allow: &[&str]) {
    let at = lines.iter().take_while(|l| l.starts_with("//!")).count();
    let mut block: Vec<String> = Vec::new();
    if at > 0 {
        block.push(String::new());
    }
    block.extend(allow.iter().map(|l| l.to_string()));
    if at == 0 || lines.get(at).is_some_and(|l| !l.trim().is_empty()) {
        block.push(String::new());
    }
    lines.splice(at..at, block);
}

fn join(lines: &[String], like: &str) -> String {
    let mut out = lines.join("\n");
    if like.ends_with('\n') && !lines.is_empty() {
        out.push('\n');
    }
    out
}

/// The lines of `text` with each region replaced by its `todo!`, or
/// `None` when it has no region.
fn replace_regions(text: &str) -> Result<Option<Vec<String>>, String> {
    let found = regions(text)?;
    if found.is_empty() {
        return Ok(None);
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut next = 0;
    for r in &found {
        out.extend(lines[next..r.begin].iter().map(|l| l.to_string()));
        out.extend(todo_lines(&r.indent, &r.todo));
        next = r.end + 1;
    }
    out.extend(lines[next..].iter().map(|l| l.to_string()));
    Ok(Some(out))
}

/// The student's version of an exercise source: each solution region,
/// markers included, becomes `todo!("<the TODO text>");` at the marker's
/// indentation; the `// TODO:` comment stays. A file with regions also
/// gets [`STUB_ALLOW`] after its module docs. A file without regions comes
/// back unchanged.
///
/// `Err` names the first malformed region: a missing `// END SOLUTION`, a
/// nested or stray marker, no `// TODO:` above a region.
pub fn stub_source(text: &str) -> Result<String, String> {
    let Some(mut out) = replace_regions(text)? else {
        return Ok(text.to_string());
    };
    insert_after_docs(&mut out, STUB_ALLOW);
    Ok(join(&out, text))
}

/// Like [`stub_source`] for a page of the book: a code block that shows a
/// region shows the student's `todo!()` instead, and nothing is added.
pub fn stub_page(text: &str) -> Result<String, String> {
    Ok(match replace_regions(text)? {
        Some(out) => join(&out, text),
        None => text.to_string(),
    })
}

/// The student's version of a checks source: the lines from
/// `// BEGIN HIDDEN` to `// END HIDDEN`, markers included, removed. A file
/// that lost some also gets [`HIDDEN_ALLOW`] after its module docs.
///
/// `Err` names a marker that does not pair up.
pub fn strip_hidden(text: &str) -> Result<String, String> {
    let Some(mut out) = strip_blocks(text, BEGIN_HIDDEN, END_HIDDEN, is_marker)? else {
        return Ok(text.to_string());
    };
    insert_after_docs(&mut out, HIDDEN_ALLOW);
    Ok(join(&out, text))
}

/// The student's version of a file the release keeps but course staff's
/// commands live in too (xtask's `main.rs` and `flags.rs`, the manifests):
/// the lines from `// BEGIN STAFF` (`# BEGIN STAFF` in TOML) to the
/// matching end, markers included, removed.
///
/// `Err` names a marker that does not pair up.
pub fn strip_staff(text: &str) -> Result<String, String> {
    let either = |line: &str, marker: &str| is_marker(line, marker) || is_toml_marker(line, marker);
    let Some(lines) = strip_blocks(text, BEGIN_STAFF, END_STAFF, either)? else {
        return Ok(text.to_string());
    };
    // A block cut between two blank lines, or at the end, leaves blank
    // lines rustfmt would not: one at most, none at the end.
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for line in lines {
        if line.trim().is_empty() && out.last().is_some_and(|l: &String| l.trim().is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    Ok(join(&out, text))
}

/// `text` without its blocks from `begin` to `end` (markers included, as
/// `is` recognises them), or `None` when it has none.
fn strip_blocks(
    text: &str,
    begin: &str,
    end: &str,
    is: impl Fn(&str, &str) -> bool,
) -> Result<Option<Vec<String>>, String> {
    let mut out: Vec<String> = Vec::new();
    let mut open: Option<usize> = None;
    let mut any = false;
    for (i, line) in text.lines().enumerate() {
        if is(line, begin) {
            if let Some(b) = open {
                return Err(format!(
                    "line {}: `{begin}` inside the block opened at line {}",
                    i + 1,
                    b + 1
                ));
            }
            open = Some(i);
            any = true;
        } else if is(line, end) {
            if open.take().is_none() {
                return Err(format!("line {}: `{end}` without a `{begin}`", i + 1));
            }
        } else if open.is_none() {
            out.push(line.to_string());
        }
    }
    if let Some(b) = open {
        return Err(format!("line {}: `{begin}` is never closed by `{end}`", b + 1));
    }
    Ok(any.then_some(out))
}

/// The chapter for course staff, left out of the student release.
pub const STAFF_CHAPTER: &str = "docs/src/staff.md";

/// The book's table of contents without the staff chapter: its entry, and
/// the part title above it when nothing else is left in that part.
pub fn student_summary(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("# ") && i > 0 {
            // A part: keep it only if some entry of it stays.
            let end = (i + 1..lines.len())
                .find(|&k| lines[k].starts_with("# "))
                .unwrap_or(lines.len());
            let part = &lines[i..end];
            let kept: Vec<&str> = part
                .iter()
                .copied()
                .filter(|l| !l.contains("(staff.md)"))
                .collect();
            if kept
                .iter()
                .any(|l| l.trim_start().starts_with("- [") || l.trim_start().starts_with('['))
            {
                out.extend(kept);
            }
            i = end;
            continue;
        }
        if !line.contains("(staff.md)") {
            out.push(line);
        }
        i += 1;
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staff_block_at_the_end_leaves_no_blank_line_behind() {
        let text = "fn a() {}\n\n// BEGIN STAFF\nfn b() {}\n// END STAFF\n";
        assert_eq!(strip_staff(text).unwrap(), "fn a() {}\n");
    }

    #[test]
    fn the_student_summary_has_no_staff_chapter_or_empty_part() {
        let text = "# Summary\n\n[Intro](introduction.md)\n\n# Pipes\n\n- [01](01-selfpipe.md)\n\n# For course staff\n\n- [Releasing and grading](staff.md)\n";
        assert_eq!(
            student_summary(text),
            "# Summary\n\n[Intro](introduction.md)\n\n# Pipes\n\n- [01](01-selfpipe.md)\n"
        );
    }

    /// Test sources spell the markers `@BEGIN`, `@END`, `@HIDE`, `@SHOW`:
    /// this file ships in the release, which must hold no marker line.
    fn src(text: &str) -> String {
        text.replace("@BEGIN", BEGIN_SOLUTION)
            .replace("@END", END_SOLUTION)
            .replace("@HIDE", BEGIN_HIDDEN)
            .replace("@SHOW", END_HIDDEN)
    }

    fn body(stubbed: &str) -> String {
        // Everything after the allowances block, which other tests cover.
        let attr = STUB_ALLOW.last().unwrap();
        let at = stubbed.find(attr).expect("allowances inserted") + attr.len();
        stubbed[at..].trim_start_matches('\n').to_string()
    }

    #[test]
    fn a_region_becomes_todo_at_its_indentation_and_the_todo_comment_stays() {
        let text = src("//! Docs.\n\
                        \n\
                        fn main() {\n\
                        \x20   let x = 1;\n\
                        \x20   if x > 0 {\n\
                        \x20       // TODO: print the answer.\n\
                        \x20       @BEGIN\n\
                        \x20       let y = x * 42;\n\
                        \x20       println!(\"{y}\");\n\
                        \x20       @END\n\
                        \x20   }\n\
                        }\n");
        let out = stub_source(&text).unwrap();
        assert!(out.starts_with("//! Docs.\n\n// Until every todo!()"), "{out}");
        assert_eq!(
            body(&out),
            "fn main() {\n    let x = 1;\n    if x > 0 {\n        // TODO: print the answer.\n        \
             todo!(\"print the answer.\");\n    }\n}\n"
        );
        assert!(!out.contains("x * 42"));
    }

    #[test]
    fn several_regions_and_a_multi_line_todo() {
        let text = src("//! D.\n\
                        fn a() -> u32 {\n\
                        \x20   // TODO: return the answer,\n\
                        \x20   // computed the long way.\n\
                        \x20   @BEGIN\n\
                        \x20   6 * 7\n\
                        \x20   @END\n\
                        }\n\
                        fn b() {\n\
                        \x20   // TODO: say \"hi\" {politely}.\n\
                        \x20   @BEGIN\n\
                        \x20   greet();\n\
                        \x20   @END\n\
                        \x20   // TODO: and goodbye.\n\
                        \x20   @BEGIN\n\
                        \x20   part();\n\
                        \x20   @END\n\
                        }\n");
        let out = body(&stub_source(&text).unwrap());
        assert_eq!(
            out,
            "fn a() -> u32 {\n\
             \x20   // TODO: return the answer,\n\
             \x20   // computed the long way.\n\
             \x20   todo!(\"return the answer, computed the long way.\");\n\
             }\n\
             fn b() {\n\
             \x20   // TODO: say \"hi\" {politely}.\n\
             \x20   todo!(\"say \\\"hi\\\" {{politely}}.\");\n\
             \x20   // TODO: and goodbye.\n\
             \x20   todo!(\"and goodbye.\");\n\
             }\n"
        );
    }

    #[test]
    fn a_long_todo_is_laid_out_as_rustfmt_would() {
        let long = "w".repeat(120);
        assert_eq!(
            todo_lines("    ", &long),
            [
                "    todo!(".to_string(),
                format!("        \"{long}\""),
                "    );".to_string()
            ]
        );
        // Exactly max_width still fits on one line; one more does not.
        let fits = "x".repeat(MAX_WIDTH - "    todo!(\"\");".len());
        assert_eq!(todo_lines("    ", &fits).len(), 1);
        assert_eq!(todo_lines("    ", &format!("{fits}x")).len(), 3);
    }

    #[test]
    fn max_width_is_rustfmt_toml_s() {
        let toml =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../rustfmt.toml")).unwrap();
        let width = toml
            .lines()
            .find_map(|l| l.strip_prefix("max_width"))
            .and_then(|v| v.trim_start_matches([' ', '=']).trim().parse::<usize>().ok());
        assert_eq!(
            width,
            Some(MAX_WIDTH),
            "set MAX_WIDTH to rustfmt.toml's max_width"
        );
    }

    #[test]
    fn malformed_regions_are_errors_that_name_the_line() {
        let unclosed = src("// TODO: x\n@BEGIN\nfoo();\n");
        assert_eq!(
            stub_source(&unclosed).unwrap_err(),
            format!("line 2: `{BEGIN_SOLUTION}` is never closed by `{END_SOLUTION}`")
        );
        let stray = src("foo();\n@END\n");
        assert!(stub_source(&stray).unwrap_err().starts_with("line 2: "));
        let nested = src("// TODO: x\n@BEGIN\n// TODO: y\n@BEGIN\n@END\n@END\n");
        assert!(stub_source(&nested).unwrap_err().starts_with("line 4: "));
        let no_todo = src("let a = 1;\n@BEGIN\nfoo();\n@END\n");
        assert!(stub_source(&no_todo).unwrap_err().contains("needs a `// TODO:`"));
        // A comment that is not a TODO does not count, nor one above code.
        let far = src("// TODO: x\nlet a = 1;\n// just a note\n@BEGIN\n@END\n");
        assert!(stub_source(&far).unwrap_err().starts_with("line 4: "));
    }

    #[test]
    fn files_without_markers_are_unchanged() {
        let text = "//! Docs.\nfn main() {}\n";
        assert_eq!(stub_source(text).unwrap(), text);
        assert_eq!(strip_hidden(text).unwrap(), text);
    }

    #[test]
    fn staff_blocks_go_from_rust_and_toml() {
        let staff = |text: &str| {
            text.replace("@STAFF", BEGIN_STAFF)
                .replace("@DONE", END_STAFF)
                .replace("#STAFF", &BEGIN_STAFF.replace("//", "#"))
                .replace("#DONE", &END_STAFF.replace("//", "#"))
        };
        let rust = staff("mod check;\n@STAFF\nmod grade;\n@DONE\nmod list;\n");
        assert_eq!(strip_staff(&rust).unwrap(), "mod check;\nmod list;\n");
        let seams = staff("a\n\n@STAFF\nb\n@DONE\n\nc\n\n@STAFF\nd\n@DONE\n");
        assert_eq!(
            strip_staff(&seams).unwrap(),
            "a\n\nc\n",
            "no double or trailing blank line"
        );
        let toml = staff("[dependencies]\nchecks.workspace = true\n#STAFF\ngrader.workspace = true\n#DONE\n");
        assert_eq!(
            strip_staff(&toml).unwrap(),
            "[dependencies]\nchecks.workspace = true\n"
        );
        assert!(is_any_marker(&staff("  #STAFF")), "a TOML marker is a marker");
        assert_eq!(strip_staff("#[derive(Debug)]\n").unwrap(), "#[derive(Debug)]\n");
        let open = strip_staff(&staff("a\n@STAFF\nb\n")).unwrap_err();
        assert_eq!(
            open,
            format!("line 2: `{BEGIN_STAFF}` is never closed by `{END_STAFF}`")
        );
    }

    #[test]
    fn hidden_blocks_go_markers_and_all() {
        let text = src("//! Checks.\n\
                        \n\
                        fn checks() -> Vec<u32> {\n\
                        \x20   vec![\n\
                        \x20       1,\n\
                        \x20       @HIDE\n\
                        \x20       2,\n\
                        \x20       @SHOW\n\
                        \x20       3,\n\
                        \x20       @HIDE\n\
                        \x20       4,\n\
                        \x20       @SHOW\n\
                        \x20   ]\n\
                        }\n");
        let out = strip_hidden(&text).unwrap();
        let expected = format!(
            "//! Checks.\n\n{}\n\nfn checks() -> Vec<u32> {{\n    vec![\n        1,\n        3,\n    ]\n}}\n",
            HIDDEN_ALLOW.join("\n")
        );
        assert_eq!(out, expected);
        assert!(
            strip_hidden(&src("@HIDE\nx\n"))
                .unwrap_err()
                .starts_with("line 1: ")
        );
        assert!(
            strip_hidden(&src("x\n@SHOW\n"))
                .unwrap_err()
                .starts_with("line 2: ")
        );
    }

    #[test]
    fn stubbing_is_idempotent_on_its_own_output() {
        let text = src("//! D.\nfn f() {\n    // TODO: t\n    @BEGIN\n    g();\n    @END\n}\n");
        let once = stub_source(&text).unwrap();
        assert_eq!(stub_source(&once).unwrap(), once);
    }
}
