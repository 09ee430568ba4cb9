//! OCR cost per picture (prints figures; asserts nothing): the Rust reader on the pictures of
//! the parity set (`tests/fixtures/ocr/set`), those with text and those without apart, then the
//! detection-only probe the indexing pass can gate on. Each picture is timed every round; the
//! figures are the mean and the best of the rounds (the best is steadier on a shared machine).
//! `benches/ocr_reference.py` times the Python reference on the same pictures the same way; run
//! both on the same machine and cores.
//!
//! Run: `cargo bench --bench ocr`. Environment: ORT_DYLIB_PATH (required), GLIMPSE_OCR_MODELS
//! (default `.cache/ocr/ppocr-v4`), GLIMPSE_BENCH_ROUNDS (passes over the set, default 3),
//! GLIMPSE_BENCH_TIMES (a file to append every timing to, for `benches/ocr_compare.py`).

use glimpse_clip::device::{Device, DeviceOptions};
use glimpse_clip::runtime::RuntimeOptions;
use glimpse_ocr::{OcrModelFiles, Reader};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let models = std::env::var_os("GLIMPSE_OCR_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache/ocr/ppocr-v4"));
    let rounds: usize = std::env::var("GLIMPSE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let rt = glimpse_clip::runtime::load(&RuntimeOptions {
        allow_download: false,
        ..RuntimeOptions::default()
    })
    .expect("ONNX Runtime (set ORT_DYLIB_PATH)");
    let files = OcrModelFiles::in_folder(&models).expect("the OCR graphs (GLIMPSE_OCR_MODELS)");
    let reader =
        Reader::open(&rt.env, &files, &DeviceOptions::new(Device::Cpu)).expect("open the reader");
    let mut pics: Vec<(String, image::RgbImage)> =
        std::fs::read_dir(root.join("tests/fixtures/ocr/set"))
            .expect("the parity set")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
            .map(|p| {
                let bytes = std::fs::read(&p).expect("read");
                let img = turbojpeg::decompress_image::<image::Rgb<u8>>(&bytes).expect("decode");
                (
                    p.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                    img,
                )
            })
            .collect();
    pics.sort_by(|a, b| a.0.cmp(&b.0));
    // Warm-up: the first runs of each graph pay for allocations.
    for (_, img) in pics.iter().take(3) {
        reader.read(img).expect("read");
    }
    // Per picture: every round's time, so a busy machine's spikes can be told apart (best of
    // the rounds beside the mean).
    let mut times = vec![Vec::with_capacity(rounds); pics.len()];
    let mut probe_s = 0.0;
    for _ in 0..rounds {
        for ((_, img), t_pic) in pics.iter().zip(times.iter_mut()) {
            let t = Instant::now();
            reader.read(img).expect("read");
            t_pic.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            reader.probe(img, 320).expect("probe");
            probe_s += t.elapsed().as_secs_f64();
        }
    }
    if let Some(path) = std::env::var_os("GLIMPSE_BENCH_TIMES") {
        append_times(&PathBuf::from(path), "rust", &pics, &times);
    }
    println!(
        "OCR, Rust reader, {} pictures x {rounds} rounds, CPU:",
        pics.len()
    );
    report(
        &pics.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        &times,
    );
    println!(
        "  probe (detection at 320 px): {:.1} ms/picture (mean)",
        1000.0 * probe_s / (rounds * pics.len()).max(1) as f64
    );
    // What such a gate would let through: pictures where the probe finds any box.
    let (mut text_hits, mut text_n, mut blank_hits, mut blank_n) = (0, 0, 0, 0);
    for (name, img) in &pics {
        let found = !reader.probe(img, 320).expect("probe").boxes.is_empty();
        if name.contains("blank") {
            blank_n += 1;
            blank_hits += usize::from(found);
        } else {
            text_n += 1;
            text_hits += usize::from(found);
        }
    }
    println!(
        "  probe finds a box in {text_hits} of {text_n} pictures with text, {blank_hits} of {blank_n} without"
    );
}

/// Appends `impl,picture,seconds` lines to `path`, so runs of both implementations taken in
/// turns can be compared picture by picture (`benches/ocr_compare.py`).
fn append_times(
    path: &std::path::Path,
    which: &str,
    pics: &[(String, image::RgbImage)],
    times: &[Vec<f64>],
) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open GLIMPSE_BENCH_TIMES");
    for ((name, _), t) in pics.iter().zip(times) {
        for s in t {
            writeln!(f, "{which},{name},{s:.6}").expect("write GLIMPSE_BENCH_TIMES");
        }
    }
}

/// Mean and best-of-rounds milliseconds per picture, with and without text, and throughput.
fn report(names: &[&str], times: &[Vec<f64>]) {
    let group = |blank: bool| -> (usize, f64, f64) {
        let sel: Vec<&Vec<f64>> = names
            .iter()
            .zip(times)
            .filter(|(n, _)| n.contains("blank") == blank)
            .map(|(_, t)| t)
            .collect();
        let n = sel.len().max(1) as f64;
        let mean = sel
            .iter()
            .map(|t| t.iter().sum::<f64>() / t.len().max(1) as f64)
            .sum::<f64>()
            / n;
        let best = sel
            .iter()
            .map(|t| t.iter().copied().fold(f64::MAX, f64::min))
            .sum::<f64>()
            / n;
        (sel.len(), 1000.0 * mean, 1000.0 * best)
    };
    let (nt, mt, bt) = group(false);
    let (nb, mb, bb) = group(true);
    println!("  with text     {nt:>3} pictures  mean {mt:>7.1} ms  best {bt:>7.1} ms");
    println!("  without text  {nb:>3} pictures  mean {mb:>7.1} ms  best {bb:>7.1} ms");
    let all_mean = (mt * nt as f64 + mb * nb as f64) / (nt + nb).max(1) as f64;
    let all_best = (bt * nt as f64 + bb * nb as f64) / (nt + nb).max(1) as f64;
    println!(
        "  all           {:>3} pictures  mean {all_mean:>7.1} ms  best {all_best:>7.1} ms  ({:.2} / {:.2} pictures/s)",
        nt + nb,
        1000.0 / all_mean,
        1000.0 / all_best
    );
}
