//! A library folder: the catalog, the derived vector index of one model and the thumbnail
//! cache, plus the indexing job that keeps them in step with the photo roots on disk.

use crate::catalog::{
    path_bytes, Catalog, CatalogError, Following, PhotoFilter, PhotoInfo, RootCounts, Stats,
    TagRule, TextOutcome,
};
use crate::error::LibraryError;
use crate::lock::{LockError, WriterLock};
use crate::pipeline::{self, Control, Outcome, Progress, Timing, WorkItem};
use crate::records::{Records, MODEL_SETTING};
use crate::scan::{self, ScanError, ScanItem, ScanOptions};
use crate::thumbs::Thumbs;
use crate::vectors::{Saved, Staleness, VectorError, VectorIndex};
use glimpse_clip::decode;
use glimpse_clip::encode::ImageEncoder;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the vector index is saved while a job runs (it is always saved at the end).
pub const SAVE_EVERY: Duration = Duration::from_secs(10);
/// New vectors gathered before they are inserted into the graph together.
pub const INSERT_CHUNK: usize = 4096;

/// The default library folder: `GLIMPSE_HOME`, else the platform data folder.
pub fn default_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("GLIMPSE_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    dirs::data_dir()
        .map(|d| d.join("glimpse"))
        .unwrap_or_else(|| PathBuf::from(".glimpse"))
}

/// The model the library at `dir` was last indexed with (a name from the manifest or a model
/// folder's absolute path), so that commands and the window that name none keep using the one
/// the user chose. `None` for a library not made yet or never indexed.
pub fn remembered_model(dir: &Path) -> Result<Option<String>, LibraryError> {
    if !dir.join("catalog.sqlite").is_file() {
        return Ok(None);
    }
    Ok(Catalog::open(dir)?.setting(MODEL_SETTING)?)
}

/// One tag as [`Library::replace_folder_tags`] writes it: (photo id, label id, probability).
pub type TagRow = (i64, i64, f32);

/// What an indexing job did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Photo files seen by the scan.
    pub scanned: usize,
    /// Unchanged since the last run (nothing to do).
    pub unchanged: usize,
    /// New or changed files sent through the pipeline.
    pub queued: usize,
    /// Files gone from online roots, removed from the library.
    pub removed: usize,
    /// Files in formats this build cannot decode.
    pub unsupported: usize,
    /// Files marked failed because the process died while reading each of them alone (see
    /// [`crate::catalog::STOPPED_WHILE_READING`]).
    pub stopped_reading: usize,
    /// Files tried one at a time, because the process died while they were being read.
    pub tried_alone: usize,
    /// Photos indexed before Glimpse read metadata whose metadata was read now.
    pub metadata_read: usize,
    /// New or changed photos that went through their folder's auto-tag (tagged with what
    /// matched of its labels, which may be nothing).
    pub auto_tagged: usize,
    /// Moved or renamed photos that kept their tags.
    pub kept_tags: usize,
    /// Roots that are offline (kept, not purged).
    pub offline_roots: Vec<PathBuf>,
    /// The pipeline's final progress.
    pub progress: Progress,
    /// The pipeline's time split.
    pub timing: Timing,
    /// Seconds the graph thread spent inserting new vectors, on `graph_threads` threads beside
    /// the commits: the share of the machine a GPU-fed job gives the graph.
    pub graph: f64,
    /// Threads the graph insertion used.
    pub graph_threads: usize,
}

/// What a scan of the roots found to do ([`Library::plan`]), carried out by
/// [`Library::index_planned`] on the same library.
#[derive(Debug)]
pub struct Plan {
    /// The library and model that made it (its photo ids are that catalog's).
    made_by: (PathBuf, i64),
    summary: Summary,
    work: Vec<WorkItem>,
    /// Files that were being read when a process died: each is read alone, before `work`, so
    /// that one that kills the process again is the only file in flight and is then marked
    /// failed, not its neighbours.
    alone: Vec<WorkItem>,
    /// Rows whose files vanished from online roots; deleted only after the pipeline ran, so a
    /// moved or renamed file can still reuse their vectors.
    gone: Vec<i64>,
    /// Folders whose failed files are tried again (see [`decoders_key`]).
    retried: Vec<String>,
    /// The decoders this build has, recorded for `retried` once the job is done.
    decoders: String,
    /// The scan was cancelled: nothing more is done.
    cancelled: bool,
}

impl Plan {
    /// Photos the job will decode and encode: when zero, no image encoder is needed.
    pub fn to_encode(&self) -> usize {
        self.work.len() + self.alone.len()
    }
}

/// An open library for one model.
pub struct Library {
    dir: PathBuf,
    /// The source of truth (its catalog), read by the front ends through [`Library::records`].
    pub(crate) records: Records,
    /// The preview cache.
    thumbs: Thumbs,
    /// How often a running job saves the vector index ([`SAVE_EVERY`] unless changed): what a
    /// crash can cost in graph rebuilding against the time spent writing the index.
    save_every: Duration,
    model: String,
    model_id: i64,
    vectors: VectorIndex,
    /// How the vector index was obtained at open ("loaded" or why it was rebuilt).
    vectors_origin: String,
    /// The saved index state these vectors correspond to (what a reader compares against).
    seen: Option<Saved>,
    /// The model generation that file was recorded at (a reader's; -1 when none).
    seen_generation: i64,
    /// The model generation the vectors held reflect, the file's plus the commits a reader
    /// followed since ([`Library::refresh`]).
    caught_up: i64,
    /// Held by the writer for as long as it is open; `None` for a reader.
    writer: Option<WriterLock>,
    /// Told how a rebuild after the open goes ([`Library::watch_rebuilds`]).
    rebuild_watcher: Option<Box<dyn FnMut(Rebuilding) + Send>>,
}

impl Library {
    /// Opens `dir` for `model` (a storage key) with `dim`-wide vectors as the library's one
    /// writer (the one that indexes: [`LibraryError::Locked`] while another process is);
    /// a stale, torn or missing vector index is rebuilt from the catalog without re-encoding
    /// anything, and one that only lacks the commits since its last save holds them beside
    /// it until the first change or save.
    pub fn open(dir: &Path, model: &str, dim: usize) -> Result<Self, LibraryError> {
        Library::open_reporting(dir, model, dim, &mut |_| {})
    }

    /// [`Library::open`], telling `rebuilding` how a rebuild of the vector index is going, if
    /// the open needs one (a library from an older version, a missing or damaged file): at a
    /// million photos it takes minutes, which the window and the terminal show instead of
    /// seeming stuck. An open that needs no rebuild, or rebuilds an empty index, tells it
    /// nothing.
    pub fn open_reporting(
        dir: &Path,
        model: &str,
        dim: usize,
        rebuilding: &mut dyn FnMut(Rebuilding),
    ) -> Result<Self, LibraryError> {
        let catalog = Catalog::open(dir)?;
        let writer = WriterLock::acquire(dir)?;
        if cfg!(debug_assertions) {
            let check = catalog.integrity_check()?;
            if check != "ok" {
                return Err(LibraryError::Corrupt(check));
            }
        }
        let model_id = catalog.model_id(model, dim)?;
        let path = dir.join(format!("vectors-{}.usearch", sanitize(model)));
        let record = catalog.index_record(model_id)?;
        let recorded = record.as_ref().map(|(saved, _)| saved.clone());
        let current = catalog.index_is_current(model_id)?;
        let opened = VectorIndex::open(&path, dim, recorded.as_ref());
        // The generation check makes a large library open in O(1) catalog work; a file
        // recorded before it existed is compared id by id. A file recorded with a generation
        // that is not the catalog's lacks commits (or has replaced vectors) since its save.
        let matches = |v: &VectorIndex| -> Result<bool, LibraryError> {
            if current {
                return Ok(true);
            }
            if record
                .as_ref()
                .is_some_and(|(_, generation)| *generation >= 0)
            {
                return Ok(false);
            }
            let ids = catalog.embedding_ids(model_id)?;
            Ok(v.len() == ids.len() && ids.iter().all(|id| v.contains(*id)))
        };
        let trusted = match &opened {
            Ok(v) => matches(v)?,
            Err(_) => false,
        };
        let (vectors, origin, seen) = match opened {
            Ok(mut v) if trusted => {
                if v.sketches_stale() {
                    // Rebuilt from the vectors the graph holds (seconds at a million photos),
                    // then saved beside the file they belong to.
                    v.rebuild_sketches(&catalog.embedding_ids(model_id)?);
                    if let Some(rec) = &recorded {
                        v.save_sketches_for(&path, rec)?;
                    }
                }
                (v, "loaded".to_string(), recorded)
            }
            Ok(mut v) => {
                match hold_commits_since_save(&catalog, model_id, &mut v, record.as_ref())? {
                    Some(how) => (v, how, recorded),
                    None => rebuild(
                        &catalog,
                        model_id,
                        dim,
                        &path,
                        "behind the catalog",
                        rebuilding,
                    )?,
                }
            }
            Err(stale) => {
                let why = staleness_words(&stale);
                rebuild(&catalog, model_id, dim, &path, &why, rebuilding)?
            }
        };
        let mut lib = Library {
            dir: dir.to_path_buf(),
            thumbs: Thumbs::new(dir.join("thumbs")),
            save_every: SAVE_EVERY,
            records: Records { catalog },
            model: model.to_string(),
            model_id,
            vectors,
            vectors_origin: origin,
            seen,
            seen_generation: -1,
            caught_up: -1,
            writer: Some(writer),
            rebuild_watcher: None,
        };
        // Saved with the sketches once, so later opens answer captions at once.
        if lib.score_recorded_direction()? && lib.vectors.is_mapped() {
            if let Some(rec) = lib.seen.clone() {
                lib.vectors.save_sketches_for(&path, &rec)?;
            }
        }
        Ok(lib)
    }

