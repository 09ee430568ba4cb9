//! The scan on real trees built in a temporary folder: what is found, pruned, reported, and how
//! links, odd names, permissions, vanishing files and vanished roots behave.

use glimpse_library::scan::{
    format_of, is_photo_path, is_pruned, root_status, scan_file, scan_root, PhotoFormat, RootState,
    ScanError, ScanItem, ScanOptions, ScanSummary, ScannedFile, SkipReason,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, bytes).unwrap();
}

fn scan(root: &Path, opts: &ScanOptions) -> (Vec<ScanItem>, Result<ScanSummary, ScanError>) {
    let mut items = Vec::new();
    let r = scan_root(root, opts, &mut |i| items.push(i));
    (items, r)
}

fn scan_ok(root: &Path) -> Vec<ScanItem> {
    let (items, r) = scan(root, &ScanOptions::default());
    let summary = r.unwrap();
    assert_eq!(
        summary.files + summary.unsupported + summary.skipped,
        items.len()
    );
    items
}

fn files(items: &[ScanItem]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = items
        .iter()
        .filter_map(|i| match i {
            ScanItem::File(f) => Some(f.path.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn skipped(items: &[ScanItem]) -> Vec<(PathBuf, SkipReason, bool)> {
    items
        .iter()
        .filter_map(|i| match i {
            ScanItem::Skipped {
                path,
                reason,
                is_dir,
            } => Some((path.clone(), reason.clone(), *is_dir)),
            _ => None,
        })
        .collect()
}

fn sorted(mut v: Vec<PathBuf>) -> Vec<PathBuf> {
    v.sort();
    v
}

#[test]
fn nested_tree_with_mixed_case_extensions_and_unsupported_formats() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(&r.join("top.PNG"), b"png");
    write(&r.join("a/x.JpEg"), b"jpeg!");
    write(&r.join("a/b/c/deep.jpg"), b"j");
    write(&r.join("a/b/c/d/e/f/g/deeper.TIFF"), b"t");
    write(&r.join("a/anim.gif"), b"g");
    write(&r.join("a/w.webp"), b"w");
    write(&r.join("a/old.bmp"), b"b");
    write(&r.join("a/scan.jfif"), b"j");
    write(&r.join("a/cam.JPE"), b"j");
    write(&r.join("a/notes.txt"), b"not a photo");
    write(&r.join("a/noext"), b"x");
    write(&r.join("a/jpg"), b"x");
    write(&r.join("a/movie.mp4"), b"x");
    write(&r.join("a/b/raw.CR2"), b"raw");
    write(&r.join("a/b/phone.heic"), b"heic");
    write(&r.join("a/b/new.AVIF"), b"avif");
    write(&r.join("a/b/sigma.X3F"), b"x3f");
    // A directory whose name looks like a photo is descended into, not reported.
    write(&r.join("album.jpg/inside.png"), b"p");

    let items = scan_ok(r);
    let mut expected = vec![
        r.join("top.PNG"),
        r.join("a/x.JpEg"),
        r.join("a/b/c/deep.jpg"),
        r.join("a/b/c/d/e/f/g/deeper.TIFF"),
        r.join("a/anim.gif"),
        r.join("a/w.webp"),
        r.join("a/old.bmp"),
        r.join("a/scan.jfif"),
        r.join("a/cam.JPE"),
        r.join("album.jpg/inside.png"),
    ];
    // RAW files are read through their previews (feature `raw`), HEIC/AVIF through libheif
    // where it loads (feature `heif`); the rest of the time they are reported as unsupported.
    let mut expected_unsupported = vec![(r.join("a/b/sigma.X3F"), "x3f")];
    if cfg!(feature = "raw") {
        expected.push(r.join("a/b/raw.CR2"));
    } else {
        expected_unsupported.push((r.join("a/b/raw.CR2"), "cr2"));
    }
    if cfg!(feature = "heif") && glimpse_clip::decode::heif_available() {
        expected.extend([r.join("a/b/phone.heic"), r.join("a/b/new.AVIF")]);
    } else {
        expected_unsupported.extend([
            (r.join("a/b/phone.heic"), "heic"),
            (r.join("a/b/new.AVIF"), "avif"),
        ]);
    }
    expected_unsupported.sort();
    assert_eq!(files(&items), sorted(expected));
    let mut unsupported: Vec<(PathBuf, &str)> = items
        .iter()
        .filter_map(|i| match i {
            ScanItem::Unsupported { path, format, .. } => Some((path.clone(), *format)),
            _ => None,
        })
        .collect();
    unsupported.sort();
    assert_eq!(unsupported, expected_unsupported);
    assert!(skipped(&items).is_empty(), "{items:?}");
    // Size and mtime are the file's own.
    for i in &items {
        let (path, size, mtime) = match i {
            ScanItem::File(ScannedFile {
                path,
                size,
                mtime_ns,
            }) => (path, *size, *mtime_ns),
            ScanItem::Unsupported {
                path,
                size,
                mtime_ns,
                ..
            } => (path, *size, *mtime_ns),
            ScanItem::Skipped { .. } => unreachable!(),
        };
        let m = fs::metadata(path).unwrap();
        assert_eq!(size, m.len(), "{path:?}");
        assert_eq!(size, fs::read(path).unwrap().len() as u64);
        let want = m
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        assert_eq!(mtime, want, "{path:?}");
    }
}

#[test]
fn mtime_is_nanoseconds_since_the_epoch() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("a.jpg");
    write(&p, b"x");
    let when = std::time::UNIX_EPOCH + std::time::Duration::new(1_600_000_000, 123_456_789);
    fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(when)
        .unwrap();
    let items = scan_ok(t.path());
    assert_eq!(
        items,
        vec![ScanItem::File(ScannedFile {
            path: p,
            size: 1,
            mtime_ns: 1_600_000_000_123_456_789,
        })]
    );
}

#[test]
fn sorted_scan_is_in_byte_order_and_repeatable() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for name in ["b.jpg", "a/z.jpg", "a/b.jpg", "C.jpg", "c/a.jpg"] {
        write(&r.join(name), b"x");
    }
    let order: Vec<PathBuf> = scan_ok(r).iter().map(|i| i.path().to_path_buf()).collect();
    assert_eq!(
        order,
        vec![
            r.join("C.jpg"),
            r.join("a/b.jpg"),
            r.join("a/z.jpg"),
            r.join("b.jpg"),
            r.join("c/a.jpg"),
        ]
    );
    let again: Vec<PathBuf> = scan_ok(r).iter().map(|i| i.path().to_path_buf()).collect();
    assert_eq!(order, again);
    // Unsorted finds the same set.
    let (items, res) = scan(
        r,
        &ScanOptions {
            sorted: false,
            ..ScanOptions::default()
        },
    );
    res.unwrap();
    assert_eq!(files(&items), sorted(order));
}

const SYSTEM_DIRS: &[&str] = &[
    "$RECYCLE.BIN",
    "$Recycle.Bin",
    "System Volume Information",
    "@eaDir",
    "#recycle",
    "#snapshot",
    "@Recycle",
    "lost+found",
    "node_modules",
    "__MACOSX",
    ".thumbnails",
    ".Trash",
    ".Trash-1000",
    ".Trashes",
    ".Spotlight-V100",
    ".AppleDouble",
];

fn pruning_tree(r: &Path) {
    write(&r.join("keep.jpg"), b"x");
    write(&r.join("sub/keep2.png"), b"x");
    write(&r.join(".hidden.jpg"), b"x");
    write(&r.join(".cache/in-hidden-dir.jpg"), b"x");
    write(&r.join("sub/.git/objects/pic.png"), b"x");
    write(&r.join("._keep.jpg"), b"AppleDouble resource fork");
    for d in SYSTEM_DIRS {
        write(&r.join(d).join("pic.jpg"), b"x");
        write(&r.join("sub").join(d).join("deep/pic.heic"), b"x");
    }
}

#[test]
fn hidden_and_system_folders_are_pruned_silently() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    pruning_tree(r);
    let items = scan_ok(r);
    assert_eq!(
        items
            .iter()
            .map(|i| i.path().to_path_buf())
            .collect::<Vec<_>>(),
        vec![r.join("keep.jpg"), r.join("sub/keep2.png")],
        "{items:?}"
    );

    // Including hidden entries brings back the ordinary hidden ones, never the system ones.
    let (items, res) = scan(
        r,
        &ScanOptions {
            include_hidden: true,
            ..ScanOptions::default()
        },
    );
    res.unwrap();
    assert_eq!(
        files(&items),
        sorted(vec![
            r.join("keep.jpg"),
            r.join("sub/keep2.png"),
            r.join(".hidden.jpg"),
            r.join(".cache/in-hidden-dir.jpg"),
            r.join("sub/.git/objects/pic.png"),
        ])
    );
    assert_eq!(items.len(), 5, "{items:?}");

    // The watcher's filter agrees with the walk.
    let opts = ScanOptions::default();
    assert!(is_pruned(r, &r.join("sub/@eaDir/deep/pic.heic"), &opts));
    assert!(is_pruned(r, &r.join(".cache/in-hidden-dir.jpg"), &opts));
    assert!(!is_pruned(r, &r.join("sub/keep2.png"), &opts));
}

