//! Exercise 06 — fork-process: a child gets a copy of the globals.
//!
//! Mirrors `fork-process.cc` from lecture 16 (Inter-Process Communication,
//! Threads). A global starts at 42. After `fork` the parent adds 1 and the
//! child doubles it, and each prints what it sees: the parent 43, the child
//! 84. Neither sees the other's change, because `fork` gave the child its own
//! copy of the address space — globals included — not a view of the parent's.
//! Compare exercise 07, where the same two changes meet in one shared global.
//!
//! Run it: `cargo run -p fork-process` (or `cargo xtask run 6`).

use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};
use syscalls::cli::Program;
use syscalls::{_exit, Fork, OrExit, WaitStatus, fork, getpid, waitpid};

const PROGRAM: Program = Program {
    name: "fork-process",
    usage: "",
    about: "Forks; the parent adds 1 to a global that starts at 42, the child doubles it,\n\
            and each prints the value it sees: 43 and 84, since the child has a copy\n\
            (lecture 16, fork-process.cc).",
};

/// The global both processes change. An atomic only because Rust wants every
/// mutable global to be safe to share; here nothing is shared: after `fork`
/// each process has its own copy at the same address.
static PRECIOUS: AtomicI32 = AtomicI32::new(42);

/// How long the child waits before it prints.
const STALL: std::time::Duration = std::time::Duration::from_millis(100);

// ANCHOR: main
fn main() {
    PROGRAM.flags([]);

    // Nothing is buffered in stdout yet, so the child cannot inherit
    // half-written output; a program that printed without a newline would
    // flush here.
    std::io::stdout().flush().or_exit("flush");

    // SAFETY: this program has only one thread, so the child may call
    // anything; it leaves with _exit below and never returns from main.
    match unsafe { fork() }.or_exit("fork") {
        Fork::Child => {
            // TODO: double PRECIOUS. This changes the child's copy only.
            // BEGIN SOLUTION
            let doubled = PRECIOUS.load(Ordering::Relaxed) * 2;
            PRECIOUS.store(doubled, Ordering::Relaxed);
            // END SOLUTION
            // A pause before printing, so that a parent that does not wait
            // has always exited by now: the checks see the same thing on
            // every run, not only when the scheduler happens to show it.
            std::thread::sleep(STALL);
            let precious = PRECIOUS.load(Ordering::Relaxed);
            println!("Hello from pid {} (child), precious={precious}", getpid());
            std::io::stdout().flush().or_exit("flush");
            // Leave without running the parent's exit path a second time.
            _exit(0)
        }
        Fork::Parent(child) => {
            let precious = PRECIOUS.fetch_add(1, Ordering::Relaxed) + 1;
            println!("Hello from pid {} (parent), precious={precious}", getpid());

            // TODO: wait for the child, or it is left a zombie (and may print
            // after the parent has already exited).
            // BEGIN SOLUTION
            let (_, status) = waitpid(child, 0).or_exit("waitpid");
            if status != WaitStatus::Exited(0) {
                eprintln!("fork-process: child {child} failed ({status:?})");
                std::process::exit(1);
            }
            // END SOLUTION
        }
    }
}
// ANCHOR_END: main
