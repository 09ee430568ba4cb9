//! The commands the page calls (see `ui/src/lib/api.ts` for the other side). Each one runs the
//! engine off the main thread, so a long search or a folder removal never freezes the window,
//! and turns errors into the message the page shows.
//!
//! The page never names a file or folder for the engine to read: photos go by id, a dropped
//! picture by the token the shell gave it when the OS handed over the drop, a folder to add
//! comes from the native folder dialog, and a pasted folder path is added only once the user
//! has said yes to it in a native dialog (which a page cannot answer for them).

use crate::AppState;
use glimpse_session::picture::COPY_MAX_SIDE;
use glimpse_session::views::{
    AppStatus, DupeGroup, ExportReport, FilterSpec, FolderAdded, FolderCount, FormatView,
    IndexState, IndexThreads, LabelSuggestion, ModelChoices, ModelState, PhotoDetail, RootInfo,
    SearchPage, SearchQuery, TagCount, TagReportView, TrashReport,
};
use glimpse_session::{Session, SessionError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tauri::State;
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};
use tauri_plugin_opener::OpenerExt;

/// Runs `f` on the blocking pool with the session; errors become the page's message.
async fn run<T, F>(state: State<'_, AppState>, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&Session) -> Result<T, SessionError> + Send + 'static,
{
    let session: Arc<Session> = state.session.clone();
    tauri::async_runtime::spawn_blocking(move || f(&session))
        .await
        .map_err(|e| format!("internal error: {e}"))?
        .map_err(|e| e.to_string())
}

/// Model, provider, counts and the indexer's state.
#[tauri::command]
pub async fn status(state: State<'_, AppState>) -> Result<AppStatus, String> {
    run(state, |s| s.status()).await
}

/// The extensions a dropped picture may have (RAW included; HEIC only where it decodes).
#[tauri::command]
pub async fn picture_types(state: State<'_, AppState>) -> Result<Vec<String>, String> {
    run(state, |s| Ok(s.picture_types())).await
}

/// The photo folders.
#[tauri::command]
pub async fn roots(state: State<'_, AppState>) -> Result<Vec<RootInfo>, String> {
    run(state, |s| s.roots()).await
}

/// The native folder dialog, then the folder chosen is added and indexed; `None` when the
/// dialog was cancelled.
#[tauri::command]
pub async fn add_picked_folder(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
) -> Result<Option<FolderAdded>, String> {
    let picked = app
        .dialog()
        .file()
        .set_title("Add a folder of photos")
        .blocking_pick_folder()
        .and_then(|p| p.into_path().ok());
    match picked {
        Some(path) => run(state, move |s| s.add_folder(&path)).await.map(Some),
        None => Ok(None),
    }
}

/// The title of the dialog that asks before a pasted folder is added (the end-to-end tests
/// find it by this title).
const CONFIRM_TITLE: &str = "Add this folder?";

/// Its yes button: Alt+A on Linux, where GTK reads the underscore as the key.
const ADD_LABEL: &str = if cfg!(target_os = "linux") {
    "_Add folder"
} else {
    "Add folder"
};

/// Adds a folder whose path was pasted into the page, once the user confirms it in a native
/// dialog that names the folder it really is (links resolved); `None` when they decline.
#[tauri::command]
pub async fn add_typed_folder(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    path: String,
) -> Result<Option<FolderAdded>, String> {
    let typed = PathBuf::from(path);
    let real = run(state.clone(), move |s| s.folder_to_add(&typed)).await?;
    // Already in the library: nothing to confirm, the window says where it is.
    let held = real.clone();
    if run(state.clone(), move |s| s.holder_of(&held))
        .await?
        .is_some()
    {
        return run(state, move |s| s.add_folder(&real)).await.map(Some);
    }
    let yes = app
        .dialog()
        .message(format!(
            "Add “{}” to Glimpse?\n\nGlimpse will read the photos in it and everything inside \
             it, and show them in this window.",
            real.display()
        ))
        .title(CONFIRM_TITLE)
        .kind(MessageDialogKind::Info)
        .buttons(MessageDialogButtons::OkCancelCustom(
            ADD_LABEL.into(),
            "Cancel".into(),
        ))
        .blocking_show();
    if !yes {
        tracing::info!("adding {} was not confirmed", real.display());
        return Ok(None);
    }
    run(state, move |s| s.add_folder(&real)).await.map(Some)
}

/// Forgets a folder's photos (the files stay).
#[tauri::command]
pub async fn remove_root(
    state: State<'_, AppState>,
    path: String,
) -> Result<Vec<RootInfo>, String> {
    run(state, move |s| s.remove_root(&PathBuf::from(path))).await
}

/// Holds indexing.
#[tauri::command]
pub async fn pause_indexing(state: State<'_, AppState>) -> Result<IndexState, String> {
    run(state, |s| s.pause()).await
}

/// Continues indexing.
#[tauri::command]
pub async fn resume_indexing(state: State<'_, AppState>) -> Result<IndexState, String> {
    run(state, |s| s.resume()).await
}

/// One page of results.
#[tauri::command]
pub async fn search(state: State<'_, AppState>, query: SearchQuery) -> Result<SearchPage, String> {
    run(state, move |s| s.search(&query)).await
}

/// Copies library photos to a folder the user picks in the native dialog (their files are
/// never moved or overwritten); `None` when the dialog was cancelled.
#[tauri::command]
pub async fn export_photos(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    ids: Vec<i64>,
) -> Result<Option<ExportReport>, String> {
    let title = if ids.len() == 1 {
        "Copy the photo to…".to_string()
    } else {
        format!("Copy {} photos to…", ids.len())
    };
    let picked = app
        .dialog()
        .file()
        .set_title(title)
        .blocking_pick_folder()
        .and_then(|p| p.into_path().ok());
    match picked {
        Some(folder) => run(state, move |s| s.export_photos(&ids, &folder))
            .await
            .map(Some),
        None => Ok(None),
    }
}

/// Renames a tag everywhere; the tags in use after.
#[tauri::command]
pub async fn rename_tag(
    state: State<'_, AppState>,
    old: String,
    new: String,
) -> Result<Vec<TagCount>, String> {
    run(state, move |s| s.rename_tag(&old, &new)).await
}

/// Takes a tag off every photo; the tags in use after.
#[tauri::command]
pub async fn delete_tag(state: State<'_, AppState>, name: String) -> Result<Vec<TagCount>, String> {
    run(state, move |s| s.delete_tag(&name)).await
}

/// How many cores indexing uses from the next job on (`None`: one per core).
#[tauri::command]
pub async fn set_index_threads(
    state: State<'_, AppState>,
    threads: Option<usize>,
) -> Result<IndexThreads, String> {
    run(state, move |s| s.set_index_threads(threads)).await
}

/// Whether indexing reads the words in pictures, for this library; the setting after.
#[tauri::command]
pub async fn set_read_text(state: State<'_, AppState>, on: bool) -> Result<bool, String> {
    run(state, move |s| s.set_read_text(on)).await
}

/// The folder tree below a root.
#[tauri::command]
pub async fn folders(state: State<'_, AppState>, root: String) -> Result<Vec<FolderCount>, String> {
    run(state, move |s| s.folders(Path::new(&root))).await
}

/// The lightbox's details.
#[tauri::command]
pub async fn photo(state: State<'_, AppState>, id: i64) -> Result<PhotoDetail, String> {
    run(state, move |s| s.photo(id)).await
}

/// Tags in use.
#[tauri::command]
pub async fn tags(state: State<'_, AppState>) -> Result<Vec<TagCount>, String> {
    run(state, |s| s.tags()).await
}

/// The formats the type filter offers.
#[tauri::command]
pub async fn formats(state: State<'_, AppState>) -> Result<Vec<FormatView>, String> {
    run(state, |s| s.formats()).await
}

/// The labels "Auto-tag this folder" starts from (the folder's own while it is auto-tagged).
#[tauri::command]
pub async fn default_labels(
    state: State<'_, AppState>,
    folder: Option<String>,
) -> Result<LabelSuggestion, String> {
    run(state, move |s| {
        s.default_labels(folder.as_deref().map(Path::new))
    })
    .await
}

/// Stops tagging the photos that arrive in a folder later (its tags stay).
#[tauri::command]
pub async fn stop_auto_tag(state: State<'_, AppState>, folder: String) -> Result<bool, String> {
    run(state, move |s| s.stop_auto_tag(Path::new(&folder))).await
}

/// Auto-tags a folder.
#[tauri::command]
pub async fn tag_folder(
    state: State<'_, AppState>,
    folder: String,
    labels: Vec<String>,
) -> Result<TagReportView, String> {
    run(state, move |s| {
        s.tag_folder(&PathBuf::from(folder), &labels)
    })
    .await
}

/// Shows a library photo in the file manager; when none answers, says so in words and puts
/// the photo's path on the clipboard instead (the technical cause goes to the log).
#[tauri::command]
pub async fn reveal(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    id: i64,
) -> Result<(), String> {
    let path = run(state, move |s| s.photo_path(id)).await?;
    app.opener().reveal_item_in_dir(&path).map_err(|e| {
        tracing::warn!(path = %path.display(), "reveal in file manager failed: {e}");
        fallback(&app, &path, "No file manager could show this photo")
    })
}

/// Opens a library photo in the default viewer, with the same fallback as [`reveal`].
#[tauri::command]
pub async fn open_photo(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    id: i64,
) -> Result<(), String> {
    let path = run(state, move |s| s.photo_path(id)).await?;
    app.opener()
        .open_path(path.display().to_string(), None::<&str>)
        .map_err(|e| {
            tracing::warn!(path = %path.display(), "open in the default viewer failed: {e}");
            fallback(&app, &path, "No program could open this photo")
        })
}

/// Shows where a library photo was taken on OpenStreetMap in the web browser: the only
/// address Glimpse ever opens, only when asked, and built here from the photo's own position
/// (the page names a photo, never a URL).
#[tauri::command]
pub async fn open_map(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    id: i64,
) -> Result<(), String> {
    let detail = run(state, move |s| s.photo(id)).await?;
    let (Some(lat), Some(lon)) = (detail.latitude, detail.longitude) else {
        return Err("This photo does not say where it was taken.".into());
    };
    let url = map_url(lat, lon);
    app.opener().open_url(&url, None::<&str>).map_err(|e| {
        tracing::warn!("opening the map failed: {e}");
        match app.clipboard().write_text(url.clone()) {
            Ok(()) => "No web browser could open the map; its address is copied.".to_string(),
            Err(_) => format!("No web browser could open the map. It is at {url}"),
        }
    })
}

/// The OpenStreetMap page of a position, zoomed to streets.
fn map_url(lat: f64, lon: f64) -> String {
    format!("https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=16/{lat:.6}/{lon:.6}")
}

/// What the page shows when the desktop could not act on `path`: `what` failed, and the path
/// is on the clipboard (or, if even that failed, in the message).
fn fallback(app: &tauri::AppHandle, path: &Path, what: &str) -> String {
    match app.clipboard().write_text(path.display().to_string()) {
        Ok(()) => format!("{what}; its path is copied, to paste where you need it."),
        Err(e) => {
            tracing::warn!("cannot copy to the clipboard: {e}");
            format!("{what}. It is at {}", path.display())
        }
    }
}

/// Puts the paths of library photos on the clipboard, one per line ("Copy path").
#[tauri::command]
pub async fn copy_paths(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    ids: Vec<i64>,
) -> Result<usize, String> {
    let paths = run(state, move |s| {
        ids.iter()
            .map(|id| s.photo_path(*id))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let text: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    app.clipboard().write_text(text.join("\n")).map_err(|e| {
        tracing::warn!("cannot copy to the clipboard: {e}");
        "The clipboard could not be written.".to_string()
    })?;
    Ok(paths.len())
}

/// Puts a tag on photos by hand; the tags in use after.
#[tauri::command]
pub async fn tag_photos(
    state: State<'_, AppState>,
    ids: Vec<i64>,
    name: String,
) -> Result<Vec<TagCount>, String> {
    run(state, move |s| s.tag_photos(&ids, &name)).await
}

/// Takes a tag off photos by hand; the tags in use after.
#[tauri::command]
pub async fn untag_photos(
    state: State<'_, AppState>,
    ids: Vec<i64>,
    name: String,
) -> Result<Vec<TagCount>, String> {
    run(state, move |s| s.untag_photos(&ids, &name)).await
}

/// Shows selected photos in the file manager: one photo itself, several folder by folder (a
/// few at most). Answers what to tell the person, if anything; when no file manager answers,
/// the folders' paths are copied instead.
#[tauri::command]
pub async fn reveal_photos(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    ids: Vec<i64>,
) -> Result<Option<String>, String> {
    let plan = run(state, move |s| s.reveal_plan(&ids)).await?;
    for file in &plan.files {
        if let Err(e) = app.opener().reveal_item_in_dir(file) {
            tracing::warn!(path = %file.display(), "reveal in file manager failed: {e}");
            let folder = file.parent().unwrap_or(file);
            return Err(fallback(
                &app,
                folder,
                "No file manager could show the folder",
            ));
        }
    }
    Ok(plan.summary())
}

/// Puts a library photo's picture on the clipboard ("Copy image"), at most
/// [`COPY_MAX_SIDE`] pixels on its longest side. Answers whether it was made smaller.
#[tauri::command]
pub async fn copy_image(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    id: i64,
) -> Result<bool, String> {
    let picture = run(state, move |s| s.photo_rgba(id, COPY_MAX_SIDE)).await?;
    let image = tauri::image::Image::new_owned(picture.pixels, picture.width, picture.height);
    app.clipboard().write_image(&image).map_err(|e| {
        tracing::warn!("cannot copy the picture to the clipboard: {e}");
        "The clipboard could not take the picture.".to_string()
    })?;
    Ok(picture.reduced)
}

/// Downloads the default model (first run) and starts the engine.
#[tauri::command]
pub async fn fetch_model(state: State<'_, AppState>) -> Result<ModelState, String> {
    run(state, |s| s.fetch_model()).await
}

/// The models Settings offers.
#[tauri::command]
pub async fn models(state: State<'_, AppState>) -> Result<ModelChoices, String> {
    run(state, |s| s.models()).await
}

/// Switches the window to another model (Settings); not ready: the first-run screen downloads it.
#[tauri::command]
pub async fn set_model(state: State<'_, AppState>, name: String) -> Result<ModelState, String> {
    run(state, move |s| s.set_model(&name)).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_map_address_is_openstreetmap_at_the_photo_s_position() {
        assert_eq!(
            super::map_url(35.681236, -139.767125),
            "https://www.openstreetmap.org/?mlat=35.681236&mlon=-139.767125#map=16/35.681236/-139.767125"
        );
    }
}

/// Groups of copies among the photos the filter passes (the duplicates view), keeper first.
#[tauri::command]
pub async fn duplicates(
    state: State<'_, AppState>,
    filter: FilterSpec,
) -> Result<Vec<DupeGroup>, String> {
    run(state, move |s| s.duplicates(&filter)).await
}

/// Moves copies the duplicates view found to the system Trash, once the page's confirmation
/// was answered; the session refuses anything else.
#[tauri::command]
pub async fn trash_photos(
    state: State<'_, AppState>,
    ids: Vec<i64>,
) -> Result<TrashReport, String> {
    run(state, move |s| s.trash_photos(&ids)).await
}
