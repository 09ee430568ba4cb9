//! The words read in pictures, searched: drawn shape pictures indexed with the shape model, a
//! few given lines of text as the text reader would store them, then searched by words, by
//! meaning and by both, with filters, through the engine and the `glimpse` binary.

use crate::common;

use crate::shapes::glimpse;
use common::shapes;
use glimpse_clip::device::Device;
use glimpse_clip::encode::{ImageEncoder, TextEncoder};
use glimpse_clip::model::ModelFiles;
use glimpse_library::catalog::{PhotoFilter, TextLineRow, TextOutcome};
use glimpse_library::pipeline::Control;
use glimpse_library::Library;
use glimpse_query::search::{self, Page, Request};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

/// What the text reader "found", by picture (folder/file) — every other picture shows none.
const TEXTS: &[(&str, &[&str])] = &[
    ("b/green-star-0.png", &["TESCO Express", "Total 12.40"]),
    ("b/yellow-heart-0.jpg", &["tesco clubcard"]),
    ("a/purple-triangle-0.jpg", &["Tesco"]),
    ("a/red-circle-0.png", &["Café de la Gare"]),
    ("a/blue-square-0.jpg", &["東京駅 丸の内北口"]),
];

struct Fixture {
    _dir: tempfile::TempDir,
    photos: PathBuf,
    library: PathBuf,
    files: ModelFiles,
}

fn files() -> ModelFiles {
    ModelFiles::open(&common::shape_model()).unwrap()
}

/// Two folders of 40 drawn pictures each (one of every colour x shape), indexed, with the
/// lines of [`TEXTS`] stored; the rest read and found to show nothing.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let photos = dir.path().join("photos");
        shapes::draw_folder(&photos.join("a"), 1, 0, 31);
        shapes::draw_folder(&photos.join("b"), 1, 0, 32);
        let photos = photos.canonicalize().unwrap();
        let library = dir.path().join("library");
        let files = files();
        let enc = ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap();
        let mut lib = Library::open(&library, &files.name, enc.dim()).unwrap();
        let summary = lib
            .index(
                std::slice::from_ref(&photos),
                &enc,
                2,
                &Control::default(),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(summary.progress.failed, 0, "{summary:?}");
        assert_eq!(lib.vector_count(), 80);
        let mut reads = Vec::new();
        let mut after = 0;
        loop {
            let batch = lib.photos_needing_text("test-reader", after, 16).unwrap();
            let Some(last) = batch.last() else { break };
            after = last.0;
            for (id, path) in batch {
                let rel = path.strip_prefix(&photos).unwrap().to_string_lossy();
                let lines = TEXTS
                    .iter()
                    .find(|(p, _)| *p == rel)
                    .map_or(&[][..], |t| t.1)
                    .iter()
                    .map(|t| line(t))
                    .collect();
                reads.push((id, TextOutcome::Lines(lines)));
            }
        }
        assert_eq!(reads.len(), 80, "every searchable photo is to be read once");
        assert_eq!(lib.store_text("test-reader", &reads).unwrap(), 80);
        let progress = lib.records().text_progress("test-reader").unwrap();
        assert_eq!((progress.read, progress.total), (80, 80));
        assert_eq!(progress.with_text, TEXTS.len() as u64);
        Fixture {
            _dir: dir,
            photos,
            library,
            files,
        }
    })
}

fn line(text: &str) -> TextLineRow {
    TextLineRow {
        text: text.into(),
        quad: [[10.0, 20.0], [90.0, 20.0], [90.0, 40.0], [10.0, 40.0]],
        confidence: 0.9,
    }
}

fn text_encoder() -> &'static TextEncoder {
    static T: OnceLock<TextEncoder> = OnceLock::new();
    T.get_or_init(|| TextEncoder::open(&common::runtime().env, &files(), Device::Cpu).unwrap())
}

fn open(f: &Fixture) -> Library {
    Library::open_reader(&f.library, &f.files.name, 512).unwrap()
}

/// One page for the typed `query` (its words included), as `glimpse search` asks.
fn search(lib: &Library, query: &str, filter: PhotoFilter, limit: usize) -> Page {
    let parsed = search::parse(query);
    let q = search::text_query_vector(text_encoder(), &parsed, &[]).unwrap();
    let req = Request {
        filter,
        words: parsed.words(),
        floor: Some(files().calibration.relevance_floor),
        ..Request::new(limit)
    };
    search::nearest(lib, &q, &req).unwrap()
}

