//! The sandbox against hostile programs: programs that hang, crash, flood,
//! bomb, hog memory, leak children, escape into new sessions, deadlock, and
//! run in parallel.
//!
//! The hostile programs proper (`fixtures/`, shared with the
//! `hostile_table` example) are C, Rust and shell programs, compiled once
//! per test process; each test named `hostile_*` runs one and checks the
//! status and the words of the outcome, and the two promises every run
//! keeps: a verdict within the timeout plus 1 s, and no process left. As
//! root (as CI is), `as_an_ordinary_user_too` runs this whole file again as
//! `nobody`, where the sandbox has no cgroups and drops no privileges.
//!
//! Every fixture is bounded by itself (`sleep 100`, `alarm(10)`, loops of a
//! few thousand rounds, never an endless wait without a timeout), and every
//! test ends by checking `/proc`: no process whose command line carries the
//! test's marker may be left. The marker is an argument, a `sleep` duration
//! or a shell comment unique to the test.

mod fixtures;

use fixtures::Fixtures;
use sandbox::{Memory, Outcome, Spec, Status};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Makes the markers in `text` unique to this test process: each `@`
/// becomes our pid, so that two test runs at once do not see each other's
/// processes (`sleep 101.1@` becomes `sleep 101.14242`).
fn unique(text: &str) -> String {
    text.replace('@', &std::process::id().to_string())
}

/// `/bin/sh -c SCRIPT` with a 3 s timeout (markers made [`unique`]).
fn sh(script: &str) -> Spec {
    Spec::new("/bin/sh")
        .args(["-c", &unique(script)])
        .timeout(Duration::from_secs(3))
}

/// `/bin/bash -c SCRIPT` (markers made [`unique`]).
fn bash(script: &str) -> Spec {
    Spec::new("/bin/bash")
        .args(["-c", &unique(script)])
        .timeout(Duration::from_secs(3))
}

/// Runs `spec`, printing the outcome (shown when a test fails).
fn run(spec: &Spec) -> Outcome {
    let outcome = sandbox::run(spec).expect("the sandbox itself failed");
    eprintln!(
        "the program {}\nstdout: {:?}\nstderr: {:?}\nnotes: {:#?}\nduration: {:?}",
        outcome.summary(),
        String::from_utf8_lossy(&outcome.stdout),
        String::from_utf8_lossy(&outcome.stderr),
        outcome.notes,
        outcome.duration
    );
    outcome
}

/// The processes whose command line contains `marker` (this test process
/// excluded).
fn processes_with(marker: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            found.push(format!("{name}: {cmdline}"));
        }
    }
    found
}

/// No process of the run is left: `run` returns only once the tree is gone.
fn assert_none_left(marker: &str) {
    let left = processes_with(&unique(marker));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn stdout(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Hands this test binary's fixtures to its copy running as `nobody`.
const FIXTURES_ENV: &str = "SANDBOX_TEST_FIXTURES";

/// The hostile programs, built once per test process (or handed over).
fn fixtures() -> &'static Fixtures {
    static BUILT: OnceLock<Fixtures> = OnceLock::new();
    BUILT.get_or_init(|| {
        if let Some(dir) = std::env::var_os(FIXTURES_ENV) {
            return Fixtures::at(Path::new(&dir));
        }
        // One directory per test process, named after it; those of test
        // processes that have ended are removed.
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for entry in fs::read_dir(base).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("hostile-fixtures-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(format!("hostile-fixtures-{}", std::process::id()));
        Fixtures::build(&dir).expect("cannot build the hostile programs")
    })
}

/// A marker (digits) no other test uses.
fn marker() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}{:04}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs the hostile program `name` and checks what every run promises: a
/// verdict within its timeout plus 1 s (a hang guard, not a speed test),
/// and no process of it left running.
fn hostile(name: &str) -> Outcome {
    let marker = marker();
    let program = fixtures::hostile(fixtures(), name, &marker);
    eprintln!("{name}: {}", program.does);
    let started = Instant::now();
    let o = run(&program.spec);
    let took = started.elapsed();
    let bound = program.spec.limits.timeout + Duration::from_secs(1);
    assert!(
        took <= bound,
        "{name}: the verdict took {took:?}, more than {bound:?}"
    );
    let left = processes_with(&marker);
    assert!(left.is_empty(), "{name} left processes behind: {left:#?}");
    o
}

/// The per-run cgroups this machine gives: (pids, memory).
fn cgroups() -> (bool, bool) {
    static PROBED: OnceLock<(bool, bool)> = OnceLock::new();
    *PROBED.get_or_init(|| {
        let o = run(&Spec::new("/bin/cat").args(["/proc/self/cgroup"]));
        let text = stdout(&o);
        let has = |controller: &str| {
            text.lines().any(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|c| c.split(',').any(|c| c == controller))
                    && l.contains("/sandbox-")
            })
        };
        (has("pids"), has("memory"))
    })
}

