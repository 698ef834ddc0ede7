//! Runs one untrusted program and reports what it did.
//!
//! Student programs for lecture 16 fork, block and leak by design: a parent
//! that forgets to close a write end blocks forever, a child outlives its
//! parent, a double fork escapes into its own session. [`run`] starts such a
//! program and stays in control whatever it does, then hands back an
//! [`Outcome`] for the checks to judge.
//!
//! ```no_run
//! use std::time::Duration;
//! let spec = sandbox::Spec::new("/path/to/bin")
//!     .args(["--atomic"])
//!     .stdin(b"input".to_vec())
//!     .timeout(Duration::from_secs(5));
//! let outcome = sandbox::run(&spec)?; // Err only when the sandbox itself failed
//! println!("the program {}", outcome.summary()); // "exited with status 0"
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Design
//!
//! **One supervisor process per run.** A child subreaper
//! (`PR_SET_CHILD_SUBREAPER`) receives every orphan of its subtree, and the
//! natural way to collect them is `waitpid(-1)`. That is a property of a
//! whole process, so it cannot be shared: the checker runs several checks on
//! several threads at once, and two runs reaping with `waitpid(-1)` in one
//! process would steal each other's children. So [`run`] forks a small
//! *supervisor* (S) per run; S makes itself the subreaper and forks the
//! program (P). Every process the program ever creates stays below S, dead or
//! alive, whatever it does with `setsid` or double forks; the runner thread
//! only ever waits for its own S, by pid.
//!
//! **Async-signal-safe after the fork.** The runner lives in a multithreaded
//! process, so a forked child may only make async-signal-safe calls until it
//! execs: another thread may have held the allocator's lock at the moment of
//! the fork. Rather than re-executing a helper binary (which would need a
//! hook in every caller's `main`, including the test harness), S and P run a
//! short straight-line sequence of raw system calls (`spawn.rs`), on
//! data prepared before the first fork: every path, argument and environment
//! string is a `CString` with its pointer array built in advance, records to
//! the runner are fixed 32-byte arrays on the stack, numbers are formatted
//! into stack buffers. Nothing between `fork` and `execve`/`_exit` allocates,
//! locks, or unwinds.
//!
//! **Who does what.**
//! - S: own process group (so a terminal's Ctrl-C goes to the runner, not to
//!   it); closes every descriptor it does not need (a concurrent run's pipe
//!   ends would otherwise stay open in it and delay that run's end of file);
//!   subreaper; forks P; then reaps every child that ends, reading its name
//!   from `/proc/PID/comm` while it is still a zombie (`waitid(WNOWAIT)`),
//!   and sends the runner one record per reaped process. On the runner's
//!   word — or when the runner disappears (its control pipe reaches end of
//!   file) — S kills the tree: `SIGKILL` to P's process group while P is not
//!   yet reaped, and to each of its own children by pid, repeatedly, until it
//!   has no child left; then it exits. Both kinds of kill are free of pid
//!   reuse races: a process group cannot be recycled while its leader is an
//!   unreaped child of S, and neither can the pid of one of S's children,
//!   because only S reaps them. A process deeper in the tree (a grandchild
//!   that escaped with `setsid`) becomes S's child as soon as its parent is
//!   killed, so layer by layer every process is reached.
//! - P, between fork and exec: new session (`setsid`, so P's group is P),
//!   default signal dispositions (including `SIGPIPE`, which Rust ignores
//!   and an exec would keep ignored) and an empty signal mask, its cgroups,
//!   the rlimits (hard limits it cannot raise), the user drop, the
//!   working directory, stdin/stdout/stderr on the run's pipes, every other
//!   descriptor closed, `execve` with a scrubbed environment.
//! - The runner thread: one `poll` loop that writes stdin (non-blocking, so
//!   a program that never reads its input cannot deadlock us), reads stdout
//!   and stderr (each capped, the excess counted), reads S's records (one
//!   per reaped process, with its peak resident memory), and ticks every
//!   50 ms to watch the clock and, through `/proc`, the tree and what it
//!   uses.
//!   When P has exited it lists what is still alive below S ("left 2
//!   processes running: …") and tells S to kill; on a timeout it first asks
//!   the hang diagnosis about every process of the tree, then tells S to
//!   kill. Reading ends when S has exited — every process of the run is dead
//!   then — with a last non-blocking drain, never a wait for end of file.
//!
//! **Listing the tree.** Every process of a run is a descendant of S, so the
//! runner walks `/proc/S/task/*/children` downwards (or, on a kernel without
//! those files, all of `/proc` by parent pid). The listing is only read,
//! for reports and the diagnosis; killing is S's job, so a stale listing can
//! never make us kill a stranger that got a recycled pid.
//!
//! **Limits.** Wall-clock timeout ([`Status::TimedOut`]); `RLIMIT_AS`,
//! `RLIMIT_FSIZE`, `RLIMIT_NOFILE`, `RLIMIT_NPROC` and `RLIMIT_CORE = 0`,
//! each with soft = hard, so the program cannot raise them; `RLIMIT_CPU`
//! with the hard limit one second above the soft one, because at the hard
//! limit the kernel sends `SIGKILL`, and only below it `SIGXCPU`, which
//! names the cause. Deadlocks end a run early ([`Status::Deadlock`]): from
//! 200 ms on, every 100 ms, the runner samples the tree with
//! [`diagnose()`], and stops the run when two samples in a row agree that
//! every process waits on another one of the tree. So do floods: a program
//! that has written four times [`Limits::output_cap`] (at least 64 KiB) to
//! stdout or to stderr is stopped ([`Status::OutputLimit`]) instead of
//! being read until the timeout.
//!
//! **Which limit ended a run.** A program that fails because a limit
//! refused it something rarely says so plainly: Rust aborts when an
//! allocation fails, C's `malloc` returns `NULL` and the program crashes
//! later, `fork` fails with `EAGAIN`. When the program failed (a non-zero
//! status or a signal; for the process budget also a timeout), the runner
//! looks for the evidence and reports the limit instead, the bare ending
//! going into a note:
//! - [`Status::MemoryLimit`]: the kernel's out-of-memory killer acted in the
//!   run's memory cgroup (its `oom_kill` count); or stderr shows Rust's
//!   "memory allocation of N bytes failed" or `ENOMEM`'s "Cannot allocate
//!   memory"; or a process of the run came within a quarter of
//!   [`Limits::address_space`] with its resident memory (sampled every
//!   50 ms from `VmHWM`, read exactly from `ru_maxrss` when S reaps it; not
//!   the address space itself, which the C library inflates with 64 MiB
//!   reserved per thread).
//! - [`Status::ProcessLimit`]: with a `pids` cgroup, its count of forks
//!   refused at the limit; without one, the run's processes and threads
//!   reached the budget in a sample, or the user's processes were at
//!   `RLIMIT_NPROC` when the program failed, or stderr shows `EAGAIN`'s
//!   "Resource temporarily unavailable" on a line about a fork or a thread.
//! - [`Status::OutputLimit`]: bytes were dropped from stdout or stderr
//!   (whatever the exit status: the output the checks see is cut).
//!
//! Evidence is looked for in that order; a deadlock keeps its own status.
//!
//! **Process budget.** `RLIMIT_NPROC` counts every process (and thread) of
//! the real user. Each run has a user of its own (below), so the limit is
//! the run's own; where a `pids` cgroup can be created (cgroup v1 `pids`
//! hierarchy, or v2 with the controller enabled) each run also gets one with
//! `pids.max` = [`Limits::processes`], joined by P before exec, which counts
//! how often a fork hit it, and `RLIMIT_NPROC` is set a little above it so
//! that the cgroup is the one that refuses. **A fork bomb** — a run that
//! keeps hitting its budget, refused forks piling up, three samples in a
//! row — is stopped at once ([`Status::ProcessLimit`], "fork bomb: 3860
//! forks refused at the limit of 256 processes"), like a deadlock, instead
//! of spinning until the timeout beside other runs.
//!
//! **Memory.** `RLIMIT_AS` bounds each process; nothing bounds a run's
//! processes together, and 256 processes of 1 GiB each would take the
//! machine down. Where a `memory` cgroup can be created (v1 hierarchy, or
//! v2 with the controller enabled), each run gets one with a limit of
//! [`Limits::memory`] (and no swap beyond it), joined by P before exec like
//! the `pids` one: past it, the kernel kills a process of the run, and the
//! outcome says so. A `cpu` cgroup of equal weight per run shares the
//! processors fairly between runs side by side (`cgroup.rs`).
//!
//! **Isolation between runs** (as strict as `isolate` where the kernel
//! allows; every protection a run had, and why any is missing, is in
//! [`Outcome::isolation`]):
//! - *identity*: when the runner is root, each run borrows a uid and gid of
//!   its own from a pool (`identity.rs`; 61000 and up, no account needed),
//!   given back only when every process of the run is gone, so process
//!   limits, signals and `/proc` access are per run. It has no
//!   supplementary groups and `PR_SET_NO_NEW_PRIVS`.
//! - *namespaces*, when root: a mount namespace with a new root that shows
//!   the system read-only and a private, size-capped `/tmp`, `/var/tmp`,
//!   `/dev/shm` and working directory ([`Limits::scratch`]), and nothing
//!   else of the machine (no workspace, submissions, results or caches);
//!   a network namespace with only loopback; an IPC namespace
//!   (`namespace.rs`). Never a PID namespace: pids are part of the
//!   lecture's output and of the checks.
//! - *`/proc` as the run*: the runner reads a run's `/proc` files with its
//!   thread's filesystem ids set to the run's, so the hang diagnosis needs
//!   no `CAP_SYS_PTRACE` (which Docker drops from root).
//! - *fallbacks*: not root (a student's laptop), in a container that
//!   refuses namespaces or cgroups, or with the pool exhausted, the run goes
//!   on with what remains, and the outcome says what was missing.
//!
//! **Place.** Each run has a fresh working directory (its `HOME`), owned by
//! its user, with the program in it (a hard link when the binary is
//! read-only and root's or ours, which that user cannot change, else a
//! copy); with a mount namespace that directory is in the run's `tmpfs`
//! and the program is bound into it read-only. The environment holds only
//! `PATH`, `HOME` and `LANG`. Not as root, the same minus the user drop and
//! the namespaces; as `RLIMIT_NPROC` counts every process of the real user,
//! it is then set to the user's current count plus the limit.
//!
//! **Known limits.** Not as root, the program runs as the runner's user and
//! could signal the runner itself (`kill(-1, …)`). Processes stuck in
//! uninterruptible sleep may outlive a `SIGKILL` for a while: after 5 s S is
//! given up on, a note says so, and the run's uid is never lent again by
//! this runner. If the runner dies mid-run (Ctrl-C), S still kills the
//! tree, but the run's directory and cgroups stay behind until the next
//! runner sweeps them (their names carry the runner's pid). The evidence
//! for a limit is circumstantial where no cgroup counts: a program that
//! reserves memory without touching it (so that it never becomes resident)
//! and then crashes without a word on stderr is reported by its signal.
//! Run as the runner ([`Identity::Runner`]) as root, the program keeps
//! root's right to raise its own rlimits.

