#!/usr/bin/env python3
"""End to end on Windows: sber-tunnel.exe under Wine and a Linux sber-tunnel converge through the
Linux Confluence emulator on 127.0.0.1.

Run by scripts/windows-lane.sh (which builds the three programs):

    e2e.py --exe sber-tunnel.exe --wine /usr/lib/wine/wine64 \
           --linux-bin target/debug/sber-tunnel --emulator target/debug/confluence-emulator

The Windows device gets Windows paths (Z:\\... is Wine's view of /), so its configuration and
folder go through the same path handling as on a real Windows machine. Each step says what it
checks; the first mismatch stops the run with the two trees printed.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER = "demo"
PASSWORD = "demo-e2e"
PAGE = "1000"
# Wine's first start in a prefix, and a cold debug binary, can take a while.
STEP_TIMEOUT = 300


def win_path(p: Path) -> str:
    """The Windows name of a Linux path through Wine's Z: drive (Z: is /)."""
    return "Z:" + str(p.resolve()).replace("/", "\\")


class Emulator:
    def __init__(self, binary: str, data: Path):
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--user", f"{USER}:{PASSWORD}", "--page", PAGE],
            stdout=subprocess.PIPE,
            stderr=open(data / "emulator.log", "wb"),
            text=True,
        )
        self.url = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if "ready at" in line:
                self.url = line.strip().rsplit(" ", 1)[-1]
                break
        if not self.url:
            self.stop()
            sys.exit("the emulator did not start (see emulator.log)")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Device:
    """One sber-tunnel installation: a configuration folder and a synced folder."""

    def __init__(self, name: str, root: Path, argv0: list, windows: bool):
        self.name = name
        self.argv0 = argv0
        self.windows = windows
        self.config = root / f"{name}-config"
        self.folder = root / f"{name}-Sync"

    def path_arg(self, p: Path) -> str:
        return win_path(p) if self.windows else str(p)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items()
               if k.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
                                    "SBER_TUNNEL_HOME", "SBER_TUNNEL_TOKEN", "RUST_LOG")}
        env["SBER_TUNNEL_PASSWORD"] = PASSWORD
        cmd = self.argv0 + ["--cli", "--config-dir", self.path_arg(self.config), *args]
        started = time.time()
        out = self._once(cmd, env)
        took = time.time() - started
        if self.windows and out.returncode != 0 and not out.stdout and not out.stderr:
            # Every way sber-tunnel fails prints why (an error, a panic's message): a failure
            # with no output at all, in a few milliseconds, is Wine not starting the program
            # (seen once in CI, a `status` between two that ran). Said, and tried once more.
            print(f"[{self.name}] {' '.join(args)}  (exit {out.returncode} with no output in "
                  f"{took:.2f}s: Wine did not run the program; once more)")
            started = time.time()
            out = self._once(cmd, env)
            took = time.time() - started
        print(f"[{self.name}] {' '.join(args)}  (exit {out.returncode}, {took:.1f}s)")
        if check and out.returncode != 0:
            print(out.stdout)
            print(out.stderr, file=sys.stderr)
            sys.exit(f"[{self.name}] `{' '.join(args)}` failed")
        return out

    @staticmethod
    def _once(cmd: list, env: dict) -> subprocess.CompletedProcess:
        # Output through files, not pipes: a service that `start` leaves running may hold
        # inherited pipe ends open, and reading to their end would wait for the service.
        with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
            rc = subprocess.run(cmd, env=env, stdout=so, stderr=se, timeout=STEP_TIMEOUT,
                                stdin=subprocess.DEVNULL).returncode
            so.seek(0)
            se.seek(0)
            return subprocess.CompletedProcess(cmd, rc, so.read().decode(errors="replace"),
                                               se.read().decode(errors="replace"))

    def write(self, rel: str, data: bytes):
        p = self.folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    def tree(self) -> dict:
        files = {}
        for p in sorted(self.folder.rglob("*")):
            rel = p.relative_to(self.folder)
            # Dot-names are the app's own (partial downloads, markers), as in tests/cli.
            if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                files[rel.as_posix()] = p.read_bytes()
        return files


