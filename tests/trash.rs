//! Its own test binary: it points `XDG_DATA_HOME` (where the freedesktop Trash lives) at a
//! temporary folder for the whole process, so no other test may share the process.
//!
//! The duplicates view's engine side (`Session::duplicates`, `Session::trash_photos`): copies
//! of a picture (a half-size JPEG, a recompressed JPEG) group with the picture, a lossless
//! original kept with its reason; different pictures of the same subject stay out; the chosen
//! copies go to the Trash with their `.trashinfo` files and leave the library at once; and the
//! refusals: every copy of a picture, a photo that is not a copy found, a file changed since.

mod common;

use common::shapes::{self, jpeg, Background, Scene};
use glimpse_session::views::{FilterSpec, SearchQuery};
use glimpse_session::Session;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const IDLE: Duration = Duration::from_secs(300);

/// The picture the copies are made of: a star at the centre, radius `r`.
fn scene(background: Background, r: f32) -> Scene {
    shapes::one_shape(background, 3, 1, 0.5, 0.5, r)
}

fn names(dir: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// The file names the window's "All photos" lists.
fn listed(session: &Session) -> BTreeSet<String> {
    let page = session
        .search(&SearchQuery {
            limit: 100,
            ..SearchQuery::default()
        })
        .unwrap();
    page.hits
        .iter()
        .map(|h| {
            Path::new(&h.photo.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn chosen_copies_go_to_the_trash_and_the_rest_stays() {
    let dir = tempfile::tempdir().unwrap();
    let data_home = dir.path().join("data");
    std::fs::create_dir_all(&data_home).unwrap();
    // Before any thread starts: nothing else in this process reads it meanwhile.
    std::env::set_var("XDG_DATA_HOME", &data_home);
    let trash_files = data_home.join("Trash/files");
    let trash_info = data_home.join("Trash/info");

    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let grey = Background::Colours([112, 138, 116], [150, 170, 152], 30.0);
    let picture = shapes::render(&scene(grey, 0.24));
    shapes::save(&picture, &photos.join("star.png"));
    let half = image::imageops::resize(&picture, 130, 110, image::imageops::FilterType::Triangle);
    std::fs::write(photos.join("star-small.jpg"), jpeg(&half, 90)).unwrap();
    std::fs::write(photos.join("star-q60.jpg"), jpeg(&picture, 60)).unwrap();
    std::fs::write(photos.join("star-q95.jpg"), jpeg(&picture, 95)).unwrap();
    // The same subject, not copies: a larger star on an olive background, and one moved.
    let olive = Background::Colours([140, 140, 60], [175, 172, 90], 30.0);
    shapes::save(
        &shapes::render(&scene(olive, 0.27)),
        &photos.join("olive.png"),
    );
    let mut moved = scene(Background::Noise(150, 20), 0.2);
    moved.shapes[0].cx = 0.3;
    shapes::save(&shapes::render(&moved), &photos.join("moved.png"));

    common::runtime();
    let cfg = common::session_config(&dir.path().join("library"), &common::shape_model());
    let session = Session::new(cfg, Arc::new(|_| {}));
    session.start().unwrap();
    session.add_root(&photos).unwrap();
    assert!(session.wait_idle(IDLE).unwrap());
    assert_eq!(listed(&session).len(), 6);

    let groups = session.duplicates(&FilterSpec::default()).unwrap();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let group = &groups[0];
    let id_of = |name: &str| {
        group
            .photos
            .iter()
            .find(|m| m.photo.path.ends_with(name))
            .unwrap_or_else(|| panic!("{name} is not in {group:#?}"))
            .photo
            .id
    };
    let members: BTreeSet<&str> = group
        .photos
        .iter()
        .map(|m| {
            Path::new(&m.photo.path)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        members,
        BTreeSet::from(["star.png", "star-small.jpg", "star-q60.jpg", "star-q95.jpg"])
    );
    // As many pixels as the full-size JPEGs, but lossless.
    assert!(group.photos[0].photo.path.ends_with("star.png"));
    assert_eq!(group.keep_reason, "same pixels, saved without loss (PNG)");
    let (keeper, small, q60, q95) = (
        id_of("star.png"),
        id_of("star-small.jpg"),
        id_of("star-q60.jpg"),
        id_of("star-q95.jpg"),
    );

    // Every copy of the picture: nothing moves.
    let report = session.trash_photos(&[keeper, small, q60, q95]).unwrap();
    assert_eq!(report.moved, 0);
    assert_eq!(report.failures.len(), 4, "{report:?}");
    assert!(
        report.failures[0].reason.contains("every copy"),
        "{report:?}"
    );
    // A photo that is not a copy found.
    let olive_id = session
        .search(&SearchQuery {
            limit: 100,
            ..SearchQuery::default()
        })
        .unwrap()
        .hits
        .iter()
        .find(|h| h.photo.path.ends_with("olive.png"))
        .unwrap()
        .photo
        .id;
    let report = session.trash_photos(&[olive_id]).unwrap();
    assert_eq!(report.moved, 0);
    assert!(
        report.failures[0].reason.contains("not among the copies"),
        "{report:?}"
    );
    assert!(names(&trash_files).is_empty());
    assert_eq!(names(&photos).len(), 6);

    // Two copies go: into the Trash, each with its .trashinfo, and out of the library at once.
    let report = session.trash_photos(&[small, q60]).unwrap();
    assert_eq!(report.moved, 2, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(
        names(&trash_files),
        BTreeSet::from(["star-small.jpg".into(), "star-q60.jpg".into()])
    );
    assert_eq!(
        names(&trash_info),
        BTreeSet::from([
            "star-small.jpg.trashinfo".into(),
            "star-q60.jpg.trashinfo".into()
        ])
    );
    let info = std::fs::read_to_string(trash_info.join("star-q60.jpg.trashinfo")).unwrap();
    assert!(info.starts_with("[Trash Info]"), "{info}");
    assert!(info.contains("star-q60.jpg"), "{info}");
    assert_eq!(
        names(&photos),
        BTreeSet::from([
            "star.png".into(),
            "star-q95.jpg".into(),
            "olive.png".into(),
            "moved.png".into()
        ])
    );
    assert_eq!(listed(&session), names(&photos));
    let again = session.duplicates(&FilterSpec::default()).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].photos.len(), 2);

    // A copy changed since it was indexed stays (indexing held, so the change is not read).
    session.pause().unwrap();
    std::fs::write(photos.join("star-q95.jpg"), jpeg(&half, 95)).unwrap();
    let report = session.trash_photos(&[q95]).unwrap();
    assert_eq!(report.moved, 0);
    assert!(report.failures[0].reason.contains("changed"), "{report:?}");
    assert!(photos.join("star-q95.jpg").exists());
    assert_eq!(names(&trash_files).len(), 2);
    session.shutdown();
}
