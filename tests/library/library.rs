//! Indexing a real folder tree into a library: counts, reuse of vectors for duplicates and moved
//! files, incremental runs, hostile files, vanished roots and live watching.

use crate::common;

use glimpse_clip::device::Device;
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_library::catalog::{Catalog, TextLineRow, TextOutcome};
use glimpse_library::pipeline::Control;
use glimpse_library::{Library, LibraryError, RebuildStage, Rebuilding, Summary};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn encoder() -> ImageEncoder {
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap()
}

fn photo(path: &Path, seed: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(120, 90, |x, y| {
        image::Rgb([
            ((x * 2 + seed * 37) % 256) as u8,
            ((y * 3 + seed * 11) % 256) as u8,
            ((x + y + seed * 5) % 256) as u8,
        ])
    })
    .save(path)
    .unwrap();
}

/// A PNG whose header claims 60000 x 60000 pixels: must be refused before any allocation.
fn bomb(path: &Path) {
    let mut png = Vec::new();
    png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&(ihdr.len() as u32).to_be_bytes());
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&ihdr);
    let crc = crc32(&chunk);
    png.extend_from_slice(&chunk);
    png.extend_from_slice(&crc.to_be_bytes());
    // A real (tiny) IDAT: a zlib stream with one stored block of five zero bytes.
    let data = [0u8; 5];
    let mut z = vec![0x78, 0x01, 0x01, 5, 0, !5u8, 0xff];
    z.extend_from_slice(&data);
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &data {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    png.extend_from_slice(&(z.len() as u32).to_be_bytes());
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&z);
    png.extend_from_slice(&idat);
    png.extend_from_slice(&crc32(&idat).to_be_bytes());
    png.extend_from_slice(&[0, 0, 0, 0]);
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    std::fs::write(path, png).unwrap();
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    lib: PathBuf,
}

/// 12 distinct photos in nested folders, 2 byte-identical copies, a non-UTF-8 name, 4 broken
/// files, a decompression bomb, an unsupported Sigma RAW, a hidden folder, a symlink loop,
/// non-photos.
fn tree() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("Pictures");
    for i in 0..12 {
        let ext = ["png", "jpg", "JPG"][i % 3];
        photo(
            &root.join(format!("y{}/m{}/img{i}.{ext}", 2020 + i % 2, i % 4)),
            i as u32,
        );
    }
    std::fs::copy(
        root.join("y2020/m0/img0.png"),
        root.join("copy-of-img0.png"),
    )
    .unwrap();
    std::fs::copy(
        root.join("y2021/m1/img1.jpg"),
        root.join("y2020/img1-again.jpg"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9-latin1.png");
        photo(&root.join(name), 99);
        std::os::unix::fs::symlink(&root, root.join("y2020/loop")).unwrap();
    }
    let broken = root.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::copy(
        common::fixture("broken/truncated.jpg"),
        broken.join("truncated.jpg"),
    )
    .unwrap();
    std::fs::copy(
        common::fixture("broken/truncated.png"),
        broken.join("truncated.png"),
    )
    .unwrap();
    std::fs::write(broken.join("empty.jpg"), b"").unwrap();
    std::fs::write(
        broken.join("notes.png"),
        b"these are my notes, not a picture",
    )
    .unwrap();
    bomb(&broken.join("bomb.png"));
    std::fs::write(root.join("camera.x3f"), b"a Foveon RAW").unwrap();
    photo(&root.join(".hidden/secret.png"), 200);
    photo(&root.join("@eaDir/thumb.png"), 201);
    std::fs::write(root.join("readme.txt"), b"hello").unwrap();
    let lib = tmp.path().join("library");
    Tree {
        _tmp: tmp,
        root,
        lib,
    }
}

fn index(lib: &mut Library, enc: &ImageEncoder, roots: &[PathBuf]) -> Summary {
    lib.index(roots, enc, 2, &Control::default(), &mut |_| {})
        .unwrap()
}

