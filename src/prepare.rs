//! One photo file → everything the indexer needs from it, in one read: its content hash (to
//! recognise moved and copied files and reuse their vectors), its preprocessed tensor, its size
//! in pixels and a thumbnail written from the same decode. Runs on the decode pool.

use crate::decode::{self, DecodeError, DecodeOptions};
use crate::metadata::Metadata;
use crate::preprocess::PreprocessConfig;
use crate::thumbs::Thumbs;
use std::collections::HashMap;
use std::path::Path;

/// A 32-byte BLAKE3 digest of a file's bytes.
pub type ContentHash = [u8; 32];

/// Hashes file bytes the way the catalog keys them.
pub fn content_hash(bytes: &[u8]) -> ContentHash {
    *blake3::hash(bytes).as_bytes()
}

/// What became of one file on the decode pool.
#[derive(Debug)]
pub enum Prepared {
    /// Same bytes as a photo that already has a vector: reuse it, encode nothing.
    Known {
        /// The file's content hash.
        hash: ContentHash,
        /// The photo whose vector to copy.
        same_as: i64,
    },
    /// Decoded and preprocessed, ready for the encoder.
    Tensor {
        /// The file's content hash.
        hash: ContentHash,
        /// The model input (CHW f32).
        tensor: Vec<f32>,
        /// Upright width at full resolution.
        width: u32,
        /// Upright height at full resolution.
        height: u32,
        /// The detected container format (lower-case name).
        format: String,
        /// What the file says about itself (date taken, camera, position).
        metadata: Metadata,
    },
}

/// Why a file could not be prepared; the reason is recorded in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The file disappeared between the scan and now.
    #[error("vanished before it could be read")]
    Vanished,
    /// Reading or decoding failed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Reads, hashes and (unless its content is already known) decodes one file.
pub fn prepare(
    path: &Path,
    cfg: &PreprocessConfig,
    known: &HashMap<ContentHash, i64>,
    thumbs: Option<&Thumbs>,
) -> Result<Prepared, PrepareError> {
    prepare_into(path, cfg, known, thumbs, Vec::new())
}

/// [`prepare`] writing the tensor into `buffer` (reused from an earlier photo, so the decode
/// pool does not allocate and fault in a fresh 600 kB tensor per photo).
pub fn prepare_into(
    path: &Path,
    cfg: &PreprocessConfig,
    known: &HashMap<ContentHash, i64>,
    thumbs: Option<&Thumbs>,
    buffer: Vec<f32>,
) -> Result<Prepared, PrepareError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(PrepareError::Vanished),
        Err(e) => return Err(DecodeError::Io(e).into()),
    };
    if meta.len() > decode::MAX_FILE_BYTES {
        return Err(DecodeError::FileTooLarge {
            bytes: meta.len(),
            limit: decode::MAX_FILE_BYTES,
        }
        .into());
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(PrepareError::Vanished),
        Err(e) => return Err(DecodeError::Io(e).into()),
    };
    let hash = content_hash(&bytes);
    if let Some(&same_as) = known.get(&hash) {
        return Ok(Prepared::Known { hash, same_as });
    }
    let d = decode::decode_bytes(&bytes, DecodeOptions::for_model(cfg.resize))?;
    let metadata = crate::metadata::read(&bytes);
    drop(bytes);
    let mut tensor = buffer;
    tensor.clear();
    tensor.resize(cfg.tensor_len(), 0.0);
    match thumbs {
        Some(t) => {
            // The preview is the picture as resized for the model (before the crop): no second
            // resize on the decode pool, whose speed is the indexing speed on a GPU.
            let resized = cfg.apply_into_keep_resized(&d.image, &mut tensor);
            if let Err(e) = t.write(&hex::encode(hash), &resized) {
                // A missing preview must not cost the photo its vector.
                tracing::warn!(path = %path.display(), "thumbnail: {e}");
            }
        }
        None => cfg.apply_into(&d.image, &mut tensor),
    }
    Ok(Prepared::Tensor {
        hash,
        tensor,
        width: d.width,
        height: d.height,
        format: d.format.to_string(),
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_content_is_not_decoded_and_unknown_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.png");
        image::RgbImage::from_pixel(300, 200, image::Rgb([1, 2, 3]))
            .save(&p)
            .unwrap();
        let cfg = PreprocessConfig::default();
        let thumbs = Thumbs::new(dir.path().join("thumbs"));
        let first = prepare(&p, &cfg, &HashMap::new(), Some(&thumbs)).unwrap();
        let Prepared::Tensor {
            hash,
            tensor,
            width,
            height,
            format,
            ..
        } = first
        else {
            panic!("expected a tensor")
        };
        assert_eq!((width, height, format.as_str()), (300, 200, "png"));
        assert_eq!(tensor.len(), cfg.tensor_len());
        assert!(thumbs.exists(&hex::encode(hash)));
        let known = HashMap::from([(hash, 7)]);
        match prepare(&p, &cfg, &known, None).unwrap() {
            Prepared::Known { same_as, .. } => assert_eq!(same_as, 7),
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(&p).unwrap();
        assert!(matches!(
            prepare(&p, &cfg, &known, None),
            Err(PrepareError::Vanished)
        ));
    }
}
