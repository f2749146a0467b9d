#!/usr/bin/env bash
# gpuslim knowledge refresh against the local registry and a wheel index of its own:
# tags of several CUDA versions and flavors (the fixture's blobs under configs whose Env
# says another CUDA_VERSION, NV_CUDNN_VERSION and NVIDIA_REQUIRE_CUDA) become bases.json's
# entry and cuda.json's releases; the torch pages of /whl/cu126 and /whl/cu130 and
# torchvision's PEP 658 metadata become frameworks.json's releases and pairs; a second
# refresh is byte-identical; a tag deleted from the registry leaves the tables (--diff
# says so); plan reads the refreshed tables and says when they were refreshed.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
FIX="$ROOT/tests/integration/knowledge_fixture.py"
CHECKS=("refresh: tags pushed" "refresh: tables from the registry" "refresh: tables from the index"
	"refresh: byte-stable" "refresh: deleted tag leaves" "refresh: plan reads them" "refresh: bad source")
it_require_infra "${CHECKS[@]}"

REG="$REG_OPEN_ADDR"
REPO="gpuslim-tests/knowledge-$$"
OUT="$IT_TMP/plugins"
NOW1=2026-12-01T00:00:00Z
NOW2=2026-12-02T00:00:00Z
cleanup_tags() {
	local t
	for t in 12.8.0-base-ubuntu24.04 12.8.1-base-ubuntu24.04 12.8.1-runtime-ubuntu24.04 12.8.1-cudnn-runtime-ubuntu24.04 \
		13.0.2-base-debian12 13.0.2-cudnn-devel-debian12 13.9.0-runtime-ubuntu24.04 13.9.0-base-ubi9; do
		"$PY" "$FIX" delete "$REG" "$REPO" "$t" >/dev/null 2>&1
	done
	it_cleanup
}
trap cleanup_tags EXIT

B=";driver>=" E=";driver<"
req() { # req CUDA_MM BRANCH... : an NVIDIA_REQUIRE_CUDA in the fixture's spelling
	local b s="cuda>=$1"
	shift
	for b in "$@"; do s="$s~brand=unknown${B}$b${E}$((b + 1))~brand=tesla${B}$b${E}$((b + 1))"; done
	echo "$s"
}
R128=$(req 12.8 535 550 560 565)
R139=$(req 13.9 580 590)
push() {
	"$PY" "$FIX" push "$REG" gpuslim-fixtures/cuda "$REPO" \
		"12.8.0-base-ubuntu24.04=13.0.2-base-debian12:CUDA_VERSION=12.8.0,NVIDIA_REQUIRE_CUDA=$R128" \
		"12.8.1-base-ubuntu24.04=13.0.2-base-debian12:CUDA_VERSION=12.8.1,NVIDIA_REQUIRE_CUDA=$R128" \
		"12.8.1-runtime-ubuntu24.04=13.0.2-runtime-debian12:CUDA_VERSION=12.8.1,NVIDIA_REQUIRE_CUDA=$R128" \
		"12.8.1-cudnn-runtime-ubuntu24.04=13.0.2-cudnn-runtime-debian12:CUDA_VERSION=12.8.1,NV_CUDNN_VERSION=9.8.0.87,NVIDIA_REQUIRE_CUDA=$R128" \
		"13.0.2-base-debian12=13.0.2-base-debian12:" \
		"13.0.2-cudnn-devel-debian12=13.0.2-cudnn-devel-debian12:" \
		"13.9.0-runtime-ubuntu24.04=13.0.2-runtime-debian12:CUDA_VERSION=13.9.0,NVIDIA_REQUIRE_CUDA=$R139" \
		"13.9.0-base-ubi9=13.0.2-base-debian12:CUDA_VERSION=13.9.0,NVIDIA_REQUIRE_CUDA=$R139" &&
		curl -fsS "http://$REG/v2/$REPO/tags/list"
}
check "refresh: tags pushed (same blobs, configs with other Env) to $REG/$REPO" push

