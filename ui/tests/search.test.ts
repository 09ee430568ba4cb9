import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  FOLLOW_MAX,
  PHOTO_GONE,
  SearchController,
  describeAnswer,
  exampleGone,
  followIndex,
  isBusy,
  isPhotoGoneMessage,
  sameHits,
  sourceOf,
  weakStart,
  type SearchOptions,
} from "../src/lib/search";
import { defaultFilters } from "../src/lib/query";
import { deferredSearch, flush, hit, hits, page } from "./helpers";

/** A controller whose library is open (as the window opens it once the model is loaded). */
function opened(fn: ReturnType<typeof deferredSearch>["fn"], opts: SearchOptions = {}) {
  const c = new SearchController(fn, opts);
  c.open();
  return c;
}

/** Opens `c` and answers its first listing with `h`. */
async function listed(s: ReturnType<typeof deferredSearch>, h = hits(3), opts: SearchOptions = {}) {
  const c = opened(s.fn, opts);
  s.calls[s.calls.length - 1].resolve(page(h));
  await flush();
  return c;
}

describe("SearchController", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("debounces typing and sends only the last text, once", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3), { debounceMs: 250 });
    s.calls.length = 0;
    c.setText("d");
    vi.advanceTimersByTime(100);
    c.setText("do");
    vi.advanceTimersByTime(100);
    c.setText("dog");
    expect(c.value.phase).toBe("waiting");
    expect(isBusy(c.value)).toBe(true);
    vi.advanceTimersByTime(249);
    expect(s.calls).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(s.calls).toHaveLength(1);
    expect(s.calls[0].query).toMatchObject({ text: "dog", offset: 0, limit: 200, includeWeak: false, sort: "score" });
    expect(c.value.phase).toBe("loading");
    s.calls[0].resolve(page(hits(3)));
    await flush();
    expect(c.value.phase).toBe("done");
    expect(c.value.hits.map((h) => h.path)).toEqual(["/photos/p0.jpg", "/photos/p1.jpg", "/photos/p2.jpg"]);
    expect(isBusy(c.value)).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(s.calls).toHaveLength(1);
  });

  it("drops a stale answer that arrives after a newer query's", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3), { debounceMs: 250 });
    s.calls.length = 0;
    c.setText("cat");
    vi.advanceTimersByTime(250);
    c.setText("dog");
    vi.advanceTimersByTime(250);
    expect(s.calls.map((x) => x.query.text)).toEqual(["cat", "dog"]);
    s.calls[1].resolve(page([hits(1, 50)[0]]));
    await flush();
    s.calls[0].resolve(page(hits(5)));
    await flush();
    expect(c.value.hits).toHaveLength(1);
    expect(c.value.hits[0].path).toBe("/photos/p50.jpg");
    expect(c.value.answered).toEqual({ kind: "text", text: "dog" });
  });

  it("drops an answer for text that was typed over before it came back", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3), { debounceMs: 250 });
    s.calls.length = 0;
    c.setText("cat");
    vi.advanceTimersByTime(250);
    c.setText("cats"); // still in the debounce
    s.calls[0].resolve(page(hits(4)));
    await flush();
    expect(c.value.hits).toHaveLength(3); // still the listing on screen
    expect(c.value.answered).toEqual({ kind: "browse" });
    expect(c.value.phase).toBe("waiting");
    vi.advanceTimersByTime(250);
    expect(s.calls[1].query.text).toBe("cats");
  });

  it("does not search again for the same words (trailing space)", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3), { debounceMs: 250 });
    s.calls.length = 0;
    c.setText("dog");
    vi.advanceTimersByTime(250);
    c.setText("dog ");
    expect(c.value.phase).toBe("loading");
    s.calls[0].resolve(page(hits(2)));
    await flush();
    vi.advanceTimersByTime(500);
    expect(s.calls).toHaveLength(1);
    expect(c.value.phase).toBe("done");
    expect(c.value.hits).toHaveLength(2);
  });

  it("nothing to search before the library opens: idle, and nothing is sent", () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn);
    expect(c.value.phase).toBe("idle");
    c.setText("dog");
    c.setFilters({ tag: "beach" });
    vi.advanceTimersByTime(1000);
    expect(s.calls).toHaveLength(0);
    expect(c.value.phase).toBe("idle");
    // Opening searches what the window holds by then.
    c.open();
    c.open();
    expect(s.calls).toHaveLength(1);
    expect(s.calls[0].query).toMatchObject({ text: "dog", filter: { tag: "beach" } });
  });

  it("opens on all photos, newest first: no text, no example, no filter", async () => {
    const s = deferredSearch();
    const c = opened(s.fn);
    expect(c.value.phase).toBe("loading");
    expect(s.calls).toHaveLength(1);
    const q = s.calls[0].query;
    expect("text" in q || "exampleDrop" in q || "examplePhotoId" in q).toBe(false);
    expect(q).toMatchObject({ offset: 0, limit: 200, sort: "score", filter: { folder: null, tag: null, types: [] } });
    s.calls[0].resolve(page(hits(3).map((h) => ({ ...h, score: null }))));
    await flush();
    expect(c.value.answered).toEqual({ kind: "browse" });
    expect(describeAnswer(c.value)).toBe("in your library, newest first");
    c.setFilters({ sort: "oldest" });
    expect(s.calls[1].query.sort).toBe("oldest");
  });

  it("an emptied box lists all photos at once; a letter taken back keeps the results", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    const answer = c.value.answer;
    s.calls.length = 0;
    // A letter typed and taken back inside the debounce: the listing on screen stays, unasked.
    c.setText("d");
    expect(c.value.phase).toBe("waiting");
    c.setText("");
    expect(c.value.phase).toBe("done");
    expect(c.value.answer).toBe(answer);
    vi.advanceTimersByTime(1000);
    expect(s.calls).toHaveLength(0);
    c.setText("dog");
    vi.advanceTimersByTime(250);
    s.calls[0].resolve(page(hits(2)));
    await flush();
    c.setText("   ");
    expect(s.calls).toHaveLength(2);
    expect("text" in s.calls[1].query).toBe(false);
    s.calls[1].resolve(page(hits(7)));
    await flush();
    expect(c.value.hits).toHaveLength(7);
    expect(c.value.answered).toEqual({ kind: "browse" });
  });

  it("Enter searches without waiting", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.setText("beach");
    c.submit();
    expect(s.calls).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(s.calls).toHaveLength(1);
  });

  it("loads further pages with offsets while hasMore, one at a time", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3), { pageSize: 200 });
    s.calls.length = 0;
    c.setText("dog");
    c.submit();
    c.loadMore(); // not before the first page is in
    expect(s.calls).toHaveLength(1);
    s.calls[0].resolve(page(hits(200), true));
    await flush();
    c.loadMore();
    c.loadMore();
    expect(s.calls).toHaveLength(2);
    expect(s.calls[1].query).toMatchObject({ text: "dog", offset: 200, limit: 200 });
    expect(c.value.loadingMore).toBe(true);
    expect(isBusy(c.value)).toBe(true);
    s.calls[1].resolve(page(hits(200, 200), true));
    await flush();
    expect(c.value.hits).toHaveLength(400);
    expect(c.value.hits[399].path).toBe("/photos/p399.jpg");
    c.loadMore();
    expect(s.calls[2].query.offset).toBe(400);
    s.calls[2].resolve(page(hits(10, 400), false));
    await flush();
    expect(c.value.hits).toHaveLength(410);
    expect(c.value.hasMore).toBe(false);
    c.loadMore();
    expect(s.calls).toHaveLength(3);
  });

  it("a page for an older query is not appended to a newer one", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.setText("dog");
    c.submit();
    s.calls[0].resolve(page(hits(200), true));
    await flush();
    c.loadMore();
    c.setText("cat");
    c.submit();
    s.calls[1].resolve(page(hits(200, 200), true)); // the dog page 2
    await flush();
    expect(c.value.hits).toHaveLength(200); // still dog page 1 on screen while cat loads
    expect(c.value.loadingMore).toBe(false);
    s.calls[2].resolve(page(hits(3, 900)));
    await flush();
    expect(c.value.hits.map((h) => h.id)).toEqual([901, 902, 903]);
  });

  it("filters, sort and tags re-run the current query immediately", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.setText("dog");
    c.submit();
    s.calls[0].resolve(page(hits(1)));
    await flush();
    c.setFilters({ sort: "newest", types: ["png"], after: "2024-01-01" });
    expect(s.calls).toHaveLength(2);
    expect(s.calls[1].query).toMatchObject({
      text: "dog",
      sort: "newest",
      filter: { types: ["png"], after: "2024-01-01", before: null, folder: null, tag: null },
    });
    c.toggleTag("beach");
    expect(s.calls[2].query.filter.tag).toBe("beach");
    c.toggleTag("beach");
    expect(s.calls[3].query.filter.tag).toBeNull();
    c.setFilters({ sort: "newest" }); // nothing changed
    expect(s.calls).toHaveLength(4);
  });

  it("filters with an empty box list their photos; clearing them lists all photos", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.toggleTag("beach");
    expect(s.calls).toHaveLength(1);
    expect(s.calls[0].query).toMatchObject({ includeWeak: false, offset: 0, filter: { tag: "beach" } });
    expect("text" in s.calls[0].query).toBe(false);
    s.calls[0].resolve(page(hits(200).map((h) => ({ ...h, score: null })), true));
    await flush();
    expect(c.value.answered).toEqual({ kind: "browse" });
    c.loadMore();
    expect(s.calls[1].query).toMatchObject({ offset: 200, filter: { tag: "beach" } });
    c.toggleTag("beach");
    expect(c.value.phase).toBe("loading");
    expect(s.calls[2].query).toMatchObject({ offset: 0, filter: { tag: null } });
    c.setFilters({ after: "2024-06-01" });
    expect(s.calls[3].query).toMatchObject({ filter: { after: "2024-06-01", tag: null } });
    c.setFilters({ after: "" });
    expect(s.calls[4].query).toMatchObject({ filter: { after: null, tag: null } });
    expect(s.calls).toHaveLength(5);
  });

  it("show more re-runs with weak matches; new words reset it", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.setText("dog");
    c.submit();
    s.calls[0].resolve(page(hits(2), false, { weakerHidden: true }));
    await flush();
    expect(c.value.weakerHidden).toBe(true);
    c.showWeaker();
    expect(s.calls[1].query).toMatchObject({ text: "dog", includeWeak: true, offset: 0 });
    c.setText("cat");
    c.submit();
    expect(s.calls[2].query).toMatchObject({ text: "cat", includeWeak: false });
  });

  it("knows where the weaker matches start once shown, and Show fewer goes back to the others", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.setText("dog");
    c.submit();
    const strong = hits(3);
    s.calls[0].resolve(page(strong, false, { weakerHidden: true }));
    await flush();
    expect(weakStart(c.value)).toBe(-1);
    c.showWeaker();
    // The answer without them was complete: no need to ask anything else.
    expect(s.calls).toHaveLength(2);
    s.calls[1].resolve(page(hits(8)));
    await flush();
    expect(c.value.strongFloor).toBe(strong[2].score);
    expect(weakStart(c.value)).toBe(3);
    // In date order weaker and better matches mix: no single line divides them.
    expect(weakStart({ ...c.value, filters: { ...c.value.filters, sort: "newest" } })).toBe(-1);
    c.showFewer();
    expect(s.calls[2].query).toMatchObject({ text: "dog", includeWeak: false, offset: 0 });
    expect(c.value.includeWeak).toBe(false);
    s.calls[2].resolve(page(strong, false, { weakerHidden: true }));
    await flush();
    expect(c.value.hits).toHaveLength(3);
    expect(weakStart(c.value)).toBe(-1);
  });

  it("nothing above the floor: every closest match shown anyway is a weaker one", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.setText("qwxz blorp");
    c.submit();
    s.calls[0].resolve(page([], false, { weakerHidden: true }));
    await flush();
    c.showWeaker();
    s.calls[1].resolve(page(hits(4).map((h) => ({ ...h, score: 0.12 }))));
    await flush();
    expect(c.value.strongFloor).toBe(Number.POSITIVE_INFINITY);
    expect(weakStart(c.value)).toBe(0);
  });

  it("a filter changed while weaker matches are shown: asks quietly where they begin", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.setText("dog");
    c.submit();
    s.calls[0].resolve(page(hits(3), false, { weakerHidden: true }));
    await flush();
    c.showWeaker();
    s.calls[1].resolve(page(hits(8)));
    await flush();
    c.setFilters({ sort: "newest" });
    // The order does not move the line: nothing more to ask.
    expect(s.calls).toHaveLength(3);
    c.setFilters({ sort: "score", folder: "/trip" });
    expect(s.calls).toHaveLength(5);
    expect(s.calls[3].query).toMatchObject({ text: "dog", includeWeak: true, filter: { folder: "/trip" } });
    expect(s.calls[4].query).toMatchObject({ text: "dog", includeWeak: false, offset: 0, limit: FOLLOW_MAX, sort: "score", filter: { folder: "/trip" } });
    s.calls[3].resolve(page(hits(5)));
    await flush();
    expect(c.value.strongFloor).toBeNull();
    expect(weakStart(c.value)).toBe(-1);
    s.calls[4].resolve(page(hits(2)));
    await flush();
    expect(weakStart(c.value)).toBe(2);
    // More than FOLLOW_MAX above the floor: the line stays unknown rather than guessed.
    c.setFilters({ folder: "/big" });
    s.calls[6].resolve(page(hits(FOLLOW_MAX), true));
    s.calls[5].resolve(page(hits(200), true));
    await flush();
    expect(c.value.strongFloor).toBeNull();
  });

  it("searches by example and clears back to the words", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.setText("dog");
    c.submit();
    c.setExample({ kind: "file", path: "/tmp/drop.png", token: 3 });
    expect(s.calls[1].query).toMatchObject({ exampleDrop: 3 });
    expect(s.calls[1].query.text).toBeUndefined();
    s.calls[1].resolve(page(hits(2), false, { queryPreview: "data:image/jpeg;base64,AAA" }));
    await flush();
    expect(c.value.queryPreview).toBe("data:image/jpeg;base64,AAA");
    c.setExample({ kind: "photo", id: 42, path: "/photos/x.jpg", thumbnail: null });
    expect(s.calls[2].query).toMatchObject({ examplePhotoId: 42 });
    c.clearExample();
    expect(c.value.example).toBeNull();
    expect(s.calls[3].query).toMatchObject({ text: "dog" });
  });

  it("typing leaves an example search", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    s.calls.length = 0;
    c.setExample({ kind: "file", path: "/tmp/drop.png", token: 4 });
    c.setText("red car");
    expect(c.value.example).toBeNull();
    vi.advanceTimersByTime(250);
    expect(s.calls[1].query.text).toBe("red car");
  });

  it("reports errors once and lets the same query be retried", async () => {
    const s = deferredSearch();
    const onError = vi.fn();
    const c = await listed(s, hits(3), { onError });
    s.calls.length = 0;
    c.setText("dog");
    c.submit();
    s.calls[0].reject("model not loaded");
    await flush();
    expect(onError).toHaveBeenCalledExactlyOnceWith("model not loaded");
    expect(c.value.error).toBe("model not loaded");
    expect(c.value.phase).toBe("done");
    c.submit();
    expect(s.calls).toHaveLength(2);
  });

  it("a failed next page stops auto-loading until retried", async () => {
    const s = deferredSearch();
    const onError = vi.fn();
    const c = await listed(s, hits(3), { onError });
    s.calls.length = 0;
    c.setText("dog");
    c.submit();
    s.calls[0].resolve(page(hits(200), true));
    await flush();
    c.loadMore();
    s.calls[1].reject(new Error("disk gone"));
    await flush();
    expect(onError).toHaveBeenCalledWith("disk gone");
    expect(c.value.moreFailed).toBe(true);
    expect(c.value.hits).toHaveLength(200);
    c.loadMore();
    expect(s.calls).toHaveLength(2);
    c.retryMore();
    expect(s.calls).toHaveLength(3);
    expect(s.calls[2].query.offset).toBe(200);
  });

  it("sourceOf prefers the example, then words, else lists (all photos when nothing is typed)", () => {
    expect(sourceOf({ text: " x ", example: null })).toEqual({ kind: "text", text: "x" });
    expect(sourceOf({ text: "", example: null })).toEqual({ kind: "browse" });
    expect(sourceOf({ text: " ", example: null })).toEqual({ kind: "browse" });
    expect(sourceOf({ text: "x", example: { kind: "photo", id: 3, path: "/p", thumbnail: null } })).toEqual({
      kind: "photo",
      id: 3,
    });
    expect(sourceOf({ text: "", example: { kind: "file", path: "/tmp/a.png", token: 2 } })).toEqual({
      kind: "file",
      path: "/tmp/a.png",
      token: 2,
    });
  });

  it("more like this on a photo that is gone says so, without a failure banner", async () => {
    const s = deferredSearch();
    const onError = vi.fn();
    const c = await listed(s, hits(3), { onError });
    c.setExample({ kind: "photo", id: 139, path: "/photos/gone.jpg", thumbnail: null });
    s.calls[1].reject(PHOTO_GONE);
    await flush();
    expect(c.value.error).toBe(PHOTO_GONE);
    expect(exampleGone(c.value)).toBe(true);
    expect(onError).not.toHaveBeenCalled();
    // Going back lists again.
    c.clearExample();
    expect(s.calls[2].query.examplePhotoId).toBeUndefined();
    // Any other failure is a failure.
    c.setExample({ kind: "photo", id: 5, path: "/photos/p4.jpg", thumbnail: null });
    s.calls[3].reject("the model is not loaded");
    await flush();
    expect(exampleGone(c.value)).toBe(false);
    expect(onError).toHaveBeenCalledWith("the model is not loaded");
  });
});