mod cgroup;
pub mod diagnose;
mod identity;
mod names;
mod namespace;
mod run;
mod spawn;
mod tree;

pub use identity::{
    DEFAULT_COUNT as DEFAULT_POOL_SIZE, DEFAULT_FIRST as DEFAULT_POOL_FIRST, RANGE_ENV as POOL_ENV,
};

pub use diagnose::{Diagnosis, diagnose};

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// What to run and under which limits.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The program to execute.
    pub program: PathBuf,
    /// Its arguments (not including `argv[0]`, which is the program's file name).
    pub args: Vec<OsString>,
    /// Bytes fed to its standard input, which is then closed.
    pub stdin: Vec<u8>,
    /// Resource limits.
    pub limits: Limits,
    /// Whose identity the program runs with when the runner is root.
    pub identity: Identity,
    /// Folders (or files) the program may read, at their own paths, where a
    /// mount namespace hides the rest of the machine. Each must exist.
    pub readable: Vec<PathBuf>,
    /// Folders the program may write, at their own paths: each belongs to
    /// the run's user during the run, and everything in it to the runner's
    /// again after (links and files of other owners left as they are).
    pub writable: Vec<PathBuf>,
    /// Whether to make the run's namespaces where the kernel allows (the
    /// default). Off for a trusted program that needs the machine's own
    /// view, and to measure what the namespaces cost.
    pub namespaces: bool,
}

