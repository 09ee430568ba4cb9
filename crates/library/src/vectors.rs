//! The HNSW vector index (USearch) for one model: derived from the catalog's embeddings, saved
//! atomically, and checked against the count and checksums the catalog recorded so that a
//! stale or torn file is rebuilt instead of trusted (the graph's structure before it is opened,
//! the whole file in the background). An opened file is memory-mapped (searchable at once) and
//! loaded for writing only when the first vector is added or removed.

use crate::sketch::Sketches;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
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
    /// A search's exact stored vectors could not be read (the catalog failed).
    #[error("reading a stored vector: {0}")]
    Stored(String),
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
    /// BLAKE3 of the whole file, then (files saved since 2026-12-07) the file's length and
    /// the BLAKE3 of its graph's structure: `blake3:HEX structure:LEN:blake3:HEX`.
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
    /// The file holds its rows in a format this version no longer keeps (f16 rows, before the
    /// graph's rows became i8): rebuilt once from the catalog.
    Outdated(String),
}

/// Where a search reads the exact vectors it ends on (the catalog's, no less exact than f16):
/// the graph's rows are i8, close enough to rank a few thousand candidates but not to order the
/// last few.
pub type Exact<'a> = &'a dyn Fn(i64) -> Result<Option<Vec<f32>>, VectorError>;

/// An HNSW index over L2-normalised vectors, keyed by photo id.
pub struct VectorIndex {
    // Boxed so it never moves after `reserve` (USearch keeps internal pointers).
    index: Box<Index>,
    dim: usize,
    /// Set while the index is a read-only memory map of this verified file (what searching
    /// needs, and instant to open); the first change loads it for writing.
    viewed: Option<(PathBuf, Saved)>,
    /// One-bit sketches of the same vectors, scored exhaustively for captions. Behind a lock
    /// because a search may re-score them along a caption direction it brings.
    sketches: RwLock<Sketches>,
    /// The sketches were not saved with this file (missing, torn, older) and must be rebuilt
    /// ([`VectorIndex::rebuild_sketches`]) before captions use them.
    sketches_stale: bool,
    /// The sketches changed since the file was written.
    sketches_unsaved: bool,
    /// Commits made after the file this index holds, which a reader follows between the
    /// indexer's saves ([`VectorIndex::follow`]).
    recent: Recent,
    /// [`PHOTO_MARGIN`] unless a benchmark set another ([`VectorIndex::set_photo_margin`]).
    photo_margin: std::sync::atomic::AtomicU32,
    /// The whole file's checksum, checked in the background after an open that checked only
    /// the graph's structure ([`VectorIndex::verified`]).
    verifying: Option<Verifying>,
}

/// A background check of the whole index file against its recorded checksum.
struct Verifying {
    /// Set when the index is dropped: the check stops at its next block.
    cancel: Arc<AtomicBool>,
    /// [`PENDING`], [`MATCHED`] or [`DIFFERED`].
    outcome: Arc<AtomicU8>,
}

const PENDING: u8 = 0;
const MATCHED: u8 = 1;
const DIFFERED: u8 = 2;

impl Drop for VectorIndex {
    fn drop(&mut self) {
        if let Some(v) = &self.verifying {
            v.cancel.store(true, Ordering::Relaxed);
        }
    }
}

/// Vectors committed after the graph's file: scored exactly beside it, so a reader answers
/// from every committed batch, not from the indexer's last save. Small: the indexer saves the
/// graph every few seconds, and the reader then reloads it and starts a new overlay.
#[derive(Default)]
struct Recent {
    /// Vectors added or replaced since the file, as stored.
    vectors: HashMap<i64, Vec<f32>>,
    /// Photos the graph holds that must not be answered: removed since, or replaced above.
    hidden: HashSet<i64>,
}

impl Recent {
    fn is_empty(&self) -> bool {
        self.vectors.is_empty() && self.hidden.is_empty()
    }

    /// The graph's answer with hidden photos dropped and the recent vectors that `keep`
    /// accepts scored exactly, best `k` first.
    fn merge(
        &self,
        mut found: Vec<(i64, f32)>,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(i64) -> bool,
    ) -> Vec<(i64, f32)> {
        if self.is_empty() {
            return found;
        }
        found.retain(|(id, _)| !self.hidden.contains(id));
        found.extend(
            self.vectors
                .iter()
                .filter(|(id, _)| keep(**id))
                .map(|(id, v)| (*id, glimpse_clip::embedding::dot(v, query))),
        );
        let order = |a: &(i64, f32), b: &(i64, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if k > 0 && found.len() > k {
            // Thousands of recent vectors after a crash: select the best `k`, sort only those.
            found.select_nth_unstable_by(k - 1, order);
        }
        found.truncate(k);
        found.sort_by(order);
        found
    }
}

/// How many of a caption's best sketch estimates are scored on the graph's rows (then the best
/// on their exact vectors, [`EXACT_EXTRA`]): with the caption direction scored exactly, at a million photos 200 reach recall@10 0.9985 / 0.993 and 400
/// reach 1.000 / 0.9995 on the two synthetic generators (`cargo bench --bench candidates`).
pub const CAPTION_RERANK: usize = 400;

/// How many of a photo query's best sketch estimates may be scored on their rows, beside the graph's
/// [`PHOTO_GRAPH`] nearest ([`VectorIndex::search_photo`]; most queries stop far sooner, at
/// [`PHOTO_MARGIN`]). At a million photos of the held-out generator, with the graph's 100,
/// recall@10 is 0.988 with 1600 and 0.9915 with 3200 (200 queries; 0.999 on the other
/// generator with either), measured with `cargo bench --bench search` (`benches/RESULTS.md`).
pub const PHOTO_RERANK: usize = 3200;

/// How many of the graph's nearest a photo query scores on their rows beside the sketches' best.
pub const PHOTO_GRAPH: usize = 100;

/// How many of a photo query's best sketch estimates are scored on their rows first, with the
/// graph's nearest: enough to see how far this query's estimates stray from the rows' scores.
pub const PHOTO_FIRST: usize = 400;

/// How far below the current `k`-th best row score, in standard deviations of this query's
/// estimate errors (`row score - estimate` over its first [`PHOTO_FIRST`]), an estimate must
/// lie to be left unscored. At a million photos (rows then f16) the true neighbours the graph
/// missed lay at most 2.9 (held-out generator) and 0.8 deviations below it (200 queries each),
/// so 5 kept all of them while half the queries scored under 650 candidates instead of 3,300.
pub const PHOTO_MARGIN: f32 = 5.0;

/// Candidates below which re-scoring on the rows stays on one thread (a thread costs more to start
/// than a few hundred lookups).
const RESCORE_PER_THREAD: usize = 512;

/// How often a rebuild tells its caller how far it has got: often enough for a bar to move,
/// seldom enough to cost nothing beside minutes of graph building.
pub const REPORT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// A building thread's end, however it ends: one fewer running, and the reporting thread
/// woken to see it.
struct Ended<'a>(&'a std::sync::atomic::AtomicUsize, &'a std::thread::Thread);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
        self.1.unpark();
    }
}

/// Where the sketches of the index file `path` are kept.
pub fn sketch_path(path: &Path) -> PathBuf {
    path.with_extension("sketch")
}

/// Candidates a graph search explores by default, for photo-to-photo queries (captions go
/// through the sketches): at a million clustered vectors recall@10 is 0.946 at 64 and 0.995 at
/// 128, for 1.0 / 1.3 ms (`cargo bench --bench search`).
pub const EXPANSION_SEARCH: usize = 128;

/// Batches smaller than this are inserted on one thread by [`VectorIndex::add_many`].
pub const PARALLEL_ADD_MIN: usize = 1024;

fn options(dim: usize) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        metric: MetricKind::Cos,
        // i8 rows, each scaled by its own largest coordinate ([`quantize`]): half the memory
        // and disk of f16 (a million photos: 0.66 GB against 1.17), and at a million photos
        // the graph alone finds 0.63 of the true ten against f16's 0.64; searches end on the
        // catalog's exact vectors ([`Exact`]), which gives back the rest
        // (`benches/RESULTS.md`).
        quantization: ScalarKind::I8,
        connectivity: 16,
        expansion_add: 128,
        expansion_search: EXPANSION_SEARCH,
        multi: false,
    }
}

