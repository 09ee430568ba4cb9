//! What the indexer is reading, recorded so that a file that kills the process (an abort or a
//! segfault in a codec library, an allocation that cannot be met, the OOM killer) stops
//! indexing at most once more, not on every start.
//!
//! Each chunk of files is claimed in the catalog before the decoders read it
//! ([`Catalog::claim`]); a commit clears its files' claims. After a death, the next job reads
//! each file still claimed alone, one at a time, with nothing else in flight and only for as
//! long as its read and decode take. While it does, a fatal-signal handler (Unix) is armed to
//! leave a crash mark: when the process dies on that file the mark says so, and the file is
//! marked failed ([`crate::catalog::STOPPED_WHILE_READING`]) on the next start. A death that
//! leaves no mark (SIGKILL: the OOM killer, or someone ending the process) cannot be told from
//! a kill that happened to land there, so such a file is marked failed the second time only.

use crate::catalog::{Catalog, CatalogError};
use crate::pipeline::{Reading, WorkItem};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file in the library folder where a crash while reading a file alone is recorded.
const MARK: &str = "reading-alone.crash";

/// Whether the last process died of a fatal signal while reading a file alone; forgets it.
pub(crate) fn take_crash_mark(library: &Path) -> bool {
    let path = library.join(MARK);
    let crashed = std::fs::metadata(&path).is_ok_and(|m| m.len() > 0);
    if let Err(e) = std::fs::remove_file(&path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), "cannot remove the crash mark: {e}");
        }
    }
    crashed
}

/// The claims of one job, through a connection of their own (the decoders make them while the
/// job's own connection commits).
pub(crate) struct Claims {
    state: Mutex<(Catalog, Vec<i64>)>,
    mark: PathBuf,
}

impl Claims {
    /// Opens the claims connection of the library at `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Self, CatalogError> {
        let catalog = Catalog::open(dir)?;
        catalog.survive_the_process_only()?;
        Ok(Claims {
            state: Mutex::new((catalog, Vec::new())),
            mark: dir.join(MARK),
        })
    }

    /// What the pipeline reports to, for files read together (`alone` false) or one at a
    /// time with the crash mark armed (`alone` true).
    pub(crate) fn reading(&self, alone: bool) -> Reader<'_> {
        Reader {
            claims: self,
            alone,
            armed: Mutex::new(None),
        }
    }

    /// Runs `f` on the claims connection and the list of what this job claimed.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Catalog, &mut Vec<i64>) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (catalog, claimed) = &mut *guard;
        f(catalog, claimed)
    }

    /// The job ended without the process dying: nothing it claimed is suspect any more.
    pub(crate) fn release(self) {
        let (mut catalog, claimed) = match self.state.into_inner() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(e) = catalog.release(&claimed) {
            tracing::warn!("could not clear the record of files read: {e}");
        }
    }
}

/// A job's [`Reading`]: claims chunks, and around a file read alone, arms the crash mark and
/// clears the claim once the file is read (a kill during its encoding or commit is no sign).
pub(crate) struct Reader<'a> {
    claims: &'a Claims,
    alone: bool,
    armed: Mutex<Option<std::fs::File>>,
}

impl Reading for Reader<'_> {
    fn claim(&self, items: &[WorkItem]) -> Result<(), CatalogError> {
        let ids: Vec<i64> = items.iter().map(|w| w.photo_id).collect();
        self.claims.with(|catalog, claimed| {
            catalog.claim(&ids, self.alone)?;
            claimed.extend(&ids);
            Ok(())
        })
    }

    fn start(&self, item: &WorkItem) {
        if !self.alone {
            return;
        }
        match std::fs::File::create(&self.claims.mark) {
            Ok(file) => {
                signals::arm(&file);
                if let Ok(mut slot) = self.armed.lock() {
                    *slot = Some(file);
                }
            }
            Err(e) => tracing::warn!(
                path = %item.path.display(),
                "cannot prepare the crash mark: {e}"
            ),
        }
    }

    fn done(&self, item: &WorkItem) {
        if !self.alone {
            return;
        }
        signals::disarm();
        if let Ok(mut slot) = self.armed.lock() {
            slot.take();
        }
        let _ = std::fs::remove_file(&self.claims.mark);
        if let Err(e) = self
            .claims
            .with(|catalog, _| catalog.release(&[item.photo_id]))
        {
            // The claim stays: a later death would count against this file, read fine.
            tracing::warn!(path = %item.path.display(), "could not clear the record of the file read: {e}");
        }
    }
}

#[cfg(unix)]
mod signals {
    //! A handler for the signals a crash raises, which writes to the armed crash mark and then
    //! lets the signal end the process as it would have. Only async-signal-safe calls inside.

    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::Once;

