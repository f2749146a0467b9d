#!/usr/bin/env bash
# The release size gate against the last release in a real registry (distribution 2.8 on
# 127.0.0.1:5000, which has no referrers API): `gate --attach-report` attaches the report
# as an OCI artifact listed in the referrers tag sha256-<hex>; `gate --baseline REF` finds
# it there and fails a package that grew beyond budgets.growth.package (naming it, before
# and after), passes growth within the budget; a release without an attached report is
# analyzed directly; a bad reference is exit 2, an unreachable registry exit 3;
# --baseline FILE keeps working.
#
# Three small images (the Debian fixture plus one pip-style package "blob" of 2.0, 4.0
# and 2.5 MB, and a steady one) are built here and pushed under a repository of this
# test's own; they and their tags are removed at the end.
. "$(dirname "$0")/lib.sh"

it_require_infra "baseline: attach" "baseline: grown package fails" "baseline: within passes" \
	"baseline: no report, direct analysis" "baseline: bad ref" "baseline: unreachable"

cd "$ROOT" || exit 1
REPO="$REG_OPEN_ADDR/gpuslim-test/baseline-$$"
FROM="$REG_OPEN_ADDR/gpuslim-fixtures/debian:12-minbase"

# image TAG BLOB_BYTES [STEADY_BYTES]: build and push REPO:TAG with a 'blob' package of
# that size (and 'steady', 100000 bytes unless told).
image() {
	local dir="$IT_TMP/ctx-$1" site=opt/site
	mkdir -p "$dir/$site/blob" "$dir/$site/blob-1.0.dist-info" "$dir/$site/steady" \
		"$dir/$site/steady-2.0.dist-info"
	head -c "$2" /dev/zero >"$dir/$site/blob/data.bin"
	printf 'blob/data.bin,,%s\nblob-1.0.dist-info/RECORD,,\n' "$2" \
		>"$dir/$site/blob-1.0.dist-info/RECORD"
	head -c "${3:-100000}" /dev/zero >"$dir/$site/steady/s.bin"
	printf 'steady/s.bin,,%s\nsteady-2.0.dist-info/RECORD,,\n' "${3:-100000}" \
		>"$dir/$site/steady-2.0.dist-info/RECORD"
	printf 'FROM %s\nCOPY opt /opt\n' "$FROM" >"$dir/Dockerfile"
	DOCKER_BUILDKIT=1 "$DOCKER" build -q -t "$REPO:$1" "$dir" >/dev/null &&
		IT_IMAGES+=("$REPO:$1") &&
		"$DOCKER" push "$REPO:$1" >/dev/null
}
# gate ARGS...: gpuslim gate, stdout in $IT_TMP/out, stderr in $IT_TMP/err, exit in $rc.
gate() {
	"$GPUSLIM" gate "$@" >"$IT_TMP/out" 2>"$IT_TMP/err"
	rc=$?
}
py() { /usr/bin/python3 -c "$@"; }

if ! image v1 2000000 || ! image v2 4000000 || ! image v3 2500000 || ! image v4 2000000 100100; then
	notok "baseline: build and push the test images" ""
	it_done
fi

# The recipe: one cell, growth budgets for the total and per package.
cat >"$IT_TMP/gpuslim.yaml" <<EOF
name: baseline-test
image: $REPO
base:
  os: debian12
  registry: $REG_OPEN_ADDR
  repository: gpuslim-fixtures/cuda
cuda: "13.0"
budgets:
  growth:
    total: ["10%", 5MB]
    package: [50%, 1MB]
EOF
R="$IT_TMP/gpuslim.yaml"

# --- v1 is the release: its report attached (exit 0: no baseline, every gate passes).
gate "$REPO:v1" --recipe "$R" --no-smoke --source registry --attach-report
digest_v1=$(grep -oE "@sha256:[0-9a-f]{64}" "$IT_TMP/err" | head -n1 | cut -c2-)
if [ "$rc" -eq 0 ] && grep -q 'listed in the referrers tag' "$IT_TMP/err" && [ -n "$digest_v1" ]; then
	ok "baseline: the report is attached to v1 (referrers tag: the registry has no referrers API)"
else
	notok "baseline: attach: exit $rc, want 0" "$(cat "$IT_TMP/out" "$IT_TMP/err")"
