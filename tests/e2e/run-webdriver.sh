#!/usr/bin/env bash
# Runs tests/e2e/webdriver.mjs against a built app: starts tauri-driver (which starts
# WebKitWebDriver and the app), waits for it, runs the scenario, stops the driver.
# Needs a display (use xvfb-run) and a D-Bus session (dbus-run-session). The app runs with a
# throwaway HOME so the person's own setup is never touched, and with the fake backend unless
# SBER_TUNNEL_FAKE_BACKEND=0 (see webdriver.mjs for pointing it at the emulator).
# usage: tests/e2e/run-webdriver.sh target/debug/sber-tunnel
set -euo pipefail
app="$(realpath "$1")"
here="$(cd "$(dirname "$0")" && pwd)"
port="${WEBDRIVER_PORT:-4444}"
# The WebKitWebDriver behind it: the next port, so that two runs with different WEBDRIVER_PORTs
# never share one.
native_port="${WEBDRIVER_NATIVE_PORT:-$((port + 1))}"

# The fake backend unless the caller chose the real one (SBER_TUNNEL_FAKE_BACKEND=0, E2E_FAKE=0).
export SBER_TUNNEL_FAKE_BACKEND="${SBER_TUNNEL_FAKE_BACKEND-1}"
HOME="$(mktemp -d)"
export HOME
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"

tauri-driver --port "$port" --native-port "$native_port" > "${E2E_DRIVER_LOG:-/tmp/tauri-driver.log}" 2>&1 &
driver=$!
trap 'kill "$driver" 2>/dev/null || true; wait "$driver" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then break; fi
  if ! kill -0 "$driver" 2>/dev/null; then echo "tauri-driver exited; see its log" >&2; exit 1; fi
  sleep 0.1
done

status=0
WEBDRIVER_URL="http://127.0.0.1:$port" node "$here/webdriver.mjs" "$app" || status=$?
if [ "$status" != 0 ]; then
  # What the app logged, for the failed steps (its throwaway HOME goes with this run).
  for log in "$XDG_DATA_HOME"/sber-tunnel/logs/*.log; do
    [ -f "$log" ] || continue
    echo "== the app's log ($log), last 80 lines"
    tail -n 80 "$log"
  done
fi
exit "$status"
