#!/usr/bin/env bash
# Smoke tests without a container engine (--runner rootfs): recipes/cuda-vadd-closure built
# with `gpuslim build --runner rootfs` and recipes/torch-cpu-closure with `gpuslim build`
# (cached after the first time), both `docker save`d, then `gpuslim gate IMAGE.tar --runner
# rootfs` reads each tar, unpacks it once and runs its smoke tests in it (bwrap or chroot):
# torch's matmul passes, vadd's gpu test is "skipped: no GPU" while its program-starts test
# (the program starts and reports the missing driver) passes, a wrong expect fails quoting
# the output, a --driver-dir is bound in for the gpu test, and $TMPDIR holds nothing after.
# shellcheck source-path=SCRIPTDIR disable=SC2317 # functions run through check
. "$(dirname "$0")/lib.sh"

it_require_infra "smoke rootfs: build --runner rootfs" "smoke rootfs: vadd tar" \
	"smoke rootfs: torch tar" "smoke rootfs: wrong expect" "smoke rootfs: --driver-dir"
cd "$ROOT" || exit 1
T=$IT_TMP

if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	apt-get install -y -q bubblewrap >"$T/apt.log" 2>&1 || true
fi
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
# left WHAT: ok when $TMPDIR is empty after WHAT.
left() {
	if [ -z "$(ls -A "$TMPDIR")" ]; then ok "smoke rootfs: nothing left in \$TMPDIR after $1"; else
		notok "smoke rootfs: $1 left files in \$TMPDIR" "$(ls -la "$TMPDIR")"
		rm -rf "${TMPDIR:?}"/*
	fi
}
# gates FILE: "status name: message" of each smoke gate of a build report's first cell.
gates() {
	/usr/bin/python3 -c 'import json,sys
c = json.load(open(sys.argv[1]))["cells"][0]
for g in (c.get("gate") or {}).get("gates") or []:
    if g["kind"] == "smoke": print(g["status"], g["name"] + ":", g["message"])' "$1"
}
# build NAME RECIPE ARGS...: gpuslim build into $T/NAME, output in $T/NAME.out, exit in $rc.
build() {
	local name=$1 recipe=$2
	shift 2
	"$GPUSLIM" build "$recipe" -o "$T/$name" --progress plain --json "$T/$name.json" "$@" \
		>"$T/$name.out" 2>&1
	rc=$?
}
# gate ARGS...: gpuslim gate, stdout in $T/out, stderr in $T/err, exit in $rc.
gate() {
	"$GPUSLIM" gate "$@" >"$T/out" 2>"$T/err"
	rc=$?
}
# has PATTERN: the gate's stdout has a line matching PATTERN (grep -E).
has() { grep -qE "$1" "$T/out"; }

# --- cuda-vadd-closure, gated in the build by the rootfs runner.
build vadd recipes/cuda-vadd-closure/gpuslim.yaml --runner rootfs
vadd_ref=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cells"][0]["image"])' \
	"$T/vadd.json" 2>/dev/null)
out=$(gates "$T/vadd.json" 2>&1)
if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q '^pass smoke program-starts: passed' &&
	printf '%s\n' "$out" | grep -q '^skip smoke vadd: skipped: no GPU (no driver'; then
	ok "smoke rootfs: build --runner rootfs: program-starts passes, vadd skipped (no GPU)"
else
	notok "smoke rootfs: build --runner rootfs: exit $rc" "$out
$(tail -n 30 "$T/vadd.out")"
fi
left "build --runner rootfs"

# --- torch-cpu-closure, built as usual (docker runner), then saved.
build torch recipes/torch-cpu-closure/gpuslim.yaml
torch_ref=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cells"][0]["image"])' \
	"$T/torch.json" 2>/dev/null)
[ "$rc" -eq 0 ] || notok "smoke rootfs: torch-cpu-closure builds" "$(tail -n 30 "$T/torch.out")"

if [ -z "$vadd_ref" ] || ! "$DOCKER" save -o "$T/vadd.tar" "$vadd_ref" 2>"$T/save.err"; then
	notok "smoke rootfs: docker save cuda-vadd-closure ($vadd_ref)" "$(cat "$T/save.err" 2>/dev/null)"
else
	gate "$T/vadd.tar" --recipe recipes/cuda-vadd-closure/gpuslim.yaml --runner rootfs
	if [ "$rc" -eq 0 ] && has '^  pass  smoke +smoke program-starts +passed in .*exit [0-9]+ accepted: vadd: .*(cudaErrorInsufficientDriver|cudaErrorNoDevice)' &&
		has '^  skip  smoke +smoke vadd +skipped: no GPU \(no driver'; then
		ok "smoke rootfs: vadd tar: program-starts passes (missing driver), vadd skipped (no GPU)"
	else
		notok "smoke rootfs: vadd tar: exit $rc" "$(cat "$T/out" "$T/err")"
	fi
	left "gate vadd.tar --runner rootfs"
	# a driver directory makes the gpu test run, with the driver bound in: a fake libcuda
	mkdir -p "$T/driver"
	printf 'not a library\n' >"$T/driver/libcuda.so.1"
	gate "$T/vadd.tar" --recipe recipes/cuda-vadd-closure/gpuslim.yaml --runner rootfs \
		--driver-dir "$T/driver"
	if [ "$rc" -eq 1 ] && grep -q '^gpu: driver from .*/driver: 1 library' "$T/err" &&
		has '^  FAIL  smoke +smoke vadd +exit [0-9]+ after .*: vadd: '; then
		ok "smoke rootfs: --driver-dir: the gpu test runs with it bound in (a fake libcuda fails it)"
	else
		notok "smoke rootfs: --driver-dir: exit $rc" "$(cat "$T/out" "$T/err")"
	fi
	left "gate vadd.tar --runner rootfs --driver-dir"
	# the docker runner cannot run a file: its smoke tests are skipped, as before
	gate "$T/vadd.tar" --recipe recipes/cuda-vadd-closure/gpuslim.yaml
	if [ "$rc" -eq 0 ] && has '^  skip  smoke +smoke program-starts +skipped: .*--runner rootfs'; then
		ok "smoke rootfs: the docker runner skips a tar's tests and names --runner rootfs"
	else
		notok "smoke rootfs: docker runner on a tar: exit $rc" "$(cat "$T/out" "$T/err")"
	fi
fi

if [ -z "$torch_ref" ] || ! "$DOCKER" save -o "$T/torch.tar" "$torch_ref" 2>"$T/save.err"; then
	notok "smoke rootfs: docker save torch-cpu-closure ($torch_ref)" "$(cat "$T/save.err" 2>/dev/null)"
else
	rm -f "$T/torch.out"
	# the recipe with one more test, whose expect is wrong
	mkdir -p "$T/tc"
	cp -r recipes/torch-cpu-closure/. "$T/tc/"
	/usr/bin/python3 - "$T/tc/gpuslim.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = '    expect: "torch-cpu: ok"\n'
assert old in s
s = s.replace(old, old + '  - name: wrong-expect\n    run: ["python3", "app/main.py"]\n'
              '    expect: "torch-cpu: wrong"\n', 1)
open(p, "w").write(s)
PY
	gate "$T/torch.tar" --recipe "$T/tc/gpuslim.yaml" --runner rootfs
	if has '^  pass  smoke +smoke matmul +passed in .* \(output has .torch-cpu: ok.\)'; then
		ok "smoke rootfs: torch tar: matmul passes in the unpacked image"
	else
		notok "smoke rootfs: torch tar: matmul: exit $rc" "$(cat "$T/out" "$T/err")"
	fi
	if [ "$rc" -eq 1 ] && has "^  FAIL  smoke +smoke wrong-expect +the output lacks 'torch-cpu: wrong' \(exit 0\): torch-cpu: ok"; then
		ok "smoke rootfs: a wrong expect fails (exit 1), the output quoted"
	else
		notok "smoke rootfs: wrong expect: exit $rc (want 1)" "$(cat "$T/out" "$T/err")"
	fi
	left "gate torch.tar --runner rootfs"
fi
it_done
