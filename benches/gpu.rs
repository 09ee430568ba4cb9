//! GPU indexing benchmark tools (prints figures; asserts nothing). `bench/gpu.sh` drives them;
//! each mode is one measurement or one preparation step, so the device run is a short script:
//!
//! - `photos DIR COUNT WIDTH HEIGHT`: photo-like JPEGs on every core (skips existing files).
//! - `decode DIR`: the decode ceiling: read + DCT-scaled decode + CLIP preprocessing on every
//!   core, no encoder (what indexing can reach at best); then the same plus the content hash and
//!   the thumbnail (everything the indexer does on the CPU per photo).
//! - `text MODEL DEVICE [QUERIES]`: one-caption query latency, p50/p99, after warm-up.
//! - `parity MODEL DIR DEVICE`: fp16 copy vs fp32 graph on the same device, min/mean cosine over
//!   the photos in DIR (up to 512) and a set of captions.
//! - `insert COUNT`: graph insertion rate (vectors/s) on 1 and on every thread, and recall@10 of
//!   the result, on clustered 512-d vectors.
//! - `strip IN OUT` / `inflate IN OUT`: replace a random-weight graph's large weight tensors by
//!   their mean and standard deviation, and regenerate them (seeded); a 350 MB random ViT-B/32
//!   becomes a few hundred kB to carry to a machine without network.
//!
//! Built by `cargo bench --bench gpu --no-run`; ORT_DYLIB_PATH names the ONNX Runtime library.

#[allow(dead_code)]
mod common;

use glimpse::device::{Device, DeviceOptions};
use glimpse::encode::{ImageEncoder, TextEncoder};
use glimpse::model::proto::{Field, Message, Value};
use glimpse::model::{fp16, ModelFiles};
use glimpse::runtime::RuntimeOptions;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn usage() -> ! {
    eprintln!(
        "usage: gpu photos DIR COUNT W H | decode DIR | text MODEL DEVICE [N] | \
         parity MODEL DIR DEVICE | insert COUNT | strip IN OUT | inflate IN OUT"
    );
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `f(i)` for i in 0..n on every core.
fn par_for(n: usize, f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..cores() {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                f(i);
            });
        }
    });
}

fn jpegs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("photo folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    v.sort();
    v
}

fn model(dir: &str) -> ModelFiles {
    ModelFiles::open(Path::new(dir)).expect("model folder")
}

fn runtime() -> glimpse::runtime::Runtime {
    glimpse::runtime::load(&RuntimeOptions::default().with_download(false))
        .expect("ONNX Runtime (set ORT_DYLIB_PATH)")
}

fn photos(args: &[String]) {
    let dir = PathBuf::from(arg::<String>(args, 2));
    let (n, w, h): (usize, u32, u32) = (arg(args, 3), arg(args, 4), arg(args, 5));
    std::fs::create_dir_all(&dir).expect("photo folder");
    let t = Instant::now();
    par_for(n, |i| {
        let p = dir.join(format!("photo_{w}x{h}_{i:06}.jpg"));
        if !p.exists() {
            let img = common::photo(w, h, i as u32 + 1);
            let data = turbojpeg::compress_image(&img, 90, turbojpeg::Subsamp::Sub2x2)
                .expect("JPEG encode");
            std::fs::write(&p, &data).expect("write JPEG");
        }
    });
    let bytes: u64 = jpegs(&dir)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "photos: {n} of {w}x{h} in {} ({:.1} s, {:.2} MB each on average)",
        dir.display(),
        t.elapsed().as_secs_f64(),
        bytes as f64 / n.max(1) as f64 / 1e6
    );
}

