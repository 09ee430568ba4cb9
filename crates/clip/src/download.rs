//! Verified HTTP downloads: models and the ONNX Runtime library are large files fetched over
//! networks that fail, so every download streams into a temporary file next to its destination,
//! is hashed while it is written, checked against the expected size and sha256, synced to disk
//! and only then renamed into place. A failed download never leaves anything at the destination
//! and never replaces a good file that was already there.
//!
//! Only `https` is fetched (plain `http` only from this machine, for tests and local mirrors),
//! redirects are followed one by one under the same rule (never from `https` down to `http`),
//! a file whose size is not pinned is capped at a maximum its caller gives, and partial
//! downloads that a dead run left behind are removed when the next download starts.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest wait for a TCP/TLS connection, so an unreachable host fails fast.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence on an open connection before the download is abandoned.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(45);
/// Redirects followed before a download is abandoned (Hugging Face uses one or two).
pub(crate) const MAX_REDIRECTS: usize = 10;
/// How long a partial download (`.*.part`, `.fetch-*`) may sit untouched before a new download
/// in its folder removes it: a live download writes to it every few seconds (and gives up
/// after [`READ_TIMEOUT`] of silence), so one untouched for a day belongs to a dead run.
pub(crate) const STALE_PARTIAL_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// What a download must turn out to be; unknown fields are not checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Expected {
    /// The file's sha256, when it is pinned.
    pub sha256: Option<[u8; 32]>,
    /// The file's size in bytes, when it is pinned.
    pub size: Option<u64>,
    /// The most an unpinned file may weigh (ignored when `size` is pinned): a server that
    /// sends without end must not fill the disk.
    pub max_size: Option<u64>,
}

impl Expected {
    /// Nothing pinned: the body is still checked against the server's Content-Length.
    #[cfg(test)]
    pub(crate) fn unknown() -> Self {
        Self::default()
    }

    /// Builds the expectation from the hex form that manifests and pin tables use.
    pub(crate) fn from_hex(
        sha256_hex: Option<&str>,
        size: Option<u64>,
    ) -> Result<Self, DownloadError> {
        let sha256 = match sha256_hex {
            Some(h) => Some(parse_sha256(h)?),
            None => None,
        };
        Ok(Self {
            sha256,
            size,
            max_size: None,
        })
    }

    /// The same expectation with a cap on the size of an unpinned file.
    pub(crate) fn with_max_size(mut self, max: u64) -> Self {
        self.max_size = Some(max);
        self
    }
}

/// Parses a 64-digit hex sha256, so that pins are validated where they are read.
pub(crate) fn parse_sha256(hex_digest: &str) -> Result<[u8; 32], DownloadError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest.trim(), &mut out).map_err(|_| DownloadError::BadPin {
        value: hex_digest.to_string(),
    })?;
    Ok(out)
}

/// How far a download has come, for progress bars and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes received so far.
    pub done: u64,
    /// Bytes expected in all, when the pin or the server says.
    pub total: Option<u64>,
}

/// What landed at the destination, so callers can record the hash they did not know in advance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Downloaded {
    /// The destination path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256.
    pub sha256: [u8; 32],
}

