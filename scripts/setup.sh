#!/usr/bin/env bash
# Installs what building and testing gpuslim needs on a fresh Debian 12 machine.
# Idempotent: installs only what is missing; quiet when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config libyaml-dev libjansson-dev libcurl4-openssl-dev libgit2-dev
      libssl-dev libarchive-dev python3-jsonschema python3-yaml valgrind zstd
      skopeo umoci) # skopeo, umoci: tests/integration/test_image_layouts.sh
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
scripts/install-hcl2json.sh
