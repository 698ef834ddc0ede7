//! Exercise 16 — pipe-throughput: how fast the kernel moves bytes between
//! two processes, and what it costs to touch them.
//!
//! Lecture 16 (Inter-Process Communication, Threads) calls a pipe a
//! kernel-mediated buffer: `write` copies bytes from the writer's memory into
//! the kernel, `read` copies them out into the reader's. This program sends
//! the same stream of bytes (128 MiB by default) from one side to the other
//! in chunks of 4 KiB to 1 MiB, six ways, and prints the rate of each:
//!
//! - `write` → `read` through a pipe of the default size (64 KiB);
//! - the same through a pipe enlarged to 1 MiB (`fcntl(F_SETPIPE_SZ)`):
//!   fewer times the writer fills the pipe and has to sleep;
//! - `vmsplice` → `read`: the writer hands the kernel *references* to its
//!   pages instead of copying them; one copy is left, into the reader;
//! - `vmsplice` → `splice` to `/dev/null`: no copy at all, and no byte is
//!   ever looked at — the reader only counts them. That is the point of the
//!   mode, and why it alone is not verified;
//! - two threads of one process, over a channel: the writer copies each
//!   chunk into a buffer and passes the buffer itself; no kernel at all;
//! - `memcpy` of the same bytes in one thread: one copy and nothing else,
//!   not even a look at the result — the ceiling for anything that copies
//!   the data once.
//!
//! Every reader that receives the bytes verifies them where it reads them: a
//! checksum over everything read must equal the checksum of the stream sent,
//! computed beforehand. The two modes that never read the bytes say so.
//! Last, the program names the fastest verified way to get the bytes to the
//! other side, and the fastest between two processes, each with its ratio
//! to `memcpy`.
//!
//! Run it: `cargo run -p pipe-throughput` (or `cargo xtask run 16`);
//! `--bytes 16M` for a quick run; `--tsv` prints the numbers as
//! tab-separated lines for programs (`cargo xtask bench` reads them).

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use syscalls::cli::Program;
use syscalls::{
    _exit, Fork, OrExit, WaitStatus, fork, pipe, pipe_size, read, set_pipe_size, splice, vmsplice, waitpid,
    write_all,
};

const PROGRAM: Program = Program {
    name: "pipe-throughput",
    usage: "[--bytes SIZE] [--chunks SIZE,...] [--repeat N] [--tsv]",
    about: "Sends the same bytes from one side to the other in chunks of 4 KiB to 1 MiB and\n\
            prints the rate: write/read through a 64 KiB pipe and a 1 MiB one (F_SETPIPE_SZ),\n\
            vmsplice/read, vmsplice/splice to /dev/null, two threads over a channel, and\n\
            memcpy as the ceiling. Readers verify the data with a checksum; vmsplice/splice\n\
            and memcpy never look at it, and say so. Then the fastest verified ways, of all\n\
            and between processes, with their ratio to memcpy (lecture 16: a pipe is a\n\
            kernel buffer).\n\
            \n\
            Options:\n  \
              --bytes SIZE       bytes per run, rounded up to whole MiB (default 128M);\n                     \
                                 SIZE is a number with an optional K, M or G\n  \
              --chunks SIZE,...  chunk sizes, powers of two from 4K to 1M\n                     \
                                 (default 4K,16K,64K,256K,1M)\n  \
              --repeat N         run each configuration N times, keep the fastest (default 1)\n  \
              --tsv              tab-separated lines for programs instead of the table:\n                     \
                                 bytes N / checksum HEX / run MODE CHUNK BYTES NS BYTES_PER_S SUM|-\n                     \
                                 / best MODE CHUNK BYTES_PER_S RATIO_TO_MEMCPY / best-pipe (the same)",
};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// The stream is this pattern over and over. Every chunk size divides it,
/// so a chunk is always one slice of it.
const PATTERN_LEN: usize = MIB;

/// The size the enlarged pipe asks for: Linux's default
/// `/proc/sys/fs/pipe-max-size`, the most an unprivileged process may ask.
const BIG_PIPE: usize = MIB;

/// What the command line asked for.
struct Config {
    bytes: usize,
    chunks: Vec<usize>,
    repeat: usize,
    tsv: bool,
}

/// `16M`, `4K`, `1G` or a plain number of bytes.
fn parse_size(text: &str) -> Option<usize> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let shift = match unit {
        "" | "B" => 0,
        "K" | "KiB" | "k" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        _ => return None,
    };
    digits.parse::<usize>().ok()?.checked_mul(1 << shift)
}

