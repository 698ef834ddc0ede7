//! Exercise 10 — incr: threads that share memory race.
//!
//! Mirrors `incr-basic.cc` and `incr-atomic.cc` from lecture 16
//! (Inter-Process Communication, Threads). Four threads each add 1 to one
//! shared counter ten million times, then the program prints the count.
//!
//! - By default each increment is two steps: read the counter, then write
//!   back that value plus 1. When two threads read the same value, both write
//!   the same result and one increment is lost, so the count usually ends far
//!   below 40000000 on a machine with several CPUs. In C++ `n++` on a plain
//!   int is a data race, which is undefined behaviour; Rust does not let safe
//!   code write that, so the race is shown with a relaxed atomic load followed
//!   by a relaxed atomic store: every step is well defined, and updates are
//!   still lost.
//! - With `--atomic` each increment is one indivisible read-modify-write
//!   (`fetch_add`, a `lock xadd` on x86), so no update is lost: exactly 40000000.
//!
//! Run it: `cargo run -p incr` and `cargo run -p incr -- --atomic`
//! (or `cargo xtask run 10 -- --atomic`).

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use syscalls::OrExit;
use syscalls::cli::Program;

const PROGRAM: Program = Program {
    name: "incr",
    usage: "[--atomic] [--threads N] [--count M]",
    about: "N threads (default 4) each increment one shared counter M times (default\n\
            10000000), then the final count is printed. By default an increment is a\n\
            load then a store, and concurrent increments get lost; with --atomic it is\n\
            one fetch_add and the count is exactly N × M\n\
            (lecture 16, incr-basic.cc and incr-atomic.cc).\n\
            \n\
            Options:\n  \
              --atomic      increment with fetch_add instead of load + store\n  \
              --threads N   number of threads, 1 to 1000 (default 4)\n  \
              --count M     increments per thread (default 10000000)",
};

/// What the command line asked for.
struct Config {
    atomic: bool,
    threads: u64,
    count: u64,
}

fn parse_args() -> Config {
    let mut config = Config {
        atomic: false,
        threads: 4,
        count: 10_000_000,
    };
    let mut args = PROGRAM.args().into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        match arg.as_str() {
            "--atomic" => config.atomic = true,
            "--threads" => config.threads = PROGRAM.number("--threads", args.next()),
            "--count" => config.count = PROGRAM.number("--count", args.next()),
            _ => PROGRAM.usage_error(&format!("unexpected argument '{arg}'")),
        }
    }
    if !(1..=1000).contains(&config.threads) {
        PROGRAM.usage_error("--threads must be between 1 and 1000");
    }
    if config.threads.checked_mul(config.count).is_none() {
        PROGRAM.usage_error("--threads × --count does not fit in 64 bits");
    }
    config
}

// ANCHOR: increments
/// Adds 1 to `counter`, `count` times, in two steps that another thread can
/// come between: the lecture's `n++` on a shared int.
fn increment_racy(counter: &AtomicU64, count: u64) {
    for _ in 0..count {
        // TODO: read the counter, then store that value plus one, as two
        // separate relaxed operations (the lost update happens between them).
        // BEGIN SOLUTION
        let seen = counter.load(Ordering::Relaxed);
        counter.store(seen + 1, Ordering::Relaxed);
        // END SOLUTION
    }
}

/// Adds 1 to `counter`, `count` times, each as one indivisible step.
fn increment_atomic(counter: &AtomicU64, count: u64) {
    for _ in 0..count {
        // TODO: add 1 in one atomic read-modify-write, so that no other thread
        // can come between the read and the write.
        // BEGIN SOLUTION
        counter.fetch_add(1, Ordering::Relaxed);
        // END SOLUTION
    }
}
// ANCHOR_END: increments

// ANCHOR: main
fn main() {
    let config = parse_args();
    let counter = AtomicU64::new(0);
    let increment = if config.atomic {
        increment_atomic
    } else {
        increment_racy
    };

    // Every thread waits here until all have started, so they increment
    // side by side: a thread that finished before the next one started
    // could lose nothing, and the race would show only sometimes.
    let start = Barrier::new(config.threads as usize);
    thread::scope(|s| {
        for _ in 0..config.threads {
            // A small stack is plenty, and keeps 1000 threads within an
            // address-space limit.
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn_scoped(s, || {
                    start.wait();
                    increment(&counter, config.count)
                })
                .or_exit("pthread_create");
        }
        // The scope joins every thread before it returns.
    });

    let count = counter.load(Ordering::Relaxed);
    println!("{count}");

    let expected = config.threads * config.count;
    if count < expected {
        eprintln!(
            "incr: {} of {expected} increments were lost to the race",
            expected - count
        );
    }
}
// ANCHOR_END: main
