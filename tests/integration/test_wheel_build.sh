#!/usr/bin/env bash
# What a build from the lock does when the index or the registry changed under it, on the
# real engine with an index of this test's own (scripts/infra/pyindex.py --port 0 over a
# copy of the fixture index's gsfx-* wheels) and a repository of its own on the fixture
# registry (127.0.0.1:5000/h8-wheel-build-PID/cuda):
#  (a) a wheel the index now serves with other bytes: pip --require-hashes refuses it, the
#      build fails (exit 1) and gpuslim's error names the wheel and `gpuslim lock --update`;
#  (b) a wheel file deleted from the index after the lock: the build fails naming the URL
#      (404); `lock --check` still holds (it compares the recipe, asks no index);
#      `lock --update PACKAGE` pins what the index has, and that builds;
#  (c) a base tag deleted from the registry after the lock: `build --locked` still builds
#      (the lock pins the digest), `plan --resolve` fails naming the tag.
# "COND && ok ... || notok ...": ok always succeeds, so notok runs only when COND fails.
# shellcheck source-path=SCRIPTDIR disable=SC2015
. "$(dirname "$0")/lib.sh"

it_require_infra "wheel build: tampered wheel" "wheel build: vanished wheel" "wheel build: vanished tag"
it_require_index "wheel build: tampered wheel"

PY=/usr/bin/python3
D="$IT_TMP/wb"
IDX="$D/idx"
mkdir -p "$IDX/packages"
REPO="h8-wheel-build-$$/cuda"
TAG="13.0.2-base-debian12"
IMAGE="h8-wheel-build-$$/app"
IT_IMAGES+=("$IMAGE:latest" "$GPUSLIM_REGISTRY/$REPO:$TAG")

# --- The index: the fixture's gsfx-* wheels, copied (never linked: this test rewrites them).
"$PY" - "$GPUSLIM_INDEX_DIR" "$IDX" <<'EOF' || { notok "wheel build: copy the fixture index"; it_done; }
import json, os, shutil, sys
src, dst = sys.argv[1:]
data = json.load(open(os.path.join(src, "index.json")))
keep = {fn for fn in data["files"] if fn.startswith("gsfx_")}
for fn in keep:
    for f in (fn, fn + ".metadata"):
        if os.path.exists(os.path.join(src, "packages", f)):
            shutil.copyfile(os.path.join(src, "packages", f), os.path.join(dst, "packages", f))
data["files"] = {fn: m for fn, m in data["files"].items() if fn in keep}
data["roots"] = {r: [fn for fn in fns if fn in keep] for r, fns in data["roots"].items()}
json.dump(data, open(os.path.join(dst, "index.json"), "w"), indent=1)
EOF
"$PY" "$ROOT/scripts/infra/pyindex.py" serve --dir "$IDX" --port 0 --port-file "$D/port" --log "$D/index.log" &
idx_pid=$!
REPO_DIR="$STATE/registry/open/data/docker/registry/v2/repositories/${REPO%/cuda}"
# shellcheck disable=SC2317 # run by the EXIT trap
wb_cleanup() {
	kill "$idx_pid" 2>/dev/null
	wait "$idx_pid" 2>/dev/null
	# The test's repository only (its blobs are the fixtures', which stay).
	case "$REPO_DIR" in */h8-wheel-build-[0-9]*) rm -rf "$REPO_DIR" ;; esac
	it_cleanup
}
trap wb_cleanup EXIT
while [ ! -s "$D/port" ] && kill -0 "$idx_pid" 2>/dev/null; do sleep 0.05; done
[ -s "$D/port" ] || { notok "wheel build: pyindex.py --port 0 --port-file"; it_done; }
INDEX="http://127.0.0.1:$(cat "$D/port")/simple"

# --- The registry: the fixture base under a repository of this test's own.
if ! { "$DOCKER" tag "$GPUSLIM_FIXTURE_CUDA_BASE" "$GPUSLIM_REGISTRY/$REPO:$TAG" &&
	"$DOCKER" push "$GPUSLIM_REGISTRY/$REPO:$TAG" >"$D/push.out" 2>&1; }; then
	notok "wheel build: push the base to $REPO" "$(cat "$D/push.out")"
	it_done
fi

# The repository is known to the planner through a plugins directory of the test's own.
mkdir -p "$D/plugins"
cat >"$D/plugins/bases.json" <<EOF
{"schema_version": 1, "repositories": [{"repository": "$REPO", "tag_template": "{version}-{flavor}-{os}",
  "images": [{"version": "13.0.2", "os": {"debian12": ["base"]}}]}]}
EOF
P=(--plugins "$D/plugins")

cat >"$D/gpuslim.yaml" <<EOF
name: wheel-build
image: $IMAGE
base: {os: debian12, registry: "$GPUSLIM_REGISTRY", repository: $REPO}
cuda: "13.0"
python: "3.11"
python_packages: ["gsfx-utils"]
pip:
  index_url: $INDEX
output:
  cache: none
  network: host
