#!/usr/bin/env bash
# Smoke test of scripts/infra: engine, both registries (auth enforced), every fixture in
# the registry with its inputs label, the devel fixture compiling CUDA, and an idempotent
# rerun of up.sh that does no work.
# Brings the infra up first when no engine answers (tests/integration/lib.sh).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
set -o pipefail

# A failed check ends this script: the later checks stand on the earlier ones.
fail() { notok "$*"; it_done; }

it_require_infra "infra: engine, registries, fixtures"

engine_up 5 || fail "engine does not answer"
server="$(dk version --format '{{.Server.Version}}' 2>&1)" || server=""
[ -n "$server" ] || fail "engine: no server version"
driver="$(dk info --format '{{.Driver}}' 2>&1)" || driver=""
[ -n "$driver" ] || fail "engine: no storage driver"
ok "engine $server ($driver)"

code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@"; }
[ "$(code "http://$GPUSLIM_REGISTRY/v2/")" = 200 ] || fail "$GPUSLIM_REGISTRY /v2/ not 200"
[ "$(code "http://$GPUSLIM_REGISTRY_AUTH/v2/")" = 401 ] || fail "$GPUSLIM_REGISTRY_AUTH /v2/ without credentials not 401"
[ "$(code -u "$GPUSLIM_REGISTRY_USER:$GPUSLIM_REGISTRY_PASSWORD" "http://$GPUSLIM_REGISTRY_AUTH/v2/")" = 200 ] || fail "credentials refused"
[ "$(code -u "$GPUSLIM_REGISTRY_USER:wrong" "http://$GPUSLIM_REGISTRY_AUTH/v2/")" = 401 ] || fail "wrong password accepted"
ok "registries: $GPUSLIM_REGISTRY open, $GPUSLIM_REGISTRY_AUTH auth"

accept='application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'
for ref in "$GPUSLIM_FIXTURE_DEBIAN" "$GPUSLIM_FIXTURE_CUDA_BASE" "$GPUSLIM_FIXTURE_CUDA_RUNTIME" \
	"$GPUSLIM_FIXTURE_CUDA_DEVEL" ${GPUSLIM_FIXTURE_CUDA_CUDNN_RUNTIME:+"$GPUSLIM_FIXTURE_CUDA_CUDNN_RUNTIME"} \
	${GPUSLIM_FIXTURE_CUDA_CUDNN_DEVEL:+"$GPUSLIM_FIXTURE_CUDA_CUDNN_DEVEL"}; do
	path="${ref#*/}"; repo="${path%:*}"; tag="${path##*:}"
	[ "$(code -H "Accept: $accept" "http://$GPUSLIM_REGISTRY/v2/$repo/manifests/$tag")" = 200 ] || fail "$ref not in the registry"
	lbl="$(dk image inspect -f '{{index .Config.Labels "org.gpuslim.fixture.inputs"}}' "$ref" 2>/dev/null || true)"
	[ -n "$lbl" ] || fail "$ref: no local image with the inputs label"
done
ok "fixtures present in $GPUSLIM_REGISTRY"

env_of() { dk image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$1"; }
env_of "$GPUSLIM_FIXTURE_CUDA_BASE" | grep -qx "CUDA_VERSION=$GPUSLIM_FIXTURE_CUDA_VERSION" || fail "base: CUDA_VERSION"
env_of "$GPUSLIM_FIXTURE_CUDA_BASE" | grep -q '^NVIDIA_REQUIRE_CUDA=cuda>=' || fail "base: NVIDIA_REQUIRE_CUDA"
env_of "$GPUSLIM_FIXTURE_CUDA_RUNTIME" | grep -q '^NCCL_VERSION=' || fail "runtime: NCCL_VERSION"
env_of "$GPUSLIM_FIXTURE_CUDA_DEVEL" | grep -qx 'LIBRARY_PATH=/usr/local/cuda/lib64/stubs' || fail "devel: LIBRARY_PATH"
[ -z "${GPUSLIM_FIXTURE_CUDA_CUDNN_RUNTIME:-}" ] || env_of "$GPUSLIM_FIXTURE_CUDA_CUDNN_RUNTIME" | grep -q '^NV_CUDNN_VERSION=' || fail "cudnn-runtime: NV_CUDNN_VERSION"
ok "NVIDIA environment variables"

out="$(dk run --rm --network=none "$GPUSLIM_FIXTURE_CUDA_DEVEL" bash -c '
	cd /tmp && printf "#include <cstdio>\n#include <cuda_runtime.h>\n__global__ void k(){}\nint main(){int n=0;cudaError_t e=cudaGetDeviceCount(&n);printf(\"%%s\\\\n\",cudaGetErrorName(e));return 0;}\n" >t.cu &&
	nvcc -o t t.cu && ./t' 2>&1)" || fail "nvcc in devel: $out"
case "$out" in *cudaErrorInsufficientDriver*|*cudaErrorNoDevice*|*cudaSuccess*) ok "devel: nvcc builds and runs ($out)" ;;
*) fail "devel: unexpected output: $out" ;; esac
dk run --rm --network=none "$GPUSLIM_FIXTURE_CUDA_RUNTIME" bash -c 'command -v nvcc gcc' >/dev/null 2>&1 && fail "runtime has nvcc or gcc"
ok "runtime has no toolchain"

t0="$(now)"
bash "$ROOT/scripts/infra/up.sh" >/tmp/gpuslim-infra-rerun.log 2>&1 || { cat /tmp/gpuslim-infra-rerun.log; fail "up.sh rerun failed"; }
grep -qE ': (built|pushed|pulled) ' /tmp/gpuslim-infra-rerun.log && { cat /tmp/gpuslim-infra-rerun.log; fail "up.sh rerun did work"; }
ok "up.sh rerun is a no-op ($(elapsed "$t0")s)"
rm -f /tmp/gpuslim-infra-rerun.log
it_done
