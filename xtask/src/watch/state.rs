//! What the watch knows: which exercise is current, what its last check
//! said, what each exercise's sources were when last checked, and what the
//! screen is asked to show. Types only; `draw.rs` makes the words.

use checks::ExerciseResult;
use std::time::Duration;

/// The last check of the current exercise.
pub enum LastCheck {
    /// The checks ran (a compile error is one of their verdicts).
    Ran {
        result: ExerciseResult,
        build: Duration,
        checks: Duration,
    },
    /// Cargo itself could not run: why.
    CargoFailed(String),
}

/// One line about what just happened, by catalogue index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// The current exercise passes now (the watch moves on).
    PassesNow(usize),
    /// Another exercise that changed in the same save passes.
    Passes(usize),
    /// Another exercise that changed in the same save fails.
    FailsToo(usize),
    /// `n` was pressed on the last exercise not passing.
    LastOne,
}

/// A problem with watching itself, shown until the next verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The file-event watcher reported an error; the poll goes on.
    EventsFailed(String),
    /// A save came with no file event: the poll speeds up.
    EventsMissed,
}

/// What is being done right now, by catalogue index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Building(usize),
    Checking(usize),
}

/// How saves are noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// File events, with a slow poll beside them.
    Events,
    /// Polling alone, as `--poll` asked.
    Polling,
    /// File events could not start (why); polling alone.
    EventsUnavailable(String),
    /// File events missed a save; polling at `--poll`'s pace.
    EventsMissed,
}

/// The watch's state.
pub struct State {
    /// The exercise being worked on; `None` once everything passes.
    pub current: Option<usize>,
    /// The last check, and the exercise (catalogue index) it was of: not
    /// always the current one (another exercise saved at the same time, or
    /// the current one still building).
    pub last: Option<(usize, LastCheck)>,
    pub note: Option<Note>,
    pub warning: Option<Warning>,
    pub show_hint: bool,
    pub show_list: bool,
    pub busy: Option<Busy>,
    /// Each exercise passed at its last check.
    pub passed: Vec<bool>,
    /// Each exercise's sources (their stamp) as last checked, or as found
    /// at start.
    pub seen: Vec<u64>,
    pub how: How,
}

impl State {
    /// Nothing current yet; `passed` and `seen` by catalogue index.
    pub fn new(passed: Vec<bool>, seen: Vec<u64>, how: How) -> State {
        State {
            current: None,
            last: None,
            note: None,
            warning: None,
            show_hint: false,
            show_list: false,
            busy: None,
            passed,
            seen,
            how,
        }
    }

    pub fn first_not_passing(&self) -> Option<usize> {
        self.passed.iter().position(|p| !p)
    }

    /// The next exercise not passing after `i`, wrapping around, other
    /// than `i` itself.
    pub fn next_not_passing(&self, i: usize) -> Option<usize> {
        let n = self.passed.len();
        (1..n).map(|k| (i + k) % n).find(|&j| !self.passed[j])
    }

    /// How many exercises pass.
    pub fn done(&self) -> usize {
        self.passed.iter().filter(|p| **p).count()
    }

    /// Makes `i` the current exercise; a hint asked for belongs to the
    /// exercise it was asked on.
    pub fn make_current(&mut self, i: usize) {
        if self.current != Some(i) {
            self.show_hint = false;
        }
        self.current = Some(i);
    }

    /// Everything passes: nothing is current.
    pub fn all_done(&mut self) {
        self.current = None;
        self.last = None;
    }

    /// Whether the last check ran and failed.
    pub fn last_failed(&self) -> bool {
        matches!(&self.last, Some((_, LastCheck::Ran { result, .. })) if !result.passed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_exercise_not_passing_wraps_around_and_skips_itself() {
        let s = State::new(vec![false, true, false, true], vec![0; 4], How::Events);
        assert_eq!(s.first_not_passing(), Some(0));
        assert_eq!(s.next_not_passing(0), Some(2));
        assert_eq!(s.next_not_passing(2), Some(0));
        let alone = State::new(vec![true, false], vec![0; 2], How::Events);
        assert_eq!(alone.next_not_passing(1), None);
        assert_eq!(alone.done(), 1);
    }
}
