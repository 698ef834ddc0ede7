//! The runner's side of one run: set up, start the supervisor, then one
//! `poll` loop for stdin, stdout, stderr, the supervisor's records and the
//! clock, until every process of the run is gone.

use crate::cgroup::{Cgroup, Controller};
use crate::identity::{ReadAs, Slot};
use crate::namespace::{self, Binds, Namespaces};
use crate::spawn::{self, Fds, Plan, Record, Stage};
use crate::tree::{self, Proc};
use crate::{
    Absence, Identity, Isolation, Limits, Memory, Outcome, Process, Protection, Spec, Status, diagnose, names,
};
use std::collections::HashSet;
use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use syscalls::cvt_r;

/// How often the loop wakes while the program runs, to look at the clock
/// and to sample what the tree uses (memory, processes).
const TICK: Duration = Duration::from_millis(50);
/// When the deadlock watch takes its first sample…
const WATCH_START: Duration = Duration::from_millis(200);
/// …and how often after that.
const WATCH_EVERY: Duration = Duration::from_millis(100);
/// How long killing may take before S is given up on.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// With a per-run cgroup and a shared user, `RLIMIT_NPROC` is this many
/// times the run's budget: room for that many runs at their limit side by
/// side.
const NPROC_BACKSTOP: u64 = 8;
/// With a per-run cgroup and a user of its own, `RLIMIT_NPROC` is this much
/// above the cgroup's limit, so that the cgroup refuses first.
const NPROC_ABOVE_CGROUP: u64 = 16;
/// A run at its process limit in this many samples in a row (with forks
/// refused in each, where a cgroup counts them) is a fork bomb.
const BOMB_SAMPLES: u32 = 3;
/// How often a run's `pids` cgroup is read for the fork-bomb watch (without
/// one, the watch uses the samples, every [`TICK`]).
const BOMB_EVERY: Duration = Duration::from_millis(20);

/// How many "never waited for" notes are listed one by one.
const MAX_ORPHAN_NOTES: usize = 8;
/// A stream that has carried this many times the output cap is a flood:
/// the run is stopped rather than read until the timeout…
const FLOOD_FACTOR: u64 = 4;
/// …and never before this many bytes (for tiny caps).
const FLOOD_MIN: u64 = 64 << 10;
/// A process whose peak resident memory reached this fraction (numerator,
/// denominator) of the address-space limit counts as having run out.
const NEAR_LIMIT: (u64, u64) = (3, 4);

/// The environment the program gets, apart from `HOME`.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Held for reading while a binary is copied in, and for writing across
/// each fork of a supervisor.
///
/// A child forked while another thread has a freshly copied binary open for
/// writing inherits that descriptor until it closes its descriptors or
/// execs; executing the binary meanwhile fails with ETXTBSY ("Text file
/// busy"). Never forking while a copy is open rules that out.
static EXEC_COPIES: std::sync::RwLock<()> = std::sync::RwLock::new(());
const LANG: &str = "C.UTF-8";

/// Runs `spec`; see [`crate::run`].
pub(crate) fn run(spec: &Spec) -> io::Result<Outcome> {
    let who = Who::of(spec)?;
    let ids = who.ids();
    let writable = Writable::lend(&spec.writable, ids)?;
    let mut attempt = attempt(spec, &who);
    if let Ok(Attempt::NoNamespaces) = attempt {
        // Refused once, refused for good: the next runs go without.
        attempt = self::attempt(spec, &who);
    }
    let given_back = writable.give_back();
    let (mut outcome, survivors) = match attempt? {
        Attempt::Ran { outcome, survivors } => (*outcome, survivors),
        Attempt::NoNamespaces => return Err(io::Error::other("sandbox: the namespaces were refused twice")),
    };
    if let Err(e) = given_back {
        outcome
            .notes
            .push(format!("could not take back a writable folder: {e}"));
    }
    if let Some(slot) = who.slot {
        if survivors {
            // Processes of the run may still be alive: never lend its uid again.
            slot.quarantine();
        } else {
            // S has exited: every process of the run is gone.
            slot.release_clean();
        }
    }
    Ok(outcome)
}

/// One try at the run: it ran, or the kernel refused the namespaces (and
/// the run should be tried again without them).
enum Attempt {
    /// The run is over; `survivors`: its supervisor was given up on, so
    /// processes of the run may still be alive.
    Ran {
        outcome: Box<Outcome>,
        survivors: bool,
    },
    NoNamespaces,
}

fn attempt(spec: &Spec, who: &Who) -> io::Result<Attempt> {
    let ids = who.ids();
    let workdir = WorkDir::create(ids)?;
    let result = run_in(spec, who, &workdir);
    let removed = workdir.remove();
    let mut attempt = result?;
    if let (Err(e), Attempt::Ran { outcome, .. }) = (removed, &mut attempt) {
        outcome
            .notes
            .push(format!("could not remove the run's directory: {e}"));
    }
    Ok(attempt)
}

/// Who the run is: the uid it borrowed (if any) and why it has no user of
/// its own otherwise.
struct Who {
    /// The uid lent to the run (`own` false: the shared overflow uid).
    slot: Option<Slot>,
    /// The runner is root.
    root: bool,
    /// Why the run has no user of its own, if it has none.
    absence: Option<Absence>,
}

impl Who {
    fn of(spec: &Spec) -> io::Result<Who> {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let (slot, absence) = match (root, spec.identity) {
            (false, _) => (None, Some(Absence::NotRoot)),
            (true, Identity::Runner) => (None, Some(Absence::RunnerIdentity)),
            (true, Identity::Own) => {
                let slot = Slot::acquire()?;
                let absence = (!slot.own).then_some(Absence::PoolExhausted);
                (Some(slot), absence)
            }
        };
        Ok(Who { slot, root, absence })
    }

