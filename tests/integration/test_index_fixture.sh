#!/usr/bin/env bash
# The local package index fixture (scripts/infra/start-index.sh, pyindex.py,
# pyindex_build.py): PEP 503/691 negotiation, hashes and PEP 658 metadata of every file,
# yanked and requires-python, 404s and name redirects, torch +cu130's DT_RPATH into the
# nvidia wheels, and pip (Debian 12's python3.11 in a venv) installing torch +cu130 and its
# CUDA wheels with --require-hashes --no-deps from the index, then importing torch: the
# CUDA libraries it maps come from the venv's nvidia/ folders, not from the host's toolkit.
# Starts the index when it does not answer (tests/integration/lib.sh: it_require_index).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
CHECK="$ROOT/tests/integration/index_fixture_check.py"
it_require_index "index: negotiation" "index: roots" "index: hashes" "index: metadata" "index: yanked" \
	"index: errors" "index: torch requires" "index: torch rpath" "index: pip torch+cu130" "index: pip torch+cpu" \
	"index: pip resolution" "index: wrong hash refused"
BASE="http://$INDEX_ADDR"

check "index: JSON/HTML negotiation on Accept (q-values, 406, ?format=)" "$PY" "$CHECK" negotiate "$BASE"
check "index: /simple, /whl/cu130, /whl/cpu project lists (JSON = HTML)" "$PY" "$CHECK" roots "$BASE"
check "index: every file's sha256 and size as indexed, HTML = JSON" "$PY" "$CHECK" hashes "$BASE"
check "index: PEP 658 .metadata of every wheel = its METADATA" "$PY" "$CHECK" metadata "$BASE"
check "index: yanked (PEP 592), requires-python, versions, sdist-only" "$PY" "$CHECK" yanked "$BASE"
check "index: 404s and redirects of non-normalized names" "$PY" "$CHECK" errors "$BASE"
check "index: torch +cu130 Requires-Dist pins the served nvidia wheels" "$PY" "$CHECK" requires "$BASE"

# torch +cu130 as built: the extension and libtorch_cuda.so link the CUDA libraries through
# DT_RPATH into site-packages/nvidia (real torch: patchelf --force-rpath).
W="$IT_TMP/wheel"
mkdir -p "$W"
whl="$(ls "$GPUSLIM_INDEX_DIR"/packages/torch-2.11.0+cu130-*.whl 2>/dev/null | head -n1)"
rpath_check() {
	local d out so
	[ -n "$whl" ] || { echo "no torch-2.11.0+cu130 wheel in $GPUSLIM_INDEX_DIR/packages"; return 1; }
	"$PY" -m zipfile -e "$whl" "$W" || return 1
	for so in torch/lib/libtorch_cuda.so torch/_C.cpython-311-x86_64-linux-gnu.so; do
		out="$(readelf -d "$W/$so")" || return 1
		for d in '$ORIGIN/../../nvidia/cu13/lib' '$ORIGIN/../../nvidia/cudnn/lib' '$ORIGIN/../../nvidia/nccl/lib'; do
			echo "$out" | grep -E '\((RPATH|RUNPATH)\)' | grep -qF "$d" || { echo "$so: no $d in its RPATH:"; echo "$out"; return 1; }
		done
	done
	out="$(readelf -d "$W/torch/lib/libtorch_cuda.so")"
	for d in libcudart.so.13 libcublas.so.13 libcudnn.so.9 libnccl.so.2 libnvrtc.so.13 libnvJitLink.so.13; do
		echo "$out" | grep -qF "Shared library: [$d]" || { echo "libtorch_cuda.so does not NEED $d"; return 1; }
	done
	readelf -d "$W/torch/_C.cpython-311-x86_64-linux-gnu.so" | grep -qF 'Shared library: [libtorch_cuda.so]' ||
		{ echo "_C does not NEED libtorch_cuda.so"; return 1; }
	echo "$out" | grep -E 'RPATH|RUNPATH'
}
check "index: torch +cu130 links libcudart.so.13, libcublas.so.13, libcudnn.so.9, libnccl.so.2 via RPATH" rpath_check

# pip in a venv of Debian 12's python3.11: torch +cu130 and its nvidia wheels, pinned with
# hashes, from the framework index only, without dependency resolution.
venv_install() { # venv root spec-file -> pip output
	"$PY" -m venv "$1" || return 1
	"$PY" "$CHECK" requirements "$BASE" "$2" "$3" >"$1.req" || { cat "$1.req"; return 1; }
	"$1/bin/pip" install -q --disable-pip-version-check --no-cache-dir --no-deps --require-hashes \
		--index-url "$BASE/$2" -r "$1.req"
}
V="$IT_TMP/venv-cu130"
echo "torch==2.11.0+cu130" >"$IT_TMP/spec-cu130"
smoke='
import json, os, sys, torch
site = os.path.realpath(os.path.join(os.path.dirname(torch.__file__), ".."))
libs = torch.cuda.libraries()
info = torch.cuda._info()
t = torch.ones(4)
m = torch.tensor([[1, 2], [3, 4]]) @ torch.tensor([[5, 6], [7, 8]])
print(json.dumps({"version": torch.__version__, "cuda": torch.version.cuda, "sum": t.sum().item(),
                  "mm": m.tolist(), "info": info, "libs": libs, "site": site}))
