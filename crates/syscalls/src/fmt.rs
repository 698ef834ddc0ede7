//! Formatting without allocation, for code that must not call `malloc`.
//!
//! A child created by `clone(CLONE_VM)` shares the parent's heap and its
//! thread-local state, and a forked child of a multithreaded process may only
//! call async-signal-safe functions: neither may use `format!` or
//! `println!`. [`StackBuf`] formats into a fixed array on the stack instead;
//! the bytes then go out with one `write`.

use std::fmt;

/// A fixed-size, stack-allocated text buffer that implements [`fmt::Write`].
///
/// Text beyond the capacity is cut off (and `write!` reports an error), never
/// reallocated.
pub struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        StackBuf { buf: [0; N], len: 0 }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> Default for StackBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let take = s.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() { Err(fmt::Error) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::StackBuf;
    use std::fmt::Write;

    #[test]
    fn formats_numbers_without_the_heap() {
        let mut b = StackBuf::<64>::new();
        writeln!(b, "Hello from pid {}, precious={}", 812, 86).unwrap();
        assert_eq!(b.as_bytes(), b"Hello from pid 812, precious=86\n");
    }

    #[test]
    fn overflow_is_cut_and_reported() {
        let mut b = StackBuf::<4>::new();
        assert!(write!(b, "abcdef").is_err());
        assert_eq!(b.as_bytes(), b"abcd");
    }
}
