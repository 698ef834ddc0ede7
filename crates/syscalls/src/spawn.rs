//! Starting a program without copying this one: `posix_spawn`.

use crate::{Argv, pid_t};
use std::io;

/// `posix_spawn()` — starts the program `argv.program()` (a path: no `PATH`
/// search) in a new child process, with this process's environment; returns
/// the child's pid.
///
/// It does what `fork` + `execve` do, without copying the parent first:
/// glibc creates the child with `clone(CLONE_VM | CLONE_VFORK)`, so the child
/// borrows the parent's memory until it execs, and the cost does not grow
/// with the parent's size. The parent is suspended meanwhile, and an `exec`
/// failure (`ENOENT`, `EACCES`) comes back as this call's error. Wait for
/// the child with [`waitpid`](crate::waitpid) as usual.
///
/// Descriptors are inherited as by `fork` + `exec`: close-on-exec ones are
/// closed in the child, the others stay open.
///
/// References: posix_spawn(3), vfork(2), clone(2).
pub fn posix_spawn(argv: &Argv) -> io::Result<pid_t> {
    let mut pid: pid_t = 0;
    // SAFETY: `pid` is writable; the path and `argv.ptrs` are NUL-terminated
    // strings and a NULL-terminated array owned by `argv`, alive for the
    // call; null file actions and attributes mean "none"; `environ` is the
    // C library's NULL-terminated environment, read during the call only.
    let err = unsafe {
        libc::posix_spawn(
            &mut pid,
            argv.ptrs[0],
            std::ptr::null(),
            std::ptr::null(),
            argv.ptrs.as_ptr().cast(),
            libc::environ.cast_const().cast(),
        )
    };
    // posix_spawn reports failure by its return value, not through errno.
    match err {
        0 => Ok(pid),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{WaitStatus, waitpid};

    #[test]
    fn spawns_a_program_and_reports_a_missing_one() {
        let argv = Argv::new(["/bin/sh", "-c", "exit 4"]).unwrap();
        let pid = posix_spawn(&argv).unwrap();
        assert_eq!(waitpid(pid, 0).unwrap(), (pid, WaitStatus::Exited(4)));

        let missing = Argv::new(["/nonexistent/ipc-lab-no-such-program"]).unwrap();
        let err = posix_spawn(&missing).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }
}
