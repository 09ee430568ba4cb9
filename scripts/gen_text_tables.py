#!/usr/bin/env python3
"""Writes crates/clip/src/tokenize/ftfy_tables.rs: every data table the Rust port of open_clip's text cleaning
(ftfy.fix_text + html.unescape + whitespace + str.lower) needs, taken from the Python that
open_clip really runs.

What it emits:
- the 256-entry byte -> char tables of ftfy's CHARMAP_ENCODINGS (sloppy codecs included), plus
  strict windows-1252 (with its five holes) for ftfy's latin-1 -> windows-1252 rule;
- ftfy's HTML_ENTITIES (incl. the upper-case variants), LIGATURES, WIDTH_MAP, CONTROL_CHARS and the
  character classes of SINGLE_QUOTE_RE / DOUBLE_QUOTE_RE / C1_CONTROL_RE;
- ftfy's regexes (BADNESS_RE, UTF8_DETECTOR_RE, HTML_ENTITY_RE, ANSI_RE, ALTERED_UTF8_RE,
  LOSSY_UTF8_RE) and html's _charref, translated to Rust `regex` syntax by walking Python's parsed
  regex (re._parser), every literal written as an escape and every \\d \\s \\w expanded into the
  explicit code points Python's `re` matches (so Rust's own Unicode tables never matter);
- Python's str.isspace set, str.lower table with the Cased / Case_Ignorable sets its final-sigma
  rule uses, and the code points unassigned in Python's unicodedata (NFC must treat them as inert).

It also asserts the ftfy source facts the hand-written Rust relies on (default config, fixer
order, the byte regexes ported by hand), so a different ftfy version fails loudly here.
Run: .venv/bin/python scripts/gen_text_tables.py   (needs ftfy 6.3.1 importable)
"""
from __future__ import annotations

import codecs
import html
import html.entities
import inspect
import re
import sys
import unicodedata
from pathlib import Path
from re import _constants as C
from re import _parser as P

import ftfy
import ftfy.badness
import ftfy.bad_codecs  # noqa: F401  (registers the sloppy codecs)
import ftfy.bad_codecs.utf8_variants as utf8_variants
import ftfy.chardata as chardata
import ftfy.fixes as fixes

EXPECTED_FTFY = "6.3.1"
MAX_CP = 0x110000
SURROGATES = range(0xD800, 0xE000)


def scalar_values():
    """All code points a Rust `char` can hold, in order."""
    for cp in range(MAX_CP):
        if cp not in SURROGATES:
            yield cp


# ---------------------------------------------------------------------------------------------
# Sanity checks on the ftfy source the hand-written Rust mirrors.


def check_ftfy_source() -> None:
    assert ftfy.__version__ == EXPECTED_FTFY, f"ftfy {ftfy.__version__}, expected {EXPECTED_FTFY}"
    cfg = ftfy.TextFixerConfig()
    expected = dict(
        unescape_html="auto",
        remove_terminal_escapes=True,
        fix_encoding=True,
        restore_byte_a0=True,
        replace_lossy_sequences=True,
        decode_inconsistent_utf8=True,
        fix_c1_controls=True,
        fix_latin_ligatures=True,
        fix_character_width=True,
        uncurl_quotes=True,
        fix_line_breaks=True,
        fix_surrogates=True,
        remove_control_chars=True,
        normalization="NFC",
        max_decode_length=1000000,
    )
    for key, value in expected.items():
        assert getattr(cfg, key) == value, (key, getattr(cfg, key))
    src = inspect.getsource(ftfy.fix_and_explain)
    order = re.findall(r'"(\w+)",', src.split("for fixer in [", 1)[1].split("]", 1)[0])
    assert order == [
        "fix_c1_controls",
        "fix_latin_ligatures",
        "fix_character_width",
        "uncurl_quotes",
        "fix_line_breaks",
        "fix_surrogates",
        "remove_terminal_escapes",
        "remove_control_chars",
    ], order
    assert chardata.CHARMAP_ENCODINGS == [
        "latin-1",
        "sloppy-windows-1252",
        "sloppy-windows-1251",
        "sloppy-windows-1250",
        "sloppy-windows-1253",
        "sloppy-windows-1254",
        "sloppy-windows-1257",
        "iso-8859-2",
        "macroman",
        "cp437",
    ], chardata.CHARMAP_ENCODINGS
    # Hand-ported in clean.rs: the lookahead regex of restore_byte_a0 and utf-8-variants' regexes.
    assert fixes.A_GRAVE_WORD_RE.pattern == b"\xc3 (?! |quele|quela|quilo|s )"
    assert utf8_variants.CESU8_RE.pattern == (
        b"(\xed([\xa0-\xaf]|$)([\x80-\xbf]|$)(\xed|$)([\xb0-\xbf]|$)([\x80-\xbf]|$))"
    )
    assert utf8_variants.SPECIAL_BYTES_RE.pattern == (
        b"(\xc0(\x80|$))|"
        b"(\xed([\xa0-\xaf]|$)([\x80-\xbf]|$)(\xed|$)([\xb0-\xbf]|$)([\x80-\xbf]|$))|"
        b"(\xed([\xa0-\xbf]|$)([\x80-\xbf]|$))"
    )
    assert fixes.SURROGATE_RE.pattern == "[\ud800-\udfff]"
    assert chardata.ENCODING_REGEXES["ascii"].pattern == "^[\x00-\x7f]*$"


