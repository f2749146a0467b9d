#!/usr/bin/env bash
# Registry faults, end to end: the real gpuslim binary (`inspect` reads a manifest, its
# config and its layer blob; `plan --resolve` lists tags and HEADs a manifest) against
# tests/fake/faultserver.py, which scripts 500s, 429s with Retry-After (seconds and HTTP
# dates), bodies cut short, resets, closes, answers that never come and wrong digests per
# path and logs every request with its time. Checked: each transient fault is retried and
# the command succeeds; Retry-After is waited at least as long as asked (a lower bound on a
# delay the test sets, never an upper one); a final failure says how many tries it made and
# the last answer, and the server saw exactly that many; a wrong digest and a blob cut
# after its first bytes are never retried; and a planted credential (a credential helper's
# secret, a config.json "auths" password, the registry's Bearer token) appears in no output,
# report or log. Needs python3 only: no engine, no registry of the machine's.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

SERVER="$ROOT/tests/fake/faultserver.py"
# The system's python starts in a tenth of the time a pyenv shim takes.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
OUT="$IT_TMP/out"
mkdir -p "$OUT" "$IT_TMP/dc" "$IT_TMP/recipe"
FS_PIDS=()
# shellcheck disable=SC2317 # the EXIT trap calls it
fs_cleanup() {
	local p
	for p in "${FS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${FS_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	it_cleanup
}
trap fs_cleanup EXIT

# The planted secrets: none may ever be printed, logged or reported.
SECRET_PW="h4-planted-Password-$$-71c"     # what the credential helper answers
SECRET_AUTHS="h4-planted-Auths-$$-2e9"     # a config.json "auths" entry (credHelpers wins)
SECRET_TOKEN="h4-planted-Bearer-$$-5ad"    # the registry's Bearer token
# No port in 5480-5489 is listened on by this test: 5489 is the refused one.
REFUSED=127.0.0.1:5489

# fs_start NAME ARGS...: start a fault server (its log: $IT_TMP/NAME.log); sets $port.
fs_start() {
	local name=$1
	shift
	rm -f "$IT_TMP/$name.port"
	"$PY" "$SERVER" --portfile "$IT_TMP/$name.port" --log "$IT_TMP/$name.log" "$@" \
		2>"$IT_TMP/$name.err" &
	FS_PIDS+=($!)
	it_wait_file "$IT_TMP/$name.port" "${FS_PIDS[-1]}"
	port=$(cat "$IT_TMP/$name.port" 2>/dev/null)
}
# fs_script NAME JSON: replace server NAME's script; forget its log and spent faults (the
# log so far is kept in $OUT/NAME.server.log, which the secret check reads too).
fs_script() {
	cat "$IT_TMP/$1.log" >>"$OUT/$1.server.log" 2>/dev/null
	: >"$IT_TMP/$1.log"
	"$PY" - "http://127.0.0.1:$(cat "$IT_TMP/$1.port")" "$2" <<'EOF'
import sys, urllib.request
for path, data in (("/_fault/script", sys.argv[2].encode()), ("/_fault/reset", b"")):
    urllib.request.urlopen(urllib.request.Request(sys.argv[1] + path, data=data), timeout=10).read()
EOF
}
# logq LOG count|faulted|gap PATH: requests to PATH (an exact path), those that took a
# fault, or the shortest time in seconds between a faulted request to PATH and the next one.
logq() {
	case $2 in
	count) grep -cF "\"path\": \"$3\"," "$1"; return ;;
	faulted) grep -F "\"path\": \"$3\"," "$1" | grep -vcF '"fault": null'; return ;;
	esac
	"$PY" - "$@" <<'EOF'
import json, sys
log, what, path = sys.argv[1:4]
reqs = [json.loads(l) for l in open(log) if l.strip()]
reqs = [r for r in reqs if r["path"] == path]
if True:
    gaps = [b["t"] - a["t"] for a, b in zip(reqs, reqs[1:]) if a["fault"]]
    print("%.3f" % min(gaps) if gaps else "none")
