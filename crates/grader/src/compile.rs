//! Compiling untrusted exercise sources: plain `rustc`, in the sandbox, as
//! a user of the run's own, against dependencies built once.
//!
//! Code runs at compile time too: `include_bytes!("/etc/shadow")` reads a
//! file while the compiler runs. So a submission's compiler runs like its
//! program: in [`sandbox::run`], with limits, and — when we are root — as a
//! uid of its own from the sandbox's pool, which must not read what the
//! grader's account can, in a mount namespace that shows it only the
//! system, the toolchain, the dependencies and this submission's folder
//! (read-only), and its output folder. Two things the compiler needs are
//! out of another user's reach on a usual machine: the toolchain (rustup
//! keeps it in `/root/.rustup`, and `/root` is private) and the compiled
//! dependencies (in the reference's `target/`). So a per-machine cache
//! (`/var/tmp/ipc-lab-grade-<uid>`, or `$IPC_LAB_GRADE_CACHE`) holds:
//!
//! ```text
//! <cache>/                 0711, ours
//!   toolchain-<commit>/    hard links to the toolchain's bin/ and lib/ (world-readable)
//!   deps-<hash>/           copies of the rlibs of libc and syscalls (world-readable)
//!   work/                  0711: one folder per submission being graded, with
//!                          its sources (read-only for the compiler) and one
//!                          output folder per exercise (the compile run's)
//!   private/               0700, no run's business:
//!     target/              the trusted build of the reference, by cargo
//!     records/             the exact rustc command line cargo used per crate
//!     bins/<hash>/         compiled submissions, by hash of source and flags
//!     bins/m-<hash>/       merged builds, by the hashes of their members: the
//!                          program, linked under each member's name
//! ```
//!
//! **The same flags as cargo.** Cargo builds the reference's exercises once,
//! through a `RUSTC_WRAPPER` that records each rustc command line and
//! environment (NUL-separated, so nothing needs unquoting). A submission's
//! exercise compiles with that command line, with its paths moved: the
//! source into the submission's folder, `--extern`/`-L` into `deps-*`,
//! output with `-o`, and `--remap-path-prefix` so messages say
//! `crates/01-selfpipe/src/main.rs` as cargo's would. Profile settings,
//! lints (`deny(unsafe_op_in_unsafe_fn)`), `CARGO_PKG_*` all carry over.
//! Three flags change what the build costs, not what the program does:
//! the standard library's debug info is stripped (the sandbox links or
//! copies each program once per check), so none is generated either; and
//! an optimized build uses one codegen unit, a third less CPU time in all.
//!
//! **Compiled once.** A compiled exercise is kept under the hash of its
//! sources and flags (and compared byte for byte on a hit, so a hash
//! collision cannot hand one student another's program). Unchanged stubs
//! and identical submissions compile once per machine. Compile errors are
//! kept too; failures of the compiler itself (a timeout) are not.
//!
//! **Compiled together.** The exercises with the same flags (one group per
//! opt-level) compile first as one crate ([`super::merge`]): one rustc run
//! instead of a dozen, most of whose time is the same start-up and linking.
//! Each member runs that program under its own name; it is not the
//! member's own cache entry, as the program holds the other members' code
//! too (a submission with the same file for one exercise must not get
//! another's statics or start-up code). When the
//! merged build fails, the members its errors are in compile alone as
//! above, so an error is told exactly as for that exercise alone, and the
//! others merge again; an error no member holds (a clash in the merged
//! root, a linker's) sends every member alone.

use super::submission::Files;
use anyhow::{Context, bail};
use checks::Exercise;
use checks::build::Diagnostic;
use sandbox::{Limits, Spec, Status};
use std::collections::HashMap;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The longest one exercise may take to compile.
pub const COMPILE_TIMEOUT: Duration = Duration::from_secs(60);

/// Records rustc's arguments and environment, then runs it. Cargo calls it
/// as `wrapper /path/to/rustc ARGS…`.
const WRAPPER: &str = r#"#!/bin/sh
# Written by `cargo xtask grade`: records how cargo runs rustc, then runs it.
name=""; prev=""
for a in "$@"; do
  if [ "$prev" = "--crate-name" ]; then name="$a"; fi
  prev="$a"
done
if [ -n "$name" ] && [ -n "$IPC_LAB_RECORD" ]; then
  printf '%s\0' "$@" > "$IPC_LAB_RECORD/$name.args.tmp" && mv "$IPC_LAB_RECORD/$name.args.tmp" "$IPC_LAB_RECORD/$name.args"
  env -0 > "$IPC_LAB_RECORD/$name.env.tmp" && mv "$IPC_LAB_RECORD/$name.env.tmp" "$IPC_LAB_RECORD/$name.env"
fi
exec "$@"
"#;

