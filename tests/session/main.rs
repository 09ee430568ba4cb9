//! The engine as the desktop app holds it (`glimpse_session::session`): folders added and indexed in the
//! background with progress events, searches answered while the indexer works, search by text,
//! by a dropped file and by a library photo, auto-tagging and tag filters, removal, and the
//! gate that decides which files the web view may load. No window is involved.

#[path = "../common/mod.rs"]
mod common;

use common::shapes::{self, Rng, COLOURS, SHAPES};
use glimpse_session::serve::ServeError;
use glimpse_session::views::{
    AutoTagInfo, Event, FilterSpec, HitView, IndexFinished, IndexRebuild, ProgressPhase,
    RebuildStep, RootInfo, SearchQuery,
};
use glimpse_session::{Session, SessionError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const IDLE: Duration = Duration::from_secs(300);

struct Setup {
    dir: tempfile::TempDir,
    session: Session,
    events: Arc<Mutex<Vec<Event>>>,
}

fn setup() -> Setup {
    common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let (session, events) = started(&dir.path().join("library"), &common::shape_model());
    Setup {
        dir,
        session,
        events,
    }
}

/// A started session on `library` with `model`, and every event it sends the window.
fn started(library: &Path, model: &Path) -> (Session, Arc<Mutex<Vec<Event>>>) {
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink_events = events.clone();
    let session = Session::new(
        common::session_config(library, model),
        Arc::new(move |e| sink_events.lock().unwrap().push(e)),
    );
    session.start().unwrap();
    (session, events)
}

/// Draws `per_class` pictures of each listed colour x shape into `dir`.
fn draw(dir: &Path, classes: &[(usize, usize)], per_class: usize, seed: u64) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for &(c, s) in classes {
        for k in 0..per_class {
            let scene = shapes::random_scene(&mut rng, c, s, None);
            let p = dir.join(format!("{}-{}-{k}.png", COLOURS[c].0, SHAPES[s]));
            shapes::save(&shapes::render(&scene), &p);
            out.push(p.canonicalize().unwrap());
        }
    }
    out
}

/// Copies a folder tree (a model folder) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let dest = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// The events of one kind the window heard, in order.
fn heard<T>(events: &Mutex<Vec<Event>>, pick: impl Fn(&Event) -> Option<T>) -> Vec<T> {
    events.lock().unwrap().iter().filter_map(pick).collect()
}

/// The end of every index job the window heard of, in order.
fn finished(events: &Mutex<Vec<Event>>) -> Vec<IndexFinished> {
    heard(events, |e| match e {
        Event::IndexFinished(f) => Some(f.clone()),
        _ => None,
    })
}

fn text(q: &str) -> SearchQuery {
    SearchQuery {
        text: Some(q.into()),
        limit: 20,
        ..SearchQuery::default()
    }
}

// Colours and shapes by index: red 0, green 1, blue 2, yellow 3; circle 0, square 1, star 3.
const RED: usize = 0;
const BLUE: usize = 2;
const YELLOW: usize = 3;
const CIRCLE: usize = 0;
const SQUARE: usize = 1;
const STAR: usize = 3;

#[test]
fn a_folder_is_indexed_in_the_background_and_searched_by_text_example_and_photo() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(
        &photos,
        &[(RED, CIRCLE), (BLUE, SQUARE), (YELLOW, STAR)],
        6,
        7,
    );
    std::fs::write(photos.join("broken.jpg"), b"\xff\xd8\xff\xe0 not really").unwrap();

    let roots = s.session.add_root(&photos).unwrap();
    assert_eq!(roots.len(), 1);
    assert!(s.session.wait_idle(IDLE).unwrap());

    let roots = s.session.roots().unwrap();
    let r = &roots[0];
    assert_eq!((r.photos, r.indexed, r.pending, r.failed), (19, 18, 0, 1));
    assert!(r.online);
    assert_eq!(r.failures.len(), 1);
    assert!(r.failures[0].path.ends_with("broken.jpg"));
    assert!(!r.failures[0].reason.is_empty());

    let status = s.session.status().unwrap();
    assert_eq!((status.photos, status.indexed, status.failed), (19, 18, 1));
    assert_eq!(status.provider.as_deref(), Some("CPU"));
    assert!(status.model.ready);
    assert!(!status.indexing.running);

    // The window heard the job: progress, then the end with the counts.
    let events = s.events.lock().unwrap().clone();
    assert!(events.iter().any(|e| matches!(e, Event::IndexProgress(_))));
    let finished: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::IndexFinished(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    assert!(finished
        .iter()
        .any(|f| f.encoded == 18 && f.failed == 1 && f.error.is_none()));
    assert_eq!(events.last().map(Event::name), Some("index-finished"));

    // Text: the best answer to "red circle" is a red circle. The drawn pictures are small
    // PNGs, so the page shows the files themselves: no preview, and the gate lets them through.
    let page = s.session.search(&text("red circle")).unwrap();
    assert!(!page.hits.is_empty());
    assert!(
        page.hits[0].photo.path.contains("red-circle"),
        "{:?}",
        page.hits[0]
    );
    assert_eq!(page.hits[0].photo.thumbnail, None);
    assert!(s
        .session
        .scope()
        .resolve(Path::new(&page.hits[0].photo.path))
        .is_ok());
    assert!(!page.query_cut);
    // Words beyond what the model reads (77 tokens) are dropped, and the page says so.
    let long = format!(
        "{}red circle",
        "a very long description of a photo, ".repeat(12)
    );
    assert!(s.session.search(&text(&long)).unwrap().query_cut);
    assert!(
        !s.session
            .search(&text(&"red ".repeat(60)))
            .unwrap()
            .query_cut
    );
    // Scores are best first.
    assert!(page.hits.iter().all(|h| h.score.is_some()));
    assert!(page.hits.windows(2).all(|w| w[0].score >= w[1].score));

    // A dropped file outside the library: the photos like it (the model's similar floor keeps
    // out the other shapes, behind "show weaker"), and a preview of the query.
    let outside = s.dir.path().join("dropped");
    let dropped = draw(&outside, &[(BLUE, SQUARE)], 1, 99);
    let by_drop = |include_weak| {
        s.session
            .search(&SearchQuery {
                example_path: Some(dropped[0].display().to_string()),
                limit: 50,
                include_weak,
                ..SearchQuery::default()
            })
            .unwrap()
    };
    let page = by_drop(false);
    assert_eq!(
        page.hits
            .iter()
            .filter(|h| h.photo.path.contains("blue-square"))
            .count(),
        6
    );
    assert_eq!(
        page.hits.len(),
        6,
        "{:?}",
        page.hits
            .iter()
            .map(|h| (&h.photo.path, h.score))
            .collect::<Vec<_>>()
    );
    assert!(page.weaker_hidden);
    let weak = by_drop(true);
    assert_eq!(weak.hits.len(), 18);
    assert!(!weak.weaker_hidden);
    let preview = page.query_preview.expect("preview");
    assert!(
        preview.starts_with("data:image/jpeg;base64,/9j/"),
        "{preview:.40}"
    );

    // "More like this" on a library photo leaves the photo itself out.
    let star = s.session.search(&text("yellow star")).unwrap().hits[0].clone();
    let page = s
        .session
        .search(&SearchQuery {
            example_photo_id: Some(star.photo.id),
            limit: 50,
            ..SearchQuery::default()
        })
        .unwrap();
    assert!(page.hits.iter().all(|h| h.photo.id != star.photo.id));
    assert_eq!(page.hits.len(), 5);
    assert!(page.weaker_hidden);
    assert!(page
        .hits
        .iter()
        .all(|h| h.photo.path.contains("yellow-star")));
    let detail = s.session.photo(star.photo.id).unwrap();
    assert_eq!(detail.path, star.photo.path);
    assert_eq!(
        s.session.photo_path(star.photo.id).unwrap(),
        Path::new(&star.photo.path)
    );

    // An empty query is the listing of every photo (the window's All photos), not an error.
    let all = s.session.search(&text("   ")).unwrap();
    assert_eq!(all.hits.len(), s.session.status().unwrap().indexed as usize);
    assert!(all.hits.iter().all(|h| h.score.is_none()));
    // A date filter that is not a date is refused with the value.
    let bad = s.session.search(&SearchQuery {
        filter: FilterSpec {
            after: Some("last week".into()),
            ..FilterSpec::default()
        },
        ..text("red")
    });
    assert!(matches!(bad, Err(SessionError::BadDate(d)) if d == "last week"));
}