def expect_same(a: Device, b: Device, what: str):
    ta, tb = a.tree(), b.tree()
    if ta != tb:
        print(f"{a.name}: {sorted(ta)}\n{b.name}: {sorted(tb)}", file=sys.stderr)
        for k in sorted(set(ta) & set(tb)):
            if ta[k] != tb[k]:
                print(f"  {k} differs", file=sys.stderr)
        sys.exit(f"not converged: {what}")
    print(f"ok: {what} ({len(ta)} files the same on both)")


def expect_in(out: str, text: str, what: str):
    if text not in out:
        print(out)
        sys.exit(f"{what}: {text!r} not in the output above")
    print(f"ok: {what}")


def service_steps(win: Device, lin: Device):
    """The background service on Windows: start, status, pause, resume, sync, stop, all through
    the named pipe that `start` waits for."""
    win.run("start")
    try:
        expect_in(win.run("status").stdout, "Service:    running", "status sees the service")
        win.run("pause")
        expect_in(win.run("status").stdout, "paused", "status shows the pause")
        win.run("resume")
        # `sync` goes to the running service, which syncs in the background: a Linux file
        # arrives through it within a minute.
        lin.write("while-running.txt", b"sent while the Windows service runs\n")
        lin.run("sync")
        expect_in(win.run("sync").stdout, "running sync service is syncing",
                  "sync is passed to the service")
        deadline = time.time() + 60
        while win.tree() != lin.tree() and time.time() < deadline:
            time.sleep(1)
        expect_same(win, lin, "the running Windows service syncs on request")
        again = win.run("start").stdout
        expect_in(again, "already running", "a second start finds the first service")
    finally:
        stopped = win.run("stop", check=False)
    if stopped.returncode != 0:
        print(stopped.stdout, stopped.stderr)
        sys.exit("`stop` failed")
    expect_in(stopped.stdout, "stopped", "stop ends the service")
    expect_in(win.run("status").stdout, "Service:    not running", "status after stop")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True)
    ap.add_argument("--wine", required=True)
    ap.add_argument("--linux-bin", required=True)
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--no-service", dest="service", action="store_false",
                    help="leave out start/status/pause/stop (platforms without a control channel)")
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sber-tunnel-win-e2e."))
    emu = Emulator(a.emulator, work)
    print(f"emulator at {emu.url}, work folder {work}")
    ok = False
    try:
        win = Device("windows", work, [a.wine, a.exe], windows=True)
        lin = Device("linux", work, [a.linux_bin], windows=False)
        init = ["init", "--url", emu.url, "--username", USER, "--page-id", PAGE]

        # The Windows device first: init, add, and a sync that uploads what it holds.
        win.run(*init)
        win.write("from-windows.txt", b"made on Windows\r\n")
        win.write("docs/report.md", b"# quarterly report\n")
        win.run("add", win.path_arg(win.folder))
        win.run("sync")
        status = win.run("status").stdout
        if "windows-Sync" not in status:
            print(status)
            sys.exit("`status` on Windows does not list the folder")

        # A Linux device joins the same page: the Windows files arrive.
        lin.run(*init)
        lin.run("add", str(lin.folder))
        lin.run("sync")
        expect_same(win, lin, "Windows -> Linux: files made on Windows arrive on Linux")

        # Files made, edited and deleted on Linux reach Windows.
        lin.write("from-linux.txt", b"made on Linux\n")
        lin.write("docs/linux/notes.txt", b"nested on Linux\n")
        lin.write("docs/report.md", b"# quarterly report\nedited on Linux\n")
        lin.run("sync")
        win.run("sync")
        expect_same(win, lin, "Linux -> Windows: new, nested and edited files arrive on Windows")

        # And the other way: an edit and a deletion made on Windows reach Linux.
        (win.folder / "from-linux.txt").unlink()
        win.write("from-windows.txt", b"made on Windows\r\nedited on Windows\r\n")
        win.write("docs/windows/new.txt", b"nested on Windows\r\n")
        win.run("sync")
        lin.run("sync")
        expect_same(win, lin, "Windows -> Linux: an edit, a deletion and a new folder arrive")
        if (lin.folder / "from-linux.txt").exists():
            sys.exit("a file deleted on Windows is still on Linux")

        # Nothing left to do on either side.
        win.run("sync")
        lin.run("sync")
        expect_same(win, lin, "both idle")

        if a.service:
            service_steps(win, lin)
        ok = True
    finally:
        emu.stop()
        if ok and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}")
    print("windows e2e: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
