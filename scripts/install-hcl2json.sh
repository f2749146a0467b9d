#!/usr/bin/env bash
# Installs @cdktf/hcl2json, the independent HCL parser the tests check docker-bake.hcl
# with, into tests/node from its committed lock file. Quiet when it is there already.
# Used by scripts/setup.sh and by tests/run.sh (so `make test` needs no set-up step).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every package tests/node/package.json names (hcl2json; @actions/workflow-parser, ajv,
# ajv-draft-04, ajv-formats and yaml for tests/ci), so that a checkout that had only some
# of them gets the rest.
missing=0
for p in $(sed -n 's/^ *"\(@\{0,1\}[^"]*\)": *"[~^0-9].*/\1/p' tests/node/package.json); do
	[ -d "tests/node/node_modules/$p" ] || missing=1
done
[ "$missing" = 0 ] && exit 0
command -v npm >/dev/null 2>&1 || { echo "install-hcl2json: error: npm is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
echo "setup: installing the tests' node packages (tests/node/package.json)"
# npm ci in the folder itself: --prefix would move npm's global config to PREFIX/etc/npmrc
# and lose the machine's cafile there, and npm then retries TLS failures for minutes.
# A bounded retry count and a time limit instead.
if ! (cd tests/node && timeout 600 npm ci --silent --no-audit --no-fund \
	--fetch-retries=2 --fetch-timeout=60000 >/dev/null); then
	echo "install-hcl2json: error: npm ci in tests/node failed (registry unreachable or TLS error?)" >&2
	exit 1
fi
