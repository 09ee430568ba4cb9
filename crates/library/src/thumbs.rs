//! Small previews for the UI, made from the pixels the encoder already decoded and resized (the
//! model's input before its centre crop: 224 px on the short side for CLIP), keyed by content
//! hash so that moved and copied photos share one file and no photo is decoded twice. A photo
//! that is already preview-sized and in a format the web view shows gets none: the app shows
//! the file itself (see [`original_is_preview`]), unless its folder is on another drive that
//! may be unplugged ([`Previews::even_small`]).

use image::RgbImage;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Longest side of a preview, in pixels: pictures handed in larger (panoramas, or callers that
/// pass a full image) are shrunk to it.
pub const THUMB_SIZE: u32 = 512;

/// Most pixels a photo may have for the app to show the file itself instead of a preview: a
/// grid cell is 184 CSS px (368 device px on a 2x screen), so up to about 1 MP the original
/// looks better than the 224-px preview and is cheap for the web view to decode.
pub const ORIGINAL_AS_PREVIEW_MAX_PIXELS: u64 = 1 << 20;

/// Largest file the app may load in place of a preview: a grid page of such photos stays a few
/// megabytes to read.
pub const ORIGINAL_AS_PREVIEW_MAX_BYTES: u64 = 512 << 10;

/// Whether a photo needs no preview file because the app can show the file itself: a JPEG or
/// PNG (what every web view decodes) that a viewer shows as it was decoded for the model
/// (`as_decoded`: upright as stored, read by the usual decoder), of at most
/// [`ORIGINAL_AS_PREVIEW_MAX_PIXELS`] and [`ORIGINAL_AS_PREVIEW_MAX_BYTES`]. Writing previews of
/// such photos would cost indexing a seventh of its CPU time per photo at 0.3 MP (JPEG encode
/// plus a file created and renamed) for a picture no better than the original.
pub fn original_is_preview(
    format: &str,
    width: u32,
    height: u32,
    file_bytes: u64,
    as_decoded: bool,
) -> bool {
    matches!(format, "jpeg" | "png")
        && as_decoded
        && u64::from(width) * u64::from(height) <= ORIGINAL_AS_PREVIEW_MAX_PIXELS
        && file_bytes <= ORIGINAL_AS_PREVIEW_MAX_BYTES
}

/// Where a photo's preview goes, and whether a photo that could be its own preview gets one
/// anyway.
#[derive(Debug, Clone, Copy)]
pub struct Previews<'a> {
    /// The cache previews are written to.
    pub cache: &'a Thumbs,
    /// Write previews of small photos too ([`original_is_preview`]): their folder is on another
    /// drive than the library ([`on_another_drive`]) and may be unplugged, when the app can no
    /// longer show the files themselves but still shows previews.
    pub even_small: bool,
}

/// Whether `folder` is on another drive (file system) than `library`: an external disk, a
/// network share or a second volume, which can go offline while the library stays. When it
/// cannot tell, it says yes (a preview too many costs a little time and space, a missing one
/// leaves a blank cell).
pub fn on_another_drive(folder: &Path, library: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(folder), std::fs::metadata(library)) {
            (Ok(a), Ok(b)) => a.dev() != b.dev(),
            _ => true,
        }
    }
    #[cfg(not(unix))]
    {
        // Drive letters and UNC shares: the path's prefix names the volume.
        let volume = |p: &Path| {
            p.canonicalize().ok().and_then(|p| {
                p.components()
                    .next()
                    .map(|c| c.as_os_str().to_ascii_lowercase())
            })
        };
        match (volume(folder), volume(library)) {
            (Some(a), Some(b)) => a != b,
            _ => true,
        }
    }
}

/// The size a picture of `width` x `height` is shrunk to so it fits a [`THUMB_SIZE`] square
/// with its aspect ratio kept (a side never under one pixel), or `None` if it fits already.
/// In u64: a strip of 1 x 5,000,000 pixels gives 1 x 512, whatever its ratio.
pub fn fit_in_box(width: u32, height: u32) -> Option<(u32, u32)> {
    let (w, h) = (u64::from(width), u64::from(height));
    let long = w.max(h);
    let size = u64::from(THUMB_SIZE);
    if long <= size {
        return None;
    }
    // Rounded to nearest; at most `size`, so the casts cannot truncate.
    let side = |v: u64| ((v * size + long / 2) / long).clamp(1, size) as u32;
    Some((side(w), side(h)))
}

/// Why a preview could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    /// The cache folder or file could not be written.
    #[error("cannot write thumbnail {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// JPEG encoding failed.
    #[error("cannot encode thumbnail: {0}")]
    Encode(String),
}

/// The preview cache folder (`<library>/thumbs`).
#[derive(Debug, Clone)]
pub struct Thumbs {
    dir: PathBuf,
}