impl VectorIndex {
    /// An empty index for `dim`-wide vectors.
    pub fn new(dim: usize) -> Result<Self, VectorError> {
        let index = Box::new(Index::new(&options(dim)).map_err(ix)?);
        index.reserve(1024).map_err(ix)?;
        Ok(VectorIndex {
            index,
            dim,
            viewed: None,
            sketches: RwLock::new(Sketches::new(dim)),
            sketches_stale: false,
            sketches_unsaved: false,
            recent: Recent::default(),
            photo_margin: std::sync::atomic::AtomicU32::new(PHOTO_MARGIN.to_bits()),
            verifying: None,
        })
    }

    /// Takes in what was committed after the file this index holds: `written` vectors (added
    /// or replaced) and `gone` photos, in that catalog's order (removals first, so a photo
    /// removed and added again stays). A reader calls this between the indexer's saves, and
    /// a writer whose file is behind the catalog at open (its first change or save then takes
    /// them into the graph); the graph itself is not touched (it may be a read-only map, and
    /// inserting would repeat the indexer's graph work).
    pub fn follow(&mut self, written: Vec<(i64, Vec<f32>)>, gone: &[i64]) {
        for id in gone {
            self.recent.vectors.remove(id);
            if self.index.contains(*id as u64) {
                self.recent.hidden.insert(*id);
            }
        }
        for (id, v) in written {
            if v.len() != self.dim {
                tracing::warn!(
                    id,
                    got = v.len(),
                    want = self.dim,
                    "stored vector of another width skipped"
                );
                continue;
            }
            if self.index.contains(id as u64) {
                self.recent.hidden.insert(id);
            }
            self.recent.vectors.insert(id, v);
        }
    }

    /// Vectors held beside the graph since its file ([`VectorIndex::follow`]).
    pub fn recent_len(&self) -> usize {
        self.recent.vectors.len()
    }

    /// Loads `path` if it is exactly what the catalog recorded; otherwise says why not.
    pub fn open(path: &Path, dim: usize, recorded: Option<&Saved>) -> Result<Self, Staleness> {
        if !path.is_file() {
            return Err(Staleness::Missing);
        }
        let Some(rec) = recorded else {
            return Err(Staleness::Mismatch);
        };
        // USearch does not validate the graph, so a file that differs from what was recorded
        // (a torn write, a flipped byte) must never reach the loader. Files saved since the
        // graph's structure was recorded apart are checked on that part (every byte but the
        // vector rows: a sixth of a million-photo file, and all that a damaged byte could make
        // USearch read out of bounds with); the rows, which can only misplace a photo, are
        // checked in the background, and a difference found there makes the next open check
        // the whole file (and rebuild it). Opening a million photos from a cold disk was
        // reading 1.2 GB first. The path is then mapped, so memory holds one copy of the
        // index; saves replace the file by rename, so the path always names a complete file.
        let corrupt = |e: &dyn std::fmt::Display| Staleness::Corrupt(e.to_string());
        let started = std::time::Instant::now();
        let (whole, structure) = split_checksum(&rec.checksum);
        let mut file = std::fs::File::open(path).map_err(|e| corrupt(&e))?;
        let deferred = match structure {
            Some((len, sum)) if !unverified_path(path).exists() => {
                let (got_len, got) = structure_checksum(&mut file).map_err(|e| corrupt(&e))?;
                if got_len != len || got != sum {
                    return Err(Staleness::Mismatch);
                }
                true
            }
            _ => {
                if file_checksum(path).map_err(|e| corrupt(&e))? != whole {
                    return Err(Staleness::Mismatch);
                }
                false
            }
        };
        let hashed = started.elapsed();
        let mut me = Self::new(dim).map_err(|e| corrupt(&e))?;
        match path.to_str() {
            Some(p) => {
                let meta = Index::metadata(p).map_err(|e| corrupt(&e))?;
                fits(&meta, dim)?;
                // Mapped, not copied: a million vectors are searchable at once; loading them
                // into memory (a second or more) waits for the first change.
                me.index.view(p).map_err(|e| corrupt(&e))?;
                me.viewed = Some((path.to_path_buf(), rec.clone()));
            }
            None => {
                // A library folder whose name is not UTF-8: USearch takes &str paths.
                let bytes = std::fs::read(path).map_err(|e| corrupt(&e))?;
                if file_checksum_of(&bytes) != whole {
                    return Err(Staleness::Mismatch);
                }
                let meta = Index::metadata_from_buffer(&bytes).map_err(|e| corrupt(&e))?;
                fits(&meta, dim)?;
                me.index.load_from_buffer(&bytes).map_err(|e| corrupt(&e))?;
            }
        }
        tracing::debug!(
            vectors = me.index.size(),
            checksum_ms = hashed.as_millis() as u64,
            load_ms = (started.elapsed() - hashed).as_millis() as u64,
            "vector index opened"
        );
        if me.index.size() as u64 != rec.count {
            return Err(Staleness::Mismatch);
        }
        if deferred && me.viewed.is_some() {
            me.verifying = Some(verify_in_background(path, file, whole.to_string()));
        }
        me.load_sketches(path, rec);
        if me.viewed.is_none() {
            // Loading replaces the reservation; reserve again before any add.
            me.index
                .reserve(me.index.size() + 1024)
                .map_err(|e| corrupt(&e))?;
        }
        Ok(me)
    }

    /// Reads the sketches saved with the file recorded as `rec`, or marks them stale.
    fn load_sketches(&mut self, path: &Path, rec: &Saved) {
        match Sketches::open(&sketch_path(path), self.dim, &rec.checksum) {
            Ok(s) if s.len() == self.index.size() => {
                *self.sketches.get_mut().unwrap_or_else(|e| e.into_inner()) = s;
                self.sketches_stale = false;
            }
            other => {
                tracing::info!(
                    why = other.err().map(|e| e.to_string()),
                    "sketches do not match the vector index; they will be rebuilt"
                );
                self.sketches_stale = true;
            }
        }
    }

    /// Whether captions are already scored exactly along `direction`.
    pub fn has_caption_direction(&self, direction: &[f32]) -> bool {
        self.sketches
            .read()
            .is_ok_and(|s| s.directions_match(&[direction.to_vec()]))
    }

