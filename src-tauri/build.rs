//! Declares the app's commands so that capabilities can grant them one by one: a command that
//! is not listed in `capabilities/main.json` cannot be called from the page.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&COMMANDS);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}

/// Every command `src/commands.rs` registers.
const COMMANDS: [&str; 34] = [
    "status",
    "roots",
    "add_picked_folder",
    "add_typed_folder",
    "remove_root",
    "pause_indexing",
    "resume_indexing",
    "search",
    "photo",
    "tags",
    "formats",
    "default_labels",
    "tag_folder",
    "reveal",
    "open_photo",
    "fetch_model",
    "picture_types",
    "stop_auto_tag",
    "copy_paths",
    "folders",
    "rename_tag",
    "delete_tag",
    "open_map",
    "export_photos",
    "set_index_threads",
    "set_read_text",
    "duplicates",
    "trash_photos",
    "tag_photos",
    "untag_photos",
    "reveal_photos",
    "copy_image",
    "models",
    "set_model",
];
