#!/usr/bin/env bash
# The main job on the example, offline, on this machine's local fixtures:
# set-up, build gpuslim, then validate, plan and generate the example recipe.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -s -j2 gpuslim
recipe=${1:-recipes/cuda-vadd/gpuslim.yaml}
out=${2:-out/$(basename "$(dirname "$recipe")")}
./gpuslim validate "$recipe"
./gpuslim plan "$recipe"
./gpuslim generate "$recipe" -o "$out"
