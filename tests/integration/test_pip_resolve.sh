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

# start_fake SCRIPT ARG DIR [MORE...]: run a fake on a free port; FAKE_ADDR="127.0.0.1:PORT"
# once it listens (the fake writes its port file after binding). Not in a subshell: pids
# must stay.
start_fake() {
	"$PY" "$ROOT/tests/fake/$1" "$2" "$3/port" "${@:4}" >"$3/log" 2>&1 &
	pids+=($!)
	FAKE_ADDR=
	it_wait_file "$3/port" "${pids[-1]}" || return 1
	FAKE_ADDR="127.0.0.1:$(cat "$3/port")"
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

# recipe FILE PACKAGES [INDEX_URL [FRAMEWORK_INDEX_URL]]: the test's recipe.
recipe() {
	local fw="http://$INDEX/whl/{variant}"
	[ -n "${4:-}" ] && fw=$4
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
  framework_index_url: $fw
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

# --- credentials that the index needs (basic auth: a second fixture index that answers
# 401 without them), planted in both pip.index_url and pip.framework_index_url: the
# resolver asks with them, pip in the build gets them as a BuildKit secret (a netrc),
# and they show in no plan, generated file, lock, log, report or error.
secret=pl4nted-Auth-s3cret-$$
mkdir -p "$D/auth"
if ! start_fake pyindex_fixture.py "$D/spec.json" "$D/auth" "gsuser:$secret"; then
	notok "pip-resolve: the auth index starts" "$(cat "$D/auth/log")"
	it_done
fi
AUTH=$FAKE_ADDR
recipe "$D/auth.yaml" '["gsfx-a>=1", "torch"]' "http://gsuser:$secret@$AUTH/simple" \
	"http://gsuser:$secret@$AUTH/whl/{variant}"
recipe "$D/noauth.yaml" '["gsfx-a>=1", "torch"]' "http://$AUTH/simple" "http://$AUTH/whl/{variant}"
"$GPUSLIM" plan "$D/noauth.yaml" --resolve --json >"$D/noauth.out" 2>"$D/noauth.err"
rc=$?
[ "$rc" -ne 0 ] && grep -q " 401$" "$D/auth/requests.log" &&
	ok "pip-resolve: the auth index refuses a plan without credentials (exit $rc)" ||
	notok "pip-resolve: the auth index without credentials (exit $rc)" "$(cat "$D/noauth.err")"
: >"$D/auth/requests.log"
"$GPUSLIM" plan "$D/auth.yaml" --resolve --json >"$D/auth.json" 2>"$D/auth.err"
rc=$?
got=$("$PY" -c '
import json, sys
p = json.load(open(sys.argv[1]))
c = p["cells"][0]
print(" ".join("%s==%s@%s" % (w["name"], w["version"], w["index_url"].split("/", 3)[3]) for w in c["pip"]["wheels"]))
print(c["frameworks"][0]["index_url"], " ".join(c["pip"]["extra_index_urls"]))
' "$D/auth.json" 2>&1)
want="torch==2.11.0+cu130@whl/cu130 nvidia-cublas==13.0.0.19@whl/cu130 gsfx-a==1.2@simple filelock==3.0@simple gsfx-b==1.0@simple
http://$AUTH/whl/cu130 http://$AUTH/whl/cu130"
if [ "$rc" -eq 0 ] && [ "$got" = "$want" ] && [ -s "$D/auth/requests.log" ] &&
	! grep -q " 401$" "$D/auth/requests.log"; then
	ok "pip-resolve: with credentials in both index URLs, every wheel resolves (no request refused)"
else
	notok "pip-resolve: resolution with credentials (exit $rc)" "$(printf 'got:\n%s\nwant:\n%s\n' "$got" "$want"; cat "$D/auth.err" "$D/auth/requests.log")"
fi
"$GPUSLIM" generate "$D/auth.yaml" --resolve -o "$D/auth-gen" >"$D/auth-gen.out" 2>"$D/auth-gen.err"
rc=$?
df=$(find "$D/auth-gen" -name 'Dockerfile*' ! -name '*.dockerignore' | head -n 1)
mounts=$(grep -c -- '--mount=type=secret,id=gpuslim-netrc,target=/root/.netrc,required=false' "$df" 2>/dev/null)
if [ "$rc" -eq 0 ] && [ "${mounts:-0}" -eq 2 ] && grep -q -- "--index-url 'http://$AUTH/whl/cu130'" "$df"; then
	ok "pip-resolve: both pip runs mount the netrc secret; the Dockerfile's index URLs carry no credentials"
else
	notok "pip-resolve: the Dockerfile with credentials (exit $rc, ${mounts:-0} mounts)" "$(cat "$D/auth-gen.err"; grep -n -B1 -A4 'RUN --mount' "$df")"
fi
"$GPUSLIM" lock "$D/auth.yaml" -o "$D/auth.lock" >"$D/auth-lock.out" 2>"$D/auth-lock.err"
rc=$?
"$GPUSLIM" lock --check "$D/auth.yaml" -o "$D/auth.lock" >>"$D/auth-lock.out" 2>>"$D/auth-lock.err"
rc2=$?
[ "$rc" -eq 0 ] && [ "$rc2" -eq 0 ] && grep -q '"sha256"' "$D/auth.lock" &&
	ok "pip-resolve: lock with credentials, and lock --check on it" ||
	notok "pip-resolve: lock with credentials (exit $rc, $rc2)" "$(cat "$D/auth-lock.err")"
recipe "$D/auth-bad.yaml" '["gsfx-b>=9"]' "http://gsuser:$secret@$AUTH/simple" \
	"http://gsuser:$secret@$AUTH/whl/{variant}"
"$GPUSLIM" plan "$D/auth-bad.yaml" --resolve >"$D/auth-bad.out" 2>"$D/auth-bad.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "no version matches; http://$AUTH/simple has gsfx-b" "$D/auth-bad.err" &&
	ok "pip-resolve: an unsatisfiable requirement with credentials: exit 2, the index named without them" ||
	notok "pip-resolve: unsatisfiable with credentials (exit $rc)" "$(cat "$D/auth-bad.err")"
recipe "$D/auth-wrong.yaml" '["gsfx-a"]' "http://gsuser:wrong-$secret@$AUTH/simple"
"$GPUSLIM" plan "$D/auth-wrong.yaml" --resolve >"$D/auth-wrong.out" 2>"$D/auth-wrong.err"
rc=$?
[ "$rc" -ne 0 ] && grep -q "$AUTH" "$D/auth-wrong.err" &&
	ok "pip-resolve: a wrong password: exit $rc, the index named" ||
	notok "pip-resolve: a wrong password (exit $rc)" "$(cat "$D/auth-wrong.err")"
# build: a fake docker that keeps a copy of the secret file it is given, and where it was.
cat >"$D/docker-sec" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$D/docker-sec.log"
for a in "\$@"; do
	case "\$a" in
	id=gpuslim-netrc,src=*)
		f=\${a#id=gpuslim-netrc,src=}
		/bin/cp "\$f" "$D/netrc.seen"
		/usr/bin/stat -c %a "\$f" >"$D/netrc.mode"
		/usr/bin/stat -c %a "\$(/usr/bin/dirname "\$f")" >"$D/netrc.dirmode"
		echo "\$f" >"$D/netrc.path" ;;
	esac
done
exec "$ROOT/tests/fake/docker-builds" "\$@"
EOF
chmod +x "$D/docker-sec"
FAKE_BUILD_STATE="$D/sec-state" "$GPUSLIM" build "$D/auth.yaml" --no-gate --docker "$D/docker-sec" \
	-o "$D/auth-build" --json "$D/auth-report.json" >"$D/auth-build.out" 2>"$D/auth-build.err"
rc=$?
netrc_path=$(cat "$D/netrc.path" 2>/dev/null)
if [ "$rc" -eq 0 ] && grep -q -- "--secret id=gpuslim-netrc,src=" "$D/docker-sec.log" &&
	[ "$(cat "$D/netrc.seen" 2>/dev/null)" = "machine 127.0.0.1 login gsuser password $secret" ] &&
	[ "$(cat "$D/netrc.mode")" = 600 ] && [ "$(cat "$D/netrc.dirmode")" = 700 ] &&
	[ -n "$netrc_path" ] && [ ! -e "$netrc_path" ] && [ ! -e "$(dirname "$netrc_path")" ]; then
	ok "pip-resolve: build passes a 0600 netrc as the secret gpuslim-netrc, removed after the build"
else
	notok "pip-resolve: build with credentials (exit $rc)" "$(cat "$D/auth-build.err" "$D/docker-sec.log" "$D/netrc.seen" "$D/netrc.mode" 2>&1; ls -la "$netrc_path" 2>&1)"
fi
leaks=$(grep -rl -- "$secret" "$D/auth.json" "$D/auth.err" "$D/noauth.err" "$D/auth-gen" "$D/auth-gen.out" \
	"$D/auth-gen.err" "$D/auth.lock" "$D/auth-lock.out" "$D/auth-lock.err" "$D/auth-bad.out" \
	"$D/auth-bad.err" "$D/auth-wrong.out" "$D/auth-wrong.err" "$D/auth-build" "$D/auth-build.out" \
	"$D/auth-build.err" "$D/auth-report.json" "$D/docker-sec.log" 2>&1)
[ -z "$leaks" ] && ok "pip-resolve: the planted credential is in no plan, generated file, lock, log, report or error" ||
	notok "pip-resolve: the credential leaked" "$(grep -rn -- "$secret" $leaks 2>&1 | head -20)"

# --- yanked (PEP 592): an == pin of a yanked version is taken with a warning naming the
# package and the reason, and the plan says so.
recipe "$D/yanked.yaml" '["gsfx-b==2.0"]'
"$GPUSLIM" plan "$D/yanked.yaml" --resolve --json >"$D/yanked.json" 2>"$D/yanked.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -qF "warning: cell 'pip-resolve': gsfx-b 2.0 is yanked (broken): taken only because it is pinned (PEP 592)" "$D/yanked.err" &&
	[ "$("$PY" -c 'import json, sys; print([w.get("yanked") for w in json.load(open(sys.argv[1]))["cells"][0]["pip"]["wheels"] if w["name"] == "gsfx-b"][0])' "$D/yanked.json")" = broken ]; then
	ok "pip-resolve: a yanked version pinned with == is taken, with a warning and \"yanked\" in the plan"
else
	notok "pip-resolve: yanked == pin (exit $rc)" "$(cat "$D/yanked.err")"
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
