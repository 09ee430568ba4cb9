//! Auto-tag on arrival: a folder tagged once keeps tagging the photos that are added to it,
//! inside the transaction that adds them, from label vectors the tagging cached.

use crate::catalog::{Catalog, CatalogError, TagRule};
use glimpse_clip::zeroshot::{matches, prompts_key, TagOptions};
use std::path::PathBuf;

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

/// What [`AutoTagger::tag_arrivals`] did for one batch of photos.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    /// Photos (re)tagged by their folder's auto-tag (with what matched, which may be nothing).
    pub(crate) tagged: Vec<i64>,
    /// Auto-tagged folders whose labels this model has not embedded (their photos were left
    /// as they were; tagging the folder again embeds them).
    pub(crate) unembedded: Vec<PathBuf>,
}

/// A usable auto-tag run: the rule with its label ids and vectors, in the rule's order.
type ReadyRule = (TagRule, Vec<i64>, Vec<Vec<f32>>);

/// Tags the photos an indexing job commits, batch by batch, with their folders' auto-tags.
/// It keeps the runs and their label vectors between batches and reads them again only when
/// the runs changed (a tagging or `--stop` in another process meanwhile).
#[derive(Debug, Default)]
pub(crate) struct AutoTagger {
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
    pub(crate) fn tag_arrivals(
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
    use std::path::Path;

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
}
