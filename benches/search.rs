//! Query latency at library scale: text queries (tokenize + encode + search + join) and
//! similar-photo queries (stored vector + search + join) on libraries of 10k, 100k and 1M
//! photos, with recall@10 against exact search beside every latency, the time to open a
//! library and the process's memory.
//!
//! The vectors are synthetic but shaped like CLIP photo embeddings (see `space`): a mixture on
//! the sphere inside a common cone, and text-like queries across the modality gap, as real text
//! queries are; two generators, the second held out from tuning (libraries of the second are
//! built up to `GLIMPSE_BENCH_ZIPF_MAX`, default 100k). IID uniform vectors would make any graph
//! index look broken and are not what photos produce. Recall is against exact search in f32 on
//! the generator's own vectors, computed once per library and cached beside it. Captions go
//! through the sketches (`search::Request::caption`); the graph's figures for them are printed
//! as "before".
//!
//! Run: `cargo bench --bench search` (10k and 100k). The 1M library takes a while to build the
//! first time (it is cached under target/bench-data): `GLIMPSE_BENCH_SCALES=10000,100000,1000000`.
//! The text model is `GLIMPSE_BENCH_MODEL` (default: the repository's shape model); a real-size
//! random ViT-B/32 (models/test/make_vitb32.py) shows what OpenAI's text tower costs.

mod space;

use glimpse_clip::device::Device;
use glimpse_clip::encode::TextEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_clip::runtime::RuntimeOptions;
use glimpse_library::Library;
use glimpse_query::search::{self, Request};
use space::cached::library;
use space::{recall, rss_mb, Kind, Rng, Space, Stats, DIM};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Prints one line of figures.
fn line(stats: &mut Stats, what: &str) {
    let (p50, p99, recall, _) = stats.summary();
    println!("  {what:<52} p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  recall@10 {recall:.4}");
}

/// Exact f32 top 10 of every text query and top 11 of every photo query, from the generator
/// (never from the index), computed once and cached beside the library.
fn truths(
    dir: &Path,
    space: &Space,
    n: usize,
    texts: &[Vec<f32>],
    photos: &[usize],
) -> Vec<Vec<i64>> {
    let file = dir.join(format!("truth-{}-{}.json", texts.len(), photos.len()));
    if let Some(t) = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<Vec<i64>>>(&b).ok())
    {
        return t;
    }
    let t = Instant::now();
    let mut queries: Vec<Vec<f32>> = texts.to_vec();
    queries.extend(photos.iter().map(|i| space.photo(*i)));
    let all = space::exact_truth(space, n, &queries, 11);
    println!(
        "  exact f32 ground truth in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let _ = std::fs::write(&file, serde_json::to_vec(&all).unwrap_or_default());
    all
}

fn main() {
    let scales = space::scales("10000,100000");
    // The held-out generator's libraries are built up to this size (its HNSW build is the
    // cost: 100k take ~3 minutes on 2 cores, 1M over half an hour).
    let zipf_max = space::env_count("GLIMPSE_BENCH_ZIPF_MAX", 100_000);
    let queries = space::env_count("GLIMPSE_BENCH_QUERIES", 200);
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let model = std::env::var("GLIMPSE_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/test/shape-clip")
        });
    let rt = glimpse_clip::runtime::load(&RuntimeOptions::default().with_download(false))
        .expect("ONNX Runtime: set ORT_DYLIB_PATH");
    let files = ModelFiles::open(&model).expect("model folder");
    let text = TextEncoder::open(&rt.env, &files, Device::Cpu).expect("text encoder");
    let captions = [
        "dog asleep on a red sofa",
        "a beach at sunset with people",
        "receipt from a restaurant",
        "snowy mountains under a blue sky",
        "birthday cake with candles",
        "a black cat on a windowsill",
        "screenshot of a chat",
        "my car in the rain at night",
    ];
    // Warm the text tower (first runs allocate).
    for c in &captions {
        text.embed(&[c]).expect("embed");
    }
    println!(
        "glimpse search benchmark: {} cores, text model {} ({} queries per line)",
        std::thread::available_parallelism().map_or(1, |c| c.get()),
        files.name,
        queries
    );
    for &n in &scales {
        for kind in [Kind::Even, Kind::Zipf] {
            if kind == Kind::Zipf && n > zipf_max {
                continue;
            }
            run(&base, n, kind, queries, &text, &captions);
        }
    }
}

