//! The whole reading of one picture, as the reference's `RapidOCR.__call__` runs it: size
//! limits, letterbox for very wide or short pictures, detection, reading order, upright crops,
//! orientation, batched recognition, and boxes back in the picture's own pixels.

use crate::detect::{self, DetParams, Found};
use crate::geometry::{self, Quad};
use crate::models::OcrModelFiles;
use crate::warp;
use crate::{classify, recognize, TextLine};
use glimpse_clip::device::{open_session_with, DeviceOptions, OpenError};
use image::RgbImage;
use ort::session::Session;
use ort::value::Tensor;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Longest side a picture is read at; larger ones are shrunk first (`max_side_len`).
const MAX_SIDE: u32 = 2000;
/// Shortest side a picture is read at; smaller ones are enlarged first (`min_side_len`).
const MIN_SIDE: u32 = 30;
/// Pictures this short, or wider than [`WIDTH_HEIGHT_RATIO`] times their height, are padded
/// above and below before detection (`min_height`).
const MIN_HEIGHT: u32 = 30;
/// See [`MIN_HEIGHT`] (`width_height_ratio`).
const WIDTH_HEIGHT_RATIO: u32 = 8;
/// Short side the detector sees (`limit_side_len`, `limit_type: min`).
const DET_SIDE: u32 = 736;
/// Largest detector input, in pixels. The detector enlarges a picture's short side to 736 px,
/// so a tall strip thinner than about 1:70 (wide ones are letterboxed first) would need tens
/// of gigabytes, where the reference runs out of memory.
const MAX_DET_PIXELS: u64 = 40_000_000;
/// Lines whose mean character confidence is below this are dropped (`text_score`).
const TEXT_SCORE: f32 = 0.5;

/// Why a picture could not be read, or the reader not opened.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// A graph could not be opened on any device.
    #[error("cannot open the OCR {graph} graph: {source}")]
    Open {
        /// Which of the three graphs.
        graph: &'static str,
        /// What ONNX Runtime said.
        source: OpenError,
    },
    /// A graph is not what the reader expects (no input, no dictionary, wrong output shape).
    #[error("{path}: unexpected OCR graph: {message}")]
    Graph {
        /// The model file.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// The picture is too thin a strip to read: the detector would need more memory than any
    /// photo warrants.
    #[error("a {width}x{height} picture is too thin a strip to read text in")]
    Shape {
        /// The picture's width.
        width: u32,
        /// The picture's height.
        height: u32,
    },
    /// ONNX Runtime failed while running a graph.
    #[error("OCR {graph} failed: {message}")]
    Run {
        /// Which of the three graphs.
        graph: &'static str,
        /// ONNX Runtime's message.
        message: String,
    },
}

/// The cheap look the indexing pass can take before reading a picture in full: detection only,
/// on a small copy.
#[derive(Debug, Clone, PartialEq)]
pub struct TextProbe {
    /// Boxes found, in the picture's pixels (corners as in [`TextLine::quad`]).
    pub boxes: Vec<[[f32; 2]; 4]>,
    /// The highest mean text probability of a box (0 when there is none).
    pub best_score: f32,
}

/// One opened graph, run by one thread at a time.
struct Graph {
    session: Mutex<Session>,
    input: String,
    path: PathBuf,
    name: &'static str,
}

impl Graph {
    fn open(
        env: &ort::environment::Environment,
        path: &Path,
        name: &'static str,
        opts: &DeviceOptions,
    ) -> Result<Self, OcrError> {
        let (session, selection) =
            open_session_with(env, path, None, opts).map_err(|source| OcrError::Open {
                graph: name,
                source,
            })?;
        tracing::info!(graph = name, provider = %selection.label(), "OCR graph opened");
        let input = session
            .inputs()
            .first()
            .map(|i| i.name().to_owned())
            .ok_or_else(|| OcrError::Graph {
                path: path.to_path_buf(),
                message: "no input".into(),
            })?;
        Ok(Graph {
            session: Mutex::new(session),
            input,
            path: path.to_path_buf(),
            name,
        })
    }

    /// Runs the graph on one NCHW float tensor: the first output's shape and values.
    fn run(&self, shape: [i64; 4], data: Vec<f32>) -> Result<(Vec<i64>, Vec<f32>), OcrError> {
        let err = |e: ort::Error| OcrError::Run {
            graph: self.name,
            message: e.to_string(),
        };
        let tensor = Tensor::from_array((shape, data)).map_err(err)?;
        let mut session = self.session.lock().map_err(|_| OcrError::Run {
            graph: self.name,
            message: "session poisoned by an earlier panic".into(),
        })?;
        let outputs = session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(err)?;
        let (dims, values) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        Ok((dims.iter().copied().collect(), values.to_vec()))
    }

