//! The catalog (`catalog.sqlite`): the library's source of truth. Roots, photos (path bytes,
//! size, mtime, content hash, status and failure reason), every embedding, and what the derived
//! vector index file holds. Each indexing batch is one transaction, so a crash loses at most
//! the batch in flight and never needs a re-encode of anything committed.

use crate::hash::ContentHash;
use glimpse_clip::metadata::Metadata;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The result of reading one file, in the catalog's terms: what the indexing pipeline hands
/// over to be committed (storage knows nothing of the stages that produce it).
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Encoded now.
    Encoded {
        /// The catalog row.
        photo_id: i64,
        /// Content hash of the bytes that were encoded.
        hash: ContentHash,
        /// The L2-normalised embedding.
        vector: Vec<f32>,
        /// Upright width.
        width: u32,
        /// Upright height.
        height: u32,
        /// Detected format.
        format: String,
        /// Date taken, camera, position.
        metadata: Metadata,
        /// How the picture came out when it is not all there, for `status`.
        note: Option<String>,
    },
    /// Identical bytes to an already-encoded photo: its vector is reused.
    Reused {
        /// The catalog row.
        photo_id: i64,
        /// Content hash.
        hash: ContentHash,
        /// Where the vector is copied from.
        same_as: Source,
    },
    /// Could not be indexed.
    Failed {
        /// The catalog row.
        photo_id: i64,
        /// Why, for `status`.
        reason: String,
        /// The file is gone (the catalog marks it missing rather than failed).
        vanished: bool,
    },
}

/// Why the catalog could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// SQLite failed.
    #[error("catalog {context}: {source}")]
    Sql {
        /// What we were doing.
        context: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The database file is damaged.
    #[error("catalog integrity check failed: {0}")]
    Corrupt(String),
    /// The library folder could not be created.
    #[error("cannot create library folder {path}: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The catalog was written by a newer Glimpse, whose schema this build does not know:
    /// using it could misread or damage what that version wrote.
    #[error(
        "this library was written by a newer Glimpse (schema {found}, this one knows {known}); \
         use that version or a new library folder"
    )]
    Newer {
        /// The catalog's schema version (`PRAGMA user_version`).
        found: i64,
        /// The newest schema this build knows.
        known: usize,
    },
}

trait Ctx<T> {
    fn ctx(self, context: &'static str) -> Result<T, CatalogError>;
}

impl<T> Ctx<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: &'static str) -> Result<T, CatalogError> {
        self.map_err(|source| CatalogError::Sql { context, source })
    }
}

/// Bytes a catalog page holds: eighteen packed embedding rows of a 512-d model (fifteen f16).
const PAGE_SIZE: usize = 16_384;

/// The migration (1-based, as `user_version` counts) that stores embeddings as f16.
const F16_MIGRATION: usize = 9;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE roots (
    id INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE,
    added_at INTEGER NOT NULL,
    online INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash BLOB,
    width INTEGER,
    height INTEGER,
    format TEXT,
    taken_at INTEGER,
    gps_lat REAL,
    gps_lon REAL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'indexed', 'failed', 'missing', 'unsupported')),
    error TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX photos_by_hash ON photos(content_hash);
CREATE INDEX photos_by_root ON photos(root_id);
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    dim INTEGER NOT NULL
);
CREATE TABLE embeddings (
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    -- committed encodes of this content with this model (1 unless something re-encoded it)
    encodes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (photo_id, model_id)
) WITHOUT ROWID;
CREATE TABLE index_state (
    model_id INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    vector_count INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    saved_at INTEGER NOT NULL
);
CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    builtin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tags (
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    label_id INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    score REAL NOT NULL,
    PRIMARY KEY (photo_id, label_id)
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#,
    r#"
CREATE TABLE label_vectors (
    label_id INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    -- the prompt templates the vector averages (a different set invalidates it)
    prompts TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (label_id, model_id)
) WITHOUT ROWID;
CREATE INDEX tags_by_label ON tags(label_id);
-- Every change to a model's embeddings bumps its generation; the vector index file records the
-- generation it was saved at, so opening a large library needs no id-by-id comparison.
ALTER TABLE models ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE index_state ADD COLUMN generation INTEGER NOT NULL DEFAULT -1;
CREATE TRIGGER embeddings_added AFTER INSERT ON embeddings BEGIN
    UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
END;
CREATE TRIGGER embeddings_changed AFTER UPDATE OF vector ON embeddings BEGIN
    UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
END;
CREATE TRIGGER embeddings_removed AFTER DELETE ON embeddings BEGIN
    UPDATE models SET generation = generation + 1 WHERE id = OLD.model_id;
END;
"#,
    r#"
-- What the file says about itself (EXIF), read once at indexing: the camera's offset from UTC
-- for taken_at, and the camera. taken_at, gps_lat and gps_lon exist since the first version.
ALTER TABLE photos ADD COLUMN taken_offset_min INTEGER;
ALTER TABLE photos ADD COLUMN camera_make TEXT;
ALTER TABLE photos ADD COLUMN camera_model TEXT;
"#,
    r#"
-- Whether the photo's own metadata is in its row. Photos indexed before version 3 read none:
-- the next index run reads it from their files, without decoding or encoding them again. Rows
-- that already show some were read since; the rest are read once more, which is harmless.
ALTER TABLE photos ADD COLUMN metadata_read INTEGER NOT NULL DEFAULT 0;
UPDATE photos SET metadata_read = 1
 WHERE taken_offset_min IS NOT NULL OR camera_make IS NOT NULL OR camera_model IS NOT NULL;
"#,
    r#"
-- Listing photos in date order (a filter with no query) walks this instead of sorting them all.
-- The expression is the one DATE_SQL writes, without the table alias.
CREATE INDEX photos_by_date ON photos(COALESCE(taken_at, mtime_ns / 1000000000), id);
"#,
    r#"
-- The window's counts (per folder: photos, searchable, pending, failed; per format) kept by
-- triggers as the rows change. Counting them from the rows took 17 s on a million photos
-- (a lookup into the vectors' table per photo), every 2 s while indexing, holding the lock
-- that searches wait on.
CREATE INDEX embeddings_by_model ON embeddings(model_id, photo_id);
-- A folder's failures (the window lists up to 50) without reading the folder's other photos.
CREATE INDEX photos_by_root_status ON photos(root_id, status);
CREATE TABLE photo_counts (
    root_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    format TEXT NOT NULL, -- '' while unknown
    n INTEGER NOT NULL,
    PRIMARY KEY (root_id, status, format)
) WITHOUT ROWID;
-- Photos with status 'indexed' that have a vector for the model.
CREATE TABLE vector_counts (
    root_id INTEGER NOT NULL,
    model_id INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (root_id, model_id)
) WITHOUT ROWID;
INSERT INTO photo_counts
    SELECT root_id, status, COALESCE(format, ''), COUNT(*) FROM photos GROUP BY 1, 2, 3;
INSERT INTO vector_counts
    SELECT p.root_id, e.model_id, COUNT(*)
      FROM embeddings e INDEXED BY embeddings_by_model JOIN photos p ON p.id = e.photo_id
     WHERE p.status = 'indexed' GROUP BY 1, 2;

CREATE TRIGGER photo_counted AFTER INSERT ON photos BEGIN
    INSERT INTO photo_counts VALUES (new.root_id, new.status, COALESCE(new.format, ''), 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO vector_counts
        SELECT new.root_id, e.model_id, 1 FROM embeddings e
         WHERE e.photo_id = new.id AND new.status = 'indexed'
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER photo_recounted AFTER UPDATE OF root_id, status, format ON photos
WHEN old.root_id IS NOT new.root_id OR old.status IS NOT new.status
  OR old.format IS NOT new.format BEGIN
    UPDATE photo_counts SET n = n - 1
     WHERE root_id = old.root_id AND status = old.status AND format = COALESCE(old.format, '');
    INSERT INTO photo_counts VALUES (new.root_id, new.status, COALESCE(new.format, ''), 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    UPDATE vector_counts SET n = n - 1
     WHERE old.status = 'indexed' AND root_id = old.root_id
       AND model_id IN (SELECT model_id FROM embeddings WHERE photo_id = old.id);
    INSERT INTO vector_counts
        SELECT new.root_id, e.model_id, 1 FROM embeddings e
         WHERE e.photo_id = new.id AND new.status = 'indexed'
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
-- Before the row goes: its vectors are still there to say which counts it was in (the
-- cascade that deletes them runs after the row is gone, when the vector trigger finds no
-- photo and counts nothing).
CREATE TRIGGER photo_uncounted BEFORE DELETE ON photos BEGIN
    UPDATE photo_counts SET n = n - 1
     WHERE root_id = old.root_id AND status = old.status AND format = COALESCE(old.format, '');
    UPDATE vector_counts SET n = n - 1
     WHERE old.status = 'indexed' AND root_id = old.root_id
       AND model_id IN (SELECT model_id FROM embeddings WHERE photo_id = old.id);
END;
CREATE TRIGGER vector_counted AFTER INSERT ON embeddings BEGIN
    INSERT INTO vector_counts
        SELECT p.root_id, new.model_id, 1 FROM photos p
         WHERE p.id = new.photo_id AND p.status = 'indexed'
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER vector_uncounted AFTER DELETE ON embeddings BEGIN
    UPDATE vector_counts SET n = n - 1
     WHERE model_id = old.model_id
       AND root_id = (SELECT root_id FROM photos WHERE id = old.photo_id AND status = 'indexed');
END;
CREATE TRIGGER root_uncounted AFTER DELETE ON roots BEGIN
    DELETE FROM photo_counts WHERE root_id = old.id;
    DELETE FROM vector_counts WHERE root_id = old.id;
END;
"#,
    r#"
-- Each folder's last auto-tag (its labels, as JSON, and thresholds): photos that arrive in the
-- folder later are tagged as that run would have tagged them. seq orders the runs: where tagged
-- folders nest, the latest run that covers a photo decides, as it did for the photos there then.
CREATE TABLE tag_rules (
    folder BLOB PRIMARY KEY,
    labels TEXT NOT NULL,
    threshold REAL NOT NULL,
    min_cosine REAL NOT NULL,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- How an indexed photo's picture came out when it is not all there ("decoded with warnings: ...",
-- "damaged: ..."): a viewer shows such a file, so it is indexed, and `status` says so beside it.
ALTER TABLE photos ADD COLUMN note TEXT;
CREATE INDEX photos_noted ON photos(id) WHERE note IS NOT NULL;
-- Files a job has taken to read (decode and encode) and not yet committed. A process that dies
-- on a file (an abort in a codec, the OOM killer) leaves its rows here: the next job reads each
-- of them alone (alone = 1 while it is read), and one the process died on while reading it
-- alone is marked failed: at once when the process recorded a crash, else at the second such
-- death (strikes), since a kill from outside can land on any file.
CREATE TABLE in_flight (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    alone INTEGER NOT NULL,
    strikes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- The decoders (decode::decoder_set) that a file marked failed that way stopped: it is tried
-- again only under other decoders (a newer Glimpse, a codec library installed since).
CREATE TABLE quarantine (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    decoders TEXT NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- Embeddings are kept as f16 (cosine to the f32 original >= 0.9999 on CLIP-like vectors) in a
-- rowid table: a 1 KB row then fits in its page, where the WITHOUT ROWID table's 2 KB f32 row
-- spilled into an overflow page of its own (~5 KB a photo at a million photos; now ~1.4 KB).
CREATE TABLE embeddings_f16 (
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    -- little-endian IEEE half floats
    vector BLOB NOT NULL,
    encodes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (photo_id, model_id)
);
INSERT INTO embeddings_f16 (photo_id, model_id, vector, encodes)
    SELECT e.photo_id, e.model_id, glimpse_f32_to_f16(e.vector, m.dim), e.encodes
      FROM embeddings e JOIN models m ON m.id = e.model_id
     ORDER BY e.photo_id, e.model_id;
DROP TABLE embeddings;
-- Triggers on photos name `embeddings`, which does not exist for this one statement: the legacy
-- rename neither checks nor rewrites them.
PRAGMA legacy_alter_table = ON;
ALTER TABLE embeddings_f16 RENAME TO embeddings;
PRAGMA legacy_alter_table = OFF;
CREATE INDEX embeddings_by_model ON embeddings(model_id, photo_id);
CREATE TRIGGER embeddings_added AFTER INSERT ON embeddings BEGIN
    UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
END;
CREATE TRIGGER embeddings_changed AFTER UPDATE OF vector ON embeddings BEGIN
    UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
END;
CREATE TRIGGER embeddings_removed AFTER DELETE ON embeddings BEGIN
    UPDATE models SET generation = generation + 1 WHERE id = OLD.model_id;
END;
CREATE TRIGGER vector_counted AFTER INSERT ON embeddings BEGIN
    INSERT INTO vector_counts
        SELECT p.root_id, new.model_id, 1 FROM photos p
         WHERE p.id = new.photo_id AND p.status = 'indexed'
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER vector_uncounted AFTER DELETE ON embeddings BEGIN
    UPDATE vector_counts SET n = n - 1
     WHERE model_id = old.model_id
       AND root_id = (SELECT root_id FROM photos WHERE id = old.photo_id AND status = 'indexed');
END;
"#,
    r#"
-- A reader follows every commit, not only the indexer's saves of the vector index: each vector
-- records the model generation it was written at, and a removed one leaves a tombstone until an
-- index file that no longer holds it is recorded.
ALTER TABLE embeddings ADD COLUMN written INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS embeddings_written ON embeddings(model_id, written);
CREATE TABLE IF NOT EXISTS embeddings_gone (
    model_id INTEGER NOT NULL,
    photo_id INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (model_id, photo_id)
) WITHOUT ROWID;
DROP TRIGGER IF EXISTS embeddings_added;
DROP TRIGGER IF EXISTS embeddings_changed;
DROP TRIGGER IF EXISTS embeddings_removed;
CREATE TRIGGER embeddings_added AFTER INSERT ON embeddings BEGIN
    UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
    UPDATE embeddings SET written = (SELECT generation FROM models WHERE id = NEW.model_id)
     WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER embeddings_changed AFTER UPDATE OF vector ON embeddings BEGIN
    UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
    UPDATE embeddings SET written = (SELECT generation FROM models WHERE id = NEW.model_id)
     WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER embeddings_removed AFTER DELETE ON embeddings BEGIN
    UPDATE models SET generation = generation + 1 WHERE id = OLD.model_id;
    INSERT INTO embeddings_gone(model_id, photo_id, generation)
        VALUES (OLD.model_id, OLD.photo_id,
                COALESCE((SELECT generation FROM models WHERE id = OLD.model_id), 0))
        ON CONFLICT DO UPDATE SET generation = excluded.generation;
END;
-- Recording an index file ends the tombstones it accounts for (in the same statement, so a
-- reader never sees the record without them or them pruned without the record).
DROP TRIGGER IF EXISTS index_recorded;
CREATE TRIGGER index_recorded AFTER INSERT ON index_state BEGIN
    DELETE FROM embeddings_gone
     WHERE model_id = NEW.model_id AND generation <= NEW.generation;
END;
"#,
    r#"
-- The indexed photos of a folder taken out of the library, kept for a while (STASH_KEEP_SECS)
-- by content: adding the folder back copies each picture's vector, details and tags from here
-- instead of decoding and encoding it again. Outside the photo tables, so nothing searches,
-- counts or lists them meanwhile.
CREATE TABLE IF NOT EXISTS stash (
    content_hash BLOB NOT NULL,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    width INTEGER,
    height INTEGER,
    format TEXT,
    taken_at INTEGER,
    taken_offset_min INTEGER,
    camera_make TEXT,
    camera_model TEXT,
    gps_lat REAL,
    gps_lon REAL,
    metadata_read INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    -- the photo's tag rows then, as JSON: [[label, score, manual], ...] (manual as in `tags`;
    -- rows stashed before hand tags existed have no third item and count as auto-tags)
    tags TEXT NOT NULL DEFAULT '[]',
    stashed_at INTEGER NOT NULL,
    PRIMARY KEY (content_hash, model_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stash_by_age ON stash(stashed_at);
"#,
    r#"
-- Who decided a tag: 0 an auto-tag run (it may take it back), 1 the person (set by hand), -1 the
-- person took it off. Auto-tagging replaces only its own rows, so a hand decision outlives any
-- re-run; a row at -1 is never shown as a tag, it only keeps auto-tagging from adding it again.
ALTER TABLE tags ADD COLUMN manual INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (-1, 0, 1));
-- A tag first named by hand ("holiday", "mum") is not a label for auto-tagging: it joins the
-- labels "Auto-tag this folder" suggests only once an auto-tag run names it.
ALTER TABLE labels ADD COLUMN by_hand INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- The words in the pictures. A row in text_read says that the text reader of `version` read the
-- photo's picture (the content `content_hash`) and found `lines` lines (0: none), or failed
-- (`error`, then lines = 0): either way it is not read again until the version changes, so a
-- picture that fails is never retried in a loop. A new content (the file changed) drops it.
CREATE TABLE text_read (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    content_hash BLOB,
    lines INTEGER NOT NULL,
    error TEXT,
    read_at INTEGER NOT NULL
);
CREATE INDEX text_read_by_version ON text_read(version, photo_id);
-- The lines found, in reading order: the text, its box (four corners, clockwise from the
-- top-left of the text, in pixels of the upright picture) and the reader's confidence.
CREATE TABLE text_lines (
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    text TEXT NOT NULL,
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    x2 REAL NOT NULL, y2 REAL NOT NULL, x3 REAL NOT NULL, y3 REAL NOT NULL,
    confidence REAL NOT NULL,
    UNIQUE (photo_id, line_no)
);
-- Every run of three characters of every line, case and (Latin) accents folded: a word, part
-- of a word or a run of CJK characters finds its lines without reading them all. Kept in step
-- with text_lines by the triggers below (a photo's deletion cascades through them too).
CREATE VIRTUAL TABLE text_fts USING fts5(
    text, content = 'text_lines', content_rowid = 'rowid',
    tokenize = 'trigram remove_diacritics 1'
);
CREATE TRIGGER text_line_added AFTER INSERT ON text_lines BEGIN
    INSERT INTO text_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER text_line_removed AFTER DELETE ON text_lines BEGIN
    INSERT INTO text_fts(text_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TRIGGER text_line_changed AFTER UPDATE OF text ON text_lines BEGIN
    INSERT INTO text_fts(text_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO text_fts(rowid, text) VALUES (new.rowid, new.text);
END;
-- A removed folder's text is stashed with its vectors (as JSON, see `Catalog::remove_root`), so
-- adding the folder back does not read its pictures again.
ALTER TABLE stash ADD COLUMN text TEXT;
"#,
    r#"
-- photos_by_root_status (root_id, status) answers every lookup by folder photos_by_root did, so
-- that one only cost ~10 bytes a photo. (Embeddings written from here on are packed, see
-- `embedding_blob`; the f16 ones already stored are read as they are.)
DROP INDEX IF EXISTS photos_by_root;
"#,
];

/// How long the photos of a removed folder stay in the stash: adding the folder back within
/// this time is a quick pass over its files, not a second first index.
pub const STASH_KEEP_SECS: i64 = 30 * 24 * 3600;

/// Where the vector of a picture the library has already encoded is copied from, so that the
/// same bytes are never decoded and encoded twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A photo of the library with the same bytes (by its id).
    Photo(i64),
    /// A photo of a folder removed not long ago (the stash, by the same content hash).
    Stashed,
}

/// The migration (1-based) that records hand-set and hand-removed tags.
#[cfg(test)]
const MANUAL_TAGS_MIGRATION: usize = 12;

/// The migration (1-based) that stores the words read in pictures.
#[cfg(test)]
const TEXT_MIGRATION: usize = 13;

/// What a reader must apply to the vectors it holds to catch up with the catalog
/// ([`Catalog::follow`]).
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// The model generation these changes bring the reader to.
    pub generation: i64,
    /// Vectors written (added or replaced) since, as stored.
    pub written: Vec<(i64, Vec<f32>)>,
    /// Photos whose vector was removed since.
    pub gone: Vec<i64>,
}

/// What the catalog says about a model's vectors at one instant, for a reader to catch up.
#[derive(Debug, Clone)]
pub enum Following {
    /// The saved index file is no longer the one the reader holds: load the recorded one,
    /// then ask again from its generation.
    Reload,
    /// Same file; these are the commits since the reader's generation (`None`: none).
    Changes(Option<Changes>),
}

/// A folder's last auto-tag, kept so that photos arriving in the folder later are tagged the
/// same way without the user running it again.
#[derive(Debug, Clone, PartialEq)]
pub struct TagRule {
    /// The folder that was tagged (with its subfolders).
    pub folder: PathBuf,
    /// Its labels, cleaned, in the order given.
    pub labels: Vec<String>,
    /// Smallest share of the softmax over `labels` that makes a tag.
    pub threshold: f32,
    /// Smallest cosine between photo and label that makes a tag.
    pub min_cosine: f32,
}

/// One line of text read in a picture, in the catalog's terms: what the text reader hands over
/// to be stored, and what search and the window read back (storage knows nothing of the reader).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TextLineRow {
    /// The line as read.
    pub text: String,
    /// Its box: four corners (x, y), clockwise from the top left of the text, in pixels of the
    /// upright picture (what the window outlines).
    pub quad: [[f32; 2]; 4],
    /// How sure the reader was, 0 to 1.
    pub confidence: f32,
}

/// What reading one picture's text came to; either way the picture is not read again by the
/// same reader version.
#[derive(Debug, Clone, PartialEq)]
pub enum TextOutcome {
    /// The lines found, in reading order (none: the picture shows no text).
    Lines(Vec<TextLineRow>),
    /// The picture could not be read, and why (for `status`).
    Failed(String),
}

/// How far reading the pictures' text has come for one reader version, for progress bars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TextProgress {
    /// Searchable photos in reachable folders: those the reader is to read.
    pub total: u64,
    /// Of those, read by this version (failures included).
    pub read: u64,
    /// Of those read, the ones that show text.
    pub with_text: u64,
    /// Of those read, the ones that could not be read.
    pub failed: u64,
}

/// Paths as stored: the OS bytes on Unix (non-UTF-8 names survive), UTF-8 elsewhere.
pub fn path_bytes(p: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        p.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        p.to_string_lossy().into_owned().into_bytes()
    }
}

/// The inverse of [`path_bytes`].
pub fn bytes_path(b: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(b))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(b).into_owned())
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The widths a packed embedding's codes may take, in bits.
const PACKED_BITS: std::ops::RangeInclusive<u32> = 8..=16;

/// The bytes before a packed blob's codes: its code width in bits (which is also what tells it
/// from the f16 blobs of older libraries: those have an even length and no header, packed blobs
/// an odd length), the dimension (u16) and the scale (f32).
const PACKED_HEADER: usize = 1 + 2 + 4;

/// A photo's embedding as stored, the exact vector every search ends on (the vector index holds
/// i8 rows): block floating point, each coordinate a signed multiple of one scale per row, in
/// the fewest bits whose rounding moves the vector no further than f16 would (so no search
/// answer can move more than it did on the f16 blobs this replaces). 13 or 14 bits, ~890 bytes
/// at 512-d against 1,024 for f16, on vectors shaped like CLIP's; up to 16 bits for rows with
/// outlying coordinates, and f16 itself for the rare row no width serves (a few dimensions).
pub fn embedding_blob(v: &[f32]) -> Vec<u8> {
    let f16 = f16_blob(v);
    if u16::try_from(v.len()).is_err() {
        // Wider than the header can say.
        return f16;
    }
    let bound = distance(v, &blob_embedding(&f16));
    // Where to start looking: a width whose step is 2⁻¹⁰ of the row's RMS coordinate roughly
    // matches f16, so one narrower than that rarely serves and is tried first.
    let largest = v.iter().fold(0f32, |a, x| a.max(x.abs()));
    let rms = (v.iter().map(|x| x * x).sum::<f32>() / v.len().max(1) as f32).sqrt();
    let reach = if rms > 0.0 {
        largest / rms * 1024.0
    } else {
        0.0
    };
    let first = ((reach + 1.0).log2().ceil().min(30.0) as u32)
        .clamp(*PACKED_BITS.start(), *PACKED_BITS.end());
    (first..=*PACKED_BITS.end())
        .map(|bits| pack(v, largest, bits))
        .find(|packed| distance(v, &blob_embedding(packed)) <= bound)
        .unwrap_or(f16)
}

/// `v` as the f16 blobs libraries stored before the packed form (and still store where no
/// packed width serves).
fn f16_blob(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect()
}

/// The Euclidean distance between two vectors, in f64.
fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// `v` packed as `bits`-bit two's complement codes of one scale (`largest`, its largest
/// |coordinate|, / (2^(bits-1) - 1)), least significant bit first; at most `u16::MAX`
/// coordinates ([`embedding_blob`] keeps wider vectors as f16).
fn pack(v: &[f32], largest: f32, bits: u32) -> Vec<u8> {
    let dim = u16::try_from(v.len()).unwrap_or(u16::MAX);
    let v = &v[..usize::from(dim)];
    let top = ((1u32 << (bits - 1)) - 1) as f32;
    let scale = if largest.is_finite() && largest > 0.0 {
        largest / top
    } else {
        0.0
    };
    let mask = (1u64 << bits) - 1;
    let body = (v.len() * bits as usize).div_ceil(8).next_multiple_of(2);
    let mut out = Vec::with_capacity(PACKED_HEADER + body);
    out.push(bits as u8);
    out.extend_from_slice(&dim.to_le_bytes());
    out.extend_from_slice(&scale.to_le_bytes());
    let (mut acc, mut held) = (0u64, 0u32);
    for x in v {
        let q = if scale > 0.0 {
            (x / scale).round()
        } else {
            0.0
        };
        // `as` saturates a stray NaN to 0.
        acc |= (q.clamp(-top, top) as i64 as u64 & mask) << held;
        held += bits;
        while held >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            held -= 8;
        }
    }
    if held > 0 {
        out.push(acc as u8);
    }
    out.resize(PACKED_HEADER + body, 0);
    out
}

/// A stored embedding back as f32 at unit length again (rounding moves the length by ~1e-5), so
/// that a dot product with it stays a cosine. Reads both the packed form and the f16 blobs of
/// libraries written before it; a blob of neither form gives an empty vector, which every
/// reader refuses as the wrong dimension.
pub fn blob_embedding(b: &[u8]) -> Vec<f32> {
    if b.len().is_multiple_of(2) {
        return glimpse_clip::embedding::unit(
            b.chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        );
    }
    let (Some(&bits), Some(dim), Some(scale)) = (
        b.first(),
        b.get(1..3).and_then(|d| <[u8; 2]>::try_from(d).ok()),
        b.get(3..7).and_then(|s| <[u8; 4]>::try_from(s).ok()),
    ) else {
        return Vec::new();
    };
    let bits = u32::from(bits);
    let dim = usize::from(u16::from_le_bytes(dim));
    let scale = f32::from_le_bytes(scale);
    let codes = &b[PACKED_HEADER..];
    if !PACKED_BITS.contains(&bits) || codes.len() < (dim * bits as usize).div_ceil(8) {
        return Vec::new();
    }
    let (mask, shift) = ((1u64 << bits) - 1, 64 - bits);
    let mut v = Vec::with_capacity(dim);
    let (mut acc, mut held) = (0u64, 0u32);
    let mut bytes = codes.iter();
    for _ in 0..dim {
        while held < bits {
            acc |= u64::from(*bytes.next().unwrap_or(&0)) << held;
            held += 8;
        }
        // Sign-extends the code.
        let code = (((acc & mask) << shift) as i64 >> shift) as f32;
        v.push(code * scale);
        acc >>= bits;
        held -= bits;
    }
    glimpse_clip::embedding::unit(v)
}

/// The SQL function migration 9 converts the stored f32 embeddings with: `(blob, dim)` → the
/// stored form ([`embedding_blob`]; f16 when that migration was written, hence the name). A
/// blob not of f32 size is kept as it is, so the migration can run twice.
fn register_f16_conversion(conn: &Connection) -> Result<(), CatalogError> {
    conn.create_scalar_function(
        "glimpse_f32_to_f16",
        2,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8
            | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let blob = ctx.get::<Vec<u8>>(0)?;
            let dim = ctx.get::<i64>(1)?;
            Ok(if blob.len() as i64 == 4 * dim {
                embedding_blob(&blob_vector(&blob))
            } else {
                blob
            })
        },
    )
    .ctx("register the f16 conversion")
}

