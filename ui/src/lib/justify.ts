// Justified rows for the results (as Flickr and Google Photos lay out photos): each row is as
// tall as the size control asks, or a little less or more, so that its photos, at their own
// aspect ratios, fill the width exactly. The last row of a section is not stretched. Extreme
// shapes (an 8000 × 600 panorama, a 1080 × 8000 screenshot) get a clamped ratio and are shown
// whole inside their cell (letterboxed) instead of as a sliver; unknown sizes count as square.
// A section (a month, the weaker matches) starts a new row under its header. Pure functions, so
// the rows, the virtual window and the keyboard's moves are unit-tested without a browser.

import type { MoveKey, SectionSpec } from "./grid";

/** The widest cell, as width / height: a panorama is letterboxed in a cell this wide. */
export const MAX_ASPECT = 3;
/** The narrowest cell: a long screenshot is letterboxed in a cell this narrow. */
export const MIN_ASPECT = 0.4;
/**
 * How much taller than the target a row may be stretched to fill the width (otherwise it takes
 * one more photo and gets shorter). Previews are made for the tallest row (thumbs.rs).
 */
export const MAX_STRETCH = 1.2;

/** The cell's width / height for a photo of `width` × `height` px: clamped, 1 when unknown. */
export function aspectOf(width: number | null | undefined, height: number | null | undefined): number {
  if (!width || !height || !(width > 0) || !(height > 0)) return 1;
  return Math.min(MAX_ASPECT, Math.max(MIN_ASPECT, width / height));
}

/**
 * Whether a cell shows the whole picture (letterboxed on a neutral background) rather than
 * filling it: its shape was clamped, so filling would crop a panorama to a patch of sky.
 */
export function showsWhole(width: number | null | undefined, height: number | null | undefined): boolean {
  if (!width || !height || !(width > 0) || !(height > 0)) return false;
  const r = width / height;
  return r > MAX_ASPECT || r < MIN_ASPECT;
}

/** One row: items [start, end), `y` its top and `height` its cells' height (px). */
export interface Row {
  start: number;
  end: number;
  y: number;
  height: number;
  /** Each cell's left edge and width, in item order (px, content coordinates). */
  xs: number[];
  widths: number[];
  /** The section it belongs to. */
  section: number;
}

/** A section placed: `top` is its header's y (px, content coordinates). */
export interface Section extends SectionSpec {
  top: number;
  /** Its rows [firstRow, endRow) in `JustifiedLayout.rows`. */
  firstRow: number;
  endRow: number;
}

export interface JustifiedLayout {
  sections: Section[];
  rows: Row[];
  count: number;
  /** Content height, padding included (0 when empty). */
  height: number;
  /** The row height asked for (the size control's). */
  target: number;
}

export interface JustifyDims {
  /** The container's inner width (px). */
  width: number;
  /** The size control's row height (px). */
  rowHeight: number;
  /** Between cells and between rows. */
  gap: number;
  /** Around the rows (left, right, above the first and below the last). */
  pad: number;
  /** A header's height. */
  header: number;
}

/**
 * Splits `aspects` (cell width / height, already clamped) into rows of `width` px: photos are
 * added at the target height until the row would overflow; the row then takes the last photo
 * (and shrinks) or leaves it for the next row (and stretches, at most MAX_STRETCH), whichever
 * is nearer the target. Returns [start, end, height] per row (heights unrounded); the last row
 * keeps the target height and is not stretched.
 */
export function breakRows(aspects: readonly number[], width: number, target: number, gap: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  const w = Math.max(1, width);
  const fit = (sum: number, n: number) => Math.max(1, w - gap * (n - 1)) / sum;
  let start = 0;
  let sum = 0;
  for (let i = 0; i < aspects.length; i++) {
    const a = aspects[i];
    const n = i - start + 1;
    if (n > 1 && (sum + a) * target + gap * (n - 1) > w) {
      // With photo i the row is too wide at the target: shrink it to fit, or leave i out and
      // stretch the rest, whichever lands nearer the target height.
      const withIt = fit(sum + a, n);
      const without = fit(sum, n - 1);
      if (without <= target * MAX_STRETCH && without - target < target - withIt) {
        out.push([start, i, without]);
        start = i;
        sum = a;
        if (a * target > w) {
          out.push([i, i + 1, fit(a, 1)]);
          start = i + 1;
          sum = 0;
        }
        continue;
      }
      out.push([start, i + 1, withIt]);
      start = i + 1;
      sum = 0;
      continue;
    }
    sum += a;
    if (n === 1 && a * target > w) {
      // One photo wider than the row on its own (a clamped panorama in a narrow window).
      out.push([start, i + 1, fit(a, 1)]);
      start = i + 1;
      sum = 0;
    }
  }
  if (start < aspects.length) out.push([start, aspects.length, target]);
  return out;
}

/**
 * Places `groups` (null: one section without a header) of photos with cell ratios `aspects` in
 * justified rows. Row heights and cell edges are whole pixels; a full row's cells and gaps sum
 * to the width exactly.
 */
