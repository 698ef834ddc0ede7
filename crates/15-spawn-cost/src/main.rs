//! Exercise 15 — spawn-cost: what "forking is expensive" means, in
//! microseconds.
//!
//! Lecture 16 (Inter-Process Communication, Threads) says one reason to use
//! threads is that forking a process with a lot of data is expensive. This
//! program measures how long it takes to start something and wait for it to
//! end, four ways:
//!
//! - `fork` + `waitpid`: the child `_exit`s at once, so this is the price of
//!   copying the process (its page tables, its descriptor table) and of
//!   tearing the copy down;
//! - `fork` + `execve("/bin/true")` + `waitpid`: the classic way to run a
//!   program — copy this process, then throw the copy away for `/bin/true`;
//! - `posix_spawn("/bin/true")` + `waitpid`: the same result without the
//!   copy (glibc starts the child with `clone(CLONE_VM | CLONE_VFORK)`: it
//!   borrows the parent's memory until it execs, like `vfork`);
//! - a thread's spawn + join: no new address space at all.
//!
//! Each is repeated for a time budget (80 ms by default) and reported as the
//! median and the 90th percentile of the runs, which a few slow outliers
//! (another program taking the CPU) do not move much.
//!
//! Then the lecture's point: the parent first *touches* some memory (writes
//! one byte per page, so every page is really there), and the three process
//! starts are measured again. `fork` copies one page-table entry per touched
//! page (and marks both copies copy-on-write), so its cost grows with the
//! parent's memory: 512 MiB is 131072 pages of 4 KiB. `posix_spawn` copies
//! nothing, so its cost stays flat. (The memory is asked not to use huge
//! pages, `MADV_NOHUGEPAGE`, which would cut the number of entries 512-fold.)
//!
//! Run it: `cargo run -p spawn-cost` (or `cargo xtask run 15`), about two
//! seconds; `--quick` for a fast, smaller run; `--tsv` prints the numbers as
//! tab-separated lines for programs (`cargo xtask bench` reads them).

use std::ffi::c_void;
use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant};
use syscalls::cli::Program;
use syscalls::{_exit, Argv, Fork, OrExit, WaitStatus, cvt, execvp, fork, posix_spawn, waitpid};

const PROGRAM: Program = Program {
    name: "spawn-cost",
    usage: "[--quick] [--budget MS] [--iterations N] [--sizes MIB,...] [--tsv]",
    about: "Measures, in microseconds (median and 90th percentile), how long it takes to\n\
            start something and wait for it: fork + waitpid, fork + exec /bin/true,\n\
            posix_spawn /bin/true, and a thread's spawn + join; then how fork's cost grows\n\
            with the memory the parent has touched while posix_spawn's does not\n\
            (lecture 16: forking is expensive).\n\
            \n\
            Options:\n  \
              --budget MS       time spent on each measurement (default 80)\n  \
              --iterations N    exactly N runs per measurement instead of a time budget\n  \
              --sizes MIB,...   memory the parent touches, in MiB (default 0,64,512)\n  \
              --quick           --budget 20 --sizes 0,16\n  \
              --tsv             tab-separated lines for programs instead of the tables:\n                    \
                                cost WHAT RUNS MEDIAN_NS P90_NS / memory MIB WHAT RUNS MEDIAN_NS P90_NS",
};

/// What the command line asked for.
struct Config {
    /// Time spent on each measurement, unless `iterations` is set.
    budget: Duration,
    /// A fixed number of runs per measurement.
    iterations: Option<usize>,
    /// Memory the parent touches before the second round, in MiB.
    sizes: Vec<usize>,
    tsv: bool,
}

/// The most memory `--sizes` may ask for, in MiB.
const MAX_MIB: usize = 4096;

fn parse_args() -> Config {
    let mut config = Config {
        budget: Duration::from_millis(80),
        iterations: None,
        sizes: vec![0, 64, 512],
        tsv: false,
    };
    let mut args = PROGRAM.args().into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        match arg.as_str() {
            "--quick" => {
                config.budget = Duration::from_millis(20);
                config.sizes = vec![0, 16];
            }
            "--budget" => config.budget = Duration::from_millis(PROGRAM.number("--budget", args.next())),
            "--iterations" => match PROGRAM.number("--iterations", args.next()) {
                0 => PROGRAM.usage_error("--iterations must be at least 1"),
                n => config.iterations = Some(n),
            },
            "--sizes" => {
                let Some(list) = args.next() else {
                    PROGRAM.usage_error("--sizes needs a list of MiB, like 0,64,512");
                };
                let list = list.to_string_lossy().into_owned();
                config.sizes = list
                    .split(',')
                    .map(|s| match s.trim().parse::<usize>() {
                        Ok(mib) if mib <= MAX_MIB => mib,
                        _ => PROGRAM.usage_error(&format!(
                            "--sizes wants whole numbers of MiB up to {MAX_MIB}, separated by commas, not '{list}'"
                        )),
                    })
                    .collect();
            }
            "--tsv" => config.tsv = true,
            _ => PROGRAM.usage_error(&format!("unexpected argument '{arg}'")),
        }
    }
    config
}

