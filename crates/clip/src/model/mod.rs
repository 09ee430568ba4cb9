//! Model folders: which layout a folder uses and where its parts are, so that the immich CLIP
//! zoo and Hugging Face / transformers.js exports both work without conversion.

pub mod manifest;

use crate::preprocess::{ConfigError, PreprocessConfig};
use std::path::{Path, PathBuf};

/// Why a folder is not a usable CLIP model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The folder does not exist.
    #[error("model folder {0} does not exist")]
    Missing(String),
    /// The folder matches no known layout.
    #[error(
        "{dir} is not a CLIP model folder: expected the immich layout (visual/model.onnx, \
         textual/model.onnx, textual/tokenizer.json, visual/preprocess_cfg.json) or the Hugging \
         Face layout (onnx/vision_model.onnx, onnx/text_model.onnx, tokenizer.json, \
         preprocessor_config.json){detail}"
    )]
    UnknownLayout {
        /// The folder.
        dir: String,
        /// Which expected files are absent.
        detail: String,
    },
    /// The preprocessing config is unreadable.
    #[error(transparent)]
    Preprocess(#[from] ConfigError),
    /// `config.json` or a tokenizer config is unreadable.
    #[error("invalid {path}: {message}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The two folder layouts we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// immich CLIP zoo (`immich-app/<name>` on Hugging Face), exported from open_clip.
    Immich,
    /// Hugging Face / transformers.js ONNX export (`onnx/vision_model.onnx`, ...).
    HuggingFace,
}

/// Where the parts of one model are, and what its text side expects.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The model folder.
    pub dir: PathBuf,
    /// Its layout.
    pub layout: Layout,
    /// Image tower graph.
    pub visual: PathBuf,
    /// Text tower graph.
    pub textual: PathBuf,
    /// `tokenizer.json` for the text tower.
    pub tokenizer: PathBuf,
    /// How pictures are turned into the image tower's input.
    pub preprocess: PreprocessConfig,
    /// Token sequence length of the text tower.
    pub context_length: usize,
    /// Token name used for padding when the folder names one (else id 0, as open_clip pads).
    pub pad_token: Option<String>,
    /// A short name for messages and storage keys (the folder name).
    pub name: String,
    /// Score thresholds measured for this model (`calibration.json`), else OpenAI CLIP's.
    pub calibration: Calibration,
}

/// Score thresholds that depend on the model: cosines are not comparable across models, so the
/// cut-offs for "a match" and "a copy" are measured per model and shipped beside it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    /// Text-to-image cosine below which a photo is a weak match (hidden behind "show weaker").
    pub relevance_floor: f32,
    /// Image-to-image cosine at or above which two photos are candidate copies.
    pub duplicate_cosine: f32,
    /// Image-to-image cosine below which a photo is not "like" a dropped one (hidden behind
    /// "show weaker"); `None` ranks the whole library, for models nobody has measured it for.
    pub similar_floor: Option<f32>,
}

impl Default for Calibration {
    /// OpenAI CLIP ViT-B (the default models): matching captions score about 0.25-0.35 against
    /// their photos and unrelated ones 0.10-0.20; re-saved or resized copies of a photo score
    /// above 0.95 against it. Where "like this photo" ends for them was not measured (it needs
    /// the real weights and labelled photo pairs), so pictures rank the whole library.
    fn default() -> Self {
        Calibration {
            relevance_floor: 0.2,
            duplicate_cosine: 0.95,
            similar_floor: None,
        }
    }
}

