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

pub mod autotag;
pub mod catalog;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod hash;
pub mod inflight;
pub mod library;
pub mod lock;
pub mod pipeline;
pub mod prepare;
pub mod records;
pub mod scan;
pub mod thumbs;
pub mod vectors;
pub mod watch;

pub use library::{
    default_dir, remembered_model, Job, JobEvent, Library, LibraryError, Plan, Summary,
};
pub use records::Records;
