import { describe, expect, it } from "vitest";
import {
  aspectOf,
  breakRows,
  justify,
  MAX_ASPECT,
  MAX_STRETCH,
  MIN_ASPECT,
  moveJustified,
  revealJustified,
  rowOfItem,
  showsWhole,
  visibleWindow,
  type JustifiedLayout,
} from "../src/lib/justify";
import { weakSections } from "../src/lib/grid";

const dims = { width: 1032, rowHeight: 180, gap: 6, pad: 16, header: 40 };
const INNER = 1000;

/** A row's right edge minus its left edge, gaps included. */
function span(l: JustifiedLayout, r: number): number {
  const row = l.rows[r];
  const n = row.end - row.start;
  return row.xs[n - 1] + row.widths[n - 1] - row.xs[0];
}

/** Varied shapes: landscape, portrait, square, wide. */
function shapes(n: number): number[] {
  const cycle = [4 / 3, 3 / 4, 1, 16 / 9, 2 / 3, 3 / 2, 1.2];
  return Array.from({ length: n }, (_, i) => cycle[i % cycle.length]);
}

describe("cell shapes", () => {
  it("keeps a photo's ratio, clamps extremes, and counts unknown sizes as square", () => {
    expect(aspectOf(4000, 3000)).toBeCloseTo(4 / 3);
    expect(aspectOf(3000, 4000)).toBeCloseTo(3 / 4);
    expect(aspectOf(8000, 600)).toBe(MAX_ASPECT);
    expect(aspectOf(1080, 8000)).toBe(MIN_ASPECT);
    expect(aspectOf(null, 600)).toBe(1);
    expect(aspectOf(600, 0)).toBe(1);
  });

  it("shows a clamped picture whole, and fills the cell with any other", () => {
    expect(showsWhole(8000, 600)).toBe(true);
    expect(showsWhole(1080, 8000)).toBe(true);
    expect(showsWhole(600, 3000)).toBe(true);
    expect(showsWhole(4000, 3000)).toBe(false);
    expect(showsWhole(3000, 4000)).toBe(false);
    expect(showsWhole(2400, 1000)).toBe(false);
    expect(showsWhole(null, 600)).toBe(false);
  });
});

