//! Its own test binary: it reads peak RSS with getrusage(RUSAGE_CHILDREN), which covers every
//! child this process has waited for, so no other test's children may share the process.
//!
//! A folder of decompression bombs stays within the process's decode memory budget: blank RGBA
//! PNGs of a few hundred KB that decode to hundreds of MB each, indexed by four decode threads,
//! with the budget set small through `GLIMPSE_DECODE_MEMORY_MB`. Without the budget the threads
//! decode four at once (about 1 GB); with it they take turns, and the one that alone needs more
//! than the budget fails with the reason.

mod common;

use std::path::Path;

/// The decode budget the indexer runs with, in MB.
const BUDGET_MB: u64 = 300;
/// What the indexer holds besides decoded pictures: the model and ONNX Runtime, the catalog,
/// the resize buffers. `glimpse index` of 600 photos peaks under 150 MB (tests/memory.rs).
const MARGIN_MB: u64 = 150;
/// Side of the bombs that fit the budget: 36 MP, decoded as RGBA (144 MB) and then RGB (108 MB).
const SIDE: u32 = 6000;
/// Bombs that fit; with four decode threads, unbudgeted, four are decoded at once.
const FITTING: usize = 6;
/// Side of the bomb that alone needs more than the budget: 144 MP, about 1 GB to decode.
const HUGE_SIDE: u32 = 12_000;

/// A blank (transparent) RGBA PNG, its bytes made distinct by one pixel set from `seed`.
fn bomb(side: u32, seed: u32) -> Vec<u8> {
    let mut img = image::RgbaImage::new(side, side);
    img.put_pixel(seed, 0, image::Rgba([seed as u8, 1, 2, 255]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn glimpse(library: &Path, args: &[&str], budget_mb: u64) -> std::process::Output {
    common::glimpse_on(library)
        .args(args)
        .env("GLIMPSE_DECODE_MEMORY_MB", budget_mb.to_string())
        .output()
        .unwrap()
}

#[test]
fn a_folder_of_decompression_bombs_stays_within_the_decode_budget() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for i in 0..FITTING {
        let bytes = bomb(SIDE, i as u32);
        assert!(bytes.len() < 1 << 20, "a bomb is a small file");
        std::fs::write(photos.join(format!("bomb{i}.png")), bytes).unwrap();
    }
    std::fs::write(photos.join("huge.png"), bomb(HUGE_SIDE, 7)).unwrap();
    let one_mb = (u64::from(SIDE).pow(2) * (4 + 3)) >> 20;
    assert!(
        one_mb <= BUDGET_MB && 2 * one_mb > BUDGET_MB,
        "one bomb fits the budget, two do not"
    );
    assert!(
        4 * one_mb > BUDGET_MB + MARGIN_MB + one_mb,
        "four at once would break the cap"
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
            "4",
            "--model",
            model.to_str().unwrap(),
            photos.to_str().unwrap(),
        ],
        BUDGET_MB,
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("panicked"), "{said}");
    let peak_mb = common::peak_rss_of_children_kib() / 1024;
    assert!(
        before / 1024 <= BUDGET_MB,
        "an earlier child peaked already"
    );

    let status = glimpse(&library, &["status", "--json"], BUDGET_MB);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["indexed"], FITTING, "{v}");
    assert_eq!(v["failed"], 1, "{v}");
    assert_eq!(v["pending"], 0, "{v}");
    let files = glimpse(&library, &["status", "--files"], BUDGET_MB);
    let text = String::from_utf8_lossy(&files.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("huge.png"))
        .unwrap_or_else(|| panic!("huge.png is listed: {text}"));
    assert!(
        line.contains("too large to decode: needs")
            && line.contains(&format!("more than the {BUDGET_MB} MB")),
        "{line}"
    );
    eprintln!(
        "indexed {FITTING} bombs of {one_mb} MB decoded each with {BUDGET_MB} MB of decode \
         budget: peak RSS {peak_mb} MB (cap {} MB)",
        BUDGET_MB + MARGIN_MB
    );
    assert!(
        peak_mb <= BUDGET_MB + MARGIN_MB,
        "peak RSS {peak_mb} MB over budget + margin ({} MB)",
        BUDGET_MB + MARGIN_MB
    );
}

#[test]
fn a_picture_decoded_on_its_own_is_held_to_the_budget_too() {
    // `glimpse embed image` (and the app's dropped pictures) decode outside the indexer.
    let dir = tempfile::tempdir().unwrap();
    let (fits, huge) = (dir.path().join("fits.png"), dir.path().join("huge.png"));
    std::fs::write(&fits, bomb(2000, 1)).unwrap();
    std::fs::write(&huge, bomb(HUGE_SIDE, 2)).unwrap();
    let model = common::immich_model();
    let out = glimpse(
        &dir.path().join("library"),
        &[
            "embed",
            "image",
            "--model",
            model.to_str().unwrap(),
            fits.to_str().unwrap(),
            huge.to_str().unwrap(),
        ],
        BUDGET_MB,
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0]["embedding"].is_array(), "{}", lines[0]);
    let error = lines[1]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("too large to decode: needs")
            && error.contains(&format!("more than the {BUDGET_MB} MB")),
        "{error}"
    );
}