/// The SQL function `glimpse_fold(text)`: [`crate::words::fold`], for matching terms too short
/// for the trigram index by reading the lines.
fn register_fold(conn: &Connection) -> Result<(), CatalogError> {
    conn.create_scalar_function(
        "glimpse_fold",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8
            | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(ctx
                .get::<Option<String>>(0)?
                .map(|t| crate::words::fold(&t)))
        },
    )
    .ctx("register the text folding")
}

/// Label vectors (few, cached per model) stay f32.
fn vector_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A stored vector with the pixel size, format and metadata of its photo, for reuse by a copy.
struct StoredVector {
    blob: Vec<u8>,
    width: Option<u32>,
    height: Option<u32>,
    format: Option<String>,
    metadata: Metadata,
    metadata_read: bool,
    note: Option<String>,
}

/// A photo root folder (serialised for `glimpse roots list --json` and `status --json`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Root {
    /// Row id.
    pub id: i64,
    /// The folder.
    pub path: PathBuf,
    /// False while the folder is unreachable (unplugged drive); its photos are kept.
    pub online: bool,
}

/// Photos of one format by state, for `status` (and its `--json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FormatCount {
    /// The format ("jpeg", "png", ..., "heic", "cr2"; "other" for names without a photo
    /// extension).
    pub format: String,
    /// Searchable (for any model).
    pub indexed: u64,
    /// Could not be read or decoded.
    pub failed: u64,
    /// In a format this build cannot decode.
    pub unsupported: u64,
    /// Waiting for the indexer (or gone from an offline root).
    pub pending: u64,
}

/// The format a file's name says, in the spelling decoded photos are stored with.
fn format_by_name(path: &Path) -> String {
    match glimpse_clip::formats::format_of(path).map(|f| f.name()) {
        Some("jpg" | "jpe" | "jfif") => "jpeg".into(),
        Some("tif") => "tiff".into(),
        Some("heif") => "heic".into(),
        Some(other) => other.into(),
        None => "other".into(),
    }
}

/// A root with its photo counts, for the app's folder panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCounts {
    /// The root.
    pub root: Root,
    /// Photo rows under it.
    pub photos: u64,
    /// Photos with a vector for the model.
    pub indexed: u64,
    /// Photos waiting for the indexer.
    pub pending: u64,
    /// Photos that failed or are in a format this build cannot read.
    pub failed: u64,
}

/// What the catalog knows about one file, for change detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Row id.
    pub id: i64,
    /// Size at the last scan.
    pub size: i64,
    /// Modification time at the last scan.
    pub mtime_ns: i64,
    /// Status at the last scan.
    pub status: String,
    /// Whether it has an embedding for the current model.
    pub has_vector: bool,
    /// Whether it failed as [`STOPPED_WHILE_READING`]: when failed files are tried again, it
    /// is tried alone.
    pub stopped_reading: bool,
}

/// Counts for `glimpse status`.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Photo rows.
    pub photos: u64,
    /// Photos with an embedding for the model.
    pub indexed: u64,
    /// Photos that failed.
    pub failed: u64,
    /// Photos waiting to be indexed.
    pub pending: u64,
    /// Photos whose file is gone from an online root... or whose root is offline.
    pub missing: u64,
    /// Files in formats this build cannot decode.
    pub unsupported: u64,
    /// Embedding rows for the model.
    pub embeddings: u64,
    /// Failure reasons with their counts, most common first.
    pub failures: Vec<(String, u64)>,
    /// Notes on indexed photos ("decoded with warnings: ...") with their counts, most common
    /// first.
    pub notes: Vec<(String, u64)>,
}

/// The reason a file gets when the process died twice while reading it, the second time with
/// no other file in flight: the one file that must not be read again.
pub const STOPPED_WHILE_READING: &str = "Glimpse stopped while reading this file";

/// Creates the library folder and its thumbnail folder readable by the user alone (0700 on
/// Unix): the catalog holds every photo's path, place and camera, and the thumbnails show them.
/// An existing one that we own and others can read is made private, and the change is logged;
/// one owned by another user is left as it is, with a warning. Parent folders get the usual
/// permissions.
fn private_folders(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let private = |folder: &Path| -> std::io::Result<()> {
            match std::fs::DirBuilder::new().mode(0o700).create(folder) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            let meta = std::fs::metadata(folder)?;
            if !meta.is_dir() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "a file is in the way of the folder",
                ));
            }
            let mode = meta.permissions().mode();
            if mode & 0o077 == 0 {
                return Ok(());
            }
            // SAFETY: geteuid has no preconditions and cannot fail.
            let me = unsafe { libc::geteuid() };
            if meta.uid() != me {
                tracing::warn!(
                    folder = %folder.display(),
                    "others can read this library folder (mode {:o}), and it belongs to another \
                     user: left as it is",
                    mode & 0o777
                );
                return Ok(());
            }
            let tight = mode & !0o077;
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(tight))?;
            tracing::info!(
                folder = %folder.display(),
                "others could read this library folder (mode {:o}); made it private ({:o})",
                mode & 0o777,
                tight & 0o777
            );
            Ok(())
        };
        private(dir)?;
        private(&dir.join("thumbs"))
    }
    #[cfg(not(unix))]
    {
        // No mode bits here: the default library folder, under the user's profile, is private
        // to the user by the access lists it inherits.
        std::fs::create_dir_all(dir.join("thumbs"))
    }
}

/// An open catalog.
pub struct Catalog {
    conn: Connection,
}

