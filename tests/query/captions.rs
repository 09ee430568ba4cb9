//! Captions in a large library: the sketches find the true best photos (recall@10 against
//! exact f32 search) on both synthetic generators, and a library whose sketches are missing,
//! torn or older than its vector index opens, rebuilds them and answers the same.

#[path = "../../benches/space/mod.rs"]
pub(crate) mod space;

use crate::common;
use glimpse_library::catalog::Catalog;
use glimpse_library::vectors::sketch_path;
use glimpse_library::Library;
use glimpse_query::search::{self, Request};
use space::{Kind, Space, DIM};
use std::path::{Path, PathBuf};

/// A library of photos `0..n` of `space` (ids `1..=n`), with its vector index and sketches.
fn library(dir: &Path, space: &Space, n: usize) -> PathBuf {
    let libdir = dir.join("library");
    let photos = dir.join("photos");
    let mut cat = Catalog::open(&libdir).unwrap();
    let model = cat.model_id("synthetic-512", DIM).unwrap();
    for start in (0..n).step_by(5000) {
        let end = (start + 5000).min(n);
        common::commit_vectors(
            &mut cat,
            model,
            &photos,
            (start..end).map(|i| (i as u64, space.photo(i))),
        );
    }
    libdir
}

/// The direction captions share in a synthetic space: the mean of calibration captions that
/// are not among the measured queries.
fn gap(space: &Space) -> Vec<f32> {
    let calib: Vec<Vec<f32>> = (0..64)
        .map(|j| space.text_query(j * 104_729 + 17, 1_000_003 + j as u64))
        .collect();
    glimpse_clip::embedding::mean_direction(&calib).unwrap()
}

/// Photos in the libraries the recall tests search: as many as `Request::exact_max` scores
/// exactly, so the tests turn that off.
pub(crate) const LARGE: usize = 20_000;

/// A [`LARGE`] library of `kind`, opened, with its space (the folder lives as long as the
/// returned `TempDir`).
pub(crate) fn large_library(kind: Kind) -> (tempfile::TempDir, Space, Library) {
    let dir = tempfile::tempdir().unwrap();
    let space = Space::new(kind, LARGE);
    let libdir = library(dir.path(), &space, LARGE);
    let lib = Library::open(&libdir, "synthetic-512", DIM).unwrap();
    assert_eq!(lib.vector_count(), LARGE);
    (dir, space, lib)
}

fn caption_recall(kind: Kind) -> f64 {
    let (_dir, space, lib) = large_library(kind);
    let n = LARGE;
    let queries: Vec<Vec<f32>> = (0..60).map(|i| space.query(i)).collect();
    let truth = space::exact_truth(&space, n, &queries, 10);
    let req = Request {
        caption: Some(gap(&space)),
        // 20k photos would be scored exactly; this test is about the sketches.
        exact_max: 0,
        ..Request::new(10)
    };
    let mut total = 0.0;
    for (q, truth) in queries.iter().zip(&truth) {
        let page = search::nearest(&lib, q, &req).unwrap();
        assert!(!page.exact, "searched through the sketches, not exactly");
        let got: Vec<i64> = page.hits.iter().map(|h| h.photo.id).collect();
        total += space::recall(&got, truth);
    }
    total / queries.len() as f64
}

#[test]
fn captions_find_the_true_best_photos_on_the_tuned_generator() {
    let r = caption_recall(Kind::Even);
    assert!(r >= 0.98, "recall@10 {r:.4} on generator 1");
}

#[test]
fn captions_find_the_true_best_photos_on_the_held_out_generator() {
    let r = caption_recall(Kind::Zipf);
    assert!(r >= 0.98, "recall@10 {r:.4} on generator 2");
}

