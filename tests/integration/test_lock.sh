#!/usr/bin/env bash
# gpuslim.lock end to end: `gpuslim lock` against a registry the test runs
# (tests/fake/registry_tags.py, which counts what it is asked) writes the lock
# atomically and byte-stable; plan, generate and build --locked take every pin
# from it with that registry stopped; a stale lock fails --locked (exit 2) and
# --check (exit 1) naming the cell, the field and both values; --update keeps
# what it is not told to re-resolve; a lock that fails leaves the old file as
# it was. Then a real build --locked on the fixture registry (127.0.0.1:5000).
# "COND && ok ... || notok ...": ok always succeeds, so notok runs only when COND fails.
# shellcheck source-path=SCRIPTDIR disable=SC2015
. "$(dirname "$0")/lib.sh"

it_require_infra "lock against a registry" "--locked with the registry down" "stale locks" \
	"lock --update" "build --locked on the fixtures"

PY=/usr/bin/python3
D="$IT_TMP/r"
mkdir -p "$D"
echo hello >"$D/hello.txt"

# --- The fake registry: the fixtures' tags, each with a manifest whose digest it computes.
cat >"$IT_TMP/tags.json" <<'EOF'
{"gpuslim-fixtures/cuda": ["13.0.2-devel-debian12", "13.0.2-base-debian12",
                           "13.0.2-runtime-debian12"]}
EOF
reg_pid=
reg_start() {
	rm -f "$IT_TMP/port"
	"$PY" "$ROOT/tests/fake/registry_tags.py" "$IT_TMP/tags.json" "$IT_TMP/port" &
	reg_pid=$!
	# It writes its port once it listens: wait for that, or for its end.
	while [ ! -s "$IT_TMP/port" ] && kill -0 "$reg_pid" 2>/dev/null; do sleep 0.05; done
	port=$(cat "$IT_TMP/port")
}
reg_stop() {
	[ -n "$reg_pid" ] || return 0
	kill "$reg_pid" 2>/dev/null
	wait "$reg_pid" 2>/dev/null
	reg_pid=
}
# stats: "TAGS MANIFESTS", the requests the registry answered so far.
stats() {
	"$PY" -c 'import json, sys, urllib.request
s = json.load(urllib.request.urlopen("http://127.0.0.1:%s/stats" % sys.argv[1]))
print(s["tags"], s["manifests"])' "$port"
}
trap 'reg_stop; it_cleanup' EXIT

reg_start
[ -n "$port" ] || { notok "tests/fake/registry_tags.py did not start"; it_done; }
# recipe FILE EXTRA: the test's recipe on the fake registry, with EXTRA lines at its end.
recipe() {
	cat >"$1" <<EOF
name: locked
image: h6-lock-it/locked-$$
base: {os: debian12, registry: "127.0.0.1:$port", repository: gpuslim-fixtures/cuda}
cuda: "13.0"
python: "3.11"
app:
  copy: ["hello.txt"]
  cmd: ["cat", "/app/hello.txt"]
output: {cache: none}
$2
EOF
}
R="$D/gpuslim.yaml"
L="$D/gpuslim.lock"
recipe "$R" ""
# lockjson EXPR: a field of the lock, by a Python expression on `d`.
lockjson() { "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$L" "$1"; }

# --- lock: writes gpuslim.lock beside the recipe, asking the registry.
if out=$("$GPUSLIM" lock "$R" 2>&1) && [ -f "$L" ]; then
	ok "lock writes $(basename "$L") beside the recipe"
else
	notok "lock" "$out"
fi
digest=$(lockjson 'd["cells"][0]["final"]["digest"]')
case "$digest" in
sha256:????????????????????????????????????????????????????????????????) ok "the final image is pinned: $digest" ;;
*) notok "the lock's final digest" "$(cat "$L")" ;;
esac
[ "$(stats)" != "0 0" ] && ok "lock asked the registry ($(stats))" || notok "lock asked nothing"
cp "$L" "$IT_TMP/lock.1"
before=$(stats)
if "$GPUSLIM" lock "$R" >/dev/null 2>&1 && cmp -s "$L" "$IT_TMP/lock.1"; then
	ok "lock again: byte for byte the same file"