/// Checks the counts the catalog keeps with triggers (what the window shows per folder, in the
/// status bar and in the type filter) against the same counts taken from the rows themselves.
fn counts_match_the_rows(lib: &Library, dir: &Path) {
    let db = rusqlite::Connection::open(dir.join("catalog.sqlite")).unwrap();
    let model = lib.model_id();
    let mut stmt = db
        .prepare(
            "SELECT r.id, COUNT(p.id),
                COALESCE(SUM(p.status = 'indexed' AND EXISTS (SELECT 1 FROM embeddings e
                    WHERE e.photo_id = p.id AND e.model_id = ?1)), 0),
                COALESCE(SUM(p.status = 'pending' OR (p.status = 'indexed' AND NOT EXISTS
                    (SELECT 1 FROM embeddings e WHERE e.photo_id = p.id AND e.model_id = ?1))), 0),
                COALESCE(SUM(p.status IN ('failed', 'unsupported')), 0)
             FROM roots r LEFT JOIN photos p ON p.root_id = r.id GROUP BY r.id ORDER BY r.id",
        )
        .unwrap();
    let rows: Vec<(i64, u64, u64, u64, u64)> = stmt
        .query_map([model], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u64,
                r.get::<_, i64>(4)? as u64,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let kept: Vec<(i64, u64, u64, u64, u64)> = lib
        .root_counts()
        .unwrap()
        .into_iter()
        .map(|c| (c.root.id, c.photos, c.indexed, c.pending, c.failed))
        .collect();
    assert_eq!(
        kept, rows,
        "per-folder counts (id, photos, indexed, pending, failed)"
    );

    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64;
    let stats = lib.stats().unwrap();
    let by_rows = (
        count("SELECT COUNT(*) FROM photos"),
        db.query_row(
            "SELECT COUNT(*) FROM photos p WHERE p.status = 'indexed' AND EXISTS
             (SELECT 1 FROM embeddings e WHERE e.photo_id = p.id AND e.model_id = ?1)",
            [model],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64,
        count("SELECT COUNT(*) FROM photos WHERE status = 'failed'"),
        count("SELECT COUNT(*) FROM photos WHERE status = 'pending'"),
        count("SELECT COUNT(*) FROM photos WHERE status = 'missing'"),
        count("SELECT COUNT(*) FROM photos WHERE status = 'unsupported'"),
    );
    assert_eq!(
        (
            stats.photos,
            stats.indexed,
            stats.failed,
            stats.pending,
            stats.missing,
            stats.unsupported
        ),
        by_rows,
        "library totals (photos, indexed, failed, pending, missing, unsupported)"
    );

    let mut formats = lib.records().indexed_formats().unwrap();
    formats.sort();
    let mut stmt = db
        .prepare(
            "SELECT format, COUNT(*) FROM photos WHERE status = 'indexed' AND format IS NOT NULL
             GROUP BY format ORDER BY format",
        )
        .unwrap();
    let by_rows: Vec<(String, u64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(formats, by_rows, "searchable photos per format");

    // `glimpse status`'s per-format lines: every photo once, in its state.
    let per_format = lib.records().format_counts().unwrap();
    let sum = |f: fn(&glimpse_library::catalog::FormatCount) -> u64| {
        per_format.iter().map(f).sum::<u64>()
    };
    assert_eq!(
        (
            sum(|f| f.indexed),
            sum(|f| f.failed),
            sum(|f| f.unsupported),
            sum(|f| f.pending)
        ),
        (
            count("SELECT COUNT(*) FROM photos WHERE status = 'indexed'"),
            count("SELECT COUNT(*) FROM photos WHERE status = 'failed'"),
            count("SELECT COUNT(*) FROM photos WHERE status = 'unsupported'"),
            count("SELECT COUNT(*) FROM photos WHERE status IN ('pending', 'missing')"),
        ),
        "format counts (indexed, failed, unsupported, pending): {per_format:?}"
    );
    for f in &per_format {
        let decoded = db
            .query_row(
                "SELECT COUNT(*) FROM photos WHERE format = ?1 AND status = 'indexed'",
                [&f.format],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64;
        assert_eq!(f.indexed, decoded, "{f:?}");
    }
}

#[test]
fn a_plan_says_whether_the_model_is_needed_and_a_refused_one_loses_nothing() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    let roots = [t.root.clone()];
    let control = Control::default();
    let unique = 12 + usize::from(cfg!(unix));
    let photos = unique + 2;
    // Every supported file is queued, the five broken ones included.
    let plan = lib.plan(&roots, &control).unwrap();
    assert_eq!(plan.to_encode(), photos + 5);
    let err = lib
        .index_planned(plan, None, 2, &control, &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(err, LibraryError::NoEncoder(n) if n == photos + 5),
        "{err}"
    );
    assert_eq!(lib.records().provider().unwrap(), None);
    // What the refused job recorded is picked up by the next one, which records what ran it.
    let s = index(&mut lib, &enc, &roots);
    assert_eq!(lib.records().provider().unwrap().as_deref(), Some("CPU"));
    assert_eq!(
        (s.progress.encoded, s.progress.failed),
        (unique, 5),
        "{s:?}"
    );
    assert_eq!(lib.vector_count(), photos);
    // Nothing new, one photo gone: no encoder needed, and the removal is carried out.
    std::fs::remove_file(t.root.join("copy-of-img0.png")).unwrap();
    let plan = lib.plan(&roots, &control).unwrap();
    assert_eq!(plan.to_encode(), 0);
    let s = lib
        .index_planned(plan, None, 2, &control, &mut |_| {})
        .unwrap();
    // The broken files and the unsupported one are settled too.
    assert_eq!((s.removed, s.unchanged), (1, photos - 1 + 5 + 1), "{s:?}");
    assert_eq!(lib.vector_count(), photos - 1);
    assert_eq!(lib.stats().unwrap().indexed as usize, photos - 1);
}

#[test]
fn a_plan_is_refused_by_any_other_library() {
    let t = tree();
    let enc = encoder();
    let mut planner = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    let other_dir = t._tmp.path().join("other-library");
    let mut other = Library::open(&other_dir, "tiny-clip", 512).unwrap();
    let control = Control::default();
    let plan = planner
        .plan(std::slice::from_ref(&t.root), &control)
        .unwrap();
    assert!(plan.to_encode() > 0);
    let err = other
        .index_planned(plan, Some(&enc), 2, &control, &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(&err, LibraryError::ForeignPlan { planned } if *planned == t.lib.display().to_string()),
        "{err}"
    );
    assert_eq!(other.vector_count(), 0);
    assert_eq!(other.stats().unwrap().indexed, 0);
    // Nor by the same library open for another model.
    drop(planner);
    let plan = Library::open(&t.lib, "tiny-clip", 512)
        .unwrap()
        .plan(std::slice::from_ref(&t.root), &control)
        .unwrap();
    let mut second_model = Library::open(&t.lib, "another-model", 512).unwrap();
    let err = second_model
        .index_planned(plan, Some(&enc), 2, &control, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, LibraryError::ForeignPlan { .. }), "{err}");
}

#[test]
fn a_job_cancelled_before_it_starts_does_not_scan() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    let control = Control::default();
    control.cancel();
    let s = lib
        .index(
            std::slice::from_ref(&t.root),
            &enc,
            2,
            &control,
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((s.scanned, s.queued), (0, 0), "{s:?}");
    assert_eq!(lib.stats().unwrap().indexed, 0);
}

#[test]
fn a_tree_indexes_with_the_right_counts_and_a_second_run_encodes_nothing() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    let unique = 12 + usize::from(cfg!(unix));
    let photos = unique + 2;
    assert_eq!(s.scanned, photos + 5 + 1, "{s:?}");
    assert_eq!(s.unsupported, 1);
    assert_eq!(s.progress.failed, 5, "{s:?}");
    assert_eq!(
        s.progress.encoded, unique,
        "copies must reuse vectors: {s:?}"
    );
    let st = lib.stats().unwrap();
    assert_eq!(st.indexed as usize, photos);
    assert_eq!(st.failed, 5);
    assert_eq!(st.unsupported, 1);
    assert_eq!(lib.vector_count(), photos);
    assert_eq!(lib.max_encodes().unwrap(), 1);
    // The time the graph insertion took is reported with its thread count.
    assert!(s.graph > 0.0 && s.graph_threads >= 1, "{s:?}");
    // Per format: decoded photos by their bytes, the rest by their names.
    let formats = lib.records().format_counts().unwrap();
    let of = |f: &str| {
        formats
            .iter()
            .find(|c| c.format == f)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        formats.iter().map(|c| c.indexed).sum::<u64>() as usize,
        photos
    );
    assert_eq!((of("jpeg").failed, of("png").failed), (2, 3), "{formats:?}");
    assert_eq!((of("x3f").unsupported, of("x3f").indexed), (1, 0));
    assert!(formats.iter().all(|c| c.pending == 0), "{formats:?}");
    let bad = lib.records().failed_files().unwrap();
    assert_eq!(bad.len(), 6, "{bad:?}");
    assert!(bad.iter().all(|(_, why)| !why.is_empty()));
    assert!(bad
        .iter()
        .any(|(p, why)| p.ends_with("camera.x3f") && why == "unsupported format: x3f"));
    // One recorded reason per bad file.
    let reasons: Vec<&str> = st.failures.iter().map(|(r, _)| r.as_str()).collect();
    for needle in [
        "truncated",
        "empty file",
        "not an image",
        "too large",
        "unsupported format",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "{needle}: {reasons:?}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let paths = lib.embeddings_with_paths().unwrap();
        assert!(paths
            .iter()
            .any(|(p, _)| p.as_os_str().as_bytes().ends_with(b"caf\xe9-latin1.png")));
        assert!(!paths
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("hidden")));
    }

    counts_match_the_rows(&lib, &t.lib);
    let again = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    counts_match_the_rows(&lib, &t.lib);
    assert_eq!(again.queued, 0, "{again:?}");
    assert_eq!(again.progress.encoded, 0);
    assert_eq!(again.unchanged, again.scanned);

    // Reopening trusts the saved index (count and checksum match the catalog).
    drop(lib);
    let lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    assert_eq!(lib.vectors_origin(), "loaded");
    assert_eq!(lib.vector_count(), photos);
}

