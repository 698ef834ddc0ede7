//! `cargo xtask bench`: exercises 14–16 against the baselines a user would
//! reach for, measured side by side in one run, printed as one table.
//!
//! - builds `parallelism`, `spawn-cost` and `pipe-throughput` in release
//!   mode and runs each once with `--tsv`, so the numbers are read from
//!   tab-separated lines, not scraped from prose;
//! - runs the baseline for the pipe, `dd if=/dev/zero bs=64k count=N | dd
//!   of=/dev/null bs=64k`, moving as many bytes as each pipe-throughput run,
//!   best of three, at the rate the reading `dd` reports itself (which
//!   leaves out the shell's and dd's start-up: the kinder number for dd);
//! - prints a Markdown table (ready for README.md) of the ratios: best pipe
//!   configuration vs the dd pipeline, vmsplice + splice vs plain
//!   write/read, fork vs posix_spawn, threads vs processes, …
//!
//! The programs run directly, not in the sandbox. They are our own
//! reference programs, not submissions, and the sandbox's limits would bend
//! what is measured: its 1 GiB address-space limit leaves little room for
//! the 512 MiB that spawn-cost touches, and its runner polls `/proc` every
//! 50 ms beside the program. One program runs at a time, so they do not
//! compete with each other; other load on the machine still shows, which is
//! why the table prints the load average before and after.
//!
//! `cargo xtask bench grade` (the TA's loop) lives in `bench_grade.rs`,
//! `cargo xtask bench isolation` (hostile submissions among full ones, and
//! the sandbox's cost per run) in `bench_isolation.rs`, `cargo xtask bench
//! trace` (what tracing costs) in `bench_trace.rs`.

use crate::flags::BenchFlags;
use crate::term::{StatusLine, outln};
use anyhow::{Context as _, Result, anyhow, bail};
use checks::build::CargoMessage;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn run(root: &Path, flags: &BenchFlags) -> Result<ExitCode> {
    match flags.what.as_str() {
        "grade" => crate::bench_grade::run(root),
        "isolation" => crate::bench_isolation::run(root),
        "trace" => crate::bench_trace::run(root),
        "pipes" => pipes(root),
        other => Err(anyhow!(
            "no benchmark '{other}': use `pipes` (the default), `grade`, `isolation` or `trace`"
        )),
    }
}

/// Bytes per pipe-throughput run and per dd pipeline.
const BYTES_MIB: u64 = 256;
/// Each pipe-throughput configuration and the dd pipeline run this many
/// times; the fastest counts.
const REPEAT: u32 = 3;

/// The packages measured, in the order they run.
const PACKAGES: [&str; 3] = ["pipe-throughput", "spawn-cost", "parallelism"];

