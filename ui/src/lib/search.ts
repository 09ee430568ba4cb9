// The search the window shows: what is being looked for (typed words, a dropped picture, a
// library photo), the filters, and the loaded pages of results. Typing is debounced; every new
// query bumps a generation so an answer that arrives after a newer query was sent is dropped
// (only the latest query's answer is ever shown); further pages load on demand.
// It is a Svelte store (`$search` in components) with no DOM or Tauri dependency, so it is
// unit-tested with fake timers and a fake `search` function.
import { writable, get, type Readable } from "svelte/store";
import type { Hit, SearchPage, SearchQuery } from "./api";
import { errorMessage } from "./errors";
import { buildQuery, defaultFilters, isFiltered, type FilterState, type Source } from "./query";

/** A picture searched by example: a dropped file (by the shell's token) or a library photo. */
export type Example =
  | { kind: "file"; path: string; token: number }
  | { kind: "photo"; id: number; path: string; thumbnail: string | null };

/**
 * idle: nothing to search (empty box) · waiting: typing, the debounce is running ·
 * loading: the first page is in flight · done: the answer (or its error) is shown.
 */
export type Phase = "idle" | "waiting" | "loading" | "done";

export interface SearchState {
  text: string;
  example: Example | null;
  filters: FilterState;
  includeWeak: boolean;
  phase: Phase;
  loadingMore: boolean;
  /** Loading the next page failed; scrolling no longer retries (see `retryMore`). */
  moreFailed: boolean;
  hits: Hit[];
  hasMore: boolean;
  weakerHidden: boolean;
  queryPreview: string | null;
  /** The words on screen were longer than the model reads. */
  queryCut: boolean;
  error: string | null;
  /** The source the shown results answer. */
  answered: Source | null;
  /** Bumped whenever a first page replaces the results (the grid then scrolls to the top). */
  answer: number;
}

export interface SearchOptions {
  debounceMs?: number;
  pageSize?: number;
  onError?: (message: string) => void;
}

export type SearchFn = (q: SearchQuery) => Promise<SearchPage>;

export const DEBOUNCE_MS = 250;
export const PAGE_SIZE = 200;

/** What a state searches for, or null when there is nothing to search. */
export function sourceOf(s: Pick<SearchState, "text" | "example" | "filters">): Source | null {
  if (s.example) {
    return s.example.kind === "file"
      ? { kind: "file", path: s.example.path, token: s.example.token }
      : { kind: "photo", id: s.example.id };
  }
  const text = s.text.trim();
  if (text) return { kind: "text", text };
  if (isFiltered(s.filters)) return { kind: "browse" };
  return null;
}

/** Whether a request (or the debounce before one) is outstanding: drives `data-loading`. */
export function isBusy(s: Pick<SearchState, "phase" | "loadingMore">): boolean {
  return s.phase === "waiting" || s.phase === "loading" || s.loadingMore;
}

interface Running {
  source: Source;
  filters: FilterState;
  includeWeak: boolean;
  key: string;
  /** The generation its first page was requested under. */
  gen: number;
  /** Whether that first page has come back (successfully or not). */
  answered: boolean;
}

function keyOf(source: Source, filters: FilterState, includeWeak: boolean): string {
  return JSON.stringify([source, filters, includeWeak]);
}

export class SearchController implements Readable<SearchState> {
  private readonly state = writable<SearchState>(initialState());
  private readonly debounceMs: number;
  private readonly pageSize: number;
  private readonly onError?: (message: string) => void;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /**
   * Bumped whenever the wanted query changes (a keystroke, a filter, an example, going idle).
   * Every request carries the generation it was sent under; an answer from an older one is dropped.
   */
  private generation = 0;
  /** The query the shown (or loading) results belong to; further pages repeat it. */
  private current: Running | null = null;
  private moreInFlight = false;

  constructor(
    private readonly search: SearchFn,
    opts: SearchOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? DEBOUNCE_MS;
    this.pageSize = opts.pageSize ?? PAGE_SIZE;
    this.onError = opts.onError;
  }

  subscribe(run: (value: SearchState) => void, invalidate?: () => void) {
    return this.state.subscribe(run, invalidate);
  }

  get value(): SearchState {
    return get(this.state);
  }