    /// Scores captions exactly along `direction` from now on: one pass over the vectors unless
    /// the sketches already are (as when they were saved with it). Returns whether it changed.
    pub fn set_caption_direction(&mut self, direction: &[f32]) -> bool {
        if direction.len() != self.dim || self.has_caption_direction(direction) {
            return false;
        }
        let started = std::time::Instant::now();
        let (index, dim) = (&self.index, self.dim);
        self.sketches
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .set_directions(&[direction.to_vec()], |id| vector_in(index, dim, id));
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "sketches scored along the caption direction"
        );
        self.sketches_unsaved = true;
        true
    }

    /// Whether the sketches must be rebuilt ([`VectorIndex::rebuild_sketches`]).
    pub fn sketches_stale(&self) -> bool {
        self.sketches_stale
    }

    /// Rebuilds the sketches from the vectors held under `ids` (the catalog's embedding ids:
    /// USearch cannot list its keys). Seconds at a million photos, no graph work.
    pub fn rebuild_sketches(&mut self, ids: &[i64]) {
        let (index, dim) = (&self.index, self.dim);
        let fresh = Sketches::build_from(dim, ids, |id| vector_in(index, dim, id));
        let sk = self.sketches.get_mut().unwrap_or_else(|e| e.into_inner());
        let directions = sk.directions().to_vec();
        *sk = fresh;
        if !directions.is_empty() {
            sk.set_directions(&directions, |id| vector_in(index, dim, id));
        }
        self.sketches_stale = false;
        self.sketches_unsaved = true;
    }

    /// Turns a memory-mapped (read-only) index into a loaded one before a change. The file is
    /// verified again, since it may have been replaced since it was mapped; if it no longer
    /// matches, the change fails and the caller rebuilds from the catalog.
    fn writable(&mut self) -> Result<(), VectorError> {
        let Some((path, rec)) = &self.viewed else {
            return Ok(());
        };
        // On failure the index stays a (read-only) map, so every later change fails the same
        // clear way instead of reaching USearch's immutable view.
        let fresh = Self::open_loaded(path, self.dim, rec).map_err(|e| {
            VectorError::Index(format!(
                "the index file changed while it was open ({e:?}); rebuild it"
            ))
        })?;
        // The sketches in memory are those of this very file (or already rebuilt): keep them.
        let sketches = std::mem::replace(
            self.sketches.get_mut().unwrap_or_else(|e| e.into_inner()),
            Sketches::new(self.dim),
        );
        let (stale, unsaved) = (self.sketches_stale, self.sketches_unsaved);
        let recent = std::mem::take(&mut self.recent);
        let margin = self.photo_margin.load(std::sync::atomic::Ordering::Relaxed);
        *self = fresh;
        self.photo_margin = margin.into();
        *self.sketches.get_mut().unwrap_or_else(|e| e.into_inner()) = sketches;
        self.sketches_stale = stale;
        self.sketches_unsaved = unsaved;
        self.take_in(recent)
    }

    /// Puts commits held beside the graph ([`VectorIndex::follow`]) into it, removals first:
    /// a writer that opened a file behind the catalog holds them until its first change or
    /// save, and the file it then writes must hold them.
    fn take_in(&mut self, recent: Recent) -> Result<(), VectorError> {
        if recent.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.writable() {
            // The file stays mapped and unchanged: its searches keep answering with them.
            self.recent = recent;
            return Err(e);
        }
        for id in &recent.hidden {
            self.remove(*id)?;
        }
        let mut items: Vec<(i64, Vec<f32>)> = recent.vectors.into_iter().collect();
        // In id order, so that the graph does not depend on the overlay's hash order.
        items.sort_unstable_by_key(|(id, _)| *id);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.add_many(&items, threads)
    }

    /// Loads (not maps) a verified file, for writing.
    fn open_loaded(path: &Path, dim: usize, rec: &Saved) -> Result<Self, Staleness> {
        let corrupt = |e: &dyn std::fmt::Display| Staleness::Corrupt(e.to_string());
        if file_checksum(path).map_err(|e| corrupt(&e))? != split_checksum(&rec.checksum).0 {
            return Err(Staleness::Mismatch);
        }
        let me = Self::new(dim).map_err(|e| corrupt(&e))?;
        let p = path
            .to_str()
            .ok_or_else(|| Staleness::Corrupt("path is not UTF-8".into()))?;
        me.index.load(p).map_err(|e| corrupt(&e))?;
        if me.index.size() as u64 != rec.count {
            return Err(Staleness::Mismatch);
        }
        me.index
            .reserve(me.index.size() + 1024)
            .map_err(|e| corrupt(&e))?;
        Ok(me)
    }

    /// Whether the file this index was opened from matched its whole recorded checksum:
    /// `None` while that is still being checked in the background, `Some(false)` when it did
    /// not (its results may misplace some photos; the next open rebuilds it).
    pub fn verified(&self) -> Option<bool> {
        match self
            .verifying
            .as_ref()
            .map(|v| v.outcome.load(Ordering::Relaxed))
        {
            None | Some(MATCHED) => Some(true),
            Some(DIFFERED) => Some(false),
            Some(_) => None,
        }
    }

    /// Whether the index is still a read-only map of its file (no change made yet).
    pub fn is_mapped(&self) -> bool {
        self.viewed.is_some()
    }

    /// Builds an index from the catalog's embeddings (at open, when the file is not trusted),
    /// inserting on every core: a million photos are minutes of graph building.
    pub fn rebuild<I: IntoIterator<Item = (i64, Vec<f32>)>>(
        dim: usize,
        vectors: I,
    ) -> Result<Self, VectorError> {
        Self::rebuild_reporting(dim, vectors.into_iter().collect(), &mut |_| {})
    }

    /// [`VectorIndex::rebuild`], telling `linked` how many photos are in the graph every
    /// quarter of a second or so: at a million photos the build takes minutes, which a window
    /// or a terminal should show rather than seem stuck.
    pub fn rebuild_reporting(
        dim: usize,
        items: Vec<(i64, Vec<f32>)>,
        linked: &mut dyn FnMut(usize),
    ) -> Result<Self, VectorError> {
        // Concurrent insertion makes the graph depend on thread timing; below this size one
        // thread takes seconds at most and the rebuilt index is the same on every run.
        let threads = if items.len() < 20_000 {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        };
        Self::build_reporting(dim, &items, threads, linked)
    }

    /// Builds an index from `items` on `threads` threads (USearch inserts concurrently once
    /// capacity and thread slots are reserved).
    pub fn build_parallel(
        dim: usize,
        items: &[(i64, Vec<f32>)],
        threads: usize,
    ) -> Result<Self, VectorError> {
        Self::build_reporting(dim, items, threads, &mut |_| {})
    }

    /// [`VectorIndex::build_parallel`], telling `linked` the photos inserted so far from the
    /// calling thread while the others insert (so `linked` need not be `Send`), at most every
    /// [`REPORT_EVERY`], then once with all of them.
    fn build_reporting(
        dim: usize,
        items: &[(i64, Vec<f32>)],
        threads: usize,
        linked: &mut dyn FnMut(usize),
    ) -> Result<Self, VectorError> {
        if let Some((_, v)) = items.iter().find(|(_, v)| v.len() != dim) {
            return Err(VectorError::Dimensions {
                want: dim,
                got: v.len(),
            });
        }
        let me = Self::new(dim)?;
        let threads = threads.clamp(1, 64);
        me.index
            .reserve_capacity_and_threads(items.len() + 1024, threads)
            .map_err(ix)?;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let inserted = std::sync::atomic::AtomicUsize::new(0);
        let running = std::sync::atomic::AtomicUsize::new(threads);
        let failed: std::sync::Mutex<Option<VectorError>> = std::sync::Mutex::new(None);
        let reporter = std::thread::current();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    // Counted out and the reporter woken even if this thread panics, so the
                    // reporter's loop ends and the scope passes the panic on.
                    let _done = Ended(&running, &reporter);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((id, v)) = items.get(i) else { break };
                        // Duplicate ids would be two nodes with one key: keep the last vector.
                        if self_contains(&me.index, *id) {
                            let _ = me.index.remove(*id as u64);
                        }
                        if let Err(e) = me.index.add(*id as u64, &quantize(v)) {
                            if let Ok(mut f) = failed.lock() {
                                f.get_or_insert(ix(e));
                            }
                            break;
                        }
                        inserted.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            let mut told = None;
            while running.load(Ordering::Acquire) > 0 {
                std::thread::park_timeout(REPORT_EVERY);
                let now = inserted.load(Ordering::Relaxed);
                if told != Some(now) {
                    linked(now);
                    told = Some(now);
                }
            }
            let all = inserted.load(Ordering::Relaxed);
            if told != Some(all) {
                linked(all);
            }
        });
        if let Some(e) = failed.into_inner().ok().flatten() {
            return Err(e);
        }
        let mut me = me;
        *me.sketches.get_mut().unwrap_or_else(|e| e.into_inner()) = Sketches::build(dim, items);
        me.sketches_unsaved = true;
        Ok(me)
    }

    /// Vector width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of vectors (the graph's and those committed since its file).
    pub fn len(&self) -> usize {
        self.index.size() - self.recent.hidden.len() + self.recent.vectors.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a photo has a vector here.
    pub fn contains(&self, id: i64) -> bool {
        self.recent.vectors.contains_key(&id)
            || (!self.recent.hidden.contains(&id) && self.index.contains(id as u64))
    }

    /// Adds (or replaces) a photo's vector.
    pub fn add(&mut self, id: i64, v: &[f32]) -> Result<(), VectorError> {
        if v.len() != self.dim {
            return Err(VectorError::Dimensions {
                want: self.dim,
                got: v.len(),
            });
        }
        self.writable()?;
        self.forget_recent(&[id]);
        if self.index.contains(id as u64) {
            self.index.remove(id as u64).map_err(ix)?;
        }
        if self.index.size() + 1 > self.index.capacity() {
            let cap = (self.index.capacity() * 2).max(1024);
            self.index.reserve(cap).map_err(ix)?;
        }
        self.index.add(id as u64, &quantize(v)).map_err(ix)?;
        self.sketch_added(&[id]);
        Ok(())
    }

    /// The graph now holds the truth about these photos: the overlay does not.
    fn forget_recent(&mut self, ids: &[i64]) {
        for id in ids {
            self.recent.vectors.remove(id);
            self.recent.hidden.remove(id);
        }
    }

    /// Brings the sketches up to date with vectors just added to the graph: each is sketched,
    /// or, when the library has doubled since the centre was taken, everything is re-centred.
    fn sketch_added(&mut self, ids: &[i64]) {
        if self.sketches_stale {
            return;
        }
        let (index, dim) = (&self.index, self.dim);
        let sk = self.sketches.get_mut().unwrap_or_else(|e| e.into_inner());
        let fresh = ids.iter().filter(|id| !sk.contains(**id)).count();
        for id in ids {
            if let Some(v) = vector_in(index, dim, *id) {
                sk.insert(*id, &v);
            }
        }
        if sk.wants_centre_after(fresh) {
            sk.recentre(|id| vector_in(index, dim, id));
        }
        self.sketches_unsaved = true;
    }

    /// Adds many vectors on `threads` threads: at GPU indexing rates graph insertion, not the
    /// encoder, is the wall, and USearch inserts concurrently once capacity and thread slots are
    /// reserved. Below [`PARALLEL_ADD_MIN`] items one thread is used (same graph every run).
    pub fn add_many(
        &mut self,
        items: &[(i64, Vec<f32>)],
        threads: usize,
    ) -> Result<(), VectorError> {
        if let Some((_, v)) = items.iter().find(|(_, v)| v.len() != self.dim) {
            return Err(VectorError::Dimensions {
                want: self.dim,
                got: v.len(),
            });
        }
        if items.is_empty() {
            return Ok(());
        }
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        if let Some((id, _)) = items.iter().find(|(id, _)| !seen.insert(*id)) {
            return Err(VectorError::Index(format!(
                "photo {id} given twice in one batch"
            )));
        }
        self.writable()?;
        for (id, _) in items {
            self.forget_recent(&[*id]);
            if self.index.contains(*id as u64) {
                self.index.remove(*id as u64).map_err(ix)?;
            }
        }
        let threads = if items.len() < PARALLEL_ADD_MIN {
            1
        } else {
            threads.clamp(1, 64)
        };
        let need = self.index.size() + items.len();
        let capacity = if need > self.index.capacity() {
            need.max(self.index.capacity() * 2).max(1024)
        } else {
            self.index.capacity()
        };
        self.index
            .reserve_capacity_and_threads(capacity, threads)
            .map_err(ix)?;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failed: std::sync::Mutex<Option<VectorError>> = std::sync::Mutex::new(None);
        let index = &self.index;
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((id, v)) = items.get(i) else { break };
                    if let Err(e) = index.add(*id as u64, &quantize(v)) {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(ix(e));
                        }
                        break;
                    }
                });
            }
        });
        match failed.into_inner().ok().flatten() {
            Some(e) => Err(e),
            None => {
                let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
                self.sketch_added(&ids);
                Ok(())
            }
        }
    }

    /// Removes a photo's vector (no error if absent).
    pub fn remove(&mut self, id: i64) -> Result<(), VectorError> {
        self.forget_recent(&[id]);
        if !self.index.contains(id as u64) {
            return Ok(());
        }
        self.writable()?;
        self.index.remove(id as u64).map_err(ix)?;
        self.sketches
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.sketches_unsaved = true;
        Ok(())
    }

    /// The sketch stage of [`VectorIndex::search_caption`] alone: the `count` best estimates
    /// (photo id, estimated score), best first, with the caption direction the sketches hold.
    pub fn caption_estimates(
        &self,
        query: &[f32],
        count: usize,
        keep: &(dyn Fn(i64) -> bool + Sync),
    ) -> Vec<(i64, f32)> {
        let sk = self.sketches.read().unwrap_or_else(|e| e.into_inner());
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        sk.best(&sk.query(query), count, threads, keep)
    }

    /// The `k` photos nearest a caption's vector `query`, among those `keep` accepts: every
    /// sketch is scored (a caption sits across the modality gap, where the graph loses its
    /// way), the [`CAPTION_RERANK`] best (or `4k`) are scored on the graph's i8 rows and the
    /// best of those on their `exact` vectors ([`EXACT_EXTRA`]). `gap` is the direction
    /// captions share, scored exactly: the first search with a new one re-scores the sketches
    /// along it (one pass over the vectors).
    pub fn search_caption(
        &self,
        query: &[f32],
        k: usize,
        gap: Option<&[f32]>,
        keep: &(dyn Fn(i64) -> bool + Sync),
        exact: Exact<'_>,
    ) -> Result<Vec<(i64, f32)>, VectorError> {
        self.check(query)?;
        if self.sketches_stale {
            return Err(VectorError::Index(
                "the sketches are being rebuilt; search the graph".into(),
            ));
        }
        let wanted: Vec<Vec<f32>> = gap
            .filter(|g| g.len() == self.dim)
            .map(|g| vec![g.to_vec()])
            .unwrap_or_default();
        let current = |sk: &Sketches| sk.directions_match(&wanted);
        let needs_directions = !current(&self.sketches.read().unwrap_or_else(|e| e.into_inner()));
        if needs_directions {
            let mut sk = self.sketches.write().unwrap_or_else(|e| e.into_inner());
            if !current(&sk) {
                let started = std::time::Instant::now();
                sk.set_directions(&wanted, |id| vector_in(&self.index, self.dim, id));
                tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    "sketches re-scored along the caption direction"
                );
            }
        }
        let pool = CAPTION_RERANK
            .max(k.saturating_mul(4))
            .min(self.index.size());
        let hidden = &self.recent.hidden;
        let candidates = if hidden.is_empty() {
            self.caption_estimates(query, pool, keep)
        } else {
            self.caption_estimates(query, pool, &|id| keep(id) && !hidden.contains(&id))
        };
        let ids: Vec<i64> = candidates.into_iter().map(|(id, _)| id).collect();
        let ranked = self.rescore(&ids, query);
        let (scored, _) = finish(query, k, &ranked, exact)?;
        Ok(self.recent.merge(scored, query, k, keep))
    }

    /// The `k` photos nearest a photo's vector `query` ("more like this", a dropped picture),
    /// among those `keep` accepts: the [`PHOTO_RERANK`] best sketch estimates (or `4k`) and
    /// the graph's [`PHOTO_GRAPH`] nearest (or `k`), scored on the graph's i8 rows, the best of
    /// those on their `exact` vectors. Either source alone misses true neighbours in loosely
    /// clustered libraries, where a photo's cluster mates are nearly equidistant: at a million
    /// photos of the held-out generator the graph alone finds 0.64 of the true ten, together
    /// they find 0.99 (`benches/RESULTS.md`). While the sketches are being rebuilt, the graph
    /// answers alone.
    pub fn search_photo(
        &self,
        query: &[f32],
        k: usize,
        keep: &(dyn Fn(i64) -> bool + Sync),
        exact: Exact<'_>,
    ) -> Result<Vec<(i64, f32)>, VectorError> {
        self.check(query)?;
        if self.index.size() == 0 || self.sketches_stale {
            let near = self.graph_filtered(query, k.saturating_add(EXACT_EXTRA), keep)?;
            let (scored, _) = finish(query, k, &near, exact)?;
            return Ok(self.recent.merge(scored, query, k, keep));
        }
        let size = self.index.size();
        let hidden = &self.recent.hidden;
        let allowed = |id: i64| keep(id) && !hidden.contains(&id);
        let allowed: &(dyn Fn(i64) -> bool + Sync) =
            if hidden.is_empty() { keep } else { &allowed };
        let pool = PHOTO_RERANK.max(k.saturating_mul(4)).min(size);
        let rows = quantize(query);
        // The graph is walked on one core while the others start on the sketches.
        let walk = || {
            self.index
                .filtered_search(&rows, PHOTO_GRAPH.max(k).min(size), |key| {
                    allowed(key as i64)
                })
                .map_err(ix)
        };
        let sk = self.sketches.read().unwrap_or_else(|e| e.into_inner());
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (estimates, near) = sk.best_beside(&sk.query(query), pool, threads, allowed, walk);
        drop(sk);
        let near = near?;
        let ranked = self.rescore_estimates(query, k, estimates, &near.keys);
        let (scored, _) = finish(query, k, &ranked, exact)?;
        Ok(self.recent.merge(scored, query, k, keep))
    }

    /// The graph's `near` and the sketches' `estimates` (photo id, estimate) scored on the
    /// graph's rows, best first. The graph's and the best [`PHOTO_FIRST`] estimates are scored
    /// first; the rest only while their estimate is within [`PHOTO_MARGIN`] of this query's
    /// estimate errors below the `k`-th best so far, since one that far below cannot be among
    /// the best.
    fn rescore_estimates(
        &self,
        query: &[f32],
        k: usize,
        mut estimates: Vec<(i64, f32)>,
        near: &[u64],
    ) -> Vec<(i64, f32)> {
        estimates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let first = PHOTO_FIRST.max(k.saturating_mul(2)).min(estimates.len());
        let (head, tail) = estimates.split_at(first);
        let mut ids: Vec<i64> = head.iter().map(|(id, _)| *id).collect();
        ids.extend(near.iter().map(|&key| key as i64));
        ids.sort_unstable();
        ids.dedup();
        let mut scored = self.row_scores(&ids, query);
        let held: HashMap<i64, f32> = scored.iter().copied().collect();
        let errors: Vec<f32> = head
            .iter()
            .filter_map(|(id, est)| held.get(id).map(|x| x - est))
            .collect();
        let spread = deviation(&errors);
        let margin = f32::from_bits(self.photo_margin.load(std::sync::atomic::Ordering::Relaxed));
        sort_best_first(&mut scored);
        // With fewer than `k` scored or no spread measured, every estimate is scored.
        let floor = match (scored.get(k.saturating_sub(1)), spread) {
            (Some(&(_, kth)), Some(sd)) if k > 0 && margin.is_finite() => kth - margin * sd,
            _ => f32::NEG_INFINITY,
        };
        let rest: Vec<i64> = tail
            .iter()
            .take_while(|(_, est)| *est >= floor)
            .map(|(id, _)| *id)
            .filter(|id| !held.contains_key(id))
            .collect();
        scored.extend(self.row_scores(&rest, query));
        sort_best_first(&mut scored);
        scored
    }

    /// `ids` scored on the graph's rows, best first (ties by id).
    fn rescore(&self, ids: &[i64], query: &[f32]) -> Vec<(i64, f32)> {
        let mut scored = self.row_scores(ids, query);
        sort_best_first(&mut scored);
        scored
    }

    /// `ids` the graph holds, scored on its i8 rows, in no order; split over the cores when
    /// there are many, since each is a lookup in a file of a gigabyte at a million photos.
    fn row_scores(&self, ids: &[i64], query: &[f32]) -> Vec<(i64, f32)> {
        let score = |ids: &[i64]| -> Vec<(i64, f32)> {
            let mut held = HeldRow::new(self.dim);
            ids.iter()
                .filter_map(|&id| held.score(&self.index, id, query).map(|s| (id, s)))
                // A row damaged on disk (found by the background check, after opening) could
                // score NaN, which would sort above every score.
                .filter(|(_, score)| score.is_finite())
                .collect()
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(ids.len().div_ceil(RESCORE_PER_THREAD))
            .max(1);
        if threads == 1 {
            return score(ids);
        }
        let per = ids.len().div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = ids.chunks(per).map(|c| s.spawn(move || score(c))).collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().unwrap_or_default())
                .collect()
        })
    }

    /// The `k` nearest photos by the graph alone, best first, scored on its i8 rows (within a
    /// few thousandths of the exact cosine): neighbours for duplicates, and tests.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(i64, f32)>, VectorError> {
        self.check(query)?;
        if !self.recent.hidden.is_empty() {
            return self.search_filtered(query, k, |_| true);
        }
        let found = if self.index.size() == 0 {
            Vec::new()
        } else {
            let m = self.index.search(&quantize(query), k).map_err(ix)?;
            hits(&m.keys, &m.distances)
        };
        Ok(self.recent.merge(found, query, k, &|_| true))
    }

    /// The `k` nearest photos, every photo scored: on the graph's rows, then the best on their
    /// `exact` vectors, asking the rows for more until the exact scores leave no doubt
    /// (`finish`). Faster than the graph while the library is small.
    pub fn search_exact(
        &self,
        query: &[f32],
        k: usize,
        exact: Exact<'_>,
    ) -> Result<Vec<(i64, f32)>, VectorError> {
        self.check(query)?;
        let size = self.index.size();
        let hidden = &self.recent.hidden;
        let rows = quantize(query);
        // A pass over the rows costs the same whatever it keeps, and in a tight cluster many
        // rows lie within the margin of the `k`-th best: keep plenty at once rather than pass
        // again. Hidden photos are dropped from the rows' answer: ask for that many more.
        let mut wanted = k
            .saturating_mul(4)
            .max(k.saturating_add(EXACT_EXTRA))
            .max(EXACT_ROWS_FIRST)
            .saturating_add(hidden.len())
            .min(size);
        let scored = loop {
            let ranked = if wanted == 0 {
                Vec::new()
            } else {
                let m = self.index.exact_search(&rows, wanted).map_err(ix)?;
                let mut found = hits(&m.keys, &m.distances);
                found.retain(|(id, _)| !hidden.contains(id));
                found
            };
            let (scored, short) = finish(query, k, &ranked, exact)?;
            if !short || wanted >= size {
                break scored;
            }
            wanted = wanted.saturating_mul(4).min(size);
        };
        Ok(self.recent.merge(scored, query, k, &|_| true))
    }

    /// The `k` nearest photos that `keep` accepts (graph search, scored on the graph's rows;
    /// it may find fewer than `k` when the filter is very selective, which the caller must
    /// check).
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(i64) -> bool,
    ) -> Result<Vec<(i64, f32)>, VectorError> {
        self.check(query)?;
        let found = self.graph_filtered(query, k, &keep)?;
        Ok(self.recent.merge(found, query, k, &keep))
    }

    /// The graph's `k` nearest that `keep` accepts and the overlay does not hide, scored on
    /// its rows, best first.
    fn graph_filtered(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(i64) -> bool,
    ) -> Result<Vec<(i64, f32)>, VectorError> {
        if self.index.size() == 0 || k == 0 {
            return Ok(Vec::new());
        }
        let hidden = &self.recent.hidden;
        let m = self
            .index
            .filtered_search(&quantize(query), k, |key| {
                let id = key as i64;
                !hidden.contains(&id) && keep(id)
            })
            .map_err(ix)?;
        Ok(hits(&m.keys, &m.distances))
    }

    /// A photo's vector as the index holds it: the overlay's exact copy, else the graph's i8
    /// row (unit length; within a few thousandths of the exact vector's cosines). Searches by
    /// example read the catalog's exact vector instead.
    pub fn get(&self, id: i64) -> Option<Vec<f32>> {
        if let Some(v) = self.recent.vectors.get(&id) {
            return Some(v.clone());
        }
        if self.recent.hidden.contains(&id) {
            return None;
        }
        vector_in(&self.index, self.dim, id)
    }

    /// Sets how many candidates a graph search explores (recall against latency).
    pub fn set_expansion_search(&self, n: usize) {
        self.index.change_expansion_search(n);
    }

    /// Sets how many candidates an insertion explores (graph quality against indexing CPU),
    /// for measuring other settings than the library's (128); not saved with the graph.
    pub fn set_expansion_add(&self, n: usize) {
        self.index.change_expansion_add(n);
    }

    /// Sets how far below the `k`-th best a photo query stops scoring estimates, in deviations
    /// of its estimate errors, for measuring other settings than [`PHOTO_MARGIN`] (infinite:
    /// every estimate of the pool is scored).
    pub fn set_photo_margin(&self, deviations: f32) {
        self.photo_margin
            .store(deviations.to_bits(), std::sync::atomic::Ordering::Relaxed);
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

    /// Saves to `path` atomically (temp file, fsync, rename, fsync folder), with any commits
    /// held beside the graph taken into it first, and returns what the catalog must record.
    pub fn save(&mut self, path: &Path) -> Result<Saved, VectorError> {
        // Commits held beside the graph go into it first: the file must hold them.
        let recent = std::mem::take(&mut self.recent);
        self.take_in(recent)?;
        if let Some((mapped, rec)) = &self.viewed {
            // Unchanged since it was mapped: the file already is this index.
            if mapped == path {
                if self.sketches_unsaved && !self.sketches_stale {
                    self.save_sketches(path, &rec.checksum)?;
                }
                return Ok(rec.clone());
            }
        }
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let io = |p: &Path, source| VectorError::Io {
            path: p.display().to_string(),
            source,
        };
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| io(&dir, e))?;
        match tmp.path().to_str() {
            // Written by USearch straight to the file: no second copy of the index in memory.
            Some(p) => self.index.save(p).map_err(ix)?,
            None => {
                let mut buf = vec![0u8; self.index.serialized_length()];
                self.index.save_to_buffer(&mut buf).map_err(ix)?;
                let mut f = tmp.as_file();
                f.write_all(&buf).map_err(|e| io(path, e))?;
            }
        }
        // USearch wrote through its own handle; sync through ours before the rename.
        std::fs::File::open(tmp.path())
            .and_then(|f| f.sync_all())
            .map_err(|e| io(path, e))?;
        let whole = file_checksum(tmp.path()).map_err(|e| io(path, e))?;
        let (len, structure) = std::fs::File::open(tmp.path())
            .and_then(|mut f| structure_checksum(&mut f))
            .map_err(|e| io(path, e))?;
        let checksum = format!("{whole}{STRUCTURE}{len}:{structure}");
        tmp.persist(path).map_err(|e| io(path, e.error))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        // A fresh file: whatever an earlier one was found to be no longer matters.
        let _ = std::fs::remove_file(unverified_path(path));
        // After the index file: sketches name the checksum of the file they belong to, so a
        // crash between the two renames leaves sketches that are rebuilt, never trusted.
        if !self.sketches_stale {
            self.save_sketches(path, &checksum)?;
        }
        Ok(Saved {
            count: self.len() as u64,
            checksum,
        })
    }
}

