// The words a search matched in a photo's text (`Hit.words`): a line cut into plain and matched
// pieces, a short excerpt around the first match for a result's caption, what a screen reader
// says of it, and a line's box drawn over the picture at the size it is shown.
import type { LineMatch } from "./api";
import type { Size } from "./zoom";

/** A run of a line's text: matched by the query's words, or not. */
export interface Piece {
  text: string;
  match: boolean;
}

/** The spans within `text`, in order, overlapping or touching ones merged, empty ones dropped. */
function cleanSpans(text: string, spans: readonly number[][]): [number, number][] {
  const sorted = spans
    .map(([a, b]): [number, number] => [Math.max(0, a), Math.min(text.length, b)])
    .filter(([a, b]) => a < b)
    .sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** A line cut into pieces at its spans ([start, end) in UTF-16 units, as the engine sends). */
export function pieces(text: string, spans: readonly number[][]): Piece[] {
  const out: Piece[] = [];
  let at = 0;
  for (const [a, b] of cleanSpans(text, spans)) {
    if (a > at) out.push({ text: text.slice(at, a), match: false });
    out.push({ text: text.slice(a, b), match: true });
    at = b;
  }
  if (at < text.length) out.push({ text: text.slice(at), match: false });
  return out;
}

/** Not inside a surrogate pair: an index moved back off a low surrogate. */
function whole(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return i > 0 && c >= 0xdc00 && c <= 0xdfff ? i - 1 : i;
}

/** Characters kept before the first match when a long line is cut for a caption. */
const LEAD = 12;

/**
 * A line for a result's caption: at most about `max` characters, cut so that the first match
 * shows (a receipt's total at the end of a long line is what was searched for), "…" where cut.
 */
export function excerpt(m: LineMatch, max = 40): Piece[] {
  const { text } = m;
  if (text.length <= max) return pieces(text, m.spans);
  const first = cleanSpans(text, m.spans)[0]?.[0] ?? 0;
  const start = whole(text, Math.max(0, Math.min(first - LEAD, text.length - max)));
  const end = whole(text, Math.min(text.length, start + max));
  const shifted = m.spans.map(([a, b]) => [a - start, b - start]);
  const out = pieces(text.slice(start, end), shifted);
  if (start > 0) out.unshift({ text: "…", match: false });
  if (end < text.length) out.push({ text: "…", match: false });
  return out;
}

/** What a screen reader says of the words a photo matched: `shows “TESCO”, “12.40”`. */
export function wordsLabel(words: readonly LineMatch[]): string | null {
  const found: string[] = [];
  for (const m of words) {
    for (const p of pieces(m.text, m.spans)) if (p.match && !found.includes(p.text)) found.push(p.text);
  }
  return found.length ? `shows ${found.map((w) => `“${w}”`).join(", ")}` : null;
}

/**
 * A line's box as an SVG `points` list over the picture as it is drawn (`shown`): the corners
 * are in the original picture's pixels (`original`: the photo's width × height), whatever was
 * loaded to show it (a preview is smaller). Null when either size is unknown.
 */
export function boxPoints(quad: readonly number[][], original: Size, shown: Size): string | null {
  if (!(original.w > 0 && original.h > 0 && shown.w > 0 && shown.h > 0)) return null;
  const sx = shown.w / original.w;
  const sy = shown.h / original.h;
  const r = (v: number) => Math.round(v * 10) / 10;
  return quad.map(([x, y]) => `${r(x * sx)},${r(y * sy)}`).join(" ");
}