#[test]
fn a_library_from_before_kept_counts_gets_them_when_opened() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    index(&mut lib, &enc, std::slice::from_ref(&t.root));
    drop(lib);
    // Back to schema version 5: no kept counts, no triggers.
    let db = rusqlite::Connection::open(t.lib.join("catalog.sqlite")).unwrap();
    db.execute_batch(common::UNDO_KEPT_COUNTS).unwrap();
    db.execute_batch("PRAGMA user_version = 5").unwrap();
    drop(db);
    let lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    counts_match_the_rows(&lib, &t.lib);
    let c = &lib.root_counts().unwrap()[0];
    assert!(c.indexed > 0 && c.failed > 0, "{c:?}");
}

#[test]
fn saves_during_a_job_record_an_index_that_reopens_as_current() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    // Save after every batch: the graph thread must insert what came before each save.
    lib.set_save_every(std::time::Duration::ZERO);
    let file = t.lib.join("vectors-tiny-clip.usearch");
    let size = || std::fs::metadata(&file).map_or(0, |m| m.len());
    let empty = size();
    let mut saved_during_job = false;
    let s = lib
        .index(
            std::slice::from_ref(&t.root),
            &enc,
            2,
            &Control::default(),
            &mut |p| saved_during_job |= p.done > 0 && p.done < p.total && size() > empty,
        )
        .unwrap();
    assert!(saved_during_job, "no save before the job ended");
    let unique = 12 + usize::from(cfg!(unix));
    assert_eq!(s.progress.encoded, unique, "{s:?}");
    drop(lib);
    let lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    assert_eq!(lib.vectors_origin(), "loaded");
    assert_eq!(lib.vector_count(), unique + 2);
}

#[test]
fn moved_and_renamed_files_keep_their_vectors_and_deletions_remove_them() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    index(&mut lib, &enc, std::slice::from_ref(&t.root));
    let before = lib.vector_count();
    // The words read in one of them go where it goes.
    let img3 = id_at(&lib, &t.root.join("y2021/m3/img3.png"));
    let read = vec![text_line("EXIT 3")];
    lib.store_text("reader-1", &[(img3, TextOutcome::Lines(read.clone()))])
        .unwrap();
    std::fs::create_dir_all(t.root.join("sorted")).unwrap();
    std::fs::rename(
        t.root.join("y2020/m0/img0.png"),
        t.root.join("sorted/beach.png"),
    )
    .unwrap();
    std::fs::rename(
        t.root.join("y2021/m3/img3.png"),
        t.root.join("y2021/m3/renamed.png"),
    )
    .unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!(s.queued, 2);
    assert_eq!(s.progress.encoded, 0, "moved files were re-encoded: {s:?}");
    assert_eq!(s.removed, 2);
    assert_eq!(lib.vector_count(), before);
    counts_match_the_rows(&lib, &t.lib);
    let renamed = id_at(&lib, &t.root.join("y2021/m3/renamed.png"));
    assert_ne!(renamed, img3);
    assert_eq!(lib.records().text_lines(renamed).unwrap(), read);
    let unread = |lib: &Library| -> Vec<i64> {
        let rows = lib.photos_needing_text("reader-1", 0, 1000).unwrap();
        rows.into_iter().map(|r| r.0).collect()
    };
    assert!(!unread(&lib).contains(&renamed), "not read again");

    std::fs::remove_file(t.root.join("sorted/beach.png")).unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!(s.removed, 1);
    assert_eq!(lib.vector_count(), before - 1);
    counts_match_the_rows(&lib, &t.lib);

    // An edited file is re-encoded; one that stops being a picture fails.
    photo(&t.root.join("y2021/m3/renamed.png"), 4242);
    std::fs::write(t.root.join("y2020/m0/img4.png"), b"no longer a picture").unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!(s.progress.encoded, 1);
    counts_match_the_rows(&lib, &t.lib);
    // Edited, it is another picture: its old words go, and it is read again.
    assert!(lib.records().text_lines(renamed).unwrap().is_empty());
    assert!(unread(&lib).contains(&renamed));
}

/// A line of text as the reader would store it.
fn text_line(text: &str) -> TextLineRow {
    TextLineRow {
        text: text.into(),
        quad: [[4.0, 5.0], [60.0, 5.0], [60.0, 20.0], [4.0, 20.0]],
        confidence: 0.75,
    }
}

/// The catalog id of the photo at `path`.
fn id_at(lib: &Library, path: &Path) -> i64 {
    lib.records().photo_by_path(path).unwrap().unwrap().id
}

/// Tags of the photo at `path` (label, score), best first.
fn tags_at(lib: &Library, path: &Path) -> Vec<(String, f32)> {
    let id = id_at(lib, path);
    lib.records()
        .tags_of(&[id])
        .unwrap()
        .remove(&id)
        .unwrap_or_default()
}

#[test]
fn a_moved_or_renamed_photo_keeps_its_tags() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    index(&mut lib, &enc, std::slice::from_ref(&t.root));
    let id = |p: &str| id_at(&lib, &t.root.join(p));
    let (img0, img3, img5) = (
        id("y2020/m0/img0.png"),
        id("y2021/m3/img3.png"),
        id("y2021/m1/img5.JPG"),
    );
    let mut catalog = Catalog::open(lib.dir()).unwrap();
    let beach = catalog.label_id("beach", false).unwrap();
    let dog = catalog.label_id("dog", false).unwrap();
    catalog
        .replace_tags(
            &[img0, img3, img5],
            &[
                (img0, beach, 0.9),
                (img3, dog, 0.75),
                (img3, beach, 0.25),
                (img5, dog, 0.5),
            ],
        )
        .unwrap();
    let tagged = tags_at(&lib, &t.root.join("y2021/m3/img3.png"));

    // Renamed, moved to another folder, and edited while renamed (other content: not the same
    // photo any more).
    std::fs::create_dir_all(t.root.join("sorted")).unwrap();
    std::fs::rename(
        t.root.join("y2020/m0/img0.png"),
        t.root.join("sorted/beach.png"),
    )
    .unwrap();
    std::fs::rename(
        t.root.join("y2021/m3/img3.png"),
        t.root.join("y2021/m3/rex.png"),
    )
    .unwrap();
    std::fs::remove_file(t.root.join("y2021/m1/img5.JPG")).unwrap();
    photo(&t.root.join("y2021/m1/img5-edited.png"), 555);
    let s = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!(s.removed, 3);

    assert_eq!(
        tags_at(&lib, &t.root.join("sorted/beach.png")),
        [("beach".to_string(), 0.9)]
    );
    assert_eq!(tags_at(&lib, &t.root.join("y2021/m3/rex.png")), tagged);
    assert_eq!(tagged.len(), 2);
    assert!(tags_at(&lib, &t.root.join("y2021/m1/img5-edited.png")).is_empty());
    // An untagged copy of a moved photo that stayed where it was is left as the user had it.
    assert!(tags_at(&lib, &t.root.join("copy-of-img0.png")).is_empty());
    let counts: std::collections::HashMap<String, u64> =
        lib.records().tag_counts().unwrap().into_iter().collect();
    assert_eq!(counts.get("beach"), Some(&2));
    assert_eq!(
        counts.get("dog"),
        Some(&1),
        "the deleted photo's tag is gone with it"
    );
    counts_match_the_rows(&lib, &t.lib);
}

