//! Upright RGB pixels → the CLIP input tensor, bit-exact with the reference.
//!
//! The reference is Hugging Face `transformers`' classic `CLIPImageProcessor`: shortest side
//! resized with Pillow's bicubic filter (`Image.resize`, 8-bit fixed point), centre crop with the
//! offset floored, `x * (1/255)` in f64 then f32, `(x - mean) / std` in f32, NCHW. CLIP models are
//! sensitive to these details (a different resampler costs measurable cosine), so Pillow's
//! convolution resampler is reproduced here integer for integer rather than approximated.

use image::RgbImage;
use serde::Deserialize;
use std::path::Path;

/// Why a model's preprocessing configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read preprocessing config {path}: {source}")]
    Read {
        /// The file that failed.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not the JSON we expect.
    #[error("invalid preprocessing config {path}: {message}")]
    Invalid {
        /// The file that failed.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Resampling filter, because models name the one they were trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Pillow `BICUBIC` (Keys cubic, a = -0.5, support 2): CLIP's filter.
    Bicubic,
    /// Pillow `BILINEAR` (triangle, support 1).
    Bilinear,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bicubic => 2.0,
            Filter::Bilinear => 1.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Bilinear => {
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
        }
    }
}

/// How the picture is fitted to the square input, since model zoos differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// Shortest side to the input size, then centre crop (CLIP, transformers).
    Shortest,
    /// Both sides to the input size, aspect ratio ignored (open_clip "squash").
    Squash,
}

/// Everything needed to turn pixels into the model's input, read from the model folder.
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessConfig {
    /// Target of the shortest side (or both sides for `Squash`).
    pub resize: u32,
    /// Centre crop width and height.
    pub crop: (u32, u32),
    /// Per-channel mean subtracted after rescaling.
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by.
    pub std: [f32; 3],
    /// Multiplier from 8-bit values to [0, 1].
    pub rescale: f64,
    /// Resampling filter.
    pub filter: Filter,
    /// Resize policy.
    pub mode: ResizeMode,
}

/// OpenAI CLIP's normalisation constants, the default when a config omits them.
pub(crate) const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// OpenAI CLIP's normalisation constants, the default when a config omits them.
// Written as OpenAI publishes them; numpy rounds them to f32 the same way Rust does.
#[allow(clippy::excessive_precision)]
pub(crate) const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            resize: 224,
            crop: (224, 224),
            mean: CLIP_MEAN,
            std: CLIP_STD,
            rescale: 1.0 / 255.0,
            filter: Filter::Bicubic,
            mode: ResizeMode::Shortest,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeSpec {
    One(u32),
    Pair(Vec<u32>),
    Map {
        shortest_edge: Option<u32>,
        height: Option<u32>,
        width: Option<u32>,
    },
}

#[derive(Deserialize)]
struct ImmichCfg {
    size: SizeSpec,
    mean: Option<[f32; 3]>,
    std: Option<[f32; 3]>,
    interpolation: Option<String>,
    resize_mode: Option<String>,
}

#[derive(Deserialize)]
struct HfCfg {
    size: Option<SizeSpec>,
    crop_size: Option<SizeSpec>,
    image_mean: Option<[f32; 3]>,
    image_std: Option<[f32; 3]>,
    resample: Option<u32>,
    rescale_factor: Option<f64>,
}

fn invalid(path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// The largest model input side accepted from a config (CLIP-family models use 224 to 512):
/// a broken or hostile model folder must not make every photo ask for a 2^31-pixel crop.
pub const MAX_INPUT_SIDE: u32 = 1024;

/// The largest config file read: these files are a few hundred bytes.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ConfigError> {
    use std::io::Read;
    let read_err = |source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read_err)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(invalid(
            path,
            format!("the file is larger than {MAX_CONFIG_BYTES} bytes; a preprocessing config is a few hundred"),
        ));
    }
    serde_json::from_str(&text).map_err(|e| invalid(path, e.to_string()))
}

/// Checks what a config asks for before any picture is resized with it: sizes within
/// 1..=[`MAX_INPUT_SIDE`], finite normalisation constants, no division by zero.
fn bounded(cfg: PreprocessConfig, path: &Path) -> Result<PreprocessConfig, ConfigError> {
    let side_ok = |n: u32| (1..=MAX_INPUT_SIDE).contains(&n);
    for (what, n) in [
        ("size", cfg.resize),
        ("crop width", cfg.crop.0),
        ("crop height", cfg.crop.1),
    ] {
        if !side_ok(n) {
            return Err(invalid(
                path,
                format!("{what} {n} is outside 1..={MAX_INPUT_SIDE} pixels"),
            ));
        }
    }
    if cfg.mean.iter().any(|m| !m.is_finite()) {
        return Err(invalid(path, "mean must be three finite numbers"));
    }
    if cfg.std.iter().any(|s| !s.is_finite() || *s == 0.0) {
        return Err(invalid(path, "std must be three finite, non-zero numbers"));
    }
    if !cfg.rescale.is_finite() || cfg.rescale <= 0.0 {
        return Err(invalid(
            path,
            "rescale_factor must be a finite positive number",
        ));
    }
    Ok(cfg)
}

fn square(spec: &SizeSpec, path: &Path) -> Result<(u32, u32), ConfigError> {
    match spec {
        SizeSpec::One(n) => Ok((*n, *n)),
        SizeSpec::Pair(v) if v.len() == 2 => Ok((v[1], v[0])),
        SizeSpec::Pair(_) => Err(invalid(path, "size must be [height, width]")),
        SizeSpec::Map {
            height: Some(h),
            width: Some(w),
            ..
        } => Ok((*w, *h)),
        SizeSpec::Map {
            shortest_edge: Some(s),
            ..
        } => Ok((*s, *s)),
        SizeSpec::Map { .. } => Err(invalid(path, "size needs height/width or shortest_edge")),
    }
}

impl PreprocessConfig {
    /// Reads an immich/open_clip `preprocess_cfg.json`.
    pub fn from_immich(path: &Path) -> Result<Self, ConfigError> {
        let cfg: ImmichCfg = read_json(path)?;
        let (w, h) = square(&cfg.size, path)?;
        if w != h {
            return Err(invalid(path, "only square model inputs are supported"));
        }
        let filter = match cfg.interpolation.as_deref().unwrap_or("bicubic") {
            "bicubic" => Filter::Bicubic,
            "bilinear" => Filter::Bilinear,
            other => {
                return Err(invalid(
                    path,
                    format!("unsupported interpolation {other:?}"),
                ))
            }
        };
        let mode = match cfg.resize_mode.as_deref().unwrap_or("shortest") {
            "shortest" => ResizeMode::Shortest,
            "squash" => ResizeMode::Squash,
            other => return Err(invalid(path, format!("unsupported resize_mode {other:?}"))),
        };
        bounded(
            PreprocessConfig {
                resize: w,
                crop: (w, h),
                mean: cfg.mean.unwrap_or(CLIP_MEAN),
                std: cfg.std.unwrap_or(CLIP_STD),
                rescale: 1.0 / 255.0,
                filter,
                mode,
            },
            path,
        )
    }

