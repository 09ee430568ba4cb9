//! Reading a photo file the safe way: whatever sits at a path (a pipe, a device, a socket, a
//! link to one, a file that grows while it is read), reading it never hangs and never takes more
//! memory than the size limit, and anything that is not a regular file is refused with a
//! one-line reason in the user's words ("not a regular file (a pipe)").
//!
//! Every read of a user's photo goes through here: the indexer's (`prepare`), a dropped or
//! named example (`search::example`, `decode::decode_file`, which `glimpse embed image` and the
//! app use), and metadata reads (`metadata::read_file`). A read holds whatever lock its caller
//! holds, so a read that blocks (a FIFO waits for a writer forever) or never ends (`/dev/zero`)
//! would stall every search behind it.
//!
//! How a path is opened:
//! 1. Links are resolved first (`canonicalize`): a path given directly may be a link to a
//!    photo (a dropped file often is), and following it to a regular file is fine. The scan
//!    never records links in the first place (it skips them), so for the indexer this step
//!    changes nothing unless the file was replaced since the scan.
//! 2. The resolved path is looked at (`stat`) and refused unless it is a regular file, so a
//!    device is never even opened (opening some devices has effects of its own).
//! 3. It is opened once with `O_NOFOLLOW | O_NONBLOCK` (on Unix): a link put in its place since
//!    step 1 is not followed, and a pipe put there does not block the open. `O_NONBLOCK` is then
//!    cleared (regular files ignore it on Linux and macOS, but file systems in user space may
//!    not).
//! 4. The open handle is checked again (`fstat`), which is what the bytes will come from: only
//!    a regular file is read, and at most the size limit of it; a file that grew past the limit
//!    while it was read is refused, not read without end.
//!
//! Elsewhere (Windows) the same steps run without the flags, which have no equivalent there:
//! the handle's own metadata must say "file", and the read is bounded the same way.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Refuse files above this size before reading them.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Why a photo file could not be read; the message is what a user sees next to the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The operating system refused or failed (missing file, no permission, a disk error).
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    /// The path names something other than a regular file: reading it could block forever
    /// or never end.
    #[error("not a regular file ({0})")]
    NotRegular(&'static str),
    /// The path was swapped for a link between the moment it was looked at and the open.
    #[error("the file was replaced by a link while it was being opened")]
    Replaced,
    /// The file is larger than the limit (or grew past it while it was read).
    #[error("file too large: {bytes} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the file (at least this many bytes, when it grew while being read).
        bytes: u64,
        /// The limit in bytes.
        limit: u64,
    },
}

impl ReadError {
    /// Whether the file is simply gone (deleted or moved since it was found), which the
    /// indexer reports differently from a failure.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// A photo file opened for reading: a regular file, checked on the open handle.
#[derive(Debug)]
pub struct PhotoFile {
    file: File,
    len: u64,
    path: PathBuf,
}

/// What kind of thing a file type is, in a user's words, for the refusal reason.
fn kind(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        return "a folder";
    }
    if ft.is_symlink() {
        return "a link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a pipe";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> Result<File, ReadError> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW on a link: Linux says ELOOP, the BSDs (macOS) EMLINK or EFTYPE.
            Some(libc::ELOOP) | Some(libc::EMLINK) => ReadError::Replaced,
            _ => ReadError::Io(e),
        })?;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is the open descriptor `file` owns for this whole block; F_GETFL and
    // F_SETFL only read and set its status flags.
    let cleared = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
    };
    if !cleared {
        return Err(ReadError::Io(std::io::Error::last_os_error()));
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> Result<File, ReadError> {
    Ok(File::open(path)?)
}

impl PhotoFile {
    /// Opens `path` as described in the module documentation: links resolved, then only a
    /// regular file opened and accepted.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let resolved = path.canonicalize()?;
        let seen = std::fs::metadata(&resolved)?;
        if !seen.is_file() {
            return Err(ReadError::NotRegular(kind(seen.file_type())));
        }
        let file = open_no_follow(&resolved)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(ReadError::NotRegular(kind(meta.file_type())));
        }
        Ok(PhotoFile {
            len: meta.len(),
            file,
            path: resolved,
        })
    }

    /// The file's size when it was opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file was empty when it was opened.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The resolved path that was opened (links followed).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open handle, for callers that read part of the file (a metadata header).
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Reads the whole file, refusing it when it is (or grows while read to be) over `limit`.
    pub fn read_all(self, limit: u64) -> Result<Vec<u8>, ReadError> {
        read_bounded(self.file, self.len, limit)
    }
}

/// Reads at most `limit` bytes from `reader`, which announced `len`; one byte more than the
/// limit means the file is too large, however large it claimed to be.
pub(crate) fn read_bounded(reader: impl Read, len: u64, limit: u64) -> Result<Vec<u8>, ReadError> {
    if len > limit {
        return Err(ReadError::TooLarge { bytes: len, limit });
    }
    // The announced size is only a hint for the first allocation; the bound is `take`.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    let got = bytes.len() as u64;
    if got > limit {
        return Err(ReadError::TooLarge { bytes: got, limit });
    }
    Ok(bytes)
}

/// Opens and reads a whole photo file, at most `limit` bytes of it: the one call for a file
/// whose bytes are all needed (decoding, hashing).
pub fn read_photo(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    PhotoFile::open(path)?.read_all(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields more bytes than it announced: a file growing while it is read.
    struct Growing(u64);

    impl Read for Growing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0 as usize).min(4096);
            self.0 -= n as u64;
            buf[..n].fill(7);
            Ok(n)
        }
    }

    #[test]
    fn reads_stop_one_byte_past_the_limit_whatever_the_file_announced() {
        // Announced 10 bytes, grows to 1 MB: refused after reading 101 bytes, not 1 MB.
        match read_bounded(Growing(1 << 20), 10, 100) {
            Err(ReadError::TooLarge { bytes, limit }) => assert_eq!((bytes, limit), (101, 100)),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        // Exactly the limit is fine; over it before reading is refused without reading.
        assert_eq!(read_bounded(Growing(100), 10, 100).unwrap().len(), 100);
        assert!(matches!(
            read_bounded(Growing(0), 101, 100),
            Err(ReadError::TooLarge { bytes: 101, .. })
        ));
    }

    #[test]
    fn a_regular_file_and_a_link_to_one_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jpg");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_photo(&p, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_photo(&p, 9),
            Err(ReadError::TooLarge {
                bytes: 10,
                limit: 9
            })
        ));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.jpg");
            std::os::unix::fs::symlink(&p, &link).unwrap();
            let f = PhotoFile::open(&link).unwrap();
            assert_eq!(f.path(), p.canonicalize().unwrap());
            assert_eq!(f.read_all(100).unwrap(), b"0123456789");
        }
    }

    #[test]
    fn a_folder_and_a_missing_file_are_refused_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("x.jpg");
        std::fs::create_dir(&folder).unwrap();
        let e = read_photo(&folder, 100).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file (a folder)");
        let e = read_photo(&dir.path().join("gone.jpg"), 100).unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
    }

    #[cfg(unix)]
    #[test]
    fn o_nofollow_refuses_a_link_swapped_in_after_resolution() {
        // What step 3 guards against: the resolved path became a link before the open.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jpg");
        std::fs::write(&p, b"x").unwrap();
        let link = dir.path().join("b.jpg");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(matches!(open_no_follow(&link), Err(ReadError::Replaced)));
        let mut f = open_no_follow(&p).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "x");
    }
}
