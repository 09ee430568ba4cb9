//! What a library records that no model's vectors decide: its roots, photos, tags, formats,
//! failures and settings, read without loading a model or taking the writer's lock. The front
//! ends read a library through this (and [`crate::Library`]'s model-bound reads), never through
//! the catalog's own API, which also serves the indexing job.

use crate::catalog::{Catalog, FormatCount, PhotoInfo, Root, TagRule, TextLineRow, TextProgress};
use crate::error::LibraryError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The catalog setting that names the model a library was last indexed with.
pub const MODEL_SETTING: &str = "model";

/// The setting that holds [`Records::index_threads`].
const INDEX_THREADS_SETTING: &str = "index_threads";

/// The setting that holds [`Records::read_text`].
const READ_TEXT_SETTING: &str = "read_text";

/// An open library folder, read without a model: `glimpse roots`, `glimpse status` and the
/// window's file gate use it on their own; [`crate::Library::records`] lends the one an open
/// library holds.
pub struct Records {
    pub(crate) catalog: Catalog,
}

impl Records {
    /// Opens (creating and migrating) the catalog of the library at `dir`.
    pub fn open(dir: &Path) -> Result<Self, LibraryError> {
        Ok(Records {
            catalog: Catalog::open(dir)?,
        })
    }

    /// `PRAGMA integrity_check` of the catalog: "ok" or the problems found (reads it all).
    pub fn integrity_check(&self) -> Result<String, LibraryError> {
        Ok(self.catalog.integrity_check()?)
    }

    /// The photo roots, by path.
    pub fn roots(&self) -> Result<Vec<Root>, LibraryError> {
        Ok(self.catalog.roots()?)
    }

    /// Just the roots' paths: what a scan or a watcher walks.
    pub fn root_paths(&self) -> Result<Vec<PathBuf>, LibraryError> {
        Ok(self.roots()?.into_iter().map(|r| r.path).collect())
    }

    /// Records `path` as a root (taking in roots inside it; inside a root it is that root):
    /// the next indexing job scans it. Needs neither a model nor the writer's lock.
    pub fn add_root(&self, path: &Path) -> Result<Root, LibraryError> {
        Ok(self.catalog.add_root(path)?)
    }

    /// Removes the root `path` and its photos' rows (never a file) from a library that has
    /// no model's vectors yet, returning how many photos went; a library with vectors removes
    /// roots through [`crate::Library::remove_root`], which takes them out of its index too.
    pub fn remove_root(&self, path: &Path) -> Result<usize, LibraryError> {
        Ok(self.catalog.remove_root(path)?.len())
    }

    /// The root `path` lies in (or is), if any.
    pub fn root_holding(&self, path: &Path) -> Result<Option<Root>, LibraryError> {
        Ok(self.catalog.root_holding(path)?)
    }

    /// Renames a tag on its photos and in the auto-tags that name it (merging into a tag of
    /// that name); its meaning is kept. How many photos carry it now, `None` if there is none.
    pub fn rename_tag(&self, old: &str, new: &str) -> Result<Option<u64>, LibraryError> {
        Ok(self.catalog.rename_label(old, new)?)
    }

    /// Sets the tag `name` on `photos` by hand (created if new): auto-tagging never takes it
    /// off again. How many photos gained it (ids with no photo are skipped).
    pub fn tag_photos(&self, photos: &[i64], name: &str) -> Result<usize, LibraryError> {
        Ok(self.catalog.tag_by_hand(photos, name, true)?)
    }

    /// Takes the tag `name` off `photos` by hand: auto-tagging does not put it back. How many
    /// photos lost it.
    pub fn untag_photos(&self, photos: &[i64], name: &str) -> Result<usize, LibraryError> {
        Ok(self.catalog.tag_by_hand(photos, name, false)?)
    }

    /// Takes a tag off every photo and out of the auto-tags; how many photos carried it.
    pub fn delete_tag(&self, name: &str) -> Result<u64, LibraryError> {
        Ok(self.catalog.delete_label(name)?)
    }

    /// The folders below a root holding searchable photos, with their subtree's count, by path.
    pub fn folder_counts(&self, root_id: i64) -> Result<Vec<(PathBuf, u64)>, LibraryError> {
        Ok(self.catalog.folder_counts(root_id)?)
    }

