#!/usr/bin/env bash
# Benchmark: the matrix of bench/engines/gpuslim.yaml built on one engine at -j J, and over
# two engines on this machine (the first, and a second dockerd from
# scripts/infra/second-engine.sh) with the same total -j J (J/2 each). Every build runs
# with --no-cache --no-gate --network host, so each run is a full rebuild and only the
# builds are timed (the second engine runs with --iptables=false: its bridge has no NAT, and
# the builder's apt-get reaches its mirror through the host's network).
# Target (issue 10): two engines in at most 0.65x the wall time of one. The two engines
# share this machine's cores, so the script also prints where the time goes: per engine,
# the cells built and the sum of their build times, and the machine's load.
#
#   bench/engines.sh                   J=4, 2 runs of each, alternating
#   J=2 RUNS=3 bench/engines.sh
#   GPUSLIM_BENCH_ENGINE2=NAME         the second engine's name (default: bench; its data
#                                      root, with the pulled bases, stays for the next run)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
J=${J:-4}
RUNS=${RUNS:-2}
NAME=${GPUSLIM_BENCH_ENGINE2:-bench}
RECIPE=bench/engines/gpuslim.yaml
[ -x ./gpuslim ] || { echo "bench: ./gpuslim is not built (run make)" >&2; exit 2; }

GPUSLIM_ENGINE2_PULL="13.0.2-base-debian12 13.0.2-devel-debian12 13.0.2-cudnn-runtime-debian12 13.0.2-cudnn-devel-debian12" \
	bash scripts/infra/second-engine.sh up "$NAME" >&2
E1=unix:///var/run/docker.sock
[ -n "${DOCKER_HOST:-}" ] && E1=$DOCKER_HOST
E2=$(bash scripts/infra/second-engine.sh host "$NAME")
cleanup() {
	local ref
	for ref in $(/usr/bin/python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["cells"]: print(c["image"])' "$TMP/two-1.json" 2>/dev/null); do
		"$DOCKER" rmi -f "$ref" >/dev/null 2>&1 || true
		"$DOCKER" -H "$E2" rmi -f "$ref" >/dev/null 2>&1 || true
	done
	[ "${GPUSLIM_BENCH_KEEP:-0}" = 1 ] || bash scripts/infra/second-engine.sh down "$NAME" >&2
	rm -rf "$TMP"
}
trap cleanup EXIT

# summary FILE: per engine, its cells and the sum of their build times, then the sum of
# BuildKit's step times ("#N DONE 1.2s") by kind of step over every cell's log.
summary() {
	/usr/bin/python3 -c 'import json,re,sys,collections
r = json.load(open(sys.argv[1]))
n, t, steps = collections.Counter(), collections.Counter(), collections.Counter()
def kind(s):
    for k, w in (("apt", "apt-get"), ("app build", "gcc"), ("strip/closure", "set -eu"),
                 ("useradd", "groupadd"), ("ldconfig", "ldconfig"), ("export", "exporting")):
        if w in s: return k
    return "other"
for c in r["cells"]:
    n[c["engine"]] += 1; t[c["engine"]] += c["elapsed_ms"]
    names = {}
    for l in open(c["log"], errors="replace"):
        m = re.match(r"#(\d+) (?:\[[^]]*\] )?(.*)", l)
        if m and m.group(1) not in names: names[m.group(1)] = m.group(2)
        m = re.match(r"#(\d+) DONE ([\d.]+)s", l)
        if m: steps[kind(names.get(m.group(1), ""))] += float(m.group(2))
print("; ".join("%s: %d cells, builds sum %.0f s" % (e.replace("unix://", ""), n[e], t[e] / 1000) for e in n)
      + "; steps summed: " + ", ".join("%s %.0f s" % kv for kv in steps.most_common(4)))' "$1"
}

# run KIND I: one build, its wall time in ms on stdout.
run() {
	local kind=$1 i=$2 t0 rc=0
	local args=(-j "$J")
	[ "$kind" = two ] && args+=(--engine "$E1" --engine "$E2")
	t0=$(ms)
	./gpuslim build "$RECIPE" --no-cache --no-gate --network host --progress plain -o "$TMP/$kind-$i" \
		--json "$TMP/$kind-$i.json" "${args[@]}" >"$TMP/$kind-$i.out" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		echo "bench: $kind run $i: exit $rc" >&2
		tail -n 30 "$TMP/$kind-$i.out" >&2
		exit 1
	fi
	echo $(($(ms) - t0))
}

cells=$(./gpuslim plan "$RECIPE" --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["cells"]))')
echo "| run | one engine -j$J | two engines ($((J / 2 > 0 ? J / 2 : 1))+$((J / 2 > 0 ? J / 2 : 1))) | ratio | load before | where the time went: one engine | two engines |"
echo "|---|---|---|---|---|---|---|"
for i in $(seq "$RUNS"); do
	load=$(cut -d' ' -f1 /proc/loadavg)
	one=$(run one "$i")
	two=$(run two "$i")
	echo "| $i | $one ms | $two ms | $(awk -v a="$two" -v b="$one" 'BEGIN { printf "%.2fx", a / b }') | $load | $(summary "$TMP/one-$i.json") | $(summary "$TMP/two-$i.json") |"
done
echo "matrix: $cells cells; machine: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) at the end, $(date -u +%Y-%m-%d\ %H:%M) UTC"
