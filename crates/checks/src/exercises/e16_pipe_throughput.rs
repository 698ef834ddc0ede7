//! Exercise 16, pipe-throughput: what it must print, and its hint.
//!
//! No check asks for a speed (the machine is shared): they check integrity
//! and structure. Every configuration is reported; every byte arrived; every
//! reader that reads the bytes got the stream's checksum, and the two modes
//! that never read them say so; each rate is the bytes over the time
//! printed; the "best" lines name the fastest verified runs, with their
//! ratio to the fastest memcpy.

use crate::expect::{ensure, exited, indent, stderr_contains, stdout, stdout_contains};
use crate::{Check, Exercise, Verdict};
use sandbox::Outcome;
use std::time::Duration;

pub(crate) const EXERCISE: Exercise = Exercise {
    number: 16,
    name: "pipe-throughput",
    dir: "16-pipe-throughput",
    title: "How fast a pipe moves bytes",
    mirrors: "the lecture's \"a pipe is a kernel buffer\"",
    lesson: "a pipe copies every byte twice (in and out of the kernel); a bigger pipe, vmsplice and splice remove sleeps and copies, threads remove the kernel, and memcpy is the ceiling",
    hint: "set_pipe_size(&write_end, capacity) enlarges the pipe before the fork. send_vmsplice: \
           loop while bytes are left — let n = vmsplice(write_end, rest)?; 0 means \
           Err(io::ErrorKind::WriteZero.into()); otherwise rest = &rest[n..]. receive_splice: loop \
           on splice(read_end, &null, chunk, libc::SPLICE_F_MOVE) and add up what it returns \
           until it returns 0 (every writer closed).",
    checks,
};

/// Thirty transfers of 16 MiB on a machine that others share.
const SLOW: Duration = Duration::from_secs(30);

/// Every mode, in order: its `--tsv` key, its label in the table, whether
/// its reader checks the bytes, and whether it runs between two processes.
const MODES: [(&str, &str, bool, bool); 6] = [
    ("pipe", "write/read, 64 KiB pipe", true, true),
    ("pipe-1m", "write/read, 1 MiB pipe", true, true),
    ("vmsplice-read", "vmsplice/read, 1 MiB pipe", true, true),
    ("vmsplice-splice", "vmsplice/splice, 1 MiB pipe", false, true),
    ("channel", "threads, channel", true, false),
    ("memcpy", "memcpy (the ceiling)", false, false),
];

/// The default chunk sizes.
const CHUNKS: [u64; 5] = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];

/// `4 KiB`, `1 MiB`, as the table prints chunk sizes.
fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

/// One `run` line of the `--tsv` output.
#[derive(Debug)]
struct Run<'a> {
    mode: &'a str,
    chunk: u64,
    rate: u128,
    sum: &'a str,
}

/// The `--tsv` output for `bytes` per run and `chunks`.
fn tsv(o: &Outcome, bytes: u64, chunks: &[u64]) -> Verdict {
    // Exit status last: a run whose data arrived wrong is worth naming.
    let out = stdout(o);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    let want = 2 + MODES.len() * chunks.len() + 2;
    ensure(lines.len() == want, || {
        format!(
            "expected {want} tab-separated lines (bytes, checksum, one run per mode and chunk \
             size, best, best-pipe), got {}:\n{}",
            lines.len(),
            indent(&out)
        )
    })?;
    ensure(lines[0] == ["bytes", &bytes.to_string()], || {
        format!("expected bytes\t{bytes} first, got {:?}", lines[0].join("\t"))
    })?;
    let expected_sum = match lines[1][..] {
        ["checksum", sum] if sum.len() == 16 && sum.bytes().all(|b| b.is_ascii_hexdigit()) => sum,
        _ => {
            return Err(format!(
                "expected checksum\tHEX second, got {:?}",
                lines[1].join("\t")
            ));
        }
    };
    let mut runs = Vec::new();
    let mut at = 2;
    for (key, _, verified, _) in MODES {
        for &chunk in chunks {
            let l = &lines[at];
            at += 1;
            let shown = l.join("\t");
            let number = |i: usize| l.get(i).and_then(|v| v.parse::<u128>().ok());
            let (Some(got_chunk), Some(got_bytes), Some(ns), Some(rate)) =
                (number(2), number(3), number(4), number(5))
            else {
                return Err(format!(
                    "expected run\t{key}\t{chunk}\tBYTES\tNS\tBYTES_PER_S\tSUM, got {shown:?}"
                ));
            };
            ensure(
                l.len() == 7 && l[0] == "run" && l[1] == key && got_chunk == u128::from(chunk),
                || format!("expected the run of {key} with {chunk}-byte chunks here, got {shown:?}"),
            )?;
            ensure(got_bytes == u128::from(bytes), || {
                format!("{key}, {chunk}-byte chunks: {got_bytes} bytes arrived of the {bytes} sent")
            })?;
            ensure(
                ns > 0 && rate > 0 && rate == got_bytes * 1_000_000_000 / ns,
                || {
                    format!(
                        "{key}, {chunk}-byte chunks: the rate must be bytes × 10⁹ / ns, positive: {shown:?}"
                    )
                },
            )?;
            if verified {
                ensure(l[6] == expected_sum, || {
                    format!(
                        "{key}, {chunk}-byte chunks: the reader's checksum {} is not the stream's, \
                         {expected_sum}: the bytes arrived wrong",
                        l[6]
                    )
                })?;
            } else {
                ensure(l[6] == "-", || {
                    format!(
                        "{key} never reads the bytes, so it has no checksum to show (-), got {:?}",
                        l[6]
                    )
                })?;
            }
            runs.push(Run {
                mode: key,
                chunk,
                rate,
                sum: l[6],
            });
        }
    }
    let ceiling = runs
        .iter()
        .filter(|r| r.mode == "memcpy")
        .map(|r| r.rate)
        .max()
        .unwrap_or(1);
    for (line, key, between_processes) in [(&lines[at], "best", false), (&lines[at + 1], "best-pipe", true)] {
        let candidates = runs
            .iter()
            .filter(|r| r.sum != "-" && (!between_processes || MODES.iter().any(|m| m.0 == r.mode && m.3)));
        let fastest = candidates.map(|r| r.rate).max().unwrap_or(0);
        let shown = line.join("\t");
        let parsed = match line[..] {
            [k, mode, chunk, rate, ratio] if k == key => (|| {
                Some((
                    mode,
                    chunk.parse::<u64>().ok()?,
                    rate.parse::<u128>().ok()?,
                    ratio.parse::<f64>().ok()?,
                ))
            })(),
            _ => None,
        };
        let Some((mode, chunk, rate, ratio)) = parsed else {
            return Err(format!(
                "expected {key}\tMODE\tCHUNK\tBYTES_PER_S\tRATIO, got {shown:?}"
            ));
        };
        ensure(
            rate == fastest
                && runs
                    .iter()
                    .any(|r| r.mode == mode && r.chunk == chunk && r.rate == rate),
            || {
                format!(
                    "{key} should name the fastest verified run{}: {shown:?}",
                    if between_processes {
                        " between processes"
                    } else {
                        ""
                    }
                )
            },
        )?;
        let expected = rate as f64 / ceiling as f64;
        ensure((ratio - expected).abs() <= 0.0006, || {
            format!("{key}: the ratio to the fastest memcpy should be {expected:.3}, got {ratio}")
        })?;
    }
    exited(o, 0)
}