EOF
}
# run_gs NAME ENV... -- ARGS...: gpuslim with these env settings; stdout, stderr and the
# Markdown report in $OUT/NAME.*, exit code in $rc, stderr's text in $err.
run_gs() {
	local name=$1 envs=()
	shift
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env DOCKER_CONFIG="$IT_TMP/dc" "${envs[@]}" "$GPUSLIM" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
	rc=$?
	err=$(cat "$OUT/$name.err")
}
# inspect_case NAME ENV...: `gpuslim inspect --json` of 127.0.0.1:$port/NAME/img:t1.
inspect_case() {
	local name=$1
	shift
	run_gs "$name" "$@" -- inspect "127.0.0.1:$port/$name/img:t1" --source registry --json \
		--markdown "$OUT/$name.md"
}
# expect_ok WHAT: the last run exited 0.
expect_ok() {
	if [ "$rc" -eq 0 ]; then return 0; fi
	notok "$1: exit $rc" "$err"
	return 1
}

fs_start open
P=$port
if [ -z "$P" ]; then
	notok "faults: tests/fake/faultserver.py starts" "$(cat "$IT_TMP/open.err")"
	it_done
fi
LOG="$IT_TMP/open.log"
H="127.0.0.1:$P"
# The made-up image's digests, from the server itself.
read -r CONFIG LAYER MANIFEST < <("$PY" - "http://$H" <<'EOF'
import hashlib, json, sys, urllib.request
body = urllib.request.urlopen(sys.argv[1] + "/v2/probe/img/manifests/t1", timeout=10).read()
m = json.loads(body)
print(m["config"]["digest"], m["layers"][0]["digest"], "sha256:" + hashlib.sha256(body).hexdigest())
EOF
)

# A docker config whose "auths" names the open server too: with no 401 it is never read.
auths=$(printf 'h4user:%s' "$SECRET_AUTHS" | base64 -w0)
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$H" "$auths" >"$IT_TMP/dc/config.json"

# ---- transient faults, retried until the answer comes ----

# retried NAME PATH FAULTS N WHAT: a script of FAULTS (a JSON list, N faulty answers in all)
# on PATH; inspect succeeds, the server saw every fault, then more requests to PATH, served.
retried() {
	local name=$1 path=$2 faults=$3 want=$4 what=$5 n nf
	fs_script open "{\"faults\":{\"$path\":$faults}}"
	inspect_case "$name"
	n=$(logq "$LOG" count "$path")
	nf=$(logq "$LOG" faulted "$path")
	if expect_ok "faults: $what"; then
		if [ "$nf" = "$want" ] && [ "$n" -gt "$nf" ]; then
			ok "faults: $what: retried ($nf faulted tries, then served)"
		else
			notok "faults: $what: $nf faulted of $n requests to $path, want $want and more" \
				"$(cat "$LOG")"
		fi
	fi
}
retried m500 /v2/m500/img/manifests/t1 '[{"status":500,"times":2}]' 2 "manifest: 500 twice"
retried m502 /v2/m502/img/manifests/t1 '[{"status":502},{"status":504}]' 2 "manifest: 502, then 504"
retried mtrunc /v2/mtrunc/img/manifests/t1 '[{"truncate":10}]' 1 "manifest: a body cut short"
retried mreset /v2/mreset/img/manifests/t1 '[{"reset":true}]' 1 "manifest: a reset connection"
retried mresetb /v2/mresetb/img/manifests/t1 '[{"reset_after":20}]' 1 "manifest: reset mid-body"
retried mclose /v2/mclose/img/manifests/t1 '[{"close":true}]' 1 "manifest: closed unanswered"
retried cfg503 "/v2/cfg503/img/blobs/$CONFIG" '[{"status":503,"times":3}]' 3 "config blob: 503 three times"
retried layer500 "/v2/layer500/img/blobs/$LAYER" '[{"status":500}]' 1 "layer blob: 500 before its first byte"
retried layerreset "/v2/layerreset/img/blobs/$LAYER" '[{"reset":true}]' 1 "layer blob: reset before its first byte"
# A slow answer: the client's timeout (GPUSLIM_HTTP_TIMEOUT_MS) ends the try, the next is served.
fs_script open '{"faults":{"/v2/mslow/img/manifests/t1":[{"slow":true}]}}'
inspect_case mslow GPUSLIM_HTTP_TIMEOUT_MS=300
if expect_ok "faults: manifest: a slow answer"; then
	n=$(logq "$LOG" count /v2/mslow/img/manifests/t1)
	if [ "$(logq "$LOG" faulted /v2/mslow/img/manifests/t1)" = 1 ] && [ "$n" -ge 2 ]; then
		ok "faults: manifest: a slow answer times out after 300 ms and is retried"
	else notok "faults: slow: requests" "$(cat "$LOG")"; fi
