//! Zero-shot tagging: labels the user names (or a built-in everyday vocabulary) become text
//! vectors by prompt ensembling, and every photo's stored vector is classified against them
//! (softmax of 100 × cosine, as CLIP does). Nothing is trained and no photo is re-encoded:
//! changing the labels only embeds the new labels, and their vectors are cached per model.

use crate::catalog::{Catalog, CatalogError, PhotoFilter, PhotoInfo, TagRule};
use crate::embedding::{dot, mean_direction};
use crate::library::Library;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

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
            // Every width was checked above; only an empty template list gives no mean.
            let v = mean_direction(&vecs[k * TEMPLATES.len()..(k + 1) * TEMPLATES.len()])
                .unwrap_or_else(|| vec![0f32; dim]);
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
/// tags are replaced in one transaction, which also keeps the run as the folder's auto-tag, so
/// photos that arrive in the folder later are tagged the same way
/// ([`AutoTagger::tag_arrivals`]).
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
    let model_id = lib.model_id();
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
    let mut rows: Vec<(i64, i64, f32)> = Vec::new();
    let mut counts = vec![0usize; labels.len()];
    let tag = |photos: Vec<(PhotoInfo, Vec<f32>)>,
               report: &mut TagReport,
               rows: &mut Vec<(i64, i64, f32)>,
               counts: &mut [usize]| {
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
    };
    // Classified outside the write lock (a large folder takes seconds; an indexer must not
    // wait that long to commit) ...
    let photos = lib.catalog.embeddings_where(model_id, &filter)?;
    tag(photos, &mut report, &mut rows, &mut counts);
    // ... then, under it, the photos an indexer committed meanwhile, and the writes: any photo
    // arriving later finds the rule and is tagged by the indexer ([`AutoTagger`]).
    lib.catalog.atomically(|c| {
        let seen: HashSet<i64> = report.per_photo.iter().map(|p| p.0.id).collect();
        let ids = c.filter_ids(model_id, &filter)?;
        let late: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !seen.contains(id))
            .collect();
        if !late.is_empty() {
            let mut infos = c.photo_infos(&late)?;
            let mut photos = Vec::with_capacity(late.len());
            for id in late {
                if let (Some(info), Some(v)) = (infos.remove(&id), c.embedding(model_id, id)?) {
                    photos.push((info, v));
                }
            }
            tag(photos, &mut report, &mut rows, &mut counts);
        }
        // A photo read before may have left the library meanwhile: no tags for it.
        let now: HashSet<i64> = ids.iter().copied().collect();
        rows.retain(|r| now.contains(&r.0));
        c.put_tags(&ids, &rows)?;
        c.set_tag_rule(&rule)
    })?;
    let mut c: Vec<(String, usize)> = labels.into_iter().zip(counts).collect();
    c.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    report.counts = c;
    Ok(report)
}

/// The labels (index into `labels`, probability) that become tags of a photo, best first.
fn matches(photo: &[f32], labels: &[Vec<f32>], opts: &TagOptions) -> Vec<(usize, f32)> {
    let probs = classify(photo, labels);
    let mut mine: Vec<(usize, f32)> = probs
        .iter()
        .enumerate()
        .filter(|(i, p)| **p >= opts.threshold && dot(photo, &labels[*i]) >= opts.min_cosine)
        .map(|(i, p)| (i, *p))
        .collect();
    mine.sort_by(|a, b| b.1.total_cmp(&a.1));
    mine
}

/// What [`AutoTagger::tag_arrivals`] did for one batch of photos.
#[derive(Debug, Default)]
pub struct Arrivals {
    /// Photos (re)tagged by their folder's auto-tag (with what matched, which may be nothing).
    pub tagged: Vec<i64>,
    /// Auto-tagged folders whose labels this model has not embedded (their photos were left
    /// as they were; tagging the folder again embeds them).
    pub unembedded: Vec<PathBuf>,
}

/// A usable auto-tag run: the rule with its label ids and vectors, in the rule's order.
type ReadyRule = (TagRule, Vec<i64>, Vec<Vec<f32>>);

/// Tags the photos an indexing job commits, batch by batch, with their folders' auto-tags.
/// It keeps the runs and their label vectors between batches and reads them again only when
/// the runs changed (a tagging or `--stop` in another process meanwhile).
#[derive(Debug, Default)]
pub struct AutoTagger {
    /// (latest run's sequence number, number of runs) when `rules` was read.
    seen: Option<(i64, i64)>,
    rules: Vec<ReadyRule>,
    unembedded: Vec<PathBuf>,
}

