//! One-bit sketches of every vector, scored exhaustively: how a text query finds its true best
//! photos in a large library. A caption sits across CLIP's modality gap, far from every photo,
//! where a graph built on photos loses its way (recall@10 0.65 at a million photos); scoring
//! every photo never routes wrong, and at 64 bytes a photo a million of them are a 64 MB scan.
//!
//! Each vector is centred on the library's mean (the cone CLIP's photos share), turned by a fixed
//! random rotation (sign flips and Walsh-Hadamard transforms) so that no coordinate dominates,
//! and kept as the signs of its coordinates plus one correction factor: the RaBitQ estimator
//! (Gao & Long, SIGMOD 2024), whose error shrinks as 1/√d and does not depend on where the query
//! lies. The query keeps [`QUERY_BITS`] bits a coordinate. Where AVX2 runs, a score is one
//! table lookup per four bits of the sketch, taken for 32 sketches at once (the sketches are
//! stored interleaved for that, as RaBitQ's and Quick ADC's "fast scan" store their codes);
//! elsewhere it is a handful of population counts of the sketch, stored whole. The best
//! estimates are then re-scored exactly by the caller ([`crate::vectors::VectorIndex`]), which
//! holds the full vectors.
//!
//! The sketches are derived from the vectors, saved beside the vector index with the index's
//! checksum and their own, and rebuilt when either does not match.

use glimpse_clip::embedding::{dot, unit};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

/// Bits a query coordinate keeps when it is scored against the one-bit sketches: at 4 the
/// query's rounding adds about a third of the sketch's own error (measured in `cargo bench
/// --bench candidates`).
pub const QUERY_BITS: usize = 4;

/// Rounds of sign flips and Walsh-Hadamard transform in the rotation.
const ROUNDS: usize = 2;

/// Vectors whose mean is taken as the centre; later vectors reuse it until the library has
/// doubled, up to this size (beyond it the mean of CLIP photos no longer moves).
const CENTRE_SETTLED: usize = 65_536;

const MAGIC: &[u8; 8] = b"GLSKETCH";
/// 2: the exactly scored directions and each vector's components along them are kept.
const VERSION: u32 = 2;

/// Why a sketch file was not used (the caller rebuilds the sketches).
#[derive(Debug, thiserror::Error)]
pub enum SketchError {
    /// Reading or writing the file failed.
    #[error("sketch file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a complete sketch file of this version and width, or belongs to another
    /// vector index file than the one opened.
    #[error("sketch file {path}: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What did not match.
        why: String,
    },
}

/// The sketches of a set of vectors, keyed by photo id.
#[derive(Clone)]
pub struct Sketches {
    dim: usize,
    /// Width after padding to a power of two (the transform's size).
    padded: usize,
    /// `padded / 8`: bytes a sketch takes.
    bytes: usize,
    /// The centre in rotated space; zero until the first vectors arrive.
    centre: Vec<f32>,
    /// Vectors the centre was taken from (0: not yet taken).
    centred_on: usize,
    ids: Vec<i64>,
    slots: HashMap<i64, usize>,
    /// The sign bits of each slot (`bytes` a slot, least significant bit first), padded with
    /// zeros to whole blocks of [`BLOCK`] slots. Interleaved ([`Sketches::interleaved`]), a
    /// block is byte-major: byte `b` of slot `s` lies at `(s / BLOCK) * BLOCK * bytes + b *
    /// BLOCK + s % BLOCK`, so one load holds that byte of 32 sketches ([`weigh`]). Otherwise
    /// slot `s`'s bytes lie whole at `s * bytes` ([`popcounts`]).
    codes: Vec<u8>,
    /// Whether `codes` is interleaved: where the table kernel has its SIMD instructions,
    /// whose scalar form is slower than population counts of whole sketches.
    interleaved: bool,
    /// Per slot: |r|² / Σ|rᵢ| (the estimator's scale) and the number of set bits.
    factor: Vec<f32>,
    ones: Vec<u32>,
    /// Orthonormal directions scored exactly (the modality gap a caption crosses), and per
    /// slot the vector's component along each.
    directions: Vec<Vec<f32>>,
    along: Vec<f32>,
}

/// A query prepared for scoring against sketches: its rotated coordinates rounded to
/// [`QUERY_BITS`] bits, summed in tables or split in bit planes, and the constants of the
/// estimator.
pub struct Query {
    /// For each four coordinates, 16 bytes: the sum of their levels over each subset (the
    /// subset a nibble of a sketch's bits selects). Interleaved sketches are scored with these.
    tables: Vec<u8>,
    /// Bit `j` of every level, `padded / 64` words a plane. Whole sketches are scored with these.
    planes: Vec<u64>,
    /// The query's components along the exactly scored directions.
    exact: Vec<f32>,
    /// q·centre, Σqᵢ, the lowest coordinate and the step of the rounding.
    at_centre: f32,
    sum: f32,
    low: f32,
    step: f32,
}

impl Sketches {
    /// No sketches yet, for `dim`-wide vectors.
    pub fn new(dim: usize) -> Self {
        let padded = dim.max(64).next_power_of_two();
        Sketches {
            dim,
            padded,
            bytes: padded / 8,
            centre: vec![0.0; padded],
            centred_on: 0,
            ids: Vec::new(),
            slots: HashMap::new(),
            codes: Vec::new(),
            interleaved: tables_have_simd(),
            factor: Vec::new(),
            ones: Vec::new(),
            directions: Vec::new(),
            along: Vec::new(),
        }
    }

    /// Scores the components of a query along `directions` exactly from then on (each vector's
    /// component is kept), leaving the sketch to estimate only the rest: a caption's share of
    /// the modality gap is most of it, and the estimator's error grows with the part it
    /// estimates. Directions are orthonormalised; the vectors held are re-read by `vector_of`.
    pub fn set_directions(
        &mut self,
        directions: &[Vec<f32>],
        vector_of: impl Fn(i64) -> Option<Vec<f32>>,
    ) {
        let mut basis: Vec<Vec<f32>> = Vec::new();
        for d in directions.iter().filter(|d| d.len() == self.dim) {
            let mut v = d.clone();
            for b in &basis {
                let a = dot(&v, b);
                v.iter_mut().zip(b).for_each(|(x, y)| *x -= a * y);
            }
            if v.iter().map(|x| x * x).sum::<f32>().sqrt() > 1e-3 {
                basis.push(unit(v));
            }
        }
        self.directions = basis;
        let m = self.directions.len();
        let mut along = vec![0f32; self.ids.len() * m];
        for (slot, id) in self.ids.iter().enumerate() {
            // A vector that cannot be read keeps 0 along the directions: it ranks low, and the
            // exact re-scoring of the best candidates never trusts estimates.
            if let Some(v) = vector_of(*id) {
                along[slot * m..(slot + 1) * m].copy_from_slice(&self.components(&v));
            }
        }
        self.along = along;
    }

