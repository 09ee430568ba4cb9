// The filter bar's state and how it, plus what is being searched for, becomes the shell's
// `SearchQuery` (exactly one of text / examplePath / examplePhotoId; empty inputs → no filter).
import type { Filter, SearchQuery, Sort } from "./api";

/** Formats the type checkboxes offer, in the shell's spelling. */
export const PHOTO_TYPES: readonly { id: string; label: string }[] = [
  { id: "jpeg", label: "JPEG" },
  { id: "png", label: "PNG" },
  { id: "webp", label: "WebP" },
  { id: "gif", label: "GIF" },
  { id: "bmp", label: "BMP" },
  { id: "tiff", label: "TIFF" },
];

export const SORTS: readonly { id: Sort; label: string }[] = [
  { id: "score", label: "Best match" },
  { id: "newest", label: "Newest first" },
  { id: "oldest", label: "Oldest first" },
];

/**
 * The orders the sort menu offers and the one it shows. A listing (filters with nothing typed or
 * dropped) has no scores, so it offers only dates and shows "Best match" as the newest-first
 * order the engine lists by; the chosen sort itself is kept for the next search.
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
  /** Only photos with a GPS position. */
  located: boolean;
  sort: Sort;
}

export function defaultFilters(): FilterState {
  return { folder: null, after: "", before: "", types: [], tag: null, located: false, sort: "score" };
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The shell's `Filter`: every field present, unset ones null, types in canonical order. */
export function toFilter(f: FilterState): Filter {
  return {
    folder: f.folder || null,
    after: DATE.test(f.after) ? f.after : null,
    before: DATE.test(f.before) ? f.before : null,
    tag: f.tag || null,
    types: PHOTO_TYPES.map((t) => t.id).filter((id) => f.types.includes(id)),
    hasLocation: f.located ? true : null,
  };
}

/** Adds or removes a type, keeping the canonical order. */
export function toggleType(types: readonly string[], id: string): string[] {
  const set = new Set(types);
  if (set.has(id)) set.delete(id);
  else set.add(id);
  return PHOTO_TYPES.map((t) => t.id).filter((t) => set.has(t));
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
  return Boolean(q.folder || q.after || q.before || q.tag || q.hasLocation || (q.types && q.types.length));
}

/**
 * What a search looks for. `browse` is nothing: filters with an empty box list their photos by
 * date (the shell answers a query with no text and no example that way).
 */
export type Source =
  | { kind: "text"; text: string }
  | { kind: "file"; path: string }
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
  else if (source.kind === "file") q.examplePath = source.path;
  else if (source.kind === "photo") q.examplePhotoId = source.id;
  return q;
}
