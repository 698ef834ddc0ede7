//! The student's progress: which exercises passed at their last check.
//!
//! Kept in `.ipc-lab/progress.json` at the workspace root (git-ignored), written
//! atomically after every `check`, read by `list`. A missing or unreadable
//! file simply means "not checked yet".

use checks::ExerciseResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One exercise's state at its last check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub passed: bool,
    pub score: u32,
    pub max_score: u32,
}

/// Exercise name → its last result.
pub type Progress = BTreeMap<String, Entry>;

fn path(root: &Path) -> PathBuf {
    root.join(".ipc-lab").join("progress.json")
}

pub fn load(root: &Path) -> Progress {
    std::fs::read(path(root))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
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
    if let Ok(json) = serde_json::to_vec_pretty(&progress) {
        let _ = checks::report::write_atomically(&file, &json);
    }
}