#[test]
fn auto_tags_filter_results_and_removing_a_folder_forgets_it() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 6, 11);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());

    let labels: Vec<String> = ["circle", "square", "triangle"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let first = s.session.default_labels(Some(&photos)).unwrap();
    assert!(!first.keeps_tagging);
    let suggested = first.labels;
    assert!(suggested.contains(&"dog".to_string()), "{suggested:?}");
    let report = s.session.tag_folder(&photos, &labels).unwrap();
    assert_eq!(report.photos, 12);
    // Tagging it again starts from its own labels; another folder from the vocabulary and
    // every label named so far.
    let again = s.session.default_labels(Some(&photos)).unwrap();
    assert!(again.keeps_tagging);
    assert_eq!(again.labels, labels);
    // The folder list says where tags appear by themselves, nested folders included.
    let real = photos.canonicalize().unwrap();
    let inner = real.join("inner");
    std::fs::create_dir_all(&inner).unwrap();
    s.session.tag_folder(&inner, &labels[..2]).unwrap();
    let auto_tags = |s: &Setup| s.session.roots().unwrap().remove(0).auto_tags;
    assert_eq!(
        auto_tags(&s),
        [
            AutoTagInfo {
                folder: real.display().to_string(),
                labels: labels.clone()
            },
            AutoTagInfo {
                folder: inner.display().to_string(),
                labels: labels[..2].to_vec()
            }
        ]
    );
    assert!(s.session.stop_auto_tag(&inner).unwrap());
    assert_eq!(auto_tags(&s).len(), 1);
    let elsewhere = [suggested, labels.clone()].concat();
    let other = s.session.default_labels(Some(s.dir.path())).unwrap();
    assert_eq!(
        (other.labels, other.keeps_tagging),
        (elsewhere.clone(), false)
    );
    assert!(report.tagged >= 10, "{report:?}");
    let tags = s.session.tags().unwrap();
    let circles = tags
        .iter()
        .find(|t| t.name == "circle")
        .expect("circle tag");
    assert!(circles.count >= 5, "{tags:?}");
    assert!(!tags.iter().any(|t| t.name == "triangle" && t.count > 2));

    // Filtering by a tag returns only photos carrying it, and includes weak matches on ask.
    let page = s
        .session
        .search(&SearchQuery {
            filter: FilterSpec {
                tag: Some("circle".into()),
                ..FilterSpec::default()
            },
            include_weak: true,
            limit: 50,
            ..text("a shape")
        })
        .unwrap();
    assert_eq!(page.hits.len() as u64, circles.count);
    assert!(page
        .hits
        .iter()
        .all(|h| h.photo.tags.contains(&"circle".into())));
    assert!(page.hits.iter().all(|h| h.photo.path.contains("circle")));

    // The tag alone, with nothing typed, lists every photo carrying it, unscored, newest first;
    // nothing typed and no filter lists every photo.
    let listed = |filter: FilterSpec, limit: usize| {
        s.session
            .search(&SearchQuery {
                filter,
                limit,
                ..text("  ")
            })
            .unwrap()
    };
    let circle = || FilterSpec {
        tag: Some("circle".into()),
        ..FilterSpec::default()
    };
    let all = listed(circle(), 50);
    let mut want: Vec<_> = page.hits.iter().map(|h| h.photo.path.clone()).collect();
    let mut got: Vec<_> = all.hits.iter().map(|h| h.photo.path.clone()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert!(!all.has_more && !all.weaker_hidden);
    assert!(all.hits.iter().all(|h| h.score.is_none()), "{all:?}");
    assert!(all
        .hits
        .windows(2)
        .all(|w| (w[0].photo.date, w[0].photo.id) >= (w[1].photo.date, w[1].photo.id)));
    let first = listed(circle(), 2);
    assert_eq!(first.hits.len(), 2);
    assert!(first.has_more);
    assert_eq!(first.hits, all.hits[..2]);
    let everything = listed(FilterSpec::default(), 50);
    assert!(everything.hits.len() > all.hits.len());
    assert!(everything.hits.iter().all(|h| h.score.is_none()));

    // Removing the folder forgets its photos (the files stay) and narrows what is served.
    let inside = page.hits[0].photo.path.clone();
    assert!(s.session.scope().resolve(Path::new(&inside)).is_ok());
    let roots = s.session.remove_root(&photos).unwrap();
    assert!(roots.is_empty());
    assert!(Path::new(&inside).is_file());
    assert_eq!(
        s.session.scope().resolve(Path::new(&inside)),
        Err(ServeError::Outside(inside.clone()))
    );
    let page = s
        .session
        .search(&SearchQuery {
            include_weak: true,
            ..text("red circle")
        })
        .unwrap();
    assert!(page.hits.is_empty(), "{:?}", page.hits);
}

#[test]
fn the_type_filter_offers_the_formats_the_library_holds_and_narrows_to_them() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE)], 4, 5);
    let mut rng = Rng::new(9);
    for k in 0..2 {
        let scene = shapes::random_scene(&mut rng, BLUE, SQUARE, None);
        shapes::save(
            &shapes::render(&scene),
            &photos.join(format!("blue-{k}.jpg")),
        );
    }
    for (from, to) in [
        ("formats/photo_lossless.jxl", "lossless.jxl"),
        ("raw/fuji.raf", "fuji.raf"),
        ("raw/canon.cr3", "canon.cr3"),
        ("raw/small_preview.nef", "unreadable.nef"),
    ] {
        std::fs::copy(common::fixture(from), photos.join(to)).unwrap();
    }
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());

    // Formats of searchable photos only (the NEF without a usable picture is not one), most
    // photos first, spelled as the filter takes them.
    let formats: Vec<(String, u64)> = s
        .session
        .formats()
        .unwrap()
        .into_iter()
        .map(|f| (f.format, f.count))
        .collect();
    let want: Vec<(String, u64)> = [("png", 4), ("jpeg", 2), ("cr3", 1), ("jxl", 1), ("raf", 1)]
        .iter()
        .map(|&(f, n)| (f.to_string(), n))
        .collect();
    assert_eq!(formats, want);

    // Each offered format narrows a listing to exactly its photos.
    let names = |types: &[&str]| {
        let page = s
            .session
            .search(&SearchQuery {
                filter: FilterSpec {
                    types: types.iter().map(|t| t.to_string()).collect(),
                    ..FilterSpec::default()
                },
                limit: 50,
                ..SearchQuery::default()
            })
            .unwrap();
        let mut names: Vec<String> = page
            .hits
            .iter()
            .map(|h| {
                Path::new(&h.photo.path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&["cr3", "raf"]), ["canon.cr3", "fuji.raf"]);
    assert_eq!(names(&["raw"]), ["canon.cr3", "fuji.raf"]);
    assert_eq!(names(&["JPG"]), names(&["jpeg"]));
    assert_eq!(names(&["jxl"]), ["lossless.jxl"]);
    assert_eq!(names(&["jpeg"]), ["blue-0.jpg", "blue-1.jpg"]);
    assert_eq!(names(&["png"]).len(), 4);
}

#[test]
fn searches_answer_while_the_indexer_is_held_and_see_new_photos_after() {
    let s = setup();
    let first = s.dir.path().join("first");
    draw(&first, &[(RED, CIRCLE)], 5, 3);
    s.session.add_root(&first).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());

    // Held before the next job starts: the job waits, searches go on.
    let state = s.session.pause().unwrap();
    assert!(state.paused);
    let second = s.dir.path().join("second");
    draw(&second, &[(BLUE, SQUARE)], 5, 4);
    s.session.add_root(&second).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(!s.session.wait_idle(Duration::from_millis(200)).unwrap());
    let st = s.session.status().unwrap();
    assert!(st.indexing.running && st.indexing.paused, "{st:?}");
    let page = s
        .session
        .search(&SearchQuery {
            include_weak: true,
            ..text("blue square")
        })
        .unwrap();
    assert_eq!(
        page.hits.len(),
        5,
        "only the first folder is searchable yet"
    );
    assert!(page
        .hits
        .iter()
        .all(|h| h.photo.path.contains("red-circle")));
    let pending = s.session.roots().unwrap();
    assert_eq!(pending[1].indexed, 0);

    s.session.resume().unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let page = s.session.search(&text("blue square")).unwrap();
    assert!(
        page.hits[0].photo.path.contains("blue-square"),
        "{:?}",
        page.hits
    );
    let roots = s.session.roots().unwrap();
    assert_eq!(roots[1].indexed, 5);
}

#[test]
fn photos_copied_into_a_folder_later_are_indexed_without_asking() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE)], 3, 21);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    // The folder was auto-tagged before the new photos came.
    let labels = vec!["circle".to_string(), "star".into()];
    assert_eq!(s.session.tag_folder(&photos, &labels).unwrap().photos, 3);
    // The watcher re-arms on the new root a moment after it is added.
    std::thread::sleep(Duration::from_millis(1500));
    let staging = s.dir.path().join("staging");
    let added = draw(&staging, &[(YELLOW, STAR)], 2, 22);
    for p in &added {
        std::fs::rename(p, photos.join(p.file_name().unwrap())).unwrap();
    }
    let found = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        s.session.roots().unwrap()[0].indexed == 5
    });
    assert!(found, "{:?}", s.session.roots().unwrap());
    assert!(s.session.wait_idle(IDLE).unwrap());
    let page = s.session.search(&text("yellow star")).unwrap();
    assert!(
        page.hits[0].photo.path.contains("yellow-star"),
        "{:?}",
        page.hits
    );
    // ... and got the folder's tags on arrival: a star, as tagging the folder again says.
    let stars: Vec<_> = page
        .hits
        .iter()
        .filter(|h| h.photo.path.contains("yellow-star"))
        .collect();
    assert_eq!(stars.len(), 2);
    for h in &stars {
        assert_eq!(h.photo.tags, ["star"], "{:?}", h.photo);
    }
    s.session.tag_folder(&photos, &labels).unwrap();
    for h in &stars {
        assert_eq!(s.session.photo(h.photo.id).unwrap().tags, h.photo.tags);
    }

    // Stopped: the next photo copied in is indexed and left untagged; the tags stay.
    assert!(s.session.stop_auto_tag(&photos).unwrap());
    assert!(
        !s.session
            .default_labels(Some(&photos))
            .unwrap()
            .keeps_tagging
    );
    assert!(!s.session.stop_auto_tag(&photos).unwrap());
    let later = draw(&staging.join("later"), &[(YELLOW, STAR)], 1, 23);
    let moved = photos.join("later-star.png");
    std::fs::rename(&later[0], &moved).unwrap();
    let found = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        s.session.roots().unwrap()[0].indexed == 6
    });
    assert!(found, "{:?}", s.session.roots().unwrap());
    assert!(s.session.wait_idle(IDLE).unwrap());
    let page = s.session.search(&text("yellow star")).unwrap();
    let new = page
        .hits
        .iter()
        .find(|h| h.photo.path.ends_with("later-star.png"));
    assert_eq!(
        new.expect("the new star is found").photo.tags,
        Vec::<String>::new()
    );
    assert_eq!(s.session.photo(stars[0].photo.id).unwrap().tags, ["star"]);
}

