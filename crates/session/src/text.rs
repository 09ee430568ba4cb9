//! Reading the words in pictures for the window: where the session's OCR models come from, the
//! reader opened the first time there is text to read, and the progress the window shows while
//! the indexer reads (the pass itself is [`glimpse_library::Library::read_text`]).

use crate::views::{ProgressPhase, ProgressView};
use glimpse_clip::device::DeviceOptions;
use glimpse_clip::runtime::RuntimeOptions;
use glimpse_library::ocr::TextPassProgress;
use glimpse_ocr::{OcrModelFiles, Reader};
use std::path::PathBuf;

/// Where the session's OCR models come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OcrModels {
    /// The folder `GLIMPSE_OCR_MODELS` names, else Glimpse's cache, fetched into it when the
    /// runtime options allow downloads (the app's default).
    #[default]
    Locate,
    /// The three graphs in this folder.
    Folder(PathBuf),
    /// This session reads no text: a program that embeds the engine for other work, or a test
    /// about something else (reading text costs several times what indexing a picture does).
    Off,
}

/// The text reader of one engine, opened on first need: the models may have to be downloaded,
/// and a library with no text to read never loads them.
pub(crate) struct LazyReader {
    env: ort::environment::Environment,
    models: OcrModels,
    runtime: RuntimeOptions,
    device: DeviceOptions,
    /// The reader, or why it cannot be had (not tried again in this engine's life: without
    /// the models every job would try a download).
    opened: Option<Result<Reader, String>>,
}

impl LazyReader {
    /// A reader to be opened with `env` from `models` when first asked for.
    pub(crate) fn new(
        env: ort::environment::Environment,
        models: OcrModels,
        runtime: RuntimeOptions,
        device: DeviceOptions,
    ) -> Self {
        LazyReader {
            env,
            models,
            runtime,
            device,
            opened: None,
        }
    }

    /// Whether this session reads text at all.
    pub(crate) fn is_off(&self) -> bool {
        self.models == OcrModels::Off
    }

    /// The reader, opening it the first time; the error says why text cannot be read.
    pub(crate) fn get(&mut self) -> Result<&Reader, String> {
        let opened = self.opened.get_or_insert_with(|| {
            let files = match &self.models {
                OcrModels::Off => return Err("reading text is off in this session".into()),
                OcrModels::Folder(dir) => OcrModelFiles::in_folder(dir),
                OcrModels::Locate => glimpse_ocr::models::locate(&self.runtime, &mut |_| {}),
            }
            .map_err(|e| e.to_string())?;
            let reader =
                Reader::open(&self.env, &files, &self.device).map_err(|e| e.to_string())?;
            tracing::info!("text reader opened");
            Ok(reader)
        });
        opened
            .as_ref()
            .map_err(|e| format!("the words in photos are not read: {e}"))
    }
}

/// The window's view of the text pass: the same card as indexing, in its text phase.
pub(crate) fn progress_view(p: &TextPassProgress) -> ProgressView {
    ProgressView {
        phase: ProgressPhase::Text,
        done: p.done,
        total: p.total,
        failed: p.failed,
        with_text: p.with_text,
        rate: p.rate,
        eta_secs: (p.rate > 0.0).then(|| p.total.saturating_sub(p.done) as f64 / p.rate),
        current: p.current.as_ref().map(|c| c.display().to_string()),
        ..ProgressView::default()
    }
}
