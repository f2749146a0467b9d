"""Report what this cell of the matrix carries, and fail where it lies.

cuDNN: the cudnn cells start from a cudnn-runtime base (which sets
NV_CUDNN_VERSION) and must be able to load libcudnn.so.9; the others must
not carry it. Symbols: the probe is built with -g; the strip-none cells
keep its .symtab and .debug_info, the stripping cells drop them.
"""
import ctypes
import os
import struct
import subprocess
import sys

PROBE = "/opt/matrix/probe"


def section_names(path):
    """Section names of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(path + ": not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = headers[shstrndx][4]
    names = []
    for h in headers:
        start = strtab_off + h[0]
        names.append(data[start:data.index(b"\0", start)].decode())
    return names


def main() -> int:
    ok = True
    want_cudnn = bool(os.environ.get("NV_CUDNN_VERSION"))
    try:
        ctypes.CDLL("libcudnn.so.9")
        has_cudnn = True
    except OSError:
        has_cudnn = False
    print(f"matrix: python {sys.version.split()[0]} at {sys.executable}")
    print(f"matrix: cudnn {'loadable' if has_cudnn else 'absent'}"
          f" (base says {os.environ.get('NV_CUDNN_VERSION') or 'none'})")
    if has_cudnn != want_cudnn:
        print("matrix: cuDNN does not match the base image", file=sys.stderr)
        ok = False

    probe = subprocess.run([PROBE], capture_output=True, text=True)
    if probe.returncode != 0 or probe.stdout.strip() != "probe: ok":
        print(f"matrix: {PROBE} failed: {probe.stdout}{probe.stderr}", file=sys.stderr)
        ok = False
    names = section_names(PROBE)
    kept = [n for n in (".symtab", ".debug_info") if n in names]
    print(f"matrix: probe symbols {'kept (' + ', '.join(kept) + ')' if kept else 'stripped'}")

    if ok:
        print("matrix: ok")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
