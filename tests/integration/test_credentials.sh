#!/usr/bin/env bash
# Registry credentials from Docker credential helpers, against the htpasswd registry
# (scripts/infra: 127.0.0.1:5001): `credHelpers` and `credsStore` in $DOCKER_CONFIG run
# tests/fake/docker-credential-test, whose store holds the secret; `gpuslim inspect` reads
# an image pushed there. Refused, missing and failing helpers are clear errors, and the
# secrets appear in no output or report. Then a package index that needs credentials
# (scripts/infra/pyindex.py --auth): resolved with them, and a real build's pip gets them
# only as the BuildKit secret gpuslim-netrc.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

it_require_infra "credentials: credHelpers" "credentials: credsStore" "credentials: refused" \
	"credentials: a missing helper" "credentials: a failing helper" "credentials: no secret shown" \
	"credentials: an index that needs them"

reg=$GPUSLIM_REGISTRY_AUTH
ref="$reg/gs-creds-$$/img:t1" # no "gpuslim-test" in it: that is the registry's password
planted="planted-Secret-$$-9c1e"
export PATH="$ROOT/tests/fake:$PATH" FAKE_CRED_STORE="$IT_TMP/store" FAKE_CRED_LOG="$IT_TMP/asked"
mkdir -p "$IT_TMP/login" "$IT_TMP/dc" "$IT_TMP/out"

# A one-file image pushed to the auth registry with a `docker login` of its own.
printf 'credentials test\n' >"$IT_TMP/hello"
tar --mtime=2020-01-01 -C "$IT_TMP" -cf "$IT_TMP/img.tar" hello
IT_IMAGES+=("$ref") # removed at exit even when the push fails
if ! { "$DOCKER" import "$IT_TMP/img.tar" "$ref" &&
	printf '%s' "$GPUSLIM_REGISTRY_PASSWORD" | "$DOCKER" --config "$IT_TMP/login" login \
		-u "$GPUSLIM_REGISTRY_USER" --password-stdin "$reg" &&
	"$DOCKER" --config "$IT_TMP/login" push "$ref"; } >"$IT_TMP/push.log" 2>&1; then
	notok "credentials: cannot push $ref" "$(cat "$IT_TMP/push.log")"
	it_done
fi

# inspect_with NAME CONFIG STORE: gpuslim inspect of $ref with this config.json and this
# store of the fake helper; output in out/NAME, exit code in $rc.
inspect_with() {
	printf '%s\n' "$2" >"$IT_TMP/dc/config.json"
	printf '%s\n' "$3" >"$FAKE_CRED_STORE"
	rm -f "$FAKE_CRED_LOG"
	DOCKER_CONFIG="$IT_TMP/dc" "$GPUSLIM" inspect "$ref" --source registry --json \
		>"$IT_TMP/out/$1" 2>&1
	rc=$?
}
good="$reg $GPUSLIM_REGISTRY_USER $GPUSLIM_REGISTRY_PASSWORD"

inspect_with helpers "{\"credsStore\":\"nosuch\",\"credHelpers\":{\"$reg\":\"test\"}}" "$good"
if [ "$rc" -eq 0 ] && [ "$(cat "$FAKE_CRED_LOG")" = "$reg" ]; then
	ok "credentials: credHelpers for $reg runs docker-credential-test (asked once, for '$reg')"
else
	notok "credentials: credHelpers: exit $rc, asked '$(cat "$FAKE_CRED_LOG" 2>/dev/null)'" \
		"$(cat "$IT_TMP/out/helpers")"
fi
inspect_with store '{"credsStore":"test"}' "$good"
if [ "$rc" -eq 0 ]; then ok "credentials: credsStore"
else notok "credentials: credsStore: exit $rc" "$(cat "$IT_TMP/out/store")"; fi

inspect_with refused '{"credsStore":"test"}' "$reg $GPUSLIM_REGISTRY_USER $planted"
case "$rc:$(cat "$IT_TMP/out/refused")" in
2:*"refused the credentials for user '$GPUSLIM_REGISTRY_USER' (from docker-credential-test)"*)
	ok "credentials: refused ones are exit 2, naming the user and the helper" ;;
*) notok "credentials: refused: exit $rc" "$(cat "$IT_TMP/out/refused")" ;;
esac
inspect_with missing '{"credsStore":"nosuch"}' "$good"
case "$rc:$(cat "$IT_TMP/out/missing")" in
3:*"the credential helper 'docker-credential-nosuch' that '$IT_TMP/dc/config.json' names is not on PATH"*)
	ok "credentials: a missing helper is exit 3, named" ;;
*) notok "credentials: a missing helper: exit $rc" "$(cat "$IT_TMP/out/missing")" ;;
esac
FAKE_CRED_MODE=garbage inspect_with garbage '{"credsStore":"test"}' "$reg gpuslim $planted"
case "$rc:$(cat "$IT_TMP/out/garbage")" in
3:*"'docker-credential-test' answered no Username and Secret"*)
	ok "credentials: a helper answering nonsense is exit 3, named" ;;
*) notok "credentials: a helper answering nonsense: exit $rc" "$(cat "$IT_TMP/out/garbage")" ;;
esac

