//! Reading a submission: only the exercise sources, from a folder or an
//! archive, never anything else.
//!
//! A submission is a student repository: a folder, or a `.zip` / `.tar.gz`
//! of one, with or without a single top-level folder inside. Grading takes
//! from it only `crates/NN-name/src/**/*.rs` of the catalogue's exercises;
//! its manifests, build scripts, tests, xtask and checks are never read.
//!
//! Everything here treats the submission as hostile:
//! - a folder is walked without following symbolic links, and only below
//!   `crates/NN-name/src`;
//! - an archive is never extracted to disk, and no program is run to read
//!   it: a `.tar.gz` is read as a stream in memory (the `flate2` and `tar`
//!   crates), a `.zip` by its central directory (the `zip` crate), so no
//!   path in the archive can name a file outside, and no link in it can be
//!   followed;
//! - an archive is refused, with a one-line reason, when it unpacks to more
//!   than a byte budget (a gzip bomb), has more members than a cap, or
//!   names a member outside itself (`../x`, `/x`);
//! - every file and the number of files per exercise have size limits;
//! - what goes wrong with one exercise's files (missing, too large, not
//!   UTF-8, a link) fails that exercise only, with the reason.

use checks::Exercise;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The largest source file taken (bigger ones fail their exercise).
pub const MAX_FILE: u64 = 1 << 20;
/// The most source files taken per exercise.
const MAX_FILES: usize = 64;
/// The deepest path below `src/` (`a/b/c/d/e.rs`).
const MAX_DEPTH: usize = 5;
/// The most candidate source files kept from one archive.
const MAX_CANDIDATES: usize = 2048;

/// What reading one archive may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Bytes unpacked in all: the whole stream of a `.tar.gz`, the members
    /// read of a `.zip` (and the size of a `.zip` file itself).
    pub bytes: u64,
    /// Members (files, folders, links) in the archive.
    pub members: usize,
}

impl Default for ArchiveLimits {
    /// 1 GiB and 4096 members: a student repository with its build folder
    /// left in fits; a bomb does not.
    fn default() -> ArchiveLimits {
        ArchiveLimits {
            bytes: 1 << 30,
            members: 4096,
        }
    }
}

/// One submission on the command line.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The name results are filed under: the folder's name, or the
    /// archive's without its extension.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// What it is.
    pub kind: Kind,
}

/// The forms a submission comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A student repository's folder.
    Folder,
    /// A `.zip` of one.
    Zip,
    /// A `.tar.gz` or `.tgz` of one.
    TarGz,
    /// A `.tar` of one.
    Tar,
}

impl Submission {
    /// Recognises a submission by its path; `Err` is a usage error (no such
    /// file, or a file that is not an archive we read).
    pub fn from_path(path: &Path) -> Result<Submission, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file_name = std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "submission".to_string());
        if meta.is_dir() {
            return Ok(Submission {
                name: sanitize(&file_name),
                path: path.to_path_buf(),
                kind: Kind::Folder,
            });
        }
        let lower = file_name.to_ascii_lowercase();
        let (kind, stem_len) = [
            (".tar.gz", Kind::TarGz),
            (".tgz", Kind::TarGz),
            (".zip", Kind::Zip),
            (".tar", Kind::Tar),
        ]
        .iter()
        .find(|(ext, _)| lower.ends_with(ext))
        .map(|(ext, kind)| (*kind, file_name.len() - ext.len()))
        .ok_or_else(|| {
            format!(
                "{} is neither a folder nor a .zip, .tar.gz or .tar archive",
                path.display()
            )
        })?;
        Ok(Submission {
            name: sanitize(&file_name[..stem_len]),
            path: path.to_path_buf(),
            kind,
        })
    }
}

/// A name usable as a directory and a CSV cell: no slashes, no control
/// characters, not empty, not `.` or `..`.
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "submission".to_string()
    } else {
        cleaned
    }
}

/// One exercise's sources: paths relative to its `src/`, with their bytes,
/// sorted by path.
pub type Files = Vec<(String, Vec<u8>)>;

/// What was taken from a submission, per exercise of the catalogue (in
/// catalogue order): its files, or why it cannot be graded.
#[derive(Debug)]
pub struct Sources {
    /// Per exercise: its files, or why it cannot be graded.
    pub exercises: Vec<Result<Files, String>>,
}

/// Reads the exercise sources of `sub`. `Err` means the submission as a
/// whole cannot be read (a corrupt or refused archive): every exercise
/// fails with it.
pub fn read(sub: &Submission, catalogue: &[Exercise]) -> Result<Sources, String> {
    read_with(sub, catalogue, ArchiveLimits::default())
}

