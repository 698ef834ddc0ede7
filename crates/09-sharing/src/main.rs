//! Exercise 09 — sharing: what processes and threads share, measured.
//!
//! Lecture 16 (Inter-Process Communication, Threads) has a table of what a
//! parent and its forked child share, and what two threads of one process
//! share: code, global variables, heap, stack, file descriptors. This program
//! fills in that table by running one small experiment per cell, and prints
//! each verdict next to the evidence that decided it:
//!
//! - memory (globals, heap, stack): the child or the thread writes 1 into a
//!   place that holds 0, and the parent or main thread looks at the same
//!   address afterwards. Seeing 0 means the child wrote into a copy; seeing 1
//!   means the memory is shared;
//! - code: the same function sits at the same address on both sides, and the
//!   kernel refuses to write into it (a `read` into it fails with `EFAULT`).
//!   Memory nobody can write is shared, since no one could ever tell a copy
//!   from the original;
//! - stacks of threads: each thread's locals live on its own stack (glibc says
//!   where each thread's stack is), though all stacks sit in the one address
//!   space, so a thread that is handed a pointer can still write another
//!   thread's local;
//! - file descriptors: after `fork` the child has a *copy* of the descriptor
//!   table (closing its fd leaves the parent's open), but both copies point at
//!   the *same* open file (the child's write moves the parent's offset).
//!   Threads share the table itself (a thread's `close` closes main's fd).
//!
//! The forks all happen first, while the process has one thread: a forked
//! child of a multithreaded process could only call async-signal-safe
//! functions, and these children allocate.
//!
//! Run it: `cargo run -p sharing` (or `cargo xtask run 9`).

use std::ffi::c_void;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::{mem, ptr, thread};
use syscalls::cli::Program;
use syscalls::{_exit, Fork, OrExit, WaitStatus, cvt, fork, getpid, pipe, read_to_end, waitpid, write_all};

const PROGRAM: Program = Program {
    name: "sharing",
    usage: "",
    about: "Prints the lecture's table of what processes (parent/child) and threads\n\
            (within one process) share — code, global variables, heap, stack, file\n\
            descriptors — deciding every cell by an experiment and showing its evidence\n\
            (lecture 16).",
};

/// The global variable both experiments write.
static GLOBAL: AtomicI32 = AtomicI32::new(0);

/// Its address is the evidence for "code". It is never called.
#[inline(never)]
fn probe() -> i32 {
    131
}

/// The address of `probe`'s machine code.
fn probe_addr() -> u64 {
    probe as fn() -> i32 as usize as u64
}

/// One cell of the table: a verdict, and the evidence that decided it.
struct Cell {
    verdict: String,
    evidence: String,
}

impl Cell {
    fn new(verdict: &str, evidence: String) -> Cell {
        Cell {
            verdict: verdict.to_string(),
            evidence,
        }
    }
}

/// Decides a memory cell: `who` wrote `wrote` at `addr`; afterwards the
/// other side (`other`) reads `sees` at the same address.
fn memory_cell(who: &str, wrote: i32, addr: u64, other: &str, sees: i32) -> Cell {
    if sees == wrote {
        Cell::new(
            "shared",
            format!("{who} wrote {wrote} at {addr:#x}, {other} sees {sees}"),
        )
    } else {
        Cell::new(
            "copied",
            format!("{who} wrote {wrote} at {addr:#x}, {other} still sees {sees}"),
        )
    }
}

/// The address of a value, as a number to print.
fn addr_of<T>(value: &T) -> u64 {
    ptr::from_ref(value) as usize as u64
}

/// Runs `f` in a forked child, sends the two numbers it returns back over a
/// pipe, waits for the child and returns them.
///
/// Call it only while this process has a single thread: `f` may allocate.
fn in_child(f: impl FnOnce() -> [u64; 2]) -> [u64; 2] {
    let (read_end, write_end) = pipe().or_exit("pipe");
    // Nothing has been printed yet (the table comes last), so the child
    // inherits no buffered output that it could print a second time.
    // SAFETY: main calls every in_child before it starts any thread, so the
    // child may call anything; it leaves with _exit, never returning here.
    match unsafe { fork() }.or_exit("fork") {
        Fork::Child => {
            drop(read_end);
            let bytes: Vec<u8> = f().iter().flat_map(|v| v.to_ne_bytes()).collect();
            write_all(&write_end, &bytes).or_exit("write");
            _exit(0)
        }
        Fork::Parent(child) => {
            // Our copy of the write end must go, or read_to_end never sees EOF.
            drop(write_end);
            let mut bytes = Vec::new();
            read_to_end(&read_end, &mut bytes).or_exit("read");
            let (_, status) = waitpid(child, 0).or_exit("waitpid");
            if status != WaitStatus::Exited(0) || bytes.len() != 16 {
                eprintln!("sharing: an experiment's child {child} failed ({status:?})");
                std::process::exit(1);
            }
            let word = |i: usize| u64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
            [word(0), word(1)]
        }
    }
}

