//! Exercise 13 — pipe-rules: the rules of pipes, each decided by experiment.
//!
//! Lecture 16 (Inter-Process Communication, Threads) raises questions about
//! pipes along the way: which end is which? what if you read the write end?
//! when does `read` return end of file? what happens to a writer when nobody
//! reads? how much does a pipe hold? This program answers each by running a
//! small experiment and printing, per rule, what pipe(7) says should happen,
//! what did happen, and a verdict: `ok` when they agree.
//!
//! Nothing here can hang: where the rule is "read blocks", the experiment
//! asks `poll` whether a read would return within 100 ms, and a non-blocking
//! read shows `EAGAIN` instead of sleeping.
//!
//! One rule depends on who runs it: growing a pipe beyond
//! `/proc/sys/fs/pipe-max-size` takes the `CAP_SYS_RESOURCE` capability. The
//! program reads its own capabilities first, expects `EPERM` without it and
//! success with it, and says which case it was in.
//!
//! Run it: `cargo run -p pipe-rules`, or `cargo run -p pipe-rules -- 7 8`
//! for some rules only.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::os::fd::OwnedFd;
use std::time::Duration;
use syscalls::cli::Program;
use syscalls::{
    _exit, Fork, OrExit, WaitStatus, default_signal, fork, pipe, pipe_size, poll_readable, read,
    set_nonblocking, set_pipe_size, waitpid, write, write_all,
};

const PROGRAM: Program = Program {
    name: "pipe-rules",
    usage: "[RULE...]",
    about: "Checks the rules of pipes by experiment, one line per rule: the rule, what\n\
            pipe(7) says should happen, what happened, and \"ok\" when they agree (lecture\n\
            16). Exits 0 when every rule held, 1 otherwise.\n\
            \n\
            RULE...   run only these rules (numbers 1 to 12; default: all)",
};

/// How long "blocks" is given to prove itself.
const BOUND: Duration = Duration::from_millis(100);

/// The largest write the kernel promises not to interleave with others.
const PIPE_BUF: usize = libc::PIPE_BUF;

/// The `PIPE_BUF` experiment: this many writers, each this many writes.
const ATOMIC_WRITERS: u8 = 4;
const ATOMIC_WRITES: usize = 64;

/// Where the unprivileged limit on a pipe's capacity is set.
const PIPE_MAX_SIZE: &str = "/proc/sys/fs/pipe-max-size";

/// The capability that lifts that limit (linux/capability.h).
const CAP_SYS_RESOURCE: u32 = 24;

/// One rule: what it says, what should happen, what happened.
struct Rule {
    rule: String,
    expected: String,
    observed: String,
}

impl Rule {
    fn new(rule: impl Into<String>, expected: impl Into<String>, observed: impl Into<String>) -> Rule {
        Rule {
            rule: rule.into(),
            expected: expected.into(),
            observed: observed.into(),
        }
    }

    fn holds(&self) -> bool {
        self.expected == self.observed
    }
}

/// Everything the experiments need to know about where they run.
struct Context {
    page_size: usize,
    /// `/proc/sys/fs/pipe-max-size`.
    pipe_max_size: usize,
    /// Whether this process may exceed `pipe-max-size`.
    privileged: bool,
}

/// The experiments, in the order they are numbered.
const EXPERIMENTS: [fn(&Context) -> Rule; 12] = [
    ends,
    write_read_end,
    read_write_end,
    read_blocks,
    read_nonblocking,
    read_eof,
    write_no_reader_ignored,
    write_no_reader_default,
    atomic_writes,
    capacity,
    grow_to_max,
    grow_beyond_max,
];

