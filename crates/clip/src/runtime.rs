//! Finding and loading ONNX Runtime. The `ort` crate is built with `load-dynamic`, so the shared
//! library must be found at run time: `ORT_DYLIB_PATH`, then beside the executable (bundled
//! apps), then the user cache, and finally a pinned, sha256-checked wheel of the `onnxruntime`
//! package from PyPI, from which only the shared library is extracted. Loading happens once per
//! process because ONNX Runtime allows a single environment per process.

use crate::download::{self, DownloadError, DownloadProgress, Expected};
use crate::wheel::{self, WheelError};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The ONNX Runtime release Glimpse is built and tested against.
pub const ORT_VERSION: &str = "1.31.1";
/// Where PyPI serves wheel files; the pinned URL paths below are relative to it.
pub(crate) const DEFAULT_WHEEL_INDEX: &str = crate::wheel::PYPI_FILES;
/// Environment variable that replaces [`DEFAULT_WHEEL_INDEX`] (a PyPI mirror with the same paths).
pub(crate) const MIRROR_ENV: &str = "GLIMPSE_ORT_MIRROR";
/// Environment variable naming the shared library to use, the same one `ort` itself reads.
pub const DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// One pinned `onnxruntime` wheel and the shared library inside it, so a download can be
/// verified end to end (wheel sha256, then library sha256) without trusting the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WheelPin {
    /// Glimpse's platform key, `<os>-<arch>` as in [`platform`].
    pub platform: &'static str,
    /// The wheel's file name.
    pub wheel: &'static str,
    /// The wheel's path below the wheel index (starts with `/packages/`).
    pub url_path: &'static str,
    /// sha256 of the wheel, as published by PyPI.
    pub wheel_sha256: &'static str,
    /// Size of the wheel in bytes.
    pub wheel_size: u64,
    /// Path of the shared library inside the wheel (a zip archive).
    pub member: &'static str,
    /// sha256 of the extracted shared library.
    pub library_sha256: &'static str,
    /// Size of the extracted shared library in bytes.
    pub library_size: u64,
}

impl WheelPin {
    /// File name of the shared library (the last part of [`WheelPin::member`]).
    pub(crate) fn library_name(&self) -> &'static str {
        self.member.rsplit('/').next().unwrap_or(self.member)
    }

    /// Full download URL of the wheel below `index`.
    pub(crate) fn url(&self, index: &str) -> String {
        format!("{}{}", index.trim_end_matches('/'), self.url_path)
    }
}

/// The pinned wheels of onnxruntime 1.31.1 (cp312 builds; the shared library is identical across
/// Python versions). Wheel sha256/size from PyPI's simple index
/// (`https://pypi.org/simple/onnxruntime/`, JSON form); each wheel was downloaded and checked
/// against it, and the library sha256/size were computed from the extracted member.
/// PyPI publishes no macOS x86_64 wheel for 1.31.1.
pub(crate) const WHEEL_PINS: &[WheelPin] = &[
    WheelPin {
        platform: "linux-x86_64",
        wheel: "onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl",
        url_path: "/packages/eb/27/c6a823bac55b2977bea2027c3ec9393a2c1002cb9a09eb40354563e02730/onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl",
        wheel_sha256: "1f3dea47f2f0e5117c2404cea7d21fd253ae7836a3bf167a501cdfbb2600d536",
        wheel_size: 23_760_988,
        member: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        library_sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
        library_size: 29_352_200,
    },
    WheelPin {
        platform: "linux-aarch64",
        wheel: "onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_aarch64.whl",
        url_path: "/packages/ba/e4/1ed1a7a5f4702d899091fa2b976d377995250c307326ec8dc9ae6378aa13/onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_aarch64.whl",
        wheel_sha256: "0b9a492176886992e0e875f06bc0367e333f5fff11711a2d642e18b02f3009cc",
        wheel_size: 21_420_803,
        member: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        library_sha256: "8aa3b76b28c778a2b1dd660d34161adb1d508c9ccd04ff9dc80e26eca5df8467",
        library_size: 25_265_040,
    },
    WheelPin {
        platform: "macos-aarch64",
        wheel: "onnxruntime-1.31.1-cp312-cp312-macosx_14_0_arm64.whl",
        url_path: "/packages/0e/f7/cecc0efeeea83bff2f7789ae1b80f27fa0f0210d6d9d66d1f0031a6b5e47/onnxruntime-1.31.1-cp312-cp312-macosx_14_0_arm64.whl",
        wheel_sha256: "96dd2564b10ea7153ad9c207e7cd8e5917cb3ba521e0e0a62ac03486fdc8d56c",
        wheel_size: 20_882_125,
        member: "onnxruntime/capi/libonnxruntime.1.31.1.dylib",
        library_sha256: "d586cbe89effc085a09d3341b3cfbd5c322517f9d397aeb20814af21433f2b36",
        library_size: 33_037_336,
    },
    WheelPin {
        platform: "windows-x86_64",
        wheel: "onnxruntime-1.31.1-cp312-cp312-win_amd64.whl",
        url_path: "/packages/45/b2/793b4051d8dc6acb379ead9b72050f0ffa283ca49a6904add2e218b83e2e/onnxruntime-1.31.1-cp312-cp312-win_amd64.whl",
        wheel_sha256: "ae8a9a351efda685cc59a66226cdefaa37a126c1d66872ca23a2de9425326130",
        wheel_size: 14_888_466,
        member: "onnxruntime/capi/onnxruntime.dll",
        library_sha256: "e45f61e50d8650885452be538a00bb14a715e46a1bc3691000ce947e89ed0306",
        library_size: 19_288_376,
    },
    WheelPin {
        platform: "windows-aarch64",
        wheel: "onnxruntime-1.31.1-cp312-cp312-win_arm64.whl",
        url_path: "/packages/ed/72/09d635ab4b6137d8ac63d4911a37dad8b1ef15a77d20b65d7ed40fdca012/onnxruntime-1.31.1-cp312-cp312-win_arm64.whl",
        wheel_sha256: "fe8b9ac1ae8e894e12c47ee82e4f6dfc1835768133687257866469fda80d0bf1",
        wheel_size: 14_740_724,
        member: "onnxruntime/capi/onnxruntime.dll",
        library_sha256: "dc9e2fe646a72829386a24ac9185a7a4e26d7dbe5dc433d41df063603c00bbc7",
        library_size: 19_171_640,
    },
];

