#!/usr/bin/env bash
# The GPU check without Docker, as far as a machine without a GPU can take it:
# tests/gpu/pack.sh of the closure-mode cuda-vadd image (recipes/cuda-vadd-closure, the
# image the device check is for: built by `gpuslim build`, saved with docker save) stays
# under 64 MiB, and its check.sh, run in a bare container of the base fixture
# (none of gpuslim's libraries, no bubblewrap, no engine), unpacks the image, runs the smoke
# test through the rootfs runner as root (chroot) and as another user (chroot in a user
# namespace), names the runner and says "no GPU" with exit 3, never "vadd: ok".
. "$(dirname "$0")/lib.sh"

it_require_infra "gpu pack: pack.sh" "gpu pack: check.sh as root" "gpu pack: check.sh as a user"
cd "$ROOT" || exit 1
T=$IT_TMP
BASE="$REG_OPEN_ADDR/gpuslim-fixtures/cuda:13.0.2-base-debian12"

if ! "$GPUSLIM" build recipes/cuda-vadd-closure/gpuslim.yaml -o "$T/vadd" --progress plain --no-gate \
	--json "$T/vadd.json" >"$T/build.out" 2>&1; then
	notok "gpu pack: cuda-vadd-closure builds" "$(cat "$T/build.out")"
	it_done
fi
VADD=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cells"][0]["image"])' \
	"$T/vadd.json")
"$DOCKER" save -o "$T/vadd.tar" "$VADD" || { notok "gpu pack: docker save $VADD"; it_done; }

# zstd -3: seconds, not the -19 a real pack takes its time for.
if PACK_ZSTD_LEVEL=3 tests/gpu/pack.sh "$T/vadd.tar" "$T/pack" >"$T/pack.out" 2>&1 &&
	[ "$(du -sb "$T/pack" | cut -f1)" -le $((64 * 1024 * 1024)) ]; then
	ok "gpu pack: pack.sh makes a directory under 64 MiB ($(tail -n 1 "$T/pack.out"))"
else
	notok "gpu pack: pack.sh" "$(cat "$T/pack.out")"
	it_done
fi

# check_in WHAT RUNNER USER: check.sh in a bare container as USER; exit 3, "no GPU", RUNNER.
check_in() {
	"$DOCKER" run --rm --network none --cap-add SYS_ADMIN --cap-add SYS_CHROOT \
		--security-opt seccomp=unconfined --security-opt apparmor=unconfined \
		-v "$T/pack:/pack:ro" "$BASE" sh -c '
			if ls /usr/lib/x86_64-linux-gnu | grep -qE "^lib(yaml|archive|git2|jansson)"; then
				echo "gpuslim libraries in the base"; exit 9; fi
			if [ "$1" = root ]; then exec /pack/check.sh; fi
			exec setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp /pack/check.sh' \
		sh "$3" >"$T/check.out" 2>&1
	rc=$?
	if [ "$rc" -eq 3 ] && grep -q "^check: no GPU: vadd: " "$T/check.out" &&
		grep -q "^runner: $2" "$T/check.out" && ! grep -q "^vadd: ok" "$T/check.out"; then
		ok "gpu pack: $1"
	else
		notok "gpu pack: $1: exit $rc, want 3 with 'no GPU' and runner '$2'" "$(cat "$T/check.out")"
	fi
}
check_in "check.sh as root runs the smoke test by chroot and says no GPU" \
	"chroot in a mount namespace" root
check_in "check.sh as a user runs it by chroot in a user namespace and says no GPU" \
	"chroot in a user namespace" user

it_done
