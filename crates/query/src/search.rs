//! Search: a query (words, an example photo, minus terms) becomes one vector; the vector index's
//! nearest photos become ranked, filtered, paged results joined with what the catalog knows.
//!
//! Small libraries and selective filters are searched exactly (every candidate scored): exact
//! and fast beats approximate. In a large library a caption is scored against every photo's
//! one-bit sketch, with the direction captions share ([`caption_direction`]) scored exactly,
//! and the best few hundred are re-scored exactly: a caption sits across CLIP's modality gap,
//! where a graph built on photos loses a third of the true top ten at a million photos. A
//! photo's query (more like this, a dropped picture) re-scores exactly both the HNSW graph's
//! nearest and the best sketch estimates: in loosely clustered libraries either alone misses
//! neighbours the other finds. A filtered search that finds fewer matches than exist falls back to
//! scoring the filtered set, so a selective filter never silently returns fewer results.

use glimpse_clip::decode::{self, DecodeOptions};
use glimpse_clip::embedding::{dot, mean_direction, unit};
use glimpse_clip::encode::{ImageEncoder, TextEncoder};
use glimpse_library::catalog::{PhotoFilter, PhotoInfo};
use glimpse_library::vectors::VectorError;
use glimpse_library::{Library, LibraryError};
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The library could not be read.
    #[error(transparent)]
    Library(#[from] LibraryError),
    /// The vector index refused the query.
    #[error(transparent)]
    Vectors(#[from] VectorError),
    /// Nothing to look for (only minus terms, or blank).
    #[error("the query is empty: describe what to find (minus terms alone select nothing)")]
    EmptyQuery,
    /// The example picture could not be read or decoded.
    #[error("cannot use {path} as an example: {reason}")]
    Example {
        /// The file.
        path: String,
        /// What went wrong (reading, the memory budget, decoding or encoding it).
        #[source]
        reason: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The example is new to the library and must be encoded, but no image encoder was given.
    #[error("{0} is not in the library: the image encoder is needed to embed it")]
    NeedsEncoder(String),
    /// A tower failed to embed the query (or an example picture).
    #[error("embedding the query failed: {0}")]
    Encode(#[source] TowerError),
}

/// How much a minus term pushes away: the query is `plus - NEGATIVE_WEIGHT * minus` (both unit
/// vectors), re-normalised. At 0.5 the minus term demotes its matches without turning the
/// query into its opposite.
pub const NEGATIVE_WEIGHT: f32 = 0.5;

/// Up to this many candidates, every vector is scored (exact): at 512-d i8 rows that is a 10 MB
/// scan, about as fast as a graph search and never misses.
pub const EXACT_MAX: usize = 20_000;

/// Captions whose mean direction is the one every caption shares (CLIP's modality gap):
/// generic, about no subject in particular, so that the mean is the gap and not a topic.
pub const GAP_CAPTIONS: &[&str] = &[
    "a photo",
    "a picture",
    "an image",
    "a photo of something",
    "a photo of a person",
    "a photo of people",
    "a photo of a place",
    "a photo of an object",
    "a photo of an animal",
    "a photo taken outdoors",
    "a photo taken indoors",
    "a close-up photo",
    "a blurry photo",
    "a dark photo",
    "a bright photo",
    "a screenshot",
    "a photo of a document",
    "a photo of food",
    "a photo of a building",
    "a photo of nature",
    "a photo of a vehicle",
    "a snapshot",
    "a picture of a scene",
    "an old photo",
];

/// The direction every caption shares, from the text tower: a caption's search scores this
/// part of the query exactly and estimates only the rest (see the module doc). Computed once
/// per text tower (one batch of [`GAP_CAPTIONS`]).
pub fn caption_direction(embed: &mut EmbedTexts<'_>) -> Result<Vec<f32>, SearchError> {
    let vecs = embed(GAP_CAPTIONS).map_err(SearchError::Encode)?;
    if vecs.len() != GAP_CAPTIONS.len() {
        return Err(SearchError::Encode(Box::new(WrongCount {
            got: vecs.len(),
            want: GAP_CAPTIONS.len(),
        })));
    }
    mean_direction(&vecs).ok_or(SearchError::EmptyQuery)
}

/// At most this many matches are ranked when results are sorted by date.
pub const DATE_SORT_MAX: usize = 10_000;

/// Prepares `req` for a caption: in a library too large to score exactly, the caption goes
/// through the sketches with the direction captions share, which `direction` supplies (from
/// the text tower, computed once by the caller) and which the library records.
pub fn for_caption(
    lib: &mut Library,
    req: &mut Request,
    direction: impl FnOnce() -> Result<Vec<f32>, SearchError>,
) -> Result<(), SearchError> {
    if lib.vector_count() <= req.exact_max {
        return Ok(());
    }
    let d = direction()?;
    lib.remember_caption_direction(&d)?;
    req.caption = Some(d);
    Ok(())
}

/// A typed query split into what to find and what to avoid: `beach -people -"red car"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// The description to find (minus terms removed, quotes dropped).
    pub text: String,
    /// Words or quoted phrases to push away.
    pub minus: Vec<String>,
    /// The description's words and quoted phrases, one term each (quotes dropped): what the
    /// words read in pictures are matched against.
    pub terms: Vec<String>,
    /// The quoted phrases among `terms`: words a result's picture must show.
    pub quoted: Vec<String>,
    /// The quoted phrases among `minus`: words a result's picture must not show.
    pub minus_quoted: Vec<String>,
}

impl ParsedQuery {
    /// What the query asks of the words in the pictures: its terms rank the photos that show
    /// them, its quoted phrases must be shown.
    pub fn words(&self) -> Words {
        Words {
            terms: self.terms.clone(),
            required: self.quoted.clone(),
            excluded: self.minus_quoted.clone(),
        }
    }
}

/// What a query asks of the text read in the pictures. Empty (the default) for a search by
/// example, or a library where no text was read: the search then ranks by the model alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Words {
    /// Words and phrases: a photo whose text shows them (any case, Latin accents aside, parts
    /// of words too) ranks among the best matches, however the model ranks it.
    pub terms: Vec<String>,
    /// Phrases a result's text must show (the query's `"quoted text"`); in a library where no
    /// text was read yet they only group words for the model, as before.
    pub required: Vec<String>,
    /// Phrases a result's text must not show (the query's `-"quoted text"`); they push away
    /// by meaning as every minus term does, and in a library where no text was read only that.
    pub excluded: Vec<String>,
}

impl Words {
    /// Whether the query says anything about words.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.required.is_empty() && self.excluded.is_empty()
    }
}