    /// The (uid, gid) to switch to, when the run drops privileges.
    fn ids(&self) -> Option<(libc::uid_t, libc::gid_t)> {
        self.slot.as_ref().map(|s| (s.uid, s.gid()))
    }
}

/// The namespaces' fate in this process: `None` until refused, then why.
static NAMESPACES_REFUSED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Why this process makes no namespaces, if it makes none.
fn namespaces_refused(who: &Who) -> Option<Absence> {
    if !who.root {
        return Some(Absence::NotRoot);
    }
    let refused = NAMESPACES_REFUSED.lock().unwrap_or_else(|e| e.into_inner());
    refused.clone().map(Absence::Refused)
}

/// The caller's writable folders, lent to the run's user.
struct Writable<'a> {
    dirs: &'a [PathBuf],
    ids: Option<(libc::uid_t, libc::gid_t)>,
}

impl<'a> Writable<'a> {
    /// Gives each folder (not what is in it) to the run's user.
    fn lend(dirs: &'a [PathBuf], ids: Option<(libc::uid_t, libc::gid_t)>) -> io::Result<Writable<'a>> {
        for dir in dirs {
            let meta = fs::symlink_metadata(dir)
                .map_err(|e| io::Error::new(e.kind(), format!("sandbox: {}: {e}", dir.display())))?;
            if !meta.is_dir() {
                return Err(invalid(format!("{} is not a folder", dir.display())));
            }
            if let Some((uid, gid)) = ids {
                std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
            }
        }
        Ok(Writable { dirs, ids })
    }

    /// Once the run is over: everything in the folders that the run's user
    /// owns goes back to us. A hard link to someone else's file (made where
    /// no mount namespace kept the program from other files) is left alone:
    /// the run's user could not have owned it.
    fn give_back(self) -> io::Result<()> {
        let Some((uid, _)) = self.ids else { return Ok(()) };
        // SAFETY: geteuid/getegid have no preconditions.
        let (me, my_group) = unsafe { (libc::geteuid(), libc::getegid()) };
        let mut first_error = Ok(());
        let mut stack: Vec<PathBuf> = self.dirs.to_vec();
        while let Some(path) = stack.pop() {
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            use std::os::unix::fs::MetadataExt;
            if meta.is_dir() {
                for entry in fs::read_dir(&path).into_iter().flatten().flatten() {
                    stack.push(entry.path());
                }
            }
            let mine = meta.uid() == uid && (meta.is_dir() || meta.nlink() == 1);
            if mine {
                if let Err(e) = std::os::unix::fs::lchown(&path, Some(me), Some(my_group)) {
                    if first_error.is_ok() {
                        first_error = Err(io::Error::new(e.kind(), format!("{}: {e}", path.display())));
                    }
                }
            }
        }
        first_error
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("sandbox: {message}"))
}

/// A fresh directory for one run, owned by the user the program runs as,
/// removed at the end (or on drop, if the run failed half-way).
struct WorkDir {
    path: PathBuf,
    removed: bool,
}

impl WorkDir {
    fn create(ids: Option<(libc::uid_t, libc::gid_t)>) -> io::Result<WorkDir> {
        // Named after this process, so that a later runner can tell the
        // directories of a runner that died (see `sweep`).
        let base = std::env::temp_dir();
        sweep(&base);
        let template = base.join(format!("{DIR_PREFIX}{}-XXXXXX", std::process::id()));
        let template =
            CString::new(template.into_os_string().into_vec()).map_err(|_| invalid("bad TMPDIR".into()))?;
        let mut bytes = template.into_bytes_with_nul();
        // SAFETY: `bytes` is a writable, NUL-terminated template ending in XXXXXX.
        let p = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
        if p.is_null() {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("sandbox: mkdtemp failed: {e}")));
        }
        bytes.pop();
        let dir = WorkDir {
            path: PathBuf::from(OsString::from_vec(bytes)),
            removed: false,
        };
        if let Some((uid, gid)) = ids {
            std::os::unix::fs::chown(&dir.path, Some(uid), Some(gid))?;
        }
        Ok(dir)
    }

    /// Puts the program in, executable by the run's user: our own build
    /// directory may not be readable by `nobody`.
    ///
    /// When the run drops to another user (we are root), a program file
    /// that no one may write (no `w` in its mode), owned by root or by us
    /// and not by that user (who could then make it writable), is fixed:
    /// it is hard-linked, which costs nothing, where a copy reads and
    /// writes the whole program for every run (a grader's cache keeps its
    /// programs that way). Anything else — a link (`link` would not follow
    /// it), a run as ourselves, a link that fails (another file system) —
    /// is copied: a build folder's program changes under us.
    fn install(&self, program: &Path, ids: Option<(libc::uid_t, libc::gid_t)>) -> io::Result<PathBuf> {
        let name = program
            .file_name()
            .ok_or_else(|| invalid(format!("{} names no file", program.display())))?;
        let target = self.path.join(name);
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let fixed = ids.is_some_and(|(uid, _)| {
            fs::symlink_metadata(program).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.file_type().is_file()
                    && m.mode() & 0o222 == 0
                    && (m.uid() == euid || m.uid() == 0)
                    && m.uid() != uid
            })
        });
        if fixed && fs::hard_link(program, &target).is_ok() {
            return Ok(target);
        }
        let _no_fork_meanwhile = EXEC_COPIES.read().unwrap_or_else(|p| p.into_inner());
        fs::copy(program, &target).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("sandbox: cannot copy {}: {e}", program.display()),
            )
        })?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755))?;
        Ok(target)
    }

    /// An empty folder in it that the run's new root is mounted on, in the
    /// run's own mount namespace (on the machine it stays an empty folder,
    /// removed with the rest; the program never sees this directory, only
    /// its namesake in the new root).
    fn root_mount_point(&self) -> io::Result<PathBuf> {
        let dir = self.path.join(".root");
        fs::create_dir(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        Ok(dir)
    }

    fn remove(mut self) -> io::Result<()> {
        self.removed = true;
        fs::remove_dir_all(&self.path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.removed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// The start of a run directory's name: then the runner's pid, a dash, and
/// six random characters.
const DIR_PREFIX: &str = "ipc-lab-sandbox-";

/// Removes, once per process, the run directories of runners that died
/// before removing them (killed mid-run, say by a Ctrl-C).
fn sweep(base: &Path) {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        for entry in fs::read_dir(base).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix(DIR_PREFIX)?.split('-').next())
            else {
                continue;
            };
            if pid.bytes().all(|b| b.is_ascii_digit()) && !Path::new("/proc").join(pid).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    });
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        invalid(format!(
            "{:?} contains a NUL byte",
            String::from_utf8_lossy(bytes)
        ))
    })
}

