//! TIFF files as scanners, archives and microscopes write them, through the system's libtiff
//! (Debian: libtiff6), loaded at run time like libheif. The pure-Rust decoder of the `image`
//! crate reads plain RGB and grey TIFFs, but not YCbCr or JPEG-compressed strips and tiles,
//! CIELab, 1/2/4-bit grey, Fax3/Fax4 or LZMA, which every viewer built on libtiff shows.
//!
//! Only libtiff's long-stable core is used: a client-opened file over the bytes in memory
//! (`TIFFClientOpen`), its tags, and the RGBA interface (`TIFFReadRGBAImageOriented`), which
//! turns every photometric interpretation, bit depth and compression libtiff knows into 8-bit
//! RGBA. What that interface refuses and a viewer still shows (12-bit grey) is read by
//! scanline here. libtiff's error and warning handlers are replaced once, so libtiff never
//! prints: errors become the reason shown beside the file, warnings go to `tracing`.

use image::RgbImage;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// Why a TIFF file could not be decoded through libtiff.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TiffError {
    /// libtiff is not installed on this machine.
    #[error("libtiff could not be loaded: {0}")]
    Missing(String),
    /// libtiff refused the file, or a layout it cannot turn into RGB.
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

type Tiff = c_void;
type ErrorHandler = unsafe extern "C" fn(*const c_char, *const c_char, *mut c_void);
type ReadProc = unsafe extern "C" fn(*mut c_void, *mut c_void, isize) -> isize;
type SeekProc = unsafe extern "C" fn(*mut c_void, u64, c_int) -> u64;
type CloseProc = unsafe extern "C" fn(*mut c_void) -> c_int;
type SizeProc = unsafe extern "C" fn(*mut c_void) -> u64;
type MapProc = unsafe extern "C" fn(*mut c_void, *mut *mut c_void, *mut u64) -> c_int;
type UnmapProc = unsafe extern "C" fn(*mut c_void, *mut c_void, u64);

const TAG_IMAGEWIDTH: u32 = 256;
const TAG_IMAGELENGTH: u32 = 257;
const TAG_BITSPERSAMPLE: u32 = 258;
const TAG_PHOTOMETRIC: u32 = 262;
const TAG_ORIENTATION: u32 = 274;
const TAG_SAMPLESPERPIXEL: u32 = 277;
const TAG_PLANARCONFIG: u32 = 284;
const TAG_SAMPLEFORMAT: u32 = 339;
const PHOTOMETRIC_MINISWHITE: u16 = 0;
const PHOTOMETRIC_MINISBLACK: u16 = 1;
const PHOTOMETRIC_RGB: u16 = 2;
const PLANARCONFIG_CONTIG: u16 = 1;
const SAMPLEFORMAT_INT: u16 = 2;

/// The libtiff functions Glimpse calls.
struct Api {
    _lib: libloading::Library,
    #[allow(clippy::type_complexity)]
    client_open: unsafe extern "C" fn(
        *const c_char,
        *const c_char,
        *mut c_void,
        ReadProc,
        ReadProc,
        SeekProc,
        CloseProc,
        SizeProc,
        MapProc,
        UnmapProc,
    ) -> *mut Tiff,
    close: unsafe extern "C" fn(*mut Tiff),
    get_field_defaulted: unsafe extern "C" fn(*mut Tiff, u32, ...) -> c_int,
    rgba_ok: unsafe extern "C" fn(*mut Tiff, *mut c_char) -> c_int,
    read_rgba_oriented: unsafe extern "C" fn(*mut Tiff, u32, u32, *mut u32, c_int, c_int) -> c_int,
    is_tiled: unsafe extern "C" fn(*mut Tiff) -> c_int,
    scanline_size: unsafe extern "C" fn(*mut Tiff) -> isize,
    read_scanline: unsafe extern "C" fn(*mut Tiff, *mut c_void, u32, u16) -> c_int,
}

/// The names libtiff's shared library goes by, per platform.
const LIBRARY_NAMES: &[&str] = &[
    "libtiff.so.6",
    "libtiff.so.5",
    "libtiff.so",
    "libtiff.6.dylib",
    "libtiff.dylib",
    "tiff.dll",
    "libtiff.dll",
    "libtiff-6.dll",
];

extern "C" {
    // The C library's, to format libtiff's messages (`va_list` travels as a pointer on the
    // platforms Glimpse builds for: an array type on x86-64 System V, a pointer elsewhere, a
    // large struct passed by reference on AArch64 Linux).
    fn vsnprintf(buf: *mut c_char, len: usize, fmt: *const c_char, args: *mut c_void) -> c_int;
}