/// Splits a typed query into its description and its minus terms (`-word`, `-"a phrase"`);
/// a hyphen inside a word (`t-shirt`) or standing alone is part of the description.
pub fn parse(query: &str) -> ParsedQuery {
    let mut out = ParsedQuery::default();
    let mut words: Vec<String> = Vec::new();
    let mut chars = query.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let minus = first == '-';
        if minus {
            chars.next();
            if chars.peek().is_none_or(|c| c.is_whitespace()) {
                words.push("-".into());
                continue;
            }
        }
        let mut term = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                term.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                term.push(c);
                chars.next();
            }
        }
        let term = term.trim().to_string();
        if term.is_empty() {
            continue;
        }
        if minus {
            if quoted {
                out.minus_quoted.push(term.clone());
            }
            out.minus.push(term);
        } else {
            if quoted {
                out.quoted.push(term.clone());
            }
            out.terms.push(term.clone());
            words.push(term);
        }
    }
    out.text = words.join(" ");
    out
}

/// One query vector from unit vectors to find (`plus`, averaged) and to avoid (`minus`,
/// averaged, subtracted with `minus_weight`); `None` when there is nothing to find.
pub fn compose(plus: &[Vec<f32>], minus: &[Vec<f32>], minus_weight: f32) -> Option<Vec<f32>> {
    let mut q = mean_direction(plus)?;
    if let Some(m) = mean_direction(minus) {
        if m.len() != q.len() {
            return None;
        }
        for (a, x) in q.iter_mut().zip(m) {
            *a -= minus_weight * x;
        }
    }
    let n = q.iter().map(|x| x * x).sum::<f32>();
    (n > 1e-12).then(|| unit(q))
}

/// Why a tower gave no vectors: its own error, whatever the tower is (the text encoder, the
/// cache of recent captions in front of it, a test's stand-in).
pub type TowerError = Box<dyn std::error::Error + Send + Sync>;

/// A tower answered with another number of vectors than it was given texts: an error, never a
/// wrong vector.
#[derive(Debug, thiserror::Error)]
#[error("{got} vectors for {want} texts")]
pub struct WrongCount {
    /// Vectors returned.
    pub got: usize,
    /// Texts given.
    pub want: usize,
}

/// A text tower: captions in, one vector per caption out.
pub type EmbedTexts<'a> = dyn FnMut(&[&str]) -> Result<Vec<Vec<f32>>, TowerError> + 'a;

/// Embeds a parsed query (and optional example-photo vectors) into one search vector;
/// `embed` is the text tower (one call for the description and every minus term).
pub fn query_vector(
    embed: &mut EmbedTexts<'_>,
    query: &ParsedQuery,
    examples: &[Vec<f32>],
) -> Result<Vec<f32>, SearchError> {
    let mut texts: Vec<&str> = Vec::new();
    if !query.text.is_empty() {
        texts.push(&query.text);
    }
    texts.extend(query.minus.iter().map(String::as_str));
    let vecs = if texts.is_empty() {
        Vec::new()
    } else {
        embed(&texts).map_err(SearchError::Encode)?
    };
    if vecs.len() != texts.len() {
        return Err(SearchError::Encode(Box::new(WrongCount {
            got: vecs.len(),
            want: texts.len(),
        })));
    }
    let (plus_text, minus) = vecs.split_at(usize::from(!query.text.is_empty()));
    let mut plus: Vec<Vec<f32>> = plus_text.to_vec();
    plus.extend(examples.iter().cloned());
    compose(&plus, minus, NEGATIVE_WEIGHT).ok_or(SearchError::EmptyQuery)
}

/// [`query_vector`] with a text encoder.
pub fn text_query_vector(
    text: &TextEncoder,
    query: &ParsedQuery,
    examples: &[Vec<f32>],
) -> Result<Vec<f32>, SearchError> {
    query_vector(
        &mut |t: &[&str]| text.embed(t).map_err(TowerError::from),
        query,
        examples,
    )
}

/// An example picture as a vector, and which library photo it is.
#[derive(Debug, Clone)]
pub struct Example {
    /// Its embedding (stored, reused or freshly encoded).
    pub vector: Vec<f32>,
    /// The library photo at this path, excluded from its own results.
    pub photo_id: Option<i64>,
    /// A library photo with the same bytes, whose vector was reused.
    pub same_content: Option<i64>,
    /// Whether the image encoder ran (false when a stored vector served).
    pub encoded: bool,
}

/// The vector of any picture file: a library photo's stored vector, else the stored vector of
/// a photo with the same bytes, else a fresh encode (which needs `encoder`).
pub fn example(
    lib: &Library,
    encoder: Option<&ImageEncoder>,
    path: &Path,
) -> Result<Example, SearchError> {
    if let Some(found) = example_at(lib, path)? {
        return Ok(found);
    }
    let file = ExampleFile::read(path)?;
    if let Some(found) = example_like(lib, &file)? {
        return Ok(found);
    }
    let Some(encoder) = encoder else {
        return Err(SearchError::NeedsEncoder(path.display().to_string()));
    };
    file.encode(encoder)
}

/// The reason a picture file cannot be an example, for `path`.
fn bad_example(
    path: &Path,
) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> SearchError + '_ {
    move |reason| SearchError::Example {
        path: path.display().to_string(),
        reason,
    }
}

/// [`example`]'s first step, cheap enough to take under a library lock: the stored vector of
/// the library photo at `path`, if it is one.
pub fn example_at(lib: &Library, path: &Path) -> Result<Option<Example>, SearchError> {
    let canonical = path
        .canonicalize()
        .map_err(|e| bad_example(path)(e.into()))?;
    let Some(info) = lib.records().photo_by_path(&canonical)? else {
        return Ok(None);
    };
    let stored = lib.stored_vector(info.id)?;
    Ok(stored.map(|vector| Example {
        vector,
        photo_id: Some(info.id),
        same_content: None,
        encoded: false,
    }))
}