fi
# The fallback tag holds an OCI index whose entry is an artifact with v1 as its subject.
tag="sha256-${digest_v1#sha256:}"
if py 'import json, sys, urllib.request as u
reg, repo, tag, subject = sys.argv[1:]
def get(path, accept):
    req = u.Request("http://%s/v2/%s/%s" % (reg, repo, path), headers={"Accept": accept})
    return json.load(u.urlopen(req))
idx = get("manifests/" + tag, "application/vnd.oci.image.index.v1+json")
ms = [m for m in idx["manifests"] if m.get("artifactType") == "application/vnd.gpuslim.report.v1+json"]
assert len(ms) == 1, idx
m = get("manifests/" + ms[0]["digest"], "application/vnd.oci.image.manifest.v1+json")
assert m["subject"]["digest"] == subject, m
assert m["layers"][0]["mediaType"] == "application/vnd.gpuslim.report.v1+json", m
assert m["config"]["mediaType"] == "application/vnd.oci.empty.v1+json", m
assert "org.opencontainers.image.created" in ms[0]["annotations"], ms[0]
' "$REG_OPEN_ADDR" "${REPO#*/}" "$tag" "$digest_v1"; then
	ok "baseline: tag $tag lists an artifact of type application/vnd.gpuslim.report.v1+json whose subject is v1"
else
	notok "baseline: the referrers tag" ""
fi

# --- v2: 'blob' grew 2.0 MB -> 4.0 MB (+100%, over 50% and 1MB): growth packages fails,
# naming it with before and after; the total (+2 MB, within 10% and 5MB) passes.
gate "$REPO:v2" --recipe "$R" --no-smoke --source registry --baseline "$REPO:v1" --json
if [ "$rc" -eq 1 ] && grep -q 'found through the referrers tag' "$IT_TMP/err" &&
	py 'import json, sys
r = json.load(open(sys.argv[1]))
g = {x["name"]: x for x in r["gates"]}
p = g["growth packages"]
assert p["status"] == "fail", p
assert p["message"].startswith("1 package grew beyond 50% and 1MB: pip blob 2.0 MB -> 4.0 MB (+2.0 MB, +100.0%)"), p
assert g["growth"]["status"] == "pass", g["growth"]
b = r["baseline"]
assert b["source"] == "attached-report" and b["found_via"] == "referrers-tag", b
assert b["growth"] == 2000000, b
p = b["packages"][0]  # RECORD is in the package too: 51 bytes
assert (p["manager"], p["name"], p["before"], p["after"], p["growth"]) == \
    ("pip", "blob", 2000051, 4000051, 2000000), b["packages"]
assert len(b["packages"]) == 1 and 99.9 < p["percent"] < 100.0, b["packages"]
' "$IT_TMP/out"; then
	ok "baseline: v2 against v1's attached report fails 'growth packages': pip blob 2.0 MB -> 4.0 MB"
else
	notok "baseline: grown package: exit $rc, want 1" "$(head -c 4000 "$IT_TMP/out"; cat "$IT_TMP/err")"
fi

# The report with its "baseline" comparison validates against the report schema.
cp "$IT_TMP/out" "$IT_TMP/v2.json"
if ! py 'import jsonschema' 2>/dev/null; then
	skip "baseline: report against the schema (no python3-jsonschema)"
