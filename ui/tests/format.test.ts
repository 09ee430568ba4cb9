import { describe, expect, it } from "vitest";
import {
  autoTagText,
  formatBytes,
  formatCount,
  numberLocale,
  formatDate,
  formatOffset,
  formatPhotoDate,
  formatEta,
  formatKind,
  formatPixels,
  formatProgress,
  formatRate,
  formatRebuild,
  formatScore,
  percent,
  relevance,
  relevanceScale,
  rootStatusText,
} from "../src/lib/format";
import { exportedText, formatPlace, modelTitle } from "../src/lib/format";

describe("formatEta", () => {
  it("writes seconds, minutes, hours and days", () => {
    expect(formatEta(0.2)).toBe("less than a second");
    expect(formatEta(45)).toBe("45 s");
    expect(formatEta(59.6)).toBe("1 min");
    expect(formatEta(125)).toBe("2 min 5 s");
    expect(formatEta(120)).toBe("2 min");
    expect(formatEta(3599)).toBe("59 min 59 s");
    expect(formatEta(3600)).toBe("1 h");
    expect(formatEta(3900)).toBe("1 h 5 min");
    expect(formatEta(86400 * 2 + 3 * 3600 + 59)).toBe("2 d 3 h");
  });
  it("is empty when unknown", () => {
    expect(formatEta(null)).toBe("");
    expect(formatEta(undefined)).toBe("");
    expect(formatEta(Number.NaN)).toBe("");
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe("");
    expect(formatEta(-3)).toBe("");
  });
});

describe("formatRate", () => {
  it("rounds by magnitude", () => {
    expect(formatRate(42.4)).toBe("42 photos/s");
    expect(formatRate(3.44)).toBe("3.4 photos/s");
    expect(formatRate(0.254)).toBe("0.25 photos/s");
    expect(formatRate(2500.2)).toBe(`${formatCount(2500)} photos/s`);
  });
  it("is empty for no rate", () => {
    expect(formatRate(0)).toBe("");
    expect(formatRate(null)).toBe("");
  });
});

describe("formatBytes", () => {
  it("uses binary units with one decimal under 10", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(812)).toBe("812 B");
    expect(formatBytes(1024)).toBe("1 KB");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(512 * 1024)).toBe("512 KB");
    expect(formatBytes(3.25 * 1024 * 1024)).toBe("3.3 MB");
    expect(formatBytes(12 * 1024 * 1024)).toBe("12 MB");
    expect(formatBytes(2 * 1024 ** 3)).toBe("2 GB");
  });
  it("never shows 1024 of a unit", () => {
    expect(formatBytes(1024 * 1024 - 10)).toBe("1 MB");
    expect(formatBytes(9.99 * 1024)).toBe("10 KB");
  });
});

describe("formatDate", () => {
  it("formats Unix seconds in the given locale and zone", () => {
    // 2024-03-05T14:07:00Z
    const s = Date.UTC(2024, 2, 5, 14, 7) / 1000;
    const text = formatDate(s, "en-GB", "UTC");
    expect(text).toContain("2024");
    expect(text).toContain("Mar");
    expect(text).toContain("14:07");
    expect(formatDate(s, "en-GB", "Asia/Tokyo")).toContain("23:07");
  });
  it("is empty for no date", () => {
    expect(formatDate(null)).toBe("");
  });
});

describe("formatPhotoDate", () => {
  it("shows the clock where the photo was taken, in any viewer zone", () => {
    // Taken 2024-06-01 08:30 in Tokyo: its local date is that reading written in UTC.
    const localDate = Date.UTC(2024, 5, 1, 8, 30) / 1000;
    const tokyo = formatPhotoDate({ localDate, offsetMinutes: 540 }, "en-GB");
    expect(tokyo).toContain("1 Jun 2024");
    expect(tokyo).toContain("08:30");
    expect(tokyo).toMatch(/\(UTC\+9\)$/);
    const noZone = formatPhotoDate({ localDate, offsetMinutes: null }, "en-GB");
    expect(noZone).toContain("08:30");
    expect(noZone).not.toContain("UTC");
    expect(formatPhotoDate({ localDate: null })).toBe("");
  });
  it("writes offsets as people read them", () => {
    expect(formatOffset(540)).toBe("UTC+9");
    expect(formatOffset(-300)).toBe("UTC\u22125");
    expect(formatOffset(330)).toBe("UTC+5:30");
    expect(formatOffset(-570)).toBe("UTC\u22129:30");
    expect(formatOffset(0)).toBe("UTC");
  });
});

