//! `cargo xtask bench`: being written.

use crate::flags::BenchFlags;

pub fn run(flags: &BenchFlags) -> crate::Result {
    match flags.what.as_str() {
        "grade" => crate::bench_grade::run(),
        _ => Err("`cargo xtask bench` is not written yet".to_string()),
    }
}
