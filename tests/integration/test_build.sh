#!/usr/bin/env bash
# Real builds on the real engine and registry (scripts/infra): the example recipes build
# and their images run and pass their gates; a failing cell under --keep-going and
# --fail-fast; SIGINT in the middle of a build, or while the cells are gated, leaves no
# process, container or partial file; no engine is exit 3.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

it_require_infra "cuda-vadd builds and runs" "torch-cpu builds and runs" "matrix builds" \
	"matrix gated in parallel" "SIGINT while gating" "keep-going" "fail-fast" "SIGINT" "no engine"

# report FILE FIELD: one line per cell of a build report, the field's value.
report() {
	/usr/bin/python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["cells"]: print(c.get(sys.argv[2]) or "")' "$1" "$2"
}
# build NAME RECIPE ARGS...: gpuslim build into $IT_TMP/NAME, output in $IT_TMP/NAME.out.
build() {
	local name=$1 recipe=$2
	shift 2
	"$GPUSLIM" build "$recipe" -o "$IT_TMP/$name" --progress plain --json "$IT_TMP/$name.json" \
		"$@" >"$IT_TMP/$name.out" 2>&1
}
# interrupt_when PATTERN OUT CMD...: run CMD in the background (its output in OUT), wait
# while it runs for a process that matches PATTERN (as long as it takes: another build on
# the engine may hold the apt cache's lock), then SIGINT it and wait for it. Sets $rc to its
# exit code and $it_pid to its pid; returns 1 when CMD ended before PATTERN appeared.
interrupt_when() {
	local pattern=$1 out=$2 pid seen=1
	shift 2
	"$@" >"$out" 2>&1 &
	pid=$!
	it_pid=$pid
	while kill -0 "$pid" 2>/dev/null; do
		pgrep -f "$pattern" >/dev/null && { seen=0; break; }
		sleep 0.25
	done
	kill -INT "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	return $seen
}
# marked MARK: "PID ARGS" of each process whose environment holds GPUSLIM_IT_MARK=MARK: what
# the gpuslim run under that mark started (its children inherit it), nothing else on the
# machine. smoke_left PID: the smoke containers of the gpuslim process PID (it names them
# gpuslim-smoke-PID-N-I). settled CMD...: CMD again until it prints nothing (the engine stops
# what it ran on its own time), at most 120 s; prints what it printed last.
marked() {
	local f pid
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		tr '\0' '\n' <"$f" 2>/dev/null | grep -qxF "GPUSLIM_IT_MARK=$1" &&
			ps -o pid=,args= -p "$pid"
	done
	return 0
}
smoke_left() { "$DOCKER" ps -a --filter "name=^gpuslim-smoke-$1-" --format '{{.Names}}'; }
settled() {
	local out
	for _ in $(seq 1 480); do
		out=$("$@")
		[ -z "$out" ] && return 0
		sleep 0.25
	done
	printf '%s\n' "$out"
}
track_images() {
	local ref
	for ref in $(report "$1" image); do IT_IMAGES+=("$ref"); done
}

# --- The CUDA program: compiled in devel, shipped with its closure on base.
if build vadd recipes/cuda-vadd/gpuslim.yaml; then
	ok "cuda-vadd builds"
	track_images "$IT_TMP/vadd.json"
	ref=$(report "$IT_TMP/vadd.json" image)
	out=$("$DOCKER" run --rm "$ref" 2>&1)
	case "$out" in
	*"error while loading shared libraries"*) notok "cuda-vadd: a library is missing" "$out" ;;
	*cudaErrorInsufficientDriver* | *cudaErrorNoDevice* | *"no CUDA-capable device"* | *"driver version is insufficient"*)
		ok "cuda-vadd runs and reaches the CUDA runtime without a GPU: $(printf '%s' "$out" | head -n1)" ;;
	*) notok "cuda-vadd: unexpected output" "$out" ;;
	esac
	if "$DOCKER" run --rm --entrypoint sh "$ref" -c 'command -v nvcc || ls /usr/local/cuda/bin/nvcc' >/dev/null 2>&1; then
		notok "cuda-vadd: nvcc shipped in the final image"
	else
		ok "cuda-vadd: no nvcc in the final image"
	fi
	size=$("$DOCKER" image inspect --format '{{.Size}}' "$ref")
	if [ "$size" -lt 400000000 ]; then ok "cuda-vadd: $((size / 1000000)) MB, under its 400 MB budget"
	else notok "cuda-vadd: $size bytes"; fi
else
	notok "cuda-vadd builds" "$(cat "$IT_TMP/vadd.out")"
fi

# --- Debian's CPU PyTorch, stripped and pruned, still imports and multiplies.
if build torch recipes/torch-cpu/gpuslim.yaml; then
	ok "torch-cpu builds"
	track_images "$IT_TMP/torch.json"
	ref=$(report "$IT_TMP/torch.json" image)
	out=$("$DOCKER" run --rm "$ref" 2>&1)
	case "$out" in
	*"torch-cpu: ok"*) ok "torch-cpu imports torch and multiplies: $(printf '%s' "$out" | tail -n1)" ;;
	*) notok "torch-cpu: unexpected output" "$out" ;;
	esac