/// Whose identity a program runs with, when the runner is root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Identity {
    /// A uid and gid of the run's own, from the pool (see "Isolation
    /// between runs" in the crate docs).
    #[default]
    Own,
    /// The runner's own (root): for trusted programs and the sandbox's own
    /// tests. Namespaces still apply.
    Runner,
}

/// One protection a run may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protection {
    /// A uid and gid of its own: process limits, signals and `/proc` are
    /// the run's alone.
    OwnUser,
    /// A mount namespace: a private `/tmp`, `/var/tmp`, `/dev/shm`, and
    /// nothing of the machine but the system.
    MountNamespace,
    /// A network namespace with only loopback.
    NetworkNamespace,
    /// An IPC namespace.
    IpcNamespace,
    /// A `pids` cgroup: a process budget that counts refused forks.
    ProcessCgroup,
    /// A `memory` cgroup: a memory limit for the run as a whole.
    MemoryCgroup,
    /// A `cpu` cgroup: an equal share of the processors.
    CpuCgroup,
}

impl Protection {
    /// Every protection, in the order they are reported.
    pub const ALL: [Protection; 7] = [
        Protection::OwnUser,
        Protection::MountNamespace,
        Protection::NetworkNamespace,
        Protection::IpcNamespace,
        Protection::ProcessCgroup,
        Protection::MemoryCgroup,
        Protection::CpuCgroup,
    ];

