//! The models Settings offers and what a name the window sends resolves to: the manifest's
//! models, model folders put in the models folder by hand, and the one in use when it is a
//! folder of its own ([`crate::Session::models`], [`crate::Session::set_model`]).

use crate::views::ModelChoice;
use glimpse_clip::model::{manifest, ModelFiles};
use glimpse_library::{LibraryError, Records};
use std::path::{Path, PathBuf};

/// Why a model cannot be chosen, or the list not read (the session says it as a setting's
/// refusal or the library's error).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChoiceError {
    /// The name is no model Glimpse can use; the message says why, in words.
    #[error("{0}")]
    Refused(String),
    /// The library's counts could not be read.
    #[error(transparent)]
    Library(#[from] LibraryError),
}

/// Where the models come from and where they are kept (the session's configuration).
pub(crate) struct ModelPlaces<'a> {
    /// Downloaded (and hand-placed) model folders.
    pub(crate) models_dir: &'a Path,
    /// The download server, when tests override it.
    pub(crate) base_url: Option<&'a str>,
}

impl ModelPlaces<'_> {
    /// Whether `name` (a manifest name or a folder) is complete here, downloading nothing.
    fn present(&self, name: &str) -> bool {
        manifest::ensure_model(name, self.models_dir, false, self.base_url, &mut |_, _| {})
            .is_ok_and(|d| ModelFiles::open(&d).is_ok())
    }

    /// Model folders in the models folder that the manifest does not name, by path.
    fn hand_placed(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.models_dir) else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
                // Staging folders of downloads in progress start with a dot.
                !name.starts_with('.')
                    && manifest::find(name).is_none()
                    && p.is_dir()
                    && ModelFiles::open(p).is_ok()
            })
            // A link to a model folder is that folder.
            .map(|p| p.canonicalize().unwrap_or(p))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The choices Settings lists, `current` marked in use, each with how many of the
    /// library's photos already have its vectors.
    pub(crate) fn choices(
        &self,
        current: &str,
        records: &Records,
    ) -> Result<Vec<ModelChoice>, ChoiceError> {
        let current_dir = as_folder(current);
        let mut out = Vec::new();
        for m in manifest::models() {
            let present = self.present(&m.name);
            let pinned: Option<u64> = m.required_files().map(|f| f.size).sum();
            out.push(ModelChoice {
                name: m.name.clone(),
                description: Some(m.description.clone()),
                download_bytes: if present { None } else { pinned },
                present,
                in_use: same_model(&m.name, current),
                photos_read: records.vectors_of(&m.name)?,
            });
        }
        let mut folders = self.hand_placed();
        if let Some(d) = &current_dir {
            if !folders.contains(d) {
                folders.push(d.clone());
            }
        }
        for dir in folders {
            out.push(ModelChoice {
                name: dir.display().to_string(),
                description: None,
                download_bytes: None,
                present: self.present(&dir.display().to_string()),
                in_use: current_dir.as_ref() == Some(&dir),
                photos_read: records.vectors_of(&storage_key(&dir))?,
            });
        }
        Ok(out)
    }

    /// The model `name` names, as the session keeps it: a manifest name as the manifest spells
    /// it, or a model folder's full path; refused in words when it is neither.
    pub(crate) fn resolve(&self, name: &str) -> Result<String, ChoiceError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ChoiceError::Refused("Choose a model.".into()));
        }
        if let Some(m) = manifest::find(name) {
            return Ok(m.name.clone());
        }
        if let Some(dir) = as_folder(name) {
            return match ModelFiles::open(&dir) {
                Ok(_) => Ok(dir.display().to_string()),
                Err(e) => Err(ChoiceError::Refused(format!(
                    "The folder “{}” is not a model Glimpse can use: {e}",
                    dir.display()
                ))),
            };
        }
        let known: Vec<&str> = manifest::models().iter().map(|m| m.name.as_str()).collect();
        Err(ChoiceError::Refused(format!(
            "Glimpse knows no model called “{name}”. The models it can use are {}.",
            known.join(", ")
        )))
    }
}

/// `name` as a model folder's full path, when it is a folder.
pub(crate) fn as_folder(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if !p.is_dir() {
        return None;
    }
    Some(p.canonicalize().unwrap_or_else(|_| p.to_path_buf()))
}

/// Whether two model names are the same model (a folder named by two spellings of its path).
pub(crate) fn same_model(a: &str, b: &str) -> bool {
    match (as_folder(a), as_folder(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => manifest::find(a)
            .zip(manifest::find(b))
            .map_or(a == b, |(x, y)| x.name == y.name),
        _ => false,
    }
}

/// The name a model folder's vectors are stored under in the library (its folder name, as
/// [`ModelFiles`] names it).
fn storage_key(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