describe("SearchController.follow (the results keep up with the library)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("asks again quietly for as many as are loaded: no loading, no new answer, the deleted gone", async () => {
    const s = deferredSearch();
    const c = await listed(s);
    c.setText("a red circle");
    c.submit();
    s.calls[1].resolve(page(hits(200), true));
    await flush();
    c.loadMore();
    s.calls[2].resolve(page(hits(100, 200), true));
    await flush();
    expect(c.value.hits).toHaveLength(300);
    const answer = c.value.answer;
    c.follow();
    expect(s.calls).toHaveLength(4);
    expect(s.calls[3].query).toMatchObject({ text: "a red circle", offset: 0, limit: 300 });
    expect(c.value.phase).toBe("done");
    expect(isBusy(c.value)).toBe(false);
    // Photos 5 and 6 were deleted; two new ones came in at the end.
    const now = hits(300).filter((h) => h.id !== 5 && h.id !== 6).concat(hits(2, 900));
    s.calls[3].resolve(page(now, true));
    await flush();
    expect(c.value.hits.map((h) => h.id)).toEqual(now.map((h) => h.id));
    expect(c.value.answer).toBe(answer);
    expect(c.value.phase).toBe("done");
    // Further pages go on from what is loaded.
    c.loadMore();
    expect(s.calls[4].query.offset).toBe(300);
  });

  it("asks for at least a page, and never more than FOLLOW_MAX", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3));
    c.follow();
    expect(s.calls[1].query.limit).toBe(200);
    s.calls[1].resolve(page(hits(1200), true));
    await flush();
    c.follow();
    expect(s.calls[2].query.limit).toBe(FOLLOW_MAX);
  });

  it("an unchanged answer changes nothing on screen", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3));
    const before = c.value;
    const seen = vi.fn();
    const off = c.subscribe(seen);
    seen.mockClear();
    c.follow();
    s.calls[1].resolve(page(hits(3)));
    await flush();
    expect(seen).not.toHaveBeenCalled();
    expect(c.value).toBe(before);
    off();
  });

  it("a quiet answer that arrives after a newer query is dropped", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3));
    c.follow();
    c.setText("dog");
    c.submit();
    s.calls[2].resolve(page(hits(2, 50)));
    await flush();
    s.calls[1].resolve(page(hits(9)));
    await flush();
    expect(c.value.hits.map((h) => h.id)).toEqual([51, 52]);
    expect(c.value.answered).toEqual({ kind: "text", text: "dog" });
    // Also while the newer query is still on its way, or waiting for its debounce.
    c.follow();
    c.setText("cat");
    s.calls[3].resolve(page(hits(9)));
    await flush();
    expect(c.value.hits.map((h) => h.id)).toEqual([51, 52]);
    c.follow(); // waiting for the debounce: the query to come sees the library as it is
    expect(s.calls).toHaveLength(4);
  });

  it("a failed quiet refresh keeps the results and raises no banner", async () => {
    const s = deferredSearch();
    const onError = vi.fn();
    const onQuietError = vi.fn();
    const c = await listed(s, hits(3), { onError, onQuietError });
    c.follow();
    s.calls[1].reject("the library is busy");
    await flush();
    expect(c.value.hits).toHaveLength(3);
    expect(c.value.error).toBeNull();
    expect(onError).not.toHaveBeenCalled();
    expect(onQuietError).toHaveBeenCalledWith("the library is busy");
  });

  it("one quiet refresh at a time; changes meanwhile ask once more after it", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3));
    c.follow();
    c.follow();
    c.follow();
    expect(s.calls).toHaveLength(2);
    s.calls[1].resolve(page(hits(4)));
    await flush();
    expect(s.calls).toHaveLength(3);
    s.calls[2].resolve(page(hits(5)));
    await flush();
    expect(s.calls).toHaveLength(3);
    expect(c.value.hits).toHaveLength(5);
  });

  it("a first page on its way when the library changed is followed once it is in", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3));
    c.setText("dog");
    c.submit();
    c.follow();
    expect(s.calls).toHaveLength(2);
    s.calls[1].resolve(page(hits(2)));
    await flush();
    expect(s.calls).toHaveLength(3);
    expect(s.calls[2].query).toMatchObject({ text: "dog", offset: 0 });
  });

  it("does not mix with paging: a next page waits for the refresh, a refresh for the page", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(200), {});
    // listed() answered without hasMore; give it more.
    c.follow();
    s.calls[1].resolve(page(hits(200), true));
    await flush();
    c.follow();
    c.loadMore(); // waits for the refresh on its way
    expect(s.calls).toHaveLength(3);
    s.calls[2].resolve(page(hits(200), true));
    await flush();
    expect(s.calls).toHaveLength(4);
    expect(s.calls[3].query.offset).toBe(200);
    c.follow(); // waits for the page on its way
    expect(s.calls).toHaveLength(4);
    s.calls[3].resolve(page(hits(200, 200), true));
    await flush();
    expect(s.calls).toHaveLength(5);
    expect(s.calls[4].query).toMatchObject({ offset: 0, limit: 400 });
  });

  it("leaves an error alone (a retry is the user's)", async () => {
    const s = deferredSearch();
    const c = await listed(s, hits(3));
    c.setExample({ kind: "photo", id: 139, path: "/p", thumbnail: null });
    s.calls[1].reject(PHOTO_GONE);
    await flush();
    c.follow();
    expect(s.calls).toHaveLength(2);
  });
});

