//! Serving library files to the app's web view: the one gate between a URL the page asks for
//! and the disk. Only regular files inside a photo root or the thumbnail cache pass; the
//! request is resolved on disk first (`..`, symlinks), so neither traversal nor a symlink that
//! leads out of a root reaches anything else. The session then lets through only the photos
//! its catalog holds and the thumbnail cache (its `served_file`, after [`Scope::resolve`]), and
//! [`load`] reads what passed with a bound on memory: an original larger than
//! [`MAX_SERVED_BYTES`] is answered with a screen-sized JPEG preview instead of its bytes.

use glimpse_clip::decode::{self, DecodeOptions};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Why a file was not served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServeError {
    /// The request is not an absolute path.
    #[error("not an absolute path: {0}")]
    NotAbsolute(String),
    /// The file does not exist or cannot be resolved.
    #[error("no such file: {0}")]
    Missing(String),
    /// The file resolves outside every root and the thumbnail cache.
    #[error("outside the library's folders: {0}")]
    Outside(String),
    /// The path names a folder or a device, not a file.
    #[error("not a regular file: {0}")]
    NotFile(String),
    /// A file inside a photo folder that the library does not hold as a photo (a document, a
    /// hidden file): the page only ever asks for photos and thumbnails.
    #[error("not a photo in the library: {0}")]
    NotAPhoto(String),
    /// The file could not be read, or its preview could not be made.
    #[error("cannot read {0}")]
    Unreadable(String),
}

/// Largest original served as it is. Most camera JPEGs and HEICs are well under it; a larger
/// file (a panorama, a 16-bit TIFF scan) would hold that much memory in the app and again in
/// the web view per request, so it is answered with a preview of [`PREVIEW_SIDE`] instead.
pub const MAX_SERVED_BYTES: u64 = 48 << 20;

/// Longest side of the preview that stands in for an original over [`MAX_SERVED_BYTES`]: as
/// sharp as the lightbox shows a picture on a large screen.
pub const PREVIEW_SIDE: u32 = 2560;

/// What the web view gets for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// Their MIME type.
    pub mime: &'static str,
    /// Whether the bytes are a preview made for a file too large to send (the original stays
    /// on disk, untouched).
    pub preview: bool,
}

/// Reads a file the gate let through, holding at most `cap` bytes of it: a larger file is
/// decoded to a JPEG whose longest side is [`PREVIEW_SIDE`]. The file is opened once without
/// following a link or waiting on a pipe, and checked to be a regular file on the open handle,
/// so a file swapped after the gate looked at it cannot make the app hang or read a device.
pub fn load(path: &Path, cap: u64) -> Result<Served, ServeError> {
    let shown = || path.display().to_string();
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(|e| {
        tracing::warn!("cannot open {}: {e}", path.display());
        ServeError::Unreadable(shown())
    })?;
    let meta = file
        .metadata()
        .map_err(|_| ServeError::Unreadable(shown()))?;
    if !meta.is_file() {
        return Err(ServeError::NotFile(shown()));
    }
    if meta.len() > cap {
        return preview(path, meta.len());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // `take`: a file that grew since the fstat is still read only up to the cap.
    file.take(cap + 1).read_to_end(&mut bytes).map_err(|e| {
        tracing::warn!("cannot read {}: {e}", path.display());
        ServeError::Unreadable(shown())
    })?;
    if bytes.len() as u64 > cap {
        return preview(path, bytes.len() as u64);
    }
    Ok(Served {
        bytes,
        mime: mime_type(path),
        preview: false,
    })
}

/// One preview decode at a time: each can take hundreds of MB while it runs.
static PREVIEWS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A JPEG of at most [`PREVIEW_SIDE`] pixels a side of a file too large to send.
fn preview(path: &Path, len: u64) -> Result<Served, ServeError> {
    let shown = || path.display().to_string();
    tracing::info!(
        bytes = len,
        "{} is larger than the web view is sent; sending a preview",
        path.display()
    );
    let _one = PREVIEWS.lock().unwrap_or_else(|p| p.into_inner());
    let d = decode::decode_file(path, DecodeOptions::for_model(PREVIEW_SIDE / 2)).map_err(|e| {
        tracing::warn!("no preview of {}: {e}", path.display());
        ServeError::Unreadable(shown())
    })?;
    let (w, h) = d.image.dimensions();
    let long = w.max(h).max(1);
    let small = if long > PREVIEW_SIDE {
        let scale = f64::from(PREVIEW_SIDE) / f64::from(long);
        let tw = ((f64::from(w) * scale).round() as u32).clamp(1, PREVIEW_SIDE);
        let th = ((f64::from(h) * scale).round() as u32).clamp(1, PREVIEW_SIDE);
        image::imageops::thumbnail(&d.image, tw, th)
    } else {
        d.image
    };
    let bytes = turbojpeg::compress_image(&small, 90, turbojpeg::Subsamp::Sub2x2).map_err(|e| {
        tracing::warn!("no preview of {}: {e}", path.display());
        ServeError::Unreadable(shown())
    })?;
    Ok(Served {
        bytes: bytes.to_vec(),
        mime: "image/jpeg",
        preview: true,
    })
}

/// The folders whose files the web view may load, resolved once.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    allowed: Vec<PathBuf>,
}

