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
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// OpenAI CLIP's normalisation constants, the default when a config omits them.
// Written as OpenAI publishes them; numpy rounds them to f32 the same way Rust does.
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

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

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| invalid(path, e.to_string()))
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
        Ok(PreprocessConfig {
            resize: w,
            crop: (w, h),
            mean: cfg.mean.unwrap_or(CLIP_MEAN),
            std: cfg.std.unwrap_or(CLIP_STD),
            rescale: 1.0 / 255.0,
            filter,
            mode,
        })
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
        Ok(PreprocessConfig {
            resize,
            crop,
            mean: cfg.image_mean.unwrap_or(CLIP_MEAN),
            std: cfg.image_std.unwrap_or(CLIP_STD),
            rescale: cfg.rescale_factor.unwrap_or(1.0 / 255.0),
            filter,
            mode: ResizeMode::Shortest,
        })
    }

    /// The size the picture is resized to before cropping, as transformers computes it
    /// (`get_resize_output_image_size`: the long side is `int(size * long / short)`).
    pub fn resize_target(&self, width: u32, height: u32) -> (u32, u32) {
        match self.mode {
            ResizeMode::Squash => (self.resize, self.resize),
            ResizeMode::Shortest => {
                let (short, long) = if width <= height {
                    (width, height)
                } else {
                    (height, width)
                };
                let new_long =
                    ((self.resize as f64 * long as f64) / short.max(1) as f64).trunc() as u32;
                if width <= height {
                    (self.resize, new_long.max(1))
                } else {
                    (new_long.max(1), self.resize)
                }
            }
        }
    }

    /// Number of f32 values in one image's tensor.
    pub fn tensor_len(&self) -> usize {
        3 * self.crop.0 as usize * self.crop.1 as usize
    }

    /// Resizes, crops and normalises one upright RGB picture into `out` (CHW, `tensor_len` long).
    pub fn apply_into(&self, img: &RgbImage, out: &mut [f32]) {
        let (tw, th) = self.resize_target(img.width(), img.height());
        let resized = pil_resize(img, tw, th, self.filter);
        self.crop_normalise(&resized, out);
    }

    /// Like [`apply`](Self::apply), also returning the resized, uncropped picture: the
    /// indexer's preview, which then costs no second resize.
    pub fn apply_with_resized(&self, img: &RgbImage) -> (Vec<f32>, RgbImage) {
        let mut out = vec![0f32; self.tensor_len()];
        let resized = self.apply_into_keep_resized(img, &mut out);
        (out, resized)
    }

    /// [`apply_into`](Self::apply_into) that also returns the resized, uncropped picture.
    pub fn apply_into_keep_resized(&self, img: &RgbImage, out: &mut [f32]) -> RgbImage {
        let (tw, th) = self.resize_target(img.width(), img.height());
        let resized = pil_resize(img, tw, th, self.filter);
        self.crop_normalise(&resized, out);
        resized
    }

    /// Centre crop + rescale + normalise of an already resized picture.
    fn crop_normalise(&self, resized: &RgbImage, out: &mut [f32]) {
        let (tw, th) = resized.dimensions();
        let (cw, ch) = self.crop;
        // transformers' center_crop: offsets floored; the resize guarantees no padding is needed
        // for Shortest mode, but guard anyway by clamping to the image.
        let top = (th as i64 - ch as i64).div_euclid(2).max(0) as u32;
        let left = (tw as i64 - cw as i64).div_euclid(2).max(0) as u32;
        let plane = cw as usize * ch as usize;
        debug_assert_eq!(out.len(), 3 * plane);
        let mut lut = [[0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, slot) in table.iter_mut().enumerate() {
                let x = (v as f64 * self.rescale) as f32;
                *slot = (x - self.mean[c]) / self.std[c];
            }
        }
        let raw = resized.as_raw();
        let stride = tw as usize * 3;
        for y in 0..ch {
            let sy = y + top;
            for x in 0..cw {
                let sx = x + left;
                let i = y as usize * cw as usize + x as usize;
                if sy >= th || sx >= tw {
                    // Outside the picture (only for inputs smaller than the crop): zero padding,
                    // as transformers pads with zeros before normalising.
                    for c in 0..3 {
                        out[c * plane + i] = lut[c][0];
                    }
                    continue;
                }
                let p = sy as usize * stride + sx as usize * 3;
                for c in 0..3 {
                    out[c * plane + i] = lut[c][raw[p + c] as usize];
                }
            }
        }
    }

    /// Convenience wrapper of [`apply_into`](Self::apply_into) that allocates the tensor.
    pub fn apply(&self, img: &RgbImage) -> Vec<f32> {
        let mut out = vec![0f32; self.tensor_len()];
        self.apply_into(img, &mut out);
        out
    }
}

/// Pillow's fixed-point precision for 8-bit resampling (`PRECISION_BITS` in Resample.c).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// One output pixel's input window and integer weights.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for a full-image box.
fn coeffs(in_size: u32, out_size: u32, filter: Filter) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size as usize);
    let mut weights = vec![0i32; out_size as usize * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size as usize {
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
        let row = &mut weights[xx * ksize..xx * ksize + ksize];
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
        ksize,
        bounds,
        weights,
    }
}

