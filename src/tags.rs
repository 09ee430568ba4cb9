//! Zero-shot tagging: labels the user names (or a built-in everyday vocabulary) become text
//! vectors by prompt ensembling, and every photo's stored vector is classified against them
//! (softmax of 100 × cosine, as CLIP does). Nothing is trained and no photo is re-encoded:
//! changing the labels only embeds the new labels, and their vectors are cached per model.

use crate::catalog::{CatalogError, PhotoFilter, PhotoInfo};
use crate::library::Library;
use crate::search::{dot, unit};
use std::path::Path;

/// Why tagging could not run.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// The catalog could not be read or written.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// No labels to choose from.
    #[error("no labels: name some, e.g. --labels dog,cat,beach")]
    NoLabels,
    /// The text tower failed.
    #[error("embedding the labels failed: {0}")]
    Encode(String),
    /// The text tower returned vectors of the wrong number or width.
    #[error(
        "the text encoder returned {got} vectors of width {width}, expected {want} of width {dim}"
    )]
    Shape {
        /// Vectors expected.
        want: usize,
        /// Vectors returned.
        got: usize,
        /// Width returned.
        width: usize,
        /// The library's vector width.
        dim: usize,
    },
}

/// The prompt templates of the CLIP authors' ImageNet notebook (their best 7-template set):
/// averaging a label over them is more accurate than the bare word.
pub const TEMPLATES: [&str; 7] = [
    "itap of a {}.",
    "a bad photo of the {}.",
    "a origami {}.",
    "a photo of the large {}.",
    "a {} in a video game.",
    "art of the {}.",
    "a photo of the small {}.",
];

/// Everyday photo subjects used when the user names no labels.
pub const BUILTIN_LABELS: &[&str] = &[
    "people",
    "portrait",
    "group of people",
    "baby",
    "dog",
    "cat",
    "bird",
    "horse",
    "flowers",
    "tree",
    "forest",
    "garden",
    "beach",
    "sea",
    "lake",
    "mountains",
    "snow",
    "desert",
    "sunset",
    "night sky",
    "city",
    "street",
    "building",
    "interior",
    "food",
    "drink",
    "cake",
    "car",
    "bicycle",
    "boat",
    "airplane",
    "train",
    "document",
    "screenshot",
    "receipt",
    "whiteboard",
    "painting",
    "drawing",
    "sports",
    "concert",
    "wedding",
    "party",
    "selfie",
];

/// A photo gets a tag when the label's share of the softmax is at least this.
pub const DEFAULT_THRESHOLD: f32 = 0.25;

/// When a label becomes a tag.
#[derive(Debug, Clone, Copy)]
pub struct TagOptions {
    /// Smallest share of the softmax over the label set.
    pub threshold: f32,
    /// Smallest cosine between the photo and the label: the softmax only compares the labels,
    /// so a photo that matches none of them would otherwise get them all. The model's
    /// relevance floor is the natural value.
    pub min_cosine: f32,
}

/// CLIP's learned logit scale (100 for the OpenAI models).
pub const LOGIT_SCALE: f32 = 100.0;

/// The cache key of a label vector: which templates were averaged.
fn prompts_key() -> String {
    TEMPLATES.join("\n")
}