    /// Reads a Hugging Face `preprocessor_config.json` (CLIPImageProcessor).
    pub fn from_hf(path: &Path) -> Result<Self, ConfigError> {
        let cfg: HfCfg = read_json(path)?;
        let resize = match cfg.size {
            Some(SizeSpec::Map {
                shortest_edge: Some(s),
                ..
            })
            | Some(SizeSpec::One(s)) => s,
            Some(ref other) => square(other, path)?.0,
            None => 224,
        };
        let crop = match cfg.crop_size {
            Some(ref c) => square(c, path)?,
            None => (resize, resize),
        };
        let filter = match cfg.resample.unwrap_or(3) {
            3 => Filter::Bicubic,
            2 => Filter::Bilinear,
            other => return Err(invalid(path, format!("unsupported resample {other}"))),
        };
        bounded(
            PreprocessConfig {
                resize,
                crop,
                mean: cfg.image_mean.unwrap_or(CLIP_MEAN),
                std: cfg.image_std.unwrap_or(CLIP_STD),
                rescale: cfg.rescale_factor.unwrap_or(1.0 / 255.0),
                filter,
                mode: ResizeMode::Shortest,
            },
            path,
        )
    }

    /// The size the picture is resized to before cropping, as transformers computes it
    /// (`get_resize_output_image_size`: the long side is `int(size * long / short)`). In u64:
    /// a strip of 1 x 5,000,000 pixels resizes to 224 x 1,120,000,000, of which only the crop
    /// window is ever computed; capped at `MAX_RESIZED_SIDE`.
    pub fn resize_target(&self, width: u32, height: u32) -> (u64, u64) {
        let resize = u64::from(self.resize).min(MAX_RESIZED_SIDE);
        match self.mode {
            ResizeMode::Squash => (resize, resize),
            ResizeMode::Shortest => {
                let (short, long) = if width <= height {
                    (width, height)
                } else {
                    (height, width)
                };
                // Float casts saturate; both factors are exact in f64, as in Python.
                let new_long =
                    ((self.resize as f64 * long as f64) / short.max(1) as f64).trunc() as u64;
                let new_long = new_long.clamp(1, MAX_RESIZED_SIDE);
                if width <= height {
                    (resize, new_long)
                } else {
                    (new_long, resize)
                }
            }
        }
    }

    /// Whether the whole resized picture is small enough to be handed back (a caller's preview
    /// at the model's size; the indexer makes its larger ones from the decode): its long side
    /// at most [`PREVIEW_MAX_SIDE`] (every photo, and panoramas up to about 18:1).
    pub(crate) fn resized_is_preview_sized(&self, width: u32, height: u32) -> bool {
        let (tw, th) = self.resize_target(width, height);
        tw.max(th) <= PREVIEW_MAX_SIDE
    }

    /// Number of f32 values in one image's tensor.
    pub fn tensor_len(&self) -> usize {
        3 * self.crop.0 as usize * self.crop.1 as usize
    }

    /// Resizes, crops and normalises one upright RGB picture into `out` (CHW, `tensor_len` long).
    pub(crate) fn apply_into(&self, img: &RgbImage, out: &mut [f32]) {
        let mut scratch = Scratch::default();
        self.resize_crop(img, &mut scratch);
        self.crop_normalise(&scratch.resized, out);
    }

    /// Like [`apply`](Self::apply), also returning the resized, uncropped picture, a preview
    /// at the model's size that costs no second resize (`None` where that picture would be
    /// too large: see [`resized_is_preview_sized`](Self::resized_is_preview_sized)).
    #[cfg(test)]
    pub(crate) fn apply_with_resized(&self, img: &RgbImage) -> (Vec<f32>, Option<RgbImage>) {
        let mut out = vec![0f32; self.tensor_len()];
        let mut scratch = Scratch::default();
        let whole = self.apply_reusing(img, &mut out, &mut scratch).is_some();
        (out, whole.then_some(scratch.resized))
    }

