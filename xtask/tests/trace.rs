//! `cargo xtask trace` is true: traced in the sandbox as a student runs it,
//! each reference program's trace ends with the tables and end counts the
//! program must have had, names the pids the program printed, and does not
//! change what the program prints.

mod common;

use common::{Scratch, root, xtask};
use trace::model::{Action, Io, Life, Obj, Trace, open_ends};

/// What one traced run showed.
struct Traced {
    trace: Trace,
    /// The program's stdout, as `trace` printed it.
    stdout: String,
    /// Everything `trace` printed.
    text: String,
    /// The saved log (in a scratch folder kept as long as this).
    log: std::path::PathBuf,
    _scratch: Scratch,
}

/// What a successful command printed.
fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
}

/// `cargo xtask trace N [ARGS...]`, with its log read back.
fn traced(exercise: &str, args: &[&str]) -> Traced {
    let scratch = Scratch::new(&format!("trace-{exercise}-{}", args.len()));
    let log = scratch.dir.join("trace.log");
    let mut cmd = xtask(root());
    cmd.args(["trace", exercise, "--save-log"]).arg(&log);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    let text = stdout_of(&mut cmd);
    let records = trace::log::parse(&std::fs::read_to_string(&log).unwrap()).unwrap();
    let stdout = program_stdout(&text);
    Traced {
        trace: trace::model::replay(&records),
        stdout,
        text,
        log,
        _scratch: scratch,
    }
}