fn parse_args() -> Config {
    let mut config = Config {
        bytes: 128 * MIB,
        chunks: vec![4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB],
        repeat: 1,
        tsv: false,
    };
    let mut args = PROGRAM.args().into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        let mut value = |name: &str| -> String {
            match args.next() {
                Some(v) => v.to_string_lossy().into_owned(),
                None => PROGRAM.usage_error(&format!("{name} needs a value")),
            }
        };
        match arg.as_str() {
            "--bytes" => {
                let v = value("--bytes");
                match parse_size(&v) {
                    Some(n) if (1..=64 << 30).contains(&n) => config.bytes = n.div_ceil(MIB) * MIB,
                    _ => PROGRAM.usage_error(&format!(
                        "--bytes wants a size from 1 to 64G, like 16M, not '{v}'"
                    )),
                }
            }
            "--chunks" => {
                let v = value("--chunks");
                config.chunks = v
                    .split(',')
                    .map(|s| match parse_size(s.trim()) {
                        Some(n) if n.is_power_of_two() && (4 * KIB..=MIB).contains(&n) => n,
                        _ => PROGRAM.usage_error(&format!(
                            "--chunks wants powers of two from 4K to 1M, separated by commas, not '{v}'"
                        )),
                    })
                    .collect();
            }
            "--repeat" => {
                let v = value("--repeat");
                match v.parse::<usize>() {
                    Ok(n) if (1..=100).contains(&n) => config.repeat = n,
                    _ => PROGRAM.usage_error(&format!("--repeat wants a number from 1 to 100, not '{v}'")),
                }
            }
            "--tsv" => config.tsv = true,
            _ => PROGRAM.usage_error(&format!("unexpected argument '{arg}'")),
        }
    }
    config
}

/// A checksum of a byte stream: four interleaved Fletcher-style sums of
/// 64-bit words (`a += word; b += a`), so it catches changed, lost and
/// reordered bytes, and is cheap enough (a few adds per 32 bytes) not to
/// hide the transport's speed. Fed whole chunks, whose sizes are multiples
/// of 32 bytes.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Checksum {
    a: [u64; 4],
    b: [u64; 4],
}

impl Checksum {
    fn update(&mut self, bytes: &[u8]) {
        let mut blocks = bytes.chunks_exact(32);
        for block in &mut blocks {
            self.add_block(block);
        }
        let tail = blocks.remainder();
        if !tail.is_empty() {
            let mut padded = [0u8; 32];
            padded[..tail.len()].copy_from_slice(tail);
            self.add_block(&padded);
        }
    }

    #[inline(always)]
    fn add_block(&mut self, block: &[u8]) {
        for lane in 0..4 {
            let word = u64::from_le_bytes(block[8 * lane..8 * lane + 8].try_into().expect("8 bytes"));
            self.a[lane] = self.a[lane].wrapping_add(word);
            self.b[lane] = self.b[lane].wrapping_add(self.a[lane]);
        }
    }

    /// The sums folded into one number to print.
    fn value(&self) -> u64 {
        self.a.iter().chain(&self.b).fold(0xcbf2_9ce4_8422_2325, |h, &x| {
            (h ^ x).wrapping_mul(0x0100_0000_01b3).rotate_left(29)
        })
    }
}

/// The stream: `bytes` bytes of a fixed pseudo-random pattern, repeated.
struct Stream<'a> {
    pattern: &'a [u8],
    bytes: usize,
}

impl<'a> Stream<'a> {
    /// The stream cut into `chunk`-byte slices of the pattern. Allocates
    /// nothing, so a forked child may use it.
    fn chunks(&self, chunk: usize) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let pattern = self.pattern;
        (0..self.bytes / chunk).map(move |k| {
            let at = k * chunk % PATTERN_LEN;
            &pattern[at..at + chunk]
        })
    }
}

/// The pattern, in page-aligned memory: vmsplice hands whole pages to the
/// pipe, and pages that start mid-chunk would cost extra ones.
fn make_pattern() -> Vec<u8> {
    let page = 4 * KIB;
    let mut memory = vec![0u8; PATTERN_LEN + page];
    let skip = memory.as_ptr().align_offset(page);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for byte in &mut memory[skip..skip + PATTERN_LEN] {
        // xorshift64: the bytes look random, so no chunk equals another.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = (x >> 56) as u8;
    }
    memory.drain(..skip);
    memory.truncate(PATTERN_LEN);
    memory
}

/// One way of getting the bytes across.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Pipe,
    BigPipe,
    VmspliceRead,
    VmspliceSplice,
    Channel,
    Memcpy,
}

