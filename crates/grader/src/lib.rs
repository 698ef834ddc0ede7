//! The grader: submissions in, `DIR/NAME/results.json` and `DIR/grades.csv`
//! out. Course staff's alone: `cargo xtask grade` is its command line, and
//! the student release ships none of it.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let root = std::path::Path::new("/path/to/the/reference");
//! let subs = vec![grader::Submission::from_path(std::path::Path::new("alice.zip")).map_err(anyhow::Error::msg)?];
//! let options = grader::Options::new("grades".into());
//! let summary = grader::grade(root, &subs, &options, &grader::Quiet)?;
//! println!("{} graded", summary.graded.len());
//! # Ok(()) }
//! ```
//!
//! A submission is a student repository folder or a `.zip` / `.tar.gz` of
//! one. From it grading takes only the exercise sources (`submission.rs`),
//! compiles each exercise with the reference's flags, as a user of its own, in the
//! sandbox (`compile.rs`), and runs every check, hidden ones included, in
//! the sandbox. The results file is Gradescope's `results.json`.
//!
//! **Work queue.** Reading a submission, compiling one exercise (or a
//! group of them as one crate, `merge.rs`; an exercise whose group build
//! fails is then queued to compile alone) and running one check are tasks
//! on one queue. `--jobs N` (one per CPU by default)
//! runs up to N compiles, which use a CPU throughout, and 4N tasks in all:
//! checks mostly wait on their programs (a pipe, a child, a timeout). The
//! earliest submission's tasks go first, its longest checks first, so
//! submissions finish in order and the cores stay busy while one
//! submission's last checks run. A check's outcome does not depend on what
//! runs beside it: each run has its own process budget, and the checks ask
//! for no speed.
//!
//! **Resuming.** A submission with a `results.json` is skipped unless
//! `--force`. Results and the CSV are written atomically (a temporary file
//! renamed into place), so a grader killed at any moment leaves either the
//! whole file or none; the sandbox kills every process of a run when its
//! runner disappears.
//!
//! **Failures stay local.** A submission that cannot be read, an exercise
//! with a missing file or a compile error, a program that forks without
//! end or never finishes: each scores 0 where it happens, with the reason,
//! and grading goes on; [`Summary::errors`] lists the results files that
//! could not be written.

mod compile;
mod merge;
mod stale;
pub mod submission;
pub mod zip_writer;

pub use submission::Submission;

use anyhow::Context;
use checks::report::{Results, write_atomically};
use checks::{Check, CheckResult, Exercise, ExerciseResult, Failure};
pub use compile::cache_dir;
use compile::{Compiled, Toolchain, WorkDir};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use submission::{Files, Sources};

/// The text of a result that was never produced because time ran out.
pub const OUT_OF_TIME: &str = "not graded: time budget exceeded";
/// Time kept in hand when a budget is set: results must still be written.
const BUDGET_MARGIN: Duration = Duration::from_secs(3);

/// What the grader tells its caller while it works, for a progress line
/// and one line per submission. Called from several threads.
pub trait Observer: Sync {
    /// Getting the toolchain and dependencies ready: this `step`.
    fn preparing(&self, _step: &str) {}
    /// `done` of `total` submissions finished; `current` is being started;
    /// about `left` to go, once that can be told.
    fn progress(&self, _done: usize, _total: usize, _current: &str, _left: Option<Duration>) {}
    /// Submission `name` is graded: (score, max score), or why its results
    /// could not be written.
    fn graded(&self, _name: &str, _outcome: &Result<(f64, f64), String>) {}
}

/// An observer that says nothing.
pub struct Quiet;

impl Observer for Quiet {}

/// How to grade.
#[derive(Debug, Clone)]
pub struct Options {
    /// `DIR`: results go to `DIR/NAME/results.json` and `DIR/grades.csv`.
    pub out: PathBuf,
    /// Tasks at once.
    pub jobs: usize,
    /// Grade again what already has results.
    pub force: bool,
    /// Time for the whole run, preparation included.
    pub budget: Option<Duration>,
    /// The grading cache (see `compile.rs`).
    pub cache: PathBuf,
}

/// What a grading run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Submissions graded now, with (score, max score).
    pub graded: Vec<(String, f64, f64)>,
    /// Submissions skipped because they already had results.
    pub skipped: usize,
    /// Time to get the toolchain and dependencies ready.
    pub prepare: Duration,
    /// Time for everything.
    pub elapsed: Duration,
    /// Results that could not be written.
    pub errors: Vec<String>,
}

impl Options {
    /// Results into `out`, one task per CPU, nothing graded again, no
    /// budget, the machine's grading cache.
    pub fn new(out: PathBuf) -> Options {
        Options {
            out,
            jobs: checks::default_jobs(),
            force: false,
            budget: None,
            cache: cache_dir(),
        }
    }
}

