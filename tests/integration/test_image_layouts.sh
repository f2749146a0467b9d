#!/usr/bin/env bash
# What other tools write, read by `gpuslim inspect` as the image it holds: skopeo's
# docker-archive: (layers as <digest>.tar at the root), oci-archive:, oci: (two tags in one
# layout, zstd layers) and dir:, and umoci's repack (a second tagged image in the layout),
# each made here by the real tool from a docker-save archive the test makes (no engine, no
# network). Every one reads as the same image (layers, files, wasted bytes), its compressed
# size is skopeo's to the byte, a layout of several images names its tags, PATH:TAG picks
# one; --platform and a missing path are checked on the command line.
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
T=$IT_TMP
PY=/usr/bin/python3

for tool in skopeo umoci; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		notok "$tool is not installed (scripts/setup.sh installs it)"
		it_done
	fi
done

# facts FILE: what must agree between two readings of one image, from a --json report.
facts() {
	$PY -c 'import json,sys
r = json.load(open(sys.argv[1])); s = r["summary"]
print(s["size"], s["files"], s["visible_bytes"], s["wasted_bytes"],
      " ".join(l["diff_id"] for l in r["layers"]))' "$1"
}
# inspect_as WHAT IMAGE: inspect --json IMAGE into $T/WHAT.json; exit in $rc, stderr in $T/err.
inspect_as() {
	"$GPUSLIM" inspect --json "$2" >"$T/$1.json" 2>"$T/err"
	rc=$?
}
# expect_cli WHAT CODE PATTERN ARGS...: gpuslim ARGS exits CODE and prints PATTERN (grep -E).
expect_cli() {
	local what=$1 code=$2 pattern=$3
	shift 3
	"$GPUSLIM" "$@" >"$T/out" 2>&1
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -qE -- "$pattern" "$T/out"; then
		ok "$what"
	else
		notok "$what: exit $rc, want $code and /$pattern/" "$(cat "$T/out")"
	fi
}

$PY tests/fake/image_tars.py small "$T" >/dev/null
SAVE=$T/small.tar
inspect_as ref "$SAVE"
[ "$rc" -eq 0 ] || { notok "inspect the docker-save archive" "$(cat "$T/err")"; it_done; }
want=$(facts "$T/ref.json")

sk() { skopeo copy --quiet --insecure-policy "$@" >"$T/sk.log" 2>&1 || cat "$T/sk.log"; }
sk "docker-archive:$SAVE" "docker-archive:$T/sk-da.tar:gpuslim-test/small:2"
sk "docker-archive:$SAVE" "oci-archive:$T/sk-oci.tar:v1"
sk "docker-archive:$SAVE" "oci:$T/layout:v1"
sk --dest-compress-format zstd "docker-archive:$SAVE" "oci:$T/layout:v2"
sk "docker-archive:$SAVE" "dir:$T/skdir"

# Every layout reads as the same image.
for case in "skopeo docker-archive:=$T/sk-da.tar" "skopeo oci-archive:=$T/sk-oci.tar" \
	"skopeo oci: DIR:v1 (gzip)=$T/layout:v1" "skopeo oci: DIR:v2 (zstd)=$T/layout:v2" \
	"skopeo dir:=$T/skdir" "docker-archive: ARCHIVE:TAG=$T/sk-da.tar:gpuslim-test/small:2"; do
	what=${case%%=*} image=${case#*=}
	inspect_as got "$image"
	if [ "$rc" -eq 0 ] && [ "$(facts "$T/got.json")" = "$want" ]; then
		ok "$what reads as the image it holds"
	else
		notok "$what: exit $rc" "$(cat "$T/err"; facts "$T/got.json" 2>&1; echo "want: $want")"
	fi
done

# The compressed size is the sum of the blobs skopeo wrote, to the byte.
skopeo inspect --raw "oci:$T/layout:v2" >"$T/raw.json" 2>"$T/err"
inspect_as got "$T/layout:v2"
sizes=$($PY -c 'import json,sys
m = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2]))
print(sum(l["size"] for l in m["layers"]), r["summary"]["compressed_size"],
      [l["size"] for l in m["layers"]] == [l["compressed_size"] for l in r["layers"]])' \
	"$T/raw.json" "$T/got.json" 2>&1)
read -r -a got <<<"$sizes"
set -- "${got[@]}"
if [ "$#" -eq 3 ] && [ "$1" = "$2" ] && [ "$3" = True ]; then
	ok "compressed sizes are skopeo's to the byte ($1 B)"
else
	notok "compressed sizes differ from skopeo's" "$sizes"
