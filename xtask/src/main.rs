//! `cargo xtask`: the one command line of ipc-lab.
//!
//! This file only parses flags, finds the workspace root (once: each
//! command is handed it) and dispatches; each subcommand lives in its own
//! module and returns `anyhow::Result<ExitCode>`. Exit codes everywhere: 0
//! success, 1 checks failed, 2 usage or environment error (with a one-line
//! reason and its causes).
//!
//! Course staff's commands (release, verify, grade, autograder, bench) sit
//! between `BEGIN STAFF` and `END STAFF` markers, here, in `flags.rs` and
//! in the manifests: the student release cuts those blocks and leaves
//! their modules out, so a student compiles only their own commands.

mod check;
mod diagrams;
mod docs;
mod flags;
mod hint;
mod list;
mod progress;
mod reset;
mod run;
mod table;
mod term;
mod trace;
mod walk;
mod watch;
// BEGIN STAFF
mod autograder;
mod bench;
mod bench_grade;
mod bench_isolation;
mod bench_trace;
mod grade;
mod release;
mod verify;
// END STAFF

use anyhow::{Result, anyhow};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs the command; prints an error as one line, with its causes
/// (`error: cannot read X: permission denied`), and exits 2. A closed
/// stdout is no error (see [`term`]).
fn main() -> ExitCode {
    let result = run();
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::from(2)
        }
    };
    match term::stdout_error() {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            let _ = writeln!(std::io::stderr(), "error: cannot write to stdout: {e}");
            ExitCode::from(2)
        }
        _ => code,
    }
}

/// Parses the flags and dispatches; what the command reports back is an
/// exit code, or an error.
fn run() -> Result<ExitCode> {
    let flags = flags::parse();
    term::set_verbosity(match (flags.quiet, flags.verbose) {
        (true, _) => term::Verbosity::Quiet,
        (_, true) => term::Verbosity::Verbose,
        _ => term::Verbosity::Normal,
    });
    // Found once, here; every command is handed it.
    let root = workspace_root();
    let root = root.as_path();
    match flags.command {
        flags::Command::List => list::run(root),
        flags::Command::Run { exercise, args } => run::run(root, &exercise, &args),
        flags::Command::Check(opts) => check::run(root, &opts),
        flags::Command::Hint { exercise } => hint::run(&exercise),
        flags::Command::Watch(opts) => watch::run(root, &opts),
        flags::Command::Reset(opts) => reset::run(root, &opts),
        flags::Command::Docs(opts) => docs::run(root, &opts),
        flags::Command::Trace(opts) => trace::run(root, &opts),
        // BEGIN STAFF
        flags::Command::Release(opts) => release::run(root, &opts),
        flags::Command::Verify(opts) => verify::run(root, &opts),
        flags::Command::Grade(opts) => grade::run(root, &opts),
        flags::Command::Autograder(opts) => autograder::run(root, &opts),
        flags::Command::Bench(opts) => bench::run(root, &opts),
        // END STAFF
    }
}

/// The workspace root: xtask lives in `<root>/xtask`. Called once, by
/// [`run`], which hands it to the command (and by unit tests).
///
/// `IPC_LAB_ROOT` points it at another copy of the workspace; the tests use
/// it to check a copy whose exercise sources they broke on purpose.
fn workspace_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("IPC_LAB_ROOT") {
        return PathBuf::from(dir);
    }
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map(PathBuf::from).unwrap_or(manifest_dir)
}

/// Finds an exercise by number or name, or says which ones exist.
fn exercise(query: &str) -> Result<&'static checks::Exercise> {
    checks::find(query).ok_or_else(|| {
        let last = checks::catalogue().len();
        anyhow!("no exercise '{query}': give a number from 1 to {last} or a name (see `cargo xtask list`)")
    })
}
