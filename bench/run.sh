#!/usr/bin/env bash
# Benchmark: plan and generate a 1000-cell matrix (10 CUDA versions x 10
# managed Pythons x 10 OSes). Eight of the OSes are synthetic (debian20 ..
# debian27), added through --plugins with a synthetic base repository,
# because the real tables have only a few OSes per CUDA version.
#
#   bench/run.sh          writes bench/out/ and prints a results row
#   RUNS=20 bench/run.sh  more runs (default 10)
#
# Uses hyperfine when installed (apt-get install hyperfine), else a loop
# timed with date +%s%N (mean and min of RUNS runs).
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
GPUSLIM=$ROOT/gpuslim
RUNS=${RUNS:-10}
OUT=${BENCH_RUN_OUT:-$ROOT/bench/out} # make bench: a directory of its own
[ -x "$GPUSLIM" ] || { echo "bench: ./gpuslim is not built (run make)" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT/plugins" "$OUT/recipe/app" "$OUT/gen"

. bench/matrix-lib.sh
matrix_plugins "$OUT/plugins"

cat >"$OUT/recipe/gpuslim.yaml" <<YAML
name: bench
base:
  os: ubuntu22.04
  repository: bench/cuda
cuda: "12.4"
python: "3.11"
python_source: managed
python_packages: ["numpy==2.1.*"]
app:
  copy: ["app/"]
  cmd: ["python", "-m", "app"]
models:
  - name: weights
    path: weights
matrix:
  max_cells: 1000
  cuda: [$cudas]
  python: ["3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]
  os: [$oses]
YAML

R=$OUT/recipe/gpuslim.yaml
P=(--plugins "$OUT/plugins")
cells=$("$GPUSLIM" plan "$R" "${P[@]}" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["cells"]))')
"$GPUSLIM" generate "$R" "${P[@]}" -o "$OUT/gen" >/dev/null
files=$(ls -A "$OUT/gen" | wc -l)
bytes=$(cat "$OUT/gen"/* "$OUT/gen"/.dockerignore | wc -c)
echo "bench: $cells cells, generate writes $files files ($bytes bytes)"

plan_cmd="$GPUSLIM plan $R --plugins $OUT/plugins --json >/dev/null"
gen_cmd="$GPUSLIM generate $R --plugins $OUT/plugins -o $OUT/gen >/dev/null"
# cold: a fresh output directory each run, so every file is written. The last run's
# directory is moved aside (a rename), untimed, and removed at the end: removing 2000
# files right before a run makes that run pay for the file system's deferred work on the
# removal (this disk is mounted with online discard), which is not gpuslim's.
gen_cold_cmd="$GPUSLIM generate $R --plugins $OUT/plugins -o $OUT/cold"
mkdir -p "$OUT/trash"
printf '#!/bin/sh\n[ ! -d "%s/cold" ] || mv "%s/cold" "%s/trash/$(date +%%s%%N)"\n' \
	"$OUT" "$OUT" "$OUT" >"$OUT/prep-cold.sh"
chmod +x "$OUT/prep-cold.sh"
gen_cold_prep="$OUT/prep-cold.sh"

loop_ms() { # mean and min over RUNS, in ms; $2, when given, runs untimed before each run
	local i t0 t1 sum=0 min=
	for i in $(seq "$RUNS"); do
		[ -z "${2:-}" ] || sh -c "$2"
		t0=$(date +%s%N)
		sh -c "$1" >/dev/null
		t1=$(date +%s%N)
		d=$(((t1 - t0) / 1000))
		sum=$((sum + d))
		if [ -z "$min" ] || [ "$d" -lt "$min" ]; then min=$d; fi
	done
	awk -v s="$sum" -v n="$RUNS" -v m="$min" 'BEGIN { printf "mean %.1f ms, min %.1f ms (%d runs, date loop)\n", s / n / 1000, m / 1000, n }'
}

if command -v hyperfine >/dev/null; then
	hyperfine -N --warmup 2 --runs "$RUNS" --export-markdown "$OUT/hyperfine.md" \
		-n plan "$GPUSLIM plan $R --plugins $OUT/plugins --json" \
		-n generate "$GPUSLIM generate $R --plugins $OUT/plugins -o $OUT/gen" \
		>"$OUT/hyperfine.txt" 2>&1 || { cat "$OUT/hyperfine.txt"; exit 1; }
	hyperfine -N --warmup 2 --runs "$RUNS" --export-markdown "$OUT/hyperfine-cold.md" \
		--prepare "$gen_cold_prep" -n generate-cold "$gen_cold_cmd" \
		>"$OUT/hyperfine-cold.txt" 2>&1 || { cat "$OUT/hyperfine-cold.txt"; exit 1; }
	cat "$OUT/hyperfine.md" "$OUT/hyperfine-cold.md"
else
	echo "plan --json: $(loop_ms "$plan_cmd")"
	echo "generate (files unchanged): $(loop_ms "$gen_cmd")"
	echo "generate (fresh dir):       $(loop_ms "$gen_cold_cmd" "$gen_cold_prep")"
fi
rm -rf "$OUT/trash"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(date -u +%Y-%m-%d)"