/// The median and 90th percentile of one measurement's runs.
struct Stats {
    runs: usize,
    median: Duration,
    p90: Duration,
}

/// Every measurement keeps going for at least this many runs, even when
/// each one takes longer than the budget.
const MIN_RUNS: usize = 5;
/// …and stops after this many, however quick they are.
const MAX_RUNS: usize = 100_000;

/// Times `once` repeatedly, for the budget or the fixed number of runs.
fn measure(config: &Config, mut once: impl FnMut()) -> Stats {
    once(); // a warm-up run: first-touch page faults, cold caches
    let mut samples = Vec::new();
    let start = Instant::now();
    loop {
        let enough = match config.iterations {
            Some(n) => samples.len() >= n,
            None => {
                samples.len() >= MAX_RUNS || (samples.len() >= MIN_RUNS && start.elapsed() >= config.budget)
            }
        };
        if enough {
            break;
        }
        let t = Instant::now();
        once();
        samples.push(t.elapsed());
    }
    samples.sort();
    // Nearest rank: the smallest sample with at least p% of them at or below.
    let rank = |p: usize| samples[(samples.len() * p).div_ceil(100).max(1) - 1];
    Stats {
        runs: samples.len(),
        median: rank(50),
        p90: rank(90),
    }
}

// ANCHOR: start
/// Forks a child that exits at once, and waits for it.
fn fork_and_wait() {
    // TODO: fork; the child leaves at once with _exit(0), the parent waits for
    // it with waitpid. (Flushing stdout first is main's job.)
    // BEGIN SOLUTION
    // SAFETY: the child calls only _exit, which is async-signal-safe.
    match unsafe { fork() }.or_exit("fork") {
        Fork::Child => _exit(0),
        Fork::Parent(pid) => expect_success(pid),
    }
    // END SOLUTION
}

/// Forks a child that execs `argv`, and waits for it.
fn fork_exec_and_wait(argv: &Argv) {
    // SAFETY: the child calls only execvp (with `argv`, prepared before the
    // fork: nothing is allocated) and _exit.
    match unsafe { fork() }.or_exit("fork") {
        Fork::Child => {
            execvp(argv);
            _exit(127)
        }
        Fork::Parent(pid) => expect_success(pid),
    }
}

/// Starts `argv` with posix_spawn, and waits for it.
fn spawn_and_wait(argv: &Argv) {
    // TODO: start the program with posix_spawn(argv) (no copy of this process
    // is made), then wait for it.
    // BEGIN SOLUTION
    let pid = posix_spawn(argv).or_exit("posix_spawn");
    expect_success(pid);
    // END SOLUTION
}
// ANCHOR_END: start

/// Starts a thread that does nothing, and joins it.
fn thread_and_join() {
    thread::Builder::new()
        .spawn(|| ())
        .or_exit("pthread_create")
        .join()
        .unwrap_or_else(|_| panic!("an empty thread panicked"));
}

/// Waits for `pid`; anything but exit status 0 is reported and ends us.
fn expect_success(pid: syscalls::pid_t) {
    let (_, status) = waitpid(pid, 0).or_exit("waitpid");
    if status != WaitStatus::Exited(0) {
        eprintln!("spawn-cost: child {pid} did not succeed ({status:?})");
        std::process::exit(1);
    }
}

// ANCHOR: touch
/// Anonymous memory whose every page has been written, so it is really
/// there: backed by a page and mapped by a page-table entry.
struct Touched {
    addr: *mut c_void,
    len: usize,
}

impl Touched {
    fn new(len: usize) -> Touched {
        if len == 0 {
            return Touched {
                addr: std::ptr::null_mut(),
                len,
            };
        }
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // affected, and the result is checked before use.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            Err::<(), _>(io::Error::last_os_error()).or_exit("mmap");
        }
        // Huge pages (2 MiB) would need 512 times fewer entries, and hide
        // the cost we want to show. It is only advice: ignore a refusal.
        // SAFETY: `addr..addr+len` is the mapping made just above.
        let _ = cvt(unsafe { libc::madvise(addr, len, libc::MADV_NOHUGEPAGE) });
        let memory = Touched { addr, len };
        // SAFETY: the mapping is `len` bytes, readable and writable, and
        // nothing else refers to it.
        let bytes = unsafe { std::slice::from_raw_parts_mut(addr.cast::<u8>(), len) };
        // TODO: write one byte in every page (page_size() bytes apart): a page
        // nobody touched is not there yet, and fork has nothing to copy.
        // BEGIN SOLUTION
        for byte in bytes.iter_mut().step_by(page_size()) {
            *byte = 1;
        }
        // END SOLUTION
        memory
    }
}
// ANCHOR_END: touch