    /// Tells `watcher` how a rebuild of the vector index after the open is going, as an open
    /// tells its callback ([`Library::open_reporting`]): a reader whose saved file turned out
    /// unusable, or a writer whose file's rows were found damaged, rebuilds inside a search or
    /// a job, minutes at a million photos, and the window says why it waits. Each rebuild ends
    /// with [`RebuildStage::Done`].
    pub fn watch_rebuilds(&mut self, watcher: impl FnMut(Rebuilding) + Send + 'static) {
        self.rebuild_watcher = Some(Box::new(watcher));
    }

    /// Rebuilds the graph from the catalog's embeddings (and saves it, when `saves`), telling
    /// the watcher of [`Library::watch_rebuilds`], if any, why and how far it has got.
    fn relink_watched(&mut self, why: &str, saves: bool) -> Result<(), LibraryError> {
        let mut watcher = self.rebuild_watcher.take();
        let mut tell = |r: Rebuilding| {
            if let Some(w) = watcher.as_mut() {
                w(r);
            }
        };
        let done = self.relink(why, saves, &mut tell);
        self.rebuild_watcher = watcher;
        done
    }

    /// [`Library::relink_watched`] telling `tell`.
    fn relink(
        &mut self,
        why: &str,
        saves: bool,
        tell: &mut dyn FnMut(Rebuilding),
    ) -> Result<(), LibraryError> {
        let mut telling = Telling::new(&self.records.catalog, self.model_id, why, tell)?;
        self.vectors = relink(
            &self.records.catalog,
            self.model_id,
            self.vectors.dim(),
            &mut telling,
        )?;
        if saves {
            telling.tell(RebuildStage::Saving, telling.total);
            self.save_vectors()?;
        }
        Ok(())
    }

    /// Opens `dir` to search, list or tag it: as the writer when no other process is indexing
    /// it (so a stale vector index file is repaired once, for every later reader), else as a
    /// reader of what that process last saved.
    pub fn open_for_reading(dir: &Path, model: &str, dim: usize) -> Result<Self, LibraryError> {
        Library::open_for_reading_reporting(dir, model, dim, &mut |_| {})
    }

    /// [`Library::open_for_reading`], telling `rebuilding` how a rebuild at open is going (see
    /// [`Library::open_reporting`]).
    pub fn open_for_reading_reporting(
        dir: &Path,
        model: &str,
        dim: usize,
        rebuilding: &mut dyn FnMut(Rebuilding),
    ) -> Result<Self, LibraryError> {
        match Library::open_reporting(dir, model, dim, rebuilding) {
            Err(LibraryError::Locked(LockError::Busy { holder, .. })) => {
                tracing::info!("{holder} is indexing this library; reading what it saved");
                Library::open_reader(dir, model, dim)
            }
            other => other,
        }
    }

    /// Opens `dir` to answer searches while another handle indexes it: the last saved vector
    /// index, plus the photos committed since then (see [`Library::refresh`]); nothing is
    /// written but the model's row.
    pub fn open_reader(dir: &Path, model: &str, dim: usize) -> Result<Self, LibraryError> {
        let catalog = Catalog::open(dir)?;
        let model_id = catalog.model_id(model, dim)?;
        let mut lib = Library {
            dir: dir.to_path_buf(),
            thumbs: Thumbs::new(dir.join("thumbs")),
            save_every: SAVE_EVERY,
            records: Records { catalog },
            model: model.to_string(),
            model_id,
            vectors: VectorIndex::new(dim)?,
            vectors_origin: String::new(),
            seen: None,
            seen_generation: -1,
            caught_up: -1,
            writer: None,
            rebuild_watcher: None,
        };
        lib.vectors_origin = match lib.reload_vectors()? {
            true => "loaded".into(),
            false => "rebuilt in memory".into(),
        };
        Ok(lib)
    }

    /// Catches up with the indexer: the vector index it saved since this handle last looked,
    /// then every batch it committed since that file (held beside the graph and scored exactly,
    /// so a first index answers from its first batch). Returns whether anything changed.
    /// Cheap when nothing did (two catalog rows).
    pub fn refresh(&mut self) -> Result<bool, LibraryError> {
        if self.writer.is_some() {
            // The writer's own vectors are the catalog's: nothing to follow.
            return Ok(false);
        }
        let mut changed = false;
        // A save between two looks means one more reload; a third look settles any race.
        for _ in 0..3 {
            let seen = self.seen.as_ref().map(|s| (s, self.seen_generation));
            match self
                .records
                .catalog
                .follow(self.model_id, seen, self.caught_up)?
            {
                Following::Reload => {
                    self.reload_vectors()?;
                    changed = true;
                }
                Following::Changes(None) => return Ok(changed),
                Following::Changes(Some(c)) => {
                    tracing::debug!(
                        written = c.written.len(),
                        gone = c.gone.len(),
                        "reader: following commits since the saved index"
                    );
                    self.vectors.follow(c.written, &c.gone);
                    self.caught_up = c.generation;
                    return Ok(true);
                }
            }
        }
        Ok(changed)
    }

    /// Loads the saved index if it is what the catalog recorded, else builds one in memory
    /// from the stored embeddings (never saved: the indexer owns the file). Returns whether
    /// the saved file was used.
    fn reload_vectors(&mut self) -> Result<bool, LibraryError> {
        let dim = self.vectors.dim();
        let mut why = Staleness::Missing;
        // The indexer may replace the file between reading its record and opening it: one
        // more look settles that race before falling back to a rebuild.
        for _ in 0..2 {
            let recorded = self.records.catalog.index_record(self.model_id)?;
            match VectorIndex::open(&self.vectors_path(), dim, recorded.as_ref().map(|r| &r.0)) {
                Ok(mut v) => {
                    if v.sketches_stale() {
                        // In memory only: the indexer owns the files.
                        v.rebuild_sketches(&self.records.catalog.embedding_ids(self.model_id)?);
                    }
                    self.vectors = v;
                    self.score_recorded_direction()?;
                    let (saved, generation) = recorded.map_or((None, -1), |(s, g)| (Some(s), g));
                    self.seen = saved;
                    self.seen_generation = generation;
                    self.caught_up = generation;
                    return Ok(true);
                }
                Err(e) => why = e,
            }
        }
        tracing::debug!(
            ?why,
            "reader: saved vector index unusable; building in memory"
        );
        // The record and generation are read before the embeddings: a commit in between is
        // followed again, which changes nothing.
        let recorded = self.records.catalog.index_record(self.model_id)?;
        let generation = self.records.catalog.generation(self.model_id)?;
        self.relink_watched(&staleness_words(&why), false)?;
        let (saved, file_generation) = recorded.map_or((None, -1), |(s, g)| (Some(s), g));
        self.seen = saved;
        self.seen_generation = file_generation;
        self.caught_up = generation;
        self.score_recorded_direction()?;
        Ok(false)
    }

