#!/usr/bin/env bash
# Regenerate tests/golden/*/expected/ from the current ./gpuslim: plan.json and
# every generated file. For humans, after reviewing what changed:
#
#   tests/golden-update.sh            every case
#   tests/golden-update.sh CASE...    only these
#   git diff tests/golden             read every change as a reviewer would
#
# As tests/run.sh does, the case (recipe and context files, not expected/) is
# copied into a scratch directory and generated into its out/, so the bake
# file's paths are relative and name nothing of this machine.
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
	rm -rf "$TMP/case"
	mkdir -p "$TMP/case"
	cp -r "$d/." "$TMP/case/"
	rm -rf "$TMP/case/expected"
	"$GPUSLIM" generate "$TMP/case/gpuslim.yaml" -o "$TMP/case/out" >/dev/null
	mv "$TMP/plan.json" "$TMP/case/out/plan.json"
	rm -rf "$d/expected"
	cp -r "$TMP/case/out" "$d/expected"
	echo "updated $d/expected ($(ls -A "$d/expected" | wc -l) files)"
done
