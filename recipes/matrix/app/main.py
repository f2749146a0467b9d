"""Report the interpreter and whether cuDNN is loadable: the cudnn cells
must find libcudnn in the final base, the others must not carry it."""
import ctypes
import os
import sys


def main() -> int:
    want_cudnn = os.environ.get("MATRIX_WANT_CUDNN") == "1"
    try:
        ctypes.CDLL("libcudnn.so.9")
        has_cudnn = True
    except OSError:
        has_cudnn = False
    print(f"matrix: python {sys.version.split()[0]} at {sys.executable}, cudnn {has_cudnn}")
    if want_cudnn and not has_cudnn:
        print("matrix: cuDNN expected but not loadable", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