/// [`read`] with other limits on archives.
pub fn read_with(sub: &Submission, catalogue: &[Exercise], limits: ArchiveLimits) -> Result<Sources, String> {
    let entries = match sub.kind {
        Kind::Folder => return Ok(read_folder(&sub.path, catalogue)),
        Kind::Zip => zip_entries(&sub.path, limits)?,
        Kind::TarGz | Kind::Tar => tar_entries(&sub.path, sub.kind == Kind::TarGz, limits)?,
    };
    Ok(select(entries, catalogue))
}

/// An archive member that may be an exercise source: its path split into
/// components, and its bytes (or why they were not taken).
struct Entry {
    parts: Vec<String>,
    data: Result<Vec<u8>, String>,
}

/// Splits an archive path into components; `None` for anything odd: an
/// absolute path, `..`, a backslash, a control character.
fn split(path: &str) -> Option<Vec<String>> {
    if path.starts_with('/') || path.contains('\\') || path.chars().any(char::is_control) {
        return None;
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p.to_string()),
        }
    }
    Some(parts)
}

/// Where, in a split path, `crates/` starts: 0 (at the top) or 1 (below a
/// single top-level folder), for a path that looks like an exercise
/// source `crates/NN-x/src/….rs`. macOS's `__MACOSX/` and `._` files never count.
fn source_offset(parts: &[String]) -> Option<usize> {
    if parts.iter().any(|p| p == "__MACOSX" || p.starts_with("._")) {
        return None;
    }
    if !parts.last().is_some_and(|p| p.ends_with(".rs")) {
        return None;
    }
    (0..=1).find(|&k| {
        parts.len() >= k + 4
            && parts.len() <= k + 3 + MAX_DEPTH
            && parts[k] == "crates"
            && parts[k + 2] == "src"
    })
}

/// Picks the sources of each exercise out of an archive's candidates, at
/// the top level or below the one folder that holds `crates/`.
fn select(entries: Vec<Entry>, catalogue: &[Exercise]) -> Sources {
    // Prefer sources at the top; else the top-level folder with the most.
    let mut by_folder: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    for e in &entries {
        match source_offset(&e.parts) {
            Some(0) => *by_folder.entry(None).or_default() += 1,
            Some(_) => *by_folder.entry(Some(e.parts[0].as_str())).or_default() += 1,
            None => {}
        }
    }
    let top: Option<Option<String>> = if by_folder.contains_key(&None) {
        Some(None)
    } else {
        by_folder
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(folder, _)| folder.map(str::to_string))
    };
    let mut found: Vec<BTreeMap<String, Result<Vec<u8>, String>>> = vec![BTreeMap::new(); catalogue.len()];
    if let Some(top) = top {
        for entry in entries {
            let k = usize::from(top.is_some());
            if source_offset(&entry.parts) != Some(k) || (k == 1 && Some(&entry.parts[0]) != top.as_ref()) {
                continue;
            }
            let dir = &entry.parts[k + 1];
            let Some(i) = catalogue.iter().position(|e| e.dir == dir) else {
                continue;
            };
            // A later member with the same path replaces an earlier one, as
            // extracting the archive would.
            found[i].insert(entry.parts[k + 3..].join("/"), entry.data);
        }
    }
    Sources {
        exercises: catalogue
            .iter()
            .zip(found)
            .map(|(e, files)| finish(e, files))
            .collect(),
    }
}

/// Turns what was found for one exercise into its files, or the reason
/// it cannot be graded.
fn finish(e: &Exercise, files: BTreeMap<String, Result<Vec<u8>, String>>) -> Result<Files, String> {
    let main = format!("crates/{}/src/main.rs", e.dir);
    if !files.contains_key("main.rs") {
        return Err(format!("{main} is missing from the submission"));
    }
    if files.len() > MAX_FILES {
        return Err(format!(
            "crates/{}/src has {} source files; at most {MAX_FILES} are graded",
            e.dir,
            files.len()
        ));
    }
    let mut out = Vec::with_capacity(files.len());
    for (path, data) in files {
        let shown = format!("crates/{}/src/{path}", e.dir);
        let data = data.map_err(|why| format!("{shown}: {why}"))?;
        if std::str::from_utf8(&data).is_err() {
            return Err(format!("{shown} is not valid UTF-8 text"));
        }
        out.push((path, data));
    }
    Ok(out)
}

// ---- folders ----

