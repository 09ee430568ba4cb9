// Command errors → the dismissible banner. Tauri rejects with whatever the Rust command
// returned as `Err` (usually a string), so every shape is turned into a readable sentence.
import { writable, type Readable } from "svelte/store";

export function errorMessage(e: unknown): string {
  if (e == null) return "Something went wrong.";
  if (typeof e === "string") return e || "Something went wrong.";
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === "object") {
    const o = e as Record<string, unknown>;
    for (const k of ["message", "error", "reason"]) {
      if (typeof o[k] === "string" && o[k]) return o[k] as string;
    }
    try {
      return JSON.stringify(e);
    } catch {
      return String(e);
    }
  }
  return String(e);
}

export interface ErrorItem {
  id: number;
  message: string;
  /** How many times the same message came in a row. */
  count: number;
}

export interface ErrorList extends Readable<ErrorItem[]> {
  push(e: unknown, context?: string): void;
  dismiss(id: number): void;
  clear(): void;
}

/** The banner's messages; the same message twice in a row is counted, not repeated. */
export function createErrorList(max = 4): ErrorList {
  const { subscribe, update, set } = writable<ErrorItem[]>([]);
  let next = 1;
  return {
    subscribe,
    push(e, context) {
      const message = context ? `${context}: ${errorMessage(e)}` : errorMessage(e);
      update((list) => {
        const last = list[list.length - 1];
        if (last && last.message === message) {
          return [...list.slice(0, -1), { ...last, count: last.count + 1 }];
        }
        return [...list, { id: next++, message, count: 1 }].slice(-max);
      });
    },
    dismiss(id) {
      update((list) => list.filter((x) => x.id !== id));
    },
    clear() {
      set([]);
    },
  };
}
