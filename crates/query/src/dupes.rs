//! Near-duplicates: copies of one picture (resized, re-compressed, slightly cropped) grouped
//! with a suggested keeper. CLIP proposes candidates (cosine at or above the model's calibrated
//! copy threshold); because CLIP is built to ignore where things are, two different shots of
//! one scene can score as high as a copy, so every candidate pair is confirmed on the pixels:
//! the two previews, reduced to small grey pictures, must correlate like a copy does.

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

/// Side of the grey signature compared between candidates.
const SIGNATURE: u32 = 24;

/// Thresholds for calling two photos copies.
#[derive(Debug, Clone, Copy)]
pub struct DupeOptions {
    /// CLIP cosine at or above which a pair is a candidate (the model's calibration).
    pub cosine: f32,
    /// Correlation of the grey signatures at or above which a candidate is a copy.
    pub pixels: f32,
    /// Largest difference of aspect ratio (as a log ratio) between copies: a slight crop keeps
    /// the shape, a different framing does not.
    pub aspect: f32,
    /// Neighbours examined per photo.
    pub neighbours: usize,
}

impl DupeOptions {
    /// The defaults around a model's calibrated copy cosine. 0.90 pixel correlation: resized,
    /// re-compressed and 3%-cropped copies measure above 0.95, the same scene with its subject
    /// moved by a tenth of the frame below 0.85.
    pub fn with_cosine(cosine: f32) -> Self {
        DupeOptions {
            cosine,
            pixels: 0.90,
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

/// Photos that are copies of one another.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Group {
    /// The suggested keeper: most pixels, then lossless over lossy, then largest file, then
    /// first path.
    pub keeper: PathBuf,
    /// Every member, the keeper first.
    pub photos: Vec<Member>,
}

/// A zero-mean, unit-length grey signature of a photo, from its preview (or the file when the
/// preview is missing).
fn signature(lib: &Library, info: &PhotoInfo) -> Option<Vec<f32>> {
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
    let grey = image::imageops::grayscale(&img);
    let small = image::imageops::resize(
        &grey,
        SIGNATURE,
        SIGNATURE,
        image::imageops::FilterType::Triangle,
    );
    let mut v: Vec<f32> = small.pixels().map(|p| f32::from(p.0[0])).collect();
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    v.iter_mut().for_each(|x| *x -= mean);
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n < 1e-3 {
        // A flat picture: any flat copy matches it exactly, nothing else does.
        return Some(vec![0.0; v.len()]);
    }
    v.iter_mut().for_each(|x| *x /= n);
    Some(v)
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
    /// Correlation of the grey signatures (`None` when the aspect ratios differ too much or a
    /// picture could not be read).
    pub pixels: Option<f32>,
    /// Whether the pair counts as copies.
    pub copies: bool,
}

/// A candidate pair by index: (a, b, cosine, pixel correlation, copies).
type JudgedPair = (usize, usize, f32, Option<f32>, bool);

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
    let mut sigs: HashMap<usize, Option<Vec<f32>>> = HashMap::new();
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
        let (pixels, same) = match (&sigs[&i], &sigs[&j]) {
            (Some(x), Some(y)) => {
                let flat = |v: &[f32]| v.iter().all(|e| *e == 0.0);
                if flat(x) || flat(y) {
                    let both = flat(x) && flat(y);
                    (Some(if both { 1.0 } else { 0.0 }), both)
                } else {
                    let c = dot(x, y);
                    (Some(c), c >= opts.pixels)
                }
            }
            _ => (None, false),
        };
        judged.push((i, j, cos, pixels, same));
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
        .map(|(i, j, cosine, pixels, copies)| Pair {
            a: rows[i].0.path.clone(),
            b: rows[j].0.path.clone(),
            cosine,
            pixels,
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
