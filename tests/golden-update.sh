#!/usr/bin/env bash
# Regenerate tests/golden/*/expected/ from the current ./gpuslim: plan.json and
# every generated file. For humans, after reviewing what changed:
#
#   tests/golden-update.sh            every case
#   tests/golden-update.sh CASE...    only these
#   git diff tests/golden             read every change as a reviewer would
#
# Files are generated into a directory outside the recipe's tree, as
# tests/run.sh does, so docker-bake.hcl has no GPUSLIM_DOCKERFILE_DIR default
# that would depend on where the output went.
set -eu
cd "$(dirname "$0")/.."
GPUSLIM=$PWD/gpuslim
[ -x "$GPUSLIM" ] || { echo "golden-update: ./gpuslim is not built (run make)" >&2; exit 2; }
TMP=$(mktemp -d /tmp/gpuslim-golden.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
	for d in tests/golden/*/; do
		[ -f "$d/gpuslim.yaml" ] && cases+=("$(basename "$d")")
	done
fi
for name in "${cases[@]}"; do
	d=tests/golden/$name
	[ -f "$d/gpuslim.yaml" ] || { echo "golden-update: no $d/gpuslim.yaml" >&2; exit 2; }
	"$GPUSLIM" plan "$d/gpuslim.yaml" --json >"$TMP/plan.json"
	rm -rf "$TMP/out"
	mkdir -p "$TMP/out"
	"$GPUSLIM" generate "$d/gpuslim.yaml" -o "$TMP/out" >/dev/null
	mv "$TMP/plan.json" "$TMP/out/plan.json"
	rm -rf "$d/expected"
	cp -r "$TMP/out" "$d/expected"
	echo "updated $d/expected ($(ls -A "$d/expected" | wc -l) files)"
done