# ---------------------------------------------------------------------------------------------
# Regex translation: Python's parse tree -> Rust `regex` syntax.


class Translator:
    """Walks a `re._parser` tree and writes an equivalent Rust `regex` pattern."""

    def __init__(self, pattern, flags: int):
        self.is_bytes = isinstance(pattern, bytes)
        unsupported = C.SRE_FLAG_IGNORECASE | C.SRE_FLAG_MULTILINE | C.SRE_FLAG_DOTALL
        unsupported |= C.SRE_FLAG_LOCALE | C.SRE_FLAG_ASCII
        assert not flags & unsupported, f"unsupported flags {flags:#x}"
        self.flags = flags
        self.tree = P.parse(pattern, flags)
        assert not self.tree.state.flags & unsupported, "inline flags are not supported"
        self._category_cache: dict = {}

    # -- character sets ------------------------------------------------------------------------

    def category_set(self, cat) -> set[int]:
        """The code points (or bytes) Python's `re` matches for \\d \\D \\s \\S \\w \\W."""
        if cat in self._category_cache:
            return self._category_cache[cat]
        spelling = {
            C.CATEGORY_DIGIT: r"\d",
            C.CATEGORY_NOT_DIGIT: r"\D",
            C.CATEGORY_SPACE: r"\s",
            C.CATEGORY_NOT_SPACE: r"\S",
            C.CATEGORY_WORD: r"\w",
            C.CATEGORY_NOT_WORD: r"\W",
        }[cat]
        flags = self.flags & ~C.SRE_FLAG_VERBOSE
        if self.is_bytes:
            rx = re.compile(spelling.encode(), flags)
            members = {b for b in range(256) if rx.fullmatch(bytes([b]))}
        else:
            rx = re.compile(spelling, flags)
            members = {cp for cp in scalar_values() if rx.fullmatch(chr(cp))}
        self._category_cache[cat] = members
        return members

    def class_members(self, items) -> tuple[bool, set[int]]:
        """(negated, members) of one IN node."""
        negated = False
        members: set[int] = set()
        for op, av in items:
            if op is C.NEGATE:
                negated = True
            elif op is C.LITERAL:
                members.add(av)
            elif op is C.RANGE:
                members.update(range(av[0], av[1] + 1))
            elif op is C.CATEGORY:
                members |= self.category_set(av)
            else:
                raise ValueError(f"unsupported set item {op} {av}")
        members -= set(SURROGATES)
        return negated, members

    def atom(self, value: int) -> str:
        return f"\\x{value:02x}" if self.is_bytes else f"\\x{{{value:x}}}"

    def class_body(self, members: set[int]) -> str:
        out = []
        for lo, hi in to_ranges(members):
            out.append(self.atom(lo) if lo == hi else f"{self.atom(lo)}-{self.atom(hi)}")
        return "".join(out)

    def emit_class(self, negated: bool, members: set[int]) -> str:
        assert members, "empty class"
        return "[" + ("^" if negated else "") + self.class_body(members) + "]"

    # -- sequences -----------------------------------------------------------------------------

    def emit_seq(self, seq) -> str:
        return "".join(self.emit_node(op, av) for op, av in seq)

    def emit_node(self, op, av) -> str:
        if op is C.LITERAL:
            return self.atom(av)
        if op is C.NOT_LITERAL:
            return self.emit_class(True, {av})
        if op is C.IN:
            return self.emit_class(*self.class_members(av))
        if op is C.ANY:
            return self.emit_class(True, {0x0A})  # no DOTALL: anything but '\n'
        if op is C.CATEGORY:
            return self.emit_class(False, self.category_set(av))
        if op is C.SUBPATTERN:
            group, add_flags, del_flags, sub = av
            assert not add_flags and not del_flags, "inline flags in a group"
            return "(?:" + self.emit_seq(sub) + ")"
        if op is C.BRANCH:
            _, alternatives = av
            return "(?:" + "|".join(self.emit_seq(alt) for alt in alternatives) + ")"
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            body = "(?:" + self.emit_seq(sub) + ")"
            if hi is C.MAXREPEAT:
                quant = {0: "*", 1: "+"}.get(lo, f"{{{lo},}}")
            elif (lo, hi) == (0, 1):
                quant = "?"
            elif lo == hi:
                quant = f"{{{lo}}}"
            else:
                quant = f"{{{lo},{hi}}}"
            return body + quant + ("?" if op is C.MIN_REPEAT else "")
        if op is C.AT:
            # Python's `^` without MULTILINE is the start of the string, as is Rust's `^`.
            # Python's `$` also matches before a final '\n', which Rust cannot say: refuse it.
            if av in (C.AT_BEGINNING, C.AT_BEGINNING_STRING):
                return "^" if av is C.AT_BEGINNING else r"\A"
            if av is C.AT_END_STRING:
                return r"\z"
            raise ValueError(f"unsupported anchor {av}")
        raise ValueError(f"unsupported regex node {op} {av}")

    def translate(self) -> str:
        body = self.emit_seq(self.tree)
        return ("(?-u)" + body) if self.is_bytes else body

    def translate_with_lookbehind(self) -> tuple[set[int], str]:
        """For `(?<![class])rest`: the class (checked by hand in Rust) and `rest` translated."""
        first_op, first_av = self.tree[0]
        assert first_op is C.ASSERT_NOT, "expected a leading negative lookbehind"
        direction, sub = first_av
        assert direction == -1 and len(sub) == 1, "lookbehind must be one character wide"
        (op, av), = list(sub)
        if op is C.IN:
            negated, members = self.class_members(av)
            assert not negated
        elif op is C.LITERAL:
            members = {av}
        else:
            raise ValueError(f"unsupported lookbehind {op}")
        return members, self.emit_seq(list(self.tree)[1:])


