//! What a hostile or broken input cannot do to the engine: a pipe or a link to a device named
//! like a photo cannot hang a read or fill memory (dropped as an example, named on the command
//! line, or put in a photo's place after the scan). The special files are made at test time in
//! a temporary folder.

mod common;

use glimpse::decode::{self, DecodeOptions};
use glimpse::preprocess::PreprocessConfig;
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
    use glimpse::library::Library;
    use glimpse::prepare::{self, PrepareError};
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
            glimpse::metadata::read_file(&p).unwrap_err().to_string()
        });
        assert_eq!(err, want);

        // Dropped on the window as an example.
        let (p, lib) = (fifo.clone(), dir.path().join("library"));
        let err = without_hanging(&fifo, "search::example", move || {
            let lib = Library::open(&lib, "m", 4).unwrap();
            glimpse::search::example(&lib, None, &p)
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
        match prepare::prepare(&zero, &PreprocessConfig::default(), &HashMap::new(), None) {
            Err(e) => assert_eq!(e.to_string(), want),
            Ok(_) => panic!("a link to /dev/zero was prepared"),
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