    /// The library folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model these vectors belong to.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The catalog row id of the model (the key of its embeddings, labels and index state).
    pub fn model_id(&self) -> i64 {
        self.model_id
    }

    /// The vector index, for search.
    pub fn vectors(&self) -> &VectorIndex {
        &self.vectors
    }

    /// The preview cache, where results find a photo's thumbnail by content hash.
    pub fn thumbs(&self) -> &Thumbs {
        &self.thumbs
    }

    /// How the vector index was obtained at open ("loaded", or why it was rebuilt), for
    /// `status` and the checks that a reopened library did not rebuild.
    pub fn vectors_origin(&self) -> &str {
        &self.vectors_origin
    }

    /// Sets how often a running job saves the vector index ([`SAVE_EVERY`] by default): what a
    /// crash can cost in graph rebuilding against the time spent writing the index.
    pub fn set_save_every(&mut self, every: Duration) {
        self.save_every = every;
    }

    /// Vectors in the index.
    pub fn vector_count(&self) -> usize {
        self.vectors.len()
    }

    /// Counts for `status`.
    pub fn stats(&self) -> Result<Stats, LibraryError> {
        Ok(self.records.catalog.stats(self.model_id)?)
    }

    /// The most times one photo's content was encoded and committed with this model (1 = none
    /// twice): what a crash or a re-tag must never raise. Reads every vector row.
    pub fn max_encodes(&self) -> Result<u64, LibraryError> {
        Ok(self.records.catalog.max_encodes(self.model_id)?)
    }

    /// Every stored embedding with its path (for checks and exports).
    pub fn embeddings_with_paths(&self) -> Result<Vec<(PathBuf, Vec<f32>)>, LibraryError> {
        Ok(self.records.catalog.embeddings_with_paths(self.model_id)?)
    }

    /// What the library records apart from vectors (roots, photos, tags, formats, failures):
    /// the front ends' read-only view of the catalog.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// Each root with its photo counts for this model, for the folder panel and `status`.
    pub fn root_counts(&self) -> Result<Vec<RootCounts>, LibraryError> {
        Ok(self.records.catalog.root_counts(self.model_id)?)
    }

    /// A photo's vector for this model as the catalog stores it (the index's rows are i8), to
    /// search by example without re-encoding. `None` for a photo without one.
    pub fn stored_vector(&self, photo_id: i64) -> Result<Option<Vec<f32>>, LibraryError> {
        Ok(self.records.catalog.embedding(self.model_id, photo_id)?)
    }

