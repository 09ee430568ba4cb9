//! The words in pictures through the command line: `glimpse index` reads them after indexing
//! (resumably, a picture that kills the reader given up after twice), `glimpse status` says how
//! far it came, the library's switch turns it off, `glimpse text` prints what a picture says,
//! and a receipt, a screenshot and signs are found by the words a person remembers.

use super::common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Pictures of the OCR set: four that show text, one that shows none.
const PICTURES: &[&str] = &[
    "00-blank.jpg",
    "12-dark.jpg",
    "33-dark.jpg",
    "37-dark.jpg",
    "38-dark.jpg",
];

fn copy_pictures(root: &Path, names: &[&str]) {
    std::fs::create_dir_all(root).unwrap();
    for n in names {
        std::fs::copy(common::fixture("ocr/set").join(n), root.join(n)).unwrap();
    }
}

/// `glimpse --library <library>` that reads text with the repository's OCR models.
fn reading(library: &Path) -> Command {
    let mut c = common::glimpse_on(library);
    c.env_remove("GLIMPSE_NO_TEXT")
        .env("GLIMPSE_OCR_MODELS", common::ocr_models());
    c
}

fn index(mut c: Command, root: &Path) -> Output {
    c.args(["index", "--model"])
        .arg(common::immich_model())
        .arg(root)
        .output()
        .expect("run glimpse index")
}

fn text_status(library: &Path) -> serde_json::Value {
    let out = common::glimpse_on(library)
        .args(["status", "--json"])
        .output()
        .expect("run glimpse status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let first = line.lines().next().unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(first).unwrap()["text"].clone()
}

/// The file names of a search's results, best first.
fn found(library: &Path, query: &str) -> Vec<String> {
    let out = common::glimpse_on(library)
        .args(["search", "--json", query])
        .output()
        .expect("run glimpse search");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let path = PathBuf::from(v["path"].as_str().unwrap());
            path.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn index_reads_the_words_once_and_gives_up_a_picture_that_kills_the_reader_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let (library, root) = (tmp.path().join("library"), tmp.path().join("photos"));
    copy_pictures(&root, PICTURES);

    // Indexed without reading text: nothing is read yet.
    let out = index(common::glimpse_on(&library), &root);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = text_status(&library);
    assert_eq!(
        (t["total"].as_u64(), t["read"].as_u64()),
        (Some(5), Some(0)),
        "{t}"
    );

    // The reader dies on one picture, twice: what was read before it is kept each time.
    for attempt in 1..=2 {
        let mut c = reading(&library);
        c.env("GLIMPSE_TEST_ABORT_ON_TEXT", "37-dark.jpg");
        let out = index(c, &root);
        assert!(!out.status.success(), "attempt {attempt} did not die");
    }
    let t = text_status(&library);
    assert_eq!(
        t["read"].as_u64(),
        Some(3),
        "the pictures before it are kept: {t}"
    );

    // The third time it is given up, not read, and the rest is read.
    let mut c = reading(&library);
    c.env("GLIMPSE_TEST_ABORT_ON_TEXT", "37-dark.jpg");
    let out = index(c, &root);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 picture(s) stopped Glimpse twice"),
        "{stderr}"
    );
    let t = text_status(&library);
    assert_eq!(
        (
            t["read"].as_u64(),
            t["failed"].as_u64(),
            t["with_text"].as_u64()
        ),
        (Some(5), Some(1), Some(3)),
        "{t}"
    );
    // `status --files` names it, with why, in both forms.
    let out = common::glimpse_on(&library)
        .args(["status", "--files", "--json"])
        .output()
        .expect("run glimpse status --files");
    let listed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v.get("text_not_read").is_some())
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0]["path"]
        .as_str()
        .is_some_and(|p| p.ends_with("37-dark.jpg")));
    assert_eq!(
        listed[0]["text_not_read"].as_str(),
        Some(glimpse_library::ocr::STOPPED_WHILE_READING_TEXT)
    );
    let out = common::glimpse_on(&library)
        .args(["status", "--files"])
        .output()
        .expect("run glimpse status --files");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.ends_with(&format!(
            "37-dark.jpg: text not read: {}",
            glimpse_library::ocr::STOPPED_WHILE_READING_TEXT
        ))),
        "{text}"
    );

    // Found by their words, in Latin and CJK script, substrings too.
    assert_eq!(
        found(&library, "password").first().map(String::as_str),
        Some("38-dark.jpg")
    );
    assert_eq!(
        found(&library, "朝阳").first().map(String::as_str),
        Some("33-dark.jpg")
    );
    assert_eq!(
        found(&library, "pharm").first().map(String::as_str),
        Some("12-dark.jpg")
    );

    // Read once: a new run reads nothing again.
    let out = index(reading(&library), &root);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("read the text in"), "{stderr}");
}

