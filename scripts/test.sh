#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs prerequisites, then checks
# formatting, lints and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_DYLIB_PATH=$(bash scripts/setup.sh)
export ORT_DYLIB_PATH
export PATH="$HOME/.cargo/bin:$PATH"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
