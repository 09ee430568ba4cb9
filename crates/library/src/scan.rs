//! Photo roots → a stream of candidate files for the indexer.
//!
//! The scan is the first stage of indexing: it walks a root (with `walkdir`, never following
//! symbolic links) and calls back once per thing the indexer or `status` cares about, so a tree
//! of a million files never sits in memory. It only reads directory listings and, for files
//! whose name says "photo", one `lstat`; it never opens a file.
//!
//! What is reported:
//! - [`ScanItem::File`]: a regular file with an extension in [`PHOTO_EXTENSIONS`] (decodable);
//! - [`ScanItem::Unsupported`]: a regular file with an extension in [`UNSUPPORTED_EXTENSIONS`]
//!   (a photo this build cannot decode, recorded so `status` can say so);
//! - [`ScanItem::Skipped`]: something the user may want to know about: a directory that could not
//!   be listed, a photo too large to read, a photo that vanished mid-scan, a symbolic link.
//!
//! What is silently left out:
//! - files with any other extension (or none);
//! - hidden entries, whose name starts with `.` (unless [`ScanOptions::include_hidden`]; on
//!   Windows also entries with the hidden attribute);
//! - system, trash and thumbnail-cache folders, always, hidden or not: see [`SYSTEM_NAMES`],
//!   plus any name starting with `.Trash-` (per-user trash on removable drives) or `._`
//!   (AppleDouble resource forks, which carry photo extensions but no picture).
//!
//! Symbolic links are never followed and never indexed: following directory links makes loops
//! possible and indexes the same photo twice under two paths; a link to a photo outside the
//! roots is better added as a root. A link whose name has a photo extension, or that points to
//! a directory, is reported as [`SkipReason::Symlink`] so a "missing" photo can be explained;
//! other links are ignored. A root that is itself a symbolic link (`~/Pictures` → another drive)
//! is followed.
//!
//! File names are handled as [`OsStr`] bytes throughout: names that are not valid UTF-8 are
//! found and reported with their exact bytes.

pub use glimpse_clip::formats::{
    decodable_extensions, format_of, is_photo_path, PhotoFormat, HEIF_EXTENSIONS, PHOTO_EXTENSIONS,
    UNSUPPORTED_EXTENSIONS,
};
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// Names (matched ASCII-case-insensitively) that are never descended into or reported, hidden
/// or not: operating-system, trash, NAS thumbnail and archive-metadata folders whose pictures
/// are copies, caches or deleted files, not the user's photos.
pub const SYSTEM_NAMES: &[&str] = &[
    // Windows: recycle bin, restore points and indexer data.
    "$RECYCLE.BIN",
    "System Volume Information",
    // Synology: thumbnail cache, recycle bin, snapshots.
    "@eaDir",
    "#recycle",
    "#snapshot",
    // QNAP: recycle bin and thumbnail cache.
    "@Recycle",
    ".@__thumb",
    // Unix: fsck's salvage folder, freedesktop thumbnail cache and trash.
    "lost+found",
    ".thumbnails",
    ".Trash",
    // macOS: trash, Spotlight and FSEvents data, resource forks on foreign volumes.
    ".Trashes",
    ".Spotlight-V100",
    ".fseventsd",
    ".AppleDouble",
    "__MACOSX",
    // Developer folders full of icons and test images.
    "node_modules",
];

/// Name prefixes (ASCII-case-insensitive) that are always pruned: `.Trash-<uid>` is the
/// freedesktop trash on removable drives, `._` marks AppleDouble resource-fork files.
pub const SYSTEM_PREFIXES: &[&str] = &[".Trash-", "._"];

/// How to scan a root; `Default` is what indexing uses.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Also walk entries whose name starts with `.` (system names are pruned regardless).
    pub include_hidden: bool,
    /// Photos larger than this are reported as [`SkipReason::TooLarge`] instead of being indexed,
    /// so the decoder never reads them.
    pub max_file_bytes: u64,
    /// Visit each directory's entries in file-name (byte) order, for a reproducible order of
    /// items and progress; costs holding one listing per open directory in memory.
    pub sorted: bool,
    /// Set to stop the walk early; the scan then returns [`ScanError::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
    /// Folders never entered, named as the walk sees them (canonical): the library's own
    /// folder, so that a root holding it (a home folder) never indexes previews and never
    /// watches the catalog being written.
    pub skip: Vec<PathBuf>,
}

