#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: set-up, build, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -s -j2 gpuslim unit
exec tests/run.sh "$@"
