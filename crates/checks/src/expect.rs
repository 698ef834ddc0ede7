//! Judging helpers: each returns a [`Verdict`] whose error explains itself.
//!
//! Expected output is written as *templates*, one per line, where
//!
//! - `{P}` is the pid of the program the checker started (not "any number"),
//! - `{C}`, `{C1}`, `{C2}`… are child pids: numbers that differ from `P` and
//!   from each other, the same number wherever the same name appears,
//! - `{N}` is any whole number (possibly negative).
//!
//! A mismatch is shown as a line-by-line diff (from `predicates`) between the
//! expected text, with the pids filled in, and what the program printed.

use crate::Verdict;
use predicates::Predicate;
use sandbox::{Outcome, Status};
use std::collections::BTreeMap;

/// The program's standard output as text (invalid UTF-8 replaced).
pub fn stdout(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The program's standard error as text (invalid UTF-8 replaced).
pub fn stderr(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Passes when `condition` holds; otherwise fails with `message`.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Verdict {
    if condition { Ok(()) } else { Err(message()) }
}

/// The program exited normally with `code`.
pub fn exited(o: &Outcome, code: i32) -> Verdict {
    match o.status {
        Status::Exited(c) if c == code => Ok(()),
        Status::Exited(_) => Err(format!(
            "expected the program to exit with status {code}, but it {}{}",
            o.summary(),
            said(o)
        )),
        _ => Err(format!(
            "expected the program to exit with status {code}, but it {}",
            o.summary()
        )),
    }
}

/// A program that fails usually says why on its last line of stderr:
/// `": <that line>"`, or nothing when it said nothing.
fn said(o: &Outcome) -> String {
    let err = stderr(o);
    match err.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(line) => format!(", saying: {}", escape(line.trim())),
        None => String::new(),
    }
}

/// The program exited normally with any non-zero code.
pub fn exited_nonzero(o: &Outcome) -> Verdict {
    match o.status {
        Status::Exited(c) if c != 0 => Ok(()),
        _ => Err(format!(
            "expected the program to exit with a non-zero status, but it {}",
            o.summary()
        )),
    }
}

/// Nothing was left behind: the sandbox saw no child that was never waited
/// for and no process still running. `children` names whom the parent must
/// wait for ("its child", "both children").
pub fn waited_for(o: &Outcome, children: &str) -> Verdict {
    ensure(o.not_waited.is_empty() && o.left_running.is_empty(), || {
        format!("the parent must wait for {children} (waitpid) before it exits")
    })
}

/// Standard output contains `needle`.
pub fn stdout_contains(o: &Outcome, needle: &str) -> Verdict {
    contains("standard output", &stdout(o), needle)
}

/// Standard error contains `needle`.
pub fn stderr_contains(o: &Outcome, needle: &str) -> Verdict {
    contains("standard error", &stderr(o), needle)
}

fn contains(what: &str, haystack: &str, needle: &str) -> Verdict {
    let pred = predicates::str::contains(needle);
    ensure(pred.eval(haystack), || {
        format!(
            "expected {what} to contain {needle:?}, got:\n{}",
            indent(haystack)
        )
    })
}

/// Standard output is exactly these lines, in this order (see the module
/// docs for `{P}`, `{C}` and `{N}`).
pub fn stdout_lines(o: &Outcome, templates: &[&str]) -> Verdict {
    let actual = stdout(o);
    let lines: Vec<&str> = actual.lines().collect();
    let mut bindings = Bindings::new(o.pid);
    if lines.len() == templates.len() && match_all(templates, &lines, &mut bindings) {
        return ensure(actual.is_empty() || actual.ends_with('\n'), || {
            "the last line of output has no newline at its end".to_string()
        });
    }
    Err(diff(&bindings.render(templates), &actual) + &left_behind(o))
}

/// When lines are missing and the run left processes behind, the likely
/// reason: output of a process nobody waited for is lost with it.
fn left_behind(o: &Outcome) -> String {
    if o.not_waited.is_empty() && o.left_running.is_empty() {
        return String::new();
    }
    "the run left a process behind (see below): a child or thread that is not waited for \
     may not have printed yet when the program ended, so its lines are missing\n"
        .to_string()
}

/// Standard output is these lines in some order: for programs whose
/// processes or threads race to print.
pub fn stdout_lines_any_order(o: &Outcome, templates: &[&str]) -> Verdict {
    let actual = stdout(o);
    let lines: Vec<&str> = actual.lines().collect();
    if lines.len() == templates.len() {
        let mut order: Vec<usize> = (0..templates.len()).collect();
        if permutations_match(templates, &lines, &mut order, 0, o.pid) {
            return Ok(());
        }
    }
    let expected = Bindings::new(o.pid).render(templates);
    Err(format!(
        "expected these lines in any order:\n{}\ngot:\n{}\n{}",
        indent(&expected),
        indent(&actual),
        left_behind(o)
    ))
}

fn permutations_match(
    templates: &[&str],
    lines: &[&str],
    order: &mut Vec<usize>,
    k: usize,
    pid: i32,
) -> bool {
    if k == order.len() {
        let permuted: Vec<&str> = order.iter().map(|&i| templates[i]).collect();
        return match_all(&permuted, lines, &mut Bindings::new(pid));
    }
    for i in k..order.len() {
        order.swap(k, i);
        if permutations_match(templates, lines, order, k + 1, pid) {
            return true;
        }
        order.swap(k, i);
    }
    false
}

/// Matches one line against a template; returns the numbers that `{N}`
/// matched, in order, or `None` when the line does not fit.
///
/// `{P}` must be `pid`; `{C…}` may be any pid other than `pid`.
pub fn numbers(template: &str, line: &str, pid: i32) -> Option<Vec<i64>> {
    let mut bindings = Bindings::new(pid);
    match_line(template, line, &mut bindings).then_some(bindings.numbers)
}

/// Pids and numbers seen so far while matching one output.
#[derive(Debug)]
struct Bindings {
    pid: i32,
    children: BTreeMap<String, i64>,
    numbers: Vec<i64>,
}

impl Bindings {
    fn new(pid: i32) -> Self {
        Bindings {
            pid,
            children: BTreeMap::new(),
            numbers: Vec::new(),
        }
    }

    /// The expected text with every bound placeholder filled in, and the
    /// others named: `<number>`, `<child pid>`.
    fn render(&self, templates: &[&str]) -> String {
        let mut out = String::new();
        for t in templates {
            let mut line = t.replace("{P}", &self.pid.to_string());
            for (name, value) in &self.children {
                line = line.replace(&format!("{{{name}}}"), &value.to_string());
            }
            line = line.replace("{N}", "<number>");
            while let Some(open) = line.find("{C") {
                match line[open..].find('}') {
                    Some(close) => line.replace_range(open..=open + close, "<child pid>"),
                    None => break,
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

fn match_all(templates: &[&str], lines: &[&str], b: &mut Bindings) -> bool {
    templates.iter().zip(lines).all(|(t, l)| match_line(t, l, b))
}

/// Matches `line` against `template`, extending the bindings.
fn match_line(template: &str, line: &str, b: &mut Bindings) -> bool {
    let mut rest = line;
    let mut tpl = template;
    while !tpl.is_empty() {
        let Some(open) = tpl.find('{') else {
            return rest == tpl;
        };
        let Some(close) = tpl[open..].find('}').map(|c| open + c) else {
            return rest == tpl;
        };
        let (literal, name) = (&tpl[..open], &tpl[open + 1..close]);
        let Some(after) = rest.strip_prefix(literal) else {
            return false;
        };
        let sign = usize::from(name == "N" && after.starts_with('-'));
        let digits = sign + after[sign..].bytes().take_while(u8::is_ascii_digit).count();
        if digits == sign {
            return false;
        }
        let Ok(value) = after[..digits].parse::<i64>() else {
            return false;
        };
        let ok = match name {
            "P" => value == i64::from(b.pid),
            "N" => {
                b.numbers.push(value);
                true
            }
            child if child.starts_with('C') => match b.children.get(child) {
                Some(&bound) => bound == value,
                None => {
                    let fresh =
                        value > 0 && value != i64::from(b.pid) && !b.children.values().any(|&v| v == value);
                    if fresh {
                        b.children.insert(child.to_string(), value);
                        b.numbers.push(value);
                    }
                    fresh
                }
            },
            _ => false,
        };
        if !ok {
            return false;
        }
        rest = &after[digits..];
        tpl = &tpl[close + 1..];
    }
    rest.is_empty()
}

/// How many lines of a diff a report shows.
const DIFF_LINES: usize = 40;

/// Control bytes made visible: `\0`, `\x1b`, `\r`… (newlines and tabs
/// stay as they are). A run of more than three NUL bytes becomes
/// `\0×N`, so 8180 of them take one line, not a screen of nothing.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\0' => {
                let mut run = 1;
                while chars.next_if_eq(&'\0').is_some() {
                    run += 1;
                }
                if run > 3 {
                    out.push_str(&format!("\\0×{run}"));
                } else {
                    out.push_str(&"\\0".repeat(run));
                }
            }
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// What NUL bytes in a program's output most likely mean, in one sentence;
/// `None` when there are none.
pub fn nul_bytes(actual: &str) -> Option<String> {
    let count = actual.chars().filter(|&c| c == '\0').count();
    if count == 0 {
        return None;
    }
    // One run of NULs: a buffer printed whole, its unused end included.
    let first = actual.find('\0').unwrap_or(0);
    let one_run = actual[first..].chars().take(count).all(|c| c == '\0');
    Some(if one_run {
        format!(
            "{count} NUL bytes after the message: the program printed the whole buffer, not the \
             n bytes read (use &buf[..n])"
        )
    } else {
        format!("{count} NUL bytes in the output: only the bytes read() returned are data")
    })
}

/// A line-by-line diff of expected and actual text, from `predicates`,
/// cut to [`DIFF_LINES`] lines. Control bytes are shown escaped (see
/// [`escape`]), and NUL bytes are explained.
pub fn diff(expected: &str, actual: &str) -> String {
    let note = nul_bytes(actual);
    let (expected, actual) = (escape(expected), escape(actual));
    let (expected, actual) = (expected.as_str(), actual.as_str());
    let pred = predicates::str::diff(expected.to_string());
    let Some(case) = pred.find_case(false, actual) else {
        return format!("expected:\n{}\ngot:\n{}", indent(expected), indent(actual));
    };
    let mut text = String::new();
    for product in case.products() {
        text.push_str(&product.value().to_string());
    }
    let mut out = String::from("output differs from what was expected (- expected, + got):\n");
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().filter(|l| !l.trim().is_empty()).take(DIFF_LINES) {
        // predicates names the sides "orig" and "var"; say what they are.
        let line = match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["---", "orig"] => "--- expected",
            ["+++", "var"] => "+++ got",
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    if lines.len() > DIFF_LINES {
        out.push_str(&format!("… ({} more lines of diff)\n", lines.len() - DIFF_LINES));
    }
    if actual.is_empty() {
        out.push_str("(the program printed nothing)\n");
    }
    if let Some(note) = note {
        out.insert_str(0, &format!("{note}\n"));
    }
    out
}

/// How many lines of a program's output a report shows.
const SHOWN_LINES: usize = 40;

/// Indents text for a report, marking an empty text as such and cutting a
/// long one.
pub fn indent(text: &str) -> String {
    if text.is_empty() {
        return "    (nothing)".to_string();
    }
    let text = escape(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = lines
        .iter()
        .take(SHOWN_LINES)
        .map(|l| format!("    {l}"))
        .collect();
    if lines.len() > SHOWN_LINES {
        out.push(format!("    … ({} more lines)", lines.len() - SHOWN_LINES));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_must_be_the_started_one() {
        let mut b = Bindings::new(812);
        assert!(match_line(
            "Wrote Hello from pid {P}",
            "Wrote Hello from pid 812",
            &mut b
        ));
        assert!(!match_line(
            "Wrote Hello from pid {P}",
            "Wrote Hello from pid 813",
            &mut b
        ));
        assert!(!match_line(
            "Wrote Hello from pid {P}",
            "Wrote Hello from pid 812 ",
            &mut b
        ));
    }

    #[test]
    fn child_pids_differ_from_parent_and_stay_bound() {
        let mut b = Bindings::new(10);
        assert!(!match_line("[child: {C}]", "[child: 10]", &mut b));
        assert!(match_line("[child: {C}]", "[child: 11]", &mut b));
        assert!(match_line("x {C}", "x 11", &mut b));
        assert!(!match_line("x {C}", "x 12", &mut b));
        assert!(!match_line("y {C2}", "y 11", &mut b), "C2 must differ from C");
        assert!(match_line("y {C2}", "y 12", &mut b));
    }

    #[test]
    fn numbers_are_returned_in_order() {
        assert_eq!(numbers("a={N} b={N}", "a=43 b=-86", 1), Some(vec![43, -86]));
        assert_eq!(numbers("a={N}", "a=x", 1), None);
    }

    #[test]
    fn diff_shows_both_sides_with_plain_names() {
        let d = diff("one\ntwo\n", "one\nthree\n");
        assert!(d.contains("-two") && d.contains("+three"), "{d}");
        assert!(d.contains("--- expected") && d.contains("+++ got"), "{d}");
    }

    #[test]
    fn long_diffs_and_outputs_are_cut() {
        let many: String = (0..1000).map(|i| format!("{i}\n")).collect();
        let d = diff("x\n", &many);
        assert!(d.lines().count() <= DIFF_LINES + 3, "{d}");
        assert!(d.contains("more lines of diff"), "{d}");
        assert!(indent(&many).ends_with("… (960 more lines)"));
    }

    #[test]
    fn control_bytes_are_escaped_and_nul_runs_counted() {
        assert_eq!(escape("a\0b\x1b[31m\r\n\t"), "a\\0b\\x1b[31m\\r\n\t");
        let whole_buffer = format!("Read Hello\n{}", "\0".repeat(8180));
        let d = diff("Read Hello\n", &whole_buffer);
        assert!(d.contains("\\0×8180"), "{d}");
        assert!(!d.contains('\0'), "{d}");
        assert!(
            d.starts_with("8180 NUL bytes after the message: the program printed the whole buffer"),
            "{d}"
        );
        assert_eq!(nul_bytes("plain\n"), None);
        assert!(nul_bytes("a\0b\0c").unwrap().contains("in the output"));
        let quoted = format!("It was “Hello{}”\n", "\0".repeat(8180));
        assert!(
            nul_bytes(&quoted)
                .unwrap()
                .starts_with("8180 NUL bytes after the message")
        );
    }

    #[test]
    fn unbound_placeholders_are_named() {
        let b = Bindings::new(7);
        assert_eq!(
            b.render(&["pid {P} child {C2} n={N}"]),
            "pid 7 child <child pid> n=<number>\n"
        );
    }
}
