//! Photo file → upright 8-bit RGB pixels, as the reference sees them.
//!
//! The reference (`PIL.Image.open` → `ImageOps.exif_transpose` → transformers' `convert_to_rgb`)
//! fixes what "the pixels of a photo" means: the EXIF orientation applied, the first frame of an
//! animation, 16-bit samples reduced to their high byte (how Pillow loads them), grey replicated
//! and alpha composited onto white with Pillow's integer formula. Large JPEGs are decoded with
//! DCT scaling straight to the size CLIP needs, since decoding 12 MP at full size is the main
//! cost of indexing.

use image::{DynamicImage, ImageFormat, RgbImage};
use std::borrow::Cow;
use std::ffi::c_int;
use std::io::Cursor;
use std::path::Path;

/// Refuse pictures above this many pixels before decoding them (decompression bombs).
pub(crate) const MAX_PIXELS: u64 = 250_000_000;
pub use crate::read::MAX_FILE_BYTES;

/// Why a file did not yield pixels; the message is what a user sees next to the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file could not be read.
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is empty.
    #[error("empty file (0 bytes)")]
    Empty,
    /// The bytes are not a picture format we know.
    #[error("not an image (unrecognised file content)")]
    NotAnImage,
    /// A known picture format that this build cannot decode.
    #[error("unsupported image format: {0}")]
    Unsupported(String),
    /// A camera RAW file whose embedded preview is too small and whose sensor data could not
    /// be developed.
    #[error("RAW file: {0}")]
    Raw(String),
    /// The file ends before the picture does.
    #[error("truncated image: {0}")]
    Truncated(String),
    /// The picture is damaged or not what its header says.
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// The picture is larger than we are willing to allocate.
    #[error("image too large: {width}x{height} pixels exceeds the limit of {limit} pixels")]
    TooLarge {
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
        /// The limit in pixels.
        limit: u64,
    },
    /// Decoding it would need more memory than the process's decode budget.
    #[error(transparent)]
    Memory(#[from] crate::budget::BudgetError),
    /// The file is larger than we are willing to read.
    #[error("file too large: {bytes} bytes exceeds the limit of {limit} bytes")]
    FileTooLarge {
        /// Size of the file.
        bytes: u64,
        /// The limit in bytes.
        limit: u64,
    },
}

impl From<crate::read::ReadError> for DecodeError {
    fn from(e: crate::read::ReadError) -> Self {
        use crate::read::ReadError;
        match e {
            ReadError::Io(e) => DecodeError::Io(e),
            ReadError::TooLarge { bytes, limit } => DecodeError::FileTooLarge { bytes, limit },
            // Kept as an I/O error so the reason reads "cannot read file: not a regular file
            // (a pipe)" beside the file.
            other => DecodeError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                other.to_string(),
            )),
        }
    }
}

/// A decoded picture and what is known about how it was obtained.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Upright RGB pixels (possibly DCT-downscaled).
    pub image: RgbImage,
    /// Width of the upright picture at full resolution.
    pub width: u32,
    /// Height of the upright picture at full resolution.
    pub height: u32,
    /// The container format that was detected from the file's content.
    pub format: &'static str,
    /// The DCT scale denominator used for JPEGs (1 = full decode).
    pub dct_scale: u32,
    /// Whether the EXIF orientation tag turned or flipped the decoded pixels, so that a viewer
    /// ignoring it would show the file sideways (codecs that orient pictures themselves, HEIF,
    /// RAW and JPEG XL, say `false`).
    pub reoriented: bool,
    /// Whether libjpeg-turbo refused this JPEG (CMYK, or damage it will not pass over) and the
    /// more tolerant pure-Rust decoder read it: a web view, libjpeg-turbo too, may not show it.
    pub fallback: bool,
    /// What a user should know about how the picture came out, shown beside the photo by
    /// `glimpse status` ("decoded with warnings: ...", "damaged: ..."): a viewer shows such a
    /// file, so Glimpse indexes it, but the picture may not be all there.
    pub note: Option<String>,
}

impl Decoded {
    /// Whether an ordinary viewer of the file as stored (a web view: libjpeg-turbo, EXIF
    /// orientation not applied) shows the picture decoded here, so the file can stand in for it.
    pub fn viewers_see_it_as_decoded(&self) -> bool {
        !self.reoriented && !self.fallback
    }
}

/// How to decode: whether and how far JPEGs may be downscaled while decoding.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Shortest side the consumer needs; `None` decodes at full resolution.
    pub min_short_side: Option<u32>,
}

impl DecodeOptions {
    /// Full-resolution decode, for thumbnails of originals or checks against the reference.
    pub fn full() -> Self {
        DecodeOptions {
            min_short_side: None,
        }
    }

    /// Decode for a model whose input is `size` pixels: JPEGs are DCT-scaled down while their
    /// short side stays at least twice `size` (`dct_scale_for`).
    pub fn for_model(size: u32) -> Self {
        DecodeOptions {
            min_short_side: Some(size),
        }
    }
}

/// Reads and decodes one photo file (through [`crate::read_photo`]: a regular file, at most
/// [`MAX_FILE_BYTES`] of it). The decode runs within the process's decode memory budget ([`crate::budget`]), held while
/// the decoders work (their peak, with their intermediates): a dropped picture, a preview for
/// the app and the indexer's decode threads do not add up past it.
pub fn decode_file(path: &Path, opts: DecodeOptions) -> Result<Decoded, DecodeError> {
    let bytes = crate::read::read_photo(path, MAX_FILE_BYTES)?;
    let _memory = crate::budget::global().reserve(footprint(&bytes, opts))?;
    decode_bytes(&bytes, opts)
}

/// Decodes one photo from memory (a dropped image, a test fixture).
pub fn decode_bytes(bytes: &[u8], opts: DecodeOptions) -> Result<Decoded, DecodeError> {
    decode_bytes_reusing(bytes, opts, Vec::new())
}

/// [`decode_bytes`] that decodes JPEGs into `pixels` (an earlier picture's, from
/// `image.into_raw()`), so a decode thread does not fault in a fresh buffer per photo.
pub fn decode_bytes_reusing(
    bytes: &[u8],
    opts: DecodeOptions,
    pixels: Vec<u8>,
) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    // A decoder bug must cost one photo, never the process.
    #[cfg(feature = "jxl")]
    if is_jxl(bytes) {
        return std::panic::catch_unwind(|| decode_jxl(bytes)).unwrap_or_else(|_| {
            Err(DecodeError::Corrupt(
                "the JPEG XL decoder failed on this file".into(),
            ))
        });
    }
    #[cfg(feature = "heif")]
    if crate::heif::is_heif(bytes) {
        return std::panic::catch_unwind(|| decode_heif(bytes)).unwrap_or_else(|_| {
            Err(DecodeError::Corrupt(
                "the HEIF decoder failed on this file".into(),
            ))
        });
    }
    #[cfg(feature = "raw")]
    if let Some(kind) = crate::raw::kind(bytes) {
        return std::panic::catch_unwind(|| decode_raw(bytes, kind, opts)).unwrap_or_else(|_| {
            Err(DecodeError::Corrupt(
                "the decoder failed on this RAW file's preview".into(),
            ))
        });
    }
    let format = image::guess_format(bytes).map_err(|_| DecodeError::NotAnImage)?;
    let result = std::panic::catch_unwind(move || {
        decode_inner(
            bytes,
            format,
            opts,
            exif_orientation(bytes),
            format_name(format),
            pixels,
        )
    });
    match result {
        Ok(r) => r,
        Err(_) => Err(DecodeError::Corrupt(
            "the decoder failed on this file".into(),
        )),
    }
}

