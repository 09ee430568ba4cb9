//! Half precision and device choice: the fp16 copies the GPU path runs must give the same
//! embeddings as the fp32 graphs (cosine ≥ 0.999, measured here on CPU, where ONNX Runtime runs
//! the fp16 graph with fp32 arithmetic for the kernels it lacks, so this checks the conversion
//! and the rounding of the weights; the GPU run in benches/gpu.sh checks fp16 arithmetic), and a
//! machine without a GPU never makes or uses one.

use crate::common;

use common::{fixture, runtime};
use glimpse_clip::device::{Device, DeviceOptions, Provider};
use glimpse_clip::encode::{ImageEncoder, PixelInput, TextEncoder};
use glimpse_clip::model::ModelFiles;
use glimpse_clip::preprocess::{Pixels, PixelsRef};
use glimpse_onnx::bytes;
use glimpse_onnx::fp16;
use std::path::{Path, PathBuf};

/// Copies a model folder as shipped: without the copies and check records Glimpse writes
/// beside its graphs (other tests leave them in `models/test`).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if [".seq.onnx", ".batch.onnx", ".fp16", ".checked"]
            .iter()
            .any(|m| name.contains(m))
        {
            continue;
        }
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A private copy of a test model (the fp16 copies are written beside its graphs).
fn model_copy(src: &Path) -> (tempfile::TempDir, ModelFiles) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join(src.file_name().unwrap());
    copy_dir(src, &m);
    let files = ModelFiles::open(&m).unwrap();
    (dir, files)
}

fn photos() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixture("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("jpg" | "png" | "webp")
            )
        })
        .collect();
    v.sort();
    v
}

fn embed_all(enc: &ImageEncoder, paths: &[PathBuf]) -> Vec<Option<Vec<f32>>> {
    let mut out = vec![None; paths.len()];
    enc.embed_files(paths, 2, |i, r| out[i] = r.ok());
    out
}

const CAPTIONS: [&str; 5] = [
    "a photo of a dog",
    "red sofa in a living room",
    "a blue square",
    "sunset over the sea with boats",
    "",
];

fn check_model(src: &Path) {
    let rt = runtime();
    let (_dir, files) = model_copy(src);
    // fp32 first: a graph exported for one picture gets its batched copy, which replaces the
    // original's GPU copies made before it.
    let paths = photos();
    let a = embed_all(
        &ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap(),
        &paths,
    );
    let visual16 = fp16::ensure_variant(&files.visual).unwrap();
    let textual16 = fp16::ensure_variant(&files.textual).unwrap();
    let (full, half) = (
        std::fs::metadata(&files.visual).unwrap().len(),
        std::fs::metadata(&visual16).unwrap().len(),
    );
    assert!(
        (half as f64) < 0.6 * full as f64,
        "{}: fp16 image graph is {half} bytes, fp32 {full}: weights not halved",
        src.display()
    );
    let mut files16 = files.clone();
    files16.visual = visual16;
    files16.textual = textual16;

    let b = embed_all(
        &ImageEncoder::open(&rt.env, &files16, Device::Cpu).unwrap(),
        &paths,
    );
    let mut worst = 1.0f64;
    let mut compared = 0;
    for (x, y) in a.iter().zip(&b) {
        match (x, y) {
            (Some(x), Some(y)) => {
                worst = worst.min(common::cosine(x, y));
                compared += 1;
            }
            (None, None) => {}
            _ => panic!("one graph embedded a photo the other did not"),
        }
    }
    assert!(compared >= 15, "only {compared} photos compared");
    assert!(
        worst >= 0.999,
        "{}: image cosine fp16 vs fp32 down to {worst:.6}",
        src.display()
    );

    let ta = TextEncoder::open(&rt.env, &files, Device::Cpu)
        .unwrap()
        .embed(&CAPTIONS)
        .unwrap();
    let tb = TextEncoder::open(&rt.env, &files16, Device::Cpu)
        .unwrap()
        .embed(&CAPTIONS)
        .unwrap();
    let tworst = ta
        .iter()
        .zip(&tb)
        .map(|(x, y)| common::cosine(x, y))
        .fold(1.0f64, f64::min);
    assert!(
        tworst >= 0.999,
        "{}: text cosine fp16 vs fp32 down to {tworst:.6}",
        src.display()
    );
    eprintln!(
        "{}: fp16/fp32 image min cosine {worst:.6} over {compared} photos, text {tworst:.6}; \
         image graph {full} -> {half} bytes",
        src.file_name().unwrap().to_string_lossy()
    );
}

#[test]
fn fp16_copy_of_the_immich_layout_model_matches_fp32() {
    check_model(&common::immich_model());
}

#[test]
fn fp16_copy_of_the_hugging_face_layout_model_matches_fp32() {
    check_model(&common::hf_model());
}

#[test]
fn fp16_copy_of_the_trained_shape_model_matches_fp32() {
    check_model(&common::shape_model());
}

