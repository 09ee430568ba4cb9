//! `glimpse tag` and `glimpse tags`: auto-tag a folder's photos with labels, and the tags in
//! use. Argument parsing and printing only; the engine's `tags` module does the work.

use anyhow::{Context, Result};
use clap::Args;
use glimpse_clip::encode::TextEncoder;
use glimpse_query::search::TowerError;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::{DeviceArg, ModelArg};
use crate::common::{library_model, open_library, open_text};
use crate::Cli;

/// `glimpse tag`.
#[derive(Args)]
pub struct TagCmd {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    device: DeviceArg,
    /// The folder whose photos to tag (with its subfolders).
    folder: PathBuf,
    /// Labels, comma-separated (default: the built-in vocabulary plus your earlier labels).
    #[arg(long, value_delimiter = ',', conflicts_with = "labels_file")]
    labels: Vec<String>,
    /// A file with one label per line.
    #[arg(long)]
    labels_file: Option<PathBuf>,
    /// Smallest label probability that becomes a tag.
    #[arg(long, default_value_t = glimpse_query::tags::DEFAULT_THRESHOLD)]
    threshold: f32,
    /// One JSON object per photo: `{"path", "tags": [{"label", "score"}]}`.
    #[arg(long)]
    json: bool,
    /// Stop tagging the photos that arrive in the folder (and its subfolders) later; the
    /// tags given so far stay.
    #[arg(long, conflicts_with_all = ["labels", "labels_file", "json"])]
    stop: bool,
}

/// `glimpse tags`.
#[derive(Args)]
pub(crate) struct TagsCmd {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Tags a folder's photos, prints the counts (or each photo's tags) and keeps tagging arrivals.
pub(crate) fn tag(cli: &Cli, cmd: &TagCmd) -> Result<ExitCode> {
    let (files, _) = library_model(cli, &cmd.model)?;
    let mut lib = open_library(cli, &files)?;
    let folder = cmd
        .folder
        .canonicalize()
        .unwrap_or_else(|_| cmd.folder.clone());
    if cmd.stop {
        let n = lib.forget_tag_rules(&folder)?;
        if !cli.quiet {
            if n == 0 {
                eprintln!("glimpse: {} was not auto-tagged", folder.display());
            } else {
                eprintln!(
                    "glimpse: photos that arrive in {} are no longer auto-tagged (its tags stay)",
                    folder.display()
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let labels: Vec<String> = if let Some(f) = &cmd.labels_file {
        std::fs::read_to_string(f)
            .with_context(|| format!("cannot read labels from {}", f.display()))?
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").to_string())
            .collect()
    } else if !cmd.labels.is_empty() {
        cmd.labels.clone()
    } else {
        glimpse_query::tags::default_labels(&lib)?
    };
    let mut text: Option<TextEncoder> = None;
    let mut embed = |texts: &[String]| -> std::result::Result<Vec<Vec<f32>>, TowerError> {
        if text.is_none() {
            // The whole chain, as the user would read it from any other command.
            text = Some(open_text(cli, &files, &cmd.device).map_err(|e| format!("{e:#}"))?);
        }
        let enc = text.as_ref().ok_or("no text encoder")?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        Ok(enc.embed(&refs)?)
    };
    let opts = glimpse_query::tags::TagOptions {
        threshold: cmd.threshold,
        min_cosine: files.calibration.relevance_floor,
    };
    let report = glimpse_query::tags::tag_folder(&mut lib, &folder, &labels, &opts, &mut embed)?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    if cmd.json {
        for (info, tags) in &report.per_photo {
            let tags: Vec<serde_json::Value> = tags
                .iter()
                .map(|(l, s)| serde_json::json!({"label": l, "score": s}))
                .collect();
            writeln!(
                w,
                "{}",
                serde_json::json!({"path": info.path.to_string_lossy(), "tags": tags})
            )?;
        }
    } else {
        for (label, n) in report.counts.iter().filter(|c| c.1 > 0) {
            writeln!(w, "{n:>7}  {label}")?;
        }
    }
    if !cli.quiet {
        eprintln!(
            "glimpse: tagged {} of {} photos ({} labels, {} newly embedded; no photo re-encoded)",
            report.tagged,
            report.photos,
            report.counts.len(),
            report.labels_embedded
        );
        eprintln!(
            "glimpse: photos that arrive in {} later get these labels too (`glimpse tag --stop` \
             ends that)",
            folder.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the tags in use with their photo counts.
pub(crate) fn tags(cli: &Cli, cmd: &TagsCmd) -> Result<ExitCode> {
    let records = glimpse_library::Records::open(&cli.library_dir())?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for (label, n) in records.tag_counts()? {
        if cmd.json {
            writeln!(w, "{}", serde_json::json!({"tag": label, "photos": n}))?;
        } else {
            writeln!(w, "{n:>7}  {label}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
