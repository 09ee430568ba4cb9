//! open_clip's caption cleaning, ported exactly: `_clean_lower(x)` =
//! `whitespace_clean(basic_clean(x)).lower()`, where `basic_clean` is `ftfy.fix_text` (ftfy 6.3.1,
//! default config), then `html.unescape` twice, then `strip()`.
//!
//! CLIP's BPE ids depend on this text, so every step mirrors the Python code it replaces,
//! quirks included; the tables and regexes come from `scripts/gen_text_tables.py` (see
//! `ftfy_tables.rs`), which reads them out of the same Python, ftfy and `unicodedata` that open_clip
//! uses. `tests/fixtures/clean/cases.json` holds Python's answers for the unit tests below.
//!
//! Where Rust and Python disagree on Unicode data, Python wins: whitespace is `str.isspace`,
//! lower-casing is `str.lower` (with its final-sigma rule), `\s`/`\w`/`\d` in the regexes are the
//! code points Python's `re` matches, and NFC treats code points that Python's `unicodedata`
//! (Unicode 14.0 for Python 3.11) does not know as inert, as Python does.

#[path = "ftfy_tables.rs"]
mod ftfy_tables;

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::{NoExpand, Regex as BytesRegex};
use regex::{Regex, RegexBuilder};
use unicode_normalization::UnicodeNormalization;

use super::html_entities;
use ftfy_tables as tables;

/// Returns exactly the text open_clip's tokenizer feeds to its BPE for `text` (its `_clean_lower`).
pub fn clean_caption(text: &str) -> String {
    clean_after_ftfy(&fix_text(text))
}

/// The part of `_clean_lower` after `ftfy.fix_text`.
fn clean_after_ftfy(fixed: &str) -> String {
    // basic_clean: html.unescape twice, then strip.
    let once = html_unescape(fixed);
    let twice = html_unescape(&once);
    let stripped = twice.trim_matches(is_py_space);
    // whitespace_clean: " ".join(text.split()).strip(); then str.lower().
    let joined = stripped
        .split(is_py_space)
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    py_lower(&joined)
}

// ---------------------------------------------------------------------------------------------
// Table helpers.

/// Whether `c` lies in one of the sorted, disjoint inclusive `ranges`.
fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The replacement for `c` in a sorted char → text table.
fn lookup_char(map: &'static [(char, &'static str)], c: char) -> Option<&'static str> {
    map.binary_search_by(|(k, _)| k.cmp(&c))
        .ok()
        .map(|i| map[i].1)
}

/// The value for `key` in a sorted text → text table.
fn lookup_str(map: &'static [(&'static str, &'static str)], key: &str) -> Option<&'static str> {
    map.binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .map(|i| map[i].1)
}

/// Python's `str.isspace`, which `str.split()` and `str.strip()` use.
fn is_py_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f' | ' ')
    } else {
        in_ranges(c, tables::PY_WHITESPACE)
    }
}

/// Every regex the port uses, compiled once from the generated Rust-syntax patterns.
struct Regexes {
    badness: Regex,
    utf8_detector: Regex,
    html_entity: Regex,
    ansi: Regex,
    html_charref: Regex,
    altered_utf8: BytesRegex,
    lossy_utf8: BytesRegex,
}

/// Compiles one generated pattern; they are static data checked by the tests, so failure is a bug.
fn compile(pattern: &str, what: &str) -> Regex {
    RegexBuilder::new(pattern)
        .size_limit(64 << 20)
        .build()
        .unwrap_or_else(|e| panic!("generated regex {what} does not compile: {e}"))
}

/// Byte-regex counterpart of [`compile`].
fn compile_bytes(pattern: &str, what: &str) -> BytesRegex {
    regex::bytes::RegexBuilder::new(pattern)
        .build()
        .unwrap_or_else(|e| panic!("generated regex {what} does not compile: {e}"))
}

