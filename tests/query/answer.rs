//! Exact-result tests of search, filters, pagination, minus terms, example photos and tagging
//! on libraries whose vectors are chosen by hand (no model), so every expected list is known.

use glimpse_library::catalog::{Catalog, PhotoFilter};
use glimpse_library::pipeline::Outcome;
use glimpse_library::Library;
use glimpse_query::search::{self, Request, SearchError, Sort};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const DIM: usize = 8;
const DAY: i64 = 86_400;
/// 2024-01-01 in Unix seconds.
const JAN1: i64 = 1_704_067_200;

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn e(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[i] = 1.0;
    v
}

/// One synthetic photo: where it is, its vector, its day and format.
struct Spec {
    name: &'static str,
    rel: &'static str,
    vector: Vec<f32>,
    day: i64,
    format: &'static str,
}

struct Synthetic {
    _dir: tempfile::TempDir,
    root: PathBuf,
    lib: Library,
    ids: HashMap<&'static str, i64>,
    names: HashMap<i64, &'static str>,
}

impl Synthetic {
    fn names(&self, page: &search::Page) -> Vec<&'static str> {
        page.hits.iter().map(|h| self.names[&h.photo.id]).collect()
    }
}

/// Writes each photo as a small file with unique bytes, records it in a catalog with its
/// hand-made vector (as the indexer would), and opens the library (which builds the index).
fn build(specs: Vec<Spec>) -> Synthetic {
    let dir = tempfile::tempdir().unwrap();
    let root = dir
        .path()
        .join("photos")
        .canonicalize()
        .unwrap_or_else(|_| {
            std::fs::create_dir_all(dir.path().join("photos")).unwrap();
            dir.path().join("photos").canonicalize().unwrap()
        });
    let libdir = dir.path().join("library");
    let mut ids = HashMap::new();
    {
        let mut cat = Catalog::open(&libdir).unwrap();
        let model = cat.model_id("synthetic", DIM).unwrap();
        let r = cat.add_root(&root).unwrap();
        let mut files = Vec::new();
        let mut contents = Vec::new();
        for s in &specs {
            let path = root.join(s.rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let bytes = format!("photo {}", s.name).into_bytes();
            std::fs::write(&path, &bytes).unwrap();
            let mtime_ns = (JAN1 + s.day * DAY) * 1_000_000_000;
            files.push((path, bytes.len() as i64, mtime_ns, None));
            contents.push(bytes);
        }
        let rows = cat.upsert_files(r.id, &files).unwrap();
        let outcomes: Vec<Outcome> = specs
            .iter()
            .zip(&rows)
            .zip(&contents)
            .map(|((s, id), bytes)| Outcome::Encoded {
                photo_id: *id,
                hash: *blake3::hash(bytes).as_bytes(),
                vector: unit(s.vector.clone()),
                width: 640,
                height: 480,
                format: s.format.to_string(),
                metadata: Default::default(),
                note: None,
            })
            .collect();
        cat.commit_batch(model, &outcomes).unwrap();
        for (s, id) in specs.iter().zip(rows) {
            ids.insert(s.name, id);
        }
    }
    let lib = Library::open(&libdir, "synthetic", DIM).unwrap();
    assert_eq!(lib.vector_count(), specs.len());
    let names = ids.iter().map(|(k, v)| (*v, *k)).collect();
    Synthetic {
        _dir: dir,
        root,
        lib,
        ids,
        names,
    }
}

/// Twelve photos p0..p11 whose cosine to e0 falls from 0.95 by 0.07 each; dates are a
/// permutation of twelve days so date order differs from score order.
fn twelve() -> Synthetic {
    const NAMES: [&str; 12] = [
        "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11",
    ];
    const RELS: [&str; 12] = [
        "a/p0.jpg",
        "a/sub/p1.png",
        "a2/p2.jpg",
        "b/p3.jpg",
        "b/p4.png",
        "b/deep/er/p5.jpg",
        "c/p6.jpg",
        "c/p7.webp",
        "a/p8.jpg",
        "c/p9.gif",
        "c/p10.gif",
        "b/p11.gif",
    ];
    let specs = (0..12)
        .map(|i| {
            let c = 0.95 - 0.07 * i as f32;
            let mut v: Vec<f32> = e(0).iter().map(|x| x * c).collect();
            v[1 + i % 6] += (1.0 - c * c).sqrt();
            Spec {
                name: NAMES[i],
                rel: RELS[i],
                vector: v,
                day: ((i * 5) % 12) as i64,
                format: match RELS[i].rsplit('.').next().unwrap() {
                    "jpg" => "jpeg",
                    other => Box::leak(other.to_string().into_boxed_str()),
                },
            }
        })
        .collect();
    build(specs)
}

fn all_by_score() -> Vec<&'static str> {
    vec![
        "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11",
    ]
}