#[test]
fn a_folder_that_comes_back_is_online_again_without_asking() {
    // An external drive unplugged, then plugged back in while the window is open.
    let s = setup();
    let drive = s.dir.path().join("drive");
    let photos = drive.join("Photos");
    draw(&photos, &[(RED, CIRCLE)], 3, 31);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let unplugged = s.dir.path().join("unplugged");
    std::fs::rename(&drive, &unplugged).unwrap();
    let root = |s: &Setup| s.session.roots().unwrap().remove(0);
    let wait = |what: &str, ok: &dyn Fn(&RootInfo) -> bool| {
        let t = Instant::now();
        while !ok(&root(&s)) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{what}: {:?}",
                root(&s)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait("offline once unplugged", &|r| !r.online);
    // Plugged in again, with a photo added elsewhere meanwhile.
    draw(&unplugged.join("Photos"), &[(YELLOW, STAR)], 1, 32);
    std::fs::rename(&unplugged, &drive).unwrap();
    wait("online and indexed once back", &|r| {
        r.online && r.indexed == 4
    });
    let page = s.session.search(&text("yellow star")).unwrap();
    assert!(
        page.hits[0].photo.path.contains("yellow-star"),
        "{:?}",
        page.hits
    );

    // Unplugged again, leaving its mount point behind as an empty folder: offline, and it
    // stays so without re-indexing over and over.
    std::fs::rename(&drive, &unplugged).unwrap();
    std::fs::create_dir_all(&photos).unwrap();
    wait("offline behind an empty mount point", &|r| !r.online);
    // A few jobs follow the unplugging (the watch's events, the next look at the roots, the
    // re-armed watch), in an order the machine's load decides; then the indexer must fall
    // quiet. Settled means idle with no job finished for longer than a look plus the
    // watcher's longest debounce; a watcher that re-indexes over and over never settles.
    let start = Instant::now();
    loop {
        assert!(s.session.wait_idle(IDLE).unwrap());
        let jobs = finished(&s.events).len();
        std::thread::sleep(Duration::from_secs(8));
        if finished(&s.events).len() == jobs && s.session.wait_idle(Duration::ZERO).unwrap() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the watcher keeps re-indexing: {} jobs so far",
            finished(&s.events).len()
        );
    }
    // And it stays quiet.
    let jobs = finished(&s.events).len();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        finished(&s.events).len(),
        jobs,
        "the watcher keeps re-indexing"
    );
    // Mounted over it again: its photos are there again.
    std::fs::remove_dir(&photos).unwrap();
    std::fs::rename(unplugged.join("Photos"), &photos).unwrap();
    wait("online once mounted again", &|r| r.online && r.indexed == 4);
}

#[test]
fn pages_and_filters_of_a_query_reuse_its_vector() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 3, 71);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let base = s.session.query_encodes();
    let words = |text: &str, offset, sort: &str, include_weak| SearchQuery {
        text: Some(text.into()),
        limit: 2,
        offset,
        include_weak,
        sort: sort.into(),
        ..SearchQuery::default()
    };
    // Scrolling to the next page, "Show more", another sort: one caption, embedded once.
    let first = s
        .session
        .search(&words("red circle", 0, "score", true))
        .unwrap();
    let next = s
        .session
        .search(&words("red circle", 2, "score", true))
        .unwrap();
    s.session
        .search(&words("red circle", 0, "newest", false))
        .unwrap();
    assert_eq!(s.session.query_encodes(), base + 1);
    // The pages continue one another: the same vector ranks the same way.
    let all: Vec<_> = first.hits.iter().chain(&next.hits).collect();
    assert_eq!(all.len(), 4);
    assert!(all
        .windows(2)
        .all(|w| w[0].score >= w[1].score && w[0].photo.id != w[1].photo.id));
    // A minus term is one more caption; the description is remembered.
    s.session
        .search(&words("red circle -square", 0, "score", true))
        .unwrap();
    assert_eq!(s.session.query_encodes(), base + 2);

    // A dropped picture outside the library: encoded once for all its pages ...
    let dropped = draw(&s.dir.path().join("dropped"), &[(BLUE, SQUARE)], 1, 72).remove(0);
    let by_picture = |offset| SearchQuery {
        example_path: Some(dropped.display().to_string()),
        limit: 2,
        offset,
        include_weak: true,
        ..SearchQuery::default()
    };
    let first = s.session.search(&by_picture(0)).unwrap();
    let next = s.session.search(&by_picture(2)).unwrap();
    assert_eq!(s.session.query_encodes(), base + 3);
    assert!(first.query_preview.is_some() && first.query_preview == next.query_preview);
    assert!(first.hits[0].photo.path.contains("blue-square"));
    // ... and again once the file is another picture.
    let other = draw(&s.dir.path().join("other"), &[(RED, CIRCLE)], 1, 73).remove(0);
    std::fs::rename(&other, &dropped).unwrap();
    let changed = s.session.search(&by_picture(0)).unwrap();
    assert_eq!(s.session.query_encodes(), base + 4);
    assert!(changed.hits[0].photo.path.contains("red-circle"));
}

#[test]
fn a_dropped_camera_raw_file_is_a_query_like_any_picture() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 2, 61);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    // What the window lets through a drop is what the engine reads.
    let types = s.session.picture_types();
    assert!(types.iter().any(|t| t == "jpg"), "{types:?}");
    for raw in ["dng_preview.dng", "sensor.dng", "canon.cr3", "fuji.raf"] {
        let path = common::fixture(&format!("raw/{raw}"));
        let ext = path.extension().unwrap().to_string_lossy().to_lowercase();
        assert!(types.contains(&ext), "{ext} not in {types:?}");
        let page = s
            .session
            .search(&SearchQuery {
                example_path: Some(path.display().to_string()),
                limit: 10,
                include_weak: true,
                ..SearchQuery::default()
            })
            .unwrap();
        assert_eq!(page.hits.len(), 4, "{raw}");
        assert!(
            page.query_preview
                .is_some_and(|d| d.starts_with("data:image/jpeg;base64,")),
            "{raw} has no preview"
        );
    }
    // One that cannot be read says why.
    let unreadable = common::fixture("raw/small_preview.nef");
    match s.session.search(&SearchQuery {
        example_path: Some(unreadable.display().to_string()),
        ..SearchQuery::default()
    }) {
        Err(e) => assert!(e.to_string().contains("embedded preview is 160x120"), "{e}"),
        Ok(page) => panic!("an unreadable RAW gave {} results", page.hits.len()),
    }
}

#[test]
fn a_folder_offline_when_the_window_opens_is_served_once_it_is_back() {
    let s = setup();
    let drive = s.dir.path().join("drive");
    let photos = drive.join("Photos");
    let drawn = draw(&photos, &[(RED, CIRCLE)], 2, 33);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let library = s.dir.path().join("library");
    drop(s.session);
    // The drive is unplugged while Glimpse is closed, and plugged in once it runs again.
    let unplugged = s.dir.path().join("unplugged");
    std::fs::rename(&drive, &unplugged).unwrap();
    let session = Session::new(
        common::session_config(&library, &common::shape_model()),
        Arc::new(|_| {}),
    );
    session.start().unwrap();
    assert!(session.wait_idle(IDLE).unwrap());
    assert!(!session.roots().unwrap()[0].online);
    std::fs::rename(&unplugged, &drive).unwrap();
    let t = Instant::now();
    while !session.roots().unwrap()[0].online {
        assert!(t.elapsed() < Duration::from_secs(30), "never came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    let scope = session.scope();
    for p in &drawn {
        assert!(scope.resolve(p).is_ok(), "{} is not served", p.display());
    }
}

#[test]
fn the_web_view_gets_files_inside_the_roots_and_the_thumbnail_cache_only() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    let drawn = draw(&photos, &[(RED, CIRCLE)], 2, 5);
    let secret = s.dir.path().join("secret.txt");
    std::fs::write(&secret, "not a photo").unwrap();
    std::os::unix::fs::symlink(&secret, photos.join("link-out.jpg")).unwrap();
    std::os::unix::fs::symlink(&drawn[0], photos.join("link-in.png")).unwrap();
    std::fs::create_dir(photos.join("sub")).unwrap();
    // Inside the folder and not photos of the library: a document, a picture in a hidden folder.
    let notes = photos.join("notes.txt");
    std::fs::write(&notes, "not a photo").unwrap();
    let hidden = photos.join(".cache").join("red.png");
    std::fs::create_dir(photos.join(".cache")).unwrap();
    std::fs::copy(&drawn[1], &hidden).unwrap();
    // Over a megapixel: this one gets a preview in the cache.
    let large = photos.join("sub").join("large.png");
    image::RgbImage::from_pixel(1600, 1200, image::Rgb([200, 30, 30]))
        .save(&large)
        .unwrap();
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let scope = s.session.scope();
    // Links are never followed by the indexer either: only the three drawn files are photos.
    let root = &s.session.roots().unwrap()[0];
    assert_eq!((root.photos, root.indexed), (3, 3), "{root:?}");
    let page = s.session.search(&text("red")).unwrap();
    let large_hit = page
        .hits
        .iter()
        .find(|h| h.photo.path.ends_with("large.png"))
        .expect("the large photo is found");
    let thumb = large_hit.photo.thumbnail.clone().expect("a preview");
    assert!(scope.resolve(Path::new(&thumb)).is_ok(), "{thumb}");

    assert_eq!(scope.resolve(&drawn[0]).unwrap(), drawn[0]);
    assert_eq!(
        scope.resolve(&photos.join("link-in.png")).unwrap(),
        drawn[0]
    );
    let shown = |p: &Path| p.display().to_string();
    assert_eq!(
        scope.resolve(&secret),
        Err(ServeError::Outside(shown(&secret)))
    );
    let traversal = photos.join("..").join("secret.txt");
    assert_eq!(
        scope.resolve(&traversal),
        Err(ServeError::Outside(shown(&traversal)))
    );
    let climb_back = photos
        .join("sub")
        .join("..")
        .join(drawn[0].file_name().unwrap());
    assert!(matches!(
        scope.resolve(&climb_back),
        Err(ServeError::Outside(_))
    ));
    let link_out = photos.join("link-out.jpg");
    assert_eq!(
        scope.resolve(&link_out),
        Err(ServeError::Outside(shown(&link_out)))
    );
    assert_eq!(
        scope.resolve(Path::new("/etc/passwd")),
        Err(ServeError::Outside("/etc/passwd".into()))
    );
    assert_eq!(
        scope.resolve(&photos.join("sub")),
        Err(ServeError::NotFile(shown(&photos.join("sub"))))
    );
    assert!(matches!(
        scope.resolve(&photos.join("nope.jpg")),
        Err(ServeError::Missing(_))
    ));
    assert!(matches!(
        scope.resolve(Path::new("relative.jpg")),
        Err(ServeError::NotAbsolute(_))
    ));
    // The library's own catalog sits beside the thumbnails and is not served.
    let catalog = s.dir.path().join("library").join("catalog.sqlite");
    if catalog.exists() {
        assert!(matches!(
            scope.resolve(&catalog),
            Err(ServeError::Outside(_))
        ));
    }

    // What the protocol serves: the library's photos and thumbnails, nothing else in a folder.
    let served = |p: &Path| s.session.served_file(p);
    for p in &drawn {
        assert_eq!(served(p).unwrap(), *p);
    }
    assert_eq!(served(Path::new(&large_hit.photo.path)).unwrap(), large);
    assert_eq!(served(Path::new(&thumb)).unwrap(), PathBuf::from(&thumb));
    assert_eq!(served(&photos.join("link-in.png")).unwrap(), drawn[0]);
    assert!(scope.resolve(&notes).is_ok() && scope.resolve(&hidden).is_ok());
    assert_eq!(served(&notes), Err(ServeError::NotAPhoto(shown(&notes))));
    assert_eq!(served(&hidden), Err(ServeError::NotAPhoto(shown(&hidden))));
    assert_eq!(served(&secret), Err(ServeError::Outside(shown(&secret))));
    assert_eq!(
        served(&link_out),
        Err(ServeError::Outside(shown(&link_out)))
    );
    assert!(matches!(served(&traversal), Err(ServeError::Outside(_))));
}

#[test]
fn a_dropped_picture_is_searched_by_the_token_the_shell_gave_it_and_never_by_a_page_path() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 2, 81);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let dropped = draw(&s.dir.path().join("dropped"), &[(BLUE, SQUARE)], 1, 82).remove(0);
    let notes = s.dir.path().join("notes.txt");
    std::fs::write(&notes, "not a picture").unwrap();
    let files = s.session.remember_drop(&[notes.clone(), dropped.clone()]);
    assert_eq!(files.len(), 2);
    assert_eq!(files[1].path, dropped.display().to_string());
    assert_ne!(files[0].token, files[1].token);
    let by_token = |token| {
        s.session.search(&SearchQuery {
            example_drop: Some(token),
            limit: 10,
            ..SearchQuery::default()
        })
    };
    let page = by_token(files[1].token).unwrap();
    assert!(page.hits[0].photo.path.contains("blue-square"), "{page:?}");
    assert!(page.query_preview.is_some());
    // A token the shell never gave (or forgot) names nothing.
    let unknown = files[1].token + 1000;
    assert!(matches!(
        by_token(unknown),
        Err(SessionError::UnknownDrop(t)) if t == unknown
    ));
    // Only the latest drops are remembered.
    let many: Vec<PathBuf> = vec![dropped.clone(); glimpse_session::DROPS_KEPT];
    let newer = s.session.remember_drop(&many);
    assert!(by_token(newer[0].token).is_ok());
    assert!(matches!(
        by_token(files[1].token),
        Err(SessionError::UnknownDrop(_))
    ));
    // A page that names a file gets a query without it: the path is never read.
    let q: SearchQuery = serde_json::from_str(&format!(
        r#"{{"examplePath":{:?},"limit":10}}"#,
        dropped.display().to_string()
    ))
    .unwrap();
    assert_eq!(q.example_path, None);
    // What is left is the listing of every photo, unscored: nothing came from the file.
    let page = s.session.search(&q).unwrap();
    assert!(!page.hits.is_empty() && page.hits.iter().all(|h| h.score.is_none()));
}