/// The table: a title, a header, one row per mode and chunk size with the
/// data's verdict, and the two "best" lines.
fn table(o: &Outcome, bytes_label: &str, chunks: &[u64]) -> Verdict {
    // Exit status last: a run whose data arrived wrong is worth naming.
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().collect();
    let want = 2 + MODES.len() * chunks.len() + 2;
    ensure(lines.len() == want, || {
        format!(
            "expected {want} lines (a title, a header, one per mode and chunk size, two best \
             lines), got {}:\n{}",
            lines.len(),
            indent(&out)
        )
    })?;
    let title = format!("pipe-throughput: {bytes_label} per run");
    ensure(lines[0].starts_with(&title), || {
        format!("expected the title \"{title}, …\", got {:?}", lines[0])
    })?;
    let mut rows = lines[2..].iter();
    for (_, label, verified, _) in MODES {
        for &chunk in chunks {
            let line = rows.next().copied().unwrap_or_default();
            let rest = line.strip_prefix(label).map(str::trim_start).unwrap_or_default();
            let size = human(chunk);
            let rest = rest
                .strip_prefix(size.as_str())
                .map(str::trim_start)
                .unwrap_or_default();
            let (rate, data) = rest.split_once("  ").unwrap_or_default();
            let rate = rate.parse::<f64>().unwrap_or(-1.0);
            ensure(rate > 0.0, || {
                format!("expected \"{label}  {size}  GB/s  data\", with a positive rate, got {line:?}")
            })?;
            let data = data.trim();
            if verified {
                ensure(data == "checksum ok", || {
                    format!(
                        "{label}, {size} chunks: the reader must find the stream's checksum, got {data:?}"
                    )
                })?;
            } else {
                ensure(data.starts_with("not read"), || {
                    format!(
                        "{label}, {size} chunks: this mode never reads the bytes and must say so, got {data:?}"
                    )
                })?;
            }
        }
    }
    for (line, title) in [
        (lines[want - 2], "best verified: "),
        (lines[want - 1], "best verified between processes: "),
    ] {
        ensure(line.starts_with(title) && line.contains(" × memcpy ("), || {
            format!("expected \"{title}MODE, SIZE chunks, R GB/s = X × memcpy (…)\", got {line:?}")
        })?;
    }
    exited(o, 0)
}

fn checks() -> Vec<Check> {
    vec![
        Check::public("--bytes 16M: every way and chunk size, data verified", 3, |o| {
            table(o, "16 MiB", &CHUNKS)
        })
        .args(["--bytes", "16M"])
        .timeout(SLOW),
        Check::public(
            "--tsv: checksums match, rates and best lines consistent",
            3,
            |o| tsv(o, 16 << 20, &CHUNKS),
        )
        .args(["--tsv", "--bytes", "16M"])
        .timeout(SLOW),
        Check::public("--help explains and exits 0", 1, |o| {
            exited(o, 0)?;
            stdout_contains(o, "Usage: pipe-throughput")
        })
        .args(["--help"]),
        // BEGIN HIDDEN
        Check::hidden(
            "--bytes 2500K rounds up to 3 MiB; two chunk sizes, twice each",
            1,
            |o| tsv(o, 3 << 20, &[8 << 10, 512 << 10]),
        )
        .args([
            "--tsv", "--bytes", "2500K", "--chunks", "8K,512K", "--repeat", "2",
        ])
        .timeout(SLOW),
        Check::hidden("--chunks 3K is a usage error (exit 2)", 1, |o| {
            exited(o, 2)?;
            stderr_contains(o, "Usage: pipe-throughput")
        })
        .args(["--chunks", "3K"]),
        // END HIDDEN
    ]
}
