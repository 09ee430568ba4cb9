// Which results are selected, for acting on several photos at once (copy their paths), and
// where the keyboard is in the grid. The set holds photo ids, not positions, so it follows the
// results when they refresh (photos indexed or removed): a photo that is gone just leaves it.
// `focus` is the cell the keyboard is on (Enter opens it, arrows move from it, the context menu
// key opens its menu) and `anchor` is where a Shift range starts, both positions in the results.
// Pure functions over immutable values, so every rule is unit-tested without a browser; the
// window (App.svelte) holds one `Selection` and replaces it after each click or key.
import type { Hit } from "./api";
import { followIndex } from "./search";

export interface Selection {
  /** The keyboard's cell (-1: none). */
  focus: number;
  /** Where a Shift+click or Shift+arrow range starts (-1: at the focus). */
  anchor: number;
  /** The selected photos, by id. */
  ids: ReadonlySet<number>;
}

/** How a click or key was modified: Ctrl/Cmd toggles one, Shift takes the range from the anchor. */
export interface PickMods {
  toggle?: boolean;
  range?: boolean;
}

export const EMPTY: Selection = { focus: -1, anchor: -1, ids: new Set() };

/** Whether `index` is a result. */
function inside(index: number, hits: readonly Hit[]): boolean {
  return index >= 0 && index < hits.length;
}

/** Only the result at `index`: a plain click, an arrow key. */
export function single(hits: readonly Hit[], index: number): Selection {
  if (!inside(index, hits)) return EMPTY;
  return { focus: index, anchor: index, ids: new Set([hits[index].id]) };
}

/** The ids of results [from, to] (either order). */
function rangeIds(hits: readonly Hit[], from: number, to: number): number[] {
  const lo = Math.max(0, Math.min(from, to));
  const hi = Math.min(hits.length - 1, Math.max(from, to));
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(hits[i].id);
  return out;
}

/**
 * A click on result `index`: alone, it selects just that one; with Ctrl/Cmd it adds or removes
 * that one (and the next Shift range starts there); with Shift it selects the range from the
 * anchor to it (with Ctrl/Cmd too, the range is added to what was selected).
 */
export function pick(sel: Selection, hits: readonly Hit[], index: number, mods: PickMods = {}): Selection {
  if (!inside(index, hits)) return sel;
  if (mods.range) {
    const anchor = inside(sel.anchor, hits) ? sel.anchor : inside(sel.focus, hits) ? sel.focus : index;
    const ids = new Set(mods.toggle ? sel.ids : []);
    for (const id of rangeIds(hits, anchor, index)) ids.add(id);
    return { focus: index, anchor, ids };
  }
  if (mods.toggle) {
    const ids = new Set(sel.ids);
    const id = hits[index].id;
    if (ids.has(id)) ids.delete(id);
    else ids.add(id);
    return { focus: index, anchor: index, ids };
  }
  return single(hits, index);
}

/** Shift+arrow: the focus moves to `index` and the range from the anchor is selected. */
export function extendTo(sel: Selection, hits: readonly Hit[], index: number): Selection {
  return pick(sel, hits, index, { range: true });
}

/** Ctrl/Cmd+A: every loaded result; the focus stays (on the first when there was none). */
export function selectAll(sel: Selection, hits: readonly Hit[]): Selection {
  if (hits.length === 0) return EMPTY;
  const focus = inside(sel.focus, hits) ? sel.focus : 0;
  return { focus, anchor: inside(sel.anchor, hits) ? sel.anchor : focus, ids: new Set(hits.map((h) => h.id)) };
}

/** Esc: nothing selected; the keyboard stays where it was, so arrows go on from there. */
export function clearSelection(sel: Selection): Selection {
  return { focus: sel.focus, anchor: sel.focus, ids: new Set() };
}

/**
 * A right-click on result `index`: one that is part of the selection keeps it (the menu then
 * offers to act on all of them); any other is selected alone, as file managers do.
 */
export function pickForMenu(sel: Selection, hits: readonly Hit[], index: number): Selection {
  if (!inside(index, hits)) return sel;
  if (sel.ids.has(hits[index].id)) return { ...sel, focus: index };
  return single(hits, index);
}

/** The selected results, in result order (what "Copy paths" copies, one per line). */
export function selectedHits(sel: Selection, hits: readonly Hit[]): Hit[] {
  if (sel.ids.size === 0) return [];
  return hits.filter((h) => sel.ids.has(h.id));
}

/** How many of the loaded results are selected. */
export function selectedCount(sel: Selection, hits: readonly Hit[]): number {
  if (sel.ids.size === 0) return 0;
  let n = 0;
  for (const h of hits) if (sel.ids.has(h.id)) n++;
  return n;
}

/**
 * The selection after the results were refreshed quietly (`before` → `after`): the photos that
 * are still there stay selected, the focus and anchor stay on their photos (the focus on its
 * neighbour when its photo is gone, so a keyboard user keeps their place). When every selected
 * photo is gone but the focus found a neighbour, that neighbour is selected, as a single
 * selection always was.
 */
export function followSelection(sel: Selection, before: readonly Hit[], after: readonly Hit[]): Selection {
  const focus = followIndex(sel.focus, before, after, true);
  const anchorAt = followIndex(sel.anchor, before, after);
  const anchor = anchorAt >= 0 ? anchorAt : focus;
  const present = new Set(after.map((h) => h.id));
  const ids = new Set([...sel.ids].filter((id) => present.has(id)));
  if (ids.size === 0 && sel.ids.size > 0 && focus >= 0) ids.add(after[focus].id);
  return { focus, anchor, ids };
}
