//! A photo library: which files are in it, what they look like to CLIP, and keeping that true
//! as folders change.
//!
//! Storage: `catalog` (SQLite, the source of truth), `vectors` (the derived, rebuildable HNSW
//! index), `thumbs` (previews keyed by content `hash`), `lock` (one writer per library).
//! Storage knows nothing of the stages that fill it. Indexing: `scan` (roots → candidate
//! files) → `prepare` (one file on the decode pool: hash, decode, preview, tensor) →
//! `pipeline` (decode pool → batched encoder → one commit per batch) run as a job by `library`
//! (`inflight` records what is being read, so a file that kills the process is read alone
//! next time, then marked failed; `autotag` tags arrivals in auto-tagged folders); `watch`
//! re-runs the job when files change.

mod autotag;
pub mod catalog;
#[cfg(feature = "fault-injection")]
pub mod fault;
mod hash;
mod inflight;
mod library;
pub mod lock;
pub mod pipeline;
pub mod prepare;
mod records;
pub mod scan;
pub mod thumbs;
pub mod vectors;
pub mod watch;

pub use autotag::BUILTIN_LABELS;
pub use hash::{content_hash, ContentHash};
pub use library::{
    decoders_key, default_dir, remembered_model, Job, JobEvent, Library, LibraryError, Plan,
    Summary, TagRow, INSERT_CHUNK, MODEL_SETTING, SAVE_EVERY,
};
pub use records::Records;