def to_ranges(values) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for v in sorted(values):
        if ranges and v == ranges[-1][1] + 1 and not (v == 0xE000 and ranges[-1][1] == 0xD7FF):
            ranges[-1] = (ranges[-1][0], v)
        else:
            ranges.append((v, v))
    return ranges


# ---------------------------------------------------------------------------------------------
# Rust output helpers.


def rust_char(cp: int) -> str:
    return f"'\\u{{{cp:x}}}'"


def rust_str(s: str) -> str:
    def safe(c: str) -> bool:
        return c.isascii() and c.isprintable() and c not in '"\\{}'

    return '"' + "".join(c if safe(c) else f"\\u{{{ord(c):x}}}" for c in s) + '"'


class Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def ranges(self, doc: str, name: str, values) -> None:
        rs = to_ranges(values)
        self.line(f"/// {doc}")
        self.line(f"pub(super) static {name}: &[(char, char)] = &[")
        for lo, hi in rs:
            self.line(f"    ({rust_char(lo)}, {rust_char(hi)}),")
        self.line("];")
        self.line()

    def char_map(self, doc: str, name: str, mapping: dict[int, str]) -> None:
        self.line(f"/// {doc}")
        self.line(f"pub(super) static {name}: &[(char, &str)] = &[")
        for cp in sorted(mapping):
            self.line(f"    ({rust_char(cp)}, {rust_str(mapping[cp])}),")
        self.line("];")
        self.line()

    def regex(self, doc: str, name: str, pattern: str) -> None:
        assert "\n" not in pattern and '"#' not in pattern
        self.line(f"/// {doc}")
        self.line(f'pub(super) const {name}: &str = r#"{pattern}"#;')
        self.line()


# ---------------------------------------------------------------------------------------------
# Tables.


def charmap_table(encoding: str) -> list[str]:
    sloppy = encoding.startswith("sloppy-")
    table = []
    for b in range(256):
        ch = bytes([b]).decode(encoding)
        assert len(ch) == 1
        table.append(ch)
        # ftfy's possible_encoding regex assumes bytes 0x00-0x7F other than 0x1A are ASCII.
        if b < 0x80 and b != 0x1A:
            assert ch == chr(b), (encoding, b)
        if b == 0x1A:
            assert ch == ("\ufffd" if sloppy else "\x1a"), (encoding, ch)
        # Encoding is the reverse table: every char must round-trip to its own byte.
        assert ch.encode(encoding) == bytes([b]), (encoding, b)
    assert len(set(table)) == 256, f"{encoding} decodes two bytes to one char"
    return table