/// Whether `notes` has one containing `part`.
fn says(o: &Outcome, part: &str) -> bool {
    o.notes.iter().any(|n| n.contains(part))
}

#[test]
fn reports_the_exit_status() {
    let o = run(&sh("echo hi; exit 3 # marker-exit-3@"));
    assert_eq!(o.status, Status::Exited(3));
    assert_eq!(o.summary(), "exited with status 3");
    assert_eq!(stdout(&o), "hi\n");
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    assert!(o.pid > 1);
    assert_none_left("marker-exit-3@");
}

#[test]
fn names_the_signal_that_killed_it() {
    let o = run(&sh("kill -SEGV $$ # marker-segv@"));
    assert_eq!(o.status, Status::Signaled(libc::SIGSEGV));
    assert_eq!(o.summary(), "was killed by SIGSEGV");
    assert_none_left("marker-segv@");
}

#[test]
fn caps_a_flood_and_counts_the_rest() {
    let spec = sh("head -c 3000000 /dev/zero; head -c 5000 /dev/zero >&2 # marker-flood@")
        .output_cap(1 << 20)
        .timeout(Duration::from_secs(5));
    let o = run(&spec);
    // Less than four times the cap: it runs to its end, and the status
    // says its output was cut.
    assert_eq!(o.status, Status::OutputLimit);
    assert_eq!(o.summary(), "hit the output limit (more than 1 MiB on stdout)");
    assert_eq!(o.stdout.len(), 1 << 20);
    assert_eq!(o.stdout_truncated, 3_000_000 - (1 << 20));
    assert_eq!(o.stderr.len(), 5000);
    assert_eq!(o.stderr_truncated, 0);
    assert_eq!(
        o.notes,
        [
            "it wrote more than the 1 MiB kept of each output stream; the program then exited \
             with status 0",
            "stdout was cut at 1048576 bytes: 1951424 more bytes were dropped"
        ]
    );
    assert_none_left("marker-flood@");
}

#[test]
fn a_child_never_waited_for_is_reported() {
    // The child ends after the shell has become `sleep 0.6` (exec keeps the
    // pid and the children), which never waits: the child stays a zombie
    // until sleep exits and hands it over. (A child that ended before the
    // exec could be reaped by the shell itself.)
    let o = run(&sh("sleep 0.2 & echo $!; exec sleep 0.6"));
    assert_eq!(o.status, Status::Exited(0));
    let child: i32 = stdout(&o).trim().parse().unwrap();
    let note = format!("child {child} (sleep) exited but its parent never waited for it");
    assert_eq!(o.notes, vec![note]);
    let sleep = sandbox::Process {
        pid: child,
        name: "sleep".into(),
    };
    assert_eq!(o.not_waited, [sleep]);
    assert!(o.left_running.is_empty());
}

#[test]
fn stdin_is_fed_and_closed() {
    let o = run(&Spec::new("/bin/cat").stdin(b"hello\nworld\n".to_vec()));
    assert_eq!(o.status, Status::Exited(0));
    assert_eq!(stdout(&o), "hello\nworld\n");
}

#[test]
fn a_large_stdin_flows_while_stdout_is_read() {
    // 4 MiB through cat: more than both pipes hold, so writing stdin and
    // reading stdout must go on at the same time.
    let input: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let o = run(&Spec::new("/bin/cat").stdin(input.clone()).output_cap(8 << 20));
    assert_eq!(o.status, Status::Exited(0));
    assert!(o.stdout == input, "cat's output differs from its input");
}

#[test]
fn a_program_that_ignores_its_stdin_does_not_block_us() {
    let input = vec![b'x'; 4 << 20];
    let o = run(&sh("exit 0 # marker-nostdin@").stdin(input));
    assert_eq!(o.status, Status::Exited(0));
    assert_none_left("marker-nostdin@");
}