fn parse_args() -> Vec<usize> {
    let mut chosen = Vec::new();
    for arg in PROGRAM.args() {
        let arg = arg.to_string_lossy();
        match arg.parse::<usize>() {
            Ok(n) if (1..=EXPERIMENTS.len()).contains(&n) => chosen.push(n),
            _ => PROGRAM.usage_error(&format!(
                "'{arg}' is not a rule number from 1 to {}",
                EXPERIMENTS.len()
            )),
        }
    }
    if chosen.is_empty() {
        chosen = (1..=EXPERIMENTS.len()).collect();
    }
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

fn main() {
    let chosen = parse_args();
    let capable = has_capability(CAP_SYS_RESOURCE).or_exit("read /proc/self/status");
    let initial_ns = in_initial_user_namespace().or_exit("readlink /proc/self/ns/user");
    // The kernel asks for the capability in the initial user namespace: the
    // root of a user namespace (`unshare -U -r`, a rootless container) has it
    // only there, which does not count.
    let privilege = match (capable, initial_ns) {
        (true, true) => "with CAP_SYS_RESOURCE",
        (true, false) => "with CAP_SYS_RESOURCE in a user namespace only",
        (false, _) => "without CAP_SYS_RESOURCE",
    };
    let context = Context {
        // SAFETY: sysconf has no preconditions.
        page_size: unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize,
        pipe_max_size: read_number(PIPE_MAX_SIZE).or_exit(&format!("read {PIPE_MAX_SIZE}")),
        privileged: capable && initial_ns,
    };

    println!("{}", row("rule", "expected", "observed", "verdict"));
    let mut held = 0;
    for &n in &chosen {
        // Experiments fork: nothing may sit in the stdout buffer then.
        io::stdout().flush().or_exit("flush");
        let rule = EXPERIMENTS[n - 1](&context);
        let verdict = if rule.holds() { "ok" } else { "UNEXPECTED" };
        held += usize::from(rule.holds());
        println!(
            "{}",
            row(
                &format!("{n}. {}", rule.rule),
                &rule.expected,
                &rule.observed,
                verdict
            )
        );
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    println!(
        "{held} of {} rules as expected (uid {uid}, {privilege})",
        chosen.len()
    );
    std::process::exit(if held == chosen.len() { 0 } else { 1 })
}

/// One line of the table: four columns split by `|`, the last the verdict.
fn row(rule: &str, expected: &str, observed: &str, verdict: &str) -> String {
    format!("{rule:<56} | {expected:<24} | {observed:<24} | {verdict}")
}

// ANCHOR: main
/// `pfd[0]` is the read end and `pfd[1]` the write end: what goes into the
/// second comes out of the first.
fn ends(_: &Context) -> Rule {
    let (read_end, write_end) = pipe().or_exit("pipe"); // pfd[0], pfd[1]
    write_all(&write_end, b"ping").or_exit("write");
    let mut buf = [0u8; 16];
    let observed = match read(&read_end, &mut buf) {
        Ok(n) => format!("read \"{}\"", String::from_utf8_lossy(&buf[..n])),
        Err(e) => errno_name(&e),
    };
    Rule::new("pfd[1] writes, pfd[0] reads", "read \"ping\"", observed)
}

/// Each end works one way only: the read end is opened for reading, so
/// writing to it fails with `EBADF` ("not open for writing").
fn write_read_end(_: &Context) -> Rule {
    let (read_end, _write_end) = pipe().or_exit("pipe");
    let observed = outcome(write(&read_end, b"x"), |n| format!("wrote {}", bytes(n)));
    Rule::new("write to pfd[0], the read end", "EBADF", observed)
}

/// … and reading the write end fails with `EBADF` too.
fn read_write_end(_: &Context) -> Rule {
    let (_read_end, write_end) = pipe().or_exit("pipe");
    let observed = outcome(read(&write_end, &mut [0u8; 1]), |n| format!("read {}", bytes(n)));
    Rule::new("read from pfd[1], the write end", "EBADF", observed)
}

/// An empty pipe with a write end still open somewhere means "nothing yet":
/// `read` blocks. Here the pipe has two write ends and one is closed; `poll`
/// shows that a read would still not return within [`BOUND`].
fn read_blocks(_: &Context) -> Rule {
    let (read_end, write_end) = pipe().or_exit("pipe");
    let second = write_end.try_clone().or_exit("dup");
    drop(write_end);
    let observed = match poll_readable(&read_end, BOUND).or_exit("poll") {
        false => blocked(),
        true => "returned".to_string(),
    };
    drop(second);
    Rule::new("read, empty pipe, 1 of 2 write ends open", blocked(), observed)
}

/// The same read with `O_NONBLOCK` does not wait: it fails with `EAGAIN`.
fn read_nonblocking(_: &Context) -> Rule {
    let (read_end, _write_end) = pipe().or_exit("pipe");
    set_nonblocking(&read_end, true).or_exit("fcntl");
    let observed = outcome(read(&read_end, &mut [0u8; 1]), |n| format!("read {}", bytes(n)));
    Rule::new("the same read with O_NONBLOCK", "EAGAIN", observed)
}

/// Once every write end is closed, `read` returns what is left, then 0:
/// end of file.
fn read_eof(_: &Context) -> Rule {
    let (read_end, write_end) = pipe().or_exit("pipe");
    let second = write_end.try_clone().or_exit("dup");
    write_all(&second, b"x").or_exit("write");
    drop(write_end);
    // TODO: close the last write end: only when none is left does read() return
    // 0.
    // BEGIN SOLUTION
    drop(second);
    // END SOLUTION
    // Each read is given BOUND to return, so a forgotten write end shows
    // as "blocks" instead of hanging the program.
    let mut buf = [0u8; 16];
    let first = read_within(&read_end, &mut buf, BOUND);
    let then = read_within(&read_end, &mut buf, BOUND);
    let describe = |n: Option<usize>| match n {
        None => "blocks".to_string(),
        Some(0) => "0 (EOF)".to_string(),
        Some(n) => bytes(n),
    };
    let observed = format!("{}, then {}", describe(first), describe(then));
    Rule::new("read, every write end closed", "1 byte, then 0 (EOF)", observed)
}

/// With no read end open anywhere, a write has no one to go to. The kernel
/// sends the writer `SIGPIPE`; Rust programs start with that signal ignored,
/// so the write fails with `EPIPE` instead.
fn write_no_reader_ignored(_: &Context) -> Rule {
    let (read_end, write_end) = pipe().or_exit("pipe");
    // TODO: close the only read end, so that the write has no reader.
    // BEGIN SOLUTION
    drop(read_end);
    // END SOLUTION
    let observed = outcome(write(&write_end, b"x"), |n| format!("wrote {}", bytes(n)));
    Rule::new("write, no reader, SIGPIPE ignored (Rust)", "EPIPE", observed)
}

/// … but with `SIGPIPE`'s default action, as in a C program, the writer is
/// killed. A child restores the default and writes; the parent sees how it
/// ended.
fn write_no_reader_default(_: &Context) -> Rule {
    let (read_end, write_end) = pipe().or_exit("pipe");
    drop(read_end);
    // SAFETY: this program has a single thread, so the child may call
    // anything; it ends in _exit (or is killed), never returning here.
    let child = match unsafe { fork() }.or_exit("fork") {
        Fork::Child => {
            // TODO: give SIGPIPE its default action back (Rust starts with it
            // ignored), so this write kills the child.
            // BEGIN SOLUTION
            if default_signal(libc::SIGPIPE).is_err() {
                _exit(2);
            }
            // END SOLUTION
            match write(&write_end, b"x") {
                Ok(_) => _exit(0),
                Err(e) => _exit(100 + e.raw_os_error().unwrap_or(0)),
            }
        }
        Fork::Parent(pid) => pid,
    };
    let (_, status) = waitpid(child, 0).or_exit("waitpid");
    let observed = match status {
        WaitStatus::Signaled(libc::SIGPIPE) => "killed by SIGPIPE".to_string(),
        WaitStatus::Signaled(sig) => format!("killed by signal {sig}"),
        WaitStatus::Exited(code) if code > 100 => {
            format!(
                "write failed, {}",
                errno_name(&io::Error::from_raw_os_error(code - 100))
            )
        }
        WaitStatus::Exited(code) => format!("exited with status {code}"),
        WaitStatus::Other(raw) => format!("status {raw:#x}"),
    };
    Rule::new(
        "write, no reader, SIGPIPE default (child)",
        "killed by SIGPIPE",
        observed,
    )
}
// ANCHOR_END: main

/// Writes of at most `PIPE_BUF` bytes are atomic: several writers' writes
/// never mix. Each of [`ATOMIC_WRITERS`] children writes [`ATOMIC_WRITES`]
/// blocks of `PIPE_BUF` bytes all equal to its own letter, as fast as it
/// can and all at once; the parent reads the stream block by block and
/// counts the blocks that hold more than one letter. The stream is 1 MiB,
/// many times the pipe's capacity, so the writers keep finding the pipe full
/// and waiting — the moment where a larger write could be interleaved
/// (exercise 11 shows that happen).
fn atomic_writes(_: &Context) -> Rule {
    let (read_end, write_end) = pipe().or_exit("pipe");
    let mut children = Vec::new();
    for writer in 0..ATOMIC_WRITERS {
        // SAFETY: this program has a single thread, so the child may call
        // anything; it ends with _exit, never returning here.
        match unsafe { fork() }.or_exit("fork") {
            Fork::Child => {
                drop(read_end);
                let block = [b'a' + writer; PIPE_BUF];
                for _ in 0..ATOMIC_WRITES {
                    if write_all(&write_end, &block).is_err() {
                        _exit(1);
                    }
                }
                _exit(0)
            }
            Fork::Parent(pid) => children.push(pid),
        }
    }
    drop(write_end);
    let (mut blocks, mut torn) = (0, 0);
    let mut block = [0u8; PIPE_BUF];
    loop {
        let n = read_block(&read_end, &mut block);
        if n == 0 {
            break;
        }
        blocks += 1;
        if n < PIPE_BUF || block.iter().any(|&b| b != block[0]) {
            torn += 1;
        }
    }
    let mut failed = 0;
    for pid in children {
        let (_, status) = waitpid(pid, 0).or_exit("waitpid");
        failed += usize::from(status != WaitStatus::Exited(0));
    }
    let total = usize::from(ATOMIC_WRITERS) * ATOMIC_WRITES;
    let mut observed = format!("{torn} of {blocks} torn");
    if failed > 0 {
        let _ = write!(observed, ", {failed} writers failed");
    }
    Rule::new(
        format!("{ATOMIC_WRITERS} writers × {ATOMIC_WRITES} writes of PIPE_BUF ({PIPE_BUF}) bytes"),
        format!("0 of {total} torn"),
        observed,
    )
}

/// A new pipe holds 16 pages (65536 bytes with 4 KiB pages) before a
/// write blocks; `fcntl(F_GETPIPE_SZ)` tells.
fn capacity(context: &Context) -> Rule {
    let (_read_end, write_end) = pipe().or_exit("pipe");
    let observed = outcome(pipe_size(&write_end), |n| format!("{n} bytes"));
    let expected = format!("{} bytes", 16 * context.page_size);
    Rule::new("capacity of a new pipe (F_GETPIPE_SZ)", expected, observed)
}

/// `fcntl(F_SETPIPE_SZ)` grows a pipe, up to `pipe-max-size` for anyone.
fn grow_to_max(context: &Context) -> Rule {
    let (_read_end, write_end) = pipe().or_exit("pipe");
    let max = context.pipe_max_size;
    let observed = outcome(set_pipe_size(&write_end, max), |n| format!("{n} bytes"));
    Rule::new(
        format!("F_SETPIPE_SZ to pipe-max-size ({max})"),
        format!("{max} bytes"),
        observed,
    )
}

/// Beyond `pipe-max-size` only a process with `CAP_SYS_RESOURCE` may go;
/// anyone else gets `EPERM`.
fn grow_beyond_max(context: &Context) -> Rule {
    let (_read_end, write_end) = pipe().or_exit("pipe");
    let beyond = 2 * context.pipe_max_size;
    let observed = outcome(set_pipe_size(&write_end, beyond), |n| format!("{n} bytes"));
    let (who, expected) = if context.privileged {
        ("privileged", format!("{beyond} bytes"))
    } else {
        ("unprivileged", "EPERM".to_string())
    };
    Rule::new(
        format!("F_SETPIPE_SZ beyond the max ({beyond}), {who}"),
        expected,
        observed,
    )
}

/// `read`, unless it would block longer than `bound`: then `None`.
fn read_within(read_end: &OwnedFd, buf: &mut [u8], bound: Duration) -> Option<usize> {
    if !poll_readable(read_end, bound).or_exit("poll") {
        return None;
    }
    Some(read(read_end, buf).or_exit("read"))
}

/// `1 byte`, `4 bytes`.
fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// What a bounded wait for `read` saw when nothing came.
fn blocked() -> String {
    format!("blocks ({} ms, nothing)", BOUND.as_millis())
}

/// A call's outcome in words: `ok(value)` on success, the errno's name on
/// failure.
fn outcome<T>(result: io::Result<T>, ok: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(value) => ok(value),
        Err(e) => errno_name(&e),
    }
}

/// The symbolic name of an error (`EBADF`), as the man pages write it.
fn errno_name(err: &io::Error) -> String {
    let name = match err.raw_os_error() {
        Some(libc::EBADF) => "EBADF",
        Some(libc::EAGAIN) => "EAGAIN",
        Some(libc::EPIPE) => "EPIPE",
        Some(libc::EPERM) => "EPERM",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::EBUSY) => "EBUSY",
        Some(libc::EINTR) => "EINTR",
        Some(libc::EFAULT) => "EFAULT",
        Some(libc::ENOMEM) => "ENOMEM",
        Some(code) => return format!("errno {code} ({})", syscalls::reason(err)),
        None => return err.to_string(),
    };
    name.to_string()
}