fi

# ---- Retry-After: waited at least as long as asked ----

# after NAME FAULT WHAT: one 429 with FAULT's Retry-After, then served; the gap >= 1 s.
after() {
	local name=$1 path="/v2/$1/img/manifests/t1" gap
	fs_script open "{\"faults\":{\"$path\":[$2]}}"
	inspect_case "$name"
	if expect_ok "faults: $3"; then
		gap=$(logq "$LOG" gap "$path")
		if [ "$gap" != none ] && awk -v g="$gap" 'BEGIN { exit !(g >= 1.0) }'; then
			ok "faults: $3: the next try came $gap s later (asked: 1 s or more)"
		else
			notok "faults: $3: the next try came $gap s later, before Retry-After" "$(cat "$LOG")"
		fi
	fi
}
after ra429 '{"status":429,"retry_after":"1"}' "429 with Retry-After: 1"
after ra503 '{"status":503,"retry_after":"1"}' "503 with Retry-After: 1"
after radate '{"status":429,"retry_after_date":2}' "429 with Retry-After: an HTTP date 2 s ahead"

# ---- final failures: the exact message, and exactly that many tries ----

# gives_up NAME PATH FAULT CODE MESSAGE TRIES ENV...: FAULT forever on PATH; exit CODE,
# stderr "gpuslim: MESSAGE", and TRIES requests to PATH.
gives_up() {
	local name=$1 path=$2 fault=$3 code=$4 msg=$5 tries=$6 n
	shift 6
	fs_script open "{\"faults\":{\"$path\":[$fault]}}"
	inspect_case "$name" "$@"
	n=$(logq "$LOG" count "$path")
	if [ "$rc" = "$code" ] && [ "$err" = "gpuslim: $msg" ] && [ "$n" = "$tries" ]; then
		ok "faults: gives up: $msg (exit $code, $n tries seen)"
	else
		notok "faults: gives up on $name: exit $rc (want $code), $n requests (want $tries)" \
			"got:  $err"$'\n'"want: gpuslim: $msg"
	fi
}
gives_up g503 /v2/g503/img/manifests/t1 '{"status":503,"times":100}' 3 \
	"registry '$H' answered 503 Service Unavailable for '$H/g503/img:t1' after 4 tries" 4
gives_up g500r2 /v2/g500r2/img/manifests/t1 '{"status":500,"times":100}' 3 \
	"registry '$H' answered 500 Internal Server Error for '$H/g500r2/img:t1' after 2 tries" 2 \
	GPUSLIM_RETRIES=2
gives_up gnoretry /v2/gnoretry/img/manifests/t1 '{"status":502,"times":100}' 3 \
	"registry '$H' answered 502 Bad Gateway for '$H/gnoretry/img:t1' after 1 try" 1 \
	GPUSLIM_RETRIES=1
gives_up glong /v2/glong/img/manifests/t1 '{"status":429,"retry_after":"60","times":100}' 3 \
	"registry '$H' answered 429 Too Many Requests for '$H/glong/img:t1' after 1 try (it asked to wait 60 s, longer than gpuslim waits)" 1