  /** The search box changed: search after the debounce. Typing leaves an example search. */
  setText(text: string): void {
    const prev = this.value;
    const sameWords = !prev.example && prev.text.trim() === text.trim();
    this.state.update((s) => ({ ...s, text, example: null, includeWeak: sameWords ? s.includeWeak : false }));
    const s = this.value;
    const source = sourceOf(s);
    if (!source) {
      this.runNow();
      return;
    }
    this.cancelTimer();
    if (this.isCurrent(keyOf(source, s.filters, s.includeWeak))) {
      // Back to (or still at) the query on screen, e.g. a trailing space: nothing to send.
      const phase: Phase = this.current!.answered ? "done" : "loading";
      this.state.update((st) => ({ ...st, phase }));
      return;
    }
    // Whatever is in flight now answers an older query.
    this.generation++;
    this.moreInFlight = false;
    this.state.update((st) => ({ ...st, phase: "waiting", loadingMore: false }));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.runNow();
    }, this.debounceMs);
  }

  /** Enter in the search box: do not wait for the debounce. */
  submit(): void {
    this.runNow();
  }

  /** Search by a dropped picture or a library photo ("more like this"). */
  setExample(example: Example): void {
    this.state.update((s) => ({ ...s, example, includeWeak: false }));
    this.runNow(true);
  }

  /** The query card's ×: back to the words in the box (or to nothing). */
  clearExample(): void {
    if (!this.value.example) return;
    this.state.update((s) => ({ ...s, example: null, includeWeak: false }));
    this.runNow(true);
  }

  setFilters(patch: Partial<FilterState>): void {
    this.state.update((s) => ({ ...s, filters: { ...s.filters, ...patch } }));
    this.runNow();
  }

  /** The tag list: select a tag, or clear it by selecting it again. */
  toggleTag(tag: string): void {
    this.setFilters({ tag: this.value.filters.tag === tag ? null : tag });
  }

  /** "Show more (weaker matches)". */
  showWeaker(): void {
    this.state.update((s) => ({ ...s, includeWeak: true }));
    this.runNow();
  }

  /** Runs the current query again from the first page (after tagging or indexing). */
  refresh(): void {
    this.runNow(true);
  }

  /** Loads the next page of the shown results, if there is one and none is loading. */
  loadMore(): void {
    const s = this.value;
    const c = this.current;
    if (s.phase !== "done" || !s.hasMore || s.moreFailed || s.error || this.moreInFlight) return;
    if (!c || c.gen !== this.generation) return;
    this.requestMore(c);
  }

  /** Tries the next page again after a failure. */
  retryMore(): void {
    this.state.update((s) => ({ ...s, moreFailed: false }));
    this.loadMore();
  }

  dispose(): void {
    this.cancelTimer();
    this.generation++;
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private isCurrent(key: string): boolean {
    const c = this.current;
    return c !== null && c.gen === this.generation && c.key === key && !this.value.error;
  }

  /** Requests the first page of the state's query now (unless it is the one already shown, and not forced). */
  private runNow(force = false): void {
    this.cancelTimer();
    const s = this.value;
    const source = sourceOf(s);
    if (!source) {
      this.generation++;
      this.current = null;
      this.moreInFlight = false;
      this.state.update((st) => ({
        ...st,
        phase: "idle",
        loadingMore: false,
        moreFailed: false,
        hits: [],
        hasMore: false,
        weakerHidden: false,
        queryPreview: null,
        queryCut: false,
        error: null,
        answered: null,
        answer: st.answer + 1,
      }));
      return;
    }
    const key = keyOf(source, s.filters, s.includeWeak);
    if (!force && this.isCurrent(key)) return;
    const gen = ++this.generation;
    const running: Running = { source, filters: s.filters, includeWeak: s.includeWeak, key, gen, answered: false };
    this.current = running;
    this.moreInFlight = false;
    this.state.update((st) => ({ ...st, phase: "loading", loadingMore: false, moreFailed: false, error: null }));
    const query = buildQuery(source, running.filters, { offset: 0, limit: this.pageSize, includeWeak: running.includeWeak });
    let pending: Promise<SearchPage>;
    try {
      pending = this.search(query);
    } catch (e) {
      pending = Promise.reject(e);
    }
    pending.then(
      (page) => {
        if (gen !== this.generation) return;
        running.answered = true;
        this.state.update((st) => ({
          ...st,
          phase: "done",
          hits: page.hits,
          hasMore: page.hasMore,
          weakerHidden: page.weakerHidden,
          queryPreview: page.queryPreview,
          queryCut: page.queryCut ?? false,
          error: null,
          answered: source,
          answer: st.answer + 1,
        }));
      },
      (e) => {
        if (gen !== this.generation) return;
        running.answered = true;
        const message = errorMessage(e);
        this.state.update((st) => ({
          ...st,
          phase: "done",
          hits: [],
          hasMore: false,
          weakerHidden: false,
          queryPreview: null,
          queryCut: false,
          error: message,
          answered: source,
          answer: st.answer + 1,
        }));
        this.onError?.(message);
      },
    );
  }

  private requestMore(running: Running): void {
    const gen = this.generation;
    const offset = this.value.hits.length;
    this.moreInFlight = true;
    this.state.update((st) => ({ ...st, loadingMore: true }));
    const query = buildQuery(running.source, running.filters, { offset, limit: this.pageSize, includeWeak: running.includeWeak });
    let pending: Promise<SearchPage>;
    try {
      pending = this.search(query);
    } catch (e) {
      pending = Promise.reject(e);
    }
    pending.then(
      (page) => {
        if (gen !== this.generation) return;
        this.moreInFlight = false;
        this.state.update((st) => ({
          ...st,
          loadingMore: false,
          hits: st.hits.concat(page.hits),
          // An empty page ends the paging even if the shell says otherwise (no endless loop).
          hasMore: page.hasMore && page.hits.length > 0,
          weakerHidden: page.weakerHidden,
        }));
      },
      (e) => {
        if (gen !== this.generation) return;
        this.moreInFlight = false;
        this.state.update((st) => ({ ...st, loadingMore: false, moreFailed: true }));
        this.onError?.(errorMessage(e));
      },
    );
  }
}

function initialState(): SearchState {
  return {
    text: "",
    example: null,
    filters: defaultFilters(),
    includeWeak: false,
    phase: "idle",
    loadingMore: false,
    moreFailed: false,
    hits: [],
    hasMore: false,
    weakerHidden: false,
    queryPreview: null,
    queryCut: false,
    error: null,
    answered: null,
    answer: 0,
  };
}
