#!/usr/bin/env bash
# Registry credentials from Docker credential helpers, against the htpasswd registry
# (scripts/infra: 127.0.0.1:5001): `credHelpers` and `credsStore` in $DOCKER_CONFIG run
# tests/fake/docker-credential-test, whose store holds the secret; `gpuslim inspect` reads
# an image pushed there. Refused, missing and failing helpers are clear errors, and the
# secrets appear in no output or report.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

it_require_infra "credentials: credHelpers" "credentials: credsStore" "credentials: refused" \
	"credentials: a missing helper" "credentials: a failing helper" "credentials: no secret shown"

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

if grep -rlF -e "$planted" -e "$GPUSLIM_REGISTRY_PASSWORD" "$IT_TMP/out" >"$IT_TMP/leaks"; then
	notok "credentials: a secret is in the output of" "$(cat "$IT_TMP/leaks")"
else
	ok "credentials: no secret in any output or report"
fi
it_done