/// Replaces Rust's default panic output (the message and, with `RUST_BACKTRACE`, a backtrace on
/// the user's terminal) by one `tracing` error line with its location. Decoder panics are
/// caught (`catch_unwind`) and cost one file with its reason, so the terminal must not look as
/// if Glimpse crashed; a panic that is not caught still ends the process, with this line.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("{}", panic_line(info));
    }));
}

/// A panic as one line: "panic at file:line:column: first line of the message".
pub(crate) fn panic_line(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let message = message.lines().next().unwrap_or_default();
    match info.location() {
        Some(at) => format!(
            "panic at {}:{}:{}: {message}",
            at.file(),
            at.line(),
            at.column()
        ),
        None => format!("panic: {message}"),
    }
}

/// Whether libheif loads on this machine, so HEIC, HEIF and AVIF photos decode (callers and
/// tests tell "unsupported here" from a broken file by it).
pub fn heif_available() -> bool {
    crate::heif::available()
}

/// Whether libtiff loads on this machine (without it TIFFs go to the pure-Rust decoder, which
/// reads fewer of them).
pub fn tiff_available() -> bool {
    crate::tiff::available()
}

/// Whether LibRaw loads on this machine, so RAW files with small previews are developed.
pub fn libraw_available() -> bool {
    crate::develop::available()
}

/// The decoders this build has on this machine (its version, its format features and the codec
/// libraries that load), e.g. "0.1.0 jxl raw libraw heif". A library records it per folder, and
/// files that failed under another set are tried again: a newer Glimpse, or a codec library
/// installed since, may read them.
pub fn decoder_set() -> String {
    let mut set = vec![env!("CARGO_PKG_VERSION")];
    if cfg!(feature = "jxl") {
        set.push("jxl");
    }
    if cfg!(feature = "raw") {
        set.push("raw");
        if crate::develop::available() {
            set.push("libraw");
        }
    }
    if cfg!(feature = "heif") && crate::heif::available() {
        set.push("heif");
    }
    if crate::tiff::available() {
        set.push("libtiff");
    }
    set.join(" ")
}

/// A HEIC/HEIF or AVIF picture through libheif, which applies the file's rotation and mirror
/// boxes (the HEIF rule: its EXIF orientation is not applied again).
#[cfg(feature = "heif")]
fn decode_heif(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    use crate::heif::HeifError;
    let name = if bytes.get(8..12) == Some(b"avif") || bytes.get(8..12) == Some(b"avis") {
        "avif"
    } else {
        "heic"
    };
    let image = crate::heif::decode(bytes, MAX_PIXELS).map_err(|e| match e {
        HeifError::Missing(_) => DecodeError::Unsupported(e.to_string()),
        HeifError::TooLarge { width, height } => too_large(width, height),
        HeifError::Decode(m) => DecodeError::Corrupt(m),
    })?;
    Ok(full_size(image, name))
}

/// A picture a codec library decoded at full size and upright.
#[cfg(any(feature = "heif", feature = "raw"))]
fn full_size(image: RgbImage, format: &'static str) -> Decoded {
    let (width, height) = image.dimensions();
    Decoded {
        image,
        width,
        height,
        format,
        dct_scale: 1,
        reoriented: false,
        fallback: false,
        note: None,
    }
}

/// The pixel-limit error for a codec library's header size.
#[cfg(any(feature = "heif", feature = "raw"))]
fn too_large(width: u32, height: u32) -> DecodeError {
    DecodeError::TooLarge {
        width: u64::from(width),
        height: u64::from(height),
        limit: MAX_PIXELS,
    }
}

/// A camera RAW file through its largest embedded JPEG preview, turned upright by the RAW's
/// own orientation tag (previews rarely carry one), else the preview's.
#[cfg(feature = "raw")]
fn decode_raw(
    bytes: &[u8],
    kind: &'static str,
    opts: DecodeOptions,
) -> Result<Decoded, DecodeError> {
    let preview = match crate::raw::best_preview(bytes) {
        Ok(p) => p,
        Err(why) => return develop_raw(bytes, kind, why),
    };
    let jpeg = preview.bytes(bytes);
    let orientation = exif_orientation(bytes).or_else(|| exif_orientation(jpeg));
    decode_inner(jpeg, ImageFormat::Jpeg, opts, orientation, kind, Vec::new())
}

/// A camera RAW file without a usable preview: its sensor data developed by LibRaw, which turns
/// it upright. `no_preview` says why the preview was not used, for the error when LibRaw fails.
#[cfg(feature = "raw")]
fn develop_raw(
    bytes: &[u8],
    kind: &'static str,
    no_preview: String,
) -> Result<Decoded, DecodeError> {
    use crate::develop::DevelopError;
    let image = crate::develop::develop(bytes, MAX_PIXELS).map_err(|e| match e {
        DevelopError::TooLarge { width, height } => too_large(width, height),
        other => DecodeError::Raw(format!("{no_preview}; {other}")),
    })?;
    Ok(full_size(image, kind))
}

