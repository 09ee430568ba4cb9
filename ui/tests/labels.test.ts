import { describe, expect, it } from "vitest";
import { addLabels, cleanLabel, dedupe, editLabel, hasLabel, parseLabels, removeLabel, splitPending } from "../src/lib/labels";

describe("labels", () => {
  it("cleans whitespace", () => {
    expect(cleanLabel("  red   car \t")).toBe("red car");
  });
  it("splits on commas, semicolons and lines, dropping empties", () => {
    expect(parseLabels("dog, beach ,, ;snow\nsunset\r\n ")).toEqual(["dog", "beach", "snow", "sunset"]);
    expect(parseLabels("")).toEqual([]);
  });
  it("dedupes case-insensitively keeping the first spelling", () => {
    expect(dedupe(["Dog", "dog", " DOG ", "cat", "Cat"])).toEqual(["Dog", "cat"]);
    expect(parseLabels("Beach, beach, BEACH")).toEqual(["Beach"]);
  });
  it("adds only new labels", () => {
    expect(addLabels(["dog", "cat"], "Cat, bird, dog , fish")).toEqual(["dog", "cat", "bird", "fish"]);
    expect(addLabels(["dog"], "   ")).toEqual(["dog"]);
  });
  it("removes and edits", () => {
    expect(removeLabel(["a", "b", "c"], 1)).toEqual(["a", "c"]);
    expect(editLabel(["a", "b", "c"], 1, " B2 ")).toEqual(["a", "B2", "c"]);
    expect(editLabel(["a", "b", "c"], 1, "")).toEqual(["a", "c"]);
    expect(editLabel(["a", "b", "c"], 2, "A")).toEqual(["a", "b"]); // duplicate of an earlier label
    expect(editLabel(["a", "b", "c"], 0, "C")).toEqual(["C", "b"]); // the edit wins over a later copy
    expect(editLabel(["a", "b"], 0, "x, y")).toEqual(["x", "y", "b"]);
    expect(editLabel(["a"], 5, "z")).toEqual(["a"]);
  });
  it("commits text before the last comma while typing", () => {
    expect(splitPending("dog, bea")).toEqual({ commit: ["dog"], rest: "bea" });
    expect(splitPending("dog,")).toEqual({ commit: ["dog"], rest: "" });
    expect(splitPending("a, b, c")).toEqual({ commit: ["a", "b"], rest: "c" });
    expect(splitPending("dog")).toEqual({ commit: [], rest: "dog" });
  });
  it("finds labels case-insensitively", () => {
    expect(hasLabel(["Red car"], " red  CAR")).toBe(true);
    expect(hasLabel(["Red car"], "car")).toBe(false);
  });
});
