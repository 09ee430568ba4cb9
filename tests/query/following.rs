//! A reader (the window's searching handle) answers from every batch the indexer commits, not
//! only from the vector index file it saves every few seconds: photos committed since the file
//! are found, photos removed since are never answered, on the exact path, the graph and the
//! caption sketches alike, and the next saved file takes over with the same answers.

use crate::common;
use glimpse_library::catalog::Catalog;
use glimpse_library::{Library, RebuildStage, Rebuilding};
use glimpse_query::search::{self, Request};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

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

/// Photo `id` encoded again to `vector(seed)` (its file changed), committed as a batch.
fn re_encode(cat: &mut Catalog, id: i64, seed: u64) {
    let model = cat.model_id(MODEL, DIM).unwrap();
    let hash = *blake3::hash(&seed.to_le_bytes()).as_bytes();
    cat.commit_batch(model, &[common::encoded(id, hash, vector(seed))])
        .unwrap();
}

/// What the indexer commits after a save of the 600 photos `first`: photos 600..700 added,
/// the first 50 removed and photo 100 encoded again to `vector(5_000)`; returns (added,
/// removed, changed).
fn commit_after_save(cat: &mut Catalog, photos: &Path, first: &[i64]) -> (Vec<i64>, Vec<i64>, i64) {
    let added = commit(cat, photos, 600..700);
    let gone: Vec<i64> = first[..50].to_vec();
    cat.delete_photos(&gone, &HashSet::new(), &HashSet::new())
        .unwrap();
    let changed = first[100];
    re_encode(cat, changed, 5_000);
    (added, gone, changed)
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

    // The indexer commits a batch and removes photos, and has not saved since. A photo
    // re-encoded to another vector: the new one answers, the old one does not.
    let (added, gone, changed) = commit_after_save(&mut cat, &photos, &first);

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
    Library::open(&libdir, MODEL, DIM)
        .unwrap()
        .save_vectors()
        .unwrap();
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

/// The indexer saved a new file that the reader cannot use (lost here; torn or replaced in a
/// race in life): the reader rebuilds its graph in memory from the catalog inside the search
/// that followed, and tells its watcher why and how far it has got, as an open would.
#[test]
fn a_reader_whose_next_saved_file_is_unusable_rebuilds_in_memory_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (libdir, photos) = (dir.path().join("library"), dir.path().join("photos"));
    let mut cat = Catalog::open(&libdir).unwrap();
    commit(&mut cat, &photos, 0..600);
    drop(Library::open(&libdir, MODEL, DIM).unwrap());
    let mut reader = Library::open_reader(&libdir, MODEL, DIM).unwrap();
    assert_eq!(reader.vectors_origin(), "loaded");
    let told: Arc<Mutex<Vec<Rebuilding>>> = Arc::default();
    let heard = told.clone();
    reader.watch_rebuilds(move |r| heard.lock().unwrap().push(r));

    // The indexer commits 100 more and saves; that file is gone before the reader looks.
    let added = commit(&mut cat, &photos, 600..700);
    let mut writer = Library::open(&libdir, MODEL, DIM).unwrap();
    writer.save_vectors().unwrap();
    drop(writer);
    let file = std::fs::read_dir(&libdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "usearch"))
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(told.lock().unwrap().is_empty());

    assert!(reader.refresh().unwrap(), "the new save is followed");
    assert_eq!(reader.vector_count(), 700);
    let hits = best(&reader, &vector(650), true, false);
    assert_eq!(hits.first(), Some(&added[50]), "the rebuilt graph answers");
    let told = told.lock().unwrap().clone();
    assert!(
        told.iter().all(|r| r.why == "missing" && r.total == 700),
        "{told:?}"
    );
    let stages: Vec<RebuildStage> = told.iter().map(|r| r.stage).collect();
    assert_eq!(stages.first(), Some(&RebuildStage::Reading), "{told:?}");
    assert!(stages.contains(&RebuildStage::Linking), "{told:?}");
    assert!(
        !stages.contains(&RebuildStage::Saving),
        "a reader saves nothing: {told:?}"
    );
    assert_eq!(
        told.last().map(|r| (r.stage, r.done)),
        Some((RebuildStage::Done, 700))
    );
    assert!(!reader.refresh().unwrap(), "and only once");
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