/// Grades `subs` with the reference workspace at `root`.
///
/// `Err` only when grading cannot start (the output folder or the
/// toolchain); everything that goes wrong with a submission ends up in its
/// results.
pub fn grade(
    root: &Path,
    subs: &[Submission],
    options: &Options,
    observer: &dyn Observer,
) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let deadline = options.budget.map(|b| start + b.saturating_sub(BUDGET_MARGIN));
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;
    remove_stale_temporaries(&options.out);
    let mut summary = Summary::default();
    let todo: Vec<&Submission> = subs
        .iter()
        .filter(|s| options.force || !results_path(&options.out, &s.name).is_file())
        .collect();
    summary.skipped = subs.len() - todo.len();
    let catalogue = checks::catalogue();
    if !todo.is_empty() {
        let on_step = |step: &str| observer.preparing(step);
        let toolchain = Toolchain::prepare(root, &options.cache, catalogue, &on_step)?;
        summary.prepare = start.elapsed();
        let stubs = released_stubs(root, catalogue);
        // Before any is timed, optimised builds are the long ones.
        let compile_millis = catalogue
            .iter()
            .map(|e| if toolchain.optimized(e) { 1000 } else { 100 })
            .collect();
        let grader = Grader {
            catalogue,
            checks: catalogue.iter().map(|e| (e.checks)()).collect(),
            stubs,
            toolchain,
            options,
            deadline,
            subs: todo,
            observer,
            started: Instant::now(),
            millis: Mutex::new(catalogue.iter().map(|e| vec![0; (e.checks)().len()]).collect()),
            compile_millis: Mutex::new(compile_millis),
        };
        let (graded, errors) = grader.run();
        if timing() {
            eprintln!("{}", cpu_time());
        }
        summary.graded = graded;
        summary.errors = errors;
    }
    if let Err(e) = write_csv(&options.out, catalogue) {
        summary.errors.push(format!("{e:#}"));
    }
    summary.elapsed = start.elapsed();
    Ok(summary)
}

/// Locks `m`, also after a thread panicked holding it: what it guards is
/// plain data that stays usable, and grading goes on.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether course staff asked where the time goes (`IPC_LAB_GRADE_TIMING=1`).
fn timing() -> bool {
    std::env::var_os("IPC_LAB_GRADE_TIMING").is_some_and(|v| v == "1")
}

/// The CPU time spent so far by the grader itself (its threads) and by
/// what it waited for (the sandbox's supervisors, compilers, programs).
fn cpu_time() -> String {
    let seconds = |who| {
        // SAFETY: a zeroed rusage is valid storage; getrusage only writes it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is valid for writes.
        unsafe { libc::getrusage(who, &mut usage) };
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
        (t(usage.ru_utime), t(usage.ru_stime))
    };
    let (su, ss) = seconds(libc::RUSAGE_SELF);
    let (cu, cs) = seconds(libc::RUSAGE_CHILDREN);
    format!(
        "CPU time: the grader {:.1} s ({su:.1} user, {ss:.1} system); what it ran {:.1} s \
         ({cu:.1} user, {cs:.1} system)",
        su + ss,
        cu + cs
    )
}

/// `DIR/NAME/results.json`.
pub fn results_path(out: &Path, name: &str) -> PathBuf {
    out.join(name).join("results.json")
}

/// Temporary files of an earlier run that was killed between writing and
/// renaming, in `out` and its submissions' folders.
fn remove_stale_temporaries(out: &Path) {
    stale::sweep(out, stale::temporary_pid);
    for entry in std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        if entry.path().is_dir() {
            stale::sweep(&entry.path(), stale::temporary_pid);
        }
    }
}

/// Each exercise's released stub (its reference sources with the
/// solutions replaced by `todo!()`), to recognise an untouched exercise.
fn released_stubs(root: &Path, catalogue: &[Exercise]) -> Vec<Option<Files>> {
    catalogue.iter().map(|e| released_stub(root, e)).collect()
}

/// One exercise's released stub: its files, as the student release has them.
pub fn released_stub(root: &Path, e: &Exercise) -> Option<Files> {
    reference_sources(root, e)
        .ok()?
        .into_iter()
        .map(|(path, text)| Some((path, course::stub::stub_source(&text).ok()?.into_bytes())))
        .collect()
}

