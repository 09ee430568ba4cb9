//! File-system watching with debouncing: changes under the roots are gathered into batches, so a
//! storm of 10,000 new files becomes one indexing pass rather than 10,000, and the library
//! reflects creations, edits, deletions and renames within seconds.

use crate::scan::{is_pruned, ScanOptions};
use notify::{RecursiveMode, Watcher as _};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The OS watcher could not be created or a root could not be watched.
    #[error("cannot watch {path}: {message}")]
    Watch {
        /// The root (or "*" for the watcher itself).
        path: String,
        /// The OS error.
        message: String,
    },
}

/// Paths that changed during one burst of activity.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChangeBatch {
    /// Every path an event named (files and folders; created, modified, removed or renamed).
    pub paths: BTreeSet<PathBuf>,
    /// How many raw events were merged into this batch.
    pub events: usize,
    /// The OS dropped events (queue overflow): the caller should rescan everything.
    pub rescan: bool,
}

/// How long to wait for quiet before handing a batch over, and the longest a batch may grow.
#[derive(Debug, Clone, Copy)]
pub struct Debounce {
    /// A batch is complete after this long without events.
    pub quiet: Duration,
    /// A batch is handed over after this long even if events keep coming (a storm must not
    /// postpone indexing forever).
    pub max_wait: Duration,
}

impl Default for Debounce {
    fn default() -> Self {
        Debounce {
            quiet: Duration::from_millis(750),
            max_wait: Duration::from_secs(5),
        }
    }
}

/// A recursive watch on the library's roots.
pub struct Watcher {
    _inner: notify::RecommendedWatcher,
    rx: Receiver<notify::Result<notify::Event>>,
    watched: Vec<PathBuf>,
}

impl Watcher {
    /// Starts watching every root that exists; missing roots are skipped and returned so the
    /// caller can mark them offline.
    pub fn new(roots: &[PathBuf]) -> Result<(Self, Vec<PathBuf>), WatchError> {
        let (tx, rx) = mpsc::channel();
        let mut inner = notify::recommended_watcher(move |ev| {
            // The receiver is gone only when the watcher is being dropped.
            let _ = tx.send(ev);
        })
        .map_err(|e| WatchError::Watch {
            path: "*".into(),
            message: e.to_string(),
        })?;
        let mut watched = Vec::new();
        let mut missing = Vec::new();
        for root in roots {
            if !root.is_dir() {
                missing.push(root.clone());
                continue;
            }
            inner
                .watch(root, RecursiveMode::Recursive)
                .map_err(|e| WatchError::Watch {
                    path: root.display().to_string(),
                    message: e.to_string(),
                })?;
            watched.push(root.clone());
        }
        Ok((
            Watcher {
                _inner: inner,
                rx,
                watched,
            },
            missing,
        ))
    }

    /// The roots being watched.
    pub fn roots(&self) -> &[PathBuf] {
        &self.watched
    }

    /// Waits for the next burst of changes; `None` when `stop` was set (checked every 200 ms)
    /// or the watcher died.
    pub fn next_batch(&self, debounce: Debounce, stop: &AtomicBool) -> Option<ChangeBatch> {
        self.next_batch_within(debounce, stop, None)
    }

