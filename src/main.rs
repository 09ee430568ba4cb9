//! `glimpse`: the command-line face of the engine. Parsing and printing only; every capability
//! lives in the library.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use glimpse::device::Device;
use glimpse::encode::{EmbedError, ImageEncoder, TextEncoder};
use glimpse::model::ModelFiles;
use glimpse::runtime::{self, Runtime, RuntimeOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Find photos on your own computer by describing them. Everything runs locally.
#[derive(Parser)]
#[command(name = "glimpse", version, about, propagate_version = true)]
struct Cli {
    /// Never download anything (ONNX Runtime, models); fail with instructions instead.
    #[arg(long, global = true, env = "GLIMPSE_OFFLINE", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::FalseyValueParser::new())]
    offline: bool,
    /// Less output on stderr (no provider line, no progress bars).
    #[arg(long, short, global = true)]
    quiet: bool,
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

#[derive(Args, Clone)]
struct DeviceArg {
    /// Where the encoders run: auto, cpu, cuda, coreml or directml.
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    device: Device,
}

#[derive(Args, Clone)]
struct ModelArg {
    /// Model folder (immich or Hugging Face layout) or a model name from `glimpse models`.
    #[arg(long, env = "GLIMPSE_MODEL", default_value = glimpse::model::manifest::DEFAULT_MODEL)]
    model: String,
}

#[derive(Subcommand)]
enum EmbedWhat {
    /// Embed image files: `{"path": ..., "embedding": [...]}` or `{"path": ..., "error": ...}`.
    Image {
        #[command(flatten)]
        model: ModelArg,
        #[command(flatten)]
        device: DeviceArg,
        /// Decoding threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
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
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("glimpse: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn load_runtime(cli: &Cli) -> Result<Runtime> {
    let opts = RuntimeOptions::default().with_download(!cli.offline);
    runtime::load(&opts).context("ONNX Runtime is not available")
}

fn resolve_model(cli: &Cli, model: &str) -> Result<ModelFiles> {
    let dir = glimpse::model::manifest::ensure_model_cli(model, !cli.offline, cli.quiet)
        .with_context(|| format!("model {model:?} is not available"))?;
    ModelFiles::open(&dir).with_context(|| format!("cannot use model folder {}", dir.display()))
}

fn report_provider(cli: &Cli, what: &str, sel: &glimpse::device::Selection) {
    if let Some(w) = &sel.fallback {
        eprintln!("glimpse: warning: {w}");
    }
    if !cli.quiet {
        eprintln!("glimpse: {what} encoder running on {}", sel.provider);
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Embed { what } => match what {
            EmbedWhat::Image {
                model,
                device,
                threads,
                paths,
            } => {
                let files = resolve_model(&cli, &model.model)?;
                let rt = load_runtime(&cli)?;
                let enc = ImageEncoder::open(&rt.env, &files, device.device)?;
                report_provider(&cli, "image", &enc.selection);
                let threads = threads
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
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
                let files = resolve_model(&cli, &model.model)?;
                let rt = load_runtime(&cli)?;
                let enc = TextEncoder::open(&rt.env, &files, device.device)?;
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
