//! `cargo xtask verify`: being written.

use crate::flags::VerifyFlags;

pub fn run(flags: &VerifyFlags) -> crate::Result {
    let _ = flags;
    Err("`cargo xtask verify` is not written yet".to_string())
}