const MODES: [Mode; 6] = [
    Mode::Pipe,
    Mode::BigPipe,
    Mode::VmspliceRead,
    Mode::VmspliceSplice,
    Mode::Channel,
    Mode::Memcpy,
];

impl Mode {
    /// Its name in `--tsv` lines.
    fn key(self) -> &'static str {
        match self {
            Mode::Pipe => "pipe",
            Mode::BigPipe => "pipe-1m",
            Mode::VmspliceRead => "vmsplice-read",
            Mode::VmspliceSplice => "vmsplice-splice",
            Mode::Channel => "channel",
            Mode::Memcpy => "memcpy",
        }
    }

    /// Whether a writer process sends to a reader process through a pipe.
    fn between_processes(self) -> bool {
        !matches!(self, Mode::Channel | Mode::Memcpy)
    }

    /// Its name in the table.
    fn label(self) -> &'static str {
        match self {
            Mode::Pipe => "write/read, 64 KiB pipe",
            Mode::BigPipe => "write/read, 1 MiB pipe",
            Mode::VmspliceRead => "vmsplice/read, 1 MiB pipe",
            Mode::VmspliceSplice => "vmsplice/splice, 1 MiB pipe",
            Mode::Channel => "threads, channel",
            Mode::Memcpy => "memcpy (the ceiling)",
        }
    }
}

/// What one run measured.
#[derive(Clone, Copy)]
struct Run {
    /// Bytes that arrived.
    bytes: usize,
    elapsed: Duration,
    /// The checksum of what arrived, or `None` when nobody looked.
    checksum: Option<Checksum>,
}

impl Run {
    fn bytes_per_second(&self) -> u128 {
        self.bytes as u128 * 1_000_000_000 / self.elapsed.as_nanos().max(1)
    }
}

/// How the writer process puts one chunk into the pipe.
type Send = fn(&OwnedFd, &[u8]) -> io::Result<()>;

/// `write`: the kernel copies the chunk into the pipe's buffer.
fn send_write(write_end: &OwnedFd, chunk: &[u8]) -> io::Result<()> {
    write_all(write_end, chunk)
}

// ANCHOR: send
/// `vmsplice`: the pipe gets references to the chunk's pages, no copy.
fn send_vmsplice(write_end: &OwnedFd, chunk: &[u8]) -> io::Result<()> {
    // TODO: vmsplice the chunk into the pipe. A call may take only part of it
    // (as much as the pipe has room for): call again with the rest until none
    // is left; a call that takes 0 bytes is an error (WriteZero).
    // BEGIN SOLUTION
    let mut rest = chunk;
    while !rest.is_empty() {
        match vmsplice(write_end, rest)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => rest = &rest[n..],
        }
    }
    Ok(())
    // END SOLUTION
}
// ANCHOR_END: send

/// How the reading process takes the bytes out of the pipe.
#[derive(Clone, Copy, PartialEq)]
enum Receive {
    /// `read` into a buffer, then check them.
    ReadAndVerify,
    /// `splice` them to `/dev/null`, unread.
    SpliceToNull,
}

/// Reads `chunk`-sized pieces until end of file, checksumming each;
/// returns how many bytes came, and their checksum.
fn receive_read(read_end: &OwnedFd, chunk: usize) -> (usize, Checksum) {
    let mut buf = vec![1u8; chunk];
    let mut sum = Checksum::default();
    let mut bytes = 0;
    loop {
        // A read returns what the pipe holds, maybe less than a chunk: fill
        // the chunk first, so the checksum always sees whole ones.
        let mut got = 0;
        while got < chunk {
            match read(read_end, &mut buf[got..]).or_exit("read") {
                0 => break,
                n => got += n,
            }
        }
        sum.update(&buf[..got]);
        bytes += got;
        if got < chunk {
            return (bytes, sum);
        }
    }
}

// ANCHOR: receive
/// Moves everything to `/dev/null` with `splice` until end of file, and
/// counts it. No byte is copied or looked at.
fn receive_splice(read_end: &OwnedFd, chunk: usize) -> usize {
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .or_exit("open /dev/null");
    // TODO: splice at most `chunk` bytes at a time from the pipe to `null`
    // (flag libc::SPLICE_F_MOVE) until it returns 0, end of file, and return
    // how many bytes moved in all.
    // BEGIN SOLUTION
    let mut bytes = 0;
    loop {
        match splice(read_end, &null, chunk, libc::SPLICE_F_MOVE).or_exit("splice") {
            0 => return bytes,
            n => bytes += n,
        }
    }
    // END SOLUTION
}
// ANCHOR_END: receive

