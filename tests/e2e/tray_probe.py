#!/usr/bin/env python3
"""Finds sber-tunnel's tray icon on the X screen and says which state it shows.

Takes a screenshot (ImageMagick `import`), looks in the bottom band where
gtk-sni-tray-standalone draws its bar, and counts pixels of each state colour of
icons/tray-*.png. Prints "STATE X Y" (the icon's centre) or "none".
usage: tray_probe.py [band_height] [save_png]
"""

import subprocess
import sys

# Fill colours of the tray icons (scripts/gui-icons.py).
COLOURS = {
    "idle": (0x1A, 0x7F, 0x37),
    "syncing": (0x09, 0x69, 0xDA),
    "paused": (0x6E, 0x77, 0x81),
    "error": (0xCF, 0x22, 0x2E),
    "offline": (0x57, 0x60, 0x6A),
}
TOLERANCE = 12  # per channel; the host may scale the icon (anti-aliased edges are ignored)
MIN_PIXELS = 30  # fewer matching pixels than this is noise, not an icon


def screenshot():
    png = subprocess.run(["import", "-window", "root", "png:-"], check=True, capture_output=True).stdout
    ppm = subprocess.run(
        ["/usr/bin/convert", "png:-", "-depth", "8", "ppm:-"], input=png, check=True, capture_output=True
    ).stdout
    return png, ppm


def parse_ppm(data):
    fields = []
    i = 0
    while len(fields) < 4:
        while data[i : i + 1].isspace():
            i += 1
        j = i
        while not data[j : j + 1].isspace():
            j += 1
        fields.append(data[i:j])
        i = j
    i += 1
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[i:]


def main():
    band = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    png, ppm = screenshot()
    if len(sys.argv) > 2:
        with open(sys.argv[2], "wb") as f:
            f.write(png)
    w, h, px = parse_ppm(ppm)
    hits = {name: [] for name in COLOURS}
    for y in range(max(0, h - band), h):
        row = y * w * 3
        for x in range(w):
            r, g, b = px[row + 3 * x], px[row + 3 * x + 1], px[row + 3 * x + 2]
            for name, (cr, cg, cb) in COLOURS.items():
                if abs(r - cr) <= TOLERANCE and abs(g - cg) <= TOLERANCE and abs(b - cb) <= TOLERANCE:
                    hits[name].append((x, y))
    best = max(hits, key=lambda k: len(hits[k]))
    if len(hits[best]) < MIN_PIXELS:
        print("none")
        return
    xs = [p[0] for p in hits[best]]
    ys = [p[1] for p in hits[best]]
    print(best, (min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2)


if __name__ == "__main__":
    main()
