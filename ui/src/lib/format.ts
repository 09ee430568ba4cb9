// How numbers reach people: ETAs ("2 min 5 s"), indexing rates, file sizes, dates and counts.
// Kept apart from the components so every wording is unit-tested in one place.
import type { AutoTagInfo, IndexRebuild, Progress, RootInfo } from "./api";

/** "45 s", "2 min 5 s", "1 h 5 min", "2 d 3 h"; "" when unknown. */
export function formatEta(secs: number | null | undefined): string {
  if (secs == null || !Number.isFinite(secs) || secs < 0) return "";
  const s = Math.round(secs);
  if (s < 1) return "less than a second";
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const rest = s % 60;
    return rest ? `${m} min ${rest} s` : `${m} min`;
  }
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** "42 photos/s", "3.4 photos/s", "0.25 photos/s". */
export function formatRate(rate: number | null | undefined): string {
  if (rate == null || !Number.isFinite(rate) || rate <= 0) return "";
  let n: string;
  if (rate >= 10) n = formatCount(Math.round(rate));
  else if (rate >= 1) n = rate.toFixed(1);
  else n = rate.toFixed(2);
  return `${n} photos/s`;
}

/** Binary units, the way most file managers show photo sizes: "812 B", "1.5 KB", "12 MB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null || !Number.isFinite(bytes) || bytes < 0) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)} B`;
  // 1023.96 KB must read "1 MB", not "1024 KB".
  if (v < 10 && Number(v.toFixed(1)) < 10) return `${trimZero(v.toFixed(1))} ${units[u]}`;
  if (Math.round(v) >= 1024 && u < units.length - 1) return `1 ${units[u + 1]}`;
  return `${Math.round(v)} ${units[u]}`;
}

function trimZero(s: string): string {
  return s.endsWith(".0") ? s.slice(0, -2) : s;
}

/** A photo's date (Unix seconds) in the viewer's locale and time zone, e.g. "5 Mar 2024, 14:07". */
export function formatDate(unixSecs: number | null | undefined, locale?: string, timeZone?: string): string {
  if (unixSecs == null || !Number.isFinite(unixSecs)) return "";
  const d = new Date(unixSecs * 1000);
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(d);
}

/**
 * When a photo was taken as the clock there read it ("1 Jun 2024, 08:30"), whatever the viewer's
 * zone, with the camera's zone when it recorded one ("… (UTC+9)"). `localDate` is that reading
 * written as Unix seconds in UTC, so it is formatted in UTC.
 */
export function formatPhotoDate(
  p: { localDate: number | null | undefined; offsetMinutes?: number | null },
  locale?: string,
): string {
  const text = formatDate(p.localDate, locale, "UTC");
  if (!text || p.offsetMinutes == null || !Number.isFinite(p.offsetMinutes)) return text;
  return `${text} (${formatOffset(p.offsetMinutes)})`;
}

