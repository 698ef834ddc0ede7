//! Exercise 12 — spmc: one writer, worker children competing for work.
//!
//! Lecture 16 (Inter-Process Communication, Threads) notes that a pipe may
//! have several read ends in use at once: single producer, multiple
//! consumers, "where multiple readers compete for messages (e.g., work
//! units) sent by a writer". Here the parent writes K work units (default
//! 10000) into a work pipe, and W worker children (default 4) take them, each
//! unit going to whichever worker reads first. The workers send their
//! results back over a second pipe; the parent checks that every unit was
//! done exactly once and shows how many each worker did.
//!
//! Why a unit can never be split or shared between two workers: every unit
//! is written with one `write` of `UNIT_SIZE` bytes, at most `PIPE_BUF`, so
//! it enters the pipe whole (pipe(7): such writes are atomic). The pipe thus
//! always holds a whole number of units. A worker's `read` asks for exactly
//! `UNIT_SIZE` bytes; the kernel serves one `read` at a time on a pipe, and
//! returns as much as was asked when that much is there. So each read takes
//! exactly one whole unit (the count stays a whole number of units), and no
//! two workers get the same one. Ask for more — a 4096-byte buffer — and one
//! read may grab several units at once, or one and a part of the next.
//!
//! Two ends must be closed for the workers ever to stop: each worker's own
//! copy of the work pipe's write end, and the parent's, after the last unit.
//! Only then does a worker's `read` on the empty pipe return 0.
//!
//! Run it: `cargo run -p spmc`, or `cargo run -p spmc -- --workers 8`.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use syscalls::cli::Program;
use syscalls::{_exit, Fork, OrExit, WaitStatus, fork, pid_t, pipe, read, waitpid, write_all};

const PROGRAM: Program = Program {
    name: "spmc",
    usage: "[--workers W] [--units K]",
    about: "The parent writes K work units into a pipe; W worker children compete for them,\n\
            each unit read by exactly one worker, and send their results back through a\n\
            second pipe. The parent checks that every unit was done exactly once and\n\
            reports how many each worker did (lecture 16: single producer, multiple\n\
            consumers).\n\
            \n\
            Options:\n  \
              --workers W   worker children, 1 to 64 (default 4)\n  \
              --units K     work units, 0 to 1000000 (default 10000)",
};

/// The size of one work unit on the pipe: at most `PIPE_BUF`, so that one
/// `write` puts it into the pipe whole.
const UNIT_SIZE: usize = 32;
const _: () = assert!(UNIT_SIZE <= libc::PIPE_BUF);

/// The size of one result on the results pipe (also at most `PIPE_BUF`:
/// the workers are many writers of one pipe, as in exercise 11).
const RESULT_SIZE: usize = 16;
const _: () = assert!(RESULT_SIZE <= libc::PIPE_BUF);

/// The command line, parsed.
struct Config {
    workers: u32,
    units: u32,
}

fn parse_args() -> Config {
    let mut config = Config {
        workers: 4,
        units: 10_000,
    };
    let mut args = PROGRAM.args().into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        match arg.as_str() {
            "--workers" => config.workers = PROGRAM.number_in("--workers", args.next(), 1..=64),
            "--units" => config.units = PROGRAM.number_in("--units", args.next(), 0..=1_000_000),
            _ => PROGRAM.usage_error(&format!("unexpected argument '{arg}'")),
        }
    }
    config
}