#[test]
fn a_hidden_root_is_still_scanned() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join(".photos");
    write(&r.join("a.jpg"), b"x");
    assert_eq!(files(&scan_ok(&r)), vec![r.join("a.jpg")]);
}

#[test]
fn photo_name_helpers() {
    assert!(is_photo_path(Path::new("/x/IMG_1.JPG")));
    assert!(is_photo_path(Path::new("/x/IMG_1.dng")));
    assert!(!is_photo_path(Path::new("/x/IMG_1.mov")));
    assert!(!is_photo_path(Path::new("/x/jpg")));
    assert_eq!(
        format_of(Path::new("a.Tif")),
        Some(PhotoFormat::Supported("tif"))
    );
    let f = format_of(Path::new("a.NEF")).unwrap();
    assert_eq!((f.name(), f.is_supported()), ("nef", cfg!(feature = "raw")));
    let f = format_of(Path::new("a.X3F")).unwrap();
    assert_eq!((f.name(), f.is_supported()), ("x3f", false));
    assert_eq!(SkipReason::Vanished.code(), "vanished");
    assert_eq!(
        SkipReason::TooLarge { bytes: 5, limit: 4 }.to_string(),
        "file too large: 5 bytes exceeds the limit of 4 bytes"
    );
}

#[test]
fn too_large_photos_are_reported_not_indexed() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(&r.join("big.jpg"), &[0u8; 11]);
    write(&r.join("fits.jpg"), &[0u8; 10]);
    write(&r.join("big.x3f"), &[0u8; 11]);
    write(&r.join("big.txt"), &[0u8; 100]);
    let opts = ScanOptions {
        max_file_bytes: 10,
        ..ScanOptions::default()
    };
    let (items, res) = scan(r, &opts);
    assert_eq!(
        res.unwrap(),
        ScanSummary {
            files: 1,
            unsupported: 1,
            skipped: 1
        }
    );
    assert_eq!(files(&items), vec![r.join("fits.jpg")]);
    assert_eq!(
        skipped(&items),
        vec![(
            r.join("big.jpg"),
            SkipReason::TooLarge {
                bytes: 11,
                limit: 10
            },
            false
        )]
    );
    assert_eq!(
        ScanOptions::default().max_file_bytes,
        glimpse_clip::decode::MAX_FILE_BYTES
    );
}

