//! The results file, in Gradescope's `results.json` schema.
//!
//! One format serves `cargo xtask check --json`, `cargo xtask grade` and the
//! Gradescope autograder: a score, a maximum, the time taken, and one entry
//! per check with its own score, status, explanation and visibility.

use crate::ExerciseResult;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

/// A whole results file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Results {
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// Seconds the checks took.
    pub execution_time: f64,
    /// Text shown above the tests, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// One entry per check.
    pub tests: Vec<TestResult>,
}

/// One check's entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestResult {
    /// `03 closing-ends: reads every message, then EOF`.
    pub name: String,
    /// `3.1`: exercise and check number, which Gradescope sorts by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// `passed` or `failed`.
    pub status: String,
    /// Why it failed; empty when it passed.
    pub output: String,
    /// `visible`, or `after_due_date` for hidden checks.
    pub visibility: String,
}

impl Results {
    /// Turns exercise results into a results file.
    pub fn from_results(results: &[ExerciseResult], elapsed: Duration) -> Results {
        let mut tests = Vec::new();
        for r in results {
            for (k, c) in r.checks.iter().enumerate() {
                tests.push(TestResult {
                    name: format!("{}: {}", r.exercise.label(), c.name),
                    number: Some(format!("{}.{}", r.exercise.number, k + 1)),
                    score: f64::from(c.score),
                    max_score: f64::from(c.max_score),
                    status: if c.passed { "passed" } else { "failed" }.to_string(),
                    output: output(c, r.exercise.hint),
                    visibility: if c.hidden { "after_due_date" } else { "visible" }.to_string(),
                });
            }
        }
        Results {
            score: tests.iter().map(|t| t.score).sum(),
            max_score: tests.iter().map(|t| t.max_score).sum(),
            execution_time: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            output: None,
            tests,
        }
    }

    /// The JSON text, pretty-printed, with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("results always serialize");
        s.push('\n');
        s
    }
}

/// A check's text on Gradescope: why it failed, then the exercise's hint
/// (a student there has no `cargo xtask hint` at hand); nothing when it
/// passed.
fn output(c: &crate::CheckResult, hint: &str) -> String {
    if c.passed {
        return c.output.clone();
    }
    format!("{}\n\nHint: {hint}", c.output.trim_end())
}

/// Writes `contents` to `path` atomically: a temporary file in the same
/// directory, synced, then renamed over the target, so a reader (or a crash)
/// never sees half a file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| io::Error::other("no file name"))?;
    let tmp = dir.join(format!(".{}.tmp.{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("ipc-lab-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("results.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporary file left behind: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_check_carries_the_hint_and_a_passed_one_nothing() {
        let exercise = &crate::catalogue()[0];
        let check = |passed: bool| crate::CheckResult {
            name: "x",
            command: "selfpipe".into(),
            score: u32::from(passed),
            max_score: 1,
            hidden: false,
            passed,
            output: if passed { String::new() } else { "wrong\n".into() },
            duration: Duration::ZERO,
        };
        let result = ExerciseResult {
            exercise,
            checks: vec![check(false), check(true)],
        };
        let r = Results::from_results(&[result], Duration::ZERO);
        assert_eq!(r.tests[0].output, format!("wrong\n\nHint: {}", exercise.hint));
        assert_eq!(r.tests[1].output, "");
    }

    #[test]
    fn results_round_trip_through_json() {
        let r = Results {
            score: 1.0,
            max_score: 2.0,
            execution_time: 0.5,
            output: None,
            tests: vec![TestResult {
                name: "01 selfpipe: x".into(),
                number: Some("1.1".into()),
                score: 1.0,
                max_score: 2.0,
                status: "failed".into(),
                output: "why".into(),
                visibility: "after_due_date".into(),
            }],
        };
        let back: Results = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        for key in ["score", "max_score", "execution_time", "tests"] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
    }
}
