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

use crate::flags::WatchFlags;
use crate::term::{Paint, Verbosity, out, outln, verbosity};
use anyhow::{Context as _, Result, bail};
use checks::build::{BuildOptions, build};
use checks::{Exercise, ExerciseResult};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How often `--poll` looks at the sources.
const POLL: Duration = Duration::from_millis(300);
/// How often the safety-net poll looks, beside file events.
const SAFETY_POLL: Duration = Duration::from_secs(1);
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

/// Who noticed a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    FileEvents,
    Poll,
}

/// The poller's pace in milliseconds, shared with the loop, which speeds it
/// up when file events turn out not to arrive.
type Pace = Arc<AtomicU64>;

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

    let (watcher, how, pace) = start_detectors(&crates, flags.poll, &tx);
    let _raw = if interactive {
        Some(crate::tty::RawMode::enable().context("cannot read single keys from the terminal")?)
    } else {
        None
    };
    read_keys(interactive, tx.clone());
    drop(tx);

    let mut w = Watch::new(root.to_path_buf(), crates, interactive, how);
    // Only beside file events is the poll a slow safety net worth speeding up.
    w.safety_net = watcher.as_ref().map(|_| pace);
    if !interactive && verbosity() != Verbosity::Quiet {
        outln!(
            "watch: {}. Keys, one per line: h hint, l list, n next, r re-run, q quit. Ctrl-C stops.",
            w.how
        );
    }
    let start = w.first_not_passing();
    w.settle_from(start);
    w.event_loop(&rx);
    drop(watcher);
    w.goodbye();
    Ok(ExitCode::SUCCESS)
}

/// Starts file events (unless `poll_only`) and the poller; returns the
/// watcher, which must stay alive, how changes are noticed, in words, and
/// the poller's pace.
fn start_detectors(
    crates: &Path,
    poll_only: bool,
    tx: &Sender<Event>,
) -> (Option<notify::RecommendedWatcher>, String, Pace) {
    let mut how = format!(
        "watching crates/ for changes (polling every {:.1} s, --poll)",
        POLL.as_secs_f64()
    );
    let watcher = if poll_only {
        None
    } else {
        match start_notify(crates, tx.clone()) {
            Ok(w) => {
                how = "watching crates/ for changes".to_string();
                Some(w)
            }
            Err(e) => {
                how = format!(
                    "file events unavailable ({e}); polling crates/ every {:.1} s",
                    POLL.as_secs_f64()
                );
                None
            }
        }
    };
    let interval = if watcher.is_some() { SAFETY_POLL } else { POLL };
    let pace: Pace = Arc::new(AtomicU64::new(millis(interval)));
    let crates = crates.to_path_buf();
    let tx = tx.clone();
    let shared = Arc::clone(&pace);
    std::thread::spawn(move || poll(&crates, &shared, &tx));
    (watcher, how, pace)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn start_notify(crates: &Path, tx: Sender<Event>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let base = crates.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let event = match res {
            Ok(e) if e.kind.is_access() => return,
            Ok(e) => {
                let changed: BTreeSet<usize> = e.paths.iter().filter_map(|p| exercise_of(&base, p)).collect();
                if changed.is_empty() {
                    return;
                }
                Event::Changed(changed, Source::FileEvents)
            }
            Err(e) => Event::WatchError(e.to_string()),
        };
        let _ = tx.send(event);
    })?;
    watcher.watch(crates, notify::RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// Whether a save shows that file events do not arrive: sources really
/// changed, and only the poll noticed. (An event a little later than the
/// poll, past the settle time, would read as missing too; the cost is only
/// a faster poll.)
fn events_missed(sources_changed: bool, by_events: bool) -> bool {
    sources_changed && !by_events
}

/// The exercise (catalogue index) whose folder holds `path`.
fn exercise_of(crates: &Path, path: &Path) -> Option<usize> {
    let dir = path.strip_prefix(crates).ok()?.components().next()?;
    let dir = dir.as_os_str().to_str()?;
    checks::catalogue().iter().position(|e| e.dir == dir)
}

/// Polls every exercise's sources at `pace`; says which changed. Ends when
/// the loop has gone (the channel is closed).
fn poll(crates: &Path, pace: &AtomicU64, tx: &Sender<Event>) {
    let mut last: Vec<u64> = checks::catalogue().iter().map(|e| stamp(crates, e)).collect();
    loop {
        std::thread::sleep(Duration::from_millis(pace.load(Ordering::Relaxed)));
        let now: Vec<u64> = checks::catalogue().iter().map(|e| stamp(crates, e)).collect();
        let changed: BTreeSet<usize> = (0..now.len()).filter(|&i| now[i] != last[i]).collect();
        last = now;
        if !changed.is_empty() && tx.send(Event::Changed(changed, Source::Poll)).is_err() {
            return;
        }
    }
}

/// A hash of an exercise's sources: its manifest and every `.rs` file under
/// `src/`, names and contents. Contents, not times: some file systems keep
/// times to the second or two, and a save without a change is no change.
fn stamp(crates: &Path, e: &Exercise) -> u64 {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|x| x == "rs") {
                files.push(path);
            }
        }
    }
    let dir = crates.join(e.dir);
    let mut files = vec![dir.join("Cargo.toml")];
    walk(&dir.join("src"), &mut files);
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &files {
        f.hash(&mut h);
        std::fs::read(f).ok().hash(&mut h);
    }
    h.finish()
}

