//! What a hostile or broken input cannot do to the engine: a pipe or a link to a device named
//! like a photo cannot hang a read or fill memory (dropped as an example, named on the command
//! line, or put in a photo's place after the scan), and a model folder cannot ask for absurd
//! preprocessing sizes. The special files are made at test time in a temporary folder.

use crate::common;

use glimpse_clip::decode::{self, DecodeOptions};
use glimpse_clip::preprocess::{ConfigError, PreprocessConfig, MAX_INPUT_SIDE};
use std::path::{Path, PathBuf};

/// A temporary folder holding one real photo (`photo.jpg`).
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::fixture("images/jpeg_baseline.jpg"),
        dir.path().join("photo.jpg"),
    )
    .unwrap();
    dir
}

#[cfg(unix)]
mod special_files {
    use super::*;
    use glimpse_library::prepare::{self, PrepareError};
    use glimpse_library::Library;
    use std::collections::HashMap;
    use std::sync::mpsc;
    use std::time::Duration;

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo {}", path.display());
    }

    /// Runs `f` on its own thread. A read that blocks on the pipe would hang the test forever;
    /// this turns that into a failure: after a generous wait (a hang guard, not a timing
    /// assertion) a writer opens and closes the pipe, which ends the stuck read.
    fn without_hanging<T: Send + 'static>(
        fifo: &Path,
        what: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(v) => v,
            Err(_) => {
                let _ = std::fs::OpenOptions::new().write(true).open(fifo);
                panic!("{what} blocked on a pipe named like a photo");
            }
        }
    }

    #[test]
    fn a_pipe_named_like_a_photo_is_refused_not_waited_on() {
        let dir = folder();
        let fifo = dir.path().join("x.jpg");
        mkfifo(&fifo);
        let want = "not a regular file (a pipe)";

        let p = fifo.clone();
        let err = without_hanging(&fifo, "decode_file", move || {
            decode::decode_file(&p, DecodeOptions::full())
                .unwrap_err()
                .to_string()
        });
        assert_eq!(err, format!("cannot read file: {want}"));

        // The indexer's read (the file became a pipe after the scan saw a photo).
        let p = fifo.clone();
        let err = without_hanging(&fifo, "prepare", move || {
            match prepare::prepare(&p, &PreprocessConfig::default(), &HashMap::new(), None) {
                Err(e @ PrepareError::Decode(_)) => e.to_string(),
                other => panic!("expected a decode error, got {other:?}"),
            }
        });
        assert_eq!(err, format!("cannot read file: {want}"));

        let p = fifo.clone();
        let err = without_hanging(&fifo, "metadata::read_file", move || {
            glimpse_clip::metadata::read_file(&p)
                .unwrap_err()
                .to_string()
        });
        assert_eq!(err, want);

        // Dropped on the window as an example.
        let (p, lib) = (fifo.clone(), dir.path().join("library"));
        let err = without_hanging(&fifo, "search::example", move || {
            let lib = Library::open(&lib, "m", 4).unwrap();
            glimpse_query::search::example(&lib, None, &p)
                .unwrap_err()
                .to_string()
        });
        assert!(err.ends_with(&format!(": {want}")), "{err}");

        // The photo beside it still decodes.
        decode::decode_file(&dir.path().join("photo.jpg"), DecodeOptions::full()).unwrap();
    }

    #[test]
    fn a_link_to_a_device_is_refused_and_a_link_to_a_photo_followed() {
        let dir = folder();
        let link = |name: &str, to: &Path| -> PathBuf {
            let p = dir.path().join(name);
            std::os::unix::fs::symlink(to, &p).unwrap();
            p
        };
        let want = "cannot read file: not a regular file (a character device)";
        // /dev/null first: without the check it reads as an empty file, a safe way to fail.
        let null = link("null.jpg", Path::new("/dev/null"));
        let err = decode::decode_file(&null, DecodeOptions::full()).unwrap_err();
        assert_eq!(err.to_string(), want);
        // /dev/zero never ends: it must be refused before a byte is read.
        let zero = link("x.jpg", Path::new("/dev/zero"));
        let err = decode::decode_file(&zero, DecodeOptions::full()).unwrap_err();
        assert_eq!(err.to_string(), want);
        // The indexer's read, with /dev/null for the same reason.
        match prepare::prepare(&null, &PreprocessConfig::default(), &HashMap::new(), None) {
            Err(e) => assert_eq!(e.to_string(), want),
            Ok(_) => panic!("a link to /dev/null was prepared"),
        }
        // A link to a link to a device is the same device.
        let twice = link("twice.jpg", &zero);
        let err = decode::decode_file(&twice, DecodeOptions::full()).unwrap_err();
        assert_eq!(err.to_string(), want);
        // A folder named like a photo.
        let folder = dir.path().join("album.jpg");
        std::fs::create_dir(&folder).unwrap();
        let err = decode::decode_file(&folder, DecodeOptions::full()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read file: not a regular file (a folder)"
        );

        // A link to a real photo (a dropped file often is one) is read as the photo.
        let photo = link("alias.jpg", &dir.path().join("photo.jpg"));
        let via_link = decode::decode_file(&photo, DecodeOptions::full()).unwrap();
        let direct =
            decode::decode_file(&dir.path().join("photo.jpg"), DecodeOptions::full()).unwrap();
        assert_eq!(via_link.image, direct.image);
    }

    #[test]
    fn a_vanished_photo_is_still_reported_as_vanished() {
        let dir = folder();
        let gone = dir.path().join("gone.jpg");
        let r = prepare::prepare(&gone, &PreprocessConfig::default(), &HashMap::new(), None);
        assert!(matches!(r, Err(PrepareError::Vanished)), "{r:?}");
    }
}

