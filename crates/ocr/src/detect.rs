//! Text detection: the picture as the DB graph wants it, and its probability map turned into
//! line boxes the way the reference's `DBPostProcess` and `filter_tag_det_res` do (threshold,
//! 2×2 dilation, borders, minimum-area rectangles, mean probability inside, growth by the
//! unclip ratio, mapping to picture pixels, clipping, dropping slivers).

use crate::contour::find_contours;
use crate::geometry::{self, Quad};
use crate::offset::offset_polygon;
use crate::resize::resize_linear;
use image::RgbImage;

/// The reference's detection settings (`config.yaml`, `Det`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DetParams {
    /// Probability above which a pixel is text.
    pub(crate) thresh: f32,
    /// Mean probability inside a box below which it is dropped.
    pub(crate) box_thresh: f64,
    /// How far a box grows, relative to its area over its perimeter.
    pub(crate) unclip_ratio: f64,
    /// Most borders looked at.
    pub(crate) max_candidates: usize,
}

impl Default for DetParams {
    fn default() -> Self {
        DetParams {
            thresh: 0.3,
            box_thresh: 0.5,
            unclip_ratio: 1.6,
            max_candidates: 1000,
        }
    }
}

/// Shortest side a box may have before growing (`min_size`).
const MIN_SIZE: f64 = 3.0;

/// The graph's input size for a `width` × `height` picture: scaled so the short side reaches
/// `limit` (never shrunk) when `grow_short`, else so the long side stays within `limit`; then
/// each side rounded to a multiple of 32 (Python's `round`, halves to even).
pub(crate) fn input_size(width: u32, height: u32, limit: u32, grow_short: bool) -> (u32, u32) {
    let (w, h, l) = (f64::from(width), f64::from(height), f64::from(limit));
    let ratio = if grow_short {
        if h.min(w) < l {
            if h < w {
                l / h
            } else {
                l / w
            }
        } else {
            1.0
        }
    } else if h.max(w) > l {
        if h > w {
            l / h
        } else {
            l / w
        }
    } else {
        1.0
    };
    let round32 = |v: f64| ((v.trunc() / 32.0).round_ties_even() * 32.0) as u32;
    (round32(w * ratio), round32(h * ratio))
}

/// The picture resized to `size` and normalised to `(v / 255 - 0.5) / 0.5`, channels in the
/// reference's BGR order, NCHW.
pub(crate) fn tensor(img: &RgbImage, size: (u32, u32)) -> Vec<f32> {
    let resized = resize_linear(img, size.0, size.1);
    let plane = size.0 as usize * size.1 as usize;
    let mut out = vec![0f32; plane * 3];
    let scale = (1.0f64 / 255.0) as f32;
    for (i, p) in resized.pixels().enumerate() {
        for c in 0..3 {
            // numpy: float32 product, then float64 arithmetic, stored as float32.
            let x = f32::from(p[2 - c]) * scale;
            out[c * plane + i] = ((f64::from(x) - 0.5) / 0.5) as f32;
        }
    }
    out
}

/// One detected box in the picture the map was made for, with its score.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub(crate) quad: Quad,
    pub(crate) score: f32,
}

/// Boxes from a `map_w` × `map_h` probability map, in the pixels of a `dest_w` × `dest_h`
/// picture, filtered as the reference does, not yet in reading order.
pub(crate) fn boxes(
    pred: &[f32],
    map_w: usize,
    map_h: usize,
    dest_w: u32,
    dest_h: u32,
    p: &DetParams,
) -> Vec<Found> {
    // Threshold, then dilate with the 2×2 kernel (anchor at its centre: each pixel takes the
    // maximum of itself and its left, upper and upper-left neighbours).
    let seg: Vec<u8> = pred.iter().map(|&v| u8::from(v > p.thresh)).collect();
    let mut mask = seg.clone();
    for y in 0..map_h {
        for x in 0..map_w {
            let i = y * map_w + x;
            let mut v = seg[i];
            if x > 0 {
                v |= seg[i - 1];
            }
            if y > 0 {
                v |= seg[i - map_w];
                if x > 0 {
                    v |= seg[i - map_w - 1];
                }
            }
            mask[i] = v;
        }
    }
    let contours = find_contours(&mask, map_w, map_h);
    let mut out = Vec::new();
    for contour in contours.iter().take(p.max_candidates) {
        let (quad, side) = geometry::mini_box(contour);
        if side < MIN_SIZE {
            continue;
        }
        let score = box_score_fast(pred, map_w, map_h, &quad);
        if p.box_thresh > score {
            continue;
        }
        let (area, length) = geometry::area_and_perimeter(&quad);
        if length <= 0.0 {
            continue;
        }
        let grown = offset_polygon(&quad, area * p.unclip_ratio / length);
        if grown.is_empty() {
            continue;
        }
        let gpts: Vec<[i32; 2]> = grown.iter().map(|q| [q[0] as i32, q[1] as i32]).collect();
        let (big, side) = geometry::mini_box(&gpts);
        if side < MIN_SIZE + 2.0 {
            continue;
        }
        let map = |v: f32, from: usize, to: u32| {
            ((v / from as f32 * to as f32).round_ties_even()).clamp(0.0, to as f32)
        };
        let scaled: Quad = big.map(|c| [map(c[0], map_w, dest_w), map(c[1], map_h, dest_h)]);
        out.push(Found {
            quad: scaled,
            score: score as f32,
        });
    }
    // filter_tag_det_res: corner order, clipping to whole pixels inside, no slivers.
    out.into_iter()
        .filter_map(|f| {
            let q = geometry::order_clockwise(&f.quad);
            let q = q.map(|c| {
                [
                    c[0].clamp(0.0, dest_w as f32 - 1.0).trunc(),
                    c[1].clamp(0.0, dest_h as f32 - 1.0).trunc(),
                ]
            });
            let w = geometry::dist(q[0], q[1]) as i32;
            let h = geometry::dist(q[0], q[3]) as i32;
            (w > 3 && h > 3).then_some(Found {
                quad: q,
                score: f.score,
            })
        })
        .collect()
}

