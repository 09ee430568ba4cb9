//! GPU indexing benchmark tools (prints figures; asserts nothing). `benches/gpu.sh` drives them;
//! each mode is one measurement or one preparation step, so the device run is a short script:
//!
//! - `photos DIR COUNT WIDTH HEIGHT`: photo-like JPEGs on every core (skips existing files).
//! - `decode DIR`: the decode ceiling: read + DCT-scaled decode + CLIP preprocessing on every
//!   core, no encoder (what indexing can reach at best); then the same plus the content hash and
//!   the thumbnail (everything the indexer does on the CPU per photo).
//! - `split DIR [COUNT]`: one core, the same work stage by stage (ms per photo).
//! - `text MODEL DEVICE [QUERIES]`: one-caption query latency, p50/p99, after warm-up.
//! - `parity MODEL DIR DEVICE`: fp16 copy vs fp32 graph on the same device, min/mean cosine over
//!   the photos in DIR (up to 512) and a set of captions.
//! - `insert COUNT`: graph insertion rate (vectors/s) on 1 and on every thread, and recall@10 of
//!   the result, on clustered 512-d vectors.
//! - `strip IN OUT` / `inflate IN OUT`: replace a random-weight graph's large weight tensors by
//!   their mean and standard deviation, and regenerate them (seeded); a 350 MB random ViT-B/32
//!   becomes a few hundred kB to carry to a machine without network.
//!
//! Built by `cargo bench --bench gpu --no-run`; ORT_DYLIB_PATH names the ONNX Runtime library.

#[allow(dead_code)]
mod common;

use glimpse_clip::device::{Device, DeviceOptions};
use glimpse_clip::encode::{ImageEncoder, TextEncoder};
use glimpse_clip::model::ModelFiles;
use glimpse_clip::preprocess::Pixels;
use glimpse_clip::runtime::RuntimeOptions;
use glimpse_onnx::batch;
use glimpse_onnx::fp16;
use glimpse_onnx::proto::{Field, Message, Value};
use glimpse_onnx::seqlen;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn usage() -> ! {
    eprintln!(
        "usage: gpu photos DIR COUNT W H | decode DIR [floats|bytes] | split DIR [COUNT] | text MODEL DEVICE [N] | \
         parity MODEL DIR DEVICE | insert COUNT | strip IN OUT | inflate IN OUT"
    );
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `f(i)` for i in 0..n on every core.
fn par_for(n: usize, f: impl Fn(usize) + Sync) {
    par_for_with(n, || (), |_, i| f(i));
}

/// [`par_for`] with per-thread state made by `init` (reused buffers, as the decode pool has).
fn par_for_with<S>(n: usize, init: impl Fn() -> S + Sync, f: impl Fn(&mut S, usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..cores() {
            s.spawn(|| {
                let mut state = init();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    f(&mut state, i);
                }
            });
        }
    });
}

fn jpegs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("photo folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    v.sort();
    v
}

fn model(dir: &str) -> ModelFiles {
    ModelFiles::open(Path::new(dir)).expect("model folder")
}

fn runtime() -> glimpse_clip::runtime::Runtime {
    glimpse_clip::runtime::load(&RuntimeOptions::default().with_download(false))
        .expect("ONNX Runtime (set ORT_DYLIB_PATH)")
}

fn photos(args: &[String]) {
    let dir = PathBuf::from(arg::<String>(args, 2));
    let (n, w, h): (usize, u32, u32) = (arg(args, 3), arg(args, 4), arg(args, 5));
    std::fs::create_dir_all(&dir).expect("photo folder");
    let t = Instant::now();
    par_for(n, |i| {
        let p = dir.join(format!("photo_{w}x{h}_{i:06}.jpg"));
        if !p.exists() {
            let img = common::photo(w, h, i as u32 + 1);
            let data = turbojpeg::compress_image(&img, 90, turbojpeg::Subsamp::Sub2x2)
                .expect("JPEG encode");
            std::fs::write(&p, &data).expect("write JPEG");
        }
    });
    let bytes: u64 = jpegs(&dir)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "photos: {n} of {w}x{h} in {} ({:.1} s, {:.2} MB each on average)",
        dir.display(),
        t.elapsed().as_secs_f64(),
        bytes as f64 / n.max(1) as f64 / 1e6
    );
}

