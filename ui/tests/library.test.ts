import { afterEach, describe, expect, it, vi } from "vitest";
import type { AppStatus, FolderAdded, IndexFinished, IndexState, Progress, RootInfo } from "../src/lib/api";
import { Library, type LibraryApi, type LibraryEvents, type LibraryOptions } from "../src/lib/library";
import { flush } from "./helpers";

function status(extra: Partial<AppStatus> = {}): AppStatus {
  return {
    version: "0.1.0",
    model: { name: "clip", ready: true, dir: "/m", problem: null },
    provider: "CPU",
    library: "/lib",
    libraryProblem: null,
    heldBy: null,
    photos: 10,
    indexed: 5,
    failed: 0,
    pending: 5,
    indexing: { running: true, paused: false, progress: null, error: null },
    threads: null,
    readText: true,
    ...extra,
  };
}

function root(path: string, extra: Partial<RootInfo> = {}): RootInfo {
  return { path, online: true, photos: 1, indexed: 1, pending: 0, failed: 0, failures: [], autoTags: [], ...extra };
}

function setup(extra: LibraryOptions = {}) {
  const handlers: {
    progress?: (p: Progress) => void;
    state?: (s: IndexState) => void;
    finished?: (r: IndexFinished) => void;
  } = {};
  const off = vi.fn();
  const api = {
    status: vi.fn(async () => status()),
    roots: vi.fn(async () => [root("/a")]),
    tags: vi.fn(async () => [{ name: "dog", count: 2 }]),
    formats: vi.fn(async () => [{ format: "jpeg", count: 5 }]),
    addRoot: vi.fn(async (p: string) => ({ roots: [root("/a"), root(p)], folder: p, alreadyIn: null }) as FolderAdded | null),
    removeRoot: vi.fn(async () => [] as RootInfo[]),
    pauseIndexing: vi.fn(async (): Promise<IndexState> => ({ running: true, paused: true, progress: null, error: null })),
    resumeIndexing: vi.fn(
      async (): Promise<IndexState> => ({ running: true, paused: false, progress: null, error: null }),
    ),
    addPickedFolder: vi.fn(
      async () => ({ roots: [root("/a"), root("/picked")], folder: "/picked", alreadyIn: null }) as FolderAdded | null,
    ),
    renameTag: vi.fn(async (_old: string, name: string) => [{ name, count: 2 }]),
    deleteTag: vi.fn(async () => [] as { name: string; count: number }[]),
  } satisfies LibraryApi;
  const events: LibraryEvents = {
    indexProgress: async (f) => ((handlers.progress = f), off),
    indexState: async (f) => ((handlers.state = f), off),
    indexFinished: async (f) => ((handlers.finished = f), off),
  };
  let now = 0;
  const onError = vi.fn();
  const onFinished = vi.fn();
  const lib = new Library(api, events, { onError, onFinished, refreshEveryMs: 2000, now: () => now, ...extra });
  return { lib, api, handlers, off, onError, onFinished, tick: (ms: number) => (now += ms) };
}

const prog = (done: number): Progress => ({ phase: "photos", withText: 0, done, total: 100, failed: 0, encoded: done, rate: 10, etaSecs: 9, current: "/a/x.jpg" });