    /// [`next_batch`](Self::next_batch) that also gives up (`None`) after `idle` without any
    /// event, for callers that poll.
    pub fn next_batch_within(
        &self,
        debounce: Debounce,
        stop: &AtomicBool,
        idle: Option<Duration>,
    ) -> Option<ChangeBatch> {
        let mut batch = ChangeBatch::default();
        let waiting = Instant::now();
        // Wait for the first event.
        loop {
            if stop.load(Ordering::Relaxed) || idle.is_some_and(|d| waiting.elapsed() >= d) {
                return None;
            }
            match self.rx.recv_timeout(Duration::from_millis(200)) {
                Ok(ev) if !is_change(&ev) => continue,
                Ok(ev) => {
                    absorb(&mut batch, ev);
                    break;
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
        let started = Instant::now();
        loop {
            let left = debounce.max_wait.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match self.rx.recv_timeout(debounce.quiet.min(left)) {
                Ok(ev) if !is_change(&ev) => continue,
                Ok(ev) => absorb(&mut batch, ev),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        Some(batch)
    }
}

/// Whether an event can mean new or changed content. Opening, reading and closing a file
/// unchanged are not changes: counting them made every scan (which opens folders) and every
/// picture the app shows start another scan, forever.
fn is_change(ev: &notify::Result<notify::Event>) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match ev {
        Ok(e) => match e.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) => e.need_rescan(),
            _ => true,
        },
        Err(_) => true,
    }
}

fn absorb(batch: &mut ChangeBatch, ev: notify::Result<notify::Event>) {
    batch.events += 1;
    match ev {
        Ok(ev) => {
            if ev.need_rescan() {
                batch.rescan = true;
            }
            batch.paths.extend(ev.paths);
        }
        Err(e) => {
            tracing::warn!("file watcher error: {e}; will rescan");
            batch.rescan = true;
        }
    }
}

/// The roots a batch touches, so only those are rescanned. A path the scan with `opts` never
/// visits (hidden, system, the library folder) touches nothing: a home folder as a root would
/// otherwise be rescanned whenever a browser writes its cache or the library its catalog.
pub fn roots_touched(batch: &ChangeBatch, roots: &[PathBuf], opts: &ScanOptions) -> Vec<PathBuf> {
    if batch.rescan {
        return roots.to_vec();
    }
    roots
        .iter()
        .filter(|r| {
            batch
                .paths
                .iter()
                .any(|p| (p.starts_with(r) && !is_pruned(r, p, opts)) || r.starts_with(p))
        })
        .cloned()
        .collect()
}

/// Whether `path` lies under one of `roots` (helper for callers filtering events).
pub fn under_any(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| path.starts_with(r))
}

/// How a root looks from outside: there as a folder or not, on which file system, which
/// folder, and (for a root that is offline) when its entries last changed. No watch sees a
/// folder appear where there was none, or a drive mounted over its empty mount point;
/// comparing this every few seconds does, for the price of one `stat` per root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence(Option<(u64, u64, Option<std::time::SystemTime>)>);

impl Presence {
    /// Looks at `root`; `with_changes` also tells apart two moments of the same folder whose
    /// entries changed (for an offline root, where a drive's files coming back matter).
    pub fn of(root: &Path, with_changes: bool) -> Self {
        let Ok(m) = std::fs::metadata(root) else {
            return Presence(None);
        };
        if !m.is_dir() {
            return Presence(None);
        }
        // The file system and the folder's own identity: an unmounted drive leaves its mount
        // point (another device), a folder deleted and made again is another inode.
        #[cfg(unix)]
        let (device, inode) = {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let (device, inode) = (0, 0);
        Presence(Some((
            device,
            inode,
            if with_changes {
                m.modified().ok()
            } else {
                None
            },
        )))
    }

    /// Whether the root was there as a folder.
    pub fn is_there(&self) -> bool {
        self.0.is_some()
    }

    /// Whether both looks saw the same folder (or none), whatever its entries did.
    pub fn same_folder(&self, other: &Presence) -> bool {
        self.0.map(|(d, i, _)| (d, i)) == other.0.map(|(d, i, _)| (d, i))
    }
}

/// How often watchers look at whether roots came back or went away ([`RootLooks`]).
pub const LOOK_EVERY: Duration = Duration::from_secs(2);

/// How each root looked at the last look, to tell when one came back or went away: a drive
/// plugged in or out, a folder put back, which no watch reports.
#[derive(Debug, Default)]
pub struct RootLooks(HashMap<PathBuf, (bool, Presence)>);

impl RootLooks {
    /// Whether a root appeared or disappeared (or, while offline, its entries changed) since
    /// the last look. A root seen for the first time, or since the library marked it online or
    /// offline, counts when the library's word and the disk disagree or the folder was replaced
    /// meanwhile. Offline roots are compared with their entries' last change too: a drive
    /// mounted over its empty mount point changes the device, files put back change the folder.
    pub fn changed(&mut self, roots: &[crate::catalog::Root]) -> bool {
        self.0.retain(|p, _| roots.iter().any(|r| &r.path == p));
        let mut changed = false;
        for r in roots {
            let now = Presence::of(&r.path, !r.online);
            match self.0.insert(r.path.clone(), (r.online, now.clone())) {
                Some((online, before)) if online == r.online => changed |= before != now,
                Some((_, before)) => {
                    changed |= !before.same_folder(&now) || r.online != now.is_there();
                }
                None => changed |= r.online != now.is_there(),
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_looks_see_a_root_go_and_come_back_and_stay_quiet_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drive");
        std::fs::create_dir(&path).unwrap();
        let root = |online| crate::catalog::Root {
            id: 1,
            path: path.clone(),
            online,
        };
        let mut looks = RootLooks::default();
        assert!(
            !looks.changed(&[root(true)]),
            "the first look agrees with the library"
        );
        assert!(!looks.changed(&[root(true)]));
        std::fs::rename(&path, dir.path().join("away")).unwrap();
        assert!(looks.changed(&[root(true)]), "gone");
        // The library marks it offline: agreed, nothing to do.
        assert!(!looks.changed(&[root(false)]));
        assert!(!looks.changed(&[root(false)]));
        std::fs::rename(dir.path().join("away"), &path).unwrap();
        assert!(looks.changed(&[root(false)]), "back");
        assert!(!looks.changed(&[root(true)]));
        // A library that says offline while it is there: look (first sight too).
        assert!(RootLooks::default().changed(&[root(false)]));
        // Removed from the library: forgotten.
        assert!(!looks.changed(&[]));
        assert!(looks.0.is_empty());
    }

    #[test]
    fn presence_changes_when_a_folder_comes_back_or_its_entries_change() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("drive");
        let gone = Presence::of(&root, true);
        std::fs::create_dir(&root).unwrap();
        let back = Presence::of(&root, true);
        assert_ne!(gone, back);
        assert!(!gone.is_there() && back.is_there());
        assert_eq!(back, Presence::of(&root, true));
        // Replaced by another folder (the first one kept elsewhere, so that its inode number
        // cannot be handed to the new one).
        std::fs::rename(&root, dir.path().join("first")).unwrap();
        std::fs::create_dir(&root).unwrap();
        let again = Presence::of(&root, true);
        #[cfg(unix)]
        assert_ne!(back, again);
        let back = again;
        // A file where the folder was is no folder.
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(Presence::of(&file, true), gone);
        assert!(back.same_folder(&Presence::of(&root, false)));
        assert!(!back.same_folder(&gone));
        // Entries changing: seen with changes, not without.
        let quiet = Presence::of(&root, false);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(root.join("a.jpg"), b"x").unwrap();
        let dir_file = std::fs::File::open(&root).unwrap();
        dir_file
            .set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1))
            .unwrap();
        assert_ne!(back, Presence::of(&root, true));
        assert_eq!(quiet, Presence::of(&root, false));
    }

