//! Execution providers: which hardware runs the encoders, and never a silent downgrade.
//!
//! The user asks for a device (`auto`, `cpu`, `cuda`, `coreml`, `directml`); the session is
//! opened on the first provider that actually works and the one in use is reported. A GPU
//! provider that is missing from the ONNX Runtime build, fails to register or fails to open the
//! model falls back to CPU with a warning that says why.

use glimpse_onnx::fp16;
use ort::ep::{self, ExecutionProvider};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// What the user asked for (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The best provider that works on this machine, else CPU.
    #[default]
    Auto,
    /// ONNX Runtime's CPU provider.
    Cpu,
    /// NVIDIA CUDA (needs the onnxruntime-gpu build of the library).
    Cuda,
    /// Apple Core ML (macOS builds).
    CoreMl,
    /// DirectML (Windows builds).
    DirectMl,
}

/// A device setting the user typed (`--device`, `--cudnn-search`, `--cuda-wait`) that names no
/// known choice; the message lists the choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {setting} {value:?}: expected {choices}")]
pub struct UnknownSetting {
    /// Which setting ("device", "cuDNN search", "CUDA wait").
    pub setting: &'static str,
    /// What was typed.
    pub value: String,
    /// The accepted values, as a sentence.
    pub choices: &'static str,
}

impl UnknownSetting {
    fn new(setting: &'static str, value: &str, choices: &'static str) -> Self {
        UnknownSetting {
            setting,
            value: value.to_owned(),
            choices,
        }
    }
}

impl FromStr for Device {
    type Err = UnknownSetting;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda),
            "coreml" => Ok(Device::CoreMl),
            "directml" | "dml" => Ok(Device::DirectMl),
            other => Err(UnknownSetting::new(
                "device",
                other,
                "auto, cpu, cuda, coreml or directml",
            )),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Device::Auto => "auto",
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
            Device::CoreMl => "coreml",
            Device::DirectMl => "directml",
        })
    }
}

/// The provider a session really runs on, so it can be shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// CPU execution provider.
    Cpu,
    /// CUDA execution provider.
    Cuda,
    /// Core ML execution provider.
    CoreMl,
    /// DirectML execution provider.
    DirectMl,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Cpu => "CPU",
            Provider::Cuda => "CUDA",
            Provider::CoreMl => "CoreML",
            Provider::DirectMl => "DirectML",
        })
    }
}

/// How a session came to run where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The provider in use.
    pub provider: Provider,
    /// Why a requested or preferred GPU provider was not used, to show as a warning.
    pub fallback: Option<String>,
    /// Whether the graph in use is the fp16 copy (GPU only).
    pub fp16: bool,
}

impl Selection {
    /// How the status bar and `glimpse status` name what runs the model ("CUDA (fp16)", "CPU").
    pub fn label(&self) -> String {
        let fp16 = if self.fp16 { " (fp16)" } else { "" };
        format!("{}{fp16}", self.provider)
    }
}

/// How cuDNN picks convolution kernels: the first batch pays for an exhaustive search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvSearch {
    /// Benchmark every algorithm once (ONNX Runtime's default; best steady-state speed).
    #[default]
    Exhaustive,
    /// cuDNN's heuristic choice (no benchmarking, less workspace memory).
    Heuristic,
    /// The implicit-GEMM default (least memory).
    Default,
}

impl FromStr for ConvSearch {
    type Err = UnknownSetting;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "exhaustive" => Ok(ConvSearch::Exhaustive),
            "heuristic" => Ok(ConvSearch::Heuristic),
            "default" => Ok(ConvSearch::Default),
            other => Err(UnknownSetting::new(
                "cuDNN search",
                other,
                "exhaustive, heuristic or default",
            )),
        }
    }
}

/// How a thread waiting for the GPU waits. CUDA's default spins while the process has fewer
/// CUDA contexts than CPU cores, i.e. always in an indexer: the encoder thread then holds a
/// core for as long as each batch runs, a core the JPEG decoders feeding the GPU could use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CudaWait {
    /// Leave CUDA's choice (spin, or yield when contexts outnumber cores).
    #[default]
    Auto,
    /// Busy-wait: the quickest return, a whole core meanwhile.
    Spin,
    /// Busy-wait but yield the core to other ready threads.
    Yield,
    /// Sleep until the device signals: no CPU while waiting, a slightly later wake-up.
    Block,
}

