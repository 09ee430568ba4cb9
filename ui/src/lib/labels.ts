// The auto-tag label list: people type "dog, beach" or press Enter, paste lists, edit chips.
// Labels are trimmed, inner whitespace collapsed, empty ones dropped, and duplicates removed
// case-insensitively (the first spelling wins), so the shell never gets "Dog" and "dog".

/** One label cleaned: trimmed, inner whitespace collapsed. */
export function cleanLabel(raw: string): string {
  return raw.replace(/\s+/g, " ").trim();
}

function key(label: string): string {
  return cleanLabel(label).toLocaleLowerCase();
}

/** Text → labels, split on commas, semicolons and new lines, cleaned and de-duplicated. */
export function parseLabels(text: string): string[] {
  return dedupe(text.split(/[,;\n\r]+/));
}

/** Cleans a list and drops empty and case-insensitive duplicate entries (first one wins). */
export function dedupe(labels: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of labels) {
    const l = cleanLabel(raw);
    if (!l) continue;
    const k = key(l);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(l);
  }
  return out;
}

/** Appends the labels in `text` that are not there yet. */
export function addLabels(list: readonly string[], text: string): string[] {
  return dedupe([...list, ...parseLabels(text)]);
}

export function removeLabel(list: readonly string[], index: number): string[] {
  return list.filter((_, i) => i !== index);
}

/**
 * Replaces the label at `index`. Empty text removes it; text that splits into several labels
 * puts them in its place; a label that is already elsewhere in the list is not repeated.
 */
export function editLabel(list: readonly string[], index: number, text: string): string[] {
  if (index < 0 || index >= list.length) return [...list];
  const replacement = parseLabels(text);
  // dedupe keeps the first spelling: an earlier copy wins over the edit, a later one gives way.
  return dedupe([...list.slice(0, index), ...replacement, ...list.slice(index + 1)]);
}

/**
 * What a keystroke in the label input commits: everything up to the last comma becomes labels,
 * the rest stays in the input ("dog, bea" → commit ["dog"], keep "bea").
 */
export function splitPending(value: string): { commit: string[]; rest: string } {
  const i = Math.max(value.lastIndexOf(","), value.lastIndexOf(";"), value.lastIndexOf("\n"));
  if (i < 0) return { commit: [], rest: value };
  return { commit: parseLabels(value.slice(0, i)), rest: value.slice(i + 1).replace(/^\s+/, "") };
}

/** Whether `label` is already in the list (case-insensitively). */
export function hasLabel(list: readonly string[], label: string): boolean {
  const k = key(label);
  return list.some((l) => key(l) === k);
}
