//! The desktop app's start-up cost (prints figures; asserts nothing): how long a window over an
//! up-to-date library takes to answer its first text search and how much memory it holds, then
//! what the first search by a dropped picture that is not in the library adds (the image tower
//! opens for it), and what the next page of each query costs (scrolling asks again). Each
//! figure comes from a fresh process, as a window would be.
//!
//! Run: `cargo bench --bench session`. Environment: ORT_DYLIB_PATH (required),
//! GLIMPSE_BENCH_MODEL (default the tiny test model; the figures mean something with a real-size
//! one, e.g. `models/test/make_vitb32.py`'s), GLIMPSE_BENCH_PHOTOS (default 24). Three windows are measured after the one that indexes.

use glimpse_clip::device::{Device, DeviceOptions};
use glimpse_clip::runtime::RuntimeOptions;
use glimpse_session::views::SearchQuery;
use glimpse_session::{Session, SessionConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
mod common;

/// A line of /proc/self/status in MB ("VmRSS", "VmHWM"); None off Linux.
fn proc_mb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn mb(key: &str) -> String {
    proc_mb(key).map_or_else(|| "?".into(), |m| format!("{m:.0} MB"))
}

/// One window's life in this process: `index DIR` adds the folder and waits for it; `open`
/// answers a text search; `drop FILE` then searches by a picture outside the library.
fn child(library: &Path, model: &str, what: &str, arg: Option<&str>) {
    let mut cfg = SessionConfig::new(library.to_path_buf());
    cfg.model = Some(model.to_string());
    cfg.runtime = RuntimeOptions {
        allow_download: false,
        ..RuntimeOptions::default()
    };
    cfg.device = DeviceOptions::new(Device::Cpu);
    let t = Instant::now();
    let s = Session::new(cfg, Arc::new(|_| {}));
    s.start().expect("session start");
    if what == "index" {
        s.add_root(Path::new(arg.expect("folder")))
            .expect("add folder");
    }
    s.wait_idle(Duration::from_secs(3600)).expect("indexer");
    let query = SearchQuery {
        text: Some("a dog asleep on a red sofa".into()),
        limit: 20,
        ..SearchQuery::default()
    };
    s.search(&query).expect("text search");
    println!(
        "  ready + first text search {:>6.2} s   RSS {:>7}   peak {:>7}",
        t.elapsed().as_secs_f64(),
        mb("VmRSS"),
        mb("VmHWM")
    );
    let t = Instant::now();
    s.search(&SearchQuery {
        offset: 20,
        ..query.clone()
    })
    .expect("next page");
    println!(
        "  its next page             {:>6.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    if let (Some(file), "drop") = (arg, what) {
        let t = Instant::now();
        let query = SearchQuery {
            example_path: Some(file.to_string()),
            limit: 20,
            ..SearchQuery::default()
        };
        s.search(&query).expect("search by picture");
        println!(
            "  then a dropped picture    {:>6.2} s   RSS {:>7}   peak {:>7}",
            t.elapsed().as_secs_f64(),
            mb("VmRSS"),
            mb("VmHWM")
        );
        let t = Instant::now();
        s.search(&SearchQuery {
            offset: 20,
            ..query.clone()
        })
        .expect("next page by picture");
        println!(
            "  its next page             {:>6.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(
            Path::new(&args[2]),
            &args[3],
            &args[4],
            args.get(5).map(String::as_str),
        );
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let model = std::env::var("GLIMPSE_BENCH_MODEL")
        .unwrap_or_else(|_| root.join("models/test/tiny-clip").display().to_string());
    let n: usize = std::env::var("GLIMPSE_BENCH_PHOTOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let work = tempfile::tempdir().expect("temp dir");
    let photos = work.path().join("photos");
    common::jpeg_folder(&photos, n, 1024, 768);
    // A picture of its own (the folder's seeds are 1..=n): no stored vector can serve it.
    let dropped = work.path().join("dropped.jpg");
    let img = common::photo(1024, 768, 1_000_003);
    let data = turbojpeg::compress_image(&img, 90, turbojpeg::Subsamp::Sub2x2).expect("JPEG");
    std::fs::write(&dropped, data).expect("write JPEG");
    let library = work.path().join("library");
    let me = std::env::current_exe().expect("own path");
    let run = |what: &str, arg: &Path| {
        let status = Command::new(&me)
            .arg("--child")
            .arg(&library)
            .arg(&model)
            .arg(what)
            .arg(arg)
            .status()
            .expect("child process");
        assert!(status.success(), "{what} run failed");
    };
    println!("model {model}, {n} photos (1024x768 JPEG), CPU");
    println!("first window, indexing the folder:");
    run("index", &photos);
    for i in 1..=3 {
        println!("window {i} over the up-to-date library:");
        run("drop", &dropped);
    }
}
