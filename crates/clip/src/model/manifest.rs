//! The catalogue of downloadable models (`models/manifest.json`, embedded in the binary) and
//! `ensure_model`, which turns a model name into a complete folder on disk: found, adopted, or
//! downloaded file by file from the immich CLIP zoo on Hugging Face, each file verified and moved
//! into place atomically. A lock file (`.glimpse-manifest.json`) in the folder records the size
//! and sha256 of every file, so later opens notice a truncated or replaced file.
//!
//! Pins: the shipped catalogue has `size` and `sha256` null and `revision: main` for every
//! model, because the files' real sizes and hashes could not be learnt where it was written (no
//! access to Hugging Face; guessing would break every download). Until they are pinned, the
//! first download is trusted and recorded in the lock file, each unpinned file is capped by
//! kind (`max_unpinned_size`), and only https is used (`download::check_url`). Pin `size`,
//! `sha256` and a commit as `revision` as soon as they are known: pinned files are then checked
//! byte for byte.

use crate::download::{self, DownloadError, DownloadProgress, Expected};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// The catalogue as shipped; embedded so a release binary needs no data files.
pub(crate) const MANIFEST_JSON: &str = include_str!("../../../../models/manifest.json");
/// Name of the lock file written inside a model folder.
pub const LOCK_FILE: &str = ".glimpse-manifest.json";
/// Where model files come from unless `HF_ENDPOINT` or the caller says otherwise.
pub(crate) const DEFAULT_BASE_URL: &str = "https://huggingface.co";
/// Environment variable naming a Hugging Face mirror (the convention `huggingface_hub` uses).
pub(crate) const BASE_URL_ENV: &str = "HF_ENDPOINT";
/// The model used when none is named; a `const` so the CLI can use it as a default argument.
pub const DEFAULT_MODEL: &str = "ViT-B-32__openai";
/// Environment variable that moves the models folder (e.g. onto a bigger disk).
pub(crate) const MODELS_DIR_ENV: &str = "GLIMPSE_MODELS_DIR";

/// The most a model file whose size is not pinned may weigh, by kind, so that a broken or
/// hostile server (or mirror) cannot fill the disk: a graph is one ONNX protobuf, which cannot
/// exceed 2 GiB (ViT-L/14's image tower is about 1.2 GB, XLM-RoBERTa's text tower 1.1 GB); a
/// tokenizer is a few MB (CLIP's BPE about 2 MB, XLM-RoBERTa's 250k-piece vocabulary under
/// 20 MB); a config is a few hundred bytes. Anything else gets the graph's cap.
pub(crate) fn max_unpinned_size(path: &str) -> u64 {
    const MIB: u64 = 1 << 20;
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.ends_with(".onnx") {
        2048 * MIB
    } else if name == "tokenizer.json" {
        64 * MIB
    } else if name.ends_with(".json") || name.ends_with(".txt") {
        4 * MIB
    } else {
        2048 * MIB
    }
}

/// One file of a model, with its pins where they are known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ModelFile {
    /// Path inside the model folder and the repository, `/`-separated.
    pub path: String,
    /// Size in bytes, when pinned.
    #[serde(default)]
    pub size: Option<u64>,
    /// sha256 (hex), when pinned.
    #[serde(default)]
    pub sha256: Option<String>,
    /// A file the model works without (a 404 for it is not an error).
    #[serde(default)]
    pub optional: bool,
}

/// One downloadable model, enough for `glimpse models` to describe it and for
/// [`ensure_model`] to fetch it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ModelEntry {
    /// The name users type and the folder name under the models directory.
    pub name: String,
    /// Hugging Face repository, `owner/name`.
    pub repo: String,
    /// Branch, tag or commit the files are taken from.
    pub revision: String,
    /// Length of the embedding vectors, which sizes the vector index.
    pub dim: usize,
    /// Whether the text tower understands languages other than English.
    pub multilingual: bool,
    /// One line for humans.
    pub description: String,
    /// The files of the model folder.
    pub files: Vec<ModelFile>,
}

impl ModelEntry {
    /// The download URL of `file` below `base` (`<base>/<repo>/resolve/<revision>/<path>`).
    pub fn url(&self, base: &str, file: &ModelFile) -> String {
        format!(
            "{}/{}/resolve/{}/{}",
            base.trim_end_matches('/'),
            self.repo,
            self.revision,
            file.path
        )
    }

