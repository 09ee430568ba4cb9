//! `glimpse models`: the downloadable models, or fetching one.

use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

use crate::Cli;

/// `glimpse models`.
#[derive(Args)]
pub(crate) struct ModelsCmd {
    /// Download this model now (a name from the list).
    #[arg(long)]
    fetch: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Lists the catalogue of models, or fetches one and prints its folder.
pub(crate) fn run(cli: &Cli, cmd: &ModelsCmd) -> Result<ExitCode> {
    if let Some(name) = &cmd.fetch {
        let dir = crate::common::ensure_model(cli, name)?;
        println!("{}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let models = glimpse_clip::model::manifest::models();
    if cmd.json {
        for m in models {
            println!("{}", serde_json::to_string(m)?);
        }
    } else {
        for m in models {
            println!("{}", m.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}
