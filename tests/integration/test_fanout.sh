#!/usr/bin/env bash
# CI fan-out on the real engine and the local registry (127.0.0.1:5000), with the smallest
# two-cell recipe (tests/integration/recipes/fanout: the base fixture plus one file, built
# from the engine's cache in seconds):
#   - the round trip: `build` of both cells in one run, and `build --cell X` + `build --cell
#     Y` + `report merge`, give equal JSON, JUnit and Markdown reports once the timings are
#     normalised (normalise() says which fields, and why);
#   - staging and promotion: each cell's job pushes <tag>-STAGE (`--push --stage`), `report
#     promote` of the merged report moves both final tags to exactly the staged digests;
#   - refusal: one cell's job fails (its gpu smoke test under --require-gpu): merge exits 1,
#     promote exits 1 naming it and touches no tag;
#   - faults: a proxy in front of the real registry (tests/fake/putfault_proxy.py) fails the
#     PUT of the second cell's tag: the first tag is put back to what it pointed at, or,
#     when it did not exist before, left at the staged digest and said so.
# Each run pushes to a repository of its own (gpuslim-it/fanout-<pid>), so tags from an
# earlier run never count.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

it_require_infra "fanout: round trip" "fanout: staged and promoted" "fanout: refusal" \
	"fanout: a PUT fails midway"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
REG=127.0.0.1:5000
REPO=gpuslim-it/fanout-$$
X=it-fanout-strip-none
Y=it-fanout-strip-unneeded
R="$IT_TMP/recipe/gpuslim.yaml"
B="$IT_TMP/build" # one build directory for every run: the reports' log paths match
mkdir -p "$IT_TMP/recipe"
cp -r "$ROOT/tests/integration/recipes/fanout/." "$IT_TMP/recipe/"
sed -i "s|^image: .*|image: $REG/$REPO|" "$R"
IT_IMAGES+=("$REG/$REPO:strip-none" "$REG/$REPO:strip-unneeded")
for s in s1 s2; do IT_IMAGES+=("$REG/$REPO:strip-none-$s" "$REG/$REPO:strip-unneeded-$s"); done
PROXY_PID=
# shellcheck disable=SC2317 # the EXIT trap calls it
fanout_cleanup() {
	[ -z "$PROXY_PID" ] || { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; }
	it_cleanup
}
trap fanout_cleanup EXIT

# gsb NAME ARGS...: gpuslim build of the recipe; output in $IT_TMP/NAME.out, exit in $rc.
gsb() {
	local name=$1
	shift
	"$GPUSLIM" build "$R" -o "$B" --progress plain "$@" >"$IT_TMP/$name.out" 2>&1
	rc=$?
}
# gsr NAME ARGS...: gpuslim report ...; output in $IT_TMP/NAME.out, exit in $rc.
gsr() {
	local name=$1
	shift
	"$GPUSLIM" report "$@" >"$IT_TMP/$name.out" 2>&1
	rc=$?
}
# digest TAG: the digest the registry has for REPO:TAG, or "none".
digest() {
	"$PY" - "http://$REG/v2/$REPO/manifests/$1" <<'EOF'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], method="HEAD", headers={"Accept": ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json"])})
try:
    print(urllib.request.urlopen(req, timeout=10).headers["Docker-Content-Digest"])
except urllib.error.HTTPError as e:
    print("none" if e.code == 404 else "error %d" % e.code)
EOF
}
# staged REPORT CELL: the push digest of CELL in a build report.
staged() {
	"$PY" -c 'import json,sys
for c in json.load(open(sys.argv[1]))["cells"]:
    if c["id"] == sys.argv[2]: print(c["push"]["digest"])' "$1" "$2"
}

