//! Serving library files to the app's web view: the one gate between a URL the page asks for
//! and the disk. Only regular files inside a photo root or the thumbnail cache pass; the
//! request is resolved on disk first (`..`, symlinks), so neither traversal nor a symlink that
//! leads out of a root reaches anything else.

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