// ANCHOR: main
fn main() {
    let config = parse_args();

    let (work_rx, work_tx) = pipe().or_exit("pipe");
    let (results_rx, results_tx) = pipe().or_exit("pipe");
    io::stdout().flush().or_exit("flush");

    let mut workers: Vec<pid_t> = Vec::new();
    for worker in 0..config.workers {
        // SAFETY: this program has a single thread, so the child may call
        // anything; worker_child ends with _exit, never returning here.
        match unsafe { fork() }.or_exit("fork") {
            Fork::Child => {
                drop(results_rx); // a worker sends results, it does not read them
                // TODO: close this worker's copy of the work pipe's write end:
                // while any write end is open, even its own, read() never
                // returns 0 and the worker never stops.
                // BEGIN SOLUTION
                drop(work_tx);
                // END SOLUTION
                worker_child(worker, &work_rx, &results_tx)
            }
            Fork::Parent(pid) => workers.push(pid),
        }
    }
    // The parent only writes work and reads results. Without its copy of the
    // work read end, a write fails (EPIPE) if every worker has died, instead
    // of blocking forever; without its copy of the results write end, the
    // results pipe reaches end of file when the last worker exits (ex. 03).
    drop(work_rx);
    drop(results_tx);

    for id in 0..config.units {
        // One unit, one write of UNIT_SIZE bytes: it enters the pipe whole.
        write_all(&work_tx, &Unit::new(id).encode()).or_exit("write");
    }
    // TODO: close the parent's write end of the work pipe: the workers see end
    // of file, finish and report, only when no write end is left.
    // BEGIN SOLUTION
    drop(work_tx);
    // END SOLUTION

    // Results arrive until end of file: once every worker has exited.
    let mut tally = Tally::new(&config);
    let mut result = [0u8; RESULT_SIZE];
    while read_record(&results_rx, &mut result) {
        tally.record(&result);
    }

    let mut failed_workers = 0;
    for (worker, &pid) in (1..).zip(&workers) {
        let (_, status) = waitpid(pid, 0).or_exit("waitpid");
        if status != WaitStatus::Exited(0) {
            eprintln!("spmc: worker {worker} (pid {pid}) ended with {status:?}");
            failed_workers += 1;
        }
    }
    let exactly_once = tally.report();
    std::process::exit(if exactly_once && failed_workers == 0 { 0 } else { 1 })
}

/// A worker: takes units until end of file, then sends one result per unit
/// it did and exits.
///
/// The results wait until the work has run out. Were they sent at once, the
/// results pipe could fill up while the parent is still busy writing work:
/// the workers would block writing results, stop taking work, the work
/// pipe would fill, and the parent would block too — each waiting for the
/// other, forever. This way the parent writes all the work, then reads.
fn worker_child(worker: u32, work_rx: &OwnedFd, results_tx: &OwnedFd) -> ! {
    let mut done: Vec<(u32, u64)> = Vec::new();
    while let Some(unit) = next_unit(work_rx) {
        done.push((unit.id, unit.work()));
    }
    for (id, result) in done {
        // One result, one write of RESULT_SIZE bytes: never mixed with
        // another worker's.
        write_all(results_tx, &encode_result(worker, id, result)).or_exit("write");
    }
    _exit(0)
}

/// Takes the next unit of work from the pipe; `None` at end of file.
///
/// The other workers read the same pipe at the same moment, and still a
/// read of exactly `UNIT_SIZE` bytes takes exactly one unit: the pipe holds
/// whole units only (each went in with one atomic write), and the kernel
/// lets one `read` at a time take from a pipe, handing it all it asked for
/// when that much is there. On an empty pipe the read sleeps until a unit
/// comes, or returns 0 once no write end is left.
fn next_unit(work_rx: &OwnedFd) -> Option<Unit> {
    // TODO: read ONE unit: a single read() into a buffer of exactly UNIT_SIZE
    // bytes (a larger one may grab several units, or a unit and a half); read
    // returns 0 at end of file.
    // BEGIN SOLUTION
    let mut bytes = [0u8; UNIT_SIZE];
    match read(work_rx, &mut bytes).or_exit("read") {
        0 => None,
        n => Some(Unit::decode(&bytes[..n])),
    }
    // END SOLUTION
}
// ANCHOR_END: main

/// One unit of work: find how many steps the Collatz sequence of
/// `id + 1` takes to reach 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Unit {
    id: u32,
}

impl Unit {
    fn new(id: u32) -> Unit {
        Unit { id }
    }

