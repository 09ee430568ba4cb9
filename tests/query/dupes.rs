//! Duplicates decided on the pixels: every pair of photos is made a CLIP candidate (cosine
//! threshold below any cosine), so what groups is what the pixel confirmation says. Copies of
//! a picture must group with it; different pictures of one subject (the same shape
//! on a differently coloured background, larger, moved, re-coloured) must not.

use crate::common;

use common::shapes::{self, jpeg, one_shape as scene, Background, Scene};
use glimpse_clip::device::Device;
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_library::Library;
use glimpse_query::dupes::{self, DupeOptions};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Indexes `photos` into a new library at `library` with the shape model.
fn index(photos: &Path, library: &Path) -> Library {
    let files = ModelFiles::open(&common::shape_model()).unwrap();
    let enc = ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap();
    let mut lib = Library::open(library, &files.name, enc.dim()).unwrap();
    let summary = common::index_folder(&mut lib, &enc, photos);
    assert_eq!(summary.progress.failed, 0, "{summary:?}");
    lib
}

/// A JPEG whose EXIF orientation tag (a minimal big-endian APP1 segment after SOI) says to turn
/// the stored pixels 90 degrees clockwise: `upright` stored turned the other way, as a camera
/// held on its side writes it.
fn exif_rotated_jpeg(upright: &image::RgbImage) -> Vec<u8> {
    let stored = image::imageops::rotate270(upright);
    let body = jpeg(&stored, 90);
    assert_eq!(&body[..2], &[0xFF, 0xD8]);
    let mut tiff: Vec<u8> = b"MM\x00\x2A\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&[0x00, 0x01]); // one entry
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]); // Orientation, SHORT, 1
    tiff.extend_from_slice(&[0x00, 0x06, 0x00, 0x00]); // 6: rotate 90 clockwise
    tiff.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]); // no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let len = u16::try_from(app1.len() + 2).unwrap();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&body[2..]);
    out
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn colour_and_layout_decide_copies_not_grey_structure_alone() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    let (green, purple, red, blue, orange) = (1, 5, 0, 2, 4);
    let (square, star, heart, circle, triangle) = (1, 3, 4, 0, 2);
    let grey_gradient = Background::Gradient(95, 165, 35.0);

    // Different pictures of one subject, as pairs (a, b).
    let mut distinct: Vec<(&str, Scene, Scene)> = vec![
        // Found by a user: a green star on a green-grey gradient, a larger one on an olive gradient
        // as light.
        (
            "star-olive",
            scene(
                Background::Colours([112, 138, 116], [150, 170, 152], 30.0),
                star,
                green,
                0.5,
                0.5,
                0.24,
            ),
            scene(
                Background::Colours([140, 140, 60], [175, 172, 90], 30.0),
                star,
                green,
                0.5,
                0.5,
                0.27,
            ),
        ),
        // Found by a user: a purple square on grey noise, and on flat red as light as the grey.
        (
            "square-red",
            scene(Background::Noise(150, 20), square, purple, 0.45, 0.5, 0.25),
            scene(
                Background::Colours([240, 112, 104], [240, 112, 104], 0.0),
                square,
                purple,
                0.45,
                0.5,
                0.25,
            ),
        ),
        // The subject re-coloured (red and blue are about as light as each other).
        (
            "circle-recoloured",
            scene(grey_gradient, circle, red, 0.5, 0.5, 0.26),
            scene(grey_gradient, circle, blue, 0.5, 0.5, 0.26),
        ),
        // The subject moved by a tenth of the frame.
        (
            "heart-moved",
            scene(grey_gradient, heart, orange, 0.45, 0.5, 0.25),
            scene(grey_gradient, heart, orange, 0.55, 0.5, 0.25),
        ),
        // The same shape larger on the same background.
        (
            "triangle-larger",
            scene(Background::Plain(120), triangle, green, 0.5, 0.5, 0.22),
            scene(Background::Plain(120), triangle, green, 0.5, 0.5, 0.27),
        ),
    ];
    let mut distinct_names: Vec<(String, String)> = Vec::new();
    for (what, a, b) in distinct.drain(..) {
        let (na, nb) = (
            format!("distinct-{what}-a.png"),
            format!("distinct-{what}-b.png"),
        );
        shapes::save(&shapes::render(&a), &photos.join(&na));
        shapes::save(&shapes::render(&b), &photos.join(&nb));
        distinct_names.push((na, nb));
    }
    // The whole scene re-coloured (red and blue channels swapped).
    {
        let a = shapes::render(&scene(
            Background::Colours([70, 120, 190], [120, 160, 220], 80.0),
            star,
            orange,
            0.5,
            0.45,
            0.25,
        ));
        let mut b = a.clone();
        b.pixels_mut().for_each(|p| p.0.swap(0, 2));
        let (na, nb) = (
            "distinct-swapped-a.png".to_string(),
            "distinct-swapped-b.png".to_string(),
        );
        shapes::save(&a, &photos.join(&na));
        shapes::save(&b, &photos.join(&nb));
        distinct_names.push((na, nb));
    }

    // Copies: each original re-saved in the ways copies arise.
    let mut rng = shapes::Rng::new(3232);
    let originals = [
        shapes::random_scene(&mut rng, blue, square, None),
        shapes::random_scene(&mut rng, purple, star, Some((green, circle))),
        scene(
            Background::Colours([60, 90, 60], [150, 175, 120], 120.0),
            star,
            green,
            0.4,
            0.55,
            0.22,
        ),
        scene(
            Background::Colours([200, 45, 40], [200, 45, 40], 0.0),
            heart,
            purple,
            0.5,
            0.5,
            0.3,
        ),
    ];
    let mut copy_sets: Vec<BTreeSet<String>> = Vec::new();
    for (k, s) in originals.iter().enumerate() {
        let img = shapes::render(s);
        let name = |what: &str| format!("copy{k}-{what}");
        let mut set = BTreeSet::new();
        let mut put = |n: String, bytes: Vec<u8>| {
            write(&photos.join(&n), &bytes);
            set.insert(n);
        };
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        put(name("original.png"), png);
        let half = image::imageops::resize(
            &img,
            img.width() / 2,
            img.height() / 2,
            image::imageops::FilterType::Lanczos3,
        );
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(half)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        put(name("half.png"), png);
        put(name("q60.jpg"), jpeg(&img, 60));
        put(name("q95.jpg"), jpeg(&img, 95));
        let (dx, dy) = (img.width() * 3 / 100, img.height() * 3 / 100);
        let crop =
            image::imageops::crop_imm(&img, dx, dy, img.width() - 2 * dx, img.height() - 2 * dy)
                .to_image();
        put(name("crop.jpg"), jpeg(&crop, 90));
        put(name("rotated.jpg"), exif_rotated_jpeg(&img));
        let mut brighter = img.clone();
        brighter
            .pixels_mut()
            .flat_map(|p| p.0.iter_mut())
            .for_each(|c| *c = c.saturating_add(4));
        put(name("brighter.jpg"), jpeg(&brighter, 80));
        copy_sets.push(set);
    }

    let lib = index(&photos.canonicalize().unwrap(), &dir.path().join("library"));
    let opts = DupeOptions {
        cosine: -1.0,
        ..DupeOptions::with_cosine(0.9)
    };

    // The measured scores, by kind of pair, to see the margins around the thresholds.
    let pairs = dupes::pairs(&lib, &Default::default(), &opts).unwrap();
    let set_of: HashMap<&str, usize> = copy_sets
        .iter()
        .enumerate()
        .flat_map(|(k, s)| s.iter().map(move |n| (n.as_str(), k)))
        .collect();
    let is_distinct_pair = |a: &str, b: &str| {
        distinct_names
            .iter()
            .any(|(x, y)| (x == a && y == b) || (x == b && y == a))
    };
    let mut unrelated_copies = 0;
    // (lightness correlation, mean ΔE, 99th-percentile ΔE): worst copy, and most copy-like
    // distinct pair on each.
    let mut copy_worst = (f32::INFINITY, 0.0f32, 0.0f32);
    let mut distinct_best = (f32::NEG_INFINITY, f32::INFINITY, f32::INFINITY);
    for p in &pairs {
        let (a, b) = (name_of(&p.a), name_of(&p.b));
        let scores = (
            p.pixels.unwrap_or(f32::NEG_INFINITY),
            p.colour.unwrap_or(f32::INFINITY),
            p.detail.unwrap_or(f32::INFINITY),
        );
        let same_set = matches!(
            (set_of.get(a.as_str()), set_of.get(b.as_str())),
            (Some(x), Some(y)) if x == y
        );
        let kind = if same_set {
            copy_worst = (
                copy_worst.0.min(scores.0),
                copy_worst.1.max(scores.1),
                copy_worst.2.max(scores.2),
            );
            "copy"
        } else if is_distinct_pair(&a, &b) {
            distinct_best = (
                distinct_best.0.max(scores.0),
                distinct_best.1.min(scores.1),
                distinct_best.2.min(scores.2),
            );
            "distinct"
        } else if p.copies {
            unrelated_copies += 1;
            "UNRELATED"
        } else {
            continue;
        };
        eprintln!(
            "{kind:9} {a:32} {b:32} lightness {:.3} mean ΔE {:6.2} p99 ΔE {:6.2} copies {}",
            scores.0, scores.1, scores.2, p.copies
        );
    }
    eprintln!(
        "copies: lightness >= {:.3}, mean ΔE <= {:.2}, p99 ΔE <= {:.2}; distinct pairs: \
         lightness <= {:.3}, mean ΔE >= {:.2}, p99 ΔE >= {:.2} (thresholds {}, {}, {})",
        copy_worst.0,
        copy_worst.1,
        copy_worst.2,
        distinct_best.0,
        distinct_best.1,
        distinct_best.2,
        opts.pixels,
        opts.colour,
        opts.detail
    );

    let groups = dupes::find(&lib, &Default::default(), &opts).unwrap();
    let got: Vec<BTreeSet<String>> = groups
        .iter()
        .map(|g| g.photos.iter().map(|m| name_of(&m.photo.path)).collect())
        .collect();
    let merged: Vec<&(String, String)> = distinct_names
        .iter()
        .filter(|(a, b)| got.iter().any(|g| g.contains(a) && g.contains(b)))
        .collect();
    assert!(
        merged.is_empty(),
        "different pictures grouped as copies: {merged:?}"
    );
    for set in &copy_sets {
        let original = set.iter().find(|n| n.ends_with("-original.png")).unwrap();
        let group = got.iter().find(|g| g.contains(original));
        let missing: Vec<&String> = set
            .iter()
            .filter(|n| !group.is_some_and(|g| g.contains(*n)))
            .collect();
        assert!(
            missing.is_empty(),
            "copies not grouped with {original}: {missing:?}"
        );
    }
    assert_eq!(unrelated_copies, 0, "unrelated pictures judged copies");
    // Full-size JPEGs have as many pixels as the original: the lossless PNG is kept for that.
    for g in &groups {
        assert!(name_of(&g.keeper).ends_with("-original.png"), "{g:?}");
        assert_eq!(g.why, dupes::Keep::Lossless, "{g:?}");
    }
    let mut got = got;
    got.sort();
    let mut expected = copy_sets;
    expected.sort();
    assert_eq!(got, expected, "groups of copies");
}