fn pipes(root: &Path) -> Result<ExitCode> {
    let progress = StatusLine::new();
    progress.update("building exercises 14-16 in release mode…");
    let binaries = build_release(root, &PACKAGES)?;
    let binary = |name: &str| -> Result<&Path> {
        binaries
            .get(name)
            .map(PathBuf::as_path)
            .ok_or_else(|| anyhow!("cargo built no binary for {name}"))
    };
    let load_before = load_average();
    let started = Instant::now();

    progress.update(&format!(
        "pipe-throughput: 6 ways × 5 chunk sizes × {REPEAT}, {BYTES_MIB} MiB each…"
    ));
    let throughput = Tsv::run(
        binary("pipe-throughput")?,
        &[
            "--tsv",
            "--bytes",
            &format!("{BYTES_MIB}M"),
            "--repeat",
            &REPEAT.to_string(),
        ],
    )?;
    progress.update("dd if=/dev/zero bs=64k | dd of=/dev/null bs=64k…");
    let dd = dd_pipeline(BYTES_MIB << 20, REPEAT)?;
    progress.update("spawn-cost: fork, exec, posix_spawn, threads; 0, 64 and 512 MiB touched…");
    let spawn = Tsv::run(binary("spawn-cost")?, &["--tsv"])?;
    progress.update("parallelism: 2 workers, threads and processes, pinned and free…");
    let parallel = Tsv::run(binary("parallelism")?, &["--tsv"])?;
    progress.finish();

    let rows = table(&throughput, dd, &spawn, &parallel)?;
    outln!("`cargo xtask bench`, {}", machine());
    outln!(
        "{} s in all; load average {} before, {} after\n",
        started.elapsed().as_secs(),
        load_before,
        load_average()
    );
    outln!(
        "The dd pipeline is `dd if=/dev/zero bs=64k count={} status=none | dd of=/dev/null bs=64k`, \
         best of {REPEAT}, at the rate the reading dd reports.\n",
        (BYTES_MIB << 20) / (64 << 10)
    );
    outln!("| measure | A | B | A / B |");
    outln!("| --- | ---: | ---: | ---: |");
    for row in rows {
        outln!("| {} | {} | {} | {} |", row.what, row.a, row.b, row.ratio);
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of the table: A compared with B.
struct Row {
    what: String,
    a: String,
    b: String,
    ratio: String,
}

impl Row {
    fn new(what: impl Into<String>, a: String, b: String, ratio: f64) -> Row {
        Row {
            what: what.into(),
            a,
            b,
            ratio: format!("{ratio:.2}×"),
        }
    }
}

/// The rows, from the programs' `--tsv` lines and the dd baseline: every
/// figure is read first (a missing one is an error), then the rows are
/// rendered from the figures.
fn table(throughput: &Tsv, dd: f64, spawn: &Tsv, parallel: &Tsv) -> Result<Vec<Row>> {
    let throughput = Throughput::read(throughput)?;
    let spawn = Spawn::read(spawn)?;
    let parallel = Parallel::read(parallel)?;
    Ok(rows(&throughput, dd, &spawn, &parallel))
}

/// A rate in bytes per second and the chunk size that reached it.
#[derive(Clone, Copy)]
struct Rate {
    chunk: u64,
    rate: f64,
}

/// What pipe-throughput measured, in bytes per second.
struct Throughput {
    /// The best pipe between processes that verified its data, and its mode.
    best_mode: String,
    best: Rate,
    /// The fastest run of each of these modes.
    plain: Rate,
    splice: Rate,
    channel: Rate,
    memcpy: Rate,
    /// The largest chunk size run, and each pipe size's rate with it.
    largest: u64,
    pipe_1m_largest: f64,
    pipe_largest: f64,
    /// The run that does what the dd pipeline does (64 KiB pipe and
    /// chunks), if one ran.
    same_as_dd: Option<f64>,
}

impl Throughput {
    /// From `run MODE CHUNK BYTES NS BYTES_PER_S SUM` and `best-pipe MODE
    /// CHUNK BYTES_PER_S …` lines.
    fn read(tsv: &Tsv) -> Result<Throughput> {
        let runs: Vec<(String, u64, f64)> = tsv
            .lines("run")
            .iter()
            .map(|f| {
                Ok((
                    f.first().cloned().unwrap_or_default(),
                    number(f, 1)? as u64,
                    number(f, 4)?,
                ))
            })
            .collect::<Result<_>>()?;
        let fastest = |mode: &str| -> Result<Rate> {
            runs.iter()
                .filter(|(m, _, _)| m == mode)
                .map(|&(_, chunk, rate)| Rate { chunk, rate })
                .max_by(|a, b| a.rate.total_cmp(&b.rate))
                .ok_or_else(|| anyhow!("pipe-throughput reported no run of {mode}"))
        };
        let best_pipe = tsv.first("best-pipe")?;
        let best = Rate {
            chunk: number(&best_pipe, 1)? as u64,
            rate: number(&best_pipe, 2)?,
        };
        let largest = runs.iter().map(|r| r.1).max().unwrap_or(0);
        Ok(Throughput {
            best_mode: best_pipe[0].clone(),
            best,
            plain: fastest("pipe")?,
            splice: fastest("vmsplice-splice")?,
            channel: fastest("channel")?,
            memcpy: fastest("memcpy")?,
            largest,
            pipe_1m_largest: at(&runs, "pipe-1m", largest)?,
            pipe_largest: at(&runs, "pipe", largest)?,
            same_as_dd: runs
                .iter()
                .find(|(mode, chunk, _)| mode == "pipe" && *chunk == 64 << 10)
                .map(|&(_, _, rate)| rate),
        })
    }
}

/// What spawn-cost measured: medians in nanoseconds.
struct Spawn {
    fork: f64,
    fork_exec: f64,
    posix_spawn: f64,
    thread: f64,
    /// The least and the most memory touched (MiB) before spawning.
    low: u64,
    high: u64,
    fork_low: f64,
    fork_high: f64,
    posix_spawn_low: f64,
    posix_spawn_high: f64,
    fork_exec_high: f64,
}

impl Spawn {
    /// From `cost WHAT RUNS MEDIAN P90` and `memory MIB WHAT RUNS MEDIAN
    /// P90` lines.
    fn read(tsv: &Tsv) -> Result<Spawn> {
        let cost = |what: &str| -> Result<f64> {
            let line = tsv
                .lines("cost")
                .into_iter()
                .find(|f| f.first().is_some_and(|w| w == what))
                .ok_or_else(|| anyhow!("spawn-cost reported no cost of {what}"))?;
            number(&line, 2)
        };
        let memory = |mib: u64, what: &str| -> Result<f64> {
            let line = tsv
                .lines("memory")
                .into_iter()
                .find(|f| f.len() > 2 && f[0] == mib.to_string() && f[1] == what)
                .ok_or_else(|| anyhow!("spawn-cost reported no {what} with {mib} MiB touched"))?;
            number(&line, 3)
        };
        let sizes: Vec<u64> = tsv
            .lines("memory")
            .iter()
            .filter_map(|f| f.first()?.parse().ok())
            .collect();
        let low = sizes.iter().copied().min().unwrap_or(0);
        let high = sizes.iter().copied().max().unwrap_or(0);
        Ok(Spawn {
            fork: cost("fork")?,
            fork_exec: cost("fork-exec")?,
            posix_spawn: cost("posix_spawn")?,
            thread: cost("thread")?,
            low,
            high,
            fork_low: memory(low, "fork")?,
            fork_high: memory(high, "fork")?,
            posix_spawn_low: memory(low, "posix_spawn")?,
            posix_spawn_high: memory(high, "posix_spawn")?,
            fork_exec_high: memory(high, "fork-exec")?,
        })
    }
}

/// What parallelism measured: wall-time speed-ups of 2 workers over one
/// pinned CPU.
struct Parallel {
    cpus: f64,
    threads: f64,
    processes: f64,
}

impl Parallel {
    /// From `speedup KIND RATIO` and `cpus N` lines.
    fn read(tsv: &Tsv) -> Result<Parallel> {
        let speedup = |kind: &str| -> Result<f64> {
            let line = tsv
                .lines("speedup")
                .into_iter()
                .find(|f| f.first().is_some_and(|k| k == kind))
                .ok_or_else(|| anyhow!("parallelism reported no speed-up for {kind}"))?;
            number(&line, 1)
        };
        Ok(Parallel {
            cpus: number(&tsv.first("cpus")?, 0)?,
            threads: speedup("threads")?,
            processes: speedup("processes")?,
        })
    }
}

/// The table's rows, rendered from the figures.
fn rows(t: &Throughput, dd: f64, s: &Spawn, p: &Parallel) -> Vec<Row> {
    let mut rows = vec![Row::new(
        format!(
            "best verified pipe between processes ({}, {} chunks) vs the dd pipeline",
            label(&t.best_mode),
            size(t.best.chunk)
        ),
        gbs(t.best.rate),
        gbs(dd),
        t.best.rate / dd,
    )];
    if let Some(rate) = t.same_as_dd {
        rows.push(Row::new(
            "write/read, 64 KiB pipe, 64 KiB chunks, checksummed (what dd does, and a check) vs the dd pipeline",
            gbs(rate),
            gbs(dd),
            rate / dd,
        ));
    }
    rows.extend([
        Row::new(
            format!(
                "write/read with {} chunks: 1 MiB pipe vs 64 KiB pipe",
                size(t.largest)
            ),
            gbs(t.pipe_1m_largest),
            gbs(t.pipe_largest),
            t.pipe_1m_largest / t.pipe_largest,
        ),
        Row::new(
            format!(
                "vmsplice + splice, zero copy ({} chunks) vs plain write/read, 64 KiB pipe ({} chunks)",
                size(t.splice.chunk),
                size(t.plain.chunk)
            ),
            gbs(t.splice.rate),
            gbs(t.plain.rate),
            t.splice.rate / t.plain.rate,
        ),
        Row::new(
            format!(
                "two threads over a channel ({} chunks) vs best verified pipe between processes",
                size(t.channel.chunk)
            ),
            gbs(t.channel.rate),
            gbs(t.best.rate),
            t.channel.rate / t.best.rate,
        ),
        Row::new(
            format!(
                "best verified pipe between processes vs memcpy, one copy ({} chunks)",
                size(t.memcpy.chunk)
            ),
            gbs(t.best.rate),
            gbs(t.memcpy.rate),
            t.best.rate / t.memcpy.rate,
        ),
    ]);
    rows.extend(spawn_rows(s, p));
    rows
}

/// The rows about starting processes and threads, and using two CPUs.
fn spawn_rows(s: &Spawn, p: &Parallel) -> [Row; 6] {
    let (low, high) = (s.low, s.high);
    [
        Row::new(
            "fork + exec /bin/true vs posix_spawn /bin/true, median",
            us(s.fork_exec),
            us(s.posix_spawn),
            s.fork_exec / s.posix_spawn,
        ),
        Row::new(
            format!("fork + waitpid with {high} MiB touched vs {low} MiB, median"),
            us(s.fork_high),
            us(s.fork_low),
            s.fork_high / s.fork_low,
        ),
        Row::new(
            format!("posix_spawn /bin/true with {high} MiB touched vs {low} MiB, median"),
            us(s.posix_spawn_high),
            us(s.posix_spawn_low),
            s.posix_spawn_high / s.posix_spawn_low,
        ),
        Row::new(
            format!("fork + exec vs posix_spawn, both with {high} MiB touched, median"),
            us(s.fork_exec_high),
            us(s.posix_spawn_high),
            s.fork_exec_high / s.posix_spawn_high,
        ),
        Row::new(
            "fork + waitpid vs thread spawn + join, median",
            us(s.fork),
            us(s.thread),
            s.fork / s.thread,
        ),
        Row::new(
            format!(
                "2 workers on {:.0} CPUs vs pinned to 1 (wall-time speed-up): threads vs processes",
                p.cpus
            ),
            format!("{:.2}×", p.threads),
            format!("{:.2}×", p.processes),
            p.threads / p.processes,
        ),
    ]
}

/// Bytes per second as `1.23 GB/s`.
fn gbs(rate: f64) -> String {
    format!("{:.2} GB/s", rate / 1e9)
}

/// Nanoseconds as `123 µs`.
fn us(ns: f64) -> String {
    format!("{:.0} µs", ns / 1e3)
}

/// A chunk size as `64 KiB` or `1 MiB`.
fn size(chunk: u64) -> String {
    if chunk >= 1 << 20 {
        format!("{} MiB", chunk >> 20)
    } else {
        format!("{} KiB", chunk >> 10)
    }
}

/// A pipe-throughput mode's `--tsv` key as the table names it.
fn label(mode: &str) -> &str {
    match mode {
        "pipe" => "write/read, 64 KiB pipe",
        "pipe-1m" => "write/read, 1 MiB pipe",
        "vmsplice-read" => "vmsplice/read, 1 MiB pipe",
        "vmsplice-splice" => "vmsplice/splice, 1 MiB pipe",
        "channel" => "threads, channel",
        other => other,
    }
}

/// The rate of `mode` with `chunk`-byte chunks.
fn at(runs: &[(String, u64, f64)], mode: &str, chunk: u64) -> Result<f64> {
    runs.iter()
        .find(|(m, c, _)| m == mode && *c == chunk)
        .map(|r| r.2)
        .ok_or_else(|| anyhow!("pipe-throughput reported no run of {mode} with {chunk}-byte chunks"))
}

/// A number from the fields after a `--tsv` line's key.
fn number(fields: &[String], i: usize) -> Result<f64> {
    fields
        .get(i)
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| anyhow!("expected a number in field {} of {:?}", i + 2, fields.join("\t")))
}

/// The tab-separated lines a program printed with `--tsv`.
struct Tsv {
    program: String,
    lines: Vec<Vec<String>>,
}

impl Tsv {
    /// Runs `binary` with `args`; it must succeed.
    fn run(binary: &Path, args: &[&str]) -> Result<Tsv> {
        let program = binary
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let output = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {program}"))?;
        if !output.status.success() {
            let err = String::from_utf8_lossy(&output.stderr);
            bail!(
                "{program} {} failed ({}): {}",
                args.join(" "),
                output.status,
                err.trim()
            );
        }
        Ok(Tsv::parse(&program, &String::from_utf8_lossy(&output.stdout)))
    }

    fn parse(program: &str, text: &str) -> Tsv {
        Tsv {
            program: program.to_string(),
            lines: text
                .lines()
                .map(|l| l.split('\t').map(str::to_string).collect())
                .collect(),
        }
    }

    /// The fields after the key of every line that starts with `key`.
    fn lines(&self, key: &str) -> Vec<Vec<String>> {
        self.lines
            .iter()
            .filter(|l| l.first().is_some_and(|k| k == key))
            .map(|l| l[1..].to_vec())
            .collect()
    }

    /// The fields after the key of the first line that starts with `key`.
    fn first(&self, key: &str) -> Result<Vec<String>> {
        self.lines(key)
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("{} printed no {key} line", self.program))
    }
}

