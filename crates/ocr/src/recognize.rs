//! Recognition: lines batched as the reference batches them (sorted by aspect ratio, six at a
//! time, all padded to the widest's ratio at 48 px high) and the graph's per-step
//! probabilities decoded greedily (CTC: repeats merged, blanks dropped) with the dictionary
//! stored in the graph.

use crate::classify;
use image::RgbImage;

/// Input height of the recognition graph.
pub(crate) const HEIGHT: u32 = 48;
/// Lines per run.
pub(crate) const BATCH: usize = 6;
/// Narrowest batch, as a width / height ratio (the reference's 320 / 48).
const MIN_RATIO: f64 = 320.0 / 48.0;

/// The batch tensor for `lines` (already in batch order) and its width.
pub(crate) fn batch_tensor(lines: &[&RgbImage]) -> (Vec<f32>, u32) {
    let max_ratio = lines
        .iter()
        .map(|l| f64::from(l.width()) / f64::from(l.height()))
        .fold(MIN_RATIO, f64::max);
    let width = (f64::from(HEIGHT) * max_ratio) as u32;
    let mut out = Vec::with_capacity(lines.len() * 3 * (HEIGHT * width) as usize);
    for l in lines {
        let rw = classify::resized_width(l.width(), l.height(), HEIGHT, width);
        classify::push_line(&mut out, l, HEIGHT, width, rw);
    }
    (out, width)
}

/// Python's `str.splitlines()`, which the reference splits the dictionary with.
pub(crate) fn python_lines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !is_break {
            continue;
        }
        out.push(&s[start..i]);
        let mut end = i + c.len_utf8();
        if c == '\r' {
            if let Some(&(j, '\n')) = chars.peek() {
                chars.next();
                end = j + 1;
            }
        }
        start = end;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// The recogniser's alphabet: the blank at 0, the graph's characters, a space last.
pub(crate) fn alphabet(meta: &str) -> Vec<String> {
    let mut v = vec![String::new()];
    v.extend(python_lines(meta).into_iter().map(str::to_owned));
    v.push(" ".to_owned());
    v
}

/// Greedy CTC decode of one line's `steps × classes` probabilities: the text and the mean
/// probability of the characters kept (0 when none).
pub(crate) fn decode(probs: &[f32], classes: usize, alphabet: &[String]) -> (String, f32) {
    let mut text = String::new();
    let (mut sum, mut n) = (0f32, 0usize);
    let mut prev: Option<usize> = None;
    for step in probs.chunks_exact(classes) {
        let (mut best, mut p) = (0usize, f32::NEG_INFINITY);
        for (k, &v) in step.iter().enumerate() {
            if v > p {
                best = k;
                p = v;
            }
        }
        if prev != Some(best) && best != 0 {
            if let Some(ch) = alphabet.get(best) {
                text.push_str(ch);
            }
            sum += p;
            n += 1;
        }
        prev = Some(best);
    }
    (text, if n == 0 { 0.0 } else { sum / n as f32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_as_python_does() {
        assert_eq!(
            python_lines("a\nb\r\nc\rd\u{2028}e"),
            vec!["a", "b", "c", "d", "e"]
        );
        assert_eq!(python_lines("a\n\nb\n"), vec!["a", "", "b"]);
    }

    #[test]
    fn decoding_merges_repeats_and_drops_blanks() {
        let abc = alphabet("a\nb");
        assert_eq!(abc, vec!["", "a", "b", " "]);
        // steps: a a blank a b space ->  "aab "
        let one_hot = |k: usize, p: f32| {
            let mut v = vec![(1.0 - p) / 3.0; 4];
            v[k] = p;
            v
        };
        let probs: Vec<f32> = [(1, 0.9), (1, 0.7), (0, 0.99), (1, 0.8), (2, 0.6), (3, 0.9)]
            .iter()
            .flat_map(|&(k, p)| one_hot(k, p))
            .collect();
        let (text, score) = decode(&probs, 4, &abc);
        assert_eq!(text, "aab ");
        assert!(
            (score - (0.9 + 0.8 + 0.6 + 0.9) / 4.0).abs() < 1e-6,
            "{score}"
        );
        assert_eq!(decode(&one_hot(0, 0.9), 4, &abc), (String::new(), 0.0));
    }

    #[test]
    fn a_batch_is_as_wide_as_its_widest_line_and_never_narrower_than_320() {
        let short = RgbImage::new(20, 48);
        let long = RgbImage::new(960, 48);
        assert_eq!(batch_tensor(&[&short]).1, 320);
        let (t, w) = batch_tensor(&[&short, &long]);
        assert_eq!(w, 960);
        assert_eq!(t.len(), 2 * 3 * 48 * 960);
    }
}
