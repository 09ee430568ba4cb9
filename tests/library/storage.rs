//! The storage layer on its own (no encoder, no ONNX Runtime): the catalog's schema, migrations,
//! constraints, path bytes, batch atomicity and status counts, and the USearch vector index's
//! search quality, atomic save, and refusal to trust a stale, torn or garbage file.

use glimpse_library::catalog::{bytes_path, path_bytes, Catalog, CatalogError, Source};
use glimpse_library::pipeline::Outcome;
use glimpse_library::prepare::content_hash;
use glimpse_library::vectors::{Saved, Staleness, VectorError, VectorIndex};
use glimpse_library::{Library, RebuildStage, Rebuilding};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A small deterministic generator (the crate has no `rand`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Roughly N(0, 1): the sum of 12 uniforms minus 6.
    fn normal(&mut self) -> f32 {
        (0..12).map(|_| self.uniform()).sum::<f32>() - 6.0
    }
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn random_unit(rng: &mut Rng, dim: usize) -> Vec<f32> {
    normalise((0..dim).map(|_| rng.normal()).collect())
}

/// `n` unit vectors around `clusters` random centres (CLIP embeddings of a photo library cluster
/// by subject), spread so that neighbours inside a cluster are close but not identical.
fn clustered(rng: &mut Rng, n: usize, clusters: usize, dim: usize) -> Vec<Vec<f32>> {
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| random_unit(rng, dim)).collect();
    (0..n)
        .map(|i| {
            let c = &centres[i % clusters];
            normalise(c.iter().map(|x| x + 0.06 * rng.normal()).collect())
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn encoded(photo_id: i64, seed: u8, vector: Vec<f32>) -> Outcome {
    crate::common::encoded(photo_id, content_hash(&[seed; 16]), vector)
}

fn failed(photo_id: i64, reason: &str) -> Outcome {
    Outcome::Failed {
        photo_id,
        reason: reason.into(),
        vanished: false,
    }
}

/// A catalog with one root and `n` pending files `<root>/<i>.jpg`; returns their ids.
fn catalog_with_files(dir: &Path, n: usize) -> (Catalog, i64, Vec<i64>) {
    let mut cat = Catalog::open(dir).unwrap();
    let root = cat.add_root(&dir.join("photos")).unwrap();
    let files: Vec<(PathBuf, i64, i64, Option<String>)> = (0..n)
        .map(|i| {
            (
                dir.join("photos").join(format!("{i}.jpg")),
                1000 + i as i64,
                7,
                None,
            )
        })
        .collect();
    let ids = cat.upsert_files(root.id, &files).unwrap();
    (cat, root.id, ids)
}

fn user_version(dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("catalog.sqlite")).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn migrations_are_idempotent_on_reopen_and_keep_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, root_id, ids) = catalog_with_files(dir.path(), 3);
    let model = cat.model_id("m", 4).unwrap();
    assert_eq!(cat.integrity_check().unwrap(), "ok");
    let version = user_version(dir.path());
    assert!(version >= 1, "schema version recorded");
    drop(cat);

    for _ in 0..3 {
        let cat = Catalog::open(dir.path()).unwrap();
        assert_eq!(user_version(dir.path()), version, "no migration ran twice");
        assert_eq!(cat.integrity_check().unwrap(), "ok");
        assert_eq!(cat.model_id("m", 4).unwrap(), model, "same model row");
        assert_eq!(cat.roots().unwrap().len(), 1);
        let known = cat.known_files(root_id, model).unwrap();
        let mut got: Vec<i64> = known.values().map(|k| k.id).collect();
        got.sort_unstable();
        assert_eq!(got, ids);
    }

    // WAL is a property of the file, visible to any connection.
    let conn = rusqlite::Connection::open(dir.path().join("catalog.sqlite")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn foreign_keys_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cat, _, ids) = catalog_with_files(dir.path(), 1);
    let model = cat.model_id("m", 4).unwrap();
    // An embedding for a photo that does not exist is refused.
    let err = cat
        .commit_batch(model, &[encoded(ids[0] + 999, 1, vec![1.0, 0.0, 0.0, 0.0])])
        .unwrap_err();
    assert!(
        matches!(err, CatalogError::Sql { .. }),
        "an error with its statement: {err}"
    );
    assert!(err.to_string().contains("store vector"), "{err}");
    // An embedding for an unknown model is refused too.
    assert!(cat
        .commit_batch(model + 999, &[encoded(ids[0], 1, vec![1.0, 0.0, 0.0, 0.0])])
        .is_err());
    assert_eq!(cat.stats(model).unwrap().embeddings, 0);
}

#[test]
fn deleting_a_photo_or_its_root_cascades_to_its_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cat, _, ids) = catalog_with_files(dir.path(), 3);
    let model = cat.model_id("m", 2).unwrap();
    let batch: Vec<Outcome> = ids
        .iter()
        .map(|&id| encoded(id, id as u8, vec![1.0, 0.0]))
        .collect();
    cat.commit_batch(model, &batch).unwrap();
    assert_eq!(cat.stats(model).unwrap().embeddings, 3);

    cat.delete_photos(&ids[..1], &Default::default(), &Default::default())
        .unwrap();
    let s = cat.stats(model).unwrap();
    assert_eq!((s.photos, s.embeddings), (2, 2));

    let removed = cat.remove_root(&dir.path().join("photos")).unwrap();
    assert_eq!(
        removed.len(),
        2,
        "the ids the caller must drop from the index"
    );
    let s = cat.stats(model).unwrap();
    assert_eq!((s.photos, s.embeddings), (0, 0));
    assert!(cat.roots().unwrap().is_empty());
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_round_trip_byte_for_byte() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let mut cat = Catalog::open(dir.path()).unwrap();
    let model = cat.model_id("m", 2).unwrap();
    let raw_root = b"/media/caf\xe9 photos".as_slice(); // Latin-1 é: not UTF-8
    let root_path = PathBuf::from(OsStr::from_bytes(raw_root));
    assert!(root_path.to_str().is_none());
    let root = cat.add_root(&root_path).unwrap();
    assert_eq!(
        cat.roots().unwrap()[0].path.as_os_str().as_bytes(),
        raw_root
    );

    let file = root_path.join(OsStr::from_bytes(b"\xff\xfe party.jpg"));
    let lossy_twin = PathBuf::from(file.to_string_lossy().into_owned());
    assert_ne!(path_bytes(&file), path_bytes(&lossy_twin));
    let ids = cat
        .upsert_files(
            root.id,
            &[
                (file.clone(), 10, 1, None),
                (lossy_twin.clone(), 10, 1, None),
            ],
        )
        .unwrap();
    assert_ne!(ids[0], ids[1], "a name and its lossy twin are two photos");
    let known = cat.known_files(root.id, model).unwrap();
    assert!(known.contains_key(&path_bytes(&file)));
    assert_eq!(bytes_path(&path_bytes(&file)), file);

    cat.commit_batch(model, &[encoded(ids[0], 1, vec![0.0, 1.0])])
        .unwrap();
    let with_paths = cat.embeddings_with_paths(model).unwrap();
    assert_eq!(with_paths.len(), 1);
    assert_eq!(with_paths[0].0, file);
}

