//! Integration tests of `glimpse-clip`, the CLIP engine: decoding every format, the models
//! against the Python reference, half precision, and the metadata photos carry. One test
//! binary for all of them (each file here is a module), so the engine is linked once; tests that
//! need a process of their own stay in `tests/*.rs` (see ARCHITECTURE.md).

#[path = "../common/mod.rs"]
mod common;

mod formats;
mod metadata;
mod odd_files;
mod precision;
mod raw;
mod reference;
