//! `glimpse embed image|text`: CLIP embeddings as JSON lines, for scripts.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use glimpse_clip::encode::{EmbedError, TextEncoder};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::{DeviceArg, EncoderArgs, ModelArg};
use crate::common::{load_runtime, open_image, report_provider, resolve_model, threads_or_all};
use crate::Cli;

/// `glimpse embed`.
#[derive(Args)]
pub(crate) struct EmbedCmd {
    #[command(subcommand)]
    what: EmbedWhat,
}

#[derive(Subcommand)]
enum EmbedWhat {
    /// Embed image files: `{"path": ..., "embedding": [...]}` or `{"path": ..., "error": ...}`.
    Image {
        #[command(flatten)]
        encoder: EncoderArgs,
        /// Image files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Embed captions: `{"text": ..., "embedding": [...]}`.
    Text {
        #[command(flatten)]
        model: ModelArg,
        #[command(flatten)]
        device: DeviceArg,
        /// Captions.
        #[arg(required = true)]
        texts: Vec<String>,
    },
}

/// Prints one JSON line per picture or caption.
pub(crate) fn run(cli: &Cli, cmd: &EmbedCmd) -> Result<ExitCode> {
    match &cmd.what {
        EmbedWhat::Image { encoder, paths } => image(cli, encoder, paths),
        EmbedWhat::Text {
            model,
            device,
            texts,
        } => text(cli, model, device, texts),
    }
}

/// One line per path, in the order given, whatever order the decoders finish in.
fn image(cli: &Cli, encoder: &EncoderArgs, paths: &[PathBuf]) -> Result<ExitCode> {
    let files = resolve_model(cli, &encoder.model.named_or_default())?;
    let enc = open_image(cli, &files, &encoder.device, encoder.batch)?;
    let threads = threads_or_all(encoder.threads);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;
    let mut ready: BTreeMap<usize, serde_json::Value> = BTreeMap::new();
    let mut next = 0usize;
    let mut write_err: Option<std::io::Error> = None;
    enc.embed_files(paths, threads, |i, r| {
        let path = paths[i].to_string_lossy().into_owned();
        let line = match r {
            Ok(v) => serde_json::json!({"path": path, "embedding": v}),
            Err(e) => {
                failed += 1;
                let msg = match &e {
                    EmbedError::Decode(d) => d.to_string(),
                    EmbedError::Encode(x) => x.to_string(),
                };
                serde_json::json!({"path": path, "error": msg})
            }
        };
        ready.insert(i, line);
        while let Some(line) = ready.remove(&next) {
            if write_err.is_none() {
                if let Err(e) = writeln!(out, "{line}") {
                    write_err = Some(e);
                }
            }
            next += 1;
        }
    });
    if let Some(e) = write_err {
        return Err(e).context("writing results");
    }
    out.flush().ok();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn text(cli: &Cli, model: &ModelArg, device: &DeviceArg, texts: &[String]) -> Result<ExitCode> {
    let files = resolve_model(cli, &model.named_or_default())?;
    let rt = load_runtime(cli)?;
    let enc = TextEncoder::open_with(&rt.env, &files, &device.options())?;
    report_provider(cli.quiet, "text", &enc.selection);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vecs = enc.embed(&refs)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (t, v) in texts.iter().zip(vecs) {
        writeln!(out, "{}", serde_json::json!({"text": t, "embedding": v}))?;
    }
    Ok(ExitCode::SUCCESS)
}
