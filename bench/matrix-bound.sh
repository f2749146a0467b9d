#!/usr/bin/env bash
# Benchmark: `gpuslim validate` on matrices past the cell cap, which must be
# refused at once and in little memory (before the cap, a 10^6-cell matrix
# with a bad value took 22-55 s and 2.25 GB, 10^9 cells ran out of memory
# and 2^70 cells wrapped to "ok (0 cells)"). The recipes are the bad cases
# tests/bad/079 (2^70 cells), 080 (10^9) and 081 (10^6, one bad value),
# plus tests/bad/120 (2048 cells within the cap, one CUDA release that does
# not exist: judged before the matrix is expanded).
#
#   bench/matrix-bound.sh          prints one row per recipe
#   RUNS=20 bench/matrix-bound.sh  more runs (default 10)
#
# The first row, tests/bad/004-empty.yaml, is the floor: starting the
# binary and reading a recipe, with no matrix and no knowledge plugins.
# Target: every matrix row within 20 ms of that floor and under 20 MB peak
# RSS (GNU time's %M): nothing is expanded.
set -eu
cd "$(dirname "$0")/.."
GPUSLIM=$PWD/gpuslim
RUNS=${RUNS:-10}
[ -x "$GPUSLIM" ] || { echo "bench: ./gpuslim is not built (run make)" >&2; exit 2; }
TIME=/usr/bin/time
[ -x "$TIME" ] || TIME=

echo "| recipe | mean | min | peak RSS |"
echo "|---|---|---|---|"
for y in tests/bad/004-empty.yaml tests/bad/079-matrix-2-pow-70.yaml tests/bad/080-matrix-10-pow-9.yaml \
	tests/bad/081-matrix-10-pow-6-bad-value.yaml \
	tests/bad/120-matrix-value-checked-before-expansion.yaml; do
	sum=0 min="" rss=-
	for _ in $(seq "$RUNS"); do
		t0=$(date +%s%N)
		rc=0
		"$GPUSLIM" validate "$y" >/dev/null 2>&1 || rc=$?
		t1=$(date +%s%N)
		[ "$rc" -eq 2 ] || { echo "bench: $y: exit $rc, want 2" >&2; exit 1; }
		d=$(((t1 - t0) / 1000))
		sum=$((sum + d))
		if [ -z "$min" ] || [ "$d" -lt "$min" ]; then min=$d; fi
	done
	if [ -n "$TIME" ]; then
		rss=$("$TIME" -f '%M' "$GPUSLIM" validate "$y" 2>&1 >/dev/null | tail -n1)
		rss="${rss} KB"
	fi
	awk -v y="$y" -v s="$sum" -v n="$RUNS" -v m="$min" -v r="$rss" \
		'BEGIN { printf "| %s | %.1f ms | %.1f ms | %s |\n", y, s / n / 1000, m / 1000, r }'
done
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%d)"
