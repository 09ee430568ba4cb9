//! One photo file → everything the indexer needs from it, in one read: its content hash (to
//! recognise moved and copied files and reuse their vectors), its preprocessed tensor, its size
//! in pixels and a thumbnail written from the same decode (unless the file can serve as its own
//! preview). Runs on the decode pool.

use crate::catalog::Source;
pub use crate::hash::{content_hash, ContentHash};
use crate::thumbs::{self, Previews};
use glimpse_clip::budget::{self, BudgetError};
use glimpse_clip::decode::{self, DecodeError, DecodeOptions};
use glimpse_clip::metadata::Metadata;
use glimpse_clip::preprocess::{self, Pixels, PreprocessConfig};
use std::collections::HashMap;
use std::path::Path;

/// What became of one file on the decode pool.
#[derive(Debug)]
pub enum Prepared {
    /// Same bytes as a photo that already has a vector: reuse it, encode nothing.
    Known {
        /// The file's content hash.
        hash: ContentHash,
        /// The photo whose vector to copy.
        same_as: Source,
    },
    /// Decoded and preprocessed, ready for the encoder.
    Tensor {
        /// The file's content hash.
        hash: ContentHash,
        /// The model input, in the encoder's form (normalised floats or the crop's bytes).
        tensor: Pixels,
        /// Upright width at full resolution.
        width: u32,
        /// Upright height at full resolution.
        height: u32,
        /// The detected container format (lower-case name).
        format: String,
        /// What the file says about itself (date taken, camera, position).
        metadata: Metadata,
        /// How the picture came out when it is not all there ([`decode::Decoded::note`]).
        note: Option<String>,
    },
}

/// Why a file could not be prepared; the reason is recorded in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The file disappeared between the scan and now.
    #[error("vanished before it could be read")]
    Vanished,
    /// Reading or decoding failed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Decoding the picture alone would take more than the process's decode memory budget.
    #[error(transparent)]
    Memory(#[from] BudgetError),
}

/// The largest decoded-pixel buffer a decode thread keeps for the next photo (a 12 MP JPEG
/// decoded at 1/4 is 2.3 MB; a PNG decoded at full size can be hundreds).
const KEEP_PIXELS_MAX: usize = 16 << 20;

/// Buffers one decode thread keeps from photo to photo (decoded pixels, the resize passes, the
/// preview), so that a stream of photos allocates nothing per photo once warm, whatever the
/// allocator does with freed memory (returned and re-faulted pages cost a single-threaded loop
/// a fifth of its time on small photos).
#[derive(Debug, Default)]
pub struct Scratch {
    pixels: Vec<u8>,
    resize: preprocess::Scratch,
}

/// Reads, hashes and (unless its content is already known) decodes one file into normalised
/// floats.
pub fn prepare(
    path: &Path,
    cfg: &PreprocessConfig,
    known: &HashMap<ContentHash, Source>,
    previews: Option<Previews<'_>>,
) -> Result<Prepared, PrepareError> {
    prepare_into(
        path,
        cfg,
        known,
        previews,
        Pixels::Floats(Vec::new()),
        &mut Scratch::default(),
    )
}

