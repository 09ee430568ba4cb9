//! Its own test binary: it runs itself again as the app (`--exact` on its own test's name,
//! `--test-threads=1`), and that child is aborted on purpose, so nothing else may run in it.
//!
//! A file that kills the process while it is read (an abort in a codec, the OOM killer) can
//! stop indexing once more at most: the next start tries each file that was in flight alone,
//! and the one that kills it again is marked failed ("Glimpse stopped while reading this
//! file") while its neighbours are indexed. Checked for the command line and for the app's
//! session, with the fault-injection hook of test builds (`glimpse_library::fault`), which aborts the
//! process with no unwinding and no cleanup, as a native crash does.

mod common;

use glimpse_library::catalog::STOPPED_WHILE_READING;
use glimpse_library::fault::ABORT_ON;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// The file that kills the process while it is read.
const KILLER: &str = "p0005.png";

/// `n` small distinct photos in two folders; the sixth is the one that will kill the reader.
fn make_photos(root: &Path, n: usize) {
    for i in 0..n {
        let dir = root.join(format!("album{}", i % 2));
        std::fs::create_dir_all(&dir).unwrap();
        let img = image::RgbImage::from_fn(72 + (i % 3) as u32 * 8, 64, |x, y| {
            image::Rgb([
                ((x * 3 + i as u32 * 7) % 256) as u8,
                ((y * 5 + i as u32 * 13) % 256) as u8,
                (((x ^ y) + i as u32 * 29) % 256) as u8,
            ])
        });
        img.save(dir.join(format!("p{i:04}.png"))).unwrap();
    }
}

fn glimpse(library: &Path) -> Command {
    let mut c = common::glimpse_on(library);
    c.env(ABORT_ON, KILLER);
    c
}

fn index(library: &Path, root: &Path) -> Output {
    glimpse(library)
        .args(["index", "--threads", "2", "--model"])
        .arg(common::immich_model())
        .arg(root)
        .output()
        .expect("run index")
}

fn died(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(libc::SIGABRT)
}

/// Every photo's status and reason, from the catalog.
fn states(library: &Path) -> Vec<(PathBuf, String, Option<String>)> {
    let catalog = glimpse_library::catalog::Catalog::open(library).unwrap();
    let mut out = Vec::new();
    for r in catalog.roots().unwrap() {
        let known = catalog.known_files(r.id, 1).unwrap();
        let failures: std::collections::HashMap<PathBuf, String> = catalog
            .root_failures(r.id, 1000)
            .unwrap()
            .into_iter()
            .collect();
        for (p, k) in known {
            let p = glimpse_library::catalog::bytes_path(&p);
            let why = failures.get(&p).cloned();
            out.push((p, k.status, why));
        }
    }
    out.sort();
    out
}

/// The photo named [`KILLER`] failed with the quarantine reason, every other one is indexed,
/// nothing is pending.
fn check_quarantined(library: &Path, n: usize) {
    let states = states(library);
    assert_eq!(states.len(), n, "{states:#?}");
    for (path, status, why) in &states {
        if path.file_name().and_then(|f| f.to_str()) == Some(KILLER) {
            assert_eq!(status, "failed", "{}", path.display());
            assert_eq!(why.as_deref(), Some(STOPPED_WHILE_READING));
        } else {
            assert_eq!(status, "indexed", "{}: {why:?}", path.display());
        }
    }
}

#[test]
fn a_file_that_kills_glimpse_index_is_quarantined_after_one_retry_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (root, library) = (dir.path().join("photos"), dir.path().join("library"));
    let n = 40;
    make_photos(&root, n);

    // First run: the process dies with the file and its neighbours in flight.
    let first = index(&library, &root);
    assert!(died(&first), "{first:?}");
    let pending = states(&library)
        .iter()
        .filter(|(_, s, _)| s == "pending")
        .count();
    assert!(pending > 1, "neighbours of the file were in flight too");

    // Second run: each file that was in flight is tried alone; the killer dies again, alone.
    let second = index(&library, &root);
    assert!(died(&second), "{second:?}");

    // Third run: the killer is marked failed without being read; the rest are indexed.
    let third = index(&library, &root);
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    check_quarantined(&library, n);
    let out = glimpse(&library)
        .args(["status", "--files"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{KILLER}: {STOPPED_WHILE_READING}")),
        "{text}"
    );

    // And it stays that way: the next run reads nothing again.
    let fourth = index(&library, &root);
    let said = String::from_utf8_lossy(&fourth.stderr);
    assert!(fourth.status.success(), "{said}");
    assert!(said.contains(", 0 queued"), "{said}");
}

/// Set in the child process that plays the app (the same test, run again by itself).
const CHILD: &str = "GLIMPSE_TEST_SESSION_CHILD";

/// The app's session over `library`, indexing its folders at start (and `root` on the first
/// start) until it is idle; aborts with the process when it reads [`KILLER`].
fn run_session(library: &Path, root: &Path) {
    use glimpse_session::Session;
    let cfg = common::session_config(library, &common::shape_model());
    let session = Session::new(cfg, std::sync::Arc::new(|_| {}));
    session.start().expect("session starts");
    if session.roots().expect("roots").is_empty() {
        session.add_root(root).expect("add folder");
    }
    assert!(session
        .wait_idle(Duration::from_secs(300))
        .expect("indexer"));
    session.shutdown();
}

#[test]
fn a_file_that_kills_the_app_while_indexing_is_quarantined_after_one_retry_alone() {
    if let Some(dirs) = std::env::var_os(CHILD) {
        let dirs = PathBuf::from(dirs);
        run_session(&dirs.join("library"), &dirs.join("photos"));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (root, library) = (dir.path().join("photos"), dir.path().join("library"));
    let n = 40;
    make_photos(&root, n);
    let start_app = || {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_file_that_kills_the_app_while_indexing_is_quarantined_after_one_retry_alone",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, dir.path())
            .env(ABORT_ON, KILLER)
            .output()
            .expect("start the app's session")
    };
    let first = start_app();
    assert!(died(&first), "{first:?}");
    let second = start_app();
    assert!(died(&second), "{second:?}");
    let third = start_app();
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stdout)
    );
    check_quarantined(&library, n);
}
