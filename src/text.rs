//! `glimpse text PATH...`: what a picture says, as JSON lines with each line's box and
//! confidence, for scripts and for checking what the library's OCR pass stores.

use anyhow::{Context, Result};
use clap::Args;
use glimpse_clip::decode::{decode_file, DecodeOptions};
use glimpse_ocr::Reader;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::DeviceArg;
use crate::common::{load_ocr_models, load_runtime};
use crate::Cli;

/// `glimpse text`.
#[derive(Args)]
pub(crate) struct TextCmd {
    #[command(flatten)]
    device: DeviceArg,
    /// Picture files: `{"path": ..., "lines": [{"text", "box", "confidence"}]}` or
    /// `{"path": ..., "error": ...}`, one line each, in the order given.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Prints one JSON line per picture; exits 1 when any picture could not be read.
pub(crate) fn run(cli: &Cli, cmd: &TextCmd) -> Result<ExitCode> {
    let rt = load_runtime(cli)?;
    let models = load_ocr_models(cli)?;
    let reader = Reader::open(&rt.env, &models, &cmd.device.options())
        .context("cannot open the OCR models")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;
    for path in &cmd.paths {
        let shown = path.to_string_lossy();
        let line = match decode_file(path, DecodeOptions::full())
            .map_err(|e| e.to_string())
            .and_then(|d| reader.read(&d.image).map_err(|e| e.to_string()))
        {
            Ok(lines) => {
                let lines: Vec<_> = lines
                    .iter()
                    .map(|l| {
                        serde_json::json!({
                            "text": l.text,
                            "box": l.quad,
                            "confidence": l.confidence,
                        })
                    })
                    .collect();
                serde_json::json!({"path": shown, "lines": lines})
            }
            Err(e) => {
                failed += 1;
                serde_json::json!({"path": shown, "error": e})
            }
        };
        writeln!(out, "{line}").context("writing results")?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
