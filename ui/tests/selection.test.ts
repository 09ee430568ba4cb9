import { describe, expect, it } from "vitest";
import {
  EMPTY,
  clearSelection,
  extendTo,
  followSelection,
  pick,
  pickForMenu,
  selectAll,
  selectedCount,
  selectedHits,
  single,
  type Selection,
} from "../src/lib/selection";
import { hits } from "./helpers";

const h = hits(10); // ids 1..10 at positions 0..9
const ids = (s: Selection) => [...s.ids].sort((a, b) => a - b);

describe("selection", () => {
  it("a click selects one; Ctrl/Cmd+click toggles and moves the anchor", () => {
    let s = pick(EMPTY, h, 2);
    expect(s).toMatchObject({ focus: 2, anchor: 2 });
    expect(ids(s)).toEqual([3]);
    s = pick(s, h, 5, { toggle: true });
    expect(ids(s)).toEqual([3, 6]);
    expect(s).toMatchObject({ focus: 5, anchor: 5 });
    s = pick(s, h, 2, { toggle: true });
    expect(ids(s)).toEqual([6]);
    // A plain click drops the others.
    expect(ids(pick(s, h, 7))).toEqual([8]);
    // Outside the results nothing changes.
    expect(pick(s, h, 10)).toBe(s);
  });

  it("Shift+click selects the range from the anchor, either way; with Ctrl it adds", () => {
    let s = pick(EMPTY, h, 3);
    s = pick(s, h, 6, { range: true });
    expect(ids(s)).toEqual([4, 5, 6, 7]);
    expect(s).toMatchObject({ focus: 6, anchor: 3 });
    // The range is re-drawn from the same anchor, not grown.
    s = pick(s, h, 1, { range: true });
    expect(ids(s)).toEqual([2, 3, 4]);
    // Ctrl+Shift adds a second range.
    s = pick(pick(s, h, 8, { toggle: true }), h, 9, { range: true, toggle: true });
    expect(ids(s)).toEqual([2, 3, 4, 9, 10]);
    // No anchor yet: the range is the one clicked.
    expect(ids(pick(EMPTY, h, 4, { range: true }))).toEqual([5]);
  });

  it("Shift+arrows extend from the anchor; Ctrl+A takes every loaded result; Esc clears but keeps the place", () => {
    let s = single(h, 4);
    s = extendTo(s, h, 5);
    s = extendTo(s, h, 6);
    expect(ids(s)).toEqual([5, 6, 7]);
    s = extendTo(s, h, 3);
    expect(ids(s)).toEqual([4, 5]);
    s = selectAll(s, h);
    expect(selectedCount(s, h)).toBe(10);
    expect(s.focus).toBe(3);
    expect(selectAll(EMPTY, h).focus).toBe(0);
    expect(selectAll(EMPTY, [])).toBe(EMPTY);
    s = clearSelection(s);
    expect(s.ids.size).toBe(0);
    expect(s).toMatchObject({ focus: 3, anchor: 3 });
  });

  it("a right-click inside the selection keeps it; elsewhere it selects that one", () => {
    const s = pick(pick(EMPTY, h, 1), h, 3, { range: true });
    const inSel = pickForMenu(s, h, 2);
    expect(ids(inSel)).toEqual([2, 3, 4]);
    expect(inSel.focus).toBe(2);
    expect(ids(pickForMenu(s, h, 7))).toEqual([8]);
  });

  it("lists the selected photos in result order", () => {
    const s = pick(pick(single(h, 6), h, 1, { toggle: true }), h, 4, { toggle: true });
    expect(selectedHits(s, h).map((x) => x.id)).toEqual([2, 5, 7]);
    expect(selectedHits(EMPTY, h)).toEqual([]);
    expect(selectedCount(s, h.slice(0, 5))).toBe(2);
  });

  it("follows the results by id when they refresh", () => {
    let s = pick(pick(EMPTY, h, 2), h, 5, { range: true }); // ids 3..6, anchor 2, focus 5
    // Photos 1 and 2 (ids) were removed; the rest moved up two places.
    const after = h.slice(2);
    s = followSelection(s, h, after);
    expect(ids(s)).toEqual([3, 4, 5, 6]);
    expect(s).toMatchObject({ focus: 3, anchor: 0 });
    // The focused photo (id 6) and another selected one are gone: the rest stay.
    const later = after.filter((x) => x.id !== 6 && x.id !== 4);
    s = followSelection(s, after, later);
    expect(ids(s)).toEqual([3, 5]);
    expect(later[s.focus].id).toBe(7); // its neighbour keeps the keyboard's place
  });

  it("a single selection whose photo is gone moves to its neighbour", () => {
    const s = single(h, 4);
    const after = h.filter((x) => x.id !== 5);
    const f = followSelection(s, h, after);
    expect(f.focus).toBe(4);
    expect(ids(f)).toEqual([6]);
    expect(followSelection(s, h, []).focus).toBe(-1);
    expect(followSelection(s, h, []).ids.size).toBe(0);
  });
});