describe("results kept by id", () => {
  it("followIndex finds the same photo, or nothing, or its neighbour", () => {
    const before = hits(6);
    const after = [before[0], before[2], before[1], before[5]];
    expect(followIndex(0, before, after)).toBe(0);
    expect(followIndex(1, before, after)).toBe(2);
    expect(followIndex(2, before, after)).toBe(1);
    expect(followIndex(3, before, after)).toBe(-1);
    expect(followIndex(-1, before, after)).toBe(-1);
    expect(followIndex(3, before, after, true)).toBe(3); // 4 is gone too: the next left is 5
    expect(followIndex(5, before, [before[0]], true)).toBe(0);
    expect(followIndex(2, before, [], true)).toBe(-1);
  });

  it("sameHits compares photos, order and what a cell shows", () => {
    expect(sameHits(hits(3), hits(3))).toBe(true);
    expect(sameHits(hits(3), hits(2))).toBe(false);
    expect(sameHits(hits(3), [...hits(3)].reverse())).toBe(false);
    expect(sameHits([hit(1)], [hit(1, { tags: ["dog"] })])).toBe(false);
    expect(sameHits([hit(1)], [hit(1, { score: 0.1 })])).toBe(false);
  });

  it("knows the engine's words for a photo that is gone, old and new", () => {
    expect(isPhotoGoneMessage("This photo is no longer in the library.")).toBe(true);
    expect(isPhotoGoneMessage("no photo with id 139")).toBe(true);
    expect(isPhotoGoneMessage("the model is not loaded")).toBe(false);
    expect(exampleGone({ answered: { kind: "text", text: "x" }, error: PHOTO_GONE })).toBe(false);
  });
});