static RE: LazyLock<Regexes> = LazyLock::new(|| Regexes {
    badness: compile(tables::BADNESS_RE, "BADNESS_RE"),
    utf8_detector: compile(tables::UTF8_DETECTOR_RE, "UTF8_DETECTOR_RE"),
    html_entity: compile(tables::HTML_ENTITY_RE, "HTML_ENTITY_RE"),
    ansi: compile(tables::ANSI_RE, "ANSI_RE"),
    html_charref: compile(tables::HTML_CHARREF_RE, "HTML_CHARREF_RE"),
    altered_utf8: compile_bytes(tables::ALTERED_UTF8_RE, "ALTERED_UTF8_RE"),
    lossy_utf8: compile_bytes(tables::LOSSY_UTF8_RE, "LOSSY_UTF8_RE"),
});

// ---------------------------------------------------------------------------------------------
// Python's html.unescape.

/// Python's `html.unescape`: HTML5 named references (with the longest-prefix rule for names
/// without ';') and numeric references with the HTML5 replacements for invalid numbers.
fn html_unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for m in RE.html_charref.find_iter(s) {
        out.push_str(&s[last..m.start()]);
        // The match is '&' followed by Python's group(1).
        replace_charref(&m.as_str()[1..], &mut out);
        last = m.end();
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// `html._replace_charref` for one reference body (the text after '&').
fn replace_charref(body: &str, out: &mut String) {
    if let Some(number) = body.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        // Python's int() is unbounded; every value past U+10FFFF behaves alike, so saturate.
        let num = digits
            .trim_end_matches(';')
            .chars()
            .filter_map(|d| d.to_digit(radix))
            .fold(0u64, |acc, d| {
                acc.saturating_mul(u64::from(radix))
                    .saturating_add(u64::from(d))
            });
        let invalid = u32::try_from(num).ok().and_then(|n| {
            html_entities::INVALID_CHARREFS
                .binary_search_by(|(k, _)| k.cmp(&n))
                .ok()
                .map(|i| html_entities::INVALID_CHARREFS[i].1)
        });
        if let Some(replacement) = invalid {
            out.push_str(replacement);
            return;
        }
        if (0xD800..=0xDFFF).contains(&num) || num > 0x10FFFF {
            out.push('\u{FFFD}');
            return;
        }
        let code = u32::try_from(num).unwrap_or(0xFFFD);
        if html_entities::INVALID_CODEPOINTS
            .binary_search(&code)
            .is_ok()
        {
            return;
        }
        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
        return;
    }
    if let Some(value) = lookup_str(html_entities::HTML5, body) {
        out.push_str(value);
        return;
    }
    // The longest prefix of at least two chars that is a known name, the rest kept as text.
    let starts: Vec<usize> = body.char_indices().map(|(i, _)| i).collect();
    for &cut in starts.iter().skip(2).rev() {
        if let Some(value) = lookup_str(html_entities::HTML5, &body[..cut]) {
            out.push_str(value);
            out.push_str(&body[cut..]);
            return;
        }
    }
    out.push('&');
    out.push_str(body);
}

// ---------------------------------------------------------------------------------------------
// ftfy.fix_text.

/// `ftfy.fix_text(text)` with the default `TextFixerConfig`.
fn fix_text(text: &str) -> String {
    // unescape_html="auto": a segment containing '<' switches it off for the rest of the text.
    let mut unescape = true;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let line_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let end = rest[..line_end]
            .char_indices()
            .nth(tables::MAX_DECODE_LENGTH)
            .map_or(line_end, |(i, _)| i);
        let segment = &rest[..end];
        if unescape && segment.contains('<') {
            unescape = false;
        }
        out.push_str(&fix_segment(segment, unescape));
        rest = &rest[end..];
    }
    out
}

