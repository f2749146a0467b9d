#!/usr/bin/env bash
# Benchmark: `gpuslim run` of the cuda-vadd image from a docker-save tar, from the call to
# the program's first output ("vadd: cudaGetDeviceCount: ..." without a GPU). Target: < 1 s.
#
#   bench/run-rootfs.sh TAR [TAR...]    e.g. the closure-mode and the normal cuda-vadd image:
#       docker save -o /var/tmp/vadd.tar 127.0.0.1:5000/gpuslim-examples/cuda-vadd
#   RUNS=10 bench/run-rootfs.sh ...      runs per case (default 5)
#
# Each TAR is run with $TMPDIR on the root disk (/var/tmp) and on tmpfs (/dev/shm): the
# unpacked tree is written there and removed after. Prints a results row per case: mean
# and min to the first byte of output, and the whole run.
set -eu
cd "$(dirname "$0")/.."
GPUSLIM=$PWD/gpuslim
RUNS=${RUNS:-5}
[ -x "$GPUSLIM" ] || { echo "bench: ./gpuslim is not built (run make)" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: $0 TAR [TAR...]" >&2; exit 2; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

for tar in "$@"; do
	for tmp in /var/tmp /dev/shm; do
		[ -d "$tmp" ] || continue
		first_all=() whole_all=()
		for _ in $(seq "$RUNS"); do
			t0=$(date +%s%N)
			# The first line of the program's output (stderr: it has no GPU) stamps t1.
			t1=$( { TMPDIR=$tmp "$GPUSLIM" run "$tar" -- /usr/local/bin/vadd 2>&1 || true; } |
				{ IFS= read -r _line; date +%s%N; cat >/dev/null; })
			t2=$(date +%s%N)
			first_all+=("$(ms "$t0" "$t1")")
			whole_all+=("$(ms "$t0" "$t2")")
		done
		stats() { printf '%s\n' "$@" | awk '{s+=$1; if (NR==1||$1<m) m=$1} END {printf "%d ms | %d ms", s/NR, m}'; }
		echo "| $(date +%F) | $(basename "$tar") ($(du -h "$tar" | cut -f1)) | TMPDIR=$tmp | $(stats "${first_all[@]}") | $(stats "${whole_all[@]}") | $RUNS runs, load $(cut -d' ' -f1 /proc/loadavg) |"
	done
done
