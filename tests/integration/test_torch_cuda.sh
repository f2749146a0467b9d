#!/usr/bin/env bash
# recipes/torch-cuda built for real (issue 8, item 6) on the fixtures and the local package
# index: `gpuslim build` passes its gates, the smoke test's output lists the CUDA libraries
# torch loaded, each from site-packages/nvidia (the wheels), and `gpuslim inspect` finds no
# duplicated library in it. bench/torch-cuda/Dockerfile.naive (cudnn-runtime + pip install
# torch) is built too: inspect flags its duplicated CUDA libraries by soname, with a byte
# total equal to the sum of the smaller copies as this test computes it on its own (an ELF
# reader in Python run inside the image: DT_SONAME of every shared object, grouped, one
# copy per inode); gpuslim's image is at most 0.55x the naive one. The same recipe with
# final.mode closure (FROM scratch: the venv, the interpreter and their ELF closure) builds,
# passes its gates, has no duplicated library, and its smoke test loads the 12 libraries from
# the wheels (NVIDIA's libcusolverMg has no RUNPATH to find libnvJitLink beside it: the
# closure must not fail on what the tree ships already). Builds reuse BuildKit's
# cache (the first run on a machine takes ~5 min, later ones ~3 min: inspect reads 8.5 GB).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

checks=("torch-cuda: gpuslim build passes its gates" "torch-cuda: smoke output lists the wheels' CUDA libraries"
	"torch-cuda: no duplicated library in gpuslim's image" "torch-cuda: naive image builds"
	"torch-cuda: inspect flags the naive image's duplicates by soname, bytes counted once"
	"torch-cuda: gpuslim/naive <= 0.55" "torch-cuda closure: builds, gates pass"
	"torch-cuda closure: smoke loads the 12 libraries from the wheels"
	"torch-cuda closure: no duplicated library, no shell")
it_require_infra "${checks[@]}"
it_require_index "${checks[@]}"

D=$IT_TMP/torch-cuda
mkdir -p "$D"
SLIM=h7-it-torch-cuda NAIVE=h7-it-torch-naive:1 CLOSURE=h12-it-torch-closure
IT_IMAGES+=("$SLIM:latest" "$NAIVE" "$CLOSURE:latest")

# --- gpuslim's image: the recipe as it is, under this test's image name.
cp -r "$ROOT/recipes/torch-cuda" "$D/recipe"
sed -i "s|^image: .*|image: $SLIM|" "$D/recipe/gpuslim.yaml"
"$GPUSLIM" build "$D/recipe/gpuslim.yaml" --progress plain -o "$D/build" --json "$D/build.json" \
	>"$D/build.log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'every gate passed' "$D/build.log"; then
	ok "torch-cuda: gpuslim build passes its gates"
else
	notok "torch-cuda: gpuslim build (exit $rc)" "$(tail -n 40 "$D/build.log")"
	it_done
fi

# The smoke test's whole output, run again in the image: every line a library from the wheels.
"$DOCKER" run --rm "$SLIM:latest" >"$D/smoke.out" 2>&1
rc=$?
wheels=$(grep -c '^loaded lib.* from wheel: /opt/venv/lib/python3.11/site-packages/nvidia/' "$D/smoke.out")
if [ "$rc" -eq 0 ] && [ "$wheels" -eq 12 ] &&
	grep -q '^loaded libcudart.so.13 from wheel: .*/nvidia/cu13/lib/libcudart.so.13$' "$D/smoke.out" &&
	grep -q '^loaded libcudnn.so.9 from wheel: .*/nvidia/cudnn/lib/libcudnn.so.9$' "$D/smoke.out" &&
	grep -q '^loaded libnccl.so.2 from wheel: .*/nvidia/nccl/lib/libnccl.so.2$' "$D/smoke.out" &&
	grep -q '12 of 12 CUDA libraries, all from the nvidia wheels' "$D/smoke.out"; then
	ok "torch-cuda: smoke output lists the wheels' CUDA libraries"
else
	notok "torch-cuda: smoke output (exit $rc, $wheels from the wheels)" "$(cat "$D/smoke.out")"
fi

"$GPUSLIM" inspect "$SLIM:latest" --json >"$D/slim.json" 2>"$D/slim.err"
n=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["cuda"]["duplicates"]))' "$D/slim.json" 2>&1)
if [ "$n" = 0 ]; then
	ok "torch-cuda: no duplicated library in gpuslim's image"
else
	notok "torch-cuda: duplicates in gpuslim's image: $n" "$(cat "$D/slim.err")"
fi