#[test]
fn a_folder_removed_and_added_back_soon_reuses_its_vectors_and_tags() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    let first = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    let indexed = lib.stats().unwrap().indexed as usize;
    let img3 = t.root.join("y2021/m3/img3.png");
    let mut catalog = Catalog::open(lib.dir()).unwrap();
    let dog = catalog.label_id("dog", false).unwrap();
    let beach = catalog.label_id("beach", false).unwrap();
    let id3 = id_at(&lib, &img3);
    catalog
        .replace_tags(&[id3], &[(id3, dog, 0.75), (id3, beach, 0.25)])
        .unwrap();
    // Hand decisions too: one tag set, one auto-tag taken off.
    lib.records().tag_photos(&[id3], "holiday").unwrap();
    lib.records().untag_photos(&[id3], "beach").unwrap();
    let tagged = tags_at(&lib, &img3);
    assert_eq!(
        tagged.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
        ["holiday", "dog"],
        "best score first: a hand tag scores 1"
    );
    let decided = |id: i64| -> Vec<(String, i64)> {
        let db = rusqlite::Connection::open(t.lib.join("catalog.sqlite")).unwrap();
        let mut q = db
            .prepare(
                "SELECT l.name, t.manual FROM tags t JOIN labels l ON l.id = t.label_id
                 WHERE t.photo_id = ?1 ORDER BY l.name",
            )
            .unwrap();
        let rows = q.query_map([id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let decisions = decided(id3);
    let vector = lib.stored_vector(id3).unwrap().unwrap();
    // What the text reader read goes into the stash too, a failure with its reason.
    let read = vec![text_line("Platform 9"), text_line("Kings Cross")];
    let img4 = id_at(&lib, &t.root.join("y2020/m0/img4.jpg"));
    lib.store_text(
        "reader-1",
        &[
            (id3, TextOutcome::Lines(read.clone())),
            (img4, TextOutcome::Failed("too blurred".into())),
        ],
    )
    .unwrap();
    let progress = lib.records().text_progress("reader-1").unwrap();

    lib.remove_root(&t.root).unwrap();
    assert_eq!(lib.vector_count(), 0, "nothing of the folder is searchable");
    assert_eq!(lib.stats().unwrap().indexed, 0);
    assert!(lib.records().tag_counts().unwrap().is_empty());
    assert_eq!(
        catalog.stash_len().unwrap() as usize,
        first.progress.encoded
    );

    // Back within the time: every picture is copied from the stash, none decoded or encoded.
    let again = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!(again.progress.encoded, 0, "{again:?}");
    assert_eq!(lib.stats().unwrap().indexed as usize, indexed);
    assert_eq!(lib.vector_count(), indexed);
    assert_eq!(tags_at(&lib, &img3), tagged);
    let back = id_at(&lib, &img3);
    // Who decided each tag comes back with it: the taken-off one stays off for auto-tagging.
    assert_eq!(
        decisions,
        [
            ("beach".into(), -1),
            ("dog".into(), 0),
            ("holiday".into(), 1)
        ]
    );
    assert_eq!(decided(back), decisions);
    assert_eq!(
        lib.stored_vector(back).unwrap().unwrap(),
        vector,
        "the same vector, as stored"
    );
    counts_match_the_rows(&lib, &t.lib);
    // The text came back: nothing is read again, and the words find the picture.
    assert_eq!(lib.records().text_lines(back).unwrap(), read);
    assert_eq!(lib.records().text_progress("reader-1").unwrap(), progress);
    let unread = lib.photos_needing_text("reader-1", 0, 1000).unwrap();
    assert!(!unread.iter().any(|r| r.0 == back));
    assert!(!unread.iter().any(|r| r.1.ends_with("y2020/m0/img4.jpg")));
    let shows = glimpse_library::catalog::PhotoFilter {
        words: vec!["kings".into()],
        ..Default::default()
    };
    assert_eq!(lib.filter_ids(&shows).unwrap(), [back]);

    // Removed again and left longer than the stash keeps it: the next job forgets it, and
    // the folder added back after that is read afresh.
    lib.remove_root(&t.root).unwrap();
    let db = rusqlite::Connection::open(t.lib.join("catalog.sqlite")).unwrap();
    let month = glimpse_library::catalog::STASH_KEEP_SECS + 3600;
    db.execute("UPDATE stash SET stashed_at = stashed_at - ?1", [month])
        .unwrap();
    index(&mut lib, &enc, &[]);
    assert_eq!(catalog.stash_len().unwrap(), 0);
    let afresh = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!(afresh.progress.encoded, first.progress.encoded);
    assert!(tags_at(&lib, &img3).is_empty());
}

#[test]
fn tags_stay_with_the_picture_while_a_copy_of_it_is_in_the_library() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    index(&mut lib, &enc, std::slice::from_ref(&t.root));
    let id = |p: &str| id_at(&lib, &t.root.join(p));
    let (img0, img1, again, img3) = (
        id("y2020/m0/img0.png"),
        id("y2021/m1/img1.jpg"),
        id("y2020/img1-again.jpg"),
        id("y2021/m3/img3.png"),
    );
    let mut catalog = Catalog::open(lib.dir()).unwrap();
    let beach = catalog.label_id("beach", false).unwrap();
    let dog = catalog.label_id("dog", false).unwrap();
    catalog
        .replace_tags(
            &[img0, img1, again, img3],
            &[
                (img0, beach, 0.8),
                (img1, dog, 0.9),
                (again, beach, 0.6),
                (img3, dog, 0.75),
            ],
        )
        .unwrap();
    let strict = t.root.join("strict");
    std::fs::create_dir_all(&strict).unwrap();
    let opts = glimpse_query::tags::TagOptions {
        threshold: 0.25,
        min_cosine: 2.0,
    };
    let labels = ["snow".to_string(), "forest".into()];
    glimpse_query::tags::tag_folder(&mut lib, &strict, &labels, &opts, &mut fake_text).unwrap();

    // A move to another drive as a watcher sees it: the copies arrive in one job, the original
    // leaves in a later one. Another copy lands in an auto-tagged folder, whose run decides.
    std::fs::create_dir_all(t.root.join("elsewhere")).unwrap();
    for to in ["elsewhere/img3.png", "strict/img3.png"] {
        std::fs::copy(t.root.join("y2021/m3/img3.png"), t.root.join(to)).unwrap();
    }
    std::fs::copy(t.root.join("y2021/m1/img1.jpg"), t.root.join("third.jpg")).unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!((s.queued, s.removed, s.kept_tags), (3, 0, 0), "{s:?}");
    assert!(tags_at(&lib, &t.root.join("elsewhere/img3.png")).is_empty());

    std::fs::remove_file(t.root.join("y2021/m3/img3.png")).unwrap();
    // One of two tagged copies goes: the other still holds the picture's tags.
    std::fs::remove_file(t.root.join("y2021/m1/img1.jpg")).unwrap();
    // The last tagged copy goes (a duplicate deleted): the untagged copy keeps its tags.
    std::fs::remove_file(t.root.join("y2020/m0/img0.png")).unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!((s.removed, s.kept_tags), (3, 2), "{s:?}");
    assert_eq!(
        tags_at(&lib, &t.root.join("elsewhere/img3.png")),
        [("dog".to_string(), 0.75)]
    );
    assert!(tags_at(&lib, &t.root.join("strict/img3.png")).is_empty());
    assert!(tags_at(&lib, &t.root.join("third.jpg")).is_empty());
    assert_eq!(
        tags_at(&lib, &t.root.join("y2020/img1-again.jpg")),
        [("beach".to_string(), 0.6)]
    );
    assert_eq!(
        tags_at(&lib, &t.root.join("copy-of-img0.png")),
        [("beach".to_string(), 0.8)]
    );
    counts_match_the_rows(&lib, &t.lib);
}

/// A stand-in text tower: a fixed pseudo-random unit vector per text.
fn fake_text(texts: &[String]) -> Result<Vec<Vec<f32>>, glimpse_query::search::TowerError> {
    Ok(texts
        .iter()
        .map(|t| {
            let mut x = t.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            });
            (0..512)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 2001) as f32 / 1000.0 - 1.0
                })
                .collect()
        })
        .collect())
}