    /// Its name in reports: "own user", "mount namespace"…
    pub fn name(self) -> &'static str {
        match self {
            Protection::OwnUser => "own user",
            Protection::MountNamespace => "mount namespace",
            Protection::NetworkNamespace => "network namespace",
            Protection::IpcNamespace => "IPC namespace",
            Protection::ProcessCgroup => "process cgroup",
            Protection::MemoryCgroup => "memory cgroup",
            Protection::CpuCgroup => "cpu cgroup",
        }
    }
}

/// Why a run went without a protection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Absence {
    /// The runner is not root: it cannot change user or make namespaces.
    NotRoot,
    /// The spec asked for the runner's identity ([`Identity::Runner`]).
    RunnerIdentity,
    /// The spec asked for none ([`Spec::namespaces`]).
    NotAsked,
    /// Every uid of the pool was lent: the run shared the overflow uid.
    PoolExhausted,
    /// The kernel refused; the call and its error, for people.
    Refused(String),
    /// No cgroup of that controller could be made here (not mounted, not
    /// writable, not enabled).
    Unavailable,
}

impl std::fmt::Display for Absence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Absence::NotRoot => f.write_str("not root"),
            Absence::RunnerIdentity => f.write_str("runs as the runner"),
            Absence::NotAsked => f.write_str("not asked for"),
            Absence::PoolExhausted => f.write_str("every uid of the pool was in use"),
            Absence::Refused(why) => f.write_str(why),
            Absence::Unavailable => f.write_str("not available here"),
        }
    }
}

/// Which protections a run had, and why it lacked the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Isolation {
    /// In force for the run.
    pub in_force: Vec<Protection>,
    /// Missing, each with the reason.
    pub missing: Vec<(Protection, Absence)>,
}

impl Isolation {
    /// Whether the run had `protection`.
    pub fn has(&self, protection: Protection) -> bool {
        self.in_force.contains(&protection)
    }

    /// One line for people: "own user, mount namespace, … ; missing: cpu
    /// cgroup (not available here)".
    pub fn describe(&self) -> String {
        let mut text = if self.in_force.is_empty() {
            "no protection beyond limits and a fresh directory".to_string()
        } else {
            self.in_force
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.missing.is_empty() {
            let missing: Vec<String> = self
                .missing
                .iter()
                .map(|(p, why)| format!("{} ({why})", p.name()))
                .collect();
            text.push_str("; missing: ");
            text.push_str(&missing.join(", "));
        }
        text
    }
}

/// Resource limits for one run.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock time before the whole process tree is killed.
    pub timeout: Duration,
    /// Bytes kept of stdout and of stderr each; the rest is counted, not kept.
    pub output_cap: usize,
    /// RLIMIT_CPU, seconds: `SIGXCPU` then (the hard limit) `SIGKILL` one
    /// second later.
    pub cpu_seconds: u64,
    /// RLIMIT_AS, bytes: the address space of each process.
    pub address_space: u64,
    /// The memory of all the run's processes together (resident memory and
    /// page cache), bytes: the limit of a per-run memory cgroup when one can
    /// be made (see "Memory" in the crate docs), else not enforced.
    pub memory: u64,
    /// RLIMIT_FSIZE, bytes.
    pub file_size: u64,
    /// RLIMIT_NOFILE.
    pub open_files: u64,
    /// The run's budget of processes, threads included: `pids.max` of a
    /// per-run cgroup when one can be made, else RLIMIT_NPROC, which is
    /// shared by every run of the same user (binding only for an
    /// unprivileged user). See "Process budget" in the crate docs.
    pub processes: u64,
    /// Bytes the run may write to its private `/tmp`, `/var/tmp`,
    /// `/dev/shm` and working directory together, where it has a mount
    /// namespace (a `tmpfs` of this size).
    pub scratch: u64,
}

