#!/usr/bin/env bash
# Installs what building and testing Glimpse needs on a fresh Debian machine, idempotently:
#   - apt: cmake + nasm (turbojpeg builds a vendored libjpeg-turbo), pkg-config, python3-pip
#   - the ONNX Runtime shared library, from PyPI's pinned onnxruntime wheel (sha256-checked),
#     unpacked into .cache/onnxruntime/ (the engine can fetch it by itself too; CI pins it here)
# Prints nothing on stdout but the library path, so callers can `export ORT_DYLIB_PATH=$(...)`.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.31.1
# sha256 of libonnxruntime.so.1.31.1 inside the Linux x86_64 wheels (identical across cp3xx tags).
ORT_LIB_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
ORT_DIR=.cache/onnxruntime/$ORT_VERSION
LIB=$ORT_DIR/libonnxruntime.so.$ORT_VERSION

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v nasm >/dev/null || need_apt+=(nasm)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

if [[ ! -f $LIB ]]; then
  echo "setup: fetching onnxruntime $ORT_VERSION from PyPI" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    "onnxruntime==$ORT_VERSION" -d "$tmp" >&2
  mkdir -p "$ORT_DIR"
  python3 - "$tmp" "$ORT_DIR" "$ORT_VERSION" "$ORT_LIB_SHA256" >&2 <<'PY'
import glob, hashlib, os, sys, zipfile
src, dst, ver, want = sys.argv[1:]
wheels = glob.glob(os.path.join(src, "onnxruntime-*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one onnxruntime wheel, found {wheels}")
name = f"onnxruntime/capi/libonnxruntime.so.{ver}"
with zipfile.ZipFile(wheels[0]) as z:
    data = z.read(name)
got = hashlib.sha256(data).hexdigest()
if os.uname().machine == "x86_64" and got != want:
    sys.exit(f"{name} in {wheels[0]} has sha256 {got}, expected {want}: refusing to use it")
out = os.path.join(dst, f"libonnxruntime.so.{ver}")
with open(out + ".tmp", "wb") as f:
    f.write(data)
os.replace(out + ".tmp", out)
print(f"setup: {os.path.basename(wheels[0])} -> {out} sha256 {hashlib.sha256(data).hexdigest()}")
PY
fi
realpath "$LIB"