#[test]
fn files_vanishing_mid_scan_are_reported_as_vanished() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(&r.join("a.jpg"), b"x");
    write(&r.join("b.jpg"), b"x");
    write(&r.join("c.png"), b"x");
    write(&r.join("d/e.jpg"), b"x");
    // The sorted walk lists a folder before yielding from it, so deleting b.jpg and d/ while
    // a.jpg is being delivered deterministically leaves them listed but gone.
    let mut items = Vec::new();
    let res = scan_root(r, &ScanOptions::default(), &mut |i| {
        if i.path() == r.join("a.jpg") {
            fs::remove_file(r.join("b.jpg")).unwrap();
            fs::remove_dir_all(r.join("d")).unwrap();
        }
        items.push(i);
    });
    res.unwrap();
    assert_eq!(files(&items), vec![r.join("a.jpg"), r.join("c.png")]);
    assert_eq!(
        skipped(&items),
        vec![
            (r.join("b.jpg"), SkipReason::Vanished, false),
            (r.join("d"), SkipReason::Vanished, true),
        ]
    );

    // The single-path form the watcher uses.
    assert_eq!(
        scan_file(&r.join("b.jpg"), &ScanOptions::default()),
        Some(ScanItem::Skipped {
            path: r.join("b.jpg"),
            reason: SkipReason::Vanished,
            is_dir: false
        })
    );
    assert!(matches!(
        scan_file(&r.join("a.jpg"), &ScanOptions::default()),
        Some(ScanItem::File(f)) if f.path == r.join("a.jpg") && f.size == 1
    ));
    assert_eq!(
        scan_file(&r.join("notes.txt"), &ScanOptions::default()),
        None
    );
}