impl ScanOptions {
    /// The defaults, never entering the library folder `library` (canonicalised when it
    /// exists, as roots are).
    pub fn skipping(library: &Path) -> Self {
        Self {
            skip: vec![library
                .canonicalize()
                .unwrap_or_else(|_| library.to_path_buf())],
            ..Self::default()
        }
    }
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            include_hidden: false,
            max_file_bytes: glimpse_clip::decode::MAX_FILE_BYTES,
            sorted: true,
            cancel: None,
            skip: Vec::new(),
        }
    }
}

/// A decodable photo file found by the scan, with what change detection compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedFile {
    /// Full path (the root joined with the relative path), exact bytes.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch (negative before it, 0 where the
    /// platform has none).
    pub mtime_ns: i64,
}

/// One thing the scan reports, in walk order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanItem {
    /// A photo the engine can decode: a candidate for indexing.
    File(ScannedFile),
    /// A photo in a format this build cannot decode: recorded, not indexed.
    Unsupported {
        /// Full path, exact bytes.
        path: PathBuf,
        /// Size in bytes.
        size: u64,
        /// Modification time in nanoseconds since the Unix epoch.
        mtime_ns: i64,
        /// The format, as its lower-case entry in [`UNSUPPORTED_EXTENSIONS`].
        format: &'static str,
    },
    /// Something that was not scanned and why, for `status`.
    Skipped {
        /// Full path of the directory or file, exact bytes.
        path: PathBuf,
        /// Why it was skipped.
        reason: SkipReason,
        /// A directory whose contents were not listed: the caller must keep (not delete) what
        /// the catalog knows under it, since absence from this scan proves nothing.
        is_dir: bool,
    },
}

impl ScanItem {
    /// The path the item is about, for logging and progress without matching on the variant.
    pub fn path(&self) -> &Path {
        match self {
            ScanItem::File(f) => &f.path,
            ScanItem::Unsupported { path, .. } | ScanItem::Skipped { path, .. } => path,
        }
    }
}

/// Why an entry was skipped; the message is what a user sees next to the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// The process may not list the directory or stat the file.
    #[error("permission denied")]
    PermissionDenied,
    /// Any other I/O error (failing disk, network share gone, ...), with the system's message.
    #[error("cannot read: {0}")]
    Unreadable(String),
    /// The photo is larger than [`ScanOptions::max_file_bytes`].
    #[error("file too large: {bytes} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the file.
        bytes: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// It was listed but was gone by the time it was looked at (deleted or moved mid-scan).
    #[error("vanished during the scan")]
    Vanished,
    /// A symbolic link, never followed (no loops, no photo indexed twice).
    #[error("symbolic link, not followed")]
    Symlink,
    /// A photo-named entry that is a FIFO, socket or device, which reading could hang on.
    #[error("not a regular file")]
    NotRegularFile,
}

impl SkipReason {
    /// A stable machine-readable code, for `status --json` and grouping.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::PermissionDenied => "permission_denied",
            SkipReason::Unreadable(_) => "unreadable",
            SkipReason::TooLarge { .. } => "too_large",
            SkipReason::Vanished => "vanished",
            SkipReason::Symlink => "symlink",
            SkipReason::NotRegularFile => "not_regular_file",
        }
    }

    fn from_io(err: &io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::NotFound => SkipReason::Vanished,
            io::ErrorKind::PermissionDenied => SkipReason::PermissionDenied,
            _ => SkipReason::Unreadable(err.to_string()),
        }
    }
}

/// Whether a root can be scanned now; anything but `Online` means "offline": keep its photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootState {
    /// A listable directory.
    Online,
    /// Nothing at that path (deleted, renamed, or a drive that is not plugged in).
    Missing,
    /// The path exists but is not a directory.
    NotADirectory,
    /// A directory that cannot be listed (permissions, I/O error, stale network mount).
    Unreadable,
}

impl fmt::Display for RootState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RootState::Online => "online",
            RootState::Missing => "missing",
            RootState::NotADirectory => "not a directory",
            RootState::Unreadable => "unreadable",
        })
    }
}

/// Why a scan did not produce a complete listing: on any of these the caller must not treat
/// photos it did not see as deleted.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The root is not an online directory (checked before and after the walk).
    #[error("photo folder {} is {state}", path.display())]
    RootOffline {
        /// The root as given.
        path: PathBuf,
        /// What it is instead.
        state: RootState,
    },
    /// [`ScanOptions::cancel`] was set during the walk.
    #[error("scan cancelled")]
    Cancelled,
}

/// Counts of what one scan reported, for logs and summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// [`ScanItem::File`] items.
    pub files: usize,
    /// [`ScanItem::Unsupported`] items.
    pub unsupported: usize,
    /// [`ScanItem::Skipped`] items.
    pub skipped: usize,
}