impl Touched {
    /// How many of its bytes are resident: backed by a page now, as
    /// `mincore` says. The evidence that every page was touched (a page
    /// that was never written is not there, and fork has nothing to copy).
    fn resident(&self) -> usize {
        if self.len == 0 {
            return 0;
        }
        let page = page_size();
        let mut present = vec![0u8; self.len.div_ceil(page)];
        // SAFETY: `addr..addr+len` is our mapping, page-aligned (mmap
        // returned it); `present` has one byte per page of it.
        cvt(unsafe { libc::mincore(self.addr, self.len, present.as_mut_ptr()) }).or_exit("mincore");
        present.iter().filter(|&&p| p & 1 == 1).count() * page
    }
}

impl Drop for Touched {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: the mapping made in `new`, which nothing uses any more.
            unsafe { libc::munmap(self.addr, self.len) };
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// One way to start something: its name in the tables and in `--tsv` lines.
#[derive(Clone, Copy)]
struct Way {
    label: &'static str,
    key: &'static str,
}

const FORK: Way = Way {
    label: "fork + waitpid",
    key: "fork",
};
const FORK_EXEC: Way = Way {
    label: "fork + exec /bin/true",
    key: "fork-exec",
};
const SPAWN: Way = Way {
    label: "posix_spawn /bin/true",
    key: "posix_spawn",
};
const THREAD: Way = Way {
    label: "thread spawn + join",
    key: "thread",
};

// ANCHOR: main
fn main() {
    let config = parse_args();
    // Built before any fork: the child must not allocate.
    let true_argv = Argv::new(["/bin/true"]).or_exit("argv");

    if !config.tsv {
        let each = match config.iterations {
            Some(1) => "1 run each".to_string(),
            Some(n) => format!("{n} runs each"),
            None => format!("each measured for {} ms", config.budget.as_millis()),
        };
        println!("spawn-cost: microseconds to start something and wait for it to end ({each})");
        println!("what                      runs    median       p90");
    }
    // A forked child gets a copy of anything still buffered.
    io::stdout().flush().or_exit("write");

    let first: [(Way, &dyn Fn()); 4] = [
        (FORK, &fork_and_wait),
        (FORK_EXEC, &|| fork_exec_and_wait(&true_argv)),
        (SPAWN, &|| spawn_and_wait(&true_argv)),
        (THREAD, &thread_and_join),
    ];
    for (Way { label, key }, once) in first {
        let s = measure(&config, once);
        if config.tsv {
            println!(
                "cost\t{key}\t{}\t{}\t{}",
                s.runs,
                s.median.as_nanos(),
                s.p90.as_nanos()
            );
        } else {
            println!(
                "{label:<22} {:>7} {:>9.1} {:>9.1}",
                s.runs,
                micros(s.median),
                micros(s.p90)
            );
        }
        io::stdout().flush().or_exit("write");
    }

    if !config.tsv {
        println!("after the parent touched some memory (medians, µs):");
        println!("touched   resident  fork + waitpid  fork + exec /bin/true  posix_spawn /bin/true");
    }
    let mut medians: Vec<(usize, Duration, Duration)> = Vec::new();
    for &mib in &config.sizes {
        let memory = Touched::new(mib << 20);
        let resident = memory.resident();
        if config.tsv {
            println!("touched\t{mib}\t{resident}");
        }
        let per_size: [(Way, &dyn Fn()); 3] = [
            (FORK, &fork_and_wait),
            (FORK_EXEC, &|| fork_exec_and_wait(&true_argv)),
            (SPAWN, &|| spawn_and_wait(&true_argv)),
        ];
        let stats = per_size.map(|(Way { key, .. }, once)| {
            let s = measure(&config, once);
            if config.tsv {
                println!(
                    "memory\t{mib}\t{key}\t{}\t{}\t{}",
                    s.runs,
                    s.median.as_nanos(),
                    s.p90.as_nanos()
                );
                io::stdout().flush().or_exit("write");
            }
            s
        });
        if !config.tsv {
            println!(
                "{:>5} MiB {:>6.1} MiB {:>15.1} {:>22.1} {:>22.1}",
                mib,
                resident as f64 / f64::from(1 << 20),
                micros(stats[0].median),
                micros(stats[1].median),
                micros(stats[2].median)
            );
            io::stdout().flush().or_exit("write");
        }
        medians.push((mib, stats[0].median, stats[2].median));
        drop(memory);
    }

    // The smallest and the largest size, side by side.
    let low = medians.iter().min_by_key(|m| m.0);
    let high = medians.iter().max_by_key(|m| m.0);
    if let (Some(&(low_mib, low_fork, low_spawn)), Some(&(high_mib, high_fork, high_spawn))) = (low, high) {
        if high_mib > low_mib && !config.tsv {
            let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
            println!(
                "from {low_mib} to {high_mib} MiB touched, fork + waitpid costs {:.1}× as much, posix_spawn {:.1}×",
                ratio(high_fork, low_fork),
                ratio(high_spawn, low_spawn)
            );
        }
    }
}
// ANCHOR_END: main