#[test]
fn searches_answer_while_a_large_dropped_picture_is_decoded() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 2, 91);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    // 48 megapixels of PNG: decoding it (twice: for the model and for the query's preview)
    // takes far longer than a search by words the window has searched for already.
    let big = s.dir.path().join("big.png");
    let (w, h) = (8000u32, 6000u32);
    let pixels = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x / 32) as u8, (y / 24) as u8, ((x + y) / 56) as u8])
    });
    use image::ImageEncoder as _;
    let file = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    image::codecs::png::PngEncoder::new_with_quality(
        file,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(&pixels, w, h, image::ExtendedColorType::Rgb8)
    .unwrap();
    drop(pixels);
    let token = s.session.remember_drop(std::slice::from_ref(&big))[0].token;
    s.session.search(&text("red circle")).unwrap();

    let done = std::sync::atomic::AtomicBool::new(false);
    let (begun_tx, begun) = std::sync::mpsc::channel();
    let answered_meanwhile = std::thread::scope(|scope| {
        let example = scope.spawn(|| {
            begun_tx.send(()).unwrap();
            let page = s.session.search(&SearchQuery {
                example_drop: Some(token),
                limit: 10,
                include_weak: true,
                ..SearchQuery::default()
            });
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            page
        });
        begun.recv().unwrap();
        // Searches by words while the picture is decoded: each one that comes back before
        // the picture's search does is one that did not wait for it.
        let mut meanwhile = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let page = s.session.search(&text("red circle")).unwrap();
            assert!(!page.hits.is_empty());
            if !done.load(std::sync::atomic::Ordering::SeqCst) {
                meanwhile += 1;
            }
            // A pause between searches, as a person's typing would leave: the loop does not
            // take a whole core from the tests beside it.
            std::thread::sleep(Duration::from_millis(1));
        }
        let page = example.join().unwrap().unwrap();
        assert_eq!(page.hits.len(), 4, "{page:?}");
        assert!(page.query_preview.is_some());
        meanwhile
    });
    // Holding the reader through the decode lets through only the few searches that finish
    // before the picture's search takes it (2 when it did); not holding it, hundreds answer
    // while the picture is decoded.
    assert!(
        answered_meanwhile >= 100,
        "only {answered_meanwhile} searches answered while the picture was decoded"
    );
}

#[test]
fn a_pasted_folder_is_checked_and_resolved_before_the_user_is_asked_to_add_it() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE)], 1, 95);
    let link = s.dir.path().join("link-to-photos");
    std::os::unix::fs::symlink(&photos, &link).unwrap();
    // The folder it really is, and nothing added yet: the shell asks first.
    assert_eq!(
        s.session.folder_to_add(&link).unwrap(),
        photos.canonicalize().unwrap()
    );
    assert!(s.session.roots().unwrap().is_empty());
    let file = photos.read_dir().unwrap().next().unwrap().unwrap().path();
    assert_eq!(
        s.session.folder_to_add(&file).unwrap_err().to_string(),
        "it is a file, not a folder"
    );
    assert_eq!(
        s.session
            .folder_to_add(&s.dir.path().join("nope"))
            .unwrap_err()
            .to_string(),
        "there is no such folder"
    );
    s.session.add_root(&photos).unwrap();
    assert_eq!(
        s.session
            .folder_to_add(&photos.join("inner"))
            .map_err(|e| e.to_string()),
        Err("there is no such folder".to_string())
    );
    std::fs::create_dir(photos.join("inner")).unwrap();
    // A folder inside a root resolves too; the shell then asks who holds it and says so
    // instead of asking the user to add it.
    let inner = s.session.folder_to_add(&photos.join("inner")).unwrap();
    assert_eq!(
        s.session.holder_of(&inner).unwrap(),
        Some(photos.canonicalize().unwrap())
    );
}

#[test]
fn a_window_that_names_no_model_uses_the_one_the_library_was_indexed_with() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 2, 61);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let mut cfg = common::session_config(&s.dir.path().join("library"), &common::shape_model());
    cfg.model = None;
    let other = Session::new(cfg, Arc::new(|_| {}));
    let want = common::shape_model().canonicalize().unwrap();
    assert_eq!(other.model_state().name, want.display().to_string());
    other.start().unwrap();
    let page = other.search(&text("red circle")).unwrap();
    assert!(page.hits[0].photo.path.contains("red-circle"), "{page:?}");
    // A library nobody has indexed starts from the default model.
    let mut cfg = common::session_config(&s.dir.path().join("new-library"), &common::shape_model());
    cfg.model = None;
    let fresh = Session::new(cfg, Arc::new(|_| {}));
    let state = fresh.model_state();
    assert_eq!(state.name, glimpse_clip::model::manifest::DEFAULT_MODEL);
    // The first-run screen says what it downloads; a model folder has no such line.
    assert!(state.description.unwrap().contains("about 600 MB"));
    assert_eq!(other.model_state().description, None);
}

#[test]
fn a_missing_model_is_reported_for_the_first_run_screen() {
    common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg =
        common::session_config(&dir.path().join("library"), Path::new("ViT-B-32__openai"));
    cfg.model = Some(glimpse_clip::model::manifest::DEFAULT_MODEL.to_string());
    cfg.models_dir = dir.path().join("models");
    let session = Session::new(cfg, Arc::new(|_| {}));
    let state = session.model_state();
    assert!(!state.ready);
    assert!(state.problem.is_some());
    assert!(state
        .dir
        .starts_with(&dir.path().join("models").display().to_string()));
    assert!(matches!(
        session.start(),
        Err(SessionError::ModelNotReady(_))
    ));
    assert!(matches!(
        session.search(&text("dog")),
        Err(SessionError::ModelNotReady(_))
    ));
    let status = session.status().unwrap();
    assert!(!status.model.ready && status.provider.is_none());
    // Adding a folder that is not one is refused with its path.
    let e = session.add_root(Path::new("/no/such/folder"));
    assert!(e.is_err());
}