/// This machine's platform key (`linux-x86_64`, `macos-aarch64`, ...), used for pins and the
/// cache layout.
pub(crate) fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The pinned wheel for this machine, if PyPI has one.
pub(crate) fn current_pin() -> Option<&'static WheelPin> {
    let p = platform();
    WHEEL_PINS.iter().find(|pin| pin.platform == p)
}

/// The versioned file name ONNX Runtime's shared library has on this OS, used when no pin exists.
pub(crate) fn library_file_name() -> String {
    match std::env::consts::OS {
        "windows" => "onnxruntime.dll".to_string(),
        "macos" | "ios" => format!("libonnxruntime.{ORT_VERSION}.dylib"),
        _ => format!("libonnxruntime.so.{ORT_VERSION}"),
    }
}

/// Default cache folder (`<platform cache dir>/glimpse`), shared by the CLI and the app.
pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .map(|d| d.join("glimpse"))
        .unwrap_or_else(|| std::env::temp_dir().join("glimpse-cache"))
}

/// Where and how to find ONNX Runtime; a value so that tests and the CLI (`--offline`) can steer
/// the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// Glimpse's cache folder; the library lives at `<cache>/onnxruntime/<version>/<platform>/`.
    pub cache_dir: PathBuf,
    /// Whether a missing library may be downloaded.
    pub allow_download: bool,
    /// Base URL of the wheel files (`DEFAULT_WHEEL_INDEX` unless `MIRROR_ENV` is set).
    pub wheel_index: String,
}

impl RuntimeOptions {
    /// Options for `cache_dir`, downloads allowed, wheel index from `MIRROR_ENV` or PyPI.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        let wheel_index = std::env::var(MIRROR_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_WHEEL_INDEX.to_string());
        Self {
            cache_dir: cache_dir.into(),
            allow_download: true,
            wheel_index,
        }
    }

    /// The same options with downloads allowed or not (for `--offline`), chainable after
    /// `default()`.
    pub fn with_download(mut self, allow: bool) -> Self {
        self.allow_download = allow;
        self
    }

    /// The folder the library of `platform` is cached in.
    pub fn platform_dir(&self, platform: &str) -> PathBuf {
        self.cache_dir
            .join("onnxruntime")
            .join(ORT_VERSION)
            .join(platform)
    }

    /// Where this machine's library is cached (and where to put it by hand).
    pub fn cached_library_path(&self) -> PathBuf {
        match current_pin() {
            Some(pin) => self.platform_dir(pin.platform).join(pin.library_name()),
            None => self.platform_dir(&platform()).join(library_file_name()),
        }
    }
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self::new(default_cache_dir())
    }
}

/// Where the library was found, so the UI can say which ONNX Runtime is in use and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LibrarySource {
    /// From `ORT_DYLIB_PATH`.
    EnvVar,
    /// Shipped beside the executable or in the app bundle.
    NextToExecutable,
    /// Found in the user cache from an earlier download or manual install.
    Cache,
    /// Downloaded just now.
    Downloaded,
}

/// A library file and how it was found, the result of [`locate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The shared library.
    pub path: PathBuf,
    /// How it was found.
    pub source: LibrarySource,
}

/// A loaded ONNX Runtime: the process-wide environment that every session is created from.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The environment (`Session::builder(&runtime.env)`).
    pub env: ort::environment::Environment,
    /// The shared library loaded.
    pub library: PathBuf,
    /// How it was found.
    pub source: LibrarySource,
    /// ONNX Runtime's version as it reports it, e.g. `1.31.1`.
    pub version: Option<String>,
}