impl Downloaded {
    /// The sha256 in hex, the form manifests and lock files store.
    pub(crate) fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// Why a download failed; every variant names the URL and what was expected against what came.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server answered with a non-success status.
    #[error("GET {url} failed: HTTP {status}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// No usable connection: refused, DNS failure, TLS failure or timeout. Said in words (the
    /// client's own chain of causes stays in `source`, for logs).
    #[error("cannot download {url}: {}", unreachable_in_words(source))]
    Transport {
        /// The URL requested.
        url: String,
        /// What the HTTP client reported.
        #[source]
        source: ureq::Error,
    },
    /// The connection broke or closed before the whole body arrived.
    #[error(
        "download of {url} was cut short: got {got} of {} bytes{}",
        expected.map_or_else(|| "the".to_string(), |n| n.to_string()),
        cause.as_ref().map_or_else(String::new, |c| format!(" ({c})"))
    )]
    Truncated {
        /// The URL requested.
        url: String,
        /// Bytes announced by Content-Length or the pin, when known.
        expected: Option<u64>,
        /// Bytes received.
        got: u64,
        /// The I/O error that ended the body, if any.
        cause: Option<String>,
    },
    /// The body is complete but not the pinned size.
    #[error("download of {url} has the wrong size: expected {expected} bytes, got {got}")]
    Size {
        /// The URL requested.
        url: String,
        /// The pinned size.
        expected: u64,
        /// The size received.
        got: u64,
    },
    /// The body is complete but its sha256 is not the pinned one.
    #[error("download of {url} is corrupt: expected sha256 {expected}, got {got}")]
    Hash {
        /// The URL requested.
        url: String,
        /// The pinned sha256 (hex).
        expected: String,
        /// The sha256 of what arrived (hex).
        got: String,
    },
    /// A local file operation failed (disk full, permissions, ...).
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A pinned sha256 is not 64 hex digits.
    #[error("invalid sha256 pin {value:?}: expected 64 hex digits")]
    BadPin {
        /// The offending value.
        value: String,
    },
    /// The URL (or a redirect) is not one Glimpse downloads from: anything but `https`, except
    /// `http` on this machine, and never from `https` down to `http`.
    #[error("refusing to download {url}: {reason}")]
    Insecure {
        /// The URL refused.
        url: String,
        /// Why, in a few words.
        reason: String,
    },
    /// An unpinned file is larger than the most a file of its kind may weigh.
    #[error(
        "download of {url} is too large: more than {limit} bytes (announced or received: {got})"
    )]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The cap.
        limit: u64,
        /// What the server announced, or what had arrived when the cap was passed.
        got: u64,
    },
    /// The server redirected more than `MAX_REDIRECTS` times, or without saying where.
    #[error("GET {url} failed: {reason}")]
    Redirect {
        /// The URL requested.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> DownloadError + 'a {
    move |source| DownloadError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The HTTP agent used for all downloads: bounded connect and per-read timeouts, no total
/// timeout (a 600 MB model on a slow line is fine as long as bytes keep coming), no
/// content-encoding (sizes must be comparable with Content-Length), proxies from the environment,
/// and the operating system's certificate store (so corporate / antivirus TLS interception with a
/// locally trusted CA works as it does in the browser).
fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let config = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(READ_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .http_status_as_error(false)
        .accept_encoding("identity")
        .user_agent(concat!("glimpse/", env!("CARGO_PKG_VERSION")))
        // Redirects are followed by `get_following`, which checks every hop.
        .max_redirects(0)
        .build();
    ureq::Agent::new_with_config(config)
}

/// Whether a host is this machine (where plain http cannot be intercepted on the way).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks that `url` may be fetched, `after` the URL that redirected to it (if any): `https`,
/// or `http` to this machine reached from `http` (tests, a local mirror); never a step down
/// from `https` to `http`, never another scheme.
pub(crate) fn check_url(url: &str, after: Option<&str>) -> Result<(), DownloadError> {
    let refuse = |reason: &str| DownloadError::Insecure {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| refuse("not a valid URL"))?;
    let from_https = after.is_some_and(|a| {
        a.parse::<ureq::http::Uri>()
            .is_ok_and(|u| u.scheme_str() == Some("https"))
    });
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if from_https => Err(refuse("a redirect from https to plain http")),
        Some("http") if uri.host().is_some_and(is_loopback) => Ok(()),
        Some("http") => Err(refuse(
            "plain http can be read and changed on the way; only https is used",
        )),
        _ => Err(refuse("only https URLs are downloaded")),
    }
}

/// Where a redirect's `Location` points, resolved against the URL that answered it.
fn resolve_location(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    // Absolute when it starts with a scheme (`https:`), whatever its query holds.
    let scheme_end = location.find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)));
    if scheme_end.is_some_and(|i| i > 0 && location[i..].starts_with(':')) {
        return Some(location.to_string());
    }
    let uri: ureq::http::Uri = base.parse().ok()?;
    let scheme = uri.scheme_str()?;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    let authority = uri.authority()?.as_str();
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    let path = uri.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    Some(format!("{scheme}://{authority}{dir}{location}"))
}

