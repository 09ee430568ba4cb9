// The library as the sidebar and status bar see it: app status, photo folders, tags and the
// indexing job. It listens to the shell's indexing events (progress, state, finished), refreshes
// folder counts every few seconds while a job runs and once when it ends, and turns command
// failures into banner messages. It also says when the photos a search can find changed
// (`onChanged`: photos indexed or removed, a folder added or gone), at most every
// `followEveryMs` while a job runs and at once when it ends, so the shown results can follow.
// The shell's `api`/`events` are injected so it is unit-tested.
import { writable, get, type Readable } from "svelte/store";
import { folderAddedNotice, type FolderNotice } from "./folders";
import type {
  AppStatus,
  FolderAdded,
  FormatInfo,
  IndexFinished,
  IndexState,
  Progress,
  RootInfo,
  TagCount,
  api as realApi,
  events as realEvents,
} from "./api";

export type LibraryApi = Pick<
  typeof realApi,
  | "status"
  | "roots"
  | "tags"
  | "formats"
  | "addRoot"
  | "removeRoot"
  | "pauseIndexing"
  | "resumeIndexing"
  | "addPickedFolder"
  | "renameTag"
  | "deleteTag"
>;
export type LibraryEvents = Pick<typeof realEvents, "indexProgress" | "indexState" | "indexFinished">;

export interface LibraryState {
  /** The last `status` answer (null until the first one). */
  status: AppStatus | null;
  roots: RootInfo[];
  tags: TagCount[];
  /** The formats the type filter offers. */
  formats: FormatInfo[];
  indexing: IndexState;
  /** Whether the roots list has been loaded once (so "no folders" is not shown too early). */
  rootsLoaded: boolean;
  /** What the last folder added said when the library already held it. */
  notice: FolderNotice | null;
}

export interface LibraryOptions {
  onError?: (e: unknown, context: string) => void;
  onFinished?: (r: IndexFinished) => void;
  /**
   * The searchable photos changed: a job's counts moved (throttled to `followEveryMs`, the last
   * change always reported), a job ended having encoded or removed photos, a folder was added or
   * removed (at once), or another Glimpse indexing this library indexed more.
   */
  onChanged?: () => void;
  /** At most how often `onChanged` is called while a job runs. */
  followEveryMs?: number;
  /** How often folder counts are refreshed while a job runs. */
  refreshEveryMs?: number;
  /** How often tag counts are, while photos arrive in auto-tagged folders. */
  tagsEveryMs?: number;
  now?: () => number;
}

/** For this long after an indexing event, the events (not status answers) say what the job does. */
const EVENTS_WIN_MS = 5000;

const IDLE: IndexState = { running: false, paused: false, progress: null, error: null };

export class Library implements Readable<LibraryState> {
  private readonly state = writable<LibraryState>({
    status: null,
    roots: [],
    tags: [],
    formats: [],
    indexing: IDLE,
    rootsLoaded: false,
    notice: null,
  });
  private lastRefresh = -Infinity;
  private lastTags = -Infinity;
  private readonly tagsEveryMs: number;
  /** When the last indexing event came; events are fresher than a status answer. */
  private lastEvent = -Infinity;
  private refreshing = false;
  private readonly refreshEveryMs: number;
  private readonly now: () => number;
  private readonly followEveryMs: number;
  /** When `onChanged` was last called, and the call waiting for the throttle, if any. */
  private lastChanged = -Infinity;
  private changeTimer: ReturnType<typeof setTimeout> | null = null;
  /** The last progress event's counts ("encoded/done/failed"): a change shows photos moved. */
  private lastCounts: string | null = null;

  constructor(
    private readonly api: LibraryApi,
    private readonly events: LibraryEvents,
    private readonly opts: LibraryOptions = {},
  ) {
    // The folder cards follow the progress card closely (kept counts: a cheap query).
    this.refreshEveryMs = opts.refreshEveryMs ?? 1000;
    this.tagsEveryMs = opts.tagsEveryMs ?? 10000;
    this.now = opts.now ?? (() => Date.now());
    this.followEveryMs = opts.followEveryMs ?? 1500;
  }

  /**
   * The searchable photos changed. `now`: at once (a job ended, a folder went); otherwise at
   * most every `followEveryMs`, the first at once and the last one never lost.
   */
  private changed(now: boolean): void {
    if (!this.opts.onChanged) return;
    const since = this.now() - this.lastChanged;
    if (now || since >= this.followEveryMs) {
      this.fireChanged();
      return;
    }
    if (this.changeTimer !== null) return;
    this.changeTimer = setTimeout(() => this.fireChanged(), this.followEveryMs - since);
  }