    /// The files without which the model cannot run.
    pub fn required_files(&self) -> impl Iterator<Item = &ModelFile> {
        self.files.iter().filter(|f| !f.optional)
    }
}

#[derive(Debug, serde::Deserialize)]
struct Catalog {
    default: String,
    models: Vec<ModelEntry>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    // The JSON is part of the source tree and covered by `embedded_manifest_is_valid`.
    serde_json::from_str(MANIFEST_JSON).expect("models/manifest.json is valid (checked by tests)")
});

/// All models the catalogue knows, in display order.
pub fn models() -> &'static [ModelEntry] {
    &CATALOG.models
}

/// Looks a model up by name (exact, then ignoring case), so the CLI accepts `vit-b-32__openai`.
pub fn find(name: &str) -> Option<&'static ModelEntry> {
    let all = models();
    all.iter()
        .find(|m| m.name == name)
        .or_else(|| all.iter().find(|m| m.name.eq_ignore_ascii_case(name)))
}

/// The model used when the user names none.
pub fn default_model() -> &'static ModelEntry {
    find(&CATALOG.default).unwrap_or(&CATALOG.models[0])
}

/// Where downloaded models live: `GLIMPSE_MODELS_DIR`, else `<platform cache dir>/glimpse/models`
/// (models are re-downloadable, so they belong in the cache, next to ONNX Runtime).
pub fn default_models_dir() -> PathBuf {
    match std::env::var_os(MODELS_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => crate::runtime::default_cache_dir().join("models"),
    }
}

/// The base URL to download from when the caller gives none: `HF_ENDPOINT` or Hugging Face.
pub(crate) fn default_base_url() -> String {
    std::env::var(BASE_URL_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
}

/// Size and hash of one file as recorded in the lock file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct LockedFile {
    /// Size in bytes.
    pub size: u64,
    /// sha256 (hex).
    pub sha256: String,
}

/// Contents of `.glimpse-manifest.json`: what a complete model folder held when it was made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ModelLock {
    /// Lock file format version.
    pub format: u32,
    /// Model name.
    pub model: String,
    /// Repository the files came from.
    pub repo: String,
    /// Revision the files came from.
    pub revision: String,
    /// Every file present, by path.
    pub files: BTreeMap<String, LockedFile>,
}

/// Why a model could not be made available; every message names the folder and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Neither an existing folder nor a catalogue name.
    #[error("unknown model `{name}`: not a folder and not one of {}", known.join(", "))]
    UnknownModel {
        /// What the user asked for.
        name: String,
        /// The names the catalogue knows.
        known: Vec<String>,
    },
    /// Looks like a path but nothing is there.
    #[error("model folder {} does not exist", path.display())]
    PathMissing {
        /// The path given.
        path: PathBuf,
    },
    /// Not on disk and downloading is disabled.
    #[error(
        "model `{model}` is not complete in {} and downloads are disabled; download these files \
         into that folder, keeping their relative paths:\n{}",
        dir.display(),
        files.iter().map(|(url, dest)| format!("  {url}\n    -> {}", dest.display())).collect::<Vec<_>>().join("\n")
    )]
    Offline {
        /// Model name.
        model: String,
        /// Folder to put the files in.
        dir: PathBuf,
        /// (URL, destination) of each missing file.
        files: Vec<(String, PathBuf)>,
    },
    /// One file failed to download; those before it are kept for the next attempt.
    #[error(
        "downloading {file} of model `{model}` from {url} failed: {source}; files fetched so far \
         are kept in {} and the next attempt resumes", dir.display()
    )]
    Download {
        /// Model name.
        model: String,
        /// The file's path in the model.
        file: String,
        /// Its URL.
        url: String,
        /// The folder being filled.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<DownloadError>,
    },
    /// A file on disk does not match the lock file or the pins.
    #[error(
        "model file {} is damaged: expected {expected}, found {found}; delete it (or run with \
         downloads enabled) to fetch it again", path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What it should be.
        expected: String,
        /// What it is.
        found: String,
    },
    /// The lock file is unreadable.
    #[error("invalid lock file {}: {message}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A local file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Hashing a file failed.
    #[error(transparent)]
    Hash(Box<DownloadError>),
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> ManifestError + 'a {
    move |source| ManifestError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn file_path(dir: &Path, rel: &str) -> PathBuf {
    rel.split('/')
        .filter(|c| !c.is_empty())
        .fold(dir.to_path_buf(), |p, c| p.join(c))
}

