//! Its own test binary: it reads peak RSS with getrusage(RUSAGE_CHILDREN), which covers every
//! child this process has waited for, so no other test's children may share the process.
//!
//! One folder with every kind of file a person has that the other tests cover one at a time:
//! ordinary photos in every format, damaged and truncated files, JPEGs that decode with
//! warnings, TIFF/BMP/GIF variants, strips of 1 x 5,000,000 pixels both ways, decompression
//! bombs, a pipe and a link to /dev/zero named like photos, garbage. Indexing it must exit 0,
//! leave nothing pending, print no panic or backtrace, stay within the decode memory budget,
//! and a second run must read nothing again.

mod common;

use std::path::Path;
use std::process::Output;

/// The decode budget the indexer runs with, in MB.
const BUDGET_MB: u64 = 300;
/// What the indexer holds besides decoded pictures (model, ONNX Runtime, catalog, buffers):
/// `glimpse index` of 600 photos peaks under 150 MB (tests/memory.rs).
const MARGIN_MB: u64 = 150;

fn glimpse(library: &Path, args: &[&str]) -> Output {
    common::glimpse_on(library)
        .args(args)
        .env("GLIMPSE_DECODE_MEMORY_MB", BUDGET_MB.to_string())
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// Copies the files (not the scripts) of a fixture folder into `to`.
fn copy_fixtures(from: &Path, to: &Path) -> usize {
    std::fs::create_dir_all(to).unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let script = matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("py" | "sh" | "md" | "json")
        );
        if p.is_file() && !script {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
            n += 1;
        }
    }
    n
}

fn png(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn a_folder_of_every_odd_file_indexes_within_budget_and_leaves_nothing_pending() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    let mut files = 0;
    for sub in ["images", "broken", "formats", "odd", "exif"] {
        files += copy_fixtures(&common::fixture(sub), &photos.join(sub));
    }
    let made = photos.join("made");
    std::fs::create_dir_all(&made).unwrap();
    // Strips: a few KB each, hundreds of GB if resized whole.
    let tall = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(1, 5_000_000, |_, y| {
        image::Rgb([(y % 251) as u8, 90, 200])
    }));
    std::fs::write(made.join("strip_tall.png"), png(&tall)).unwrap();
    let wide = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(5_000_000, 1, |x, _| {
        image::Rgb([40, (x % 241) as u8, 10])
    }));
    std::fs::write(made.join("strip_wide.png"), png(&wide)).unwrap();
    let jpeg_strip =
        image::RgbImage::from_fn(60_000, 4, |x, _| image::Rgb([(x % 256) as u8, 128, 64]));
    jpeg_strip.save(made.join("strip_60000x4.jpg")).unwrap();
    // Decompression bombs: blank RGBA PNGs under 200 KB that decode to 252 MB and 1 GB.
    for (name, side) in [
        ("bomb_a.png", 6000u32),
        ("bomb_b.png", 6000),
        ("bomb_huge.png", 12_000),
    ] {
        let mut img = image::RgbaImage::new(side, side);
        img.put_pixel(name.len() as u32, 0, image::Rgba([1, 2, 3, 255]));
        if name == "bomb_b.png" {
            img.put_pixel(0, 1, image::Rgba([9, 9, 9, 255]));
        }
        std::fs::write(made.join(name), png(&image::DynamicImage::ImageRgba8(img))).unwrap();
    }
    // Named like photos, but a pipe (a read would wait for a writer forever) and a link to a
    // device (a read would never end).
    let fifo = std::ffi::CString::new(made.join("pipe.jpg").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path it is given.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("/dev/zero", made.join("zero.jpg")).unwrap();
    std::fs::write(made.join("notes.jpg"), b"shopping list: eggs, milk").unwrap();
    files += 8;
    assert!(files > 80, "{files} files");

    let library = dir.path().join("library");
    let model = common::immich_model();
    let index = || {
        glimpse(
            &library,
            &[
                "index",
                "--device",
                "cpu",
                "--threads",
                "2",
                "--model",
                model.to_str().unwrap(),
                photos.to_str().unwrap(),
            ],
        )
    };
    let before = common::peak_rss_of_children_kib() / 1024;
    let first = index();
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{said}");
    for word in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!said.contains(word), "{word}: {said}");
    }
    let peak = common::peak_rss_of_children_kib() / 1024;
    assert!(before <= BUDGET_MB, "an earlier child peaked already");
    eprintln!("peak RSS {peak} MB (budget {BUDGET_MB} MB + margin {MARGIN_MB} MB)");
    assert!(peak <= BUDGET_MB + MARGIN_MB, "peak RSS {peak} MB");

    let status = glimpse(&library, &["status", "--json", "--files"]);
    let text = String::from_utf8_lossy(&status.stdout);
    let mut lines = text.lines();
    let v: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(v["pending"], 0, "{v}");
    let indexed = v["indexed"].as_u64().unwrap();
    let failed = v["failed"].as_u64().unwrap();
    assert!(indexed > 80, "{v}");
    // Everything that failed says why in one line.
    let mut reasons = std::collections::BTreeMap::new();
    let mut notes = std::collections::BTreeMap::new();
    for l in lines {
        let f: serde_json::Value = serde_json::from_str(l).unwrap();
        let path = f["path"].as_str().unwrap().to_string();
        let name = Path::new(&path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if let Some(r) = f["reason"].as_str() {
            assert!(!r.is_empty() && !r.contains('\n'), "{path}: {r:?}");
            reasons.insert(name, r.to_string());
        } else if let Some(n) = f["note"].as_str() {
            notes.insert(name, n.to_string());
        }
    }
    assert_eq!(
        reasons.len() as u64,
        failed + v["unsupported"].as_u64().unwrap()
    );
    // Files no viewer shows fail; strips index from their centre; warnings are notes.
    for name in [
        "notes.jpg",
        "zero_bytes.png",
        "text_named.png",
        "bomb_huge.png",
    ] {
        assert!(reasons.contains_key(name), "{name}: {reasons:#?}");
    }
    assert!(reasons["bomb_huge.png"].contains("too large to decode"));
    for name in [
        "strip_tall.png",
        "strip_wide.png",
        "strip_60000x4.jpg",
        "bomb_a.png",
    ] {
        assert!(!reasons.contains_key(name), "{name}: {}", reasons[name]);
    }
    assert!(
        notes
            .get("jpeg_extraneous_bytes.jpg")
            .is_some_and(|n| n.contains("warnings")),
        "{notes:#?}"
    );

    // A second run reads nothing again: failures are settled, the pipe and the link stay out.
    let second = index();
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{said}");
    assert!(said.contains(", 0 queued"), "{said}");
}