#[test]
fn an_error_mid_batch_leaves_nothing_of_that_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cat, root_id, ids) = catalog_with_files(dir.path(), 3);
    let model = cat.model_id("m", 2).unwrap();
    let before = cat.known_files(root_id, model).unwrap();
    let batch = vec![
        encoded(ids[0], 1, vec![1.0, 0.0]),
        failed(ids[1], "not an image"),
        encoded(-5, 2, vec![0.0, 1.0]), // no such photo: the foreign key fails here
        encoded(ids[2], 3, vec![0.0, 1.0]),
    ];
    assert!(cat.commit_batch(model, &batch).is_err());
    let s = cat.stats(model).unwrap();
    assert_eq!(
        s.embeddings, 0,
        "the vector before the error was rolled back"
    );
    assert_eq!(s.failed, 0, "the failure before the error was rolled back");
    assert_eq!(s.pending, 3);
    assert_eq!(cat.known_files(root_id, model).unwrap(), before);
    assert!(cat.hashes_with_vector(model).unwrap().is_empty());

    // The same batch without the bad row commits whole.
    let good: Vec<Outcome> = batch
        .into_iter()
        .filter(|o| !matches!(o, Outcome::Encoded { photo_id: -5, .. }))
        .collect();
    let added = cat.commit_batch(model, &good).unwrap();
    assert_eq!(added.len(), 2);
    let s = cat.stats(model).unwrap();
    assert_eq!((s.indexed, s.failed, s.pending, s.embeddings), (2, 1, 0, 2));
}