impl Catalog {
    /// Opens (creating and migrating) `<dir>/catalog.sqlite`.
    pub fn open(dir: &Path) -> Result<Self, CatalogError> {
        private_folders(dir).map_err(|source| CatalogError::Folder {
            path: dir.display().to_string(),
            source,
        })?;
        let conn = Connection::open(dir.join("catalog.sqlite")).ctx("open")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .ctx("busy timeout")?;
        // A new catalog gets pages that hold fifteen 1 KB embedding rows (a 4 KB page holds
        // three, a quarter of it unused); this takes effect only before the first table.
        conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE};"))
            .ctx("page size")?;
        // WAL + synchronous=FULL: a committed batch survives a process kill and a power cut.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        )
        .ctx("pragmas")?;
        register_f16_conversion(&conn)?;
        register_fold(&conn)?;
        let mut me = Catalog { conn };
        let from = me.migrate()?;
        if from < F16_MIGRATION && from > 0 {
            me.reclaim_space()?;
        }
        me.merge_nested_roots()?;
        Ok(me)
    }

    /// Gives the pages a migration freed back to the disk (`VACUUM`, atomic like any SQLite
    /// write): after the embeddings became f16 a million-photo catalog shrinks from ~5 GB to
    /// ~1.5 GB. Skipped when little was freed.
    fn reclaim_space(&self) -> Result<(), CatalogError> {
        let pragma = |p: &str| -> Result<i64, CatalogError> {
            self.conn
                .query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
                .ctx("read page counts")
        };
        let (free, total) = (pragma("freelist_count")?, pragma("page_count")?);
        if free * 4 > total {
            let started = std::time::Instant::now();
            // The page size changes only by a VACUUM outside WAL mode, which needs this to be
            // the only connection; when another process has the catalog open, the pages stay
            // 4 KB and the VACUUM still gives the freed ones back.
            let resized = self
                .conn
                .execute_batch(&format!(
                    "PRAGMA journal_mode=DELETE; PRAGMA page_size = {PAGE_SIZE};"
                ))
                .is_ok();
            let vacuumed = self.conn.execute_batch("VACUUM").ctx("vacuum");
            if resized {
                self.conn
                    .execute_batch("PRAGMA journal_mode=WAL;")
                    .ctx("back to WAL")?;
            }
            vacuumed?;
            tracing::info!(
                freed_pages = free,
                ms = started.elapsed().as_millis() as u64,
                "catalog compacted after migration"
            );
        }
        Ok(())
    }

    /// Runs the migrations this catalog lacks; returns the version it had.
    fn migrate(&mut self) -> Result<usize, CatalogError> {
        let found = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .ctx("read schema version")?;
        // A version this build does not know is refused before anything is written.
        let version = match usize::try_from(found) {
            Ok(v) if v <= MIGRATIONS.len() => v,
            _ => {
                return Err(CatalogError::Newer {
                    found,
                    known: MIGRATIONS.len(),
                })
            }
        };
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.transaction().ctx("begin migration")?;
            tx.execute_batch(sql).ctx("migrate")?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .ctx("set schema version")?;
            tx.commit().ctx("commit migration")?;
        }
        Ok(version)
    }

    /// `PRAGMA integrity_check`: "ok" or the problems found.
    pub fn integrity_check(&self) -> Result<String, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .ctx("integrity check")?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .ctx("integrity check")?
            .collect::<Result<_, _>>()
            .ctx("integrity check")?;
        Ok(rows.join("; "))
    }

    /// The row id of a model, created on first use.
    pub fn model_id(&self, name: &str, dim: usize) -> Result<i64, CatalogError> {
        self.conn
            .execute(
                "INSERT INTO models(name, dim) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                params![name, dim as i64],
            )
            .ctx("add model")?;
        self.conn
            .query_row("SELECT id FROM models WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .ctx("model id")
    }

    /// Adds a photo folder and returns the root that now holds it. One file must belong to one
    /// root (with two, each scan claims it and an index job encodes it twice), so a folder
    /// inside a root is already in the library: that root is returned, unchanged. A folder
    /// holding roots takes them in: their photos, with their vectors, tags and metadata, become
    /// its own, and the inner roots go.
    pub fn add_root(&self, path: &Path) -> Result<Root, CatalogError> {
        if let Some(r) = self.root_holding(path)? {
            return Ok(r);
        }
        let tx = self
            .conn
            .unchecked_transaction()
            .ctx("begin adding a root")?;
        tx.execute(
            "INSERT INTO roots(path, added_at) VALUES (?1, ?2)",
            params![path_bytes(path), now()],
        )
        .ctx("add root")?;
        let id = tx.last_insert_rowid();
        for inner in self.roots()? {
            if inner.id != id && inner.path.starts_with(path) {
                absorb_root(&tx, inner.id, id)?;
            }
        }
        tx.commit().ctx("commit adding a root")?;
        Ok(Root {
            id,
            path: path.to_path_buf(),
            online: true,
        })
    }

    /// The root that holds `path` (the root itself or a folder inside it), if any.
    pub(crate) fn root_holding(&self, path: &Path) -> Result<Option<Root>, CatalogError> {
        Ok(self
            .roots()?
            .into_iter()
            .filter(|r| path.starts_with(&r.path))
            .min_by_key(|r| r.path.components().count()))
    }

    /// Folds roots that lie inside other roots into the outermost one, as [`Catalog::add_root`]
    /// does: libraries written before it refused nesting can hold both a folder and one inside
    /// it, which made every index job fail on the photos the two share.
    fn merge_nested_roots(&self) -> Result<(), CatalogError> {
        let roots = self.roots()?;
        let nested: Vec<(i64, i64)> = roots
            .iter()
            .filter_map(|inner| {
                roots
                    .iter()
                    .filter(|o| o.id != inner.id && inner.path.starts_with(&o.path))
                    .min_by_key(|o| o.path.components().count())
                    .map(|outer| (inner.id, outer.id))
            })
            .collect();
        if nested.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .unchecked_transaction()
            .ctx("begin merging roots")?;
        for (inner, outer) in nested {
            tracing::info!(inner, outer, "a photo folder inside another joins it");
            absorb_root(&tx, inner, outer)?;
        }
        tx.commit().ctx("commit merging roots")
    }

    /// Removes a root and everything under it from the library (not from the disk).
    pub fn remove_root(&self, path: &Path) -> Result<Vec<i64>, CatalogError> {
        let b = path_bytes(path);
        let ids = self.ids_where(
            "SELECT p.id FROM photos p JOIN roots r ON p.root_id = r.id WHERE r.path = ?1",
            &b,
        )?;
        // Kept a while by content, with their tags and text: the folder added back (or a copy
        // of its pictures) is then indexed without decoding or reading anything.
        self.conn
            .execute(
                "INSERT OR REPLACE INTO stash (content_hash, model_id, vector, width, height,
                     format, taken_at, taken_offset_min, camera_make, camera_model, gps_lat,
                     gps_lon, metadata_read, note, tags, stashed_at, text)
                 SELECT p.content_hash, e.model_id, e.vector, p.width, p.height, p.format,
                     p.taken_at, p.taken_offset_min, p.camera_make, p.camera_model, p.gps_lat,
                     p.gps_lon, p.metadata_read, p.note,
                     (SELECT json_group_array(json_array(l.name, t.score, t.manual))
                        FROM tags t JOIN labels l ON l.id = t.label_id WHERE t.photo_id = p.id),
                     ?2,
                     (SELECT json_object('version', r.version, 'error', r.error, 'lines',
                         -- json(): a subquery's result is text to json_object, not an array
                         json((SELECT json_group_array(json_array(x.text, x.confidence, x.x0,
                                     x.y0, x.x1, x.y1, x.x2, x.y2, x.x3, x.y3)
                                     ORDER BY x.line_no)
                            FROM text_lines x WHERE x.photo_id = p.id)))
                        FROM text_read r
                       WHERE r.photo_id = p.id AND r.content_hash = p.content_hash)
                   FROM photos p JOIN roots r ON p.root_id = r.id
                   JOIN embeddings e ON e.photo_id = p.id
                  WHERE r.path = ?1 AND p.status = 'indexed' AND p.content_hash IS NOT NULL",
                params![&b, now()],
            )
            .ctx("stash removed photos")?;
        let removed = self
            .conn
            .execute("DELETE FROM roots WHERE path = ?1", [&b])
            .ctx("remove root")?;
        if removed > 0 {
            // The folder's auto-tags go with it: added again later, it starts afresh.
            self.forget_tag_rules(path)?;
        }
        Ok(ids)
    }

    fn ids_where(&self, sql: &str, arg: &[u8]) -> Result<Vec<i64>, CatalogError> {
        let mut stmt = self.conn.prepare(sql).ctx("select ids")?;
        let ids = stmt
            .query_map([arg], |r| r.get(0))
            .ctx("select ids")?
            .collect::<Result<Vec<i64>, _>>()
            .ctx("select ids")?;
        Ok(ids)
    }

    /// All roots.
    pub fn roots(&self) -> Result<Vec<Root>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, path, online FROM roots ORDER BY id")
            .ctx("list roots")?;
        let roots = stmt
            .query_map([], |r| {
                Ok(Root {
                    id: r.get(0)?,
                    path: bytes_path(&r.get::<_, Vec<u8>>(1)?),
                    online: r.get(2)?,
                })
            })
            .ctx("list roots")?
            .collect::<Result<_, _>>()
            .ctx("list roots")?;
        Ok(roots)
    }

    /// Per-root counts for the app's folder panel: photos, indexed for `model_id`, pending,
    /// failed (unsupported files count as failed: the user sees why either way).
    pub(crate) fn root_counts(&self, model_id: i64) -> Result<Vec<RootCounts>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                // From the counts the triggers keep (migration 6): no photo row is read.
                "SELECT r.id, r.path, r.online,
                    (SELECT COALESCE(SUM(n), 0) FROM photo_counts c WHERE c.root_id = r.id),
                    (SELECT COALESCE(SUM(n), 0) FROM vector_counts v
                      WHERE v.root_id = r.id AND v.model_id = ?1),
                    (SELECT COALESCE(SUM(n), 0) FROM photo_counts c
                      WHERE c.root_id = r.id AND c.status = 'indexed'),
                    (SELECT COALESCE(SUM(n), 0) FROM photo_counts c
                      WHERE c.root_id = r.id AND c.status = 'pending'),
                    (SELECT COALESCE(SUM(n), 0) FROM photo_counts c
                      WHERE c.root_id = r.id AND c.status IN ('failed', 'unsupported'))
                 FROM roots r ORDER BY r.id",
            )
            .ctx("root counts")?;
        let rows = stmt
            .query_map([model_id], |r| {
                Ok(RootCounts {
                    root: Root {
                        id: r.get(0)?,
                        path: bytes_path(&r.get::<_, Vec<u8>>(1)?),
                        online: r.get(2)?,
                    },
                    photos: r.get::<_, i64>(3)? as u64,
                    indexed: r.get::<_, i64>(4)? as u64,
                    // Pending, and indexed for another model only: this one still needs them.
                    pending: (r.get::<_, i64>(6)? + r.get::<_, i64>(5)? - r.get::<_, i64>(4)?)
                        .max(0) as u64,
                    failed: r.get::<_, i64>(7)? as u64,
                })
            })
            .ctx("root counts")?
            .collect::<Result<_, _>>()
            .ctx("root counts")?;
        Ok(rows)
    }

    /// Up to `limit` failed or unsupported files under a root with their reasons, by path.
    pub fn root_failures(
        &self,
        root_id: i64,
        limit: usize,
    ) -> Result<Vec<(PathBuf, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, COALESCE(error, status) FROM photos
                 WHERE root_id = ?1 AND status IN ('failed', 'unsupported')
                 ORDER BY path LIMIT ?2",
            )
            .ctx("root failures")?;
        let rows = stmt
            .query_map(params![root_id, limit as i64], |r| {
                Ok((bytes_path(&r.get::<_, Vec<u8>>(0)?), r.get::<_, String>(1)?))
            })
            .ctx("root failures")?
            .collect::<Result<_, _>>()
            .ctx("root failures")?;
        Ok(rows)
    }

    /// The folders below a root that hold searchable photos, each with how many its subtree
    /// holds, by path: the folder tree the window browses by. One pass over the root's paths.
    pub fn folder_counts(&self, root_id: i64) -> Result<Vec<(PathBuf, u64)>, CatalogError> {
        let root: PathBuf = self
            .conn
            .query_row("SELECT path FROM roots WHERE id = ?1", [root_id], |r| {
                Ok(bytes_path(&r.get::<_, Vec<u8>>(0)?))
            })
            .ctx("read root")?;
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM photos WHERE root_id = ?1 AND status = 'indexed'")
            .ctx("folder counts")?;
        let mut counts: std::collections::BTreeMap<PathBuf, u64> = Default::default();
        let rows = stmt
            .query_map([root_id], |r| Ok(bytes_path(&r.get::<_, Vec<u8>>(0)?)))
            .ctx("folder counts")?;
        for row in rows {
            let path = row.ctx("folder counts")?;
            let mut dir = path.parent();
            while let Some(d) = dir {
                if d == root || !d.starts_with(&root) {
                    break;
                }
                *counts.entry(d.to_path_buf()).or_default() += 1;
                dir = d.parent();
            }
        }
        Ok(counts.into_iter().collect())
    }

    /// Photos per format and state, most photos first. Decoded photos count under the format
    /// their bytes are in; the rest (failed, unsupported, pending) under their extension.
    pub(crate) fn format_counts(&self) -> Result<Vec<FormatCount>, CatalogError> {
        let mut by: std::collections::BTreeMap<String, FormatCount> = Default::default();
        let mut add = |format: String, status: &str, n: u64| {
            let c = by.entry(format.clone()).or_insert_with(|| FormatCount {
                format,
                ..FormatCount::default()
            });
            match status {
                "indexed" => c.indexed += n,
                "failed" => c.failed += n,
                "unsupported" => c.unsupported += n,
                _ => c.pending += n,
            }
        };
        // Decoded photos from the kept counts (migration 6): no photo row is read.
        let mut stmt = self
            .conn
            .prepare(
                "SELECT format, status, SUM(n) FROM photo_counts WHERE format != ''
                 GROUP BY format, status HAVING SUM(n) > 0",
            )
            .ctx("format counts")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .ctx("format counts")?;
        for row in rows {
            let (f, status, n) = row.ctx("format counts")?;
            add(f, &status, n as u64);
        }
        // Rows never decoded are few (failed, unsupported, pending): named by extension, read
        // through the folder-and-state index for the states the counts say hold any.
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.path, p.status FROM photo_counts c
                   JOIN photos p INDEXED BY photos_by_root_status
                     ON p.root_id = c.root_id AND p.status = c.status
                  WHERE c.format = '' AND c.n > 0 AND p.format IS NULL",
            )
            .ctx("format counts")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
            })
            .ctx("format counts")?;
        for row in rows {
            let (path, status) = row.ctx("format counts")?;
            add(format_by_name(&bytes_path(&path)), &status, 1);
        }
        let mut out: Vec<FormatCount> = by.into_values().collect();
        out.sort_by_key(|c| {
            (
                std::cmp::Reverse(c.indexed + c.failed + c.unsupported + c.pending),
                c.format.clone(),
            )
        });
        Ok(out)
    }

    /// Searchable photos per format (as decoded), from the kept counts: the type filter's
    /// choices, cheap enough to ask after every job.
    pub(crate) fn indexed_formats(&self) -> Result<Vec<(String, u64)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT format, SUM(n) FROM photo_counts WHERE status = 'indexed' AND format != ''
                 GROUP BY format HAVING SUM(n) > 0",
            )
            .ctx("indexed formats")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .ctx("indexed formats")?
            .collect::<Result<_, _>>()
            .ctx("indexed formats")?;
        Ok(rows)
    }

    /// Every failed or unsupported file with its reason, by path (`status --files`).
    pub(crate) fn failed_files(&self) -> Result<Vec<(PathBuf, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, COALESCE(error, status) FROM photos INDEXED BY photos_by_root_status
                  WHERE root_id IN (SELECT id FROM roots) AND status IN ('failed', 'unsupported')
                  ORDER BY path",
            )
            .ctx("failed files")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((bytes_path(&r.get::<_, Vec<u8>>(0)?), r.get::<_, String>(1)?))
            })
            .ctx("failed files")?
            .collect::<Result<_, _>>()
            .ctx("failed files")?;
        Ok(rows)
    }

    /// Every indexed photo whose picture came out incomplete, with its note, by path
    /// (`status --files`).
    pub fn noted_files(&self) -> Result<Vec<(PathBuf, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, note FROM photos INDEXED BY photos_noted
                  WHERE note IS NOT NULL AND root_id IN (SELECT id FROM roots) ORDER BY path",
            )
            .ctx("noted files")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((bytes_path(&r.get::<_, Vec<u8>>(0)?), r.get::<_, String>(1)?))
            })
            .ctx("noted files")?
            .collect::<Result<_, _>>()
            .ctx("noted files")?;
        Ok(rows)
    }

    /// Lets commits on this connection skip the disk flush: what it writes (the claims of
    /// [`Catalog::claim`]) must survive the process dying, which the operating system's cache
    /// ensures, not a power cut, and flushing per chunk would slow indexing.
    pub(crate) fn survive_the_process_only(&self) -> Result<(), CatalogError> {
        self.conn
            .execute_batch("PRAGMA synchronous=NORMAL;")
            .ctx("pragmas")
    }

    /// Records, durably and before any of them is read, that a job is about to read these
    /// photos (`alone`: one at a time, nothing else in flight), so that a process that dies on
    /// one of them leaves a trace the next job acts on. One transaction for the lot.
    pub(crate) fn claim(&mut self, ids: &[i64], alone: bool) -> Result<(), CatalogError> {
        let tx = self.conn.transaction().ctx("begin claim")?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO in_flight(photo_id, alone) VALUES (?1, ?2)
                     ON CONFLICT(photo_id) DO UPDATE SET alone = excluded.alone",
                )
                .ctx("claim")?;
            for id in ids {
                put.execute(params![id, alone]).ctx("claim")?;
            }
        }
        tx.commit().ctx("commit claim")
    }

    /// Forgets the claims of a job that ended without the process dying (what it committed
    /// already cleared its own; the rest were cancelled or not reached).
    pub(crate) fn release(&mut self, ids: &[i64]) -> Result<(), CatalogError> {
        let tx = self.conn.transaction().ctx("begin release")?;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM in_flight WHERE photo_id = ?1")
                .ctx("release")?;
            for id in ids {
                del.execute([id]).ctx("release")?;
            }
        }
        tx.commit().ctx("commit release")
    }

    /// Acts on the claims a dead process left. A photo it was reading alone is marked failed
    /// ([`STOPPED_WHILE_READING`]) under `decoders` when the process recorded that it crashed
    /// (`crashed`: a fatal signal while reading it), or when it died reading it alone twice;
    /// the others are returned, to be read alone (their claims stay until then). Returns (to
    /// read alone, marked failed).
    pub(crate) fn settle_in_flight(
        &mut self,
        decoders: &str,
        crashed: bool,
    ) -> Result<(HashSet<i64>, usize), CatalogError> {
        let tx = self.conn.transaction().ctx("begin settle")?;
        tx.execute(
            "UPDATE in_flight SET strikes = strikes + 1 WHERE alone = 1",
            [],
        )
        .ctx("strikes")?;
        let condemned = if crashed {
            "alone = 1"
        } else {
            "alone = 1 AND strikes >= 2"
        };
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO quarantine(photo_id, decoders)
                 SELECT photo_id, ?1 FROM in_flight WHERE {condemned}"
            ),
            [decoders],
        )
        .ctx("quarantine")?;
        let failed = tx
            .execute(
                &format!(
                    "UPDATE photos SET status = 'failed', error = ?1, note = NULL, updated_at = ?2
                      WHERE id IN (SELECT photo_id FROM in_flight WHERE {condemned})"
                ),
                params![STOPPED_WHILE_READING, now()],
            )
            .ctx("quarantine")?;
        tx.execute(&format!("DELETE FROM in_flight WHERE {condemned}"), [])
            .ctx("quarantine")?;
        tx.execute("UPDATE in_flight SET alone = 0", [])
            .ctx("quarantine")?;
        let suspects = {
            let mut stmt = tx
                .prepare("SELECT photo_id FROM in_flight")
                .ctx("suspects")?;
            let rows = stmt
                .query_map([], |r| r.get::<_, i64>(0))
                .ctx("suspects")?
                .collect::<Result<HashSet<i64>, _>>()
                .ctx("suspects")?;
            rows
        };
        tx.commit().ctx("commit settle")?;
        Ok((suspects, failed))
    }

    /// Photos marked failed as [`STOPPED_WHILE_READING`] under `decoders`: not to be read
    /// again until the decoders change (or the file does).
    pub(crate) fn stopped_under(&self, decoders: &str) -> Result<HashSet<i64>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT q.photo_id FROM quarantine q JOIN photos p ON p.id = q.photo_id
                  WHERE q.decoders = ?1 AND p.status = 'failed' AND p.error IS ?2",
            )
            .ctx("quarantined")?;
        let rows = stmt
            .query_map(params![decoders, STOPPED_WHILE_READING], |r| r.get(0))
            .ctx("quarantined")?
            .collect::<Result<HashSet<i64>, _>>()
            .ctx("quarantined")?;
        Ok(rows)
    }

    /// Marks a root reachable or not (unplugged drives are kept, not purged).
    pub fn set_root_online(&self, id: i64, online: bool) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "UPDATE roots SET online = ?2 WHERE id = ?1",
                params![id, online],
            )
            .ctx("set root online")?;
        Ok(())
    }

    /// Everything known under a root, keyed by path bytes, for change detection.
    pub fn known_files(
        &self,
        root_id: i64,
        model_id: i64,
    ) -> Result<HashMap<Vec<u8>, Known>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.id, p.path, p.size, p.mtime_ns, p.status,
                        EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id = p.id AND e.model_id = ?2),
                        p.status = 'failed' AND p.error IS ?3
                 FROM photos p WHERE p.root_id = ?1",
            )
            .ctx("known files")?;
        let rows = stmt
            .query_map(params![root_id, model_id, STOPPED_WHILE_READING], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(1)?,
                    Known {
                        id: r.get(0)?,
                        size: r.get(2)?,
                        mtime_ns: r.get(3)?,
                        status: r.get(4)?,
                        has_vector: r.get(5)?,
                        stopped_reading: r.get(6)?,
                    },
                ))
            })
            .ctx("known files")?
            .collect::<Result<_, _>>()
            .ctx("known files")?;
        Ok(rows)
    }

    /// Records scanned files in one transaction: new ones are inserted as pending, changed ones
    /// (size or mtime) reset to pending with their old vector dropped. Returns their ids in
    /// input order.
    pub fn upsert_files(
        &mut self,
        root_id: i64,
        files: &[(PathBuf, i64, i64, Option<String>)],
    ) -> Result<Vec<i64>, CatalogError> {
        let tx = self.conn.transaction().ctx("begin upsert")?;
        let mut ids = Vec::with_capacity(files.len());
        {
            let mut up = tx
                .prepare(
                    "INSERT INTO photos(root_id, path, size, mtime_ns, status, error, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(path) DO UPDATE SET
                        root_id = excluded.root_id, size = excluded.size,
                        mtime_ns = excluded.mtime_ns, status = excluded.status,
                        error = excluded.error, content_hash = NULL, note = NULL,
                        updated_at = excluded.updated_at
                     RETURNING id",
                )
                .ctx("upsert file")?;
            let mut drop_vec = tx
                .prepare("DELETE FROM embeddings WHERE photo_id = ?1")
                .ctx("drop stale vector")?;
            for (path, size, mtime, unsupported) in files {
                let (status, error) = match unsupported {
                    Some(fmt) => ("unsupported", Some(format!("unsupported format: {fmt}"))),
                    None => ("pending", None),
                };
                let id: i64 = up
                    .query_row(
                        params![root_id, path_bytes(path), size, mtime, status, error, now()],
                        |r| r.get(0),
                    )
                    .ctx("upsert file")?;
                drop_vec.execute([id]).ctx("drop stale vector")?;
                ids.push(id);
            }
        }
        tx.commit().ctx("commit upsert")?;
        Ok(ids)
    }

    /// Content hashes that already have a vector for the model, to reuse them for moved and
    /// copied files.
    pub fn hashes_with_vector(
        &self,
        model_id: i64,
    ) -> Result<HashMap<ContentHash, Source>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.content_hash, p.id FROM photos p JOIN embeddings e
                 ON e.photo_id = p.id AND e.model_id = ?1 WHERE p.content_hash IS NOT NULL",
            )
            .ctx("hashes")?;
        let mut map = HashMap::new();
        let rows = stmt
            .query_map([model_id], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
            })
            .ctx("hashes")?;
        for row in rows {
            let (h, id) = row.ctx("hashes")?;
            if let Ok(h) = <[u8; 32]>::try_from(h.as_slice()) {
                map.insert(h, Source::Photo(id));
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT content_hash FROM stash WHERE model_id = ?1")
            .ctx("stashed hashes")?;
        let rows = stmt
            .query_map([model_id], |r| r.get::<_, Vec<u8>>(0))
            .ctx("stashed hashes")?;
        for row in rows {
            if let Ok(h) = <[u8; 32]>::try_from(row.ctx("stashed hashes")?.as_slice()) {
                // A photo in the library is the fresher source.
                map.entry(h).or_insert(Source::Stashed);
            }
        }
        Ok(map)
    }

    /// Forgets the stashed photos of folders removed before `cutoff` (Unix seconds); returns
    /// how many.
    pub fn drop_stash_before(&self, cutoff: i64) -> Result<usize, CatalogError> {
        self.conn
            .execute("DELETE FROM stash WHERE stashed_at < ?1", [cutoff])
            .ctx("compact stash")
    }

    /// Stashed photos, for `status` and tests.
    pub fn stash_len(&self) -> Result<u64, CatalogError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM stash", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .ctx("count stash")
    }

    /// Commits one pipeline batch in ONE transaction; returns the vectors to add to the index.
    pub fn commit_batch(
        &mut self,
        model_id: i64,
        outcomes: &[Outcome],
    ) -> Result<Vec<(i64, Vec<f32>)>, CatalogError> {
        self.atomically(|c| c.put_outcomes(model_id, outcomes))
    }

    /// [`Catalog::commit_batch`] for use inside [`Catalog::atomically`], with what else must
    /// land with the batch.
    pub(crate) fn put_outcomes(
        &self,
        model_id: i64,
        outcomes: &[Outcome],
    ) -> Result<Vec<(i64, Vec<f32>)>, CatalogError> {
        let mut added = Vec::new();
        // Cached on the connection: a CPU batch is 16 photos, and parsing these four statements
        // per batch was most of the commit thread's SQLite time.
        {
            let mut put = self
                .conn
                .prepare_cached(
                    "INSERT INTO embeddings(photo_id, model_id, vector, encodes) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(photo_id, model_id) DO UPDATE SET
                        vector = excluded.vector, encodes = encodes + excluded.encodes",
                )
                .ctx("store vector")?;
            let mut ok = self
                .conn
                .prepare_cached(
                    "UPDATE photos SET status = 'indexed', error = NULL, content_hash = ?2,
                     width = COALESCE(?3, width), height = COALESCE(?4, height),
                     format = COALESCE(?5, format), updated_at = ?6,
                     taken_at = ?7, taken_offset_min = ?8, camera_make = ?9, camera_model = ?10,
                     gps_lat = ?11, gps_lon = ?12, metadata_read = ?13, note = ?14
                     WHERE id = ?1",
                )
                .ctx("mark indexed")?;
            let mut fail = self
                .conn
                .prepare_cached(
                    "UPDATE photos SET status = ?2, error = ?3, note = NULL, updated_at = ?4
                     WHERE id = ?1",
                )
                .ctx("mark failed")?;
            let mut get = self
                .conn
                .prepare_cached(
                    "SELECT e.vector, p.width, p.height, p.format, p.taken_at, p.taken_offset_min,
                     p.camera_make, p.camera_model, p.gps_lat, p.gps_lon, p.metadata_read, p.note
                     FROM embeddings e
                     JOIN photos p ON p.id = e.photo_id WHERE e.photo_id = ?1 AND e.model_id = ?2",
                )
                .ctx("reuse vector")?;
            let mut get_stashed = self
                .conn
                .prepare_cached(
                    "SELECT vector, width, height, format, taken_at, taken_offset_min,
                     camera_make, camera_model, gps_lat, gps_lon, metadata_read, note
                     FROM stash WHERE content_hash = ?1 AND model_id = ?2",
                )
                .ctx("reuse stashed vector")?;
            let mut landed = self
                .conn
                .prepare_cached("DELETE FROM in_flight WHERE photo_id = ?1")
                .ctx("clear in flight")?;
            for o in outcomes {
                let id = match o {
                    Outcome::Encoded { photo_id, .. }
                    | Outcome::Reused { photo_id, .. }
                    | Outcome::Failed { photo_id, .. } => photo_id,
                };
                landed.execute([id]).ctx("clear in flight")?;
                match o {
                    Outcome::Encoded {
                        photo_id,
                        hash,
                        vector,
                        width,
                        height,
                        format,
                        metadata: m,
                        note,
                    } => {
                        let blob = embedding_blob(vector);
                        put.execute(params![photo_id, model_id, &blob, 1])
                            .ctx("store vector")?;
                        ok.execute(params![
                            photo_id,
                            hash.as_slice(),
                            width,
                            height,
                            format,
                            now(),
                            m.taken_at,
                            m.offset_minutes,
                            m.camera_make,
                            m.camera_model,
                            m.latitude,
                            m.longitude,
                            true,
                            note,
                        ])
                        .ctx("mark indexed")?;
                        self.drop_stale_text(*photo_id, Some(hash.as_slice()))?;
                        // As stored, so that what is computed from it now (the graph,
                        // tags on arrival) is what a later read computes.
                        added.push((*photo_id, blob_embedding(&blob)));
                    }
                    Outcome::Reused {
                        photo_id,
                        hash,
                        same_as,
                    } => {
                        // Same bytes, same pixels and metadata: copy them with the vector.
                        let (query, key) = match same_as {
                            Source::Photo(id) => (&mut get, rusqlite::types::Value::Integer(*id)),
                            Source::Stashed => (
                                &mut get_stashed,
                                rusqlite::types::Value::Blob(hash.to_vec()),
                            ),
                        };
                        let found: Option<StoredVector> = query
                            .query_row(params![key, model_id], |r| {
                                Ok(StoredVector {
                                    blob: r.get(0)?,
                                    width: r.get(1)?,
                                    height: r.get(2)?,
                                    format: r.get(3)?,
                                    metadata: Metadata {
                                        taken_at: r.get(4)?,
                                        offset_minutes: r.get(5)?,
                                        camera_make: r.get(6)?,
                                        camera_model: r.get(7)?,
                                        latitude: r.get(8)?,
                                        longitude: r.get(9)?,
                                    },
                                    metadata_read: r.get(10)?,
                                    note: r.get(11)?,
                                })
                            })
                            .optional()
                            .ctx("reuse vector")?;
                        match found {
                            Some(StoredVector {
                                blob,
                                width: w,
                                height: h,
                                format: f,
                                metadata: m,
                                metadata_read,
                                note,
                            }) => {
                                put.execute(params![photo_id, model_id, &blob, 0])
                                    .ctx("store vector")?;
                                ok.execute(params![
                                    photo_id,
                                    hash.as_slice(),
                                    w,
                                    h,
                                    f,
                                    now(),
                                    m.taken_at,
                                    m.offset_minutes,
                                    m.camera_make,
                                    m.camera_model,
                                    m.latitude,
                                    m.longitude,
                                    metadata_read,
                                    note,
                                ])
                                .ctx("mark indexed")?;
                                self.drop_stale_text(*photo_id, Some(hash.as_slice()))?;
                                match same_as {
                                    Source::Stashed => {
                                        self.restore_stashed_tags(*photo_id, hash, model_id)?;
                                        self.restore_stashed_text(*photo_id, hash, model_id)?;
                                    }
                                    Source::Photo(from) => {
                                        self.copy_text(*from, *photo_id, hash)?
                                    }
                                }
                                added.push((*photo_id, blob_embedding(&blob)));
                            }
                            None => {
                                // The source vanished meanwhile: leave pending for the next run.
                                fail.execute(params![
                                    photo_id,
                                    "pending",
                                    Option::<String>::None,
                                    now()
                                ])
                                .ctx("mark pending")?;
                            }
                        }
                    }
                    Outcome::Failed {
                        photo_id,
                        reason,
                        vanished,
                    } => {
                        let status = if *vanished { "missing" } else { "failed" };
                        fail.execute(params![photo_id, status, reason, now()])
                            .ctx("mark failed")?;
                        self.drop_stale_text(*photo_id, None)?;
                    }
                }
            }
        }
        Ok(added)
    }

    /// Gives a photo copied from the stash the tag rows its picture had when its folder was
    /// removed, with who decided each (a tag set or taken off by hand stays a hand decision,
    /// so auto-tagging neither removes nor re-adds it). A label deleted since comes back: the
    /// user had it on this picture; one first given by hand comes back as a hand tag, not as a
    /// label auto-tagging suggests.
    fn restore_stashed_tags(
        &self,
        photo_id: i64,
        hash: &ContentHash,
        model_id: i64,
    ) -> Result<(), CatalogError> {
        let json: String = self
            .conn
            .prepare_cached("SELECT tags FROM stash WHERE content_hash = ?1 AND model_id = ?2")
            .ctx("read stashed tags")?
            .query_row(params![hash.as_slice(), model_id], |r| r.get(0))
            .ctx("read stashed tags")?;
        // Written by the statement in `remove_root`; anything else is skipped, never fatal.
        let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap_or_else(|e| {
            tracing::warn!("stashed tags of photo {photo_id} are unreadable: {e}");
            Vec::new()
        });
        for row in rows {
            let (Some(name), Some(score)) = (row[0].as_str(), row[1].as_f64()) else {
                continue;
            };
            let manual = row[2].as_i64().unwrap_or(0).clamp(-1, 1);
            let name = name.trim().to_lowercase();
            self.conn
                .prepare_cached(
                    "INSERT INTO labels(name, by_hand) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                )
                .ctx("restore tag")?
                .execute(params![name, manual != 0])
                .ctx("restore tag")?;
            self.conn
                .prepare_cached(
                    "INSERT INTO tags(photo_id, label_id, score, manual)
                     SELECT ?1, id, ?3, ?4 FROM labels WHERE name = ?2
                     ON CONFLICT DO NOTHING",
                )
                .ctx("restore tag")?
                .execute(params![photo_id, name, score, manual])
                .ctx("restore tag")?;
        }
        Ok(())
    }

    /// Deletes photo rows (files gone from an online root); their vectors go with them. Tags
    /// describe the picture, so they stay in the library while a copy of it does. A moved or
    /// renamed file is a new row with the same bytes: when the job that deletes a row also
    /// indexed rows of its content (`indexed`), its tags pass to those that had none of their
    /// own, except the ones their folder's auto-tag has just tagged (`auto_tagged`), whose run
    /// decides. When the job indexed no copy and no other copy keeps tags, they pass to the
    /// untagged copies already in the library (a move seen over two jobs, its copy first; a
    /// duplicate deleted), again except those an auto-tag run covers. Returns how many rows
    /// received tags.
    pub fn delete_photos(
        &mut self,
        ids: &[i64],
        indexed: &HashSet<i64>,
        auto_tagged: &HashSet<i64>,
    ) -> Result<usize, CatalogError> {
        let ruled: Vec<PathBuf> = self.tag_rules()?.into_iter().map(|r| r.folder).collect();
        let going: HashSet<i64> = ids.iter().copied().collect();
        let tx = self.conn.transaction().ctx("begin delete")?;
        let mut inherited: HashSet<i64> = HashSet::new();
        {
            let mut same = tx
                .prepare(
                    "SELECT n.id, n.path, n.status = 'indexed',
                            NOT EXISTS (SELECT 1 FROM tags x WHERE x.photo_id = n.id)
                     FROM photos g JOIN photos n ON n.content_hash = g.content_hash
                     WHERE g.id = ?1 AND n.id <> g.id
                       AND EXISTS (SELECT 1 FROM tags t WHERE t.photo_id = g.id)",
                )
                .ctx("find copies")?;
            let mut carry = tx
                .prepare(
                    "INSERT OR IGNORE INTO tags(photo_id, label_id, score, manual)
                     SELECT ?2, label_id, score, manual FROM tags WHERE photo_id = ?1",
                )
                .ctx("carry tags")?;
            let mut del = tx
                .prepare("DELETE FROM photos WHERE id = ?1")
                .ctx("delete photo")?;
            for id in ids {
                let copies: Vec<(i64, Vec<u8>, bool, bool)> = same
                    .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .ctx("find copies")?
                    .collect::<Result<_, _>>()
                    .ctx("find copies")?;
                // A copy that took tags from a row deleted before this one may take these too
                // (two deleted copies of one photo passing theirs to one heir).
                let open = |n: &i64, untagged: bool| untagged || inherited.contains(n);
                let moved = copies.iter().any(|c| indexed.contains(&c.0));
                let mut takers: Vec<i64> = copies
                    .iter()
                    .filter(|(n, _, _, untagged)| {
                        open(n, *untagged) && indexed.contains(n) && !auto_tagged.contains(n)
                    })
                    .map(|c| c.0)
                    .collect();
                let kept = copies
                    .iter()
                    .any(|(n, _, _, untagged)| !going.contains(n) && !open(n, *untagged));
                if !moved && !kept {
                    takers = copies
                        .iter()
                        .filter(|(n, path, indexed, untagged)| {
                            *indexed
                                && open(n, *untagged)
                                && !going.contains(n)
                                && !ruled.iter().any(|f| bytes_path(path).starts_with(f))
                        })
                        .map(|c| c.0)
                        .collect();
                }
                for heir in takers {
                    carry.execute([id, &heir]).ctx("carry tags")?;
                    inherited.insert(heir);
                }
                del.execute([id]).ctx("delete photo")?;
            }
        }
        tx.commit().ctx("commit delete")?;
        Ok(inherited.len())
    }

    /// Every embedding of a model, to rebuild the vector index.
    pub fn embeddings(&self, model_id: i64) -> Result<Vec<(i64, Vec<f32>)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT photo_id, vector FROM embeddings WHERE model_id = ?1 ORDER BY photo_id",
            )
            .ctx("read embeddings")?;
        let rows = stmt
            .query_map([model_id], |r| {
                Ok((r.get(0)?, blob_embedding(&r.get::<_, Vec<u8>>(1)?)))
            })
            .ctx("read embeddings")?
            .collect::<Result<_, _>>()
            .ctx("read embeddings")?;
        Ok(rows)
    }

    /// Embeddings stored for a model: what a vector index brought up to date must hold.
    pub fn embedding_count(&self, model_id: i64) -> Result<u64, CatalogError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM embeddings WHERE model_id = ?1",
                [model_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .ctx("count embeddings")
    }

    /// Ids of the photos with an embedding for the model, to check the index file cheaply.
    pub fn embedding_ids(&self, model_id: i64) -> Result<Vec<i64>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT photo_id FROM embeddings WHERE model_id = ?1")
            .ctx("read embedding ids")?;
        let ids = stmt
            .query_map([model_id], |r| r.get(0))
            .ctx("read embedding ids")?
            .collect::<Result<_, _>>()
            .ctx("read embedding ids")?;
        Ok(ids)
    }

    /// Every embedding with its photo's path, for `status --dump-embeddings`.
    pub fn embeddings_with_paths(
        &self,
        model_id: i64,
    ) -> Result<Vec<(PathBuf, Vec<f32>)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.path, e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id
                 WHERE e.model_id = ?1 ORDER BY p.path",
            )
            .ctx("read embeddings")?;
        let rows = stmt
            .query_map([model_id], |r| {
                Ok((
                    bytes_path(&r.get::<_, Vec<u8>>(0)?),
                    blob_embedding(&r.get::<_, Vec<u8>>(1)?),
                ))
            })
            .ctx("read embeddings")?
            .collect::<Result<_, _>>()
            .ctx("read embeddings")?;
        Ok(rows)
    }

    /// What the saved vector index file holds, as recorded at its last save.
    pub fn index_state(
        &self,
        model_id: i64,
    ) -> Result<Option<crate::vectors::Saved>, CatalogError> {
        self.conn
            .query_row(
                "SELECT vector_count, checksum FROM index_state WHERE model_id = ?1",
                [model_id],
                |r| {
                    Ok(crate::vectors::Saved {
                        count: r.get::<_, i64>(0)? as u64,
                        checksum: r.get(1)?,
                    })
                },
            )
            .optional()
            .ctx("read index state")
    }

    /// Records a saved vector index file.
    pub fn set_index_state(
        &self,
        model_id: i64,
        saved: &crate::vectors::Saved,
    ) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO index_state(model_id, vector_count, checksum, saved_at, generation)
                 VALUES (?1, ?2, ?3, ?4, (SELECT generation FROM models WHERE id = ?1))",
                params![model_id, saved.count as i64, saved.checksum, now()],
            )
            .ctx("record index state")?;
        Ok(())
    }

    /// The recorded index file with the model generation it holds.
    pub fn index_record(
        &self,
        model_id: i64,
    ) -> Result<Option<(crate::vectors::Saved, i64)>, CatalogError> {
        self.conn
            .query_row(
                "SELECT vector_count, checksum, generation FROM index_state WHERE model_id = ?1",
                [model_id],
                |r| {
                    Ok((
                        crate::vectors::Saved {
                            count: r.get::<_, i64>(0)? as u64,
                            checksum: r.get(1)?,
                        },
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()
            .ctx("read index state")
    }

    /// The model's generation, bumped by every change to its embeddings.
    pub fn generation(&self, model_id: i64) -> Result<i64, CatalogError> {
        self.conn
            .query_row(
                "SELECT generation FROM models WHERE id = ?1",
                [model_id],
                |r| r.get(0),
            )
            .optional()
            .map(|g| g.unwrap_or(0))
            .ctx("read model generation")
    }

    /// How a reader holding the index file `seen` (as recorded, with its generation) and the
    /// commits up to `generation` catches up, read in one snapshot: the record, the generation
    /// and the changes agree with one another even while the indexer commits and saves.
    pub fn follow(
        &self,
        model_id: i64,
        seen: Option<(&crate::vectors::Saved, i64)>,
        generation: i64,
    ) -> Result<Following, CatalogError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .ctx("begin reading changes")?;
        let record = self.index_record(model_id)?;
        if record.as_ref().map(|(s, g)| (s, *g)) != seen {
            return Ok(Following::Reload);
        }
        let now = self.generation(model_id)?;
        if now == generation {
            return Ok(Following::Changes(None));
        }
        let mut written = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT photo_id, vector FROM embeddings WHERE model_id = ?1 AND written > ?2",
                )
                .ctx("read written vectors")?;
            let rows = stmt
                .query_map(params![model_id, generation], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        blob_embedding(&r.get::<_, Vec<u8>>(1)?),
                    ))
                })
                .ctx("read written vectors")?;
            for row in rows {
                written.push(row.ctx("read written vectors")?);
            }
        }
        let gone = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT photo_id FROM embeddings_gone WHERE model_id = ?1 AND generation > ?2",
                )
                .ctx("read removed vectors")?;
            let rows = stmt
                .query_map(params![model_id, generation], |r| r.get::<_, i64>(0))
                .ctx("read removed vectors")?;
            rows.collect::<Result<Vec<_>, _>>()
                .ctx("read removed vectors")?
        };
        tx.finish().ctx("end reading changes")?;
        Ok(Following::Changes(Some(Changes {
            generation: now,
            written,
            gone,
        })))
    }

    /// Whether no embedding of the model changed since the vector index was last recorded
    /// (then a file matching the record holds exactly the catalog's vectors).
    pub fn index_is_current(&self, model_id: i64) -> Result<bool, CatalogError> {
        self.conn
            .query_row(
                "SELECT s.generation = m.generation FROM index_state s JOIN models m
                 ON m.id = s.model_id WHERE s.model_id = ?1",
                [model_id],
                |r| r.get(0),
            )
            .optional()
            .map(|v| v.unwrap_or(false))
            .ctx("read index generation")
    }

    /// Photos of the library's roots that have a vector for the model stored as `name`, from
    /// the kept counts (no photo row is read); 0 for a model never opened here.
    pub(crate) fn vectors_of(&self, name: &str) -> Result<u64, CatalogError> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(v.n), 0) FROM vector_counts v JOIN models m ON m.id = v.model_id
                  WHERE m.name = ?1 AND v.root_id IN (SELECT id FROM roots)",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .ctx("count a model's vectors")
    }

    /// Models that have rows here, with their vector width.
    pub fn models(&self) -> Result<Vec<(String, usize)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, dim FROM models ORDER BY id")
            .ctx("list models")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))
            .ctx("list models")?
            .collect::<Result<_, _>>()
            .ctx("list models")?;
        Ok(rows)
    }

    /// Indexed photos whose metadata was never read (indexed before Glimpse read any), by id
    /// after `after_id`, at most `limit`: the index run reads it from their files.
    pub(crate) fn metadata_unread(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, PathBuf)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, path FROM photos WHERE status = 'indexed' AND metadata_read = 0
                 AND id > ?1 ORDER BY id LIMIT ?2",
            )
            .ctx("photos without metadata")?;
        let rows = stmt
            .query_map(params![after_id, limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, bytes_path(&r.get::<_, Vec<u8>>(1)?)))
            })
            .ctx("photos without metadata")?
            .collect::<Result<_, _>>()
            .ctx("photos without metadata")?;
        Ok(rows)
    }

    /// Stores metadata read after the photos were indexed, in one transaction; a photo
    /// recorded here is not read again.
    pub(crate) fn set_metadata(&mut self, read: &[(i64, Metadata)]) -> Result<(), CatalogError> {
        let tx = self.conn.transaction().ctx("begin metadata")?;
        {
            let mut put = tx
                .prepare(
                    "UPDATE photos SET taken_at = ?2, taken_offset_min = ?3, camera_make = ?4,
                     camera_model = ?5, gps_lat = ?6, gps_lon = ?7, metadata_read = 1
                     WHERE id = ?1",
                )
                .ctx("store metadata")?;
            for (id, m) in read {
                put.execute(params![
                    id,
                    m.taken_at,
                    m.offset_minutes,
                    m.camera_make,
                    m.camera_model,
                    m.latitude,
                    m.longitude,
                ])
                .ctx("store metadata")?;
            }
        }
        tx.commit().ctx("commit metadata")
    }

    /// Stores a small setting (e.g. the provider the last job ran on).
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO settings(key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .ctx("write setting")?;
        Ok(())
    }

    /// Removes a setting (reading it then gives `None`).
    pub fn clear_setting(&self, key: &str) -> Result<(), CatalogError> {
        self.conn
            .execute("DELETE FROM settings WHERE key = ?1", [key])
            .ctx("remove setting")?;
        Ok(())
    }

    /// Reads a setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, CatalogError> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .ctx("read setting")
    }

    /// Counts for `status`.
    pub fn stats(&self, model_id: i64) -> Result<Stats, CatalogError> {
        let count = |sql: &str| -> Result<u64, CatalogError> {
            self.conn
                .query_row(sql, [model_id], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .ctx("count")
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT error, COUNT(*) FROM photos INDEXED BY photos_by_root_status
                  WHERE root_id IN (SELECT id FROM roots) AND status IN ('failed', 'unsupported')
                  GROUP BY error ORDER BY COUNT(*) DESC, error",
            )
            .ctx("failure reasons")?;
        let failures = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    r.get::<_, i64>(1)? as u64,
                ))
            })
            .ctx("failure reasons")?
            .collect::<Result<_, _>>()
            .ctx("failure reasons")?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT note, COUNT(*) FROM photos INDEXED BY photos_noted
                  WHERE note IS NOT NULL AND root_id IN (SELECT id FROM roots)
                  GROUP BY note ORDER BY COUNT(*) DESC, note",
            )
            .ctx("notes")?;
        let notes = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .ctx("notes")?
            .collect::<Result<_, _>>()
            .ctx("notes")?;
        let status = |st: &str| -> Result<u64, CatalogError> {
            self.conn
                .query_row(
                    "SELECT COALESCE(SUM(n), 0) FROM photo_counts WHERE status = ?1",
                    [st],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .ctx("count")
        };
        Ok(Stats {
            photos: count("SELECT COALESCE(SUM(n), 0) FROM photo_counts WHERE ?1 = ?1")?,
            indexed: count("SELECT COALESCE(SUM(n), 0) FROM vector_counts WHERE model_id = ?1")?,
            failed: status("failed")?,
            pending: status("pending")?,
            missing: status("missing")?,
            unsupported: status("unsupported")?,
            embeddings: self.embedding_count(model_id)?,
            failures,
            notes,
        })
    }

    /// The highest number of committed encodes of one photo's current content with the model
    /// (1 = no photo was encoded twice): a check, apart from [`Catalog::stats`], since it reads
    /// every vector row (9 s on a million photos).
    pub fn max_encodes(&self, model_id: i64) -> Result<u64, CatalogError> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(encodes), 0) FROM embeddings WHERE model_id = ?1",
                [model_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .ctx("max encodes")
    }
}