impl CudaWait {
    /// The driver's `CU_CTX_SCHED_*` flag for this mode.
    pub fn flag(self) -> u32 {
        match self {
            CudaWait::Auto => 0,
            CudaWait::Spin => 1,
            CudaWait::Yield => 2,
            CudaWait::Block => 4,
        }
    }
}

impl FromStr for CudaWait {
    type Err = UnknownSetting;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(CudaWait::Auto),
            "spin" => Ok(CudaWait::Spin),
            "yield" => Ok(CudaWait::Yield),
            "block" => Ok(CudaWait::Block),
            other => Err(UnknownSetting::new(
                "CUDA wait",
                other,
                "auto, spin, yield or block",
            )),
        }
    }
}

/// The CUDA driver's file names: its API sets the primary context's flags, the context that
/// ONNX Runtime's CUDA provider runs in, whatever CUDA runtime that provider was built with.
const CUDA_DRIVER_NAMES: &[&str] = &["libcuda.so.1", "libcuda.so", "nvcuda.dll"];

/// The driver functions [`set_cuda_wait`] calls.
struct CudaDriver {
    _lib: libloading::Library,
    init: unsafe extern "C" fn(u32) -> i32,
    device_get: unsafe extern "C" fn(*mut i32, i32) -> i32,
    set_flags: unsafe extern "C" fn(i32, u32) -> i32,
    get_state: unsafe extern "C" fn(i32, *mut u32, *mut i32) -> i32,
}

fn bind_cuda_driver(lib: libloading::Library) -> Result<CudaDriver, libloading::Error> {
    // SAFETY: the signatures are the CUDA driver API's (cuda.h, the _v2 setter since CUDA 11):
    // CUresult is an int, CUdevice an int.
    unsafe {
        Ok(CudaDriver {
            init: *lib.get(b"cuInit")?,
            device_get: *lib.get(b"cuDeviceGet")?,
            set_flags: *lib.get(b"cuDevicePrimaryCtxSetFlags_v2")?,
            get_state: *lib.get(b"cuDevicePrimaryCtxGetState")?,
            _lib: lib,
        })
    }
}

/// Makes threads waiting for GPU `ordinal` wait as `wait` says, through the CUDA driver, before
/// ONNX Runtime creates its context there; returns the scheduling flag then in force.
fn set_cuda_wait(ordinal: i32, wait: CudaWait) -> Result<u32, String> {
    static DRIVER: std::sync::OnceLock<Result<CudaDriver, String>> = std::sync::OnceLock::new();
    let d = crate::dylib::load_once(&DRIVER, CUDA_DRIVER_NAMES, bind_cuda_driver)
        .map_err(|e| format!("the CUDA driver library cannot be loaded ({e})"))?;
    let check = |what: &str, rc: i32| {
        if rc == 0 {
            Ok(())
        } else {
            Err(format!("{what} failed with CUDA error {rc}"))
        }
    };
    let mut dev = 0i32;
    let (mut flags, mut active) = (0u32, 0i32);
    // SAFETY: plain driver calls with valid out-pointers to locals.
    unsafe {
        check("cuInit", (d.init)(0))?;
        check("cuDeviceGet", (d.device_get)(&mut dev, ordinal))?;
        check(
            "cuDevicePrimaryCtxSetFlags",
            (d.set_flags)(dev, wait.flag()),
        )?;
        check(
            "cuDevicePrimaryCtxGetState",
            (d.get_state)(dev, &mut flags, &mut active),
        )?;
    }
    Ok(flags & 7)
}

/// Where and how to run the encoders: the device plus the GPU settings that depend on the
/// card and on what else shares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOptions {
    /// The device asked for.
    pub device: Device,
    /// Which GPU (CUDA ordinal).
    pub gpu_id: i32,
    /// Cap on the GPU memory arena, in bytes (None: ONNX Runtime's default, all it needs).
    pub gpu_memory_limit: Option<usize>,
    /// cuDNN convolution algorithm search.
    pub conv_search: ConvSearch,
    /// Run a half-precision copy of the graph on GPUs (tensor cores; checked against fp32).
    pub fp16: bool,
    /// How threads wait for a CUDA GPU.
    pub cuda_wait: CudaWait,
}

impl DeviceOptions {
    /// Defaults for `device`: GPU 0, no memory cap, exhaustive search, fp16 on GPUs.
    pub fn new(device: Device) -> Self {
        DeviceOptions {
            device,
            gpu_id: 0,
            gpu_memory_limit: None,
            conv_search: ConvSearch::default(),
            fp16: true,
            cuda_wait: CudaWait::default(),
        }
    }
}

impl From<Device> for DeviceOptions {
    fn from(d: Device) -> Self {
        DeviceOptions::new(d)
    }
}

