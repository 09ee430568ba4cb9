import { describe, expect, it } from "vitest";
import type { LineMatch } from "../src/lib/api";
import { boxPoints, excerpt, pieces, wordsLabel } from "../src/lib/words";

const line = (text: string, spans: number[][], n = 0): LineMatch => ({
  line: n,
  text,
  spans,
  quad: [
    [0, 0],
    [1, 0],
    [1, 1],
    [0, 1],
  ],
});

/** Pieces as text with the matches in [brackets]. */
const marked = (ps: { text: string; match: boolean }[]) => ps.map((p) => (p.match ? `[${p.text}]` : p.text)).join("");

describe("matched words", () => {
  it("cut a line at its spans", () => {
    expect(marked(pieces("TESCO 12.40", [[0, 5]]))).toBe("[TESCO] 12.40");
    expect(marked(pieces("TESCO 12.40", [[6, 11]]))).toBe("TESCO [12.40]");
    expect(marked(pieces("TESCO 12.40", [
      [6, 11],
      [0, 5],
    ]))).toBe("[TESCO] [12.40]");
    expect(marked(pieces("abc", []))).toBe("abc");
  });
  it("merge overlapping spans and clamp, dropping empty ones", () => {
    expect(marked(pieces("washing machine", [
      [0, 4],
      [2, 7],
      [7, 7],
    ]))).toBe("[washing] machine");
    expect(marked(pieces("abc", [[1, 99]]))).toBe("a[bc]");
    expect(marked(pieces("abc", [[-3, 1]]))).toBe("[a]bc");
  });
  it("index the page's strings in UTF-16 units, as the engine sends them", () => {
    // "😀" is two units: the span of "東京" starts after it.
    expect(marked(pieces("😀東京駅", [[2, 4]]))).toBe("😀[東京]駅");
  });
  it("shorten a long line for a caption around its first match", () => {
    const long = "Total for the items bought today at the shop: 12.40 GBP, thank you";
    const at = long.indexOf("12.40");
    const cut = marked(excerpt(line(long, [[at, at + 5]]), 30));
    expect(cut).toBe("…t the shop: [12.40] GBP, thank y…");
    expect(cut.replace(/[[\]…]/g, "").length).toBe(30);
    // A short line, or a match at its start, is not cut before.
    expect(marked(excerpt(line("EXIT", [[0, 4]])))).toBe("[EXIT]");
    expect(marked(excerpt(line(long, [[0, 5]]), 30))).toBe("[Total] for the items bought tod…");
    // Nor is a match near the end cut after.
    expect(marked(excerpt(line(long, [[long.length - 3, long.length]]), 30))).toBe("…the shop: 12.40 GBP, thank [you]");
  });
  it("never cut a character in two", () => {
    const text = "😀".repeat(30);
    for (const p of excerpt(line(text, [[20, 22]]), 11)) expect(p.text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
  });
  it("are said for a screen reader, each once", () => {
    expect(wordsLabel([])).toBeNull();
    const words = [line("TESCO 12.40", [[0, 5], [6, 11]]), line("tesco.com TESCO", [[10, 15]], 1)];
    expect(wordsLabel(words)).toBe("shows “TESCO”, “12.40”");
  });
});

describe("a line's box over the picture", () => {
  const quad = [
    [100, 50],
    [300, 50],
    [300, 90],
    [100, 90],
  ];
  it("scales the original picture's pixels to the size it is drawn", () => {
    expect(boxPoints(quad, { w: 4000, h: 3000 }, { w: 800, h: 600 })).toBe("20,10 60,10 60,18 20,18");
    // At its own pixels it is where the engine read it.
    expect(boxPoints(quad, { w: 4000, h: 3000 }, { w: 4000, h: 3000 })).toBe("100,50 300,50 300,90 100,90");
  });
  it("follows the original's size, not the loaded preview's", () => {
    // A 720 px preview of a 4000 × 3000 photo drawn 1.5× its pixels: 1080 × 810 on screen.
    expect(boxPoints(quad, { w: 4000, h: 3000 }, { w: 1080, h: 810 })).toBe("27,13.5 81,13.5 81,24.3 27,24.3");
  });
  it("is not drawn without a size", () => {
    expect(boxPoints(quad, { w: 0, h: 3000 }, { w: 800, h: 600 })).toBeNull();
    expect(boxPoints(quad, { w: 4000, h: 3000 }, { w: 0, h: 0 })).toBeNull();
  });
});