    /// `apply_into` with buffers kept in `scratch` between pictures; returns
    /// the resized, uncropped picture (the preview), which lives in `scratch` until the next
    /// call, or `None` (only the crop resized) where that picture would be too large.
    pub fn apply_reusing<'s>(
        &self,
        img: &RgbImage,
        out: &mut [f32],
        scratch: &'s mut Scratch,
    ) -> Option<&'s RgbImage> {
        if !self.resized_is_preview_sized(img.width(), img.height()) {
            self.resize_crop(img, scratch);
            self.crop_normalise(&scratch.resized, out);
            return None;
        }
        let size = self.resize_target(img.width(), img.height());
        let pixels = std::mem::take(&mut scratch.resized).into_raw();
        scratch.resized = resize_window_into(img, size, self.filter, whole(size), scratch, pixels);
        self.crop_normalise(&scratch.resized, out);
        Some(&scratch.resized)
    }

    /// The normalised value of every byte per channel (`x * rescale` in f64 then f32, then
    /// `(x - mean) / std` in f32, as transformers computes it): preprocessing on the CPU reads
    /// it, and graphs that take bytes carry it, so both give the same floats bit for bit.
    pub fn lut(&self) -> [[f32; 256]; 3] {
        let mut lut = [[0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, slot) in table.iter_mut().enumerate() {
                let x = (v as f64 * self.rescale) as f32;
                *slot = (x - self.mean[c]) / self.std[c];
            }
        }
        lut
    }

    /// Where the centre crop starts in a resized picture (transformers' center_crop: offsets
    /// floored; the resize makes padding unnecessary in Shortest mode, but clamp anyway).
    fn crop_origin(&self, (tw, th): (u64, u64)) -> (usize, usize) {
        let (cw, ch) = (u64::from(self.crop.0), u64::from(self.crop.1));
        // floor((t - c) / 2), and 0 where the crop is the larger.
        let top = th.saturating_sub(ch) / 2;
        let left = tw.saturating_sub(cw) / 2;
        (to_usize(top), to_usize(left))
    }

    /// The bytes of row `y` of the centre crop that lie inside the picture: all `crop.0`
    /// pixels, or fewer (none below it) when the picture is smaller than the crop, where the
    /// rest is zero padding, as transformers pads with zeros before normalising.
    fn crop_row<'a>(&self, resized: &'a RgbImage, y: usize) -> &'a [u8] {
        let (tw, th) = (resized.width() as usize, resized.height() as usize);
        let (w, h) = resized.dimensions();
        let (top, left) = self.crop_origin((u64::from(w), u64::from(h)));
        let sy = y + top;
        let inside = if sy < th {
            tw.saturating_sub(left).min(self.crop.0 as usize)
        } else {
            0
        };
        let start = sy * tw * 3 + left * 3;
        resized
            .as_raw()
            .get(start..start + inside * 3)
            .unwrap_or(&[])
    }

    /// Centre crop + rescale + normalise of an already resized picture.
    fn crop_normalise(&self, resized: &RgbImage, out: &mut [f32]) {
        let (cw, ch) = (self.crop.0 as usize, self.crop.1 as usize);
        let plane = cw * ch;
        debug_assert_eq!(out.len(), 3 * plane);
        let lut = self.lut();
        let (r_plane, rest) = out.split_at_mut(plane);
        let (g_plane, b_plane) = rest.split_at_mut(plane);
        let rows = r_plane
            .chunks_exact_mut(cw)
            .zip(g_plane.chunks_exact_mut(cw))
            .zip(b_plane.chunks_exact_mut(cw));
        for (y, ((r_row, g_row), b_row)) in rows.enumerate().take(ch) {
            let src = self.crop_row(resized, y);
            for (((px, r), g), b) in src
                .chunks_exact(3)
                .zip(r_row.iter_mut())
                .zip(g_row.iter_mut())
                .zip(b_row.iter_mut())
            {
                *r = lut[0][px[0] as usize];
                *g = lut[1][px[1] as usize];
                *b = lut[2][px[2] as usize];
            }
            let done = src.len() / 3;
            r_row[done..].fill(lut[0][0]);
            g_row[done..].fill(lut[1][0]);
            b_row[done..].fill(lut[2][0]);
        }
    }

    /// Centre crop of an already resized picture as bytes, row by row (HWC), zero-padded like
    /// [`crop_normalise`](Self::crop_normalise): what a graph that normalises inside takes.
    fn crop_bytes(&self, resized: &RgbImage, out: &mut [u8]) {
        let (cw, ch) = (self.crop.0 as usize, self.crop.1 as usize);
        debug_assert_eq!(out.len(), 3 * cw * ch);
        for (y, row) in out.chunks_exact_mut(cw * 3).enumerate().take(ch) {
            let src = self.crop_row(resized, y);
            row[..src.len()].copy_from_slice(src);
            row[src.len()..].fill(0);
        }
    }

    /// The centre crop's bytes (HWC, [`Pixels::Bytes`]) → the normalised tensor (CHW), the
    /// computation a byte-input graph does inside; for checks and for feeding float graphs.
    pub fn normalise_bytes(&self, hwc: &[u8], out: &mut [f32]) {
        let lut = self.lut();
        let plane = self.crop.0 as usize * self.crop.1 as usize;
        for (i, px) in hwc.chunks_exact(3).enumerate().take(plane) {
            for (c, &v) in px.iter().enumerate() {
                if let Some(slot) = out.get_mut(c * plane + i) {
                    *slot = lut[c][v as usize];
                }
            }
        }
    }

    /// Resizes and crops one picture into `out` in whichever form `out` already holds (the
    /// encoder's: normalised floats, or bytes it normalises itself); returns the resized,
    /// uncropped picture (the preview), which lives in `scratch` until the next call, or `None`
    /// where that picture would be too large (a strip, an extreme panorama: only the crop is
    /// resized then, and the caller makes its preview another way).
    pub fn apply_pixels_reusing<'s>(
        &self,
        img: &RgbImage,
        out: &mut Pixels,
        scratch: &'s mut Scratch,
    ) -> Option<&'s RgbImage> {
        if !self.resized_is_preview_sized(img.width(), img.height()) {
            self.crop_pixels_reusing(img, out, scratch);
            return None;
        }
        let size = self.resize_target(img.width(), img.height());
        let pixels = std::mem::take(&mut scratch.resized).into_raw();
        scratch.resized = resize_window_into(img, size, self.filter, whole(size), scratch, pixels);
        self.crop_into(&scratch.resized, out);
        Some(&scratch.resized)
    }

    /// [`apply_pixels_reusing`](Self::apply_pixels_reusing) for when no preview is wanted:
    /// only the pixels the centre crop keeps are resized (a quarter less work on a 4:3 photo,
    /// more on wider ones), with the same values in `out`.
    pub fn crop_pixels_reusing(&self, img: &RgbImage, out: &mut Pixels, scratch: &mut Scratch) {
        self.resize_crop(img, scratch);
        self.crop_into(&scratch.resized, out);
    }

    /// Resizes only the centre crop's part of `img` into `scratch.resized`: that part of the
    /// resized picture, whose own centre crop (padded where the picture is smaller than the
    /// crop) is then the picture's.
    fn resize_crop(&self, img: &RgbImage, scratch: &mut Scratch) {
        let size = self.resize_target(img.width(), img.height());
        let (top, left) = self.crop_origin(size);
        let window = Window {
            x: left..left.saturating_add(self.crop.0 as usize),
            y: top..top.saturating_add(self.crop.1 as usize),
        };
        let pixels = std::mem::take(&mut scratch.resized).into_raw();
        scratch.resized = resize_window_into(img, size, self.filter, window, scratch, pixels);
    }

    /// Centre crop of an already resized picture into `out`, in the form `out` holds.
    pub fn crop_into(&self, resized: &RgbImage, out: &mut Pixels) {
        // Not cleared first: cropping writes every value.
        match out {
            Pixels::Floats(v) => {
                v.resize(self.tensor_len(), 0.0);
                self.crop_normalise(resized, v);
            }
            Pixels::Bytes(v) => {
                v.resize(self.tensor_len(), 0);
                self.crop_bytes(resized, v);
            }
        }
    }

    /// Convenience wrapper of `apply_into` that allocates the tensor.
    pub fn apply(&self, img: &RgbImage) -> Vec<f32> {
        let mut out = vec![0f32; self.tensor_len()];
        self.apply_into(img, &mut out);
        out
    }
}

/// One picture (or a batch end to end) in the form an image graph takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    /// Normalised floats, CHW: what exported CLIP graphs take.
    Floats(Vec<f32>),
    /// The centre crop's bytes, HWC: for graphs that normalise inside (the GPU copy), a
    /// quarter of the memory to fill, copy and send, and no normalising on the CPU.
    Bytes(Vec<u8>),
}

impl Pixels {
    /// Values held (a picture's is [`PreprocessConfig::tensor_len`]).
    pub fn len(&self) -> usize {
        match self {
            Pixels::Floats(v) => v.len(),
            Pixels::Bytes(v) => v.len(),
        }
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A view for [`crate::encode::ImageEncoder::encode_pixels`].
    pub fn as_view(&self) -> PixelsRef<'_> {
        match self {
            Pixels::Floats(v) => PixelsRef::Floats(v),
            Pixels::Bytes(v) => PixelsRef::Bytes(v),
        }
    }
}

