//! Generated photo-like JPEGs shared by the benchmarks.

use image::{Rgb, RgbImage};
use std::path::{Path, PathBuf};

/// A photo-like picture: smooth gradients, shapes and sensor-like noise, so the JPEG has
/// realistic entropy (a flat picture would decode unrealistically fast).
pub fn photo(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let circles: Vec<(f32, f32, f32, [u8; 3])> = (0..12)
        .map(|_| {
            (
                (rnd() % w) as f32,
                (rnd() % h) as f32,
                (rnd() % (h / 4) + 20) as f32,
                [rnd() as u8, rnd() as u8, rnd() as u8],
            )
        })
        .collect();
    let mut img = RgbImage::new(w, h);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let mut c = [
            (255.0 * fx) as u8,
            (255.0 * fy) as u8,
            (128.0 + 100.0 * (fx * 9.0 + fy * 5.0 + seed as f32).sin()) as u8,
        ];
        for (cx, cy, r, col) in &circles {
            if (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) < r * r {
                c = *col;
            }
        }
        let n = (rnd() % 25) as i16 - 12;
        *p = Rgb(c.map(|v| (v as i16 + n).clamp(0, 255) as u8));
    }
    img
}

/// `n` JPEGs of `w`x`h` (quality 90, 4:2:0) in `dir`, generated once and reused.
pub fn jpeg_folder(dir: &Path, n: usize, w: u32, h: u32) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("bench folder");
    (0..n)
        .map(|i| {
            let p = dir.join(format!("photo_{i:04}.jpg"));
            if !p.exists() {
                let img = photo(w, h, i as u32 + 1);
                let data = turbojpeg::compress_image(&img, 90, turbojpeg::Subsamp::Sub2x2)
                    .expect("JPEG encode");
                std::fs::write(&p, &data).expect("write JPEG");
            }
            p
        })
        .collect()
}