/// Whether one file or folder name is always pruned (system/trash/cache), hidden or not.
pub fn is_system_name(name: &OsStr) -> bool {
    let b = name.as_encoded_bytes();
    SYSTEM_NAMES
        .iter()
        .any(|n| b.eq_ignore_ascii_case(n.as_bytes()))
        || SYSTEM_PREFIXES
            .iter()
            .any(|p| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
}

fn is_pruned_name(name: &OsStr, opts: &ScanOptions) -> bool {
    is_system_name(name) || (!opts.include_hidden && name.as_encoded_bytes().starts_with(b"."))
}

/// Whether the scan of `root` would never visit `path` because a component below the root is
/// hidden or a system folder (or `path` is not under `root`), so the watcher ignores the same
/// things the scan does. Looks only at names, not at the disk.
pub fn is_pruned(root: &Path, path: &Path, opts: &ScanOptions) -> bool {
    match path.strip_prefix(root) {
        Ok(rel) => {
            rel.iter().any(|c| is_pruned_name(c, opts))
                || opts.skip.iter().any(|s| path.starts_with(s))
        }
        Err(_) => true,
    }
}

/// Whether `root` can be scanned now, so vanished roots and unplugged drives are marked offline
/// (and their photos kept) instead of being scanned as empty.
///
/// Note: a mount point whose drive is unplugged can remain as an empty directory; that reads as
/// `Online` with nothing in it, which a caller should treat with suspicion before deleting.
pub fn root_status(root: &Path) -> RootState {
    match std::fs::metadata(root) {
        Err(e) => match e.kind() {
            io::ErrorKind::NotFound => RootState::Missing,
            io::ErrorKind::NotADirectory => RootState::NotADirectory,
            _ => RootState::Unreadable,
        },
        Ok(m) if !m.is_dir() => RootState::NotADirectory,
        Ok(_) => match std::fs::read_dir(root) {
            Ok(_) => RootState::Online,
            Err(_) => RootState::Unreadable,
        },
    }
}

/// Modification time in nanoseconds since the Unix epoch: negative before it, saturating far
/// from it, 0 where the platform records none.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    let Ok(t) = meta.modified() else { return 0 };
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// Classifies one photo-named path from its `lstat` result, as the walk does; `None` when it is
/// not a photo by name. Shared by the walk and [`scan_file`].
fn classify(
    path: &Path,
    meta: io::Result<std::fs::Metadata>,
    opts: &ScanOptions,
) -> Option<ScanItem> {
    let format = format_of(path)?;
    let skipped = |reason| ScanItem::Skipped {
        path: path.to_path_buf(),
        reason,
        is_dir: false,
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) => return Some(skipped(SkipReason::from_io(&e))),
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Some(skipped(SkipReason::Symlink));
    }
    if ft.is_dir() {
        return None;
    }
    if !ft.is_file() {
        return Some(skipped(SkipReason::NotRegularFile));
    }
    let (size, mtime_ns) = (meta.len(), mtime_ns(&meta));
    Some(match format {
        PhotoFormat::Supported(_) if size > opts.max_file_bytes => skipped(SkipReason::TooLarge {
            bytes: size,
            limit: opts.max_file_bytes,
        }),
        PhotoFormat::Supported(_) => ScanItem::File(ScannedFile {
            path: path.to_path_buf(),
            size,
            mtime_ns,
        }),
        PhotoFormat::Unsupported(format) => ScanItem::Unsupported {
            path: path.to_path_buf(),
            size,
            mtime_ns,
            format,
        },
    })
}

/// Looks at one path the way the walk would (for the watcher, after an event): `None` when the
/// name is not a photo's or it is a directory; a vanished file is `Skipped` with
/// [`SkipReason::Vanished`]. Does not check hidden/system components: see [`is_pruned`].
pub fn scan_file(path: &Path, opts: &ScanOptions) -> Option<ScanItem> {
    classify(path, std::fs::symlink_metadata(path), opts)
}

fn cancelled(opts: &ScanOptions) -> bool {
    opts.cancel
        .as_ref()
        .is_some_and(|c| c.load(Ordering::Relaxed))
}

fn check_root(root: &Path) -> Result<(), ScanError> {
    match root_status(root) {
        RootState::Online => Ok(()),
        state => Err(ScanError::RootOffline {
            path: root.to_path_buf(),
            state,
        }),
    }
}