#[test]
fn conversion_is_reused_and_redone_when_the_graph_changes() {
    let (_dir, files) = model_copy(&common::immich_model());
    let first = fp16::ensure_variant(&files.visual).unwrap();
    let stamp = std::fs::metadata(&first).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(fp16::ensure_variant(&files.visual).unwrap(), first);
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        stamp,
        "an up-to-date copy was rewritten"
    );
    // A newer graph (a model update) makes the copy stale.
    let bytes = std::fs::read(&files.visual).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&files.visual, bytes).unwrap();
    fp16::ensure_variant(&files.visual).unwrap();
    assert!(std::fs::metadata(&first).unwrap().modified().unwrap() > stamp);
}

#[test]
fn a_file_that_is_not_onnx_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("model.onnx");
    std::fs::write(&p, b"\xff\xff\xff\xff not a model").unwrap();
    let err = fp16::ensure_variant(&p).unwrap_err().to_string();
    assert!(err.contains("protobuf"), "{err}");
    assert!(!fp16::variant_path(&p).exists());
}

#[test]
fn without_a_gpu_provider_no_fp16_copy_is_made_or_used() {
    let rt = runtime();
    assert!(
        !glimpse_clip::device::available_providers().contains(&Provider::Cuda),
        "this test expects the CPU build of ONNX Runtime"
    );
    let (_dir, files) = model_copy(&common::immich_model());
    let enc = ImageEncoder::open(&rt.env, &files, Device::Auto).unwrap();
    assert_eq!(enc.selection.provider, Provider::Cpu);
    assert!(!enc.selection.fp16);
    assert_eq!(
        enc.selection.fallback, None,
        "auto on a CPU machine is no downgrade"
    );
    assert_eq!(enc.max_batch(), glimpse_clip::encode::DEFAULT_IMAGE_BATCH);
    assert!(!fp16::variant_path(&files.visual).exists());
}

#[test]
fn asking_for_cuda_on_a_cpu_build_falls_back_and_says_why() {
    let rt = runtime();
    let (_dir, files) = model_copy(&common::immich_model());
    let opts = DeviceOptions {
        gpu_id: 1,
        gpu_memory_limit: Some(1 << 30),
        ..DeviceOptions::new(Device::Cuda)
    };
    let enc = ImageEncoder::open_with(&rt.env, &files, &opts).unwrap();
    assert_eq!(enc.selection.provider, Provider::Cpu);
    assert!(!enc.selection.fp16);
    let why = enc.selection.fallback.clone().unwrap_or_default();
    assert!(
        why.contains("CUDA was requested") && why.contains("using CPU"),
        "{why}"
    );
    let text = TextEncoder::open_with(&rt.env, &files, &opts).unwrap();
    assert_eq!(text.selection.provider, Provider::Cpu);
    assert!(text.selection.fallback.is_some());
}

#[test]
fn a_staging_batch_holds_exactly_one_batch_of_the_right_tensors() {
    let rt = runtime();
    let (_dir, files) = model_copy(&common::immich_model());
    let mut enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    enc.set_batch(3);
    let mut staging = enc.staging();
    assert!(
        !staging.is_pinned(),
        "pinned memory is for CUDA sessions only"
    );
    let per = enc.preprocess.tensor_len();
    let rows = |n: usize| -> Vec<Pixels> {
        (0..n)
            .map(|k| Pixels::Floats((0..per).map(|j| (k * per + j) as f32).collect()))
            .collect()
    };
    let mut short = rows(2);
    if let Pixels::Floats(v) = &mut short[1] {
        v.pop();
    }
    assert!(!staging.fill(&short, 2), "wrong length refused");
    assert_eq!(staging.rows(), 0);
    assert!(!staging.fill(&rows(4), 2), "more than one batch refused");
    let bytes = vec![Pixels::Bytes(vec![0; per])];
    assert!(!staging.fill(&bytes, 1), "the other form refused");
    // Every thread count copies every row, in order, to its place.
    for threads in [1, 2, 3, 8] {
        assert!(staging.fill(&rows(3), threads), "{threads} threads");
        assert_eq!(staging.rows(), 3);
        let want: Vec<f32> = (0..3 * per).map(|v| v as f32).collect();
        assert!(
            staging.data() == PixelsRef::Floats(&want),
            "{threads} threads"
        );
    }
    assert_eq!(enc.encode_pixels(staging.data(), 3).unwrap().len(), 3);
    // A smaller batch after a larger one: only its own rows, none left from before.
    let last = rows(3).pop().unwrap();
    assert!(staging.fill(std::slice::from_ref(&last), 2));
    assert!(staging.data() == last.as_view());
    staging.clear();
    assert_eq!((staging.rows(), staging.data().len()), (0, 0));
}

/// The GPU copy of an image graph, opened on the CPU: fp16, taking the crop's bytes.
fn byte_input_copy(files: &ModelFiles) -> ModelFiles {
    let lut = files.preprocess.lut();
    let copy = fp16::ensure_image_variant(&files.visual, &lut).unwrap();
    assert_eq!(copy, fp16::image_variant_path(&files.visual, &lut));
    let mut out = files.clone();
    out.visual = copy;
    out
}