/// Builds `packages` with `cargo build --release`; returns each binary.
fn build_release(root: &Path, packages: &[&str]) -> Result<BTreeMap<String, PathBuf>> {
    let mut cmd = Command::new(checks::build::cargo());
    cmd.current_dir(root)
        .args(["build", "--release", "--quiet", "--message-format=json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for p in packages {
        cmd.args(["--package", p]);
    }
    let mut child = cmd.spawn().context("cannot run cargo")?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let mut binaries = BTreeMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        if let Some(CargoMessage::Binary { target, executable }) = CargoMessage::parse(&line) {
            binaries.insert(target, executable);
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!("cargo build --release failed ({status})");
    }
    Ok(binaries)
}

/// Runs `dd if=/dev/zero bs=64k count=N | dd of=/dev/null bs=64k` for
/// `bytes` bytes `times` times; returns the best rate, in bytes per second,
/// as the reading dd reports it (or, if its report cannot be read, as timed
/// from here, start-up included).
fn dd_pipeline(bytes: u64, times: u32) -> Result<f64> {
    let count = bytes / (64 << 10);
    let script = format!("dd if=/dev/zero bs=64k count={count} status=none | dd of=/dev/null bs=64k");
    let mut best = 0f64;
    for _ in 0..times {
        let start = Instant::now();
        let output = Command::new("sh")
            .args(["-c", &script])
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .context("cannot run sh")?;
        let wall = start.elapsed();
        if !output.status.success() {
            bail!("`{script}` failed ({})", output.status);
        }
        let report = String::from_utf8_lossy(&output.stderr);
        let rate = match dd_report(&report) {
            Some((copied, seconds)) if copied == bytes && seconds > 0.0 => copied as f64 / seconds,
            Some((copied, _)) if copied != bytes => {
                bail!("the dd pipeline copied {copied} bytes, not {bytes}");
            }
            _ => bytes as f64 / wall.max(Duration::from_nanos(1)).as_secs_f64(),
        };
        best = best.max(rate);
    }
    Ok(best)
}

/// The bytes and seconds of dd's summary line, `268435456 bytes (268 MB,
/// 256 MiB) copied, 0.19 s, 1.4 GB/s` (GNU) or `… bytes transferred in
/// 0.19 secs (…)` (BSD).
fn dd_report(stderr: &str) -> Option<(u64, f64)> {
    let line = stderr.lines().find(|l| l.contains(" bytes"))?;
    let copied = line.split_whitespace().next()?.parse().ok()?;
    let seconds = if let Some((_, rest)) = line.split_once(" copied, ") {
        rest.split_whitespace().next()?.parse().ok()?
    } else {
        let (_, rest) = line.split_once(" in ")?;
        rest.split_whitespace().next()?.parse().ok()?
    };
    Some((copied, seconds))
}

/// `/proc/loadavg`'s 1-minute figure.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

/// `2026-05-01 (UTC), 2 CPUs (AMD EPYC), Linux 6.18.0`.
fn machine() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_date(days as i64);
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_else(|_| "?".to_string());
    format!("{y:04}-{m:02}-{d:02} (UTC), {cpus} CPUs ({model}), Linux {kernel}")
}

