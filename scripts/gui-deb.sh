#!/usr/bin/env bash
# Builds the installable .deb of the desktop app with the Tauri bundler, on a fresh
# Debian/Ubuntu machine: installs the build packages that are missing, the pinned Tauri CLI
# (npm ci), then `tauri build --bundles deb`. The package lands in
# ${CARGO_TARGET_DIR:-target}/release/bundle/deb/ (with --debug: debug/bundle/deb/, a debug build
# that CI installs and tests). Install it with `sudo apt install ./<file>.deb`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/gui-deps.sh
. scripts/lib.sh
command -v npm > /dev/null || ensure_pkgs nodejs npm
npm ci --no-audit --no-fund
npx tauri build --bundles deb "$@"
profile=release
for arg in "$@"; do [ "$arg" = --debug ] && profile=debug; done
ls -l "${CARGO_TARGET_DIR:-target}/$profile"/bundle/deb/*.deb
