//! Near-duplicates: copies of one picture (resized, re-compressed, slightly cropped, turned
//! upright by EXIF) grouped with a suggested keeper. CLIP proposes candidates (cosine at or
//! above the model's calibrated copy threshold); because CLIP is built to ignore where things
//! are and much of what colour they are, two different pictures of one subject can score as
//! high as a copy, so every candidate pair is confirmed on the pixels: the two previews, reduced
//! to small CIELAB pictures and aligned over the scales and shifts a slight crop makes, must
//! agree in lightness structure, in colour overall and in colour everywhere (a grey
//! comparison alone grouped a green star on a green-grey gradient with a larger one on olive).

use glimpse_clip::decode::{self, DecodeOptions};
use glimpse_clip::embedding::dot;
use glimpse_library::catalog::{PhotoFilter, PhotoInfo};
use glimpse_library::vectors::VectorError;
use glimpse_library::{Library, LibraryError};
use std::collections::HashMap;
use std::path::PathBuf;

/// Why duplicate detection could not run.
#[derive(Debug, thiserror::Error)]
pub enum DupeError {
    /// The library could not be read.
    #[error(transparent)]
    Library(#[from] LibraryError),
    /// The vector index failed.
    #[error(transparent)]
    Vectors(#[from] VectorError),
}

/// Thresholds for calling two photos copies.
///
/// Measured by `tests/query/dupes.rs` on drawn pictures (every pair a candidate), with the two
/// signatures aligned over the scales and shifts a crop of up to 3% a side makes:
///
/// | pair | lightness correlation | mean ΔE | 99th-percentile ΔE |
/// | --- | --- | --- | --- |
/// | copies: 50% resize, JPEG q60/q95, PNG↔JPEG, 3% crop, EXIF-rotated, +4 levels (84 pairs) | ≥ 0.997 | ≤ 2.3 | ≤ 8.3 |
/// | subject moved a tenth of the frame | 0.937 | 5.9 | 67 |
/// | same shape 23% larger on the same background | 0.961 | 1.7 | 24 |
/// | green star, larger, green-grey vs olive gradient | 0.990 | 31 | 35 |
/// | purple square on grey noise vs on flat red | 0.996 | 45 | 56 |
/// | subject re-coloured (red → blue, as light) | 0.928 | 27 | 127 |
/// | whole picture re-coloured (red and blue swapped) | 0.376 | 72 | 133 |
///
/// Lightness alone cannot tell re-coloured and re-backgrounded pictures from copies; the mean
/// colour difference catches those, and the 99th percentile a subject that moved or grew
/// while most of the picture stayed the same. The defaults sit between: mean ΔE 6 (2.6 times
/// the worst copy, under a fourth of the nearest re-coloured picture), 99th-percentile ΔE 15
/// (1.8 times the worst copy, 0.6 times the larger subject).
#[derive(Debug, Clone, Copy)]
pub struct DupeOptions {
    /// CLIP cosine at or above which a pair is a candidate (the model's calibration).
    pub cosine: f32,
    /// Correlation of the aligned lightness (L*) signatures at or above which a candidate may
    /// be a copy: the structure test.
    pub pixels: f32,
    /// Largest mean colour difference (CIE76 ΔE over the aligned signatures) between copies:
    /// a different background or a re-coloured picture moves it far more than re-compression.
    pub colour: f32,
    /// Largest 99th-percentile colour difference (ΔE) between copies: a subject that moved,
    /// grew or changed colour differs a lot in a few places even when the mean hardly moves.
    pub detail: f32,
    /// Largest difference of aspect ratio (as a log ratio) between copies: a slight crop keeps
    /// the shape, a different framing does not.
    pub aspect: f32,
    /// Neighbours examined per photo.
    pub neighbours: usize,
}

impl DupeOptions {
    /// The defaults around a model's calibrated copy cosine, with the pixel thresholds chosen
    /// between the measurements above: lightness correlation 0.90, mean ΔE 6, 99th-percentile
    /// ΔE 15.
    pub fn with_cosine(cosine: f32) -> Self {
        DupeOptions {
            cosine,
            pixels: 0.90,
            colour: 6.0,
            detail: 15.0,
            aspect: 0.08,
            neighbours: 16,
        }
    }
}

/// A photo of a group and how close it is to the keeper (serialised for `glimpse dupes --json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    /// The photo.
    #[serde(flatten)]
    pub photo: PhotoInfo,
    /// CLIP cosine to the keeper (1 for the keeper).
    pub score: f32,
}

/// What made the keeper the keeper, so a window can say why it suggests keeping that copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// It has more pixels than every other copy.
    Pixels,
    /// As many pixels as the next copy, but saved without loss (PNG, TIFF, BMP).
    Lossless,
    /// As many pixels and as lossless as the next copy, but a larger file.
    Larger,
    /// Nothing tells the best copies apart: the first path wins.
    Path,
}