    /// `UNIT_SIZE` bytes: the id, the starting number, zeros, a checksum.
    fn encode(self) -> [u8; UNIT_SIZE] {
        let mut bytes = [0u8; UNIT_SIZE];
        bytes[0..4].copy_from_slice(&self.id.to_le_bytes());
        bytes[4..12].copy_from_slice(&self.start().to_le_bytes());
        let sum = checksum(&bytes[..UNIT_SIZE - 4]);
        bytes[UNIT_SIZE - 4..].copy_from_slice(&sum.to_le_bytes());
        bytes
    }

    /// Reads back what one `read` returned. Anything but one whole unit
    /// ends this worker with status 1 and says why: the pipe never hands out
    /// part of a unit, so it means the reads are not one unit each.
    fn decode(bytes: &[u8]) -> Unit {
        match Unit::parse(bytes) {
            Some(unit) => unit,
            None => {
                eprintln!(
                    "spmc: a worker read {} bytes that are not one whole unit of {UNIT_SIZE} \
                     bytes: read one unit per read(), into a buffer of exactly UNIT_SIZE bytes",
                    bytes.len()
                );
                _exit(1)
            }
        }
    }

    fn parse(bytes: &[u8]) -> Option<Unit> {
        let bytes: &[u8; UNIT_SIZE] = bytes.try_into().ok()?;
        let (head, sum) = bytes.split_at(UNIT_SIZE - 4);
        if u32::from_le_bytes(sum.try_into().ok()?) != checksum(head) {
            return None;
        }
        let unit = Unit::new(u32::from_le_bytes(head[0..4].try_into().ok()?));
        let start = u64::from_le_bytes(head[4..12].try_into().ok()?);
        (start == unit.start()).then_some(unit)
    }

    /// The number whose Collatz sequence this unit follows.
    fn start(self) -> u64 {
        u64::from(self.id) + 1
    }

    /// Does the work: the number of Collatz steps from `start` down to 1.
    fn work(self) -> u64 {
        let (mut n, mut steps) = (self.start(), 0);
        while n != 1 {
            n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
            steps += 1;
        }
        steps
    }
}

/// FNV-1a, 32 bits: a checksum that notices bytes moved or replaced.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A result on the pipe: worker, unit id, result.
fn encode_result(worker: u32, id: u32, result: u64) -> [u8; RESULT_SIZE] {
    let mut bytes = [0u8; RESULT_SIZE];
    bytes[0..4].copy_from_slice(&worker.to_le_bytes());
    bytes[4..8].copy_from_slice(&id.to_le_bytes());
    bytes[8..16].copy_from_slice(&result.to_le_bytes());
    bytes
}

/// Reads one whole record (`read` until `buf` is full); `false` at end of
/// file. A record cut short by end of file cannot happen with writes of at
/// most `PIPE_BUF` bytes; if it does, the program says so and exits.
fn read_record(fd: &OwnedFd, buf: &mut [u8]) -> bool {
    let mut filled = 0;
    while filled < buf.len() {
        match read(fd, &mut buf[filled..]).or_exit("read") {
            0 if filled == 0 => return false,
            0 => {
                eprintln!("spmc: a result was cut short at end of file ({filled} bytes)");
                std::process::exit(1)
            }
            n => filled += n,
        }
    }
    true
}

/// What the parent learned from the results.
struct Tally<'a> {
    config: &'a Config,
    /// Units done, per worker.
    per_worker: Vec<u64>,
    /// How many times each unit was reported done.
    times_done: Vec<u32>,
    /// The sum of all results.
    sum: u64,
    /// Problems found in the results themselves.
    errors: Vec<String>,
}

impl<'a> Tally<'a> {
    fn new(config: &'a Config) -> Self {
        Tally {
            config,
            per_worker: vec![0; config.workers as usize],
            times_done: vec![0; config.units as usize],
            sum: 0,
            errors: Vec::new(),
        }
    }