/// Each hit as `folder/file`.
fn rels(f: &Fixture, page: &Page) -> Vec<String> {
    page.hits
        .iter()
        .map(|h| {
            h.photo
                .path
                .strip_prefix(&f.photos)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn any() -> PhotoFilter {
    PhotoFilter::default()
}

#[test]
fn a_word_or_part_of_one_finds_the_pictures_that_show_it_first() {
    let f = fixture();
    let lib = open(f);
    let tesco: BTreeSet<String> = [
        "b/green-star-0.png",
        "b/yellow-heart-0.jpg",
        "a/purple-triangle-0.jpg",
    ]
    .map(String::from)
    .into();
    for query in ["tesco", "TESCO", "esco"] {
        let page = search(&lib, query, any(), 10);
        let got = rels(f, &page);
        let top: BTreeSet<String> = got[..3].iter().cloned().collect();
        assert_eq!(top, tesco, "{query}: {got:?}");
        assert!(page.hits[..3].iter().all(|h| !h.words.is_empty()));
        assert!(page.hits[3..].iter().all(|h| h.words.is_empty()));
        // Each with its matched words marked.
        let sign = &page.hits[got
            .iter()
            .position(|r| r == "a/purple-triangle-0.jpg")
            .unwrap()];
        assert_eq!(sign.words[0].text, "Tesco");
        assert_eq!(sign.words[0].spans, [(usize::from(query == "esco"), 5)]);
    }
    // A receipt by its total, the matched line alone.
    let page = search(&lib, "12.40", any(), 5);
    assert_eq!(rels(f, &page)[0], "b/green-star-0.png");
    let words = &page.hits[0].words;
    assert_eq!((words.len(), words[0].line), (1, 1));
    assert_eq!(words[0].text, "Total 12.40");
    assert_eq!(words[0].spans, [(6, 11)]);
    assert_eq!(words[0].quad, line("x").quad);
    // Accents and case aside.
    for query in ["cafe", "CAFÉ de la gare"] {
        assert_eq!(
            rels(f, &search(&lib, query, any(), 5))[0],
            "a/red-circle-0.png",
            "{query}"
        );
    }
    // CJK: three characters through the trigram index, two by reading the lines.
    for query in ["丸の内", "東京", "北口"] {
        let page = search(&lib, query, any(), 5);
        assert_eq!(rels(f, &page)[0], "a/blue-square-0.jpg", "{query}");
        let w = &page.hits[0].words[0];
        assert_eq!(&w.text[w.spans[0].0..w.spans[0].1], query);
    }
}

#[test]
fn meaning_still_ranks_and_words_join_it_only_where_they_match() {
    let f = fixture();
    let lib = open(f);
    // A description no picture's text shows: the model's ranking as it was.
    let page = search(&lib, "red heart", any(), 5);
    assert!(page.hits.iter().all(|h| h.words.is_empty()));
    let plain = {
        let q =
            search::text_query_vector(text_encoder(), &search::parse("red heart"), &[]).unwrap();
        let req = Request {
            floor: Some(files().calibration.relevance_floor),
            ..Request::new(5)
        };
        search::nearest(&lib, &q, &req).unwrap()
    };
    assert_eq!(rels(f, &page), rels(f, &plain));
    // A word that is under half of a description does not rank a picture by itself.
    let page = search(&lib, "green star tesco", any(), 10);
    assert!(page.hits.iter().all(|h| h.words.is_empty()));
    // Two words: the receipt shows both lines, the others the one word.
    let page = search(&lib, "tesco 12.40", any(), 10);
    let got = rels(f, &page);
    let receipt = got.iter().position(|r| r == "b/green-star-0.png").unwrap();
    assert!(receipt < 3, "{got:?}");
    let lines: Vec<&str> = page.hits[receipt]
        .words
        .iter()
        .map(|w| w.text.as_str())
        .collect();
    assert_eq!(lines, ["TESCO Express", "Total 12.40"]);
}

#[test]
fn quoted_text_must_be_shown_and_every_filter_applies_to_word_matches() {
    let f = fixture();
    let lib = open(f);
    // Quoted: only pictures that show it, whatever else the query says.
    let page = search(&lib, r#""tesco" star"#, any(), 20);
    let got: BTreeSet<String> = rels(f, &page).into_iter().collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.contains("b/green-star-0.png"));
    let page = search(&lib, r#""tesco express""#, any(), 20);
    assert_eq!(rels(f, &page), ["b/green-star-0.png"]);
    assert!(search(&lib, r#""tesco" "東京""#, any(), 20).hits.is_empty());
    // Quoted after a minus: no picture that shows it, whatever else matches. Unquoted, a minus
    // word only pushes away by meaning.
    let showing: BTreeSet<String> = rels(f, &search(&lib, r#""tesco""#, any(), 100))
        .into_iter()
        .collect();
    assert_eq!(showing.len(), 3, "{showing:?}");
    let page = search(&lib, r#"star -"tesco""#, any(), 100);
    let got: BTreeSet<String> = rels(f, &page).into_iter().collect();
    assert!(got.len() >= 10, "the other stars: {got:?}");
    assert!(got.is_disjoint(&showing), "{got:?}");
    let page = search(&lib, "star -tesco", any(), 100);
    assert!(
        rels(f, &page).contains(&"b/green-star-0.png".to_string()),
        "the star that shows it: {:?}",
        rels(f, &page)
    );
    // A folder: its own word matches only.
    let in_b = PhotoFilter {
        folder: Some(f.photos.join("b")),
        ..any()
    };
    let page = search(&lib, "tesco", in_b, 20);
    let got = rels(f, &page);
    assert!(got.iter().all(|r| r.starts_with("b/")), "{got:?}");
    assert_eq!(
        got[..2].iter().collect::<BTreeSet<_>>(),
        ["b/green-star-0.png", "b/yellow-heart-0.jpg"]
            .map(String::from)
            .iter()
            .collect::<BTreeSet<_>>()
    );
    // A type.
    let png = PhotoFilter {
        formats: vec!["png".into()],
        ..any()
    };
    let page = search(&lib, "tesco", png, 20);
    assert_eq!(rels(f, &page)[0], "b/green-star-0.png");
    assert_eq!(
        page.hits.iter().filter(|h| !h.words.is_empty()).count(),
        1,
        "the JPEGs that show it are out"
    );
    // A tag.
    let id = |rel: &str| {
        lib.records()
            .photo_by_path(&f.photos.join(rel))
            .unwrap()
            .unwrap()
            .id
    };
    let writer = glimpse_library::Records::open(&f.library).unwrap();
    writer
        .tag_photos(
            &[id("b/yellow-heart-0.jpg"), id("a/red-circle-0.png")],
            "receipt",
        )
        .unwrap();
    let receipts = PhotoFilter {
        tag: Some("receipt".into()),
        ..any()
    };
    let page = search(&lib, "tesco", receipts, 20);
    let got = rels(f, &page);
    assert_eq!(
        got[0], "b/yellow-heart-0.jpg",
        "the tagged one that shows it"
    );
    assert!(got
        .iter()
        .all(|r| r == "b/yellow-heart-0.jpg" || r == "a/red-circle-0.png"));
    writer
        .untag_photos(
            &[id("b/yellow-heart-0.jpg"), id("a/red-circle-0.png")],
            "receipt",
        )
        .unwrap();
    // Has text, or not: a description over the pictures with text only, or without.
    let with = PhotoFilter {
        has_text: Some(true),
        ..any()
    };
    let page = search(&lib, "tesco", with.clone(), 100);
    let got: BTreeSet<String> = rels(f, &page).into_iter().collect();
    assert!(got.len() >= 3, "{got:?}");
    assert!(
        got.iter().all(|r| TEXTS.iter().any(|t| t.0 == r)),
        "{got:?}"
    );
    let listed = search::browse(
        &lib,
        &Request {
            filter: with,
            ..Request::new(100)
        },
    )
    .unwrap();
    assert_eq!(listed.hits.len(), TEXTS.len());
    let without = PhotoFilter {
        has_text: Some(false),
        ..any()
    };
    let listed = search::browse(
        &lib,
        &Request {
            filter: without,
            ..Request::new(100)
        },
    )
    .unwrap();
    assert_eq!(listed.hits.len(), 80 - TEXTS.len());
}

#[test]
fn the_cli_shows_the_words_that_matched() {
    let f = fixture();
    // Without --weak the model's weak matches are hidden, never the words' match.
    let out = glimpse(&f.library, &["search", "12.40", "--limit", "3", "--paths"]);
    let paths = String::from_utf8_lossy(&out.stdout);
    assert!(paths
        .lines()
        .next()
        .unwrap()
        .ends_with("b/green-star-0.png"));
    let out = glimpse(
        &f.library,
        &["search", "12.40", "--limit", "3", "--json", "--weak"],
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(rows.len(), 3);
    let first = &rows[0];
    assert!(first["path"]
        .as_str()
        .unwrap()
        .ends_with("b/green-star-0.png"));
    assert_eq!(first["words"][0]["text"], "Total 12.40");
    assert_eq!(first["words"][0]["line"], 1);
    assert_eq!(first["words"][0]["spans"], serde_json::json!([[6, 11]]));
    assert_eq!(
        first["words"][0]["quad"][2],
        serde_json::json!([90.0, 40.0])
    );
    assert!(rows[1].get("words").is_none(), "only matches carry words");
    // As text: the matched words in brackets after the path.
    let out = glimpse(&f.library, &["search", "tesco", "--limit", "3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#"text: "[TESCO] Express""#), "{text}");
    assert!(text.contains(r#"text: "[Tesco]""#), "{text}");
    // Quoted text and the has-text filter from the command line.
    let out = glimpse(&f.library, &["search", r#""clubcard""#, "--paths"]);
    let paths = String::from_utf8_lossy(&out.stdout);
    assert_eq!(paths.lines().count(), 1, "{paths}");
    assert!(paths.trim_end().ends_with("b/yellow-heart-0.jpg"));
    let out = glimpse(
        &f.library,
        &["list", "--has-text", "--limit", "100", "--paths"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        TEXTS.len()
    );
}
