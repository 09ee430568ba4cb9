//! Glimpse engine: find photos by describing them, with CLIP running locally through ONNX Runtime.
//!
//! The module tree follows the data flow of one embedding:
//! `runtime` (find/fetch ONNX Runtime) → `device` (execution providers) → `model` (model folders,
//! manifest) → `decode` (file → upright RGB pixels; `metadata`: date taken, camera, place) → `preprocess` (CLIP tensor, bit-exact with the
//! reference) → `tokenize` (CLIP BPE ids) → `encode` (ONNX sessions → L2-normalised vectors).
//!
//! Indexing a library follows the data flow of one photo folder: `scan` (roots → candidate
//! files, hidden/system folders pruned) → `prepare` (one read, through `read`, which opens only
//! regular files and bounds what it reads: content hash, decode within the process's `budget`
//! of decode memory, thumbnail via `thumbs`, tensor) → `pipeline` (decode pool → batched
//! encoder → one commit per batch) →
//! `catalog` (SQLite, the source of truth) → `vectors` (derived HNSW index); `library` runs the job
//! (one process at a time: `lock`; `inflight` records the files being read, so that one that
//! kills the process is read alone next time, then marked failed) and `watch` re-runs it when
//! files change. `download` serves `runtime` and `model::manifest` (progress only through
//! callbacks: the engine draws nothing). `calendar` (dates) and `embedding` (vector maths) are
//! shared helpers.
//!
//! Answering follows the data flow of one query: `search` (query text and minus terms or an
//! example photo → one vector → exact or graph nearest neighbours → filtered, paged results
//! joined with the catalog), `tags` (labels → prompt-ensembled text vectors → per-photo softmax
//! over stored vectors) and `dupes` (CLIP candidates confirmed on pixels → groups of copies).
//!
//! The desktop app holds the engine open through `session` (a background indexer beside a
//! reading handle that answers while it works), speaks to the page only in the shapes of `views`
//! (the serde types and event names `ui/src/lib/api.ts` mirrors) and loads files only through
//! `serve` (the gate that keeps the web view inside the photo roots and the thumbnail cache).

pub mod autotag;
pub mod budget;
pub mod calendar;
pub mod catalog;
pub mod decode;
pub mod develop;
pub mod device;
pub mod download;
pub mod dupes;
pub mod dylib;
pub mod embedding;
pub mod encode;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod formats;
pub mod hash;
pub mod heif;
pub mod inflight;
pub mod library;
pub mod lock;
pub mod metadata;
pub mod model;
pub mod pipeline;
pub mod prepare;
pub mod preprocess;
pub mod raw;
pub mod read;
pub mod runtime;
pub mod scan;
pub mod search;
pub mod serve;
pub mod session;
pub mod tags;
pub mod thumbs;
pub mod tiff;
pub mod tokenize;
pub mod vectors;
pub mod views;
pub mod watch;
pub mod zeroshot;

/// The engine's version, shown by the CLI and the app.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
