//! `ipc-lab-trace`: the tracer executable that `cargo xtask trace` runs in
//! the sandbox, in place of the exercise.
//!
//! ```text
//! ipc-lab-trace --log PATH -- PROGRAM [ARGS...]
//! ```
//!
//! It runs PROGRAM under the recorder ([`trace::record`]), writing the log
//! to PATH one record per line as it goes (so a run killed at its timeout
//! leaves every record up to the kill), and exits with PROGRAM's status
//! (128 + the signal that killed it), so whoever runs it sees the
//! program's own ending and output.
//!
//! Exit 2 with one line when ptrace is refused (a `refused` record says so
//! to a reader of the log) or the arguments are wrong.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use trace::log::Record;
use trace::record::{Ending, Failure, Sink};

const USAGE: &str = "usage: ipc-lab-trace --log PATH -- PROGRAM [ARGS...]";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ipc-lab-trace: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let mut args = std::env::args_os().skip(1);
    let mut log = None;
    let mut rest = Vec::new();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--log") => log = args.next(),
            Some("--") => {
                rest.extend(args.by_ref());
                break;
            }
            _ => return Err(USAGE.into()),
        }
    }
    let log = log.ok_or(USAGE)?;
    let program = rest.first().ok_or(USAGE)?.clone();
    // std opens files with O_CLOEXEC: the log is never in the program's table.
    let file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.to_string_lossy()))?;
    let mut sink = Sink::new(file);
    let path = std::path::PathBuf::from(&program);
    let cstr = |s: &[u8]| CString::new(s).map_err(|_| "an argument holds a NUL byte".to_string());
    let program_c = cstr(path.as_os_str().as_bytes())?;
    let mut argv = Vec::new();
    for (i, a) in rest.iter().enumerate() {
        // argv[0] is the program's file name, as a shell would give it.
        let a = if i == 0 {
            path.file_name().map_or(a.as_os_str(), |n| n)
        } else {
            a.as_os_str()
        };
        argv.push(cstr(a.as_bytes())?);
    }
    match trace::record::record(&program_c, &argv, &mut sink) {
        Ok(Ending::Exited(code)) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
        Ok(Ending::Signaled(sig)) => Ok(ExitCode::from(u8::try_from(128 + sig).unwrap_or(1))),
        Err(Failure::Refused(err)) => {
            sink.put(&Record::Refused {
                errno: err.raw_os_error().unwrap_or(libc::EPERM),
            });
            Err(trace::refused_reason())
        }
        Err(Failure::Start(why)) => Err(format!("cannot run {}: {why}", program.to_string_lossy())),
        Err(Failure::Wait(e)) => Err(format!("waiting for the traced program failed: {e}")),
    }
}
