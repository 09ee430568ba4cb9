//! The CLIP engine: one picture or one caption in, one L2-normalised embedding out, matching
//! the Python reference (Hugging Face `transformers` CLIP on the same ONNX model).
//!
//! Data flow of one embedding: [`runtime`] (find or fetch ONNX Runtime, reporting
//! [`DownloadProgress`]) → [`device`] (execution providers) → [`model`] (model folders, the
//! manifest of downloadable models) → [`read_photo`] (regular files only, bounded) → [`decode`]
//! (any file a viewer opens → upright 8-bit RGB, within the process's decode memory
//! [`budget`]; HEIF, TIFF and RAW codec libraries are loaded at run time when present;
//! [`metadata`]: date taken, camera, place; [`formats`]: which extensions are photos) →
//! [`preprocess`] (the CLIP tensor, bit-exact with Pillow) → [`tokenize`] (CLIP BPE ids) →
//! [`encode`] (ONNX sessions → vectors). Around them: [`embedding`] (vector maths),
//! [`zeroshot`] (CLIP's zero-shot classification) and [`calendar`] (days as the user types
//! them).
//!
//! The types most callers need: [`model::ModelFiles`], [`runtime::RuntimeOptions`] and
//! [`runtime::Runtime`], [`device::DeviceOptions`], [`encode::ImageEncoder`],
//! [`encode::LazyImageEncoder`] and [`encode::TextEncoder`], [`decode::decode_file`] →
//! [`decode::Decoded`], [`preprocess::PreprocessConfig`] → [`preprocess::Pixels`].
//!
//! Errors: each step has its own `thiserror` enum, and the later steps wrap the earlier ones.
//! [`runtime::RuntimeError`] (the library could not be found, fetched or loaded; wraps
//! [`DownloadError`]), [`model::manifest::ManifestError`] and [`model::ModelError`] (a model
//! could not be fetched, verified or opened), [`device::OpenError`] (a graph opens on no
//! device), [`ReadError`] → [`decode::DecodeError`] (a file yields no pixels, with the reason a
//! user sees; [`budget::BudgetError`] inside it), [`preprocess::ConfigError`],
//! [`tokenize::TokenizeError`] → [`encode::EncodeError`] (the model failed), and
//! [`encode::EmbedError`] / [`encode::LazyEncoderError`] for the calls that do several steps.
//! Graph rewrites that fail are logged and the original graph is used, so no
//! `glimpse_onnx` error reaches a caller.

pub mod budget;
pub mod calendar;
pub mod decode;
mod develop;
pub mod device;
mod download;
mod dylib;
pub mod embedding;
pub mod encode;
pub mod formats;
mod heif;
pub mod metadata;
pub mod model;
pub mod preprocess;
mod raw;
mod read;
pub mod runtime;
mod tiff;
pub mod tokenize;
pub mod wheel;
pub mod zeroshot;

pub use download::{DownloadError, DownloadProgress};
pub use read::{read_photo, PhotoFile, ReadError};
