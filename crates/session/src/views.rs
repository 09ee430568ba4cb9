//! The app layer's wire format: every value the page (`ui/src/lib/api.ts`) reads or sends, and
//! the names of the events it listens to. The session builds these from the engine's own types,
//! so the JSON the window sees is decided here and nowhere below; `tests` (in `views/tests.rs`)
//! pins each shape against the TypeScript interfaces of the same meaning.

use glimpse_library::catalog::PhotoInfo;
use glimpse_library::pipeline::Progress;
use glimpse_query::search::LineMatch;
use serde::{Deserialize, Serialize};

/// The names the page listens to (`events` in `api.ts`), so the shell and the session emit the
/// same strings the page subscribes to.
pub mod events {
    /// Indexing progress; payload [`ProgressView`](super::ProgressView).
    pub const INDEX_PROGRESS: &str = "index-progress";
    /// The indexer started, paused, resumed or stopped; payload
    /// [`IndexState`](super::IndexState).
    pub const INDEX_STATE: &str = "index-state";
    /// A job ended; payload [`IndexFinished`](super::IndexFinished).
    pub const INDEX_FINISHED: &str = "index-finished";
    /// The model download advanced; payload [`ModelProgress`](super::ModelProgress).
    pub const MODEL_PROGRESS: &str = "model-progress";
    /// The library is rebuilding its search index while it opens; payload
    /// [`IndexRebuild`](super::IndexRebuild).
    pub const INDEX_REBUILD: &str = "index-rebuild";
    /// Files dropped onto the window, emitted by the shell; payload a list of
    /// [`DroppedFile`](super::DroppedFile).
    pub const PICTURE_DROPPED: &str = "picture-dropped";
}

/// Which pass of a job the progress counts: a job reads its photos for the model first, then
/// the words in them (the slower pass, so the window says which one it is waiting for).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProgressPhase {
    /// Photos read for the model: `done` and `total` count files.
    #[default]
    Photos,
    /// The words in pictures read: `done` and `total` count pictures whose text was read.
    Text,
    /// The models that read the words in pictures fetched, once, before the first text pass
    /// (about 15 MB): `done` and `total` count bytes (`total` 0 while unknown), `rate` bytes a
    /// second.
    TextModels,
}

/// Files done, rate and ETA of the job in flight.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressView {
    /// The pass these figures count.
    pub phase: ProgressPhase,
    /// Files finished (in the text pass: pictures whose text was read).
    pub done: usize,
    /// Files in the job (in the text pass: pictures to read the text of).
    pub total: usize,
    /// Files that failed.
    pub failed: usize,
    /// Files encoded.
    pub encoded: usize,
    /// Files per second.
    pub rate: f64,
    /// Seconds left.
    pub eta_secs: Option<f64>,
    /// The file most recently finished.
    pub current: Option<String>,
    /// Pictures found to show text so far (the text pass only).
    pub with_text: usize,
}

impl From<&Progress> for ProgressView {
    fn from(p: &Progress) -> Self {
        ProgressView {
            done: p.done,
            total: p.total,
            failed: p.failed,
            encoded: p.encoded,
            rate: p.rate,
            eta_secs: p.eta_secs,
            current: p.current.as_ref().map(|c| c.display().to_string()),
            ..ProgressView::default()
        }
    }
}

/// What the background indexer is doing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexState {
    /// A job is running (possibly paused).
    pub running: bool,
    /// Jobs are held between files.
    pub paused: bool,
    /// The running job's progress.
    pub progress: Option<ProgressView>,
    /// The last job's error.
    pub error: Option<String>,
}

/// How many cores indexing uses, for the settings page: someone who works while a large
/// folder indexes may give it fewer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexThreads {
    /// Decoder threads the next job runs.
    pub using: usize,
    /// What the user chose (`None`: one per core, the default).
    pub chosen: Option<usize>,
    /// The machine's cores: the most that helps.
    pub cores: usize,
}

/// The end of a job.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexFinished {
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Photos encoded.
    pub encoded: usize,
    /// Photos that failed.
    pub failed: usize,
    /// Photos removed because their files are gone.
    pub removed: usize,
}

/// Model download progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelProgress {
    /// The file in the model folder.
    pub file: String,
    /// Bytes so far.
    pub done: u64,
    /// Bytes in all, when known.
    pub total: Option<u64>,
}

/// Which step of a rebuild the figures count (see [`IndexRebuild`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RebuildStep {
    /// Every vector read from the catalog.
    Reading,
    /// Vectors linked into the graph: `done` of `total`.
    Linking,
    /// The new index file written.
    Saving,
    /// The rebuild has ended, done or failed: the window stops saying it rebuilds.
    Done,
}