impl VectorIndex {
    /// Writes the sketches beside the index file recorded as `saved` (after they were
    /// rebuilt for a file that is otherwise trusted).
    pub fn save_sketches_for(&mut self, path: &Path, saved: &Saved) -> Result<(), VectorError> {
        self.save_sketches(path, &saved.checksum)?;
        self.sketches_unsaved = false;
        Ok(())
    }

    fn save_sketches(&self, path: &Path, checksum: &str) -> Result<(), VectorError> {
        self.sketches
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .save(&sketch_path(path), checksum)
            .map_err(|e| VectorError::Index(e.to_string()))
    }

    /// Bytes the sketches hold (for status and benchmarks).
    pub fn sketch_memory(&self) -> usize {
        self.sketches.read().map_or(0, |s| s.memory_usage())
    }
}

/// A buffer for reading the graph's i8 rows as stored and scoring them against a query in
/// bulk, which re-scores faster than asking the index for f32 (what is left is mostly the
/// memory latency of reading each row).
struct HeldRow {
    raw: Vec<i8>,
    wide: Vec<f32>,
}

impl HeldRow {
    fn new(dim: usize) -> Self {
        HeldRow {
            raw: vec![0; dim],
            wide: vec![0.0; dim],
        }
    }

    /// Photo `id`'s row, widened to unit length, or `None` when the index does not hold it
    /// (or holds a row of zeros).
    fn read(&mut self, index: &Index, id: i64) -> Option<&[f32]> {
        let norm = self.widen(index, id)?;
        self.wide.iter_mut().for_each(|w| *w /= norm);
        Some(&self.wide)
    }

