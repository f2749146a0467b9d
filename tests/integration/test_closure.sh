#!/usr/bin/env bash
# final.mode closure on the real engine and registry (scripts/infra): recipes/cuda-vadd-closure
# and recipes/torch-cpu-closure build with `gpuslim build`, pass every gate with no rule turned
# down, their images have no shell and run through Docker (vadd reaches the CUDA runtime and
# reports the missing driver; torch imports and multiplies); a closure whose program NVRTC
# needs libnvrtc-builtins (dlopen()ed, never DT_NEEDED) ships it and compiles a kernel; the
# same image with that library removed fails to compile and fails its gate naming it.
# shellcheck source-path=SCRIPTDIR disable=SC2317 # functions run through check
. "$(dirname "$0")/lib.sh"

it_require_infra "cuda-vadd-closure builds" "torch-cpu-closure builds" "nvrtc-closure builds" \
	"a closure without its dlopen()ed library fails its gate"
cd "$ROOT" || exit 1

# report FILE FIELD: one line per cell of a build report, the field's value.
report() {
	/usr/bin/python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["cells"]: print(c.get(sys.argv[2]) or "")' "$1" "$2"
}
# build NAME RECIPE: gpuslim build into $IT_TMP/NAME, output in $IT_TMP/NAME.out.
build() {
	"$GPUSLIM" build "$2" -o "$IT_TMP/$1" --progress plain --json "$IT_TMP/$1.json" \
		>"$IT_TMP/$1.out" 2>&1
}
# no_shell REF: the image has no /bin/sh to start.
no_shell() {
	! "$DOCKER" run --rm --entrypoint /bin/sh "$1" -c true >/dev/null 2>&1
}
# rule_gates FILE: "name status" of each rule gate of a build report's first cell.
rule_gates() {
	/usr/bin/python3 -c 'import json,sys
c = json.load(open(sys.argv[1]))["cells"][0]
for g in (c.get("gate") or {}).get("gates") or []:
    if g["kind"] == "rule": print(g["name"], g["status"])' "$1"
}
# every_rule_passes FILE: the rules that matter to a closure pass, none turned off.
every_rule_passes() {
	local r out
	out=$(rule_gates "$1")
	for r in missing-library dangling-interpreter devel-toolchain driver-in-image \
		missing-command missing-runtime-file; do
		printf '%s\n' "$out" | grep -qx "$r pass" || { echo "$r: $(printf '%s\n' "$out" | grep "^$r ")"; return 1; }
	done
}

# --- cuda-vadd: the program, cudart, libstdc++, glibc and the loader on scratch.
if build vadd recipes/cuda-vadd-closure/gpuslim.yaml; then
	ok "cuda-vadd-closure builds and passes its gates"
	ref=$(report "$IT_TMP/vadd.json" image)
	IT_IMAGES+=("$ref")
	check "cuda-vadd-closure: missing-library, dangling-interpreter, devel-toolchain... pass" \
		every_rule_passes "$IT_TMP/vadd.json"
	out=$("$DOCKER" run --rm "$ref" 2>&1)
	case "$out" in
	*"error while loading shared libraries"* | *"no such file or directory"*)
		notok "cuda-vadd-closure: the program does not start" "$out" ;;
	*cudaErrorInsufficientDriver* | *cudaErrorNoDevice* | *"no CUDA-capable device"* | *"driver version is insufficient"*)
		ok "cuda-vadd-closure starts and reports the missing driver: $(printf '%s' "$out" | head -n1)" ;;
	*"vadd: ok"*) ok "cuda-vadd-closure runs on a GPU: $out" ;;
	*) notok "cuda-vadd-closure: unexpected output" "$out" ;;
	esac
	if no_shell "$ref"; then ok "cuda-vadd-closure: no shell in the image"
	else notok "cuda-vadd-closure: /bin/sh starts"; fi
	size=$("$DOCKER" image inspect --format '{{.Size}}' "$ref")
	if [ "$size" -le 12000000 ]; then ok "cuda-vadd-closure: $size bytes, at most 12 MB"
	else notok "cuda-vadd-closure: $size bytes, over 12 MB"; fi
	# what the NVIDIA Container Toolkit looks for in the root: the multiarch directory (and
	# /etc/debian_version, which makes the legacy hook pick it), ld.so.conf with its include
	cid=$("$DOCKER" create "$ref")
	"$DOCKER" export "$cid" | tar -t >"$IT_TMP/vadd.files" 2>/dev/null
	"$DOCKER" rm "$cid" >/dev/null 2>&1
	missing=""
	for f in usr/lib/x86_64-linux-gnu/libc.so.6 usr/lib/x86_64-linux-gnu/libm.so.6 \
		etc/ld.so.cache etc/ld.so.conf etc/ld.so.conf.d/gpuslim.conf etc/passwd etc/group \
		etc/debian_version usr/lib/x86_64-linux-gnu/libcudart.so.13; do
		grep -qx "$f" "$IT_TMP/vadd.files" || missing="$missing $f"
	done
	grep -qE '^(usr/)?lib64/ld-linux-x86-64.so.2$' "$IT_TMP/vadd.files" || missing="$missing ld-linux-x86-64.so.2"
	if [ -z "$missing" ]; then ok "cuda-vadd-closure: glibc, the loader, ld.so.cache, passwd, /usr/lib/x86_64-linux-gnu"
	else notok "cuda-vadd-closure lacks:$missing" "$(cat "$IT_TMP/vadd.files")"; fi
	if grep -qE '(^|/)(libcuda\.so|libnvidia-)' "$IT_TMP/vadd.files"; then
		notok "cuda-vadd-closure ships a driver library" "$(grep -E 'libcuda|libnvidia' "$IT_TMP/vadd.files")"
	else ok "cuda-vadd-closure: no driver library"; fi