/// How the rebuild of the search index at open is going: at a million photos (a library from
/// an older version, a lost index file) it takes minutes, and the window says so instead of
/// only "Starting Glimpse…".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexRebuild {
    /// Why the saved index could not be used ("missing", "in an older format (…)").
    pub why: String,
    /// The step now.
    pub step: RebuildStep,
    /// Photos linked so far.
    pub done: usize,
    /// Photos the index will hold.
    pub total: usize,
}

impl From<glimpse_library::Rebuilding> for IndexRebuild {
    fn from(r: glimpse_library::Rebuilding) -> Self {
        use glimpse_library::RebuildStage;
        IndexRebuild {
            why: r.why,
            step: match r.stage {
                RebuildStage::Reading => RebuildStep::Reading,
                RebuildStage::Linking => RebuildStep::Linking,
                RebuildStage::Saving => RebuildStep::Saving,
                RebuildStage::Done => RebuildStep::Done,
            },
            done: r.done,
            total: r.total,
        }
    }
}

/// What the session tells the window without being asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Indexing progress (at most a few per second).
    IndexProgress(ProgressView),
    /// The indexer started, paused, resumed or stopped.
    IndexState(IndexState),
    /// A job ended; the library changed.
    IndexFinished(IndexFinished),
    /// The model download advanced.
    ModelProgress(ModelProgress),
    /// The search index is being rebuilt while the library opens.
    IndexRebuild(IndexRebuild),
}

impl Event {
    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Event::IndexProgress(_) => events::INDEX_PROGRESS,
            Event::IndexState(_) => events::INDEX_STATE,
            Event::IndexFinished(_) => events::INDEX_FINISHED,
            Event::ModelProgress(_) => events::MODEL_PROGRESS,
            Event::IndexRebuild(_) => events::INDEX_REBUILD,
        }
    }

    /// The payload as JSON.
    pub fn payload(&self) -> serde_json::Value {
        let v = match self {
            Event::IndexProgress(p) => serde_json::to_value(p),
            Event::IndexState(s) => serde_json::to_value(s),
            Event::IndexFinished(f) => serde_json::to_value(f),
            Event::ModelProgress(m) => serde_json::to_value(m),
            Event::IndexRebuild(r) => serde_json::to_value(r),
        };
        v.unwrap_or(serde_json::Value::Null)
    }
}

/// Whether the model is in place.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelState {
    /// The model's name.
    pub name: String,
    /// Complete and usable.
    pub ready: bool,
    /// Where it is or would be stored.
    pub dir: String,
    /// Why it is not ready.
    pub problem: Option<String>,
    /// What it is and how big, for a model from the manifest (the first-run screen says it).
    pub description: Option<String>,
}

/// One model Settings offers to switch to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelChoice {
    /// What [`crate::Session::set_model`] takes: a manifest name or a model folder.
    pub name: String,
    /// What it is and how big (models Glimpse can download).
    pub description: Option<String>,
    /// Bytes to download before it can be used, when the manifest pins every file's size
    /// (`None`: unknown, or nothing to download).
    pub download_bytes: Option<u64>,
    /// Its files are complete on this computer: choosing it downloads nothing.
    pub present: bool,
    /// The model this window uses now.
    pub in_use: bool,
    /// The library's photos already read with it (kept when the library switched away), which
    /// switching to it does not read again.
    pub photos_read: u64,
}

/// The models Settings offers, and what the next start will use.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelChoices {
    /// The manifest's models, then model folders found in the models folder, then the one in
    /// use when it is a folder of its own.
    pub choices: Vec<ModelChoice>,
    /// The model whoever started the window named (the app: `GLIMPSE_MODEL`): the next start
    /// uses it again whatever is chosen here. `None`: the library's last choice is used.
    pub fixed_at_start: Option<String>,
}

/// The status bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// Glimpse's version.
    pub version: String,
    /// The model.
    pub model: ModelState,
    /// The execution provider in use ("CPU", "CUDA (fp16)", ...).
    pub provider: Option<String>,
    /// The library folder.
    pub library: String,
    /// Why the library cannot be opened (a damaged catalog): the window shows this instead of
    /// searching.
    pub library_problem: Option<String>,
    /// Another Glimpse indexing this library ("glimpse, pid 4242"): this window searches what
    /// that one has saved and cannot change folders until it has quit (asked again with every
    /// status).
    pub held_by: Option<String>,
    /// Photos known.
    pub photos: u64,
    /// Photos searchable.
    pub indexed: u64,
    /// Photos that failed.
    pub failed: u64,
    /// Photos waiting.
    pub pending: u64,
    /// The indexer.
    pub indexing: IndexState,
    /// The cores indexing uses (`None` while another Glimpse indexes the library).
    pub threads: Option<IndexThreads>,
    /// Whether indexing reads the words in this library's pictures (Settings' switch).
    pub read_text: bool,
}