    fn shape_err(&self, dims: &[i64], want: &str) -> OcrError {
        OcrError::Graph {
            path: self.path.clone(),
            message: format!("output shape {dims:?}, expected {want}"),
        }
    }
}

/// Reads the text in pictures with the three PP-OCRv4 graphs. Safe to share between threads:
/// each graph runs one picture's batch at a time.
pub struct Reader {
    det: Graph,
    cls: Graph,
    rec: Graph,
    alphabet: Vec<String>,
    params: DetParams,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("detect", &self.det.path)
            .field("characters", &self.alphabet.len())
            .finish()
    }
}

impl Reader {
    /// Opens the three graphs on the device in `opts` (CPU fallback as for the CLIP encoders)
    /// and reads the recogniser's dictionary from its metadata.
    pub fn open(
        env: &ort::environment::Environment,
        files: &OcrModelFiles,
        opts: &DeviceOptions,
    ) -> Result<Reader, OcrError> {
        let det = Graph::open(env, &files.detect, "detection", opts)?;
        let cls = Graph::open(env, &files.classify, "orientation", opts)?;
        let rec = Graph::open(env, &files.recognize, "recognition", opts)?;
        let meta = {
            let session = rec.session.lock().map_err(|_| OcrError::Run {
                graph: rec.name,
                message: "poisoned".into(),
            })?;
            let meta = session.metadata().map_err(|e| OcrError::Graph {
                path: rec.path.clone(),
                message: e.to_string(),
            })?;
            meta.custom("character")
        };
        let meta = meta.ok_or_else(|| OcrError::Graph {
            path: rec.path.clone(),
            message: "no `character` metadata (the dictionary)".into(),
        })?;
        let alphabet = recognize::alphabet(&meta);
        Ok(Reader {
            det,
            cls,
            rec,
            alphabet,
            params: DetParams::default(),
        })
    }

    /// The lines of text in `img` (upright RGB), top to bottom, left to right on a line, each
    /// with its corners in `img`'s pixels and its confidence; lines read with a confidence
    /// below 0.5 are left out.
    pub fn read(&self, img: &RgbImage) -> Result<Vec<TextLine>, OcrError> {
        let (raw_w, raw_h) = img.dimensions();
        if raw_w == 0 || raw_h == 0 {
            return Ok(Vec::new());
        }
        let (work, ratio_w, ratio_h) = limit_size(img);
        let (work, top) = letterbox(work);
        let size = detect::input_size(work.width(), work.height(), DET_SIDE, true);
        let found = self.detect(&work, size)?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let quads = geometry::reading_order(found.into_iter().map(|f| f.quad).collect());
        let mut lines = Vec::with_capacity(quads.len());
        let mut kept = Vec::with_capacity(quads.len());
        for q in &quads {
            if let Some(c) = crop(&work, q) {
                lines.push(c);
                kept.push(*q);
            }
        }
        self.orient(&mut lines)?;
        let texts = self.recognize(&lines)?;
        tracing::debug!(
            width = raw_w,
            height = raw_h,
            boxes = kept.len(),
            "OCR read a picture"
        );
        let mut out = Vec::new();
        for (q, (text, confidence)) in kept.iter().zip(texts) {
            if confidence < TEXT_SCORE {
                continue;
            }
            let quad = q.map(|c| {
                let x = (c[0] * ratio_w).clamp(0.0, raw_w as f32);
                let y = ((c[1] - top as f32) * ratio_h).clamp(0.0, raw_h as f32);
                [x, y]
            });
            out.push(TextLine {
                text,
                quad,
                confidence,
            });
        }
        Ok(out)
    }

    /// Detection alone on a copy of `img` whose long side is at most `max_side` pixels (a
    /// multiple of 32; smaller pictures are not enlarged): whether a picture has text, for a
    /// fraction of a full read's cost.
    pub fn probe(&self, img: &RgbImage, max_side: u32) -> Result<TextProbe, OcrError> {
        let (w, h) = img.dimensions();
        let size = detect::input_size(w, h, max_side.max(32), false);
        if w == 0 || h == 0 || size.0 == 0 || size.1 == 0 {
            return Ok(TextProbe {
                boxes: Vec::new(),
                best_score: 0.0,
            });
        }
        let found = self.detect(img, size)?;
        let best_score = found.iter().map(|f| f.score).fold(0.0, f32::max);
        Ok(TextProbe {
            boxes: found.into_iter().map(|f| f.quad).collect(),
            best_score,
        })
    }

