#!/usr/bin/env bash
# Builds the installable .deb of the desktop app with the Tauri bundler, on a fresh
# Debian/Ubuntu machine: installs the build packages that are missing, the pinned Tauri CLI
# (npm ci), then `tauri build --bundles deb`. The package lands in
# ${CARGO_TARGET_DIR:-target}/release/bundle/deb/ (with --debug: debug/bundle/deb/, a debug build
# that CI installs and tests). Install it with `sudo apt install ./<file>.deb`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/gui-deps.sh
if ! command -v npm > /dev/null; then
  echo "gui-deb: npm is missing; installing nodejs and npm" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
npm ci --no-audit --no-fund
npx tauri build --bundles deb "$@"
profile=release
for arg in "$@"; do [ "$arg" = --debug ] && profile=debug; done
ls -l "${CARGO_TARGET_DIR:-target}/$profile"/bundle/deb/*.deb
