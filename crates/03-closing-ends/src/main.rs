//! Exercise 03 — closing-ends: a reader sees end of file only when every
//! write end is closed, its own included.
//!
//! Mirrors the read-until-EOF version of `childpipe.cc` from lecture 16
//! (Inter-Process Communication, Threads). The child sends a few messages
//! and exits; the parent reads until `read` returns 0 — end of file — and
//! then says there are no more messages.
//!
//! The trap: after `fork` the parent still holds a copy of the write end.
//! While any write end is open anywhere, an empty pipe means "nothing yet",
//! not "nothing ever", so the parent's `read` waits forever — for a write
//! that only the parent itself could make. The fix is one line: close the
//! ends you do not use, right after the fork.
//!
//! A pipe carries bytes, not messages: two writes may come out of one
//! `read`, and one long write may take several. So each message ends with a
//! newline, and the parent cuts what it reads at the newlines.
//!
//! Run it: `cargo run -p closing-ends`, or
//! `cargo run -p closing-ends -- --keep-write-end` to see the bug (bounded:
//! after 1 s of silence it explains which descriptor is still open).

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;
use syscalls::cli::Program;
use syscalls::{_exit, Fork, OrExit, fork, getpid, pipe, poll_readable, read, waitpid, write_all};

const PROGRAM: Program = Program {
    name: "closing-ends",
    usage: "[--keep-write-end] [--] [MESSAGE...]",
    about: "The child sends messages through a pipe and exits; the parent reads until end\n\
            of file, printing each one, then \"No more messages :(\" (lecture 16, the\n\
            read-until-EOF childpipe).\n\
            \n\
            MESSAGE...        what the child sends (default: three short messages);\n\
            \x20                 a message may not contain a newline\n\
            --keep-write-end  show the bug: the parent keeps its write end open, so end\n\
            \x20                 of file never comes; after 1 s of silence it says why and\n\
            \x20                 exits with status 1",
};

/// What the child sends when no messages are given.
const DEFAULT_MESSAGES: [&str; 3] = ["Hello, mama!", "I tidied my room.", "Bye, mama!"];

/// How long the child waits before it sends its last message.
const LAST_MESSAGE_DELAY: Duration = Duration::from_millis(100);

/// How long `--keep-write-end` waits in silence before it explains the hang.
const PATIENCE: Duration = Duration::from_secs(1);

/// The command line, parsed.
struct Options {
    keep_write_end: bool,
    /// Each message with its terminating newline: the bytes one write sends.
    records: Vec<Vec<u8>>,
}

fn parse_args() -> Options {
    let mut keep_write_end = false;
    let mut messages: Vec<OsString> = Vec::new();
    let mut options_ended = false;
    for arg in PROGRAM.args() {
        if !options_ended && arg == "--keep-write-end" {
            keep_write_end = true;
        } else if !options_ended && arg == "--" {
            options_ended = true;
        } else if !options_ended && arg.as_bytes().starts_with(b"-") && arg != "-" {
            PROGRAM.usage_error(&format!("unexpected option '{}'", arg.to_string_lossy()));
        } else {
            messages.push(arg);
        }
    }
    if messages.is_empty() {
        messages = DEFAULT_MESSAGES.iter().map(OsString::from).collect();
    }
    let mut records = Vec::with_capacity(messages.len());
    for message in messages {
        let mut record = message.into_vec();
        if record.contains(&b'\n') {
            PROGRAM.usage_error("a message cannot contain a newline: newlines separate messages");
        }
        record.push(b'\n');
        records.push(record);
    }
    Options {
        keep_write_end,
        records,
    }
}