    fn detect(&self, img: &RgbImage, size: (u32, u32)) -> Result<Vec<Found>, OcrError> {
        if size.0 == 0 || size.1 == 0 {
            return Ok(Vec::new());
        }
        if !fits_detector(size) {
            return Err(OcrError::Shape {
                width: img.width(),
                height: img.height(),
            });
        }
        let t = detect::tensor(img, size);
        let (dims, pred) = self
            .det
            .run([1, 3, i64::from(size.1), i64::from(size.0)], t)?;
        let [_, _, mh, mw] = dims[..] else {
            return Err(self.det.shape_err(&dims, "[1, 1, height, width]"));
        };
        if (mh * mw) as usize != pred.len() {
            return Err(self.det.shape_err(&dims, "[1, 1, height, width]"));
        }
        Ok(detect::boxes(
            &pred,
            mw as usize,
            mh as usize,
            img.width(),
            img.height(),
            &self.params,
        ))
    }

    /// Turns the lines the orientation graph finds upside down.
    fn orient(&self, lines: &mut [RgbImage]) -> Result<(), OcrError> {
        let order = classify::by_aspect(lines);
        for chunk in order.chunks(classify::BATCH) {
            let mut t =
                Vec::with_capacity(chunk.len() * 3 * (classify::HEIGHT * classify::WIDTH) as usize);
            for &i in chunk {
                let l = &lines[i];
                let rw = classify::resized_width(
                    l.width(),
                    l.height(),
                    classify::HEIGHT,
                    classify::WIDTH,
                );
                classify::push_line(&mut t, l, classify::HEIGHT, classify::WIDTH, rw);
            }
            let shape = [
                chunk.len() as i64,
                3,
                i64::from(classify::HEIGHT),
                i64::from(classify::WIDTH),
            ];
            let (dims, probs) = self.cls.run(shape, t)?;
            if probs.len() != chunk.len() * 2 {
                return Err(self.cls.shape_err(&dims, "[lines, 2]"));
            }
            for (&i, p) in chunk.iter().zip(probs.chunks_exact(2)) {
                if classify::upside_down(p) {
                    lines[i] = warp::rotate_180(&lines[i]);
                }
            }
        }
        Ok(())
    }

    /// Text and confidence of each line, in the order given.
    fn recognize(&self, lines: &[RgbImage]) -> Result<Vec<(String, f32)>, OcrError> {
        let order = classify::by_aspect(lines);
        let mut out = vec![(String::new(), 0.0); lines.len()];
        for chunk in order.chunks(recognize::BATCH) {
            let batch: Vec<&RgbImage> = chunk.iter().map(|&i| &lines[i]).collect();
            let (t, width) = recognize::batch_tensor(&batch);
            let shape = [
                chunk.len() as i64,
                3,
                i64::from(recognize::HEIGHT),
                i64::from(width),
            ];
            let (dims, probs) = self.rec.run(shape, t)?;
            let [n, steps, classes] = dims[..] else {
                return Err(self.rec.shape_err(&dims, "[lines, steps, classes]"));
            };
            if n as usize != chunk.len()
                || steps <= 0
                || classes as usize != self.alphabet.len()
                || probs.len() != (n * steps * classes) as usize
            {
                return Err(self.rec.shape_err(
                    &dims,
                    &format!("[{}, steps, {}]", chunk.len(), self.alphabet.len()),
                ));
            }
            for (&i, p) in chunk
                .iter()
                .zip(probs.chunks_exact((steps * classes) as usize))
            {
                out[i] = recognize::decode(p, classes as usize, &self.alphabet);
            }
        }
        Ok(out)
    }
}

/// Whether a detector input of `size` stays within [`MAX_DET_PIXELS`].
fn fits_detector(size: (u32, u32)) -> bool {
    u64::from(size.0) * u64::from(size.1) <= MAX_DET_PIXELS
}

/// The reference's `preprocess`: pictures over 2000 px shrunk, under 30 px enlarged (sides
/// rounded to multiples of 32), with the factors that map back (the last step's, as there).
fn limit_size(img: &RgbImage) -> (Cow<'_, RgbImage>, f32, f32) {
    let mut cur = Cow::Borrowed(img);
    let (mut rw, mut rh) = (1.0f64, 1.0f64);
    let mut step = |cur: &mut Cow<'_, RgbImage>, limit: u32, grow: bool| {
        let (w, h) = cur.dimensions();
        let ratio = f64::from(limit) / f64::from(if grow { w.min(h) } else { w.max(h) });
        let round32 =
            |v: u32| ((f64::from(v) * ratio).trunc() / 32.0).round_ties_even() as u32 * 32;
        let (nw, nh) = (round32(w), round32(h));
        if nw == 0 || nh == 0 {
            return;
        }
        rw = f64::from(w) / f64::from(nw);
        rh = f64::from(h) / f64::from(nh);
        *cur = Cow::Owned(crate::resize::resize_linear(cur, nw, nh));
    };
    if img.width().max(img.height()) > MAX_SIDE {
        step(&mut cur, MAX_SIDE, false);
    }
    if cur.width().min(cur.height()) < MIN_SIDE {
        step(&mut cur, MIN_SIDE, true);
    }
    (cur, rw as f32, rh as f32)
}

