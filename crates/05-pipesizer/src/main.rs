//! Exercise 05 — pipesizer: `write` blocks when the pipe is full.
//!
//! Mirrors `pipesizer.cc` from lecture 16 (Inter-Process Communication,
//! Threads). It writes one byte at a time into a pipe that nobody reads and
//! prints how many bytes went in so far, one number per line. The kernel's
//! buffer fills up — 65536 bytes on Linux, 16 pages of 4 KiB — and then
//! `write` blocks, waiting for a reader to make room. None ever will: the
//! program hangs there for good, as the lecture's does. Stop it with Ctrl-C.
//!
//! `--nonblock` asks the question without hanging: with `O_NONBLOCK` set on
//! the write end, a write to a full pipe fails at once with `EAGAIN`, so the
//! program can count the bytes that fit, compare them with what
//! `fcntl(F_GETPIPE_SZ)` reports, and exit. `--size BYTES` first asks the
//! kernel for another capacity (`F_SETPIPE_SZ`).
//!
//! Run it: `cargo run -p pipesizer` (Ctrl-C to stop), or
//! `cargo run -p pipesizer -- --nonblock`.

use std::io::{self, Write};
use syscalls::cli::Program;
use syscalls::{OrExit, pipe, pipe_size, set_nonblocking, set_pipe_size, write, write_all};

const PROGRAM: Program = Program {
    name: "pipesizer",
    usage: "[--nonblock] [--size BYTES]",
    about: "Writes one byte at a time into a pipe nobody reads, printing the running count;\n\
            when the pipe is full, write blocks — forever (lecture 16, pipesizer.cc).\n\
            \n\
            --nonblock    set O_NONBLOCK, write until EAGAIN, print the capacity found\n\
            \x20             and what F_GETPIPE_SZ says, and exit\n\
            --size BYTES  first ask for this capacity with F_SETPIPE_SZ (the kernel\n\
            \x20             rounds it up to a power of two pages)",
};

/// The command line, parsed.
struct Options {
    nonblock: bool,
    size: Option<usize>,
}

fn parse_args() -> Options {
    let mut options = Options {
        nonblock: false,
        size: None,
    };
    let mut args = PROGRAM.args().into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        let size = match arg.as_str() {
            "--nonblock" => {
                options.nonblock = true;
                continue;
            }
            "--size" => args.next().map(|v| v.to_string_lossy().into_owned()),
            _ => match arg.strip_prefix("--size=") {
                Some(v) => Some(v.to_string()),
                None => PROGRAM.usage_error(&format!("unexpected argument '{arg}'")),
            },
        };
        let Some(size) = size else {
            PROGRAM.usage_error("--size needs a number of bytes");
        };
        match size.parse::<usize>() {
            Ok(bytes) if bytes > 0 => options.size = Some(bytes),
            _ => PROGRAM.usage_error(&format!("--size wants a positive number of bytes, not '{size}'")),
        }
    }
    options
}

// ANCHOR: main
fn main() {
    let options = parse_args();

    // Nobody reads, but the read end stays open all along: with no reader at
    // all, write would fail with EPIPE instead of blocking.
    let (_read_end, write_end) = pipe().or_exit("pipe");
    if let Some(bytes) = options.size {
        set_pipe_size(&write_end, bytes).or_exit("fcntl(F_SETPIPE_SZ)");
    }

    if options.nonblock {
        // TODO: make writes to the pipe non-blocking (set_nonblocking), so a
        // full pipe fails with EAGAIN.
        // BEGIN SOLUTION
        set_nonblocking(&write_end, true).or_exit("fcntl");
        // END SOLUTION
        let mut written = 0usize;
        loop {
            match write(&write_end, b"!") {
                Ok(n) => written += n,
                // EAGAIN: the pipe is full, and we asked not to wait.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => Err(e).or_exit("write"),
            }
        }
        let reported = pipe_size(&write_end).or_exit("fcntl(F_GETPIPE_SZ)");
        println!("pipe capacity: {written} bytes (F_GETPIPE_SZ says {reported})");
        return;
    }

    // Rust's stdout is line-buffered: one write(2) per line, so every count
    // is out before the program blocks (and the numbers cost little).
    let mut out = io::stdout().lock();
    let mut written: u64 = 0;
    loop {
        // TODO: write one byte into the pipe; once the pipe is full this
        // blocks, forever.
        // BEGIN SOLUTION
        write_all(&write_end, b"!").or_exit("write");
        // END SOLUTION
        written += 1;
        if writeln!(out, "{written}").is_err() {
            // Our reader went away (`pipesizer | head`): nothing left to say.
            std::process::exit(0);
        }
    }
}
// ANCHOR_END: main