/// A picture file read once for [`example`]: its bytes and their content hash. Reading and
/// hashing take time on a large file, so a caller that holds a library lock reads outside it.
pub struct ExampleFile {
    path: PathBuf,
    bytes: Vec<u8>,
    hash: glimpse_library::ContentHash,
}

impl ExampleFile {
    /// Reads `path` (a dropped pipe or a link to a device is refused, never waited on or read
    /// without end) and hashes it.
    pub fn read(path: &Path) -> Result<Self, SearchError> {
        let bytes = glimpse_clip::read_photo(path, decode::MAX_FILE_BYTES)
            .map_err(|e| bad_example(path)(e.into()))?;
        let hash = glimpse_library::content_hash(&bytes);
        Ok(ExampleFile {
            path: path.to_path_buf(),
            bytes,
            hash,
        })
    }

    /// Decodes (within the decode memory budget) and encodes the picture.
    pub fn encode(&self, encoder: &ImageEncoder) -> Result<Example, SearchError> {
        let bad = bad_example(&self.path);
        let opts = DecodeOptions::for_model(encoder.preprocess.resize);
        let _memory = glimpse_clip::budget::global()
            .reserve(decode::footprint(&self.bytes, opts))
            .map_err(|e| bad(e.into()))?;
        let d = decode::decode_bytes(&self.bytes, opts).map_err(|e| bad(e.into()))?;
        let pixels = encoder.pixels_of(&d.image);
        let mut out = encoder
            .encode_pixels(pixels.as_view(), 1)
            .map_err(|e| SearchError::Encode(Box::new(e)))?;
        let vector = out
            .pop()
            .ok_or_else(|| bad("the encoder returned nothing".into()))?;
        Ok(Example {
            vector,
            photo_id: None,
            same_content: None,
            encoded: true,
        })
    }
}

/// [`example`]'s second step, cheap enough to take under a library lock: the stored vector of
/// a library photo with the same bytes as `file`.
pub fn example_like(lib: &Library, file: &ExampleFile) -> Result<Option<Example>, SearchError> {
    let Some(id) = lib.photo_with_content(&file.hash)? else {
        return Ok(None);
    };
    Ok(lib.stored_vector(id)?.map(|vector| Example {
        vector,
        photo_id: None,
        same_content: Some(id),
        encoded: false,
    }))
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Best match first.
    #[default]
    Score,
    /// Newest first (date taken, else file time), among the matches above the floor.
    Newest,
    /// Oldest first.
    Oldest,
}

/// One page of one search.
#[derive(Debug, Clone)]
pub struct Request {
    /// Results per page.
    pub limit: usize,
    /// Results to skip (page × limit).
    pub offset: usize,
    /// What the results are restricted to.
    pub filter: PhotoFilter,
    /// Result order.
    pub sort: Sort,
    /// Score below which a result is a weak match; `None` keeps every result.
    pub floor: Option<f32>,
    /// Show the weak matches too ("show weaker matches").
    pub include_weak: bool,
    /// Photos never returned (the example photo itself).
    pub exclude: Vec<i64>,
    /// Up to this many candidates every vector is scored instead of walking the graph.
    pub exact_max: usize,
    /// Set when the query is a caption: the direction captions share ([`caption_direction`]).
    /// A large library is then searched through its sketches, not the graph.
    pub caption: Option<Vec<f32>>,
    /// What the query asks of the words in the pictures ([`ParsedQuery::words`]): photos that
    /// show them are fused into the model's ranking, quoted phrases filter.
    pub words: Words,
}

impl Request {
    /// The first `limit` results, best first, no filter, no floor.
    pub fn new(limit: usize) -> Self {
        Request {
            limit,
            offset: 0,
            filter: PhotoFilter::default(),
            sort: Sort::Score,
            floor: None,
            include_weak: false,
            exclude: Vec::new(),
            exact_max: EXACT_MAX,
            caption: None,
            words: Words::default(),
        }
    }
}

/// A result: the photo, how well it matches, and what to show for it (serialised for
/// `glimpse find --json`; the window reads the session's `HitView`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hit {
    /// The photo.
    #[serde(flatten)]
    pub photo: PhotoInfo,
    /// Cosine similarity to the query; `None` in a listing ([`browse`]), which has no query.
    pub score: Option<f32>,
    /// The cached preview, when there is one.
    pub thumbnail: Option<PathBuf>,
    /// Its tags, best first.
    pub tags: Vec<String>,
    /// The lines of its text the query's words matched, in reading order (none: it matched by
    /// the model alone).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<LineMatch>,
}

/// A line of a photo's text that the query's words matched: what to show, and where to
/// outline it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LineMatch {
    /// The line's number in the photo's text (its index in
    /// [`glimpse_library::Records::text_lines`]).
    pub line: usize,
    /// The line as read.
    pub text: String,
    /// Where the query's words are in it: byte ranges of `text` (start, end), in order.
    pub spans: Vec<(usize, usize)>,
    /// The line's box: four corners (x, y) in pixels of the upright picture.
    pub quad: [[f32; 2]; 4],
}

/// One page of results.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The results.
    pub hits: Vec<Hit>,
    /// A next page exists.
    pub has_more: bool,
    /// Weaker matches exist beyond the floor and were left out (offer "show weaker matches").
    pub weaker_hidden: bool,
    /// Every candidate was scored (no approximation).
    pub exact: bool,
}

/// Candidates (photo id, score), best first, at least `need` of them where that many exist,
/// among `filter`; `caption` routes a caption through the sketches instead of the graph.
fn candidates(
    lib: &Library,
    q: &[f32],
    need: usize,
    filter: &PhotoFilter,
    exact_max: usize,
    caption: Option<&[f32]>,
) -> Result<(Vec<(i64, f32)>, bool), SearchError> {
    let v = lib.vectors();
    // The index sizes its answer by what it is asked for: never ask for more than it holds (a
    // page far out, or a huge limit, would otherwise be a huge allocation).
    let held = v.len();
    if filter.is_empty() {
        return Ok(if held == 0 {
            (Vec::new(), true)
        } else if held <= exact_max {
            (lib.search_exact(q, need.min(held))?, true)
        } else if caption.is_some() {
            (
                lib.search_caption(q, need.min(held), caption, &|_| true)?,
                false,
            )
        } else {
            (lib.search_photo(q, need.min(held), &|_| true)?, false)
        });
    }
    let allowed = lib.filter_ids(filter)?;
    if allowed.len() > exact_max && allowed.len() > need && held > 0 {
        let set: HashSet<i64> = allowed.iter().copied().collect();
        let found = match caption {
            Some(_) => lib.search_caption(q, need.min(held), caption, &|id| set.contains(&id))?,
            None => lib.search_photo(q, need.min(held), &|id| set.contains(&id))?,
        };
        if found.len() >= need {
            return Ok((found, false));
        }
        tracing::debug!(
            found = found.len(),
            need,
            "filtered search came up short; scoring the filtered set"
        );
    }
    Ok((score_exact(lib, q, &allowed, need)?, true))
}

