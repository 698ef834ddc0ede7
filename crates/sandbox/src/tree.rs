//! Lists a process tree from `/proc`, read-only.
//!
//! Every process of a run lives below its supervisor (a subreaper), so the
//! run's tree is "the descendants of S". The listing walks
//! `/proc/PID/task/TID/children` downwards from S; on a kernel built without
//! those files it falls back to reading every `/proc/PID/stat` and following
//! parent pids. A listing is a snapshot of moving processes: callers use it
//! to report and diagnose, never to decide whom to kill (S does that, safely,
//! see the crate docs).

use std::collections::HashMap;
use std::fs;
use std::sync::OnceLock;

/// One process, as `/proc/PID/stat` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proc {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its state letter: R running, S sleeping, D disk sleep, Z zombie, T stopped…
    pub state: char,
    /// Its name (`comm`, at most 15 bytes).
    pub comm: String,
}

impl Proc {
    /// Whether it has ended and only waits to be reaped.
    pub(crate) fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }

    /// "pid 913 (childpipe)".
    pub(crate) fn label(&self) -> String {
        format!("pid {} ({})", self.pid, self.comm)
    }
}

/// Parses the contents of `/proc/PID/stat`.
pub(crate) fn parse_stat(text: &str) -> Option<Proc> {
    // "913 (child pipe) S 912 …": the name may hold spaces and parentheses,
    // so it ends at the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text.get(..open)?.trim().parse().ok()?;
    let comm = text.get(open + 1..close)?.to_owned();
    let mut rest = text.get(close + 1..)?.split_ascii_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(Proc {
        pid,
        ppid,
        state,
        comm,
    })
}

/// The process `pid`, or `None` if it is gone.
pub(crate) fn stat(pid: i32) -> Option<Proc> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether this kernel has `/proc/PID/task/TID/children` (CONFIG_PROC_CHILDREN).
fn has_children_files() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        let me = std::process::id();
        fs::metadata(format!("/proc/{me}/task/{me}/children")).is_ok()
    })
}

/// The pids of the children of `pid` (of all its threads).
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let path = task.path().join("children");
        if let Ok(text) = fs::read_to_string(path) {
            out.extend(
                text.split_ascii_whitespace()
                    .filter_map(|n| n.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// Every process below `root` (not `root` itself), parents before children.
pub(crate) fn descendants(root: i32) -> Vec<Proc> {
    if !has_children_files() {
        return descendants_by_scan(root);
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    let mut next = 0;
    while let Some(&parent) = queue.get(next) {
        next += 1;
        for child in children(parent) {
            // A pid seen twice (a process reparented mid-walk) is listed once.
            if queue.contains(&child) {
                continue;
            }
            if let Some(p) = stat(child) {
                out.push(p);
                queue.push(child);
            }
        }
    }
    out
}

/// [`descendants`] by reading every `/proc/PID/stat`.
fn descendants_by_scan(root: i32) -> Vec<Proc> {
    let mut by_parent: HashMap<i32, Vec<Proc>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Some(p) = stat(pid) {
            by_parent.entry(p.ppid).or_default().push(p);
        }
    }
    let mut out: Vec<Proc> = Vec::new();
    let mut queue = vec![root];
    let mut next = 0;
    while let Some(&parent) = queue.get(next) {
        next += 1;
        for p in by_parent.remove(&parent).unwrap_or_default() {
            queue.push(p.pid);
            out.push(p);
        }
    }
    out
}

/// What a process uses, from `/proc/PID/status`.
pub(crate) struct Usage {
    /// The peak of its resident memory, bytes (`VmHWM`). Not the peak of
    /// its address space (`VmPeak`): the C library reserves 64 MiB of
    /// address space per thread that allocates, so a harmless program with
    /// 16 threads has a `VmPeak` near 1 GiB.
    pub peak_rss: u64,
    /// Its threads, the main one included.
    pub threads: u64,
}

/// What `pid` uses, or `None` if it is gone (or has no address space: a
/// zombie, a kernel thread).
pub(crate) fn usage(pid: i32) -> Option<Usage> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_ascii_whitespace().nth(1)?.parse().ok()
    };
    Some(Usage {
        peak_rss: field("VmHWM:")? * 1024,
        threads: field("Threads:").unwrap_or(1),
    })
}

/// How many tasks (threads included, as `RLIMIT_NPROC` counts them) the real
/// user `uid` has right now.
pub(crate) fn tasks_of_user(uid: u32) -> u64 {
    let mut total = 0;
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_ascii_whitespace().nth(1)?.parse().ok()
        };
        if field("Uid:") == Some(u64::from(uid)) {
            total += field("Threads:").unwrap_or(1);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let p = parse_stat("913 (a (b) c) S 912 913 913 0 -1 4194560").unwrap();
        assert_eq!(
            (p.pid, p.comm.as_str(), p.state, p.ppid),
            (913, "a (b) c", 'S', 912)
        );
    }

    #[test]
    fn reads_the_usage_of_this_process() {
        let me = usage(std::process::id() as i32).unwrap();
        assert!(me.peak_rss > 0 && me.threads >= 1);
    }

    #[test]
    fn finds_this_process_below_its_parent() {
        let me = std::process::id() as i32;
        let parent = stat(me).unwrap().ppid;
        assert!(descendants(parent).iter().any(|p| p.pid == me));
        assert!(descendants_by_scan(parent).iter().any(|p| p.pid == me));
    }
}