    /// The catalog's vectors as a search's last step reads them ([`crate::vectors::Exact`]).
    fn exact(&self) -> impl Fn(i64) -> Result<Option<Vec<f32>>, VectorError> + '_ {
        move |id| {
            self.records
                .catalog
                .embedding(self.model_id, id)
                .map_err(|e| VectorError::Stored(e.to_string()))
        }
    }

    /// The `k` photos nearest a photo's vector that `keep` accepts, ending on the catalog's
    /// exact vectors ([`VectorIndex::search_photo`]).
    pub fn search_photo(
        &self,
        query: &[f32],
        k: usize,
        keep: &(dyn Fn(i64) -> bool + Sync),
    ) -> Result<Vec<(i64, f32)>, LibraryError> {
        Ok(self.vectors.search_photo(query, k, keep, &self.exact())?)
    }

    /// The `k` photos nearest a caption's vector that `keep` accepts, ending on the catalog's
    /// exact vectors ([`VectorIndex::search_caption`]).
    pub fn search_caption(
        &self,
        query: &[f32],
        k: usize,
        gap: Option<&[f32]>,
        keep: &(dyn Fn(i64) -> bool + Sync),
    ) -> Result<Vec<(i64, f32)>, LibraryError> {
        Ok(self
            .vectors
            .search_caption(query, k, gap, keep, &self.exact())?)
    }

    /// The `k` nearest photos with every photo scored, ending on the catalog's exact vectors
    /// ([`VectorIndex::search_exact`]).
    pub fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<(i64, f32)>, LibraryError> {
        Ok(self.vectors.search_exact(query, k, &self.exact())?)
    }

    /// A photo with this content hash and a vector for this model, so a file from outside the
    /// library with the same bytes reuses that vector.
    pub fn photo_with_content(&self, hash: &[u8]) -> Result<Option<i64>, LibraryError> {
        Ok(self.records.catalog.photo_with_hash(self.model_id, hash)?)
    }

    /// Ids of the photos with a vector for this model that pass `filter`, for filtered search.
    pub fn filter_ids(&self, filter: &PhotoFilter) -> Result<Vec<i64>, LibraryError> {
        Ok(self.records.catalog.filter_ids(self.model_id, filter)?)
    }

    /// Up to `limit` of the photos with a vector for this model that pass `filter`, from the
    /// `offset`-th, by date (newest or oldest first), for browsing without a query.
    pub fn dated_page(
        &self,
        filter: &PhotoFilter,
        newest_first: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<PhotoInfo>, LibraryError> {
        Ok(self
            .records
            .catalog
            .dated_page(self.model_id, filter, newest_first, offset, limit)?)
    }

    /// Every photo passing `filter` with its stored vector for this model, by path: tagging
    /// and duplicate detection work from these, never re-encoding a photo.
    pub fn photos_with_vectors(
        &self,
        filter: &PhotoFilter,
    ) -> Result<Vec<(PhotoInfo, Vec<f32>)>, LibraryError> {
        Ok(self
            .records
            .catalog
            .embeddings_where(self.model_id, filter)?)
    }

    /// The row id of `label` (created on first use) and its cached text vector for this model
    /// if one was made from `prompts`: labels are embedded once per model and prompt set.
    pub fn label_vector(
        &self,
        label: &str,
        builtin: bool,
        prompts: &str,
    ) -> Result<(i64, Option<Vec<f32>>), LibraryError> {
        let id = self.records.catalog.label_id(label, builtin)?;
        let v = self
            .records
            .catalog
            .label_vector(id, self.model_id, prompts)?;
        Ok((id, v))
    }

    /// Caches the text vector of the label with row id `label_id` for this model and
    /// `prompts` (see [`Library::label_vector`]).
    pub fn set_label_vector(
        &self,
        label_id: i64,
        prompts: &str,
        vector: &[f32],
    ) -> Result<(), LibraryError> {
        Ok(self
            .records
            .catalog
            .set_label_vector(label_id, self.model_id, prompts, vector)?)
    }

    /// Writes a folder's tags and keeps `rule` as its auto-tag, in one write transaction, so
    /// that an indexer committing meanwhile either sees the rule or had its photos tagged here.
    /// `tags` (photo, label id, probability) were computed from the photos in `seen`; photos
    /// under the folder committed since are handed to `tag_late`, whose rows join them; rows of
    /// photos gone meanwhile are dropped. The folder's photos' previous tags are replaced.
    pub fn replace_folder_tags(
        &mut self,
        rule: &TagRule,
        seen: &HashSet<i64>,
        mut tags: Vec<TagRow>,
        tag_late: &mut dyn FnMut(Vec<(PhotoInfo, Vec<f32>)>) -> Vec<TagRow>,
    ) -> Result<(), LibraryError> {
        let model_id = self.model_id;
        let filter = PhotoFilter {
            folder: Some(rule.folder.clone()),
            ..Default::default()
        };
        self.records.catalog.atomically(|c| {
            let ids = c.filter_ids(model_id, &filter)?;
            let late: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| !seen.contains(id))
                .collect();
            if !late.is_empty() {
                let mut infos = c.photo_infos(&late)?;
                let mut photos = Vec::with_capacity(late.len());
                for id in late {
                    if let (Some(info), Some(v)) = (infos.remove(&id), c.embedding(model_id, id)?) {
                        photos.push((info, v));
                    }
                }
                tags.extend(tag_late(photos));
            }
            // A photo read before may have left the library meanwhile: no tags for it.
            let now: HashSet<i64> = ids.iter().copied().collect();
            tags.retain(|r| now.contains(&r.0));
            c.put_tags(&ids, &tags)?;
            c.set_tag_rule(rule)?;
            Ok::<_, LibraryError>(())
        })
    }

    /// Up to `limit` photos the text reader of `version` has still to read, by id after
    /// `after_id` (0 from the start): searchable photos (for any model) in reachable folders,
    /// so a pass that asks again from the last id it got, or starts over, reads each once.
    pub fn photos_needing_text(
        &self,
        version: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, PathBuf)>, LibraryError> {
        Ok(self
            .records
            .catalog
            .photos_needing_text(version, after_id, limit)?)
    }

    /// Stores what the text reader of `version` made of each photo, in one transaction (a
    /// crash loses at most this batch), each photo's lines replacing what an earlier read
    /// stored; a failure is recorded with its reason and not read again by that version.
    /// Photos deleted or changed since they were read are skipped. Returns how many were
    /// stored. Only the writer stores.
    pub fn store_text(
        &mut self,
        version: &str,
        reads: &[(i64, TextOutcome)],
    ) -> Result<usize, LibraryError> {
        self.must_write()?;
        Ok(self.records.catalog.store_text(version, reads)?)
    }

    /// Up to `limit` photos with a vector for this model that pass `filter` and show one of
    /// `terms` in their text (case and Latin accents aside), best first where the trigram index
    /// ranks them: the candidates search ranks by words.
    pub fn photos_with_words(
        &self,
        terms: &[String],
        filter: &PhotoFilter,
        limit: usize,
    ) -> Result<Vec<i64>, LibraryError> {
        Ok(self
            .records
            .catalog
            .photos_with_words(self.model_id, filter, terms, limit)?)
    }

    /// Stops auto-tagging `folder` and the folders under it (their tags stay); returns how
    /// many rules were dropped.
    pub fn forget_tag_rules(&self, folder: &Path) -> Result<usize, LibraryError> {
        Ok(self.records.catalog.forget_tag_rules(folder)?)
    }

    fn vectors_path(&self) -> PathBuf {
        self.dir
            .join(format!("vectors-{}.usearch", sanitize(&self.model)))
    }

    /// Records `model` (a manifest name or a model folder, stored as an absolute path) as the
    /// one this library is indexed with: see [`remembered_model`].
    pub fn remember_model(&self, model: &str) -> Result<(), LibraryError> {
        self.must_write()?;
        let folder = Path::new(model).canonicalize().ok().filter(|p| p.is_dir());
        match folder {
            Some(p) => match p.to_str() {
                Some(p) => self.records.catalog.set_setting(MODEL_SETTING, p)?,
                // Not stored: settings are text, and a lossy path would name another folder.
                None => tracing::warn!(model = %p.display(), "model folder name is not UTF-8"),
            },
            None => self.records.catalog.set_setting(MODEL_SETTING, model)?,
        }
        Ok(())
    }

    /// Refuses a change to the vector index from a reader handle.
    pub(crate) fn must_write(&self) -> Result<(), LibraryError> {
        match self.writer {
            Some(_) => Ok(()),
            None => Err(LibraryError::ReadOnly),
        }
    }

    /// Keeps `direction` (the one captions share, from the model's text tower) for this
    /// model's captions: recorded in the catalog, scored into the sketches now (one pass over
    /// the vectors the first time) and saved with them by the writer, so that later opens and
    /// other handles answer captions without that pass.
    pub fn remember_caption_direction(&mut self, direction: &[f32]) -> Result<(), LibraryError> {
        if direction.len() != self.vectors.dim() || self.vectors.has_caption_direction(direction) {
            return Ok(());
        }
        let json = serde_json::to_string(direction).unwrap_or_default();
        self.records
            .catalog
            .set_setting(&caption_setting(&self.model), &json)?;
        self.vectors.set_caption_direction(direction);
        if self.writer.is_some() && self.vectors.is_mapped() {
            if let Some(rec) = self.seen.clone() {
                self.vectors.save_sketches_for(&self.vectors_path(), &rec)?;
            }
        }
        Ok(())
    }

    /// Scores the sketches along the caption direction the catalog records for this model, if
    /// one is and they are not yet; returns whether they changed.
    fn score_recorded_direction(&mut self) -> Result<bool, LibraryError> {
        Ok(
            match caption_direction_of(&self.records.catalog, &self.model)? {
                Some(d) => self.vectors.set_caption_direction(&d),
                None => false,
            },
        )
    }

    /// Rebuilds the vector index from the catalog's embeddings, as an open would, when the
    /// background check found its file's rows changed since they were saved: changing a
    /// mapped index loads and checks the whole file, which would refuse it, so every change
    /// would fail until the library was opened again.
    fn repair_vectors(&mut self) -> Result<(), LibraryError> {
        if self.vectors.verified() != Some(false) {
            return Ok(());
        }
        tracing::warn!("vector index file damaged; rebuilding it from the catalog's embeddings");
        self.vectors_origin = "rebuilt (damaged rows)".to_string();
        self.relink_watched("damaged on disk", true)
    }

    /// Writes the vector index and records it in the catalog, with any commits held beside
    /// it since its last save: what an indexing job does every few seconds and at its end,
    /// and what makes the next open load the file as it is.
    pub fn save_vectors(&mut self) -> Result<(), LibraryError> {
        self.must_write()?;
        self.score_recorded_direction()?;
        let saved = self.vectors.save(&self.vectors_path())?;
        self.records
            .catalog
            .set_index_state(self.model_id, &saved)?;
        self.seen = Some(saved);
        Ok(())
    }

    /// Removes a root and its photos from the library (never from the disk).
    pub fn remove_root(&mut self, root: &Path) -> Result<usize, LibraryError> {
        self.must_write()?;
        self.repair_vectors()?;
        let ids = self.records.catalog.remove_root(root)?;
        for id in &ids {
            self.vectors.remove(*id)?;
        }
        self.save_vectors()?;
        Ok(ids.len())
    }

    /// Removes the photos among `ids` whose files are no longer on disk (the window moved them
    /// to the Trash) the way an index job removes a deleted file (tags pass to remaining
    /// copies, vectors leave tombstones readers follow), without waiting for the next scan; a
    /// photo whose file is still there stays. Returns how many were removed.
    pub fn forget_gone(&mut self, ids: &[i64]) -> Result<usize, LibraryError> {
        self.must_write()?;
        self.repair_vectors()?;
        let infos = self.records.catalog.photo_infos(ids)?;
        let gone: Vec<i64> = infos
            .values()
            .filter(|p| std::fs::symlink_metadata(&p.path).is_err())
            .map(|p| p.id)
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        self.records
            .catalog
            .delete_photos(&gone, &HashSet::new(), &HashSet::new())?;
        for id in &gone {
            self.vectors.remove(*id)?;
        }
        self.save_vectors()?;
        Ok(gone.len())
    }

    /// Brings the library in step with `roots`: adds them, scans, removes what vanished from
    /// online roots, and indexes what is new or changed.
    pub fn index(
        &mut self,
        roots: &[PathBuf],
        encoder: &ImageEncoder,
        threads: usize,
        control: &Control,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Summary, LibraryError> {
        let plan = self.plan(roots, control)?;
        self.index_planned(plan, Some(encoder), threads, control, progress)
    }

    /// The scan half of [`Library::index`]: records in the catalog what changed under `roots`
    /// and returns the photos that need encoding, so that a caller can start the model (seconds
    /// and hundreds of MB, more on a GPU) only when there are any.
    pub fn plan(&mut self, roots: &[PathBuf], control: &Control) -> Result<Plan, LibraryError> {
        self.must_write()?;
        self.repair_vectors()?;
        let mut summary = Summary::default();
        let mut work = Vec::new();
        // See `Plan` for these two.
        let mut gone: Vec<i64> = Vec::new();
        let decoders = decode::decoder_set();
        let mut retried: Vec<String> = Vec::new();
        // Removed folders' photos kept past their time go now (see `STASH_KEEP_SECS`).
        let cutoff = unix_now() - crate::catalog::STASH_KEEP_SECS;
        let expired = self.records.catalog.drop_stash_before(cutoff)?;
        if expired > 0 {
            tracing::info!("forgot {expired} photo(s) of folders removed over 30 days ago");
        }
        // What the last process was reading when it died (nothing, after a clean exit).
        let crashed = crate::inflight::take_crash_mark(&self.dir);
        let (mut suspects, stopped) = self.records.catalog.settle_in_flight(&decoders, crashed)?;
        // Files that stopped these decoders: not read again until the decoders change.
        let stopped_here = self.records.catalog.stopped_under(&decoders)?;
        summary.stopped_reading = stopped;
        if stopped > 0 {
            tracing::warn!(
                "{stopped} file(s) stopped Glimpse twice while being read and are marked failed"
            );
        }
        // Every folder asked for is added before any is scanned: one may take in another
        // (a folder holding a root), and each root is scanned once, as a whole, since what a
        // scan does not see under its root counts as deleted.
        for root in roots {
            self.records
                .catalog
                .add_root(&root.canonicalize().unwrap_or_else(|_| root.clone()))?;
        }
        let mut scanned_roots = std::collections::HashSet::new();
        for asked in roots {
            let asked = asked.canonicalize().unwrap_or_else(|_| asked.clone());
            let Some(r) = self.records.catalog.root_holding(&asked)? else {
                continue;
            };
            if !scanned_roots.insert(r.id) {
                continue;
            }
            let root = r.path.clone();
            if !root.is_dir() {
                self.records.catalog.set_root_online(r.id, false)?;
                summary.offline_roots.push(root);
                continue;
            }
            self.records.catalog.set_root_online(r.id, true)?;
            let may_go_offline = crate::thumbs::on_another_drive(&root, &self.dir);
            let mut known = self.records.catalog.known_files(r.id, self.model_id)?;
            let key = decoders_key(r.id);
            let retry_failed =
                self.records.catalog.setting(&key)?.as_deref() != Some(decoders.as_str());
            if retry_failed {
                retried.push(key);
            }
            let mut changed: Vec<(PathBuf, i64, i64, Option<String>)> = Vec::new();
            let mut requeue: Vec<WorkItem> = Vec::new();
            // Folders the scan could not list: what the catalog knows under them is kept.
            let mut unlisted: Vec<PathBuf> = Vec::new();
            let mut see = |path: &Path, size: i64, mtime: i64, unsupported: Option<&str>| {
                summary.scanned += 1;
                if let Some(k) = known.remove(&path_bytes(path)) {
                    if k.size == size && k.mtime_ns == mtime {
                        let settled = k.has_vector
                            || (k.stopped_reading && stopped_here.contains(&k.id))
                            || (k.status == "failed" && !retry_failed)
                            || (k.status == "unsupported" && unsupported.is_some());
                        if settled {
                            summary.unchanged += 1;
                            return;
                        }
                        if unsupported.is_none() {
                            if k.stopped_reading {
                                // It stopped other decoders than these: tried again, alone.
                                suspects.insert(k.id);
                            }
                            // Same file, no vector for this model yet (another model's vectors
                            // stay), or pending after an interrupted run: encode, keep the row.
                            requeue.push(WorkItem {
                                photo_id: k.id,
                                path: path.to_path_buf(),
                                may_go_offline,
                            });
                            return;
                        }
                    }
                }
                changed.push((
                    path.to_path_buf(),
                    size,
                    mtime,
                    unsupported.map(str::to_owned),
                ));
            };
            let opts = ScanOptions {
                cancel: Some(control.cancel_flag()),
                ..ScanOptions::skipping(&self.dir)
            };
            let scanned = scan::scan_root(&root, &opts, &mut |item| match item {
                ScanItem::File(f) => see(&f.path, f.size as i64, f.mtime_ns, None),
                ScanItem::Unsupported {
                    path,
                    size,
                    mtime_ns,
                    format,
                } => see(&path, size as i64, mtime_ns, Some(format)),
                ScanItem::Skipped {
                    path,
                    is_dir,
                    reason,
                } => {
                    if is_dir {
                        tracing::warn!(path = %path.display(), "not scanned: {reason}");
                        unlisted.push(path);
                    } else if matches!(reason, scan::SkipReason::Symlink) {
                        // Never followed, so never read either: a link may lead out of the
                        // root (and the app serves nothing outside it), or to a photo that
                        // is already indexed under its own name.
                        tracing::debug!(path = %path.display(), "symbolic link not indexed");
                    } else {
                        // A photo we may not read or that is too large: indexing records why.
                        see(&path, 0, 0, None);
                    }
                }
            });
            match scanned {
                Ok(counts) if counts.files + counts.unsupported == 0 && !known.is_empty() => {
                    // An unplugged drive can leave its mount point behind as an empty folder:
                    // a root that had photos and now has none is treated as offline, not purged.
                    self.records.catalog.set_root_online(r.id, false)?;
                    summary.offline_roots.push(root);
                    continue;
                }
                Ok(_) => {}
                Err(ScanError::RootOffline { .. }) => {
                    // Unplugged mid-scan: nothing can be inferred from what was not seen.
                    self.records.catalog.set_root_online(r.id, false)?;
                    summary.offline_roots.push(root);
                    continue;
                }
                Err(ScanError::Cancelled) => {
                    return Ok(Plan {
                        made_by: (self.dir.clone(), self.model_id),
                        summary,
                        work: Vec::new(),
                        alone: Vec::new(),
                        gone: Vec::new(),
                        retried: Vec::new(),
                        decoders,
                        cancelled: true,
                    })
                }
            }
            known.retain(|p, _| {
                let p = crate::catalog::bytes_path(p);
                !unlisted.iter().any(|d| p.starts_with(d))
            });
            // Whatever the catalog knows under an online root that the scan did not see is gone.
            gone.extend(known.values().map(|k| k.id));
            work.append(&mut requeue);
            let ids = self.records.catalog.upsert_files(r.id, &changed)?;
            for ((path, _, _, unsupported), id) in changed.into_iter().zip(ids) {
                self.vectors.remove(id)?;
                if unsupported.is_some() {
                    summary.unsupported += 1;
                } else {
                    work.push(WorkItem {
                        photo_id: id,
                        path,
                        may_go_offline,
                    });
                }
            }
        }
        summary.queued = work.len();
        let (alone, work): (Vec<WorkItem>, Vec<WorkItem>) = work
            .into_iter()
            .partition(|w| suspects.contains(&w.photo_id));
        summary.tried_alone = alone.len();
        Ok(Plan {
            made_by: (self.dir.clone(), self.model_id),
            summary,
            work,
            alone,
            gone,
            retried,
            decoders,
            cancelled: false,
        })
    }

    /// The rest of [`Library::index`] for a `plan` made by this library: encodes its photos
    /// (recording the provider that ran, which `glimpse status` reports), removes what vanished
    /// and saves. `encoder` may be `None` when the plan has nothing to encode (an unchanged
    /// library then never loads the model).
    pub fn index_planned(
        &mut self,
        plan: Plan,
        encoder: Option<&ImageEncoder>,
        threads: usize,
        control: &Control,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Summary, LibraryError> {
        self.must_write()?;
        self.repair_vectors()?;
        if plan.made_by.0 != self.dir || plan.made_by.1 != self.model_id {
            return Err(LibraryError::ForeignPlan {
                planned: plan.made_by.0.display().to_string(),
            });
        }
        let Plan {
            made_by: _,
            mut summary,
            work,
            alone,
            gone,
            retried,
            decoders,
            cancelled,
        } = plan;
        if cancelled {
            return Ok(summary);
        }
        let mut auto_tagged = HashSet::new();
        if !work.is_empty() || !alone.is_empty() {
            let encoder = encoder.ok_or(LibraryError::NoEncoder(work.len() + alone.len()))?;
            self.records
                .catalog
                .set_setting("provider", &encoder.selection.label())?;
            auto_tagged = self.encode(
                &work,
                &alone,
                encoder,
                threads,
                control,
                progress,
                &mut summary,
            )?;
        }
        if !gone.is_empty() && !control.is_cancelled() {
            // A photo its new folder's auto-tag has tagged does not inherit (as tagging that
            // folder again would replace what it brought).
            let indexed = work.iter().chain(&alone).map(|w| w.photo_id).collect();
            summary.kept_tags =
                self.records
                    .catalog
                    .delete_photos(&gone, &indexed, &auto_tagged)?;
            for id in &gone {
                self.vectors.remove(*id)?;
            }
            summary.removed = gone.len();
        }
        self.save_vectors()?;
        if !control.is_cancelled() {
            summary.metadata_read = self.read_missing_metadata(control)?;
            for key in &retried {
                self.records.catalog.set_setting(key, &decoders)?;
            }
        }
        Ok(summary)
    }

    /// Runs `alone` (one file at a time) then `work` through the pipeline into the catalog and
    /// the graph, each file claimed in the catalog before it is read and released when the
    /// job ends, filling in the pipeline's part of `summary`; returns the photos their
    /// folder's auto-tag tagged.
    #[allow(clippy::too_many_arguments)]
    fn encode(
        &mut self,
        work: &[WorkItem],
        alone: &[WorkItem],
        encoder: &ImageEncoder,
        threads: usize,
        control: &Control,
        progress: &mut dyn FnMut(&Progress),
        summary: &mut Summary,
    ) -> Result<HashSet<i64>, LibraryError> {
        let known = self.records.catalog.hashes_with_vector(self.model_id)?;
        let claims = crate::inflight::Claims::open(&self.dir)?;
        let (together, one_by_one) = (claims.reading(false), claims.reading(true));
        // The graph thread's saves carry the caption direction a search recorded meanwhile.
        self.score_recorded_direction()?;
        let (catalog, vectors, model_id) =
            (&mut self.records.catalog, &mut self.vectors, self.model_id);
        let vectors_path = self
            .dir
            .join(format!("vectors-{}.usearch", sanitize(&self.model)));
        let (mut last_save, save_every) = (Instant::now(), self.save_every);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let graph_threads = graph_threads(cores);
        // New vectors go into the graph in chunks, on their own thread beside the catalog
        // commits: one at a time the graph caps indexing near 500 photos/s, and inserting on the
        // committing thread would make that thread (SQLite plus graph) the serial limit at GPU
        // rates. Jobs reach the graph thread in commit order and pending vectors are inserted
        // before a save, so a saved index never claims to be current while missing some.
        let mut fresh: Vec<(i64, Vec<f32>)> = Vec::new();
        let (mut auto_tagged, mut unembedded) = (HashSet::new(), std::collections::BTreeSet::new());
        let mut tagger = crate::autotag::AutoTagger::default();
        let graph_ok = AtomicBool::new(true);
        let (run, graph) = std::thread::scope(|scope| {
            let (jobs, inbox) = std::sync::mpsc::sync_channel::<GraphJob>(2);
            let worker = scope
                .spawn(|| graph_worker(vectors, &vectors_path, graph_threads, inbox, &graph_ok));
            let send = |job| jobs.send(job).map_err(|_| graph_failed());
            let mut commit = |batch: Vec<Outcome>| -> Result<(), LibraryError> {
                if !graph_ok.load(Ordering::Relaxed) {
                    // Stop early; the graph thread's own error is returned below.
                    return Err(graph_failed());
                }
                // Photos arriving in an auto-tagged folder are tagged as it was, in the
                // transaction that adds them.
                let (added, arrived) = catalog.atomically(|c| {
                    let added = c.put_outcomes(model_id, &batch)?;
                    let arrived = tagger.tag_arrivals(c, model_id, &added)?;
                    Ok::<_, CatalogError>((added, arrived))
                })?;
                fresh.extend(added);
                auto_tagged.extend(arrived.tagged);
                unembedded.extend(arrived.unembedded);
                let save = last_save.elapsed() >= save_every;
                if fresh.len() >= INSERT_CHUNK || (save && !fresh.is_empty()) {
                    send(GraphJob::Insert(std::mem::take(&mut fresh)))?;
                }
                if save {
                    let (reply, answer) = std::sync::mpsc::sync_channel(1);
                    send(GraphJob::Save(reply))?;
                    let saved = answer.recv().map_err(|_| graph_failed())??;
                    catalog.set_index_state(model_id, &saved)?;
                    last_save = Instant::now();
                }
                Ok(())
            };
            // Files a dead process was reading go first, each alone: if one kills the process
            // again, it is the only one in flight, and the next start marks it failed.
            let total = work.len() + alone.len();
            let mut before = Progress::default();
            let offset = |p: &Progress, before: &Progress| {
                let mut p = p.clone();
                p.done += before.done;
                p.failed += before.failed;
                p.encoded += before.encoded;
                p.total = total;
                p
            };
            let mut run = Ok((Progress::default(), Timing::default()));
            for item in alone {
                if control.is_cancelled() {
                    break;
                }
                run = pipeline::run_claiming(
                    std::slice::from_ref(item),
                    encoder,
                    &known,
                    Some(&self.thumbs),
                    1,
                    control,
                    Some(&one_by_one),
                    &mut commit,
                    &mut |p| progress(&offset(p, &before)),
                );
                match &run {
                    Ok((p, _)) => before = offset(p, &before),
                    Err(_) => break,
                }
            }
            if run.is_ok() && !work.is_empty() {
                run = pipeline::run_claiming(
                    work,
                    encoder,
                    &known,
                    Some(&self.thumbs),
                    threads,
                    control,
                    Some(&together),
                    &mut commit,
                    &mut |p| progress(&offset(p, &before)),
                )
                .map(|(p, t)| (offset(&p, &before), t));
            } else if let Ok((p, _)) = &mut run {
                *p = before.clone();
            }
            // Whatever was committed to the catalog goes into the graph, also when the job
            // failed. A send fails only when the graph thread is gone, which `join` reports.
            let _ = send(GraphJob::Insert(std::mem::take(&mut fresh)));
            drop(jobs);
            let graph = worker.join().unwrap_or_else(|_| {
                (
                    Duration::ZERO,
                    Some(VectorError::Index("the graph thread panicked".into())),
                )
            });
            (run, graph)
        });
        // The job ended without the process dying: nothing it claimed is suspect.
        drop((together, one_by_one));
        claims.release();
        summary.auto_tagged = auto_tagged.len();
        for folder in unembedded {
            tracing::warn!(
                folder = %folder.display(),
                "new photos here were not auto-tagged: this model has not embedded the \
                 folder's labels (auto-tag the folder again)"
            );
        }
        let (graph_busy, graph_error) = graph;
        // The graph thread's error is the cause when both failed (the commits then stop with
        // a placeholder).
        if let Some(e) = graph_error {
            return Err(e.into());
        }
        let (p, t) = run?;
        summary.progress = p;
        summary.timing = t;
        summary.graph = graph_busy.as_secs_f64();
        summary.graph_threads = graph_threads;
        Ok(auto_tagged)
    }

    /// Reads the metadata of photos indexed before Glimpse read any (their rows have no date
    /// taken, camera or place), from the files' first bytes, without decoding or encoding them
    /// again. A file that cannot be read now is tried on the next run.
    fn read_missing_metadata(&mut self, control: &Control) -> Result<usize, LibraryError> {
        const CHUNK: usize = 500;
        let (mut after, mut done) = (0, 0);
        loop {
            let rows = self.records.catalog.metadata_unread(after, CHUNK)?;
            let Some(&(last, _)) = rows.last() else {
                return Ok(done);
            };
            after = last;
            let read: Vec<_> = rows
                .into_iter()
                .filter_map(
                    |(id, path)| match glimpse_clip::metadata::read_file(&path) {
                        Ok(m) => Some((id, m)),
                        Err(e) => {
                            tracing::debug!(path = %path.display(), "metadata not read: {e}");
                            None
                        }
                    },
                )
                .collect();
            self.records.catalog.set_metadata(&read)?;
            done += read.len();
            if control.is_cancelled() {
                return Ok(done);
            }
        }
    }
}

/// The setting that records which decoders last read a folder's files
/// ([`decode::decoder_set`]): when the current set differs, the folder's failed files are tried
/// again on the next run, once.
pub fn decoders_key(root_id: i64) -> String {
    format!("decoders.root.{root_id}")
}

/// Builds the vector index afresh from the catalog's embeddings and records it, for a file
/// that cannot be trusted (`why`, for `status`): minutes at a million photos.
fn rebuild(
    catalog: &Catalog,
    model_id: i64,
    dim: usize,
    path: &Path,
    why: &str,
    rebuilding: &mut dyn FnMut(Rebuilding),
) -> Result<(VectorIndex, String, Option<Saved>), LibraryError> {
    tracing::info!("vector index {why}; rebuilding from the catalog's embeddings");
    let mut telling = Telling::new(catalog, model_id, why, rebuilding)?;
    let mut v = relink(catalog, model_id, dim, &mut telling)?;
    telling.tell(RebuildStage::Saving, telling.total);
    let saved = v.save(path)?;
    catalog.set_index_state(model_id, &saved)?;
    Ok((v, format!("rebuilt ({why})"), Some(saved)))
}

/// Reads every vector of `model_id` from the catalog and links them into a new graph, telling
/// `telling` how far it has got.
fn relink(
    catalog: &Catalog,
    model_id: i64,
    dim: usize,
    telling: &mut Telling<'_>,
) -> Result<VectorIndex, LibraryError> {
    telling.tell(RebuildStage::Reading, 0);
    let items = catalog.embeddings(model_id)?;
    Ok(VectorIndex::rebuild_reporting(dim, items, &mut |done| {
        telling.tell(RebuildStage::Linking, done)
    })?)
}

/// Tells a rebuild's watcher each step, and its end however it ends (an error included), so
/// whoever shows the rebuild stops. A rebuild of an empty index (a new library, a model new
/// to it) is no rebuild to announce: it tells nothing.
struct Telling<'a> {
    why: String,
    total: usize,
    /// The last count told, once anything was.
    told: Option<usize>,
    to: &'a mut dyn FnMut(Rebuilding),
}

