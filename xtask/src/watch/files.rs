//! File events: noticing that an exercise's sources may have changed.
//!
//! Two detectors, each sending [`Event::Changed`] with the exercises whose
//! folder something happened in: file-system events through `notify`, and
//! a poller that compares each exercise's [`stamp`] at a pace the loop may
//! speed up ([`Pace`]). Neither decides anything: the loop compares stamps
//! with what it last checked.

use super::Event;
use super::state::How;
use checks::Exercise;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;

/// How often `--poll` looks at the sources.
pub const POLL: Duration = Duration::from_millis(300);
/// How often the safety-net poll looks, beside file events.
const SAFETY_POLL: Duration = Duration::from_secs(1);

/// Who noticed a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    FileEvents,
    Poll,
}

/// The poller's pace in milliseconds, shared with the loop, which speeds it
/// up when file events turn out not to arrive.
pub type Pace = Arc<AtomicU64>;

/// The running detectors.
pub struct Detectors {
    /// The file-event watcher, which must stay alive; `None` when polling
    /// alone.
    pub watcher: Option<notify::RecommendedWatcher>,
    /// How changes are noticed.
    pub how: How,
    /// The poller's pace.
    pub pace: Pace,
}

/// Starts file events (unless `poll_only`) and the poller.
pub fn start(crates: &Path, poll_only: bool, tx: &Sender<Event>) -> Detectors {
    let (watcher, how) = if poll_only {
        (None, How::Polling)
    } else {
        match start_notify(crates, tx.clone()) {
            Ok(w) => (Some(w), How::Events),
            Err(e) => (None, How::EventsUnavailable(e.to_string())),
        }
    };
    let interval = if watcher.is_some() { SAFETY_POLL } else { POLL };
    let pace: Pace = Arc::new(AtomicU64::new(millis(interval)));
    let crates = crates.to_path_buf();
    let tx = tx.clone();
    let shared = Arc::clone(&pace);
    std::thread::spawn(move || poll(&crates, &shared, &tx));
    Detectors { watcher, how, pace }
}

/// Sets the poller to `--poll`'s pace.
pub fn poll_faster(pace: &Pace) {
    pace.store(millis(POLL), Ordering::Relaxed);
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn start_notify(crates: &Path, tx: Sender<Event>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let base = crates.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let event = match res {
            Ok(e) if e.kind.is_access() => return,
            Ok(e) => {
                let changed: BTreeSet<usize> = e.paths.iter().filter_map(|p| exercise_of(&base, p)).collect();
                if changed.is_empty() {
                    return;
                }
                Event::Changed(changed, Source::FileEvents)
            }
            Err(e) => Event::WatchError(e.to_string()),
        };
        let _ = tx.send(event);
    })?;
    watcher.watch(crates, notify::RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// Whether a save shows that file events do not arrive: sources really
/// changed, and only the poll noticed. (An event a little later than the
/// poll, past the settle time, would read as missing too; the cost is only
/// a faster poll.)
pub fn events_missed(sources_changed: bool, by_events: bool) -> bool {
    sources_changed && !by_events
}

/// The exercise (catalogue index) whose folder holds `path`.
fn exercise_of(crates: &Path, path: &Path) -> Option<usize> {
    let dir = path.strip_prefix(crates).ok()?.components().next()?;
    let dir = dir.as_os_str().to_str()?;
    checks::catalogue().iter().position(|e| e.dir == dir)
}

/// Polls every exercise's sources at `pace`; says which changed. Ends when
/// the loop has gone (the channel is closed).
fn poll(crates: &Path, pace: &AtomicU64, tx: &Sender<Event>) {
    let mut last = stamps(crates);
    loop {
        std::thread::sleep(Duration::from_millis(pace.load(Ordering::Relaxed)));
        let now = stamps(crates);
        let changed: BTreeSet<usize> = (0..now.len()).filter(|&i| now[i] != last[i]).collect();
        last = now;
        if !changed.is_empty() && tx.send(Event::Changed(changed, Source::Poll)).is_err() {
            return;
        }
    }
}

/// The [`stamp`] of every exercise, in catalogue order.
pub fn stamps(crates: &Path) -> Vec<u64> {
    checks::catalogue().iter().map(|e| stamp(crates, e)).collect()
}

/// A hash of an exercise's sources: its manifest and every `.rs` file under
/// `src/`, names and contents. Contents, not times: some file systems keep
/// times to the second or two, and a save without a change is no change.
pub fn stamp(crates: &Path, e: &Exercise) -> u64 {
    let dir = crates.join(e.dir);
    let src = dir.join("src");
    // A folder that cannot be read has no sources to see.
    let sources = crate::walk::files(&src, |_| false).unwrap_or_default();
    let mut files = vec![dir.join("Cargo.toml")];
    let rs = sources
        .into_iter()
        .filter(|f| f.extension().is_some_and(|x| x == "rs"));
    files.extend(rs.map(|f| src.join(f)));
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &files {
        f.hash(&mut h);
        std::fs::read(f).ok().hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_exercise() {
        let crates = Path::new("/w/crates");
        let first = &checks::catalogue()[0];
        let inside = crates.join(first.dir).join("src/main.rs");
        assert_eq!(exercise_of(crates, &inside), Some(0));
        assert_eq!(exercise_of(crates, &crates.join("syscalls/src/lib.rs")), None);
        assert_eq!(exercise_of(crates, Path::new("/elsewhere/x.rs")), None);
    }

    #[test]
    fn a_stamp_changes_with_a_source_and_not_with_other_files() {
        let dir = std::env::temp_dir().join(format!("ipc-lab-stamp-{}", std::process::id()));
        let e = &checks::catalogue()[0];
        let src = dir.join(e.dir).join("src");
        std::fs::create_dir_all(src.join("deep")).unwrap();
        std::fs::write(src.join("main.rs"), "fn main() {}\n").unwrap();
        let before = stamp(&dir, e);
        std::fs::write(src.join("notes.txt"), "not a source").unwrap();
        assert_eq!(stamp(&dir, e), before, "only .rs files count");
        std::fs::write(src.join("deep/more.rs"), "// more\n").unwrap();
        let deeper = stamp(&dir, e);
        assert_ne!(deeper, before, "sources in subfolders count");
        assert_eq!(stamp(&dir, e), deeper, "the same sources, the same stamp");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