/// `acc[i] += row[i] * w`: the inner loop of both resize passes. Baseline x86-64 (SSE2) has no
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

/// Resizes an RGB picture exactly as Pillow's `Image.resize(size, BICUBIC|BILINEAR)` does for
/// mode "RGB" with no box and no reducing gap, including its skipped passes and intermediate
/// 8-bit rounding.
pub fn pil_resize(img: &RgbImage, width: u32, height: u32, filter: Filter) -> RgbImage {
    let (iw, ih) = img.dimensions();
    if (iw, ih) == (width, height) || iw == 0 || ih == 0 || width == 0 || height == 0 {
        return if (iw, ih) == (width, height) {
            img.clone()
        } else {
            RgbImage::new(width, height)
        };
    }
    let need_h = width != iw;
    let need_v = height != ih;
    let horiz = coeffs(iw, width, filter);
    let vert = coeffs(ih, height, filter);
    let first = vert.bounds[0].0;
    let last = vert.bounds[height as usize - 1].0 + vert.bounds[height as usize - 1].1;

    let src = img.as_raw();
    let in_stride = iw as usize * 3;
    // Horizontal pass over only the rows the vertical pass will read. It runs on the transposed
    // picture (input columns as contiguous runs), so its inner loop is the same contiguous
    // multiply-add as the vertical pass and vectorises; the sums are integers, so the result is
    // bit-for-bit the direct form's.
    let (tmp, tmp_w, row_offset) = if need_h {
        let rows = last - first;
        let col = rows * 3;
        let mut columns = vec![0u8; iw as usize * col];
        for r in 0..rows {
            let in_row = &src[(r + first) * in_stride..(r + first + 1) * in_stride];
            for (x, px) in in_row.chunks_exact(3).enumerate() {
                let at = x * col + r * 3;
                columns[at..at + 3].copy_from_slice(px);
            }
        }
        let mut acc = vec![0i32; col];
        let mut out_columns = vec![0u8; width as usize * col];
        for (xx, (&(xmin, n), out_col)) in horiz
            .bounds
            .iter()
            .zip(out_columns.chunks_exact_mut(col))
            .enumerate()
        {
            let k = &horiz.weights[xx * horiz.ksize..xx * horiz.ksize + n];
            acc.fill(1i32 << (PRECISION_BITS - 1));
            for (t, &w) in k.iter().enumerate() {
                mac_row(
                    &mut acc,
                    &columns[(xmin + t) * col..(xmin + t + 1) * col],
                    w,
                );
            }
            for (o, &a) in out_col.iter_mut().zip(&acc) {
                *o = clip8(a);
            }
        }
        let out_stride = width as usize * 3;
        let mut tmp = vec![0u8; rows * out_stride];
        for (xx, out_col) in out_columns.chunks_exact(col).enumerate() {
            for (r, px) in out_col.chunks_exact(3).enumerate() {
                let at = r * out_stride + xx * 3;
                tmp[at..at + 3].copy_from_slice(px);
            }
        }
        (tmp, width, first)
    } else {
        (src.to_vec(), iw, 0)
    };
    if !need_v {
        // Only reachable when need_h: the horizontal pass covered every row.
        return RgbImage::from_raw(tmp_w, ih, tmp).unwrap_or_else(|| RgbImage::new(tmp_w, ih));
    }
    let stride = tmp_w as usize * 3;
    let mut out = vec![0u8; height as usize * stride];
    // Row at a time (integer sums, so the order of the terms does not change the result): the
    // inner loop runs over contiguous bytes and vectorises.
    let mut acc = vec![0i32; stride];
    for (yy, &(ymin, n)) in vert.bounds.iter().enumerate() {
        let k = &vert.weights[yy * vert.ksize..yy * vert.ksize + n];
        let ymin = ymin - row_offset;
        acc.fill(1i32 << (PRECISION_BITS - 1));
        for (y, &w) in k.iter().enumerate() {
            mac_row(
                &mut acc,
                &tmp[(ymin + y) * stride..(ymin + y + 1) * stride],
                w,
            );
        }
        let out_row = &mut out[yy * stride..(yy + 1) * stride];
        for (slot, &a) in out_row.iter_mut().zip(&acc) {
            *slot = clip8(a);
        }
    }
    RgbImage::from_raw(tmp_w, height, out).unwrap_or_else(|| RgbImage::new(tmp_w, height))
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

    #[test]
    fn resize_target_truncates_the_long_side_like_transformers() {
        let cfg = PreprocessConfig::default();
        assert_eq!(cfg.resize_target(1000, 200), (1120, 224));
        assert_eq!(cfg.resize_target(200, 1000), (224, 1120));
        // 224 * 301 / 225 = 299.66 → 299 (int() truncates)
        assert_eq!(cfg.resize_target(301, 225), (299, 224));
        assert_eq!(cfg.resize_target(50, 50), (224, 224));
    }

    #[test]
    fn bicubic_weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(1000u32, 224u32), (50, 224), (301, 299), (4000, 224)] {
            let c = coeffs(i, o, Filter::Bicubic);
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