impl<'a> Telling<'a> {
    fn new(
        catalog: &Catalog,
        model_id: i64,
        why: &str,
        to: &'a mut dyn FnMut(Rebuilding),
    ) -> Result<Self, LibraryError> {
        Ok(Telling {
            why: why.to_string(),
            total: usize::try_from(catalog.embedding_count(model_id)?).unwrap_or(usize::MAX),
            told: None,
            to,
        })
    }

    fn tell(&mut self, stage: RebuildStage, done: usize) {
        if self.total == 0 {
            return;
        }
        self.told = Some(done);
        (self.to)(Rebuilding {
            why: self.why.clone(),
            stage,
            done,
            total: self.total,
        });
    }
}

impl Drop for Telling<'_> {
    fn drop(&mut self) {
        if let Some(done) = self.told {
            (self.to)(Rebuilding {
                why: self.why.clone(),
                stage: RebuildStage::Done,
                done,
                total: self.total,
            });
        }
    }
}

/// A saved index's fault in `status`'s words, which a rebuild also tells its watcher.
fn staleness_words(stale: &Staleness) -> String {
    match stale {
        Staleness::Missing => "missing".to_string(),
        Staleness::Mismatch => "stale".to_string(),
        Staleness::Corrupt(e) => format!("corrupt ({e})"),
        Staleness::Outdated(e) => format!("in an older format ({e})"),
    }
}