/// Reads one block: `read` until `block` is full or end of file; returns
/// how many bytes came (0 at end of file).
fn read_block(read_end: &OwnedFd, block: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < block.len() {
        match read(read_end, &mut block[filled..]).or_exit("read") {
            0 => break,
            n => filled += n,
        }
    }
    filled
}

/// Reads a file that holds one decimal number, such as a sysctl.
fn read_number(path: &str) -> io::Result<usize> {
    let text = std::fs::read_to_string(path)?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("not a number: {text:?}")))
}

/// Whether this process has capability `cap` in its effective set, from the
/// `CapEff:` line of `/proc/self/status` (proc(5)).
fn has_capability(cap: u32) -> io::Result<bool> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    capability_in(&status, cap).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no CapEff line"))
}

/// Whether this process lives in the initial user namespace, the one
/// whose capabilities the kernel checks for `pipe-max-size`: its
/// `/proc/self/ns/user` link names the fixed inode of that namespace
/// (`PROC_USER_INIT_INO` in linux/proc_ns.h).
fn in_initial_user_namespace() -> io::Result<bool> {
    const PROC_USER_INIT_INO: u64 = 0xEFFF_FFFD;
    let link = std::fs::read_link("/proc/self/ns/user")?;
    Ok(link.as_os_str() == format!("user:[{PROC_USER_INIT_INO}]").as_str())
}

