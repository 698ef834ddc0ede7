//! Builds exercise programs with cargo and says, per exercise, where its
//! binary is or why it did not compile.
//!
//! One `cargo build --keep-going` builds every requested package, so a
//! compile error in one exercise still lets the others be checked. Cargo's
//! JSON messages give each binary's path (whatever the target directory) and
//! each error's rendered text, which becomes that exercise's explanation.
//!
//! The messages are read as `serde_json::Value`s, field by field, rather
//! than through serde's derive macros: every student compiles this crate
//! before their first check, and the derive would add `syn` and two
//! procedural-macro crates, about a third of that cold build.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a build produced, per package name.
#[derive(Debug, Default)]
pub struct Built {
    /// The executable of each package that compiled.
    pub binaries: BTreeMap<String, PathBuf>,
    /// The first compiler error of each package that did not.
    pub errors: BTreeMap<String, String>,
    /// The last lines cargo wrote to its stderr: the explanation when cargo
    /// failed before compiling anything (a broken manifest, say).
    pub cargo_stderr: String,
}

impl Built {
    /// The binary of `package`, or why there is none.
    pub fn binary(&self, package: &str) -> Result<&Path, String> {
        if let Some(path) = self.binaries.get(package) {
            return Ok(path);
        }
        Err(self.errors.get(package).cloned().unwrap_or_else(|| {
            if self.cargo_stderr.is_empty() {
                format!("{package} was not built (cargo gave no error message)")
            } else {
                format!("{package} was not built; cargo said:\n{}", self.cargo_stderr)
            }
        }))
    }
}

/// How to run cargo.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Let cargo's progress lines ("Compiling …") through to our stderr.
    pub show_progress: bool,
    /// A target directory other than the workspace's own.
    pub target_dir: Option<PathBuf>,
}

/// One of rustc's diagnostics, from its JSON form (`--error-format=json`,
/// alone or inside cargo's `compiler-message`): the one reader of them, for
/// the checker's builds and the grader's.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// `error`, `warning`, `note`…
    pub level: String,
    /// The message's first line, without its place.
    pub message: String,
    /// The whole text as rustc prints it.
    pub rendered: Option<String>,
    /// The places it points at.
    pub spans: Vec<Span>,
}

/// A place a diagnostic points at.
#[derive(Debug, Clone)]
pub struct Span {
    /// The file, as rustc was given it (after `--remap-path-prefix`).
    pub file_name: String,
    /// Whether this is where the problem is (not a note about it).
    pub is_primary: bool,
}

impl Diagnostic {
    /// The diagnostic on one line of rustc's JSON output (`None` for other
    /// lines, such as an artifact notice).
    pub fn from_rustc_json(line: &str) -> Option<Diagnostic> {
        let value: Value = serde_json::from_str(line).ok()?;
        if value["$message_type"] != "diagnostic" {
            return None;
        }
        Diagnostic::from_value(&value)
    }

    /// The diagnostic in one JSON object (`None` when it has no level).
    fn from_value(v: &Value) -> Option<Diagnostic> {
        let text = |key: &str| v[key].as_str().map(str::to_string);
        let spans = v["spans"].as_array().map_or_else(Vec::new, |spans| {
            spans
                .iter()
                .map(|s| Span {
                    file_name: s["file_name"].as_str().unwrap_or_default().to_string(),
                    is_primary: s["is_primary"].as_bool().unwrap_or(false),
                })
                .collect()
        });
        Some(Diagnostic {
            level: text("level")?,
            message: text("message").unwrap_or_default(),
            rendered: text("rendered"),
            spans,
        })
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.level.starts_with("error")
    }

    /// The files its primary spans are in: where a compile error is. An
    /// error with none ("linking with `cc` failed", "aborting due to 2
    /// previous errors") is not in the sources.
    pub fn primary_files(&self) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .filter(|s| s.is_primary)
            .map(|s| s.file_name.as_str())
    }

    /// Whether it only counts the others ("warning: 3 warnings emitted"):
    /// no place, and a message ending in "emitted".
    pub fn is_summary(&self) -> bool {
        self.spans.is_empty() && self.message.ends_with("emitted")
    }

    /// Its text as rustc prints it, without the final newline.
    pub fn text(&self) -> &str {
        self.rendered.as_deref().unwrap_or(&self.message).trim_end()
    }
}

/// How many of cargo's last stderr lines are kept.
const STDERR_TAIL: usize = 20;