/// One failed photo and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The file.
    pub path: String,
    /// Why it failed.
    pub reason: String,
}

/// What exporting photos (copying them to a folder the user chose) did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportReport {
    /// The folder they were copied to.
    pub folder: String,
    /// Photos copied.
    pub copied: u64,
    /// Photos that could not be copied, and why (nothing was overwritten).
    pub failures: Vec<Failure>,
}

/// A photo folder with its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootInfo {
    /// The folder.
    pub path: String,
    /// Reachable now.
    pub online: bool,
    /// Photos under it.
    pub photos: u64,
    /// Searchable.
    pub indexed: u64,
    /// Waiting.
    pub pending: u64,
    /// Failed or unsupported.
    pub failed: u64,
    /// Up to `session::FAILURES_SHOWN` failures.
    pub failures: Vec<Failure>,
    /// The folders in it (itself included) whose new photos are tagged as they arrive, so the
    /// folder list says where tags appear by themselves.
    pub auto_tags: Vec<AutoTagInfo>,
}

/// A folder below a root, for the folder tree: its searchable photos, subfolders included.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderCount {
    /// The folder.
    pub path: String,
    /// Searchable photos in it and below it.
    pub photos: u64,
}

/// What adding a folder did, so the window can say it (nothing added is not an error: the
/// folder's photos are already searchable).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderAdded {
    /// The folders of the library now.
    pub roots: Vec<RootInfo>,
    /// The folder asked for, as it really is (links resolved).
    pub folder: String,
    /// The library's folder that already holds it (itself, or one above it); `None` when it
    /// was added now.
    pub already_in: Option<String>,
}

/// A folder that tags the photos arriving in it, and with which labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoTagInfo {
    /// The auto-tagged folder.
    pub folder: String,
    /// Its labels, in the order given.
    pub labels: Vec<String>,
}

/// What a search is restricted to (dates `YYYY-MM-DD`, UTC; after inclusive, before exclusive).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FilterSpec {
    /// Only under this folder.
    pub folder: Option<String>,
    /// On or after this day.
    pub after: Option<String>,
    /// Before this day.
    pub before: Option<String>,
    /// Only with this tag.
    pub tag: Option<String>,
    /// Only these formats.
    pub types: Vec<String>,
    /// Only photos with (true) or without (false) a GPS position.
    pub has_location: Option<bool>,
    /// Only photos in which text was read (true), or none (false).
    pub has_text: Option<bool>,
}

/// One page of a search: by text, by any image file, or by a library photo.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchQuery {
    /// A description. With none (and no example), a filter lists its photos by date.
    pub text: Option<String>,
    /// Any image file, named by the engine's own callers (tests, tools). Never taken from the
    /// page: a page that could name any file would have the engine read it.
    #[serde(skip)]
    pub example_path: Option<String>,
    /// A picture dropped onto the window, by the token the shell gave it
    /// (`Session::remember_drop`): the shell keeps the path the OS handed over.
    pub example_drop: Option<u64>,
    /// A library photo ("more like this").
    pub example_photo_id: Option<i64>,
    /// Results per page.
    pub limit: usize,
    /// Results to skip.
    pub offset: usize,
    /// Show matches below the relevance floor.
    pub include_weak: bool,
    /// "score", "newest" or "oldest".
    pub sort: String,
    /// Restrictions.
    pub filter: FilterSpec,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            text: None,
            example_path: None,
            example_drop: None,
            example_photo_id: None,
            limit: 100,
            offset: 0,
            include_weak: false,
            sort: "score".into(),
            filter: FilterSpec::default(),
        }
    }
}

/// A result: the photo and how well it matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitView {
    /// The photo.
    #[serde(flatten)]
    pub photo: PhotoDetail,
    /// Cosine to the query; none in a listing (a filter with nothing to look for).
    pub score: Option<f32>,
    /// The lines of the photo's text the query's words matched (none: it matched by meaning
    /// alone), so the window can show the words and outline them.
    pub words: Vec<LineMatchView>,
}

/// A line of a photo's text that a query's words matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineMatchView {
    /// The line's number in the photo's text.
    pub line: usize,
    /// The line as read.
    pub text: String,
    /// Where the words are in `text`: [start, end) in UTF-16 code units, as the page's strings
    /// index.
    pub spans: Vec<[usize; 2]>,
    /// The line's box: four corners [x, y] in pixels of the upright picture (its `width` ×
    /// `height`), clockwise from the top left of the text.
    pub quad: [[f32; 2]; 4],
}