    /// The cosine of photo `id`'s row with `query` (a unit vector): the row's dot product
    /// divided by its length once, rather than each coordinate divided first.
    fn score(&mut self, index: &Index, id: i64, query: &[f32]) -> Option<f32> {
        let norm = self.widen(index, id)?;
        Some(glimpse_clip::embedding::dot(&self.wide, query) / norm)
    }

    /// Reads photo `id`'s row into `wide` as it is stored and returns its length, or `None`
    /// when the index does not hold it (or holds a row of zeros).
    fn widen(&mut self, index: &Index, id: i64) -> Option<f32> {
        match index.get(id as u64, &mut self.raw) {
            Ok(n) if n >= 1 => {}
            _ => return None,
        }
        self.wide
            .iter_mut()
            .zip(&self.raw)
            .for_each(|(w, r)| *w = f32::from(*r));
        let norm = glimpse_clip::embedding::dot(&self.wide, &self.wide).sqrt();
        (norm > 0.0).then_some(norm)
    }
}

/// A vector as the graph stores it: scaled so that its largest coordinate is ±127, then
/// rounded. Cosine ignores the scale, so every row uses all 255 levels; USearch's own cast
/// multiplies by 127 as is, which leaves a 512-d unit vector about six levels per standard
/// deviation (the recall@10 of 0.856 once measured for "i8" was that cast).
fn quantize(v: &[f32]) -> Vec<i8> {
    let largest = v
        .iter()
        .filter(|x| x.is_finite())
        .fold(0f32, |m, x| m.max(x.abs()));
    if largest <= 0.0 {
        return vec![0; v.len()];
    }
    let scale = 127.0 / largest;
    // `as` saturates, and a NaN coordinate becomes 0.
    v.iter().map(|x| (x * scale).round() as i8).collect()
}

