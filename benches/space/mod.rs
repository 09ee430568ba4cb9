//! Synthetic embedding spaces shaped like CLIP's, shared by the search benchmarks: photos are a
//! mixture of clusters on the sphere inside a common cone, and text-like queries sit across a
//! modality gap from the photos they match. Two generators with different cluster sizes, gap
//! and spread, so that a design tuned on one is checked on the other.
#![allow(dead_code)]

pub mod cached;

pub const DIM: usize = 512;

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn uniform(&mut self) -> f32 {
        ((self.next() >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }
    pub fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
    pub fn unit(&mut self) -> Vec<f32> {
        unit((0..DIM).map(|_| self.normal()).collect())
    }
}

pub fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

pub fn mix(parts: &[(f32, &[f32])]) -> Vec<f32> {
    let mut out = vec![0f32; DIM];
    for (w, v) in parts {
        for (o, x) in out.iter_mut().zip(v.iter()) {
            *o += w * x;
        }
    }
    unit(out)
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Which generator.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Generator 1 (the one the design was tuned on): n/100 equal clusters (max 10,000), photos
    /// at cosine ~0.85 to their centre, centres ~0.56 to each other, text queries along one
    /// random text direction at cosine ~0.25-0.3 to their best photos.
    Even,
    /// Generator 2 (held out): Zipf-sized clusters (n/50 of them, max 20,000; the largest holds
    /// ~1 % of the photos, most hold a handful), looser clusters (cosine ~0.75 to the centre),
    /// a wider cone, and a narrower, noisier gap: text queries are a constant gap vector plus
    /// their subject (cosine ~0.3-0.35 to their best photos).
    Zipf,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Even => "generator 1 (even clusters)",
            Kind::Zipf => "generator 2 (Zipf clusters, held out)",
        }
    }
}

/// The synthetic embedding space: cone axis, cluster centres, the text direction.
pub struct Space {
    pub kind: Kind,
    pub axis: Vec<f32>,
    pub centres: Vec<Vec<f32>>,
    pub text: Vec<f32>,
    /// Cumulative cluster weights (Zipf), empty for even clusters.
    cdf: Vec<f64>,
}

impl Space {
    /// The space for a library of `n` photos.
    pub fn new(kind: Kind, n: usize) -> Self {
        let (clusters, seed) = match kind {
            Kind::Even => ((n / 100).clamp(50, 10_000), 0x5eed_1234_abcd_0001),
            Kind::Zipf => ((n / 50).clamp(50, 20_000), 0x0dd5_eed2_7777_0002),
        };
        let mut rng = Rng(seed);
        let axis = rng.unit();
        let (a, g) = match kind {
            Kind::Even => (0.75, 0.66),
            Kind::Zipf => (0.6, 0.8),
        };
        let centres = (0..clusters)
            .map(|_| {
                let u = rng.unit();
                mix(&[(a, &axis), (g, &u)])
            })
            .collect();
        let text = rng.unit();
        let cdf = match kind {
            Kind::Even => Vec::new(),
            Kind::Zipf => {
                let mut acc = 0.0;
                let w: Vec<f64> = (0..clusters)
                    .map(|k| {
                        acc += 1.0 / (k as f64 + 1.0).powf(0.9);
                        acc
                    })
                    .collect();
                w.iter().map(|x| x / acc).collect()
            }
        };
        Space {
            kind,
            axis,
            centres,
            text,
            cdf,
        }
    }

