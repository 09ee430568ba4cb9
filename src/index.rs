//! `glimpse index`: add photo folders to the library and index them (new and changed files
//! only). Also the index job `watch` repeats.

use anyhow::{Context, Result};
use clap::Args;
use glimpse_clip::encode::LazyImageEncoder;
use glimpse_library::pipeline::Control;
use glimpse_library::Library;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::EncoderArgs;
use crate::common::{
    library_model, load_ocr_models, load_runtime_offline, report_image_provider, threads_or_all,
};
use crate::{progress, Cli};
use glimpse_ocr::Reader;

/// `glimpse index`.
#[derive(Args)]
pub(crate) struct IndexCmd {
    #[command(flatten)]
    encoder: EncoderArgs,
    #[command(flatten)]
    text: TextArgs,
    /// Photo folders (added to the library's roots).
    roots: Vec<PathBuf>,
}

/// Whether the words in pictures are read after indexing.
#[derive(Args)]
pub(crate) struct TextArgs {
    /// Don't read the words in pictures this time (they are read by a later run).
    #[arg(long, env = "GLIMPSE_NO_TEXT", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::FalseyValueParser::new())]
    no_text: bool,
    /// Read the words in this library's pictures, or not, from now on (remembered; on by
    /// default: reading text costs several times what indexing a picture does).
    #[arg(long, value_name = "on|off", value_parser = parse_switch)]
    read_text: Option<bool>,
}

fn parse_switch(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("expected on or off, not {other:?}")),
    }
}

/// Indexes the folders given, else the library's roots.
pub(crate) fn run(cli: &Cli, cmd: &IndexCmd) -> Result<ExitCode> {
    let mut enc = IndexEncoder::new(cli, &cmd.encoder)?;
    let mut lib = enc.open_library(cli)?;
    let roots: Vec<PathBuf> = if cmd.roots.is_empty() {
        lib.records().root_paths()?
    } else {
        cmd.roots.clone()
    };
    if roots.is_empty() {
        anyhow::bail!("no photo folders: give some, e.g. `glimpse index ~/Pictures`");
    }
    let mut text = TextPass::new(cli, &cmd.encoder, &cmd.text, &lib)?;
    run_index(
        cli,
        &mut lib,
        &enc,
        &roots,
        threads_or_all(cmd.encoder.threads),
    )?;
    text.run(cli, &mut lib)?;
    Ok(ExitCode::SUCCESS)
}

/// The words-in-pictures pass of `index` and `watch`, run after each indexing job; its reader is
/// opened the first time there is text to read (the OCR models may have to be downloaded).
pub(crate) struct TextPass {
    device: glimpse_clip::device::DeviceOptions,
    reader: Option<Reader>,
    /// Off for this run (`--no-text`); the library's own switch is asked at each run.
    off: bool,
}

impl TextPass {
    /// Applies `--read-text` to the library and decides whether this run reads text.
    pub(crate) fn new(
        cli: &Cli,
        encoder: &EncoderArgs,
        args: &TextArgs,
        lib: &Library,
    ) -> Result<Self> {
        if let Some(on) = args.read_text {
            lib.records().set_read_text(on)?;
            if !cli.quiet {
                let now = if on { "on" } else { "off" };
                eprintln!("glimpse: reading the words in pictures is {now} for this library");
            }
        }
        Ok(TextPass {
            device: encoder.device.options(),
            reader: None,
            off: args.no_text,
        })
    }

    /// Reads the words in the pictures not read yet, with a progress bar, and says what it found.
    pub(crate) fn run(&mut self, cli: &Cli, lib: &mut Library) -> Result<()> {
        if self.off || !lib.text_to_read()? {
            return Ok(());
        }
        let reader = match &mut self.reader {
            Some(r) => r,
            None => {
                let rt =
                    load_runtime_offline(cli.offline).context("ONNX Runtime is not available")?;
                let models = load_ocr_models(cli)?;
                let r = Reader::open(&rt.env, &models, &self.device)
                    .context("cannot open the OCR models")?;
                self.reader.insert(r)
            }
        };
        let pb = progress::index_bar(cli.quiet);
        let summary = lib.read_text(reader, &Control::default(), &mut |p| {
            pb.set_length(p.total as u64);
            pb.set_position(p.done as u64);
            if let Some(c) = &p.current {
                pb.set_message(format!("reading text: {}", c.to_string_lossy()));
            }
        })?;
        pb.finish_and_clear();
        if !cli.quiet {
            let p = &summary.progress;
            eprintln!(
                "glimpse: read the text in {} photos: {} show text, {} failed; {:.1} photos/s",
                p.done, p.with_text, p.failed, p.rate
            );
            if summary.stopped_reading > 0 {
                eprintln!(
                    "glimpse: {} picture(s) stopped Glimpse twice while their text was read \
                     and are not read again",
                    summary.stopped_reading
                );
            }
        }
        Ok(())
    }
}

/// The image encoder of an indexing command, opened the first time a scan finds photos to
/// encode: re-indexing an unchanged library then loads neither ONNX Runtime nor the model (a
/// second and hundreds of MB on a CPU, CUDA's start-up and GPU memory on a GPU).
pub(crate) struct IndexEncoder {
    lazy: LazyImageEncoder,
    /// The model as named (or remembered), which the library records.
    model: String,
}

