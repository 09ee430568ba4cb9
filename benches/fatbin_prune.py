#!/usr/bin/env python3
"""Zeroes the device code of every GPU generation but one inside a CUDA library, in place.

onnxruntime-gpu's CUDA provider (284 MB) carries machine code (cubins) for sm_75, 80, 86, 89,
90 and 120 in 609 fat binaries. A benchmark machine needs one generation; zeroing the payload
of the other entries (headers, sizes and offsets untouched, so the library links and loads the
same) lets it compress to a third. Used by benches/gpu.sh to carry the library to a machine that
has no network. The fat binary layout (16-byte header with magic 0xBA55ED50, then entries of
kind/header-size/payload-size with the SM number at offset 28) is CUDA's documented-in-practice
format read by cuobjdump.

usage: fatbin_prune.py LIBRARY SM
"""
import struct
import sys

MAGIC = struct.pack("<I", 0xBA55ED50)
ELF = 2


def main() -> None:
    path, keep = sys.argv[1], int(sys.argv[2])
    data = bytearray(open(path, "rb").read())
    pos = zeroed = kept = 0
    while (i := data.find(MAGIC, pos)) >= 0:
        _, version, header, size = struct.unpack_from("<IHHQ", data, i)
        if version != 1 or header != 16 or i + header + size > len(data):
            pos = i + 4
            continue
        entry, end = i + header, i + header + size
        while entry < end:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, entry)
            if not 32 <= entry_header <= 4096:
                break
            sm = struct.unpack_from("<I", data, entry + 28)[0]
            start = entry + entry_header
            if kind == ELF and sm != keep:
                data[start:start + payload] = bytes(payload)
                zeroed += payload
            else:
                kept += payload
            entry = start + payload
        pos = end
    if kept == 0:
        sys.exit(f"{path}: no device code for sm_{keep}; nothing written")
    open(path, "wb").write(data)
    print(f"{path}: kept {kept / 1e6:.1f} MB of device code for sm_{keep}, "
          f"zeroed {zeroed / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
