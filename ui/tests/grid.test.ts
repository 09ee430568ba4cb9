import { describe, expect, it } from "vitest";
import { moveSelection, weakSections, THUMB_SIZES, thumbPx } from "../src/lib/grid";

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

describe("the weaker matches' line", () => {
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
});

describe("thumbnail sizes and shapes", () => {
  it("offers four sizes, the middle one for anything unknown", () => {
    expect(THUMB_SIZES.map((s) => s.px)).toEqual([120, 180, 240, 300]);
    expect(thumbPx("xl")).toBe(300);
    expect(thumbPx("huge")).toBe(180);
    expect(thumbPx(null)).toBe(180);
  });
});
