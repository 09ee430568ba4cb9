// The search the window shows: what is being looked for (typed words, a dropped picture, a
// library photo, or nothing: then all photos, newest first), the filters, and the loaded pages of
// results. Typing is debounced; every new query bumps a generation so an answer that arrives after
// a newer query was sent is dropped (only the latest query's answer is ever shown); further pages
// load on demand. When the library changes (photos indexed or removed, a folder gone) `follow`
// asks the shown query again quietly, so the results keep up without a flash or a jump.
// With weaker matches shown it knows where they start (`strongFloor`, `weakStart`): the engine
// drops every result scored below its floor unless asked for them, and marks nothing per hit, so
// the lowest score of the complete answer without them is the line between the two.
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
 * idle: no library to search yet (before `open`) · waiting: typing, the debounce is running ·
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
  /**
   * While weaker matches are included: the lowest score among the matches above the engine's
   * floor (the answer without weaker matches, complete), so a hit scored below it is a weaker
   * match; Infinity when nothing was above the floor; null when not known (or not included).
   */
  strongFloor: number | null;
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
  /** A quiet refresh failed: the results stay on screen, nothing is shown; at most logged. */
  onQuietError?: (message: string) => void;
}

export type SearchFn = (q: SearchQuery) => Promise<SearchPage>;

export const DEBOUNCE_MS = 250;
export const PAGE_SIZE = 200;
/** A quiet refresh asks again for as many results as are loaded, but never more than this. */
export const FOLLOW_MAX = 1000;

/**
 * What a state searches for: the example, else the words, else a listing (the filters' photos,
 * or with no filter every photo, by date).
 */
export function sourceOf(s: Pick<SearchState, "text" | "example">): Source {
  if (s.example) {
    return s.example.kind === "file"
      ? { kind: "file", path: s.example.path, token: s.example.token }
      : { kind: "photo", id: s.example.id };
  }
  const text = s.text.trim();
  if (text) return { kind: "text", text };
  return { kind: "browse" };
}

/**
 * What the engine answers "more like this" with when the photo has left the library (deleted,
 * moved, its folder removed); engines before that said "no photo with id N". A retry cannot help.
 */
export const PHOTO_GONE = "This photo is no longer in the library.";
const OLD_PHOTO_GONE = /^no photo with id \d+$/;

export function isPhotoGoneMessage(message: string): boolean {
  return message.trim() === PHOTO_GONE || OLD_PHOTO_GONE.test(message.trim());
}

/** Whether the shown answer is "more like this" on a photo that is no longer in the library. */
export function exampleGone(s: Pick<SearchState, "answered" | "error">): boolean {
  return s.answered?.kind === "photo" && s.error !== null && isPhotoGoneMessage(s.error);
}

/** How the shown results are ordered, when not by how well they match: "newest first". */
export function orderText(s: Pick<SearchState, "answered" | "filters">): string | null {
  const listing = s.answered?.kind === "browse";
  const sort = s.filters.sort === "score" ? (listing ? "newest" : "score") : s.filters.sort;
  if (sort === "newest") return "newest first";
  if (sort === "oldest") return "oldest first";
  return null;
}

/** The results summary after the count: "for “dog”, newest first", "in your library, newest first". */
export function describeAnswer(s: Pick<SearchState, "answered" | "filters" | "includeWeak">): string {
  const src = s.answered;
  if (!src) return "";
  const order = orderText(s);
  if (src.kind === "browse") {
    // A folder alone is named ("in “Garden”"): it is where the user went, not a filter set.
    const onlyFolder =
      s.filters.folder && !isFiltered({ ...s.filters, folder: null }) ? (s.filters.folder.split(/[\\/]/).filter(Boolean).pop() ?? null) : null;
    const what = s.filters.tag
      ? `tagged “${s.filters.tag}”`
      : onlyFolder
        ? `in “${onlyFolder}”`
        : isFiltered(s.filters)
          ? "passing the filters"
          : "in your library";
    return `${what}, ${order}`;
  }
  const what = src.kind === "file" ? "like the picture you dropped" : src.kind === "photo" ? "like this photo" : `for “${src.text}”`;
  const weak = s.includeWeak ? ", weaker matches included" : "";
  return order ? `${what}${weak} · ${order}` : `${what}${weak}`;
}

/**
 * Where item `index` of `before` is in `after` (the same photo, by id), after the results were
 * refreshed quietly; -1 when it is gone. With `neighbour`, a photo that is gone gives the nearest
 * one after it that is still there (else before it), so a keyboard user keeps their place.
 */