/// Borrowed [`Pixels`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PixelsRef<'a> {
    /// Normalised floats, CHW.
    Floats(&'a [f32]),
    /// Crop bytes, HWC.
    Bytes(&'a [u8]),
}

impl PixelsRef<'_> {
    /// Values held.
    pub fn len(&self) -> usize {
        match self {
            PixelsRef::Floats(v) => v.len(),
            PixelsRef::Bytes(v) => v.len(),
        }
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Largest side a picture is resized to, virtually (only the crop window is ever computed):
/// far beyond what any picture within the decoder's limits gives, and small enough that every
/// output position is exact in f64.
pub(crate) const MAX_RESIZED_SIDE: u64 = 1 << 44;

/// Longest side of a resized picture that is computed whole to be handed back; beyond
/// it (aspect ratios over about 18:1 for CLIP) only the crop is resized, since the whole
/// picture would grow with the ratio (a 1 x 5,000,000 strip would be 750 GB).
pub(crate) const PREVIEW_MAX_SIDE: u64 = 4096;

/// A u64 size or offset as an index; saturates where usize is narrower (then clamped by the
/// picture's own size, which always fits).
fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The window that is the whole resized picture.
fn whole((w, h): (u64, u64)) -> Window {
    Window {
        x: 0..to_usize(w),
        y: 0..to_usize(h),
    }
}

/// Pillow's fixed-point precision for 8-bit resampling (`PRECISION_BITS` in Resample.c).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Some output pixels' input windows and integer weights: those of output pixels
/// `start..start + bounds.len()` only, so a crop of a hugely resized axis costs its own size.
#[derive(Debug, Default)]
struct Coeffs {
    start: usize,
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

impl Coeffs {
    /// The input window of output pixel `xx` (which these coefficients cover).
    fn bound(&self, xx: usize) -> (usize, usize) {
        self.bounds[xx - self.start]
    }

    /// The taps of output pixels `range` only (the centre crop's columns or rows), which
    /// these coefficients cover.
    fn taps(&self, range: std::ops::Range<usize>) -> Taps<'_> {
        let (a, b) = (range.start - self.start, range.end - self.start);
        Taps {
            ksize: self.ksize,
            bounds: &self.bounds[a..b],
            weights: &self.weights[a * self.ksize..b * self.ksize],
            base: 0,
        }
    }
}

/// Some consecutive output pixels' windows and weights, borrowed from [`Coeffs`]: a pass
/// computes just these pixels, with the weights the whole picture's resize gives them.
#[derive(Debug, Clone, Copy)]
struct Taps<'a> {
    ksize: usize,
    bounds: &'a [(usize, usize)],
    weights: &'a [i32],
    /// The input column the row handed to a pass starts at: only the columns these taps read
    /// are copied (a strip millions of pixels wide is not copied whole per row).
    base: usize,
}

impl Taps<'_> {
    /// The input columns these taps read, as a range.
    fn span(&self) -> std::ops::Range<usize> {
        let first = self.bounds.first().map_or(0, |b| b.0);
        let last = self.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(first);
        first..last.max(first)
    }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for a full-image box, for output
/// pixels `range` of the `out_size` only: each output pixel's weights depend only on its own
/// position, so these are the whole table's rows for that range, bit for bit.
fn coeffs(in_size: u32, out_size: u64, filter: Filter, range: std::ops::Range<usize>) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(range.len());
    let mut weights = vec![0i32; range.len() * ksize];
    let mut k = vec![0f64; ksize];
    let start = range.start;
    for xx in range {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C casts truncate toward zero; clamping makes that identical to floor here.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin);
        let mut ww = 0.0;
        for (x, slot) in k.iter_mut().enumerate().take(n) {
            let w = filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss);
            *slot = w;
            ww += w;
        }
        let at = (xx - start) * ksize;
        let row = &mut weights[at..at + ksize];
        for x in 0..n {
            let v = if ww != 0.0 { k[x] / ww } else { k[x] };
            let scaled = v * (1u32 << PRECISION_BITS) as f64;
            row[x] = if v < 0.0 {
                (-0.5 + scaled) as i32
            } else {
                (0.5 + scaled) as i32
            };
        }
        bounds.push((xmin, n));
    }
    Coeffs {
        start,
        ksize,
        bounds,
        weights,
    }
}

/// Which coefficients a [`CoeffCache`] holds: input size, output size, filter, output range.
type CoeffKey = (u32, u64, Filter, std::ops::Range<usize>);

/// The coefficients of the last resize along one axis: a folder of photos of one size (what
/// cameras and exports make) computes them once per thread instead of once per photo.
#[derive(Debug, Default)]
struct CoeffCache {
    key: Option<CoeffKey>,
    coeffs: Coeffs,
}

impl CoeffCache {
    /// The coefficients of output pixels `range` of a resize from `in_size` to `out_size`.
    fn get(
        &mut self,
        in_size: u32,
        out_size: u64,
        filter: Filter,
        range: std::ops::Range<usize>,
    ) -> &Coeffs {
        let key = Some((in_size, out_size, filter, range.clone()));
        if self.key != key {
            self.coeffs = coeffs(in_size, out_size, filter, range);
            self.key = key;
        }
        &self.coeffs
    }
}

/// `acc[i] += row[i] * w`: the inner loop of the vertical pass. Baseline x86-64 (SSE2) has no
/// 32-bit vector multiply, so where the CPU has AVX2 (checked at run time) the same loop is
/// compiled with it: 8 lanes with a native multiply instead of an emulated one.
#[inline]
fn mac_row(acc: &mut [i32], row: &[u8], w: i32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { mac_row_avx2(acc, row, w) };
            return;
        }
    }
    mac_row_portable(acc, row, w);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn mac_row_avx2(acc: &mut [i32], row: &[u8], w: i32) {
    mac_row_portable(acc, row, w);
}

#[inline(always)]
fn mac_row_portable(acc: &mut [i32], row: &[u8], w: i32) {
    for (a, &p) in acc.iter_mut().zip(row) {
        *a += p as i32 * w;
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Buffers one thread keeps from picture to picture, so that resizing a stream of photos
/// allocates (and faults in fresh pages for) nothing once it is warm.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Rows after the horizontal pass (only those the vertical pass reads).
    tmp: Vec<u8>,
    /// One input row plus padding, so every tap can load four bytes.
    row: Vec<u8>,
    /// Vertical-pass accumulators, one per byte of an output row.
    acc: Vec<i32>,
    /// The last resized picture, lent out by [`PreprocessConfig::apply_reusing`], or only the
    /// centre crop's part of it after [`PreprocessConfig::crop_pixels_reusing`].
    resized: RgbImage,
    /// Horizontal-pass coefficients of the last picture.
    horiz: CoeffCache,
    /// Vertical-pass coefficients of the last picture.
    vert: CoeffCache,
}

/// Resizes an RGB picture exactly as Pillow's `Image.resize(size, BICUBIC|BILINEAR)` does for
/// mode "RGB" with no box and no reducing gap, including its skipped passes and intermediate
/// 8-bit rounding.
pub fn pil_resize(img: &RgbImage, width: u32, height: u32, filter: Filter) -> RgbImage {
    pil_resize_into(
        img,
        width,
        height,
        filter,
        &mut Scratch::default(),
        Vec::new(),
    )
}

/// [`pil_resize`] with reused buffers: `out` becomes the returned picture's pixels (get it back
/// with `into_raw` for the next one).
pub fn pil_resize_into(
    img: &RgbImage,
    width: u32,
    height: u32,
    filter: Filter,
    scratch: &mut Scratch,
    out: Vec<u8>,
) -> RgbImage {
    let size = (u64::from(width), u64::from(height));
    resize_window_into(img, size, filter, whole(size), scratch, out)
}

/// The output pixels a resize computes: columns `x` and rows `y` of the full resized picture.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    x: std::ops::Range<usize>,
    y: std::ops::Range<usize>,
}