def strict_windows_1252() -> list[str | None]:
    out: list[str | None] = []
    for b in range(256):
        try:
            out.append(bytes([b]).decode("windows-1252"))
        except UnicodeDecodeError:
            out.append(None)
    return out


def lower_tables() -> tuple[dict[int, str], set[int], set[int]]:
    """str.lower per char, and the Cased / Case_Ignorable sets of Python's final-sigma rule."""
    lower = {}
    cased = set()
    ignorable = set()
    for cp in scalar_values():
        ch = chr(cp)
        if cp != 0x3A3:
            low = ch.lower()
            if low != ch:
                lower[cp] = low
        # handle_capital_sigma: skip Case_Ignorable backwards, then the char must be Cased.
        after_a = ("A" + ch + "\u03a3").lower()[-1] == "\u03c2"
        alone = (ch + "\u03a3").lower()[-1] == "\u03c2"
        if after_a and not alone:
            ignorable.add(cp)
        if alone:
            cased.add(cp)
    # Sanity: the rule as reconstructed reproduces Python on a few probes.
    assert "\u03a3".lower() == "\u03c3"
    assert "A\u03a3".lower() == "a\u03c2"
    assert "A\u03a3b".lower() == "a\u03c3b"
    assert 0x27 in ignorable and 0x41 in cased and 0x3A3 in cased
    return lower, cased, ignorable


def html_entities_ftfy() -> dict[str, str]:
    ents = chardata.HTML_ENTITIES
    # Cross-check the table against its recipe (keys "&name;" and a few upper-cased names).
    assert all(k.startswith("&") and k.endswith(";") for k in ents)
    return ents