/// Why a model file could not be opened on any device, not even the CPU (an encoder reports it
/// as [`EncodeError::Open`](crate::encode::EncodeError::Open)).
#[derive(Debug, thiserror::Error)]
#[error("cannot open model {path} on {provider}: {message}")]
pub struct OpenError {
    /// The model file.
    pub path: String,
    /// The provider that was tried last.
    pub provider: Provider,
    /// ONNX Runtime's message.
    pub message: String,
}

/// GPU providers tried, in order, for `Device::Auto` on this platform.
fn auto_candidates() -> Vec<Provider> {
    let mut v = Vec::new();
    if cfg!(any(target_os = "linux", target_os = "windows")) {
        v.push(Provider::Cuda);
    }
    if cfg!(target_os = "windows") {
        v.push(Provider::DirectMl);
    }
    if cfg!(target_os = "macos") {
        v.push(Provider::CoreMl);
    }
    v
}

/// Whether the loaded ONNX Runtime library was built with this provider.
pub(crate) fn is_compiled_in(p: Provider) -> bool {
    let r = match p {
        Provider::Cpu => return true,
        Provider::Cuda => ep::CUDA::is_available(),
        Provider::CoreMl => ep::CoreML::is_available(),
        Provider::DirectMl => ep::DirectML::is_available(),
    };
    r.unwrap_or(false)
}

/// Providers the loaded library offers, for `glimpse runtime` and the settings screen.
pub fn available_providers() -> Vec<Provider> {
    [
        Provider::Cuda,
        Provider::CoreMl,
        Provider::DirectMl,
        Provider::Cpu,
    ]
    .into_iter()
    .filter(|p| is_compiled_in(*p))
    .collect()
}

/// The CUDA provider configured from the user's options.
pub(crate) fn cuda_provider(opts: &DeviceOptions) -> ep::CUDA {
    let mut cuda = ep::CUDA::default()
        .with_device_id(opts.gpu_id)
        .with_conv_algorithm_search(match opts.conv_search {
            ConvSearch::Exhaustive => ep::cuda::ConvAlgorithmSearch::Exhaustive,
            ConvSearch::Heuristic => ep::cuda::ConvAlgorithmSearch::Heuristic,
            ConvSearch::Default => ep::cuda::ConvAlgorithmSearch::Default,
        });
    if let Some(limit) = opts.gpu_memory_limit {
        cuda = cuda.with_memory_limit(limit);
    }
    cuda
}

fn dispatch(p: Provider, opts: &DeviceOptions) -> Option<ep::ExecutionProviderDispatch> {
    match p {
        Provider::Cpu => None,
        Provider::Cuda => Some(cuda_provider(opts).build().error_on_failure()),
        Provider::CoreMl => Some(ep::CoreML::default().build().error_on_failure()),
        Provider::DirectMl => Some(ep::DirectML::default().build().error_on_failure()),
    }
}

fn open_on(
    env: &ort::environment::Environment,
    path: &Path,
    provider: Provider,
    opts: &DeviceOptions,
) -> Result<Session, String> {
    if provider == Provider::Cuda && opts.cuda_wait != CudaWait::Auto {
        // Best effort: a driver that refuses leaves CUDA's own choice, which still works.
        match set_cuda_wait(opts.gpu_id, opts.cuda_wait) {
            Ok(flag) => tracing::info!(wait = ?opts.cuda_wait, flag, "CUDA wait mode set"),
            Err(e) => tracing::warn!("cannot make CUDA {:?}-wait: {e}", opts.cuda_wait),
        }
    }
    // No busy-waiting between runs: the decode pool needs those cores while the encoder waits
    // for the next batch (spinning threads halved indexing throughput on a 2-core machine).
    let builder = Session::builder(env)
        .map_err(|e| e.to_string())?
        .with_intra_op_spinning(false)
        .map_err(|e| e.to_string())?;
    // ONNX Runtime 1.31's layout passes (level 3) crash loading fp16 open_clip graphs whose
    // batch or length is symbolic (measured on the CPU provider: a segfault in the session
    // builder); they are CPU layout rewrites, so the fp16 copies, made for GPUs, skip them.
    let builder = if fp16::is_copy(path) {
        builder
            .with_optimization_level(GraphOptimizationLevel::Level2)
            .map_err(|e| e.to_string())?
    } else {
        builder
    };
    let mut builder = match dispatch(provider, opts) {
        Some(d) => builder
            .with_execution_providers([d])
            .map_err(|e| e.to_string())?,
        None => builder,
    };
    builder.commit_from_file(path).map_err(|e| e.to_string())
}