    /// `v`'s components along the directions scored exactly.
    fn components(&self, v: &[f32]) -> Vec<f32> {
        self.directions.iter().map(|d| dot(v, d)).collect()
    }

    fn rescore(&mut self, vector_of: impl Fn(i64) -> Option<Vec<f32>>) {
        let ids = std::mem::take(&mut self.ids);
        self.slots.clear();
        self.codes.clear();
        self.factor.clear();
        self.ones.clear();
        self.along.clear();
        for id in ids {
            if let Some(v) = vector_of(id) {
                self.insert(id, &v);
            }
        }
    }

    /// Sketches of `items`, centred on their mean.
    pub fn build(dim: usize, items: &[(i64, Vec<f32>)]) -> Self {
        let mut me = Self::new(dim);
        let usable: Vec<&(i64, Vec<f32>)> = items.iter().filter(|(_, v)| v.len() == dim).collect();
        me.centre_on(usable.iter().map(|(_, v)| v.as_slice()), usable.len());
        for (id, v) in usable {
            me.insert(*id, v);
        }
        me
    }

    /// Sketches of the vectors `vector_of` gives for `ids`, centred on their mean: read twice
    /// rather than held all at once (two gigabytes at a million photos).
    pub fn build_from(
        dim: usize,
        ids: &[i64],
        vector_of: impl Fn(i64) -> Option<Vec<f32>>,
    ) -> Self {
        let mut me = Self::new(dim);
        me.centre_on(ids.iter().filter_map(|id| vector_of(*id)), ids.len());
        for id in ids {
            if let Some(v) = vector_of(*id) {
                me.insert(*id, &v);
            }
        }
        me
    }

