//! The three PP-OCRv4 graphs Glimpse reads text with: a folder that holds them, placed by hand
//! or fetched from the pinned `rapidocr-onnxruntime` wheel on PyPI.

use std::path::{Path, PathBuf};

/// File name of the text detection graph (DB, PP-OCRv4).
pub const DETECT_FILE: &str = "ch_PP-OCRv4_det_infer.onnx";
/// File name of the line orientation graph (0° or 180°).
pub const CLASSIFY_FILE: &str = "ch_ppocr_mobile_v2.0_cls_infer.onnx";
/// File name of the recognition graph (CTC; its dictionary is the metadata key `character`).
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