'
pip_cu130() {
	local out
	venv_install "$V" whl/cu130 "$IT_TMP/spec-cu130" || return 1
	out="$("$V/bin/python" -c "$smoke")" || return 1
	"$PY" - "$out" "$V" <<'EOF'
import json, os, sys
r = json.loads(sys.argv[1])
venv = os.path.realpath(sys.argv[2])
errs = []
if r["version"] != "2.11.0+cu130" or r["cuda"] != "13.0":
    errs.append("version %s cuda %s" % (r["version"], r["cuda"]))
if r["sum"] != 4.0 or r["mm"] != [[19.0, 22.0], [43.0, 50.0]]:
    errs.append("sum %s mm %s" % (r["sum"], r["mm"]))
if not r["info"] or not r["info"]["ok"] or r["info"]["cudart"] != 13000 or not r["info"]["cudnn"] // 10000 == 9:
    errs.append("cuda info %s" % r["info"])
need = ["libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9", "libnccl.so.2",
        "libnvrtc.so.13", "libnvJitLink.so.13", "libcufft.so.12", "libcurand.so.10", "libcusolver.so.12",
        "libcusparse.so.12", "libcupti.so.13"]
where = {"libcudnn.so.9": "nvidia/cudnn/lib", "libnccl.so.2": "nvidia/nccl/lib"}
for lib in need:
    p = r["libs"].get(lib)
    want = os.path.join(r["site"], where.get(lib, "nvidia/cu13/lib"), lib)
    if p is None:
        errs.append("%s not loaded" % lib)
    elif os.path.realpath(p) != want or not p.startswith(venv):
        errs.append("%s from %s, want %s" % (lib, p, want))
for lib, p in r["libs"].items():
    if not os.path.realpath(p).startswith(venv):
        errs.append("%s loaded from outside the venv: %s" % (lib, p))
if errs:
    print("\n".join(errs))
    print(json.dumps(r, indent=1))
    sys.exit(1)
print("torch %s (CUDA %s): %d CUDA libraries from %s; cudart %d, cuBLAS %s, cuDNN %d, NCCL %d; devices: %d (%s)" % (
    r["version"], r["cuda"], len(r["libs"]), os.path.join(r["site"], "nvidia"), r["info"]["cudart"],
    r["info"]["cublas"], r["info"]["cudnn"], r["info"]["nccl"], r["info"]["device_count"], r["info"]["device_error"]))
EOF
}
check "index: pip --require-hashes --no-deps torch 2.11.0+cu130 + nvidia wheels; import torch maps the venv's CUDA libs" pip_cu130
rm -rf "$V"

pip_cpu() {
	local V="$IT_TMP/venv-cpu" out
	echo "torch==2.11.0+cpu" >"$IT_TMP/spec-cpu"
	venv_install "$V" whl/cpu "$IT_TMP/spec-cpu" || return 1
	out="$("$V/bin/python" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_built(), torch.ones(3).sum().item(), sorted(torch.cuda.libraries()))')" || return 1
	[ "$out" = "2.11.0+cpu None False 3.0 []" ] || { echo "got: $out"; return 1; }
	echo "$out"
}
check "index: pip torch 2.11.0+cpu: imports, no CUDA" pip_cpu

# pip as the reference resolver over the default index: newest match, yanked skipped,
# pre-release skipped, Requires-Python honoured, extras, no wheel for an sdist-only project.
pip_resolve() {
	local V="$IT_TMP/venv-resolve" out
	"$PY" -m venv "$V" || return 1
	pipi() { "$V/bin/pip" install -q --disable-pip-version-check --no-cache-dir --index-url "$BASE/simple" "$@"; }
	pipi --only-binary :all: 'gsfx-utils[fmt]' || return 1
	out="$("$V/bin/pip" list --disable-pip-version-check --format=freeze | grep '^gsfx' | tr '\n' ' ')"
	[ "$out" = "gsfx-core==1.2.0 gsfx-fmt==0.1.0 gsfx-utils==1.1.0 " ] || { echo "resolved: $out"; return 1; }
	if pipi --only-binary :all: gsfx-srconly 2>"$V.err"; then echo "gsfx-srconly installed as a wheel"; return 1; fi
	grep -q 'No matching distribution' "$V.err" || { cat "$V.err"; return 1; }
	pipi --no-deps 'gsfx-core==1.3.0' 2>"$V.err" || { cat "$V.err"; return 1; }  # pinned: a yanked file is allowed
	grep -qi 'yanked' "$V.err" || { echo "pip did not warn about the yanked 1.3.0:"; cat "$V.err"; return 1; }
	echo "pip resolved: $out; gsfx-srconly: no wheel; gsfx-core==1.3.0: installed with pip's yanked warning"
}
check "index: pip resolves gsfx-utils[fmt] (yanked, pre-release, Requires-Python), no wheel for gsfx-srconly" pip_resolve

wrong_hash() {
	local V="$IT_TMP/venv-hash"
	"$PY" -m venv "$V" || return 1
	echo "gsfx-core==1.2.0 --hash=sha256:$(printf '0%.0s' $(seq 64))" >"$V.req"
	if "$V/bin/pip" install -q --disable-pip-version-check --no-cache-dir --no-deps --require-hashes \
		--index-url "$BASE/simple" -r "$V.req" 2>"$V.err"; then
		echo "pip installed gsfx-core with a wrong hash"; return 1
	fi
	grep -q 'DO NOT MATCH THE HASHES' "$V.err" || { cat "$V.err"; return 1; }
}
check "index: a wrong --hash is refused by pip" wrong_hash

it_done