#[test]
fn pages_partition_the_exact_ranking() {
    let s = twelve();
    let q = e(0);
    let mut seen = Vec::new();
    let mut more = Vec::new();
    for page in 0..3 {
        let req = Request {
            offset: page * 5,
            ..Request::new(5)
        };
        let p = search::nearest(&s.lib, &q, &req).unwrap();
        assert!(p.exact, "12 vectors are scored exactly");
        seen.extend(s.names(&p));
        more.push(p.has_more);
        if page == 0 {
            let best = p.hits[0].score.unwrap();
            assert!((best - 0.95).abs() < 2e-3, "{best}");
        }
    }
    assert_eq!(seen, all_by_score());
    assert_eq!(more, vec![true, true, false]);
    // The graph path gives the same pages on a library this small.
    let req = Request {
        exact_max: 0,
        ..Request::new(12)
    };
    let p = search::nearest(&s.lib, &q, &req).unwrap();
    assert!(!p.exact);
    assert_eq!(s.names(&p), all_by_score());
}

#[test]
fn folder_filter_is_a_subtree_not_a_name_prefix() {
    let s = twelve();
    let run = |filter: PhotoFilter| {
        let req = Request {
            filter,
            ..Request::new(20)
        };
        s.names(&search::nearest(&s.lib, &e(0), &req).unwrap())
    };
    let folder = |rel: &str| PhotoFilter {
        folder: Some(s.root.join(rel)),
        ..Default::default()
    };
    // "a" holds p0, p8 and a/sub's p1; "a2" (same prefix) is not inside it.
    assert_eq!(run(folder("a")), vec!["p0", "p1", "p8"]);
    assert_eq!(run(folder("a/")), vec!["p0", "p1", "p8"]);
    assert_eq!(run(folder("a2")), vec!["p2"]);
    assert_eq!(run(folder("b")), vec!["p3", "p4", "p5", "p11"]);
    assert_eq!(run(folder("b/deep")), vec!["p5"]);
    assert_eq!(run(folder("nowhere")), Vec::<&str>::new());
    assert_eq!(run(folder("")), all_by_score());
}

#[test]
fn date_range_is_half_open_and_combines_with_type_and_tag() {
    let s = twelve();
    let run = |s: &Synthetic, filter: PhotoFilter| {
        let req = Request {
            filter,
            ..Request::new(20)
        };
        s.names(&search::nearest(&s.lib, &e(0), &req).unwrap())
    };
    // Days are (i*5) % 12: p0 0, p1 5, p2 10, p3 3, p4 8, p5 1, p6 6, p7 11, p8 4, p9 9,
    // p10 2, p11 7. Days 3, 4, 5 (before day 6): p3, p8, p1, in score order.
    let range = PhotoFilter {
        after: Some(JAN1 + 3 * DAY),
        before: Some(JAN1 + 6 * DAY),
        ..Default::default()
    };
    assert_eq!(run(&s, range.clone()), vec!["p1", "p3", "p8"]);
    // A photo at exactly `before` is out; one second earlier is in.
    let edge = PhotoFilter {
        before: Some(JAN1 + 5 * DAY),
        after: Some(JAN1 + 5 * DAY - 1),
        ..Default::default()
    };
    assert_eq!(run(&s, edge), Vec::<&str>::new());
    let types = PhotoFilter {
        formats: vec!["png".into(), "GIF".into()],
        ..Default::default()
    };
    assert_eq!(run(&s, types), vec!["p1", "p4", "p9", "p10", "p11"]);
    let both = PhotoFilter {
        formats: vec!["png".into()],
        ..range
    };
    assert_eq!(run(&s, both), vec!["p1"]);
    // Tags: p5 and p9 carry "sunset"; the filter ignores case.
    // Tags written straight into the catalog, as a tagging run would leave them.
    let mut catalog = Catalog::open(s.lib.dir()).unwrap();
    let sunset = catalog.label_id("sunset", true).unwrap();
    let (p5, p9) = (s.ids["p5"], s.ids["p9"]);
    catalog
        .replace_tags(&[p5, p9], &[(p5, sunset, 0.9), (p9, sunset, 0.8)])
        .unwrap();
    let tag = PhotoFilter {
        tag: Some("Sunset".into()),
        ..Default::default()
    };
    assert_eq!(run(&s, tag.clone()), vec!["p5", "p9"]);
    let tagged_gif = PhotoFilter {
        formats: vec!["gif".into()],
        ..tag
    };
    assert_eq!(run(&s, tagged_gif), vec!["p9"]);
}