/// Scores `ids` against `q` one by one and keeps the best `need`.
fn score_exact(
    lib: &Library,
    q: &[f32],
    ids: &[i64],
    need: usize,
) -> Result<Vec<(i64, f32)>, SearchError> {
    let mut scored: Vec<(i64, f32)> = Vec::with_capacity(ids.len());
    for &id in ids {
        let Some(vec) = lib.stored_vector(id)? else {
            continue;
        };
        scored.push((id, dot(q, &vec)));
    }
    rank(&mut scored);
    scored.truncate(need);
    Ok(scored)
}

/// Best first; ties by id so that results are deterministic.
fn rank(scored: &mut [(i64, f32)]) {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// The constant of reciprocal rank fusion: a photo's fused score is the sum over the two
/// rankings (the model's, the words') of `1 / (RRF_K + rank)`. 60 is the usual choice: the first
/// few places of either ranking count about alike.
pub const RRF_K: f64 = 60.0;

/// The model's places that count in the fusion: a photo further down (or not among the
/// model's candidates at all) counts as if at this place plus one, so the order of a page does
/// not depend on how deep the page is.
pub const RRF_DEPTH: usize = 200;

/// At most this many photos are ranked by their words (the trigram index's best).
pub const WORD_CANDIDATES: usize = 1000;

/// The share of the query's characters a photo's text must show to rank by words: "tesco"
/// alone, or "dog" and "beach" of "dog on the beach", not a stray "the".
pub const MIN_WORD_SHARE: f64 = 0.5;

/// A photo ranked by its words, with the lines that matched.
struct WordHit {
    id: i64,
    share: f64,
    /// The share of the query's characters shown as whole words ("cat", not in "certificate").
    whole: f64,
    density: f64,
    lines: Vec<LineMatch>,
}

/// Whether a character joins its neighbours into one word: letters and digits of scripts
/// written with spaces (CJK text runs its words together, so any span of it is whole).
fn joins(c: char) -> bool {
    c.is_alphanumeric() && (c as u32) < 0x2E80
}

/// Whether the byte range `(a, b)` of `text` is whole words: nothing joins it on either side.
fn is_whole(text: &str, (a, b): (usize, usize)) -> bool {
    let Some(inside) = text.get(a..b).filter(|w| !w.is_empty()) else {
        return false;
    };
    let before = text.get(..a).and_then(|t| t.chars().next_back());
    let after = text.get(b..).and_then(|t| t.chars().next());
    let open = |outer: Option<char>, inner: Option<char>| match (outer, inner) {
        (Some(o), Some(i)) => !(joins(o) && joins(i)),
        _ => true,
    };
    open(before, inside.chars().next()) && open(after, inside.chars().next_back())
}

/// The photos passing `filter` whose text shows the query's `terms`, best first: the larger
/// share of the query's characters first, then of those shown as whole words, then the text
/// most given to them (a sign that says
/// "TESCO" before a receipt that mentions it once).
fn word_ranking(
    lib: &Library,
    terms: &[String],
    filter: &PhotoFilter,
    exclude: &[i64],
) -> Result<Vec<WordHit>, SearchError> {
    use glimpse_library::words::{fold, folded_len};
    let mut seen = HashSet::new();
    let terms: Vec<(&String, usize)> = terms
        .iter()
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .filter(|t| seen.insert(fold(t)))
        .map(|t| (t, folded_len(t)))
        .collect();
    let total: usize = terms.iter().map(|t| t.1).sum();
    if total == 0 {
        return Ok(Vec::new());
    }
    let owned: Vec<String> = terms.iter().map(|t| t.0.clone()).collect();
    let ids = lib.photos_with_words(&owned, filter, WORD_CANDIDATES)?;
    let mut texts = lib.records().text_lines_of(&ids)?;
    let mut hits = Vec::new();
    for id in ids {
        if exclude.contains(&id) {
            continue;
        }
        let Some(rows) = texts.remove(&id) else {
            continue;
        };
        let mut matched = vec![false; terms.len()];
        let mut whole = vec![false; terms.len()];
        let (mut shown, mut all) = (0usize, 0usize);
        let mut lines = Vec::new();
        for (n, row) in rows.into_iter().enumerate() {
            all += row.text.len();
            let mut spans: Vec<(usize, usize)> = Vec::new();
            for (i, (term, _)) in terms.iter().enumerate() {
                let found = glimpse_library::words::find(&row.text, term);
                if !found.is_empty() {
                    matched[i] = true;
                    whole[i] |= found.iter().any(|&span| is_whole(&row.text, span));
                    spans.extend(found);
                }
            }
            if spans.is_empty() {
                continue;
            }
            spans.sort_unstable();
            let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
            for (a, b) in spans {
                match merged.last_mut() {
                    Some(last) if last.1 >= a => last.1 = last.1.max(b),
                    _ => merged.push((a, b)),
                }
            }
            shown += merged.iter().map(|(a, b)| b - a).sum::<usize>();
            lines.push(LineMatch {
                line: n,
                text: row.text,
                spans: merged,
                quad: row.quad,
            });
        }
        let share_of = |which: &[bool]| -> f64 {
            let got: usize = terms
                .iter()
                .zip(which)
                .filter(|(_, m)| **m)
                .map(|(t, _)| t.1)
                .sum();
            got as f64 / total as f64
        };
        let share = share_of(&matched);
        if lines.is_empty() || share < MIN_WORD_SHARE {
            continue;
        }
        hits.push(WordHit {
            id,
            share,
            whole: share_of(&whole),
            density: shown as f64 / all.max(1) as f64,
            lines,
        });
    }
    hits.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then(b.whole.total_cmp(&a.whole))
            .then(b.density.total_cmp(&a.density))
            .then(a.id.cmp(&b.id))
    });
    Ok(hits)
}