/// The program's stdout lines ("  | …") from `trace`'s report.
fn program_stdout(report: &str) -> String {
    let mut lines = report
        .lines()
        .skip_while(|l| *l != "the program's stdout:")
        .skip(1);
    let mut out = String::new();
    for l in lines.by_ref() {
        let Some(line) = l.strip_prefix("  | ") else { break };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The same program run in the sandbox without the tracer.
fn untraced(package: &str, args: &[&str]) -> String {
    let built = checks::build::build(root(), &[package], &checks::build::BuildOptions::default()).unwrap();
    let outcome = sandbox::run(&sandbox::Spec::new(built.binary(package).unwrap()).args(args)).unwrap();
    assert_eq!(outcome.status, sandbox::Status::Exited(0), "{outcome:?}");
    String::from_utf8(outcome.stdout).unwrap()
}

/// Numbers (pids) blanked, so two runs compare: each run of digits is one `#`.
fn shape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// The number after `prefix` on each line that has it.
fn numbers_after(text: &str, prefix: &str) -> Vec<i32> {
    text.lines()
        .filter_map(|l| {
            let rest = &l[l.find(prefix)? + prefix.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

fn children(t: &Trace) -> Vec<i32> {
    t.steps
        .iter()
        .filter_map(|s| match s.action {
            Action::Spawn {
                child, thread: false, ..
            } => Some(child),
            _ => None,
        })
        .collect()
}

fn last(t: &Trace) -> &trace::model::State {
    &t.steps.last().expect("a trace has steps").state
}

/// Every process ended, every child collected, every end of every pipe closed.
fn all_clean(t: &Trace) {
    let s = last(t);
    for (pid, p) in &s.procs {
        assert_eq!(p.life, Life::Exited(0), "pid {pid}");
        assert!(p.parent.is_none() || p.reaped, "pid {pid} was not waited for");
    }
    for p in 0..s.pipes.len() {
        assert_eq!(
            (open_ends(s, p, false), open_ends(s, p, true)),
            (0, 0),
            "pipe {p}"
        );
        assert_eq!(s.pipes[p].held(), 0, "pipe {p} still holds bytes");
    }
}

fn eof_read_by(t: &Trace, pid: i32) -> bool {
    t.steps
        .iter()
        .any(|s| s.pid == pid && matches!(s.action, Action::Read { result: Io::Eof, .. }))
}

#[test]
fn childpipe_trace_shows_the_fork_copy_and_the_printed_pids() {
    let t = traced("2", &[]);
    assert_eq!(shape(&t.stdout), shape(&untraced("childpipe", &[])));
    assert_eq!(numbers_after(&t.stdout, "[parent: "), vec![t.trace.first]);
    assert_eq!(numbers_after(&t.stdout, "[child: "), children(&t.trace));
    // Just after fork: one pipe, two read ends and two write ends.
    let fork = t
        .trace
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::Spawn { .. }))
        .unwrap();
    assert_eq!(fork.state.pipes.len(), 1);
    assert_eq!(
        (open_ends(&fork.state, 0, false), open_ends(&fork.state, 0, true)),
        (2, 2)
    );
    assert!(
        t.text
            .contains("a copy of fds 0–4: pipe A now has 2 read ends and 2 write ends"),
        "{}",
        t.text
    );
    // 12 bytes went through, all were read.
    assert_eq!(last(&t.trace).pipes[0].written, 12);
    all_clean(&t.trace);
}

#[test]
fn closing_ends_reader_sees_end_of_file_only_when_no_write_end_is_left() {
    let t = traced("3", &[]);
    assert_eq!(shape(&t.stdout), shape(&untraced("closing-ends", &[])));
    let first = t.trace.first;
    assert!(eof_read_by(&t.trace, first));
    // At the end of file read, no write end was open anywhere.
    let eof = t
        .trace
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::Read { result: Io::Eof, .. }))
        .unwrap();
    assert_eq!(open_ends(&eof.state, 0, true), 0);
    assert!(trace::advice::advise(&t.trace).is_empty(), "{}", t.text);
    all_clean(&t.trace);
}

#[test]
fn closing_ends_keeping_the_write_end_is_seen_and_advised() {
    let t = traced("3", &["--keep-write-end"]);
    let first = t.trace.first;
    assert!(!eof_read_by(&t.trace, first), "{}", t.text);
    // The parent still held its write end (fd 4) when it ended.
    let gone = t
        .trace
        .steps
        .iter()
        .position(|s| s.pid == first && matches!(s.action, Action::Gone { .. }))
        .unwrap();
    let before = &t.trace.steps[gone - 1].state;
    let table = &before.tables[before.procs[&first].table];
    assert_eq!(
        table.get(&4).map(|e| &e.obj),
        Some(&Obj::Pipe { pipe: 0, write: true })
    );
    let advice = trace::advice::advise(&t.trace);
    assert!(
        advice.iter().any(
            |a| matches!(a, trace::advice::Advice::UnusedEnd { pid, fd: 4, write: true, .. } if *pid == first)
        ),
        "{advice:?}"
    );
}

#[test]
fn child_to_child_has_two_children_one_writes_one_reads_until_end_of_file() {
    let t = traced("4", &[]);
    assert_eq!(shape(&t.stdout), shape(&untraced("child-to-child", &[])));
    let kids = children(&t.trace);
    assert_eq!(kids.len(), 2);
    assert_eq!(numbers_after(&t.stdout, "[writer: "), vec![kids[0]]);
    assert_eq!(numbers_after(&t.stdout, "[reader: "), vec![kids[1]]);
    assert_eq!(numbers_after(&t.stdout, "[parent: ")[0], t.trace.first);
    assert!(eof_read_by(&t.trace, kids[1]));
    all_clean(&t.trace);
}

#[test]
fn child_to_child_pipeline_dup2s_onto_stdin_and_stdout_and_exec_closes_the_rest() {
    let args = ["echo", "hello", "--", "tr", "a-z", "A-Z"];
    let t = traced("4", &args);
    assert_eq!(t.stdout, "HELLO\n");
    let execs: Vec<_> = t
        .trace
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::Exec { .. }))
        .collect();
    assert_eq!(execs.len(), 2);
    for s in execs {
        // After execve, what /proc shows: only fds 0-2 are left, and one of
        // them is an end of the pipe.
        let p = &s.state.procs[&s.pid];
        let table = &s.state.tables[p.table];
        assert!(table.keys().all(|fd| *fd <= 2), "{table:?}");
        let (fd, write) = if p.program == "echo" {
            (1, true)
        } else {
            (0, false)
        };
        assert_eq!(table[&fd].obj, Obj::Pipe { pipe: 0, write }, "{}", p.program);
    }
    assert!(eof_read_by(&t.trace, children(&t.trace)[1]));
    // However the stops came in, the end of file is shown after the last
    // write end closed.
    let eof = t
        .trace
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::Read { result: Io::Eof, .. }))
        .unwrap();
    assert_eq!(open_ends(&eof.state, 0, true), 0, "{}", t.text);
    all_clean(&t.trace);
}

