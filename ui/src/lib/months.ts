// Month headers for a listing by date ("December 2026"): the results cut into runs of photos
// taken in the same month, in the order the engine sent them. A photo's month is read on the
// clock where it was taken (`localDate`, Unix seconds of that reading in UTC, so read back in
// UTC), else from `date`; a photo with neither goes under "Date unknown". Pure, so the grid and
// its keyboard moves (lib/grid.ts) are tested without a browser.
import type { Hit } from "./api";

/** Hits [start, end) taken in one month, and the header above them. */
export interface MonthGroup {
  start: number;
  end: number;
  label: string;
}

export const UNKNOWN_MONTH = "Date unknown";

/** The photo's month as year * 12 + month (0-based), or null when it has no usable date. */
export function monthOf(hit: Pick<Hit, "date" | "localDate">): number | null {
  const secs = Number.isFinite(hit.localDate) ? hit.localDate : Number.isFinite(hit.date) ? hit.date : null;
  if (secs === null || secs === undefined) return null;
  const d = new Date(secs * 1000);
  if (Number.isNaN(d.getTime())) return null;
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** "December 2026" in the window's language (or `locale`). */
export function monthLabel(month: number | null, locale?: string): string {
  if (month === null) return UNKNOWN_MONTH;
  const key = locale ?? "";
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { month: "long", year: "numeric", timeZone: "UTC" });
    formatters.set(key, f);
  }
  const year = Math.floor(month / 12);
  return f.format(new Date(Date.UTC(year, month - year * 12, 1)));
}

/**
 * Runs of consecutive hits in the same month. Only neighbours are merged: the same month of
 * another year, or a month the order comes back to, starts a run of its own.
 */
export function monthGroups(hits: readonly Pick<Hit, "date" | "localDate">[], locale?: string): MonthGroup[] {
  const groups: MonthGroup[] = [];
  let month: number | null | undefined;
  for (let i = 0; i < hits.length; i++) {
    const m = monthOf(hits[i]);
    if (i === 0 || m !== month) {
      if (groups.length) groups[groups.length - 1].end = i;
      groups.push({ start: i, end: hits.length, label: monthLabel(m, locale) });
      month = m;
    }
  }
  return groups;
}