export function followIndex(index: number, before: readonly Hit[], after: readonly Hit[], neighbour = false): number {
  if (index < 0 || index >= before.length) return -1;
  const id = before[index].id;
  if (after[index]?.id === id) return index;
  const at = new Map<number, number>();
  after.forEach((h, i) => at.set(h.id, i));
  const found = at.get(id);
  if (found !== undefined) return found;
  if (!neighbour) return -1;
  for (let i = index + 1; i < before.length; i++) {
    const j = at.get(before[i].id);
    if (j !== undefined) return j;
  }
  for (let i = index - 1; i >= 0; i--) {
    const j = at.get(before[i].id);
    if (j !== undefined) return j;
  }
  return -1;
}

/** Whether two result lists show the same thing (same photos in the same order, same details). */
export function sameHits(a: readonly Hit[], b: readonly Hit[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (
      x.id !== y.id ||
      x.score !== y.score ||
      x.path !== y.path ||
      x.thumbnail !== y.thumbnail ||
      x.date !== y.date ||
      x.localDate !== y.localDate ||
      x.tags.length !== y.tags.length ||
      x.tags.some((t, k) => t !== y.tags[k])
    ) {
      return false;
    }
  }
  return true;
}

/** Whether a request (or the debounce before one) is outstanding: drives `data-loading`. */
export function isBusy(s: Pick<SearchState, "phase" | "loadingMore">): boolean {
  return s.phase === "waiting" || s.phase === "loading" || s.loadingMore;
}

/** The lowest score of a complete answer without weaker matches: where the weaker ones begin. */
export function lowestScore(hits: readonly Hit[]): number {
  let low = Number.POSITIVE_INFINITY;
  for (const h of hits) if (h.score != null && h.score < low) low = h.score;
  return low;
}

/**
 * Where the weaker matches start in the shown results (the "Weaker matches" divider goes before
 * it), or -1: none shown, not known, or the results are in date order (then weaker and better
 * matches are mixed by date and no single line divides them). 0 when every result is weaker.
 */
export function weakStart(s: Pick<SearchState, "hits" | "includeWeak" | "strongFloor" | "filters" | "answered">): number {
  if (!s.includeWeak || s.strongFloor === null || !s.answered || s.answered.kind === "browse") return -1;
  if (s.filters.sort !== "score") return -1;
  return s.hits.findIndex((h) => h.score != null && h.score < s.strongFloor!);
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
  /** The library changed while that first page was on its way: follow once it is in. */
  stale: boolean;
}

/** A quiet refresh on its way. */
interface Quiet {
  /** The library changed again meanwhile: follow once more when it is in. */
  again: boolean;
}

function keyOf(source: Source, filters: FilterState, includeWeak: boolean): string {
  return JSON.stringify([source, filters, includeWeak]);
}