/// How many more than the `k` asked for of a search's best on the graph's rows are scored on
/// their exact vectors first (`finish`): at a million photos, the graph's and the sketches'
/// candidates ranked on i8 rows with the best 30 scored exactly gave recall@10 0.9930, the
/// same as scoring all 3,300 exactly (`benches/RESULTS.md`).
pub const EXACT_EXTRA: usize = 20;

/// How many rows [`VectorIndex::search_exact`] keeps from its first pass over every row, at least.
const EXACT_ROWS_FIRST: usize = 256;

/// How far below the `k`-th best exact score, in standard deviations of this query's row
/// errors (`exact - row score` over the first `k` + [`EXACT_EXTRA`]), a row score must lie to be
/// left unscored: the errors are a few thousandths, so this rarely reaches past the first.
pub const EXACT_MARGIN: f32 = 5.0;

/// The `k` best of `ranked` (photo id, score on the graph's rows, best first) by their `exact`
/// vectors, best first: the first `k` + [`EXACT_EXTRA`] are scored exactly, then the rest
/// only while their row score lies within [`EXACT_MARGIN`] deviations of this query's row
/// errors below the `k`-th best exact score. A photo without an exact vector (removed since)
/// is left out. Also returns whether `ranked` ran out above that floor, so that more of the
/// rows might belong (the caller may ask the rows for more).
fn finish(
    query: &[f32],
    k: usize,
    ranked: &[(i64, f32)],
    exact: Exact<'_>,
) -> Result<(Vec<(i64, f32)>, bool), VectorError> {
    if k == 0 {
        return Ok((Vec::new(), false));
    }
    let score = |id: i64| -> Result<Option<f32>, VectorError> {
        Ok(exact(id)?
            .filter(|v| v.len() == query.len())
            .map(|v| glimpse_clip::embedding::dot(&v, query))
            .filter(|s| s.is_finite()))
    };
    let first = k.saturating_add(EXACT_EXTRA).min(ranked.len());
    let mut scored = Vec::with_capacity(first);
    let mut errors = Vec::with_capacity(first);
    for &(id, row) in &ranked[..first] {
        if let Some(s) = score(id)? {
            scored.push((id, s));
            errors.push(s - row);
        }
    }
    sort_best_first(&mut scored);
    let floor = match (scored.get(k - 1), deviation(&errors)) {
        (Some(&(_, kth)), Some(sd)) => kth - EXACT_MARGIN * sd,
        _ => f32::NEG_INFINITY,
    };
    let mut short = true;
    for &(id, row) in &ranked[first..] {
        if row < floor {
            short = false;
            break;
        }
        if let Some(s) = score(id)? {
            scored.push((id, s));
        }
    }
    sort_best_first(&mut scored);
    scored.truncate(k);
    Ok((scored, short))
}

/// Sorts (photo id, score) best first, ties by id.
fn sort_best_first(scored: &mut [(i64, f32)]) {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// Whether a saved file's head fits this model and this version's rows.
fn fits(meta: &usearch::ffi::IndexMetadata, dim: usize) -> Result<(), Staleness> {
    if meta.dimensions as usize != dim {
        return Err(Staleness::Corrupt(format!(
            "file has {} dimensions, model has {dim}",
            meta.dimensions
        )));
    }
    if meta.quantization != ScalarKind::I8 {
        return Err(Staleness::Outdated(format!(
            "{:?} rows, this version keeps i8",
            meta.quantization
        )));
    }
    Ok(())
}

/// The standard deviation of `xs`, or `None` for fewer than two.
fn deviation(xs: &[f32]) -> Option<f32> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some(var.sqrt() as f32)
}

/// A stored row by key, widened to unit length (the sketches are built from these).
fn vector_in(index: &Index, dim: usize, id: i64) -> Option<Vec<f32>> {
    let mut held = HeldRow::new(dim);
    held.read(index, id)?;
    Some(held.wide)
}

/// What separates the whole file's checksum from the structure's in a recorded checksum.
const STRUCTURE: &str = " structure:";

/// A recorded checksum's parts: the whole file's, and the file's length and its structure's
/// checksum when they were recorded.
fn split_checksum(checksum: &str) -> (&str, Option<(u64, &str)>) {
    let Some((whole, rest)) = checksum.split_once(STRUCTURE) else {
        return (checksum, None);
    };
    match rest.split_once(':') {
        Some((len, sum)) => match len.parse() {
            Ok(len) => (whole, Some((len, sum))),
            Err(_) => (whole, None),
        },
        None => (whole, None),
    }
}