else
	notok "lock is not byte-stable" "$(diff "$IT_TMP/lock.1" "$L")"
fi
[ "$(stats)" = "$before" ] && ok "lock again asks nothing: every cell kept its pins" ||
	notok "lock again asked the registry: $before -> $(stats)"
check "lock --check: up to date, exit 0" "$GPUSLIM" lock --check "$R"
check "the lock validates against schemas/lock.schema.json" "$PY" -c 'import json, sys
from jsonschema import Draft202012Validator
v = Draft202012Validator(json.load(open(sys.argv[1])))
errs = [e.message for e in v.iter_errors(json.load(open(sys.argv[2])))]
sys.exit("\n".join(errs) if errs else 0)' "$ROOT/schemas/lock.schema.json" "$L"

# --- The registry goes away: everything --locked still works, asking nobody.
reg_stop
"$GPUSLIM" generate --locked "$R" -o "$IT_TMP/gen" >"$IT_TMP/gen.out" 2>&1
rc=$?
final_ref=$(lockjson 'd["cells"][0]["final"]["ref"]')
if [ "$rc" -eq 0 ] && grep -qxF "FROM $final_ref@$digest AS final" "$IT_TMP/gen/Dockerfile.locked"; then
	ok "generate --locked with the registry down: FROM $final_ref@${digest:0:19}..."
else
	notok "generate --locked with the registry down (exit $rc)" \
		"$(cat "$IT_TMP/gen.out"; grep '^FROM' "$IT_TMP/gen/Dockerfile.locked" 2>/dev/null)"
fi
out=$("$GPUSLIM" plan --locked --json "$R" 2>&1)
case "$out" in
*"\"digest\": \"$digest\""*) ok "plan --locked --json with the registry down: the lock's digests" ;;
*) notok "plan --locked --json" "$out" ;;
esac
# build --locked on a fake engine: only the registry could fail it, and it is down.
FAKE_BUILD_STATE="$IT_TMP/fake" "$GPUSLIM" build --locked "$R" -o "$IT_TMP/bl" --no-gate \
	--progress plain --docker "$ROOT/tests/fake/docker-builds" >"$IT_TMP/bl.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -qF "@$digest AS final" "$IT_TMP/bl/Dockerfile.locked"; then
	ok "build --locked with the registry down builds from the lock's digests"
else
	notok "build --locked with the registry down (exit $rc)" "$(cat "$IT_TMP/bl.out")"
fi
FAKE_BUILD_STATE="$IT_TMP/fake" "$GPUSLIM" build "$R" -o "$IT_TMP/bu" --no-gate \
	--progress plain --docker "$ROOT/tests/fake/docker-builds" >"$IT_TMP/bu.out" 2>&1
rc=$?
[ "$rc" -eq 3 ] && ok "while build without --locked asks the registry and fails: exit 3" ||
	notok "build without --locked, registry down: exit $rc" "$(cat "$IT_TMP/bu.out")"

# A lock that fails leaves the old file as it was, and no temporary beside it.
"$GPUSLIM" lock --update "$R" >"$IT_TMP/fail.out" 2>&1
rc=$?
if [ "$rc" -eq 3 ] && cmp -s "$L" "$IT_TMP/lock.1" && [ "$(find "$D" -mindepth 1 | wc -l)" -eq 3 ]; then
	ok "lock --update with the registry down: exit 3, the old lock intact, no temporary"
else
	notok "a failing lock (exit $rc)" "$(cat "$IT_TMP/fail.out"; ls -la "$D")"
fi

