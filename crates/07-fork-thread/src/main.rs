//! Exercise 07 — fork-thread: a thread is a process that shares the address space.
//!
//! Mirrors `fork-thread.cc` from lecture 16 (Inter-Process Communication,
//! Threads). Like exercise 06, a global starts at 42, one side adds 1 and the
//! other doubles it. But the second side is not made by `fork`: it is made by
//! the raw Linux `clone()` call with `CLONE_VM`, which gives the new process
//! the *same* address space instead of a copy (plus `CLONE_FS` and
//! `CLONE_FILES`: the same working directory and the same descriptor table).
//! As the lecture says, we must hand it a stack of its own, here a region we
//! `mmap` ourselves.
//!
//! Both changes now land in one global, so the two values printed are 43 and
//! 86 (the parent added first) or 84 and 85 (the child doubled first) — never
//! 43 and 84, which is what copies give.
//!
//! What `clone` does *not* share here: the process id. Without
//! `CLONE_THREAD` the new task is its own process, so `getpid()` in it
//! returns its own pid, not the parent's. (`std::thread` passes
//! `CLONE_THREAD` and more; see exercise 08, where both lines show one pid.)
//!
//! Run it: `cargo run -p fork-thread` (or `cargo xtask run 7`).

use std::ffi::c_void;
use std::fmt::Write as _;
use std::os::fd::BorrowedFd;
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};
use syscalls::cli::Program;
use syscalls::{OrExit, StackBuf, WaitStatus, cvt, getpid, pid_t, waitpid, write_all};

const PROGRAM: Program = Program {
    name: "fork-thread",
    usage: "",
    about: "Starts a child with clone(CLONE_VM | CLONE_FS | CLONE_FILES) on a stack from mmap:\n\
            a process that shares this one's memory. One side adds 1 to a global that\n\
            starts at 42, the other doubles it; the values show one shared global:\n\
            43 and 86, or 84 and 85 (lecture 16, fork-thread.cc).",
};

/// The global both sides change. It must be an atomic: the two sides really
/// share it and may touch it at the same moment.
static PRECIOUS: AtomicI32 = AtomicI32::new(42);

/// Bytes of stack for the child: plenty for formatting one line.
const STACK_SIZE: usize = 64 * 1024;

/// Prints one line with a single `write(1, …)`.
///
/// The clone child shares this process's memory *and its thread-local
/// storage* (we did not give it its own), so it must not touch anything
/// that allocates, locks or uses thread-locals: no `println!`, no `format!`.
/// The line is formatted into a buffer on the caller's stack instead, and
/// goes out in one `write`, which a pipe or terminal never splits or mixes
/// with the other side's line. The parent uses the same path so both lines
/// are written alike.
fn say(precious: i32) {
    let mut line = StackBuf::<64>::new();
    // Cannot fail: the line is far shorter than the buffer.
    let _ = writeln!(line, "Hello from pid {}, precious={precious}", getpid());
    // SAFETY: fd 1 is standard output, which nothing in this program closes
    // (the child shares the same descriptor table); it is only borrowed for
    // this one write. Were it closed from the start, write reports EBADF.
    let stdout = unsafe { BorrowedFd::borrow_raw(libc::STDOUT_FILENO) };
    // A failed write (say, stdout closed) has nobody to tell; the missing
    // line is the report. (Its errno lands in the thread-local `errno` that
    // both sides share, one more reason to ignore it here.)
    let _ = write_all(stdout, line.as_bytes());
}

/// How long the child waits before it does its work: 100 ms.
const STALL_NS: libc::c_long = 100_000_000;

/// Where the child starts, on its own stack; its return value is its exit
/// status.
extern "C" fn child_main(_arg: *mut c_void) -> i32 {
    // A pause first, so that a parent that does not wait has always
    // unmapped this stack (or exited) by the time the child goes on: the
    // mistake shows on every run, not only when the scheduler is unlucky.
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: STALL_NS,
    };
    // SAFETY: nanosleep is a raw system call; `pause` is on this stack and
    // lives across the call; a null remainder is allowed.
    unsafe { libc::nanosleep(&pause, ptr::null_mut()) };
    // Double the shared global in one atomic step and print the value this
    // side produced. `fetch_update` returns the old value (the closure never
    // gives up, so `Err` cannot happen; both arms carry the old value).
    let (Ok(old) | Err(old)) = PRECIOUS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v * 2));
    say(old * 2);
    0
}

/// A stack for the child: an anonymous mapping with a guard page at its low
/// end, so that an overflow faults instead of running over other memory.
struct Stack {
    base: *mut c_void,
    len: usize,
}

impl Stack {
    /// `mmap()`s `size` bytes of stack plus one guard page below them.
    fn new(size: usize) -> Stack {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let len = size + page;
        // SAFETY: a fresh anonymous mapping chosen by the kernel (addr null)
        // overlaps nothing we own.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            Err::<(), _>(std::io::Error::last_os_error()).or_exit("mmap");
        }
        // Stacks grow down: the guard page is the lowest page.
        // SAFETY: [base, base + page) lies inside the mapping just made.
        cvt(unsafe { libc::mprotect(base, page, libc::PROT_NONE) }).or_exit("mprotect");
        Stack { base, len }
    }

    /// The address the child's stack pointer starts at: the top end, since
    /// the stack grows down (page-aligned, so 16-byte aligned as the ABI wants).
    fn top(&self) -> *mut c_void {
        // SAFETY: base + len is one past the end of the same mapping.
        unsafe { self.base.byte_add(self.len) }
    }
}

// ANCHOR: clone
/// Starts `child_main` as a new process that shares this one's memory,
/// working directory and descriptor table, running on `stack`.
fn clone_child(stack: &Stack) -> pid_t {
    // TODO: call clone() with CLONE_VM | CLONE_FS | CLONE_FILES, and SIGCHLD so
    // that waitpid() can wait for it, starting child_main on stack.top().
    // BEGIN SOLUTION
    let flags = libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_FILES | libc::SIGCHLD;
    // SAFETY: the stack is a live mapping that only the child uses, and it is
    // unmapped only after waitpid says the child is gone; child_main touches
    // nothing but an atomic, its own stack and raw syscalls (see `say`).
    let pid = unsafe { libc::clone(child_main, stack.top(), flags, ptr::null_mut()) };
    cvt(pid).or_exit("clone")
    // END SOLUTION
}
// ANCHOR_END: clone

// ANCHOR: main
fn main() {
    PROGRAM.flags([]);

    let stack = Stack::new(STACK_SIZE);
    let child = clone_child(&stack);

    // Meanwhile the parent adds 1 to the same global.
    let precious = PRECIOUS.fetch_add(1, Ordering::SeqCst) + 1;
    say(precious);

    // TODO: wait for the child before its stack is unmapped below; it may still
    // be running on it.
    // BEGIN SOLUTION
    let (_, status) = waitpid(child, 0).or_exit("waitpid");
    if status != WaitStatus::Exited(0) {
        eprintln!("fork-thread: child {child} failed ({status:?})");
        std::process::exit(1);
    }
    // END SOLUTION

    // SAFETY: the mapping came from mmap with this length, and the child that
    // ran on it has exited, so nothing uses it any more.
    cvt(unsafe { libc::munmap(stack.base, stack.len) }).or_exit("munmap");
}
// ANCHOR_END: main
