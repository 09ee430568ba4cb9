//! `glimpse watch`: index the library's roots, then keep it in step with changes on disk
//! until stopped.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::EncoderArgs;
use crate::common::threads_or_all;
use crate::index::{run_index, IndexEncoder, TextArgs, TextPass};
use crate::Cli;

/// `glimpse watch`.
#[derive(Args)]
pub(crate) struct WatchCmd {
    #[command(flatten)]
    encoder: EncoderArgs,
    #[command(flatten)]
    text: TextArgs,
}

/// Indexes, then re-indexes the roots a change touches until stopped.
pub(crate) fn run(cli: &Cli, cmd: &WatchCmd) -> Result<ExitCode> {
    let mut enc = IndexEncoder::new(cli, &cmd.encoder)?;
    let mut lib = enc.open_library(cli)?;
    let roots: Vec<PathBuf> = lib.records().root_paths()?;
    if roots.is_empty() {
        anyhow::bail!("no photo folders yet: add some with `glimpse roots add DIR`");
    }
    let threads = threads_or_all(cmd.encoder.threads);
    let mut text = TextPass::new(cli, &cmd.encoder, &cmd.text, &lib)?;
    run_index(cli, &mut lib, &enc, &roots, threads)?;
    text.run(cli, &mut lib)?;
    let (mut watcher, offline) = glimpse_library::watch::Watcher::new(&roots)?;
    for r in offline {
        eprintln!(
            "glimpse: warning: {} is offline (kept, not purged)",
            r.display()
        );
    }
    if !cli.quiet {
        eprintln!(
            "glimpse: watching {} folder(s); stop with Ctrl-C",
            watcher.roots().len()
        );
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    // A drive unplugged or plugged back in, which no watch reports: looked at every few
    // seconds, then everything is indexed and watched again.
    let mut looks = glimpse_library::watch::RootLooks::default();
    let mut last_look: Option<std::time::Instant> = None;
    loop {
        if last_look.is_none_or(|t| t.elapsed() >= glimpse_library::watch::LOOK_EVERY) {
            last_look = Some(std::time::Instant::now());
            if looks.changed(&lib.records().roots()?) {
                run_index(cli, &mut lib, &enc, &roots, threads)?;
                text.run(cli, &mut lib)?;
                watcher = glimpse_library::watch::Watcher::new(&roots)?.0;
                continue;
            }
        }
        let idle = Some(std::time::Duration::from_secs(1));
        match watcher.next_batch_within(glimpse_library::watch::Debounce::default(), &stop, idle) {
            Some(batch) => {
                let touched = glimpse_library::watch::roots_touched(
                    &batch,
                    &roots,
                    &glimpse_library::scan::ScanOptions::skipping(lib.dir()),
                );
                if !touched.is_empty() {
                    run_index(cli, &mut lib, &enc, &touched, threads)?;
                    text.run(cli, &mut lib)?;
                }
            }
            None if stop.load(std::sync::atomic::Ordering::Relaxed) => break,
            None => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}