/// Beside an index file whose vector rows the background check found changed: the next open
/// checks the whole file instead of its structure. Removed when the file is saved again.
fn unverified_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".unverified");
    PathBuf::from(name)
}

/// The file's length and the BLAKE3 ("blake3:<hex>") of its bytes outside the vector rows. In
/// USearch's layout the file starts with the rows' count and width (two little-endian u32) and
/// the rows, then the index's head and the graph; a file that does not fit that is hashed
/// whole, which can only make it differ from what was recorded.
fn structure_checksum(file: &mut std::fs::File) -> std::io::Result<(u64, String)> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    let mut h = blake3::Hasher::new();
    let mut head = [0u8; 8];
    file.seek(SeekFrom::Start(0))?;
    let rows_end = if len >= 8 {
        file.read_exact(&mut head)?;
        let count = u64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]));
        let width = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        count.checked_mul(width).and_then(|b| b.checked_add(8))
    } else {
        None
    };
    match rows_end {
        Some(end) if end <= len => {
            h.update(&head);
            file.seek(SeekFrom::Start(end))?;
        }
        _ => {
            file.seek(SeekFrom::Start(0))?;
        }
    }
    hash_stream(file, &mut h, None)?;
    Ok((len, format!("blake3:{}", h.finalize().to_hex())))
}

/// Feeds the rest of `file` to `h` in large blocks (both cores hash each), stopping early when
/// `cancel` is set; returns whether it read to the end.
fn hash_stream(
    file: &mut std::fs::File,
    h: &mut blake3::Hasher,
    cancel: Option<&AtomicBool>,
) -> std::io::Result<bool> {
    use std::io::Read;
    let mut buf = vec![0u8; 8 << 20];
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Ok(false);
        }
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(true);
        }
        match cancel {
            // In the background: one core, so that searches keep the other.
            Some(_) => h.update(&buf[..n]),
            None => h.update_rayon(&buf[..n]),
        };
    }
}

/// Checks the whole of `file` (the one the index was opened from, whatever has since been
/// renamed over its path) against `whole` on a thread of its own.
fn verify_in_background(path: &Path, mut file: std::fs::File, whole: String) -> Verifying {
    use std::io::{Seek, SeekFrom};
    let cancel = Arc::new(AtomicBool::new(false));
    let outcome = Arc::new(AtomicU8::new(PENDING));
    let (stop, result, path) = (cancel.clone(), outcome.clone(), path.to_path_buf());
    let check = move || {
        let mut h = blake3::Hasher::new();
        let done = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| hash_stream(&mut file, &mut h, Some(&stop)));
        match done {
            Ok(true) if format!("blake3:{}", h.finalize().to_hex()) == whole => {
                result.store(MATCHED, Ordering::Relaxed);
            }
            Ok(true) => {
                result.store(DIFFERED, Ordering::Relaxed);
                tracing::error!(
                    path = %path.display(),
                    "the vector index file's rows differ from their checksum: some photos may \
                     be misplaced in results until the library is opened again, which rebuilds it"
                );
                if let Err(e) = std::fs::write(unverified_path(&path), b"") {
                    tracing::warn!("cannot mark the vector index for a full check: {e}");
                }
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot check the vector index file: {e}")
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("glimpse-verify-index".into())
        .spawn(check)
    {
        tracing::warn!("cannot check the vector index file in the background: {e}");
    }
    Verifying { cancel, outcome }
}

/// BLAKE3 of a whole file as recorded in the catalog ("blake3:<hex>"): memory-mapped and hashed
/// on every core, because a million-photo index is a gigabyte (hashed at every save, and at an
/// open that cannot rely on the structure's checksum).
fn file_checksum(path: &Path) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    h.update_mmap_rayon(path)?;
    Ok(format!("blake3:{}", h.finalize().to_hex()))
}

/// The checksum of bytes already in memory, in the same format.
fn file_checksum_of(bytes: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(bytes).to_hex())
}

fn self_contains(index: &Index, id: i64) -> bool {
    index.contains(id as u64)
}

/// USearch's cosine distances as (photo id, cosine similarity), best first.
fn hits(keys: &[u64], distances: &[f32]) -> Vec<(i64, f32)> {
    keys.iter()
        .zip(distances)
        .map(|(k, d)| (*k as i64, 1.0 - d))
        .collect()
}