/// `pipe2(O_CLOEXEC)`, with the runner's end made non-blocking.
fn pipe(runner_reads: bool) -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = syscalls::pipe()?;
    syscalls::set_nonblocking(if runner_reads { &r } else { &w }, true)?;
    Ok((r, w))
}

fn run_in(spec: &Spec, who: &Who, workdir: &WorkDir) -> io::Result<Attempt> {
    let ids = who.ids();
    let exe = workdir.install(&spec.program, ids)?;
    let limits = &spec.limits;

    // SAFETY: getuid has no preconditions.
    let ruid = unsafe { libc::getuid() };
    let pids = Cgroup::create(Controller::Pids, limits.processes);
    let memory = Cgroup::create(Controller::Memory, limits.memory);
    let cpu = Cgroup::create(Controller::Cpu, 0);
    let own_user = who.slot.as_ref().is_some_and(|s| s.own);
    // RLIMIT_NPROC counts every task of the real user.
    let processes = if !who.root {
        // An ordinary user: the run is part of their session, so the budget
        // comes on top of what already runs.
        tree::tasks_of_user(ruid) + limits.processes
    } else if own_user && pids.is_some() {
        // The uid is the run's alone; a little above the cgroup's limit, so
        // that the cgroup refuses (and counts the refusals).
        limits.processes + NPROC_ABOVE_CGROUP
    } else if pids.is_some() {
        // Shared (the overflow uid, or root): a backstop for all together.
        limits.processes.saturating_mul(NPROC_BACKSTOP)
    } else {
        limits.processes
    };
    let refused = if spec.namespaces {
        namespaces_refused(who)
    } else {
        Some(Absence::NotAsked)
    };
    let namespaces = match refused {
        Some(_) => None,
        None => Some(Namespaces::plan(
            &workdir.root_mount_point()?,
            limits.scratch,
            ids,
            &Binds {
                workdir: &workdir.path,
                program: &exe,
                readable: &spec.readable,
                writable: &spec.writable,
            },
        )?),
    };

    let argv0 = exe.file_name().map(OsStr::as_bytes).unwrap_or(b"program");
    let mut argv = vec![cstring(argv0)?];
    for a in &spec.args {
        argv.push(cstring(a.as_bytes())?);
    }
    let envp = vec![
        cstring(format!("PATH={PATH}").as_bytes())?,
        cstring(
            [b"HOME=".as_slice(), workdir.path.as_os_str().as_bytes()]
                .concat()
                .as_slice(),
        )?,
        cstring(format!("LANG={LANG}").as_bytes())?,
    ];

    let (stdin_r, stdin_w) = pipe(false)?;
    let (stdout_r, stdout_w) = pipe(true)?;
    let (stderr_r, stderr_w) = pipe(true)?;
    let (report_r, report_w) = pipe(true)?;
    let (control_r, control_w) = syscalls::pipe()?;

    let plan = Plan {
        path: cstring(exe.as_os_str().as_bytes())?,
        argv: spawn::pointers(&argv),
        _argv: argv,
        envp: spawn::pointers(&envp),
        _envp: envp,
        cwd: cstring(workdir.path.as_os_str().as_bytes())?,
        ids,
        namespaces,
        // Soft = hard, so that the program cannot raise them; but the CPU
        // limit's hard value is one second later, since the kernel sends
        // SIGKILL at the hard limit and SIGXCPU, which says why, only at a
        // soft one below it.
        rlimits: [
            (
                libc::RLIMIT_CPU,
                limits.cpu_seconds,
                limits.cpu_seconds.saturating_add(1),
            ),
            (libc::RLIMIT_AS, limits.address_space, limits.address_space),
            (libc::RLIMIT_FSIZE, limits.file_size, limits.file_size),
            (libc::RLIMIT_NOFILE, limits.open_files, limits.open_files),
            (libc::RLIMIT_CORE, 0, 0),
            (libc::RLIMIT_NPROC, processes, processes),
        ],
        fds: Fds {
            stdin: stdin_r.as_raw_fd(),
            stdout: stdout_w.as_raw_fd(),
            stderr: stderr_w.as_raw_fd(),
            report: report_w.as_raw_fd(),
            control: control_r.as_raw_fd(),
            cgroups: [
                pids.as_ref().map_or(-1, Cgroup::procs_fd),
                memory.as_ref().map_or(-1, Cgroup::procs_fd),
                cpu.as_ref().map_or(-1, Cgroup::procs_fd),
            ],
        },
    };

    let start = Instant::now();
    let no_copy_open = EXEC_COPIES.write().unwrap_or_else(|p| p.into_inner());
    // SAFETY: `plan` and its descriptors are valid and outlive the fork.
    let supervisor = unsafe { spawn::start(&plan) };
    drop(no_copy_open);
    let supervisor = supervisor?;
    // The child's ends now live in S (and P); ours must go, or end of file
    // would never come.
    drop((stdin_r, stdout_w, stderr_w, report_w, control_r));

    let mut runner = Runner {
        supervisor,
        start,
        limits,
        read_as: ids,
        pids: pids.as_ref(),
        bomb: Bomb::default(),
        gave_up: false,
        nproc: pids
            .is_none()
            .then(|| (ids.map_or(ruid, |(uid, _)| uid), processes)),
        user_at_limit: None,
        timeout: limits.timeout,
        cap: limits.output_cap,
        stdin: (!spec.stdin.is_empty()).then_some(stdin_w),
        stdin_data: &spec.stdin,
        stdin_done: 0,
        stdout: Stream::new(stdout_r),
        stderr: Stream::new(stderr_r),
        report: Some(report_r),
        report_buf: Vec::new(),
        control: Some(control_w),
        pid: None,
        program_end: None,
        failed: None,
        verdict: None,
        verdict_at: None,
        killing_since: None,
        left_running: Vec::new(),
        reported: HashSet::new(),
        orphans: Vec::new(),
        notes: Vec::new(),
        watch: Watch::default(),
        next_sample: Duration::ZERO,
        usage: Usage::default(),
        last_tasks: 0,
        killed: Vec::new(),
    };
    let result = runner.run();
    // Whatever happened, S is our child: reap it (it has exited, or been
    // killed, once `run` returns).
    let _ = syscalls::waitpid(supervisor, 0);
    let runner_gave_up = runner.gave_up;
    let counts = Counts {
        forks_refused: pids.as_ref().map(Cgroup::limit_hits),
        oom_kills: memory.as_ref().map(Cgroup::limit_hits),
    };
    let namespace_failure = match runner.failed {
        Some((stage, errno, step)) if stage == Stage::Namespace as i32 => {
            let failure = namespace::Failure { step, errno };
            Some(plan.namespaces.as_ref().map_or_else(
                || "setting up the namespaces failed".to_string(),
                |ns| namespace::describe(ns, &failure),
            ))
        }
        _ => None,
    };
    let mut outcome = match namespace_failure {
        Some(_) => Ok(None),
        None => result.and_then(|()| runner.finish(spec, &counts)).map(Some),
    };
    let cgroups = [
        (Protection::ProcessCgroup, pids),
        (Protection::MemoryCgroup, memory),
        (Protection::CpuCgroup, cpu),
    ];
    let mut isolation = Isolation::default();
    match &who.absence {
        None => isolation.in_force.push(Protection::OwnUser),
        Some(why) => isolation.missing.push((Protection::OwnUser, why.clone())),
    }
    for protection in namespace::PROTECTIONS {
        match &refused {
            None => isolation.in_force.push(protection),
            Some(why) => isolation.missing.push((protection, why.clone())),
        }
    }
    for (protection, cgroup) in cgroups {
        let Some(cgroup) = cgroup else {
            isolation.missing.push((protection, Absence::Unavailable));
            continue;
        };
        isolation.in_force.push(protection);
        if let (Err(e), Ok(Some(outcome))) = (cgroup.remove(), outcome.as_mut()) {
            outcome.notes.push(format!("sandbox: {e}"));
        }
    }
    if let Some(why) = namespace_failure {
        *NAMESPACES_REFUSED.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
        return Ok(Attempt::NoNamespaces);
    }
    let mut outcome = outcome?.ok_or_else(|| io::Error::other("sandbox: no outcome"))?;
    outcome.isolation = isolation;
    Ok(Attempt::Ran {
        outcome: Box::new(outcome),
        survivors: runner_gave_up,
    })
}

