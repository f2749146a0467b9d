#!/usr/bin/env bash
# Installs what building and testing gpuslim needs on a fresh Debian 12 machine.
# Idempotent: installs only what is missing; quiet when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config libyaml-dev libjansson-dev libcurl4-openssl-dev libgit2-dev
      libssl-dev libarchive-dev python3-jsonschema python3-yaml valgrind zstd)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The independent HCL parser the tests check docker-bake.hcl with.
if [ ! -d tests/node/node_modules/@cdktf/hcl2json ]; then
	echo "setup: installing @cdktf/hcl2json for the HCL tests"
	# npm ci in the folder itself, from the committed lock file: --prefix would move npm's
	# global config to PREFIX/etc/npmrc and lose the machine's cafile there, and npm then
	# retries TLS failures for minutes. A bounded retry count and a time limit instead.
	if ! (cd tests/node && timeout 600 npm ci --silent --no-audit --no-fund \
		--fetch-retries=2 --fetch-timeout=60000 >/dev/null); then
		echo "setup: error: npm ci in tests/node failed (registry unreachable or TLS error?)" >&2
		exit 1
	fi
fi