/// Every tag of every photo, by path.
fn all_tags(lib: &Library) -> std::collections::BTreeMap<PathBuf, Vec<(String, f32)>> {
    let db = lib.photos_with_vectors(&Default::default());
    let ids: Vec<(i64, PathBuf)> = db
        .unwrap()
        .into_iter()
        .map(|(i, _)| (i.id, i.path))
        .collect();
    let tags = lib
        .records()
        .tags_of(&ids.iter().map(|i| i.0).collect::<Vec<_>>())
        .unwrap();
    ids.into_iter()
        .filter_map(|(id, path)| tags.get(&id).map(|t| (path, t.clone())))
        .collect()
}

#[test]
fn a_tagged_folder_tags_the_photos_that_arrive_later() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    index(&mut lib, &enc, std::slice::from_ref(&t.root));
    // No softmax floor beyond the labels' own share, no cosine floor: every photo gets a tag.
    let opts = glimpse_query::tags::TagOptions {
        threshold: 0.25,
        min_cosine: -1.0,
    };
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (outer, inner) = (
        words(&["beach", "city", "forest", "snow"]),
        words(&["dog", "cat"]),
    );
    let y2020 = t.root.join("y2020");
    let m2 = y2020.join("m2");
    let tag = |lib: &mut Library, folder: &Path, labels: &[String]| {
        glimpse_query::tags::tag_folder(lib, folder, labels, &opts, &mut fake_text).unwrap()
    };
    tag(&mut lib, &y2020, &outer);
    tag(&mut lib, &m2, &inner);
    let before = all_tags(&lib);

    // New photos in the tagged folder, in its nested (later-tagged) folder and outside both;
    // a tagged photo replaced by a different picture under the same name.
    photo(&y2020.join("new-a.png"), 300);
    photo(&y2020.join("m0/new-b.png"), 301);
    photo(&m2.join("new-c.png"), 302);
    photo(&t.root.join("y2021/new-d.png"), 303);
    photo(&y2020.join("m0/img0.png"), 304);
    let s = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!(s.progress.encoded, 5);
    assert_eq!(s.auto_tagged, 4, "{s:?}");
    let after = all_tags(&lib);
    assert!(!after.contains_key(&t.root.join("y2021/new-d.png")));
    let labels_of = |p: &Path| -> Vec<String> { after[p].iter().map(|t| t.0.clone()).collect() };
    assert!(labels_of(&y2020.join("new-a.png"))
        .iter()
        .all(|l| outer.contains(l)));
    assert!(labels_of(&m2.join("new-c.png"))
        .iter()
        .all(|l| inner.contains(l)));
    assert_ne!(
        before[&y2020.join("m0/img0.png")],
        after[&y2020.join("m0/img0.png")],
        "the replaced picture kept the old one's tags"
    );
    // Exactly what running the two taggings again, in their order, gives.
    tag(&mut lib, &y2020, &outer);
    tag(&mut lib, &m2, &inner);
    assert_eq!(all_tags(&lib), after);
    // Tagging the outer folder again makes it the latest run, for its nested folder as well.
    tag(&mut lib, &y2020, &outer);
    photo(&m2.join("new-e.png"), 305);
    assert_eq!(
        index(&mut lib, &enc, std::slice::from_ref(&t.root)).auto_tagged,
        1
    );
    let e = all_tags(&lib)[&m2.join("new-e.png")].clone();
    assert!(e.iter().all(|l| outer.contains(&l.0)), "{e:?}");

    // A folder removed from the library forgets its auto-tags.
    assert_eq!(lib.records().tag_rules().unwrap().len(), 2);
    lib.remove_root(&t.root).unwrap();
    assert!(lib.records().tag_rules().unwrap().is_empty());
}

#[test]
fn a_photo_moved_into_an_auto_tagged_folder_takes_that_folder_s_tags() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    index(&mut lib, &enc, std::slice::from_ref(&t.root));
    let id = |p: &str| id_at(&lib, &t.root.join(p));
    let (img1, img5) = (id("y2021/m1/img1.jpg"), id("y2021/m1/img5.JPG"));
    let mut catalog = Catalog::open(lib.dir()).unwrap();
    let dog = catalog.label_id("dog", false).unwrap();
    catalog
        .replace_tags(&[img1, img5], &[(img1, dog, 0.9), (img5, dog, 0.8)])
        .unwrap();
    // One folder whose labels match anything, one whose labels can never match.
    let (open, strict) = (t.root.join("open"), t.root.join("strict"));
    let labels = ["beach".to_string(), "snow".into()];
    for (folder, min_cosine) in [(&open, -1.0), (&strict, 2.0)] {
        std::fs::create_dir_all(folder).unwrap();
        let opts = glimpse_query::tags::TagOptions {
            threshold: 0.25,
            min_cosine,
        };
        glimpse_query::tags::tag_folder(&mut lib, folder, &labels, &opts, &mut fake_text).unwrap();
    }
    std::fs::rename(t.root.join("y2021/m1/img1.jpg"), strict.join("img1.jpg")).unwrap();
    std::fs::rename(t.root.join("y2021/m1/img5.JPG"), open.join("img5.JPG")).unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!((s.auto_tagged, s.kept_tags, s.removed), (2, 0, 2), "{s:?}");
    assert!(tags_at(&lib, &strict.join("img1.jpg")).is_empty());
    // The move was seen whole, so its copy elsewhere is left as the user had it.
    assert!(tags_at(&lib, &t.root.join("y2020/img1-again.jpg")).is_empty());
    let got = tags_at(&lib, &open.join("img5.JPG"));
    assert!(
        !got.is_empty() && got.iter().all(|t| labels.contains(&t.0)),
        "{got:?}"
    );
}

fn root_paths(lib: &Library) -> Vec<PathBuf> {
    lib.records()
        .roots()
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect()
}

