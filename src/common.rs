//! What the commands share beyond their arguments: loading ONNX Runtime and models (with
//! download bars), the library's folder and model, and saying on stderr where encoders run.

use anyhow::{bail, Context, Result};
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_clip::runtime::{self, Runtime, RuntimeOptions};
use glimpse_library::Library;
use std::path::PathBuf;

use crate::args::{DeviceArg, ModelArg};
use crate::{progress, Cli};

/// The options ONNX Runtime is found (or, unless offline, downloaded) with.
fn runtime_options(offline: bool) -> RuntimeOptions {
    RuntimeOptions::default().with_download(!offline)
}

/// Finds and loads ONNX Runtime, drawing a bar while it downloads.
pub(crate) fn load_runtime(cli: &Cli) -> Result<Runtime> {
    load_runtime_offline(cli.offline).context("ONNX Runtime is not available")
}

/// [`load_runtime`] from the `--offline` flag alone, for code that outlives the borrow of
/// [`Cli`] (a lazily opened encoder).
pub(crate) fn load_runtime_offline(offline: bool) -> Result<Runtime, runtime::RuntimeError> {
    let mut bar = progress::download_bar(format!("ONNX Runtime {}", runtime::ORT_VERSION));
    runtime::load_with_progress(&runtime_options(offline), &mut bar)
}

/// The OCR models: the folder `GLIMPSE_OCR_MODELS` names, or the cache, fetched into it
/// unless offline (with a bar).
pub(crate) fn load_ocr_models(cli: &Cli) -> Result<glimpse_ocr::OcrModelFiles> {
    let mut bar = progress::download_bar("OCR models (PP-OCRv4)");
    glimpse_ocr::models::locate(&runtime_options(cli.offline), &mut bar)
        .context("the OCR models are not available")
}

/// A model folder for a name or folder, downloading what is missing unless offline (with a
/// bar per file unless quiet).
pub(crate) fn ensure_model(
    cli: &Cli,
    model: &str,
) -> Result<PathBuf, glimpse_clip::model::manifest::ManifestError> {
    let models_dir = glimpse_clip::model::manifest::default_models_dir();
    let allow = !cli.offline;
    if cli.quiet {
        glimpse_clip::model::manifest::ensure_model(model, &models_dir, allow, None, &mut |_, _| {})
    } else {
        let mut bars = progress::download_bars(model);
        glimpse_clip::model::manifest::ensure_model(model, &models_dir, allow, None, &mut bars)
    }
}

/// The model files of a name or folder, fetched first if need be.
pub(crate) fn resolve_model(cli: &Cli, model: &str) -> Result<ModelFiles> {
    let dir =
        ensure_model(cli, model).with_context(|| format!("model {model:?} is not available"))?;
    ModelFiles::open(&dir).with_context(|| format!("cannot use model folder {}", dir.display()))
}

/// The model files of a library command (see [`ModelArg::for_library`]) and the name or folder
/// they came from.
pub(crate) fn library_model(cli: &Cli, arg: &ModelArg) -> Result<(ModelFiles, String)> {
    let (model, remembered) = arg.for_library(cli)?;
    let files = resolve_model(cli, &model);
    let files = match remembered {
        true => files.with_context(|| {
            format!(
                "{} was last indexed with model {model:?}; name one with --model",
                cli.library_dir().display()
            )
        })?,
        false => files?,
    };
    Ok((files, model))
}

/// The library as indexed with `files`' model, for reading (its vector width comes from the
/// catalog).
pub(crate) fn open_library(cli: &Cli, files: &ModelFiles) -> Result<Library> {
    let dir = cli.library_dir();
    let Some(dim) = glimpse_library::Records::open(&dir)
        .with_context(|| format!("cannot open library {}", dir.display()))?
        .width_of(&files.name)?
    else {
        bail!(
            "no photos are indexed with model {} in {} yet: run `glimpse index --model {} <folder>` first",
            files.name,
            dir.display(),
            files.dir.display()
        );
    };
    let mut rebuilding = crate::progress::rebuild_bar(cli.quiet);
    Library::open_for_reading_reporting(&dir, &files.name, dim, &mut rebuilding)
        .with_context(|| format!("cannot open library {}", dir.display()))
}

/// Decoding threads: the number asked for, else one per core.
pub(crate) fn threads_or_all(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// The text encoder, with its provider reported.
pub(crate) fn open_text(
    cli: &Cli,
    files: &ModelFiles,
    device: &DeviceArg,
) -> Result<glimpse_clip::encode::TextEncoder> {
    let rt = load_runtime(cli)?;
    let enc = glimpse_clip::encode::TextEncoder::open_with(&rt.env, files, &device.options())?;
    report_provider(cli.quiet, "text", &enc.selection);
    Ok(enc)
}

/// The image encoder, with its provider reported.
pub(crate) fn open_image(
    cli: &Cli,
    files: &ModelFiles,
    device: &DeviceArg,
    batch: Option<usize>,
) -> Result<ImageEncoder> {
    let rt = load_runtime(cli)?;
    let mut enc = ImageEncoder::open_with(&rt.env, files, &device.options())?;
    if let Some(b) = batch {
        enc.set_batch(b);
    }
    report_image_provider(cli.quiet, &enc);
    Ok(enc)
}

/// Says where an encoder runs (unless `quiet`) and warns when it fell back from the device
/// asked for (always).
pub(crate) fn report_provider(quiet: bool, what: &str, sel: &glimpse_clip::device::Selection) {
    report_provider_with(quiet, what, sel, false);
}

/// [`report_provider`] for the image tower, which also says when it takes the crop's bytes.
pub(crate) fn report_image_provider(quiet: bool, enc: &ImageEncoder) {
    let bytes = enc.pixel_input() == glimpse_clip::encode::PixelInput::Bytes;
    report_provider_with(quiet, "image", &enc.selection, bytes);
}

fn report_provider_with(
    quiet: bool,
    what: &str,
    sel: &glimpse_clip::device::Selection,
    bytes: bool,
) {
    if let Some(w) = &sel.fallback {
        eprintln!("glimpse: warning: {w}");
    }
    if !quiet {
        let precision = match (sel.fp16, bytes) {
            (true, true) => " (fp16, normalising the pictures itself)",
            (true, false) => " (fp16)",
            (false, true) => " (normalising the pictures itself)",
            (false, false) => "",
        };
        eprintln!(
            "glimpse: {what} encoder running on {}{precision}",
            sel.provider
        );
    }
}