export function justify(groups: readonly SectionSpec[] | null, aspects: readonly number[], dims: JustifyDims): JustifiedLayout {
  const count = aspects.length;
  const specs: readonly SectionSpec[] = groups ?? (count > 0 ? [{ start: 0, end: count, label: null }] : []);
  const inner = Math.max(1, Math.floor(dims.width - 2 * dims.pad));
  const target = Math.max(1, dims.rowHeight);
  const sections: Section[] = [];
  const rows: Row[] = [];
  let y = dims.pad;
  for (const g of specs) {
    const end = Math.min(count, g.end);
    if (end <= g.start) continue;
    const s: Section = { ...g, end, top: y, firstRow: rows.length, endRow: rows.length };
    if (g.label !== null) y += dims.header;
    const section = sections.length;
    for (const [a, b, h] of breakRows(aspects.slice(g.start, end), inner, target, dims.gap)) {
      const height = Math.round(h);
      const xs: number[] = [];
      const widths: number[] = [];
      const last = b === end - g.start && h === target;
      // Edges from the running sum of ratios, rounded, so rounding never adds up across a row.
      const total = aspects.slice(g.start + a, g.start + b).reduce((x, r) => x + r, 0);
      const room = last ? total * h : inner - dims.gap * (b - a - 1);
      let run = 0;
      for (let k = a; k < b; k++) {
        const left = Math.round((run / total) * room);
        run += aspects[g.start + k];
        const right = Math.round((run / total) * room);
        xs.push(dims.pad + left + (k - a) * dims.gap);
        widths.push(Math.max(1, right - left));
      }
      rows.push({ start: g.start + a, end: g.start + b, y, height, xs, widths, section });
      y += height + dims.gap;
    }
    s.endRow = rows.length;
    sections.push(s);
  }
  const height = sections.length ? y - dims.gap + dims.pad : 0;
  return { sections, rows, count, height, target };
}

/** The row holding item `index` (binary search), or -1. */
export function rowOfItem(layout: JustifiedLayout, index: number): number {
  const r = layout.rows;
  let lo = 0;
  let hi = r.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (index < r[mid].start) hi = mid - 1;
    else if (index >= r[mid].end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** The first row whose bottom is below `y` (rows.length when none). */
function firstRowBelow(layout: JustifiedLayout, y: number): number {
  const r = layout.rows;
  let lo = 0;
  let hi = r.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r[mid].y + r[mid].height <= y) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What to render: rows [first, end) and the sections whose header is near the view. */
export interface Window {
  first: number;
  end: number;
  headers: Section[];
}

/** The rows intersecting the viewport plus `overscan` px above and below, and their headers. */
export function visibleWindow(layout: JustifiedLayout, scrollTop: number, viewportHeight: number, overscan: number): Window {
  const top = scrollTop - overscan;
  const bottom = scrollTop + Math.max(0, viewportHeight) + overscan;
  const first = firstRowBelow(layout, top);
  let end = first;
  while (end < layout.rows.length && layout.rows[end].y < bottom) end++;
  const headers = layout.sections.filter((s) => {
    if (s.label === null) return false;
    const firstRowTop = s.endRow > s.firstRow ? layout.rows[s.firstRow].y : s.top;
    return firstRowTop > top && s.top < bottom;
  });
  return { first, end, headers };
}

/** The item in row `r` whose centre is nearest `x`. */
function nearestIn(layout: JustifiedLayout, r: number, x: number): number {
  const row = layout.rows[r];
  let best = row.start;
  let dist = Infinity;
  for (let k = 0; k < row.end - row.start; k++) {
    const d = Math.abs(row.xs[k] + row.widths[k] / 2 - x);
    if (d < dist) {
      dist = d;
      best = row.start + k;
    }
  }
  return best;
}

/**
 * The selection after a key: Left/Right step through the photos in order (across rows), Up/Down
 * go to the photo in the row above/below whose centre is nearest this one's (headers are not
 * rows), PageUp/PageDown move `pageRows` rows the same way, Home/End to the first/last. With no
 * selection yet (-1) any move selects the first (End: the last); -1 when there is nothing.
 */
export function moveJustified(layout: JustifiedLayout, current: number, key: MoveKey, pageRows = 1): number {
  const count = layout.count;
  if (count <= 0 || layout.rows.length === 0) return -1;
  const last = count - 1;
  if (current < 0 || current > last) return key === "End" ? last : 0;
  const r = rowOfItem(layout, current);
  if (r < 0) return current;
  const row = layout.rows[r];
  const k = current - row.start;
  const centre = row.xs[k] + row.widths[k] / 2;
  const lastRow = layout.rows.length - 1;
  const to = (target: number) => nearestIn(layout, Math.max(0, Math.min(lastRow, target)), centre);
  const rows = Math.max(1, pageRows);
  switch (key) {
    case "ArrowLeft":
      return Math.max(0, current - 1);
    case "ArrowRight":
      return Math.min(last, current + 1);
    case "ArrowUp":
      return r > 0 ? to(r - 1) : current;
    case "ArrowDown":
      return r < lastRow ? to(r + 1) : current;
    case "PageUp":
      return r > 0 ? to(r - rows) : current;
    case "PageDown":
      return r < lastRow ? to(r + rows) : current;
    case "Home":
      return 0;
    case "End":
      return last;
  }
}

/**
 * The scrollTop that shows item `index` whole with `pad` px to spare, moving as little as
 * possible; a section's first row brings its header into view with it.
 */
export function revealJustified(layout: JustifiedLayout, index: number, scrollTop: number, viewportHeight: number, pad: number): number {
  const r = rowOfItem(layout, index);
  if (r < 0) return scrollTop;
  const row = layout.rows[r];
  const s = layout.sections[row.section];
  const upTo = r === s.firstRow && s.label !== null ? s.top : row.y;
  const bottom = row.y + row.height;
  if (upTo - pad < scrollTop) return Math.max(0, upTo - pad);
  if (bottom + pad > scrollTop + viewportHeight) return Math.max(0, bottom + pad - viewportHeight);
  return scrollTop;
}
