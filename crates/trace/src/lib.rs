//! `cargo xtask trace`: a student's own program's descriptor tables, step
//! by step.
//!
//! - [`record`] runs a program under `ptrace` and writes a [`log`] of the
//!   calls that change or use descriptor tables and pipes (the
//!   `ipc-lab-trace` binary is that recorder, run inside the sandbox);
//! - [`model`] replays the log into steps, each with every process's table,
//!   every pipe's open ends and bytes, and what the step's call did;
//! - [`advice`] reads the steps for the mistakes the lecture warns about
//!   (an end never closed, a child never waited for);
//! - [`timeline`] renders the steps as numbered lines and tables for a
//!   terminal, [`page`] as one self-contained HTML page drawn with the
//!   book's `diagram` code.
//!
//! Decisions are made on the types of [`model`]; text is made last.

pub mod advice;
pub mod log;
pub mod model;
pub mod page;
pub mod record;
pub mod timeline;

/// One line on why `ptrace` is refused here, naming the setting to look at.
pub fn refused_reason() -> String {
    match std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope") {
        Ok(s) if s.trim() == "3" => {
            "cannot trace: ptrace is disabled on this machine (kernel.yama.ptrace_scope = 3; only a reboot lowers it)".into()
        }
        Ok(s) if s.trim() == "2" => {
            "cannot trace: ptrace is limited to administrators here (kernel.yama.ptrace_scope = 2); `sudo sysctl kernel.yama.ptrace_scope=1` allows it".into()
        }
        _ => "cannot trace: ptrace is refused here (a container without it? Docker needs `--cap-add SYS_PTRACE` or a seccomp profile that allows ptrace)".into(),
    }
}
