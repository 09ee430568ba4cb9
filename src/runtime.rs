//! `glimpse runtime`: which ONNX Runtime library is used and which providers it offers.

use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

use crate::args::DeviceArg;
use crate::common::load_runtime;
use crate::Cli;

/// `glimpse runtime`.
#[derive(Args)]
pub(crate) struct RuntimeCmd {
    #[command(flatten)]
    device: DeviceArg,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Prints the ONNX Runtime in use and its execution providers.
pub(crate) fn run(cli: &Cli, cmd: &RuntimeCmd) -> Result<ExitCode> {
    let rt = load_runtime(cli)?;
    let providers: Vec<String> = glimpse_clip::device::available_providers()
        .iter()
        .map(|p| p.to_string())
        .collect();
    let info = serde_json::json!({
        "library": rt.library.to_string_lossy(),
        "version": rt.version,
        "source": format!("{:?}", rt.source),
        "providers": providers,
        "requested_device": cmd.device.device.to_string(),
    });
    if cmd.json {
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
