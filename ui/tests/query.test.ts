import { describe, expect, it } from "vitest";
import {
  SORTS,
  buildQuery,
  canClearFilters,
  clearedFilters,
  dateRangeProblem,
  defaultFilters,
  isFiltered,
  sortChoices,
  toFilter,
  toggleType,
  typeChoices,
  parseDay,
  TEXT_CHOICES,
  textFromKey,
  textKey,
} from "../src/lib/query";

describe("filters → Filter", () => {
  it("turns empty inputs into nulls and keeps types canonical", () => {
    expect(toFilter(defaultFilters())).toEqual({ folder: null, after: null, before: null, tag: null, types: [], hasLocation: null, hasText: null });
    const f = { ...defaultFilters(), folder: "/p", after: "2024-01-01", before: "bad", types: ["tiff", "jpeg", " ", "tiff"], tag: "dog" };
    expect(toFilter(f)).toEqual({ folder: "/p", after: "2024-01-01", before: null, tag: "dog", types: ["jpeg", "tiff"], hasLocation: null, hasText: null });
    expect(toFilter({ ...defaultFilters(), located: true }).hasLocation).toBe(true);
  });
  it("sends the text filter as it is chosen: with, without, or either", () => {
    expect(TEXT_CHOICES.map((c) => c.label)).toEqual(["Any text", "With text", "Without text"]);
    for (const c of TEXT_CHOICES) {
      expect(textKey(c.value)).toBe(c.key);
      expect(textFromKey(c.key)).toBe(c.value);
      expect(toFilter({ ...defaultFilters(), hasText: textFromKey(c.key) }).hasText).toBe(c.value);
    }
    expect(textFromKey("maybe")).toBeNull();
  });
  it("toggles types in canonical order", () => {
    expect(toggleType([], "png")).toEqual(["png"]);
    expect(toggleType(["png"], "jpeg")).toEqual(["jpeg", "png"]);
    expect(toggleType(["jpeg", "png"], "jpeg")).toEqual(["png"]);
  });
  it("flags an empty date range", () => {
    expect(dateRangeProblem("2024-05-01", "2024-05-01")).not.toBeNull();
    expect(dateRangeProblem("2024-05-02", "2024-05-01")).not.toBeNull();
    expect(dateRangeProblem("2024-05-01", "2024-05-02")).toBeNull();
    expect(dateRangeProblem("", "2024-05-02")).toBeNull();
  });
  it("knows when results are narrowed", () => {
    expect(isFiltered(defaultFilters())).toBe(false);
    expect(isFiltered({ ...defaultFilters(), sort: "newest" })).toBe(false);
    expect(isFiltered({ ...defaultFilters(), types: ["gif"] })).toBe(true);
    expect(isFiltered({ ...defaultFilters(), located: true })).toBe(true);
    // Without text narrows as much as with it.
    expect(isFiltered({ ...defaultFilters(), hasText: true })).toBe(true);
    expect(isFiltered({ ...defaultFilters(), hasText: false })).toBe(true);
  });
});

describe("buildQuery", () => {
  const f = { ...defaultFilters(), sort: "newest" as const, folder: "/photos" };
  it("sets exactly one of text / exampleDrop / examplePhotoId", () => {
    const t = buildQuery({ kind: "text", text: "dog" }, f, { offset: 200, limit: 200, includeWeak: false });
    expect(t).toEqual({
      text: "dog",
      limit: 200,
      offset: 200,
      includeWeak: false,
      sort: "newest",
      filter: { folder: "/photos", after: null, before: null, tag: null, types: [], hasLocation: null, hasText: null },
    });
    const p = buildQuery({ kind: "file", path: "/tmp/x.jpg", token: 12 }, f, { offset: 0, limit: 50, includeWeak: true });
    // A dropped file goes by the shell's token: its path never reaches the engine from the page.
    expect(p.exampleDrop).toBe(12);
    expect(JSON.stringify(p)).not.toContain("/tmp/x.jpg");
    expect("text" in p || "examplePhotoId" in p).toBe(false);
    expect(p.includeWeak).toBe(true);
    const id = buildQuery({ kind: "photo", id: 7 }, f, { offset: 0, limit: 50, includeWeak: false });
    expect(id.examplePhotoId).toBe(7);
    expect("text" in id || "exampleDrop" in id).toBe(false);
  });
  it("a listing sends the filters with nothing to look for", () => {
    const q = buildQuery({ kind: "browse" }, { ...f, tag: "beach", sort: "oldest" }, { offset: 200, limit: 200, includeWeak: false });
    expect("text" in q || "exampleDrop" in q || "examplePhotoId" in q).toBe(false);
    expect(q.filter.tag).toBe("beach");
    expect(q.sort).toBe("oldest");
    expect(q.offset).toBe(200);
  });
});