/// Writes `json` as `preprocess_cfg.json` (immich) and `preprocessor_config.json` (HF) in a
/// temporary folder.
fn configs(json: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (immich, hf) = (
        dir.path().join("preprocess_cfg.json"),
        dir.path().join("preprocessor_config.json"),
    );
    std::fs::write(&immich, json).unwrap();
    std::fs::write(&hf, json).unwrap();
    (dir, immich, hf)
}

fn invalid_message(r: Result<PreprocessConfig, ConfigError>) -> String {
    match r {
        Err(e @ ConfigError::Invalid { .. }) => e.to_string(),
        other => panic!("expected an invalid config, got {other:?}"),
    }
}

#[test]
fn preprocessing_sizes_from_a_model_folder_are_bounded() {
    // A 2^31 crop, the largest u32, just past the cap, and nothing at all.
    for size in [1u64 << 31, u32::MAX as u64, MAX_INPUT_SIDE as u64 + 1, 0] {
        let (_d, immich, _) = configs(&format!(r#"{{"size": {size}}}"#));
        let msg = invalid_message(PreprocessConfig::from_immich(&immich));
        assert!(
            msg.ends_with(&format!(
                "size {size} is outside 1..={MAX_INPUT_SIDE} pixels"
            )),
            "{msg}"
        );
    }
    let (_d, _, hf) = configs(&format!(
        r#"{{"size": {{"shortest_edge": 224}}, "crop_size": {{"height": 224, "width": {}}}}}"#,
        MAX_INPUT_SIDE + 1
    ));
    let msg = invalid_message(PreprocessConfig::from_hf(&hf));
    assert!(msg.contains("crop width"), "{msg}");
    let (_d, _, hf) = configs(r#"{"size": {"shortest_edge": 4294967295}}"#);
    assert!(invalid_message(PreprocessConfig::from_hf(&hf)).contains("size 4294967295"));
    // Past u32: not a size at all.
    let (_d, immich, _) = configs(&format!(r#"{{"size": {}}}"#, 1u64 << 40));
    invalid_message(PreprocessConfig::from_immich(&immich));
    // Division by zero and non-numbers.
    let (_d, immich, _) = configs(r#"{"size": 224, "std": [0.2, 0.0, 0.3]}"#);
    assert!(invalid_message(PreprocessConfig::from_immich(&immich)).contains("std"));
    let (_d, _, hf) = configs(r#"{"rescale_factor": -1.0}"#);
    assert!(invalid_message(PreprocessConfig::from_hf(&hf)).contains("rescale_factor"));
    // A config file that is not a few hundred bytes is not read whole.
    let (_d, immich, _) = configs(&format!(
        r#"{{"size": 224, "pad": "{}"}}"#,
        "x".repeat(2 << 20)
    ));
    assert!(invalid_message(PreprocessConfig::from_immich(&immich)).contains("larger than"));
    // Real configs still load: the largest side allowed, and the test models'.
    let (_d, immich, _) = configs(&format!(r#"{{"size": {MAX_INPUT_SIDE}}}"#));
    assert_eq!(
        PreprocessConfig::from_immich(&immich).unwrap().resize,
        MAX_INPUT_SIDE
    );
    let cfg =
        PreprocessConfig::from_immich(&common::immich_model().join("visual/preprocess_cfg.json"))
            .unwrap();
    assert!(cfg.resize >= 1 && cfg.resize <= MAX_INPUT_SIDE);
}