/// Reads a folder's lock file; `Ok(None)` when there is none.
pub(crate) fn read_lock(dir: &Path) -> Result<Option<ModelLock>, ManifestError> {
    let path = dir.join(LOCK_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("cannot read", &path)(e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ManifestError::Lock {
            path,
            message: e.to_string(),
        })
}

fn write_lock(dir: &Path, lock: &ModelLock) -> Result<(), ManifestError> {
    let path = dir.join(LOCK_FILE);
    let text = serde_json::to_string_pretty(lock).map_err(|e| ManifestError::Lock {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".glimpse-manifest.")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(io_err("cannot create a temporary file in", dir))?;
    use std::io::Write;
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file_mut().sync_all())
        .map_err(io_err("cannot write", &path))?;
    tmp.persist(&path).map_err(|e| ManifestError::Io {
        action: "cannot write",
        path: path.clone(),
        source: e.error,
    })?;
    download::sync_dir(dir);
    Ok(())
}

/// The state of a model folder against its catalogue entry.
#[derive(Debug)]
enum Status {
    /// All required files are there and match the lock file.
    Complete,
    /// These files need fetching (missing, or not matching the lock / pins).
    Needs(Vec<ModelFile>),
}

/// Compares a folder with `entry` using sizes only (cheap enough for every open). A folder
/// without a lock file whose required files are all present (put there by hand, or left by an
/// interrupted download) is adopted: its files are hashed, checked against the pins, and a lock
/// file is written.
fn check_folder(entry: &ModelEntry, dir: &Path) -> Result<Status, ManifestError> {
    let lock = read_lock(dir)?;
    let mut needs = Vec::new();
    for file in &entry.files {
        let path = file_path(dir, &file.path);
        let size = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m.len(),
            _ => {
                let recorded_absent = lock
                    .as_ref()
                    .is_some_and(|l| !l.files.contains_key(&file.path));
                // An optional file a complete download found absent stays absent.
                if !(file.optional && (recorded_absent || lock.is_none())) {
                    needs.push(file.clone());
                }
                continue;
            }
        };
        let want = lock
            .as_ref()
            .and_then(|l| l.files.get(&file.path))
            .map(|l| l.size)
            .or(file.size);
        if let Some(want) = want {
            if want != size {
                tracing::warn!(
                    path = %path.display(),
                    size,
                    expected = want,
                    "model file has the wrong size"
                );
                needs.push(file.clone());
            }
        }
    }
    if needs.is_empty() && lock.is_none() {
        adopt(entry, dir)?;
    }
    Ok(if needs.is_empty() {
        Status::Complete
    } else {
        Status::Needs(needs)
    })
}

/// Hashes the files of a complete folder that has no lock file and writes one.
fn adopt(entry: &ModelEntry, dir: &Path) -> Result<(), ManifestError> {
    tracing::info!(dir = %dir.display(), "recording checksums of model files");
    let mut files = BTreeMap::new();
    for file in &entry.files {
        let path = file_path(dir, &file.path);
        if !path.is_file() {
            continue;
        }
        let (sha, size) =
            download::sha256_file(&path).map_err(|e| ManifestError::Hash(Box::new(e)))?;
        check_pins(file, &path, size, &hex::encode(sha))?;
        files.insert(
            file.path.clone(),
            LockedFile {
                size,
                sha256: hex::encode(sha),
            },
        );
    }
    write_lock(dir, &lock_for(entry, files))
}

fn lock_for(entry: &ModelEntry, files: BTreeMap<String, LockedFile>) -> ModelLock {
    ModelLock {
        format: 1,
        model: entry.name.clone(),
        repo: entry.repo.clone(),
        revision: entry.revision.clone(),
        files,
    }
}

fn check_pins(file: &ModelFile, path: &Path, size: u64, sha: &str) -> Result<(), ManifestError> {
    if let Some(want) = file.size.filter(|w| *w != size) {
        return Err(ManifestError::Corrupt {
            path: path.to_path_buf(),
            expected: format!("{want} bytes"),
            found: format!("{size} bytes"),
        });
    }
    if let Some(want) = file
        .sha256
        .as_deref()
        .filter(|w| !w.eq_ignore_ascii_case(sha))
    {
        return Err(ManifestError::Corrupt {
            path: path.to_path_buf(),
            expected: format!("sha256 {want}"),
            found: format!("sha256 {sha}"),
        });
    }
    Ok(())
}

