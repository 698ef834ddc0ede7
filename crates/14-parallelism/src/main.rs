//! Exercise 14 — parallelism: concurrency is taking turns, parallelism is
//! running at the same time.
//!
//! Lecture 16 (Inter-Process Communication, Threads) tells the two apart:
//! processes or threads are *concurrent* when they are all under way, and
//! *parallel* only when their instructions really execute at the same moment,
//! on different CPUs. This program measures the difference. Two workers
//! share one fixed amount of CPU-bound work (a loop of 64-bit arithmetic,
//! no memory traffic), and the program runs them four ways:
//!
//! - as threads, pinned to one CPU (`sched_setaffinity`): concurrent only —
//!   the scheduler gives the CPU to one worker, then the other;
//! - as threads, free to use every CPU this process may use;
//! - as processes (`fork`, the result sent back through a pipe), pinned;
//! - as processes, free.
//!
//! Each run prints its wall-clock time, the CPU time it used (`getrusage`),
//! the CPUs its workers were seen on (`sched_getcpu`, sampled) and the
//! workers' combined result, which must be the same in every run: the same
//! work was done. Then the speed-up, pinned wall time over free wall time, for
//! threads and for processes, and a line that explains it. On two CPUs the
//! free runs take about half the time while the CPU time stays the same; on
//! a one-CPU machine "free" is one CPU too, and there is no speed-up.
//!
//! Affinity belongs to a thread, and is inherited: a thread starts with the
//! set of the thread that created it, a forked child with its parent's. So
//! pinning the main thread before it starts the workers pins them all.
//!
//! Run it: `cargo run -p parallelism` (or `cargo xtask run 14`); `--tsv`
//! prints the same numbers as tab-separated lines for programs
//! (`cargo xtask bench` reads them).

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::thread;
use std::time::{Duration, Instant};
use syscalls::cli::Program;
use syscalls::{
    _exit, Fork, OrExit, Usage, WaitStatus, fork, getrusage, pid_t, pipe, read, sched_getaffinity,
    sched_getcpu, sched_setaffinity, waitpid, write_all,
};

const PROGRAM: Program = Program {
    name: "parallelism",
    usage: "[--steps N] [--workers N] [--tsv]",
    about: "Runs the same CPU-bound work split over 2 workers four ways: as threads and as\n\
            processes, pinned to one CPU (sched_setaffinity) and free to use every CPU. Prints\n\
            wall and CPU times, the CPUs the workers ran on, the speed-up of free over pinned,\n\
            and why (lecture 16, \"Concurrency vs. Parallelism\").\n\
            \n\
            Options:\n  \
              --steps N     steps of work in all, shared by the workers (default 200000000)\n  \
              --workers N   number of workers, 1 to 64 (default 2)\n  \
              --tsv         tab-separated lines for programs instead of the table:\n                \
                            cpus N / run KIND CPUS WALL_US CPU_US SEEN RESULT / speedup KIND RATIO",
};

/// What the command line asked for.
struct Config {
    steps: u64,
    workers: u64,
    tsv: bool,
}

fn parse_args() -> Config {
    let mut config = Config {
        steps: 200_000_000,
        workers: 2,
        tsv: false,
    };
    let mut args = PROGRAM.args().into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        match arg.as_str() {
            "--steps" => config.steps = PROGRAM.number("--steps", args.next()),
            "--workers" => config.workers = PROGRAM.number("--workers", args.next()),
            "--tsv" => config.tsv = true,
            _ => PROGRAM.usage_error(&format!("unexpected argument '{arg}'")),
        }
    }
    if !(1..=64).contains(&config.workers) {
        PROGRAM.usage_error("--workers must be between 1 and 64");
    }
    if config.steps < config.workers {
        PROGRAM.usage_error("--steps must be at least the number of workers");
    }
    config
}

/// What one worker hands back: the result of its work, the CPUs it was
/// seen running on (bit `c % 64` set for CPU `c`), and how many CPUs it was
/// allowed to run on (its own affinity mask, read by the worker itself).
#[derive(Clone, Copy, Default)]
struct Share {
    result: u64,
    cpus_seen: u64,
    cpus_allowed: u64,
}

/// The size of a [`Share`] on the wire.
const SHARE_BYTES: usize = 24;

impl Share {
    /// The bytes a worker process sends through its pipe.
    fn to_bytes(self) -> [u8; SHARE_BYTES] {
        let mut bytes = [0u8; SHARE_BYTES];
        bytes[..8].copy_from_slice(&self.result.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.cpus_seen.to_le_bytes());
        bytes[16..].copy_from_slice(&self.cpus_allowed.to_le_bytes());
        bytes
    }

    fn from_bytes(bytes: [u8; SHARE_BYTES]) -> Share {
        let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        Share {
            result: word(0),
            cpus_seen: word(8),
            cpus_allowed: word(16),
        }
    }
}

