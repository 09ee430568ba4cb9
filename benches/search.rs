//! Query latency at library scale: text queries (tokenize + encode + search + join) and
//! similar-photo queries (stored vector + search + join) on libraries of 10k, 100k and 1M
//! photos, with recall@10 against exact search beside every latency, the time to open a
//! library and the process's memory.
//!
//! The vectors are synthetic but shaped like CLIP photo embeddings: a mixture on the sphere
//! inside a common cone (photos of one subject cluster around a centre at cosine ~0.85; centres
//! share the cone at ~0.56), and text-like queries sit across the modality gap (cosine ~0.25-0.3
//! to their matches), as real text queries do. IID uniform vectors would make any graph index
//! look broken and are not what photos produce.
//!
//! Run: `cargo bench --bench search` (10k and 100k). The 1M library takes a while to build the
//! first time (it is cached under target/bench-data): `GLIMPSE_BENCH_SCALES=10000,100000,1000000`.
//! The text model is `GLIMPSE_BENCH_MODEL` (default: the repository's shape model); a real-size
//! random ViT-B/32 (models/test/make_vitb32.py) shows what OpenAI's text tower costs.

use glimpse_clip::device::Device;
use glimpse_clip::encode::TextEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_clip::runtime::RuntimeOptions;
use glimpse_library::catalog::Catalog;
use glimpse_library::pipeline::Outcome;
use glimpse_library::Library;
use glimpse_query::search::{self, Request};
use std::path::{Path, PathBuf};
use std::time::Instant;

