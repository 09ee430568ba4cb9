//! Shared helpers for the integration tests: fixtures, the ONNX Runtime, small maths.
#![allow(dead_code)]

pub mod shapes;

use glimpse_clip::runtime::{Runtime, RuntimeOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A window's session over `library` as the tests run it: `model` (a folder or a name), ONNX
/// Runtime never downloaded, the CPU, two decoder threads.
pub fn session_config(library: &Path, model: &Path) -> glimpse_session::SessionConfig {
    let mut cfg = glimpse_session::SessionConfig::new(library.to_path_buf());
    cfg.model = Some(model.display().to_string());
    cfg.runtime = RuntimeOptions {
        allow_download: false,
        ..RuntimeOptions::default()
    };
    cfg.device = glimpse_clip::device::DeviceOptions::new(glimpse_clip::device::Device::Cpu);
    cfg.threads = 2;
    // Reading text is tested where it is the subject (it costs seconds a picture here).
    cfg.ocr_models = glimpse_session::OcrModels::Off;
    cfg
}

/// The OCR models `scripts/setup.sh` fetched (or the folder `GLIMPSE_OCR_MODELS` names); the
/// tests that read text fail, saying how to get them, when they are missing.
pub fn ocr_models() -> PathBuf {
    use glimpse_ocr::models::{MODELS_ENV, RECOGNIZE_FILE};
    let dir = std::env::var_os(MODELS_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache/ocr/ppocr-v4"));
    assert!(
        dir.join(RECOGNIZE_FILE).is_file(),
        "the OCR models are not in {}: run `bash scripts/setup.sh` (it fetches them from PyPI), \
         or set GLIMPSE_OCR_MODELS to the `models` folder of an installed \
         rapidocr-onnxruntime 1.4.4",
        dir.display()
    );
    dir
}

/// Repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/...`
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// The test models made by `models/test/make_test_models.py`.
pub fn immich_model() -> PathBuf {
    root().join("models/test/tiny-clip")
}

/// The small CLIP trained on shape pictures by `models/test/make_shape_clip.py`: a model whose
/// search results mean something.
pub fn shape_model() -> PathBuf {
    root().join("models/test/shape-clip")
}

/// The same weights in the Hugging Face layout (fixed batch 1 vision graph).
pub fn hf_model() -> PathBuf {
    root().join("models/test/tiny-clip-hf")
}

/// The ONNX Runtime for this test process. Never downloads: the test environment provides the
/// library through ORT_DYLIB_PATH (`.ci/run` does), and a missing one fails loudly.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let opts = RuntimeOptions {
            allow_download: false,
            ..RuntimeOptions::default()
        };
        match glimpse_clip::runtime::load(&opts) {
            Ok(rt) => rt,
            Err(e) => panic!(
                "ONNX Runtime could not be loaded ({e}); set ORT_DYLIB_PATH to \
                 libonnxruntime.so.1.31.1 (bash .ci/run does this)"
            ),
        }
    })
}

/// The `glimpse` binary of this build as the tests run it: ONNX Runtime from `ORT_DYLIB_PATH`,
/// and never a download (a missing library or model fails instead).
pub fn glimpse_cli() -> Command {
    let ort = std::env::var("ORT_DYLIB_PATH")
        .expect("ORT_DYLIB_PATH must point at libonnxruntime (bash .ci/run sets it)");
    let mut c = Command::new(env!("CARGO_BIN_EXE_glimpse"));
    c.env("ORT_DYLIB_PATH", ort)
        .env("GLIMPSE_OFFLINE", "1")
        // Indexing reads no text unless a test is about it (`--no-text`'s variable removed).
        .env("GLIMPSE_NO_TEXT", "1");
    c
}

/// [`glimpse_cli`] on the library folder `library`.
pub fn glimpse_on(library: &Path) -> Command {
    let mut c = glimpse_cli();
    c.arg("--library").arg(library);
    c
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "vector lengths differ");
    // Stored embeddings are rounded and so only nearly unit length: divide by the norms.
    let dot =
        |u: &[f32], v: &[f32]| -> f64 { u.iter().zip(v).map(|(x, y)| *x as f64 * *y as f64).sum() };
    dot(a, b) / (dot(a, a) * dot(b, b)).sqrt()
}

