#!/usr/bin/env bash
# The reports CI reads, from a real build on the real engine (scripts/infra): a cell whose
# gates fail on purpose (tests/integration/recipes/ci-reports) gives, under
# GITHUB_ACTIONS=true, one ::error/::warning line per failed or warned gate pointing at its
# line in the recipe, and `--sarif` a log valid against the OASIS SARIF 2.1.0 schema
# (tests/ci/sarif-schema-2.1.0.json, checked with python3-jsonschema's draft-04
# validator) whose result sits at the recipe's `rules:` line. --no-github-annotations
# turns the lines off. One small cell, built once (the second run is cached); and a cell
# whose build fails with a workflow command in its log, shown fenced off.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

it_require_infra "build under GITHUB_ACTIONS" "annotations" "sarif valid" "sarif result" \
	"no annotations" "failed log"

cp -r "$ROOT/tests/integration/recipes/ci-reports" "$IT_TMP/repo"
cd "$IT_TMP/repo" || exit 2
# Where the recipe puts each thing (the annotations' and SARIF's line numbers).
size_line=$(grep -n '^  size: 1KB' gpuslim.yaml | cut -d: -f1)
rule_line=$(grep -n '^  missing-command: warn' gpuslim.yaml | cut -d: -f1)

GITHUB_ACTIONS=true "$GPUSLIM" build gpuslim.yaml -o "$IT_TMP/build" --progress plain \
	--sarif out.sarif --junit out.xml --json out.json >"$IT_TMP/b1.out" 2>&1
rc=$?
for ref in $(/usr/bin/python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["cells"]: print(c.get("image") or "")' out.json 2>/dev/null); do
	IT_IMAGES+=("$ref")
done
if [ "$rc" -eq 1 ] && grep -q "1 failed their gates: it-ci-reports" "$IT_TMP/b1.out"; then
	ok "build under GITHUB_ACTIONS: the cell fails its gates (exit 1)"
else
	notok "build under GITHUB_ACTIONS: exit $rc" "$(tail -n 30 "$IT_TMP/b1.out")"
fi

lines=$(grep '^::' "$IT_TMP/b1.out")
if grep -q "^::error file=gpuslim.yaml,line=$size_line,col=9,title=gpuslim it-ci-reports%3A budget size::.* exceeds the budget of 1KB" <<<"$lines" &&
	grep -q "^::warning file=gpuslim.yaml,line=$rule_line,col=3,title=gpuslim it-ci-reports%3A rule missing-command::" <<<"$lines" &&
	! grep -q "rule devel-toolchain" <<<"$lines"; then
	ok "annotations: ::error for the budget (line $size_line), ::warning for the rule (line $rule_line), none for passed gates"
else
	notok "annotations" "$lines"
fi

out=$(/usr/bin/python3 - "$ROOT/tests/ci/sarif-schema-2.1.0.json" out.sarif <<'PY' 2>&1
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=str)
for e in errors[:10]:
    print("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message))
sys.exit(1 if errors else 0)
PY
)
check_rc=$?
if [ "$check_rc" -eq 0 ]; then ok "sarif valid: build --sarif against the OASIS SARIF 2.1.0 schema"
else notok "sarif valid" "$out"; fi

got=$(/usr/bin/python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["runs"][0]["results"]
print(" ".join("%s/%s/%s:%s" % (x["ruleId"], x["level"],
      x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
      x["locations"][0]["physicalLocation"].get("region", {}).get("startLine")) for x in r))' out.sarif 2>&1)
if [ "$got" = "missing-command/warning/gpuslim.yaml:$rule_line" ]; then
	ok "sarif result: missing-command, a warning as the recipe says, at its rules: line"
else
	notok "sarif result: $got"
fi

GITHUB_ACTIONS=true "$GPUSLIM" build gpuslim.yaml -o "$IT_TMP/build" --progress plain --no-github-annotations \
	>"$IT_TMP/b2.out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && ! grep -q '^::' "$IT_TMP/b2.out"; then
	ok "no annotations: --no-github-annotations prints none, even under GITHUB_ACTIONS=true"
else
	notok "no annotations: exit $rc" "$(grep '^::' "$IT_TMP/b2.out")"
fi
# A cell whose build fails, its log holding a workflow command: shown between
# ::stop-commands::TOKEN and ::TOKEN::, and the cell is one ::error, "not built".
GITHUB_ACTIONS=true "$GPUSLIM" build fails.yaml -o "$IT_TMP/fails" --progress plain \
	>"$IT_TMP/b3.out" 2>&1
rc=$?
verdict=$(/usr/bin/python3 - "$IT_TMP/b3.out" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")
starts = [i for i, l in enumerate(lines) if re.fullmatch(r"::stop-commands::[0-9a-f]{32}", l)]
if len(starts) != 1:
    sys.exit("want one ::stop-commands:: line, got %d" % len(starts))
token = lines[starts[0]].split("::")[2]
ends = [i for i, l in enumerate(lines) if l == "::%s::" % token]
inj = [i for i, l in enumerate(lines) if "::error title=injected::" in l and not l.startswith("[")]
if len(ends) != 1 or not inj or not all(starts[0] < i < ends[0] for i in inj):
    sys.exit("the log's command is not between the markers: start %s, end %s, lines %s" % (starts, ends, inj))
if "::error file=fails.yaml,title=gpuslim it-ci-reports-fails::not built" not in lines:
    sys.exit("no ::error for the cell that did not build")
print("ok")
PY
)
if [ "$rc" -eq 1 ] && [ "$verdict" = ok ]; then
	ok "failed log: its workflow commands are fenced off (::stop-commands::), the cell one ::error"
else
	notok "failed log: exit $rc: $verdict" "$(grep -n '::' "$IT_TMP/b3.out")"
fi
it_done