/// Runs `f` on a new thread and returns what it returns.
fn in_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    thread::scope(|s| match s.spawn(f).join() {
        Ok(value) => value,
        Err(_) => {
            eprintln!("sharing: an experiment's thread panicked");
            std::process::exit(1)
        }
    })
}

/// Asks the kernel to store one byte at `addr`, by `read`ing a pipe into it.
/// Returns the errno (`EFAULT` when the memory is not writable), or 0.
fn kernel_write_errno(addr: u64) -> u64 {
    let (read_end, write_end) = pipe().or_exit("pipe");
    write_all(&write_end, b"x").or_exit("write");
    // SAFETY: only a forked child calls this, with the address of `probe`,
    // which is never called. The kernel checks the page's protection before
    // it stores anything; were the page writable, the one changed byte would
    // be in this child's private copy of it, and the child exits right after.
    let n = unsafe { libc::read(read_end.as_raw_fd(), addr as usize as *mut c_void, 1) };
    if n == 1 {
        0
    } else {
        io::Error::last_os_error().raw_os_error().unwrap_or(-1) as u64
    }
}

/// `ADDR in both`, or each side's address when they differ.
fn both_addrs(a: u64, b: u64, a_name: &str, b_name: &str) -> String {
    if a == b {
        format!("{a:#x} in both")
    } else {
        format!("{a:#x} in {a_name}, {b:#x} in {b_name}")
    }
}

/// The text for an errno value.
fn errno_text(errno: u64) -> String {
    match errno {
        0 => "it succeeded".to_string(),
        e => syscalls::reason(&io::Error::from_raw_os_error(e as i32)),
    }
}

/// A scratch file, already unlinked: the open file lives on while any
/// descriptor refers to it, and nothing is left behind on disk.
///
/// It goes in the temporary directory, or the current one if that fails
/// (the checker runs this in a fresh directory it may write).
fn scratch_file() -> File {
    let name = format!("sharing-{}.tmp", getpid());
    let mut last_err = None;
    for dir in [std::env::temp_dir(), ".".into()] {
        let path = dir.join(&name);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                std::fs::remove_file(&path).or_exit("unlink");
                return file;
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap()).or_exit("open")
}

/// Whether `fd` is an open descriptor of this process.
fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; a closed fd is EBADF.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) }).is_ok()
}

/// The current offset of an open file.
fn offset(file: &File) -> u64 {
    let mut file = file;
    file.stream_position().or_exit("lseek")
}

/// The bounds `[low, high)` of the calling thread's stack, as glibc knows them.
fn own_stack() -> (u64, u64) {
    let mut attr = mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: attr is writable; pthread_getattr_np initialises it on success.
    let err = unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) };
    if err != 0 {
        Err::<(), _>(io::Error::from_raw_os_error(err)).or_exit("pthread_getattr_np");
    }
    let (mut low, mut size) = (ptr::null_mut(), 0);
    // SAFETY: attr was initialised above; low and size are writable.
    let err = unsafe { libc::pthread_attr_getstack(attr.as_ptr(), &mut low, &mut size) };
    // SAFETY: attr was initialised above and is not used after this.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    if err != 0 {
        Err::<(), _>(io::Error::from_raw_os_error(err)).or_exit("pthread_attr_getstack");
    }
    (low as usize as u64, low as usize as u64 + size as u64)
}

