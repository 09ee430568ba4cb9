//! Previews for the UI, made from the pixels the indexer already decoded for the model (the
//! decoder's DCT scaling keeps a JPEG's short side at least twice the model's 224 px: 750 px for
//! a 12 MP photo), keyed by content hash so that moved and copied photos share one file and no
//! photo is decoded twice. A photo that is already preview-sized and in a format the web view
//! shows gets none: the app shows the file itself (see [`original_is_preview`]), unless its
//! folder is on another drive that may be unplugged ([`Previews::even_small`]). Previews written
//! by older versions (224 px on the short side) stay valid: the app shows whatever file exists.

use glimpse_clip::preprocess::{pil_resize, Filter};
use image::RgbImage;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Shortest side a preview is made at, where the decoded picture has that many pixels: twice
/// the tallest grid row (the XL size's 300 CSS px, stretched at most 1.2 times to fill a row:
/// `ui/src/lib/grid.ts` THUMB_SIZES, `ui/src/lib/justify.ts` MAX_STRETCH), so the largest size
/// is not upscaled on a 2x display.
pub const PREVIEW_SHORT_SIDE: u32 = 720;

/// Longest side of a preview, in pixels: a panorama's preview is capped here (its letterboxed
/// cell is at most the window's width), whatever its short side then comes to.
pub const THUMB_SIZE: u32 = 2048;

/// A decoded picture whose short side is at most this is written as it is: shrinking a 12 MP
/// photo's 1000 × 750 decode to 960 × 720 would cost a resize pass for a few percent fewer
/// pixels.
pub const AS_DECODED_MAX_SHORT_SIDE: u32 = PREVIEW_SHORT_SIDE * 3 / 2;

/// Most pixels a photo may have for the app to show the file itself instead of a preview: up to
/// about 1 MP (1152 × 864) a photo has no more pixels than its preview would
/// ([`PREVIEW_SHORT_SIDE`] on the short side), so the file looks as sharp and is cheap for the
/// web view to decode.
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

/// The size a decoded picture of `width` x `height` is shrunk to for its preview, its aspect
/// ratio kept (a side never under one pixel): [`PREVIEW_SHORT_SIDE`] on the short side and at
/// most [`THUMB_SIZE`] on the long one; `None` when it is written as it is (its short side at
/// most [`AS_DECODED_MAX_SHORT_SIDE`], its long side within [`THUMB_SIZE`]). A strip of
/// 1 x 5,000,000 pixels gives 1 x 2048, whatever its ratio.
pub fn preview_size(width: u32, height: u32) -> Option<(u32, u32)> {
    let (short, long) = (width.min(height), width.max(height));
    if short <= AS_DECODED_MAX_SHORT_SIDE && long <= THUMB_SIZE {
        return None;
    }
    let by_short = f64::from(PREVIEW_SHORT_SIDE) / f64::from(short.max(1));
    let by_long = f64::from(THUMB_SIZE) / f64::from(long.max(1));
    let scale = by_short.min(by_long).min(1.0);
    // At most the picture's own side (scale <= 1), so the casts cannot overflow.
    let side = |v: u32| ((f64::from(v) * scale).round() as u32).clamp(1, v.max(1));
    Some((side(width), side(height)))
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
        let shrunk;
        let small = match preview_size(img.width(), img.height()) {
            Some((tw, th)) => {
                // The model's resize (Pillow's bilinear, antialiased): a third of the time of
                // `image`'s thumbnail on a whole 12 MP picture (a PNG, a HEIC), which no DCT
                // scaling made smaller.
                shrunk = pil_resize(img, tw, th, Filter::Bilinear);
                &shrunk
            }
            None => img,
        };
        // libjpeg-turbo: a fifth of the pure-Rust encoder's time, and previews are written on
        // the decode pool, whose speed is the indexing speed on a GPU.
        let bytes = turbojpeg::compress_image(small, 85, turbojpeg::Subsamp::Sub2x2)
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
    fn preview_is_sized_sharded_and_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let t = Thumbs::new(dir.path());
        let img = RgbImage::from_pixel(3000, 2000, image::Rgb([10, 20, 30]));
        let p = t.write("abcdef", &img).unwrap();
        assert!(p.ends_with("ab/abcdef.jpg"));
        let back = image::open(&p).unwrap();
        assert_eq!((back.width(), back.height()), (1080, 720));
        // A 12 MP JPEG as the decoder hands it over (1/4 scale) is written as it is.
        let decoded = RgbImage::from_pixel(1000, 750, image::Rgb([10, 20, 30]));
        let q = t.write("012345", &decoded).unwrap();
        let back = image::open(&q).unwrap();
        assert_eq!(
            (back.width(), back.height()),
            (1000, 750),
            "kept as decoded"
        );
        let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
        t.write("abcdef", &img).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), modified);
        assert!(t.exists("abcdef"));
        assert!(!t.exists("ffffff"));
    }

    #[test]
    fn any_aspect_ratio_fits_the_preview_box() {
        assert_eq!(preview_size(512, 300), None);
        assert_eq!(preview_size(1000, 750), None);
        assert_eq!(preview_size(750, 1000), None);
        assert_eq!(preview_size(1440, 1080), None);
        assert_eq!(preview_size(1441, 1081), Some((960, 720)));
        assert_eq!(preview_size(4000, 3000), Some((960, 720)));
        assert_eq!(preview_size(3000, 4000), Some((720, 960)));
        // A panorama is capped on its long side, a strip too.
        assert_eq!(preview_size(8000, 600), Some((2048, 154)));
        assert_eq!(preview_size(600, 3000), Some((410, 2048)));
        assert_eq!(preview_size(1, 5_000_000), Some((1, 2048)));
        assert_eq!(preview_size(60_000, 4), Some((2048, 1)));
        assert_eq!(preview_size(u32::MAX, u32::MAX - 1), Some((720, 720)));
        // A strip handed in whole makes a preview inside the box.
        let dir = tempfile::tempdir().unwrap();
        let strip = RgbImage::from_pixel(1, 200_000, image::Rgb([9, 99, 199]));
        let p = Thumbs::new(dir.path()).write("5a5a", &strip).unwrap();
        let back = image::open(&p).unwrap();
        assert_eq!((back.width(), back.height()), (1, 2048));
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
