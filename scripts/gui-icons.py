#!/usr/bin/env python3
"""Draws the app icon (all sizes the Tauri bundler needs) and one tray icon per sync state.

Pure Python (zlib + struct), no ImageMagick needed: shapes are signed-distance functions,
anti-aliased by supersampling. Run from the repository root: `python3 scripts/gui-icons.py`.
The PNGs it writes to icons/ are committed; rerun only when the design changes.
"""

import math
import os
import struct
import sys
import zlib

SS = 3  # supersampling per axis


def png(path, w, h, pixels):
    """Write RGBA8 pixels (list of rows of (r,g,b,a)) as a PNG."""
    raw = bytearray()
    for row in pixels:
        raw.append(0)
        for r, g, b, a in row:
            raw += bytes((r, g, b, a))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    data += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def hexrgb(s):
    s = s.lstrip("#")
    return tuple(int(s[i : i + 2], 16) / 255.0 for i in (0, 2, 4))


# --- shapes in unit coordinates (0..1), each returns True when (x, y) is inside ---------------


def rounded_rect(x, y, x0, y0, x1, y1, r):
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r and x0 <= x <= x1 and y0 <= y <= y1


def circle(x, y, cx, cy, r):
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def ring(x, y, cx, cy, r0, r1):
    d = (x - cx) ** 2 + (y - cy) ** 2
    return r0 * r0 <= d <= r1 * r1


def rect(x, y, x0, y0, x1, y1):
    return x0 <= x <= x1 and y0 <= y <= y1


def arch(x, y, cx, cy, r0, r1, bottom):
    """A tunnel mouth: the upper half of a ring plus two legs down to `bottom`."""
    if y <= cy:
        return ring(x, y, cx, cy, r0, r1)
    return y <= bottom and (cx - r1 <= x <= cx - r0 or cx + r0 <= x <= cx + r1)


def segment(x, y, ax, ay, bx, by, w):
    """A thick line segment with round caps."""
    vx, vy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy)))
    px, py = ax + t * vx, ay + t * vy
    return (x - px) ** 2 + (y - py) ** 2 <= w * w


# --- layered pictures: a list of (shape predicate, colour function) drawn in order -----------


def render(size, layers):
    rows = []
    n = SS * SS
    for j in range(size):
        row = []
        for i in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]  # premultiplied
            for sj in range(SS):
                for si in range(SS):
                    x = (i + (si + 0.5) / SS) / size
                    y = (j + (sj + 0.5) / SS) / size
                    r = g = b = a = 0.0
                    for inside, colour in layers:
                        if inside(x, y):
                            cr, cg, cb, ca = colour(x, y)
                            r = cr * ca + r * (1 - ca)
                            g = cg * ca + g * (1 - ca)
                            b = cb * ca + b * (1 - ca)
                            a = ca + a * (1 - ca)
                    acc[0] += r
                    acc[1] += g
                    acc[2] += b
                    acc[3] += a
            a = acc[3] / n
            if a <= 0:
                row.append((0, 0, 0, 0))
            else:
                row.append(
                    tuple(int(round(min(1.0, c / n / a) * 255)) for c in acc[:3])
                    + (int(round(a * 255)),)
                )
        rows.append(row)
    return rows


def solid(hexcolour, alpha=1.0):
    r, g, b = hexrgb(hexcolour)
    return lambda x, y: (r, g, b, alpha)


def gradient(top, bottom):
    t0, t1 = hexrgb(top), hexrgb(bottom)
    return lambda x, y: tuple(t0[k] + (t1[k] - t0[k]) * y for k in range(3)) + (1.0,)


def app_icon_layers():
    white = solid("#ffffff")
    return [
        (lambda x, y: rounded_rect(x, y, 0.06, 0.06, 0.94, 0.94, 0.2), gradient("#2f81f7", "#0a3069")),
        (lambda x, y: arch(x, y, 0.5, 0.56, 0.2, 0.3, 0.8), white),
        (lambda x, y: rect(x, y, 0.16, 0.78, 0.84, 0.82), white),
        # the two directions of a sync, inside the mouth
        (lambda x, y: segment(x, y, 0.38, 0.56, 0.62, 0.56, 0.028), solid("#7ee2a8")),
        (lambda x, y: segment(x, y, 0.62, 0.56, 0.56, 0.5, 0.028), solid("#7ee2a8")),
        (lambda x, y: segment(x, y, 0.38, 0.68, 0.62, 0.68, 0.028), solid("#ffd8a8")),
        (lambda x, y: segment(x, y, 0.38, 0.68, 0.44, 0.74, 0.028), solid("#ffd8a8")),
    ]


def tray_layers(state):
    white = solid("#ffffff")
    colours = {
        "idle": "#1a7f37",
        "syncing": "#0969da",
        "paused": "#6e7781",
        "error": "#cf222e",
        "offline": "#57606a",
    }
    base = colours[state]
    if state == "offline":
        layers = [
            (lambda x, y: ring(x, y, 0.5, 0.5, 0.36, 0.47), solid(base)),
        ]
    else:
        layers = [(lambda x, y: circle(x, y, 0.5, 0.5, 0.47), solid(base))]
    glyph = white if state != "offline" else solid(base)
    if state == "idle":
        layers += [
            (lambda x, y: arch(x, y, 0.5, 0.52, 0.14, 0.24, 0.74), glyph),
        ]
    elif state == "syncing":
        layers += [
            (lambda x, y: segment(x, y, 0.28, 0.4, 0.72, 0.4, 0.055), glyph),
            (lambda x, y: segment(x, y, 0.72, 0.4, 0.6, 0.28, 0.055), glyph),
            (lambda x, y: segment(x, y, 0.28, 0.62, 0.72, 0.62, 0.055), glyph),
            (lambda x, y: segment(x, y, 0.28, 0.62, 0.4, 0.74, 0.055), glyph),
        ]
    elif state == "paused":
        layers += [
            (lambda x, y: rounded_rect(x, y, 0.33, 0.28, 0.44, 0.72, 0.03), glyph),
            (lambda x, y: rounded_rect(x, y, 0.56, 0.28, 0.67, 0.72, 0.03), glyph),
        ]
    elif state == "error":
        layers += [
            (lambda x, y: segment(x, y, 0.5, 0.25, 0.5, 0.55, 0.065), glyph),
            (lambda x, y: circle(x, y, 0.5, 0.72, 0.07), glyph),
        ]
    elif state == "offline":
        layers += [
            (lambda x, y: arch(x, y, 0.5, 0.52, 0.12, 0.2, 0.7), glyph),
            (lambda x, y: segment(x, y, 0.2, 0.2, 0.8, 0.8, 0.05), solid(base)),
        ]
    return layers


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "icons"
    os.makedirs(out, exist_ok=True)
    for name, size in [
        ("32x32.png", 32),
        ("64x64.png", 64),
        ("128x128.png", 128),
        ("128x128@2x.png", 256),
        ("icon.png", 512),
    ]:
        png(os.path.join(out, name), size, size, render(size, app_icon_layers()))
        print("wrote", name)
    for state in ["idle", "syncing", "paused", "error", "offline"]:
        name = f"tray-{state}.png"
        png(os.path.join(out, name), 64, 64, render(64, tray_layers(state)))
        print("wrote", name)


if __name__ == "__main__":
    main()