/// How many CPUs the calling thread may run on, without allocating (a
/// forked child calls it). 0 if the kernel will not say.
fn cpus_allowed() -> u64 {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is writable and its size is passed; pid 0 is this thread.
    let ok = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } == 0;
    if ok {
        // SAFETY: `set` was filled in by the kernel just above.
        u64::try_from(unsafe { libc::CPU_COUNT(&set) }).unwrap_or(0)
    } else {
        0
    }
}

/// One worker's part of the work: `steps` rounds of a 64-bit mix, pure CPU
/// (no memory, no system calls but a CPU sample every 2^20 steps).
///
/// It allocates nothing, so a forked child may run it.
fn work(worker: u64, steps: u64) -> Share {
    // Measured here, by the worker: what it was really allowed, which is
    // what pinning is about, not what the parent meant to allow.
    let cpus_allowed = cpus_allowed();
    let mut x = worker.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut acc = 0u64;
    let mut cpus_seen = 0u64;
    for step in 0..steps {
        // An LCG step and a xorshift of its high bits: a dependency chain the
        // compiler cannot shorten or skip.
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        acc ^= x >> 29;
        acc = acc.rotate_left(7);
        if step & 0xf_ffff == 0 {
            cpus_seen |= sched_getcpu().map_or(0, |cpu| 1 << (cpu % 64));
        }
    }
    Share {
        result: acc,
        cpus_seen,
        cpus_allowed,
    }
}

/// Steps of worker `i` when `steps` are split as evenly as possible.
fn steps_of(i: u64, workers: u64, steps: u64) -> u64 {
    steps / workers + u64::from(i < steps % workers)
}

/// Runs the workers as threads of this process.
fn run_threads(workers: u64, steps: u64) -> Vec<Share> {
    thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|i| {
                thread::Builder::new()
                    .spawn_scoped(s, move || work(i, steps_of(i, workers, steps)))
                    .or_exit("pthread_create")
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("a worker thread panicked")))
            .collect()
    })
}

// ANCHOR: processes
/// Runs the workers as child processes; each sends its [`Share`] back
/// through a pipe of its own, then the parent waits for it.
fn run_processes(workers: u64, steps: u64) -> Vec<Share> {
    // TODO: start one child per worker: a pipe, then fork. The child runs
    // work(i, steps_of(i, workers, steps)), writes share.to_bytes() into the
    // pipe and leaves with _exit(0). The parent keeps the read ends and pids,
    // then reads each child's share (read_share) and waits for it.
    // BEGIN SOLUTION
    let mut children: Vec<(pid_t, OwnedFd)> = Vec::new();
    for i in 0..workers {
        let (read_end, write_end) = pipe().or_exit("pipe");
        // SAFETY: the workers are started and joined before any fork, so
        // this process has one thread here; the child only computes, writes
        // and _exits, allocating nothing.
        match unsafe { fork() }.or_exit("fork") {
            Fork::Child => {
                drop(read_end);
                let share = work(i, steps_of(i, workers, steps));
                let status = i32::from(write_all(&write_end, &share.to_bytes()).is_err());
                _exit(status)
            }
            Fork::Parent(pid) => {
                // Only the child writes: close our copy of the write end, or
                // a child that dies early would leave us waiting forever.
                drop(write_end);
                children.push((pid, read_end));
            }
        }
    }
    children
        .into_iter()
        .map(|(pid, read_end)| {
            let share = read_share(&read_end);
            match waitpid(pid, 0).or_exit("waitpid") {
                (_, WaitStatus::Exited(0)) => share,
                (_, status) => {
                    eprintln!("parallelism: worker {pid} failed ({status:?})");
                    std::process::exit(1)
                }
            }
        })
        .collect()
    // END SOLUTION
}
// ANCHOR_END: processes

/// Reads the bytes of one worker's [`Share`] from its pipe.
fn read_share(read_end: &OwnedFd) -> Share {
    let mut bytes = [0u8; SHARE_BYTES];
    let mut got = 0;
    while got < bytes.len() {
        match read(read_end, &mut bytes[got..]).or_exit("read") {
            0 => {
                eprintln!("parallelism: a worker process ended without sending its result");
                std::process::exit(1)
            }
            n => got += n,
        }
    }
    Share::from_bytes(bytes)
}

/// How the workers run.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Threads,
    Processes,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Threads => "threads",
            Kind::Processes => "processes",
        }
    }
}

/// One measured run.
struct Run {
    kind: Kind,
    cpus: usize,
    wall: Duration,
    cpu: Duration,
    seen: u32,
    result: u64,
}

