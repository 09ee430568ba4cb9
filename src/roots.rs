//! `glimpse roots add|remove|list`: the library's photo folders.

use anyhow::Result;
use clap::{Args, Subcommand};
use glimpse_library::Library;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::Cli;

/// `glimpse roots`.
#[derive(Args)]
pub(crate) struct RootsCmd {
    #[command(subcommand)]
    action: RootsAction,
}

#[derive(Subcommand)]
enum RootsAction {
    /// Add folders (indexed by the next `index` or `watch`).
    Add {
        /// Folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Remove folders and their photos from the library (files on disk are untouched).
    Remove {
        /// Folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the folders.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// Adds, removes or lists the library's photo folders.
pub(crate) fn run(cli: &Cli, cmd: &RootsCmd) -> Result<ExitCode> {
    let records = glimpse_library::Records::open(&cli.library_dir())?;
    match &cmd.action {
        RootsAction::Add { paths } => {
            // A folder added above a root takes that root's photos in: not while an
            // indexer is writing them.
            let _writer = glimpse_library::lock::WriterLock::acquire(&cli.library_dir())?;
            for p in paths {
                let p = p.canonicalize().unwrap_or_else(|_| p.clone());
                let root = records.add_root(&p)?;
                if root.path == p {
                    println!("{}", p.display());
                } else {
                    println!(
                        "{} (already in the library, inside {})",
                        p.display(),
                        root.path.display()
                    );
                }
            }
        }
        RootsAction::Remove { paths } => {
            let models = records.models()?;
            let roots = records.roots()?;
            let mut unknown = 0;
            for p in paths {
                let p = p.canonicalize().unwrap_or_else(|_| p.clone());
                if !roots.iter().any(|r| r.path == p) {
                    // Removing part of a root would leave the rest half-known; say
                    // which folder holds it instead of "0 photos removed".
                    let inside = roots.iter().find(|r| p.starts_with(&r.path));
                    match inside {
                        Some(r) => eprintln!(
                            "glimpse: {} is not a library folder but inside {}, which is",
                            p.display(),
                            r.path.display()
                        ),
                        None => eprintln!(
                            "glimpse: {} is not a library folder (see `glimpse roots list`)",
                            p.display()
                        ),
                    }
                    unknown += 1;
                    continue;
                }
                match models.last() {
                    Some((name, dim)) => {
                        let mut rebuilding = crate::progress::rebuild_bar(cli.quiet);
                        let mut lib = Library::open_reporting(
                            &cli.library_dir(),
                            name,
                            *dim,
                            &mut rebuilding,
                        )?;
                        let n = lib.remove_root(&p)?;
                        println!("{} ({n} photos removed from the library)", p.display());
                    }
                    None => {
                        records.remove_root(&p)?;
                        println!("{}", p.display());
                    }
                }
            }
            if unknown > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        RootsAction::List { json } => {
            for r in records.roots()? {
                if *json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    let state = if r.online { "" } else { " (offline)" };
                    println!("{}{state}", r.path.display());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