/// Reads keys on a thread: single bytes from a terminal in raw mode, or
/// the first letter of each line otherwise. End of input ends the thread,
/// not the watch (`watch < /dev/null` keeps watching).
fn read_keys(interactive: bool, tx: Sender<Event>) {
    std::thread::spawn(move || {
        if interactive {
            let mut byte = [0u8; 1];
            let mut stdin = std::io::stdin().lock();
            while let Ok(1) = stdin.read(&mut byte) {
                // Ctrl-D (EOT) quits too: it is what a terminal user tries.
                let key = if byte[0] == 4 { 'q' } else { char::from(byte[0]) };
                if tx.send(Event::Key(key)).is_err() {
                    return;
                }
            }
        } else {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { return };
                let Some(key) = line.trim().chars().next() else {
                    continue;
                };
                if tx.send(Event::Key(key)).is_err() {
                    return;
                }
            }
        }
    });
}

/// The last verdict on the current exercise.
enum Verdict {
    Checked {
        result: ExerciseResult,
        build: Duration,
        checks: Duration,
    },
    /// Cargo itself could not run.
    Failed(String),
}

/// A piece of a line with one style.
type Span = (Style, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Dim,
    Bold,
    Red,
    Green,
    Yellow,
}

fn span(style: Style, text: impl Into<String>) -> Span {
    (style, text.into())
}

fn paint(p: Paint, (style, text): &Span) -> String {
    match style {
        Style::Plain => text.clone(),
        Style::Dim => p.dim(text),
        Style::Bold => p.bold(text),
        Style::Red => p.red(text),
        Style::Green => p.green(text),
        Style::Yellow => p.yellow(text),
    }
}

struct Watch {
    root: PathBuf,
    crates: PathBuf,
    /// The full-screen face; else plain lines.
    interactive: bool,
    paint: Paint,
    /// How changes are noticed, in words.
    how: String,
    /// The exercise being worked on; `None` once everything passes.
    current: Option<usize>,
    verdict: Option<Verdict>,
    /// One line about what just happened ("✓ 02 childpipe passes").
    note: Option<Span>,
    /// A problem with watching itself, shown until the next verdict.
    warning: Option<String>,
    show_hint: bool,
    show_list: bool,
    /// What is being done right now, for the status line.
    busy: Option<String>,
    /// Each exercise passed at its last check.
    passed: Vec<bool>,
    /// Each exercise's sources as last checked (or as found at start).
    seen: Vec<u64>,
    /// The terminal size at the last draw, to redraw after a resize.
    drawn_size: Option<(usize, usize)>,
    /// Keys that arrived while a save was being gathered, in order.
    pending: std::collections::VecDeque<Event>,
    /// The slow poll beside file events, while they seem to arrive.
    safety_net: Option<Pace>,
}

