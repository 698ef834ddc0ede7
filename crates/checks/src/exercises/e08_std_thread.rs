//! Exercise 08, std-thread: what it must print, and its hint.

use crate::expect::{exited, numbers, stderr_contains, stdout, stdout_contains, stdout_lines};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 8,
    name: "std-thread",
    dir: "08-std-thread",
    title: "Threads the library way",
    mirrors: "std-thread.cc",
    lesson: "std::thread::spawn starts a thread in the same process: same pid, one shared global; join waits for it",
    hint: "std::thread::spawn runs a function on a new thread and gives back a handle; main keeps running meanwhile. When main returns the whole process ends, threads included — so main waits for the thread through its handle. Both lines show one pid: a thread belongs to its process.",
    checks,
};

/// Both lines carry the started pid: threads are part of one process.
const LINE: &str = "Hello from pid {P}, precious={N}";

/// Two lines from the one pid, with values that show one shared global:
/// 43 and 86 (main added first) or 84 and 85 (the thread doubled first).
fn shared_values(o: &Outcome) -> Verdict {
    exited(o, 0)?;
    let out = stdout(o);
    crate::expect::ensure(out.lines().count() != 1, || {
        format!(
            "one line where two were expected:\n{}\nwhen main returns the process ends, threads \
             and all: join the thread before main returns",
            crate::expect::indent(&out)
        )
    })?;
    stdout_lines(o, &[LINE, LINE])?;
    let mut values: Vec<i64> = stdout(o)
        .lines()
        .filter_map(|l| numbers(LINE, l, o.pid))
        .filter_map(|n| n.last().copied())
        .collect();
    values.sort_unstable();
    match values[..] {
        [43, 86] | [84, 85] => Ok(()),
        [43, 84] => Err(
            "the values are 43 and 84: each side changed its own copy of the global. \
             Threads share it, so expect 43 and 86, or 84 and 85"
                .to_string(),
        ),
        _ => Err(format!(
            "expected the values 43 and 86 (main first) or 84 and 85 (thread first), got {values:?}"
        )),
    }
}

/// With `--tids`: the same pid on both lines, two different thread ids, and
/// main's thread id is the pid. Calling the thread's function directly on
/// main, without spawning, prints the same values but only one thread id.
fn two_threads(o: &Outcome) -> Verdict {
    const TID_LINE: &str = "Hello from pid {P} (thread {N}), precious={N}";
    exited(o, 0)?;
    stdout_lines(o, &[TID_LINE, TID_LINE])?;
    let tids: Vec<i64> = stdout(o)
        .lines()
        .filter_map(|l| numbers(TID_LINE, l, o.pid))
        .map(|n| n[0])
        .collect();
    let main_is_pid = tids.iter().filter(|&&t| t == i64::from(o.pid)).count() == 1;
    if tids.len() == 2 && tids[0] != tids[1] && main_is_pid {
        Ok(())
    } else {
        Err(format!(
            "expected two threads: one line from main (thread id = pid {}) and one from a \
             spawned thread (another id); got thread ids {tids:?}",
            o.pid
        ))
    }
}

fn checks() -> Vec<Check> {
    vec![
        Check::public("one pid, one shared global", 4, shared_values),
        Check::public("--tids: the two lines come from two threads", 2, two_threads).args(["--tids"]),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: std-thread")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden("rejects an unknown argument with exit 2", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: std-thread")
        })
        .args(["--bogus"]),
        // END HIDDEN
    ]
}