/// What the run's cgroups counted; `None` for a cgroup the run did not have.
struct Counts {
    /// Forks and thread creations refused at `pids.max`.
    forks_refused: Option<u64>,
    /// Processes the kernel killed at the memory limit.
    oom_kills: Option<u64>,
}

/// What the run used at its peak, from the samples and from the reaper's
/// records.
#[derive(Default)]
struct Usage {
    /// The most memory one process had: (bytes, "pid 913 (hog)"). Its peak
    /// resident memory, sampled, or exact once S has reaped it.
    memory: Option<(u64, String)>,
    /// The most processes and threads the tree had at once.
    tasks: u64,
}

impl Usage {
    /// Records that `who` had `bytes` of memory.
    fn memory(&mut self, bytes: u64, who: impl FnOnce() -> String) {
        if self.memory.as_ref().is_none_or(|(peak, _)| bytes > *peak) {
            self.memory = Some((bytes, who()));
        }
    }
}

/// One captured output stream.
struct Stream {
    fd: Option<OwnedFd>,
    kept: Vec<u8>,
    dropped: u64,
}

impl Stream {
    fn new(fd: OwnedFd) -> Stream {
        Stream {
            fd: Some(fd),
            kept: Vec::new(),
            dropped: 0,
        }
    }

    /// Every byte it carried, kept or not.
    fn total(&self) -> u64 {
        self.kept.len() as u64 + self.dropped
    }

