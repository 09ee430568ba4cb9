//! Glimpse engine: find photos by describing them, with CLIP running locally through ONNX Runtime.
//!
//! The module tree follows the data flow of one embedding:
//! `runtime` (find/fetch ONNX Runtime) → `device` (execution providers) → `model` (model folders,
//! manifest) → `decode` (file → upright RGB pixels) → `preprocess` (CLIP tensor, bit-exact with the
//! reference) → `tokenize` (CLIP BPE ids) → `encode` (ONNX sessions → L2-normalised vectors).
//! Indexing starts at `scan` (photo roots → candidate files, hidden/system folders pruned).

pub mod catalog;
pub mod decode;
pub mod device;
pub mod download;
pub mod encode;
pub mod library;
pub mod model;
pub mod pipeline;
pub mod prepare;
pub mod preprocess;
pub mod runtime;
pub mod scan;
pub mod thumbs;
pub mod tokenize;
pub mod vectors;
pub mod watch;

/// The engine's version, shown by the CLI and the app.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
