//! `glimpse dupes`: groups of copies with a suggested keeper. Argument parsing and printing
//! only; the engine's `dupes` module does the work.

use anyhow::Result;
use clap::Args;
use glimpse_library::catalog::PhotoInfo;
use std::io::Write;
use std::process::ExitCode;

use crate::args::ModelArg;
use crate::common::{library_model, open_library};
use crate::find::FilterArgs;
use crate::Cli;

/// `glimpse dupes`.
#[derive(Args)]
pub struct DupesCmd {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    filters: FilterArgs,
    /// One JSON object per group: `{"keeper", "why", "photos": [{"path", "score", ...}]}`.
    #[arg(long)]
    json: bool,
}

/// Prints the groups of copies, one block (or JSON object) per group.
pub(crate) fn run(cli: &Cli, cmd: &DupesCmd) -> Result<ExitCode> {
    let (files, _) = library_model(cli, &cmd.model)?;
    let lib = open_library(cli, &files)?;
    let opts = glimpse_query::dupes::DupeOptions::with_cosine(files.calibration.duplicate_cosine);
    let groups = glimpse_query::dupes::find(&lib, &cmd.filters.filter(), &opts)?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let size = |p: &PhotoInfo| match (p.width, p.height) {
        (Some(a), Some(b)) => format!("{a}x{b}"),
        _ => "?".into(),
    };
    for g in &groups {
        if cmd.json {
            writeln!(w, "{}", serde_json::to_string(g)?)?;
            continue;
        }
        writeln!(w, "{} copies, keep {}", g.photos.len(), g.keeper.display())?;
        for m in &g.photos {
            writeln!(
                w,
                "  {:.3}  {:>11}  {:>9}  {}",
                m.score,
                size(&m.photo),
                m.photo.size,
                m.photo.path.display()
            )?;
        }
    }
    if !cli.quiet && !cmd.json {
        eprintln!("glimpse: {} groups of copies", groups.len());
    }
    Ok(ExitCode::SUCCESS)
}
