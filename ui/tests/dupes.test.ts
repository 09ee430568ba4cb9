import { describe, expect, it } from "vitest";
import type { DupeGroup } from "../src/lib/api";
import {
  afterMove,
  allChosen,
  chosenIn,
  compareRows,
  confirmText,
  fileName,
  initialChoice,
  isKept,
  keepInstead,
  moveLabel,
  movedText,
  summaryText,
  toggle,
} from "../src/lib/dupes";
import { hit } from "./helpers";

function member(i: number, extra: Parameters<typeof hit>[1] = {}) {
  return { ...hit(i, extra), score: 1 };
}

/** Two pictures with copies: ids 1 (keeper), 2, 3; and 11 (keeper), 12. */
function groups(): DupeGroup[] {
  return [
    {
      keepReason: "most pixels",
      photos: [member(0, { width: 4000, height: 3000 }), member(1), member(2, { format: "png", size: 9_000_000 })],
    },
    { keepReason: "same pixels, largest file", photos: [member(10), member(11)] },
  ];
}

describe("the choice of copies to move", () => {
  it("starts with every copy but the keepers", () => {
    const g = groups();
    const c = initialChoice(g);
    expect([...c].sort((a, b) => a - b)).toEqual([2, 3, 12]);
    expect(chosenIn(g[0], c)).toEqual([2, 3]);
    expect(allChosen(g, c)).toEqual([2, 3, 12]);
    expect(isKept(g[0], c, 1)).toBe(true);
    expect(isKept(g[0], c, 2)).toBe(false);
  });

  it("never chooses every copy of a picture", () => {
    const g = groups();
    const c = initialChoice(g);
    // The keeper cannot join its copies.
    expect(toggle(g, c, 1)).toEqual(c);
    expect(toggle(g, c, 11)).toEqual(c);
    // Un-choosing a copy, then choosing the keeper leaves that copy.
    const fewer = toggle(g, c, 2);
    expect(fewer.has(2)).toBe(false);
    const swapped = toggle(g, fewer, 1);
    expect(swapped.has(1)).toBe(true);
    expect(isKept(g[0], swapped, 2)).toBe(true);
    // An id of no group is ignored.
    expect(toggle(g, c, 999)).toEqual(c);
  });

  it("keeps another copy instead", () => {
    const g = groups();
    const c = keepInstead(g, initialChoice(g), 3);
    expect(chosenIn(g[0], c)).toEqual([1, 2]);
    expect(chosenIn(g[1], c)).toEqual([12]);
    expect(isKept(g[0], c, 3)).toBe(true);
  });
});

describe("the words", () => {
  it("counts on the buttons and in the confirmation", () => {
    expect(moveLabel(1)).toBe("Move 1 other to Trash…");
    expect(moveLabel(3)).toBe("Move 3 others to Trash…");
    const one = confirmText(1);
    expect(one.title).toBe("Move 1 photo to the Trash?");
    expect(one.body).toContain("system Trash, where you can restore it");
    expect(confirmText(4).title).toBe("Move 4 photos to the Trash?");
    expect(confirmText(4).body).toContain("restore them");
    expect(summaryText(groups(), initialChoice(groups()))).toBe("2 pictures have copies; 3 copies chosen to go.");
  });

  it("says what a move did and why photos stayed", () => {
    expect(movedText({ moved: 2, failures: [] })).toBe("Moved 2 photos to the Trash.");
    expect(movedText({ moved: 0, failures: [{ path: "/p/a.jpg", reason: "the file changed" }] })).toBe(
      "Nothing was moved to the Trash. 1 photo stayed: /p/a.jpg: the file changed.",
    );
    expect(
      movedText({
        moved: 1,
        failures: [
          { path: "/p/a.jpg", reason: "x" },
          { path: "/p/b.jpg", reason: "y" },
        ],
      }),
    ).toBe("Moved 1 photo to the Trash. 2 photos stayed: /p/a.jpg: x (and 1 more).");
  });
});

describe("after a move", () => {
  it("drops the moved photos and the groups left with one", () => {
    const g = groups();
    const c = initialChoice(g);
    const r = afterMove(g, c, [2, 3, 12], { moved: 2, failures: [{ path: "/photos/p2.jpg", reason: "changed" }] });
    // 3 (p2.jpg) failed and stays; 2 and 12 went; the second picture is no group any more.
    expect(r.groups.length).toBe(1);
    expect(r.groups[0].photos.map((m) => m.id)).toEqual([1, 3]);
    expect([...r.chosen]).toEqual([3]);
  });

  it("changes nothing when nothing moved", () => {
    const g = groups();
    const c = initialChoice(g);
    const r = afterMove(g, c, [2], { moved: 0, failures: [{ path: "/photos/p1.jpg", reason: "no" }] });
    expect(r.groups).toEqual(g);
    expect(r.chosen).toEqual(c);
  });
});

describe("the side-by-side compare", () => {
  it("lines up dimensions, size, format, date and path, marking differences", () => {
    const [a, , c] = groups()[0].photos;
    const rows = compareRows(a, c, "en-GB");
    expect(rows.map((r) => r.label)).toEqual(["Dimensions", "File size", "Format", "Date", "Path"]);
    expect(rows[0]).toMatchObject({ a: "4000 × 3000 (12 MP)", b: "640 × 480 (0.3 MP)", differs: true });
    expect(rows[2]).toMatchObject({ a: "JPEG", b: "PNG", differs: true });
    expect(rows[4]).toMatchObject({ a: "/photos/p0.jpg", b: "/photos/p2.jpg", differs: true });
    const same = compareRows(a, a);
    expect(same.every((r) => !r.differs)).toBe(true);
  });

  it("says unknown for what a photo does not record", () => {
    const a = member(0, { width: null, height: null, format: null });
    expect(compareRows(a, a)[0]).toMatchObject({ a: "unknown", differs: false });
    expect(fileName("/a/b/c.jpg")).toBe("c.jpg");
    expect(fileName("C:\\x\\y.png")).toBe("y.png");
    expect(fileName("plain")).toBe("plain");
  });
});
