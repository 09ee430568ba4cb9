//! A reader (the window's searching handle) answers from every batch the indexer commits, not
//! only from the vector index file it saves every few seconds: photos committed since the file
//! are found, photos removed since are never answered, on the exact path, the graph and the
//! caption sketches alike, and the next saved file takes over with the same answers.

use crate::common;
use glimpse_library::catalog::Catalog;
use glimpse_library::Library;
use glimpse_query::search::{self, Request};
use std::collections::HashSet;
use std::path::Path;

const DIM: usize = 64;
const MODEL: &str = "synthetic-64";

/// A unit vector of its own for every seed.
fn vector(seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7);
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 20_001) as f32 / 10_000.0 - 1.0
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Commits photos `range` (vector `vector(i)`) under `photos/` as one batch, the way the
/// indexer's commit thread does, without saving any vector index; returns their ids.
fn commit(cat: &mut Catalog, photos: &Path, range: std::ops::Range<u64>) -> Vec<i64> {
    let model = cat.model_id(MODEL, DIM).unwrap();
    common::commit_vectors(cat, model, photos, range.map(|i| (i, vector(i))))
}

/// The best photo for `q` through `search::nearest`, exactly (`exact_max` high) or through
/// the graph (`exact_max` 0), and through the caption sketches when `caption`.
fn best(lib: &Library, q: &[f32], graph: bool, caption: bool) -> Vec<i64> {
    let req = Request {
        exact_max: if graph { 0 } else { usize::MAX },
        caption: caption.then(|| vector(999_999)),
        ..Request::new(5)
    };
    search::nearest(lib, q, &req)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.photo.id)
        .collect()
}

#[test]
fn a_reader_answers_from_every_committed_batch_and_never_from_removed_photos() {
    let dir = tempfile::tempdir().unwrap();
    let (libdir, photos) = (dir.path().join("library"), dir.path().join("photos"));
    let mut cat = Catalog::open(&libdir).unwrap();
    let first = commit(&mut cat, &photos, 0..600);
    // The writer saves an index file of those 600 (it rebuilds at open: none was saved).
    drop(Library::open(&libdir, MODEL, DIM).unwrap());
    let mut reader = Library::open_reader(&libdir, MODEL, DIM).unwrap();
    assert_eq!(reader.vector_count(), 600);
    assert!(!reader.refresh().unwrap(), "nothing changed");

    // The indexer commits a batch and removes photos, and has not saved since.
    let added = commit(&mut cat, &photos, 600..700);
    let gone: Vec<i64> = first[..50].to_vec();
    cat.delete_photos(&gone, &HashSet::new(), &HashSet::new())
        .unwrap();
    // A photo re-encoded to another vector: the new one answers, the old one does not.
    let changed = first[100];
    let model = cat.model_id(MODEL, DIM).unwrap();
    let hash = *blake3::hash(b"changed").as_bytes();
    cat.commit_batch(model, &[common::encoded(changed, hash, vector(5_000))])
        .unwrap();

    assert!(reader.refresh().unwrap(), "the commits are followed");
    assert!(!reader.refresh().unwrap(), "and only once");
    assert_eq!(reader.vector_count(), 600 - 50 + 100);
    for graph in [false, true] {
        for caption in [false, true] {
            let how = format!("graph {graph}, caption {caption}");
            for (k, id) in added.iter().enumerate().step_by(9) {
                let hits = best(&reader, &vector(600 + k as u64), graph, caption);
                assert_eq!(hits.first(), Some(id), "a new photo finds itself ({how})");
            }
            for (k, id) in gone.iter().enumerate() {
                let hits = best(&reader, &vector(k as u64), graph, caption);
                assert!(!hits.contains(id), "removed photo {id} answered ({how})");
            }
            let hits = best(&reader, &vector(5_000), graph, caption);
            assert_eq!(
                hits.first(),
                Some(&changed),
                "the new vector answers ({how})"
            );
            let hits = best(&reader, &vector(100), graph, caption);
            assert!(!hits.contains(&changed), "the old vector does not ({how})");
        }
    }
    let q = vector(123_456);
    let before: Vec<Vec<i64>> = [false, true]
        .iter()
        .map(|g| best(&reader, &q, *g, false))
        .collect();

    // The indexer's next save: the reader loads that file and holds nothing beside it.
    drop(Library::open(&libdir, MODEL, DIM).unwrap());
    assert!(reader.refresh().unwrap());
    assert_eq!(reader.vectors().recent_len(), 0);
    assert_eq!(reader.vector_count(), 650);
    let after: Vec<Vec<i64>> = [false, true]
        .iter()
        .map(|g| best(&reader, &q, *g, false))
        .collect();
    assert_eq!(
        after[0], before[0],
        "the exact answer is the same from the file"
    );
    assert_eq!(after[1].first(), before[1].first());
    for (k, id) in gone.iter().enumerate() {
        assert!(!best(&reader, &vector(k as u64), true, false).contains(id));
    }
    // A photo removed after that file and added again under the same id is answered.
    let again = added[0];
    cat.delete_photos(&[again], &HashSet::new(), &HashSet::new())
        .unwrap();
    assert!(reader.refresh().unwrap());
    assert!(!best(&reader, &vector(600), false, false).contains(&again));
    let back = commit(&mut cat, &photos, 600..601);
    assert!(reader.refresh().unwrap());
    assert_eq!(
        best(&reader, &vector(600), true, false).first(),
        back.first()
    );
}

#[test]
fn a_reader_opened_during_a_first_index_sees_each_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (libdir, photos) = (dir.path().join("library"), dir.path().join("photos"));
    let mut cat = Catalog::open(&libdir).unwrap();
    cat.model_id(MODEL, DIM).unwrap();
    // No index file has been saved yet: the window opens while the first batches land.
    let mut reader = Library::open_reader(&libdir, MODEL, DIM).unwrap();
    assert_eq!(reader.vector_count(), 0);
    let mut seen = 0;
    for batch in 0..4u64 {
        let ids = commit(&mut cat, &photos, batch * 16..batch * 16 + 16);
        assert!(reader.refresh().unwrap());
        seen += 16;
        assert_eq!(reader.vector_count(), seen);
        let hits = best(&reader, &vector(batch * 16 + 3), false, false);
        assert_eq!(hits.first(), Some(&ids[3]), "batch {batch} answers at once");
    }
}
