#!/usr/bin/env bash
# Runs the glimpse CLI (release build) on a fresh machine: installs prerequisites, builds, runs.
#   bash scripts/run.sh embed text --model models/test/tiny-clip "a red circle"
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_DYLIB_PATH=$(bash scripts/setup.sh)
export ORT_DYLIB_PATH
# The OCR models setup.sh fetched (the CLI would otherwise fetch them into the user cache).
export GLIMPSE_OCR_MODELS=${GLIMPSE_OCR_MODELS:-$PWD/.cache/ocr/ppocr-v4}
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --quiet --bin glimpse
exec target/release/glimpse "$@"