impl Thumbs {
    /// Uses `dir` as the cache (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Thumbs { dir: dir.into() }
    }

    /// Where the preview of a photo with this content hash lives (`ab/abcdef….jpg`).
    pub fn path_for(&self, content_hash_hex: &str) -> PathBuf {
        let shard = content_hash_hex.get(..2).unwrap_or("00");
        self.dir.join(shard).join(format!("{content_hash_hex}.jpg"))
    }

    /// Whether a preview for this hash exists already.
    pub fn exists(&self, content_hash_hex: &str) -> bool {
        self.path_for(content_hash_hex).is_file()
    }

    /// Writes the preview of `img` (atomically: temp file + rename), unless it exists.
    pub fn write(&self, content_hash_hex: &str, img: &RgbImage) -> Result<PathBuf, ThumbError> {
        let path = self.path_for(content_hash_hex);
        if path.is_file() {
            return Ok(path);
        }
        let io = |p: &Path, source| ThumbError::Io {
            path: p.display().to_string(),
            source,
        };
        let parent = path.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
        let small = match fit_in_box(img.width(), img.height()) {
            Some((tw, th)) => image::imageops::thumbnail(img, tw, th),
            None => img.clone(),
        };
        // libjpeg-turbo: a fifth of the pure-Rust encoder's time, and previews are written on
        // the decode pool, whose speed is the indexing speed on a GPU.
        let bytes = turbojpeg::compress_image(&small, 85, turbojpeg::Subsamp::Sub2x2)
            .map_err(|e| ThumbError::Encode(e.to_string()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&parent).map_err(|e| io(&parent, e))?;
        tmp.write_all(&bytes).map_err(|e| io(&path, e))?;
        tmp.persist(&path).map_err(|e| io(&path, e.error))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_is_small_sharded_and_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let t = Thumbs::new(dir.path());
        let img = RgbImage::from_pixel(1000, 500, image::Rgb([10, 20, 30]));
        let p = t.write("abcdef", &img).unwrap();
        assert!(p.ends_with("ab/abcdef.jpg"));
        let back = image::open(&p).unwrap();
        assert_eq!((back.width(), back.height()), (512, 256));
        let small = RgbImage::from_pixel(298, 224, image::Rgb([10, 20, 30]));
        let q = t.write("012345", &small).unwrap();
        let back = image::open(&q).unwrap();
        assert_eq!((back.width(), back.height()), (298, 224), "kept as resized");
        let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
        t.write("abcdef", &img).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), modified);
        assert!(t.exists("abcdef"));
        assert!(!t.exists("ffffff"));
    }

    #[test]
    fn any_aspect_ratio_fits_the_preview_box() {
        assert_eq!(fit_in_box(512, 300), None);
        assert_eq!(fit_in_box(1000, 500), Some((512, 256)));
        assert_eq!(fit_in_box(4000, 3000), Some((512, 384)));
        assert_eq!(fit_in_box(1, 5_000_000), Some((1, 512)));
        assert_eq!(fit_in_box(60_000, 4), Some((512, 1)));
        assert_eq!(fit_in_box(u32::MAX, u32::MAX - 1), Some((512, 512)));
        // A strip handed in whole makes a preview inside the box.
        let dir = tempfile::tempdir().unwrap();
        let strip = RgbImage::from_pixel(1, 200_000, image::Rgb([9, 99, 199]));
        let p = Thumbs::new(dir.path()).write("5a5a", &strip).unwrap();
        let back = image::open(&p).unwrap();
        assert_eq!((back.width(), back.height()), (1, 512));
    }

    #[test]
    fn a_folder_on_another_file_system_is_on_another_drive() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        assert!(!on_another_drive(&a, &b));
        // What cannot be looked at counts as another drive: a preview too many is harmless.
        assert!(on_another_drive(&dir.path().join("missing"), &b));
        #[cfg(target_os = "linux")]
        assert!(on_another_drive(Path::new("/proc"), &a));
    }

    #[test]
    fn only_small_upright_jpegs_and_pngs_are_their_own_preview() {
        let kb = 1024;
        assert!(original_is_preview("jpeg", 640, 480, 100 * kb, true));
        assert!(original_is_preview("png", 1024, 1024, 512 * kb, true));
        assert!(original_is_preview("jpeg", 1, 1, 0, true));
        // Too many pixels, too many bytes, a format the web view may not show, sideways or
        // decoded only by the tolerant fallback.
        assert!(!original_is_preview("jpeg", 1025, 1024, 100 * kb, true));
        assert!(!original_is_preview("jpeg", 4000, 3000, 100 * kb, true));
        assert!(!original_is_preview("png", 640, 480, 512 * kb + 1, true));
        for format in [
            "heic", "avif", "jxl", "tiff", "webp", "gif", "bmp", "nef", "dng",
        ] {
            assert!(
                !original_is_preview(format, 640, 480, 100 * kb, true),
                "{format}"
            );
        }
        assert!(!original_is_preview("jpeg", 640, 480, 100 * kb, false));
    }
}