gives_up gbudget /v2/gbudget/img/manifests/t1 '{"status":429,"retry_after":"1","times":100}' 3 \
	"registry '$H' answered 429 Too Many Requests for '$H/gbudget/img:t1' after 2 tries (1 s of waiting spent: GPUSLIM_RETRY_MAX_WAIT)" 2 \
	GPUSLIM_RETRY_MAX_WAIT=1
gives_up gtrunc /v2/gtrunc/img/manifests/t1 '{"truncate":5,"times":100}' 3 \
	"registry '$H' cut short its answer for '$H/gtrunc/img:t1' after 3 tries" 3 GPUSLIM_RETRIES=3
gives_up greset /v2/greset/img/manifests/t1 '{"reset":true,"times":100}' 3 \
	"registry '$H' reset the connection for '$H/greset/img:t1' after 2 tries" 2 GPUSLIM_RETRIES=2
gives_up gslow /v2/gslow/img/manifests/t1 '{"slow":true,"times":100}' 3 \
	"registry '$H' did not answer within 300 ms for '$H/gslow/img:t1' after 2 tries" 2 \
	GPUSLIM_RETRIES=2 GPUSLIM_HTTP_TIMEOUT_MS=300
# Wrong digests are the content's fault, not the network's: one try, exit 2.
gives_up gdigest /v2/gdigest/img/manifests/t1 '{"corrupt":true,"times":100}' 2 \
	"registry '$H' sent a manifest for '$H/gdigest/img:t1' that does not match its digest ($MANIFEST)" 1
gives_up gheader /v2/gheader/img/manifests/t1 "{\"digest\":\"sha256:$(printf '0%.0s' $(seq 64))\",\"times\":100}" 2 \
	"registry '$H' sent a manifest for '$H/gheader/img:t1' that does not match its digest (sha256:$(printf '0%.0s' $(seq 64)))" 1
# A blob is retried only before its first byte reached the reader.
fs_script open "{\"faults\":{\"/v2/gblobdigest/img/blobs/$LAYER\":[{\"corrupt\":true,\"times\":100}]}}"
inspect_case gblobdigest
n=$(logq "$LOG" count "/v2/gblobdigest/img/blobs/$LAYER")
case "$rc:$n:$err" in
2:1:*"registry '$H' sent a blob for '$H/gblobdigest/img@$LAYER' that does not match its digest"*)
	ok "faults: a layer that does not match its digest: exit 2, one try" ;;
*) notok "faults: a corrupt layer: exit $rc, $n tries" "$err" ;;
esac
fs_script open "{\"faults\":{\"/v2/gblobcut/img/blobs/$LAYER\":[{\"truncate\":50000}]}}"
inspect_case gblobcut
n=$(logq "$LOG" count "/v2/gblobcut/img/blobs/$LAYER")
case "$rc:$n:$err" in
3:1:*"registry '$H' cut short its answer for '$H/gblobcut/img@$LAYER' after 50000 bytes of the blob (not retried: they were passed on already)"*)
	ok "faults: a layer cut short after 50000 bytes: not retried, exit 3, the bytes counted" ;;
*) notok "faults: a layer cut short after its first bytes: exit $rc, $n tries" "$err" ;;
esac
# Nothing listening: refused, retried, counted.
run_gs grefused GPUSLIM_RETRIES=2 -- inspect "$REFUSED/x/img:t1" --source registry --json
if [ "$rc" = 3 ] &&
	[ "$err" = "gpuslim: cannot reach registry '$REFUSED': connection refused after 2 tries" ]; then
	ok "faults: a refused connection: exit 3, the tries counted"
else notok "faults: refused: exit $rc" "$err"; fi

# ---- plan --resolve: the tag list and the manifest HEAD ----

sed -e "s#127.0.0.1:5000#$H#" "$ROOT/tests/golden/debian-fixture/gpuslim.yaml" \
	>"$IT_TMP/recipe/gpuslim.yaml"
