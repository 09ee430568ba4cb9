#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs prerequisites, then checks
# formatting, lints, the UI's types and unit tests, the Rust test suite, and the end-to-end tests that
# drive the real desktop window under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_DYLIB_PATH=$(bash scripts/setup.sh --app)
export ORT_DYLIB_PATH
export PATH="$HOME/.cargo/bin:$PATH"
cargo fmt --all -- --check
# The window's page: types (components and tests), unit tests, then the bundle the app embeds
# at compile time.
npm --prefix ui run check
npm --prefix ui test
npm --prefix ui run build
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every crate's documentation builds without a broken link (the doctests run with the tests).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
cargo test --workspace --locked
cargo build --locked -p glimpse-app
python3 tests/e2e/run.py --app target/debug/glimpse-app