fn run(base: &Path, n: usize, kind: Kind, queries: usize, text: &TextEncoder, captions: &[&str]) {
    let space = Space::new(kind, n);
    println!("\n{n} photos, {}:", kind.name());
    let (dir, _) = library(base, n, &space);
    let libdir = dir.join("library");
    let texts: Vec<Vec<f32>> = (0..queries).map(|i| space.query(i)).collect();
    let mut rng = Rng(77);
    let picks: Vec<usize> = (0..queries)
        .map(|_| (rng.next() % n as u64) as usize)
        .collect();
    let truth = truths(&dir, &space, n, &texts, &picks);
    let (text_truth, photo_truth) = truth.split_at(queries);
    // The direction captions share: in this synthetic space the text tower is the generator,
    // so it is the mean of calibration captions held out from the measured queries (the
    // product takes it from its text tower, `search::caption_direction`).
    let calib: Vec<Vec<f32>> = (0..64)
        .map(|j| space.text_query(j * 104_729 + 17, 1_000_003 + j as u64))
        .collect();
    let gap = glimpse_clip::embedding::mean_direction(&calib).expect("gap");

    // As the app does at its first caption: the direction is recorded, scored into the
    // sketches and saved with them (one pass over the vectors, once per library).
    {
        let catalog = libdir.join("catalog.sqlite");
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let before = size(&catalog);
        let t = Instant::now();
        let mut lib = Library::open(&libdir, "synthetic-512", DIM).expect("library");
        println!(
            "  first open {:.0} ms (with any catalog migration; catalog {:.0} -> {:.0} MB)",
            t.elapsed().as_secs_f64() * 1e3,
            before as f64 / 1e6,
            size(&catalog) as f64 / 1e6
        );
        let t = Instant::now();
        lib.remember_caption_direction(&gap)
            .expect("caption direction");
        println!(
            "  caption direction recorded in {:.0} ms (once per library)",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let (rss0, _, _) = rss_mb();
    let t = Instant::now();
    let lib = Library::open(&libdir, "synthetic-512", DIM).expect("library");
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let caption_req = Request {
        caption: Some(gap.clone()),
        ..Request::new(10)
    };
    let first = search::nearest(&lib, &texts[0], &caption_req).expect("search");
    let searchable_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(first.hits.len(), 10);
    let (rss1, _, _) = rss_mb();
    println!(
        "  open {open_ms:.0} ms, first caption results {searchable_ms:.0} ms ({}), graph memory {:.0} MB, sketches {:.0} MB, RSS +{:.0} MB",
        lib.vectors_origin(),
        lib.vectors().memory_usage() as f64 / 1e6,
        lib.vectors().sketch_memory() as f64 / 1e6,
        rss1 - rss0
    );
    // The library on disk, thumbnails aside (the goal: ~2 KB a photo).
    let on_disk = |name: &str| {
        std::fs::read_dir(&libdir)
            .expect("library folder")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(name))
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum::<u64>()
    };
    let (cat, idx, sk) = (
        on_disk("catalog.sqlite"),
        on_disk("vectors-") - on_disk("vectors-synthetic-512.sketch"),
        on_disk("vectors-synthetic-512.sketch"),
    );
    println!(
        "  on disk: catalog {:.0} MB, index {:.0} MB, sketches {:.0} MB: {:.2} KB a photo",
        cat as f64 / 1e6,
        idx as f64 / 1e6,
        sk as f64 / 1e6,
        (cat + idx + sk) as f64 / n as f64 / 1e3
    );
    // What the window reads every 2 s while indexing (folder panel, status bar) and after
    // each job (type filter): counts the catalog keeps, so they cost the same at any size.
    let reads = 20;
    let t = Instant::now();
    for _ in 0..reads {
        lib.root_counts().expect("counts");
    }
    let folders_ms = t.elapsed().as_secs_f64() * 1e3 / reads as f64;
    let t = Instant::now();
    for _ in 0..reads {
        lib.records().indexed_formats().expect("formats");
    }
    let formats_ms = t.elapsed().as_secs_f64() * 1e3 / reads as f64;
    println!("  window counts: folders {folders_ms:.3} ms, formats {formats_ms:.3} ms");

    // Text queries end to end: tokenize + encode (the model's text tower runs for real) +
    // search + join. The vector searched is a text-like query of the synthetic space (the
    // test model's text space is not this synthetic photo space), so recall is meaningful.
    let mut end_to_end = Stats::new();
    let mut encode_only = Stats::new();
    let mut sketch_only = Stats::new();
    for (i, (q, truth)) in texts.iter().zip(text_truth).enumerate() {
        let truth = &truth[..10];
        let t = Instant::now();
        let parsed = search::parse(captions[i % captions.len()]);
        let _ = search::text_query_vector(text, &parsed, &[]).expect("encode");
        let enc_ms = t.elapsed().as_secs_f64() * 1e3;
        let page = search::nearest(&lib, q, &caption_req).expect("search");
        end_to_end.ms.push(t.elapsed().as_secs_f64() * 1e3);
        encode_only.ms.push(enc_ms);
        let got: Vec<i64> = page.hits.iter().map(|h| h.photo.id).collect();
        end_to_end.recall.push(recall(&got, truth));
        let t = Instant::now();
        let g = lib
            .search_caption(q, 10, Some(&gap), &|_| true)
            .expect("sketches");
        sketch_only.ms.push(t.elapsed().as_secs_f64() * 1e3);
        sketch_only
            .recall
            .push(recall(&g.iter().map(|h| h.0).collect::<Vec<_>>(), truth));
    }
    let mut scan_only = Stats::new();
    for (q, truth) in texts.iter().zip(text_truth) {
        let t = Instant::now();
        let e = lib.vectors().caption_estimates(q, 10, &|_| true);
        scan_only.ms.push(t.elapsed().as_secs_f64() * 1e3);
        scan_only.recall.push(recall(
            &e.iter().map(|h| h.0).collect::<Vec<_>>(),
            &truth[..10],
        ));
    }
    encode_only.recall.push(f64::NAN);
    line(
        &mut end_to_end,
        "caption query (tokenize+encode+search+join)",
    );
    line(&mut encode_only, "  of which tokenize+encode");
    line(
        &mut sketch_only,
        &format!(
            "  sketches + exact re-score of {} alone",
            glimpse_library::vectors::CAPTION_RERANK
        ),
    );
    line(
        &mut scan_only,
        "  sketch scan alone (best 10 estimates, no re-score)",
    );
    // Similar photos: a stored vector (no encode) + search + join, the photo left out: the
    // product's path (the graph's nearest and the best sketch estimates, scored exactly), then
    // the graph alone as it answered before, at its default breadth and wider.
    let similar_truth = |id: i64, truth: &[i64]| -> Vec<i64> {
        truth
            .iter()
            .copied()
            .filter(|t| *t != id)
            .take(10)
            .collect()
    };
    let similar_run = || {
        let mut similar = Stats::new();
        for (pick, truth) in picks.iter().zip(photo_truth) {
            let id = *pick as i64 + 1;
            let t = Instant::now();
            let Some(v) = lib.stored_vector(id).expect("catalog") else {
                continue;
            };
            let req = Request {
                exclude: vec![id],
                ..Request::new(10)
            };
            let page =
                search::nearest(&lib, &glimpse_clip::embedding::unit(v), &req).expect("similar");
            similar.ms.push(t.elapsed().as_secs_f64() * 1e3);
            let got: Vec<i64> = page.hits.iter().map(|h| h.photo.id).collect();
            similar.recall.push(recall(&got, &similar_truth(id, truth)));
        }
        similar
    };
    line(
        &mut similar_run(),
        &format!(
            "similar photo (stored vector+graph {}+sketches {}, cut at {} sd+join)",
            glimpse_library::vectors::PHOTO_GRAPH,
            glimpse_library::vectors::PHOTO_RERANK,
            glimpse_library::vectors::PHOTO_MARGIN
        ),
    );
    // The same with every estimate of the pool scored exactly, as before the cut.
    lib.vectors().set_photo_margin(f32::INFINITY);
    line(
        &mut similar_run(),
        "  before: every estimate of the pool scored",
    );
    lib.vectors()
        .set_photo_margin(glimpse_library::vectors::PHOTO_MARGIN);
    for ef in [128, 256] {
        lib.vectors().set_expansion_search(ef);
        let mut graph = Stats::new();
        for (pick, truth) in picks.iter().zip(photo_truth) {
            let id = *pick as i64 + 1;
            let Some(v) = lib.stored_vector(id).expect("catalog") else {
                continue;
            };
            let q = glimpse_clip::embedding::unit(v);
            let t = Instant::now();
            let g = lib.vectors().search(&q, 11).expect("graph");
            graph.ms.push(t.elapsed().as_secs_f64() * 1e3);
            let got: Vec<i64> = g
                .iter()
                .map(|h| h.0)
                .filter(|h| *h != id)
                .take(10)
                .collect();
            graph.recall.push(recall(&got, &similar_truth(id, truth)));
        }
        line(
            &mut graph,
            &format!("  before: HNSW graph alone at ef {ef} (no join)"),
        );
    }
    lib.vectors()
        .set_expansion_search(glimpse_library::vectors::EXPANSION_SEARCH);
    let (rss, peak, anon) = rss_mb();
    println!(
        "  RSS {rss:.0} MB (peak {peak:.0} MB, anonymous {anon:.0} MB) after the queries above"
    );
    // Before: the graph with the breadth text queries used (512), and wider.
    for ef in [512, 1024] {
        lib.vectors().set_expansion_search(ef);
        let mut s = Stats::new();
        for (q, truth) in texts.iter().zip(text_truth).take(100) {
            let t = Instant::now();
            let g = lib.vectors().search(q, 10).expect("graph");
            s.ms.push(t.elapsed().as_secs_f64() * 1e3);
            s.recall.push(recall(
                &g.iter().map(|h| h.0).collect::<Vec<_>>(),
                &truth[..10],
            ));
        }
        line(&mut s, &format!("  before: HNSW graph alone at ef {ef}"));
    }
    lib.vectors()
        .set_expansion_search(glimpse_library::vectors::EXPANSION_SEARCH);
}