fn decode_inner(
    bytes: &[u8],
    format: ImageFormat,
    opts: DecodeOptions,
    orientation: Option<image::metadata::Orientation>,
    name: &'static str,
    pixels: Vec<u8>,
) -> Result<Decoded, DecodeError> {
    let mut fallback = false;
    let mut note = None;
    let (mut rgb, full_w, full_h, dct_scale) = if format == ImageFormat::Jpeg {
        match decode_jpeg_turbo(bytes, opts, pixels) {
            Ok((rgb, w, h, scale, warning)) => {
                note = warning;
                (rgb, w, h, scale)
            }
            Err(JpegFailure::Fatal(e)) => return Err(e),
            Err(JpegFailure::Fallback(reason)) => {
                tracing::debug!(%reason, "libjpeg-turbo refused the file; trying the pure-Rust decoder");
                fallback = true;
                let img = decode_generic(bytes, format)?;
                let (w, h) = (img.width(), img.height());
                (to_rgb(img), w, h, 1)
            }
        }
    } else if format == ImageFormat::Tiff {
        let rgb = decode_tiff(bytes)?;
        let (w, h) = rgb.dimensions();
        (rgb, w, h, 1)
    } else {
        let rgb = match decode_generic(&readable_layout(bytes, format), format) {
            Ok(img) => to_rgb(img),
            Err(DecodeError::Truncated(why)) if format == ImageFormat::Png => {
                let (rgb, missing) = truncated_png(bytes, why)?;
                note = Some(if missing == 0 {
                    "damaged: the file ends early, after the last row of the picture".into()
                } else {
                    format!(
                        "damaged: the file ends before the picture does (the bottom {}% is grey)",
                        percent(missing, rgb.height()).max(1)
                    )
                });
                rgb
            }
            Err(e) => return Err(e),
        };
        let (w, h) = rgb.dimensions();
        (rgb, w, h, 1)
    };
    let (mut width, mut height) = (full_w, full_h);
    if let Some(o) = orientation {
        let mut dynimg = DynamicImage::ImageRgb8(rgb);
        dynimg.apply_orientation(o);
        rgb = match dynimg {
            DynamicImage::ImageRgb8(i) => i,
            other => other.to_rgb8(),
        };
        if matches!(
            o,
            image::metadata::Orientation::Rotate90
                | image::metadata::Orientation::Rotate270
                | image::metadata::Orientation::Rotate90FlipH
                | image::metadata::Orientation::Rotate270FlipH
        ) {
            std::mem::swap(&mut width, &mut height);
        }
    }
    Ok(Decoded {
        image: rgb,
        width,
        height,
        format: name,
        dct_scale,
        reoriented: orientation.is_some(),
        fallback,
        note,
    })
}

/// A TIFF through libtiff, which reads what scanners and archives write (YCbCr and JPEG
/// strips or tiles, CIELab, 1/2/4/12-bit, Fax, LZMA, signed samples); the pure-Rust decoder
/// reads it where libtiff is missing, or where libtiff refuses a file it happens to read.
/// Both give the same pixels for plain RGB and grey TIFFs (the reference set's `plain.tiff`).
fn decode_tiff(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    use crate::tiff::TiffError;
    let why = match crate::tiff::decode(bytes, MAX_PIXELS) {
        Ok(rgb) => return Ok(rgb),
        Err(TiffError::TooLarge { width, height }) => {
            return Err(DecodeError::TooLarge {
                width: u64::from(width),
                height: u64::from(height),
                limit: MAX_PIXELS,
            })
        }
        Err(e @ TiffError::Missing(_)) => {
            tracing::debug!(reason = %e, "reading the TIFF with the pure-Rust decoder");
            return decode_generic(bytes, ImageFormat::Tiff).map(to_rgb);
        }
        Err(TiffError::Decode(why)) => why,
    };
    match decode_generic(bytes, ImageFormat::Tiff) {
        Ok(img) => {
            tracing::debug!(%why, "libtiff refused a TIFF the pure-Rust decoder reads");
            Ok(to_rgb(img))
        }
        Err(e @ DecodeError::TooLarge { .. }) => Err(e),
        Err(_) => Err(DecodeError::Corrupt(format!("TIFF: {why}"))),
    }
}