/// One exercise's reference sources: paths below its `src/`, sorted, with
/// their text.
pub fn reference_sources(root: &Path, e: &Exercise) -> std::io::Result<Vec<(String, String)>> {
    let src = root.join("crates").join(e.dir).join("src");
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&src).sort_by_file_name() {
        let entry = entry?;
        let is_rs = entry.path().extension().is_some_and(|x| x == "rs");
        if entry.file_type().is_file() && is_rs {
            let rel = entry.path().strip_prefix(&src).unwrap_or(entry.path());
            let rel = rel.to_string_lossy().into_owned();
            files.push((rel, std::fs::read_to_string(entry.path())?));
        }
    }
    files.sort();
    Ok(files)
}

/// One task of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    Read(usize),
    Compile(usize, usize),
    /// Compiling a submission's group of exercises as one crate (see
    /// [`Toolchain::compile_group`]); the group's index in its `State`.
    Group(usize, usize),
    Check(usize, usize, usize),
}

/// A task's place in the queue, smallest first: the earliest submission,
/// and within it reading, then compiles, then checks, each the longest
/// known first (so a long one does not start last and hold the submission up).
type Key = (usize, u8, Reverse<u64>, usize, usize);

impl Task {
    fn key(self, millis: u64) -> Key {
        match self {
            Task::Read(s) => (s, 0, Reverse(0), 0, 0),
            // A group first: it holds most of the submission's compiling.
            Task::Group(s, g) => (s, 1, Reverse(u64::MAX), g, 0),
            Task::Compile(s, e) => (s, 1, Reverse(millis), e, 0),
            Task::Check(s, e, c) => (s, 2, Reverse(millis), e, c),
        }
    }

    fn submission(self) -> usize {
        match self {
            Task::Read(s) | Task::Compile(s, _) | Task::Group(s, _) | Task::Check(s, ..) => s,
        }
    }
}

/// A submission's (score, max score), or why its results file could not be written.
type Outcome = Result<(f64, f64), String>;

/// One submission being graded.
#[derive(Default)]
struct State {
    started: Option<Instant>,
    work: Option<WorkDir>,
    sources: Option<Vec<Result<Files, String>>>,
    binaries: Vec<Option<PathBuf>>,
    /// The exercises of each `Task::Group`.
    groups: Vec<Vec<usize>>,
    results: Vec<Vec<Option<CheckResult>>>,
    /// Remarks for the results' text, sorted by exercise at the end.
    notes: Vec<(usize, String)>,
    left: usize,
}

/// The tasks waiting. Compiles use CPU throughout and get `jobs` slots;
/// reading and checks (which mostly wait on the programs) get the other
/// threads.
///
/// Reading and compiling run ahead of checking, first for the `lookahead`
/// submissions from the oldest unfinished one, and beyond those only to
/// keep an idle compile slot busy: a submission's checks can then start as
/// soon as a thread is free, and one that takes long (a program that hangs
/// until its timeout) overlaps with the checks of the submissions before
/// it instead of holding up the end of the run. The bound keeps results
/// coming roughly in order, so a run stopped half-way has finished most of
/// what it started first.
struct Queue {
    reads: BinaryHeap<Reverse<(Key, Task)>>,
    compiles: BinaryHeap<Reverse<(Key, Task)>>,
    checks: BinaryHeap<Reverse<(Key, Task)>>,
    /// Compiles running.
    compiling: usize,
    /// Tasks queued or running.
    outstanding: usize,
    /// Which submissions are complete; the oldest that is not.
    complete: Vec<bool>,
    oldest: usize,
    lookahead: usize,
    done: usize,
    current: String,
}

impl Queue {
    fn new(submissions: usize, lookahead: usize) -> Queue {
        Queue {
            reads: BinaryHeap::new(),
            compiles: BinaryHeap::new(),
            checks: BinaryHeap::new(),
            compiling: 0,
            outstanding: 0,
            complete: vec![false; submissions],
            oldest: 0,
            lookahead,
            done: 0,
            current: String::new(),
        }
    }

    fn push(&mut self, task: Task, key: Key) {
        let heap = match task {
            Task::Read(_) => &mut self.reads,
            Task::Compile(..) | Task::Group(..) => &mut self.compiles,
            Task::Check(..) => &mut self.checks,
        };
        heap.push(Reverse((key, task)));
    }

    /// Submission `s` is complete.
    fn finished(&mut self, s: usize) {
        if let Some(c) = self.complete.get_mut(s) {
            *c = true;
        }
        while self.complete.get(self.oldest) == Some(&true) {
            self.oldest += 1;
        }
    }