#[test]
fn reading_text_can_be_turned_off_for_a_library() {
    let tmp = tempfile::tempdir().unwrap();
    let (library, root) = (tmp.path().join("library"), tmp.path().join("photos"));
    copy_pictures(&root, &PICTURES[..2]);
    let mut c = reading(&library);
    c.args(["index", "--read-text", "off", "--model"])
        .arg(common::immich_model())
        .arg(&root);
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("is off for this library"), "{stderr}");
    let t = text_status(&library);
    assert_eq!(
        (t["on"].as_bool(), t["read"].as_u64()),
        (Some(false), Some(0)),
        "{t}"
    );

    // Remembered: the next run reads nothing either, until it is turned on.
    let out = index(reading(&library), &root);
    assert!(out.status.success());
    assert_eq!(text_status(&library)["read"].as_u64(), Some(0));
    let mut c = reading(&library);
    c.args(["index", "--read-text", "on"]);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text_status(&library)["read"].as_u64(), Some(2));
}

#[test]
fn text_prints_each_pictures_lines_with_boxes_or_why_not() {
    let set = common::fixture("ocr/set");
    let out = reading(Path::new("/nonexistent-library"))
        .arg("text")
        .arg(set.join("38-dark.jpg"))
        .arg(set.join("00-blank.jpg"))
        .arg(common::fixture("ocr/README.md"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a file that is no picture fails the run"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let texts: Vec<&str> = lines[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"password"), "{texts:?}");
    let quad = &lines[0]["lines"][0]["box"];
    assert_eq!(quad.as_array().map(Vec::len), Some(4), "{quad}");
    assert!(lines[0]["lines"][0]["confidence"].as_f64().unwrap() > 0.5);
    assert_eq!(lines[1]["lines"].as_array().map(Vec::len), Some(0));
    assert!(
        lines[2]["error"].as_str().unwrap().contains("not an image"),
        "{}",
        lines[2]
    );
}

#[test]
fn receipts_screenshots_and_signs_are_found_by_the_words_people_remember() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("library");
    // Rendered by tests/fixtures/ocr/make_scenes.py: a receipt on a table, a phone screenshot,
    // a street sign, a Chinese station sign, and three photos without text.
    let scenes = common::fixture("ocr/scenes");
    let out = index(reading(&library), &scenes);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("4 show text"), "{stderr}");
    for (query, picture) in [
        ("Tesco 12.40", "receipt.jpg"),
        ("tesco", "receipt.jpg"),
        ("total 12.40", "receipt.jpg"),
        ("wifi password", "wifi-screenshot.jpg"),
        ("sunflower", "wifi-screenshot.jpg"),
        ("CafeCorner", "wifi-screenshot.jpg"),
        ("harbour road", "street-sign.jpg"),
        ("ferry", "street-sign.jpg"),
        ("东京", "station-sign.jpg"),
        ("tokyo station", "station-sign.jpg"),
    ] {
        let got = found(&library, query);
        assert_eq!(
            got.first().map(String::as_str),
            Some(picture),
            "{query:?} found {got:?}"
        );
    }
    // Quoted: only what shows the words.
    assert_eq!(found(&library, r#""ferry terminal""#), ["street-sign.jpg"]);
}
