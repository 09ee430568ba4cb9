//! A library photo as plain RGBA pixels, for "Copy image": the clipboard takes pixels, not a
//! file, and a 50-megapixel photo would put 200 MB there, so large pictures are made smaller.

use glimpse_clip::decode::{self, DecodeError, DecodeOptions};
use std::path::Path;

/// The longest side a copied picture keeps: enough for any document or chat, 64 MB at most.
pub const COPY_MAX_SIDE: u32 = 4096;

/// Upright pixels of a picture, four bytes (R, G, B, A) each, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 4` bytes.
    pub pixels: Vec<u8>,
    /// Whether the picture was made smaller than the file's.
    pub reduced: bool,
}

/// Decodes the photo at `path` upright (EXIF orientation applied) and, when its longest side
/// is over `max_side`, scales it down to that, keeping its shape.
pub fn rgba_of(path: &Path, max_side: u32) -> Result<Rgba, DecodeError> {
    let max_side = max_side.max(1);
    // JPEGs are DCT-scaled while decoding, down to a short side of half the maximum: the
    // longest side then still reaches it, and no pixels are decoded only to be dropped.
    let d = decode::decode_file(path, DecodeOptions::for_model(max_side / 4))?;
    let (w, h) = d.image.dimensions();
    let long = w.max(h).max(1);
    let image = if long > max_side {
        let scale = f64::from(max_side) / f64::from(long);
        let tw = ((f64::from(w) * scale).round() as u32).clamp(1, max_side);
        let th = ((f64::from(h) * scale).round() as u32).clamp(1, max_side);
        image::imageops::thumbnail(&d.image, tw, th)
    } else {
        d.image
    };
    let (width, height) = image.dimensions();
    let reduced = width < d.width || height < d.height;
    let pixels = image::DynamicImage::ImageRgb8(image)
        .into_rgba8()
        .into_raw();
    Ok(Rgba {
        width,
        height,
        pixels,
        reduced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(dir: &Path, name: &str, w: u32, h: u32) -> std::path::PathBuf {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        });
        let p = dir.join(name);
        img.save(&p).unwrap();
        p
    }

    #[test]
    fn a_picture_is_copied_whole_or_made_smaller_keeping_its_shape() {
        let dir = tempfile::tempdir().unwrap();
        let small = rgba_of(&save(dir.path(), "small.png", 30, 20), 64).unwrap();
        assert_eq!((small.width, small.height, small.reduced), (30, 20, false));
        assert_eq!(small.pixels.len(), 30 * 20 * 4);
        // The pixel at (5, 3), opaque.
        let at = (3 * 30 + 5) * 4;
        assert_eq!(&small.pixels[at..at + 4], &[5, 3, 7, 255]);
        let wide = rgba_of(&save(dir.path(), "wide.png", 400, 100), 64).unwrap();
        assert_eq!((wide.width, wide.height, wide.reduced), (64, 16, true));
        assert_eq!(wide.pixels.len(), 64 * 16 * 4);
        let tall = rgba_of(&save(dir.path(), "tall.jpg", 50, 300), 64).unwrap();
        assert_eq!((tall.width, tall.height), (11, 64));
        let text = dir.path().join("notes.png");
        std::fs::write(&text, b"not a picture").unwrap();
        assert!(matches!(rgba_of(&text, 64), Err(DecodeError::NotAnImage)));
    }
}