# --- A package index that needs credentials: a second scripts/infra/pyindex.py on a free
# port with --auth, planted in pip.index_url. gpuslim resolves with them, and a real build
# (--network host) gets them only as the BuildKit secret gpuslim-netrc, which pip reads as
# /root/.netrc: the image installs the wheels, and the secret is in no file, layer, log,
# report or history.
PY=/usr/bin/python3
idx_secret="idx-Planted-$$-7f3a"
idx_port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" "$ROOT/scripts/infra/pyindex.py" serve --dir "$GPUSLIM_INDEX_DIR" --port "$idx_port" \
	--auth "h9user:$idx_secret" --log "$IT_TMP/idx.log" --pidfile "$IT_TMP/idx.pid" &
idx_pid=$!
trap 'kill "$idx_pid" 2>/dev/null; wait "$idx_pid" 2>/dev/null; it_cleanup' EXIT
it_wait_file "$IT_TMP/idx.pid" "$idx_pid"
mkdir -p "$IT_TMP/app" "$IT_TMP/build-out"
cat >"$IT_TMP/app/gpuslim.yaml" <<EOF
name: creds-index
image: gs-creds-$$/pip
base: {os: debian12, registry: "$GPUSLIM_REGISTRY", repository: gpuslim-fixtures/cuda}
cuda: "13.0"
python: "3.11"
python_packages: ["gsfx-utils"]
pip:
  index_url: "http://h9user:$idx_secret@127.0.0.1:$idx_port/simple"
app:
  cmd: ["python", "-c", "import gsfx_utils, gsfx_core; print('creds-index:', gsfx_core.__name__)"]
output: {cache: none, network: host}
EOF
sed -e "s/h9user:$idx_secret@//" "$IT_TMP/app/gpuslim.yaml" >"$IT_TMP/app/noauth.yaml"
"$GPUSLIM" plan "$IT_TMP/app/noauth.yaml" --resolve >"$IT_TMP/out/idx-noauth" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "refused access (401)" "$IT_TMP/out/idx-noauth" &&
	ok "credentials: the index refuses a plan without them (exit $rc)" ||
	notok "credentials: the index without credentials: exit $rc" "$(cat "$IT_TMP/out/idx-noauth")"
IT_IMAGES+=("gs-creds-$$/pip:latest")
"$GPUSLIM" build "$IT_TMP/app/gpuslim.yaml" -o "$IT_TMP/build-out" --no-gate --progress plain \
	--json "$IT_TMP/out/idx-report.json" >"$IT_TMP/out/idx-build" 2>&1
rc=$?
run=$("$DOCKER" run --rm "gs-creds-$$/pip:latest" 2>&1)
if [ "$rc" -eq 0 ] && [ "$run" = "creds-index: gsfx_core" ]; then
	ok "credentials: a real build installs the wheels from the index that needs them (pip with the netrc secret)"
else
	notok "credentials: build from an index with credentials: exit $rc, run '$run'" "$(tail -n 40 "$IT_TMP/out/idx-build")"
fi
if [ "$rc" -eq 0 ]; then
	netrc_in_image=$("$DOCKER" run --rm --entrypoint /bin/sh "gs-creds-$$/pip:latest" -c 'cat /root/.netrc 2>&1; true')
	"$DOCKER" history --no-trunc "gs-creds-$$/pip:latest" >"$IT_TMP/out/idx-history" 2>&1
	"$DOCKER" image inspect "gs-creds-$$/pip:latest" >"$IT_TMP/out/idx-inspect" 2>&1
	"$DOCKER" save "gs-creds-$$/pip:latest" -o "$IT_TMP/idx-image.tar"
	if ! grep -qF "$idx_secret" "$IT_TMP/idx-image.tar" && ! printf '%s' "$netrc_in_image" | grep -qF "$idx_secret"; then
		ok "credentials: no layer of the image holds the index's secret (no /root/.netrc left)"
	else
		notok "credentials: the index's secret is in the image" "$netrc_in_image"
	fi
	rm -f "$IT_TMP/idx-image.tar"
fi
cp -r "$IT_TMP/build-out" "$IT_TMP/out/build-out" 2>/dev/null
if grep -rlF -e "$idx_secret" "$IT_TMP/out" >"$IT_TMP/leaks"; then
	notok "credentials: the index's secret is in" "$(cat "$IT_TMP/leaks")"
else
	ok "credentials: the index's secret is in no Dockerfile, log, report, history or error"
fi
[ -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'gpuslim-netrc-*' -newer "$IT_TMP/app/gpuslim.yaml" 2>/dev/null)" ] &&
	ok "credentials: the build's netrc is removed" ||
	notok "credentials: a netrc is left" "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'gpuslim-netrc-*')"

if grep -rlF -e "$planted" -e "$GPUSLIM_REGISTRY_PASSWORD" "$IT_TMP/out" >"$IT_TMP/leaks"; then
	notok "credentials: a secret is in the output of" "$(cat "$IT_TMP/leaks")"
else
	ok "credentials: no secret in any output or report"
fi
it_done
