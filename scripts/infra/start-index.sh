#!/usr/bin/env bash
# Start the local package index (scripts/infra/pyindex.py) on 127.0.0.1:5080, serving
# $STATE/pyindex (built first by scripts/infra/build-wheels.sh, a no-op when up to date):
#
#   http://127.0.0.1:5080/simple      the default index (like PyPI)
#   http://127.0.0.1:5080/whl/cu130   torch +cu130 and its nvidia-* wheels (like download.pytorch.org)
#   http://127.0.0.1:5080/whl/cpu     torch +cpu
#
# Idempotent: a server that answers, was started by this script and runs the current
# pyindex.py is left alone (it rereads index.json itself after a rebuild); one running an
# older pyindex.py is restarted. pid, log and env (the addresses) under $STATE/index; the
# addresses also go into $STATE/fixtures.env (GPUSLIM_INDEX_URL, GPUSLIM_TORCH_INDEX_URL,
# GPUSLIM_TORCH_INDEX_URL_CPU).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=/usr/bin/python3
D="$STATE/index"
mkdir -p "$D"
bash "$INFRA_DIR/build-wheels.sh"
[ -f "$STATE/pyindex/index.json" ] || die "$STATE/pyindex/index.json missing after build-wheels.sh"

want="$(sha256sum "$INFRA_DIR/pyindex.py" | cut -d' ' -f1)"
pid="$(cat "$D/pid" 2>/dev/null || true)"
ours=0
if pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'pyindex.py serve'; then ours=1; fi

if index_up "$INDEX_ADDR"; then
	if [ "$ours" = 1 ] && [ "$(cat "$D/server.sha256" 2>/dev/null)" = "$want" ]; then
		log "index on $INDEX_ADDR: up (pid $pid)"
		start=0
	elif [ "$ours" = 1 ]; then
		log "index on $INDEX_ADDR: pyindex.py changed, restarting (pid $pid)"
		kill -TERM "$pid"
		for _ in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
		pid_alive "$pid" && die "index pid $pid did not stop"
		start=1
	else
		die "something else answers on $INDEX_ADDR (not the server these scripts started); stop it first"
	fi
else
	if [ "$ours" = 1 ]; then kill -TERM "$pid" 2>/dev/null || true; sleep 0.5; fi
	start=1
fi

if [ "$start" = 1 ]; then
	rm -f "$D/pid"
	echo "=== $(date -Is) start" >>"$D/log"
	setsid "$PY" "$INFRA_DIR/pyindex.py" serve --dir "$STATE/pyindex" --host "${INDEX_ADDR%:*}" \
		--port "${INDEX_ADDR##*:}" --log "$D/log" --pidfile "$D/pid" >>"$D/log" 2>&1 </dev/null &
	bg=$!
	up=0
	for _ in $(seq 100); do
		if index_up "$INDEX_ADDR" && [ -s "$D/pid" ]; then up=1; break; fi
		pid_alive "$bg" || break
		sleep 0.1
	done
	[ "$up" = 1 ] || { tail -n 5 "$D/log" >&2; die "index did not answer on $INDEX_ADDR; see $D/log"; }
	echo "$want" >"$D/server.sha256"
	log "index on $INDEX_ADDR: started (pid $(cat "$D/pid")), serving $(readlink -f "$STATE/pyindex")"
fi

cat >"$D/env.tmp" <<EOT
GPUSLIM_INDEX_URL=http://$INDEX_ADDR/simple
GPUSLIM_TORCH_INDEX_URL=http://$INDEX_ADDR/whl/cu130
GPUSLIM_TORCH_INDEX_URL_CPU=http://$INDEX_ADDR/whl/cpu
GPUSLIM_INDEX_DIR=$STATE/pyindex
EOT
mv "$D/env.tmp" "$D/env"
{
	if [ -f "$STATE/fixtures.env" ]; then grep -vE '^GPUSLIM_(INDEX|TORCH_INDEX)_' "$STATE/fixtures.env" || true; fi
	cat "$D/env"
} >"$STATE/fixtures.env.tmp"
mv "$STATE/fixtures.env.tmp" "$STATE/fixtures.env"
log "addresses in $STATE/fixtures.env (GPUSLIM_INDEX_URL, GPUSLIM_TORCH_INDEX_URL, GPUSLIM_TORCH_INDEX_URL_CPU)"