printf 'print("hi")\n' >"$IT_TMP/recipe/main.py"
TAGS="/v2/gpuslim-fixtures/cuda/tags/list"
HEADP="/v2/gpuslim-fixtures/cuda/manifests/13.0.2-base-debian12"
# plan_case NAME FAULTS-OBJECT ENV...: plan --resolve --json with those faults.
plan_case() {
	local name=$1
	fs_script open "{\"tags\":[\"13.0.2-base-debian12\",\"13.0.2-devel-debian12\"],\"faults\":$2}"
	shift 2
	run_gs "$name" "$@" -- plan "$IT_TMP/recipe/gpuslim.yaml" --resolve --json
}
plan_case presolve "{\"$TAGS\":[{\"status\":500},{\"status\":429,\"retry_after\":\"0\"}],\"HEAD $HEADP\":[{\"status\":503},{\"reset\":true}]}"
if expect_ok "faults: plan --resolve through faults"; then
	if grep -qF "\"digest\": \"$MANIFEST\"" "$OUT/presolve.out" &&
		[ "$(logq "$LOG" faulted "$TAGS"):$(logq "$LOG" count "$TAGS")" = 2:3 ] &&
		[ "$(logq "$LOG" faulted "$HEADP"):$(logq "$LOG" count "$HEADP")" = 2:3 ]; then
		ok "faults: plan --resolve: tag list and HEAD retried, the base pinned at $MANIFEST"
	else notok "faults: plan --resolve: not pinned, or tries" "$(cat "$LOG")"; fi
fi
plan_case ptags "{\"$TAGS\":[{\"status\":502,\"times\":100}]}"
if [ "$rc" = 3 ] && [ "$(logq "$LOG" count "$TAGS")" = 4 ] &&
	printf '%s' "$err" | grep -qF "registry '$H' answered 502 Bad Gateway for '$H/gpuslim-fixtures/cuda' after 4 tries"; then
	ok "faults: plan --resolve: a tag list that keeps failing is exit 3 after 4 tries"
else notok "faults: plan --resolve tag list gives up: exit $rc" "$err"; fi

# ---- credentials: a helper's secret and a Bearer token, through faults ----

fs_start auth --user h4user --password "$SECRET_PW" --token "$SECRET_TOKEN"
A=$port
ALOG="$IT_TMP/auth.log"
HA="127.0.0.1:$A"
export PATH="$ROOT/tests/fake:$PATH" FAKE_CRED_STORE="$IT_TMP/store" FAKE_CRED_LOG="$IT_TMP/asked"
printf '%s h4user %s\n' "$HA" "$SECRET_PW" >"$FAKE_CRED_STORE"
printf '{"auths":{"%s":{"auth":"%s"}},"credHelpers":{"%s":"test"}}\n' "$HA" "$auths" "$HA" \
	>"$IT_TMP/dc/config.json"
# auth_case NAME FAULTS-OBJECT ENV...: inspect 127.0.0.1:$A/NAME/img:t1 with those faults.
auth_case() {
	local name=$1
	fs_script auth "{\"faults\":$2}"
	shift 2
	run_gs "$name" "$@" -- inspect "$HA/$name/img:t1" --source registry --json \
		--markdown "$OUT/$name.md"
}
auth_case aok '{}'
expect_ok "faults: auth: Bearer token from the credential helper" &&
	ok "faults: auth: Bearer token from the credential helper's password"
auth_case atoken '{"/token":[{"status":503},{"truncate":3},{"status":429,"retry_after":"1"}]}'
if expect_ok "faults: auth: the token service fails three ways"; then
	if [ "$(logq "$ALOG" faulted /token)" = 3 ] && [ "$(logq "$ALOG" count /token)" -ge 4 ]; then
		ok "faults: auth: token fetch retried through 503, a cut body and a 429"
	else notok "faults: auth: token tries" "$(cat "$ALOG")"; fi
