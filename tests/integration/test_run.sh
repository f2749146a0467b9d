#!/usr/bin/env bash
# `gpuslim run` on real images, no engine in the way: a small image built here on the base
# fixture (Env, WorkingDir, a non-root User, Entrypoint + Cmd, a file deleted and a
# directory replaced in later layers: real whiteouts and an opaque directory), read from a
# docker-save tar, from the engine and (the base fixture) from the registry; with the chroot
# runner (root) and bubblewrap. Exit codes are forwarded (the command's, 127 when it is not
# in the image, 125 when the image cannot be read), a fake driver directory is bound into
# the multiarch directory, and $TMPDIR holds nothing afterwards: after success, failure,
# SIGINT and SIGTERM (the command blocks on a FIFO until the signal; no sleeps).
. "$(dirname "$0")/lib.sh"

it_require_infra "run: the image's command" "run: env, workdir, user" "run: whiteouts" \
	"run: exit codes" "run: engine and registry" "run: bwrap" "run: walls" "run: driver" \
	"run: SIGINT"
cd "$ROOT" || exit 1
T=$IT_TMP
BASE="$REG_OPEN_ADDR/gpuslim-fixtures/cuda:13.0.2-base-debian12"
IMG=gpuslim-it/run:$$

if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	apt-get install -y -q bubblewrap >"$T/apt.log" 2>&1 || true
fi

# The test image: each RUN a layer; the later ones delete (whiteout) and replace (opaque).
mkdir -p "$T/ctx"
cat >"$T/ctx/Dockerfile" <<EOF
FROM $BASE
RUN mkdir -p /opt/d /work /home/app && echo old >/opt/d/old && echo gone >/opt/gone \\
 && echo 'app:x:1000:1000::/home/app:/bin/sh' >>/etc/passwd && echo 'app:x:1000:' >>/etc/group
RUN rm /opt/gone && rm -rf /opt/d && mkdir /opt/d && echo new >/opt/d/new
ENV FOO=bar
WORKDIR /work
USER app
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo default-cmd \$FOO; exit 7"]
EOF
if ! "$DOCKER" build -q -t "$IMG" "$T/ctx" >"$T/build.log" 2>&1; then
	notok "run: build the test image" "$(cat "$T/build.log")"
	it_done
fi
IT_IMAGES+=("$IMG")
"$DOCKER" save -o "$T/img.tar" "$IMG" || { notok "run: docker save"; it_done; }

