#!/usr/bin/env bash
# The HTML page and gpuslim diff on two small images built FROM the Debian fixture (A; B =
# A plus a grown and a new file): inspect --html and --sizemap (the sizemap adds up to the
# image, hostile file names -- markup, quotes, a byte that is not UTF-8 -- escaped), gate
# --html with budgets, diff of the images and of their saved reports (the same answer),
# --json/--markdown/--html, --fail-on-growth (exit 1 over it, 0 under it, 2 on a bad
# value). The pages are then loaded in Debian's chromium, headless, through puppeteer-core
# (tests/integration/html_check.js): no console error, no request, the treemap's
# rectangles add up to the image within 0.1%, a click zooms into a layer, a screenshot.
# Installs chromium (apt-get) and puppeteer-core (npm ci in tests/node) when missing;
# skips the browser checks, saying why, only when they cannot be installed.
. "$(dirname "$0")/lib.sh"

it_require_infra "html: inspect --html" "html: diff" "html: browser"

TAG=gpuslim-it/h12-html
cd "$ROOT" || exit 1

# build NAME FROM <<DOCKERFILE-BODY: lib.sh's it_build, its tag in $img.
build() { it_build html "$@"; }
py() { # REPORT CODE ARGS...: python with the JSON file as r
	local f=$1
	shift
	/usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
'"$1" "$f" "${@:2}"
}

# A: 3 MB in /app, hostile names written in one layer and overwritten in the next (so they
# show in the waste table too), a CUDA-named library. B: A, the model grown, a new file.
build a "$GPUSLIM_FIXTURE_DEBIAN" <<'EOF' || it_done
RUN mkdir -p /app/lib && head -c 3000000 /dev/urandom >/app/model.bin && \
    head -c 400000 /dev/urandom >/app/lib/libcublas.so.13.0.0 && \
    head -c 300000 /dev/urandom >'/app/<img src=x onerror=alert(1)>.txt' && \
    head -c 300000 /dev/urandom >"/app/a&b\"c'd" && \
    head -c 300000 /dev/urandom >"$(printf '/app/bad\377name')"
RUN head -c 200000 /dev/urandom >'/app/<img src=x onerror=alert(1)>.txt' && \
    head -c 200000 /dev/urandom >"/app/a&b\"c'd" && \
    head -c 200000 /dev/urandom >"$(printf '/app/bad\377name')"
EOF
A=$img
build b "$A" <<'EOF' || it_done
RUN head -c 4000000 /dev/urandom >/app/model.bin && head -c 5000000 /dev/urandom >/app/extra.bin
EOF
B=$img

# --- inspect --html and --sizemap
"$GPUSLIM" inspect "$A" --json --sizemap --html "$IT_TMP/a.html" >"$IT_TMP/a.json" 2>"$IT_TMP/a.err"
rc=$?
size_a=$(py "$IT_TMP/a.json" 'print(r["summary"]["size"])' 2>/dev/null)
if [ "$rc" -eq 0 ] && [ -s "$IT_TMP/a.html" ] && [ "$(stat -c %s "$IT_TMP/a.html")" -lt 5000000 ]; then
	ok "html: inspect --html writes one page ($(stat -c %s "$IT_TMP/a.html") bytes)"
else
	notok "html: inspect --html: exit $rc" "$(cat "$IT_TMP/a.err")"