/// Opens a graph on the device in `opts`: on a GPU the fp16 copy `half` first (when given and
/// wanted), then the fp32 graph; then CPU with the fp32 graph. Every step down is reported.
pub fn open_session_with(
    env: &ort::environment::Environment,
    path: &Path,
    half: Option<&Path>,
    opts: &DeviceOptions,
) -> Result<(Session, Selection), OpenError> {
    let (candidates, explicit) = match opts.device {
        Device::Auto => (auto_candidates(), false),
        Device::Cpu => (Vec::new(), true),
        Device::Cuda => (vec![Provider::Cuda], true),
        Device::CoreMl => (vec![Provider::CoreMl], true),
        Device::DirectMl => (vec![Provider::DirectMl], true),
    };
    let mut reasons = Vec::new();
    for p in candidates {
        if !is_compiled_in(p) {
            if explicit {
                reasons.push(format!(
                    "{p} was requested but the loaded ONNX Runtime library has no {p} provider \
                     (CUDA needs the onnxruntime-gpu build; set ORT_DYLIB_PATH to it)"
                ));
            }
            continue;
        }
        if let Some(h) = half.filter(|_| opts.fp16) {
            match open_on(env, h, p, opts) {
                Ok(s) => {
                    let fallback = (!reasons.is_empty()).then(|| reasons.join("; "));
                    return Ok((
                        s,
                        Selection {
                            provider: p,
                            fallback,
                            fp16: true,
                        },
                    ));
                }
                Err(e) => reasons.push(format!("the fp16 graph failed on {p}: {e}")),
            }
        }
        match open_on(env, path, p, opts) {
            Ok(s) => {
                let fallback =
                    (!reasons.is_empty()).then(|| format!("{}; using fp32", reasons.join("; ")));
                if let Some(w) = &fallback {
                    tracing::warn!("{w}");
                }
                return Ok((
                    s,
                    Selection {
                        provider: p,
                        fallback,
                        fp16: false,
                    },
                ));
            }
            Err(e) => reasons.push(format!("{p} failed to start: {e}")),
        }
    }
    let session = open_on(env, path, Provider::Cpu, opts).map_err(|message| OpenError {
        path: path.display().to_string(),
        provider: Provider::Cpu,
        message,
    })?;
    let fallback = (!reasons.is_empty()).then(|| format!("{}; using CPU", reasons.join("; ")));
    if let Some(w) = &fallback {
        tracing::info!("{w}");
    }
    Ok((
        session,
        Selection {
            provider: Provider::Cpu,
            fallback,
            fp16: false,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_wait_modes_parse_to_the_driver_flags() {
        for (name, wait, flag) in [
            ("auto", CudaWait::Auto, 0),
            ("SPIN", CudaWait::Spin, 1),
            ("yield", CudaWait::Yield, 2),
            ("Block", CudaWait::Block, 4),
        ] {
            assert_eq!(name.parse::<CudaWait>(), Ok(wait));
            assert_eq!(wait.flag(), flag);
        }
        assert!("sleep".parse::<CudaWait>().is_err());
    }

    #[test]
    fn setting_the_cuda_wait_says_why_it_cannot_or_reads_back_the_mode() {
        let got = set_cuda_wait(0, CudaWait::Block);
        match crate::dylib::open_first(CUDA_DRIVER_NAMES) {
            // No NVIDIA driver here (every CPU-only machine): an error that names the cause.
            Err(_) => {
                let e = got.unwrap_err();
                assert!(e.contains("CUDA driver library cannot be loaded"), "{e}");
            }
            // A driver: GPU 0 now blocks, or a CUDA error code says why not (no device).
            Ok(_) => match got {
                Ok(flag) => assert_eq!(flag, CudaWait::Block.flag()),
                Err(e) => assert!(e.contains("CUDA error"), "{e}"),
            },
        }
    }

    #[test]
    fn device_names_parse_and_round_trip() {
        for d in [
            Device::Auto,
            Device::Cpu,
            Device::Cuda,
            Device::CoreMl,
            Device::DirectMl,
        ] {
            assert_eq!(d.to_string().parse::<Device>(), Ok(d));
        }
        assert_eq!("GPU".parse::<Device>(), Ok(Device::Cuda));
        assert_eq!(
            "tpu".parse::<Device>().unwrap_err().to_string(),
            "unknown device \"tpu\": expected auto, cpu, cuda, coreml or directml"
        );
    }
}