#[test]
fn a_copy_is_found_by_content_hash_and_reuses_the_vector() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cat, root_id, ids) = catalog_with_files(dir.path(), 2);
    let model = cat.model_id("m", 3).unwrap();
    let v = normalise(vec![1.0, 2.0, 3.0]);
    cat.commit_batch(model, &[encoded(ids[0], 7, v.clone())])
        .unwrap();

    let hashes = cat.hashes_with_vector(model).unwrap();
    let hash = content_hash(&[7; 16]);
    assert_eq!(hashes.get(&hash), Some(&Source::Photo(ids[0])));
    assert!(!hashes.contains_key(&content_hash(&[8; 16])));

    let added = cat
        .commit_batch(
            model,
            &[Outcome::Reused {
                photo_id: ids[1],
                hash,
                same_as: Source::Photo(ids[0]),
            }],
        )
        .unwrap();
    // As stored (packed), bit for bit.
    let stored = cat
        .embeddings(model)
        .unwrap()
        .into_iter()
        .find(|(id, _)| *id == ids[0])
        .unwrap()
        .1;
    assert_eq!(
        added,
        vec![(ids[1], stored)],
        "the vector is copied bit for bit"
    );
    let known = cat.known_files(root_id, model).unwrap();
    assert!(known
        .values()
        .all(|k| k.has_vector && k.status == "indexed"));
    let s = cat.stats(model).unwrap();
    assert_eq!(
        cat.max_encodes(model).unwrap(),
        1,
        "a reuse is not an encode"
    );
    assert_eq!(s.embeddings, 2);

    // A different model sees no vectors and no reusable hashes.
    let other = cat.model_id("other", 3).unwrap();
    assert!(cat.hashes_with_vector(other).unwrap().is_empty());
    assert_eq!(cat.stats(other).unwrap().indexed, 0);
}

#[test]
fn a_changed_file_goes_back_to_pending_and_loses_its_vector() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cat, root_id, ids) = catalog_with_files(dir.path(), 1);
    let model = cat.model_id("m", 2).unwrap();
    cat.commit_batch(model, &[encoded(ids[0], 1, vec![1.0, 0.0])])
        .unwrap();
    let path = dir.path().join("photos").join("0.jpg");
    let again = cat.upsert_files(root_id, &[(path, 2000, 9, None)]).unwrap();
    assert_eq!(again, ids, "same path, same row");
    let k = &cat.known_files(root_id, model).unwrap()
        [&path_bytes(&dir.path().join("photos").join("0.jpg"))];
    assert_eq!(
        (k.size, k.mtime_ns, k.status.as_str()),
        (2000, 9, "pending")
    );
    assert!(!k.has_vector);
    assert!(cat.hashes_with_vector(model).unwrap().is_empty());
}

#[test]
fn status_counts_group_failure_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cat, root_id, ids) = catalog_with_files(dir.path(), 8);
    let model = cat.model_id("m", 2).unwrap();
    let unsupported = cat
        .upsert_files(
            root_id,
            &[(
                dir.path().join("photos").join("x.heic"),
                5,
                5,
                Some("heic".into()),
            )],
        )
        .unwrap();
    cat.commit_batch(
        model,
        &[
            encoded(ids[0], 1, vec![1.0, 0.0]),
            failed(ids[1], "truncated"),
            failed(ids[2], "truncated"),
            failed(ids[3], "truncated"),
            failed(ids[4], "not an image"),
            Outcome::Failed {
                photo_id: ids[5],
                reason: "vanished".into(),
                vanished: true,
            },
        ],
    )
    .unwrap();
    let s = cat.stats(model).unwrap();
    assert_eq!(s.photos, 9);
    assert_eq!(s.indexed, 1);
    assert_eq!(s.failed, 4);
    assert_eq!(s.missing, 1, "a vanished file is missing, not failed");
    assert_eq!(s.pending, 2);
    assert_eq!(s.unsupported, 1);
    assert_eq!(unsupported.len(), 1);
    assert_eq!(
        s.failures,
        vec![
            ("truncated".to_string(), 3),
            ("not an image".to_string(), 1),
            ("unsupported format: heic".to_string(), 1),
        ],
        "most common first, then by reason"
    );
}