/// Reads bit `cap` of the hexadecimal `CapEff:` mask in a status text.
fn capability_in(status: &str, cap: u32) -> Option<bool> {
    let mask = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    let mask = u64::from_str_radix(mask.trim(), 16).ok()?;
    Some(mask >> cap & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        let name = |code| errno_name(&io::Error::from_raw_os_error(code));
        assert_eq!(name(libc::EBADF), "EBADF");
        assert_eq!(name(libc::EPIPE), "EPIPE");
        assert_eq!(name(libc::ENOENT), "errno 2 (No such file or directory)");
    }

    #[test]
    fn capabilities_come_from_cap_eff() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000001000000\n";
        assert_eq!(capability_in(status, CAP_SYS_RESOURCE), Some(true));
        assert_eq!(capability_in(status, 0), Some(false));
        let root_without = "CapEff:\t000001fffeffffff\n";
        assert_eq!(capability_in(root_without, CAP_SYS_RESOURCE), Some(false));
        assert_eq!(capability_in("Name:\tx\n", 0), None);
    }

    #[test]
    fn rows_have_four_columns_ending_in_the_verdict() {
        let line = row("1. a rule", "x", "y", "ok");
        assert!(line.ends_with(" | ok"), "{line}");
        assert_eq!(
            line.split(" | ").map(str::trim).collect::<Vec<_>>(),
            ["1. a rule", "x", "y", "ok"]
        );
    }

    #[test]
    fn the_experiments_that_fork_nothing_hold() {
        let context = Context {
            page_size: 4096,
            pipe_max_size: 1 << 20,
            privileged: false,
        };
        for experiment in [
            ends,
            write_read_end,
            read_write_end,
            read_blocks,
            read_nonblocking,
            read_eof,
        ] {
            let rule = experiment(&context);
            assert!(
                rule.holds(),
                "{}: expected {}, observed {}",
                rule.rule,
                rule.expected,
                rule.observed
            );
        }
    }
}