#[test]
fn a_second_window_searches_while_another_glimpse_indexes_and_takes_over_after() {
    let Setup { dir, session, .. } = setup();
    let photos = dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE)], 3, 41);
    session.add_root(&photos).unwrap();
    assert!(session.wait_idle(IDLE).unwrap());

    // Two writers would each save a vector index without the other's new photos: the second
    // window reads what the first saves and changes nothing.
    let cfg = common::session_config(&dir.path().join("library"), &common::shape_model());
    let second = Session::new(cfg, Arc::new(|_| {}));
    second.start().unwrap();
    let st = second.status().unwrap();
    let holder = st.held_by.clone().unwrap_or_default();
    assert!(
        holder.ends_with(&format!("pid {}", std::process::id())),
        "the holder is named: {st:?}"
    );
    assert!(st.library_problem.is_none() && st.model.ready, "{st:?}");
    assert_eq!((st.photos, st.indexed), (3, 3), "{st:?}");
    let weak = |q: &str| SearchQuery {
        include_weak: true,
        ..text(q)
    };
    assert_eq!(second.search(&weak("red circle")).unwrap().hits.len(), 3);
    let more = dir.path().join("more");
    draw(&more, &[(BLUE, SQUARE)], 2, 42);
    for refused in [
        second.add_root(&more).map(|_| ()),
        second.remove_root(&photos).map(|_| ()),
        second.pause().map(|_| ()),
        second.set_read_text(false).map(|_| ()),
    ] {
        match refused {
            Err(SessionError::Held(h)) => assert_eq!(h, holder),
            other => panic!("a reading window changed the library: {other:?}"),
        }
    }
    assert_eq!(second.roots().unwrap().len(), 1);
    // What the first window indexes meanwhile shows in the second.
    session.add_root(&more).unwrap();
    assert!(session.wait_idle(IDLE).unwrap());
    let hits = second.search(&weak("blue square")).unwrap().hits;
    assert_eq!(hits.len(), 5);
    // And its pictures load: the folder the first added is served by the second once it has
    // polled its status (the window does every few seconds).
    assert_eq!(second.status().unwrap().photos, 5);
    let scope = second.scope();
    for h in &hits {
        assert!(
            scope.resolve(Path::new(&h.photo.path)).is_ok(),
            "{} is not served",
            h.photo.path
        );
    }

    // Once the first has quit, the second becomes the indexer when it next asks.
    drop(session);
    let deadline = Instant::now() + Duration::from_secs(30);
    let st = loop {
        let st = second.status().unwrap();
        if st.held_by.is_none() || Instant::now() > deadline {
            break st;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(st.held_by.is_none() && st.provider.is_some(), "{st:?}");
    let third = dir.path().join("third");
    draw(&third, &[(YELLOW, STAR)], 2, 43);
    second.add_root(&third).unwrap();
    assert!(second.wait_idle(IDLE).unwrap());
    assert_eq!(second.status().unwrap().indexed, 7);
}

#[test]
fn folders_that_cannot_be_used_are_refused_with_the_reason() {
    let s = setup();
    let file = s.dir.path().join("a-file.png");
    std::fs::write(&file, b"x").unwrap();
    for (p, why) in [
        (PathBuf::from("/no/such/folder"), "there is no such folder"),
        (file.clone(), "it is a file, not a folder"),
        (
            s.dir.path().join("library/thumbs"),
            "inside Glimpse's own library",
        ),
    ] {
        match s.session.add_root(&p) {
            Err(SessionError::Folder { reason, .. }) => assert!(reason.contains(why), "{reason}"),
            other => panic!("{} accepted: {other:?}", p.display()),
        }
    }
    assert!(s.session.roots().unwrap().is_empty());
}

#[test]
fn a_folder_added_above_folders_takes_them_in_and_one_inside_is_said_to_be_there() {
    let s = setup();
    let top = s.dir.path().join("Pictures");
    let phone = top.join("Phone");
    let camera = top.join("Camera");
    draw(&phone, &[(RED, CIRCLE)], 3, 1);
    draw(&camera, &[(BLUE, SQUARE)], 3, 2);
    draw(&top, &[(YELLOW, STAR)], 2, 3);
    s.session.add_root(&phone).unwrap();
    s.session.add_root(&camera).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    assert_eq!(s.session.roots().unwrap().len(), 2);

    // The folder above both: one root with every photo, the six already indexed kept (the
    // job that follows encodes only the two new ones and fails nothing).
    let roots = s.session.add_root(&top).unwrap();
    let real = top.canonicalize().unwrap().display().to_string();
    assert_eq!(
        roots.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        [real.as_str()]
    );
    assert!(s.session.wait_idle(IDLE).unwrap());
    let r = &s.session.roots().unwrap()[0];
    assert_eq!((r.photos, r.indexed, r.failed), (8, 8, 0));
    let jobs = finished(&s.events);
    let last = jobs.last().unwrap();
    assert_eq!((last.error.as_deref(), last.encoded), (None, 2), "{jobs:?}");

    // The folder tree below it: each subfolder with its photos (the root's own are its own).
    let tree: Vec<(String, u64)> = s
        .session
        .folders(&top.canonicalize().unwrap())
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.photos))
        .collect();
    let sub = |name: &str| top.canonicalize().unwrap().join(name).display().to_string();
    assert_eq!(tree, [(sub("Camera"), 3), (sub("Phone"), 3)]);
    assert!(s.session.folders(&phone).unwrap().is_empty(), "not a root");
    // A folder inside it is already there: nothing is added, and the answer says where (not
    // an error: its photos are searchable).
    let jobs = finished(&s.events).len();
    let inside = s.session.add_folder(&phone).unwrap();
    let phone_real = phone.canonicalize().unwrap().display().to_string();
    assert_eq!(
        (inside.folder.as_str(), inside.already_in.as_deref()),
        (phone_real.as_str(), Some(real.as_str()))
    );
    assert_eq!(inside.roots.len(), 1);
    assert_eq!(
        s.session.holder_of(&phone).unwrap(),
        Some(top.canonicalize().unwrap())
    );
    // Adding the root itself again says so too, and starts nothing.
    let again = s.session.add_folder(&top).unwrap();
    assert_eq!(again.already_in.as_deref(), Some(real.as_str()));
    assert_eq!(s.session.add_root(&top).unwrap().len(), 1);
    assert!(s.session.wait_idle(IDLE).unwrap());
    assert_eq!(finished(&s.events).len(), jobs, "nothing was indexed again");
    // A new folder is added now.
    let other = s.dir.path().join("Other");
    draw(&other, &[(RED, CIRCLE)], 1, 4);
    let added = s.session.add_folder(&other).unwrap();
    assert_eq!((added.already_in, added.roots.len()), (None, 2));
}

#[test]
fn a_model_put_in_place_after_the_window_opened_is_picked_up() {
    common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("models").join("placed-by-hand");
    let session = Session::new(
        common::session_config(&dir.path().join("library"), &model),
        Arc::new(|_| {}),
    );
    assert!(!session.model_state().ready);
    assert!(matches!(
        session.roots(),
        Err(SessionError::ModelNotReady(_))
    ));
    // The user copies the model folder where the first-run screen said, then checks again.
    copy_dir(&common::shape_model(), &model);
    assert!(session.roots().unwrap().is_empty());
    let status = session.status().unwrap();
    assert!(status.model.ready, "{status:?}");
    assert_eq!(status.provider.as_deref(), Some("CPU"));
}

/// The reports of a search index rebuilt while the engine started, in order.
fn rebuilds(events: &Mutex<Vec<Event>>) -> Vec<IndexRebuild> {
    heard(events, |e| match e {
        Event::IndexRebuild(r) => Some(r.clone()),
        _ => None,
    })
}

/// The library's vector index files (one a model it has opened).
fn index_files(library: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(library)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "usearch"))
        .collect()
}

#[test]
fn a_window_whose_search_index_is_lost_says_it_rebuilds_it_while_starting() {
    common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    let photos = dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 3, 47);
    let model = common::shape_model();
    let open = || started(&library, &model);
    {
        let (first, events) = open();
        first.add_root(&photos).unwrap();
        assert!(first.wait_idle(IDLE).unwrap());
        assert!(
            rebuilds(&events).is_empty(),
            "a new library has nothing to rebuild"
        );
    }
    let lost = index_files(&library);
    assert_eq!(
        lost.len(),
        1,
        "the library keeps one index file for its one model: {lost:?}"
    );
    std::fs::remove_file(&lost[0]).unwrap();

    let (session, events) = open();
    let told = rebuilds(&events);
    assert!(
        told.iter().all(|r| r.why == "missing" && r.total == 6),
        "{told:?}"
    );
    let steps: Vec<RebuildStep> = told.iter().map(|r| r.step).collect();
    assert_eq!(steps.first(), Some(&RebuildStep::Reading), "{told:?}");
    assert!(steps.contains(&RebuildStep::Linking), "{told:?}");
    let ends: Vec<_> = told
        .iter()
        .rev()
        .take(2)
        .map(|r| (r.step, r.done))
        .collect();
    assert_eq!(
        ends,
        [(RebuildStep::Done, 6), (RebuildStep::Saving, 6)],
        "saved, then the end the window stops showing it at: {told:?}"
    );
    assert!(session.wait_idle(IDLE).unwrap());
    let page = session.search(&text("red circle")).unwrap();
    assert!(
        page.hits[0].photo.path.contains("red-circle"),
        "{:?}",
        page.hits
    );
    drop(session);
    let (_again, events) = open();
    assert!(
        rebuilds(&events).is_empty(),
        "the rebuilt index was saved and loads"
    );
}

#[test]
fn a_window_over_an_up_to_date_library_does_not_open_the_image_model() {
    // A copy of the model whose image graph is broken once the library is indexed: only work
    // with a picture to encode may open it, and a job that cannot open it loses nothing.
    common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("models").join("shape-clip");
    copy_dir(&common::shape_model(), &model);
    let library = dir.path().join("library");
    let photos = dir.path().join("photos");
    let library_photos = draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 3, 31);
    {
        let first = Session::new(common::session_config(&library, &model), Arc::new(|_| {}));
        first.start().unwrap();
        first.add_root(&photos).unwrap();
        assert!(first.wait_idle(IDLE).unwrap());
        assert_eq!(first.roots().unwrap()[0].indexed, 6);
    }
    let graph = model.join("visual").join("model.onnx");
    let good = std::fs::read(&graph).unwrap();
    std::fs::write(&graph, b"not a graph").unwrap();

    // The window opens again: its catch-up job finds nothing to encode, and search by text,
    // by a library photo and by a dropped copy of one answer from the stored vectors.
    let (session, events) = started(&library, &model);
    assert!(session.wait_idle(IDLE).unwrap());
    let jobs = finished(&events);
    assert!(
        !jobs.is_empty() && jobs.iter().all(|f| f.error.is_none()),
        "{jobs:?}"
    );
    assert_eq!(session.status().unwrap().provider.as_deref(), Some("CPU"));
    let page = session.search(&text("red circle")).unwrap();
    assert!(
        page.hits[0].photo.path.contains("red-circle"),
        "{:?}",
        page.hits
    );
    let by_photo = session
        .search(&SearchQuery {
            example_photo_id: Some(page.hits[0].photo.id),
            limit: 2,
            ..SearchQuery::default()
        })
        .unwrap();
    assert!(by_photo
        .hits
        .iter()
        .all(|h| h.photo.path.contains("red-circle")));
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let copy = outside.join("copy.png");
    std::fs::copy(&library_photos[4], &copy).unwrap();
    let dropped = |p: &Path| {
        session.search(&SearchQuery {
            example_path: Some(p.display().to_string()),
            limit: 2,
            ..SearchQuery::default()
        })
    };
    let page = dropped(&copy).unwrap();
    assert!(
        page.hits
            .iter()
            .all(|h| h.photo.path.contains("blue-square")),
        "{:?}",
        page.hits
    );

    // A new photo needs the model: the job fails saying why, and the photo waits for it.
    let staging = dir.path().join("staging");
    let new = draw(&staging, &[(YELLOW, STAR)], 1, 32);
    std::fs::rename(&new[0], photos.join("new-star.png")).unwrap();
    session.reindex().unwrap();
    assert!(session.wait_idle(IDLE).unwrap());
    let jobs = finished(&events);
    let error = jobs
        .last()
        .and_then(|f| f.error.clone())
        .unwrap_or_default();
    assert!(
        error.contains("cannot open the model") && error.contains("model.onnx"),
        "{jobs:?}"
    );
    let root = &session.roots().unwrap()[0];
    assert_eq!((root.indexed, root.pending), (6, 1), "{root:?}");
    // So does a dropped picture with no stored vector.
    let unseen = draw(&outside, &[(YELLOW, STAR)], 1, 33);
    assert!(matches!(dropped(&unseen[0]), Err(SessionError::Model(_))));

    // The graph is back: the same window opens it on the next job and catches up.
    std::fs::write(&graph, &good).unwrap();
    session.reindex().unwrap();
    assert!(session.wait_idle(IDLE).unwrap());
    assert_eq!(finished(&events).last().and_then(|f| f.error.clone()), None);
    let root = &session.roots().unwrap()[0];
    assert_eq!((root.indexed, root.pending), (7, 0), "{root:?}");
    let page = dropped(&unseen[0]).unwrap();
    assert!(
        page.hits[0].photo.path.contains("new-star"),
        "{:?}",
        page.hits
    );
}

