//! HEIC/HEIF and AVIF photos (what phones write) through the system's libheif, loaded at run
//! time. Debian 12 ships libheif 1.15, older than the `libheif-rs` crate supports (1.17), and
//! loading the library instead of linking it means a machine without libheif still builds and
//! runs Glimpse: its HEIC files are then reported as unsupported, with the reason, by `status`.
//!
//! Only the stable core of the C API is used (context, primary image, decode to interleaved
//! RGB), which libheif has kept since 1.x. libheif applies the file's rotation and mirroring
//! (`irot`/`imir`) while decoding, so the picture comes back upright.

use image::RgbImage;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// Why a HEIF file could not be decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeifError {
    /// libheif is not installed (or too old to have what is needed).
    #[error("HEIC/AVIF needs libheif, which could not be loaded: {0}")]
    Missing(String),
    /// libheif refused the file.
    #[error("{0}")]
    Decode(String),
    /// The picture is larger than the pixel limit.
    #[error("image too large: {width}x{height} pixels")]
    TooLarge {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawError {
    code: c_int,
    subcode: c_int,
    message: *const c_char,
}

type Ctx = c_void;
type Handle = c_void;
type Img = c_void;

const COLORSPACE_RGB: c_int = 1;
const CHROMA_INTERLEAVED_RGB: c_int = 10;
const CHANNEL_INTERLEAVED: c_int = 10;

/// The libheif functions Glimpse calls.
struct Api {
    _lib: libloading::Library,
    context_alloc: unsafe extern "C" fn() -> *mut Ctx,
    context_free: unsafe extern "C" fn(*mut Ctx),
    read_from_memory:
        unsafe extern "C" fn(*mut Ctx, *const c_void, usize, *const c_void) -> RawError,
    primary_handle: unsafe extern "C" fn(*mut Ctx, *mut *mut Handle) -> RawError,
    handle_width: unsafe extern "C" fn(*const Handle) -> c_int,
    handle_height: unsafe extern "C" fn(*const Handle) -> c_int,
    handle_release: unsafe extern "C" fn(*const Handle),
    decode:
        unsafe extern "C" fn(*const Handle, *mut *mut Img, c_int, c_int, *const c_void) -> RawError,
    image_width: unsafe extern "C" fn(*const Img, c_int) -> c_int,
    image_height: unsafe extern "C" fn(*const Img, c_int) -> c_int,
    plane: unsafe extern "C" fn(*const Img, c_int, *mut c_int) -> *const u8,
    image_release: unsafe extern "C" fn(*const Img),
}

/// The names libheif's shared library goes by, per platform.
const LIBRARY_NAMES: &[&str] = &[
    "libheif.so.1",
    "libheif.so",
    "libheif.1.dylib",
    "libheif.dylib",
    "heif.dll",
    "libheif.dll",
];

fn bind(lib: libloading::Library) -> Result<Api, libloading::Error> {
    // SAFETY: the signatures are libheif's public C API (heif.h, stable since 1.x).
    unsafe {
        Ok(Api {
            context_alloc: *lib.get(b"heif_context_alloc")?,
            context_free: *lib.get(b"heif_context_free")?,
            read_from_memory: *lib.get(b"heif_context_read_from_memory_without_copy")?,
            primary_handle: *lib.get(b"heif_context_get_primary_image_handle")?,
            handle_width: *lib.get(b"heif_image_handle_get_width")?,
            handle_height: *lib.get(b"heif_image_handle_get_height")?,
            handle_release: *lib.get(b"heif_image_handle_release")?,
            decode: *lib.get(b"heif_decode_image")?,
            image_width: *lib.get(b"heif_image_get_width")?,
            image_height: *lib.get(b"heif_image_get_height")?,
            plane: *lib.get(b"heif_image_get_plane_readonly")?,
            image_release: *lib.get(b"heif_image_release")?,
            _lib: lib,
        })
    }
}

fn api() -> Result<&'static Api, HeifError> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    crate::dylib::load_once(&API, LIBRARY_NAMES, bind).map_err(|e| HeifError::Missing(e.to_owned()))
}

/// Whether libheif can be loaded on this machine (the scan reports HEIC/AVIF as unsupported
/// when it cannot).
pub(crate) fn available() -> bool {
    api().is_ok()
}

/// An ISO-BMFF file whose brand is a HEIF or AVIF one.
pub(crate) fn is_heif(bytes: &[u8]) -> bool {
    const BRANDS: &[&[u8; 4]] = &[
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis",
    ];
    bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && BRANDS.iter().any(|b| &bytes[8..12] == *b)
}