/// Writes `items` as a file of f16 rows, the format before the rows became i8, with the record
/// a save gives: what opening an older library meets.
#[cfg(test)]
pub(crate) fn save_f16_rows(
    path: &Path,
    dim: usize,
    items: &[(i64, Vec<f32>)],
) -> Result<Saved, VectorError> {
    let mut old = VectorIndex::new(dim)?;
    let f16 = IndexOptions {
        quantization: ScalarKind::F16,
        ..options(dim)
    };
    *old.index = Index::new(&f16).map_err(ix)?;
    old.index.reserve(items.len() + 1).map_err(ix)?;
    for (id, v) in items {
        old.index.add(*id as u64, v).map_err(ix)?;
    }
    old.sketches_stale = true;
    old.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_many_on_many_threads_finds_every_vector_and_replaces_old_ones() {
        let dim = 32;
        let mut idx = VectorIndex::new(dim).unwrap();
        idx.add(5, &unit(999, dim)).unwrap();
        let items: Vec<(i64, Vec<f32>)> = (0..3000).map(|i| (i, unit(i as u64, dim))).collect();
        idx.add_many(&items, 4).unwrap();
        assert_eq!(idx.len(), 3000, "id 5 was replaced, not added twice");
        let stored = stored_in(&items);
        for (id, v) in items.iter().step_by(97) {
            let hit = idx.search_exact(v, 1, &stored).unwrap();
            assert_eq!(hit[0].0, *id);
        }
        assert!(idx
            .get(5)
            .is_some_and(|v| (dot(&v, &unit(5, dim)) - 1.0).abs() < 1e-2));
        let twice = vec![(1, unit(1, dim)), (1, unit(2, dim))];
        assert!(idx.add_many(&twice, 2).is_err(), "one id twice in a batch");
        let short = vec![(9000, vec![0.5; dim - 1])];
        assert!(matches!(
            idx.add_many(&short, 2),
            Err(VectorError::Dimensions { .. })
        ));
        assert_eq!(idx.len(), 3000, "refused batches change nothing");
    }

    #[test]
    fn a_rebuild_on_many_threads_reports_growing_counts_ending_at_every_vector() {
        let dim = 16;
        let items: Vec<(i64, Vec<f32>)> = (0..20_000).map(|i| (i, unit(i as u64, dim))).collect();
        let mut counts = Vec::new();
        let idx = VectorIndex::rebuild_reporting(dim, items, &mut |n| counts.push(n)).unwrap();
        assert_eq!(idx.len(), 20_000);
        assert_eq!(counts.last(), Some(&20_000), "{counts:?}");
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
        let mut none = Vec::new();
        VectorIndex::rebuild_reporting(dim, Vec::new(), &mut |n| none.push(n)).unwrap();
        assert_eq!(
            none,
            vec![0],
            "an empty build reports once, with nothing in it"
        );
    }

    /// The exact vectors of `items`, as a library's catalog gives them to a search.
    fn stored_in(
        items: &[(i64, Vec<f32>)],
    ) -> impl Fn(i64) -> Result<Option<Vec<f32>>, VectorError> {
        let map: HashMap<i64, Vec<f32>> = items.iter().cloned().collect();
        move |id| Ok(map.get(&id).cloned())
    }

    #[test]
    fn re_scoring_reads_the_rows_the_index_widens_itself() {
        let dim = 48;
        let mut idx = VectorIndex::new(dim).unwrap();
        for i in 0..50 {
            idx.add(i, &unit(i as u64, dim)).unwrap();
        }
        let mut held = HeldRow::new(dim);
        for id in [0, 7, 49] {
            // USearch widens an i8 row by its own scale: the same direction.
            let mut theirs = vec![0f32; dim];
            assert_eq!(idx.index.get(id as u64, &mut theirs).unwrap(), 1);
            let n = dot(&theirs, &theirs).sqrt();
            let ours = held.read(&idx.index, id).unwrap();
            for (a, b) in ours.iter().zip(&theirs) {
                assert!((a - b / n).abs() < 1e-6, "{a} against {}", b / n);
            }
            assert!(dot(ours, &unit(id as u64, dim)) > 0.999);
        }
        assert!(
            held.read(&idx.index, 50).is_none(),
            "an id the index does not hold"
        );
        let q = unit(7, dim);
        let best = idx.rescore(&[3, 7, 50, 12], &q);
        assert_eq!(best.len(), 3, "{best:?}");
        assert_eq!(best[0].0, 7);
        assert!((best[0].1 - 1.0).abs() < 1e-3, "{best:?}");
    }

    #[test]
    fn a_row_uses_every_level_whatever_its_scale() {
        // A unit vector of 512 coordinates, one of them far larger (as CLIP's are).
        let mut v = unit(3, 512);
        v[17] = 0.6;
        let n = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        let loss = |row: &[f32], v: &[f32]| 1.0 - dot(row, v) / dot(row, row).sqrt();
        for (v, plain) in [(unit(11, 512), true), (v, false)] {
            let row = quantize(&v);
            assert_eq!(row.iter().map(|r| r.unsigned_abs()).max(), Some(127));
            let wide: Vec<f32> = row.iter().map(|r| f32::from(*r)).collect();
            let ours = loss(&wide, &v);
            assert!(ours < 1e-3, "cosine to the original 1 - {ours}");
            // USearch's own cast (×127) leaves a 512-d unit vector without a large coordinate
            // a few levels.
            let cast: Vec<f32> = v.iter().map(|x| (x * 127.0).round()).collect();
            let theirs = loss(&cast, &v);
            assert!(
                !plain || ours * 10.0 < theirs,
                "1 - {ours} against the cast's 1 - {theirs}"
            );
        }
        assert_eq!(quantize(&[0.0; 4]), vec![0; 4]);
        assert_eq!(
            quantize(&[f32::NAN, 0.5, -1.0, f32::INFINITY]),
            vec![0, 64, -127, 127]
        );
    }

    #[test]
    fn finishing_orders_by_exact_scores_and_reads_past_the_first_only_when_in_doubt() {
        let dim = 16;
        let q = unit(1, dim);
        // Exact scores 0.9, 0.8, ..., row scores off by up to ±0.03 (rank swaps).
        let items: Vec<(i64, Vec<f32>)> = (0..60).map(|i| (i, unit(100 + i as u64, dim))).collect();
        let exact: HashMap<i64, f32> = items.iter().map(|(id, v)| (*id, dot(v, &q))).collect();
        let mut ranked: Vec<(i64, f32)> = items
            .iter()
            .map(|(id, _)| (*id, exact[id] + 0.03 * (((id * 7) % 5) as f32 - 2.0) / 2.0))
            .collect();
        sort_best_first(&mut ranked);
        let asked = std::cell::Cell::new(0);
        let stored = stored_in(&items);
        let counted = |id| {
            asked.set(asked.get() + 1);
            stored(id)
        };
        let (best, short) = finish(&q, 5, &ranked, &counted).unwrap();
        let mut truth: Vec<(i64, f32)> = exact.iter().map(|(a, b)| (*a, *b)).collect();
        sort_best_first(&mut truth);
        assert_eq!(best, truth[..5].to_vec());
        assert!(!short, "the floor was reached inside the ranking");
        assert!(asked.get() < 60, "every candidate read ({})", asked.get());
        // A ranking that ends above the floor says so; one without exact vectors is empty.
        let (_, short) = finish(&q, 5, &ranked[..25], &stored).unwrap();
        assert!(short);
        let none = |_| Ok(None);
        assert_eq!(finish(&q, 5, &ranked, &none).unwrap().0, vec![]);
        let failing = |_| Err(VectorError::Stored("disk".into()));
        assert!(matches!(
            finish(&q, 5, &ranked, &failing),
            Err(VectorError::Stored(_))
        ));
    }

    #[test]
    fn a_file_of_f16_rows_is_outdated_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors-old.usearch");
        let items: Vec<(i64, Vec<f32>)> = (1..=20).map(|i| (i, unit(i as u64, 32))).collect();
        let saved = save_f16_rows(&path, 32, &items).unwrap();
        assert!(matches!(
            VectorIndex::open(&path, 32, Some(&saved)),
            Err(Staleness::Outdated(_))
        ));
    }

    /// Waits for the background check of an opened file.
    fn verdict(idx: &VectorIndex) -> bool {
        let started = std::time::Instant::now();
        loop {
            if let Some(v) = idx.verified() {
                return v;
            }
            assert!(started.elapsed().as_secs() < 60, "the check never ended");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn a_file_opens_on_its_structure_and_its_rows_are_checked_after() {
        let dim = 32;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors-m.usearch");
        let mut idx = VectorIndex::new(dim).unwrap();
        for i in 0..300 {
            idx.add(i, &unit(i as u64, dim)).unwrap();
        }
        let saved = idx.save(&path).unwrap();
        let (whole, structure) = split_checksum(&saved.checksum);
        let good = std::fs::read(&path).unwrap();
        assert_eq!(whole, file_checksum_of(&good));
        assert_eq!(structure.map(|s| s.0), Some(good.len() as u64));
        // One byte a coordinate (i8 rows).
        let rows_end = 8 + 300 * dim;
        assert_eq!(
            &good[..8],
            [300u32.to_le_bytes(), 32u32.to_le_bytes()].concat()
        );

        // Untouched: opened, and the rows then match.
        let opened = VectorIndex::open(&path, dim, Some(&saved)).unwrap();
        assert!(verdict(&opened));
        drop(opened);

        // A byte of one vector's row: opened on the structure, found by the check, and the
        // next open checks the whole file and refuses it.
        let mut row = good.clone();
        row[8 + 100 * dim + 3] ^= 0x10;
        std::fs::write(&path, &row).unwrap();
        let opened = VectorIndex::open(&path, dim, Some(&saved)).unwrap();
        assert!(!verdict(&opened), "a changed row must be found");
        assert!(unverified_path(&path).exists());
        drop(opened);
        assert!(matches!(
            VectorIndex::open(&path, dim, Some(&saved)),
            Err(Staleness::Mismatch)
        ));

        // A byte of the graph (past the rows) or of the rows' header: refused at once.
        for at in [good.len() - 5, rows_end + 70, 2] {
            std::fs::remove_file(unverified_path(&path)).unwrap_or_default();
            let mut graph = good.clone();
            graph[at] ^= 0x01;
            std::fs::write(&path, &graph).unwrap();
            assert!(
                matches!(
                    VectorIndex::open(&path, dim, Some(&saved)),
                    Err(Staleness::Mismatch)
                ),
                "byte {at} of {}",
                good.len()
            );
        }

        // A record from before the structure was kept: the whole file is checked at open.
        std::fs::write(&path, &row).unwrap();
        let old = Saved {
            count: saved.count,
            checksum: whole.to_string(),
        };
        assert!(matches!(
            VectorIndex::open(&path, dim, Some(&old)),
            Err(Staleness::Mismatch)
        ));
        std::fs::write(&path, &good).unwrap();
        let opened = VectorIndex::open(&path, dim, Some(&old)).unwrap();
        assert_eq!(opened.verified(), Some(true));

        // Saving again clears the mark.
        std::fs::write(unverified_path(&path), b"").unwrap();
        let mut fresh = VectorIndex::new(dim).unwrap();
        fresh.add(1, &unit(1, dim)).unwrap();
        fresh.save(&path).unwrap();
        assert!(!unverified_path(&path).exists());
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

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
    fn a_parallel_build_keeps_every_vector_under_its_own_key() {
        let items: Vec<(i64, Vec<f32>)> = (1..=3000).map(|i| (i, unit(i as u64, 48))).collect();
        let ix = VectorIndex::build_parallel(48, &items, 4).unwrap();
        assert_eq!(ix.len(), 3000);
        let stored = stored_in(&items);
        for (id, v) in &items {
            let got = ix.get(*id).unwrap();
            let cos: f32 = got.iter().zip(v).map(|(a, b)| a * b).sum();
            assert!(cos > 0.999, "key {id} holds another vector (cos {cos})");
            // Exact search is independent of the graph: the vector's own key comes first.
            let hit = ix.search_exact(v, 1, &stored).unwrap();
            assert_eq!(hit[0].0, *id);
            assert!((hit[0].1 - 1.0).abs() < 1e-6, "scored on the exact vector");
        }
        let wrong = [(1, vec![0.0; 3])];
        assert!(matches!(
            VectorIndex::build_parallel(48, &wrong, 2),
            Err(VectorError::Dimensions { .. })
        ));
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
