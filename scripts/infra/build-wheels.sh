#!/usr/bin/env bash
# Build the local package index's files (scripts/infra/pyindex_build.py) from the CUDA
# toolkit on this machine (GPUSLIM_CUDA_ROOT, default: the folder above nvcc's bin/, as for
# the fixture images) into $STATE/pyindex, a symlink to pyindex.<inputs hash>/:
#
#   NVIDIA's CUDA 13 runtime wheels (nvidia-cuda-runtime, nvidia-cublas, nvidia-cudnn-cu13,
#   nvidia-nccl-cu13, ...) with the names, versions, tags and files of the real ones; the
#   tests' own torch 2.11.0 and 2.10.0 (+cu130, +cpu); a decoy torch for the default index;
#   gsfx-* pure-Python wheels and an sdist. See pyindex_build.py for what each one is.
#
# Cached: nothing is rebuilt while the inputs hash (the builder, the torch sources, the
# compiler and each toolkit file's path, size and mtime) matches $STATE/pyindex/stamp.
# GPUSLIM_INDEX_FORCE=1 rebuilds. Needs /usr/bin/python3 (3.11: torch._C is cp311) and gcc.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY not found (the index's torch is built for Debian 12's python3.11)"
command -v "${CC:-gcc}" >/dev/null || die "${CC:-gcc} not found (apt-get install gcc)"
CUDA_SRC="$(cuda_root)" || exit 1
mkdir -p "$STATE"
force=()
[ "${GPUSLIM_INDEX_FORCE:-0}" = 1 ] && force=(--force)
"$PY" "$INFRA_DIR/pyindex_build.py" --cuda-root "$CUDA_SRC" --out "$STATE/pyindex" "${force[@]}"
