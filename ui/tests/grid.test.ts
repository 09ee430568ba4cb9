import { describe, expect, it } from "vitest";
import {
  blockItems,
  blocksNearEnd,
  columnsFor,
  itemRange,
  layoutSections,
  moveInLayout,
  moveSelection,
  nearEnd,
  revealInLayout,
  rowOf,
  rowsFor,
  scrollToReveal,
  sectionOf,
  visibleBlocks,
  visibleRows,
  weakSections,
  THUMB_SIZES,
  thumbPx,
  showsWhole,
} from "../src/lib/grid";

describe("columns and rows", () => {
  it("fits fixed cells into the width", () => {
    expect(columnsFor(1000, 184, 10)).toBe(5); // 5*184 + 4*10 = 960
    expect(columnsFor(959, 184, 10)).toBe(4);
    expect(columnsFor(960, 184, 10)).toBe(5);
    expect(columnsFor(100, 184, 10)).toBe(1);
    expect(columnsFor(0, 184, 10)).toBe(1);
    expect(columnsFor(Number.NaN, 184, 10)).toBe(1);
  });
  it("counts rows", () => {
    expect(rowsFor(0, 5)).toBe(0);
    expect(rowsFor(1, 5)).toBe(1);
    expect(rowsFor(10, 5)).toBe(2);
    expect(rowsFor(11, 5)).toBe(3);
    expect(rowsFor(100_000, 7)).toBe(14286);
    expect(rowOf(0, 7)).toBe(0);
    expect(rowOf(6, 7)).toBe(0);
    expect(rowOf(7, 7)).toBe(1);
    expect(rowOf(99_999, 7)).toBe(14285);
  });
});

describe("visible window at 100k results", () => {
  const count = 100_000;
  const cols = 6;
  const rowH = 194;
  const rows = rowsFor(count, cols); // 16667

  it("renders only the rows in view plus overscan", () => {
    const w = visibleRows(0, 800, rowH, rows, 2);
    expect(w).toEqual({ first: 0, end: 7 }); // rows 0..4 visible (800/194 → 4.1), +2
    const r = itemRange(w, cols, count);
    expect(r).toEqual({ start: 0, end: 42 });
  });

  it("follows the scroll position deep into the list", () => {
    const top = 10_000 * rowH + 50; // in row 10000
    const w = visibleRows(top, 800, rowH, rows, 2);
    expect(w.first).toBe(9998);
    expect(w.end).toBe(10007);
    const r = itemRange(w, cols, count);
    expect(r.start).toBe(9998 * cols);
    expect(r.end - r.start).toBe(9 * cols);
  });

  it("clamps at the end", () => {
    const w = visibleRows(rows * rowH + 5000, 800, rowH, rows, 2);
    expect(w.end).toBe(rows);
    expect(w.first).toBeGreaterThanOrEqual(rows - 3);
    const r = itemRange(w, cols, count);
    expect(r.end).toBe(count);
    expect(nearEnd(w, rows, 4)).toBe(true);
    expect(nearEnd(visibleRows(0, 800, rowH, rows, 2), rows, 4)).toBe(false);
  });

  it("handles nothing to show", () => {
    expect(visibleRows(0, 800, rowH, 0, 2)).toEqual({ first: 0, end: 0 });
    expect(itemRange({ first: 0, end: 0 }, cols, 0)).toEqual({ start: 0, end: 0 });
    expect(visibleRows(-100, 800, rowH, rows, 0).first).toBe(0);
  });
});

describe("keyboard moves", () => {
  // 4 columns, 10 items: rows [0-3] [4-7] [8-9]
  const c = 4;
  const n = 10;
  it("selects the first item from no selection", () => {
    expect(moveSelection(-1, "ArrowRight", c, n)).toBe(0);
    expect(moveSelection(-1, "ArrowDown", c, n)).toBe(0);
    expect(moveSelection(-1, "End", c, n)).toBe(9);
    expect(moveSelection(-1, "ArrowDown", c, 0)).toBe(-1);
  });
  it("left/right wrap across rows and clamp at the ends", () => {
    expect(moveSelection(3, "ArrowRight", c, n)).toBe(4);
    expect(moveSelection(4, "ArrowLeft", c, n)).toBe(3);
    expect(moveSelection(0, "ArrowLeft", c, n)).toBe(0);
    expect(moveSelection(9, "ArrowRight", c, n)).toBe(9);
  });
  it("up/down keep the column, clamp, and land on the last item under a short row", () => {
    expect(moveSelection(1, "ArrowDown", c, n)).toBe(5);
    expect(moveSelection(5, "ArrowDown", c, n)).toBe(9);
    expect(moveSelection(6, "ArrowDown", c, n)).toBe(9); // no item under column 2 of row 2
    expect(moveSelection(9, "ArrowDown", c, n)).toBe(9);
    expect(moveSelection(9, "ArrowUp", c, n)).toBe(5);
    expect(moveSelection(2, "ArrowUp", c, n)).toBe(2);
  });
  it("page and home/end", () => {
    expect(moveSelection(1, "PageDown", c, n, 2)).toBe(9);
    expect(moveSelection(2, "PageDown", c, n, 2)).toBe(9); // row 2 is short: last item
    expect(moveSelection(9, "PageDown", c, n, 2)).toBe(9);
    expect(moveSelection(0, "PageDown", c, n, 2)).toBe(8);
    expect(moveSelection(9, "PageUp", c, n, 5)).toBe(1);
    expect(moveSelection(5, "Home", c, n)).toBe(0);
    expect(moveSelection(5, "End", c, n)).toBe(9);
    expect(moveSelection(50_000, "PageDown", 6, 100_000, 4)).toBe(50_024);
  });
});

