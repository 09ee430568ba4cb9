//! Camera RAW files without a usable embedded preview: their sensor data developed by the
//! system's LibRaw (Debian `libraw20`), loaded at run time as libheif is (see `dylib`). A
//! machine without LibRaw still indexes RAWs through their previews.
//!
//! The development is the quick one CLIP needs, not a photo editor's: bilinear demosaicing,
//! the camera's white balance, its colour matrix to sRGB, the exposure as shot (no histogram
//! stretch: LibRaw's auto-brightening clips the brightest 1% of every picture), the sRGB curve,
//! 8 bits. LibRaw turns
//! the picture upright by the file's orientation. Only the C API's functions and setters are
//! used (never its structs' layouts), which LibRaw has kept from 0.19 to 0.22.

use image::RgbImage;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::sync::{Mutex, OnceLock};

/// Why a RAW file's sensor data could not be developed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DevelopError {
    /// LibRaw is not installed.
    #[error("developing the sensor data needs LibRaw, which could not be loaded: {0}")]
    Missing(String),
    /// LibRaw refused the file.
    #[error("LibRaw could not develop the sensor data: {0}")]
    Decode(String),
    /// The sensor is larger than the pixel limit.
    #[error("image too large: {width}x{height} pixels")]
    TooLarge {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
}

type Data = c_void;

/// `libraw_processed_image_t` from libraw_types.h: the developed picture.
#[repr(C)]
struct Processed {
    kind: c_int,
    height: u16,
    width: u16,
    colors: u16,
    bits: u16,
    data_size: c_uint,
    data: [u8; 1],
}

/// `LIBRAW_IMAGE_BITMAP`: interleaved samples (the other kind is a JPEG thumbnail).
const IMAGE_BITMAP: c_int = 2;
/// `libraw_set_demosaic`'s value for bilinear interpolation: CLIP sees 224 pixels, so the
/// slower, sharper methods would buy nothing.
const DEMOSAIC_LINEAR: c_int = 0;

/// The LibRaw functions Glimpse calls.
struct Api {
    _lib: libloading::Library,
    init: unsafe extern "C" fn(c_uint) -> *mut Data,
    open_buffer: unsafe extern "C" fn(*mut Data, *mut c_void, usize) -> c_int,
    raw_width: unsafe extern "C" fn(*mut Data) -> c_int,
    raw_height: unsafe extern "C" fn(*mut Data) -> c_int,
    set_demosaic: unsafe extern "C" fn(*mut Data, c_int),
    set_output_bps: unsafe extern "C" fn(*mut Data, c_int),
    set_no_auto_bright: unsafe extern "C" fn(*mut Data, c_int),
    set_gamma: unsafe extern "C" fn(*mut Data, c_int, f32),
    unpack: unsafe extern "C" fn(*mut Data) -> c_int,
    process: unsafe extern "C" fn(*mut Data) -> c_int,
    make_image: unsafe extern "C" fn(*mut Data, *mut c_int) -> *mut Processed,
    clear_image: unsafe extern "C" fn(*mut Processed),
    close: unsafe extern "C" fn(*mut Data),
    strerror: unsafe extern "C" fn(c_int) -> *const c_char,
}

/// LibRaw's file names: the thread-safe build first (Glimpse decodes on several threads), by
/// soname from newest to oldest, then per platform.
const LIBRARY_NAMES: &[&str] = &[
    "libraw_r.so.24",
    "libraw_r.so.23",
    "libraw_r.so.20",
    "libraw_r.so.19",
    "libraw_r.so",
    "libraw_r.24.dylib",
    "libraw_r.23.dylib",
    "libraw_r.dylib",
    "libraw.dll",
];

fn bind(lib: libloading::Library) -> Result<Api, libloading::Error> {
    // SAFETY: the signatures are LibRaw's public C API (libraw.h).
    unsafe {
        Ok(Api {
            init: *lib.get(b"libraw_init")?,
            open_buffer: *lib.get(b"libraw_open_buffer")?,
            raw_width: *lib.get(b"libraw_get_raw_width")?,
            raw_height: *lib.get(b"libraw_get_raw_height")?,
            set_demosaic: *lib.get(b"libraw_set_demosaic")?,
            set_output_bps: *lib.get(b"libraw_set_output_bps")?,
            set_no_auto_bright: *lib.get(b"libraw_set_no_auto_bright")?,
            set_gamma: *lib.get(b"libraw_set_gamma")?,
            unpack: *lib.get(b"libraw_unpack")?,
            process: *lib.get(b"libraw_dcraw_process")?,
            make_image: *lib.get(b"libraw_dcraw_make_mem_image")?,
            clear_image: *lib.get(b"libraw_dcraw_clear_mem")?,
            close: *lib.get(b"libraw_close")?,
            strerror: *lib.get(b"libraw_strerror")?,
            _lib: lib,
        })
    }
}