/// Year, month, day of the `days`-th day after 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(59), (1970, 3, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(20_454), (2026, 1, 1));
    }

    #[test]
    fn reads_gnu_and_bsd_dd_reports() {
        let gnu = "4096+0 records in\n4096+0 records out\n\
                   268435456 bytes (268 MB, 256 MiB) copied, 0.192551 s, 1.4 GB/s\n";
        assert_eq!(dd_report(gnu), Some((268_435_456, 0.192551)));
        let bsd = "268435456 bytes transferred in 0.250000 secs (1073741824 bytes/sec)\n";
        assert_eq!(dd_report(bsd), Some((268_435_456, 0.25)));
        assert_eq!(dd_report("dd: invalid number\n"), None);
    }

    #[test]
    fn table_rows_come_from_tsv_lines() {
        let throughput = Tsv::parse(
            "pipe-throughput",
            "bytes\t1048576\nchecksum\t00\n\
             run\tpipe\t4096\t1048576\t1000000\t1000000000\t00\n\
             run\tpipe-1m\t4096\t1048576\t500000\t2000000000\t00\n\
             run\tvmsplice-read\t4096\t1048576\t250000\t4000000000\t00\n\
             run\tvmsplice-splice\t4096\t1048576\t100000\t10000000000\t-\n\
             run\tchannel\t4096\t1048576\t200000\t5000000000\t00\n\
             run\tmemcpy\t4096\t1048576\t50000\t20000000000\t-\n\
             best\tchannel\t4096\t5000000000\t0.250\n\
             best-pipe\tvmsplice-read\t4096\t4000000000\t0.200\n",
        );
        let spawn = Tsv::parse(
            "spawn-cost",
            "cost\tfork\t10\t100000\t200000\ncost\tfork-exec\t10\t600000\t700000\n\
             cost\tposix_spawn\t10\t300000\t400000\ncost\tthread\t10\t20000\t30000\n\
             memory\t0\tfork\t5\t100000\t1\nmemory\t0\tfork-exec\t5\t600000\t1\n\
             memory\t0\tposix_spawn\t5\t300000\t1\nmemory\t512\tfork\t5\t5000000\t1\n\
             memory\t512\tfork-exec\t5\t5500000\t1\nmemory\t512\tposix_spawn\t5\t300000\t1\n",
        );
        let parallel = Tsv::parse(
            "parallelism",
            "cpus\t2\nrun\tthreads\t1\t1\t1\t1\t0\nspeedup\tthreads\t2.00\nspeedup\tprocesses\t1.60\n",
        );
        let rows = table(&throughput, 1e9, &spawn, &parallel).unwrap();
        let find = |start: &str| rows.iter().find(|r| r.what.starts_with(start)).unwrap();
        let best =
            find("best verified pipe between processes (vmsplice/read, 1 MiB pipe, 4 KiB chunks) vs the dd");
        assert_eq!(
            (best.a.as_str(), best.b.as_str(), best.ratio.as_str()),
            ("4.00 GB/s", "1.00 GB/s", "4.00×")
        );
        assert_eq!(find("vmsplice + splice").ratio, "10.00×");
        assert_eq!(find("write/read with 4 KiB chunks: 1 MiB pipe").ratio, "2.00×");
        assert_eq!(find("fork + exec /bin/true vs posix_spawn").ratio, "2.00×");
        assert_eq!(find("fork + waitpid with 512 MiB").ratio, "50.00×");
        assert_eq!(find("2 workers on 2 CPUs").ratio, "1.25×");
        assert!(table(&Tsv::parse("x", ""), 1e9, &spawn, &parallel).is_err());
    }
}
