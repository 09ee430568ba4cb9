//! The CLIP engine: one picture or one caption in, one L2-normalised embedding out, matching
//! the Python reference (Hugging Face `transformers` CLIP on the same ONNX model).
//!
//! Data flow of one embedding: `runtime` (find or fetch ONNX Runtime; `download` fetches files
//! with a progress callback) → `device` (execution providers) → `model` (model folders, the
//! manifest of downloadable models) → `read` (regular files only, bounded) → `decode` (any
//! file a viewer opens → upright 8-bit RGB, within the process's decode memory `budget`;
//! codecs `heif`, `tiff`, `develop` and `raw` previews, libraries found through `dylib`;
//! `metadata`: date taken, camera, place; `formats`: which extensions are photos) →
//! `preprocess` (the CLIP tensor, bit-exact with Pillow) → `tokenize` (CLIP BPE ids) → `encode`
//! (ONNX sessions → vectors). `zeroshot` holds CLIP's zero-shot classification maths.

pub mod budget;
pub mod calendar;
pub mod decode;
pub mod develop;
pub mod device;
pub mod download;
pub mod dylib;
pub mod embedding;
pub mod encode;
pub mod formats;
pub mod heif;
pub mod metadata;
pub mod model;
pub mod preprocess;
pub mod raw;
pub mod read;
pub mod runtime;
pub mod tiff;
pub mod tokenize;
pub mod zeroshot;
