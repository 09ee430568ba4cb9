//! Glimpse's desktop window (Tauri 2). Everything it can do lives in the engine
//! (`glimpse_session::session`); this crate wires the engine to the window: commands in, events out,
//! and the scoped `glimpse:` protocol through which the page loads pictures.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod protocol;

use glimpse_session::views::events::PICTURE_DROPPED;
use glimpse_session::{Session, SessionConfig};
use std::sync::Arc;
use tauri::{DragDropEvent, Emitter, Manager, WindowEvent};

/// The engine, shared by every command and the protocol handler.
pub struct AppState {
    /// The open session.
    pub session: Arc<Session>,
}

fn config() -> SessionConfig {
    let mut cfg = SessionConfig::new(glimpse_library::default_dir());
    // The model: a manifest name or a folder (tests point it at the repository's test models).
    if let Some(m) = std::env::var_os("GLIMPSE_MODEL").filter(|m| !m.is_empty()) {
        cfg.model = Some(m.to_string_lossy().into_owned());
    }
    if let Ok(url) = std::env::var("GLIMPSE_MODEL_BASE_URL") {
        cfg.model_base_url = Some(url);
    }
    cfg
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Caught decoder panics are one log line, never a backtrace on the terminal.
    glimpse_clip::decode::log_panics();
    tauri::Builder::default()
        // Opening Glimpse again (its icon clicked while the window is open) brings that window
        // forward: a second window would only find its library in use. Registered first, so a
        // second process exits before it sets anything up.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tracing::info!("Glimpse was opened again; showing the open window");
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .register_asynchronous_uri_scheme_protocol(protocol::SCHEME, protocol::handle)
        // A drop as the OS handed it over: the shell keeps the paths, the page gets tokens
        // (a search by a dropped picture names the token, never a path).
        .on_window_event(|window, event| {
            if let WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
                let Some(state) = window.try_state::<AppState>() else {
                    return;
                };
                let files = state.session.remember_drop(paths);
                if let Err(e) = window.emit_to(window.label(), PICTURE_DROPPED, files) {
                    tracing::warn!("cannot tell the page of a drop: {e}");
                }
            }
        })
        .setup(|app| {
            let handle = app.handle().clone();
            let session = Arc::new(Session::new(
                config(),
                Arc::new(move |event| {
                    // A window that is gone only means nobody is listening.
                    let _ = handle.emit(event.name(), event.payload());
                }),
            ));
            if session.model_state().ready {
                // Loading the model takes a moment; the page's first call waits for it.
                let s = session.clone();
                std::thread::spawn(move || {
                    if let Err(e) = s.start() {
                        tracing::error!("cannot start: {e}");
                    }
                });
            }
            app.manage(AppState { session });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::roots,
            commands::add_picked_folder,
            commands::add_typed_folder,
            commands::remove_root,
            commands::pause_indexing,
            commands::resume_indexing,
            commands::search,
            commands::photo,
            commands::tags,
            commands::formats,
            commands::default_labels,
            commands::tag_folder,
            commands::reveal,
            commands::open_photo,
            commands::fetch_model,
            commands::picture_types,
            commands::stop_auto_tag,
            commands::copy_paths,
            commands::folders,
            commands::rename_tag,
            commands::delete_tag,
            commands::open_map,
            commands::export_photos,
            commands::set_index_threads,
            commands::set_read_text,
            commands::duplicates,
            commands::trash_photos,
            commands::tag_photos,
            commands::untag_photos,
            commands::reveal_photos,
            commands::copy_image,
            commands::models,
            commands::set_model,
        ])
        .build(tauri::generate_context!())?
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                app.state::<AppState>().session.shutdown();
            }
        });
    Ok(())
}
