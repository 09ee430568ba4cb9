//! What photos say about themselves, read at indexing and stored in the catalog: date taken
//! (with and without a time-zone offset, falling back to the file time), camera and GPS
//! position; and the date, location and sort options that use them, with exact expected sets.
//! Fixtures: tests/fixtures/exif/, written by tests/fixtures/make_exif_fixtures.py.

use crate::common;

use glimpse_clip::calendar::parse_day;
use glimpse_clip::device::Device;
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_library::catalog::{PhotoFilter, PhotoInfo};
use glimpse_library::pipeline::Control;
use glimpse_library::Library;
use glimpse_query::search::{self, Request, Sort};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

const FILES: [&str; 5] = [
    "tokyo_offset.jpg",
    "rio_no_offset.jpg",
    "new_york_negative_offset.jpg",
    "digitized_only.jpg",
    "no_exif.jpg",
];

fn day(d: &str) -> i64 {
    parse_day(d).unwrap()
}

/// The fixtures copied into a folder (the file time of the one without EXIF set to
/// 2019-05-05) and indexed into a fresh library.
fn indexed() -> (tempfile::TempDir, PathBuf, Library) {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for f in FILES {
        std::fs::copy(common::fixture("exif").join(f), photos.join(f)).unwrap();
    }
    let file = std::fs::File::options()
        .write(true)
        .open(photos.join("no_exif.jpg"))
        .unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(day("2019-05-05") as u64))
        .unwrap();
    drop(file);
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let enc = ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap();
    let library = dir.path().join("library");
    let mut lib = Library::open(&library, &files.name, enc.dim()).unwrap();
    let s = common::index_folder(&mut lib, &enc, &photos);
    assert_eq!(s.progress.encoded, 5, "{s:?}");
    (dir, library, lib)
}

fn infos(lib: &Library) -> Vec<PhotoInfo> {
    let ids = lib.filter_ids(&PhotoFilter::default()).unwrap();
    let mut all: Vec<PhotoInfo> = lib
        .records()
        .photo_infos(&ids)
        .unwrap()
        .into_values()
        .collect();
    all.sort_by_key(|i| i.path.clone());
    all
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn info<'a>(all: &'a [PhotoInfo], file: &str) -> &'a PhotoInfo {
    all.iter().find(|i| name(&i.path) == file).unwrap()
}

/// Every photo passing `filter`, in `sort` order.
fn found(lib: &Library, filter: PhotoFilter, sort: Sort) -> Vec<String> {
    let any = lib.embeddings_with_paths().unwrap()[0].1.clone();
    let mut req = Request::new(100);
    req.filter = filter;
    req.sort = sort;
    search::nearest(lib, &any, &req)
        .unwrap()
        .hits
        .iter()
        .map(|h| name(&h.photo.path))
        .collect()
}

/// Seconds this process's time zone (`TZ`) is ahead of UTC at instant `t`.
fn local_offset(t: i64) -> i64 {
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t: libc::time_t = t;
    // SAFETY: both pointers are to live locals; localtime_r is the thread-safe form.
    assert!(!unsafe { libc::localtime_r(&t, &mut tm) }.is_null());
    tm.tm_gmtoff
}

