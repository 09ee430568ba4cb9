import { describe, expect, it, vi } from "vitest";
import { fireEvent, render } from "@testing-library/svelte";
import ResultGrid from "../src/components/ResultGrid.svelte";
import { hits } from "./helpers";

vi.mock("@tauri-apps/api/core", async () => (await import("./tauri")).coreMock);

function props(n: number, extra: Record<string, unknown> = {}) {
  return {
    hits: hits(n),
    cursor: -1,
    busy: false,
    hasMore: false,
    answer: 1,
    activeTag: null,
    onpick: vi.fn(),
    onopen: vi.fn(),
    oncontext: vi.fn(),
    onshowfewer: vi.fn(),
    onmorelike: vi.fn(),
    ontag: vi.fn(),
    onloadmore: vi.fn(),
    ...extra,
  };
}

// Without layout (jsdom) the grid assumes a 1024 × 768 viewport: rows of 992 px (16 px padding)
// at the default 180 px. The helper's photos are all 640 × 480: four 4:3 cells fill a row when it
// is stretched to 183 px (a fifth would shrink it to 145), so rows are 183 + 6 px apart. Rows
// within 2 × 180 px of the view are rendered: 6 rows = 24 cells at the top.
const ROW = 189;
const rowOf = (cell: HTMLElement) => cell.closest("[data-testid=result-row]");
describe("ResultGrid", () => {
  it("renders only a window of 100k hits, in rank order", () => {
    const { getByTestId, getAllByTestId } = render(ResultGrid, props(100_000));
    const cells = getAllByTestId("result");
    expect(cells).toHaveLength(24);
    expect(cells[0].dataset.path).toBe("/photos/p0.jpg");
    expect(cells[0].dataset.score).toBe("0.9");
    expect(cells.map((c) => Number(c.dataset.index))).toEqual(Array.from({ length: 24 }, (_, i) => i));
    // Each cell keeps the photo's shape: 244 × 183 (4:3, in whole pixels), 6 px apart.
    const slots = cells.slice(0, 4).map((c) => c.parentElement as HTMLElement);
    expect(slots.map((e) => [e.style.left, e.style.width])).toEqual([
      ["16px", "244px"],
      ["266px", "243px"],
      ["515px", "244px"],
      ["765px", "243px"],
    ]);
    expect(rowOf(cells[0])!.getAttribute("style")).toContain("height: 183px");
    const img = cells[0].querySelector("img")!;
    expect(img.getAttribute("src")).toBe(`glimpse://localhost/${encodeURIComponent("/lib/thumbs/0.jpg")}`);
    expect(img.getAttribute("loading")).toBe("lazy");
    // The spacer is as tall as all 25,000 rows, the last one at 180 px (not stretched).
    const spacer = getByTestId("results").firstElementChild as HTMLElement;
    expect(spacer.style.height).toBe(`${24_999 * ROW + 180 + 32}px`);
  });

  it("moves the window when scrolled", async () => {
    const { getByTestId, getAllByTestId } = render(ResultGrid, props(100_000));
    const el = getByTestId("results");
    Object.defineProperty(el, "scrollTop", { configurable: true, writable: true, value: 16 + 10_000 * ROW });
    await fireEvent.scroll(el);
    const cells = getAllByTestId("result");
    expect(cells).toHaveLength(32); // 2 rows above, 5 in view (the 5th in part), 1 below
    expect(cells[0].dataset.index).toBe(String(9_998 * 4));
    expect(cells[0].dataset.path).toBe(`/photos/p${9_998 * 4}.jpg`);
  });

  it("asks for more near the end only while hasMore and not busy", async () => {
    const p = props(20, { hasMore: true });
    const { rerender } = render(ResultGrid, p);
    expect(p.onloadmore).toHaveBeenCalledTimes(1);
    const q = props(20, { hasMore: false });
    render(ResultGrid, q);
    expect(q.onloadmore).not.toHaveBeenCalled();
    const r = props(20, { hasMore: true, busy: true });
    render(ResultGrid, r);
    expect(r.onloadmore).not.toHaveBeenCalled();
    const far = props(100_000, { hasMore: true });
    render(ResultGrid, far);
    expect(far.onloadmore).not.toHaveBeenCalled();
    await rerender({ ...p, busy: true });
  });

  it("marks loading on the container and shows the empty snippet without hits", async () => {
    const { getByTestId, rerender } = render(ResultGrid, props(0, { busy: true }));
    expect(getByTestId("results").dataset.loading).toBe("1");
    await rerender(props(3, { busy: false }));
    expect(getByTestId("results").hasAttribute("data-loading")).toBe(false);
  });

  it("click selects (Ctrl/Cmd toggles, Shift ranges), double click opens, the hover button asks for similar photos, a tag chip filters", async () => {
    const p = props(3);
    p.hits[1].tags = ["dog", "beach"];
    const { getAllByTestId } = render(ResultGrid, p);
    await fireEvent.click(getAllByTestId("result")[2]);
    expect(p.onpick).toHaveBeenLastCalledWith(2, { toggle: false, range: false });
    expect(p.onopen).not.toHaveBeenCalled();
    await fireEvent.click(getAllByTestId("result")[0], { ctrlKey: true });
    expect(p.onpick).toHaveBeenLastCalledWith(0, { toggle: true, range: false });
    await fireEvent.click(getAllByTestId("result")[1], { metaKey: true, shiftKey: true });
    expect(p.onpick).toHaveBeenLastCalledWith(1, { toggle: true, range: true });
    await fireEvent.dblClick(getAllByTestId("result")[2]);
    expect(p.onopen).toHaveBeenCalledWith(2);
    await fireEvent.click(getAllByTestId("result-more-like-this")[1]);
    expect(p.onmorelike).toHaveBeenCalledWith(p.hits[1]);
    const chips = getAllByTestId("tag-chip");
    expect(chips.map((c) => c.textContent)).toEqual(["dog", "beach"]);
    await fireEvent.click(chips[1]);
    expect(p.ontag).toHaveBeenCalledWith("beach");
    expect(p.onopen).toHaveBeenCalledTimes(1);
    expect(p.onpick).toHaveBeenCalledTimes(3);
  });

  it("a right-click asks for Glimpse's menu at the pointer, not the web view's", async () => {
    const p = props(3);
    const { getAllByTestId } = render(ResultGrid, p);
    const ev = new MouseEvent("contextmenu", { bubbles: true, cancelable: true, clientX: 40, clientY: 60 });
    getAllByTestId("result")[1].dispatchEvent(ev);
    expect(ev.defaultPrevented).toBe(true);
    expect(p.oncontext).toHaveBeenCalledWith(1, 40, 60);
  });

  it("marks the selected cells and the keyboard's cell", () => {
    const p = props(5, { cursor: 3, selection: new Set([2, 4]) });
    const { getAllByTestId } = render(ResultGrid, p);
    const cells = getAllByTestId("result");
    expect(cells.map((c) => c.getAttribute("aria-selected"))).toEqual(["false", "true", "false", "true", "false"]);
    expect(cells.map((c) => c.dataset.selected ?? "")).toEqual(["", "1", "", "1", ""]);
    expect(cells[3].classList.contains("focused")).toBe(true);
    expect(getAllByTestId("results")[0].getAttribute("aria-activedescendant")).toBe("result-3");
  });

  it("weaker matches sit under a line with Show fewer; cells say how well they match in words", async () => {
    const p = props(12, { weakFrom: 7, scale: { best: 0.9, floor: 0.8994, base: 0.8994, low: 0.8989 } });
    const { getAllByTestId, getByTestId } = render(ResultGrid, p);
    const line = getByTestId("weak-divider");
    expect(line.textContent).toContain("Weaker matches");
    // Cells 0-6 on two rows (four stretched to 183 px, three at 180: the end of the better
    // matches is not stretched), the line, then the weaker ones on a row of their own.
    expect(line.style.transform).toBe(`translateY(${16 + 183 + 6 + 180 + 6}px)`);
    const cells = getAllByTestId("result");
    expect(rowOf(cells[7])).not.toBe(rowOf(cells[6]));
    expect(rowOf(cells[6])).toBe(rowOf(cells[4]));
    expect(cells[0].querySelector(".relevance")!.textContent!.trim()).toBe("Strong match");
    expect(cells[8].querySelector(".relevance")!.textContent!.trim()).toBe("Weak match");
    // The raw score stays readable by the end-to-end tests.
    expect(cells[8].dataset.score).toBe(String(p.hits[8].score));
    expect(cells[0].textContent).not.toMatch(/0\.9/);
    await fireEvent.click(getByTestId("show-fewer"));
    expect(p.onshowfewer).toHaveBeenCalledTimes(1);
  });

  it("scrolls a selected item into view", async () => {
    const { getByTestId, rerender } = render(ResultGrid, props(100_000));
    const el = getByTestId("results");
    await rerender(props(100_000, { cursor: 4 * 125, selection: new Set([501]) })); // row 125
    expect(el.scrollTop).toBe(16 + 125 * ROW + 183 + 16 - 768);
    const cells = Array.from(el.querySelectorAll<HTMLElement>("[data-testid=result]"));
    expect(cells.some((c) => c.dataset.index === "500" && c.getAttribute("aria-selected") === "true")).toBe(true);
  });

  it("a listing by date shows a header above each month, the cells in order under it", () => {
    const dec = Date.UTC(2026, 11, 10) / 1000;
    const nov = Date.UTC(2026, 10, 10) / 1000;
    const h = hits(9).map((x, i) => ({ ...x, score: null, localDate: i < 7 ? dec : nov, date: i < 7 ? dec : nov }));
    const { getAllByTestId, queryAllByTestId, rerender } = render(ResultGrid, props(9, { hits: h, months: true }));
    const headers = getAllByTestId("month-header");
    expect(headers.map((e) => e.textContent!.trim())).toEqual([
      new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(dec * 1000)),
      new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(nov * 1000)),
    ]);
    // November starts on a row of its own, below its header.
    const cells = getAllByTestId("result");
    expect(cells.map((c) => Number(c.dataset.index))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const rows = cells.map((c) => rowOf(c));
    expect(rows[3]).toBe(rows[0]);
    expect(rows[6]).toBe(rows[4]);
    expect(rows[7]).not.toBe(rows[6]);
    // A search (no months) has no headers.
    return rerender(props(9, { hits: h, months: false })).then(() => expect(queryAllByTestId("month-header")).toHaveLength(0));
  });
});
