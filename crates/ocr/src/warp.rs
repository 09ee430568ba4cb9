//! Cutting one line out of the picture upright: the perspective transform that maps its four
//! corners to a rectangle, applied as `cv2.warpPerspective(..., INTER_CUBIC,
//! BORDER_REPLICATE)` does on 8-bit pictures (coordinates in 1/32 pixel, bicubic weights with
//! A = -0.75 in 15-bit fixed point), and the quarter and half turns the reference applies.

use image::RgbImage;

/// `cv2.getPerspectiveTransform(src, dst)`: the 3×3 matrix (row-major, last entry 1) that maps
/// each `src` corner onto its `dst` corner, or None when the corners are degenerate.
pub(crate) fn perspective_transform(src: &[[f32; 2]; 4], dst: &[[f32; 2]; 4]) -> Option<[f64; 9]> {
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let (x, y) = (f64::from(src[i][0]), f64::from(src[i][1]));
        let (u, v) = (f64::from(dst[i][0]), f64::from(dst[i][1]));
        a[i] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u, u];
        a[i + 4] = [0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v, v];
    }
    // Gaussian elimination with partial pivoting (OpenCV solves with LU).
    for c in 0..8 {
        let p = (c..8).max_by(|&r, &s| a[r][c].abs().total_cmp(&a[s][c].abs()))?;
        if a[p][c].abs() < f64::EPSILON {
            return None;
        }
        a.swap(c, p);
        let pivot = a[c];
        for row in a.iter_mut().skip(c + 1) {
            let f = row[c] / pivot[c];
            for (v, p) in row.iter_mut().zip(pivot).skip(c) {
                *v -= f * p;
            }
        }
    }
    let mut x = [0f64; 8];
    for c in (0..8).rev() {
        let s: f64 = (c + 1..8).map(|k| a[c][k] * x[k]).sum();
        x[c] = (a[c][8] - s) / a[c][c];
    }
    Some([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], 1.0])
}

/// The inverse of a 3×3 matrix (what `warpPerspective` does to the matrix it is given).
fn invert(m: &[f64; 9]) -> Option<[f64; 9]> {
    let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
        + m[2] * (m[3] * m[7] - m[4] * m[6]);
    if det == 0.0 || !det.is_finite() {
        return None;
    }
    let d = 1.0 / det;
    Some([
        (m[4] * m[8] - m[5] * m[7]) * d,
        (m[2] * m[7] - m[1] * m[8]) * d,
        (m[1] * m[5] - m[2] * m[4]) * d,
        (m[5] * m[6] - m[3] * m[8]) * d,
        (m[0] * m[8] - m[2] * m[6]) * d,
        (m[2] * m[3] - m[0] * m[5]) * d,
        (m[3] * m[7] - m[4] * m[6]) * d,
        (m[1] * m[6] - m[0] * m[7]) * d,
        (m[0] * m[4] - m[1] * m[3]) * d,
    ])
}

