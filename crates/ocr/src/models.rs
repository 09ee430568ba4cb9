//! The three PP-OCRv4 graphs Glimpse reads text with: a folder placed by hand
//! ([`MODELS_ENV`]), or the cache, filled from the pinned `rapidocr-onnxruntime` wheel on PyPI
//! (the registry ONNX Runtime comes from, so the same mirror setting serves both).

use glimpse_clip::runtime::RuntimeOptions;
use glimpse_clip::wheel::{self, Member, Wheel, WheelError};
use glimpse_clip::DownloadProgress;
use std::path::{Path, PathBuf};

/// Environment variable naming a folder that holds the three graphs, for machines that cannot
/// download (and for tests, which must not).
pub const MODELS_ENV: &str = "GLIMPSE_OCR_MODELS";

/// The wheel the graphs come from: RapidOCR 1.4.4, whose Python package is also the reference
/// the reader is tested against. Pinned from PyPI's simple index (JSON form).
pub const WHEEL: Wheel = Wheel {
    file: "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
    url_path: "/packages/ba/12/1e5497183bdbe782dbb91bad1d0d2297dba4d2831b2652657f7517bfc6df/rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
    sha256: "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
    size: 14_915_192,
};

/// The text detection graph (DB, PP-OCRv4) inside [`WHEEL`].
pub const DETECT: Member = Member {
    path: "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
    sha256: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    size: 4_745_517,
};

/// The line orientation graph (0° or 180°) inside [`WHEEL`].
pub const CLASSIFY: Member = Member {
    path: "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
    sha256: "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    size: 585_532,
};

/// The recognition graph (CTC; its dictionary is the metadata key `character`) inside
/// [`WHEEL`].
pub const RECOGNIZE: Member = Member {
    path: "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
    sha256: "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    size: 10_857_958,
};

/// File name of the text detection graph.
pub const DETECT_FILE: &str = "ch_PP-OCRv4_det_infer.onnx";
/// File name of the line orientation graph.
pub const CLASSIFY_FILE: &str = "ch_ppocr_mobile_v2.0_cls_infer.onnx";
/// File name of the recognition graph.
pub const RECOGNIZE_FILE: &str = "ch_PP-OCRv4_rec_infer.onnx";

/// Where the three graphs are, so the reader opens them without knowing how they arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrModelFiles {
    /// The text detection graph.
    pub detect: PathBuf,
    /// The line orientation graph.
    pub classify: PathBuf,
    /// The recognition graph.
    pub recognize: PathBuf,
}

/// Why the OCR models cannot be used, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum OcrModelError {
    /// A folder lacks one of the graphs.
    #[error("the OCR model folder {folder} has no {file}")]
    Missing {
        /// The folder looked in.
        folder: PathBuf,
        /// The file it lacks.
        file: &'static str,
    },
    /// The graphs are not in the cache and downloading is off.
    #[error(
        "the OCR models are not in {folder} and downloading is off; {}",
        manual(folder)
    )]
    NotCached {
        /// The cache folder looked in.
        folder: PathBuf,
    },
    /// The download or the extraction failed.
    #[error("could not fetch the OCR models: {source}; {}", manual(folder))]
    Fetch {
        /// Where they were to go.
        folder: PathBuf,
        /// What went wrong.
        #[source]
        source: WheelError,
    },
}

/// How to install the graphs by hand, for a machine that cannot download them.
fn manual(folder: &Path) -> String {
    format!(
        "to install them by hand, download {} (sha256 {}), open it as a zip archive and save \
         the three files of rapidocr_onnxruntime/models/ in {} (or in any folder named by {})",
        WHEEL.url(wheel::PYPI_FILES),
        WHEEL.sha256,
        folder.display(),
        MODELS_ENV
    )
}

impl OcrModelFiles {
    /// The graphs in `folder` under their published names; checked so a missing file is named
    /// before any session is opened.
    pub fn in_folder(folder: &Path) -> Result<Self, OcrModelError> {
        let file = |name: &'static str| {
            let path = folder.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(OcrModelError::Missing {
                    folder: folder.to_path_buf(),
                    file: name,
                })
            }
        };
        Ok(Self {
            detect: file(DETECT_FILE)?,
            classify: file(CLASSIFY_FILE)?,
            recognize: file(RECOGNIZE_FILE)?,
        })
    }
}

/// The cache folder the graphs are fetched into: beside ONNX Runtime in Glimpse's cache.
pub fn cache_folder(opts: &RuntimeOptions) -> PathBuf {
    opts.cache_dir.join("ocr").join("ppocr-v4")
}

/// Finds the graphs: the folder [`MODELS_ENV`] names, else the cache, fetching them into it
/// when absent and allowed; the one call the indexing pass and `glimpse text` make.
pub fn locate(
    opts: &RuntimeOptions,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<OcrModelFiles, OcrModelError> {
    if let Some(dir) = std::env::var_os(MODELS_ENV).filter(|v| !v.is_empty()) {
        return OcrModelFiles::in_folder(Path::new(&dir));
    }
    locate_in_cache(opts, progress)
}

/// [`locate`] without the environment: the cache, checked file by file against the pins.
fn locate_in_cache(
    opts: &RuntimeOptions,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<OcrModelFiles, OcrModelError> {
    let folder = cache_folder(opts);
    let members = [DETECT, CLASSIFY, RECOGNIZE];
    let cached = members
        .iter()
        .all(|m| wheel::holds(&folder.join(m.file_name()), m));
    if !cached {
        if !opts.allow_download {
            return Err(OcrModelError::NotCached { folder });
        }
        wheel::fetch_members(&opts.wheel_index, &WHEEL, &members, &folder, progress).map_err(
            |source| OcrModelError::Fetch {
                folder: folder.clone(),
                source,
            },
        )?;
        tracing::info!(folder = %folder.display(), "OCR models installed in the cache");
    }
    OcrModelFiles::in_folder(&folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_members_are_the_files_the_reader_opens() {
        assert_eq!(DETECT.file_name(), DETECT_FILE);
        assert_eq!(CLASSIFY.file_name(), CLASSIFY_FILE);
        assert_eq!(RECOGNIZE.file_name(), RECOGNIZE_FILE);
        assert!(WHEEL.url(wheel::PYPI_FILES).ends_with(WHEEL.file));
    }

    #[test]
    fn a_folder_missing_a_graph_is_named_and_downloading_off_says_how_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let err = OcrModelFiles::in_folder(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains(DETECT_FILE), "{err}");
        let opts = RuntimeOptions::new(dir.path()).with_download(false);
        let err = locate_in_cache(&opts, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("downloading is off"), "{err}");
        assert!(
            err.contains(WHEEL.sha256) && err.contains("ocr/ppocr-v4"),
            "{err}"
        );
        // A damaged cached copy does not count as cached.
        let folder = cache_folder(&opts);
        std::fs::create_dir_all(&folder).unwrap();
        for name in [DETECT_FILE, CLASSIFY_FILE, RECOGNIZE_FILE] {
            std::fs::write(folder.join(name), b"not a graph").unwrap();
        }
        assert!(locate_in_cache(&opts, &mut |_| {}).is_err());
    }
}