// ANCHOR: measure
/// Runs the workers as `kind`, with this thread (and so every worker it
/// starts) confined to `cpus`; afterwards this thread may again use `all`.
fn measure(kind: Kind, cpus: &[usize], all: &[usize], config: &Config) -> Run {
    // TODO: confine this thread to `cpus` with sched_setaffinity. The workers
    // inherit the set: threads from the thread that creates them, processes
    // from the parent that forks them.
    // BEGIN SOLUTION
    sched_setaffinity(cpus).or_exit("sched_setaffinity");
    // END SOLUTION
    let usage = match kind {
        Kind::Threads => Usage::Process,
        Kind::Processes => Usage::Children,
    };
    let cpu_before = getrusage(usage).or_exit("getrusage");
    let start = Instant::now();
    let shares = match kind {
        Kind::Threads => run_threads(config.workers, config.steps),
        Kind::Processes => run_processes(config.workers, config.steps),
    };
    let wall = start.elapsed();
    let cpu = getrusage(usage).or_exit("getrusage").saturating_sub(cpu_before);
    sched_setaffinity(all).or_exit("sched_setaffinity");
    Run {
        kind,
        // The most any worker was allowed: a worker that could run on more
        // CPUs than `cpus` shows that the confining did not happen.
        cpus: shares
            .iter()
            .map(|s| s.cpus_allowed as usize)
            .max()
            .unwrap_or(cpus.len()),
        wall,
        cpu,
        seen: shares.iter().fold(0u64, |m, s| m | s.cpus_seen).count_ones(),
        result: shares.iter().fold(0u64, |r, s| r ^ s.result),
    }
}
// ANCHOR_END: measure

/// Pinned wall time over free wall time, from the microseconds printed.
fn speedup(pinned: &Run, free: &Run) -> f64 {
    micros(pinned.wall) as f64 / micros(free.wall).max(1) as f64
}

fn micros(d: Duration) -> u128 {
    d.as_micros()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The one line that says why the speed-up is what it is.
fn explanation(cpus: usize, workers: u64) -> String {
    let parallel = (cpus as u64).min(workers);
    if parallel <= 1 && workers > 1 {
        format!(
            "Only 1 CPU is available, so the free runs are pinned too: the {workers} workers can only \
             take turns on it (concurrency without parallelism), and there is no speed-up."
        )
    } else if workers == 1 {
        "One worker has nothing to run alongside it: no parallelism, no speed-up.".to_string()
    } else {
        format!(
            "On {cpus} CPUs up to {parallel} workers run at the same moment (parallelism); pinned to \
             one CPU they take turns (concurrency only), so the same CPU time fits in about 1/{parallel} \
             of the wall time."
        )
    }
}

// ANCHOR: main
fn main() {
    let config = parse_args();
    let all = sched_getaffinity().or_exit("sched_getaffinity");
    let one = [all[0]];

    if config.tsv {
        println!("cpus\t{}", all.len());
    } else {
        println!(
            "parallelism: {} workers share {} steps of work; this process may use {} CPU{}",
            config.workers,
            config.steps,
            all.len(),
            if all.len() == 1 { "" } else { "s" }
        );
        println!("how        CPUs   wall ms    CPU ms  seen on  result");
    }
    // Nothing buffered may be copied into the children.
    io::stdout().flush().or_exit("write");

    let mut runs = Vec::new();
    for kind in [Kind::Threads, Kind::Processes] {
        for cpus in [&one[..], &all[..]] {
            let run = measure(kind, cpus, &all, &config);
            if config.tsv {
                println!(
                    "run\t{}\t{}\t{}\t{}\t{}\t{:016x}",
                    kind.name(),
                    run.cpus,
                    micros(run.wall),
                    micros(run.cpu),
                    run.seen,
                    run.result
                );
            } else {
                println!(
                    "{:<9}  {:>4}  {:>8.1}  {:>8.1}  {:>7}  {:016x}",
                    kind.name(),
                    run.cpus,
                    millis(run.wall),
                    millis(run.cpu),
                    run.seen,
                    run.result
                );
            }
            io::stdout().flush().or_exit("write");
            runs.push(run);
        }
    }

    for kind in [Kind::Threads, Kind::Processes] {
        let [pinned, free] = [1, 2].map(|i| {
            runs.iter()
                .filter(|r| r.kind == kind)
                .nth(i - 1)
                .expect("two runs of each kind")
        });
        let ratio = speedup(pinned, free);
        if config.tsv {
            println!("speedup\t{}\t{ratio:.2}", kind.name());
        } else {
            println!(
                "speed-up with {}: {ratio:.2} ({:.1} ms pinned to 1 CPU, {:.1} ms free)",
                kind.name(),
                millis(pinned.wall),
                millis(free.wall)
            );
        }
    }
    if !config.tsv {
        println!("{}", explanation(all.len(), config.workers));
    }

    // Every run did the same work: the same result, or something is wrong.
    if runs.iter().any(|r| r.result != runs[0].result) {
        eprintln!("parallelism: the runs disagree on the result of the same work");
        std::process::exit(1);
    }
}
// ANCHOR_END: main