/// Rehashes every file listed in a folder's lock file, for `glimpse models --verify` and for
/// diagnosing odd results; [`ensure_model`] itself only compares sizes.
pub fn verify_model(dir: &Path) -> Result<(), ManifestError> {
    let lock = read_lock(dir)?.ok_or_else(|| ManifestError::Lock {
        path: dir.join(LOCK_FILE),
        message: "missing".into(),
    })?;
    for (rel, want) in &lock.files {
        let path = file_path(dir, rel);
        let (sha, size) =
            download::sha256_file(&path).map_err(|e| ManifestError::Hash(Box::new(e)))?;
        let sha = hex::encode(sha);
        if size != want.size || sha != want.sha256 {
            return Err(ManifestError::Corrupt {
                path,
                expected: format!("{} bytes, sha256 {}", want.size, want.sha256),
                found: format!("{size} bytes, sha256 {sha}"),
            });
        }
    }
    Ok(())
}

fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.contains('\\') || s.starts_with('.') || s.starts_with('~')
}

/// Turns a model name or folder into a complete model folder, downloading what is missing when
/// allowed; the one call the CLI and the app make before opening a model.
///
/// `progress` receives the file's path in the model and its download progress.
pub fn ensure_model(
    name_or_path: &str,
    models_dir: &Path,
    allow_download: bool,
    base_url: Option<&str>,
    progress: &mut dyn FnMut(&str, DownloadProgress),
) -> Result<PathBuf, ManifestError> {
    let as_path = Path::new(name_or_path);
    if as_path.is_dir() {
        return Ok(as_path.to_path_buf());
    }
    match find(name_or_path) {
        Some(entry) => ensure_entry(entry, models_dir, allow_download, base_url, progress),
        None if looks_like_path(name_or_path) => Err(ManifestError::PathMissing {
            path: as_path.to_path_buf(),
        }),
        None => Err(ManifestError::UnknownModel {
            name: name_or_path.to_string(),
            known: models().iter().map(|m| m.name.clone()).collect(),
        }),
    }
}