# normalise IN OUT: the report without what two runs of the same build legitimately differ
# in: wall-clock time ("elapsed_ms" of the run, each cell, its push, each gate; the seconds
# a smoke test took in its message, "passed in 0.8s"; JUnit's time="..." attributes), and
# the ids of the image's bytes ("image_id", each layer's "diff_id"): a second build of a cell
# is the engine's cached image only as far as the cache is deterministic, and it is not:
# when two cells built at once each recorded a result for the same step (a WORKDIR, whose
# directory has the time it was made), BuildKit later takes either, so the layer and the
# image id may differ while the Dockerfile, the files and the sizes are the same. Everything
# else (statuses, sizes, gates and their messages, analyses, paths) must be equal: every
# run uses one build directory, so the logs' and Dockerfiles' paths are the same.
normalise() {
	"$PY" - "$1" "$2" <<'EOF'
import json, re, sys
src, dst = sys.argv[1], sys.argv[2]
text = open(src).read()
secs = re.compile(r"\b(in|after) [0-9]+(\.[0-9]+)?s\b")
if src.endswith(".json"):
    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()
                    if k not in ("elapsed_ms", "image_id", "diff_id")}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str):
            return secs.sub(r"\1 Ns", v)
        return v
    text = json.dumps(walk(json.loads(text)), indent=1, sort_keys=False) + "\n"
else:
    text = re.sub(r'time="[0-9.]+"', 'time="N"', secs.sub(r"\1 Ns", text))
open(dst, "w").write(text)
EOF
}

# ---- the round trip --------------------------------------------------------------------
gsb all --json "$IT_TMP/all.json" --junit "$IT_TMP/all.xml" --markdown "$IT_TMP/all.md"
if [ "$rc" -ne 0 ]; then
	notok "fanout: build of both cells" "$(cat "$IT_TMP/all.out")"
	it_done
fi
gsb jx --cell "$X" --json "$IT_TMP/x.json"
rcx=$rc
gsb jy --cell "$Y" --json "$IT_TMP/y.json"
if [ "$rcx" -ne 0 ] || [ "$rc" -ne 0 ]; then
	notok "fanout: build --cell (exit $rcx, $rc)" "$(cat "$IT_TMP/jx.out" "$IT_TMP/jy.out")"
	it_done
fi
if "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert [c["id"] for c in r["cells"]] == [sys.argv[2]] and r["matrix_cells"] == [sys.argv[2], sys.argv[3]]' \
	"$IT_TMP/x.json" "$X" "$Y"; then
	ok "fanout: build --cell $X builds and reports that cell only, and names the matrix's cells"
else
	notok "fanout: build --cell report" "$(head -c 2000 "$IT_TMP/x.json")"
fi
# Merged in the "wrong" order: the matrix's order wins.
gsr merge merge "$IT_TMP/y.json" "$IT_TMP/x.json" --json "$IT_TMP/m.json" \
	--junit "$IT_TMP/m.xml" --markdown "$IT_TMP/m.md"
if [ "$rc" -ne 0 ]; then
	notok "fanout: report merge (exit $rc)" "$(cat "$IT_TMP/merge.out")"
else
	same=1
	for ext in json xml md; do
		normalise "$IT_TMP/all.$ext" "$IT_TMP/all.n.$ext"
		normalise "$IT_TMP/m.$ext" "$IT_TMP/m.n.$ext"
		if ! diff -u "$IT_TMP/all.n.$ext" "$IT_TMP/m.n.$ext" >"$IT_TMP/diff.$ext"; then
			notok "fanout: round trip: the merged .$ext differs from one build's" \
				"$(head -n 40 "$IT_TMP/diff.$ext")"
			same=0
		fi
	done
	[ "$same" = 1 ] && ok "fanout: round trip: build of $X and $Y = build --cell $X + build --cell $Y + report merge (JSON, JUnit, Markdown; wall-clock times and image ids set aside)"
fi

# Every report, one build's, a job's or merged, is a build report by its schema.
if out=$("$PY" - "$ROOT/schemas/build-report.schema.json" "$IT_TMP/all.json" "$IT_TMP/x.json" "$IT_TMP/m.json" 2>&1 <<'EOF'
import json, sys
from jsonschema import Draft202012Validator
v = Draft202012Validator(json.load(open(sys.argv[1])))
for p in sys.argv[2:]:
    for e in v.iter_errors(json.load(open(p))):
        sys.exit("%s: %s: %s" % (p, "/".join(map(str, e.absolute_path)), e.message[:300]))
EOF
); then
	ok "fanout: the reports (one build's, a job's, the merged one) validate against schemas/build-report.schema.json"
