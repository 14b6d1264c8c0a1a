#!/usr/bin/env bash
# Quick start: installs what is missing, builds sber-tunnel, and runs it against the built-in
# Confluence emulator — no server of your own needed.
#
#   scripts/demo.sh            the desktop app when a display is available, else the terminal demo
#   scripts/demo.sh --desktop  the desktop app: the emulator and two demo devices start in the
#                              background, then the app opens on a fresh configuration; its
#                              first-run wizard connects to the emulator (the values are printed)
#   scripts/demo.sh --cli      the terminal demo: two devices sync files, edits, deletions and a
#                              conflict through one page (`sber-tunnel demo`)
# Other arguments go to `sber-tunnel demo` (e.g. --serve to keep the emulator running).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

mode=auto
args=()
for arg in "$@"; do
  case "$arg" in
    --desktop) mode=desktop ;;
    --cli) mode=cli ;;
    *) args+=("$arg") ;;
  esac
done
if [ "$mode" = auto ]; then
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then mode=desktop; else mode=cli; fi
fi

ensure_pkgs "${CORE_PKGS[@]}"
ensure_rust
use_shared_target_dir
bin="$CARGO_TARGET_DIR/debug/sber-tunnel"

if [ "$mode" = cli ]; then
  cargo build --locked --features demo --bin sber-tunnel
  exec "$bin" --cli demo "${args[@]}"
fi

# The desktop app (WebKitGTK and friends are installed when missing).
scripts/gui-deps.sh
cargo build --locked --features gui,demo --bin sber-tunnel
work="$(mktemp -d "${TMPDIR:-/tmp}/sber-tunnel-demo.XXXXXX")"
log="$work/demo.log"
"$bin" --cli demo --serve --dir "$work/devices" "${args[@]}" > "$log" 2>&1 &
demo=$!
app=""
cleanup() {
  if [ -n "$app" ]; then kill "$app" 2>/dev/null || true; fi
  # Ctrl-C is how the demo stops its emulator; TERM if it does not listen.
  kill -INT "$demo" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$demo" 2>/dev/null || break; sleep 0.1; done
  kill -TERM "$demo" 2>/dev/null || true
  wait "$demo" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q "The emulator keeps running" "$log" && break
  if ! kill -0 "$demo" 2>/dev/null; then cat "$log" >&2; echo "the demo stopped early" >&2; exit 1; fi
  sleep 0.2
done
url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1)"
[ -n "$url" ] || { cat "$log" >&2; echo "the emulator did not say where it runs" >&2; exit 1; }
devices="$work/devices"
cat <<MSG

sber-tunnel desktop demo — the Confluence emulator runs at $url, where two demo devices
(a laptop and a desktop, in $devices) already synced a few files to page 1000.
The app opens now as a third device, on a fresh configuration. In its wizard enter:

  Confluence address   $url
  Sign in with         User name and password   (user name: demo, password: demo)
  Page ID              1000

then add a folder: the laptop's files arrive in it. Page 1001 is empty, for a second folder.
Drop a file into the app's folder and see it reach the laptop:
  $bin --cli --config-dir $devices/laptop/config sync
Quit the app from its tray menu (or close this terminal) to end the demo.

MSG
SBER_TUNNEL_HOME="$work/this-computer" "$bin" &
app=$!
if [ "${SBER_TUNNEL_DEMO_SMOKE:-0}" = 1 ]; then
  # CI: the app must come up with its window against the running emulator, then the demo ends.
  timeout 120 xdotool search --sync --onlyvisible --name '^sber-tunnel$' > /dev/null
  # The demo's file list (remote format 2: snapshot parts named s-<sha256>.json).
  curl -fsS -u demo:demo "$url/rest/api/content/1000/child/attachment" \
    | grep -Eq '"title": *"s-[0-9a-f]{64}\.json"'
  echo "demo smoke test: the app's window is up and the emulator holds the demo's files"
  exit 0
fi
wait "$app" || true
app=""