#[test]
fn roots_settings_and_index_state_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let cat = Catalog::open(dir.path()).unwrap();
    let a = cat.add_root(&dir.path().join("a")).unwrap();
    let again = cat.add_root(&dir.path().join("a")).unwrap();
    assert_eq!(a, again, "adding a root twice is idempotent");
    cat.add_root(&dir.path().join("b")).unwrap();
    cat.set_root_online(a.id, false).unwrap();
    let roots = cat.roots().unwrap();
    assert_eq!(roots.len(), 2);
    assert!(!roots[0].online && roots[1].online);

    assert_eq!(cat.setting("provider").unwrap(), None);
    cat.set_setting("provider", "cpu").unwrap();
    cat.set_setting("provider", "cuda").unwrap();
    assert_eq!(cat.setting("provider").unwrap().as_deref(), Some("cuda"));

    let model = cat.model_id("m", 512).unwrap();
    assert_eq!(cat.models().unwrap(), vec![("m".to_string(), 512)]);
    assert_eq!(cat.index_state(model).unwrap(), None);
    let saved = Saved {
        count: 12,
        checksum: "ab".repeat(32),
    };
    cat.set_index_state(model, &saved).unwrap();
    assert_eq!(cat.index_state(model).unwrap(), Some(saved));
}

#[test]
fn the_nearest_vector_is_exact_on_a_small_set() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let data: Vec<Vec<f32>> = (0..100).map(|_| random_unit(&mut rng, 64)).collect();
    let mut ix = VectorIndex::new(64).unwrap();
    for (i, v) in data.iter().enumerate() {
        ix.add(i as i64 + 1, v).unwrap();
    }
    for (i, v) in data.iter().enumerate() {
        let hits = ix.search(v, 5).unwrap();
        assert_eq!(hits[0].0, i as i64 + 1);
        assert!(
            (hits[0].1 - 1.0).abs() < 1e-3,
            "cosine of itself {}",
            hits[0].1
        );
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        // Scores are cosine similarities (1 - distance) of the i8 rows: within a few thousandths.
        for (id, score) in &hits {
            let exact = dot(v, &data[*id as usize - 1]);
            assert!((score - exact).abs() < 5e-3, "{score} vs {exact}");
        }
    }
    // Fewer vectors than asked for, and an empty index, are not errors.
    assert_eq!(ix.search(&data[0], 500).unwrap().len(), 100);
    assert!(VectorIndex::new(64)
        .unwrap()
        .search(&data[0], 3)
        .unwrap()
        .is_empty());
}

#[test]
fn graph_recall_at_10_on_i8_rows_is_at_least_0_99_against_brute_force() {
    let (dim, n, queries, k) = (512, 2000, 200, 10);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let data = clustered(&mut rng, n + queries, 40, dim);
    let (base, probes) = data.split_at(n);
    let ix = VectorIndex::rebuild(
        dim,
        base.iter().enumerate().map(|(i, v)| (i as i64, v.clone())),
    )
    .unwrap();
    assert_eq!(ix.len(), n);
    let mut hit = 0usize;
    for q in probes {
        let mut exact: Vec<(usize, f32)> = base.iter().map(|v| dot(q, v)).enumerate().collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let truth: HashSet<i64> = exact[..k].iter().map(|(i, _)| *i as i64).collect();
        let got = ix.search(q, k).unwrap();
        assert_eq!(got.len(), k);
        hit += got.iter().filter(|(id, _)| truth.contains(id)).count();
    }
    let recall = hit as f64 / (queries * k) as f64;
    eprintln!("HNSW (i8 rows) recall@{k} on {n} clustered {dim}-d vectors: {recall:.4}");
    assert!(recall >= 0.99, "recall@{k} = {recall}");
}

#[test]
fn a_wrong_width_vector_is_an_error_not_a_crash() {
    let mut ix = VectorIndex::new(8).unwrap();
    for bad in [&[][..], &[0.5; 7][..], &[0.5; 9][..], &[0.5; 512][..]] {
        assert!(matches!(
            ix.add(1, bad),
            Err(VectorError::Dimensions { want: 8, got }) if got == bad.len()
        ));
        assert!(matches!(
            ix.search(bad, 1),
            Err(VectorError::Dimensions { .. })
        ));
    }
    assert!(ix.is_empty());
    assert!(VectorIndex::rebuild(8, vec![(1, vec![0.1; 8]), (2, vec![0.1; 4])]).is_err());
}

