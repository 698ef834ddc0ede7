//! `cargo xtask watch [--poll]`: the student's loop, rustlings-style.
//!
//! At start and on every save it rebuilds the *current* exercise — the
//! first one not passing at its last check — and runs its checks, then
//! shows the verdict: what failed and why (the hang diagnosis included, as
//! the checks report it), the hint on request, and a progress bar. When the
//! current exercise passes, it moves on to the next one not yet passing.
//! Saving another exercise's file makes that one current.
//!
//! Only that one package is built and only its public checks run, so a
//! save comes back with a verdict in about the time cargo needs to compile
//! one small file. A compile error or a hanging program is just a verdict:
//! the checks report it and the loop goes on.
//!
//! Two faces:
//! - on a terminal (stdin and stdout both), a screen redrawn in place, with
//!   single keys: h hint, l list, n next, r re-run, q quit;
//! - otherwise, plain lines: each verdict printed once, and the same keys
//!   read as lines from stdin (`h` then Enter), so it can be driven by a
//!   script or an editor's task runner.
//!
//! Noticing saves: file-system events through `notify` when they work, with
//! a slow poll beside them as a safety net (events do not arrive on some
//! file systems: WSL's Windows drives, network and container mounts);
//! `--poll`, or events failing to start, means polling alone, faster. When
//! the safety net notices a save that no event announced, events do not
//! arrive here (a devcontainer's bind mount from macOS or Windows, say):
//! the poll speeds up to `--poll`'s pace by itself, and says so. Every
//! detector only says "exercise N may have changed": the loop compares a
//! hash of that exercise's sources with the one it last checked, so
//! duplicate events, editor temp files and saves without changes cost
//! nothing.
//!
//! The parts, as rustlings splits its own: this file is the loop (what
//! wakes it and what it does then); `state.rs` is what is being watched
//! and what its last check said, as types; `files.rs` notices saves (file
//! events through `notify`, the poll, the stamp of an exercise's
//! sources); `terminal.rs` reads keys and puts the terminal in raw mode
//! and back; `draw.rs` makes the words, for the screen or plain lines.

mod draw;
mod files;
mod state;
mod terminal;

use crate::flags::WatchFlags;
use crate::table;
use crate::term::{Verbosity, outln, verbosity};
use anyhow::{Context as _, Result, bail};
use checks::build::{BuildOptions, build};
use draw::Screen;
use files::{Pace, Source};
use state::{Busy, How, LastCheck, Note, State, Warning};
use std::collections::{BTreeSet, VecDeque};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Editors save in several steps (write a temp file, rename, chmod): wait
/// this long after an event for the rest before building.
const SETTLE: Duration = Duration::from_millis(50);

/// What wakes the loop.
enum Event {
    /// Sources of these exercises (catalogue indices) may have changed.
    Changed(BTreeSet<usize>, Source),
    /// A key: pressed on the terminal, or a line's first letter.
    Key(char),
    /// The file-event watcher failed (shown once; the poll goes on).
    WatchError(String),
}