/// A PNG cut short (a download or copy stopped early), as viewers show it: the rows before the
/// cut, the rest grey, kept when at least [`USABLE_ROWS`] of the rows came out (the rule for
/// JPEGs); `why` is the decoder's error, returned when the picture is not usable. Rows of all
/// zero bytes at the bottom count as missing, which errs on the side of refusing. Interlaced
/// PNGs are refused: their first passes spread a coarse picture over every row.
fn truncated_png(bytes: &[u8], why: String) -> Result<(RgbImage, u32), DecodeError> {
    use image::{ColorType, ImageBuffer, ImageDecoder};
    const IHDR_INTERLACE: usize = 28;
    let refuse = |why: String| Err(DecodeError::Truncated(why));
    if bytes.get(IHDR_INTERLACE).copied() != Some(0) {
        return refuse(why);
    }
    let dec = image::codecs::png::PngDecoder::new(Cursor::new(bytes)).map_err(map_image_error)?;
    let (w, h) = dec.dimensions();
    check_pixels(u64::from(w), u64::from(h))?;
    let color = dec.color_type();
    let Ok(total) = usize::try_from(dec.total_bytes()) else {
        return refuse(why);
    };
    let mut buf = vec![0u8; total];
    // The rows before the cut are in `buf` when this fails (samples big-endian, as stored).
    let complete = dec.read_image(&mut buf).is_ok();
    let row_bytes = total / h.max(1) as usize;
    let missing = if complete {
        0
    } else {
        buf.chunks_exact(row_bytes.max(1))
            .rev()
            .take_while(|row| row.iter().all(|&b| b == 0))
            .count() as u32
    };
    if (h - missing) * USABLE_ROWS.1 < h * USABLE_ROWS.0 {
        return refuse(format!(
            "{why} ({}% of the picture is missing)",
            percent(missing, h)
        ));
    }
    let wide = |buf: &[u8]| -> Vec<u16> {
        buf.chunks_exact(2)
            .map(|c| {
                if complete {
                    u16::from_ne_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect()
    };
    let img = match color {
        ColorType::L8 => ImageBuffer::from_raw(w, h, buf).map(DynamicImage::ImageLuma8),
        ColorType::La8 => ImageBuffer::from_raw(w, h, buf).map(DynamicImage::ImageLumaA8),
        ColorType::Rgb8 => ImageBuffer::from_raw(w, h, buf).map(DynamicImage::ImageRgb8),
        ColorType::Rgba8 => ImageBuffer::from_raw(w, h, buf).map(DynamicImage::ImageRgba8),
        ColorType::L16 => ImageBuffer::from_raw(w, h, wide(&buf)).map(DynamicImage::ImageLuma16),
        ColorType::La16 => ImageBuffer::from_raw(w, h, wide(&buf)).map(DynamicImage::ImageLumaA16),
        ColorType::Rgb16 => ImageBuffer::from_raw(w, h, wide(&buf)).map(DynamicImage::ImageRgb16),
        ColorType::Rgba16 => ImageBuffer::from_raw(w, h, wide(&buf)).map(DynamicImage::ImageRgba16),
        _ => None,
    };
    let Some(img) = img else {
        return refuse(why);
    };
    let mut rgb = to_rgb(img);
    for y in h - missing..h {
        for x in 0..w {
            rgb.put_pixel(x, y, image::Rgb([128, 128, 128]));
        }
    }
    Ok((rgb, missing))
}

/// Rewrites the few layouts that viewers show and the `image` crate refuses into equivalent ones
/// it reads (in memory; the file is untouched): a BMP with an OS/2 2.x header, a GIF without
/// any palette. Every other file is passed through as it is.
fn readable_layout(bytes: &[u8], format: ImageFormat) -> Cow<'_, [u8]> {
    let rewritten = match format {
        ImageFormat::Bmp => os2_bmp_as_windows(bytes),
        ImageFormat::Gif => gif_with_grey_palette(bytes),
        _ => None,
    };
    rewritten.map_or(Cow::Borrowed(bytes), Cow::Owned)
}

/// An OS/2 2.x bitmap (info header of 16 to 64 bytes) as the Windows one it extends: the first
/// 40 bytes have the same layout (sizes, planes, bits, compression, colours), the rest is
/// OS/2's halftoning and units, which do not change the pixels. Only the compressions the two
/// share (none, RLE8, RLE4) are rewritten; OS/2's Huffman and RLE24 stay refused.
fn os2_bmp_as_windows(bytes: &[u8]) -> Option<Vec<u8>> {
    const FILE_HEADER: usize = 14;
    const WINDOWS: usize = 40;
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if !bytes.starts_with(b"BM") {
        return None;
    }
    let size = usize::try_from(u32_at(FILE_HEADER)?).ok()?;
    if !(16..=64).contains(&size) || matches!(size, 40 | 52 | 56) {
        return None;
    }
    let header = bytes.get(FILE_HEADER..FILE_HEADER + size)?;
    let compression = if size >= 20 {
        u32_at(FILE_HEADER + 16)?
    } else {
        0
    };
    if compression > 2 {
        return None;
    }
    let offset = usize::try_from(u32_at(10)?).ok()?;
    let new_offset = offset.checked_sub(size)?.checked_add(WINDOWS)?;
    let mut out = Vec::with_capacity(bytes.len() + WINDOWS);
    out.extend_from_slice(&bytes[..FILE_HEADER]);
    let mut info = [0u8; WINDOWS];
    let keep = size.min(WINDOWS);
    info[..keep].copy_from_slice(&header[..keep]);
    info[..4].copy_from_slice(&(WINDOWS as u32).to_le_bytes());
    out.extend_from_slice(&info);
    out.extend_from_slice(&bytes[FILE_HEADER + size..]);
    let total = u32::try_from(out.len()).ok()?;
    out[2..6].copy_from_slice(&total.to_le_bytes());
    out[10..14].copy_from_slice(&u32::try_from(new_offset).ok()?.to_le_bytes());
    Some(out)
}

/// A GIF without a global palette, given a grey one (index i is grey i) for the frames that
/// have no palette of their own, which is how viewers (Pillow, browsers) show them; frames
/// with their own palette keep it.
fn gif_with_grey_palette(bytes: &[u8]) -> Option<Vec<u8>> {
    const SCREEN_END: usize = 13;
    let flags = *bytes.get(10)?;
    if !(bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) || flags & 0x80 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + 768);
    out.extend_from_slice(&bytes[..SCREEN_END]);
    // Global palette present, 2^(7+1) = 256 entries.
    out[10] = flags | 0x87;
    out.extend((0..=255u8).flat_map(|v| [v, v, v]));
    out.extend_from_slice(&bytes[SCREEN_END..]);
    Some(out)
}

/// The EXIF orientation of a file, if it has a valid one other than "normal".
fn exif_orientation(bytes: &[u8]) -> Option<image::metadata::Orientation> {
    let exif = crate::metadata::exif(bytes)?;
    let field = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?;
    let value = field.value.get_uint(0)?;
    let o = image::metadata::Orientation::from_exif(u8::try_from(value).ok()?)?;
    (o != image::metadata::Orientation::NoTransforms).then_some(o)
}

/// The name a decoded format is stored under ("jpeg", "png", ...).
fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::WebP => "webp",
        ImageFormat::Gif => "gif",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Tiff => "tiff",
        other => other.extensions_str().first().copied().unwrap_or("other"),
    }
}

/// A JPEG XL codestream (`FF 0A`) or ISO-BMFF container (`JXL ` signature box).
#[cfg(feature = "jxl")]
fn is_jxl(bytes: &[u8]) -> bool {
    const CONTAINER: [u8; 12] = [
        0, 0, 0, 0x0C, b'J', b'X', b'L', b' ', 0x0D, 0x0A, 0x87, 0x0A,
    ];
    bytes.starts_with(&[0xFF, 0x0A]) || bytes.starts_with(&CONTAINER)
}

/// Decodes a JPEG XL picture, upright (the decoder applies the codestream's orientation), with
/// the same pixel limit as every other format, checked from the header before any pixel is
/// decoded. A file cut short is refused, not shown half-loaded (JPEG XL renders progressively).
#[cfg(feature = "jxl")]
fn decode_jxl(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    use jxl_oxide::{JxlImage, PixelFormat};
    let image = JxlImage::builder()
        .read(Cursor::new(bytes))
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let (width, height) = (image.width(), image.height());
    check_pixels(u64::from(width), u64::from(height))?;
    if !image.is_loading_done() {
        return Err(DecodeError::Truncated(
            "the JPEG XL file ends before its last frame".into(),
        ));
    }
    let render = image
        .render_frame(0)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let mut stream = render.stream();
    let (w, h, channels) = (stream.width(), stream.height(), stream.channels());
    let mut buf = vec![0u8; w as usize * h as usize * channels as usize];
    stream.write_to_buffer(&mut buf);
    let wrong = || DecodeError::Corrupt("the JPEG XL decoder returned a short image".into());
    let img = match (image.pixel_format(), channels) {
        (PixelFormat::Gray, 1) => {
            DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, buf).ok_or_else(wrong)?)
        }
        (PixelFormat::Graya, 2) => {
            DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(w, h, buf).ok_or_else(wrong)?)
        }
        (PixelFormat::Rgb, 3) => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, buf).ok_or_else(wrong)?)
        }
        (PixelFormat::Rgba, 4) => {
            DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, buf).ok_or_else(wrong)?)
        }
        (other, _) => {
            return Err(DecodeError::Unsupported(format!(
                "JPEG XL with {other:?} pixels"
            )))
        }
    };
    Ok(Decoded {
        image: to_rgb(img),
        width: w,
        height: h,
        format: "jxl",
        dct_scale: 1,
        reoriented: false,
        fallback: false,
        note: None,
    })
}

fn check_pixels(width: u64, height: u64) -> Result<(), DecodeError> {
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(DecodeError::TooLarge {
            width,
            height,
            limit: MAX_PIXELS,
        });
    }
    Ok(())
}

enum JpegFailure {
    Fatal(DecodeError),
    Fallback(String),
}

