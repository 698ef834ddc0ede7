//! Runs kept apart from each other and from the machine: a user of their
//! own, namespaces, fair limits, and a diagnosis that needs no
//! `CAP_SYS_PTRACE`.
//!
//! Most protections exist only when the runner is root and the kernel
//! lets it make namespaces. Each test says what it needs; where that is
//! missing it says so and returns. Whether the sandbox *uses* what the
//! kernel allows is checked on its own, against the kernel itself
//! (`every_protection_the_kernel_allows_is_in_force`), so a sandbox that
//! silently dropped a protection fails there.
//!
//! Every program here is bounded (`sleep` of a few seconds, loops that the
//! sandbox stops), and each test checks that none of its processes is left
//! (markers in the command lines, as in `hostile.rs`).

#[allow(dead_code)]
mod fixtures;

use sandbox::{Identity, Outcome, Protection, Spec, Status};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `/bin/sh -c SCRIPT`, each `@` in it made this test process's pid.
fn sh(script: &str) -> Spec {
    Spec::new("/bin/sh").args(["-c", &script.replace('@', &std::process::id().to_string())])
}

/// Runs `spec`, printing the outcome (shown when a test fails).
fn run(spec: &Spec) -> Outcome {
    let o = sandbox::run(spec).expect("the sandbox itself failed");
    eprintln!(
        "the program {}\nstdout: {:?}\nstderr: {:?}\nnotes: {:#?}\nisolation: {}",
        o.summary(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        o.notes,
        o.isolation.describe()
    );
    o
}

fn stdout(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// No process whose command line holds `marker` (its `@` made our pid).
fn assert_none_left(marker: &str) {
    let marker = marker.replace('@', &std::process::id().to_string());
    let me = std::process::id().to_string();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == me || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(!cmdline.contains(&marker), "left behind: {name}: {cmdline}");
    }
}

/// Whether the kernel lets this process make mount, network and IPC
/// namespaces: a child tries.
fn kernel_allows_namespaces() -> bool {
    // SAFETY: the child makes one system call and `_exit`s: async-signal-safe.
    match unsafe { libc::fork() } {
        0 => {
            // SAFETY: unshare and _exit take plain integers.
            unsafe {
                let ok = libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWIPC) == 0;
                libc::_exit(if ok { 0 } else { 1 })
            }
        }
        -1 => false,
        pid => {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
        }
    }
}

/// Whether runs here get a mount namespace (said, and false, if not).
fn namespaces_here() -> bool {
    let here = is_root() && kernel_allows_namespaces();
    if !here {
        eprintln!("no namespaces here (not root, or the kernel refuses): nothing to check");
    }
    here
}

#[test]
fn every_protection_the_kernel_allows_is_in_force() {
    let o = run(&Spec::new("/bin/true"));
    if !is_root() {
        assert!(!o.isolation.has(Protection::OwnUser));
        assert!(
            o.isolation.describe().contains("own user (not root)"),
            "{}",
            o.isolation.describe()
        );
        return;
    }
    assert!(o.isolation.has(Protection::OwnUser), "{:?}", o.isolation);
    let namespaces = [
        Protection::MountNamespace,
        Protection::NetworkNamespace,
        Protection::IpcNamespace,
    ];
    for p in namespaces {
        assert_eq!(
            o.isolation.has(p),
            kernel_allows_namespaces(),
            "{p:?}: {}",
            o.isolation.describe()
        );
    }
    // Every protection is either in force or missing with a reason.
    for p in Protection::ALL {
        let missing = o.isolation.missing.iter().any(|(m, _)| *m == p);
        assert_ne!(o.isolation.has(p), missing, "{p:?}: {:?}", o.isolation);
    }
}

#[test]
fn a_fork_bomb_beside_does_not_stop_a_run_that_forks_100_children() {
    // Runs are kept apart by a user of their own or a process cgroup each;
    // with neither (an ordinary user without delegated cgroups), every run
    // shares the user's RLIMIT_NPROC, which the report says.
    let probe = run(&Spec::new("/bin/true")).isolation;
    if !probe.has(Protection::OwnUser) && !probe.has(Protection::ProcessCgroup) {
        eprintln!("runs share one process budget here: {}", probe.describe());
        return;
    }
    // The modest run forks slowly, so that the bomb beside it runs while it
    // forks; each run has its own user, so the bomb's processes do not
    // count against the other's budget.
    let modest = sh("for i in $(seq 100); do sleep 3.@1 & sleep 0.01; done; wait; echo ok")
        .timeout(Duration::from_secs(10));
    let bomb = Spec::new("/bin/bash")
        .args([
            "-c",
            &"while :; do sleep 3.@2 & done".replace('@', &std::process::id().to_string()),
        ])
        .timeout(Duration::from_secs(5));
    let (fine, bombed) = std::thread::scope(|s| {
        let fine = s.spawn(|| run(&modest));
        std::thread::sleep(Duration::from_millis(200));
        let bombed = run(&bomb);
        (fine.join().unwrap(), bombed)
    });
    assert_eq!(fine.status, Status::Exited(0));
    assert_eq!(stdout(&fine), "ok\n");
    assert!(fine.notes.is_empty(), "{:?}", fine.notes);
    assert_eq!(bombed.status, Status::ProcessLimit);
    if is_root() {
        // Its own user, so RLIMIT_NPROC (or its cgroup) stops it at its own
        // budget, and the verdict comes before the timeout.
        assert!(bombed.notes[0].starts_with("fork bomb: "), "{:?}", bombed.notes);
        assert!(
            !bombed.notes.iter().any(|n| n.contains("timed out")),
            "{:?}",
            bombed.notes
        );
    }
    assert_none_left("3.@1");
    assert_none_left("3.@2");
}

