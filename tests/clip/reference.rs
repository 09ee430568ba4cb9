//! The engine against the Python reference on the same ONNX model: image embeddings (cosine ≥
//! 0.999), text embeddings (≥ 0.9999), preprocessing tensors and tokenizer ids. The fixtures
//! are made by `tests/fixtures/make_fixtures.py` (transformers' CLIPImageProcessor and
//! `open_clip.tokenize`; versions recorded in the JSON files).

use crate::common;

use glimpse_clip::decode::{decode_file, DecodeOptions};
use glimpse_clip::device::Device;
use glimpse_clip::encode::{BatchAxis, ImageEncoder, TextEncoder};
use glimpse_clip::model::{Layout, ModelFiles};
use glimpse_clip::tokenize::Tokenizer;

fn images() -> Vec<serde_json::Value> {
    common::json("reference/images.json")["images"]
        .as_array()
        .expect("images")
        .clone()
}

/// The reference fixtures' files, in `images()` order.
fn fixture_paths() -> Vec<std::path::PathBuf> {
    images()
        .iter()
        .map(|e| common::fixture(&format!("images/{}", e["file"].as_str().unwrap())))
        .collect()
}

/// Every reference fixture embedded by `enc`, in `images()` order.
fn embed_fixtures(enc: &ImageEncoder) -> Vec<Vec<f32>> {
    let paths = fixture_paths();
    let mut got: Vec<Option<Vec<f32>>> = vec![None; paths.len()];
    enc.embed_files(&paths, 2, |i, r| got[i] = Some(r.unwrap()));
    got.into_iter().map(Option::unwrap).collect()
}

/// The expected embedding of a fixture. Pillow, and so the transformers reference, turns a 16-bit
/// grey PNG ("I;16") into 8 bits by clipping every value above 255 to white, which makes real
/// 16-bit grey photos blank; Glimpse keeps the high byte instead, as Pillow itself does for 16-bit
/// RGB. For those files the fixture script also runs the reference pipeline on the high-byte
/// picture (`variants.high_byte_grey`), and that is what we are held to.
fn expected(e: &serde_json::Value) -> &serde_json::Value {
    e.pointer("/variants/high_byte_grey").unwrap_or(e)
}

fn sha256_f32(v: &[f32]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for x in v {
        h.update(x.to_le_bytes());
    }
    hex::encode(h.finalize())
}