/// Why ONNX Runtime could not be found or loaded; each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// `ORT_DYLIB_PATH` names a file that does not exist; falling through would hide the typo.
    #[error(
        "{DYLIB_ENV} is set to {} but that file does not exist; point it at the ONNX Runtime \
         {ORT_VERSION} shared library ({name}) or unset it", path.display()
    )]
    EnvPathMissing {
        /// The value of the variable.
        path: PathBuf,
        /// The library file name expected on this platform.
        name: String,
    },
    /// Not found locally and downloading is disabled or impossible.
    #[error("ONNX Runtime {ORT_VERSION} was not found ({reason}); looked for {tried}. {manual}")]
    NotFound {
        /// Why no download was attempted.
        reason: String,
        /// The places searched.
        tried: String,
        /// How to install it by hand.
        manual: String,
    },
    /// The wheel download failed.
    #[error("could not download ONNX Runtime {ORT_VERSION}: {source}. {manual}")]
    Fetch {
        /// The download failure.
        #[source]
        source: DownloadError,
        /// How to install it by hand.
        manual: String,
    },
    /// The downloaded wheel does not contain the expected library.
    #[error("the ONNX Runtime wheel {wheel} is unusable: {message}. {manual}")]
    Wheel {
        /// The wheel file name.
        wheel: String,
        /// What is wrong.
        message: String,
        /// How to install it by hand.
        manual: String,
    },
    /// A local file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The library exists but the OS or `ort` refused it (wrong architecture, too old, ...).
    #[error("cannot load ONNX Runtime from {}: {message}", path.display())]
    Load {
        /// The library.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// The library loaded but the environment could not be created.
    #[error("ONNX Runtime from {} loaded but its environment could not be created: {message}", path.display())]
    Environment {
        /// The library.
        path: PathBuf,
        /// ONNX Runtime's message.
        message: String,
    },
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> RuntimeError + 'a {
    move |source| RuntimeError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What to tell a user who must install the library by hand.
fn manual_instructions(opts: &RuntimeOptions, pin: Option<&WheelPin>, cache_path: &Path) -> String {
    match pin {
        Some(pin) => format!(
            "To install it by hand, download {} (sha256 {}), open it as a zip archive, extract \
             `{}` and save it as {}; or set {DYLIB_ENV} to the full path of an ONNX Runtime \
             {ORT_VERSION} shared library",
            pin.url(&opts.wheel_index),
            pin.wheel_sha256,
            pin.member,
            cache_path.display()
        ),
        None => format!(
            "No ONNX Runtime {ORT_VERSION} wheel is pinned for {}; install ONNX Runtime \
             {ORT_VERSION} (for example `pip install onnxruntime=={ORT_VERSION}`, the library is \
             in onnxruntime/capi/) and set {DYLIB_ENV} to its shared library, or copy it to {}",
            platform(),
            cache_path.display()
        ),
    }
}

/// The inputs of a search, separated from the process environment so tests can vary them.
struct Probe<'a> {
    env_value: Option<OsString>,
    exe_dir: Option<PathBuf>,
    pin: Option<&'a WheelPin>,
    library_name: String,
}

impl Probe<'static> {
    fn from_process() -> Self {
        let pin = current_pin();
        Probe {
            env_value: std::env::var_os(DYLIB_ENV),
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf)),
            pin,
            library_name: pin
                .map(|p| p.library_name().to_string())
                .unwrap_or_else(library_file_name),
        }
    }
}

/// Folders beside the executable that bundled apps use: the folder itself, `../lib` (Linux
/// packages), `../Frameworks` and `../Resources` (macOS app bundles).
fn bundle_dirs(exe_dir: &Path) -> Vec<PathBuf> {
    vec![
        exe_dir.to_path_buf(),
        exe_dir.join("lib"),
        exe_dir.join("..").join("lib"),
        // Linux packages: /usr/bin/glimpse-app beside /usr/lib/glimpse/.
        exe_dir.join("..").join("lib").join("glimpse"),
        exe_dir.join("..").join("Frameworks"),
        exe_dir.join("..").join("Resources"),
    ]
}

