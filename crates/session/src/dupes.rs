//! The duplicates view's engine side: groups of copies in the window's JSON, and the one action
//! that touches photo files, moving chosen copies to the system Trash. Every move is checked
//! first: the photo must be a copy the last search for duplicates found, one copy of each
//! picture always stays, and a file that changed since it was indexed is left alone.

use crate::views::{DupeGroup, DupeMember, Failure, PhotoDetail};
use glimpse_library::catalog::PhotoInfo;
use glimpse_library::content_hash;
use glimpse_library::Library;
use glimpse_query::dupes::{Group, Keep};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;

/// The groups the window was last shown, by photo id and file: what a move to the Trash is
/// checked against.
#[derive(Debug, Default, Clone)]
pub(crate) struct Found {
    groups: Vec<Vec<(i64, PathBuf)>>,
}

/// Why the keeper is the keeper, in the window's words.
fn keep_reason(why: Keep, keeper: &PhotoInfo) -> String {
    match why {
        Keep::Pixels => "most pixels".into(),
        Keep::Lossless => {
            let format = keeper
                .format
                .as_deref()
                .unwrap_or("lossless")
                .to_uppercase();
            format!("same pixels, saved without loss ({format})")
        }
        Keep::Larger => "same pixels, largest file".into(),
        Keep::Path => "the copies are alike: first by name".into(),
    }
}

/// The groups as the window shows them (previews from `lib`), and what to check moves against.
pub(crate) fn views(lib: &Library, groups: Vec<Group>) -> (Vec<DupeGroup>, Found) {
    let mut found = Found::default();
    let views = groups
        .into_iter()
        .filter_map(|g| {
            let keeper = g.photos.first()?;
            let keep_reason = keep_reason(g.why, &keeper.photo);
            found.groups.push(
                g.photos
                    .iter()
                    .map(|m| (m.photo.id, m.photo.path.clone()))
                    .collect(),
            );
            let photos = g
                .photos
                .into_iter()
                .map(|m| {
                    let thumbnail = m.photo.content_hash.as_deref().and_then(|h| {
                        lib.thumbs()
                            .exists(h)
                            .then(|| lib.thumbs().path_for(h).display().to_string())
                    });
                    DupeMember {
                        photo: PhotoDetail::new(m.photo, thumbnail, Vec::new()),
                        score: m.score,
                    }
                })
                .collect();
            Some(DupeGroup {
                keep_reason,
                photos,
            })
        })
        .collect();
    (views, found)
}

impl Found {
    /// Takes the photos that left the library out of the groups; a group of one is no group.
    pub(crate) fn without(&mut self, gone: &HashSet<i64>) {
        for g in &mut self.groups {
            g.retain(|(id, _)| !gone.contains(id));
        }
        self.groups.retain(|g| g.len() > 1);
    }

    /// Why the photo `id` may not go to the Trash when `asked` are to go, if it may not: it is
    /// not a copy found, or no other copy of its picture would stay.
    fn refusal(&self, id: i64, asked: &HashSet<i64>) -> Option<String> {
        let Some(group) = self.groups.iter().find(|g| g.iter().any(|(m, _)| *m == id)) else {
            return Some(
                "it is not among the copies found: look for duplicates again first".into(),
            );
        };
        let stays = group
            .iter()
            .any(|(m, path)| !asked.contains(m) && path.exists());
        (!stays).then(|| {
            "every copy of this picture was chosen: Glimpse always keeps one of them".into()
        })
    }
}

/// Whether the file still holds what was indexed (else why not, in words): a photo edited or
/// replaced since may no longer be a copy of anything.
fn unchanged(info: &PhotoInfo) -> Result<(), String> {
    let changed = || "the file changed since Glimpse looked at it: look for duplicates again";
    let mut file = std::fs::File::open(&info.path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "the file is no longer there".to_string(),
        std::io::ErrorKind::PermissionDenied => "Glimpse may not read the file".to_string(),
        _ => format!("cannot read the file ({e})"),
    })?;
    let len = file.metadata().map(|m| m.len()).ok();
    if len != u64::try_from(info.size).ok() {
        return Err(changed().into());
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file ({e})"))?;
    let hex: String = content_hash(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if info.content_hash.as_deref() != Some(hex.as_str()) {
        return Err(changed().into());
    }
    Ok(())
}

/// Moves each photo of `ids` that passes the checks to the system Trash (the freedesktop Trash
/// under `$XDG_DATA_HOME` on Linux, the Recycle Bin or the Finder's Trash elsewhere), never
/// anything else. Returns the ids moved and a failure in words for each photo left.
pub(crate) fn move_to_trash(
    found: &Found,
    infos: &HashMap<i64, PhotoInfo>,
    ids: &[i64],
) -> (Vec<i64>, Vec<Failure>) {
    let asked: HashSet<i64> = ids.iter().copied().collect();
    let mut moved = Vec::new();
    let mut failures = Vec::new();
    let mut seen = HashSet::new();
    for &id in ids {
        if !seen.insert(id) {
            continue;
        }
        let Some(info) = infos.get(&id) else {
            failures.push(Failure {
                path: format!("photo {id}"),
                reason: "this photo is no longer in the library".into(),
            });
            continue;
        };
        let fail = |reason: String| Failure {
            path: info.path.display().to_string(),
            reason,
        };
        if let Some(reason) = found.refusal(id, &asked) {
            failures.push(fail(reason));
            continue;
        }
        if let Err(reason) = unchanged(info) {
            failures.push(fail(reason));
            continue;
        }
        match trash::delete(&info.path) {
            Ok(()) => {
                tracing::info!(path = %info.path.display(), "moved to the Trash");
                moved.push(id);
            }
            Err(e) => {
                tracing::warn!(path = %info.path.display(), "cannot move to the Trash: {e}");
                failures.push(fail(format!("cannot move it to the Trash ({e})")));
            }
        }
    }
    (moved, failures)
}
