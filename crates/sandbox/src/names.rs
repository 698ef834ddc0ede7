//! Words for messages: signal names ("was killed by SIGSEGV"), how a
//! process ended, sizes ("1 GiB").

use crate::Status;

/// The conventional name of signal `sig` ("SIGSEGV"), or "signal N".
pub(crate) fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTKFLT => "SIGSTKFLT",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    name.to_owned()
}

/// Why the sandbox's limits would send `sig`, when that is the usual reason.
pub(crate) fn signal_cause(sig: i32) -> Option<&'static str> {
    match sig {
        libc::SIGXCPU => Some("CPU time limit"),
        libc::SIGXFSZ => Some("file size limit"),
        libc::SIGPIPE => Some("wrote to a pipe with no reader left"),
        _ => None,
    }
}

/// How a process ended, completing "the program …": "exited with status
/// 1", "was killed by SIGXCPU (CPU time limit)". Only for `Exited` and
/// `Signaled`; other statuses are the run's, not a process's.
pub(crate) fn ending(status: &Status) -> String {
    match *status {
        Status::Exited(code) => format!("exited with status {code}"),
        Status::Signaled(sig) => match signal_cause(sig) {
            Some(cause) => format!("was killed by {} ({cause})", signal_name(sig)),
            None => format!("was killed by {}", signal_name(sig)),
        },
        ref other => format!("ended ({other:?})"),
    }
}

/// A size in words: "1 GiB", "64 KiB", "1.5 MiB", "1000 bytes".
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            return if n % size == 0 {
                format!("{} {unit}", n / size)
            } else {
                format!("{:.1} {unit}", n as f64 / size as f64)
            };
        }
    }
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_words() {
        assert_eq!(bytes(1 << 30), "1 GiB");
        assert_eq!(bytes(256 << 20), "256 MiB");
        assert_eq!(bytes(3 << 19), "1.5 MiB");
        assert_eq!(bytes(65536), "64 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }

    #[test]
    fn endings_in_words() {
        assert_eq!(ending(&Status::Exited(1)), "exited with status 1");
        assert_eq!(ending(&Status::Signaled(libc::SIGABRT)), "was killed by SIGABRT");
        assert_eq!(
            ending(&Status::Signaled(libc::SIGXCPU)),
            "was killed by SIGXCPU (CPU time limit)"
        );
    }

    #[test]
    fn names_common_signals_and_numbers_the_rest() {
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
        assert_eq!(signal_name(libc::SIGPIPE), "SIGPIPE");
        assert_eq!(signal_name(40), "signal 40");
    }
}
