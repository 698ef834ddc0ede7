//! Per-run cgroups, when the machine lets us make them: `pids` for the
//! process budget, `memory` for the memory of the run as a whole, `cpu` for
//! a fair share of the processors.
//!
//! `RLIMIT_NPROC` counts every process of a user, so all the runs that share
//! `nobody` share one budget: a fork bomb in one check would make `fork`
//! fail in the checks running beside it. A cgroup with the `pids`
//! controller gives each run a budget of its own (`pids.max`, threads
//! included) and counts how often the run hit it (`pids.events`), so the
//! outcome can say "fork (or thread creation) failed 37 times".
//!
//! `RLIMIT_AS` bounds one process; a `memory` cgroup bounds the run's
//! processes together (`memory.limit_in_bytes` in v1, `memory.max` in v2,
//! swap included where the kernel counts it) and counts the processes the
//! kernel killed at the limit (`oom_kill` in `memory.oom_control` or
//! `memory.events`).
//!
//! Every run's `cpu` cgroup has the same weight (`cpu.shares` 1024 in v1,
//! `cpu.weight` 100 in v2), and the scheduler shares the processors between
//! sibling groups by weight, not by how many tasks each holds: a run with
//! 256 spinning processes gets the same time as a single-threaded run
//! beside it, which keeps timing checks meaningful while a fork bomb waits
//! for its verdict.
//!
//! The program joins its cgroups before `execve` (it writes `0`, "myself",
//! to each `cgroup.procs`), so every process it creates is inside. Where no
//! cgroup can be created (controller not mounted, no right to write there,
//! as in many containers, or not root), runs go on without it.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The controllers a run can have a cgroup of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Controller {
    /// Processes and threads: the limit is `pids.max`.
    Pids,
    /// Memory: the limit is in bytes.
    Memory,
    /// Processor time: no limit, an equal weight.
    Cpu,
}

impl Controller {
    /// Its name in `/proc/self/cgroup` and in mount options.
    fn name(self) -> &'static str {
        match self {
            Controller::Pids => "pids",
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
        }
    }

    /// The files that take the limit, in order: the first must exist (it
    /// tells v1 from v2), the others are written when they exist (swap).
    fn limit_files(self, dir: &Path) -> Option<Vec<&'static str>> {
        let files: &[&[&'static str]] = match self {
            Controller::Pids => &[&["pids.max"]],
            Controller::Memory => &[
                &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
                &["memory.max", "memory.swap.max"],
            ],
            Controller::Cpu => &[&["cpu.shares"], &["cpu.weight"]],
        };
        files
            .iter()
            .find(|set| dir.join(set[0]).exists())
            .map(|set| set.to_vec())
    }
}

/// One run's cgroup of one controller.
pub(crate) struct Cgroup {
    controller: Controller,
    dir: PathBuf,
    procs: OwnedFd,
}

impl Cgroup {
    /// Creates a cgroup below ours with `limit` (processes or bytes), or
    /// `None` when that cannot be done here.
    pub(crate) fn create(controller: Controller, limit: u64) -> Option<Cgroup> {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "sandbox-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        );
        for parent in parents(controller) {
            sweep(&parent);
            let dir = parent.join(&name);
            if fs::create_dir(&dir).is_err() {
                continue;
            }
            let ready = controller
                .limit_files(&dir)
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
                .and_then(|files| set_limit(&dir, &files, limit))
                .and_then(|()| fs::OpenOptions::new().write(true).open(dir.join("cgroup.procs")));
            match ready {
                Ok(procs) => {
                    return Some(Cgroup {
                        controller,
                        dir,
                        procs: procs.into(),
                    });
                }
                // Not such a cgroup after all (cgroup v2 without the
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

    /// How many times the limit refused something: forks (and thread
    /// creations) failed at `pids.max`, or processes killed by the kernel
    /// at the memory limit.
    pub(crate) fn limit_hits(&self) -> u64 {
        let (file, key) = match self.controller {
            Controller::Pids => ("pids.events", "max"),
            Controller::Memory if self.dir.join("memory.oom_control").exists() => {
                ("memory.oom_control", "oom_kill")
            }
            Controller::Memory => ("memory.events", "oom_kill"),
            Controller::Cpu => return 0,
        };
        let text = fs::read_to_string(self.dir.join(file)).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// How many processes and threads are in it now (`pids.current`; 0 for
    /// other controllers or when unreadable).
    pub(crate) fn current(&self) -> u64 {
        if self.controller != Controller::Pids {
            return 0;
        }
        fs::read_to_string(self.dir.join("pids.current"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
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

/// Writes `limit` into the cgroup's limit files: the first must take it;
/// the others (swap) are best effort. v2 counts swap apart, so its swap
/// limit is 0; v1 counts memory plus swap, so its limit is the same. The
/// cpu weights are the defaults, written so that every run has the same
/// whatever a parent's default is.
fn set_limit(dir: &Path, files: &[&str], limit: u64) -> io::Result<()> {
    let (first, rest) = files.split_first().ok_or(io::ErrorKind::NotFound)?;
    let value = match *first {
        "cpu.shares" => 1024,
        "cpu.weight" => 100,
        _ => limit,
    };
    fs::write(dir.join(first), value.to_string())?;
    for file in rest {
        let value = if *file == "memory.swap.max" { 0 } else { limit };
        if dir.join(file).exists() {
            let _ = fs::write(dir.join(file), value.to_string());
        }
    }
    Ok(())
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

/// Where our own cgroup of `controller` sits: in its cgroup v1 hierarchy,
/// then in the unified (v2) one, each at the path `/proc/self/cgroup` gives.
fn parents(controller: Controller) -> Vec<PathBuf> {
    let Ok(mine) = fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    let Ok(mounts) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let wanted = controller.name();
    let mut v1_places = Vec::new();
    let mut v2_places = Vec::new();
    for (controllers, path) in mine.lines().filter_map(|l| {
        // "8:pids:/some/path" (v1) or "0::/some/path" (v2)
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        Some((parts.next()?, parts.next()?))
    }) {
        let v1 = controllers.split(',').any(|c| c == wanted);
        if !v1 && !controllers.is_empty() {
            continue;
        }
        let mount = if v1 {
            mount_point(&mounts, Some(wanted))
        } else {
            mount_point(&mounts, None)
        };
        if let Some(mount) = mount {
            let place = mount.join(path.trim_start_matches('/'));
            // v1 first: it holds the controller when both exist.
            if v1 {
                v1_places.push(place)
            } else {
                v2_places.push(place)
            }
        }
    }
    v1_places.extend(v2_places);
    v1_places
}

/// The mount point of the v1 hierarchy of `controller`, or (`None`) of
/// cgroup v2.
fn mount_point(mountinfo: &str, controller: Option<&str>) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "36 25 0:31 / /sys/fs/cgroup/pids rw,… - cgroup cgroup rw,pids"
        let (left, right) = line.split_once(" - ")?;
        let mount = left.split(' ').nth(4)?;
        let mut right = right.split(' ');
        let fstype = right.next()?;
        let options = right.nth(1).unwrap_or("");
        let wanted = match controller {
            Some(name) => fstype == "cgroup" && options.split(',').any(|o| o == name),
            None => fstype == "cgroup2",
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
            mount_point(info, Some("pids")),
            Some(PathBuf::from("/sys/fs/cgroup/pids"))
        );
        assert_eq!(
            mount_point(info, None),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(mount_point(info, Some("memory")), None);
        assert_eq!(mount_point("", Some("pids")), None);
    }
}