/// [`prepare`] writing the picture into `buffer`, in the form it holds (the encoder's), reused
/// from an earlier photo so the decode pool does not allocate and fault in a fresh tensor per
/// photo, with the thread's `scratch` buffers.
pub fn prepare_into(
    path: &Path,
    cfg: &PreprocessConfig,
    known: &HashMap<ContentHash, Source>,
    previews: Option<Previews<'_>>,
    buffer: Pixels,
    scratch: &mut Scratch,
) -> Result<Prepared, PrepareError> {
    // One open, checked on the handle: a pipe or a device put in the file's place since the
    // scan is refused, never waited on or read without end.
    let read = glimpse_clip::PhotoFile::open(path)
        .and_then(|f| {
            let len = f.len();
            f.read_all(decode::MAX_FILE_BYTES).map(|b| (b, len))
        })
        .map_err(|e| match e {
            e if e.is_not_found() => PrepareError::Vanished,
            e => PrepareError::Decode(e.into()),
        });
    let (bytes, file_len) = read?;
    #[cfg(feature = "fault-injection")]
    crate::fault::while_reading(path);
    let hash = content_hash(&bytes);
    if let Some(&same_as) = known.get(&hash) {
        return Ok(Prepared::Known { hash, same_as });
    }
    let opts = DecodeOptions::for_model(cfg.resize);
    // Held until the decoded pixels are freed, at the end: decode threads together stay within
    // the process's budget, however many large pictures come at once.
    let _memory = budget::global().reserve(decode::footprint(&bytes, opts))?;
    let pixels = std::mem::take(&mut scratch.pixels);
    let d = decode::decode_bytes_reusing(&bytes, opts, pixels)?;
    let metadata = glimpse_clip::metadata::read(&bytes);
    drop(bytes);
    let mut tensor = buffer;
    let own_preview = thumbs::original_is_preview(
        d.format,
        d.width,
        d.height,
        file_len,
        d.viewers_see_it_as_decoded(),
    );
    if let Some(Previews { cache: t, .. }) = previews.filter(|p| p.even_small || !own_preview) {
        // The preview is the picture as decoded for the model (a JPEG DCT-scaled to at least
        // twice the model's size on its short side), written as it is or shrunk once to the
        // preview size: no second decode, and sharp at the grid's largest size on a 2x display
        // (thumbs::PREVIEW_SHORT_SIDE).
        if let Err(e) = t.write(&hex::encode(hash), &d.image) {
            // A missing preview must not cost the photo its vector.
            tracing::warn!(path = %path.display(), "thumbnail: {e}");
        }
    }
    // The model's input as without a preview: only the centre crop's pixels are resized.
    cfg.crop_pixels_reusing(&d.image, &mut tensor, &mut scratch.resize);
    let note = d.note;
    let pixels = d.image.into_raw();
    if pixels.capacity() <= KEEP_PIXELS_MAX {
        // Not a full-size decode of a huge PNG: that one must not stay in memory per thread.
        scratch.pixels = pixels;
    }
    Ok(Prepared::Tensor {
        hash,
        tensor,
        width: d.width,
        height: d.height,
        format: d.format.to_string(),
        metadata,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thumbs::Thumbs;

    #[test]
    fn reused_buffers_give_what_fresh_ones_give() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = PreprocessConfig::default();
        // Large then small then other-format: what one photo leaves in the buffers must not
        // show up in the next.
        let mut paths = Vec::new();
        for (i, (w, h)) in [(640u32, 480u32), (90, 70), (300, 451), (640, 480)]
            .into_iter()
            .enumerate()
        {
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 7 + i as u32) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8])
            });
            let p = dir
                .path()
                .join(format!("{i}.{}", if i == 2 { "png" } else { "jpg" }));
            img.save(&p).unwrap();
            paths.push(p);
        }
        let mut scratch = Scratch::default();
        let mut buffer = Pixels::Floats(Vec::new());
        let mut bytes = Pixels::Bytes(Vec::new());
        for p in &paths {
            let fresh = prepare(p, &cfg, &HashMap::new(), None).unwrap();
            let reused =
                prepare_into(p, &cfg, &HashMap::new(), None, buffer, &mut scratch).unwrap();
            let as_bytes =
                prepare_into(p, &cfg, &HashMap::new(), None, bytes, &mut scratch).unwrap();
            let (
                Prepared::Tensor { tensor: a, .. },
                Prepared::Tensor { tensor: b, .. },
                Prepared::Tensor { tensor: c, .. },
            ) = (fresh, reused, as_bytes)
            else {
                panic!("expected tensors")
            };
            assert_eq!(a, b, "{}", p.display());
            // The crop's bytes, normalised as a byte-input graph does, are the same floats.
            let (Pixels::Floats(want), Pixels::Bytes(crop)) = (&a, &c) else {
                panic!("each buffer keeps its form")
            };
            let mut got = vec![0f32; cfg.tensor_len()];
            cfg.normalise_bytes(crop, &mut got);
            assert!(
                got.iter()
                    .zip(want)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{}",
                p.display()
            );
            (buffer, bytes) = (b, c);
        }
        assert!(!scratch.pixels.is_empty(), "the decoded pixels are kept");
    }

    #[test]
    fn known_content_is_not_decoded_and_unknown_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.png");
        // Over a megapixel: it gets a preview file.
        image::RgbImage::from_pixel(1500, 1000, image::Rgb([1, 2, 3]))
            .save(&p)
            .unwrap();
        let cfg = PreprocessConfig::default();
        let thumbs = Thumbs::new(dir.path().join("thumbs"));
        let first = prepare(&p, &cfg, &HashMap::new(), Some(previews(&thumbs, false))).unwrap();
        let Prepared::Tensor {
            hash,
            tensor,
            width,
            height,
            format,
            ..
        } = first
        else {
            panic!("expected a tensor")
        };
        assert_eq!((width, height, format.as_str()), (1500, 1000, "png"));
        assert_eq!(tensor.len(), cfg.tensor_len());
        assert!(thumbs.exists(&hex::encode(hash)));
        let known = HashMap::from([(hash, Source::Photo(7))]);
        match prepare(&p, &cfg, &known, None).unwrap() {
            Prepared::Known { same_as, .. } => assert_eq!(same_as, Source::Photo(7)),
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(&p).unwrap();
        assert!(matches!(
            prepare(&p, &cfg, &known, None),
            Err(PrepareError::Vanished)
        ));
    }

    /// A small CMYK JPEG (white, 4 channels): libjpeg-turbo refuses it, the tolerant decoder
    /// reads it, so no web view may be trusted to show the original.
    fn cmyk_jpeg(width: usize, height: usize) -> Vec<u8> {
        let pixels = vec![255u8; width * height * 4];
        let mut c = turbojpeg::Compressor::new().unwrap();
        c.set_subsamp(turbojpeg::Subsamp::None).unwrap();
        c.compress_to_vec(turbojpeg::Image {
            pixels: pixels.as_slice(),
            width,
            pitch: width * 4,
            height,
            format: turbojpeg::PixelFormat::CMYK,
        })
        .unwrap()
    }

    #[test]
    fn preview_files_are_written_only_where_the_original_cannot_serve() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/images");
        let dir = tempfile::tempdir().unwrap();
        let thumbs = Thumbs::new(dir.path());
        let cfg = PreprocessConfig::default();
        let cmyk = dir.path().join("cmyk.jpg");
        std::fs::write(&cmyk, cmyk_jpeg(320, 240)).unwrap();
        for (name, preview_file) in [
            ("jpeg_baseline.jpg", false),
            // Small and upright, but only the tolerant decoder reads it.
            (cmyk.to_str().unwrap(), true),
            ("odd_301x225.png", false),
            // Sideways as stored, over a megapixel, not shown by every web view.
            ("exif_orientation_6.jpg", true),
            ("large_2400x1800.jpg", true),
            ("lossy.webp", true),
        ] {
            let path = fixtures.join(name);
            let (
                Prepared::Tensor { hash, tensor, .. },
                Prepared::Tensor {
                    tensor: without, ..
                },
            ) = (
                prepare(&path, &cfg, &HashMap::new(), Some(previews(&thumbs, false))).unwrap(),
                prepare(&path, &cfg, &HashMap::new(), None).unwrap(),
            )
            else {
                panic!("expected a tensor for {name}")
            };
            assert_eq!(thumbs.exists(&hex::encode(hash)), preview_file, "{name}");
            // With a preview the whole picture is resized, without only the crop: same tensor.
            assert_eq!(tensor, without, "{name}");
        }
        // A folder that may be unplugged: small photos get a preview too, the same tensor.
        let other = Thumbs::new(dir.path().join("offline"));
        let path = fixtures.join("jpeg_baseline.jpg");
        let (
            Prepared::Tensor { hash, tensor, .. },
            Prepared::Tensor {
                tensor: without, ..
            },
        ) = (
            prepare(&path, &cfg, &HashMap::new(), Some(previews(&other, true))).unwrap(),
            prepare(&path, &cfg, &HashMap::new(), None).unwrap(),
        )
        else {
            panic!("expected a tensor")
        };
        assert!(other.exists(&hex::encode(hash)));
        assert_eq!(tensor, without);
    }

    /// Strips of any aspect ratio (a 19 KB PNG of 1 x 5,000,000 pixels once asked for 752 GB
    /// and aborted the indexer), both ways round, through the indexer's path with previews:
    /// each indexes from its centre crop with a preview inside the preview box.
    #[test]
    fn strips_index_with_a_bounded_preview_both_ways_round() {
        let dir = tempfile::tempdir().unwrap();
        let thumbs = Thumbs::new(dir.path().join("thumbs"));
        let cfg = PreprocessConfig::default();
        let colour = [200u8, 100, 50];
        let mut cases = Vec::new();
        for (w, h) in [(1u32, 5_000_000u32), (5_000_000, 1)] {
            let p = dir.path().join(format!("strip_{w}x{h}.png"));
            let img = image::RgbImage::from_pixel(w, h, image::Rgb(colour));
            let mut png = Vec::new();
            let encoder = image::codecs::png::PngEncoder::new_with_quality(
                &mut png,
                image::codecs::png::CompressionType::Best,
                image::codecs::png::FilterType::NoFilter,
            );
            img.write_with_encoder(encoder).unwrap();
            std::fs::write(&p, png).unwrap();
            cases.push((p, w, h, 0u8));
        }
        for (w, h) in [(60_000u32, 4u32), (4, 60_000)] {
            let p = dir.path().join(format!("strip_{w}x{h}.jpg"));
            let img = image::RgbImage::from_pixel(w, h, image::Rgb(colour));
            let jpeg = turbojpeg::compress_image(&img, 90, turbojpeg::Subsamp::None).unwrap();
            std::fs::write(&p, jpeg).unwrap();
            // JPEG keeps a flat colour within a level or two.
            cases.push((p, w, h, 3u8));
        }
        for (path, w, h, slack) in cases {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::metadata(&path).unwrap().len();
            assert!(bytes < 1 << 20, "{name}: a small file ({bytes} bytes)");
            let with = prepare_into(
                &path,
                &cfg,
                &HashMap::new(),
                Some(previews(&thumbs, true)),
                Pixels::Bytes(Vec::new()),
                &mut Scratch::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            let Prepared::Tensor {
                hash,
                tensor,
                width,
                height,
                ..
            } = with
            else {
                panic!("{name}: expected a tensor")
            };
            assert_eq!((width, height), (w, h), "{name}");
            // The centre crop of a flat strip is that colour everywhere: no padding, no junk.
            let Pixels::Bytes(crop) = &tensor else {
                panic!("{name}: the buffer keeps its form")
            };
            assert_eq!(crop.len(), cfg.tensor_len(), "{name}");
            for px in crop.chunks_exact(3) {
                for (&got, &want) in px.iter().zip(&colour) {
                    assert!(got.abs_diff(want) <= slack, "{name}: {px:?}");
                }
            }
            let preview = image::open(thumbs.path_for(&hex::encode(hash))).unwrap();
            let (pw, ph) = (preview.width(), preview.height());
            assert!(
                pw.max(ph) == crate::thumbs::THUMB_SIZE && pw.min(ph) >= 1,
                "{name}: preview {pw}x{ph}"
            );
            assert_eq!(pw > ph, w > h, "{name}: the preview keeps the orientation");
            // Without a preview: the same tensor.
            let Prepared::Tensor {
                tensor: without, ..
            } = prepare_into(
                &path,
                &cfg,
                &HashMap::new(),
                None,
                Pixels::Bytes(Vec::new()),
                &mut Scratch::default(),
            )
            .unwrap()
            else {
                panic!("{name}: expected a tensor")
            };
            assert_eq!(tensor, without, "{name}");
        }
    }

    #[test]
    fn previews_are_as_sharp_as_the_decode_allows_and_leave_the_model_input_alone() {
        let dir = tempfile::tempdir().unwrap();
        let thumbs = Thumbs::new(dir.path().join("thumbs"));
        let cfg = PreprocessConfig::default();
        let pattern = |w: u32, h: u32| {
            image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x / 7) as u8, (y / 5) as u8, ((x + y) / 11) as u8])
            })
        };
        // A 12 MP JPEG decodes at 1/4 (1000 x 750): its preview is that decode, not the
        // model's 299 x 224. A PNG decodes whole: its preview is shrunk to 720 on the short side.
        let jpeg = dir.path().join("camera.jpg");
        let bytes = turbojpeg::compress_image(&pattern(4000, 3000), 85, turbojpeg::Subsamp::Sub2x2)
            .unwrap();
        std::fs::write(&jpeg, bytes).unwrap();
        let png = dir.path().join("portrait.png");
        pattern(1500, 2000).save(&png).unwrap();
        for (path, want) in [(&jpeg, (1000, 750)), (&png, (720, 960))] {
            let with = prepare(path, &cfg, &HashMap::new(), Some(previews(&thumbs, false)));
            let Ok(Prepared::Tensor { hash, tensor, .. }) = with else {
                panic!("{}: expected a tensor", path.display())
            };
            let preview = image::open(thumbs.path_for(&hex::encode(hash))).unwrap();
            assert_eq!(
                (preview.width(), preview.height()),
                want,
                "{}",
                path.display()
            );
            let Ok(Prepared::Tensor {
                tensor: without, ..
            }) = prepare(path, &cfg, &HashMap::new(), None)
            else {
                panic!("{}: expected a tensor", path.display())
            };
            assert_eq!(tensor, without, "{}", path.display());
        }
    }

    fn previews(cache: &Thumbs, even_small: bool) -> Previews<'_> {
        Previews { cache, even_small }
    }
}