#[test]
fn remove_and_replace_work_and_survive_churn_past_the_reservation() {
    let mut rng = Rng(77);
    let dim = 32;
    let mut ix = VectorIndex::new(dim).unwrap();
    for id in 1..=50 {
        ix.add(id, &random_unit(&mut rng, dim)).unwrap();
    }
    let target = random_unit(&mut rng, dim);
    ix.add(7, &target).unwrap(); // replace
    assert_eq!(ix.len(), 50);
    assert_eq!(ix.search(&target, 1).unwrap()[0].0, 7);
    ix.remove(7).unwrap();
    assert!(!ix.contains(7));
    assert_eq!(ix.len(), 49);
    assert!(ix
        .search(&target, 49)
        .unwrap()
        .iter()
        .all(|(id, _)| *id != 7));
    ix.remove(7).unwrap(); // absent: not an error
                           // Far more adds and replacements than the initial reservation of slots.
    for round in 0..3000 {
        ix.add(1000 + (round % 1500), &random_unit(&mut rng, dim))
            .unwrap();
    }
    assert_eq!(ix.len(), 49 + 1500);
}

/// A catalog holding `n` random embeddings and the index built from it, saved and recorded the
/// way the library does it.
fn saved_library(dir: &Path, n: usize, dim: usize) -> (Catalog, i64, PathBuf, Saved) {
    let (mut cat, _, ids) = catalog_with_files(dir, n);
    let model = cat.model_id("m", dim).unwrap();
    let mut rng = Rng(1234);
    let batch: Vec<Outcome> = ids
        .iter()
        .map(|&id| encoded(id, id as u8, random_unit(&mut rng, dim)))
        .collect();
    cat.commit_batch(model, &batch).unwrap();
    let mut ix = VectorIndex::rebuild(dim, cat.embeddings(model).unwrap()).unwrap();
    let path = dir.join("vectors-m.usearch");
    let saved = ix.save(&path).unwrap();
    cat.set_index_state(model, &saved).unwrap();
    (cat, model, path, saved)
}

/// The whole-file checksum the catalog records for index files (files saved now add their
/// graph structure's, which opening checks instead: `vectors::Saved`).
fn blake3_record(bytes: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(bytes).to_hex())
}

#[test]
fn save_then_open_round_trips_with_the_recorded_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, model, path, saved) = saved_library(dir.path(), 300, 64);
    assert_eq!(saved.count, 300);
    // The whole file's checksum, then its length and its graph's structure's.
    let bytes = std::fs::read(&path).unwrap();
    let whole = format!(
        "{} structure:{}:blake3:",
        blake3_record(&bytes),
        bytes.len()
    );
    assert!(saved.checksum.starts_with(&whole), "{}", saved.checksum);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left: {leftovers:?}");

    let recorded = cat.index_state(model).unwrap();
    let mut ix = VectorIndex::open(&path, 64, recorded.as_ref()).unwrap();
    assert_eq!(ix.len(), 300);
    for (id, v) in cat.embeddings(model).unwrap() {
        assert!(ix.contains(id));
        assert_eq!(ix.search(&v, 1).unwrap()[0].0, id);
    }
    // A loaded index accepts adds well past its size (it re-reserves after load).
    let mut rng = Rng(5);
    for id in 10_000..12_500 {
        ix.add(id, &random_unit(&mut rng, 64)).unwrap();
    }
    assert_eq!(ix.len(), 2800);
    // Saving again replaces the file and yields a new record.
    let resaved = ix.save(&path).unwrap();
    assert_eq!(resaved.count, 2800);
    assert_ne!(resaved.checksum, saved.checksum);
    assert_eq!(
        VectorIndex::open(&path, 64, Some(&resaved)).unwrap().len(),
        2800
    );
    // The wrong width for the model is refused, not loaded.
    assert!(matches!(
        VectorIndex::open(&path, 32, Some(&resaved)),
        Err(Staleness::Corrupt(_))
    ));
}

