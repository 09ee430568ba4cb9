//! The engine held open for the desktop window: `session` (a background indexer with the file
//! watcher beside a reading handle that answers meanwhile), `serve` (the gate for what the
//! page may load) and the JSON views and event names the page reads.

pub mod serve;
mod session;
pub mod views;

pub use session::{
    Session, SessionConfig, SessionError, Sink, DROPS_KEPT, FAILURES_SHOWN, MAX_PAGE,
};