/// How a rebuild of the vector index is going, at open ([`Library::open_reporting`]) or after
/// it ([`Library::watch_rebuilds`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilding {
    /// Why the saved index could not be used, in `status`'s words ("missing", "in an older
    /// format (…)"), so the user knows this happens once and why.
    pub why: String,
    /// What the rebuild is doing now.
    pub stage: RebuildStage,
    /// Photos in the rebuilt graph so far: 0 while reading, `total` once saving.
    pub done: usize,
    /// Photos with a vector in the catalog, which the graph will hold.
    pub total: usize,
}

/// The steps of a rebuild, in order; linking photos into the graph is the long one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebuildStage {
    /// Reading every vector from the catalog.
    Reading,
    /// Linking the vectors into the graph, `done` of `total`.
    Linking,
    /// Writing the new index file, so the next open loads it.
    Saving,
    /// The rebuild has ended, done or failed (the error is the caller's answer): whoever
    /// showed it stops.
    Done,
}

/// Holds the commits made after a verified index file's save (the process died between a
/// commit and the next save) beside its graph, as a reader follows them
/// ([`VectorIndex::follow`]): the library opens at once and answers with them, and its first
/// change or save takes them into the graph. Rebuilding the graph instead takes minutes at a
/// million photos. `None` (the caller rebuilds) when the record predates generations or the
/// commits do not add up to the catalog's vectors; else how the index was opened.
fn hold_commits_since_save(
    catalog: &Catalog,
    model_id: i64,
    v: &mut VectorIndex,
    record: Option<&(Saved, i64)>,
) -> Result<Option<String>, LibraryError> {
    let Some((rec, generation)) = record.filter(|(_, generation)| *generation >= 0) else {
        return Ok(None);
    };
    let changes = match catalog.follow(model_id, Some((rec, *generation)), *generation)? {
        Following::Changes(Some(c)) => c,
        // The record changed under the writer's lock, or nothing was committed since it (the
        // file would then have been trusted): neither is a file to follow.
        _ => return Ok(None),
    };
    let (written, gone) = (changes.written.len(), changes.gone.len());
    if v.sketches_stale() {
        // In memory, as a reader does: the file's own sketches are saved with the next file.
        v.rebuild_sketches(&catalog.embedding_ids(model_id)?);
    }
    v.follow(changes.written, &changes.gone);
    let want = catalog.embedding_count(model_id)?;
    if v.len() as u64 != want {
        tracing::warn!(
            held = v.len(),
            want,
            "vector index does not match the catalog with its later commits"
        );
        return Ok(None);
    }
    tracing::info!(
        written,
        gone,
        "vector index behind the catalog; holding the commits since its last save beside it"
    );
    Ok(Some(format!(
        "loaded, with {written} written and {gone} removed since its last save held beside it"
    )))
}