EOF
build() { "$GPUSLIM" build "$D/gpuslim.yaml" "${P[@]}" --locked --no-gate -j 1 -o "$D/b$1" >"$D/b$1.out" 2>&1; }
core_file() { "$PY" -c 'import json,sys
for w in json.load(open(sys.argv[1]))["cells"][0]["wheels"]:
    if w["name"] == "gsfx-core": print(w["filename"], w["version"])' "$D/gpuslim.lock"; }

if "$GPUSLIM" lock "$D/gpuslim.yaml" "${P[@]}" >"$D/lock.out" 2>&1 && read -r CORE CORE_V < <(core_file) && [ -n "$CORE" ]; then
	ok "wheel build: lock against the test's index ($INDEX) pins $CORE"
else
	notok "wheel build: lock" "$(cat "$D/lock.out")"
	it_done
fi

# --- (a) the index serves other bytes under the locked name.
cp "$IDX/packages/$CORE" "$D/core.orig"
{ cat "$D/core.orig"; printf 'tampered'; } >"$IDX/packages/$CORE.new" && mv "$IDX/packages/$CORE.new" "$IDX/packages/$CORE"
build a
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'THESE PACKAGES DO NOT MATCH THE HASHES' "$D/ba/logs/"*.log &&
	grep -q "^hint: cell 'wheel-build': pip: 'gsfx-core==$CORE_V' does not match the sha256 the lock pins.*gpuslim lock --update gsfx-core" "$D/ba.out"; then
	ok "wheel build: a wheel with other bytes is refused by pip --require-hashes; the error names it and 'gpuslim lock --update gsfx-core'"
else
	notok "wheel build: tampered wheel (exit $rc)" "$(grep -h -A3 'ERROR' "$D/ba/logs/"*.log | cut -c1-200; grep -e FAILED -e hint "$D/ba.out")"
fi
cp "$D/core.orig" "$IDX/packages/$CORE"

# --- (b) the file is deleted from the index after the lock.
rm -f "$IDX/packages/$CORE"
build b
rc=$?
if [ "$rc" -eq 1 ] && grep -q "^hint: cell 'wheel-build': pip: '[^']*/packages/$CORE' is gone from the index (404)" "$D/bb.out"; then
	ok "wheel build: a wheel deleted from the index fails the build, naming its URL (404)"
else
	notok "wheel build: vanished wheel (exit $rc)" "$(grep -h 'ERROR' "$D/bb/logs/"*.log | cut -c1-200; grep -e FAILED -e hint "$D/bb.out")"
fi
"$GPUSLIM" lock --check "$D/gpuslim.yaml" "${P[@]}" >"$D/check.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && grep -q 'up to date' "$D/check.out" &&
	ok "wheel build: lock --check still holds: it compares the recipe with the lock and asks no index" ||
	notok "wheel build: lock --check after the wheel vanished (exit $rc)" "$(cat "$D/check.out")"
# Nor does the index list it now: lock --update gsfx-core resolves again and fails as the
# plan says (exit 2): gsfx-utils needs gsfx-core>=1.2,<2 and 1.3.0 is yanked.
"$PY" - "$IDX/index.json" "$CORE" <<'EOF'
import json, os, sys
path, fn = sys.argv[1:]
d = json.load(open(path))
d["files"].pop(fn)
d["roots"] = {r: [f for f in fns if f != fn] for r, fns in d["roots"].items()}
json.dump(d, open(path + ".new", "w"), indent=1)
os.replace(path + ".new", path)
EOF
cp "$D/gpuslim.lock" "$D/lock.before"
"$GPUSLIM" lock --update "$D/gpuslim.yaml" "${P[@]}" gsfx-core >"$D/update.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q "cell 'wheel-build': 'gsfx-core<2,>=1.2' (required by gsfx-utils 1.1.0)" "$D/update.out" &&
	grep -q "yanked" "$D/update.out" && cmp -s "$D/lock.before" "$D/gpuslim.lock"; then
	ok "wheel build: lock --update gsfx-core fails (exit 2) naming the requirement and what the index has; the lock stays as it was"
else
	notok "wheel build: lock --update after the wheel vanished (exit $rc)" "$(cat "$D/update.out")"
fi
# The index as it was, for (c).
cp "$D/core.orig" "$IDX/packages/$CORE"
cp "$GPUSLIM_INDEX_DIR/index.json" "$D/full.json"
"$PY" - "$IDX/index.json" "$D/full.json" "$CORE" <<'EOF'
import json, os, sys
path, full, fn = sys.argv[1:]
d, f = json.load(open(path)), json.load(open(full))
d["files"][fn] = f["files"][fn]
d["roots"] = {r: fns + [fn] if fn in f["roots"][r] else fns for r, fns in d["roots"].items()}
json.dump(d, open(path + ".new", "w"), indent=1)
os.replace(path + ".new", path)
EOF

# --- (c) the base tag is deleted from the registry after the lock.
tagdir="$STATE/registry/open/data/docker/registry/v2/repositories/$REPO/_manifests/tags/$TAG"
if [ -d "$tagdir" ] && rm -rf "$tagdir"; then
	build d
	rc=$?
	[ "$rc" -eq 0 ] && ok "wheel build: with the base tag deleted, build --locked still builds (the lock pins the digest)" ||
		notok "wheel build: --locked after the tag vanished (exit $rc)" "$(grep -h 'ERROR' "$D/bd/logs/"*.log | cut -c1-200; grep FAILED "$D/bd.out")"
	"$GPUSLIM" plan "$D/gpuslim.yaml" "${P[@]}" --resolve >"$D/plan.out" 2>"$D/plan.err"
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "'$GPUSLIM_REGISTRY/$REPO:$TAG' does not exist in the registry" "$D/plan.err" &&
		ok "wheel build: plan --resolve fails (exit $rc) naming the repository and the tag it wants" ||
		notok "wheel build: plan --resolve after the tag vanished (exit $rc)" "$(cat "$D/plan.err" "$D/plan.out")"
else
	notok "wheel build: no tag directory $tagdir to delete"
fi

it_done
