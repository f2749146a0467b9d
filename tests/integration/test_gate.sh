#!/usr/bin/env bash
# Gates on real images (scripts/infra): the devel fixture fails devel-toolchain; the CUDA
# program gpuslim builds passes every gate, its gpu smoke test "skipped: no GPU" (never
# passed) and --require-gpu fails it; size budgets pass at the exact size and fail one
# byte under it; inspect reads the image; JUnit and Markdown are written.
. "$(dirname "$0")/lib.sh"

it_require_infra "gate: devel fixture fails devel-toolchain" "gate: cuda-vadd passes" \
	"gate: --require-gpu" "gate: budget edges" "inspect"

DEVEL="$REG_OPEN_ADDR/gpuslim-fixtures/cuda:13.0.2-devel-debian12"
VADD_RECIPE=recipes/cuda-vadd/gpuslim.yaml
cd "$ROOT" || exit 1

# gate ARGS...: gpuslim gate, stdout in $IT_TMP/out, stderr in $IT_TMP/err, exit in $rc.
gate() {
	"$GPUSLIM" gate "$@" >"$IT_TMP/out" 2>"$IT_TMP/err"
	rc=$?
}
# jq-free: the status of a gate in a --json report.
gate_status() {
	/usr/bin/python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
print(next((g["status"] + " " + g["message"] for g in r["gates"] if g["name"] == sys.argv[2]), "absent"))' "$1" "$2"
}

# --- The devel fixture: nvcc, headers, static libraries: devel-toolchain fails it.
if ! "$DOCKER" image inspect "$DEVEL" >/dev/null 2>&1 && ! registry_up "$REG_OPEN_ADDR"; then
	skip "gate: devel fixture (no $DEVEL)"
else
	gate "$DEVEL" --recipe "$VADD_RECIPE" --no-smoke --junit "$IT_TMP/devel.xml" \
		--markdown "$IT_TMP/devel.md"
	if [ "$rc" -eq 1 ] && grep -qE '^  FAIL  rule +devel-toolchain ' "$IT_TMP/out"; then
		ok "gate: the devel fixture fails devel-toolchain (exit 1)"
	else
		notok "gate: devel fixture: exit $rc, want 1 naming devel-toolchain" \
			"$(cat "$IT_TMP/out" "$IT_TMP/err")"
	fi
	if /usr/bin/python3 -c 'import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
c = [t for t in r.iter("testcase") if t.get("name") == "devel-toolchain"]
sys.exit(0 if len(c) == 1 and c[0].find("failure") is not None else 1)' "$IT_TMP/devel.xml"; then
		ok "gate: JUnit has devel-toolchain as a failed testcase"
	else
		notok "gate: JUnit" "$(cat "$IT_TMP/devel.xml")"
	fi
	if grep -q '^| \*\*fail\*\* | rule | devel-toolchain |' "$IT_TMP/devel.md"; then
		ok "gate: Markdown table names the failure"
	else
		notok "gate: Markdown" "$(cat "$IT_TMP/devel.md")"
	fi
fi

# --- gpuslim's own CUDA program image passes every gate.
if ! "$GPUSLIM" build "$VADD_RECIPE" -o "$IT_TMP/vadd" --progress plain --no-gate \
	--json "$IT_TMP/vadd.json" >"$IT_TMP/build.out" 2>&1; then
	notok "gate: cuda-vadd builds" "$(cat "$IT_TMP/build.out")"
	it_done
fi
VADD=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cells"][0]["image"])' \
	"$IT_TMP/vadd.json")
IT_IMAGES+=("$VADD")

gate "$VADD" --recipe "$VADD_RECIPE" --json
if [ "$rc" -eq 0 ]; then
	ok "gate: cuda-vadd passes every gate (exit 0)"
else
	notok "gate: cuda-vadd: exit $rc, want 0" "$(head -c 3000 "$IT_TMP/out"; cat "$IT_TMP/err")"