/// Opens like the library does: a file that is not exactly what the catalog recorded is rebuilt
/// from the catalog's embeddings.
fn open_or_rebuild(cat: &Catalog, model: i64, path: &Path, dim: usize) -> (VectorIndex, bool) {
    let recorded = cat.index_state(model).unwrap();
    match VectorIndex::open(path, dim, recorded.as_ref()) {
        Ok(ix) => (ix, false),
        Err(_) => {
            let mut ix = VectorIndex::rebuild(dim, cat.embeddings(model).unwrap()).unwrap();
            let saved = ix.save(path).unwrap();
            cat.set_index_state(model, &saved).unwrap();
            (ix, true)
        }
    }
}

/// One way to damage the saved file or its record.
type Spoil<'a> = Box<dyn Fn() + 'a>;

#[test]
fn truncated_garbage_stale_and_missing_files_are_rebuilt_from_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, model, path, saved) = saved_library(dir.path(), 200, 48);
    let good = std::fs::read(&path).unwrap();
    let probe = cat.embeddings(model).unwrap()[17].clone();

    let damage: Vec<(&str, Spoil)> = vec![
        (
            "truncated",
            Box::new(|| std::fs::write(&path, &good[..good.len() / 2]).unwrap()),
        ),
        (
            "header only",
            Box::new(|| std::fs::write(&path, &good[..64]).unwrap()),
        ),
        ("empty", Box::new(|| std::fs::write(&path, b"").unwrap())),
        (
            "garbage",
            Box::new(|| {
                let mut rng = Rng(99);
                let junk: Vec<u8> = (0..good.len()).map(|_| rng.next() as u8).collect();
                std::fs::write(&path, junk).unwrap()
            }),
        ),
        (
            "one flipped byte",
            Box::new(|| {
                let mut b = good.clone();
                let mid = b.len() / 2;
                b[mid] ^= 0x40;
                std::fs::write(&path, b).unwrap()
            }),
        ),
        ("missing", Box::new(|| std::fs::remove_file(&path).unwrap())),
        (
            "stale record",
            Box::new(|| {
                std::fs::write(&path, &good).unwrap();
                cat.set_index_state(
                    model,
                    &Saved {
                        count: saved.count - 1,
                        checksum: "0".repeat(64),
                    },
                )
                .unwrap();
            }),
        ),
    ];
    for (what, spoil) in damage {
        spoil();
        let (ix, rebuilt) = open_or_rebuild(&cat, model, &path, 48);
        assert!(rebuilt, "{what}: must not be trusted");
        assert_eq!(ix.len(), 200, "{what}");
        assert_eq!(ix.search(&probe.1, 1).unwrap()[0].0, probe.0, "{what}");
        // The rebuilt file is trusted on the next open.
        let (again, rebuilt) = open_or_rebuild(&cat, model, &path, 48);
        assert!(!rebuilt, "{what}: rebuilt file reloads");
        assert_eq!(again.len(), 200);
    }
}

#[test]
fn a_damaged_file_is_refused_even_when_its_checksum_was_recorded() {
    // Defence in depth for what USearch's loader itself checks (magic, length): if the record
    // describes a torn or foreign file, opening fails cleanly. It does not validate the graph: a
    // file with corrupted node bytes loads and then segfaults in search, so the checksum
    // comparison before loading is what keeps a damaged file out and must stay.
    let dir = tempfile::tempdir().unwrap();
    let (_cat, _model, path, saved) = saved_library(dir.path(), 200, 48);
    let good = std::fs::read(&path).unwrap();
    let mut rng = Rng(3);
    let garbage: Vec<u8> = (0..good.len()).map(|_| rng.next() as u8).collect();
    for (what, bytes) in [
        ("garbage", garbage.as_slice()),
        ("empty", &[][..]),
        ("short", &good[..10]),
        ("truncated", &good[..good.len() / 2]),
        ("body cut", &good[..good.len() - 100]),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let record = Saved {
            count: saved.count,
            checksum: blake3_record(bytes),
        };
        assert!(
            VectorIndex::open(&path, 48, Some(&record)).is_err(),
            "{what} with a matching checksum must be refused"
        );
    }
}