else
	notok "torch-cpu builds" "$(cat "$IT_TMP/torch.out")"
fi

# --- A matrix of four cells, two at a time.
if build matrix recipes/matrix/gpuslim.yaml -j 2 --html "$IT_TMP/matrix.html"; then
	track_images "$IT_TMP/matrix.json"
	# --html of a matrix: an index linking one page per cell beside it
	pages=$(grep -o 'href="matrix-[^"]*\.html"' "$IT_TMP/matrix.html" | sed 's/^href="//; s/"$//')
	missing=""
	for p in $pages; do [ -s "$IT_TMP/$p" ] && grep -q 'id="gpuslim-data"' "$IT_TMP/$p" || missing+=" $p"; done
	if [ "$(echo "$pages" | wc -w)" -eq 4 ] && [ -z "$missing" ]; then
		ok "matrix: --html writes an index and the four cells' pages beside it"
	else
		notok "matrix: --html: pages '$pages', missing:$missing" "$(ls "$IT_TMP")"
	fi
	n=$(report "$IT_TMP/matrix.json" image | wc -l)
	if [ "$n" -ge 4 ]; then ok "matrix: $n cells built"; else notok "matrix: only $n cells"; fi
	ran=0 bad=""
	for ref in $(report "$IT_TMP/matrix.json" image); do
		ran=$((ran + 1))
		out=$("$DOCKER" run --rm "$ref" 2>&1)
		status=$?
		case "$status:$out" in
		0:*"matrix: ok"*) ;;
		*) bad+="$ref: exit $status: $out"$'\n' ;;
		esac
	done
	if [ "$ran" -ge 4 ] && [ -z "$bad" ]; then ok "matrix: each of the $ran cells' images runs"
	else notok "matrix: $ran images ran, these failed" "$bad"; fi
	if [ "$(grep -c "gates: pass" "$IT_TMP/matrix.out")" -eq 4 ]; then
		ok "matrix: the four cells, gated two at a time, pass their gates"
	else
		notok "matrix: gates" "$(grep 'gat' "$IT_TMP/matrix.out")"
	fi

	# --- SIGINT while the cells are gated: the same matrix, every layer cached, so it goes
	# straight to gating; interrupted while a 2.6 GB cuDNN cell streams out of `docker save`.
	if ! interrupt_when "docker save .*matrix:cudnn" "$IT_TMP/gint.out" \
		env GPUSLIM_IT_MARK="$IT_TMP/gint" \
		"$GPUSLIM" build recipes/matrix/gpuslim.yaml -j 2 -o "$IT_TMP/gint" --progress plain; then
		notok "SIGINT while gating: no cuDNN cell was being read" "$(cat "$IT_TMP/gint.out")"
	else
		left=$(settled marked "$IT_TMP/gint")
		containers_left=$(settled smoke_left "$it_pid")
		case "$rc:$(cat "$IT_TMP/gint.out")" in
		130:*"docker save interrupted"*)
			ok "SIGINT while gating: exit 130, the running analysis stopped: $(grep -m1 'interrupted' "$IT_TMP/gint.out")" ;;
		*) notok "SIGINT while gating: exit $rc" "$(cat "$IT_TMP/gint.out")" ;;
		esac
		if [ -z "$left" ]; then ok "SIGINT while gating: no docker save or smoke container process left"
		else notok "SIGINT while gating: processes left" "$left"; fi
		if [ -z "$containers_left" ]; then ok "SIGINT while gating: no leftover container"
		else notok "SIGINT while gating: containers left" "$containers_left"; fi
	fi
else
	notok "matrix builds" "$(cat "$IT_TMP/matrix.out")"
fi

# --- One cell fails: --keep-going finishes the other, --fail-fast cancels it. The other cell
# waits on a gate this script holds (tests/integration/recipes/failing), so it cannot finish
# before the failure is seen, however loaded the machine is.

