//! Its own test binary: its kill schedule (30 to 930 ms after each start, 20 kills in at most
//! 4 minutes, 5 of them mid-job) assumes the indexer it kills does not share the CPUs with
//! other tests of the same process.
//!
//! Crash safety: `glimpse index` killed with SIGKILL at random instants, over and over, must
//! leave a library that opens cleanly (integrity_check ok), whose vector index holds exactly the
//! committed embeddings, where no committed photo was ever encoded twice, and which ends up
//! equal to a library indexed without interruption.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn glimpse(library: &Path) -> Command {
    let mut c = common::glimpse_on(library);
    c.arg("--quiet");
    c
}

fn status(library: &Path) -> serde_json::Value {
    let out = glimpse(library)
        .args(["status", "--json", "--check"])
        .output()
        .expect("run status");
    assert!(
        out.status.success(),
        "status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

/// A few hundred small, distinct photos in nested folders.
fn make_photos(root: &Path, n: usize) {
    for i in 0..n {
        let dir = root
            .join(format!("album{}", i % 7))
            .join(format!("day{}", i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let img = image::RgbImage::from_fn(96 + (i % 5) as u32 * 8, 80, |x, y| {
            image::Rgb([
                ((x * 3 + i as u32 * 7) % 256) as u8,
                ((y * 5 + i as u32 * 13) % 256) as u8,
                (((x ^ y) + i as u32 * 29) % 256) as u8,
            ])
        });
        let ext = if i % 2 == 0 { "png" } else { "jpg" };
        img.save(dir.join(format!("p{i:04}.{ext}"))).unwrap();
    }
}

fn index(library: &Path, root: &Path) -> std::process::Output {
    glimpse(library)
        .args(["index", "--model"])
        .arg(common::immich_model())
        .arg(root)
        .output()
        .expect("run index")
}

fn embeddings(library: &Path) -> Vec<(String, Vec<f32>)> {
    let out = glimpse(library)
        .args(["status", "--dump-embeddings"])
        .output()
        .expect("dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<(String, Vec<f32>)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let j: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                j["path"].as_str().unwrap().to_owned(),
                common::floats(&j["embedding"]),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn check_invariants(s: &serde_json::Value, round: usize) {
    assert_eq!(s["integrity"], "ok", "round {round}: {s}");
    assert_eq!(
        s["vectors"], s["embeddings"],
        "round {round}: index and catalog disagree: {s}"
    );
    assert!(
        s["max_encodes_per_photo"]
            .as_u64()
            .unwrap_or_else(|| panic!("round {round}: status --check says no count: {s}"))
            <= 1,
        "round {round}: a committed photo was encoded twice: {s}"
    );
}

#[test]
fn kill_9_at_random_instants_never_corrupts_or_re_encodes() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    make_photos(&photos, 240);

    // The reference: one uninterrupted run.
    let clean_lib = tmp.path().join("clean");
    let out = index(&clean_lib, &photos);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clean = status(&clean_lib);
    assert_eq!(clean["indexed"], 240, "{clean}");

    // The crash loop: a deterministic pseudo-random schedule of kill instants. A library the
    // loop has finished gives nothing more to kill (re-indexing it is a quick scan that does
    // not even start the model), so the rounds after it crash a fresh one.
    let mut cycle = 0;
    let mut lib: PathBuf = tmp.path().join("crashy-0");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kills = 0;
    let mut mid_job_kills = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut round = 0;
    while kills < 20 && Instant::now() < deadline {
        round += 1;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = Duration::from_millis(30 + seed % 900);
        let mut child = glimpse(&lib)
            .args(["index", "--model"])
            .arg(common::immich_model())
            .arg(&photos)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn index");
        std::thread::sleep(wait);
        let killed = child.try_wait().unwrap().is_none();
        if killed {
            child.kill().unwrap(); // SIGKILL on Unix
            kills += 1;
        }
        child.wait().unwrap();
        let s = status(&lib);
        check_invariants(&s, round);
        let indexed = s["indexed"].as_u64().unwrap_or(0);
        let origin = s["vectors_origin"].as_str().unwrap_or_default();
        if killed {
            println!("round {round}: killed after {wait:?}, {indexed} indexed; {origin}");
        } else {
            println!("round {round}: finished before {wait:?}, {indexed} indexed; {origin}");
        }
        // A file that is only behind the catalog has the commits since its save added, never
        // the whole graph rebuilt (minutes at a million photos).
        assert!(
            !origin.contains("behind the catalog"),
            "round {round}: {origin}"
        );
        if killed && indexed > 0 && indexed < 240 {
            mid_job_kills += 1;
        }
        if !killed && indexed == 240 {
            cycle += 1;
            lib = tmp.path().join(format!("crashy-{cycle}"));
        }
    }
    assert!(kills >= 20, "only {kills} kills landed before the deadline");
    // The schedule must hit the job while it is committing, or this proves nothing.
    assert!(
        mid_job_kills >= 5,
        "only {mid_job_kills} kills landed mid-job"
    );

    // Finish the job and compare with the uninterrupted library.
    let out = index(&lib, &photos);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = status(&lib);
    check_invariants(&s, round + 1);
    // A kill that lands while a file from a killed batch is read alone marks that file failed,
    // by design: the library cannot tell this test's SIGKILL from a crash the file caused. On a
    // slow or busy machine that happens; every other photo must be as in the clean run.
    let stopped = s["failures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["reason"] == glimpse_library::catalog::STOPPED_WHILE_READING)
        .map(|f| f["count"].as_u64().unwrap_or(0))
        .sum::<u64>();
    // Files are read alone one at a time: a kill can mark at most the one being read.
    assert!(
        stopped <= kills,
        "{stopped} files stopped while read alone, {kills} kills: {s}"
    );
    let count = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    assert_eq!(
        count(&s["indexed"]) + stopped,
        count(&clean["indexed"]),
        "{s}"
    );
    assert_eq!(
        count(&s["failed"]),
        count(&clean["failed"]) + stopped,
        "{s}"
    );
    let (a, b) = (embeddings(&lib), embeddings(&clean_lib));
    assert_eq!(a.len() as u64 + stopped, b.len() as u64);
    let clean_vectors: std::collections::HashMap<&str, &Vec<f32>> =
        b.iter().map(|(p, v)| (p.as_str(), v)).collect();
    for (pa, va) in &a {
        let vb = clean_vectors
            .get(pa.as_str())
            .unwrap_or_else(|| panic!("{pa} not in the clean run"));
        // Batches differ between the two histories; CPU kernels may round differently.
        assert!(common::cosine(va, vb) > 0.99999, "{pa}");
    }
}
