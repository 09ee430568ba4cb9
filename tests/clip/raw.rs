//! Camera RAW files index through their embedded JPEG previews: the largest preview is used,
//! turned upright by the RAW's orientation, with the metadata of the RAW (or of its preview
//! where the container has none the EXIF reader parses). A file whose previews are too small is
//! developed from its sensor data by LibRaw; one with nothing to develop either is a failure
//! with both reasons. Fixtures: tests/fixtures/make_raw_fixtures.py.
#![cfg(feature = "raw")]

use crate::common;

use glimpse_clip::decode::{self, DecodeError, DecodeOptions};
use glimpse_clip::device::Device;
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_library::Library;
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
fn a_raw_whose_preview_is_too_small_is_developed_from_its_sensor_data() {
    assert!(
        glimpse_clip::decode::libraw_available(),
        "LibRaw could not be loaded: install libraw20 (bash scripts/setup.sh does)"
    );
    let d = decode::decode_file(&fixture("sensor.dng"), DecodeOptions::full()).unwrap();
    assert_eq!(d.format, "dng");
    // Stored sideways with Orientation 6: developed upright.
    assert_eq!((d.width, d.height), (516, 388));
    let enc = encoder();
    let c = common::cosine(
        &embed(&enc, "sensor_reference.png"),
        &embed(&enc, "sensor.dng"),
    );
    eprintln!("sensor.dng: cosine {c:.6} to sensor_reference.png");
    assert!(c >= 0.999, "sensor.dng: cosine {c}");
}

#[test]
fn a_raw_with_a_small_preview_and_no_sensor_data_fails_with_the_reasons() {
    match decode::decode_file(&fixture("small_preview.nef"), DecodeOptions::full()) {
        Err(e @ DecodeError::Raw(_)) => {
            let why = e.to_string();
            assert!(why.contains("160x120") && why.contains("256"), "{why}");
            assert!(why.contains("LibRaw"), "{why}");
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
        "sensor.dng",
        "small_preview.nef",
    ] {
        std::fs::copy(fixture(f), photos.join(f)).unwrap();
    }
    let enc = encoder();
    let mut lib = Library::open(&dir.path().join("library"), "tiny-clip", enc.dim()).unwrap();
    let s = common::index_folder(&mut lib, &enc, &photos);
    assert_eq!((s.progress.encoded, s.progress.failed), (4, 1), "{s:?}");
    let formats = lib.records().format_counts().unwrap();
    let of = |f: &str| {
        formats
            .iter()
            .find(|c| c.format == f)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(of("dng").indexed, 2, "{formats:?}");
    for f in ["raf", "cr3"] {
        assert_eq!(of(f).indexed, 1, "{f}: {formats:?}");
    }
    assert_eq!(of("nef").failed, 1, "{formats:?}");
    let bad = lib.records().failed_files().unwrap();
    assert!(bad[0].0.ends_with("small_preview.nef"));
    assert!(bad[0].1.starts_with("RAW file: "), "{}", bad[0].1);

    let ids = lib.filter_ids(&Default::default()).unwrap();
    let infos = lib.records().photo_infos(&ids).unwrap();
    let by_name = |n: &str| {
        infos
            .values()
            .find(|i| i.path.ends_with(n))
            .unwrap_or_else(|| panic!("{n} not indexed"))
            .clone()
    };
    let dng = by_name("dng_preview.dng");
    assert_eq!(dng.camera.as_deref(), Some("Glimpse Test DNG"));
    let developed = by_name("sensor.dng");
    assert_eq!(developed.camera.as_deref(), Some("Glimpse Sensor DNG"));
    assert_eq!((developed.width, developed.height), (Some(516), Some(388)));
    assert_eq!(
        dng.date,
        glimpse_clip::calendar::parse_day("2021-03-04").unwrap() + 5 * 3600 + 6 * 60 + 7
    );
    // RAF's container is not TIFF: its date and camera come from the preview's EXIF.
    let raf = by_name("fuji.raf");
    assert_eq!(raf.camera.as_deref(), Some("FUJIFILM X-T4"));
    assert_eq!(
        raf.date,
        glimpse_clip::calendar::parse_day("2022-08-14").unwrap() + 17 * 3600 + 45 * 60
    );
    assert!(raf.date_taken);
}

#[test]
fn failed_files_are_tried_again_once_when_the_decoders_change() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for f in ["fuji.raf", "small_preview.nef"] {
        std::fs::copy(fixture(f), photos.join(f)).unwrap();
    }
    let enc = encoder();
    let mut lib = Library::open(&dir.path().join("library"), "tiny-clip", enc.dim()).unwrap();
    let run = |lib: &mut Library| {
        let s = common::index_folder(lib, &enc, &photos);
        (s.queued, s.progress.encoded, s.progress.failed)
    };
    assert_eq!(run(&mut lib), (2, 1, 1));
    // Same decoders, same files: the failure is not read again.
    assert_eq!(run(&mut lib), (0, 0, 0));
    // As if the folder had last been read by an older Glimpse, or before LibRaw was installed.
    let key = glimpse_library::decoders_key(lib.records().roots().unwrap()[0].id);
    let catalog = glimpse_library::catalog::Catalog::open(lib.dir()).unwrap();
    catalog.set_setting(&key, "0.0.1 raw").unwrap();
    assert_eq!(
        run(&mut lib),
        (1, 0, 1),
        "only the failed file is tried again"
    );
    assert_eq!(
        catalog.setting(&key).unwrap(),
        Some(glimpse_clip::decode::decoder_set())
    );
    assert_eq!(run(&mut lib), (0, 0, 0), "and only once");
}