    /// The most urgent task that may start now: a compile or a read within
    /// the lookahead, else a check, else (rather than leave a CPU idle) a
    /// compile beyond it, or the read that leads to one.
    fn pop(&mut self, compile_slots: usize) -> Option<Task> {
        let limit = self.oldest + self.lookahead;
        let slot = self.compiling < compile_slots;
        let first = |heap: &BinaryHeap<Reverse<(Key, Task)>>| heap.peek().map(|Reverse((_, t))| *t);
        let within = |t: Option<Task>| t.filter(|t| t.submission() < limit).is_some();
        let heap = if slot && within(first(&self.compiles)) {
            &mut self.compiles
        } else if within(first(&self.reads)) {
            &mut self.reads
        } else if !self.checks.is_empty() {
            &mut self.checks
        } else if slot && !self.compiles.is_empty() {
            &mut self.compiles
        } else if slot {
            // A compile slot free and nothing to compile: read what will be.
            &mut self.reads
        } else {
            return None;
        };
        let Reverse((_, task)) = heap.pop()?;
        if let Task::Compile(..) | Task::Group(..) = task {
            self.compiling += 1;
        }
        Some(task)
    }
}

/// Why an exercise has no program to check.
enum Unbuilt {
    /// The compiler gave this error (or stopped, or failed), so the
    /// exercise scores 0 with it.
    DidNotCompile(String),
    /// The time budget ran out first.
    OutOfTime,
    /// The grader could not try (this text says why).
    NotGraded(String),
}

struct Grader<'a> {
    catalogue: &'static [Exercise],
    checks: Vec<Vec<Check>>,
    stubs: Vec<Option<Files>>,
    toolchain: Toolchain,
    options: &'a Options,
    deadline: Option<Instant>,
    subs: Vec<&'a Submission>,
    observer: &'a dyn Observer,
    started: Instant,
    /// The longest each check has taken so far, in ms, to start long ones first.
    millis: Mutex<Vec<Vec<u64>>>,
    /// The same for each exercise's compile.
    compile_millis: Mutex<Vec<u64>>,
}

