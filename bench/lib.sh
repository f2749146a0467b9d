# shellcheck shell=bash
# Shared by the benchmarks that build on the local engine (bench/build.sh, bench/closure.sh):
# sourced from the repository root after `set -euo pipefail`. Sets DOCKER, TMP (removed at
# exit, with the naive image) and the fixtures' addresses; ms prints the time in ms;
# naive_vadd builds the naive single-stage cuda-vadd and sets naive (bytes) and naive_ms.
. scripts/infra/lib.sh
DOCKER=$(docker_client)
engine_up 5 || { echo "bench: no engine answers (run scripts/infra/up.sh)" >&2; exit 3; }
# shellcheck disable=SC1091 # written by scripts/infra/up.sh
. "$STATE/fixtures.env"
TMP=$(mktemp -d /tmp/gpuslim-bench.XXXXXX)
trap 'rm -rf "$TMP"; "$DOCKER" rmi -f gpuslim-bench/naive-vadd:1 >/dev/null 2>&1 || true' EXIT
ms() { date +%s%3N; }

# naive: everything in one stage on devel, as a first Dockerfile would do it.
# shellcheck disable=SC2034 # naive and naive_ms are for the caller
naive_vadd() {
	local t0
	mkdir -p "$TMP/naive"
	cp recipes/cuda-vadd/vadd.cu "$TMP/naive/"
	cat >"$TMP/naive/Dockerfile" <<DOCKERFILE
FROM $GPUSLIM_FIXTURE_CUDA_DEVEL
WORKDIR /src
COPY vadd.cu .
RUN nvcc -O2 -cudart shared -o /usr/local/bin/vadd vadd.cu
ENTRYPOINT ["/usr/local/bin/vadd"]
DOCKERFILE
	t0=$(ms)
	DOCKER_BUILDKIT=1 "$DOCKER" build -q --no-cache -t gpuslim-bench/naive-vadd:1 "$TMP/naive" >/dev/null
	naive_ms=$(($(ms) - t0))
	naive=$("$DOCKER" image inspect --format '{{.Size}}' gpuslim-bench/naive-vadd:1)
}
