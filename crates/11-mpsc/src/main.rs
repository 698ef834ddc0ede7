//! Exercise 11 — mpsc: many writers, one reader, one pipe.
//!
//! Lecture 16 (Inter-Process Communication, Threads) notes that a pipe may
//! have several write ends in use at once: multiple producers, single
//! consumer. Here N writer children (default 4) each send M records
//! (default 1000) into one pipe, and the parent reads them all until end of
//! file. Three facts of pipe(7) make that work, and this program shows each:
//!
//! - **A write of at most `PIPE_BUF` bytes (4096 on Linux) is atomic**: its
//!   bytes land in the pipe together, never mixed with another writer's. So
//!   each record goes out in *one* `write` and arrives whole. The parent
//!   checks every record — writer, sequence number, length, fill bytes and
//!   checksum — and counts, per writer, how many arrived whole.
//! - **End of file comes after the last writer closed its end**: the parent's
//!   `read` returns 0 only once every child has exited (and the parent has
//!   closed its own copy). No record can still be on its way then, so a
//!   missing record is really lost — and none is.
//! - **Larger writes can tear**: above `PIPE_BUF` the kernel may copy a write
//!   in pieces, and while the pipe is full another writer's bytes can slip
//!   in between. `--size 100000` shows it and counts the torn records. A run
//!   may find none — interleaving is allowed, not promised — and then it says
//!   so.
//!
//! Run it: `cargo run -p mpsc`, or `cargo run -p mpsc -- --size 100000`.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use syscalls::cli::Program;
use syscalls::{_exit, Fork, OrExit, WaitStatus, fork, pid_t, pipe, read, waitpid, write_all};

const PROGRAM: Program = Program {
    name: "mpsc",
    usage: "[--writers N] [--messages M] [--size BYTES]",
    about: "N writer children each send M fixed-size records through one pipe; the parent\n\
            reads until end of file, checks that every record arrived whole and none is\n\
            missing, and reports the counts per writer (lecture 16: multiple producers,\n\
            single consumer).\n\
            \n\
            Options:\n  \
              --writers N     writer children, 1 to 64 (default 4)\n  \
              --messages M    records per writer, 0 to 1000000 (default 1000)\n  \
              --size BYTES    bytes per record, 16 to 1048576 (default 4096, PIPE_BUF);\n  \
              \x20               above PIPE_BUF writes may interleave: the torn records\n  \
              \x20               are counted",
};

/// The largest write the kernel promises not to interleave with others.
const PIPE_BUF: usize = libc::PIPE_BUF;

/// A record starts with three little-endian `u32`s: writer, sequence
/// number, record length.
const HEADER: usize = 12;

/// A record ends with a little-endian `u32` checksum of all that precedes it.
const CHECKSUM: usize = 4;

/// The smallest record: a header and a checksum, no fill.
const MIN_SIZE: usize = HEADER + CHECKSUM;

/// The largest record `--size` accepts.
const MAX_SIZE: usize = 1 << 20;

/// The command line, parsed.
struct Config {
    writers: u32,
    messages: u32,
    size: usize,
}

fn parse_args() -> Config {
    let mut config = Config {
        writers: 4,
        messages: 1000,
        size: PIPE_BUF,
    };
    let mut args = PROGRAM.args().into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        match arg.as_str() {
            "--writers" => config.writers = PROGRAM.number_in("--writers", args.next(), 1..=64),
            "--messages" => config.messages = PROGRAM.number_in("--messages", args.next(), 0..=1_000_000),
            "--size" => config.size = PROGRAM.number_in("--size", args.next(), MIN_SIZE..=MAX_SIZE),
            _ => PROGRAM.usage_error(&format!("unexpected argument '{arg}'")),
        }
    }
    config
}