// ANCHOR: main
fn main() {
    let options = parse_args();

    let (read_end, write_end) = pipe().or_exit("pipe");
    std::io::stdout().flush().or_exit("flush");

    // SAFETY: this program has a single thread, so the child may call
    // anything; it ends with _exit, never returning into main.
    match unsafe { fork() }.or_exit("fork") {
        Fork::Child => {
            drop(read_end); // the child only writes
            let last = options.records.len().saturating_sub(1);
            for (i, record) in options.records.iter().enumerate() {
                if i == last && last > 0 {
                    // The last message comes a moment later: a reader that
                    // stops after one read misses it on every run, not only
                    // when the scheduler happens to split the messages.
                    std::thread::sleep(LAST_MESSAGE_DELAY);
                }
                write_all(&write_end, record).or_exit("write");
            }
            // Exiting closes the child's write end: one writer fewer.
            _exit(0)
        }
        Fork::Parent(child) => {
            let mut kept_write_end = None;
            if options.keep_write_end {
                // The bug, on purpose: this copy of the write end stays open.
                kept_write_end = Some(write_end);
            } else {
                // TODO: close the write end in the parent, or read() never sees
                // EOF.
                // BEGIN SOLUTION
                drop(write_end);
                // END SOLUTION
            }

            let mut messages = Messages::default();
            let mut buf = [0u8; 8192]; // BUFSIZ
            loop {
                if let Some(write_end) = &kept_write_end {
                    wait_for_data_or_explain(&read_end, write_end, child);
                }
                // Blocks while the pipe is empty and some write end is open;
                // returns 0 (end of file) once every write end is closed.
                let n = read(&read_end, &mut buf).or_exit("read");
                if n == 0 {
                    break;
                }
                messages.feed(&buf[..n], print_message);
            }
            if let Some(rest) = messages.finish() {
                print_message(&rest); // the writer stopped mid-message
            }
            println!("No more messages :(");
            waitpid(child, 0).or_exit("waitpid");
        }
    }
}
// ANCHOR_END: main

fn print_message(message: &[u8]) {
    println!("I got a message! It was “{}”", String::from_utf8_lossy(message));
}

/// `--keep-write-end` only: waits up to [`PATIENCE`] for something to read.
/// If nothing comes — no data and no end of file — says which descriptor
/// keeps the pipe open, waits for the child and exits with status 1,
/// instead of blocking forever the way a plain `read` would.
fn wait_for_data_or_explain(read_end: &OwnedFd, write_end: &OwnedFd, child: libc::pid_t) {
    if poll_readable(read_end, PATIENCE).or_exit("poll") {
        return;
    }
    eprintln!(
        "{}: no end of file after {} s of silence: fd {}, the write end, is still open in \
         this process (pid {}) — a reader sees EOF only when every write end is closed",
        PROGRAM.name,
        PATIENCE.as_secs(),
        write_end.as_raw_fd(),
        getpid()
    );
    waitpid(child, 0).or_exit("waitpid");
    std::process::exit(1);
}

/// Cuts a byte stream into newline-terminated messages.
///
/// A `read` returns whatever the pipe holds: part of a message, several
/// messages, or the end of one and the start of the next. The bytes after
/// the last newline wait here for the rest of their message.
#[derive(Debug, Default)]
struct Messages {
    partial: Vec<u8>,
}

impl Messages {
    /// Takes the bytes of one `read`; calls `each` for every message they
    /// complete, without its newline.
    fn feed(&mut self, mut bytes: &[u8], mut each: impl FnMut(&[u8])) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                each(&bytes[..end]);
            } else {
                self.partial.extend_from_slice(&bytes[..end]);
                each(&self.partial);
                self.partial.clear();
            }
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
    }

    /// At end of file: the bytes of a message that never got its newline.
    fn finish(self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then_some(self.partial)
    }
}

#[cfg(test)]
mod tests {
    use super::Messages;

    fn cut(reads: &[&[u8]]) -> (Vec<String>, Option<Vec<u8>>) {
        let mut messages = Messages::default();
        let mut got = Vec::new();
        for bytes in reads {
            messages.feed(bytes, |m| got.push(String::from_utf8_lossy(m).into_owned()));
        }
        (got, messages.finish())
    }

    #[test]
    fn two_messages_in_one_read_come_out_as_two() {
        assert_eq!(cut(&[b"one\ntwo\n"]), (vec!["one".into(), "two".into()], None));
    }

    #[test]
    fn a_message_split_across_reads_comes_out_once() {
        let (got, rest) = cut(&[b"he", b"llo\nwor", b"", b"ld\n"]);
        assert_eq!(got, ["hello", "world"]);
        assert_eq!(rest, None);
    }

    #[test]
    fn empty_messages_count_and_a_missing_newline_is_kept() {
        let (got, rest) = cut(&[b"\n\nabc"]);
        assert_eq!(got, ["", ""]);
        assert_eq!(rest.as_deref(), Some(&b"abc"[..]));
    }
}