#[test]
fn with_nothing_typed_the_window_lists_every_photo_and_a_removed_one_is_said_in_words() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    let files = draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 4, 31);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let all = SearchQuery {
        limit: 50,
        ..SearchQuery::default()
    };
    let page = s.session.search(&all).unwrap();
    assert_eq!(page.hits.len(), files.len(), "All photos: {:?}", page.hits);
    assert!(
        page.hits.iter().all(|h| h.score.is_none()),
        "a listing has no scores"
    );
    let dates: Vec<i64> = page.hits.iter().map(|h| h.photo.date).collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {dates:?}"
    );
    let oldest = s
        .session
        .search(&SearchQuery {
            sort: "oldest".into(),
            ..all.clone()
        })
        .unwrap();
    let mut reversed: Vec<i64> = oldest.hits.iter().map(|h| h.photo.date).collect();
    reversed.reverse();
    assert_eq!(reversed, dates);

    // A photo whose file is deleted leaves the listing, and "more like this" on it (a window
    // that still shows it) says so in words.
    let gone = page.hits[0].clone();
    std::fs::remove_file(&gone.photo.path).unwrap();
    s.session.reindex().unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let page = s.session.search(&all).unwrap();
    assert_eq!(page.hits.len(), files.len() - 1);
    assert!(page.hits.iter().all(|h| h.photo.id != gone.photo.id));
    let err = s
        .session
        .search(&SearchQuery {
            example_photo_id: Some(gone.photo.id),
            ..all
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "This photo is no longer in the library.");
}

#[test]
fn a_home_folder_holding_the_library_is_a_root_whose_library_is_never_indexed_or_watched() {
    let s = setup();
    // The test's folder plays the home folder: it holds the library (`library/`, not even
    // hidden) and photos in a subfolder.
    let home = s.dir.path().to_path_buf();
    draw(&home.join("Pictures"), &[(RED, CIRCLE)], 3, 41);
    // Pictures inside the library folder are Glimpse's own (previews), never photos.
    draw(
        &home.join("library/previews-like"),
        &[(YELLOW, STAR)],
        2,
        43,
    );
    let roots = s.session.add_root(&home).unwrap();
    assert_eq!(roots.len(), 1);
    assert!(s.session.wait_idle(IDLE).unwrap());
    let all = SearchQuery {
        limit: 50,
        ..SearchQuery::default()
    };
    let listed = s.session.search(&all).unwrap().hits;
    assert_eq!(
        listed.len(),
        3,
        "{:?}",
        listed.iter().map(|h| &h.photo.path).collect::<Vec<_>>()
    );
    assert!(listed.iter().all(|h| h.photo.path.contains("/Pictures/")));
    // The library writes its catalog inside the root, and programs write their caches in
    // hidden folders all the time: neither starts a job.
    std::thread::sleep(Duration::from_millis(1500));
    let jobs = finished(&s.events).len();
    for i in 0..3 {
        std::fs::create_dir_all(home.join(".cache/browser")).unwrap();
        std::fs::write(home.join(format!(".cache/browser/entry-{i}")), b"cache").unwrap();
        std::fs::write(home.join(format!("library/scratch-{i}")), b"library file").unwrap();
        std::thread::sleep(Duration::from_millis(700));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        finished(&s.events).len(),
        jobs,
        "hidden or library writes started a job"
    );
    // A photo put into the home folder is still seen.
    std::thread::sleep(Duration::from_millis(500));
    draw(&home.join("Later"), &[(BLUE, SQUARE)], 1, 42);
    let found = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        s.session.roots().unwrap()[0].indexed == 4
    });
    assert!(found, "{:?}", s.session.roots().unwrap());
}

/// The first `limit` photos of the listing with nothing typed (newest first).
fn listed(session: &Session, limit: usize) -> Vec<HitView> {
    session
        .search(&SearchQuery {
            limit,
            ..SearchQuery::default()
        })
        .unwrap()
        .hits
}

/// How many photos carry the tag `name` (0 for none).
fn tag_count(session: &Session, name: &str) -> u64 {
    session
        .tags()
        .unwrap()
        .into_iter()
        .find(|t| t.name == name)
        .map_or(0, |t| t.count)
}

#[test]
fn a_tag_is_renamed_or_deleted_on_its_photos_and_in_its_folder_auto_tag() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE), (YELLOW, STAR)], 3, 71);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let labels = vec!["circle".to_string(), "star".into()];
    s.session.tag_folder(&photos, &labels).unwrap();
    let count = |name: &str| tag_count(&s.session, name);
    let circles = count("circle");
    assert!(circles > 0);
    let after = s.session.rename_tag("circle", "  round  ").unwrap();
    assert!(after
        .iter()
        .any(|t| t.name == "round" && t.count == circles));
    assert_eq!(count("circle"), 0);
    // The folder's auto-tag names it too, so tagging again starts from the new name.
    let suggested = s.session.default_labels(Some(&photos)).unwrap();
    assert_eq!(suggested.labels, ["round", "star"]);
    assert_eq!(
        s.session.rename_tag("round", " ").unwrap_err().to_string(),
        "a tag needs a name"
    );
    assert!(s.session.rename_tag("nothing", "x").is_err());
    let left = s.session.delete_tag("star").unwrap();
    assert!(left.iter().all(|t| t.name != "star"));
    assert_eq!(
        s.session.default_labels(Some(&photos)).unwrap().labels,
        ["round"]
    );
}

#[test]
fn tags_set_or_taken_off_by_hand_outlast_auto_tagging_the_folder_again() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE), (YELLOW, STAR)], 2, 91);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let labels = vec!["circle".to_string(), "star".into()];
    s.session.tag_folder(&photos, &labels).unwrap();
    let count = |name: &str| tag_count(&s.session, name);
    let with_tag = |tag: &str| -> Vec<i64> {
        let mut ids: Vec<i64> = s
            .session
            .search(&SearchQuery {
                limit: 50,
                filter: FilterSpec {
                    tag: Some(tag.into()),
                    ..FilterSpec::default()
                },
                ..SearchQuery::default()
            })
            .unwrap()
            .hits
            .iter()
            .map(|h| h.photo.id)
            .collect();
        ids.sort();
        ids
    };
    let circles = with_tag("circle");
    let stars = with_tag("star");
    assert_eq!(
        (circles.len(), stars.len()),
        (2, 2),
        "the shapes are told apart"
    );
    let mut picked = vec![circles[0], stars[0]];
    picked.sort();

    // Two photos tagged by hand: the counts and the tag filter find exactly them.
    let after = s.session.tag_photos(&picked, "  Holiday ").unwrap();
    assert!(
        after.iter().any(|t| t.name == "holiday" && t.count == 2),
        "{after:?}"
    );
    assert_eq!(with_tag("holiday"), picked);
    assert!(s
        .session
        .photo(picked[0])
        .unwrap()
        .tags
        .contains(&"holiday".to_string()));
    assert_eq!(
        s.session.tag_photos(&picked, " ").unwrap_err().to_string(),
        "a tag needs a name"
    );
    // A star taken off by hand, the holiday off one photo.
    s.session.untag_photos(&[stars[0]], "star").unwrap();
    let after = s.session.untag_photos(&[picked[1]], "holiday").unwrap();
    assert!(
        after.iter().any(|t| t.name == "holiday" && t.count == 1),
        "{after:?}"
    );
    assert_eq!(with_tag("holiday"), [picked[0]]);
    assert_eq!(count("star"), 1);

    // The folder auto-tagged again: the hand tag stays, the star taken off stays off.
    s.session.tag_folder(&photos, &labels).unwrap();
    assert_eq!(with_tag("holiday"), [picked[0]]);
    assert_eq!(with_tag("star"), [stars[1]]);
    assert_eq!(with_tag("circle"), circles);
    assert!(!s
        .session
        .photo(stars[0])
        .unwrap()
        .tags
        .contains(&"star".to_string()));

    // Renamed, the hand tag goes with its name; deleted, it is gone.
    s.session.rename_tag("holiday", "trip").unwrap();
    assert_eq!(with_tag("trip"), [picked[0]]);
    s.session.tag_folder(&photos, &labels).unwrap();
    assert_eq!(count("trip"), 1);
    let left = s.session.delete_tag("trip").unwrap();
    assert!(left.iter().all(|t| t.name != "trip"));
    assert!(with_tag("trip").is_empty());
}

