//! Resizing as OpenCV's `cv2.resize(..., INTER_LINEAR)` does it on 8-bit pictures, because the
//! reference resizes every tensor it feeds the graphs that way and the `image` crate's filters
//! place samples and round differently.
//!
//! OpenCV samples the source at `(d + 0.5) * scale - 0.5`, clamps at the edges, weighs the two
//! neighbours with 11-bit fixed-point coefficients and rounds the vertical pass the way its
//! SIMD path does. An exact 2× reduction on both axes is an area average there, so it is here.

use image::RgbImage;

/// Fixed-point scale of OpenCV's linear resize coefficients (`INTER_RESIZE_COEF_SCALE`).
const COEF_SCALE: f32 = 2048.0;

/// One output coordinate's source index and the weight of the next source sample.
fn taps(src: u32, dst: u32, clamp_low_weight: bool) -> Vec<(usize, i32, i32)> {
    let scale = f64::from(src) / f64::from(dst);
    (0..dst)
        .map(|d| {
            let f = ((f64::from(d) + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64;
            let mut frac = f - s as f32;
            if clamp_low_weight {
                if s < 0 {
                    s = 0;
                    frac = 0.0;
                }
                if s >= i64::from(src) - 1 {
                    s = i64::from(src) - 1;
                    frac = 0.0;
                }
            }
            let w0 = ((1.0 - frac) * COEF_SCALE).round_ties_even() as i32;
            let w1 = (frac * COEF_SCALE).round_ties_even() as i32;
            (s.max(-1) as usize, w0, w1)
        })
        .collect()
}

/// `cv2.resize(img, (width, height))` with the default bilinear interpolation.
pub(crate) fn resize_linear(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if (sw, sh) == (width, height) {
        return img.clone();
    }
    if sw == width * 2 && sh == height * 2 {
        return halve(img);
    }
    let src = img.as_raw();
    let xs = taps(sw, width, true);
    // Rows are clamped when read, not by zeroing the weight (OpenCV does the same for y).
    let ys: Vec<(i64, i32, i32)> = {
        let scale = f64::from(sh) / f64::from(height);
        (0..height)
            .map(|d| {
                let f = ((f64::from(d) + 0.5) * scale - 0.5) as f32;
                let s = f.floor();
                let frac = f - s;
                let b0 = ((1.0 - frac) * COEF_SCALE).round_ties_even() as i32;
                let b1 = (frac * COEF_SCALE).round_ties_even() as i32;
                (s as i64, b0, b1)
            })
            .collect()
    };
    let row_len = width as usize * 3;
    // Horizontal pass of one source row into 2048-scaled integers.
    let hpass = |y: usize, out: &mut Vec<i32>| {
        out.clear();
        let row = &src[y * sw as usize * 3..(y + 1) * sw as usize * 3];
        let last = sw as usize - 1;
        for &(sx, a0, a1) in &xs {
            let sx1 = (sx + 1).min(last);
            for c in 0..3 {
                let p0 = i32::from(row[sx * 3 + c]);
                let p1 = i32::from(row[sx1 * 3 + c]);
                out.push(p0 * a0 + p1 * a1);
            }
        }
    };
    let mut out = vec![0u8; row_len * height as usize];
    let last_row = i64::from(sh) - 1;
    let (mut r0, mut r1) = (Vec::with_capacity(row_len), Vec::with_capacity(row_len));
    let mut cached: (i64, i64) = (-2, -2);
    for (dy, &(sy, b0, b1)) in ys.iter().enumerate() {
        let y0 = sy.clamp(0, last_row);
        let y1 = (sy + 1).clamp(0, last_row);
        if cached != (y0, y1) {
            if cached.1 == y0 {
                std::mem::swap(&mut r0, &mut r1);
            } else {
                hpass(y0 as usize, &mut r0);
            }
            hpass(y1 as usize, &mut r1);
            cached = (y0, y1);
        }
        let dst = &mut out[dy * row_len..(dy + 1) * row_len];
        for ((d, &s0), &s1) in dst.iter_mut().zip(&r0).zip(&r1) {
            *d = vertical(s0, s1, b0, b1);
        }
    }
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| RgbImage::new(width, height))
}

/// OpenCV's SIMD vertical step (`VResizeLinearVec_32s8u`): 16-bit high products, then a
/// rounding shift by 2, saturated to a byte.
#[inline]
fn vertical(s0: i32, s1: i32, b0: i32, b1: i32) -> u8 {
    let a = (((s0 >> 4) as i16 as i32) * b0) >> 16;
    let b = (((s1 >> 4) as i16 as i32) * b1) >> 16;
    ((a + b + 2) >> 2).clamp(0, 255) as u8
}

/// OpenCV's exact-half reduction (`INTER_AREA` on 2×2 blocks).
fn halve(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() / 2, img.height() / 2);
    let mut out = RgbImage::new(w, h);
    for (x, y, p) in out.enumerate_pixels_mut() {
        for c in 0..3 {
            let s = |dx: u32, dy: u32| u32::from(img.get_pixel(2 * x + dx, 2 * y + dy)[c]);
            p[c] = ((s(0, 0) + s(1, 0) + s(0, 1) + s(1, 1) + 2) >> 2) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_same_size_resize_is_a_copy() {
        let img = RgbImage::from_fn(5, 4, |x, y| image::Rgb([x as u8 * 40, y as u8 * 50, 7]));
        assert_eq!(resize_linear(&img, 5, 4), img);
    }

    #[test]
    fn doubling_interpolates_between_pixel_centres() {
        // Source 0, 100 in a row; cv2.resize to 4 wide gives 0, 25, 75, 100.
        let img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8 * 100; 3]));
        let out = resize_linear(&img, 4, 1);
        let row: Vec<u8> = out.pixels().map(|p| p[0]).collect();
        assert_eq!(row, vec![0, 25, 75, 100]);
    }

    #[test]
    fn halving_averages_two_by_two_blocks_with_rounding() {
        let img = RgbImage::from_fn(2, 2, |x, y| image::Rgb([(x + 2 * y) as u8; 3]));
        // (0 + 1 + 2 + 3 + 2) >> 2 = 2
        assert_eq!(resize_linear(&img, 1, 1).get_pixel(0, 0)[0], 2);
    }

    #[test]
    fn a_flat_picture_stays_flat_at_any_size() {
        let img = RgbImage::from_pixel(7, 3, image::Rgb([200, 13, 255]));
        let out = resize_linear(&img, 23, 48);
        assert!(out.pixels().all(|p| p.0 == [200, 13, 255]));
    }

    /// A 6 × 5 picture of unrelated values (edges everywhere, the hardest case for rounding).
    fn pattern() -> RgbImage {
        RgbImage::from_fn(6, 5, |x, y| {
            image::Rgb([0, 1, 2].map(|c| ((x * 37 + y * 91 + c * 53 + x * y * 13) % 256) as u8))
        })
    }

    #[test]
    fn matches_opencv_byte_for_byte() {
        // opencv-python 5.1.0: cv2.resize(pattern, size) with the default INTER_LINEAR.
        let want: [((u32, u32), &[u8]); 2] = [
            (
                (4, 3),
                &[
                    41, 93, 147, 103, 155, 145, 143, 132, 185, 141, 194, 119, 198, 187, 48, 100,
                    89, 142, 131, 184, 173, 225, 86, 75, 99, 152, 162, 98, 151, 97, 161, 107, 160,
                    96, 106, 159,
                ],
            ),
            (
                (13, 4),
                &[
                    11, 64, 117, 19, 72, 125, 36, 90, 142, 54, 107, 157, 72, 125, 160, 90, 142,
                    164, 108, 145, 182, 126, 148, 200, 130, 164, 218, 133, 182, 235, 147, 200, 176,
                    165, 218, 90, 172, 226, 54, 125, 178, 135, 136, 170, 146, 161, 151, 171, 175,
                    143, 178, 156, 169, 129, 141, 188, 87, 166, 139, 112, 191, 91, 137, 149, 110,
                    122, 101, 135, 103, 107, 127, 117, 133, 108, 143, 143, 101, 153, 79, 132, 89,
                    93, 127, 103, 125, 116, 135, 147, 115, 150, 136, 148, 109, 128, 175, 74, 161,
                    134, 107, 193, 93, 139, 159, 119, 132, 118, 152, 120, 132, 152, 142, 165, 140,
                    175, 178, 136, 188, 97, 150, 203, 113, 166, 176, 154, 207, 113, 168, 221, 72,
                    105, 158, 98, 51, 102, 125, 91, 128, 165, 131, 153, 205, 158, 98, 151, 184, 35,
                    88, 143, 49, 102, 80, 90, 143, 53, 107, 159,
                ],
            ),
        ];
        for ((w, h), bytes) in want {
            let got = resize_linear(&pattern(), w, h);
            let diff = got
                .as_raw()
                .iter()
                .zip(bytes)
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(diff, 0, "{w}x{h}: {:?}", got.as_raw());
        }
    }
}