    #[test]
    fn a_burst_of_files_arrives_as_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (w, missing) = Watcher::new(std::slice::from_ref(&root)).unwrap();
        assert!(missing.is_empty());
        for i in 0..200 {
            std::fs::write(root.join(format!("f{i}.jpg")), b"x").unwrap();
        }
        let stop = AtomicBool::new(false);
        let batch = w
            .next_batch(
                Debounce {
                    quiet: Duration::from_millis(300),
                    max_wait: Duration::from_secs(5),
                },
                &stop,
            )
            .unwrap();
        assert!(batch.events >= 200, "{} events", batch.events);
        assert!(
            batch
                .paths
                .iter()
                .filter(|p| p.extension().is_some())
                .count()
                >= 200
        );
        assert_eq!(
            roots_touched(&batch, std::slice::from_ref(&root), &ScanOptions::default()),
            vec![root]
        );
    }

    #[test]
    fn reading_files_and_listing_folders_is_not_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.jpg"), b"x").unwrap();
        let (w, _) = Watcher::new(std::slice::from_ref(&root)).unwrap();
        let quick = Debounce {
            quiet: Duration::from_millis(200),
            max_wait: Duration::from_secs(2),
        };
        let stop = AtomicBool::new(false);
        for _ in 0..3 {
            let _ = std::fs::read(root.join("sub/a.jpg")).unwrap();
            let _ = std::fs::read_dir(root.join("sub")).unwrap().count();
            let _ = std::fs::read_dir(&root).unwrap().count();
        }
        assert_eq!(
            w.next_batch_within(quick, &stop, Some(Duration::from_secs(1))),
            None,
            "reads are not changes"
        );
        std::fs::write(root.join("sub/b.jpg"), b"y").unwrap();
        let batch = w
            .next_batch_within(quick, &stop, Some(Duration::from_secs(5)))
            .expect("a new file is a change");
        assert!(
            batch.paths.iter().any(|p| p.ends_with("b.jpg")),
            "{batch:?}"
        );
    }

    #[test]
    fn a_storm_of_ten_thousand_files_is_a_handful_of_batches() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (w, _) = Watcher::new(std::slice::from_ref(&root)).unwrap();
        for i in 0..10_000 {
            let sub = root.join(format!("d{}", i % 50));
            if i < 50 {
                std::fs::create_dir(&sub).unwrap();
            }
            std::fs::write(sub.join(format!("f{i}.jpg")), b"x").unwrap();
        }
        let stop = AtomicBool::new(false);
        let debounce = Debounce {
            quiet: Duration::from_millis(500),
            max_wait: Duration::from_secs(5),
        };
        let mut batches = 0;
        let mut events = 0;
        let mut covered = false;
        // Drain until quiet: every burst arrives as a few batches, each of which names the
        // files or asks for a rescan (the OS queue may overflow on a storm).
        while let Some(b) = w.next_batch_within(debounce, &stop, Some(Duration::from_secs(3))) {
            batches += 1;
            events += b.events;
            covered |= b.rescan || b.paths.len() >= 10_000;
        }
        assert!(
            (1..=5).contains(&batches),
            "{batches} batches for {events} events"
        );
        assert!(events >= 10_000 || covered, "{events} events");
    }

    #[test]
    fn stop_ends_the_wait_and_missing_roots_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("unplugged");
        let (w, missing) = Watcher::new(&[dir.path().to_path_buf(), gone.clone()]).unwrap();
        assert_eq!(missing, vec![gone]);
        let stop = AtomicBool::new(true);
        assert!(w.next_batch(Debounce::default(), &stop).is_none());
    }

    #[test]
    fn only_touched_roots_are_rescanned() {
        let a = PathBuf::from("/photos/a");
        let b = PathBuf::from("/photos/b");
        let mut batch = ChangeBatch::default();
        batch.paths.insert(PathBuf::from("/photos/b/x/y.jpg"));
        assert_eq!(
            roots_touched(&batch, &[a.clone(), b.clone()], &ScanOptions::default()),
            vec![b.clone()]
        );
        batch.rescan = true;
        assert_eq!(
            roots_touched(&batch, &[a.clone(), b.clone()], &ScanOptions::default()),
            vec![a, b]
        );
    }
}
