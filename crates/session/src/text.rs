//! Reading the words in pictures for the window: where the session's OCR models come from, the
//! reader opened the first time there is text to read, and the progress the window shows while
//! the indexer reads (the pass itself is [`glimpse_library::Library::read_text`]).

use crate::views::{ProgressPhase, ProgressView};
use glimpse_clip::device::DeviceOptions;
use glimpse_clip::runtime::RuntimeOptions;
use glimpse_clip::DownloadProgress;
use glimpse_library::ocr::TextPassProgress;
use glimpse_ocr::{OcrModelFiles, Reader};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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

    /// The reader, opening it the first time (telling `fetching` how a download of the models
    /// goes, if they must be fetched); the error says why text cannot be read.
    pub(crate) fn get(
        &mut self,
        fetching: &mut dyn FnMut(DownloadProgress),
    ) -> Result<&Reader, String> {
        let opened = self.opened.get_or_insert_with(|| {
            let files = match &self.models {
                OcrModels::Off => return Err("reading text is off in this session".into()),
                OcrModels::Folder(dir) => OcrModelFiles::in_folder(dir),
                OcrModels::Locate => glimpse_ocr::models::locate(&self.runtime, fetching),
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

/// What the window is told of the models' download before the first text pass: the first
/// report starts the card, then one every `every` and the last, so a fast link does not flood
/// the window with events.
pub(crate) struct FetchReports {
    started: Instant,
    every: Duration,
    last: Option<Instant>,
}

impl FetchReports {
    pub(crate) fn new(every: Duration) -> Self {
        FetchReports {
            started: Instant::now(),
            every,
            last: None,
        }
    }

    /// The card's figures for `p` (bytes, and bytes a second since the download started), and
    /// whether they start the card; `None` when too soon after the last report.
    pub(crate) fn report(&mut self, p: &DownloadProgress) -> Option<(bool, ProgressView)> {
        let first = self.last.is_none();
        let end = p.total == Some(p.done);
        if !first && !end && self.last.is_some_and(|at| at.elapsed() < self.every) {
            return None;
        }
        self.last = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            p.done as f64 / secs
        } else {
            0.0
        };
        let (done, total) = (p.done, p.total.unwrap_or(0));
        let view = ProgressView {
            phase: ProgressPhase::TextModels,
            done: usize::try_from(done).unwrap_or(usize::MAX),
            total: usize::try_from(total).unwrap_or(usize::MAX),
            rate,
            eta_secs: (rate > 0.0 && total > done).then(|| (total - done) as f64 / rate),
            ..ProgressView::default()
        };
        Some((first, view))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_starts_the_card_then_reports_at_most_every_interval_and_its_end() {
        let mut reports = FetchReports::new(Duration::from_secs(3600));
        let at = |done, total| DownloadProgress { done, total };
        let (first, view) = reports.report(&at(0, Some(15_000_000))).unwrap();
        assert!(first);
        assert_eq!(view.phase, ProgressPhase::TextModels);
        assert_eq!((view.done, view.total), (0, 15_000_000));
        assert_eq!(view.eta_secs, None, "no rate yet, no time left");
        assert!(
            reports.report(&at(1_000_000, Some(15_000_000))).is_none(),
            "too soon"
        );
        let (first, view) = reports.report(&at(15_000_000, Some(15_000_000))).unwrap();
        assert!(!first, "the end is always told");
        assert_eq!(view.done, 15_000_000);
        assert!(view.rate > 0.0);
        assert_eq!(view.eta_secs, None, "nothing left");

        let mut reports = FetchReports::new(Duration::ZERO);
        reports.report(&at(0, None)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let (_, view) = reports.report(&at(4_000, None)).unwrap();
        assert_eq!(view.total, 0, "a size the server did not say is 0");
        assert!(view.rate > 0.0 && view.eta_secs.is_none(), "{view:?}");
        let mut reports = FetchReports::new(Duration::ZERO);
        reports.report(&at(0, Some(10_000))).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let (_, view) = reports.report(&at(5_000, Some(10_000))).unwrap();
        let eta = view.eta_secs.unwrap();
        assert!(
            (eta - 5_000.0 / view.rate).abs() < 1e-9,
            "{eta} s left at {} B/s",
            view.rate
        );
    }
}