const DIM: usize = 512;
/// Bump when the generator changes, so cached libraries are rebuilt.
const GENERATOR: u32 = 1;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn uniform(&mut self) -> f32 {
        ((self.next() >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
    fn unit(&mut self) -> Vec<f32> {
        unit((0..DIM).map(|_| self.normal()).collect())
    }
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn mix(parts: &[(f32, &[f32])]) -> Vec<f32> {
    let mut out = vec![0f32; DIM];
    for (w, v) in parts {
        for (o, x) in out.iter_mut().zip(v.iter()) {
            *o += w * x;
        }
    }
    unit(out)
}

/// The synthetic embedding space: cone axis, cluster centres, the text direction.
struct Space {
    axis: Vec<f32>,
    centres: Vec<Vec<f32>>,
    text: Vec<f32>,
}

impl Space {
    fn new(clusters: usize) -> Self {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let axis = rng.unit();
        let centres = (0..clusters)
            .map(|_| {
                let g = rng.unit();
                mix(&[(0.75, &axis), (0.66, &g)])
            })
            .collect();
        let text = rng.unit();
        Space {
            axis,
            centres,
            text,
        }
    }

    /// Photo `i`: a point of cluster `i % clusters` at cosine ~0.85 to its centre.
    fn photo(&self, i: usize) -> Vec<f32> {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let u = rng.unit();
        let c = &self.centres[i % self.centres.len()];
        mix(&[(1.0, c), (0.62, &u)])
    }

    /// A text-like query for cluster `k`: mostly the text direction, ~0.3 towards the photos.
    fn text_query(&self, k: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let u = rng.unit();
        let c = &self.centres[k % self.centres.len()];
        mix(&[(0.32, c), (0.9, &self.text), (0.25, &u), (0.05, &self.axis)])
    }
}

fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Builds (once) a library of `n` synthetic photos: catalog rows and embeddings, and the
/// vector index built by `Library::open` exactly as after a crash (parallel rebuild).
fn library(base: &Path, n: usize, space: &Space) -> (PathBuf, Option<f64>) {
    let dir = base.join(format!("search-{n}-g{GENERATOR}"));
    let done = dir.join("complete");
    if done.is_file() {
        return (dir, None);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let photos = dir.join("photos");
    let libdir = dir.join("library");
    let t = Instant::now();
    {
        let mut cat = Catalog::open(&libdir).expect("catalog");
        let model = cat.model_id("synthetic-512", DIM).expect("model");
        let root = cat.add_root(&photos).expect("root");
        let chunk = 20_000;
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk).min(n);
            let files: Vec<(PathBuf, i64, i64, Option<String>)> = (start..end)
                .map(|i| {
                    (
                        photos.join(format!("{:03}/{i:07}.jpg", i % 997)),
                        1_000_000 + i as i64,
                        (1_500_000_000 + i as i64 * 600) * 1_000_000_000,
                        None,
                    )
                })
                .collect();
            let ids = cat.upsert_files(root.id, &files).expect("rows");
            let outcomes: Vec<Outcome> = ids
                .iter()
                .enumerate()
                .map(|(k, id)| {
                    let i = start + k;
                    Outcome::Encoded {
                        photo_id: *id,
                        hash: *blake3::hash(&(i as u64).to_le_bytes()).as_bytes(),
                        vector: space.photo(i),
                        width: 4000,
                        height: 3000,
                        format: "jpeg".into(),
                        metadata: Default::default(),
                        note: None,
                    }
                })
                .collect();
            cat.commit_batch(model, &outcomes).expect("embeddings");
        }
    }
    let rows_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let lib = Library::open(&libdir, "synthetic-512", DIM).expect("library");
    let build_s = t.elapsed().as_secs_f64();
    assert_eq!(lib.vector_count(), n);
    println!(
        "  built: catalog {rows_s:.1} s, vector index {build_s:.1} s ({:.0} vectors/s on {} threads; {})",
        n as f64 / build_s,
        std::thread::available_parallelism().map_or(1, |c| c.get()),
        lib.vectors_origin()
    );
    drop(lib);
    std::fs::write(&done, b"ok").expect("marker");
    (dir, Some(build_s))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn recall(got: &[i64], truth: &[i64]) -> f64 {
    let hit = got.iter().filter(|g| truth.contains(g)).count();
    hit as f64 / truth.len().max(1) as f64
}

struct Stats {
    ms: Vec<f64>,
    recall: Vec<f64>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            ms: Vec::new(),
            recall: Vec::new(),
        }
    }
    fn line(&mut self, what: &str) {
        self.ms.sort_by(f64::total_cmp);
        let r = self.recall.iter().sum::<f64>() / self.recall.len().max(1) as f64;
        println!(
            "  {what:<44} p50 {:>7.2} ms  p99 {:>7.2} ms  recall@10 {r:.4}",
            percentile(&self.ms, 0.5),
            percentile(&self.ms, 0.99)
        );
    }
}

fn exact_top10(lib: &Library, q: &[f32]) -> Vec<i64> {
    lib.vectors()
        .search_exact(q, 10)
        .expect("exact")
        .into_iter()
        .map(|h| h.0)
        .collect()
}

fn main() {
    let scales: Vec<usize> = std::env::var("GLIMPSE_BENCH_SCALES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let queries: usize = std::env::var("GLIMPSE_BENCH_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
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
        let space = Space::new((n / 100).clamp(50, 10_000));
        println!("\n{n} photos:");
        let (dir, _) = library(&base, n, &space);
        let libdir = dir.join("library");
        let (rss0, _) = rss_mb();
        let t = Instant::now();
        let lib = Library::open(&libdir, "synthetic-512", DIM).expect("library");
        let open_ms = t.elapsed().as_secs_f64() * 1e3;
        let first =
            search::nearest(&lib, &space.text_query(0, 1), &Request::new(10)).expect("search");
        let searchable_ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(first.hits.len(), 10);
        let (rss1, _) = rss_mb();
        println!(
            "  open {open_ms:.0} ms, first results {searchable_ms:.0} ms ({}), index memory {:.0} MB, RSS +{:.0} MB",
            lib.vectors_origin(),
            lib.vectors().memory_usage() as f64 / 1e6,
            rss1 - rss0
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
        let mut graph = Stats::new();
        let mut exact = Stats::new();
        let mut truths: Vec<Vec<i64>> = Vec::with_capacity(queries);
        for i in 0..queries {
            let q = space.text_query(i * 7919, i as u64 + 11);
            let truth = exact_top10(&lib, &q);
            truths.push(truth.clone());
            let t = Instant::now();
            let parsed = search::parse(captions[i % captions.len()]);
            let _ = search::text_query_vector(&text, &parsed, &[]).expect("encode");
            let enc_ms = t.elapsed().as_secs_f64() * 1e3;
            let req = Request {
                breadth: search::TEXT_BREADTH,
                ..Request::new(10)
            };
            let page = search::nearest(&lib, &q, &req).expect("search");
            end_to_end.ms.push(t.elapsed().as_secs_f64() * 1e3);
            encode_only.ms.push(enc_ms);
            let got: Vec<i64> = page.hits.iter().map(|h| h.photo.id).collect();
            end_to_end.recall.push(recall(&got, &truth));
            let t = Instant::now();
            let g = lib.vectors().search(&q, 10).expect("graph");
            graph.ms.push(t.elapsed().as_secs_f64() * 1e3);
            graph
                .recall
                .push(recall(&g.iter().map(|h| h.0).collect::<Vec<_>>(), &truth));
            if i < 50 {
                let t = Instant::now();
                let _ = exact_top10(&lib, &q);
                exact.ms.push(t.elapsed().as_secs_f64() * 1e3);
                exact.recall.push(1.0);
            }
        }
        encode_only.recall.push(f64::NAN);
        end_to_end.line("text query (tokenize+encode+search+join)");
        encode_only.line("  of which tokenize+encode");
        graph.line(&format!(
            "  HNSW search alone (ef {})",
            glimpse_library::vectors::EXPANSION_SEARCH
        ));
        exact.line("  exact search alone");
        // How recall of text-like queries grows with the graph search's breadth, and how many
        // results (found / exact) come from the query's own cluster.
        let clusters = space.centres.len();
        let own = |ids: &[i64], i: usize| {
            ids.iter()
                .filter(|id| (**id as usize - 1) % clusters == (i * 7919) % clusters)
                .count()
        };
        let truth_own: usize = truths
            .iter()
            .take(100)
            .enumerate()
            .map(|(i, t)| own(t, i))
            .sum();
        for ef in [64, 128, 256, 512, 1024] {
            lib.vectors().set_expansion_search(ef);
            let mut s = Stats::new();
            let mut found_own = 0usize;
            for (i, truth) in truths.iter().enumerate().take(100) {
                let q = space.text_query(i * 7919, i as u64 + 11);
                let t = Instant::now();
                let g = lib.vectors().search(&q, 10).expect("graph");
                s.ms.push(t.elapsed().as_secs_f64() * 1e3);
                let ids: Vec<i64> = g.iter().map(|h| h.0).collect();
                found_own += own(&ids, i);
                s.recall.push(recall(&ids, truth));
            }
            let n = (10 * truths.len().min(100)) as f64;
            s.line(&format!(
                "  HNSW text-like query at ef {ef} (own cluster {:.2} / exact {:.2})",
                found_own as f64 / n,
                truth_own as f64 / n
            ));
        }
        lib.vectors()
            .set_expansion_search(glimpse_library::vectors::EXPANSION_SEARCH);
        // Similar photos: a stored vector (no encode) + search + join, the photo left out.
        let mut similar = Stats::new();
        let mut rng = Rng(77);
        for _ in 0..queries {
            let pick = (rng.next() % n as u64) as i64 + 1;
            let t = Instant::now();
            let Some(v) = lib.vectors().get(pick) else {
                continue;
            };
            let req = Request {
                exclude: vec![pick],
                ..Request::new(10)
            };
            let page = search::nearest(&lib, &glimpse_clip::embedding::unit(v.clone()), &req)
                .expect("similar");
            similar.ms.push(t.elapsed().as_secs_f64() * 1e3);
            let truth: Vec<i64> = lib
                .vectors()
                .search_exact(&v, 11)
                .expect("exact")
                .into_iter()
                .map(|h| h.0)
                .filter(|id| *id != pick)
                .take(10)
                .collect();
            let got: Vec<i64> = page.hits.iter().map(|h| h.photo.id).collect();
            similar.recall.push(recall(&got, &truth));
        }
        similar.line("similar photo (stored vector+search+join)");
        let (rss, peak) = rss_mb();
        println!("  RSS {rss:.0} MB (peak {peak:.0} MB)");
    }
}