#[test]
fn a_folder_and_one_inside_it_are_one_root_and_each_photo_is_indexed_once() {
    let t = tree();
    let enc = encoder();
    let top = t.root.canonicalize().unwrap();
    let inner = top.join("y2020");
    let whole = {
        let mut fresh = Library::open(&t.lib.with_file_name("fresh"), "tiny-clip", 512).unwrap();
        let s = index(&mut fresh, &enc, std::slice::from_ref(&top));
        (s.progress.encoded, fresh.vector_count())
    };

    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    let first = index(&mut lib, &enc, std::slice::from_ref(&inner));
    assert!(first.progress.encoded > 0);
    // The folder holding it takes it in: its photos keep their vectors (before, both roots
    // claimed them and the job failed with "photo given twice in one batch").
    counts_match_the_rows(&lib, &t.lib);
    let s = index(&mut lib, &enc, &[inner.clone(), top.clone()]);
    counts_match_the_rows(&lib, &t.lib);
    assert_eq!(root_paths(&lib), std::slice::from_ref(&top));
    assert_eq!(s.removed, 0);
    assert_eq!(s.progress.encoded, whole.0 - first.progress.encoded);
    assert_eq!(lib.vector_count(), whole.1);
    // Asking for the inner folder again scans its root, whole: nothing changes, nothing goes.
    let s = index(&mut lib, &enc, std::slice::from_ref(&inner));
    assert_eq!(root_paths(&lib), std::slice::from_ref(&top));
    assert_eq!((s.queued, s.removed), (0, 0), "{s:?}");
    assert_eq!(s.unchanged, s.scanned);
    assert_eq!(lib.vector_count(), whole.1);
    drop(lib);

    // A library written before nesting was refused holds both roots, the inner one owning its
    // photos: opening it folds the inner root into the outer one and indexing works again.
    {
        let db = rusqlite::Connection::open(t.lib.join("catalog.sqlite")).unwrap();
        let bytes = glimpse_library::catalog::path_bytes(&inner);
        db.execute("INSERT INTO roots(path, added_at) VALUES (?1, 0)", [&bytes])
            .unwrap();
        let id = db.last_insert_rowid();
        let mut prefix = bytes.clone();
        prefix.push(std::path::MAIN_SEPARATOR as u8);
        let moved = db
            .execute(
                "UPDATE photos SET root_id = ?1 WHERE substr(path, 1, ?2) = ?3",
                rusqlite::params![id, prefix.len() as i64, prefix],
            )
            .unwrap();
        assert!(moved > 0);
    }
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    assert_eq!(root_paths(&lib), std::slice::from_ref(&top));
    let roots = root_paths(&lib);
    let s = index(&mut lib, &enc, &roots);
    assert_eq!((s.queued, s.removed), (0, 0), "{s:?}");
    assert_eq!(lib.vector_count(), whole.1);
    counts_match_the_rows(&lib, &t.lib);
    // Removing the folder takes its counts with it.
    lib.remove_root(&top).unwrap();
    counts_match_the_rows(&lib, &t.lib);
    assert!(lib.root_counts().unwrap().is_empty());
    assert_eq!(lib.stats().unwrap().photos, 0);
}

#[test]
fn the_cli_says_where_a_folder_already_is() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("Pictures/Phone")).unwrap();
    let top = tmp.path().join("Pictures").canonicalize().unwrap();
    let phone = top.join("Phone");
    let roots = |args: &[&str], path: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_glimpse"))
            .arg("--library")
            .arg(tmp.path().join("lib"))
            .arg("roots")
            .args(args)
            .arg(path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let list = || roots(&["list"], Path::new("--json")).1.lines().count();
    assert_eq!(roots(&["add"], &phone).0, Some(0));
    assert_eq!(roots(&["add"], &top).0, Some(0));
    assert_eq!(list(), 1, "the folder above took the one inside in");
    let (code, said) = roots(&["add"], &phone);
    assert_eq!(code, Some(0));
    assert!(said.contains("already in the library, inside"), "{said}");
    assert_eq!(list(), 1);
    let (code, said) = roots(&["remove"], &phone);
    assert_eq!(code, Some(1));
    assert!(
        said.contains(&format!("inside {}", top.display())),
        "{said}"
    );
    assert_eq!(list(), 1);
    assert_eq!(roots(&["remove"], &top).0, Some(0));
    assert_eq!(list(), 0);
}

#[test]
fn a_vanished_root_is_marked_offline_and_its_photos_are_kept() {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    let root = t.root.canonicalize().unwrap();
    index(&mut lib, &enc, std::slice::from_ref(&root));
    let n = lib.vector_count();
    let unplugged = root.with_file_name("Pictures-unplugged");
    std::fs::rename(&root, &unplugged).unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&root));
    assert_eq!(s.offline_roots, vec![root.clone()]);
    assert_eq!(s.removed, 0);
    assert_eq!(lib.vector_count(), n);
    assert!(!lib.records().roots().unwrap()[0].online);
    std::fs::rename(&unplugged, &root).unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&root));
    assert_eq!((s.queued, s.removed), (0, 0));
    assert!(lib.records().roots().unwrap()[0].online);
}

/// The tree indexed and its library closed: (tree, encoder, vectors, the vector index file).
fn indexed_tree() -> (Tree, ImageEncoder, usize, PathBuf) {
    let t = tree();
    let enc = encoder();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    index(&mut lib, &enc, std::slice::from_ref(&t.root));
    let n = lib.vector_count();
    let file = t.lib.join("vectors-tiny-clip.usearch");
    (t, enc, n, file)
}