/// `ftfy.fix_and_explain` on one segment: apply every fixer in ftfy's order until stable.
fn fix_segment(segment: &str, unescape: bool) -> String {
    let unescape = unescape && !segment.contains('<');
    let mut text = segment.to_owned();
    loop {
        let mut next = if unescape {
            unescape_html(&text)
        } else {
            text.clone()
        };
        next = fix_encoding(&next);
        next = fix_c1_controls(&next);
        next = translate(&next, tables::LIGATURES);
        next = translate(&next, tables::WIDTH_MAP);
        next = uncurl_quotes(&next);
        next = fix_line_breaks(&next);
        // fix_surrogates has nothing to do: a Rust string cannot hold a surrogate, and no step
        // here creates one (html.unescape maps surrogate numbers to U+FFFD, the UTF-8 decoders
        // reject them).
        next = RE.ansi.replace_all(&next, "").into_owned();
        next = remove_control_chars(&next);
        next = nfc(&next);
        if next == text {
            return next;
        }
        text = next;
    }
}

/// ftfy's `unescape_html`: `&name;` from its entity table, `&#...;` only if fully consumed.
fn unescape_html(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in RE.html_entity.find_iter(text) {
        out.push_str(&text[last..m.start()]);
        let entity = m.as_str();
        if let Some(value) = lookup_str(tables::FTFY_HTML_ENTITIES, entity) {
            out.push_str(value);
        } else if entity.starts_with("&#") {
            let unescaped = html_unescape(entity);
            // If html.unescape only decoded part of it, keep the original.
            if unescaped.contains(';') {
                out.push_str(entity);
            } else {
                out.push_str(&unescaped);
            }
        } else {
            out.push_str(entity);
        }
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

/// `str.translate` with a char → text table.
fn translate(text: &str, map: &'static [(char, &'static str)]) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match lookup_char(map, c) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }
    out
}

/// ftfy's `uncurl_quotes`.
fn uncurl_quotes(text: &str) -> String {
    text.chars()
        .map(|c| {
            if in_ranges(c, tables::DOUBLE_QUOTES) {
                '"'
            } else if in_ranges(c, tables::SINGLE_QUOTES) {
                '\''
            } else {
                c
            }
        })
        .collect()
}

/// ftfy's `fix_line_breaks`.
fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\u{2028}', "\n")
        .replace('\u{2029}', "\n")
        .replace('\u{85}', "\n")
}

/// ftfy's `remove_control_chars`.
fn remove_control_chars(text: &str) -> String {
    text.chars()
        .filter(|&c| !in_ranges(c, tables::CONTROL_CHARS))
        .collect()
}

/// Python's `unicodedata.normalize("NFC", text)`.
///
/// Code points unassigned in Python's Unicode version are starters that neither decompose nor
/// compose there, so they split the text into independently normalised runs. For the assigned
/// ones, Unicode's normalisation stability guarantees the newer crate tables agree.
fn nfc(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if !c.is_ascii() && in_ranges(c, tables::PY_UNASSIGNED) {
            out.extend(text[start..i].nfc());
            out.push(c);
            start = i + c.len_utf8();
        }
    }
    out.extend(text[start..].nfc());
    out
}

// ---------------------------------------------------------------------------------------------
// ftfy.fix_encoding.

/// `ftfy.fix_encoding`: repeat one step until the text stops changing.
fn fix_encoding(text: &str) -> String {
    let mut text = text.to_owned();
    loop {
        let next = fix_encoding_one_step(&text);
        if next == text {
            return next;
        }
        text = next;
    }
}

/// ftfy's `badness.is_bad`.
fn is_bad(text: &str) -> bool {
    RE.badness.is_match(text)
}

/// Index of sloppy-windows-1252 in `CHARMAP_ENCODINGS` (checked by a test).
const SLOPPY_WINDOWS_1252: usize = 1;

/// The reverse of one CHARMAP table: char → byte.
struct Encoder {
    /// Chars below U+0100, indexed directly.
    low: [Option<u8>; 256],
    /// The other chars, sorted for binary search.
    high: Vec<(char, u8)>,
}