/// The most aggressive DCT scale (1/8 .. 1/1) that keeps the short side at least twice
/// `min_short`. DCT scaling is not Pillow's decode then bicubic resize: a 640 x 480 JPEG decoded
/// at 1/2 (240 px short side, just above CLIP's 224) moved its embedding to cosine 0.9988 of
/// the reference's, while with the resize still shrinking by 2x or more the difference is
/// averaged away; so modest pictures take the exact full decode.
pub(crate) fn dct_scale_for(width: u32, height: u32, min_short: u32) -> u32 {
    let short = width.min(height);
    let keep = min_short.saturating_mul(2);
    for denom in [8u32, 4, 2] {
        // libjpeg-turbo rounds scaled sizes up.
        if short.div_ceil(denom) >= keep {
            return denom;
        }
    }
    1
}

/// Bytes the decoders hold at their peak for this file, read from its header alone: what the
/// process's decode memory budget ([`crate::budget`]) reserves before decoding it. It counts
/// the decoder's own pixels (16-bit, alpha and palette layouts as decoded), the 8-bit RGB
/// picture made from them and a turned copy where EXIF orientation applies. 0 where no header
/// says (JPEG XL, RAW files without a JPEG preview, unreadable headers, HEIF without libheif):
/// those decoders' own pixel limit (`MAX_PIXELS`) still applies.
pub fn footprint(bytes: &[u8], opts: DecodeOptions) -> u64 {
    #[cfg(feature = "jxl")]
    if is_jxl(bytes) {
        return 0;
    }
    #[cfg(feature = "heif")]
    if crate::heif::is_heif(bytes) {
        // Estimated: libheif's decoded planes (up to 3 bytes a pixel, 8-bit 4:4:4), its
        // interleaved RGB, and the copy made of that.
        return crate::heif::dimensions(bytes).map_or(0, |(w, h)| {
            (u64::from(w) * u64::from(h)).saturating_mul(3 + 3 + 3)
        });
    }
    #[cfg(feature = "raw")]
    if crate::raw::kind(bytes).is_some() {
        return match crate::raw::best_preview(bytes) {
            Ok(p) => {
                let turned = exif_orientation(bytes).is_some();
                footprint_of(p.bytes(bytes), ImageFormat::Jpeg, opts, turned)
            }
            Err(_) => 0,
        };
    }
    match image::guess_format(bytes) {
        Ok(ImageFormat::Tiff) => match crate::tiff::dimensions(bytes) {
            // libtiff's RGBA raster, then the RGB picture made from it.
            Some((w, h)) => {
                let turn = if exif_orientation(bytes).is_some() {
                    3
                } else {
                    0
                };
                (u64::from(w) * u64::from(h)).saturating_mul(4 + 3 + turn)
            }
            None => footprint_of(
                bytes,
                ImageFormat::Tiff,
                opts,
                exif_orientation(bytes).is_some(),
            ),
        },
        Ok(format) => footprint_of(bytes, format, opts, exif_orientation(bytes).is_some()),
        Err(_) => 0,
    }
}

/// [`footprint`] of a file in a format the `image` crate or libjpeg-turbo reads.
fn footprint_of(bytes: &[u8], format: ImageFormat, opts: DecodeOptions, turned: bool) -> u64 {
    use image::{ColorType, ImageDecoder};
    let (pixels, per_pixel) = if format == ImageFormat::Jpeg {
        // As the decoder reads it: a header with a warning (a bad ICC segment) still counts.
        let Some((width, height, colorspace, _)) = Turbo::new()
            .ok()
            .and_then(|mut d| d.read_header(bytes).ok())
        else {
            return 0;
        };
        let (w, h) = (u64::from(width), u64::from(height));
        if colorspace == turbojpeg::raw::TJCS_TJCS_CMYK as c_int
            || colorspace == turbojpeg::raw::TJCS_TJCS_YCCK as c_int
        {
            // The pure-Rust decoder, at full size: four channels, then RGB.
            (w * h, 4 + 3)
        } else {
            let denom = opts
                .min_short_side
                .map_or(1, |min| u64::from(dct_scale_for(width, height, min)));
            (w.div_ceil(denom) * h.div_ceil(denom), 3)
        }
    } else {
        let reader = image::ImageReader::with_format(Cursor::new(bytes), format);
        let Ok(decoder) = reader.into_decoder() else {
            return 0;
        };
        let (w, h) = decoder.dimensions();
        let color = decoder.color_type();
        let native = u64::from(color.bytes_per_pixel());
        let per_pixel = match color {
            ColorType::Rgb8 => native,
            // Converted to RGB by `to_rgb`, the decoder's pixels still held.
            ColorType::Rgba8
            | ColorType::L8
            | ColorType::La8
            | ColorType::Rgb16
            | ColorType::Rgba16
            | ColorType::L16
            | ColorType::La16 => native + 3,
            // Float layouts go through 8-bit RGBA first.
            _ => native + 4 + 3,
        };
        (u64::from(w) * u64::from(h), per_pixel)
    };
    let turn = if turned { 3 } else { 0 };
    pixels.saturating_mul(per_pixel + turn)
}

/// A JPEG cut short decodes with every row after the cut filled in flat by libjpeg-turbo (from
/// the last data it had), as a viewer shows it. Such a picture is usable, and indexed with a
/// note, when at least three quarters of its rows came out: CLIP looks at the centre of the
/// picture, and with at most the bottom quarter missing the subject is there. With less, the
/// embedding would describe the filler as much as the photo, so the file is refused as
/// truncated (a download or copy cut in half, say).
const USABLE_ROWS: (u32, u32) = (3, 4);

fn decode_jpeg_turbo(
    bytes: &[u8],
    opts: DecodeOptions,
    mut pixels: Vec<u8>,
) -> Result<(RgbImage, u32, u32, u32, Option<String>), JpegFailure> {
    let mut dec = Turbo::new().map_err(JpegFailure::Fallback)?;
    let (w, h, colorspace, header_warning) = dec
        .read_header(bytes)
        .map_err(|e| JpegFailure::Fatal(DecodeError::Corrupt(format!("JPEG header: {e}"))))?;
    let (w, h) = (u64::from(w), u64::from(h));
    check_pixels(w, h).map_err(JpegFailure::Fatal)?;
    if colorspace == turbojpeg::raw::TJCS_TJCS_CMYK as c_int
        || colorspace == turbojpeg::raw::TJCS_TJCS_YCCK as c_int
    {
        return Err(JpegFailure::Fallback("CMYK JPEG".into()));
    }
    let denom = match opts.min_short_side {
        Some(min) => dct_scale_for(w as u32, h as u32, min),
        None => 1,
    };
    // libjpeg-turbo rounds scaled sizes up (TJSCALED).
    let (sw, sh) = (w.div_ceil(u64::from(denom)), h.div_ceil(u64::from(denom)));
    let (sw, sh) = (sw as usize, sh as usize);
    // Not cleared first: the decoder writes every byte.
    pixels.resize(3 * sw * sh, 0);
    // A warning while reading the header (a bad ICC segment) is not repeated by decompress.
    let warning = dec
        .decompress(bytes, denom, &mut pixels, sw, sh)
        .map_err(JpegFailure::Fallback)?
        .or(header_warning);
    let img = RgbImage::from_raw(sw as u32, sh as u32, pixels).ok_or_else(|| {
        JpegFailure::Fatal(DecodeError::Corrupt("JPEG buffer size mismatch".into()))
    })?;
    let note = match warning {
        None => None,
        Some(msg) if msg.to_ascii_lowercase().contains("premature end") => {
            let missing = flat_bottom_rows(&img);
            let height = img.height();
            if (height - missing) * USABLE_ROWS.1 < height * USABLE_ROWS.0 {
                return Err(JpegFailure::Fatal(DecodeError::Truncated(format!(
                    "the file ends before the picture does ({}% of it is missing)",
                    percent(missing, height)
                ))));
            }
            Some(if missing == 0 {
                "damaged: the file ends before the picture does (some detail is missing)".into()
            } else {
                format!(
                    "damaged: the file ends before the picture does (the bottom {}% is flat)",
                    percent(missing, height).max(1)
                )
            })
        }
        Some(msg) => Some(format!("decoded with warnings: {msg}")),
    };
    Ok((img, w as u32, h as u32, denom, note))
}

