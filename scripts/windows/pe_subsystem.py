#!/usr/bin/env python3
"""Copy a Windows program, setting the subsystem in its PE header (what `editbin /SUBSYSTEM` does).

The desktop build of sber-tunnel.exe is a GUI-subsystem program, so that the tray app opens no
console window. Windows does not wait for such a program in a terminal and gives it no console,
so its command line would print nothing and return no exit code. The installer therefore also
ships sber-tunnel-cli.exe: the same bytes with the subsystem set to console.

usage: pe_subsystem.py console|windows IN OUT
"""
import struct
import sys

SUBSYSTEMS = {"windows": 2, "console": 3}


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] not in SUBSYSTEMS:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    want = SUBSYSTEMS[sys.argv[1]]
    data = bytearray(open(sys.argv[2], "rb").read())
    if data[:2] != b"MZ":
        print(f"{sys.argv[2]}: not a Windows program (no MZ header)", file=sys.stderr)
        return 1
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    if data[pe : pe + 4] != b"PE\0\0":
        print(f"{sys.argv[2]}: no PE signature at {pe:#x}", file=sys.stderr)
        return 1
    optional = pe + 4 + 20  # the signature, then the 20-byte COFF file header
    (magic,) = struct.unpack_from("<H", data, optional)
    if magic not in (0x10B, 0x20B):  # PE32, PE32+
        print(f"{sys.argv[2]}: unknown optional header magic {magic:#x}", file=sys.stderr)
        return 1
    # Subsystem sits at offset 68 of the optional header in both PE32 and PE32+.
    (current,) = struct.unpack_from("<H", data, optional + 68)
    if current not in SUBSYSTEMS.values():
        print(f"{sys.argv[2]}: unexpected subsystem {current}", file=sys.stderr)
        return 1
    struct.pack_into("<H", data, optional + 68, want)
    with open(sys.argv[3], "wb") as out:
        out.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
