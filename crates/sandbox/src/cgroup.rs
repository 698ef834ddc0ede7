//! A per-run `pids` cgroup, when the machine lets us make one.
//!
//! `RLIMIT_NPROC` counts every process of a user, so all the runs that share
//! `nobody` share one budget: a fork bomb in one check would make `fork`
//! fail in the checks running beside it. A cgroup with the `pids`
//! controller gives each run a budget of its own (`pids.max`, threads
//! included) and counts how often the run hit it (`pids.events`), so the
//! outcome can say "fork failed 37 times". The program joins the cgroup
//! before `execve` (it writes `0`, "myself", to `cgroup.procs`), so every
//! process it creates is inside.
//!
//! Where no cgroup can be created (no `pids` controller mounted, no right to
//! write there, as in many containers), runs go on without one and
//! `RLIMIT_NPROC` alone holds the line.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One run's cgroup.
pub(crate) struct PidsCgroup {
    dir: PathBuf,
    procs: OwnedFd,
}

impl PidsCgroup {
    /// Creates a cgroup below ours with `pids.max = max`, or `None`.
    pub(crate) fn create(max: u64) -> Option<PidsCgroup> {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "sandbox-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        );
        for parent in parents() {
            sweep(&parent);
            let dir = parent.join(&name);
            if fs::create_dir(&dir).is_err() {
                continue;
            }
            let ready = fs::write(dir.join("pids.max"), max.to_string())
                .and_then(|()| fs::OpenOptions::new().write(true).open(dir.join("cgroup.procs")));
            match ready {
                Ok(procs) => {
                    return Some(PidsCgroup {
                        dir,
                        procs: procs.into(),
                    });
                }
                // Not a pids cgroup after all (cgroup v2 without the
                // controller enabled): try the next place.
                Err(_) => {
                    let _ = fs::remove_dir(&dir);
                }
            }
        }
        None
    }

    /// `cgroup.procs`, open for writing (close-on-exec).
    pub(crate) fn procs_fd(&self) -> RawFd {
        self.procs.as_raw_fd()
    }

    /// How many times a fork failed because the run was at `pids.max`.
    pub(crate) fn limit_hits(&self) -> u64 {
        let events = fs::read_to_string(self.dir.join("pids.events")).unwrap_or_default();
        events
            .lines()
            .find_map(|l| l.strip_prefix("max "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Removes the cgroup. It must be empty: the kernel takes a moment to
    /// let go of tasks that were just reaped, so this retries for a while.
    pub(crate) fn remove(self) -> io::Result<()> {
        let mut last = Ok(());
        for _ in 0..50 {
            last = fs::remove_dir(&self.dir);
            match &last {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => break,
            }
        }
        last.map_err(|e| io::Error::new(e.kind(), format!("cannot remove {}: {e}", self.dir.display())))
    }
}

/// Removes, once per process and place, the empty cgroups of runners that
/// died before removing their own (`sandbox-PID-N` where PID is gone).
fn sweep(parent: &Path) {
    static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut swept = SWEPT.lock().unwrap_or_else(|e| e.into_inner());
    if swept.iter().any(|p| p == parent) {
        return;
    }
    swept.push(parent.to_path_buf());
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("sandbox-")?.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            // Fails harmlessly (EBUSY) if processes are still inside.
            let _ = fs::remove_dir(entry.path());
        }
    }
}

/// Where our own `pids` cgroup sits: the cgroup v1 `pids` hierarchy, then
/// the unified (v2) one, each at the path `/proc/self/cgroup` gives.
fn parents() -> Vec<PathBuf> {
    let Ok(mine) = fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    let Ok(mounts) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (controllers, path) in mine.lines().filter_map(|l| {
        // "8:pids:/some/path" (v1) or "0::/some/path" (v2)
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        Some((parts.next()?, parts.next()?))
    }) {
        let v1 = controllers.split(',').any(|c| c == "pids");
        if !v1 && !controllers.is_empty() {
            continue;
        }
        if let Some(mount) = mount_point(&mounts, v1) {
            out.push(mount.join(path.trim_start_matches('/')));
        }
    }
    // v1 first: it holds the pids controller when both exist.
    out.sort_by_key(|p| !p.to_string_lossy().contains("pids"));
    out
}

/// The mount point of the v1 `pids` hierarchy (`v1`) or of cgroup v2.
fn mount_point(mountinfo: &str, v1: bool) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "36 25 0:31 / /sys/fs/cgroup/pids rw,… - cgroup cgroup rw,pids"
        let (left, right) = line.split_once(" - ")?;
        let mount = left.split(' ').nth(4)?;
        let mut right = right.split(' ');
        let fstype = right.next()?;
        let options = right.nth(1).unwrap_or("");
        let wanted = if v1 {
            fstype == "cgroup" && options.split(',').any(|o| o == "pids")
        } else {
            fstype == "cgroup2"
        };
        wanted.then(|| Path::new(mount).to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_pids_hierarchy_in_mountinfo() {
        let info = "36 25 0:31 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids\n\
                    37 25 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            mount_point(info, true),
            Some(PathBuf::from("/sys/fs/cgroup/pids"))
        );
        assert_eq!(
            mount_point(info, false),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(mount_point("", true), None);
    }
}