/// `part` of `whole` in whole percent, rounded.
fn percent(part: u32, whole: u32) -> u64 {
    (u64::from(part) * 100 + u64::from(whole) / 2) / u64::from(whole.max(1))
}

/// How many rows at the bottom are one flat colour, the colour of the last pixel (what
/// libjpeg-turbo fills in after a cut). A photo whose own bottom is flat counts as missing
/// more than it is, which errs on the side of refusing.
fn flat_bottom_rows(img: &RgbImage) -> u32 {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return 0;
    }
    let last = img.get_pixel(w - 1, h - 1).0;
    let near = |p: &[u8; 3]| p.iter().zip(last).all(|(&a, b)| a.abs_diff(b) <= 2);
    (0..h)
        .rev()
        .take_while(|&y| (0..w).all(|x| near(&img.get_pixel(x, y).0)))
        .count() as u32
}

/// One TurboJPEG decompressor, used through its C API so that warnings (a picture came out,
/// the data was not all well formed) can be told from errors, which the `turbojpeg` crate's
/// wrapper reports alike.
struct Turbo(turbojpeg::raw::tjhandle);

impl Drop for Turbo {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed once.
        unsafe { turbojpeg::raw::tj3Destroy(self.0) }
    }
}

impl Turbo {
    fn new() -> Result<Self, String> {
        // SAFETY: plain constructor; a null handle is checked.
        let h =
            unsafe { turbojpeg::raw::tj3Init(turbojpeg::raw::TJINIT_TJINIT_DECOMPRESS as c_int) };
        if h.is_null() {
            return Err("libjpeg-turbo could not start a decompressor".into());
        }
        Ok(Turbo(h))
    }

    /// The last call's message, and whether it was only a warning.
    fn message(&self) -> (String, bool) {
        use turbojpeg::raw;
        // SAFETY: the handle is valid; the message is a NUL-terminated string it owns.
        unsafe {
            let msg = std::ffi::CStr::from_ptr(raw::tj3GetErrorStr(self.0))
                .to_string_lossy()
                .into_owned();
            let warning = raw::tj3GetErrorCode(self.0) == raw::TJERR_TJERR_WARNING as c_int;
            (msg, warning)
        }
    }

    /// Width, height and colour space (TJCS) from the header, and libjpeg-turbo's warning if
    /// it had one (e.g. "Corrupt JPEG data: bad ICC marker").
    fn read_header(&mut self, bytes: &[u8]) -> Result<(u32, u32, c_int, Option<String>), String> {
        use turbojpeg::raw;
        // SAFETY: `bytes` is valid for its length.
        let rc = unsafe { raw::tj3DecompressHeader(self.0, bytes.as_ptr(), bytes.len() as _) };
        let mut warned = None;
        if rc != 0 {
            match self.message() {
                (msg, true) => warned = Some(msg),
                (msg, false) => return Err(msg),
            }
        }
        // SAFETY: read-only parameters of a handle whose header was read.
        let (w, h, cs) = unsafe {
            (
                raw::tj3Get(self.0, raw::TJPARAM_TJPARAM_JPEGWIDTH as c_int),
                raw::tj3Get(self.0, raw::TJPARAM_TJPARAM_JPEGHEIGHT as c_int),
                raw::tj3Get(self.0, raw::TJPARAM_TJPARAM_COLORSPACE as c_int),
            )
        };
        match (u32::try_from(w), u32::try_from(h)) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h, cs, warned)),
            // No frame header (libjpeg-turbo reads a tables-only file without complaint), or
            // one so damaged that no size came out (its warning says why).
            _ => Err(warned.unwrap_or_else(|| "no picture in the file (no frame header)".into())),
        }
    }

    /// Decodes at 1/`denom` scale into `out` (`width` x `height` RGB, the scaled size); the
    /// picture came out when this is `Ok`, with libjpeg-turbo's last warning if it had one.
    fn decompress(
        &mut self,
        bytes: &[u8],
        denom: u32,
        out: &mut [u8],
        width: usize,
        height: usize,
    ) -> Result<Option<String>, String> {
        use turbojpeg::raw;
        let too_big = || "picture too large for libjpeg-turbo".to_owned();
        let pitch = c_int::try_from(3 * width).map_err(|_| too_big())?;
        let denom = c_int::try_from(denom).map_err(|_| too_big())?;
        if out.len() < 3 * width * height {
            return Err("output buffer too small".into());
        }
        // SAFETY: `out` holds `height` rows of `pitch` bytes, the scaled size libjpeg-turbo
        // writes for this scaling factor.
        let rc = unsafe {
            if raw::tj3SetScalingFactor(self.0, raw::tjscalingfactor { num: 1, denom }) != 0 {
                return Err(self.message().0);
            }
            raw::tj3Decompress8(
                self.0,
                bytes.as_ptr(),
                bytes.len() as _,
                out.as_mut_ptr(),
                pitch,
                raw::TJPF_TJPF_RGB,
            )
        };
        if rc == 0 {
            return Ok(None);
        }
        match self.message() {
            (msg, true) => Ok(Some(msg)),
            (msg, false) => Err(msg),
        }
    }
}

fn decode_generic(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, DecodeError> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    let (w, h) = match image::ImageReader::with_format(Cursor::new(bytes), format).into_dimensions()
    {
        Ok(d) => d,
        Err(e) => return Err(map_image_error(e)),
    };
    check_pixels(w as u64, h as u64)?;
    reader.decode().map_err(map_image_error)
}

