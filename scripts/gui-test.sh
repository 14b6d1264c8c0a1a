#!/usr/bin/env bash
# Desktop app tests, all headless (CI runs this):
#   1. installs what is missing (scripts/gui-deps.sh --test, tauri-driver 2.1.0);
#   2. the shell without a window: `cargo test --features ipc-test` (mock runtime, fake backend);
#   3. the real app under Xvfb over WebDriver (tests/e2e/webdriver.mjs), screenshots kept in
#      target/e2e-screenshots;
#   4. the tray under a StatusNotifier host (tests/e2e/tray.sh, gtk-sni-tray-standalone from
#      scripts/gui-deps.sh --tray); with --no-deps and no host installed it is skipped, and said so.
#   5. with --emulator: the same WebDriver scenario with the real backend against the Confluence
#      emulator (files must reach the emulator's page); screenshots in target/e2e-screenshots/emulator.
# Options: --no-deps (skip installs), --no-tray, --emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

deps=1 tray=1 emulator=0
for arg in "$@"; do
  case "$arg" in
    --no-deps) deps=0 ;;
    --no-tray) tray=0 ;;
    --emulator) emulator=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

target="${CARGO_TARGET_DIR:-target}"
export E2E_SCREENSHOTS="${E2E_SCREENSHOTS:-$PWD/target/e2e-screenshots}"

if [ "$deps" = 1 ]; then
  if [ "$tray" = 1 ]; then scripts/gui-deps.sh --tray; else scripts/gui-deps.sh --test; fi
  # Plain `cargo install tauri-driver` would pick a 3.0 alpha; 2.1.0 is the measured one.
  if ! cargo install --list | grep -q '^tauri-driver v2\.1\.0:'; then
    cargo install tauri-driver --version 2.1.0 --locked
  fi
fi
export PATH="$HOME/.cargo/bin:$PATH"

echo "== shell tests (mock runtime)"
cargo test --locked --features ipc-test --bin sber-tunnel desktop::

echo "== desktop build"
cargo build --locked --features gui
app="$(realpath "$target/debug/sber-tunnel")"

echo "== WebDriver e2e under Xvfb"
rm -rf "$E2E_SCREENSHOTS"
xvfb-run -a -s "-screen 0 1280x860x24 -nolisten tcp" dbus-run-session -- tests/e2e/run-webdriver.sh "$app"

if [ "$tray" = 1 ]; then
  if command -v gtk-sni-tray-standalone > /dev/null; then
    echo "== tray under a StatusNotifier host"
    xvfb-run -a -s "-screen 0 1024x768x24 -nolisten tcp" dbus-run-session -- tests/e2e/tray.sh "$app"
  else
    echo "== tray test skipped: gtk-sni-tray-standalone is not installed (scripts/gui-deps.sh --tray)"
  fi
fi

if [ "$emulator" = 1 ]; then
  echo "== WebDriver e2e: real backend against the Confluence emulator"
  cargo build --locked -p confluence-emulator
  port=$((20000 + RANDOM % 20000))
  "$target/debug/confluence-emulator" --listen "127.0.0.1:$port" --user alice:e2e-secret --page 4242 \
    > "${TMPDIR:-/tmp}/gui-test-emulator.log" 2>&1 &
  emulator_pid=$!
  trap 'kill "$emulator_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then break; fi
    sleep 0.1
  done
  SBER_TUNNEL_FAKE_BACKEND=0 E2E_FAKE=0 E2E_URL="http://127.0.0.1:$port" E2E_USER=alice \
    E2E_SECRET=e2e-secret E2E_WRONG_SECRET=not-the-password E2E_PAGE=4242 \
    E2E_SCREENSHOTS="$E2E_SCREENSHOTS/emulator" \
    xvfb-run -a -s "-screen 0 1280x860x24 -nolisten tcp" dbus-run-session -- tests/e2e/run-webdriver.sh "$app"
fi