fi

# Two images in one layout: no tag names which, and the error says what tags there are.
expect_cli "a layout of two images without a tag names its tags" 2 \
	"holds 2 images \(tags: v1, v2\): name one as '.*/layout:TAG'" inspect "$T/layout"
expect_cli "DIR:TAG of a tag it lacks names its tags" 2 "has no tag 'v9' \(it has: v1, v2\)" \
	inspect "$T/layout:v9"

# umoci: unpack v1, add a file, repack as v2 beside it.
sk "docker-archive:$SAVE" "oci:$T/umoci:v1"
if umoci unpack --rootless --image "$T/umoci:v1" "$T/bundle" >"$T/umoci.log" 2>&1 &&
	echo added >"$T/bundle/rootfs/etc/added" &&
	umoci repack --image "$T/umoci:v2" "$T/bundle" >>"$T/umoci.log" 2>&1; then
	expect_cli "umoci repack: two images, no tag: the tags are named" 2 \
		"holds 2 images \(tags: v1, v2\)" inspect "$T/umoci"
	inspect_as umoci "$T/umoci:v2"
	if [ "$rc" -eq 0 ] && $PY -c 'import json,sys
s = json.load(open(sys.argv[1]))["summary"]
sys.exit(0 if s["layers"] == 4 and s["files"] == 6 else 1)' "$T/umoci.json"; then
		ok "umoci repack: DIR:v2 is the repacked image (4 layers, the added file)"
	else
		notok "umoci repack: DIR:v2" "$(cat "$T/err" "$T/umoci.json")"
	fi
	inspect_as umoci1 "$T/umoci:v1"
	if [ "$rc" -eq 0 ] && [ "$(facts "$T/umoci1.json")" = "$want" ]; then
		ok "umoci repack: DIR:v1 is still the first image"
	else
		notok "umoci repack: DIR:v1" "$(cat "$T/err")"
	fi
else
	notok "umoci unpack and repack" "$(cat "$T/umoci.log")"
fi

# A path that is not there is a missing file (exit 2), never a registry to reach (exit 3).
expect_cli "inspect ./missing.tar: no such file, exit 2" 2 \
	"^gpuslim: image './missing.tar': no such file or directory$" inspect ./missing.tar
expect_cli "inspect DIR/missing:v1: no such file, exit 2" 2 "no such file or directory" \
	inspect "$T/missing/layout:v1"

# --platform: an archive of one platform, an index of two, a bad value.
$PY tests/fake/image_tars.py ociplatforms "$SAVE" "$T/plat" >/dev/null
expect_cli "inspect --platform linux/arm64 of an amd64 archive names what it has" 2 \
	"has no manifest for platform 'linux/arm64' \(it has: linux/amd64\)" \
	inspect --platform linux/arm64 "$T/sk-oci.tar"
"$GPUSLIM" inspect --json --platform linux/arm64 "$T/plat" >"$T/arm.json" 2>"$T/err"
if $PY -c 'import json,sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["image"]["id"] != json.load(open(sys.argv[2]))["image"]["id"] else 1)' \
	"$T/arm.json" "$T/ref.json"; then
	ok "inspect --platform linux/arm64: the arm64 config, not the amd64 one"
else
	notok "inspect --platform linux/arm64: same image id as amd64" "$(cat "$T/err")"
fi
expect_cli "inspect --platform with a bad value is a usage error" 2 \
	"^gpuslim: --platform wants OS/ARCH\[/VARIANT\] \(like linux/arm64\), not 'arm64'$" \
	inspect --platform arm64 "$T/plat"
expect_cli "gate --platform with a bad value is a usage error" 2 \
	"--platform wants OS/ARCH\[/VARIANT\]" \
	gate --platform linux/ "$T/plat" --recipe recipes/cuda-vadd/gpuslim.yaml
if [ -f "$STATE/fixtures.env" ] && registry_up "$REG_OPEN_ADDR"; then
	expect_cli "gate --platform linux/s390x names the platforms the image has" 2 \
		"has no manifest for platform 'linux/s390x' \(it has: linux/amd64, linux/arm64/v8\)" \
		gate --platform linux/s390x "$T/plat" --recipe recipes/cuda-vadd/gpuslim.yaml --no-smoke
	expect_cli "gate --platform linux/arm64 gates the arm64 image" 0 "^pass: " \
		gate --platform linux/arm64 "$T/plat" --recipe recipes/cuda-vadd/gpuslim.yaml --no-smoke
else
	skip "gate --platform on a layout (the recipe's plan needs the local registry)"
fi
it_done