describe("small formats", () => {
  it("pixels, score, kind, percent", () => {
    expect(formatPixels(4032, 3024)).toBe("4032 × 3024 (12 MP)");
    expect(formatPixels(1920, 1080)).toBe("1920 × 1080 (2.1 MP)");
    expect(formatPixels(null, 10)).toBe("");
    expect(formatScore(0.31234)).toBe("0.31");
    expect(formatScore(0.305)).toMatch(/^0\.3[01]$/);
    expect(formatKind("jpeg")).toBe("JPEG");
    expect(formatKind(null)).toBe("");
    expect(percent(5, 20)).toBe(25);
    expect(percent(30, 20)).toBe(100);
    expect(percent(5, 0)).toBeNull();
    expect(percent(5, null)).toBeNull();
  });
  it("progress line with rate and ETA", () => {
    const line = formatProgress(
      { phase: "photos", withText: 0, done: 1234, total: 5000, failed: 2, encoded: 1200, rate: 42.1, etaSecs: 87, current: null },
      "en-US",
    );
    expect(line).toBe("1,234 of 5,000 photos in this run · 42 photos/s · about 1 min 27 s left · 2 failed in this run");
    const early = formatProgress({ phase: "photos", withText: 0, done: 0, total: 10, failed: 0, encoded: 0, rate: 0, etaSecs: null, current: null }, "en-US");
    expect(early).toBe("0 of 10 photos in this run · starting… · estimating time left…");
    const last = formatProgress({ phase: "photos", withText: 0, done: 9, total: 10, failed: 0, encoded: 9, rate: 9, etaSecs: 0.1, current: null }, "en-US");
    expect(last).toBe("9 of 10 photos in this run · 9.0 photos/s · less than a second left");
  });
  it("progress line of the text pass: pictures read and how many show text", () => {
    const text = formatProgress(
      { phase: "text", withText: 14, done: 120, total: 5000, failed: 0, encoded: 0, rate: 2.5, etaSecs: 1952, current: null },
      "en-US",
    );
    expect(text).toBe("120 of 5,000 photos read for text · 14 with text · 2.5 photos/s · about 32 min 32 s left");
  });
  it("progress line of the text reader's download: bytes, not photos", () => {
    const mb = 1024 * 1024;
    const line = formatProgress(
      { phase: "textModels", withText: 0, done: 3.2 * mb, total: 15.1 * mb, failed: 0, encoded: 0, rate: 1.1 * mb, etaSecs: 10.8, current: null },
      "en-US",
    );
    expect(line).toBe("Downloading the text reader: 3.2 MB of 15 MB · 1.1 MB/s · about 11 s left");
    const unknown = formatProgress({ phase: "textModels", withText: 0, done: 512, total: 0, failed: 0, encoded: 0, rate: 0, etaSecs: null, current: null }, "en-US");
    expect(unknown).toBe("Downloading the text reader: 512 B");
  });
  it("root status text", () => {
    expect(rootStatusText({ indexed: 12, pending: 0, failed: 1 })).toBe("12 indexed · 0 pending · 1 failed");
    expect(rootStatusText({ indexed: 12345, pending: 7, failed: 0 })).toBe("12345 indexed · 7 pending · 0 failed");
  });
});

describe("autoTagText", () => {
  it("names the folder inside the root and shortens long label lists", () => {
    expect(autoTagText("/p", { folder: "/p", labels: ["dog"] })).toBe("Auto-tags new photos: dog");
    expect(autoTagText("/p", { folder: "/p/2024/Trip", labels: ["beach", "snow"] })).toBe(
      "Auto-tags new photos in 2024/Trip: beach, snow",
    );
    expect(autoTagText("C:\\Photos", { folder: "C:\\Photos\\Trip", labels: ["a"] })).toBe(
      "Auto-tags new photos in Trip: a",
    );
    const many = ["a", "b", "c", "d", "e", "f", "g"];
    expect(autoTagText("/p", { folder: "/p", labels: many })).toBe("Auto-tags new photos: a, b, c, d, e +2 more");
  });
});

describe("modelTitle", () => {
  it("names a model by its description's first sentence, the rest after", () => {
    expect(modelTitle("ViT-B-32__openai", "OpenAI CLIP ViT-B/32 (English). The default: fast on any CPU, about 600 MB.")).toEqual({
      title: "OpenAI CLIP ViT-B/32 (English)",
      rest: "The default: fast on any CPU, about 600 MB.",
    });
    expect(modelTitle("x", "One sentence only.")).toEqual({ title: "One sentence only", rest: "" });
    expect(modelTitle("m", null)).toEqual({ title: "m", rest: "" });
    expect(modelTitle("m", "  ")).toEqual({ title: "m", rest: "" });
  });
});