// ANCHOR: main
fn main() {
    let config = parse_args();

    let (read_end, write_end) = pipe().or_exit("pipe");
    // The starting gate: every writer waits for end of file on it, which
    // comes when the parent closes its end after the last fork. So the
    // writers start together, and a first writer cannot finish before the
    // next one exists (with small records it would, and whether writes
    // interleave would depend on luck rather than on how they are made).
    let (gate_rx, gate_tx) = pipe().or_exit("pipe");
    io::stdout().flush().or_exit("flush");

    let mut children: Vec<pid_t> = Vec::new();
    for writer in 0..config.writers {
        // SAFETY: this program has a single thread, so the child may call
        // anything; writer_child ends with _exit, never returning here.
        match unsafe { fork() }.or_exit("fork") {
            Fork::Child => {
                drop(read_end); // a writer never reads
                drop(gate_tx);
                read(&gate_rx, &mut [0u8; 1]).or_exit("read");
                writer_child(writer, &write_end, &config)
            }
            Fork::Parent(pid) => children.push(pid),
        }
    }
    drop(gate_rx);
    drop(gate_tx); // open the gate

    // TODO: close the parent's write end: end of file comes only when every
    // write end is closed.
    // BEGIN SOLUTION
    drop(write_end);
    // END SOLUTION

    // The stream is a sequence of `size`-byte records. Read it one record at
    // a time until end of file, which arrives only after the last writer has
    // exited: by then every record that will ever come has come.
    let mut tally = Tally::new(&config);
    let mut frame = vec![0u8; config.size];
    loop {
        let n = read_record(&read_end, &mut frame);
        if n == 0 {
            break;
        }
        tally.judge(&frame[..n]);
    }

    let mut failed_children = 0;
    for (writer, &pid) in (1..).zip(&children) {
        let (_, status) = waitpid(pid, 0).or_exit("waitpid");
        if status != WaitStatus::Exited(0) {
            eprintln!("mpsc: writer {writer} (pid {pid}) ended with {status:?}");
            failed_children += 1;
        }
    }

    let complete = tally.report();
    std::process::exit(if complete && failed_children == 0 { 0 } else { 1 })
}

/// A writer: sends `messages` records, each with a single `write`, then
/// exits — which closes its write end.
fn writer_child(writer: u32, write_end: &OwnedFd, config: &Config) -> ! {
    let mut record = vec![0u8; config.size];
    for seq in 0..config.messages {
        encode(&mut record, writer, seq);
        // TODO: send the whole record with ONE write (write_all): a write of at
        // most PIPE_BUF bytes is never interleaved with another writer's; two
        // writes can be.
        // BEGIN SOLUTION
        write_all(write_end, &record).or_exit("write");
        // END SOLUTION
    }
    _exit(0)
}
// ANCHOR_END: main

/// Reads one record: `read` until `frame` is full or end of file. Returns
/// how many bytes came — `frame.len()`, less for a record cut short at end
/// of file, 0 at end of file.
///
/// One `read` may return less than a record: a pipe hands over what it
/// holds, and a record larger than a page may not be all there yet.
fn read_record(read_end: &OwnedFd, frame: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < frame.len() {
        match read(read_end, &mut frame[filled..]).or_exit("read") {
            0 => break,
            n => filled += n,
        }
    }
    filled
}

/// The byte that fills the records of `writer`: a different one per writer
/// (writers number at most 64), so a piece of another writer's record shows.
fn fill_byte(writer: u32) -> u8 {
    b'!' + (writer % 64) as u8
}

/// FNV-1a, 32 bits: a checksum that notices bytes moved or replaced.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Fills `record` (its length is the record size) as record `seq` of `writer`:
/// `[writer, seq, length, fill bytes…, checksum]`.
fn encode(record: &mut [u8], writer: u32, seq: u32) {
    let len = record.len();
    record[0..4].copy_from_slice(&writer.to_le_bytes());
    record[4..8].copy_from_slice(&seq.to_le_bytes());
    record[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    record[HEADER..len - CHECKSUM].fill(fill_byte(writer));
    let sum = checksum(&record[..len - CHECKSUM]);
    record[len - CHECKSUM..].copy_from_slice(&sum.to_le_bytes());
}

/// Reads a record back: `Some((writer, seq))` if it is one a writer of
/// `config` could have sent, whole — right length, writer and sequence
/// number in range, every fill byte that writer's, checksum right.
fn decode(record: &[u8], config: &Config) -> Option<(u32, u32)> {
    let len = record.len();
    if len != config.size {
        return None;
    }
    let word = |i: usize| u32::from_le_bytes([record[i], record[i + 1], record[i + 2], record[i + 3]]);
    let (writer, seq, length) = (word(0), word(4), word(8));
    let sum = word(len - CHECKSUM);
    let fill = fill_byte(writer);
    let whole = writer < config.writers
        && seq < config.messages
        && length as usize == len
        && record[HEADER..len - CHECKSUM].iter().all(|&b| b == fill)
        && sum == checksum(&record[..len - CHECKSUM]);
    whole.then_some((writer, seq))
}

/// What the parent found in the stream.
struct Tally<'a> {
    config: &'a Config,
    /// Records that arrived whole, per writer.
    whole: Vec<u64>,
    /// The sequence number each writer's next whole record must have at
    /// least: one writer's records come out in the order it wrote them.
    next_seq: Vec<u32>,
    /// Records that failed the check (a record cut short at end of file too).
    torn: u64,
}