    /// The photo ids sketched, slot order.
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.ids.iter().copied()
    }

    /// The directions scored exactly (orthonormal).
    pub fn directions(&self) -> &[Vec<f32>] {
        &self.directions
    }

    /// Whether the directions scored exactly are (up to rounding) `wanted` once
    /// orthonormalised; with one direction, whether it is `wanted[0]`'s.
    pub fn directions_match(&self, wanted: &[Vec<f32>]) -> bool {
        if wanted.len() != self.directions.len() {
            return false;
        }
        wanted
            .iter()
            .zip(&self.directions)
            .all(|(w, d)| dot(&unit(w.clone()), d) > 0.999_99)
    }

    /// Vectors sketched.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` has a sketch.
    pub fn contains(&self, id: i64) -> bool {
        self.slots.contains_key(&id)
    }

    /// Bytes held (for status and benchmarks).
    pub fn memory_usage(&self) -> usize {
        self.codes.len()
            + self.factor.len() * 4
            + self.ones.len() * 4
            + self.along.len() * 4
            + self.ids.len() * 8
            + self.slots.capacity() * 24
    }

    /// Whether the centre should be taken again now that `arrived` new vectors were sketched:
    /// the library has at least doubled since it was taken and has not settled yet.
    pub fn wants_centre_after(&self, arrived: usize) -> bool {
        self.centred_on < CENTRE_SETTLED && arrived > 0 && self.len() >= 2 * self.centred_on.max(1)
    }

    /// Takes the centre again from the vectors held and re-sketches them, each vector read
    /// by `vector_of` (two passes, no copy of them all).
    pub fn recentre(&mut self, vector_of: impl Fn(i64) -> Option<Vec<f32>>) {
        let ids = self.ids.clone();
        self.centre_on(ids.iter().filter_map(|id| vector_of(*id)), ids.len());
        self.rescore(vector_of);
    }

    fn centre_on(&mut self, vectors: impl Iterator<Item = impl AsRef<[f32]>>, count: usize) {
        let mut mean = vec![0f64; self.dim];
        let mut n = 0usize;
        for v in vectors {
            let v = v.as_ref();
            if v.len() != self.dim {
                continue;
            }
            for (m, x) in mean.iter_mut().zip(v) {
                *m += f64::from(*x);
            }
            n += 1;
        }
        if n == 0 {
            return;
        }
        let mean: Vec<f32> = mean.iter().map(|m| (*m / n as f64) as f32).collect();
        self.centre = self.rotate(&mean);
        self.centred_on = count.max(n);
    }

    /// Adds or replaces `id`'s sketch. A vector of another width is ignored (the vector index
    /// refuses it first).
    pub fn insert(&mut self, id: i64, v: &[f32]) {
        if v.len() != self.dim {
            return;
        }
        let m = self.directions.len();
        let along = self.components(v);
        let r: Vec<f32> = self
            .rotate(v)
            .iter()
            .zip(&self.centre)
            .map(|(x, c)| x - c)
            .collect();
        let mut code = vec![0u8; self.bytes];
        let (mut norm2, mut l1) = (0f32, 0f32);
        for (i, x) in r.iter().enumerate() {
            if *x > 0.0 {
                code[i / 8] |= 1 << (i % 8);
            }
            norm2 += x * x;
            l1 += x.abs();
        }
        let factor = if l1 > 0.0 { norm2 / l1 } else { 0.0 };
        let ones = code.iter().map(|w| w.count_ones()).sum();
        match self.slots.get(&id) {
            Some(&slot) => {
                self.put_code(slot, &code);
                self.factor[slot] = factor;
                self.ones[slot] = ones;
                self.along[slot * m..(slot + 1) * m].copy_from_slice(&along);
            }
            None => {
                let slot = self.ids.len();
                self.slots.insert(id, slot);
                self.ids.push(id);
                self.put_code(slot, &code);
                self.factor.push(factor);
                self.ones.push(ones);
                self.along.extend_from_slice(&along);
            }
        }
    }

    /// Removes `id`'s sketch (no error if absent).
    pub fn remove(&mut self, id: i64) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if slot != last {
            let moved = self.ids[last];
            self.ids[slot] = moved;
            self.slots.insert(moved, slot);
            let moved: Vec<u8> = self.code(last).collect();
            self.put_code(slot, &moved);
            self.factor[slot] = self.factor[last];
            self.ones[slot] = self.ones[last];
            let m = self.directions.len();
            self.along.copy_within(last * m..(last + 1) * m, slot * m);
        }
        self.along.truncate(last * self.directions.len());
        self.ids.truncate(last);
        self.put_code(last, &vec![0; self.bytes]);
        self.codes
            .truncate(last.div_ceil(BLOCK) * BLOCK * self.bytes);
        self.factor.truncate(last);
        self.ones.truncate(last);
    }

    /// Where byte 0 of `slot`'s code lies in `codes` (byte `b` lies `b * stride` further).
    fn code_at(&self, slot: usize) -> usize {
        if self.interleaved {
            slot / BLOCK * BLOCK * self.bytes + slot % BLOCK
        } else {
            slot * self.bytes
        }
    }

    /// How far apart the bytes of one code lie in `codes`.
    fn stride(&self) -> usize {
        if self.interleaved {
            BLOCK
        } else {
            1
        }
    }

    /// Lays the codes out again, interleaved or not (tests score both layouts on one machine).
    #[cfg(test)]
    fn set_interleaved(&mut self, interleaved: bool) {
        let codes: Vec<Vec<u8>> = (0..self.len()).map(|s| self.code(s).collect()).collect();
        self.interleaved = interleaved;
        self.codes.clear();
        for (slot, code) in codes.iter().enumerate() {
            self.put_code(slot, code);
        }
    }

    /// Writes `slot`'s code (`bytes` bytes), growing the codes by a block when it starts one.
    fn put_code(&mut self, slot: usize, code: &[u8]) {
        let need = (slot / BLOCK + 1) * BLOCK * self.bytes;
        if self.codes.len() < need {
            self.codes.resize(need, 0);
        }
        let (at, stride) = (self.code_at(slot), self.stride());
        for (b, byte) in code.iter().take(self.bytes).enumerate() {
            self.codes[at + b * stride] = *byte;
        }
    }

    /// `slot`'s code, byte by byte.
    fn code(&self, slot: usize) -> impl Iterator<Item = u8> + '_ {
        let (at, stride) = (self.code_at(slot), self.stride());
        (0..self.bytes).map(move |b| self.codes[at + b * stride])
    }

    /// The rotation: zero-padded, then `ROUNDS` times sign flips and an orthonormal
    /// Walsh-Hadamard transform. Dot products are kept.
    fn rotate(&self, v: &[f32]) -> Vec<f32> {
        let mut x = vec![0f32; self.padded];
        x[..v.len().min(self.padded)].copy_from_slice(&v[..v.len().min(self.padded)]);
        let scale = 1.0 / (self.padded as f32).sqrt();
        for round in 0..ROUNDS {
            let mut seed =
                0x9e37_79b9_7f4a_7c15u64 ^ (round as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            for chunk in x.chunks_mut(64) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                for (i, v) in chunk.iter_mut().enumerate() {
                    if seed >> i & 1 == 1 {
                        *v = -*v;
                    }
                }
            }
            hadamard(&mut x);
            x.iter_mut().for_each(|v| *v *= scale);
        }
        x
    }

    /// Prepares `q` (a unit vector of the sketches' width) for [`Sketches::best`].
    pub fn query(&self, q: &[f32]) -> Query {
        let mut rest = q.to_vec();
        let mut exact = Vec::with_capacity(self.directions.len());
        for d in &self.directions {
            let a = dot(&rest, d);
            rest.iter_mut().zip(d).for_each(|(x, y)| *x -= a * y);
            exact.push(a);
        }
        let r = self.rotate(&rest);
        let at_centre = dot(&r, &self.centre);
        let sum = r.iter().sum();
        let low = r.iter().copied().fold(f32::INFINITY, f32::min);
        let high = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let levels = ((1u32 << QUERY_BITS) - 1) as f32;
        let step = if high > low {
            (high - low) / levels
        } else {
            1.0
        };
        let rounded: Vec<u8> = r
            .iter()
            .map(|x| ((x - low) / step).round().clamp(0.0, levels) as u8)
            .collect();
        let words = self.padded / 64;
        let mut planes = vec![0u64; QUERY_BITS * words];
        for (i, level) in rounded.iter().enumerate() {
            for (j, plane) in planes.chunks_mut(words).enumerate() {
                if level >> j & 1 == 1 {
                    plane[i / 64] |= 1 << (i % 64);
                }
            }
        }
        Query {
            tables: tables(&rounded),
            planes,
            exact,
            at_centre,
            sum,
            low,
            step,
        }
    }

    /// The estimated score of every sketch against `q`, slot order (for measuring the
    /// estimator; searching uses [`Sketches::best`]).
    pub fn estimates(&self, q: &Query) -> Vec<f32> {
        let mut out = vec![0f32; self.len()];
        scan(self, q, 0, self.len(), |slot, est| out[slot] = est);
        out
    }

    /// The `count` photos with the best estimated scores that `keep` accepts, as (photo id,
    /// estimate), best first; the scan is split over `threads` threads.
    pub fn best(
        &self,
        q: &Query,
        count: usize,
        threads: usize,
        keep: &(dyn Fn(i64) -> bool + Sync),
    ) -> Vec<(i64, f32)> {
        let mut best = self.best_beside(q, count, threads, keep, || ()).0;
        best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        best
    }

    /// [`Sketches::best`] in no particular order, with `side` run on one of the threads before
    /// it joins the scan: a photo query walks the graph while the other cores start on the
    /// sketches, and whoever is free takes the next block, so neither waits for the other.
    pub fn best_beside<R: Send>(
        &self,
        q: &Query,
        count: usize,
        threads: usize,
        keep: &(dyn Fn(i64) -> bool + Sync),
        side: impl FnOnce() -> R + Send,
    ) -> (Vec<(i64, f32)>, R) {
        let n = self.len();
        let count = count.min(n);
        if count == 0 {
            return (Vec::new(), side());
        }
        // Below ~50k sketches a second thread costs more to start than it saves.
        let threads = threads.clamp(1, 64).min(n.div_ceil(50_000)).max(1);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            let mut best = Best::new(count);
            loop {
                let from = next.fetch_add(SCAN_BLOCK, std::sync::atomic::Ordering::Relaxed);
                if from >= n {
                    break best.finish(self, keep);
                }
                best.scan(self, q, from, (from + SCAN_BLOCK).min(n), keep);
            }
        };
        let (mut found, beside) = if threads == 1 {
            let beside = side();
            (work(), beside)
        } else {
            std::thread::scope(|s| {
                let others: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
                let beside = side();
                let mut found = work();
                for o in others {
                    found.extend(o.join().unwrap_or_default());
                }
                (found, beside)
            })
        };
        // The same `count` whatever the split: ties at the cut go to the lower slot.
        if found.len() > count {
            found.select_nth_unstable_by(count - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            found.truncate(count);
        }
        let best = found
            .into_iter()
            .map(|(est, slot)| (self.ids[slot as usize], est))
            .collect();
        (best, beside)
    }

    /// Writes the sketches to `path` atomically (temp file, fsync, rename), tied to the vector
    /// index file whose checksum is `index_checksum`.
    pub fn save(&self, path: &Path, index_checksum: &str) -> Result<(), SketchError> {
        let io = |source| SketchError::Io {
            path: path.display().to_string(),
            source,
        };
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut body = Vec::with_capacity(self.len() * (self.bytes + 16) + self.padded * 4 + 256);
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&VERSION.to_le_bytes());
        for n in [self.dim, self.padded, self.centred_on, self.len()] {
            body.extend_from_slice(&(n as u64).to_le_bytes());
        }
        let tie = index_checksum.as_bytes();
        body.extend_from_slice(&(tie.len() as u32).to_le_bytes());
        body.extend_from_slice(tie);
        body.extend_from_slice(&(self.directions.len() as u32).to_le_bytes());
        body.extend(
            self.directions
                .iter()
                .flatten()
                .flat_map(|x| x.to_le_bytes()),
        );
        body.extend(self.centre.iter().flat_map(|x| x.to_le_bytes()));
        body.extend(self.ids.iter().flat_map(|x| x.to_le_bytes()));
        body.extend(self.factor.iter().flat_map(|x| x.to_le_bytes()));
        body.extend(self.ones.iter().flat_map(|x| x.to_le_bytes()));
        // Slot by slot, as the file has always held them.
        body.extend((0..self.len()).flat_map(|slot| self.code(slot)));
        body.extend(self.along.iter().flat_map(|x| x.to_le_bytes()));
        let sum = blake3::hash(&body);
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        tmp.write_all(&body).map_err(io)?;
        tmp.write_all(sum.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads the sketches saved at `path` for `dim`-wide vectors, if the file is complete and
    /// was saved with the vector index file whose checksum is `index_checksum`.
    pub fn open(path: &Path, dim: usize, index_checksum: &str) -> Result<Self, SketchError> {
        let invalid = |why: &str| SketchError::Invalid {
            path: path.display().to_string(),
            why: why.to_string(),
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|source| SketchError::Io {
                path: path.display().to_string(),
                source,
            })?;
        if bytes.len() < 32 + MAGIC.len() {
            return Err(invalid("too short"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err(invalid("checksum does not match (torn or damaged)"));
        }
        let mut at = Reader { bytes: body, at: 0 };
        if at.take(MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(invalid("not a sketch file"));
        }
        if at.u32() != Some(VERSION) {
            return Err(invalid("another version"));
        }
        let mut me = Self::new(dim);
        let head: Option<Vec<usize>> = (0..4).map(|_| at.u64().map(|n| n as usize)).collect();
        let Some([file_dim, padded, centred_on, count]) =
            head.as_deref().map(|h| [h[0], h[1], h[2], h[3]])
        else {
            return Err(invalid("truncated header"));
        };
        if file_dim != dim || padded != me.padded {
            return Err(invalid(&format!(
                "sketches of {file_dim}-d vectors, model has {dim}"
            )));
        }
        let tie = at.u32().and_then(|n| at.take(n as usize));
        if tie != Some(index_checksum.as_bytes()) {
            return Err(invalid("saved with another vector index file"));
        }
        let m = at.u32().map_or(usize::MAX, |m| m as usize);
        if m > 64 {
            return Err(invalid("too many directions"));
        }
        let need = (m * dim + padded)
            .checked_mul(4)
            .zip(count.checked_mul(8 + 4 + 4 + me.bytes + 4 * m))
            .and_then(|(a, b)| a.checked_add(b));
        if need != Some(body.len() - at.at) {
            return Err(invalid("wrong length"));
        }
        me.directions = (0..m)
            .map(|_| (0..dim).filter_map(|_| at.f32()).collect())
            .collect();
        me.centre = (0..padded).filter_map(|_| at.f32()).collect();
        me.centred_on = centred_on;
        me.ids = (0..count)
            .filter_map(|_| at.u64().map(|n| n as i64))
            .collect();
        me.factor = (0..count).filter_map(|_| at.f32()).collect();
        me.ones = (0..count).filter_map(|_| at.u32()).collect();
        me.codes = vec![0; count.div_ceil(BLOCK) * BLOCK * me.bytes];
        for slot in 0..count {
            let code = at
                .take(me.bytes)
                .ok_or_else(|| invalid("truncated codes"))?;
            me.put_code(slot, code);
        }
        me.along = (0..count * m).filter_map(|_| at.f32()).collect();
        me.slots = me.ids.iter().enumerate().map(|(s, id)| (*id, s)).collect();
        if me.slots.len() != count {
            return Err(invalid("an id appears twice"));
        }
        Ok(me)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    }
    fn f32(&mut self) -> Option<f32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(f32::from_le_bytes)
    }
}

/// In-place unnormalised Walsh-Hadamard transform (length a power of two).
fn hadamard(x: &mut [f32]) {
    let mut h = 1;
    while h < x.len() {
        for block in x.chunks_mut(2 * h) {
            let (a, b) = block.split_at_mut(h);
            for (u, v) in a.iter_mut().zip(b.iter_mut()) {
                let (s, d) = (*u + *v, *u - *v);
                *u = s;
                *v = d;
            }
        }
        h *= 2;
    }
}

/// Sketches a scanning thread takes at a time (1 MB of 512-bit sketches): small enough that
/// the cores finish together, large enough that taking one costs nothing.
const SCAN_BLOCK: usize = 16_384;

/// How many times `count` candidates a scanning thread gathers before cutting them back: each
/// cut is a selection over the pile (at 3,200 candidates, tens of microseconds).
const PILE: usize = 4;

/// The best `count` (estimate, slot) of the slots one thread has scanned, unordered.
struct Best {
    count: usize,
    kept: Vec<(f32, u32)>,
    /// `kept[..checked]` passed the filter; the rest wait for the next cut.
    checked: usize,
    threshold: f32,
}

impl Best {
    fn new(count: usize) -> Self {
        Best {
            count,
            kept: Vec::with_capacity(PILE * count + 1),
            checked: 0,
            threshold: f32::NEG_INFINITY,
        }
    }

    /// Takes in slots `from..to`; `keep` is asked at the next cut.
    fn scan(
        &mut self,
        me: &Sketches,
        q: &Query,
        from: usize,
        to: usize,
        keep: &(dyn Fn(i64) -> bool + Sync),
    ) {
        // Candidates above the running threshold are gathered and cut back to `count` whenever
        // `PILE` times that many have piled up, which keeps the scan's inner loop free of a heap.
        // The filter is asked at the cut, not per candidate: a photo id read in the scan's
        // inner loop is a cache miss the next estimate then waits for.
        scan(me, q, from, to, |slot, est| {
            if est > self.threshold {
                self.kept.push((est, slot as u32));
                if self.kept.len() >= PILE * self.count {
                    self.cut(me, keep);
                }
            }
        });
    }

    /// Drops the candidates `keep` refuses and keeps the best `count`.
    fn cut(&mut self, me: &Sketches, keep: &(dyn Fn(i64) -> bool + Sync)) {
        let mut at = self.checked;
        for i in self.checked..self.kept.len() {
            let candidate = self.kept[i];
            if keep(me.ids[candidate.1 as usize]) {
                self.kept[at] = candidate;
                at += 1;
            }
        }
        self.kept.truncate(at);
        if self.kept.len() > self.count {
            self.kept
                .select_nth_unstable_by(self.count - 1, |a, b| b.0.total_cmp(&a.0));
            self.kept.truncate(self.count);
            self.threshold = self.kept.iter().map(|k| k.0).fold(f32::INFINITY, f32::min);
        }
        self.checked = self.kept.len();
    }

    /// The candidates kept, every one of them accepted by `keep`.
    fn finish(mut self, me: &Sketches, keep: &(dyn Fn(i64) -> bool + Sync)) -> Vec<(f32, u32)> {
        self.cut(me, keep);
        self.kept
    }
}

/// Estimates slots `from..to` against `q`, calling `found(slot, estimate)` for each; `from`
/// is a multiple of [`BLOCK`].
fn scan(me: &Sketches, q: &Query, from: usize, to: usize, mut found: impl FnMut(usize, f32)) {
    let bytes = me.bytes;
    let m = q.exact.len();
    let block = (to - from).min(4096).next_multiple_of(BLOCK);
    let mut weighted = vec![0u32; block];
    let mut est = vec![0f32; block];
    let mut start = from;
    while start < to {
        let end = (start + block).min(to);
        let n = end - start;
        // Whole blocks of codes: the last one's padding is weighed and not used.
        let whole = n.next_multiple_of(BLOCK);
        let codes = me
            .codes
            .get(start * bytes..(start + whole) * bytes)
            .unwrap_or_default();
        if me.interleaved {
            weigh(codes, &q.tables, bytes, &mut weighted[..whole]);
        } else {
            popcounts(codes, &q.planes, bytes / 8, &mut weighted[..whole]);
        }
        let (wsum, est) = (&weighted[..n], &mut est[..n]);
        // Straight loops over the block's columns, which the compiler vectorises.
        let (ones, factor) = (&me.ones[start..end], &me.factor[start..end]);
        for k in 0..n {
            // Σ over set bits of the query's coordinates, from its levels.
            let s = q.low * ones[k] as f32 + q.step * wsum[k] as f32;
            est[k] = q.at_centre + factor[k] * (2.0 * s - q.sum);
        }
        if m == 1 {
            let (a, along) = (q.exact[0], &me.along[start..end]);
            for k in 0..n {
                est[k] += a * along[k];
            }
        } else if m > 1 {
            for (k, e) in est.iter_mut().enumerate() {
                let along = &me.along[(start + k) * m..(start + k + 1) * m];
                *e += dot(&q.exact, along);
            }
        }
        for (k, e) in est.iter().enumerate() {
            found(start + k, *e);
        }
        start = end;
    }
}

/// Slots a block of codes holds: one 256-bit load is one byte of each of 32 sketches.
const BLOCK: usize = 32;
const _: () = assert!(SCAN_BLOCK.is_multiple_of(BLOCK), "scans start at a block");

/// Bytes of a code summed in 16-bit lanes before they are added up in 32 bits: each byte adds
/// at most two table entries of four levels each.
const LANE_BYTES: usize = 512;
const _: () = assert!(
    LANE_BYTES * 2 * 4 * ((1 << QUERY_BITS) - 1) <= u16::MAX as usize,
    "a lane cannot overflow"
);

/// A query's levels (one a coordinate, below 2^[`QUERY_BITS`]) as [`Query::tables`]: for each
/// four coordinates, the sum of their levels over each of the 16 subsets a nibble selects.
fn tables(levels: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; levels.len().div_ceil(4) * 16];
    for (four, table) in levels.chunks(4).zip(out.chunks_exact_mut(16)) {
        for (nibble, entry) in table.iter_mut().enumerate() {
            *entry = four
                .iter()
                .enumerate()
                .filter(|(t, _)| nibble >> t & 1 == 1)
                .map(|(_, level)| *level)
                .sum();
        }
    }
    out
}