/// Per CHARMAP encoding, its [`Encoder`].
static ENCODERS: LazyLock<Vec<Encoder>> = LazyLock::new(|| {
    tables::CHARMAP_ENCODINGS
        .iter()
        .map(|cm| {
            let mut low = [None; 256];
            let mut high = Vec::new();
            for (byte, &c) in (0u8..=255).zip(cm.decode.iter()) {
                match u8::try_from(u32::from(c)) {
                    Ok(index) => low[usize::from(index)] = Some(byte),
                    Err(_) => high.push((c, byte)),
                }
            }
            high.sort_unstable();
            Encoder { low, high }
        })
        .collect()
});

/// `text.encode(encoding)` if `possible_encoding(text, encoding)`, else None.
fn encode_charmap(text: &str, index: usize) -> Option<Vec<u8>> {
    let encoder = &ENCODERS[index];
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let byte = match u8::try_from(u32::from(c)) {
            Ok(low) => encoder.low[usize::from(low)],
            Err(_) => encoder
                .high
                .binary_search_by(|(k, _)| k.cmp(&c))
                .ok()
                .map(|i| encoder.high[i].1),
        };
        out.push(byte?);
    }
    Some(out)
}

/// `ftfy._fix_encoding_one_step_and_explain` (the text part of its answer).
fn fix_encoding_one_step(text: &str) -> String {
    if text.is_empty() || text.is_ascii() || !is_bad(text) {
        return text.to_owned();
    }
    let mut latin1_possible = false;
    for (index, charmap) in tables::CHARMAP_ENCODINGS.iter().enumerate() {
        let Some(mut bytes) = encode_charmap(text, index) else {
            continue;
        };
        if charmap.name == "latin-1" {
            latin1_possible = true;
        }
        if charmap.name != "macroman" && RE.altered_utf8.is_match(&bytes) {
            bytes = restore_byte_a0(&bytes);
        }
        if charmap.name.starts_with("sloppy") {
            bytes = RE
                .lossy_utf8
                .replace_all(&bytes, NoExpand("\u{FFFD}".as_bytes()))
                .into_owned();
        }
        let decoded = if bytes.contains(&0xED) || bytes.contains(&0xC0) {
            decode_utf8_variants(&bytes)
        } else {
            String::from_utf8(bytes).ok()
        };
        if let Some(fixed) = decoded {
            return fixed;
        }
    }
    if !utf8_detector_matches(text, true).is_empty() {
        let fixed = decode_inconsistent_utf8(text);
        if fixed != text {
            return fixed;
        }
    }
    // ftfy then asks `"windows-1252" in possible_1byte_encodings`, which is never true (the list
    // holds "sloppy-windows-1252"), so Latin-1-encodable text always tries strict windows-1252.
    if latin1_possible {
        let fixed: Option<String> = text
            .chars()
            .map(|c| {
                u8::try_from(u32::from(c))
                    .ok()
                    .and_then(|b| tables::WINDOWS_1252_STRICT[usize::from(b)])
            })
            .collect();
        if let Some(fixed) = fixed {
            if fixed != text {
                return fixed;
            }
        }
    }
    if text.chars().any(|c| in_ranges(c, tables::C1_CONTROLS)) {
        return fix_c1_controls(text);
    }
    text.to_owned()
}