else
	notok "fanout: build report schema" "$out"
fi

# ---- staged, then promoted -------------------------------------------------------------
gsb s1x --cell "$X" --push --stage s1 --json "$IT_TMP/s1x.json"
rcx=$rc
gsb s1y --cell "$Y" --push --stage s1 --json "$IT_TMP/s1y.json"
if [ "$rcx" -ne 0 ] || [ "$rc" -ne 0 ]; then
	notok "fanout: build --push --stage s1 (exit $rcx, $rc)" "$(cat "$IT_TMP/s1x.out" "$IT_TMP/s1y.out")"
	it_done
fi
D1X=$(staged "$IT_TMP/s1x.json" "$X")
D1Y=$(staged "$IT_TMP/s1y.json" "$Y")
if [ "$(digest strip-none-s1)" = "$D1X" ] && [ "$(digest strip-unneeded-s1)" = "$D1Y" ] &&
	[ "$(digest strip-none)" = none ] && [ "$(digest strip-unneeded)" = none ]; then
	ok "fanout: --push --stage s1: each job pushed <tag>-s1 ($D1X, $D1Y), no final tag yet"
else
	notok "fanout: staged tags" "$(digest strip-none-s1) $(digest strip-unneeded-s1) $(digest strip-none) $(digest strip-unneeded)"
fi
gsr m1 merge "$IT_TMP/s1x.json" "$IT_TMP/s1y.json" --json "$IT_TMP/s1.json"
[ "$rc" -eq 0 ] || notok "fanout: merge of the staged jobs (exit $rc)" "$(cat "$IT_TMP/m1.out")"

