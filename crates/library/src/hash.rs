//! The key of a photo's content: files with the same bytes (a copy, a move, a rename) share
//! one vector and one thumbnail, and the catalog, the pipeline and the dropped-example search
//! all hash the same way.

/// A 32-byte BLAKE3 digest of a file's bytes.
pub type ContentHash = [u8; 32];

/// Hashes file bytes the way the catalog keys them.
pub fn content_hash(bytes: &[u8]) -> ContentHash {
    *blake3::hash(bytes).as_bytes()
}