# --- Stale: a changed input is named, with both values.
recipe "$R" 'python_packages: ["gsfx-core>=1.2"]'
"$GPUSLIM" generate --locked "$R" -o "$IT_TMP/gen2" >"$IT_TMP/stale.out" 2>&1
rc=$?
# Packages where there were none bring the default index in too (pip_indexes):
# each changed field on its line, the last with the advice.
want="gpuslim: $L is stale: cell 'locked': python_packages: lock has [], the recipe has [\"gsfx-core>=1.2\"]"
advice="gpuslim: $L is stale: cell 'locked': pip_indexes: lock has [], the plan has [\"https://pypi.org/simple\"]; run 'gpuslim lock $R' (or 'gpuslim lock --update $R')"
if [ "$rc" -eq 2 ] && grep -qxF "$want" "$IT_TMP/stale.out" && grep -qxF "$advice" "$IT_TMP/stale.out" &&
	[ ! -e "$IT_TMP/gen2" ]; then
	ok "generate --locked, python_packages changed: exit 2, the field and both values named"
else
	notok "generate --locked on a stale lock (exit $rc)" "want: $want"$'\n'"$(cat "$IT_TMP/stale.out")"
fi
"$GPUSLIM" build --locked "$R" -o "$IT_TMP/bs" --docker "$ROOT/tests/fake/docker-builds" \
	>"$IT_TMP/bs.out" 2>&1
rc=$?
[ "$rc" -eq 2 ] && grep -qxF "$want" "$IT_TMP/bs.out" && ok "build --locked on it: exit 2, the same message" ||
	notok "build --locked on a stale lock (exit $rc)" "$(cat "$IT_TMP/bs.out")"
"$GPUSLIM" lock --check "$R" >"$IT_TMP/check.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -qxF "$want" "$IT_TMP/check.out" && ok "lock --check on it: exit 1" ||
	notok "lock --check on a stale lock (exit $rc)" "$(cat "$IT_TMP/check.out")"
recipe "$R" 'matrix: {cuda: ["13.0"], python: ["3.11"]}'
"$GPUSLIM" lock --check "$R" >"$IT_TMP/check.out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -qF "cell 'locked-cuda13-0-python3-11' is new in the recipe" "$IT_TMP/check.out" &&
	grep -qF "cell 'locked' is in the lock but no longer in the recipe" "$IT_TMP/check.out"; then
	ok "lock --check: cells added and removed are named"
else
	notok "lock --check, cells renamed (exit $rc)" "$(cat "$IT_TMP/check.out")"
fi
recipe "$R" '# only a comment is new'
"$GPUSLIM" generate --locked "$R" -o "$IT_TMP/gen3" >"$IT_TMP/note.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && grep -q "^note: the recipe changed since .* but no cell's inputs did" "$IT_TMP/note.out" &&
	ok "a comment changes no input: --locked works, with a note" ||
	notok "--locked after a comment (exit $rc)" "$(cat "$IT_TMP/note.out")"

# --- Wheels come from the lock too (hand-written until the resolver pins them).
recipe "$R" 'python_packages: ["gsfx-core>=1"]'
cp "$L" "$IT_TMP/lock.nowheels"
"$PY" - "$L" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["cells"]:
    c["inputs"]["python_packages"] = ["gsfx-core>=1"]
    c["inputs"]["pip_indexes"] = ["https://pypi.org/simple"]
    c["wheels"] = [{"name": "gsfx-core", "version": "1.3.0",
                    "filename": "gsfx_core-1.3.0-py3-none-any.whl",
                    "url": "http://127.0.0.1:9/files/gsfx_core-1.3.0-py3-none-any.whl",
                    "sha256": "c" * 64, "index_url": "http://127.0.0.1:9/simple",
                    "required_by": "recipe", "framework": False}]
open(sys.argv[1], "w").write(json.dumps(d, indent=2) + "\n")
EOF
out=$("$GPUSLIM" plan --locked --json "$R" 2>&1)
case "$out" in
*'"sha256": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"'*)
	ok "plan --locked --json: the lock's wheels, nobody asked" ;;