/// The `window` of `img` resized to `size` as [`pil_resize`] would give it, computing only the
/// pixels inside: each output pixel depends only on its own taps, so the values are the same.
fn resize_window_into(
    img: &RgbImage,
    size: (u64, u64),
    filter: Filter,
    window: Window,
    scratch: &mut Scratch,
    mut out: Vec<u8>,
) -> RgbImage {
    let (iw, ih) = img.dimensions();
    let (sw, sh) = (to_usize(size.0), to_usize(size.1));
    let x = window.x.start.min(sw)..window.x.end.min(sw);
    let y = window.y.start.min(sh)..window.y.end.min(sh);
    let window = Window {
        x: x.start..x.end.max(x.start),
        y: y.start..y.end.max(y.start),
    };
    let (ww, wh) = (window.x.len(), window.y.len());
    let out_len = ww * wh * 3;
    if (u64::from(iw), u64::from(ih)) == size {
        out.clear();
        let stride = iw as usize * 3;
        for r in window.y.clone() {
            let row = &img.as_raw()[r * stride..(r + 1) * stride];
            out.extend_from_slice(&row[window.x.start * 3..window.x.end * 3]);
        }
    } else if iw == 0 || ih == 0 || out_len == 0 {
        out.clear();
        out.resize(out_len, 0);
    } else {
        // Not cleared first: the passes write every byte, so a reused buffer of the same size
        // costs no zeroing.
        out.resize(out_len, 0);
        resample(img, size, filter, &window, scratch, &mut out);
    }
    RgbImage::from_raw(ww as u32, wh as u32, out)
        .unwrap_or_else(|| RgbImage::new(ww as u32, wh as u32))
}

/// Pillow's two passes (horizontal over the rows the vertical pass needs, then vertical) for
/// the output pixels in `window` of a picture resized to `size`, into `out`, which holds
/// exactly the window's bytes. The window is not empty and lies inside `size`.
fn resample(
    img: &RgbImage,
    size: (u64, u64),
    filter: Filter,
    window: &Window,
    scratch: &mut Scratch,
    out: &mut [u8],
) {
    let (iw, ih) = img.dimensions();
    let (width, height) = size;
    let need_h = width != u64::from(iw);
    let need_v = height != u64::from(ih);
    let Scratch {
        tmp,
        row,
        acc,
        horiz,
        vert,
        ..
    } = scratch;
    let vert = vert.get(ih, height, filter, window.y.clone());
    // The input rows the window's output rows read.
    let (first, last) = if need_v {
        let (lo, n) = vert.bound(window.y.end - 1);
        (vert.bound(window.y.start).0, lo + n)
    } else {
        (window.y.start, window.y.end)
    };
    let src = img.as_raw();
    let in_stride = iw as usize * 3;
    let out_stride = window.x.len() * 3;
    // Where the vertical pass reads: the horizontal pass's rows (the window's columns), or the
    // picture itself (all its columns): rows, the first row held, the first byte of a row.
    let (rows, row_offset, stride, col_offset): (&[u8], usize, usize, usize) = if need_h {
        let mut horiz = horiz
            .get(iw, width, filter, window.x.clone())
            .taps(window.x.clone());
        // Only the input columns the window reads are copied per row.
        let span = horiz.span();
        horiz.base = span.start;
        let (col0, col1) = (span.start * 3, span.end * 3);
        let target: &mut [u8] = if need_v {
            tmp.resize((last - first) * out_stride, 0);
            tmp
        } else {
            &mut *out
        };
        // Two input rows, each copied with zero padding: a tap reads four bytes, one past the
        // last pixel. Rows go in pairs (same weights) where the CPU has AVX2.
        let padded = col1 - col0 + 4;
        // The padding's value does not matter: it lands in a lane that is dropped.
        row.resize(2 * padded, 0);
        let (row_a, row_b) = row.split_at_mut(padded);
        let mut out_rows = target.chunks_exact_mut(out_stride);
        let mut r = first;
        while r < last {
            let at = r * in_stride;
            row_a[..col1 - col0].copy_from_slice(&src[at + col0..at + col1]);
            let Some(out_a) = out_rows.next() else { break };
            if r + 1 < last {
                let at = at + in_stride;
                row_b[..col1 - col0].copy_from_slice(&src[at + col0..at + col1]);
                if let Some(out_b) = out_rows.next() {
                    horizontal_rows(row_a, row_b, out_a, out_b, horiz);
                }
                r += 2;
            } else {
                horizontal_row(row_a, out_a, horiz);
                r += 1;
            }
        }
        if !need_v {
            return;
        }
        (tmp.as_slice(), first, out_stride, 0)
    } else {
        (src.as_slice(), 0, in_stride, window.x.start * 3)
    };
    // Row at a time (integer sums, so the order of the terms does not change the result): the
    // inner loop runs over contiguous bytes and vectorises.
    let vert = vert.taps(window.y.clone());
    acc.clear();
    acc.resize(out_stride, 0);
    for ((&(ymin, n), k), out_row) in vert
        .bounds
        .iter()
        .zip(vert.weights.chunks_exact(vert.ksize))
        .zip(out.chunks_exact_mut(out_stride))
    {
        let ymin = ymin - row_offset;
        acc.fill(1i32 << (PRECISION_BITS - 1));
        for (y, &w) in k[..n].iter().enumerate() {
            let at = (ymin + y) * stride + col_offset;
            mac_row(acc, &rows[at..at + out_stride], w);
        }
        for (slot, &a) in out_row.iter_mut().zip(acc.iter()) {
            *slot = clip8(a);
        }
    }
}

/// One row of the horizontal pass. `row` is the input row followed by at least one spare byte.
#[inline]
fn horizontal_row(row: &[u8], out: &mut [u8], c: Taps<'_>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("sse4.1") {
            // SAFETY: the CPU supports SSE4.1 (checked just above).
            unsafe { horizontal_row_sse41(row, out, c) };
            return;
        }
    }
    horizontal_row_portable(row, out, c);
}

/// Two rows of the horizontal pass, which share their weights.
#[inline]
fn horizontal_rows(row_a: &[u8], row_b: &[u8], out_a: &mut [u8], out_b: &mut [u8], c: Taps<'_>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { horizontal_rows_avx2(row_a, row_b, out_a, out_b, c) };
            return;
        }
    }
    horizontal_row(row_a, out_a, c);
    horizontal_row(row_b, out_b, c);
}

