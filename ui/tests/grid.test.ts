import { describe, expect, it } from "vitest";
import { columnsFor, itemRange, moveSelection, nearEnd, rowOf, rowsFor, scrollToReveal, visibleRows } from "../src/lib/grid";

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