elif out=$(py 'import json, sys, jsonschema
s = json.load(open("schemas/report.schema.json"))
r = json.load(open(sys.argv[1]))
errs = sorted(jsonschema.Draft202012Validator(s).iter_errors(r), key=lambda e: list(e.path))
for e in errs[:5]: print("/".join(map(str, e.path)), e.message[:200])
sys.exit(1 if errs else 0)' "$IT_TMP/v2.json" 2>&1); then
	ok "baseline: the report with its baseline comparison validates against schemas/report.schema.json"
else
	notok "baseline: report against the schema" "$out"
fi

# --- v3: 'blob' grew 0.5 MB (+25%): within every limit, exit 0.
gate "$REPO:v3" --recipe "$R" --no-smoke --source registry --baseline "$REPO:v1"
if [ "$rc" -eq 0 ] && grep -qE '^  pass  growth +growth packages +no package grew beyond 50% and 1MB; grew most: pip blob 2.0 MB -> 2.5 MB' "$IT_TMP/out"; then
	ok "baseline: v3 (+0.5 MB in blob) passes within the budget"
else
	notok "baseline: within budget: exit $rc, want 0" "$(cat "$IT_TMP/out" "$IT_TMP/err")"
fi

# --- The total over its budget: growth fails listing the packages that grew most.
sed -e 's/total: \["10%", 5MB\]/total: 1MB/' "$R" >"$IT_TMP/total.yaml"
gate "$REPO:v2" --recipe "$IT_TMP/total.yaml" --no-smoke --source registry --baseline "$REPO:v1"
if [ "$rc" -eq 1 ] && grep -qE '^  FAIL  growth +growth +.*over 1MB \(1000000 bytes\); grew most: pip blob 2.0 MB -> 4.0 MB \(\+2.0 MB, \+100.0%\)' "$IT_TMP/out"; then
	ok "baseline: total growth over 1MB fails, naming the package that grew most"
else
	notok "baseline: total over budget: exit $rc, want 1" "$(cat "$IT_TMP/out" "$IT_TMP/err")"
fi

# --- v4 (v1 with 100 bytes more in 'steady': another image) has no report attached: it
# is analyzed directly (as inspect would), with the same verdict.
gate "$REPO:v2" --recipe "$R" --no-smoke --source registry --baseline "$REPO:v4" --json
if [ "$rc" -eq 1 ] && grep -q "no report attached to $REPO:v4" "$IT_TMP/err" &&
	py 'import json, sys
r = json.load(open(sys.argv[1]))
b = r["baseline"]
assert b["source"] == "analysis" and b["artifact"] is None, b
assert b["packages"][0]["name"] == "blob" and b["packages"][0]["growth"] == 2000000, b
' "$IT_TMP/out"; then
	ok "baseline: without an attached report the baseline image is analyzed directly"
else
	notok "baseline: direct analysis: exit $rc, want 1" "$(head -c 3000 "$IT_TMP/out"; cat "$IT_TMP/err")"
fi

# --- A second report on v1 (as a rerun would attach): the tag keeps both, the newest wins.
gate "$REPO:v1" --recipe "$R" --no-smoke --source registry --attach-report
n=$(py 'import json, sys, urllib.request as u
req = u.Request("http://%s/v2/%s/manifests/%s" % tuple(sys.argv[1:]),
                headers={"Accept": "application/vnd.oci.image.index.v1+json"})
print(len(json.load(u.urlopen(req))["manifests"]))' "$REG_OPEN_ADDR" "${REPO#*/}" "$tag")
# Identical reports are one artifact (same digest) unless their created time differs: two.
if [ "$rc" -eq 0 ] && [ "$n" = 2 ]; then
	ok "baseline: a second attach adds to the referrers tag (2 entries), read-modify-write"
else
	notok "baseline: second attach: exit $rc, $n entries, want 2" "$(cat "$IT_TMP/err")"
fi

# --- build --push attaches each pushed cell's report by default.
mkdir -p "$IT_TMP/b"
sed -e "s|^image: .*|image: $REPO-build|" -e '/^budgets:/,$d' "$R" >"$IT_TMP/b/gpuslim.yaml"
"$GPUSLIM" build "$IT_TMP/b/gpuslim.yaml" --push --progress plain -o "$IT_TMP/b/out" \
	>"$IT_TMP/build.out" 2>"$IT_TMP/build.err"
brc=$?
IT_IMAGES+=("$REPO-build:latest")
gate "$REPO-build:latest" --recipe "$IT_TMP/b/gpuslim.yaml" --no-smoke --source registry \
	--baseline "$REPO-build:latest" --json
if [ "$brc" -eq 0 ] && grep -q "report attached to $REPO-build:latest@sha256:" "$IT_TMP/build.err" &&
	[ "$rc" -eq 0 ] && grep -q "the report attached to $REPO-build:latest" "$IT_TMP/err" &&
	py 'import json, sys
b = json.load(open(sys.argv[1]))["baseline"]
assert b["source"] == "attached-report" and b["growth"] == 0 and b["packages"] == [], b
' "$IT_TMP/out"; then
	ok "baseline: build --push attached the cell's report; gate --baseline finds it (+0 B)"
else
	notok "baseline: build --push attaches: build exit $brc, gate exit $rc" \
		"$(tail -n 5 "$IT_TMP/build.err"; cat "$IT_TMP/err")"
fi

# --- --baseline FILE keeps working, and a missing ./file is a file error, not a lookup.
gate "$REPO:v1" --recipe "$R" --no-smoke --source registry --json
cp "$IT_TMP/out" "$IT_TMP/v1.json"
gate "$REPO:v2" --recipe "$R" --no-smoke --source registry --baseline "$IT_TMP/v1.json"
if [ "$rc" -eq 1 ] && grep -q 'pip blob 2.0 MB -> 4.0 MB' "$IT_TMP/out"; then
	ok "baseline: --baseline FILE (a saved report) gives the same verdict"
else
	notok "baseline: --baseline FILE: exit $rc" "$(cat "$IT_TMP/out" "$IT_TMP/err")"
fi
gate "$REPO:v2" --recipe "$R" --no-smoke --source registry --baseline ./no-such-report.json
if [ "$rc" -eq 2 ] && grep -q "no-such-report.json" "$IT_TMP/err"; then
	ok "baseline: a missing ./file.json is exit 2 naming it"
else
	notok "baseline: missing file: exit $rc, want 2" "$(cat "$IT_TMP/err")"
fi

# --- Bad references: malformed (2), missing image (2), unreachable registry (3).
gate "$REPO:v2" --recipe "$R" --no-smoke --source registry --baseline "$REG_OPEN_ADDR/Bad Name:x"
if [ "$rc" -eq 2 ] && grep -q "baseline '$REG_OPEN_ADDR/Bad Name:x'" "$IT_TMP/err"; then
	ok "baseline: a malformed reference is exit 2: $(head -n1 "$IT_TMP/err")"
else
	notok "baseline: malformed ref: exit $rc, want 2" "$(cat "$IT_TMP/err")"
fi
gate "$REPO:v2" --recipe "$R" --no-smoke --source registry --baseline "$REPO:no-such-tag"
if [ "$rc" -eq 2 ] && grep -q "does not exist" "$IT_TMP/err"; then
	ok "baseline: a missing release is exit 2: $(head -n1 "$IT_TMP/err")"
else
	notok "baseline: missing tag: exit $rc, want 2" "$(cat "$IT_TMP/err")"
fi
# Port 9 on loopback: nothing listens (discard is never started here); refused at once.
GPUSLIM_RETRIES=1 gate "$REPO:v2" --recipe "$R" --no-smoke --source registry \
	--baseline "127.0.0.1:9/gpuslim-test/x:1"
if [ "$rc" -eq 3 ] && grep -q "cannot reach registry '127.0.0.1:9'" "$IT_TMP/err"; then
	ok "baseline: an unreachable registry is exit 3: $(head -n1 "$IT_TMP/err")"
else
	notok "baseline: unreachable: exit $rc, want 3" "$(cat "$IT_TMP/err")"
fi
# --attach-report on a file is refused before any work.
gate "$IT_TMP/v1.json" --recipe "$R" --no-smoke --attach-report
if [ "$rc" -eq 2 ] && grep -q 'attached to an image in a registry' "$IT_TMP/err"; then
	ok "baseline: --attach-report wants a registry image (exit 2)"
else
	notok "baseline: --attach-report on a file: exit $rc" "$(cat "$IT_TMP/err")"
fi

# Clean the registry: the test's tags and the referrers tag (deletion may be off: then
# the repository stays, named after this run).
for t in v1 v2 v3 v4 "$tag"; do
	d=$(curl -s -I -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REG_OPEN_ADDR/v2/${REPO#*/}/manifests/$t" | tr -d '\r' |
		awk 'tolower($1)=="docker-content-digest:"{print $2}')
	[ -n "$d" ] && curl -s -X DELETE "http://$REG_OPEN_ADDR/v2/${REPO#*/}/manifests/$d" >/dev/null
done
d=$(curl -s -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"http://$REG_OPEN_ADDR/v2/${REPO#*/}-build/manifests/latest" | tr -d '\r' |
	awk 'tolower($1)=="docker-content-digest:"{print $2}')
[ -n "$d" ] && curl -s -X DELETE "http://$REG_OPEN_ADDR/v2/${REPO#*/}-build/manifests/$d" >/dev/null
it_done