// ANCHOR: between
/// A writer child sends the stream through a pipe; this process receives
/// it. `capacity` enlarges the pipe first.
fn between_processes(
    stream: &Stream,
    chunk: usize,
    capacity: Option<usize>,
    send: Send,
    receive: Receive,
) -> Run {
    let (read_end, write_end) = pipe().or_exit("pipe");
    if let Some(capacity) = capacity {
        // TODO: ask the kernel for a pipe of `capacity` bytes (set_pipe_size):
        // a writer then fills it, and sleeps, less often.
        // BEGIN SOLUTION
        set_pipe_size(&write_end, capacity).or_exit("fcntl(F_SETPIPE_SZ)");
        // END SOLUTION
    }
    let start = Instant::now();
    // SAFETY: every thread this program starts is joined before it forks,
    // and the child only writes slices of the pattern (Stream::chunks
    // allocates nothing) and leaves with _exit.
    let child = match unsafe { fork() }.or_exit("fork") {
        Fork::Child => {
            drop(read_end);
            for piece in stream.chunks(chunk) {
                if send(&write_end, piece).is_err() {
                    _exit(1);
                }
            }
            _exit(0)
        }
        Fork::Parent(pid) => pid,
    };
    // The child holds the write end; ours must go, or read never sees EOF.
    drop(write_end);
    let (bytes, checksum) = match receive {
        Receive::ReadAndVerify => {
            let (bytes, sum) = receive_read(&read_end, chunk);
            (bytes, Some(sum))
        }
        Receive::SpliceToNull => (receive_splice(&read_end, chunk), None),
    };
    let (_, status) = waitpid(child, 0).or_exit("waitpid");
    let elapsed = start.elapsed();
    if status != WaitStatus::Exited(0) {
        eprintln!("pipe-throughput: the writer process failed ({status:?})");
        std::process::exit(1);
    }
    Run {
        bytes,
        elapsed,
        checksum,
    }
}
// ANCHOR_END: between

/// A writer thread copies each chunk into a buffer and sends the buffer
/// over a channel; this thread checks it and hands the buffer back.
fn between_threads(stream: &Stream, chunk: usize) -> Run {
    // About 1 MiB in flight, like the big pipe.
    let depth = (MIB / chunk).max(2);
    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(depth);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..depth + 1 {
        empty_tx.send(vec![1u8; chunk]).expect("the receiver is here");
    }
    let start = Instant::now();
    let mut sum = Checksum::default();
    let mut bytes = 0;
    thread::scope(|s| {
        thread::Builder::new()
            .spawn_scoped(s, move || {
                for piece in stream.chunks(chunk) {
                    let Ok(mut buf) = empty_rx.recv() else { return };
                    buf.copy_from_slice(piece);
                    if full_tx.send(buf).is_err() {
                        return;
                    }
                }
            })
            .or_exit("pthread_create");
        for buf in full_rx {
            sum.update(&buf);
            bytes += buf.len();
            // The writer may have finished and gone: then nobody needs it.
            let _ = empty_tx.send(buf);
        }
    });
    Run {
        bytes,
        elapsed: start.elapsed(),
        checksum: Some(sum),
    }
}

/// The ceiling: one thread copies each chunk once, and nothing else.
fn copy_in_memory(stream: &Stream, chunk: usize) -> Run {
    let mut buf = vec![1u8; chunk];
    let mut bytes = 0;
    let start = Instant::now();
    for piece in stream.chunks(chunk) {
        buf.copy_from_slice(piece);
        // Make the copy count: nothing reads `buf`, and the compiler would
        // be entitled to skip a copy nobody looks at.
        std::hint::black_box(&mut buf);
        bytes += piece.len();
    }
    Run {
        bytes,
        elapsed: start.elapsed(),
        checksum: None,
    }
}

fn run_once(mode: Mode, stream: &Stream, chunk: usize) -> Run {
    match mode {
        Mode::Pipe => between_processes(stream, chunk, None, send_write, Receive::ReadAndVerify),
        Mode::BigPipe => between_processes(stream, chunk, Some(BIG_PIPE), send_write, Receive::ReadAndVerify),
        Mode::VmspliceRead => between_processes(
            stream,
            chunk,
            Some(BIG_PIPE),
            send_vmsplice,
            Receive::ReadAndVerify,
        ),
        Mode::VmspliceSplice => between_processes(
            stream,
            chunk,
            Some(BIG_PIPE),
            send_vmsplice,
            Receive::SpliceToNull,
        ),
        Mode::Channel => between_threads(stream, chunk),
        Mode::Memcpy => copy_in_memory(stream, chunk),
    }
}