#[test]
fn fork_thread_clone_files_child_shares_the_table() {
    let t = traced("7", &[]);
    assert_eq!(shape(&t.stdout), shape(&untraced("fork-thread", &[])));
    let spawn = t
        .trace
        .steps
        .iter()
        .find_map(|s| match s.action {
            Action::Spawn { child, shared, .. } => Some((s, child, shared)),
            _ => None,
        })
        .unwrap();
    let (step, child, shared) = spawn;
    assert!(shared);
    let procs = &step.state.procs;
    assert_eq!(procs[&child].table, procs[&t.trace.first].table);
    let mut printed = numbers_after(&t.stdout, "from pid ");
    printed.sort_unstable();
    let mut pids = vec![t.trace.first, child];
    pids.sort_unstable();
    assert_eq!(printed, pids);
    all_clean(&t.trace);
}

#[test]
fn mpsc_many_writers_close_their_read_ends_and_the_reader_gets_every_byte() {
    let args = ["--writers", "3", "--messages", "5"];
    let t = traced("11", &args);
    assert_eq!(shape(&t.stdout), shape(&untraced("mpsc", &args)));
    let kids = children(&t.trace);
    assert_eq!(kids.len(), 3);
    let s = last(&t.trace);
    // Two pipes: the records', and the writers' starting gate, which
    // nobody writes (its end of file is the signal to start).
    assert_eq!(s.pipes.len(), 2);
    let records: Vec<_> = s.pipes.iter().filter(|p| p.written > 0).collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].written, 3 * 5 * 4096);
    assert_eq!(records[0].taken, 3 * 5 * 4096);
    for k in &kids {
        // Each writer closed its read end before writing.
        let closed = t.trace.steps.iter().any(|st| {
            st.pid == *k
                && matches!(
                    st.action,
                    Action::Close {
                        was: Some(Obj::Pipe { write: false, .. }),
                        ..
                    }
                )
        });
        assert!(closed, "writer {k} never closed its read end");
    }
    assert!(eof_read_by(&t.trace, t.trace.first));
    all_clean(&t.trace);
    // `--at` the last step: the three writers are alike, printed once.
    let at = stdout_of(
        xtask(root())
            .args(["trace", "11", "--from-log"])
            .arg(&t.log)
            .args(["--at", &t.trace.steps.len().to_string()]),
    );
    let list = kids.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
    assert!(
        at.contains(&format!(
            "pids {list} (3 alike) mpsc, child of {}: exited 0",
            t.trace.first
        )),
        "{at}"
    );
    assert!(
        at.contains("pipe A: 0 read ends, 0 write ends; holds 0 bytes"),
        "{at}"
    );
}

#[test]
fn the_page_steps_are_the_timeline_steps() {
    let scratch = Scratch::new("trace-page");
    let page = scratch.dir.join("t.html");
    let log = scratch.dir.join("t.log");
    let text = stdout_of(
        xtask(root())
            .args(["trace", "3", "--save-log"])
            .arg(&log)
            .arg("--html")
            .arg(&page),
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let trace = trace::model::replay(&trace::log::parse(&std::fs::read_to_string(&log).unwrap()).unwrap());
    // One frame per line of the terminal's timeline, in order, captioned
    // with that line word for word.
    let captions: Vec<String> = html
        .split("<span class=\"text\">")
        .skip(1)
        .map(|s| {
            let caption = s.split("</span>").next().unwrap();
            caption
                .replace("&gt;", ">")
                .replace("&lt;", "<")
                .replace("&amp;", "&")
        })
        .collect();
    let lines = trace::timeline::lines(&trace);
    assert_eq!(captions.len(), lines.len());
    let mut printed = 0;
    for (caption, line) in captions.iter().zip(&lines) {
        assert_eq!(*caption, line.text, "steps {}–{}", line.first, line.last);
        let single = format!("{}. {}\n", line.first, line.text);
        let range = format!("{}–{}. {}\n", line.first, line.last, line.text);
        let at = text[printed..]
            .find(if line.first == line.last { &single } else { &range })
            .unwrap_or_else(|| panic!("the terminal does not show `{}` in order:\n{text}", line.text));
        printed += at;
    }
    assert_eq!(
        lines.last().unwrap().last,
        trace.steps.len(),
        "every step is on the page"
    );
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "the page loads nothing"
    );
}