/// Whether this CPU runs [`weigh`] with SIMD, so the sketches are kept interleaved for it.
fn tables_have_simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// For each slot of the whole blocks in `codes` (interleaved, as [`Sketches::codes`], `bytes` a
/// slot): the sum of the query's levels over the slot's set bits, read from `tables` a nibble
/// at a time. The same integers as [`popcounts`], at a fraction of the instructions.
fn weigh(codes: &[u8], tables: &[u8], bytes: usize, out: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the feature the function is compiled for.
            return unsafe { weigh_avx2(codes, tables, bytes, out) };
        }
    }
    weigh_portable(codes, tables, bytes, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn weigh_avx2(codes: &[u8], tables: &[u8], bytes: usize, out: &mut [u32]) {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_add_epi16, _mm256_add_epi8, _mm256_and_si256,
        _mm256_broadcastsi128_si256, _mm256_loadu_si256, _mm256_set1_epi16, _mm256_set1_epi8,
        _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_srli_epi16, _mm256_storeu_si256,
        _mm_loadu_si128,
    };
    if bytes == 0 || tables.len() < 32 * bytes {
        return weigh_portable(codes, tables, bytes, out);
    }
    let nibble = _mm256_set1_epi8(0x0f);
    let even = _mm256_set1_epi16(0x00ff);
    for (block, o) in codes
        .chunks_exact(BLOCK * bytes)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        o.fill(0);
        for first in (0..bytes).step_by(LANE_BYTES) {
            // Slots 0, 2, 4, ... in the low byte of each 16-bit lane, 1, 3, 5, ... in the high.
            let (mut evens, mut odds) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for b in first..(first + LANE_BYTES).min(bytes) {
                // SAFETY: `block` holds `bytes` rows of 32 bytes and `tables` 32 bytes a row
                // (checked above), and `b < bytes`.
                let (x, low, high) = unsafe {
                    let t = tables.as_ptr().add(32 * b);
                    (
                        _mm256_loadu_si256(block.as_ptr().add(b * BLOCK).cast::<__m256i>()),
                        _mm256_broadcastsi128_si256(_mm_loadu_si128(t.cast::<__m128i>())),
                        _mm256_broadcastsi128_si256(_mm_loadu_si128(t.add(16).cast::<__m128i>())),
                    )
                };
                let sums = _mm256_add_epi8(
                    _mm256_shuffle_epi8(low, _mm256_and_si256(x, nibble)),
                    _mm256_shuffle_epi8(high, _mm256_and_si256(_mm256_srli_epi16::<4>(x), nibble)),
                );
                evens = _mm256_add_epi16(evens, _mm256_and_si256(sums, even));
                odds = _mm256_add_epi16(odds, _mm256_srli_epi16::<8>(sums));
            }
            let (mut e, mut d) = ([0u16; 16], [0u16; 16]);
            // SAFETY: each store writes 32 bytes into a 32-byte array.
            unsafe {
                _mm256_storeu_si256(e.as_mut_ptr().cast::<__m256i>(), evens);
                _mm256_storeu_si256(d.as_mut_ptr().cast::<__m256i>(), odds);
            }
            for (pair, (e, d)) in o.chunks_exact_mut(2).zip(e.iter().zip(&d)) {
                pair[0] += u32::from(*e);
                pair[1] += u32::from(*d);
            }
        }
    }
}