    static FD: AtomicI32 = AtomicI32::new(-1);
    static INSTALL: Once = Once::new();
    const FATAL: [libc::c_int; 5] = [
        libc::SIGABRT,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
    ];

    extern "C" fn on_fatal(sig: libc::c_int) {
        let fd = FD.load(Ordering::SeqCst);
        if fd >= 0 {
            let msg = b"crashed\n";
            // SAFETY: write(2) is async-signal-safe; the buffer is valid for its length.
            unsafe { libc::write(fd, msg.as_ptr().cast(), msg.len()) };
        }
        // SA_RESETHAND put back the default action: the signal now ends the process.
        // SAFETY: raise(3) is async-signal-safe.
        unsafe { libc::raise(sig) };
    }

    /// Installs the handler (once per process) and points it at `file`.
    pub(super) fn arm(file: &std::fs::File) {
        INSTALL.call_once(|| {
            for sig in FATAL {
                // SAFETY: a zeroed sigaction is a valid starting value; the handler only makes
                // async-signal-safe calls; sigaction is given valid pointers.
                unsafe {
                    let mut sa: libc::sigaction = std::mem::zeroed();
                    sa.sa_sigaction = on_fatal as extern "C" fn(libc::c_int) as usize;
                    sa.sa_flags = libc::SA_RESETHAND | libc::SA_NODEFER;
                    libc::sigemptyset(&mut sa.sa_mask);
                    libc::sigaction(sig, &sa, std::ptr::null_mut());
                }
            }
        });
        FD.store(file.as_raw_fd(), Ordering::SeqCst);
    }

    /// Stops writing to the mark (the file read alone is done).
    pub(super) fn disarm() {
        FD.store(-1, Ordering::SeqCst);
    }
}

#[cfg(not(unix))]
mod signals {
    //! No crash mark here: a death while reading a file alone counts as a strike.

    pub(super) fn arm(_file: &std::fs::File) {}
    pub(super) fn disarm() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_alone_is_quarantined_at_once_after_a_crash_and_at_the_second_silent_death() {
        let dir = tempfile::tempdir().unwrap();
        let mut cat = Catalog::open(dir.path()).unwrap();
        let root = cat.add_root(Path::new("/photos")).unwrap();
        let files: Vec<_> = (0..3)
            .map(|i| (PathBuf::from(format!("/photos/{i}.jpg")), 1, 1, None))
            .collect();
        let ids = cat.upsert_files(root.id, &files).unwrap();
        let failed = |cat: &Catalog| {
            cat.failed_files()
                .unwrap()
                .into_iter()
                .map(|(p, _)| p)
                .collect::<Vec<_>>()
        };

        // A job died with all three in flight: all three are suspects, none condemned.
        cat.claim(&ids, false).unwrap();
        let (suspects, n) = cat.settle_in_flight("set", false).unwrap();
        assert_eq!((suspects.len(), n), (3, 0));

        // The first is read alone and the process is killed (no crash mark): a strike only.
        cat.claim(&ids[..1], true).unwrap();
        let (suspects, n) = cat.settle_in_flight("set", false).unwrap();
        assert_eq!((suspects.len(), n), (3, 0));
        assert!(failed(&cat).is_empty());
        // Killed again while it alone was read: marked failed.
        cat.claim(&ids[..1], true).unwrap();
        let (suspects, n) = cat.settle_in_flight("set", false).unwrap();
        assert_eq!((suspects.len(), n), (2, 1));
        assert_eq!(failed(&cat), vec![PathBuf::from("/photos/0.jpg")]);
        assert_eq!(cat.stopped_under("set").unwrap().len(), 1);
        assert!(cat.stopped_under("other decoders").unwrap().is_empty());

        // The second crashes (a fatal signal, the mark says so): marked failed at once.
        cat.claim(&ids[1..2], true).unwrap();
        let (suspects, n) = cat.settle_in_flight("set", true).unwrap();
        assert_eq!((suspects, n), ([ids[2]].into(), 1));

        // The third is read and committed: nothing is left in flight.
        cat.claim(&ids[2..], true).unwrap();
        cat.release(&ids[2..]).unwrap();
        let (suspects, n) = cat.settle_in_flight("set", false).unwrap();
        assert_eq!((suspects.len(), n), (0, 0));
    }

    #[test]
    fn the_crash_mark_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!take_crash_mark(dir.path()));
        std::fs::write(dir.path().join(MARK), b"").unwrap();
        assert!(!take_crash_mark(dir.path()), "armed, but nothing crashed");
        std::fs::write(dir.path().join(MARK), b"crashed\n").unwrap();
        assert!(take_crash_mark(dir.path()));
        assert!(!take_crash_mark(dir.path()));
    }
}