/// Threads that insert into the graph during a job: a quarter of the cores, 2 to 8. USearch's
/// cost per vector grows with its thread count (on an H200 host 0.25 thread-ms on one thread,
/// 0.53 on 16), and during indexing every cycle it takes comes out of the decoders; four threads
/// still insert several times faster than 16 cores decode 0.3 MP photos.
pub(crate) fn graph_threads(cores: usize) -> usize {
    (cores / 4).clamp(2, 8).min(cores.max(1))
}

/// Work for the graph thread of an indexing job, in commit order.
enum GraphJob {
    /// Vectors committed to the catalog, to insert.
    Insert(Vec<(i64, Vec<f32>)>),
    /// Insert everything sent before, save the index, answer with what the catalog records.
    Save(std::sync::mpsc::SyncSender<Result<Saved, VectorError>>),
}

/// The graph thread: inserts and saves in the order the jobs come. After a failure it keeps
/// draining (so the committing side never blocks on it), clears `ok` so commits stop, refuses to
/// save, and returns the error with the time it spent inserting.
fn graph_worker(
    vectors: &mut VectorIndex,
    path: &Path,
    threads: usize,
    inbox: std::sync::mpsc::Receiver<GraphJob>,
    ok: &AtomicBool,
) -> (Duration, Option<VectorError>) {
    let mut busy = Duration::ZERO;
    let mut failed: Option<VectorError> = None;
    for job in inbox {
        match job {
            GraphJob::Insert(items) => {
                if failed.is_some() {
                    continue;
                }
                let t = Instant::now();
                if let Err(e) = vectors.add_many(&items, threads) {
                    ok.store(false, Ordering::Relaxed);
                    failed = Some(e);
                }
                busy += t.elapsed();
            }
            GraphJob::Save(reply) => {
                let saved = match &failed {
                    Some(e) => Err(VectorError::Index(format!(
                        "not saved after a failed insertion: {e}"
                    ))),
                    None => vectors.save(path),
                };
                // The committing side waits for this answer; gone only if it stopped.
                let _ = reply.send(saved);
            }
        }
    }
    (busy, failed)
}

/// The error a commit returns when the graph thread has stopped or failed.
fn graph_failed() -> LibraryError {
    LibraryError::Vectors(VectorError::Index(
        "graph insertion stopped during the job".into(),
    ))
}

/// The setting that keeps a model's caption direction.
fn caption_setting(model: &str) -> String {
    format!("caption-direction:{model}")
}

