#!/usr/bin/env bash
# Installs what building and testing Glimpse needs on a fresh Debian machine, idempotently:
#   - apt: cmake + nasm (turbojpeg builds a vendored libjpeg-turbo), pkg-config, python3-pip,
#     and the codec libraries Glimpse loads at run time: libheif (HEIC/AVIF), LibRaw (RAWs
#     without a usable preview) and libtiff (the TIFF variants scanners and archives write)
#   - the ONNX Runtime shared library, from PyPI's pinned onnxruntime wheel (sha256-checked),
#     unpacked into .cache/onnxruntime/ (the engine can fetch it by itself too; CI pins it here)
#   - the OCR models (PP-OCRv4 detection, orientation, recognition) from PyPI's pinned
#     rapidocr-onnxruntime wheel (sha256-checked), into .cache/ocr/ppocr-v4/, where the tests
#     read them (the engine fetches them into the user cache by itself; the pins are in
#     crates/ocr/src/models.rs, and tests/ocr checks this folder against them)
#   - with --app: what the desktop app builds and is tested with: WebKitGTK and GTK headers
#     (Tauri 2), Node's npm packages of ui/, Xvfb, WebKitWebDriver, xdotool, ImageMagick, GTK
#     for Python (the drag source) and tauri-driver (cargo install, pinned).
# Prints nothing on stdout but the library path, so callers can `export ORT_DYLIB_PATH=$(...)`.
set -euo pipefail
cd "$(dirname "$0")/.."
APP=0
[[ ${1:-} == --app ]] && APP=1
TAURI_DRIVER_VERSION=2.1.0

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
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
apt_updated=0
apt_update() {
  ((apt_updated)) && return
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  apt_updated=1
}
# Run-time codec libraries, by the package name of this Debian release (12: libraw20).
for choices in "libheif1" "libraw23 libraw20" "libtiff6 libtiff5"; do
  for pkg in $choices; do
    if installed "$pkg"; then continue 2; fi
  done
  apt_update
  for pkg in $choices; do
    if apt-cache show "$pkg" >/dev/null 2>&1; then need_apt+=("$pkg"); continue 2; fi
  done
  echo "setup: none of $choices is known to apt" >&2
done
if ((APP)); then
  for pkg in build-essential pkg-config file libwebkit2gtk-4.1-dev libsoup-3.0-dev \
    libjavascriptcoregtk-4.1-dev libgtk-3-dev libxdo-dev libssl-dev \
    libayatana-appindicator3-dev librsvg2-dev webkit2gtk-driver xvfb xauth imagemagick \
    dbus-x11 at-spi2-core xdotool python3-gi gir1.2-gtk-3.0 nodejs npm; do
    installed "$pkg" || need_apt+=("$pkg")
  done
  # Node and npm may come from elsewhere than Debian (the CI image has them).
  if command -v node >/dev/null && command -v npm >/dev/null; then
    filtered=()
    for p in "${need_apt[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
    need_apt=("${filtered[@]}")
  fi
fi
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_update
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
OCR_DIR=.cache/ocr/ppocr-v4
OCR_WHEEL=rapidocr_onnxruntime-1.4.4-py3-none-any.whl
OCR_WHEEL_SHA256=971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf
if [[ ! -f $OCR_DIR/ch_PP-OCRv4_rec_infer.onnx || ! -f $OCR_DIR/ch_PP-OCRv4_det_infer.onnx ||
  ! -f $OCR_DIR/ch_ppocr_mobile_v2.0_cls_infer.onnx ]]; then
  echo "setup: fetching the OCR models (rapidocr-onnxruntime 1.4.4) from PyPI" >&2
  ocr_tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    "rapidocr-onnxruntime==1.4.4" -d "$ocr_tmp" >&2
  mkdir -p "$OCR_DIR"
  python3 - "$ocr_tmp/$OCR_WHEEL" "$OCR_DIR" "$OCR_WHEEL_SHA256" >&2 <<'PY'
import hashlib, os, sys, zipfile
wheel, dst, want = sys.argv[1:]
got = hashlib.sha256(open(wheel, "rb").read()).hexdigest()
if got != want:
    sys.exit(f"{wheel} has sha256 {got}, expected {want}: refusing to use it")
with zipfile.ZipFile(wheel) as z:
    for name in ("ch_PP-OCRv4_det_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx",
                 "ch_PP-OCRv4_rec_infer.onnx"):
        out = os.path.join(dst, name)
        with open(out + ".tmp", "wb") as f:
            f.write(z.read("rapidocr_onnxruntime/models/" + name))
        os.replace(out + ".tmp", out)
        print(f"setup: {name} -> {out}")
PY
  rm -rf "$ocr_tmp"
fi
if ((APP)); then
  if ! tauri-driver --help >/dev/null 2>&1 && ! "$HOME/.cargo/bin/tauri-driver" --help >/dev/null 2>&1; then
    echo "setup: installing tauri-driver $TAURI_DRIVER_VERSION" >&2
    cargo install --quiet --locked --version "$TAURI_DRIVER_VERSION" tauri-driver >&2
  fi
  if [[ ! -d ui/node_modules ]] || [[ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]]; then
    echo "setup: npm ci in ui/" >&2
    npm --prefix ui ci --no-audit --no-fund --loglevel=error >&2
  fi
fi
realpath "$LIB"
