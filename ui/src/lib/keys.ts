// Window-wide keyboard shortcuts, decided in one pure function so the rules are tested:
// Ctrl/Cmd+F focuses the search box; arrows move the grid selection (never while typing in a
// field), Shift+arrows extend it, Ctrl/Cmd+A selects every loaded result; Enter opens the
// lightbox; the Menu key or Shift+F10 opens Glimpse's menu on the focused result; in the
// lightbox Left/Right step and Esc closes; Esc otherwise clears the selection, then leaves an
// example search, then clears the search box. The open context menu takes its own keys.
import { isMoveKey, type MoveKey } from "./grid";

export interface KeyInput {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  shiftKey?: boolean;
  /** Focus is in a text field, select or other editable element. */
  inField?: boolean;
  /** Focus is in the search box itself. */
  inSearch?: boolean;
  /** Focus is on a button, link or checkbox (Enter and arrows belong to it). */
  inControl?: boolean;
}

export interface KeyContext {
  lightboxOpen: boolean;
  /** A dialog (label editor) is open: it handles its own keys. */
  dialogOpen: boolean;
  hasExample: boolean;
  hasText: boolean;
  /** The keyboard is on a result (Enter opens it, the Menu key opens its menu). */
  hasSelection: boolean;
  resultCount: number;
  /** How many results are selected (Esc clears them first). */
  selectedCount?: number;
  /** Glimpse's context menu is open: it handles its own keys. */
  menuOpen?: boolean;
}

export type KeyAction =
  | { type: "none" }
  | { type: "focusSearch" }
  | { type: "move"; key: MoveKey }
  | { type: "extend"; key: MoveKey }
  | { type: "selectAll" }
  | { type: "clearSelection" }
  | { type: "menu" }
  | { type: "open" }
  | { type: "lightboxStep"; delta: -1 | 1 }
  | { type: "lightboxZoom"; to: "in" | "out" | "fit" | "actual" }
  | { type: "closeLightbox" }
  | { type: "clearExample" }
  | { type: "clearText" }
  | { type: "enterGrid" };

const NONE: KeyAction = { type: "none" };

export function keyAction(e: KeyInput, ctx: KeyContext): KeyAction {
  if (ctx.menuOpen) return NONE;
  const mod = Boolean(e.ctrlKey || e.metaKey);
  if (mod && !e.altKey && (e.key === "f" || e.key === "F")) {
    return ctx.dialogOpen ? NONE : { type: "focusSearch" };
  }
  // Ctrl/Cmd+A in a field selects its text; elsewhere, every loaded result.
  if (mod && !e.altKey && !e.shiftKey && (e.key === "a" || e.key === "A")) {
    return ctx.dialogOpen || ctx.lightboxOpen || e.inField || ctx.resultCount === 0 ? NONE : { type: "selectAll" };
  }
  if (ctx.dialogOpen || mod || e.altKey) return NONE;

  if (ctx.lightboxOpen) {
    if (e.key === "Escape") return { type: "closeLightbox" };
    if (e.key === "ArrowLeft" || e.key === "ArrowUp") return { type: "lightboxStep", delta: -1 };
    if (e.key === "ArrowRight" || e.key === "ArrowDown") return { type: "lightboxStep", delta: 1 };
    if (e.key === "+" || e.key === "=") return { type: "lightboxZoom", to: "in" };
    if (e.key === "-" || e.key === "_") return { type: "lightboxZoom", to: "out" };
    if (e.key === "0") return { type: "lightboxZoom", to: "fit" };
    if (e.key === "1") return { type: "lightboxZoom", to: "actual" };
    return NONE;
  }

  if (e.key === "Escape") {
    if (!e.inField && (ctx.selectedCount ?? 0) > 0) return { type: "clearSelection" };
    if (ctx.hasExample) return { type: "clearExample" };
    if (e.inSearch && ctx.hasText) return { type: "clearText" };
    return NONE;
  }

  if (e.inField) {
    // From the search box, Down steps into the results.
    if (e.inSearch && e.key === "ArrowDown" && ctx.resultCount > 0) return { type: "enterGrid" };
    return NONE;
  }

  if (e.inControl) return NONE;
  if (e.key === "ContextMenu" || (e.key === "F10" && e.shiftKey)) return ctx.hasSelection ? { type: "menu" } : NONE;
  if (isMoveKey(e.key)) {
    if (ctx.resultCount === 0) return NONE;
    return e.shiftKey ? { type: "extend", key: e.key } : { type: "move", key: e.key };
  }
  if (e.key === "Enter" && ctx.hasSelection) return { type: "open" };
  return NONE;
}

/** Whether an event target is a button-like control that handles Enter itself. */
export function isControl(target: EventTarget | null): boolean {
  if (!target || typeof (target as HTMLElement).tagName !== "string") return false;
  const el = target as HTMLElement;
  const tag = el.tagName.toLowerCase();
  if (tag === "button" || tag === "a" || tag === "summary") return true;
  if (tag === "input") return ["button", "checkbox", "radio", "submit", "reset", "range", "color", "file"].includes(((el as HTMLInputElement).type || "").toLowerCase());
  return false;
}

/**
 * Whether the web view's own context menu may open on `target`: only in text fields, where
 * Cut / Copy / Paste are useful. Elsewhere it offers "Inspect Element" and the glimpse: address
 * of a thumbnail, so the window shows its own menu (on a result) or none.
 */
export function nativeMenuAllowed(target: EventTarget | null): boolean {
  if (!target || typeof (target as HTMLElement).tagName !== "string") return false;
  return (target as HTMLElement).tagName.toLowerCase() !== "select" && isEditable(target);
}

/** Whether an event target is somewhere people type (so arrows and Enter belong to it). */
export function isEditable(target: EventTarget | null): boolean {
  if (!target || typeof (target as HTMLElement).tagName !== "string") return false;
  const el = target as HTMLElement;
  const tag = el.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select") return true;
  if (tag === "input") {
    const type = ((el as HTMLInputElement).type || "text").toLowerCase();
    return !["button", "checkbox", "radio", "submit", "reset", "range", "color", "file"].includes(type);
  }
  return el.isContentEditable === true;
}

/**
 * Whether a key event means "Enter". Automation and some keyboards deliver a line feed rather
 * than the Enter key (WebDriver text "\n" on WebKitGTK), so both count.
 */
export function isEnterKey(e: { key?: string; keyCode?: number }): boolean {
  return e.key === "Enter" || e.key === "\n" || e.key === "\r" || e.key === "Linefeed" || e.keyCode === 13 || e.keyCode === 10;
}

/** Whether a `beforeinput` event is inserting a line break (the same Enter, seen as text). */
export function isLineBreakInput(e: { inputType?: string; data?: string | null }): boolean {
  return e.inputType === "insertLineBreak" || e.inputType === "insertParagraph" || /[\r\n]/.test(e.data ?? "");
}