fn decode(args: &[String]) {
    let dir = PathBuf::from(arg::<String>(args, 2));
    let files = jpegs(&dir);
    let cfg = glimpse::preprocess::PreprocessConfig::default();
    let opts = glimpse::decode::DecodeOptions::for_model(cfg.resize);
    let failed = AtomicUsize::new(0);
    // Warm the page cache the way the indexer will find it (files were just written).
    let t = Instant::now();
    par_for(files.len(), |i| {
        let r = std::fs::read(&files[i])
            .map_err(glimpse::decode::DecodeError::from)
            .and_then(|b| glimpse::decode::decode_bytes(&b, opts))
            .map(|d| cfg.apply(&d.image));
        if r.is_err() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "decode ceiling: {} photos in {secs:.2} s = {:.0} img/s on {} threads \
         (read + DCT-scaled decode + preprocess; {} failed)",
        files.len(),
        files.len() as f64 / secs,
        cores(),
        failed.load(Ordering::Relaxed)
    );
    let t = Instant::now();
    par_for(files.len(), |i| {
        let _ = std::fs::read(&files[i])
            .map_err(glimpse::decode::DecodeError::from)
            .and_then(|b| glimpse::decode::decode_bytes(&b, opts));
    });
    println!(
        "  of which read + decode: {:.0} img/s",
        files.len() as f64 / t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    par_for(files.len(), |i| {
        let _ = glimpse::prepare::prepare(&files[i], &cfg, &std::collections::HashMap::new(), None);
    });
    println!(
        "  decode ceiling + content hash, no thumbnail: {:.0} img/s",
        files.len() as f64 / t.elapsed().as_secs_f64()
    );
    let thumbs_dir = tempfile::tempdir().expect("temp dir");
    let thumbs = glimpse::thumbs::Thumbs::new(thumbs_dir.path());
    let known = std::collections::HashMap::new();
    let t = Instant::now();
    par_for(files.len(), |i| {
        let _ = glimpse::prepare::prepare(&files[i], &cfg, &known, Some(&thumbs));
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "prepare ceiling: {:.0} img/s (decode ceiling + BLAKE3 content hash + thumbnail)",
        files.len() as f64 / secs
    );
}

fn device_opts(s: &str, fp16: bool) -> DeviceOptions {
    DeviceOptions {
        fp16,
        ..DeviceOptions::new(s.parse::<Device>().unwrap_or_else(|_| usage()))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn text(args: &[String]) {
    let files = model(&arg::<String>(args, 2));
    let opts = device_opts(&arg::<String>(args, 3), true);
    let n: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(200);
    let rt = runtime();
    let t = Instant::now();
    let enc = TextEncoder::open_with(&rt.env, &files, &opts).expect("text encoder");
    let open = t.elapsed().as_secs_f64();
    let words = [
        "dog", "sofa", "beach", "mountain", "birthday", "cake", "snow", "city", "night", "car",
    ];
    let queries: Vec<String> = (0..n + 10)
        .map(|i| {
            format!(
                "a photo of a {} near a {} at {}",
                words[i % 10],
                words[(i / 10) % 10],
                words[(i / 100 + 3) % 10]
            )
        })
        .collect();
    let mut times = Vec::with_capacity(n);
    for (i, q) in queries.iter().enumerate() {
        let t = Instant::now();
        enc.embed(&[q.as_str()]).expect("embed");
        if i >= 10 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "text query on {}{}: p50 {:.2} ms, p99 {:.2} ms over {n} queries (open {open:.1} s){}",
        enc.selection.provider,
        if enc.selection.fp16 { " fp16" } else { "" },
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        enc.selection
            .fallback
            .as_deref()
            .map(|f| format!("; fallback: {f}"))
            .unwrap_or_default()
    );
}

fn parity(args: &[String]) {
    let files = model(&arg::<String>(args, 2));
    let dir = PathBuf::from(arg::<String>(args, 3));
    let dev = arg::<String>(args, 4);
    let rt = runtime();
    let mut half = files.clone();
    half.visual = fp16::ensure_variant(&files.visual).expect("fp16 image graph");
    half.textual = fp16::ensure_variant(&files.textual).expect("fp16 text graph");
    let full_opts = device_opts(&dev, false);
    let a = ImageEncoder::open_with(&rt.env, &files, &full_opts).expect("fp32");
    let b = ImageEncoder::open_with(&rt.env, &half, &full_opts).expect("fp16");
    let paths: Vec<PathBuf> = jpegs(&dir).into_iter().take(512).collect();
    let embed = |e: &ImageEncoder| {
        let mut out = vec![None; paths.len()];
        e.embed_files(&paths, cores(), |i, r| out[i] = r.ok());
        out
    };
    let (va, vb) = (embed(&a), embed(&b));
    let cos: Vec<f64> = va
        .iter()
        .zip(&vb)
        .filter_map(|(x, y)| Some(common_cos(x.as_ref()?, y.as_ref()?)))
        .collect();
    let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = cos.iter().sum::<f64>() / cos.len().max(1) as f64;
    println!(
        "fp16 vs fp32 image embeddings on {}: min cosine {min:.6}, mean {mean:.6} over {} photos",
        a.selection.provider,
        cos.len()
    );
    let ta = TextEncoder::open_with(&rt.env, &files, &full_opts).expect("fp32 text");
    let tb = TextEncoder::open_with(&rt.env, &half, &full_opts).expect("fp16 text");
    let caps = [
        "a dog asleep on a red sofa",
        "birthday cake with candles",
        "the eiffel tower at night",
        "a receipt",
        "children on a beach",
        "",
    ];
    let (xa, xb) = (
        ta.embed(&caps).expect("text"),
        tb.embed(&caps).expect("text"),
    );
    let tmin = xa
        .iter()
        .zip(&xb)
        .map(|(x, y)| common_cos(x, y))
        .fold(f64::INFINITY, f64::min);
    println!(
        "fp16 vs fp32 text embeddings: min cosine {tmin:.6} over {} captions",
        caps.len()
    );
}

/// One core: the Pillow-exact bicubic resize a 640x480 photo needs after DCT-scaled decoding
/// (320x240 → 299x224), the part of preprocessing that bounds small-photo indexing.
fn resize() {
    let img = common::photo(320, 240, 7);
    let n = 2000;
    let t = Instant::now();
    let mut check = 0u64;
    for _ in 0..n {
        let r =
            glimpse::preprocess::pil_resize(&img, 299, 224, glimpse::preprocess::Filter::Bicubic);
        check += r.as_raw()[1000] as u64;
    }
    println!(
        "resize 320x240 -> 299x224: {:.3} ms each on one core (checksum {check})",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
}

fn common_cos(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

fn insert(args: &[String]) {
    let n: usize = arg(args, 2);
    let dim = 512;
    let mut state: u64 = 7;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
    };
    let centres: Vec<Vec<f32>> = (0..64).map(|_| (0..dim).map(|_| rnd()).collect()).collect();
    let unit = |mut v: Vec<f32>| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    };
    let items: Vec<(i64, Vec<f32>)> = (0..n)
        .map(|i| {
            let c = &centres[i % 64];
            (i as i64, unit(c.iter().map(|x| x + 0.6 * rnd()).collect()))
        })
        .collect();
    for threads in [1, cores()] {
        let take = if threads == 1 { n.min(20_000) } else { n };
        let mut idx = glimpse::vectors::VectorIndex::new(dim).expect("index");
        let t = Instant::now();
        for chunk in items[..take].chunks(glimpse::library::INSERT_CHUNK) {
            idx.add_many(chunk, threads).expect("add");
        }
        let secs = t.elapsed().as_secs_f64();
        let queries = 200.min(take);
        let mut hits = 0;
        for q in items.iter().take(queries) {
            let got = idx.search(&q.1, 10).expect("search");
            let want = idx.search_exact(&q.1, 10).expect("exact");
            hits += got
                .iter()
                .filter(|g| want.iter().any(|w| w.0 == g.0))
                .count();
        }
        println!(
            "graph insertion: {take} vectors on {threads} thread(s): {:.0} vectors/s, \
             recall@10 {:.3}",
            take as f64 / secs,
            hits as f64 / (queries * 10) as f64
        );
    }
}

const GRAPH: u32 = 7;
const INITIALIZER: u32 = 5;
const DIMS: u32 = 1;
const DATA_TYPE: u32 = 2;
const RAW: u32 = 9;
const DOC: u32 = 12;
const MARK: &str = "glimpse-skeleton";

fn rewrite_initializers(input: &str, output: &str, f: impl Fn(&mut Message<'_>) -> bool) -> usize {
    let bytes = std::fs::read(input).expect("read model");
    let mut m = Message::parse(&bytes).expect("ONNX protobuf");
    let gbytes = m.bytes(GRAPH).expect("graph").to_vec();
    let mut g = Message::parse(&gbytes).expect("graph protobuf");
    let mut changed = 0;
    for field in &mut g.fields {
        if field.num != INITIALIZER {
            continue;
        }
        let Value::Bytes(b) = &field.value else {
            continue;
        };
        let mut t = Message::parse(b).expect("tensor");
        if f(&mut t) {
            field.value = Value::Bytes(Cow::Owned(t.encode()));
            changed += 1;
        }
    }
    m.remove(GRAPH);
    m.push_bytes(GRAPH, g.encode());
    std::fs::write(output, m.encode()).expect("write model");
    changed
}

fn strip(args: &[String]) {
    let n = rewrite_initializers(&arg::<String>(args, 2), &arg::<String>(args, 3), |t| {
        let Some(raw) = t.bytes(RAW) else {
            return false;
        };
        if t.varint(DATA_TYPE) != Some(1) || raw.len() < 65_536 {
            return false;
        }
        let xs: Vec<f64> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        t.remove(RAW);
        t.remove(DOC);
        t.push_bytes(DOC, format!("{MARK} {mean} {std}").into_bytes());
        true
    });
    println!("strip: {n} weight tensors replaced by their mean and deviation");
}

fn inflate(args: &[String]) {
    let n = rewrite_initializers(&arg::<String>(args, 2), &arg::<String>(args, 3), |t| {
        let Some(doc) = t.string(DOC).filter(|d| d.starts_with(MARK)) else {
            return false;
        };
        let parts: Vec<f64> = doc
            .split_whitespace()
            .skip(1)
            .filter_map(|p| p.parse().ok())
            .collect();
        let (mean, std) = (parts[0], parts[1]);
        let mut count: u64 = 1;
        for f in &t.fields {
            match (&f.value, f.num) {
                (Value::Varint(d), DIMS) => count *= d,
                (Value::Bytes(b), DIMS) => {
                    // Packed dims: a run of varints.
                    let mut v = 0u64;
                    let mut shift = 0;
                    for byte in b.iter() {
                        v |= u64::from(byte & 0x7f) << shift;
                        shift += 7;
                        if byte & 0x80 == 0 {
                            count *= v;
                            v = 0;
                            shift = 0;
                        }
                    }
                }
                _ => {}
            }
        }
        let mut state: u64 = count.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut raw = Vec::with_capacity(count as usize * 4);
        for _ in 0..count {
            // Box-Muller: normal weights with the original tensor's mean and deviation.
            let z = (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
            raw.extend_from_slice(&((mean + std * z) as f32).to_le_bytes());
        }
        t.remove(DOC);
        t.fields.push(Field {
            num: RAW,
            value: Value::Bytes(Cow::Owned(raw)),
        });
        true
    });
    println!("inflate: {n} weight tensors regenerated");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; this binary is driven by bench/gpu.sh instead.
    if args.iter().any(|a| a == "--bench") && args.len() <= 2 {
        eprintln!("gpu: run through bench/gpu.sh (see its header)");
        return;
    }
    match args.get(1).map(String::as_str) {
        Some("photos") => photos(&args),
        Some("decode") => decode(&args),
        Some("text") => text(&args),
        Some("parity") => parity(&args),
        Some("insert") => insert(&args),
        Some("resize") => resize(),
        Some("strip") => strip(&args),
        Some("inflate") => inflate(&args),
        _ => usage(),
    }
}