/// [`horizontal_row_sse41`] for two rows at once: the same output pixel of both rows in one
/// 8-lane vector, so each tap is one multiply for two pixels.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn horizontal_rows_avx2(
    row_a: &[u8],
    row_b: &[u8],
    out_a: &mut [u8],
    out_b: &mut [u8],
    c: Taps<'_>,
) {
    use std::arch::x86_64::*;
    let half = _mm256_set1_epi32(1i32 << (PRECISION_BITS - 1));
    for (((&(xmin, n), k), pa), pb) in c
        .bounds
        .iter()
        .zip(c.weights.chunks_exact(c.ksize))
        .zip(out_a.chunks_exact_mut(3))
        .zip(out_b.chunks_exact_mut(3))
    {
        let mut acc = half;
        let xmin = xmin - c.base;
        let (lo, hi) = (xmin * 3, (xmin + n) * 3 + 1);
        let (wa, wb) = (&row_a[lo..hi], &row_b[lo..hi]);
        for (t, &w) in k[..n].iter().enumerate() {
            let (a, b) = (&wa[t * 3..t * 3 + 4], &wb[t * 3..t * 3 + 4]);
            let both = u64::from_le_bytes([a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]);
            let p = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(both as i64));
            acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(p, _mm256_set1_epi32(w)));
        }
        let s = _mm256_srai_epi32::<{ PRECISION_BITS as i32 }>(acc);
        let words = _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
        let bytes = (_mm_cvtsi128_si64(_mm_packus_epi16(words, words)) as u64).to_le_bytes();
        pa.copy_from_slice(&bytes[..3]);
        pb.copy_from_slice(&bytes[4..7]);
    }
}

/// Pillow's direct form: each output channel is a dot product of its input window.
fn horizontal_row_portable(row: &[u8], out: &mut [u8], c: Taps<'_>) {
    for ((&(xmin, n), k), px) in c
        .bounds
        .iter()
        .zip(c.weights.chunks_exact(c.ksize))
        .zip(out.chunks_exact_mut(3))
    {
        let mut sum = [1i32 << (PRECISION_BITS - 1); 3];
        for (t, &w) in k[..n].iter().enumerate() {
            let at = (xmin - c.base + t) * 3;
            for ch in 0..3 {
                sum[ch] += row[at + ch] as i32 * w;
            }
        }
        for ch in 0..3 {
            px[ch] = clip8(sum[ch]);
        }
    }
}

