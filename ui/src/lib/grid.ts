// Virtual-grid arithmetic for the results: with 100k hits only the rows in view (plus a little
// overscan) are in the DOM. Cells have a fixed size; the column count follows the width.
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