export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
# left WHAT: ok when $TMPDIR is empty after WHAT.
left() {
	if [ -z "$(ls -A "$TMPDIR")" ]; then ok "run: nothing left in \$TMPDIR after $1"; else
		notok "run: $1 left files in \$TMPDIR" "$(ls -la "$TMPDIR")"
		rm -rf "${TMPDIR:?}"/*
	fi
}
# run_img ARGS...: gpuslim run, stdout in $T/out, stderr in $T/err, exit in $rc.
run_img() {
	"$GPUSLIM" run "$@" >"$T/out" 2>"$T/err"
	rc=$?
}
# expect WHAT CODE WANT: $rc is CODE and stdout is WANT.
expect() {
	if [ "$rc" -eq "$2" ] && [ "$(cat "$T/out")" = "$3" ]; then ok "$1"; else
		notok "$1: exit $rc (want $2), stdout '$(cat "$T/out")' (want '$3')" "$(cat "$T/err")"
	fi
}

run_img "$T/img.tar"
expect "run: no command runs Entrypoint + Cmd with the image's Env, its exit code forwarded" \
	7 "default-cmd bar"
left "a command that failed"

run_img "$T/img.tar" -- sh -c 'echo "$FOO $(pwd) $(id -u):$(id -g) $HOME"'
expect "run: Env, WorkingDir, User and HOME from the image (chroot as root)" 0 \
	"bar /work 1000:1000 /home/app"
left "success"

run_img -e FOO=baz --env NEW=1 "$T/img.tar" -- sh -c 'echo $FOO $NEW'
expect "run: --env sets and overrides" 0 "baz 1"

run_img "$T/img.tar" -- sh -c \
	'cat /opt/d/new; test -e /opt/d/old || echo opaque; test -e /opt/gone || echo whiteout'
expect "run: layers applied in order: a whiteout deletes, an opaque directory hides" 0 \
	"$(printf 'new\nopaque\nwhiteout')"

run_img "$T/img.tar" -- sh -c 'exit 42'
expect "run: the command's exit code is run's" 42 ""
run_img "$T/img.tar" -- sh -c 'kill -9 $$'
expect "run: a command killed by SIGKILL is 137" 137 ""
run_img "$T/img.tar" -- no-such-command
if [ "$rc" -eq 127 ] && grep -q "'no-such-command': not found in the image (PATH=" "$T/err"; then
	ok "run: a command not in the image is 127, named"
else
	notok "run: missing command: exit $rc, want 127" "$(cat "$T/err")"
fi
run_img "$T/missing.tar" -- true
if [ "$rc" -eq 125 ] && grep -q "missing.tar" "$T/err"; then ok "run: an image that is not there is 125"; else
	notok "run: missing image: exit $rc, want 125" "$(cat "$T/err")"
fi
left "errors"

run_img "$IMG" -- cat /opt/d/new
expect "run: an image from the engine" 0 "new"
run_img --source registry "$BASE" -- sh -c '. /etc/os-release; echo $ID $CUDA_VERSION'
expect "run: the base fixture from the registry" 0 "debian 13.0.2"
left "the engine and the registry"

if command -v bwrap >/dev/null 2>&1; then
	run_img -v --sandbox bwrap "$T/img.tar" -- sh -c 'echo "$FOO $(pwd) $(id -u) $(cat /opt/d/new)"'
	expect "run: --sandbox bwrap applies Env, WorkingDir and User" 0 "bar /work 1000 new"
	grep -q "runner: bwrap" "$T/err" || notok "run: -v names the bwrap runner" "$(cat "$T/err")"
	run_img --sandbox bwrap "$T/img.tar" -- sh -c 'exit 3'
	expect "run: --sandbox bwrap forwards the exit code" 3 ""
	left "bwrap"
else
	skip "run: bwrap (not installed)"
fi

# The sandbox's walls (chroot runner, as root, the base fixture's root user): no capability
# (bounding set included), no signal ignored by run's caller, no descriptor of run's, a PID
# namespace with its own /proc (the host's root is not reachable through /proc/1/root),
# /sys read-only, and a process the command moved out of its group (setsid) dies with it
# (the command waits until that one is in its own session: no race with the group's kill).
echo host-only >"$T/host-marker"
walls="grep -E '^(CapPrm|CapEff|CapBnd|SigIgn)' /proc/self/status | tr -d '\\t'
test -e /proc/self/fd/9 && echo fd9-leaked || echo no-fd9
cat /proc/1/root$T/host-marker 2>/dev/null || echo no-host-root
test \$(ls /proc | grep -c '^[0-9]') -lt 10 && echo own-proc || echo host-proc
awk '\$2 == \"/sys\" {split(\$4, o, \",\"); print \"sys-\" o[1]}' /proc/mounts
setsid sh -c 'echo \$\$ >/tmp/sid; exec sleep 3$$' </dev/null >/dev/null 2>&1 &
while [ ! -s /tmp/sid ]; do :; done
echo started"
(trap '' USR1 && exec "$GPUSLIM" run --source registry "$BASE" -- sh -c "$walls" \
	9>"$T/fd9" >"$T/out" 2>"$T/err")
rc=$?
expect "run: chroot as root: no capabilities, signals reset, no inherited fd, own PID namespace and /proc, /sys read-only" \
	0 "$(printf 'SigIgn:0000000000000000\nCapPrm:0000000000000000\nCapEff:0000000000000000\nCapBnd:0000000000000000\nno-fd9\nno-host-root\nown-proc\nsys-ro\nstarted')"
if pgrep -f "sleep 3$$" >/dev/null; then
	notok "run: a process the command started with setsid outlived run" "$(pgrep -af "sleep 3$$")"
	pkill -f "sleep 3$$"
else
	ok "run: a process the command started with setsid dies with the sandbox"
fi

# bwrap runs on the host: the image's Env (LD_PRELOAD here) must not reach bwrap itself.
if command -v bwrap >/dev/null 2>&1 && command -v cc >/dev/null 2>&1; then
	printf '#include <stdio.h>\n__attribute__((constructor)) static void c(void) { FILE *f = fopen("%s", "w"); if (f) fclose(f); }\n' \
		"$T/preloaded" >"$T/preload.c"
	cc -shared -fPIC -o "$T/preload.so" "$T/preload.c"
	run_img --sandbox bwrap -e LD_PRELOAD="$T/preload.so" "$T/img.tar" -- sh -c 'echo $FOO'
	if [ "$rc" -eq 0 ] && [ ! -e "$T/preloaded" ]; then
		ok "run: bwrap: the image's LD_PRELOAD does not reach bwrap on the host"
	else
		notok "run: bwrap: exit $rc, the image's LD_PRELOAD ran on the host: $(ls "$T/preloaded" 2>&1)" "$(cat "$T/err")"
	fi
	run_img --sandbox bwrap --source registry "$BASE" -- sh -c "grep -E '^CapEff' /proc/self/status | tr -d '\\t'"
	expect "run: bwrap as root drops every capability" 0 "CapEff:0000000000000000"
	left "the sandbox's walls"
else
	skip "run: bwrap's environment (no bwrap or no cc)"
fi

# A fake driver: libcuda.so.1 in a directory, bound read-only into the image's multiarch
# directory and found there by the loader (LD_LIBRARY_PATH ends with it).
mkdir -p "$T/driver"
echo fake-driver >"$T/driver/libcuda.so.1"
echo not-a-driver >"$T/driver/libunrelated.so.1"
run_img -v --driver-dir "$T/driver" "$T/img.tar" -- sh -c \
	'cat /usr/lib/x86_64-linux-gnu/libcuda.so.1; test -e /usr/lib/x86_64-linux-gnu/libunrelated.so.1 || echo only-driver; echo $LD_LIBRARY_PATH; echo x >/usr/lib/x86_64-linux-gnu/libcuda.so.1 2>/dev/null || echo read-only'
expect "run: --driver-dir binds the driver's libraries read-only into the multiarch directory" 0 \
	"$(printf 'fake-driver\nonly-driver\n/usr/local/nvidia/lib:/usr/local/nvidia/lib64:/usr/lib/x86_64-linux-gnu\nread-only')"
grep -q "gpu: driver from $T/driver: 1 library into /usr/lib/x86_64-linux-gnu" "$T/err" ||
	notok "run: -v says where the driver came from" "$(cat "$T/err")"
run_img --gpu on --driver-dir "$T/ctx" "$T/img.tar" -- true
if [ "$rc" -eq 125 ] && grep -q "no driver library" "$T/err"; then ok "run: a driver directory without a driver is 125"; else
	notok "run: empty driver dir: exit $rc, want 125" "$(cat "$T/err")"
fi
run_img --gpu off --driver-dir "$T/driver" "$T/img.tar" -- sh -c 'test -e /usr/lib/x86_64-linux-gnu/libcuda.so.1 || echo none'
expect "run: --gpu off binds nothing" 0 "none"
left "the driver runs"

# Signals: the command makes a FIFO in the image and blocks reading it; run's stdout goes
# to a FIFO here, so "ready" says the command is blocked. Job control gives run the
# default SIGINT disposition a shell's background job would not have.
for sig in INT TERM; do
	rm -f "$T/outfifo"
	mkfifo "$T/outfifo"
	set -m
	"$GPUSLIM" run "$T/img.tar" -- sh -c "mkfifo /tmp/block-$$; echo ready; cat /tmp/block-$$" \
		>"$T/outfifo" 2>"$T/err" &
	pid=$!
	set +m
	exec 3<"$T/outfifo"
	read -r line <&3
	kill -s "$sig" "$pid"
	wait "$pid"
	rc=$?
	exec 3<&-
	if [ "$line" = ready ] && [ "$rc" -eq 130 ] && grep -q "interrupted by SIG$sig" "$T/err"; then
		ok "run: SIG$sig stops the command, exit 130"
	else
		notok "run: SIG$sig: read '$line', exit $rc, want 130" "$(cat "$T/err")"
	fi
	if pgrep -f "block-$$" >/dev/null; then
		notok "run: SIG$sig left the command running" "$(pgrep -af "block-$$")"
		kill $(pgrep -f "block-$$") 2>/dev/null
	else
		ok "run: SIG$sig leaves no process behind"
	fi
	left "SIG$sig"
done

it_done
