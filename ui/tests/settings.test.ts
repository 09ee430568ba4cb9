import { describe, expect, it } from "vitest";
import { threadChoices, threadFromKey, threadKey } from "../src/lib/settings";

describe("threadChoices", () => {
  it("offers the default first, then every count up to the cores", () => {
    expect(threadChoices({ using: 4, chosen: null, cores: 4 })).toEqual([
      { value: null, label: "All 4 cores (default)" },
      { value: 1, label: "1 core" },
      { value: 2, label: "2 cores" },
      { value: 3, label: "3 cores" },
      { value: 4, label: "4 cores" },
    ]);
  });
  it("says a one-core machine plainly", () => {
    expect(threadChoices({ using: 1, chosen: null, cores: 1 }).map((c) => c.label)).toEqual(["The one core (default)", "1 core"]);
  });
});

describe("threadKey", () => {
  it("round-trips through a select's value", () => {
    for (const v of [null, 1, 12]) expect(threadFromKey(threadKey(v))).toBe(v);
    expect(threadFromKey("0")).toBeNull();
    expect(threadFromKey("x")).toBeNull();
  });
});
