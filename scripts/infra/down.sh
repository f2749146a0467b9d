#!/usr/bin/env bash
# Stop what scripts/infra started: the package index, the two registries and dockerd
# (only the processes whose pids these scripts recorded; an engine, registry or index
# started otherwise is left alone). Images, registry storage and caches stay under $STATE
# for the next `up`;
# `down.sh --purge` also removes the registry storage, the rootfs cache and the index's files.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

stop_pidfile() { # what pidfile expected-comm
	local pid comm
	[ -f "$2" ] || { log "$1: not started by these scripts"; return 0; }
	pid="$(cat "$2")"
	if ! pid_alive "$pid"; then log "$1: not running"; rm -f "$2"; return 0; fi
	comm="$(cat /proc/"$pid"/comm 2>/dev/null || true)"
	if [ "$comm" != "$3" ]; then warn "$1: pid $pid is '$comm', not $3: left alone"; rm -f "$2"; return 0; fi
	kill -TERM "$pid"
	for _ in $(seq 60); do pid_alive "$pid" || break; sleep 0.5; done
	if pid_alive "$pid"; then warn "$1: pid $pid ignored SIGTERM for 30s; sending SIGKILL"; kill -KILL "$pid" || true; fi
	rm -f "$2"
	log "$1: stopped (pid $pid)"
}

stop_pidfile "index $INDEX_ADDR" "$STATE/index/pid" python3
rm -f "$STATE/index/server.sha256"
stop_pidfile "registry 127.0.0.1:5000" "$STATE/registry/open/pid" docker-registry
stop_pidfile "registry 127.0.0.1:5001" "$STATE/registry/auth/pid" docker-registry
stop_pidfile dockerd "$STATE/docker/dockerd.pid" dockerd
rm -f "$STATE/registry/verified"

if [ "${1:-}" = --purge ]; then
	rm -rf "$STATE/registry/open/data" "$STATE/registry/auth/data" "$STATE/fixtures" "$STATE/fixtures.env" "$STATE/tmp" \
		"$STATE/index" "$STATE/pyindex" "$STATE"/pyindex.*
	log "purged registry storage, fixture caches and the package index under $STATE (engine images stay in the engine's data root)"
fi
