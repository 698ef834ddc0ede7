//! The exercise table: one row per exercise, with its status at its last
//! check and its points. `list` prints it and `watch` shows it (key `l`);
//! both read it from here, so they cannot disagree.
//!
//! The points of an exercise not yet checked are those of every check this
//! workspace holds ([`max_points`]). In a student's repository that is its
//! public checks, since the release removes the hidden ones: the number
//! the student README and the Classroom workflow give. In the reference
//! workspace it counts the hidden checks too, as `cargo xtask check` runs
//! them there. Once checked, a row shows the score and maximum of that
//! check as `progress` kept them (`watch` runs only the public checks).

use crate::progress::LastChecks;
use checks::Exercise;

/// Where an exercise stood at its last check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failing,
    Unchecked,
}

impl Status {
    /// The words of the status column.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "✓ passed",
            Status::Failing => "✗ failing",
            Status::Unchecked => "· unchecked",
        }
    }
}

/// Width of the status column, in characters.
pub const STATUS_WIDTH: usize = 11;

/// One exercise's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub exercise: &'static Exercise,
    pub status: Status,
    /// `score/max` at the last check, or `-/max` before any.
    pub points: String,
}

/// The points an exercise not yet checked can earn here (see the module
/// docs).
pub fn max_points(e: &Exercise) -> u32 {
    e.max_points(true)
}

/// Every exercise of the catalogue, in order, as `progress` last saw it.
pub fn rows(progress: &LastChecks) -> Vec<Row> {
    checks::catalogue()
        .iter()
        .map(|e| {
            let (status, points) = match progress.get(e.name) {
                Some(p) if p.passed => (Status::Passed, format!("{}/{}", p.score, p.max_score)),
                Some(p) => (Status::Failing, format!("{}/{}", p.score, p.max_score)),
                None => (Status::Unchecked, format!("-/{}", max_points(e))),
            };
            Row {
                exercise: e,
                status,
                points,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Entry;

    #[test]
    fn rows_follow_the_catalogue_and_the_progress_kept() {
        let first = &checks::catalogue()[0];
        let mut progress = LastChecks::new();
        let entry = Entry {
            passed: false,
            score: 1,
            max_score: 3,
        };
        progress.insert(first.name.to_string(), entry);
        let rows = rows(&progress);
        assert_eq!(rows.len(), checks::catalogue().len());
        assert_eq!(
            (rows[0].status, rows[0].points.as_str()),
            (Status::Failing, "1/3")
        );
        let second = rows[1].exercise;
        assert_eq!(rows[1].status, Status::Unchecked);
        assert_eq!(rows[1].points, format!("-/{}", second.max_points(true)));
    }
}