describe("scrollToReveal", () => {
  const rowH = 100;
  it("scrolls down just enough, up to the row, and not at all when visible", () => {
    // viewport 300 tall at scrollTop 0; item 10 at 2 columns is row 5 → [500, 600]
    expect(scrollToReveal(10, 2, rowH, 0, 300)).toBe(300);
    expect(scrollToReveal(0, 2, rowH, 450, 300)).toBe(0);
    expect(scrollToReveal(3, 2, rowH, 50, 300)).toBe(50); // row 1 [100,200] visible in [50,350]
    expect(scrollToReveal(-1, 2, rowH, 77, 300)).toBe(77);
  });
  it("keeps a padding around the cell", () => {
    // rows start 16 px down; cells 90 tall; item on row 5 → [516, 606]; bottom + pad = 622
    expect(scrollToReveal(10, 2, rowH, 0, 300, 16, 90)).toBe(322);
    expect(scrollToReveal(0, 2, rowH, 200, 300, 16, 90)).toBe(0);
  });
});

describe("sections (month headers)", () => {
  const dims = { row: 194, gap: 10, pad: 16, header: 40 };

  it("without headers it is the plain grid", () => {
    const l = layoutSections(null, 100_000, 5, dims);
    expect(l.sections).toHaveLength(1);
    expect(l.totalRows).toBe(20_000);
    expect(l.height).toBe(20_000 * 194 - 10 + 32);
    const b = visibleBlocks(l, 0, 768, 2);
    expect(b).toHaveLength(1);
    expect(blockItems(b[0], 5)).toEqual({ start: 0, end: 30 });
    const far = visibleBlocks(l, 16 + 10_000 * 194, 768, 2);
    expect(blockItems(far[0], 5)).toEqual({ start: 9_998 * 5, end: 10_006 * 5 });
    expect(layoutSections(null, 0, 5, dims).height).toBe(0);
  });

  it("moves exactly like moveSelection with one section", () => {
    const keys = ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"] as const;
    for (const count of [1, 7, 23, 25]) {
      for (const cols of [1, 4, 5]) {
        const l = layoutSections(null, count, cols, dims);
        for (let cur = -1; cur < count; cur++) {
          for (const key of keys) {
            for (const page of [1, 3]) {
              expect(moveInLayout(l, cur, key, page), `${count}/${cols}/${cur}/${key}/${page}`).toBe(
                moveSelection(cur, key, cols, count, page),
              );
            }
          }
        }
      }
    }
  });

  // Three months: 7 photos (rows of 5 and 2), 3 photos, 6 photos (5 and 1).
  const groups = [
    { start: 0, end: 7, label: "December 2026" },
    { start: 7, end: 10, label: "November 2026" },
    { start: 10, end: 16, label: "October 2026" },
  ];
  const l = layoutSections(groups, 16, 5, dims);

  it("puts a header above each month and starts its photos on a new row", () => {
    expect(l.sections.map((s) => [s.top, s.rowsTop, s.rows, s.firstRow])).toEqual([
      [16, 56, 2, 0],
      [56 + 2 * 194, 56 + 2 * 194 + 40, 1, 2],
      [56 + 3 * 194 + 40, 56 + 3 * 194 + 80, 2, 3],
    ]);
    expect(l.totalRows).toBe(5);
    expect(l.height).toBe(56 + 5 * 194 + 80 - 10 + 16);
    const b = visibleBlocks(l, 0, 2000, 2);
    expect(b.map((x) => blockItems(x, 5))).toEqual([
      { start: 0, end: 7 },
      { start: 7, end: 10 },
      { start: 10, end: 16 },
    ]);
    expect(b.every((x) => x.header)).toBe(true);
    expect(sectionOf(l, 0)).toBe(0);
    expect(sectionOf(l, 9)).toBe(1);
    expect(sectionOf(l, 15)).toBe(2);
    expect(sectionOf(l, 16)).toBe(-1);
  });

  it("renders only the sections near the view", () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ start: i * 20, end: i * 20 + 20, label: `m${i}` }));
    const big = layoutSections(many, 20_000, 5, dims);
    const at = big.sections[500].top;
    const b = visibleBlocks(big, at, 768, 2);
    expect(b.length).toBeGreaterThan(0);
    expect(b.length).toBeLessThan(6);
    expect(b.some((x) => x.section.label === "m500")).toBe(true);
    expect(blocksNearEnd(big, b, 6)).toBe(false);
    expect(blocksNearEnd(big, visibleBlocks(big, big.height - 768, 768, 2), 6)).toBe(true);
  });

  it("keyboard moves cross headers by rows, keeping the column", () => {
    // Down from the short last row of December (item 6, column 1) goes to November, column 1.
    expect(moveInLayout(l, 6, "ArrowDown")).toBe(8);
    // Down from column 4 of December's first row: the row below is short, its last item.
    expect(moveInLayout(l, 4, "ArrowDown")).toBe(6);
    // Down from November (3 items) at column 2 to October's first row, column 2.
    expect(moveInLayout(l, 9, "ArrowDown")).toBe(12);
    // Up from October's first row, column 4: November's row is short, its last item.
    expect(moveInLayout(l, 14, "ArrowUp")).toBe(9);
    expect(moveInLayout(l, 7, "ArrowUp")).toBe(5);
    expect(moveInLayout(l, 0, "ArrowUp")).toBe(0);
    expect(moveInLayout(l, 15, "ArrowDown")).toBe(15);
    // Left/Right step in order across the headers.
    expect(moveInLayout(l, 6, "ArrowRight")).toBe(7);
    expect(moveInLayout(l, 7, "ArrowLeft")).toBe(6);
    // Pages are visual rows.
    expect(moveInLayout(l, 1, "PageDown", 3)).toBe(11);
    expect(moveInLayout(l, 11, "PageUp", 3)).toBe(1);
    expect(moveInLayout(l, 11, "PageDown", 3)).toBe(15);
    expect(moveInLayout(l, -1, "ArrowDown")).toBe(0);
    expect(moveInLayout(l, -1, "End")).toBe(15);
  });

  it("reveals an item, its header with it on a month's first row", () => {
    const second = l.sections[1];
    // Scrolled below November: going up to its first row shows its header.
    expect(revealInLayout(l, 8, second.rowsTop + 500, 400, 16, 184)).toBe(second.top - 16);
    // Already in view: no move.
    expect(revealInLayout(l, 8, second.top - 16, 400, 16, 184)).toBe(second.top - 16);
    // Below the view: just enough to show it whole.
    const third = l.sections[2];
    expect(revealInLayout(l, 15, 0, 400, 16, 184)).toBe(third.rowsTop + 194 + 184 + 16 - 400);
  });
});