fn read_f32(rel: &str) -> Vec<f32> {
    let bytes = std::fs::read(common::fixture(rel)).expect("pixel fixture");
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn fixture_set_covers_every_format_and_oddity() {
    let names: Vec<String> = images()
        .iter()
        .map(|e| e["file"].as_str().unwrap().to_owned())
        .collect();
    for needle in [
        "exif_orientation_3",
        "exif_orientation_6",
        "exif_orientation_8",
        "rgba.png",
        "grey_alpha.png",
        "palette",
        "rgb16.png",
        "grey16.png",
        ".webp",
        ".bmp",
        ".tiff",
        ".gif",
        "tiny_50x50",
        "panorama_1000x200",
        "progressive",
    ] {
        assert!(
            names.iter().any(|n| n.contains(needle)),
            "no fixture for {needle}"
        );
    }
    assert!(
        common::json("reference/texts.json")["texts"]
            .as_array()
            .unwrap()
            .len()
            >= 40
    );
    assert!(
        common::json("reference/tokens.json")["tokens"]
            .as_array()
            .unwrap()
            .len()
            >= 200
    );
}

/// Full-resolution decode + preprocessing against transformers' pixel tensors. Lossless formats
/// must match exactly; JPEG and lossy WebP may differ by the decoder's rounding only.
#[test]
fn preprocessing_matches_transformers_pixel_for_pixel() {
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for e in images() {
        let name = e["file"].as_str().unwrap();
        let want = read_f32(&format!("reference/{}", e["pixels_file"].as_str().unwrap()));
        let d = decode_file(
            &common::fixture(&format!("images/{name}")),
            DecodeOptions::full(),
        )
        .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(
            (d.width as u64, d.height as u64),
            (
                e["display_width"].as_u64().unwrap(),
                e["display_height"].as_u64().unwrap()
            ),
            "{name}: upright size"
        );
        let got = files.preprocess.apply(&d.image);
        assert_eq!(got.len(), want.len());
        if let Some(v) = e.pointer("/variants/high_byte_grey") {
            let ok = sha256_f32(&got) == v["pixels_sha256"].as_str().unwrap();
            report.push(format!(
                "{name}: high-byte variant tensor sha256 equal: {ok}"
            ));
            if !ok {
                failures.push(format!(
                    "{name}: tensor differs from the high-byte reference"
                ));
            }
            continue;
        }
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        report.push(format!(
            "{name}: max |diff| {max:.5}, {differing} values differ"
        ));
        let lossy = e["lossy_codec"].as_bool().unwrap();
        // One 8-bit level is 1/255/std ≈ 0.0146; lossless formats must be bit-exact.
        let limit = if lossy { 0.1 } else { 0.0 };
        if max > limit {
            failures.push(format!("{name}: max |diff| {max} > {limit}"));
        }
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{failures:#?}");
}

fn check_image_layout(dir: std::path::PathBuf, layout: Layout, batch: BatchAxis) {
    let rt = common::runtime();
    let files = ModelFiles::open(&dir).unwrap();
    assert_eq!(files.layout, layout);
    let enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    assert_eq!(enc.batch_axis(), batch);
    let entries = images();
    let paths: Vec<_> = entries
        .iter()
        .map(|e| common::fixture(&format!("images/{}", e["file"].as_str().unwrap())))
        .collect();
    let mut got: Vec<Option<Vec<f32>>> = vec![None; paths.len()];
    enc.embed_files(&paths, 2, |i, r| {
        got[i] = Some(r.unwrap_or_else(|e| panic!("{}: {e}", paths[i].display())))
    });
    let mut worst = (1.0f64, String::new());
    for (e, g) in entries.iter().zip(got) {
        let name = e["file"].as_str().unwrap();
        let c = common::cosine(
            &g.expect("result"),
            &common::floats(&expected(e)["embedding"]),
        );
        println!("{layout:?} {name}: cosine {c:.6}");
        if c < worst.0 {
            worst = (c, name.to_owned());
        }
    }
    assert!(
        worst.0 >= 0.999,
        "{layout:?}: {} has cosine {}",
        worst.1,
        worst.0
    );
}

#[test]
fn image_embeddings_match_reference_immich_layout_batched() {
    check_image_layout(common::immich_model(), Layout::Immich, BatchAxis::Dynamic);
}

/// transformers exported this vision graph for one picture; it runs from its batched copy.
#[test]
fn image_embeddings_match_reference_hf_layout_exported_for_one_picture() {
    check_image_layout(common::hf_model(), Layout::HuggingFace, BatchAxis::Dynamic);
}

/// A missing rotation must be caught by the 0.999 threshold, or the test above proves nothing.
#[test]
fn ignoring_exif_orientation_would_fail_the_threshold() {
    let rt = common::runtime();
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    for e in images() {
        let name = e["file"].as_str().unwrap();
        if !name.starts_with("exif_orientation_") {
            continue;
        }
        // Decode the raw pixels without applying the tag, through the same preprocessing.
        let bytes = std::fs::read(common::fixture(&format!("images/{name}"))).unwrap();
        let raw = image::load_from_memory(&bytes).unwrap().to_rgb8();
        let t = files.preprocess.apply(&raw);
        let v = enc.encode(&t, 1).unwrap().remove(0);
        let c = common::cosine(&v, &common::floats(&e["embedding"]));
        assert!(c < 0.999, "{name}: unrotated cosine {c} would pass");
    }
}

#[test]
fn dct_scaled_decode_stays_within_0_999_of_full_decode() {
    let rt = common::runtime();
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    let path = common::fixture("images/large_2400x1800.jpg");
    let full = decode_file(&path, DecodeOptions::full()).unwrap();
    let scaled = decode_file(&path, DecodeOptions::for_model(224)).unwrap();
    assert_eq!(full.dct_scale, 1);
    assert!(
        scaled.dct_scale >= 4,
        "expected DCT scaling, got 1/{}",
        scaled.dct_scale
    );
    assert!(scaled.image.width().min(scaled.image.height()) >= 224);
    let a = enc.encode(&files.preprocess.apply(&full.image), 1).unwrap();
    let b = enc
        .encode(&files.preprocess.apply(&scaled.image), 1)
        .unwrap();
    let c = common::cosine(&a[0], &b[0]);
    println!(
        "1/{} DCT-scaled vs full decode: cosine {c:.6}",
        scaled.dct_scale
    );
    assert!(c >= 0.999, "cosine {c}");
}

/// Every fixture decoded as the indexer decodes it (`DecodeOptions::for_model`: DCT-scaled
/// while the short side stays at least twice the model's input) keeps cosine ≥ 0.999 with the
/// reference. For JPEGs it also prints the cosine at each coarser DCT scale that still keeps
/// 224 px (the old rule took the coarsest: a 640 x 480 JPEG at 1/2 gave 0.9988 on a real model).
#[test]
fn every_fixture_decoded_for_the_model_keeps_reference_parity() {
    let rt = common::runtime();
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    let size = files.preprocess.resize;
    let embed = |d: &glimpse_clip::decode::Decoded| {
        enc.encode(&files.preprocess.apply(&d.image), 1)
            .unwrap()
            .remove(0)
    };
    let mut worst = (1.0f64, String::new());
    for e in images() {
        let name = e["file"].as_str().unwrap();
        let path = common::fixture(&format!("images/{name}"));
        let want = common::floats(&expected(&e)["embedding"]);
        let d = decode_file(&path, DecodeOptions::for_model(size)).unwrap();
        let c = common::cosine(&embed(&d), &want);
        let mut line = format!("{name}: 1/{} cosine {c:.6}", d.dct_scale);
        // Coarser scales, for the record: decoding for a smaller "model" lets them through.
        if name.ends_with(".jpg") {
            for denom in [2u32, 4, 8].into_iter().filter(|&k| k > d.dct_scale) {
                let short = d.width.min(d.height);
                if short.div_ceil(denom) < size {
                    break;
                }
                let coarser =
                    decode_file(&path, DecodeOptions::for_model(short.div_ceil(denom) / 2))
                        .unwrap();
                assert_eq!(coarser.dct_scale, denom, "{name}");
                let c = common::cosine(&embed(&coarser), &want);
                line.push_str(&format!(", at 1/{denom}: {c:.6}"));
            }
        }
        println!("{line}");
        if c < worst.0 {
            worst = (c, name.to_owned());
        }
    }
    assert!(worst.0 >= 0.999, "{} has cosine {}", worst.1, worst.0);
}

fn check_text_layout(dir: std::path::PathBuf) {
    let rt = common::runtime();
    let files = ModelFiles::open(&dir).unwrap();
    let enc = TextEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    let doc = common::json("reference/texts.json");
    let entries = doc["texts"].as_array().unwrap();
    let texts: Vec<&str> = entries
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    let got = enc.embed(&texts).unwrap();
    let mut worst = (1.0f64, String::new());
    for (e, g) in entries.iter().zip(&got) {
        let c = common::cosine(g, &common::floats(&e["embedding"]));
        if c < worst.0 {
            worst = (c, e["text"].as_str().unwrap().to_owned());
        }
    }
    println!(
        "{}: worst text cosine {:.7} ({:?})",
        dir.display(),
        worst.0,
        worst.1
    );
    assert!(worst.0 >= 0.9999, "{:?} has cosine {}", worst.1, worst.0);
}

#[test]
fn text_embeddings_match_reference_immich_layout() {
    check_text_layout(common::immich_model());
}

#[test]
fn text_embeddings_match_reference_hf_layout() {
    check_text_layout(common::hf_model());
}

fn assert_ids_match(doc: &serde_json::Value, key: &str) -> usize {
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let tok = Tokenizer::from_file(&files.tokenizer, 77, files.pad_token.as_deref()).unwrap();
    let entries = doc[key].as_array().unwrap();
    let mut mismatches = Vec::new();
    for e in entries {
        let text = e["text"].as_str().unwrap();
        let want: Vec<u32> = e["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = tok.encode(text).unwrap().ids;
        if got != want {
            mismatches.push(format!(
                "{text:?}\n   cleaned (python) {:?}\n   cleaned (rust)   {:?}\n   want {:?}\n   got  {:?}",
                e["cleaned"].as_str().unwrap_or(""),
                glimpse_clip::tokenize::clean_caption(text),
                &want[..want.iter().position(|&x| x == 49407).map_or(77, |p| p + 1)],
                &got[..got.iter().position(|&x| x == 49407).map_or(77, |p| p + 1)],
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ from open_clip:\n{}",
        mismatches.len(),
        entries.len(),
        mismatches.join("\n")
    );
    entries.len()
}

#[test]
fn tokenizer_ids_equal_open_clip_tokenize() {
    let n = assert_ids_match(&common::json("reference/tokens.json"), "tokens");
    assert!(n >= 200);
}

#[test]
fn caption_fixture_ids_equal_open_clip_tokenize() {
    assert_ids_match(&common::json("reference/texts.json"), "texts");
}

/// A model folder whose text tower is the open_clip export of `models/test/openclip-text`
/// (the zoo's form: fixed `[1, 77]` input, 77 written into masks and Reshape targets).
fn openclip_text_model(dir: &std::path::Path) -> std::path::PathBuf {
    let tiny = common::immich_model();
    let model = dir.join("openclip");
    for sub in ["visual", "textual"] {
        std::fs::create_dir_all(model.join(sub)).unwrap();
    }
    for f in [
        "config.json",
        "visual/model.onnx",
        "visual/preprocess_cfg.json",
        "textual/tokenizer.json",
    ] {
        std::fs::copy(tiny.join(f), model.join(f)).unwrap();
    }
    let graph = common::root().join("models/test/openclip-text/model.onnx");
    std::fs::copy(graph, model.join("textual/model.onnx")).unwrap();
    model
}

fn openclip_reference() -> Vec<serde_json::Value> {
    let path = common::root().join("models/test/openclip-text/reference.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["texts"].as_array().unwrap().clone()
}

#[test]
fn a_fixed_length_open_clip_text_graph_reads_only_the_caption_and_matches_open_clip() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let files = ModelFiles::open(&openclip_text_model(dir.path())).unwrap();
    let enc = TextEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    assert!(enc.reads_caption_length());
    let textual = files.textual.parent().unwrap().to_path_buf();
    assert!(textual.join("model.seq.onnx").is_file());
    assert!(textual.join("model.seq.onnx.checked").is_file());

    let entries = openclip_reference();
    let texts: Vec<&str> = entries
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    for e in &entries {
        let want: Vec<u32> = e["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_u64().unwrap() as u32)
            .collect();
        let got = enc.tokenizer().encode(e["text"].as_str().unwrap()).unwrap();
        assert_eq!(got.ids[..got.len], want[..], "{:?}", e["text"]);
    }
    // Lengths 2 to 40 tokens, alone and batched together (padded to the longest).
    let check = |got: &[Vec<f32>]| {
        for (e, g) in entries.iter().zip(got) {
            let c = common::cosine(g, &common::floats(&e["embedding"]));
            assert!(c >= 0.99999, "{:?}: cosine {c}", e["text"]);
        }
    };
    check(&enc.embed(&texts).unwrap());
    let one_by_one: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| enc.embed(&[t]).unwrap().remove(0))
        .collect();
    check(&one_by_one);
}

#[test]
fn a_variable_length_copy_that_disagrees_is_not_used() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let files = ModelFiles::open(&openclip_text_model(dir.path())).unwrap();
    let copy = files.textual.with_file_name("model.seq.onnx");
    // Another model's variable-length graph in the copy's place (it runs at any length, with
    // other weights), newer than the original and never checked.
    let other = std::fs::read(common::immich_model().join("textual/model.onnx")).unwrap();
    let other = glimpse_onnx::seqlen::variable_length(&other, 77)
        .unwrap()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&copy, other).unwrap();
    let enc = TextEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    assert!(!enc.reads_caption_length());
    assert!(!copy.with_extension("onnx.checked").exists());
    let entries = openclip_reference();
    let got = enc.embed(&[entries[0]["text"].as_str().unwrap()]).unwrap();
    let c = common::cosine(&got[0], &common::floats(&entries[0]["embedding"]));
    assert!(c >= 0.99999, "the original graph, padded: cosine {c}");
}

/// A model folder whose image tower is the open_clip export of `models/test/openclip-image`
/// (the zoo's form: fixed `[1, 3, 224, 224]` input, the batch of 1 written into Reshape
/// targets and the class token).
fn openclip_image_model(dir: &std::path::Path) -> std::path::PathBuf {
    let model = openclip_text_model(dir);
    let graph = common::root().join("models/test/openclip-image/model.onnx");
    std::fs::copy(graph, model.join("visual/model.onnx")).unwrap();
    model
}

/// The fixtures' reference pixels (transformers' preprocessing) laid end to end, with
/// open_clip's embedding of each.
fn openclip_image_reference() -> (Vec<f32>, Vec<Vec<f32>>) {
    let path = common::root().join("models/test/openclip-image/reference.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut pixels = Vec::new();
    let mut want = Vec::new();
    for e in doc["images"].as_array().unwrap() {
        pixels.extend(read_f32(&format!(
            "reference/{}",
            e["pixels_file"].as_str().unwrap()
        )));
        want.push(common::floats(&e["embedding"]));
    }
    (pixels, want)
}

#[test]
fn an_open_clip_image_graph_for_one_picture_takes_batches_and_matches_open_clip() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let files = ModelFiles::open(&openclip_image_model(dir.path())).unwrap();
    let mut enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    assert_eq!(enc.batch_axis(), BatchAxis::Dynamic);
    let copy = files.visual.with_file_name("model.batch.onnx");
    assert!(copy.is_file());
    assert!(copy.with_extension("onnx.checked").is_file());

    let (pixels, want) = openclip_image_reference();
    let n = want.len();
    assert!(n > 16, "more pictures than one batch: {n}");
    let check = |enc: &ImageEncoder, what: &str| {
        let got = enc.encode(&pixels, n).unwrap();
        assert_eq!(got.len(), n);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let c = common::cosine(g, w);
            assert!(c >= 0.99999, "{what}: picture {i}: cosine {c}");
        }
    };
    // Batches of 16, 5 (odd sizes and a short last batch) and 1.
    for batch in [16, 5, 1] {
        enc.set_batch(batch);
        check(&enc, &format!("batches of {batch}"));
    }

    // The next start uses the checked copy as it is.
    let written = std::fs::metadata(&copy).unwrap().modified().unwrap();
    let again = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    assert_eq!(again.batch_axis(), BatchAxis::Dynamic);
    assert_eq!(
        std::fs::metadata(&copy).unwrap().modified().unwrap(),
        written
    );
    check(&again, "reopened");
}

/// Moves every initializer of `graph` over 1 kB into `<graph>.data` beside it, as
/// `onnx.save_model(..., save_as_external_data=True)` does for graphs over protobuf's 2 GB.
/// Returns how many moved.
fn move_weights_out(graph: &std::path::Path) -> usize {
    use glimpse_onnx::proto::{Message, Value};
    // ONNX field numbers: ModelProto.graph, GraphProto.initializer, TensorProto.raw_data,
    // .external_data (key/value entries), .data_location (1 = EXTERNAL).
    const GRAPH: u32 = 7;
    const INITIALIZER: u32 = 5;
    const RAW_DATA: u32 = 9;
    const EXTERNAL_DATA: u32 = 13;
    const DATA_LOCATION: u32 = 14;
    let location = format!("{}.data", graph.file_name().unwrap().to_str().unwrap());
    let bytes = std::fs::read(graph).unwrap();
    let mut model = Message::parse(&bytes).unwrap();
    let mut data = Vec::new();
    let mut moved = 0;
    for g in model.fields.iter_mut().filter(|f| f.num == GRAPH) {
        let edited = {
            let Value::Bytes(body) = &g.value else {
                panic!("graph is not a message")
            };
            let mut graph_msg = Message::parse(body).unwrap();
            for init in graph_msg.fields.iter_mut().filter(|f| f.num == INITIALIZER) {
                let tensor = {
                    let Value::Bytes(body) = &init.value else {
                        panic!("initializer is not a message")
                    };
                    let mut t = Message::parse(body).unwrap();
                    let Some(raw) = t.bytes(RAW_DATA).filter(|r| r.len() > 1024) else {
                        continue;
                    };
                    let (offset, length) = (data.len(), raw.len());
                    data.extend_from_slice(raw);
                    t.remove(RAW_DATA);
                    for (key, value) in [
                        ("location", location.clone()),
                        ("offset", offset.to_string()),
                        ("length", length.to_string()),
                    ] {
                        let mut entry = Message::default();
                        entry.push_bytes(1, key.as_bytes().to_vec());
                        entry.push_bytes(2, value.into_bytes());
                        t.push_bytes(EXTERNAL_DATA, entry.encode());
                    }
                    t.set_varint(DATA_LOCATION, 1);
                    t.encode()
                };
                init.value = Value::Bytes(tensor.into());
                moved += 1;
            }
            graph_msg.encode()
        };
        g.value = Value::Bytes(edited.into());
    }
    let out = model.encode();
    std::fs::write(graph.with_file_name(&location), data).unwrap();
    std::fs::write(graph, out).unwrap();
    moved
}

/// Graphs over protobuf's 2 GB (and torch's dynamo exports) keep their weights in external data
/// files. The batch rewrite's probe run reads the graph from memory (no second copy of the
/// weights written to disk) and its weights from beside the graph; the copy refers to the same
/// data file, and its fp16 GPU copy reads them from there.
#[test]
fn an_image_graph_with_external_weights_takes_batches_and_gets_its_fp16_copy() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let files = ModelFiles::open(&openclip_image_model(dir.path())).unwrap();
    let moved = move_weights_out(&files.visual);
    assert!(moved > 10, "{moved} initializers moved out");
    let inline = std::fs::metadata(&files.visual).unwrap().len();
    assert!(
        inline < 100_000,
        "the graph is {inline} bytes without its weights"
    );

    let mut enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    assert_eq!(enc.batch_axis(), BatchAxis::Dynamic);
    let (pixels, want) = openclip_image_reference();
    enc.set_batch(5);
    let got = enc.encode(&pixels, want.len()).unwrap();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let c = common::cosine(g, w);
        assert!(c >= 0.99999, "picture {i}: cosine {c}");
    }
    // Beside the graph: its data, the copy and the copy's mark, nothing else.
    let mut names: Vec<String> = std::fs::read_dir(files.visual.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "model.batch.onnx",
            "model.batch.onnx.checked",
            "model.onnx",
            "model.onnx.data",
            "preprocess_cfg.json"
        ]
    );
    let copy = files.visual.with_file_name("model.batch.onnx");
    let size = std::fs::metadata(&copy).unwrap().len();
    assert!(size < 100_000, "the copy is {size} bytes");

    // The GPU copy (byte input, fp16) holds the weights itself, at half their size, and gives
    // the float graph's embeddings to fp16 precision (opened here on the CPU).
    let lut = files.preprocess.lut();
    let half = glimpse_onnx::fp16::ensure_image_variant(&copy, &lut).unwrap();
    assert_eq!(half, glimpse_onnx::fp16::image_variant_path(&copy, &lut));
    let data = std::fs::metadata(files.visual.with_file_name("model.onnx.data"))
        .unwrap()
        .len();
    let size = std::fs::metadata(&half).unwrap().len();
    assert!(
        size > data / 2,
        "the fp16 copy is {size} bytes, the weights {data}"
    );
    let mut fp16 = files.clone();
    fp16.visual = half;
    let enc16 = ImageEncoder::open(&rt.env, &fp16, Device::Cpu).unwrap();
    assert_eq!(enc16.pixel_input(), glimpse_clip::encode::PixelInput::Bytes);
    assert_eq!(enc16.batch_axis(), BatchAxis::Dynamic);
    let (paths, embed) = (fixture_paths(), embed_fixtures);
    for (i, (x, y)) in embed(&enc16).iter().zip(&embed(&enc)).enumerate() {
        let c = common::cosine(x, y);
        assert!(c >= 0.999, "fp16: {}: cosine {c}", paths[i].display());
    }
}

/// On a GPU the batched copy is what the fp16, byte-input copy is made from. Opened here on
/// the CPU, the byte input in front of the batched graph gives the float graph's embeddings,
/// and its fp16 copy gives them to fp16 precision. (ONNX Runtime 1.31's level-3 layout passes
/// crash loading fp16 open_clip towers that take a batch, open_clip's own dynamic-batch
/// export too; fp16 copies are opened without them.)
#[test]
fn a_batched_graph_takes_batches_of_bytes_as_its_gpu_copy_does() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let files = ModelFiles::open(&openclip_image_model(dir.path())).unwrap();
    drop(ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap());
    let copy = files.visual.with_file_name("model.batch.onnx");
    let lut = files.preprocess.lut();
    let half = glimpse_onnx::fp16::ensure_image_variant(&copy, &lut).unwrap();
    assert_eq!(half, glimpse_onnx::fp16::image_variant_path(&copy, &lut));
    let wrapped = glimpse_onnx::bytes::take_bytes(&std::fs::read(&copy).unwrap(), &lut).unwrap();
    let mut gpu = files.clone();
    gpu.visual = dir.path().join("batched_bytes.onnx");
    std::fs::write(&gpu.visual, wrapped).unwrap();
    let enc = ImageEncoder::open(&rt.env, &gpu, Device::Cpu).unwrap();
    assert_eq!(enc.batch_axis(), BatchAxis::Dynamic);
    assert_eq!(enc.pixel_input(), glimpse_clip::encode::PixelInput::Bytes);

    // The same photos through the batched graph taking floats: the same embeddings.
    let floats = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    let (paths, embed) = (fixture_paths(), embed_fixtures);
    let (a, b) = (embed(&enc), embed(&floats));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let c = common::cosine(x, y);
        assert!(c >= 0.99999, "{}: cosine {c}", paths[i].display());
    }
    let mut fp16 = files.clone();
    fp16.visual = half;
    let enc16 = ImageEncoder::open(&rt.env, &fp16, Device::Cpu).unwrap();
    assert_eq!(enc16.batch_axis(), BatchAxis::Dynamic);
    for (i, (x, y)) in embed(&enc16).iter().zip(&b).enumerate() {
        let c = common::cosine(x, y);
        assert!(c >= 0.999, "fp16: {}: cosine {c}", paths[i].display());
    }
}

