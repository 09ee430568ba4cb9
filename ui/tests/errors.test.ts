import { describe, expect, it } from "vitest";
import { get } from "svelte/store";
import { createErrorList, errorMessage } from "../src/lib/errors";

describe("errors", () => {
  it("reads every rejection shape", () => {
    expect(errorMessage("no such folder")).toBe("no such folder");
    expect(errorMessage(new Error("boom"))).toBe("boom");
    expect(errorMessage({ message: "from rust" })).toBe("from rust");
    expect(errorMessage({ error: "e2" })).toBe("e2");
    expect(errorMessage({ code: 3 })).toBe('{"code":3}');
    expect(errorMessage(null)).toBe("Something went wrong.");
    expect(errorMessage(42)).toBe("42");
  });
  it("counts repeats, dismisses and keeps the newest few", () => {
    const list = createErrorList(2);
    list.push("a");
    list.push("a");
    expect(get(list)).toHaveLength(1);
    expect(get(list)[0]).toMatchObject({ message: "a", count: 2 });
    list.push("b", "Search failed");
    list.push("c");
    const items = get(list);
    expect(items.map((x) => x.message)).toEqual(["Search failed: b", "c"]);
    list.dismiss(items[0].id);
    expect(get(list).map((x) => x.message)).toEqual(["c"]);
    list.clear();
    expect(get(list)).toEqual([]);
  });
});
