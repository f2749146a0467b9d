#!/usr/bin/env bash
# tests/fuzz/seeds.sh DIR: the seed inputs of every fuzz target, made here (nothing binary
# is committed): DIR/recipe (every recipe the tests know), DIR/elf (this machine's own ELF
# files, each behind the chunk-size byte fuzz_elf.c reads first), DIR/image (the hostile
# and small docker-save archives of tests/fake/image_tars.py, the archives skopeo and podman
# write, and image layouts as tars: fuzz_image.c unpacks those), DIR/pyindex (the text
# seeds of tests/fuzz/seeds/pyindex: project pages shaped like pypi.org's and
# download.pytorch.org's, METADATA, wheel names, versions and requirements, each behind the
# byte that picks fuzz_pyindex.c's parser), DIR/lock (tests/data/locks: the good lock and
# every bad one, and tests/fuzz/seeds/lock). Used by bench/fuzz.sh and by the `fuzz` group
# of tests/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1
mkdir -p "$out/recipe" "$out/elf" "$out/image" "$out/pyindex" "$out/lock"
cp tests/fuzz/seeds/pyindex/* "$out/pyindex/"
cp tests/fuzz/seeds/lock/* tests/data/locks/good.lock "$out/lock/"
for f in tests/data/locks/bad/*.lock; do cp "$f" "$out/lock/bad-$(basename "$f")"; done
i=0
for f in tests/bad/*.yaml tests/golden/*/gpuslim.yaml recipes/*/gpuslim.yaml gpuslim.yaml.example; do
	cp "$f" "$out/recipe/$i.yaml"
	i=$((i + 1))
done
# Small ELF files of every kind: an executable, shared libraries with and without SONAME
# and RUNPATH, the loader itself.
i=0
for f in /bin/true /usr/bin/env /lib/x86_64-linux-gnu/libdl.so.2 /lib/x86_64-linux-gnu/libz.so.1 \
	/lib64/ld-linux-x86-64.so.2 /usr/lib/x86_64-linux-gnu/libyaml-0.so.2; do
	f=$(readlink -f "$f")
	[ -f "$f" ] || continue
	{ printf '\020'; head -c 262144 "$f"; } >"$out/elf/$i"
	{ printf '\001'; head -c 65536 "$f"; } >"$out/elf/$i-1"
	i=$((i + 1))
done
/usr/bin/python3 tests/fake/image_tars.py hostile "$out/image" >/dev/null
/usr/bin/python3 tests/fake/image_tars.py small "$out/image" >/dev/null
# skopeo's and podman's docker-archive: (one image, and two as `podman save -m` writes),
# and layouts as tars: OCI with two tags (umoci), with two platforms, and skopeo's dir:.
img=$out/image
/usr/bin/python3 tests/fake/image_tars.py dockerarchive "$img/skopeo.tar" "$img/small.tar" x/small:1
/usr/bin/python3 tests/fake/image_tars.py dockerarchive "$img/podman-m.tar" "$img/small.tar" x/small:1 \
	"$img/opaque-root.tar" x/opq:2
layouts=$(mktemp -d)
trap 'rm -rf "$layouts"' EXIT
/usr/bin/python3 tests/fake/image_tars.py ocitags "$img/small.tar" "$layouts/tags"
/usr/bin/python3 tests/fake/image_tars.py ociplatforms "$img/small.tar" "$layouts/plat"
/usr/bin/python3 tests/fake/image_tars.py dirlayout "$img/small.tar" "$layouts/dir"
for l in tags plat dir; do
	tar -C "$layouts/$l" -cf "$img/layout-$l.tar" .
done
rm -rf "$layouts"
# The truly large hostile inputs are the reader's limits' business, not the fuzzer's.
find "$out/image" -type f -size +1M -delete
# `docker save | gzip` and `| zstd`, which the reader takes too.
gzip -9 -c "$out/image/small.tar" >"$out/image/small.tar.gz"
zstd -q -19 -c "$out/image/small.tar" >"$out/image/small.tar.zst"