/// What a search may be restricted to; every field narrows the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhotoFilter {
    /// Only photos under this folder (the folder itself or any subfolder).
    pub folder: Option<PathBuf>,
    /// Only photos whose local date ([`PhotoInfo::local_date`]) is at or after this reading
    /// (a day's start from [`glimpse_clip::calendar::parse_day`]): days are cut where the photo was taken.
    pub after: Option<i64>,
    /// Only photos whose local date is before this reading.
    pub before: Option<i64>,
    /// Only these formats ("jpeg", "png", ...); empty means any.
    pub formats: Vec<String>,
    /// Only photos carrying this tag.
    pub tag: Option<String>,
    /// Only photos with (true) or without (false) a GPS position.
    pub has_location: Option<bool>,
    /// Only photos in which text was read (true), or none was (false: no text, or not read).
    pub has_text: Option<bool>,
    /// Only photos whose text shows each of these, anywhere in a line, case and the accents of
    /// Latin letters aside (a query's "quoted text").
    pub words: Vec<String>,
    /// Only photos whose text shows none of these, matched as [`PhotoFilter::words`] are (a
    /// query's `-"quoted text"`).
    pub without_words: Vec<String>,
}

use glimpse_clip::formats::RAW_FORMATS;

impl PhotoFilter {
    /// The stored formats that filter types name, sorted and once each. People and the window
    /// say "jpg", "tif", "heif" or "raw" (every camera RAW format); photos are stored as
    /// "jpeg", "tiff", "heic" and the RAW's own kind.
    pub fn formats_named<S: AsRef<str>>(types: &[S]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in types {
            let t = t.as_ref().trim().to_lowercase();
            match t.as_str() {
                "" => {}
                "jpg" | "jpe" | "jfif" => out.push("jpeg".into()),
                "tif" => out.push("tiff".into()),
                "heif" => out.push("heic".into()),
                "raw" => out.extend(RAW_FORMATS.iter().map(|f| f.to_string())),
                _ => out.push(t),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether nothing is restricted (a plain search needs no id set).
    pub fn is_empty(&self) -> bool {
        *self == PhotoFilter::default()
    }
}

/// What a result shows about a photo (serialised in the CLI's `--json` lines; the window
/// reads the session's views).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PhotoInfo {
    /// Row id (the vector key).
    pub id: i64,
    /// The file.
    pub path: PathBuf,
    /// Bytes on disk.
    pub size: i64,
    /// Date taken if known, else the file's modification time (Unix seconds).
    pub date: i64,
    /// Pixel width, when decoded.
    pub width: Option<u32>,
    /// Pixel height, when decoded.
    pub height: Option<u32>,
    /// Detected format.
    pub format: Option<String>,
    /// BLAKE3 of the content, hex (the thumbnail key).
    pub content_hash: Option<String>,
    /// Whether `date` is when the photo was taken (EXIF) rather than its file time.
    pub date_taken: bool,
    /// The camera's offset from UTC in minutes when the photo records it.
    pub offset_minutes: Option<i32>,
    /// The date as a clock where the photo was taken read it (the camera's, else this
    /// computer's for a file time), written as Unix seconds of that reading in UTC: what a day
    /// label or a day filter means to the person who took it.
    pub local_date: i64,
    /// The camera ("Canon EOS R5"), when the photo names it.
    pub camera: Option<String>,
    /// Latitude in degrees (north positive), when the photo has a position.
    pub latitude: Option<f64>,
    /// Longitude in degrees (east positive).
    pub longitude: Option<f64>,
}

/// The date of a photo in SQL: the instant it was taken if known, else its file time (the
/// expression `photos_by_date` indexes, so a listing in date order reads no more than a page).
const DATE_SQL: &str = "COALESCE(p.taken_at, p.mtime_ns / 1000000000)";
/// The local date of a photo in SQL, so that "photos of 1 June" are the ones taken on a 1 June
/// where they were taken: the camera's clock (the instant plus the offset it recorded; with no
/// offset recorded the instant already is the clock's reading), else the file time on this
/// computer's clock (SQLite's `localtime`, which follows the zone's daylight saving).
const LOCAL_DATE_SQL: &str = "CASE WHEN p.taken_at IS NOT NULL
         THEN p.taken_at + 60 * COALESCE(p.taken_offset_min, 0)
         ELSE CAST(strftime('%s', p.mtime_ns / 1000000000, 'unixepoch', 'localtime') AS INTEGER)
     END";
/// ` AND` the photo's local date `op` the clock reading `?` ([`LOCAL_DATE_SQL`] without its
/// per-row `localtime`, ~1 µs a photo: a file time is compared with the instant this computer's
/// clock reads `?`, worked out once per query by SQLite's `utc` modifier).
fn local_date_cmp(op: &str) -> String {
    format!(
        " AND (CASE WHEN p.taken_at IS NOT NULL
              THEN p.taken_at + 60 * COALESCE(p.taken_offset_min, 0) {op} ?
              ELSE p.mtime_ns / 1000000000
                   {op} (SELECT CAST(strftime('%s', ?, 'unixepoch', 'utc') AS INTEGER))
          END)"
    )
}

/// Columns [`INFO_COLUMNS`] selects ([`info_row`] reads them; extra columns come after).
const INFO_WIDTH: usize = 15;
static INFO_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "p.id, p.path, p.size, {DATE_SQL}, p.width, p.height,
         p.format, p.content_hash, p.taken_at IS NOT NULL, p.taken_offset_min, p.camera_make,
         p.camera_model, p.gps_lat, p.gps_lon, {LOCAL_DATE_SQL}"
    )
});