describe("sortChoices", () => {
  it("offers every order to a search and shows the chosen one", () => {
    expect(sortChoices("score", false)).toEqual({ options: SORTS, shown: "score" });
    expect(sortChoices("oldest", false).shown).toBe("oldest");
  });
  it("offers only dates to a listing; Best match shows as newest first", () => {
    const c = sortChoices("score", true);
    expect(c.options.map((o) => o.id)).toEqual(["newest", "oldest"]);
    expect(c.shown).toBe("newest");
    expect(sortChoices("oldest", true).shown).toBe("oldest");
  });
});

describe("typeChoices", () => {
  it("offers the library's formats, RAWs as one, most photos first", () => {
    const formats = [
      { format: "jpeg", count: 120 },
      { format: "heic", count: 40 },
      { format: "cr3", count: 30 },
      { format: "nef", count: 25 },
      { format: "jxl", count: 2 },
      { format: "qoi", count: 1 },
    ];
    expect(typeChoices(formats, [])).toEqual([
      { id: "jpeg", label: "JPEG", count: 120 },
      { id: "raw", label: "RAW", count: 55 },
      { id: "heic", label: "HEIC", count: 40 },
      { id: "jxl", label: "JPEG XL", count: 2 },
      { id: "qoi", label: "QOI", count: 1 },
    ]);
  });
  it("keeps a ticked type the library no longer holds, so it can be unticked", () => {
    expect(typeChoices([{ format: "png", count: 3 }], ["gif"])).toEqual([
      { id: "png", label: "PNG", count: 3 },
      { id: "gif", label: "GIF", count: 0 },
    ]);
    expect(typeChoices([], [])).toEqual([]);
  });
});

describe("Clear filters", () => {
  it("clears every filter but the tag, and puts the sort back to best match", () => {
    const f = { ...defaultFilters(), folder: "/p", after: "2024-01-01", types: ["png"], hasText: false, located: true, tag: "dog", sort: "newest" as const };
    const cleared = { ...f, ...clearedFilters() };
    expect(cleared).toEqual({ ...defaultFilters(), tag: "dog" });
    expect(cleared.sort).toBe("score");
  });
  it("is offered when a filter narrows or the order is not the default one", () => {
    expect(canClearFilters(defaultFilters(), false)).toBe(false);
    expect(canClearFilters({ ...defaultFilters(), tag: "dog" }, false)).toBe(false);
    expect(canClearFilters({ ...defaultFilters(), located: true }, false)).toBe(true);
    expect(canClearFilters({ ...defaultFilters(), hasText: true }, false)).toBe(true);
    expect(canClearFilters({ ...defaultFilters(), sort: "newest" }, false)).toBe(true);
    // A listing's default order is newest first: choosing it changes nothing to clear.
    expect(canClearFilters({ ...defaultFilters(), sort: "newest" }, true)).toBe(false);
    expect(canClearFilters({ ...defaultFilters(), sort: "oldest" }, true)).toBe(true);
  });
});

describe("parseDay", () => {
  it("reads ISO days, months and years, and days with the month in words", () => {
    expect(parseDay("2024-06-01")).toBe("2024-06-01");
    expect(parseDay(" 2024/6/1 ")).toBe("2024-06-01");
    expect(parseDay("2024-06")).toBe("2024-06-01");
    expect(parseDay("2024")).toBe("2024-01-01");
    expect(parseDay("1 June 2024")).toBe("2024-06-01");
    expect(parseDay("June 1, 2024")).toBe("2024-06-01");
    expect(parseDay("Jun. 2024")).toBe("2024-06-01");
    expect(parseDay("29 February 2024")).toBe("2024-02-29");
  });
  it("refuses what is not a day, and numeric day/month orders", () => {
    for (const t of ["", "yesterday", "2023-02-29", "2024-13-01", "1/6/2024", "31 June 2024", "Juneteenth 2024", "99999"]) {
      expect(parseDay(t), t).toBeNull();
    }
  });
});