#[test]
fn a_selective_filter_still_returns_every_match_on_the_graph_path() {
    // 3,000 clustered photos; the filter keeps the 5 that lie far from the query, which a
    // filtered graph walk starting near the query may not reach: all 5 must come back, in
    // exact order.
    let mut specs = Vec::new();
    let mut seed = 7u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 10_000) as f32 / 10_000.0 - 0.5
    };
    for i in 0..3000 {
        let mut v = e(i % 3);
        v.iter_mut().for_each(|x| *x += 0.3 * rnd());
        let far = i % 600 == 599;
        if far {
            let k = (i / 600) as f32;
            v = e(7);
            v[6] = 0.2 * k;
            v[0] = -0.05 * k;
        }
        specs.push(Spec {
            name: Box::leak(format!("n{i}").into_boxed_str()),
            rel: Box::leak(
                format!("{}/n{i}.jpg", if far { "far" } else { "near" }).into_boxed_str(),
            ),
            vector: v,
            day: 0,
            format: "jpeg",
        });
    }
    let s = build(specs);
    let filter = PhotoFilter {
        folder: Some(s.root.join("far")),
        ..Default::default()
    };
    let req = Request {
        filter,
        exact_max: 0,
        ..Request::new(10)
    };
    let p = search::nearest(&s.lib, &e(0), &req).unwrap();
    // Scores against e0: 0, -0.049, -0.092, -0.127, -0.154.
    assert_eq!(
        s.names(&p),
        vec!["n599", "n1199", "n1799", "n2399", "n2999"]
    );
    let p = search::nearest(
        &s.lib,
        &unit(vec![0., 0., 0., 0., 0., 0., 1., 1.]),
        &Request {
            filter: req.filter.clone(),
            ..Request::new(3)
        },
    )
    .unwrap();
    assert_eq!(s.names(&p), vec!["n2999", "n2399", "n1799"]);
    assert!(p.has_more);
}

/// A text tower stand-in: each known word maps to a fixed vector; a prompt ("a photo of the
/// small beach.") maps to the vector of the word it contains.
type Embed<'a> = Box<dyn FnMut(&[&str]) -> Result<Vec<Vec<f32>>, search::TowerError> + 'a>;

