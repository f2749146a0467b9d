#!/usr/bin/env bash
# Benchmark: `gpuslim lock` of a 16-cell matrix (4 Pythons x cuDNN or not x strip
# none/unneeded, each cell with 4 python_packages that pull a fifth: gsfx-utils, gsfx-fmt,
# nvidia-cublas, nvidia-cudnn-cu13, gsfx-core) against the fixture registry
# (127.0.0.1:5000) and a package index of its own (scripts/infra/pyindex.py --port 0 over
# the fixture index's wheels, with a request log). Every run starts without a lock, so
# every pin is resolved again. Target: mean under 2 s, and each index page fetched once
# per run (16 cells, 5 projects: 5 page requests).
#
#   bench/lock-matrix.sh           one Markdown row: mean, min, max, requests per run
#   RUNS=20 bench/lock-matrix.sh   more runs (default 10)
#
# Uses hyperfine when it is installed, else a loop timed with date +%s%N. Needs the
# infrastructure (scripts/infra/up.sh). Exit 1 when a page is fetched twice in a run or
# the mean is 2 s or more.
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
GPUSLIM=$ROOT/gpuslim
RUNS=${RUNS:-10}
STATE=${GPUSLIM_INFRA_STATE:-/var/tmp/gpuslim-infra}
[ -x "$GPUSLIM" ] || { echo "bench: ./gpuslim is not built (run make)" >&2; exit 2; }
[ -f "$STATE/fixtures.env" ] || { echo "bench: no $STATE/fixtures.env (run scripts/infra/up.sh)" >&2; exit 2; }
# shellcheck disable=SC1091
. "$STATE/fixtures.env"

T=$(mktemp -d /tmp/gpuslim-lock-matrix.XXXXXX)
idx_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[ -z "$idx_pid" ] || { kill "$idx_pid" 2>/dev/null; wait "$idx_pid" 2>/dev/null || true; }
	rm -rf "$T"
}
trap cleanup EXIT

python3 "$ROOT/scripts/infra/pyindex.py" serve --dir "$GPUSLIM_INDEX_DIR" --port 0 \
	--port-file "$T/port" --log "$T/index.log" &
idx_pid=$!
while [ ! -s "$T/port" ] && kill -0 "$idx_pid" 2>/dev/null; do sleep 0.05; done
[ -s "$T/port" ] || { echo "bench: pyindex.py did not start" >&2; exit 1; }

cat >"$T/gpuslim.yaml" <<EOF
name: lock-matrix
image: bench/lock-matrix
base: {os: debian12, registry: "$GPUSLIM_REGISTRY", repository: gpuslim-fixtures/cuda}
cuda: "13.0"
python: "3.11"
python_source: managed
python_packages: ["gsfx-utils", "gsfx-fmt", "nvidia-cublas", "nvidia-cudnn-cu13"]
pip:
  index_url: http://127.0.0.1:$(cat "$T/port")/simple
matrix:
  python: ["3.10", "3.11", "3.12", "3.13"]
  cudnn: [false, true]
  strip: [none, unneeded]
output:
  cache: none
EOF

# One run: no lock, then `gpuslim lock`; the index log holds this run's requests only.
cat >"$T/run.sh" <<EOF
#!/bin/sh
set -e
rm -f "$T/gpuslim.lock"
: >"$T/index.log"
"$GPUSLIM" lock "$T/gpuslim.yaml" >/dev/null 2>"$T/lock.err"
EOF
chmod +x "$T/run.sh"

"$T/run.sh" || { cat "$T/lock.err" >&2; exit 1; }
cells=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["cells"]))' "$T/gpuslim.lock")
[ "$cells" -eq 16 ] || { echo "bench: the lock has $cells cells, want 16" >&2; exit 1; }
# The requests of that one run: per path, how often.
pages=$(grep -c '"GET /simple/[^ ]*/ HTTP' "$T/index.log" || true)
pages_once=$(grep -o '"GET /simple/[^ ]*/ HTTP' "$T/index.log" | sort | uniq -d | wc -l)
meta=$(grep -c '"GET /packages/[^ ]*\.metadata HTTP' "$T/index.log" || true)
meta_files=$(grep -o '"GET /packages/[^ ]*\.metadata HTTP' "$T/index.log" | sort -u | wc -l)
total=$(grep -c '"GET ' "$T/index.log" || true)

if command -v hyperfine >/dev/null 2>&1; then
	hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$T/h.json" "$T/run.sh" >&2
	read -r mean min max < <(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.1f %.1f %.1f" % (r["mean"] * 1e3, r["min"] * 1e3, r["max"] * 1e3))' "$T/h.json")
	how="hyperfine, $RUNS runs"
else
	sum=0 min="" max=0
	for _ in $(seq "$RUNS"); do
		t0=$(date +%s%N)
		"$T/run.sh" || { cat "$T/lock.err" >&2; exit 1; }
		t1=$(date +%s%N)
		d=$(((t1 - t0) / 1000))
		sum=$((sum + d))
		if [ -z "$min" ] || [ "$d" -lt "$min" ]; then min=$d; fi
		if [ "$d" -gt "$max" ]; then max=$d; fi
	done
	mean=$(awk -v s="$sum" -v n="$RUNS" 'BEGIN { printf "%.1f", s / n / 1000 }')
	min=$(awk -v m="$min" 'BEGIN { printf "%.1f", m / 1000 }')
	max=$(awk -v m="$max" 'BEGIN { printf "%.1f", m / 1000 }')
	how="date +%s%N loop, $RUNS runs"
fi

echo "| cells | mean | min | max | index pages (distinct) | metadata files (distinct) | all index requests | timed by |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $cells | $mean ms | $min ms | $max ms | $pages ($((pages - pages_once))) | $meta ($meta_files) | $total | $how |"
fail=0
if [ "$pages_once" -ne 0 ]; then
	echo "bench: a page was fetched more than once in one run:" >&2
	grep -o '"GET /simple/[^ ]*/ HTTP' "$T/index.log" | sort | uniq -c | awk '$1 > 1' >&2
	fail=1
fi
if awk -v m="$mean" 'BEGIN { exit !(m >= 2000) }'; then
	echo "bench: mean $mean ms is not under the 2 s target" >&2
	fail=1
fi
exit "$fail"