/// ftfy's `restore_byte_a0`: put back byte A0 where a space broke a UTF-8 sequence.
fn restore_byte_a0(bytes: &[u8]) -> Vec<u8> {
    // A_GRAVE_WORD_RE = b"\xc3 (?! |quele|quela|quilo|s )", replaced by b"\xc3\xa0 ".
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0xC3 && bytes.get(i + 1) == Some(&b' ') {
            let after = &bytes[i + 2..];
            let excepted = [&b" "[..], b"quele", b"quela", b"quilo", b"s "]
                .iter()
                .any(|word| after.starts_with(word));
            if !excepted {
                out.extend_from_slice(&[0xC3, 0xA0, b' ']);
                i += 2;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    RE.altered_utf8
        .replace_all(&out, |caps: &regex::bytes::Captures<'_>| {
            caps[0]
                .iter()
                .map(|&b| if b == b' ' { 0xA0 } else { b })
                .collect::<Vec<u8>>()
        })
        .into_owned()
}

/// Python's `$` (no MULTILINE) at byte offset `at`: the end, or just before a final '\n'.
fn at_py_end(input: &[u8], at: usize) -> bool {
    at == input.len() || (at + 1 == input.len() && input[at] == b'\n')
}

/// Matches the groups `([lo-hi]|$)...` of utf8_variants' regexes from `start`, as Python would.
fn match_groups(input: &[u8], start: usize, groups: &[(u8, u8)]) -> bool {
    let mut at = start;
    for &(lo, hi) in groups {
        match input.get(at) {
            Some(&b) if (lo..=hi).contains(&b) => at += 1,
            _ if at_py_end(input, at) => {}
            _ => return false,
        }
    }
    true
}

/// CESU8_EXPR after its leading 0xED byte.
const CESU8_TAIL: [(u8, u8); 5] = [
    (0xA0, 0xAF),
    (0x80, 0xBF),
    (0xED, 0xED),
    (0xB0, 0xBF),
    (0x80, 0xBF),
];

/// Whether utf8_variants' `SPECIAL_BYTES_RE` matches at `at`.
fn special_bytes_at(input: &[u8], at: usize) -> bool {
    match input[at] {
        0xC0 => match_groups(input, at + 1, &[(0x80, 0x80)]),
        0xED => {
            match_groups(input, at + 1, &CESU8_TAIL)
                || match_groups(input, at + 1, &[(0xA0, 0xBF), (0x80, 0xBF)])
        }
        _ => false,
    }
}

/// ftfy's "utf-8-variants" codec (strict decode): UTF-8 plus CESU-8 surrogate pairs and Java's
/// 0xC0 0x80 null, ported from `bad_codecs/utf8_variants.py` step by step (quirks included:
/// its `$` also matches before a final '\n'). None is Python's UnicodeDecodeError.
fn decode_utf8_variants(input: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(input.len());
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        let Some(cutoff) = (0..rest.len()).find(|&i| special_bytes_at(rest, i)) else {
            out.push_str(std::str::from_utf8(rest).ok()?);
            break;
        };
        if cutoff > 0 {
            out.push_str(std::str::from_utf8(&rest[..cutoff]).ok()?);
            pos += cutoff;
            continue;
        }
        if rest[0] == 0xC0 {
            if rest.len() > 1 {
                out.push('\0');
                pos += 2;
                continue;
            }
            return None; // a lone 0xC0 is invalid UTF-8
        }
        // _buffer_decode_surrogates
        if rest.len() < 6 {
            out.push_str(std::str::from_utf8(rest).ok()?);
            break;
        }
        if !match_groups(rest, 1, &CESU8_TAIL) {
            return None; // a lone surrogate: the UTF-8 decoder rejects it
        }
        let code = ((u32::from(rest[1]) & 0x0F) << 16)
            + ((u32::from(rest[2]) & 0x3F) << 10)
            + ((u32::from(rest[4]) & 0x0F) << 6)
            + (u32::from(rest[5]) & 0x3F)
            + 0x10000;
        out.push(char::from_u32(code)?);
        pos += 6;
    }
    Some(out)
}

/// Matches of `UTF8_DETECTOR_RE` (with its one-char negative lookbehind), left to right and
/// non-overlapping like `re.sub`; `first_only` stops after one (`re.search`).
fn utf8_detector_matches(text: &str, first_only: bool) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(m) = RE.utf8_detector.find_at(text, pos) {
        let blocked = text[..m.start()]
            .chars()
            .next_back()
            .is_some_and(|prev| in_ranges(prev, tables::UTF8_DETECTOR_NOT_AFTER));
        if blocked {
            // The lookbehind fails at this start; try the next position.
            pos = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        found.push((m.start(), m.end()));
        if first_only {
            break;
        }
        pos = m.end();
    }
    found
}