# --- the closure image: the same recipe, final.mode closure.
cp -r "$ROOT/recipes/torch-cuda" "$D/closure"
sed -i "s|^image: .*|image: $CLOSURE|" "$D/closure/gpuslim.yaml"
printf 'final:\n  mode: closure\n' >>"$D/closure/gpuslim.yaml"
"$GPUSLIM" build "$D/closure/gpuslim.yaml" --progress plain -o "$D/closure-build" \
	--json "$D/closure.json" >"$D/closure.log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'every gate passed' "$D/closure.log"; then
	ok "torch-cuda closure: builds, gates pass"
	"$DOCKER" run --rm "$CLOSURE:latest" >"$D/closure-smoke.out" 2>&1
	rc=$?
	wheels=$(grep -c '^loaded lib.* from wheel: /opt/venv/lib/python3.11/site-packages/nvidia/' \
		"$D/closure-smoke.out")
	if [ "$rc" -eq 0 ] && [ "$wheels" -eq 12 ] &&
		grep -q '12 of 12 CUDA libraries, all from the nvidia wheels' "$D/closure-smoke.out"; then
		ok "torch-cuda closure: smoke loads the 12 libraries from the wheels"
	else
		notok "torch-cuda closure: smoke (exit $rc, $wheels from the wheels)" "$(cat "$D/closure-smoke.out")"
	fi
	"$GPUSLIM" inspect "$CLOSURE:latest" --json >"$D/closure-inspect.json" 2>"$D/closure-inspect.err"
	got=$(/usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(len(r["cuda"]["duplicates"]), len(r["layers"]))' "$D/closure-inspect.json" 2>&1)
	if [ "$got" = "0 3" ] && ! "$DOCKER" run --rm --entrypoint /bin/sh "$CLOSURE:latest" -c true \
		>/dev/null 2>&1; then
		ok "torch-cuda closure: no duplicated library, no shell"
	else
		notok "torch-cuda closure: duplicates and layers '$got', or it has a /bin/sh" \
			"$(cat "$D/closure-inspect.err")"
	fi
else
	notok "torch-cuda closure: build (exit $rc)" "$(tail -n 40 "$D/closure.log")"
fi

# --- the naive image.
if DOCKER_BUILDKIT=1 "$DOCKER" build -q --network host -f "$ROOT/bench/torch-cuda/Dockerfile.naive" \
	-t "$NAIVE" "$ROOT/recipes/torch-cuda" >"$D/naive.log" 2>&1; then
	ok "torch-cuda: naive image builds"
else
	notok "torch-cuda: naive image builds" "$(cat "$D/naive.log")"
	it_done
fi
# What the duplicates are, computed without gpuslim: every shared object's DT_SONAME
# (stubs/ left out, as the linker's), one size per inode, per soname the bytes of all
# copies but the largest.
cat >"$D/dups.py" <<'PY'
import os, struct, sys

def soname(path):
    with open(path, "rb") as f:
        h = f.read(64)
        if len(h) < 64 or h[:4] != b"\x7fELF" or h[4] != 2 or h[5] != 1:
            return None
        if struct.unpack_from("<H", h, 16)[0] != 3:  # ET_DYN
            return None
        phoff = struct.unpack_from("<Q", h, 32)[0]
        phentsize, phnum = struct.unpack_from("<HH", h, 54)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
        loads, dyn = [], None
        for i in range(phnum):
            p_type, _, off, vaddr, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", ph, i * phentsize)
            if p_type == 1:
                loads.append((vaddr, off, filesz))
            elif p_type == 2:
                dyn = (off, filesz)
        if not dyn:
            return None
        f.seek(dyn[0])
        d = f.read(dyn[1])
        strtab = so = None
        for i in range(0, len(d) - 15, 16):
            tag, val = struct.unpack_from("<qQ", d, i)
            if tag == 0:
                break
            if tag == 5:
                strtab = val
            elif tag == 14:
                so = val
        if strtab is None or so is None:
            return None
        for vaddr, off, filesz in loads:
            if vaddr <= strtab < vaddr + filesz:
                f.seek(strtab - vaddr + off + so)
                return f.read(512).split(b"\0")[0].decode()
    return None

groups = {}
for top in ("/usr", "/lib", "/opt"):
    for dirpath, dirs, files in os.walk(top):
        if os.path.basename(dirpath) == "stubs":
            continue
        for name in files:
            p = os.path.join(dirpath, name)
            if ".so" not in name or os.path.islink(p):
                continue
            try:
                s = soname(p)
            except OSError:
                continue
            if s:
                st = os.stat(p)
                groups.setdefault(s, {})[(st.st_dev, st.st_ino)] = st.st_size
total = 0
for s in sorted(groups):
    sizes = list(groups[s].values())
    if len(sizes) > 1:
        total += sum(sizes) - max(sizes)
        print(s)
print("total", total)
PY
"$DOCKER" run --rm -i --entrypoint python3 "$NAIVE" - <"$D/dups.py" >"$D/dups.want" 2>&1
"$GPUSLIM" inspect "$NAIVE" --json >"$D/naive.json" 2>"$D/naive.err"
/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
d = r["cuda"]["duplicates"]
for x in sorted(d, key=lambda x: x["soname"]):
    print(x["soname"])
print("total", sum(x["bytes"] for x in d))
' "$D/naive.json" >"$D/dups.got" 2>&1
cuda_n=$(grep -c -E '^lib(cublas|cublasLt|cudart|cudnn|cufft|curand|cusolver|cusparse|nccl|nvJitLink|nvrtc)' "$D/dups.got")
if diff -u "$D/dups.want" "$D/dups.got" >"$D/dups.diff" && [ "$cuda_n" -ge 20 ] &&
	grep -qx 'libcublasLt.so.13' "$D/dups.got" && grep -qx 'libcudnn_adv.so.9' "$D/dups.got" &&
	grep -qx 'libnccl.so.2' "$D/dups.got" && grep -qx 'libcudart.so.13' "$D/dups.got"; then
	ok "torch-cuda: inspect flags the naive image's duplicates by soname, bytes counted once ($cuda_n CUDA sonames, $(tail -n 1 "$D/dups.got"))"
else
	notok "torch-cuda: inspect's duplicates of the naive image ($cuda_n CUDA sonames)" "$(cat "$D/dups.diff" "$D/naive.err")"
fi

read -r slim naive < <(/usr/bin/python3 -c '
import json, sys
print(json.load(open(sys.argv[1]))["summary"]["size"], json.load(open(sys.argv[2]))["summary"]["size"])
' "$D/slim.json" "$D/naive.json")
if [ -n "$slim" ] && [ -n "$naive" ] && [ $((slim * 100)) -le $((naive * 55)) ]; then
	ok "torch-cuda: gpuslim/naive <= 0.55 ($slim / $naive bytes)"
else
	notok "torch-cuda: gpuslim/naive <= 0.55 ($slim / $naive bytes)"
fi
it_done
