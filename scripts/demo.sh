#!/usr/bin/env bash
# Quick start: installs what is missing, builds sber-tunnel, and runs its demo against the
# built-in Confluence emulator (two devices syncing through one page). Extra arguments go to
# `sber-tunnel demo` (e.g. --serve to keep the emulator running).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_pkgs "${CORE_PKGS[@]}"
ensure_rust
use_shared_target_dir
cargo build --locked --bin sber-tunnel
exec "$CARGO_TARGET_DIR/debug/sber-tunnel" --cli demo "$@"
