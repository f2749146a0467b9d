#!/usr/bin/env bash
# plan --resolve and generate --resolve pin every wheel, against a package index and a
# registry of this test's own (tests/fake/pyindex_fixture.py, tests/fake/registry_tags.py,
# each on a free port of 127.0.0.1; no engine): the framework and its CUDA wheels from the
# framework's index only (a torch 99.0 on the default index is never taken), the recipe's
# python_packages from the default index, each with its sha256; the Dockerfile installs
# exactly those with pip --require-hashes --no-deps, one --index-url per run and never
# --extra-index-url (tests/integration/expected/pip-resolve.Dockerfile, the ports replaced
# by @INDEX@ and @REGISTRY@, the recipe's sha256 by @RECIPE@; GPUSLIM_UPDATE_EXPECTED=1
# rewrites it). A requirement nothing satisfies is exit 2 naming the
# package, the cell and what the index has; an index that does not answer is exit 3; an
# index URL's credential is in no output.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

D=$IT_TMP/pip-resolve
rm -rf "$D"
mkdir -p "$D/index" "$D/registry"
PY=$(command -v python3)
pids=()
# The fakes end with the script, then lib.sh's cleanup runs.
# shellcheck disable=SC2317 # run by the EXIT trap
fakes_stop() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	it_cleanup
}
trap fakes_stop EXIT

# start_fake SCRIPT ARG DIR: run a fake on a free port; FAKE_ADDR="127.0.0.1:PORT" once it
# listens (the fake writes its port file after binding). Not in a subshell: pids must stay.
start_fake() {
	"$PY" "$ROOT/tests/fake/$1" "$2" "$3/port" >"$3/log" 2>&1 &
	pids+=($!)
	FAKE_ADDR=
	local _
	for _ in $(seq 1 500); do
		if [ -s "$3/port" ]; then
			FAKE_ADDR="127.0.0.1:$(cat "$3/port")"
			return 0
		fi
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.01
	done
	return 1
}

cat >"$D/spec.json" <<'EOF'
{
 "simple": {
  "gsfx-a": [{"version": "1.0", "tags": "py3-none-any", "requires_dist": ["gsfx-b>=1"]},
             {"version": "1.2", "tags": "py3-none-any", "requires_dist": ["gsfx-b>=1"]}],
  "gsfx-b": [{"version": "1.0", "tags": "py3-none-any"},
             {"version": "2.0", "tags": "py3-none-any", "yanked": "broken"}],
  "filelock": [{"version": "3.0", "tags": "py3-none-any"}],
  "torch": [{"version": "99.0", "tags": "py3-none-any"}]
 },
 "whl/cu130": {
  "torch": [{"version": "2.11.0+cu130", "tags": "cp311-cp311-manylinux_2_28_x86_64",
             "requires_dist": ["nvidia-cublas==13.0.0.19; platform_system == 'Linux'",
                               "filelock"]}],
  "nvidia-cublas": [{"version": "13.0.0.19", "tags": "py3-none-manylinux_2_27_x86_64"}]
 }
}
EOF
tags='"13.0.2-base-debian12", "13.0.2-runtime-debian12", "13.0.2-devel-debian12", "13.0.2-cudnn-runtime-debian12", "13.0.2-cudnn-devel-debian12"'
echo "{\"gpuslim-fixtures/cuda\": [$tags]}" >"$D/tags.json"

if ! start_fake pyindex_fixture.py "$D/spec.json" "$D/index"; then
	notok "pip-resolve: the fixture index starts" "$(cat "$D/index/log")"
	it_done
fi
INDEX=$FAKE_ADDR
if ! start_fake registry_tags.py "$D/tags.json" "$D/registry"; then
	notok "pip-resolve: the fake registry starts" "$(cat "$D/registry/log")"
	it_done
fi
REG=$FAKE_ADDR