/// The reference's `maybe_add_letterbox`: black bands above and below a picture that is very
/// short or very wide, and the band's height.
fn letterbox(img: Cow<'_, RgbImage>) -> (Cow<'_, RgbImage>, u32) {
    let (w, h) = img.dimensions();
    if h > MIN_HEIGHT && f64::from(w) / f64::from(h) <= f64::from(WIDTH_HEIGHT_RATIO) {
        return (img, 0);
    }
    let new_h = (w / WIDTH_HEIGHT_RATIO).max(MIN_HEIGHT) * 2;
    let pad = new_h.abs_diff(h) / 2;
    let mut out = RgbImage::new(w, h + 2 * pad);
    image::imageops::replace(&mut out, img.as_ref(), 0, i64::from(pad));
    (Cow::Owned(out), pad)
}

/// The reference's `get_rotate_crop_image`: the quad warped to an upright rectangle as wide as
/// its longer horizontal edge and as tall as its longer vertical one, turned a quarter when it
/// is at least 1.5 times taller than wide.
fn crop(img: &RgbImage, q: &Quad) -> Option<RgbImage> {
    let w = geometry::dist(q[0], q[1]).max(geometry::dist(q[2], q[3])) as u32;
    let h = geometry::dist(q[0], q[3]).max(geometry::dist(q[1], q[2])) as u32;
    if w == 0 || h == 0 {
        return None;
    }
    let (fw, fh) = (w as f32, h as f32);
    let dst = [[0.0, 0.0], [fw, 0.0], [fw, fh], [0.0, fh]];
    let m = warp::perspective_transform(q, &dst)?;
    let out = warp::warp_perspective(img, &m, w, h)?;
    Some(if f64::from(h) / f64::from(w) >= 1.5 {
        warp::rotate_90_ccw(&out)
    } else {
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_pictures_shrink_to_2000_in_multiples_of_32() {
        let img = RgbImage::new(4000, 3000);
        let (out, rw, rh) = limit_size(&img);
        // 2000 / 32 = 62.5 rounds to even: 62 * 32.
        assert_eq!(out.dimensions(), (1984, 1504));
        assert!((rw - 4000.0 / 1984.0).abs() < 1e-6 && (rh - 3000.0 / 1504.0).abs() < 1e-6);
        let small = RgbImage::new(640, 480);
        assert!(matches!(limit_size(&small).0, Cow::Borrowed(_)));
    }

    #[test]
    fn only_very_thin_tall_strips_are_refused() {
        let size = |w, h| detect::input_size(w, h, DET_SIDE, true);
        assert!(fits_detector(size(2000, 2000)));
        assert!(fits_detector(size(300, 2000)));
        assert!(!fits_detector(size(20, 2000)));
    }

    #[test]
    fn wide_strips_get_black_bands() {
        let img = RgbImage::from_pixel(900, 40, image::Rgb([255; 3]));
        let (out, top) = letterbox(Cow::Borrowed(&img));
        // max(900 / 8, 30) * 2 = 224 high: 92 above, 92 below.
        assert_eq!((out.dimensions(), top), ((900, 224), 92));
        assert_eq!(out.get_pixel(0, 91).0, [0; 3]);
        assert_eq!(out.get_pixel(0, 92).0, [255; 3]);
        let normal = RgbImage::new(640, 480);
        assert_eq!(letterbox(Cow::Borrowed(&normal)).1, 0);
    }

    #[test]
    fn tall_crops_are_turned_to_read_sideways() {
        let img = RgbImage::from_fn(50, 50, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let c = crop(
            &img,
            &[[10.0, 5.0], [20.0, 5.0], [20.0, 40.0], [10.0, 40.0]],
        )
        .unwrap();
        assert_eq!(c.dimensions(), (35, 10));
        let flat = crop(
            &img,
            &[[10.0, 5.0], [40.0, 5.0], [40.0, 15.0], [10.0, 15.0]],
        )
        .unwrap();
        assert_eq!(flat.dimensions(), (30, 10));
        assert_eq!(flat.get_pixel(0, 0).0, [10, 5, 0]);
    }
}
