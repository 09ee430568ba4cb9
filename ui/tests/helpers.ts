// Test helpers: fake hits and a controllable fake `api.search`.
import type { Hit, SearchPage, SearchQuery } from "../src/lib/api";

export function hit(i: number, extra: Partial<Hit> = {}): Hit {
  return {
    id: i + 1,
    path: `/photos/p${i}.jpg`,
    score: Math.round((0.9 - i * 0.0001) * 10000) / 10000,
    date: 1_700_000_000 + i,
    localDate: 1_700_000_000 + i,
    offsetMinutes: null,
    size: 1000 + i,
    width: 640,
    height: 480,
    format: "jpeg",
    thumbnail: `/lib/thumbs/${i}.jpg`,
    tags: [],
    dateTaken: true,
    camera: null,
    latitude: null,
    longitude: null,
    words: [],
    ...extra,
  };
}

export function hits(n: number, from = 0): Hit[] {
  return Array.from({ length: n }, (_, i) => hit(from + i));
}

export function page(h: Hit[], more = false, extra: Partial<SearchPage> = {}): SearchPage {
  return { hits: h, hasMore: more, weakerHidden: false, queryPreview: null, queryCut: false, ...extra };
}

/** A search function whose answers the test releases one by one, in any order. */
export function deferredSearch() {
  const calls: { query: SearchQuery; resolve: (p: SearchPage) => void; reject: (e: unknown) => void }[] = [];
  const fn = (query: SearchQuery) =>
    new Promise<SearchPage>((resolve, reject) => {
      calls.push({ query, resolve, reject });
    });
  return { fn, calls };
}

/** Lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
