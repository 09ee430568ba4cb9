//! Camera RAW files index through their embedded JPEG previews: the largest preview is used,
//! turned upright by the RAW's orientation, with the metadata of the RAW (or of its preview
//! where the container has none the EXIF reader parses); a file whose only preview is too small
//! is a failure with that reason. Fixtures: tests/fixtures/make_raw_fixtures.py.
#![cfg(feature = "raw")]

mod common;

use glimpse::decode::{self, DecodeError, DecodeOptions};
use glimpse::device::Device;
use glimpse::encode::ImageEncoder;
use glimpse::library::Library;
use glimpse::model::ModelFiles;
use glimpse::pipeline::Control;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    common::fixture("raw").join(name)
}

fn encoder() -> ImageEncoder {
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap()
}

fn embed(enc: &ImageEncoder, name: &str) -> Vec<f32> {
    let mut out = None;
    enc.embed_files(&[fixture(name)], 1, |_, r| out = Some(r));
    match out {
        Some(Ok(v)) => v,
        Some(Err(e)) => panic!("{name}: {e}"),
        None => panic!("{name}: no result"),
    }
}

#[test]
fn previews_decode_upright_to_the_picture_they_show() {
    let enc = encoder();
    for (raw, reference, kind, size) in [
        ("dng_preview.dng", "dng_reference.png", "dng", (480, 360)),
        ("fuji.raf", "reference.png", "raf", (517, 389)),
        ("canon.cr3", "reference.png", "cr3", (517, 389)),
    ] {
        let d = decode::decode_file(&fixture(raw), DecodeOptions::full()).unwrap();
        assert_eq!(d.format, kind);
        assert_eq!((d.width, d.height), size, "{raw}: upright size");
        let c = common::cosine(&embed(&enc, reference), &embed(&enc, raw));
        eprintln!("{raw}: cosine {c:.6} to {reference}");
        assert!(c >= 0.999, "{raw}: cosine {c}");
    }
}

#[test]
fn a_raw_whose_preview_is_too_small_fails_with_the_reason() {
    match decode::decode_file(&fixture("small_preview.nef"), DecodeOptions::full()) {
        Err(e @ DecodeError::RawPreview(_)) => {
            let why = e.to_string();
            assert!(why.contains("160x120") && why.contains("256"), "{why}");
        }
        other => panic!(
            "expected a RAW preview error, got {:?}",
            other.map(|d| d.format)
        ),
    }
}

#[test]
fn a_folder_of_raws_indexes_with_their_metadata_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for f in [
        "dng_preview.dng",
        "fuji.raf",
        "canon.cr3",
        "small_preview.nef",
    ] {
        std::fs::copy(fixture(f), photos.join(f)).unwrap();
    }
    let enc = encoder();
    let mut lib = Library::open(&dir.path().join("library"), "tiny-clip", enc.dim()).unwrap();
    let s = lib
        .index(
            std::slice::from_ref(&photos),
            &enc,
            2,
            &Control::default(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((s.progress.encoded, s.progress.failed), (3, 1), "{s:?}");
    let formats = lib.catalog.format_counts().unwrap();
    let of = |f: &str| {
        formats
            .iter()
            .find(|c| c.format == f)
            .cloned()
            .unwrap_or_default()
    };
    for f in ["dng", "raf", "cr3"] {
        assert_eq!(of(f).indexed, 1, "{f}: {formats:?}");
    }
    assert_eq!(of("nef").failed, 1, "{formats:?}");
    let bad = lib.catalog.failed_files().unwrap();
    assert!(bad[0].0.ends_with("small_preview.nef"));
    assert!(bad[0].1.starts_with("RAW file: "), "{}", bad[0].1);

    let ids = lib
        .catalog
        .filter_ids(lib.model_id(), &Default::default())
        .unwrap();
    let infos = lib.catalog.photo_infos(&ids).unwrap();
    let by_name = |n: &str| {
        infos
            .values()
            .find(|i| i.path.ends_with(n))
            .unwrap_or_else(|| panic!("{n} not indexed"))
            .clone()
    };
    let dng = by_name("dng_preview.dng");
    assert_eq!(dng.camera.as_deref(), Some("Glimpse Test DNG"));
    assert_eq!(
        dng.date,
        glimpse::search::parse_day("2021-03-04").unwrap() + 5 * 3600 + 6 * 60 + 7
    );
    // RAF's container is not TIFF: its date and camera come from the preview's EXIF.
    let raf = by_name("fuji.raf");
    assert_eq!(raf.camera.as_deref(), Some("FUJIFILM X-T4"));
    assert_eq!(
        raf.date,
        glimpse::search::parse_day("2022-08-14").unwrap() + 17 * 3600 + 45 * 60
    );
    assert!(raf.date_taken);
}