fn api() -> Result<&'static Api, DevelopError> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    crate::dylib::load_once(&API, LIBRARY_NAMES, bind)
        .map_err(|e| DevelopError::Missing(e.to_owned()))
}

/// Whether LibRaw can be loaded on this machine (RAWs whose previews are too small then fail
/// with that reason).
pub(crate) fn available() -> bool {
    api().is_ok()
}

/// Releases LibRaw's objects on every return path.
struct Guard<'a> {
    api: &'a Api,
    data: *mut Data,
    image: *mut Processed,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or owned by this guard.
        unsafe {
            if !self.image.is_null() {
                (self.api.clear_image)(self.image);
            }
            if !self.data.is_null() {
                (self.api.close)(self.data);
            }
        }
    }
}

impl Guard<'_> {
    fn check(&self, code: c_int) -> Result<(), DevelopError> {
        if code == 0 {
            return Ok(());
        }
        // SAFETY: libraw_strerror returns a static NUL-terminated string for any code.
        let msg = unsafe { (self.api.strerror)(code) };
        let msg = if msg.is_null() {
            format!("LibRaw error {code}")
        } else {
            // SAFETY: checked non-null above; the string is static.
            unsafe { CStr::from_ptr(msg) }
                .to_string_lossy()
                .into_owned()
        };
        Err(DevelopError::Decode(msg))
    }
}

/// Develops the sensor data of a RAW file to upright 8-bit sRGB; `max_pixels` is checked on
/// the sensor size before anything is unpacked. One development runs at a time: each holds
/// about 8 bytes per sensor pixel (200 MB for 24 MP), and this is the rare path.
pub(crate) fn develop(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, DevelopError> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let api = api()?;
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: every call follows libraw.h. LibRaw only reads the buffer given to
    // libraw_open_buffer (the pointer is `void *` for history's sake), and the buffer outlives
    // the handle, which the guard closes before returning.
    unsafe {
        let mut g = Guard {
            api,
            data: (api.init)(0),
            image: std::ptr::null_mut(),
        };
        if g.data.is_null() {
            return Err(DevelopError::Decode("LibRaw could not start".into()));
        }
        g.check((api.open_buffer)(
            g.data,
            bytes.as_ptr().cast_mut().cast(),
            bytes.len(),
        ))?;
        let width = u32::try_from((api.raw_width)(g.data)).unwrap_or(0);
        let height = u32::try_from((api.raw_height)(g.data)).unwrap_or(0);
        if u64::from(width) * u64::from(height) > max_pixels {
            return Err(DevelopError::TooLarge { width, height });
        }
        (api.set_demosaic)(g.data, DEMOSAIC_LINEAR);
        (api.set_output_bps)(g.data, 8);
        (api.set_no_auto_bright)(g.data, 1);
        // The sRGB curve: a power of 1/2.4 with a linear toe of slope 12.92.
        (api.set_gamma)(g.data, 0, 1.0 / 2.4);
        (api.set_gamma)(g.data, 1, 12.92);
        g.check((api.unpack)(g.data))?;
        g.check((api.process)(g.data))?;
        let mut code: c_int = 0;
        g.image = (api.make_image)(g.data, &mut code);
        if g.image.is_null() {
            g.check(if code == 0 { -1 } else { code })?;
        }
        let img = &*g.image;
        let (w, h) = (usize::from(img.width), usize::from(img.height));
        let len = w * h * 3;
        if img.kind != IMAGE_BITMAP
            || img.colors != 3
            || img.bits != 8
            || w == 0
            || h == 0
            || (img.data_size as usize) < len
        {
            return Err(DevelopError::Decode(format!(
                "LibRaw returned an unexpected picture ({}x{}, {} colours, {} bits)",
                img.width, img.height, img.colors, img.bits
            )));
        }
        // The samples run past the struct's one-byte array: address them from the raw pointer,
        // whose provenance covers LibRaw's whole allocation.
        let data = std::ptr::addr_of!((*g.image).data).cast::<u8>();
        let pixels = std::slice::from_raw_parts(data, len).to_vec();
        RgbImage::from_raw(u32::from(img.width), u32::from(img.height), pixels)
            .ok_or_else(|| DevelopError::Decode("LibRaw returned a short picture".into()))
    }
}
