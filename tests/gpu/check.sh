#!/bin/sh
# The cuda-vadd GPU check, on a host with a GPU and no engine: the image's smoke test
# (/usr/local/bin/vadd) run in its unpacked filesystem by `gpuslim run`, the driver bound in.
#
#   check.sh [IMAGE]    IMAGE: a `docker save` tar (plain, gzip or zstd) or an OCI layout of
#                       the cuda-vadd image (closure mode or not); default: the image that
#                       tests/gpu/pack.sh put beside this script
#
# Prints the runner used, the CUDA device's name and "vadd: ok". Exit codes: 0 vadd ran on
# the GPU, 3 no GPU here (no driver found, or CUDA says there is none: the image and the
# runner worked), 1 the check failed, 2 bad usage. Gives up after 170 s.
# Runs the gpuslim of a pack (bin/, lib/ with its own loader, plugins/) when beside it,
# else the gpuslim on PATH. The driver is looked for in /usr/local/nvidia (lib64, bin),
# else where nvidia-smi and `ldconfig -p` say.
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-}
if [ -z "$image" ]; then
	for f in "$here/image.tar.zst" "$here/image.tar.gz" "$here/image.tar" "$here/image"; do
		if [ -e "$f" ]; then image=$f; break; fi
	done
fi
if [ -z "$image" ] || [ ! -e "$image" ]; then
	echo "check: no image '${image}' (give a docker-save tar or an OCI layout)" >&2
	exit 2
fi
PATH=/usr/local/nvidia/bin:$PATH
export PATH
if [ -x "$here/bin/gpuslim" ] && [ -e "$here/lib/ld-linux-x86-64.so.2" ]; then
	GPUSLIM_PLUGIN_DIR=$here/plugins
	export GPUSLIM_PLUGIN_DIR
	set -- "$here/lib/ld-linux-x86-64.so.2" --library-path "$here/lib" "$here/bin/gpuslim"
	echo "check: gpuslim from the pack in $here"
elif command -v gpuslim >/dev/null 2>&1; then
	set -- gpuslim
	echo "check: gpuslim from PATH ($(command -v gpuslim))"
else
	echo "check: no gpuslim (run tests/gpu/pack.sh, or put gpuslim on PATH)" >&2
	exit 2
fi
driver=
if [ -d /usr/local/nvidia/lib64 ]; then driver=/usr/local/nvidia/lib64; fi
t0=$(date +%s)
echo "check: image $image, user $(id -u), bwrap: $(command -v bwrap || echo none)"
if command -v timeout >/dev/null 2>&1; then
	set -- timeout 170 "$@"
fi
out=$("$@" run -v ${driver:+--driver-dir "$driver"} "$image" -- /usr/local/bin/vadd 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/  | /'
t1=$(date +%s)
echo "check: gpuslim run exited $rc after $((t1 - t0)) s"
runner=$(printf '%s\n' "$out" | sed -n 's/^gpuslim run: runner: //p')
gpu=$(printf '%s\n' "$out" | sed -n 's/^gpuslim run: gpu: //p')
[ -n "$runner" ] && echo "runner: $runner"
[ -n "$gpu" ] && echo "driver: $gpu"

name=$(printf '%s\n' "$out" | sed -n 's/^vadd: device 0: //p' | head -n 1)
if [ -z "$name" ] && command -v nvidia-smi >/dev/null 2>&1; then
	name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
	[ -n "$name" ] && name="$name (from nvidia-smi)"
fi
if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q '^vadd: ok'; then
	echo "device: ${name:-unknown}"
	echo "vadd: ok"
	exit 0
fi
if [ "$rc" -eq 124 ]; then
	echo "check: FAILED: timed out after 170 s"
	exit 1
fi
case "$gpu" in none*) nogpu=1 ;; *) nogpu=0 ;; esac
if [ "$nogpu" -eq 1 ] || printf '%s\n' "$out" |
	grep -qE 'cudaErrorInsufficientDriver|cudaErrorNoDevice|no CUDA device|cudaErrorNotSupported'; then
	why=$(printf '%s\n' "$out" | grep -E '^vadd: ' | head -n 1)
	echo "check: no GPU: ${why:-no driver found} (driver: ${gpu:-unknown})"
	exit 3
fi
echo "check: FAILED: gpuslim run exited $rc, no 'vadd: ok'"
exit 1
