//! Opening a library after the indexer died between a commit and its next save of the vector
//! index (a crash, a kill, a power cut; the index is saved every `SAVE_EVERY`): the saved file
//! lacks the photos committed since. The open holds those commits beside the graph, scored
//! exactly, until the writer's next change or save takes them in; the alternative it replaced
//! rebuilt the whole graph from the catalog, minutes at a million photos.
//!
//! Each line copies a cached library of the search benchmark (built by `--bench search` at the
//! same scale, or here the first time), commits `k` more photos and removes `k / 10` in the
//! copy's catalog as the indexer's commit thread does, then times `Library::open`. The full
//! rebuild (the vector file deleted, then opened) is timed up to `GLIMPSE_BENCH_REBUILD_MAX`
//! photos (default 100k; at 1M it takes 6 to 20 minutes on 2 cores).
//!
//! Run: `GLIMPSE_BENCH_SCALES=100000,1000000 cargo bench --bench reopen`; `GLIMPSE_BENCH_BEHIND`
//! sets the photos committed since the save (comma-separated, default 100,1000,10000).

mod space;

use glimpse_library::catalog::Catalog;
use glimpse_library::Library;
use space::cached::{commit_photos, library};
use space::{rss_mb, Kind, Space, Stats, DIM};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Photo queries timed on each reopened library.
const QUERIES: usize = 100;

fn main() {
    let scales = space::scales("10000,100000");
    let rebuild_max = space::env_count("GLIMPSE_BENCH_REBUILD_MAX", 100_000);
    let behind: Vec<usize> = std::env::var("GLIMPSE_BENCH_BEHIND")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    println!(
        "glimpse reopen benchmark: {} cores, {}",
        std::thread::available_parallelism().map_or(1, |c| c.get()),
        Kind::Even.name()
    );
    for &n in &scales {
        let space = Space::new(Kind::Even, n);
        let (dir, _) = library(&base, n, &space);
        println!("\n{n} photos:");
        for &k in &behind {
            let copy = base.join("reopen-copy");
            copy_library(&dir.join("library"), &copy);
            let (added, removed) = commit_since_save(&copy, &dir.join("photos"), &space, n, k);
            let (rss0, _, _) = rss_mb();
            let t = Instant::now();
            let mut lib = Library::open(&copy, "synthetic-512", DIM).expect("library");
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let (rss1, _, _) = rss_mb();
            assert_eq!(lib.vector_count(), n + added - removed);
            println!(
                "  {added} committed, {removed} removed since the save: open {ms:.0} ms ({}), RSS +{:.0} MB",
                lib.vectors_origin(),
                rss1 - rss0
            );
            // Photo queries with the commits held beside the graph (scored exactly), then the
            // first save, which takes them into the graph (the next job's first step), then
            // the same queries again.
            let photo_queries = |lib: &Library| {
                let mut stats = Stats::new();
                for j in 0..QUERIES {
                    let q = space.photo((j * 7_919) % (n + added));
                    let t = Instant::now();
                    let hits = lib.search_photo(&q, 10, &|_| true).expect("search");
                    stats.ms.push(t.elapsed().as_secs_f64() * 1e3);
                    assert_eq!(hits.len(), 10);
                }
                let (p50, p99, _, _) = stats.summary();
                format!("p50 {p50:.2} ms, p99 {p99:.2} ms")
            };
            let held = photo_queries(&lib);
            let t = Instant::now();
            lib.save_vectors().expect("save");
            let save_ms = t.elapsed().as_secs_f64() * 1e3;
            println!(
                "    photo queries {held}; the next save takes them into the graph in {save_ms:.0} ms; then {}",
                photo_queries(&lib)
            );
            drop(lib);
            if n <= rebuild_max && k == behind[0] {
                std::fs::remove_file(copy.join("vectors-synthetic-512.usearch"))
                    .expect("remove the vector file");
                let t = Instant::now();
                let lib = Library::open(&copy, "synthetic-512", DIM).expect("library");
                println!(
                    "  the whole graph rebuilt instead: open {:.0} ms ({})",
                    t.elapsed().as_secs_f64() * 1e3,
                    lib.vectors_origin()
                );
            }
            std::fs::remove_dir_all(&copy).expect("remove the copy");
        }
    }
}

/// Copies a closed library's files (catalog, vector index, sketches) to `to`, emptied first.
fn copy_library(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("copy folder");
    for entry in std::fs::read_dir(from).expect("library folder").flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// Commits `k` new photos (the space's photos `n..n + k`) and removes `k / 10` old ones in the
/// catalog at `lib`, as the indexer does between two saves; returns (added, removed).
fn commit_since_save(
    lib: &Path,
    photos: &Path,
    space: &Space,
    n: usize,
    k: usize,
) -> (usize, usize) {
    let mut cat = Catalog::open(lib).expect("catalog");
    let model = cat.model_id("synthetic-512", DIM).expect("model");
    let ids = commit_photos(&mut cat, model, photos, space, n..n + k, |i| {
        format!("new/{i:07}.jpg")
    });
    let new: HashSet<i64> = ids.iter().copied().collect();
    let old: Vec<i64> = cat
        .embedding_ids(model)
        .expect("ids")
        .into_iter()
        .filter(|id| !new.contains(id))
        .step_by(97)
        .take(k / 10)
        .collect();
    cat.delete_photos(&old, &HashSet::new(), &HashSet::new())
        .expect("remove");
    (k, old.len())
}
