//! One writer per library folder. The vector index file is rewritten whole by whoever saves it
//! and the catalog records which save is current, so two processes indexing one library (the
//! app and `glimpse index`, or two windows) would each save a graph without the other's new
//! photos over the other's, and those photos would stay unsearchable while the catalog calls
//! them indexed. The writer holds an advisory lock on a file in the library folder for as long
//! as it is open; the operating system drops it when the process ends, crash included, so a
//! lock is never left behind. Readers (searching, listing) take none.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a library folder.
pub const LOCK_FILE: &str = "writer.lock";

/// Why the library's writer lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another Glimpse ({holder}) has this library open for indexing; quit it first \
         (searching it works meanwhile)"
    )]
    Busy {
        /// The library folder.
        dir: PathBuf,
        /// What the holder wrote about itself ("glimpse-app, pid 4242"), or "unknown".
        holder: String,
    },
    /// The lock file cannot be opened or locked.
    #[error("cannot lock the library {}: {source}", dir.display())]
    Io {
        /// The library folder.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Held while a process may write the library's vector index; released on drop.
#[derive(Debug)]
pub struct WriterLock {
    /// Holding the open, locked file is what holds the lock.
    _file: File,
}

impl WriterLock {
    /// Takes the lock on the library folder `dir` (which must exist) without waiting, and
    /// writes who holds it (program and process id) for the message another process shows.
    /// On a file system without locks (some network shares) it goes ahead unlocked, with a
    /// warning: refusing would leave such a library unusable.
    pub fn acquire(dir: &Path) -> Result<WriterLock, LockError> {
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                // Who holds it is only for messages: failing to say so is no reason to refuse.
                let me = format!("{}, pid {}\n", program_name(), std::process::id());
                let said = file
                    .set_len(0)
                    .and_then(|()| file.seek(SeekFrom::Start(0)))
                    .and_then(|_| file.write_all(me.as_bytes()));
                if let Err(e) = said {
                    tracing::debug!("cannot write the lock holder: {e}");
                }
            }
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Busy {
                    dir: dir.to_path_buf(),
                    holder: holder_note(&mut file),
                });
            }
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                tracing::warn!(
                    "the file system of {} has no file locks: nothing stops a second Glimpse \
                     from indexing this library at the same time",
                    dir.display()
                );
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(WriterLock { _file: file })
    }
}

/// What the holder wrote about itself. It writes just after taking the lock, so a process
/// that finds the lock taken in between reads an empty note: it looks again for a moment.
/// Windows locks are mandatory, so the note cannot be read there at all ("unknown").
fn holder_note(file: &mut File) -> String {
    for _ in 0..40 {
        let mut note = String::new();
        let read = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut note));
        match note.trim() {
            "" if read.is_ok() => std::thread::sleep(std::time::Duration::from_millis(5)),
            "" => break,
            n => return n.chars().take(200).collect(),
        }
    }
    "unknown".to_string()
}

/// This program's file name without extension ("glimpse", "glimpse-app").
fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "glimpse".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = WriterLock::acquire(dir.path()).unwrap();
        match WriterLock::acquire(dir.path()) {
            Err(LockError::Busy { holder, .. }) => {
                assert!(
                    holder.ends_with(&format!("pid {}", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        let again = WriterLock::acquire(dir.path());
        assert!(again.is_ok(), "{again:?}");
    }

    #[test]
    fn a_holder_caught_before_it_wrote_its_note_is_still_named() {
        let dir = tempfile::tempdir().unwrap();
        // Locked, note not written yet: the moment between the holder's two steps.
        let mut holder = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join(LOCK_FILE))
            .unwrap();
        holder.try_lock().unwrap();
        let writes = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            holder.write_all(b"late, pid 1\n").unwrap();
            holder
        });
        let second = WriterLock::acquire(dir.path());
        let _holder = writes.join().unwrap();
        match second {
            Err(LockError::Busy { holder, .. }) => assert_eq!(holder, "late, pid 1"),
            other => panic!("expected Busy, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_library_folder_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(matches!(
            WriterLock::acquire(&missing),
            Err(LockError::Io { .. })
        ));
    }
}
