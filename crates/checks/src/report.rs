//! The results file, in Gradescope's `results.json` schema.
//!
//! One format serves `cargo xtask check --json`, `cargo xtask grade` and the
//! Gradescope autograder: a score, a maximum, the time taken, and one entry
//! per check with its own score, status, explanation and visibility.
//!
//! The JSON is built and read through `serde_json::Value`, field by field,
//! rather than with serde's derive macros: a student compiles this crate
//! before their first check, and the derive alone (`syn` and two
//! procedural-macro crates) was about a third of that cold build.

use crate::ExerciseResult;
use serde_json::{Map, Value, json};
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

/// A whole results file.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// Seconds the checks took.
    pub execution_time: f64,
    /// Text shown above the tests, if any.
    pub output: Option<String>,
    /// One entry per check.
    pub tests: Vec<TestResult>,
    /// What Gradescope keeps without showing: here, the sandbox's
    /// protections during the checks.
    pub extra_data: Option<ExtraData>,
}

/// The `extra_data` of a results file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtraData {
    /// The protections every run had, and those some run lacked.
    pub isolation: Option<IsolationData>,
}

/// [`sandbox::Isolation`] as the results file keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IsolationData {
    /// `["own user", "mount namespace", …]`.
    pub in_force: Vec<String>,
    /// Each missing protection and why.
    pub missing: Vec<Missing>,
}

/// One missing protection.
#[derive(Debug, Clone, PartialEq)]
pub struct Missing {
    /// `"cpu cgroup"`.
    pub protection: String,
    /// `"not available here"`.
    pub reason: String,
}

impl From<&sandbox::Isolation> for IsolationData {
    fn from(i: &sandbox::Isolation) -> IsolationData {
        IsolationData {
            in_force: i.in_force.iter().map(|p| p.name().to_string()).collect(),
            missing: i
                .missing
                .iter()
                .map(|(p, why)| Missing {
                    protection: p.name().to_string(),
                    reason: why.to_string(),
                })
                .collect(),
        }
    }
}

/// One check's entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// `03 closing-ends: reads every message, then EOF`.
    pub name: String,
    /// `3.1`: exercise and check number, which Gradescope sorts by.
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
                    status: if c.passed() { "passed" } else { "failed" }.to_string(),
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
            extra_data: crate::runner::isolation(results).map(|i| ExtraData {
                isolation: Some(IsolationData::from(&i)),
            }),
        }
    }

    /// The JSON text, pretty-printed, with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.to_value()).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The results as a JSON value, in Gradescope's schema: optional fields
    /// left out when they are `None`.
    pub fn to_value(&self) -> Value {
        let mut v = json!({
            "score": self.score,
            "max_score": self.max_score,
            "execution_time": self.execution_time,
        });
        put(&mut v, "output", self.output.as_ref().map(|o| json!(o)));
        v["tests"] = self.tests.iter().map(TestResult::to_value).collect();
        put(
            &mut v,
            "extra_data",
            self.extra_data.as_ref().map(ExtraData::to_value),
        );
        v
    }

    /// Reads a results file's text back (the grader's cache, the tests).
    pub fn from_json(text: &str) -> Result<Results, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let tests = v["tests"]
            .as_array()
            .ok_or("no \"tests\" list")?
            .iter()
            .map(TestResult::from_value)
            .collect::<Result<_, _>>()?;
        Ok(Results {
            score: number(&v, "score")?,
            max_score: number(&v, "max_score")?,
            execution_time: number(&v, "execution_time")?,
            output: v["output"].as_str().map(str::to_string),
            tests,
            extra_data: v.get("extra_data").map(|extra| ExtraData {
                isolation: extra.get("isolation").map(IsolationData::from_value),
            }),
        })
    }
}

impl TestResult {
    fn to_value(&self) -> Value {
        let mut v = json!({ "name": self.name });
        put(&mut v, "number", self.number.as_ref().map(|n| json!(n)));
        v["score"] = json!(self.score);
        v["max_score"] = json!(self.max_score);
        v["status"] = json!(self.status);
        v["output"] = json!(self.output);
        v["visibility"] = json!(self.visibility);
        v
    }

    fn from_value(v: &Value) -> Result<TestResult, String> {
        Ok(TestResult {
            name: text(v, "name")?,
            number: v["number"].as_str().map(str::to_string),
            score: number(v, "score")?,
            max_score: number(v, "max_score")?,
            status: text(v, "status")?,
            output: text(v, "output")?,
            visibility: text(v, "visibility")?,
        })
    }
}

impl ExtraData {
    fn to_value(&self) -> Value {
        let mut v = Value::Object(Map::new());
        put(
            &mut v,
            "isolation",
            self.isolation.as_ref().map(IsolationData::to_value),
        );
        v
    }
}

impl IsolationData {
    fn to_value(&self) -> Value {
        let missing: Vec<Value> = self
            .missing
            .iter()
            .map(|m| json!({ "protection": m.protection, "reason": m.reason }))
            .collect();
        json!({ "in_force": self.in_force, "missing": missing })
    }

