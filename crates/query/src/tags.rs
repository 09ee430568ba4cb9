//! Zero-shot tagging: labels the user names (or a built-in everyday vocabulary) become text
//! vectors by prompt ensembling, and every photo's stored vector is classified against them
//! (softmax of 100 × cosine, as CLIP does). Nothing is trained and no photo is re-encoded:
//! changing the labels only embeds the new labels, and their vectors are cached per model.

use crate::search::TowerError;
use glimpse_clip::embedding::mean_direction;
pub use glimpse_clip::zeroshot::{classify, TagOptions, DEFAULT_THRESHOLD, LOGIT_SCALE, TEMPLATES};
use glimpse_clip::zeroshot::{matches, prompts_key};
use glimpse_library::catalog::{PhotoFilter, PhotoInfo, TagRule};
pub use glimpse_library::BUILTIN_LABELS;
use glimpse_library::{Library, LibraryError};
use std::collections::HashSet;
use std::path::Path;

/// Why tagging could not run.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// The library could not be read or written.
    #[error(transparent)]
    Library(#[from] LibraryError),
    /// No labels to choose from.
    #[error("no labels: name some, e.g. --labels dog,cat,beach")]
    NoLabels,
    /// The text tower failed.
    #[error("embedding the labels failed: {0}")]
    Encode(#[source] TowerError),
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
    all.extend(lib.records().user_labels()?);
    Ok(clean_labels(&all))
}

/// A text tower over owned strings (label prompts), one vector per prompt.
pub type EmbedLabels<'a> = dyn FnMut(&[String]) -> Result<Vec<Vec<f32>>, TowerError> + 'a;

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
    let mut out: Vec<(i64, Option<Vec<f32>>)> = Vec::with_capacity(labels.len());
    for l in labels {
        let builtin = BUILTIN_LABELS.contains(&l.as_str());
        out.push(lib.label_vector(l, builtin, &key)?);
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
            // Every width was checked above; only an empty template list gives no mean.
            let v = mean_direction(&vecs[k * TEMPLATES.len()..(k + 1) * TEMPLATES.len()])
                .unwrap_or_else(|| vec![0f32; dim]);
            lib.set_label_vector(out[*i].0, &key, &v)?;
            out[*i].1 = Some(v);
        }
    }
    let ready = out
        .into_iter()
        .filter_map(|(id, v)| v.map(|v| (id, v)))
        .collect();
    Ok((ready, todo.len()))
}

/// What a tagging run did.
#[derive(Debug, Clone, Default)]
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
/// tags are replaced in one transaction, which also keeps the run as the folder's auto-tag, so
/// photos that arrive in the folder later are tagged the same way by the indexing job
/// ([`Library::index`]).
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
    let rule = TagRule {
        folder: folder.clone(),
        labels: labels.clone(),
        threshold: opts.threshold,
        min_cosine: opts.min_cosine,
    };
    let filter = PhotoFilter {
        folder: Some(folder),
        ..Default::default()
    };
    let mut report = TagReport {
        labels_embedded,
        ..Default::default()
    };
    let mut counts = vec![0usize; labels.len()];
    let mut tag = |photos: Vec<(PhotoInfo, Vec<f32>)>, report: &mut TagReport| {
        let mut rows: Vec<(i64, i64, f32)> = Vec::new();
        for (info, v) in photos {
            let mine = matches(&v, &label_vecs, opts);
            if !mine.is_empty() {
                report.tagged += 1;
            }
            for (i, p) in &mine {
                rows.push((info.id, vectors[*i].0, *p));
                counts[*i] += 1;
            }
            let named = mine.iter().map(|(i, p)| (labels[*i].clone(), *p)).collect();
            report.per_photo.push((info, named));
            report.photos += 1;
        }
        rows
    };
    // Classified outside the write lock (a large folder takes seconds; an indexer must not
    // wait that long to commit) ...
    let photos = lib.photos_with_vectors(&filter)?;
    let rows = tag(photos, &mut report);
    let seen: HashSet<i64> = report.per_photo.iter().map(|p| p.0.id).collect();
    // ... then, under it, the photos an indexer committed meanwhile, and the writes: any photo
    // arriving later finds the rule and is tagged by the indexer.
    lib.replace_folder_tags(&rule, &seen, rows, &mut |late| tag(late, &mut report))?;
    let mut c: Vec<(String, usize)> = labels.into_iter().zip(counts).collect();
    c.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    report.counts = c;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_cleaned_and_deduplicated_in_order() {
        assert_eq!(
            clean_labels(&[" Dog", "cat", "dog", "", "Beach "]),
            vec!["dog", "cat", "beach"]
        );
    }
}
