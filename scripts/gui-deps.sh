#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the desktop app needs to build (and, with --test, to be
# tested headless: Xvfb, WebKitWebDriver, a D-Bus session, xdotool, ImageMagick).
# Idempotent: only packages that are missing are installed; nothing happens when all are there.
set -euo pipefail

build_pkgs=(
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libsoup-3.0-dev
  libxdo-dev libssl-dev pkg-config build-essential file
)
test_pkgs=(xvfb xauth webkit2gtk-driver dbus-x11 xdotool imagemagick x11-utils)
tray_pkgs=(haskell-gtk-sni-tray-utils)

want=("${build_pkgs[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}") ;;
    --tray) want+=("${test_pkgs[@]}" "${tray_pkgs[@]}") ;;
    -h|--help) echo "usage: $0 [--test] [--tray]"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

. "$(dirname "$0")/lib.sh"
ensure_pkgs "${want[@]}"
echo "gui-deps: all ${#want[@]} packages present"
