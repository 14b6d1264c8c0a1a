#!/usr/bin/env bash
# The Windows lane: builds tunnel-core, tunnel-confluence and the headless sber-tunnel.exe for
# x86_64-pc-windows-gnu, type-checks the desktop app (--features gui) for it, runs the core's
# and the client's tests under Wine, then an end-to-end run of sber-tunnel.exe under Wine against
# the Linux emulator on 127.0.0.1 (scripts/windows/e2e.py). docs/platforms.md says why it is
# built so:
#
# - rustup cannot fetch a Windows standard library here, so Debian's Rust (rustc-web, 1.96) builds
#   it from source (rust-web-src) with -Zbuild-std, which a stable compiler allows only with
#   RUSTC_BOOTSTRAP=1. rustup's toolchain stays first on PATH for everything else.
# - Wine 8.0 lacks bcryptprimitives.dll (ProcessPrng), which Rust's std loads at start: a stub
#   (scripts/windows/bcryptprimitives.c) goes into the lane's own Wine prefix.
# - Nothing is built with OpenSSL for Windows: the product's TLS is SChannel (native-tls), and the
#   test builds take the emulator without its `tls` feature (plain HTTP only).
#
# Its target directory and Wine prefix live outside the clone and are kept between runs:
#   WINDOWS_TARGET_DIR  (default ~/.cache/sber-tunnel/target-windows)
#   WINDOWS_WINEPREFIX  (default ~/.cache/sber-tunnel/wine-prefix)
# Options: --no-e2e (builds and tests only), --no-tests (build and e2e only), --no-gui (skip the
# desktop app's type-check for Windows), --installer (also build the desktop app and its NSIS
# installer, then install, run and uninstall it under Wine; not part of CI: the GUI build for
# Windows is long cold). WINDOWS_INSTALLER_PROFILE=release (default) or debug.
# WINDOWS_TEST_ARGS passes libtest arguments to every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

run_tests=1
run_e2e=1
run_gui=1
run_installer=0
for arg in "$@"; do
  case "$arg" in
    --no-e2e) run_e2e=0 ;;
    --no-tests) run_tests=0 ;;
    --no-gui) run_gui=0 ;;
    --installer) run_installer=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

lane_start=$(date +%s)
wstep() { echo; echo "==> [windows $(( $(date +%s) - lane_start ))s] $*"; }

WIN_PKGS=(rustc-web cargo-web rust-web-src mingw-w64 wine64)
TARGET=x86_64-pc-windows-gnu
cache="$HOME/.cache/sber-tunnel"
WIN_TARGET_DIR="${WINDOWS_TARGET_DIR:-$cache/target-windows}"
export WINEPREFIX="${WINDOWS_WINEPREFIX:-$cache/wine-prefix}"
export WINEARCH=win64
# Quiet Wine; no Mono/Gecko install prompts when the prefix is made (nothing here needs them).
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="mscoree,mshtml="
WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver64
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

wstep "system packages (Debian's Rust with the std source, MinGW-w64, Wine)"
ensure_pkgs "${CORE_PKGS[@]}" "${WIN_PKGS[@]}" python3
ensure_rust
use_shared_target_dir
mkdir -p "$WIN_TARGET_DIR"

# Cargo for Windows: Debian's toolchain, std built from source, the lane's own target directory.
wcargo() {
  local sub=$1
  shift
  RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_TARGET_DIR="$WIN_TARGET_DIR" \
    /usr/bin/cargo "$sub" --locked -Zbuild-std=std,panic_abort --target "$TARGET" "$@"
}

wstep "the product for Windows links no OpenSSL (native-tls is SChannel there)"
if cargo tree --locked -p sber-tunnel --features gui --target "$TARGET" -e normal --prefix none \
  | grep -Eq '^openssl'; then
  cargo tree --locked -p sber-tunnel --target "$TARGET" -e normal -i openssl-sys >&2 || true
  echo "sber-tunnel for Windows depends on OpenSSL" >&2
  exit 1
fi

wstep "build sber-tunnel.exe (headless; $WIN_TARGET_DIR)"
wcargo build -p sber-tunnel --bin sber-tunnel
exe="$WIN_TARGET_DIR/$TARGET/debug/sber-tunnel.exe"
dlls="$(x86_64-w64-mingw32-objdump -p "$exe" | sed -n 's/^\s*DLL Name: //p' | sort -fu)"
echo "sber-tunnel.exe imports: $(echo "$dlls" | tr '\n' ' ')"
if echo "$dlls" | grep -Eiq 'ssl|crypto-|libcrypto'; then
  echo "sber-tunnel.exe imports an OpenSSL DLL" >&2
  exit 1
