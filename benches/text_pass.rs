//! The words-in-pictures pass beside indexing (prints figures; asserts nothing): a mixed folder
//! of generated 1 MP photos without text and, one in ten, the rendered pictures of
//! `tests/fixtures/ocr/set` that show text (enlarged to the same width), is indexed, then its
//! text is read. Prints the CPU seconds of each (the process's, all threads), the pass's share
//! of indexing, how many pictures the first look ruled out, and the gate's recall: the pictures
//! with text whose text was found (each miss is named).
//!
//! Run: `cargo bench --bench text_pass`. Environment: ORT_DYLIB_PATH (required),
//! GLIMPSE_OCR_MODELS (default `.cache/ocr/ppocr-v4`), GLIMPSE_BENCH_MODEL (default the tiny test
//! model; the figure is with `target/bench-models/vitb32-random`, a real-size
//! ViT-B/32), GLIMPSE_BENCH_PHOTOS (photos without text, default 180; one text picture is added
//! per nine), GLIMPSE_BENCH_WIDTH (the pictures' width, default 1152: 1 MP; 4000 makes 12 MP).

mod common;

use glimpse_clip::device::{Device, DeviceOptions};
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_clip::runtime::RuntimeOptions;
use glimpse_library::pipeline::Control;
use glimpse_library::Library;
use glimpse_ocr::{OcrModelFiles, Reader};
use std::path::{Path, PathBuf};

/// CPU seconds this process has used, all threads.
fn cpu_secs() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let u = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr());
        u.assume_init()
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// The OCR set's pictures that show text, enlarged to `width` (as a photo of a sign or a
/// receipt would be), written once into `dir`.
fn text_pictures(dir: &Path, width: u32) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ocr");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("truth.json")).expect("truth.json"))
            .expect("truth JSON");
    std::fs::create_dir_all(dir).expect("bench folder");
    let mut out = Vec::new();
    let pictures = truth["pictures"].as_object().expect("pictures");
    for (name, p) in pictures {
        if p.as_array().is_none_or(|l| l.is_empty()) {
            continue;
        }
        let dest = dir.join(format!("text_{name}"));
        if !dest.exists() {
            let img = image::open(root.join("set").join(name))
                .expect("OCR set picture")
                .to_rgb8();
            let h = (img.height() as u64 * width as u64 / img.width() as u64) as u32;
            let big =
                image::imageops::resize(&img, width, h, image::imageops::FilterType::Triangle);
            let data = turbojpeg::compress_image(&big, 90, turbojpeg::Subsamp::Sub2x2)
                .expect("JPEG encode");
            std::fs::write(&dest, data).expect("write JPEG");
        }
        out.push(dest);
    }
    out
}

fn main() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let photos: usize = std::env::var("GLIMPSE_BENCH_PHOTOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(180);
    let width: u32 = std::env::var("GLIMPSE_BENCH_WIDTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1152);
    let height = width * 3 / 4;
    let folder = manifest.join(format!("target/bench-data/text-pass-{width}"));
    let mut texts = text_pictures(&folder.join("texts"), width);
    texts.truncate(photos.div_ceil(9));
    // Only the chosen text pictures are in the folder the library indexes.
    let root = folder.join("mixed");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("mixed folder");
    for p in common::jpeg_folder(&folder.join("photos"), photos, width, height)
        .iter()
        .chain(&texts)
    {
        let name = p.file_name().expect("file name");
        std::fs::hard_link(p, root.join(name))
            .or_else(|_| std::fs::copy(p, root.join(name)).map(|_| ()))
            .expect("link into the mixed folder");
    }

    let model = std::env::var("GLIMPSE_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest.join("models/test/tiny-clip"));
    let ocr_dir = std::env::var("GLIMPSE_OCR_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest.join(".cache/ocr/ppocr-v4"));
    let rt = glimpse_clip::runtime::load(&RuntimeOptions::default().with_download(false))
        .expect("ONNX Runtime: set ORT_DYLIB_PATH");
    let files = ModelFiles::open(&model).expect("model folder");
    let enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).expect("image encoder");
    let ocr = OcrModelFiles::in_folder(&ocr_dir).expect("OCR models: run scripts/setup.sh");
    let reader = Reader::open(&rt.env, &ocr, &DeviceOptions::new(Device::Cpu)).expect("OCR reader");
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());

    let lib_dir = tempfile::tempdir().expect("temp library");
    let mut lib = Library::open(lib_dir.path(), "bench", enc.dim()).expect("library");
    let (cpu0, wall0) = (cpu_secs(), std::time::Instant::now());
    let s = lib
        .index(
            std::slice::from_ref(&root),
            &enc,
            cores,
            &Control::default(),
            &mut |_| {},
        )
        .expect("index");
    let (index_cpu, index_wall) = (cpu_secs() - cpu0, wall0.elapsed().as_secs_f64());
    let (cpu1, wall1) = (cpu_secs(), std::time::Instant::now());
    let t = lib
        .read_text(&reader, &Control::default(), &mut |_| {})
        .expect("text pass");
    let (text_cpu, text_wall) = (cpu_secs() - cpu1, wall1.elapsed().as_secs_f64());

    let mut missed = Vec::new();
    for p in &texts {
        let name = p.file_name().expect("file name");
        let id = lib
            .records()
            .photo_by_path(&root.join(name))
            .expect("catalog")
            .expect("indexed")
            .id;
        if lib.records().text_lines(id).expect("lines").is_empty() {
            missed.push(name.to_string_lossy().into_owned());
        }
    }
    let n = s.progress.encoded;
    let p = &t.progress;
    println!("# words in pictures beside indexing");
    println!(
        "machine: {cores} cores; model {}; {photos} photos without text + {} with text \
         ({width} px wide JPEGs)",
        model.display(),
        texts.len()
    );
    println!(
        "index: {n} photos in {index_wall:.1} s, {index_cpu:.1} CPU-s ({:.1} CPU-ms a photo)",
        index_cpu * 1000.0 / n.max(1) as f64
    );
    println!(
        "text pass: {} pictures in {text_wall:.1} s, {text_cpu:.1} CPU-s ({:.1} CPU-ms a \
         picture); {} ruled out by the first look ({} px), {} read in full, {} show text",
        p.done,
        text_cpu * 1000.0 / p.done.max(1) as f64,
        p.probed_out,
        glimpse_library::ocr::PROBE_SIDE,
        p.done - p.probed_out,
        p.with_text
    );
    println!(
        "the pass adds {:.0} % to indexing's CPU time ({:.0} % of its wall time)",
        100.0 * text_cpu / index_cpu.max(1e-9),
        100.0 * text_wall / index_wall.max(1e-9)
    );
    println!(
        "pictures with text found: {} of {} ({:.1} %){}",
        texts.len() - missed.len(),
        texts.len(),
        100.0 * (texts.len() - missed.len()) as f64 / texts.len().max(1) as f64,
        if missed.is_empty() {
            String::new()
        } else {
            format!("; missed: {}", missed.join(", "))
        }
    );
}
