#!/usr/bin/env bash
# The main job, offline, on this machine's local fixtures: set-up, build gpuslim, bring up
# the engine, registries and CUDA fixture bases (scripts/infra/up.sh), then
# `gpuslim build` the example recipe and run the image it made.
#
#   scripts/demo.sh                       recipes/cuda-vadd (a CUDA program + its closure)
#   scripts/demo.sh recipes/matrix/gpuslim.yaml   any recipe buildable on the fixtures
#
# gpuslim.yaml.example documents every field but names docker.io's nvidia/cuda bases, which
# this machine cannot pull; the recipes under recipes/ use the local fixture registry.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -s -j2 gpuslim
bash scripts/infra/up.sh
recipe=${1:-recipes/cuda-vadd/gpuslim.yaml}
report=$(mktemp /tmp/gpuslim-demo.XXXXXX.json)
trap 'rm -f "$report"' EXIT
./gpuslim build "$recipe" --json "$report"
docker=$(. scripts/infra/lib.sh && docker_client)
for ref in $(/usr/bin/python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["cells"]: print(c["image"])' "$report"); do
	echo "== docker run --rm $ref"
	# Without a GPU a CUDA program reports the driver's absence, which exits nonzero.
	"$docker" run --rm "$ref" || true
done