fi

if [ "$run_gui" = 1 ]; then
  # The desktop app cannot run under Wine (no WebView2 runtime there), but it must keep
  # compiling for Windows: tauri-build needs icons/icon.ico for the .exe's resources.
  wstep "type-check the desktop app for Windows (--features gui)"
  wcargo check -p sber-tunnel --features gui --bin sber-tunnel
fi

wstep "Wine prefix ($WINEPREFIX) with the bcryptprimitives stub"
stub_dir="$cache/wine-stub"
stub="$stub_dir/bcryptprimitives.dll"
mkdir -p "$stub_dir"
if [ ! -f "$stub" ] || [ scripts/windows/bcryptprimitives.c -nt "$stub" ] \
  || [ scripts/windows/bcryptprimitives.def -nt "$stub" ]; then
  x86_64-w64-mingw32-gcc -O2 -shared -o "$stub" \
    scripts/windows/bcryptprimitives.c scripts/windows/bcryptprimitives.def -lbcrypt
fi
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  # The first start makes the prefix (~10 s); the syswow64\rundll32.exe message is harmless.
  "$WINE" wineboot --init > "$cache/wineboot.log" 2>&1 || { cat "$cache/wineboot.log" >&2; exit 1; }
  "$WINESERVER" -w
fi
sys32="$WINEPREFIX/drive_c/windows/system32"
cmp -s "$stub" "$sys32/bcryptprimitives.dll" || cp "$stub" "$sys32/bcryptprimitives.dll"
# Test folders from earlier runs (tempfile in %TEMP%) are not kept.
win_temp="$(ls -d "$WINEPREFIX"/drive_c/users/*/AppData/Local/Temp 2>/dev/null | head -1 || true)"
if [ -n "$win_temp" ]; then find "$win_temp" -mindepth 1 -delete 2>/dev/null || true; fi
"$WINE" "$exe" --version

