#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: set-up, build, the local
# infrastructure (engine, registries, fixture images: the unit tests' real-engine checks
# and the integration tests use them), then tests/run.sh.
# GPUSLIM_INFRA_UP=0 skips the infrastructure; the checks that need it then say "skip".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -s -j2 gpuslim unit
if [ "${GPUSLIM_INFRA_UP:-1}" = 1 ] && [ "$(id -u)" -eq 0 ]; then
	bash scripts/infra/up.sh
fi
exec tests/run.sh "$@"