#[test]
fn a_photo_is_copied_as_pixels_and_a_selection_revealed_by_folder() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    let files = draw(&photos, &[(RED, CIRCLE)], 2, 93);
    draw(&photos.join("inner"), &[(BLUE, SQUARE)], 1, 94);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let all = listed(&s.session, 10);
    assert_eq!(all.len(), 3);
    let first = all
        .iter()
        .find(|h| Path::new(&h.photo.path) == files[0])
        .unwrap();
    let (w, h) = image::image_dimensions(&files[0]).unwrap();
    let full = s.session.photo_rgba(first.photo.id, 4096).unwrap();
    assert_eq!((full.width, full.height), (w, h));
    assert_eq!(full.pixels.len(), (w * h * 4) as usize);
    let small = s.session.photo_rgba(first.photo.id, 32).unwrap();
    assert_eq!(small.width.max(small.height), 32);
    assert!(matches!(
        s.session.photo_rgba(987_654, 32),
        Err(SessionError::NoPhoto(_))
    ));
    let ids: Vec<i64> = all.iter().map(|h| h.photo.id).collect();
    let plan = s.session.reveal_plan(&ids).unwrap();
    assert_eq!((plan.photos, plan.folders, plan.files.len()), (3, 2, 2));
    assert_eq!(
        plan.summary().unwrap(),
        "Showed the 2 folders of the 3 photos."
    );
    assert!(s.session.reveal_plan(&[987_654]).is_err());
}

#[test]
fn photos_export_to_a_folder_without_overwriting_anything() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    let files = draw(&photos, &[(RED, CIRCLE)], 3, 81);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    let all = listed(&s.session, 10);
    let out = s.dir.path().join("export");
    std::fs::create_dir(&out).unwrap();
    // One name is taken already: the copy goes beside it, the file there stays.
    let first = Path::new(&all[0].photo.path);
    let taken = out.join(first.file_name().unwrap());
    std::fs::write(&taken, b"mine").unwrap();
    let ids: Vec<i64> = all.iter().map(|h| h.photo.id).chain([987_654]).collect();
    let report = s.session.export_photos(&ids, &out).unwrap();
    assert_eq!(report.copied, 3);
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert_eq!(
        report.failures[0].reason,
        "This photo is no longer in the library."
    );
    assert_eq!(std::fs::read(&taken).unwrap(), b"mine");
    let stem = first.file_stem().unwrap().to_string_lossy();
    let beside = out.join(format!("{stem} (2).png"));
    assert_eq!(
        std::fs::read(&beside).unwrap(),
        std::fs::read(first).unwrap()
    );
    for f in &files {
        let copy = out.join(f.file_name().unwrap());
        assert!(copy.exists() || copy == taken, "{}", copy.display());
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
    // Again: every name is taken now, so each goes beside its namesake.
    let again = s.session.export_photos(&ids[..1], &out).unwrap();
    assert_eq!(again.copied, 1);
    assert!(out.join(format!("{stem} (3).png")).exists());
    assert!(s
        .session
        .export_photos(&ids, &s.dir.path().join("nope"))
        .is_err());
}

#[test]
fn the_cores_indexing_uses_are_chosen_per_library_and_kept() {
    let s = setup();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let first = s.session.status().unwrap().threads.unwrap();
    // The session's default (the tests ask for 2), nothing chosen.
    assert_eq!((first.using, first.chosen, first.cores), (2, None, cores));
    let one = s.session.set_index_threads(Some(1)).unwrap();
    assert_eq!((one.using, one.chosen), (1, Some(1)));
    assert_eq!(s.session.status().unwrap().threads, Some(one));
    for bad in [0, cores + 1] {
        let e = s.session.set_index_threads(Some(bad)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Indexing can use 1 to {cores} cores on this computer, not {bad}.")
        );
    }
    // Refused values change nothing, and a photo folder still indexes with one core.
    let photos = s.dir.path().join("photos");
    draw(&photos, &[(RED, CIRCLE)], 3, 91);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    assert_eq!(s.session.status().unwrap().indexed, 3);
    let library = s.dir.path().join("library");
    s.session.shutdown();
    drop(s.session);

    // The choice belongs to the library: the next window over it runs one core.
    let again = Session::new(
        common::session_config(&library, &common::shape_model()),
        Arc::new(|_| {}),
    );
    again.start().unwrap();
    let kept = again.status().unwrap().threads.unwrap();
    assert_eq!((kept.using, kept.chosen), (1, Some(1)));
    let back = again.set_index_threads(None).unwrap();
    assert_eq!((back.using, back.chosen), (2, None));
    again.shutdown();
}

#[test]
fn reading_text_is_switched_per_library_and_kept() {
    let s = setup();
    assert!(s.session.status().unwrap().read_text, "on by default");
    assert!(!s.session.set_read_text(false).unwrap());
    assert!(!s.session.status().unwrap().read_text);
    let library = s.dir.path().join("library");
    s.session.shutdown();
    drop(s.session);

    // The choice belongs to the library: the next window over it, and its catalog, say off.
    assert!(!glimpse_library::Records::open(&library)
        .unwrap()
        .read_text()
        .unwrap());
    let again = Session::new(
        common::session_config(&library, &common::shape_model()),
        Arc::new(|_| {}),
    );
    again.start().unwrap();
    assert!(!again.status().unwrap().read_text);
    assert!(again.set_read_text(true).unwrap());
    assert!(again.status().unwrap().read_text);
    again.shutdown();
}

#[test]
fn a_paused_job_reports_every_photo_it_has_committed() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    draw(
        &photos,
        &[(RED, CIRCLE), (BLUE, SQUARE), (YELLOW, STAR)],
        80,
        97,
    );
    s.session.add_root(&photos).unwrap();
    let started = std::time::Instant::now();
    while s
        .session
        .status()
        .unwrap()
        .indexing
        .progress
        .is_none_or(|p| p.done == 0)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "nothing indexed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let paused = s.session.pause().unwrap();
    assert!(paused.paused);
    // A batch on its way when the pause came lands; then nothing moves.
    std::thread::sleep(Duration::from_millis(1500));
    let st = s.session.status().unwrap();
    let done = st.indexing.progress.as_ref().map_or(0, |p| p.done);
    // The count the window shows is what the catalog holds, not the last throttled event's.
    assert_eq!(done as u64, st.indexed, "{st:?}");
    s.session.resume().unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    assert_eq!(s.session.status().unwrap().indexed, 240);
}

#[test]
fn the_model_is_switched_from_the_window_and_switching_back_reads_nothing_again() {
    common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    // The models folder holds both test models, as a user's hand-placed folders would be.
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let (shape, tiny) = (models.join("shape-clip"), models.join("tiny-clip"));
    copy_dir(&common::shape_model(), &shape);
    copy_dir(&common::immich_model(), &tiny);
    let (shape, tiny) = (shape.canonicalize().unwrap(), tiny.canonicalize().unwrap());
    let mut cfg = common::session_config(&library, &shape);
    cfg.models_dir = models.clone();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = events.clone();
    let session = Session::new(cfg, Arc::new(move |e| sink.lock().unwrap().push(e)));
    session.start().unwrap();
    let photos = s_draw(dir.path());
    let n = photos.len() as u64;
    session.add_root(&dir.path().join("photos")).unwrap();
    assert!(session.wait_idle(IDLE).unwrap());
    assert_eq!(session.status().unwrap().indexed, n);
    let shape_index = index_files(&library);
    assert_eq!(shape_index.len(), 1, "{shape_index:?}");

    // The choices: the manifest's models (none downloaded here), then both folders.
    let choices = session.models().unwrap();
    assert_eq!(choices.fixed_at_start, Some(shape.display().to_string()));
    let manifest = glimpse_clip::model::manifest::models();
    for (c, m) in choices.choices.iter().zip(manifest) {
        assert_eq!(c.name, m.name);
        assert!(!c.present && !c.in_use && c.photos_read == 0, "{c:?}");
        assert_eq!(c.description.as_deref(), Some(m.description.as_str()));
    }
    let folder = |choices: &glimpse_session::views::ModelChoices, p: &Path| {
        let name = p.display().to_string();
        choices
            .choices
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .unwrap()
    };
    let (s, t) = (folder(&choices, &shape), folder(&choices, &tiny));
    assert!(s.present && s.in_use && s.photos_read == n, "{s:?}");
    assert!(t.present && !t.in_use && t.photos_read == 0, "{t:?}");
    assert_eq!(choices.choices.len(), manifest.len() + 2);

    // A name that is no model is refused in words, and nothing changes.
    let e = session.set_model("No-Such-Model").unwrap_err();
    assert!(matches!(e, SessionError::Setting(_)), "{e:?}");
    let said = e.to_string();
    assert!(
        said.contains("“No-Such-Model”") && said.contains(&manifest[0].name),
        "{said}"
    );
    let e = session.set_model(&dir.path().join("photos").display().to_string());
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("is not a model Glimpse can use"));
    assert_eq!(session.model(), shape.display().to_string());
    assert_eq!(
        session.search(&every("red circle")).unwrap().hits.len() as u64,
        n
    );

    // Switching to tiny-clip while a job reads a new folder: the old engine's job is cancelled
    // and its indexer hands over the writer lock; the new model reads every photo.
    let more = dir.path().join("more");
    let m = draw(&more, &[(BLUE, STAR), (RED, SQUARE)], 12, 7).len() as u64;
    let jobs_before = finished(&events).len();
    session.add_root(&more).unwrap();
    let state = session.set_model(&tiny.display().to_string()).unwrap();
    assert!(state.ready);
    assert_eq!(state.name, tiny.display().to_string());
    assert!(session.wait_idle(IDLE).unwrap());
    let status = session.status().unwrap();
    assert_eq!(status.model.name, tiny.display().to_string());
    assert_eq!(
        status.held_by, None,
        "the old indexer still held the library"
    );
    assert!(status.threads.is_some());
    assert_eq!((status.indexed, status.pending), (n + m, 0));
    let jobs = finished(&events);
    let after_switch = jobs[jobs_before..]
        .iter()
        .rposition(|f| f.encoded as u64 == n + m);
    assert!(
        after_switch.is_some(),
        "tiny-clip read every photo: {jobs:?}"
    );
    assert_eq!(
        session.search(&every("red circle")).unwrap().hits.len() as u64,
        n + m
    );
    // The library remembers the choice for windows that name no model.
    let remembered = glimpse_library::remembered_model(&library).unwrap();
    assert_eq!(remembered, Some(tiny.display().to_string()));
    // Both models' vectors are kept.
    let choices = session.models().unwrap();
    let (s, t) = (folder(&choices, &shape), folder(&choices, &tiny));
    assert!(
        !s.in_use && s.photos_read >= n && s.photos_read <= n + m,
        "{s:?}"
    );
    assert!(t.in_use && t.photos_read == n + m, "{t:?}");
    let shape_had = s.photos_read;

    // Back to shape-clip: its vectors are still in the library, so only the photos it had not
    // read when the switch cancelled its job are read. Its index file is lost meanwhile: the
    // switch rebuilds it from those vectors and says so while Settings waits, then says done.
    std::fs::remove_file(&shape_index[0]).unwrap();
    let (jobs_before, told_before) = (finished(&events).len(), rebuilds(&events).len());
    session.set_model(&shape.display().to_string()).unwrap();
    let told = rebuilds(&events)[told_before..].to_vec();
    assert_eq!(
        told.first().map(|r| r.step),
        Some(RebuildStep::Reading),
        "{told:?}"
    );
    assert_eq!(
        told.last().map(|r| (r.step, r.done, r.total)),
        Some((RebuildStep::Done, shape_had as usize, shape_had as usize)),
        "{told:?}"
    );
    assert!(told.iter().all(|r| r.why == "missing"), "{told:?}");
    assert!(session.wait_idle(IDLE).unwrap());
    let jobs = finished(&events);
    let encoded: usize = jobs[jobs_before..].iter().map(|f| f.encoded).sum();
    assert_eq!(encoded as u64, n + m - shape_had, "{jobs:?}");
    let status = session.status().unwrap();
    assert_eq!(status.model.name, shape.display().to_string());
    assert_eq!((status.indexed, status.held_by), (n + m, None));
    let page = session.search(&text("red circle")).unwrap();
    assert!(page.hits[0].photo.path.contains("red-circle"), "{page:?}");
    // Choosing the model in use changes nothing.
    let jobs_before = finished(&events).len();
    session.set_model(&shape.display().to_string()).unwrap();
    assert!(session.wait_idle(IDLE).unwrap());
    assert_eq!(finished(&events).len(), jobs_before);
    session.shutdown();
}

