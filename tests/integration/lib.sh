# Sourced by tests/integration/test_*.sh: counters, the closing line tests/run.sh reads,
# and the local infrastructure (engine, registries, fixtures from scripts/infra).
#
# Each test script ends with `it_done`, which prints "integration: N passed, N failed,
# N skipped" and exits nonzero on a failure. With no engine answering, the scripts bring
# the infrastructure up (scripts/infra/up.sh) unless GPUSLIM_INFRA_UP=0, in which case
# they report their checks as skipped.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../scripts/infra/lib.sh
. "$ROOT/scripts/infra/lib.sh"
# Checks count failures themselves: a failing command must not end the script.
set +e +o pipefail
GPUSLIM="$ROOT/gpuslim"
DOCKER="$(docker_client)"

it_passed=0 it_failed=0 it_skipped=0
ok() { it_passed=$((it_passed + 1)); echo "ok - $1"; }
notok() {
	it_failed=$((it_failed + 1))
	echo "not ok - $1"
	if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | tail -n 60 | sed 's/^/#   /'; fi
	return 0
}
skip() { it_skipped=$((it_skipped + 1)); echo "skip - $1"; }
# check DESCRIPTION COMMAND...: ok when the command succeeds, else notok with its output.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$what"; else notok "$what" "$out"; fi
}
it_done() {
	echo "integration: $it_passed passed, $it_failed failed, $it_skipped skipped"
	[ "$it_failed" -eq 0 ]
	exit
}

# Bring the infrastructure up, or skip every listed check when that is not wanted.
# Usage: it_require_infra "check one" "check two" ...
it_require_infra() {
	if [ -f "$STATE/fixtures.env" ] && engine_up 5 && registry_up "$REG_OPEN_ADDR"; then
		:
	elif [ "${GPUSLIM_INFRA_UP:-1}" = 1 ] && [ "$(id -u)" -eq 0 ]; then
		bash "$ROOT/scripts/infra/up.sh" >&2 || { notok "scripts/infra/up.sh failed"; it_done; }
	else
		local c
		for c in "$@"; do skip "$c (no engine: run scripts/infra/up.sh)"; done
		it_done
	fi
	# shellcheck disable=SC1091
	. "$STATE/fixtures.env"
}

# A scratch directory removed at exit, and images to remove at exit.
IT_TMP=$(mktemp -d /tmp/gpuslim-it.XXXXXX)
IT_IMAGES=()
it_cleanup() {
	local i
	for i in "${IT_IMAGES[@]}"; do "$DOCKER" rmi -f "$i" >/dev/null 2>&1 || true; done
	rm -rf "$IT_TMP"
}
trap it_cleanup EXIT

# Start the local package index (scripts/infra/start-index.sh: builds its wheels when they
# are missing or stale, then the server on 127.0.0.1:5080), or skip every listed check when
# that is not wanted. Needs no engine. Usage: it_require_index "check one" ...
it_require_index() {
	if index_up "$INDEX_ADDR" && [ -f "$STATE/fixtures.env" ] && grep -q '^GPUSLIM_INDEX_URL=' "$STATE/fixtures.env"; then
		:
	elif [ "${GPUSLIM_INFRA_UP:-1}" = 1 ]; then
		bash "$ROOT/scripts/infra/start-index.sh" >&2 || { notok "scripts/infra/start-index.sh failed"; it_done; }
	else
		local c
		for c in "$@"; do skip "$c (no package index: run scripts/infra/start-index.sh)"; done
		it_done
	fi
	# shellcheck disable=SC1091
	. "$STATE/fixtures.env"
}

# it_build LABEL NAME FROM <<DOCKERFILE-BODY: an image from FROM with the rest of the
# Dockerfile on stdin, built with no network; tagged "$TAG-NAME:$$" (the test's $TAG), the
# tag in $img, removed at exit. A failed build is a "not ok" line under LABEL.
it_build() {
	local label=$1 name=$2 from=$3
	img="$TAG-$name:$$"
	mkdir -p "$IT_TMP/ctx"
	{ echo "FROM $from"; cat; } >"$IT_TMP/Dockerfile.$name"
	if DOCKER_BUILDKIT=1 "$DOCKER" build --network none -q -t "$img" \
		-f "$IT_TMP/Dockerfile.$name" "$IT_TMP/ctx" >"$IT_TMP/build.$name" 2>&1; then
		IT_IMAGES+=("$img")
		return 0
	fi
	notok "$label: build $name FROM $from" "$(cat "$IT_TMP/build.$name")"
	return 1
}

# it_wait_file FILE PID: wait until the server PID has written FILE (its port, its pid),
# as long as PID lives: no time limit that a loaded machine could miss. 1 when PID ended
# without writing it.
it_wait_file() {
	while [ ! -s "$1" ]; do
		kill -0 "$2" 2>/dev/null || { [ -s "$1" ]; return; }
		sleep 0.02
	done
}

# gate_shut: a TCP listener on a free port of 127.0.0.1 ($gate_port, process $gate_pid) that
# answers "wait" to each connection, and "go" once gate_open has made its file; a build that
# waits on it (with --network host) polls it. gate_stop ends it.
gate_shut() {
	rm -f "$IT_TMP/gate.port" "$IT_TMP/gate.go"
	/usr/bin/python3 -c 'import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
while True:
    c = s.accept()[0]
    c.sendall(b"go\n" if os.path.exists(sys.argv[1]) else b"wait\n")
    c.close()' "$IT_TMP/gate.go" >"$IT_TMP/gate.port" &
	gate_pid=$!
	# The listener says its port once it listens: wait for that word, or for its end.
	it_wait_file "$IT_TMP/gate.port" "$gate_pid"
	gate_port=$(cat "$IT_TMP/gate.port")
	[ -n "$gate_port" ] || { notok "the gate's listener did not start"; it_done; }
}
gate_open() { touch "$IT_TMP/gate.go"; }
gate_stop() {
	[ -n "${gate_pid:-}" ] || return 0
	kill "$gate_pid" 2>/dev/null
	wait "$gate_pid" 2>/dev/null
	gate_pid=
}
