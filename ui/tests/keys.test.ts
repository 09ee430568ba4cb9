import { describe, expect, it } from "vitest";
import { isControl, isEditable, keyAction, nativeMenuAllowed, type KeyContext } from "../src/lib/keys";

const ctx: KeyContext = {
  lightboxOpen: false,
  dialogOpen: false,
  hasExample: false,
  hasText: false,
  hasSelection: false,
  resultCount: 10,
};

describe("keyAction", () => {
  it("Ctrl+F and Cmd+F focus the search box, even from a field", () => {
    expect(keyAction({ key: "f", ctrlKey: true }, ctx)).toEqual({ type: "focusSearch" });
    expect(keyAction({ key: "f", metaKey: true, inField: true }, ctx)).toEqual({ type: "focusSearch" });
    expect(keyAction({ key: "F", ctrlKey: true }, ctx)).toEqual({ type: "focusSearch" });
    expect(keyAction({ key: "f" }, ctx)).toEqual({ type: "none" });
    expect(keyAction({ key: "f", ctrlKey: true }, { ...ctx, dialogOpen: true })).toEqual({ type: "none" });
  });
  it("arrows move the grid selection, but not while typing or on a button", () => {
    expect(keyAction({ key: "ArrowDown" }, ctx)).toEqual({ type: "move", key: "ArrowDown" });
    expect(keyAction({ key: "ArrowLeft", inField: true }, ctx)).toEqual({ type: "none" });
    expect(keyAction({ key: "ArrowLeft", inControl: true }, ctx)).toEqual({ type: "none" });
    expect(keyAction({ key: "ArrowDown" }, { ...ctx, resultCount: 0 })).toEqual({ type: "none" });
    expect(keyAction({ key: "ArrowDown", ctrlKey: true }, ctx)).toEqual({ type: "none" });
  });
  it("Down in the search box steps into the results", () => {
    expect(keyAction({ key: "ArrowDown", inField: true, inSearch: true }, ctx)).toEqual({ type: "enterGrid" });
    expect(keyAction({ key: "ArrowDown", inField: true, inSearch: true }, { ...ctx, resultCount: 0 })).toEqual({ type: "none" });
  });
  it("Enter opens the selected result", () => {
    expect(keyAction({ key: "Enter" }, { ...ctx, hasSelection: true })).toEqual({ type: "open" });
    expect(keyAction({ key: "Enter" }, ctx)).toEqual({ type: "none" });
    expect(keyAction({ key: "Enter", inField: true }, { ...ctx, hasSelection: true })).toEqual({ type: "none" });
    expect(keyAction({ key: "Enter", inControl: true }, { ...ctx, hasSelection: true })).toEqual({ type: "none" });
  });
  it("the lightbox takes arrows and Esc", () => {
    const lb = { ...ctx, lightboxOpen: true, hasExample: true };
    expect(keyAction({ key: "Escape" }, lb)).toEqual({ type: "closeLightbox" });
    expect(keyAction({ key: "ArrowLeft" }, lb)).toEqual({ type: "lightboxStep", delta: -1 });
    expect(keyAction({ key: "ArrowRight", inControl: true }, lb)).toEqual({ type: "lightboxStep", delta: 1 });
    // + and - zoom, 0 shows the whole picture, 1 its own pixels; not outside the lightbox.
    expect(keyAction({ key: "+" }, lb)).toEqual({ type: "lightboxZoom", to: "in" });
    expect(keyAction({ key: "=" }, lb)).toEqual({ type: "lightboxZoom", to: "in" });
    expect(keyAction({ key: "-" }, lb)).toEqual({ type: "lightboxZoom", to: "out" });
    expect(keyAction({ key: "0" }, lb)).toEqual({ type: "lightboxZoom", to: "fit" });
    expect(keyAction({ key: "1" }, lb)).toEqual({ type: "lightboxZoom", to: "actual" });
    expect(keyAction({ key: "+" }, ctx).type).not.toBe("lightboxZoom");
    expect(keyAction({ key: "Enter" }, lb)).toEqual({ type: "none" });
  });
  it("Esc leaves an example search first, then clears the box", () => {
    expect(keyAction({ key: "Escape" }, { ...ctx, hasExample: true, hasText: true })).toEqual({ type: "clearExample" });
    expect(keyAction({ key: "Escape", inSearch: true, inField: true }, { ...ctx, hasText: true })).toEqual({ type: "clearText" });
    expect(keyAction({ key: "Escape" }, { ...ctx, hasText: true })).toEqual({ type: "none" });
    expect(keyAction({ key: "Escape" }, { ...ctx, dialogOpen: true, hasExample: true })).toEqual({ type: "none" });
  });
});