fn info_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoInfo> {
    Ok(PhotoInfo {
        id: r.get(0)?,
        path: bytes_path(&r.get::<_, Vec<u8>>(1)?),
        size: r.get(2)?,
        date: r.get(3)?,
        width: r.get::<_, Option<i64>>(4)?.map(|v| v as u32),
        height: r.get::<_, Option<i64>>(5)?.map(|v| v as u32),
        format: r.get(6)?,
        content_hash: r.get::<_, Option<Vec<u8>>>(7)?.map(hex::encode),
        date_taken: r.get(8)?,
        offset_minutes: r.get(9)?,
        camera: Metadata {
            camera_make: r.get(10)?,
            camera_model: r.get(11)?,
            ..Metadata::default()
        }
        .camera(),
        latitude: r.get(12)?,
        longitude: r.get(13)?,
        local_date: r.get(14)?,
    })
}

/// Moves root `inner`'s photos to root `outer` and drops `inner`.
fn absorb_root(tx: &rusqlite::Transaction<'_>, inner: i64, outer: i64) -> Result<(), CatalogError> {
    tx.execute(
        "UPDATE photos SET root_id = ?1 WHERE root_id = ?2",
        params![outer, inner],
    )
    .ctx("move photos to the root holding them")?;
    tx.execute("DELETE FROM roots WHERE id = ?1", [inner])
        .ctx("drop a root inside another")?;
    Ok(())
}

/// The byte range of paths strictly inside `folder`: `folder/` up to (not including) `folder0`
/// ('0' is the byte after '/'), so a BLOB comparison selects the subtree and not `folder2`.
fn subtree_range(folder: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut base = path_bytes(folder);
    while base.len() > 1 && base.last() == Some(&b'/') {
        base.pop();
    }
    let mut lo = base.clone();
    let mut hi = base.clone();
    if lo.last() != Some(&b'/') {
        lo.push(b'/');
        hi.push(b'0');
    } else {
        // The root folder "/": everything.
        hi = vec![0xff];
    }
    (base, lo, hi)
}

impl Catalog {
    /// The query selecting `columns` of the photos with a vector for the model that pass
    /// `filter` (the embedding is `e`, the photo `p`), with its arguments. Photos on an offline
    /// drive keep their vectors and stay findable, as in an unfiltered search.
    fn filtered_sql(
        model_id: i64,
        filter: &PhotoFilter,
        columns: &str,
    ) -> (String, Vec<rusqlite::types::Value>) {
        let mut sql = format!(
            "SELECT {columns} FROM photos p JOIN embeddings e ON e.photo_id = p.id AND e.model_id = ?1
             WHERE 1 = 1"
        );
        let mut args: Vec<rusqlite::types::Value> = vec![model_id.into()];
        let mut arg = |sql: &mut String, text: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&text.replace('?', &format!("?{}", args.len())));
        };
        if let Some(folder) = &filter.folder {
            let (base, lo, hi) = subtree_range(folder);
            arg(&mut sql, " AND (p.path = ?", base.into());
            arg(&mut sql, " OR (p.path >= ?", lo.into());
            arg(&mut sql, " AND p.path < ?))", hi.into());
        }
        if let Some(after) = filter.after {
            arg(&mut sql, &local_date_cmp(">="), after.into());
        }
        if let Some(before) = filter.before {
            arg(&mut sql, &local_date_cmp("<"), before.into());
        }
        if !filter.formats.is_empty() {
            sql.push_str(" AND p.format IN (");
            for (i, f) in filter.formats.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                arg(&mut sql, "?", f.to_lowercase().into());
            }
            sql.push(')');
        }
        if let Some(tag) = &filter.tag {
            arg(
                &mut sql,
                " AND EXISTS (SELECT 1 FROM tags t JOIN labels l ON l.id = t.label_id
                   WHERE t.photo_id = p.id AND t.manual >= 0 AND l.name = ?)",
                tag.trim().to_lowercase().into(),
            );
        }
        match filter.has_location {
            Some(true) => sql.push_str(" AND p.gps_lat IS NOT NULL AND p.gps_lon IS NOT NULL"),
            Some(false) => sql.push_str(" AND (p.gps_lat IS NULL OR p.gps_lon IS NULL)"),
            None => {}
        }
        let with_text =
            "EXISTS (SELECT 1 FROM text_read t WHERE t.photo_id = p.id AND t.lines > 0)";
        match filter.has_text {
            Some(true) => sql.push_str(&format!(" AND {with_text}")),
            Some(false) => sql.push_str(&format!(" AND NOT {with_text}")),
            None => {}
        }
        let shown = filter.words.iter().map(|w| (w, "IN"));
        let hidden = filter.without_words.iter().map(|w| (w, "NOT IN"));
        for (w, op) in shown.chain(hidden) {
            use crate::words::{fold, folded_len, fts_string, TRIGRAM};
            match folded_len(w) {
                0 => {}
                // The trigram index finds the lines; each photo is then one lookup.
                n if n >= TRIGRAM => arg(
                    &mut sql,
                    &format!(
                        " AND p.id {op} (SELECT tl.photo_id FROM text_fts JOIN text_lines tl
                            ON tl.rowid = text_fts.rowid WHERE text_fts MATCH ?)"
                    ),
                    fts_string(w).into(),
                ),
                // Too short for it: every line is read.
                _ => arg(
                    &mut sql,
                    &format!(
                        " AND p.id {op} (SELECT tl.photo_id FROM text_lines tl
                            WHERE instr(glimpse_fold(tl.text), ?) > 0)"
                    ),
                    fold(w).into(),
                ),
            }
        }
        (sql, args)
    }

    /// Ids of the photos with a vector for the model that pass `filter`, for filtered search.
    pub(crate) fn filter_ids(
        &self,
        model_id: i64,
        filter: &PhotoFilter,
    ) -> Result<Vec<i64>, CatalogError> {
        let (sql, args) = Self::filtered_sql(model_id, filter, "p.id");
        let mut stmt = self.conn.prepare(&sql).ctx("filter photos")?;
        let ids = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get(0))
            .ctx("filter photos")?
            .collect::<Result<_, _>>()
            .ctx("filter photos")?;
        Ok(ids)
    }

    /// What results show about these photos, by id (missing ids are simply absent).
    pub(crate) fn photo_infos(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, PhotoInfo>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM photos p WHERE p.id = ?1",
                *INFO_COLUMNS
            ))
            .ctx("read photo")?;
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(info) = stmt
                .query_row([id], info_row)
                .optional()
                .ctx("read photo")?
            {
                out.insert(*id, info);
            }
        }
        Ok(out)
    }

    /// A photo of the library by its path, if it is one.
    pub(crate) fn photo_by_path(&self, path: &Path) -> Result<Option<PhotoInfo>, CatalogError> {
        self.conn
            .query_row(
                &format!("SELECT {} FROM photos p WHERE p.path = ?1", *INFO_COLUMNS),
                [path_bytes(path)],
                info_row,
            )
            .optional()
            .ctx("find photo")
    }

    /// A photo with this content and a vector for the model (to reuse its vector for a file
    /// outside the library).
    pub(crate) fn photo_with_hash(
        &self,
        model_id: i64,
        hash: &[u8],
    ) -> Result<Option<i64>, CatalogError> {
        self.conn
            .query_row(
                "SELECT p.id FROM photos p JOIN embeddings e ON e.photo_id = p.id
                 WHERE p.content_hash = ?1 AND e.model_id = ?2 ORDER BY p.id LIMIT 1",
                params![hash, model_id],
                |r| r.get(0),
            )
            .optional()
            .ctx("find content")
    }

    /// A photo's stored embedding for the model.
    pub(crate) fn embedding(
        &self,
        model_id: i64,
        photo_id: i64,
    ) -> Result<Option<Vec<f32>>, CatalogError> {
        // Cached: every search ends on a few dozen of these.
        self.conn
            .prepare_cached("SELECT vector FROM embeddings WHERE photo_id = ?1 AND model_id = ?2")
            .and_then(|mut st| {
                st.query_row(params![photo_id, model_id], |r| {
                    Ok(blob_embedding(&r.get::<_, Vec<u8>>(0)?))
                })
                .optional()
            })
            .ctx("read embedding")
    }

    /// Up to `limit` of the photos with a vector for the model that pass `filter`, from the
    /// `offset`-th, by date (newest first or oldest first; ties by id), for a listing.
    pub(crate) fn dated_page(
        &self,
        model_id: i64,
        filter: &PhotoFilter,
        newest_first: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<PhotoInfo>, CatalogError> {
        let (mut sql, mut args) = Self::filtered_sql(model_id, filter, &INFO_COLUMNS);
        let dir = if newest_first { "DESC" } else { "ASC" };
        let n = args.len();
        sql.push_str(&format!(
            " ORDER BY {DATE_SQL} {dir}, p.id {dir} LIMIT ?{} OFFSET ?{}",
            n + 1,
            n + 2
        ));
        args.push((limit.min(i64::MAX as usize) as i64).into());
        args.push((offset.min(i64::MAX as usize) as i64).into());
        let mut stmt = self.conn.prepare(&sql).ctx("list photos")?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), info_row)
            .ctx("list photos")?
            .collect::<Result<_, _>>()
            .ctx("list photos")?;
        Ok(rows)
    }

    /// Every stored embedding (with what results show) of the photos passing `filter`, by
    /// path, for tagging and duplicate detection from stored vectors.
    pub(crate) fn embeddings_where(
        &self,
        model_id: i64,
        filter: &PhotoFilter,
    ) -> Result<Vec<(PhotoInfo, Vec<f32>)>, CatalogError> {
        let (mut sql, args) =
            Self::filtered_sql(model_id, filter, &format!("{}, e.vector", *INFO_COLUMNS));
        sql.push_str(" ORDER BY p.path");
        let mut stmt = self.conn.prepare(&sql).ctx("read embeddings")?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok((
                    info_row(r)?,
                    blob_embedding(&r.get::<_, Vec<u8>>(INFO_WIDTH)?),
                ))
            })
            .ctx("read embeddings")?
            .collect::<Result<_, _>>()
            .ctx("read embeddings")?;
        Ok(rows)
    }

    /// The row id of a label an auto-tag run names, created on first use (names are stored
    /// lower-case); one named by hand before becomes a label the auto-tag suggests.
    pub fn label_id(&self, name: &str, builtin: bool) -> Result<i64, CatalogError> {
        let name = name.trim().to_lowercase();
        self.conn
            .execute(
                "INSERT INTO labels(name, builtin) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET by_hand = 0 WHERE by_hand <> 0",
                params![name, builtin],
            )
            .ctx("add label")?;
        self.conn
            .query_row("SELECT id FROM labels WHERE name = ?1", [&name], |r| {
                r.get(0)
            })
            .ctx("label id")
    }

    /// Labels the user added (not the built-in vocabulary), in the order they were added.
    pub(crate) fn user_labels(&self) -> Result<Vec<String>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM labels WHERE builtin = 0 AND by_hand = 0 ORDER BY id")
            .ctx("list labels")?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .ctx("list labels")?
            .collect::<Result<_, _>>()
            .ctx("list labels")?;
        Ok(rows)
    }

    /// A label's cached text vector for the model, if it was made from the same prompts.
    pub(crate) fn label_vector(
        &self,
        label_id: i64,
        model_id: i64,
        prompts: &str,
    ) -> Result<Option<Vec<f32>>, CatalogError> {
        self.conn
            .query_row(
                "SELECT vector FROM label_vectors WHERE label_id = ?1 AND model_id = ?2 AND prompts = ?3",
                params![label_id, model_id, prompts],
                |r| Ok(blob_vector(&r.get::<_, Vec<u8>>(0)?)),
            )
            .optional()
            .ctx("read label vector")
    }

    /// Caches a label's text vector for the model.
    pub(crate) fn set_label_vector(
        &self,
        label_id: i64,
        model_id: i64,
        prompts: &str,
        vector: &[f32],
    ) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO label_vectors(label_id, model_id, prompts, vector)
                 VALUES (?1, ?2, ?3, ?4)",
                params![label_id, model_id, prompts, vector_blob(vector)],
            )
            .ctx("cache label vector")?;
        Ok(())
    }

    /// Runs `f` in one write transaction taken at the start (`BEGIN IMMEDIATE`), so what it
    /// reads cannot change under it before what it writes lands (another process may tag or
    /// index the same library), and an error writes nothing.
    pub(crate) fn atomically<T, E: From<CatalogError>>(
        &mut self,
        f: impl FnOnce(&Catalog) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .ctx("begin write")?;
        let done = f(self).and_then(|v| {
            self.conn.execute_batch("COMMIT").ctx("commit write")?;
            Ok(v)
        });
        if done.is_err() && !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!("rolling back a failed write: {e}");
            }
        }
        done
    }

    /// Replaces the auto-tags of `photos` with `tags` (photo id, label id, score) in one
    /// transaction, so a re-tag never leaves a folder half old, half new. Tags set or taken off
    /// by hand ([`crate::Records::tag_photos`]) stay as they are.
    pub fn replace_tags(
        &mut self,
        photos: &[i64],
        tags: &[(i64, i64, f32)],
    ) -> Result<(), CatalogError> {
        self.atomically(|c| c.put_tags(photos, tags))
    }

    /// [`Catalog::replace_tags`] for use inside [`Catalog::atomically`] (alone, each
    /// statement is its own transaction).
    pub(crate) fn put_tags(
        &self,
        photos: &[i64],
        tags: &[(i64, i64, f32)],
    ) -> Result<(), CatalogError> {
        // Only auto-tags' own rows go: a tag set or taken off by hand stays as the person left it.
        let mut clear = self
            .conn
            .prepare_cached("DELETE FROM tags WHERE photo_id = ?1 AND manual = 0")
            .ctx("clear tags")?;
        for id in photos {
            clear.execute([id]).ctx("clear tags")?;
        }
        let mut put = self
            .conn
            .prepare_cached(
                "INSERT INTO tags(photo_id, label_id, score) VALUES (?1, ?2, ?3)
                 ON CONFLICT(photo_id, label_id) DO UPDATE SET score = excluded.score
                 WHERE manual = 0",
            )
            .ctx("store tag")?;
        for (photo, label, score) in tags {
            put.execute(params![photo, label, f64::from(*score)])
                .ctx("store tag")?;
        }
        Ok(())
    }

    /// Keeps `rule` as its folder's latest auto-tag (replacing an earlier one of that folder).
    pub(crate) fn set_tag_rule(&self, rule: &TagRule) -> Result<(), CatalogError> {
        let labels = serde_json::to_string(&rule.labels).map_err(|e| CatalogError::Sql {
            context: "store auto-tag",
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO tag_rules(folder, labels, threshold, min_cosine, seq)
                 VALUES (?1, ?2, ?3, ?4, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tag_rules))",
                params![
                    path_bytes(&rule.folder),
                    labels,
                    f64::from(rule.threshold),
                    f64::from(rule.min_cosine)
                ],
            )
            .ctx("store auto-tag")?;
        Ok(())
    }

    /// (latest run's sequence number, number of runs) of the kept auto-tags: it changes with
    /// every tagging and every `--stop`, so a reader of [`Catalog::tag_rules`] knows when to
    /// read them again.
    pub(crate) fn tag_rules_version(&self) -> Result<(i64, i64), CatalogError> {
        self.conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM tag_rules")
            .ctx("read auto-tags")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("read auto-tags")
    }

    /// Every folder's latest auto-tag, the most recent run last.
    pub(crate) fn tag_rules(&self) -> Result<Vec<TagRule>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT folder, labels, threshold, min_cosine FROM tag_rules ORDER BY seq",
            )
            .ctx("read auto-tags")?;
        let rows = stmt
            .query_map([], |r| {
                let labels: String = r.get(1)?;
                Ok(TagRule {
                    folder: bytes_path(&r.get::<_, Vec<u8>>(0)?),
                    labels: serde_json::from_str(&labels).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            1,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?,
                    threshold: r.get::<_, f64>(2)? as f32,
                    min_cosine: r.get::<_, f64>(3)? as f32,
                })
            })
            .ctx("read auto-tags")?
            .collect::<Result<_, _>>()
            .ctx("read auto-tags")?;
        Ok(rows)
    }

    /// Renames a tag everywhere: its photos, and the auto-tags that name it (so photos arriving
    /// later get the new name). Its meaning is kept: the label keeps its stored vectors. Onto a
    /// tag that exists, the two merge (a photo with both keeps the higher score). Returns how
    /// many photos carry the tag now; `None` when there is no tag `old`.
    pub(crate) fn rename_label(&self, old: &str, new: &str) -> Result<Option<u64>, CatalogError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .ctx("begin renaming a tag")?;
        let id = |name: &str| -> Result<Option<i64>, CatalogError> {
            tx.query_row("SELECT id FROM labels WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .ctx("find tag")
        };
        let Some(old_id) = id(old)? else {
            return Ok(None);
        };
        let kept = match id(new)? {
            Some(new_id) if new_id != old_id => {
                tx.execute(
                    // A hand decision on either name wins over an auto-tag; setting by hand
                    // wins over taking off.
                    "INSERT INTO tags(photo_id, label_id, score, manual)
                     SELECT photo_id, ?2, score, manual FROM tags WHERE label_id = ?1
                     ON CONFLICT(photo_id, label_id) DO UPDATE SET
                        score = MAX(score, excluded.score),
                        manual = CASE WHEN 1 IN (manual, excluded.manual) THEN 1
                                      WHEN -1 IN (manual, excluded.manual) THEN -1
                                      ELSE 0 END",
                    params![old_id, new_id],
                )
                .ctx("merge tags")?;
                tx.execute("DELETE FROM labels WHERE id = ?1", [old_id])
                    .ctx("merge tags")?;
                new_id
            }
            _ => {
                tx.execute(
                    "UPDATE labels SET name = ?2 WHERE id = ?1",
                    params![old_id, new],
                )
                .ctx("rename tag")?;
                old_id
            }
        };
        self.edit_rules(&tx, |labels| {
            let mut out: Vec<String> = Vec::with_capacity(labels.len());
            for l in labels {
                let l = if l == old { new.to_string() } else { l.clone() };
                if !out.contains(&l) {
                    out.push(l);
                }
            }
            out
        })?;
        let n: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM tags WHERE label_id = ?1 AND manual >= 0",
                [kept],
                |r| r.get(0),
            )
            .ctx("count tags")?;
        tx.commit().ctx("commit renaming a tag")?;
        Ok(Some(n as u64))
    }

    /// Takes a tag off every photo and out of the auto-tags that name it (an auto-tag left
    /// with no label ends). Returns how many photos carried it.
    pub(crate) fn delete_label(&self, name: &str) -> Result<u64, CatalogError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .ctx("begin deleting a tag")?;
        let n: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM tags t JOIN labels l ON l.id = t.label_id
                 WHERE l.name = ?1 AND t.manual >= 0",
                [name],
                |r| r.get(0),
            )
            .ctx("count tags")?;
        tx.execute("DELETE FROM labels WHERE name = ?1", [name])
            .ctx("delete tag")?;
        self.edit_rules(&tx, |labels| {
            labels.iter().filter(|l| *l != name).cloned().collect()
        })?;
        tx.commit().ctx("commit deleting a tag")?;
        Ok(n as u64)
    }

    /// Sets the tag `name` on `photos` by hand (`on`, creating the tag) or takes it off them
    /// (`!on`). Either is recorded as the person's decision, which auto-tagging never
    /// overrides: a tag set by hand stays through every re-run, and one taken off does not come
    /// back. Ids with no photo are skipped. Returns how many photos changed.
    pub(crate) fn tag_by_hand(
        &self,
        photos: &[i64],
        name: &str,
        on: bool,
    ) -> Result<usize, CatalogError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .ctx("begin tagging by hand")?;
        let name = name.trim().to_lowercase();
        if on {
            tx.execute(
                "INSERT INTO labels(name, by_hand) VALUES (?1, 1) ON CONFLICT(name) DO NOTHING",
                [&name],
            )
            .ctx("add tag")?;
        }
        let label = tx
            .query_row("SELECT id FROM labels WHERE name = ?1", [&name], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .ctx("find tag")?;
        let Some(label) = label else {
            return Ok(0);
        };
        let sql = if on {
            "INSERT INTO tags(photo_id, label_id, score, manual)
             SELECT id, ?2, 1.0, 1 FROM photos WHERE id = ?1
             ON CONFLICT(photo_id, label_id) DO UPDATE SET manual = 1, score = 1.0
             WHERE manual <> 1"
        } else {
            // Only a tag the photo shows is taken off; one it never had needs no record.
            "UPDATE tags SET manual = -1 WHERE photo_id = ?1 AND label_id = ?2 AND manual >= 0"
        };
        let mut changed = 0;
        {
            let mut stmt = tx.prepare(sql).ctx("tag by hand")?;
            for id in photos {
                changed += stmt.execute(params![id, label]).ctx("tag by hand")?;
            }
        }
        tx.commit().ctx("commit tagging by hand")?;
        Ok(changed)
    }

    /// Rewrites the label lists of the auto-tags with `edit`; one left empty ends. Any change
    /// bumps every rule's sequence number (their order kept), so readers of
    /// [`Catalog::tag_rules_version`] read them again.
    fn edit_rules(
        &self,
        tx: &rusqlite::Transaction<'_>,
        edit: impl Fn(&[String]) -> Vec<String>,
    ) -> Result<(), CatalogError> {
        let rules: Vec<(Vec<u8>, String)> = {
            let mut stmt = tx
                .prepare("SELECT folder, labels FROM tag_rules")
                .ctx("read auto-tags")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .ctx("read auto-tags")?
                .collect::<Result<_, _>>()
                .ctx("read auto-tags")?;
            rows
        };
        let mut changed = false;
        for (folder, json) in rules {
            let Ok(labels) = serde_json::from_str::<Vec<String>>(&json) else {
                continue;
            };
            let edited = edit(&labels);
            if edited == labels {
                continue;
            }
            changed = true;
            if edited.is_empty() {
                tx.execute("DELETE FROM tag_rules WHERE folder = ?1", [&folder])
                    .ctx("end auto-tag")?;
            } else {
                let json = serde_json::to_string(&edited).map_err(|e| CatalogError::Sql {
                    context: "store auto-tag",
                    source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
                })?;
                tx.execute(
                    "UPDATE tag_rules SET labels = ?2 WHERE folder = ?1",
                    params![folder, json],
                )
                .ctx("store auto-tag")?;
            }
        }
        if changed {
            tx.execute("UPDATE tag_rules SET seq = seq + 1", [])
                .ctx("store auto-tag")?;
        }
        Ok(())
    }

    /// Forgets the auto-tags of `folder` and of the folders inside it (their tags stay).
    pub(crate) fn forget_tag_rules(&self, folder: &Path) -> Result<usize, CatalogError> {
        let (base, lo, hi) = subtree_range(folder);
        self.conn
            .execute(
                "DELETE FROM tag_rules WHERE folder = ?1 OR (folder >= ?2 AND folder < ?3)",
                params![base, lo, hi],
            )
            .ctx("forget auto-tags")
    }

    /// Where each photo among `ids` is (`None` for an id with no row), for tagging photos as
    /// they arrive.
    pub(crate) fn paths_of(&self, ids: &[i64]) -> Result<Vec<Option<PathBuf>>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path FROM photos WHERE id = ?1")
            .ctx("read paths")?;
        ids.iter()
            .map(|id| {
                stmt.query_row([id], |r| Ok(bytes_path(&r.get::<_, Vec<u8>>(0)?)))
                    .optional()
                    .ctx("read paths")
            })
            .collect()
    }

    /// Tags of each photo, best first (label name, score).
    pub(crate) fn tags_of(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<(String, f32)>>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT l.name, t.score FROM tags t JOIN labels l ON l.id = t.label_id
                 WHERE t.photo_id = ?1 AND t.manual >= 0 ORDER BY t.score DESC, l.name",
            )
            .ctx("read tags")?;
        let mut out = std::collections::HashMap::new();
        for id in ids {
            let rows: Vec<(String, f32)> = stmt
                .query_map([id], |r| Ok((r.get(0)?, r.get::<_, f64>(1)? as f32)))
                .ctx("read tags")?
                .collect::<Result<_, _>>()
                .ctx("read tags")?;
            if !rows.is_empty() {
                out.insert(*id, rows);
            }
        }
        Ok(out)
    }

    /// Every tag in use with how many photos carry it, most used first.
    pub(crate) fn tag_counts(&self) -> Result<Vec<(String, u64)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT l.name, COUNT(*) FROM tags t JOIN labels l ON l.id = t.label_id
                 WHERE t.manual >= 0 GROUP BY l.id ORDER BY COUNT(*) DESC, l.name",
            )
            .ctx("count tags")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .ctx("count tags")?
            .collect::<Result<_, _>>()
            .ctx("count tags")?;
        Ok(rows)
    }
}