/// The cargo that runs us (`$CARGO`), or the one on `PATH`.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// Builds the binaries of `packages` in the workspace at `root`.
///
/// `Err` means cargo itself could not run; a compile error is not an `Err`
/// but an entry in [`Built::errors`].
pub fn build(root: &Path, packages: &[&str], options: &BuildOptions) -> io::Result<Built> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root)
        .args(["build", "--keep-going", "--bins", "--message-format=json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = &options.target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run cargo: {e}")))?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let stderr = child.stderr.take().expect("stderr was piped");
    // Cargo's stderr is read on its own thread, so neither pipe can fill up
    // and stall cargo while we read the other.
    let show = options.show_progress;
    let stderr_tail = std::thread::spawn(move || {
        let mut tail: Vec<String> = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if show {
                eprintln!("{line}");
            }
            if tail.len() == STDERR_TAIL {
                tail.remove(0);
            }
            tail.push(line);
        }
        tail.join("\n")
    });
    let mut built = Built::default();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        match CargoMessage::parse(&line) {
            Some(CargoMessage::Binary { target, executable }) => {
                built.binaries.insert(target, executable);
            }
            Some(CargoMessage::Compiler { target, diagnostic })
                if diagnostic.is_error() && !built.errors.contains_key(&target) =>
            {
                built.errors.insert(target, diagnostic.text().to_string());
            }
            _ => {}
        }
    }
    child.wait()?;
    built.cargo_stderr = stderr_tail.join().unwrap_or_default();
    Ok(built)
}

/// One of cargo's `--message-format=json` lines that we use: the one
/// reader of them, for the checker's builds, `verify` and `bench`.
#[derive(Debug, Clone)]
pub enum CargoMessage {
    /// A binary target was built (`compiler-artifact` of kind `bin`).
    Binary {
        /// The target's name: the package's, for our exercises.
        target: String,
        /// Where its executable is, whatever the target directory.
        executable: PathBuf,
    },
    /// The compiler said something about a target (`compiler-message`).
    Compiler {
        /// The target's name.
        target: String,
        /// What it said.
        diagnostic: Diagnostic,
    },
}

impl CargoMessage {
    /// The message on one line of cargo's output (`None` for the others:
    /// libraries built, build scripts run, the final `build-finished`, or a
    /// line that is not JSON).
    pub fn parse(line: &str) -> Option<CargoMessage> {
        let msg: Value = serde_json::from_str(line).ok()?;
        let target = msg["target"]["name"].as_str()?.to_string();
        match msg["reason"].as_str()? {
            "compiler-artifact" if is_bin(&msg["target"]) => Some(CargoMessage::Binary {
                target,
                executable: PathBuf::from(msg["executable"].as_str()?),
            }),
            "compiler-message" => Some(CargoMessage::Compiler {
                target,
                diagnostic: Diagnostic::from_value(&msg["message"])?,
            }),
            _ => None,
        }
    }
}

/// Whether a cargo target is a binary (its `kind` lists `bin`).
fn is_bin(target: &Value) -> bool {
    target["kind"]
        .as_array()
        .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_messages_are_read_field_by_field() {
        let artifact = r#"{"reason":"compiler-artifact","target":{"name":"childpipe","kind":["bin"]},"executable":"/t/debug/childpipe"}"#;
        let Some(CargoMessage::Binary { target, executable }) = CargoMessage::parse(artifact) else {
            panic!("not a binary")
        };
        assert_eq!(
            (target.as_str(), executable),
            ("childpipe", PathBuf::from("/t/debug/childpipe"))
        );
        let library = artifact.replace(r#"["bin"]"#, r#"["lib"]"#);
        assert!(
            CargoMessage::parse(&library).is_none(),
            "a library is not a binary"
        );
        let error = r#"{"reason":"compiler-message","target":{"name":"selfpipe","kind":["bin"]},"message":{"level":"error","message":"expected `;`","rendered":"error: expected `;`\n --> src/main.rs:3:5\n","spans":[{"file_name":"src/main.rs","is_primary":true}]}}"#;
        let Some(CargoMessage::Compiler { target, diagnostic }) = CargoMessage::parse(error) else {
            panic!("not a compiler message")
        };
        assert_eq!(target, "selfpipe");
        assert!(diagnostic.is_error() && !diagnostic.is_summary());
        assert_eq!(diagnostic.text(), "error: expected `;`\n --> src/main.rs:3:5");
        assert_eq!(diagnostic.primary_files().collect::<Vec<_>>(), ["src/main.rs"]);
        assert!(CargoMessage::parse(r#"{"reason":"build-finished","success":true}"#).is_none());
        assert!(CargoMessage::parse("Compiling selfpipe").is_none());
    }

    #[test]
    fn rustc_diagnostics_and_their_summaries() {
        let summary = r#"{"$message_type":"diagnostic","level":"warning","message":"2 warnings emitted","spans":[],"rendered":"warning: 2 warnings emitted\n"}"#;
        let d = Diagnostic::from_rustc_json(summary).expect("a diagnostic");
        assert!(d.is_summary() && !d.is_error());
        let notice = r#"{"$message_type":"artifact","artifact":"x.rmeta","emit":"metadata"}"#;
        assert!(Diagnostic::from_rustc_json(notice).is_none());
    }
}
