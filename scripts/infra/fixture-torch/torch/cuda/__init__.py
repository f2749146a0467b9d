"""torch.cuda of the tests' own torch."""

from torch import _C, version


def is_built():
    return bool(_C._has_cuda)


def _info():
    """What the linked CUDA libraries report (torch._C._cuda_info); None in a +cpu build."""
    if not _C._has_cuda:
        return None
    return _C._cuda_info()


def device_count():
    info = _info()
    return info["device_count"] if info else 0


def is_available():
    return device_count() > 0


def libraries():
    """The CUDA libraries mapped into this process: {file name: path}."""
    import torch

    return torch.loaded_cuda_libraries()


__all__ = ["is_built", "is_available", "device_count", "libraries", "version"]
