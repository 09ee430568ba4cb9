//! Which files are photos, by extension: the formats `decode` reads on this machine and the
//! ones a viewer knows but this build cannot read (listed, not indexed). The scanner, the
//! catalog's format filter and the app's drop target all ask here, so they agree.

use std::path::Path;

/// Extensions (lower-case, matched case-insensitively) of formats `decode` can read: these files
/// are indexed. JPEG XL and RAW depend on their cargo features (`jxl`, `raw`; both on by default).
pub const PHOTO_EXTENSIONS: &[&str] = &[
    "jpg",
    "jpeg",
    "jpe",
    "jfif",
    "png",
    "gif",
    "webp",
    "bmp",
    "tif",
    "tiff",
    #[cfg(feature = "jxl")]
    "jxl",
    #[cfg(feature = "raw")]
    "cr2",
    #[cfg(feature = "raw")]
    "cr3",
    #[cfg(feature = "raw")]
    "nef",
    #[cfg(feature = "raw")]
    "arw",
    #[cfg(feature = "raw")]
    "dng",
    #[cfg(feature = "raw")]
    "raf",
    #[cfg(feature = "raw")]
    "orf",
    #[cfg(feature = "raw")]
    "rw2",
];

/// Extensions (lower-case, matched case-insensitively) of photo formats people have that this
/// build cannot decode: reported as unsupported rather than ignored, so `status` can list them.
pub const UNSUPPORTED_EXTENSIONS: &[&str] = &[
    "heic",
    "heif",
    "avif",
    // Sigma's Foveon RAW: no decoder here and no reliable preview layout.
    "x3f",
    #[cfg(not(feature = "jxl"))]
    "jxl",
    #[cfg(not(feature = "raw"))]
    "cr2",
    #[cfg(not(feature = "raw"))]
    "cr3",
    #[cfg(not(feature = "raw"))]
    "nef",
    #[cfg(not(feature = "raw"))]
    "arw",
    #[cfg(not(feature = "raw"))]
    "dng",
    #[cfg(not(feature = "raw"))]
    "raf",
    #[cfg(not(feature = "raw"))]
    "orf",
    #[cfg(not(feature = "raw"))]
    "rw2",
];

/// Extensions of the formats libheif decodes (feature `heif`): supported on machines where the
/// library loads, unsupported (and listed by `status`) elsewhere.
pub const HEIF_EXTENSIONS: &[&str] = &["heic", "heif", "avif"];

/// Camera RAW formats as photos are stored with them (`crate::raw`'s kinds): the filter type
/// "raw" stands for all of them, since people look for "my RAWs", not for one maker's.
pub const RAW_FORMATS: [&str; 8] = ["arw", "cr2", "cr3", "dng", "nef", "orf", "raf", "rw2"];

/// A photo format recognised by extension: decodable or known but not decodable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    /// An entry of [`PHOTO_EXTENSIONS`].
    Supported(&'static str),
    /// An entry of [`UNSUPPORTED_EXTENSIONS`].
    Unsupported(&'static str),
}

impl PhotoFormat {
    /// The lower-case extension naming the format, as stored in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            PhotoFormat::Supported(s) | PhotoFormat::Unsupported(s) => s,
        }
    }

    /// Whether `decode` can read it, so the caller knows whether to queue it for encoding.
    pub fn is_supported(self) -> bool {
        matches!(self, PhotoFormat::Supported(_))
    }
}

/// The photo format a path's extension names, case-insensitively; `None` for anything else.
pub fn format_of(path: &Path) -> Option<PhotoFormat> {
    let ext = path.extension()?.as_encoded_bytes();
    let find = |list: &[&'static str]| {
        list.iter()
            .copied()
            .find(|e| ext.eq_ignore_ascii_case(e.as_bytes()))
    };
    if let Some(e) = find(PHOTO_EXTENSIONS) {
        return Some(PhotoFormat::Supported(e));
    }
    let e = find(UNSUPPORTED_EXTENSIONS)?;
    // HEIC/HEIF/AVIF are decoded by the system's libheif when it can be loaded.
    #[cfg(feature = "heif")]
    if HEIF_EXTENSIONS.contains(&e) && crate::heif::available() {
        return Some(PhotoFormat::Supported(e));
    }
    Some(PhotoFormat::Unsupported(e))
}

/// The extensions of the pictures this build decodes on this machine (HEIF and AVIF where
/// libheif loads): what the app accepts as a dropped example picture, so a RAW file is taken
/// and a HEIC one refused only where it cannot be read.
pub fn decodable_extensions() -> Vec<&'static str> {
    let mut v = PHOTO_EXTENSIONS.to_vec();
    if cfg!(feature = "heif") && crate::heif::available() {
        v.extend(HEIF_EXTENSIONS);
    }
    v
}

/// Whether a path names a photo the scan reports (decodable or unsupported), so the watcher
/// can ignore events about other files without touching the disk.
pub fn is_photo_path(path: &Path) -> bool {
    format_of(path).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_case_insensitive_and_exclusive() {
        assert_eq!(
            format_of(Path::new("a/B.JPG")),
            Some(PhotoFormat::Supported("jpg"))
        );
        let heic = format_of(Path::new("x.HeIc"));
        if cfg!(feature = "heif") && crate::heif::available() {
            assert_eq!(heic, Some(PhotoFormat::Supported("heic")));
        } else {
            assert_eq!(heic, Some(PhotoFormat::Unsupported("heic")));
        }
        assert_eq!(format_of(Path::new("notes.txt")), None);
        assert_eq!(
            format_of(Path::new(".jpg")),
            None,
            "a hidden file named .jpg"
        );
        assert_eq!(format_of(Path::new("jpg")), None);
        for e in PHOTO_EXTENSIONS {
            assert!(!UNSUPPORTED_EXTENSIONS.contains(e));
            assert_eq!(*e, e.to_ascii_lowercase());
        }
    }

    #[test]
    fn a_dropped_picture_may_be_anything_the_scan_indexes() {
        let types = decodable_extensions();
        let known = PHOTO_EXTENSIONS.iter().chain(HEIF_EXTENSIONS);
        for e in known.chain(UNSUPPORTED_EXTENSIONS) {
            let f = format_of(Path::new(&format!("a.{e}")));
            assert_eq!(
                f.is_some_and(|f| f.is_supported()),
                types.contains(e),
                "{e}"
            );
        }
        if cfg!(feature = "raw") {
            assert!(types.contains(&"cr2") && types.contains(&"dng"));
        }
    }
}
