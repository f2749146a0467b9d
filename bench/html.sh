#!/usr/bin/env bash
# The HTML page (--html) of a real image, the devel fixture by default, read from a
# docker-save tar in the page cache: its size, and the time `inspect --html` takes beside
# `inspect --json` alone (both write the report; --html also builds the sizemap and the
# page). Then the page in chromium (tests/integration/html_check.js: no console error, the
# treemap adds up, a click zooms in) and its screenshot, the README's docs/html-report.png.
# Targets (issue 12): the page under 2 MB, written in under 1 s more than inspect alone.
#
#   bench/html.sh [IMAGE] [RUNS]
set -eu
cd "$(dirname "$0")/.."
IMAGE=${1:-127.0.0.1:5000/gpuslim-fixtures/cuda:13.0.2-devel-debian12}
RUNS=${2:-5}
TMP=$(mktemp -d /tmp/gpuslim-bench-html.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
DOCKER=${DOCKER:-/usr/bin/docker}

make -s gpuslim
"$DOCKER" save -o "$TMP/image.tar" "$IMAGE"
cat "$TMP/image.tar" >/dev/null # into the page cache
echo "image: $IMAGE ($(du -h "$TMP/image.tar" | cut -f1))"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# Wall and CPU (user + system) seconds: on a loaded machine (shared by other jobs) the wall
# time swings by seconds, the CPU time the command itself used much less.
measure() { # command...: "wall cpu"
	/usr/bin/time -f '%e %U %S' -o "$TMP/time" "$@" >/dev/null
	awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$TMP/time"
}
pw=() pc=() hw=() hc=()
for i in $(seq "$RUNS"); do
	# alternate, so load drifts hit both alike
	read -r w c < <(measure ./gpuslim inspect --json "$TMP/image.tar")
	pw+=("$w") pc+=("$c")
	read -r w c < <(measure ./gpuslim inspect --json --html "$TMP/page.html" "$TMP/image.tar")
	hw+=("$w") hc+=("$c")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { printf '%s\n' "$@" | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.2f-%.2f", lo, hi}'; }
echo "inspect --json:         wall median $(median "${pw[@]}") s ($(range "${pw[@]}")), CPU median $(median "${pc[@]}") s ($(range "${pc[@]}")), $RUNS runs"
echo "inspect --json --html:  wall median $(median "${hw[@]}") s ($(range "${hw[@]}")), CPU median $(median "${hc[@]}") s ($(range "${hc[@]}")), $RUNS runs"
echo "difference of medians:  wall $(echo "$(median "${hw[@]}") - $(median "${pw[@]}")" | bc) s, CPU $(echo "$(median "${hc[@]}") - $(median "${pc[@]}")" | bc) s"
# The analyzer core alone (bench/analyze-tar.c, as bench/inspect.sh builds it), without
# and with the sizemap: what the page adds to the analysis, without the archive reader's
# hashing in the way.
PKGS="yaml-0.1 jansson libcurl libgit2 libcrypto libarchive"
cc -std=c11 -D_GNU_SOURCE -O2 -Iorchestrator $(pkg-config --cflags $PKGS) -o "$TMP/analyze-tar" \
	bench/analyze-tar.c build/orchestrator/core/*.o build/orchestrator/util/*.o \
	$(pkg-config --libs $PKGS) -lpthread -lm
cw=() cc=() sw=() sc=()
for i in $(seq "$RUNS"); do
	read -r w c < <(measure "$TMP/analyze-tar" "$TMP/image.tar" "$TMP/core.json")
	cw+=("$w") cc+=("$c")
	read -r w c < <(measure env GPUSLIM_BENCH_SIZEMAP=1 "$TMP/analyze-tar" "$TMP/image.tar" "$TMP/core.json")
	sw+=("$w") sc+=("$c")
done
echo "analyzer core:            wall median $(median "${cw[@]}") s ($(range "${cw[@]}")), CPU median $(median "${cc[@]}") s ($(range "${cc[@]}"))"
echo "analyzer core + sizemap:  wall median $(median "${sw[@]}") s ($(range "${sw[@]}")), CPU median $(median "${sc[@]}") s ($(range "${sc[@]}"))"
./gpuslim inspect --json --sizemap "$TMP/image.tar" >"$TMP/r.json"
python3 - "$TMP/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n = 0
def count(ns):
    global n
    for x in ns:
        n += 1
        if len(x) > 3 and isinstance(x[3], list): count(x[3])
for l in r["sizemap"]["layers"]: count(l)
print("image: %d bytes, %d files, %d layers; sizemap: %d nodes, min_bytes %d" % (
    r["summary"]["size"], r["summary"]["files"], r["summary"]["layers"], n, r["sizemap"]["min_bytes"]))
PY
echo "page: $(stat -c %s "$TMP/page.html") bytes"
if [ -d tests/node/node_modules/puppeteer-core ] && command -v chromium >/dev/null; then
	mkdir -p docs
	node tests/integration/html_check.js "$TMP/page.html" --zoom --screenshot docs/html-report.png
	echo "screenshot: docs/html-report.png ($(stat -c %s docs/html-report.png) bytes)"
else
	echo "browser: skipped (chromium or tests/node/node_modules/puppeteer-core missing)"
fi