/// A stored coordinate or confidence: SQLite keeps no NaN (it would store NULL), so a value
/// that is not a number is stored as 0.
fn finite(x: f32) -> f64 {
    if x.is_finite() {
        f64::from(x)
    } else {
        0.0
    }
}

fn text_line_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TextLineRow> {
    let f = |i: usize| -> rusqlite::Result<f32> { Ok(r.get::<_, f64>(i)? as f32) };
    Ok(TextLineRow {
        text: r.get(0)?,
        quad: [
            [f(1)?, f(2)?],
            [f(3)?, f(4)?],
            [f(5)?, f(6)?],
            [f(7)?, f(8)?],
        ],
        confidence: f(9)?,
    })
}

/// The photos whose text the reader is to read: searchable ones (for any model) in reachable
/// folders (`p` is the photo).
const TEXT_READABLE_SQL: &str = "p.status = 'indexed' AND p.content_hash IS NOT NULL
     AND p.root_id IN (SELECT id FROM roots WHERE online = 1)";

/// The text stashed with a removed folder's photo (`stash.text`): the reader's version, why it
/// failed, and the lines as `[text, confidence, x0, y0, x1, y1, x2, y2, x3, y3]`.
#[derive(serde::Deserialize)]
struct StashedText {
    version: String,
    error: Option<String>,
    #[serde(default)]
    lines: Vec<StashedLine>,
}

/// One stashed line: `[text, confidence, x0, y0, x1, y1, x2, y2, x3, y3]`.
type StashedLine = (String, f32, f32, f32, f32, f32, f32, f32, f32, f32);