    /// The cluster photo `i` belongs to.
    pub fn cluster_of(&self, i: usize) -> usize {
        match self.kind {
            Kind::Even => i % self.centres.len(),
            Kind::Zipf => {
                let mut r = Rng(0x51ab_c0de ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
                r.next();
                let u = r.uniform() as f64;
                self.cdf
                    .partition_point(|c| *c < u)
                    .min(self.centres.len() - 1)
            }
        }
    }

    /// Photo `i` (0-based; its photo id in a bench library is `i + 1`).
    pub fn photo(&self, i: usize) -> Vec<f32> {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let u = rng.unit();
        let c = &self.centres[self.cluster_of(i)];
        match self.kind {
            Kind::Even => mix(&[(1.0, c), (0.62, &u)]),
            Kind::Zipf => mix(&[(1.0, c), (0.88, &u)]),
        }
    }

    /// A text-like query about cluster `k`; `seed` varies its wording. Queries are never part
    /// of anything an index is built from.
    pub fn text_query(&self, k: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let u = rng.unit();
        let c = &self.centres[k % self.centres.len()];
        match self.kind {
            Kind::Even => mix(&[(0.32, c), (0.9, &self.text), (0.25, &u), (0.05, &self.axis)]),
            Kind::Zipf => mix(&[(0.4, c), (0.8, &self.text), (0.35, &u)]),
        }
    }

    /// Query `i` of a bench run: a text query about a cluster picked across the whole space.
    pub fn query(&self, i: usize) -> Vec<f32> {
        self.text_query(i * 7919, i as u64 + 11)
    }
}

/// Exact top-`k` photo ids (1-based) for each query, by scoring every photo in f32, on all
/// cores: the ground truth.
pub fn exact_truth(space: &Space, n: usize, queries: &[Vec<f32>], k: usize) -> Vec<Vec<i64>> {
    let threads = std::thread::available_parallelism().map_or(1, |c| c.get());
    let per = n.div_ceil(threads);
    let parts: Vec<Vec<Vec<(f32, i64)>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut best: Vec<Vec<(f32, i64)>> = vec![Vec::new(); queries.len()];
                    for i in t * per..((t + 1) * per).min(n) {
                        let p = space.photo(i);
                        for (qi, q) in queries.iter().enumerate() {
                            let s = dot(q, &p);
                            let b = &mut best[qi];
                            if b.len() < k || s > b[b.len() - 1].0 {
                                b.push((s, i as i64 + 1));
                                b.sort_by(|a, b| b.0.total_cmp(&a.0));
                                b.truncate(k);
                            }
                        }
                    }
                    best
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("truth thread"))
            .collect()
    });
    merge_best(&parts, queries.len(), k)
}

/// Each query's best `k` ids from the (score, id) piles each thread kept for it, best first
/// (ties by id).
pub fn merge_best(parts: &[Vec<Vec<(f32, i64)>>], queries: usize, k: usize) -> Vec<Vec<i64>> {
    (0..queries)
        .map(|qi| {
            let mut all: Vec<(f32, i64)> = parts.iter().flat_map(|p| p[qi].clone()).collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            all.into_iter().take(k).map(|x| x.1).collect()
        })
        .collect()
}

pub fn recall(got: &[i64], truth: &[i64]) -> f64 {
    let hit = got.iter().filter(|g| truth.contains(g)).count();
    hit as f64 / truth.len().max(1) as f64
}

/// The sizes `GLIMPSE_BENCH_SCALES` names (comma-separated), else `default`.
pub fn scales(default: &str) -> Vec<usize> {
    std::env::var("GLIMPSE_BENCH_SCALES")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// A count from the environment variable `name`, else `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The latencies (ms) and recalls gathered for one printed line.
pub struct Stats {
    pub ms: Vec<f64>,
    pub recall: Vec<f64>,
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            ms: Vec::new(),
            recall: Vec::new(),
        }
    }

    /// p50 and p99 latency, mean and worst recall.
    pub fn summary(&mut self) -> (f64, f64, f64, f64) {
        self.ms.sort_by(f64::total_cmp);
        let mean = self.recall.iter().sum::<f64>() / self.recall.len().max(1) as f64;
        let worst = self.recall.iter().copied().fold(f64::INFINITY, f64::min);
        (
            percentile(&self.ms, 0.5),
            percentile(&self.ms, 0.99),
            mean,
            worst,
        )
    }
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn rss_mb() -> (f64, f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"), field("RssAnon:"))
}