/// ftfy's `decode_inconsistent_utf8`: fix each UTF-8-looking run on its own.
fn decode_inconsistent_utf8(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in utf8_detector_matches(text, false) {
        out.push_str(&text[last..start]);
        let part = &text[start..end];
        if part.len() < text.len() && is_bad(part) {
            out.push_str(&fix_encoding(part));
        } else {
            out.push_str(part);
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// ftfy's `fix_c1_controls`: U+0080–U+009F read as sloppy windows-1252.
fn fix_c1_controls(text: &str) -> String {
    let table = &tables::CHARMAP_ENCODINGS[SLOPPY_WINDOWS_1252].decode;
    text.chars()
        .map(|c| {
            if in_ranges(c, tables::C1_CONTROLS) {
                u8::try_from(u32::from(c)).map_or(c, |b| table[usize::from(b)])
            } else {
                c
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Python's str.lower.

/// Python's `str.lower()`: full lower-case mappings plus the final-sigma rule.
fn py_lower(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '\u{3A3}' {
            out.push(if final_sigma(&chars, i) {
                '\u{3C2}'
            } else {
                '\u{3C3}'
            });
        } else if let Some(lower) = lookup_char(tables::PY_LOWER, c) {
            out.push_str(lower);
        } else {
            out.push(c);
        }
    }
    out
}

/// CPython's `handle_capital_sigma`: whether the Σ at `i` ends a word.
fn final_sigma(chars: &[char], i: usize) -> bool {
    let ignorable = |c: &&char| in_ranges(**c, tables::PY_CASE_IGNORABLE);
    let cased = |c: &char| in_ranges(*c, tables::PY_CASED);
    let before = chars[..i].iter().rev().find(|c| !ignorable(c));
    if !before.is_some_and(cased) {
        return false;
    }
    match chars[i + 1..].iter().find(|c| !ignorable(c)) {
        Some(after) => !cased(after),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use sha2::{Digest, Sha256};

    /// The fixture written by `tests/fixtures/clean/make_clean_cases.py`.
    #[derive(Deserialize)]
    struct Fixture {
        ftfy: String,
        python: String,
        unicodedata: String,
        cases: Vec<Case>,
        big_cases: Vec<BigCase>,
    }

    #[derive(Deserialize)]
    struct Case {
        tag: String,
        input: String,
        fix_text: String,
        expected: String,
    }

    /// A case too large to store: input = prefix + repeat * count + suffix, outputs by hash.
    #[derive(Deserialize)]
    struct BigCase {
        tag: String,
        prefix: String,
        repeat: String,
        count: usize,
        suffix: String,
        expected_sha256: String,
        fix_text_sha256: String,
    }

    fn fixture() -> Fixture {
        let json = include_str!("../../tests/fixtures/clean/cases.json");
        serde_json::from_str(json).expect("cases.json parses")
    }

    fn show(s: &str) -> String {
        let escaped: String = s.chars().flat_map(char::escape_debug).collect();
        if escaped.chars().count() > 160 {
            format!("{}… ({} chars)", escaped.chars().take(160).collect::<String>(), s.chars().count())
        } else {
            escaped
        }
    }

    #[test]
    fn tables_match_fixture_versions() {
        let f = fixture();
        assert_eq!(f.ftfy, tables::FTFY_VERSION);
        assert_eq!(f.python, tables::PYTHON_VERSION);
        assert_eq!(f.unicodedata, tables::PY_UNICODE_VERSION);
        assert_eq!(
            tables::CHARMAP_ENCODINGS[SLOPPY_WINDOWS_1252].name,
            "sloppy-windows-1252"
        );
    }

    #[test]
    fn regexes_compile() {
        LazyLock::force(&RE);
    }

    /// Runs every case; prints the first mismatches readably; returns how many disagreed.
    fn check_cases(cases: &[Case]) -> usize {
        let mut fix_bad = Vec::new();
        let mut clean_bad = Vec::new();
        for case in cases {
            let fixed = fix_text(&case.input);
            let cleaned = clean_after_ftfy(&fixed);
            if cleaned != case.expected {
                clean_bad.push((case, cleaned));
            }
            if fixed != case.fix_text {
                fix_bad.push((case, fixed));
            }
        }
        for (what, bad) in [("fix_text", &fix_bad), ("clean", &clean_bad)] {
            for (case, got) in bad.iter().take(12) {
                let want = if what == "clean" {
                    &case.expected
                } else {
                    &case.fix_text
                };
                eprintln!(
                    "{what} mismatch [{}]\n  input:  {}\n  python: {}\n  rust:   {}",
                    case.tag,
                    show(&case.input),
                    show(want),
                    show(got)
                );
            }
        }
        eprintln!(
            "{} cases: clean {} agree, fix_text {} agree",
            cases.len(),
            cases.len() - clean_bad.len(),
            cases.len() - fix_bad.len()
        );
        clean_bad.len() + fix_bad.len()
    }

    #[test]
    fn clean_caption_matches_open_clip() {
        let f = fixture();
        assert!(f.cases.len() >= 400, "only {} cases", f.cases.len());
        assert_eq!(check_cases(&f.cases), 0, "mismatches (see stderr)");
        // The public entry point is the same composition.
        let case = &f.cases[0];
        assert_eq!(clean_caption(&case.input), case.expected);
    }

    /// Large differential runs: `GLIMPSE_CLEAN_CASES=/path/cases.json cargo test -- --ignored`
    /// with a file from `make_clean_cases.py --out ... --seed ... --fuzz-scale ...`.
    #[test]
    #[ignore = "needs GLIMPSE_CLEAN_CASES pointing at a generated cases.json"]
    fn external_cases_match_open_clip() {
        let path = std::env::var("GLIMPSE_CLEAN_CASES").expect("GLIMPSE_CLEAN_CASES is set");
        let json = std::fs::read_to_string(&path).expect("GLIMPSE_CLEAN_CASES is readable");
        let f: Fixture = serde_json::from_str(&json).expect("cases file parses");
        assert_eq!(check_cases(&f.cases), 0, "mismatches (see stderr)");
    }

    #[test]
    fn big_cases_match_open_clip() {
        for case in fixture().big_cases {
            let mut input = case.prefix.clone();
            input.push_str(&case.repeat.repeat(case.count));
            input.push_str(&case.suffix);
            let fixed = fix_text(&input);
            assert_eq!(
                hex::encode(Sha256::digest(fixed.as_bytes())),
                case.fix_text_sha256,
                "fix_text of big case {}",
                case.tag
            );
            let cleaned = clean_after_ftfy(&fixed);
            assert_eq!(
                hex::encode(Sha256::digest(cleaned.as_bytes())),
                case.expected_sha256,
                "clean of big case {}",
                case.tag
            );
        }
    }

    #[test]
    fn utf8_variants_quirks() {
        assert_eq!(decode_utf8_variants(b"a\xc0\x80b").as_deref(), Some("a\0b"));
        assert_eq!(decode_utf8_variants(b"\xc3\xa9 \xc0\n").as_deref(), Some("\u{e9} \0"));
        assert_eq!(
            decode_utf8_variants(b"\xed\xa0\xbd\xed\xb8\x80").as_deref(),
            Some("\u{1F600}")
        );
        assert_eq!(
            decode_utf8_variants(b"\xed\xa0\x80\xed\xb0\n").as_deref(),
            Some("\u{1000A}")
        );
        assert_eq!(decode_utf8_variants(b"\xed\xa0\x80x"), None);
        assert_eq!(decode_utf8_variants(b"\xc0"), None);
        assert_eq!(decode_utf8_variants(b"\xed\x95\x9c").as_deref(), Some("\u{D55C}"));
    }

    #[test]
    fn python_lower_final_sigma() {
        assert_eq!(py_lower("ΟΔΥΣΣΕΥΣ"), "οδυσσευς");
        assert_eq!(py_lower("Σ"), "σ");
        assert_eq!(py_lower("AΣ'"), "aς'");
        assert_eq!(py_lower("AΣ'b"), "aσ'b");
        assert_eq!(py_lower("İ"), "i\u{307}");
    }
}
