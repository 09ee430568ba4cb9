//! Engine benchmark (prints figures; asserts nothing): decode + preprocess throughput on 12 MP
//! JPEGs with and without DCT-scaled decoding, and image-encoder throughput by batch size.
//!
//! Run: `cargo bench --bench engine` (needs ORT_DYLIB_PATH for the encoder part). Options via
//! environment: GLIMPSE_BENCH_MODEL (model folder, default the repository's tiny test model; a
//! real-size random ViT-B/32 is made by `python models/test/make_vitb32.py OUT`),
//! GLIMPSE_BENCH_IMAGES (number of 12 MP JPEGs, default 24).

use glimpse_clip::decode::{decode_file, DecodeOptions};
use glimpse_clip::device::Device;
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_clip::preprocess::PreprocessConfig;
use glimpse_clip::runtime::RuntimeOptions;
mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn decode_rate(paths: &[PathBuf], opts: DecodeOptions, threads: usize) -> f64 {
    let cfg = PreprocessConfig::default();
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = paths.get(i) else { break };
                let d = decode_file(p, opts).expect("decode");
                std::hint::black_box(cfg.apply(&d.image));
            });
        }
    });
    paths.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::var("GLIMPSE_BENCH_IMAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/jpeg-12mp");
    println!("# glimpse engine benchmark");
    println!(
        "machine: {cores} cores; {n} JPEGs of 4000x3000 (12 MP, q90, 4:2:0) in {}",
        dir.display()
    );
    let t = Instant::now();
    let paths = common::jpeg_folder(&dir, n, 4000, 3000);
    println!(
        "(generated/reused test photos in {:.1} s)",
        t.elapsed().as_secs_f64()
    );

    println!("\n## decode + preprocess (224 px CLIP tensor)");
    println!("{:<28} {:>8} {:>14}", "mode", "threads", "images/s");
    for threads in [1, cores] {
        let full = decode_rate(&paths, DecodeOptions::full(), threads);
        println!("{:<28} {:>8} {:>14.1}", "full-size decode", threads, full);
        let dct = decode_rate(&paths, DecodeOptions::for_model(224), threads);
        println!(
            "{:<28} {:>8} {:>14.1}",
            "DCT-scaled decode (for 224)", threads, dct
        );
        println!("{:<28} {:>8} {:>13.1}x", "speed-up", threads, dct / full);
    }

    let model = std::env::var("GLIMPSE_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/test/tiny-clip")
        });
    println!("\n## image encoder ({})", model.display());
    let rt = match glimpse_clip::runtime::load(&RuntimeOptions {
        allow_download: false,
        ..RuntimeOptions::default()
    }) {
        Ok(rt) => rt,
        Err(e) => {
            println!("skipped: ONNX Runtime not available ({e}); set ORT_DYLIB_PATH");
            return;
        }
    };
    let files = ModelFiles::open(&model).expect("model folder");
    let mut enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).expect("image encoder");
    println!(
        "provider: {}; graph batch axis: {:?}",
        enc.selection.provider,
        enc.batch_axis()
    );
    let per = files.preprocess.tensor_len();
    println!("{:<10} {:>14} {:>14}", "batch", "images/s", "ms/batch");
    let batches: &[usize] = match enc.batch_axis() {
        glimpse_clip::encode::BatchAxis::Dynamic => &[1, 4, 8, 16, 32, 64],
        glimpse_clip::encode::BatchAxis::Fixed(_) => &[1],
    };
    for &b in batches {
        enc.set_batch(b);
        let data: Vec<f32> = (0..b * per)
            .map(|i| ((i % 251) as f32 / 125.0) - 1.0)
            .collect();
        enc.encode(&data, b).expect("warm-up");
        let reps = (64 / b).max(3);
        let t = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(enc.encode(&data, b).expect("encode"));
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{:<10} {:>14.1} {:>14.2}",
            b,
            (b * reps) as f64 / secs,
            secs * 1000.0 / reps as f64
        );
    }
}
