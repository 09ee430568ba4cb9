// Virtual-grid arithmetic for the results: with 100k hits only the rows in view (plus a little
// overscan) are in the DOM. Cells have a fixed size; the column count follows the width. A
// listing by date puts a month header above each month's photos (sections, at the end).
// Pure functions so the window math and keyboard moves are unit-tested without a browser.

/** Columns that fit `width` with cells of `cell` px separated by `gap` px (at least 1). */
export function columnsFor(width: number, cell: number, gap: number): number {
  if (!(width > 0) || !(cell > 0)) return 1;
  return Math.max(1, Math.floor((width + gap) / (cell + gap)));
}

/** Rows needed for `count` items. */
export function rowsFor(count: number, columns: number): number {
  if (count <= 0) return 0;
  return Math.ceil(count / Math.max(1, columns));
}

/** The row an item sits on. */
export function rowOf(index: number, columns: number): number {
  return Math.floor(index / Math.max(1, columns));
}

/** Rows [first, end) to render: those intersecting the viewport plus `overscan` on each side. */
export interface RowWindow {
  first: number;
  end: number;
}

export function visibleRows(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  totalRows: number,
  overscan: number,
): RowWindow {
  if (totalRows <= 0 || rowHeight <= 0) return { first: 0, end: 0 };
  const top = Math.max(0, scrollTop);
  const firstVisible = Math.min(totalRows - 1, Math.floor(top / rowHeight));
  const lastVisible = Math.min(totalRows - 1, Math.floor((top + Math.max(0, viewportHeight) - 1) / rowHeight));
  return {
    first: Math.max(0, firstVisible - overscan),
    end: Math.min(totalRows, Math.max(firstVisible, lastVisible) + 1 + overscan),
  };
}