/// OpenCV's bicubic weights (`interpolateCubic`, A = -0.75) at fraction `x`.
fn cubic(x: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let c0 = ((A * (x + 1.0) - 5.0 * A) * (x + 1.0) + 8.0 * A) * (x + 1.0) - 4.0 * A;
    let c1 = ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let c2 = ((A + 2.0) * (1.0 - x) - (A + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
    [c0, c1, c2, 1.0 - c0 - c1 - c2]
}

/// `cv2.warpPerspective(img, m, (width, height), flags=INTER_CUBIC,
/// borderMode=BORDER_REPLICATE)`, `m` mapping source to destination. OpenCV 5 samples at
/// float coordinates (older versions rounded them to 1/32 pixel), so this does.
pub(crate) fn warp_perspective(
    img: &RgbImage,
    m: &[f64; 9],
    width: u32,
    height: u32,
) -> Option<RgbImage> {
    let inv = invert(m)?;
    let (sw, sh) = (i64::from(img.width()), i64::from(img.height()));
    let src = img.as_raw();
    let mut out = RgbImage::new(width, height);
    let buf: &mut [u8] = &mut out;
    for y in 0..height as usize {
        for x in 0..width as usize {
            let (fx, fy) = (x as f64, y as f64);
            let w = inv[6] * fx + inv[7] * fy + inv[8];
            let w = if w != 0.0 { 1.0 / w } else { 0.0 };
            let px = ((inv[0] * fx + inv[1] * fy + inv[2]) * w) as f32;
            let py = ((inv[3] * fx + inv[4] * fy + inv[5]) * w) as f32;
            let (flx, fly) = (px.floor(), py.floor());
            let (cx, cy) = (cubic(px - flx), cubic(py - fly));
            let (sx, sy) = (flx as i64 - 1, fly as i64 - 1);
            let xs = [0, 1, 2, 3].map(|k| (sx + k).clamp(0, sw - 1) as usize);
            let ys = [0, 1, 2, 3].map(|k| (sy + k).clamp(0, sh - 1) as usize);
            let o = (y * width as usize + x) * 3;
            for c in 0..3 {
                let mut sum = 0f32;
                for (r, &yy) in ys.iter().enumerate() {
                    let row = yy * sw as usize * 3;
                    let mut acc = 0f32;
                    for (k, &xx) in xs.iter().enumerate() {
                        acc += f32::from(src[row + xx * 3 + c]) * cx[k];
                    }
                    sum += acc * cy[r];
                }
                buf[o + c] = sum.round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Some(out)
}

/// `np.rot90`: a quarter turn counter-clockwise.
pub(crate) fn rotate_90_ccw(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    RgbImage::from_fn(h, w, |x, y| *img.get_pixel(w - 1 - y, x))
}

/// `cv2.rotate(img, ROTATE_180)`.
pub(crate) fn rotate_180(img: &RgbImage) -> RgbImage {
    image::imageops::rotate180(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transform_maps_each_corner_onto_its_target() {
        let src = [[10.0, 5.0], [90.0, 12.0], [85.0, 40.0], [8.0, 30.0]];
        let dst = [[0.0, 0.0], [80.0, 0.0], [80.0, 30.0], [0.0, 30.0]];
        let m = perspective_transform(&src, &dst).unwrap();
        for (s, d) in src.iter().zip(dst) {
            let (x, y) = (f64::from(s[0]), f64::from(s[1]));
            let w = m[6] * x + m[7] * y + m[8];
            let u = (m[0] * x + m[1] * y + m[2]) / w;
            let v = (m[3] * x + m[4] * y + m[5]) / w;
            assert!((u - f64::from(d[0])).abs() < 1e-6 && (v - f64::from(d[1])).abs() < 1e-6);
        }
        assert!(perspective_transform(&[[0.0, 0.0]; 4], &dst).is_none());
    }

    #[test]
    fn cubic_weights_sum_to_one_and_interpolate_at_whole_pixels() {
        for i in 0..32 {
            let w = cubic(i as f32 / 32.0);
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert_eq!(cubic(0.0), [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn a_translation_crops_exactly() {
        let img = RgbImage::from_fn(20, 10, |x, y| {
            image::Rgb([(x * 10) as u8, (y * 20) as u8, 9])
        });
        let src = [[4.0, 2.0], [12.0, 2.0], [12.0, 7.0], [4.0, 7.0]];
        let dst = [[0.0, 0.0], [8.0, 0.0], [8.0, 5.0], [0.0, 5.0]];
        let m = perspective_transform(&src, &dst).unwrap();
        let out = warp_perspective(&img, &m, 8, 5).unwrap();
        for (x, y, p) in out.enumerate_pixels() {
            assert_eq!(p, img.get_pixel(x + 4, y + 2), "at {x},{y}");
        }
    }

    #[test]
    fn outside_the_picture_the_edge_is_repeated() {
        let img = RgbImage::from_fn(4, 4, |x, _| image::Rgb([x as u8 * 50; 3]));
        let src = [[-3.0, 0.0], [1.0, 0.0], [1.0, 4.0], [-3.0, 4.0]];
        let dst = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]];
        let out =
            warp_perspective(&img, &perspective_transform(&src, &dst).unwrap(), 4, 4).unwrap();
        assert_eq!(out.get_pixel(0, 1)[0], 0);
        assert_eq!(out.get_pixel(3, 1)[0], 0);
        assert_eq!(out.get_pixel(3, 2)[0], 0);
    }

    #[test]
    fn turns_move_corners_where_numpy_and_opencv_put_them() {
        let img = RgbImage::from_fn(3, 2, |x, y| image::Rgb([(x + 3 * y) as u8; 3]));
        let q = rotate_90_ccw(&img);
        assert_eq!(q.dimensions(), (2, 3));
        // np.rot90: the top-right pixel becomes the top-left.
        assert_eq!(q.get_pixel(0, 0)[0], 2);
        assert_eq!(q.get_pixel(1, 2)[0], 3);
        assert_eq!(rotate_180(&img).get_pixel(0, 0)[0], 5);
    }

    #[test]
    fn matches_opencv_byte_for_byte() {
        // opencv-python 5.1.0: cv2.warpPerspective(pattern, cv2.getPerspectiveTransform(quad,
        // rect), (9, 5), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC).
        let img = RgbImage::from_fn(12, 10, |x, y| {
            image::Rgb([0, 1, 2].map(|c| ((x * 29 + y * 71 + c * 53 + x * y * 7) % 256) as u8))
        });
        let quad = [[1.0, 2.0], [10.0, 1.0], [11.0, 8.0], [2.0, 9.0]];
        let rect = [[0.0, 0.0], [9.0, 0.0], [9.0, 5.0], [0.0, 5.0]];
        let want: &[u8] = &[
            185, 238, 35, 232, 36, 89, 41, 94, 89, 102, 60, 142, 164, 111, 164, 78, 131, 210, 97,
            179, 137, 119, 140, 193, 136, 189, 244, 7, 87, 185, 79, 168, 207, 140, 196, 160, 170,
            172, 0, 175, 0, 71, 1, 78, 127, 89, 133, 150, 140, 117, 144, 86, 154, 37, 197, 159, 43,
            179, 78, 111, 56, 127, 124, 36, 111, 151, 131, 157, 145, 158, 177, 137, 202, 147, 25,
            153, 22, 102, 27, 115, 155, 106, 82, 163, 87, 151, 230, 195, 250, 119, 91, 146, 60, 66,
            72, 154, 121, 146, 89, 147, 109, 108, 126, 151, 98, 191, 106, 78, 204, 111, 163, 161,
            38, 89, 60, 103, 182, 137, 131, 210, 196, 242, 72, 44, 98, 107, 74, 124, 204, 148, 219,
            57, 222, 86, 106,
        ];
        let got =
            warp_perspective(&img, &perspective_transform(&quad, &rect).unwrap(), 9, 5).unwrap();
        let diff = got
            .as_raw()
            .iter()
            .zip(want)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(diff, 0, "{:?}", got.as_raw());
    }
}