  private fireChanged(): void {
    this.stopChangeTimer();
    this.lastChanged = this.now();
    this.opts.onChanged?.();
  }

  private stopChangeTimer(): void {
    if (this.changeTimer !== null) {
      clearTimeout(this.changeTimer);
      this.changeTimer = null;
    }
  }

  subscribe(run: (value: LibraryState) => void, invalidate?: () => void) {
    return this.state.subscribe(run, invalidate);
  }

  get value(): LibraryState {
    return get(this.state);
  }

  private fail(e: unknown, context: string): void {
    this.opts.onError?.(e, context);
  }

  /** Asks for the status (the first-run check); throws when the shell does not answer. */
  async loadStatus(): Promise<AppStatus> {
    const asked = this.now();
    const status = await this.api.status();
    // A status answer may predate an event that came while it was on its way: then the
    // events' view of the job wins.
    const fresh = status.indexing && this.lastEvent < asked - EVENTS_WIN_MS;
    this.state.update((s) => ({ ...s, status, indexing: fresh ? status.indexing : s.indexing }));
    return status;
  }

  async loadRoots(): Promise<void> {
    try {
      const roots = await this.api.roots();
      this.state.update((s) => ({ ...s, roots, rootsLoaded: true }));
    } catch (e) {
      this.state.update((s) => ({ ...s, rootsLoaded: true }));
      this.fail(e, "Could not list your folders");
    }
  }

  async loadTags(): Promise<void> {
    this.lastTags = this.now();
    try {
      const tags = await this.api.tags();
      this.state.update((s) => ({ ...s, tags }));
    } catch (e) {
      this.fail(e, "Could not list tags");
    }
  }

  /** The type filter's formats; they change when a job ends or a folder goes, not per photo. */
  async loadFormats(): Promise<void> {
    try {
      const formats = await this.api.formats();
      this.state.update((s) => ({ ...s, formats }));
    } catch (e) {
      this.fail(e, "Could not list the photo types");
    }
  }

  /** Status, folders, tags and formats again. */
  async refresh(): Promise<void> {
    this.lastRefresh = this.now();
    await Promise.all([
      this.loadStatus().catch((e) => this.fail(e, "Could not read the library status")),
      this.loadRoots(),
      this.loadTags(),
      this.loadFormats(),
    ]);
  }

  /** Listens to the indexing events; resolves to a function that stops listening. */
  async listen(): Promise<() => void> {
    const offs = await Promise.all([
      this.events.indexProgress((p) => this.onProgress(p)),
      this.events.indexState((st) => this.onState(st)),
      this.events.indexFinished((r) => this.onFinished(r)),
    ]);
    return () => {
      offs.forEach((off) => off());
      this.stopChangeTimer();
    };
  }

  onProgress(p: Progress): void {
    this.lastEvent = this.now();
    this.state.update((s) => ({ ...s, indexing: { ...s.indexing, running: true, progress: p } }));
    this.maybeRefreshCounts();
    // Photos were encoded, failed or done (a removed file counts as done): what a search finds
    // may have changed. A new job starting from zero counts too. Reading text changes answers
    // only when a picture turns out to show some (a picture without text, most of them, would
    // only make the grid ask again for the same answer).
    // A download of the text reader's models changes no answer.
    const counts =
      p.phase === "text" ? `text/${p.withText}` : p.phase === "textModels" ? "textModels" : `${p.encoded}/${p.done}/${p.failed}`;
    if (counts !== this.lastCounts) {
      this.lastCounts = counts;
      this.changed(false);
    }
  }

  onState(st: IndexState): void {
    this.lastEvent = this.now();
    this.state.update((s) => ({
      ...s,
      // A state without progress keeps the last known numbers on screen.
      indexing: { ...st, progress: st.progress ?? (st.running || st.paused ? s.indexing.progress : null) },
    }));
  }

  onFinished(r: IndexFinished): void {
    this.lastEvent = this.now();
    this.state.update((s) => ({
      ...s,
      indexing: { ...s.indexing, running: false, error: r.error },
    }));
    if (r.error) this.fail(r.error, "Indexing stopped");
    this.lastCounts = null;
    if (r.encoded > 0 || r.removed > 0) this.changed(true);
    void this.refresh().then(() => this.opts.onFinished?.(r));
  }

  /** Folder counts move while a job runs; fetch them at most every `refreshEveryMs`. */
  private maybeRefreshCounts(): void {
    if (this.refreshing || this.now() - this.lastRefresh < this.refreshEveryMs) return;
    this.lastRefresh = this.now();
    this.refreshing = true;
    Promise.all([this.loadRoots().then(() => this.maybeRefreshTags()), this.loadStatus().catch(() => undefined)]).finally(
      () => {
        this.refreshing = false;
      },
    );
  }

