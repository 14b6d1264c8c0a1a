#!/usr/bin/env bash
# The tray under a real StatusNotifier host: gtk-sni-tray-standalone draws a bar at the bottom
# of the (Xvfb) screen, the app registers its icon there, and xdotool opens the menu and picks
# items with the keyboard. Checks that the icon follows the state (idle → syncing → paused →
# idle → error → offline) within the wait below, that closing the window keeps the app in the
# tray (Open brings it back), that a second launch hands over, and that Quit ends the app
# with status 0.
# Needs a display and a D-Bus session: xvfb-run -a dbus-run-session -- tests/e2e/tray.sh APP
# Prints "N passed, M failed". Screenshots go to $E2E_SCREENSHOTS/tray-*.png.
set -uo pipefail
app="$(realpath "$1")"
here="$(cd "$(dirname "$0")" && pwd)"
shots="${E2E_SCREENSHOTS:-$PWD/target/e2e-screenshots}"
mkdir -p "$shots"
wait_s="${TRAY_WAIT_SECONDS:-10}"  # the longest one check waits for the icon to change

work="$(mktemp -d)"
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_DATA_HOME="$work/home/.local/share"
mkdir -p "$HOME" "$work/folder"
for i in 1 2 3 4 5 6 7 8 9 10; do head -c 20000 /dev/zero > "$work/folder/file-$i.bin"; done

passed=0 failed=0
check() { # name, command...
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}

gtk-sni-tray-standalone --watcher --bottom -s 40 > "$work/host.log" 2>&1 &
host=$!
SBER_TUNNEL_FAKE_BACKEND=1 SBER_TUNNEL_FAKE_FOLDERS="$work/folder" "$app" > "$work/app.log" 2>&1 &
app_pid=$!
cleanup() {
  kill "$app_pid" "$host" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

icon_x="" icon_y=""
# Wait until the icon shows `state`; remembers where it is.
wait_state() {
  local want="$1" deadline=$((SECONDS + wait_s)) out
  while [ "$SECONDS" -lt "$deadline" ]; do
    out="$(python3 "$here/tray_probe.py" 60 "$shots/tray-$want.png")"
    set -- $out
    if [ "${1:-none}" = "$want" ]; then icon_x="$2" icon_y="$3"; return 0; fi
    sleep 0.2
  done
  echo "  the icon shows '${out:-nothing}', not '$want'" >&2
  return 1
}
# Open the tray menu and choose with keys, e.g. `menu Down Down Return`.
menu() {
  xdotool mousemove "$icon_x" "$icon_y" click 3
  sleep 0.7 # the menu is a new X window; give it time to map before typing into it
  xdotool key --delay 120 "$@"
}

# Choose a menu entry and wait for the icon to show `state`. A keystroke sent before a slow
# machine mapped the menu is lost; then the icon does not change and the menu is opened again.
act() { # state, keys...
  local want="$1"; shift
  for _ in 1 2 3; do
    menu "$@"
    if wait_state "$want"; then return 0; fi
    xdotool key Escape
  done
  return 1
}

check "the icon appears idle" wait_state idle
second_launch_exits() { # single instance: the second process hands over to the first and ends
  SBER_TUNNEL_FAKE_BACKEND=1 timeout "$wait_s" "$app" > "$work/second.log" 2>&1
}
check "a second launch hands over to the running app and exits" second_launch_exits
check "  … and the running app is still there" kill -0 "$app_pid"

# Closing the window keeps the app in the tray; the tray's Open brings the window back.
main_window() { xdotool search --onlyvisible --pid "$app_pid" --name '^sber-tunnel$' 2> /dev/null | head -1; }
window_is() { # shown|hidden: waits until the main window is so
  local want="$1" deadline=$((SECONDS + wait_s)) w
  while [ "$SECONDS" -lt "$deadline" ]; do
    w="$(main_window)"
    if { [ "$want" = shown ] && [ -n "$w" ]; } || { [ "$want" = hidden ] && [ -z "$w" ]; }; then return 0; fi
    sleep 0.2
  done
  echo "  the main window is not $want" >&2
  return 1
}
close_main_window() { # what a window manager's close button sends: WM_DELETE_WINDOW
  local w
  w="$(main_window)"
  [ -n "$w" ] && python3 "$here/close_window.py" "$w" && window_is hidden
}
still_in_tray() { kill -0 "$app_pid" && wait_state idle; }
open_from_tray() {
  for _ in 1 2 3; do
    menu Down Return
    if window_is shown; then return 0; fi
    xdotool key Escape
  done
  return 1
}
check "the settings window is open" window_is shown
check "closing the window hides it" close_main_window
check "  … and the app keeps running in the tray" still_in_tray
import -window root "$shots/tray-window-closed.png"
check "Open in the tray menu shows the window again" open_from_tray
# Menu: [status line (disabled)] Open · Sync now · Pause · folder · Quit
check "Sync now turns the icon to syncing" act syncing Down Down Return
check "Pause turns it to paused" act paused Down Down Down Return
check "Resume syncs again and ends idle" act idle Down Down Down Return
touch "$work/folder/FAIL"
check "a failing sync shows the error icon" act error Down Down Return
rm "$work/folder/FAIL"
touch "$work/folder/OFFLINE"
check "an unreachable server shows the offline icon" act offline Down Down Return
# A picture of the open menu (with the error line), then close it and quit.
xdotool mousemove "$icon_x" "$icon_y" click 3
sleep 0.7
import -window root "$shots/tray-menu.png"
xdotool key Escape
sleep 0.3
menu Up Return
quit_ok() {
  local deadline=$((SECONDS + wait_s))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$app_pid" 2>/dev/null; then wait "$app_pid"; return $?; fi
    sleep 0.2
  done
  return 1
}
check "Quit ends the app with status 0" quit_ok

if [ "$failed" -gt 0 ]; then
  echo "--- app log"; tail -20 "$work/app.log"; echo "--- host log"; tail -5 "$work/host.log"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
