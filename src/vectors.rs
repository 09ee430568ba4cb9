//! The HNSW vector index (USearch) for one model: derived from the catalog's embeddings, saved
//! atomically, and checked against the count and checksum the catalog recorded so that a stale
//! or torn file is rebuilt instead of trusted.

use std::io::Write;
use std::path::{Path, PathBuf};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Why the index could not be used.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// USearch refused an operation.
    #[error("vector index: {0}")]
    Index(String),
    /// A vector of the wrong width (USearch would read out of bounds).
    #[error("vector has {got} dimensions, the index has {want}")]
    Dimensions {
        /// The index width.
        want: usize,
        /// The vector's width.
        got: usize,
    },
    /// Reading or writing the index file failed.
    #[error("vector index file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn ix(e: impl std::fmt::Display) -> VectorError {
    VectorError::Index(e.to_string())
}

/// What the catalog recorded about the saved file, to detect stale or torn files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// Vectors in the file.
    pub count: u64,
    /// sha256 of the file, hex.
    pub checksum: String,
}

/// Why an index file on disk was not loaded (the caller rebuilds from the catalog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staleness {
    /// No file.
    Missing,
    /// The file differs from what the catalog recorded (crash between commit and save, or
    /// a torn write).
    Mismatch,
    /// The file could not be parsed.
    Corrupt(String),
}

/// An HNSW index over L2-normalised vectors, keyed by photo id.
pub struct VectorIndex {
    // Boxed so it never moves after `reserve` (USearch keeps internal pointers).
    index: Box<Index>,
    dim: usize,
}

fn options(dim: usize) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        metric: MetricKind::Cos,
        // f16: recall@10 0.9995 on clustered CLIP-like vectors; the default BF16 and i8 are worse.
        quantization: ScalarKind::F16,
        connectivity: 16,
        expansion_add: 128,
        expansion_search: 64,
        multi: false,
    }
}

impl VectorIndex {
    /// An empty index for `dim`-wide vectors.
    pub fn new(dim: usize) -> Result<Self, VectorError> {
        let index = Box::new(Index::new(&options(dim)).map_err(ix)?);
        index.reserve(1024).map_err(ix)?;
        Ok(VectorIndex { index, dim })
    }

    /// Loads `path` if it is exactly what the catalog recorded; otherwise says why not.
    pub fn open(path: &Path, dim: usize, recorded: Option<&Saved>) -> Result<Self, Staleness> {
        if !path.is_file() {
            return Err(Staleness::Missing);
        }
        let Some(rec) = recorded else {
            return Err(Staleness::Mismatch);
        };
        // Hash and load the same bytes: USearch does not validate the graph, so a file that
        // changed after it was recorded must never reach the loader.
        let bytes = std::fs::read(path).map_err(|e| Staleness::Corrupt(e.to_string()))?;
        use sha2::Digest;
        if hex::encode(sha2::Sha256::digest(&bytes)) != rec.checksum {
            return Err(Staleness::Mismatch);
        }
        let meta =
            Index::metadata_from_buffer(&bytes).map_err(|e| Staleness::Corrupt(e.to_string()))?;
        if meta.dimensions as usize != dim {
            return Err(Staleness::Corrupt(format!(
                "file has {} dimensions, model has {dim}",
                meta.dimensions
            )));
        }
        let me = Self::new(dim).map_err(|e| Staleness::Corrupt(e.to_string()))?;
        me.index
            .load_from_buffer(&bytes)
            .map_err(|e| Staleness::Corrupt(e.to_string()))?;
        if me.index.size() as u64 != rec.count {
            return Err(Staleness::Mismatch);
        }
        // Loading replaces the reservation; reserve again before any add.
        me.index
            .reserve(me.index.size() + 1024)
            .map_err(|e| Staleness::Corrupt(e.to_string()))?;
        Ok(me)
    }

    /// Builds an index from the catalog's embeddings (at open, when the file is not trusted).
    pub fn rebuild<I: IntoIterator<Item = (i64, Vec<f32>)>>(
        dim: usize,
        vectors: I,
    ) -> Result<Self, VectorError> {
        let mut me = Self::new(dim)?;
        for (id, v) in vectors {
            me.add(id, &v)?;
        }
        Ok(me)
    }

    /// Vector width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a photo has a vector here.
    pub fn contains(&self, id: i64) -> bool {
        self.index.contains(id as u64)
    }

    /// Adds (or replaces) a photo's vector.
    pub fn add(&mut self, id: i64, v: &[f32]) -> Result<(), VectorError> {
        if v.len() != self.dim {
            return Err(VectorError::Dimensions {
                want: self.dim,
                got: v.len(),
            });
        }
        if self.index.contains(id as u64) {
            self.index.remove(id as u64).map_err(ix)?;
        }
        if self.index.size() + 1 > self.index.capacity() {
            let cap = (self.index.capacity() * 2).max(1024);
            self.index.reserve(cap).map_err(ix)?;
        }
        self.index.add(id as u64, v).map_err(ix)
    }

    /// Removes a photo's vector (no error if absent).
    pub fn remove(&mut self, id: i64) -> Result<(), VectorError> {
        self.index.remove(id as u64).map(|_| ()).map_err(ix)
    }