/// [`ensure_model`] for an explicit entry, so custom catalogues (and tests) can use it.
pub(crate) fn ensure_entry(
    entry: &ModelEntry,
    models_dir: &Path,
    allow_download: bool,
    base_url: Option<&str>,
    progress: &mut dyn FnMut(&str, DownloadProgress),
) -> Result<PathBuf, ManifestError> {
    let final_dir = models_dir.join(&entry.name);
    let staging = models_dir.join(format!(".{}.partial", entry.name));
    let base = base_url
        .map(str::to_string)
        .unwrap_or_else(default_base_url);

    // A folder that already exists is completed in place; a new one is assembled in a staging
    // folder and renamed when complete, so `models_dir/<name>` never appears half-filled.
    let (work_dir, needs) = if final_dir.is_dir() {
        match check_folder(entry, &final_dir)? {
            Status::Complete => return Ok(final_dir),
            Status::Needs(files) => (final_dir.clone(), files),
        }
    } else if staging.is_dir() {
        (staging.clone(), staged_needs(entry, &staging))
    } else {
        (staging.clone(), entry.files.clone())
    };

    let mut needs = needs;
    if !allow_download && needs.iter().all(|f| f.optional) {
        // Optional files are fetched when downloads are allowed, never required.
        needs.clear();
    }
    if !needs.is_empty() && !allow_download {
        return Err(ManifestError::Offline {
            model: entry.name.clone(),
            dir: final_dir.clone(),
            files: needs
                .iter()
                .map(|f| (entry.url(&base, f), file_path(&final_dir, &f.path)))
                .collect(),
        });
    }

    std::fs::create_dir_all(&work_dir).map_err(io_err("cannot create folder", &work_dir))?;
    let mut fetched: BTreeMap<String, LockedFile> = BTreeMap::new();
    for file in &needs {
        let url = entry.url(&base, file);
        let dest = file_path(&work_dir, &file.path);
        let expected = Expected::from_hex(file.sha256.as_deref(), file.size)
            .map_err(|source| ManifestError::Download {
                model: entry.name.clone(),
                file: file.path.clone(),
                url: url.clone(),
                dir: work_dir.clone(),
                source: Box::new(source),
            })?
            .with_max_size(max_unpinned_size(&file.path));
        let mut report = |p: DownloadProgress| progress(&file.path, p);
        match download::download_verified(&url, &dest, expected, &mut report) {
            Ok(done) => {
                fetched.insert(
                    file.path.clone(),
                    LockedFile {
                        size: done.size,
                        sha256: done.sha256_hex(),
                    },
                );
            }
            Err(DownloadError::Status { status: 404, .. }) if file.optional => {
                tracing::debug!(%url, "optional model file not published; skipping");
            }
            Err(source) => {
                return Err(ManifestError::Download {
                    model: entry.name.clone(),
                    file: file.path.clone(),
                    url,
                    dir: work_dir.clone(),
                    source: Box::new(source),
                })
            }
        }
    }

    // Record every file present: fetched now, or kept from before (hashed here).
    let mut files = BTreeMap::new();
    for file in &entry.files {
        if let Some(done) = fetched.remove(&file.path) {
            files.insert(file.path.clone(), done);
            continue;
        }
        let path = file_path(&work_dir, &file.path);
        if !path.is_file() {
            if file.optional {
                continue;
            }
            return Err(ManifestError::Offline {
                model: entry.name.clone(),
                dir: final_dir.clone(),
                files: vec![(entry.url(&base, file), file_path(&final_dir, &file.path))],
            });
        }
        let (sha, size) =
            download::sha256_file(&path).map_err(|e| ManifestError::Hash(Box::new(e)))?;
        check_pins(file, &path, size, &hex::encode(sha))?;
        files.insert(
            file.path.clone(),
            LockedFile {
                size,
                sha256: hex::encode(sha),
            },
        );
    }
    write_lock(&work_dir, &lock_for(entry, files))?;

    if work_dir != final_dir {
        if let Err(e) = std::fs::rename(&work_dir, &final_dir) {
            // Another process may have finished the same model first.
            if final_dir.is_dir() && matches!(check_folder(entry, &final_dir), Ok(Status::Complete))
            {
                let _ = std::fs::remove_dir_all(&work_dir);
            } else {
                return Err(io_err("cannot move the finished model into", &final_dir)(e));
            }
        }
        download::sync_dir(models_dir);
    }
    tracing::info!(model = %entry.name, dir = %final_dir.display(), "model ready");
    Ok(final_dir)
}