/// The model's ranking (`clip`, best first, with cosines) and the words' (`words`, best first)
/// as one, by reciprocal rank fusion; photos the model did not rank are scored against `q` for
/// their cosine. Ties go to the higher cosine, then the lower id.
fn fuse(
    lib: &Library,
    q: &[f32],
    clip: Vec<(i64, f32)>,
    words: &[WordHit],
) -> Result<Vec<(i64, f32)>, SearchError> {
    let place = |rank: usize| 1.0 / (RRF_K + rank.min(RRF_DEPTH + 1) as f64);
    let mut fused: std::collections::HashMap<i64, (f64, f32)> = clip
        .iter()
        .enumerate()
        .map(|(r, (id, s))| (*id, (place(r + 1), *s)))
        .collect();
    for (r, w) in words.iter().enumerate() {
        let entry = match fused.entry(w.id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let Some(v) = lib.stored_vector(w.id)? else {
                    continue;
                };
                e.insert((place(RRF_DEPTH + 1), dot(q, &v)))
            }
        };
        entry.0 += 1.0 / (RRF_K + (r + 1) as f64);
    }
    let mut out: Vec<(i64, f64, f32)> = fused.into_iter().map(|(id, (f, s))| (id, f, s)).collect();
    out.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(b.2.total_cmp(&a.2))
            .then(a.0.cmp(&b.0))
    });
    Ok(out.into_iter().map(|(id, _, s)| (id, s)).collect())
}

/// The page of photos nearest to `query` (a unit vector) that `req` asks for. Where the
/// library has read text in its pictures and `req.words` names some, the photos showing them
/// are fused into the ranking (they are never weak matches), and quoted phrases filter.
pub fn nearest(lib: &Library, query: &[f32], req: &Request) -> Result<Page, SearchError> {
    let limit = req.limit.max(1);
    // Offsets and limits come from a page (or a caller) and may be anything: saturate, and let
    // `candidates` cap what the index is asked for.
    let need = match req.sort {
        Sort::Score => req
            .offset
            .saturating_add(limit)
            .saturating_add(1)
            .saturating_add(req.exclude.len()),
        Sort::Newest | Sort::Oldest => DATE_SORT_MAX.saturating_add(req.exclude.len()),
    };
    let mut filter = std::borrow::Cow::Borrowed(&req.filter);
    let mut by_words = Vec::new();
    if !req.words.is_empty() && lib.records().has_text()? {
        let f = filter.to_mut();
        f.words.extend(req.words.required.iter().cloned());
        f.without_words.extend(req.words.excluded.iter().cloned());
        by_words = word_ranking(lib, &req.words.terms, &filter, &req.exclude)?;
    }
    // Fused, the model's first places count whatever the page: ask for them all.
    let depth = if by_words.is_empty() {
        need
    } else {
        need.max(RRF_DEPTH)
    };
    let (mut found, exact) = candidates(
        lib,
        query,
        depth,
        &filter,
        req.exact_max,
        req.caption.as_deref(),
    )?;
    found.truncate(depth);
    rank(&mut found);
    found.retain(|(id, _)| !req.exclude.contains(id));
    if !by_words.is_empty() {
        found = fuse(lib, query, found, &by_words)?;
    }
    let mut matched: std::collections::HashMap<i64, Vec<LineMatch>> =
        by_words.into_iter().map(|w| (w.id, w.lines)).collect();
    let floor = req.floor.unwrap_or(f32::NEG_INFINITY);
    let weak = found
        .iter()
        .any(|(id, s)| *s < floor && !matched.contains_key(id));
    if !req.include_weak {
        found.retain(|(id, s)| *s >= floor || matched.contains_key(id));
    }
    // Sorting by date needs every match's date; sorting by score only the page's.
    let mut infos = std::collections::HashMap::new();
    if req.sort != Sort::Score {
        let ids: Vec<i64> = found.iter().map(|p| p.0).collect();
        infos = lib.records().photo_infos(&ids)?;
        found.retain(|(id, _)| infos.contains_key(id));
        let date = |id: &i64| infos.get(id).map_or(0, |i| i.date);
        found.sort_by(|a, b| {
            let (da, db) = (date(&a.0), date(&b.0));
            let by_date = if req.sort == Sort::Newest {
                db.cmp(&da)
            } else {
                da.cmp(&db)
            };
            by_date.then(b.1.total_cmp(&a.1)).then(a.0.cmp(&b.0))
        });
    }
    let has_more = found.len() > req.offset.saturating_add(limit);
    let page: Vec<(i64, f32)> = found.into_iter().skip(req.offset).take(limit).collect();
    if req.sort == Sort::Score {
        let ids: Vec<i64> = page.iter().map(|p| p.0).collect();
        infos = lib.records().photo_infos(&ids)?;
    }
    let page = page.into_iter().map(|(id, s)| (id, Some(s))).collect();
    join(
        lib,
        page,
        &mut infos,
        &mut matched,
        has_more,
        weak && !req.include_weak,
        exact,
    )
}

/// One page of the photos passing `req.filter` in date order (newest first unless
/// [`Sort::Oldest`]), unscored: what the window shows for a filter (a folder, a few days, a tag)
/// with nothing typed or dropped.
pub fn browse(lib: &Library, req: &Request) -> Result<Page, SearchError> {
    let limit = req.limit.max(1);
    let rows = lib.dated_page(
        &req.filter,
        req.sort != Sort::Oldest,
        req.offset,
        limit.saturating_add(1),
    )?;
    let has_more = rows.len() > limit;
    let page: Vec<(i64, Option<f32>)> = rows.iter().take(limit).map(|i| (i.id, None)).collect();
    let mut infos = rows.into_iter().take(limit).map(|i| (i.id, i)).collect();
    join(
        lib,
        page,
        &mut infos,
        &mut Default::default(),
        has_more,
        false,
        true,
    )
}

