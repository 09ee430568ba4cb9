//! Which structure finds the true best photos for a text query at a million photos, measured
//! before choosing (issue: text-query recall at scale). Everything here runs in memory on
//! synthetic CLIP-like vectors from both generators in `space` (the second held out from
//! tuning), with the ground truth scored exactly in f32:
//!
//! - exact search over f32 and over an i8 copy (every vector scored, on all cores);
//! - one-bit sketches (`glimpse_library::sketch`, the RaBitQ estimator) scored exhaustively,
//!   then the best K re-scored exactly, for several K, with and without the caption direction
//!   scored exactly; and photo queries (a stored photo, itself left out) on the same sketches.
//!
//! The graph (USearch HNSW) is measured on real libraries by `cargo bench --bench search`.
//!
//! Run: `cargo bench --bench candidates` (100k); `GLIMPSE_BENCH_SCALES=100000,1000000`.

mod space;

use glimpse_library::sketch::Sketches;
use space::{dot, recall, Kind, Space, Stats, DIM};
use std::time::Instant;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |c| c.get())
}

/// Top `k` (id, score) over flat rows scored by `score`, on all cores.
fn flat_top<F: Fn(usize) -> f32 + Sync>(n: usize, k: usize, score: F) -> Vec<i64> {
    let t = threads();
    let per = n.div_ceil(t);
    let score = &score;
    let mut all: Vec<(f32, i64)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..t)
            .map(|p| {
                s.spawn(move || {
                    let mut best: Vec<(f32, i64)> = Vec::with_capacity(2 * k + 1);
                    let mut floor = f32::NEG_INFINITY;
                    for i in p * per..((p + 1) * per).min(n) {
                        let sc = score(i);
                        if sc > floor {
                            best.push((sc, i as i64 + 1));
                            if best.len() >= 2 * k {
                                best.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
                                best.truncate(k);
                                floor = best.iter().map(|b| b.0).fold(f32::INFINITY, f32::min);
                            }
                        }
                    }
                    best
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|x| x.1).collect()
}

/// Prints one line of figures.
fn print(mut stats: Stats, what: &str, memory_mb: f64) {
    let (p50, p99, recall, worst) = stats.summary();
    println!(
        "  {what:<40} p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  recall@10 {recall:.4} (worst query {worst:.1})  memory {memory_mb:.0} MB"
    );
}

fn main() {
    let scales = space::scales("100000");
    let queries = space::env_count("GLIMPSE_BENCH_QUERIES", 200);
    println!(
        "glimpse search candidates: {} cores, {queries} text-like queries per line, recall@10 against exact f32",
        threads()
    );
    for &n in &scales {
        for kind in [Kind::Even, Kind::Zipf] {
            let space = Space::new(kind, n);
            println!("\n{n} photos, {}:", kind.name());
            let t = Instant::now();
            let flat: Vec<f32> = {
                let t = threads();
                let per = n.div_ceil(t);
                let parts: Vec<Vec<f32>> = std::thread::scope(|s| {
                    let hs: Vec<_> = (0..t)
                        .map(|p| {
                            let space = &space;
                            s.spawn(move || {
                                (p * per..((p + 1) * per).min(n))
                                    .flat_map(|i| space.photo(i))
                                    .collect()
                            })
                        })
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap()).collect()
                });
                parts.concat()
            };
            let row = |i: usize| &flat[i * DIM..(i + 1) * DIM];
            // The best 10 of `candidates` by exact f32 score.
            let rescore = |q: &[f32], candidates: &[(i64, f32)]| -> Vec<i64> {
                let mut scored: Vec<(f32, i64)> = candidates
                    .iter()
                    .map(|(id, _)| (dot(q, row(*id as usize - 1)), *id))
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                scored.iter().take(10).map(|s| s.1).collect()
            };
            let qs: Vec<Vec<f32>> = (0..queries).map(|i| space.query(i)).collect();
            println!("  generated in {:.1} s", t.elapsed().as_secs_f64());

            // Exact f32: the ground truth, and its latency.
            let mut exact = Stats::new();
            let mut truth = Vec::new();
            for q in &qs {
                let t = Instant::now();
                let top = flat_top(n, 10, |i| dot(q, row(i)));
                exact.ms.push(t.elapsed().as_secs_f64() * 1e3);
                exact.recall.push(1.0);
                truth.push(top);
            }
            print(
                exact,
                "exact f32 (every vector)",
                (n * DIM * 4) as f64 / 1e6,
            );
            // How far a text query's best photos are from the rest: the scores the rerank must
            // separate.
            let gaps: Vec<(f32, f32, f32)> = qs
                .iter()
                .take(20)
                .map(|q| {
                    let mut s: Vec<f32> = (0..n).map(|i| dot(q, row(i))).collect();
                    s.sort_by(|a, b| b.total_cmp(a));
                    (s[0], s[9], s[999.min(n - 1)])
                })
                .collect();
            let m = |f: fn(&(f32, f32, f32)) -> f32| {
                gaps.iter().map(f).sum::<f32>() / gaps.len() as f32
            };
            println!(
                "  text-query scores: best {:.3}, 10th {:.3}, 1000th {:.3}",
                m(|g| g.0),
                m(|g| g.1),
                m(|g| g.2)
            );

            // Exact over an i8 copy (per-vector scale).
            let codes: Vec<i8> = flat
                .chunks(DIM)
                .flat_map(|v| {
                    let m = v.iter().fold(0f32, |a, x| a.max(x.abs())).max(1e-9);
                    v.iter().map(move |x| (x / m * 127.0).round() as i8)
                })
                .collect();
            let scales_i8: Vec<f32> = flat
                .chunks(DIM)
                .map(|v| v.iter().fold(0f32, |a, x| a.max(x.abs())).max(1e-9) / 127.0)
                .collect();
            let mut i8line = Stats::new();
            for (q, truth) in qs.iter().zip(&truth) {
                let t = Instant::now();
                let qm = q.iter().fold(0f32, |a, x| a.max(x.abs()));
                let qi: Vec<i8> = q.iter().map(|x| (x / qm * 127.0).round() as i8).collect();
                let top = flat_top(n, 10, |i| {
                    let c = &codes[i * DIM..(i + 1) * DIM];
                    let s: i32 = c.iter().zip(&qi).map(|(a, b)| *a as i32 * *b as i32).sum();
                    s as f32 * scales_i8[i]
                });
                i8line.ms.push(t.elapsed().as_secs_f64() * 1e3);
                i8line.recall.push(recall(&top, truth));
            }
            print(
                i8line,
                "exact i8 copy (every vector)",
                (n * DIM) as f64 / 1e6,
            );
            drop(codes);

            // One-bit sketches, exhaustive, then the best K re-scored exactly.
            let t = Instant::now();
            let items: Vec<(i64, Vec<f32>)> =
                (0..n).map(|i| (i as i64 + 1, row(i).to_vec())).collect();
            let sk = Sketches::build(DIM, &items);
            // The same sketches with the modality gap scored exactly: its direction is the mean
            // of calibration captions, held out from the measured queries.
            let calib: Vec<Vec<f32>> = (0..64)
                .map(|j| space.text_query(j * 104_729 + 17, 1_000_003 + j as u64))
                .collect();
            let mut gap = vec![0f32; DIM];
            calib
                .iter()
                .for_each(|c| gap.iter_mut().zip(c).for_each(|(g, x)| *g += x));
            let gap = space::unit(gap);
            let mut skg = sk.clone();
            skg.set_directions(&[gap], |id| Some(row(id as usize - 1).to_vec()));
            drop(items);
            let build_s = t.elapsed().as_secs_f64();
            let mem = sk.memory_usage() as f64 / 1e6;
            println!(
                "  sketches built in {build_s:.1} s ({:.0} vectors/s, one thread)",
                n as f64 / build_s
            );
            let mut err2 = 0f64;
            let mut cnt = 0usize;
            for q in qs.iter().take(10) {
                let est = skg.estimates(&skg.query(q));
                for (i, e) in est.iter().enumerate().step_by(97) {
                    let d = (*e - dot(q, row(i))) as f64;
                    err2 += d * d;
                    cnt += 1;
                }
            }
            println!(
                "  sketch estimate rms error {:.4}",
                (err2 / cnt as f64).sqrt()
            );
            let mut scan_only = Stats::new();
            for q in &qs {
                let t = Instant::now();
                let _ = sk.best(&sk.query(q), 10, threads(), &|_| true);
                scan_only.ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            scan_only.recall.push(f64::NAN);
            print(scan_only, "sketch scan alone (K 10)", mem);
            let mut one_thread = Stats::new();
            for q in &qs {
                let t = Instant::now();
                let _ = sk.best(&sk.query(q), 10, 1, &|_| true);
                one_thread.ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            one_thread.recall.push(f64::NAN);
            print(one_thread, "sketch scan alone (K 10), one thread", mem);
            for (with_gap, k) in [50, 100, 200, 400, 800, 1600, 3200]
                .into_iter()
                .flat_map(|k| [(false, k), (true, k)])
            {
                let sk = if with_gap { &skg } else { &sk };
                let mut line = Stats::new();
                for (q, truth) in qs.iter().zip(&truth) {
                    let t = Instant::now();
                    let top = rescore(q, &sk.best(&sk.query(q), k, threads(), &|_| true));
                    line.ms.push(t.elapsed().as_secs_f64() * 1e3);
                    line.recall.push(recall(&top, truth));
                }
                let gap = if with_gap { ", gap exact" } else { "" };
                print(
                    line,
                    &format!("sketch{gap} + exact rerank of best {k}"),
                    mem,
                );
            }
            // Photo queries ("more like this"): a stored photo, itself left out, against the
            // same sketches (the caption direction plays no part for them).
            let picks: Vec<usize> = (0..queries).map(|i| (i * 7_919 + 13) % n).collect();
            let photo_truth: Vec<Vec<i64>> = picks
                .iter()
                .map(|&p| {
                    let top = flat_top(n, 11, |i| dot(row(p), row(i)));
                    top.into_iter()
                        .filter(|id| *id != p as i64 + 1)
                        .take(10)
                        .collect()
                })
                .collect();
            for k in [100, 400, 1600] {
                let mut line = Stats::new();
                for (&p, truth) in picks.iter().zip(&photo_truth) {
                    let q = row(p);
                    let t = Instant::now();
                    let me = p as i64 + 1;
                    let top = rescore(q, &sk.best(&sk.query(q), k, threads(), &|id| id != me));
                    line.ms.push(t.elapsed().as_secs_f64() * 1e3);
                    line.recall.push(recall(&top, truth));
                }
                print(
                    line,
                    &format!("photo query: sketch + exact rerank of best {k}"),
                    mem,
                );
            }
        }
    }
}
