#!/usr/bin/env python3
"""Install, run and uninstall the Windows installer under Wine, checking each step.

Run by `scripts/windows-lane.sh --installer` after makensis:

    installer_check.py --wine /usr/lib/wine/wine64 --setup sber-tunnel_0.1.0_x64-setup.exe \
                       --version 0.1.0

Checks: a silent per-user install into a folder of our choosing puts the two programs, the
uninstaller, a Start menu entry and an "Apps & features" entry in place; the installed
sber-tunnel-cli.exe runs and reports the version; the silent uninstall removes all of it. The
tray window itself cannot be started here (Wine has no WebView2 runtime).
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

UNINST_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\sber-tunnel"
TIMEOUT = 300


def run(wine, *args, check=True):
    proc = subprocess.run(
        [wine, *args], capture_output=True, text=True, errors="replace", timeout=TIMEOUT
    )
    if check and proc.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def fail(msg):
    sys.exit(f"installer check failed: {msg}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wine", required=True)
    ap.add_argument("--setup", required=True)
    ap.add_argument("--version", required=True)
    a = ap.parse_args()

    prefix = Path(os.environ["WINEPREFIX"])
    win_dir = r"C:\sber-tunnel-installer-check"
    unix_dir = prefix / "drive_c" / "sber-tunnel-installer-check"
    if unix_dir.exists():
        for p in sorted(unix_dir.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        unix_dir.rmdir()

    # /S: silent; /D= must come last and is taken verbatim (no quotes).
    run(a.wine, a.setup, "/S", f"/D={win_dir}")
    expected = ["sber-tunnel.exe", "sber-tunnel-cli.exe", "uninstall.exe", "LICENSE.txt"]
    missing = [f for f in expected if not (unix_dir / f).is_file()]
    if missing:
        fail(f"not installed: {missing}; the folder holds {sorted(os.listdir(unix_dir)) if unix_dir.exists() else 'nothing'}")
    print(f"installed: {sorted(os.listdir(unix_dir))}")

    out = run(a.wine, rf"{win_dir}\sber-tunnel-cli.exe", "--version").stdout.strip()
    if a.version not in out:
        fail(f"sber-tunnel-cli.exe --version printed {out!r}, expected {a.version}")
    print(f"sber-tunnel-cli.exe --version: {out}")

    reg = run(a.wine, "reg", "query", UNINST_KEY).stdout
    for value in (f"DisplayVersion    REG_SZ    {a.version}", win_dir):
        if value.split()[-1] not in reg:
            fail(f"the uninstall entry lacks {value!r}:\n{reg}")
    print("Apps & features entry: present")

    users = prefix / "drive_c" / "users"
    shortcuts = list(users.glob("*/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/sber-tunnel.lnk"))
    shortcuts += list(users.glob("*/Start Menu/Programs/sber-tunnel.lnk"))
    if not shortcuts:
        fail("no Start menu entry sber-tunnel.lnk")
    print(f"Start menu entry: {shortcuts[0].relative_to(prefix)}")

    # _?= runs the uninstaller in place and waits for it (it cannot delete itself then).
    run(a.wine, rf"{win_dir}\uninstall.exe", "/S", f"_?={win_dir}")
    left = sorted(p.name for p in unix_dir.iterdir()) if unix_dir.exists() else []
    if [f for f in left if f != "uninstall.exe"]:
        fail(f"left after uninstall: {left}")
    if run(a.wine, "reg", "query", UNINST_KEY, check=False).returncode == 0:
        fail("the Apps & features entry is still there after uninstall")
    if any(s.exists() for s in shortcuts):
        fail("the Start menu entry is still there after uninstall")
    print("uninstalled: programs, Start menu entry and Apps & features entry removed")
    for p in unix_dir.glob("*"):
        p.unlink()
    if unix_dir.exists():
        unix_dir.rmdir()


if __name__ == "__main__":
    main()