# The wheel index: a static one on a port of its own.
IDX="$IT_TMP/index"
mkdir -p "$IDX"
"$PY" "$FIX" index "$IDX"
"$PY" "$ROOT/scripts/infra/pyindex.py" serve --dir "$IDX" --port 0 --port-file "$IT_TMP/port" \
	--log "$IT_TMP/index.log" &
IDX_PID=$!
it_wait_file "$IT_TMP/port" "$IDX_PID"
INDEX_URL="http://127.0.0.1:$(cat "$IT_TMP/port" 2>/dev/null)/whl"
trap 'kill $IDX_PID 2>/dev/null; cleanup_tags' EXIT

refresh() { # refresh NOW [ARGS...]
	local now=$1
	shift
	"$GPUSLIM" knowledge refresh --registry "$REG" --repository "$REPO" --releases \
		--index "$INDEX_URL" --now "$now" "$@"
}
first() {
	refresh "$NOW1" -o "$OUT" || return 1
	"$GPUSLIM" knowledge refresh --help >/dev/null || return 1
	"$PY" - "$OUT" "$REPO" "$NOW1" <<'EOF'
import json, sys
out, repo, now = sys.argv[1:]
c = json.load(open(out + "/cuda.json")); b = json.load(open(out + "/bases.json"))
rels = {r["version"]: r for r in c["releases"]}
r = [x for x in b["repositories"] if x["repository"] == repo][0]
imgs = {i["version"]: i for i in r["images"]}
assert sorted(imgs) == ["12.8.0", "12.8.1", "13.0.2", "13.9.0"], sorted(imgs)
assert imgs["12.8.1"]["os"] == {"ubuntu24.04": ["base", "runtime", "cudnn-runtime"]}, imgs["12.8.1"]
assert imgs["13.9.0"]["os"] == {"ubuntu24.04": ["runtime"]}, imgs["13.9.0"]  # ubi9: no such OS
assert imgs["13.0.2"]["os"] == {"debian12": ["base", "cudnn-devel"]}, imgs["13.0.2"]
assert "cudnn_version" not in imgs["12.8.1"], imgs["12.8.1"]  # = cuda.json's
assert imgs["13.0.2"].get("cudnn_version") is None and rels["13.0.2"]["cudnn_version"] == "9.19.0.56"
n = rels["13.9.0"]
assert n["require_branches"] == [580, 590] and n["driver_floor"] == "580" and "driver" not in n, n
assert "cudnn_tag" not in n, n
bs = {s["name"]: s["brands"] for s in c["brand_sets"]}
assert bs[n["brands"]] == ["unknown", "tesla"], bs
assert rels["12.8.1"]["require_branches"] == [535, 550, 560, 565] and rels["12.8.1"]["driver"] == "570.124.06"
assert rels["12.8.1"]["cudnn_version"] == "9.8.0.87"
assert "12.8.0" in rels and "13.0.0" in rels  # kept: cuda.json is about releases, not one registry
for d in (c, b):
    assert d["refreshed"] == now and any(s.startswith("registry ") and repo in s for s in d["sources"]), d.get("sources")
print("ok")
EOF
}
check "refresh: tables from the registry (versions x flavors x OSes, Env -> releases)" first

frameworks() {
	"$PY" - "$OUT" "$INDEX_URL" <<'EOF'
import json, sys
out, url = sys.argv[1:]
f = json.load(open(out + "/frameworks.json"))
t = [x for x in f["frameworks"] if x["name"] == "torch"][0]
rels = {r["version"]: r for r in t["releases"]}
assert "2.13.0" not in rels and "2.15.0rc1" not in rels, sorted(rels)
r = rels["2.14.0"]
assert r["variants"] == ["cu126", "cu130"] and r["python_min"] == "3.10" and r["python_max"] == "3.14", r
assert r["pairs"]["torchvision"] == "0.29.0" and r["default_variant"] == "cu130", r
r = rels["2.13.1"]
assert r["variants"] == ["cu126", "cu130"] and r["pairs"]["torchvision"] == "0.28.1", r
assert "2.4.1" in rels and rels["2.4.1"]["variants"] == ["cu118", "cu121", "cu124"]  # not on this index: kept
assert any(s.startswith("index " + url) for s in f["sources"]), f["sources"]
print("ok")
EOF
}
check "refresh: tables from the index (newest patch per minor, variants, Pythons, PEP 658 pairs)" frameworks