fn dictionary<'a>(words: &'a [(&'static str, Vec<f32>)]) -> Embed<'a> {
    Box::new(move |texts: &[&str]| {
        texts
            .iter()
            .map(|t| {
                words
                    .iter()
                    .find(|(w, _)| t.split(|c: char| !c.is_alphanumeric()).any(|x| x == *w))
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("unknown text {t:?}").into())
            })
            .collect()
    })
}

fn beach_library() -> Synthetic {
    let spec = |name, v: Vec<f32>| Spec {
        name,
        rel: Box::leak(format!("{name}.jpg").into_boxed_str()),
        vector: v,
        day: 0,
        format: "jpeg",
    };
    build(vec![
        spec("beach_people", vec![1.0, 0.5, 0., 0., 0., 0., 0., 0.]),
        spec("beach", vec![1.0, 0.0, 0.6, 0., 0., 0., 0., 0.]),
        spec("people", vec![0.0, 1.0, 0., 0., 0., 0., 0., 0.]),
        spec("forest", vec![0.1, 0.0, 0., 1., 0., 0., 0., 0.]),
    ])
}

#[test]
fn minus_terms_demote_what_they_name() {
    let s = beach_library();
    let words = [("beach", e(0)), ("people", e(1))];
    let mut embed = dictionary(&words);
    let run = |embed: &mut search::EmbedTexts<'_>, q: &str| {
        let v = search::query_vector(embed, &search::parse(q), &[]).unwrap();
        let p = search::nearest(&s.lib, &v, &Request::new(4)).unwrap();
        (
            s.names(&p),
            p.hits.iter().map(|h| h.score.unwrap()).collect::<Vec<_>>(),
        )
    };
    // cos(beach, beach_people) = 1/sqrt(1.25) = 0.894 > cos(beach, beach) = 1/sqrt(1.36) = 0.857.
    let (names, _) = run(&mut *embed, "beach");
    assert_eq!(names, vec!["beach_people", "beach", "forest", "people"]);
    // q = unit(e0 - 0.5 e1): beach 0.767, beach_people 0.6, forest 0.089, people -0.447.
    let (names, scores) = run(&mut *embed, "beach -people");
    assert_eq!(names, vec!["beach", "beach_people", "forest", "people"]);
    let want = [0.767, 0.6, 0.089, -0.447];
    for (g, w) in scores.iter().zip(want) {
        assert!((g - w).abs() < 3e-3, "{scores:?}");
    }
    let err = search::query_vector(&mut *embed, &search::parse("-people"), &[]);
    assert!(matches!(err, Err(SearchError::EmptyQuery)));
    // An example photo combines with words: beach_people's own vector + "beach" - "people".
    let bp = s.lib.stored_vector(s.ids["beach_people"]).unwrap().unwrap();
    let v = search::query_vector(&mut *embed, &search::parse("beach -people"), &[bp]).unwrap();
    let p = search::nearest(
        &s.lib,
        &v,
        &Request {
            exclude: vec![s.ids["beach_people"]],
            ..Request::new(4)
        },
    )
    .unwrap();
    assert_eq!(s.names(&p), vec!["beach", "forest", "people"]);
}

#[test]
fn date_sort_and_the_relevance_floor() {
    let s = twelve();
    let floor = |include_weak, sort| Request {
        floor: Some(0.5),
        include_weak,
        sort,
        ..Request::new(20)
    };
    // Above 0.5: p0..p6 (0.95 .. 0.53); p7 scores 0.46.
    let p = search::nearest(&s.lib, &e(0), &floor(false, Sort::Score)).unwrap();
    assert_eq!(s.names(&p), &all_by_score()[..7]);
    assert!(p.weaker_hidden && !p.has_more);
    let p = search::nearest(&s.lib, &e(0), &floor(true, Sort::Score)).unwrap();
    assert_eq!(s.names(&p), all_by_score());
    assert!(!p.weaker_hidden);
    // Newest first among the strong matches: days p2 10, p4 8, p6 6, p1 5, p3 3, p5 1, p0 0.
    let p = search::nearest(&s.lib, &e(0), &floor(false, Sort::Newest)).unwrap();
    assert_eq!(s.names(&p), vec!["p2", "p4", "p6", "p1", "p3", "p5", "p0"]);
    let mut oldest = floor(false, Sort::Oldest);
    oldest.limit = 3;
    oldest.offset = 3;
    let p = search::nearest(&s.lib, &e(0), &oldest).unwrap();
    assert_eq!(s.names(&p), vec!["p1", "p6", "p4"]);
    assert!(p.has_more);
    assert_eq!(p.hits[0].photo.date, JAN1 + 5 * DAY);
}

