#!/usr/bin/env bash
# Regenerates the app icon set in icons/ from the one committed source, icons/source.svg
# (Tauri's `icon` command: PNG sizes for Linux and Windows tiles, .ico and .icns).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x ui/node_modules/.bin/tauri ]] || npm --prefix ui ci --no-audit --no-fund
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ui/node_modules/.bin/tauri icon icons/source.svg -o "$out"
# Desktop only: the mobile folders are not used by this app.
rm -rf "$out/android" "$out/ios"
cp "$out"/* icons/
ls icons
