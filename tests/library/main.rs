//! Integration tests of `glimpse-library`: the scan, the store (catalog and vector index), the
//! decode → encode → commit pipeline, the indexing job, and hostile inputs. One test binary
//! for all of them (each file here is a module), so the engine is linked once; tests that need
//! a process of their own stay in `tests/*.rs` (see ARCHITECTURE.md).

#[path = "../common/mod.rs"]
mod common;

mod hardening;
mod library;
mod pipeline;
mod scan;
mod storage;