#[test]
fn an_example_photo_uses_its_stored_vector_and_is_left_out() {
    let s = twelve();
    let p3 = s.root.join("b/p3.jpg");
    let ex = search::example(&s.lib, None, &p3).unwrap();
    assert_eq!(ex.photo_id, Some(s.ids["p3"]));
    assert!(!ex.encoded);
    let req = Request {
        exclude: ex.photo_id.into_iter().collect(),
        ..Request::new(3)
    };
    let p = search::nearest(&s.lib, &glimpse_clip::embedding::unit(ex.vector), &req).unwrap();
    assert!(!s.names(&p).contains(&"p3"));
    // p3 and p9 both lean to e4 (cosine 0.874); then p0 (0.703) and p1 (0.651).
    assert_eq!(s.names(&p), vec!["p9", "p0", "p1"]);
    // The same bytes outside the library reuse p3's vector; the library photo is not the query.
    let outside = tempfile::tempdir().unwrap();
    let copy = outside.path().join("copy.jpg");
    std::fs::copy(&p3, &copy).unwrap();
    let ex2 = search::example(&s.lib, None, &copy).unwrap();
    assert_eq!((ex2.photo_id, ex2.same_content), (None, Some(s.ids["p3"])));
    // New bytes need the image encoder; a missing file is a clear error.
    std::fs::write(outside.path().join("new.jpg"), b"new bytes").unwrap();
    assert!(matches!(
        search::example(&s.lib, None, &outside.path().join("new.jpg")),
        Err(SearchError::NeedsEncoder(_))
    ));
    assert!(matches!(
        search::example(&s.lib, None, Path::new("/no/such/file.jpg")),
        Err(SearchError::Example { .. })
    ));
}

#[test]
fn tagging_uses_stored_vectors_and_cached_label_vectors() {
    let mut s = beach_library();
    let words = [
        ("beach", e(0)),
        ("people", e(1)),
        ("forest", e(3)),
        ("sea", e(2)),
    ];
    let mut calls: Vec<usize> = Vec::new();
    let mut dict = dictionary(&words);
    let mut embed = |t: &[String]| {
        calls.push(t.len());
        let refs: Vec<&str> = t.iter().map(String::as_str).collect();
        dict(&refs)
    };
    let root = s.root.clone();
    let labels = vec!["Beach".to_string(), "people".into(), "forest".into()];
    let opts = glimpse_query::tags::TagOptions {
        threshold: 0.25,
        min_cosine: 0.2,
    };
    let r = glimpse_query::tags::tag_folder(&mut s.lib, &root, &labels, &opts, &mut embed).unwrap();
    assert_eq!((r.photos, r.tagged, r.labels_embedded), (4, 4, 3));
    let top: HashMap<String, String> = r
        .per_photo
        .iter()
        .map(|(i, t)| {
            let name = i.path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, t[0].0.clone())
        })
        .collect();
    assert_eq!(top["beach_people"], "beach");
    assert_eq!(top["beach"], "beach");
    assert_eq!(top["people"], "people");
    assert_eq!(top["forest"], "forest");
    // Same labels again: nothing embedded; one new label: only its 7 prompts are embedded.
    let r = glimpse_query::tags::tag_folder(&mut s.lib, &root, &labels, &opts, &mut embed).unwrap();
    assert_eq!(r.labels_embedded, 0);
    let more = vec!["beach".to_string(), "sea".into()];
    let r = glimpse_query::tags::tag_folder(&mut s.lib, &root, &more, &opts, &mut embed).unwrap();
    // people and forest match neither label (cosine < 0.2): untagged, though the softmax
    // over two unrelated labels would give each 0.5.
    assert_eq!((r.labels_embedded, r.tagged), (1, 2));
    assert_eq!(calls, vec![21, 7]);
    // The new set replaced the old tags: "people" is gone; the beach photo is 0.51 from sea
    // but 0.86 from beach, so the softmax at 100 gives sea ~0.
    let counts: HashMap<String, u64> = s.lib.records().tag_counts().unwrap().into_iter().collect();
    assert_eq!(counts.get("people"), None);
    assert_eq!(counts["beach"], 2);
    let filter = PhotoFilter {
        tag: Some("beach".into()),
        ..Default::default()
    };
    let p = search::nearest(
        &s.lib,
        &e(3),
        &Request {
            filter,
            ..Request::new(10)
        },
    )
    .unwrap();
    let mut names = s.names(&p);
    names.sort();
    assert_eq!(names, vec!["beach", "beach_people"]);
    assert_eq!(s.lib.max_encodes().unwrap(), 1, "tagging never re-encodes");
}
