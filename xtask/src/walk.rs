//! The one directory walker of xtask: `walkdir`, in one order.
//!
//! [`files`] lists the files under a folder, relative to it, depth first
//! and sorted by name within each folder (so the order is the same on every
//! machine: releases, bundles and zips come out byte for byte alike). A
//! symlink to a folder is followed, as the shell's `cp -r` of a checkout
//! would see it. Every command that walks a tree (watch's stamp, the book's
//! staging, the release, the autograder bundle, the benchmarks' copies)
//! walks it here; `walkdir` costs students nothing, since `notify` already
//! depends on it.

use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

/// The files under the folder `dir`, relative to it, in order (see the
/// module docs). `skip(rel)` leaves out an entry,
/// and everything under it when it is a folder; it is not asked about
/// `dir` itself.
pub fn files(dir: &Path, mut skip: impl FnMut(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !skip(relative(dir, e.path())));
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        if !entry.file_type().is_dir() {
            out.push(relative(dir, entry.path()).to_path_buf());
        }
    }
    Ok(out)
}

/// `path` relative to `dir`, which holds it.
fn relative<'a>(dir: &Path, path: &'a Path) -> &'a Path {
    path.strip_prefix(dir).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_sorted_relative_and_skipped_folders_left_out() {
        let dir = std::env::temp_dir().join(format!("ipc-lab-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for f in ["b.txt", "a/z.rs", "a/b/c.rs", "a.rs", "skip/x", ".hidden/y"] {
            let path = dir.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, f).unwrap();
        }
        let found = files(&dir, |rel| rel == Path::new("skip") || rel.starts_with(".hidden")).unwrap();
        let names: Vec<&str> = found.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(names, ["a/b/c.rs", "a/z.rs", "a.rs", "b.txt"]);
        assert!(files(&dir.join("missing"), |_| false).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