impl From<LineMatch> for LineMatchView {
    fn from(m: LineMatch) -> Self {
        // Byte offsets of the engine's string as the page's: UTF-16 units before each.
        let units = |byte: usize| m.text.get(..byte).map_or(0, |s| s.encode_utf16().count());
        LineMatchView {
            line: m.line,
            spans: m.spans.iter().map(|&(a, b)| [units(a), units(b)]).collect(),
            text: m.text.clone(),
            quad: m.quad,
        }
    }
}

/// A page of results.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// The results.
    pub hits: Vec<HitView>,
    /// More pages exist.
    pub has_more: bool,
    /// Weaker matches were left out.
    pub weaker_hidden: bool,
    /// A small JPEG data URL of a dropped query picture.
    pub query_preview: Option<String>,
    /// The words were longer than the model reads (77 tokens, some 60 words): only their start
    /// was searched for.
    pub query_cut: bool,
}

/// What the window shows about a photo (the lightbox; each result carries it too).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoDetail {
    /// Photo id.
    pub id: i64,
    /// The file.
    pub path: String,
    /// Date taken, else file time (Unix seconds).
    pub date: i64,
    /// Bytes.
    pub size: i64,
    /// Pixels.
    pub width: Option<u32>,
    /// Pixels.
    pub height: Option<u32>,
    /// Format.
    pub format: Option<String>,
    /// The cached preview.
    pub thumbnail: Option<String>,
    /// Tags, best first.
    pub tags: Vec<String>,
    /// Whether `date` is when it was taken (else the file time).
    pub date_taken: bool,
    /// The date on the clock where it was taken, as seconds of that reading in UTC: the window
    /// shows this one, so a photo taken at 08:30 in Tokyo reads 08:30 anywhere.
    pub local_date: i64,
    /// The camera's offset from UTC in minutes, when the photo records it.
    pub offset_minutes: Option<i32>,
    /// The camera.
    pub camera: Option<String>,
    /// Latitude in degrees, when the photo has a position.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
}

impl PhotoDetail {
    pub(crate) fn new(info: PhotoInfo, thumbnail: Option<String>, tags: Vec<String>) -> Self {
        PhotoDetail {
            id: info.id,
            path: info.path.display().to_string(),
            date: info.date,
            size: info.size,
            width: info.width,
            height: info.height,
            format: info.format,
            thumbnail,
            tags,
            date_taken: info.date_taken,
            local_date: info.local_date,
            offset_minutes: info.offset_minutes,
            camera: info.camera,
            latitude: info.latitude,
            longitude: info.longitude,
        }
    }
}

/// A file dropped onto the window: the page sees its path and names it back by `token` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedFile {
    /// What the page sends back to search by this file.
    pub token: u64,
    /// The file, for the page to show and to pick the picture among the files dropped.
    pub path: String,
}

/// A tag and how many photos carry it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagCount {
    /// The tag.
    pub name: String,
    /// Photos with it.
    pub count: u64,
}

/// A format the library's searchable photos are in, and how many: the type filter offers these,
/// so a library of phone and camera photos can be narrowed to its HEICs or its RAWs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormatView {
    /// As filters spell it ("jpeg", "heic", "cr3", ...).
    pub format: String,
    /// Searchable photos in it.
    pub count: u64,
}

/// What auto-tagging a folder did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagReportView {
    /// The folder.
    pub folder: String,
    /// Photos looked at.
    pub photos: usize,
    /// Photos that got a tag.
    pub tagged: usize,
    /// Photos per label.
    pub labels: Vec<TagCount>,
}

/// The labels "Auto-tag this folder" starts from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSuggestion {
    /// The folder's own labels when it is auto-tagged, else the built-in vocabulary plus the
    /// user's labels.
    pub labels: Vec<String>,
    /// The folder is auto-tagged: photos that arrive in it are tagged with `labels`.
    pub keeps_tagging: bool,
}

#[cfg(test)]
mod tests;

/// A photo among copies of one picture, as the duplicates view lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DupeMember {
    /// The photo (size, pixels, format, date, path: what the side-by-side compare shows).
    #[serde(flatten)]
    pub photo: PhotoDetail,
    /// CLIP cosine to the keeper (1 for the keeper).
    pub score: f32,
}

/// Copies of one picture, the suggested keeper first, so the window can offer to move the
/// others to the Trash.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DupeGroup {
    /// Why the first photo is the one to keep, in words ("most pixels").
    pub keep_reason: String,
    /// Every copy, the keeper first.
    pub photos: Vec<DupeMember>,
}

/// What moving photos to the system Trash did, so the window can say it (and why some stayed).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashReport {
    /// Photos moved to the Trash (and taken out of the library).
    pub moved: u64,
    /// Photos left where they are, and why.
    pub failures: Vec<Failure>,
}