impl Scope {
    /// A scope over `folders` (photo roots and the thumbnail cache). A folder that cannot be
    /// resolved now (an unplugged drive) is kept as the library recorded it, already resolved
    /// when it was added, so its files are served again once the drive is back.
    pub fn new<I, P>(folders: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let allowed = folders
            .into_iter()
            .filter_map(|f| {
                let f = f.as_ref();
                f.canonicalize().ok().or_else(|| {
                    let plain =
                        f.is_absolute() && !f.components().any(|c| c == Component::ParentDir);
                    plain.then(|| f.to_path_buf())
                })
            })
            .collect();
        Scope { allowed }
    }

    /// The resolved folders.
    pub fn folders(&self) -> &[PathBuf] {
        &self.allowed
    }

    /// The file `requested` names, resolved on disk, when it lies inside the scope.
    pub fn resolve(&self, requested: &Path) -> Result<PathBuf, ServeError> {
        let shown = requested.display().to_string();
        if !requested.is_absolute() {
            return Err(ServeError::NotAbsolute(shown));
        }
        // A request that climbs is refused before touching the disk, even where it would land
        // inside a root again: no URL the app makes contains `..`.
        if requested.components().any(|c| c == Component::ParentDir) {
            return Err(ServeError::Outside(shown));
        }
        let real = requested
            .canonicalize()
            .map_err(|_| ServeError::Missing(shown.clone()))?;
        if !self.allowed.iter().any(|root| real.starts_with(root)) {
            return Err(ServeError::Outside(shown));
        }
        let meta = std::fs::metadata(&real).map_err(|_| ServeError::Missing(shown.clone()))?;
        if !meta.is_file() {
            return Err(ServeError::NotFile(shown));
        }
        Ok(real)
    }
}

/// Threads that answer the web view's file requests: a grid of results asks for a hundred
/// thumbnails at once, and a thread each (what the protocol did first) means a hundred file
/// reads and a hundred stacks at once. A fixed number of workers take requests in turn from a
/// bounded queue; a request beyond the queue is handed back to be answered "busy" at once.
pub struct Workers<T: Send + 'static> {
    tx: std::sync::mpsc::SyncSender<T>,
}

/// Threads answering `glimpse:` requests: enough to read thumbnails off a slow disk in
/// parallel, few enough that their reads (each at most [`MAX_SERVED_BYTES`]) stay bounded.
pub const WORKERS: usize = 4;

/// Requests that wait for a worker before the next is answered "busy": more than a page of
/// results (the page asks for at most a thousand) with its lightbox.
pub const QUEUED: usize = 1024;

impl<T: Send + 'static> Workers<T> {
    /// `workers` threads named `name` that each run `handle` on one request at a time, with
    /// up to `queued` requests waiting. A thread that cannot be started is logged; the others
    /// serve (with none, every request waits in the queue and then is refused as busy).
    pub fn new<F>(name: &str, workers: usize, queued: usize, handle: F) -> Self
    where
        F: Fn(T) + Send + Sync + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel::<T>(queued);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let handle = std::sync::Arc::new(handle);
        for i in 0..workers.max(1) {
            let (rx, handle) = (rx.clone(), handle.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next request.
                    let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match next {
                        Ok(job) => handle(job),
                        Err(_) => return,
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a {name} thread: {e}");
            }
        }
        Workers { tx }
    }

    /// Queues `job`; hands it back when the queue is full (or every worker is gone), for the
    /// caller to answer "busy" without waiting.
    pub fn try_submit(&self, job: T) -> Result<(), T> {
        self.tx.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(j)
            | std::sync::mpsc::TrySendError::Disconnected(j) => j,
        })
    }
}

/// The MIME type the web view needs to show a file, from its extension.
pub fn mime_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" | "jpe" | "jfif" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "avif" => "image/avif",
        "heic" | "heif" => "image/heif",
        "jxl" => "image/jxl",
        _ => "application/octet-stream",
    }
}

