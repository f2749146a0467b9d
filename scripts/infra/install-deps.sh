#!/usr/bin/env bash
# Install what gpuslim's build, tests and infra need, from Debian's apt only.
# Installs only the packages that are missing; runs `apt-get update` only when the
# package lists are absent or an install from the current lists fails.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

PKGS=(
	# engine, registry, base-image making
	docker.io docker-registry debootstrap apache2-utils curl ca-certificates
	# gpuslim build dependencies
	build-essential pkg-config libyaml-dev libjansson-dev libcurl4-openssl-dev
	libgit2-dev libssl-dev libarchive-dev libelf-dev zlib1g-dev
	# schema checks in tests
	python3-jsonschema python3-yaml
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
# node/npm: only when there is no node at all (a nodesource node brings its own npm).
if ! command -v node >/dev/null 2>&1; then
	installed nodejs || missing+=(nodejs)
	installed npm || missing+=(npm)
fi

if [ "${#missing[@]}" -eq 0 ]; then
	log "all ${#PKGS[@]} packages present"
	exit 0
fi

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -qq --no-install-recommends -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confold)
aptlog="$(mktemp)"
trap 'rm -f "$aptlog"' EXIT

lists_present() { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }

try_install() { apt-get install "${APT_OPTS[@]}" "${missing[@]}" >"$aptlog" 2>&1; }

if ! lists_present || ! try_install; then
	log "apt-get update"
	if ! apt-get update -qq >"$aptlog" 2>&1; then
		cat "$aptlog" >&2
		die "apt-get update failed"
	fi
	if ! try_install; then
		tail -n 30 "$aptlog" >&2
		die "apt-get install failed for: ${missing[*]}"
	fi
fi

still=()
for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
[ "${#still[@]}" -eq 0 ] || die "packages still missing after install: ${still[*]}"
docker_client >/dev/null || die "docker.io installed but its client was not found"
log "installed ${#missing[@]} package(s)"
