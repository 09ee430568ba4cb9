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

pub mod dupes;
pub mod search;
pub mod tags;

pub use dupes::DupeError;
pub use search::SearchError;
pub use tags::TagError;
