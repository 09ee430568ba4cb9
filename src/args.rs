//! The arguments several commands share: the model, the device it runs on, the image encoder's
//! knobs. Parsing only.

use anyhow::{Context, Result};
use clap::Args;
use glimpse_clip::device::Device;

use crate::Cli;

/// What every image-encoding command takes: the model, where it runs, how many decoders.
#[derive(Args, Clone)]
pub(crate) struct EncoderArgs {
    #[command(flatten)]
    pub(crate) model: ModelArg,
    #[command(flatten)]
    pub(crate) device: DeviceArg,
    /// Decoding threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Pictures per encoder run for dynamic-batch graphs (default: 16 on CPU, 256 on a GPU).
    #[arg(long)]
    pub(crate) batch: Option<usize>,
}

/// Where the encoders run and how the GPU is used.
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
    cudnn_search: glimpse_clip::device::ConvSearch,
    /// Run the full-precision graphs on the GPU too (default: an fp16 copy, checked against
    /// fp32 before use).
    #[arg(long)]
    fp32: bool,
    /// How a thread waiting for a CUDA GPU waits: auto (CUDA's choice: it spins where cores
    /// outnumber GPUs), spin, yield or block (sleeps, leaving the core to the decoders).
    #[arg(long, default_value = "auto", env = "GLIMPSE_CUDA_WAIT", value_parser = parse_cuda_wait)]
    cuda_wait: glimpse_clip::device::CudaWait,
}

impl DeviceArg {
    pub(crate) fn options(&self) -> glimpse_clip::device::DeviceOptions {
        glimpse_clip::device::DeviceOptions {
            device: self.device,
            gpu_id: self.gpu_id,
            gpu_memory_limit: self.gpu_memory_mb.map(|mb| mb.saturating_mul(1 << 20)),
            conv_search: self.cudnn_search,
            fp16: !self.fp32,
            cuda_wait: self.cuda_wait,
        }
    }
}

fn parse_device(s: &str) -> Result<Device, glimpse_clip::device::UnknownSetting> {
    s.parse()
}

fn parse_conv_search(
    s: &str,
) -> Result<glimpse_clip::device::ConvSearch, glimpse_clip::device::UnknownSetting> {
    s.parse()
}

fn parse_cuda_wait(
    s: &str,
) -> Result<glimpse_clip::device::CudaWait, glimpse_clip::device::UnknownSetting> {
    s.parse()
}

/// The model a command uses.
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
            .unwrap_or_else(|| glimpse_clip::model::manifest::DEFAULT_MODEL.to_string())
    }

    /// The model a library command uses, and whether the library chose it: the one named,
    /// else the one the library was last indexed with (a model chosen once sticks), else the
    /// default.
    pub(crate) fn for_library(&self, cli: &Cli) -> Result<(String, bool)> {
        if let Some(m) = &self.model {
            return Ok((m.clone(), false));
        }
        let dir = cli.library_dir();
        let remembered = glimpse_library::remembered_model(&dir)
            .with_context(|| format!("cannot open library {}", dir.display()))?;
        Ok(match remembered {
            Some(m) => (m, true),
            None => (
                glimpse_clip::model::manifest::DEFAULT_MODEL.to_string(),
                false,
            ),
        })
    }
}
