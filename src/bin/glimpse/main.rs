//! `glimpse`: the command-line face of the engine. Parsing and printing only; every capability
//! lives in the library.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use glimpse::device::Device;
use glimpse::encode::{EmbedError, ImageEncoder, TextEncoder};
use glimpse::library::Library;
use glimpse::model::ModelFiles;
use glimpse::pipeline::Control;
use glimpse::runtime::{self, Runtime, RuntimeOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

mod find;

/// Find photos on your own computer by describing them. Everything runs locally.
#[derive(Parser)]
#[command(name = "glimpse", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Never download anything (ONNX Runtime, models); fail with instructions instead.
    #[arg(long, global = true, env = "GLIMPSE_OFFLINE", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::FalseyValueParser::new())]
    offline: bool,
    /// Less output on stderr (no provider line, no progress bars).
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    /// Library folder (catalog, vector index, thumbnails); default: the platform data folder.
    #[arg(long, global = true, env = "GLIMPSE_HOME")]
    library: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print CLIP embeddings as JSON lines (one object per input).
    Embed {
        #[command(subcommand)]
        what: EmbedWhat,
    },
    /// Show which ONNX Runtime library is used and which execution providers it offers.
    Runtime {
        #[command(flatten)]
        device: DeviceArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Add photo folders to the library and index them (new and changed files only).
    Index {
        #[command(flatten)]
        encoder: EncoderArgs,
        /// Photo folders (added to the library's roots).
        roots: Vec<PathBuf>,
    },
    /// Index the library's roots, then keep it in step with changes on disk until stopped.
    Watch {
        #[command(flatten)]
        encoder: EncoderArgs,
    },
    /// Manage the library's photo folders.
    Roots {
        #[command(subcommand)]
        action: RootsAction,
    },
    /// What the library holds: roots, photos, indexed, failed (with reasons), vectors.
    Status {
        /// The model whose vectors to report (default: the one the library was indexed with).
        #[arg(long, env = "GLIMPSE_MODEL")]
        model: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Print every stored embedding as a JSON line `{"path", "embedding"}` instead.
        #[arg(long)]
        dump_embeddings: bool,
        /// Also list every failed or unsupported file with its reason.
        #[arg(long)]
        files: bool,
        /// Also check the catalog's integrity and that no photo was encoded twice (reads the
        /// whole catalog: seconds on a large library).
        #[arg(long)]
        check: bool,
    },
    /// Find photos by describing them: `glimpse search "dog on a red sofa -cat"`.
    Search(find::SearchCmd),
    /// Photos like a given one (a library photo or any picture file).
    Similar(find::SimilarCmd),
    /// The photos passing the filters, by date, with nothing to look for (`--tag beach`).
    List(find::ListCmd),
    /// Auto-tag a folder's photos with labels you name (no training, no re-encoding).
    Tag(find::TagCmd),
    /// The tags in use, with how many photos carry each.
    Tags {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Groups of copies (resized, re-compressed, slightly cropped), with a suggested keeper.
    Dupes(find::DupesCmd),
    /// List the downloadable models, or fetch one.
    Models {
        /// Download this model now (a name from the list).
        #[arg(long)]
        fetch: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
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

/// What every image-encoding command takes: the model, where it runs, how many decoders.
#[derive(Args, Clone)]
struct EncoderArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    device: DeviceArg,
    /// Decoding threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Pictures per encoder run for dynamic-batch graphs (default: 16 on CPU, 256 on a GPU).
    #[arg(long)]
    batch: Option<usize>,
}

#[derive(Args, Clone)]
pub(crate) struct DeviceArg {
    /// Where the encoders run: auto, cpu, cuda, coreml or directml.
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    pub(crate) device: Device,
    /// Which GPU to use (CUDA device number).
    #[arg(long, default_value_t = 0, env = "GLIMPSE_GPU_ID")]
    gpu_id: i32,
    /// Cap on GPU memory for the encoders, in MiB (default: what they need).
    #[arg(long, env = "GLIMPSE_GPU_MEMORY_MB")]
    gpu_memory_mb: Option<usize>,
    /// cuDNN convolution search: exhaustive, heuristic or default.
    #[arg(long, default_value = "exhaustive", value_parser = parse_conv_search)]
    cudnn_search: glimpse::device::ConvSearch,
    /// Run the full-precision graphs on the GPU too (default: an fp16 copy, checked against
    /// fp32 before use).
    #[arg(long)]
    fp32: bool,
    /// How a thread waiting for a CUDA GPU waits: auto (CUDA's choice: it spins where cores
    /// outnumber GPUs), spin, yield or block (sleeps, leaving the core to the decoders).
    #[arg(long, default_value = "auto", env = "GLIMPSE_CUDA_WAIT", value_parser = parse_cuda_wait)]
    cuda_wait: glimpse::device::CudaWait,
}

impl DeviceArg {
    pub(crate) fn options(&self) -> glimpse::device::DeviceOptions {
        glimpse::device::DeviceOptions {
            device: self.device,
            gpu_id: self.gpu_id,
            gpu_memory_limit: self.gpu_memory_mb.map(|mb| mb.saturating_mul(1 << 20)),
            conv_search: self.cudnn_search,
            fp16: !self.fp32,
            cuda_wait: self.cuda_wait,
        }
    }
}

fn parse_conv_search(s: &str) -> Result<glimpse::device::ConvSearch, String> {
    s.parse()
}

fn parse_cuda_wait(s: &str) -> Result<glimpse::device::CudaWait, String> {
    s.parse()
}

#[derive(Args, Clone)]
pub(crate) struct ModelArg {
    /// Model folder (immich or Hugging Face layout) or a model name from `glimpse models`
    /// (default: the one the library was last indexed with, else ViT-B-32__openai).
    #[arg(long, env = "GLIMPSE_MODEL")]
    pub(crate) model: Option<String>,
}

impl ModelArg {
    /// The model a command without a library uses: the one named, else the default.
    pub(crate) fn named_or_default(&self) -> String {
        self.model
            .clone()
            .unwrap_or_else(|| glimpse::model::manifest::DEFAULT_MODEL.to_string())
    }

    /// The model a library command uses, and whether the library chose it: the one named,
    /// else the one the library was last indexed with (a model chosen once sticks), else the
    /// default.
    pub(crate) fn for_library(&self, cli: &Cli) -> Result<(String, bool)> {
        if let Some(m) = &self.model {
            return Ok((m.clone(), false));
        }
        let dir = library_dir(cli);
        let remembered = glimpse::library::remembered_model(&dir)
            .with_context(|| format!("cannot open library {}", dir.display()))?;
        Ok(match remembered {
            Some(m) => (m, true),
            None => (glimpse::model::manifest::DEFAULT_MODEL.to_string(), false),
        })
    }
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

fn parse_device(s: &str) -> Result<Device, String> {
    s.parse()
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
    glimpse::decode::log_panics();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("glimpse: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

pub(crate) fn load_runtime(cli: &Cli) -> Result<Runtime> {
    let opts = RuntimeOptions::default().with_download(!cli.offline);
    runtime::load(&opts).context("ONNX Runtime is not available")
}

pub(crate) fn resolve_model(cli: &Cli, model: &str) -> Result<ModelFiles> {
    let dir = glimpse::model::manifest::ensure_model_cli(model, !cli.offline, cli.quiet)
        .with_context(|| format!("model {model:?} is not available"))?;
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
                library_dir(cli).display()
            )
        })?,
        false => files?,
    };
    Ok((files, model))
}

pub(crate) fn report_provider(cli: &Cli, what: &str, sel: &glimpse::device::Selection) {
    report_provider_with(cli, what, sel, false);
}

/// [`report_provider`] for the image tower, which also says when it takes the crop's bytes.
pub(crate) fn report_image_provider(cli: &Cli, enc: &ImageEncoder) {
    let bytes = enc.pixel_input() == glimpse::encode::PixelInput::Bytes;
    report_provider_with(cli, "image", &enc.selection, bytes);
}

fn report_provider_with(cli: &Cli, what: &str, sel: &glimpse::device::Selection, bytes: bool) {
    if let Some(w) = &sel.fallback {
        eprintln!("glimpse: warning: {w}");
    }
    if !cli.quiet {
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

pub(crate) fn library_dir(cli: &Cli) -> PathBuf {
    cli.library
        .clone()
        .unwrap_or_else(glimpse::library::default_dir)
}

fn threads_or_all(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// The image encoder of an indexing command, opened the first time a scan finds photos to
/// encode: re-indexing an unchanged library then loads neither ONNX Runtime nor the model (a
/// second and hundreds of MB on a CPU, CUDA's start-up and GPU memory on a GPU).
struct LazyEncoder<'a> {
    cli: &'a Cli,
    args: &'a EncoderArgs,
    files: ModelFiles,
    /// The model as named (or remembered), which the library records.
    model: String,
    /// The embedding width the library recorded for this model, which the graph must give.
    expect_dim: Option<usize>,
    enc: Option<ImageEncoder>,
}

impl<'a> LazyEncoder<'a> {
    fn new(cli: &'a Cli, args: &'a EncoderArgs) -> Result<Self> {
        let (files, model) = library_model(cli, &args.model)?;
        Ok(LazyEncoder {
            cli,
            args,
            files,
            model,
            expect_dim: None,
            enc: None,
        })
    }

    /// The encoder, opened on first use.
    fn get(&mut self) -> Result<&ImageEncoder> {
        let enc = match self.enc.take() {
            Some(e) => e,
            None => self.open()?,
        };
        Ok(self.enc.insert(enc))
    }

    fn open(&self) -> Result<ImageEncoder> {
        let rt = load_runtime(self.cli)?;
        let mut enc = ImageEncoder::open_with(&rt.env, &self.files, &self.args.device.options())?;
        if let Some(b) = self.args.batch {
            enc.set_batch(b);
        }
        report_image_provider(self.cli, &enc);
        if enc.dim() == 0 {
            anyhow::bail!("the model's image graph does not declare its embedding width");
        }
        if let Some(want) = self.expect_dim {
            enc.check_width(&self.files.name, want)?;
        }
        Ok(enc)
    }

    /// Opens the library for this model: with the embedding width the catalog recorded for
    /// it, or, for a model it has not seen, the one its graph declares (which opens it now).
    fn open_library(&mut self) -> Result<Library> {
        let dir = library_dir(self.cli);
        let catalog = glimpse::catalog::Catalog::open(&dir)
            .with_context(|| format!("cannot open library {}", dir.display()))?;
        let name = self.files.name.clone();
        self.expect_dim = catalog
            .models()?
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, dim)| dim);
        drop(catalog);
        let dim = match self.expect_dim {
            Some(dim) => dim,
            None => self.get()?.dim(),
        };
        let lib = Library::open(&dir, &name, dim)
            .with_context(|| format!("cannot open library {}", dir.display()))?;
        lib.remember_model(&self.model)?;
        Ok(lib)
    }
}

fn progress_bar(cli: &Cli) -> indicatif::ProgressBar {
    if cli.quiet {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(0);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {per_sec} ETA {eta} {wide_msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb
}

fn run_index(
    cli: &Cli,
    lib: &mut Library,
    encoder: &mut LazyEncoder,
    roots: &[PathBuf],
    threads: usize,
) -> Result<glimpse::library::Summary> {
    let control = Control::default();
    let plan = lib.plan(roots, &control)?;
    let enc = if plan.to_encode() > 0 {
        Some(encoder.get()?)
    } else {
        None
    };
    let pb = progress_bar(cli);
    let summary = lib.index_planned(plan, enc, threads, &control, &mut |p| {
        pb.set_length(p.total as u64);
        pb.set_position(p.done as u64);
        if let Some(c) = &p.current {
            pb.set_message(c.to_string_lossy().into_owned());
        }
    })?;
    pb.finish_and_clear();
    if !cli.quiet {
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
                t.wall,
                t.encode,
                t.stage,
                t.commit,
                summary.graph,
                summary.graph_threads,
                t.decode_cpu
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
    Ok(summary)
}

fn status_model(
    model: Option<&str>,
    remembered: Option<&str>,
    catalog: &glimpse::catalog::Catalog,
) -> Result<Option<(String, usize)>> {
    let known = catalog.models()?;
    let Some(m) = model.or(remembered) else {
        return Ok(known.last().cloned());
    };
    let name = std::path::Path::new(m)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| m.to_string());
    Ok(known.into_iter().find(|(n, _)| *n == name))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Index { encoder, roots } => {
            let mut enc = LazyEncoder::new(&cli, encoder)?;
            let mut lib = enc.open_library()?;
            let roots: Vec<PathBuf> = if roots.is_empty() {
                lib.catalog.roots()?.into_iter().map(|r| r.path).collect()
            } else {
                roots.clone()
            };
            if roots.is_empty() {
                anyhow::bail!("no photo folders: give some, e.g. `glimpse index ~/Pictures`");
            }
            run_index(
                &cli,
                &mut lib,
                &mut enc,
                &roots,
                threads_or_all(encoder.threads),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Watch { encoder } => {
            let mut enc = LazyEncoder::new(&cli, encoder)?;
            let mut lib = enc.open_library()?;
            let roots: Vec<PathBuf> = lib.catalog.roots()?.into_iter().map(|r| r.path).collect();
            if roots.is_empty() {
                anyhow::bail!("no photo folders yet: add some with `glimpse roots add DIR`");
            }
            let threads = threads_or_all(encoder.threads);
            run_index(&cli, &mut lib, &mut enc, &roots, threads)?;
            let (mut watcher, offline) = glimpse::watch::Watcher::new(&roots)?;
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
            // A drive unplugged or plugged back in, which no watch reports: looked at every
            // few seconds, then everything is indexed and watched again.
            let mut looks = glimpse::watch::RootLooks::default();
            let mut last_look: Option<std::time::Instant> = None;
            loop {
                if last_look.is_none_or(|t| t.elapsed() >= glimpse::watch::LOOK_EVERY) {
                    last_look = Some(std::time::Instant::now());
                    if looks.changed(&lib.catalog.roots()?) {
                        run_index(&cli, &mut lib, &mut enc, &roots, threads)?;
                        watcher = glimpse::watch::Watcher::new(&roots)?.0;
                        continue;
                    }
                }
                let idle = Some(std::time::Duration::from_secs(1));
                match watcher.next_batch_within(glimpse::watch::Debounce::default(), &stop, idle) {
                    Some(batch) => {
                        let touched = glimpse::watch::roots_touched(&batch, &roots);
                        if !touched.is_empty() {
                            run_index(&cli, &mut lib, &mut enc, &touched, threads)?;
                        }
                    }
                    None if stop.load(std::sync::atomic::Ordering::Relaxed) => break,
                    None => {}
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Roots { action } => {
            let catalog = glimpse::catalog::Catalog::open(&library_dir(&cli))?;
            match action {
                RootsAction::Add { paths } => {
                    // A folder added above a root takes that root's photos in: not while an
                    // indexer is writing them.
                    let _writer = glimpse::lock::WriterLock::acquire(&library_dir(&cli))?;
                    for p in paths {
                        let p = p.canonicalize().unwrap_or_else(|_| p.clone());
                        let root = catalog.add_root(&p)?;
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
                    let models = catalog.models()?;
                    let roots = catalog.roots()?;
                    drop(catalog);
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
                                let mut lib = Library::open(&library_dir(&cli), name, *dim)?;
                                let n = lib.remove_root(&p)?;
                                println!("{} ({n} photos removed from the library)", p.display());
                            }
                            None => {
                                glimpse::catalog::Catalog::open(&library_dir(&cli))?
                                    .remove_root(&p)?;
                                println!("{}", p.display());
                            }
                        }
                    }
                    if unknown > 0 {
                        return Ok(ExitCode::from(1));
                    }
                }
                RootsAction::List { json } => {
                    for r in catalog.roots()? {
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
        Command::Status {
            model,
            json,
            dump_embeddings,
            files,
            check,
        } => {
            let dir = library_dir(&cli);
            let catalog = glimpse::catalog::Catalog::open(&dir)?;
            let integrity = if *check {
                Some(catalog.integrity_check()?)
            } else {
                None
            };
            let roots = catalog.roots()?;
            let formats = catalog.format_counts()?;
            let (failed_files, noted_files) = if *files {
                (catalog.failed_files()?, catalog.noted_files()?)
            } else {
                (Vec::new(), Vec::new())
            };
            let provider = catalog.setting("provider")?;
            let auto_tags: Vec<serde_json::Value> = catalog
                .tag_rules()?
                .into_iter()
                .map(|r| serde_json::json!({"folder": r.folder.to_string_lossy(), "labels": r.labels}))
                .collect();
            // The model the library was last indexed with, as named then (a folder or a name).
            let source = catalog.setting(glimpse::library::MODEL_SETTING)?;
            let chosen = status_model(model.as_deref(), source.as_deref(), &catalog)?;
            drop(catalog);
            let (stats, vectors, origin, model_name, max_encodes) = match &chosen {
                Some((name, dim)) => {
                    let lib = Library::open_for_reading(&dir, name, *dim)?;
                    if *dump_embeddings {
                        let stdout = std::io::stdout();
                        let mut out = stdout.lock();
                        for (p, v) in lib.embeddings_with_paths()? {
                            writeln!(
                                out,
                                "{}",
                                serde_json::json!({"path": p.to_string_lossy(), "embedding": v})
                            )?;
                        }
                        return Ok(ExitCode::SUCCESS);
                    }
                    let max_encodes = if *check {
                        Some(lib.max_encodes()?)
                    } else {
                        None
                    };
                    (
                        lib.stats()?,
                        lib.vector_count(),
                        lib.vectors_origin.clone(),
                        Some(name.clone()),
                        max_encodes,
                    )
                }
                None => (
                    Default::default(),
                    0,
                    "none".to_string(),
                    None,
                    check.then_some(0),
                ),
            };
            let stats: glimpse::catalog::Stats = stats;
            let failures: Vec<serde_json::Value> = stats
                .failures
                .iter()
                .map(|(r, n)| serde_json::json!({"reason": r, "count": n}))
                .collect();
            let notes: Vec<serde_json::Value> = stats
                .notes
                .iter()
                .map(|(r, n)| serde_json::json!({"note": r, "count": n}))
                .collect();
            let info = serde_json::json!({
                "library": dir.to_string_lossy(),
                "integrity": integrity,
                "model": model_name,
                "model_source": source,
                "provider": provider,
                "roots": roots,
                "photos": stats.photos,
                "indexed": stats.indexed,
                "failed": stats.failed,
                "failures": failures,
                "notes": notes,
                "pending": stats.pending,
                "missing": stats.missing,
                "unsupported": stats.unsupported,
                "embeddings": stats.embeddings,
                "vectors": vectors,
                "vectors_origin": origin,
                "max_encodes_per_photo": max_encodes,
                "formats": formats,
                "auto_tags": auto_tags,
            });
            if *json {
                println!("{info}");
                for (p, reason) in &failed_files {
                    println!(
                        "{}",
                        serde_json::json!({"path": p.to_string_lossy(), "reason": reason})
                    );
                }
                for (p, note) in &noted_files {
                    println!(
                        "{}",
                        serde_json::json!({"path": p.to_string_lossy(), "note": note})
                    );
                }
            } else {
                match &integrity {
                    Some(i) => println!("library: {} (integrity {i})", dir.display()),
                    None => println!("library: {}", dir.display()),
                }
                let from = match (&source, &model_name) {
                    (Some(s), Some(n)) if s != n => format!(" (from {s})"),
                    _ => String::new(),
                };
                println!(
                    "model: {}{from} on {}",
                    model_name.as_deref().unwrap_or("(none yet)"),
                    provider.as_deref().unwrap_or("-")
                );
                for r in &roots {
                    println!(
                        "root: {}{}",
                        r.path.display(),
                        if r.online { "" } else { " (offline)" }
                    );
                }
                println!(
                    "photos: {}  indexed: {}  failed: {}  pending: {}  missing: {}  unsupported: {}  vectors: {}",
                    stats.photos, stats.indexed, stats.failed, stats.pending, stats.missing, stats.unsupported, vectors
                );
                for (r, n) in &stats.failures {
                    println!("  {n:>6}  {r}");
                }
                if !stats.notes.is_empty() {
                    println!("indexed with a note (a viewer shows them; the picture may not be all there):");
                }
                for (r, n) in &stats.notes {
                    println!("  {n:>6}  {r}");
                }
                if !formats.is_empty() {
                    println!("formats:");
                }
                for f in &formats {
                    let mut parts = vec![format!("{} indexed", f.indexed)];
                    for (n, what) in [
                        (f.failed, "failed"),
                        (f.unsupported, "unsupported by this build"),
                        (f.pending, "pending"),
                    ] {
                        if n > 0 {
                            parts.push(format!("{n} {what}"));
                        }
                    }
                    println!("  {:<6} {}", f.format, parts.join(", "));
                }
                for r in &auto_tags {
                    let labels: Vec<&str> = r["labels"]
                        .as_array()
                        .map(|l| l.iter().filter_map(|l| l.as_str()).collect())
                        .unwrap_or_default();
                    println!(
                        "auto-tags new photos in {}: {}",
                        r["folder"].as_str().unwrap_or_default(),
                        labels.join(", ")
                    );
                }
                for (p, reason) in &failed_files {
                    println!("{}: {reason}", p.display());
                }
                for (p, note) in &noted_files {
                    println!("{}: indexed, {note}", p.display());
                }
                if let Some(n) = max_encodes {
                    println!(
                        "{}",
                        if n <= 1 {
                            "no photo was encoded twice".to_string()
                        } else {
                            format!("a photo was encoded and committed {n} times")
                        }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Embed { what } => match what {
            EmbedWhat::Image { encoder, paths } => {
                let files = resolve_model(&cli, &encoder.model.named_or_default())?;
                let rt = load_runtime(&cli)?;
                let mut enc = ImageEncoder::open_with(&rt.env, &files, &encoder.device.options())?;
                if let Some(b) = encoder.batch {
                    enc.set_batch(b);
                }
                report_image_provider(&cli, &enc);
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
            EmbedWhat::Text {
                model,
                device,
                texts,
            } => {
                let files = resolve_model(&cli, &model.named_or_default())?;
                let rt = load_runtime(&cli)?;
                let enc = TextEncoder::open_with(&rt.env, &files, &device.options())?;
                report_provider(&cli, "text", &enc.selection);
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let vecs = enc.embed(&refs)?;
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                for (t, v) in texts.iter().zip(vecs) {
                    writeln!(out, "{}", serde_json::json!({"text": t, "embedding": v}))?;
                }
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Runtime { device, json } => {
            let rt = load_runtime(&cli)?;
            let providers: Vec<String> = glimpse::device::available_providers()
                .iter()
                .map(|p| p.to_string())
                .collect();
            let info = serde_json::json!({
                "library": rt.library.to_string_lossy(),
                "version": rt.version,
                "source": format!("{:?}", rt.source),
                "providers": providers,
                "requested_device": device.device.to_string(),
            });
            if *json {
                println!("{info}");
            } else {
                println!(
                    "ONNX Runtime {}: {} ({:?})",
                    rt.version.as_deref().unwrap_or("(version unknown)"),
                    rt.library.display(),
                    rt.source
                );
                println!("execution providers: {}", providers.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Search(cmd) => find::search(&cli, cmd),
        Command::Similar(cmd) => find::similar(&cli, cmd),
        Command::List(cmd) => find::list(&cli, cmd),
        Command::Tag(cmd) => find::tag(&cli, cmd),
        Command::Tags { json } => find::tags(&cli, *json),
        Command::Dupes(cmd) => find::dupes(&cli, cmd),
        Command::Models { fetch, json } => {
            if let Some(name) = fetch {
                let dir =
                    glimpse::model::manifest::ensure_model_cli(name, !cli.offline, cli.quiet)?;
                println!("{}", dir.display());
                return Ok(ExitCode::SUCCESS);
            }
            let models = glimpse::model::manifest::models();
            if *json {
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
    }
}