describe("Library", () => {
  it("follows progress events and refreshes folder counts at most every 2 s", async () => {
    const t = setup();
    const stop = await t.lib.listen();
    t.handlers.progress!(prog(1));
    expect(t.lib.value.indexing.progress?.done).toBe(1);
    expect(t.lib.value.indexing.running).toBe(true);
    expect(t.api.roots).toHaveBeenCalledTimes(1);
    await flush();
    t.tick(500);
    t.handlers.progress!(prog(2));
    await flush();
    expect(t.api.roots).toHaveBeenCalledTimes(1);
    t.tick(2000);
    t.handlers.progress!(prog(3));
    await flush();
    expect(t.api.roots).toHaveBeenCalledTimes(2);
    stop();
    expect(t.off).toHaveBeenCalledTimes(3);
  });

  it("reloads tags while a job runs only where folders auto-tag, at most every 10 s", async () => {
    const t = setup();
    await t.lib.listen();
    const step = async (ms: number) => {
      t.tick(ms);
      t.handlers.progress!(prog(1));
      await flush();
      await flush();
    };
    await step(0);
    await step(15000);
    expect(t.api.roots).toHaveBeenCalledTimes(2);
    expect(t.api.tags).not.toHaveBeenCalled();
    t.api.roots.mockResolvedValue([root("/a", { autoTags: [{ folder: "/a/trip", labels: ["beach"] }] })]);
    await step(2000);
    expect(t.api.tags).toHaveBeenCalledTimes(1);
    await step(2000);
    await step(2000);
    expect(t.api.roots).toHaveBeenCalledTimes(5);
    expect(t.api.tags).toHaveBeenCalledTimes(1);
    await step(8000);
    expect(t.api.tags).toHaveBeenCalledTimes(2);
    // A window following another indexer does the same.
    t.tick(10000);
    await t.lib.follow();
    expect(t.api.tags).toHaveBeenCalledTimes(3);
    await t.lib.follow();
    expect(t.api.tags).toHaveBeenCalledTimes(3);
    t.api.roots.mockResolvedValue([root("/a")]);
    t.tick(10000);
    await t.lib.follow();
    expect(t.api.tags).toHaveBeenCalledTimes(3);
    expect(t.api.status).toHaveBeenCalled();
  });

  it("keeps the last progress when a state event carries none while running", async () => {
    const t = setup();
    await t.lib.listen();
    t.handlers.progress!(prog(40));
    t.handlers.state!({ running: true, paused: true, progress: null, error: null });
    expect(t.lib.value.indexing).toMatchObject({ paused: true, progress: { done: 40 } });
    t.handlers.state!({ running: false, paused: false, progress: null, error: null });
    expect(t.lib.value.indexing.progress).toBeNull();
  });

  it("refreshes everything when a job finishes, and reports its error", async () => {
    const t = setup();
    await t.lib.listen();
    t.handlers.finished!({ error: "disk full", encoded: 3, failed: 0, removed: 0 });
    expect(t.lib.value.indexing.running).toBe(false);
    expect(t.onError).toHaveBeenCalledWith("disk full", "Indexing stopped");
    await flush();
    await flush();
    expect(t.api.status).toHaveBeenCalled();
    expect(t.api.roots).toHaveBeenCalled();
    expect(t.api.tags).toHaveBeenCalled();
    expect(t.onFinished).toHaveBeenCalledTimes(1);
    expect(t.lib.value.tags).toEqual([{ name: "dog", count: 2 }]);
    // A job may bring the first photos of a format: the type filter offers it after.
    expect(t.lib.value.formats).toEqual([{ format: "jpeg", count: 5 }]);
  });

  it("adds a typed path (trimmed), a picked folder, and nothing when cancelled or declined", async () => {
    const t = setup();
    expect(await t.lib.addRoot("  /photos  ")).toBe(true);
    expect(t.api.addRoot).toHaveBeenCalledWith("/photos");
    expect(t.lib.value.roots.map((r) => r.path)).toEqual(["/a", "/photos"]);
    expect(await t.lib.addRoot("   ")).toBe(false);
    expect(t.api.addRoot).toHaveBeenCalledTimes(1);
    // The shell picks the folder and adds it; the page never names it.
    expect(await t.lib.pickAndAdd()).toBe(true);
    expect(t.api.addPickedFolder).toHaveBeenCalledWith();
    expect(t.lib.value.roots.map((r) => r.path)).toEqual(["/a", "/picked"]);
    t.api.addPickedFolder.mockResolvedValueOnce(null);
    expect(await t.lib.pickAndAdd()).toBe(false);
    expect(t.api.addRoot).toHaveBeenCalledTimes(1);
    // The user said no in the shell's confirmation: nothing changes and nothing is reported.
    t.api.addRoot.mockResolvedValueOnce(null);
    expect(await t.lib.addRoot("/elsewhere")).toBe(false);
    expect(t.lib.value.roots.map((r) => r.path)).toEqual(["/a", "/picked"]);
    expect(t.onError).not.toHaveBeenCalled();
  });

  it("a folder the library already holds is said, not added, and not an error", async () => {
    const onChanged = vi.fn();
    const t = { ...setup({ onChanged }), onChanged };
    t.api.addRoot.mockResolvedValueOnce({ roots: [root("/a")], folder: "/a/Garden", alreadyIn: "/a" });
    const changes = t.onChanged.mock.calls.length;
    expect(await t.lib.addRoot("/a/Garden")).toBe(true);
    expect(t.lib.value.notice).toEqual({
      text: "“Garden” is already in your library, inside “a”: its photos are searchable.",
      folder: "/a/Garden",
    });
    expect(t.onChanged.mock.calls.length).toBe(changes);
    expect(t.onError).not.toHaveBeenCalled();
    t.lib.dismissNotice();
    expect(t.lib.value.notice).toBeNull();
    t.api.addRoot.mockResolvedValueOnce({ roots: [root("/a")], folder: "/a", alreadyIn: "/a" });
    await t.lib.addRoot("/a");
    expect(t.lib.value.notice?.text).toBe("“a” is already in your library.");
    // A folder added next clears it.
    await t.lib.addRoot("/b");
    expect(t.lib.value.notice).toBeNull();
  });

  it("renames and deletes tags, then the results follow; failures are said", async () => {
    const onChanged = vi.fn();
    const t = { ...setup({ onChanged }), onChanged };
    expect(await t.lib.renameTag("dog", "  my dog ")).toBe(true);
    expect(t.api.renameTag).toHaveBeenCalledWith("dog", "my dog");
    expect(t.lib.value.tags).toEqual([{ name: "my dog", count: 2 }]);
    expect(await t.lib.renameTag("dog", "dog")).toBe(false);
    expect(await t.lib.renameTag("dog", "  ")).toBe(false);
    expect(t.api.renameTag).toHaveBeenCalledTimes(1);
    expect(await t.lib.deleteTag("my dog")).toBe(true);
    expect(t.lib.value.tags).toEqual([]);
    await flush();
    expect(t.onChanged).toHaveBeenCalled();
    t.api.deleteTag.mockRejectedValueOnce("no");
    expect(await t.lib.deleteTag("x")).toBe(false);
    expect(t.onError).toHaveBeenCalledWith("no", "Could not delete “x”");
  });

  it("turns command failures into messages", async () => {
    const t = setup();
    t.api.addRoot.mockRejectedValueOnce("not a folder: /nope");
    expect(await t.lib.addRoot("/nope")).toBe(false);
    expect(t.onError).toHaveBeenCalledWith("not a folder: /nope", "Could not add “/nope”");
    t.api.pauseIndexing.mockRejectedValueOnce(new Error("x"));
    await t.lib.pause();
    expect(t.onError).toHaveBeenCalledTimes(2);
  });

  it("a status answer does not overrule a fresher indexing event", async () => {
    const t = setup();
    t.api.status.mockResolvedValue(status({ indexing: { running: false, paused: false, progress: null, error: null } }));
    await t.lib.listen();
    t.tick(10_000);
    t.handlers.progress!(prog(10));
    await t.lib.loadStatus();
    expect(t.lib.value.indexing.running).toBe(true);
    expect(t.lib.value.status?.indexed).toBe(5);
    t.tick(6000);
    await t.lib.loadStatus();
    expect(t.lib.value.indexing.running).toBe(false);
  });

  it("a pause answered after the progress of a batch that landed meanwhile keeps the newer counts", async () => {
    const t = setup();
    await t.lib.listen();
    t.handlers.progress!(prog(6));
    // The shell took the pause at 6; the batch in flight landed (8) and its event came first.
    let answer!: (s: IndexState) => void;
    t.api.pauseIndexing.mockReturnValueOnce(new Promise<IndexState>((r) => (answer = r)));
    const paused = t.lib.pause();
    t.handlers.progress!(prog(8));
    answer({ running: true, paused: true, progress: prog(6), error: null });
    await paused;
    expect(t.lib.value.indexing.paused).toBe(true);
    expect(t.lib.value.indexing.progress?.done).toBe(8);
    // A newer answer is taken as it is; so is another run's.
    t.api.resumeIndexing.mockResolvedValueOnce({ running: true, paused: false, progress: prog(9), error: null });
    await t.lib.resume();
    expect(t.lib.value.indexing.progress?.done).toBe(9);
    t.api.pauseIndexing.mockResolvedValueOnce({
      running: true,
      paused: true,
      progress: { ...prog(2), total: 50 },
      error: null,
    });
    await t.lib.pause();
    expect(t.lib.value.indexing.progress?.done).toBe(2);
  });

  it("pause and resume show the shell's answer", async () => {
    const t = setup();
    await t.lib.pause();
    expect(t.lib.value.indexing.paused).toBe(true);
    await t.lib.resume();
    expect(t.lib.value.indexing.paused).toBe(false);
  });
});