# recipe FILE PACKAGES [INDEX_URL]: the test's recipe.
recipe() {
	cat >"$1" <<EOF
name: pip-resolve
base:
  os: debian12
  registry: $REG
  repository: gpuslim-fixtures/cuda
cuda: "13.0"
python: "3.11"
frameworks:
  torch: "2.11"
python_packages: $2
pip:
  index_url: ${3:-http://$INDEX/simple}
  framework_index_url: http://$INDEX/whl/{variant}
output:
  cache: none
  network: host
EOF
}

# --- plan --resolve --json: the wheels, framework first.
recipe "$D/ok.yaml" '["gsfx-a>=1", "torch"]'
"$GPUSLIM" plan "$D/ok.yaml" --resolve --json >"$D/plan.json" 2>"$D/plan.err"
rc=$?
got=$("$PY" -c '
import json, sys
p = json.load(open(sys.argv[1]))
for w in p["cells"][0]["pip"]["wheels"]:
    print(w["name"], w["version"], w["framework"], w["index_url"].split("/", 3)[3], w["required_by"], len(w["sha256"]))
' "$D/plan.json" 2>&1)
want="torch 2.11.0+cu130 True whl/cu130 frameworks 64
nvidia-cublas 13.0.0.19 True whl/cu130 torch 64
gsfx-a 1.2 False simple recipe 64
filelock 3.0 False simple torch 64
gsfx-b 1.0 False simple gsfx-a 64"
if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
	ok "pip-resolve: plan --resolve --json pins every wheel with its sha256, the framework's from its index"
else
	notok "pip-resolve: plan --resolve --json (exit $rc)" "$(printf 'got:\n%s\nwant:\n%s\n' "$got" "$want"; cat "$D/plan.err")"
fi
if [ "$rc" -eq 0 ] && ! grep -q '99\.0' "$D/plan.json"; then
	ok "pip-resolve: the default index's torch 99.0 is not taken (python_packages' torch keeps the framework's)"
else
	notok "pip-resolve: torch 99.0 in the plan" "$(grep -n '99\.0' "$D/plan.json")"
fi

# --- generate --resolve: the Dockerfile installs exactly the plan's wheels.
"$GPUSLIM" generate "$D/ok.yaml" --resolve -o "$D/out" >"$D/gen.out" 2>"$D/gen.err"
rc=$?
df="$D/out/Dockerfile"
[ -f "$df" ] || df=$(find "$D/out" -name 'Dockerfile*' ! -name '*.dockerignore' | head -n 1)
if [ "$rc" -eq 0 ] && [ -f "$df" ]; then
	# The recipe names the ports, so its sha256 is this run's too.
	sed -e "s/$INDEX/@INDEX@/g" -e "s/$REG/@REGISTRY@/g" \
		-e 's/sha256 [0-9a-f]\{64\}/sha256 @RECIPE@/' \
		-e 's/recipe.sha256"="[0-9a-f]\{64\}"/recipe.sha256"="@RECIPE@"/' "$df" >"$D/Dockerfile.got"
	[ -n "${GPUSLIM_UPDATE_EXPECTED:-}" ] && cp "$D/Dockerfile.got" "$ROOT/tests/integration/expected/pip-resolve.Dockerfile"
	if diff -u "$ROOT/tests/integration/expected/pip-resolve.Dockerfile" "$D/Dockerfile.got" >"$D/diff"; then
		ok "pip-resolve: generate --resolve writes pip --require-hashes --no-deps runs, one --index-url each"
	else
		notok "pip-resolve: the Dockerfile differs from tests/integration/expected/pip-resolve.Dockerfile" "$(cat "$D/diff")"
	fi
	if ! grep -q '^ *--extra-index-url' "$df" && [ "$(grep -c -- 'pip install --require-hashes --no-deps' "$df")" -eq 2 ]; then
		ok "pip-resolve: no --extra-index-url; two pip runs (framework index, default index)"
	else
		notok "pip-resolve: pip runs" "$(grep -n 'pip install' -A3 "$df")"
	fi
else
	notok "pip-resolve: generate --resolve (exit $rc)" "$(cat "$D/gen.err")"
fi

# --- a requirement nothing satisfies.
recipe "$D/bad.yaml" '["gsfx-b>=9"]'
"$GPUSLIM" plan "$D/bad.yaml" --resolve >"$D/bad.out" 2>"$D/bad.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "bad.yaml:10:19: python_packages\[0\]: cell 'pip-resolve': 'gsfx-b>=9': no version matches; http://$INDEX/simple has gsfx-b 2.0, 1.0" "$D/bad.err"; then
	ok "pip-resolve: an unsatisfiable requirement is exit 2, naming the package, the cell and what the index has"
else
	notok "pip-resolve: unsatisfiable requirement (exit $rc)" "$(cat "$D/bad.err")"
fi

# --- an index that does not answer: infrastructure, exit 3.
recipe "$D/down.yaml" '["gsfx-a"]' "http://127.0.0.1:9/simple"
"$GPUSLIM" plan "$D/down.yaml" --resolve >"$D/down.out" 2>"$D/down.err"
rc=$?
if [ "$rc" -eq 3 ] && grep -q "127.0.0.1:9" "$D/down.err"; then
	ok "pip-resolve: an index that does not answer is exit 3, naming it"
else
	notok "pip-resolve: index down (exit $rc)" "$(cat "$D/down.err")"
fi

# --- a credential in the index URL shows up nowhere.
recipe "$D/cred.yaml" '["gsfx-a", "gsfx-none"]' "http://gsuser:pl4nted-s3cret@$INDEX/simple"
"$GPUSLIM" plan "$D/cred.yaml" --resolve --json >"$D/cred.out" 2>"$D/cred.err"
rc=$?
recipe "$D/cred2.yaml" '["gsfx-a"]' "http://gsuser:pl4nted-s3cret@$INDEX/simple"
"$GPUSLIM" generate "$D/cred2.yaml" --resolve -o "$D/cred-out" >>"$D/cred.out" 2>>"$D/cred.err"
rc2=$?
if [ "$rc" -eq 2 ] && [ "$rc2" -eq 0 ] && ! grep -rq "pl4nted" "$D/cred.out" "$D/cred.err" "$D/cred-out"; then
	ok "pip-resolve: an index URL's credential is in no error, plan or Dockerfile"
else
	notok "pip-resolve: credential (exit $rc, $rc2)" "$(grep -rn "pl4nted" "$D/cred.out" "$D/cred.err" "$D/cred-out"; cat "$D/cred.err")"
fi

# --- offline: nothing asked, and the user is told the wheels are not pinned; the build's
# RUN steps get the recipe's output.network (a fake docker that logs its arguments).
cat >"$D/docker" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$D/docker.log"
exec "$ROOT/tests/fake/docker-builds" "\$@"
EOF
chmod +x "$D/docker"
FAKE_BUILD_STATE="$D/fake-state" "$GPUSLIM" build "$D/ok.yaml" --offline --no-gate --docker "$D/docker" \
	-o "$D/offline" >"$D/offline.out" 2>"$D/offline.err"
if grep -q "note: --offline: no wheel is pinned" "$D/offline.err"; then
	ok "pip-resolve: build --offline says the wheels are not pinned"
else
	notok "pip-resolve: build --offline note" "$(cat "$D/offline.err")"
fi
if grep -q "build.* --network host" "$D/docker.log"; then
	ok "pip-resolve: build runs docker build with the recipe's output.network (host)"
else
	notok "pip-resolve: --network host from output.network" "$(cat "$D/docker.log" "$D/offline.err")"
fi
if grep -q 'network *= "host"' "$D/out/docker-bake.hcl"; then
	ok "pip-resolve: the bake file carries output.network"
else
	notok "pip-resolve: bake network" "$(cat "$D/out/docker-bake.hcl")"
fi

it_done
