#!/usr/bin/env bash
# Two builds from one lock give the same venv: `gpuslim lock` against the fixture index
# (127.0.0.1:5080) and registry (127.0.0.1:5000), then `gpuslim build --locked --no-cache`
# twice, the first image retagged before the second build. Both images must answer the
# same `pip freeze`, and the layer of `COPY /gpuslim-out/ /` (the venv, found through the
# image config's history, whose non-empty entries pair with rootfs.diff_ids) must have
# the same diff_id; when it differs, the test lists the entries whose header differs.
# "COND && ok ... || notok ...": ok always succeeds, so notok runs only when COND fails.
# shellcheck source-path=SCRIPTDIR disable=SC2015
. "$(dirname "$0")/lib.sh"

it_require_infra "wheel repro: lock" "wheel repro: two --no-cache builds" \
	"wheel repro: pip freeze" "wheel repro: venv layer digest"
it_require_index "wheel repro: lock"

PY=/usr/bin/python3
D="$IT_TMP/repro"
mkdir -p "$D"
IMAGE="h8-wheel-repro/wheels-$$"
IT_IMAGES+=("$IMAGE:first" "$IMAGE:latest")

cat >"$D/gpuslim.yaml" <<EOF
name: wheel-repro
image: $IMAGE
base: {os: debian12, registry: "$GPUSLIM_REGISTRY", repository: gpuslim-fixtures/cuda}
cuda: "13.0"
python: "3.11"
python_packages: ["gsfx-utils", "gsfx-fmt"]
pip:
  index_url: $GPUSLIM_INDEX_URL
output:
  cache: none
  network: host
EOF

if "$GPUSLIM" lock "$D/gpuslim.yaml" >"$D/lock.out" 2>&1 && [ -s "$D/gpuslim.lock" ]; then
	ok "wheel repro: lock against the fixture index and registry"
else
	notok "wheel repro: lock" "$(cat "$D/lock.out")"
	it_done
fi

# build N: one --locked --no-cache build into $D/bN.
build() {
	"$GPUSLIM" build "$D/gpuslim.yaml" --locked --no-cache --no-gate -j 1 -o "$D/b$1" >"$D/b$1.out" 2>&1
}
if build 1 && "$DOCKER" tag "$IMAGE:latest" "$IMAGE:first" && "$DOCKER" rmi "$IMAGE:latest" >/dev/null &&
	build 2; then
	ok "wheel repro: two --locked --no-cache builds, tagged $IMAGE:first and :latest"
else
	notok "wheel repro: the builds" "$(tail -n 40 "$D/b1.out" "$D/b2.out" 2>/dev/null)"
	it_done
fi

# freeze TAG: pip freeze of the image's venv, run in the image.
freeze() { "$DOCKER" run --rm --network none "$IMAGE:$1" pip freeze; }
f1=$(freeze first 2>&1)
f2=$(freeze latest 2>&1)
if [ -n "$f1" ] && [ "$f1" = "$f2" ] && grep -qx 'gsfx-utils==1.1.0' <<<"$f1" && grep -qx 'gsfx-core==[0-9.]*' <<<"$f1"; then
	ok "wheel repro: pip freeze is the same in both images ($(grep -c . <<<"$f1") lines)"
else
	notok "wheel repro: pip freeze differs or lacks the lock's wheels" "$(diff <(echo "$f1") <(echo "$f2"); echo "$f1")"
fi

# venv_layer TAG: "DIFF_ID TARFILE" of the image's COPY /gpuslim-out/ / layer, from docker save.
venv_layer() {
	rm -rf "$D/save-$1"
	mkdir -p "$D/save-$1"
	"$DOCKER" save "$IMAGE:$1" | tar -x -C "$D/save-$1" || return 1
	"$PY" - "$D/save-$1" <<'EOF'
import json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))[0]
cfg = json.load(open(os.path.join(d, m["Config"])))
ids = cfg["rootfs"]["diff_ids"]
hist = [h for h in cfg["history"] if not h.get("empty_layer")]
assert len(hist) == len(ids) == len(m["Layers"]), "history does not pair with layers"
found = [i for i, h in enumerate(hist) if h.get("created_by", "").startswith("COPY /gpuslim-out/ /")]
assert len(found) == 1, "want one venv layer, found %d" % len(found)
i = found[0]
print(ids[i], os.path.join(d, m["Layers"][i]))
EOF
}
read -r id1 tar1 < <(venv_layer first 2>"$D/l1.err")
read -r id2 tar2 < <(venv_layer latest 2>"$D/l2.err")
if [[ "$id1" =~ ^sha256:[0-9a-f]{64}$ ]] && [ "$id1" = "$id2" ]; then
	ok "wheel repro: the venv layer has the same diff_id in both images ($id1)"
else
	notok "wheel repro: venv layer diff_ids '$id1' and '$id2'" "$(cat "$D/l1.err" "$D/l2.err"
		[ -f "${tar1:-}" ] && [ -f "${tar2:-}" ] &&
			diff <(tar --full-time -tvf "$tar1") <(tar --full-time -tvf "$tar2") | head -n 40)"
fi
# The layer carries SOURCE_DATE_EPOCH only (1980-01-01) and no bytecode.
if [ -f "${tar1:-}" ] && tar --full-time -tvf "$tar1" >"$D/list" && [ -s "$D/list" ] &&
	! grep -v ' 1980-01-01 00:00:00 ' "$D/list" >/dev/null && ! grep -qE '__pycache__|\.pyc$' "$D/list" &&
	grep -q ' opt/venv/bin/python' "$D/list"; then
	ok "wheel repro: every entry of the venv layer has mtime SOURCE_DATE_EPOCH (1980-01-01), no bytecode"
else
	notok "wheel repro: venv layer entries" "$(grep -v ' 1980-01-01 00:00:00 ' "$D/list" 2>/dev/null | head; grep -E '__pycache__|\.pyc$' "$D/list" 2>/dev/null | head)"
fi
rm -rf "$D/save-first" "$D/save-latest"

it_done
