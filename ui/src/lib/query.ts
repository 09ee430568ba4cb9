// The filter bar's state and how it, plus what is being searched for, becomes the shell's
// `SearchQuery` (exactly one of text / exampleDrop / examplePhotoId; empty inputs → no filter).
import type { Filter, FormatInfo, SearchQuery, Sort } from "./api";

/** Camera RAW formats as the engine stores them; the type filter offers them as one "RAW". */
export const RAW_FORMATS: readonly string[] = ["arw", "cr2", "cr3", "dng", "nef", "orf", "raf", "rw2"];

const TYPE_LABELS: Record<string, string> = {
  jpeg: "JPEG",
  png: "PNG",
  webp: "WebP",
  gif: "GIF",
  bmp: "BMP",
  tiff: "TIFF",
  heic: "HEIC",
  avif: "AVIF",
  jxl: "JPEG XL",
  raw: "RAW",
};

/** One type checkbox: `id` is what the filter sends ("raw" stands for every RAW format). */
export interface TypeChoice {
  id: string;
  label: string;
  /** Searchable photos of this type (0 for a ticked type the library no longer holds). */
  count: number;
}

/**
 * The type checkboxes: the formats the library's photos are in (RAWs as one), most photos
 * first, and any ticked type it no longer holds, so that it can be unticked.
 */
export function typeChoices(formats: readonly FormatInfo[], selected: readonly string[]): TypeChoice[] {
  const counts = new Map<string, number>();
  for (const f of formats) {
    const id = RAW_FORMATS.includes(f.format) ? "raw" : f.format;
    counts.set(id, (counts.get(id) ?? 0) + f.count);
  }
  for (const id of selected) if (!counts.has(id)) counts.set(id, 0);
  return [...counts]
    .map(([id, count]) => ({ id, count, label: TYPE_LABELS[id] ?? id.toUpperCase() }))
    .sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
}

export const SORTS: readonly { id: Sort; label: string }[] = [
  { id: "score", label: "Best match" },
  { id: "newest", label: "Newest first" },
  { id: "oldest", label: "Oldest first" },
];

/**
 * The orders the sort menu offers and the one it shows. A listing (nothing typed or dropped: all
 * photos, or the filters' photos) has no scores, so it offers only dates and shows "Best match"
 * as the newest-first order the engine lists by; the chosen sort itself is kept for the next
 * search (and the summary line says it there, see `orderText` in search.ts).
 */
export function sortChoices(sort: Sort, listing: boolean): { options: readonly { id: Sort; label: string }[]; shown: Sort } {
  if (!listing) return { options: SORTS, shown: sort };
  return { options: SORTS.filter((s) => s.id !== "score"), shown: sort === "score" ? "newest" : sort };
}

/** What the filter controls hold. Dates are the `<input type=date>` values ("" = none). */
export interface FilterState {
  folder: string | null;
  after: string;
  before: string;
  types: string[];
  tag: string | null;
  /** Only photos in which text was read (true), or none was (false); null = either. */
  hasText: boolean | null;
  /** Only photos with a GPS position. */
  located: boolean;
  sort: Sort;
}

export function defaultFilters(): FilterState {
  return { folder: null, after: "", before: "", types: [], tag: null, hasText: null, located: false, sort: "score" };
}

/** The text filter's choices, keyed for a `<select>` ("" for either). */
export const TEXT_CHOICES: readonly { key: string; value: boolean | null; label: string }[] = [
  { key: "", value: null, label: "Any text" },
  { key: "with", value: true, label: "With text" },
  { key: "without", value: false, label: "Without text" },
];

/** The text filter a `<select>` key stands for (an unknown key: either). */
export function textFromKey(key: string): boolean | null {
  return TEXT_CHOICES.find((c) => c.key === key)?.value ?? null;
}