/// The picture form a decode ceiling prepares, as the encoder on that device takes it:
/// `floats` (CPU graphs) or `bytes` (the GPU copy normalises inside).
fn form(args: &[String], i: usize) -> Pixels {
    match args.get(i).map(String::as_str) {
        None | Some("floats") => Pixels::Floats(Vec::new()),
        Some("bytes") => Pixels::Bytes(Vec::new()),
        Some(_) => usage(),
    }
}

fn form_name(p: &Pixels) -> &'static str {
    match p {
        Pixels::Floats(_) => "normalised floats",
        Pixels::Bytes(_) => "crop bytes",
    }
}

fn decode(args: &[String]) {
    let dir = PathBuf::from(arg::<String>(args, 2));
    let empty = form(args, 3);
    let files = jpegs(&dir);
    let cfg = glimpse_clip::preprocess::PreprocessConfig::default();
    let opts = glimpse_clip::decode::DecodeOptions::for_model(cfg.resize);
    let failed = AtomicUsize::new(0);
    // Each thread reuses its buffers from photo to photo, as the indexer's decode pool does.
    type Buffers = (Vec<u8>, Pixels, glimpse_clip::preprocess::Scratch);
    let buffers = || -> Buffers { (Vec::new(), empty.clone(), Default::default()) };
    // Two passes, the faster one counts: the first pass of a process sometimes ran 25-35%
    // slower on the development VM, and a ceiling that reads low flatters the pipeline
    // measured against it.
    let mut passes = Vec::new();
    for _ in 0..2 {
        failed.store(0, Ordering::Relaxed);
        let t = Instant::now();
        par_for_with(files.len(), buffers, |(pixels, tensor, scratch), i| {
            let r = std::fs::read(&files[i])
                .map_err(glimpse_clip::decode::DecodeError::from)
                .and_then(|b| {
                    glimpse_clip::decode::decode_bytes_reusing(&b, opts, std::mem::take(pixels))
                });
            match r {
                Ok(d) => {
                    cfg.crop_pixels_reusing(&d.image, tensor, scratch);
                    *pixels = d.image.into_raw();
                }
                Err(_) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        passes.push(t.elapsed().as_secs_f64());
    }
    let secs = passes.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "decode ceiling: {} photos in {secs:.2} s = {:.0} img/s on {} threads \
         (read + DCT-scaled decode + resize of the crop + {}; {} failed; faster of passes \
         taking {})",
        files.len(),
        files.len() as f64 / secs,
        cores(),
        form_name(&empty),
        failed.load(Ordering::Relaxed),
        passes
            .iter()
            .map(|s| format!("{s:.2} s"))
            .collect::<Vec<_>>()
            .join(" and ")
    );
    let t = Instant::now();
    par_for_with(files.len(), Vec::new, |pixels, i| {
        if let Ok(d) = std::fs::read(&files[i])
            .map_err(glimpse_clip::decode::DecodeError::from)
            .and_then(|b| {
                glimpse_clip::decode::decode_bytes_reusing(&b, opts, std::mem::take(pixels))
            })
        {
            *pixels = d.image.into_raw();
        }
    });
    println!(
        "  of which read + decode: {:.0} img/s",
        files.len() as f64 / t.elapsed().as_secs_f64()
    );
    let known = std::collections::HashMap::new();
    let prepare = |thumbs: Option<&glimpse_library::thumbs::Thumbs>| {
        let t = Instant::now();
        par_for_with(
            files.len(),
            || (empty.clone(), glimpse_library::prepare::Scratch::default()),
            |(tensor, scratch), i| {
                let buffer = std::mem::replace(tensor, empty.clone());
                if let Ok(glimpse_library::prepare::Prepared::Tensor { tensor: t, .. }) =
                    glimpse_library::prepare::prepare_into(
                        &files[i],
                        &cfg,
                        &known,
                        thumbs.map(|cache| glimpse_library::thumbs::Previews {
                            cache,
                            even_small: false,
                        }),
                        buffer,
                        scratch,
                    )
                {
                    *tensor = t;
                }
            },
        );
        files.len() as f64 / t.elapsed().as_secs_f64()
    };
    println!(
        "  decode ceiling + content hash, no thumbnail: {:.0} img/s",
        prepare(None)
    );
    let thumbs_dir = tempfile::tempdir().expect("temp dir");
    let thumbs = glimpse_library::thumbs::Thumbs::new(thumbs_dir.path());
    println!(
        "prepare ceiling: {:.0} img/s (decode ceiling + BLAKE3 content hash + previews where \
         indexing writes them)",
        prepare(Some(&thumbs))
    );
}

fn device_opts(s: &str, fp16: bool) -> DeviceOptions {
    DeviceOptions {
        fp16,
        ..DeviceOptions::new(s.parse::<Device>().unwrap_or_else(|_| usage()))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn text(args: &[String]) {
    let files = model(&arg::<String>(args, 2));
    let opts = device_opts(&arg::<String>(args, 3), true);
    let n: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(200);
    let rt = runtime();
    let t = Instant::now();
    let enc = TextEncoder::open_with(&rt.env, &files, &opts).expect("text encoder");
    let open = t.elapsed().as_secs_f64();
    let words = [
        "dog", "sofa", "beach", "mountain", "birthday", "cake", "snow", "city", "night", "car",
    ];
    let queries: Vec<String> = (0..n + 10)
        .map(|i| {
            format!(
                "a photo of a {} near a {} at {}",
                words[i % 10],
                words[(i / 10) % 10],
                words[(i / 100 + 3) % 10]
            )
        })
        .collect();
    let mut times = Vec::with_capacity(n);
    for (i, q) in queries.iter().enumerate() {
        let t = Instant::now();
        enc.embed(&[q.as_str()]).expect("embed");
        if i >= 10 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "text query on {}{}: p50 {:.2} ms, p99 {:.2} ms over {n} queries (open {open:.1} s){}",
        enc.selection.provider,
        if enc.selection.fp16 { " fp16" } else { "" },
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        enc.selection
            .fallback
            .as_deref()
            .map(|f| format!("; fallback: {f}"))
            .unwrap_or_default()
    );
}

fn parity(args: &[String]) {
    let files = model(&arg::<String>(args, 2));
    let dir = PathBuf::from(arg::<String>(args, 3));
    let dev = arg::<String>(args, 4);
    let rt = runtime();
    let full_opts = device_opts(&dev, false);
    // Opening fp32 first makes the copies a zoo model runs from (batched image graph,
    // variable-length text graph); the GPU runs their fp16 forms, so those are compared.
    let a = ImageEncoder::open_with(&rt.env, &files, &full_opts).expect("fp32");
    let ta = TextEncoder::open_with(&rt.env, &files, &full_opts).expect("fp32 text");
    let checked = |copy: PathBuf, marker: PathBuf, graph: &Path| match marker.exists() {
        true => copy,
        false => graph.to_path_buf(),
    };
    let visual = checked(
        batch::copy_path(&files.visual),
        batch::check_path(&batch::copy_path(&files.visual)),
        &files.visual,
    );
    let seq = seqlen::copy_path(&files.textual);
    let textual = checked(
        seq.clone(),
        seq.with_extension("onnx.checked"),
        &files.textual,
    );
    let mut half = files.clone();
    // The image copy the GPU runs: fp16, taking the crop's bytes.
    half.visual =
        fp16::ensure_image_variant(&visual, &files.preprocess.lut()).expect("fp16 image graph");
    half.textual = fp16::ensure_variant(&textual).expect("fp16 text graph");
    println!(
        "parity of {} and {} in fp16",
        visual.file_name().unwrap_or_default().to_string_lossy(),
        textual.file_name().unwrap_or_default().to_string_lossy()
    );
    let b = ImageEncoder::open_with(&rt.env, &half, &full_opts).expect("fp16");
    let paths: Vec<PathBuf> = jpegs(&dir).into_iter().take(512).collect();
    let embed = |e: &ImageEncoder| {
        let mut out = vec![None; paths.len()];
        e.embed_files(&paths, cores(), |i, r| out[i] = r.ok());
        out
    };
    let (va, vb) = (embed(&a), embed(&b));
    let cos: Vec<f64> = va
        .iter()
        .zip(&vb)
        .filter_map(|(x, y)| Some(common_cos(x.as_ref()?, y.as_ref()?)))
        .collect();
    let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = cos.iter().sum::<f64>() / cos.len().max(1) as f64;
    println!(
        "fp16 vs fp32 image embeddings on {}: min cosine {min:.6}, mean {mean:.6} over {} photos \
         (fp16 copy takes {:?})",
        a.selection.provider,
        cos.len(),
        b.pixel_input()
    );
    let tb = TextEncoder::open_with(&rt.env, &half, &full_opts).expect("fp16 text");
    let caps = [
        "a dog asleep on a red sofa",
        "birthday cake with candles",
        "the eiffel tower at night",
        "a receipt",
        "children on a beach",
        "",
    ];
    let (xa, xb) = (
        ta.embed(&caps).expect("text"),
        tb.embed(&caps).expect("text"),
    );
    let tmin = xa
        .iter()
        .zip(&xb)
        .map(|(x, y)| common_cos(x, y))
        .fold(f64::INFINITY, f64::min);
    println!(
        "fp16 vs fp32 text embeddings: min cosine {tmin:.6} over {} captions",
        caps.len()
    );
}

/// One core: the Pillow-exact bicubic resize a 640x480 photo needs after DCT-scaled decoding
/// (320x240 → 299x224), the part of preprocessing that bounds small-photo indexing.
fn resize() {
    let img = common::photo(320, 240, 7);
    let n = 2000;
    let filter = glimpse_clip::preprocess::Filter::Bicubic;
    let t = Instant::now();
    let mut check = 0u64;
    for _ in 0..n {
        let r = glimpse_clip::preprocess::pil_resize(&img, 299, 224, filter);
        check += r.as_raw()[1000] as u64;
    }
    let fresh = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    let mut scratch = glimpse_clip::preprocess::Scratch::default();
    let mut pixels = Vec::new();
    let t = Instant::now();
    for _ in 0..n {
        let r =
            glimpse_clip::preprocess::pil_resize_into(&img, 299, 224, filter, &mut scratch, pixels);
        check += r.as_raw()[1000] as u64;
        pixels = r.into_raw();
    }
    let reused = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    println!(
        "resize 320x240 -> 299x224 on one core: {reused:.3} ms each with reused buffers, \
         {fresh:.3} ms with fresh ones (checksum {check})"
    );
}

/// One core: where a photo's CPU time goes on the decode pool, stage by stage (ms per photo,
/// mean over the first COUNT JPEGs in DIR, default 500), so each stage is measured on its own.
fn split(args: &[String]) {
    let count: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(500);
    let files: Vec<PathBuf> = jpegs(&PathBuf::from(arg::<String>(args, 2)))
        .into_iter()
        .take(count)
        .collect();
    let cfg = glimpse_clip::preprocess::PreprocessConfig::default();
    let opts = glimpse_clip::decode::DecodeOptions::for_model(cfg.resize);
    let thumbs_dir = tempfile::tempdir().expect("temp dir");
    let thumbs = glimpse_library::thumbs::Thumbs::new(thumbs_dir.path());
    let names = [
        "read",
        "hash",
        "decode",
        "metadata",
        "resize",
        "crop+normalise",
        "preview encode",
        "preview encode+file",
        "crop (bytes)",
        "crop-only resize+normalise",
        "crop-only resize (bytes)",
    ];
    let mut secs = [0f64; 11];
    // What indexing pays per photo after metadata, in each form: the whole resize, the crop
    // and the preview for photos that get a preview file, the crop-only resize for the rest.
    let (mut paid, mut paid_bytes, mut with_preview) = (0f64, 0f64, 0usize);
    let (mut only_floats, mut only_bytes) = (Pixels::Floats(Vec::new()), Pixels::Bytes(Vec::new()));
    let mut tensor = vec![0f32; cfg.tensor_len()];
    let mut crop = Pixels::Bytes(Vec::new());
    let mut floats = Pixels::Floats(Vec::new());
    let (mut pixels, mut scratch) = (Vec::new(), glimpse_clip::preprocess::Scratch::default());
    let mut resized_pixels = Vec::new();
    fn lap(secs: &mut [f64], stage: usize, t: &mut Instant) {
        secs[stage] += t.elapsed().as_secs_f64();
        *t = Instant::now();
    }
    for f in &files {
        let before = secs;
        let mut t = Instant::now();
        let bytes = std::fs::read(f).expect("read");
        lap(&mut secs, 0, &mut t);
        let hash = glimpse_library::prepare::content_hash(&bytes);
        lap(&mut secs, 1, &mut t);
        let d =
            glimpse_clip::decode::decode_bytes_reusing(&bytes, opts, std::mem::take(&mut pixels))
                .expect("decode");
        lap(&mut secs, 2, &mut t);
        let _ = glimpse_clip::metadata::read(&bytes);
        lap(&mut secs, 3, &mut t);
        let (tw, th) = cfg.resize_target(d.image.width(), d.image.height());
        let size = |v: u64| u32::try_from(v).expect("a photo's resize fits u32");
        let resized = glimpse_clip::preprocess::pil_resize_into(
            &d.image,
            size(tw),
            size(th),
            cfg.filter,
            &mut scratch,
            std::mem::take(&mut resized_pixels),
        );
        lap(&mut secs, 4, &mut t);
        cfg.crop_into(&resized, &mut floats);
        lap(&mut secs, 5, &mut t);
        // The byte crop the GPU copy takes instead.
        cfg.crop_into(&resized, &mut crop);
        lap(&mut secs, 8, &mut t);
        let again = cfg.apply_reusing(&d.image, &mut tensor, &mut scratch);
        assert_eq!(again.map(|r| r.as_raw()), Some(resized.as_raw()));
        assert!(matches!(&floats, Pixels::Floats(v) if *v == tensor));
        t = Instant::now();
        cfg.crop_pixels_reusing(&d.image, &mut only_floats, &mut scratch);
        lap(&mut secs, 9, &mut t);
        cfg.crop_pixels_reusing(&d.image, &mut only_bytes, &mut scratch);
        lap(&mut secs, 10, &mut t);
        assert!(
            only_floats == floats && only_bytes == crop,
            "crop-only resize differs"
        );
        let jpeg = turbojpeg::compress_image(&resized, 85, turbojpeg::Subsamp::Sub2x2)
            .expect("thumbnail encode");
        std::hint::black_box(jpeg);
        lap(&mut secs, 6, &mut t);
        thumbs
            .write(&hex::encode(hash), &resized)
            .expect("thumbnail");
        let preview_secs = t.elapsed().as_secs_f64();
        lap(&mut secs, 7, &mut t);
        let (w, h) = (d.width, d.height);
        let own = glimpse_library::thumbs::original_is_preview(
            d.format,
            w,
            h,
            bytes.len() as u64,
            d.viewers_see_it_as_decoded(),
        );
        let took = |stage: usize| secs[stage] - before[stage];
        if own {
            paid += took(9);
            paid_bytes += took(10);
        } else {
            paid += took(4) + took(5) + preview_secs;
            paid_bytes += took(4) + took(8) + preview_secs;
            with_preview += 1;
        }
        resized_pixels = resized.into_raw();
        pixels = d.image.into_raw();
    }
    let n = files.len().max(1) as f64;
    // The preview is encoded twice (once timed alone, once inside the write): count it once,
    // and only for the photos indexing writes one for.
    let total: f64 = (secs[..4].iter().sum::<f64>() + paid) / n * 1e3;
    println!(
        "per-photo CPU time on one core over {} photos:",
        files.len()
    );
    for (name, s) in names.iter().zip(secs) {
        println!("  {name:<26} {:.3} ms", s / n * 1e3);
    }
    println!(
        "  indexing writes a preview for {with_preview} of {} photos (the others are their own)",
        files.len()
    );
    println!(
        "  {:<26} {total:.3} ms = {:.0} img/s per core",
        "total",
        1e3 / total
    );
    let bytes_total = (secs[..4].iter().sum::<f64>() + paid_bytes) / n * 1e3;
    println!(
        "  {:<26} {bytes_total:.3} ms = {:.0} img/s per core (crop bytes instead of normalised floats)",
        "total, GPU copy",
        1e3 / bytes_total
    );
}

fn common_cos(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

fn insert(args: &[String]) {
    let n: usize = arg(args, 2);
    let dim = 512;
    let mut state: u64 = 7;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
    };
    let centres: Vec<Vec<f32>> = (0..64).map(|_| (0..dim).map(|_| rnd()).collect()).collect();
    let unit = |mut v: Vec<f32>| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    };
    // The vectors inserted, then 200 more from the same clusters that are not: queries like a
    // new photo's, whose neighbours the graph has to find rather than contain.
    let items: Vec<(i64, Vec<f32>)> = (0..n + 200)
        .map(|i| {
            let c = &centres[i % 64];
            (i as i64, unit(c.iter().map(|x| x + 0.6 * rnd()).collect()))
        })
        .collect();
    let (items, held_out) = items.split_at(n);
    // A search ends on exact vectors, as a library's catalog gives them.
    let exact: std::collections::HashMap<i64, &Vec<f32>> =
        items.iter().map(|(id, v)| (*id, v)).collect();
    let stored = |id: i64| -> Result<Option<Vec<f32>>, glimpse_library::vectors::VectorError> {
        Ok(exact.get(&id).map(|v| v.to_vec()))
    };
    // One thread, a quarter of the cores (what indexing could spare beside the decoders) and
    // all of them: usearch's per-vector CPU cost grows with the thread count.
    let mut counts = vec![1, (cores() / 4).max(2), cores()];
    counts.dedup();
    for threads in counts {
        let take = if threads == 1 { n.min(20_000) } else { n };
        let mut idx = glimpse_library::vectors::VectorIndex::new(dim).expect("index");
        let t = Instant::now();
        for chunk in items[..take].chunks(glimpse_library::INSERT_CHUNK) {
            idx.add_many(chunk, threads).expect("add");
        }
        let secs = t.elapsed().as_secs_f64();
        let queries = 200.min(take);
        let mut hits = 0;
        for q in items.iter().take(queries) {
            let got = idx.search(&q.1, 10).expect("search");
            let want = idx.search_exact(&q.1, 10, &stored).expect("exact");
            hits += got
                .iter()
                .filter(|g| want.iter().any(|w| w.0 == g.0))
                .count();
        }
        println!(
            "graph insertion: {take} vectors on {threads} thread(s): {:.0} vectors/s \
             ({:.0} per thread), recall@10 {:.3}",
            take as f64 / secs,
            take as f64 / secs / threads as f64,
            hits as f64 / (queries * 10) as f64
        );
    }
    // What graph quality costs on the threads indexing inserts with: fewer candidates per
    // insertion make it cheaper, at some recall (held-out queries, default search breadth).
    let threads = (cores() / 4).max(2);
    for expansion in [128, 64, 32] {
        let mut idx = glimpse_library::vectors::VectorIndex::new(dim).expect("index");
        idx.set_expansion_add(expansion);
        let t = Instant::now();
        for chunk in items.chunks(glimpse_library::INSERT_CHUNK) {
            idx.add_many(chunk, threads).expect("add");
        }
        let secs = t.elapsed().as_secs_f64();
        let mut hits = 0;
        for q in held_out {
            let got = idx.search(&q.1, 10).expect("search");
            let want = idx.search_exact(&q.1, 10, &stored).expect("exact");
            hits += got
                .iter()
                .filter(|g| want.iter().any(|w| w.0 == g.0))
                .count();
        }
        println!(
            "graph insertion, expansion_add {expansion}: {n} vectors on {threads} threads: \
             {:.0} vectors/s ({:.2} thread-ms each), recall@10 {:.3} for held-out queries",
            n as f64 / secs,
            secs * 1e3 * threads as f64 / n as f64,
            hits as f64 / (held_out.len() * 10) as f64
        );
    }
}

const GRAPH: u32 = 7;
const INITIALIZER: u32 = 5;
const DIMS: u32 = 1;
const DATA_TYPE: u32 = 2;
const RAW: u32 = 9;
const DOC: u32 = 12;
const MARK: &str = "glimpse-skeleton";

fn rewrite_initializers(input: &str, output: &str, f: impl Fn(&mut Message<'_>) -> bool) -> usize {
    let bytes = std::fs::read(input).expect("read model");
    let mut m = Message::parse(&bytes).expect("ONNX protobuf");
    let gbytes = m.bytes(GRAPH).expect("graph").to_vec();
    let mut g = Message::parse(&gbytes).expect("graph protobuf");
    let mut changed = 0;
    for field in &mut g.fields {
        if field.num != INITIALIZER {
            continue;
        }
        let Value::Bytes(b) = &field.value else {
            continue;
        };
        let mut t = Message::parse(b).expect("tensor");
        if f(&mut t) {
            field.value = Value::Bytes(Cow::Owned(t.encode()));
            changed += 1;
        }
    }
    m.remove(GRAPH);
    m.push_bytes(GRAPH, g.encode());
    std::fs::write(output, m.encode()).expect("write model");
    changed
}

fn strip(args: &[String]) {
    let n = rewrite_initializers(&arg::<String>(args, 2), &arg::<String>(args, 3), |t| {
        let Some(raw) = t.bytes(RAW) else {
            return false;
        };
        if t.varint(DATA_TYPE) != Some(1) || raw.len() < 65_536 {
            return false;
        }
        let xs: Vec<f64> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        t.remove(RAW);
        t.remove(DOC);
        t.push_bytes(DOC, format!("{MARK} {mean} {std}").into_bytes());
        true
    });
    println!("strip: {n} weight tensors replaced by their mean and deviation");
}

fn inflate(args: &[String]) {
    let n = rewrite_initializers(&arg::<String>(args, 2), &arg::<String>(args, 3), |t| {
        let Some(doc) = t.string(DOC).filter(|d| d.starts_with(MARK)) else {
            return false;
        };
        let parts: Vec<f64> = doc
            .split_whitespace()
            .skip(1)
            .filter_map(|p| p.parse().ok())
            .collect();
        let (mean, std) = (parts[0], parts[1]);
        let mut count: u64 = 1;
        for f in &t.fields {
            match (&f.value, f.num) {
                (Value::Varint(d), DIMS) => count *= d,
                (Value::Bytes(b), DIMS) => {
                    // Packed dims: a run of varints.
                    let mut v = 0u64;
                    let mut shift = 0;
                    for byte in b.iter() {
                        v |= u64::from(byte & 0x7f) << shift;
                        shift += 7;
                        if byte & 0x80 == 0 {
                            count *= v;
                            v = 0;
                            shift = 0;
                        }
                    }
                }
                _ => {}
            }
        }
        let mut state: u64 = count.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut raw = Vec::with_capacity(count as usize * 4);
        for _ in 0..count {
            // Box-Muller: normal weights with the original tensor's mean and deviation.
            let z = (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
            raw.extend_from_slice(&((mean + std * z) as f32).to_le_bytes());
        }
        t.remove(DOC);
        t.fields.push(Field {
            num: RAW,
            value: Value::Bytes(Cow::Owned(raw)),
        });
        true
    });
    println!("inflate: {n} weight tensors regenerated");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; this binary is driven by benches/gpu.sh instead.
    if args.iter().any(|a| a == "--bench") && args.len() <= 2 {
        eprintln!("gpu: run through benches/gpu.sh (see its header)");
        return;
    }
    match args.get(1).map(String::as_str) {
        Some("photos") => photos(&args),
        Some("decode") => decode(&args),
        Some("text") => text(&args),
        Some("parity") => parity(&args),
        Some("insert") => insert(&args),
        Some("resize") => resize(),
        Some("split") => split(&args),
        Some("strip") => strip(&args),
        Some("inflate") => inflate(&args),
        _ => usage(),
    }
}
