//! Builds exercise programs with cargo and says, per exercise, where its
//! binary is or why it did not compile.
//!
//! One `cargo build --keep-going` builds every requested package, so a
//! compile error in one exercise still lets the others be checked. Cargo's
//! JSON messages give each binary's path (whatever the target directory) and
//! each error's rendered text, which becomes that exercise's explanation.

use serde::Deserialize;
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

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    message: Option<Diagnostic>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// One of rustc's diagnostics, from its JSON form (`--error-format=json`,
/// alone or inside cargo's `compiler-message`): the one reader of them, for
/// the checker's builds and the grader's.
#[derive(Debug, Clone, Deserialize)]
pub struct Diagnostic {
    /// `error`, `warning`, `note`…
    pub level: String,
    /// The message's first line, without its place.
    #[serde(default)]
    pub message: String,
    /// The whole text as rustc prints it.
    #[serde(default)]
    pub rendered: Option<String>,
    /// The places it points at.
    #[serde(default)]
    pub spans: Vec<Span>,
}

/// A place a diagnostic points at.
#[derive(Debug, Clone, Deserialize)]
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
        #[derive(Deserialize)]
        struct Tagged {
            #[serde(rename = "$message_type")]
            kind: String,
            #[serde(flatten)]
            diagnostic: Diagnostic,
        }
        let tagged: Tagged = serde_json::from_str(line).ok()?;
        (tagged.kind == "diagnostic").then_some(tagged.diagnostic)
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
        let Ok(msg) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        let Some(target) = msg.target else { continue };
        match msg.reason.as_str() {
            "compiler-artifact" if target.kind.iter().any(|k| k == "bin") => {
                if let Some(exe) = msg.executable {
                    built.binaries.insert(target.name, exe);
                }
            }
            "compiler-message" => {
                let Some(d) = msg.message else { continue };
                if d.is_error() && !built.errors.contains_key(&target.name) {
                    built.errors.insert(target.name, d.text().to_string());
                }
            }
            _ => {}
        }
    }
    child.wait()?;
    built.cargo_stderr = stderr_tail.join().unwrap_or_default();
    Ok(built)
}