/** The `<select>` key of a text filter. */
export function textKey(value: boolean | null): string {
  return TEXT_CHOICES.find((c) => c.value === value)?.key ?? "";
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Types once each, sorted: the same ticks make the same query. */
function canonicalTypes(types: readonly string[]): string[] {
  return [...new Set(types.map((t) => t.trim().toLowerCase()).filter(Boolean))].sort();
}

/** The shell's `Filter`: every field present, unset ones null, types in canonical order. */
export function toFilter(f: FilterState): Filter {
  return {
    folder: f.folder || null,
    after: DATE.test(f.after) ? f.after : null,
    before: DATE.test(f.before) ? f.before : null,
    tag: f.tag || null,
    types: canonicalTypes(f.types),
    hasLocation: f.located ? true : null,
    hasText: f.hasText,
  };
}

/** Adds or removes a type, keeping the canonical order. */
export function toggleType(types: readonly string[], id: string): string[] {
  const set = new Set(canonicalTypes(types));
  if (set.has(id)) set.delete(id);
  else set.add(id);
  return canonicalTypes([...set]);
}

/** A hint when the date range cannot match anything. */
export function dateRangeProblem(after: string, before: string): string | null {
  if (DATE.test(after) && DATE.test(before) && after >= before) {
    return "“From” must be earlier than “Before” (Before is not included).";
  }
  return null;
}

/** Whether any filter (other than sort) narrows the results. */
export function isFiltered(f: FilterState): boolean {
  const q = toFilter(f);
  return Boolean(q.folder || q.after || q.before || q.tag || q.hasLocation || q.hasText != null || (q.types && q.types.length));
}

/**
 * The patch "Clear filters" applies: every filter but the tag (which has its own ×) back to none,
 * and the sort back to the default, so that a date order chosen once does not silently reorder
 * the next words typed.
 */
export function clearedFilters(): Partial<FilterState> {
  const d = defaultFilters();
  return { folder: d.folder, after: d.after, before: d.before, types: d.types, hasText: d.hasText, located: d.located, sort: d.sort };
}

/**
 * Whether "Clear filters" would change anything: a filter other than the tag narrows the results,
 * or the results are in an order other than the default one (in a listing "Best match" is
 * newest first, so choosing "Newest first" there changes nothing).
 */
export function canClearFilters(f: FilterState, listing: boolean): boolean {
  return isFiltered({ ...f, tag: null }) || sortChoices(f.sort, listing).shown !== sortChoices("score", listing).shown;
}

/**
 * What a search looks for. `browse` is nothing typed or dropped: the filters' photos by date, or
 * with no filter every photo, newest first (the shell answers a query with no text and no example
 * that way, and with `score: null`).
 */
export type Source =
  | { kind: "text"; text: string }
  | { kind: "file"; path: string; token: number }
  | { kind: "photo"; id: number }
  | { kind: "browse" };

export interface PageOptions {
  offset: number;
  limit: number;
  includeWeak: boolean;
}

export function buildQuery(source: Source, filters: FilterState, page: PageOptions): SearchQuery {
  const q: SearchQuery = {
    limit: page.limit,
    offset: page.offset,
    includeWeak: page.includeWeak,
    sort: filters.sort,
    filter: toFilter(filters),
  };
  if (source.kind === "text") q.text = source.text;
  else if (source.kind === "file") q.exampleDrop = source.token;
  else if (source.kind === "photo") q.examplePhotoId = source.id;
  return q;
}

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];

/**
 * A typed day as the engine takes it ("YYYY-MM-DD"), or null when it is not a date: ISO days
 * ("2024-06-01", "2024/6/1"), a month ("2024-06", "June 2024": its first day) or a year
 * ("2024": 1 January), and days with the month in words ("1 June 2024", "June 1, 2024").
 * Numeric day/month orders ("1/6/2024") are refused: they read differently around the world.
 */
export function parseDay(text: string): string | null {
  const t = text.trim().toLowerCase().replace(/,/g, " ").replace(/\s+/g, " ");
  if (!t) return null;
  const day = (y: number, m: number, d: number): string | null => {
    if (y < 1800 || y > 2200 || m < 1 || m > 12 || d < 1) return null;
    const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
    if (d > last) return null;
    return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
  };
  let m = t.match(/^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?$/);
  if (m) return day(+m[1], +m[2], m[3] ? +m[3] : 1);
  m = t.match(/^(\d{4})$/);
  if (m) return day(+m[1], 1, 1);
  // A month's name or its start ("jun", "sept"), at least three letters.
  const month = (w: string) => (w.length >= 3 ? MONTHS.findIndex((n) => n.startsWith(w)) + 1 : 0);
  // "1 june 2024" / "june 1 2024" / "june 2024"
  m = t.match(/^(\d{1,2}) ([a-z]+)\.? (\d{4})$/);
  if (m && month(m[2]) > 0) return day(+m[3], month(m[2]), +m[1]);
  m = t.match(/^([a-z]+)\.? (\d{1,2}) (\d{4})$/);
  if (m && month(m[1]) > 0) return day(+m[3], month(m[1]), +m[2]);
  m = t.match(/^([a-z]+)\.? (\d{4})$/);
  if (m && month(m[1]) > 0) return day(+m[2], month(m[1]), 1);
  return null;
}
