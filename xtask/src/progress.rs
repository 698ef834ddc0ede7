//! The student's progress: which exercises passed at their last check.
//!
//! Kept in `.ipc-lab/progress.json` at the workspace root (git-ignored), written
//! atomically after every `check`, read by `list`. A missing or unreadable
//! file simply means "not checked yet". Read and written as a
//! `serde_json::Value`, so a student's build needs no derive macro.

use checks::ExerciseResult;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One exercise's state at its last check.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub passed: bool,
    pub score: u32,
    pub max_score: u32,
}

/// Exercise name → its last result.
pub type LastChecks = BTreeMap<String, Entry>;

fn path(root: &Path) -> PathBuf {
    root.join(".ipc-lab").join("progress.json")
}

pub fn load(root: &Path) -> LastChecks {
    std::fs::read(path(root))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| v.as_object().cloned())
        .map(|entries| {
            entries
                .iter()
                .filter_map(|(name, e)| Some((name.clone(), Entry::from_value(e)?)))
                .collect()
        })
        .unwrap_or_default()
}

impl Entry {
    fn to_value(&self) -> Value {
        json!({ "passed": self.passed, "score": self.score, "max_score": self.max_score })
    }

    /// `None` for an entry written by another version: skipped, not fatal.
    fn from_value(v: &Value) -> Option<Entry> {
        let points = |key: &str| v[key].as_u64().and_then(|n| u32::try_from(n).ok());
        Some(Entry {
            passed: v["passed"].as_bool()?,
            score: points("score")?,
            max_score: points("max_score")?,
        })
    }
}

/// Records these results on top of what was there. Progress is a
/// convenience: failing to save it is not worth failing the check for.
pub fn record(root: &Path, results: &[ExerciseResult]) {
    let mut progress = load(root);
    for r in results {
        let entry = Entry {
            passed: r.passed(),
            score: r.score(),
            max_score: r.max_score(),
        };
        progress.insert(r.exercise.name.to_string(), entry);
    }
    let file = path(root);
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let value: serde_json::Map<String, Value> = progress
        .iter()
        .map(|(name, e)| (name.clone(), e.to_value()))
        .collect();
    if let Ok(json) = serde_json::to_vec_pretty(&value) {
        let _ = checks::report::write_atomically(&file, &json);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_survives_a_save_and_a_load_and_skips_what_it_cannot_read() {
        let root = std::env::temp_dir().join(format!("ipc-lab-progress-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(".ipc-lab")).unwrap();
        std::fs::write(
            path(&root),
            r#"{"selfpipe": {"passed": true, "score": 5, "max_score": 5},
               "childpipe": {"passed": "yes"}}"#,
        )
        .unwrap();
        let loaded = load(&root);
        assert_eq!(loaded.len(), 1, "{loaded:?}");
        assert_eq!(
            loaded["selfpipe"],
            Entry {
                passed: true,
                score: 5,
                max_score: 5
            }
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
