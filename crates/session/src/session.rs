//! The engine held open for an interactive app: one model, one library, a background indexer
//! that owns the writing handle, and a reading handle that keeps answering searches while the
//! indexer works (while another process indexes the library, only the reading handle, until
//! that one quits: see [`glimpse_library::lock`]). The desktop shell is a thin layer of commands over
//! this type, so everything the window can do is testable here without a window.

use crate::picture::{self, Rgba};
use crate::reveal::RevealPlan;
use crate::serve::{Scope, ServeError};
use crate::text::{self, LazyReader, OcrModels};
use crate::views::{
    AppStatus, AutoTagInfo, DroppedFile, DupeGroup, Event, ExportReport, Failure, FilterSpec,
    FolderAdded, FolderCount, FormatView, HitView, IndexFinished, IndexState, IndexThreads,
    LabelSuggestion, LineMatchView, ModelChoices, ModelProgress, ModelState, PhotoDetail,
    ProgressView, RootInfo, SearchPage, SearchQuery, TagCount, TagReportView, TrashReport,
};
use glimpse_clip::decode::{self, DecodeOptions};
use glimpse_clip::device::DeviceOptions;
use glimpse_clip::encode::{LazyEncoderError, LazyImageEncoder, TextEncoder};
use glimpse_clip::model::manifest;
use glimpse_clip::model::ModelFiles;
use glimpse_clip::runtime::{self, RuntimeOptions};
use glimpse_library::catalog::{PhotoFilter, PhotoInfo};
use glimpse_library::lock::{LockError, WriterLock};
use glimpse_library::pipeline::{Control, Progress};
use glimpse_library::watch;
use glimpse_library::{Library, LibraryError, Records, Summary};
use glimpse_query::dupes::{DupeError, DupeOptions};
use glimpse_query::search::{self, Request, Sort};
use glimpse_query::tags::{self, TagOptions};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Failures the window shows in its error banner: each says what went wrong and with what.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No usable model yet (the first-run screen fetches or explains it).
    #[error("the model is not ready: {0}")]
    ModelNotReady(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// ONNX Runtime could not be loaded.
    #[error("ONNX Runtime is not available: {0}")]
    Runtime(#[source] runtime::RuntimeError),
    /// The model could not be opened (its files, or one of its towers).
    #[error("cannot open the model: {0}")]
    Model(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The library failed.
    #[error(transparent)]
    Library(#[from] LibraryError),
    /// A search failed.
    #[error(transparent)]
    Search(#[from] search::SearchError),
    /// Tagging failed.
    #[error(transparent)]
    Tags(#[from] tags::TagError),
    /// Looking for duplicates failed.
    #[error("cannot look for duplicates: {0}")]
    Dupes(#[from] DupeError),
    /// A folder the user named cannot be used. The message is the reason alone: the window
    /// says which folder ("Could not add “~/Photos”: there is no such folder").
    #[error("{reason}")]
    Folder {
        /// The folder.
        path: String,
        /// Why not.
        reason: String,
    },
    /// A tag could not be renamed (no such tag, no new name).
    #[error("{0}")]
    Tag(String),
    /// No photo with this id: it was removed (its file deleted or its folder taken out)
    /// after the window showed it.
    #[error("This photo is no longer in the library.")]
    NoPhoto(i64),
    /// A setting was given a value it cannot take; the message says which values it can.
    #[error("{0}")]
    Setting(String),
    /// A photo's picture could not be read for copying.
    #[error("The picture could not be read: {0}")]
    Picture(#[source] decode::DecodeError),
    /// A date filter is not `YYYY-MM-DD`.
    #[error("not a date (YYYY-MM-DD): {0}")]
    BadDate(String),
    /// The background indexer is gone (or did not answer).
    #[error("the indexer stopped: {0}")]
    Indexer(&'static str),
    /// The background indexer failed to change the library's folders.
    #[error("the indexer stopped: {0}")]
    IndexerFailed(#[source] LibraryError),
    /// The thread that watches the folders could not be started.
    #[error("the indexer stopped: cannot start the watcher: {0}")]
    Watcher(#[source] std::io::Error),
    /// Another process is indexing this library, so this window cannot change it.
    #[error(
        "another Glimpse ({0}) is indexing this library: change its folders there, or here \
         once it has quit"
    )]
    Held(String),
    /// The page named a dropped picture the window no longer remembers (or never received).
    #[error("Glimpse no longer knows that dropped picture: drop it onto the window again")]
    UnknownDrop(u64),
}

/// The image tower failing to open is the model's fault, shown as the model's error.
impl From<LazyEncoderError> for SessionError {
    fn from(e: LazyEncoderError) -> Self {
        SessionError::Model(Box::new(e))
    }
}

/// A model the window cannot switch to is a setting refused in words.
impl From<crate::models::ChoiceError> for SessionError {
    fn from(e: crate::models::ChoiceError) -> Self {
        match e {
            crate::models::ChoiceError::Refused(why) => SessionError::Setting(why),
            crate::models::ChoiceError::Library(e) => SessionError::Library(e),
        }
    }
}

/// Where the session keeps things and how it runs the model.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The library folder (catalog, vectors, thumbnails).
    pub library_dir: PathBuf,
    /// A model name from the manifest or a model folder; `None`: the one the library was last
    /// indexed with (a model chosen once sticks), else the default.
    pub model: Option<String>,
    /// Where named models are downloaded to.
    pub models_dir: PathBuf,
    /// Overrides the model download server (tests use a local one).
    pub model_base_url: Option<String>,
    /// Where ONNX Runtime is looked for (and fetched to, if allowed).
    pub runtime: RuntimeOptions,
    /// Execution provider settings.
    pub device: DeviceOptions,
    /// Decoder threads for indexing.
    pub threads: usize,
    /// Where the OCR models come from (the words in photos are read after each indexing job
    /// unless the library turned that off).
    pub ocr_models: OcrModels,
}

impl SessionConfig {
    /// The platform defaults: the default library, model and device.
    pub fn new(library_dir: PathBuf) -> Self {
        SessionConfig {
            library_dir,
            model: None,
            models_dir: manifest::default_models_dir(),
            model_base_url: None,
            runtime: RuntimeOptions::default(),
            device: DeviceOptions::new(glimpse_clip::device::Device::Auto),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            ocr_models: OcrModels::Locate,
        }
    }
}

/// Receives the session's events (the shell forwards them to the window).
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// Failures listed per root.
pub const FAILURES_SHOWN: usize = 50;

/// Most results one call returns.
pub const MAX_PAGE: usize = 1000;

/// Drops remembered: a search by an older one asks for the drop again.
pub const DROPS_KEPT: usize = 64;

/// The loaded model and the two library handles.
struct Engine {
    files: ModelFiles,
    text: TextEncoder,
    /// The image tower, opened the first time an index job finds photos to encode or a dropped
    /// picture has no stored vector: a window over an up-to-date library then spends neither
    /// its memory (~340 MB resident for ViT-B/32 on a CPU, `cargo bench --bench session`) nor,
    /// on a GPU, CUDA's start-up and device memory.
    image: Arc<LazyImageEncoder>,
    reader: Mutex<Library>,
    provider: String,
    /// The background indexer; `None` while another process indexes this library.
    indexer: Option<Indexer>,
    /// That process ("glimpse, pid 4242"), whose saves the reader follows meanwhile.
    held_by: Option<String>,
    /// Vectors of recent queries, for the pages and filters that ask again.
    recent: Mutex<search::RecentQueries>,
    /// The direction every caption shares, from the text tower (computed at the first caption).
    caption_gap: std::sync::OnceLock<Vec<f32>>,
    /// Ends this engine's watcher: set when the session closes or switches to another model.
    watch_stop: Arc<AtomicBool>,
}

impl Engine {
    /// The direction every caption shares ([`search::caption_direction`]), computed once.
    fn caption_direction(&self) -> Result<Vec<f32>, search::SearchError> {
        if let Some(g) = self.caption_gap.get() {
            return Ok(g.clone());
        }
        let g = search::caption_direction(&mut |t: &[&str]| {
            self.text.embed(t).map_err(search::TowerError::from)
        })?;
        Ok(self.caption_gap.get_or_init(|| g).clone())
    }

    /// The indexer, or why this window cannot change the library now.
    fn indexer(&self) -> Result<&Indexer, SessionError> {
        self.indexer
            .as_ref()
            .ok_or_else(|| SessionError::Held(self.held_by.clone().unwrap_or_default()))
    }
}

/// The engine for one window.
pub struct Session {
    cfg: SessionConfig,
    /// The model in use: the configured one, else the library's (see [`SessionConfig::model`]),
    /// until Settings switches to another ([`Session::set_model`]).
    model: RwLock<String>,
    /// The watcher thread of the running engine, joined when the engine is swapped.
    watcher: Mutex<Option<JoinHandle<()>>>,
    sink: Sink,
    engine: RwLock<Option<Arc<Engine>>>,
    scope: RwLock<Scope>,
    /// The library's roots when the scope was made: another process indexing the library may
    /// add some, which the scope must then serve too.
    scope_roots: Mutex<Vec<PathBuf>>,
    /// Why the last start failed: shown on the first-run screen, or on the window's library
    /// screen when the library is to blame.
    start_error: Mutex<Option<(String, Blame)>>,
    /// Bumped whenever the set of roots changes, so the watcher re-arms.
    roots_generation: Arc<AtomicU64>,
    /// Files dropped onto the window, newest first, by token.
    drops: Mutex<VecDeque<(u64, PathBuf)>>,
    /// The last token given to a dropped file.
    last_drop: AtomicU64,
    /// The catalog connection the `glimpse:` gate asks whether a file is a photo: its own, so
    /// loading pictures never waits for a search on the reader.
    serve_catalog: Mutex<Option<Records>>,
    /// Ends the watcher thread.
    stop: Arc<AtomicBool>,
    /// The groups of copies the window was last shown: only their photos may go to the Trash.
    dupes: Mutex<crate::dupes::Found>,
}

/// What a failed start is blamed on, which decides where the window says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blame {
    /// The model or ONNX Runtime (the first-run screen).
    Model,
    /// The library: damaged, unreadable.
    Library,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another command must not take every later command down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    /// A session that has loaded nothing yet (see [`Session::start`]).
    pub fn new(cfg: SessionConfig, sink: Sink) -> Self {
        let model = cfg.model.clone().unwrap_or_else(|| {
            match glimpse_library::remembered_model(&cfg.library_dir) {
                Ok(Some(m)) => m,
                Ok(None) => manifest::DEFAULT_MODEL.to_string(),
                Err(e) => {
                    // Opening the library says so again, on the window's library screen.
                    tracing::warn!("cannot read which model the library uses: {e}");
                    manifest::DEFAULT_MODEL.to_string()
                }
            }
        });
        Session {
            cfg,
            model: RwLock::new(model),
            watcher: Mutex::default(),
            sink,
            engine: RwLock::new(None),
            scope: RwLock::new(Scope::default()),
            scope_roots: Mutex::default(),
            start_error: Mutex::new(None),
            roots_generation: Arc::new(AtomicU64::new(0)),
            drops: Mutex::default(),
            last_drop: AtomicU64::new(0),
            serve_catalog: Mutex::new(None),
            stop: Arc::new(AtomicBool::new(false)),
            dupes: Mutex::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    fn engine(&self) -> Result<Arc<Engine>, SessionError> {
        let loaded = || {
            self.engine
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        };
        if let Some(e) = loaded() {
            return Ok(e);
        }
        // The model may have been put in place by hand since the window opened.
        self.start()?;
        loaded().ok_or_else(|| SessionError::ModelNotReady("the model is not loaded yet".into()))
    }

    /// Whether the model folder is complete, without downloading anything.
    pub fn model_state(&self) -> ModelState {
        let model = self.model();
        let dir = if Path::new(&model).is_dir() {
            PathBuf::from(&model)
        } else {
            self.cfg.models_dir.join(&model)
        };
        let checked = manifest::ensure_model(
            &model,
            &self.cfg.models_dir,
            false,
            self.cfg.model_base_url.as_deref(),
            &mut |_, _| {},
        );
        let (mut ready, mut problem) = match checked {
            Ok(d) => match ModelFiles::open(&d) {
                Ok(_) => (true, None),
                Err(e) => (false, Some(e.to_string())),
            },
            Err(e) => (false, Some(e.to_string())),
        };
        if let Some((e, Blame::Model)) = lock(&self.start_error).clone() {
            (ready, problem) = (false, Some(e));
        }
        ModelState {
            description: manifest::find(&model).map(|m| m.description.clone()),
            name: model,
            ready,
            dir: dir.display().to_string(),
            problem,
        }
    }

    /// The model in use now (a manifest name or a model folder).
    pub fn model(&self) -> String {
        self.model.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Loads ONNX Runtime, the model and the library, starts the indexer and catches up with
    /// changes made while the app was closed. Does nothing when already started.
    pub fn start(&self) -> Result<(), SessionError> {
        self.start_in(self.engine.write().unwrap_or_else(|p| p.into_inner()))
    }

    /// [`Session::start`] with the engine slot already held (a model switch holds it from
    /// stopping the old engine to starting the new, so no command starts one in between),
    /// recording why it failed.
    fn start_in(
        &self,
        slot: RwLockWriteGuard<'_, Option<Arc<Engine>>>,
    ) -> Result<(), SessionError> {
        let started = self.start_inner(slot);
        *lock(&self.start_error) = started.as_ref().err().map(|e| {
            let blame = match e {
                SessionError::Library(_) => Blame::Library,
                _ => Blame::Model,
            };
            (e.to_string(), blame)
        });
        started
    }

    fn start_inner(
        &self,
        mut slot: RwLockWriteGuard<'_, Option<Arc<Engine>>>,
    ) -> Result<(), SessionError> {
        if slot.is_some() {
            return Ok(());
        }
        let model = self.model();
        let dir = manifest::ensure_model(
            &model,
            &self.cfg.models_dir,
            false,
            self.cfg.model_base_url.as_deref(),
            &mut |_, _| {},
        )
        .map_err(|e| SessionError::ModelNotReady(Box::new(e)))?;
        let files = ModelFiles::open(&dir).map_err(|e| SessionError::Model(Box::new(e)))?;
        let rt = runtime::load(&self.cfg.runtime).map_err(SessionError::Runtime)?;
        let text = TextEncoder::open_with(&rt.env, &files, &self.cfg.device)
            .map_err(|e| SessionError::Model(Box::new(e)))?;
        if let Some(w) = &text.selection.fallback {
            tracing::warn!("{w}");
        }
        let provider = text.selection.label();
        let mut image =
            LazyImageEncoder::new(rt.env.clone(), files.clone(), self.cfg.device.clone()).on_open(
                |enc| {
                    if let Some(w) = &enc.selection.fallback {
                        tracing::warn!("{w}");
                    }
                    tracing::info!(provider = %enc.selection.label(), "image encoder opened");
                },
            );
        // The width the library recorded for this model; for a model it has not seen, the
        // towers' shared width (the image tower is opened only if the text graph is silent).
        let recorded = Records::open(&self.cfg.library_dir)?.width_of(&files.name)?;
        let dim = match recorded {
            Some(dim) => dim,
            None if text.dim() > 0 => text.dim(),
            None => image.get()?.dim(),
        };
        image.expect_width(dim);
        // The writer opens first: it repairs a stale index file before the reader loads it.
        // While another process indexes the library, the window only reads what it saves.
        let sink = self.sink.clone();
        let rebuilding = move |r: glimpse_library::Rebuilding| {
            sink(Event::IndexRebuild(r.into()));
        };
        let opened = Library::open_reporting(
            &self.cfg.library_dir,
            &files.name,
            dim,
            &mut rebuilding.clone(),
        );
        let (writer, held_by) = match opened {
            Ok(mut w) => {
                w.remember_model(&model)?;
                // Rows found damaged after the open are rebuilt by the job's next change.
                w.watch_rebuilds(rebuilding.clone());
                (Some(w), None)
            }
            Err(LibraryError::Locked(LockError::Busy { holder, .. })) => {
                tracing::info!("{holder} is indexing this library; searching what it saves");
                (None, Some(holder))
            }
            Err(e) => return Err(e.into()),
        };
        let mut reader = Library::open_reader(&self.cfg.library_dir, &files.name, dim)?;
        // A saved file that turns out unusable when a search follows the indexer is rebuilt
        // in memory inside that search.
        reader.watch_rebuilds(rebuilding);
        let image = Arc::new(image);
        let indexer = match writer {
            Some(w) => {
                let threads = chosen_threads(w.records().index_threads()?, self.cfg.threads);
                let text = LazyReader::new(
                    rt.env.clone(),
                    self.cfg.ocr_models.clone(),
                    self.cfg.runtime.clone(),
                    self.cfg.device.clone(),
                );
                Some(Indexer::spawn(
                    w,
                    image.clone(),
                    text,
                    threads,
                    self.sink.clone(),
                ))
            }
            None => None,
        };
        let engine = Engine {
            files,
            text,
            image,
            reader: Mutex::new(reader),
            provider,
            indexer,
            held_by,
            recent: Mutex::default(),
            caption_gap: std::sync::OnceLock::new(),
            watch_stop: Arc::new(AtomicBool::new(false)),
        };
        let engine = Arc::new(engine);
        *slot = Some(engine.clone());
        drop(slot);
        self.rebuild_scope()?;
        let Some(indexer) = &engine.indexer else {
            return Ok(());
        };
        indexer.send(Cmd::Index)?;
        if self.stop.load(Ordering::SeqCst) {
            // The window is closing: nothing more to watch.
            return Ok(());
        }
        let (dir, generation, stop) = (
            self.cfg.library_dir.clone(),
            self.roots_generation.clone(),
            engine.watch_stop.clone(),
        );
        let watching = engine.clone();
        let handle = std::thread::Builder::new()
            .name("glimpse-watch".into())
            .spawn(move || watch_roots(&dir, &watching, &generation, &stop))
            .map_err(SessionError::Watcher)?;
        *lock(&self.watcher) = Some(handle);
        Ok(())
    }

    /// Downloads the model (progress as [`Event::ModelProgress`]) and starts the session.
    pub fn fetch_model(&self) -> Result<ModelState, SessionError> {
        let sink = self.sink.clone();
        let mut last = Instant::now() - Duration::from_secs(1);
        manifest::ensure_model(
            &self.model(),
            &self.cfg.models_dir,
            true,
            self.cfg.model_base_url.as_deref(),
            &mut |file, p| {
                let end = p.total.is_some_and(|t| p.done >= t);
                if end || last.elapsed() >= Duration::from_millis(100) {
                    last = Instant::now();
                    sink(Event::ModelProgress(ModelProgress {
                        file: file.to_string(),
                        done: p.done,
                        total: p.total,
                    }));
                }
            },
        )
        .map_err(|e| SessionError::ModelNotReady(Box::new(e)))?;
        self.start()?;
        Ok(self.model_state())
    }

    /// The models Settings offers: what each is, whether it is on this computer (else what it
    /// downloads), which one is in use and how many photos already have its vectors.
    pub fn models(&self) -> Result<ModelChoices, SessionError> {
        let records = Records::open(&self.cfg.library_dir)?;
        Ok(ModelChoices {
            choices: self.places().choices(&self.model(), &records)?,
            fixed_at_start: self.cfg.model.clone(),
        })
    }

    fn places(&self) -> crate::models::ModelPlaces<'_> {
        crate::models::ModelPlaces {
            models_dir: &self.cfg.models_dir,
            base_url: self.cfg.model_base_url.as_deref(),
        }
    }

    /// Switches the window to another model (a manifest name or a model folder). The running
    /// engine stops first: its job is cancelled after the batch in flight and the indexer
    /// thread ends, closing the writing library and its writer lock, and the watcher ends.
    /// Then the new model starts as the window's first did: when its files are here the
    /// engine opens and an index job reads every photo the library holds no vector of it for
    /// (each model's vectors are kept apart, and the old model's stay, so switching back reads
    /// nothing again); when they must be downloaded, [`Session::model_state`] says not ready
    /// and [`Session::fetch_model`] fetches this model. The library remembers the model once
    /// it has opened it, so the choice outlives the window (unless the window was started
    /// with [`SessionConfig::model`] set, which names the model at every start).
    pub fn set_model(&self, name: &str) -> Result<ModelState, SessionError> {
        let chosen = self.places().resolve(name)?;
        let mut slot = self.engine.write().unwrap_or_else(|p| p.into_inner());
        if let Some(holder) = slot.as_ref().and_then(|e| e.held_by.clone()) {
            return Err(SessionError::Setting(format!(
                "Another Glimpse ({holder}) is indexing this library: change the model there, or \
                 here once it has quit."
            )));
        }
        if crate::models::same_model(&chosen, &self.model()) && slot.is_some() {
            drop(slot);
            return Ok(self.model_state());
        }
        if let Some(old) = slot.take() {
            tracing::info!(from = %self.model(), to = %chosen, "switching the model");
            old.watch_stop.store(true, Ordering::SeqCst);
            if let Some(indexer) = &old.indexer {
                indexer.stop_and_wait();
            }
        }
        if let Some(watcher) = lock(&self.watcher).take() {
            if watcher.join().is_err() {
                tracing::warn!("the folder watcher panicked while stopping");
            }
        }
        *self.model.write().unwrap_or_else(|p| p.into_inner()) = chosen;
        *lock(&self.start_error) = None;
        match self.start_in(slot) {
            // The window's first-run screen downloads it.
            Ok(()) | Err(SessionError::ModelNotReady(_)) => Ok(self.model_state()),
            Err(e) => Err(e),
        }
    }

    /// A window that only reads because another process was indexing its library becomes the
    /// library's writer once that process has quit: asked with every status (the window polls
    /// it), and cheap while the other holds on (one lock attempt).
    fn take_over_when_free(&self) {
        let held = self
            .engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|e| e.held_by.is_some());
        if !held || WriterLock::acquire(&self.cfg.library_dir).is_err() {
            return;
        }
        {
            let mut slot = self.engine.write().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_some_and(|e| e.held_by.is_some()) {
                *slot = None;
            }
        }
        tracing::info!("the other Glimpse let go of the library; opening it for indexing");
        if let Err(e) = self.start() {
            tracing::warn!("cannot open the library for indexing: {e}");
        }
    }

    /// The status bar's figures.
    pub fn status(&self) -> Result<AppStatus, SessionError> {
        self.take_over_when_free();
        let library_problem = match lock(&self.start_error).clone() {
            Some((e, Blame::Library)) => Some(e),
            _ => None,
        };
        let model = self.model_state();
        let mut st = AppStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            model,
            provider: None,
            library: self.cfg.library_dir.display().to_string(),
            library_problem,
            held_by: None,
            photos: 0,
            indexed: 0,
            failed: 0,
            pending: 0,
            indexing: IndexState::default(),
            threads: None,
            read_text: true,
        };
        if let Ok(eng) = self.engine() {
            // The folders' kept counts, summed: the full `stats` reads every failure reason.
            let reader = lock(&eng.reader);
            let mut roots = Vec::new();
            for rc in reader.root_counts()? {
                st.photos += rc.photos;
                st.indexed += rc.indexed;
                st.failed += rc.failed;
                st.pending += rc.pending;
                roots.push(rc.root.path);
            }
            st.read_text = reader.records().read_text()?;
            drop(reader);
            if *lock(&self.scope_roots) != roots {
                // Folders another Glimpse added (or removed) while this window only reads. A
                // failure here must not cost the window its status: the next poll tries again.
                if let Err(e) = self.rebuild_scope() {
                    tracing::warn!("cannot update the folders the window may show: {e}");
                }
            }
            st.provider = Some(eng.provider.clone());
            st.held_by = eng.held_by.clone();
            if let Some(indexer) = &eng.indexer {
                st.indexing = indexer.state();
                st.threads = Some(self.threads_view(&eng, indexer)?);
            }
        }
        Ok(st)
    }

    /// Sets how many cores indexing uses from the next job on (`None`: one per core), for this
    /// library: kept in its catalog, so the choice outlives the window.
    pub fn set_index_threads(&self, threads: Option<usize>) -> Result<IndexThreads, SessionError> {
        let eng = self.engine()?;
        let indexer = eng.indexer()?;
        let cores = cores();
        if let Some(n) = threads.filter(|n| *n == 0 || *n > cores) {
            return Err(SessionError::Setting(format!(
                "Indexing can use 1 to {cores} cores on this computer, not {n}."
            )));
        }
        lock(&eng.reader).records().set_index_threads(threads)?;
        indexer.shared.threads.store(
            chosen_threads(threads, self.cfg.threads),
            std::sync::atomic::Ordering::SeqCst,
        );
        self.threads_view(&eng, indexer)
    }

    /// Turns reading the words in pictures on or off for this library (kept in its catalog, as
    /// the cores are); what was read stays searchable. Answers the setting now.
    pub fn set_read_text(&self, on: bool) -> Result<bool, SessionError> {
        let eng = self.engine()?;
        let indexer = eng.indexer()?;
        let now = {
            let reader = lock(&eng.reader);
            reader.records().set_read_text(on)?;
            reader.records().read_text()?
        };
        // Turned on: the photos not read yet are read now. Turned off: a pass under way stops
        // after the picture in hand (asked for again, it finds reading off).
        if now {
            indexer.send(Cmd::ReadText)?;
        } else {
            indexer.stop_reading_text();
        }
        Ok(now)
    }

    fn threads_view(&self, eng: &Engine, indexer: &Indexer) -> Result<IndexThreads, SessionError> {
        Ok(IndexThreads {
            using: indexer
                .shared
                .threads
                .load(std::sync::atomic::Ordering::SeqCst),
            chosen: lock(&eng.reader).records().index_threads()?,
            cores: cores(),
        })
    }

    /// The photo folders with their counts and failures.
    pub fn roots(&self) -> Result<Vec<RootInfo>, SessionError> {
        let eng = self.engine()?;
        let reader = lock(&eng.reader);
        let mut out = Vec::new();
        let mut rules = reader.records().tag_rules()?;
        rules.sort_by(|a, b| a.folder.cmp(&b.folder));
        for rc in reader.root_counts()? {
            let failures = reader
                .records()
                .root_failures(rc.root.id, FAILURES_SHOWN)?
                .into_iter()
                .map(|(p, reason)| Failure {
                    path: p.display().to_string(),
                    reason,
                })
                .collect();
            out.push(RootInfo {
                path: rc.root.path.display().to_string(),
                online: rc.root.online,
                photos: rc.photos,
                indexed: rc.indexed,
                pending: rc.pending,
                failed: rc.failed,
                failures,
                auto_tags: rules
                    .iter()
                    .filter(|r| r.folder.starts_with(&rc.root.path))
                    .map(|r| AutoTagInfo {
                        folder: r.folder.display().to_string(),
                        labels: r.labels.clone(),
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    /// The folders below the root `root` that hold searchable photos, with their counts, by
    /// path (the folder tree); empty for a folder that is not a root.
    pub fn folders(&self, root: &Path) -> Result<Vec<FolderCount>, SessionError> {
        let eng = self.engine()?;
        let reader = lock(&eng.reader);
        let Some(r) = reader
            .records()
            .roots()?
            .into_iter()
            .find(|r| r.path == root)
        else {
            return Ok(Vec::new());
        };
        Ok(reader
            .records()
            .folder_counts(r.id)?
            .into_iter()
            .map(|(p, photos)| FolderCount {
                path: p.display().to_string(),
                photos,
            })
            .collect())
    }

    /// The folder `path` names, resolved, when it can be added (else why not), without adding
    /// it: the shell asks the user to confirm a typed path with the folder it really is.
    pub fn folder_to_add(&self, path: &Path) -> Result<PathBuf, SessionError> {
        let eng = self.engine()?;
        eng.indexer()?;
        self.checked_folder(path)
    }

    fn checked_folder(&self, path: &Path) -> Result<PathBuf, SessionError> {
        let bad = |reason: &str| SessionError::Folder {
            path: path.display().to_string(),
            reason: reason.to_string(),
        };
        let real = path.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => bad("there is no such folder"),
            std::io::ErrorKind::PermissionDenied => {
                bad("Glimpse is not allowed to open it (permission denied)")
            }
            _ => bad(&format!("cannot open it ({e})")),
        })?;
        if !real.is_dir() {
            return Err(bad("it is a file, not a folder"));
        }
        let library = self
            .cfg
            .library_dir
            .canonicalize()
            .unwrap_or_else(|_| self.cfg.library_dir.clone());
        // A folder holding the library (a home folder) is fine: the scan and the watcher
        // never enter the library folder. One inside it holds only Glimpse's own files.
        if real.starts_with(&library) {
            return Err(bad("it is inside Glimpse's own library folder"));
        }
        Ok(real)
    }

    /// The library's folder that already holds `path` (itself or one above it), if any: the
    /// shell then says so instead of asking the user to confirm adding it.
    pub fn holder_of(&self, path: &Path) -> Result<Option<PathBuf>, SessionError> {
        let eng = self.engine()?;
        let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let reader = lock(&eng.reader);
        Ok(reader.records().root_holding(&real)?.map(|r| r.path))
    }

    /// Adds a photo folder and indexes it in the background.
    pub fn add_root(&self, path: &Path) -> Result<Vec<RootInfo>, SessionError> {
        Ok(self.add_folder(path)?.roots)
    }

    /// Adds a photo folder and indexes it in the background, or says which of the library's
    /// folders already holds it (then nothing changes: its photos are searchable already).
    pub fn add_folder(&self, path: &Path) -> Result<FolderAdded, SessionError> {
        let eng = self.engine()?;
        let indexer = eng.indexer()?;
        let real = self.checked_folder(path)?;
        let holder = lock(&eng.reader).records().root_holding(&real)?;
        if let Some(holder) = holder {
            return Ok(FolderAdded {
                roots: self.roots()?,
                folder: real.display().to_string(),
                already_in: Some(holder.path.display().to_string()),
            });
        }
        let takes_in = {
            let reader = lock(&eng.reader);
            let roots = reader.records().roots()?;
            if !roots.iter().any(|r| r.path.starts_with(&real)) {
                reader.records().add_root(&real)?;
            }
            roots
                .iter()
                .any(|r| r.path.starts_with(&real) && r.path != real)
        };
        if takes_in {
            // The folder holds folders already added: their photos (indexed, tagged) become
            // its own. A job scanning one of them must not write under a root that is going,
            // so it stops first and the move runs on the indexer's thread, between jobs.
            let (tx, rx) = mpsc::channel();
            indexer.cancel_job();
            indexer.send(Cmd::Add(real.clone(), tx))?;
            rx.recv()
                .map_err(|_| SessionError::Indexer("no answer"))?
                .map_err(SessionError::IndexerFailed)?;
        }
        self.rebuild_scope()?;
        indexer.send(Cmd::Index)?;
        Ok(FolderAdded {
            roots: self.roots()?,
            folder: real.display().to_string(),
            already_in: None,
        })
    }

    /// Removes a folder's photos from the library (never from the disk).
    pub fn remove_root(&self, path: &Path) -> Result<Vec<RootInfo>, SessionError> {
        let eng = self.engine()?;
        let indexer = eng.indexer()?;
        let (tx, rx) = mpsc::channel();
        indexer.cancel_job();
        indexer.send(Cmd::Remove(path.to_path_buf(), tx))?;
        rx.recv()
            .map_err(|_| SessionError::Indexer("no answer"))?
            .map_err(SessionError::IndexerFailed)?;
        self.rebuild_scope()?;
        // Whatever the cancelled job had left to do for the other folders.
        indexer.send(Cmd::Index)?;
        self.roots()
    }

    /// Re-scans every folder (the shell calls it on start and on request).
    pub fn reindex(&self) -> Result<(), SessionError> {
        self.engine()?.indexer()?.send(Cmd::Index)
    }

    /// Holds indexing between files (also jobs started later).
    pub fn pause(&self) -> Result<IndexState, SessionError> {
        let eng = self.engine()?;
        let indexer = eng.indexer()?;
        indexer.set_paused(true);
        Ok(indexer.state())
    }

    /// Continues indexing.
    pub fn resume(&self) -> Result<IndexState, SessionError> {
        let eng = self.engine()?;
        let indexer = eng.indexer()?;
        indexer.set_paused(false);
        Ok(indexer.state())
    }

    /// Blocks until the indexer has nothing queued or running, or `timeout` passes; returns
    /// whether it is idle (tests and the CLI-like callers wait on it).
    pub fn wait_idle(&self, timeout: Duration) -> Result<bool, SessionError> {
        let eng = self.engine()?;
        let Some(indexer) = &eng.indexer else {
            // Nothing of this window's runs: another process does the indexing.
            return Ok(true);
        };
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if indexer.idle() {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(indexer.idle())
    }

    /// Remembers files dropped onto the window (the shell hears of a drop from the OS) and
    /// gives each the token the page searches by: the page never names a file itself.
    pub fn remember_drop(&self, paths: &[PathBuf]) -> Vec<DroppedFile> {
        let mut drops = lock(&self.drops);
        let out = paths
            .iter()
            .map(|p| {
                let token = self.last_drop.fetch_add(1, Ordering::SeqCst) + 1;
                drops.push_front((token, p.clone()));
                DroppedFile {
                    token,
                    path: p.display().to_string(),
                }
            })
            .collect();
        drops.truncate(DROPS_KEPT);
        out
    }

    fn dropped(&self, token: u64) -> Result<PathBuf, SessionError> {
        lock(&self.drops)
            .iter()
            .find(|(t, _)| *t == token)
            .map(|(_, p)| p.clone())
            .ok_or(SessionError::UnknownDrop(token))
    }

    /// One page of results for `q`.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchPage, SessionError> {
        let eng = self.engine()?;
        let example = match q.example_drop {
            Some(token) => Some(self.dropped(token)?),
            None => q
                .example_path
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        };
        let mut reader = lock(&eng.reader);
        reader.refresh()?;
        let mut req = Request::new(q.limit.clamp(1, MAX_PAGE));
        req.offset = q.offset;
        req.filter = self.filter(&q.filter)?;
        req.sort = match q.sort.as_str() {
            "newest" => Sort::Newest,
            "oldest" => Sort::Oldest,
            _ => Sort::Score,
        };
        req.include_weak = q.include_weak;
        let mut preview = None;
        let mut query_cut = false;
        let vector = if let Some(id) = q.example_photo_id {
            let v = reader.stored_vector(id)?.ok_or(SessionError::NoPhoto(id))?;
            req.exclude.push(id);
            req.floor = eng.files.calibration.similar_floor;
            glimpse_clip::embedding::unit(v)
        } else if let Some(p) = example.as_deref() {
            let key = search::PictureKey::of(p, &reader);
            let recent = key.as_ref().and_then(|k| lock(&eng.recent).picture(k));
            let (ex, shown) = match recent {
                Some(hit) => hit,
                None => {
                    // Stored vectors (the photo itself, or one with the same bytes) are looked
                    // up with the reader. Reading and hashing the file, opening the encoder,
                    // decoding and encoding the picture and its preview take from milliseconds
                    // to seconds (a large PNG): every other search uses the reader meanwhile.
                    let at = search::example_at(&reader, p)?;
                    drop(reader);
                    let ex = match at {
                        Some(ex) => ex,
                        None => {
                            let file = search::ExampleFile::read(p)?;
                            let like = search::example_like(&lock(&eng.reader), &file)?;
                            match like {
                                Some(ex) => ex,
                                // The encoder opens only for a picture with no stored vector.
                                None => file.encode(&*eng.image.get()?)?,
                            }
                        }
                    };
                    let shown = query_preview(p);
                    reader = lock(&eng.reader);
                    reader.refresh()?;
                    if let Some(k) = key {
                        lock(&eng.recent).keep_picture(k, ex.clone(), shown.clone());
                    }
                    (ex, shown)
                }
            };
            req.exclude.extend(ex.photo_id);
            req.floor = eng.files.calibration.similar_floor;
            preview = shown;
            glimpse_clip::embedding::unit(ex.vector)
        } else {
            let text = q.text.as_deref().unwrap_or("").trim();
            let parsed = search::parse(text);
            if parsed.text.is_empty() && parsed.minus.is_empty() {
                // Nothing to look for: the photos the filters pass (all of them with none),
                // listed by date: the window's "All photos".
                let page = search::browse(&reader, &req)?;
                return Ok(SearchPage {
                    hits: page.hits.into_iter().map(hit_view).collect(),
                    has_more: page.has_more,
                    ..SearchPage::default()
                });
            }
            req.floor = Some(eng.files.calibration.relevance_floor);
            req.words = parsed.words();
            search::for_caption(&mut reader, &mut req, || eng.caption_direction())?;
            let vector = {
                let mut recent = lock(&eng.recent);
                let mut tower = |t: &[&str]| eng.text.embed(t).map_err(search::TowerError::from);
                search::query_vector(
                    &mut |t: &[&str]| recent.captions(t, &mut tower),
                    &parsed,
                    &[],
                )?
            };
            query_cut = [&parsed.text]
                .into_iter()
                .chain(&parsed.minus)
                .any(|t| eng.text.tokenizer().encode(t).is_ok_and(|t| t.cut));
            vector
        };
        let page = search::nearest(&reader, &vector, &req)?;
        Ok(SearchPage {
            hits: page.hits.into_iter().map(hit_view).collect(),
            has_more: page.has_more,
            weaker_hidden: page.weaker_hidden,
            query_preview: preview,
            query_cut,
        })
    }

    fn filter(&self, f: &FilterSpec) -> Result<PhotoFilter, SessionError> {
        let day = |d: &Option<String>| -> Result<Option<i64>, SessionError> {
            match d.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                None => Ok(None),
                Some(d) => glimpse_clip::calendar::parse_day(d)
                    .map(Some)
                    .ok_or_else(|| SessionError::BadDate(d.to_string())),
            }
        };
        Ok(PhotoFilter {
            folder: f.folder.as_deref().filter(|s| !s.is_empty()).map(|s| {
                Path::new(s)
                    .canonicalize()
                    .unwrap_or_else(|_| PathBuf::from(s))
            }),
            after: day(&f.after)?,
            before: day(&f.before)?,
            formats: PhotoFilter::formats_named(&f.types),
            tag: f.tag.clone().filter(|t| !t.is_empty()),
            has_location: f.has_location,
            has_text: f.has_text,
            words: Vec::new(),
            without_words: Vec::new(),
        })
    }

    /// What the lightbox shows about one photo.
    pub fn photo(&self, id: i64) -> Result<PhotoDetail, SessionError> {
        let eng = self.engine()?;
        let reader = lock(&eng.reader);
        let info = reader
            .records()
            .photo_infos(&[id])?
            .remove(&id)
            .ok_or(SessionError::NoPhoto(id))?;
        let tags = reader
            .records()
            .tags_of(&[id])?
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.0)
            .collect();
        let thumbnail = thumbnail_of(&reader, &info);
        Ok(PhotoDetail::new(info, thumbnail, tags))
    }

    /// The file of a library photo (for "open" and "reveal"; nothing else is ever opened).
    pub fn photo_path(&self, id: i64) -> Result<PathBuf, SessionError> {
        let eng = self.engine()?;
        let reader = lock(&eng.reader);
        let info = reader
            .records()
            .photo_infos(&[id])?
            .remove(&id)
            .ok_or(SessionError::NoPhoto(id))?;
        Ok(info.path)
    }

    /// The pixels of a library photo, upright, its longest side at most `max_side` ("Copy
    /// image": the shell puts them on the clipboard).
    pub fn photo_rgba(&self, id: i64, max_side: u32) -> Result<Rgba, SessionError> {
        let path = self.photo_path(id)?;
        picture::rgba_of(&path, max_side).map_err(|e| {
            tracing::warn!(path = %path.display(), "cannot copy the picture: {e}");
            SessionError::Picture(e)
        })
    }

    /// What "Reveal in file manager" shows for these photos (photos no longer in the library
    /// are left out; none left is [`SessionError::NoPhoto`]).
    pub fn reveal_plan(&self, ids: &[i64]) -> Result<RevealPlan, SessionError> {
        let mut paths = Vec::with_capacity(ids.len());
        for &id in ids {
            match self.photo_path(id) {
                Ok(p) => paths.push(p),
                Err(SessionError::NoPhoto(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if paths.is_empty() {
            return Err(SessionError::NoPhoto(ids.first().copied().unwrap_or(0)));
        }
        Ok(RevealPlan::new(&paths))
    }

    /// Copies library photos into `folder` (a folder the user chose): each keeps its file
    /// name, and a name already there gets " (2)", " (3)", ... before its extension, so
    /// nothing is ever overwritten. A photo that cannot be copied is reported, not fatal.
    pub fn export_photos(&self, ids: &[i64], folder: &Path) -> Result<ExportReport, SessionError> {
        if !folder.is_dir() {
            return Err(SessionError::Folder {
                path: folder.display().to_string(),
                reason: "there is no such folder".into(),
            });
        }
        let mut copied = 0;
        let mut failures = Vec::new();
        for &id in ids {
            let fail = |path: String, reason: String| Failure { path, reason };
            let from = match self.photo_path(id) {
                Ok(p) => p,
                Err(e) => {
                    failures.push(fail(format!("photo {id}"), e.to_string()));
                    continue;
                }
            };
            let Some(name) = from.file_name() else {
                failures.push(fail(
                    from.display().to_string(),
                    "it has no file name".into(),
                ));
                continue;
            };
            match copy_new(&from, folder, Path::new(name)) {
                Ok(_) => copied += 1,
                Err(e) => failures.push(fail(from.display().to_string(), e.to_string())),
            }
        }
        Ok(ExportReport {
            folder: folder.display().to_string(),
            copied,
            failures,
        })
    }

    /// Groups of copies among the searchable photos `filter` passes, largest first, each with
    /// its suggested keeper first and why in words. Found on a reading handle of its own (the
    /// pixel check reads previews, seconds on a large library), so searches go on meanwhile.
    pub fn duplicates(&self, filter: &FilterSpec) -> Result<Vec<DupeGroup>, SessionError> {
        let eng = self.engine()?;
        let filter = self.filter(filter)?;
        let dim = lock(&eng.reader).vectors().dim();
        let lib = Library::open_reader(&self.cfg.library_dir, &eng.files.name, dim)?;
        let opts = DupeOptions::with_cosine(eng.files.calibration.duplicate_cosine);
        let groups = glimpse_query::dupes::find(&lib, &filter, &opts)?;
        let (views, found) = crate::dupes::views(&lib, groups);
        *lock(&self.dupes) = found;
        Ok(views)
    }

    /// Moves photos to the system Trash (the only thing Glimpse does to photo files; they can
    /// be restored from there) and takes them out of the library. Only copies from the last
    /// [`Session::duplicates`] answer go, never every copy of a picture, and never a file that
    /// changed since it was indexed: each photo left is reported with why.
    pub fn trash_photos(&self, ids: &[i64]) -> Result<TrashReport, SessionError> {
        let eng = self.engine()?;
        let indexer = eng.indexer()?;
        let infos = lock(&eng.reader).records().photo_infos(ids)?;
        let found = lock(&self.dupes).clone();
        let (moved, failures) = crate::dupes::move_to_trash(&found, &infos, ids);
        if !moved.is_empty() {
            // Like a deleted file, without waiting for the watcher: on the indexer's thread,
            // between jobs (the one running stops and starts again after).
            let (tx, rx) = mpsc::channel();
            indexer.cancel_job();
            indexer.send(Cmd::Forget(moved.clone(), tx))?;
            rx.recv()
                .map_err(|_| SessionError::Indexer("no answer"))?
                .map_err(SessionError::IndexerFailed)?;
            indexer.send(Cmd::Index)?;
            lock(&self.dupes).without(&moved.iter().copied().collect());
        }
        Ok(TrashReport {
            moved: moved.len() as u64,
            failures,
        })
    }

    /// Tags in use with their photo counts, most used first.
    pub fn tags(&self) -> Result<Vec<TagCount>, SessionError> {
        let eng = self.engine()?;
        let reader = lock(&eng.reader);
        Ok(reader
            .records()
            .tag_counts()?
            .into_iter()
            .map(|(name, count)| TagCount { name, count })
            .collect())
    }

    /// Renames a tag (on its photos and in the auto-tags naming it; onto an existing tag, the
    /// two merge); answers the tags in use after it.
    pub fn rename_tag(&self, old: &str, new: &str) -> Result<Vec<TagCount>, SessionError> {
        let new = new.trim();
        if new.is_empty() {
            return Err(SessionError::Tag("a tag needs a name".into()));
        }
        let eng = self.engine()?;
        let renamed = lock(&eng.reader).records().rename_tag(old, new)?;
        if renamed.is_none() {
            return Err(SessionError::Tag(format!("there is no tag “{old}”")));
        }
        self.tags()
    }

    /// Puts the tag `name` on these photos by hand ("Tag…" on a selection); re-running a
    /// folder's auto-tag never takes it off. Answers the tags in use after it.
    pub fn tag_photos(&self, ids: &[i64], name: &str) -> Result<Vec<TagCount>, SessionError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(SessionError::Tag("a tag needs a name".into()));
        }
        let eng = self.engine()?;
        let n = lock(&eng.reader).records().tag_photos(ids, name)?;
        tracing::debug!(tag = name, photos = n, "tagged by hand");
        self.tags()
    }

    /// Takes the tag `name` off these photos by hand; re-running a folder's auto-tag does not
    /// put it back. Answers the tags in use after it.
    pub fn untag_photos(&self, ids: &[i64], name: &str) -> Result<Vec<TagCount>, SessionError> {
        let eng = self.engine()?;
        let n = lock(&eng.reader).records().untag_photos(ids, name)?;
        tracing::debug!(tag = name, photos = n, "tag taken off by hand");
        self.tags()
    }

    /// Takes a tag off every photo and out of the auto-tags; answers the tags in use after it.
    pub fn delete_tag(&self, name: &str) -> Result<Vec<TagCount>, SessionError> {
        let eng = self.engine()?;
        lock(&eng.reader).records().delete_tag(name)?;
        self.tags()
    }

    /// The formats of the searchable photos, most photos first, for the type filter.
    pub fn formats(&self) -> Result<Vec<FormatView>, SessionError> {
        let eng = self.engine()?;
        let reader = lock(&eng.reader);
        let mut out: Vec<FormatView> = reader
            .records()
            .indexed_formats()?
            .into_iter()
            .map(|(format, count)| FormatView { format, count })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.format.cmp(&b.format)));
        Ok(out)
    }

    /// How many captions and dropped pictures the towers encoded for searches; pages, "Show
    /// more" and filter changes of a query seen recently reuse its vector (for tests and
    /// diagnostics).
    pub fn query_encodes(&self) -> usize {
        let loaded = self
            .engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        loaded.map_or(0, |e| lock(&e.recent).encodes())
    }

    /// The file extensions a dropped picture may have: what this build and machine decode.
    pub fn picture_types(&self) -> Vec<String> {
        glimpse_library::scan::decodable_extensions()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// The label list "Auto-tag this folder" starts from: the folder's own labels while it is
    /// auto-tagged (tagging again is then a click), else the built-in vocabulary plus the
    /// user's labels.
    pub fn default_labels(&self, folder: Option<&Path>) -> Result<LabelSuggestion, SessionError> {
        let eng = self.engine()?;
        let reader = lock(&eng.reader);
        if let Some(folder) = folder {
            let folder = folder
                .canonicalize()
                .unwrap_or_else(|_| folder.to_path_buf());
            let rules = reader.records().tag_rules()?;
            if let Some(rule) = rules.into_iter().find(|r| r.folder == folder) {
                return Ok(LabelSuggestion {
                    labels: rule.labels,
                    keeps_tagging: true,
                });
            }
        }
        Ok(LabelSuggestion {
            labels: tags::default_labels(&reader)?,
            keeps_tagging: false,
        })
    }

    /// Stops tagging the photos that arrive in `folder` (and the folders inside it); the tags
    /// given so far stay. False when it was not auto-tagged.
    pub fn stop_auto_tag(&self, folder: &Path) -> Result<bool, SessionError> {
        let eng = self.engine()?;
        let reader = lock(&eng.reader);
        let folder = folder
            .canonicalize()
            .unwrap_or_else(|_| folder.to_path_buf());
        Ok(reader.forget_tag_rules(&folder)? > 0)
    }

    /// Tags every indexed photo under `folder` with the best of `labels` (replacing the
    /// folder's previous tags).
    pub fn tag_folder(
        &self,
        folder: &Path,
        labels: &[String],
    ) -> Result<TagReportView, SessionError> {
        let eng = self.engine()?;
        let mut reader = lock(&eng.reader);
        reader.refresh()?;
        let opts = TagOptions {
            threshold: tags::DEFAULT_THRESHOLD,
            min_cosine: eng.files.calibration.relevance_floor,
        };
        let text = &eng.text;
        let mut embed = |texts: &[String]| -> Result<Vec<Vec<f32>>, search::TowerError> {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            text.embed(&refs).map_err(search::TowerError::from)
        };
        let report = tags::tag_folder(&mut reader, folder, labels, &opts, &mut embed)?;
        Ok(TagReportView {
            folder: folder.display().to_string(),
            photos: report.photos,
            tagged: report.tagged,
            labels: report
                .counts
                .into_iter()
                .map(|(name, n)| TagCount {
                    name,
                    count: n as u64,
                })
                .collect(),
        })
    }

    /// The file the web view may load for `requested` (a `glimpse:` URL's path): a photo the
    /// catalog holds, or a file in the thumbnail cache. Anything else inside a photo folder (a
    /// document, a hidden file, a picture the library skipped) is refused like a file outside.
    pub fn served_file(&self, requested: &Path) -> Result<PathBuf, ServeError> {
        let real = self.scope().resolve(requested)?;
        let thumbs = self.cfg.library_dir.join("thumbs");
        if thumbs.canonicalize().is_ok_and(|t| real.starts_with(t)) {
            return Ok(real);
        }
        let shown = || requested.display().to_string();
        let mut slot = lock(&self.serve_catalog);
        if slot.is_none() {
            let opened = Records::open(&self.cfg.library_dir).map_err(|e| {
                tracing::warn!("cannot look up photos to show: {e}");
                ServeError::Unreadable(shown())
            })?;
            *slot = Some(opened);
        }
        let catalog = slot
            .as_ref()
            .ok_or_else(|| ServeError::Unreadable(shown()))?;
        // The catalog holds the path a photo was found at: the file itself, or (rarely) a
        // path whose folders the OS resolves to it.
        let held = |p: &Path| {
            catalog.photo_by_path(p).map(|f| f.is_some()).map_err(|e| {
                tracing::warn!("cannot look up {}: {e}", p.display());
                ServeError::Unreadable(shown())
            })
        };
        if held(&real)? || held(requested)? {
            return Ok(real);
        }
        Err(ServeError::NotAPhoto(shown()))
    }

    /// The folders the web view may load files from: the photo roots and the thumbnail cache.
    pub fn scope(&self) -> Scope {
        self.scope.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn rebuild_scope(&self) -> Result<(), SessionError> {
        let eng = self.engine()?;
        let roots: Vec<PathBuf> = lock(&eng.reader).records().root_paths()?;
        let mut folders = roots.clone();
        *lock(&self.scope_roots) = roots;
        let thumbs = self.cfg.library_dir.join("thumbs");
        // The cache folder must exist to be resolved; the indexer fills it later.
        if std::fs::create_dir_all(&thumbs).is_ok() {
            folders.push(thumbs);
        }
        *self.scope.write().unwrap_or_else(|p| p.into_inner()) = Scope::new(folders);
        self.roots_generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Stops the indexer after the batch in flight (the app is closing).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Only an engine that is running: closing must not start one.
        let loaded = self
            .engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(eng) = &loaded {
            eng.watch_stop.store(true, Ordering::SeqCst);
        }
        if let Some(indexer) = loaded.as_ref().and_then(|e| e.indexer.as_ref()) {
            indexer.cancel_job();
            let _ = indexer.send(Cmd::Stop);
        }
    }
}

/// How long the watcher waits for quiet before re-indexing (a camera import writes many files).
const WATCH_DEBOUNCE: watch::Debounce = watch::Debounce {
    quiet: Duration::from_millis(750),
    max_wait: Duration::from_secs(5),
};

/// Follows the roots on disk and asks the indexer to catch up after each burst of changes;
/// re-arms whenever roots are added or removed.
fn watch_roots(dir: &Path, engine: &Engine, generation: &AtomicU64, stop: &AtomicBool) {
    let Some(indexer) = &engine.indexer else {
        return;
    };
    let catalog = match Records::open(dir) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("not watching folders: {e}");
            return;
        }
    };
    // A drive plugged in or out, a folder put back: what no watch reports.
    let mut looks = watch::RootLooks::default();
    // What the scan never visits (hidden folders, the library itself) starts no job.
    let unseen = glimpse_library::scan::ScanOptions::skipping(dir);
    while !stop.load(Ordering::SeqCst) {
        let seen = generation.load(Ordering::SeqCst);
        let roots: Vec<PathBuf> = match catalog.roots() {
            Ok(r) => r.into_iter().map(|r| r.path).collect(),
            Err(e) => {
                tracing::warn!("not watching folders: {e}");
                return;
            }
        };
        let watcher = match watch::Watcher::new(&roots) {
            Ok((w, _offline)) => w,
            Err(e) => {
                tracing::warn!("not watching folders: {e}");
                std::thread::sleep(Duration::from_secs(5));
                continue;
            }
        };
        let mut last_look: Option<Instant> = None;
        while !stop.load(Ordering::SeqCst) && generation.load(Ordering::SeqCst) == seen {
            if last_look.is_none_or(|t| t.elapsed() >= watch::LOOK_EVERY) {
                last_look = Some(Instant::now());
                match catalog.roots().map(|r| looks.changed(&r)) {
                    Ok(false) => {}
                    Ok(true) => {
                        tracing::info!("a folder came back or went away; indexing");
                        if indexer.send(Cmd::Index).is_err() {
                            return;
                        }
                        // Watch what is there now (a folder that came back had no watch).
                        break;
                    }
                    Err(e) => tracing::warn!("cannot look at the folders: {e}"),
                }
            }
            let Some(batch) =
                watcher.next_batch_within(WATCH_DEBOUNCE, stop, Some(Duration::from_secs(1)))
            else {
                continue;
            };
            if !watch::roots_touched(&batch, watcher.roots(), &unseen).is_empty() {
                tracing::info!(events = batch.events, "folders changed; indexing");
                if indexer.send(Cmd::Index).is_err() {
                    return;
                }
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Copies `from` into `folder` as `name`, or as "stem (2).ext", "stem (3).ext", ... when
/// taken: created with `create_new`, so a file that appears meanwhile is not overwritten
/// either. Returns where it went.
fn copy_new(from: &Path, folder: &Path, name: &Path) -> std::io::Result<PathBuf> {
    let stem = name
        .file_stem()
        .unwrap_or(name.as_os_str())
        .to_string_lossy()
        .into_owned();
    let ext = name.extension().map(|e| e.to_string_lossy().into_owned());
    let mut source = std::fs::File::open(from)?;
    for n in 1..10_000 {
        let candidate = match (n, &ext) {
            (1, _) => folder.join(name),
            (_, Some(e)) => folder.join(format!("{stem} ({n}).{e}")),
            (_, None) => folder.join(format!("{stem} ({n})")),
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut to) => {
                let copied = std::io::copy(&mut source, &mut to).and_then(|_| to.sync_all());
                if let Err(e) = copied {
                    // A half-written copy is not left behind.
                    let _ = std::fs::remove_file(&candidate);
                    return Err(e);
                }
                if let Ok(meta) = std::fs::metadata(from) {
                    if let Ok(modified) = meta.modified() {
                        let _ = to.set_modified(modified);
                    }
                }
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many files of that name there"))
}

fn hit_view(h: search::Hit) -> HitView {
    let thumbnail = h.thumbnail.map(|t| t.display().to_string());
    HitView {
        photo: PhotoDetail::new(h.photo, thumbnail, h.tags),
        score: h.score,
        words: h.words.into_iter().map(LineMatchView::from).collect(),
    }
}

fn thumbnail_of(lib: &Library, info: &PhotoInfo) -> Option<String> {
    let hash = info.content_hash.as_deref()?;
    lib.thumbs()
        .exists(hash)
        .then(|| lib.thumbs().path_for(hash).display().to_string())
}

/// Longest side of the dropped-picture preview.
const PREVIEW_SIZE: u32 = 256;

/// A small JPEG data URL of any picture (a dropped file is outside the served folders).
fn query_preview(path: &Path) -> Option<String> {
    let d = decode::decode_file(path, DecodeOptions::for_model(PREVIEW_SIZE)).ok()?;
    let (w, h) = d.image.dimensions();
    let scale = PREVIEW_SIZE as f64 / w.max(h).max(1) as f64;
    let small = if scale < 1.0 {
        let tw = ((w as f64 * scale).round() as u32).max(1);
        let th = ((h as f64 * scale).round() as u32).max(1);
        image::imageops::thumbnail(&d.image, tw, th)
    } else {
        d.image
    };
    let jpeg = turbojpeg::compress_image(&small, 85, turbojpeg::Subsamp::Sub2x2).ok()?;
    Some(format!("data:image/jpeg;base64,{}", base64(&jpeg)))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// What the indexer thread is asked to do.
enum Cmd {
    /// Bring every root up to date.
    Index,
    /// Add a root that takes in roots inside it, answering when done.
    Add(PathBuf, Sender<Result<(), LibraryError>>),
    /// Remove a root, answering when done.
    Remove(PathBuf, Sender<Result<usize, LibraryError>>),
    /// Take photos moved to the Trash out of the library, answering when done.
    Forget(Vec<i64>, Sender<Result<usize, LibraryError>>),
    /// Read the words in the photos not read yet (after each job; it gives way to any other
    /// command and is asked for again after it).
    ReadText,
    /// End the thread.
    Stop,
}

/// What the indexer shares with the session.
struct Shared {
    state: Mutex<IndexState>,
    control: Mutex<Option<Arc<Control>>>,
    paused: std::sync::atomic::AtomicBool,
    /// Decoder threads each new job runs (the settings page changes it).
    threads: std::sync::atomic::AtomicUsize,
    /// Commands sent and not yet finished.
    busy: std::sync::atomic::AtomicUsize,
    /// The engine is being swapped: run no further job, end the thread.
    stopping: AtomicBool,
    /// A text pass is running: the next command sent stops it (it is asked for again after).
    reading_text: AtomicBool,
    /// A text pass is to run once no command waits (after a job, or asked for).
    text_wanted: AtomicBool,
}

/// The background worker that owns the writing library handle.
struct Indexer {
    tx: Mutex<Sender<Cmd>>,
    shared: Arc<Shared>,
    /// The thread, joined when the engine is swapped: it owns the writing library, so its end
    /// is when the library's writer lock is free for the next engine.
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Indexer {
    fn spawn(
        lib: Library,
        image: Arc<LazyImageEncoder>,
        text: LazyReader,
        threads: usize,
        sink: Sink,
    ) -> Indexer {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            state: Mutex::new(IndexState::default()),
            control: Mutex::new(None),
            paused: std::sync::atomic::AtomicBool::new(false),
            threads: std::sync::atomic::AtomicUsize::new(threads.max(1)),
            busy: std::sync::atomic::AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            reading_text: AtomicBool::new(false),
            text_wanted: AtomicBool::new(false),
        });
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("glimpse-indexer".into())
            .spawn(move || indexer_loop(lib, &image, text, &rx, &sh, &sink))
            .map_err(|e| tracing::error!("cannot start the indexer thread: {e}"))
            .ok();
        Indexer {
            tx: Mutex::new(tx),
            shared,
            thread: Mutex::new(thread),
        }
    }

    /// Cancels the job in flight, ends the thread after it and waits for it: the writing
    /// library it owns is closed (its writer lock released) when this returns.
    fn stop_and_wait(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.cancel_job();
        let _ = self.send(Cmd::Stop);
        if let Some(t) = lock(&self.thread).take() {
            if t.join().is_err() {
                tracing::warn!("the indexer thread panicked while stopping");
            }
        }
    }

    fn send(&self, cmd: Cmd) -> Result<(), SessionError> {
        use std::sync::atomic::Ordering;
        self.shared.busy.fetch_add(1, Ordering::SeqCst);
        lock(&self.tx).send(cmd).map_err(|_| {
            self.shared.busy.fetch_sub(1, Ordering::SeqCst);
            SessionError::Indexer("the indexer thread is gone")
        })?;
        // A text pass gives way to anything asked of the indexer, paused or not.
        self.stop_reading_text();
        Ok(())
    }

    /// Nothing queued, running, or waiting to be read.
    fn idle(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.shared.busy.load(Ordering::SeqCst) == 0
            && !self.shared.text_wanted.load(Ordering::SeqCst)
            && !self.shared.reading_text.load(Ordering::SeqCst)
    }

    fn state(&self) -> IndexState {
        let mut s = lock(&self.shared.state).clone();
        s.paused = self.shared.paused.load(std::sync::atomic::Ordering::SeqCst);
        s
    }

    fn set_paused(&self, paused: bool) {
        self.shared
            .paused
            .store(paused, std::sync::atomic::Ordering::SeqCst);
        if let Some(c) = lock(&self.shared.control).as_ref() {
            if paused {
                c.pause();
            } else {
                c.resume();
            }
        }
    }

    /// Stops a text pass under way (nothing else).
    fn stop_reading_text(&self) {
        if self
            .shared
            .reading_text
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            self.cancel_job();
        }
    }

    fn cancel_job(&self) {
        if let Some(c) = lock(&self.shared.control).as_ref() {
            c.cancel();
        }
    }
}

/// The machine's cores: more decoder threads than this only contend.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The decoder threads a job runs: the library's choice, within the machine's cores, else the
/// session's default (one per core, or what the embedding program asked for).
fn chosen_threads(chosen: Option<usize>, default: usize) -> usize {
    chosen.map_or(default, |n| n.clamp(1, cores())).max(1)
}

/// How often progress reaches the window.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

fn indexer_loop(
    mut lib: Library,
    image: &LazyImageEncoder,
    mut text: LazyReader,
    rx: &Receiver<Cmd>,
    shared: &Shared,
    sink: &Sink,
) {
    use std::sync::atomic::Ordering;
    let done = |n: usize| {
        shared.busy.fetch_sub(n, Ordering::SeqCst);
    };
    let publish = |running: bool, progress: Option<ProgressView>, error: Option<String>| {
        let st = IndexState {
            running,
            paused: shared.paused.load(Ordering::SeqCst),
            progress,
            error,
        };
        *lock(&shared.state) = st.clone();
        sink(Event::IndexState(st));
    };
    // Whether the words in pictures are to be read once nothing else waits: a text pass runs
    // only when the queue is empty and gives way to the next command.
    let want_text = |wanted: bool| shared.text_wanted.store(wanted, Ordering::SeqCst);
    loop {
        let cmd = if shared.text_wanted.load(Ordering::SeqCst) {
            match rx.try_recv() {
                Ok(cmd) => cmd,
                Err(mpsc::TryRecvError::Empty) => {
                    let gave_way = read_text(&mut lib, &mut text, shared, sink, &publish);
                    want_text(gave_way);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(cmd) => cmd,
                Err(_) => return,
            }
        };
        if shared.stopping.load(Ordering::SeqCst) {
            // Commands still queued answer "no answer" when their channels drop.
            return;
        }
        match cmd {
            Cmd::Stop => {
                done(1);
                break;
            }
            c @ (Cmd::Add(..) | Cmd::Remove(..) | Cmd::Forget(..)) => {
                change_roots(&mut lib, c);
                done(1);
            }
            Cmd::ReadText => {
                want_text(!text.is_off());
                done(1);
            }
            Cmd::Index => {
                // Requests that piled up while a job ran are one job.
                let mut merged = 1;
                let mut later = Vec::new();
                while let Ok(c) = rx.try_recv() {
                    match c {
                        // A text pass follows this job anyway.
                        Cmd::Index | Cmd::ReadText => merged += 1,
                        other => later.push(other),
                    }
                }
                let roots: Vec<PathBuf> = match lib.records().root_paths() {
                    Ok(r) => r,
                    Err(e) => {
                        publish(false, None, Some(e.to_string()));
                        done(merged);
                        continue;
                    }
                };
                let threads = shared.threads.load(Ordering::SeqCst);
                let control = Arc::new(Control::default());
                if shared.paused.load(Ordering::SeqCst) {
                    control.pause();
                }
                *lock(&shared.control) = Some(control.clone());
                if shared.stopping.load(Ordering::SeqCst) {
                    control.cancel();
                }
                publish(true, None, None);
                let mut last = Instant::now() - PROGRESS_EVERY;
                let result = index_job(&mut lib, image, &roots, threads, &control, &mut |p| {
                    // The state always holds the latest count (what `pause` and `status`
                    // answer); events are spaced out, except the last of a job and those of
                    // a batch landing after a pause, which no later event would correct.
                    let view = ProgressView::from(p);
                    lock(&shared.state).progress = Some(view.clone());
                    let end = p.done == p.total;
                    if end || control.is_paused() || last.elapsed() >= PROGRESS_EVERY {
                        last = Instant::now();
                        sink(Event::IndexProgress(view));
                    }
                });
                *lock(&shared.control) = None;
                let finished = finished_event(&result);
                publish(false, None, finished.error.clone());
                sink(Event::IndexFinished(finished));
                done(merged);
                // The words in what was indexed are read next, after what else is waiting.
                if !text.is_off() && !shared.stopping.load(Ordering::SeqCst) {
                    want_text(true);
                }
                // Anything else that arrived meanwhile runs next, in order; the thread's own
                // channel keeps them (resent to the back of the queue would reorder them).
                for c in later {
                    match c {
                        c @ (Cmd::Add(..) | Cmd::Remove(..) | Cmd::Forget(..)) => {
                            change_roots(&mut lib, c);
                            done(1);
                        }
                        Cmd::Stop => {
                            done(1);
                            return;
                        }
                        Cmd::Index | Cmd::ReadText => {}
                    }
                }
            }
        }
    }
}

/// Adds or removes a root, or forgets photos moved to the Trash, on the indexer's thread
/// (between jobs) and answers the session.
fn change_roots(lib: &mut Library, cmd: Cmd) {
    match cmd {
        Cmd::Add(path, reply) => {
            let r = lib.records().add_root(&path).map(|_| ());
            let _ = reply.send(r);
        }
        Cmd::Remove(path, reply) => {
            let real = path.canonicalize().unwrap_or(path);
            let _ = reply.send(lib.remove_root(&real));
        }
        Cmd::Forget(ids, reply) => {
            let _ = reply.send(lib.forget_gone(&ids));
        }
        Cmd::Index | Cmd::ReadText | Cmd::Stop => {}
    }
}

/// One text pass on the indexer's thread, shown as the job's text phase and steered by the
/// same pause and cancel. It gives way as soon as another command waits (a folder added, a
/// new job): returns true then, so that it is asked for again after them.
fn read_text(
    lib: &mut Library,
    text: &mut LazyReader,
    shared: &Shared,
    sink: &Sink,
    publish: &dyn Fn(bool, Option<ProgressView>, Option<String>),
) -> bool {
    use std::sync::atomic::Ordering;
    if text.is_off() {
        return false;
    }
    match lib.text_to_read() {
        Ok(true) => {}
        Ok(false) => return false,
        Err(e) => {
            publish(false, None, Some(e.to_string()));
            return false;
        }
    }
    // The first pass may fetch the models first (~15 MB): the card says so meanwhile.
    let mut reports = text::FetchReports::new(PROGRESS_EVERY);
    let mut fetching = |p: glimpse_clip::DownloadProgress| {
        let Some((first, view)) = reports.report(&p) else {
            return;
        };
        lock(&shared.state).progress = Some(view.clone());
        if first {
            publish(true, Some(view), None);
        } else {
            sink(Event::IndexProgress(view));
        }
    };
    let reader = match text.get(&mut fetching) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("{e}");
            publish(false, None, Some(e));
            return false;
        }
    };
    let control = Arc::new(Control::default());
    if shared.paused.load(Ordering::SeqCst) {
        control.pause();
    }
    *lock(&shared.control) = Some(control.clone());
    shared.reading_text.store(true, Ordering::SeqCst);
    // A command sent before the flag was up is waiting already.
    if shared.stopping.load(Ordering::SeqCst) || shared.busy.load(Ordering::SeqCst) > 0 {
        control.cancel();
    }
    let mut last = Instant::now() - PROGRESS_EVERY;
    let result = lib.read_text(reader, &control, &mut |p| {
        let view = text::progress_view(p);
        let first = p.done == 0;
        lock(&shared.state).progress = Some(view.clone());
        if first {
            publish(true, Some(view), None);
        } else if p.done == p.total || control.is_paused() || last.elapsed() >= PROGRESS_EVERY {
            last = Instant::now();
            sink(Event::IndexProgress(view));
        }
    });
    shared.reading_text.store(false, Ordering::SeqCst);
    *lock(&shared.control) = None;
    match result {
        Ok(summary) => {
            tracing::info!(
                read = summary.progress.done,
                with_text = summary.progress.with_text,
                failed = summary.progress.failed,
                "text pass ended"
            );
            publish(false, None, None);
        }
        Err(e) => publish(
            false,
            None,
            Some(format!("reading the words in photos failed: {e}")),
        ),
    }
    // Cancelled only to let another command go first, or to stop.
    control.is_cancelled() && !shared.stopping.load(Ordering::SeqCst)
}

/// One index job: the scan, then the image encoder (opened now if photos need it), then the
/// pipeline. A model that cannot open fails the job and leaves the photos pending.
fn index_job(
    lib: &mut Library,
    image: &LazyImageEncoder,
    roots: &[PathBuf],
    threads: usize,
    control: &Control,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Summary, SessionError> {
    let plan = lib.plan(roots, control)?;
    let encoder = if plan.to_encode() > 0 {
        Some(image.get()?)
    } else {
        None
    };
    Ok(lib.index_planned(plan, encoder.as_deref(), threads, control, progress)?)
}

fn finished_event(result: &Result<Summary, SessionError>) -> IndexFinished {
    match result {
        Ok(s) => IndexFinished {
            error: None,
            encoded: s.progress.encoded,
            failed: s.progress.failed,
            removed: s.removed,
        },
        Err(e) => IndexFinished {
            error: Some(e.to_string()),
            ..IndexFinished::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
    }
}
