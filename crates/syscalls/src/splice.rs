//! Moving pipe data without copying it: `vmsplice` and `splice`.
//!
//! `write` copies bytes from the caller's memory into the pipe's buffer and
//! `read` copies them out again. `vmsplice` instead puts references to the
//! caller's pages into the pipe, and `splice` moves buffered pages from a
//! pipe to another file without them passing through user memory.

use crate::cvt_r;
use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// `vmsplice()` — puts the pages holding `buf` into the pipe `fd` (its write
/// end) instead of copying them; returns how many bytes went in, which may
/// be fewer than asked (at most what the pipe has room for). Retried on
/// `EINTR`.
///
/// The pipe keeps *references* to the caller's memory: until a reader has
/// consumed those bytes, changing `buf` changes what the reader will get
/// (the memory itself stays valid: the kernel holds the pages). So only
/// vmsplice memory that stays unchanged, as a constant pattern does.
///
/// References: vmsplice(2), splice(2).
pub fn vmsplice(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    let fd = fd.as_fd().as_raw_fd();
    let iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `iov` describes `buf`, valid for reads of its length; without
    // SPLICE_F_GIFT the kernel only reads those pages, never writes them.
    let n = cvt_r(|| unsafe { libc::vmsplice(fd, &iov, 1, 0) })?;
    Ok(n as usize)
}

/// `splice()` — moves up to `len` bytes from `from` to `to`, one of which
/// must be a pipe, without copying them through this process's memory;
/// returns how many bytes moved, `0` at end of file. Retried on `EINTR`.
///
/// Both descriptors are used at their current file offsets. `flags` are
/// `SPLICE_F_*` values, such as `libc::SPLICE_F_MOVE` (a hint to move pages
/// rather than copy them).
///
/// References: splice(2).
pub fn splice(from: impl AsFd, to: impl AsFd, len: usize, flags: u32) -> io::Result<usize> {
    let (from, to) = (from.as_fd().as_raw_fd(), to.as_fd().as_raw_fd());
    let null = std::ptr::null_mut();
    // SAFETY: null offsets mean "use and advance the files' own offsets";
    // the call reads and writes no memory of ours.
    let n = cvt_r(|| unsafe { libc::splice(from, null, to, null, len, flags) })?;
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pipe, read};

    #[test]
    fn vmspliced_bytes_read_back_and_splice_to_null_counts_them() {
        let (r, w) = pipe().unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(vmsplice(&w, &data).unwrap(), data.len(), "fits in 64 KiB");
        let mut back = vec![0u8; data.len()];
        let mut got = 0;
        while got < back.len() {
            got += read(&r, &mut back[got..]).unwrap();
        }
        assert_eq!(back, data);

        vmsplice(&w, &data).unwrap();
        drop(w);
        let null = std::fs::OpenOptions::new().write(true).open("/dev/null").unwrap();
        let mut moved = 0;
        loop {
            match splice(&r, &null, 1 << 20, libc::SPLICE_F_MOVE).unwrap() {
                0 => break,
                n => moved += n,
            }
        }
        assert_eq!(moved, data.len(), "then end of file");
    }

    #[test]
    fn splice_needs_a_pipe() {
        let a = std::fs::File::open("/dev/zero").unwrap();
        let b = std::fs::OpenOptions::new().write(true).open("/dev/null").unwrap();
        assert_eq!(
            splice(&a, &b, 10, 0).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
    }
}