/// Lower-cased, trimmed, de-duplicated labels in their given order.
pub fn clean_labels<S: AsRef<str>>(labels: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        let l = l.as_ref().trim().to_lowercase();
        if !l.is_empty() && !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// The labels used when the user names none: the built-in vocabulary plus the user's own.
pub fn default_labels(lib: &Library) -> Result<Vec<String>, TagError> {
    let mut all: Vec<String> = BUILTIN_LABELS.iter().map(|s| s.to_string()).collect();
    all.extend(lib.catalog.user_labels()?);
    Ok(clean_labels(&all))
}

/// A text tower over owned strings (label prompts), one vector per prompt.
pub type EmbedLabels<'a> = dyn FnMut(&[String]) -> Result<Vec<Vec<f32>>, String> + 'a;

/// (label id, unit vector) per label.
pub type LabelVectors = Vec<(i64, Vec<f32>)>;

/// Label text vectors for the library's model (cached; the rest embedded with `embed`, one call
/// for all templates of all new labels). Returns (label id, unit vector) in `labels`' order and
/// how many labels had to be embedded.
pub fn label_vectors(
    lib: &Library,
    labels: &[String],
    embed: &mut EmbedLabels<'_>,
) -> Result<(LabelVectors, usize), TagError> {
    let key = prompts_key();
    let model = lib.model_id();
    let mut out: Vec<(i64, Option<Vec<f32>>)> = Vec::with_capacity(labels.len());
    for l in labels {
        let builtin = BUILTIN_LABELS.contains(&l.as_str());
        let id = lib.catalog.label_id(l, builtin)?;
        out.push((id, lib.catalog.label_vector(id, model, &key)?));
    }
    let todo: Vec<usize> = (0..out.len()).filter(|i| out[*i].1.is_none()).collect();
    if !todo.is_empty() {
        let texts: Vec<String> = todo
            .iter()
            .flat_map(|i| TEMPLATES.iter().map(move |t| t.replace("{}", &labels[*i])))
            .collect();
        let vecs = embed(&texts).map_err(TagError::Encode)?;
        let dim = lib.vectors().dim();
        let width = vecs.first().map_or(0, Vec::len);
        if vecs.len() != texts.len() || vecs.iter().any(|v| v.len() != dim) {
            return Err(TagError::Shape {
                want: texts.len(),
                got: vecs.len(),
                width,
                dim,
            });
        }
        for (k, i) in todo.iter().enumerate() {
            let mut acc = vec![0f32; dim];
            for v in &vecs[k * TEMPLATES.len()..(k + 1) * TEMPLATES.len()] {
                for (a, x) in acc.iter_mut().zip(unit(v.clone())) {
                    *a += x;
                }
            }
            let v = unit(acc);
            lib.catalog.set_label_vector(out[*i].0, model, &key, &v)?;
            out[*i].1 = Some(v);
        }
    }
    let ready = out
        .into_iter()
        .filter_map(|(id, v)| v.map(|v| (id, v)))
        .collect();
    Ok((ready, todo.len()))
}

/// Each label's probability for one photo: softmax over the set of `LOGIT_SCALE` × cosine.
pub fn classify(photo: &[f32], labels: &[Vec<f32>]) -> Vec<f32> {
    let logits: Vec<f32> = labels.iter().map(|l| LOGIT_SCALE * dot(photo, l)).collect();
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|z| (z - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// What a tagging run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TagReport {
    /// Photos looked at.
    pub photos: usize,
    /// Photos that got at least one tag.
    pub tagged: usize,
    /// Labels whose text vectors had to be computed (0 when all were cached).
    pub labels_embedded: usize,
    /// Each photo and its tags (label, probability), best first.
    pub per_photo: Vec<(PhotoInfo, Vec<(String, f32)>)>,
    /// Photos per label, most first.
    pub counts: Vec<(String, usize)>,
}

/// Tags every indexed photo under `folder` from its stored vector: each label whose
/// probability among `labels` and whose cosine pass `opts` becomes a tag; the folder's previous
/// tags are replaced in one transaction.
pub fn tag_folder(
    lib: &mut Library,
    folder: &Path,
    labels: &[String],
    opts: &TagOptions,
    embed: &mut EmbedLabels<'_>,
) -> Result<TagReport, TagError> {
    let labels = clean_labels(labels);
    if labels.is_empty() {
        return Err(TagError::NoLabels);
    }
    let folder = folder
        .canonicalize()
        .unwrap_or_else(|_| folder.to_path_buf());
    let (vectors, labels_embedded) = label_vectors(lib, &labels, embed)?;
    let label_vecs: Vec<Vec<f32>> = vectors.iter().map(|v| v.1.clone()).collect();
    let filter = PhotoFilter {
        folder: Some(folder),
        ..Default::default()
    };
    let photos = lib.catalog.embeddings_where(lib.model_id(), &filter)?;
    let mut report = TagReport {
        photos: photos.len(),
        labels_embedded,
        ..Default::default()
    };
    let mut rows: Vec<(i64, i64, f32)> = Vec::new();
    let mut counts = vec![0usize; labels.len()];
    let ids: Vec<i64> = photos.iter().map(|p| p.0.id).collect();
    for (info, v) in photos {
        let probs = classify(&v, &label_vecs);
        let mut mine: Vec<(usize, f32)> = probs
            .iter()
            .enumerate()
            .filter(|(i, p)| **p >= opts.threshold && dot(&v, &label_vecs[*i]) >= opts.min_cosine)
            .map(|(i, p)| (i, *p))
            .collect();
        mine.sort_by(|a, b| b.1.total_cmp(&a.1));
        if !mine.is_empty() {
            report.tagged += 1;
        }
        for (i, p) in &mine {
            rows.push((info.id, vectors[*i].0, *p));
            counts[*i] += 1;
        }
        let named = mine.iter().map(|(i, p)| (labels[*i].clone(), *p)).collect();
        report.per_photo.push((info, named));
    }
    lib.catalog.replace_tags(&ids, &rows)?;
    let mut c: Vec<(String, usize)> = labels.into_iter().zip(counts).collect();
    c.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    report.counts = c;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_sharp_at_clip_scale_and_sums_to_one() {
        let labels = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let p = classify(&unit(vec![0.3, 0.25]), &labels);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // cos 0.768 vs 0.640: a difference of 0.128 is e^12.8 at scale 100.
        assert!(p[0] > 0.99999, "{p:?}");
    }

    #[test]
    fn labels_are_cleaned_and_deduplicated_in_order() {
        assert_eq!(
            clean_labels(&[" Dog", "cat", "dog", "", "Beach "]),
            vec!["dog", "cat", "beach"]
        );
    }
}
