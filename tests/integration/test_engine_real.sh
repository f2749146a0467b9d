#!/usr/bin/env bash
# The unit tests' checks that need the real engine and registries, in C
# (tests/integration/engine_real.c, built by `make unit`): engine detection, the registry
# client against what `docker push` reports (open and htpasswd registries, credentials
# from config.json), `gpuslim plan --resolve` pinned at the engine's digests, and a real
# 3-layer image read through the engine, a docker-save file, both registries and OCI
# layouts, all agreeing. Its own summary becomes this script's; a crash is a failure.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

it_require_infra "engine_real: the engine, the registries and the fixtures through the C API"
bin="$ROOT/build/tests/engine_real"
if [ ! -x "$bin" ]; then
	notok "engine_real: build/tests/engine_real is not built (make unit)"
	it_done
fi
cd "$ROOT" || exit 2
"$bin" 2>&1 | sed 's/^# \([0-9]* passed, [0-9]* failed, [0-9]* skipped\)$/integration: \1/'
exit "${PIPESTATUS[0]}"