/** What the line between better and weaker matches depends on: the query and filters, not the order. */
function strongKeyOf(source: Source, filters: FilterState): string {
  return JSON.stringify([source, { ...filters, sort: null }]);
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
  /** Whether the library is open: until then there is nothing to search (phase idle). */
  private opened = false;
  private quiet: Quiet | null = null;
  /** A next page was wanted while a quiet refresh was on its way. */
  private moreWanted = false;
  /** The library changed while a next page was on its way. */
  private followAfterMore = false;
  private readonly onQuietError?: (message: string) => void;
  /** The lowest score above the floor for a query and filters (`strongKeyOf`), from its last complete answer without weaker matches. */
  private strong: { key: string; floor: number } | null = null;

  constructor(
    private readonly search: SearchFn,
    opts: SearchOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? DEBOUNCE_MS;
    this.pageSize = opts.pageSize ?? PAGE_SIZE;
    this.onError = opts.onError;
    this.onQuietError = opts.onQuietError;
  }

  subscribe(run: (value: SearchState) => void, invalidate?: () => void) {
    return this.state.subscribe(run, invalidate);
  }

  get value(): SearchState {
    return get(this.state);
  }

  /**
   * The search box changed: search after the debounce. Typing leaves an example search; an
   * emptied box lists all photos at once.
   */
  setText(text: string): void {
    const prev = this.value;
    const sameWords = !prev.example && prev.text.trim() === text.trim();
    this.state.update((s) => ({ ...s, text, example: null, includeWeak: sameWords ? s.includeWeak : false }));
    const s = this.value;
    const source = sourceOf(s);
    this.cancelTimer();
    if (!this.opened) {
      this.runNow();
      return;
    }
    const key = keyOf(source, s.filters, s.includeWeak);
    if (this.isCurrent(key)) {
      // Back to (or still at) the query on screen, e.g. a trailing space: nothing to send.
      const phase: Phase = this.current!.answered ? "done" : "loading";
      this.state.update((st) => ({ ...st, phase }));
      return;
    }
    const c = this.current;
    if (c && c.key === key && c.answered && !s.error) {
      // Typed a letter and took it back before the debounce ran out: the results on screen
      // answer this query; keep them (and their place) rather than asking again.
      this.generation++;
      c.gen = this.generation;
      this.resetInFlight();
      this.state.update((st) => ({ ...st, phase: "done", loadingMore: false }));
      return;
    }
    // Whatever is in flight now answers an older query.
    this.generation++;
    this.resetInFlight();
    if (source.kind === "browse") {
      this.runNow();
      return;
    }
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

  /** "Show more (weaker matches)" / "Show the closest anyway". */
  showWeaker(): void {
    this.state.update((s) => ({ ...s, includeWeak: true }));
    this.runNow();
  }

  /** "Show fewer": back to the matches above the floor. */
  showFewer(): void {
    if (!this.value.includeWeak) return;
    this.state.update((s) => ({ ...s, includeWeak: false, strongFloor: null }));
    this.runNow();
  }

  /** Runs the current query again from the first page, as a new answer (e.g. "Try again"). */
  refresh(): void {
    this.runNow(true);
  }

  /**
   * The library can be searched (the model is loaded, the library open): show what the window
   * has to show, all photos when nothing is typed. Idempotent.
   */
  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.runNow(true);
  }

  /**
   * The library changed (photos indexed or removed, a folder added or gone, tags written): asks
   * the shown query again, quietly. No loading state and no new `answer` (so the grid keeps its
   * scroll), as many results as are loaded (up to FOLLOW_MAX), and nothing changes on screen when
   * the answer is the same. A newer query drops it like any stale answer; a failure keeps the
   * results. The window throttles the calls (see Library's `onChanged`).
   */
  follow(): void {
    const c = this.current;
    if (!this.opened || !c) return;
    // A newer query is waiting for its debounce: it will see the library as it is now.
    if (c.gen !== this.generation) return;
    if (!c.answered) {
      // Its answer may predate the change.
      c.stale = true;
      return;
    }
    const s = this.value;
    // An error stays until the user acts on it ("Try again", going back): a quiet retry of a
    // photo that is gone would fail the same way, and one that works would jump the screen.
    if (s.error) return;
    if (this.quiet) {
      this.quiet.again = true;
      return;
    }
    if (this.moreInFlight) {
      this.followAfterMore = true;
      return;
    }
    const gen = this.generation;
    const quiet: Quiet = { again: false };
    this.quiet = quiet;
    const limit = Math.min(FOLLOW_MAX, Math.max(this.pageSize, s.hits.length));
    const query = buildQuery(c.source, c.filters, { offset: 0, limit, includeWeak: c.includeWeak });
    const settle = () => {
      if (this.quiet === quiet) this.quiet = null;
    };
    const after = () => {
      if (quiet.again) this.follow();
      if (this.moreWanted) {
        this.moreWanted = false;
        this.loadMore();
      }
    };
    this.send(query).then(
      (page) => {
        settle();
        if (gen !== this.generation || this.current !== c) return;
        const hasMore = page.hasMore && page.hits.length > 0;
        this.noteStrong(c, page.hits, hasMore);
        const st = this.value;
        if (!sameHits(st.hits, page.hits) || st.hasMore !== hasMore || st.weakerHidden !== page.weakerHidden) {
          this.state.update((x) => ({ ...x, hits: page.hits, hasMore, weakerHidden: page.weakerHidden }));
        }
        after();
      },
      (e) => {
        settle();
        if (gen !== this.generation || this.current !== c) return;
        this.onQuietError?.(errorMessage(e));
        after();
      },
    );
  }

  /** Loads the next page of the shown results, if there is one and none is loading. */
  loadMore(): void {
    const s = this.value;
    const c = this.current;
    if (s.phase !== "done" || !s.hasMore || s.moreFailed || s.error || this.moreInFlight) return;
    if (!c || c.gen !== this.generation) return;
    if (this.quiet) {
      // The refresh on its way replaces the pages: ask for the next one after it.
      this.moreWanted = true;
      return;
    }
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

  /** Forgets the pages and refreshes on their way: they answer an older query. */
  private resetInFlight(): void {
    this.moreInFlight = false;
    this.quiet = null;
    this.moreWanted = false;
    this.followAfterMore = false;
  }

  private send(query: SearchQuery): Promise<SearchPage> {
    try {
      return this.search(query);
    } catch (e) {
      return Promise.reject(e);
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
    if (!this.opened) {
      this.generation++;
      this.current = null;
      this.resetInFlight();
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
        strongFloor: null,
        error: null,
        answered: null,
      }));
      return;
    }
    const source = sourceOf(s);
    const key = keyOf(source, s.filters, s.includeWeak);
    if (!force && this.isCurrent(key)) return;
    const gen = ++this.generation;
    const running: Running = {
      source,
      filters: s.filters,
      includeWeak: s.includeWeak,
      key,
      gen,
      answered: false,
      stale: false,
    };
    this.current = running;
    this.resetInFlight();
    this.state.update((st) => ({ ...st, phase: "loading", loadingMore: false, moreFailed: false, error: null }));
    const query = buildQuery(source, running.filters, { offset: 0, limit: this.pageSize, includeWeak: running.includeWeak });
    this.send(query).then(
      (page) => {
        if (gen !== this.generation) return;
        running.answered = true;
        this.noteStrong(running, page.hits, page.hasMore);
        this.state.update((st) => ({
          ...st,
          phase: "done",
          hits: page.hits,
          hasMore: page.hasMore,
          weakerHidden: page.weakerHidden,
          queryPreview: page.queryPreview,
          queryCut: page.queryCut ?? false,
          strongFloor: this.strongFloorFor(running),
          error: null,
          answered: source,
          answer: st.answer + 1,
        }));
        if (running.stale) this.follow();
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
          strongFloor: null,
          error: message,
          answered: source,
          answer: st.answer + 1,
        }));
        // A photo that has left the library is said on screen (`exampleGone`), not as a failure.
        if (!(source.kind === "photo" && isPhotoGoneMessage(message))) this.onError?.(message);
      },
    );
    this.probeStrong(running);
  }

  /** Remembers where the weaker matches begin, from a complete answer without them. */
  private noteStrong(running: Running, hits: readonly Hit[], hasMore: boolean): void {
    if (running.includeWeak || running.source.kind === "browse" || hasMore) return;
    this.strong = { key: strongKeyOf(running.source, running.filters), floor: lowestScore(hits) };
  }

  private strongFloorFor(running: Running): number | null {
    if (!running.includeWeak || running.source.kind === "browse") return null;
    const key = strongKeyOf(running.source, running.filters);
    return this.strong?.key === key ? this.strong.floor : null;
  }

  /**
   * Weaker matches asked for without a complete answer without them for these words and filters
   * at hand (a filter changed while they were shown, or that answer had further pages): asks for
   * it quietly, best first, to know where the weaker ones begin. When even FOLLOW_MAX results do
   * not exhaust it, the line stays unknown (no divider) rather than guessed.
   */
  private probeStrong(running: Running): void {
    if (!running.includeWeak || running.source.kind === "browse") return;
    const key = strongKeyOf(running.source, running.filters);
    if (this.strong?.key === key) return;
    const gen = running.gen;
    const query = buildQuery(running.source, { ...running.filters, sort: "score" }, { offset: 0, limit: FOLLOW_MAX, includeWeak: false });
    this.send(query).then(
      (page) => {
        if (page.hasMore && page.hits.length > 0) return;
        this.strong = { key, floor: lowestScore(page.hits) };
        if (gen !== this.generation || this.current !== running) return;
        this.state.update((st) => ({ ...st, strongFloor: this.strong!.floor }));
      },
      (e) => this.onQuietError?.(errorMessage(e)),
    );
  }

  private requestMore(running: Running): void {
    const gen = this.generation;
    const offset = this.value.hits.length;
    this.moreInFlight = true;
    this.state.update((st) => ({ ...st, loadingMore: true }));
    const query = buildQuery(running.source, running.filters, { offset, limit: this.pageSize, includeWeak: running.includeWeak });
    const followAfter = () => {
      if (!this.followAfterMore) return;
      this.followAfterMore = false;
      this.follow();
    };
    this.send(query).then(
      (page) => {
        if (gen !== this.generation) return;
        this.moreInFlight = false;
        this.noteStrong(running, this.value.hits.concat(page.hits), page.hasMore && page.hits.length > 0);
        this.state.update((st) => ({
          ...st,
          loadingMore: false,
          hits: st.hits.concat(page.hits),
          // An empty page ends the paging even if the shell says otherwise (no endless loop).
          hasMore: page.hasMore && page.hits.length > 0,
          weakerHidden: page.weakerHidden,
        }));
        followAfter();
      },
      (e) => {
        if (gen !== this.generation) return;
        this.moreInFlight = false;
        this.state.update((st) => ({ ...st, loadingMore: false, moreFailed: true }));
        this.onError?.(errorMessage(e));
        followAfter();
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
    strongFloor: null,
    error: null,
    answered: null,
    answer: 0,
  };
}