    /// Up to `limit` failed or unsupported files under a root with their reasons, by path.
    pub fn root_failures(
        &self,
        root_id: i64,
        limit: usize,
    ) -> Result<Vec<(PathBuf, String)>, LibraryError> {
        Ok(self.catalog.root_failures(root_id, limit)?)
    }

    /// The models the library has vectors for (or was opened with): name and vector width.
    pub fn models(&self) -> Result<Vec<(String, usize)>, LibraryError> {
        Ok(self.catalog.models()?)
    }

    /// How many of the library's photos already have a vector for the model stored as `model`
    /// (its folder name), so that switching to it can say how many are read again.
    pub fn vectors_of(&self, model: &str) -> Result<u64, LibraryError> {
        Ok(self.catalog.vectors_of(model)?)
    }

    /// The vector width the library recorded for `model`, so that it is opened with the width
    /// its vectors have; `None` for a model it has not seen.
    pub fn width_of(&self, model: &str) -> Result<Option<usize>, LibraryError> {
        Ok(self
            .models()?
            .into_iter()
            .find(|(n, _)| n == model)
            .map(|(_, dim)| dim))
    }

    /// The model the library was last indexed with (see [`crate::remembered_model`]).
    pub fn remembered_model(&self) -> Result<Option<String>, LibraryError> {
        Ok(self.catalog.setting(MODEL_SETTING)?)
    }

    /// The execution provider the last indexing job's image encoder ran on, for `status`.
    pub fn provider(&self) -> Result<Option<String>, LibraryError> {
        Ok(self.catalog.setting("provider")?)
    }