fi
auth_case atokenfail '{"/token":[{"status":503,"times":100}]}'
if [ "$rc" = 3 ] && [ "$(logq "$ALOG" count /token)" = 4 ] &&
	[ "$err" = "gpuslim: the token service of registry '$HA' answered 503 Service Unavailable after 4 tries" ]; then
	ok "faults: auth: a token service that keeps failing: exit 3 after 4 tries"
else notok "faults: auth: token gives up: exit $rc, $(logq "$ALOG" count /token) tries" "$err"; fi
auth_case amanifest '{"/v2/amanifest/img/manifests/t1":[{"status":500,"times":100,"auth":"Bearer"}]}'
if [ "$rc" = 3 ] && [ "$(logq "$ALOG" count /token)" = 1 ] &&
	[ "$(logq "$ALOG" faulted /v2/amanifest/img/manifests/t1)" = 4 ] &&
	[ "$err" = "gpuslim: registry '$HA' answered 500 Internal Server Error for '$HA/amanifest/img:t1' after 4 tries" ]; then
	ok "faults: auth: a manifest failing after the token: 4 tries with it, exit 3"
else notok "faults: auth: manifest gives up: exit $rc" "$err"; fi
# (cut with a close, not a reset: a reset may drop bytes the client had not read yet, and
# how many is up to timing)
auth_case ablob "{\"/v2/ablob/img/blobs/$LAYER\":[{\"truncate\":30000,\"times\":100}],\"/v2/ablob/img/blobs/$CONFIG\":[{\"status\":502}]}"
case "$rc:$(logq "$ALOG" count "/v2/ablob/img/blobs/$LAYER"):$err" in
3:1:*"registry '$HA' cut short its answer for '$HA/ablob/img@$LAYER' after 30000 bytes of the blob"*)
	ok "faults: auth: config retried after a 502; a layer cut after its first bytes is not" ;;
*) notok "faults: auth: a layer cut mid-stream: exit $rc" "$err" ;;
esac
auth_case aslow '{"/v2/aslow/img/manifests/t1":[{"slow":true,"times":100,"auth":"Bearer"}]}' \
	GPUSLIM_HTTP_TIMEOUT_MS=300 GPUSLIM_RETRIES=2
if [ "$rc" = 3 ] && [ "$(logq "$ALOG" faulted /v2/aslow/img/manifests/t1)" = 2 ] &&
	[ "$err" = "gpuslim: registry '$HA' did not answer within 300 ms for '$HA/aslow/img:t1' after 2 tries" ]; then
	ok "faults: auth: a slow manifest after the token: exit 3 after 2 tries"
else notok "faults: auth: slow: exit $rc" "$err"; fi
# Credentials the registry refuses (the helper's answer is wrong): no retry, no secret.
printf '%s h4user %s-wrong\n' "$HA" "$SECRET_PW" >"$FAKE_CRED_STORE"
auth_case arefused '{}'
if [ "$rc" = 2 ] && [ "$(logq "$ALOG" count /token)" = 1 ] &&
	[ "$err" = "gpuslim: registry '$HA' refused the credentials for user 'h4user' (from docker-credential-test)" ]; then
	ok "faults: auth: refused credentials: exit 2, one token request"
else notok "faults: auth: refused: exit $rc, $(logq "$ALOG" count /token) token requests" "$err"; fi

# ---- no secret anywhere ----

cat "$LOG" >>"$OUT/open.server.log"
cat "$ALOG" >>"$OUT/auth.server.log"
cp "$IT_TMP"/*.err "$OUT/" 2>/dev/null
if grep -rlF -e "$SECRET_PW" -e "$SECRET_AUTHS" -e "$SECRET_TOKEN" "$OUT" >"$IT_TMP/leaks"; then
	notok "faults: a planted secret is in" "$(cat "$IT_TMP/leaks")"
elif [ "$(find "$OUT" -type f | wc -l)" -lt 60 ]; then
	notok "faults: fewer outputs than cases to search for secrets" "$(ls "$OUT")"
else
	ok "faults: no planted secret in any of $(find "$OUT" -type f | wc -l) outputs, reports and logs"
fi
it_done
