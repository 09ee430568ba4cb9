import { describe, expect, it } from "vitest";
import { UNKNOWN_MONTH, monthGroups, monthLabel, monthOf } from "../src/lib/months";
import { hit } from "./helpers";

/** A hit taken at `iso` (UTC) on the camera's clock; `date` an hour off, as in another zone. */
function at(i: number, iso: string) {
  const local = Date.parse(iso) / 1000;
  return hit(i, { localDate: local, date: local - 3600 });
}

describe("monthGroups", () => {
  it("cuts a listing into runs of one month, labelled in words", () => {
    const h = [at(0, "2026-12-30T10:00:00Z"), at(1, "2026-12-01T00:30:00Z"), at(2, "2026-11-15T12:00:00Z"), at(3, "2026-11-02T00:00:00Z")];
    expect(monthGroups(h, "en-US")).toEqual([
      { start: 0, end: 2, label: "December 2026" },
      { start: 2, end: 4, label: "November 2026" },
    ]);
  });

  it("reads the month on the clock where the photo was taken (localDate), not this computer's", () => {
    // 00:30 on 1 December where it was taken; 23:30 on 30 November in UTC.
    expect(monthLabel(monthOf(at(1, "2026-12-01T00:30:00Z")), "en-US")).toBe("December 2026");
    // Without localDate, the date.
    const noLocal = { ...hit(0), localDate: undefined as unknown as number, date: Date.parse("2025-03-03T00:00:00Z") / 1000 };
    expect(monthLabel(monthOf(noLocal), "en-US")).toBe("March 2025");
  });

  it("keeps the same month of different years apart", () => {
    const h = [at(0, "2026-12-05T00:00:00Z"), at(1, "2025-12-05T00:00:00Z"), at(2, "2025-12-01T00:00:00Z")];
    expect(monthGroups(h, "en-US").map((g) => [g.start, g.end, g.label])).toEqual([
      [0, 1, "December 2026"],
      [1, 3, "December 2025"],
    ]);
  });

  it("puts photos without a date under their own header", () => {
    const none = { ...hit(1), localDate: null as unknown as number, date: null as unknown as number };
    const h = [at(0, "2024-05-05T00:00:00Z"), none, { ...none, id: 9 }];
    expect(monthOf(none)).toBeNull();
    expect(monthGroups(h, "en-US")).toEqual([
      { start: 0, end: 1, label: "May 2024" },
      { start: 1, end: 3, label: UNKNOWN_MONTH },
    ]);
  });

  it("no hits, no groups; one month, one group", () => {
    expect(monthGroups([])).toEqual([]);
    expect(monthGroups([at(0, "2024-01-31T23:59:59Z")], "en-US")).toEqual([{ start: 0, end: 1, label: "January 2024" }]);
  });
});