// ANCHOR: processes
/// Code, parent/child: the same address, and not writable.
fn code_processes() -> Cell {
    let here = probe_addr();
    let [there, errno] = in_child(|| [probe_addr(), kernel_write_errno(probe_addr())]);
    let evidence = format!(
        "probe() at {}; the child's write into it: {}",
        both_addrs(here, there, "parent", "child"),
        errno_text(errno)
    );
    match (here == there, errno) {
        (true, 0) => Cell::new("copied", evidence),
        (true, _) => Cell::new("shared, read-only", evidence),
        (false, _) => Cell::new("separate", evidence),
    }
}

/// Global variables, parent/child.
fn globals_processes() -> Cell {
    GLOBAL.store(0, Ordering::SeqCst);
    let [addr, wrote] = in_child(|| {
        let experiment = || -> u64 {
            // TODO: write 1 into GLOBAL in the child; return its address.
            // BEGIN SOLUTION
            GLOBAL.store(1, Ordering::SeqCst);
            addr_of(&GLOBAL)
            // END SOLUTION
        };
        let addr = experiment();
        // What the child's GLOBAL now holds, read here rather than taken
        // from the experiment: the evidence is what memory says.
        [addr, GLOBAL.load(Ordering::SeqCst) as u64]
    });
    memory_cell(
        "child",
        wrote as i32,
        addr,
        "parent",
        GLOBAL.load(Ordering::SeqCst),
    )
}

/// Heap, parent/child.
fn heap_processes() -> Cell {
    let heap = Box::new(AtomicI32::new(0));
    let [addr, wrote] = in_child(|| {
        heap.store(1, Ordering::SeqCst);
        [addr_of(&*heap), heap.load(Ordering::SeqCst) as u64]
    });
    memory_cell("child", wrote as i32, addr, "parent", heap.load(Ordering::SeqCst))
}

/// Stack, parent/child: the child writes a local of the parent's frame.
fn stack_processes() -> Cell {
    let local = AtomicI32::new(0);
    let [addr, wrote] = in_child(|| {
        local.store(1, Ordering::SeqCst);
        [addr_of(&local), local.load(Ordering::SeqCst) as u64]
    });
    memory_cell(
        "child",
        wrote as i32,
        addr,
        "parent",
        local.load(Ordering::SeqCst),
    )
}

/// File descriptors, parent/child: the table is copied, the open file shared.
fn fds_processes() -> Cell {
    let file = scratch_file();
    let fd = file.as_raw_fd();
    let before = offset(&file);
    let [wrote, closed_in_child] = in_child(|| {
        let experiment = || -> u64 {
            // TODO: in the child, write "hello" to the file, then close fd (the
            // child's copy of the descriptor); return the number of bytes
            // written.
            // BEGIN SOLUTION
            let hello = b"hello";
            write_all(&file, hello).or_exit("write");
            // SAFETY: the child never uses `file` again: it returns and
            // _exits without running destructors, so fd is not closed twice.
            cvt(unsafe { libc::close(fd) }).or_exit("close");
            hello.len() as u64
            // END SOLUTION
        };
        let wrote = experiment();
        // The child itself says whether its fd is closed: the parent's
        // table alone cannot tell "copied" from "the child never closed it".
        [wrote, u64::from(!fd_is_open(fd))]
    });
    let still_open = fd_is_open(fd);
    let after = offset(&file);
    let table = match (closed_in_child == 1, still_open) {
        (false, _) => "untested",
        (true, true) => "copied",
        (true, false) => "shared",
    };
    let open_file = if wrote > 0 && after == before + wrote {
        "shared"
    } else {
        "copied"
    };
    let evidence = format!(
        "child wrote {wrote} bytes, {} fd {fd}; parent's fd {fd} is {}, its offset went \
         {before} -> {after}",
        if closed_in_child == 1 {
            "closed"
        } else {
            "did NOT close"
        },
        if still_open { "still open" } else { "closed" }
    );
    Cell::new(&format!("open files {open_file}, fd table {table}"), evidence)
}
// ANCHOR_END: processes

// ANCHOR: threads
/// Code, threads.
fn code_threads() -> Cell {
    let here = probe_addr();
    let there = in_thread(probe_addr);
    let evidence = format!("probe() at {}", both_addrs(here, there, "main", "thread"));
    Cell::new(if here == there { "shared" } else { "separate" }, evidence)
}

