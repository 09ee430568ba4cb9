//! Indexing benchmark (prints figures; asserts nothing): end-to-end `Library::index` images/s
//! with the decode / encode / commit split, on folders of generated 12 MP and 1 MP JPEGs, beside
//! the Python peer pipeline (`benches/peer.py`: PIL + onnxruntime, as rclip and immich do) on the
//! same model and the same folders, in the same run.
//!
//! Run: `cargo bench --bench index`. Environment: ORT_DYLIB_PATH (required), GLIMPSE_BENCH_MODEL
//! (default the tiny test model, which makes the pipeline, not the network, the subject),
//! GLIMPSE_BENCH_PYTHON (a Python with Pillow, numpy and onnxruntime; default `python3`),
//! GLIMPSE_BENCH_12MP / GLIMPSE_BENCH_1MP (photo counts, default 24 / 96).

use glimpse_clip::device::Device;
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_clip::runtime::RuntimeOptions;
use glimpse_library::pipeline::Control;
use glimpse_library::Library;
mod common;

use std::path::PathBuf;
use std::process::Command;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let sets = [
        (
            "12 MP (4000x3000)",
            base.join("index-12mp"),
            count("GLIMPSE_BENCH_12MP", 24),
            4000,
            3000,
        ),
        (
            "1 MP (1152x864)",
            base.join("index-1mp"),
            count("GLIMPSE_BENCH_1MP", 96),
            1152,
            864,
        ),
    ];
    for (_, dir, n, w, h) in &sets {
        common::jpeg_folder(dir, *n, *w, *h);
    }
    let model = std::env::var("GLIMPSE_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/test/tiny-clip")
        });
    let rt = glimpse_clip::runtime::load(&RuntimeOptions::default().with_download(false))
        .expect("ONNX Runtime: set ORT_DYLIB_PATH");
    let files = ModelFiles::open(&model).expect("model folder");
    let enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).expect("image encoder");
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let python = std::env::var("GLIMPSE_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    println!("# indexing benchmark");
    println!(
        "machine: {cores} cores; model {}; provider {}",
        model.display(),
        enc.selection.provider
    );
    for (label, dir, n, _, _) in &sets {
        let lib_dir = tempfile::tempdir().expect("temp library");
        let mut lib = Library::open(lib_dir.path(), "bench", enc.dim()).expect("library");
        let s = lib
            .index(
                std::slice::from_ref(dir),
                &enc,
                cores,
                &Control::default(),
                &mut |_| {},
            )
            .expect("index");
        let t = &s.timing;
        let rate = s.progress.encoded as f64 / t.wall;
        println!("\n## {label}: {n} JPEGs");
        println!(
            "glimpse: {} images in {:.2} s = {:.2} images/s; split: decode+preprocess {:.2} CPU-s \
             ({:.1} ms/image over {cores} threads), encode {:.2} s, commit {:.3} s",
            s.progress.encoded,
            t.wall,
            rate,
            t.decode_cpu,
            t.decode_cpu * 1000.0 / s.progress.encoded.max(1) as f64,
            t.encode,
            t.commit
        );
        let out = Command::new(&python)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/peer.py"))
            .arg("--model")
            .arg(&model)
            .arg("--workers")
            .arg(cores.to_string())
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                print!("{text}");
                let peer = text
                    .split(" = ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|r| r.parse::<f64>().ok());
                if let Some(p) = peer {
                    println!("glimpse / peer: {:.1}x", rate / p);
                }
            }
            Ok(o) => println!("peer failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => println!("peer not run ({python}: {e}); set GLIMPSE_BENCH_PYTHON"),
        }
    }
}
