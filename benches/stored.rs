//! How exact the catalog's stored embeddings are: exact search over every stored photo, decoded
//! from each stored form, against exact search over the f32 originals (the ground truth), for
//! text-like queries and for photo queries (a stored photo, itself left out), on both synthetic
//! generators in `space`, and on generator 1 with four coordinates pushed out (the case one
//! scale per row serves worst). Every search ends on the stored form, so a form that moved the
//! true best ten here would move them in the product.
//!
//! Forms: the f16 blobs of libraries before the packed form, the packed form the catalog writes
//! now (`glimpse_library::catalog::embedding_blob`), and, for scale, the i8 rows the vector
//! index keeps (which every search re-scores past).
//!
//! Run: `cargo bench --bench stored` (100k); `GLIMPSE_BENCH_SCALES=100000,1000000`.

mod space;

use glimpse_library::catalog::{blob_embedding, embedding_blob};
use space::{recall, Kind, Space, DIM};
use std::time::Instant;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |c| c.get())
}

/// A dot product in eight lanes, so that the compiler vectorises it.
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum()
}

/// The best `k` row ids (1-based) for every query, over all rows of `flat`, on all cores;
/// `skip[q]` (a 1-based id) is left out of query `q`'s answer.
fn top_k(flat: &[f32], queries: &[Vec<f32>], skip: &[i64], k: usize) -> Vec<Vec<i64>> {
    let n = flat.len() / DIM;
    let per = n.div_ceil(threads());
    let parts: Vec<Vec<Vec<(f32, i64)>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads())
            .map(|t| {
                s.spawn(move || {
                    let mut best: Vec<Vec<(f32, i64)>> = vec![Vec::new(); queries.len()];
                    let mut floor = vec![f32::NEG_INFINITY; queries.len()];
                    for i in t * per..((t + 1) * per).min(n) {
                        let row = &flat[i * DIM..(i + 1) * DIM];
                        let id = i as i64 + 1;
                        for (qi, q) in queries.iter().enumerate() {
                            let s = dot8(q, row);
                            if s > floor[qi] && skip[qi] != id {
                                let b = &mut best[qi];
                                b.push((s, id));
                                if b.len() >= 4 * k {
                                    b.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                                    b.truncate(k);
                                    floor[qi] = b[k - 1].0;
                                }
                            }
                        }
                    }
                    best
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("scoring thread"))
            .collect()
    });
    space::merge_best(&parts, queries.len(), k)
}

/// `f` applied to every row of `flat`, on all cores.
fn map_rows(flat: &[f32], f: &(dyn Fn(&[f32]) -> Vec<f32> + Sync)) -> Vec<f32> {
    let n = flat.len() / DIM;
    let per = n.div_ceil(threads());
    let parts: Vec<Vec<f32>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads())
            .map(|t| {
                s.spawn(move || {
                    (t * per..((t + 1) * per).min(n))
                        .flat_map(|i| f(&flat[i * DIM..(i + 1) * DIM]))
                        .collect()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("decoding thread"))
            .collect()
    });
    parts.concat()
}

/// The f16 blob of `v` (the form before the packed one).
fn f16_blob(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect()
}

/// The i8 row of `v` as the vector index keeps it, back at unit length.
fn i8_form(v: &[f32]) -> Vec<f32> {
    let m = v.iter().fold(0f32, |a, x| a.max(x.abs())).max(1e-9);
    let q: Vec<f32> = v.iter().map(|x| (x / m * 127.0).round()).collect();
    let n = q.iter().map(|x| x * x).sum::<f32>().sqrt();
    q.iter().map(|x| x / n).collect()
}

/// `v` with four coordinates pushed out (CLIP's embeddings sit off the origin, and some
/// models have dimensions far larger than the rest), at unit length again: the case where one
/// scale per row serves the other coordinates worst.
fn outlying(v: &[f32]) -> Vec<f32> {
    let mut v = v.to_vec();
    for (i, x) in v.iter_mut().take(4).enumerate() {
        *x += if i % 2 == 0 { 0.3 } else { -0.3 };
    }
    space::unit(v)
}

