# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this file
# Common helpers for scripts/infra/*.sh. Sourced, never executed.
#
# Everything these scripts create lives under one state dir:
#   ${GPUSLIM_INFRA_DIR:-/var/tmp/gpuslim-infra}
#     docker/      dockerd.pid, dockerd.log, started-by-us marker
#     registry/    open/ (127.0.0.1:5000), auth/ (127.0.0.1:5001): config.yml, data/, pid, log
#                  auth/htpasswd, auth/credentials
#     fixtures/    debcache/ (debootstrap .deb cache), debian-12-minbase.tar, build-debs/,
#                  stamps/ (input hashes of the images already built and pushed)
#     tmp/         scratch (build contexts), removed after use
#     pyindex      -> pyindex.<inputs hash>/: the package index's files (packages/) and index.json
#     index/       pid, log, env (its addresses) of the index server (scripts/infra/pyindex.py)
#     fixtures.env what tests source: registry and index addresses, credentials, fixture tags

set -euo pipefail

GPUSLIM_INFRA_DIR="${GPUSLIM_INFRA_DIR:-/var/tmp/gpuslim-infra}"
STATE="$GPUSLIM_INFRA_DIR"
INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die()  { echo "error: $*" >&2; exit 1; }
log()  { echo "[$(basename "$0" .sh)] $*"; }
warn() { echo "warning: $*" >&2; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "$(basename "$0") must run as root (it manages dockerd, apt and debootstrap)"
}

# The docker client shipped by the docker.io package (20.10, BuildKit built in).
# A newer client earlier on PATH wants buildx: never use that one.
docker_client() {
	if [ -n "${GPUSLIM_DOCKER:-}" ]; then echo "$GPUSLIM_DOCKER"; return; fi
	local c
	c="$(dpkg -L docker.io 2>/dev/null | grep -E '/bin/docker$' | head -n1 || true)"
	if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return; fi
	[ -x /usr/bin/docker ] && { echo /usr/bin/docker; return; }
	return 1
}

# Run the docker.io client with BuildKit on.
dk() {
	local c
	c="$(docker_client)" || die "docker.io client not found (run scripts/infra/install-deps.sh)"
	DOCKER_BUILDKIT=1 "$c" "$@"
}

# True when an engine answers within $1 seconds (default 5).
engine_up() {
	local c
	c="$(docker_client 2>/dev/null)" || return 1
	timeout "${1:-5}" "$c" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# True when a registry answers /v2/ on host:port (200 or 401 both mean "up").
registry_up() {
	local code
	code="$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$1/v2/" 2>/dev/null || true)"
	[ "$code" = 200 ] || [ "$code" = 401 ]
}

# True when the package index answers its project list on host:port.
index_up() {
	local code
	code="$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$1/simple/" 2>/dev/null || true)"
	[ "$code" = 200 ]
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Seconds since epoch with fraction, for step timings.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# The toolkit: GPUSLIM_CUDA_ROOT as given, else the first of CUDA_HOME, CUDA_PATH, the nvcc
# that PATH finds and /usr/local/cuda that has bin/nvcc and libcudart. CI runs a non-login
# shell, without /etc/profile.d's PATH and CUDA_HOME, where PATH may find only a wrapper
# script such as /usr/local/bin/nvcc: nvcc's own -dryrun then names the root (TOP).
is_cuda_root() { # dir
	[ -n "$1" ] && [ -x "$1/bin/nvcc" ] &&
		{ compgen -G "$1/lib64/libcudart.so*" || compgen -G "$1/lib/libcudart.so*"; } >/dev/null
}
find_cuda_root() {
	local c nv top tried=()
	for c in "${CUDA_HOME:-}" "${CUDA_PATH:-}"; do
		[ -n "$c" ] || continue
		is_cuda_root "$c" && { echo "$c"; return 0; }
		tried+=("$c")
	done
	nv="$(command -v nvcc || true)"
	if [ -n "$nv" ]; then
		c="$(dirname "$(dirname "$(readlink -f "$nv")")")"
		is_cuda_root "$c" && { echo "$c"; return 0; }
		top="$(cd / && { "$nv" -dryrun -c -x cu /dev/null -o /dev/null 2>&1 || true; } |
			sed -n 's/^#\$ TOP=//p' | head -n1)"
		[ -n "$top" ] && is_cuda_root "$top" && { echo "$top"; return 0; }
		tried+=("$nv")
	fi
	is_cuda_root /usr/local/cuda && { echo /usr/local/cuda; return 0; }
	tried+=(/usr/local/cuda)
	die "no CUDA toolkit to make the CUDA fixtures from (tried: ${tried[*]}); set GPUSLIM_CUDA_ROOT"
}
# cuda_root: GPUSLIM_CUDA_ROOT when set, else find_cuda_root's answer (dies when none).
cuda_root() {
	if [ -n "${GPUSLIM_CUDA_ROOT:-}" ]; then echo "$GPUSLIM_CUDA_ROOT"; return 0; fi
	find_cuda_root
}

REG_OPEN_ADDR="127.0.0.1:5000"
REG_AUTH_ADDR="127.0.0.1:5001"
REG_USER="gpuslim"
REG_PASS="gpuslim-test"
# The local package index (scripts/infra/start-index.sh, scripts/infra/pyindex.py).
INDEX_ADDR="127.0.0.1:5080"