fn map_image_error(e: image::ImageError) -> DecodeError {
    use image::ImageError as E;
    match e {
        E::Unsupported(u) => DecodeError::Unsupported(u.to_string()),
        E::Limits(l) => DecodeError::Corrupt(format!("exceeds decoding limits: {l}")),
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated(io.to_string())
        }
        E::IoError(io) => DecodeError::Corrupt(io.to_string()),
        E::Decoding(d) => {
            let msg = d.to_string();
            let lower = msg.to_ascii_lowercase();
            if lower.contains("eof") || lower.contains("end of") || lower.contains("truncat") {
                DecodeError::Truncated(msg)
            } else {
                DecodeError::Corrupt(msg)
            }
        }
        other => DecodeError::Corrupt(other.to_string()),
    }
}

/// Pillow's `Image.alpha_composite(white, rgba)` for one channel, integer for integer
/// (AlphaComposite.c with an opaque white destination).
#[inline]
fn over_white(c: u8, a: u8) -> u8 {
    const PRECISION_BITS: u32 = 7;
    if a == 0 {
        return 255;
    }
    let a = a as u32;
    let outa255 = a * 255 + 255 * (255 - a);
    let coef1 = a * 255 * 255 * (1 << PRECISION_BITS) / outa255;
    let coef2 = 255 * (1 << PRECISION_BITS) - coef1;
    let tmp = c as u32 * coef1 + 255 * coef2 + (0x80 << PRECISION_BITS);
    ((((tmp >> 8) + tmp) >> 8) >> PRECISION_BITS) as u8
}

/// Reduces any decoded layout to 8-bit RGB the way the reference does.
fn to_rgb(img: DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let from_fn =
        |f: &dyn Fn(u32, u32) -> [u8; 3]| RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)));
    match img {
        DynamicImage::ImageRgb8(i) => i,
        DynamicImage::ImageRgba8(i) => from_fn(&|x, y| {
            let p = i.get_pixel(x, y).0;
            [
                over_white(p[0], p[3]),
                over_white(p[1], p[3]),
                over_white(p[2], p[3]),
            ]
        }),
        DynamicImage::ImageLuma8(i) => from_fn(&|x, y| {
            let v = i.get_pixel(x, y).0[0];
            [v, v, v]
        }),
        DynamicImage::ImageLumaA8(i) => from_fn(&|x, y| {
            let [v, a] = i.get_pixel(x, y).0;
            let o = over_white(v, a);
            [o, o, o]
        }),
        // Pillow loads 16-bit PNG/TIFF samples by keeping the high byte.
        DynamicImage::ImageRgb16(i) => from_fn(&|x, y| {
            let p = i.get_pixel(x, y).0;
            [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8]
        }),
        DynamicImage::ImageRgba16(i) => from_fn(&|x, y| {
            let p = i.get_pixel(x, y).0;
            let a = (p[3] >> 8) as u8;
            [
                over_white((p[0] >> 8) as u8, a),
                over_white((p[1] >> 8) as u8, a),
                over_white((p[2] >> 8) as u8, a),
            ]
        }),
        DynamicImage::ImageLuma16(i) => from_fn(&|x, y| {
            let v = (i.get_pixel(x, y).0[0] >> 8) as u8;
            [v, v, v]
        }),
        DynamicImage::ImageLumaA16(i) => from_fn(&|x, y| {
            let [v, a] = i.get_pixel(x, y).0;
            let o = over_white((v >> 8) as u8, (a >> 8) as u8);
            [o, o, o]
        }),
        other => {
            // Float and other layouts: composite after converting to 8-bit RGBA.
            let rgba = other.to_rgba8();
            RgbImage::from_fn(w, h, |x, y| {
                let p = rgba.get_pixel(x, y).0;
                image::Rgb([
                    over_white(p[0], p[3]),
                    over_white(p[1], p[3]),
                    over_white(p[2], p[3]),
                ])
            })
        }
    }
}