#[test]
fn a_graph_taking_bytes_sees_the_floats_the_cpu_would_have_given_it() {
    // Bytes in front of the fp32 graph alone: the normalisation inside must give the original
    // graph exactly the floats the CPU path gives it, so the embeddings are the same bits.
    let rt = runtime();
    let (dir, files) = model_copy(&common::immich_model());
    let lut = files.preprocess.lut();
    let wrapped = bytes::take_bytes(&std::fs::read(&files.visual).unwrap(), &lut).unwrap();
    let path = dir.path().join("visual_bytes.onnx");
    std::fs::write(&path, wrapped).unwrap();
    let mut files_bytes = files.clone();
    files_bytes.visual = path;
    let floats = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    let bytes_enc = ImageEncoder::open(&rt.env, &files_bytes, Device::Cpu).unwrap();
    assert_eq!(floats.pixel_input(), PixelInput::Floats);
    assert_eq!(bytes_enc.pixel_input(), PixelInput::Bytes);

    let paths = photos();
    let a = embed_all(&floats, &paths);
    let b = embed_all(&bytes_enc, &paths);
    let compared = a.iter().zip(&b).filter(|(x, _)| x.is_some()).count();
    assert!(compared >= 15, "only {compared} photos compared");
    let mut largest = 0f32;
    for ((x, y), p) in a.iter().zip(&b).zip(&paths) {
        let (x, y) = (x.as_ref(), y.as_ref());
        let (Some(x), Some(y)) = (x, y) else {
            assert_eq!(x.is_some(), y.is_some(), "{}", p.display());
            continue;
        };
        let worst = x
            .iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        // Same input floats; ONNX Runtime may still order a reduction differently when the
        // graph starts elsewhere, so allow float noise, not a different picture.
        assert!(worst <= 1e-6, "{}: max difference {worst}", p.display());
        largest = largest.max(worst);
    }
    eprintln!("byte input vs float input: largest difference {largest:e} over {compared} photos");

    // Each graph refuses the other form, by name.
    let err = bytes_enc.encode(&vec![0.0; floats.preprocess.tensor_len()], 1);
    assert!(err.unwrap_err().to_string().contains("bytes"));
    let per = floats.preprocess.tensor_len();
    let err = floats.encode_pixels(PixelsRef::Bytes(&vec![0; per]), 1);
    assert!(err.unwrap_err().to_string().contains("floats"));
    // A graph that already takes bytes is not wrapped twice.
    let again = bytes::take_bytes(&std::fs::read(&files_bytes.visual).unwrap(), &lut);
    assert!(again
        .unwrap_err()
        .to_string()
        .contains("already takes bytes"));
}

#[test]
fn the_gpu_copy_takes_bytes_and_matches_fp32() {
    let rt = runtime();
    let (_dir, files) = model_copy(&common::immich_model());
    let gpu = byte_input_copy(&files);
    let full = std::fs::metadata(&files.visual).unwrap().len();
    let half = std::fs::metadata(&gpu.visual).unwrap().len();
    assert!((half as f64) < 0.6 * full as f64, "{half} vs {full} bytes");
    let a = embed_all(
        &ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap(),
        &photos(),
    );
    let enc = ImageEncoder::open(&rt.env, &gpu, Device::Cpu).unwrap();
    assert_eq!(enc.pixel_input(), PixelInput::Bytes);
    let b = embed_all(&enc, &photos());
    let worst = a
        .iter()
        .zip(&b)
        .filter_map(|(x, y)| Some(common::cosine(x.as_ref()?, y.as_ref()?)))
        .fold(1.0f64, f64::min);
    assert!(
        worst >= 0.999,
        "fp16 byte-input copy vs fp32: cosine {worst:.6}"
    );

    // Another preprocessing (other mean and std) is another copy, not the stale one.
    let mut other = files.preprocess.clone();
    other.mean = [0.5, 0.5, 0.5];
    let lut = other.lut();
    assert_ne!(
        fp16::image_variant_path(&files.visual, &lut),
        gpu.visual,
        "the copy's name follows the normalisation it carries"
    );
}

#[test]
fn the_byte_copy_replaces_the_float_copy_of_earlier_versions_on_disk() {
    let (_dir, files) = model_copy(&common::immich_model());
    // What an earlier version left: the float-input fp16 copy, checked on a GPU.
    let old = fp16::ensure_variant(&files.visual).unwrap();
    let marker = old.with_extension("onnx.checked-CUDA");
    std::fs::write(&marker, "0.99999\n").unwrap();
    let text = fp16::ensure_variant(&files.textual).unwrap();
    let copy = byte_input_copy(&files).visual;
    assert!(copy.exists());
    assert!(!old.exists(), "the float copy stayed beside the byte copy");
    assert!(!marker.exists(), "the float copy's check marker stayed");
    assert!(
        text.exists(),
        "the text tower's copy is not the image graph's to remove"
    );
    assert!(files.visual.exists());
}
