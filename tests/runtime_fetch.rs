//! Its own test binary: ONNX Runtime can be loaded once per process, and this checks the first
//! load, from `ORT_DYLIB_PATH`, which another test's `common::runtime()` could have made first.
//!
//! Loads the real ONNX Runtime named by `ORT_DYLIB_PATH` and runs a tiny model through it, so CI
//! proves that `runtime::load` works with the pinned release. This test fails (rather than
//! passing silently) when `ORT_DYLIB_PATH` is not set: set it to
//! `.../onnxruntime/capi/libonnxruntime.so.1.31.1` from the onnxruntime 1.31.1 wheel.
//! Everything lives in one test function for the same reason.

use glimpse_clip::runtime::{self, LibrarySource, RuntimeOptions, DYLIB_ENV, ORT_VERSION};
use ort::session::Session;
use ort::value::Tensor;

/// `y = 2 * x` for `x: float32[1, 3]` (ONNX opset 13), made with `onnx.helper`.
const DOUBLE_MODEL: &[u8] = &[
    8, 8, 58, 85, 10, 16, 10, 1, 120, 10, 3, 116, 119, 111, 18, 1, 121, 34, 3, 77, 117, 108, 18, 6,
    100, 111, 117, 98, 108, 101, 42, 15, 8, 1, 16, 1, 34, 4, 0, 0, 0, 64, 66, 3, 116, 119, 111, 90,
    19, 10, 1, 120, 18, 14, 10, 12, 8, 1, 18, 8, 10, 2, 8, 1, 10, 2, 8, 3, 98, 19, 10, 1, 121, 18,
    14, 10, 12, 8, 1, 18, 8, 10, 2, 8, 1, 10, 2, 8, 3, 66, 4, 10, 0, 16, 13,
];

#[test]
fn loads_real_onnx_runtime_from_env_and_runs_a_model() {
    let Some(lib) = std::env::var_os(DYLIB_ENV).filter(|v| !v.is_empty()) else {
        panic!(
            "{DYLIB_ENV} is not set. This test needs the real ONNX Runtime {ORT_VERSION} library: \
             set {DYLIB_ENV} to onnxruntime/capi/libonnxruntime.so.{ORT_VERSION} (or the .dylib / \
             onnxruntime.dll) from the onnxruntime=={ORT_VERSION} wheel, e.g. \
             `pip download --no-deps onnxruntime=={ORT_VERSION} -d /tmp/w && unzip /tmp/w/*.whl \
             'onnxruntime/capi/*' -d /tmp/w`"
        );
    };
    let cache = tempfile::tempdir().unwrap();
    let mut opts = RuntimeOptions::new(cache.path());
    opts.allow_download = false;

    let located = runtime::locate(&opts).unwrap();
    assert_eq!(located.source, LibrarySource::EnvVar);
    assert_eq!(located.path, std::path::PathBuf::from(&lib));

    let rt = runtime::load(&opts).unwrap();
    assert_eq!(rt.source, LibrarySource::EnvVar);
    assert_eq!(
        rt.version.as_deref(),
        Some(ORT_VERSION),
        "build info: {}",
        ort::info()
    );

    // A second load is the same runtime, not a second environment (which ONNX Runtime forbids).
    let again = runtime::load(&opts).unwrap();
    assert_eq!(again.library, rt.library);
    assert!(runtime::loaded().is_some());

    let mut session = Session::builder(&rt.env)
        .unwrap()
        .commit_from_memory(DOUBLE_MODEL)
        .unwrap();
    let x = Tensor::from_array(([1usize, 3], vec![1.0f32, 2.0, 3.0])).unwrap();
    let outputs = session.run(ort::inputs!["x" => x]).unwrap();
    let (_, y) = outputs["y"].try_extract_tensor::<f32>().unwrap();
    assert_eq!(y, &[2.0, 4.0, 6.0]);
}