else
	notok "cuda-vadd-closure builds" "$(cat "$IT_TMP/vadd.out")"
fi

# --- Debian's CPU PyTorch: the interpreter, its stdlib, the venv, dist-packages, closure.
if build torch recipes/torch-cpu-closure/gpuslim.yaml; then
	ok "torch-cpu-closure builds and passes its gates (its smoke test imports torch)"
	ref=$(report "$IT_TMP/torch.json" image)
	IT_IMAGES+=("$ref")
	check "torch-cpu-closure: every rule passes with none turned down" \
		every_rule_passes "$IT_TMP/torch.json"
	out=$("$DOCKER" run --rm "$ref" 2>&1)
	case "$out" in
	*"torch-cpu: ok"*) ok "torch-cpu-closure imports torch and multiplies: $out" ;;
	*) notok "torch-cpu-closure: unexpected output" "$out" ;;
	esac
	if no_shell "$ref"; then ok "torch-cpu-closure: no shell in the image"
	else notok "torch-cpu-closure: /bin/sh starts"; fi
	if "$DOCKER" run --rm --entrypoint /usr/bin/apt-get "$ref" --version >/dev/null 2>&1 ||
		"$DOCKER" run --rm --entrypoint /usr/bin/dpkg "$ref" --version >/dev/null 2>&1; then
		notok "torch-cpu-closure: a package manager runs"
	else ok "torch-cpu-closure: no apt-get, no dpkg"; fi
	size=$("$DOCKER" image inspect --format '{{.Size}}' "$ref")
	echo "# torch-cpu-closure: $size bytes"
else
	notok "torch-cpu-closure builds" "$(cat "$IT_TMP/torch.out")"
fi

# --- A library only dlopen() brings: shipped by the plugins' rule; left out, the gate names it.
NV=tests/integration/recipes/nvrtc-closure/gpuslim.yaml
if build nvrtc "$NV"; then
	ok "nvrtc-closure builds; its program compiles a kernel (libnvrtc-builtins shipped)"
	ref=$(report "$IT_TMP/nvrtc.json" image)
	IT_IMAGES+=("$ref")
	cut="gpuslim-tests/nvrtc-closure-cut:$$"
	IT_IMAGES+=("$cut")
	mkdir -p "$IT_TMP/cut"
	# the same image, less the builtins: a stage with a shell cuts the tree, scratch takes it
	cat >"$IT_TMP/cut/Dockerfile" <<-DF
		FROM $ref AS good
		FROM $REG_OPEN_ADDR/gpuslim-fixtures/cuda:13.0.2-base-debian12 AS cut
		COPY --from=good / /closure/
		RUN rm /closure/usr/lib/x86_64-linux-gnu/libnvrtc-builtins.so.13.0
		FROM scratch
		COPY --from=cut /closure/ /
		ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility CUDA_VERSION=13.0.2
		USER 10001:10001
		LABEL io.gpuslim.final=closure
		ENTRYPOINT ["/usr/local/bin/nvrtc-ptx"]
	DF
	if DOCKER_BUILDKIT=1 "$DOCKER" build -q -t "$cut" "$IT_TMP/cut" >"$IT_TMP/cut.out" 2>&1; then
		out=$("$DOCKER" run --rm "$cut" 2>&1)
		case "$out" in
		*"nvrtc: ok"*) notok "without libnvrtc-builtins the kernel still compiles" "$out" ;;
		*) ok "without libnvrtc-builtins the program fails at run time: $(printf '%s' "$out" | head -n1)" ;;
		esac
		"$GPUSLIM" gate "$cut" --recipe "$NV" --no-smoke >"$IT_TMP/gate.out" 2>&1
		rc=$?
		if [ "$rc" -eq 1 ] && grep -qE "FAIL +rule +missing-library +.*libnvrtc-builtins\.so\.13\.0.*\(dlopen\)" "$IT_TMP/gate.out"; then
			ok "the cut closure fails its gate naming libnvrtc-builtins.so.13.0 (dlopen)"
		else
			notok "the cut closure: exit $rc, want 1 naming libnvrtc-builtins.so.13.0" "$(cat "$IT_TMP/gate.out")"
		fi
	else
		notok "docker build of the cut closure" "$(cat "$IT_TMP/cut.out")"
	fi
else
	notok "nvrtc-closure builds" "$(cat "$IT_TMP/nvrtc.out")"
fi

it_done