#[test]
fn every_embedding_change_makes_the_recorded_index_stale() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cat, model, _path, saved) = saved_library(dir.path(), 20, 16);
    assert!(cat.index_is_current(model).unwrap(), "just saved");
    let ids = cat.embedding_ids(model).unwrap();
    // A re-encoded photo (vector replaced).
    let mut rng = Rng(99);
    cat.commit_batch(model, &[encoded(ids[0], 7, random_unit(&mut rng, 16))])
        .unwrap();
    assert!(
        !cat.index_is_current(model).unwrap(),
        "after a vector changed"
    );
    cat.set_index_state(model, &saved).unwrap();
    assert!(cat.index_is_current(model).unwrap());
    // A deleted photo takes its embedding with it (foreign-key cascade fires the trigger).
    cat.delete_photos(&ids[1..2], &Default::default(), &Default::default())
        .unwrap();
    assert!(!cat.index_is_current(model).unwrap(), "after a deletion");
    cat.set_index_state(model, &saved).unwrap();
    // Another model's changes do not touch this one.
    let other = cat.model_id("other", 16).unwrap();
    cat.commit_batch(other, &[encoded(ids[2], 3, random_unit(&mut rng, 16))])
        .unwrap();
    assert!(cat.index_is_current(model).unwrap());
    assert!(!cat.index_is_current(other).unwrap(), "never recorded");
}

#[test]
fn an_opened_index_is_mapped_until_its_first_change() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, model, path, saved) = saved_library(dir.path(), 40, 16);
    let recorded = cat.index_state(model).unwrap();
    let mut ix = VectorIndex::open(&path, 16, recorded.as_ref()).unwrap();
    assert!(ix.is_mapped(), "searching needs no copy of the file");
    let (id, v) = cat.embeddings(model).unwrap().remove(3);
    assert_eq!(ix.search(&v, 1).unwrap()[0].0, id);
    // Saving an unchanged map is a no-op that reports what the file already holds.
    assert_eq!(ix.save(&path).unwrap(), saved);
    // The first change loads the file for writing; the change is then saved as usual.
    let mut rng = Rng(5);
    ix.add(10_000, &random_unit(&mut rng, 16)).unwrap();
    assert!(!ix.is_mapped());
    assert_eq!(ix.len(), 41);
    let again = ix.save(&path).unwrap();
    assert_eq!(again.count, 41);
    // A mapped file replaced behind the index's back is not loaded for writing.
    let mut ix = VectorIndex::open(&path, 16, Some(&again)).unwrap();
    let mut other = VectorIndex::open(&path, 16, Some(&again)).unwrap();
    other.add(20_000, &random_unit(&mut rng, 16)).unwrap();
    other.save(&path).unwrap();
    assert!(matches!(ix.remove(10_000), Err(VectorError::Index(_))));
    assert!(ix.is_mapped());
    assert!(matches!(
        ix.add(30_000, &random_unit(&mut rng, 16)),
        Err(VectorError::Index(_))
    ));
    // Commits held beside such a map are not saved into it, and stay held for searches.
    let held = random_unit(&mut rng, 16);
    ix.follow(vec![(40_000, held.clone())], &[]);
    assert!(matches!(ix.save(&path), Err(VectorError::Index(_))));
    assert_eq!(ix.recent_len(), 1);
    assert_eq!(ix.search(&held, 1).unwrap()[0].0, 40_000);
}

#[test]
fn commits_held_beside_a_mapped_file_are_taken_into_the_graph_by_its_save() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, model, path, _) = saved_library(dir.path(), 40, 16);
    let recorded = cat.index_state(model).unwrap();
    let mut ix = VectorIndex::open(&path, 16, recorded.as_ref()).unwrap();
    let stored = cat.embeddings(model).unwrap();
    let mut rng = Rng(8);
    let (new, replaced) = (random_unit(&mut rng, 16), random_unit(&mut rng, 16));
    ix.follow(
        vec![(50_000, new.clone()), (stored[1].0, replaced.clone())],
        &[stored[0].0],
    );
    assert!(ix.is_mapped(), "held, not yet in the graph");
    let saved = ix.save(&path).unwrap();
    assert_eq!(saved.count, 40);
    assert_eq!(ix.recent_len(), 0);
    let ix = VectorIndex::open(&path, 16, Some(&saved)).unwrap();
    assert_eq!(ix.len(), 40);
    assert!(!ix.contains(stored[0].0), "the removal is in the file");
    assert_eq!(ix.search(&new, 1).unwrap()[0].0, 50_000);
    assert_eq!(ix.search(&replaced, 1).unwrap()[0].0, stored[1].0);
    assert!(dot(&ix.get(stored[1].0).unwrap(), &replaced) > 0.99);
}

