#!/usr/bin/env bash
# The analyzer on real images built FROM the fixtures (scripts/infra), through the CLI:
# CUDA libraries twice (duplicate-library with the exact bytes of the copy, and a per-path
# budget at its edge), a library whose DT_NEEDED was removed (missing-library, gate exit 1),
# a venv whose python link dangles (dangling-interpreter; a dangling doc link is not one;
# saved as an archive, its base found from its label in one pass), and hostile archives (a layer escaping the root, truncated archives: exit 2, nothing
# written). Every report validates against schemas/report.schema.json.
. "$(dirname "$0")/lib.sh"

it_require_infra "analyze: duplicate CUDA library" "analyze: missing library" \
	"analyze: dangling interpreter" "analyze: hostile archives"

RUNTIME=$GPUSLIM_FIXTURE_CUDA_RUNTIME
BASE=$GPUSLIM_FIXTURE_CUDA_BASE
# Per process: other checkouts share the engine.
TAG=gpuslim-it/analyze
SITE=/opt/venv/lib/python3.11/site-packages
cd "$ROOT" || exit 1

# build NAME FROM <<DOCKERFILE-BODY: lib.sh's it_build, its tag in $img.
build() { it_build analyze "$@"; }
# inspect IMAGE: its --json report in $IT_TMP/$2.json, exit in $rc.
inspect() {
	"$GPUSLIM" inspect "$1" --json >"$IT_TMP/$2.json" 2>"$IT_TMP/$2.err"
	rc=$?
}
# py REPORT CODE: run python with the report as `r`; exit 0 when CODE holds.
py() {
	local report=$1
	shift
	/usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
'"$1" "$report" "${@:2}"
}
# schema REPORT WHAT: the report validates against schemas/report.schema.json.
schema() {
	local out
	if ! /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
		skip "analyze: $2 report against the schema (no python3-jsonschema)"
		return
	fi
	if out=$(/usr/bin/python3 -c 'import json, sys, jsonschema
s = json.load(open("schemas/report.schema.json"))
r = json.load(open(sys.argv[1]))
errs = sorted(jsonschema.Draft202012Validator(s).iter_errors(r), key=lambda e: list(e.path))
for e in errs[:5]: print("/".join(map(str, e.path)), e.message[:200])
sys.exit(1 if errs else 0)' "$1" 2>&1); then
		ok "analyze: $2 report validates against schemas/report.schema.json"
	else
		notok "analyze: $2 report against the schema" "$out"
	fi
}
# A recipe for `gpuslim gate` on these images, with a per-path budget.
recipe() {
	mkdir -p "$IT_TMP/recipe"
	cat >"$IT_TMP/recipe/gpuslim.yaml" <<EOF
name: it-analyze
image: $TAG
base:
  os: debian12
  registry: $GPUSLIM_REGISTRY
  repository: gpuslim-fixtures/cuda
cuda: "13.0"
budgets:
  paths:
    site-packages/nvidia: $1
EOF
}
gate() {
	"$GPUSLIM" gate "$@" >"$IT_TMP/gate.out" 2>"$IT_TMP/gate.err"
	rc=$?
}

# --- (a) CUDA twice: the fixture's real libcublas copied into a pip-style directory.
if build dup "$RUNTIME" <<EOF
RUN set -e; m=\${CUDA_VERSION%%.*}; mkdir -p $SITE/nvidia/cublas/lib; \\
    cp "\$(readlink -f /usr/local/cuda/lib64/libcublas.so.\$m)" $SITE/nvidia/cublas/lib/libcublas.so.\$m
EOF
then
	# The real file that was copied (not the soname link), and its exact size.
	read -r real copy < <("$DOCKER" run --rm --network none --entrypoint sh "$img" -c \
		'f=$(readlink -f /usr/local/cuda/lib64/libcublas.so.${CUDA_VERSION%%.*}); echo "$f $(stat -c %s "$f")"')
	inspect "$img" dup
	if [ "$rc" -eq 0 ] && [ -n "$copy" ] && py "$IT_TMP/dup.json" '
copy, real, site = int(sys.argv[2]), sys.argv[3], sys.argv[4]
d = [d for d in r["cuda"]["duplicates"] if d["soname"].startswith("libcublas.so.")]
f = [f for f in r["findings"] if f["rule"] == "duplicate-library"]
ok = (len(d) == 1 and d[0]["bytes"] == copy and real in d[0]["paths"]
      and any(p.startswith(site + "/nvidia/cublas/lib/") for p in d[0]["paths"])
      and len(f) == 1 and f[0]["bytes"] == copy and f[0]["severity"] == "error")
if not ok: print(d, f)
sys.exit(0 if ok else 1)' "$copy" "$real" "$SITE" >"$IT_TMP/py.out" 2>&1; then
		ok "analyze: libcublas twice: duplicate-library of exactly $copy bytes ($real and the venv copy)"
	else
		notok "analyze: duplicate libcublas (copy $copy bytes, rc $rc)" \
			"$(cat "$IT_TMP/py.out" "$IT_TMP/dup.err")"
	fi
	schema "$IT_TMP/dup.json" "duplicate-library"
	# The per-path budget measures the copy: at its size it passes, one byte under fails.
	for limit in "$copy" "$((copy - 1))"; do
		recipe "$limit"
		gate "$img" --recipe "$IT_TMP/recipe/gpuslim.yaml" --no-smoke
		want=pass
		[ "$limit" = "$copy" ] || want=FAIL
		if grep -qE "^  $want  budget  paths site-packages/nvidia .*\($copy bytes\)" "$IT_TMP/gate.out"; then
			ok "analyze: paths site-packages/nvidia budget $limit: $want ($copy bytes measured)"
		else
			notok "analyze: paths budget $limit, want $want" "$(cat "$IT_TMP/gate.out" "$IT_TMP/gate.err")"
		fi
	done
	if [ "$rc" -eq 1 ] && grep -qE '^  FAIL  rule +duplicate-library ' "$IT_TMP/gate.out"; then
		ok "analyze: gate fails duplicate-library (exit 1)"
	else
		notok "analyze: gate on the duplicate: exit $rc, want 1" "$(cat "$IT_TMP/gate.out" "$IT_TMP/gate.err")"
	fi
fi

# --- (b) libnvJitLink removed: libcusparse still needs it.
if build missing "$RUNTIME" <<'EOF'
RUN set -e; m=${CUDA_VERSION%%.*}; l=/usr/local/cuda/lib64/libnvJitLink.so.$m; \
    rm "$(readlink -f $l)" $l
EOF
then
	inspect "$img" missing
	if [ "$rc" -eq 0 ] && py "$IT_TMP/missing.json" '
m = [m for m in r["closure"]["missing"]
     if m["needed"].startswith("libnvJitLink.so.") and "/libcusparse.so." in m["file"]]
f = [f for f in r["findings"] if f["rule"] == "missing-library"
     and "libnvJitLink.so." in f["message"] and "/libcusparse.so." in f["message"]]
if not (m and f): print(r["closure"]["missing"], [f for f in r["findings"] if f["rule"] == "missing-library"])
else: print(f[0]["message"])
sys.exit(0 if m and f else 1)' >"$IT_TMP/py.out" 2>&1; then
		ok "analyze: missing-library: $(cat "$IT_TMP/py.out")"
	else
		notok "analyze: missing libnvJitLink (rc $rc)" "$(cat "$IT_TMP/py.out" "$IT_TMP/missing.err")"
	fi
	schema "$IT_TMP/missing.json" "missing-library"
	recipe 1GB
	gate "$img" --recipe "$IT_TMP/recipe/gpuslim.yaml" --no-smoke
	if [ "$rc" -eq 1 ] && grep -qE "^  FAIL  rule +missing-library .*libnvJitLink\.so\." "$IT_TMP/gate.out"; then
		ok "analyze: gate fails missing-library (exit 1)"
	else
		notok "analyze: gate on the missing library: exit $rc, want 1" \
			"$(cat "$IT_TMP/gate.out" "$IT_TMP/gate.err")"
	fi
fi

# --- (c) a venv whose python points to an interpreter the image lacks; a doc link of
# Debian's (dangling once docs are pruned) is no interpreter.
if build venv "$BASE" <<EOF
LABEL org.opencontainers.image.base.name=$BASE
RUN set -e; test ! -e /usr/bin/python3.11; mkdir -p /opt/venv/bin /usr/share/doc/python3.11; \
    ln -s /usr/bin/python3.11 /opt/venv/bin/python; ln -s python /opt/venv/bin/python3; \
    ln -s ../python3/python-policy.txt.gz /usr/share/doc/python3.11/python-policy.txt.gz
EOF
then
	inspect "$img" venv
	if [ "$rc" -eq 0 ] && py "$IT_TMP/venv.json" '
d = {x["path"]: x["target"] for x in r["closure"]["dangling_interpreters"]}
f = [f for f in r["findings"] if f["rule"] == "dangling-interpreter"]
ok = (d.get("/opt/venv/bin/python") == "/usr/bin/python3.11" and "/opt/venv/bin/python3" in d
      and len(d) == 2 and any(x["path"] == "/opt/venv/bin/python" for x in f))
if not ok: print(d, f)
sys.exit(0 if ok else 1)' >"$IT_TMP/py.out" 2>&1; then
		ok "analyze: dangling-interpreter names /opt/venv/bin/python -> /usr/bin/python3.11, not the doc link"
	else
		notok "analyze: dangling venv python (rc $rc)" "$(cat "$IT_TMP/py.out" "$IT_TMP/venv.err")"
	fi
	schema "$IT_TMP/venv.json" "dangling-interpreter"
	# The same image as a docker-save archive: its config (and base label) comes last,
	# the base is resolved after the one pass over the layers.
	base_layers=$(py "$IT_TMP/venv.json" 'print(len(r["layers"]) - 1)')
	if "$DOCKER" save -o "$IT_TMP/venv.tar" "$img" && inspect "$IT_TMP/venv.tar" venv-archive &&
		[ "$rc" -eq 0 ] && py "$IT_TMP/venv-archive.json" '
b = r["summary"]["base"]
sys.exit(0 if b["matched_by"] == "label" and b["layers"] == int(sys.argv[2])
         and b["name"] == sys.argv[3] and r["image"]["source"] == "archive" else 1)' \
		"$base_layers" "$BASE"; then
		ok "analyze: a docker-save archive's base from its label: $base_layers layers, matched_by label"
	else
		notok "analyze: archive base by label (rc $rc)" \
			"$(head -c 1500 "$IT_TMP/venv-archive.json"; cat "$IT_TMP/venv-archive.err")"
	fi
	# Its layers hashed on threads (the default for a docker-save file) or inline: the
	# same report, byte for byte (diff_ids, findings, everything).
	if GPUSLIM_HASH_THREADS=0 "$GPUSLIM" inspect "$IT_TMP/venv.tar" --json >"$IT_TMP/inline.json" 2>&1 &&
		GPUSLIM_HASH_THREADS=3 "$GPUSLIM" inspect "$IT_TMP/venv.tar" --json >"$IT_TMP/threads.json" 2>&1 &&
		cmp -s "$IT_TMP/inline.json" "$IT_TMP/threads.json"; then
		ok "analyze: a docker-save archive hashed on 3 threads reports the same as hashed inline"
	else
		notok "analyze: hashed on threads vs inline" \
			"$(diff "$IT_TMP/inline.json" "$IT_TMP/threads.json" | head -n 20)"
	fi
fi

# --- (d) hostile archives through the CLI: exit 2, the exact message, nothing written.
mkdir -p "$IT_TMP/hostile" "$IT_TMP/w/a/b"
if ! /usr/bin/python3 tests/fake/image_tars.py hostile "$IT_TMP/hostile" >"$IT_TMP/py.out" 2>&1; then
	notok "analyze: tests/fake/image_tars.py hostile" "$(cat "$IT_TMP/py.out")"
	it_done
fi
layer=$(/usr/bin/python3 -c 'import hashlib; print(hashlib.sha256(b"v1 layer 0").hexdigest())')
passwd_before=$(stat -c '%Y %s' /etc/passwd; sha256sum </etc/passwd)
touch "$IT_TMP/marker"
sleep 1
tar=$IT_TMP/hostile/traversal.tar
(cd "$IT_TMP/w/a/b" && "$GPUSLIM" inspect "$tar" >"$IT_TMP/out" 2>"$IT_TMP/err")
rc=$?
want="gpuslim: image '$tar': layer '$layer/layer.tar': entry '../../etc/passwd' escapes the image root"
if [ "$rc" -eq 2 ] && [ "$(cat "$IT_TMP/err")" = "$want" ] && [ ! -s "$IT_TMP/out" ]; then
	ok "analyze: a layer with ../../etc/passwd is exit 2: $want"
else
	notok "analyze: traversal: exit $rc, want 2 and '$want'" "$(cat "$IT_TMP/out" "$IT_TMP/err")"
fi
written=$(find "$IT_TMP/w" "$IT_TMP/hostile" -newer "$IT_TMP/marker")
if [ "$(stat -c '%Y %s' /etc/passwd; sha256sum </etc/passwd)" = "$passwd_before" ] &&
	[ ! -e "$IT_TMP/w/etc" ] && [ -z "$written" ]; then
	ok "analyze: nothing written: /etc/passwd unchanged, no ../../etc under the working directory"
else
	notok "analyze: the traversal wrote something" "$written"
fi
for t in outer-truncated truncated; do
	tar=$IT_TMP/hostile/$t.tar
	(cd "$IT_TMP/w/a/b" && "$GPUSLIM" inspect "$tar" >"$IT_TMP/out" 2>"$IT_TMP/err")
	rc=$?
	if [ "$rc" -eq 2 ] && grep -qE "^gpuslim: image '$tar': .*truncated" "$IT_TMP/err"; then
		ok "analyze: $t archive is exit 2: $(cat "$IT_TMP/err")"
	else
		notok "analyze: $t archive: exit $rc, want 2 naming the truncation" \
			"$(cat "$IT_TMP/out" "$IT_TMP/err")"
	fi
done

it_done