#[test]
fn missing_roots_and_files_as_roots_are_offline_and_scan_nothing() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("unplugged");
    let file = t.path().join("file.jpg");
    write(&file, b"x");
    assert_eq!(root_status(t.path()), RootState::Online);
    assert_eq!(root_status(&missing), RootState::Missing);
    assert_eq!(root_status(&file), RootState::NotADirectory);
    assert_eq!(root_status(&file.join("below")), RootState::NotADirectory);
    for (root, state) in [
        (&missing, RootState::Missing),
        (&file, RootState::NotADirectory),
    ] {
        let (items, res) = scan(root, &ScanOptions::default());
        assert!(items.is_empty());
        match res {
            Err(ScanError::RootOffline { path, state: s }) => {
                assert_eq!((path.as_path(), s), (root.as_path(), state));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_root_deleted_during_the_scan_is_an_error_not_an_empty_listing() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("root");
    write(&r.join("a.jpg"), b"x");
    write(&r.join("b/c.jpg"), b"x");
    let (mut items, mut gone) = (Vec::new(), false);
    let res = scan_root(&r, &ScanOptions::default(), &mut |i| {
        if !gone {
            fs::remove_dir_all(&r).unwrap();
            gone = true;
        }
        items.push(i);
    });
    assert!(
        matches!(
            res,
            Err(ScanError::RootOffline {
                state: RootState::Missing,
                ..
            })
        ),
        "{res:?}"
    );
}

#[test]
fn cancel_stops_the_walk() {
    let t = tempfile::tempdir().unwrap();
    for i in 0..20 {
        write(&t.path().join(format!("{i:02}.jpg")), b"x");
    }
    let flag = Arc::new(AtomicBool::new(false));
    let opts = ScanOptions {
        cancel: Some(flag.clone()),
        ..ScanOptions::default()
    };
    let mut n = 0;
    let res = scan_root(t.path(), &opts, &mut |_| {
        n += 1;
        if n == 3 {
            flag.store(true, Ordering::Relaxed);
        }
    });
    assert!(matches!(res, Err(ScanError::Cancelled)), "{res:?}");
    assert_eq!(n, 3);
}

#[cfg(unix)]
mod unix {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn non_utf8_names_are_found_with_their_exact_bytes() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let dir = r.join(OsStr::from_bytes(b"d\xff\xfe"));
        let file = dir.join(OsStr::from_bytes(b"caf\xe9.jpg"));
        let raw = r.join(OsStr::from_bytes(b"\x80raw.X3F"));
        let hidden = r.join(OsStr::from_bytes(b".\xe9.jpg"));
        write(&file, b"x");
        write(&raw, b"x");
        write(&hidden, b"x");
        assert!(file.to_str().is_none());
        let items = scan_ok(r);
        assert_eq!(files(&items), vec![file.clone()]);
        let ScanItem::File(f) = &items
            .iter()
            .find(|i| matches!(i, ScanItem::File(_)))
            .unwrap()
        else {
            unreachable!()
        };
        assert_eq!(
            f.path.file_name().unwrap().as_bytes(),
            b"caf\xe9.jpg",
            "the name's bytes survive"
        );
        assert!(fs::metadata(&f.path).is_ok(), "the path opens the file");
        assert!(items.iter().any(|i| matches!(
            i,
            ScanItem::Unsupported { path, format: "x3f", .. } if *path == raw
        )));
        assert_eq!(items.len(), 2, "{items:?}");
    }

    #[test]
    fn symlink_loops_terminate_without_duplicates() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(&r.join("a/p.jpg"), b"x");
        write(&r.join("a/b/q.png"), b"x");
        symlink("..", r.join("a/up")).unwrap(); // a/up → the root
        symlink(r.join("a"), r.join("a/b/back")).unwrap(); // a/b/back → a (absolute)
        symlink("self", r.join("a/self")).unwrap(); // a link to itself
        let items = scan_ok(r);
        assert_eq!(files(&items), vec![r.join("a/b/q.png"), r.join("a/p.jpg")]);
        let mut links = skipped(&items);
        links.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            links,
            vec![
                (r.join("a/b/back"), SkipReason::Symlink, true),
                (r.join("a/up"), SkipReason::Symlink, true),
            ],
            "directory links are reported once; the self-loop is not a directory"
        );
    }

    #[test]
    fn symlinked_files_are_not_indexed_but_reported() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = t.path();
        write(&r.join("real.jpg"), b"x");
        write(&outside.path().join("elsewhere.jpg"), b"x");
        write(&r.join("notes.txt"), b"x");
        symlink("real.jpg", r.join("alias.jpg")).unwrap();
        symlink(outside.path().join("elsewhere.jpg"), r.join("out.JPG")).unwrap();
        symlink("nothing-here.jpg", r.join("dangling.jpg")).unwrap();
        symlink("real.jpg", r.join("alias-without-photo-name")).unwrap();
        symlink("notes.txt", r.join("notes-link.txt")).unwrap();
        let items = scan_ok(r);
        assert_eq!(files(&items), vec![r.join("real.jpg")]);
        let mut links = skipped(&items);
        links.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            links,
            vec![
                (r.join("alias.jpg"), SkipReason::Symlink, false),
                (r.join("dangling.jpg"), SkipReason::Symlink, false),
                (r.join("out.JPG"), SkipReason::Symlink, false),
            ]
        );
        assert_eq!(items.len(), 4, "{items:?}");
        assert_eq!(
            scan_file(&r.join("alias.jpg"), &ScanOptions::default()),
            Some(ScanItem::Skipped {
                path: r.join("alias.jpg"),
                reason: SkipReason::Symlink,
                is_dir: false
            })
        );
    }

    #[test]
    fn a_root_that_is_a_symlink_is_followed() {
        let t = tempfile::tempdir().unwrap();
        write(&t.path().join("real/a.jpg"), b"x");
        let link = t.path().join("Pictures");
        symlink(t.path().join("real"), &link).unwrap();
        assert_eq!(root_status(&link), RootState::Online);
        assert_eq!(files(&scan_ok(&link)), vec![link.join("a.jpg")]);
        symlink(t.path().join("gone"), t.path().join("dangling")).unwrap();
        assert_eq!(root_status(&t.path().join("dangling")), RootState::Missing);
    }

    #[test]
    fn fifos_named_like_photos_are_reported_not_opened() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("pipe.jpg");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo failed");
        let items = scan_ok(t.path());
        assert_eq!(
            skipped(&items),
            vec![(fifo, SkipReason::NotRegularFile, false)]
        );
        assert_eq!(items.len(), 1);
    }

    /// Restores a mode on drop so a failed assertion does not leave an undeletable temp dir.
    struct Chmod(PathBuf, u32);
    impl Drop for Chmod {
        fn drop(&mut self) {
            let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(self.1));
        }
    }

    #[test]
    fn unreadable_directories_are_reported_and_the_rest_is_scanned() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("root");
        write(&r.join("ok.jpg"), b"x");
        write(&r.join("locked/secret.jpg"), b"x");
        write(&r.join("z/after.png"), b"x");
        let locked = r.join("locked");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let _restore = Chmod(locked.clone(), 0o755);
        // Root (CAP_DAC_OVERRIDE) reads a mode-000 folder anyway; assert what is observable.
        let privileged = fs::read_dir(&locked).is_ok();
        let items = scan_ok(&r);
        if privileged {
            assert_eq!(
                files(&items),
                vec![
                    r.join("locked/secret.jpg"),
                    r.join("ok.jpg"),
                    r.join("z/after.png")
                ]
            );
            assert!(skipped(&items).is_empty(), "{items:?}");
        } else {
            assert_eq!(files(&items), vec![r.join("ok.jpg"), r.join("z/after.png")]);
            assert_eq!(
                skipped(&items),
                vec![(locked.clone(), SkipReason::PermissionDenied, true)]
            );
        }

        // The same for a root: unreadable is offline, not empty.
        fs::set_permissions(&r, fs::Permissions::from_mode(0o000)).unwrap();
        let _restore_root = Chmod(r.clone(), 0o755);
        let state = root_status(&r);
        if fs::read_dir(&r).is_ok() {
            assert_eq!(state, RootState::Online);
        } else {
            assert_eq!(state, RootState::Unreadable);
            let (items, res) = scan(&r, &ScanOptions::default());
            assert!(items.is_empty());
            assert!(matches!(
                res,
                Err(ScanError::RootOffline {
                    state: RootState::Unreadable,
                    ..
                })
            ));
        }
    }
}