*) notok "plan --locked --json with wheels" "$out" ;;
esac
if "$GPUSLIM" generate --locked "$R" -o "$IT_TMP/genw" >"$IT_TMP/genw.out" 2>&1; then
	ok "generate --locked with the lock's wheels"
	# The render of pinned wheels (pip --require-hashes --no-deps) comes with the resolver.
	if grep -q -- "--require-hashes" "$ROOT/orchestrator/core/render_dockerfile.c"; then
		grep -q "sha256:c\{64\}" "$IT_TMP/genw/Dockerfile.locked" &&
			ok "the Dockerfile installs the locked wheel by its hash" ||
			notok "the Dockerfile lacks the locked wheel's hash" "$(cat "$IT_TMP/genw/Dockerfile.locked")"
	else
		skip "the Dockerfile installs the locked wheels (render has no --require-hashes yet)"
	fi
else
	notok "generate --locked with wheels" "$(cat "$IT_TMP/genw.out")"
fi

# The default index is an input: pip.index_url changed makes the lock stale,
# the field named, and a credential in it shows nowhere.
recipe "$R" 'python_packages: ["gsfx-core>=1"]
pip: {index_url: "http://h9user:h9-s3cret-idx@127.0.0.1:9/other/simple"}'
"$GPUSLIM" generate --locked "$R" -o "$IT_TMP/gen-idx" >"$IT_TMP/idx.out" 2>&1
rc=$?
want="gpuslim: $L is stale: cell 'locked': pip_indexes: lock has [\"https://pypi.org/simple\"], the plan has [\"http://127.0.0.1:9/other/simple\"]"
if [ "$rc" -eq 2 ] && grep -qF "$want" "$IT_TMP/idx.out" && ! grep -q 'h9-s3cret' "$IT_TMP/idx.out"; then
	ok "generate --locked, pip.index_url changed: exit 2, pip_indexes named, no credential"
else
	notok "generate --locked after pip.index_url changed (exit $rc)" "want: $want"$'\n'"$(cat "$IT_TMP/idx.out")"
fi
"$GPUSLIM" lock --check "$R" >"$IT_TMP/idx-check.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -qF "$want" "$IT_TMP/idx-check.out" && ok "lock --check on it: exit 1, pip_indexes named" ||
	notok "lock --check after pip.index_url changed (exit $rc)" "$(cat "$IT_TMP/idx-check.out")"

# --- --update: what it does not name keeps its pin. The registry is back on another
# port: the recipe and the lock say so, or every cell's inputs would differ.
old_port=$port
reg_start
recipe "$R" ""
"$PY" - "$L" "127.0.0.1:$old_port" "127.0.0.1:$port" <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1]).read().replace(sys.argv[2], sys.argv[3]))
for c in d["cells"]:
    c["inputs"]["python_packages"] = []
    c["final"]["digest"] = "sha256:" + "e" * 64
open(sys.argv[1], "w").write(json.dumps(d, indent=2) + "\n")
EOF
digest=$(lockjson 'd["cells"][0]["builder"]["digest"]')
check "lock --update gsfx-core" "$GPUSLIM" lock --update "$R" gsfx-core
[ "$(lockjson 'd["cells"][0]["final"]["digest"]')" = "sha256:$(printf 'e%.0s' {1..64})" ] &&
	ok "lock --update PACKAGE keeps the base digests" ||
	notok "lock --update PACKAGE changed the base digest" "$(cat "$L")"
"$GPUSLIM" lock --update "$R" nope >"$IT_TMP/nope.out" 2>&1
rc=$?
[ "$rc" -eq 2 ] && grep -qF "no cell of '$L' has a wheel of 'nope'" "$IT_TMP/nope.out" &&
	ok "lock --update of a package the lock lacks: exit 2, said" ||
	notok "lock --update nope (exit $rc)" "$(cat "$IT_TMP/nope.out")"