# ---- a PUT fails midway; the first tag did not exist: left at its new digest, and said so
# start_proxy REGEX [SLOW RELEASE]: the proxy in front of $REG failing PUTs to REGEX (and
# holding PUTs to SLOW until the file RELEASE exists); sets $PPORT
start_proxy() {
	local slow=()
	[ $# -lt 3 ] || slow=(--slow-put "$2" --hold-until "$3")
	rm -f "$IT_TMP/proxy.port" "$IT_TMP/proxy.log"
	"$PY" "$ROOT/tests/fake/putfault_proxy.py" --upstream "$REG" --fail-put "$1" "${slow[@]}" \
		--portfile "$IT_TMP/proxy.port" --log "$IT_TMP/proxy.log" 2>"$IT_TMP/proxy.err" &
	PROXY_PID=$!
	it_wait_file "$IT_TMP/proxy.port" "$PROXY_PID"
	PPORT=$(cat "$IT_TMP/proxy.port" 2>/dev/null)
}
stop_proxy() { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; PROXY_PID=; }
# via_proxy IN OUT: the report with its refs naming the proxy instead of the registry.
via_proxy() { sed "s|$REG/$REPO|127.0.0.1:$PPORT/$REPO|g" "$1" >"$2"; }

start_proxy "/v2/$REPO/manifests/strip-unneeded\$"
via_proxy "$IT_TMP/s1.json" "$IT_TMP/s1.proxy.json"
GPUSLIM_RETRIES=2 gsr p1 promote "$IT_TMP/s1.proxy.json"
puts=$(grep -c '"method": "PUT"' "$IT_TMP/proxy.log")
stop_proxy
if [ "$rc" -eq 3 ] && grep -q "strip-none: LEFT at the staged $D1X: the tag did not exist before" "$IT_TMP/p1.out" &&
	grep -q "strip-unneeded: its PUT failed; it points at none (before: none)" "$IT_TMP/p1.out" &&
	[ "$(digest strip-none)" = "$D1X" ] && [ "$(digest strip-unneeded)" = none ] && [ "$puts" -eq 3 ]; then
	ok "fanout: a PUT fails midway (first promotion): exit 3, the new first tag is left at $D1X and said so, the second untouched"
else
	notok "fanout: a PUT fails midway (exit $rc, $puts PUTs)" "$(cat "$IT_TMP/p1.out"; digest strip-none; digest strip-unneeded)"
fi

gsr p2 promote "$IT_TMP/s1.json"
if [ "$rc" -eq 0 ] && [ "$(digest strip-none)" = "$D1X" ] && [ "$(digest strip-unneeded)" = "$D1Y" ] &&
	grep -q "^promoted $REG/$REPO:strip-unneeded@$D1Y (was none)$" "$IT_TMP/p2.out"; then
	ok "fanout: report promote: both final tags point at exactly the staged digests"
else
	notok "fanout: report promote (exit $rc)" "$(cat "$IT_TMP/p2.out"; digest strip-none; digest strip-unneeded)"
fi

# ---- refusal: one cell's job failed ----------------------------------------------------
# --no-cache: a new image, so a promotion would move the tag (it must not).
gsb s2x --cell "$X" --push --stage s2 --no-cache --json "$IT_TMP/s2x.json"
rcx=$rc
gsb s2y --cell "$Y" --push --stage s2 --require-gpu --json "$IT_TMP/s2y.json"
rcy=$rc
if "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["cells"][0]; sys.exit(c["gate"]["status"] != "fail")' "$IT_TMP/s2y.json"; then
	gsr m2 merge "$IT_TMP/s2x.json" "$IT_TMP/s2y.json" --json "$IT_TMP/s2.json"
	rcm=$rc
	gsr p3 promote "$IT_TMP/s2.json"
	if [ "$rcx" -eq 0 ] && [ "$rcy" -eq 1 ] && [ "$rcm" -eq 1 ] && [ "$rc" -eq 1 ] &&
		grep -q "^gpuslim: not pushing: every cell must pass its gates first" "$IT_TMP/s2y.out" &&
		grep -q "^gpuslim: cell '$Y' failed its gates$" "$IT_TMP/p3.out" &&
		grep -q "no tag was touched" "$IT_TMP/p3.out" &&
		[ "$(staged "$IT_TMP/s2x.json" "$X")" != "$D1X" ] &&
		[ "$(digest strip-none)" = "$D1X" ] && [ "$(digest strip-unneeded)" = "$D1Y" ]; then
		ok "fanout: one cell failed its gates: merge exits 1, promote exits 1 naming it, no tag moved"
	else
		notok "fanout: refusal (build $rcx/$rcy, merge $rcm, promote $rc)" "$(cat "$IT_TMP/m2.out" "$IT_TMP/p3.out")"
	fi
else
	skip "fanout: refusal: this host has a GPU, so --require-gpu does not fail the gpu smoke test"
fi

# ---- a PUT fails midway; the first tag existed: put back ---------------------------------
# The passing jobs s2 of X (a new image) and s1 of Y: a promotion would move X's tag.
gsr m3 merge "$IT_TMP/s2x.json" "$IT_TMP/s1y.json" --json "$IT_TMP/s3.json"
D3X=$(staged "$IT_TMP/s3.json" "$X")
start_proxy "/v2/$REPO/manifests/strip-unneeded\$"
via_proxy "$IT_TMP/s3.json" "$IT_TMP/s3.proxy.json"
GPUSLIM_RETRIES=1 gsr p4 promote "$IT_TMP/s3.proxy.json"
stop_proxy
if [ "$rc" -eq 3 ] && [ "$D3X" != "$D1X" ] &&
	grep -q "strip-none: put back to $D1X (now $D1X)" "$IT_TMP/p4.out" &&
	grep -q "strip-unneeded: its PUT failed; it points at $D1Y (before: $D1Y)" "$IT_TMP/p4.out" &&
	[ "$(digest strip-none)" = "$D1X" ] && [ "$(digest strip-unneeded)" = "$D1Y" ]; then
	ok "fanout: a PUT fails midway: exit 3, the tag already moved is put back to $D1X, every tag as before"
else
	notok "fanout: restore after a failed PUT (exit $rc)" "$(cat "$IT_TMP/p4.out"; digest strip-none; digest strip-unneeded)"
fi

# ---- SIGINT while a PUT is on its way: the moves stop, what moved is put back, exit 130
# The first PUT is held by the proxy until the script releases it, after the SIGINT: the
# interrupt lands while that PUT is on its way, whatever the machine's load.
rm -f "$IT_TMP/release"
start_proxy '^$' "/v2/$REPO/manifests/strip-none\$" "$IT_TMP/release"
via_proxy "$IT_TMP/s3.json" "$IT_TMP/s3.slow.json"
"$GPUSLIM" report promote "$IT_TMP/s3.slow.json" >"$IT_TMP/p5.out" 2>&1 &
pid=$!
until grep -q '"slow": true' "$IT_TMP/proxy.log" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
kill -INT "$pid" 2>/dev/null
: >"$IT_TMP/release"
wait "$pid"
rc=$?
stop_proxy
if [ "$rc" -eq 130 ] && grep -q "interrupted before '127.0.0.1:$PPORT/$REPO:strip-unneeded' was moved" "$IT_TMP/p5.out" &&
	grep -q "strip-none: put back to $D1X (now $D1X)" "$IT_TMP/p5.out" &&
	grep -q "strip-unneeded: not touched (still $D1Y)" "$IT_TMP/p5.out" &&
	[ "$(digest strip-none)" = "$D1X" ] && [ "$(digest strip-unneeded)" = "$D1Y" ]; then
	ok "fanout: SIGINT during a promotion: exit 130, the tag moved is put back, the other untouched"
else
	notok "fanout: SIGINT during a promotion (exit $rc)" "$(cat "$IT_TMP/p5.out"; digest strip-none; digest strip-unneeded)"
fi

# ---- the registry with credentials (127.0.0.1:5001): push scope, as `docker login` left it
RA="$IT_TMP/recipe-auth/gpuslim.yaml"
AREPO=gpuslim-it/fanout-auth-$$
mkdir -p "$IT_TMP/recipe-auth" "$IT_TMP/login" "$IT_TMP/nologin"
cp -r "$ROOT/tests/integration/recipes/fanout/." "$IT_TMP/recipe-auth/"
sed -i "s|^image: .*|image: $GPUSLIM_REGISTRY_AUTH/$AREPO|" "$RA"
IT_IMAGES+=("$GPUSLIM_REGISTRY_AUTH/$AREPO:strip-none-sa" "$GPUSLIM_REGISTRY_AUTH/$AREPO:strip-unneeded-sa"
	"$GPUSLIM_REGISTRY_AUTH/$AREPO:strip-none" "$GPUSLIM_REGISTRY_AUTH/$AREPO:strip-unneeded")
printf '%s' "$GPUSLIM_REGISTRY_PASSWORD" | "$DOCKER" --config "$IT_TMP/login" login \
	-u "$GPUSLIM_REGISTRY_USER" --password-stdin "$GPUSLIM_REGISTRY_AUTH" >"$IT_TMP/login.out" 2>&1
DOCKER_CONFIG="$IT_TMP/login" "$GPUSLIM" build "$RA" -o "$IT_TMP/build-auth" --progress plain \
	--push --stage sa --json "$IT_TMP/sa.json" >"$IT_TMP/sa.out" 2>&1
rcb=$?
DOCKER_CONFIG="$IT_TMP/nologin" gsr pa1 promote "$IT_TMP/sa.json"
rcn=$rc
DOCKER_CONFIG="$IT_TMP/login" gsr pa2 promote "$IT_TMP/sa.json"
if [ "$rcb" -eq 0 ] && [ "$rcn" -eq 2 ] && grep -q "requires credentials" "$IT_TMP/pa1.out" &&
	[ "$rc" -eq 0 ] && [ "$(grep -c "^promoted $GPUSLIM_REGISTRY_AUTH/" "$IT_TMP/pa2.out")" -eq 2 ]; then
	ok "fanout: report promote on the registry with credentials: refused without them (exit 2), both tags moved with docker login's"
else
	notok "fanout: promote with credentials (build $rcb, without $rcn, with $rc)" \
		"$(cat "$IT_TMP/login.out" "$IT_TMP/sa.out" "$IT_TMP/pa1.out" "$IT_TMP/pa2.out" | tail -n 30)"
fi

# Images of this run: the engine's tags go at exit (IT_IMAGES); the registry keeps the
# repository (distribution 2.8 deletes nothing without its delete API enabled).
it_done