describe("justified rows", () => {
  it("full rows fill the width within a pixel, the cells keep their ratios", () => {
    const a = shapes(200);
    const l = justify(null, a, dims);
    expect(l.rows.length).toBeGreaterThan(10);
    for (let r = 0; r < l.rows.length - 1; r++) {
      const row = l.rows[r];
      expect(Math.abs(span(l, r) - INNER)).toBeLessThanOrEqual(1);
      expect(row.xs[0]).toBe(16);
      for (let k = 0; k < row.end - row.start; k++) {
        // Whole pixels, so a cell is within a pixel or two of its photo's shape.
        expect(Math.abs(row.widths[k] - a[row.start + k] * row.height)).toBeLessThanOrEqual(2);
        if (k > 0) expect(row.xs[k]).toBe(row.xs[k - 1] + row.widths[k - 1] + 6);
      }
      // Near the size control's height: never taller than the stretch allows.
      expect(row.height).toBeLessThanOrEqual(Math.round(180 * MAX_STRETCH));
      expect(row.height).toBeGreaterThan(100);
    }
    // Rows follow each other with one gap between, every item in order exactly once.
    let next = 0;
    for (let r = 0; r < l.rows.length; r++) {
      expect(l.rows[r].start).toBe(next);
      next = l.rows[r].end;
      if (r > 0) expect(l.rows[r].y).toBe(l.rows[r - 1].y + l.rows[r - 1].height + 6);
    }
    expect(next).toBe(200);
    const last = l.rows[l.rows.length - 1];
    expect(l.height).toBe(last.y + last.height + 16);
  });

  it("does not stretch the last row", () => {
    // Five 4:3 photos at 180 px are 5 × 240 + gaps = 1224 px: four fit the first row, one is left.
    const l = justify(null, Array(5).fill(4 / 3), dims);
    expect(l.rows.map((r) => [r.start, r.end])).toEqual([
      [0, 4],
      [4, 5],
    ]);
    expect(Math.abs(span(l, 0) - INNER)).toBeLessThanOrEqual(1);
    expect(l.rows[1].height).toBe(180);
    expect(l.rows[1].widths).toEqual([240]);
  });

  it("handles nothing and one photo", () => {
    const none = justify(null, [], dims);
    expect(none.rows).toEqual([]);
    expect(none.height).toBe(0);
    const one = justify(null, [1.5], dims);
    expect(one.rows).toHaveLength(1);
    expect(one.rows[0]).toMatchObject({ start: 0, end: 1, y: 16, height: 180, xs: [16], widths: [270] });
    expect(one.height).toBe(16 + 180 + 16);
  });

  it("a panorama gets a wide cell of its own row; a screenshot a narrow one", () => {
    const a = [4 / 3, aspectOf(8000, 600), 4 / 3, aspectOf(600, 3000), 4 / 3, 4 / 3, 4 / 3, 4 / 3];
    const l = justify(null, a, dims);
    const pano = l.rows[rowOfItem(l, 1)];
    const k = 1 - pano.start;
    expect(pano.widths[k] / pano.height).toBeCloseTo(MAX_ASPECT, 1);
    const tall = l.rows[rowOfItem(l, 3)];
    expect(tall.widths[3 - tall.start] / tall.height).toBeCloseTo(MIN_ASPECT, 1);
    // In a window narrower than the panorama at the target height, it fills a row alone.
    const narrow = justify(null, [MAX_ASPECT, 1], { ...dims, width: 432 });
    expect(narrow.rows.map((r) => [r.start, r.end])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(narrow.rows[0].widths).toEqual([400]);
    expect(narrow.rows[0].height).toBe(133);
  });

  it("lays out again for a new width: the rows still fill it", () => {
    const a = shapes(60);
    for (const width of [500, 800, 1032, 1600, 2400]) {
      const l = justify(null, a, { ...dims, width });
      for (let r = 0; r < l.rows.length - 1; r++) expect(Math.abs(span(l, r) - (width - 32))).toBeLessThanOrEqual(1);
      expect(l.rows[l.rows.length - 1].end).toBe(60);
    }
    // Wider: fewer rows.
    expect(justify(null, a, { ...dims, width: 2400 }).rows.length).toBeLessThan(justify(null, a, { ...dims, width: 800 }).rows.length);
  });

  it("a larger size makes taller rows with fewer photos each", () => {
    const a = shapes(100);
    const s = justify(null, a, { ...dims, rowHeight: 120 });
    const xl = justify(null, a, { ...dims, rowHeight: 300 });
    expect(xl.rows.length).toBeGreaterThan(s.rows.length);
    expect(xl.rows[0].height).toBeGreaterThan(s.rows[0].height);
  });

  it("breakRows leaves a photo for the next row when stretching is nearer the target", () => {
    // Two 1:1 photos at 100 px in 250 px: 200 + gap; a third overflows. With it the row is
    // (250 - 20) / 3 = 76.7 px tall, without it (250 - 10) / 2 = 120 px: 120 is nearer 100.
    expect(breakRows([1, 1, 1], 250, 100, 10)).toEqual([
      [0, 2, 120],
      [2, 3, 100],
    ]);
    // Stretching past MAX_STRETCH is not allowed: it shrinks instead.
    expect(breakRows([1, 1, 1], 300, 100, 10)[0]).toEqual([0, 3, (300 - 20) / 3]);
  });
});

describe("sections", () => {
  it("starts each month on a new row under its header", () => {
    const groups = [
      { start: 0, end: 7, label: "December 2026" },
      { start: 7, end: 9, label: "November 2026" },
    ];
    const l = justify(groups, Array(9).fill(4 / 3), dims);
    expect(l.sections.map((s) => [s.start, s.end, s.firstRow, s.endRow])).toEqual([
      [0, 7, 0, 2],
      [7, 9, 2, 3],
    ]);
    expect(l.sections[0].top).toBe(16);
    expect(l.rows[0].y).toBe(16 + 40);
    expect(l.sections[1].top).toBe(l.rows[1].y + l.rows[1].height + 6);
    expect(l.rows[2].y).toBe(l.sections[1].top + 40);
    expect(l.rows[2].start).toBe(7);
  });

  it("the weaker matches start on a row of their own under the line", () => {
    const l = justify(weakSections(10, 7), Array(10).fill(1), dims);
    const weak = l.sections[1];
    expect(weak.kind).toBe("weak");
    expect(l.rows[weak.firstRow].start).toBe(7);
    expect(l.rows[weak.firstRow - 1].end).toBe(7);
  });
});

describe("virtual window", () => {
  const a = shapes(100_000);
  const l = justify(null, a, dims);

  it("renders only the rows near the view, deep in 100k photos", () => {
    const w = visibleWindow(l, 0, 768, 360);
    expect(w.first).toBe(0);
    expect(w.end).toBeLessThan(10);
    expect(l.rows[w.end - 1].y).toBeLessThan(768 + 360);
    const mid = l.rows[5000].y;
    const deep = visibleWindow(l, mid, 768, 360);
    expect(l.rows[deep.first].y + l.rows[deep.first].height).toBeGreaterThan(mid - 360);
    expect(l.rows[deep.first - 1].y + l.rows[deep.first - 1].height).toBeLessThanOrEqual(mid - 360);
    expect(l.rows[deep.end - 1].y).toBeLessThan(mid + 768 + 360);
    expect(deep.end - deep.first).toBeLessThan(12);
  });

  it("shows a header while its rows or itself are near the view", () => {
    const groups = [
      { start: 0, end: 40, label: "A" },
      { start: 40, end: 80, label: "B" },
    ];
    const m = justify(groups, shapes(80), dims);
    expect(visibleWindow(m, 0, 400, 0).headers.map((s) => s.label)).toEqual(["A"]);
    const b = m.sections[1].top;
    expect(visibleWindow(m, b - 100, 400, 0).headers.map((s) => s.label)).toEqual(["B"]);
    // Scrolled past B's header: its rows are shown, the header is not.
    expect(visibleWindow(m, b + 400, 400, 0).headers).toEqual([]);
  });
});

describe("keyboard over justified rows", () => {
  // Row 0: a wide photo and two narrow ones; row 1: three equal ones; row 2: one.
  const shape = [2, 0.75, 0.75, 1.2, 1.2, 1.2, 2];
  const l = justify(null, shape, { ...dims, width: 432, rowHeight: 100 });

  it("has the rows the test needs", () => {
    expect(l.rows.map((r) => [r.start, r.end])).toEqual([
      [0, 3],
      [3, 6],
      [6, 7],
    ]);
  });

  it("up/down go to the nearest cell by position, not by count", () => {
    // Item 0 (wide, centre at x 127) is over item 3 (centre 81).
    expect(moveJustified(l, 0, "ArrowDown")).toBe(3);
    // Item 2 (rightmost, centre 374) is over item 5 (351), item 1 (285) nearer 5 than 4 (216):
    // the second photo of a row does not go to the second of the next.
    expect(moveJustified(l, 2, "ArrowDown")).toBe(5);
    expect(moveJustified(l, 1, "ArrowDown")).toBe(5);
    expect(moveJustified(l, 5, "ArrowUp")).toBe(2);
    // Item 3 goes up to the wide one above it.
    expect(moveJustified(l, 3, "ArrowUp")).toBe(0);
    // Down into a short last row lands on its only photo; down again stays.
    expect(moveJustified(l, 5, "ArrowDown")).toBe(6);
    expect(moveJustified(l, 6, "ArrowDown")).toBe(6);
    expect(moveJustified(l, 1, "ArrowUp")).toBe(1);
  });

  it("left/right follow the order across rows; page, home and end", () => {
    expect(moveJustified(l, 2, "ArrowRight")).toBe(3);
    expect(moveJustified(l, 3, "ArrowLeft")).toBe(2);
    expect(moveJustified(l, 6, "ArrowRight")).toBe(6);
    expect(moveJustified(l, 0, "ArrowLeft")).toBe(0);
    expect(moveJustified(l, 2, "PageDown", 5)).toBe(6);
    expect(moveJustified(l, 6, "PageUp", 5)).toBe(0);
    expect(moveJustified(l, 4, "Home")).toBe(0);
    expect(moveJustified(l, 4, "End")).toBe(6);
    expect(moveJustified(l, -1, "ArrowDown")).toBe(0);
    expect(moveJustified(l, -1, "End")).toBe(6);
    expect(moveJustified(justify(null, [], dims), -1, "ArrowDown")).toBe(-1);
  });

  it("reveals a row by scrolling as little as possible, a month's header with its first row", () => {
    const m = justify([{ start: 0, end: 7, label: "A" }], shape, { ...dims, width: 432, rowHeight: 100 });
    const r2 = m.rows[2];
    expect(revealJustified(m, 6, 0, 150, 16)).toBe(r2.y + r2.height + 16 - 150);
    expect(revealJustified(m, 0, 500, 150, 16)).toBe(0); // header top is 16: 16 - 16
    expect(revealJustified(m, 3, m.rows[1].y - 16, 1000, 16)).toBe(m.rows[1].y - 16);
  });
});
