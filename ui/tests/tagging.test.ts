import { describe, expect, it } from "vitest";
import { refreshTags, suggestTags, tagKey, taggedText, tagsOfSelection, withTag } from "../src/lib/tagging";

describe("tagging by hand", () => {
  it("names are stored trimmed and lower-case", () => {
    expect(tagKey("  Summer   Holiday ")).toBe("summer holiday");
  });

  it("says which tags all or some of the selected photos carry", () => {
    const photos = [{ tags: ["dog", "beach"] }, { tags: ["beach"] }, { tags: ["beach", "sea", "dog"] }];
    expect(tagsOfSelection(photos)).toEqual([
      { name: "beach", count: 3, all: true },
      { name: "dog", count: 2, all: false },
      { name: "sea", count: 1, all: false },
    ]);
    expect(tagsOfSelection([])).toEqual([]);
  });

  it("suggests the library's tags that start with, then contain, what is typed", () => {
    const known = [
      { name: "beach", count: 3 },
      { name: "holiday", count: 9 },
      { name: "holiday 2023", count: 2 },
      { name: "old house", count: 5 },
      { name: "dog", count: 12 },
    ];
    const present = [
      { name: "beach", count: 2, all: true },
      { name: "dog", count: 1, all: false },
    ];
    expect(suggestTags("Hol", known, present)).toEqual(["holiday", "holiday 2023"]);
    expect(suggestTags("o", known, present)).toEqual(["old house", "dog", "holiday", "holiday 2023"]);
    // Nothing typed: the most used, none that every photo has already.
    expect(suggestTags("", known, present, 2)).toEqual(["dog", "holiday"]);
    // The name typed in full is not offered again.
    expect(suggestTags("holiday", known, [])).toEqual(["holiday 2023"]);
  });

  it("follows a tag set or taken off on every photo", () => {
    const photos = [
      { id: 1, tags: ["dog"] },
      { id: 2, tags: [] },
    ];
    const on = withTag(photos, " Dog ", true);
    expect(on.map((p) => p.tags)).toEqual([["dog"], ["dog"]]);
    expect(on[0]).toBe(photos[0]);
    expect(withTag(on, "dog", false).map((p) => p.tags)).toEqual([[], []]);
    // The results refresh: a photo that left them (a tag filter) keeps what tagging left it.
    const fresh = [{ id: 1, tags: ["dog", "park"] }];
    expect(refreshTags(on, fresh)).toEqual([
      { id: 1, tags: ["dog", "park"] },
      { id: 2, tags: ["dog"] },
    ]);
    expect(taggedText("Holiday", 2, true)).toBe("Tagged 2 photos “holiday”.");
    expect(taggedText("holiday", 1, false)).toBe("Took “holiday” off 1 photo.");
  });
});
