#!/usr/bin/env bash
# Desktop app tests, all headless (CI runs this):
#   1. installs what is missing (scripts/gui-deps.sh --test, tauri-driver 2.1.0);
#   2. clippy on the shell, then the shell without a window: `cargo test --features ipc-test`
#      (mock runtime with the fake backend; the real backend's control socket and take-over);
#   3. the real app under Xvfb over WebDriver (tests/e2e/webdriver.mjs), screenshots kept in
#      target/e2e-screenshots;
#   4. the tray under a StatusNotifier host (tests/e2e/tray.sh, gtk-sni-tray-standalone from
#      scripts/gui-deps.sh --tray); with --no-deps and no host installed it is skipped, and said so.
#   5. with --emulator: the same WebDriver scenario with the real backend against the Confluence
#      emulator (files must reach the emulator's page); screenshots in target/e2e-screenshots/emulator.
#   6. with --deb: builds the installable .deb (scripts/gui-deb.sh, a release build; --deb-debug:
#      the same package from a debug build, which reuses the test build and is what CI uses),
#      checks its contents and dependencies, and, as root, installs it — then step 5 drives the
#      installed /usr/bin/sber-tunnel — and removes the package again at the end
#      (SBER_TUNNEL_DEB_INSTALL=0 skips the install).
# Options: --no-deps (skip installs), --no-tray, --emulator, --deb, --deb-debug.
set -euo pipefail
cd "$(dirname "$0")/.."

deps=1 tray=1 emulator=0 deb=0 deb_profile=release
for arg in "$@"; do
  case "$arg" in
    --no-deps) deps=0 ;;
    --no-tray) tray=0 ;;
    --emulator) emulator=1 ;;
    --deb) deb=1 ;;
    --deb-debug) deb=1 deb_profile=debug ;;
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

# Run a command on a virtual screen (WIDTHxHEIGHT) inside its own D-Bus session.
headless() {
  local size="$1"; shift
  xvfb-run -a -s "-screen 0 ${size}x24 -nolisten tcp" dbus-run-session -- "$@"
}

echo "== clippy (desktop shell)"
cargo clippy --locked -p sber-tunnel --all-targets --features ipc-test -- -D warnings

echo "== shell tests (mock runtime, and the real backend hosting the service)"
cargo test --locked --features ipc-test --bin sber-tunnel desktop

echo "== desktop build (a test build: the scripted fake backend compiled in)"
cargo build --locked --features gui,fake-backend
# Kept under its own name: the demo below rebuilds target/debug/sber-tunnel without the fake.
app="$target/debug/sber-tunnel-ui-test"
cp "$target/debug/sber-tunnel" "$app"
app="$(realpath "$app")"

echo "== WebDriver e2e under Xvfb"
rm -rf "$E2E_SCREENSHOTS"
headless 1280x860 tests/e2e/run-webdriver.sh "$app"

echo "== the README's desktop demo comes up (scripts/demo.sh --desktop, smoke test)"
SBER_TUNNEL_DEMO_SMOKE=1 headless 1280x860 scripts/demo.sh --desktop

if [ "$tray" = 1 ]; then
  if command -v gtk-sni-tray-standalone > /dev/null; then
    echo "== tray under a StatusNotifier host"
    headless 1024x768 tests/e2e/tray.sh "$app"
  else
    echo "== tray test skipped: gtk-sni-tray-standalone is not installed (scripts/gui-deps.sh --tray)"
  fi
fi

# On any exit: stop the emulator, and remove the package if this run installed it.
emulator_pid="" pkg_installed=0
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; fi
  if [ "$pkg_installed" = 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq sber-tunnel || true
  fi
}
trap cleanup EXIT

# The installable package: built by the Tauri bundler, its contents checked, and (as root)
# installed, so the emulator scenario below drives the app exactly as a person installs it.
if [ "$deb" = 1 ]; then
  echo "== installable package ($deb_profile build): build, contents, install"
  if [ "$deb_profile" = debug ]; then scripts/gui-deb.sh --debug; else scripts/gui-deb.sh; fi
  pkg="$(ls -t "$target/$deb_profile"/bundle/deb/sber-tunnel_*.deb | head -1)"
  contents="$(dpkg-deb --contents "$pkg" | awk '{print $6}')"
  for want in usr/bin/sber-tunnel usr/share/applications/sber-tunnel.desktop \
      usr/share/icons/hicolor/128x128/apps/sber-tunnel.png; do
    if ! grep -qx "\.\?/\?$want" <<< "$contents"; then
      echo "the package lacks $want" >&2
      exit 1
    fi
  done
  if ! dpkg-deb --field "$pkg" Depends | grep -q libwebkit2gtk-4.1; then
    echo "the package does not depend on WebKitGTK" >&2
    exit 1
  fi
  if dpkg-query -W -f='${Status}' sber-tunnel 2>/dev/null | grep -q "install ok installed"; then
    echo "== sber-tunnel is already installed on this machine: not touching it (install test skipped)"
  elif [ "$(id -u)" = 0 ] && [ "${SBER_TUNNEL_DEB_INSTALL:-1}" = 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(realpath "$pkg")"
    pkg_installed=1
    /usr/bin/sber-tunnel --cli --version
    grep -q '^Exec=sber-tunnel' /usr/share/applications/sber-tunnel.desktop
  fi
  # What a person installs holds the product only: no emulator, no scripted fake backend.
  unpacked="$(mktemp -d)"
  dpkg-deb -x "$pkg" "$unpacked"
  for test_only in confluence_emulator FakeBackend; do
    if grep -q "$test_only" "$unpacked/usr/bin/sber-tunnel"; then
      echo "the package's binary contains test-only code ($test_only)" >&2
      exit 1
    fi
  done
  if "$unpacked/usr/bin/sber-tunnel" --cli demo > /dev/null 2>&1; then
    echo "the package's binary runs the demo, so it carries the emulator" >&2
    exit 1
  fi
  rm -rf "$unpacked"
  echo "package ok: $pkg"
fi

if [ "$emulator" = 1 ]; then
  scenario_app="$app"
  if [ "$pkg_installed" = 1 ]; then scenario_app=/usr/bin/sber-tunnel; fi
  echo "== WebDriver e2e: real backend against the Confluence emulator ($scenario_app)"
  cargo build --locked -p confluence-emulator
  port=$((20000 + RANDOM % 20000))
  "$target/debug/confluence-emulator" --listen "127.0.0.1:$port" --user alice:e2e-secret --user bob:e2e-bob --page 4242 --page 4343 \
    --expiring-token alice:e2e-pat:5 \
    > "${TMPDIR:-/tmp}/gui-test-emulator.log" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then break; fi
    sleep 0.1
  done
  SBER_TUNNEL_FAKE_BACKEND=0 E2E_FAKE=0 E2E_URL="http://127.0.0.1:$port" E2E_USER=alice \
    E2E_SECRET=e2e-secret E2E_WRONG_SECRET=not-the-password E2E_PAGE=4242 E2E_PAGE2=4343 E2E_PAT=e2e-pat \
    E2E_SCREENSHOTS="$E2E_SCREENSHOTS/emulator" \
    headless 1280x860 tests/e2e/run-webdriver.sh "$scenario_app"
fi

if [ "$pkg_installed" = 1 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq sber-tunnel
  pkg_installed=0
  if [ -e /usr/bin/sber-tunnel ]; then echo "removing the package left /usr/bin/sber-tunnel" >&2; exit 1; fi
  echo "package removed again"
fi
