//! `ipc-lab-trace`: the tracer executable that `cargo xtask trace` runs in
//! the sandbox, in place of the exercise.
//!
//! ```text
//! ipc-lab-trace --log PATH|- [--exe-on-stdin BYTES] -- PROGRAM [ARGS...]
//! ```
//!
//! It runs PROGRAM under the recorder ([`trace::record`]) and exits with
//! PROGRAM's status (128 + the signal that killed it), so whoever runs it
//! sees the program's own ending and output. `--log -` mixes the records
//! into standard error (see [`trace::log`]). With `--exe-on-stdin BYTES`
//! the first BYTES of standard input are the program itself, written to
//! PROGRAM in the working directory before it runs; the rest of the input
//! is the program's. That lets a sandbox that drops to another user run an
//! exercise whose build directory that user cannot read.
//!
//! Exit 2 with one line when ptrace is refused (a `refused` record says so
//! to a reader of the log) or the arguments are wrong.

use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use trace::log::Record;
use trace::record::{Ending, Failure, Sink};

const USAGE: &str = "usage: ipc-lab-trace --log PATH|- [--exe-on-stdin BYTES] -- PROGRAM [ARGS...]";

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
    let mut exe_bytes: Option<u64> = None;
    let mut rest = Vec::new();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--log") => log = args.next(),
            Some("--exe-on-stdin") => {
                let n = args.next().and_then(|n| n.to_str()?.parse().ok());
                exe_bytes = Some(n.ok_or(USAGE)?);
            }
            Some("--") => {
                rest.extend(args.by_ref());
                break;
            }
            _ => return Err(USAGE.into()),
        }
    }
    let log = log.ok_or(USAGE)?;
    let program = rest.first().ok_or(USAGE)?.clone();
    let mut sink = if log == "-" {
        Sink::Stderr
    } else {
        // std opens files with O_CLOEXEC: the log is never in the program's table.
        Sink::File(
            std::fs::File::create(&log)
                .map_err(|e| format!("cannot create {}: {e}", log.to_string_lossy()))?,
        )
    };
    let mut path = std::path::PathBuf::from(&program);
    if let Some(bytes) = exe_bytes {
        path = std::path::Path::new(".").join(path.file_name().ok_or(USAGE)?);
        take_exe(&path, bytes)?;
    }
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

/// Copies the first `bytes` of standard input to `path`, executable.
fn take_exe(path: &std::path::Path, bytes: u64) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    // Unbuffered: whatever follows the executable is the program's input
    // and must stay in the pipe.
    let mut stdin = std::mem::ManuallyDrop::new(unsafe_stdin());
    let mut exe = Vec::new();
    (&mut *stdin)
        .take(bytes)
        .read_to_end(&mut exe)
        .map_err(|e| format!("cannot read the program from stdin: {e}"))?;
    if exe.len() as u64 != bytes {
        return Err("standard input ended before the program did".into());
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, &exe).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn unsafe_stdin() -> std::fs::File {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 0 is open for the life of the process; the File is kept in
    // a ManuallyDrop, so it is never closed.
    unsafe { std::fs::File::from_raw_fd(0) }
}