"$GPUSLIM" lock --update "$R" @base >/dev/null 2>&1 &&
	[ "$(lockjson 'd["cells"][0]["final"]["digest"]')" = "$digest" ] &&
	ok "lock --update @base pins the base images again" ||
	notok "lock --update @base" "$(cat "$L")"
"$GPUSLIM" lock "$R" locked-pkg >"$IT_TMP/noupd.out" 2>&1
[ $? -eq 2 ] && ok "packages without --update: exit 2" || notok "packages without --update" "$(cat "$IT_TMP/noupd.out")"
reg_stop

# --- Usage.
# expect CODE PATTERN ARGS...: gpuslim ARGS exits CODE and prints PATTERN (grep -E).
expect() {
	local code=$1 pattern=$2 rc
	shift 2
	"$GPUSLIM" "$@" >"$IT_TMP/usage.out" 2>&1
	rc=$?
	[ "$rc" -eq "$code" ] && grep -qE -- "$pattern" "$IT_TMP/usage.out" &&
		ok "gpuslim $*: exit $code" || notok "gpuslim $*: exit $rc, want $code and /$pattern/" "$(cat "$IT_TMP/usage.out")"
}
expect 0 '^usage: gpuslim lock \[options\] RECIPE \[PACKAGE\.\.\.\]' lock --help
expect 2 "^gpuslim: --check writes nothing: drop --update$" lock --check --update "$R"
expect 2 "unknown name '@nope': a package, @base" lock --update "$R" @nope
expect 2 "--locked takes the pins from the lock, --resolve from the registries" \
	plan --locked --resolve "$R"
expect 2 "^gpuslim: --locked: no lock '$IT_TMP/none.lock': write it with 'gpuslim lock $R'$" \
	generate "$R" -o "$IT_TMP/none" --lock "$IT_TMP/none.lock"
expect 1 "^gpuslim: no lock '$IT_TMP/none.lock'" lock --check "$R" -o "$IT_TMP/none.lock"
printf '{"lock_version": 1}\n' >"$IT_TMP/bad.lock"
expect 2 "^gpuslim: $IT_TMP/bad.lock: missing key 'recipe'$" plan "$R" --lock "$IT_TMP/bad.lock"

# --- A real build from the lock, on the fixture registry and the engine.
RD="$IT_TMP/real"
mkdir -p "$RD"
echo "locked: ok" >"$RD/hello.txt"
cat >"$RD/gpuslim.yaml" <<EOF
name: locked
image: h6-lock-it/real-$$
base: {os: debian12, registry: "$GPUSLIM_REGISTRY", repository: gpuslim-fixtures/cuda}
cuda: "13.0"
app:
  copy: ["hello.txt"]
  cmd: ["cat", "/app/hello.txt"]
output: {cache: none}
EOF
if "$GPUSLIM" lock "$RD/gpuslim.yaml" >"$IT_TMP/rl.out" 2>&1 &&
	"$GPUSLIM" build --locked "$RD/gpuslim.yaml" -o "$IT_TMP/rb" --no-gate --progress plain \
		>"$IT_TMP/rb.out" 2>&1; then
	IT_IMAGES+=("h6-lock-it/real-$$:latest")
	out=$("$DOCKER" run --rm "h6-lock-it/real-$$:latest" 2>&1)
	[ "$out" = "locked: ok" ] && ok "build --locked on the fixtures: the image runs" ||
		notok "the locked image's output" "$out"
	d=$("$DOCKER" image inspect --format '{{index .Config.Labels "org.opencontainers.image.base.digest"}}' \
		"h6-lock-it/real-$$:latest")
	[ "sha256:${d#sha256:}" = "$(L="$RD/gpuslim.lock" lockjson 'd["cells"][0]["final"]["digest"]')" ] &&
		ok "its base digest label is the lock's" || notok "base digest label '$d'"
else
	notok "build --locked on the fixtures" "$(cat "$IT_TMP/rl.out" "$IT_TMP/rb.out")"
fi

it_done