/// Why a server could not be reached, as a person would say it.
fn unreachable_in_words(e: &ureq::Error) -> String {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::HostNotFound => {
            "the server's name does not resolve (is this computer offline?)".into()
        }
        ureq::Error::ConnectionFailed => {
            "the server refused the connection or cannot be reached".into()
        }
        ureq::Error::Timeout(_) => "the server did not answer in time".into(),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused => "the server refused the connection".into(),
            K::TimedOut => "the server did not answer in time".into(),
            K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof => {
                "the connection broke".into()
            }
            // A failed name lookup has no kind of its own.
            _ => "the server cannot be reached (is this computer offline?)".into(),
        },
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => {
            "a secure connection to the server failed".into()
        }
        ureq::Error::StatusCode(code) => format!("the server answered HTTP {code}"),
        other => format!("the download failed ({other})"),
    }
}

/// GETs `url`, following redirects one hop at a time, each checked by [`check_url`]; the
/// answer is the first that is not a redirect, with the URL that gave it.
fn get_following(url: &str) -> Result<ureq::http::Response<ureq::Body>, DownloadError> {
    check_url(url, None)?;
    let agent = agent();
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let response = agent
            .get(&current)
            .call()
            .map_err(|source| DownloadError::Transport {
                url: current.clone(),
                source,
            })?;
        if !response.status().is_redirection() {
            return Ok(response);
        }
        let next = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| resolve_location(&current, l))
            .ok_or_else(|| DownloadError::Redirect {
                url: url.to_string(),
                reason: format!("{current} redirected without saying where"),
            })?;
        check_url(&next, Some(&current))?;
        tracing::debug!(from = %current, to = %next, "following redirect");
        current = next;
    }
    Err(DownloadError::Redirect {
        url: url.to_string(),
        reason: format!("more than {MAX_REDIRECTS} redirects"),
    })
}

/// Removes what dead downloads left in `dir`: hidden `.part` files (`.<name>.<random>.part`)
/// and `.fetch-*` folders that nothing has written to for `older_than`. Anything else is left
/// alone, and so is a partial download still being written. Returns how many were removed.
pub(crate) fn clean_stale_partials(dir: &Path, older_than: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    let untouched = |m: &std::fs::Metadata| {
        m.modified()
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > older_than)
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // `file_type` does not follow links: a link is never a leftover of ours.
        let Ok(ft) = entry.file_type() else { continue };
        let path = entry.path();
        let gone = if ft.is_file() && name.starts_with('.') && name.ends_with(".part") {
            entry.metadata().is_ok_and(|m| untouched(&m)) && std::fs::remove_file(&path).is_ok()
        } else if ft.is_dir() && name.starts_with(".fetch-") {
            // A folder is as fresh as the newest thing in it (the wheel being written).
            let fresh_inside = std::fs::read_dir(&path).is_ok_and(|rd| {
                rd.flatten()
                    .any(|e| e.metadata().is_ok_and(|m| !untouched(&m)))
            });
            entry.metadata().is_ok_and(|m| untouched(&m))
                && !fresh_inside
                && std::fs::remove_dir_all(&path).is_ok()
        } else {
            false
        };
        if gone {
            tracing::info!(path = %path.display(), "removed a partial download left by an earlier run");
            removed += 1;
        }
    }
    removed
}