impl IndexEncoder {
    pub(crate) fn new(cli: &Cli, args: &EncoderArgs) -> Result<Self> {
        let (files, model) = library_model(cli, &args.model)?;
        let (offline, quiet) = (cli.offline, cli.quiet);
        let lazy = LazyImageEncoder::loading_runtime(
            move || load_runtime_offline(offline).map(|rt| rt.env),
            files,
            args.device.options(),
        )
        .with_batch(args.batch)
        .on_open(move |enc| report_image_provider(quiet, enc));
        Ok(IndexEncoder { lazy, model })
    }

    /// Opens the library for this model: with the embedding width the catalog recorded for
    /// it, or, for a model it has not seen, the one its graph declares (which opens it now).
    pub(crate) fn open_library(&mut self, cli: &Cli) -> Result<Library> {
        let dir = cli.library_dir();
        let name = self.lazy.files().name.clone();
        let recorded = glimpse_library::Records::open(&dir)
            .with_context(|| format!("cannot open library {}", dir.display()))?
            .width_of(&name)?;
        let dim = match recorded {
            Some(dim) => dim,
            None => self.lazy.get()?.dim(),
        };
        self.lazy.expect_width(dim);
        let mut rebuilding = progress::rebuild_bar(cli.quiet);
        let mut lib = Library::open_reporting(&dir, &name, dim, &mut rebuilding)
            .with_context(|| format!("cannot open library {}", dir.display()))?;
        lib.remember_model(&self.model)?;
        // Rows found damaged after the open are rebuilt by the job's next change: said too.
        lib.watch_rebuilds(progress::rebuild_bar(cli.quiet));
        Ok(lib)
    }
}

/// One index job over `roots`: the scan, the encoder if photos need it, the pipeline with a
/// bar, then a summary on stderr.
pub(crate) fn run_index(
    cli: &Cli,
    lib: &mut Library,
    encoder: &IndexEncoder,
    roots: &[PathBuf],
    threads: usize,
) -> Result<glimpse_library::Summary> {
    let control = Control::default();
    let plan = lib.plan(roots, &control)?;
    let enc = if plan.to_encode() > 0 {
        Some(encoder.lazy.get()?)
    } else {
        None
    };
    let pb = progress::index_bar(cli.quiet);
    let summary = lib.index_planned(plan, enc.as_deref(), threads, &control, &mut |p| {
        pb.set_length(p.total as u64);
        pb.set_position(p.done as u64);
        if let Some(c) = &p.current {
            pb.set_message(c.to_string_lossy().into_owned());
        }
    })?;
    pb.finish_and_clear();
    if !cli.quiet {
        report_summary(&summary, threads);
    }
    Ok(summary)
}

/// What an index job did, on stderr.
fn report_summary(summary: &glimpse_library::Summary, threads: usize) {
    let p = &summary.progress;
    eprintln!(
        "glimpse: {} photos scanned: {} unchanged, {} queued ({} encoded, {} failed), {} unsupported, {} removed; {:.1} photos/s",
        summary.scanned,
        summary.unchanged,
        summary.queued,
        p.encoded,
        p.failed,
        summary.unsupported,
        summary.removed,
        p.rate
    );
    let t = &summary.timing;
    if p.encoded > 0 {
        let spent = t
            .encode_thread_cpu
            .map(|c| format!(", {c:.1} CPU-s on its thread"))
            .unwrap_or_default();
        eprintln!(
            "glimpse: {:.1} s in the pipeline: encoder busy {:.1} s{spent} (+ {:.1} s \
             gathering batches), catalog {:.1} s, graph {:.1} s on {} threads beside it, \
             decoding {:.1} CPU-s on {threads} threads",
            t.wall, t.encode, t.stage, t.commit, summary.graph, summary.graph_threads, t.decode_cpu
        );
    }
    if summary.stopped_reading > 0 {
        eprintln!(
            "glimpse: {} file(s) stopped Glimpse twice while being read and are marked \
             failed (`glimpse status --files` names them)",
            summary.stopped_reading
        );
    }
    if summary.tried_alone > 0 {
        eprintln!(
            "glimpse: {} file(s) that were being read when Glimpse last stopped were read \
             one at a time",
            summary.tried_alone
        );
    }
    if summary.metadata_read > 0 {
        eprintln!(
            "glimpse: read the dates, cameras and places of {} photos indexed before \
             Glimpse read them",
            summary.metadata_read
        );
    }
    if summary.auto_tagged > 0 {
        eprintln!(
            "glimpse: {} new or changed photos went through their folder's auto-tag",
            summary.auto_tagged
        );
    }
    if summary.kept_tags > 0 {
        eprintln!(
            "glimpse: {} moved or renamed photos kept their tags",
            summary.kept_tags
        );
    }
    for r in &summary.offline_roots {
        eprintln!(
            "glimpse: warning: {} is offline (kept, not purged)",
            r.display()
        );
    }
}