describe("describeAnswer (the summary line)", () => {
  const base = { includeWeak: false, filters: defaultFilters() };
  it("says the order when it is not best match", () => {
    expect(describeAnswer({ ...base, answered: { kind: "text", text: "dog" } })).toBe("for “dog”");
    expect(describeAnswer({ ...base, answered: { kind: "text", text: "dog" }, filters: { ...defaultFilters(), sort: "newest" } })).toBe(
      "for “dog” · newest first",
    );
    expect(describeAnswer({ ...base, answered: { kind: "photo", id: 1 }, filters: { ...defaultFilters(), sort: "oldest" } })).toBe(
      "like this photo · oldest first",
    );
    expect(describeAnswer({ ...base, includeWeak: true, answered: { kind: "file", path: "/x", token: 1 } })).toBe(
      "like the picture you dropped, weaker matches included",
    );
  });
  it("a listing always says its order", () => {
    expect(describeAnswer({ ...base, answered: { kind: "browse" } })).toBe("in your library, newest first");
    expect(describeAnswer({ ...base, answered: { kind: "browse" }, filters: { ...defaultFilters(), tag: "dog", sort: "oldest" } })).toBe(
      "tagged “dog”, oldest first",
    );
    // A folder alone is named; with another filter, the filters are.
    expect(describeAnswer({ ...base, answered: { kind: "browse" }, filters: { ...defaultFilters(), folder: "/p/Trips/Garden" } })).toBe(
      "in “Garden”, newest first",
    );
    expect(
      describeAnswer({ ...base, answered: { kind: "browse" }, filters: { ...defaultFilters(), folder: "/p/Garden", types: ["png"] } }),
    ).toBe("passing the filters, newest first");
    expect(describeAnswer({ ...base, answered: { kind: "browse" }, filters: { ...defaultFilters(), types: ["png"] } })).toBe(
      "passing the filters, newest first",
    );
    expect(describeAnswer({ ...base, answered: null })).toBe("");
  });
});
