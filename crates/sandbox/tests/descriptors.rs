//! The runner keeps no descriptor of a finished run, whatever the run did.
//!
//! A test of its own (its own process): the count of `/proc/self/fd` would
//! be disturbed by other tests running at the same time.

use sandbox::Spec;
use std::time::Duration;

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn no_descriptor_outlives_its_run() {
    let scripts = [
        "echo hi",                               // clean exit
        "sleep 109.1",                           // timeout
        "sleep 109.2 & echo $!",                 // leftover holding stdout
        "(setsid sleep 109.3 &); kill -SEGV $$", // escaper, then a crash
    ];
    // One run first, so that lazily opened descriptors (none expected) exist.
    sandbox::run(&Spec::new("/bin/true")).unwrap();
    let before = open_descriptors();
    for script in scripts {
        let spec = Spec::new("/bin/sh")
            .args(["-c", script])
            .timeout(Duration::from_millis(500));
        sandbox::run(&spec).unwrap();
    }
    assert!(sandbox::run(&Spec::new("/nonexistent")).is_err());
    assert_eq!(open_descriptors(), before, "descriptors leaked by the runs");
}