  /**
   * While photos are being indexed, tags change only where a folder auto-tags what arrives.
   * Counting them reads every tag (~150 ms at two million), so they are reloaded only then,
   * and less often than the folder counts.
   */
  private maybeRefreshTags(): Promise<void> {
    if (!this.value.roots.some((r) => r.autoTags.length > 0)) return Promise.resolve();
    if (this.now() - this.lastTags < this.tagsEveryMs) return Promise.resolve();
    return this.loadTags();
  }

  /** Follows another Glimpse indexing this library: its job state, folders and new tags. */
  async follow(): Promise<void> {
    const before = this.value.status;
    await Promise.all([this.loadStatus().catch(() => undefined), this.loadRoots().then(() => this.maybeRefreshTags())]);
    const after = this.value.status;
    // No events come from the other one: its counts say when photos arrived or left.
    if (before && after && (before.indexed !== after.indexed || before.photos !== after.photos)) this.changed(false);
  }

  /**
   * A pasted folder path: the shell asks the user to confirm it in its own dialog, then adds it.
   * False when declined (nothing to say) or failed (the banner says why).
   */
  async addRoot(path: string): Promise<boolean> {
    const p = path.trim();
    if (!p) return false;
    try {
      return this.added(await this.api.addRoot(p));
    } catch (e) {
      this.fail(e, `Could not add “${p}”`);
      return false;
    }
  }

  /** The native folder dialog, and the folder chosen is added. False when cancelled or failed. */
  async pickAndAdd(): Promise<boolean> {
    try {
      return this.added(await this.api.addPickedFolder());
    } catch (e) {
      this.fail(e, "Could not add the folder");
      return false;
    }
  }

  /** Renames a tag everywhere; false when it failed (the banner says why). */
  async renameTag(old: string, name: string): Promise<boolean> {
    const to = name.trim();
    if (!to || to === old) return false;
    try {
      const tags = await this.api.renameTag(old, to);
      this.state.update((s) => ({ ...s, tags }));
      this.changed(true);
      return true;
    } catch (e) {
      this.fail(e, `Could not rename “${old}”`);
      return false;
    }
  }

  /** Takes a tag off every photo; false when it failed. */
  async deleteTag(name: string): Promise<boolean> {
    try {
      const tags = await this.api.deleteTag(name);
      this.state.update((s) => ({ ...s, tags }));
      this.changed(true);
      return true;
    } catch (e) {
      this.fail(e, `Could not delete “${name}”`);
      return false;
    }
  }

  /** Tags were set or taken off by hand: `tags` is the engine's count after. */
  tagsChanged(tags: TagCount[]): void {
    this.state.update((s) => ({ ...s, tags }));
  }

  /** The folder notice was read (or its folder shown). */
  dismissNotice(): void {
    this.state.update((s) => ({ ...s, notice: null }));
  }

  private added(added: FolderAdded | null): boolean {
    if (added === null) return false;
    const notice = folderAddedNotice(added);
    const roots = added.roots;
    this.state.update((s) => ({ ...s, roots, rootsLoaded: true, notice }));
    // Already held: nothing was added or indexed.
    if (notice) return true;
    void this.loadStatus().catch(() => undefined);
    this.changed(true);
    return true;
  }

  async removeRoot(path: string): Promise<boolean> {
    try {
      const roots = await this.api.removeRoot(path);
      this.state.update((s) => ({ ...s, roots }));
      // Its photos left the library: results showing them follow at once.
      this.changed(true);
      void this.loadStatus().catch(() => undefined);
      void this.loadTags();
      void this.loadFormats();
      return true;
    } catch (e) {
      this.fail(e, `Could not remove “${path}”`);
      return false;
    }
  }

  /**
   * A pause or resume answer: the state when the shell took the command. A batch that was on
   * its way lands just after and its progress event can arrive before this answer; no later
   * event would then correct the older counts while the job is paused, so they never replace
   * newer ones of the same run.
   */
  private onAnswer(st: IndexState): void {
    const shown = get(this.state).indexing.progress;
    const older =
      shown !== null &&
      st.progress !== null &&
      shown.phase === st.progress.phase &&
      shown.total === st.progress.total &&
      shown.done > st.progress.done;
    this.onState(older ? { ...st, progress: shown } : st);
  }

  async pause(): Promise<void> {
    try {
      const indexing = await this.api.pauseIndexing();
      this.onAnswer(indexing);
    } catch (e) {
      this.fail(e, "Could not pause indexing");
    }
  }

  async resume(): Promise<void> {
    try {
      const indexing = await this.api.resumeIndexing();
      this.onAnswer(indexing);
    } catch (e) {
      this.fail(e, "Could not resume indexing");
    }
  }
}
