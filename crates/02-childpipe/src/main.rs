//! Exercise 02 — childpipe: a pipe outlives `fork`.
//!
//! Mirrors `childpipe.cc` from lecture 16 (Inter-Process Communication,
//! Threads). The parent creates a pipe, then forks. `fork` copies the
//! descriptor table, so the child holds its own copies of both ends — but
//! there is still only one pipe, inside the kernel. The child writes
//! "Hello, mama!" into it; the parent reads it out.
//!
//! Two bugs of the original are fixed here:
//! - it printed its buffer as a C string, trusting a NUL byte that nobody
//!   wrote; we print exactly the `n` bytes that `read` returned;
//! - the parent never waited for its child; here it calls `waitpid`, so no
//!   zombie is left behind.
//!
//! The output order is fixed even though two processes print: the child
//! prints its line *before* it writes, and the parent cannot print before its
//! `read` returns, which needs the child's write.
//!
//! Run it: `cargo run -p childpipe` (or `cargo xtask run 2`).

use std::io::Write;
use syscalls::cli::Program;
use syscalls::{_exit, Fork, OrExit, fork, getpid, pipe, read, waitpid, write_all};

const PROGRAM: Program = Program {
    name: "childpipe",
    usage: "",
    about: "Creates a pipe, forks, and sends \"Hello, mama!\" from the child to the\n\
            parent through the pipe (lecture 16, childpipe.cc).",
};

/// What the child sends. No NUL terminator travels with it: a pipe carries
/// bytes, and the reader learns the length from `read`'s return value.
const MESSAGE: &[u8] = b"Hello, mama!";

// ANCHOR: main
fn main() {
    PROGRAM.flags([]);

    // The pipe is made BEFORE the fork, so that both processes inherit it.
    let (read_end, write_end) = pipe().or_exit("pipe");

    // Anything still in our stdout buffer would be copied into the child and
    // printed twice; empty it first.
    std::io::stdout().flush().or_exit("flush");

    // SAFETY: this program has a single thread, so the child may call
    // anything; it ends with _exit, never returning into main.
    match unsafe { fork() }.or_exit("fork") {
        Fork::Child => {
            // The child only writes: its copy of the read end is of no use.
            drop(read_end);
            println!("[child: {}] sending message", getpid());
            // TODO: write MESSAGE into the pipe (all of it), from the child.
            // BEGIN SOLUTION
            write_all(&write_end, MESSAGE).or_exit("write");
            // END SOLUTION
            // _exit, not return: the child must not run the parent's cleanup.
            _exit(0)
        }
        Fork::Parent(child) => {
            // read() blocks until the child has written something. The
            // 12 bytes arrive in one piece: a write of at most PIPE_BUF
            // (4096) bytes is atomic. (The parent still holds its own write
            // end; harmless for one read, fatal for reading until EOF — that
            // is exercise 03.)
            let mut buf = [0u8; 8192]; // BUFSIZ
            let n = read(&read_end, &mut buf).or_exit("read");
            if n > 0 {
                // Only buf[..n] came from the pipe; the rest is whatever was
                // there before (zeros here, garbage in C).
                let message = String::from_utf8_lossy(&buf[..n]);
                println!("[parent: {}] I got a message! It was “{message}”", getpid());
            }
            // TODO: wait for the child, so it does not stay a zombie.
            // BEGIN SOLUTION
            waitpid(child, 0).or_exit("waitpid");
            // END SOLUTION
        }
    }
}
// ANCHOR_END: main
