#!/usr/bin/env bash
# Benchmark: `gpuslim plan R --ci-matrix` of a 1000-cell matrix (10 CUDA versions x
# 10 managed Pythons x 10 OSes, eight of the OSes synthetic, added with --plugins with a
# synthetic base repository, as bench/run.sh does; the recipe sets matrix.max_cells: 1000
# over the default cap of 256). Target: under 200 ms.
#
#   bench/ci-matrix.sh          prints the cell count and mean/min/max over RUNS runs
#   RUNS=50 bench/ci-matrix.sh  more runs (default 20)
#
# Timed with date +%s%N around each run (no hyperfine needed); the first run is a warm-up.
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
GPUSLIM=$ROOT/gpuslim
RUNS=${RUNS:-20}
OUT=$(mktemp -d /tmp/gpuslim-bench-ci-matrix.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
[ -x "$GPUSLIM" ] || { echo "bench: ./gpuslim is not built (run make)" >&2; exit 2; }
mkdir -p "$OUT/plugins" "$OUT/recipe/app"

. bench/matrix-lib.sh
matrix_plugins "$OUT/plugins"

cat >"$OUT/recipe/gpuslim.yaml" <<YAML
name: bench
image: 127.0.0.1:5000/bench/ci-matrix
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
matrix:
  max_cells: 1000
  cuda: [$cudas]
  python: ["3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]
  os: [$oses]
YAML

R=$OUT/recipe/gpuslim.yaml
"$GPUSLIM" plan "$R" --plugins "$OUT/plugins" --ci-matrix >"$OUT/matrix.json"
read -r cells bytes < <(python3 - "$OUT/matrix.json" <<'PY'
import json, os, sys
text = open(sys.argv[1]).read()
assert text.count("\n") == 1, "not one line"
m = json.loads(text)
print(len(m["include"]), len(text))
PY
)
echo "bench: plan --ci-matrix prints $cells cells on one line ($bytes bytes)"

sum=0 min= max=0
for i in $(seq 0 "$RUNS"); do
	t0=$(date +%s%N)
	"$GPUSLIM" plan "$R" --plugins "$OUT/plugins" --ci-matrix >/dev/null
	t1=$(date +%s%N)
	[ "$i" -eq 0 ] && continue # warm-up: page cache
	d=$(((t1 - t0) / 1000))
	sum=$((sum + d))
	if [ -z "$min" ] || [ "$d" -lt "$min" ]; then min=$d; fi
	if [ "$d" -gt "$max" ]; then max=$d; fi
done
awk -v s="$sum" -v n="$RUNS" -v lo="$min" -v hi="$max" \
	'BEGIN { printf "plan --ci-matrix, %d runs: mean %.1f ms, min %.1f ms, max %.1f ms\n", n, s / n / 1000, lo / 1000, hi / 1000 }'
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)"
