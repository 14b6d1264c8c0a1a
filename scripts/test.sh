#!/usr/bin/env bash
# Installs what is missing and runs every check CI runs: formatting, clippy, the headless
# build and all its tests (core, client, emulator, end-to-end CLI), the Windows lane
# (scripts/windows-lane.sh: a Windows build tested under Wine), then the desktop app's build and
# tests.
# Set SKIP_GUI=1 to leave the desktop part out on a machine without it, SKIP_WINDOWS=1 to leave
# out the Windows lane.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
start=$(date +%s)
step() { echo; echo "==> [$(( $(date +%s) - start ))s] $*"; }

step "system packages"
ensure_pkgs "${CORE_PKGS[@]}"
ensure_rust
use_shared_target_dir
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A fresh clone rebuilds the workspace's own crates anyway: incremental state only costs time
# and gigabytes of cache there.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step "cargo fmt --check"
cargo fmt --all -- --check

step "the sync core builds without any GUI library"
if cargo tree -p tunnel-core -e normal --prefix none | grep -Eq '^(tauri|wry|webkit2gtk)'; then
  echo "tunnel-core depends on a GUI crate" >&2
  exit 1
fi

step "clippy (headless, with the demo; and the installed build's shape: no demo)"
cargo clippy --locked --workspace --all-targets --features sber-tunnel/demo -- -D warnings
cargo clippy --locked -p sber-tunnel --bin sber-tunnel -- -D warnings

step "tests (headless: core, client, emulator, CLI end to end)"
cargo test --locked --workspace --all-targets --features sber-tunnel/demo

step "benchmark at a small size (figures only, never pass/fail on speed)"
python3 scripts/bench --small --profile debug --no-write
python3 scripts/bench --wan --small --profile debug --no-write
python3 scripts/bench --delta --small --profile debug --no-write
step "service benchmark at a small size (latency between two running services, idle cost)"
python3 scripts/bench-service --small --profile debug --no-write

if [ "${SKIP_WINDOWS:-0}" != "1" ]; then
  step "Windows: build for x86_64-pc-windows-gnu, tests and an end-to-end run under Wine"
  # Its own target directory (~/.cache/sber-tunnel/target-windows) and Wine prefix, kept
  # between runs; the Linux binaries it drives come from the test build above.
  scripts/windows-lane.sh
fi

if [ "${SKIP_GUI:-0}" != "1" ] && [ -x scripts/gui-test.sh ]; then
  step "desktop app: build and tests"
  # --deb-debug: the .deb from a debug build (reuses the test build; a release build would add
  # ~8 minutes), installed as root so the emulator scenario drives the packaged app.
  scripts/gui-test.sh --emulator --deb-debug
fi

step "done in $(( $(date +%s) - start ))s"