#[test]
fn a_model_to_download_waits_for_the_first_run_screen_which_fetches_that_model() {
    common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::session_config(&dir.path().join("library"), &common::shape_model());
    cfg.models_dir = dir.path().join("models");
    // Nothing is served here: a fetch fails at once instead of downloading.
    cfg.model_base_url = Some("http://127.0.0.1:9".into());
    let session = Session::new(cfg, Arc::new(|_| {}));
    session.start().unwrap();
    let name = &glimpse_clip::model::manifest::models()[1].name;
    let state = session.set_model(&name.to_lowercase()).unwrap();
    // The manifest's spelling is kept; not ready, so the window shows the first-run screen.
    assert_eq!(&state.name, name);
    assert!(!state.ready && state.problem.is_some(), "{state:?}");
    assert!(!session.status().unwrap().model.ready);
    assert!(matches!(
        session.search(&text("dog")),
        Err(SessionError::ModelNotReady(_))
    ));
    // The first-run screen's download asks for the new model's files.
    let e = session.fetch_model().unwrap_err().to_string();
    assert!(e.contains(name.as_str()) || e.contains("127.0.0.1"), "{e}");
    assert_eq!(session.model_state().name, *name);
    // Switching back to a model on this computer opens it again.
    session
        .set_model(&common::shape_model().display().to_string())
        .unwrap();
    assert!(session.status().unwrap().model.ready);
    session.shutdown();
}

/// Draws the switch test's photos into `root/photos`.
fn s_draw(root: &Path) -> Vec<PathBuf> {
    draw(
        &root.join("photos"),
        &[(RED, CIRCLE), (BLUE, SQUARE), (YELLOW, STAR)],
        2,
        83,
    )
}

/// A text query that lists every photo with a vector, weak matches too.
fn every(q: &str) -> SearchQuery {
    SearchQuery {
        include_weak: true,
        limit: 1000,
        ..text(q)
    }
}

#[test]
fn words_read_in_pictures_are_shown_with_results_and_filter_them() {
    let s = setup();
    let photos = s.dir.path().join("photos");
    let drawn = draw(&photos, &[(RED, CIRCLE), (BLUE, SQUARE)], 3, 11);
    s.session.add_root(&photos).unwrap();
    assert!(s.session.wait_idle(IDLE).unwrap());
    // The text reader's lines for one blue square, stored beside the window's indexer.
    let library = s.dir.path().join("library");
    let sign = &drawn[4];
    let id = glimpse_library::Records::open(&library)
        .unwrap()
        .photo_by_path(sign)
        .unwrap()
        .unwrap()
        .id;
    let line = glimpse_library::catalog::TextLineRow {
        text: "😀 Tesco Bank".into(),
        quad: [[3.0, 4.0], [50.0, 4.0], [50.0, 12.0], [3.0, 12.0]],
        confidence: 0.8,
    };
    let stored = glimpse_library::catalog::Catalog::open(&library)
        .unwrap()
        .store_text(
            "reader-1",
            &[(id, glimpse_library::catalog::TextOutcome::Lines(vec![line]))],
        )
        .unwrap();
    assert_eq!(stored, 1);

    // A word of it finds the picture first, with the line and where the word is in it.
    let page = s.session.search(&text("red circle tesco bank")).unwrap();
    assert_eq!(page.hits[0].photo.id, id);
    let words = &page.hits[0].words;
    assert_eq!(words.len(), 1);
    assert_eq!(
        (words[0].line, words[0].text.as_str()),
        (0, "😀 Tesco Bank")
    );
    assert_eq!(
        words[0].spans,
        [[3, 8], [9, 13]],
        "UTF-16 units: the emoji is two"
    );
    assert!(page.hits[1..].iter().all(|h| h.words.is_empty()));
    // Quoted text and the has-text filter narrow to it.
    let quoted = s.session.search(&text(r#"a shape "bank""#)).unwrap();
    assert_eq!(quoted.hits.len(), 1);
    let with_text = s
        .session
        .search(&SearchQuery {
            filter: FilterSpec {
                has_text: Some(true),
                ..FilterSpec::default()
            },
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!(
        with_text
            .hits
            .iter()
            .map(|h| h.photo.id)
            .collect::<Vec<_>>(),
        [id]
    );
}

#[test]
fn the_words_in_pictures_are_read_after_indexing_and_give_way_to_a_folder_added_meanwhile() {
    common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink_events = events.clone();
    let library = dir.path().join("library");
    let mut cfg = common::session_config(&library, &common::shape_model());
    cfg.ocr_models = glimpse_session::OcrModels::Folder(common::ocr_models());
    let session = Session::new(cfg, Arc::new(move |e| sink_events.lock().unwrap().push(e)));
    session.start().unwrap();
    let set = common::fixture("ocr/set");
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    for (folder, names) in [
        (
            &first,
            &["00-blank.jpg", "12-dark.jpg", "31-light.jpg", "37-dark.jpg"][..],
        ),
        (&second, &["38-dark.jpg", "33-dark.jpg"][..]),
    ] {
        std::fs::create_dir_all(folder).unwrap();
        for n in names {
            std::fs::copy(set.join(n), folder.join(n)).unwrap();
        }
    }
    session.add_root(&first).unwrap();

    // Once the text phase shows, a second folder is added: it is indexed first, and the words
    // of both folders are read after.
    let text_phase = |events: &Mutex<Vec<Event>>| {
        events.lock().unwrap().iter().any(|e| {
            matches!(e, Event::IndexProgress(p) if p.phase == ProgressPhase::Text)
                || matches!(e, Event::IndexState(s) if s.progress.as_ref()
                    .is_some_and(|p| p.phase == ProgressPhase::Text))
        })
    };
    let start = Instant::now();
    while !text_phase(&events) {
        assert!(start.elapsed() < IDLE, "no text phase was shown");
        std::thread::sleep(Duration::from_millis(20));
    }
    session.add_root(&second).unwrap();
    assert!(session.wait_idle(IDLE).unwrap());

    let progress = glimpse_library::Records::open(&library)
        .unwrap()
        .text_progress(glimpse_ocr::OCR_VERSION)
        .unwrap();
    assert_eq!(
        (progress.total, progress.read, progress.with_text),
        (6, 6, 5),
        "{progress:?}"
    );
    let first_hit = |q: &str| {
        let page = session.search(&text(q)).unwrap();
        let hit = page.hits.into_iter().next().expect("a result");
        (
            hit.photo
                .path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            hit.words.iter().map(|w| w.text.clone()).collect::<Vec<_>>(),
        )
    };
    let (name, words) = first_hit("password");
    assert_eq!(
        (name.as_str(), words),
        ("38-dark.jpg", vec!["password".to_string()])
    );
    assert!(["12-dark.jpg", "31-light.jpg"].contains(&first_hit("pharmacy").0.as_str()));
    // The folder added meanwhile did not wait for the first folder's four pictures to be read.
    let events_seen = events.lock().unwrap().clone();
    let second_job = events_seen
        .iter()
        .position(|e| matches!(e, Event::IndexFinished(f) if f.encoded == 2))
        .expect("the second folder's job");
    let read_before = events_seen[..second_job]
        .iter()
        .filter_map(|e| match e {
            Event::IndexProgress(p) if p.phase == ProgressPhase::Text => Some(p.done),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    assert!(
        read_before < 4,
        "the pass read {read_before} pictures first"
    );
    // The text phase counted what it read and what showed text.
    let last_text = events
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::IndexProgress(p) if p.phase == ProgressPhase::Text => Some(p.clone()),
            _ => None,
        })
        .expect("text progress events");
    assert_eq!(last_text.done, last_text.total, "{last_text:?}");
    assert!(last_text.with_text >= 1, "{last_text:?}");

    // Turned off, a picture that arrives is indexed but not read; turned on, it is read.
    assert!(!session.set_read_text(false).unwrap());
    std::fs::copy(set.join("35-light.jpg"), second.join("35-light.jpg")).unwrap();
    session.reindex().unwrap();
    assert!(session.wait_idle(IDLE).unwrap());
    let counts = || {
        let p = glimpse_library::Records::open(&library)
            .unwrap()
            .text_progress(glimpse_ocr::OCR_VERSION)
            .unwrap();
        (p.total, p.read)
    };
    assert_eq!(counts(), (7, 6), "read while reading was off");
    assert!(session.set_read_text(true).unwrap());
    assert!(session.wait_idle(IDLE).unwrap());
    assert_eq!(counts(), (7, 7), "not read once reading was turned on");
    assert_eq!(first_hit("禁止吸烟").0, "35-light.jpg");
}