    /// The `k` nearest photos with cosine similarity, best first.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(i64, f32)>, VectorError> {
        self.check(query)?;
        let m = self.index.search(query, k).map_err(ix)?;
        Ok(hits(&m.keys, &m.distances))
    }

    /// The `k` nearest photos by brute force: exact, and faster than the graph while the
    /// library is small.
    pub fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<(i64, f32)>, VectorError> {
        self.check(query)?;
        let m = self.index.exact_search(query, k).map_err(ix)?;
        Ok(hits(&m.keys, &m.distances))
    }

    /// The `k` nearest photos that `keep` accepts (graph search; it may find fewer than `k`
    /// when the filter is very selective, which the caller must check).
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(i64) -> bool,
    ) -> Result<Vec<(i64, f32)>, VectorError> {
        self.check(query)?;
        let m = self
            .index
            .filtered_search(query, k, |key| keep(key as i64))
            .map_err(ix)?;
        Ok(hits(&m.keys, &m.distances))
    }

    /// A photo's stored vector (as held: f16-rounded), to search by example without re-encoding.
    pub fn get(&self, id: i64) -> Option<Vec<f32>> {
        if !self.index.contains(id as u64) {
            return None;
        }
        let mut v = vec![0f32; self.dim];
        match self.index.get(id as u64, &mut v) {
            Ok(n) if n >= 1 => Some(v),
            _ => None,
        }
    }

    /// Sets how many candidates a graph search explores (recall against latency).
    pub fn set_expansion_search(&self, n: usize) {
        self.index.change_expansion_search(n);
    }

    /// Bytes of memory the index holds (for status and benchmarks).
    pub fn memory_usage(&self) -> usize {
        self.index.memory_usage()
    }

    fn check(&self, query: &[f32]) -> Result<(), VectorError> {
        if query.len() != self.dim {
            return Err(VectorError::Dimensions {
                want: self.dim,
                got: query.len(),
            });
        }
        Ok(())
    }

    /// Saves to `path` atomically (temp file, fsync, rename, fsync folder) and returns what the
    /// catalog must record.
    pub fn save(&self, path: &Path) -> Result<Saved, VectorError> {
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let io = |p: &Path, source| VectorError::Io {
            path: p.display().to_string(),
            source,
        };
        let len = self.index.serialized_length();
        let mut buf = vec![0u8; len];
        self.index.save_to_buffer(&mut buf).map_err(ix)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| io(&dir, e))?;
        tmp.write_all(&buf).map_err(|e| io(path, e))?;
        tmp.as_file().sync_all().map_err(|e| io(path, e))?;
        tmp.persist(path).map_err(|e| io(path, e.error))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        use sha2::Digest;
        Ok(Saved {
            count: self.len() as u64,
            checksum: hex::encode(sha2::Sha256::digest(&buf)),
        })
    }
}

/// USearch's cosine distances as (photo id, cosine similarity), best first.
fn hits(keys: &[u64], distances: &[f32]) -> Vec<(i64, f32)> {
    keys.iter()
        .zip(distances)
        .map(|(k, d)| (*k as i64, 1.0 - d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    #[test]
    fn nearest_is_itself_and_wrong_width_is_an_error() {
        let mut ix = VectorIndex::new(64).unwrap();
        for i in 1..=300 {
            ix.add(i, &unit(i as u64, 64)).unwrap();
        }
        assert_eq!(ix.len(), 300);
        let hits = ix.search(&unit(42, 64), 3).unwrap();
        assert_eq!(hits[0].0, 42);
        assert!((hits[0].1 - 1.0).abs() < 1e-2);
        assert!(matches!(
            ix.add(1, &[0.0; 3]),
            Err(VectorError::Dimensions { .. })
        ));
        ix.remove(42).unwrap();
        assert_ne!(ix.search(&unit(42, 64), 1).unwrap()[0].0, 42);
    }

    #[test]
    fn saved_file_reopens_only_when_it_matches_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors-test.usearch");
        let mut ix = VectorIndex::new(32).unwrap();
        for i in 1..=50 {
            ix.add(i, &unit(i as u64, 32)).unwrap();
        }
        let saved = ix.save(&path).unwrap();
        let back = VectorIndex::open(&path, 32, Some(&saved)).unwrap();
        assert_eq!(back.len(), 50);
        assert_eq!(back.search(&unit(7, 32), 1).unwrap()[0].0, 7);
        // Missing record, stale record, torn file, garbage: never loaded, never a crash.
        assert!(matches!(
            VectorIndex::open(&path, 32, None),
            Err(Staleness::Mismatch)
        ));
        let stale = Saved {
            count: 49,
            ..saved.clone()
        };
        assert!(VectorIndex::open(&path, 32, Some(&stale)).is_err());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(VectorIndex::open(&path, 32, Some(&saved)).is_err());
        std::fs::write(&path, b"garbage").unwrap();
        assert!(VectorIndex::open(&path, 32, Some(&saved)).is_err());
        assert_eq!(
            VectorIndex::open(&dir.path().join("none"), 32, Some(&saved)).err(),
            Some(Staleness::Missing)
        );
    }
}
