// What the settings page offers for the cores indexing uses: one per core by default, fewer for
// someone who works while a large folder indexes.
import type { IndexThreads } from "./api";

/** One choice of the "Cores for indexing" list. `value` null is the default (one per core). */
export interface ThreadChoice {
  value: number | null;
  label: string;
}

/** The choices: the default first ("All 8 cores"), then 1 … cores. */
export function threadChoices(t: IndexThreads): ThreadChoice[] {
  const cores = Math.max(1, t.cores);
  const out: ThreadChoice[] = [{ value: null, label: cores === 1 ? "The one core (default)" : `All ${cores} cores (default)` }];
  for (let n = 1; n <= cores; n++) out.push({ value: n, label: n === 1 ? "1 core" : `${n} cores` });
  return out;
}

/** The choice's key for a `<select>` ("" for the default). */
export function threadKey(value: number | null): string {
  return value === null ? "" : String(value);
}

/** The choice a `<select>` key stands for. */
export function threadFromKey(key: string): number | null {
  const n = Number.parseInt(key, 10);
  return Number.isFinite(n) && n > 0 ? n : null;
}
