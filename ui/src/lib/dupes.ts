// The duplicates view's logic, apart from the component: which copies are chosen to go (every
// copy but the keeper, to start with; never every copy of a picture), the words on its buttons
// and its confirmation, the side-by-side compare, and the groups after a move to the Trash.
import type { DupeGroup, DupeMember, TrashReport } from "./api";
import { formatBytes, formatKind, formatPhotoDate, formatPixels } from "./format";

/** The photo ids chosen to go to the Trash. */
export type Chosen = ReadonlySet<number>;

/** Every copy but each group's keeper (the first photo): what the view starts with. */
export function initialChoice(groups: readonly DupeGroup[]): Set<number> {
  const out = new Set<number>();
  for (const g of groups) for (const m of g.photos.slice(1)) out.add(m.id);
  return out;
}

/** The photos of `group` chosen to go, in the group's order. */
export function chosenIn(group: DupeGroup, chosen: Chosen): number[] {
  return group.photos.filter((m) => chosen.has(m.id)).map((m) => m.id);
}

/** Every chosen photo of every group, group by group. */
export function allChosen(groups: readonly DupeGroup[], chosen: Chosen): number[] {
  return groups.flatMap((g) => chosenIn(g, chosen));
}

/** The group holding photo `id`, if any. */
function groupOf(groups: readonly DupeGroup[], id: number): DupeGroup | undefined {
  return groups.find((g) => g.photos.some((m) => m.id === id));
}

/**
 * Chooses or un-chooses one copy. Choosing the last copy left of a picture is refused (the
 * choice comes back unchanged): one copy always stays.
 */
export function toggle(groups: readonly DupeGroup[], chosen: Chosen, id: number): Set<number> {
  const out = new Set(chosen);
  if (out.has(id)) {
    out.delete(id);
    return out;
  }
  const g = groupOf(groups, id);
  if (!g) return out;
  const staying = g.photos.filter((m) => !out.has(m.id));
  if (staying.length <= 1) return out;
  out.add(id);
  return out;
}

/** Keeps `id` and chooses every other copy of its picture instead. */
export function keepInstead(groups: readonly DupeGroup[], chosen: Chosen, id: number): Set<number> {
  const out = new Set(chosen);
  const g = groupOf(groups, id);
  if (!g) return out;
  for (const m of g.photos) {
    if (m.id === id) out.delete(m.id);
    else out.add(m.id);
  }
  return out;
}

/** Whether `id` is the copy that stays in its group: the only one not chosen. */
export function isKept(group: DupeGroup, chosen: Chosen, id: number): boolean {
  const staying = group.photos.filter((m) => !chosen.has(m.id));
  return staying.length === 1 && staying[0].id === id;
}

function photos(n: number): string {
  return n === 1 ? "1 photo" : `${n} photos`;
}

/** A move button: "Move 1 other to Trash…", "Move 3 others to Trash…". */
export function moveLabel(n: number): string {
  return n === 1 ? "Move 1 other to Trash…" : `Move ${n} others to Trash…`;
}

/** The confirmation's question and what happens, in plain words. */
export function confirmText(n: number): { title: string; body: string; action: string } {
  return {
    title: `Move ${photos(n)} to the Trash?`,
    body:
      `${n === 1 ? "It goes" : "They go"} to the system Trash, where you can restore ${n === 1 ? "it" : "them"}. ` +
      "One copy of each picture stays where it is.",
    action: "Move to Trash",
  };
}

/** What a move did, in a sentence (with why photos stayed, when some did). */
export function movedText(r: TrashReport): string {
  const moved = r.moved === 0 ? "Nothing was moved to the Trash." : `Moved ${photos(r.moved)} to the Trash.`;
  if (r.failures.length === 0) return moved;
  const first = r.failures[0];
  const more = r.failures.length > 1 ? ` (and ${r.failures.length - 1} more)` : "";
  return `${moved} ${photos(r.failures.length)} stayed: ${first.path}: ${first.reason}${more}.`;
}

/**
 * The groups after a move: the photos asked for that did not fail (the report names failures by
 * path) are gone; a group left with one photo is no group. The choice loses them too.
 */
export function afterMove(
  groups: readonly DupeGroup[],
  chosen: Chosen,
  asked: readonly number[],
  report: TrashReport,
): { groups: DupeGroup[]; chosen: Set<number> } {
  const failed = new Set(report.failures.map((f) => f.path));
  const askedSet = new Set(asked);
  const gone = new Set<number>();
  for (const g of groups) for (const m of g.photos) if (askedSet.has(m.id) && !failed.has(m.path)) gone.add(m.id);
  const left = groups
    .map((g) => ({ ...g, photos: g.photos.filter((m) => !gone.has(m.id)) }))
    .filter((g) => g.photos.length > 1);
  const next = new Set([...chosen].filter((id) => !gone.has(id)));
  return { groups: left, chosen: next };
}

/** The file's name, from its path. */
export function fileName(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i >= 0 ? path.slice(i + 1) : path;
}

/** One line of the side-by-side compare: what it is, the two values, whether they differ. */
export interface CompareRow {
  label: string;
  a: string;
  b: string;
  differs: boolean;
}

/** The side-by-side compare of two copies: dimensions, file size, format, date, path. */
export function compareRows(a: DupeMember, b: DupeMember, locale?: string): CompareRow[] {
  const row = (label: string, x: string, y: string): CompareRow => ({ label, a: x || "unknown", b: y || "unknown", differs: x !== y });
  return [
    row("Dimensions", formatPixels(a.width, a.height), formatPixels(b.width, b.height)),
    row("File size", formatBytes(a.size), formatBytes(b.size)),
    row("Format", formatKind(a.format), formatKind(b.format)),
    row("Date", formatPhotoDate(a, locale), formatPhotoDate(b, locale)),
    row("Path", a.path, b.path),
  ];
}

/** The view's heading once groups are found: "2 pictures have copies; 3 copies chosen". */
export function summaryText(groups: readonly DupeGroup[], chosen: Chosen): string {
  const pictures = groups.length === 1 ? "1 picture has copies" : `${groups.length} pictures have copies`;
  const n = allChosen(groups, chosen).length;
  return `${pictures}; ${n === 1 ? "1 copy" : `${n} copies`} chosen to go.`;
}