/// `64 KiB`, `1 MiB`.
fn human(bytes: usize) -> String {
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

fn gigabytes(bytes_per_second: u128) -> f64 {
    bytes_per_second as f64 / 1e9
}

// ANCHOR: main
fn main() {
    let config = parse_args();
    let pattern = make_pattern();
    let stream = Stream {
        pattern: &pattern,
        bytes: config.bytes,
    };
    let mut expected = Checksum::default();
    for piece in stream.chunks(MIB) {
        expected.update(piece);
    }

    if config.tsv {
        println!("bytes\t{}", config.bytes);
        println!("checksum\t{:016x}", expected.value());
    } else {
        let (probe, _) = pipe().or_exit("pipe");
        let default = pipe_size(&probe).or_exit("fcntl(F_GETPIPE_SZ)");
        println!(
            "pipe-throughput: {} per run, default pipe {}; the stream's checksum is {:016x}",
            human(config.bytes),
            human(default),
            expected.value()
        );
        println!("how                            chunk     GB/s  data");
    }
    // A forked writer gets a copy of anything still buffered.
    io::stdout().flush().or_exit("write");

    let mut results: Vec<(Mode, usize, Run)> = Vec::new();
    let mut corrupted = 0;
    for mode in MODES {
        for &chunk in &config.chunks {
            let run = (0..config.repeat)
                .map(|_| run_once(mode, &stream, chunk))
                .min_by_key(|r| r.elapsed)
                .expect("at least one run");
            let intact = run.bytes == config.bytes && run.checksum.is_none_or(|sum| sum == expected);
            if !intact {
                corrupted += 1;
            }
            let rate = run.bytes_per_second();
            if config.tsv {
                let sum = run
                    .checksum
                    .map_or("-".to_string(), |s| format!("{:016x}", s.value()));
                println!(
                    "run\t{}\t{chunk}\t{}\t{}\t{rate}\t{sum}",
                    mode.key(),
                    run.bytes,
                    run.elapsed.as_nanos()
                );
            } else {
                let data = match run.checksum {
                    _ if run.bytes != config.bytes => format!("WRONG: {} bytes arrived", run.bytes),
                    None if mode == Mode::Memcpy => "not read (one copy, nothing else)".to_string(),
                    None => "not read (zero copy: the point)".to_string(),
                    Some(sum) if sum == expected => "checksum ok".to_string(),
                    Some(sum) => format!("WRONG checksum {:016x}", sum.value()),
                };
                println!(
                    "{:<28} {:>8} {:>8.2}  {data}",
                    mode.label(),
                    human(chunk),
                    gigabytes(rate)
                );
            }
            io::stdout().flush().or_exit("write");
            results.push((mode, chunk, run));
        }
    }

    // The fastest ways that delivered the bytes, checked, to the other
    // side: of all, and of those between two processes. memcpy (no other
    // side, no check) is the yardstick.
    let fastest = |pick: fn(Mode) -> bool| {
        results
            .iter()
            .filter(|(mode, _, run)| pick(*mode) && run.checksum.is_some())
            .max_by_key(|(_, _, run)| run.bytes_per_second())
    };
    let ceiling = results
        .iter()
        .filter(|(mode, _, _)| *mode == Mode::Memcpy)
        .max_by_key(|(_, _, run)| run.bytes_per_second());
    let bests = [
        ("best", "best verified", fastest(|_| true)),
        (
            "best-pipe",
            "best verified between processes",
            fastest(Mode::between_processes),
        ),
    ];
    for (key, title, best) in bests {
        let (Some((mode, chunk, run)), Some((_, memcpy_chunk, memcpy))) = (best, ceiling) else {
            continue;
        };
        let ratio = run.bytes_per_second() as f64 / memcpy.bytes_per_second().max(1) as f64;
        if config.tsv {
            println!(
                "{key}\t{}\t{chunk}\t{}\t{ratio:.3}",
                mode.key(),
                run.bytes_per_second()
            );
        } else {
            println!(
                "{title}: {}, {} chunks, {:.2} GB/s = {ratio:.2} × memcpy ({:.2} GB/s with {} chunks)",
                mode.label(),
                human(*chunk),
                gigabytes(run.bytes_per_second()),
                gigabytes(memcpy.bytes_per_second()),
                human(*memcpy_chunk)
            );
        }
    }

    if corrupted > 0 {
        eprintln!("pipe-throughput: the data arrived wrong in {corrupted} run(s)");
        std::process::exit(1);
    }
}
// ANCHOR_END: main
