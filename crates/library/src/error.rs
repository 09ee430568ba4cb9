//! The library crate's one error type: each store module's own error, wrapped with what the
//! job or a read was doing, and the job's own refusals.

use crate::catalog::CatalogError;
use crate::lock::LockError;
use crate::vectors::VectorError;

/// Why a library operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The vector index failed.
    #[error(transparent)]
    Vectors(#[from] VectorError),
    /// The catalog file is damaged.
    #[error("catalog integrity check failed: {0}")]
    Corrupt(String),
    /// A plan with photos to encode was carried out without an image encoder.
    #[error("{0} photos need encoding but no image encoder was given")]
    NoEncoder(usize),
    /// A plan was carried out on another library (or model) than the one that made it: its
    /// photo ids would name other photos there.
    #[error("the plan was made by the library at {planned} for another library or model")]
    ForeignPlan {
        /// The library that made the plan.
        planned: String,
    },
    /// Another process is indexing this library (see [`crate::lock`]).
    #[error(transparent)]
    Locked(#[from] LockError),
    /// A handle opened with [`crate::Library::open_reader`] was asked to index or remove: only the
    /// writer may change the vector index.
    #[error("this library handle only reads; indexing needs the writer (Library::open)")]
    ReadOnly,
    /// A background indexing job ([`crate::Job`]) panicked: the library it held is lost with it.
    #[error("the indexing thread panicked")]
    JobPanicked,
}