describe("Library.onChanged (the results follow the library)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const progress = (encoded: number, done = encoded, failed = 0): Progress => ({
    phase: "photos",
    withText: 0,
    done,
    total: 1000,
    failed,
    encoded,
    rate: 50,
    etaSecs: 10,
    current: null,
  });

  it("while a job runs: the first change at once, then at most every 1.5 s, the last never lost", async () => {
    vi.useFakeTimers();
    const onChanged = vi.fn();
    const t = setup({ onChanged, followEveryMs: 1500, now: () => Date.now() });
    await t.lib.listen();
    t.handlers.progress!(progress(1));
    expect(onChanged).toHaveBeenCalledTimes(1);
    for (let i = 2; i <= 10; i++) {
      vi.advanceTimersByTime(100);
      t.handlers.progress!(progress(i));
    }
    expect(onChanged).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(599);
    expect(onChanged).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(onChanged).toHaveBeenCalledTimes(2);
    // Nothing moved since: no more calls.
    vi.advanceTimersByTime(5000);
    expect(onChanged).toHaveBeenCalledTimes(2);
  });

  it("only counts that moved are a change (a progress event for the same counts is not)", async () => {
    vi.useFakeTimers();
    const onChanged = vi.fn();
    const t = setup({ onChanged, now: () => Date.now() });
    await t.lib.listen();
    t.handlers.progress!(progress(5));
    vi.advanceTimersByTime(2000);
    t.handlers.progress!(progress(5)); // the rate or ETA moved, not the photos
    vi.advanceTimersByTime(2000);
    expect(onChanged).toHaveBeenCalledTimes(1);
    t.handlers.progress!(progress(5, 6)); // a file done without encoding (e.g. removed)
    expect(onChanged).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(2000);
    t.handlers.progress!(progress(5, 6, 1));
    expect(onChanged).toHaveBeenCalledTimes(3);
  });

  it("reading text is a change only when a picture shows some", async () => {
    vi.useFakeTimers();
    const onChanged = vi.fn();
    const t = setup({ onChanged, now: () => Date.now() });
    await t.lib.listen();
    const reading = (done: number, withText: number): Progress => ({
      ...progress(0, done),
      phase: "text",
      withText,
    });
    t.handlers.progress!(reading(1, 0));
    expect(onChanged).toHaveBeenCalledTimes(1); // the pass began
    for (let done = 2; done <= 20; done++) {
      vi.advanceTimersByTime(2000);
      t.handlers.progress!(reading(done, 0)); // pictures without text
    }
    expect(onChanged).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(2000);
    t.handlers.progress!(reading(21, 1)); // one shows text: word searches may find it now
    expect(onChanged).toHaveBeenCalledTimes(2);
  });

  it("a job that ended having encoded or removed photos follows at once; one that changed nothing does not", async () => {
    vi.useFakeTimers();
    const onChanged = vi.fn();
    const t = setup({ onChanged, now: () => Date.now() });
    await t.lib.listen();
    t.handlers.progress!(progress(1));
    vi.advanceTimersByTime(100);
    t.handlers.progress!(progress(2)); // waits for the throttle ...
    t.handlers.finished!({ error: null, encoded: 0, failed: 0, removed: 50 });
    expect(onChanged).toHaveBeenCalledTimes(2); // ... and the end does not wait
    vi.advanceTimersByTime(5000);
    expect(onChanged).toHaveBeenCalledTimes(2);
    t.handlers.finished!({ error: null, encoded: 0, failed: 2, removed: 0 });
    expect(onChanged).toHaveBeenCalledTimes(2);
  });

  it("a folder added or removed follows at once; stopping listening stops a waiting call", async () => {
    vi.useFakeTimers();
    const onChanged = vi.fn();
    const t = setup({ onChanged, now: () => Date.now() });
    await t.lib.removeRoot("/a");
    expect(onChanged).toHaveBeenCalledTimes(1);
    await t.lib.addRoot("/b");
    expect(onChanged).toHaveBeenCalledTimes(2);
    t.api.addPickedFolder.mockResolvedValueOnce(null);
    await t.lib.pickAndAdd();
    expect(onChanged).toHaveBeenCalledTimes(2);
    const stop = await t.lib.listen();
    t.handlers.progress!(progress(1)); // right after the folder: waits for the throttle
    expect(onChanged).toHaveBeenCalledTimes(2);
    stop();
    vi.advanceTimersByTime(5000);
    expect(onChanged).toHaveBeenCalledTimes(2);
  });

  it("follows another Glimpse's indexing by its counts", async () => {
    const onChanged = vi.fn();
    const t = setup({ onChanged });
    await t.lib.loadStatus();
    t.tick(10_000);
    await t.lib.follow();
    expect(onChanged).not.toHaveBeenCalled();
    t.api.status.mockResolvedValue(status({ indexed: 7 }));
    t.tick(10_000);
    await t.lib.follow();
    expect(onChanged).toHaveBeenCalledTimes(1);
  });
});