/// What compiling one exercise (or a merged group) gave. Every variant but
/// `Binary` scores the exercise 0; they differ in what the grader does
/// next, decided on the variant, never on its text.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// The program, in the private cache.
    Binary(PathBuf),
    /// The sources do not compile: the first compiler error, which the same
    /// sources give again (so it is kept in the cache).
    CompileError(String),
    /// A merged build failed, with errors in these members' folders
    /// (`crates/<dir>`); none when no member can be told (a clash in the
    /// merged root, a linker's): then every member compiles alone.
    MergeFailed(Vec<String>),
    /// The compiler, the linker or the grader failed, not the sources (a
    /// timeout, the machine out of processes for a moment, a file that
    /// could not be written): not kept, so the next grading tries again.
    Failed(String),
}

/// How cargo compiles one exercise, with the paths that change per
/// submission left out.
#[derive(Debug, Clone)]
struct Invocation {
    /// rustc's arguments, without the source file.
    args: Vec<String>,
    /// Where the source file goes among them.
    source_at: usize,
    /// The `CARGO_*` variables cargo sets (manifest paths are redone per submission).
    env: Vec<(String, String)>,
    /// The executable's name (`fork-process`).
    bin: String,
}

/// The compiler, the dependencies and the caches, ready to compile
/// submissions.
pub struct Toolchain {
    /// `env`, which the sandbox runs: it sets cargo's variables and execs
    /// rustc from its own place (rustc finds its libraries next to itself,
    /// so it cannot be copied into the sandbox's folder as a program is).
    env_program: PathBuf,
    rustc: PathBuf,
    work: PathBuf,
    bins: PathBuf,
    /// What a compile run may read besides its submission's folder: the
    /// toolchain's copy and the dependencies (empty when not root: then no
    /// namespace hides the rest).
    shown: Vec<PathBuf>,
    invocations: HashMap<&'static str, Invocation>,
    /// Compiles under way or done in this run, so two submissions with the
    /// same sources compile once even at the same moment.
    inflight: Mutex<HashMap<String, Arc<OnceLock<Compiled>>>>,
}

/// A folder per submission under `work/`.
pub struct WorkDir {
    pub path: PathBuf,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn euid() -> u32 {
    fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// The grading cache: `$IPC_LAB_GRADE_CACHE`, or one per user in `/var/tmp`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("IPC_LAB_GRADE_CACHE")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || PathBuf::from(format!("/var/tmp/ipc-lab-grade-{}", euid())),
            PathBuf::from,
        )
}

/// Creates `dir` (and its parents) if needed, checks it is a real folder
/// of ours, and gives it `mode`.
fn own_dir(dir: &Path, mode: u32) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let meta = fs::symlink_metadata(dir).with_context(|| dir.display().to_string())?;
    if !meta.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    if meta.uid() != euid() {
        bail!(
            "{} belongs to another user: remove it, or set IPC_LAB_GRADE_CACHE to another folder",
            dir.display()
        );
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).with_context(|| dir.display().to_string())
}

