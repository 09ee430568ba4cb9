//! Same strings and boxes as the reference on its lines; character accuracy beside it.

use crate::common;
use glimpse_clip::device::{Device, DeviceOptions};
use glimpse_ocr::{OcrModelFiles, Reader, TextLine};
use std::time::Instant;

pub(crate) fn reader() -> Reader {
    let files = OcrModelFiles::in_folder(&common::ocr_models()).expect("the OCR graphs");
    Reader::open(
        &common::runtime().env,
        &files,
        &DeviceOptions::new(Device::Cpu),
    )
    .expect("open the OCR graphs")
}

pub(crate) fn load(name: &str) -> image::RgbImage {
    let bytes =
        std::fs::read(common::fixture("ocr/set").join(name)).expect("read a fixture picture");
    // libjpeg-turbo, as Pillow decodes it for the reference.
    turbojpeg::decompress_image::<image::Rgb<u8>>(&bytes).expect("decode a fixture picture")
}

type Quad = [[f64; 2]; 4];

fn shoelace(p: &[[f64; 2]]) -> f64 {
    let n = p.len();
    (0..n)
        .map(|i| p[i][0] * p[(i + 1) % n][1] - p[(i + 1) % n][0] * p[i][1])
        .sum::<f64>()
        / 2.0
}

