#!/usr/bin/env bash
# Builds the desktop app's Debian package (target/release/bundle/deb/Glimpse_*.deb): the page,
# then the release binary without debug info (the workspace's release profile keeps line tables
# for profiling), bundled with the ONNX Runtime library from .cache/ (installed to
# /usr/lib/glimpse/, where the app looks beside its executable).
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_DYLIB_PATH=$(bash scripts/setup.sh --app)
export ORT_DYLIB_PATH
export PATH="$HOME/.cargo/bin:$PATH"
npm --prefix ui run build
CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true \
  ui/node_modules/.bin/tauri build --bundles deb
ls -l target/release/bundle/deb/*.deb