impl Watch {
    fn new(root: PathBuf, crates: PathBuf, interactive: bool, how: String) -> Watch {
        let progress = crate::progress::load(&root);
        let all = checks::catalogue();
        Watch {
            passed: all
                .iter()
                .map(|e| progress.get(e.name).is_some_and(|p| p.passed))
                .collect(),
            seen: all.iter().map(|e| stamp(&crates, e)).collect(),
            root,
            crates,
            interactive,
            paint: Paint::stdout(),
            how,
            current: None,
            verdict: None,
            note: None,
            warning: None,
            show_hint: false,
            show_list: false,
            busy: None,
            drawn_size: None,
            pending: std::collections::VecDeque::new(),
            safety_net: None,
        }
    }

    fn first_not_passing(&self) -> Option<usize> {
        self.passed.iter().position(|p| !p)
    }

    /// The next exercise not passing after `i`, wrapping around, other
    /// than `i` itself.
    fn next_not_passing(&self, i: usize) -> Option<usize> {
        let n = self.passed.len();
        (1..n).map(|k| (i + k) % n).find(|&j| !self.passed[j])
    }

    /// Checks exercise `start`, and while the current one passes, moves on
    /// to the next not passing and checks that; stops at the first failure
    /// or when everything passes.
    fn settle_from(&mut self, start: Option<usize>) {
        let mut next = start;
        while let Some(i) = next {
            if self.current != Some(i) {
                // A hint asked for belongs to the exercise it was asked on.
                self.show_hint = false;
            }
            self.current = Some(i);
            let passed = self.check(i);
            if !passed {
                self.show();
                return;
            }
            let e = &checks::catalogue()[i];
            self.note = Some(span(Style::Green, format!("✓ {} passes now.", e.label())));
            next = self.next_not_passing(i);
            if let Some(n) = next.filter(|_| !self.interactive) {
                let e = &checks::catalogue()[n];
                self.print_lines(&[vec![span(
                    Style::Dim,
                    format!("on to {} — {}", e.label(), e.title),
                )]]);
            }
        }
        self.current = None;
        self.verdict = None;
        self.show();
    }