/// Intersection over union of two convex quads (Sutherland–Hodgman clipping).
fn iou(a: &Quad, b: &Quad) -> f64 {
    let orient = |q: &Quad| {
        if shoelace(q) < 0.0 {
            q.iter().rev().copied().collect::<Vec<_>>()
        } else {
            q.to_vec()
        }
    };
    let (a, b) = (orient(a), orient(b));
    let mut poly = a.clone();
    for i in 0..b.len() {
        let (c, d) = (b[i], b[(i + 1) % b.len()]);
        let inside =
            |p: [f64; 2]| (d[0] - c[0]) * (p[1] - c[1]) - (d[1] - c[1]) * (p[0] - c[0]) >= 0.0;
        let cut = |p: [f64; 2], q: [f64; 2]| {
            let (a1, b1) = (q[1] - p[1], p[0] - q[0]);
            let (a2, b2) = (d[1] - c[1], c[0] - d[0]);
            let (c1, c2) = (a1 * p[0] + b1 * p[1], a2 * c[0] + b2 * c[1]);
            let det = a1 * b2 - a2 * b1;
            [(b2 * c1 - b1 * c2) / det, (a1 * c2 - a2 * c1) / det]
        };
        let input = std::mem::take(&mut poly);
        for j in 0..input.len() {
            let (p, q) = (input[j], input[(j + 1) % input.len()]);
            match (inside(p), inside(q)) {
                (true, true) => poly.push(q),
                (true, false) => poly.push(cut(p, q)),
                (false, true) => {
                    poly.push(cut(p, q));
                    poly.push(q);
                }
                (false, false) => {}
            }
        }
        if poly.is_empty() {
            return 0.0;
        }
    }
    let inter = shoelace(&poly).abs();
    let union = shoelace(&a).abs() + shoelace(&b).abs() - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn joined<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<char> {
    lines
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect()
}

#[test]
fn iou_and_edit_distance_helpers_measure_what_they_claim() {
    let sq = |x: f64| [[x, 0.0], [x + 2.0, 0.0], [x + 2.0, 2.0], [x, 2.0]];
    assert!((iou(&sq(0.0), &sq(0.0)) - 1.0).abs() < 1e-12);
    assert!((iou(&sq(0.0), &sq(1.0)) - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(iou(&sq(0.0), &sq(5.0)), 0.0);
    let c = |s: &str| s.chars().collect::<Vec<_>>();
    assert_eq!(levenshtein(&c("kitten"), &c("sitting")), 3);
    assert_eq!(levenshtein(&c("出口"), &c("出")), 1);
}

#[test]
fn the_reader_matches_the_python_reference_on_the_rendered_set() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("ocr/reference.json")).expect("reference.json"),
    )
    .expect("reference.json parses");
    let pictures = reference["pictures"].as_object().expect("pictures");
    assert!(
        pictures.len() >= 40,
        "the set has {} pictures",
        pictures.len()
    );
    let reader = reader();
    let (mut ref_lines, mut same_text, mut extra) = (0usize, 0usize, 0usize);
    let mut ious: Vec<f64> = Vec::new();
    let mut identical_boxes = 0usize;
    let (mut truth_chars, mut ours_err, mut ref_err) = (0usize, 0usize, 0usize);
    let mut mismatches = Vec::new();
    let mut elapsed = 0.0;
    for (name, pic) in pictures {
        let img = load(name);
        let t = Instant::now();
        let ours: Vec<TextLine> = reader.read(&img).expect("read a picture");
        elapsed += t.elapsed().as_secs_f64();
        let theirs = pic["lines"].as_array().expect("lines");
        let quad_of = |v: &serde_json::Value| -> Quad {
            let c = |i: usize, k: usize| v[i][k].as_f64().expect("a corner");
            [
                [c(0, 0), c(0, 1)],
                [c(1, 0), c(1, 1)],
                [c(2, 0), c(2, 1)],
                [c(3, 0), c(3, 1)],
            ]
        };
        let our_quads: Vec<Quad> = ours
            .iter()
            .map(|l| l.quad.map(|c| c.map(f64::from)))
            .collect();
        let mut used = vec![false; ours.len()];
        for line in theirs {
            ref_lines += 1;
            let text = line["text"].as_str().expect("text");
            let q = quad_of(&line["box"]);
            let best = our_quads
                .iter()
                .enumerate()
                .map(|(i, o)| (i, iou(&q, o)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|&(_, v)| v > 0.5);
            match best {
                Some((i, v)) => {
                    used[i] = true;
                    ious.push(v);
                    let o = our_quads[i];
                    if q.iter()
                        .zip(o)
                        .all(|(a, b)| (a[0] - b[0]).abs() < 0.5 && (a[1] - b[1]).abs() < 0.5)
                    {
                        identical_boxes += 1;
                    }
                    if ours[i].text == text {
                        same_text += 1;
                    } else {
                        mismatches.push(format!(
                            "{name}: reference {text:?}, ours {:?}",
                            ours[i].text
                        ));
                    }
                }
                None => mismatches.push(format!("{name}: reference {text:?} not found")),
            }
        }
        for (i, u) in used.iter().enumerate() {
            if !u {
                extra += 1;
                mismatches.push(format!("{name}: ours only {:?}", ours[i].text));
            }
        }
        let truth = joined(
            pic["truth"]
                .as_array()
                .expect("truth")
                .iter()
                .map(|t| t.as_str().expect("a truth line")),
        );
        truth_chars += truth.len();
        ours_err += levenshtein(&joined(ours.iter().map(|l| l.text.as_str())), &truth)
            .min(truth.len().max(1));
        ref_err += levenshtein(
            &joined(theirs.iter().map(|l| l["text"].as_str().unwrap_or(""))),
            &truth,
        )
        .min(truth.len().max(1));
    }
    ious.sort_by(f64::total_cmp);
    let same = same_text as f64 / ref_lines as f64;
    let mean_iou = ious.iter().sum::<f64>() / ious.len().max(1) as f64;
    let low_iou = ious.iter().filter(|&&v| v < 0.9).count();
    let acc = |err: usize| 1.0 - err as f64 / truth_chars as f64;
    println!(
        "OCR parity on {} pictures, {ref_lines} reference lines:",
        pictures.len()
    );
    println!(
        "  same strings: {same_text}/{ref_lines} = {:.2} %",
        same * 100.0
    );
    println!("  lines only we found: {extra}");
    println!(
        "  boxes with the same corners: {identical_boxes} of {}",
        ious.len()
    );
    println!(
        "  box IoU of matched lines: min {:.3}, mean {:.4}, below 0.9: {low_iou} of {}",
        ious.first().copied().unwrap_or(0.0),
        mean_iou,
        ious.len()
    );
    println!(
        "  character accuracy vs ground truth ({truth_chars} chars): ours {:.2} %, reference {:.2} %",
        acc(ours_err) * 100.0,
        acc(ref_err) * 100.0
    );
    println!("  our reading time: {:.2} s in all", elapsed);
    for m in &mismatches {
        println!("  differs: {m}");
    }
    assert!(
        same >= 0.98,
        "same strings on only {:.2} % of the reference's lines",
        same * 100.0
    );
    assert!(
        extra * 50 <= ref_lines,
        "{extra} lines the reference does not find"
    );
    assert_eq!(low_iou, 0, "matched boxes with IoU below 0.9");
    assert!(
        acc(ours_err) >= acc(ref_err) - 0.01,
        "character accuracy below the reference's"
    );
}

#[test]
fn one_reader_serves_several_threads_with_the_same_results() {
    let reader = reader();
    let names = ["08-dark.jpg", "11-dark.jpg", "30-upside.jpg", "49-dark.jpg"];
    let pictures: Vec<image::RgbImage> = names.iter().map(|n| load(n)).collect();
    let alone: Vec<Vec<TextLine>> = pictures
        .iter()
        .map(|p| reader.read(p).expect("read"))
        .collect();
    assert!(
        alone.iter().all(|lines| !lines.is_empty()),
        "every picture has text"
    );
    let together: Vec<Vec<TextLine>> = std::thread::scope(|s| {
        let handles: Vec<_> = pictures
            .iter()
            .map(|p| s.spawn(|| reader.read(p).expect("read")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a reading thread"))
            .collect()
    });
    assert_eq!(alone, together);
}
