// Tagging photos by hand ("Tag…" on a selection, the lightbox's tags): which tags the selected
// photos carry (all of them, or some), what to suggest as a name is typed, and how the photos'
// tags change once the engine has set or taken off a tag. The engine stores names trimmed and
// lower-case; a tag set by hand stays when its folder is auto-tagged again, and one taken off
// does not come back. Pure, so every rule is unit-tested; the popover is
// components/TagPopover.svelte.
import type { TagCount } from "./api";
import { cleanLabel } from "./labels";

/** A tag among the selected photos: how many of them carry it, and whether all do. */
export interface TagPresence {
  name: string;
  count: number;
  all: boolean;
}

/** A tag name as the engine stores it: trimmed, inner spaces collapsed, lower-case. */
export function tagKey(raw: string): string {
  return cleanLabel(raw).toLocaleLowerCase();
}

/** The tags the photos carry: those all of them carry first, then the most carried, then by name. */
export function tagsOfSelection(photos: readonly { tags: readonly string[] }[]): TagPresence[] {
  const counts = new Map<string, number>();
  for (const p of photos) for (const t of new Set(p.tags)) counts.set(t, (counts.get(t) ?? 0) + 1);
  const out = [...counts].map(([name, count]) => ({ name, count, all: count === photos.length }));
  out.sort((a, b) => Number(b.all) - Number(a.all) || b.count - a.count || a.name.localeCompare(b.name));
  return out;
}

/**
 * Tags of the library to offer for what is typed: names starting with it first, then names
 * containing it, each most used first; none that every selected photo already carries. With
 * nothing typed, the most used. At most `limit`.
 */
export function suggestTags(input: string, known: readonly TagCount[], present: readonly TagPresence[], limit = 6): string[] {
  const q = tagKey(input);
  const everywhere = new Set(present.filter((p) => p.all).map((p) => p.name));
  const open = known.filter((t) => !everywhere.has(t.name) && t.name !== q);
  const byUse = (a: TagCount, b: TagCount) => b.count - a.count || a.name.localeCompare(b.name);
  const starts = open.filter((t) => t.name.startsWith(q)).sort(byUse);
  const inside = q ? open.filter((t) => !t.name.startsWith(q) && t.name.includes(q)).sort(byUse) : [];
  return [...starts, ...inside].slice(0, limit).map((t) => t.name);
}

/** The photos' tags after the engine set (`on`) or took off the tag `name` on all of them. */
export function withTag<T extends { tags: readonly string[] }>(photos: readonly T[], name: string, on: boolean): T[] {
  const key = tagKey(name);
  return photos.map((p) => {
    const has = p.tags.includes(key);
    if (on === has) return p;
    return { ...p, tags: on ? [...p.tags, key] : p.tags.filter((t) => t !== key) };
  });
}

/**
 * The photos being tagged, with the tags `fresh` (the refreshed results) shows for them; one no
 * longer among the results (a tag filter it stopped matching) keeps the tags it had here.
 */
export function refreshTags<T extends { id: number; tags: readonly string[] }>(photos: readonly T[], fresh: readonly T[]): T[] {
  const now = new Map(fresh.map((p) => [p.id, p]));
  return photos.map((p) => now.get(p.id) ?? p);
}

/** What the popover says after tagging `n` photos. */
export function taggedText(name: string, n: number, on: boolean): string {
  const photos = n === 1 ? "1 photo" : `${n} photos`;
  return on ? `Tagged ${photos} “${tagKey(name)}”.` : `Took “${tagKey(name)}” off ${photos}.`;
}