thread_local! {
    /// libtiff's last error on this thread (its handler is process-wide, its calls are not).
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Formats one libtiff message: its text, and the libtiff function it came from (for logs).
///
/// # Safety
/// `module` is null or a C string, `fmt` a C format string and `args` its `va_list`.
unsafe fn format_message(
    module: *const c_char,
    fmt: *const c_char,
    args: *mut c_void,
) -> (String, String) {
    let mut buf = [0 as c_char; 512];
    let text = if fmt.is_null() {
        String::new()
    } else {
        vsnprintf(buf.as_mut_ptr(), buf.len(), fmt, args);
        // vsnprintf always terminates within `len`.
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    };
    let module = if module.is_null() {
        String::new()
    } else {
        CStr::from_ptr(module).to_string_lossy().into_owned()
    };
    (text.trim_end().to_owned(), module)
}

unsafe extern "C" fn on_error(module: *const c_char, fmt: *const c_char, args: *mut c_void) {
    let (msg, module) = format_message(module, fmt, args);
    tracing::debug!(%module, %msg, "libtiff error");
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        // The first error says why; later ones are consequences.
        if e.is_none() {
            *e = Some(msg);
        }
    });
}

unsafe extern "C" fn on_warning(module: *const c_char, fmt: *const c_char, args: *mut c_void) {
    let (msg, module) = format_message(module, fmt, args);
    tracing::debug!(%module, %msg, "libtiff warning");
}

fn bind(lib: libloading::Library) -> Result<Api, libloading::Error> {
    // SAFETY: the signatures are libtiff's public C API (tiffio.h, stable since 4.0).
    unsafe {
        type SetHandler = unsafe extern "C" fn(Option<ErrorHandler>) -> Option<ErrorHandler>;
        let set_error: SetHandler = *lib.get(b"TIFFSetErrorHandler")?;
        let set_warning: SetHandler = *lib.get(b"TIFFSetWarningHandler")?;
        let api = Api {
            client_open: *lib.get(b"TIFFClientOpen")?,
            close: *lib.get(b"TIFFClose")?,
            get_field_defaulted: *lib.get(b"TIFFGetFieldDefaulted")?,
            rgba_ok: *lib.get(b"TIFFRGBAImageOK")?,
            read_rgba_oriented: *lib.get(b"TIFFReadRGBAImageOriented")?,
            is_tiled: *lib.get(b"TIFFIsTiled")?,
            scanline_size: *lib.get(b"TIFFScanlineSize")?,
            read_scanline: *lib.get(b"TIFFReadScanline")?,
            _lib: lib,
        };
        set_error(Some(on_error));
        set_warning(Some(on_warning));
        Ok(api)
    }
}

fn api() -> Result<&'static Api, TiffError> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    crate::dylib::load_once(&API, LIBRARY_NAMES, bind).map_err(|e| TiffError::Missing(e.to_owned()))
}

/// Whether libtiff can be loaded on this machine (without it, TIFFs go to the pure-Rust
/// decoder, which reads fewer of them).
pub(crate) fn available() -> bool {
    api().is_ok()
}

/// The bytes libtiff reads, as its client data.
struct Memory<'a> {
    data: &'a [u8],
    pos: u64,
}

unsafe extern "C" fn mem_read(handle: *mut c_void, buf: *mut c_void, size: isize) -> isize {
    // SAFETY: `handle` is the `Memory` passed to TIFFClientOpen, alive until TIFFClose; libtiff
    // gives a buffer of `size` bytes.
    let m = &mut *handle.cast::<Memory>();
    let Ok(want) = usize::try_from(size) else {
        return -1;
    };
    let start = usize::try_from(m.pos)
        .unwrap_or(usize::MAX)
        .min(m.data.len());
    let n = want.min(m.data.len() - start);
    std::ptr::copy_nonoverlapping(m.data.as_ptr().add(start), buf.cast::<u8>(), n);
    m.pos = (start + n) as u64;
    n as isize
}

unsafe extern "C" fn mem_write(_: *mut c_void, _: *mut c_void, _: isize) -> isize {
    -1
}

unsafe extern "C" fn mem_seek(handle: *mut c_void, offset: u64, whence: c_int) -> u64 {
    // SAFETY: as in `mem_read`.
    let m = &mut *handle.cast::<Memory>();
    let base = match whence {
        0 => 0,
        1 => m.pos,
        2 => m.data.len() as u64,
        _ => return u64::MAX,
    };
    // SEEK_CUR/SEEK_END offsets arrive as two's-complement in an unsigned type.
    let new = base.wrapping_add(offset);
    if whence != 0 && (offset as i64) < 0 && new > base {
        return u64::MAX;
    }
    m.pos = new;
    new
}

unsafe extern "C" fn mem_close(_: *mut c_void) -> c_int {
    0
}

