import { describe, expect, it } from "vitest";
import { menuItems, menuKey, placeMenu } from "../src/lib/menu";

describe("context menu", () => {
  it("offers the photo's actions, and the selection's paths when several are selected", () => {
    expect(menuItems(1).map((i) => i.testid)).toEqual([
      "menu-open",
      "menu-reveal",
      "menu-copy-path",
      "menu-copy-image",
      "menu-tag",
      "menu-more-like-this",
    ]);
    const many = menuItems(3);
    expect(many.map((i) => i.label)).toEqual([
      "Open",
      "Reveal in file manager",
      "Copy path",
      "Copy 3 paths",
      "Reveal 3 in file manager",
      "Copy image",
      "Tag 3 photos…",
      "More like this",
    ]);
    expect(many[3]).toMatchObject({ action: "copyPaths", testid: "menu-copy-paths" });
  });

  it("arrows move and wrap, Home/End jump, Enter and Space run, Esc and Tab close", () => {
    expect(menuKey("ArrowDown", -1, 4)).toEqual({ type: "focus", index: 0 });
    expect(menuKey("ArrowDown", 3, 4)).toEqual({ type: "focus", index: 0 });
    expect(menuKey("ArrowUp", 0, 4)).toEqual({ type: "focus", index: 3 });
    expect(menuKey("ArrowUp", -1, 4)).toEqual({ type: "focus", index: 3 });
    expect(menuKey("ArrowUp", 2, 4)).toEqual({ type: "focus", index: 1 });
    expect(menuKey("Home", 2, 4)).toEqual({ type: "focus", index: 0 });
    expect(menuKey("End", 0, 4)).toEqual({ type: "focus", index: 3 });
    expect(menuKey("Enter", 2, 4)).toEqual({ type: "run", index: 2 });
    expect(menuKey(" ", 1, 4)).toEqual({ type: "run", index: 1 });
    expect(menuKey("Enter", -1, 4)).toEqual({ type: "none" });
    expect(menuKey("Escape", 1, 4)).toEqual({ type: "close" });
    expect(menuKey("Tab", 1, 4)).toEqual({ type: "close" });
    expect(menuKey("x", 1, 4)).toEqual({ type: "none" });
  });

  it("stays inside the window", () => {
    expect(placeMenu(100, 100, 200, 150, 1280, 800)).toEqual({ left: 100, top: 100 });
    expect(placeMenu(1200, 700, 200, 150, 1280, 800)).toEqual({ left: 1000, top: 550 });
    expect(placeMenu(50, 50, 200, 150, 220, 160)).toEqual({ left: 4, top: 4 });
  });
});
