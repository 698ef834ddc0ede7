//! The sandbox against hostile programs: shell scripts that hang, crash,
//! flood, leak children, escape into new sessions, and run in parallel.
//!
//! Every fixture is bounded by itself (`sleep 100`, never an endless wait
//! without a timeout), and every test ends by checking `/proc`: no process
//! whose command line carries the test's marker may be left. The marker is
//! a `sleep` duration or a shell comment unique to the test.

use sandbox::{Outcome, Spec, Status};
use std::fs;
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
fn times_out_and_kills_the_tree() {
    let spec = sh("sleep 101.1@; echo never").timeout(Duration::from_secs(1));
    let started = Instant::now();
    let o = run(&spec);
    let took = started.elapsed();
    assert_eq!(o.status, Status::TimedOut);
    assert_eq!(o.summary(), "timed out after 1.0 s");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        o.notes.iter().any(|n| n.starts_with("timed out after 1.0 s")),
        "{:?}",
        o.notes
    );
    assert_none_left("101.1@");
}

#[test]
fn caps_a_flood_and_counts_the_rest() {
    let spec = sh("head -c 3000000 /dev/zero; head -c 5000 /dev/zero >&2 # marker-flood@")
        .output_cap(1 << 20)
        .timeout(Duration::from_secs(5));
    let o = run(&spec);
    assert_eq!(o.status, Status::Exited(0));
    assert_eq!(o.stdout.len(), 1 << 20);
    assert_eq!(o.stdout_truncated, 3_000_000 - (1 << 20));
    assert_eq!(o.stderr.len(), 5000);
    assert_eq!(o.stderr_truncated, 0);
    assert!(
        o.notes
            .iter()
            .any(|n| n.starts_with("stdout was cut at 1048576 bytes")),
        "{:?}",
        o.notes
    );
    assert_none_left("marker-flood@");
}

#[test]
fn an_endless_flood_ends_at_the_timeout() {
    let spec = sh("yes marker-yes@")
        .output_cap(1000)
        .timeout(Duration::from_secs(1));
    let o = run(&spec);
    assert_eq!(o.status, Status::TimedOut);
    assert_eq!(o.stdout.len(), 1000);
    assert!(o.stdout_truncated > 1000);
    assert_none_left("marker-yes@");
}

#[test]
fn a_child_left_holding_stdout_is_reported_and_killed() {
    // (The pause lets the child exec `sleep`, so that it has that name.)
    let started = Instant::now();
    let o = run(&sh("sleep 102.1@ & echo $!; sleep 0.1"));
    assert_eq!(o.status, Status::Exited(0));
    let child: i32 = stdout(&o).trim().parse().unwrap();
    let note = format!("left 1 process running: pid {child} (sleep); it was killed");
    assert!(o.notes.contains(&note), "wanted {note:?} in {:?}", o.notes);
    assert!(o.duration < Duration::from_secs(1), "{:?}", o.duration);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_none_left("102.1@");
}

#[test]
fn a_double_forked_setsid_daemon_is_reported_and_killed() {
    // The subshell forks setsid and exits at once: the daemon is an orphan
    // in its own session, still holding stdout, when the script ends.
    let o = run(&sh("(setsid sleep 103.1@ & echo $!); sleep 0.2"));
    assert_eq!(o.status, Status::Exited(0));
    let daemon: i32 = stdout(&o).trim().parse().unwrap();
    let note = format!("left 1 process running: pid {daemon} (sleep); it was killed");
    assert!(o.notes.contains(&note), "wanted {note:?} in {:?}", o.notes);
    assert_none_left("103.1@");
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
fn runs_as_nobody_when_root() {
    if !is_root() {
        eprintln!("not root: the user drop does not apply");
        return;
    }
    let o = run(&sh("id -u; id -g; id -G; grep NoNewPrivs /proc/self/status"));
    assert_eq!(stdout(&o), "65534\n65534\n65534\nNoNewPrivs:\t1\n");
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
        "pwd; ls -A; stat -c '%U %a' .; echo data > file; test -s file && echo wrote",
    ));
    assert_eq!(o.status, Status::Exited(0));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let owner = if is_root() { "nobody 700" } else { "" };
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
fn the_rlimits_are_set_soft_equal_hard() {
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
    assert_eq!(row("Max cpu time"), ["10", "10"]);
    assert_eq!(row("Max address space"), ["1073741824", "1073741824"]);
    assert_eq!(row("Max file size"), ["16777216", "16777216"]);
    assert_eq!(row("Max open files"), ["256", "256"]);
    assert_eq!(row("Max core file size"), ["0", "0"]);
    // 256, or 8 × 256 as a backstop when a per-run cgroup holds the budget.
    let nproc = row("Max processes");
    assert_eq!(nproc[0], nproc[1]);
    assert!(
        ["256", "2048"].contains(&nproc[0].as_str()) || !is_root(),
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
fn a_fork_bomb_is_contained_and_cleaned_up() {
    let spec = sh("while :; do sleep 104.1@ & done").timeout(Duration::from_secs(1));
    let started = Instant::now();
    let o = run(&spec);
    // The shell either loops until the timeout or gives up when fork fails
    // (RLIMIT_NPROC); both ways, what it started is killed.
    match o.status {
        Status::TimedOut => {}
        Status::Exited(_) => assert!(o.notes[0].starts_with("left "), "{:?}", o.notes),
        ref other => panic!("unexpected {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_none_left("104.1@");
}

#[test]
fn a_pipe_deadlock_is_stopped_early() {
    // The shell waits to read what cat writes; cat waits to read what the
    // shell would write: each holds the pipe end the other waits on.
    let spec =
        bash("coproc cat; read -r x <&\"${COPROC[0]}\" # marker-coproc@").timeout(Duration::from_secs(5));
    let o = run(&spec);
    assert_eq!(o.status, Status::Deadlock);
    assert!(o.duration < Duration::from_secs(2), "{:?}", o.duration);
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
fn a_stopped_program_is_killed_at_the_timeout() {
    let o = run(&sh("kill -STOP $$; echo never # marker-stopped@").timeout(Duration::from_secs(1)));
    assert_eq!(o.status, Status::TimedOut);
    assert_eq!(o.stdout, b"");
    assert_none_left("marker-stopped@");
}

#[test]
fn the_death_of_the_supervisor_is_an_error_not_a_hang() {
    if !is_root() {
        eprintln!("not root: the program could not be kept from its supervisor anyway");
        return;
    }
    // Run as root (no user drop), the program can kill its supervisor; it
    // then dies with it (PR_SET_PDEATHSIG).
    let spec = sh("kill -9 $PPID; exec sleep 108.1@").user(None);
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
    assert!(
        bombed.notes.iter().any(|n| n.starts_with("fork failed")),
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
        let cgroups = fs::read_dir("/sys/fs/cgroup/pids")
            .into_iter()
            .flatten()
            .flatten();
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
