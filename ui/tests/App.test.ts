// The whole window against a fake shell: start-up, typing, results, drop, keyboard, lightbox,
// folders, tags, first run. Real timers; `waitFor` rides out the 250 ms debounce.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, waitFor, within } from "@testing-library/svelte";
import type { AppStatus, Hit, RootInfo, SearchQuery } from "../src/lib/api";
import App from "../src/App.svelte";
import { shell } from "./tauri";
import { hit, hits, page } from "./helpers";

vi.mock("@tauri-apps/api/core", async () => (await import("./tauri")).coreMock);
vi.mock("@tauri-apps/api/event", async () => (await import("./tauri")).eventMock);
vi.mock("@tauri-apps/api/webview", async () => (await import("./tauri")).webviewMock);

function status(extra: Partial<AppStatus> = {}): AppStatus {
  return {
    version: "0.3.0",
    model: { name: "ViT-B-32__openai", ready: true, dir: "/data/models/ViT-B-32__openai", problem: null },
    provider: "CUDA (fp16)",
    library: "/data/library",
    libraryProblem: null,
    heldBy: null,
    photos: 30,
    indexed: 29,
    failed: 1,
    pending: 0,
    indexing: { running: false, paused: false, progress: null, error: null },
    threads: { using: 4, chosen: null, cores: 4 },
    readText: true,
    ...extra,
  };
}

const ROOT: RootInfo = {
  path: "/home/me/Pictures",
  online: true,
  photos: 30,
  indexed: 29,
  pending: 0,
  failed: 1,
  failures: [{ path: "/home/me/Pictures/broken.jpg", reason: "truncated image" }],
  autoTags: [],
};

function standardShell(st = status()) {
  shell.commands = {
    status: () => st,
    roots: () => [ROOT],
    tags: () => [
      { name: "dog", count: 4 },
      { name: "beach", count: 2 },
    ],
    formats: () => [
      { format: "jpeg", count: 20 },
      { format: "png", count: 6 },
      { format: "cr2", count: 2 },
      { format: "dng", count: 1 },
    ],
    search: (a) => {
      const q = a.query as SearchQuery;
      if (q.exampleDrop) return page(hits(3), false, { queryPreview: "data:image/jpeg;base64,QUJD" });
      if (q.text === "nothing") return page([], false, { weakerHidden: true });
      return page(hits(5), false);
    },
    photo: (a) => ({
      ...hits(10)[(a.id as number) - 1],
      tags: ["dog"],
      // Taken at 08:30 on 1 June in Tokyo (23:30 UTC the day before).
      date: Date.UTC(2024, 4, 31, 23, 30) / 1000,
      localDate: Date.UTC(2024, 5, 1, 8, 30) / 1000,
      offsetMinutes: 540,
      dateTaken: true,
    }),
    default_labels: () => ({ labels: ["people", "dog", "beach"], keepsTagging: false }),
    stop_auto_tag: () => true,
    tag_folder: (a) => ({
      folder: a.folder,
      photos: 29,
      tagged: 20,
      labels: (a.labels as string[]).map((name) => ({ name, count: 10 })),
    }),
    add_typed_folder: (a) => ({
      roots: [ROOT, { ...ROOT, path: a.path as string, indexed: 0, photos: 0, failed: 0, failures: [] }],
      folder: a.path as string,
      alreadyIn: null,
    }),
    remove_root: () => [],
    pause_indexing: () => ({ running: true, paused: true, progress: null, error: null }),
    resume_indexing: () => ({ running: true, paused: false, progress: null, error: null }),
    reveal: () => null,
    open_photo: () => null,
    copy_paths: (a) => (a.ids as number[]).length,
    folders: (a) =>
      a.root === ROOT.path
        ? [
            { path: `${ROOT.path}/2023 Holiday`, photos: 12 },
            { path: `${ROOT.path}/Garden`, photos: 7 },
            { path: `${ROOT.path}/Garden/Roses`, photos: 3 },
          ]
        : [],
  };
}

async function started() {
  const r = render(App);
  await waitFor(() => expect(document.body.dataset.ready).toBe("1"));
  return r;
}

function lastSearch() {
  const all = shell.calls("search");
  return all[all.length - 1];
}

/** The searches after the listing of all photos the window opens on. */
function asked() {
  const all = shell.calls("search");
  expect(all[0]?.query).toMatchObject({ offset: 0, filter: { tag: null, folder: null, types: [] } });
  expect("text" in (all[0].query as SearchQuery)).toBe(false);
  return all.slice(1);
}

async function typeSearch(r: Awaited<ReturnType<typeof started>>, text: string) {
  const input = r.getByTestId("search-input") as HTMLInputElement;
  await fireEvent.input(input, { target: { value: text } });
  await waitFor(() => expect(r.getByTestId("results").hasAttribute("data-loading")).toBe(false));
}

