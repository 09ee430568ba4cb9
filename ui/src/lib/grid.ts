// Keyboard and size arithmetic shared by the results (the rows themselves: lib/justify.ts): which
// keys move the selection, the plain rank-order move used before the grid has laid anything
// out, the sections a search's weaker matches make, and the size control's row heights. Pure
// functions, unit-tested without a browser.

/** The row an item sits on. */
export function rowOf(index: number, columns: number): number {
  return Math.floor(index / Math.max(1, columns));
}

export type MoveKey = "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown" | "Home" | "End" | "PageUp" | "PageDown";

export function isMoveKey(key: string): key is MoveKey {
  return ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"].includes(key);
}

/**
 * The selection after a key. Left/Right step through the results in rank order (wrapping to the
 * previous/next row), Up/Down move a row keeping the column (to the last item when the row below
 * is short), PageUp/PageDown move `pageRows` rows; everything is clamped to the results.
 * With no selection yet (-1), any move selects the first result (End: the last). -1 when empty.
 */
export function moveSelection(current: number, key: MoveKey, columns: number, count: number, pageRows = 1): number {
  if (count <= 0) return -1;
  const cols = Math.max(1, columns);
  const last = count - 1;
  if (current < 0 || current > last) return key === "End" ? last : 0;
  switch (key) {
    case "ArrowLeft":
      return Math.max(0, current - 1);
    case "ArrowRight":
      return Math.min(last, current + 1);
    case "ArrowUp":
      return current - cols >= 0 ? current - cols : current;
    case "ArrowDown":
      return rowOf(current, cols) < rowOf(last, cols) ? Math.min(last, current + cols) : current;
    case "PageUp": {
      const rows = Math.max(1, pageRows);
      const target = current - rows * cols;
      return target >= 0 ? target : current % cols;
    }
    case "PageDown": {
      const rows = Math.max(1, pageRows);
      const target = current + rows * cols;
      if (target <= last) return target;
      // Past the end: the same column on the last row, or the last item when that row is short.
      return Math.max(current, Math.min(last, rowOf(last, cols) * cols + (current % cols)));
    }
    case "Home":
      return 0;
    case "End":
      return last;
  }
}

/** Hits [start, end) under one header (`label` null: no header). */
export interface SectionSpec {
  start: number;
  end: number;
  label: string | null;
  /** A month's header (the default), or the line before the weaker matches. */
  kind?: "month" | "weak";
}

/**
 * The sections of a search whose weaker matches start at `from` (see `weakStart` in search.ts):
 * the better matches without a header, then the weaker ones under the "Weaker matches" line.
 * Null (one plain section) when there is no such line.
 */
export function weakSections(count: number, from: number): SectionSpec[] | null {
  if (from < 0 || from >= count) return null;
  const weak: SectionSpec = { start: from, end: count, label: "Weaker matches", kind: "weak" };
  return from === 0 ? [weak] : [{ start: 0, end: from, label: null }, weak];
}

/**
 * The thumbnail sizes the size control offers (the rows' target height in px), smallest first.
 * Previews are made for the tallest (XL, stretched by justify.ts MAX_STRETCH) on a 2x display:
 * PREVIEW_SHORT_SIDE in crates/library/src/thumbs.rs.
 */
export const THUMB_SIZES = [
  { id: "s", label: "S", px: 120 },
  { id: "m", label: "M", px: 180 },
  { id: "l", label: "L", px: 240 },
  { id: "xl", label: "XL", px: 300 },
] as const;

export type ThumbSize = (typeof THUMB_SIZES)[number]["id"];

/** The row height for a size id (the middle one for anything unknown, e.g. a stale setting). */
export function thumbPx(id: string | null | undefined): number {
  return (THUMB_SIZES.find((s) => s.id === id) ?? THUMB_SIZES[1]).px;
}
