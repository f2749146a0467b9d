#!/usr/bin/env bash
# Benchmarks of real builds on the local engine and fixtures (scripts/infra/up.sh first):
#  1. the size of a naive single-stage build of recipes/cuda-vadd on the devel fixture
#     beside the image `gpuslim build` makes of the same program;
#  2. the wall time of building recipes/matrix (4 cells) at -j1 and at -j2;
#  3. the wall time of gating those 4 cells (builds cached) at -j1 and at -j2.
# Every build runs with --no-cache, so each measures a full rebuild (apt's cache mounts,
# which BuildKit keeps across builds, are warm for every run alike).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

naive_vadd

t0=$(ms)
./gpuslim build recipes/cuda-vadd/gpuslim.yaml --no-cache --progress plain --json "$TMP/vadd.json" \
	-o "$TMP/vadd" >/dev/null 2>&1
slim_ms=$(($(ms) - t0))
ref=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cells"][0]["image"])' "$TMP/vadd.json")
slim=$("$DOCKER" image inspect --format '{{.Size}}' "$ref")
echo "cuda-vadd naive single-stage on devel: $naive bytes ($((naive / 1000000)) MB), built in ${naive_ms} ms"
echo "cuda-vadd gpuslim build:               $slim bytes ($((slim / 1000000)) MB), built in ${slim_ms} ms"
echo "ratio: $(awk -v a="$naive" -v b="$slim" 'BEGIN { printf "%.1fx smaller", a / b }')"

# 2. the matrix, one cell at a time and two at a time.
for j in 1 2; do
	t0=$(ms)
	./gpuslim build recipes/matrix/gpuslim.yaml -j "$j" --no-cache --progress plain -o "$TMP/m$j" \
		>/dev/null 2>&1
	echo "matrix (4 cells) -j$j: $(($(ms) - t0)) ms"
done
# 3. gating alone: the matrix again with every layer cached, so the builds are no-ops and the
#    time is the four cells' analysis (docker save streamed) and smoke tests.
for j in 1 2; do
	t0=$(ms)
	./gpuslim build recipes/matrix/gpuslim.yaml -j "$j" --progress plain -o "$TMP/g$j" \
		>/dev/null 2>&1
	echo "matrix (4 cells, cached) gating -j$j: $(($(ms) - t0)) ms"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), engine $("$DOCKER" version --format '{{.Server.Version}}'), $(date +%F)"