fn join(
    lib: &Library,
    page: Vec<(i64, Option<f32>)>,
    infos: &mut std::collections::HashMap<i64, PhotoInfo>,
    matched: &mut std::collections::HashMap<i64, Vec<LineMatch>>,
    has_more: bool,
    weaker_hidden: bool,
    exact: bool,
) -> Result<Page, SearchError> {
    let ids: Vec<i64> = page.iter().map(|p| p.0).collect();
    let mut tags = lib.records().tags_of(&ids)?;
    let hits = page
        .into_iter()
        .filter_map(|(id, score)| {
            let photo = infos.remove(&id)?;
            let thumbnail = photo
                .content_hash
                .as_deref()
                .filter(|h| lib.thumbs().exists(h))
                .map(|h| lib.thumbs().path_for(h));
            let tags = tags
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.0)
                .collect();
            Some(Hit {
                photo,
                score,
                thumbnail,
                tags,
                words: matched.remove(&id).unwrap_or_default(),
            })
        })
        .collect();
    Ok(Page {
        hits,
        has_more,
        weaker_hidden,
        exact,
    })
}

/// Captions whose vectors [`RecentQueries`] keeps.
const RECENT_CAPTIONS: usize = 64;
/// Pictures whose vectors [`RecentQueries`] keeps.
const RECENT_PICTURES: usize = 8;

/// The vectors of recent queries. A window asks again for the same query with every page it
/// scrolls to, with "Show more" and whenever a filter or the sort changes, and the towers would
/// compute the same vector each time (a real-size ViT-B/32 on a 2-core CPU: ~70 ms a caption,
/// more for a dropped picture, which is also read, hashed and decoded).
#[derive(Debug, Default)]
pub struct RecentQueries {
    captions: VecDeque<(String, Vec<f32>)>,
    pictures: VecDeque<(PictureKey, Example, Option<String>)>,
    encodes: usize,
}

/// A picture file as it is now, in a library of a given size: a file rewritten, or a library
/// that gained or lost photos (the picture may now be one of them), is another query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureKey {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    library_size: usize,
}

impl PictureKey {
    /// The key of `path` in `lib` now; `None` when the file cannot be looked at (the search
    /// then says why).
    pub fn of(path: &Path, lib: &Library) -> Option<PictureKey> {
        let path = path.canonicalize().ok()?;
        let meta = std::fs::metadata(&path).ok()?;
        Some(PictureKey {
            len: meta.len(),
            modified: meta.modified().ok(),
            library_size: lib.vectors().len(),
            path,
        })
    }
}

