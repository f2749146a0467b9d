#!/usr/bin/env bash
# Analysis speed and memory on a real image (the devel fixture by default), from a
# docker-save tar in the page cache, beside the baseline of listing every layer with tar:
#   for each layer: tar -xOf image.tar LAYER | tar -tv > /dev/null
# Prints one line per run: wall seconds and peak RSS (/usr/bin/time -v). Targets: within
# 2x of the baseline, RSS < 200 MB.
#
#   bench/inspect.sh [IMAGE] [RUNS]
set -eu
cd "$(dirname "$0")/.."
IMAGE=${1:-127.0.0.1:5000/gpuslim-fixtures/cuda:13.0.2-devel-debian12}
RUNS=${2:-3}
TMP=$(mktemp -d /tmp/gpuslim-bench-inspect.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
DOCKER=${DOCKER:-/usr/bin/docker}

make -s gpuslim
"$DOCKER" save -o "$TMP/image.tar" "$IMAGE"
cat "$TMP/image.tar" >/dev/null # into the page cache
tar -tf "$TMP/image.tar" | grep '/layer.tar$' >"$TMP/layers"
echo "image: $IMAGE ($(du -h "$TMP/image.tar" | cut -f1), $(wc -l <"$TMP/layers") layers)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

measure() { # label command...
	local label=$1
	shift
	/usr/bin/time -v "$@" >/dev/null 2>"$TMP/time" || { cat "$TMP/time"; return 1; }
	printf '%-28s %8s s  %8s KB peak RSS\n' "$label" \
		"$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TMP/time")" \
		"$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/time")"
}

baseline() {
	while read -r l; do tar -xOf "$TMP/image.tar" "$l" | tar -tv >/dev/null; done <"$TMP/layers"
}
export -f baseline
export TMP

# The analyzer core alone (pread over the tar; core/image.c linked in, not used: analyze.o
# names image_read for analyze_image()).
PKGS="yaml-0.1 jansson libcurl libgit2 libcrypto libarchive"
cc -std=c11 -D_GNU_SOURCE -O2 -Iorchestrator $(pkg-config --cflags $PKGS) -o "$TMP/analyze-tar" \
	bench/analyze-tar.c build/orchestrator/core/*.o build/orchestrator/util/*.o \
	$(pkg-config --libs $PKGS) -lpthread -lm

for i in $(seq "$RUNS"); do
	measure "tar -tv per layer" bash -c baseline
	measure "analyzer core (analyze-tar)" "$TMP/analyze-tar" "$TMP/image.tar" "$TMP/core.json"
	# End to end: the archive reader (every layer hashed into its diff_id) + the analysis.
	measure "gpuslim inspect (archive)" ./gpuslim inspect --json "$TMP/image.tar"
done
# The report is whole: the layers and files of the image, exit 0.
./gpuslim inspect --json "$TMP/image.tar" >"$TMP/inspect.json"
/usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("report: %d layers, %d files, %d ELF files, %d findings" % (r["summary"]["layers"],
      r["summary"]["files"], r["elf"]["files"], len(r["findings"])))' "$TMP/inspect.json"
