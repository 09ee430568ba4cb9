//! A photo library: which files are in it, what they look like to CLIP, and keeping that true
//! as folders change.
//!
//! Entry points: [`Library`] (a library folder opened for one model: [`Library::index`] and
//! [`Library::plan`] / [`Library::index_planned`] bring it in step with its roots, [`Job`] runs
//! that on a thread; its model-bound reads serve search, tagging and duplicates) and
//! [`Records`] (the same folder read without a model: roots, photos, tags, formats, failures,
//! settings). Every failure is a [`LibraryError`]; the store's own modules keep their error
//! types ([`catalog::CatalogError`], [`vectors::VectorError`], [`lock::LockError`]), which
//! `LibraryError` wraps with their context.
//!
//! Storage: `catalog` (SQLite, the source of truth), `vectors` (the derived, rebuildable HNSW
//! index, and through `sketch` the exhaustive search captions need), `thumbs` (previews keyed by content hash), `lock` (one writer per library).
//! Storage knows nothing of the stages that fill it. Indexing: `scan` (roots → candidate
//! files) → `prepare` (one file on the decode pool: hash, decode, preview, tensor) →
//! `pipeline` (decode pool → batched encoder → one commit per batch) run as a job by
//! [`Library`] (which records what is being read, so a file that kills the process is read
//! alone next time, then marked failed, and tags arrivals in auto-tagged folders); `watch`
//! re-runs the job when files change.

mod autotag;
pub mod catalog;
mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
mod hash;
mod inflight;
mod library;
pub mod lock;
pub mod ocr;
pub mod pipeline;
pub mod prepare;
mod records;
pub mod scan;
pub mod sketch;
pub mod thumbs;
pub mod vectors;
pub mod watch;
pub mod words;

pub use autotag::BUILTIN_LABELS;
pub use error::LibraryError;
pub use hash::{content_hash, ContentHash};
pub use library::{
    decoders_key, default_dir, remembered_model, Job, JobEvent, Library, Plan, RebuildStage,
    Rebuilding, Summary, TagRow, INSERT_CHUNK, SAVE_EVERY,
};
pub use records::{Records, MODEL_SETTING};