/// The indexer died after committing batches and before its next save of the vector index:
/// the next open holds those commits (removals, a replaced vector, new photos, a photo removed
/// and added again) beside the saved file, as a reader does, instead of rebuilding the whole
/// graph (minutes at a million photos), and its first change takes them into the file. Every
/// step answers as an index rebuilt from the catalog does.
#[test]
fn a_writer_opened_after_commits_without_a_save_holds_them_until_its_next_save() {
    let dir = tempfile::tempdir().unwrap();
    let (libdir, photos) = (dir.path().join("library"), dir.path().join("photos"));
    let mut cat = Catalog::open(&libdir).unwrap();
    let first = commit(&mut cat, &photos, 0..600);
    let lib = Library::open(&libdir, MODEL, DIM).unwrap();
    assert_eq!(lib.vectors_origin(), "rebuilt (missing)");
    drop(lib);

    // What the indexer committed after that save before it died.
    let (added, gone, changed) = commit_after_save(&mut cat, &photos, &first);
    let model = cat.model_id(MODEL, DIM).unwrap();
    let again = added[0];
    cat.delete_photos(&[again], &HashSet::new(), &HashSet::new())
        .unwrap();
    let back = commit(&mut cat, &photos, 600..601);

    let queries: Vec<Vec<f32>> = (0..20).map(|j| vector(20_000 + j)).collect();
    let answers = |lib: &Library| -> Vec<Vec<i64>> {
        let mut out = Vec::new();
        for q in &queries {
            for graph in [false, true] {
                for caption in [false, true] {
                    out.push(best(lib, q, graph, caption));
                }
            }
        }
        out
    };
    // Every stored vector is held (as a row of the graph or beside it), nothing else is.
    let holds_the_catalog = |lib: &Library, cat: &Catalog| {
        let stored = cat.embeddings(model).unwrap();
        assert_eq!(lib.vector_count(), stored.len());
        for (id, v) in &stored {
            let row = lib
                .vectors()
                .get(*id)
                .unwrap_or_else(|| panic!("photo {id} missing"));
            assert!(common::cosine(&row, v) > 0.999, "photo {id}'s row");
        }
        for id in &gone {
            assert!(!lib.vectors().contains(*id), "removed photo {id} held");
        }
        let row = lib.vectors().get(changed).unwrap();
        assert!(
            common::cosine(&row, &vector(100)) < 0.5,
            "the old vector kept"
        );
        assert_eq!(best(lib, &vector(600), true, false).first(), back.first());
    };

    let lib = Library::open(&libdir, MODEL, DIM).unwrap();
    let held = lib.vectors_origin().to_string();
    assert!(held.starts_with("loaded, with "), "{held}");
    assert!(lib.vectors().is_mapped(), "the file is not loaded to open");
    assert!(lib.vectors().recent_len() > 0);
    assert_eq!(cat.embeddings(model).unwrap().len(), 600 - 50 + 100);
    holds_the_catalog(&lib, &cat);
    let before = answers(&lib);
    drop(lib);
    // Nothing was saved: the next open holds the same commits again.
    let lib = Library::open(&libdir, MODEL, DIM).unwrap();
    assert_eq!(lib.vectors_origin(), held);
    assert_eq!(answers(&lib), before);
    drop(lib);

    // The first change (a photo whose file is gone) takes them into the graph and saves.
    let mut lib = Library::open(&libdir, MODEL, DIM).unwrap();
    let forgotten = first[200];
    assert_eq!(lib.forget_gone(&[forgotten]).unwrap(), 1);
    assert_eq!(lib.vectors().recent_len(), 0);
    assert!(
        cat.index_is_current(model).unwrap(),
        "the new file is recorded"
    );
    holds_the_catalog(&lib, &cat);
    let after = answers(&lib);
    for (was, now) in before.iter().zip(&after) {
        let was: Vec<i64> = was.iter().copied().filter(|id| *id != forgotten).collect();
        assert!(now.starts_with(&was), "{was:?} then {now:?}");
    }
    drop(lib);

    let lib = Library::open(&libdir, MODEL, DIM).unwrap();
    assert_eq!(lib.vectors_origin(), "loaded", "the saved file is trusted");
    holds_the_catalog(&lib, &cat);
    assert_eq!(answers(&lib), after);
    drop(lib);

    std::fs::remove_file(libdir.join(format!("vectors-{MODEL}.usearch"))).unwrap();
    let lib = Library::open(&libdir, MODEL, DIM).unwrap();
    assert_eq!(lib.vectors_origin(), "rebuilt (missing)");
    assert_eq!(answers(&lib), after, "the same as an index rebuilt afresh");
}

/// A vector replaced after the save (the photo's file changed and was encoded again) leaves the
/// file's ids equal to the catalog's: the open still holds the new vector, not the file's row.
#[test]
fn a_vector_replaced_after_the_save_is_held_though_the_ids_match() {
    let dir = tempfile::tempdir().unwrap();
    let (libdir, photos) = (dir.path().join("library"), dir.path().join("photos"));
    let mut cat = Catalog::open(&libdir).unwrap();
    let ids = commit(&mut cat, &photos, 0..100);
    drop(Library::open(&libdir, MODEL, DIM).unwrap());
    re_encode(&mut cat, ids[7], 9_000);

    let lib = Library::open(&libdir, MODEL, DIM).unwrap();
    assert_eq!(
        lib.vectors_origin(),
        "loaded, with 1 written and 0 removed since its last save held beside it"
    );
    let row = lib.vectors().get(ids[7]).unwrap();
    assert!(common::cosine(&row, &vector(9_000)) > 0.999);
    assert_eq!(
        best(&lib, &vector(9_000), true, false).first(),
        Some(&ids[7])
    );
    assert!(!best(&lib, &vector(7), true, false).contains(&ids[7]));
}