impl<'a> Tally<'a> {
    fn new(config: &'a Config) -> Self {
        let writers = config.writers as usize;
        Tally {
            config,
            whole: vec![0; writers],
            next_seq: vec![0; writers],
            torn: 0,
        }
    }

    /// Judges one record read from the pipe.
    fn judge(&mut self, record: &[u8]) {
        match decode(record, self.config) {
            Some((writer, seq)) if seq >= self.next_seq[writer as usize] => {
                self.whole[writer as usize] += 1;
                self.next_seq[writer as usize] = seq + 1;
            }
            _ => self.torn += 1,
        }
    }

    /// Prints a line per writer, then the totals; returns whether every
    /// record arrived whole, or — above `PIPE_BUF`, where tearing is allowed
    /// — at least whether every byte arrived.
    fn report(&self) -> bool {
        let Config {
            writers,
            messages,
            size,
        } = *self.config;
        for (writer, whole) in (1..).zip(&self.whole) {
            println!("writer {writer}: {whole} of {messages} records whole");
        }
        let expected = u64::from(writers) * u64::from(messages);
        let whole: u64 = self.whole.iter().sum();
        let missing = expected.saturating_sub(whole + self.torn);
        let writers_text = if writers == 1 {
            "1 writer".to_string()
        } else {
            format!("{writers} writers")
        };
        println!(
            "{writers_text} × {messages} records of {size} bytes: {whole} whole, {} torn, {missing} missing",
            self.torn
        );
        if size <= PIPE_BUF {
            if whole == expected {
                return true;
            }
            eprintln!(
                "mpsc: {} of {expected} records did not arrive whole, though writes of at most \
                 PIPE_BUF ({PIPE_BUF}) bytes never interleave: does each writer send each record \
                 with a single write?",
                expected - whole
            );
            return false;
        }
        if self.torn == 0 {
            println!(
                "none torn this time: writes above PIPE_BUF ({PIPE_BUF} bytes) may interleave, \
                 but need not"
            );
        } else {
            println!(
                "{} records failed the check: writes above PIPE_BUF ({PIPE_BUF} bytes) were \
                 interleaved with other writers' writes",
                self.torn
            );
        }
        missing == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(size: usize) -> Config {
        Config {
            writers: 3,
            messages: 5,
            size,
        }
    }

    #[test]
    fn a_record_decodes_as_itself() {
        let config = config(64);
        let mut record = vec![0u8; 64];
        encode(&mut record, 2, 4);
        assert_eq!(decode(&record, &config), Some((2, 4)));
        encode(&mut record, 0, 0);
        assert_eq!(decode(&record, &config), Some((0, 0)));
        let mut small = vec![0u8; MIN_SIZE];
        encode(&mut small, 1, 1);
        assert_eq!(
            decode(
                &small,
                &Config {
                    size: MIN_SIZE,
                    ..config
                }
            ),
            Some((1, 1))
        );
    }

    #[test]
    fn a_record_with_another_writers_bytes_is_torn() {
        let config = config(64);
        let (mut a, mut b) = (vec![0u8; 64], vec![0u8; 64]);
        encode(&mut a, 0, 1);
        encode(&mut b, 1, 1);
        let mut mixed = a[..30].to_vec();
        mixed.extend_from_slice(&b[30..]);
        assert_eq!(decode(&mixed, &config), None);
        // The tail of one record and the head of the next, from one writer.
        let mut next = vec![0u8; 64];
        encode(&mut next, 0, 2);
        let shifted: Vec<u8> = a[20..].iter().chain(&next[..20]).copied().collect();
        assert_eq!(decode(&shifted, &config), None);
    }

    #[test]
    fn out_of_range_or_short_records_are_torn() {
        let config = config(64);
        let mut record = vec![0u8; 64];
        encode(&mut record, 3, 0); // writers are 0, 1, 2
        assert_eq!(decode(&record, &config), None);
        encode(&mut record, 0, 5); // sequence numbers are 0 to 4
        assert_eq!(decode(&record, &config), None);
        encode(&mut record, 0, 0);
        assert_eq!(decode(&record[..63], &config), None);
        record[40] ^= 1;
        assert_eq!(decode(&record, &config), None);
    }

    #[test]
    fn tally_counts_whole_torn_and_repeats() {
        let config = config(32);
        let mut tally = Tally::new(&config);
        let mut record = vec![0u8; 32];
        for seq in 0..5 {
            encode(&mut record, 1, seq);
            tally.judge(&record);
        }
        tally.judge(&record); // seq 4 again: not a new whole record
        tally.judge(&[0u8; 32]);
        assert_eq!(tally.whole, [0, 5, 0]);
        assert_eq!(tally.torn, 2);
    }
}