/// Reads a folder submission: `crates/` at its top, or in the one
/// sub-folder that has it.
fn read_folder(path: &Path, catalogue: &[Exercise]) -> Sources {
    let root = if is_real_dir(&path.join("crates")) {
        path.to_path_buf()
    } else {
        let inner: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|d| d.path())
                    .filter(|p| {
                        p.file_name().is_some_and(|n| n != "__MACOSX") && is_real_dir(&p.join("crates"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        match inner.as_slice() {
            [one] if is_real_dir(one) => one.clone(),
            _ => path.to_path_buf(),
        }
    };
    Sources {
        exercises: catalogue
            .iter()
            .map(|e| {
                let src = root.join("crates").join(e.dir).join("src");
                let mut files = BTreeMap::new();
                walk(&src, &mut files);
                finish(e, files)
            })
            .collect(),
    }
}

/// A directory, not a link to one.
fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Collects the `.rs` files below `dir` without following links (walkdir
/// does not follow them by default, and reports a link as a link), at most
/// [`MAX_DEPTH`] folders deep and about [`MAX_FILES`] files.
fn walk(dir: &Path, out: &mut BTreeMap<String, Result<Vec<u8>, String>>) {
    if !is_real_dir(dir) {
        return;
    }
    let entries = walkdir::WalkDir::new(dir).min_depth(1).max_depth(MAX_DEPTH);
    for entry in entries.into_iter().filter_map(Result::ok) {
        if out.len() > MAX_FILES {
            return;
        }
        let is_rs = entry.file_name().to_string_lossy().ends_with(".rs");
        if entry.file_type().is_dir() || !is_rs {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let data = if entry.path_is_symlink() {
            Err("is a symbolic link, which grading does not follow".to_string())
        } else if !entry.file_type().is_file() {
            Err("is not a regular file".to_string())
        } else {
            read_capped_file(entry.path())
        };
        out.insert(rel.to_string_lossy().into_owned(), data);
    }
}

/// Reads a regular file without following a link, at most [`MAX_FILE`] bytes.
fn read_capped_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot be read: {e}"))?;
    read_capped(file)
}

/// Reads at most [`MAX_FILE`] bytes; more is an error.
fn read_capped(reader: impl Read) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    reader
        .take(MAX_FILE + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if data.len() as u64 > MAX_FILE {
        return Err(format!("is larger than {} KiB", MAX_FILE / 1024));
    }
    Ok(data)
}

// ---- archives ----

/// A member's path, split; a member named outside the archive refuses it.
fn member_parts(name: &[u8]) -> Result<Vec<String>, String> {
    let name = String::from_utf8_lossy(name);
    split(&name)
        .ok_or_else(|| format!("the archive has a member named {name:?}, outside the archive: refused"))
}

/// "the archive unpacks to more than 1024 MiB: refused".
fn too_big(limits: ArchiveLimits) -> String {
    format!(
        "the archive unpacks to more than {} MiB: refused",
        limits.bytes >> 20
    )
}

/// "the archive has more than 4096 members (leave out target/ and .git/): refused".
fn too_many(limits: ArchiveLimits) -> String {
    format!(
        "the archive has more than {} members (leave out target/ and .git/): refused",
        limits.members
    )
}

/// A reader that fails once `left` bytes have gone through it, and says
/// so in `spent` (shared, as the reader is moved into the tar parser).
struct Budget<R> {
    inner: R,
    left: u64,
    spent: Rc<Cell<bool>>,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            self.spent.set(true);
            return Err(std::io::Error::other("over the byte budget"));
        }
        let room = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..room])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// The candidate sources of a tar archive, gzipped or not, read as one
/// stream within the byte budget.
fn tar_entries(path: &Path, gzipped: bool, limits: ArchiveLimits) -> Result<Vec<Entry>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let stream: Box<dyn Read> = if gzipped {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let spent = Rc::new(Cell::new(false));
    let mut archive = tar::Archive::new(Budget {
        inner: stream,
        left: limits.bytes,
        spent: Rc::clone(&spent),
    });
    let failed = |e: std::io::Error| {
        if spent.get() {
            too_big(limits)
        } else {
            format!("cannot read the archive: {e}")
        }
    };
    let mut entries = Vec::new();
    let mut members = 0;
    for member in archive.entries().map_err(failed)? {
        let mut member = member.map_err(failed)?;
        members += 1;
        if members > limits.members {
            return Err(too_many(limits));
        }
        let parts = member_parts(&member.path_bytes())?;
        if source_offset(&parts).is_none() || entries.len() >= MAX_CANDIDATES {
            continue;
        }
        let kind = member.header().entry_type();
        let data = if kind.is_symlink() || kind.is_hard_link() {
            Err("is a link, which grading does not follow".to_string())
        } else if !kind.is_file() {
            Err("is not a regular file".to_string())
        } else {
            read_capped(&mut member).map_err(|why| if spent.get() { too_big(limits) } else { why })
        };
        if spent.get() {
            return Err(too_big(limits));
        }
        entries.push(Entry { parts, data });
    }
    Ok(entries)
}

/// The candidate sources of a zip archive, read by its central directory:
/// only those members are unpacked, within the byte budget.
fn zip_entries(path: &Path, limits: ArchiveLimits) -> Result<Vec<Entry>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if size > limits.bytes {
        return Err(format!(
            "the archive is larger than {} MiB: refused",
            limits.bytes >> 20
        ));
    }
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("cannot read the zip archive: {e}"))?;
    if archive.len() > limits.members {
        return Err(too_many(limits));
    }
    let mut left = limits.bytes;
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let member = archive
            .by_index_raw(i)
            .map_err(|e| format!("cannot read the zip archive: {e}"))?;
        let parts = member_parts(member.name_raw())?;
        if member.is_dir() || source_offset(&parts).is_none() || entries.len() >= MAX_CANDIDATES {
            continue;
        }
        drop(member);
        let mut member = archive
            .by_index(i)
            .map_err(|e| format!("cannot read the zip archive: {e}"))?;
        let data = if member.is_symlink() {
            Err("is a link, which grading does not follow".to_string())
        } else {
            let budget = left.min(MAX_FILE + 1);
            let data = read_capped((&mut member).take(budget));
            if let Ok(bytes) = &data {
                left -= bytes.len() as u64;
                if bytes.len() as u64 == budget && budget < MAX_FILE + 1 {
                    return Err(too_big(limits));
                }
            }
            data
        };
        entries.push(Entry { parts, data });
    }
    Ok(entries)
}

