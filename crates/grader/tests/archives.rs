//! Hostile archives handed in as submissions: each is refused (or the
//! exercise it touches fails) with a one-line reason, and reading one
//! writes nothing and starts no process.
//!
//! The archives are made here, in memory, with the same crates the grader
//! reads them with (`tar` and `flate2`, `zip`); where a crate refuses to
//! write something hostile (a `..` in a tar path), the header is written
//! by hand.

use grader::Submission;
use grader::submission::{ArchiveLimits, Sources, read, read_with};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAIN: &str = "fn main() {}\n";

/// A scratch folder with one archive in it, removed at the end.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("ipc-lab-archives-")
                .tempdir()
                .unwrap(),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The names in the folder: reading must add none.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// A tar header for a regular file `name` of `size` bytes, with the name
/// written as given (no checks), and its checksum.
fn raw_header(name: &[u8], size: u64, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(kind);
    header.set_cksum();
    header
}

/// A `.tar.gz` of `members`: (name, bytes) of regular files.
fn tar_gz(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, data) in members {
        builder
            .append(
                &raw_header(name.as_bytes(), data.len() as u64, tar::EntryType::Regular),
                *data,
            )
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// A `.zip` of `members`: (name, bytes).
fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, data) in members {
        z.start_file(*name, options).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn submission(path: &Path) -> Submission {
    Submission::from_path(path).unwrap()
}

/// Reads `path` and returns the reason it was refused, checking that the
/// reason is one line and that nothing was written beside it.
fn refused(scratch: &Scratch, path: &Path, limits: ArchiveLimits) -> String {
    let before = scratch.names();
    let why =
        read_with(&submission(path), checks::catalogue(), limits).expect_err("the archive was accepted");
    assert_eq!(scratch.names(), before, "reading wrote files");
    assert!(!why.contains('\n'), "not one line: {why}");
    why
}

/// Exercise 01's outcome in `sources`.
fn first(sources: &Sources) -> &Result<Vec<(String, Vec<u8>)>, String> {
    &sources.exercises[0]
}

#[test]
fn a_gzip_bomb_is_refused() {
    let scratch = Scratch::new();
    // 8 MiB of zeros squeeze into a few KiB; the budget here is 1 MiB.
    let zeros = vec![0u8; 8 << 20];
    let bytes = tar_gz(&[
        ("repo/target/debug/big", &zeros),
        ("repo/crates/01-selfpipe/src/main.rs", MAIN.as_bytes()),
    ]);
    assert!(bytes.len() < 64 << 10, "{} bytes", bytes.len());
    let path = scratch.write("bomb.tar.gz", &bytes);
    let limits = ArchiveLimits {
        bytes: 1 << 20,
        members: 4096,
    };
    let why = refused(&scratch, &path, limits);
    assert_eq!(why, "the archive unpacks to more than 1 MiB: refused");
    // Within the default budget the same archive reads.
    let sources = read(&submission(&path), checks::catalogue()).unwrap();
    assert!(first(&sources).is_ok(), "{:?}", first(&sources));
}

#[test]
fn a_zip_with_ten_thousand_members_is_refused() {
    let scratch = Scratch::new();
    let names: Vec<String> = (0..10_000).map(|i| format!("repo/target/f{i}")).collect();
    let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let path = scratch.write("many.zip", &zip(&members));
    let why = refused(&scratch, &path, ArchiveLimits::default());
    assert_eq!(
        why,
        "the archive has more than 4096 members (leave out target/ and .git/): refused"
    );
}

#[test]
fn a_tar_with_ten_thousand_members_is_refused() {
    let scratch = Scratch::new();
    let names: Vec<String> = (0..10_000).map(|i| format!("repo/target/f{i}")).collect();
    let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let path = scratch.write("many.tar.gz", &tar_gz(&members));
    let why = refused(&scratch, &path, ArchiveLimits::default());
    assert!(why.starts_with("the archive has more than 4096 members"), "{why}");
}

#[test]
fn names_outside_the_archive_are_refused() {
    let scratch = Scratch::new();
    for (i, name) in ["../../etc/cron.d/x.rs", "/etc/passwd", "repo/crates/../../x.rs"]
        .iter()
        .enumerate()
    {
        let members: [(&str, &[u8]); 2] = [
            ("repo/crates/01-selfpipe/src/main.rs", MAIN.as_bytes()),
            (name, b"x"),
        ];
        for (form, bytes) in [("tar.gz", tar_gz(&members)), ("zip", zip(&members))] {
            let path = scratch.write(&format!("evil{i}.{form}"), &bytes);
            let why = refused(&scratch, &path, ArchiveLimits::default());
            assert!(
                why.starts_with("the archive has a member named ")
                    && why.ends_with(", outside the archive: refused"),
                "{form} {name}: {why}"
            );
        }
    }
}

#[test]
fn a_link_in_place_of_a_source_is_not_followed() {
    let scratch = Scratch::new();
    // tar: a symbolic link named like exercise 01's main.rs, to /etc/shadow.
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut link = raw_header(b"repo/crates/01-selfpipe/src/main.rs", 0, tar::EntryType::Symlink);
    link.set_link_name("/etc/shadow").unwrap();
    link.set_cksum();
    builder.append(&link, std::io::empty()).unwrap();
    builder
        .append(
            &raw_header(
                b"repo/crates/02-childpipe/src/main.rs",
                MAIN.len() as u64,
                tar::EntryType::Regular,
            ),
            MAIN.as_bytes(),
        )
        .unwrap();
    let path = scratch.write("link.tar.gz", &builder.into_inner().unwrap().finish().unwrap());
    let sources = read(&submission(&path), checks::catalogue()).unwrap();
    let why = first(&sources).as_ref().expect_err("a link was read");
    assert_eq!(
        why,
        "crates/01-selfpipe/src/main.rs: is a link, which grading does not follow"
    );
    assert!(sources.exercises[1].is_ok());

    // zip: the same, as a zip's symbolic link.
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.add_symlink(
        "repo/crates/01-selfpipe/src/main.rs",
        "/etc/shadow",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    let path = scratch.write("link.zip", &z.finish().unwrap().into_inner());
    let sources = read(&submission(&path), checks::catalogue()).unwrap();
    let why = first(&sources).as_ref().expect_err("a link was read");
    assert!(why.ends_with("is a link, which grading does not follow"), "{why}");
}

#[test]
fn a_member_larger_than_the_budget_is_refused() {
    let scratch = Scratch::new();
    let limits = ArchiveLimits {
        bytes: 1 << 20,
        members: 4096,
    };
    let big = vec![b'/'; 2 << 20];
    let members: [(&str, &[u8]); 1] = [("repo/crates/01-selfpipe/src/main.rs", &big)];
    for form in ["tar.gz", "zip"] {
        let bytes = if form == "zip" {
            zip(&members)
        } else {
            tar_gz(&members)
        };
        let path = scratch.write(&format!("big.{form}"), &bytes);
        let why = refused(&scratch, &path, limits);
        assert_eq!(why, "the archive unpacks to more than 1 MiB: refused", "{form}");
        // Within the default budget, it is the exercise that fails: a
        // source file of more than 1 MiB is not graded.
        let sources = read(&submission(&path), checks::catalogue()).unwrap();
        let why = first(&sources).as_ref().expect_err("a 2 MiB source was taken");
        assert_eq!(
            why, "crates/01-selfpipe/src/main.rs: is larger than 1024 KiB",
            "{form}"
        );
    }
}

#[test]
fn reading_an_archive_starts_no_process() {
    // Structural: the reader of submissions runs no program at all (it used
    // to run gzip and one unzip per member).
    let source = include_str!("../src/submission.rs");
    assert!(
        !source.contains("process::Command"),
        "submission.rs runs a program"
    );
    assert!(!source.contains("Command::new"), "submission.rs runs a program");
}