impl Default for Limits {
    /// Limits that every lecture 16 exercise fits in, with room to spare.
    ///
    /// - 5 s wall clock, 10 s CPU: the slowest exercise (40 million
    ///   increments on several threads) takes well under a second.
    /// - 1 GiB address space: a Rust thread reserves an 8 MiB stack, so a
    ///   dozen threads plus the allocator's arenas fit; a runaway allocation
    ///   does not. 1 GiB of memory for the whole run.
    /// - 16 MiB per written file, 256 descriptors, 1 MiB kept per stream.
    /// - 256 processes (threads count too): plenty for exercises that fork
    ///   a handful of children; a fork bomb fills it within ~0.2 s and is
    ///   stopped then.
    /// - 64 MiB of scratch space (`/tmp` and the working directory).
    fn default() -> Limits {
        Limits {
            timeout: Duration::from_secs(5),
            output_cap: 1 << 20,
            cpu_seconds: 10,
            address_space: 1 << 30,
            memory: 1 << 30,
            file_size: 16 << 20,
            open_files: 256,
            processes: 256,
            scratch: 64 << 20,
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The program exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
    /// It ran past the wall-clock timeout and was killed.
    TimedOut,
    /// The hang diagnosis found every process of the tree blocked on another
    /// one (a pipe nobody will write, a child that never ends), so the run
    /// was stopped before the timeout; the explanation is in `notes`.
    Deadlock,
    /// It wrote more than [`Limits::output_cap`] bytes to stdout or stderr:
    /// it was stopped when it had written four times as much, or it ended
    /// by itself with its output cut (how it ended is in `notes`).
    OutputLimit,
    /// It failed because memory ran out (see "Which limit ended a run" in
    /// the crate docs); how it ended and the evidence are in `notes`.
    MemoryLimit(Memory),
    /// Creating a process or thread failed at [`Limits::processes`], and
    /// the program then failed or ran into the timeout; how it ended is in
    /// `notes`.
    ProcessLimit,
}

/// Which memory limit a run ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// One process's address space ([`Limits::address_space`]): an
    /// allocation failed.
    AddressSpace,
    /// The run's memory, all processes together ([`Limits::memory`]): the
    /// kernel killed a process of the run.
    Run,
}

/// Everything a check may judge.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The pid of the program the sandbox started.
    pub pid: i32,
    /// How it ended.
    pub status: Status,
    /// Captured standard output, at most `output_cap` bytes.
    pub stdout: Vec<u8>,
    /// Captured standard error, at most `output_cap` bytes.
    pub stderr: Vec<u8>,
    /// Bytes of stdout beyond the cap, counted and dropped.
    pub stdout_truncated: u64,
    /// Bytes of stderr beyond the cap, counted and dropped.
    pub stderr_truncated: u64,
    /// Wall-clock time from start to the end of the run.
    pub duration: Duration,
    /// Human-readable remarks: processes left running and killed, children
    /// never waited for, the hang diagnosis. Empty when all was clean.
    pub notes: Vec<String>,
    /// The wall-clock limit the run had (for "timed out after 5.0 s").
    pub timeout: Duration,
    /// All the limits the run had (for "hit the memory limit (1 GiB of
    /// address space)").
    pub limits: Limits,
    /// The protections the run had, and why any was missing.
    pub isolation: Isolation,
    /// What was still running when the program itself ended (all killed);
    /// also in `notes`.
    pub left_running: Vec<Process>,
    /// Children that ended and were never waited for by their parent (the
    /// sandbox reaped them as their subreaper); also in `notes`.
    pub not_waited: Vec<Process>,
}

/// A process of a run, by pid and name (`comm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: i32,
    /// Its name, at most 15 bytes.
    pub name: String,
}

