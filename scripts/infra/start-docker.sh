#!/usr/bin/env bash
# Make sure a Docker engine answers on the default socket. If none does, start
# dockerd in the background (setsid, log + pidfile under $STATE/docker) and wait up
# to GPUSLIM_DOCKER_WAIT seconds (default 60). Idempotent: an engine that already
# answers, ours or not, is left alone.
#
# Flags: dockerd picks its storage driver (overlay2 where the kernel allows it, it
# falls back by itself); GPUSLIM_DOCKER_STORAGE_DRIVER forces one. Where iptables
# does not work, dockerd runs with --iptables=false --ip6tables=false --bridge=none
# (then only `--network=host` / `--network=none` work for builds and runs);
# GPUSLIM_DOCKER_NO_BRIDGE=1 asks for that setting outright.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

D="$STATE/docker"
mkdir -p "$D"
PIDFILE="$D/dockerd.pid"
LOGFILE="$D/dockerd.log"
WAIT="${GPUSLIM_DOCKER_WAIT:-60}"

DOCKER="$(docker_client)" || die "docker.io client not found (run scripts/infra/install-deps.sh)"
DOCKERD="$(dpkg -L docker.io 2>/dev/null | grep -E '/bin/dockerd$' | head -n1 || true)"
[ -n "$DOCKERD" ] || DOCKERD="$(command -v dockerd || true)"
[ -x "$DOCKERD" ] || die "dockerd not found (run scripts/infra/install-deps.sh)"

report() {
	local v drv
	v="$("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"
	drv="$("$DOCKER" info --format '{{.Driver}}' 2>/dev/null || echo '?')"
	log "engine $v, storage driver $drv, client $DOCKER${1:+, $1}"
}

if engine_up 10; then
	if [ -f "$PIDFILE" ] && pid_alive "$(cat "$PIDFILE")"; then report "started by these scripts (pid $(cat "$PIDFILE"))"
	else report "already running (not started by these scripts)"; fi
	exit 0
fi

# A dockerd of ours may still be starting.
if [ -f "$PIDFILE" ] && pid_alive "$(cat "$PIDFILE")" && [ "$(cat /proc/"$(cat "$PIDFILE")"/comm 2>/dev/null)" = dockerd ]; then
	log "dockerd (pid $(cat "$PIDFILE")) is starting; waiting"
	for _ in $(seq "$WAIT"); do engine_up 3 && { report; exit 0; }; sleep 1; done
	die "dockerd pid $(cat "$PIDFILE") does not answer after ${WAIT}s; see $LOGFILE"
fi
rm -f "$PIDFILE"

iptables_ok() { command -v iptables >/dev/null && iptables -t nat -L -n >/dev/null 2>&1; }

base_flags=(--pidfile "$PIDFILE")
[ -n "${GPUSLIM_DOCKER_STORAGE_DRIVER:-}" ] && base_flags+=(--storage-driver "$GPUSLIM_DOCKER_STORAGE_DRIVER")
nonet_flags=(--iptables=false --ip6tables=false --bridge=none)

# try_start FLAGS... : start dockerd, wait; 0 when it answers, 1 when it died.
try_start() {
	log "starting dockerd $*"
	{ echo "=== $(date -Is) $DOCKERD $*"; } >>"$LOGFILE"
	setsid "$DOCKERD" "$@" >>"$LOGFILE" 2>&1 </dev/null &
	local pid=$!
	for _ in $(seq "$WAIT"); do
		if engine_up 3; then
			echo "$*" >"$D/flags"
			return 0
		fi
		pid_alive "$pid" || return 1
		sleep 1
	done
	kill "$pid" 2>/dev/null || true
	die "dockerd did not answer within ${WAIT}s; see $LOGFILE"
}

attempts=()
if [ "${GPUSLIM_DOCKER_NO_BRIDGE:-0}" = 1 ]; then
	log "GPUSLIM_DOCKER_NO_BRIDGE=1: no bridge network, no iptables"
elif iptables_ok; then
	attempts+=("${base_flags[*]}")
else
	warn "iptables does not work here: dockerd runs without bridge networking"
fi
attempts+=("${base_flags[*]} ${nonet_flags[*]}")
if [ -z "${GPUSLIM_DOCKER_STORAGE_DRIVER:-}" ]; then
	command -v fuse-overlayfs >/dev/null && [ -e /dev/fuse ] &&
		attempts+=("${base_flags[*]} ${nonet_flags[*]} --storage-driver fuse-overlayfs")
	attempts+=("${base_flags[*]} ${nonet_flags[*]} --storage-driver vfs")
fi

for a in "${attempts[@]}"; do
	# shellcheck disable=SC2086  # flags are word lists without spaces in values
	if try_start $a; then
		report "started by these scripts (pid $(cat "$PIDFILE")), log $LOGFILE"
		exit 0
	fi
	warn "dockerd exited with: $a (last log lines below); trying the next setting"
	tail -n 5 "$LOGFILE" >&2
done
die "dockerd would not start with any setting; see $LOGFILE"