    /// The decoder threads the user chose for indexing this library, if any: someone who works
    /// while a large folder indexes may give it fewer cores than the machine has. A value that
    /// is not a count (written by hand, or an older build) reads as no choice.
    pub fn index_threads(&self) -> Result<Option<usize>, LibraryError> {
        Ok(self
            .catalog
            .setting(INDEX_THREADS_SETTING)?
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0))
    }

    /// Records the indexing threads chosen in the window (`None`: one per core, the default).
    pub fn set_index_threads(&self, threads: Option<usize>) -> Result<(), LibraryError> {
        let value = threads.map_or_else(|| "all".to_string(), |n| n.to_string());
        Ok(self.catalog.set_setting(INDEX_THREADS_SETTING, &value)?)
    }

    /// Whether the words in this library's pictures are read (on unless the user turned it
    /// off: reading costs several times what indexing a picture does). A value that is not
    /// "on" or "off" (written by hand) reads as on.
    pub fn read_text(&self) -> Result<bool, LibraryError> {
        Ok(self.catalog.setting(READ_TEXT_SETTING)?.as_deref() != Some("off"))
    }

    /// Turns reading the words in pictures on or off for this library (what was read stays
    /// searchable).
    pub fn set_read_text(&self, on: bool) -> Result<(), LibraryError> {
        let value = if on { "on" } else { "off" };
        Ok(self.catalog.set_setting(READ_TEXT_SETTING, value)?)
    }

    /// How far the text reader of `version` has come over the searchable photos (reads each
    /// one's row: ask every few seconds, not every frame).
    pub fn text_progress(&self, version: &str) -> Result<TextProgress, LibraryError> {
        Ok(self.catalog.text_progress(version)?)
    }

    /// The lines of text read in a photo, in reading order, with their boxes (none when it
    /// shows no text or was not read).
    pub fn text_lines(&self, photo: i64) -> Result<Vec<TextLineRow>, LibraryError> {
        Ok(self
            .catalog
            .text_lines_of(&[photo])?
            .remove(&photo)
            .unwrap_or_default())
    }

    /// The lines of text of each photo among `ids` (a line's number is its index); photos
    /// without any are absent.
    pub fn text_lines_of(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<TextLineRow>>, LibraryError> {
        Ok(self.catalog.text_lines_of(ids)?)
    }

    /// Whether text was read in any photo: until then a search matches no words and quoted
    /// text only groups words for the model.
    pub fn has_text(&self) -> Result<bool, LibraryError> {
        Ok(self.catalog.has_text_lines()?)
    }

    /// Photos per format by state (all models), for `status`.
    pub fn format_counts(&self) -> Result<Vec<FormatCount>, LibraryError> {
        Ok(self.catalog.format_counts()?)
    }

    /// The formats of searchable photos with their counts, for the type filter.
    pub fn indexed_formats(&self) -> Result<Vec<(String, u64)>, LibraryError> {
        Ok(self.catalog.indexed_formats()?)
    }

    /// Every failed file with its reason, by path.
    pub fn failed_files(&self) -> Result<Vec<(PathBuf, String)>, LibraryError> {
        Ok(self.catalog.failed_files()?)
    }

    /// Every searchable photo whose text the reader of `version` could not read, with the
    /// reason, by path: what `status --files` lists beside the files that failed to index.
    pub fn text_failed_files(&self, version: &str) -> Result<Vec<(PathBuf, String)>, LibraryError> {
        Ok(self.catalog.text_failed_files(version)?)
    }

    /// Every indexed file that came with a note ("decoded with warnings: ..."), by path.
    pub fn noted_files(&self) -> Result<Vec<(PathBuf, String)>, LibraryError> {
        Ok(self.catalog.noted_files()?)
    }

    /// A photo of the library by its path, if it is one (the window's gate serves no other
    /// file from a photo folder).
    pub fn photo_by_path(&self, path: &Path) -> Result<Option<PhotoInfo>, LibraryError> {
        Ok(self.catalog.photo_by_path(path)?)
    }

    /// What results show about these photos, by id (missing ids are simply absent).
    pub fn photo_infos(&self, ids: &[i64]) -> Result<HashMap<i64, PhotoInfo>, LibraryError> {
        Ok(self.catalog.photo_infos(ids)?)
    }

    /// Tags of each photo among `ids`, best first (label, score); photos without tags are
    /// absent.
    pub fn tags_of(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<(String, f32)>>, LibraryError> {
        Ok(self.catalog.tags_of(ids)?)
    }

    /// Every tag in use with how many photos carry it, most used first.
    pub fn tag_counts(&self) -> Result<Vec<(String, u64)>, LibraryError> {
        Ok(self.catalog.tag_counts()?)
    }

    /// The labels the user named (not the built-in ones), for the default label list.
    pub fn user_labels(&self) -> Result<Vec<String>, LibraryError> {
        Ok(self.catalog.user_labels()?)
    }

    /// The folders that keep tagging arrivals (their auto-tag rules).
    pub fn tag_rules(&self) -> Result<Vec<TagRule>, LibraryError> {
        Ok(self.catalog.tag_rules()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_read_without_a_model_knows_its_roots_and_model_widths() {
        let dir = tempfile::tempdir().unwrap();
        let photos = tempfile::tempdir().unwrap();
        let records = Records::open(dir.path()).unwrap();
        assert_eq!(records.width_of("tiny").unwrap(), None);
        assert!(records.root_paths().unwrap().is_empty());
        // A model row as Library::open makes it: its width is what a later open must use.
        records.catalog.model_id("tiny", 512).unwrap();
        assert_eq!(records.width_of("tiny").unwrap(), Some(512));
        assert_eq!(records.width_of("other").unwrap(), None);
        let root = records.add_root(photos.path()).unwrap();
        assert_eq!(records.root_paths().unwrap(), vec![root.path.clone()]);
        let inner = photos.path().join("inner");
        assert_eq!(records.root_holding(&inner).unwrap(), Some(root.clone()));
        assert_eq!(records.remove_root(&root.path).unwrap(), 0, "no photos yet");
        assert!(records.roots().unwrap().is_empty());
        assert_eq!(records.remembered_model().unwrap(), None);
        assert_eq!(records.provider().unwrap(), None);
    }

    #[test]
    fn reading_text_is_on_until_turned_off() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::open(dir.path()).unwrap();
        assert!(records.read_text().unwrap());
        records.set_read_text(false).unwrap();
        assert!(!Records::open(dir.path()).unwrap().read_text().unwrap());
        records.set_read_text(true).unwrap();
        assert!(records.read_text().unwrap());
        // Anything else written by hand reads as on.
        records.catalog.set_setting("read_text", "maybe").unwrap();
        assert!(records.read_text().unwrap());
        assert!(!records.has_text().unwrap());
        assert!(records.text_lines(1).unwrap().is_empty());
    }
}
