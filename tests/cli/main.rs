//! The `glimpse embed` command line as outside scripts use it: JSON lines, exit codes, errors,
//! device fallback.

#[path = "../common/mod.rs"]
mod common;
mod text;

use std::path::PathBuf;
use std::process::Output;

fn glimpse(args: &[&str]) -> Output {
    common::glimpse_cli()
        .args(args)
        .output()
        .expect("run glimpse")
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn model() -> String {
    common::immich_model().to_string_lossy().into_owned()
}

#[test]
fn embed_image_prints_one_normalised_512d_vector_per_path_in_order() {
    let a = common::fixture("images/jpeg_baseline.jpg");
    let b = common::fixture("images/rgba.png");
    let out = glimpse(&[
        "embed",
        "image",
        "--model",
        &model(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["path"], a.to_str().unwrap());
    assert_eq!(l[1]["path"], b.to_str().unwrap());
    for obj in &l {
        let v = common::floats(&obj["embedding"]);
        assert_eq!(v.len(), 512);
        let norm: f64 = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("running on CPU"),
        "provider not reported: {stderr}"
    );
}

#[test]
fn broken_files_give_error_lines_and_exit_1_without_panicking() {
    let good = common::fixture("images/jpeg_baseline.jpg");
    let broken = [
        ("broken/truncated.jpg", "truncated"),
        ("broken/truncated.png", ""),
        ("broken/zero_bytes.png", "empty"),
        ("broken/text_named.png", "not an image"),
    ];
    let missing = common::fixture("broken/does_not_exist.jpg");
    let mut args: Vec<String> = vec!["embed".into(), "image".into(), "--model".into(), model()];
    args.push(good.to_string_lossy().into_owned());
    for (rel, _) in &broken {
        args.push(common::fixture(rel).to_string_lossy().into_owned());
    }
    args.push(missing.to_string_lossy().into_owned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = glimpse(&refs);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let l = lines(&out);
    assert_eq!(l.len(), 2 + broken.len());
    assert!(l[0].get("embedding").is_some());
    for (obj, (rel, word)) in l[1..].iter().zip(&broken) {
        let err = obj["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{rel}: no error: {obj}"));
        assert!(obj.get("embedding").is_none());
        assert!(
            err.to_lowercase().contains(word),
            "{rel}: {err:?} should mention {word:?}"
        );
    }
    let last = l.last().unwrap()["error"].as_str().unwrap().to_lowercase();
    assert!(
        last.contains("no such file") || last.contains("cannot read"),
        "{last}"
    );
}

#[test]
fn embed_text_prints_one_line_per_caption() {
    let out = glimpse(&[
        "embed",
        "text",
        "--model",
        &model(),
        "a red circle",
        "two dogs",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["text"], "a red circle");
    assert_eq!(common::floats(&l[1]["embedding"]).len(), 512);
}

#[test]
fn requesting_cuda_without_it_falls_back_to_cpu_with_a_warning() {
    let out = glimpse(&[
        "embed",
        "text",
        "--device",
        "cuda",
        "--model",
        &model(),
        "a cat",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("CUDA"),
        "{stderr}"
    );
    assert!(stderr.contains("running on CPU"), "{stderr}");
    assert_eq!(lines(&out).len(), 1);
}

#[test]
fn a_folder_that_is_not_a_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = glimpse(&[
        "embed",
        "text",
        "--model",
        dir.path().to_str().unwrap(),
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a CLIP model folder"), "{stderr}");
}

#[test]
fn gpu_settings_are_accepted_and_a_bad_cudnn_search_is_refused() {
    let ok = glimpse(&[
        "embed",
        "text",
        "--device",
        "cuda",
        "--gpu-id",
        "1",
        "--gpu-memory-mb",
        "2048",
        "--cudnn-search",
        "heuristic",
        "--cuda-wait",
        "block",
        "--fp32",
        "--model",
        &model(),
        "x",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = glimpse(&[
        "embed",
        "text",
        "--cudnn-search",
        "fastest",
        "--model",
        &model(),
        "x",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected exhaustive"));
    let bad = glimpse(&[
        "embed",
        "text",
        "--cuda-wait",
        "nap",
        "--model",
        &model(),
        "x",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected auto, spin, yield or block"));
}

#[test]
fn unknown_device_is_rejected_by_the_parser() {
    let out = glimpse(&["embed", "text", "--device", "tpu", "--model", &model(), "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected auto"));
}

#[test]
fn answering_commands_explain_what_is_missing_instead_of_failing_obscurely() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().to_str().unwrap();
    // Nothing indexed with this model yet.
    let out = glimpse(&["--library", lib, "search", "a dog", "--model", &model()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no photos are indexed with model tiny-clip"),
        "{err}"
    );
    assert!(err.contains("glimpse index"), "{err}");
    // Index two pictures, then: minus terms alone are not a query; a bad date is refused by
    // the parser; a missing example file names itself.
    let pics = common::fixture("images");
    let out = glimpse(&[
        "--library",
        lib,
        "-q",
        "index",
        "--model",
        &model(),
        pics.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = glimpse(&["--library", lib, "search", "-dog", "--model", &model()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the query is empty"));
    let out = glimpse(&[
        "--library",
        lib,
        "search",
        "dog",
        "--after",
        "last week",
        "--model",
        &model(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a date like 2024-06-30"));
    let out = glimpse(&[
        "--library",
        lib,
        "similar",
        "/no/such.jpg",
        "--model",
        &model(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot use /no/such.jpg as an example"));
    // The random test model scores nothing above OpenAI CLIP's floor: results are hidden and
    // stderr says how to see them; --weak shows them.
    let out = glimpse(&[
        "--library",
        lib,
        "search",
        "a dog",
        "--model",
        &model(),
        "--limit",
        "3",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("weaker matches hidden: add --weak"));
    let out = glimpse(&[
        "--library",
        lib,
        "search",
        "a dog",
        "--model",
        &model(),
        "--limit",
        "3",
        "--weak",
        "--paths",
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

/// A copy of the test model at `<dir>/models/<name>` (for tests that change or move it) and a
/// folder of two photos at `<dir>/photos`.
fn model_and_photos(dir: &std::path::Path, name: &str) -> (PathBuf, PathBuf) {
    let model = dir.join("models").join(name);
    for sub in ["visual", "textual"] {
        std::fs::create_dir_all(model.join(sub)).unwrap();
        for f in std::fs::read_dir(common::immich_model().join(sub)).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), model.join(sub).join(f.file_name())).unwrap();
        }
    }
    std::fs::copy(
        common::immich_model().join("config.json"),
        model.join("config.json"),
    )
    .unwrap();
    let photos = dir.join("photos");
    std::fs::create_dir(&photos).unwrap();
    for f in ["jpeg_baseline.jpg", "rgba.png"] {
        std::fs::copy(common::fixture(&format!("images/{f}")), photos.join(f)).unwrap();
    }
    (model, photos)
}

#[test]
fn re_indexing_an_unchanged_library_does_not_load_the_model() {
    // A copy of the model whose image graph is broken after the first run: only a run that has
    // photos to encode may open it, and one that cannot loses nothing.
    let dir = tempfile::tempdir().unwrap();
    let (model, photos) = model_and_photos(dir.path(), "tiny-clip");
    let lib = dir.path().join("lib");
    let index = || {
        glimpse(&[
            "--library",
            lib.to_str().unwrap(),
            "index",
            "--model",
            model.to_str().unwrap(),
            photos.to_str().unwrap(),
        ])
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let out = index();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 encoded"), "{}", stderr(&out));
    let graph = model.join("visual").join("model.onnx");
    let good = std::fs::read(&graph).unwrap();
    std::fs::write(&graph, b"not a graph").unwrap();

    let out = index();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 unchanged"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("encoder running"),
        "{}",
        stderr(&out)
    );

    // A new photo needs the model: a clear error, and the photo is indexed once it is back.
    std::fs::copy(
        common::fixture("images/large_2400x1800.jpg"),
        photos.join("new.jpg"),
    )
    .unwrap();
    let out = index();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot open model") && stderr(&out).contains("model.onnx"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&graph, good).unwrap();
    let out = index();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 unchanged, 1 queued (1 encoded"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_model_whose_embedding_width_changed_is_refused_before_anything_is_encoded() {
    // The library recorded another width for a model of this name (its folder was replaced).
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    glimpse_library::catalog::Catalog::open(&lib)
        .unwrap()
        .model_id("tiny-clip", 256)
        .unwrap();
    let pics = common::fixture("images");
    let out = glimpse(&[
        "--library",
        lib.to_str().unwrap(),
        "index",
        "--model",
        &model(),
        pics.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("512-wide embeddings but this library holds 256-wide ones"),
        "{err}"
    );
    assert!(!err.contains("encoded"), "{err}");
}

#[test]
fn a_folder_tagged_from_the_command_line_tags_new_photos_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    let add = |f: &str, name: &str| {
        std::fs::copy(common::fixture(&format!("images/{f}")), photos.join(name)).unwrap();
    };
    add("jpeg_baseline.jpg", "a.jpg");
    let lib = dir.path().join("lib");
    let run = |args: &[&str]| {
        let m = model();
        let all = [
            &["--library", lib.to_str().unwrap()],
            &args[..1],
            &["--model", m.as_str()],
            &args[1..],
        ]
        .concat();
        let out = glimpse(&all);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{all:?}: {err}");
        err
    };
    let folder = photos.to_str().unwrap();
    run(&["index", folder]);
    let err = run(&["tag", folder, "--labels", "dog,beach"]);
    assert!(err.contains("later get these labels too"), "{err}");
    let status = |json: bool| {
        let mut args = vec!["--library", lib.to_str().unwrap(), "status"];
        if json {
            args.push("--json");
        }
        let out = glimpse(&args);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let real = photos.canonicalize().unwrap();
    assert!(
        status(false).contains(&format!(
            "auto-tags new photos in {}: dog, beach",
            real.display()
        )),
        "{}",
        status(false)
    );
    let info: serde_json::Value =
        serde_json::from_str(status(true).lines().next().unwrap()).unwrap();
    assert_eq!(
        info["auto_tags"],
        serde_json::json!([{"folder": real.to_str().unwrap(), "labels": ["dog", "beach"]}])
    );

    add("rgba.png", "b.png");
    let err = run(&["index", folder]);
    assert!(
        err.contains("1 new or changed photos went through their folder's auto-tag"),
        "{err}"
    );

    let err = run(&["tag", folder, "--stop"]);
    assert!(err.contains("no longer auto-tagged"), "{err}");
    assert!(!status(false).contains("auto-tags"), "{}", status(false));
    add("large_2400x1800.jpg", "c.jpg");
    let err = run(&["index", folder]);
    assert!(
        err.contains("1 queued") && !err.contains("auto-tag"),
        "{err}"
    );
    let err = run(&["tag", folder, "--stop"]);
    assert!(err.contains("was not auto-tagged"), "{err}");
}

#[test]
fn a_model_chosen_once_is_used_until_another_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (mine, photos) = model_and_photos(dir.path(), "mine");
    let lib = dir.path().join("lib");
    // Run from `cwd`, with no model in the environment (the default would be downloaded).
    let run = |cwd: &std::path::Path, args: &[&str]| {
        let out = common::glimpse_on(&lib)
            .current_dir(cwd)
            .args(args)
            .env_remove("GLIMPSE_MODEL")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), err, out.stdout)
    };
    let folder = photos.to_str().unwrap();
    // Named once, relative to where the command ran.
    let (ok, err, _) = run(dir.path(), &["index", "--model", "models/mine", folder]);
    assert!(ok && err.contains("2 encoded"), "{err}");
    // Every later command that names none uses it, from anywhere.
    let elsewhere = photos.as_path();
    let (ok, err, out) = run(elsewhere, &["search", "a photo", "--weak", "--paths"]);
    assert!(ok, "{err}");
    assert_eq!(String::from_utf8_lossy(&out).lines().count(), 2, "{err}");
    let (ok, err, _) = run(elsewhere, &["tag", folder, "--labels", "dog,beach"]);
    assert!(ok, "{err}");
    std::fs::copy(
        common::fixture("images/large_2400x1800.jpg"),
        photos.join("new.jpg"),
    )
    .unwrap();
    let (ok, err, _) = run(elsewhere, &["index"]);
    assert!(ok && err.contains("1 queued (1 encoded"), "{err}");
    let (ok, err, out) = run(elsewhere, &["status", "--json"]);
    assert!(ok, "{err}");
    let first = String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap()
        .to_string();
    let info: serde_json::Value = serde_json::from_str(&first).unwrap();
    let real = dir.path().canonicalize().unwrap().join("models/mine");
    assert_eq!(
        (info["model"].as_str(), info["model_source"].as_str()),
        (Some("mine"), real.to_str())
    );
    // Naming another model uses that one (not indexed here, so it says so).
    let tiny = model();
    let (ok, err, _) = run(elsewhere, &["search", "a photo", "--model", &tiny]);
    assert!(
        !ok && err.contains("no photos are indexed with model tiny-clip"),
        "{err}"
    );
    // The remembered folder is gone: the error says which model and how to name another.
    std::fs::rename(&mine, dir.path().join("moved")).unwrap();
    let (ok, err, _) = run(elsewhere, &["search", "a photo"]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "was last indexed with model \"{}\"; name one with --model",
            real.display()
        )),
        "{err}"
    );
}