#[test]
fn sigpipe_and_the_signal_mask_are_back_to_default() {
    // `yes` dies of SIGPIPE silently when head leaves; were SIGPIPE ignored
    // it would complain on stderr about a broken pipe.
    let o = run(&sh("yes | head -n 1; grep -E '^Sig(Blk|Ign)' /proc/self/status"));
    assert_eq!(o.status, Status::Exited(0));
    assert_eq!(
        stdout(&o),
        "y\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
    assert_eq!(o.stderr, b"");
}

#[test]
fn runs_as_a_user_of_its_own_when_root() {
    if !is_root() {
        eprintln!("not root: the user drop does not apply");
        return;
    }
    let o = run(&sh("id -u; id -g; id -G; grep NoNewPrivs /proc/self/status"));
    let out = stdout(&o);
    let uid: u32 = out.lines().next().unwrap().parse().unwrap();
    let first = sandbox::DEFAULT_POOL_FIRST;
    assert!(
        (first..first + sandbox::DEFAULT_POOL_SIZE).contains(&uid),
        "uid {uid} is not from the pool"
    );
    assert_eq!(out, format!("{uid}\n{uid}\n{uid}\nNoNewPrivs:\t1\n"));
    assert!(o.isolation.has(sandbox::Protection::OwnUser), "{:?}", o.isolation);
}

#[test]
fn the_environment_is_scrubbed() {
    let o = run(&Spec::new("/usr/bin/env"));
    let home = stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("HOME="))
        .map(str::to_owned)
        .unwrap();
    assert_eq!(
        stdout(&o),
        format!("PATH=/usr/local/bin:/usr/bin:/bin\nHOME={home}\nLANG=C.UTF-8\n")
    );
}

#[test]
fn the_working_directory_is_fresh_and_removed_after() {
    let o = run(&sh(
        "pwd; ls -A; stat -c '%u %a' .; echo data > file; test -s file && echo wrote",
    ));
    assert_eq!(o.status, Status::Exited(0));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    // SAFETY: getuid has no preconditions.
    let me = unsafe { libc::getuid() };
    let owner = lines[2].split(' ').next().unwrap().parse::<u32>().unwrap();
    let owner = if is_root() {
        assert_ne!(owner, me, "the directory is the run's, not root's");
        format!("{owner} 700")
    } else {
        String::new()
    };
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[0].contains("/ipc-lab-sandbox-"), "{lines:?}");
    assert_eq!(lines[1], "sh", "only the copied binary is there");
    if is_root() {
        assert_eq!(lines[2], owner);
    }
    assert_eq!(lines[3], "wrote");
    assert!(
        !std::path::Path::new(lines[0]).exists(),
        "{} was not removed",
        lines[0]
    );
}

