//! The cached libraries the search benchmarks run on: catalog rows and embeddings of a
//! [`Space`], and the vector index `Library::open` builds from them.

use super::{Kind, Space, DIM};
use glimpse_library::catalog::Catalog;
use glimpse_library::pipeline::Outcome;
use glimpse_library::Library;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Bump when a generator changes, so cached libraries are rebuilt.
const GENERATOR: u32 = 1;

/// Builds (once) a library of `n` synthetic photos: catalog rows and embeddings, and the
/// vector index built by `Library::open` exactly as after a crash (parallel rebuild).
pub fn library(base: &Path, n: usize, space: &Space) -> (PathBuf, Option<f64>) {
    let tag = match space.kind {
        Kind::Even => format!("g{GENERATOR}"),
        Kind::Zipf => format!("z{GENERATOR}"),
    };
    let dir = base.join(format!("search-{n}-{tag}"));
    let done = dir.join("complete");
    if done.is_file() {
        return (dir, None);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let photos = dir.join("photos");
    let libdir = dir.join("library");
    let t = Instant::now();
    {
        let mut cat = Catalog::open(&libdir).expect("catalog");
        let model = cat.model_id("synthetic-512", DIM).expect("model");
        let chunk = 20_000;
        for start in (0..n).step_by(chunk) {
            let names = |i: usize| format!("{:03}/{i:07}.jpg", i % 997);
            commit_photos(
                &mut cat,
                model,
                &photos,
                space,
                start..(start + chunk).min(n),
                names,
            );
        }
    }
    let rows_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let lib = Library::open(&libdir, "synthetic-512", DIM).expect("library");
    let build_s = t.elapsed().as_secs_f64();
    assert_eq!(lib.vector_count(), n);
    println!(
        "  built: catalog {rows_s:.1} s, vector index {build_s:.1} s ({:.0} vectors/s on {} threads; {})",
        n as f64 / build_s,
        std::thread::available_parallelism().map_or(1, |c| c.get()),
        lib.vectors_origin()
    );
    drop(lib);
    std::fs::write(&done, b"ok").expect("marker");
    (dir, Some(build_s))
}

/// Commits the space's photos `range` as the files `photos/<name(i)>` (the root `photos`,
/// added if new), the way the indexer's commit thread does; returns their ids.
pub fn commit_photos(
    cat: &mut Catalog,
    model: i64,
    photos: &Path,
    space: &Space,
    range: std::ops::Range<usize>,
    name: impl Fn(usize) -> String,
) -> Vec<i64> {
    let root = cat.add_root(photos).expect("root");
    let files: Vec<(PathBuf, i64, i64, Option<String>)> = range
        .clone()
        .map(|i| {
            (
                photos.join(name(i)),
                1_000_000 + i as i64,
                (1_500_000_000 + i as i64 * 600) * 1_000_000_000,
                None,
            )
        })
        .collect();
    let ids = cat.upsert_files(root.id, &files).expect("rows");
    let outcomes: Vec<Outcome> = ids
        .iter()
        .zip(range)
        .map(|(id, i)| Outcome::Encoded {
            photo_id: *id,
            hash: *blake3::hash(&(i as u64).to_le_bytes()).as_bytes(),
            vector: space.photo(i),
            width: 4000,
            height: 3000,
            format: "jpeg".into(),
            metadata: Default::default(),
            note: None,
        })
        .collect();
    cat.commit_batch(model, &outcomes).expect("embeddings");
    ids
}
