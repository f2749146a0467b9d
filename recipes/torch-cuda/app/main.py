"""Import torch (+cu130) and list the CUDA libraries the process mapped, read from
/proc/self/maps: each must come from NVIDIA's pip wheels (site-packages/nvidia/...),
never from the base image's /usr/local/cuda. Exits 1 when one does not, or when torch
loaded no CUDA library at all. Runs without a GPU: loading the libraries needs no driver.
"""
import os
import sys

import torch

# The libraries torch links (libtorch_cuda's DT_NEEDED): one line each in the output.
WANT = ("libcudart.so", "libcublas.so", "libcublasLt.so", "libcudnn.so", "libnccl.so",
        "libnvrtc.so", "libnvJitLink.so", "libcufft.so", "libcurand.so", "libcusolver.so",
        "libcusparse.so", "libcupti.so")


def mapped_libraries():
    """{file name: path} of the shared objects this process has mapped."""
    out = {}
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                path = parts[5].strip()
                out.setdefault(os.path.basename(path), path)
    return out


def main() -> int:
    libs = mapped_libraries()
    cuda = {}
    for name, path in libs.items():
        for w in WANT:
            if name.startswith(w):
                cuda[w] = (name, path)
    bad = 0
    for w in WANT:
        if w not in cuda:
            print(f"torch-cuda: {w} not loaded", file=sys.stderr)
            bad = 1
            continue
        name, path = cuda[w]
        where = "wheel" if "/site-packages/nvidia/" in path else "NOT-A-WHEEL"
        if where != "wheel":
            bad = 1
        print(f"loaded {name} from {where}: {path}")
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}: "
          f"{len(cuda)} of {len(WANT)} CUDA libraries, "
          f"{'all from the nvidia wheels' if not bad else 'NOT all from the nvidia wheels'}")
    return bad


if __name__ == "__main__":
    sys.exit(main())