/// Global variables, threads.
fn globals_threads() -> Cell {
    GLOBAL.store(0, Ordering::SeqCst);
    let addr = in_thread(|| {
        GLOBAL.store(1, Ordering::SeqCst);
        addr_of(&GLOBAL)
    });
    memory_cell("thread", 1, addr, "main", GLOBAL.load(Ordering::SeqCst))
}

/// Heap, threads.
fn heap_threads() -> Cell {
    let heap = Box::new(AtomicI32::new(0));
    let addr = in_thread(|| {
        heap.store(1, Ordering::SeqCst);
        addr_of(&*heap)
    });
    memory_cell("thread", 1, addr, "main", heap.load(Ordering::SeqCst))
}

/// Stack, threads: where each thread's locals live.
fn stack_threads() -> Cell {
    let mains = AtomicI32::new(0);
    let mains_addr = addr_of(&mains);
    let (own_addr, (low, high)) = in_thread(|| {
        let own = AtomicI32::new(0);
        // Main's local is reachable: one address space. Write it to show that.
        mains.store(1, Ordering::SeqCst);
        (addr_of(&own), own_stack())
    });
    let stack = low..high;
    let evidence = format!(
        "thread's local at {own_addr:#x} is on its stack {low:#x}-{high:#x}; main's local at \
         {mains_addr:#x} is outside it, yet the thread wrote 1 there by pointer and main sees {}",
        mains.load(Ordering::SeqCst)
    );
    if stack.contains(&own_addr) && !stack.contains(&mains_addr) {
        Cell::new("not shared, each thread has its own", evidence)
    } else {
        Cell::new("shared", evidence)
    }
}

/// File descriptors, threads: a thread's close closes main's fd.
fn fds_threads() -> Cell {
    let file = scratch_file();
    let fd = file.as_raw_fd();
    in_thread(move || {
        // TODO: close the file in the thread (drop it); main then checks
        // whether its fd is still open.
        // BEGIN SOLUTION
        drop(file);
        // END SOLUTION
    });
    // Nothing has opened a file since, so fd cannot have been reused.
    let still_open = fd_is_open(fd);
    let evidence = format!(
        "thread closed fd {fd}; main's fd {fd} is {}",
        if still_open { "still open" } else { "closed too" }
    );
    Cell::new(if still_open { "copied" } else { "shared" }, evidence)
}
// ANCHOR_END: threads

/// Width of the two verdict columns: room for the longest verdict.
const COLUMN: usize = 36;

/// Breaks `text` into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Prints the table: per resource, the two verdicts on the first line and
/// the evidence for each, wrapped and indented, under it.
fn print_table(rows: &[(&str, Cell, Cell)]) {
    let first = rows
        .iter()
        .map(|(name, _, _)| name.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let line = |a: &str, b: &str, c: &str| {
        let text = format!("{a:<first$} | {b:<COLUMN$} | {c}");
        println!("{}", text.trim_end());
    };
    let rule = || {
        println!(
            "{}-+-{}-+-{}",
            "-".repeat(first),
            "-".repeat(COLUMN),
            "-".repeat(COLUMN)
        )
    };
    line(
        "Resource",
        "Processes (parent/child)",
        "Threads (within same process)",
    );
    for (name, process, thread) in rows {
        rule();
        line(name, &process.verdict, &thread.verdict);
        let left = wrap(&process.evidence, COLUMN - 2);
        let right = wrap(&thread.evidence, COLUMN - 2);
        for i in 0..left.len().max(right.len()) {
            let indented = |lines: &[String]| lines.get(i).map_or(String::new(), |l| format!("  {l}"));
            line("", &indented(&left), &indented(&right));
        }
    }
}

// ANCHOR: main
fn main() {
    PROGRAM.flags([]);

    // Every fork first, while this is the only thread.
    let processes = [
        code_processes(),
        globals_processes(),
        heap_processes(),
        stack_processes(),
        fds_processes(),
    ];
    let threads = [
        code_threads(),
        globals_threads(),
        heap_threads(),
        stack_threads(),
        fds_threads(),
    ];

    let resources = ["code", "global variables", "heap", "stack", "file descriptors"];
    let rows: Vec<(&str, Cell, Cell)> = resources
        .into_iter()
        .zip(processes.into_iter().zip(threads))
        .map(|(r, (p, t))| (r, p, t))
        .collect();
    print_table(&rows);
}
// ANCHOR_END: main
