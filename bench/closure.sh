#!/usr/bin/env bash
# final.mode closure beside the default and the naive image (scripts/infra/up.sh first), one
# run each, every build --no-cache (apt's cache mounts warm for all alike):
#  1. cuda-vadd: a naive single-stage build on the devel fixture, recipes/cuda-vadd (the
#     program and its closure on the base flavor) and recipes/cuda-vadd-closure (FROM scratch);
#  2. torch-cpu: recipes/torch-cpu (Debian's python3-torch on the base flavor) and
#     recipes/torch-cpu-closure (FROM scratch).
# Sizes are the engine's (`docker image inspect .Size`), as bench/build.sh reports them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

naive_vadd
echo "cuda-vadd naive single-stage on devel: $naive bytes, built in ${naive_ms} ms"

# slim NAME RECIPE: gpuslim build --no-cache, gates included; prints and sets $size.
slim() {
	local t0 ref rc=0
	t0=$(ms)
	./gpuslim build "$2" --no-cache --progress plain --json "$TMP/$1.json" -o "$TMP/$1" \
		>"$TMP/$1.out" 2>&1 || rc=$?
	ref=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cells"][0]["image"])' "$TMP/$1.json")
	size=$("$DOCKER" image inspect --format '{{.Size}}' "$ref")
	echo "$1: $size bytes, built and gated in $(($(ms) - t0)) ms, exit $rc (0: every gate passed)"
}
slim cuda-vadd recipes/cuda-vadd/gpuslim.yaml
vadd=$size
slim cuda-vadd-closure recipes/cuda-vadd-closure/gpuslim.yaml
vaddc=$size
slim torch-cpu recipes/torch-cpu/gpuslim.yaml
torch=$size
slim torch-cpu-closure recipes/torch-cpu-closure/gpuslim.yaml
torchc=$size
awk -v n="$naive" -v d="$vadd" -v c="$vaddc" -v t="$torch" -v tc="$torchc" 'BEGIN {
	printf "cuda-vadd: closure %.2f MB, %.1fx under naive, %.1fx under default (%.1f MB)\n", c / 1e6, n / c, d / c, d / 1e6
	printf "torch-cpu: closure %.1f MB = %.3fx of default (%.1f MB)\n", tc / 1e6, tc / t, t / 1e6 }'
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), engine $("$DOCKER" version --format '{{.Server.Version}}'), $(date +%F)"