fi
cp "$IT_TMP/out" "$IT_TMP/vadd-report.json"
s=$(gate_status "$IT_TMP/vadd-report.json" "smoke vadd")
case "$s" in
"skip skipped: no GPU"*) ok "gate: the gpu smoke test is 'skipped: no GPU' without a GPU" ;;
"pass "*) if grep -q '^gpu: GPU' "$IT_TMP/err"; then ok "gate: gpu smoke test ran on a GPU: $s"
	else notok "gate: gpu smoke test passed without a GPU" "$s"; fi ;;
*) notok "gate: gpu smoke test: $s" ;;
esac
s=$(gate_status "$IT_TMP/vadd-report.json" "smoke program-starts")
case "$s" in
"pass "*) ok "gate: the program starts and finds its libraries: ${s:0:120}" ;;
*) notok "gate: program-starts: $s" ;;
esac

gate "$VADD" --recipe "$VADD_RECIPE" --require-gpu
if grep -q '^gpu: GPU' "$IT_TMP/err"; then
	skip "gate: --require-gpu (this host has a GPU)"
elif [ "$rc" -eq 1 ] && grep -q 'no GPU and --require-gpu' "$IT_TMP/out"; then
	ok "gate: --require-gpu turns the skip into a failure (exit 1)"
else
	notok "gate: --require-gpu: exit $rc, want 1" "$(cat "$IT_TMP/out" "$IT_TMP/err")"
fi

# --- Budgets at their edges on the real image: exact size passes, one byte less fails.
size=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["size"])' \
	"$IT_TMP/vadd-report.json")
mkdir -p "$IT_TMP/edge"
cp recipes/cuda-vadd/vadd.cu "$IT_TMP/edge/"
for limit in "$size" "$((size - 1))"; do
	sed -e "s/^  size: .*/  size: $limit/" "$VADD_RECIPE" >"$IT_TMP/edge/gpuslim.yaml"
	gate "$VADD" --recipe "$IT_TMP/edge/gpuslim.yaml" --no-smoke
	want=0
	[ "$limit" = "$size" ] || want=1
	if [ "$rc" -eq "$want" ] && grep -qE "^  (pass|FAIL)  budget  size .*\($size bytes\)" "$IT_TMP/out"; then
		ok "gate: size budget $limit for a $size-byte image: exit $rc"
	else
		notok "gate: size budget $limit: exit $rc, want $want" "$(cat "$IT_TMP/out" "$IT_TMP/err")"
	fi
done

# --- Growth against the report as its own baseline: +0 passes a 0% budget.
printf 'budgets:\n  growth: 0%%\n' >"$IT_TMP/edge/growth.yaml"
sed -e '/^budgets:/,$d' "$VADD_RECIPE" >"$IT_TMP/edge/gpuslim.yaml"
cat "$IT_TMP/edge/growth.yaml" >>"$IT_TMP/edge/gpuslim.yaml"
gate "$VADD" --recipe "$IT_TMP/edge/gpuslim.yaml" --no-smoke --baseline "$IT_TMP/vadd-report.json"
if [ "$rc" -eq 0 ] && grep -qE '^  pass  growth +growth .*\+0 B' "$IT_TMP/out"; then
	ok "gate: no growth against itself passes growth: 0%"
else
	notok "gate: growth" "$(cat "$IT_TMP/out" "$IT_TMP/err")"
fi

# --- inspect: analysis only, exit 0, base found by the label.
"$GPUSLIM" inspect "$VADD" --json >"$IT_TMP/inspect.json" 2>"$IT_TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && /usr/bin/python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if "gates" not in r and r["summary"]["base"]["layers"] > 0 else 1)' "$IT_TMP/inspect.json"; then
	ok "inspect: a report without gates, base layers from the image's label"
else
	notok "inspect: exit $rc" "$(head -c 2000 "$IT_TMP/inspect.json"; cat "$IT_TMP/err")"
fi
"$GPUSLIM" inspect "$REG_OPEN_ADDR/gpuslim-fixtures/no-such-image:1" --source registry \
	>"$IT_TMP/out" 2>"$IT_TMP/err"
rc=$?
if [ "$rc" -eq 2 ]; then ok "inspect: a missing image is exit 2"
else notok "inspect: missing image: exit $rc, want 2" "$(cat "$IT_TMP/err")"; fi

it_done