describe("keyAction: several results", () => {
  it("Shift+arrows extend the selection; Ctrl/Cmd+A selects all, but not in a field or the lightbox", () => {
    expect(keyAction({ key: "ArrowRight", shiftKey: true }, ctx)).toEqual({ type: "extend", key: "ArrowRight" });
    expect(keyAction({ key: "ArrowRight", shiftKey: true, inField: true }, ctx)).toEqual({ type: "none" });
    expect(keyAction({ key: "a", ctrlKey: true }, ctx)).toEqual({ type: "selectAll" });
    expect(keyAction({ key: "A", metaKey: true }, ctx)).toEqual({ type: "selectAll" });
    expect(keyAction({ key: "a", ctrlKey: true, inField: true, inSearch: true }, ctx)).toEqual({ type: "none" });
    expect(keyAction({ key: "a", ctrlKey: true }, { ...ctx, lightboxOpen: true })).toEqual({ type: "none" });
    expect(keyAction({ key: "a", ctrlKey: true }, { ...ctx, resultCount: 0 })).toEqual({ type: "none" });
  });
  it("Esc clears the selection before it leaves the example; in the search box it is the box's", () => {
    const sel = { ...ctx, selectedCount: 2, hasExample: true, hasText: true };
    expect(keyAction({ key: "Escape" }, sel)).toEqual({ type: "clearSelection" });
    expect(keyAction({ key: "Escape", inField: true, inSearch: true }, sel)).toEqual({ type: "clearExample" });
    expect(keyAction({ key: "Escape" }, { ...sel, lightboxOpen: true })).toEqual({ type: "closeLightbox" });
  });
  it("the Menu key and Shift+F10 open the menu on the focused result; the open menu takes every key", () => {
    const on = { ...ctx, hasSelection: true };
    expect(keyAction({ key: "ContextMenu" }, on)).toEqual({ type: "menu" });
    expect(keyAction({ key: "F10", shiftKey: true }, on)).toEqual({ type: "menu" });
    expect(keyAction({ key: "F10" }, on)).toEqual({ type: "none" });
    expect(keyAction({ key: "ContextMenu" }, ctx)).toEqual({ type: "none" });
    expect(keyAction({ key: "ContextMenu", inField: true }, on)).toEqual({ type: "none" });
    expect(keyAction({ key: "ArrowDown" }, { ...on, menuOpen: true })).toEqual({ type: "none" });
    expect(keyAction({ key: "Escape" }, { ...on, menuOpen: true, selectedCount: 1 })).toEqual({ type: "none" });
  });
});

describe("element kinds", () => {
  it("the web view's menu only in text fields", () => {
    const text = document.createElement("input");
    const area = document.createElement("textarea");
    const check = document.createElement("input");
    check.type = "checkbox";
    expect(nativeMenuAllowed(text)).toBe(true);
    expect(nativeMenuAllowed(area)).toBe(true);
    expect(nativeMenuAllowed(check)).toBe(false);
    expect(nativeMenuAllowed(document.createElement("select"))).toBe(false);
    expect(nativeMenuAllowed(document.createElement("img"))).toBe(false);
    expect(nativeMenuAllowed(null)).toBe(false);
  });

  it("tells fields from controls", () => {
    const text = document.createElement("input");
    const check = document.createElement("input");
    check.type = "checkbox";
    const button = document.createElement("button");
    const div = document.createElement("div");
    expect(isEditable(text)).toBe(true);
    expect(isEditable(document.createElement("select"))).toBe(true);
    expect(isEditable(check)).toBe(false);
    expect(isEditable(button)).toBe(false);
    expect(isEditable(div)).toBe(false);
    expect(isEditable(null)).toBe(false);
    expect(isControl(button)).toBe(true);
    expect(isControl(check)).toBe(true);
    expect(isControl(text)).toBe(false);
    expect(isControl(div)).toBe(false);
  });
});
