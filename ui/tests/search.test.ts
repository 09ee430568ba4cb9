import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SearchController, isBusy, sourceOf } from "../src/lib/search";
import { defaultFilters } from "../src/lib/query";
import { deferredSearch, flush, hits, page } from "./helpers";

describe("SearchController", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("debounces typing and sends only the last text, once", async () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn, { debounceMs: 250 });
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
    const c = new SearchController(s.fn, { debounceMs: 250 });
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
    const c = new SearchController(s.fn, { debounceMs: 250 });
    c.setText("cat");
    vi.advanceTimersByTime(250);
    c.setText("cats"); // still in the debounce
    s.calls[0].resolve(page(hits(4)));
    await flush();
    expect(c.value.hits).toHaveLength(0);
    expect(c.value.phase).toBe("waiting");
    vi.advanceTimersByTime(250);
    expect(s.calls[1].query.text).toBe("cats");
  });

  it("does not search again for the same words (trailing space)", async () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn, { debounceMs: 250 });
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

  it("an empty box is no search and clears the results at once", async () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn);
    c.setText("dog");
    vi.advanceTimersByTime(250);
    s.calls[0].resolve(page(hits(2)));
    await flush();
    c.setText("   ");
    expect(c.value.phase).toBe("idle");
    expect(c.value.hits).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(s.calls).toHaveLength(1);
  });

  it("Enter searches without waiting", () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn);
    c.setText("beach");
    c.submit();
    expect(s.calls).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(s.calls).toHaveLength(1);
  });

  it("loads further pages with offsets while hasMore, one at a time", async () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn, { pageSize: 200 });
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
    const c = new SearchController(s.fn);
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
    const c = new SearchController(s.fn);
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

  it("filters with an empty box list their photos; clearing them goes idle", async () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn);
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
    expect(c.value.phase).toBe("idle");
    c.setFilters({ after: "2024-06-01" });
    expect(s.calls[2].query).toMatchObject({ filter: { after: "2024-06-01", tag: null } });
    c.setFilters({ after: "" });
    expect(c.value.phase).toBe("idle");
    expect(s.calls).toHaveLength(3);
  });

  it("show more re-runs with weak matches; new words reset it", async () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn);
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

  it("searches by example and clears back to the words", async () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn);
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

  it("typing leaves an example search", () => {
    const s = deferredSearch();
    const c = new SearchController(s.fn);
    c.setExample({ kind: "file", path: "/tmp/drop.png", token: 4 });
    c.setText("red car");
    expect(c.value.example).toBeNull();
    vi.advanceTimersByTime(250);
    expect(s.calls[1].query.text).toBe("red car");
  });

  it("reports errors once and lets the same query be retried", async () => {
    const s = deferredSearch();
    const onError = vi.fn();
    const c = new SearchController(s.fn, { onError });
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
    const c = new SearchController(s.fn, { onError });
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

  it("sourceOf prefers the example, then words, then a listing of the filters", () => {
    const f = { ...defaultFilters(), tag: "t" };
    expect(sourceOf({ text: " x ", example: null, filters: f })).toEqual({ kind: "text", text: "x" });
    expect(sourceOf({ text: "", example: null, filters: f })).toEqual({ kind: "browse" });
    expect(sourceOf({ text: " ", example: null, filters: { ...defaultFilters(), after: "2024-06-01" } })).toEqual({ kind: "browse" });
    expect(sourceOf({ text: "", example: null, filters: { ...defaultFilters(), sort: "newest" } })).toBeNull();
    expect(sourceOf({ text: "x", example: { kind: "photo", id: 3, path: "/p", thumbnail: null }, filters: f })).toEqual({
      kind: "photo",
      id: 3,
    });
    expect(sourceOf({ text: "", example: null, filters: defaultFilters() })).toBeNull();
  });
});