/** Items [start, end) on the rows of a window. */
export function itemRange(w: RowWindow, columns: number, count: number): { start: number; end: number } {
  const start = Math.min(count, w.first * columns);
  const end = Math.min(count, w.end * columns);
  return { start, end };
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

/**
 * The scrollTop that brings item `index` fully into view with `pad` px to spare, moving as little
 * as possible (unchanged when it is already in view). Rows start `pad` px below the top of the
 * content; a cell is `cellHeight` px tall (the row height minus the gap).
 */
export function scrollToReveal(
  index: number,
  columns: number,
  rowHeight: number,
  scrollTop: number,
  viewportHeight: number,
  pad = 0,
  cellHeight = rowHeight,
): number {
  if (index < 0) return scrollTop;
  const top = pad + rowOf(index, columns) * rowHeight;
  const bottom = top + cellHeight;
  if (top - pad < scrollTop) return Math.max(0, top - pad);
  if (bottom + pad > scrollTop + viewportHeight) return Math.max(0, bottom + pad - viewportHeight);
  return scrollTop;
}

/** Whether the rendered window is within `thresholdRows` of the last loaded row. */
export function nearEnd(w: RowWindow, totalRows: number, thresholdRows: number): boolean {
  return totalRows === 0 || w.end >= totalRows - thresholdRows;
}

// ---- Sections: a header above each run of cells (the month headers of a listing by date) ----
// The rows of cells then no longer sit on one uniform grid: each section starts a new row under
// its header. With no headers there is one section, and the arithmetic is the plain grid's above.

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

/** A section placed: `top` is its header's y, `rowsTop` its first row's (px, content coordinates). */
export interface Section extends SectionSpec {
  top: number;
  rowsTop: number;
  rows: number;
  /** The visual row (over all sections) its first row is. */
  firstRow: number;
}

export interface Layout {
  sections: Section[];
  columns: number;
  count: number;
  /** Visual rows over all sections. */
  totalRows: number;
  /** Content height, padding included (0 when empty). */
  height: number;
  rowHeight: number;
}

export interface LayoutDims {
  /** Row pitch: cell height plus gap. */
  row: number;
  gap: number;
  /** Padding above the first and below the last row. */
  pad: number;
  /** A header's height. */
  header: number;
}

/** Places `groups` (none: one section without a header) of `count` items in `columns` columns. */
export function layoutSections(groups: readonly SectionSpec[] | null, count: number, columns: number, dims: LayoutDims): Layout {
  const cols = Math.max(1, columns);
  const specs: readonly SectionSpec[] = groups ?? (count > 0 ? [{ start: 0, end: count, label: null }] : []);
  const sections: Section[] = [];
  let y = dims.pad;
  let firstRow = 0;
  for (const g of specs) {
    const n = Math.max(0, Math.min(count, g.end) - g.start);
    if (n <= 0) continue;
    const top = y;
    if (g.label !== null) y += dims.header;
    const rows = Math.ceil(n / cols);
    sections.push({ start: g.start, end: g.start + n, label: g.label, kind: g.kind, top, rowsTop: y, rows, firstRow });
    y += rows * dims.row;
    firstRow += rows;
  }
  const height = sections.length ? y - dims.gap + dims.pad : 0;
  return { sections, columns: cols, count, totalRows: firstRow, height, rowHeight: dims.row };
}

/** The section holding item `index` (binary search), or -1. */
export function sectionOf(layout: Layout, index: number): number {
  const s = layout.sections;
  let lo = 0;
  let hi = s.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (index < s[mid].start) hi = mid - 1;
    else if (index >= s[mid].end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** The section holding visual row `row` (binary search). */
function sectionOfRow(layout: Layout, row: number): number {
  const s = layout.sections;
  let lo = 0;
  let hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s[mid].firstRow <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** One section's rows [first, end) to render, and whether its header is near the view. */
export interface Block {
  section: Section;
  first: number;
  end: number;
  header: boolean;
}

/**
 * What to render: for each section near the viewport, its rows that intersect it plus `overscan`
 * rows on each side, and its header when that is in view or its rows are rendered.
 */
export function visibleBlocks(layout: Layout, scrollTop: number, viewportHeight: number, overscan: number): Block[] {
  const out: Block[] = [];
  const row = layout.rowHeight;
  if (row <= 0) return out;
  const view = Math.max(0, viewportHeight);
  const margin = overscan * row;
  for (const s of layout.sections) {
    const bottom = s.rowsTop + s.rows * row;
    if (bottom < scrollTop - margin) continue;
    if (s.top > scrollTop + view + margin) break;
    const local = scrollTop - s.rowsTop;
    const firstVisible = Math.floor(local / row);
    const lastVisible = Math.floor((local + view - 1) / row);
    const first = Math.min(s.rows, Math.max(0, firstVisible - overscan));
    const end = Math.min(s.rows, Math.max(0, Math.max(firstVisible, lastVisible) + 1 + overscan));
    const headerInView = s.label !== null && s.rowsTop > scrollTop && s.top < scrollTop + view;
    if (end > first || headerInView) out.push({ section: s, first, end, header: s.label !== null });
  }
  return out;
}

/** Items [start, end) of a block's rows. */
export function blockItems(b: Block, columns: number): { start: number; end: number } {
  const cols = Math.max(1, columns);
  return {
    start: Math.min(b.section.end, b.section.start + b.first * cols),
    end: Math.min(b.section.end, b.section.start + b.end * cols),
  };
}

/** Whether the rendered blocks reach within `thresholdRows` of the last row (or nothing is rendered). */
export function blocksNearEnd(layout: Layout, blocks: readonly Block[], thresholdRows: number): boolean {
  if (layout.totalRows === 0 || blocks.length === 0) return true;
  const last = blocks[blocks.length - 1];
  return last.section.firstRow + last.end >= layout.totalRows - thresholdRows;
}

/** The visual row of item `index` and its column. */
function place(layout: Layout, index: number): { row: number; col: number } {
  const s = layout.sections[sectionOf(layout, index)];
  const k = index - s.start;
  return { row: s.firstRow + Math.floor(k / layout.columns), col: k % layout.columns };
}

/** The item at visual row `row`, column `col`, or that row's last item when the row is short. */
function itemAt(layout: Layout, row: number, col: number): number {
  const s = layout.sections[sectionOfRow(layout, row)];
  const start = s.start + (row - s.firstRow) * layout.columns;
  return Math.min(s.end - 1, start + col);
}

/**
 * `moveSelection` over sections: Left/Right step through the items in order, Up/Down and
 * PageUp/PageDown move by visual rows keeping the column (headers are not rows), to the row's
 * last item when it is short. With one section it is exactly `moveSelection`.
 */
export function moveInLayout(layout: Layout, current: number, key: MoveKey, pageRows = 1): number {
  const count = layout.count;
  if (count <= 0 || layout.sections.length === 0) return -1;
  const last = count - 1;
  if (current < 0 || current > last) return key === "End" ? last : 0;
  const { row, col } = place(layout, current);
  const lastRow = layout.totalRows - 1;
  const to = (r: number) => itemAt(layout, Math.max(0, Math.min(lastRow, r)), col);
  const rows = Math.max(1, pageRows);
  switch (key) {
    case "ArrowLeft":
      return Math.max(0, current - 1);
    case "ArrowRight":
      return Math.min(last, current + 1);
    case "ArrowUp":
      return row > 0 ? to(row - 1) : current;
    case "ArrowDown":
      return row < lastRow ? to(row + 1) : current;
    case "PageUp":
      return to(row - rows);
    case "PageDown":
      return row < lastRow ? Math.max(current, to(row + rows)) : current;
    case "Home":
      return 0;
    case "End":
      return last;
  }
}

/**
 * The scrollTop that shows item `index` whole with `pad` px to spare, moving as little as
 * possible; the first row of a section brings its header into view with it.
 */
export function revealInLayout(
  layout: Layout,
  index: number,
  scrollTop: number,
  viewportHeight: number,
  pad: number,
  cellHeight: number,
): number {
  const i = sectionOf(layout, index);
  if (i < 0) return scrollTop;
  const s = layout.sections[i];
  const r = Math.floor((index - s.start) / layout.columns);
  const top = s.rowsTop + r * layout.rowHeight;
  const bottom = top + cellHeight;
  const upTo = r === 0 && s.label !== null ? s.top : top;
  if (upTo - pad < scrollTop) return Math.max(0, upTo - pad);
  if (bottom + pad > scrollTop + viewportHeight) return Math.max(0, bottom + pad - viewportHeight);
  return scrollTop;
}

/** The thumbnail sizes the size control offers (cell side in px), smallest first. */
export const THUMB_SIZES = [
  { id: "s", label: "S", px: 128 },
  { id: "m", label: "M", px: 184 },
  { id: "l", label: "L", px: 256 },
  { id: "xl", label: "XL", px: 340 },
] as const;

export type ThumbSize = (typeof THUMB_SIZES)[number]["id"];

/** The cell side for a size id (the middle one for anything unknown, e.g. a stale setting). */
export function thumbPx(id: string | null | undefined): number {
  return (THUMB_SIZES.find((s) => s.id === id) ?? THUMB_SIZES[1]).px;
}

/**
 * Whether a cell shows the whole picture (letterboxed) rather than its centre cropped to a
 * square: a panorama or a long screenshot cropped square shows only background.
 */
export function showsWhole(width: number | null | undefined, height: number | null | undefined): boolean {
  if (!width || !height || width <= 0 || height <= 0) return false;
  const r = width / height;
  return r > 2 || r < 0.5;
}