#[test]
fn files_in_tmp_and_dev_shm_do_not_outlive_the_run() {
    if !namespaces_here() {
        return;
    }
    let name = format!("ipc-lab-leak-{}", std::process::id());
    let write = sh(&format!(
        "for d in /tmp /var/tmp /dev/shm; do echo left > $d/{name} && echo wrote $d; done"
    ));
    let o = run(&write);
    assert_eq!(
        stdout(&o),
        "wrote /tmp\nwrote /var/tmp\nwrote /dev/shm\n",
        "the run could not use its scratch folders"
    );
    let look = run(&sh(&format!(
        "for d in /tmp /var/tmp /dev/shm; do test -e $d/{name} && echo seen $d; done; echo looked"
    )));
    assert_eq!(stdout(&look), "looked\n", "a later run saw the files");
    for dir in ["/tmp", "/var/tmp", "/dev/shm"] {
        let path = Path::new(dir).join(&name);
        assert!(!path.exists(), "{} was left on the machine", path.display());
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains("ipc-lab-sandbox"),
        "a run's mount is left:\n{mounts}"
    );
}

#[test]
fn the_scratch_space_is_capped() {
    if !namespaces_here() {
        return;
    }
    let limits = sandbox::Limits {
        scratch: 8 << 20,
        ..Default::default()
    };
    // Four files of 3 MiB cannot fit in 8 MiB.
    let o = run(
        &sh("for i in 1 2 3 4; do head -c 3145728 /dev/zero > /tmp/f$i || echo full; done").limits(limits),
    );
    assert!(stdout(&o).contains("full"), "wrote 12 MiB into 8 MiB of scratch");
    assert!(String::from_utf8_lossy(&o.stderr).contains("No space left on device"));
}

#[test]
fn no_connection_reaches_a_listener_on_the_machine() {
    if !namespaces_here() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let o = run(&Spec::new("/bin/bash").args([
        "-c",
        &format!("echo hello > /dev/tcp/127.0.0.1/{port} && echo connected || echo refused"),
    ]));
    assert_eq!(stdout(&o), "refused\n");
    let accepted = listener.accept();
    assert!(
        accepted
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "the listener got a connection: {accepted:?}"
    );
    // The run's network has one device, its own loopback.
    let devices = run(&Spec::new("/bin/cat").arg("/proc/self/net/dev"));
    let names: Vec<String> = stdout(&devices)
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_string()))
        .collect();
    assert_eq!(names, ["lo"]);
}

