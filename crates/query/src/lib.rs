//! Answers over a library: `search` (words, minus words or an example picture → nearest
//! photos, filtered and paged), `tags` (labels a user names → per-photo tags of a folder) and
//! `dupes` (copies of one picture, confirmed on pixels).

pub mod dupes;
pub mod search;
pub mod tags;