/// A CMYK JPEG (stored as YCCK, as print workflows write them) of flat paper-white with a
/// black square, for tests of the path libjpeg-turbo refuses.
#[cfg(test)]
pub(crate) fn cmyk_jpeg(width: usize, height: usize) -> Vec<u8> {
    // Adobe's inverted convention, which readers assume for 4-channel JPEGs: 255 = no ink.
    let mut pixels = vec![255u8; width * height * 4];
    for (i, px) in pixels.chunks_exact_mut(4).enumerate() {
        let (x, y) = (i % width, i / width);
        if x < width / 2 && y < height / 2 {
            // Full black ink.
            px[3] = 0;
        }
    }
    let mut c = turbojpeg::Compressor::new().expect("compressor");
    c.set_quality(95).expect("quality");
    c.set_subsamp(turbojpeg::Subsamp::None)
        .expect("subsampling");
    c.compress_to_vec(turbojpeg::Image {
        pixels: pixels.as_slice(),
        width,
        pitch: width * 4,
        height,
        format: turbojpeg::PixelFormat::CMYK,
    })
    .expect("CMYK JPEG")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jpeg_libjpeg_turbo_refuses_is_read_by_the_fallback_and_says_so() {
        let bytes = cmyk_jpeg(64, 48);
        let d = decode_bytes(&bytes, DecodeOptions::for_model(16)).unwrap();
        assert_eq!((d.format, d.width, d.height), ("jpeg", 64, 48));
        assert_eq!(
            d.image.dimensions(),
            (64, 48),
            "the fallback does not DCT-scale"
        );
        assert!(d.fallback && !d.reoriented);
        assert!(!d.viewers_see_it_as_decoded());
        // The pixels are what the file holds, not garbage: a dark corner on a light page.
        let dark = d.image.get_pixel(8, 8);
        let light = d.image.get_pixel(56, 40);
        assert!(dark.0.iter().all(|&c| c < 64), "{dark:?}");
        assert!(light.0.iter().all(|&c| c > 192), "{light:?}");

        let plain = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/images/jpeg_baseline.jpg"),
        )
        .unwrap();
        let d = decode_bytes(&plain, DecodeOptions::for_model(224)).unwrap();
        assert!(!d.fallback && d.viewers_see_it_as_decoded());
    }

    #[test]
    fn alpha_over_white_matches_pillow_endpoints() {
        assert_eq!(over_white(0, 255), 0);
        assert_eq!(over_white(200, 255), 200);
        assert_eq!(over_white(0, 0), 255);
        // Half-transparent black over white is mid-grey.
        let half = over_white(0, 128);
        assert!((126..=128).contains(&half), "{half}");
    }

    #[test]
    fn dct_scale_keeps_the_short_side_twice_the_model_size() {
        assert_eq!(dct_scale_for(400, 300, 224), 1);
        assert_eq!(dct_scale_for(640, 480, 224), 1); // 240 px at 1/2: too close to 224
        assert_eq!(dct_scale_for(1000, 894, 224), 1); // 447 px at 1/2
        assert_eq!(dct_scale_for(1000, 896, 224), 2); // 448 px
        assert_eq!(dct_scale_for(4000, 3000, 224), 4); // 750 px; 375 px at 1/8
        assert_eq!(dct_scale_for(2400, 1800, 224), 4); // 450 px
        assert_eq!(dct_scale_for(1600, 1200, 224), 2); // 600 px
        assert_eq!(dct_scale_for(6000, 4000, 224), 8); // 500 px
        assert_eq!(dct_scale_for(60_000, 4, 224), 1);
        for (w, h) in [(4000u32, 3000u32), (1001, 900), (5000, 460), (9000, 7000)] {
            let d = dct_scale_for(w, h, 224);
            assert!(w.min(h).div_ceil(d) >= 448, "{w}x{h} at 1/{d}");
            // And no coarser scale would have kept it so.
            if d < 8 {
                assert!(w.min(h).div_ceil(2 * d) < 448, "{w}x{h} at 1/{d}");
            }
        }
    }

    #[test]
    fn the_footprint_counts_what_each_decoder_allocates() {
        let png = |img: DynamicImage| {
            let mut out = Vec::new();
            img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
                .unwrap();
            out
        };
        let full = DecodeOptions::full();
        // RGB: the decoder's pixels are the picture.
        let rgb = png(DynamicImage::new_rgb8(300, 200));
        assert_eq!(footprint(&rgb, full), 300 * 200 * 3);
        // RGBA and 16-bit RGBA: the decoder's pixels, then the RGB copy beside them.
        let rgba = png(DynamicImage::new_rgba8(300, 200));
        assert_eq!(footprint(&rgba, full), 300 * 200 * (4 + 3));
        let rgba16 = png(DynamicImage::new_rgba16(300, 200));
        assert_eq!(footprint(&rgba16, full), 300 * 200 * (8 + 3));
        // A JPEG decoded DCT-scaled for the model takes the scaled size.
        let jpeg =
            turbojpeg::compress_image(&RgbImage::new(4000, 3000), 80, turbojpeg::Subsamp::Sub2x2)
                .unwrap();
        assert_eq!(footprint(&jpeg, full), 4000 * 3000 * 3);
        let d = decode_bytes(&jpeg, DecodeOptions::for_model(224)).unwrap();
        assert!(d.dct_scale > 1);
        assert_eq!(
            footprint(&jpeg, DecodeOptions::for_model(224)),
            d.image.as_raw().len() as u64
        );
        assert_eq!(footprint(b"not a picture", full), 0);
        // A JPEG libjpeg-turbo reads with a warning in its header counts like any other.
        let icc = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/odd/jpeg_bad_icc.jpg"),
        )
        .unwrap();
        let d = decode_bytes(&icc, full).unwrap();
        assert!(d.note.is_some());
        assert_eq!(footprint(&icc, full), d.image.as_raw().len() as u64);
        // A TIFF the pure-Rust decoder cannot read (Fax4): libtiff's raster, then RGB.
        let fax = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/odd/tiff_fax4.tif"),
        )
        .unwrap();
        let d = decode_bytes(&fax, full).unwrap();
        let (w, h) = (u64::from(d.width), u64::from(d.height));
        assert_eq!(crate::tiff::dimensions(&fax), Some((d.width, d.height)));
        assert_eq!(footprint(&fax, full), w * h * (4 + 3));
        // A HEIC, sized from its container through libheif.
        #[cfg(feature = "heif")]
        {
            let heic = std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/fixtures/formats/photo.heic"),
            )
            .unwrap();
            let d = decode_bytes(&heic, full).unwrap();
            let (w, h) = (u64::from(d.width), u64::from(d.height));
            assert_eq!(crate::heif::dimensions(&heic), Some((d.width, d.height)));
            assert_eq!(footprint(&heic, full), w * h * 9);
        }
    }

    #[test]
    fn only_the_layouts_the_image_crate_refuses_are_rewritten() {
        // A GIF with a global palette and a Windows BMP pass through untouched.
        let mut gif = b"GIF89a\x02\0\x02\0\x80\0\0".to_vec();
        gif.extend_from_slice(&[0; 6]);
        assert!(matches!(
            readable_layout(&gif, ImageFormat::Gif),
            Cow::Borrowed(_)
        ));
        // Without one, a grey palette goes in right after the screen descriptor.
        gif[10] = 0;
        let grey = readable_layout(&gif, ImageFormat::Gif);
        assert_eq!(grey.len(), gif.len() + 768);
        assert_eq!(grey[10], 0x87);
        assert_eq!(&grey[13 + 3 * 200..13 + 3 * 201], &[200, 200, 200]);

        // An OS/2 2.x header (64 bytes) becomes a Windows one (40), the pixels move with it.
        let os2 = |compression: u32| {
            let mut b = b"BM".to_vec();
            b.extend_from_slice(&(14u32 + 64 + 4).to_le_bytes());
            b.extend_from_slice(&[0; 4]);
            b.extend_from_slice(&(14u32 + 64).to_le_bytes());
            let mut info = [0u8; 64];
            info[..4].copy_from_slice(&64u32.to_le_bytes());
            info[4..8].copy_from_slice(&1u32.to_le_bytes());
            info[8..12].copy_from_slice(&1u32.to_le_bytes());
            info[12..14].copy_from_slice(&1u16.to_le_bytes());
            info[14..16].copy_from_slice(&24u16.to_le_bytes());
            info[16..20].copy_from_slice(&compression.to_le_bytes());
            b.extend_from_slice(&info);
            b.extend_from_slice(&[10, 20, 30, 0]);
            b
        };
        let plain = os2(0);
        let windows = readable_layout(&plain, ImageFormat::Bmp);
        assert_eq!(windows.len(), 14 + 40 + 4);
        assert_eq!(&windows[14..18], &40u32.to_le_bytes());
        assert_eq!(&windows[10..14], &54u32.to_le_bytes());
        assert_eq!(&windows[54..], &[10, 20, 30, 0]);
        let px = decode_bytes(&plain, DecodeOptions::full()).unwrap();
        assert_eq!(px.image.get_pixel(0, 0).0, [30, 20, 10]);
        // OS/2's own Huffman compression (3) means bit fields to Windows: left alone.
        assert!(matches!(
            readable_layout(&os2(3), ImageFormat::Bmp),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn garbage_is_not_an_image_and_empty_is_empty() {
        assert!(matches!(
            decode_bytes(b"hello, I am text", DecodeOptions::full()),
            Err(DecodeError::NotAnImage)
        ));
        assert!(matches!(
            decode_bytes(b"", DecodeOptions::full()),
            Err(DecodeError::Empty)
        ));
    }
}
