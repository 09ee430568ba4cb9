//! Unusual and damaged files that image viewers open (tests/fixtures/odd/, made by
//! make_odd_fixtures.sh): each decodes to the picture it holds (compared with a plain file of
//! the same picture, not just "no error"), with a note where the picture is not all there;
//! garbage still fails with a clear one-line reason; a folder of all of them indexes cleanly.

use crate::common;

use glimpse_clip::decode::{self, DecodeError, DecodeOptions, Decoded};
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::process::Command;

fn odd(name: &str) -> PathBuf {
    common::fixture(&format!("odd/{name}"))
}

fn decode(path: &Path) -> Decoded {
    decode::decode_file(path, DecodeOptions::full())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The picture a plain file holds, through the `image` crate alone.
fn plain(rel: &str) -> RgbImage {
    image::open(common::fixture(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .to_rgb8()
}

/// Mean absolute difference per sample over the top `rows` rows of two same-size pictures.
fn mad_rows(a: &RgbImage, b: &RgbImage, rows: u32) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "sizes differ");
    let n = (a.width() * rows * 3) as usize;
    let sum: u64 = a.as_raw()[..n]
        .iter()
        .zip(&b.as_raw()[..n])
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / n as f64
}

fn mad(a: &RgbImage, b: &RgbImage) -> f64 {
    mad_rows(a, b, a.height())
}

/// Checks that `name` decodes, without a note, to the picture of `reference` within `max`.
fn decodes_to(name: &str, reference: &str, max: f64) -> Decoded {
    let d = decode(&odd(name));
    let want = plain(reference);
    assert_eq!(d.image.dimensions(), want.dimensions(), "{name}");
    let m = mad(&d.image, &want);
    assert!(
        m <= max,
        "{name}: mean difference {m:.3} from {reference} > {max}"
    );
    assert_eq!(d.note, None, "{name}");
    d
}

#[test]
fn tiff_variants_decode_to_their_pictures() {
    let src = "odd/source.png";
    for (name, reference, max) in [
        // Lossless variants: the same pixels.
        ("tiff_planar_tiled.tif", src, 0.0),
        ("tiff_lzma.tif", src, 0.0),
        ("tiff_rgb16.tif", src, 0.0),
        ("tiff_multipage.tif", src, 0.0),
        // Bit depths below 8 and 12-bit, signed samples, Fax: the same quantised picture.
        ("tiff_grey2bit.tif", "odd/tiff_grey2bit.expected.png", 0.0),
        ("tiff_grey4bit.tif", "odd/tiff_grey4bit.expected.png", 0.0),
        ("tiff_1bit.tif", "odd/tiff_1bit.expected.png", 0.0),
        ("tiff_fax3.tif", "odd/tiff_fax3.expected.png", 0.0),
        ("tiff_fax4.tif", "odd/tiff_fax4.expected.png", 0.0),
        ("tiff_grey12bit.tif", "odd/tiff_grey12bit.expected.png", 0.5),
        ("tiff_signed.tif", "odd/tiff_signed.expected.png", 0.0),
        // Lossy or converted colour: close (JPEG q90 with 4:2:0 chroma; CIELab through
        // libtiff's display model, whose white point and gamma differ a little from
        // ImageMagick's sRGB: 4.4 here, where the Lab bytes read as RGB would be off by tens).
        ("tiff_ycbcr_jpeg_strips.tif", src, 3.0),
        ("tiff_ycbcr_jpeg_tiles.tif", src, 3.0),
        ("tiff_cielab.tif", src, 6.0),
    ] {
        let d = decodes_to(name, reference, max);
        assert_eq!(d.format, "tiff", "{name}");
    }
    // The comparison tells pictures apart: the multi-page file's second page is the first one
    // mirrored, and reading it instead would fail the check above.
    let first = decode(&odd("tiff_multipage.tif"));
    let mirrored = image::imageops::flip_horizontal(&plain("odd/source.png"));
    assert!(mad(&first.image, &mirrored) > 10.0);
}

#[test]
fn plain_tiffs_come_out_as_the_pure_rust_decoder_reads_them() {
    // The reference set's TIFF: libtiff (first) and the `image` crate give the same pixels.
    let d = decode(&common::fixture("images/plain.tiff"));
    assert!(
        glimpse_clip::decode::tiff_available(),
        "libtiff6 is installed by setup.sh"
    );
    assert_eq!(mad(&d.image, &plain("images/plain.tiff")), 0.0);
}

#[test]
fn bmp_and_gif_variants_decode_to_their_pictures() {
    for (name, reference) in [
        ("bmp_rle8.bmp", "odd/bmp_rle8.expected.png"),
        ("bmp_rle4.bmp", "odd/bmp_rle4.expected.png"),
        ("bmp_os2v2.bmp", "odd/source.png"),
        ("gif_no_palette.gif", "odd/gif_no_palette.expected.png"),
    ] {
        decodes_to(name, reference, 0.0);
    }
}

#[test]
fn jpegs_with_warnings_decode_fully_and_say_so() {
    let whole = decode(&common::fixture("images/jpeg_baseline.jpg"));
    assert_eq!(whole.note, None);
    // Junk before the end marker (libjpeg counts the bytes it skipped after the last scan).
    let name = "jpeg_extraneous_bytes.jpg";
    let d = decode(&odd(name));
    let note = d.note.clone().unwrap_or_default();
    assert!(
        note.starts_with("decoded with warnings: Corrupt JPEG data: ")
            && note.ends_with(" extraneous bytes before marker 0xd9"),
        "{note}"
    );
    assert!(!d.fallback, "read by libjpeg-turbo itself");
    assert_eq!(mad(&d.image, &whole.image), 0.0);
    // DCT-scaled decoding keeps the note too.
    let scaled = decode::decode_file(&odd(name), DecodeOptions::for_model(112)).unwrap();
    assert_eq!(scaled.dct_scale, 2);
    assert_eq!(scaled.note, Some(note));

    // A broken ICC segment, which libjpeg-turbo reports while reading the header.
    let d = decode(&odd("jpeg_bad_icc.jpg"));
    assert!(!d.fallback);
    assert_eq!(mad(&d.image, &whole.image), 0.0);
    assert_eq!(
        d.note.as_deref(),
        Some("decoded with warnings: Corrupt JPEG data: bad ICC marker")
    );
}

#[test]
fn truncated_files_with_most_of_the_picture_are_kept_with_a_note() {
    // A baseline JPEG cut at 90 %: the rows before the cut are the photo's, the rest is flat.
    let whole = decode(&common::fixture("images/jpeg_baseline.jpg"));
    let d = decode(&odd("jpeg_truncated_most.jpg"));
    let note = d.note.as_deref().unwrap_or_default();
    assert!(
        note.starts_with("damaged: the file ends before the picture does (the bottom "),
        "{note}"
    );
    let rows = whole.image.height() * 3 / 4;
    assert!(mad_rows(&d.image, &whole.image, rows) < 0.5);
    assert!(mad(&d.image, &whole.image) > 1.0, "the bottom is missing");

    // A progressive JPEG cut at 70 %: every row is there, with less detail.
    let whole = decode(&common::fixture("images/jpeg_progressive.jpg"));
    let d = decode(&odd("jpeg_progressive_truncated.jpg"));
    assert_eq!(
        d.note.as_deref(),
        Some("damaged: the file ends before the picture does (some detail is missing)")
    );
    let m = mad(&d.image, &whole.image);
    assert!(m < 6.0, "{m}");

    // A PNG cut at 90 %: the rows before the cut, the rest grey.
    let whole = plain("images/odd_301x225.png");
    let d = decode(&odd("png_truncated_most.png"));
    let note = d.note.as_deref().unwrap_or_default();
    assert!(
        note.starts_with("damaged: the file ends before the picture does (the bottom ")
            && note.ends_with("% is grey)"),
        "{note}"
    );
    assert_eq!(mad_rows(&d.image, &whole, whole.height() * 3 / 4), 0.0);
    let bottom = d.image.get_pixel(150, whole.height() - 1).0;
    assert_eq!(bottom, [128, 128, 128]);

    // Cut in half, too little of the picture is there: refused, saying how much is missing.
    for name in ["broken/truncated.jpg", "broken/truncated.png"] {
        match decode::decode_file(&common::fixture(name), DecodeOptions::full()) {
            Err(DecodeError::Truncated(why)) => assert!(why.contains("% of "), "{name}: {why}"),
            other => panic!("{name}: expected a truncated error, got {other:?}"),
        }
    }
}

#[test]
fn garbage_fails_with_one_clear_line() {
    for name in ["garbage.jpg", "garbage.tif"] {
        let err = decode::decode_file(&odd(name), DecodeOptions::full())
            .expect_err(name)
            .to_string();
        assert!(!err.is_empty() && !err.contains('\n'), "{name}: {err:?}");
        assert!(err.starts_with("corrupt image: "), "{name}: {err}");
    }
}

fn glimpse(library: &Path) -> Command {
    let mut c = common::glimpse_on(library);
    c.env("RUST_BACKTRACE", "1");
    c
}

#[test]
fn a_folder_of_odd_files_indexes_cleanly_and_lists_the_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("odd");
    std::fs::create_dir_all(&root).unwrap();
    let mut files = 0;
    for entry in std::fs::read_dir(common::fixture("odd")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e != "sh") {
            std::fs::copy(&path, root.join(path.file_name().unwrap())).unwrap();
            files += 1;
        }
    }
    let library = tmp.path().join("library");
    let index = || {
        glimpse(&library)
            .args(["index", "--model"])
            .arg(common::immich_model())
            .arg(&root)
            .output()
            .unwrap()
    };
    let out = index();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // No panic output, and nothing from libtiff's default handlers ("TIFFFetchDirectory: ...").
    for word in ["panicked", "backtrace", "panic at", "TIFF"] {
        assert!(!stderr.contains(word), "{word}: {stderr}");
    }

    let out = glimpse(&library)
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // The first line is the library; the lines after it name files.
    let text = String::from_utf8_lossy(&out.stdout);
    let status: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let count = |k: &str| {
        status[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k}: {status}"))
    };
    assert_eq!(count("pending"), 0, "{status}");
    assert_eq!(count("photos"), files, "{status}");
    assert_eq!(count("failed"), 2, "only the two garbage files: {status}");
    assert_eq!(count("indexed"), files - 2, "{status}");

    let out = glimpse(&library)
        .args(["status", "--files"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "jpeg_extraneous_bytes.jpg: indexed, decoded with warnings: Corrupt JPEG data: ",
        "jpeg_bad_icc.jpg: indexed, decoded with warnings: Corrupt JPEG data: bad ICC marker",
        "jpeg_truncated_most.jpg: indexed, damaged: the file ends before the picture does",
        "jpeg_progressive_truncated.jpg: indexed, damaged: the file ends before the picture does",
        "png_truncated_most.png: indexed, damaged: the file ends before the picture does",
        "garbage.tif: corrupt image: ",
        "garbage.jpg: corrupt image: ",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    assert!(text.contains("indexed with a note"), "{text}");

    // A second run reads nothing again.
    let again = index();
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{said}");
    assert!(said.contains(", 0 queued"), "{said}");
}
