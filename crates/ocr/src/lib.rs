//! Words in photos: one upright picture in, the lines of text in it out, each with its box and
//! confidence, matching the Python reference (RapidOCR 1.4.4 on PaddleOCR's PP-OCRv4 models).
//!
//! Data flow of one picture: [`models`] (find, or fetch from the pinned PyPI wheel, the three
//! ONNX graphs) → detection (a probability map of text pixels → boxes around lines) → box
//! geometry (expanded, cropped upright with a perspective warp) → orientation (0° or 180° per
//! line) → recognition (batched, CTC-decoded with the dictionary stored in the graph) →
//! [`TextLine`]s in the picture's own pixel coordinates.
//!
//! [`Reader::read`] runs all of it with the reference's settings; [`Reader::probe`] runs only
//! the detector on a small copy, a cheap "is there text here" for the indexing pass to gate on.
//! The image operations are ports of what the reference calls in OpenCV and pyclipper, checked
//! against their output, since the `image` crate's resampling differs.

mod classify;
mod contour;
mod detect;
mod geometry;
pub mod models;
mod offset;
mod reader;
mod recognize;
mod resize;
mod warp;

pub use models::{OcrModelError, OcrModelFiles};
pub use reader::{OcrError, Reader, TextProbe};

/// One line of text found in a picture; what the catalog stores and search matches against.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TextLine {
    /// The recognised characters.
    pub text: String,
    /// The line's corners in the upright picture's pixels: top-left, top-right, bottom-right,
    /// bottom-left as the box lies in the picture (as the reference orders them: a line printed
    /// upside down starts at the right).
    pub quad: [[f32; 2]; 4],
    /// The recogniser's mean character confidence, 0 to 1.
    pub confidence: f32,
}

/// Recorded beside every picture read, so a later model or pipeline change reads it again.
pub const OCR_VERSION: &str = "ppocr-v4.1";
