#!/usr/bin/env bash
# Bring the whole local infrastructure up, in order: apt dependencies, Docker engine,
# registries, fixture images, the package index (its wheels, then its server). Idempotent;
# a rerun with everything in place takes seconds.
# Prints each step's time and a one-line summary at the end.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

times=()
step() { # name script
	local t0
	t0="$(now)"
	bash "$INFRA_DIR/$2" || die "step '$1' failed ($2)"
	times+=("$1 $(elapsed "$t0")s")
}
T0="$(now)"
step deps install-deps.sh
step docker start-docker.sh
step registry start-registry.sh
step fixtures build-fixtures.sh
step wheels build-wheels.sh
step index start-index.sh

# shellcheck disable=SC1091
. "$STATE/fixtures.env"
drv="$(dk info --format '{{.Driver}}' 2>/dev/null || echo '?')"
echo "gpuslim infra up in $(elapsed "$T0")s [$(IFS=,; echo "${times[*]}" | sed 's/,/, /g')]: engine $(dk version --format '{{.Server.Version}}') ($drv), registries $REG_OPEN_ADDR + $REG_AUTH_ADDR (auth: $STATE/registry/auth/credentials), CUDA $GPUSLIM_FIXTURE_CUDA_VERSION fixtures, package index $GPUSLIM_INDEX_URL (+ $GPUSLIM_TORCH_INDEX_URL); env: $STATE/fixtures.env"