fi
if out=$(py "$IT_TMP/a.json" '
sm = r["sizemap"]
def tot(n):
    if len(n) > 3 and isinstance(n[3], list):
        s = sum(tot(k) for k in n[3])
        assert s == n[1], ("directory sum", n[0], s, n[1])
    return n[1]
for i, l in enumerate(r["layers"]):
    s = sum(tot(n) for n in sm["layers"][i])
    assert s == l["size"], ("layer", i, s, l["size"])
names = json.dumps(sm)
assert "bad\\\\xffname" in names, "the invalid byte is not \\xNN"
assert ["cuda", "cublas"] in sm["owners"], sm["owners"][:8]
print(len(sm["layers"]), "layers add up to", r["summary"]["size"])' 2>&1); then
	ok "html: the sizemap adds up, per directory and layer ($out); \\xNN for bytes that are not UTF-8"
else
	notok "html: the sizemap" "$out"
fi
if grep -q '<img' "$IT_TMP/a.html" || grep -qF 'a&b"c' "$IT_TMP/a.html"; then
	notok "html: the page holds a raw name of the image" "$(grep -o '.\{20\}<img.\{20\}' "$IT_TMP/a.html" | head -3)"
else
	ok "html: no name of the image is raw in the page (<, & and quotes escaped)"
fi
"$GPUSLIM" inspect "$B" --json --sizemap >"$IT_TMP/b.json" 2>"$IT_TMP/b.err" ||
	notok "html: inspect B" "$(cat "$IT_TMP/b.err")"

# --- gate --html: budgets as bars (the size budget at the exact size passes)
mkdir -p "$IT_TMP/recipe"
cat >"$IT_TMP/recipe/gpuslim.yaml" <<EOF
name: h12-html
image: 127.0.0.1:5000/gpuslim-it/h12-html
base:
  os: debian12
  registry: 127.0.0.1:5000
  repository: gpuslim-fixtures/cuda
cuda: "13.0"
app:
  copy: ["app/"]
  cmd: ["/bin/true"]
budgets:
  size: "$size_a"
  wasted: "1MB"
  layers: 8
EOF
"$GPUSLIM" gate "$A" --recipe "$IT_TMP/recipe/gpuslim.yaml" --no-smoke --html "$IT_TMP/gate.html" \
	>"$IT_TMP/gate.out" 2>&1
rc=$?
if [ -s "$IT_TMP/gate.html" ] && grep -q '"kind":"budget"' "$IT_TMP/gate.html"; then
	ok "html: gate --html writes the gates with their budgets (gate exit $rc)"
else
	notok "html: gate --html (exit $rc)" "$(cat "$IT_TMP/gate.out")"
fi

# --- diff: images, saved reports
"$GPUSLIM" diff "$A" "$B" --json --markdown "$IT_TMP/d.md" --html "$IT_TMP/d.html" >"$IT_TMP/d.json" 2>"$IT_TMP/d.err"
rc=$?
if [ "$rc" -eq 0 ] && out=$(py "$IT_TMP/d.json" '
p = {e["path"]: e for e in r["paths"]}
assert p["/app/extra.bin"]["change"] == "added" and p["/app/extra.bin"]["delta"] == 5000000, p.get("/app/extra.bin")
m = p["/app/model.bin"]
assert m["change"] == "grew" and m["bytes_a"] == 3000000 and m["bytes_b"] == 7000000, m
assert sum(e["delta"] for e in r["paths"]) == r["summary"]["size"]["delta"] == 9000000, r["summary"]["size"]
assert [l["change"] for l in r["layers"]] == ["added"], r["layers"]
assert r["packages"] == [] and r["cuda"] == [], (r["packages"], r["cuda"])
print(len(r["paths"]), "paths")' 2>&1); then
	ok "html: diff of two images: /app/extra.bin added, /app/model.bin grew (every copy), one layer added; the paths add up to +9000000 bytes"
else
	notok "html: diff of two images: exit $rc" "$(cat "$IT_TMP/d.err"; echo "$out")"
fi
"$GPUSLIM" diff "$IT_TMP/a.json" "$IT_TMP/b.json" --json >"$IT_TMP/dr.json" 2>"$IT_TMP/dr.err"
rc=$?
if [ "$rc" -eq 0 ] && /usr/bin/python3 -c 'import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for k in ("summary", "layers", "packages", "cuda", "paths", "tree"):
    assert a[k] == b[k], k' "$IT_TMP/d.json" "$IT_TMP/dr.json" 2>"$IT_TMP/cmp.err"; then
	ok "html: diff of the saved reports gives the same difference"
else
	notok "html: diff of saved reports: exit $rc" "$(cat "$IT_TMP/dr.err" "$IT_TMP/cmp.err")"
fi
if grep -q '^| grew | /app/model.bin |' "$IT_TMP/d.md" && grep -q '^## gpuslim diff' "$IT_TMP/d.md"; then
	ok "html: diff --markdown"
else
	notok "html: diff --markdown" "$(head -40 "$IT_TMP/d.md")"
fi
"$GPUSLIM" diff "$IT_TMP/a.json" "$IT_TMP/b.json" --fail-on-growth 8MB >/dev/null 2>"$IT_TMP/g.err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "grew by 9.0 MB (9000000 bytes).*--fail-on-growth 8MB" "$IT_TMP/g.err"; then
	ok "html: diff --fail-on-growth 8MB: exit 1, $(cat "$IT_TMP/g.err")"
else
	notok "html: diff --fail-on-growth 8MB: exit $rc, want 1" "$(cat "$IT_TMP/g.err")"
fi
"$GPUSLIM" diff "$IT_TMP/a.json" "$IT_TMP/b.json" --fail-on-growth 9000000 >/dev/null 2>"$IT_TMP/g.err"
rc1=$?
pct=$(py "$IT_TMP/a.json" 'print("%.3f%%" % (9000000 * 100.0 / r["summary"]["size"] + 0.001))')
"$GPUSLIM" diff "$IT_TMP/a.json" "$IT_TMP/b.json" --fail-on-growth "$pct" >/dev/null 2>>"$IT_TMP/g.err"
rc2=$?
if [ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]; then
	ok "html: diff --fail-on-growth at the exact growth (9000000, $pct): exit 0"
else
	notok "html: diff --fail-on-growth at the edge: exit $rc1, $rc2" "$(cat "$IT_TMP/g.err")"
fi
"$GPUSLIM" diff "$IT_TMP/a.json" "$IT_TMP/b.json" --fail-on-growth 5%% >/dev/null 2>"$IT_TMP/g.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "fail-on-growth wants a size (500MB) or a percentage (5%), not '5%%'" "$IT_TMP/g.err"; then
	ok "html: diff --fail-on-growth 5%%: exit 2 naming the option"
else
	notok "html: diff bad --fail-on-growth: exit $rc" "$(cat "$IT_TMP/g.err")"
fi
echo '{"summary": {}}' >"$IT_TMP/bad.json"
"$GPUSLIM" diff "$IT_TMP/bad.json" "$IT_TMP/b.json" >/dev/null 2>"$IT_TMP/g.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "report '$IT_TMP/bad.json': no summary.size" "$IT_TMP/g.err"; then
	ok "html: diff of a report without summary.size: exit 2 naming it"
else
	notok "html: diff of a bad report: exit $rc" "$(cat "$IT_TMP/g.err")"
fi

# --- the browser
browser_skip=""
if ! command -v chromium >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "html: installing chromium (apt-get install chromium)" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >"$IT_TMP/apt.log" 2>&1 ||
			{ apt-get update -q >/dev/null 2>&1 &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >"$IT_TMP/apt.log" 2>&1; }
	fi
	command -v chromium >/dev/null 2>&1 ||
		browser_skip="no browser: chromium is not installed and apt-get install chromium failed ($(tail -n1 "$IT_TMP/apt.log" 2>/dev/null || echo "not root"))"
fi
if [ -z "$browser_skip" ] && [ ! -d tests/node/node_modules/puppeteer-core ]; then
	if ! command -v npm >/dev/null 2>&1; then
		browser_skip="no browser driver: npm is not installed (scripts/setup.sh installs it)"
	elif ! (cd tests/node && timeout 600 npm ci --silent --no-audit --no-fund \
		--fetch-retries=2 --fetch-timeout=60000 >"$IT_TMP/npm.log" 2>&1); then
		browser_skip="no browser driver: npm ci in tests/node failed ($(tail -n1 "$IT_TMP/npm.log"))"
	fi
fi
if [ -n "$browser_skip" ]; then
	skip "html: browser checks ($browser_skip)"
else
	CHROMIUM=$(command -v chromium)
	export CHROMIUM
	browser() { # ARGS...: html_check.js's lines, counted
		local line
		while IFS= read -r line; do
			case "$line" in
			"ok - "*) ok "${line#ok - }" ;;
			"not ok - "*) notok "${line#not ok - }" ;;
			"#"*) echo "$line" ;;
			esac
		done < <(timeout 120 node tests/integration/html_check.js "$@" 2>&1; echo "# html_check exit $?")
	}
	browser "$IT_TMP/a.html" --zoom --expect-total "$size_a" --screenshot "$IT_TMP/a.png" \
		--expect-text '<img src=x onerror=alert(1)>.txt' --expect-text 'a&b"c'"'"'d' \
		--expect-text 'bad\xffname'
	browser "$IT_TMP/d.html" --zoom --expect-total 9000000 --expect-text '/app/extra.bin'
	browser "$IT_TMP/gate.html"
	if [ -s "$IT_TMP/a.png" ] && [ "$(head -c 8 "$IT_TMP/a.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]; then
		ok "html: the screenshot is a PNG ($(stat -c %s "$IT_TMP/a.png") bytes)"
	else
		notok "html: the screenshot is no PNG"
	fi
fi

it_done
