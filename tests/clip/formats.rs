//! Formats decoded beyond the `image` crate's own: each must give the same picture as the PNG
//! it was made from (tests/fixtures/make_format_fixtures.sh; the sideways phone HEIC with EXIF
//! from make_heif_fixtures.py), pixel for pixel when lossless and
//! to embedding cosine >= 0.999 when lossy; a damaged file is a recorded failure, and a folder of
//! them indexes with the format named in `status`.
#![cfg_attr(not(all(feature = "jxl", feature = "heif")), allow(unused))]

use crate::common;

use glimpse_clip::decode::{self, DecodeError, DecodeOptions};
use glimpse_clip::device::Device;
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_library::pipeline::Control;
use glimpse_library::Library;

fn fixture(name: &str) -> std::path::PathBuf {
    common::fixture("formats").join(name)
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

#[cfg(feature = "jxl")]
#[test]
fn jpeg_xl_decodes_to_the_same_picture_as_the_png() {
    let png = decode::decode_file(&fixture("photo.png"), DecodeOptions::full()).unwrap();
    let lossless =
        decode::decode_file(&fixture("photo_lossless.jxl"), DecodeOptions::full()).unwrap();
    assert_eq!(lossless.format, "jxl");
    assert_eq!((lossless.width, lossless.height), (301, 225));
    assert!(
        lossless.image == png.image,
        "lossless JPEG XL must give the PNG's pixels"
    );

    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let enc = ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap();
    let reference = embed(&enc, "photo.png");
    for name in ["photo_lossless.jxl", "photo_lossy.jxl"] {
        let c = common::cosine(&reference, &embed(&enc, name));
        eprintln!("{name}: cosine {c:.6} to the PNG");
        assert!(c >= 0.999, "{name}: cosine {c}");
    }
}

#[cfg(feature = "jxl")]
#[test]
fn a_truncated_jpeg_xl_is_a_clear_error() {
    match decode::decode_file(&fixture("truncated.jxl"), DecodeOptions::full()) {
        Err(DecodeError::Truncated(_) | DecodeError::Corrupt(_)) => {}
        other => panic!("expected a truncated/corrupt error, got {other:?}"),
    }
}

#[cfg(feature = "heif")]
#[test]
fn heic_and_avif_decode_through_libheif_to_the_same_picture() {
    assert!(
        glimpse_clip::decode::heif_available(),
        "libheif could not be loaded: install libheif1 (bash scripts/setup.sh --app does)"
    );
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let enc = ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap();
    let reference = embed(&enc, "photo.png");
    // phone_rotated.heic is stored sideways with a rotation box (make_heif_fixtures.py).
    for (name, format) in [
        ("photo.heic", "heic"),
        ("phone_rotated.heic", "heic"),
        ("photo.avif", "avif"),
    ] {
        let d = decode::decode_file(&fixture(name), DecodeOptions::full()).unwrap();
        assert_eq!(d.format, format);
        assert_eq!((d.width, d.height), (301, 225));
        let c = common::cosine(&reference, &embed(&enc, name));
        eprintln!("{name}: cosine {c:.6} to the PNG");
        assert!(c >= 0.999, "{name}: cosine {c}");
    }
    match decode::decode_file(&fixture("truncated.heic"), DecodeOptions::full()) {
        Err(DecodeError::Corrupt(m) | DecodeError::Truncated(m)) => {
            assert!(!m.is_empty() && m == m.trim_end(), "{m:?}")
        }
        other => panic!("expected an error, got {:?}", other.map(|d| d.format)),
    }
}

#[test]
fn a_heic_gives_its_date_camera_and_place_like_a_jpeg() {
    let bytes = std::fs::read(fixture("phone_rotated.heic")).unwrap();
    let m = glimpse_clip::metadata::read(&bytes);
    // 18:05:09 at +02:00.
    let utc = glimpse_clip::calendar::parse_day("2024-07-14").unwrap() + 16 * 3600 + 5 * 60 + 9;
    assert_eq!(m.taken_at, Some(utc));
    assert_eq!(m.offset_minutes, Some(120));
    assert_eq!(
        (m.camera_make.as_deref(), m.camera_model.as_deref()),
        (Some("Apple"), Some("iPhone 15"))
    );
    let (lat, lon) = (m.latitude.unwrap(), m.longitude.unwrap());
    assert!(
        (lat - (48.0 + 51.0 / 60.0 + 29.6 / 3600.0)).abs() < 1e-6,
        "{lat}"
    );
    assert!(
        (lon - (2.0 + 17.0 / 60.0 + 40.2 / 3600.0)).abs() < 1e-6,
        "{lon}"
    );
}

#[test]
fn a_folder_of_formats_indexes_and_status_names_each_format() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for f in std::fs::read_dir(common::fixture("formats")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, photos.join(f.file_name().unwrap())).unwrap();
    }
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let enc = ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap();
    let mut lib = Library::open(&dir.path().join("library"), &files.name, enc.dim()).unwrap();
    lib.index(
        std::slice::from_ref(&photos),
        &enc,
        2,
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    let formats = lib.records().format_counts().unwrap();
    let of = |f: &str| {
        formats
            .iter()
            .find(|c| c.format == f)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(of("png").indexed, 1, "{formats:?}");
    if cfg!(feature = "jxl") {
        assert_eq!((of("jxl").indexed, of("jxl").failed), (2, 1), "{formats:?}");
    } else {
        assert_eq!(of("jxl").unsupported, 3, "{formats:?}");
    }
    if cfg!(feature = "heif") && glimpse_clip::decode::heif_available() {
        assert_eq!(
            (of("heic").indexed, of("heic").failed),
            (2, 1),
            "{formats:?}"
        );
        assert_eq!(of("avif").indexed, 1, "{formats:?}");
    } else {
        assert_eq!((of("heic").unsupported, of("avif").unsupported), (3, 1));
    }
}
