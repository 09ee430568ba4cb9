//! The engine held open for the desktop window: [`Session`] (one model and one library, a
//! background indexer with the file watcher beside a reading handle that answers meanwhile;
//! every command the window has is a method here, testable without a window), `serve` (the
//! gate for what the page may load), `views` (the JSON values and event names the page
//! reads: the only serde for the page), `dupes` (groups of copies and moving them to the
//! Trash), `models` (the models Settings offers), `picture` (a photo's pixels for "Copy
//! image") and `reveal` (what "Reveal in file manager" shows for a selection). Every failure
//! a command reports is a [`SessionError`], whose message the window shows as it is.

mod dupes;
mod models;
pub mod picture;
pub mod reveal;
pub mod serve;
mod session;
mod text;
pub mod views;

pub use session::{
    Session, SessionConfig, SessionError, Sink, DROPS_KEPT, FAILURES_SHOWN, MAX_PAGE,
};
pub use text::OcrModels;