pub fn run(root: &Path, flags: &WatchFlags) -> Result<ExitCode> {
    let crates = root.join("crates");
    let crates = crates.canonicalize().unwrap_or(crates);
    if !crates.is_dir() {
        bail!(
            "{} is not a folder: is this an ipc-lab repository?",
            crates.display()
        );
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let (tx, rx) = mpsc::channel();

    let detectors = files::start(&crates, flags.poll, &tx);
    let _raw = if interactive {
        Some(terminal::RawMode::enable().context("cannot read single keys from the terminal")?)
    } else {
        None
    };
    terminal::read_keys(interactive, tx.clone());
    drop(tx);

    let mut w = Watch::new(root, crates, interactive, detectors.how.clone());
    // Only beside file events is the poll a slow safety net worth speeding up.
    w.safety_net = detectors.watcher.as_ref().map(|_| detectors.pace.clone());
    if !interactive && verbosity() != Verbosity::Quiet {
        outln!(
            "watch: {}. Keys, one per line: h hint, l list, n next, r re-run, q quit. Ctrl-C stops.",
            draw::how(&w.state.how)
        );
    }
    // Nobody is reading (`watch | head -1` after its line): nothing to do.
    if crate::term::stdout_gone() {
        return Ok(ExitCode::SUCCESS);
    }
    let start = w.state.first_not_passing();
    w.settle_from(start);
    w.event_loop(&rx);
    drop(detectors);
    w.goodbye();
    Ok(ExitCode::SUCCESS)
}

/// The loop: the state, where it is shown, and what is waiting.
struct Watch {
    root: PathBuf,
    crates: PathBuf,
    state: State,
    screen: Screen,
    /// Keys that arrived while a save was being gathered, in order.
    pending: VecDeque<Event>,
    /// The slow poll beside file events, while they seem to arrive.
    safety_net: Option<Pace>,
}

impl Watch {
    fn new(root: &Path, crates: PathBuf, interactive: bool, how: How) -> Watch {
        let progress = crate::progress::load(root);
        let passed = checks::catalogue()
            .iter()
            .map(|e| progress.get(e.name).is_some_and(|p| p.passed))
            .collect();
        Watch {
            root: root.to_path_buf(),
            state: State::new(passed, files::stamps(&crates), how),
            crates,
            screen: Screen::new(interactive),
            pending: VecDeque::new(),
            safety_net: None,
        }
    }

    fn interactive(&self) -> bool {
        self.screen.interactive
    }

    /// Redraws the screen (interactive only).
    fn redraw(&mut self) {
        if !self.interactive() {
            return;
        }
        let rows = self
            .state
            .show_list
            .then(|| table::rows(&crate::progress::load(&self.root)));
        self.screen.draw(&self.state, rows.as_deref());
    }

    /// Checks exercise `start`, and while the current one passes, moves on
    /// to the next not passing and checks that; stops at the first failure
    /// or when everything passes.
    fn settle_from(&mut self, start: Option<usize>) {
        let mut next = start;
        while let Some(i) = next {
            self.state.make_current(i);
            if !self.check(i) {
                self.show();
                return;
            }
            self.state.note = Some(Note::PassesNow(i));
            next = self.state.next_not_passing(i);
            if let Some(n) = next.filter(|_| !self.interactive()) {
                self.screen.print_moving_on(n);
            }
        }
        self.state.all_done();
        self.show();
    }

    /// Builds exercise `i` and runs its public checks; records the result.
    fn check(&mut self, i: usize) -> bool {
        let e = &checks::catalogue()[i];
        self.state.seen[i] = files::stamp(&self.crates, e);
        self.state.show_list = false;
        self.state.busy = Some(Busy::Building(i));
        self.redraw();
        let start = Instant::now();
        let options = BuildOptions {
            // Cargo's own lines would scribble over the screen; in plain
            // mode --verbose lets them through.
            show_progress: !self.interactive() && verbosity() == Verbosity::Verbose,
            target_dir: None,
        };
        let built = match build(&self.root, &[e.name], &options) {
            Ok(b) => b,
            Err(err) => {
                self.record(i, false, LastCheck::CargoFailed(err.to_string()));
                return false;
            }
        };
        let build_time = start.elapsed();
        self.state.busy = Some(Busy::Checking(i));
        self.redraw();
        let item = [(e, built.binary(e.name).map(Path::to_path_buf))];
        let mut results = checks::run_exercises(&item, false, checks::default_jobs(), &|_, _| {});
        // As `check` does: a failure the tracer can explain says why.
        crate::trace::advise_failures(&self.root, &mut results);
        crate::progress::record(&self.root, &results);
        let result = results
            .into_iter()
            .next()
            .expect("one exercise in, one result out");
        let passed = result.passed();
        self.state.warning = None;
        let last = LastCheck::Ran {
            result,
            build: build_time,
            checks: start.elapsed() - build_time,
        };
        self.record(i, passed, last);
        passed
    }

    /// Keeps the last check of `i`; plain mode prints it.
    fn record(&mut self, i: usize, passed: bool, last: LastCheck) {
        self.state.busy = None;
        self.state.passed[i] = passed;
        self.state.last = Some((i, last));
        if !self.interactive() {
            self.screen.print_verdict(&self.state);
        }
    }

    fn event_loop(&mut self, rx: &Receiver<Event>) {
        // A watch whose stdout is gone has no one left to tell.
        while !crate::term::stdout_gone() {
            let next = match self.pending.pop_front() {
                Some(e) => Ok(e),
                None => rx.recv_timeout(Duration::from_millis(250)),
            };
            let event = match next {
                Ok(e) => e,
                Err(RecvTimeoutError::Timeout) => {
                    if self.interactive() && self.screen.resized() {
                        self.redraw();
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            match event {
                Event::Changed(first, source) => {
                    let changed = self.gather_changes(first, source, rx);
                    self.on_change(&changed);
                }
                Event::WatchError(e) => {
                    self.state.warning = Some(Warning::EventsFailed(e));
                    self.show();
                }
                Event::Key(key) => {
                    if !self.on_key(key) {
                        return;
                    }
                }
            }
        }
    }

    /// Waits for the rest of an editor's save, and keeps the exercises
    /// whose sources really differ from what was last checked.
    fn gather_changes(
        &mut self,
        mut changed: BTreeSet<usize>,
        source: Source,
        rx: &Receiver<Event>,
    ) -> Vec<usize> {
        let mut by_events = source == Source::FileEvents;
        let deadline = Instant::now() + SETTLE;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(Event::Changed(more, source)) => {
                    changed.extend(more);
                    by_events |= source == Source::FileEvents;
                }
                // Keys and errors wait their turn, after this save.
                Ok(other) => self.pending.push_back(other),
                Err(_) => break,
            }
        }
        let all = checks::catalogue();
        let real: Vec<usize> = changed
            .into_iter()
            .filter(|&i| files::stamp(&self.crates, &all[i]) != self.state.seen[i])
            .collect();
        if files::events_missed(!real.is_empty(), by_events) {
            self.poll_faster();
        }
        real
    }

    /// File events missed a save: the safety net becomes the detector, at
    /// `--poll`'s pace.
    fn poll_faster(&mut self) {
        let Some(pace) = self.safety_net.take() else {
            return;
        };
        files::poll_faster(&pace);
        self.state.how = How::EventsMissed;
        // Said now: the check that follows clears warnings.
        if self.interactive() {
            self.state.warning = Some(Warning::EventsMissed);
            self.redraw();
        } else {
            self.screen.print_warning(&Warning::EventsMissed);
        }
    }

    fn on_change(&mut self, changed: &[usize]) {
        if changed.is_empty() {
            return;
        }
        // The current exercise first if it changed, else the first changed:
        // a save in another exercise means the student works on that one.
        let target = self
            .state
            .current
            .filter(|c| changed.contains(c))
            .unwrap_or(changed[0]);
        self.state.note = None;
        for &i in changed.iter().filter(|&&i| i != target) {
            let passed = self.check(i);
            self.state.note = Some(if passed {
                Note::Passes(i)
            } else {
                Note::FailsToo(i)
            });
        }
        self.settle_from(Some(target));
    }

    /// Handles a key; `false` means quit.
    fn on_key(&mut self, key: char) -> bool {
        match key.to_ascii_lowercase() {
            'q' => return false,
            'h' => {
                self.state.show_hint = !self.state.show_hint || !self.interactive();
                self.state.show_list = false;
                if self.interactive() {
                    self.redraw();
                } else {
                    self.screen.print_hint(&self.state);
                }
            }
            'l' => {
                self.state.show_list = !self.state.show_list || !self.interactive();
                if self.interactive() {
                    self.redraw();
                } else {
                    let rows = table::rows(&crate::progress::load(&self.root));
                    self.screen.print_list(&self.state, &rows);
                }
            }
            'n' => self.next(),
            'r' => {
                self.state.note = None;
                match self.state.current {
                    Some(c) => self.settle_from(Some(c)),
                    // Everything passed: check them all again, in order.
                    None => self.recheck_all(),
                }
            }
            _ => {
                // Any other key leaves the list (and redraws a screen a
                // stray key may have disturbed).
                self.state.show_list = false;
                self.redraw();
            }
        }
        true
    }

    /// `n`: on to the next exercise not passing, if there is one.
    fn next(&mut self) {
        self.state.note = None;
        match self.state.current.and_then(|c| self.state.next_not_passing(c)) {
            Some(next) => self.settle_from(Some(next)),
            None if self.interactive() => {
                self.state.note = Some(Note::LastOne);
                self.redraw();
            }
            None => self.screen.print_note(Note::LastOne),
        }
    }

    fn recheck_all(&mut self) {
        for i in 0..self.state.passed.len() {
            self.state.current = Some(i);
            if !self.check(i) {
                self.show();
                return;
            }
        }
        self.state.all_done();
        self.show();
    }

    /// Shows the state: redraws the screen, or prints what plain mode has
    /// not printed yet (the end of the road, or a warning).
    fn show(&mut self) {
        if self.interactive() {
            self.redraw();
            return;
        }
        if let Some(w) = self.state.warning.take() {
            self.screen.print_warning(&w);
        }
        if self.state.current.is_none() {
            self.screen.print_all_done(&self.state);
        }
    }

    fn goodbye(&self) {
        let done = self.state.done();
        let total = self.state.passed.len();
        if self.interactive() {
            // Leave the last screen in place, and the prompt below it.
            outln!();
        }
        if verbosity() != Verbosity::Quiet {
            outln!("watch: stopped; {done}/{total} exercises pass.");
        }
    }
}