/// `glimpse <command> --model <test model> <args>` over `library` on a clock in zone `tz`: its
/// standard output, after checking that it succeeded.
fn cli(library: &Path, tz: &str, command: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_glimpse"))
        .env("TZ", tz)
        .args(["--quiet", "--offline", "--library"])
        .arg(library)
        .args([command, "--model"])
        .arg(common::immich_model())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn dates_cameras_and_places_are_read_once_at_indexing() {
    let (_dir, _library, lib) = indexed();
    let all = infos(&lib);

    let tokyo = info(&all, "tokyo_offset.jpg");
    // 08:30 at +09:00 is 23:30 UTC the day before.
    assert_eq!(tokyo.date, day("2024-05-31") + 23 * 3600 + 30 * 60);
    assert!(tokyo.date_taken);
    assert_eq!(tokyo.offset_minutes, Some(540));
    assert_eq!(
        tokyo.local_date,
        day("2024-06-01") + 8 * 3600 + 30 * 60,
        "the camera's clock"
    );
    assert_eq!(tokyo.camera.as_deref(), Some("Canon EOS R5"));
    let (lat, lon) = (tokyo.latitude.unwrap(), tokyo.longitude.unwrap());
    assert!(
        (lat - (35.0 + 39.0 / 60.0 + 29.16 / 3600.0)).abs() < 1e-9,
        "{lat}"
    );
    assert!(
        (lon - (139.0 + 44.0 / 60.0 + 28.8 / 3600.0)).abs() < 1e-9,
        "{lon}"
    );
    assert_eq!((tokyo.width, tokyo.height), (Some(96), Some(64)));

    let rio = info(&all, "rio_no_offset.jpg");
    // No offset recorded: the camera's clock, read as UTC.
    assert_eq!(rio.date, day("2023-12-31") + 86_399);
    assert_eq!(rio.offset_minutes, None);
    assert_eq!(rio.local_date, rio.date);
    assert_eq!(rio.camera.as_deref(), Some("NIKON D850"));
    assert!((rio.latitude.unwrap() + 22.9).abs() < 1e-9);
    assert!((rio.longitude.unwrap() + 43.2).abs() < 1e-9);

    let ny = info(&all, "new_york_negative_offset.jpg");
    assert_eq!(ny.date, day("2024-01-01") + 5 * 3600 + 30 * 60);
    assert_eq!(ny.offset_minutes, Some(-300));
    assert_eq!(ny.local_date, day("2024-01-01") + 30 * 60);
    assert_eq!(ny.camera.as_deref(), Some("Apple iPhone 15"));
    assert_eq!((ny.latitude, ny.longitude), (None, None));

    let digitized = info(&all, "digitized_only.jpg");
    assert_eq!(digitized.date, day("2020-02-29") + 12 * 3600);
    assert!(digitized.date_taken);
    assert_eq!(digitized.camera, None);

    let plain = info(&all, "no_exif.jpg");
    assert_eq!(plain.date, day("2019-05-05"), "the file time");
    assert!(!plain.date_taken);
    assert_eq!(
        plain.local_date,
        plain.date + local_offset(plain.date),
        "the file time on this computer's clock"
    );
    assert_eq!((plain.camera.as_ref(), plain.latitude), (None, None));
}

#[test]
fn date_and_location_filters_return_exactly_the_expected_photos() {
    let (_dir, _library, lib) = indexed();
    let f = |after: Option<&str>, before: Option<&str>, loc: Option<bool>| PhotoFilter {
        after: after.map(day),
        before: before.map(day),
        has_location: loc,
        ..PhotoFilter::default()
    };
    let got = |filter| {
        found(&lib, filter, Sort::Score)
            .into_iter()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        got(f(Some("2024-01-01"), None, None)),
        set(&["tokyo_offset.jpg", "new_york_negative_offset.jpg"])
    );
    assert_eq!(
        got(f(None, Some("2024-01-01"), None)),
        set(&["rio_no_offset.jpg", "digitized_only.jpg", "no_exif.jpg"])
    );
    // One second before midnight is still the 31st.
    assert_eq!(
        got(f(Some("2023-12-31"), Some("2024-01-01"), None)),
        set(&["rio_no_offset.jpg"])
    );
    // Days are cut where the photo was taken: Tokyo's 1 June morning is 31 May in UTC, and
    // New York's first half hour of 2024 is 05:30 UTC.
    assert_eq!(
        got(f(Some("2024-06-01"), Some("2024-06-02"), None)),
        set(&["tokyo_offset.jpg"])
    );
    assert_eq!(
        got(f(Some("2024-05-31"), Some("2024-06-01"), None)),
        set(&[])
    );
    assert_eq!(
        got(f(Some("2024-01-01"), Some("2024-01-02"), None)),
        set(&["new_york_negative_offset.jpg"])
    );
    assert_eq!(
        got(f(None, None, Some(true))),
        set(&["tokyo_offset.jpg", "rio_no_offset.jpg"])
    );
    assert_eq!(
        got(f(None, None, Some(false))),
        set(&[
            "new_york_negative_offset.jpg",
            "digitized_only.jpg",
            "no_exif.jpg"
        ])
    );
    assert_eq!(
        got(f(Some("2024-01-01"), None, Some(true))),
        set(&["tokyo_offset.jpg"])
    );
    // Sorted by date taken (file time where there is none).
    assert_eq!(
        found(&lib, PhotoFilter::default(), Sort::Newest),
        [
            "tokyo_offset.jpg",
            "new_york_negative_offset.jpg",
            "rio_no_offset.jpg",
            "digitized_only.jpg",
            "no_exif.jpg"
        ]
    );
    assert_eq!(
        found(&lib, PhotoFilter::default(), Sort::Oldest)[0],
        "no_exif.jpg"
    );
}

#[test]
fn a_listing_pages_through_the_filtered_photos_by_date() {
    let (_dir, _library, lib) = indexed();
    let list = |filter: PhotoFilter, sort: Sort, offset: usize, limit: usize| {
        let mut req = Request::new(limit);
        req.filter = filter;
        req.sort = sort;
        req.offset = offset;
        let page = search::browse(&lib, &req).unwrap();
        assert!(page.hits.iter().all(|h| h.score.is_none()));
        let names: Vec<String> = page.hits.iter().map(|h| name(&h.photo.path)).collect();
        (names, page.has_more)
    };
    let all = PhotoFilter::default;
    let newest = [
        "tokyo_offset.jpg",
        "new_york_negative_offset.jpg",
        "rio_no_offset.jpg",
        "digitized_only.jpg",
        "no_exif.jpg",
    ];
    assert_eq!(
        list(all(), Sort::Newest, 0, 10),
        (newest.map(String::from).to_vec(), false)
    );
    // Best match means nothing without a query: newest first.
    assert_eq!(
        list(all(), Sort::Score, 0, 2),
        (newest[..2].iter().map(|s| s.to_string()).collect(), true)
    );
    assert_eq!(
        list(all(), Sort::Newest, 2, 2),
        (newest[2..4].iter().map(|s| s.to_string()).collect(), true)
    );
    assert_eq!(
        list(all(), Sort::Newest, 4, 2),
        (vec![newest[4].to_string()], false)
    );
    assert_eq!(list(all(), Sort::Newest, 9, 2), (vec![], false));
    assert_eq!(
        list(all(), Sort::Oldest, 0, 2),
        (
            vec!["no_exif.jpg".to_string(), "digitized_only.jpg".to_string()],
            true
        )
    );
    let since_2024 = PhotoFilter {
        after: Some(day("2024-01-01")),
        ..PhotoFilter::default()
    };
    assert_eq!(
        list(since_2024, Sort::Oldest, 0, 10),
        (
            vec![
                "new_york_negative_offset.jpg".to_string(),
                "tokyo_offset.jpg".to_string()
            ],
            false
        )
    );
    let placed = PhotoFilter {
        has_location: Some(true),
        ..PhotoFilter::default()
    };
    assert_eq!(
        list(placed, Sort::Newest, 0, 10).0,
        ["tokyo_offset.jpg", "rio_no_offset.jpg"]
    );
}

#[test]
fn a_copy_keeps_the_metadata_of_the_photo_whose_vector_it_reuses() {
    let (dir, library, lib) = indexed();
    drop(lib);
    let photos = dir.path().join("photos");
    std::fs::copy(
        photos.join("tokyo_offset.jpg"),
        photos.join("tokyo_copy.jpg"),
    )
    .unwrap();
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let enc = ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap();
    let mut lib = Library::open(&library, &files.name, enc.dim()).unwrap();
    let s = lib
        .index(&[photos], &enc, 2, &Control::default(), &mut |_| {})
        .unwrap();
    assert_eq!(s.progress.encoded, 0, "{s:?}");
    let all = infos(&lib);
    let (a, b) = (info(&all, "tokyo_offset.jpg"), info(&all, "tokyo_copy.jpg"));
    assert_eq!(
        (b.date, b.offset_minutes, &b.camera, b.latitude, b.longitude),
        (a.date, a.offset_minutes, &a.camera, a.latitude, a.longitude)
    );
}

#[test]
fn the_cli_filters_by_location_and_prints_the_camera() {
    let (dir, library, lib) = indexed();
    drop(lib);
    let example = dir.path().join("photos/digitized_only.jpg");
    let example = example.to_str().unwrap();
    let args = ["--device", "cpu", "--has-location", "--json", example];
    let lines: Vec<serde_json::Value> = cli(&library, "UTC0", "similar", &args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: BTreeSet<String> = lines
        .iter()
        .map(|l| name(Path::new(l["path"].as_str().unwrap())))
        .collect();
    assert_eq!(names, set(&["tokyo_offset.jpg", "rio_no_offset.jpg"]));
    let tokyo = lines
        .iter()
        .find(|l| l["path"].as_str().unwrap().ends_with("tokyo_offset.jpg"))
        .unwrap();
    assert_eq!(tokyo["camera"], "Canon EOS R5");
    assert_eq!(tokyo["date_taken"], true);
    assert_eq!(tokyo["offset_minutes"], 540);
}

#[test]
fn a_library_indexed_before_metadata_existed_reads_it_without_encoding_again() {
    let (dir, library, lib) = indexed();
    let facts = |lib: &Library| {
        let mut v: Vec<_> = infos(lib)
            .into_iter()
            .map(|i| {
                (
                    name(&i.path),
                    i.date,
                    i.date_taken,
                    i.offset_minutes,
                    i.camera,
                    i.latitude,
                    i.longitude,
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let expected = facts(&lib);
    drop(lib);
    // Turn the catalog back into what version 2 wrote: no metadata columns beyond taken_at and
    // the GPS pair, and those empty (Glimpse did not read EXIF then).
    let db = rusqlite::Connection::open(library.join("catalog.sqlite")).unwrap();
    db.execute_batch(common::UNDO_KEPT_COUNTS).unwrap();
    db.execute_batch(
        "DROP INDEX photos_by_date;
         ALTER TABLE photos DROP COLUMN metadata_read;
         ALTER TABLE photos DROP COLUMN taken_offset_min;
         ALTER TABLE photos DROP COLUMN camera_make;
         ALTER TABLE photos DROP COLUMN camera_model;
         UPDATE photos SET taken_at = NULL, gps_lat = NULL, gps_lon = NULL;
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(db);
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let enc = ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap();
    let mut lib = Library::open(&library, &files.name, enc.dim()).unwrap();
    let stale = facts(&lib);
    assert!(
        stale.iter().all(|f| !f.2 && f.4.is_none() && f.5.is_none()),
        "the old catalog has no metadata: {stale:?}"
    );
    let photos = dir.path().join("photos");
    let run = |lib: &mut Library| {
        let s = common::index_folder(lib, &enc, &photos);
        (s.queued, s.progress.encoded, s.metadata_read)
    };
    assert_eq!(run(&mut lib), (0, 0, 5), "read, not encoded");
    assert_eq!(facts(&lib), expected);
    assert_eq!(run(&mut lib), (0, 0, 0), "read once");
}

#[test]
fn the_cli_cuts_days_on_the_clock_where_each_photo_was_taken() {
    let (dir, library, lib) = indexed();
    drop(lib);
    // no_exif.jpg's file time is 2019-05-05 00:00 UTC: 19:00 the day before on New York's
    // standard time. Tokyo's photo says 08:30 on 1 June at +09:00 whatever this clock says.
    let days = |tz: &str, after: &str, before: &str| -> Vec<String> {
        let example = dir.path().join("photos/digitized_only.jpg");
        let args = ["--device", "cpu", "--after", after, "--before", before];
        let args = [&args[..], &[example.to_str().unwrap()]].concat();
        let mut lines: Vec<String> = cli(&library, tz, "similar", &args)
            .lines()
            .map(|l| {
                // "0.812  2019-05-04  /path/no_exif.jpg"
                let f: Vec<&str> = l.split_whitespace().collect();
                format!("{} {}", f[1], name(Path::new(f[2])))
            })
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(
        days("EST5", "2019-05-04", "2019-05-05"),
        ["2019-05-04 no_exif.jpg"]
    );
    assert!(days("EST5", "2019-05-05", "2019-05-06").is_empty());
    assert_eq!(
        days("UTC0", "2019-05-05", "2019-05-06"),
        ["2019-05-05 no_exif.jpg"]
    );
    // Daylight saving counts: at 22:30 UTC on 4 May, Central Europe's clocks read 00:30 on the
    // 5th in summer time, 23:30 on the 4th without it.
    let db = rusqlite::Connection::open(library.join("catalog.sqlite")).unwrap();
    let changed = db
        .execute(
            "UPDATE photos SET mtime_ns = ?1 WHERE path LIKE '%no_exif.jpg'",
            [(day("2019-05-04") + 22 * 3600 + 30 * 60) * 1_000_000_000],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let summer = "CET-1CEST,M3.5.0,M10.5.0/3";
    assert_eq!(
        days(summer, "2019-05-05", "2019-05-06"),
        ["2019-05-05 no_exif.jpg"]
    );
    assert!(days(summer, "2019-05-04", "2019-05-05").is_empty());
    assert_eq!(
        days("CET-1", "2019-05-04", "2019-05-05"),
        ["2019-05-04 no_exif.jpg"]
    );
    for tz in ["EST5", "JST-9", "UTC0"] {
        assert_eq!(
            days(tz, "2024-06-01", "2024-06-02"),
            ["2024-06-01 tokyo_offset.jpg"],
            "TZ={tz}"
        );
    }
}

#[test]
fn the_cli_lists_the_filtered_photos_by_date_without_a_query() {
    let (_dir, library, lib) = indexed();
    drop(lib);
    let list = |args: &[&str]| cli(&library, "UTC0", "list", args);
    let text = list(&["--has-location", "--sort", "oldest"]);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0][..2], ["-", "2023-12-31"]);
    assert!(rows[0][2].ends_with("rio_no_offset.jpg"), "{text}");
    assert_eq!(rows[1][..2], ["-", "2024-06-01"]);
    assert!(rows[1][2].ends_with("tokyo_offset.jpg"), "{text}");
    let json = list(&["--json", "--limit", "2"]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["score"].is_null()), "{json}");
    assert!(lines[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("tokyo_offset.jpg"));
    let paths = list(&["--paths", "--before", "2020-01-01"]);
    assert_eq!(paths.lines().count(), 1, "{paths}");
    assert!(paths.trim_end().ends_with("no_exif.jpg"), "{paths}");
}