/// The reference's `box_score_fast`: the mean probability over the pixels the box covers.
fn box_score_fast(pred: &[f32], w: usize, h: usize, quad: &Quad) -> f64 {
    let xs = quad.map(|c| c[0]);
    let ys = quad.map(|c| c[1]);
    let clampi = |v: f32, hi: usize| (v as i64).clamp(0, hi as i64 - 1);
    let xmin = clampi(xs.iter().copied().fold(f32::MAX, f32::min).floor(), w);
    let xmax = clampi(xs.iter().copied().fold(f32::MIN, f32::max).ceil(), w);
    let ymin = clampi(ys.iter().copied().fold(f32::MAX, f32::min).floor(), h);
    let ymax = clampi(ys.iter().copied().fold(f32::MIN, f32::max).ceil(), h);
    // Vertices shifted into the window and truncated to whole pixels, as cv2.fillPoly gets them.
    let poly: Vec<[f64; 2]> = quad
        .iter()
        .map(|c| {
            [
                f64::from((c[0] - xmin as f32) as i32),
                f64::from((c[1] - ymin as f32) as i32),
            ]
        })
        .collect();
    let (mut sum, mut count) = (0f64, 0usize);
    for y in 0..=(ymax - ymin) {
        let Some((l, r)) = span(&poly, y as f64) else {
            continue;
        };
        let lo = (l.round() as i64).max(0);
        let hi = (r.round() as i64).min(xmax - xmin);
        for x in lo..=hi {
            let idx = (ymin + y) as usize * w + (xmin + x) as usize;
            if let Some(v) = pred.get(idx) {
                sum += f64::from(*v);
                count += 1;
            }
        }
    }
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// Where the horizontal line at `y` crosses a convex polygon: the leftmost and rightmost x.
fn span(poly: &[[f64; 2]], y: f64) -> Option<(f64, f64)> {
    let (mut l, mut r) = (f64::MAX, f64::MIN);
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        let (lo, hi) = (a[1].min(b[1]), a[1].max(b[1]));
        if y < lo || y > hi {
            continue;
        }
        if a[1] == b[1] {
            l = l.min(a[0].min(b[0]));
            r = r.max(a[0].max(b[0]));
        } else {
            let x = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
            l = l.min(x);
            r = r.max(x);
        }
    }
    (l <= r).then_some((l, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_grows_the_short_side_to_the_limit_in_multiples_of_32() {
        assert_eq!(input_size(640, 480, 736, true), (992, 736));
        // Already large enough: only rounded (1200 / 32 = 37.5 rounds to even, 38).
        assert_eq!(input_size(1600, 1200, 736, true), (1600, 1216));
        // The gate's form: the long side within the limit.
        assert_eq!(input_size(1600, 1200, 320, false), (320, 256));
    }

    #[test]
    fn the_tensor_is_bgr_planes_scaled_to_minus_one_one() {
        let img = RgbImage::from_pixel(32, 32, image::Rgb([255, 0, 51]));
        let t = tensor(&img, (32, 32));
        let plane = 32 * 32;
        assert_eq!(
            t[0],
            (f64::from(51f32 * (1.0f64 / 255.0) as f32) * 2.0 - 1.0) as f32
        );
        assert_eq!(t[plane], -1.0);
        assert_eq!(t[2 * plane], 1.0);
    }

    #[test]
    fn a_bright_bar_in_the_map_becomes_one_grown_box() {
        let (w, h) = (64usize, 32usize);
        let mut pred = vec![0.01f32; w * h];
        for y in 10..18 {
            for x in 8..50 {
                pred[y * w + x] = 0.9;
            }
        }
        // The destination is twice the map: coordinates double.
        let found = boxes(&pred, w, h, 128, 64, &DetParams::default());
        assert_eq!(found.len(), 1, "{found:?}");
        let q = found[0].quad;
        assert!(found[0].score > 0.7, "{}", found[0].score);
        // Grown by area * 1.6 / perimeter = 43*9*1.6/104 ≈ 5.9 px of map, then doubled.
        assert!(q[0][0] < 16.0 - 8.0 && q[0][1] < 20.0 - 8.0, "{q:?}");
        assert!(q[2][0] > 98.0 + 8.0 && q[2][1] > 34.0 + 8.0, "{q:?}");
    }

    #[test]
    fn faint_or_tiny_blobs_are_dropped() {
        let (w, h) = (40usize, 40usize);
        let mut pred = vec![0.0f32; w * h];
        // A faint bar: above the pixel threshold, below the box threshold.
        for y in 5..12 {
            for x in 5..35 {
                pred[y * w + x] = 0.4;
            }
        }
        // A 2-pixel speck.
        pred[30 * w + 30] = 0.9;
        pred[30 * w + 31] = 0.9;
        assert!(boxes(&pred, w, h, 40, 40, &DetParams::default()).is_empty());
    }
}