/// Downloads `url` to `dest` so that `dest` either does not change or ends up holding exactly the
/// expected bytes; it exists because every fetch in Glimpse (models, ONNX Runtime) needs that
/// guarantee and the same error messages.
pub(crate) fn download_verified(
    url: &str,
    dest: &Path,
    expected: Expected,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Downloaded, DownloadError> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(io_err("cannot create folder", &dir))?;
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "download".into());

    clean_stale_partials(&dir, STALE_PARTIAL_AGE);

    tracing::info!(%url, dest = %dest.display(), "downloading");
    let response = get_following(url)?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(DownloadError::Status {
            url: url.to_string(),
            status,
        });
    }
    let headers = response.headers();
    let encoded = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.eq_ignore_ascii_case("identity"));
    let content_length = if encoded {
        None
    } else {
        headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let (Some(pinned), Some(announced)) = (expected.size, content_length) {
        if pinned != announced {
            return Err(DownloadError::Size {
                url: url.to_string(),
                expected: pinned,
                got: announced,
            });
        }
    }
    // Without a pinned size, the caller's cap bounds what is accepted.
    let cap = expected.max_size.filter(|_| expected.size.is_none());
    if let (Some(limit), Some(announced)) = (cap, content_length) {
        if announced > limit {
            return Err(DownloadError::TooLarge {
                url: url.to_string(),
                limit,
                got: announced,
            });
        }
    }
    let total = expected.size.or(content_length);

    // The temporary file deletes itself when dropped, so every early return below cleans up.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".part")
        .tempfile_in(&dir)
        .map_err(io_err("cannot create a temporary file in", &dir))?;
    let tmp_path = tmp.path().to_path_buf();

    let mut reader = response.into_body().into_reader();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut done: u64 = 0;
    progress(DownloadProgress { done, total });
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DownloadError::Truncated {
                    url: url.to_string(),
                    expected: total,
                    got: done,
                    cause: Some(e.to_string()),
                })
            }
        };
        let chunk = &buf[..n];
        hasher.update(chunk);
        tmp.write_all(chunk)
            .map_err(io_err("cannot write", &tmp_path))?;
        done += n as u64;
        if let Some(limit) = expected.size {
            if done > limit {
                return Err(DownloadError::Size {
                    url: url.to_string(),
                    expected: limit,
                    got: done,
                });
            }
        }
        if let Some(limit) = cap {
            if done > limit {
                return Err(DownloadError::TooLarge {
                    url: url.to_string(),
                    limit,
                    got: done,
                });
            }
        }
        progress(DownloadProgress { done, total });
    }

    if let Some(announced) = content_length {
        if done < announced {
            return Err(DownloadError::Truncated {
                url: url.to_string(),
                expected: Some(announced),
                got: done,
                cause: None,
            });
        }
    }
    if let Some(pinned) = expected.size {
        if done != pinned {
            return Err(DownloadError::Size {
                url: url.to_string(),
                expected: pinned,
                got: done,
            });
        }
    }
    let digest: [u8; 32] = hasher.finalize().into();
    if let Some(pinned) = expected.sha256 {
        if pinned != digest {
            return Err(DownloadError::Hash {
                url: url.to_string(),
                expected: hex::encode(pinned),
                got: hex::encode(digest),
            });
        }
    }

    tmp.as_file_mut()
        .sync_all()
        .map_err(io_err("cannot sync", &tmp_path))?;
    tmp.persist(dest).map_err(|e| DownloadError::Io {
        action: "cannot move the download into place at",
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(&dir);
    tracing::info!(%url, dest = %dest.display(), bytes = done, "download verified");
    Ok(Downloaded {
        path: dest.to_path_buf(),
        size: done,
        sha256: digest,
    })
}

/// Makes a rename durable (best effort: not every platform or file system can sync a folder).
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(f) = std::fs::File::open(dir) {
        if let Err(e) = f.sync_all() {
            tracing::debug!(dir = %dir.display(), error = %e, "folder sync failed");
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Hashes a file on disk, so that files placed by hand or found in a cache can be checked the
/// same way downloads are.
pub(crate) fn sha256_file(path: &Path) -> Result<([u8; 32], u64), DownloadError> {
    let mut f = std::fs::File::open(path).map_err(io_err("cannot open", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("cannot read", path)(e)),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

/// A minimal threaded HTTP/1.1 server with canned replies, shared by the download, runtime and
/// manifest tests so that failure modes (404, truncation, dead port) are reproducible offline.
#[cfg(test)]
pub(crate) mod testserver {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    /// One canned answer.
    #[derive(Clone, Debug)]
    pub(crate) enum Reply {
        /// 200 with this body and a correct Content-Length.
        Ok(Vec<u8>),
        /// 200 with this body, no Content-Length, connection closed at the end.
        NoLength(Vec<u8>),
        /// This status with a short text body.
        Status(u16),
        /// 200 claiming `claimed` bytes but sending only `body`, then closing.
        Truncated { body: Vec<u8>, claimed: u64 },
        /// 302 to another path on the same server.
        Redirect(String),
    }

    type Routes = Arc<Mutex<HashMap<String, Reply>>>;

    /// A running server; it stops when dropped.
    pub(crate) struct TestServer {
        addr: std::net::SocketAddr,
        routes: Routes,
        hits: Arc<Mutex<Vec<String>>>,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl TestServer {
        /// Starts a server on 127.0.0.1 with a free port; unknown paths get 404.
        pub(crate) fn start() -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
            let addr = listener.local_addr().expect("local addr");
            let routes: Routes = Arc::default();
            let hits: Arc<Mutex<Vec<String>>> = Arc::default();
            let stop = Arc::new(AtomicBool::new(false));
            let (r, h, s) = (routes.clone(), hits.clone(), stop.clone());
            let thread = std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if s.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (r, h) = (r.clone(), h.clone());
                    std::thread::spawn(move || serve(conn, &r, &h));
                }
            });
            TestServer {
                addr,
                routes,
                hits,
                stop,
                thread: Some(thread),
            }
        }

        /// Sets the reply for `path` (which starts with `/`).
        pub(crate) fn route(&self, path: &str, reply: Reply) {
            self.routes.lock().unwrap().insert(path.to_string(), reply);
        }

        /// `http://127.0.0.1:<port>`, without a trailing slash.
        pub(crate) fn base(&self) -> String {
            format!("http://{}", self.addr)
        }

        /// The full URL of `path`.
        pub(crate) fn url(&self, path: &str) -> String {
            format!("{}{}", self.base(), path)
        }

        /// The paths requested so far, in order.
        pub(crate) fn hits(&self) -> Vec<String> {
            self.hits.lock().unwrap().clone()
        }
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn serve(conn: TcpStream, routes: &Routes, hits: &Arc<Mutex<Vec<String>>>) {
        let mut reader = BufReader::new(conn.try_clone().expect("clone stream"));
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line == "\r\n" || line == "\n" => break,
                Ok(_) => {}
            }
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        hits.lock().unwrap().push(path.clone());
        let reply = routes
            .lock()
            .unwrap()
            .get(&path)
            .cloned()
            .unwrap_or(Reply::Status(404));
        let mut out = conn;
        let _ = match reply {
            Reply::Ok(body) => write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .and_then(|_| out.write_all(&body)),
            Reply::NoLength(body) => {
                write!(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                    .and_then(|_| out.write_all(&body))
            }
            Reply::Status(code) => write!(
                out,
                "HTTP/1.1 {code} Canned\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot here\n"
            ),
            Reply::Truncated { body, claimed } => write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {claimed}\r\nConnection: close\r\n\r\n"
            )
            .and_then(|_| out.write_all(&body)),
            Reply::Redirect(to) => write!(
                out,
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        };
        let _ = out.flush();
        let _ = out.shutdown(std::net::Shutdown::Both);
    }

    /// A URL on a port where nothing listens (bound, then released).
    pub(crate) fn dead_url(path: &str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        format!("http://{addr}{path}")
    }

    /// The names in `dir`, sorted, so tests can assert no temporary file was left behind.
    pub(crate) fn listing(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// Deterministic pseudo-random bytes for test bodies.
    pub(crate) fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[1] ^ seed)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testserver::{bytes, dead_url, listing, Reply, TestServer};
    use super::*;

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn pinned(data: &[u8]) -> Expected {
        Expected {
            sha256: Some(sha(data)),
            size: Some(data.len() as u64),
            max_size: None,
        }
    }

    fn nop() -> impl FnMut(DownloadProgress) {
        |_| {}
    }

    #[test]
    fn good_file_lands_verified_with_progress() {
        let body = bytes(700_000, 1);
        let server = TestServer::start();
        server.route("/f.bin", Reply::Ok(body.clone()));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/f.bin");
        let mut seen = Vec::new();
        let got = download_verified(&server.url("/f.bin"), &dest, pinned(&body), &mut |p| {
            seen.push(p)
        })
        .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), body);
        assert_eq!(got.size, body.len() as u64);
        assert_eq!(got.sha256, sha(&body));
        assert_eq!(listing(&dir.path().join("sub")), vec!["f.bin"]);
        assert_eq!(seen.first().unwrap().done, 0);
        let last = seen.last().unwrap();
        assert_eq!(last.done, body.len() as u64);
        assert_eq!(last.total, Some(body.len() as u64));
    }

    #[test]
    fn unpinned_download_reports_hash_and_uses_content_length() {
        let body = bytes(1000, 2);
        let server = TestServer::start();
        server.route("/f", Reply::Ok(body.clone()));
        server.route("/nolen", Reply::NoLength(body.clone()));
        let dir = tempfile::tempdir().unwrap();
        let mut totals = Vec::new();
        let got = download_verified(
            &server.url("/f"),
            &dir.path().join("a"),
            Expected::unknown(),
            &mut |p| totals.push(p.total),
        )
        .unwrap();
        assert_eq!(got.sha256_hex(), hex::encode(sha(&body)));
        assert!(totals.iter().all(|t| *t == Some(1000)));
        let got = download_verified(
            &server.url("/nolen"),
            &dir.path().join("b"),
            Expected::unknown(),
            &mut nop(),
        )
        .unwrap();
        assert_eq!(got.size, 1000);
        assert_eq!(listing(dir.path()), vec!["a", "b"]);
    }

    #[test]
    fn redirect_is_followed() {
        let body = bytes(500, 3);
        let server = TestServer::start();
        server.route("/old", Reply::Redirect("/new".into()));
        server.route("/new", Reply::Ok(body.clone()));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        download_verified(&server.url("/old"), &dest, pinned(&body), &mut nop()).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), body);
    }

    #[test]
    fn wrong_hash_leaves_nothing() {
        let body = bytes(5000, 4);
        let server = TestServer::start();
        server.route("/f", Reply::Ok(body.clone()));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let mut exp = pinned(&body);
        exp.sha256 = Some([7u8; 32]);
        let err = download_verified(&server.url("/f"), &dest, exp, &mut nop()).unwrap_err();
        match &err {
            DownloadError::Hash { expected, got, .. } => {
                assert_eq!(expected, &hex::encode([7u8; 32]));
                assert_eq!(got, &hex::encode(sha(&body)));
            }
            other => panic!("expected Hash, got {other:?}"),
        }
        assert!(err.to_string().contains("expected sha256"));
        assert!(!dest.exists());
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn wrong_size_leaves_nothing() {
        let body = bytes(5000, 5);
        let server = TestServer::start();
        server.route("/f", Reply::Ok(body.clone()));
        server.route("/nolen", Reply::NoLength(body.clone()));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        for path in ["/f", "/nolen"] {
            for size in [4999, 5001] {
                let exp = Expected {
                    sha256: None,
                    size: Some(size),
                    // A cap is for unpinned files: the pin decides.
                    max_size: Some(1),
                };
                let err = download_verified(&server.url(path), &dest, exp, &mut nop()).unwrap_err();
                assert!(
                    matches!(err, DownloadError::Size { expected, .. } if expected == size),
                    "{path} {size}: {err:?}"
                );
                assert!(!dest.exists());
                assert!(listing(dir.path()).is_empty());
            }
        }
    }

    #[test]
    fn truncated_body_leaves_nothing() {
        let body = bytes(100_000, 6);
        let server = TestServer::start();
        server.route(
            "/f",
            Reply::Truncated {
                body: body[..40_000].to_vec(),
                claimed: 100_000,
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        // Unpinned: only Content-Length tells that the body is short.
        let err = download_verified(&server.url("/f"), &dest, Expected::unknown(), &mut nop())
            .unwrap_err();
        match &err {
            DownloadError::Truncated { expected, got, .. } => {
                assert_eq!(*expected, Some(100_000));
                assert!(*got <= 40_000);
            }
            other => panic!("expected Truncated, got {other:?}"),
        }
        assert!(err.to_string().contains("100000"), "{err}");
        assert!(!dest.exists());
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn http_404_leaves_nothing() {
        let server = TestServer::start();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let url = server.url("/missing");
        let err = download_verified(&url, &dest, Expected::unknown(), &mut nop()).unwrap_err();
        assert!(
            matches!(err, DownloadError::Status { status: 404, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&url));
        assert!(err.to_string().contains("404"));
        assert!(!dest.exists());
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn server_down_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let url = dead_url("/f");
        let err = download_verified(&url, &dest, Expected::unknown(), &mut nop()).unwrap_err();
        assert!(matches!(err, DownloadError::Transport { .. }), "{err:?}");
        assert!(err.to_string().contains(&url));
        // In words, not the client's chain of causes.
        assert!(
            err.to_string()
                .ends_with("the server refused the connection")
                || err.to_string().contains("cannot be reached"),
            "{err}"
        );
        assert!(!err.to_string().contains("Io("), "{err}");
        assert!(!dest.exists());
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn failed_download_keeps_existing_good_file() {
        let good = bytes(3000, 7);
        let bad = bytes(3000, 8);
        let server = TestServer::start();
        server.route("/bad", Reply::Ok(bad.clone()));
        server.route(
            "/cut",
            Reply::Truncated {
                body: bad[..100].to_vec(),
                claimed: 3000,
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        std::fs::write(&dest, &good).unwrap();
        let exp = pinned(&good);
        for url in [
            server.url("/bad"),
            server.url("/cut"),
            server.url("/404"),
            dead_url("/x"),
        ] {
            assert!(download_verified(&url, &dest, exp, &mut nop()).is_err());
            assert_eq!(std::fs::read(&dest).unwrap(), good, "{url}");
            assert_eq!(listing(dir.path()), vec!["f"], "{url}");
        }
    }

    #[test]
    fn successful_download_replaces_existing_file() {
        let new = bytes(3000, 9);
        let server = TestServer::start();
        server.route("/f", Reply::Ok(new.clone()));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        std::fs::write(&dest, b"old").unwrap();
        download_verified(&server.url("/f"), &dest, pinned(&new), &mut nop()).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), new);
        assert_eq!(listing(dir.path()), vec!["f"]);
    }

    #[test]
    fn only_https_or_plain_http_on_this_machine_is_fetched() {
        for ok in [
            "https://huggingface.co/a/b",
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]:9/x",
        ] {
            assert!(check_url(ok, None).is_ok(), "{ok}");
        }
        for bad in [
            "http://huggingface.co/a/b",
            "http://192.168.1.2/x",
            "ftp://example.com/x",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(
                matches!(check_url(bad, None), Err(DownloadError::Insecure { .. })),
                "{bad}"
            );
        }
        // A step down from https is refused even to this machine; http to http locally is not.
        let err = check_url("http://127.0.0.1/x", Some("https://huggingface.co/a")).unwrap_err();
        assert!(
            err.to_string().contains("from https to plain http"),
            "{err}"
        );
        assert!(check_url("http://127.0.0.1/y", Some("http://127.0.0.1/x")).is_ok());
        assert!(check_url("https://cdn.example/y", Some("https://huggingface.co/a")).is_ok());
    }

    #[test]
    fn redirect_locations_resolve_against_the_url_that_answered() {
        let base = "https://huggingface.co/org/model/resolve/main/visual/model.onnx?x=1";
        for (loc, want) in [
            ("https://cdn.hf.co/f?sig=1", "https://cdn.hf.co/f?sig=1"),
            ("//cdn.hf.co/f", "https://cdn.hf.co/f"),
            ("http://x.example/f", "http://x.example/f"),
            (
                "/go?to=http://x.example/",
                "https://huggingface.co/go?to=http://x.example/",
            ),
            (
                "/api/resolve-cache/f",
                "https://huggingface.co/api/resolve-cache/f",
            ),
            (
                "other.onnx",
                "https://huggingface.co/org/model/resolve/main/visual/other.onnx",
            ),
        ] {
            assert_eq!(resolve_location(base, loc).as_deref(), Some(want), "{loc}");
        }
    }

    #[test]
    fn a_redirect_to_plain_http_elsewhere_is_refused_before_connecting() {
        let server = TestServer::start();
        server.route(
            "/model",
            Reply::Redirect("http://downgrade.invalid/model".into()),
        );
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let err = download_verified(
            &server.url("/model"),
            &dest,
            Expected::unknown(),
            &mut nop(),
        )
        .unwrap_err();
        match &err {
            DownloadError::Insecure { url, .. } => {
                assert_eq!(url, "http://downgrade.invalid/model")
            }
            other => panic!("expected Insecure, got {other:?}"),
        }
        assert_eq!(server.hits(), vec!["/model"]);
        assert!(listing(dir.path()).is_empty());
        // And a plain-http URL elsewhere is never asked for.
        let err = download_verified(
            "http://plain.invalid/f",
            &dest,
            Expected::unknown(),
            &mut nop(),
        )
        .unwrap_err();
        assert!(matches!(err, DownloadError::Insecure { .. }), "{err:?}");
    }

    #[test]
    fn endless_redirects_stop() {
        let server = TestServer::start();
        server.route("/a", Reply::Redirect("/b".into()));
        server.route("/b", Reply::Redirect("/a".into()));
        let dir = tempfile::tempdir().unwrap();
        let err = download_verified(
            &server.url("/a"),
            &dir.path().join("f"),
            Expected::unknown(),
            &mut nop(),
        )
        .unwrap_err();
        assert!(matches!(err, DownloadError::Redirect { .. }), "{err:?}");
        assert_eq!(server.hits().len(), MAX_REDIRECTS + 1);
    }

    #[test]
    fn an_unpinned_file_over_its_cap_is_refused_and_leaves_nothing() {
        let body = bytes(10_000, 11);
        let server = TestServer::start();
        server.route("/f", Reply::Ok(body.clone()));
        server.route("/nolen", Reply::NoLength(body.clone()));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        for path in ["/f", "/nolen"] {
            let capped = Expected::unknown().with_max_size(9_999);
            let err = download_verified(&server.url(path), &dest, capped, &mut nop()).unwrap_err();
            assert!(
                matches!(err, DownloadError::TooLarge { limit: 9_999, got, .. } if got > 9_999),
                "{path}: {err:?}"
            );
            assert!(listing(dir.path()).is_empty(), "{path}");
            // Exactly the cap is fine.
            let at_cap = Expected::unknown().with_max_size(10_000);
            download_verified(&server.url(path), &dest, at_cap, &mut nop()).unwrap();
            assert_eq!(std::fs::read(&dest).unwrap(), body);
            std::fs::remove_file(&dest).unwrap();
        }
    }

    #[test]
    fn partial_downloads_of_dead_runs_are_removed_when_a_download_starts() {
        let body = bytes(100, 12);
        let server = TestServer::start();
        server.route("/f", Reply::Ok(body.clone()));
        let dir = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
        let age = |p: &Path| {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(old)
                .unwrap()
        };
        let touch = |name: &str, aged: bool| {
            let p = dir.path().join(name);
            std::fs::write(&p, b"x").unwrap();
            if aged {
                age(&p);
            }
        };
        touch(".f.abc123.part", true); // a dead download: removed
        touch(".g.def456.part", false); // one being written now: kept
        touch("holiday.part", true); // not ours (not hidden): kept
        touch(".notes", true); // not a partial download: kept
        let fetch = dir.path().join(".fetch-old");
        std::fs::create_dir(&fetch).unwrap();
        std::fs::write(fetch.join("x.whl"), b"x").unwrap();
        age(&fetch.join("x.whl"));
        let live = dir.path().join(".fetch-live");
        std::fs::create_dir(&live).unwrap();
        std::fs::write(live.join("x.whl"), b"x").unwrap();
        for d in [&fetch, &live] {
            std::fs::File::open(d).unwrap().set_modified(old).unwrap();
        }
        download_verified(
            &server.url("/f"),
            &dir.path().join("f"),
            pinned(&body),
            &mut nop(),
        )
        .unwrap();
        assert_eq!(
            listing(dir.path()),
            vec![
                ".fetch-live",
                ".g.def456.part",
                ".notes",
                "f",
                "holiday.part"
            ]
        );
    }

    #[test]
    fn hex_pins_are_validated() {
        let h = hex::encode([0xabu8; 32]);
        let e = Expected::from_hex(Some(&h), Some(3)).unwrap();
        assert_eq!(e.sha256, Some([0xab; 32]));
        assert!(matches!(
            Expected::from_hex(Some("abc"), None),
            Err(DownloadError::BadPin { .. })
        ));
        assert_eq!(Expected::from_hex(None, None).unwrap(), Expected::unknown());
    }

    #[test]
    fn sha256_file_matches_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        let data = bytes(300_000, 10);
        std::fs::write(&p, &data).unwrap();
        assert_eq!(sha256_file(&p).unwrap(), (sha(&data), data.len() as u64));
    }
}