/// Every folder from `/` down to `dir` lets others through, so a compile
/// run's user can reach the toolchain and the dependencies in it (where no
/// mount namespace shows them to it directly).
fn reachable_by_others(dir: &Path) -> anyhow::Result<()> {
    let mut path = PathBuf::new();
    for part in dir.components() {
        path.push(part);
        let mode = fs::metadata(&path)
            .with_context(|| path.display().to_string())?
            .mode();
        if mode & 0o001 == 0 {
            bail!(
                "the grading cache {} is out of reach of other users ({} is not o+x); \
                 set IPC_LAB_GRADE_CACHE to a folder under /var/tmp",
                dir.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Runs a command and returns its standard output, or its standard error as the reason.
fn output(cmd: &mut Command, what: &str) -> anyhow::Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            tail(&String::from_utf8_lossy(&out.stderr), 20)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A 128-bit name for `bytes` (two SipHashes); collisions are caught by
/// comparing the stored key, so this needs to be well spread, not secret.
fn hash_name(bytes: &[u8]) -> String {
    let half = |seed: u8| {
        let mut h = DefaultHasher::new();
        seed.hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

impl Toolchain {
    /// Gets everything ready: the toolchain where a run's user can run it, the
    /// dependencies built (once per machine; a no-op cargo run after that)
    /// and cargo's command lines recorded.
    pub fn prepare(
        root: &Path,
        cache: &Path,
        catalogue: &'static [Exercise],
        on_step: &dyn Fn(&str),
    ) -> anyhow::Result<Toolchain> {
        own_dir(cache, 0o711)?;
        let as_root = euid() == 0;
        // A compile run's user reaches the cache through its folders, unless
        // a mount namespace shows it the cache's parts directly (then the
        // cache may sit anywhere, even under a private /root).
        if as_root && !sandbox::shows_only_what_it_is_shown() {
            reachable_by_others(cache)?;
        }
        let private = cache.join("private");
        own_dir(&private, 0o700)?;
        let work = cache.join("work");
        own_dir(&work, 0o711)?;
        crate::stale::sweep(&work, crate::stale::work_folder_pid);
        let bins = private.join("bins");
        own_dir(&bins, 0o700)?;

        on_step("finding the toolchain");
        let version = output(Command::new("rustc").arg("-vV").current_dir(root), "rustc -vV")?;
        let commit = version
            .lines()
            .find_map(|l| l.strip_prefix("commit-hash: "))
            .unwrap_or("unknown")
            .chars()
            .take(12)
            .collect::<String>();
        let sysroot = PathBuf::from(
            output(
                Command::new("rustc")
                    .args(["--print", "sysroot"])
                    .current_dir(root),
                "rustc --print sysroot",
            )?
            .trim(),
        );
        let toolchain = if as_root {
            link_toolchain(cache, &sysroot, &commit)?
        } else {
            sysroot.clone()
        };
        let rustc = toolchain.join("bin").join("rustc");

        on_step("building the dependencies once (cargo)");
        let target = private.join("target");
        let records = private.join("records");
        own_dir(&records, 0o700)?;
        let wrapper = private.join("record-rustc.sh");
        if fs::read_to_string(&wrapper).ok().as_deref() != Some(WRAPPER) {
            fs::write(&wrapper, WRAPPER).context("cannot write the rustc recorder")?;
        }
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o700)).context("rustc recorder")?;
        let cargo_build = |packages: &[&str]| -> anyhow::Result<()> {
            let mut cmd = Command::new(checks::build::cargo());
            cmd.current_dir(root)
                .args(["build", "--bins", "--quiet", "--target-dir"])
                .arg(&target)
                .env("RUSTC_WRAPPER", &wrapper)
                .env("IPC_LAB_RECORD", &records)
                .env_remove("CARGO_TARGET_DIR");
            for p in packages {
                cmd.args(["-p", p]);
            }
            output(&mut cmd, "cargo build (the reference's exercises)").map(drop)
        };
        let names: Vec<&str> = catalogue.iter().map(|e| e.name).collect();
        cargo_build(&names)?;
        // A record is missing when cargo found the build fresh and our
        // records were lost: make cargo compile those again.
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !records.join(format!("{}.args", crate_name(n))).exists())
            .collect();
        if !missing.is_empty() {
            let mut clean = Command::new(checks::build::cargo());
            clean
                .current_dir(root)
                .args(["clean", "--quiet", "--target-dir"])
                .arg(&target);
            for p in &missing {
                clean.args(["-p", p]);
            }
            output(&mut clean, "cargo clean")?;
            cargo_build(&missing)?;
        }

        let private_deps = target.join("debug").join("deps");
        let deps = publish_deps(cache, &private_deps)?;
        let mut invocations = HashMap::new();
        for e in catalogue {
            let inv = Invocation::load(&records, e, &private_deps, &deps)?;
            invocations.insert(e.name, inv);
        }
        let env_program = ["/usr/bin/env", "/bin/env"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .context("cannot find the `env` program (/usr/bin/env)")?;
        let shown = if as_root {
            vec![toolchain, deps]
        } else {
            Vec::new()
        };
        Ok(Toolchain {
            env_program,
            rustc,
            work,
            bins,
            shown,
            invocations,
            inflight: Mutex::new(HashMap::new()),
        })
    }

    /// Whether cargo builds `e` with optimisations (it then takes longer).
    pub fn optimized(&self, e: &Exercise) -> bool {
        self.invocations.get(e.name).is_some_and(|inv| {
            inv.args
                .iter()
                .any(|a| a.starts_with("opt-level=") && a != "opt-level=0")
        })
    }

    /// A fresh folder for one submission's sources and outputs.
    pub fn work_dir(&self, name: &str) -> anyhow::Result<WorkDir> {
        static N: AtomicU64 = AtomicU64::new(0);
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let path = self.work.join(format!(
            "w{}-{}-{safe}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).with_context(|| format!("cannot create {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).context("work folder")?;
        Ok(WorkDir { path })
    }

    /// Compiles one exercise of a submission (or finds it compiled).
    pub fn compile(&self, e: &Exercise, work: &Path, files: &Files, timeout: Duration) -> Compiled {
        let Some(inv) = self.invocations.get(e.name) else {
            return Compiled::Failed(format!("the grader has no build recipe for {}", e.name));
        };
        let key = self.key(inv, files);
        let name = hash_name(&key);
        let cell = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(inflight.entry(name.clone()).or_default())
        };
        let built = cell.get_or_init(|| {
            if let Some(hit) = self.cached(&name, &key, &inv.bin) {
                return hit;
            }
            self.compile_now(e, inv, work, files, timeout, &name, &key)
        });
        built.clone()
    }

    /// Which merged build `e` may join: exercises with the same flags but
    /// their names (so one per opt-level) share one. `None`: compile alone.
    pub fn merge_group(&self, e: &Exercise) -> Option<String> {
        let inv = self.invocations.get(e.name)?;
        let mut args = inv.args.iter();
        let mut flags = Vec::new();
        while let Some(a) = args.next() {
            flags.push(a.as_str());
            if a == "--crate-name" {
                args.next();
            }
        }
        let flags: Vec<&str> = flags
            .into_iter()
            .filter(|a| !a.starts_with("metadata="))
            .collect();
        Some(hash_name(flags.join("\0").as_bytes()))
    }

    /// Compiles exercises of one submission that share a
    /// [`merge_group`](Self::merge_group) as one crate (see
    /// [`merge`](super::merge)), each getting that program under its own
    /// name. Per exercise: its program or error (found compiled, or built
    /// merged), or `None` for one to compile alone with
    /// [`compile`](Self::compile) — a file that cannot be a module, or all
    /// of them when the merged build fails (so a compile error is told as
    /// the exercise's own, and the others still compile).
    pub fn compile_group(
        &self,
        members: &[(&Exercise, &Files)],
        work: &Path,
        timeout: Duration,
    ) -> Vec<Option<Compiled>> {
        let mut results: Vec<Option<Compiled>> = vec![None; members.len()];
        // (member index, module source, per-exercise cache key)
        let mut merging = Vec::new();
        for (i, (e, files)) in members.iter().enumerate() {
            let Some(inv) = self.invocations.get(e.name) else {
                continue;
            };
            let key = self.key(inv, files);
            let name = hash_name(&key);
            if let Some(hit) = self.cached(&name, &key, &inv.bin) {
                results[i] = Some(hit);
                continue;
            }
            let module = match files.as_slice() {
                [(path, data)] if path == "main.rs" => std::str::from_utf8(data)
                    .ok()
                    .and_then(super::merge::module_source),
                _ => None,
            };
            if let Some(module) = module {
                merging.push((i, module, key));
            }
        }
        // A failed merged build names the members its errors are in: those
        // compile alone (so each error is told as that exercise's own), the
        // others merge again — a few times at most, within the one timeout.
        let until = std::time::Instant::now() + timeout;
        for _ in 0..3 {
            if merging.len() < 2 {
                break;
            }
            let mut key = Vec::new();
            for (_, _, k) in &merging {
                key.extend_from_slice(b"ipc-lab grade merged 1\0");
                key.extend_from_slice(&(k.len() as u64).to_le_bytes());
                key.extend_from_slice(k);
            }
            let merged = format!("m-{}", hash_name(&key));
            let cell = {
                let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
                Arc::clone(inflight.entry(merged.clone()).or_default())
            };
            let built = cell.get_or_init(|| {
                if let Some(hit) = self.cached(&merged, &key, "program") {
                    return hit;
                }
                let members: Vec<(&Exercise, &str)> = merging
                    .iter()
                    .map(|(i, module, _)| (members[*i].0, module.as_str()))
                    .collect();
                let left = until.saturating_duration_since(std::time::Instant::now());
                self.compile_merged(&members, work, left, &merged, &key)
            });
            let program = match built {
                Compiled::Binary(program) => program,
                Compiled::MergeFailed(failing) => {
                    let before = merging.len();
                    merging.retain(|(i, ..)| !failing.iter().any(|dir| dir == members[*i].0.dir));
                    if merging.len() == before {
                        break;
                    }
                    continue;
                }
                Compiled::CompileError(_) | Compiled::Failed(_) => break,
            };
            // Each member gets the program under its own name, inside the
            // merged build's entry. Not as the exercise's own cache entry:
            // the program holds the other members' code too (their statics,
            // their start-up code), so another submission with the same
            // file for one exercise must not be handed it.
            for (i, ..) in &merging {
                let bin = &self.invocations[members[*i].0.name].bin;
                let named = program.with_file_name(bin);
                if !named.is_file() {
                    // Another grader may link it at the same moment: fine.
                    let _ = fs::hard_link(program, &named);
                }
                if named.is_file() {
                    results[*i] = Some(Compiled::Binary(named));
                }
                // Else not kept: it compiles alone.
            }
            break;
        }
        results
    }

    /// Runs the merged build. A program is kept under `name` as `program`
    /// (each member's name links to it there); a failure is kept as an
    /// error (so the same submission goes straight to the separate builds);
    /// either way the caller falls back to those on an error.
    fn compile_merged(
        &self,
        members: &[(&Exercise, &str)],
        work: &Path,
        timeout: Duration,
        name: &str,
        key: &[u8],
    ) -> Compiled {
        let Some(inv) = members.first().and_then(|(e, _)| self.invocations.get(e.name)) else {
            return Compiled::Failed("no members".into());
        };
        let short = &name[..18];
        let root = work.join(format!("{short}.rs"));
        let out = work.join(format!("out-{short}"));
        let laid = (|| -> io::Result<()> {
            for (e, module) in members {
                let files: Files = vec![("main.rs".to_string(), module.as_bytes().to_vec())];
                self.lay_out(&work.join("crates").join(e.dir), &out, &files)?;
            }
            let roster: Vec<super::merge::Member> = members
                .iter()
                .map(|(e, _)| super::merge::Member {
                    dir: e.dir,
                    bin: &self.invocations[e.name].bin,
                })
                .collect();
            fs::write(&root, super::merge::root_source(&roster))?;
            fs::set_permissions(&root, fs::Permissions::from_mode(0o644))
        })();
        if let Err(why) = laid {
            return Compiled::Failed(format!("the grader could not lay out the sources: {why}"));
        }
        let produced = out.join("program");
        let args = self.command(inv, work, &root, &produced, Some("ipc_lab_merged"), work);
        let spec = self.compile_spec(args, timeout, work, &out);
        let outcome = sandbox::run(&spec);
        let _ = fs::remove_file(&root);
        let is_program = fs::symlink_metadata(&produced).is_ok_and(|m| m.is_file());
        let (status, stderr) = match outcome {
            Ok(o) => (Ok(o.status), o.stderr),
            Err(e) => (Err(e), Vec::new()),
        };
        let built = match status {
            Ok(Status::Exited(0)) if is_program => self.store(
                name,
                key,
                &Compiled::Binary(produced.clone()),
                Some(&produced),
                "program",
            ),
            // A compile error (or a clash between modules): the same
            // sources give it again. Kept with the members it is in, when
            // every error is in one.
            Ok(Status::Exited(1)) => {
                let dirs: Vec<&str> = members.iter().map(|(e, _)| e.dir).collect();
                let failing = super::merge::failing_members(&stderr, &dirs)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| dirs[i].to_string())
                    .collect();
                self.store(name, key, &Compiled::MergeFailed(failing), None, "")
            }
            _ => Compiled::Failed("the merged build stopped".into()),
        };
        let _ = fs::remove_dir_all(&out);
        built
    }

    /// What identifies a build: the compiler, its flags, the sources.
    fn key(&self, inv: &Invocation, files: &Files) -> Vec<u8> {
        let mut key = Vec::new();
        let mut put = |bytes: &[u8]| {
            key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            key.extend_from_slice(bytes);
        };
        put(b"ipc-lab grade 1");
        put(self.rustc.as_os_str().as_encoded_bytes());
        for (i, a) in inv.args.iter().enumerate() {
            if i == inv.source_at {
                put(b"<source>");
            }
            put(a.as_bytes());
        }
        for (k, v) in &inv.env {
            if k != "CARGO_MANIFEST_DIR" && k != "CARGO_MANIFEST_PATH" {
                put(format!("{k}={v}").as_bytes());
            }
        }
        for (path, data) in files {
            put(path.as_bytes());
            put(data);
        }
        key
    }

    fn cached(&self, name: &str, key: &[u8], bin: &str) -> Option<Compiled> {
        let dir = self.bins.join(name);
        if fs::read(dir.join("key")).ok()? != key {
            return None;
        }
        let binary = dir.join(bin);
        if binary.is_file() {
            return Some(Compiled::Binary(binary));
        }
        if let Ok(text) = fs::read_to_string(dir.join("error")) {
            return Some(Compiled::CompileError(text));
        }
        let failing = fs::read_to_string(dir.join("merge-failed")).ok()?;
        Some(Compiled::MergeFailed(
            failing.lines().map(str::to_string).collect(),
        ))
    }

    /// Keeps a result in the cache: written aside, then renamed into place.
    fn store(
        &self,
        name: &str,
        key: &[u8],
        built: &Compiled,
        produced: Option<&Path>,
        bin: &str,
    ) -> Compiled {
        let tmp = self.bins.join(format!(".{name}.{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let stored = (|| -> io::Result<()> {
            fs::create_dir(&tmp)?;
            match (built, produced) {
                // A program already in the cache (a merged build's) is
                // linked, not copied: it is ours and never changes.
                (Compiled::Binary(_), Some(p))
                    if p.starts_with(&self.bins) && fs::hard_link(p, tmp.join(bin)).is_ok() => {}
                (Compiled::Binary(_), Some(p)) => {
                    fs::copy(p, tmp.join(bin))?;
                    // Read-only: it never changes, and the sandbox links a
                    // program like that into each run instead of copying it.
                    fs::set_permissions(tmp.join(bin), fs::Permissions::from_mode(0o555))?;
                }
                (Compiled::CompileError(text), _) => fs::write(tmp.join("error"), text)?,
                (Compiled::MergeFailed(failing), _) => {
                    fs::write(tmp.join("merge-failed"), failing.join("\n"))?
                }
                _ => return Err(io::Error::other("nothing to store")),
            }
            fs::write(tmp.join("key"), key)?;
            let dest = self.bins.join(name);
            let _ = fs::remove_dir_all(&dest);
            fs::rename(&tmp, &dest)
        })();
        let _ = fs::remove_dir_all(&tmp);
        match (stored, built) {
            (Ok(()), Compiled::Binary(_)) => Compiled::Binary(self.bins.join(name).join(bin)),
            (Err(e), Compiled::Binary(_)) => {
                Compiled::Failed(format!("the grader could not keep the compiled program: {e}"))
            }
            (_, other) => other.clone(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn compile_now(
        &self,
        e: &Exercise,
        inv: &Invocation,
        work: &Path,
        files: &Files,
        timeout: Duration,
        name: &str,
        key: &[u8],
    ) -> Compiled {
        let crate_dir = work.join("crates").join(e.dir);
        let out = work.join(format!("out-{}", e.dir));
        if let Err(why) = self.lay_out(&crate_dir, &out, files) {
            return Compiled::Failed(format!("the grader could not lay out the sources: {why}"));
        }
        let produced = out.join(&inv.bin);
        let source = crate_dir.join("src").join("main.rs");
        let args = self.command(inv, &crate_dir, &source, &produced, None, work);

        let spec = self.compile_spec(args, timeout, work, &out);
        let outcome = match sandbox::run(&spec) {
            Ok(o) => o,
            Err(e) => return Compiled::Failed(format!("the grader could not run the compiler: {e}")),
        };
        // The output folder was the compile run's: take only a
        // regular file from it, never what a link there points to.
        let is_program = fs::symlink_metadata(&produced).is_ok_and(|m| m.is_file());
        let built = match outcome.status {
            Status::Exited(0) if is_program => self.store(
                name,
                key,
                &Compiled::Binary(produced.clone()),
                Some(&produced),
                &inv.bin,
            ),
            Status::Exited(1) => match first_error(&outcome.stderr) {
                // An error in the sources: the same sources give it again.
                Some(d) if d.primary_files().next().is_some() => self.store(
                    name,
                    key,
                    &Compiled::CompileError(d.text().to_string()),
                    None,
                    &inv.bin,
                ),
                // An error that points at no source (a linker's, which may
                // be the machine's, out of processes or memory for a
                // moment): not kept, so it is tried again.
                Some(d) => Compiled::Failed(d.text().to_string()),
                None => Compiled::Failed(format!(
                    "the compiler failed:\n{}",
                    tail(&String::from_utf8_lossy(&outcome.stderr), 20)
                )),
            },
            _ => {
                let mut text = format!("the compiler {}", outcome.summary());
                let err = String::from_utf8_lossy(&outcome.stderr);
                if let Some(first) = first_error(&outcome.stderr) {
                    text.push_str(&format!("\n{}", first.text()));
                } else if !err.trim().is_empty() {
                    text.push_str(&format!("\n{}", tail(&err, 12)));
                }
                Compiled::Failed(text)
            }
        };
        let _ = fs::remove_dir_all(&out);
        built
    }

    /// A compile command as `env` runs it: cargo's recorded environment,
    /// with the manifest pointing into `manifest_dir`, then rustc with
    /// cargo's flags, `source` in its place, the crate renamed when asked,
    /// the program written to `produced`, and paths in messages made
    /// relative to the submission's folder `work`.
    fn command(
        &self,
        inv: &Invocation,
        manifest_dir: &Path,
        source: &Path,
        produced: &Path,
        crate_name: Option<&str>,
        work: &Path,
    ) -> Vec<String> {
        let mut args: Vec<String> = inv
            .env
            .iter()
            .map(|(k, v)| match k.as_str() {
                "CARGO_MANIFEST_DIR" => format!("{k}={}", manifest_dir.display()),
                "CARGO_MANIFEST_PATH" => format!("{k}={}", manifest_dir.join("Cargo.toml").display()),
                _ => format!("{k}={v}"),
            })
            .collect();
        args.push(self.rustc.display().to_string());
        let mut names_crate = false;
        for (i, a) in inv.args.iter().enumerate() {
            if i == inv.source_at {
                args.push(source.display().to_string());
            }
            args.push(match crate_name {
                Some(name) if names_crate => name.to_string(),
                _ => a.clone(),
            });
            names_crate = a == "--crate-name";
        }
        if inv.source_at == inv.args.len() {
            args.push(source.display().to_string());
        }
        args.push("-o".into());
        args.push(produced.display().to_string());
        args.push(format!("--remap-path-prefix={}=", work.display()));
        args
    }

    /// The sandbox's spec for one compile: `env` with `args`, shown the
    /// toolchain, the dependencies and the submission's folder `work`, and
    /// writing only into `out`.
    fn compile_spec(&self, args: Vec<String>, timeout: Duration, work: &Path, out: &Path) -> Spec {
        let mut spec = Spec::new(&self.env_program)
            .args(args)
            .limits(compile_limits(timeout))
            .readable(work)
            .writable(out);
        for path in &self.shown {
            spec = spec.readable(path);
        }
        spec
    }

    /// Writes the sources (readable, not writable, by the compile run) and
    /// makes an empty output folder, which the sandbox lends to the compile
    /// run's user (and takes back).
    fn lay_out(&self, crate_dir: &Path, out: &Path, files: &Files) -> io::Result<()> {
        let src = crate_dir.join("src");
        let _ = fs::remove_dir_all(&src);
        fs::create_dir_all(&src)?;
        for (path, data) in files {
            let file = src.join(path);
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&file, data)?;
            fs::set_permissions(&file, fs::Permissions::from_mode(0o644))?;
        }
        let _ = fs::remove_dir_all(out);
        fs::create_dir(out)?;
        fs::set_permissions(out, fs::Permissions::from_mode(0o700))?;
        Ok(())
    }
}

/// The compiler's limits: rustc and the linker need more room than a
/// student program; a compile that runs away (a huge const evaluation)
/// still stops.
fn compile_limits(timeout: Duration) -> Limits {
    Limits {
        timeout,
        cpu_seconds: timeout.as_secs().max(1) * 2,
        address_space: 8 << 30,
        memory: 2 << 30,
        file_size: 1 << 30,
        open_files: 1024,
        processes: 256,
        // rustc's and the linker's temporary files, in the run's /tmp.
        scratch: 1 << 30,
        ..Limits::default()
    }
}

/// `fork-process` → `fork_process`, as cargo names the crate.
fn crate_name(package: &str) -> String {
    package.replace('-', "_")
}

impl Invocation {
    /// Reads cargo's recorded command line for `e` and moves its paths:
    /// the private target's deps to the world-readable copy; the outputs,
    /// incremental state and terminal-only flags out.
    fn load(records: &Path, e: &Exercise, private_deps: &Path, deps: &Path) -> anyhow::Result<Invocation> {
        let name = crate_name(e.name);
        let read = |ext: &str| {
            fs::read(records.join(format!("{name}.{ext}")))
                .with_context(|| format!("no record of how cargo compiles {}", e.name))
        };
        let split = |bytes: Vec<u8>| -> Vec<String> {
            String::from_utf8_lossy(&bytes)
                .split('\0')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let recorded = split(read("args")?);
        let private = private_deps.display().to_string();
        let public = deps.display().to_string();
        let mut args = Vec::new();
        let mut source_at = None;
        let mut it = recorded.into_iter().skip(1).peekable(); // [0] is rustc itself
        while let Some(a) = it.next() {
            match a.as_str() {
                "--out-dir" => {
                    it.next();
                }
                "-C" if it
                    .peek()
                    .is_some_and(|v| v.starts_with("incremental=") || v.starts_with("extra-filename=")) =>
                {
                    it.next();
                }
                "-L" | "--extern" => {
                    let v = it.next().unwrap_or_default();
                    args.push(a);
                    args.push(v.replace(&private, &public));
                }
                _ if a.starts_with("--json=")
                    || a.starts_with("--diagnostic-width")
                    || a.starts_with("--color") => {}
                _ if a.starts_with("--emit=") => args.push("--emit=link".into()),
                _ if source_at.is_none() && !a.starts_with('-') && a.ends_with("main.rs") => {
                    source_at = Some(args.len());
                }
                _ => args.push(a),
            }
        }
        let source_at =
            source_at.with_context(|| format!("cargo's command line for {} names no main.rs", e.name))?;
        if !args.iter().any(|a| a.starts_with("--error-format")) {
            args.push("--error-format=json".into());
        }
        // The one flag cargo would not pass: the sandbox copies the program
        // into a fresh folder for every check, and without the standard
        // library's debug info there is an eighth as much to copy (4.5 MB →
        // 0.6 MB). Behaviour is the same: panic messages carry their
        // locations in the program's data, not in debug info.
        if !args.iter().any(|a| a.starts_with("strip=")) {
            args.push("-C".into());
            args.push("strip=debuginfo".into());
        }
        // Debug info the link then strips is work for nothing: without it
        // a merged build takes a sixth less time.
        if args
            .iter()
            .any(|a| a == "strip=debuginfo" || a == "strip=symbols")
        {
            for a in &mut args {
                if a.starts_with("debuginfo=") {
                    *a = "debuginfo=0".into();
                }
            }
        }
        // An optimized build in one codegen unit: a third less CPU time in
        // all than cargo's 256 units in parallel. Grading keeps both CPUs
        // busy with other submissions anyway, and the program means the same.
        let optimized = args
            .iter()
            .any(|a| a.starts_with("opt-level=") && a != "opt-level=0");
        if optimized && !args.iter().any(|a| a.starts_with("codegen-units=")) {
            args.push("-C".into());
            args.push("codegen-units=1".into());
        }
        if let Some(odd) = args.iter().find(|a| a.contains(&private)) {
            bail!("cannot move cargo's flag `{odd}` out of the private build");
        }
        let mut env = Vec::new();
        let mut bin = e.name.to_string();
        for pair in split(read("env")?) {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let keep = k.starts_with("CARGO_PKG_")
                || matches!(
                    k,
                    "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                );
            if k == "CARGO_BIN_NAME" {
                bin = v.to_string();
            }
            if keep {
                env.push((k.to_string(), v.to_string()));
            }
        }
        env.sort();
        Ok(Invocation {
            args,
            source_at,
            env,
            bin,
        })
    }
}

/// The first error's text in rustc's JSON diagnostics.
fn first_error(stderr: &[u8]) -> Option<Diagnostic> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(Diagnostic::from_rustc_json)
        .find(Diagnostic::is_error)
}

/// Hard links to the toolchain's `bin/` and `lib/` where any user can
/// reach them (a copy when linking is impossible, once per toolchain).
fn link_toolchain(cache: &Path, sysroot: &Path, commit: &str) -> anyhow::Result<PathBuf> {
    let dest = cache.join(format!("toolchain-{commit}"));
    if dest.join(".complete").exists() {
        return Ok(dest);
    }
    let tmp = cache.join(format!(".toolchain-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp).context("cannot create the toolchain copy")?;
    for part in ["bin", "lib"] {
        let from = sysroot.join(part);
        let linked = Command::new("cp").arg("-al").arg(&from).arg(&tmp).status();
        if !linked.is_ok_and(|s| s.success()) {
            let _ = fs::remove_dir_all(tmp.join(part));
            output(
                Command::new("cp").arg("-a").arg(&from).arg(&tmp),
                "cp (the toolchain)",
            )?;
        }
    }
    fs::write(tmp.join(".complete"), commit).context("toolchain copy")?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).context("toolchain copy")?;
    if fs::rename(&tmp, &dest).is_err() {
        // Another grader got there first.
        let _ = fs::remove_dir_all(&tmp);
    }
    if !dest.join(".complete").exists() {
        bail!("cannot set up the toolchain copy in {}", dest.display());
    }
    Ok(dest)
}

/// Copies the dependencies' rlibs where any user can read them, in a folder
/// named after their names, sizes and times (so a rebuilt dependency gets
/// a new folder, and compiled programs keyed by it are not mixed up).
fn publish_deps(cache: &Path, private_deps: &Path) -> anyhow::Result<PathBuf> {
    let mut rlibs: Vec<(String, u64, i64, i64)> = fs::read_dir(private_deps)
        .with_context(|| format!("cannot read {}", private_deps.display()))?
        .filter_map(Result::ok)
        .filter_map(|d| {
            let name = d.file_name().to_string_lossy().into_owned();
            let m = d.metadata().ok()?;
            (name.ends_with(".rlib") && m.is_file()).then(|| (name, m.len(), m.mtime(), m.mtime_nsec()))
        })
        .collect();
    rlibs.sort();
    let dest = cache.join(format!(
        "deps-{}",
        &hash_name(format!("{rlibs:?}").as_bytes())[..16]
    ));
    if dest.join(".complete").exists() {
        return Ok(dest);
    }
    let tmp = cache.join(format!(".deps-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let copied = (|| -> io::Result<()> {
        fs::create_dir(&tmp)?;
        for (name, ..) in &rlibs {
            fs::copy(private_deps.join(name), tmp.join(name))?;
            fs::set_permissions(tmp.join(name), fs::Permissions::from_mode(0o644))?;
        }
        fs::write(tmp.join(".complete"), b"")?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
        fs::rename(&tmp, &dest)
    })();
    let _ = fs::remove_dir_all(&tmp);
    if !dest.join(".complete").exists() {
        let why = format!("cannot publish the dependencies in {}", dest.display());
        return Err(match copied {
            Err(e) => anyhow::Error::new(e).context(why),
            Ok(()) => anyhow::anyhow!(why),
        });
    }
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_takes_the_first_error_diagnostic() {
        let stderr = concat!(
            r#"{"$message_type":"diagnostic","level":"warning","rendered":"warning: unused\n"}"#,
            "\n",
            r#"{"$message_type":"diagnostic","level":"error","rendered":"error: expected `;`\n"}"#,
            "\n",
            r#"{"$message_type":"diagnostic","level":"error","rendered":"error: aborting\n"}"#,
            "\nnot json\n"
        );
        assert_eq!(
            first_error(stderr.as_bytes()).unwrap().text(),
            "error: expected `;`"
        );
        assert!(first_error(b"").is_none());
    }

    #[test]
    fn hash_names_differ_with_content() {
        assert_eq!(hash_name(b"a").len(), 32);
        assert_ne!(hash_name(b"a"), hash_name(b"b"));
        assert_eq!(hash_name(b"a"), hash_name(b"a"));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