describe("App", () => {
  beforeEach(() => {
    shell.reset();
    standardShell();
    delete document.body.dataset.ready;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("starts on all photos, newest first, with folders, tags, provider", async () => {
    shell.commands.search = () => page(hits(5).map((h) => ({ ...h, score: null })));
    const r = await started();
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(5));
    expect(r.getByTestId("result-summary").textContent).toMatch(/5\s*photos\s*in your library, newest first/);
    // Nothing typed, nothing dropped, no filter: the engine lists every photo.
    expect(shell.calls("search")).toHaveLength(1);
    const q = shell.calls("search")[0].query as SearchQuery;
    expect("text" in q || "exampleDrop" in q || "examplePhotoId" in q).toBe(false);
    expect(q).toMatchObject({ offset: 0, sort: "score", filter: { folder: null, tag: null, types: [], after: null } });
    expect(document.querySelectorAll("[data-testid=result] .relevance")).toHaveLength(0);
    expect(r.getAllByTestId("month-header").length).toBeGreaterThan(0);
    const sort = r.getByTestId("sort") as HTMLSelectElement;
    expect([...sort.options].map((o) => o.value)).toEqual(["newest", "oldest"]);
    // The order sits with the results it orders, not in the filter bar (which then fits one line at 1280 px).
    expect(r.getByRole("group", { name: "Filters" }).contains(sort)).toBe(false);
    expect(sort.closest(".summary")).toBeTruthy();
    expect(r.getByTestId("provider").textContent).toBe("CUDA (fp16)");
    expect(r.getByTestId("status-bar").textContent).toContain("0.3.0");
    const root = r.getByTestId("root");
    expect(root.dataset.path).toBe("/home/me/Pictures");
    expect(within(root).getByTestId("root-status").textContent).toBe("29 indexed · 0 pending · 1 failed");
    expect(within(root).getByTestId("root-failures").textContent).toContain("truncated image");
    expect(r.getAllByTestId("tag-filter").map((t) => t.dataset.tag)).toEqual(["dog", "beach"]);
    expect(r.getByTestId("progress").textContent).toContain("Up to date");
  });

  it("while the engine rebuilds the search index at start, the start screen says how far it has got", async () => {
    let answer: (st: AppStatus) => void = () => undefined;
    shell.commands.status = () => new Promise<AppStatus>((resolve) => (answer = resolve));
    const r = render(App);
    await waitFor(() => expect(shell.listeners["index-rebuild"]?.length).toBe(1));
    expect(r.queryByTestId("index-rebuild")).toBeNull();
    shell.emit("index-rebuild", { why: "missing", step: "reading", done: 0, total: 1000000 });
    await waitFor(() => expect(r.getByTestId("index-rebuild").textContent).toContain("reading 1,000,000 photos"));
    shell.emit("index-rebuild", { why: "missing", step: "linking", done: 412000, total: 1000000 });
    await waitFor(() => expect(r.getByTestId("index-rebuild").textContent).toContain("412,000 of 1,000,000 photos"));
    expect((document.querySelector(".starting progress") as HTMLProgressElement).value).toBe(412000);
    answer(status());
    await waitFor(() => expect(document.body.dataset.ready).toBe("1"));
    await waitFor(() => expect(r.queryByTestId("index-rebuild")).toBeNull());
    expect(r.getByTestId("search-input")).toBeTruthy();
  });

  it("a rebuild after the start (another process let go, a model fetched) is said above the results until it is done", async () => {
    const r = await started();
    expect(r.queryByTestId("rebuild-banner")).toBeNull();
    shell.emit("index-rebuild", { why: "missing", step: "linking", done: 5000, total: 20000 });
    const banner = await waitFor(() => r.getByTestId("rebuild-banner"));
    expect(within(banner).getByTestId("index-rebuild").textContent).toContain("5,000 of 20,000 photos");
    expect((banner.querySelector("progress") as HTMLProgressElement).value).toBe(5000);
    expect(r.getByTestId("search-input")).toBeTruthy();
    shell.emit("index-rebuild", { why: "missing", step: "done", done: 20000, total: 20000 });
    await waitFor(() => expect(r.queryByTestId("rebuild-banner")).toBeNull());
  });

  it("settings: a model switch that rebuilds the search index says how far it has got, then lists with the new model", async () => {
    const model: AppStatus["model"] = { name: "ViT-B-32__openai", ready: true, dir: "/m/ViT-B-32__openai", problem: null, description: null };
    shell.commands.status = () => status({ model });
    shell.commands.models = () => ({
      choices: [
        { name: "ViT-B-32__openai", description: "OpenAI CLIP ViT-B/32 (English). Fast.", downloadBytes: null, present: true, inUse: true, photosRead: 29 },
        { name: "/home/me/models/mine", description: null, downloadBytes: null, present: true, inUse: false, photosRead: 29 },
      ],
      fixedAtStart: null,
    });
    let switched: (m: AppStatus["model"]) => void = () => undefined;
    shell.commands.set_model = () => new Promise((resolve) => (switched = resolve));
    // The model in use has read nothing yet; the one switched to has read every photo.
    let listed: Hit[] = [];
    shell.commands.search = () => page(listed);
    const r = await started();
    await waitFor(() => expect(r.getByTestId("empty-none")).toBeTruthy());
    await fireEvent.click(r.getByTestId("open-settings"));
    const dlg = await waitFor(() => r.getByTestId("settings"));
    await fireEvent.click(within(dlg).getByTestId("model-change"));
    const rows = await waitFor(() => within(dlg).getAllByTestId("model-choice"));
    await fireEvent.click(rows[1]);
    await fireEvent.click(within(dlg).getByTestId("model-confirm"));
    await waitFor(() => expect(shell.calls("set_model")).toHaveLength(1));
    expect(within(dlg).queryByTestId("index-rebuild")).toBeNull();
    shell.emit("index-rebuild", { why: "missing", step: "reading", done: 0, total: 29 });
    await waitFor(() => expect(within(dlg).getByTestId("index-rebuild").textContent).toContain("reading 29 photos"));
    shell.emit("index-rebuild", { why: "missing", step: "linking", done: 12, total: 29 });
    await waitFor(() => expect(within(dlg).getByTestId("index-rebuild").textContent).toContain("12 of 29 photos"));
    expect((within(dlg).getByTestId("model-picker").querySelector("progress") as HTMLProgressElement).value).toBe(12);
    expect((within(dlg).getByTestId("model-confirm") as HTMLButtonElement).disabled).toBe(true);
    expect(r.queryByTestId("rebuild-banner"), "said once, in the dialog").toBeNull();
    shell.emit("index-rebuild", { why: "missing", step: "done", done: 29, total: 29 });
    await waitFor(() => expect(within(dlg).queryByTestId("index-rebuild")).toBeNull());
    listed = hits(3).map((h) => ({ ...h, score: null }));
    switched({ ...model, name: "/home/me/models/mine", dir: "/home/me/models/mine" });
    await waitFor(() => expect(r.queryByTestId("settings")).toBeNull());
    expect(r.queryByTestId("rebuild-banner")).toBeNull();
    // No job runs for a model that has read every photo: the listing is asked again at once.
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(3));
  });

  it("oldest first lists the other way; an empty library says it is indexing, then shows what arrives", async () => {
    let photos: Hit[] = [];
    shell.commands.status = () =>
      status({ indexed: 0, pending: 30, indexing: { running: true, paused: false, progress: null, error: null } });
    shell.commands.search = () => page(photos.map((h) => ({ ...h, score: null })));
    const r = await started();
    await waitFor(() => expect(r.getByTestId("empty-indexing").textContent).toMatch(/Indexing your photos/));
    // The first photos are done: the listing follows without a new answer.
    photos = hits(2);
    shell.emit("index-progress", { phase: "photos", withText: 0, done: 2, total: 30, failed: 0, encoded: 2, rate: 5, etaSecs: 6, current: "/x/a.jpg" });
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(2));
    expect(shell.calls("search")).toHaveLength(2);
    await fireEvent.change(r.getByTestId("sort"), { target: { value: "oldest" } });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ sort: "oldest" }));
    await waitFor(() => expect(r.getByTestId("result-summary").textContent).toMatch(/in your library, oldest first/));
  });

  it("type checkboxes appear once the library holds two types", async () => {
    shell.commands.formats = () => [{ format: "jpeg", count: 29 }];
    const r = await started();
    expect(r.queryAllByTestId("filter-type")).toHaveLength(0);
    shell.commands.formats = () => [
      { format: "jpeg", count: 29 },
      { format: "heic", count: 3 },
    ];
    shell.emit("index-finished", { error: null, encoded: 3, failed: 0, removed: 0 });
    await waitFor(() => expect(r.getAllByTestId("filter-type").map((c) => c.dataset.type)).toEqual(["jpeg", "heic"]));
  });

  it("no folders yet: says to add one, and the progress card offers nothing to pause", async () => {
    shell.commands.roots = () => [];
    shell.commands.status = () => status({ photos: 0, indexed: 0, failed: 0, pending: 0 });
    shell.commands.search = () => page([]);
    const r = await started();
    expect(r.getByTestId("empty-state").textContent).toMatch(/Add a folder of photos to start/);
    const card = r.getByTestId("progress");
    expect(card.textContent).toContain("No photos yet");
    expect(card.textContent).not.toContain("Up to date");
    expect(r.queryByTestId("pause")).toBeNull();
    // A folder with photos still to read is not empty: it is indexing, and can be paused.
    shell.commands.roots = () => [{ ...ROOT, photos: 0, indexed: 0, failed: 0, failures: [] }];
    shell.commands.status = () => status({ photos: 0, indexed: 0, failed: 0, pending: 0 });
    shell.emit("index-state", { running: true, paused: false, progress: null, error: null });
    await waitFor(() => expect(r.getByTestId("progress").textContent).toContain("Indexing photos"));
    expect(r.getByTestId("pause")).toBeTruthy();
  });

  it("answers typing with results in rank order, once per pause", async () => {
    const r = await started();
    await typeSearch(r, "dog");
    const cells = r.getAllByTestId("result");
    expect(cells.map((c) => c.dataset.path)).toEqual(hits(5).map((h) => h.path));
    expect(cells[0].dataset.score).toBe(String(hits(1)[0].score));
    expect(asked()).toHaveLength(1);
    expect(asked()[0].query).toMatchObject({ text: "dog", offset: 0, includeWeak: false });
  });

  it("no results: says nothing matches well, and offers the closest only quietly", async () => {
    const r = await started();
    await typeSearch(r, "nothing");
    const empty = r.getByTestId("no-results");
    expect(empty.querySelector("h2")!.textContent).toBe("No photos match “nothing” well");
    expect(empty.textContent).toMatch(/Try other words/);
    // What is closest to nonsense is not the answer: no primary "Show more" here.
    expect(r.queryByTestId("show-more")).toBeNull();
    expect(empty.querySelector(".btn.primary")).toBeNull();
    const closest = r.getByTestId("show-closest");
    expect(closest.textContent).toBe("Show the closest anyway");
    expect(closest.classList.contains("primary")).toBe(false);
    await fireEvent.click(closest);
    await waitFor(() => expect(asked()).toHaveLength(2));
    expect(asked()[1].query).toMatchObject({ text: "nothing", includeWeak: true });
  });

  it("a query longer than the model reads says only its start counted", async () => {
    shell.commands.search = (a) => {
      const q = a.query as SearchQuery;
      return page(hits(3), false, { queryCut: (q.text ?? "").length > 300 });
    };
    const r = await started();
    await typeSearch(r, "dog");
    expect(r.queryByTestId("query-cut")).toBeNull();
    await typeSearch(r, "a dog on a sofa, ".repeat(30));
    await waitFor(() => expect(r.getByTestId("query-cut").textContent).toMatch(/first 60 words/));
    // Nothing matches a long query: the note stays, in the no-results state too.
    shell.commands.search = (a) => {
      const q = a.query as SearchQuery;
      return page([], false, { weakerHidden: true, queryCut: (q.text ?? "").length > 300 });
    };
    await typeSearch(r, "a zebra on a sofa, ".repeat(30));
    await waitFor(() => expect(r.getByTestId("no-results")).toBeTruthy());
    expect(within(r.getByTestId("no-results")).getByTestId("query-cut").textContent).toMatch(/first 60 words/);
  });

  it("no results because of the filters: says the filters left nothing, not 'try other words'", async () => {
    shell.commands.search = (a) => {
      const q = a.query as SearchQuery;
      // Nothing passes a date in 2031: no match, and none below the floor either.
      if (q.filter?.after === "2031-01-01") return page([], false, { weakerHidden: false });
      return page(hits(5), false);
    };
    const r = await started();
    await typeSearch(r, "dog");
    await fireEvent.change(r.getByTestId("filter-after"), { target: { value: "2031-01-01" } });
    await waitFor(() => expect(r.getByTestId("no-results-filters")).toBeTruthy());
    expect(r.getByTestId("no-results").textContent).not.toMatch(/Try other words/);
    expect(within(r.getByTestId("no-results")).getByRole("button", { name: "Clear filters" })).toBeTruthy();
    expect(r.queryByTestId("show-more")).toBeNull();
  });

  it("a dropped picture becomes the query; × goes back", async () => {
    const r = await started();
    shell.drop!({ payload: { type: "enter", paths: ["/tmp/cat.png"], position: { x: 1, y: 1 } } });
    await waitFor(() => expect(r.getByTestId("drop-overlay")).toBeTruthy());
    shell.drop!({ payload: { type: "drop", paths: ["/tmp/notes.txt", "/tmp/cat.png"], position: { x: 1, y: 1 } } });
    await waitFor(() => expect(r.queryByTestId("drop-overlay")).toBeNull());
    // The webview's own drop event names paths, and is not searched with: the shell's is.
    expect(asked()).toHaveLength(0);
    shell.emit("picture-dropped", [
      { token: 7, path: "/tmp/notes.txt" },
      { token: 8, path: "/tmp/cat.png" },
    ]);
    await waitFor(() => expect(r.getByTestId("query-image").getAttribute("src")).toBe("data:image/jpeg;base64,QUJD"));
    expect(asked()[0].query).toMatchObject({ exampleDrop: 8 });
    expect(asked()[0].query).not.toHaveProperty("examplePath");
    expect(r.getAllByTestId("result")).toHaveLength(3);
    await fireEvent.click(r.getByTestId("query-clear"));
    await waitFor(() => expect(r.queryByTestId("query-card")).toBeNull());
    // Back to all photos.
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(5));
    expect("exampleDrop" in (lastSearch().query as SearchQuery)).toBe(false);
  });

  it("a camera RAW file dropped is searched with; a type this computer cannot read says so", async () => {
    // The engine's list on a machine without libheif.
    shell.commands.picture_types = () => ["jpg", "jpeg", "png", "cr2", "nef", "dng"];
    const r = await started();
    await waitFor(() => expect(shell.calls("picture_types")).toHaveLength(1));
    shell.emit("picture-dropped", [{ token: 1, path: "/media/card/DCIM/IMG_0042.CR2" }]);
    await waitFor(() => expect(asked()).toHaveLength(1));
    expect(asked()[0].query).toMatchObject({ exampleDrop: 1 });
    shell.emit("picture-dropped", [{ token: 2, path: "/tmp/IMG_7.HEIC" }]);
    await waitFor(() =>
      expect(r.getByTestId("error").textContent).toMatch(/“IMG_7\.HEIC” is a HEIC picture, which Glimpse cannot read on this computer/),
    );
    expect(r.getByTestId("error").textContent).not.toMatch(/HEIC,/);
    expect(asked()).toHaveLength(1);
  });

  it("a drop without a picture says what to drop", async () => {
    const r = await started();
    shell.emit("picture-dropped", [{ token: 3, path: "/tmp/report.pdf" }]);
    await waitFor(() => expect(r.getByTestId("error").textContent).toMatch(/“report\.pdf” is not a picture/));
    expect(asked()).toHaveLength(0);
    await fireEvent.click(r.getByTestId("error-dismiss"));
    expect(r.queryByTestId("error")).toBeNull();
  });

  it("keyboard: Ctrl+F, arrows, Enter opens the lightbox, arrows step, Esc closes", async () => {
    const r = await started();
    const input = r.getByTestId("search-input");
    await fireEvent.keyDown(window, { key: "f", ctrlKey: true });
    expect(document.activeElement).toBe(input);
    await typeSearch(r, "dog");
    await fireEvent.keyDown(input, { key: "ArrowDown" });
    expect(r.getAllByTestId("result")[0].getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(r.getByTestId("results"));
    await fireEvent.keyDown(r.getByTestId("results"), { key: "ArrowRight" });
    expect(r.getAllByTestId("result")[1].getAttribute("aria-selected")).toBe("true");
    await fireEvent.keyDown(r.getByTestId("results"), { key: "Enter" });
    await waitFor(() => expect(r.getByTestId("lightbox-path").textContent).toBe("/photos/p1.jpg"));
    await fireEvent.keyDown(window, { key: "ArrowRight" });
    await waitFor(() => expect(r.getByTestId("lightbox-path").textContent).toBe("/photos/p2.jpg"));
    await fireEvent.keyDown(window, { key: "ArrowLeft" });
    await fireEvent.keyDown(window, { key: "ArrowLeft" });
    await waitFor(() => expect(r.getByTestId("lightbox-path").textContent).toBe("/photos/p0.jpg"));
    await fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(r.queryByTestId("lightbox")).toBeNull());
  });

  it("right-click: Glimpse's own menu instead of the web view's; Copy path, Open, a failure said beside it", async () => {
    const r = await started();
    await typeSearch(r, "dog");
    const cell = r.getAllByTestId("result")[2];
    const ev = new MouseEvent("contextmenu", { bubbles: true, cancelable: true, clientX: 120, clientY: 90 });
    cell.dispatchEvent(ev);
    expect(ev.defaultPrevented).toBe(true);
    const menu = await waitFor(() => r.getByTestId("context-menu"));
    expect(within(menu).getAllByRole("menuitem").map((b) => b.textContent)).toEqual([
      "Open",
      "Reveal in file manager",
      "Copy path",
      "Copy image",
      "Tag…",
      "More like this",
    ]);
    // The right-clicked photo is selected; the first entry has the keyboard.
    expect(r.getAllByTestId("result")[2].dataset.selected).toBe("1");
    expect(document.activeElement).toBe(r.getByTestId("menu-open"));
    await fireEvent.click(r.getByTestId("menu-copy-path"));
    expect(r.queryByTestId("context-menu")).toBeNull();
    await waitFor(() => expect(shell.calls("copy_paths")).toEqual([{ ids: [3] }]));
    const notice = await waitFor(() => r.getByTestId("action-notice"));
    expect(notice.textContent).toContain("Path copied.");
    expect(notice.getAttribute("role")).toBe("status");
    // Open fails: the shell's words, next to where the user acted, not in the top banner.
    shell.commands.open_photo = () => {
      throw "No app could open this photo.";
    };
    r.getAllByTestId("result")[1].dispatchEvent(new MouseEvent("contextmenu", { bubbles: true, cancelable: true }));
    await fireEvent.click(await waitFor(() => r.getByTestId("menu-open")));
    await waitFor(() => expect(r.getByTestId("action-notice").textContent).toContain("No app could open this photo."));
    expect(r.getByTestId("action-notice").getAttribute("role")).toBe("alert");
    expect(shell.calls("open_photo")).toEqual([{ id: 2 }]);
    expect(r.queryByTestId("error")).toBeNull();
    // More like this from the menu searches by that photo.
    r.getAllByTestId("result")[0].dispatchEvent(new MouseEvent("contextmenu", { bubbles: true, cancelable: true }));
    await fireEvent.click(await waitFor(() => r.getByTestId("menu-more-like-this")));
    await waitFor(() => expect(lastSearch().query).toMatchObject({ examplePhotoId: 1 }));
  });

  it("the web view's menu is kept out everywhere but text fields", async () => {
    const r = await started();
    const outside = new MouseEvent("contextmenu", { bubbles: true, cancelable: true });
    r.getByTestId("status-bar").dispatchEvent(outside);
    expect(outside.defaultPrevented).toBe(true);
    const inField = new MouseEvent("contextmenu", { bubbles: true, cancelable: true });
    r.getByTestId("search-input").dispatchEvent(inField);
    expect(inField.defaultPrevented).toBe(false);
    expect(r.queryByTestId("context-menu")).toBeNull();
  });

  it("the menu by keyboard: Shift+F10 on the selected cell, arrows, Enter runs, Esc closes", async () => {
    const r = await started();
    await typeSearch(r, "dog");
    const results = r.getByTestId("results");
    await fireEvent.keyDown(r.getByTestId("search-input"), { key: "ArrowDown" });
    await fireEvent.keyDown(results, { key: "ArrowRight" });
    await fireEvent.keyDown(results, { key: "F10", shiftKey: true });
    const menu = await waitFor(() => r.getByTestId("context-menu"));
    expect(document.activeElement).toBe(r.getByTestId("menu-open"));
    await fireEvent.keyDown(document.activeElement!, { key: "ArrowDown" });
    await waitFor(() => expect(document.activeElement).toBe(r.getByTestId("menu-reveal")));
    await fireEvent.keyDown(document.activeElement!, { key: "ArrowUp" });
    await fireEvent.keyDown(document.activeElement!, { key: "ArrowUp" });
    await waitFor(() => expect(document.activeElement).toBe(r.getByTestId("menu-more-like-this")));
    // Esc closes the menu only: the selection and the grid stay.
    await fireEvent.keyDown(menu, { key: "Escape" });
    await waitFor(() => expect(r.queryByTestId("context-menu")).toBeNull());
    expect(document.activeElement).toBe(results);
    expect(r.getAllByTestId("result")[1].dataset.selected).toBe("1");
    await fireEvent.keyDown(results, { key: "ContextMenu" });
    await waitFor(() => r.getByTestId("context-menu"));
    await fireEvent.keyDown(document.activeElement!, { key: "ArrowDown" });
    await fireEvent.keyDown(document.activeElement!, { key: "ArrowDown" });
    await waitFor(() => expect(document.activeElement).toBe(r.getByTestId("menu-copy-path")));
    await fireEvent.keyDown(document.activeElement!, { key: "Enter" });
    await waitFor(() => expect(shell.calls("copy_paths")).toEqual([{ ids: [2] }]));
    expect(r.queryByTestId("context-menu")).toBeNull();
  });

  it("Tag… puts a tag on the selection and takes one off; Reveal and Copy image say what they did", async () => {
    // A shell that keeps the photos' tags as the engine would.
    const tagsOf = new Map<number, string[]>([[2, ["dog"]]]);
    const counts = () => {
      const c = new Map<string, number>();
      for (const t of tagsOf.values()) for (const n of t) c.set(n, (c.get(n) ?? 0) + 1);
      return [...c].map(([name, count]) => ({ name, count }));
    };
    shell.commands.search = () => page(hits(5).map((h) => ({ ...h, tags: tagsOf.get(h.id) ?? [] })));
    shell.commands.tags = counts;
    shell.commands.tag_photos = (a) => {
      for (const id of a.ids as number[]) tagsOf.set(id, [...(tagsOf.get(id) ?? []).filter((t) => t !== a.name), a.name as string]);
      return counts();
    };
    shell.commands.untag_photos = (a) => {
      for (const id of a.ids as number[]) tagsOf.set(id, (tagsOf.get(id) ?? []).filter((t) => t !== a.name));
      return counts();
    };
    shell.commands.reveal_photos = (a) => `Showed the 2 folders of the ${(a.ids as number[]).length} photos.`;
    shell.commands.copy_image = () => false;
    const r = await started();
    await typeSearch(r, "dog");
    const cells = () => r.getAllByTestId("result");
    await fireEvent.click(cells()[1]);
    await fireEvent.click(cells()[3], { ctrlKey: true });
    await fireEvent.click(r.getByTestId("selection-tag"));
    const pop = await waitFor(() => r.getByTestId("tag-popover"));
    const present = () => within(pop).queryAllByTestId("tag-present").map((c) => `${c.dataset.tag}:${c.dataset.all}`);
    // One of the two is a dog: shown as carried by some.
    expect(present()).toEqual(["dog:0"]);
    const input = within(pop).getByTestId("tag-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: " Holiday" } });
    await fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(shell.calls("tag_photos")).toEqual([{ ids: [2, 4], name: "holiday" }]));
    await waitFor(() => expect(present()).toEqual(["holiday:1", "dog:0"]));
    expect(within(pop).getByTestId("tag-notice").textContent).toBe("Tagged 2 photos “holiday”.");
    // The keyboard is back in the name field, for the next tag.
    await waitFor(() => expect(document.activeElement).toBe(input));
    // The tag list follows, and the name is suggested next time.
    await waitFor(() => expect(r.getAllByTestId("tag-filter").map((b) => b.dataset.tag)).toContain("holiday"));
    await fireEvent.click(within(pop).getAllByTestId("tag-remove")[1]);
    await waitFor(() => expect(shell.calls("untag_photos")).toEqual([{ ids: [2, 4], name: "dog" }]));
    await waitFor(() => expect(present()).toEqual(["holiday:1"]));
    // A failure is said in the popover.
    shell.commands.tag_photos = () => {
      throw "a tag needs a name";
    };
    await fireEvent.input(input, { target: { value: "x" } });
    await fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(within(pop).getByRole("alert").textContent).toContain("a tag needs a name"));
    // Esc closes it wherever the keyboard is, and leaves the selection.
    await fireEvent.keyDown(document.body, { key: "Escape" });
    await waitFor(() => expect(r.queryByTestId("tag-popover")).toBeNull());
    expect(r.getByTestId("selection-bar").textContent).toMatch(/2\s*selected/);
    // Reveal on the selection: the bar says what the shell did.
    await fireEvent.click(r.getByTestId("selection-reveal"));
    await waitFor(() => expect(shell.calls("reveal_photos")).toEqual([{ ids: [2, 4] }]));
    await waitFor(() =>
      expect(within(r.getByTestId("selection-bar")).getByTestId("action-notice").textContent).toBe("Showed the 2 folders of the 2 photos."),
    );
    // Copy image from the menu.
    cells()[0].dispatchEvent(new MouseEvent("contextmenu", { bubbles: true, cancelable: true }));
    await fireEvent.click(await waitFor(() => r.getByTestId("menu-copy-image")));
    await waitFor(() => expect(shell.calls("copy_image")).toEqual([{ id: 1 }]));
    await waitFor(() => expect(r.getByTestId("action-notice").textContent?.trim()).toBe("Image copied."));
  });

  it("the lightbox adds a tag to its photo and takes one off", async () => {
    const tags = ["dog"];
    shell.commands.photo = (a) => ({ ...hits(10)[(a.id as number) - 1], tags: [...tags] });
    shell.commands.tag_photos = (a) => {
      tags.push(a.name as string);
      return [];
    };
    shell.commands.untag_photos = (a) => {
      tags.splice(tags.indexOf(a.name as string), 1);
      return [];
    };
    const r = await started();
    await typeSearch(r, "dog");
    await fireEvent.dblClick(r.getAllByTestId("result")[0]);
    const box = await waitFor(() => r.getByTestId("lightbox"));
    const shown = () => within(box).queryAllByTestId("lightbox-tag").map((t) => t.textContent);
    await waitFor(() => expect(shown()).toEqual(["dog"]));
    const input = within(box).getByTestId("lightbox-tag-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "garden" } });
    await fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(shown()).toEqual(["dog", "garden"]));
    expect(shell.calls("tag_photos")).toEqual([{ ids: [1], name: "garden" }]);
    await fireEvent.click(within(box).getAllByTestId("lightbox-untag")[0]);
    await waitFor(() => expect(shown()).toEqual(["garden"]));
    expect(shell.calls("untag_photos")).toEqual([{ ids: [1], name: "dog" }]);
    // Still open: typing a tag did not step or close.
    expect(r.getByTestId("lightbox")).toBeTruthy();
  });

  it("several at once: Ctrl+click two, Copy paths copies both; Shift+click a range; Esc clears", async () => {
    const r = await started();
    await typeSearch(r, "dog");
    const cells = () => r.getAllByTestId("result");
    const chosen = () => cells().filter((c) => c.dataset.selected === "1").map((c) => Number(c.dataset.index));
    await fireEvent.click(cells()[1]);
    expect(chosen()).toEqual([1]);
    expect(r.queryByTestId("selection-bar")).toBeNull();
    // A click selects, it does not open.
    expect(r.queryByTestId("lightbox")).toBeNull();
    await fireEvent.click(cells()[3], { ctrlKey: true });
    expect(chosen()).toEqual([1, 3]);
    expect(cells()[3].getAttribute("aria-selected")).toBe("true");
    const bar = r.getByTestId("selection-bar");
    expect(bar.textContent).toMatch(/2\s*selected/);
    await fireEvent.click(r.getByTestId("selection-copy-paths"));
    await waitFor(() => expect(shell.calls("copy_paths")).toEqual([{ ids: [2, 4] }]));
    await waitFor(() => expect(within(r.getByTestId("selection-bar")).getByTestId("action-notice").textContent).toBe("2 paths copied."));
    // The menu on one of them offers all their paths.
    cells()[3].dispatchEvent(new MouseEvent("contextmenu", { bubbles: true, cancelable: true }));
    await fireEvent.click(await waitFor(() => r.getByTestId("menu-copy-paths")));
    await waitFor(() => expect(shell.calls("copy_paths")[1]).toEqual({ ids: [2, 4] }));
    expect(chosen()).toEqual([1, 3]);
    // Shift+click: the range from the last one clicked.
    await fireEvent.click(cells()[0]);
    await fireEvent.click(cells()[3], { shiftKey: true });
    expect(chosen()).toEqual([0, 1, 2, 3]);
    expect(r.getByTestId("selection-bar").textContent).toMatch(/4\s*selected/);
    // "Copy to folder…": the shell asks where and copies; the bar says what happened.
    shell.commands.export_photos = (a) => ({
      folder: "/home/me/Export",
      copied: (a.ids as number[]).length - 1,
      failures: [{ path: "/x.jpg", reason: "This photo is no longer in the library." }],
    });
    await fireEvent.click(r.getByTestId("selection-export"));
    expect(shell.calls("export_photos")[0]).toEqual({ ids: [1, 2, 3, 4] });
    await waitFor(() =>
      expect(within(r.getByTestId("selection-bar")).getByTestId("action-notice").textContent).toBe(
        "Copied 3 photos to “Export”. 1 could not be copied: This photo is no longer in the library.",
      ),
    );
    // Shift+arrows extend from the same anchor; Ctrl+A takes all; Esc clears; Clear too.
    await fireEvent.keyDown(r.getByTestId("results"), { key: "ArrowRight", shiftKey: true });
    expect(chosen()).toEqual([0, 1, 2, 3, 4]);
    await fireEvent.keyDown(r.getByTestId("results"), { key: "Escape" });
    expect(chosen()).toEqual([]);
    await fireEvent.keyDown(r.getByTestId("results"), { key: "a", ctrlKey: true });
    expect(chosen()).toEqual([0, 1, 2, 3, 4]);
    await fireEvent.click(r.getByTestId("selection-clear"));
    expect(chosen()).toEqual([]);
    expect(r.queryByTestId("selection-bar")).toBeNull();
    // Ctrl+A in the search box is the box's own.
    await fireEvent.keyDown(r.getByTestId("search-input"), { key: "a", ctrlKey: true });
    expect(chosen()).toEqual([]);
    // Double click (and Enter) still open the lightbox.
    await fireEvent.dblClick(cells()[2]);
    await waitFor(() => expect(r.getByTestId("lightbox-path").textContent).toBe("/photos/p2.jpg"));
  });

  it("the selection follows the results by id when the library changes", async () => {
    let shown = hits(8);
    shell.commands.search = (a) => page((a.query as SearchQuery).text ? shown : hits(5), false);
    const r = await started();
    await typeSearch(r, "a red circle");
    const cells = () => r.getAllByTestId("result");
    await fireEvent.click(cells()[3]);
    await fireEvent.click(cells()[5], { ctrlKey: true });
    await fireEvent.click(cells()[6], { ctrlKey: true });
    shown = hits(8).filter((h) => h.id !== 1 && h.id !== 6);
    shell.emit("index-finished", { error: null, encoded: 0, failed: 0, removed: 2 });
    await waitFor(() => expect(cells()).toHaveLength(6));
    expect(cells().filter((c) => c.dataset.selected === "1").map((c) => c.dataset.path)).toEqual(["/photos/p3.jpg", "/photos/p6.jpg"]);
    await fireEvent.click(r.getByTestId("selection-copy-paths"));
    await waitFor(() => expect(shell.calls("copy_paths")).toEqual([{ ids: [4, 7] }]));
  });

  it("weaker matches: a line before the first one, Show fewer goes back; relevance in words, not cosines", async () => {
    const strong = hits(3).map((h, i) => ({ ...h, score: 0.3 - i * 0.01 }));
    const weak = hits(4, 3).map((h, i) => ({ ...h, score: 0.2 - i * 0.01 }));
    shell.commands.search = (a) => {
      const q = a.query as SearchQuery;
      if (!q.text) return page(hits(5));
      return q.includeWeak ? page([...strong, ...weak]) : page(strong, false, { weakerHidden: true });
    };
    const r = await started();
    await typeSearch(r, "dog");
    expect(r.queryByTestId("weak-divider")).toBeNull();
    await fireEvent.click(r.getByTestId("show-more"));
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(7));
    const line = r.getByTestId("weak-divider");
    expect(line.textContent).toContain("Weaker matches");
    // The line sits after the three better matches: they are on the rows above it.
    const cells = r.getAllByTestId("result");
    expect(cells[3].parentElement).not.toBe(cells[2].parentElement);
    expect(cells.map((c) => c.querySelector(".relevance")!.textContent!.trim())).toEqual([
      "Strong match",
      "Strong match",
      "Good match",
      "Weak match",
      "Weak match",
      "Weak match",
      "Weak match",
    ]);
    expect(cells[0].textContent).not.toMatch(/0\.3/);
    expect(cells[0].dataset.score).toBe("0.3");
    await fireEvent.dblClick(cells[4]);
    await waitFor(() => expect(r.getByTestId("lightbox-match").textContent).toBe("Weak match"));
    await fireEvent.keyDown(window, { key: "Escape" });
    await fireEvent.click(r.getByTestId("show-fewer"));
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(3));
    expect(lastSearch().query).toMatchObject({ text: "dog", includeWeak: false });
    expect(r.queryByTestId("weak-divider")).toBeNull();
    expect(r.getByTestId("show-more")).toBeTruthy();
  });

  it("lightbox: the photo's folder narrows the results to that folder", async () => {
    const trip = (h: Hit) => ({ ...h, path: `/home/me/Pictures/2024/Trip/p${h.id}.jpg` });
    shell.commands.search = () => page(hits(3).map(trip), false);
    shell.commands.photo = (a) => ({ ...trip(hits(3)[(a.id as number) - 1]), tags: [] });
    const r = await started();
    await typeSearch(r, "dog");
    await fireEvent.dblClick(r.getAllByTestId("result")[1]);
    const folder = await waitFor(() => r.getByTestId("lightbox-folder"));
    expect(folder.textContent!.trim()).toBe("Trip");
    await fireEvent.click(folder);
    await waitFor(() => expect(r.queryByTestId("lightbox")).toBeNull());
    await waitFor(() =>
      expect(lastSearch().query).toMatchObject({ text: "dog", filter: { folder: "/home/me/Pictures/2024/Trip" } }),
    );
    // The folder menu shows it under its root, with the root's subfolders from its tree.
    const menu = r.getByTestId("filter-folder") as HTMLSelectElement;
    expect(menu.value).toBe("/home/me/Pictures/2024/Trip");
    const shown = () => [...menu.options].map((o) => o.textContent!.trim());
    // Without the list in view only the chosen folder is offered beside the roots; the trees
    // are read once the pointer comes to the list.
    expect(shown()).toEqual(["All folders", "Pictures", "2024 / Trip"]);
    expect(shell.calls("folders")).toHaveLength(0);
    await fireEvent.pointerEnter(menu);
    await waitFor(() => expect(shell.calls("folders")).toHaveLength(1));
    await waitFor(() => expect(shown()).toHaveLength(6));
    expect(shown()).toEqual(["All folders", "Pictures", "2023 Holiday (12)", "Garden (7)", "Roses (3)", "2024 / Trip"]);
    await fireEvent.click(r.getByTestId("filters-clear"));
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { folder: null } }));
    expect(shown()).toEqual(["All folders", "Pictures", "2023 Holiday (12)", "Garden (7)", "Roses (3)"]);
    // A subfolder chosen in the menu filters by it.
    await fireEvent.change(menu, { target: { value: "/home/me/Pictures/Garden" } });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { folder: "/home/me/Pictures/Garden" } }));
  });

  it("lightbox: details, reveal, more like this", async () => {
    const r = await started();
    await typeSearch(r, "dog");
    await fireEvent.dblClick(r.getAllByTestId("result")[2]);
    const lb = await waitFor(() => r.getByTestId("lightbox"));
    expect(within(lb).getByTestId("lightbox-size").textContent).toBe("1002 B");
    await waitFor(() => expect(within(lb).getAllByTestId("lightbox-tag").map((t) => t.textContent)).toEqual(["dog"]));
    const date = within(lb).getByTestId("lightbox-date").textContent ?? "";
    expect(date).toMatch(/Jun/);
    expect(date).toMatch(/\b0?8:30\b/);
    expect(date).toMatch(/\(UTC\+9\)$/);
    await fireEvent.click(within(lb).getByTestId("reveal"));
    expect(shell.calls("reveal")[0]).toEqual({ id: 3 });
    await fireEvent.click(within(lb).getByTestId("more-like-this"));
    await waitFor(() => expect(r.queryByTestId("lightbox")).toBeNull());
    const card = await waitFor(() => r.getByTestId("query-card"));
    expect(within(card).getByTestId("query-image").getAttribute("src")).toBe(
      `glimpse://localhost/${encodeURIComponent("/lib/thumbs/2.jpg")}`,
    );
    expect(lastSearch().query).toMatchObject({ examplePhotoId: 3 });
  });

  it("the folder panel opens a root's subfolders with counts; one lists its photos", async () => {
    const r = await started();
    await fireEvent.click(await waitFor(() => r.getByTestId("root-subfolders-toggle")));
    const rows = await waitFor(() => {
      const got = r.getAllByTestId("subfolder");
      expect(got).toHaveLength(3);
      return got;
    });
    expect(rows.map((e) => e.textContent?.replace(/\s+/g, " ").trim())).toEqual(["2023 Holiday 12", "Garden 7", "Roses 3"]);
    expect(shell.calls("folders")[0]).toEqual({ root: ROOT.path });
    await fireEvent.click(rows[2]);
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { folder: `${ROOT.path}/Garden/Roses` } }));
    await waitFor(() => expect(r.getAllByTestId("subfolder")[2].classList.contains("shown")).toBe(true));
    await fireEvent.click(r.getByTestId("root-subfolders-toggle"));
    expect(r.queryAllByTestId("subfolder")).toHaveLength(0);
  });

  it("tags can be renamed and deleted from the tag list; the filter follows", async () => {
    let tagList = [
      { name: "dog", count: 12 },
      { name: "beach", count: 5 },
    ];
    shell.commands.tags = () => tagList;
    shell.commands.rename_tag = (a) => {
      tagList = tagList.map((t) => (t.name === a.old ? { ...t, name: a.new as string } : t));
      return tagList;
    };
    shell.commands.delete_tag = (a) => {
      tagList = tagList.filter((t) => t.name !== a.name);
      return tagList;
    };
    const r = await started();
    const tag = (name: string) => r.getAllByTestId("tag-filter").find((e) => e.dataset.tag === name)!;
    await fireEvent.click(await waitFor(() => tag("dog")));
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { tag: "dog" } }));
    await fireEvent.click(r.getByTestId("tags-edit"));
    const row = (name: string) => r.getAllByTestId("tag-edit-row").find((e) => e.dataset.tag === name)!;
    const input = within(row("dog")).getByTestId("tag-rename-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "my dog" } });
    await fireEvent.click(within(row("dog")).getByTestId("tag-rename"));
    expect(shell.calls("rename_tag")[0]).toEqual({ old: "dog", new: "my dog" });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { tag: "my dog" } }));
    await fireEvent.click(within(row("beach")).getByTestId("tag-delete"));
    await fireEvent.click(r.getByTestId("tag-delete-confirm"));
    expect(shell.calls("delete_tag")[0]).toEqual({ name: "beach" });
    await waitFor(() => expect(r.getAllByTestId("tag-edit-row").map((e) => e.dataset.tag)).toEqual(["my dog"]));
    await fireEvent.click(r.getByTestId("tags-edit"));
    expect(tag("my dog").getAttribute("aria-pressed")).toBe("true");
  });

  it("settings say the model by name, what runs it and where the library is; Esc closes", async () => {
    localStorage.removeItem("glimpse.thumbSize");
    shell.commands.status = () =>
      status({
        model: {
          name: "ViT-B-32__openai",
          ready: true,
          dir: "/data/models/ViT-B-32__openai",
          problem: null,
          description: "OpenAI CLIP ViT-B/32 (English). The default: fast on any CPU, about 600 MB.",
        },
      });
    const r = await started();
    await fireEvent.click(r.getByTestId("open-settings"));
    const dlg = await waitFor(() => r.getByTestId("settings"));
    expect(within(dlg).getByTestId("settings-model").textContent).toBe(
      "OpenAI CLIP ViT-B/32 (English) — The default: fast on any CPU, about 600 MB.",
    );
    expect(within(dlg).getByTestId("settings-provider").textContent).toBe("CUDA (fp16)");
    expect(within(dlg).getByTestId("settings-library").textContent).toBe("/data/library");
    expect(dlg.textContent).toContain("Another model reads every photo again");
    await fireEvent.click(within(dlg).getByTestId("settings-size-l"));
    expect(localStorage.getItem("glimpse.thumbSize")).toBe("l");
    expect(r.getByTestId("thumb-size-l").getAttribute("aria-pressed")).toBe("true");
    await fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(r.queryByTestId("settings")).toBeNull());
    localStorage.removeItem("glimpse.thumbSize");
  });

  it("settings: another model is chosen from a list, its cost confirmed, and the window follows it", async () => {
    let model: AppStatus["model"] = { name: "ViT-B-32__openai", ready: true, dir: "/m/ViT-B-32__openai", problem: null, description: null };
    shell.commands.status = () => status({ model });
    const choices = () => ({
      choices: [
        { name: "ViT-B-32__openai", description: "OpenAI CLIP ViT-B/32 (English). Fast.", downloadBytes: null, present: true, inUse: model.name === "ViT-B-32__openai", photosRead: 29 },
        { name: "ViT-L-14__openai", description: "OpenAI CLIP ViT-L/14 (English). Accurate.", downloadBytes: 1536 * 1024 * 1024, present: false, inUse: false, photosRead: 0 },
        { name: "/home/me/models/mine", description: null, downloadBytes: null, present: true, inUse: false, photosRead: 9 },
      ],
      fixedAtStart: null,
    });
    shell.commands.models = choices;
    shell.commands.set_model = (a) => {
      if (a.name === "/home/me/models/mine") throw "The folder “/home/me/models/mine” is not a model Glimpse can use: no config.json";
      model = { name: a.name as string, ready: false, dir: `/m/${a.name}`, problem: "not downloaded", description: "OpenAI CLIP ViT-L/14 (English). Accurate." };
      return model;
    };
    const r = await started();
    await fireEvent.click(r.getByTestId("open-settings"));
    let dlg = await waitFor(() => r.getByTestId("settings"));
    await fireEvent.click(within(dlg).getByTestId("model-change"));
    const rows = await waitFor(() => within(dlg).getAllByTestId("model-choice"));
    expect(rows.map((b) => b.textContent?.replace(/\s+/g, " ").trim())).toEqual([
      "OpenAI CLIP ViT-B/32 (English) in use",
      "OpenAI CLIP ViT-L/14 (English) download, 1.5 GB",
      "mine on this computer",
    ]);
    expect((rows[0] as HTMLButtonElement).disabled).toBe(true);
    // A refusal is said in the dialog, and nothing changes.
    await fireEvent.click(rows[2]);
    expect(within(dlg).getByTestId("model-cost").textContent).toContain("20 photos are read again");
    await fireEvent.click(within(dlg).getByTestId("model-confirm"));
    const said = await waitFor(() => within(dlg).getByTestId("model-error"));
    expect(said.textContent).toContain("is not a model Glimpse can use");
    expect(r.queryByTestId("settings")).not.toBeNull();
    // The one to download: its size and the photos read again are said before anything changes.
    await fireEvent.click(within(dlg).getByTestId("model-back"));
    await fireEvent.click(within(dlg).getAllByTestId("model-choice")[1]);
    const cost = within(dlg).getByTestId("model-cost").textContent ?? "";
    expect(cost).toContain("downloads the model (1.5 GB)");
    expect(cost).toContain("29 photos are read again");
    expect(shell.calls("set_model").map((a) => a.name)).toEqual(["/home/me/models/mine"]);
    await fireEvent.click(within(dlg).getByTestId("model-confirm"));
    await waitFor(() => expect(r.queryByTestId("settings")).toBeNull());
    expect(shell.calls("set_model").map((a) => a.name)).toEqual(["/home/me/models/mine", "ViT-L-14__openai"]);
    // Not on this computer: the window shows the first-run download for the new model.
    await waitFor(() => expect(document.body.textContent).toContain("ViT-L/14"));
    expect(r.queryByTestId("open-settings")).toBeNull();
    dlg = document.body;
    expect(dlg.textContent).not.toContain("Change model");
  });

  it("settings: the cores indexing uses are chosen there and a refusal is said in the dialog", async () => {
    let threads: { using: number; chosen: number | null; cores: number } = { using: 4, chosen: null, cores: 4 };
    shell.commands.status = () => status({ threads });
    shell.commands.set_index_threads = (a) => {
      if (a.threads === 3) throw "Indexing can use 1 to 2 cores on this computer, not 3.";
      threads = { using: (a.threads as number | null) ?? 4, chosen: a.threads as number | null, cores: 4 };
      return threads;
    };
    const r = await started();
    await fireEvent.click(r.getByTestId("open-settings"));
    const dlg = await waitFor(() => r.getByTestId("settings"));
    const select = within(dlg).getByTestId("settings-threads") as HTMLSelectElement;
    expect(select.value).toBe("");
    expect([...select.options].map((o) => o.textContent)).toEqual(["All 4 cores (default)", "1 core", "2 cores", "3 cores", "4 cores"]);
    await fireEvent.change(select, { target: { value: "1" } });
    await waitFor(() => expect(select.value).toBe("1"));
    expect(shell.calls("set_index_threads").map((a) => a.threads)).toEqual([1]);
    expect(within(dlg).queryByTestId("settings-threads-error")).toBeNull();
    await fireEvent.change(select, { target: { value: "3" } });
    const said = await waitFor(() => within(dlg).getByTestId("settings-threads-error"));
    expect(said.textContent).toBe("Indexing can use 1 to 2 cores on this computer, not 3.");
    await fireEvent.change(select, { target: { value: "" } });
    await waitFor(() => expect(within(dlg).queryByTestId("settings-threads-error")).toBeNull());
    expect(threads.chosen).toBeNull();
  });

  it("settings: reading text in photos is switched there, its cost said, and a refusal leaves it as it was", async () => {
    let readText = true;
    shell.commands.status = () => status({ readText });
    shell.commands.set_read_text = (a) => {
      if (readText === false && a.on === true) throw "Another Glimpse (glimpse, pid 4242) is indexing this library.";
      readText = a.on as boolean;
      return readText;
    };
    const r = await started();
    await fireEvent.click(r.getByTestId("open-settings"));
    const dlg = await waitFor(() => r.getByTestId("settings"));
    const on = within(dlg).getByTestId("settings-read-text") as HTMLInputElement;
    expect(on.checked).toBe(true);
    expect(on.closest("label")!.textContent).toContain("Read text in photos");
    const cost = document.getElementById(on.getAttribute("aria-describedby")!)!;
    expect(cost.textContent).toMatch(/several times what indexing a photo does/);
    expect(cost.textContent).toMatch(/what was read stays searchable/);
    await fireEvent.click(on);
    expect(shell.calls("set_read_text")).toEqual([{ on: false }]);
    await waitFor(() => expect(readText).toBe(false));
    expect(on.checked).toBe(false);
    await fireEvent.click(on);
    const said = await waitFor(() => within(dlg).getByTestId("settings-read-text-error"));
    expect(said.textContent).toBe("Another Glimpse (glimpse, pid 4242) is indexing this library.");
    expect(on.checked).toBe(false);
  });

  it("words in photos: a result shows the words it matched, the lightbox outlines and lists them", async () => {
    const tesco = hit(0, {
      width: 4000,
      height: 3000,
      words: [
        {
          line: 2,
          text: "TESCO 12.40",
          spans: [[6, 11]],
          quad: [
            [400, 300],
            [1200, 300],
            [1200, 500],
            [400, 500],
          ],
        },
      ],
    });
    shell.commands.search = () => page([tesco, ...hits(2, 1)]);
    shell.commands.photo = (a) => ({ ...[tesco, ...hits(2, 1)][(a.id as number) - 1] });
    const r = await started();
    await typeSearch(r, "12.40");
    const cells = r.getAllByTestId("result");
    const caption = within(cells[0]).getByTestId("result-words");
    expect(caption.textContent).toBe("TESCO 12.40");
    expect([...caption.querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["12.40"]);
    expect(cells[0].getAttribute("aria-label")).toMatch(/shows “12\.40”$/);
    expect(within(cells[1]).queryByTestId("result-words")).toBeNull();

    await fireEvent.dblClick(cells[0]);
    const lb = await waitFor(() => r.getByTestId("lightbox"));
    const listed = within(lb).getByTestId("lightbox-words");
    expect(listed.textContent).toBe("TESCO 12.40");
    expect(listed.querySelector("mark")!.textContent).toBe("12.40");
    // The original cannot be shown here: its 720 px preview is, at its own pixels, and the box is
    // scaled from the original's 4000 × 3000 pixels to it.
    await fireEvent.error(lb.querySelector("img.photo")!);
    const preview = await waitFor(() => {
      const img = lb.querySelector("img.photo") as HTMLImageElement;
      expect(img.getAttribute("src")).toContain(encodeURIComponent("/lib/thumbs/0.jpg"));
      return img;
    });
    expect(within(lb).queryByTestId("lightbox-boxes")).toBeNull();
    Object.defineProperty(preview, "naturalWidth", { value: 720 });
    Object.defineProperty(preview, "naturalHeight", { value: 540 });
    await fireEvent.load(preview);
    const boxes = await waitFor(() => within(lb).getByTestId("lightbox-boxes"));
    expect(boxes.getAttribute("width")).toBe("720");
    expect(within(lb).getAllByTestId("lightbox-box").map((b) => b.getAttribute("points"))).toEqual(["72,54 216,54 216,90 72,90"]);
    // A photo that matched by meaning alone has nothing to outline or list.
    await fireEvent.keyDown(window, { key: "ArrowRight" });
    await waitFor(() => expect(within(r.getByTestId("lightbox")).queryByTestId("lightbox-words")).toBeNull());
    expect(within(r.getByTestId("lightbox")).queryByTestId("lightbox-boxes")).toBeNull();
  });

  it("the text filter: photos with text, without, or either; Clear puts it back", async () => {
    const r = await started();
    await typeSearch(r, "receipt");
    const select = r.getByTestId("filter-text") as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(["Any text", "With text", "Without text"]);
    expect(lastSearch().query).toMatchObject({ filter: { hasText: null } });
    await fireEvent.change(select, { target: { value: "with" } });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ text: "receipt", filter: { hasText: true } }));
    await fireEvent.change(select, { target: { value: "without" } });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { hasText: false } }));
    await fireEvent.click(r.getByTestId("filters-clear"));
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { hasText: null } }));
    expect(select.value).toBe("");
  });

  it("the size control changes the thumbnails and is kept; a panorama shows whole", async () => {
    localStorage.removeItem("glimpse.thumbSize");
    shell.commands.search = (a) => {
      const q = a.query as { offset: number };
      if (q.offset > 0) return { hits: [], hasMore: false, weakerHidden: false, queryPreview: null, queryCut: false };
      return {
        hits: [
          hit(1, { width: 8000, height: 600 }),
          hit(2, { width: 4000, height: 3000 }),
        ],
        hasMore: false,
        weakerHidden: false,
        queryPreview: null,
        queryCut: false,
      };
    };
    const r = await started();
    await typeSearch(r, "dog");
    const imgs = () => r.getAllByTestId("result").map((c) => c.querySelector("img") as HTMLImageElement);
    await waitFor(() => expect(imgs()).toHaveLength(2));
    expect(imgs().map((i) => i.classList.contains("whole"))).toEqual([true, false]);
    // Justified rows of the size's height; the panorama's cell is three times as wide as tall.
    const rows = () => r.getAllByTestId("result-row");
    expect(rows().map((e) => e.style.height)).toEqual(["180px"]);
    const slot = (i: number) => r.getAllByTestId("result")[i].parentElement as HTMLElement;
    expect([slot(0).style.width, slot(1).style.width]).toEqual(["540px", "240px"]);
    await fireEvent.click(r.getByTestId("thumb-size-xl"));
    // At XL the two no longer fit one 992 px row: the panorama fills a (slightly taller) row,
    // the other photo starts the last row, at the size's height.
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(rows()[1].style.height).toBe("300px");
    expect(slot(0).style.width).toBe("992px");
    expect(r.getByTestId("thumb-size-xl").getAttribute("aria-pressed")).toBe("true");
    expect(localStorage.getItem("glimpse.thumbSize")).toBe("xl");
    localStorage.removeItem("glimpse.thumbSize");
  });

  it("lightbox: a photo's position reads as a place, and the map opens only on click", async () => {
    const photo = shell.commands.photo;
    shell.commands.photo = (a) => ({ ...(photo(a) as object), latitude: 35.68123, longitude: -139.7671 });
    shell.commands.open_map = () => {
      throw "No web browser could open the map; its address is copied.";
    };
    const r = await started();
    await typeSearch(r, "dog");
    await fireEvent.dblClick(r.getAllByTestId("result")[0]);
    const lb = await waitFor(() => r.getByTestId("lightbox"));
    await waitFor(() => expect(within(lb).getByTestId("lightbox-place").textContent).toBe("35.6812° N, 139.7671° W"));
    expect(shell.calls("open_map")).toHaveLength(0);
    await fireEvent.click(within(lb).getByTestId("lightbox-open-map"));
    expect(shell.calls("open_map")[0]).toEqual({ id: 1 });
    await waitFor(() =>
      expect(within(lb).getByTestId("lightbox-notice").textContent).toBe("No web browser could open the map; its address is copied."),
    );
  });

  it("lightbox: zoom by keys and buttons, from the picture's own size", async () => {
    const r = await started();
    await typeSearch(r, "dog");
    await fireEvent.dblClick(r.getAllByTestId("result")[2]);
    const lb = await waitFor(() => r.getByTestId("lightbox"));
    const img = lb.querySelector("img.photo") as HTMLImageElement;
    // jsdom lays nothing out: the stage measures 0, so the picture opens at its own pixels.
    Object.defineProperty(img, "naturalWidth", { value: 1080 });
    Object.defineProperty(img, "naturalHeight", { value: 8000 });
    await fireEvent.load(img);
    const level = () => within(lb).getByTestId("zoom-level").textContent;
    await waitFor(() => expect(level()).toBe("100%"));
    expect(img.style.width).toBe("1080px");
    await fireEvent.keyDown(window, { key: "+" });
    await waitFor(() => expect(level()).toBe("125%"));
    expect(img.style.height).toBe("10000px");
    await fireEvent.click(within(lb).getByTestId("zoom-out"));
    await fireEvent.click(within(lb).getByTestId("zoom-out"));
    await waitFor(() => expect(level()).toBe("80%"));
    await fireEvent.keyDown(window, { key: "1" });
    await waitFor(() => expect(level()).toBe("100%"));
    // The next photo opens at its own opening scale again.
    await fireEvent.keyDown(window, { key: "ArrowRight" });
    await waitFor(() => expect(within(r.getByTestId("lightbox")).queryByTestId("zoom-level")).toBeNull());
  });

  it("lightbox: a failed reveal says so inside the lightbox, in the shell's words; Copy path", async () => {
    const r = await started();
    await typeSearch(r, "dog");
    await fireEvent.dblClick(r.getAllByTestId("result")[2]);
    const lb = await waitFor(() => r.getByTestId("lightbox"));
    const words = "No file manager could show this photo; its path is copied, to paste where you need it.";
    shell.commands.reveal = () => {
      throw words;
    };
    await fireEvent.click(within(lb).getByTestId("reveal"));
    const notice = await waitFor(() => within(lb).getByTestId("lightbox-notice"));
    expect(notice.textContent).toBe(words);
    expect(notice.getAttribute("role")).toBe("alert");
    expect(r.queryByTestId("error")).toBeNull();
    await fireEvent.click(within(lb).getByTestId("copy-path"));
    await waitFor(() => expect(within(lb).getByTestId("lightbox-notice").textContent).toBe("Path copied."));
    expect(shell.calls("copy_paths")[0]).toEqual({ ids: [3] });
    // The next photo starts without the last one's message.
    await fireEvent.keyDown(window, { key: "ArrowRight" });
    await waitFor(() => expect(within(r.getByTestId("lightbox")).queryByTestId("lightbox-notice")).toBeNull());
  });

  it("tags filter and unfilter; filters re-run the query", async () => {
    const r = await started();
    await typeSearch(r, "dog");
    await fireEvent.click(r.getAllByTestId("tag-filter")[1]);
    await waitFor(() => expect(r.getByTestId("active-tag").textContent).toContain("beach"));
    expect(lastSearch().query).toMatchObject({ text: "dog", filter: { tag: "beach" } });
    await fireEvent.click(r.getAllByTestId("tag-filter")[1]);
    await waitFor(() => expect(r.queryByTestId("active-tag")).toBeNull());
    // The type checkboxes are the library's formats, its RAWs as one.
    const types = r.getAllByTestId("filter-type");
    expect(types.map((c) => c.dataset.type)).toEqual(["jpeg", "png", "raw"]);
    expect(types.map((c) => c.parentElement!.textContent!.trim())).toEqual(["JPEG", "PNG", "RAW"]);
    await fireEvent.click(types[1]);
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { types: ["png"], tag: null } }));
    await fireEvent.click(r.getAllByTestId("filter-type")[2]);
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { types: ["png", "raw"] } }));
    await fireEvent.change(r.getByTestId("sort"), { target: { value: "newest" } });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ sort: "newest" }));
    // An empty date field says "Any day" (WebKitGTK fills it with a grey date otherwise).
    const after = r.getByTestId("filter-after") as HTMLInputElement;
    expect(after.closest(".date")!.classList.contains("empty")).toBe(true);
    await fireEvent.change(after, { target: { value: "2024-06-01" } });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { after: "2024-06-01" } }));
    expect(after.closest(".date")!.classList.contains("empty")).toBe(false);
    // Typed in words, read when left (not at every keystroke); what is no day is said, unsearched.
    const before = r.getByTestId("filter-before") as HTMLInputElement;
    const asked = shell.calls("search").length;
    await fireEvent.input(before, { target: { value: "July 2024" } });
    expect(shell.calls("search")).toHaveLength(asked);
    await fireEvent.change(before, { target: { value: "July 2024" } });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ filter: { after: "2024-06-01", before: "2024-07-01" } }));
    expect(before.value).toBe("2024-07-01");
    const n = shell.calls("search").length;
    await fireEvent.change(before, { target: { value: "next tuesday" } });
    expect(r.getByText(/“next tuesday” is not a day Glimpse reads/)).toBeTruthy();
    expect(shell.calls("search")).toHaveLength(n);
  });

  it("a tag with an empty box lists its photos by date, without scores", async () => {
    shell.commands.search = (a) => {
      const q = a.query as SearchQuery;
      return page(
        hits(4).map((h) => ({ ...h, score: q.text ? h.score : null })),
        false,
      );
    };
    const r = await started();
    await fireEvent.click(r.getAllByTestId("tag-filter")[0]);
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(4));
    expect(lastSearch().query).toMatchObject({ filter: { tag: "dog" }, includeWeak: false });
    expect("text" in (lastSearch().query as SearchQuery)).toBe(false);
    expect(r.getByRole("status").textContent).toMatch(/4\s*photos\s*tagged “dog”, newest first/);
    expect(document.querySelectorAll("[data-testid=result] .relevance")).toHaveLength(0);
    // A listing has no scores to rank by: the menu offers dates and shows the order in force.
    const sort = r.getByTestId("sort") as HTMLSelectElement;
    const offered = () => [...sort.options].map((o) => o.value);
    expect(offered()).toEqual(["newest", "oldest"]);
    expect(sort.value).toBe("newest");
    await fireEvent.change(sort, { target: { value: "oldest" } });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ sort: "oldest", filter: { tag: "dog" } }));
    expect(r.getByRole("status").textContent).toMatch(/tagged “dog”, oldest first/);
    await typeSearch(r, "beach");
    expect(document.querySelectorAll("[data-testid=result] .relevance")).toHaveLength(4);
    expect(offered()).toEqual(["score", "newest", "oldest"]);
    expect(sort.value).toBe("oldest");
  });

  it("the results follow the library: deleted photos leave, the open photo stays by id, nothing flashes", async () => {
    let shown = hits(22);
    shell.commands.search = (a) => {
      const q = a.query as SearchQuery;
      return page(q.text ? shown : hits(5), false);
    };
    const r = await started();
    await typeSearch(r, "a red circle");
    expect(r.getAllByTestId("result")).toHaveLength(22);
    await fireEvent.dblClick(r.getAllByTestId("result")[4]);
    await waitFor(() => expect(r.getByTestId("lightbox-path").textContent).toBe("/photos/p4.jpg"));
    const before = shell.calls("search").length;
    // Photos 0 and 1 were deleted during a rescan; the job ends having removed them.
    shown = hits(22).slice(2);
    shell.emit("index-finished", { error: null, encoded: 0, failed: 0, removed: 2 });
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(20));
    expect(shell.calls("search").length).toBe(before + 1);
    expect(lastSearch().query).toMatchObject({ text: "a red circle", offset: 0, limit: 200 });
    const paths = r.getAllByTestId("result").map((c) => c.dataset.path);
    expect(paths).not.toContain("/photos/p0.jpg");
    expect(paths[0]).toBe("/photos/p2.jpg");
    // The lightbox and the selection are still on the same photo, now third; no loading shown.
    expect(r.getByTestId("lightbox-path").textContent).toBe("/photos/p4.jpg");
    expect(r.getAllByTestId("result")[2].getAttribute("aria-selected")).toBe("true");
    expect(r.getByTestId("results").hasAttribute("data-loading")).toBe(false);
    // The open photo itself is deleted: the lightbox closes.
    shown = shown.filter((h) => h.path !== "/photos/p4.jpg");
    shell.emit("index-finished", { error: null, encoded: 0, failed: 0, removed: 1 });
    await waitFor(() => expect(r.queryByTestId("lightbox")).toBeNull());
    expect(r.getAllByTestId("result")).toHaveLength(19);
    // A job that changed nothing asks nothing.
    const after = shell.calls("search").length;
    shell.emit("index-finished", { error: null, encoded: 0, failed: 0, removed: 0 });
    await new Promise((res) => setTimeout(res, 50));
    expect(shell.calls("search").length).toBe(after);
  });

  it("more like this on a photo that is gone says so, offers the way back, not a retry", async () => {
    shell.commands.search = (a) => {
      const q = a.query as SearchQuery;
      if (q.examplePhotoId === 3) throw "This photo is no longer in the library.";
      return page(hits(5), false);
    };
    const r = await started();
    await typeSearch(r, "dog");
    await fireEvent.click(r.getAllByTestId("result-more-like-this")[2]);
    const gone = await waitFor(() => r.getByTestId("photo-gone"));
    expect(gone.textContent).toContain("This photo is no longer in the library");
    expect(within(gone).queryByRole("button", { name: "Try again" })).toBeNull();
    expect(r.queryByTestId("error")).toBeNull();
    await fireEvent.click(r.getByTestId("photo-gone-back"));
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(5));
    expect(lastSearch().query).toMatchObject({ text: "dog" });
  });

  it("Clear filters puts the sort back to best match; the summary says any other order", async () => {
    const r = await started();
    await typeSearch(r, "dog");
    expect(r.getByTestId("result-summary").textContent).not.toMatch(/first/);
    await fireEvent.change(r.getByTestId("sort"), { target: { value: "newest" } });
    await waitFor(() => expect(lastSearch().query).toMatchObject({ sort: "newest" }));
    await waitFor(() => expect(r.getByTestId("result-summary").textContent).toMatch(/for “dog” · newest first/));
    await fireEvent.click(r.getByTestId("filters-clear"));
    await waitFor(() => expect(lastSearch().query).toMatchObject({ text: "dog", sort: "score" }));
    expect((r.getByTestId("sort") as HTMLSelectElement).value).toBe("score");
    await waitFor(() => expect(r.getByTestId("result-summary").textContent).not.toMatch(/first/));
    expect(r.queryByTestId("filters-clear")).toBeNull();
  });

  it("a listing that no photo passes says the filters left nothing", async () => {
    shell.commands.search = (a) => {
      const q = a.query as SearchQuery;
      return page(q.filter?.types?.length ? [] : hits(5).map((h) => ({ ...h, score: null })));
    };
    const r = await started();
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(5));
    await fireEvent.click(r.getAllByTestId("filter-type")[1]);
    const empty = await waitFor(() => r.getByTestId("no-results"));
    expect(empty.textContent).toContain("No photos match these filters");
    await fireEvent.click(within(empty).getByRole("button", { name: "Clear filters" }));
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(5));
  });

  it("auto-tag: edit labels, run, report", async () => {
    const r = await started();
    await fireEvent.click(r.getByTestId("autotag"));
    await waitFor(() => expect(r.getAllByTestId("label-chip")).toHaveLength(3));
    // The folder is named, so that one tagged before starts from its own labels.
    expect(shell.calls("default_labels")[0]).toEqual({ folder: "/home/me/Pictures" });
    expect(r.getByTestId("label-editor").textContent).toMatch(/Photos added to\s+this folder later get tagged/);
    expect(r.queryByTestId("autotag-keeps")).toBeNull();
    const input = r.getByTestId("label-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "Dog, red bike," } });
    expect(r.getAllByTestId("label-chip").map((c) => c.dataset.label)).toEqual(["people", "dog", "beach", "red bike"]);
    await fireEvent.click(r.getAllByTestId("label-remove")[0]);
    expect(r.getAllByTestId("label-chip")).toHaveLength(3);
    await fireEvent.click(r.getByTestId("label-clear-all"));
    expect(r.queryAllByTestId("label-chip")).toHaveLength(0);
    // "Clear all" can be taken back, until the labels change again.
    await fireEvent.click(r.getByTestId("label-undo-clear"));
    expect(r.getAllByTestId("label-chip").map((c) => c.dataset.label)).toEqual(["dog", "beach", "red bike"]);
    await fireEvent.click(r.getByTestId("label-clear-all"));
    expect(r.queryAllByTestId("label-chip")).toHaveLength(0);
    // With no labels, tagging says what is missing instead of doing nothing.
    await fireEvent.click(r.getByTestId("autotag-run"));
    expect(r.getByRole("alert").textContent).toContain("Add at least one label first");
    expect(shell.calls("tag_folder")).toHaveLength(0);
    await fireEvent.input(input, { target: { value: "whiteboard" } });
    await fireEvent.keyDown(input, { key: "Enter" });
    expect(r.getAllByTestId("label-chip").map((c) => c.dataset.label)).toEqual(["whiteboard"]);
    await fireEvent.click(r.getByTestId("autotag-run"));
    const report = await waitFor(() => r.getByTestId("autotag-report"));
    expect(report.textContent).toContain("Tagged 20 of 29 photos");
    expect(shell.calls("tag_folder")[0]).toEqual({ folder: "/home/me/Pictures", labels: ["whiteboard"] });
    // Tagged: the folder keeps tagging what arrives, until stopped.
    expect(r.getByTestId("autotag-keeps").textContent).toContain("New photos in this folder are tagged with these labels");
  });

  it("auto-tag: the folder list says which folders tag new photos, and forgets a stopped one", async () => {
    let rules = [{ folder: "/home/me/Pictures/2024/Trip", labels: ["beach", "snow"] }];
    shell.commands.roots = () => [{ ...ROOT, autoTags: rules }];
    shell.commands.tag_folder = (a) => {
      rules = [{ folder: a.folder as string, labels: a.labels as string[] }, ...rules];
      return { folder: a.folder, photos: 29, tagged: 20, labels: [] };
    };
    shell.commands.stop_auto_tag = (a) => {
      rules = rules.filter((x) => x.folder !== a.folder);
      return true;
    };
    const r = await started();
    const lines = () => r.queryAllByTestId("root-autotag").map((e) => e.textContent?.trim());
    expect(lines()).toEqual(["Auto-tags new photos in 2024/Trip: beach, snow"]);
    await fireEvent.click(r.getByTestId("autotag"));
    await waitFor(() => expect(r.getAllByTestId("label-chip")).toHaveLength(3));
    await fireEvent.click(r.getByTestId("autotag-run"));
    await waitFor(() =>
      expect(lines()).toEqual([
        "Auto-tags new photos: people, dog, beach",
        "Auto-tags new photos in 2024/Trip: beach, snow",
      ]),
    );
    await fireEvent.click(r.getByTestId("autotag-stop"));
    await waitFor(() => expect(lines()).toEqual(["Auto-tags new photos in 2024/Trip: beach, snow"]));
  });

  it("auto-tag: a folder that keeps tagging starts from its labels and can be stopped", async () => {
    shell.commands.default_labels = () => ({ labels: ["circle", "star"], keepsTagging: true });
    const r = await started();
    await fireEvent.click(r.getByTestId("autotag"));
    await waitFor(() => expect(r.getAllByTestId("label-chip").map((c) => c.dataset.label)).toEqual(["circle", "star"]));
    expect(r.getByTestId("autotag-keeps").textContent).toContain("tagged with its labels as they arrive");
    await fireEvent.click(r.getByTestId("autotag-stop"));
    await waitFor(() => expect(r.queryByTestId("autotag-keeps")).toBeNull());
    expect(shell.calls("stop_auto_tag")).toEqual([{ folder: "/home/me/Pictures" }]);
    // A failed stop says why and keeps the line.
    shell.commands.stop_auto_tag = () => {
      throw "the library is busy";
    };
    await fireEvent.click(r.getByTestId("autotag-run"));
    await waitFor(() => r.getByTestId("autotag-keeps"));
    await fireEvent.click(r.getByTestId("autotag-stop"));
    await waitFor(() => expect(r.getByRole("alert").textContent).toContain("the library is busy"));
    expect(r.getByTestId("autotag-keeps")).toBeTruthy();
  });

  it("auto-tag: Clear all before the suggestions arrive keeps the list empty; a line feed adds", async () => {
    let give!: (s: { labels: string[]; keepsTagging: boolean }) => void;
    shell.commands.default_labels = () => new Promise((resolve) => (give = resolve));
    const r = await started();
    await fireEvent.click(r.getByTestId("autotag"));
    await fireEvent.click(r.getByTestId("label-clear-all"));
    give({ labels: ["people", "dog"], keepsTagging: false });
    await new Promise((res) => setTimeout(res, 20));
    expect(r.queryAllByTestId("label-chip")).toHaveLength(0);
    const input = r.getByTestId("label-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "circle" } });
    await fireEvent.keyDown(input, { key: "Unidentified", keyCode: 13 });
    await fireEvent.input(input, { target: { value: "star" } });
    const ev = new InputEvent("beforeinput", { data: "\n", inputType: "insertText", cancelable: true, bubbles: true });
    input.dispatchEvent(ev);
    await waitFor(() => expect(r.getAllByTestId("label-chip").map((c) => c.dataset.label)).toEqual(["circle", "star"]));
    expect(ev.defaultPrevented).toBe(true);
    // The panel is not modal: the tag list stays usable while it is open.
    expect(document.querySelector("[aria-modal=true]")).toBeNull();
    await fireEvent.click(r.getAllByTestId("tag-filter")[0]);
    await waitFor(() => expect(r.getByTestId("active-tag").textContent).toContain("dog"));
    expect(r.getByTestId("label-editor")).toBeTruthy();
  });

  it("folders: add by path, remove after confirming, pause/resume, progress with rate and ETA", async () => {
    const r = await started();
    await fireEvent.input(r.getByTestId("folder-path-input"), { target: { value: " /mnt/photos " } });
    await fireEvent.click(r.getByTestId("folder-path-add"));
    await waitFor(() => expect(r.getAllByTestId("root")).toHaveLength(2));
    expect(shell.calls("add_typed_folder")[0]).toEqual({ path: "/mnt/photos" });
    await fireEvent.click(within(r.getAllByTestId("root")[0]).getByTestId("root-remove"));
    expect(shell.calls("remove_root")).toHaveLength(0);
    await fireEvent.click(r.getByTestId("root-remove-confirm"));
    await waitFor(() => expect(r.queryAllByTestId("root")).toHaveLength(0));
    expect(shell.calls("remove_root")[0]).toEqual({ path: "/home/me/Pictures" });

    shell.emit("index-progress", { phase: "photos", withText: 0, done: 250, total: 1000, failed: 0, encoded: 250, rate: 50, etaSecs: 125, current: "/x/a.jpg" });
    await waitFor(() => expect(r.getByTestId("progress").textContent).toContain("50 photos/s"));
    expect(r.getByTestId("progress").textContent).toContain("about 2 min 5 s left");
    await fireEvent.click(r.getByTestId("pause"));
    await waitFor(() => expect(r.getByTestId("resume")).toBeTruthy());
    await fireEvent.click(r.getByTestId("resume"));
    await waitFor(() => expect(r.getByTestId("pause")).toBeTruthy());
  });

  it("indexing progress shows the pass that reads text, with how many show text; pause holds it", async () => {
    const r = await started();
    shell.emit("index-progress", {
      phase: "text",
      withText: 14,
      done: 120,
      total: 5000,
      failed: 0,
      encoded: 0,
      rate: 2,
      etaSecs: 2440,
      current: "/x/receipt.jpg",
    });
    const card = r.getByTestId("progress");
    await waitFor(() => expect(card.textContent).toContain("Reading text in photos…"));
    expect(r.getByTestId("progress-text").textContent).toBe("120 of 5,000 photos read for text · 14 with text · 2.0 photos/s · about 40 min 40 s left");
    expect(r.getByTestId("status-bar").textContent).toContain("Reading text 120/5,000");
    await fireEvent.click(r.getByTestId("pause"));
    expect(shell.calls("pause_indexing")).toHaveLength(1);
    await waitFor(() => expect(card.textContent).toContain("Reading text paused"));
    expect(r.getByTestId("status-bar").textContent).toContain("Reading text paused");
    await fireEvent.click(r.getByTestId("resume"));
    expect(shell.calls("resume_indexing")).toHaveLength(1);
    await waitFor(() => expect(card.textContent).toContain("Reading text in photos…"));
  });

  it("before the first text pass, the download of the text reader shows in the card and the status bar, in bytes", async () => {
    const r = await started();
    const mb = 1024 * 1024;
    shell.emit("index-progress", { phase: "textModels", withText: 0, done: 6 * mb, total: 15 * mb, failed: 0, encoded: 0, rate: 2 * mb, etaSecs: 4.5, current: null });
    const card = r.getByTestId("progress");
    await waitFor(() => expect(card.textContent).toContain("Getting ready to read text…"));
    expect(r.getByTestId("progress-text").textContent).toBe("Downloading the text reader: 6 MB of 15 MB · 2 MB/s · about 5 s left");
    expect(card.querySelector("[role=progressbar]")?.getAttribute("aria-valuenow")).toBe("40");
    expect(r.getByTestId("status-bar").textContent).toContain("Downloading the text reader 6 MB/15 MB");
    const searches = shell.calls("search").length;
    shell.emit("index-progress", { phase: "textModels", withText: 0, done: 12 * mb, total: 15 * mb, failed: 0, encoded: 0, rate: 2 * mb, etaSecs: 1.5, current: null });
    await waitFor(() => expect(r.getByTestId("progress-text").textContent).toContain("12 MB of 15 MB"));
    // Bytes arriving change no answer: the results are not asked again (the window follows at most every 1.5 s).
    await new Promise((resolve) => setTimeout(resolve, 1800));
    expect(shell.calls("search")).toHaveLength(searches);
  });

  it("command errors show in a dismissible banner", async () => {
    shell.commands.search = () => {
      throw "the model is not loaded";
    };
    const r = await started();
    await typeSearch(r, "dog");
    expect(r.getByTestId("error").textContent).toContain("the model is not loaded");
    expect(r.getByTestId("search-error")).toBeTruthy();
  });

  it("first run: explains, downloads with progress, then opens the app", async () => {
    let ready = false;
    shell.commands.status = () =>
      status({
        provider: null,
        model: {
          name: "ViT-B-32__openai",
          ready,
          dir: "/data/models/ViT-B-32__openai",
          problem: ready ? null : "model.onnx is missing",
          description: "OpenAI CLIP ViT-B/32 (English). The default: fast on any CPU, about 600 MB.",
        },
      });
    let finish!: () => void;
    shell.commands.fetch_model = () =>
      new Promise((resolve) => {
        finish = () => {
          ready = true;
          resolve({ name: "ViT-B-32__openai", ready: true, dir: "/data/models/ViT-B-32__openai", problem: null });
        };
      });
    const r = await started();
    const fr = r.getByTestId("first-run");
    expect(within(fr).getByTestId("model-name").textContent).toBe("OpenAI CLIP ViT-B/32 (English)");
    expect(within(fr).getByTestId("model-description").textContent).toBe(". The default: fast on any CPU, about 600 MB.");
    // One sentence each, no doubled stop or dash glued to a word.
    expect(fr.textContent).not.toMatch(/\.\.|\w—/);
    expect(within(fr).getByTestId("model-dir").textContent).toBe("/data/models/ViT-B-32__openai");
    expect(within(fr).getByTestId("model-problem").textContent).toBe("model.onnx is missing");
    expect(r.getByTestId("provider").textContent).toBe("No model");
    await fireEvent.click(r.getByTestId("fetch-model"));
    shell.emit("model-progress", { file: "visual/model.onnx", done: 1024 * 1024 * 50, total: 1024 * 1024 * 200 });
    await waitFor(() => expect(r.getByTestId("model-progress").textContent).toContain("50 MB of 200 MB (25%)"));
    finish();
    await waitFor(() => expect(r.queryByTestId("first-run")).toBeNull());
    expect(r.getByTestId("search-input")).toBeTruthy();
  });

  it("a library another Glimpse is indexing: searchable, says who, reloads once this window takes over", async () => {
    let held: string | null = "glimpse, pid 4242";
    shell.commands.status = () => status({ heldBy: held });
    let folders = [ROOT];
    const roots = vi.fn(() => folders);
    shell.commands.roots = roots;
    const r = await started();
    expect(r.getByTestId("library-held").textContent).toContain("Another Glimpse (glimpse, pid 4242) is indexing this library");
    // Searching works meanwhile; it is not the model's fault.
    expect(r.queryByTestId("first-run")).toBeNull();
    expect(r.queryByTestId("library-problem")).toBeNull();
    expect(r.getByTestId("progress").textContent).toContain("Indexed by another Glimpse");
    expect(r.queryByTestId("pause")).toBeNull();
    await typeSearch(r, "dog");
    expect(r.getAllByTestId("result").length).toBe(5);
    // The folders the other one indexes show up here too.
    expect(r.getAllByTestId("root").length).toBe(1);
    folders = [ROOT, { ...ROOT, path: "/media/usb/Photos", photos: 3, indexed: 1, pending: 2, failed: 0, failures: [] }];
    await waitFor(() => expect(r.getAllByTestId("root").length).toBe(2), { timeout: 5000 });
    const before = roots.mock.calls.length;
    held = null;
    await waitFor(() => expect(r.queryByTestId("library-held")).toBeNull(), { timeout: 5000 });
    await waitFor(() => expect(roots.mock.calls.length).toBeGreaterThan(before));
    expect(r.getByTestId("progress").textContent).toContain("Up to date");
    expect(r.getByTestId("pause")).toBeTruthy();
  }, 15_000);

  it("a damaged library says why and is not mistaken for a missing model", async () => {
    shell.commands.status = () =>
      status({ provider: null, libraryProblem: "catalog integrity check failed: database disk image is malformed" });
    const r = await started();
    expect(r.getByTestId("library-problem").textContent).toContain("Glimpse cannot open its library");
    expect(r.getByTestId("library-problem-reason").textContent).toContain("malformed");
    expect(r.queryByTestId("first-run")).toBeNull();
    expect(r.queryByTestId("search-input")).toBeNull();
  });

  it("coming back to the window shows tags and folders another Glimpse changed meanwhile", async () => {
    let tagged = [{ name: "dog", count: 4 }];
    shell.commands.tags = () => tagged;
    const r = await started();
    expect(r.getAllByTestId("tag-filter").map((t) => t.dataset.tag)).toEqual(["dog"]);
    // `glimpse tag ~/Pictures --labels beach` in a terminal, then back to the window.
    tagged = [
      { name: "dog", count: 4 },
      { name: "beach", count: 7 },
    ];
    window.dispatchEvent(new Event("focus"));
    await waitFor(() => expect(r.getAllByTestId("tag-filter").map((t) => t.dataset.tag)).toEqual(["dog", "beach"]));
  });

  it("a library that could not be opened is tried again on request", async () => {
    let problem: string | null = "cannot lock the library /data/library: Permission denied (os error 13)";
    shell.commands.status = () => status({ libraryProblem: problem, provider: problem ? null : "CPU" });
    const r = await started();
    expect(r.getByTestId("library-problem-reason").textContent).toContain("Permission denied");
    // Still failing: the reason stays, the button comes back.
    await fireEvent.click(r.getByTestId("library-retry"));
    await waitFor(() => expect((r.getByTestId("library-retry") as HTMLButtonElement).disabled).toBe(false));
    expect(r.getByTestId("library-problem")).toBeTruthy();
    // Fixed (permissions, a drive mounted): the library opens and its folders load.
    problem = null;
    await fireEvent.click(r.getByTestId("library-retry"));
    await waitFor(() => expect(r.getByTestId("search-input")).toBeTruthy());
    await waitFor(() => expect(r.getAllByTestId("root").length).toBe(1));
  });

  it("first run: a failed download explains the manual route", async () => {
    shell.commands.status = () => status({ model: { name: "m", ready: false, dir: "/models/m", problem: null } });
    shell.commands.fetch_model = () => {
      throw "network unreachable";
    };
    const r = await started();
    await fireEvent.click(r.getByTestId("fetch-model"));
    await waitFor(() => expect(r.getByTestId("fetch-model-error").textContent).toContain("network unreachable"));
    expect((r.getByTestId("first-run").querySelector("details") as HTMLDetailsElement).open).toBe(true);
    // A model Glimpse knows nothing about is named without another model's size.
    expect(r.getByTestId("model-name").textContent).toBe("m");
    expect(r.queryByTestId("model-description")).toBeNull();
    expect(r.getByTestId("first-run").textContent).not.toContain("600 MB");
  });
});