#[test]
fn missing_torn_or_older_sketches_are_rebuilt_and_answer_the_same() {
    let n = 3000;
    let dir = tempfile::tempdir().unwrap();
    let space = Space::new(Kind::Even, n);
    let libdir = library(dir.path(), &space, n);
    let req = Request {
        caption: Some(gap(&space)),
        exact_max: 0,
        ..Request::new(10)
    };
    let q = space.query(3);
    let ids = |lib: &Library| -> Vec<i64> {
        let page = search::nearest(lib, &q, &req).unwrap();
        page.hits.iter().map(|h| h.photo.id).collect()
    };
    let lib = Library::open(&libdir, "synthetic-512", DIM).unwrap();
    let want = ids(&lib);
    assert_eq!(want.len(), 10);
    drop(lib);
    let sketches = sketch_path(&libdir.join("vectors-synthetic-512.usearch"));
    assert!(sketches.is_file(), "saved beside the vector index");
    let good = std::fs::read(&sketches).unwrap();

    // Missing (a crash before the first save of the sketches).
    std::fs::remove_file(&sketches).unwrap();
    let lib = Library::open(&libdir, "synthetic-512", DIM).unwrap();
    assert_eq!(ids(&lib), want);
    drop(lib);
    assert!(sketches.is_file(), "rebuilt and saved again");
    let lib = Library::open(&libdir, "synthetic-512", DIM).unwrap();
    assert!(
        !lib.vectors().sketches_stale(),
        "the saved sketches are trusted"
    );
    drop(lib);

    // Torn (half written) and damaged (a flipped byte).
    for bad in [good[..good.len() / 2].to_vec(), {
        let mut b = good.clone();
        b[good.len() / 3] ^= 0x10;
        b
    }] {
        std::fs::write(&sketches, &bad).unwrap();
        let lib = Library::open(&libdir, "synthetic-512", DIM).unwrap();
        assert_eq!(ids(&lib), want);
    }

    // Older than the index (a crash between saving the index and its sketches): photos were
    // added since, and the old sketches must not be trusted.
    let old = std::fs::read(&sketches).unwrap();
    {
        let mut cat = Catalog::open(&libdir).unwrap();
        let model = cat.model_id("synthetic-512", DIM).unwrap();
        let root = cat.roots().unwrap()[0].id;
        let photos = dir.path().join("photos");
        let files = vec![(photos.join("extra.jpg"), 1000, 1, None)];
        let id = cat.upsert_files(root, &files).unwrap()[0];
        // The new photo is the query's exact best.
        cat.commit_batch(model, &[common::encoded(id, [7; 32], q.clone())])
            .unwrap();
    }
    let lib = Library::open(&libdir, "synthetic-512", DIM).unwrap();
    let now = ids(&lib);
    assert_eq!(now[0], n as i64 + 1, "the new photo is found");
    drop(lib);
    std::fs::write(&sketches, &old).unwrap();
    let lib = Library::open(&libdir, "synthetic-512", DIM).unwrap();
    assert_eq!(ids(&lib), now, "old sketches were rebuilt, not trusted");
}

#[test]
fn the_caption_direction_is_recorded_and_saved_with_the_sketches() {
    let n = 2000;
    let dir = tempfile::tempdir().unwrap();
    let space = Space::new(Kind::Zipf, n);
    let libdir = library(dir.path(), &space, n);
    let g = gap(&space);
    let mut lib = Library::open(&libdir, "synthetic-512", DIM).unwrap();
    // A library scored exactly needs no direction: the text tower is not even asked.
    let mut small = Request::new(10);
    search::for_caption(&mut lib, &mut small, || panic!("not needed")).unwrap();
    assert!(small.caption.is_none());
    assert!(!lib.vectors().has_caption_direction(&g));
    // Beyond exact scoring the caption takes the sketches, and the library records it.
    let mut large = Request {
        exact_max: 100,
        ..Request::new(10)
    };
    search::for_caption(&mut lib, &mut large, || Ok(g.clone())).unwrap();
    assert_eq!(large.caption.as_deref(), Some(&g[..]));
    assert!(lib.vectors().has_caption_direction(&g));
    let req = Request {
        caption: Some(g.clone()),
        exact_max: 0,
        ..Request::new(10)
    };
    let q = space.query(5);
    let want: Vec<i64> = search::nearest(&lib, &q, &req)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.photo.id)
        .collect();
    drop(lib);
    // Another handle, a reader beside a writer, and the next writer: scored along it from the
    // saved sketches, before any search brings it.
    let writer = Library::open(&libdir, "synthetic-512", DIM).unwrap();
    assert!(writer.vectors().has_caption_direction(&g));
    let reader = Library::open_reader(&libdir, "synthetic-512", DIM).unwrap();
    assert!(reader.vectors().has_caption_direction(&g));
    let got: Vec<i64> = search::nearest(&reader, &q, &req)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.photo.id)
        .collect();
    assert_eq!(got, want);
}
