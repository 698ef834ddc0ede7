//! Which CPUs a thread may run on, which one it is on, and how much CPU time
//! a process used: the calls that tell concurrency from parallelism.

use crate::cvt;
use std::io;
use std::time::Duration;

/// `sched_getaffinity(0)` — the CPUs the calling thread may run on, in
/// increasing order.
///
/// Affinity belongs to a thread. A new thread starts with its creator's set,
/// and a forked child with its parent's, so setting it before starting
/// workers confines all of them.
///
/// References: sched_getaffinity(2), sched(7).
pub fn sched_getaffinity() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid for writes of size_of::<cpu_set_t>() bytes.
    cvt(unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) })?;
    let max = 8 * size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET only reads the set; every index is below its size.
    Ok((0..max)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// `sched_setaffinity(0)` — lets the calling thread run only on `cpus`.
///
/// The kernel moves the thread at once if it is on another CPU. It fails with
/// `EINVAL` when none of `cpus` exists or is allowed (by a cgroup's cpuset),
/// including when `cpus` is empty.
///
/// References: sched_setaffinity(2), sched(7).
pub fn sched_setaffinity(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let max = 8 * size_of::<libc::cpu_set_t>();
    for &cpu in cpus {
        if cpu >= max {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: `cpu` is below the set's size in bits, checked above.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size we pass.
    cvt(unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) })?;
    Ok(())
}

/// `sched_getcpu()` — the CPU the calling thread is running on right now.
///
/// By the time the caller looks, the thread may have moved; it is a sample.
///
/// References: sched_getcpu(3).
pub fn sched_getcpu() -> io::Result<usize> {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = cvt(unsafe { libc::sched_getcpu() })?;
    Ok(cpu as usize)
}

/// Whose CPU time [`getrusage`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// This process: all its threads, finished ones included (`RUSAGE_SELF`).
    Process,
    /// Its children that have ended *and been waited for* (`RUSAGE_CHILDREN`).
    Children,
}

/// `getrusage()` — the CPU time used, user plus system.
///
/// The two numbers a shell's `time` prints as `user` and `sys`, added. Wall
/// time divided by this is how many CPUs were busy on average.
///
/// References: getrusage(2).
pub fn getrusage(who: Usage) -> io::Result<Duration> {
    let who = match who {
        Usage::Process => libc::RUSAGE_SELF,
        Usage::Children => libc::RUSAGE_CHILDREN,
    };
    // SAFETY: rusage is plain integers; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    cvt(unsafe { libc::getrusage(who, &mut usage) })?;
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok(time(usage.ru_utime) + time(usage.ru_stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_a_thread_keeps_it_on_that_cpu() {
        // Affinity is per thread: do it on a thread of our own, so the test
        // harness's threads keep theirs.
        std::thread::spawn(|| {
            let all = sched_getaffinity().unwrap();
            assert!(!all.is_empty(), "a thread may run somewhere");
            let first = all[0];
            sched_setaffinity(&[first]).unwrap();
            assert_eq!(sched_getaffinity().unwrap(), [first]);
            assert_eq!(sched_getcpu().unwrap(), first, "moved at once");
            let err = sched_setaffinity(&[]).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "an empty set");
            sched_setaffinity(&all).unwrap();
            assert_eq!(sched_getaffinity().unwrap(), all);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let before = getrusage(Usage::Process).unwrap();
        let mut x = 1u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let after = getrusage(Usage::Process).unwrap();
        assert!(after > before, "30 ms of spinning used no CPU time?");
        assert!(getrusage(Usage::Children).is_ok());
    }
}
