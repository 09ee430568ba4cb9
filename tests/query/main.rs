//! Integration tests of `glimpse-query`: exact answers on hand-made vectors, and search,
//! tagging and duplicates on the shape model, whose results mean something. One test binary
//! for both (each file here is a module), so the engine is linked once.

#[path = "../common/mod.rs"]
mod common;

mod answer;
mod captions;
mod dupes;
mod following;
mod photos;
mod shapes;
mod text;
