import { describe, expect, it } from "vitest";
import { anchoredScroll, fitScale, openingScale, stepZoom, zoomLabel, ZOOM_MAX, ZOOM_MIN } from "../src/lib/zoom";

const stage = { w: 1000, h: 800 };

describe("the lightbox's scale", () => {
  it("fits a large photo whole, and never blows a small one up", () => {
    expect(fitScale({ w: 4000, h: 3000 }, stage)).toBeCloseTo(0.25);
    expect(openingScale({ w: 4000, h: 3000 }, stage)).toBeCloseTo(0.25);
    expect(openingScale({ w: 64, h: 64 }, stage)).toBe(1);
  });
  it("opens a tall screenshot at the stage's width and a panorama at its height, to scroll", () => {
    // 1080 × 8000 fitted would be 108 px wide: drawn 1000 px wide instead, 7407 px tall.
    expect(openingScale({ w: 1080, h: 8000 }, stage)).toBeCloseTo(1000 / 1080);
    // 8000 × 600 fitted would be 75 px tall: drawn at its own 600 px height instead.
    expect(openingScale({ w: 8000, h: 600 }, stage)).toBe(1);
    expect(openingScale({ w: 16000, h: 1200 }, stage)).toBeCloseTo(800 / 1200);
    // A portrait photo is not a screenshot: it fits.
    expect(openingScale({ w: 3000, h: 4000 }, stage)).toBeCloseTo(0.2);
  });
  it("steps through 100 % and stays within its limits", () => {
    expect(stepZoom(0.9, 1)).toBe(1);
    expect(stepZoom(1.1, -1)).toBe(1);
    expect(stepZoom(1, 1)).toBeCloseTo(1.25);
    expect(stepZoom(ZOOM_MAX, 1)).toBe(ZOOM_MAX);
    expect(stepZoom(ZOOM_MIN, -1)).toBe(ZOOM_MIN);
  });
  it("keeps the point under the pointer in place when zooming", () => {
    // The pointer 100 px into the stage, scrolled 300: picture point 400 at scale 1 is 800 at 2.
    expect(anchoredScroll(300, 100, 1, 2)).toBe(700);
    expect(anchoredScroll(0, 100, 1, 0.5)).toBe(0);
  });
  it("says the zoom in percent, and survives sizes not known yet", () => {
    expect(zoomLabel(0.254)).toBe("25%");
    expect(fitScale({ w: 0, h: 0 }, stage)).toBe(1);
    expect(openingScale({ w: 100, h: 100 }, { w: 0, h: 0 })).toBe(1);
  });
});