# failing NAME: the failing recipe, for this run: its own image name, the gate's port. Then
# build NAME with ARGS in the background ($build_pid).
failing() {
	local name=$1
	shift
	mkdir -p "$IT_TMP/$name-recipe"
	sed -e "s|GATE_PORT|$gate_port|g" -e "s|gpuslim-it/failing$|gpuslim-it/failing-$name-$$|" \
		tests/integration/recipes/failing/gpuslim.yaml >"$IT_TMP/$name-recipe/gpuslim.yaml"
	# gpuslim itself in the background, not the build function: a subshell would be the
	# process that the hang guard's SIGINT reaches, and it ignores SIGINT.
	"$GPUSLIM" build "$IT_TMP/$name-recipe/gpuslim.yaml" -o "$IT_TMP/$name" --progress plain \
		--json "$IT_TMP/$name.json" -j 2 --network host "$@" >"$IT_TMP/$name.out" 2>&1 &
	build_pid=$!
}
# Whatever ends this script, the gate's listener and a build still running end too.
trap 'gate_stop; [ -n "${build_pid:-}" ] && kill -INT "$build_pid" 2>/dev/null; it_cleanup' EXIT
# until_failed NAME: wait until the build reports its failed cell, or ends; until_ended: until
# it ends. Only a hang guard is timed (30 min, then the build is interrupted): should the
# failure never be reported, or the waiting cell never see the gate, it would wait forever.
until_failed() {
	local t=$SECONDS
	while ! grep -q '] FAILED' "$IT_TMP/$1.out" 2>/dev/null && kill -0 "$build_pid" 2>/dev/null &&
		[ $((SECONDS - t)) -lt 1800 ]; do
		sleep 0.2
	done
}
until_ended() {
	local t=$SECONDS
	while kill -0 "$build_pid" 2>/dev/null && [ $((SECONDS - t)) -lt 1800 ]; do sleep 0.2; done
	kill -INT "$build_pid" 2>/dev/null
	# A build that ignores SIGINT too is killed after 60 s: a failure, never a hang.
	t=$SECONDS
	while kill -0 "$build_pid" 2>/dev/null && [ $((SECONDS - t)) -lt 60 ]; do sleep 0.2; done
	kill -KILL "$build_pid" 2>/dev/null
	wait "$build_pid"
	local rc=$?
	build_pid=
	return $rc
}

gate_shut
failing keep --keep-going
until_failed keep
gate_open
until_ended
rc=$?
gate_stop
track_images "$IT_TMP/keep.json" 2>/dev/null
statuses=$(report "$IT_TMP/keep.json" status 2>/dev/null | sort | tr '\n' ' ')
if [ "$rc" -eq 1 ] && [ "$statuses" = "failed ok " ]; then
	ok "keep-going: exit 1, the other cell built once the failure was reported"
else
	notok "keep-going: exit $rc, statuses '$statuses'" "$(cat "$IT_TMP/keep.out")"
fi
if grep -q "failing on purpose" "$IT_TMP/keep.out"; then ok "keep-going: the failed cell's log is shown whole"
else notok "keep-going: the failed cell's log is not shown" "$(cat "$IT_TMP/keep.out")"; fi

# The gate stays shut until the build ends: the waiting cell can only end by being cancelled.
gate_shut
failing fast --fail-fast --no-cache
until_failed fast
until_ended
rc=$?
gate_stop
track_images "$IT_TMP/fast.json" 2>/dev/null
statuses=$(report "$IT_TMP/fast.json" status 2>/dev/null | sort | tr '\n' ' ')
if [ "$rc" -eq 1 ] && [ "$statuses" = "cancelled failed " ]; then
	ok "fail-fast: exit 1, the waiting cell cancelled"
else
	notok "fail-fast: exit $rc, statuses '$statuses'" "$(cat "$IT_TMP/fast.out")"
fi

# --- SIGINT in the middle of a build: gpuslim's own children (marked), the RUN step's
# `sleep 61` in the engine (the slow recipe's alone) and its smoke containers, none left.
if ! interrupt_when "sleep 61" "$IT_TMP/slow.out" env GPUSLIM_IT_MARK="$IT_TMP/slow" "$GPUSLIM" \
	build tests/integration/recipes/slow/gpuslim.yaml -o "$IT_TMP/slow" --progress plain --no-cache; then
	notok "SIGINT: the slow build never reached its sleep" "$(cat "$IT_TMP/slow.out")"
else
	left=$(settled marked "$IT_TMP/slow")
	left+=$(settled pgrep -af "sleep 61")
	partial=$(find "$IT_TMP/slow" -name '*.tmp-*' 2>/dev/null)
	containers_left=$(settled smoke_left "$it_pid")
	if [ "$rc" -eq 130 ]; then ok "SIGINT: exit 130"; else notok "SIGINT: exit $rc" "$(cat "$IT_TMP/slow.out")"; fi
	if [ -z "$left" ]; then ok "SIGINT: no build process left, the engine's RUN step stopped too"
	else notok "SIGINT: processes left" "$left"; fi
	if [ -z "$partial" ]; then ok "SIGINT: no half-written file"; else notok "SIGINT: partial files" "$partial"; fi
	if [ -z "$containers_left" ]; then ok "SIGINT: no leftover container"
	else notok "SIGINT: containers left" "$containers_left"; fi
fi

# --- No engine answering.
out=$(DOCKER_HOST=unix:///tmp/gpuslim-no-engine.sock "$GPUSLIM" build recipes/cuda-vadd/gpuslim.yaml \
	-o "$IT_TMP/noengine" --offline 2>&1)
rc=$?
case "$rc:$out" in
3:*"no Docker engine answers"*) ok "no engine: exit 3, $(printf '%s' "$out" | grep -m1 'no Docker engine')" ;;
*) notok "no engine: exit $rc" "$out" ;;
esac

it_done