/// Where in `path` the workspace's `crates/` is, for tests.
#[cfg(test)]
fn offset_of(path: &str) -> Option<usize> {
    split(path).and_then(|p| source_offset(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_split_safely() {
        assert_eq!(split("a/./b//c.rs").unwrap(), ["a", "b", "c.rs"]);
        assert!(split("/etc/passwd").is_none());
        assert!(split("a/../../etc/x.rs").is_none());
        assert!(split("a\\b.rs").is_none());
        assert!(split("a/b\n.rs").is_none());
    }

    #[test]
    fn sources_are_found_at_the_top_or_one_folder_down() {
        assert_eq!(offset_of("crates/01-selfpipe/src/main.rs"), Some(0));
        assert_eq!(offset_of("repo/crates/01-selfpipe/src/main.rs"), Some(1));
        assert_eq!(offset_of("a/b/crates/01-selfpipe/src/main.rs"), None);
        assert_eq!(offset_of("crates/01-selfpipe/Cargo.toml"), None);
        assert_eq!(offset_of("crates/01-selfpipe/build.rs"), None);
        assert_eq!(offset_of("__MACOSX/crates/01-selfpipe/src/main.rs"), None);
        assert_eq!(offset_of("crates/01-selfpipe/src/._main.rs"), None);
    }

    #[test]
    fn names_lose_their_extension_and_slashes() {
        assert_eq!(sanitize("alice"), "alice");
        assert_eq!(sanitize(""), "submission");
        assert_eq!(sanitize(".."), "submission");
        assert_eq!(sanitize("a\nb"), "a_b");
    }

    #[test]
    fn folders_are_read_without_following_links() {
        let dir = std::env::temp_dir().join(format!("ipc-lab-submission-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ex = &checks::catalogue()[..3];
        let src = |e: &Exercise| dir.join("repo/crates").join(e.dir).join("src");
        std::fs::create_dir_all(src(&ex[0]).join("util")).unwrap();
        std::fs::write(src(&ex[0]).join("main.rs"), "fn main() {}").unwrap();
        std::fs::write(src(&ex[0]).join("util/mod.rs"), "// helper").unwrap();
        std::fs::write(src(&ex[0]).join("notes.txt"), "not a source").unwrap();
        std::fs::create_dir_all(src(&ex[1])).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src(&ex[1]).join("main.rs")).unwrap();
        std::fs::create_dir_all(src(&ex[2]).parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/etc", src(&ex[2])).unwrap();
        // One folder down, as an unpacked download of a repository is.
        let sources = read_folder(&dir, ex);
        let files = sources.exercises[0].as_ref().unwrap();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["main.rs", "util/mod.rs"]);
        let link = sources.exercises[1].as_ref().unwrap_err();
        assert!(link.contains("symbolic link"), "{link}");
        let dir_link = sources.exercises[2].as_ref().unwrap_err();
        assert!(dir_link.contains("missing"), "{dir_link}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn select_prefers_the_top_and_reports_missing_files() {
        let ex = &checks::catalogue()[..2];
        let entry = |p: &str, d: &str| Entry {
            parts: split(p).unwrap(),
            data: Ok(d.as_bytes().to_vec()),
        };
        let sources = select(
            vec![
                entry(&format!("top/crates/{}/src/main.rs", ex[0].dir), "fn main() {}"),
                entry(&format!("top/crates/{}/src/util/mod.rs", ex[0].dir), "//"),
            ],
            ex,
        );
        let files = sources.exercises[0].as_ref().unwrap();
        assert_eq!(
            files.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["main.rs", "util/mod.rs"]
        );
        let missing = sources.exercises[1].as_ref().unwrap_err();
        assert!(missing.contains("main.rs is missing"), "{missing}");
    }
}