#[test]
fn a_rebuild_at_open_tells_how_far_it_has_got_and_a_loaded_open_tells_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, _, path, _) = saved_library(dir.path(), 300, 16);
    drop(cat);
    std::fs::remove_file(&path).unwrap();
    let mut told: Vec<Rebuilding> = Vec::new();
    let lib = Library::open_reporting(dir.path(), "m", 16, &mut |r| told.push(r)).unwrap();
    assert_eq!(lib.vectors_origin(), "rebuilt (missing)");
    assert!(
        told.iter().all(|r| r.why == "missing" && r.total == 300),
        "{told:?}"
    );
    let stages: Vec<RebuildStage> = told.iter().map(|r| r.stage).collect();
    assert_eq!(stages.first(), Some(&RebuildStage::Reading), "{told:?}");
    let ends: Vec<_> = told
        .iter()
        .rev()
        .take(2)
        .map(|r| (r.stage, r.done))
        .collect();
    assert_eq!(
        ends,
        [(RebuildStage::Done, 300), (RebuildStage::Saving, 300)],
        "saved, then ended: {told:?}"
    );
    let linked: Vec<usize> = told
        .iter()
        .filter(|r| r.stage == RebuildStage::Linking)
        .map(|r| r.done)
        .collect();
    assert_eq!(
        linked.last(),
        Some(&300),
        "the last count is every photo: {told:?}"
    );
    assert!(
        linked.windows(2).all(|w| w[0] < w[1]),
        "counts only grow: {linked:?}"
    );
    assert_eq!(
        stages.len(),
        linked.len() + 3,
        "reading, linking, saving, done: {stages:?}"
    );
    drop(lib);
    let mut again = 0;
    let lib = Library::open_reporting(dir.path(), "m", 16, &mut |_| again += 1).unwrap();
    assert_eq!(lib.vectors_origin(), "loaded");
    assert_eq!(again, 0, "nothing to rebuild, nothing told");
    drop(lib);
    let empty = tempfile::tempdir().unwrap();
    let lib = Library::open_reporting(empty.path(), "m", 16, &mut |_| again += 1).unwrap();
    assert_eq!(lib.vectors_origin(), "rebuilt (missing)");
    assert_eq!(
        again, 0,
        "a new library's empty index is no rebuild to announce"
    );
}

#[test]
fn a_note_on_how_a_picture_came_out_is_kept_copied_with_its_content_and_cleared_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cat, _, ids) = catalog_with_files(dir.path(), 3);
    let model = cat.model_id("m", 4).unwrap();
    let note = "decoded with warnings: Corrupt JPEG data: 3 extraneous bytes before marker 0xd9";
    let Outcome::Encoded {
        photo_id,
        hash,
        vector,
        width,
        height,
        format,
        metadata,
        ..
    } = encoded(ids[0], 1, vec![1.0, 0.0, 0.0, 0.0])
    else {
        unreachable!()
    };
    let with_note = Outcome::Encoded {
        photo_id,
        hash,
        vector,
        width,
        height,
        format,
        metadata,
        note: Some(note.into()),
    };
    let copy = Outcome::Reused {
        photo_id: ids[1],
        hash,
        same_as: Source::Photo(ids[0]),
    };
    cat.commit_batch(model, &[with_note, copy]).unwrap();
    let p = |i: usize| dir.path().join("photos").join(format!("{i}.jpg"));
    assert_eq!(
        cat.noted_files().unwrap(),
        vec![(p(0), note.to_string()), (p(1), note.to_string())]
    );
    assert_eq!(cat.stats(model).unwrap().notes, vec![(note.to_string(), 2)]);

    // A file that fails later (changed, then refused) loses the note with the picture.
    cat.commit_batch(model, &[failed(ids[1], "truncated image")])
        .unwrap();
    assert_eq!(cat.noted_files().unwrap(), vec![(p(0), note.to_string())]);
    // A plain decode clears it.
    cat.commit_batch(model, &[encoded(ids[0], 1, vec![1.0, 0.0, 0.0, 0.0])])
        .unwrap();
    assert!(cat.noted_files().unwrap().is_empty());
    assert!(cat.stats(model).unwrap().notes.is_empty());
}
