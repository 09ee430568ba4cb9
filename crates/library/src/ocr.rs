//! The OCR pass: once a job's photos are searchable by meaning, the words in their pictures are
//! read ([`glimpse_ocr::Reader`]) and stored, so that a search for a shop on a receipt or the
//! words on a sign finds the picture. It never delays a photo becoming searchable (it runs after
//! the indexing job, on what the catalog says is unread), it resumes where it stopped, and a
//! picture that kills the process while its text is read is tried once more, then recorded as
//! failed, so no picture stops the pass for good.

use crate::catalog::{TextLineRow, TextOutcome};
use crate::pipeline::Control;
use crate::{Library, LibraryError};
use glimpse_clip::decode::{decode_file, DecodeOptions};
use glimpse_ocr::{Reader, TextLine, OCR_VERSION};
use std::path::PathBuf;
use std::time::Instant;

/// The setting naming the picture being read and the how-manieth time (`"<id> <attempt>"`), so
/// that a process that dies while reading it pins the death on that picture.
const READING_SETTING: &str = "text_reading";

/// Why a picture's text was not read: the process died twice while reading it.
pub const STOPPED_WHILE_READING_TEXT: &str =
    "Glimpse stopped twice while reading the text in this picture";

/// Pictures asked of the catalog at a time; each is stored as soon as it is read.
const BATCH: usize = 32;

/// The long side, in pixels, of the copy the detector first looks at: a picture in which it finds
/// no text at this size is recorded as showing none, for a few percent of a full read's cost
/// (`benches/RESULTS.md` has what this gate costs and misses).
pub const PROBE_SIDE: u32 = 320;

/// JPEGs are decoded DCT-scaled while their short side stays at least twice this: 736 px, the
/// short side the reference's detector works at, so a 12 MP photo arrives at 1000 × 750 (the
/// scale the CLIP pass and the preview use too) instead of 2000 × 1500, a quarter of the pixels
/// to search for text. Text under about 40 px tall in such a photo is lost to that.
const DECODE_FOR: u32 = 368;

/// Where the pass stands, for progress bars and the window.
#[derive(Debug, Clone, Default)]
pub struct TextPassProgress {
    /// Pictures read in this pass (failures included).
    pub done: usize,
    /// Pictures this pass has to read.
    pub total: usize,
    /// Of those read, the ones that show text.
    pub with_text: usize,
    /// Of those read, the ones that could not be read.
    pub failed: usize,
    /// Of those read, the ones the first look ([`PROBE_SIDE`]) found no text in, so they were
    /// not read in full.
    pub probed_out: usize,
    /// Pictures read per second since the pass started.
    pub rate: f64,
    /// The picture most recently read.
    pub current: Option<PathBuf>,
}

/// What a pass did, for the summary line.
#[derive(Debug, Clone, Default)]
pub struct TextPassSummary {
    /// The pass's final progress.
    pub progress: TextPassProgress,
    /// Pictures recorded as failed because the process died twice while reading each.
    pub stopped_reading: usize,
    /// Whether the pass was cancelled before it read everything.
    pub cancelled: bool,
    /// Wall seconds of the pass.
    pub wall: f64,
}

impl Library {
    /// Whether a text pass would read anything: reading is on for this library and a searchable
    /// picture is unread by the current reader. Asked before the OCR models are loaded.
    pub fn text_to_read(&self) -> Result<bool, LibraryError> {
        Ok(self.records.read_text()? && !self.photos_needing_text(OCR_VERSION, 0, 1)?.is_empty())
    }

