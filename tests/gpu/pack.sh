#!/usr/bin/env bash
# Prepare a directory that runs the cuda-vadd GPU check on a host with a GPU and nothing
# else: no Docker, no package registry, none of gpuslim's libraries.
#
#   tests/gpu/pack.sh IMAGE OUT     IMAGE: a `docker save` tar (or an OCI layout directory)
#                                   of the cuda-vadd image, closure mode or not; OUT: a new
#                                   directory; then on the GPU host: OUT/check.sh
#
# OUT holds gpuslim linked with libarchive statically (Debian's libarchive pulls libxml2 and
# 31 MB of ICU data it never needs here), the rest of its library closure (ldd) with the
# loader and glibc, started as `lib/ld-linux-x86-64.so.2 --library-path lib bin/gpuslim` so
# that the host's glibc does not matter and no environment variable leaks into the programs
# gpuslim starts (bwrap, ldconfig, nvidia-smi); the plugins; the image (a tar compressed
# with zstd -19, or $PACK_ZSTD_LEVEL, when it is not yet compressed); check.sh. Everything
# stays under 64 MiB.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
[ $# -eq 2 ] || { echo "usage: $0 IMAGE OUT" >&2; exit 2; }
IMAGE=$1 OUT=$2
LIMIT=$((64 * 1024 * 1024))
[ -e "$IMAGE" ] || { echo "pack: no image '$IMAGE'" >&2; exit 2; }
[ ! -e "$OUT" ] || [ -z "$(ls -A "$OUT")" ] || { echo "pack: '$OUT' is not empty" >&2; exit 2; }

make -C "$ROOT" -s -j2 gpuslim >/dev/null
mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/plugins"
L=/usr/lib/x86_64-linux-gnu
so() { # the first of the given shared objects that exists
	local f
	for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done
	echo "pack: none of $* exists" >&2
	exit 1
}
# The same objects as ./gpuslim, libarchive from its static archive, its own needs
# (compression, nettle for encrypted zip, acl) shared.
cc -o "$OUT/bin/gpuslim" "$ROOT"/build/orchestrator/*/*.o \
	$(pkg-config --libs yaml-0.1 jansson libcurl libgit2 libcrypto) "$L/libarchive.a" \
	-lz "$(so "$L/libzstd.so" "$L/libzstd.so.1")" -llzma -lbz2 \
	"$(so "$L/liblz4.so" "$L/liblz4.so.1")" -lnettle "$(so "$L/libacl.so" "$L/libacl.so.1")" \
	-lpthread -lm -Wl,-rpath,'$ORIGIN/../lib'
strip "$OUT/bin/gpuslim"
# Its closure, the loader included: every "=> /path" of ldd, and the interpreter.
ldd "$OUT/bin/gpuslim" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
	while read -r lib; do cp -L "$lib" "$OUT/lib/$(basename "$lib")"; done
[ -e "$OUT/lib/ld-linux-x86-64.so.2" ] || { echo "pack: no loader in the closure" >&2; exit 1; }
cp "$ROOT"/plugins/*.json "$OUT/plugins/"
cp "$ROOT/tests/gpu/check.sh" "$OUT/check.sh"
chmod 755 "$OUT/check.sh"

if [ -d "$IMAGE" ]; then
	cp -r "$IMAGE" "$OUT/image"
elif head -c 4 "$IMAGE" | od -An -tx1 | grep -qE '28 b5 2f fd|1f 8b'; then
	cp "$IMAGE" "$OUT/image.tar.$(head -c 2 "$IMAGE" | od -An -tx1 | grep -q '1f 8b' && echo gz || echo zst)"
elif command -v zstd >/dev/null; then
	zstd -q "-${PACK_ZSTD_LEVEL:-19}" -T0 "$IMAGE" -o "$OUT/image.tar.zst"
else
	gzip -9 -c "$IMAGE" >"$OUT/image.tar.gz"
fi

chmod -R a+rX "$OUT"
size=$(du -sb "$OUT" | cut -f1)
echo "pack: $OUT: $((size / 1024 / 1024)) MiB ($(ls "$OUT/lib" | wc -l) libraries, image $(du -sh "$OUT"/image* | cut -f1))"
if [ "$size" -gt "$LIMIT" ]; then
	echo "pack: $size bytes, more than 64 MiB" >&2
	exit 1
fi