    /// Reads what is there (a bounded number of times, so that a flood does
    /// not starve the rest of the loop); end of file closes the stream.
    fn pump(&mut self, cap: usize, chunk: &mut [u8]) -> io::Result<()> {
        for _ in 0..16 {
            let Some(fd) = &self.fd else { return Ok(()) };
            match syscalls::read(fd, chunk) {
                Ok(0) => self.fd = None,
                Ok(n) => {
                    let room = cap.saturating_sub(self.kept.len()).min(n);
                    self.kept.extend_from_slice(&chunk[..room]);
                    self.dropped += (n - room) as u64;
                    if n < chunk.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The fork-bomb watch: how many samples in a row found the run at its
/// process limit, and the refusals counted so far.
#[derive(Default)]
struct Bomb {
    streak: u32,
    refused: u64,
    /// When the cgroup is read next (time since start).
    next_at: Duration,
}

/// The deadlock watch: two samples a moment apart must agree.
#[derive(Default)]
struct Watch {
    previous: Option<diagnose::Diagnosis>,
    next_at: Option<Duration>,
}

impl Watch {
    /// Samples `pids`; returns the explanation when they are deadlocked.
    fn deadlock(&mut self, pids: &[i32]) -> Option<Vec<String>> {
        let sample = diagnose::diagnose(pids);
        let joined = match &self.previous {
            Some(previous) => sample.clone().since(previous),
            None => {
                self.previous = Some(sample);
                return None;
            }
        };
        self.previous = Some(sample);
        joined.is_deadlock().then(|| joined.explain())
    }
}

/// The runner's state for one run.
struct Runner<'a> {
    supervisor: libc::pid_t,
    start: Instant,
    limits: &'a Limits,
    /// The run's (uid, gid), to read its `/proc` files as (see identity.rs).
    read_as: Option<(libc::uid_t, libc::gid_t)>,
    /// The run's `pids` cgroup, whose refusals tell a fork bomb.
    pids: Option<&'a Cgroup>,
    /// The fork-bomb watch.
    bomb: Bomb,
    /// S was killed before it could kill every process of the run.
    gave_up: bool,
    /// The user the program runs as, and its `RLIMIT_NPROC`, when that
    /// limit holds the budget (no `pids` cgroup).
    nproc: Option<(libc::uid_t, u64)>,
    /// That user's processes and threads when P failed, if they were at
    /// `RLIMIT_NPROC`.
    user_at_limit: Option<u64>,
    timeout: Duration,
    cap: usize,
    stdin: Option<OwnedFd>,
    stdin_data: &'a [u8],
    stdin_done: usize,
    stdout: Stream,
    stderr: Stream,
    report: Option<OwnedFd>,
    report_buf: Vec<u8>,
    control: Option<OwnedFd>,
    /// P's pid, once S has said it.
    pid: Option<i32>,
    /// How P ended, once S has reaped it.
    program_end: Option<Status>,
    /// A step before exec failed: (stage, errno, detail).
    failed: Option<(i32, i32, i32)>,
    /// How the run ended, once decided.
    verdict: Option<Status>,
    /// When it was decided (time since start).
    verdict_at: Option<Duration>,
    /// When we told S to kill.
    killing_since: Option<Instant>,
    /// What was still running when the program exited.
    left_running: Vec<Proc>,
    /// Pids already named in a note (not to be named again as orphans).
    reported: HashSet<i32>,
    /// "child … exited but its parent never waited for it".
    orphans: Vec<Process>,
    notes: Vec<String>,
    watch: Watch,
    /// When the tree's usage is sampled next (time since start).
    next_sample: Duration,
    usage: Usage,
    /// The processes and threads of the latest sample.
    last_tasks: u64,
    /// Processes killed by `SIGKILL` before the verdict (the kernel's
    /// out-of-memory killer, or a program's own kill): "pid 913 (hog)".
    killed: Vec<String>,
}

impl Runner<'_> {
    /// The loop; returns when S has exited (or been given up on).
    fn run(&mut self) -> io::Result<()> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let elapsed = self.start.elapsed();
            if self.verdict.is_none() {
                self.decide(elapsed);
            }
            if self.report.is_none() {
                // S has exited: every process of the run is gone.
                return Ok(());
            }
            if self
                .killing_since
                .is_some_and(|since| since.elapsed() > KILL_GRACE)
            {
                self.give_up();
                return Ok(());
            }

            let wait = match self.verdict {
                Some(_) => Duration::from_millis(20),
                None => {
                    let to_deadline = self.timeout.saturating_sub(elapsed);
                    let to_watch = self.watch.next_at.unwrap_or(WATCH_START).saturating_sub(elapsed);
                    let to_sample = self.next_sample.saturating_sub(elapsed);
                    let to_bomb = match self.pids {
                        Some(_) => self.bomb.next_at.saturating_sub(elapsed),
                        None => TICK,
                    };
                    TICK.min(to_deadline).min(to_watch).min(to_sample).min(to_bomb)
                }
            };
            self.poll(wait, &mut chunk)?;
        }
    }

    /// Decides whether the run is over: P ended, an output stream is
    /// flooded, the clock ran out, or the tree is deadlocked. Meanwhile,
    /// samples what the tree uses.
    fn decide(&mut self, elapsed: Duration) {
        // Every /proc file of the run is read as the run's user.
        let _as_the_run = ReadAs::new(self.read_as);
        if let Some(status) = self.program_end.clone() {
            let left: Vec<Proc> = self.tree().into_iter().filter(|p| !p.is_zombie()).collect();
            // A last sample, counting P, which was there a moment ago: a
            // program that fails at the process limit has just filled it.
            self.sample(&left);
            self.usage.tasks = self.usage.tasks.max(self.last_tasks + 1);
            // RLIMIT_NPROC counts all the user's processes, the run's and
            // others': a failure there shows in the user's count (once per
            // failed run, as it reads all of /proc).
            if let Some((uid, limit)) = self.nproc.filter(|_| status != Status::Exited(0)) {
                let tasks = tree::tasks_of_user(uid) + 1;
                self.user_at_limit = (tasks >= limit).then_some(tasks);
            }
            self.left_running = left;
            self.conclude(status, elapsed);
        } else if self.failed.is_some() {
            self.conclude(Status::Exited(127), elapsed);
        } else if let Some((name, total)) = self.flooded() {
            self.notes.push(format!(
                "stopped after {:.1} s as it kept writing: {} to {name}, more than {FLOOD_FACTOR} \
                 times the {} kept",
                elapsed.as_secs_f64(),
                names::bytes(total),
                names::bytes(self.cap as u64)
            ));
            self.conclude(Status::OutputLimit, elapsed);
        } else if elapsed >= self.timeout {
            let tree = self.tree();
            let pids: Vec<i32> = tree.iter().map(|p| p.pid).collect();
            let explanation = diagnose::diagnose(&pids).explain();
            let running = tree.iter().filter(|p| !p.is_zombie()).count();
            self.notes.push(format!(
                "timed out after {:.1} s, with {} (all killed):",
                self.timeout.as_secs_f64(),
                count(running, "process running", "processes running")
            ));
            self.notes.extend(shorten(explanation));
            self.reported.extend(pids);
            self.conclude(Status::TimedOut, elapsed);
        } else if self.pid.is_some() && self.pids.is_some() && elapsed >= self.bomb.next_at {
            // With a cgroup, two small files tell a fork bomb: look often.
            self.bomb.next_at = elapsed + BOMB_EVERY;
            if let Some(note) = self.fork_bomb(elapsed) {
                self.notes.push(note);
                self.conclude(Status::ProcessLimit, elapsed);
            }
        } else if self.pid.is_some()
            && elapsed >= self.next_sample.min(self.watch.next_at.unwrap_or(WATCH_START))
        {
            let tree = self.tree();
            if elapsed >= self.next_sample {
                self.next_sample = elapsed + TICK;
                self.sample(&tree);
                if self.pids.is_none() {
                    if let Some(note) = self.fork_bomb(elapsed) {
                        self.notes.push(note);
                        self.conclude(Status::ProcessLimit, elapsed);
                        return;
                    }
                }
            }
            if elapsed < self.watch.next_at.unwrap_or(WATCH_START) {
                return;
            }
            self.watch.next_at = Some(elapsed + WATCH_EVERY);
            // A process on a CPU is no deadlock, and reading every process's
            // descriptors costs the runner more than the stat it has read:
            // skip the diagnosis, and start the two-sample watch again.
            if tree.iter().any(|p| p.state == 'R') {
                self.watch.previous = None;
                return;
            }
            let pids: Vec<i32> = tree.iter().map(|p| p.pid).collect();
            if let Some(explanation) = self.watch.deadlock(&pids) {
                let when = elapsed.as_secs_f64();
                self.notes
                    .push(format!("stopped as deadlocked after {when:.1} s:"));
                self.notes.extend(shorten(explanation));
                self.reported.extend(pids);
                self.conclude(Status::Deadlock, elapsed);
            }
        }
    }

    /// The stream that has carried [`FLOOD_FACTOR`] times the cap, if any:
    /// (its name, its bytes).
    fn flooded(&self) -> Option<(&'static str, u64)> {
        let flood = (self.cap as u64).saturating_mul(FLOOD_FACTOR).max(FLOOD_MIN);
        [("stdout", &self.stdout), ("stderr", &self.stderr)]
            .into_iter()
            .map(|(name, stream)| (name, stream.total()))
            .find(|&(_, total)| total >= flood)
    }

    /// Samples the tree's memory and its count of processes and threads.
    fn sample(&mut self, tree: &[Proc]) {
        let mut tasks = 0;
        for p in tree.iter().filter(|p| !p.is_zombie()) {
            let Some(usage) = tree::usage(p.pid) else { continue };
            tasks += usage.threads;
            self.usage.memory(usage.peak_rss, || p.label());
        }
        self.usage.tasks = self.usage.tasks.max(tasks);
        self.last_tasks = tasks;
    }

    /// After a sample: whether the run is a fork bomb, kept at its process
    /// limit (forks refused, where a cgroup counts them) for
    /// [`BOMB_SAMPLES`] samples in a row; the verdict's note if so.
    fn fork_bomb(&mut self, elapsed: Duration) -> Option<String> {
        let limit = self.limits.processes;
        let refused = self.pids.map(|cgroup| (cgroup.limit_hits(), cgroup.current()));
        let at_limit = match refused {
            Some((refused, current)) => {
                let more = refused > self.bomb.refused;
                self.bomb.refused = refused;
                more || (refused > 0 && current >= limit)
            }
            None => self.last_tasks >= limit,
        };
        if !at_limit {
            self.bomb.streak = 0;
            return None;
        }
        self.bomb.streak += 1;
        if self.bomb.streak < BOMB_SAMPLES {
            return None;
        }
        let when = elapsed.as_secs_f64();
        Some(match refused {
            Some((n, _)) => format!(
                "fork bomb: {} refused at the limit of {limit} processes; stopped after {when:.1} s",
                count(usize::try_from(n).unwrap_or(usize::MAX), "fork", "forks")
            ),
            None => format!(
                "fork bomb: the run stayed at its limit of {limit} processes and threads; stopped after \
                 {when:.1} s"
            ),
        })
    }

    /// Records the verdict and tells S to kill whatever is left.
    fn conclude(&mut self, status: Status, elapsed: Duration) {
        self.verdict = Some(status);
        self.verdict_at = Some(elapsed);
        self.reported.extend(self.left_running.iter().map(|p| p.pid));
        if let Some(control) = self.control.take() {
            // One byte, then end of file: either tells S to kill. EPIPE (S
            // already gone) is fine.
            let _ = syscalls::write(&control, b"K");
        }
        self.killing_since = Some(Instant::now());
    }

    /// The processes of the run right now (S excluded).
    fn tree(&self) -> Vec<Proc> {
        tree::descendants(self.supervisor)
    }

    /// S did not finish killing in time (processes stuck in the kernel):
    /// kill S itself, so that it can be reaped, and say so.
    fn give_up(&mut self) {
        self.gave_up = true;
        let stuck = {
            let _as_the_run = ReadAs::new(self.read_as);
            labels(&self.tree())
        };
        // SAFETY: kill takes plain integers; S is our unreaped child.
        unsafe { libc::kill(self.supervisor, libc::SIGKILL) };
        self.notes.push(format!(
            "could not kill every process within {} s: {}",
            KILL_GRACE.as_secs(),
            stuck
        ));
    }

    /// Waits at most `wait` for any descriptor, then serves them all.
    fn poll(&mut self, wait: Duration, chunk: &mut [u8]) -> io::Result<()> {
        let entry = |fd: Option<&OwnedFd>, events| libc::pollfd {
            fd: fd.map_or(-1, AsRawFd::as_raw_fd),
            events,
            revents: 0,
        };
        let mut fds = [
            entry(self.stdout.fd.as_ref(), libc::POLLIN),
            entry(self.stderr.fd.as_ref(), libc::POLLIN),
            entry(self.report.as_ref(), libc::POLLIN),
            entry(self.stdin.as_ref(), libc::POLLOUT),
        ];
        let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` is a valid array of pollfds; -1 entries are ignored.
        cvt_r(|| unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) })?;
        if fds[0].revents != 0 {
            self.stdout.pump(self.cap, chunk)?;
        }
        if fds[1].revents != 0 {
            self.stderr.pump(self.cap, chunk)?;
        }
        if fds[3].revents != 0 {
            self.feed();
        }
        if fds[2].revents != 0 {
            self.read_records(chunk)?;
        }
        Ok(())
    }

    /// Writes what the pipe takes of stdin; closes it when all is written or
    /// the program closed its end (EPIPE: it need not read its input).
    fn feed(&mut self) {
        let Some(fd) = &self.stdin else { return };
        let rest = &self.stdin_data[self.stdin_done..];
        match syscalls::write(fd, rest) {
            Ok(n) => {
                self.stdin_done += n;
                if self.stdin_done == self.stdin_data.len() {
                    self.stdin = None;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => self.stdin = None,
        }
    }

    /// Reads S's records; end of file means S has exited.
    fn read_records(&mut self, chunk: &mut [u8]) -> io::Result<()> {
        let Some(fd) = &self.report else { return Ok(()) };
        match syscalls::read(fd, chunk) {
            Ok(0) => self.report = None,
            Ok(n) => self.report_buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let whole = self.report_buf.len() / spawn::RECORD_LEN * spawn::RECORD_LEN;
        let bytes: Vec<u8> = self.report_buf.drain(..whole).collect();
        for record in bytes.chunks_exact(spawn::RECORD_LEN) {
            let Ok(record) = record.try_into() else { continue };
            if let Some(record) = Record::decode(record) {
                self.on_record(record);
            }
        }
        Ok(())
    }

    fn on_record(&mut self, record: Record) {
        match record {
            Record::Started { pid } => self.pid = Some(pid),
            Record::Failed { stage, errno, detail } => self.failed = Some((stage, errno, detail)),
            Record::Exited {
                pid,
                code,
                status,
                max_rss,
                comm,
            } => {
                let end = match code {
                    libc::CLD_EXITED => Status::Exited(status),
                    _ => Status::Signaled(status),
                };
                let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
                let name = String::from_utf8_lossy(&comm[..len]);
                let label = || format!("pid {pid} ({name})");
                self.usage.memory(u64::from(max_rss) * 1024, label);
                if self.verdict.is_none() && end == Status::Signaled(libc::SIGKILL) {
                    self.killed.push(label());
                }
                if Some(pid) == self.pid {
                    self.program_end = Some(end);
                    return;
                }
                // Killed by S on our word: already reported, or a process
                // that appeared while the tree was being killed.
                let killed_by_us = self.verdict.is_some() && end == Status::Signaled(libc::SIGKILL);
                if killed_by_us || self.reported.contains(&pid) {
                    return;
                }
                self.orphans.push(Process {
                    pid,
                    name: name.into_owned(),
                });
            }
        }
    }

    /// Builds the outcome once every process is gone.
    fn finish(mut self, spec: &Spec, counts: &Counts) -> io::Result<Outcome> {
        if let Some((stage, errno, _)) = self.failed {
            let e = io::Error::from_raw_os_error(errno);
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "sandbox: cannot start {}: {} failed: {e}",
                    spec.program.display(),
                    Stage::from_code(stage)
                ),
            ));
        }
        // Every writer is dead: take what is left in the pipes without
        // waiting for end of file (a stray copy of a write end elsewhere
        // must not hold us).
        let mut chunk = vec![0u8; 64 * 1024];
        for stream in [&mut self.stdout, &mut self.stderr] {
            while stream.fd.is_some() {
                let before = stream.kept.len() as u64 + stream.dropped;
                stream.pump(self.cap, &mut chunk)?;
                if stream.kept.len() as u64 + stream.dropped == before {
                    break;
                }
            }
        }
        let pid = self
            .pid
            .ok_or_else(|| io::Error::other("sandbox: the supervisor ended before starting the program"))?;
        let ended = self
            .verdict
            .clone()
            .ok_or_else(|| io::Error::other("sandbox: the supervisor died"))?;

        let (status, mut notes) = self.judge(&ended, counts);
        if !self.left_running.is_empty() {
            let n = self.left_running.len();
            notes.push(format!(
                "left {} running: {}; {} killed",
                count(n, "process", "processes"),
                labels(&self.left_running),
                if n == 1 { "it was" } else { "they were" }
            ));
        }
        notes.append(&mut self.notes);
        let extra = self.orphans.len().saturating_sub(MAX_ORPHAN_NOTES);
        notes.extend(self.orphans.iter().take(MAX_ORPHAN_NOTES).map(|p| {
            format!(
                "child {} ({}) exited but its parent never waited for it",
                p.pid, p.name
            )
        }));
        if extra > 0 {
            notes.push(format!("… and {extra} more children never waited for"));
        }
        for (name, stream) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if stream.dropped > 0 {
                notes.push(format!(
                    "{name} was cut at {} bytes: {} more bytes were dropped",
                    self.cap, stream.dropped
                ));
            }
        }
        if let Some(n) = counts
            .forks_refused
            .filter(|&n| n > 0 && status != Status::ProcessLimit)
        {
            notes.push(self.forks_refused(n));
        }
        if let Some(note) = self
            .oom_kills(counts)
            .filter(|_| status != Status::MemoryLimit(Memory::Run))
        {
            notes.push(note);
        }
        Ok(Outcome {
            pid,
            status,
            stdout: self.stdout.kept,
            stderr: self.stderr.kept,
            stdout_truncated: self.stdout.dropped,
            stderr_truncated: self.stderr.dropped,
            duration: self.verdict_at.unwrap_or_else(|| self.start.elapsed()),
            notes,
            timeout: self.timeout,
            limits: self.limits.clone(),
            isolation: Isolation::default(),
            left_running: self
                .left_running
                .iter()
                .map(|p| Process {
                    pid: p.pid,
                    name: p.comm.clone(),
                })
                .collect(),
            not_waited: self.orphans,
        })
    }

    /// The run's status, from how it `ended` and the evidence that a limit
    /// made it fail (see "Which limit ended a run" in the crate docs), with
    /// the note that says why.
    fn judge(&self, ended: &Status, counts: &Counts) -> (Status, Vec<String>) {
        let failed = matches!(*ended, Status::Exited(c) if c != 0) || matches!(ended, Status::Signaled(_));
        let by_itself = matches!(ended, Status::Exited(_) | Status::Signaled(_));
        let then = match ended {
            Status::Exited(_) | Status::Signaled(_) => format!("; the program then {}", names::ending(ended)),
            Status::TimedOut => format!(
                "; the program then timed out after {:.1} s",
                self.timeout.as_secs_f64()
            ),
            _ => String::new(),
        };
        let stderr = String::from_utf8_lossy(&self.stderr.kept);
        if failed {
            if let Some((memory, why)) = self.memory_evidence(counts, &stderr) {
                return (Status::MemoryLimit(memory), vec![why + &then]);
            }
        }
        if failed || *ended == Status::TimedOut {
            if let Some(why) = self.process_evidence(counts, &stderr) {
                return (Status::ProcessLimit, vec![why + &then]);
            }
        }
        if by_itself && self.stdout.dropped + self.stderr.dropped > 0 {
            let why = format!(
                "it wrote more than the {} kept of each output stream",
                names::bytes(self.cap as u64)
            );
            return (Status::OutputLimit, vec![why + &then]);
        }
        (ended.clone(), Vec::new())
    }

    /// Why the run is out of memory, if it is: (which limit, the evidence).
    fn memory_evidence(&self, counts: &Counts, stderr: &str) -> Option<(Memory, String)> {
        if let Some(why) = self.oom_kills(counts) {
            return Some((Memory::Run, why));
        }
        let limit = self.limits.address_space;
        let each = format!("each process may have {} of address space", names::bytes(limit));
        let said = stderr.lines().map(str::trim).find(|line| {
            (line.contains("memory allocation of ") && line.contains(" bytes failed"))
                || line.contains("Cannot allocate memory")
        });
        if let Some(line) = said {
            return Some((Memory::AddressSpace, format!("out of memory: {line:?} ({each})")));
        }
        let (peak, who) = self.usage.memory.as_ref()?;
        (*peak >= limit / NEAR_LIMIT.1 * NEAR_LIMIT.0).then(|| {
            (
                Memory::AddressSpace,
                format!(
                    "out of memory: {who} grew to use {} ({each})",
                    names::bytes(*peak)
                ),
            )
        })
    }

    /// Why the run is out of processes, if it is.
    fn process_evidence(&self, counts: &Counts, stderr: &str) -> Option<String> {
        let limit = self.limits.processes;
        if let Some(n) = counts.forks_refused {
            return (n > 0).then(|| self.forks_refused(n));
        }
        // No cgroup counted: the samples, the user's count, or what the
        // program said.
        if self.usage.tasks >= limit {
            return Some(format!(
                "the run reached {} processes and threads at once, its limit",
                self.usage.tasks
            ));
        }
        if let Some(tasks) = self.user_at_limit {
            return Some(format!(
                "its user's processes and threads reached {tasks}, the limit (RLIMIT_NPROC counts \
                 the user's other processes too, so the run may have fewer than {limit})"
            ));
        }
        let said = stderr.lines().map(str::trim).find(|line| {
            line.contains("Resource temporarily unavailable")
                && ["fork", "thread", "spawn", "clone"]
                    .iter()
                    .any(|w| line.contains(w))
        })?;
        Some(format!(
            "out of processes: {said:?} (the run may have {limit} processes and threads)"
        ))
    }

    /// "fork (or thread creation) failed 37 times at the limit of 256
    /// processes and threads".
    fn forks_refused(&self, n: u64) -> String {
        format!(
            "fork (or thread creation) failed {} at the limit of {} processes and threads",
            count(usize::try_from(n).unwrap_or(usize::MAX), "time", "times"),
            self.limits.processes
        )
    }

    /// The note on the processes the kernel killed at the memory limit, if
    /// it did.
    fn oom_kills(&self, counts: &Counts) -> Option<String> {
        let n = counts.oom_kills.filter(|&n| n > 0)?;
        // The victims are known by name when S reaped them; a parent of the
        // run that reaped its own children leaves only the count.
        let whom = if self.killed.len() as u64 == n {
            self.killed.join(", ")
        } else {
            format!("{} of the run", count(n as usize, "process", "processes"))
        };
        Some(format!(
            "out of memory: the kernel killed {whom} when the run's processes together reached \
             their {}",
            names::bytes(self.limits.memory)
        ))
    }
}

/// "pid 913 (sleep), pid 914 (sh)", the first few only.
fn labels(procs: &[Proc]) -> String {
    const SHOWN: usize = 8;
    let mut text: Vec<String> = procs.iter().take(SHOWN).map(Proc::label).collect();
    if procs.len() > SHOWN {
        text.push(format!("and {} more", procs.len() - SHOWN));
    }
    text.join(", ")
}

/// The diagnosis, cut to its first sentences when a big tree makes it long.
fn shorten(mut sentences: Vec<String>) -> Vec<String> {
    const SHOWN: usize = 12;
    if sentences.len() > SHOWN {
        let more = sentences.len() - SHOWN;
        sentences.truncate(SHOWN);
        sentences.push(format!("… and {more} more like these"));
    }
    sentences
}

/// "1 process", "3 processes".
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
