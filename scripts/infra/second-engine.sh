#!/usr/bin/env bash
# A second Docker engine on this machine, for builds spread over two engines
# (gpuslim build --engine): its own socket, exec root, data root, pidfile and bridge, so
# that it shares nothing with the first engine but the kernel and the registries.
#
#   second-engine.sh up [NAME]     start it (idempotent), pull the fixture bases there
#   second-engine.sh kill [NAME]   SIGKILL its dockerd and containerd (a dead engine, for tests)
#   second-engine.sh down [NAME]   stop it, remove its containers' leftovers, mounts and bridge
#   second-engine.sh host [NAME]   print its DOCKER_HOST URL
#
# NAME (default: engine2; letters, digits, '-', at most 10) names everything it makes:
#   socket      $STATE/engine-NAME/docker.sock        (DOCKER_HOST=unix://...)
#   data root   $STATE/engine-NAME/data                (kept by down: the bases stay pulled)
#   exec root   /run/gpuslim-NAME                      (short: containerd's socket lives there)
#   bridge      gs-NAME, 10.213.N.1/24 (N from NAME)   never --bridge=none, which would
#                                                      delete the host's docker0
# The engine runs with --iptables=false, so its bridge has no NAT: builds that need the
# network (the local registry, the package index) use --network host, as the first engine's
# do; bases are pulled by the daemon itself, on the host's network, from 127.0.0.1:5000
# (a loopback registry needs no insecure-registries entry).
# GPUSLIM_ENGINE2_PULL: space-separated fixture tags to pull at `up` (default: the
# base-debian12 and devel-debian12 fixtures); "none" pulls nothing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

ACTION="${1:-}"
NAME="${2:-engine2}"
[[ "$NAME" =~ ^[a-z0-9][a-z0-9-]{0,9}$ ]] || die "engine name '$NAME': letters, digits and '-', at most 10"
D="$STATE/engine-$NAME"
SOCK="$D/docker.sock"
DATA="$D/data"
EXEC="/run/gpuslim-$NAME"
PIDFILE="$D/dockerd.pid"
LOGFILE="$D/dockerd.log"
BRIDGE="gs-$NAME"
# A subnet of its own from the name: 10.213.N.0/24, N in 1..250.
N=$(($(printf '%s' "$NAME" | cksum | cut -d' ' -f1) % 250 + 1))
SUBNET_IP="10.213.$N.1/24"
WAIT="${GPUSLIM_DOCKER_WAIT:-60}"
HOST="unix://$SOCK"

DOCKER="$(docker_client)" || die "docker.io client not found (run scripts/infra/install-deps.sh)"
DOCKERD="$(dpkg -L docker.io 2>/dev/null | grep -E '/bin/dockerd$' | head -n1 || true)"
[ -n "$DOCKERD" ] || DOCKERD="$(command -v dockerd || true)"

up2() { timeout "${1:-5}" "$DOCKER" -H "$HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
ours() { # pid: true when it is a process of this engine (its cmdline names our exec root or socket)
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -e "$EXEC" -e "$SOCK"
}
# Every process of this engine: dockerd, its containerd and the shims, by their command lines.
our_pids() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		ours "$p" && echo "$p"
	done
	return 0
}

bridge_up() {
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge
		log "bridge $BRIDGE created"
	fi
	ip addr show dev "$BRIDGE" | grep -qF "${SUBNET_IP%/*}/" || ip addr add "$SUBNET_IP" dev "$BRIDGE"
	ip link set "$BRIDGE" up
}

pull_fixtures() {
	local tags t
	tags="${GPUSLIM_ENGINE2_PULL:-13.0.2-base-debian12 13.0.2-devel-debian12}"
	[ "$tags" = none ] && return 0
	for t in $tags; do
		local ref="$REG_OPEN_ADDR/gpuslim-fixtures/cuda:$t"
		if "$DOCKER" -H "$HOST" image inspect "$ref" >/dev/null 2>&1; then continue; fi
		local t0
		t0=$(now)
		"$DOCKER" -H "$HOST" pull -q "$ref" >/dev/null || die "cannot pull $ref into engine $NAME"
		log "pulled $ref in $(elapsed "$t0")s"
	done
}

do_up() {
	[ -x "$DOCKERD" ] || die "dockerd not found (run scripts/infra/install-deps.sh)"
	mkdir -p "$D" "$DATA"
	if up2 5; then
		log "engine $NAME answers at $HOST"
		pull_fixtures
		return 0
	fi
	# A dockerd of ours that died (kill) leaves its containerd, shims and mounts: clear them.
	do_down quiet
	bridge_up
	printf '{}\n' >"$D/daemon.json"
	echo "=== $(date -Is) starting" >>"$LOGFILE"
	setsid "$DOCKERD" --config-file "$D/daemon.json" --host "$HOST" --exec-root "$EXEC" \
		--data-root "$DATA" --pidfile "$PIDFILE" --bridge "$BRIDGE" \
		--iptables=false --ip6tables=false >>"$LOGFILE" 2>&1 </dev/null &
	local pid=$!
	for _ in $(seq "$WAIT"); do
		if up2 3; then
			log "engine $NAME up at $HOST (pid $pid, bridge $BRIDGE $SUBNET_IP, data $DATA)"
			pull_fixtures
			return 0
		fi
		pid_alive "$pid" || die "dockerd for $NAME died at start; see $LOGFILE"
		sleep 1
	done
	die "dockerd for $NAME did not answer within ${WAIT}s; see $LOGFILE"
}

do_kill() {
	local p pids
	pids=$(our_pids)
	for p in $pids; do
		case "$(cat /proc/"$p"/comm 2>/dev/null)" in dockerd | containerd) kill -KILL "$p" 2>/dev/null || true ;; esac
	done
	for _ in $(seq 100); do up2 1 || break; sleep 0.1; done
	up2 1 && die "engine $NAME still answers after SIGKILL"
	log "engine $NAME killed"
}

do_down() {
	local p pids
	pids=$(our_pids)
	# dockerd first (it stops its containers and containerd), then whatever is left.
	if [ -f "$PIDFILE" ] && pid_alive "$(cat "$PIDFILE")" && ours "$(cat "$PIDFILE")"; then
		kill -TERM "$(cat "$PIDFILE")" 2>/dev/null || true
		for _ in $(seq 60); do pid_alive "$(cat "$PIDFILE" 2>/dev/null)" || break; sleep 0.5; done
	fi
	for p in $(our_pids); do kill -KILL "$p" 2>/dev/null || true; done
	for p in $pids; do for _ in $(seq 50); do pid_alive "$p" || break; sleep 0.1; done; done
	rm -f "$PIDFILE" "$SOCK"
	# Mounts under the exec root and the data root, deepest first.
	awk -v a="$EXEC" -v b="$DATA" '$2 ~ "^" a || $2 ~ "^" b {print $2}' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$EXEC"
	if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
	[ "${1:-}" = quiet ] || log "engine $NAME down (data root $DATA kept)"
}

case "$ACTION" in
up) do_up ;;
kill) do_kill ;;
down) do_down ;;
host) echo "$HOST" ;;
*) die "usage: $(basename "$0") up|kill|down|host [NAME]" ;;
esac
