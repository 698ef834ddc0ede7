//! What an earlier grader left behind when it was killed: work folders in
//! the compile cache (`w<PID>-…`) and half-written results
//! (`.results.json.tmp.<PID>`, from `write_atomically`). Both carry the pid
//! of the grader that made them, so one rule removes both: the name's pid is
//! not ours and no longer runs. A grader running beside us keeps its files.

use std::path::Path;

/// Removes each entry of `dir` (file or folder) whose name `pid_in` reads a
/// pid from, when that process is gone.
pub(crate) fn sweep(dir: &Path, pid_in: impl Fn(&str) -> Option<u32>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !pid_in(&name).is_some_and(gone) {
            continue;
        }
        let path = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Whether `pid` is another process that no longer runs.
fn gone(pid: u32) -> bool {
    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// The pid in a compile work folder's name: `w<PID>-<N>`.
pub(crate) fn work_folder_pid(name: &str) -> Option<u32> {
    name.strip_prefix('w')?.split('-').next()?.parse().ok()
}

/// The pid in a temporary file's name: `.<NAME>.tmp.<PID>`.
pub(crate) fn temporary_pid(name: &str) -> Option<u32> {
    let (_, pid) = name.strip_prefix('.')?.rsplit_once(".tmp.")?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_whose_they_are() {
        assert_eq!(work_folder_pid("w812-3"), Some(812));
        assert_eq!(work_folder_pid("bins"), None);
        assert_eq!(temporary_pid(".results.json.tmp.812"), Some(812));
        assert_eq!(temporary_pid("results.json.tmp.812"), None);
        assert_eq!(temporary_pid(".results.json"), None);
    }

    #[test]
    fn only_what_a_gone_process_left_is_removed() {
        let dir = std::env::temp_dir().join(format!("ipc-lab-stale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A pid that cannot run: above the kernel's pid_max limit (2^22).
        let dead = 4_194_305;
        let mine = std::process::id();
        std::fs::create_dir(dir.join(format!("w{dead}-1"))).unwrap();
        std::fs::write(dir.join(format!("w{dead}-1/file")), "x").unwrap();
        std::fs::create_dir(dir.join(format!("w{mine}-1"))).unwrap();
        std::fs::write(dir.join(format!(".results.json.tmp.{dead}")), "half").unwrap();
        std::fs::write(dir.join("results.json"), "{}").unwrap();
        sweep(&dir, work_folder_pid);
        sweep(&dir, temporary_pid);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["results.json".to_string(), format!("w{mine}-1")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