impl Outcome {
    /// One line on how the run ended, completing "the program …":
    /// "exited with status 0", "was killed by SIGSEGV", "timed out after 5.0 s",
    /// "hit the memory limit (1 GiB of address space)".
    pub fn summary(&self) -> String {
        let limits = &self.limits;
        match self.status {
            Status::Exited(_) | Status::Signaled(_) => names::ending(&self.status),
            Status::TimedOut => format!("timed out after {:.1} s", self.timeout.as_secs_f64()),
            Status::Deadlock => format!(
                "deadlocked and was stopped after {:.1} s",
                self.duration.as_secs_f64()
            ),
            Status::OutputLimit => {
                let streams = match (self.stdout_truncated > 0, self.stderr_truncated > 0) {
                    (true, true) => " on stdout and on stderr",
                    (true, false) => " on stdout",
                    (false, true) => " on stderr",
                    (false, false) => " of output",
                };
                let cap = names::bytes(limits.output_cap as u64);
                format!("hit the output limit (more than {cap}{streams})")
            }
            Status::MemoryLimit(Memory::AddressSpace) => format!(
                "hit the memory limit ({} of address space)",
                names::bytes(limits.address_space)
            ),
            Status::MemoryLimit(Memory::Run) => format!(
                "hit the memory limit ({} for all its processes)",
                names::bytes(limits.memory)
            ),
            Status::ProcessLimit => format!(
                "hit the process limit ({} processes and threads)",
                limits.processes
            ),
        }
    }

    /// Whether the run left nothing to remark on (no leftovers, no
    /// truncation, no diagnosis).
    pub fn is_clean(&self) -> bool {
        self.notes.is_empty()
    }
}

impl Spec {
    /// A spec with default limits, no arguments, empty stdin.
    pub fn new(program: impl Into<PathBuf>) -> Spec {
        Spec {
            program: program.into(),
            args: Vec::new(),
            stdin: Vec::new(),
            limits: Limits::default(),
            identity: Identity::Own,
            readable: Vec::new(),
            writable: Vec::new(),
            namespaces: true,
        }
    }

    /// Sets the arguments (replacing any set before).
    pub fn args<I, S>(mut self, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Spec {
        self.args.push(arg.into());
        self
    }

    /// Sets the bytes fed to standard input.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Spec {
        self.stdin = input.into();
        self
    }

    /// Sets the wall-clock timeout.
    pub fn timeout(mut self, timeout: Duration) -> Spec {
        self.limits.timeout = timeout;
        self
    }

    /// Sets how many bytes of stdout and of stderr are kept.
    pub fn output_cap(mut self, bytes: usize) -> Spec {
        self.limits.output_cap = bytes;
        self
    }

    /// Replaces all the limits.
    pub fn limits(mut self, limits: Limits) -> Spec {
        self.limits = limits;
        self
    }

    /// Sets whose identity the program runs with when the runner is root.
    pub fn identity(mut self, identity: Identity) -> Spec {
        self.identity = identity;
        self
    }

    /// Makes namespaces where the kernel allows (`true`, the default), or
    /// never.
    pub fn namespaces(mut self, make: bool) -> Spec {
        self.namespaces = make;
        self
    }

    /// Shows the program `path` (a folder or a file), read-only.
    pub fn readable(mut self, path: impl Into<PathBuf>) -> Spec {
        self.readable.push(path.into());
        self
    }

    /// Lets the program write into the folder `path` (see [`Spec::writable`]).
    pub fn writable(mut self, path: impl Into<PathBuf>) -> Spec {
        self.writable.push(path.into());
        self
    }
}

/// Whether runs here get a mount namespace, in which a program sees only
/// the system and what its spec shows it ([`Spec::readable`],
/// [`Spec::writable`]) at their own paths, whatever the permissions of the
/// folders above them. Found out once per process, by a run of `/bin/true`.
pub fn shows_only_what_it_is_shown() -> bool {
    static SHOWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SHOWN.get_or_init(|| {
        let probe = ["/bin/true", "/usr/bin/true"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file());
        probe.is_some_and(|p| run(&Spec::new(p)).is_ok_and(|o| o.isolation.has(Protection::MountNamespace)))
    })
}

/// Runs the program; `Err` only when the sandbox itself failed (fork, pipe…).
///
/// A program that cannot be started (missing file, not executable, bad
/// format) is also an `Err`, whose message names the step that failed.
pub fn run(spec: &Spec) -> io::Result<Outcome> {
    run::run(spec)
}