    /// Takes one result: counts it for its worker and its unit, and checks
    /// its value.
    fn record(&mut self, bytes: &[u8; RESULT_SIZE]) {
        let worker = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let id = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let result = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        if worker >= self.config.workers || id >= self.config.units {
            self.errors.push(format!(
                "a result names worker {worker} and unit {id}, which do not exist"
            ));
            return;
        }
        self.per_worker[worker as usize] += 1;
        self.times_done[id as usize] += 1;
        self.sum += result;
        let right = Unit::new(id).work();
        if result != right {
            self.errors.push(format!(
                "worker {} says unit {id} takes {result} steps; it takes {right}",
                worker + 1
            ));
        }
    }

    /// Prints a line per worker and the totals; on stderr, every unit not
    /// done exactly once. Returns whether all was right.
    fn report(&self) -> bool {
        let Config { workers, units } = *self.config;
        for (worker, &done) in (1..).zip(&self.per_worker) {
            println!("worker {worker}: {}", plural(done, "unit"));
        }
        let mut errors = self.errors.clone();
        let never: Vec<usize> = (0..units as usize).filter(|&i| self.times_done[i] == 0).collect();
        let again: Vec<usize> = (0..units as usize).filter(|&i| self.times_done[i] > 1).collect();
        if !never.is_empty() {
            errors.push(format!("{} units were never done: {}", never.len(), some(&never)));
        }
        if !again.is_empty() {
            errors.push(format!(
                "{} units were done more than once: {}",
                again.len(),
                some(&again)
            ));
        }
        if errors.is_empty() {
            println!(
                "{} done, each exactly once, by {}; sum of results {}",
                plural(units.into(), "unit"),
                plural(workers.into(), "worker"),
                self.sum
            );
            return true;
        }
        for error in errors {
            eprintln!("spmc: {error}");
        }
        false
    }
}

/// `1 unit`, `2 units`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The first few unit ids of a list, for an error message.
fn some(ids: &[usize]) -> String {
    let shown: Vec<String> = ids.iter().take(5).map(usize::to_string).collect();
    let more = if ids.len() > 5 { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_decodes_as_itself() {
        for id in [0, 1, 41, u32::MAX - 1] {
            assert_eq!(Unit::parse(&Unit::new(id).encode()), Some(Unit::new(id)));
        }
    }

    #[test]
    fn two_units_or_a_part_are_not_a_unit() {
        let (a, b) = (Unit::new(1).encode(), Unit::new(2).encode());
        let both: Vec<u8> = a.iter().chain(&b).copied().collect();
        assert_eq!(Unit::parse(&both), None);
        assert_eq!(Unit::parse(&a[..UNIT_SIZE - 1]), None);
        assert_eq!(Unit::parse(&both[8..8 + UNIT_SIZE]), None);
    }

    #[test]
    fn collatz_steps() {
        // 1 is there already; 6 → 3 → 10 → 5 → 16 → 8 → 4 → 2 → 1; 27 takes 111.
        assert_eq!(Unit::new(0).work(), 0);
        assert_eq!(Unit::new(5).work(), 8);
        assert_eq!(Unit::new(26).work(), 111);
    }

    #[test]
    fn tally_finds_missing_repeated_and_wrong_results() {
        let config = Config { workers: 2, units: 3 };
        let mut tally = Tally::new(&config);
        tally.record(&encode_result(0, 0, 0));
        tally.record(&encode_result(1, 1, 1));
        tally.record(&encode_result(1, 1, 1));
        tally.record(&encode_result(0, 2, 99));
        tally.record(&encode_result(5, 0, 0));
        assert_eq!(tally.per_worker, [2, 2]);
        assert_eq!(tally.times_done, [1, 2, 1]);
        assert_eq!(tally.errors.len(), 2, "{:?}", tally.errors);
        assert!(!tally.report());
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(0, "unit"), "0 units");
        assert_eq!(plural(1, "unit"), "1 unit");
        assert_eq!(plural(2, "worker"), "2 workers");
    }

    #[test]
    fn some_lists_at_most_five() {
        assert_eq!(some(&[1, 2]), "1, 2");
        assert_eq!(some(&[1, 2, 3, 4, 5, 6]), "1, 2, 3, 4, 5, …");
    }
}