/// Which files a staging folder still needs (files kept from an interrupted attempt were each
/// verified when they landed; only their sizes against pins are rechecked here).
fn staged_needs(entry: &ModelEntry, dir: &Path) -> Vec<ModelFile> {
    let mut needs = Vec::new();
    for file in &entry.files {
        let path = file_path(dir, &file.path);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && file.size.is_none_or(|s| s == m.len()) => {}
            _ => needs.push(file.clone()),
        }
    }
    needs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::testserver::{bytes, dead_url, listing, Reply, TestServer};
    use sha2::Digest;

    fn entry(pinned: bool) -> (ModelEntry, Vec<(String, Vec<u8>)>) {
        let contents: Vec<(String, Vec<u8>)> = [
            ("config.json", b"{\"embed_dim\": 4}".to_vec()),
            ("visual/model.onnx", bytes(200_000, 1)),
            ("visual/preprocess_cfg.json", b"{\"size\": 224}".to_vec()),
            ("textual/model.onnx", bytes(150_000, 2)),
            ("textual/tokenizer.json", b"{\"model\": {}}".to_vec()),
            ("textual/tokenizer_config.json", b"{}".to_vec()),
        ]
        .into_iter()
        .map(|(p, b)| (p.to_string(), b))
        .collect();
        let mut files: Vec<ModelFile> = contents
            .iter()
            .map(|(p, b)| ModelFile {
                path: p.clone(),
                size: pinned.then_some(b.len() as u64),
                sha256: pinned.then(|| hex::encode(sha2::Sha256::digest(b))),
                optional: p.ends_with("tokenizer_config.json"),
            })
            .collect();
        files.push(ModelFile {
            path: "textual/special_tokens_map.json".into(),
            size: None,
            sha256: None,
            optional: true,
        });
        let e = ModelEntry {
            name: "Test-Model__fake".into(),
            repo: "immich-app/Test-Model__fake".into(),
            revision: "main".into(),
            dim: 4,
            multilingual: false,
            description: "test".into(),
            files,
        };
        (e, contents)
    }

    fn serve(server: &TestServer, e: &ModelEntry, contents: &[(String, Vec<u8>)], skip: &[&str]) {
        for (p, b) in contents {
            if !skip.contains(&p.as_str()) {
                server.route(
                    &format!("/{}/resolve/main/{p}", e.repo),
                    Reply::Ok(b.clone()),
                );
            }
        }
    }

    fn nop() -> impl FnMut(&str, DownloadProgress) {
        |_, _| {}
    }

    #[test]
    fn embedded_manifest_is_valid() {
        let all = models();
        assert!(all.len() >= 3);
        assert_eq!(default_model().name, DEFAULT_MODEL);
        assert_eq!(CATALOG.default, DEFAULT_MODEL);
        assert_eq!(default_model().dim, 512);
        let mut names: Vec<_> = all.iter().map(|m| m.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len(), "names are unique");
        for m in all {
            assert_eq!(m.repo, format!("immich-app/{}", m.name));
            let required: Vec<_> = m.required_files().map(|f| f.path.as_str()).collect();
            for f in [
                "visual/model.onnx",
                "visual/preprocess_cfg.json",
                "textual/model.onnx",
                "textual/tokenizer.json",
                "config.json",
            ] {
                assert!(required.contains(&f), "{} lacks {f}", m.name);
            }
            for f in &m.files {
                if let Some(h) = &f.sha256 {
                    download::parse_sha256(h).unwrap();
                }
            }
            assert!(m.dim > 0 && !m.description.is_empty());
        }
        assert!(all.iter().any(|m| m.multilingual));
        assert_eq!(find("ViT-B-16__openai").unwrap().dim, 512);
        assert_eq!(find("vit-b-32__OPENAI").unwrap().name, "ViT-B-32__openai");
        assert!(find("nope").is_none());
        let vit = default_model();
        assert_eq!(
            vit.url(DEFAULT_BASE_URL, &vit.files[1]),
            "https://huggingface.co/immich-app/ViT-B-32__openai/resolve/main/visual/model.onnx"
        );
    }

    #[test]
    fn unpinned_files_are_capped_by_kind() {
        assert_eq!(max_unpinned_size("visual/model.onnx"), 2 << 30);
        assert_eq!(max_unpinned_size("textual/tokenizer.json"), 64 << 20);
        assert_eq!(max_unpinned_size("visual/preprocess_cfg.json"), 4 << 20);
        assert_eq!(max_unpinned_size("config.json"), 4 << 20);
        // A config far larger than any real one is refused, and nothing is left behind.
        let (mut e, mut contents) = entry(false);
        let huge = bytes((4 << 20) + 1, 9);
        contents[0].1 = huge;
        e.files[0].size = None;
        let server = TestServer::start();
        serve(&server, &e, &contents, &[]);
        let models_dir = tempfile::tempdir().unwrap();
        let err = ensure_entry(
            &e,
            models_dir.path(),
            true,
            Some(&server.base()),
            &mut nop(),
        )
        .unwrap_err();
        match &err {
            ManifestError::Download { file, source, .. } => {
                assert_eq!(file, "config.json");
                assert!(
                    matches!(**source, DownloadError::TooLarge { limit, .. } if limit == 4 << 20),
                    "{source:?}"
                );
            }
            other => panic!("expected a download error, got {other:?}"),
        }
        assert!(!models_dir.path().join(&e.name).exists());
    }

    #[test]
    fn complete_download_lands_atomically_with_lock() {
        let (e, contents) = entry(false);
        let server = TestServer::start();
        serve(&server, &e, &contents, &[]);
        let models_dir = tempfile::tempdir().unwrap();
        let mut seen = Vec::new();
        let dir = ensure_entry(
            &e,
            models_dir.path(),
            true,
            Some(&server.base()),
            &mut |f, p| seen.push((f.to_string(), p)),
        )
        .unwrap();
        assert_eq!(dir, models_dir.path().join(&e.name));
        for (p, b) in &contents {
            assert_eq!(&std::fs::read(file_path(&dir, p)).unwrap(), b, "{p}");
        }
        assert!(!file_path(&dir, "textual/special_tokens_map.json").exists());
        assert_eq!(
            listing(models_dir.path()),
            vec![e.name.clone()],
            "no staging left"
        );
        let lock = read_lock(&dir).unwrap().unwrap();
        assert_eq!(lock.files.len(), contents.len());
        assert_eq!(
            lock.files["visual/model.onnx"].sha256,
            hex::encode(sha2::Sha256::digest(&contents[1].1))
        );
        verify_model(&dir).unwrap();
        assert!(seen
            .iter()
            .any(|(f, p)| f == "visual/model.onnx" && p.done == 200_000));
        assert_eq!(server.hits().len(), e.files.len());
    }

    #[test]
    fn missing_file_fails_without_a_complete_looking_folder_then_resumes() {
        let (e, contents) = entry(false);
        let server = TestServer::start();
        serve(&server, &e, &contents, &["textual/model.onnx"]);
        let models_dir = tempfile::tempdir().unwrap();
        let err = ensure_entry(
            &e,
            models_dir.path(),
            true,
            Some(&server.base()),
            &mut nop(),
        )
        .unwrap_err();
        match &err {
            ManifestError::Download {
                file, url, source, ..
            } => {
                assert_eq!(file, "textual/model.onnx");
                assert!(
                    url.ends_with("/immich-app/Test-Model__fake/resolve/main/textual/model.onnx")
                );
                assert!(matches!(
                    **source,
                    DownloadError::Status { status: 404, .. }
                ));
            }
            other => panic!("expected Download, got {other:?}"),
        }
        assert!(err.to_string().contains("textual/model.onnx"));
        let final_dir = models_dir.path().join(&e.name);
        assert!(
            !final_dir.exists(),
            "a half model must not appear under its name"
        );
        // Offline, the partial folder is not mistaken for a model.
        let err = ensure_entry(
            &e,
            models_dir.path(),
            false,
            Some(&server.base()),
            &mut nop(),
        )
        .unwrap_err();
        match &err {
            ManifestError::Offline { files, .. } => {
                let names: Vec<_> = files
                    .iter()
                    .map(|(u, _)| u.rsplit("/main/").next().unwrap())
                    .collect();
                assert!(names.contains(&"textual/model.onnx"), "{names:?}");
                assert!(!names.contains(&"visual/model.onnx"), "{names:?}");
            }
            other => panic!("expected Offline, got {other:?}"),
        }

        // The file appears; the next attempt fetches only what is missing.
        serve(&server, &e, &contents, &[]);
        let before = server.hits().len();
        let dir = ensure_entry(
            &e,
            models_dir.path(),
            true,
            Some(&server.base()),
            &mut nop(),
        )
        .unwrap();
        let new_hits = &server.hits()[before..];
        assert!(new_hits.iter().any(|h| h.ends_with("textual/model.onnx")));
        assert!(
            !new_hits.iter().any(|h| h.ends_with("visual/model.onnx")),
            "{new_hits:?}"
        );
        verify_model(&dir).unwrap();
        assert_eq!(listing(models_dir.path()), vec![e.name.clone()]);
    }

    #[test]
    fn already_present_makes_no_request() {
        let (e, contents) = entry(false);
        let server = TestServer::start();
        serve(&server, &e, &contents, &[]);
        let models_dir = tempfile::tempdir().unwrap();
        ensure_entry(
            &e,
            models_dir.path(),
            true,
            Some(&server.base()),
            &mut nop(),
        )
        .unwrap();
        let hits = server.hits().len();
        for allow in [true, false] {
            let dir = ensure_entry(
                &e,
                models_dir.path(),
                allow,
                Some(&server.base()),
                &mut nop(),
            )
            .unwrap();
            assert_eq!(dir, models_dir.path().join(&e.name));
        }
        // Even with a dead server.
        ensure_entry(&e, models_dir.path(), true, Some(&dead_url("")), &mut nop()).unwrap();
        assert_eq!(server.hits().len(), hits);
    }

    #[test]
    fn offline_error_names_folder_and_urls() {
        let (e, _) = entry(false);
        let models_dir = tempfile::tempdir().unwrap();
        let err = ensure_entry(
            &e,
            models_dir.path(),
            false,
            Some("https://hf.example"),
            &mut nop(),
        )
        .unwrap_err();
        let msg = err.to_string();
        let dir = models_dir.path().join(&e.name);
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
        assert!(msg.contains(
            "https://hf.example/immich-app/Test-Model__fake/resolve/main/visual/model.onnx"
        ));
        assert!(msg.contains("downloads are disabled"));
        assert!(
            listing(models_dir.path()).is_empty(),
            "offline must not create folders"
        );
    }

    #[test]
    fn hand_placed_folder_is_adopted_and_pins_checked() {
        let (e, contents) = entry(true);
        let models_dir = tempfile::tempdir().unwrap();
        let dir = models_dir.path().join(&e.name);
        for (p, b) in &contents {
            let path = file_path(&dir, p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b).unwrap();
        }
        let got = ensure_entry(&e, models_dir.path(), false, None, &mut nop()).unwrap();
        assert_eq!(got, dir);
        assert!(dir.join(LOCK_FILE).is_file());
        verify_model(&dir).unwrap();

        // A replaced file of the right size is caught by the pinned hash on adoption.
        std::fs::remove_file(dir.join(LOCK_FILE)).unwrap();
        std::fs::write(file_path(&dir, "visual/model.onnx"), bytes(200_000, 99)).unwrap();
        let err = ensure_entry(&e, models_dir.path(), false, None, &mut nop()).unwrap_err();
        assert!(matches!(err, ManifestError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn truncated_file_is_detected_and_refetched() {
        let (e, contents) = entry(false);
        let server = TestServer::start();
        serve(&server, &e, &contents, &[]);
        let models_dir = tempfile::tempdir().unwrap();
        let dir = ensure_entry(
            &e,
            models_dir.path(),
            true,
            Some(&server.base()),
            &mut nop(),
        )
        .unwrap();
        let visual = file_path(&dir, "visual/model.onnx");
        std::fs::write(&visual, &contents[1].1[..1000]).unwrap();

        let err = ensure_entry(
            &e,
            models_dir.path(),
            false,
            Some(&server.base()),
            &mut nop(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ManifestError::Offline { ref files, .. } if files.len() == 1),
            "{err:?}"
        );
        let err = verify_model(&dir).unwrap_err();
        assert!(matches!(err, ManifestError::Corrupt { .. }), "{err:?}");

        ensure_entry(
            &e,
            models_dir.path(),
            true,
            Some(&server.base()),
            &mut nop(),
        )
        .unwrap();
        assert_eq!(std::fs::read(&visual).unwrap(), contents[1].1);
        verify_model(&dir).unwrap();
    }

    #[test]
    fn pinned_hash_mismatch_fails_that_file() {
        let (mut e, contents) = entry(true);
        e.files[3].sha256 = Some("ab".repeat(32));
        let server = TestServer::start();
        serve(&server, &e, &contents, &[]);
        let models_dir = tempfile::tempdir().unwrap();
        let err = ensure_entry(
            &e,
            models_dir.path(),
            true,
            Some(&server.base()),
            &mut nop(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ManifestError::Download { file, source, .. }
                if file == "textual/model.onnx" && matches!(**source, DownloadError::Hash { .. })),
            "{err:?}"
        );
        assert!(!models_dir.path().join(&e.name).exists());
    }

    #[test]
    fn names_and_paths_resolve() {
        let models_dir = tempfile::tempdir().unwrap();
        let existing = tempfile::tempdir().unwrap();
        let p = existing.path().to_str().unwrap();
        assert_eq!(
            ensure_model(p, models_dir.path(), false, None, &mut nop()).unwrap(),
            existing.path()
        );
        let err =
            ensure_model("No-Such-Model", models_dir.path(), false, None, &mut nop()).unwrap_err();
        assert!(matches!(err, ManifestError::UnknownModel { .. }));
        assert!(err.to_string().contains("ViT-B-32__openai"));
        let err = ensure_model(
            "./nowhere/model",
            models_dir.path(),
            false,
            None,
            &mut nop(),
        )
        .unwrap_err();
        assert!(matches!(err, ManifestError::PathMissing { .. }));
        let err = ensure_model(
            "ViT-B-32__openai",
            models_dir.path(),
            false,
            None,
            &mut nop(),
        )
        .unwrap_err();
        assert!(matches!(err, ManifestError::Offline { .. }));
        assert!(err
            .to_string()
            .contains("/immich-app/ViT-B-32__openai/resolve/main/"));
    }
}
