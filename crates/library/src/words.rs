//! The words read in pictures, matched the way the catalog's trigram index matches them: case
//! folded and the accents of Latin letters dropped, so that "cafe" finds "CAFÉ" and "東京" finds
//! "東京駅". The catalog folds with this where its index cannot answer (terms under
//! [`TRIGRAM`] characters), and search uses it to say where in a line a query matched.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Characters a term needs (after folding) for the trigram index to find it; shorter terms
/// (a two-character CJK word, "A4") are matched by reading the lines.
pub const TRIGRAM: usize = 3;

/// The Latin letters whose accents are dropped (Latin-1 Supplement to Latin Extended-B, and
/// Latin Extended Additional), as SQLite's `remove_diacritics` does.
fn is_latin(c: char) -> bool {
    matches!(c as u32, 0x00C0..=0x024F | 0x1E00..=0x1EFF)
}

/// Combining accents standing on their own (a decomposed "é"): dropped, as SQLite drops them.
fn is_accent(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F)
}

/// What one character becomes when folded (nothing for a lone accent).
fn fold_char(c: char, out: &mut impl FnMut(char)) {
    for l in c.to_lowercase() {
        if is_accent(l) {
            continue;
        }
        if is_latin(l) {
            decompose_canonical(l, |d| {
                if !is_combining_mark(d) {
                    out(d)
                }
            });
        } else {
            out(l);
        }
    }
}

/// `text` folded for matching: lower case, Latin letters without their accents.
pub fn fold(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut |f| s.push(f));
    }
    s
}

/// Characters of `term` once folded: what decides whether the trigram index can find it.
pub fn folded_len(term: &str) -> usize {
    fold(term).chars().count()
}

/// Where `term` occurs in `text`, case and Latin accents aside: byte ranges of `text`, in order
/// (touching matches as one; an accent written after a matched letter is inside the range).
pub fn find(text: &str, term: &str) -> Vec<(usize, usize)> {
    let needle: Vec<char> = fold(term).chars().collect();
    if needle.is_empty() {
        return Vec::new();
    }
    // Each folded character with the bytes of the original it came from.
    let mut hay: Vec<(char, usize, usize)> = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let before = hay.len();
        fold_char(c, &mut |f| hay.push((f, i, end)));
        if hay.len() == before {
            if let Some(last) = hay.last_mut() {
                last.2 = end;
            }
        }
    }
    let mut found: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    while at + needle.len() <= hay.len() {
        if hay[at..at + needle.len()]
            .iter()
            .zip(&needle)
            .all(|(h, n)| h.0 == *n)
        {
            let (start, end) = (hay[at].1, hay[at + needle.len() - 1].2);
            match found.last_mut() {
                Some(prev) if prev.1 >= start => prev.1 = prev.1.max(end),
                _ => found.push((start, end)),
            }
            at += needle.len();
        } else {
            at += 1;
        }
    }
    found
}

/// `term` as one FTS5 string (a run of characters the trigram index finds anywhere in a line).
pub(crate) fn fts_string(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_latin_accents_fold_but_other_scripts_keep_their_marks() {
        assert_eq!(fold("CAFÉ Crème"), "cafe creme");
        assert_eq!(fold("Cafe\u{301}"), "cafe");
        assert_eq!(fold("Ærøskøbing ÅS"), "ærøskøbing as");
        assert_eq!(fold("İstanbul"), "istanbul");
        // Japanese voicing marks change the word: kept, as SQLite keeps them.
        assert_eq!(fold("ガ"), "ガ");
        assert_eq!(fold("東京駅"), "東京駅");
        assert_eq!(folded_len("e\u{301}t"), 2);
    }

    #[test]
    fn find_gives_byte_ranges_of_the_original() {
        let line = "Le CAFÉ de la gare, café crème";
        let got = find(line, "cafe");
        assert_eq!(got.len(), 2);
        assert_eq!(&line[got[0].0..got[0].1], "CAFÉ");
        assert_eq!(&line[got[1].0..got[1].1], "café");
        let decomposed = "cafe\u{301}!";
        assert_eq!(find(decomposed, "CAFÉ"), [(0, decomposed.len() - 1)]);
        assert_eq!(find("東京駅まで", "東京"), [(0, 6)]);
        assert_eq!(
            find("aaaa", "aa"),
            [(0, 4)],
            "touching matches are one range"
        );
        assert!(find("tesco", "").is_empty());
        assert!(find("tes", "tesco").is_empty());
        assert_eq!(fts_string(r#"say "hi""#), r#""say ""hi""""#);
    }
}