    /// Builds exercise `i` and runs its public checks; records the result.
    fn check(&mut self, i: usize) -> bool {
        let e = &checks::catalogue()[i];
        self.seen[i] = stamp(&self.crates, e);
        self.show_list = false;
        self.busy = Some(format!("building {}…", e.label()));
        if self.interactive {
            self.draw();
        }
        let start = Instant::now();
        let options = BuildOptions {
            // Cargo's own lines would scribble over the screen; in plain
            // mode --verbose lets them through.
            show_progress: !self.interactive && verbosity() == Verbosity::Verbose,
            target_dir: None,
        };
        let built = match build(&self.root, &[e.name], &options) {
            Ok(b) => b,
            Err(err) => {
                self.busy = None;
                self.verdict = Some(Verdict::Failed(err.to_string()));
                self.passed[i] = false;
                if !self.interactive {
                    self.print_verdict();
                }
                return false;
            }
        };
        let build_time = start.elapsed();
        self.busy = Some(format!("checking {}…", e.label()));
        if self.interactive {
            self.draw();
        }
        let item = [(e, built.binary(e.name).map(Path::to_path_buf))];
        let results = checks::run_exercises(&item, false, checks::default_jobs(), &|_, _| {});
        crate::progress::record(&self.root, &results);
        let result = results
            .into_iter()
            .next()
            .expect("one exercise in, one result out");
        let passed = result.passed();
        self.passed[i] = passed;
        self.busy = None;
        self.warning = None;
        self.verdict = Some(Verdict::Checked {
            result,
            build: build_time,
            checks: start.elapsed() - build_time,
        });
        if !self.interactive {
            self.print_verdict();
        }
        passed
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
                    if self.interactive && crate::tty::size() != self.drawn_size {
                        self.draw();
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
                    self.warning = Some(format!("file events failed ({e}); the poll still notices saves"));
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
            .filter(|&i| stamp(&self.crates, &all[i]) != self.seen[i])
            .collect();
        if events_missed(!real.is_empty(), by_events) {
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
        pace.store(millis(POLL), Ordering::Relaxed);
        self.how = format!(
            "file events do not arrive here; polling crates/ every {:.1} s",
            POLL.as_secs_f64()
        );
        let w = format!(
            "no file event came for that save (a folder shared from macOS or Windows?): polling every {:.1} s from now on",
            POLL.as_secs_f64()
        );
        // Said now: the check that follows clears warnings.
        if self.interactive {
            self.warning = Some(w);
            self.draw();
        } else {
            outln!("{}", self.paint.yellow(&format!("watch: {w}")));
        }
    }

    fn on_change(&mut self, changed: &[usize]) {
        if changed.is_empty() {
            return;
        }
        // The current exercise first if it changed, else the first changed:
        // a save in another exercise means the student works on that one.
        let target = self.current.filter(|c| changed.contains(c)).unwrap_or(changed[0]);
        self.note = None;
        for &i in changed.iter().filter(|&&i| i != target) {
            let passed = self.check(i);
            let e = &checks::catalogue()[i];
            self.note = Some(if passed {
                span(Style::Green, format!("✓ {} passes.", e.label()))
            } else {
                span(Style::Red, format!("✗ {} fails (it changed too).", e.label()))
            });
        }
        self.settle_from(Some(target));
    }

    /// Handles a key; `false` means quit.
    fn on_key(&mut self, key: char) -> bool {
        match key.to_ascii_lowercase() {
            'q' => return false,
            'h' => {
                self.show_hint = !self.show_hint || !self.interactive;
                self.show_list = false;
                if self.interactive {
                    self.draw();
                } else {
                    self.print_hint();
                }
            }
            'l' => {
                self.show_list = !self.show_list || !self.interactive;
                if self.interactive {
                    self.draw();
                } else {
                    self.print_lines(&self.list_lines(usize::MAX));
                }
            }
            'n' => {
                self.note = None;
                match self.current.and_then(|c| self.next_not_passing(c)) {
                    Some(next) => self.settle_from(Some(next)),
                    None => {
                        let note = span(Style::Dim, "No other exercise is waiting: this is the last one.");
                        if self.interactive {
                            self.note = Some(note);
                            self.draw();
                        } else {
                            self.print_lines(&[vec![note]]);
                        }
                    }
                }
            }
            'r' => {
                self.note = None;
                match self.current {
                    Some(c) => self.settle_from(Some(c)),
                    // Everything passed: check them all again, in order.
                    None => self.recheck_all(),
                }
            }
            _ => {
                // Any other key leaves the list (and redraws a screen a
                // stray key may have disturbed).
                self.show_list = false;
                if self.interactive {
                    self.draw();
                }
            }
        }
        true
    }

    fn recheck_all(&mut self) {
        for i in 0..self.passed.len() {
            self.current = Some(i);
            if !self.check(i) {
                self.show();
                return;
            }
        }
        self.current = None;
        self.verdict = None;
        self.show();
    }

    /// Shows the state: redraws the screen, or prints what plain mode has
    /// not printed yet (the end of the road, or a warning).
    fn show(&mut self) {
        if self.interactive {
            self.draw();
            return;
        }
        if let Some(w) = self.warning.take() {
            outln!("{}", self.paint.yellow(&format!("watch: {w}")));
        }
        if self.current.is_none() {
            self.print_lines(&self.all_done_lines());
            self.print_progress();
        }
    }

    fn goodbye(&self) {
        let done = self.passed.iter().filter(|p| **p).count();
        let total = self.passed.len();
        if self.interactive {
            // Leave the last screen in place, and the prompt below it.
            outln!();
        }
        if verbosity() != Verbosity::Quiet {
            outln!("watch: stopped; {done}/{total} exercises pass.");
        }
    }

    // ---- what is shown -------------------------------------------------

    /// The verdict on the current exercise, as lines of spans.
    fn verdict_lines(&self) -> Vec<Vec<Span>> {
        let mut lines: Vec<Vec<Span>> = Vec::new();
        let Some(i) = self.current else {
            return self.all_done_lines();
        };
        let e = &checks::catalogue()[i];
        match &self.verdict {
            None => {}
            Some(Verdict::Failed(err)) => {
                lines.push(vec![span(
                    Style::Red,
                    format!("✗ {}: could not build: {err}", e.label()),
                )]);
            }
            Some(Verdict::Checked {
                result,
                build,
                checks,
            }) => {
                let total = result.checks.len();
                let failed = result.checks.iter().filter(|c| !c.passed()).count();
                let compile_error = result
                    .checks
                    .first()
                    .is_some_and(|c| c.failure == Some(checks::Failure::DidNotCompile));
                let times = format!(
                    "  (build {:.2} s, checks {:.2} s)",
                    build.as_secs_f64(),
                    checks.as_secs_f64()
                );
                if failed == 0 {
                    lines.push(vec![
                        span(Style::Green, format!("✓ {}: all {total} checks pass", e.label())),
                        span(Style::Dim, times),
                    ]);
                } else {
                    lines.push(vec![
                        span(
                            Style::Red,
                            if compile_error {
                                format!("✗ {}: it does not compile", e.label())
                            } else {
                                format!("✗ {}: {failed} of {total} checks fail", e.label())
                            },
                        ),
                        span(Style::Dim, times),
                    ]);
                }
                // On the screen, one failure at a time: the first in full,
                // the others by name (they often fail for the same reason,
                // and a screen is short). Plain mode and --verbose: all.
                let all_in_full = !self.interactive || verbosity() == Verbosity::Verbose;
                let mut shown = 0;
                for c in &result.checks {
                    if c.passed() {
                        if verbosity() == Verbosity::Verbose {
                            lines.push(vec![span(Style::Green, "✓ "), span(Style::Plain, c.name)]);
                        }
                        continue;
                    }
                    shown += 1;
                    if shown > 1 && !all_in_full {
                        if shown == 2 {
                            lines.push(vec![]);
                        }
                        lines.push(vec![
                            span(Style::Red, "✗ "),
                            span(Style::Plain, c.name),
                            span(Style::Dim, " (fails too)"),
                        ]);
                        continue;
                    }
                    lines.push(vec![]);
                    lines.push(vec![span(Style::Red, "✗ "), span(Style::Bold, c.name)]);
                    lines.push(vec![span(Style::Dim, format!("  $ {}", c.command))]);
                    for l in c.output.lines() {
                        lines.push(vec![span(Style::Plain, format!("  {l}"))]);
                    }
                }
            }
        }
        lines
    }

    fn all_done_lines(&self) -> Vec<Vec<Span>> {
        let total = self.passed.len();
        vec![
            vec![span(
                Style::Green,
                format!("✓ All {total} exercises pass their checks. Well done!"),
            )],
            vec![span(
                Style::Plain,
                "Graders also run hidden checks (other arguments, bigger messages): a program that is \
                 right in general passes them. Saving any exercise checks it again; r re-checks them all.",
            )],
        ]
    }

    fn hint_lines(&self) -> Vec<Vec<Span>> {
        let Some(i) = self.current else { return Vec::new() };
        let e = &checks::catalogue()[i];
        vec![vec![span(Style::Yellow, "hint: "), span(Style::Plain, e.hint)]]
    }

    /// The exercises and their status, in `cols` columns (titles are cut
    /// to fit).
    fn list_lines(&self, cols: usize) -> Vec<Vec<Span>> {
        let progress = crate::progress::load(&self.root);
        let longest = checks::catalogue()
            .iter()
            .map(|e| e.title.chars().count())
            .max()
            .unwrap_or(5);
        // mark 2, label 20, status 11, points 7, spaces 3
        let tw = longest.min(cols.saturating_sub(43)).max(5);
        let title = |t: &str| -> String {
            if t.chars().count() <= tw {
                t.to_string()
            } else {
                let cut: String = t.chars().take(tw - 1).collect();
                format!("{cut}…")
            }
        };
        let mut lines = vec![vec![span(
            Style::Bold,
            format!(
                "  {:<20} {:<tw$} {:<11} {:>6}",
                "exercise", "title", "status", "points"
            ),
        )]];
        for (i, e) in checks::catalogue().iter().enumerate() {
            let mark = if self.current == Some(i) { "▸ " } else { "  " };
            let (status, points) = match progress.get(e.name) {
                Some(p) if p.passed => (
                    span(Style::Green, "✓ passed"),
                    format!("{}/{}", p.score, p.max_score),
                ),
                Some(p) => (
                    span(Style::Red, "✗ failing"),
                    format!("{}/{}", p.score, p.max_score),
                ),
                None => (
                    span(Style::Dim, "· unchecked"),
                    format!("-/{}", e.max_points(false)),
                ),
            };
            let width = 11usize.saturating_sub(status.1.chars().count());
            lines.push(vec![
                span(Style::Bold, mark),
                span(
                    Style::Plain,
                    format!("{:<20} {:<tw$} ", e.label(), title(e.title)),
                ),
                status,
                span(Style::Plain, format!("{} {points:>6}", " ".repeat(width))),
            ]);
        }
        lines
    }

    fn progress_spans(&self, width: usize) -> Vec<Span> {
        let done = self.passed.iter().filter(|p| **p).count();
        let total = self.passed.len().max(1);
        let cells = width.clamp(10, 40);
        let full = done * cells / total;
        vec![
            span(Style::Plain, "progress "),
            span(Style::Green, "█".repeat(full)),
            span(Style::Dim, "░".repeat(cells - full)),
            span(Style::Bold, format!(" {done}/{total}")),
        ]
    }

    // ---- plain mode ------------------------------------------------------

    fn print_lines(&self, lines: &[Vec<Span>]) {
        let mut text = String::new();
        for l in lines {
            text.extend(l.iter().map(|s| paint(self.paint, s)));
            text.push('\n');
        }
        out!("{text}");
    }

    fn print_verdict(&self) {
        let mut lines = vec![vec![]];
        lines.extend(self.verdict_lines());
        let failed = matches!(&self.verdict, Some(Verdict::Checked { result, .. }) if !result.passed());
        if failed {
            lines.push(vec![]);
            lines.extend(self.hint_lines());
        }
        self.print_lines(&lines);
        self.print_progress();
    }

    fn print_hint(&self) {
        match self.current {
            Some(_) => self.print_lines(&self.hint_lines()),
            None => self.print_lines(&[vec![span(Style::Plain, "Everything passes: no hint needed.")]]),
        }
    }

    fn print_progress(&self) {
        if verbosity() != Verbosity::Quiet {
            self.print_lines(&[self.progress_spans(self.passed.len() * 2)]);
        }
    }

    // ---- the screen ------------------------------------------------------

    fn draw(&mut self) {
        let size = crate::tty::size();
        self.drawn_size = size;
        let (cols, rows) = size.unwrap_or((80, 24));
        let width = cols.max(20) - 1;
        let all = checks::catalogue();

        let mut top: Vec<Vec<Span>> = Vec::new();
        match self.current {
            Some(i) => {
                let e = &all[i];
                top.push(vec![
                    span(Style::Bold, format!("{} — {}", e.label(), e.title)),
                    span(Style::Dim, format!("   crates/{}/src/main.rs", e.dir)),
                ]);
            }
            None => top.push(vec![span(Style::Bold, "ipc-lab: every exercise done")]),
        }
        top.push(vec![]);
        if let Some(note) = &self.note {
            top.push(vec![note.clone()]);
        }
        if let Some(w) = &self.warning {
            top.push(vec![span(Style::Yellow, format!("watch: {w}"))]);
        }

        let mut body = if self.show_list {
            self.list_lines(width)
        } else {
            let mut b = self.verdict_lines();
            if self.show_hint {
                b.push(vec![]);
                b.extend(self.hint_lines());
            }
            b
        };
        if self.show_list {
            body.push(vec![]);
            body.push(vec![span(Style::Dim, "(l again, or any key, to go back)")]);
        }

        let status = match (&self.busy, &self.verdict) {
            (Some(b), _) => vec![span(Style::Yellow, format!("⟳ {b}"))],
            _ => vec![span(Style::Dim, self.how.clone())],
        };
        let keys = vec![
            span(Style::Bold, "h"),
            span(
                Style::Plain,
                if self.show_hint {
                    " hide hint · "
                } else {
                    " hint · "
                },
            ),
            span(Style::Bold, "l"),
            span(Style::Plain, " list · "),
            span(Style::Bold, "n"),
            span(Style::Plain, " next · "),
            span(Style::Bold, "r"),
            span(Style::Plain, " re-run · "),
            span(Style::Bold, "q"),
            span(Style::Plain, " quit"),
        ];
        let bottom = vec![
            vec![],
            self.progress_spans(width.saturating_sub(16)),
            status,
            keys,
        ];

        let top = wrap_all(&top, width);
        let mut body = wrap_all(&body, width);
        let bottom = wrap_all(&bottom, width);
        let room = rows.saturating_sub(top.len() + bottom.len());
        if body.len() > room {
            let hidden = body.len() + 1 - room;
            body.truncate(room.saturating_sub(1));
            let number = self
                .current
                .map_or(String::new(), |i| format!(" {}", all[i].number));
            body.push(vec![span(
                Style::Dim,
                format!("… {hidden} more lines: `cargo xtask check{number}` prints them all"),
            )]);
        }
        let filler = room.saturating_sub(body.len());

        let mut screen = String::from("\x1b[?25l\x1b[H");
        let empty = Vec::new();
        let lines = top
            .iter()
            .chain(body.iter())
            .chain(std::iter::repeat_n(&empty, filler))
            .chain(bottom.iter());
        let mut first = true;
        for l in lines {
            if !first {
                screen.push('\n');
            }
            first = false;
            for s in l {
                screen.push_str(&paint(self.paint, s));
            }
            screen.push_str("\x1b[K");
        }
        screen.push_str("\x1b[J");
        out!("{screen}");
    }
}

/// Wraps lines of spans to `width` columns (one column per char), at
/// spaces where it can, keeping each piece's style; continuation rows are
/// indented by two.
fn wrap_all(lines: &[Vec<Span>], width: usize) -> Vec<Vec<Span>> {
    let mut out = Vec::new();
    for line in lines {
        let chars: Vec<(Style, char)> = line
            .iter()
            .flat_map(|(st, t)| t.chars().map(|c| (*st, c)))
            .collect();
        let mut start = 0;
        let mut first = true;
        loop {
            let room = if first {
                width
            } else {
                width.saturating_sub(2).max(1)
            };
            let rest = &chars[start..];
            let (take, skip) = if rest.len() <= room {
                (rest.len(), 0)
            } else {
                // The last space that fits, unless it would leave the row
                // nearly empty; then cut the word.
                match rest[..=room].iter().rposition(|&(_, c)| c == ' ') {
                    Some(at) if at > room / 3 => (at, 1),
                    _ => (room, 0),
                }
            };
            let mut row: Vec<Span> = if first {
                Vec::new()
            } else {
                vec![span(Style::Plain, "  ")]
            };
            for &(st, c) in &rest[..take] {
                match row.last_mut() {
                    Some((last, text)) if *last == st => text.push(c),
                    _ => row.push((st, c.to_string())),
                }
            }
            out.push(row);
            start += take + skip;
            first = false;
            if start >= chars.len() {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_and_keep_their_styles() {
        let lines = vec![vec![span(Style::Red, "ab"), span(Style::Plain, "cdefg")], vec![]];
        let out = wrap_all(&lines, 4);
        let text = |out: &[Vec<Span>]| -> Vec<String> {
            out.iter()
                .map(|l| l.iter().map(|(_, t)| t.as_str()).collect())
                .collect()
        };
        assert_eq!(text(&out), ["abcd", "  ef", "  g", ""]);
        assert_eq!(out[0][0].0, Style::Red);
        assert_eq!(out[0][1].0, Style::Plain);
        let words = vec![vec![span(Style::Plain, "the write end is still open")]];
        assert_eq!(
            text(&wrap_all(&words, 12)),
            ["the write", "  end is", "  still open"]
        );
    }

    #[test]
    fn paths_map_to_their_exercise() {
        let crates = Path::new("/w/crates");
        let first = &checks::catalogue()[0];
        let inside = crates.join(first.dir).join("src/main.rs");
        assert_eq!(exercise_of(crates, &inside), Some(0));
        assert_eq!(exercise_of(crates, &crates.join("syscalls/src/lib.rs")), None);
        assert_eq!(exercise_of(crates, Path::new("/elsewhere/x.rs")), None);
    }
}