impl RecentQueries {
    /// The vectors of `texts`, in order: those seen recently from memory, the others from
    /// `embed` (one call for all of them).
    pub fn captions(
        &mut self,
        texts: &[&str],
        embed: &mut EmbedTexts<'_>,
    ) -> Result<Vec<Vec<f32>>, TowerError> {
        let missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !self.captions.iter().any(|(c, _)| c == t))
            .collect();
        let fresh = if missing.is_empty() {
            Vec::new()
        } else {
            embed(&missing)?
        };
        if fresh.len() != missing.len() {
            return Err(Box::new(WrongCount {
                got: fresh.len(),
                want: missing.len(),
            }));
        }
        self.encodes += missing.len();
        let fresh: Vec<(&str, Vec<f32>)> = missing.into_iter().zip(fresh).collect();
        let out = texts
            .iter()
            .map(|t| {
                fresh
                    .iter()
                    .find(|(c, _)| c == t)
                    .map(|(_, v)| v.clone())
                    .or_else(|| self.caption(t))
                    .unwrap_or_default()
            })
            .collect();
        for (c, v) in fresh {
            self.captions.retain(|(k, _)| k != c);
            self.captions.push_front((c.to_string(), v));
            self.captions.truncate(RECENT_CAPTIONS);
        }
        Ok(out)
    }

    /// A caption's vector if it was embedded recently (and now counts as the most recent).
    fn caption(&mut self, text: &str) -> Option<Vec<f32>> {
        let i = self.captions.iter().position(|(c, _)| c == text)?;
        let hit = self.captions.remove(i)?;
        let v = hit.1.clone();
        self.captions.push_front(hit);
        Some(v)
    }

    /// A picture searched with recently, with what the caller kept beside it (its preview).
    pub fn picture(&mut self, key: &PictureKey) -> Option<(Example, Option<String>)> {
        let i = self.pictures.iter().position(|(k, _, _)| k == key)?;
        let hit = self.pictures.remove(i)?;
        let out = (hit.1.clone(), hit.2.clone());
        self.pictures.push_front(hit);
        Some(out)
    }

    /// Keeps a picture's vector (and preview) for the pages and filters that follow.
    pub fn keep_picture(&mut self, key: PictureKey, example: Example, preview: Option<String>) {
        if example.encoded {
            self.encodes += 1;
        }
        self.pictures.retain(|(k, _, _)| k != &key);
        self.pictures.push_front((key, example, preview));
        self.pictures.truncate(RECENT_PICTURES);
    }

    /// How many captions and pictures the towers encoded for queries (the rest came from
    /// memory).
    pub fn encodes(&self) -> usize {
        self.encodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A library of `n` photos with 4-d vectors (no model), their files in `dir`.
    fn library(dir: &Path, n: usize) -> Library {
        use glimpse_library::catalog::Catalog;
        use glimpse_library::pipeline::Outcome;
        let root = dir.join("photos");
        std::fs::create_dir_all(&root).unwrap();
        let libdir = dir.join("library");
        {
            let mut cat = Catalog::open(&libdir).unwrap();
            let model = cat.model_id("m", 4).unwrap();
            let r = cat.add_root(&root).unwrap();
            let files: Vec<_> = (0..n)
                .map(|i| {
                    let p = root.join(format!("{i}.jpg"));
                    std::fs::write(&p, format!("photo {i}")).unwrap();
                    (p, 7, i as i64, None)
                })
                .collect();
            let ids = cat.upsert_files(r.id, &files).unwrap();
            let outcomes: Vec<Outcome> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| Outcome::Encoded {
                    photo_id: *id,
                    hash: glimpse_library::content_hash(format!("photo {i}").as_bytes()),
                    vector: unit(vec![1.0, i as f32, 0.5, 0.0]),
                    width: 10,
                    height: 10,
                    format: "jpeg".into(),
                    metadata: Default::default(),
                    note: None,
                })
                .collect();
            cat.commit_batch(model, &outcomes).unwrap();
        }
        Library::open(&libdir, "m", 4).unwrap()
    }

    #[test]
    fn any_offset_and_limit_give_a_page_never_an_overflow_or_a_huge_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let lib = library(dir.path(), 30);
        let q = unit(vec![1.0, 3.0, 0.5, 0.0]);
        let filter = PhotoFilter {
            formats: vec!["jpeg".into()],
            ..PhotoFilter::default()
        };
        for (offset, limit) in [
            (usize::MAX, 10),
            (usize::MAX - 3, 2),
            (usize::MAX / 2, usize::MAX / 2 + 7),
            (0, usize::MAX),
            (0, 1 << 50),
            (usize::MAX, usize::MAX),
            (0, 3),
        ] {
            // Exact scoring, the graph or the sketches (exact_max 0), and filtered searches.
            for (exact_max, filter, caption) in [
                (EXACT_MAX, PhotoFilter::default(), None),
                (0, PhotoFilter::default(), None),
                (0, filter.clone(), None),
                (
                    0,
                    PhotoFilter::default(),
                    Some(unit(vec![0.0, 0.0, 1.0, 1.0])),
                ),
                (0, filter.clone(), Some(unit(vec![0.0, 0.0, 1.0, 1.0]))),
            ] {
                for sort in [Sort::Score, Sort::Newest] {
                    let req = Request {
                        offset,
                        exact_max,
                        filter: filter.clone(),
                        sort,
                        caption: caption.clone(),
                        exclude: vec![1],
                        ..Request::new(limit)
                    };
                    let page = nearest(&lib, &q, &req).unwrap();
                    // Photo 1 is excluded from searches (not from listings).
                    let (want, listed) = if offset == 0 {
                        (limit.min(29), limit.min(30))
                    } else {
                        (0, 0)
                    };
                    assert_eq!(page.hits.len(), want, "{offset} {limit} {exact_max}");
                    assert_eq!(page.has_more, offset == 0 && want < 29, "{offset} {limit}");
                    let page = browse(&lib, &req).unwrap();
                    assert_eq!(page.hits.len(), listed, "{offset} {limit}");
                }
            }
        }
        // An ordinary page still pages.
        let page = nearest(
            &lib,
            &q,
            &Request {
                offset: 5,
                ..Request::new(10)
            },
        )
        .unwrap();
        assert_eq!(page.hits.len(), 10);
        assert!(page.has_more);
    }

    #[test]
    fn recent_captions_are_embedded_once_and_come_back_in_order() {
        let mut recent = RecentQueries::default();
        let mut asked: Vec<Vec<String>> = Vec::new();
        let mut tower = |t: &[&str]| -> Result<Vec<Vec<f32>>, TowerError> {
            asked.push(t.iter().map(|s| s.to_string()).collect());
            Ok(t.iter().map(|s| vec![s.len() as f32]).collect())
        };
        assert_eq!(
            recent.captions(&["dog", "beach"], &mut tower).unwrap(),
            vec![vec![3.0], vec![5.0]]
        );
        // The second page: nothing embedded; a new minus term alone is.
        assert_eq!(
            recent.captions(&["dog", "beach"], &mut tower).unwrap(),
            vec![vec![3.0], vec![5.0]]
        );
        assert_eq!(
            recent.captions(&["people", "dog"], &mut tower).unwrap(),
            vec![vec![6.0], vec![3.0]]
        );
        // Older captions make way for new ones, the ones in use stay.
        for i in 0..RECENT_CAPTIONS - 1 {
            let c = format!("caption {i}");
            recent.captions(&[&c], &mut tower).unwrap();
            recent.captions(&["dog"], &mut tower).unwrap();
        }
        recent.captions(&["dog", "beach"], &mut tower).unwrap();
        let asked: Vec<String> = asked.concat();
        assert_eq!(asked.iter().filter(|a| *a == "dog").count(), 1);
        assert_eq!(asked.iter().filter(|a| *a == "beach").count(), 2);
        assert_eq!(recent.encodes(), asked.len());
        // A tower that answers wrongly is an error, not a wrong vector.
        let mut broken = |_: &[&str]| -> Result<Vec<Vec<f32>>, TowerError> { Ok(Vec::new()) };
        let err = recent.captions(&["new"], &mut broken).unwrap_err();
        assert_eq!(err.to_string(), "0 vectors for 1 texts");
    }

    #[test]
    fn minus_terms_and_phrases_are_split_from_the_description() {
        let p = parse(r#"beach -people at  dusk -"red car" t-shirt - x"#);
        assert_eq!(p.text, "beach at dusk t-shirt - x");
        assert_eq!(p.minus, vec!["people".to_string(), "red car".to_string()]);
        assert_eq!(parse("  ").text, "");
        let only = parse("-cat");
        assert_eq!((only.text.as_str(), only.minus.len()), ("", 1));
        assert_eq!(parse(r#""a quoted phrase""#).text, "a quoted phrase");
    }

    #[test]
    fn whole_words_are_told_from_parts_of_words() {
        let text = "Certificate: cat café 東京駅";
        let at = |t: &str| {
            let a = text.find(t).unwrap();
            (a, a + t.len())
        };
        assert!(is_whole(text, at("cat ")));
        assert!(is_whole(text, at("café")));
        assert!(!is_whole(text, (4, 7)), "cat inside Certificate");
        assert!(is_whole(text, at("Certificate")));
        assert!(is_whole(text, at("東京")), "CJK runs its words together");
        assert!(!is_whole(text, (1, 3)));
        assert!(
            !is_whole(text, (0, 99)),
            "a range outside the text is no word"
        );
    }

    #[test]
    fn quoted_phrases_are_terms_a_result_must_show() {
        let p = parse(r#"receipt "Tesco Express" 12.40 -"old" - x"#);
        assert_eq!(p.text, "receipt Tesco Express 12.40 - x");
        assert_eq!(p.terms, ["receipt", "Tesco Express", "12.40", "x"]);
        assert_eq!(p.quoted, ["Tesco Express"]);
        assert_eq!(p.minus, ["old"]);
        let w = p.words();
        assert_eq!(w.required, ["Tesco Express"]);
        assert_eq!(w.terms, p.terms);
        // A quoted minus phrase must not be shown; an unquoted minus word only pushes away.
        assert_eq!(w.excluded, ["old"]);
        assert!(parse("-cat").words().is_empty());
        assert_eq!(parse(r#"menu -"draft" -cat"#).words().excluded, ["draft"]);
    }

    /// The ids and cosines of a page, in order.
    fn ranked(page: &Page) -> Vec<(i64, Option<f32>)> {
        page.hits.iter().map(|h| (h.photo.id, h.score)).collect()
    }

    #[test]
    fn photos_showing_the_words_are_fused_to_the_top_and_quotes_filter() {
        use glimpse_library::catalog::{TextLineRow, TextOutcome};
        let dir = tempfile::tempdir().unwrap();
        let mut lib = library(dir.path(), 30);
        let q = unit(vec![1.0, 3.0, 0.5, 0.0]);
        let words = |text: &str, limit: usize| Request {
            words: parse(text).words(),
            ..Request::new(limit)
        };
        // No text read anywhere: words change nothing, quotes filter nothing.
        let plain = nearest(&lib, &q, &Request::new(10)).unwrap();
        for query in ["tesco", r#""tesco""#] {
            let page = nearest(&lib, &q, &words(query, 10)).unwrap();
            assert_eq!(ranked(&page), ranked(&plain), "{query}");
            assert!(page.hits.iter().all(|h| h.words.is_empty()));
        }
        let line = |text: &str| TextLineRow {
            text: text.into(),
            quad: [[0.0, 0.0], [9.0, 0.0], [9.0, 3.0], [0.0, 3.0]],
            confidence: 0.8,
        };
        let read = |lines: &[&str]| TextOutcome::Lines(lines.iter().map(|l| line(l)).collect());
        // Ids are 1..=30; photo i has the vector (1, i-1, 0.5, 0): the model ranks 4 first
        // and 29, 30 last.
        lib.store_text(
            "t",
            &[
                (30, read(&["TESCO Express", "Total 12.40"])),
                (29, read(&["a long receipt that mentions tesco once"])),
                (4, read(&["Exit"])),
                (28, read(&["the"])),
                (27, read(&["a cat in a hat"])),
                (26, read(&["Certificate"])),
            ],
        )
        .unwrap();
        assert_eq!(
            ranked(&nearest(&lib, &q, &Request::new(10)).unwrap()),
            ranked(&plain)
        );
        let page = nearest(&lib, &q, &words("tesco", 10)).unwrap();
        let ids: Vec<i64> = page.hits.iter().map(|h| h.photo.id).collect();
        // The sign that says little else first, then the receipt (both last for the model),
        // then the model's best.
        assert_eq!(ids[..3], [30, 29, 4], "{ids:?}");
        let shown = &page.hits[0].words;
        assert_eq!(shown.len(), 1);
        assert_eq!((shown[0].line, shown[0].spans.clone()), (0, vec![(0, 5)]));
        assert_eq!(page.hits[1].words[0].spans, [(29, 34)]);
        assert!(page.hits[2].words.is_empty());
        // The cosine stays the model's, and a photo shown by words is never a weak match.
        let floor = Request {
            floor: Some(0.9999),
            ..words("TESCO", 10)
        };
        let page = nearest(&lib, &q, &floor).unwrap();
        assert!(page.weaker_hidden);
        assert_eq!(
            ranked(&page).iter().map(|h| h.0).collect::<Vec<_>>(),
            [30, 29, 4]
        );
        assert!(page.hits[0].score < Some(0.96));
        // A whole word before the same letters inside another word, the model aside.
        let page = nearest(&lib, &q, &words("cat", 10)).unwrap();
        let ids: Vec<i64> = page.hits.iter().map(|h| h.photo.id).collect();
        assert_eq!(ids[..2], [27, 26], "{ids:?}");
        // A stray short word of a long description does not rank a photo.
        let page = nearest(&lib, &q, &words("dog on the beach", 10)).unwrap();
        assert!(page.hits.iter().all(|h| h.words.is_empty()));
        // Quoted: only photos that show it, the model's order among them; a page is stable.
        // ("tesco" is under half of the words here, so the model alone orders them.)
        let page = nearest(&lib, &q, &words(r#""tesco" something"#, 10)).unwrap();
        assert_eq!(
            ranked(&page).iter().map(|h| h.0).collect::<Vec<_>>(),
            [29, 30]
        );
        let page = nearest(&lib, &q, &words(r#""12.40" tesco"#, 10)).unwrap();
        assert_eq!(ranked(&page).iter().map(|h| h.0).collect::<Vec<_>>(), [30]);
        let first = nearest(&lib, &q, &words("tesco", 2)).unwrap();
        let second = nearest(
            &lib,
            &q,
            &Request {
                offset: 2,
                ..words("tesco", 2)
            },
        )
        .unwrap();
        let all = nearest(&lib, &q, &words("tesco", 4)).unwrap();
        assert!(first.has_more);
        assert_eq!(
            [ranked(&first), ranked(&second)].concat(),
            ranked(&all),
            "pages are slices of one ranking"
        );
        // Excluded photos stay out, matched or not; sorting by date keeps the word matches.
        let page = nearest(
            &lib,
            &q,
            &Request {
                exclude: vec![30],
                ..words("tesco", 30)
            },
        )
        .unwrap();
        assert!(page.hits.iter().all(|h| h.photo.id != 30));
        let dated = nearest(
            &lib,
            &q,
            &Request {
                sort: Sort::Newest,
                floor: Some(0.9999),
                ..words("tesco", 30)
            },
        )
        .unwrap();
        assert!(dated
            .hits
            .iter()
            .any(|h| h.photo.id == 30 && !h.words.is_empty()));
    }

    #[test]
    fn compose_subtracts_the_weighted_minus_vector() {
        let plus = vec![vec![1.0, 0.0, 0.0]];
        let minus = vec![vec![0.0, 2.0, 0.0]];
        let q = compose(&plus, &minus, 0.5).unwrap();
        let n = (1.0f32 + 0.25).sqrt();
        assert!((q[0] - 1.0 / n).abs() < 1e-6 && (q[1] + 0.5 / n).abs() < 1e-6);
        // Two plus vectors average after normalising each (scale does not weigh).
        let q = compose(&[vec![3.0, 0.0], vec![0.0, 1.0]], &[], 0.5).unwrap();
        assert!((q[0] - q[1]).abs() < 1e-6);
        assert!(compose(&[], &minus, 0.5).is_none());
        assert!(compose(&[vec![1.0, 0.0]], &[vec![1.0, 0.0]], 1.0).is_none());
        assert!(compose(&[vec![1.0, 0.0]], &[vec![1.0, 0.0, 0.0]], 0.5).is_none());
    }
}
