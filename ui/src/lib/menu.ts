// Glimpse's own context menu on a result (the web view's menu offers "Inspect Element" and
// "Copy Image Address" of a glimpse: URL, which mean nothing here): which entries it has for the
// photo and the selection, and how the keyboard walks it. Pure, so both are unit-tested; the
// menu itself is components/ContextMenu.svelte, the actions run in App.svelte.

/** What a menu entry does. */
export type MenuAction = "open" | "reveal" | "revealAll" | "copyPath" | "copyPaths" | "copyImage" | "tag" | "moreLike";

export interface MenuItem {
  action: MenuAction;
  label: string;
  testid: string;
}

/**
 * The entries for a right-click on one photo while `selected` photos are selected (it among
 * them, or alone): what acts on that photo, and "Copy N paths" and "Reveal N" when several are
 * selected; "Tag…" tags the selection (or the photo alone).
 */
export function menuItems(selected: number): MenuItem[] {
  const items: MenuItem[] = [
    { action: "open", label: "Open", testid: "menu-open" },
    { action: "reveal", label: "Reveal in file manager", testid: "menu-reveal" },
    { action: "copyPath", label: "Copy path", testid: "menu-copy-path" },
  ];
  if (selected > 1) {
    items.push({ action: "copyPaths", label: `Copy ${selected} paths`, testid: "menu-copy-paths" });
    items.push({ action: "revealAll", label: `Reveal ${selected} in file manager`, testid: "menu-reveal-all" });
  }
  items.push({ action: "copyImage", label: "Copy image", testid: "menu-copy-image" });
  items.push({ action: "tag", label: selected > 1 ? `Tag ${selected} photos…` : "Tag…", testid: "menu-tag" });
  items.push({ action: "moreLike", label: "More like this", testid: "menu-more-like-this" });
  return items;
}

export type MenuKeyResult = { type: "focus"; index: number } | { type: "run"; index: number } | { type: "close" } | { type: "none" };

/**
 * A key in the open menu: Up/Down move (wrapping), Home/End go to the ends, Enter or Space runs
 * the focused entry, Esc and Tab close it. `current` is the focused entry (-1: none yet).
 */
export function menuKey(key: string, current: number, count: number): MenuKeyResult {
  if (key === "Escape" || key === "Tab") return { type: "close" };
  if (count <= 0) return { type: "none" };
  switch (key) {
    case "ArrowDown":
      return { type: "focus", index: current < 0 ? 0 : (current + 1) % count };
    case "ArrowUp":
      return { type: "focus", index: current <= 0 ? count - 1 : current - 1 };
    case "Home":
      return { type: "focus", index: 0 };
    case "End":
      return { type: "focus", index: count - 1 };
    case "Enter":
    case " ":
      return current >= 0 && current < count ? { type: "run", index: current } : { type: "none" };
  }
  return { type: "none" };
}

/**
 * Where to put a menu of `w` × `h` px asked for at (x, y) so it stays inside a `vw` × `vh`
 * window: to the left of / above the point when it would run off the right / bottom edge.
 */
export function placeMenu(x: number, y: number, w: number, h: number, vw: number, vh: number, margin = 4): { left: number; top: number } {
  const left = x + w + margin > vw ? Math.max(margin, x - w) : x;
  const top = y + h + margin > vh ? Math.max(margin, y - h) : y;
  return { left, top };
}