describe("relevance (what a cell and the lightbox say instead of a cosine)", () => {
  const scored = (...s: (number | null)[]) => s.map((score) => ({ score }));

  it("measures a score between the lowest shown and the best, when nothing weaker is shown", () => {
    const scale = relevanceScale(scored(0.34, 0.31, 0.3, 0.26))!;
    expect(scale).toEqual({ best: 0.34, floor: null, base: 0.26, low: 0.26 });
    expect(relevance(0.34, scale)).toMatchObject({ level: "strong", label: "Strong match", fraction: 1 });
    expect(relevance(0.31, scale)).toMatchObject({ level: "strong" });
    expect(relevance(0.28, scale)).toMatchObject({ level: "good", label: "Good match" });
    // Every result the engine shows without weaker ones is above its floor: none is "weak".
    expect(relevance(0.26, scale)!.level).toBe("good");
  });

  it("below the floor is a weak match, and its bar stays shorter than any better one's", () => {
    const scale = relevanceScale(scored(0.6, 0.55, 0.5, 0.3, 0.2), 0.5)!;
    expect(scale).toMatchObject({ best: 0.6, floor: 0.5, base: 0.5, low: 0.2 });
    const good = relevance(0.5, scale)!;
    const weak = relevance(0.3, scale)!;
    expect(good.level).toBe("good");
    expect(weak).toMatchObject({ level: "weak", label: "Weak match" });
    expect(weak.fraction).toBeLessThan(good.fraction);
    expect(relevance(0.2, scale)!.fraction).toBeLessThan(weak.fraction);
  });

  it("nothing above the floor: all weak; one result or equal scores: strong", () => {
    const none = relevanceScale(scored(0.2, 0.15), Number.POSITIVE_INFINITY)!;
    expect(relevance(0.2, none)!.level).toBe("weak");
    expect(relevance(0.15, none)!.level).toBe("weak");
    expect(relevance(0.3, relevanceScale(scored(0.3))!)).toMatchObject({ level: "strong", fraction: 1 });
  });

  it("a listing has no scale and no relevance", () => {
    expect(relevanceScale(scored(null, null))).toBeNull();
    expect(relevanceScale([])).toBeNull();
    expect(relevance(null, relevanceScale(scored(0.3)))).toBeNull();
    expect(relevance(0.3, null)).toBeNull();
  });
});

describe("formatPlace", () => {
  it("says a position with hemispheres, to about ten metres", () => {
    expect(formatPlace(35.681236, 139.767125)).toBe("35.6812° N, 139.7671° E");
    expect(formatPlace(-33.8568, -70.6483)).toBe("33.8568° S, 70.6483° W");
  });
});

describe("exportedText", () => {
  it("says how many were copied where, and the first reason one was not", () => {
    expect(exportedText({ folder: "/home/me/Export", copied: 1, failures: [] })).toBe("Copied 1 photo to “Export”.");
    expect(
      exportedText({ folder: "C:\\Users\\me\\Out", copied: 2, failures: [{ path: "a", reason: "disk full" }, { path: "b", reason: "x" }] }),
    ).toBe("Copied 2 photos to “Out”. 2 could not be copied: disk full");
  });
});

describe("numberLocale", () => {
  it("drops the POSIX variant of an unconfigured system, which groups no digits, and keeps any other", () => {
    expect(numberLocale(undefined, "en-US-u-va-posix")).toBe("en-US");
    expect(new Intl.NumberFormat(numberLocale(undefined, "en-US-u-va-posix")).format(21061)).toBe("21,061");
    expect(new Intl.NumberFormat("en-US-u-va-posix").format(21061)).toBe("21061");
    expect(numberLocale(undefined, "en-US-u-nu-latn-va-posix")).toBe("en-US-u-nu-latn");
    expect(numberLocale(undefined, "de-DE")).toBe("de-DE");
    expect(numberLocale("fr-FR", "en-US-u-va-posix")).toBe("fr-FR");
  });
});

describe("formatRebuild", () => {
  const r = (step: "reading" | "linking" | "saving" | "done", done: number) => ({ why: "missing", step, done, total: 1234567 });
  it("says why and each step, counting the photos linked", () => {
    expect(formatRebuild(r("reading", 0), "en-US")).toBe(
      "Rebuilding the search index (it was missing): reading 1,234,567 photos from the catalog…",
    );
    expect(formatRebuild(r("linking", 1000), "en-US")).toBe("Rebuilding the search index (it was missing): 1,000 of 1,234,567 photos");
    expect(formatRebuild(r("saving", 1234567), "en-US")).toBe("Rebuilding the search index (it was missing): saving it…");
    expect(formatRebuild(r("done", 1234567), "en-US")).toBe("The search index is rebuilt.");
  });
});