def main() -> None:
    check_ftfy_source()
    root = Path(__file__).resolve().parent.parent
    out_path = root / "crates" / "clip" / "src" / "tokenize" / "ftfy_tables.rs"
    o = Out()
    o.line(
        f"//! Generated by scripts/gen_text_tables.py from ftfy {ftfy.__version__} on Python "
        f"{sys.version.split()[0]} (unicodedata {unicodedata.unidata_version}); do not edit."
    )
    o.line("//!")
    o.line("//! Tables and regexes for the Rust port of open_clip's caption cleaning (see `clean.rs`).")
    o.line()
    o.line("/// ftfy version these tables were generated from.")
    o.line("#[cfg(test)]")
    o.line(f'pub(super) const FTFY_VERSION: &str = "{ftfy.__version__}";')
    o.line("/// Python version whose codecs, `re`, `str` and `unicodedata` produced these tables.")
    o.line("#[cfg(test)]")
    o.line(f'pub(super) const PYTHON_VERSION: &str = "{sys.version.split()[0]}";')
    o.line("/// Unicode version of that Python's `unicodedata` (what NFC and `str.lower` follow).")
    o.line("#[cfg(test)]")
    o.line(f'pub(super) const PY_UNICODE_VERSION: &str = "{unicodedata.unidata_version}";')
    o.line("/// ftfy's `TextFixerConfig().max_decode_length`: the longest segment fixed at once.")
    o.line(f"pub(super) const MAX_DECODE_LENGTH: usize = {ftfy.TextFixerConfig().max_decode_length};")
    o.line()

    # --- codecs ---
    o.line("/// One single-byte codec of ftfy's `CHARMAP_ENCODINGS`.")
    o.line("pub(super) struct Charmap {")
    o.line("    /// Python codec name.")
    o.line("    pub name: &'static str,")
    o.line("    /// Byte → char; a bijection onto the chars the codec can encode.")
    o.line("    pub decode: [char; 256],")
    o.line("}")
    o.line()
    o.line("/// ftfy's `CHARMAP_ENCODINGS`, in the order `fix_encoding` tries them.")
    o.line("pub(super) static CHARMAP_ENCODINGS: &[Charmap] = &[")
    for enc in chardata.CHARMAP_ENCODINGS:
        table = charmap_table(enc)
        o.line("    Charmap {")
        o.line(f'        name: "{enc}",')
        o.line("        decode: [")
        for i in range(0, 256, 8):
            o.line("            " + " ".join(f"{rust_char(ord(c))}," for c in table[i : i + 8]))
        o.line("        ],")
        o.line("    },")
    o.line("];")
    o.line()
    w1252 = strict_windows_1252()
    o.line("/// Python's strict `windows-1252` decoder (None: undefined byte, a decode error).")
    o.line("pub(super) static WINDOWS_1252_STRICT: [Option<char>; 256] = [")
    for i in range(0, 256, 8):
        o.line(
            "    "
            + " ".join(
                ("None," if c is None else f"Some({rust_char(ord(c))}),") for c in w1252[i : i + 8]
            )
        )
    o.line("];")
    o.line()

    # --- ftfy translation tables ---
    ents = html_entities_ftfy()
    o.line("/// ftfy's `HTML_ENTITIES` (`&name;` → text, incl. the upper-cased variants), sorted.")
    o.line("pub(super) static FTFY_HTML_ENTITIES: &[(&str, &str)] = &[")
    for k in sorted(ents):
        o.line(f"    ({rust_str(k)}, {rust_str(ents[k])}),")
    o.line("];")
    o.line()
    o.char_map("ftfy's `LIGATURES` translation table.", "LIGATURES", dict(chardata.LIGATURES))
    o.char_map("ftfy's `WIDTH_MAP` translation table.", "WIDTH_MAP", dict(chardata.WIDTH_MAP))
    assert all(v is None for v in chardata.CONTROL_CHARS.values())
    o.ranges("ftfy's `CONTROL_CHARS`: code points `remove_control_chars` deletes.", "CONTROL_CHARS",
             chardata.CONTROL_CHARS.keys())

    def single_class(rx) -> set[int]:
        t = Translator(rx.pattern, rx.flags)
        assert len(t.tree) == 1 and t.tree[0][0] is C.IN, rx.pattern
        negated, members = t.class_members(t.tree[0][1])
        assert not negated
        return members

    o.ranges("ftfy's `SINGLE_QUOTE_RE` class (→ `'`).", "SINGLE_QUOTES", single_class(chardata.SINGLE_QUOTE_RE))
    o.ranges("ftfy's `DOUBLE_QUOTE_RE` class (→ `\"`).", "DOUBLE_QUOTES", single_class(chardata.DOUBLE_QUOTE_RE))
    o.ranges("ftfy's `C1_CONTROL_RE` class.", "C1_CONTROLS", single_class(chardata.C1_CONTROL_RE))

    # --- regexes ---
    def tr(rx) -> str:
        return Translator(rx.pattern, rx.flags).translate()

    o.regex("ftfy's `BADNESS_RE` (`is_bad` = it matches anywhere).", "BADNESS_RE", tr(ftfy.badness.BADNESS_RE))
    look, body = Translator(chardata.UTF8_DETECTOR_RE.pattern, chardata.UTF8_DETECTOR_RE.flags).translate_with_lookbehind()
    o.regex(
        "ftfy's `UTF8_DETECTOR_RE` without its leading one-char negative lookbehind.",
        "UTF8_DETECTOR_RE",
        body,
    )
    o.ranges(
        "The class of `UTF8_DETECTOR_RE`'s lookbehind: a match may not follow one of these.",
        "UTF8_DETECTOR_NOT_AFTER",
        look,
    )
    o.regex("ftfy's `HTML_ENTITY_RE`.", "HTML_ENTITY_RE", tr(chardata.HTML_ENTITY_RE))
    o.regex("ftfy's `ANSI_RE` (terminal escapes).", "ANSI_RE", tr(fixes.ANSI_RE))
    o.regex("ftfy's `ALTERED_UTF8_RE` (bytes).", "ALTERED_UTF8_RE", tr(chardata.ALTERED_UTF8_RE))
    o.regex("ftfy's `LOSSY_UTF8_RE` (bytes).", "LOSSY_UTF8_RE", tr(chardata.LOSSY_UTF8_RE))
    o.regex("Python `html._charref` (what `html.unescape` replaces).", "HTML_CHARREF_RE", tr(html._charref))

    # --- Python str / unicodedata behaviour ---
    o.ranges(
        "Python `str.isspace` (what `str.split()` / `str.strip()` treat as whitespace).",
        "PY_WHITESPACE",
        [cp for cp in scalar_values() if chr(cp).isspace()],
    )
    lower, cased, ignorable = lower_tables()
    o.char_map("Python `str.lower` for every char it changes, except U+03A3 (final-sigma rule).", "PY_LOWER", lower)
    o.ranges("Python's Cased chars, as its final-sigma rule sees them.", "PY_CASED", cased)
    o.ranges("Python's Case_Ignorable chars, as its final-sigma rule sees them.", "PY_CASE_IGNORABLE", ignorable)
    o.ranges(
        "Code points unassigned (Cn) in Python's unicodedata: NFC there leaves them inert.",
        "PY_UNASSIGNED",
        [cp for cp in scalar_values() if unicodedata.category(chr(cp)) == "Cn"],
    )

    out_path.write_text("\n".join(o.lines).rstrip("\n") + "\n", encoding="utf-8")
    print(f"wrote {out_path} ({len(o.lines)} lines)")


if __name__ == "__main__":
    main()
