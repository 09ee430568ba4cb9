//! `glimpse`: the command-line face of the engine. Parsing and printing only; every capability
//! lives in the library. This file holds the global flags and the dispatch; each command is a
//! module of its own.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod args;
mod common;
mod dupes;
mod embed;
mod find;
mod index;
mod models;
mod progress;
mod roots;
mod runtime;
mod status;
mod tags;
mod text;
mod watch;

/// Find photos on your own computer by describing them. Everything runs locally.
#[derive(Parser)]
#[command(name = "glimpse", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Never download anything (ONNX Runtime, models); fail with instructions instead.
    #[arg(long, global = true, env = "GLIMPSE_OFFLINE", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::FalseyValueParser::new())]
    pub(crate) offline: bool,
    /// Less output on stderr (no provider line, no progress bars).
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    /// Library folder (catalog, vector index, thumbnails); default: the platform data folder.
    #[arg(long, global = true, env = "GLIMPSE_HOME")]
    pub(crate) library: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The library folder this run works on: `--library`, else the platform data folder.
    pub(crate) fn library_dir(&self) -> std::path::PathBuf {
        self.library
            .clone()
            .unwrap_or_else(glimpse_library::default_dir)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print CLIP embeddings as JSON lines (one object per input).
    Embed(embed::EmbedCmd),
    /// Show which ONNX Runtime library is used and which execution providers it offers.
    Runtime(runtime::RuntimeCmd),
    /// Add photo folders to the library and index them (new and changed files only).
    Index(index::IndexCmd),
    /// Index the library's roots, then keep it in step with changes on disk until stopped.
    Watch(watch::WatchCmd),
    /// Manage the library's photo folders.
    Roots(roots::RootsCmd),
    /// What the library holds: roots, photos, indexed, failed (with reasons), vectors.
    Status(status::StatusCmd),
    /// Find photos by describing them: `glimpse search "dog on a red sofa -cat"`.
    Search(find::SearchCmd),
    /// Photos like a given one (a library photo or any picture file).
    Similar(find::SimilarCmd),
    /// The photos passing the filters, by date, with nothing to look for (`--tag beach`).
    List(find::ListCmd),
    /// Auto-tag a folder's photos with labels you name (no training, no re-encoding).
    Tag(tags::TagCmd),
    /// The tags in use, with how many photos carry each.
    Tags(tags::TagsCmd),
    /// Groups of copies (resized, re-compressed, slightly cropped), with a suggested keeper.
    Dupes(dupes::DupesCmd),
    /// List the downloadable models, or fetch one.
    Models(models::ModelsCmd),
    /// What pictures say: the lines of text in each, with boxes and confidence (JSON lines).
    Text(text::TextCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GLIMPSE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .without_time()
        .init();
    // Caught decoder panics are one log line, never a backtrace on the terminal.
    glimpse_clip::decode::log_panics();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("glimpse: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Embed(cmd) => embed::run(cli, cmd),
        Command::Runtime(cmd) => runtime::run(cli, cmd),
        Command::Index(cmd) => index::run(cli, cmd),
        Command::Watch(cmd) => watch::run(cli, cmd),
        Command::Roots(cmd) => roots::run(cli, cmd),
        Command::Status(cmd) => status::run(cli, cmd),
        Command::Search(cmd) => find::search(cli, cmd),
        Command::Similar(cmd) => find::similar(cli, cmd),
        Command::List(cmd) => find::list(cli, cmd),
        Command::Tag(cmd) => tags::tag(cli, cmd),
        Command::Tags(cmd) => tags::tags(cli, cmd),
        Command::Dupes(cmd) => dupes::run(cli, cmd),
        Command::Models(cmd) => models::run(cli, cmd),
        Command::Text(cmd) => text::run(cli, cmd),
    }
}
