//! `cargo xtask release`: being written.

use crate::flags::ReleaseFlags;

pub fn run(flags: &ReleaseFlags) -> crate::Result {
    let _ = flags;
    Err("`cargo xtask release` is not written yet".to_string())
}
