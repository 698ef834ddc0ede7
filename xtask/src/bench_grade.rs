//! `cargo xtask bench grade`: being written.

pub fn run() -> crate::Result {
    Err("`cargo xtask bench grade` is not written yet".to_string())
}
