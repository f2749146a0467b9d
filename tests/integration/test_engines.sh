#!/usr/bin/env bash
# gpuslim build over two real Docker engines: the first (scripts/infra) and a second dockerd
# that this script starts (scripts/infra/second-engine.sh: its own socket, exec root, data
# root and bridge), both pushing to the local registry.
#  - spread: a two-cell matrix, one build at a time per engine: one cell on each, each
#    gated and pushed from the engine that built it, each report naming its engine;
#  - killed: the second engine is killed while both cells wait on a gate this script holds:
#    the first engine's cell finishes, the other fails naming the dead engine, nothing is
#    pushed;
#  - retried: the same with --retry-elsewhere: the cell reruns on the first engine, both
#    pass and are pushed.
# The moment of the kill is the script's: both cells' builds stand at the gate step.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

it_require_infra "spread over two engines" "second engine killed" "--retry-elsewhere"
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
	# A second dockerd needs root (and iproute2 for its bridge).
	skip "two engines (a second dockerd needs root and ip)"
	it_done
fi

ENGINE2_NAME=itengines
SECOND="$ROOT/scripts/infra/second-engine.sh"
ENGINE1="unix:///var/run/docker.sock"
[ -n "${DOCKER_HOST:-}" ] && ENGINE1=$DOCKER_HOST
ENGINE2=$(bash "$SECOND" host "$ENGINE2_NAME")
REPO="gpuslim-it/engines-$$"

# report FILE EXPR: a Python expression over the report `r`, printed.
report() {
	/usr/bin/python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}
# REPO: the image tags the registry has, one per line (none: nothing); the
# referrers tags "sha256-<hex>" of the reports `build --push` attaches are not
# images and are left out (reftags counts them).
tags() {
	curl -s "http://$REG_OPEN_ADDR/v2/$1/tags/list" |
		/usr/bin/python3 -c 'import json,sys
for t in (json.load(sys.stdin).get("tags") or []):
    if not t.startswith("sha256-"): print(t)' 2>/dev/null
}
reftags() {
	curl -s "http://$REG_OPEN_ADDR/v2/$1/tags/list" |
		/usr/bin/python3 -c 'import json,sys
print(sum(t.startswith("sha256-") for t in (json.load(sys.stdin).get("tags") or [])))' 2>/dev/null
}

trap 'gate_stop; [ -n "${build_pid:-}" ] && kill -INT "$build_pid" 2>/dev/null; bash "$SECOND" down "$ENGINE2_NAME" >/dev/null 2>&1; it_cleanup' EXIT

# start NAME ARGS...: the recipe for run NAME (its own image repository, a gate id nobody
# cached before), built in the background on both engines ($build_pid).
start() {
	local name=$1
	shift
	gate_id="gate-$name-$$-$RANDOM"
	mkdir -p "$IT_TMP/$name-recipe"
	sed -e "s|GATE_PORT|$gate_port|g" -e "s|GATE_ID|$gate_id|g" \
		-e "s|^image: IMAGE$|image: $REG_OPEN_ADDR/$REPO-$name|" \
		tests/integration/recipes/engines/gpuslim.yaml >"$IT_TMP/$name-recipe/gpuslim.yaml"
	IT_IMAGES+=("$REG_OPEN_ADDR/$REPO-$name:strip-none" "$REG_OPEN_ADDR/$REPO-$name:strip-unneeded")
	"$GPUSLIM" build "$IT_TMP/$name-recipe/gpuslim.yaml" -o "$IT_TMP/$name" --progress plain \
		--json "$IT_TMP/$name.json" --network host --engine "$ENGINE1=1" --engine "$ENGINE2=1" \
		--push "$@" >"$IT_TMP/$name.out" 2>&1 &
	build_pid=$!
}
# until_at_gate NAME: both cells' builds stand at the gate step (or the build ended).
# Only a hang guard is timed (30 min).
until_at_gate() {
	local t=$SECONDS
	while [ "$(grep -c "$gate_id" "$IT_TMP/$1.out")" -lt 2 ] && kill -0 "$build_pid" 2>/dev/null &&
		[ $((SECONDS - t)) -lt 1800 ]; do
		sleep 0.2
	done
	[ "$(grep -c "$gate_id" "$IT_TMP/$1.out")" -ge 2 ]
}
until_ended() {
	local t=$SECONDS
	while kill -0 "$build_pid" 2>/dev/null && [ $((SECONDS - t)) -lt 1800 ]; do sleep 0.2; done
	kill -INT "$build_pid" 2>/dev/null
	wait "$build_pid"
	local rc=$?
	build_pid=
	return $rc
}
engine2_up() {
	if ! out=$(bash "$SECOND" up "$ENGINE2_NAME" 2>&1); then
		notok "the second engine starts" "$out"
		it_done
	fi
}
# The engine each cell built on, "cell=engine" sorted.
cell_engines() { report "$1" '" ".join(sorted(c["id"] + "=" + str(c["engine"]) for c in r["cells"]))'; }

engine2_up
ok "a second engine answers at $ENGINE2"