    /// Reads the words in every searchable picture the current text reader has not read yet,
    /// storing each picture's lines as soon as they are read, steered by `control` like an
    /// indexing job. Does nothing when the library's reading of text is off
    /// ([`crate::Records::read_text`]). Only the writer reads.
    pub fn read_text(
        &mut self,
        reader: &Reader,
        control: &Control,
        progress: &mut dyn FnMut(&TextPassProgress),
    ) -> Result<TextPassSummary, LibraryError> {
        self.must_write()?;
        let mut summary = TextPassSummary::default();
        if !self.records.read_text()? {
            return Ok(summary);
        }
        let started = Instant::now();
        let catalog = &self.records.catalog;
        // The picture a process that died was reading: once more, then never again.
        let mut retry = None;
        if let Some((id, attempt)) = catalog
            .setting(READING_SETTING)?
            .as_deref()
            .and_then(parse_reading)
        {
            if attempt >= 2 {
                let failed = TextOutcome::Failed(STOPPED_WHILE_READING_TEXT.to_string());
                summary.stopped_reading += self
                    .records
                    .catalog
                    .store_text(OCR_VERSION, &[(id, failed)])?;
            } else {
                retry = Some((id, attempt));
            }
        }
        let counts = self.records.text_progress(OCR_VERSION)?;
        let p = &mut summary.progress;
        p.total = counts.total.saturating_sub(counts.read) as usize;
        progress(p);
        let mut after = 0;
        'pass: loop {
            let batch = self.photos_needing_text(OCR_VERSION, after, BATCH)?;
            let Some((last, _)) = batch.last() else {
                break;
            };
            after = *last;
            let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
            let infos = self.records.photo_infos(&ids)?;
            for (id, path) in batch {
                // The preview the indexer wrote from the pixels it decoded, for the first look.
                let preview = infos
                    .get(&id)
                    .and_then(|i| i.content_hash.as_deref())
                    .map(|h| self.thumbs().path_for(h))
                    .filter(|p| p.is_file());
                if !control.wait_if_paused() {
                    summary.cancelled = true;
                    break 'pass;
                }
                let attempt = match retry {
                    Some((r, a)) if r == id => a + 1,
                    _ => 1,
                };
                let catalog = &self.records.catalog;
                catalog.set_setting(READING_SETTING, &format!("{id} {attempt}"))?;
                #[cfg(feature = "fault-injection")]
                crate::fault::while_reading_text(&path);
                let (outcome, probed_out) = read_picture(reader, &path, preview.as_deref());
                let p = &mut summary.progress;
                p.probed_out += usize::from(probed_out);
                match &outcome {
                    TextOutcome::Lines(lines) if !lines.is_empty() => p.with_text += 1,
                    TextOutcome::Lines(_) => {}
                    TextOutcome::Failed(why) => {
                        tracing::info!(path = %path.display(), "text not read: {why}");
                        p.failed += 1;
                    }
                }
                self.records
                    .catalog
                    .store_text(OCR_VERSION, &[(id, outcome)])?;
                let p = &mut summary.progress;
                p.done += 1;
                // Photos indexed while the pass runs join it.
                p.total = p.total.max(p.done);
                p.rate = p.done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                p.current = Some(path);
                progress(p);
            }
        }
        self.records.catalog.clear_setting(READING_SETTING)?;
        summary.wall = started.elapsed().as_secs_f64();
        Ok(summary)
    }
}

/// `"<id> <attempt>"` → (id, attempt); anything else (written by hand) is ignored.
fn parse_reading(value: &str) -> Option<(i64, u32)> {
    let (id, attempt) = value.split_once(' ')?;
    Some((id.parse().ok()?, attempt.parse().ok()?))
}

/// One picture's text, or why there is none to be had; and whether the first look alone
/// decided that it shows none. The first look is at `preview` when the indexer wrote one (the
/// pixels it decoded, a few milliseconds to read back instead of decoding the photo again), else
/// at the photo; the full read always decodes the photo.
fn read_picture(
    reader: &Reader,
    path: &std::path::Path,
    preview: Option<&std::path::Path>,
) -> (TextOutcome, bool) {
    let decode = || decode_file(path, DecodeOptions::for_model(DECODE_FOR));
    let mut decoded = None;
    let probed = match preview.map(|p| decode_file(p, DecodeOptions::full())) {
        Some(Ok(p)) => reader.probe(&p.image, PROBE_SIDE),
        // An unreadable preview is not the photo's fault: the photo is looked at instead.
        _ => match decode() {
            Ok(d) => reader.probe(&decoded.insert(d).image, PROBE_SIDE),
            Err(e) => return (TextOutcome::Failed(e.to_string()), false),
        },
    };
    match probed {
        Ok(probe) if probe.boxes.is_empty() => return (TextOutcome::Lines(Vec::new()), true),
        Ok(_) => {}
        Err(e) => return (TextOutcome::Failed(e.to_string()), false),
    }
    let decoded = match decoded.map_or_else(decode, Ok) {
        Ok(d) => d,
        Err(e) => return (TextOutcome::Failed(e.to_string()), false),
    };
    // Boxes are found on the decoded pixels; they are stored in the picture's own pixels.
    let scale_x = decoded.width as f32 / decoded.image.width().max(1) as f32;
    let scale_y = decoded.height as f32 / decoded.image.height().max(1) as f32;
    let outcome = match reader.read(&decoded.image) {
        Ok(lines) => TextOutcome::Lines(
            lines
                .into_iter()
                .map(|l| row(l, scale_x, scale_y))
                .collect(),
        ),
        Err(e) => TextOutcome::Failed(e.to_string()),
    };
    (outcome, false)
}

/// A reader's line in the catalog's terms, its box scaled to the full-size picture.
fn row(line: TextLine, scale_x: f32, scale_y: f32) -> TextLineRow {
    TextLineRow {
        text: line.text,
        quad: line.quad.map(|[x, y]| [x * scale_x, y * scale_y]),
        confidence: line.confidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reading_mark_is_read_back_and_junk_is_ignored() {
        assert_eq!(parse_reading("42 2"), Some((42, 2)));
        assert_eq!(parse_reading("42"), None);
        assert_eq!(parse_reading("x 1"), None);
    }
}
