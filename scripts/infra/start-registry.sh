#!/usr/bin/env bash
# Start two local registries with Debian's `docker-registry` (distribution 2.8):
#   127.0.0.1:5000  no auth
#   127.0.0.1:5001  htpasswd (bcrypt) auth, user gpuslim / gpuslim-test
# Storage, configs, logs and pids under $STATE/registry. Idempotent: a registry whose
# /v2/ answers is left alone. Verifies that the engine can push to both (unless
# GPUSLIM_REGISTRY_NO_VERIFY=1 or no engine answers).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

R="$STATE/registry"
REGBIN="$(command -v docker-registry || true)"
[ -n "$REGBIN" ] || die "docker-registry not found (run scripts/infra/install-deps.sh)"
command -v htpasswd >/dev/null || die "htpasswd not found (apt-get install apache2-utils)"

AUTHDIR="$R/auth"
HTPASSWD="$AUTHDIR/htpasswd"
CREDS="$AUTHDIR/credentials"
mkdir -p "$R/open/data" "$R/auth/data" "$AUTHDIR"
chmod 700 "$AUTHDIR"

# htpasswd with bcrypt; rewritten only when it does not verify.
if ! htpasswd -vb "$HTPASSWD" "$REG_USER" "$REG_PASS" >/dev/null 2>&1; then
	htpasswd -Bbc "$HTPASSWD" "$REG_USER" "$REG_PASS" >/dev/null 2>&1 || die "htpasswd failed"
fi
printf 'REGISTRY=%s\nUSERNAME=%s\nPASSWORD=%s\n' "$REG_AUTH_ADDR" "$REG_USER" "$REG_PASS" >"$CREDS"
chmod 600 "$CREDS" "$HTPASSWD"

write_config() { # name addr auth(0|1)
	local dir="$R/$1"
	{
		cat <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $2
  secret: gpuslim-local-$1
  headers:
    X-Content-Type-Options: [nosniff]
EOF
		if [ "$3" = 1 ]; then
			cat <<EOF
auth:
  htpasswd:
    realm: gpuslim
    path: $HTPASSWD
EOF
		fi
	} >"$dir/config.yml.new"
	mv "$dir/config.yml.new" "$dir/config.yml"
}

start_one() { # name addr auth
	local name="$1" addr="$2" dir="$R/$1"
	if registry_up "$addr"; then
		if [ -f "$dir/pid" ] && pid_alive "$(cat "$dir/pid")"; then log "$name registry on $addr: up (pid $(cat "$dir/pid"))"
		else log "$name registry on $addr: up (not started by these scripts)"; fi
		return 0
	fi
	if [ -f "$dir/pid" ] && pid_alive "$(cat "$dir/pid")"; then
		kill "$(cat "$dir/pid")" 2>/dev/null || true; sleep 1
	fi
	write_config "$name" "$addr" "$3"
	echo "=== $(date -Is) start" >>"$dir/log"
	setsid "$REGBIN" serve "$dir/config.yml" >>"$dir/log" 2>&1 </dev/null &
	echo $! >"$dir/pid"
	for _ in $(seq 50); do
		registry_up "$addr" && { log "$name registry on $addr: started (pid $(cat "$dir/pid"))"; return 0; }
		pid_alive "$(cat "$dir/pid")" || break
		sleep 0.2
	done
	tail -n 5 "$dir/log" >&2
	die "$name registry did not answer on $addr; see $dir/log"
}

started=0
before="$(cat "$R/open/pid" "$R/auth/pid" 2>/dev/null | tr '\n' ' ' || true)"
start_one open "$REG_OPEN_ADDR" 0
start_one auth "$REG_AUTH_ADDR" 1
after="$(cat "$R/open/pid" "$R/auth/pid" 2>/dev/null | tr '\n' ' ' || true)"
[ "$before" = "$after" ] && [ -f "$R/verified" ] || started=1

code="$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$REG_AUTH_ADDR/v2/" || true)"
[ "$code" = 401 ] || die "registry $REG_AUTH_ADDR answers /v2/ with $code without credentials (want 401)"
code="$(curl -s -o /dev/null -m 3 -w '%{http_code}' -u "$REG_USER:$REG_PASS" "http://$REG_AUTH_ADDR/v2/" || true)"
[ "$code" = 200 ] || die "registry $REG_AUTH_ADDR rejects $REG_USER's credentials ($code)"

# Push check: a one-file image made locally (no pulls), pushed to both registries.
if [ "$started" = 1 ] && [ "${GPUSLIM_REGISTRY_NO_VERIFY:-0}" != 1 ]; then
	if ! engine_up 5; then
		warn "no engine answers: push check skipped (run scripts/infra/start-docker.sh first)"
	else
		tmp="$(mktemp -d "${TMPDIR:-/tmp}/gpuslim-reg.XXXXXX")"
		trap 'rm -rf "$tmp"' EXIT
		date -Is >"$tmp/probe"
		probe=gpuslim-infra/probe:latest
		tar -C "$tmp" -cf "$tmp/probe.tar" probe
		dk import "$tmp/probe.tar" "$probe" >/dev/null || die "docker import of the probe image failed"
		export DOCKER_CONFIG="$tmp/docker-config"   # keep root's ~/.docker untouched
		mkdir -p "$DOCKER_CONFIG"
		dk tag "$probe" "$REG_OPEN_ADDR/$probe"
		dk push -q "$REG_OPEN_ADDR/$probe" >"$tmp/push.log" 2>&1 || { cat "$tmp/push.log" >&2; die "push to $REG_OPEN_ADDR failed"; }
		dk tag "$probe" "$REG_AUTH_ADDR/$probe"
		if dk push -q "$REG_AUTH_ADDR/$probe" >"$tmp/push.log" 2>&1; then
			die "push to $REG_AUTH_ADDR succeeded without login: auth is not enforced"
		fi
		echo "$REG_PASS" | dk login -u "$REG_USER" --password-stdin "$REG_AUTH_ADDR" >"$tmp/login.log" 2>&1 ||
			{ cat "$tmp/login.log" >&2; die "docker login $REG_AUTH_ADDR failed"; }
		dk push -q "$REG_AUTH_ADDR/$probe" >"$tmp/push.log" 2>&1 || { cat "$tmp/push.log" >&2; die "push to $REG_AUTH_ADDR failed after login"; }
		dk rmi -f "$probe" "$REG_OPEN_ADDR/$probe" "$REG_AUTH_ADDR/$probe" >/dev/null 2>&1 || true
		date -Is >"$R/verified"
		log "push verified: $REG_OPEN_ADDR (no auth), $REG_AUTH_ADDR (login ok, anonymous push refused)"
	fi
fi
log "credentials for $REG_AUTH_ADDR: $CREDS (htpasswd: $HTPASSWD)"