/// The caption direction recorded for `model`, if any (an unreadable one is ignored: the
/// next search records it again).
fn caption_direction_of(catalog: &Catalog, model: &str) -> Result<Option<Vec<f32>>, LibraryError> {
    Ok(catalog
        .setting(&caption_setting(model))?
        .and_then(|s| serde_json::from_str::<Vec<f32>>(&s).ok()))
}

fn sanitize(model: &str) -> String {
    model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What a background indexing job reports, in order, ending with `Finished`.
#[derive(Debug)]
pub enum JobEvent {
    /// Files done so far, rate, ETA and the current file.
    Progress(Progress),
    /// The job ended (the summary, or the error that stopped it).
    Finished(Result<Summary, LibraryError>),
}

/// An indexing job running on its own thread, steerable while it runs: the CLI draws its
/// events as a progress bar; the app forwards them to the window.
pub struct Job {
    control: std::sync::Arc<Control>,
    events: std::sync::mpsc::Receiver<JobEvent>,
    handle: std::thread::JoinHandle<Library>,
}

impl Job {
    /// Starts indexing `roots` into `library` in the background.
    pub fn spawn(
        mut library: Library,
        encoder: std::sync::Arc<ImageEncoder>,
        roots: Vec<PathBuf>,
        threads: usize,
    ) -> Job {
        let control = std::sync::Arc::new(Control::default());
        let (tx, events) = std::sync::mpsc::channel();
        let ctl = control.clone();
        let handle = std::thread::spawn(move || {
            let progress_tx = tx.clone();
            let result = library.index(&roots, &encoder, threads, &ctl, &mut |p| {
                // A dropped receiver only means nobody is watching.
                let _ = progress_tx.send(JobEvent::Progress(p.clone()));
            });
            let _ = tx.send(JobEvent::Finished(result));
            library
        });
        Job {
            control,
            events,
            handle,
        }
    }

    /// Holds the job between files.
    pub fn pause(&self) {
        self.control.pause();
    }

    /// Continues a paused job.
    pub fn resume(&self) {
        self.control.resume();
    }

    /// Stops the job after the batch in flight is committed.
    pub fn cancel(&self) {
        self.control.cancel();
    }

    /// The job's events; iterate until `Finished`.
    pub fn events(&self) -> &std::sync::mpsc::Receiver<JobEvent> {
        &self.events
    }

    /// Waits for the job and gives the library back.
    pub fn join(self) -> Result<Library, LibraryError> {
        self.handle.join().map_err(|_| LibraryError::JobPanicked)
    }
}

/// Seconds since the Unix epoch (0 on a clock set before it).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{sync_channel, SyncSender};

    /// A unit vector with all components positive, different for every seed.
    fn unit(seed: usize) -> Vec<f32> {
        let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..8)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 + 1.0
            })
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    /// What a graph thread left once `jobs` had sent it work and closed the channel.
    struct Ran {
        vectors: VectorIndex,
        busy: Duration,
        failed: Option<VectorError>,
        ok: bool,
        file_written: bool,
    }

    fn graph_thread(jobs: impl FnOnce(&SyncSender<GraphJob>)) -> Ran {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.usearch");
        let mut vectors = VectorIndex::new(8).unwrap();
        let ok = AtomicBool::new(true);
        let (tx, inbox) = sync_channel(2);
        let (busy, failed) = std::thread::scope(|scope| {
            let worker = scope.spawn(|| graph_worker(&mut vectors, &path, 2, inbox, &ok));
            jobs(&tx);
            drop(tx);
            worker.join().unwrap()
        });
        Ran {
            vectors,
            busy,
            failed,
            ok: ok.into_inner(),
            file_written: path.is_file(),
        }
    }

    fn save(jobs: &SyncSender<GraphJob>) -> Result<Saved, VectorError> {
        let (reply, answer) = sync_channel(1);
        jobs.send(GraphJob::Save(reply)).unwrap();
        answer.recv().unwrap()
    }

    #[test]
    fn the_graph_thread_inserts_in_order_and_saves_what_came_before() {
        // Photo 5's vector is replaced later by one unlike every other.
        let odd: Vec<f32> = unit(5).iter().map(|x| -x).collect();
        let ran = graph_thread(|jobs| {
            let first = (0..3000).map(|i| (i, unit(i as usize))).collect();
            jobs.send(GraphJob::Insert(first)).unwrap();
            let saved = save(jobs).unwrap();
            assert_eq!(saved.count, 3000, "the save waited for the insertion");
            let again = vec![(5, odd.clone()), (3000, unit(3000))];
            jobs.send(GraphJob::Insert(again)).unwrap();
        });
        assert!(ran.failed.is_none() && ran.ok);
        assert!(ran.busy > Duration::ZERO && ran.file_written);
        assert_eq!(ran.vectors.len(), 3001, "replaced, not added twice");
        let held = ran.vectors.get(5).unwrap();
        let cos: f32 = held.iter().zip(&odd).map(|(a, b)| a * b).sum();
        assert!(cos > 0.99, "photo 5 holds its later vector (cosine {cos})");
    }

    #[test]
    fn a_failed_insertion_stops_commits_and_refuses_to_save() {
        let ran = graph_thread(|jobs| {
            // A vector of the wrong length: refused before it reaches USearch.
            jobs.send(GraphJob::Insert(vec![(1, vec![0.5; 3])]))
                .unwrap();
            jobs.send(GraphJob::Insert(vec![(2, unit(2))])).unwrap();
            let saved = save(jobs);
            assert!(saved.is_err(), "{saved:?}");
        });
        assert!(matches!(
            ran.failed,
            Some(VectorError::Dimensions { want: 8, got: 3 })
        ));
        assert!(!ran.ok, "commits are told to stop");
        assert_eq!(
            ran.vectors.len(),
            0,
            "nothing after the failure was inserted"
        );
        assert!(!ran.file_written);
    }

    #[test]
    fn an_index_of_f16_rows_from_before_is_rebuilt_once_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let items: Vec<(i64, Vec<f32>)> = {
            let catalog = Catalog::open(dir.path()).unwrap();
            let model = catalog.model_id("m", 8).unwrap();
            let root = catalog.add_root(&dir.path().join("photos")).unwrap();
            let files: Vec<(PathBuf, i64, i64, Option<String>)> = (0..30)
                .map(|i| (dir.path().join(format!("photos/{i}.jpg")), 100, i, None))
                .collect();
            let mut catalog = catalog;
            let ids = catalog.upsert_files(root.id, &files).unwrap();
            let outcomes: Vec<Outcome> = ids
                .iter()
                .map(|&id| Outcome::Encoded {
                    photo_id: id,
                    hash: *blake3::hash(&id.to_le_bytes()).as_bytes(),
                    vector: unit(id as usize),
                    width: 10,
                    height: 10,
                    format: "jpeg".into(),
                    metadata: Default::default(),
                    note: None,
                })
                .collect();
            catalog.commit_batch(model, &outcomes).unwrap();
            let items = catalog.embeddings(model).unwrap();
            let path = dir.path().join("vectors-m.usearch");
            let saved = crate::vectors::save_f16_rows(&path, 8, &items).unwrap();
            catalog.set_index_state(model, &saved).unwrap();
            items
        };
        let lib = Library::open(dir.path(), "m", 8).unwrap();
        assert!(
            lib.vectors_origin()
                .starts_with("rebuilt (in an older format"),
            "{}",
            lib.vectors_origin()
        );
        let (id, v) = &items[7];
        let hit = lib.search_exact(v, 1).unwrap();
        assert_eq!(hit[0].0, *id);
        assert!((hit[0].1 - 1.0).abs() < 1e-3, "{hit:?}");
        drop(lib);
        let again = Library::open(dir.path(), "m", 8).unwrap();
        assert_eq!(again.vectors_origin(), "loaded", "rebuilt once, then kept");
        assert_eq!(again.vector_count(), 30);
    }

    #[test]
    fn graph_threads_are_a_quarter_of_the_cores_within_bounds() {
        assert_eq!(graph_threads(1), 1);
        assert_eq!(graph_threads(2), 2);
        assert_eq!(graph_threads(16), 4);
        assert_eq!(graph_threads(64), 8);
    }
}
