//! Exercise 01 — selfpipe: a pipe is a buffer in the kernel.
//!
//! Mirrors `selfpipe.cc` from lecture 16 (Inter-Process Communication,
//! Threads). One process creates a pipe, writes a line into the write end,
//! then reads it back from the read end. Between the `write` and the `read`
//! the bytes live in a buffer inside the kernel, not in this process's memory.
//!
//! Run it: `cargo run -p selfpipe` (or `cargo xtask run 1`).

use syscalls::cli::Program;
use syscalls::{OrExit, getpid, pipe, read, write};

const PROGRAM: Program = Program {
    name: "selfpipe",
    usage: "",
    about: "Creates a pipe, writes \"Hello from pid P\" into it and reads it back,\n\
            all in one process (lecture 16, selfpipe.cc).",
};

// ANCHOR: main
fn main() {
    PROGRAM.flags([]);

    // pfd[0] is the read end, pfd[1] the write end — like stdin (0) and stdout (1).
    let (read_end, write_end) = pipe().or_exit("pipe");

    let wbuf = format!("Hello from pid {}\n", getpid());
    // TODO: write all of `wbuf` into the write end of the pipe.
    // BEGIN SOLUTION
    let n = write(&write_end, wbuf.as_bytes()).or_exit("write");
    assert_eq!(n, wbuf.len(), "a small write to an empty pipe is never short");
    // END SOLUTION

    // The bytes now sit in the kernel's pipe buffer until someone reads them.
    let mut rbuf = [0u8; 8192]; // BUFSIZ
    let n = read(&read_end, &mut rbuf).or_exit("read");
    // Keep only the n bytes that read() returned: the rest of rbuf is junk.
    let rbuf = String::from_utf8_lossy(&rbuf[..n]);

    assert_eq!(wbuf, rbuf, "what comes out of a pipe is what went in");
    print!("Wrote {wbuf}");
    print!("Read {rbuf}");
}
// ANCHOR_END: main