fn main() {
    let scales = space::scales("100000");
    let queries = space::env_count("GLIMPSE_BENCH_QUERIES", 200);
    println!(
        "glimpse stored forms: {} cores, {queries} text and {queries} photo queries, recall@10 of exact search over each form against exact f32",
        threads()
    );
    type Form = (&'static str, fn(&[f32]) -> Vec<u8>, fn(&[f32]) -> Vec<f32>);
    let forms: [Form; 3] = [
        ("f16 (before)", f16_blob, |v| blob_embedding(&f16_blob(v))),
        ("packed (now)", embedding_blob, |v| {
            blob_embedding(&embedding_blob(v))
        }),
        // (Its size, codes and a scale: no blob of it is stored or read.)
        ("i8 rows (the index's)", |v| vec![0; v.len() + 4], i8_form),
    ];
    for &n in &scales {
        for (kind, outliers) in [(Kind::Even, false), (Kind::Zipf, false), (Kind::Even, true)] {
            let t = Instant::now();
            let space = Space::new(kind, n);
            let per = n.div_ceil(threads());
            let shape = |v: Vec<f32>| if outliers { outlying(&v) } else { v };
            let flat: Vec<f32> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads())
                    .map(|t| {
                        let space = &space;
                        s.spawn(move || -> Vec<f32> {
                            (t * per..((t + 1) * per).min(n))
                                .flat_map(|i| shape(space.photo(i)))
                                .collect()
                        })
                    })
                    .collect();
                hs.into_iter()
                    .flat_map(|h| h.join().expect("generating thread"))
                    .collect()
            });
            let picks: Vec<usize> = (0..queries).map(|i| (i * 7_919 + 13) % n).collect();
            let mut qs: Vec<Vec<f32>> = (0..queries).map(|i| shape(space.query(i))).collect();
            qs.extend(picks.iter().map(|&p| flat[p * DIM..(p + 1) * DIM].to_vec()));
            let mut skip = vec![0i64; queries];
            skip.extend(picks.iter().map(|&p| p as i64 + 1));
            let truth = top_k(&flat, &qs, &skip, 10);
            println!(
                "\n{n} photos, {}{} (generated and scored exactly in f32 in {:.1} s):",
                kind.name(),
                if outliers {
                    ", four coordinates pushed out by 0.3"
                } else {
                    ""
                },
                t.elapsed().as_secs_f64()
            );
            for (name, blob, form) in forms {
                let t = Instant::now();
                let stored = map_rows(&flat, &|v| form(v));
                let mut worst = 1f32;
                let mut err2 = 0f64;
                let (mut count, mut bytes, mut rows) = (0usize, 0usize, 0usize);
                for i in (0..n).step_by(97) {
                    let (a, b) = (
                        &flat[i * DIM..(i + 1) * DIM],
                        &stored[i * DIM..(i + 1) * DIM],
                    );
                    worst = worst.min(dot8(a, b));
                    bytes += blob(a).len();
                    rows += 1;
                    for q in qs.iter().step_by(20) {
                        let d = f64::from(dot8(q, a) - dot8(q, b));
                        err2 += d * d;
                        count += 1;
                    }
                }
                let bytes = bytes as f64 / rows as f64;
                // Writing and reading one stored vector (the exact finish reads a few dozen a
                // query), on one thread.
                let sample: Vec<&[f32]> = (0..n)
                    .step_by(97)
                    .map(|i| &flat[i * DIM..(i + 1) * DIM])
                    .collect();
                let timing = if name.starts_with("i8") {
                    String::new()
                } else {
                    let clock = Instant::now();
                    let blobs: Vec<Vec<u8>> = sample.iter().map(|v| blob(v)).collect();
                    let write_us = clock.elapsed().as_secs_f64() * 1e6 / sample.len() as f64;
                    let clock = Instant::now();
                    let read: usize = blobs.iter().map(|b| blob_embedding(b).len()).sum();
                    let read_us = clock.elapsed().as_secs_f64() * 1e6 / sample.len() as f64;
                    assert_eq!(read, sample.len() * DIM);
                    format!("  write {write_us:.1} µs, read {read_us:.2} µs")
                };
                let got = top_k(&stored, &qs, &skip, 10);
                let mean = |r: std::ops::Range<usize>| {
                    r.clone().map(|i| recall(&got[i], &truth[i])).sum::<f64>() / r.len() as f64
                };
                let moved = got.iter().zip(&truth).filter(|(g, t)| g != t).count();
                // How much worse, in f32 score, the worst photo a query took in place of a true
                // best-ten one was than that query's true 10th.
                let f32_score = |q: &[f32], id: i64| {
                    let i = id as usize - 1;
                    dot8(q, &flat[i * DIM..(i + 1) * DIM])
                };
                let given_up = got
                    .iter()
                    .zip(&truth)
                    .zip(&qs)
                    .map(|((g, t), q)| {
                        let tenth = t.last().map_or(0.0, |id| f32_score(q, *id));
                        g.iter()
                            .map(|id| tenth - f32_score(q, *id))
                            .fold(0f32, f32::max)
                    })
                    .fold(0f32, f32::max);
                println!(
                    "  {name:<22} {bytes:>6.1} B  worst cosine to f32 {worst:.7}  score error rms {:.2e}  recall@10 text {:.4} photo {:.4}  answers not identical to f32 {moved}/{}, worst swap {given_up:.1e} below the true 10th{timing}  ({:.1} s)",
                    (err2 / count as f64).sqrt(),
                    mean(0..queries),
                    mean(queries..2 * queries),
                    qs.len(),
                    t.elapsed().as_secs_f64()
                );
            }
        }
    }
}
