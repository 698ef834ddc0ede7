//! Exercise 08 — std-thread: threads the library way.
//!
//! Mirrors `std-thread.cc` from lecture 16 (Inter-Process Communication,
//! Threads). The same experiment as exercises 06 and 07 — a global starts at
//! 42, one side adds 1, the other doubles it — but the second side is a
//! thread made by `std::thread::spawn`, which is how real programs do it: the
//! library picks the stack, the clone flags and the thread-local storage, and
//! `join` waits for the thread the way `waitpid` waited for the clone child.
//!
//! Both lines show the *same* pid: a thread is part of its process. And the
//! values show one shared global: 43 and 86 (main added first) or 84 and 85
//! (the thread doubled first).
//!
//! Run it: `cargo run -p std-thread` (or `cargo xtask run 8`).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use syscalls::cli::Program;
use syscalls::getpid;

const PROGRAM: Program = Program {
    name: "std-thread",
    usage: "[--tids]",
    about: "Spawns a thread with std::thread; main adds 1 to a global that starts at 42,\n\
            the thread doubles it. Both print the same pid, and values that show one\n\
            shared global: 43 and 86, or 84 and 85 (lecture 16, std-thread.cc).\n\
            \n\
            --tids  also print each thread's own id (gettid): the pid is the same,\n\
            \x20       the thread ids differ, and main's thread id is the pid",
};

/// The global both threads change: shared, so it must be an atomic.
static PRECIOUS: AtomicI32 = AtomicI32::new(42);

/// How long the thread waits before it does its work.
const STALL: std::time::Duration = std::time::Duration::from_millis(100);

/// Set by `--tids`: print each thread's id beside the pid.
static SHOW_TIDS: AtomicBool = AtomicBool::new(false);

/// Prints one line; println! holds stdout's lock for the whole line, so the
/// two threads' lines never mix.
fn say(precious: i32) {
    if SHOW_TIDS.load(Ordering::Relaxed) {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        println!("Hello from pid {} (thread {tid}), precious={precious}", getpid());
    } else {
        println!("Hello from pid {}, precious={precious}", getpid());
    }
}

/// The thread's work: double the global in one atomic step and print the
/// value this thread produced.
fn child() {
    // A pause first, so that a main that forgets to join ends the process
    // before this thread prints, every time rather than only sometimes
    // (the checks must give the same program the same score on every run).
    std::thread::sleep(STALL);
    // The closure never gives up, so `Err` cannot happen; both arms carry
    // the old value.
    let (Ok(old) | Err(old)) = PRECIOUS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v * 2));
    say(old * 2);
}

/// Main's work: add 1 and print the value main produced.
fn parent() {
    let precious = PRECIOUS.fetch_add(1, Ordering::SeqCst) + 1;
    say(precious);
}

// ANCHOR: main
fn main() {
    let [tids] = PROGRAM.flags(["--tids"]);
    SHOW_TIDS.store(tids, Ordering::Relaxed);

    // TODO: spawn a thread that runs `child`, run `parent` on this thread
    // meanwhile, then join the thread: main must not return (and end the
    // process) before the thread has printed.
    // BEGIN SOLUTION
    let handle = std::thread::spawn(child);
    parent();
    if handle.join().is_err() {
        eprintln!("std-thread: the thread panicked");
        std::process::exit(1);
    }
    // END SOLUTION
}
// ANCHOR_END: main
