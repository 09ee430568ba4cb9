//! Its own test binary: it reads peak RSS with getrusage(RUSAGE_CHILDREN), which covers every
//! child this process has waited for, so no other test's children may share the process.
//!
//! Memory stays flat however large the folder: `glimpse index` over 600 six-megapixel JPEGs
//! (10.8 GB of decoded pixels, 361 MB of model input tensors) must peak under a 150 MB resident
//! set, so nothing per photo (pixels, tensors, vectors waiting for the graph) is buffered for the
//! whole folder.

mod common;

use std::path::Path;

const PHOTOS: usize = 600;
const WIDTH: u32 = 3000;
const HEIGHT: u32 = 2000;
const CAP_MB: u64 = 150;
/// Distinct pictures; each is written many times with a different comment segment, so every
/// file has its own bytes (and is decoded) without encoding 600 JPEGs in the test.
const BASES: usize = 6;

fn base_jpeg(seed: usize) -> Vec<u8> {
    let img = image::RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        let s = seed as u32 * 37;
        image::Rgb([
            ((x / 7 + s) % 256) as u8,
            ((y / 5 + 2 * s) % 256) as u8,
            (((x + y) / 11 + 3 * s) % 256) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&img)
        .unwrap();
    out
}

/// The same JPEG with a COM segment after SOI that makes its bytes unique.
fn with_comment(jpeg: &[u8], note: &str) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
    let len = (note.len() + 2) as u16;
    let mut out = Vec::with_capacity(jpeg.len() + note.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xff, 0xfe]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(note.as_bytes());
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn glimpse(library: &Path, args: &[&str]) -> std::process::Output {
    common::glimpse_on(library).args(args).output().unwrap()
}

#[test]
fn indexing_a_folder_far_larger_than_memory_keeps_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    let bases: Vec<Vec<u8>> = (0..BASES).map(base_jpeg).collect();
    for i in 0..PHOTOS {
        let bytes = with_comment(&bases[i % BASES], &format!("glimpse memory test {i}"));
        std::fs::write(photos.join(format!("p{i:04}.jpg")), bytes).unwrap();
    }
    let decoded_gb = (PHOTOS as u64 * WIDTH as u64 * HEIGHT as u64 * 3) as f64 / 1e9;
    assert!(
        decoded_gb * 1000.0 >= 10.0 * CAP_MB as f64,
        "the folder must be ≥ 10x the cap if its pixels were buffered"
    );

    let library = dir.path().join("library");
    let model = common::immich_model();
    let before = common::peak_rss_of_children_kib();
    let out = glimpse(
        &library,
        &[
            "--quiet",
            "index",
            "--device",
            "cpu",
            "--threads",
            "2",
            "--model",
            model.to_str().unwrap(),
            photos.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak_mb = common::peak_rss_of_children_kib() / 1024;
    assert!(
        before / 1024 <= CAP_MB,
        "an earlier child already peaked above the cap"
    );

    let status = glimpse(&library, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["indexed"], PHOTOS, "{v}");
    assert_eq!(v["vectors"], PHOTOS, "{v}");
    eprintln!(
        "indexed {PHOTOS} photos ({decoded_gb:.1} GB decoded) with a peak RSS of {peak_mb} MB \
         (cap {CAP_MB} MB)"
    );
    assert!(
        peak_mb <= CAP_MB,
        "peak RSS {peak_mb} MB over the {CAP_MB} MB cap while indexing"
    );
}
