//! Line orientation: each cropped line as the orientation graph wants it (48 px high, at most
//! 192 wide, zero-padded), and the reference's rule for turning it (180° when the graph says
//! so with more than 0.9 probability).

use crate::resize::resize_linear;
use image::RgbImage;

/// Input height of the orientation graph.
pub(crate) const HEIGHT: u32 = 48;
/// Input width of the orientation graph.
pub(crate) const WIDTH: u32 = 192;
/// Lines per run, as the reference batches them.
pub(crate) const BATCH: usize = 6;
/// Probability of "upside down" above which a line is turned.
pub(crate) const THRESH: f32 = 0.9;

/// Width a line is resized to before padding: its aspect ratio at `height`, rounded up, at
/// most `max_width`.
pub(crate) fn resized_width(w: u32, h: u32, height: u32, max_width: u32) -> u32 {
    let ratio = f64::from(w) / f64::from(h);
    let want = (f64::from(height) * ratio).ceil();
    if want > f64::from(max_width) {
        max_width
    } else {
        want as u32
    }
}

/// Appends one line's CHW tensor (BGR, `(v / 255 - 0.5) / 0.5` in float32, zero-padded on the
/// right to `width`) to `out`.
pub(crate) fn push_line(
    out: &mut Vec<f32>,
    img: &RgbImage,
    height: u32,
    width: u32,
    resized_w: u32,
) {
    let resized = resize_linear(img, resized_w.max(1), height);
    let (h, w) = (height as usize, width as usize);
    let start = out.len();
    out.resize(start + 3 * h * w, 0.0);
    let rw = resized.width() as usize;
    for (x, y, p) in resized.enumerate_pixels() {
        for c in 0..3 {
            let v = (f32::from(p[2 - c]) / 255.0 - 0.5) / 0.5;
            let (x, y) = (x as usize, y as usize);
            if x < w.min(rw) {
                out[start + c * h * w + y * w + x] = v;
            }
        }
    }
}

/// Indices of `lines` by increasing width / height (stable, as numpy's sort of a few values).
pub(crate) fn by_aspect(lines: &[RgbImage]) -> Vec<usize> {
    let ratios: Vec<f64> = lines
        .iter()
        .map(|l| f64::from(l.width()) / f64::from(l.height()))
        .collect();
    let mut idx: Vec<usize> = (0..lines.len()).collect();
    idx.sort_by(|&a, &b| ratios[a].total_cmp(&ratios[b]));
    idx
}

/// Whether a line the graph scored `probs` (`[0°, 180°]`) is turned.
pub(crate) fn upside_down(probs: &[f32]) -> bool {
    match probs {
        [p0, p180] => p180 > p0 && *p180 > THRESH,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_aspect_ratio_up_to_the_cap() {
        assert_eq!(resized_width(100, 48, 48, 192), 100);
        assert_eq!(resized_width(101, 97, 48, 192), 50);
        assert_eq!(resized_width(1000, 48, 48, 192), 192);
    }

    #[test]
    fn lines_are_padded_with_zero_after_their_width() {
        let img = RgbImage::from_pixel(10, 48, image::Rgb([255, 255, 255]));
        let mut t = Vec::new();
        push_line(&mut t, &img, 48, 192, 10);
        assert_eq!(t.len(), 3 * 48 * 192);
        assert_eq!(t[9], 1.0);
        assert_eq!(t[10], 0.0);
    }

    #[test]
    fn only_a_confident_180_turns() {
        assert!(upside_down(&[0.05, 0.95]));
        assert!(!upside_down(&[0.15, 0.85]));
        assert!(!upside_down(&[0.95, 0.05]));
    }
}