/// What the background check of the opened index file found, once it has.
fn checked(lib: &Library) -> bool {
    let started = Instant::now();
    loop {
        if let Some(v) = lib.vectors().verified() {
            return v;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never checked");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_torn_vector_file_is_rebuilt_from_the_catalog_without_re_encoding() {
    let (t, _, n, file) = indexed_tree();
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
    let lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    assert!(
        lib.vectors_origin().starts_with("rebuilt"),
        "{}",
        lib.vectors_origin()
    );
    assert_eq!(lib.vector_count(), n);
    std::fs::remove_file(&file).unwrap();
    drop(lib);
    let lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    assert_eq!(lib.vectors_origin(), "rebuilt (missing)");
    assert_eq!(lib.vector_count(), n);
}

#[test]
fn the_cli_says_why_it_rebuilds_the_search_index_and_only_when_it_does() {
    let (t, _, n, file) = indexed_tree();
    std::fs::remove_file(&file).unwrap();
    let run = || {
        let out = common::glimpse_on(&t.lib)
            .args(["status", "--json"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (st, err)
    };
    let (st, err) = run();
    let said = format!(
        "rebuilding the search index (it was missing) from the vectors of {n} photos in the catalog"
    );
    assert!(err.contains(&said), "{err}");
    assert_eq!(st["vectors_origin"], "rebuilt (missing)", "{st}");
    let (st, err) = run();
    assert!(!err.contains("rebuilding"), "{err}");
    assert_eq!(st["vectors_origin"], "loaded", "{st}");
}

#[test]
fn damaged_rows_found_after_opening_are_rebuilt_before_the_next_change() {
    let (t, enc, n, file) = indexed_tree();
    // One byte in the middle of the vector rows (the file starts with their count and
    // width): the graph's structure still matches, so the library opens.
    let mut bytes = std::fs::read(&file).unwrap();
    let width = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    bytes[8 + (n / 2) * width + 1] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();
    let mut lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    assert_eq!(lib.vectors_origin(), "loaded");
    let told: Arc<Mutex<Vec<Rebuilding>>> = Arc::default();
    let heard = told.clone();
    lib.watch_rebuilds(move |r| heard.lock().unwrap().push(r));
    assert!(!checked(&lib), "the damaged row is found");
    assert!(told.lock().unwrap().is_empty(), "nothing rebuilt yet");
    // The next change (a new photo) rebuilds from the catalog instead of failing on the
    // damaged file, and tells the watcher so (a window says why the job waits).
    photo(&t.root.join("new-one.png"), 777);
    index(&mut lib, &enc, std::slice::from_ref(&t.root));
    assert_eq!(lib.vectors_origin(), "rebuilt (damaged rows)");
    let told = told.lock().unwrap().clone();
    assert!(
        told.iter()
            .all(|r| r.why == "damaged on disk" && r.total == n),
        "{told:?}"
    );
    let stages: Vec<RebuildStage> = told.iter().map(|r| r.stage).collect();
    assert_eq!(stages.first(), Some(&RebuildStage::Reading), "{told:?}");
    assert!(stages.contains(&RebuildStage::Linking), "{told:?}");
    assert_eq!(
        stages[stages.len() - 2..],
        [RebuildStage::Saving, RebuildStage::Done],
        "{told:?}"
    );
    assert_eq!(lib.vector_count(), n + 1);
    drop(lib);
    let lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    assert_eq!(lib.vectors_origin(), "loaded");
    assert!(checked(&lib), "the rebuilt file matches");
}

fn status(lib: &Path) -> serde_json::Value {
    let out = glimpse_on(lib, &["status", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `glimpse` command on the library `lib`, quiet and offline.
fn glimpse_on(lib: &Path, args: &[&str]) -> Command {
    let mut c = common::glimpse_on(lib);
    c.arg("--quiet").args(args);
    c
}

fn wait_for(lib: &Path, what: &str, ok: impl Fn(&serde_json::Value) -> bool) {
    let t = Instant::now();
    loop {
        let s = status(lib);
        if ok(&s) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}: {s}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn watch_reflects_new_and_deleted_files_within_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let drive = tmp.path().join("drive");
    let root = drive.join("photos");
    let lib = tmp.path().join("lib");
    for i in 0..3 {
        photo(&root.join(format!("a{i}.png")), i);
    }
    let run = |args: &[&str]| {
        let mut c = glimpse_on(&lib, args);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let added = run(&["roots", "add"]).arg(&root).status().unwrap();
    assert!(added.success());
    let model = common::immich_model();
    let mut child = run(&["watch", "--model", model.to_str().unwrap()])
        .spawn()
        .unwrap();
    let result = std::panic::catch_unwind(|| {
        wait_for(&lib, "initial index", |s| s["indexed"] == 3);
        // A burst of new files, one deletion, one rename.
        for i in 0..20 {
            photo(&root.join(format!("burst/b{i}.png")), 100 + i);
        }
        std::fs::remove_file(root.join("a0.png")).unwrap();
        std::fs::rename(root.join("a1.png"), root.join("renamed.png")).unwrap();
        wait_for(&lib, "burst, deletion and rename", |s| {
            s["indexed"] == 22 && s["vectors"] == 22 && s["photos"] == 22
        });
        // The folder's drive unplugged (no watch on the folder hears of its parent going), then
        // plugged back in with one photo more.
        let away = tmp.path().join("unplugged");
        std::fs::rename(&drive, &away).unwrap();
        wait_for(&lib, "the folder offline", |s| {
            s["roots"][0]["online"] == false
        });
        photo(&away.join("photos/while-away.png"), 200);
        std::fs::rename(&away, &drive).unwrap();
        wait_for(&lib, "the folder back", |s| {
            s["roots"][0]["online"] == true && s["indexed"] == 23 && s["vectors"] == 23
        });
        // Watched again after it came back.
        photo(&root.join("after.png"), 201);
        wait_for(&lib, "a photo added after", |s| s["indexed"] == 24);
    });
    child.kill().ok();
    child.wait().ok();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// Two processes indexing one library would each save a vector index without the other's new
/// photos, which then stay unsearchable while the catalog calls them indexed: the second is
/// refused with who holds the library, reading goes on, and nothing is lost.
#[test]
fn a_second_indexer_is_refused_while_watch_runs_and_searching_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, other, lib) = (
        tmp.path().join("photos"),
        tmp.path().join("other"),
        tmp.path().join("lib"),
    );
    for i in 0..3 {
        photo(&root.join(format!("a{i}.png")), i);
    }
    for i in 0..2 {
        photo(&other.join(format!("b{i}.png")), 50 + i);
    }
    let model = common::immich_model();
    let run = |args: &[&str]| glimpse_on(&lib, args);
    let index_other = || {
        run(&["index", "--model", model.to_str().unwrap()])
            .arg(&other)
            .output()
            .unwrap()
    };
    assert!(run(&["roots", "add"])
        .arg(&root)
        .status()
        .unwrap()
        .success());
    let mut child = run(&["watch", "--model", model.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let result = std::panic::catch_unwind(|| {
        wait_for(&lib, "watch's first index", |s| {
            s["indexed"] == 3 && s["vectors"] == 3
        });
        let out = index_other();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a second indexer ran: {err}");
        assert!(
            err.contains(&format!("another Glimpse (glimpse, pid {})", child.id())),
            "{err}"
        );
        // Reading does not need the writer.
        let out = run(&["search", "--model", model.to_str().unwrap()])
            .args(["anything", "--weak", "--paths"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
        // Adding a folder is refused too: one added above the watched one would take its
        // photos away from under the indexer.
        let out = run(&["roots", "add"]).arg(&other).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a folder was added meanwhile: {err}");
        assert!(err.contains("another Glimpse (glimpse, pid"), "{err}");
        let out = run(&["roots", "list"]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).lines().count() == 1);
        let s = status(&lib);
        assert_eq!(s["roots"].as_array().map(Vec::len), Some(1), "{s}");
    });
    child.kill().ok();
    child.wait().ok();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
    // Once watch has gone, the same command indexes, and every photo has its vector.
    let out = index_other();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = status(&lib);
    assert!(s["indexed"] == 5 && s["vectors"] == 5, "{s}");
}

/// Files that look like photos but are hostile: every one gets exactly one recorded reason and
/// nothing panics.
#[test]
fn a_hostile_corpus_gives_one_reason_per_file_and_no_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hostile");
    std::fs::create_dir_all(&root).unwrap();
    let good = std::fs::read(common::fixture("images/jpeg_baseline.jpg")).unwrap();
    let png = std::fs::read(common::fixture("images/rgba.png")).unwrap();
    let gif = std::fs::read(common::fixture("images/animated.gif")).unwrap();
    let webp = std::fs::read(common::fixture("images/lossy.webp")).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("jpeg-header-only.jpg".into(), good[..200].to_vec()),
        ("jpeg-garbage-body.jpg".into(), {
            let mut v = good[..600].to_vec();
            v.extend((0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
            v
        }),
        ("png-bad-crc.png".into(), {
            let mut v = png.clone();
            v[30] ^= 0xff;
            v
        }),
        ("png-cut.png".into(), png[..png.len() / 3].to_vec()),
        ("gif-cut.gif".into(), gif[..gif.len() / 2].to_vec()),
        ("webp-cut.webp".into(), webp[..webp.len() / 2].to_vec()),
        (
            "random.bmp".into(),
            (0..3000u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("bmp-header-huge.bmp".into(), {
            let mut v = b"BM".to_vec();
            v.extend_from_slice(&[0u8; 12]);
            v.extend_from_slice(&40u32.to_le_bytes());
            v.extend_from_slice(&2_000_000i32.to_le_bytes());
            v.extend_from_slice(&2_000_000i32.to_le_bytes());
            v.extend_from_slice(&1u16.to_le_bytes());
            v.extend_from_slice(&24u16.to_le_bytes());
            v.extend_from_slice(&[0u8; 24]);
            v
        }),
        ("tiff-magic-only.tif".into(), b"II*\0\x08\0\0\0".to_vec()),
    ];
    for i in 0..5 {
        files.push((format!("zeros{i}.jpg"), vec![0u8; 10 * (i + 1)]));
    }
    for (name, bytes) in &files {
        std::fs::write(root.join(name), bytes).unwrap();
    }
    let enc = encoder();
    let mut lib = Library::open(&tmp.path().join("lib"), "tiny-clip", 512).unwrap();
    let s = index(&mut lib, &enc, std::slice::from_ref(&root));
    assert_eq!(s.scanned, files.len());
    let st = lib.stats().unwrap();
    // Some damaged files still decode (a decoder may fill a cut-off tail); each file is either
    // indexed or failed with a reason, never lost and never a panic.
    assert_eq!((st.indexed + st.failed) as usize, files.len(), "{st:?}");
    assert!(st.failed as usize >= files.len() - 3, "{st:?}");
    let reasons: u64 = st.failures.iter().map(|(_, n)| n).sum();
    assert_eq!(reasons, st.failed);
    assert!(st
        .failures
        .iter()
        .all(|(r, _)| !r.is_empty() && !r.contains("panick")));
}

/// A second model's vectors are added beside the first's; the first model's vectors survive.
#[test]
fn a_second_model_is_indexed_beside_the_first() {
    let t = tree();
    let enc = encoder();
    let mut a = Library::open(&t.lib, "model-a", 512).unwrap();
    index(&mut a, &enc, std::slice::from_ref(&t.root));
    let n = a.vector_count();
    drop(a);
    let mut b = Library::open(&t.lib, "model-b", 512).unwrap();
    // Model B's photos are all to encode while model A's are searchable.
    let before = b.root_counts().unwrap();
    assert_eq!((before[0].indexed, before[0].pending), (0, n as u64));
    counts_match_the_rows(&b, &t.lib);
    let s = index(&mut b, &enc, std::slice::from_ref(&t.root));
    assert_eq!(b.vector_count(), n, "{s:?}");
    assert!(s.progress.encoded > 0);
    counts_match_the_rows(&b, &t.lib);
    drop(b);
    let a = Library::open(&t.lib, "model-a", 512).unwrap();
    counts_match_the_rows(&a, &t.lib);
    assert_eq!(a.vector_count(), n);
    assert_eq!(a.vectors_origin(), "loaded");
    assert_eq!(a.max_encodes().unwrap(), 1);
}

/// An unplugged drive can leave an empty mount point: its photos must not be purged.
#[test]
fn a_root_that_suddenly_looks_empty_is_offline_not_purged() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mnt");
    for i in 0..3 {
        photo(&root.join(format!("p{i}.png")), i);
    }
    let enc = encoder();
    let mut lib = Library::open(&tmp.path().join("lib"), "tiny-clip", 512).unwrap();
    index(&mut lib, &enc, std::slice::from_ref(&root));
    for i in 0..3 {
        std::fs::remove_file(root.join(format!("p{i}.png"))).unwrap();
    }
    let s = index(&mut lib, &enc, std::slice::from_ref(&root));
    assert_eq!(s.removed, 0);
    assert_eq!(s.offline_roots.len(), 1);
    assert_eq!(lib.vector_count(), 3);
}

/// The background job streams progress, pauses, resumes and hands the library back.
#[test]
fn a_background_job_streams_progress_and_can_be_paused() {
    use glimpse_library::{Job, JobEvent};
    let t = tree();
    let enc = std::sync::Arc::new(encoder());
    let lib = Library::open(&t.lib, "tiny-clip", 512).unwrap();
    let job = Job::spawn(lib, enc, vec![t.root.clone()], 2);
    job.pause();
    std::thread::sleep(Duration::from_millis(300));
    job.resume();
    let mut progress = 0;
    let summary = loop {
        match job.events().recv_timeout(Duration::from_secs(60)).unwrap() {
            JobEvent::Progress(p) => {
                assert!(p.done <= p.total);
                progress += 1;
            }
            JobEvent::Finished(r) => break r.unwrap(),
        }
    };
    assert!(progress >= 1);
    assert_eq!(summary.progress.done, summary.queued);
    let lib = job.join().unwrap();
    assert_eq!(lib.vector_count() as u64, lib.stats().unwrap().indexed);
}

#[test]
fn small_photos_on_another_drive_keep_a_preview_for_when_it_is_unplugged() {
    // The app shows a small photo's file itself, which it cannot once its drive is unplugged:
    // photos on another drive than the library get a preview like large ones. /dev/shm is a
    // separate file system (tmpfs) on Linux machines, standing in for a USB disk here.
    let tmp = tempfile::tempdir().unwrap();
    let usb = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm for a second drive");
    let lib_dir = tmp.path().join("library");
    std::fs::create_dir_all(&lib_dir).unwrap();
    assert!(
        glimpse_library::thumbs::on_another_drive(usb.path(), &lib_dir),
        "/dev/shm is on the library's drive here: the test needs a second file system"
    );
    let local = tmp.path().join("Pictures");
    let external = usb.path().join("Archive");
    for i in 0..3 {
        photo(&local.join(format!("local{i}.jpg")), i);
        photo(&external.join(format!("old{i}.jpg")), 100 + i);
    }
    let enc = encoder();
    let mut lib = Library::open(&lib_dir, "tiny-clip", 512).unwrap();
    lib.index(
        &[local.clone(), external.clone()],
        &enc,
        2,
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    let previews = |lib: &Library| -> Vec<(String, bool)> {
        let ids = lib
            .filter_ids(&glimpse_library::catalog::PhotoFilter::default())
            .unwrap();
        let mut v: Vec<(String, bool)> = lib
            .records()
            .photo_infos(&ids)
            .unwrap()
            .into_values()
            .map(|i| {
                let name = i.path.file_name().unwrap().to_string_lossy().into_owned();
                let hash = i.content_hash.expect("indexed photos have a hash");
                (name, lib.thumbs().exists(&hash))
            })
            .collect();
        v.sort();
        v
    };
    let expected: Vec<(String, bool)> = (0..3)
        .map(|i| (format!("local{i}.jpg"), false))
        .chain((0..3).map(|i| (format!("old{i}.jpg"), true)))
        .collect();
    assert_eq!(previews(&lib), expected);
    // Unplugged: the archive's photos stay in the library, and their previews with them.
    std::fs::rename(&external, usb.path().join("gone")).unwrap();
    let s = lib
        .index(
            &[local, external.clone()],
            &enc,
            2,
            &Control::default(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(
        s.offline_roots,
        vec![external.canonicalize().unwrap_or(external)]
    );
    assert_eq!(previews(&lib), expected);
}
