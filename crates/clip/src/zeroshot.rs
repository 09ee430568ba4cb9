//! CLIP's zero-shot classification: a label is embedded through prompt templates, and a
//! photo's share of each label is a softmax over their cosines at CLIP's logit scale. Both the
//! folder tagger and the indexer's auto-tag on arrival decide tags this way.

use crate::embedding::dot;

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
pub fn prompts_key() -> String {
    TEMPLATES.join("\n")
}

/// Each label's probability for one photo: softmax over the set of `LOGIT_SCALE` × cosine.
pub fn classify(photo: &[f32], labels: &[Vec<f32>]) -> Vec<f32> {
    let logits: Vec<f32> = labels.iter().map(|l| LOGIT_SCALE * dot(photo, l)).collect();
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|z| (z - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// The labels (index into `labels`, probability) that become tags of a photo, best first.
pub fn matches(photo: &[f32], labels: &[Vec<f32>], opts: &TagOptions) -> Vec<(usize, f32)> {
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
}