#[test]
fn a_read_only_program_is_linked_a_writable_one_copied_and_neither_changes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(unique("ipc-lab-link-test-@"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    // Prints how many names the file it runs from has, then tries to
    // change it (an untrusted program must not reach the original). `exit`
    // before the end: sh reads on, and a copy it may change is changed.
    let script = "#!/bin/sh\nstat -c %h \"$0\"\nchmod u+w \"$0\" 2>/dev/null\n\
                  echo : changed >> \"$0\" 2>/dev/null\nexit 0\n";
    let mut counts = Vec::new();
    let link = dir.join("link-to-fixed");
    for (name, mode) in [("fixed", 0o555), ("changing", 0o755), ("link-to-fixed", 0)] {
        let program = dir.join(name);
        if mode == 0 {
            std::os::unix::fs::symlink("fixed", &link).unwrap();
        } else {
            std::fs::write(&program, script).unwrap();
            std::fs::set_permissions(&program, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let o = run(&Spec::new(&program));
        assert_eq!(o.status, Status::Exited(0), "{name}");
        counts.push(stdout(&o).lines().next().unwrap_or_default().to_string());
        assert_eq!(
            std::fs::read_to_string(&program).unwrap(),
            script,
            "{name} was changed"
        );
        let kept = if mode == 0 { 0o555 } else { mode };
        assert_eq!(
            std::fs::metadata(&program).unwrap().permissions().mode() & 0o777,
            kept,
            "{name}'s mode was changed"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Root dropping to nobody links the read-only one (two names while it
    // ran: ours and the run's). Runs as ourselves copy all: the program
    // could make its own file writable. A symbolic link is always copied.
    let linked = if is_root() { "2" } else { "1" };
    assert_eq!(counts, [linked, "1", "1"]);
}

#[test]
fn the_rlimits_are_set_and_cannot_be_raised() {
    let o = run(&Spec::new("/bin/cat").args(["/proc/self/limits"]));
    let limits = stdout(&o);
    let row = |name: &str| -> Vec<String> {
        let line = limits.lines().find(|l| l.starts_with(name)).unwrap();
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::to_owned)
            .collect()
    };
    // The CPU's hard limit is a second later: SIGXCPU first, then SIGKILL.
    assert_eq!(row("Max cpu time"), ["10", "11"]);
    assert_eq!(row("Max address space"), ["1073741824", "1073741824"]);
    assert_eq!(row("Max file size"), ["16777216", "16777216"]);
    assert_eq!(row("Max open files"), ["256", "256"]);
    assert_eq!(row("Max core file size"), ["0", "0"]);
    // The run has a user of its own: 256, or 256 + 16 when a per-run
    // cgroup holds the budget (so that the cgroup refuses, and counts).
    let nproc = row("Max processes");
    assert_eq!(nproc[0], nproc[1]);
    assert!(
        ["256", "272"].contains(&nproc[0].as_str()) || !is_root(),
        "{nproc:?}"
    );
}

#[test]
fn a_file_larger_than_the_limit_is_cut_by_sigxfsz() {
    let limits = sandbox::Limits {
        file_size: 4096,
        ..Default::default()
    };
    let o = run(&sh("exec head -c 10000 /dev/zero > big").limits(limits));
    assert_eq!(o.status, Status::Signaled(libc::SIGXFSZ));
    assert_eq!(o.summary(), "was killed by SIGXFSZ (file size limit)");
}

#[test]
fn a_missing_program_is_an_error() {
    let err = sandbox::run(&Spec::new("/nonexistent/program")).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("/nonexistent/program"), "{err}");
}

#[test]
fn a_file_that_is_not_a_program_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(&path, [0u8, 1, 2, 3]).unwrap();
    let err = sandbox::run(&Spec::new(&path)).unwrap_err();
    assert!(err.to_string().contains("execve failed"), "{err}");
}

#[test]
fn a_pipe_deadlock_is_stopped_early() {
    // The shell waits to read what cat writes; cat waits to read what the
    // shell would write: each holds the pipe end the other waits on.
    let spec =
        bash("coproc cat; read -r x <&\"${COPROC[0]}\" # marker-coproc@").timeout(Duration::from_secs(5));
    let o = run(&spec);
    assert_eq!(o.status, Status::Deadlock);
    // Well before the 5 s timeout (detection takes about 0.3 s; the margin
    // is for busy machines).
    assert!(o.duration < Duration::from_millis(2500), "{:?}", o.duration);
    assert!(o.summary().starts_with("deadlocked and was stopped after"));
    assert!(o.notes.iter().any(|n| n.contains("Deadlock")), "{:?}", o.notes);
    assert_none_left("marker-coproc@");
}

#[test]
fn parallel_runs_keep_their_own_descendants() {
    // Each run leaves a child and a setsid daemon behind; each outcome must
    // name exactly its own two, and no other run's.
    let runs: Vec<(usize, Outcome)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                s.spawn(move || {
                    let script = format!(
                        "sleep 105.{i}@ & echo $!; (setsid sleep 106.{i}@ & echo $!); sleep 0.3; exit {i}"
                    );
                    (i, run(&sh(&script)))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all_pids: Vec<i32> = runs
        .iter()
        .flat_map(|(_, o)| {
            stdout(o)
                .lines()
                .map(|l| l.parse::<i32>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    for (i, o) in &runs {
        assert_eq!(o.status, Status::Exited(*i as i32));
        let own: Vec<i32> = stdout(o).lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(o.notes.len(), 1, "{:?}", o.notes);
        let note = &o.notes[0];
        assert!(note.starts_with("left 2 processes running"), "{note}");
        let left: Vec<i32> = o.left_running.iter().map(|p| p.pid).collect();
        assert_eq!(left.len(), 2);
        assert!(left.iter().all(|pid| own.contains(pid)), "{left:?} {own:?}");
        for pid in &all_pids {
            let named = note.contains(&format!("pid {pid} "));
            assert_eq!(named, own.contains(pid), "run {i}: pid {pid} in {note:?}");
        }
    }
    for i in 0..4 {
        assert_none_left(&format!("105.{i}@"));
        assert_none_left(&format!("106.{i}@"));
    }
}

#[test]
fn the_death_of_the_supervisor_is_an_error_not_a_hang() {
    if !is_root() {
        eprintln!("not root: the program could not be kept from its supervisor anyway");
        return;
    }
    // Run as root (no user drop), the program can kill its supervisor; it
    // then dies with it (PR_SET_PDEATHSIG).
    let spec = sh("kill -9 $PPID; exec sleep 108.1@").identity(sandbox::Identity::Runner);
    let err = sandbox::run(&spec).unwrap_err();
    assert!(err.to_string().contains("supervisor"), "{err}");
    assert_none_left("108.1@");
}

#[test]
fn each_run_has_its_own_process_budget() {
    let probe = run(&sh("cat /proc/self/cgroup"));
    if !stdout(&probe).contains("/sandbox-") {
        eprintln!("no per-run cgroup here: runs share RLIMIT_NPROC");
        return;
    }
    // bash keeps forking (it retries a failed fork), so the bomb stays at its
    // limit while the modest run next to it forks ten children.
    let limits = sandbox::Limits {
        processes: 64,
        ..Default::default()
    };
    let bomb = bash("while :; do sleep 107.1@ & done")
        .limits(limits.clone())
        .timeout(Duration::from_secs(2));
    let modest = sh("for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.2 & done; wait; echo ok # marker-modest@")
        .limits(limits);
    let (bombed, fine) = std::thread::scope(|s| {
        let bombed = s.spawn(|| run(&bomb));
        std::thread::sleep(Duration::from_millis(700));
        let fine = run(&modest);
        (bombed.join().unwrap(), fine)
    });
    assert_eq!(fine.status, Status::Exited(0));
    assert_eq!(stdout(&fine), "ok\n");
    assert!(fine.notes.is_empty(), "{:?}", fine.notes);
    assert_eq!(bombed.status, Status::ProcessLimit);
    assert!(
        bombed
            .notes
            .iter()
            .any(|n| n.starts_with("fork bomb: ") || n.starts_with("fork (or thread creation) failed ")),
        "{:?}",
        bombed.notes
    );
    assert_none_left("107.1@");
    assert_none_left("marker-modest@");
}

/// Not a test on its own: the disposable runner that
/// `the_tree_dies_with_its_runner` starts and kills.
#[test]
#[ignore = "started by the_tree_dies_with_its_runner"]
fn runner_to_be_killed() {
    if std::env::var_os("SANDBOX_TEST_SWEEP").is_some() {
        // A fresh runner's first run sweeps what dead runners left.
        sandbox::run(&Spec::new("/bin/true")).unwrap();
        return;
    }
    let Ok(marker) = std::env::var("SANDBOX_TEST_MARKER") else {
        return;
    };
    let spec = Spec::new("/bin/sh")
        .args([
            "-c",
            &format!("sleep {marker} & (setsid sleep {marker} &); sleep {marker}"),
        ])
        .timeout(Duration::from_secs(30));
    let _ = sandbox::run(&spec);
}

#[test]
fn the_tree_dies_with_its_runner() {
    // Another copy of this test binary runs the sandbox; we kill it (as a
    // Ctrl-C would) while its program runs, and its supervisor must then
    // kill the program's whole tree by itself.
    let marker = unique("111.1@");
    let mut runner = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "runner_to_be_killed", "--ignored", "--nocapture"])
        .env("SANDBOX_TEST_MARKER", &marker)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_until = |what: &str, done: &dyn Fn() -> bool| {
        for _ in 0..500 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = runner_kill(&marker);
        panic!("{what} did not happen within 5 s");
    };
    wait_until("the program's start", &|| processes_with(&marker).len() >= 3);
    runner.kill().unwrap();
    runner.wait().unwrap();
    wait_until("the tree's end", &|| processes_with(&marker).is_empty());

    // The dead runner's directory (and cgroup, if any) are swept by the
    // next runner.
    let dead = runner.id();
    let leftovers = || -> Vec<String> {
        let tmp = fs::read_dir(std::env::temp_dir()).unwrap().flatten();
        // The run's cgroups sit below ours: the pids one at the root of its
        // hierarchy here, the memory one further down.
        let ours = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let memory = ours
            .lines()
            .find_map(|l| l.split_once(":memory:"))
            .map(|(_, path)| format!("/sys/fs/cgroup/memory{path}"));
        let cgroups = [
            "/sys/fs/cgroup/pids".to_string(),
            "/sys/fs/cgroup/cpu".to_string(),
        ]
        .into_iter()
        .chain(memory)
        .flat_map(|dir| fs::read_dir(dir).into_iter().flatten().flatten());
        tmp.chain(cgroups)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                n.starts_with(&format!("ipc-lab-sandbox-{dead}-"))
                    || n.starts_with(&format!("sandbox-{dead}-"))
            })
            .collect()
    };
    assert!(
        !leftovers().is_empty(),
        "the killed runner was expected to leave its directory"
    );
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "runner_to_be_killed", "--ignored"])
        .env("SANDBOX_TEST_SWEEP", "1")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(leftovers(), Vec::<String>::new());
}

/// Cleans up after a failed `the_tree_dies_with_its_runner`.
fn runner_kill(marker: &str) -> std::io::Result<()> {
    for line in processes_with(marker) {
        let pid: i32 = line.split(':').next().unwrap().parse().unwrap();
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The hostile programs of `fixtures/`, one test each.
// ---------------------------------------------------------------------------

#[test]
fn every_hostile_program_exists() {
    for name in fixtures::ALL {
        let program = fixtures::hostile(fixtures(), name, "0").spec.program;
        assert!(program.exists(), "{name}: no {}", program.display());
    }
}

#[test]
fn hostile_fork_bomb() {
    let o = hostile("forkbomb");
    assert_eq!(o.status, Status::ProcessLimit);
    assert_eq!(o.summary(), "hit the process limit (64 processes and threads)");
    let early = o.notes[0].starts_with("fork bomb: ");
    if cgroups().0 {
        // The cgroup counts the refused forks: the verdict comes as soon as
        // the bomb is recognised, not at the timeout.
        assert!(
            early && o.notes[0].contains(" forks refused at the limit of 64 processes; stopped after "),
            "{:?}",
            o.notes
        );
    }
    if early {
        assert!(!says(&o, "timed out"), "{:?}", o.notes);
    } else {
        // Without a cgroup, RLIMIT_NPROC counts the user's other processes
        // too, so the bomb may stay below the run's budget: then the
        // timeout ends it, and the evidence is the count of the user's.
        assert!(
            o.notes[0].ends_with("; the program then timed out after 1.0 s"),
            "{:?}",
            o.notes
        );
    }
}

#[test]
fn hostile_fork_loop() {
    // dash gives up (status 2) when a fork fails, saying only "Cannot
    // fork": the cgroup's count, or else the user's count of processes when
    // the shell fails, shows that the limit was the cause. Without a cgroup
    // that count includes the user's other processes, which may have ended
    // by the time it is read (other runs as nobody): then the evidence is
    // gone, and the shell's failure is reported as it is.
    let o = hostile("forkloop");
    match o.status {
        Status::ProcessLimit => assert!(
            o.notes[0].ends_with("; the program then exited with status 2"),
            "{:?}",
            o.notes
        ),
        Status::Exited(2) if !cgroups().0 => {}
        ref other => panic!("unexpected {other:?}"),
    }
    assert!(says(&o, "processes running: "), "{:?}", o.notes);
}

#[test]
fn hostile_thread_bomb() {
    let o = hostile("threadbomb");
    assert_eq!(o.status, Status::ProcessLimit);
    assert_eq!(o.summary(), "hit the process limit (64 processes and threads)");
    assert!(
        o.notes[0].ends_with("; the program then exited with status 1"),
        "{:?}",
        o.notes
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("pthread_create failed after"), "{err}");
}

#[test]
fn hostile_busy_loop_times_out() {
    let o = hostile("busyloop");
    assert_eq!(o.status, Status::TimedOut);
    assert_eq!(o.summary(), "timed out after 1.0 s");
    assert!(
        says(&o, ") is running (computing), not blocked."),
        "{:?}",
        o.notes
    );
}

#[test]
fn hostile_busy_loop_meets_the_cpu_limit() {
    let o = hostile("busyloop-cpu");
    assert_eq!(o.status, Status::Signaled(libc::SIGXCPU));
    assert_eq!(o.summary(), "was killed by SIGXCPU (CPU time limit)");
}

#[test]
fn hostile_sleeper() {
    let o = hostile("sleeper");
    assert_eq!(o.status, Status::TimedOut);
    assert_eq!(o.summary(), "timed out after 1.0 s");
    assert!(
        o.notes[0].starts_with("timed out after 1.0 s, with 2 processes running (all killed):"),
        "{:?}",
        o.notes
    );
    assert!(
        says(&o, "(sh) is blocked in waitpid() for any of its children: pid "),
        "{:?}",
        o.notes
    );
    assert!(says(&o, "(sleep) is sleeping"), "{:?}", o.notes);
}

#[test]
fn hostile_stdout_flood_is_stopped() {
    let o = hostile("floodout");
    assert_eq!(o.status, Status::OutputLimit);
    assert_eq!(o.summary(), "hit the output limit (more than 64 KiB on stdout)");
    // Stopped long before the timeout, not read until it.
    assert!(o.duration < o.timeout, "{:?}", o.duration);
    assert!(o.notes[0].starts_with("stopped after "), "{:?}", o.notes);
    assert!(
        o.notes[0].ends_with(" to stdout, more than 4 times the 64 KiB kept"),
        "{:?}",
        o.notes
    );
    assert_eq!(o.stdout.len(), fixtures::FLOOD_CAP);
    assert!(o.stdout_truncated >= 3 * fixtures::FLOOD_CAP as u64);
}

#[test]
fn hostile_stderr_flood_is_stopped() {
    let o = hostile("flooderr");
    assert_eq!(o.status, Status::OutputLimit);
    assert_eq!(o.summary(), "hit the output limit (more than 64 KiB on stderr)");
    assert!(o.duration < o.timeout, "{:?}", o.duration);
    assert!(
        o.notes[0].ends_with(" to stderr, more than 4 times the 64 KiB kept"),
        "{:?}",
        o.notes
    );
    assert_eq!(o.stderr.len(), fixtures::FLOOD_CAP);
    assert_eq!((o.stdout.len(), o.stdout_truncated), (0, 0));
}

#[test]
fn hostile_rust_allocation_failure() {
    let o = hostile("allochog");
    assert_eq!(o.status, Status::MemoryLimit(Memory::AddressSpace));
    assert_eq!(o.summary(), "hit the memory limit (256 MiB of address space)");
    let note = &o.notes[0];
    assert!(
        note.starts_with("out of memory: \"memory allocation of "),
        "{note}"
    );
    assert!(
        note.ends_with(
            " bytes failed\" (each process may have 256 MiB of address space); the program then \
             was killed by SIGABRT"
        ),
        "{note}"
    );
}

#[test]
fn hostile_c_program_that_ignores_a_null_malloc() {
    let o = hostile("memhog");
    assert_eq!(o.status, Status::MemoryLimit(Memory::AddressSpace));
    assert_eq!(o.summary(), "hit the memory limit (256 MiB of address space)");
    let note = &o.notes[0];
    assert!(note.starts_with("out of memory: pid "), "{note}");
    assert!(note.contains(" (memhog) grew to use "), "{note}");
    assert!(
        note.ends_with("; the program then was killed by SIGSEGV"),
        "{note}"
    );
}

#[test]
fn hostile_processes_that_together_exceed_the_run_memory() {
    let o = hostile("memhogs");
    if !cgroups().1 {
        // Nothing limits the run as a whole: each child stays within its
        // address space, and all of them succeed.
        assert_eq!(o.status, Status::Exited(0));
        return;
    }
    assert_eq!(o.status, Status::MemoryLimit(Memory::Run));
    assert_eq!(
        o.summary(),
        "hit the memory limit (256 MiB for all its processes)"
    );
    let note = &o.notes[0];
    // The parent reaps its children itself: the sandbox knows how many
    // were killed, not which.
    assert!(note.starts_with("out of memory: the kernel killed "), "{note}");
    assert!(note.contains(" of the run when "), "{note}");
    assert!(
        note.ends_with(
            " when the run's processes together reached their 256 MiB; the program then exited \
             with status 1"
        ),
        "{note}"
    );
}

#[test]
fn hostile_segfault() {
    let o = hostile("segfault");
    assert_eq!(o.status, Status::Signaled(libc::SIGSEGV));
    assert_eq!(o.summary(), "was killed by SIGSEGV");
    // A small program's crash is not mistaken for running out of memory.
    assert!(o.notes.is_empty(), "{:?}", o.notes);
}

#[test]
fn hostile_abort() {
    let o = hostile("abort");
    assert_eq!(o.status, Status::Signaled(libc::SIGABRT));
    assert_eq!(o.summary(), "was killed by SIGABRT");
    assert!(o.notes.is_empty(), "{:?}", o.notes);
}

#[test]
fn hostile_child_left_holding_stdout() {
    // (The pause lets the child exec `sleep`, so that it has that name.)
    let o = hostile("leftchild");
    assert_eq!(o.status, Status::Exited(0));
    let child: i32 = stdout(&o).trim().parse().unwrap();
    let note = format!("left 1 process running: pid {child} (sleep); it was killed");
    assert_eq!(o.notes, [note]);
    // The child holds stdout open, yet the run ends with its program, not at
    // the 5 s timeout (it takes about 0.2 s; the margin is for busy machines).
    assert!(o.duration < Duration::from_millis(2500), "{:?}", o.duration);
}

#[test]
fn hostile_double_forked_setsid_daemon() {
    // The subshell forks setsid and exits at once: the daemon is an orphan
    // in its own session, still holding stdout, when the script ends.
    let o = hostile("daemon");
    assert_eq!(o.status, Status::Exited(0));
    let daemon: i32 = stdout(&o).trim().parse().unwrap();
    let note = format!("left 1 process running: pid {daemon} (sleep); it was killed");
    assert_eq!(o.notes, [note]);
}

#[test]
fn hostile_program_that_stops_itself() {
    let o = hostile("stopped");
    assert_eq!(o.status, Status::TimedOut);
    assert_eq!(o.stdout, b"");
    assert!(
        says(&o, "(sh) is stopped (SIGSTOP?); only SIGCONT resumes it."),
        "{:?}",
        o.notes
    );
}

#[test]
fn hostile_program_that_closes_its_output() {
    let started = Instant::now();
    let o = hostile("closestd");
    assert_eq!(o.status, Status::Exited(0));
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    // End of file on both pipes 0.2 s before the exit does not end the run,
    // and the exit ends it at once, well before the 5 s timeout.
    assert!(o.duration >= Duration::from_millis(200), "{:?}", o.duration);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn hostile_program_that_raises_its_limits() {
    let o = hostile("raiselimits");
    assert_eq!(
        stdout(&o),
        "RLIMIT_NPROC: Operation not permitted\nRLIMIT_AS: Operation not permitted\n\
         RLIMIT_CPU: Operation not permitted\n"
    );
    assert_eq!(o.status, Status::Exited(0), "0: no limit could be raised");
}

#[test]
fn hostile_reader_of_its_own_pipe() {
    let o = hostile("selfreader");
    assert_eq!(o.status, Status::Deadlock);
    assert!(o.duration < o.timeout, "{:?}", o.duration);
    let p = o.pid;
    let blocked = format!("pid {p} (selfreader) is blocked in read(fd 3) on pipe:[");
    let holder = format!("; the write end is still open in pid {p} fd 4 (the reader itself).");
    assert!(says(&o, &blocked) && says(&o, &holder), "{:?}", o.notes);
}

#[test]
fn hostile_writer_to_a_full_pipe_it_reads() {
    let o = hostile("fullwriter");
    assert!(
        matches!(o.status, Status::Deadlock | Status::TimedOut),
        "{:?}",
        o.status
    );
    let p = o.pid;
    let blocked = format!("pid {p} (fullwriter) is blocked in write(fd 4) on pipe:[");
    let holder = format!(", which is full; the read end is open in pid {p} fd 3 (the writer itself).");
    assert!(says(&o, &blocked) && says(&o, &holder), "{:?}", o.notes);
}

/// Marks the copy of this binary that runs as `nobody`.
const AS_USER_ENV: &str = "SANDBOX_TEST_AS_USER";

#[test]
fn as_an_ordinary_user_too() {
    if !is_root() || std::env::var_os(AS_USER_ENV).is_some() {
        eprintln!("not root: this run is the ordinary user's");
        return;
    }
    // The same tests, in a copy of this binary that runs as nobody (a
    // copy, since the build directory need not be open to nobody), with
    // the fixtures built here.
    let fixtures = fixtures();
    // The copies go to a folder of their own in the temporary directory:
    // the build directory may be under a folder nobody cannot enter (a
    // checkout in /root).
    let shared = tempfile::Builder::new()
        .prefix("ipc-lab-hostile-as-user-")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(shared.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for entry in fs::read_dir(fixtures.dir()).unwrap().flatten() {
        let to = shared.path().join(entry.file_name());
        let meta = fs::symlink_metadata(entry.path()).unwrap();
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), &to).unwrap();
        } else {
            fs::copy(entry.path(), &to).unwrap();
        }
    }
    let exe = shared.path().join("hostile-tests");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let output = std::process::Command::new(&exe)
        .args(["--skip", "as_an_ordinary_user_too", "--test-threads", "2"])
        .env(FIXTURES_ENV, shared.path())
        .env(AS_USER_ENV, "1")
        .env("TMPDIR", "/tmp")
        .current_dir("/tmp")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    drop(shared);
    let text = String::from_utf8_lossy(&output.stdout);
    eprintln!("{text}");
    assert!(
        output.status.success(),
        "as nobody:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("test hostile_fork_bomb ... ok"), "{text}");
}