# --- spread: one cell on each engine, gated there, pushed from there.
gate_shut
gate_open
start spread
until_ended spread
rc=$?
want="it-engines-strip-none=$ENGINE1 it-engines-strip-unneeded=$ENGINE2"
got=$(cell_engines "$IT_TMP/spread.json" 2>&1)
if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then ok "spread: one cell built on each engine ($got)"
else notok "spread: exit $rc, engines: $got" "$(cat "$IT_TMP/spread.out")"; fi
if grep -q "gating the cells built on engine '$ENGINE2'" "$IT_TMP/spread.out" &&
	[ "$(report "$IT_TMP/spread.json" '" ".join(c["gate"]["status"] for c in r["cells"])')" = "pass pass" ]; then
	ok "spread: each cell gated on its engine"
else notok "spread: gates" "$(grep -i gat "$IT_TMP/spread.out")"; fi
pushed=$(tags "$REPO-spread" | sort | tr '\n' ' ')
if [ "$pushed" = "strip-none strip-unneeded " ] && [ "$(reftags "$REPO-spread")" = 2 ] &&
	[ "$(report "$IT_TMP/spread.json" '" ".join(c["push"]["status"] for c in r["cells"])')" = "pushed pushed" ]; then
	ok "spread: both images pushed, each from its engine, each with its report attached"
else notok "spread: registry has '$pushed'" "$(cat "$IT_TMP/spread.out")"; fi
if timeout 60 "$DOCKER" -H "$ENGINE2" image inspect "$REG_OPEN_ADDR/$REPO-spread:strip-unneeded" >/dev/null 2>&1 &&
	! "$DOCKER" image inspect "$REG_OPEN_ADDR/$REPO-spread:strip-unneeded" >/dev/null 2>&1; then
	ok "spread: the second engine's cell lives in the second engine only"
else notok "spread: where the second cell's image is"; fi
gate_stop

# --- killed: the second engine dies while its cell waits at the gate.
gate_shut
start killed
if until_at_gate killed; then
	out=$(bash "$SECOND" kill "$ENGINE2_NAME" 2>&1) || notok "killing the second engine" "$out"
	gate_open
	until_ended killed
	rc=$?
	st=$(report "$IT_TMP/killed.json" '" ".join(c["status"] for c in r["cells"])')
	err=$(report "$IT_TMP/killed.json" 'r["cells"][1]["error"]')
	if [ "$rc" = 1 ] && [ "$st" = "ok failed" ] && [[ "$err" == "engine '$ENGINE2' died during the build"* ]]; then
		ok "killed: the first engine's cell built, the other failed: $err"
	else notok "killed: exit $rc, statuses '$st', error '$err'" "$(cat "$IT_TMP/killed.out")"; fi
	if grep -q "\[it-engines-strip-unneeded\] FAILED" "$IT_TMP/killed.out" &&
		grep -q "engine '$ENGINE2' died" "$IT_TMP/killed.out"; then
		ok "killed: the output names the dead engine"
	else notok "killed: output" "$(cat "$IT_TMP/killed.out")"; fi
	if [ -z "$(tags "$REPO-killed")" ] &&
		[ "$(report "$IT_TMP/killed.json" '" ".join(c["push"]["status"] for c in r["cells"])')" = "skipped skipped" ] &&
		[ "$(report "$IT_TMP/killed.json" '[e["status"] for e in r["engines"]]')" = "['ok', 'dead']" ]; then
		ok "killed: nothing pushed; the report says which engine died"
	else notok "killed: registry has '$(tags "$REPO-killed")'" "$(cat "$IT_TMP/killed.json")"; fi
else
	notok "killed: the cells never reached the gate" "$(cat "$IT_TMP/killed.out")"
	until_ended killed
fi
gate_stop

# --- retried: the same, with --retry-elsewhere.
engine2_up
gate_shut
start retried --retry-elsewhere
if until_at_gate retried; then
	out=$(bash "$SECOND" kill "$ENGINE2_NAME" 2>&1) || notok "killing the second engine" "$out"
	gate_open
	until_ended retried
	rc=$?
	got=$(cell_engines "$IT_TMP/retried.json" 2>&1)
	want="it-engines-strip-none=$ENGINE1 it-engines-strip-unneeded=$ENGINE1"
	why=$(report "$IT_TMP/retried.json" 'str(r["cells"][1]["attempts"]) + " " + str(r["cells"][1]["retried"])')
	if [ "$rc" = 0 ] && [ "$got" = "$want" ] && [[ "$why" == "2 engine '$ENGINE2' died during the build"* ]]; then
		ok "retried: the dead engine's cell rebuilt on the first engine ($why)"
	else notok "retried: exit $rc, engines '$got', '$why'" "$(cat "$IT_TMP/retried.out")"; fi
	pushed=$(tags "$REPO-retried" | sort | tr '\n' ' ')
	if [ "$pushed" = "strip-none strip-unneeded " ]; then ok "retried: every cell passed and was pushed"
	else notok "retried: registry has '$pushed'" "$(cat "$IT_TMP/retried.out")"; fi
else
	notok "retried: the cells never reached the gate" "$(cat "$IT_TMP/retried.out")"
	until_ended retried
fi
gate_stop

it_done