stable() {
	cp -r "$OUT" "$IT_TMP/before" || return 1
	refresh "$NOW2" --plugins "$OUT" 2>&1 | tee "$IT_TMP/second.log" || return 1
	grep -q 'cuda.json unchanged' "$IT_TMP/second.log" && grep -q 'bases.json unchanged' "$IT_TMP/second.log" &&
		grep -q 'frameworks.json unchanged' "$IT_TMP/second.log" || return 1
	diff -r "$IT_TMP/before" "$OUT"
}
check "refresh: a second refresh with no upstream change is byte-identical (the time stays)" stable

deleted() {
	"$PY" "$FIX" delete "$REG" "$REPO" 12.8.0-base-ubuntu24.04 || return 1
	refresh "$NOW2" --plugins "$OUT" --dry-run --diff >"$IT_TMP/diff" || return 1
	cat "$IT_TMP/diff"
	grep -q '^-.*"version": "12.8.0"' "$IT_TMP/diff" && grep -q "^+  \"refreshed\": \"$NOW2\"" "$IT_TMP/diff" ||
		return 1
	grep -q '"12.8.0"' <(jq -c ".repositories[] | select(.repository == \"$REPO\") | .images[].version" "$OUT/bases.json") ||
		{ echo "--dry-run wrote"; return 1; }
	refresh "$NOW2" --plugins "$OUT" >/dev/null 2>&1 || return 1
	! jq -e ".repositories[] | select(.repository == \"$REPO\") | .images[] | select(.version == \"12.8.0\")" \
		"$OUT/bases.json" && jq -e ".refreshed == \"$NOW2\"" "$OUT/bases.json"
}
check "refresh: a tag deleted from the registry disappears from bases.json (--diff shows it)" deleted

plan_reads() {
	cat >"$IT_TMP/r.yaml" <<EOF || return 1
name: refreshed
base:
  registry: "$REG"
  repository: "$REPO"
  os: ubuntu24.04
  flavor: runtime
cuda: "12.8"
app:
  copy: []
EOF
	"$GPUSLIM" plan "$IT_TMP/r.yaml" --plugins "$OUT" --json >"$IT_TMP/plan.json" || return 1
	jq -e ".knowledge.refreshed == \"$NOW1\" and .cells[0].cuda.value == \"12.8.1\"" "$IT_TMP/plan.json" &&
		jq -r '.cells[0].cuda.reason' "$IT_TMP/plan.json" | grep -q "as the tables refreshed 2026-12-01 know it" &&
		"$GPUSLIM" plan "$IT_TMP/r.yaml" --plugins "$OUT" | grep -q "knowledge: refreshed $NOW1"
}
check "refresh: plan reads the refreshed tables and says how old they are" plan_reads

bad_source() {
	local out rc
	out=$("$GPUSLIM" knowledge refresh --registry "$REG" --repository gpuslim-tests/no-such-repo-$$ \
		--no-frameworks -o "$IT_TMP/x" 2>&1)
	rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] && echo "$out" | grep -q "no-such-repo" && [ ! -e "$IT_TMP/x/cuda.json" ] || return 1
	out=$("$GPUSLIM" knowledge refresh --no-cuda --index "http://127.0.0.1:1/whl" --variant cu130 \
		-o "$IT_TMP/y" 2>&1)
	rc=$?
	echo "$out"
	[ "$rc" -eq 3 ] && [ ! -e "$IT_TMP/y/frameworks.json" ]
}
check "refresh: an unknown repository or an unreachable index fails naming it, writes nothing" bad_source

it_done
