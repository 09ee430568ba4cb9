//! Answers over a library, from the vectors it stored (no photo is encoded again): `search`
//! (words, minus words or an example picture → nearest photos, filtered and paged), `tags`
//! (labels a user names → per-photo tags of a folder, kept as the folder's auto-tag) and
//! `dupes` (copies of one picture, confirmed on pixels).
//!
//! Each takes a [`glimpse_library::Library`] and reads it through its model-bound reads and
//! [`glimpse_library::Records`], never the catalog itself; tagging writes through the
//! library's label-vector and folder-tag methods. Entry points: [`search::nearest`],
//! [`search::browse`], [`tags::tag_folder`], [`dupes::find`]. Each module has one error type
//! ([`SearchError`], [`TagError`], [`DupeError`]) that keeps the library's error as its
//! source; text towers are callbacks that fail with their own error ([`search::TowerError`]).
//!
//! # Example
//!
//! Index the repository's test pictures with its tiny test model, then answer one text query
//! (ONNX Runtime comes from `ORT_DYLIB_PATH`; `bash scripts/setup.sh` prints it):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use glimpse_clip::device::Device;
//! use glimpse_clip::encode::{ImageEncoder, TextEncoder};
//! use glimpse_clip::model::ModelFiles;
//! use glimpse_clip::runtime::{self, RuntimeOptions};
//! use glimpse_library::Library;
//! use glimpse_library::pipeline::Control;
//! use glimpse_query::search::{self, Request};
//! use std::path::Path;
//!
//! let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
//! let rt = runtime::load(&RuntimeOptions { allow_download: false, ..Default::default() })?;
//! let model = ModelFiles::open(&repo.join("models/test/tiny-clip"))?;
//! let images = ImageEncoder::open(&rt.env, &model, Device::Cpu)?;
//!
//! // A library is a folder of its own: catalog, vector index, previews.
//! let home = tempfile::tempdir()?;
//! let mut library = Library::open(home.path(), &model.name, images.dim())?;
//! let folder = repo.join("tests/fixtures");
//! let summary = library.index(&[folder], &images, 2, &Control::default(), &mut |_| {})?;
//! assert!(summary.progress.done > 50);
//!
//! // The words → one vector in the pictures' space → the nearest photos, best first.
//! let text = TextEncoder::open(&rt.env, &model, Device::Cpu)?;
//! let query = search::text_query_vector(&text, &search::parse("a red car"), &[])?;
//! let page = search::nearest(&library, &query, &Request::new(5))?;
//! assert_eq!(page.hits.len(), 5);
//! for hit in &page.hits {
//!     println!("{:.3} {}", hit.score.unwrap_or_default(), hit.photo.path.display());
//! }
//! # Ok(())
//! # }
//! ```

pub mod dupes;
pub mod search;
pub mod tags;

pub use dupes::DupeError;
pub use search::SearchError;
pub use tags::TagError;
