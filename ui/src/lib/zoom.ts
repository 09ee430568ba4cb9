// How big the lightbox draws a picture: the whole picture fits the stage, never blown up beyond
// its own pixels (a 64 px icon stays 64 px, not a blur eleven times its size); a picture far
// taller or wider than the stage (a phone screenshot, a panorama) fills the stage's width or
// height and scrolls, instead of shrinking to an unreadable strip; and zoom steps and limits.
// Pure functions: the lightbox component measures and draws, this decides.

export interface Size {
  w: number;
  h: number;
}

export const ZOOM_MIN = 0.05;
export const ZOOM_MAX = 8;
/** One zoom step (wheel notch, +/- key, button). */
export const ZOOM_STEP = 1.25;
/**
 * How many stage heights (or widths) a picture drawn at the stage's width (height) may take
 * before it is shown that way and scrolled rather than fitted whole: a 1080 × 8000 screenshot
 * fitted into a 900 px stage would be 121 px wide.
 */
export const SCROLL_BEYOND = 2.5;

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

function valid(s: Size): boolean {
  return s.w > 0 && s.h > 0 && Number.isFinite(s.w) && Number.isFinite(s.h);
}

/** The scale at which the whole picture fits the stage, at most its own size. */
export function fitScale(picture: Size, stage: Size): number {
  if (!valid(picture) || !valid(stage)) return 1;
  return Math.min(stage.w / picture.w, stage.h / picture.h, 1);
}

/**
 * The scale a picture opens at: it fits, unless that would make it a strip (see
 * [`SCROLL_BEYOND`]); then it fills the stage's width (tall pictures) or height (wide ones),
 * at most its own size, and scrolls along the other side.
 */
export function openingScale(picture: Size, stage: Size): number {
  const fit = fitScale(picture, stage);
  if (!valid(picture) || !valid(stage)) return fit;
  const byWidth = Math.min(stage.w / picture.w, 1);
  const byHeight = Math.min(stage.h / picture.h, 1);
  if (picture.h * byWidth > stage.h * SCROLL_BEYOND) return byWidth;
  if (picture.w * byHeight > stage.w * SCROLL_BEYOND) return byHeight;
  return fit;
}

/** One step in (`+1`) or out (`-1`), passing through 100 % exactly, within the limits. */
export function stepZoom(scale: number, dir: 1 | -1): number {
  const next = dir > 0 ? scale * ZOOM_STEP : scale / ZOOM_STEP;
  // Crossing 1:1 stops there: the picture's own pixels are a place people want to land on.
  if ((scale < 1 && next > 1) || (scale > 1 && next < 1)) return 1;
  return clamp(next, ZOOM_MIN, ZOOM_MAX);
}

/** The scroll position that keeps the picture point under `at` (stage coordinates) in place
 * when the scale changes from `from` to `to`, given the scroll position before. */
export function anchoredScroll(scroll: number, at: number, from: number, to: number): number {
  if (from <= 0) return scroll;
  return Math.max(0, ((scroll + at) * to) / from - at);
}

/** The zoom as people read it. */
export function zoomLabel(scale: number): string {
  return `${Math.round(scale * 100)}%`;
}