#[test]
fn a_traced_hang_is_stopped_diagnosed_and_explained() {
    let copy = Scratch::workspace("trace-hang-03");
    common::strip_solutions(&copy.dir.join("crates/03-closing-ends/src/main.rs"));
    let log = copy.dir.join("trace.log");
    let text = stdout_of(xtask(&copy.dir).args(["trace", "3", "--save-log"]).arg(&log));
    // The parent kept its write end: its read never returns.
    let blocked = text
        .lines()
        .rfind(|l| l.contains("read(3) blocks: pipe A is empty and its write end is still open in"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(blocked.ends_with("fd 4 (itself)"), "{blocked}");
    // The trace's last state is what the sandbox's diagnosis read in /proc:
    // the reader blocked in read(3), its own fd 4 the only write end.
    let trace = trace::model::replay(&trace::log::parse(&std::fs::read_to_string(&log).unwrap()).unwrap());
    let reader = trace.first;
    let last = &trace.steps.last().unwrap().state;
    assert_eq!(
        last.procs[&reader].blocked,
        Some(trace::model::Blocked::Read {
            fd: 3,
            pipe: 0,
            writers: vec![(reader, 4)]
        })
    );
    let diagnosis = format!(
        "pid {reader} (closing-ends) is blocked in read(fd 3) on pipe:[{}]; the write end is still open in pid {reader} fd 4",
        last.pipes[0].inode
    );
    assert!(
        text.contains(&diagnosis),
        "the sandbox's diagnosis agrees:\n{text}"
    );
    assert!(
        text.contains("the run deadlocked") || text.contains("the run timed out"),
        "{text}"
    );
    assert!(
        text.contains("while its own fd 4 is a write end of pipe A"),
        "advice:\n{text}"
    );
}

#[test]
fn where_ptrace_is_refused_the_tracer_says_so_in_one_line_and_exits_2() {
    // A process that is already traced cannot ask to be traced again: an
    // inner tracer, run under an outer one, is refused as ptrace_scope 3
    // or a container would refuse it.
    let built = checks::build::build(root(), &["trace"], &checks::build::BuildOptions::default()).unwrap();
    let tracer = built.binary("ipc-lab-trace").unwrap();
    let scratch = Scratch::new("trace-refused");
    let inner_log = scratch.dir.join("inner.log");
    let out = std::process::Command::new(tracer)
        .args(["--log", "/dev/null", "--"])
        .arg(tracer)
        .arg("--log")
        .arg(&inner_log)
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot trace: ptrace"), "{stderr}");
    let records = trace::log::parse(&std::fs::read_to_string(&inner_log).unwrap()).unwrap();
    assert!(trace::model::replay(&records).refused);
}

/// Headless Chromium with `args`, on `page` at frame `frame`; its stdout.
fn chromium(scratch: &Scratch, page: &std::path::Path, frame: usize, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--window-size=1200,900",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.dir.join("profile").display()
        ))
        .args(args)
        .arg(format!("file://{}#{frame}", page.display()))
        .output()
        .expect("chromium runs (`apt-get install chromium`; .ci/run installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// CI runs it (`.ci/run` installs Chromium); locally: `cargo test -p xtask
/// --test trace -- --ignored` with `chromium` on the PATH.
#[test]
#[ignore = "needs Chromium"]
fn the_page_steps_through_in_a_browser_and_shows_the_blocking_step() {
    let scratch = Scratch::new("trace-chromium");
    let page = root().join("docs/src/trace/03-closing-ends-forgotten-close.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let frames = html.matches("<section class=\"step\"").count();
    for frame in [1, frames] {
        // After the page's script ran, exactly the frame asked for shows.
        let dom = String::from_utf8(chromium(&scratch, &page, frame, &["--dump-dom"])).unwrap();
        for k in 1..=frames {
            let open = format!("<section class=\"step\" id=\"s{k}\"");
            let at = dom.find(&open).unwrap_or_else(|| panic!("frame {k} missing"));
            let tag = &dom[at..at + dom[at..].find('>').unwrap()];
            assert_eq!(
                tag.contains("hidden"),
                k != frame,
                "frame {k} when showing {frame}: {tag}"
            );
        }
        assert!(dom.contains(&format!("<span id=\"count\">{frame} / {frames}</span>")));
        let shot = scratch.dir.join(format!("frame-{frame}.png"));
        chromium(
            &scratch,
            &page,
            frame,
            &[&format!("--screenshot={}", shot.display())],
        );
        let png = std::fs::read(&shot).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 20_000,
            "{} bytes",
            png.len()
        );
    }
    // The last frame is the hang: the reader's own write end, framed in red.
    let last = html.split("<section class=\"step\"").last().unwrap();
    assert!(
        last.contains("read(3) blocks") && last.contains("(itself)"),
        "{last}"
    );
    assert!(last.contains("stroke=\"#e03131\""), "the culprit end is framed");
}

#[test]
fn a_failed_check_that_hangs_is_explained_with_the_tracer_s_advice() {
    // 03 with the parent keeping its write end (the `keeps-write-end`
    // mutant): its read never sees end of file, the checks hang.
    let copy = Scratch::workspace("trace-advice-03");
    let main = copy.exercise_source("03-closing-ends");
    let text = std::fs::read_to_string(&main).unwrap();
    let broken = text.replacen(
        "drop(write_end);\n                // END SOLUTION",
        "let _still_open = &write_end;\n                // END SOLUTION",
        1,
    );
    assert_ne!(text, broken, "03's solution region moved: update this test");
    std::fs::write(&main, broken).unwrap();
    let assert = xtask(&copy.dir).args(["check", "3"]).assert().code(1);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    // The failed check's own explanation names the parent's open write end.
    let advice = out
        .lines()
        .position(|l| l.contains("run again under the tracer, it shows why:"))
        .unwrap_or_else(|| panic!("no advice:\n{out}"));
    let named = out
        .lines()
        .skip(advice + 1)
        .take_while(|l| l.starts_with("    - "))
        .any(|l| l.contains("blocked reading pipe A while its own fd 4 is a write end of pipe A"));
    assert!(named, "{out}");
    // One traced run per failing exercise: its first failed check.
    assert_eq!(out.matches("run again under the tracer").count(), 1, "{out}");
    // Passing exercises get no second run, so no advice.
    let ok = xtask(root()).args(["check", "3"]).assert().success();
    let ok = String::from_utf8_lossy(&ok.get_output().stdout).into_owned();
    assert!(!ok.contains("under the tracer"), "{ok}");
}

#[test]
fn pipesizer_traced_completes_and_shows_the_pipe_full() {
    // Without arguments, 05 is traced with a one-page pipe (said on
    // screen): the writes in a row are one step, every byte counted, and
    // the last write blocks on a full pipe whose only read end is its own.
    let t = traced("5", &[]);
    assert!(
        t.text.starts_with("tracing `pipesizer --size 4096`"),
        "{}",
        t.text
    );
    let first = t.trace.first;
    let writes: Vec<_> = t
        .trace
        .steps
        .iter()
        .filter_map(|s| match s.action {
            Action::Write {
                result: Io::Bytes(1),
                times,
                ..
            } => Some(times),
            _ => None,
        })
        .collect();
    assert_eq!(writes, vec![4096], "{}", t.text);
    let s = last(&t.trace);
    assert_eq!(s.pipes[0].capacity, 4096);
    assert_eq!(s.pipes[0].held(), 4096);
    assert!(
        matches!(
            s.procs[&first].blocked,
            Some(trace::model::Blocked::Write { fd: 4, pipe: 0, .. })
        ),
        "{}",
        t.text
    );
    assert!(
        t.text
            .contains("write(4, 1 byte), 4096 times in a row, returns 1: pipe A holds 4096 bytes"),
        "{}",
        t.text
    );
    assert!(
        t.text
            .contains("write(4) blocks: pipe A is full and its read end is open in pid"),
        "{}",
        t.text
    );
    // The printed count is every byte, one line each.
    assert_eq!(t.stdout.lines().next(), Some("1"));
    assert!(t.text.contains("… and 4056 more lines"), "{}", t.text);
    // Holding the read end of the pipe it fills is 05's point (without it
    // the write fails with EPIPE): no advice to close it.
    let advice = trace::advice::advise(&t.trace);
    assert!(
        !advice
            .iter()
            .any(|a| matches!(a, trace::advice::Advice::UnusedEnd { .. })),
        "{advice:?}"
    );
}