unsafe extern "C" fn mem_size(handle: *mut c_void) -> u64 {
    // SAFETY: as in `mem_read`.
    let m = &*handle.cast::<Memory>();
    m.data.len() as u64
}

unsafe extern "C" fn mem_map(_: *mut c_void, _: *mut *mut c_void, _: *mut u64) -> c_int {
    0
}

unsafe extern "C" fn mem_unmap(_: *mut c_void, _: *mut c_void, _: u64) {}

/// Closes the file when dropped, so every early return releases libtiff's state.
struct Open<'a> {
    api: &'a Api,
    tif: *mut Tiff,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        // SAFETY: `tif` came from TIFFClientOpen and is closed once.
        unsafe { (self.api.close)(self.tif) }
    }
}

impl Open<'_> {
    fn u16_tag(&self, tag: u32) -> Option<u16> {
        let mut v: u16 = 0;
        // SAFETY: these tags take one uint16* (tiffio.h).
        let ok = unsafe { (self.api.get_field_defaulted)(self.tif, tag, &mut v as *mut u16) };
        (ok == 1).then_some(v)
    }

    fn u32_tag(&self, tag: u32) -> Option<u32> {
        let mut v: u32 = 0;
        // SAFETY: the size tags take one uint32* (tiffio.h).
        let ok = unsafe { (self.api.get_field_defaulted)(self.tif, tag, &mut v as *mut u32) };
        (ok == 1).then_some(v)
    }
}

fn take_error(fallback: &str) -> String {
    LAST_ERROR
        .with(|e| e.borrow_mut().take())
        .unwrap_or_else(|| fallback.to_owned())
}

/// The first page's size from its tags, for the decode memory budget
/// ([`crate::decode::footprint`]): libtiff reads the headers of TIFFs whose pixels the
/// pure-Rust decoder cannot, and decodes them. `None` without libtiff or a readable size.
pub(crate) fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let api = api().ok()?;
    let mut memory = Memory {
        data: bytes,
        pos: 0,
    };
    // SAFETY: `memory` outlives the open file (closed by the guard before it goes).
    let tif = unsafe { client_open(api, &mut memory) };
    if tif.is_null() {
        LAST_ERROR.with(|e| e.borrow_mut().take());
        return None;
    }
    let file = Open { api, tif };
    Some((
        file.u32_tag(TAG_IMAGEWIDTH)?,
        file.u32_tag(TAG_IMAGELENGTH)?,
    ))
}

/// Opens `memory` read-only with libtiff; null when libtiff refuses it (its reason is then in
/// `LAST_ERROR`).
///
/// # Safety
/// `memory` must stay valid until the returned file is closed.
unsafe fn client_open(api: &Api, memory: *mut Memory) -> *mut Tiff {
    (api.client_open)(
        c"memory".as_ptr(),
        c"rm".as_ptr(),
        memory.cast(),
        mem_read,
        mem_write,
        mem_seek,
        mem_close,
        mem_size,
        mem_map,
        mem_unmap,
    )
}

