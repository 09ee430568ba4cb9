//! Integration tests of `glimpse-ocr`: the Rust reader against the Python reference (RapidOCR
//! 1.4.4, `tests/fixtures/ocr/reference.json`) on the pictures `tests/fixtures/ocr/make_set.py`
//! renders, and both against the ground truth the generator knows. One test binary (see
//! ARCHITECTURE.md).

#[path = "../common/mod.rs"]
mod common;

mod models;
mod parity;