/// The direct form with one output pixel's three channels (and one spare lane) in a vector: a
/// tap is one 4-byte load, a widening, a 32-bit multiply (SSE4.1) and an add. The shift and the
/// two saturating packs clamp exactly as [`clip8`] does.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.1")]
unsafe fn horizontal_row_sse41(row: &[u8], out: &mut [u8], c: Taps<'_>) {
    use std::arch::x86_64::*;
    let half = _mm_set1_epi32(1i32 << (PRECISION_BITS - 1));
    for ((&(xmin, n), k), px) in c
        .bounds
        .iter()
        .zip(c.weights.chunks_exact(c.ksize))
        .zip(out.chunks_exact_mut(3))
    {
        let mut acc = half;
        let xmin = xmin - c.base;
        let window = &row[xmin * 3..(xmin + n) * 3 + 1];
        for (t, &w) in k[..n].iter().enumerate() {
            let b = &window[t * 3..t * 3 + 4];
            let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let p = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
            acc = _mm_add_epi32(acc, _mm_mullo_epi32(p, _mm_set1_epi32(w)));
        }
        let s = _mm_srai_epi32::<{ PRECISION_BITS as i32 }>(acc);
        let words = _mm_packs_epi32(s, s);
        let bytes = _mm_cvtsi128_si32(_mm_packus_epi16(words, words)).to_le_bytes();
        px.copy_from_slice(&bytes[..3]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_time_chosen_multiply_add_equals_the_portable_one() {
        let row: Vec<u8> = (0..997u32).map(|i| (i * 37 % 256) as u8).collect();
        for w in [-1_234_567, -3, 0, 1, 4_194_304, 2_000_001] {
            let mut fast = vec![7i32; row.len()];
            let mut plain = fast.clone();
            mac_row(&mut fast, &row, w);
            mac_row_portable(&mut plain, &row, w);
            assert_eq!(fast, plain, "weight {w}");
        }
    }

    /// The whole table of a resize's coefficients, as Pillow computes it.
    fn full_coeffs(in_size: u32, out_size: u32, filter: Filter) -> Coeffs {
        coeffs(in_size, u64::from(out_size), filter, 0..out_size as usize)
    }

    #[test]
    fn a_window_of_coefficients_equals_those_rows_of_the_whole_table() {
        // Downscales, upscales, same size, both filters; windows at either end, inside, one
        // output pixel, and the whole axis.
        for (i, o) in [
            (320u32, 299u32),
            (4000, 224),
            (7, 224),
            (301, 225),
            (64, 64),
            (1, 3),
        ] {
            for filter in [Filter::Bicubic, Filter::Bilinear] {
                let all = full_coeffs(i, o, filter);
                let o = o as usize;
                for range in [0..o, 0..1, o - 1..o, o / 3..o / 3 + o / 2, o / 2..o] {
                    let part = coeffs(i, o as u64, filter, range.clone());
                    let (want, got) = (all.taps(range.clone()), part.taps(range.clone()));
                    assert_eq!(part.ksize, all.ksize, "{i}->{o} {range:?}");
                    assert_eq!(got.bounds, want.bounds, "{i}->{o} {filter:?} {range:?}");
                    assert_eq!(got.weights, want.weights, "{i}->{o} {filter:?} {range:?}");
                    assert_eq!(part.bound(range.start), all.bound(range.start));
                }
            }
        }
    }

    #[test]
    fn a_strip_is_resized_only_where_the_crop_is() {
        // Resized whole, this strip would be 224 x 22,400,000 (15 GB): only the crop is
        // computed. A ramp from top to bottom, so the crop must come from the middle.
        let cfg = PreprocessConfig::default();
        let n = 100_000u32;
        for tall in [true, false] {
            let value = |i: u32| (u64::from(i) * 256 / u64::from(n)) as u8;
            let img = if tall {
                RgbImage::from_fn(1, n, |_, y| image::Rgb([value(y); 3]))
            } else {
                RgbImage::from_fn(n, 1, |x, _| image::Rgb([value(x); 3]))
            };
            let (w, h) = img.dimensions();
            assert!(!cfg.resized_is_preview_sized(w, h));
            let mut out = Pixels::Bytes(Vec::new());
            let mut scratch = Scratch::default();
            let preview = cfg.apply_pixels_reusing(&img, &mut out, &mut scratch);
            assert!(preview.is_none(), "no whole resize of a strip");
            let Pixels::Bytes(bytes) = out else {
                panic!("the buffer keeps its form")
            };
            assert_eq!(bytes.len(), cfg.tensor_len());
            assert!(
                bytes.iter().all(|&b| (127..=128).contains(&b)),
                "the middle of the ramp, tall: {tall}: {:?}",
                &bytes[..12]
            );
            let (floats, whole) = cfg.apply_with_resized(&img);
            assert!(whole.is_none());
            assert_eq!(floats, cfg.apply(&img));
        }
    }

    /// Pillow's resampler in its plain form (Resample.c: a horizontal pass over the rows the
    /// vertical pass reads, then a vertical pass, 8-bit rounding in between), the oracle for
    /// the vectorised passes.
    fn direct_resize(img: &RgbImage, width: u32, height: u32, filter: Filter) -> RgbImage {
        let (iw, ih) = img.dimensions();
        let (horiz, vert) = (
            full_coeffs(iw, width, filter),
            full_coeffs(ih, height, filter),
        );
        let (first, last) = if height != ih {
            let (lo, n) = vert.bounds[height as usize - 1];
            (vert.bounds[0].0, lo + n)
        } else {
            (0, ih as usize)
        };
        let dot = |k: &[i32], px: &mut dyn FnMut(usize) -> u8| {
            let s = k
                .iter()
                .enumerate()
                .fold(1i32 << (PRECISION_BITS - 1), |s, (t, &w)| {
                    s + px(t) as i32 * w
                });
            clip8(s)
        };
        let mut tmp = RgbImage::new(width, (last - first) as u32);
        if width != iw {
            for y in first..last {
                for x in 0..width as usize {
                    let (xmin, n) = horiz.bounds[x];
                    let k = &horiz.weights[x * horiz.ksize..x * horiz.ksize + n];
                    for c in 0..3 {
                        let v = dot(k, &mut |t| img.get_pixel((xmin + t) as u32, y as u32)[c]);
                        tmp.get_pixel_mut(x as u32, (y - first) as u32)[c] = v;
                    }
                }
            }
        } else {
            tmp = image::imageops::crop_imm(img, 0, first as u32, iw, (last - first) as u32)
                .to_image();
        }
        if height == ih {
            return tmp;
        }
        let mut out = RgbImage::new(width, height);
        for y in 0..height as usize {
            let (ymin, n) = vert.bounds[y];
            let k = &vert.weights[y * vert.ksize..y * vert.ksize + n];
            for x in 0..width {
                for c in 0..3 {
                    let v = dot(k, &mut |t| tmp.get_pixel(x, (ymin + t - first) as u32)[c]);
                    out.get_pixel_mut(x, y as u32)[c] = v;
                }
            }
        }
        out
    }

    fn noise(width: u32, height: u32, seed: u32) -> RgbImage {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        RgbImage::from_fn(width, height, |_, _| {
            let mut byte = || {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            };
            image::Rgb([byte(), byte(), byte()])
        })
    }

    #[test]
    fn every_resize_path_equals_pillows_direct_form() {
        // Downscales as after DCT-scaled decoding, upscales, one side only, odd row counts (the
        // paired-row path has a single row left over), huge ratios and one-pixel pictures.
        let cases = [
            (320, 240, 299, 224, Filter::Bicubic),
            (320, 240, 299, 224, Filter::Bicubic), // coefficients from the last picture
            (240, 320, 224, 298, Filter::Bicubic),
            (301, 225, 299, 224, Filter::Bicubic),
            (7, 5, 224, 224, Filter::Bicubic),
            (1, 1, 3, 2, Filter::Bicubic),
            (64, 65, 31, 65, Filter::Bicubic),
            (64, 64, 64, 33, Filter::Bicubic),
            (4000, 31, 224, 2, Filter::Bicubic),
            (500, 375, 298, 224, Filter::Bicubic),
            (500, 375, 298, 224, Filter::Bilinear), // same sizes, other weights
        ];
        // One scratch through every case: buffers and coefficients left by another picture
        // must not leak into the next.
        let mut scratch = Scratch::default();
        let mut pixels = Vec::new();
        for (i, &(iw, ih, ow, oh, filter)) in cases.iter().enumerate() {
            let img = noise(iw, ih, i as u32 + 1);
            let want = direct_resize(&img, ow, oh, filter);
            let got = pil_resize_into(&img, ow, oh, filter, &mut scratch, pixels);
            assert_eq!(got, want, "{iw}x{ih} -> {ow}x{oh}");
            assert_eq!(pil_resize(&img, ow, oh, filter), want, "fresh buffers");
            pixels = got.into_raw();
        }
    }

    #[test]
    fn a_window_of_the_resize_equals_that_part_of_the_whole_resize() {
        // Both passes, one pass only (either way round), same size (a copy), windows at the
        // edges, one pixel wide, and windows reaching past the picture (clamped).
        type Case = (
            u32,
            u32,
            u32,
            u32,
            std::ops::Range<usize>,
            std::ops::Range<usize>,
        );
        let cases: [Case; 9] = [
            (320, 240, 299, 224, 37..261, 0..224),
            (240, 320, 224, 298, 0..224, 37..261),
            (320, 240, 299, 224, 0..1, 223..224),
            (320, 240, 299, 224, 298..299, 0..7),
            (64, 65, 31, 65, 3..30, 10..64),
            (64, 64, 64, 33, 5..60, 1..32),
            (50, 40, 50, 40, 10..20, 5..35),
            (7, 5, 224, 224, 0..224, 100..101),
            (12, 9, 20, 15, 4..40, 3..30),
        ];
        let mut scratch = Scratch::default();
        let mut pixels = Vec::new();
        for (i, (iw, ih, ow, oh, x, y)) in cases.into_iter().enumerate() {
            let img = noise(iw, ih, 40 + i as u32);
            let whole = direct_resize(&img, ow, oh, Filter::Bicubic);
            let (x1, y1) = (x.end.min(ow as usize), y.end.min(oh as usize));
            let (wx, wy) = (x.start as u32, y.start as u32);
            let want = image::imageops::crop_imm(&whole, wx, wy, x1 as u32 - wx, y1 as u32 - wy)
                .to_image();
            let window = Window { x, y };
            let got = resize_window_into(
                &img,
                (u64::from(ow), u64::from(oh)),
                Filter::Bicubic,
                window.clone(),
                &mut scratch,
                pixels,
            );
            assert_eq!(got, want, "{iw}x{ih} -> {ow}x{oh}, {window:?}");
            pixels = got.into_raw();
        }
    }

    #[test]
    fn resizing_only_the_crop_gives_the_tensor_the_whole_resize_gives() {
        let square = PreprocessConfig::default();
        let squash = PreprocessConfig {
            mode: ResizeMode::Squash,
            ..PreprocessConfig::default()
        };
        let oblong = PreprocessConfig {
            crop: (200, 150),
            filter: Filter::Bilinear,
            ..PreprocessConfig::default()
        };
        // A crop larger than the resize on one side: padded below.
        let padded = PreprocessConfig {
            crop: (230, 240),
            ..PreprocessConfig::default()
        };
        // Landscape, portrait, wide, the model's size, smaller than it, odd sizes.
        let sizes = [
            (320, 240),
            (240, 320),
            (500, 200),
            (224, 224),
            (224, 300),
            (100, 60),
            (301, 225),
            // Too wide for a whole resize (the preview then comes from elsewhere).
            (4700, 200),
        ];
        let mut scratch = Scratch::default();
        for (c, cfg) in [square, squash, oblong, padded].iter().enumerate() {
            for (i, &(w, h)) in sizes.iter().enumerate() {
                let img = noise(w, h, (c * 10 + i) as u32 + 1);
                for empty in [Pixels::Floats(Vec::new()), Pixels::Bytes(Vec::new())] {
                    let mut want = empty.clone();
                    cfg.apply_pixels_reusing(&img, &mut want, &mut Scratch::default());
                    let mut got = empty.clone();
                    cfg.crop_pixels_reusing(&img, &mut got, &mut scratch);
                    assert_eq!(got.len(), cfg.tensor_len());
                    assert!(
                        got == want,
                        "config {c}, {w}x{h}, {}",
                        matches!(empty, Pixels::Bytes(_))
                    );
                }
                let mut floats = vec![0f32; cfg.tensor_len()];
                cfg.apply_into(&img, &mut floats);
                let mut whole = vec![0f32; cfg.tensor_len()];
                cfg.apply_reusing(&img, &mut whole, &mut Scratch::default());
                assert_eq!(floats, whole, "apply_into, config {c}, {w}x{h}");
            }
        }
    }

    #[test]
    fn vectorised_horizontal_rows_equal_the_portable_one() {
        for (iw, ow) in [(320u32, 299u32), (9, 224), (1000, 17), (2, 1)] {
            let c = full_coeffs(iw, ow, Filter::Bicubic);
            let img = noise(iw, 2, iw);
            let padded = |y: usize| {
                let mut r = img.as_raw()[y * iw as usize * 3..(y + 1) * iw as usize * 3].to_vec();
                r.extend_from_slice(&[0; 4]);
                r
            };
            let (a, b) = (padded(0), padded(1));
            let n = ow as usize * 3;
            let (mut want_a, mut want_b) = (vec![0u8; n], vec![0u8; n]);
            let c = c.taps(0..ow as usize);
            horizontal_row_portable(&a, &mut want_a, c);
            horizontal_row_portable(&b, &mut want_b, c);
            let (mut got_a, mut got_b) = (vec![0u8; n], vec![0u8; n]);
            horizontal_row(&a, &mut got_a, c);
            assert_eq!(got_a, want_a, "one row, {iw} -> {ow}");
            horizontal_rows(&a, &b, &mut got_a, &mut got_b, c);
            assert_eq!((got_a, got_b), (want_a, want_b), "two rows, {iw} -> {ow}");
        }
    }

    #[test]
    fn resize_target_truncates_the_long_side_like_transformers() {
        let cfg = PreprocessConfig::default();
        assert_eq!(cfg.resize_target(1000, 200), (1120, 224));
        assert_eq!(cfg.resize_target(200, 1000), (224, 1120));
        // 224 * 301 / 225 = 299.66 → 299 (int() truncates)
        assert_eq!(cfg.resize_target(301, 225), (299, 224));
        assert_eq!(cfg.resize_target(50, 50), (224, 224));
        // Strips: in u64, no overflow, no wrap.
        assert_eq!(cfg.resize_target(1, 5_000_000), (224, 1_120_000_000));
        assert_eq!(cfg.resize_target(60_000, 4), (3_360_000, 224));
        assert_eq!(
            cfg.resize_target(u32::MAX, 1),
            (224 * u64::from(u32::MAX), 224)
        );
        assert!(
            cfg.resized_is_preview_sized(4000, 250),
            "16:1 has a whole resize"
        );
        assert!(
            !cfg.resized_is_preview_sized(250, 4600),
            "over 18:1 has not"
        );
    }

    #[test]
    fn bicubic_weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(1000u32, 224u32), (50, 224), (301, 299), (4000, 224)] {
            let c = full_coeffs(i, o, Filter::Bicubic);
            for xx in 0..o as usize {
                let (_, n) = c.bounds[xx];
                let s: i64 = c.weights[xx * c.ksize..xx * c.ksize + n]
                    .iter()
                    .map(|&w| w as i64)
                    .sum();
                assert!(
                    (s - (1 << PRECISION_BITS)).abs() <= n as i64,
                    "{i}->{o} at {xx}: {s}"
                );
            }
        }
    }

    #[test]
    fn constant_picture_stays_constant_and_same_size_is_a_copy() {
        let img = RgbImage::from_pixel(317, 211, image::Rgb([12, 200, 77]));
        let r = pil_resize(&img, 224, 149, Filter::Bicubic);
        assert!(r.pixels().all(|p| p.0 == [12, 200, 77]));
        let same = pil_resize(&img, 317, 211, Filter::Bicubic);
        assert_eq!(same, img);
    }

    #[test]
    fn a_picture_smaller_than_the_crop_is_padded_right_and_below() {
        let cfg = PreprocessConfig {
            crop: (4, 3),
            ..PreprocessConfig::default()
        };
        let img = RgbImage::from_fn(3, 2, |x, y| image::Rgb([(10 * x + y) as u8, 100, 200]));
        let mut out = vec![f32::NAN; cfg.tensor_len()];
        cfg.crop_normalise(&img, &mut out);
        let norm = |c: usize, v: u8| ((v as f64 * cfg.rescale) as f32 - cfg.mean[c]) / cfg.std[c];
        for y in 0..3u32 {
            for x in 0..4u32 {
                let i = (y * 4 + x) as usize;
                let inside = x < 3 && y < 2;
                let px = if inside {
                    img.get_pixel(x, y).0
                } else {
                    [0, 0, 0]
                };
                for c in 0..3 {
                    assert_eq!(out[c * 12 + i], norm(c, px[c]), "({x}, {y}) channel {c}");
                }
            }
        }
        // The byte crop pads with zero bytes, which normalise to the same padding.
        let mut bytes = Pixels::Bytes(vec![7; 5]);
        cfg.crop_into(&img, &mut bytes);
        let Pixels::Bytes(bytes) = bytes else {
            panic!("the buffer keeps its form")
        };
        assert_eq!(&bytes[..9], &[0, 100, 200, 10, 100, 200, 20, 100, 200]);
        assert_eq!(&bytes[9..12], &[0, 0, 0], "right of the picture");
        assert!(bytes[24..].iter().all(|&b| b == 0), "below the picture");
        let mut again = vec![f32::NAN; cfg.tensor_len()];
        cfg.normalise_bytes(&bytes, &mut again);
        assert_eq!(again, out);
    }

    #[test]
    fn tensor_is_chw_and_normalised() {
        let img = RgbImage::from_pixel(224, 224, image::Rgb([255, 0, 128]));
        let cfg = PreprocessConfig::default();
        let t = cfg.apply(&img);
        assert_eq!(t.len(), 3 * 224 * 224);
        let plane = 224 * 224;
        let r = (1.0f32 - CLIP_MEAN[0]) / CLIP_STD[0];
        let g = (0.0f32 - CLIP_MEAN[1]) / CLIP_STD[1];
        assert_eq!(t[0], r);
        assert_eq!(t[plane + 5], g);
    }
}