impl Calibration {
    /// Reads `<dir>/calibration.json` when the model ships one.
    fn read(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("calibration.json");
        let Some(v) = optional_json(&path)? else {
            return Ok(Calibration::default());
        };
        let optional = |name: &str| -> Result<Option<f32>, ModelError> {
            match v.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(x) => x
                    .as_f64()
                    .filter(|x| x.is_finite() && (-1.0..=1.0).contains(x))
                    .map(|x| Some(x as f32))
                    .ok_or_else(|| ModelError::Config {
                        path: path.display().to_string(),
                        message: format!("{name} must be a cosine between -1 and 1"),
                    }),
            }
        };
        let field = |name: &str| -> Result<f32, ModelError> {
            optional(name)?.ok_or_else(|| ModelError::Config {
                path: path.display().to_string(),
                message: format!("{name} must be a cosine between -1 and 1"),
            })
        };
        Ok(Calibration {
            relevance_floor: field("relevance_floor")?,
            duplicate_cosine: field("duplicate_cosine")?,
            similar_floor: optional("similar_floor")?,
        })
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::Config {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn optional_json(path: &Path) -> Result<Option<serde_json::Value>, ModelError> {
    if path.is_file() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

fn pad_token_of(cfg: Option<serde_json::Value>) -> Option<String> {
    let v = cfg?.get("pad_token")?.clone();
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Object(o) => o.get("content")?.as_str().map(str::to_owned),
        _ => None,
    }
}

impl ModelFiles {
    /// Detects the layout of `dir` and reads its configuration.
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::Missing(dir.display().to_string()));
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        let immich = [
            "visual/model.onnx",
            "textual/model.onnx",
            "textual/tokenizer.json",
            "visual/preprocess_cfg.json",
        ];
        let hf = [
            "onnx/vision_model.onnx",
            "onnx/text_model.onnx",
            "tokenizer.json",
            "preprocessor_config.json",
        ];
        let missing = |files: &[&str]| -> Vec<String> {
            files
                .iter()
                .filter(|f| !dir.join(f).is_file())
                .map(|f| f.to_string())
                .collect()
        };
        let (miss_immich, miss_hf) = (missing(&immich), missing(&hf));
        if miss_immich.is_empty() {
            let context_length = optional_json(&dir.join("config.json"))?
                .and_then(|c| c.pointer("/text_cfg/context_length")?.as_u64())
                .unwrap_or(77) as usize;
            let pad_token =
                pad_token_of(optional_json(&dir.join("textual/tokenizer_config.json"))?);
            return Ok(ModelFiles {
                layout: Layout::Immich,
                visual: dir.join(immich[0]),
                textual: dir.join(immich[1]),
                tokenizer: dir.join(immich[2]),
                preprocess: PreprocessConfig::from_immich(&dir.join(immich[3]))?,
                context_length,
                pad_token,
                name,
                calibration: Calibration::read(dir)?,
                dir: dir.to_path_buf(),
            });
        }
        if miss_hf.is_empty() {
            let context_length = optional_json(&dir.join("config.json"))?
                .and_then(|c| c.pointer("/text_config/max_position_embeddings")?.as_u64())
                .unwrap_or(77) as usize;
            let pad_token = pad_token_of(optional_json(&dir.join("tokenizer_config.json"))?);
            return Ok(ModelFiles {
                layout: Layout::HuggingFace,
                visual: dir.join(hf[0]),
                textual: dir.join(hf[1]),
                tokenizer: dir.join(hf[2]),
                preprocess: PreprocessConfig::from_hf(&dir.join(hf[3]))?,
                context_length,
                pad_token,
                name,
                calibration: Calibration::read(dir)?,
                dir: dir.to_path_buf(),
            });
        }
        // Report against the layout the folder resembles more.
        let detail = if miss_immich.len() <= miss_hf.len() {
            format!("; missing {}", miss_immich.join(", "))
        } else {
            format!("; missing {}", miss_hf.join(", "))
        };
        Err(ModelError::UnknownLayout {
            dir: dir.display().to_string(),
            detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Calibration, ModelError> {
        let dir = tempfile::tempdir().map_err(|e| ModelError::Config {
            path: "tempdir".into(),
            message: e.to_string(),
        })?;
        std::fs::write(dir.path().join("calibration.json"), json).map_err(|e| {
            ModelError::Config {
                path: "calibration.json".into(),
                message: e.to_string(),
            }
        })?;
        Calibration::read(dir.path())
    }

    #[test]
    fn the_similar_floor_is_read_when_shipped_and_absent_otherwise() {
        let with =
            read(r#"{"relevance_floor": 0.3, "duplicate_cosine": 0.8, "similar_floor": 0.76}"#)
                .expect("valid calibration");
        assert_eq!(with.similar_floor, Some(0.76));
        let without = read(r#"{"relevance_floor": 0.3, "duplicate_cosine": 0.8}"#)
            .expect("valid calibration");
        assert_eq!(without.similar_floor, None);
        assert_eq!(without.relevance_floor, 0.3);
        assert_eq!(Calibration::default().similar_floor, None);
    }

    #[test]
    fn a_similar_floor_that_is_not_a_cosine_is_refused() {
        for bad in ["1.5", "\"high\"", "-2"] {
            let json = format!(
                r#"{{"relevance_floor": 0.3, "duplicate_cosine": 0.8, "similar_floor": {bad}}}"#
            );
            let err = read(&json).expect_err(bad);
            assert!(err.to_string().contains("similar_floor"), "{err}");
        }
    }
}