/// Reads a JSON fixture.
pub fn json(rel: &str) -> serde_json::Value {
    let p = fixture(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A JSON array of numbers as f32.
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// Indexes one folder into `lib` on 2 threads, uncancelled: what most tests need.
pub fn index_folder(
    lib: &mut glimpse_library::Library,
    enc: &glimpse_clip::encode::ImageEncoder,
    folder: &std::path::Path,
) -> glimpse_library::Summary {
    lib.index(
        &[folder.to_path_buf()],
        enc,
        2,
        &glimpse_library::pipeline::Control::default(),
        &mut |_| {},
    )
    .unwrap()
}

/// Undoes schema migrations 13 (the words in pictures), 12 (tags set by hand), 11 (the stash),
/// 8 (notes, files in flight), 7 (the kept auto-tags) and 6 (the kept counts, their triggers
/// and indexes) on a catalog, so a test can turn it back into what an earlier Glimpse wrote.
pub const UNDO_KEPT_COUNTS: &str = "
    DROP TABLE text_fts; DROP TABLE text_lines; DROP TABLE text_read;
    ALTER TABLE tags DROP COLUMN manual; ALTER TABLE labels DROP COLUMN by_hand;
    DROP TABLE stash;
    DROP TABLE quarantine; DROP TABLE in_flight; DROP INDEX photos_noted;
    ALTER TABLE photos DROP COLUMN note;
    DROP TABLE tag_rules;
    DROP TRIGGER photo_counted; DROP TRIGGER photo_recounted; DROP TRIGGER photo_uncounted;
    DROP TRIGGER vector_counted; DROP TRIGGER vector_uncounted; DROP TRIGGER root_uncounted;
    DROP TABLE photo_counts; DROP TABLE vector_counts;
    DROP INDEX embeddings_by_model; DROP INDEX photos_by_root_status;";

/// The largest peak RSS (KiB) of the children this test process has waited for: a test that
/// measures one indexer runs in its own binary, so that is the indexer's.
#[cfg(unix)]
pub fn peak_rss_of_children_kib() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_maxrss as u64
}

/// What the pipeline hands the catalog for a photo encoded to `vector` (a 640 × 480 JPEG with
/// the content hash `hash`), for tests that fill a catalog without encoding anything.
pub fn encoded(
    photo_id: i64,
    hash: [u8; 32],
    vector: Vec<f32>,
) -> glimpse_library::pipeline::Outcome {
    glimpse_library::pipeline::Outcome::Encoded {
        photo_id,
        hash,
        vector,
        width: 640,
        height: 480,
        format: "jpeg".into(),
        metadata: Default::default(),
        note: None,
    }
}

/// Commits photos `photos/{i:06}.jpg` (the root `photos`, added if new) with the vectors
/// `(i, vector)` as one batch, the way the indexer's commit thread does, without saving any
/// vector index; returns their ids in order. Photo `i`'s content hash is BLAKE3 of `i`.
pub fn commit_vectors(
    cat: &mut glimpse_library::catalog::Catalog,
    model: i64,
    photos: &Path,
    vectors: impl IntoIterator<Item = (u64, Vec<f32>)>,
) -> Vec<i64> {
    let root = cat.add_root(photos).unwrap();
    let vectors: Vec<(u64, Vec<f32>)> = vectors.into_iter().collect();
    let files: Vec<(PathBuf, i64, i64, Option<String>)> = vectors
        .iter()
        .map(|(i, _)| (photos.join(format!("{i:06}.jpg")), 1000, *i as i64, None))
        .collect();
    let ids = cat.upsert_files(root.id, &files).unwrap();
    let outcomes: Vec<_> = ids
        .iter()
        .zip(vectors)
        .map(|(id, (i, v))| encoded(*id, *blake3::hash(&i.to_le_bytes()).as_bytes(), v))
        .collect();
    cat.commit_batch(model, &outcomes).unwrap();
    ids
}