fn locate_with(
    opts: &RuntimeOptions,
    probe: &Probe<'_>,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Located, RuntimeError> {
    // 1. ORT_DYLIB_PATH: if set, it must be right.
    if let Some(value) = probe.env_value.as_ref().filter(|v| !v.is_empty()) {
        let given = PathBuf::from(value);
        let mut candidates = vec![given.clone()];
        if given.is_relative() {
            if let Some(dir) = &probe.exe_dir {
                candidates.push(dir.join(&given));
            }
        }
        return match candidates.into_iter().find(|c| c.is_file()) {
            Some(path) => {
                tracing::debug!(path = %path.display(), "ONNX Runtime from {DYLIB_ENV}");
                Ok(Located {
                    path,
                    source: LibrarySource::EnvVar,
                })
            }
            None => Err(RuntimeError::EnvPathMissing {
                path: given,
                name: probe.library_name.clone(),
            }),
        };
    }

    let mut tried: Vec<String> = Vec::new();

    // 2. Beside the executable.
    if let Some(exe_dir) = &probe.exe_dir {
        let generic = format!(
            "{}onnxruntime{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        let mut names = vec![probe.library_name.clone()];
        if generic != probe.library_name {
            names.push(generic);
        }
        let dirs = bundle_dirs(exe_dir);
        for dir in &dirs {
            for name in &names {
                let path = dir.join(name);
                if path.is_file() {
                    tracing::debug!(path = %path.display(), "ONNX Runtime beside the executable");
                    return Ok(Located {
                        path,
                        source: LibrarySource::NextToExecutable,
                    });
                }
            }
        }
        tried.push(format!(
            "{} in {}",
            names.join(" or "),
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    // 3. The cache.
    let platform_key = probe
        .pin
        .map(|p| p.platform.to_string())
        .unwrap_or_else(platform);
    let cache_path = opts.platform_dir(&platform_key).join(&probe.library_name);
    match std::fs::metadata(&cache_path) {
        Ok(meta) if meta.is_file() => {
            let expected = probe.pin.map(|p| p.library_size);
            if expected.is_none_or(|size| size == meta.len()) {
                tracing::debug!(path = %cache_path.display(), "ONNX Runtime from the cache");
                return Ok(Located {
                    path: cache_path,
                    source: LibrarySource::Cache,
                });
            }
            tracing::warn!(
                path = %cache_path.display(),
                size = meta.len(),
                expected = ?expected,
                "cached ONNX Runtime has the wrong size; ignoring it"
            );
        }
        _ => {}
    }
    tried.push(format!("{} (cache)", cache_path.display()));

    // 4. Download.
    let manual = manual_instructions(opts, probe.pin, &cache_path);
    let tried_text = tried.join("; ");
    let pin = match probe.pin {
        Some(pin) if opts.allow_download => pin,
        Some(_) => {
            return Err(RuntimeError::NotFound {
                reason: "downloads are disabled".into(),
                tried: tried_text,
                manual,
            })
        }
        None => {
            return Err(RuntimeError::NotFound {
                reason: format!("no prebuilt library is pinned for {platform_key}"),
                tried: tried_text,
                manual,
            })
        }
    };
    let path = fetch_library(opts, pin, progress)?;
    Ok(Located {
        path,
        source: LibrarySource::Downloaded,
    })
}

/// Finds ONNX Runtime (env var, beside the executable, cache) and downloads it into the cache
/// when absent and allowed, silently; the single entry point for "where is the library".
pub fn locate(opts: &RuntimeOptions) -> Result<Located, RuntimeError> {
    locate_with_progress(opts, &mut |_| {})
}

/// [`locate`], reporting a download's progress to `progress`, so a caller can show it (the CLI
/// draws a bar) while the engine draws nothing itself.
pub(crate) fn locate_with_progress(
    opts: &RuntimeOptions,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Located, RuntimeError> {
    locate_with(opts, &Probe::from_process(), progress)
}

/// Downloads the wheel of `pin`, checks it, and extracts only its shared library into the cache
/// atomically; separate from [`locate`] so that tests can inject a pin and a local server.
pub(crate) fn fetch_library(
    opts: &RuntimeOptions,
    pin: &WheelPin,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<PathBuf, RuntimeError> {
    let dir = opts.platform_dir(pin.platform);
    let dest = dir.join(pin.library_name());
    let manual = manual_instructions(opts, Some(pin), &dest);
    std::fs::create_dir_all(&dir).map_err(io_err("cannot create folder", &dir))?;
    // A run that died mid-download (killed, power cut) could not remove its folder or its
    // half-extracted library: remove those now, before adding our own.
    download::clean_stale_partials(&dir, download::STALE_PARTIAL_AGE);
    // The wheel goes into a private folder that is removed whatever happens.
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(&dir)
        .map_err(io_err("cannot create a temporary folder in", &dir))?;
    let wheel_path = staging.path().join(pin.wheel);
    let url = pin.url(&opts.wheel_index);
    let expected =
        Expected::from_hex(Some(pin.wheel_sha256), Some(pin.wheel_size)).map_err(|source| {
            RuntimeError::Fetch {
                source,
                manual: manual.clone(),
            }
        })?;
    tracing::info!(%url, "downloading ONNX Runtime {ORT_VERSION}");
    download::download_verified(&url, &wheel_path, expected, progress).map_err(|source| {
        RuntimeError::Fetch {
            source,
            manual: manual.clone(),
        }
    })?;
    extract_library(&wheel_path, pin, &dest, &manual)?;
    drop(staging);
    tracing::info!(path = %dest.display(), "ONNX Runtime {ORT_VERSION} installed in the cache");
    Ok(dest)
}

/// Copies the library out of the wheel (checked before the rename, see
/// [`wheel::extract_member`]), so a bad archive never leaves a library in the cache.
fn extract_library(
    wheel_path: &Path,
    pin: &WheelPin,
    dest: &Path,
    manual: &str,
) -> Result<(), RuntimeError> {
    let member = wheel::Member {
        path: pin.member,
        sha256: pin.library_sha256,
        size: pin.library_size,
    };
    wheel::extract_member(wheel_path, pin.wheel, &member, dest, true).map_err(|e| match e {
        WheelError::Io {
            action,
            path,
            source,
        } => RuntimeError::Io {
            action,
            path,
            source,
        },
        WheelError::Unusable { message, .. } => RuntimeError::Wheel {
            wheel: pin.wheel.to_string(),
            message,
            manual: manual.to_string(),
        },
        WheelError::Download(e) => RuntimeError::Wheel {
            wheel: pin.wheel.to_string(),
            message: e.to_string(),
            manual: manual.to_string(),
        },
    })
}

/// Extracts the version from `ort::info()` (`... git-branch=rel-1.31.1, ...`).
fn version_from_build_info(info: &str) -> Option<String> {
    let start = info.find("git-branch=rel-")? + "git-branch=rel-".len();
    let rest = &info[start..];
    let end = rest
        .find(|c: char| c == ',' || c.is_whitespace())
        .unwrap_or(rest.len());
    let v = &rest[..end];
    (!v.is_empty()).then(|| v.to_string())
}

/// Asks the loaded library for its version (`OrtGetApiBase()->GetVersionString()`), which `ort`
/// does not expose; `None` if the symbol is missing.
fn library_version(path: &Path) -> Option<String> {
    // SAFETY: `path` was just loaded by `ort::init_from`, so opening it again only takes another
    // reference to the same image and runs no initialisers. `OrtGetApiBase` is the C entry point
    // of every ONNX Runtime build, returning a pointer to a static table whose
    // `GetVersionString` returns a static NUL-terminated string. The handle is leaked on
    // purpose: `ort` keeps the library loaded for the life of the process anyway.
    unsafe {
        let lib = libloading::Library::new(path).ok()?;
        let get_base: libloading::Symbol<
            unsafe extern "system" fn() -> *const ort::sys::OrtApiBase,
        > = lib.get(b"OrtGetApiBase").ok()?;
        let base = get_base();
        let version = if base.is_null() {
            None
        } else {
            let s = ((*base).GetVersionString)();
            (!s.is_null()).then(|| std::ffi::CStr::from_ptr(s).to_string_lossy().into_owned())
        };
        std::mem::forget(lib);
        version
    }
}

/// The runtime loaded in this process; ONNX Runtime allows one dylib and one environment.
static LOADED: Mutex<Option<Runtime>> = Mutex::new(None);

/// Loads a located library and creates the environment (once per process).
pub(crate) fn load_located(located: Located) -> Result<Runtime, RuntimeError> {
    let mut slot = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rt) = slot.as_ref() {
        if rt.library != located.path {
            tracing::warn!(
                loaded = %rt.library.display(),
                requested = %located.path.display(),
                "ONNX Runtime is already loaded in this process; keeping the loaded library"
            );
        }
        return Ok(rt.clone());
    }
    let rt = init(located)?;
    *slot = Some(rt.clone());
    Ok(rt)
}

fn init(located: Located) -> Result<Runtime, RuntimeError> {
    let path = located.path;
    let builder = ort::init_from(&path).map_err(|e| RuntimeError::Load {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let env = builder
        .with_name("glimpse")
        .build()
        .map_err(|e| RuntimeError::Environment {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let version = library_version(&path).or_else(|| version_from_build_info(ort::info()));
    match &version {
        Some(v) if v != ORT_VERSION => tracing::warn!(
            version = %v,
            expected = ORT_VERSION,
            "ONNX Runtime version differs from the one Glimpse is tested with"
        ),
        _ => {}
    }
    tracing::info!(
        library = %path.display(),
        source = ?located.source,
        version = version.as_deref().unwrap_or("unknown"),
        "ONNX Runtime loaded"
    );
    Ok(Runtime {
        env,
        library: path,
        source: located.source,
        version,
    })
}

/// Finds (downloading if allowed) and loads ONNX Runtime, or returns the runtime this process
/// already loaded; the one call the CLI and the app make before creating sessions.
pub fn load(opts: &RuntimeOptions) -> Result<Runtime, RuntimeError> {
    load_with_progress(opts, &mut |_| {})
}

/// [`load`], reporting the progress of a download of the library to `progress`.
pub fn load_with_progress(
    opts: &RuntimeOptions,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Runtime, RuntimeError> {
    if let Some(rt) = loaded() {
        return Ok(rt);
    }
    let located = locate_with_progress(opts, progress)?;
    load_located(located)
}

/// The runtime already loaded in this process, if any (for status displays).
pub fn loaded() -> Option<Runtime> {
    LOADED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::testserver::{bytes, dead_url, listing, Reply, TestServer};
    use sha2::{Digest, Sha256};
    use std::io::Write;

    const FAKE_MEMBER: &str = "onnxruntime/capi/libonnxruntime.so.9.9.9";

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    /// A fake wheel holding a fake library, and a pin that matches it.
    fn fake_wheel() -> (Vec<u8>, Vec<u8>, WheelPin) {
        use zip::write::SimpleFileOptions;
        let lib = bytes(300_000, 42);
        let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zw.start_file("onnxruntime/__init__.py", opts).unwrap();
        zw.write_all(b"# fake\n").unwrap();
        zw.start_file(FAKE_MEMBER, opts).unwrap();
        zw.write_all(&lib).unwrap();
        zw.start_file("onnxruntime/capi/other.so", opts).unwrap();
        zw.write_all(&bytes(1000, 1)).unwrap();
        let wheel = zw.finish().unwrap().into_inner();
        let pin = WheelPin {
            platform: "test-arch",
            wheel: "onnxruntime-9.9.9-fake.whl",
            url_path: "/packages/aa/bb/onnxruntime-9.9.9-fake.whl",
            wheel_sha256: leak(hex::encode(Sha256::digest(&wheel))),
            wheel_size: wheel.len() as u64,
            member: FAKE_MEMBER,
            library_sha256: leak(hex::encode(Sha256::digest(&lib))),
            library_size: lib.len() as u64,
        };
        (wheel, lib, pin)
    }

    fn opts_for(cache: &Path, index: String, allow_download: bool) -> RuntimeOptions {
        RuntimeOptions {
            cache_dir: cache.to_path_buf(),
            allow_download,
            wheel_index: index,
        }
    }

    fn probe(pin: &WheelPin, env: Option<&Path>, exe: Option<&Path>) -> Probe<'static> {
        let pin: &'static WheelPin = Box::leak(Box::new(*pin));
        Probe {
            env_value: env.map(|p| p.as_os_str().to_owned()),
            exe_dir: exe.map(Path::to_path_buf),
            pin: Some(pin),
            library_name: pin.library_name().to_string(),
        }
    }

    fn nop() -> impl FnMut(DownloadProgress) {
        |_| {}
    }

    #[test]
    fn locate_order_env_then_exe_then_cache() {
        let (_, lib, pin) = fake_wheel();
        let root = tempfile::tempdir().unwrap();
        let env_lib = root.path().join("custom/libort.so");
        let exe_dir = root.path().join("app/bin");
        let cache = root.path().join("cache");
        let opts = opts_for(&cache, dead_url(""), false);
        let cached = opts.platform_dir(pin.platform).join(pin.library_name());
        for p in [&env_lib, &exe_dir.join(pin.library_name()), &cached] {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, &lib).unwrap();
        }

        let l = locate_with(
            &opts,
            &probe(&pin, Some(&env_lib), Some(&exe_dir)),
            &mut nop(),
        )
        .unwrap();
        assert_eq!(
            (l.path.clone(), l.source),
            (env_lib.clone(), LibrarySource::EnvVar)
        );

        let l = locate_with(&opts, &probe(&pin, None, Some(&exe_dir)), &mut nop()).unwrap();
        assert_eq!(l.source, LibrarySource::NextToExecutable);
        assert_eq!(l.path, exe_dir.join(pin.library_name()));

        // A bundled app keeps it in ../lib.
        std::fs::remove_file(exe_dir.join(pin.library_name())).unwrap();
        let bundled = root.path().join("app/lib").join(pin.library_name());
        std::fs::create_dir_all(bundled.parent().unwrap()).unwrap();
        std::fs::write(&bundled, &lib).unwrap();
        let l = locate_with(&opts, &probe(&pin, None, Some(&exe_dir)), &mut nop()).unwrap();
        assert_eq!(l.source, LibrarySource::NextToExecutable);
        assert!(l.path.ends_with(Path::new("lib").join(pin.library_name())));
        std::fs::remove_file(&bundled).unwrap();

        let l = locate_with(&opts, &probe(&pin, None, Some(&exe_dir)), &mut nop()).unwrap();
        assert_eq!((l.path, l.source), (cached, LibrarySource::Cache));

        // An empty variable counts as unset, as in `ort`.
        let mut p = probe(&pin, None, None);
        p.env_value = Some(OsString::new());
        assert_eq!(
            locate_with(&opts, &p, &mut nop()).unwrap().source,
            LibrarySource::Cache
        );
    }

    #[test]
    fn env_var_pointing_nowhere_is_an_error_not_a_fallthrough() {
        let (_, lib, pin) = fake_wheel();
        let root = tempfile::tempdir().unwrap();
        let opts = opts_for(&root.path().join("cache"), dead_url(""), true);
        let cached = opts.platform_dir(pin.platform).join(pin.library_name());
        std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
        std::fs::write(&cached, &lib).unwrap();
        let missing = root.path().join("nope/libonnxruntime.so");
        let err = locate_with(&opts, &probe(&pin, Some(&missing), None), &mut nop()).unwrap_err();
        assert!(
            matches!(err, RuntimeError::EnvPathMissing { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("ORT_DYLIB_PATH") && msg.contains(&missing.display().to_string()),
            "{msg}"
        );
    }

    #[test]
    fn offline_error_says_what_to_download_and_where() {
        let (_, _, pin) = fake_wheel();
        let root = tempfile::tempdir().unwrap();
        let opts = opts_for(
            &root.path().join("cache"),
            "https://mirror.example".into(),
            false,
        );
        let err = locate_with(&opts, &probe(&pin, None, None), &mut nop()).unwrap_err();
        assert!(matches!(err, RuntimeError::NotFound { .. }), "{err:?}");
        let msg = err.to_string();
        let cache_path = opts.platform_dir(pin.platform).join(pin.library_name());
        for needle in [
            "https://mirror.example/packages/aa/bb/onnxruntime-9.9.9-fake.whl",
            FAKE_MEMBER,
            &cache_path.display().to_string(),
            "ORT_DYLIB_PATH",
            "downloads are disabled",
        ] {
            assert!(msg.contains(needle), "missing {needle:?} in: {msg}");
        }
        assert!(
            !root.path().join("cache").exists(),
            "offline search must not create folders"
        );
    }

    #[test]
    fn fetch_extracts_only_the_library_then_cache_is_used() {
        let (wheel, lib, pin) = fake_wheel();
        let server = TestServer::start();
        server.route(pin.url_path, Reply::Ok(wheel));
        let root = tempfile::tempdir().unwrap();
        let opts = opts_for(&root.path().join("cache"), server.base(), true);
        let mut last = None;
        let l = locate_with(&opts, &probe(&pin, None, None), &mut |p| last = Some(p)).unwrap();
        assert_eq!(l.source, LibrarySource::Downloaded);
        assert_eq!(std::fs::read(&l.path).unwrap(), lib);
        assert_eq!(last.unwrap().done, pin.wheel_size);
        let dir = opts.platform_dir(pin.platform);
        assert_eq!(listing(&dir), vec![pin.library_name().to_string()]);
        assert_eq!(server.hits().len(), 1);

        let l = locate_with(&opts, &probe(&pin, None, None), &mut nop()).unwrap();
        assert_eq!(l.source, LibrarySource::Cache);
        assert_eq!(
            server.hits().len(),
            1,
            "the cache must be used without a request"
        );
    }

    #[test]
    fn leftovers_of_a_dead_fetch_are_removed_and_plain_http_mirrors_refused() {
        let (wheel, lib, pin) = fake_wheel();
        let server = TestServer::start();
        server.route(pin.url_path, Reply::Ok(wheel));
        let root = tempfile::tempdir().unwrap();
        let opts = opts_for(&root.path().join("cache"), server.base(), true);
        let dir = opts.platform_dir(pin.platform);
        std::fs::create_dir_all(dir.join(".fetch-dead")).unwrap();
        std::fs::write(dir.join(".fetch-dead").join(pin.wheel), b"half").unwrap();
        std::fs::write(dir.join(".onnxruntime.x1.part"), b"half").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 24 * 3600);
        for p in [
            dir.join(".fetch-dead").join(pin.wheel),
            dir.join(".fetch-dead"),
            dir.join(".onnxruntime.x1.part"),
        ] {
            std::fs::File::open(&p).unwrap().set_modified(old).unwrap();
        }
        let l = locate_with(&opts, &probe(&pin, None, None), &mut nop()).unwrap();
        assert_eq!(std::fs::read(&l.path).unwrap(), lib);
        assert_eq!(listing(&dir), vec![pin.library_name().to_string()]);

        // A mirror over plain http elsewhere than this machine is refused, with the manual steps.
        let other = tempfile::tempdir().unwrap();
        let opts = opts_for(other.path(), "http://mirror.invalid".into(), true);
        let err = fetch_library(&opts, &pin, &mut nop()).unwrap_err();
        match &err {
            RuntimeError::Fetch { source, .. } => {
                assert!(
                    matches!(source, DownloadError::Insecure { .. }),
                    "{source:?}"
                )
            }
            other => panic!("expected Fetch, got {other:?}"),
        }
    }

    #[test]
    fn cached_library_of_wrong_size_is_replaced() {
        let (wheel, lib, pin) = fake_wheel();
        let server = TestServer::start();
        server.route(pin.url_path, Reply::Ok(wheel));
        let root = tempfile::tempdir().unwrap();
        let opts = opts_for(&root.path().join("cache"), server.base(), true);
        let cached = opts.platform_dir(pin.platform).join(pin.library_name());
        std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
        std::fs::write(&cached, b"torn").unwrap();
        let l = locate_with(&opts, &probe(&pin, None, None), &mut nop()).unwrap();
        assert_eq!(l.source, LibrarySource::Downloaded);
        assert_eq!(std::fs::read(&cached).unwrap(), lib);
    }

    fn assert_nothing_extracted(opts: &RuntimeOptions, pin: &WheelPin) {
        let dir = opts.platform_dir(pin.platform);
        assert!(listing(&dir).is_empty(), "left behind: {:?}", listing(&dir));
    }

    #[test]
    fn wrong_wheel_hash_extracts_nothing() {
        let (wheel, _, mut pin) = fake_wheel();
        pin.wheel_sha256 = "00".repeat(32).leak();
        let server = TestServer::start();
        server.route(pin.url_path, Reply::Ok(wheel));
        let root = tempfile::tempdir().unwrap();
        let opts = opts_for(&root.path().join("cache"), server.base(), true);
        let err = fetch_library(&opts, &pin, &mut nop()).unwrap_err();
        assert!(
            matches!(
                err,
                RuntimeError::Fetch {
                    source: DownloadError::Hash { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(FAKE_MEMBER),
            "manual steps expected: {err}"
        );
        assert_nothing_extracted(&opts, &pin);
    }

    #[test]
    fn truncated_wheel_extracts_nothing() {
        let (wheel, _, pin) = fake_wheel();
        let server = TestServer::start();
        server.route(
            pin.url_path,
            Reply::Truncated {
                body: wheel[..wheel.len() / 2].to_vec(),
                claimed: wheel.len() as u64,
            },
        );
        let root = tempfile::tempdir().unwrap();
        let opts = opts_for(&root.path().join("cache"), server.base(), true);
        let err = locate_with(&opts, &probe(&pin, None, None), &mut nop()).unwrap_err();
        assert!(
            matches!(
                err,
                RuntimeError::Fetch {
                    source: DownloadError::Truncated { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        assert_nothing_extracted(&opts, &pin);
    }

    #[test]
    fn unreachable_index_gives_manual_steps() {
        let (_, _, pin) = fake_wheel();
        let root = tempfile::tempdir().unwrap();
        let index = dead_url("");
        let opts = opts_for(&root.path().join("cache"), index.clone(), true);
        let err = locate_with(&opts, &probe(&pin, None, None), &mut nop()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, RuntimeError::Fetch { .. }), "{err:?}");
        assert!(
            msg.contains(&pin.url(&index)) && msg.contains("ORT_DYLIB_PATH"),
            "{msg}"
        );
        assert_nothing_extracted(&opts, &pin);
    }

    #[test]
    fn wheel_without_the_library_or_with_a_bad_one_extracts_nothing() {
        let (wheel, _, pin) = fake_wheel();
        let server = TestServer::start();
        server.route(pin.url_path, Reply::Ok(wheel));
        let root = tempfile::tempdir().unwrap();
        let opts = opts_for(&root.path().join("cache"), server.base(), true);

        let mut wrong_member = pin;
        wrong_member.member = "onnxruntime/capi/libonnxruntime.so.0.0.0";
        let err = fetch_library(&opts, &wrong_member, &mut nop()).unwrap_err();
        assert!(matches!(err, RuntimeError::Wheel { .. }), "{err:?}");
        assert_nothing_extracted(&opts, &wrong_member);

        let mut wrong_hash = pin;
        wrong_hash.library_sha256 = "11".repeat(32).leak();
        let err = fetch_library(&opts, &wrong_hash, &mut nop()).unwrap_err();
        assert!(matches!(err, RuntimeError::Wheel { .. }), "{err:?}");
        assert!(err.to_string().contains(&"11".repeat(32)));
        assert_nothing_extracted(&opts, &wrong_hash);
    }

    #[test]
    fn pins_are_consistent() {
        for pin in WHEEL_PINS {
            assert!(
                pin.wheel
                    .starts_with(&format!("onnxruntime-{ORT_VERSION}-")),
                "{pin:?}"
            );
            assert!(pin.url_path.starts_with("/packages/") && pin.url_path.ends_with(pin.wheel));
            assert!(download::parse_sha256(pin.wheel_sha256).is_ok());
            assert!(download::parse_sha256(pin.library_sha256).is_ok());
            assert!(pin.member.starts_with("onnxruntime/capi/"));
            assert!(pin.library_name().contains("onnxruntime"));
            assert!(pin.wheel_size > 1_000_000 && pin.library_size > 1_000_000);
        }
        let mut platforms: Vec<_> = WHEEL_PINS.iter().map(|p| p.platform).collect();
        platforms.sort();
        platforms.dedup();
        assert_eq!(platforms.len(), WHEEL_PINS.len(), "one pin per platform");
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            let pin = current_pin().expect("linux-x86_64 is pinned");
            assert_eq!(pin.library_name(), library_file_name());
        }
    }

    #[test]
    fn options_default_and_mirror() {
        let o = RuntimeOptions::new("/tmp/c");
        assert!(o.allow_download);
        assert!(!o.clone().with_download(false).allow_download);
        assert!(!o.wheel_index.is_empty());
        assert!(o
            .cached_library_path()
            .starts_with(Path::new("/tmp/c/onnxruntime").join(ORT_VERSION)));
    }

    #[test]
    fn build_info_version_is_parsed() {
        let info = "ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc, build type=Release";
        assert_eq!(version_from_build_info(info).as_deref(), Some("1.31.1"));
        assert_eq!(version_from_build_info("ORT Build Info: nothing"), None);
    }

    /// Fetches the real pinned wheel for this machine from PyPI (~24 MB): proves the pins and the
    /// whole fetch path against the real index. The package registry is reachable wherever the
    /// test suite runs (its setup downloads the same wheel).
    #[test]
    fn real_pinned_wheel_fetch() {
        let pin = current_pin().expect("this platform has a pin");
        let root = tempfile::tempdir().unwrap();
        let opts = RuntimeOptions::new(root.path());
        let path = fetch_library(&opts, pin, &mut |_| {}).unwrap();
        let (sha, size) = download::sha256_file(&path).unwrap();
        assert_eq!(size, pin.library_size);
        assert_eq!(hex::encode(sha), pin.library_sha256);
    }
}
