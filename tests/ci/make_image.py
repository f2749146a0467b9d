#!/usr/bin/python3
"""A docker-save archive whose analysis has findings, for tests/ci/check.mjs (SARIF and
GitHub annotations without an engine): nvcc (devel-toolchain), a driver library
(driver-in-image), a pip cache (caches), no USER (root-user), no NVIDIA_* (nvidia-env).

  make_image.py OUT.tar
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake"))
from image_tars import dirent, docker_save, reg, tar_bytes  # noqa: E402

layer = tar_bytes([
    dirent("usr"), dirent("usr/local"), dirent("usr/local/cuda"),
    dirent("usr/local/cuda/bin"),
    reg("usr/local/cuda/bin/nvcc", b"#!/bin/sh\necho nvcc, 100% fake: a, b\n", 0o755),
    dirent("usr/lib"), dirent("usr/lib/x86_64-linux-gnu"),
    reg("usr/lib/x86_64-linux-gnu/libcuda.so.1", b"not an ELF, a driver by name\n"),
    dirent("root"), dirent("root/.cache"), dirent("root/.cache/pip"),
    reg("root/.cache/pip/wheel.bin", b"W" * 4096),
])
docker_save(sys.argv[1], [layer], tags=("gpuslim-test/ci-findings:1",))