if [ "$run_tests" = 1 ]; then
  # tunnel-core's and tunnel-confluence's tests: unit and integration. The client's integration
  # tests spawn the emulator in-process, taken for Windows without its `tls` feature (no OpenSSL
  # is built for this target: see crates/tunnel-confluence/Cargo.toml), so its TLS tests are left
  # out there (they run on Linux).
  test_sel=(-p tunnel-core -p tunnel-confluence)
  if cargo tree --locked "${test_sel[@]}" --target "$TARGET" -e normal,dev --prefix none | grep -Eq '^openssl'; then
    cargo tree --locked "${test_sel[@]}" --target "$TARGET" -e normal,dev -i openssl-sys >&2 || true
    echo "the Windows test build depends on OpenSSL" >&2
    exit 1
  fi
  wstep "build the tests for Windows (${test_sel[*]})"
  tests_json="$WIN_TARGET_DIR/lane-tests.json"
  # One cargo call: each call resolves features anew (dev-dependencies change them), and a
  # second set would compile most dependencies a second time.
  wcargo test --no-run --message-format=json "${test_sel[@]}" > "$tests_json"
  mapfile -t test_bins < <(python3 - "$tests_json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        # package directory (cargo runs tests there) and the executable
        print(m["manifest_path"].rsplit("/", 1)[0] + "\t" + m["executable"])
PY
)
  wstep "run the tests under Wine"
  # File operations through Wine cost several times what they cost on Linux: the randomized
  # model test runs fewer operations here (1000 on Linux, where the same code is exercised).
  export SBER_TUNNEL_MODEL_OPS="${SBER_TUNNEL_MODEL_OPS:-150}"
  # WINDOWS_TEST_ARGS: extra libtest arguments (a filter, --test-threads=1, ...).
  read -r -a test_args <<< "${WINDOWS_TEST_ARGS:-}"
  totals=(0 0 0)
  failed_bins=()
  for entry in "${test_bins[@]}"; do
    dir="${entry%%$'\t'*}"
    bin="${entry#*$'\t'}"
    log="$WIN_TARGET_DIR/lane-$(basename "$bin" .exe).log"
    echo "--- $(basename "$bin") (in ${dir#"$PWD"/})"
    rc=0
    (cd "$dir" && RUST_BACKTRACE=0 "$WINE" "$bin" "${test_args[@]}") > "$log" 2>&1 || rc=$?
    grep -E '^test .* (FAILED|ignored)|^test result' "$log" || true
    # libtest's summary: "test result: ok. 12 passed; 0 failed; 1 ignored; ..."
    read -r p f i < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$log" | tail -1) || true
    if [ -z "${p:-}" ]; then
      echo "no test summary from $(basename "$bin") (exit $rc); its log:" >&2
      tail -40 "$log" >&2
      failed_bins+=("$(basename "$bin")")
      continue
    fi
    totals=($((totals[0] + p)) $((totals[1] + f)) $((totals[2] + i)))
    if [ "$rc" != 0 ]; then
      sed -n '/^failures:$/,/^test result/p' "$log" | head -200
      failed_bins+=("$(basename "$bin")")
    fi
    unset p f i
  done
  echo "Wine: ${totals[0]} passed, ${totals[1]} failed, ${totals[2]} skipped"
  if [ ${#failed_bins[@]} -gt 0 ]; then
    echo "failed under Wine: ${failed_bins[*]}" >&2
    exit 1
  fi
fi

if [ "$run_e2e" = 1 ]; then
  wstep "the Linux binaries for the end-to-end run (the emulator and a Linux device)"
  # The same command as scripts/test.sh's test build, so after it this builds nothing.
  cargo test --locked --workspace --all-targets --features sber-tunnel/demo --no-run -q
  wstep "end to end: sber-tunnel.exe under Wine and a Linux device through the Linux emulator"
  python3 scripts/windows/e2e.py --exe "$exe" --wine "$WINE" \
    --linux-bin "$CARGO_TARGET_DIR/debug/sber-tunnel" \
    --emulator "$CARGO_TARGET_DIR/debug/confluence-emulator"
fi

if [ "$run_installer" = 1 ]; then
  profile="${WINDOWS_INSTALLER_PROFILE:-release}"
  case "$profile" in
    release) profile_args=(--release); nsis_args=() ;;
    debug) profile_args=(); nsis_args=(-DFAST_COMPRESSION) ;;
    *) echo "WINDOWS_INSTALLER_PROFILE must be release or debug" >&2; exit 2 ;;
  esac
  wstep "the desktop app for Windows ($profile) and its installer (makensis from Debian's nsis)"
  ensure_pkgs nsis
  wcargo build "${profile_args[@]}" -p sber-tunnel --features gui --bin sber-tunnel
  out="$WIN_TARGET_DIR/$TARGET/$profile"
  stage="$out/installer-stage"
  rm -rf "$stage"
  mkdir -p "$stage" "$out/bundle/nsis"
  cp "$out/sber-tunnel.exe" "$stage/sber-tunnel.exe"
  x86_64-w64-mingw32-strip --strip-debug "$stage/sber-tunnel.exe"
  # The same program as a console program, for terminals and scripts (output, exit codes).
  python3 scripts/windows/pe_subsystem.py console "$stage/sber-tunnel.exe" "$stage/sber-tunnel-cli.exe"
  # webview2-com-sys puts the loader DLL the GUI imports next to the build's output.
  loader="$(find "$out" -maxdepth 4 -name WebView2Loader.dll -path '*x64*' | head -1)"
  [ -n "$loader" ] || loader="$(find "$out" -maxdepth 4 -name WebView2Loader.dll | head -1)"
  gui_dlls="$(x86_64-w64-mingw32-objdump -p "$stage/sber-tunnel.exe" | sed -n 's/^\s*DLL Name: //p')"
  if echo "$gui_dlls" | grep -qix 'WebView2Loader.dll'; then
    [ -n "$loader" ] || { echo "sber-tunnel.exe imports WebView2Loader.dll, which the build did not leave" >&2; exit 1; }
    cp "$loader" "$stage/WebView2Loader.dll"
  fi
  version="$(cargo metadata --locked --no-deps --format-version 1 \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "sber-tunnel"))')"
  setup="$out/bundle/nsis/sber-tunnel_${version}_x64-setup.exe"
  makensis -V2 "${nsis_args[@]}" -DVERSION="$version" -DSTAGE="$stage" -DROOT="$PWD" -DOUTFILE="$setup" \
    scripts/windows/installer.nsi
  echo "installer: $setup ($(du -h "$setup" | cut -f1))"

  wstep "install, run and uninstall it under Wine"
  python3 scripts/windows/installer_check.py --wine "$WINE" --setup "$setup" --version "$version"
fi

"$WINESERVER" -k 2>/dev/null || true
wstep "done"