#[test]
fn a_file_outside_the_sandbox_cannot_be_read() {
    if !namespaces_here() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("ipc-lab-secret-")
        .tempdir()
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.path().join("answers.txt");
    fs::write(&secret, "the hidden checks\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
    let cat = || Spec::new("/bin/cat").arg(&secret);
    // Without the mount namespace the run's user could read it (0755/0644):
    // it is the namespace that hides it.
    let plain = run(&cat().namespaces(false));
    assert_eq!(stdout(&plain), "the hidden checks\n");
    let o = run(&cat());
    assert_eq!(o.status, Status::Exited(1));
    assert_eq!(stdout(&o), "");
    assert!(String::from_utf8_lossy(&o.stderr).contains("No such file or directory"));
    // Unless the caller shows it.
    let shown = run(&cat().readable(dir.path()));
    assert_eq!(stdout(&shown), "the hidden checks\n");
}

#[test]
fn a_writable_folder_is_the_runs_during_the_run_and_ours_after() {
    if !is_root() {
        eprintln!("not root: no user to lend the folder to");
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::Builder::new()
        .prefix("ipc-lab-writable-")
        .tempdir()
        .unwrap();
    let shown = tempfile::Builder::new()
        .prefix("ipc-lab-readable-")
        .tempdir()
        .unwrap();
    fs::write(shown.path().join("input"), "in\n").unwrap();
    let script = format!(
        "id -u > {out}/uid; mkdir {out}/sub; echo made > {out}/sub/file; cat {inp}/input; \
         echo x > {inp}/new 2>/dev/null || echo read-only",
        out = dir.path().display(),
        inp = shown.path().display()
    );
    let o = run(&sh(&script).writable(dir.path()).readable(shown.path()));
    assert_eq!(o.status, Status::Exited(0));
    let out = stdout(&o);
    assert!(out.starts_with("in\n"), "{out}");
    let uid: u32 = fs::read_to_string(dir.path().join("uid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(uid, 0);
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    for path in [
        dir.path().to_path_buf(),
        dir.path().join("sub"),
        dir.path().join("sub/file"),
    ] {
        let owner = fs::symlink_metadata(&path).unwrap().uid();
        assert_eq!(owner, me, "{} still belongs to the run", path.display());
    }
    if o.isolation.has(Protection::MountNamespace) {
        assert!(out.ends_with("read-only\n"), "{out}");
        assert!(!shown.path().join("new").exists());
    }
}

#[test]
fn a_run_cannot_signal_another_runs_process() {
    if !is_root() {
        eprintln!("not root: every run is the same user");
        return;
    }
    let shared = tempfile::Builder::new().prefix("ipc-lab-pid-").tempdir().unwrap();
    let pid_file = shared.path().join("pid");
    let victim = sh(&format!(
        "echo $$ > {}; sleep 2.@3; echo survived",
        pid_file.display()
    ))
    .writable(shared.path());
    let (survived, attacker) = std::thread::scope(|s| {
        let victim = s.spawn(|| run(&victim));
        let mut pid = String::new();
        for _ in 0..200 {
            pid = fs::read_to_string(&pid_file).unwrap_or_default();
            if pid.ends_with('\n') {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let attacker = run(&sh(&format!("kill -KILL {} 2>&1 || echo refused", pid.trim())));
        (victim.join().unwrap(), attacker)
    });
    assert!(stdout(&attacker).contains("refused"), "{}", stdout(&attacker));
    assert_eq!(survived.status, Status::Exited(0));
    assert_eq!(stdout(&survived), "survived\n");
    assert_none_left("2.@3");
}

/// `CAP_SYS_PTRACE`'s number (capability.h; the libc crate does not name
/// capabilities).
const CAP_SYS_PTRACE: libc::c_ulong = 19;

/// Hands the fixtures' folder to the worker below.
const FIXTURES_ENV: &str = "SANDBOX_TEST_FIXTURES";

#[test]
fn the_diagnosis_needs_no_cap_sys_ptrace() {
    if !is_root() {
        eprintln!("not root: an ordinary user reads its own runs' /proc already");
        return;
    }
    // The worker runs as root without CAP_SYS_PTRACE, as in a Docker
    // container with its default capabilities: dropped from the bounding
    // set before exec, root's exec leaves it out of every set.
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("isolation-fixtures-{}", std::process::id()));
    let built = fixtures::Fixtures::build(&dir).expect("cannot build the hostile programs");
    let mut worker = std::process::Command::new(std::env::current_exe().unwrap());
    worker
        .args([
            "--exact",
            "diagnose_a_deadlock_without_cap_sys_ptrace",
            "--ignored",
            "--nocapture",
        ])
        .env(FIXTURES_ENV, built.dir());
    // SAFETY: the closure makes one system call (async-signal-safe).
    unsafe {
        worker.pre_exec(|| {
            if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = worker.output().unwrap();
    let _ = fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}\n{err}");
    assert!(text.contains("1 passed"), "{text}\n{err}");
}

/// Started by `the_diagnosis_needs_no_cap_sys_ptrace`, without
/// `CAP_SYS_PTRACE`.
#[test]
#[ignore = "started by the_diagnosis_needs_no_cap_sys_ptrace"]
fn diagnose_a_deadlock_without_cap_sys_ptrace() {
    let Some(dir) = std::env::var_os(FIXTURES_ENV) else {
        return;
    };
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    assert_eq!(
        effective & (1 << CAP_SYS_PTRACE),
        0,
        "CAP_SYS_PTRACE was not dropped"
    );
    let fixtures = fixtures::Fixtures::at(Path::new(&dir));
    let spec = fixtures::hostile(&fixtures, "selfreader", "0").spec;
    let o = run(&spec.identity(Identity::Own));
    assert_eq!(o.status, Status::Deadlock, "{:?}", o.notes);
    let p = o.pid;
    let blocked = format!("pid {p} (selfreader) is blocked in read(fd 3) on pipe:[");
    let holder = format!("; the write end is still open in pid {p} fd 4 (the reader itself).");
    let says = |part: &str| o.notes.iter().any(|n| n.contains(part));
    assert!(says(&blocked) && says(&holder), "{:?}", o.notes);
}