    /// Lenient: the isolation is a record, never a reason to refuse a file.
    fn from_value(v: &Value) -> IsolationData {
        let strings = |v: &Value| v.as_str().unwrap_or_default().to_string();
        IsolationData {
            in_force: v["in_force"]
                .as_array()
                .map_or_else(Vec::new, |a| a.iter().map(strings).collect()),
            missing: v["missing"].as_array().map_or_else(Vec::new, |a| {
                a.iter()
                    .map(|m| Missing {
                        protection: strings(&m["protection"]),
                        reason: strings(&m["reason"]),
                    })
                    .collect()
            }),
        }
    }
}

/// Sets `key` in the object `v` when there is a value: Gradescope's
/// optional fields are absent, not `null`.
fn put(v: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(object), Some(value)) = (v.as_object_mut(), value) {
        object.insert(key.to_string(), value);
    }
}

fn number(v: &Value, key: &str) -> Result<f64, String> {
    v[key].as_f64().ok_or_else(|| format!("no number \"{key}\""))
}

fn text(v: &Value, key: &str) -> Result<String, String> {
    v[key]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no text \"{key}\""))
}

/// A check's text on Gradescope: why it failed, then the exercise's hint
/// when the failure is the program's (a student there has no
/// `cargo xtask hint` at hand); the text alone otherwise (passed, out of
/// time, not graded).
fn output(c: &crate::CheckResult, hint: &str) -> String {
    use crate::Failure;
    match c.failure {
        Some(Failure::Judged | Failure::DidNotCompile | Failure::NotAttempted) => {
            format!("{}\n\nHint: {hint}", c.output.trim_end())
        }
        _ => c.output.clone(),
    }
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
    fn a_failed_check_carries_the_hint_and_others_do_not() {
        use crate::Failure;
        let exercise = &crate::catalogue()[0];
        let check = |failure: Option<Failure>| crate::CheckResult {
            name: "x",
            command: "selfpipe".into(),
            score: u32::from(failure.is_none()),
            max_score: 1,
            hidden: false,
            failure,
            output: if failure.is_none() {
                String::new()
            } else {
                "why\n".into()
            },
            duration: Duration::ZERO,
            isolation: None,
        };
        let result = ExerciseResult {
            exercise,
            checks: vec![
                check(Some(Failure::Judged)),
                check(None),
                check(Some(Failure::OutOfTime)),
            ],
        };
        let r = Results::from_results(&[result], Duration::ZERO);
        assert_eq!(r.tests[0].output, format!("why\n\nHint: {}", exercise.hint));
        assert_eq!(r.tests[1].output, "");
        assert_eq!(r.tests[2].output, "why\n");
    }

    #[test]
    fn the_results_say_which_protections_every_run_had() {
        use sandbox::{Absence, Isolation, Protection};
        let exercise = &crate::catalogue()[0];
        let check = |isolation: Option<Isolation>| crate::CheckResult {
            name: "x",
            command: String::new(),
            score: 1,
            max_score: 1,
            hidden: false,
            failure: None,
            output: String::new(),
            duration: Duration::ZERO,
            isolation,
        };
        let full = Isolation {
            in_force: vec![Protection::OwnUser, Protection::MountNamespace],
            missing: vec![],
        };
        let fell_back = Isolation {
            in_force: vec![Protection::OwnUser],
            missing: vec![(
                Protection::MountNamespace,
                Absence::Refused("unshare failed".into()),
            )],
        };
        let results = [ExerciseResult {
            exercise,
            checks: vec![check(Some(full)), check(None), check(Some(fell_back))],
        }];
        let data = Results::from_results(&results, Duration::ZERO)
            .extra_data
            .and_then(|e| e.isolation)
            .expect("no isolation in the results");
        assert_eq!(data.in_force, ["own user"]);
        assert_eq!(
            data.missing,
            [Missing {
                protection: "mount namespace".into(),
                reason: "unshare failed".into()
            }]
        );
        let nothing_ran = [ExerciseResult {
            exercise,
            checks: vec![check(None)],
        }];
        assert_eq!(
            Results::from_results(&nothing_ran, Duration::ZERO).extra_data,
            None
        );
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
            extra_data: Some(ExtraData {
                isolation: Some(IsolationData {
                    in_force: vec!["own user".into()],
                    missing: vec![Missing {
                        protection: "cpu cgroup".into(),
                        reason: "not available here".into(),
                    }],
                }),
            }),
        };
        let back = Results::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
        let plain = Results {
            extra_data: None,
            ..r.clone()
        };
        assert_eq!(Results::from_json(&plain.to_json()).unwrap(), plain);
        assert!(!plain.to_json().contains("extra_data"));
        assert!(Results::from_json("{\"score\": 1}").is_err());
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        for key in ["score", "max_score", "execution_time", "tests"] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
    }
}