/** "UTC+9", "UTC−5", "UTC+5:30", "UTC" for minutes east of UTC. */
export function formatOffset(minutes: number): string {
  if (minutes === 0) return "UTC";
  const m = Math.abs(Math.round(minutes));
  const hm = m % 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}` : `${m / 60}`;
  return `UTC${minutes < 0 ? "\u2212" : "+"}${hm}`;
}

/**
 * The locale numbers are written in: the one given, else the viewer's, less the POSIX variant a
 * system without a configured locale reports (LANG=C.UTF-8 makes WebKit's default
 * "en-US-u-va-posix", which writes 100000 where every other locale groups the digits).
 */
export function numberLocale(locale?: string, viewer: string = new Intl.NumberFormat().resolvedOptions().locale): string {
  return locale ?? viewer.replace(/-va-posix/i, "").replace(/-u$/i, "");
}

/** "1,234" in the viewer's locale. */
export function formatCount(n: number, locale?: string): string {
  return new Intl.NumberFormat(numberLocale(locale)).format(n);
}

/** "4032 × 3024 (12.2 MP)"; "" when unknown. */
export function formatPixels(width: number | null | undefined, height: number | null | undefined): string {
  if (!width || !height) return "";
  const mp = (width * height) / 1e6;
  const mpText = mp >= 0.1 ? ` (${mp >= 10 ? Math.round(mp) : mp.toFixed(1)} MP)` : "";
  return `${width} × ${height}${mpText}`;
}

/** A similarity score with two decimals (for tooltips and logs; cells show `relevance`). */
export function formatScore(score: number | null): string {
  return score != null && Number.isFinite(score) ? score.toFixed(2) : "";
}

/**
 * What a result's score is measured against: the best score of the answer, and the lowest score
 * above the engine's floor (`strongFloor` while weaker matches are shown, else the lowest score
 * shown, all of which are above it). Raw cosines mean little to people ("0.31" can be a
 * fine match for words and a poor one for a picture), so cells show where a score sits between
 * the two instead.
 */
export interface RelevanceScale {
  best: number;
  /** Scores below this are weaker matches (null: none is known to be). */
  floor: number | null;
  /** The bottom of the better matches' range. */
  base: number;
  /** The lowest score shown. */
  low: number;
}

export type RelevanceLevel = "strong" | "good" | "weak";

export interface Relevance {
  level: RelevanceLevel;
  label: string;
  /** 0..1, the length of the cell's bar: the weaker matches stay below every better one. */
  fraction: number;
}

/** The scale of an answer's scores, or null for a listing (no scores). */
export function relevanceScale(hits: readonly { score: number | null }[], strongFloor: number | null = null): RelevanceScale | null {
  let best = Number.NEGATIVE_INFINITY;
  let low = Number.POSITIVE_INFINITY;
  for (const h of hits) {
    if (h.score == null || !Number.isFinite(h.score)) continue;
    if (h.score > best) best = h.score;
    if (h.score < low) low = h.score;
  }
  if (best === Number.NEGATIVE_INFINITY) return null;
  const floor = strongFloor != null && !Number.isNaN(strongFloor) ? strongFloor : null;
  // Above the floor the range runs from the lowest better match (or the lowest shown) to the best.
  const base = floor !== null && Number.isFinite(floor) ? Math.min(floor, best) : low;
  return { best, floor, base, low };
}

const LABELS: Record<RelevanceLevel, string> = { strong: "Strong match", good: "Good match", weak: "Weak match" };
/** The part of the bar weaker matches fill at most; better matches fill more. */
const WEAK_BAR = 0.3;

/**
 * How well a score matches, for people: "Weak match" below the floor (what the engine hides
 * unless asked), else "Strong match" in the top half of the range between the lowest better
 * match and the best one, "Good match" below it; and a bar length to draw.
 */
export function relevance(score: number | null, scale: RelevanceScale | null): Relevance | null {
  if (score == null || !Number.isFinite(score) || !scale) return null;
  const clamp = (x: number) => Math.max(0, Math.min(1, x));
  if (scale.floor !== null && score < scale.floor) {
    const span = Math.min(scale.floor, scale.best) - scale.low;
    const t = span > 0 ? clamp((score - scale.low) / span) : 1;
    return { level: "weak", label: LABELS.weak, fraction: 0.05 + (WEAK_BAR - 0.05) * t };
  }
  const span = scale.best - scale.base;
  const t = span > 0 ? clamp((score - scale.base) / span) : 1;
  const level: RelevanceLevel = t >= 0.5 ? "strong" : "good";
  return { level, label: LABELS[level], fraction: WEAK_BAR + 0.1 + (1 - WEAK_BAR - 0.1) * t };
}

/** "jpeg" → "JPEG". */
export function formatKind(format: string | null | undefined): string {
  return format ? format.toUpperCase() : "";
}

/** 0..100, for a progress bar; null when the total is unknown. */
export function percent(done: number, total: number | null | undefined): number | null {
  if (!total || total <= 0) return null;
  return Math.max(0, Math.min(100, (done / total) * 100));
}

/** "about 1 min 27 s left", "less than a second left" (not "about less than…"); "" when unknown. */
function timeLeft(secs: number | null | undefined): string {
  const eta = formatEta(secs);
  if (!eta) return "";
  return eta === "less than a second" ? `${eta} left` : `about ${eta} left`;
}

/**
 * The progress line: "1,234 of 5,000 photos in this run · 42 photos/s · about 1 min 27 s left";
 * in the text pass "120 of 5,000 photos read for text · 14 with text · …".
 */
export function formatProgress(p: Progress, locale?: string): string {
  if (p.phase === "textModels") {
    // Bytes, not photos: "Downloading the text reader: 3.2 MB of 15.1 MB · 1.1 MB/s · about 11 s left".
    const got = p.total > 0 ? `${formatBytes(p.done)} of ${formatBytes(p.total)}` : formatBytes(p.done);
    const parts = [`Downloading the text reader: ${got}`];
    if (p.rate > 0) parts.push(`${formatBytes(p.rate)}/s`);
    const left = timeLeft(p.etaSecs);
    if (left) parts.push(left);
    return parts.join(" · ");
  }
  // This run's count, which differs from a folder's (the library's) by what was there before:
  // said so, or "87 of 195" beside "64 indexed" reads as a contradiction.
  const of = `${formatCount(p.done, locale)} of ${formatCount(p.total, locale)}`;
  const parts =
    p.phase === "text" ? [`${of} photos read for text`, `${formatCount(p.withText, locale)} with text`] : [`${of} photos in this run`];
  const rate = formatRate(p.rate);
  parts.push(rate || "starting…");
  if (p.etaSecs != null) {
    const left = timeLeft(p.etaSecs);
    if (left) parts.push(left);
  } else {
    parts.push("estimating time left…");
  }
  if (p.failed > 0) parts.push(`${formatCount(p.failed, locale)} failed in this run`);
  return parts.join(" · ");
}

/**
 * The line shown while the search index is rebuilt (at start, or after a model switch): "Rebuilding the search index
 * (it was missing): 412,000 of 1,000,000 photos".
 */
export function formatRebuild(r: IndexRebuild, locale?: string): string {
  const head = `Rebuilding the search index (it was ${r.why})`;
  switch (r.step) {
    case "reading":
      return `${head}: reading ${formatCount(r.total, locale)} photos from the catalog…`;
    case "linking":
      return `${head}: ${formatCount(r.done, locale)} of ${formatCount(r.total, locale)} photos`;
    case "saving":
      return `${head}: saving it…`;
    case "done":
      return "The search index is rebuilt.";
  }
}

/** Labels shown in a folder row before "+N more". */
const AUTOTAG_LABELS_SHOWN = 5;

/**
 * A folder row's line for an auto-tagged folder in it: "Auto-tags new photos: beach, dog" for
 * the folder itself, "Auto-tags new photos in 2024/Trip: beach" for one inside it.
 */
export function autoTagText(root: string, a: AutoTagInfo): string {
  const shown = a.labels.slice(0, AUTOTAG_LABELS_SHOWN).join(", ");
  const more = a.labels.length - AUTOTAG_LABELS_SHOWN;
  const labels = more > 0 ? `${shown} +${more} more` : shown;
  const inside = a.folder.startsWith(root) ? a.folder.slice(root.length).replace(/^[\\/]+/, "") : a.folder;
  return inside ? `Auto-tags new photos in ${inside}: ${labels}` : `Auto-tags new photos: ${labels}`;
}

/** A folder row's status: "12 indexed · 0 pending · 1 failed" (plain digits, easy to read back). */
export function rootStatusText(r: Pick<RootInfo, "indexed" | "pending" | "failed">): string {
  return `${r.indexed} indexed · ${r.pending} pending · ${r.failed} failed`;
}

/**
 * A model as people read it: the first sentence of its description ("OpenAI CLIP ViT-B/32
 * (English)") and the rest ("The default: fast on any CPU, about 600 MB."), else its folder
 * name (`ViT-B-32__openai`) with nothing more, for a model Glimpse has no words for.
 */
export function modelTitle(name: string, description: string | null): { title: string; rest: string } {
  const d = (description ?? "").trim();
  const cut = d.search(/\.\s/);
  if (!d) return { title: name, rest: "" };
  if (cut < 0) return { title: d.replace(/\.$/, ""), rest: "" };
  return { title: d.slice(0, cut), rest: d.slice(cut + 1).trim() };
}

/** A photo's position as people read it: "35.6812° N, 139.7671° E" (four decimals: ~10 m). */
export function formatPlace(latitude: number, longitude: number): string {
  const part = (v: number, pos: string, neg: string) => `${Math.abs(v).toFixed(4)}° ${v < 0 ? neg : pos}`;
  return `${part(latitude, "N", "S")}, ${part(longitude, "E", "W")}`;
}

/** What copying photos to a folder did, in a sentence. */
export function exportedText(r: { folder: string; copied: number; failures: { path: string; reason: string }[] }): string {
  const where = r.folder.split(/[\\/]/).filter(Boolean).pop() ?? r.folder;
  const copied = r.copied === 1 ? "1 photo" : `${formatCount(r.copied)} photos`;
  const failed = r.failures.length ? ` ${r.failures.length === 1 ? "1 could not be copied" : `${r.failures.length} could not be copied`}: ${r.failures[0].reason}` : "";
  return `Copied ${copied} to “${where}”.${failed}`;
}