/// Photos that are copies of one another.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Group {
    /// The suggested keeper: most pixels, then lossless over lossy, then largest file, then
    /// first path.
    pub keeper: PathBuf,
    /// Why it is the keeper.
    pub why: Keep,
    /// Every member, the keeper first.
    pub photos: Vec<Member>,
}

/// Cells per side of a signature.
const SIGNATURE: u32 = 24;

/// Points per side of the grid two signatures are compared on.
const POINTS: usize = 24;

/// Part of the frame left out on each side of the compared grid, so that the grid stays inside
/// both pictures at every alignment tried.
const MARGIN: f32 = 0.05;

/// Scales tried between two pictures: a crop of up to 3% a side scales the rest by up to 6%.
const SCALES: [f32; 5] = [0.94, 0.97, 1.0, 1.03, 1.06];

/// Shifts tried (fractions of the frame): an uneven crop moves the centre too.
const SHIFTS: [f32; 3] = [-0.02, 0.0, 0.02];

/// A photo reduced for the pixel check: the CIELAB colour of each cell of a
/// `SIGNATURE`×`SIGNATURE` grid over the whole frame, row by row.
struct Signature {
    lab: Vec<[f32; 3]>,
}

/// One sRGB value (0–255) as linear light.
fn linear(c: u8) -> f32 {
    let c = f32::from(c) / 255.0;
    if c <= 0.040_45 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// An sRGB pixel in CIELAB (D65 white): distances in it follow seen differences far better
/// than in RGB, and its L* is the lightness the structure test compares.
fn lab([r, g, b]: [u8; 3]) -> [f32; 3] {
    let (r, g, b) = (linear(r), linear(g), linear(b));
    let x = (0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b) / 0.950_47;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
    let z = (0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b) / 1.088_83;
    let f = |t: f32| {
        if t > 216.0 / 24_389.0 {
            t.cbrt()
        } else {
            (24_389.0 / 27.0 * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIE76 colour difference.
fn delta_e(x: &[f32; 3], y: &[f32; 3]) -> f32 {
    ((x[0] - y[0]).powi(2) + (x[1] - y[1]).powi(2) + (x[2] - y[2]).powi(2)).sqrt()
}

impl Signature {
    /// The signature of a picture.
    fn of(img: &image::RgbImage) -> Signature {
        let small = image::imageops::resize(
            img,
            SIGNATURE,
            SIGNATURE,
            image::imageops::FilterType::Triangle,
        );
        Signature {
            lab: small.pixels().map(|p| lab(p.0)).collect(),
        }
    }

    /// The colour at (x, y), in fractions of the frame, interpolated between cell centres.
    fn at(&self, x: f32, y: f32) -> [f32; 3] {
        let last = (SIGNATURE - 1) as usize;
        let fx = (x * SIGNATURE as f32 - 0.5).clamp(0.0, last as f32);
        let fy = (y * SIGNATURE as f32 - 0.5).clamp(0.0, last as f32);
        let (x0, y0) = (fx as usize, fy as usize);
        let (x1, y1) = ((x0 + 1).min(last), (y0 + 1).min(last));
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let cell = |x: usize, y: usize| self.lab.get(y * (last + 1) + x).copied();
        let mut out = [0.0; 3];
        if let (Some(a), Some(b), Some(c), Some(d)) =
            (cell(x0, y0), cell(x1, y0), cell(x0, y1), cell(x1, y1))
        {
            for (k, o) in out.iter_mut().enumerate() {
                let top = a[k] * (1.0 - tx) + b[k] * tx;
                let bottom = c[k] * (1.0 - tx) + d[k] * tx;
                *o = top * (1.0 - ty) + bottom * ty;
            }
        }
        out
    }
}

/// How two signatures compare at their best alignment.
#[derive(Debug, Clone, Copy)]
struct Scores {
    /// Correlation of the lightness (1 when both pictures are flat, 0 when one is).
    lightness: f32,
    /// Mean ΔE.
    mean: f32,
    /// 99th-percentile ΔE.
    p99: f32,
}

impl Scores {
    fn copies(&self, opts: &DupeOptions) -> bool {
        self.lightness >= opts.pixels && self.mean <= opts.colour && self.p99 <= opts.detail
    }
}

/// Zero-mean, unit-length copy of `v`, or `None` when it is flat.
fn normalised(v: &[f32]) -> Option<Vec<f32>> {
    let mean = v.iter().sum::<f32>() / v.len().max(1) as f32;
    let centred: Vec<f32> = v.iter().map(|x| x - mean).collect();
    let n = centred.iter().map(|x| x * x).sum::<f32>().sqrt();
    // Below a tenth of an L* step per point on average: a flat picture.
    (n >= 0.1 * (v.len() as f32).sqrt()).then(|| centred.iter().map(|x| x / n).collect())
}

/// Compares `b` on a grid over its frame with `a` scaled and shifted by each alignment a slight
/// crop can make, and keeps the alignment with the least mean colour difference.
fn compare(a: &Signature, b: &Signature) -> Scores {
    let grid: Vec<f32> = (0..POINTS)
        .map(|i| MARGIN + (1.0 - 2.0 * MARGIN) * (i as f32 + 0.5) / POINTS as f32)
        .collect();
    let seen: Vec<[f32; 3]> = grid
        .iter()
        .flat_map(|v| grid.iter().map(move |u| (*u, *v)))
        .map(|(u, v)| b.at(u, v))
        .collect();
    let mut best: Option<(f32, Vec<[f32; 3]>)> = None;
    for s in SCALES {
        for dx in SHIFTS {
            for dy in SHIFTS {
                let there: Vec<[f32; 3]> = grid
                    .iter()
                    .flat_map(|v| grid.iter().map(move |u| (*u, *v)))
                    .map(|(u, v)| a.at(0.5 + s * (u - 0.5) + dx, 0.5 + s * (v - 0.5) + dy))
                    .collect();
                let mean = there
                    .iter()
                    .zip(&seen)
                    .map(|(x, y)| delta_e(x, y))
                    .sum::<f32>()
                    / seen.len() as f32;
                if best.as_ref().is_none_or(|(m, _)| mean < *m) {
                    best = Some((mean, there));
                }
            }
        }
    }
    let Some((mean, there)) = best else {
        return Scores {
            lightness: 0.0,
            mean: f32::INFINITY,
            p99: f32::INFINITY,
        };
    };
    let mut d: Vec<f32> = there
        .iter()
        .zip(&seen)
        .map(|(x, y)| delta_e(x, y))
        .collect();
    d.sort_by(f32::total_cmp);
    let p99 = d
        .get((d.len().saturating_sub(1) as f32 * 0.99) as usize)
        .copied()
        .unwrap_or(f32::INFINITY);
    let l = |v: &[[f32; 3]]| v.iter().map(|c| c[0]).collect::<Vec<f32>>();
    let lightness = match (normalised(&l(&there)), normalised(&l(&seen))) {
        (Some(x), Some(y)) => dot(&x, &y),
        (None, None) => 1.0,
        _ => 0.0,
    };
    Scores {
        lightness,
        mean,
        p99,
    }
}

/// The signature of a photo, from its preview (or the file when the preview is missing; the
/// decode applies the EXIF orientation, as the previews were).
fn signature(lib: &Library, info: &PhotoInfo) -> Option<Signature> {
    let img = info
        .content_hash
        .as_deref()
        .filter(|h| lib.thumbs().exists(h))
        .and_then(|h| image::open(lib.thumbs().path_for(h)).ok())
        .map(|i| i.to_rgb8())
        .or_else(|| {
            decode::decode_file(&info.path, DecodeOptions::for_model(64))
                .ok()
                .map(|d| d.image)
        })?;
    Some(Signature::of(&img))
}

fn aspect(info: &PhotoInfo) -> Option<f32> {
    match (info.width, info.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => Some((w as f32 / h as f32).ln()),
        _ => None,
    }
}

fn find_root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// A candidate pair and how it was judged.
#[derive(Debug, Clone)]
pub struct Pair {
    /// One photo.
    pub a: PathBuf,
    /// The other.
    pub b: PathBuf,
    /// CLIP cosine (at or above the candidate threshold).
    pub cosine: f32,
    /// Correlation of the aligned lightness signatures (`None` when the aspect ratios differ
    /// too much or a picture could not be read; so for the two below).
    pub pixels: Option<f32>,
    /// Mean colour difference (ΔE) of the aligned signatures.
    pub colour: Option<f32>,
    /// 99th-percentile colour difference (ΔE) of the aligned signatures.
    pub detail: Option<f32>,
    /// Whether the pair counts as copies.
    pub copies: bool,
}

/// A candidate pair by index: (a, b, cosine, pixel scores, copies).
type JudgedPair = (usize, usize, f32, Option<Scores>, bool);

/// The photos with their vectors, and the judged candidate pairs among them.
type Judged = (Vec<(PhotoInfo, Vec<f32>)>, Vec<JudgedPair>);

/// The photos passing `filter` with their vectors, and every candidate pair (indices into
/// them) judged against `opts`.
fn judge(lib: &Library, filter: &PhotoFilter, opts: &DupeOptions) -> Result<Judged, DupeError> {
    let rows = lib.photos_with_vectors(filter)?;
    let index_of: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.0.id, i)).collect();
    let mut pairs: Vec<(usize, usize, f32)> = Vec::new();
    let small = rows.len() <= 2_000;
    for (i, (_, v)) in rows.iter().enumerate() {
        if small {
            for (j, (_, w)) in rows.iter().enumerate().skip(i + 1) {
                let s = dot(v, w);
                if s >= opts.cosine {
                    pairs.push((i, j, s));
                }
            }
            continue;
        }
        let near = if filter.is_empty() {
            lib.vectors().search(v, opts.neighbours + 1)?
        } else {
            lib.vectors()
                .search_filtered(v, opts.neighbours + 1, |id| index_of.contains_key(&id))?
        };
        for (id, _) in near {
            if let Some(&j) = index_of.get(&id) {
                if j > i {
                    let s = dot(v, &rows[j].1);
                    if s >= opts.cosine {
                        pairs.push((i, j, s));
                    }
                }
            }
        }
    }
    let mut sigs: HashMap<usize, Option<Signature>> = HashMap::new();
    let mut judged = Vec::with_capacity(pairs.len());
    for (i, j, cos) in pairs {
        let (a, b) = (&rows[i].0, &rows[j].0);
        if let (Some(x), Some(y)) = (aspect(a), aspect(b)) {
            if (x - y).abs() > opts.aspect {
                judged.push((i, j, cos, None, false));
                continue;
            }
        }
        for k in [i, j] {
            sigs.entry(k).or_insert_with(|| signature(lib, &rows[k].0));
        }
        let scores = match (&sigs[&i], &sigs[&j]) {
            (Some(x), Some(y)) => Some(compare(x, y)),
            _ => None,
        };
        let same = scores.is_some_and(|s| s.copies(opts));
        judged.push((i, j, cos, scores, same));
    }
    Ok((rows, judged))
}

/// Every candidate pair among the photos passing `filter` with both scores, to see how far
/// copies and look-alikes lie from the thresholds.
pub fn pairs(
    lib: &Library,
    filter: &PhotoFilter,
    opts: &DupeOptions,
) -> Result<Vec<Pair>, DupeError> {
    let (rows, judged) = judge(lib, filter, opts)?;
    Ok(judged
        .into_iter()
        .map(|(i, j, cosine, scores, copies)| Pair {
            a: rows[i].0.path.clone(),
            b: rows[j].0.path.clone(),
            cosine,
            pixels: scores.map(|s| s.lightness),
            colour: scores.map(|s| s.mean),
            detail: scores.map(|s| s.p99),
            copies,
        })
        .collect())
}

/// Groups of copies among the indexed photos passing `filter`, largest group first.
pub fn find(
    lib: &Library,
    filter: &PhotoFilter,
    opts: &DupeOptions,
) -> Result<Vec<Group>, DupeError> {
    let (rows, judged) = judge(lib, filter, opts)?;
    let mut parent: Vec<usize> = (0..rows.len()).collect();
    for (i, j, _, _, same) in judged {
        if same {
            let (ri, rj) = (find_root(&mut parent, i), find_root(&mut parent, j));
            if ri != rj {
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..rows.len() {
        let r = find_root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out: Vec<Group> = groups
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            // Most pixels; among equals a lossless file (a re-saved JPEG lost detail), then
            // the larger file.
            let key = |i: &usize| {
                let p = &rows[*i].0;
                let lossless = matches!(p.format.as_deref(), Some("png" | "tiff" | "bmp"));
                (
                    u64::from(p.width.unwrap_or(0)) * u64::from(p.height.unwrap_or(0)),
                    lossless,
                    p.size,
                )
            };
            g.sort_by(|a, b| {
                key(b)
                    .cmp(&key(a))
                    .then(rows[*a].0.path.cmp(&rows[*b].0.path))
            });
            let keeper = g[0];
            let (best, next) = (key(&g[0]), key(&g[1]));
            let why = if best.0 != next.0 {
                Keep::Pixels
            } else if best.1 != next.1 {
                Keep::Lossless
            } else if best.2 != next.2 {
                Keep::Larger
            } else {
                Keep::Path
            };
            let photos = g
                .iter()
                .map(|i| Member {
                    photo: rows[*i].0.clone(),
                    score: if *i == keeper {
                        1.0
                    } else {
                        dot(&rows[keeper].1, &rows[*i].1)
                    },
                })
                .collect();
            Group {
                keeper: rows[keeper].0.path.clone(),
                why,
                photos,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.photos
            .len()
            .cmp(&a.photos.len())
            .then(a.keeper.cmp(&b.keeper))
    });
    Ok(out)
}