impl Grader<'_> {
    fn run(&self) -> (Vec<(String, f64, f64)>, Vec<String>) {
        let states: Vec<Mutex<State>> = self.subs.iter().map(|_| Mutex::new(State::default())).collect();
        let jobs = self.options.jobs;
        let mut queue = Queue::new(self.subs.len(), 2 * jobs);
        queue.outstanding = self.subs.len();
        for s in 0..self.subs.len() {
            queue.push(Task::Read(s), Task::Read(s).key(0));
        }
        let queue = Mutex::new(queue);
        let wake = Condvar::new();
        let finished: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            // Four threads per compile slot: checks mostly wait on their
            // programs (a pipe, a child, a timeout), so it takes several
            // per CPU to keep it busy.
            for _ in 0..4 * jobs {
                scope.spawn(|| {
                    loop {
                        let task = {
                            let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                            loop {
                                if let Some(t) = q.pop(jobs) {
                                    if let Task::Read(s) = t {
                                        q.current = self.subs[s].name.clone();
                                    }
                                    break Some(t);
                                }
                                if q.outstanding == 0 {
                                    break None;
                                }
                                q = wake.wait(q).unwrap_or_else(|p| p.into_inner());
                            }
                        };
                        let Some(task) = task else { break };
                        let sub = task.submission();
                        let (next, complete) = self.perform(task, &states[sub]);
                        if complete {
                            let result = self.finish(sub, &states[sub]);
                            self.report(sub, &result);
                            finished
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push((sub, result));
                        }
                        let keys: Vec<Key> = {
                            let millis = self.millis.lock().unwrap_or_else(|p| p.into_inner());
                            let compile_millis =
                                self.compile_millis.lock().unwrap_or_else(|p| p.into_inner());
                            next.iter()
                                .map(|t| match *t {
                                    Task::Check(_, e, c) => t.key(millis[e][c]),
                                    Task::Compile(_, e) => t.key(compile_millis[e]),
                                    _ => t.key(0),
                                })
                                .collect()
                        };
                        let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                        if let Task::Compile(..) | Task::Group(..) = task {
                            q.compiling -= 1;
                        }
                        q.outstanding += next.len();
                        q.outstanding -= 1;
                        for (t, k) in next.into_iter().zip(keys) {
                            q.push(t, k);
                        }
                        if complete {
                            q.done += 1;
                            q.finished(sub);
                        }
                        self.show(&q);
                        drop(q);
                        wake.notify_all();
                    }
                });
            }
        });
        let mut finished = finished.into_inner().unwrap_or_else(|p| p.into_inner());
        finished.sort_by_key(|(s, _)| *s);
        let mut graded = Vec::new();
        let mut errors = Vec::new();
        for (s, result) in finished {
            match result {
                Ok((score, max)) => graded.push((self.subs[s].name.clone(), score, max)),
                Err(e) => errors.push(e),
            }
        }
        (graded, errors)
    }

    /// Tells the observer how far grading is.
    fn show(&self, q: &Queue) {
        let total = self.subs.len();
        let left = (q.done > 0).then(|| {
            self.started
                .elapsed()
                .mul_f64((total - q.done) as f64 / q.done as f64)
        });
        self.observer.progress(q.done, total, &q.current, left);
    }

    /// Tells the observer that a submission is graded.
    fn report(&self, sub: usize, result: &Outcome) {
        self.observer.graded(&self.subs[sub].name, result);
    }

    fn out_of_time(&self, needed: Duration) -> bool {
        self.deadline.is_some_and(|d| Instant::now() + needed > d)
    }

    /// Runs one task; returns the tasks it makes possible, and whether the
    /// submission is now complete.
    ///
    /// A submission's story on the queue: it is read (its sources, a work
    /// folder, which exercises to compile and how), each exercise is
    /// compiled alone or with its merge group, and each compiled program's
    /// checks run one task apiece. The last result recorded completes it.
    fn perform(&self, task: Task, state: &Mutex<State>) -> (Vec<Task>, bool) {
        match task {
            Task::Read(s) => self.begin(s, state),
            Task::Compile(s, e) => self.compile_alone(s, e, state),
            Task::Group(s, g) => self.compile_merged(s, g, state),
            Task::Check(s, e, c) => self.check(s, e, c, state),
        }
    }

    /// `Task::Read`: reads submission `s`'s sources, makes its work folder,
    /// sets up its state, and plans its compiles.
    fn begin(&self, s: usize, state: &Mutex<State>) -> (Vec<Task>, bool) {
        let (sources, work) = self.read(self.subs[s]);
        let mut st = lock(state);
        st.started = Some(Instant::now());
        st.work = work;
        st.binaries = vec![None; self.catalogue.len()];
        st.results = self.checks.iter().map(|c| vec![None; c.len()]).collect();
        st.left = self.checks.iter().map(Vec::len).sum();
        let next = self.plan_compiles(&mut st, s, &sources);
        st.sources = Some(sources);
        let complete = st.left == 0;
        (next, complete)
    }

    /// The compiles submission `s` needs: one task per exercise, or one per
    /// merge group of two or more. Exercises that cannot score (unchanged
    /// from the release, or unreadable) get their results here instead.
    fn plan_compiles(&self, st: &mut State, s: usize, sources: &[Result<Files, String>]) -> Vec<Task> {
        let mut next = Vec::new();
        // Exercises to compile, by the merged build they may join.
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (e, files) in sources.iter().enumerate() {
            match files {
                // An exercise left exactly as released scores 0
                // without being built or run: its stub would still
                // pass checks like `--help` that it did not write.
                Ok(files) if self.stubs[e].as_ref() == Some(files) => {
                    st.notes.push((
                        e,
                        format!(
                            "{}: unchanged from the release (not attempted)",
                            self.catalogue[e].label()
                        ),
                    ));
                    self.fail_exercise(st, e, Failure::NotAttempted, |_| {
                        "not attempted: this exercise is unchanged from the release".to_string()
                    });
                }
                Ok(_) => match self.toolchain.merge_group(&self.catalogue[e]) {
                    Some(g) => match groups.iter_mut().find(|(k, _)| *k == g) {
                        Some((_, members)) => members.push(e),
                        None => groups.push((g, vec![e])),
                    },
                    None => next.push(Task::Compile(s, e)),
                },
                Err(why) => {
                    let why = why.clone();
                    self.fail_exercise(st, e, Failure::NotGraded, |_| format!("not graded: {why}"));
                }
            }
        }
        for (_, members) in groups {
            match members.as_slice() {
                [e] => next.push(Task::Compile(s, *e)),
                _ => {
                    next.push(Task::Group(s, st.groups.len()));
                    st.groups.push(members);
                }
            }
        }
        next
    }

    /// `Task::Compile`: compiles exercise `e` of submission `s` on its own
    /// and records the outcome; returns its checks if it built.
    fn compile_alone(&self, s: usize, e: usize, state: &Mutex<State>) -> (Vec<Task>, bool) {
        let (files, work_path) = {
            let st = lock(state);
            let files = st.sources.as_ref().and_then(|v| v[e].as_ref().ok()).cloned();
            (files, st.work.as_ref().map(|w| w.path.clone()))
        };
        let built = match (files, work_path) {
            _ if self.out_of_time(Duration::from_secs(1)) => Err(Unbuilt::OutOfTime),
            (Some(files), Some(path)) => self.judge_build(self.compile_timed(e, &path, &files)),
            _ => Err(Unbuilt::NotGraded(
                "not graded: the grader could not make a work folder".to_string(),
            )),
        };
        let mut st = lock(state);
        let next = self.settle(&mut st, s, e, built);
        let complete = st.left == 0;
        (next, complete)
    }

    /// Compiles exercise `e` in the work folder `path`, and keeps the
    /// longest time its compile has taken so later ones start early.
    fn compile_timed(&self, e: usize, path: &Path, files: &Files) -> Compiled {
        let timeout = self.compile_timeout();
        let started = Instant::now();
        let built = self.toolchain.compile(&self.catalogue[e], path, files, timeout);
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut compile_millis = lock(&self.compile_millis);
        compile_millis[e] = compile_millis[e].max(ms);
        built
    }

    /// `Task::Group`: compiles merge group `g` of submission `s` as one
    /// crate. Members it built are settled; the others (the merged build
    /// failed, or it was not tried) are queued to compile alone, where the
    /// budget and a missing work folder are told.
    fn compile_merged(&self, s: usize, g: usize, state: &Mutex<State>) -> (Vec<Task>, bool) {
        let (members, work_path) = {
            let st = lock(state);
            let members: Vec<(usize, Files)> = st.groups[g]
                .iter()
                .filter_map(|&e| {
                    let files = st.sources.as_ref()?[e].as_ref().ok()?;
                    Some((e, files.clone()))
                })
                .collect();
            (members, st.work.as_ref().map(|w| w.path.clone()))
        };
        let built = match work_path {
            // Each alone, where the budget and missing folders are told.
            _ if self.out_of_time(Duration::from_secs(1)) => vec![None; members.len()],
            None => vec![None; members.len()],
            Some(path) => {
                let pairs: Vec<(&Exercise, &Files)> =
                    members.iter().map(|(e, f)| (&self.catalogue[*e], f)).collect();
                self.toolchain
                    .compile_group(&pairs, &path, self.compile_timeout())
            }
        };
        let mut st = lock(state);
        let mut next = Vec::new();
        for ((e, _), built) in members.iter().zip(built) {
            match built {
                Some(built) => next.extend(self.settle(&mut st, s, *e, self.judge_build(built))),
                None => next.push(Task::Compile(s, *e)),
            }
        }
        let complete = st.left == 0;
        (next, complete)
    }

    /// `Task::Check`: runs check `c` of exercise `e` against submission
    /// `s`'s program (if it has one and the budget allows) and records it.
    fn check(&self, s: usize, e: usize, c: usize, state: &Mutex<State>) -> (Vec<Task>, bool) {
        let exercise = &self.catalogue[e];
        let check = &self.checks[e][c];
        let binary = lock(state).binaries[e].clone();
        let result = match binary {
            _ if self.out_of_time(Duration::from_millis(500)) => {
                failed(exercise, check, Failure::OutOfTime, OUT_OF_TIME.to_string())
            }
            Some(binary) => self.run_within_budget(exercise, check, &binary),
            None => failed(
                exercise,
                check,
                Failure::NotGraded,
                "not graded: no program".to_string(),
            ),
        };
        self.note_check_time(s, e, c, &result);
        let mut st = lock(state);
        st.results[e][c] = Some(result);
        st.left -= 1;
        (Vec::new(), st.left == 0)
    }

    /// Keeps the longest time check `c` of exercise `e` has taken, so later
    /// submissions start it early; with `timing()`, tells staff on stderr.
    fn note_check_time(&self, s: usize, e: usize, c: usize, result: &CheckResult) {
        {
            let mut millis = lock(&self.millis);
            let ms = u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX);
            millis[e][c] = millis[e][c].max(ms);
        }
        if timing() {
            // For course staff tuning a grading run: where the time goes.
            let secs = result.duration.as_secs_f64();
            eprintln!(
                "{}\t{}\t{}\t{secs:.3}",
                self.subs[s].name,
                self.catalogue[e].label(),
                self.checks[e][c].name
            );
        }
    }

    /// How long a compile may take: its limit, or the budget left.
    fn compile_timeout(&self) -> Duration {
        match self.deadline {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .min(compile::COMPILE_TIMEOUT),
            None => compile::COMPILE_TIMEOUT,
        }
    }

    /// A compile's result: the program, or why the exercise scores 0.
    fn judge_build(&self, built: Compiled) -> Result<PathBuf, Unbuilt> {
        match built {
            Compiled::Binary(p) => Ok(p),
            // Stopped by the budget, not by the student's code.
            _ if self.out_of_time(Duration::ZERO) => Err(Unbuilt::OutOfTime),
            Compiled::CompileError(text) | Compiled::Failed(text) => Err(Unbuilt::DidNotCompile(text)),
            // Settled before it gets here: its members compile alone.
            Compiled::MergeFailed(_) => Err(Unbuilt::DidNotCompile("the merged build failed".into())),
        }
    }

    /// Records exercise `e`'s compile; returns its checks to run.
    fn settle(&self, st: &mut State, s: usize, e: usize, built: Result<PathBuf, Unbuilt>) -> Vec<Task> {
        match built {
            Ok(binary) => {
                st.binaries[e] = Some(binary);
                let n = self.checks[e].len();
                (0..n).map(|c| Task::Check(s, e, c)).collect()
            }
            Err(Unbuilt::DidNotCompile(text)) => {
                st.notes
                    .push((e, format!("{}: did not compile", self.catalogue[e].label())));
                let why = format!("it did not compile:\n{text}");
                self.fail_exercise(st, e, Failure::DidNotCompile, |_| why.clone());
                Vec::new()
            }
            Err(Unbuilt::OutOfTime) => {
                self.fail_exercise(st, e, Failure::OutOfTime, |_| OUT_OF_TIME.to_string());
                Vec::new()
            }
            Err(Unbuilt::NotGraded(why)) => {
                self.fail_exercise(st, e, Failure::NotGraded, |_| why.clone());
                Vec::new()
            }
        }
    }

    /// Runs a check; near the end of the budget, with its timeout cut to
    /// the time left. A run stopped by that cut is "not graded", not failed:
    /// the program might have finished in its full time.
    fn run_within_budget(&self, exercise: &Exercise, check: &Check, binary: &Path) -> CheckResult {
        let left = self
            .deadline
            .map_or(check.timeout, |d| d.saturating_duration_since(Instant::now()));
        if left >= check.timeout {
            return run_check(exercise, check, binary);
        }
        let cut = check.clone().timeout(left);
        let result = run_check(exercise, &cut, binary);
        if !result.passed() && result.duration + Duration::from_millis(100) >= left {
            return failed(exercise, check, Failure::OutOfTime, OUT_OF_TIME.to_string());
        }
        result
    }

    /// Every check of exercise `e` fails with `why(check)`.
    fn fail_exercise(&self, st: &mut State, e: usize, failure: Failure, why: impl Fn(&Check) -> String) {
        for (c, check) in self.checks[e].iter().enumerate() {
            if st.results[e][c].is_none() {
                st.results[e][c] = Some(failed(&self.catalogue[e], check, failure, why(check)));
                st.left -= 1;
            }
        }
    }

    /// Reads a submission's sources and makes its work folder.
    fn read(&self, sub: &Submission) -> (Vec<Result<Files, String>>, Option<WorkDir>) {
        let sources = match submission::read(sub, self.catalogue) {
            Ok(Sources { exercises }) => exercises,
            Err(why) => vec![Err(why); self.catalogue.len()],
        };
        match self.toolchain.work_dir(&sub.name) {
            Ok(work) => (sources, Some(work)),
            Err(why) => (vec![Err(format!("{why:#}")); self.catalogue.len()], None),
        }
    }

    /// Writes the submission's results file; returns its score.
    fn finish(&self, sub: usize, state: &Mutex<State>) -> Outcome {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = st.started.map_or(Duration::ZERO, |t| t.elapsed());
        let results: Vec<ExerciseResult> = self
            .catalogue
            .iter()
            .zip(st.results.iter_mut())
            .map(|(exercise, checks)| ExerciseResult {
                exercise,
                checks: checks.iter_mut().filter_map(Option::take).collect(),
            })
            .collect();
        let mut file = Results::from_results(&results, elapsed);
        let out_of_time = results
            .iter()
            .flat_map(|r| &r.checks)
            .filter(|c| c.failure == Some(Failure::OutOfTime))
            .count();
        let mut text = String::new();
        let passed = results.iter().filter(|r| r.passed()).count();
        let _ = write!(text, "{passed} of {} exercises pass every check.", results.len());
        st.notes.sort();
        for (_, note) in &st.notes {
            let _ = write!(text, "\n{note}");
        }
        if out_of_time > 0 {
            let _ = write!(
                text,
                "\nThe grader's time budget ran out: {out_of_time} checks were not graded (0 points)."
            );
        }
        file.output = Some(text);
        let (score, max) = (file.score, file.max_score);
        drop(st.work.take()); // removes the work folder
        let name = &self.subs[sub].name;
        let path = results_path(&self.options.out, name);
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
            .and_then(|()| write_atomically(&path, file.to_json().as_bytes()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok((score, max))
    }
}

/// Runs one check. When the sandbox itself failed (not the program: the
/// grader's machine, out of processes or memory for a moment), the check
/// is run again, up to three times: a student must not lose points to the
/// grader's machine.
fn run_check(exercise: &Exercise, check: &Check, binary: &Path) -> CheckResult {
    let mut result = checks::run_check(exercise, check, Ok(binary));
    for attempt in 1..=3 {
        if result.failure != Some(Failure::Sandbox) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20 * attempt));
        result = checks::run_check(exercise, check, Ok(binary));
    }
    result
}