fn check(e: RawError) -> Result<(), HeifError> {
    if e.code == 0 {
        return Ok(());
    }
    let msg = if e.message.is_null() {
        format!("libheif error {}/{}", e.code, e.subcode)
    } else {
        // SAFETY: libheif's messages are static NUL-terminated strings.
        // libheif ends some messages with a newline.
        unsafe { CStr::from_ptr(e.message) }
            .to_string_lossy()
            .trim_end()
            .to_owned()
    };
    Err(HeifError::Decode(msg))
}

/// Frees what it holds when dropped, so every early return releases libheif's objects.
struct Guard<'a> {
    api: &'a Api,
    ctx: *mut Ctx,
    handle: *mut Handle,
    img: *mut Img,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or owned by this guard.
        unsafe {
            if !self.img.is_null() {
                (self.api.image_release)(self.img);
            }
            if !self.handle.is_null() {
                (self.api.handle_release)(self.handle);
            }
            if !self.ctx.is_null() {
                (self.api.context_free)(self.ctx);
            }
        }
    }
}

/// The primary picture's size from the container, without decoding it: for the decode memory
/// budget ([`crate::decode::footprint`]). `None` without libheif or a readable size.
pub(crate) fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let g = open_primary(api().ok()?, bytes).ok()?;
    // SAFETY: the handle is valid while the guard lives.
    let (w, h) = unsafe {
        (
            (g.api.handle_width)(g.handle),
            (g.api.handle_height)(g.handle),
        )
    };
    Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
}

/// A context over `bytes` (read without copy: they must outlive the guard) with its primary
/// picture's handle, released by the guard.
fn open_primary<'a>(api: &'a Api, bytes: &[u8]) -> Result<Guard<'a>, HeifError> {
    // SAFETY: all calls follow heif.h; the guard frees what they allocate.
    unsafe {
        let mut g = Guard {
            api,
            ctx: (api.context_alloc)(),
            handle: std::ptr::null_mut(),
            img: std::ptr::null_mut(),
        };
        if g.ctx.is_null() {
            return Err(HeifError::Decode(
                "libheif could not allocate a context".into(),
            ));
        }
        check((api.read_from_memory)(
            g.ctx,
            bytes.as_ptr().cast(),
            bytes.len(),
            std::ptr::null(),
        ))?;
        check((api.primary_handle)(g.ctx, &mut g.handle))?;
        Ok(g)
    }
}

/// Decodes the primary picture of a HEIF/AVIF file to upright RGB; `max_pixels` is checked on
/// the header before anything is decoded.
pub(crate) fn decode(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, HeifError> {
    let api = api()?;
    // `bytes` outlives the context, which the guard frees before this function returns.
    let mut g = open_primary(api, bytes)?;
    // SAFETY: all calls follow heif.h on the guard's valid context and handle.
    unsafe {
        let (w, h) = ((api.handle_width)(g.handle), (api.handle_height)(g.handle));
        let (w, h) = (u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0));
        if u64::from(w) * u64::from(h) > max_pixels {
            return Err(HeifError::TooLarge {
                width: w,
                height: h,
            });
        }
        check((api.decode)(
            g.handle,
            &mut g.img,
            COLORSPACE_RGB,
            CHROMA_INTERLEAVED_RGB,
            std::ptr::null(),
        ))?;
        let width = (api.image_width)(g.img, CHANNEL_INTERLEAVED);
        let height = (api.image_height)(g.img, CHANNEL_INTERLEAVED);
        let mut stride: c_int = 0;
        let plane = (api.plane)(g.img, CHANNEL_INTERLEAVED, &mut stride);
        let (Ok(width), Ok(height), Ok(stride)) = (
            usize::try_from(width),
            usize::try_from(height),
            usize::try_from(stride),
        ) else {
            return Err(HeifError::Decode("libheif returned no image".into()));
        };
        if plane.is_null() || width == 0 || height == 0 || stride < 3 * width {
            return Err(HeifError::Decode("libheif returned no image".into()));
        }
        let src = std::slice::from_raw_parts(plane, stride * (height - 1) + 3 * width);
        let mut out = Vec::with_capacity(3 * width * height);
        for row in src.chunks(stride).take(height) {
            out.extend_from_slice(&row[..3 * width]);
        }
        RgbImage::from_raw(width as u32, height as u32, out)
            .ok_or_else(|| HeifError::Decode("libheif returned a short image".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brands_are_recognised() {
        assert!(is_heif(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"));
        assert!(is_heif(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1"));
        assert!(!is_heif(b"\0\0\0\x18ftypcrx \0\0\0\x01"));
        assert!(!is_heif(b"\xff\xd8\xff"));
    }
}
