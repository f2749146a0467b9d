"""The tests' own torch (gpuslim scripts/infra): a small stand-in for PyTorch whose wheels
have real torch's names, tags, Requires-Dist and library layout.

Like real torch on Linux, it loads torch/lib/libtorch_global_deps.so with RTLD_GLOBAL
before torch._C; that library's RPATH reaches the nvidia-* wheels installed beside torch
(site-packages/nvidia/cu13/lib, nvidia/cudnn/lib, nvidia/nccl/lib). Should that fail for
a CUDA library, the libraries are preloaded one by one from sys.path's nvidia/ folders
and the load is tried again (real torch's _load_global_deps / _preload_cuda_deps).
"""

import ctypes as _ctypes
import glob as _glob
import os as _os
import platform as _platform
import sys as _sys

from torch.version import __version__  # noqa: F401
from torch import version  # noqa: F401

# wheel folder under site-packages/nvidia -> soname pattern (as in real torch's list)
_CUDA_LIBS = {
    "cublas": "libcublas.so.*[0-9]",
    "cudnn": "libcudnn.so.*[0-9]",
    "cuda_nvrtc": "libnvrtc.so.*[0-9]",
    "cuda_runtime": "libcudart.so.*[0-9]",
    "cuda_cupti": "libcupti.so.*[0-9]",
    "cufft": "libcufft.so.*[0-9]",
    "curand": "libcurand.so.*[0-9]",
    "nvjitlink": "libnvJitLink.so.*[0-9]",
    "cusparse": "libcusparse.so.*[0-9]",
    "cusolver": "libcusolver.so.*[0-9]",
    "nccl": "libnccl.so.*[0-9]",
}


def _cuda_dep_candidates(path, folder, pattern):
    # CUDA 12 wheels: nvidia/<folder>/lib; CUDA 13 wheels: nvidia/cu13/lib (cudnn and nccl
    # keep nvidia/cudnn/lib and nvidia/nccl/lib); or <folder>/lib directly on sys.path.
    found = _glob.glob(_os.path.join(path, "nvidia", folder, "lib", pattern))
    if version.cuda is not None:
        major = version.cuda.split(".")[0]
        found += _glob.glob(_os.path.join(path, "nvidia", "cu" + major, "lib", pattern))
    found += _glob.glob(_os.path.join(path, folder, "lib", pattern))
    return found


def _preload_cuda_deps(folder, pattern):
    for path in _sys.path:
        found = _cuda_dep_candidates(path, folder, pattern)
        if found:
            _ctypes.CDLL(found[0])
            return
    raise ValueError("%s not found in the system path %s" % (pattern, _sys.path))


def _load_global_deps():
    if _platform.system() != "Linux":
        return
    lib = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "lib", "libtorch_global_deps.so")
    try:
        _ctypes.CDLL(lib, mode=_ctypes.RTLD_GLOBAL)
    except OSError as err:
        missing = [p for p in _CUDA_LIBS.values() if p.split(".")[0] in err.args[0]]
        if not missing or version.cuda is None:
            raise
        for folder, pattern in _CUDA_LIBS.items():
            _preload_cuda_deps(folder, pattern)
        _ctypes.CDLL(lib, mode=_ctypes.RTLD_GLOBAL)


_load_global_deps()

from torch import _C  # noqa: E402
from torch import cuda  # noqa: E402,F401

float64 = "float64"


class Tensor:
    """A dense float64 tensor of one or two dimensions, computed by torch._C."""

    def __init__(self, data, shape):
        import array

        self._data = data if isinstance(data, array.array) else array.array("d", data)
        self.shape = tuple(shape)
        self.dtype = float64
        if self.numel() != len(self._data):
            raise ValueError("shape %s does not hold %d values" % (self.shape, len(self._data)))

    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def sum(self):
        return Tensor([_C._sum(self._data)], ())

    def item(self):
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self._data[0]

    def tolist(self):
        if len(self.shape) == 0:
            return self._data[0]
        if len(self.shape) == 1:
            return list(self._data)
        r, c = self.shape
        return [list(self._data[i * c:(i + 1) * c]) for i in range(r)]

    def __matmul__(self, other):
        return matmul(self, other)

    def __repr__(self):
        return "tensor(%r)" % (self.tolist(),)


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not 0 <= len(size) <= 2 or any(not isinstance(d, int) or d < 0 for d in size):
        raise ValueError("this torch makes tensors of 0, 1 or 2 dimensions: %r" % (size,))
    return size


def full(size, value):
    size = _shape(tuple(size) if isinstance(size, (tuple, list)) else (size,))
    n = 1
    for d in size:
        n *= d
    return Tensor([float(value)] * n, size)


def ones(*size):
    return full(_shape(size), 1.0)


def zeros(*size):
    return full(_shape(size), 0.0)


def tensor(data):
    if isinstance(data, (int, float)):
        return Tensor([float(data)], ())
    if data and isinstance(data[0], (list, tuple)):
        flat = [float(x) for row in data for x in row]
        return Tensor(flat, (len(data), len(data[0])))
    return Tensor([float(x) for x in data], (len(data),))


def matmul(a, b):
    sa = a.shape if len(a.shape) == 2 else (1,) + a.shape
    sb = b.shape if len(b.shape) == 2 else b.shape + (1,)
    if sa[1] != sb[0]:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (%dx%d and %dx%d)" % (sa + sb))
    import array

    out = array.array("d")
    out.frombytes(_C._mm(a._data, b._data, sa[0], sa[1], sb[1]))
    shape = (sa[0], sb[1])
    if len(a.shape) == 1 and len(b.shape) == 1:
        shape = ()
    elif len(a.shape) == 1:
        shape = (sb[1],)
    elif len(b.shape) == 1:
        shape = (sa[0],)
    return Tensor(out, shape)


def sum(t):  # noqa: A001 (torch.sum, as in real torch)
    return t.sum()


def loaded_cuda_libraries():
    """{soname-ish file name: path} of the CUDA libraries mapped into this process (from
    /proc/self/maps): libcudart, libcublas, libcudnn, libnccl and the rest."""
    prefixes = ("libcudart", "libcublas", "libcudnn", "libnccl", "libnvrtc", "libnvJitLink", "libcufft",
                "libcurand", "libcusolver", "libcusparse", "libcupti", "libnvToolsExt", "libnvtx3interop")
    out = {}
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) < 6:
                continue
            path = parts[5].strip()
            base = _os.path.basename(path)
            if base.startswith(prefixes) and ".so" in base:
                out.setdefault(base, path)
    return out