/// [`weigh`] without SIMD: tests check the tables with it, and it stands in should interleaved
/// sketches meet a CPU without AVX2 (their layout follows the CPU, so they should not). Three
/// to four times slower than [`popcounts`] on whole sketches.
fn weigh_portable(codes: &[u8], tables: &[u8], bytes: usize, out: &mut [u32]) {
    for (block, o) in codes
        .chunks_exact(BLOCK * bytes.max(1))
        .zip(out.chunks_exact_mut(BLOCK))
    {
        o.fill(0);
        for (column, table) in block.chunks_exact(BLOCK).zip(tables.chunks_exact(32)) {
            let (low, high) = table.split_at(16);
            for (o, &x) in o.iter_mut().zip(column) {
                *o += u32::from(low[usize::from(x & 15)]) + u32::from(high[usize::from(x >> 4)]);
            }
        }
    }
}

/// For each whole sketch in `codes` (`words` little-endian words each): Σⱼ 2ʲ ·
/// popcount(sketch & plane j), the sum of the query's levels over its set bits.
fn popcounts(codes: &[u8], planes: &[u64], words: usize, out: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has the feature the function is compiled for.
            return unsafe { popcounts_popcnt(codes, planes, words, out) };
        }
    }
    popcounts_portable(codes, planes, words, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn popcounts_popcnt(codes: &[u8], planes: &[u64], words: usize, out: &mut [u32]) {
    popcounts_portable(codes, planes, words, out)
}

#[inline(always)]
fn popcounts_portable(codes: &[u8], planes: &[u64], words: usize, out: &mut [u32]) {
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    if words == 8 {
        // The common case (512-d models), with fixed sizes the compiler can vectorise.
        let mut p = [[0u64; 8]; QUERY_BITS];
        for (j, plane) in p.iter_mut().enumerate() {
            plane.copy_from_slice(&planes[j * 8..(j + 1) * 8]);
        }
        for (sketch, o) in codes.chunks_exact(64).zip(out.iter_mut()) {
            let mut s = [0u64; 8];
            for (k, w) in s.iter_mut().enumerate() {
                *w = word(&sketch[8 * k..8 * k + 8]);
            }
            let mut total = 0u32;
            for (j, plane) in p.iter().enumerate() {
                let mut c = 0u32;
                for k in 0..8 {
                    c += (s[k] & plane[k]).count_ones();
                }
                total += c << j;
            }
            *o = total;
        }
        return;
    }
    for (sketch, o) in codes.chunks_exact(8 * words.max(1)).zip(out.iter_mut()) {
        let mut total = 0u32;
        for (j, plane) in planes.chunks_exact(words.max(1)).enumerate() {
            let c: u32 = sketch
                .chunks_exact(8)
                .zip(plane)
                .map(|(a, b)| (word(a) & b).count_ones())
                .sum();
            total += c << j;
        }
        *o = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 + 0.5) / (1u64 << 24) as f32 - 0.5
        }
    }

    /// Vectors in a cone (a shared axis plus a random part), as CLIP photos are.
    fn cone(n: usize, dim: usize, seed: u64) -> Vec<(i64, Vec<f32>)> {
        let mut r = rng(seed);
        let axis: Vec<f32> = unit((0..dim).map(|_| r()).collect());
        (0..n)
            .map(|i| {
                let v = unit((0..dim).map(|_| r()).collect());
                let x = unit(
                    axis.iter()
                        .zip(&v)
                        .map(|(a, b)| 0.8 * a + 0.6 * b)
                        .collect(),
                );
                (i as i64 + 1, x)
            })
            .collect()
    }

    #[test]
    fn the_rotation_keeps_dot_products() {
        let s = Sketches::new(300);
        let items = cone(2, 300, 1);
        let (a, b) = (&items[0].1, &items[1].1);
        let (ra, rb) = (s.rotate(a), s.rotate(b));
        assert_eq!(ra.len(), 512);
        assert!((dot(&ra, &rb) - dot(a, b)).abs() < 1e-4);
        assert!((dot(&ra, &ra) - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_caption_direction_scored_exactly_makes_estimates_find_the_true_best() {
        let dim = 512;
        let mut r = rng(99);
        let mut rand_unit = || unit((0..dim).map(|_| r()).collect::<Vec<f32>>());
        // Clustered photos in a cone; a caption is mostly a shared gap direction, a little
        // towards its subject (cluster 0), as CLIP captions are.
        let axis = rand_unit();
        let centres: Vec<Vec<f32>> = (0..30)
            .map(|_| {
                let u = rand_unit();
                unit(
                    axis.iter()
                        .zip(&u)
                        .map(|(a, b)| 0.75 * a + 0.66 * b)
                        .collect(),
                )
            })
            .collect();
        let items: Vec<(i64, Vec<f32>)> = (0..6000)
            .map(|i| {
                let u = rand_unit();
                let c = &centres[i % 30];
                (
                    i as i64 + 1,
                    unit(c.iter().zip(&u).map(|(a, b)| a + 0.62 * b).collect()),
                )
            })
            .collect();
        let gap = rand_unit();
        let noise = rand_unit();
        let q: Vec<f32> = unit(
            (0..dim)
                .map(|k| 0.9 * gap[k] + 0.32 * centres[0][k] + 0.25 * noise[k])
                .collect(),
        );
        let rms = |s: &Sketches| {
            let est = s.estimates(&s.query(&q));
            let e2: f32 = items
                .iter()
                .zip(&est)
                .map(|((_, v), e)| (e - dot(&q, v)).powi(2))
                .sum();
            (e2 / items.len() as f32).sqrt()
        };
        let plain = Sketches::build(dim, &items);
        let mut with_gap = plain.clone();
        with_gap.set_directions(std::slice::from_ref(&gap), |id| {
            Some(items[id as usize - 1].1.clone())
        });
        let (e_plain, e_gap) = (rms(&plain), rms(&with_gap));
        // RaBitQ's error at 512-d is ~0.8/√512 × |r| × |q| ≈ 0.02; the gap scored exactly
        // leaves only the caption's small remainder to estimate.
        assert!(e_plain < 0.035, "rms error {e_plain}");
        assert!(
            e_gap < e_plain / 2.0,
            "gap exact: {e_gap}, estimated: {e_plain}"
        );
        assert!(with_gap.directions_match(std::slice::from_ref(&gap)));
        assert!(!plain.directions_match(&[gap]));
        // The true best 10 are among the 50 best estimates (<1 % of the photos).
        let mut truth: Vec<(i64, f32)> = items.iter().map(|(id, v)| (*id, dot(&q, v))).collect();
        truth.sort_by(|a, b| b.1.total_cmp(&a.1));
        let best = with_gap.best(&with_gap.query(&q), 50, 2, &|_| true);
        let found = truth[..10]
            .iter()
            .filter(|t| best.iter().any(|b| b.0 == t.0))
            .count();
        assert_eq!(
            found, 10,
            "{found} of the true top 10 among the best 50 estimates"
        );
    }

    #[test]
    fn best_is_ordered_filtered_and_the_same_on_any_number_of_threads() {
        let items = cone(120_000, 64, 3);
        let s = Sketches::build(64, &items);
        let q = s.query(&items[5].1);
        let one = s.best(&q, 50, 1, &|_| true);
        let two = s.best(&q, 50, 2, &|_| true);
        assert_eq!(one, two);
        assert_eq!(one.len(), 50);
        assert!(one.windows(2).all(|w| w[0].1 >= w[1].1));
        assert_eq!(one[0].0, 6, "a stored vector is its own best match");
        let odd = s.best(&q, 50, 2, &|id| id % 2 == 1);
        assert!(odd.iter().all(|(id, _)| id % 2 == 1));
        assert!(s.best(&q, 0, 2, &|_| true).is_empty());
        // With a job beside the scan: the same best (in no order), and the job's answer.
        for threads in [1, 2, 3] {
            let (mut beside, answer) = s.best_beside(&q, 50, threads, &|_| true, || 42);
            beside.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            assert_eq!((beside, answer), (one.clone(), 42), "{threads} threads");
        }
        assert_eq!(s.best_beside(&q, 0, 2, &|_| true, || 7), (Vec::new(), 7));
    }

    #[test]
    fn sketches_grown_a_batch_at_a_time_are_centred_like_built_ones() {
        let items = cone(5000, 128, 21);
        let vector_of = |id: i64| Some(items[id as usize - 1].1.clone());
        let mut grown = Sketches::new(128);
        for chunk in items.chunks(100) {
            for (id, v) in chunk {
                grown.insert(*id, v);
            }
            if grown.wants_centre_after(chunk.len()) {
                grown.recentre(vector_of);
            }
        }
        assert!(grown.centred_on >= 2500, "centred on {}", grown.centred_on);
        let built = Sketches::build(128, &items);
        let rms = |s: &Sketches| {
            let mut e2 = 0f32;
            for (_, q) in items.iter().step_by(500) {
                let est = s.estimates(&s.query(q));
                for ((_, v), e) in items.iter().zip(&est) {
                    e2 += (e - dot(q, v)).powi(2);
                }
            }
            (e2 / (10 * items.len()) as f32).sqrt()
        };
        let (g, b) = (rms(&grown), rms(&built));
        assert!(g < b * 1.1 + 1e-3, "grown {g}, built {b}");
        // Without a centre the cone's shared axis swamps the signs.
        let mut uncentred = Sketches::new(128);
        for (id, v) in &items {
            uncentred.insert(*id, v);
        }
        assert!(
            rms(&uncentred) > 1.2 * b,
            "uncentred {}, built {b}",
            rms(&uncentred)
        );
    }

    #[test]
    fn insert_replace_and_remove_keep_slots_and_ids_in_step() {
        let items = cone(100, 96, 5);
        let mut s = Sketches::build(96, &items[..50]);
        for (id, v) in &items[50..] {
            s.insert(*id, v);
        }
        s.insert(3, &items[90].1);
        assert_eq!(s.len(), 100);
        s.remove(1);
        s.remove(1);
        s.remove(100);
        assert_eq!(s.len(), 98);
        assert!(!s.contains(1) && s.contains(50));
        let best = s.best(&s.query(&items[90].1), 2, 1, &|_| true);
        let ids: Vec<i64> = best.iter().map(|b| b.0).collect();
        assert!(ids.contains(&3) && ids.contains(&91), "{ids:?}");
        s.insert(7, &[1.0; 5]);
        assert_eq!(s.len(), 98, "a vector of another width is ignored");
    }

    #[test]
    fn a_saved_file_reopens_only_with_its_index_and_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sketch");
        let items = cone(500, 128, 11);
        let mut s = Sketches::build(128, &items);
        let direction = items[3].1.clone();
        s.set_directions(std::slice::from_ref(&direction), |id| {
            Some(items[id as usize - 1].1.clone())
        });
        s.save(&path, "blake3:aa").unwrap();
        let back = Sketches::open(&path, 128, "blake3:aa").unwrap();
        assert!(back.directions_match(&[direction]), "directions are kept");
        let q = items[9].1.clone();
        assert_eq!(
            back.estimates(&back.query(&q)),
            s.estimates(&s.query(&q)),
            "the same estimates, the exact components included"
        );
        assert_eq!(
            back.best(&back.query(&q), 10, 1, &|_| true),
            s.best(&s.query(&q), 10, 1, &|_| true)
        );
        // The file holds each code whole, whichever layout saved it or reads it.
        let mut flat = s.clone();
        flat.set_interleaved(!s.interleaved);
        let other = dir.path().join("flat.sketch");
        flat.save(&other, "blake3:aa").unwrap();
        assert_eq!(
            std::fs::read(&other).unwrap(),
            std::fs::read(&path).unwrap()
        );
        let back = Sketches::open(&other, 128, "blake3:aa").unwrap();
        assert_eq!(back.estimates(&back.query(&q)), s.estimates(&s.query(&q)));
        assert!(
            Sketches::open(&path, 128, "blake3:bb").is_err(),
            "another index"
        );
        assert!(
            Sketches::open(&path, 256, "blake3:aa").is_err(),
            "another width"
        );
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            Sketches::open(&path, 128, "blake3:aa").is_err(),
            "a flipped bit"
        );
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(Sketches::open(&path, 128, "blake3:aa").is_err(), "torn");
        assert!(Sketches::open(&dir.path().join("none"), 128, "blake3:aa").is_err());
    }

    #[test]
    fn every_kernel_sums_the_query_levels_over_the_set_bits() {
        let mut r = rng(4);
        let mut byte = || ((r() + 0.5) * 256.0).clamp(0.0, 255.0) as u8;
        let top = (1u8 << QUERY_BITS) - 1;
        // 600 bytes (4,800 coordinates) passes a lane's flush; all ones at the top level
        // sums past what 16 bits hold.
        for (bytes, full) in [
            (64, false),
            (128, false),
            (8, false),
            (600, false),
            (600, true),
        ] {
            let slots = 3 * BLOCK;
            // Slot by slot, then interleaved.
            let whole: Vec<u8> = (0..slots * bytes)
                .map(|_| if full { 255 } else { byte() })
                .collect();
            let mut interleaved = vec![0u8; slots * bytes];
            for s in 0..slots {
                for b in 0..bytes {
                    interleaved[s / BLOCK * BLOCK * bytes + b * BLOCK + s % BLOCK] =
                        whole[s * bytes + b];
                }
            }
            let levels: Vec<u8> = (0..bytes * 8)
                .map(|_| if full { top } else { byte() % (top + 1) })
                .collect();
            let want: Vec<u32> = (0..slots)
                .map(|s| {
                    (0..bytes * 8)
                        .filter(|i| whole[s * bytes + i / 8] >> (i % 8) & 1 == 1)
                        .map(|i| u32::from(levels[i]))
                        .sum()
                })
                .collect();
            let words = bytes / 8;
            let mut planes = vec![0u64; QUERY_BITS * words];
            for (i, level) in levels.iter().enumerate() {
                for j in 0..QUERY_BITS {
                    if level >> j & 1 == 1 {
                        planes[j * words + i / 64] |= 1 << (i % 64);
                    }
                }
            }
            let t = tables(&levels);
            let run = |kernel: &dyn Fn(&mut [u32])| {
                let mut out = vec![7; slots];
                kernel(&mut out);
                out
            };
            assert_eq!(run(&|o| weigh_portable(&interleaved, &t, bytes, o)), want);
            assert_eq!(run(&|o| weigh(&interleaved, &t, bytes, o)), want);
            assert_eq!(
                run(&|o| popcounts_portable(&whole, &planes, words, o)),
                want
            );
            assert_eq!(run(&|o| popcounts(&whole, &planes, words, o)), want);
        }
    }

    #[test]
    fn both_layouts_estimate_the_same_after_moves_and_removals() {
        // Over two blocks, so that removals move codes between blocks and empty the last.
        let items = cone(2 * BLOCK + 5, 96, 8);
        for interleaved in [true, false] {
            let mut s = Sketches::build(96, &items);
            s.set_interleaved(interleaved);
            for id in [1, 40, 7, 69, 68, 67, 66, 65, 64, 33] {
                s.remove(id);
            }
            assert_eq!(s.len(), items.len() - 10);
            assert_eq!(
                s.codes.len(),
                2 * BLOCK * s.bytes,
                "an emptied block is dropped"
            );
            let mut fresh = s.clone();
            fresh.rescore(|id| Some(items[id as usize - 1].1.clone()));
            let mut other = s.clone();
            other.set_interleaved(!interleaved);
            assert_eq!(fresh.ids().collect::<Vec<_>>(), s.ids().collect::<Vec<_>>());
            for q in [&items[3].1, &items[50].1] {
                let estimates = s.estimates(&s.query(q));
                assert_eq!(estimates, fresh.estimates(&fresh.query(q)));
                assert_eq!(estimates, other.estimates(&other.query(q)));
            }
        }
    }
}