/// A check that failed without running.
fn failed(exercise: &Exercise, check: &Check, failure: Failure, why: String) -> CheckResult {
    CheckResult {
        name: check.name,
        command: check.command_line(exercise.name),
        score: 0,
        max_score: check.points,
        hidden: check.hidden,
        failure: Some(failure),
        output: why,
        duration: Duration::ZERO,
        isolation: None,
    }
}

/// `12` for whole points, `12.5` otherwise.
fn points(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Rewrites `DIR/grades.csv` from every `DIR/*/results.json`: one row per
/// submission, the points of each exercise, the total and the maximum.
pub fn write_csv(out: &Path, catalogue: &[Exercise]) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(out)
        .with_context(|| format!("cannot read {}", out.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("results.json").is_file())
        .collect();
    entries.sort();
    for dir in entries {
        let Ok(text) = std::fs::read_to_string(dir.join("results.json")) else {
            continue;
        };
        let Ok(results) = Results::from_json(&text) else {
            continue;
        };
        let mut per_exercise = vec![0.0; catalogue.len()];
        for t in &results.tests {
            let number = t
                .number
                .as_deref()
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u8>().ok());
            if let Some(i) = number.and_then(|n| catalogue.iter().position(|e| e.number == n)) {
                per_exercise[i] += t.score;
            }
        }
        let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let mut row = vec![csv_field(&name)];
        row.extend(per_exercise.iter().map(|p| points(*p)));
        row.push(points(results.score));
        row.push(points(results.max_score));
        rows.push(row.join(","));
    }
    let mut header = vec!["submission".to_string()];
    header.extend(
        catalogue
            .iter()
            .map(|e| csv_field(&format!("{:02}-{}", e.number, e.name))),
    );
    header.push("total".into());
    header.push("max".into());
    let mut csv = header.join(",");
    csv.push('\n');
    for row in rows {
        csv.push_str(&row);
        csv.push('\n');
    }
    let path = out.join("grades.csv");
    write_atomically(&path, csv.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// A CSV field, quoted when it must be (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_and_reads_run_ahead_of_checks_within_the_lookahead() {
        let mut q = Queue::new(5, 2);
        for (t, ms) in [
            (Task::Check(0, 1, 2), 5),
            (Task::Read(3), 0),
            (Task::Read(1), 0),
            (Task::Compile(0, 3), 0),
            (Task::Check(0, 2, 0), 900),
            (Task::Compile(2, 4), 0),
            (Task::Check(1, 0, 0), 0),
        ] {
            q.push(t, t.key(ms));
        }
        // Submissions 0 and 1 are within the lookahead: first compile 0's,
        // then read 1; the longest check next.
        assert_eq!(q.pop(1), Some(Task::Compile(0, 3)));
        assert_eq!(q.pop(1), Some(Task::Read(1)));
        assert_eq!(q.pop(1), Some(Task::Check(0, 2, 0)));
        assert_eq!(q.pop(1), Some(Task::Check(0, 1, 2)));
        assert_eq!(q.pop(1), Some(Task::Check(1, 0, 0)));
        // Nothing within reach, the one compile slot taken: wait.
        assert_eq!(q.pop(1), None);
        // A slot free and no check waiting: compile beyond the lookahead
        // rather than idle, then read what comes next.
        q.compiling = 0;
        assert_eq!(q.pop(1), Some(Task::Compile(2, 4)));
        q.compiling = 0;
        assert_eq!(q.pop(1), Some(Task::Read(3)));
        assert_eq!(q.pop(1), None);
    }

    #[test]
    fn the_lookahead_moves_with_the_oldest_unfinished_submission() {
        let mut q = Queue::new(4, 1);
        q.push(Task::Check(0, 0, 0), Task::Check(0, 0, 0).key(0));
        q.push(Task::Read(2), Task::Read(2).key(0));
        q.compiling = 1;
        // Submission 2 is beyond the lookahead while 0 is unfinished.
        assert_eq!(q.pop(1), Some(Task::Check(0, 0, 0)));
        assert_eq!(q.pop(1), None);
        // Finishing 1 first changes nothing: 0 is still the oldest.
        q.finished(1);
        assert_eq!(q.pop(1), None);
        q.finished(0);
        assert_eq!(q.oldest, 2);
        assert_eq!(q.pop(1), Some(Task::Read(2)));
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("alice"), "alice");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn points_drop_needless_decimals() {
        assert_eq!(points(12.0), "12");
        assert_eq!(points(2.5), "2.50");
    }
}