#[test]
fn a_batched_copy_that_disagrees_is_not_used() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let files = ModelFiles::open(&openclip_image_model(dir.path())).unwrap();
    let copy = files.visual.with_file_name("model.batch.onnx");
    // Another model's image graph in the copy's place (it takes a batch, with other weights),
    // newer than the original and never checked.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(common::immich_model().join("visual/model.onnx"), &copy).unwrap();
    let enc = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    assert_eq!(enc.batch_axis(), BatchAxis::Fixed(1));
    assert!(!copy.exists(), "the copy that disagreed is deleted");
    let why = std::fs::read_to_string(copy.with_extension("onnx.none")).unwrap();
    assert!(why.contains("differs"), "{why}");
    let (pixels, want) = openclip_image_reference();
    let got = enc.encode(&pixels[..2 * 3 * 224 * 224], 2).unwrap();
    for (g, w) in got.iter().zip(&want) {
        let c = common::cosine(g, w);
        assert!(
            c >= 0.99999,
            "the original graph, one picture per run: cosine {c}"
        );
    }
    // The reason is kept: the next start neither rewrites nor checks again.
    let again = ImageEncoder::open(&rt.env, &files, Device::Cpu).unwrap();
    assert_eq!(again.batch_axis(), BatchAxis::Fixed(1));
    assert!(!copy.exists());
}