/// Decodes the first page of a TIFF file to RGB in stored order (the caller applies the
/// orientation tag, as for every other format); `max_pixels` is checked on the tags before
/// anything is allocated. Alpha is composited onto white.
pub(crate) fn decode(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, TiffError> {
    let api = api()?;
    LAST_ERROR.with(|e| e.borrow_mut().take());
    let mut memory = Memory {
        data: bytes,
        pos: 0,
    };
    // SAFETY: `memory` outlives the open file (closed by the guard at the end of this
    // function); the callbacks match tiffio.h's TIFFClientOpen.
    let tif = unsafe { client_open(api, &mut memory) };
    if tif.is_null() {
        return Err(TiffError::Decode(take_error(
            "libtiff cannot open this file",
        )));
    }
    let file = Open { api, tif };
    let (Some(width), Some(height)) = (file.u32_tag(TAG_IMAGEWIDTH), file.u32_tag(TAG_IMAGELENGTH))
    else {
        return Err(TiffError::Decode("the TIFF has no picture size".into()));
    };
    if width == 0 || height == 0 {
        return Err(TiffError::Decode("the TIFF's picture is 0 pixels".into()));
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(TiffError::TooLarge { width, height });
    }
    let bits = file.u16_tag(TAG_BITSPERSAMPLE).unwrap_or(1);
    let photometric = file.u16_tag(TAG_PHOTOMETRIC);
    let samples = file.u16_tag(TAG_SAMPLESPERPIXEL).unwrap_or(1);
    let planar = file
        .u16_tag(TAG_PLANARCONFIG)
        .unwrap_or(PLANARCONFIG_CONTIG);
    let signed = file.u16_tag(TAG_SAMPLEFORMAT) == Some(SAMPLEFORMAT_INT);
    let mut why = [0 as c_char; 1024];
    // SAFETY: TIFFRGBAImageOK writes at most 1024 bytes of message.
    let rgba_ok = unsafe { (api.rgba_ok)(file.tif, why.as_mut_ptr()) } == 1;
    if !rgba_ok {
        // SAFETY: the message is NUL-terminated within the buffer.
        let why = unsafe { CStr::from_ptr(why.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        let grey = matches!(
            photometric,
            Some(PHOTOMETRIC_MINISBLACK | PHOTOMETRIC_MINISWHITE)
        );
        if bits == 12 && samples == 1 && grey && planar == PLANARCONFIG_CONTIG {
            return read_grey12(
                &file,
                width,
                height,
                photometric == Some(PHOTOMETRIC_MINISWHITE),
            );
        }
        return Err(TiffError::Decode(why));
    }
    let pixels = width as usize * height as usize;
    let mut raster = vec![0u32; pixels];
    // Asked for the file's own orientation, libtiff neither flips nor turns the picture: the
    // caller applies the tag for every format alike.
    let orientation = file.u16_tag(TAG_ORIENTATION).unwrap_or(1);
    // SAFETY: `raster` holds width x height pixels.
    let ok = unsafe {
        (api.read_rgba_oriented)(
            file.tif,
            width,
            height,
            raster.as_mut_ptr(),
            c_int::from(orientation),
            1,
        )
    };
    if ok != 1 {
        return Err(TiffError::Decode(take_error(
            "libtiff could not read the picture",
        )));
    }
    // Signed samples come out as their two's-complement bytes; a viewer shows the range
    // -128..127 as black..white, which is the byte with its top bit flipped (for 16-bit samples
    // libtiff keeps the high byte, for which the same holds). Only grey and RGB samples are
    // values; palettes and the other colour models are left as libtiff converted them.
    let flip = if signed
        && matches!(
            photometric,
            Some(PHOTOMETRIC_MINISBLACK | PHOTOMETRIC_MINISWHITE | PHOTOMETRIC_RGB)
        ) {
        0x80
    } else {
        0
    };
    let mut out = Vec::with_capacity(pixels * 3);
    for abgr in raster {
        let [r, g, b, a] = abgr.to_le_bytes();
        // libtiff's RGBA is premultiplied by alpha: over white adds the uncovered part.
        let white = 255 - a;
        for c in [r, g, b] {
            out.push((c ^ flip).saturating_add(white));
        }
    }
    RgbImage::from_raw(width, height, out)
        .ok_or_else(|| TiffError::Decode("libtiff returned a short image".into()))
}

/// 12-bit grey (scientific and medical cameras), which libtiff's RGBA interface refuses: read
/// by scanline, each sample reduced to its top 8 bits as for 16-bit samples.
fn read_grey12(
    file: &Open<'_>,
    width: u32,
    height: u32,
    min_is_white: bool,
) -> Result<RgbImage, TiffError> {
    // SAFETY: plain queries on an open file.
    let (tiled, line) = unsafe {
        (
            (file.api.is_tiled)(file.tif) != 0,
            (file.api.scanline_size)(file.tif),
        )
    };
    let need = (width as usize * 12).div_ceil(8);
    let Ok(line) = usize::try_from(line) else {
        return Err(TiffError::Decode(take_error("bad TIFF scanline size")));
    };
    if tiled || line < need {
        return Err(TiffError::Decode(
            "12-bit TIFF in tiles is not supported".into(),
        ));
    }
    let mut buf = vec![0u8; line];
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for row in 0..height {
        // SAFETY: `buf` holds one scanline.
        let ok = unsafe { (file.api.read_scanline)(file.tif, buf.as_mut_ptr().cast(), row, 0) };
        if ok != 1 {
            return Err(TiffError::Decode(take_error(
                "libtiff could not read the picture",
            )));
        }
        for x in 0..width as usize {
            // Two samples in three bytes, most significant bits first.
            let bit = x * 12;
            let (i, shift) = (bit / 8, bit % 8);
            let word = (u16::from(buf[i]) << 8) | u16::from(buf.get(i + 1).copied().unwrap_or(0));
            let v12 = (word >> (4 - shift)) & 0x0FFF;
            let mut v = (v12 >> 4) as u8;
            if min_is_white {
                v = 255 - v;
            }
            out.extend_from_slice(&[v, v, v]);
        }
    }
    RgbImage::from_raw(width, height, out)
        .ok_or_else(|| TiffError::Decode("libtiff returned a short image".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_tiff_is_refused_with_libtiffs_reason() {
        assert!(available(), "libtiff6 is installed by scripts/setup.sh");
        match decode(b"II*\0\x08\0\0\0garbage garbage garbage", 1 << 20) {
            Err(TiffError::Decode(why)) => assert!(!why.is_empty()),
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}