impl AutoTagger {
    /// Tags photos that an indexing job has just given vectors (new, changed or moved files;
    /// photo id and vector) as the latest auto-tag run covering each would have: a folder
    /// tagged once keeps tagging what is added to it, and a photo replaced by another under
    /// the same name loses tags that no longer fit. Photos under no tagged folder keep the
    /// tags they have. Uses only cached label vectors, as there is no text encoder during
    /// indexing. Runs inside the transaction that commits the photos
    /// ([`Catalog::atomically`]), so a photo is never in the library without the tags its
    /// folder gives it.
    pub fn tag_arrivals(
        &mut self,
        c: &Catalog,
        model_id: i64,
        arrivals: &[(i64, Vec<f32>)],
    ) -> Result<Arrivals, CatalogError> {
        let mut out = Arrivals::default();
        if arrivals.is_empty() {
            return Ok(out);
        }
        let now = c.tag_rules_version()?;
        if self.seen != Some(now) {
            self.load(c, model_id)?;
            self.seen = Some(now);
        }
        out.unembedded = self.unembedded.clone();
        if self.rules.is_empty() {
            return Ok(out);
        }
        let ids: Vec<i64> = arrivals.iter().map(|a| a.0).collect();
        let (mut done, mut rows) = (Vec::new(), Vec::new());
        for ((id, v), path) in arrivals.iter().zip(c.paths_of(&ids)?) {
            let Some(path) = path else { continue };
            // The latest run covering the photo decides.
            let covering = self
                .rules
                .iter()
                .rev()
                .find(|r| path.starts_with(&r.0.folder));
            let Some((rule, label_ids, vecs)) = covering else {
                continue;
            };
            let opts = TagOptions {
                threshold: rule.threshold,
                min_cosine: rule.min_cosine,
            };
            let mine = matches(v, vecs, &opts);
            rows.extend(mine.into_iter().map(|(i, p)| (*id, label_ids[i], p)));
            done.push(*id);
        }
        c.put_tags(&done, &rows)?;
        out.tagged = done;
        Ok(out)
    }

    /// Reads the runs and the cached vectors of their labels for the model.
    fn load(&mut self, c: &Catalog, model_id: i64) -> Result<(), CatalogError> {
        let key = prompts_key();
        self.rules.clear();
        self.unembedded.clear();
        for rule in c.tag_rules()? {
            let (mut ids, mut vecs) = (Vec::new(), Vec::new());
            for l in &rule.labels {
                let id = c.label_id(l, BUILTIN_LABELS.contains(&l.as_str()))?;
                let Some(v) = c.label_vector(id, model_id, &key)? else {
                    break;
                };
                ids.push(id);
                vecs.push(v);
            }
            if vecs.len() == rule.labels.len() {
                self.rules.push((rule, ids, vecs));
            } else {
                self.unembedded.push(rule.folder);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::unit;

    #[test]
    fn softmax_is_sharp_at_clip_scale_and_sums_to_one() {
        let labels = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let p = classify(&unit(vec![0.3, 0.25]), &labels);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // cos 0.768 vs 0.640: a difference of 0.128 is e^12.8 at scale 100.
        assert!(p[0] > 0.99999, "{p:?}");
    }

    #[test]
    fn a_run_changed_during_a_job_applies_from_the_next_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(dir.path()).unwrap();
        let model = c.model_id("m", 2).unwrap();
        let root = c.add_root(Path::new("/photos")).unwrap();
        let file = |p: &str| (PathBuf::from(p), 1, 1, None);
        let ids = c
            .upsert_files(root.id, &[file("/photos/a/1.jpg"), file("/photos/a/2.jpg")])
            .unwrap();
        let key = prompts_key();
        for (name, v) in [("left", [1.0, 0.0]), ("right", [0.0, 1.0])] {
            let id = c.label_id(name, false).unwrap();
            c.set_label_vector(id, model, &key, &v).unwrap();
        }
        let rule = |labels: &[&str]| TagRule {
            folder: PathBuf::from("/photos/a"),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            threshold: 0.25,
            min_cosine: 0.0,
        };
        c.set_tag_rule(&rule(&["left"])).unwrap();
        let mut tagger = AutoTagger::default();
        let mut batch = |c: &mut Catalog, id: i64| {
            let got = c
                .atomically(|c| tagger.tag_arrivals(c, model, &[(id, vec![0.6, 0.8])]))
                .unwrap();
            let tags = c.tags_of(&[id]).unwrap().remove(&id).unwrap_or_default();
            (
                got.tagged,
                tags.into_iter().map(|t| t.0).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            batch(&mut c, ids[0]),
            (vec![ids[0]], vec!["left".to_string()])
        );
        // Tagged again meanwhile (another process): the next batch follows the new labels.
        c.set_tag_rule(&rule(&["left", "right"])).unwrap();
        assert_eq!(
            batch(&mut c, ids[1]),
            (vec![ids[1]], vec!["right".to_string()])
        );
        // Stopped meanwhile: nothing more is tagged.
        c.forget_tag_rules(Path::new("/photos")).unwrap();
        assert_eq!(batch(&mut c, ids[0]), (vec![], vec!["left".to_string()]));
    }

    #[test]
    fn labels_are_cleaned_and_deduplicated_in_order() {
        assert_eq!(
            clean_labels(&[" Dog", "cat", "dog", "", "Beach "]),
            vec!["dog", "cat", "beach"]
        );
    }
}