describe("the weaker matches' line", () => {
  const dims = { row: 194, gap: 10, pad: 16, header: 40 };

  it("splits a search where the weaker matches start", () => {
    expect(weakSections(10, -1)).toBeNull();
    expect(weakSections(10, 10)).toBeNull();
    expect(weakSections(10, 7)).toEqual([
      { start: 0, end: 7, label: null },
      { start: 7, end: 10, label: "Weaker matches", kind: "weak" },
    ]);
    // Nothing better: the line heads the results.
    expect(weakSections(4, 0)).toEqual([{ start: 0, end: 4, label: "Weaker matches", kind: "weak" }]);
  });

  it("puts the weaker matches on rows of their own under the line, walkable by keyboard", () => {
    const l = layoutSections(weakSections(10, 7), 10, 5, dims);
    expect(l.sections.map((x) => [x.start, x.end, x.kind, x.rows])).toEqual([
      [0, 7, undefined, 2],
      [7, 10, "weak", 1],
    ]);
    expect(l.sections[1].top).toBe(16 + 2 * 194);
    expect(l.sections[1].rowsTop).toBe(16 + 2 * 194 + 40);
    // Down from the second row's first cell goes to the first weaker match, over the line.
    expect(moveInLayout(l, 5, "ArrowDown")).toBe(7);
    expect(moveInLayout(l, 7, "ArrowUp")).toBe(5);
  });
});

describe("thumbnail sizes and shapes", () => {
  it("offers four sizes, the middle one for anything unknown", () => {
    expect(THUMB_SIZES.map((s) => s.px)).toEqual([128, 184, 256, 340]);
    expect(thumbPx("xl")).toBe(340);
    expect(thumbPx("huge")).toBe(184);
    expect(thumbPx(null)).toBe(184);
  });
  it("shows a panorama or a long screenshot whole, a photo cropped square", () => {
    expect(showsWhole(8000, 600)).toBe(true);
    expect(showsWhole(1080, 8000)).toBe(true);
    expect(showsWhole(4000, 3000)).toBe(false);
    expect(showsWhole(3000, 4000)).toBe(false);
    expect(showsWhole(null, 600)).toBe(false);
  });
});