impl Catalog {
    /// Up to `limit` photos the text reader of `version` has not read, by id after `after_id`:
    /// searchable photos in reachable folders (a reader that asks again from the last id it
    /// got never reads one twice, and a pass that stops resumes where it was).
    pub(crate) fn photos_needing_text(
        &self,
        version: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, PathBuf)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT p.id, p.path FROM photos p
                  WHERE p.id > ?2 AND {TEXT_READABLE_SQL}
                    AND NOT EXISTS (SELECT 1 FROM text_read t
                                     WHERE t.photo_id = p.id AND t.version = ?1)
                  ORDER BY p.id LIMIT ?3"
            ))
            .ctx("photos to read text from")?;
        let rows = stmt
            .query_map(
                params![version, after_id, limit.min(i64::MAX as usize) as i64],
                |r| Ok((r.get::<_, i64>(0)?, bytes_path(&r.get::<_, Vec<u8>>(1)?))),
            )
            .ctx("photos to read text from")?
            .collect::<Result<_, _>>()
            .ctx("photos to read text from")?;
        Ok(rows)
    }

    /// How far the text reader of `version` has come (reads every searchable photo's row: a
    /// progress display asks every few seconds, not every frame).
    pub(crate) fn text_progress(&self, version: &str) -> Result<TextProgress, CatalogError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT COUNT(*), COUNT(t.photo_id), COALESCE(SUM(t.lines > 0), 0),
                        COALESCE(SUM(t.error IS NOT NULL), 0)
                   FROM photos p LEFT JOIN text_read t ON t.photo_id = p.id AND t.version = ?1
                  WHERE {TEXT_READABLE_SQL}"
            ))
            .ctx("text progress")?
            .query_row([version], |r| {
                let n =
                    |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
                Ok(TextProgress {
                    total: n(0)?,
                    read: n(1)?,
                    with_text: n(2)?,
                    failed: n(3)?,
                })
            })
            .ctx("text progress")
    }

    /// Every searchable photo whose text the reader of `version` could not read, with the
    /// reason, by path (`status --files`).
    pub(crate) fn text_failed_files(
        &self,
        version: &str,
    ) -> Result<Vec<(PathBuf, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT p.path, t.error FROM photos p JOIN text_read t ON t.photo_id = p.id
                  WHERE t.version = ?1 AND t.error IS NOT NULL AND {TEXT_READABLE_SQL}
                  ORDER BY p.path"
            ))
            .ctx("files whose text was not read")?;
        let rows = stmt
            .query_map([version], |r| {
                Ok((bytes_path(&r.get::<_, Vec<u8>>(0)?), r.get::<_, String>(1)?))
            })
            .ctx("files whose text was not read")?
            .collect::<Result<_, _>>()
            .ctx("files whose text was not read")?;
        Ok(rows)
    }

    /// Stores what the text reader of `version` made of each photo in one transaction, each
    /// photo's lines replacing what an earlier read stored. A photo that is no longer searchable
    /// (deleted, or changed and waiting to be indexed again) is skipped: what was read belongs
    /// to a picture that is gone. Returns how many photos were stored.
    pub fn store_text(
        &mut self,
        version: &str,
        reads: &[(i64, TextOutcome)],
    ) -> Result<usize, CatalogError> {
        self.atomically(|c| c.put_text(version, reads))
    }

    /// [`Catalog::store_text`] for use inside [`Catalog::atomically`].
    pub(crate) fn put_text(
        &self,
        version: &str,
        reads: &[(i64, TextOutcome)],
    ) -> Result<usize, CatalogError> {
        let mut stored = 0;
        for (id, outcome) in reads {
            let hash: Option<Vec<u8>> = self
                .conn
                .prepare_cached(
                    "SELECT content_hash FROM photos
                      WHERE id = ?1 AND status = 'indexed' AND content_hash IS NOT NULL",
                )
                .ctx("store text")?
                .query_row([id], |r| r.get(0))
                .optional()
                .ctx("store text")?;
            let Some(hash) = hash else {
                continue;
            };
            self.write_text(*id, version, &hash, outcome, now())?;
            stored += 1;
        }
        Ok(stored)
    }

    /// Replaces a photo's text with `outcome`, read from the content `hash` by `version`.
    fn write_text(
        &self,
        photo_id: i64,
        version: &str,
        hash: &[u8],
        outcome: &TextOutcome,
        read_at: i64,
    ) -> Result<(), CatalogError> {
        self.conn
            .prepare_cached("DELETE FROM text_lines WHERE photo_id = ?1")
            .ctx("replace text")?
            .execute([photo_id])
            .ctx("replace text")?;
        let (lines, error) = match outcome {
            TextOutcome::Lines(lines) => (lines.as_slice(), None),
            TextOutcome::Failed(why) => (&[][..], Some(why.as_str())),
        };
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO text_read(photo_id, version, content_hash, lines, error,
                     read_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .ctx("store text")?
            .execute(params![
                photo_id,
                version,
                hash,
                lines.len() as i64,
                error,
                read_at
            ])
            .ctx("store text")?;
        let mut put = self
            .conn
            .prepare_cached(
                "INSERT INTO text_lines(photo_id, line_no, text, x0, y0, x1, y1, x2, y2, x3, y3,
                     confidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .ctx("store text line")?;
        for (i, l) in lines.iter().enumerate() {
            let [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = l.quad;
            put.execute(params![
                photo_id,
                i as i64,
                l.text,
                finite(x0),
                finite(y0),
                finite(x1),
                finite(y1),
                finite(x2),
                finite(y2),
                finite(x3),
                finite(y3),
                finite(l.confidence)
            ])
            .ctx("store text line")?;
        }
        Ok(())
    }

    /// Drops a photo's text when it was read from another content than `hash` (the file
    /// changed; `None`: the file can no longer be read), so that the new picture is read.
    fn drop_stale_text(&self, photo_id: i64, hash: Option<&[u8]>) -> Result<(), CatalogError> {
        match hash {
            Some(h) => self
                .conn
                .prepare_cached(
                    "DELETE FROM text_read WHERE photo_id = ?1 AND content_hash IS NOT ?2",
                )
                .ctx("drop stale text")?
                .execute(params![photo_id, h]),
            None => self
                .conn
                .prepare_cached("DELETE FROM text_read WHERE photo_id = ?1")
                .ctx("drop stale text")?
                .execute([photo_id]),
        }
        .ctx("drop stale text")?;
        self.conn
            .prepare_cached(
                "DELETE FROM text_lines WHERE photo_id = ?1
                   AND NOT EXISTS (SELECT 1 FROM text_read WHERE photo_id = ?1)",
            )
            .ctx("drop stale text")?
            .execute([photo_id])
            .ctx("drop stale text")?;
        Ok(())
    }

    /// Gives a photo the text another photo with the same bytes has (a moved or copied file),
    /// unless it has its own: the same picture is not read twice.
    fn copy_text(&self, from: i64, to: i64, hash: &[u8]) -> Result<(), CatalogError> {
        if from == to {
            return Ok(());
        }
        let copied = self
            .conn
            .prepare_cached(
                "INSERT INTO text_read(photo_id, version, content_hash, lines, error, read_at)
                 SELECT ?2, version, content_hash, lines, error, read_at FROM text_read
                  WHERE photo_id = ?1 AND content_hash = ?3
                 ON CONFLICT(photo_id) DO NOTHING",
            )
            .ctx("copy text")?
            .execute(params![from, to, hash])
            .ctx("copy text")?;
        if copied > 0 {
            self.conn
                .prepare_cached(
                    "INSERT INTO text_lines(photo_id, line_no, text, x0, y0, x1, y1, x2, y2, x3,
                         y3, confidence)
                     SELECT ?2, line_no, text, x0, y0, x1, y1, x2, y2, x3, y3, confidence
                       FROM text_lines WHERE photo_id = ?1 ORDER BY line_no",
                )
                .ctx("copy text")?
                .execute(params![from, to])
                .ctx("copy text")?;
        }
        Ok(())
    }

    /// Gives a photo copied from the stash the text its picture had when its folder was
    /// removed (unless it has its own). Unreadable stashed text is skipped, never fatal: the
    /// picture is then read again.
    fn restore_stashed_text(
        &self,
        photo_id: i64,
        hash: &ContentHash,
        model_id: i64,
    ) -> Result<(), CatalogError> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT text FROM stash WHERE content_hash = ?1 AND model_id = ?2")
            .ctx("read stashed text")?
            .query_row(params![hash.as_slice(), model_id], |r| r.get(0))
            .optional()
            .ctx("read stashed text")?
            .flatten();
        let Some(json) = json else {
            return Ok(());
        };
        let has_own: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM text_read WHERE photo_id = ?1)")
            .ctx("read text")?
            .query_row([photo_id], |r| r.get(0))
            .ctx("read text")?;
        if has_own {
            return Ok(());
        }
        let stashed: StashedText = match serde_json::from_str(&json) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("stashed text of photo {photo_id} is unreadable: {e}");
                return Ok(());
            }
        };
        let outcome = match stashed.error {
            Some(why) => TextOutcome::Failed(why),
            None => TextOutcome::Lines(
                stashed
                    .lines
                    .into_iter()
                    .map(
                        |(text, confidence, x0, y0, x1, y1, x2, y2, x3, y3)| TextLineRow {
                            text,
                            quad: [[x0, y0], [x1, y1], [x2, y2], [x3, y3]],
                            confidence,
                        },
                    )
                    .collect(),
            ),
        };
        self.write_text(photo_id, &stashed.version, hash, &outcome, now())
    }

    /// The lines read in each photo among `ids`, in reading order; photos without any are
    /// absent.
    pub(crate) fn text_lines_of(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<TextLineRow>>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT text, x0, y0, x1, y1, x2, y2, x3, y3, confidence FROM text_lines
                  WHERE photo_id = ?1 ORDER BY line_no",
            )
            .ctx("read text")?;
        let mut out = HashMap::new();
        for id in ids {
            let rows: Vec<TextLineRow> = stmt
                .query_map([id], text_line_row)
                .ctx("read text")?
                .collect::<Result<_, _>>()
                .ctx("read text")?;
            if !rows.is_empty() {
                out.insert(*id, rows);
            }
        }
        Ok(out)
    }

    /// Whether any photo has a line of text: without, a search has no words to match and runs
    /// as it did before pictures were read.
    pub(crate) fn has_text_lines(&self) -> Result<bool, CatalogError> {
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM text_lines)")
            .ctx("look for text")?
            .query_row([], |r| r.get(0))
            .ctx("look for text")
    }

    /// Up to `limit` photos with a vector for the model that pass `filter` and show one of
    /// `terms` in their text (case and Latin accents aside), best matches first where the
    /// trigram index ranks them (terms of at least [`crate::words::TRIGRAM`] characters);
    /// terms shorter than that are looked for only when no term is longer, by reading the
    /// lines (a two-character CJK word, "A4").
    pub(crate) fn photos_with_words(
        &self,
        model_id: i64,
        filter: &PhotoFilter,
        terms: &[String],
        limit: usize,
    ) -> Result<Vec<i64>, CatalogError> {
        use crate::words::{fold, folded_len, fts_string, TRIGRAM};
        let (long, short): (Vec<&String>, Vec<&String>) = terms
            .iter()
            .filter(|t| folded_len(t) > 0)
            .partition(|t| folded_len(t) >= TRIGRAM);
        if long.is_empty() && short.is_empty() {
            return Ok(Vec::new());
        }
        let (filtered, mut args) = Self::filtered_sql(model_id, filter, "1");
        let passes = format!("EXISTS ({filtered} AND p.id = l.photo_id)");
        let sql = if !long.is_empty() {
            let query = long
                .iter()
                .map(|t| fts_string(t))
                .collect::<Vec<_>>()
                .join(" OR ");
            args.push(query.into());
            format!(
                "SELECT photo_id FROM (
                     SELECT l.photo_id AS photo_id, f.rank AS rank
                       FROM text_fts f JOIN text_lines l ON l.rowid = f.rowid
                      WHERE text_fts MATCH ?{} AND {passes})
                  GROUP BY photo_id ORDER BY MIN(rank), photo_id LIMIT ?{}",
                args.len(),
                args.len() + 1
            )
        } else {
            let mut any = Vec::new();
            for t in &short {
                args.push(fold(t).into());
                any.push(format!("instr(glimpse_fold(l.text), ?{}) > 0", args.len()));
            }
            format!(
                "SELECT l.photo_id FROM text_lines l WHERE ({}) AND {passes}
                  GROUP BY l.photo_id ORDER BY l.photo_id LIMIT ?{}",
                any.join(" OR "),
                args.len() + 1
            )
        };
        args.push((limit.min(i64::MAX as usize) as i64).into());
        let mut stmt = self.conn.prepare(&sql).ctx("find words")?;
        let ids = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get(0))
            .ctx("find words")?
            .collect::<Result<_, _>>()
            .ctx("find words")?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog in a temporary folder with three photos `p/0.jpg`… under the root `p`.
    fn three_photos() -> (tempfile::TempDir, Catalog, Vec<i64>) {
        let dir = tempfile::tempdir().unwrap();
        let mut cat = Catalog::open(dir.path()).unwrap();
        let root = cat.add_root(&dir.path().join("p")).unwrap();
        let files: Vec<(PathBuf, i64, i64, Option<String>)> = (0..3)
            .map(|i| (dir.path().join(format!("p/{i}.jpg")), 1, i, None))
            .collect();
        let ids = cat.upsert_files(root.id, &files).unwrap();
        (dir, cat, ids)
    }

    /// A unit vector of `dim` Gaussian-like coordinates from `seed`.
    fn gaussian_unit(dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut uniform = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 + 0.5) / (1u64 << 24) as f32
        };
        glimpse_clip::embedding::unit(
            (0..dim)
                .map(|_| {
                    let (u, v) = (uniform(), uniform());
                    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
                })
                .collect(),
        )
    }

    #[test]
    fn a_packed_embedding_moves_no_further_than_f16_would_and_is_smaller() {
        let f16_error = |v: &[f32]| -> f64 { distance(v, &blob_embedding(&f16_blob(v))) };
        let (mut bytes_512, mut ratio_sum, mut rows) = (0, 0f64, 0f64);
        for dim in [1, 2, 3, 7, 64, 511, 512, 768, 1024] {
            for seed in 0..20 {
                let v = gaussian_unit(dim, seed);
                let blob = embedding_blob(&v);
                let back = blob_embedding(&blob);
                assert_eq!(back.len(), dim);
                // The distance bounds what a dot product with any unit query can move.
                let error = distance(&v, &back);
                assert!(
                    error <= f16_error(&v),
                    "dim {dim} seed {seed}: {error} against f16's {}",
                    f16_error(&v)
                );
                if dim >= 64 {
                    assert_eq!(
                        blob.len() % 2,
                        1,
                        "dim {dim}: a packed blob has an odd length"
                    );
                    assert!(blob[0] <= 14, "dim {dim} seed {seed}: {} bits", blob[0]);
                    assert!(blob.len() < 2 * dim);
                    ratio_sum += error / f16_error(&v);
                    rows += 1.0;
                }
                if dim == 512 {
                    bytes_512 += blob.len();
                }
            }
        }
        assert!(
            bytes_512 <= 20 * 910,
            "{} bytes a 512-d row",
            bytes_512 / 20
        );
        // Not so much finer than f16 that bits are wasted.
        assert!(
            ratio_sum / rows >= 0.5,
            "{} times f16's error",
            ratio_sum / rows
        );
        // A row with outlying coordinates takes more bits and is still as exact.
        let mut v = gaussian_unit(512, 3);
        v[0] += 0.5;
        v[1] -= 0.4;
        let v = glimpse_clip::embedding::unit(v);
        let blob = embedding_blob(&v);
        assert!(blob[0] > 14, "{} bits", blob[0]);
        let error = distance(&v, &blob_embedding(&blob));
        assert!(
            error <= f16_error(&v),
            "{error} against f16's {}",
            f16_error(&v)
        );
        // The largest coordinates keep their sign and size at every width.
        for bits in PACKED_BITS {
            let largest = v.iter().fold(0f32, |a, x| a.max(x.abs()));
            let back = blob_embedding(&pack(&v, largest, bits));
            assert!(
                (back[0] - v[0]).abs() < 0.01 && (back[1] - v[1]).abs() < 0.01,
                "{bits}"
            );
        }
    }

    #[test]
    fn a_catalog_of_f16_embeddings_reads_them_beside_the_packed_ones_it_writes_now() {
        let vectors: Vec<Vec<f32>> = (0..4).map(|i| gaussian_unit(512, 100 + i)).collect();
        let (_dir, cat, ids) = indexed_with(&vectors);
        let model = cat.model_id("m", 512).unwrap();
        // Photos 0 and 2 as a library indexed before the packed form left them: f16 blobs.
        for i in [0, 2] {
            let f16 = f16_blob(&vectors[i]);
            cat.conn
                .execute(
                    "UPDATE embeddings SET vector = ?1 WHERE photo_id = ?2",
                    params![f16, ids[i]],
                )
                .unwrap();
        }
        let lengths: Vec<i64> = cat
            .conn
            .prepare("SELECT length(vector) FROM embeddings ORDER BY photo_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(lengths[0], 1024);
        assert_eq!(lengths[2], 1024);
        assert!(lengths[1] < 1024 && lengths[1] % 2 == 1, "{lengths:?}");
        assert!(lengths[3] < 1024 && lengths[3] % 2 == 1, "{lengths:?}");
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let all = cat.embeddings(model).unwrap();
        assert_eq!(all.len(), 4);
        for (id, v) in &all {
            let i = ids.iter().position(|x| x == id).unwrap();
            assert_eq!(v.len(), 512);
            assert!(close(v, &vectors[i]) > 0.99999, "photo {i}");
            assert_eq!(cat.embedding(model, *id).unwrap().as_ref(), Some(v));
        }
    }

    #[test]
    fn stored_blobs_of_either_form_are_read_and_damaged_ones_come_back_empty() {
        // The f16 blobs of libraries before the packed form.
        let v = gaussian_unit(512, 9);
        let back = blob_embedding(&f16_blob(&v));
        assert_eq!(back.len(), 512);
        assert!(back.iter().zip(&v).map(|(a, b)| a * b).sum::<f32>() > 0.9999);
        // A zero vector stays zero, at its dimension.
        assert_eq!(blob_embedding(&embedding_blob(&[0.0; 5])), vec![0.0; 5]);
        assert!(blob_embedding(&embedding_blob(&[])).is_empty());
        // Damage: a width out of range, a header cut short, codes cut short.
        let good = embedding_blob(&v);
        let mut wide = good.clone();
        wide[0] = 17;
        assert!(blob_embedding(&wide).is_empty());
        let mut narrow = good.clone();
        narrow[0] = 7;
        assert!(blob_embedding(&narrow).is_empty());
        assert!(blob_embedding(&good[..5]).is_empty());
        assert!(blob_embedding(&good[..good.len() - 100]).is_empty());
        assert!(blob_embedding(&[PACKED_BITS.start().to_owned() as u8]).is_empty());
        // Wider than a packed header can say: kept whole, as f16.
        let wide = vec![0.5f32; 70_000];
        assert_eq!(embedding_blob(&wide).len(), 140_000);
        assert_eq!(blob_embedding(&embedding_blob(&wide)).len(), 70_000);
    }

    #[test]
    fn a_tag_renamed_or_deleted_changes_its_photos_and_the_auto_tags_that_name_it() {
        let (dir, mut cat, ids) = three_photos();
        let (dog, pup, cat_l) = (
            cat.label_id("dog", false).unwrap(),
            cat.label_id("puppy", false).unwrap(),
            cat.label_id("cat", false).unwrap(),
        );
        cat.replace_tags(
            &ids,
            &[
                (ids[0], dog, 0.9),
                (ids[1], dog, 0.4),
                (ids[1], pup, 0.7),
                (ids[2], cat_l, 0.8),
            ],
        )
        .unwrap();
        let rule = |folder: &str, labels: &[&str]| TagRule {
            folder: dir.path().join(folder),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            threshold: 0.5,
            min_cosine: 0.2,
        };
        cat.set_tag_rule(&rule("p", &["dog", "puppy", "cat"]))
            .unwrap();
        cat.set_tag_rule(&rule("q", &["cat"])).unwrap();
        let version = cat.tag_rules_version().unwrap();
        let tags = |c: &Catalog| -> Vec<(i64, Vec<(String, f32)>)> {
            let mut t: Vec<_> = c.tags_of(&ids).unwrap().into_iter().collect();
            t.sort_by_key(|x| x.0);
            t
        };

        // Renamed: the same photos, the new name, in the auto-tag too (rules keep their order).
        assert_eq!(cat.rename_label("dog", "my dog").unwrap(), Some(2));
        assert_eq!(tags(&cat)[0].1, [("my dog".to_string(), 0.9)]);
        let rules = cat.tag_rules().unwrap();
        assert_eq!(rules[0].labels, ["my dog", "puppy", "cat"]);
        assert_eq!(rules[1].folder, dir.path().join("q"));
        assert_ne!(
            cat.tag_rules_version().unwrap(),
            version,
            "readers see the change"
        );
        assert_eq!(cat.rename_label("nothing", "x").unwrap(), None);

        // Onto a tag that exists: merged, the higher score kept, named once in the auto-tag.
        assert_eq!(cat.rename_label("puppy", "my dog").unwrap(), Some(2));
        assert_eq!(tags(&cat)[1].1, [("my dog".to_string(), 0.7)]);
        assert_eq!(cat.tag_rules().unwrap()[0].labels, ["my dog", "cat"]);
        assert!(cat.tag_counts().unwrap().iter().all(|(n, _)| n != "puppy"));

        // Deleted: off every photo; an auto-tag left with no label ends.
        assert_eq!(cat.delete_label("cat").unwrap(), 1);
        assert!(!tags(&cat)
            .iter()
            .any(|(_, t)| t.iter().any(|(n, _)| n == "cat")));
        let rules = cat.tag_rules().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].labels, ["my dog"]);
        assert_eq!(cat.delete_label("cat").unwrap(), 0);
    }

    /// The visible tags of each photo among `ids`, by name (photos without tags: empty).
    fn names(c: &Catalog, ids: &[i64]) -> Vec<Vec<String>> {
        let mut all = c.tags_of(ids).unwrap();
        ids.iter()
            .map(|id| {
                let mut n: Vec<String> = all
                    .remove(id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| t.0)
                    .collect();
                n.sort();
                n
            })
            .collect()
    }

    #[test]
    fn tags_set_or_taken_off_by_hand_outlast_auto_tagging_again() {
        let (_dir, mut cat, ids) = three_photos();
        let dog = cat.label_id("dog", false).unwrap();
        let run = [(ids[0], dog, 0.9), (ids[1], dog, 0.8)];
        cat.replace_tags(&ids, &run).unwrap();
        let count = |c: &Catalog, name: &str| {
            c.tag_counts()
                .unwrap()
                .into_iter()
                .find(|t| t.0 == name)
                .map_or(0, |t| t.1)
        };
        assert_eq!(count(&cat, "dog"), 2);

        // By hand: a new tag on two photos (names as labels keep them), and "dog" off one.
        assert_eq!(
            cat.tag_by_hand(&[ids[1], ids[2], 9_999], " Holiday ", true)
                .unwrap(),
            2,
            "an id with no photo is skipped"
        );
        assert_eq!(cat.tag_by_hand(&[ids[1]], "holiday", true).unwrap(), 0);
        assert_eq!(cat.tag_by_hand(&[ids[0]], "dog", false).unwrap(), 1);
        assert_eq!(cat.tag_by_hand(&[ids[2]], "dog", false).unwrap(), 0);
        assert_eq!(cat.tag_by_hand(&ids, "no such tag", false).unwrap(), 0);
        let expected = vec![
            vec![],
            vec!["dog".to_string(), "holiday".to_string()],
            vec!["holiday".to_string()],
        ];
        assert_eq!(names(&cat, &ids), expected);
        assert_eq!((count(&cat, "dog"), count(&cat, "holiday")), (1, 2));
        // A name given by hand is not offered for auto-tagging until a run names it.
        assert_eq!(cat.user_labels().unwrap(), ["dog"]);

        // Auto-tagging the same photos again (the same run, and one that finds no dog at all)
        // neither brings back the dog taken off nor drops the holiday set by hand.
        cat.replace_tags(&ids, &run).unwrap();
        assert_eq!(names(&cat, &ids), expected);
        cat.replace_tags(&ids, &[]).unwrap();
        assert_eq!(names(&cat, &ids)[0], Vec::<String>::new());
        assert_eq!(names(&cat, &ids)[2], ["holiday"]);
        assert_eq!((count(&cat, "dog"), count(&cat, "holiday")), (0, 2));
        cat.atomically(|c| c.put_tags(&ids, &run)).unwrap();
        assert_eq!(names(&cat, &ids), expected);

        // Set by hand again, a tag taken off comes back, and then no run takes it away.
        assert_eq!(cat.tag_by_hand(&[ids[0]], "dog", true).unwrap(), 1);
        cat.replace_tags(&ids, &[]).unwrap();
        assert_eq!(names(&cat, &ids)[0], ["dog"]);

        // Renamed and merged, hand decisions go with the tag; deleted, they go with it.
        cat.tag_by_hand(&[ids[2]], "trip", true).unwrap();
        cat.tag_by_hand(&[ids[2]], "holiday", false).unwrap();
        assert_eq!(cat.rename_label("holiday", "vacation").unwrap(), Some(1));
        assert_eq!(cat.rename_label("trip", "vacation").unwrap(), Some(2));
        cat.replace_tags(&ids, &run).unwrap();
        assert_eq!(
            names(&cat, &ids),
            [vec!["dog"], vec!["dog", "vacation"], vec!["vacation"]]
        );
        assert_eq!(cat.delete_label("vacation").unwrap(), 2);
        assert_eq!(cat.tag_by_hand(&ids, "vacation", false).unwrap(), 0);
        assert_eq!(count(&cat, "vacation"), 0);
    }

    /// A catalog file at `db` as the migrations before `migration` left it, holding `rows`: what
    /// a library of an earlier version looks like when the next Glimpse opens it.
    fn catalog_before(db: &Path, migration: usize, rows: &str) {
        let mut conn = Connection::open(db).unwrap();
        conn.execute_batch("PRAGMA foreign_keys=ON;").unwrap();
        register_f16_conversion(&conn).unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &MIGRATIONS[..migration - 1] {
            tx.execute_batch(sql).unwrap();
        }
        tx.execute_batch(&format!("PRAGMA user_version = {}", migration - 1))
            .unwrap();
        tx.execute_batch(rows).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn tags_of_a_catalog_from_before_hand_tagging_stay_and_can_be_set_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        catalog_before(
            &dir.path().join("catalog.sqlite"),
            MANUAL_TAGS_MIGRATION,
            "INSERT INTO roots(path, added_at) VALUES (x'2f70', 0);
             INSERT INTO photos(root_id, path, size, mtime_ns, status, updated_at)
               VALUES (1, x'2f702f612e6a7067', 1, 1, 'indexed', 0),
                      (1, x'2f702f622e6a7067', 1, 1, 'indexed', 0);
             INSERT INTO labels(name) VALUES ('dog');
             INSERT INTO tags(photo_id, label_id, score) VALUES (1, 1, 0.9), (2, 1, 0.6);",
        );
        let mut cat = Catalog::open(dir.path()).unwrap();
        assert_eq!(cat.integrity_check().unwrap(), "ok");
        // The old tags are auto-tags: shown, and replaced by the next run.
        assert_eq!(names(&cat, &[1, 2]), [["dog"], ["dog"]]);
        assert_eq!(cat.tag_by_hand(&[1], "dog", false).unwrap(), 1);
        cat.replace_tags(&[1, 2], &[(1, 1, 0.9)]).unwrap();
        assert_eq!(names(&cat, &[1, 2]), [Vec::<String>::new(), vec![]]);
        assert!(cat.tag_counts().unwrap().is_empty());
    }

    #[test]
    fn filter_types_name_stored_formats() {
        assert_eq!(
            PhotoFilter::formats_named(&["JPG", "jpeg", " tif ", "heif", "png", ""]),
            ["heic", "jpeg", "png", "tiff"]
        );
        let raw = PhotoFilter::formats_named(&["raw", "NEF"]);
        assert_eq!(raw, RAW_FORMATS);
        assert!(PhotoFilter::formats_named::<&str>(&[]).is_empty());
    }

    #[test]
    fn f32_embeddings_of_an_older_catalog_become_packed_and_keep_their_meaning() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("catalog.sqlite");
        // A catalog as the version before f16 left it: 3,000 photos with 512-d f32 vectors.
        let dim = 512;
        let vectors: Vec<Vec<f32>> = (0..3000u64)
            .map(|i| {
                let mut s = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let v: Vec<f32> = (0..dim)
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5 + 0.3
                    })
                    .collect();
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / n).collect()
            })
            .collect();
        {
            let mut conn = Connection::open(&db).unwrap();
            conn.execute_batch("PRAGMA foreign_keys=ON;").unwrap();
            let tx = conn.transaction().unwrap();
            for sql in &MIGRATIONS[..F16_MIGRATION - 1] {
                tx.execute_batch(sql).unwrap();
            }
            tx.execute_batch(&format!("PRAGMA user_version = {}", F16_MIGRATION - 1))
                .unwrap();
            tx.execute("INSERT INTO models(name, dim) VALUES ('m', ?1)", [dim])
                .unwrap();
            tx.execute("INSERT INTO roots(path, added_at) VALUES (x'2f70', 0)", [])
                .unwrap();
            for (i, v) in vectors.iter().enumerate() {
                tx.execute(
                    "INSERT INTO photos(root_id, path, size, mtime_ns, status, updated_at)
                     VALUES (1, ?1, 1, 1, 'indexed', 0)",
                    [format!("/p/{i}.jpg").into_bytes()],
                )
                .unwrap();
                tx.execute(
                    "INSERT INTO embeddings(photo_id, model_id, vector, encodes) VALUES (?1, 1, ?2, 1)",
                    params![i as i64 + 1, vector_blob(v)],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        let before = std::fs::metadata(&db).unwrap().len();
        let generation = |c: &Catalog| -> i64 {
            c.conn
                .query_row("SELECT generation FROM models WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .unwrap()
        };
        let old_generation: i64 = Connection::open(&db)
            .unwrap()
            .query_row("SELECT generation FROM models WHERE id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        let cat = Catalog::open(dir.path()).unwrap();
        assert_eq!(cat.integrity_check().unwrap(), "ok");
        let stored = cat.embeddings(1).unwrap();
        assert_eq!(stored.len(), vectors.len());
        let worst = stored
            .iter()
            .map(|(id, v)| {
                let o = &vectors[*id as usize - 1];
                v.iter().zip(o).map(|(a, b)| a * b).sum::<f32>()
            })
            .fold(f32::INFINITY, f32::min);
        assert!(worst >= 0.9999, "cosine to the f32 original {worst}");
        // The vectors did not change meaning: the vector index stays valid (same generation),
        // the counts the window reads are intact, and the file shrank.
        assert_eq!(generation(&cat), old_generation);
        assert_eq!(cat.stats(1).unwrap().indexed, 3000);
        let after = std::fs::metadata(&db).unwrap().len();
        assert!(
            after * 2 < before,
            "catalog {before} bytes before, {after} after"
        );
        let pragma = |c: &Catalog, p: &str| -> String {
            c.conn
                .query_row(&format!("PRAGMA {p}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        assert_eq!(pragma(&cat, "page_size"), PAGE_SIZE.to_string());
        assert_eq!(pragma(&cat, "journal_mode"), "wal");
        let fresh = tempfile::tempdir().unwrap();
        let new = Catalog::open(fresh.path()).unwrap();
        assert_eq!(pragma(&new, "page_size"), PAGE_SIZE.to_string());
        assert_eq!(pragma(&new, "journal_mode"), "wal");
        // The converted embeddings are packed (the form written since), and deleting still
        // counts.
        drop(cat);
        let cat = Catalog::open(dir.path()).unwrap();
        let bytes: i64 = cat
            .conn
            .query_row("SELECT length(vector) FROM embeddings LIMIT 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(bytes, embedding_blob(&vectors[0]).len() as i64);
        assert!(bytes % 2 == 1 && bytes < 2 * dim as i64, "{bytes} bytes");
        cat.conn
            .execute("DELETE FROM photos WHERE id = 1", [])
            .unwrap();
        assert_eq!(cat.stats(1).unwrap().indexed, 2999);
        assert!(generation(&cat) > old_generation);
    }

    #[test]
    fn a_catalog_from_a_newer_glimpse_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        drop(Catalog::open(dir.path()).unwrap());
        let newer = MIGRATIONS.len() as i64 + 1;
        let db = dir.path().join("catalog.sqlite");
        Connection::open(&db)
            .unwrap()
            .execute_batch(&format!("PRAGMA user_version = {newer}"))
            .unwrap();
        let err = Catalog::open(dir.path())
            .err()
            .expect("a newer catalog must be refused");
        assert!(
            matches!(err, CatalogError::Newer { found, known } if found == newer && known == MIGRATIONS.len())
        );
        assert_eq!(
            err.to_string(),
            format!(
                "this library was written by a newer Glimpse (schema {newer}, this one knows {}); \
                 use that version or a new library folder",
                MIGRATIONS.len()
            )
        );
        let version: i64 = Connection::open(&db)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, newer);
        // A negative version (not one any Glimpse writes) is refused too, not taken for 0.
        Connection::open(&db)
            .unwrap()
            .execute_batch("PRAGMA user_version = -1")
            .unwrap();
        assert!(matches!(
            Catalog::open(dir.path()),
            Err(CatalogError::Newer { found: -1, .. })
        ));
        // The version this build writes opens.
        Connection::open(&db)
            .unwrap()
            .execute_batch(&format!("PRAGMA user_version = {}", MIGRATIONS.len()))
            .unwrap();
        assert!(Catalog::open(dir.path()).is_ok());
    }

    /// A catalog with `n` indexed photos `p/0.jpg`… (model 1, 4-d vectors, content `i`).
    fn indexed_photos(n: usize) -> (tempfile::TempDir, Catalog, Vec<i64>) {
        indexed_with(
            &(0..n)
                .map(|i| vec![1.0, i as f32, 0.0, 0.0])
                .collect::<Vec<_>>(),
        )
    }

    /// A catalog with a photo `p/i.jpg` indexed for each of `vectors` (model 1, "m", content
    /// `i`).
    fn indexed_with(vectors: &[Vec<f32>]) -> (tempfile::TempDir, Catalog, Vec<i64>) {
        let dir = tempfile::tempdir().unwrap();
        let mut cat = Catalog::open(dir.path()).unwrap();
        let model = cat.model_id("m", vectors[0].len()).unwrap();
        let root = cat.add_root(&dir.path().join("p")).unwrap();
        let files: Vec<(PathBuf, i64, i64, Option<String>)> = (0..vectors.len())
            .map(|i| (dir.path().join(format!("p/{i}.jpg")), 1, i as i64, None))
            .collect();
        let ids = cat.upsert_files(root.id, &files).unwrap();
        let outcomes: Vec<Outcome> = ids
            .iter()
            .zip(vectors)
            .enumerate()
            .map(|(i, (id, v))| Outcome::Encoded {
                photo_id: *id,
                hash: content(i),
                vector: v.clone(),
                width: 10,
                height: 10,
                format: "jpeg".into(),
                metadata: Metadata::default(),
                note: None,
            })
            .collect();
        cat.commit_batch(model, &outcomes).unwrap();
        (dir, cat, ids)
    }

    /// The content hash of [`indexed_photos`]' photo `i`.
    fn content(i: usize) -> ContentHash {
        crate::hash::content_hash(&i.to_le_bytes())
    }

    fn line(text: &str) -> TextLineRow {
        TextLineRow {
            text: text.into(),
            quad: [[1.0, 2.0], [30.0, 2.0], [30.0, 12.0], [1.0, 12.0]],
            confidence: 0.9,
        }
    }

    fn lines(texts: &[&str]) -> TextOutcome {
        TextOutcome::Lines(texts.iter().map(|t| line(t)).collect())
    }

    /// The photos (by index into `ids`) whose text shows `term`, through the filter and
    /// through the ranking's candidates, which must agree.
    fn showing(cat: &Catalog, ids: &[i64], term: &str) -> Vec<usize> {
        let filter = PhotoFilter {
            words: vec![term.to_string()],
            ..PhotoFilter::default()
        };
        let index = |id: i64| ids.iter().position(|i| *i == id).unwrap();
        let mut by_filter: Vec<usize> = cat
            .filter_ids(1, &filter)
            .unwrap()
            .into_iter()
            .map(index)
            .collect();
        let mut ranked: Vec<usize> = cat
            .photos_with_words(1, &PhotoFilter::default(), &[term.to_string()], 100)
            .unwrap()
            .into_iter()
            .map(index)
            .collect();
        ranked.sort();
        by_filter.sort();
        assert_eq!(by_filter, ranked, "filter and ranking disagree on {term:?}");
        by_filter
    }

    fn fts_ok(cat: &Catalog) {
        cat.conn
            .execute_batch("INSERT INTO text_fts(text_fts, rank) VALUES ('integrity-check', 1)")
            .expect("the text index matches the lines");
    }

    #[test]
    fn words_are_found_by_substring_whatever_their_case_accents_or_script() {
        let (_dir, mut cat, ids) = indexed_photos(5);
        let stored = cat
            .store_text(
                "ocr-1",
                &[
                    (ids[0], lines(&["TESCO Express", "Total 12.40"])),
                    (ids[1], lines(&["Le CAFÉ de la Gare"])),
                    (ids[2], lines(&["東京駅 丸の内北口"])),
                    (ids[3], lines(&[])),
                    (ids[4], TextOutcome::Failed("decoder gave up".into())),
                    (9_999, lines(&["no such photo"])),
                ],
            )
            .unwrap();
        assert_eq!(stored, 5, "an id with no photo is skipped");
        fts_ok(&cat);
        // Substrings, any case, with or without accents (a decomposed accent too).
        assert_eq!(showing(&cat, &ids, "tesco"), [0]);
        assert_eq!(showing(&cat, &ids, "esc"), [0]);
        assert_eq!(showing(&cat, &ids, "12.40"), [0]);
        assert_eq!(showing(&cat, &ids, "cafe"), [1]);
        assert_eq!(showing(&cat, &ids, "CAFÉ"), [1]);
        assert_eq!(showing(&cat, &ids, "cafe\u{301} de"), [1]);
        assert_eq!(showing(&cat, &ids, "GARE"), [1]);
        // CJK: three characters through the trigram index, two by reading the lines.
        assert_eq!(showing(&cat, &ids, "丸の内"), [2]);
        assert_eq!(showing(&cat, &ids, "東京"), [2]);
        assert_eq!(showing(&cat, &ids, "北口"), [2]);
        assert_eq!(showing(&cat, &ids, "12"), [0]);
        assert!(
            showing(&cat, &ids, "tesco express total").is_empty(),
            "lines apart"
        );
        assert!(showing(&cat, &ids, "大阪").is_empty());
        // Terms of one search: a long one ranks through the index, short ones then wait.
        let both = cat
            .photos_with_words(
                1,
                &PhotoFilter::default(),
                &["gare".into(), "12".into()],
                10,
            )
            .unwrap();
        assert_eq!(both, [ids[1]]);
        // Two filters on words: both must be in the picture.
        let filter = PhotoFilter {
            words: vec!["tesco".into(), "12".into()],
            ..PhotoFilter::default()
        };
        assert_eq!(cat.filter_ids(1, &filter).unwrap(), [ids[0]]);
        // Has text: only pictures with lines; without: the rest, failures and empties too.
        let has = |v: bool| {
            let f = PhotoFilter {
                has_text: Some(v),
                ..PhotoFilter::default()
            };
            cat.filter_ids(1, &f).unwrap()
        };
        assert_eq!(has(true), ids[..3]);
        assert_eq!(has(false), ids[3..]);
        assert_eq!(
            cat.text_lines_of(&ids).unwrap()[&ids[0]],
            [line("TESCO Express"), line("Total 12.40")]
        );
        assert!(cat.has_text_lines().unwrap());
        // Every photo was read by this version, failures included; none is read again.
        let p = cat.text_progress("ocr-1").unwrap();
        assert_eq!(
            p,
            TextProgress {
                total: 5,
                read: 5,
                with_text: 3,
                failed: 1
            }
        );
        assert!(cat.photos_needing_text("ocr-1", 0, 10).unwrap().is_empty());
        // A new version reads them all again, by id, from where it stopped.
        let next = cat.photos_needing_text("ocr-2", 0, 2).unwrap();
        assert_eq!(next.iter().map(|p| p.0).collect::<Vec<_>>(), ids[..2]);
        let rest = cat.photos_needing_text("ocr-2", next[1].0, 10).unwrap();
        assert_eq!(rest.iter().map(|p| p.0).collect::<Vec<_>>(), ids[2..]);
        assert_eq!(cat.text_progress("ocr-2").unwrap().read, 0);
    }

    #[test]
    fn text_written_again_replaces_the_old_and_goes_with_its_photo_or_content() {
        let (dir, mut cat, ids) = indexed_photos(3);
        cat.store_text("v1", &[(ids[0], lines(&["old receipt", "old total"]))])
            .unwrap();
        cat.store_text("v2", &[(ids[0], lines(&["new sign"]))])
            .unwrap();
        fts_ok(&cat);
        assert!(showing(&cat, &ids, "receipt").is_empty());
        assert_eq!(showing(&cat, &ids, "sign"), [0]);
        assert_eq!(cat.text_lines_of(&[ids[0]]).unwrap()[&ids[0]].len(), 1);
        // A failure replaces the lines too, and keeps its reason.
        cat.store_text("v3", &[(ids[0], TextOutcome::Failed("too dark".into()))])
            .unwrap();
        assert!(showing(&cat, &ids, "sign").is_empty());
        let why: Option<String> = cat
            .conn
            .query_row(
                "SELECT error FROM text_read WHERE photo_id = ?1",
                [ids[0]],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(why.as_deref(), Some("too dark"));

        // A line with no number where one is expected is stored, as 0.
        let mut odd = line("odd box");
        odd.quad[0][0] = f32::NAN;
        odd.confidence = f32::INFINITY;
        cat.store_text("v1", &[(ids[1], TextOutcome::Lines(vec![odd]))])
            .unwrap();
        let back = &cat.text_lines_of(&[ids[1]]).unwrap()[&ids[1]][0];
        assert_eq!((back.quad[0][0], back.confidence), (0.0, 0.0));

        // The same bytes indexed again keep their text; new bytes drop it (to be read again).
        cat.store_text("v1", &[(ids[2], lines(&["keep me"]))])
            .unwrap();
        let reindex = |cat: &mut Catalog, hash: ContentHash| {
            cat.commit_batch(
                1,
                &[Outcome::Encoded {
                    photo_id: ids[2],
                    hash,
                    vector: vec![0.0, 1.0, 0.0, 0.0],
                    width: 10,
                    height: 10,
                    format: "jpeg".into(),
                    metadata: Metadata::default(),
                    note: None,
                }],
            )
            .unwrap();
        };
        reindex(&mut cat, content(2));
        assert_eq!(showing(&cat, &ids, "keep me"), [2]);
        reindex(&mut cat, [7; 32]);
        assert!(showing(&cat, &ids, "keep me").is_empty());
        assert_eq!(
            cat.photos_needing_text("v1", 0, 10).unwrap(),
            [
                (ids[0], dir.path().join("p/0.jpg")),
                (ids[2], dir.path().join("p/2.jpg"))
            ],
            "0 was read by another version, 2 must be read again"
        );
        fts_ok(&cat);

        // A changed file waiting to be indexed again is not stored to.
        cat.upsert_files(1, &[(dir.path().join("p/1.jpg"), 2, 99, None)])
            .unwrap();
        assert_eq!(
            cat.store_text("v9", &[(ids[1], lines(&["late"]))]).unwrap(),
            0
        );

        // A deleted photo's lines leave the index with it, as do a removed folder's.
        cat.delete_photos(&[ids[0]], &HashSet::new(), &HashSet::new())
            .unwrap();
        fts_ok(&cat);
        cat.store_text("v1", &[(ids[2], lines(&["folder text"]))])
            .unwrap();
        cat.remove_root(&dir.path().join("p")).unwrap();
        fts_ok(&cat);
        assert!(!cat.has_text_lines().unwrap());
        let left: i64 = cat
            .conn
            .query_row("SELECT COUNT(*) FROM text_read", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn a_removed_folder_keeps_its_text_in_the_stash_and_copies_keep_theirs() {
        let (dir, mut cat, ids) = indexed_photos(3);
        cat.store_text(
            "v1",
            &[
                (ids[0], lines(&["Platform 9", "Kings Cross"])),
                (ids[1], TextOutcome::Failed("unreadable".into())),
            ],
        )
        .unwrap();
        // A copy of photo 0 elsewhere (a moved file): its text comes with the vector.
        let other = cat.add_root(&dir.path().join("q")).unwrap();
        let copy = cat
            .upsert_files(other.id, &[(dir.path().join("q/copy.jpg"), 1, 1, None)])
            .unwrap()[0];
        cat.commit_batch(
            1,
            &[Outcome::Reused {
                photo_id: copy,
                hash: content(0),
                same_as: Source::Photo(ids[0]),
            }],
        )
        .unwrap();
        assert_eq!(
            cat.text_lines_of(&[copy]).unwrap()[&copy],
            cat.text_lines_of(&[ids[0]]).unwrap()[&ids[0]]
        );

        cat.remove_root(&dir.path().join("p")).unwrap();
        cat.remove_root(&dir.path().join("q")).unwrap();
        assert!(!cat.has_text_lines().unwrap());
        // Added back: copied from the stash, text, failures and version included.
        let root = cat.add_root(&dir.path().join("p")).unwrap();
        let files: Vec<(PathBuf, i64, i64, Option<String>)> = (0..3)
            .map(|i| (dir.path().join(format!("p/{i}.jpg")), 1, i, None))
            .collect();
        let back = cat.upsert_files(root.id, &files).unwrap();
        let outcomes: Vec<Outcome> = (0..3)
            .map(|i| Outcome::Reused {
                photo_id: back[i],
                hash: content(i),
                same_as: Source::Stashed,
            })
            .collect();
        cat.commit_batch(1, &outcomes).unwrap();
        fts_ok(&cat);
        assert_eq!(showing(&cat, &back, "kings cross"), [0]);
        let rows = cat.text_lines_of(&back).unwrap();
        assert_eq!(rows[&back[0]], [line("Platform 9"), line("Kings Cross")]);
        assert_eq!(
            cat.text_progress("v1").unwrap(),
            TextProgress {
                total: 3,
                read: 2,
                with_text: 1,
                failed: 1
            }
        );
        assert_eq!(
            cat.photos_needing_text("v1", 0, 10).unwrap(),
            [(back[2], dir.path().join("p/2.jpg"))],
            "only the picture never read is read"
        );
    }

    #[test]
    fn a_catalog_from_before_text_gets_its_tables_and_keeps_its_stash() {
        let dir = tempfile::tempdir().unwrap();
        catalog_before(
            &dir.path().join("catalog.sqlite"),
            TEXT_MIGRATION,
            "INSERT INTO models(name, dim) VALUES ('m', 4);
             INSERT INTO roots(path, added_at) VALUES (x'2f70', 0);
             INSERT INTO photos(root_id, path, size, mtime_ns, status, content_hash,
                 updated_at) VALUES (1, x'2f702f612e6a7067', 1, 1, 'indexed', x'01', 0);
             INSERT INTO embeddings(photo_id, model_id, vector) VALUES (1, 1, x'0000');
             INSERT INTO stash(content_hash, model_id, vector, stashed_at)
                 VALUES (x'02', 1, x'0000', 0);",
        );
        let mut cat = Catalog::open(dir.path()).unwrap();
        assert_eq!(cat.integrity_check().unwrap(), "ok");
        let version: i64 = cat
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        let stashed: (i64, Option<String>) = cat
            .conn
            .query_row("SELECT COUNT(*), MAX(text) FROM stash", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(stashed, (1, None), "stashed before text: kept, with none");
        // The photo indexed before is read, and then found by its words.
        assert_eq!(cat.photos_needing_text("v1", 0, 10).unwrap().len(), 1);
        assert_eq!(cat.store_text("v1", &[(1, lines(&["Café"]))]).unwrap(), 1);
        assert_eq!(showing(&cat, &[1], "cafe"), [0]);
        fts_ok(&cat);
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn the_library_folder_and_its_thumbnails_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let set = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        set(dir.path(), 0o755);
        // New: created 0700 (the parents it needs keep the usual permissions).
        let lib = dir.path().join("a/library");
        drop(Catalog::open(&lib).unwrap());
        assert_eq!(mode(&lib), 0o700);
        assert_eq!(mode(&lib.join("thumbs")), 0o700);
        assert_ne!(
            mode(&dir.path().join("a")) & 0o077,
            0,
            "parents are not ours to change"
        );
        // An existing library that others can read is made private.
        set(&lib, 0o755);
        set(&lib.join("thumbs"), 0o775);
        drop(Catalog::open(&lib).unwrap());
        assert_eq!(mode(&lib), 0o700);
        assert_eq!(mode(&lib.join("thumbs")), 0o700);
        // Only the bits of others go; what the owner had stays.
        set(&lib, 0o750);
        drop(Catalog::open(&lib).unwrap());
        assert_eq!(mode(&lib), 0o700);
        // A file in the way is an error, not a library.
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            Catalog::open(&file),
            Err(CatalogError::Folder { .. })
        ));
    }
}