/// The path a `glimpse:` URL's path part names: percent-decoded bytes (the page encodes the
/// whole path as one segment, as `convertFileSrc` does).
pub fn url_path(url_path: &str) -> Option<PathBuf> {
    let trimmed = url_path.strip_prefix('/').unwrap_or(url_path);
    let bytes = percent_decode(trimmed)?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(bytes).ok().map(PathBuf::from)
    }
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_missing_when_the_scope_is_made_is_served_once_it_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let drive = base.join("drive");
        let scope = Scope::new([&drive, &PathBuf::from("relative"), &base.join("a/../b")]);
        assert_eq!(scope.folders(), std::slice::from_ref(&drive));
        std::fs::create_dir(&drive).unwrap();
        std::fs::write(drive.join("a.jpg"), b"x").unwrap();
        assert_eq!(scope.resolve(&drive.join("a.jpg")), Ok(drive.join("a.jpg")));
        std::fs::write(base.join("b.jpg"), b"x").unwrap();
        assert!(matches!(
            scope.resolve(&base.join("b.jpg")),
            Err(ServeError::Outside(_))
        ));
    }

    #[test]
    fn a_file_under_the_cap_is_sent_whole_and_a_larger_one_as_a_bounded_preview() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.png");
        image::RgbImage::from_pixel(40, 30, image::Rgb([10, 200, 30]))
            .save(&small)
            .unwrap();
        let sent = load(&small, MAX_SERVED_BYTES).unwrap();
        assert_eq!(sent.bytes, std::fs::read(&small).unwrap());
        assert_eq!((sent.mime, sent.preview), ("image/png", false));

        // A picture larger than the cap: wider than the preview, so the preview is bounded too.
        let big = dir.path().join("big.png");
        image::RgbImage::from_fn(3000, 1000, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 239) as u8])
        })
        .save(&big)
        .unwrap();
        let len = std::fs::metadata(&big).unwrap().len();
        let cap = len / 4;
        let sent = load(&big, cap).unwrap();
        assert!(sent.preview);
        assert_eq!(sent.mime, "image/jpeg");
        assert!((sent.bytes.len() as u64) < len, "{}", sent.bytes.len());
        let shown = image::load_from_memory(&sent.bytes).unwrap();
        assert_eq!((shown.width(), shown.height()), (PREVIEW_SIDE, 853));

        // Too large and not a picture: refused, never sent raw.
        let junk = dir.path().join("junk.jpg");
        std::fs::write(&junk, vec![7u8; 4096]).unwrap();
        assert_eq!(
            load(&junk, 1024),
            Err(ServeError::Unreadable(junk.display().to_string()))
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_pipe_or_a_link_put_in_place_after_the_gate_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.jpg");
        let c = std::ffi::CString::new(fifo.display().to_string()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Opened without waiting for a writer, then refused as not a file.
        assert_eq!(
            load(&fifo, MAX_SERVED_BYTES),
            Err(ServeError::NotFile(fifo.display().to_string()))
        );
        let target = dir.path().join("secret.txt");
        std::fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link.jpg");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(
            load(&link, MAX_SERVED_BYTES),
            Err(ServeError::Unreadable(link.display().to_string()))
        );
    }

    #[test]
    fn requests_beyond_the_workers_and_the_queue_are_handed_back_and_the_rest_all_answered() {
        use std::sync::mpsc;
        let (started_tx, started) = mpsc::channel::<usize>();
        let (release_tx, release) = mpsc::channel::<()>();
        let release = std::sync::Mutex::new(release);
        let (done_tx, done) = mpsc::channel::<usize>();
        let done_tx = std::sync::Mutex::new(done_tx);
        let workers = Workers::new("test-serve", 2, 3, move |n: usize| {
            started_tx.send(n).unwrap();
            release.lock().unwrap().recv().unwrap();
            done_tx.lock().unwrap().send(n).unwrap();
        });
        // Two requests occupy both workers (each waits to be released)...
        workers.try_submit(0).unwrap();
        workers.try_submit(1).unwrap();
        let mut busy = vec![started.recv().unwrap(), started.recv().unwrap()];
        busy.sort_unstable();
        assert_eq!(busy, [0, 1]);
        // ...three wait in the queue, and the next is handed back at once.
        for n in 2..5 {
            workers.try_submit(n).unwrap();
        }
        assert_eq!(workers.try_submit(5), Err(5));
        // Only two ran at a time: nothing else started while both were held.
        assert!(started.try_recv().is_err());
        for _ in 0..5 {
            release_tx.send(()).unwrap();
        }
        let mut answered: Vec<usize> = (0..5).map(|_| done.recv().unwrap()).collect();
        answered.sort_unstable();
        assert_eq!(answered, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn decodes_percent_encoded_paths() {
        assert_eq!(
            url_path("/%2Fhome%2Fa%20b%2Fc%C3%A9.jpg"),
            Some(PathBuf::from("/home/a b/cé.jpg"))
        );
        assert_eq!(url_path("/%2"), None);
        assert_eq!(url_path("/%zz"), None);
    }

    #[test]
    fn mime_types_follow_the_extension() {
        assert_eq!(mime_type(Path::new("/a/B.JPG")), "image/jpeg");
        assert_eq!(mime_type(Path::new("/a/b.png")), "image/png");
        assert_eq!(mime_type(Path::new("/a/b")), "application/octet-stream");
    }
}