/// Walks `root` and calls `out` once per photo, unsupported photo or skipped entry, streaming
/// (memory does not grow with the tree). `Ok` means the listing is complete except under
/// `Skipped { is_dir: true }` items; on `Err` (root offline before or after the walk, or
/// cancelled) some items may already have been delivered but nothing may be inferred from
/// what was not.
pub fn scan_root(
    root: &Path,
    opts: &ScanOptions,
    out: &mut dyn FnMut(ScanItem),
) -> Result<ScanSummary, ScanError> {
    check_root(root)?;
    let mut summary = ScanSummary::default();
    let mut emit = |item: ScanItem| {
        match &item {
            ScanItem::File(_) => summary.files += 1,
            ScanItem::Unsupported { .. } => summary.unsupported += 1,
            ScanItem::Skipped { .. } => summary.skipped += 1,
        }
        out(item);
    };
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .follow_root_links(true);
    if opts.sorted {
        walker = walker.sort_by_file_name();
    }
    let walk = walker.into_iter().filter_entry(|e| {
        e.depth() == 0
            || !(is_pruned_name(e.file_name(), opts)
                || (!opts.include_hidden && hidden_attr(e))
                || opts.skip.iter().any(|s| e.path() == s))
    });
    for entry in walk {
        if cancelled(opts) {
            return Err(ScanError::Cancelled);
        }
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                // Errors come from listing a directory (or, defensively, a loop, which cannot
                // happen without following links).
                let reason = match err.io_error() {
                    Some(io) => SkipReason::from_io(io),
                    None => SkipReason::Symlink,
                };
                let path = err.path().unwrap_or(root).to_path_buf();
                emit(ScanItem::Skipped {
                    path,
                    reason,
                    is_dir: true,
                });
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        if ft.is_symlink() {
            if entry.depth() == 0 {
                continue; // unreachable: a root link is followed, so depth 0 is a directory
            }
            if is_photo_path(entry.path()) {
                emit(ScanItem::Skipped {
                    path: entry.into_path(),
                    reason: SkipReason::Symlink,
                    is_dir: false,
                });
            } else if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
                emit(ScanItem::Skipped {
                    path: entry.into_path(),
                    reason: SkipReason::Symlink,
                    is_dir: true,
                });
            }
            continue;
        }
        if !is_photo_path(entry.path()) {
            continue;
        }
        // `DirEntry::metadata` is an lstat here (links are not followed).
        let meta = entry.metadata().map_err(|e| match e.into_io_error() {
            Some(io) => io,
            None => io::Error::other("symbolic link loop"),
        });
        if let Some(item) = classify(entry.path(), meta, opts) {
            emit(item);
        }
    }
    // A drive unplugged or a root deleted mid-walk shows up as a run of listing errors; say so
    // plainly so the caller keeps the root's photos.
    check_root(root)?;
    Ok(summary)
}

#[cfg(windows)]
fn hidden_attr(e: &walkdir::DirEntry) -> bool {
    use std::os::windows::fs::MetadataExt;
    const FILE_ATTRIBUTE_HIDDEN: u32 = 0x2;
    e.metadata()
        .is_ok_and(|m| m.file_attributes() & FILE_ATTRIBUTE_HIDDEN != 0)
}

#[cfg(not(windows))]
fn hidden_attr(_: &walkdir::DirEntry) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_names_and_prefixes() {
        for n in [
            "$Recycle.Bin",
            "@eaDir",
            ".Trash-1000",
            "._IMG_1.jpg",
            "NODE_MODULES",
        ] {
            assert!(is_system_name(OsStr::new(n)), "{n}");
        }
        for n in ["Photos", ".Trashy", "eaDir", "_MACOSX"] {
            assert!(!is_system_name(OsStr::new(n)), "{n}");
        }
        let opts = ScanOptions::default();
        let root = Path::new("/r");
        assert!(is_pruned(root, Path::new("/r/a/.cache/x.jpg"), &opts));
        assert!(is_pruned(root, Path::new("/elsewhere/x.jpg"), &opts));
        assert!(!is_pruned(root, Path::new("/r/a/x.jpg"), &opts));
        let hidden = ScanOptions {
            include_hidden: true,
            ..ScanOptions::default()
        };
        assert!(!is_pruned(root, Path::new("/r/.cache/x.jpg"), &hidden));
        assert!(is_pruned(root, Path::new("/r/.thumbnails/x.jpg"), &hidden));
    }

    #[test]
    fn mtime_before_epoch_is_negative() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.jpg");
        let f = std::fs::File::create(&p).unwrap();
        f.set_modified(UNIX_EPOCH - std::time::Duration::from_secs(10))
            .unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(mtime_ns(&m), -10_000_000_000);
    }
}
