#!/usr/bin/env bash
# Runs every test of gpuslim and closes on one line: "tests: N passed, N failed, N skipped".
#
#   tests/run.sh                 everything
#   tests/run.sh unit bad        only these groups (runner make unit cli bad plugins golden
#                                examples schema hcl ci fuzz integration)
#   GPUSLIM_VALGRIND=1 tests/run.sh   every gpuslim run under valgrind (leaks fail the test)
#
# Tests are data where the behaviour is data: tests/bad/NAME.yaml beside NAME.err (the
# exact stderr, exit code 2), tests/golden/CASE/gpuslim.yaml beside CASE/expected/.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
GPUSLIM="$ROOT/gpuslim"
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/gpuslim-tests.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

RUNNER=()
if [ "${GPUSLIM_VALGRIND:-0}" = 1 ]; then
	# shellcheck disable=SC2054 # the commas are valgrind's
	RUNNER=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
		--error-exitcode=99)
fi

passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() {
	failed=$((failed + 1))
	echo "not ok - $1"
	[ $# -gt 1 ] && [ -n "$2" ] && printf '%s\n' "$2" | head -n 40 | sed 's/^/#   /'
	return 0
}
skip() { skipped=$((skipped + 1)); echo "skip - $1"; }

gs() { "${RUNNER[@]}" "$GPUSLIM" "$@"; }

# Unit tests: C binaries (tests/unit/unit.h) printing "ok"/"not ok"/"skip" lines and
# "# N passed, M failed, K skipped". A binary that exits nonzero (a crash, valgrind's 99, a
# LeakSanitizer report) or prints no summary is one failure more than it counted itself.
# GPUSLIM_UNIT_DIR: where the binaries are (the runner group points it at bad ones).
group_unit() {
	local t name out rc p f s
	# A test whose binary was not built (a link error, `make` without `make unit`) is a
	# failure, not a silence.
	if [ -z "${GPUSLIM_UNIT_DIR:-}" ]; then
		for t in tests/unit/test_*.c; do
			name=$(basename "$t" .c)
			[ -x "build/tests/$name" ] || notok "unit $name: build/tests/$name is not built (make unit)"
		done
	fi
	for t in "${GPUSLIM_UNIT_DIR:-build/tests}"/test_*; do
		[ -x "$t" ] || continue
		case "$t" in *.d) continue ;; esac
		name=$(basename "$t")
		out=$("${RUNNER[@]}" "$t" 2>&1)
		rc=$?
		summary_counts '^# \([0-9]*\) passed, \([0-9]*\) failed\(, \([0-9]*\) skipped\)\{0,1\}$'
		if [ -z "$p" ]; then
			notok "unit $name: no summary line (exit $rc)" "$out"
			continue
		fi
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
		if [ "$f" -ne 0 ]; then
			echo "not ok - unit $name: $f of $((p + f)) checks failed (exit $rc)"
			printf '%s\n' "$out" | grep -A3 '^not ok' | head -n 40 | sed 's/^/#   /'
		elif [ "$rc" -ne 0 ]; then
			notok "unit $name: exit $rc after $p passed, 0 failed" "$(printf '%s\n' "$out" | tail -n 40)"
		else
			echo "ok - unit $name: $p checks$([ "$s" -eq 0 ] || echo ", $s skipped")"
		fi
		[ "$s" -eq 0 ] || printf '%s\n' "$out" | grep '^skip - ' | sed "s/^skip - /skip - unit $name: /"
	done
}

# summary_counts PATTERN: p, f and s (passed, failed, skipped) from the last line of $out
# that matches PATTERN, a sed regex whose groups 1, 2 and 4 are the counts; p is empty when
# no line matches, s is 0 when the line has no skipped count.
summary_counts() {
	local line
	line=$(printf '%s\n' "$out" | sed -n "s/$1/\1 \2 \4/p" | tail -n1)
	read -r p f s <<<"$line"
	s=${s:-0}
}

# Bad recipes: exact stderr, exit code 2, nothing on stdout.
group_bad() {
	local y name want got rc
	for y in tests/bad/*.yaml; do
		[ -e "$y" ] || continue
		name=${y%.yaml}
		want="$name.err"
		if [ ! -f "$want" ]; then
			notok "bad $y: missing $want"
			continue
		fi
		gs validate "$y" >"$TMP/out" 2>"$TMP/err"
		rc=$?
		if [ "$rc" -ne 2 ]; then
			notok "bad $y: exit $rc, want 2" "$(cat "$TMP/err")"
		elif ! diff -u "$want" "$TMP/err" >"$TMP/diff"; then
			notok "bad $y: stderr differs" "$(cat "$TMP/diff")"
		elif [ -s "$TMP/out" ]; then
			notok "bad $y: printed on stdout" "$(cat "$TMP/out")"
		else
			ok "bad $y"
		fi
	done
}

# Broken knowledge plugins: tests/bad-plugins/NAME/ beside NAME.err.
group_plugins() {
	local d name rc
	for d in tests/bad-plugins/*/; do
		[ -d "$d" ] || continue
		name=${d%/}
		gs plan tests/bad-plugins/ok.yaml --plugins "$name" >"$TMP/out" 2>"$TMP/err"
		rc=$?
		if [ "$rc" -ne 2 ]; then
			notok "plugins $name: exit $rc, want 2" "$(cat "$TMP/err")"
		elif ! diff -u "$name.err" "$TMP/err" >"$TMP/diff"; then
			notok "plugins $name: stderr differs" "$(cat "$TMP/diff")"
		else
			ok "plugins $name"
		fi
	done
}

# golden_generate CASE DIR: the case (its recipe and context files, not expected/) copied
# into DIR, generated into DIR/out, as a user would beside a recipe: the bake file's paths
# are then relative and name nothing of this machine.
golden_generate() {
	mkdir -p "$2" && cp -r "$1/." "$2/" && rm -rf "$2/expected" &&
		gs generate "$2/gpuslim.yaml" -o "$2/out" >/dev/null
}

# orchestrator/core/closure.sh, which render_dockerfile.c joins into one RUN: shellcheck-clean,
# and every line but the last ends where a blank does what the newline did.
golden_closure_sh() {
	local f=orchestrator/core/closure.sh bad
	bad=$(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$f" | sed '$d' |
		grep -v -E '(;|\{|[[:space:]](then|do|else)|\||&&)$')
	if [ -n "$bad" ]; then
		notok "golden $f: lines that do not join into one RUN" "$bad"
	else
		ok "golden $f: every line joins into one RUN"
	fi
	if ! command -v shellcheck >/dev/null 2>&1; then
		skip "golden $f: shellcheck (not installed)"
	elif shellcheck "$f" >"$TMP/shellcheck" 2>&1; then
		ok "golden $f: shellcheck"
	else
		notok "golden $f: shellcheck" "$(cat "$TMP/shellcheck")"
	fi
}

# Golden cases: plan JSON and every generated file, byte for byte, and twice the same.
group_golden() {
	local d name exp out
	golden_closure_sh
	for d in tests/golden/*/; do
		d=${d%/}
		[ -f "$d/gpuslim.yaml" ] || continue
		name=$(basename "$d")
		exp="$d/expected"
		out="$TMP/golden-$name"
		mkdir -p "$out"
		if ! gs plan "$d/gpuslim.yaml" --json >"$out/plan.json" 2>"$out/err"; then
			notok "golden $name: plan failed" "$(cat "$out/err")"
			continue
		fi
		if diff -u "$exp/plan.json" "$out/plan.json" >"$out/diff"; then
			ok "golden $name: plan.json"
		else
			notok "golden $name: plan.json differs" "$(cat "$out/diff")"
		fi
		if ! golden_generate "$d" "$out/a" 2>"$out/err"; then
			notok "golden $name: generate failed" "$(cat "$out/err")"
			continue
		fi
		cp "$exp/plan.json" "$out/a/out/plan.json"
		if diff -ru "$exp" "$out/a/out" >"$out/diff"; then
			ok "golden $name: generated files"
		else
			notok "golden $name: generated files differ" "$(cat "$out/diff")"
		fi
		golden_generate "$d" "$out/b" 2>/dev/null
		cp "$exp/plan.json" "$out/b/out/plan.json"
		if diff -r "$out/a/out" "$out/b/out" >/dev/null; then
			ok "golden $name: same recipe, byte-identical files"
		else
			notok "golden $name: two runs differ"
		fi
	done
}

# The command line itself: usage errors are exit 2 with a message, --help is exit 0.
# expect_cli WHAT CODE PATTERN ARGS...: exit CODE and PATTERN (grep -E) in the output.
expect_cli() {
	local what=$1 code=$2 pattern=$3 rc
	shift 3
	if [ -n "${GS_TIMEOUT:-}" ]; then # a guard where the bug would be a hang
		timeout "$GS_TIMEOUT" "${RUNNER[@]}" "$GPUSLIM" "$@" >"$TMP/out" 2>&1
	else
		gs "$@" >"$TMP/out" 2>&1
	fi
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -qE -- "$pattern" "$TMP/out"; then
		ok "cli: $what"
	else
		notok "cli: $what: exit $rc, want $code and /$pattern/" "$(cat "$TMP/out")"
	fi
}

group_cli() {
	local y=recipes/cuda-vadd/gpuslim.yaml
	expect_cli "no command" 2 '^usage: gpuslim <command>'
	expect_cli "unknown command" 2 "'frobnicate' is not a command" frobnicate
	expect_cli "--help lists the commands" 0 '^  generate ' --help
	expect_cli "--version" 0 '^gpuslim [0-9]' --version
	expect_cli "a command's --help" 0 '^usage: gpuslim plan \[options\] RECIPE' plan --help
	expect_cli "unknown long option" 2 "unknown option '--frob'" plan "$y" --frob
	expect_cli "unknown short option" 2 "unknown option '-x'" plan -x "$y"
	expect_cli "missing argument" 2 'missing argument RECIPE' plan
	expect_cli "missing option value" 2 "option '--out' needs a value" generate "$y" --out
	expect_cli "required option" 2 'missing option --out' generate "$y"
	expect_cli "a switch takes no value" 2 "option '--json' takes no value" plan "$y" --json=yes
	expect_cli "extra argument" 2 "unexpected argument 'extra'" plan "$y" extra
	expect_cli "a missing recipe file" 2 "cannot read 'nope.yaml'" validate nope.yaml
	expect_cli "a short option's value attached (-oDIR)" 0 "$TMP/attached/Dockerfile" \
		generate "$y" "-o$TMP/attached"
	expect_cli "--name=value" 0 "$TMP/eq/Dockerfile" generate "$y" "--out=$TMP/eq"
	expect_cli "generate again into a directory it filled" 0 "$TMP/eq/Dockerfile" \
		generate "$y" "--out=$TMP/eq"
	mkdir -p "$TMP/cli-other"
	echo keep >"$TMP/cli-other/notes.txt"
	expect_cli "generate into a directory with other files" 0 "$TMP/cli-other/Dockerfile" \
		generate "$y" -o "$TMP/cli-other"
	if [ "$(cat "$TMP/cli-other/notes.txt")" = keep ] && ! ls "$TMP"/cli-other.tmp-* >/dev/null 2>&1; then
		ok "cli: generate leaves the directory's other files alone, and no temporary"
	else
		notok "cli: generate into a directory with other files" "$(ls -la "$TMP" "$TMP/cli-other")"
	fi
	expect_cli "build -j 0" 2 "^gpuslim: -j/--jobs wants a number from 1 to 1024, not '0'$" \
		build "$y" -j 0 --offline
	expect_cli "build --backend nope" 2 \
		"^gpuslim: unknown build backend 'nope': use 'buildx' or 'buildkit'$" \
		build "$y" --backend nope --offline
	expect_cli "build --progress nope" 2 "^gpuslim: --progress wants auto, tty or plain, not 'nope'$" \
		build "$y" --progress nope --offline
	expect_cli "build --engine http://..." 2 "^gpuslim: --engine: engine 'http://h:2375' is not an engine" \
		build "$y" --engine http://h:2375 --offline -o "$TMP/cli-engines"
	expect_cli "build --retry-elsewhere without engines" 2 \
		"^gpuslim: --retry-elsewhere needs engines: --engine, GPUSLIM_ENGINES or output.engines$" \
		build "$y" --retry-elsewhere --offline -o "$TMP/cli-engines"
	expect_cli "build --jobs-per-engine 0" 2 \
		"^gpuslim: --jobs-per-engine wants a number from 1 to 1024, not '0'$" \
		build "$y" --engine ctx --jobs-per-engine 0 --offline -o "$TMP/cli-engines"
	expect_cli "gate without --recipe" 2 "^gpuslim gate: missing option --recipe$" gate some/image
	expect_cli "inspect --source nope" 2 \
		"^gpuslim: --source wants auto, engine, registry, archive or oci, not 'nope'$" \
		inspect some/image --source nope
	expect_cli "gate --top abc" 2 "^gpuslim: --top wants a number from 1 to 100000, not 'abc'$" \
		gate some/image --recipe "$y" --top abc
	# A FIFO as the context's .dockerignore: refused, never read (a read would block).
	mkdir -p "$TMP/cli-fifo"
	cp recipes/cuda-vadd/gpuslim.yaml recipes/cuda-vadd/vadd.cu "$TMP/cli-fifo/"
	mkfifo "$TMP/cli-fifo/.dockerignore"
	GS_TIMEOUT=60 expect_cli "a FIFO as the context's .dockerignore is exit 2, not a hang" 2 \
		"cannot read '.*/cli-fifo/.dockerignore': not a regular file" \
		generate "$TMP/cli-fifo/gpuslim.yaml" -o "$TMP/cli-fifo-out"
	mkdir -p "$TMP/cli-foreign"
	echo 'FROM scratch' >"$TMP/cli-foreign/Dockerfile.cuda-vadd"
	expect_cli "build into a directory holding a user's Dockerfile.<cell> is exit 2" 2 \
		"Dockerfile.cuda-vadd': a file gpuslim did not write is there" \
		build "$y" --offline --no-gate -o "$TMP/cli-foreign"
	expect_cli "unwritable output directory is exit 3" 3 "cannot (create|write)" \
		generate "$y" -o /proc/gpuslim-cannot-write
	cli_outputs "$y"
	cli_commands "$y"
	cli_fanout
	cli_diff
}

# CI fan-out: plan --ci-matrix, build --cell and --stage refusals, report merge and promote
# on the build reports of tests/data/fanout (two cells x and y of one recipe; promote's
# refusals come before any registry is asked).
cli_fanout() {
	local m=recipes/matrix/gpuslim.yaml f=tests/data/fanout d="$TMP/fanout"
	mkdir -p "$d"
	expect_cli "plan --ci-matrix: the cells on one line" 0 \
		'^\{"include":\[\{"cell":"matrix-nocudnn-strip-none","image":"127.0.0.1:5000/gpuslim-examples/matrix:nocudnn-strip-none","tag":"nocudnn-strip-none","cuda":"13.0.2","os":"debian12","python":"3.11","framework":""\},' \
		plan "$m" --ci-matrix
	if [ "$(wc -l <"$TMP/out")" -eq 1 ] &&
		"$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); assert [c["cell"] for c in m["include"]] == ["matrix-nocudnn-strip-none","matrix-nocudnn-strip-unneeded","matrix-cudnn-strip-none","matrix-cudnn-strip-unneeded"]' "$TMP/out"; then
		ok "cli: plan --ci-matrix: one line, JSON, four cells in the plan's order"
	else
		notok "cli: plan --ci-matrix output" "$(cat "$TMP/out")"
	fi
	expect_cli "plan --json --ci-matrix" 2 "^gpuslim: --json and --ci-matrix are two outputs" \
		plan "$m" --json --ci-matrix
	expect_cli "build --cell of no cell" 2 \
		"^gpuslim: no cell 'nope' in the recipe; its 4 cells: matrix-nocudnn-strip-none, matrix-nocudnn-strip-unneeded, matrix-cudnn-strip-none, matrix-cudnn-strip-unneeded$" \
		build "$m" --offline --cell matrix-cudnn-strip-none --cell nope -o "$d/b"
	expect_cli "build --stage without --push" 2 "^gpuslim: --stage names the tag a push goes to: it needs --push$" \
		build "$m" --offline --stage ci1 -o "$d/b"
	expect_cli "build --stage with a slash" 2 "^gpuslim: --stage 'a/b': a tag suffix is letters, digits" \
		build "$m" --offline --push --stage a/b -o "$d/b"
	expect_cli "report merge: two jobs' reports" 0 "^merged 2 reports: 2 of 2 cells built, every gate passed$" \
		report merge "$f/y.json" "$f/x.json" --json "$d/m.json" --junit "$d/m.xml" --markdown "$d/m.md"
	if "$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); assert [c["id"] for c in m["cells"]] == ["x","y"] and m["status"] == "ok"' "$d/m.json" &&
		grep -q '<testsuites name="gpuslim" tests="4" failures="0"' "$d/m.xml" &&
		grep -q 'name="smoke hello" time="0.512"' "$d/m.xml" && grep -q '^## x: pass' "$d/m.md"; then
		ok "cli: report merge: the cells in the matrix's order, JUnit and Markdown from them"
	else
		notok "cli: report merge output" "$(cat "$d/m.json" "$d/m.xml")"
	fi
	expect_cli "report merge: a cell in two reports" 2 \
		"^gpuslim: cell 'x' is in $f/x.json and in $f/x-again.json: each cell once$" \
		report merge "$f/x.json" "$f/x-again.json"
	expect_cli "report merge: reports of two recipes" 2 \
		"^gpuslim: $f/x.json and $f/y-other-recipe.json are reports of different recipes" \
		report merge "$f/x.json" "$f/y-other-recipe.json"
	expect_cli "report merge: a cell missing is exit 1" 1 "^gpuslim: cell 'y' is in none of the reports$" \
		report merge "$f/x.json" --json "$d/x-only.json"
	expect_cli "report merge: a failed cell is exit 1" 1 "^gpuslim: cell 'y': fail$" \
		report merge "$f/x.json" "$f/y-failed.json" --json "$d/failed.json"
	expect_cli "report merge: not JSON" 2 "^gpuslim: $f/not-json.json:2:0: not a build report" \
		report merge "$f/not-json.json"
	expect_cli "report merge: a bad gate" 2 \
		"^gpuslim: $f/bad-gate-status.json: cells\[0\].gate.gates\[1\].status: expected pass, fail, warn or skip$" \
		report merge "$f/bad-gate-status.json"
	expect_cli "report merge: no report" 2 "name the reports to merge" report merge
	expect_cli "report promote: a cell failed its gates" 1 \
		"^gpuslim: not promoting: 1 cell cannot be promoted; no tag was touched$" \
		report promote "$d/failed.json"
	grep -q "^gpuslim: cell 'y' failed its gates$" "$TMP/out" && ok "cli: report promote names the failed cell" ||
		notok "cli: report promote names the failed cell" "$(cat "$TMP/out")"
	expect_cli "report promote: a cell missing" 1 "^gpuslim: cell 'y' is not in $d/x-only.json" \
		report promote "$d/x-only.json"
	expect_cli "report --help" 0 "^  merge A.json B.json" report --help
	expect_cli "report frob" 2 "'frob' is not a subcommand" report frob
}

# gpuslim diff of saved reports (no engine): text, exit codes, --fail-on-growth's edges.
cli_diff() {
	local r=tests/data/reports
	expect_cli "diff of two saved reports" 0 '^size +117\.4 MB -> 2\.70 GB \(\+2\.58 GB\)$' \
		diff "$r/vadd.json" "$r/devel.json"
	expect_cli "diff of reports without a sizemap says the paths are not compared" 0 \
		'^Paths: not compared \(a report has no sizemap' diff "$r/vadd.json" "$r/devel.json"
	expect_cli "diff --fail-on-growth under the growth is exit 1" 1 \
		"^gpuslim: '$r/devel.json' grew by 2\.58 GB \(2582601472 bytes\) over '$r/vadd.json': more than --fail-on-growth 2GB \(2\.00 GB\)$" \
		diff "$r/vadd.json" "$r/devel.json" --fail-on-growth 2GB
	expect_cli "diff --fail-on-growth at the growth is exit 0" 0 '^size ' \
		diff "$r/vadd.json" "$r/devel.json" --fail-on-growth 2582601472
	expect_cli "diff --fail-on-growth PCT" 1 "grew by .*2199\.86%\) over .*--fail-on-growth 2000%$" \
		diff "$r/vadd.json" "$r/devel.json" --fail-on-growth 2000%
	expect_cli "diff of a smaller image passes --fail-on-growth 0" 0 '\(-2\.58 GB\)$' \
		diff "$r/devel.json" "$r/vadd.json" --fail-on-growth 0
	expect_cli "diff --fail-on-growth nope is exit 2" 2 \
		"^gpuslim: --fail-on-growth wants a size \(500MB\) or a percentage \(5%\), not 'nope'$" \
		diff "$r/vadd.json" "$r/devel.json" --fail-on-growth nope
	expect_cli "diff of a JSON file that is no report is exit 2" 2 \
		"^gpuslim: report 'tests/data/locks/good.lock': no summary.size" \
		diff tests/data/locks/good.lock "$r/devel.json"
	expect_cli "diff without B" 2 'missing argument B' diff "$r/vadd.json"
	expect_cli "diff --json" 0 '^  "schema_version": 1,$' diff "$r/vadd.json" "$r/devel.json" --json
	expect_cli "diff --markdown -" 0 '^\| size \| 117\.4 MB \| 2\.70 GB \| \+2\.58 GB \|$' \
		diff "$r/vadd.json" "$r/devel.json" --markdown -
	expect_cli "diff --html" 0 '^size ' diff "$r/vadd.json" "$r/devel.json" --html "$TMP/diff.html"
	if grep -q 'id="gpuslim-data"' "$TMP/diff.html" 2>/dev/null; then ok "cli: diff --html writes the page"
	else notok "cli: diff --html writes the page"; fi
}

# Report files (--junit, --markdown, --markdown-append, build's --json) are written to what
# they name and never replace it: a link stays a link, a FIFO a FIFO; "-" and /dev/fd/1 are
# stdout. A gate on a file runs no smoke test. The image is an archive made here.
cli_outputs() {
	local y=$1 img="$TMP/cli-img" d="$TMP/cli-out" fake="$ROOT/tests/fake/docker-smoke" cat_pid rc
	mkdir -p "$d"
	if ! "$PY" tests/fake/image_tars.py small "$img" >"$TMP/out" 2>&1 ||
		! "$PY" tests/fake/image_tars.py oci "$img/small.tar" "$img/layout" none >"$TMP/out" 2>&1; then
		notok "cli: tests/fake/image_tars.py small" "$(cat "$TMP/out")"
		return
	fi
	echo old >"$d/real.xml"
	ln -s real.xml "$d/link.xml"
	ln -s missing.md "$d/dangling.md"
	gs gate "$img/small.tar" --recipe "$y" --docker "$fake" --junit "$d/link.xml" \
		--markdown "$d/dangling.md" >"$TMP/out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ -L "$d/link.xml" ] && [ "$(readlink "$d/link.xml")" = real.xml ] &&
		grep -q '^<testsuites' "$d/real.xml" && [ -L "$d/dangling.md" ] &&
		grep -q '^## ' "$d/missing.md"; then
		ok "cli: a report through a link replaces the link's target, and the link stays"
	else
		notok "cli: a report through a link (exit $rc)" "$(cat "$TMP/out"; ls -la "$d")"
	fi

	# The FIFO's reader is ours: it ends when gpuslim closes the FIFO, or is killed when
	# gpuslim replaced the FIFO (it would wait forever on the old one).
	mkfifo "$d/fifo"
	cat "$d/fifo" >"$d/fifo.out" &
	cat_pid=$!
	gs gate "$img/small.tar" --recipe "$y" --docker "$fake" --junit "$d/fifo" >"$TMP/out" 2>&1
	rc=$?
	if [ -p "$d/fifo" ]; then
		exec 4<>"$d/fifo" # a writer that never blocks: ends a reader gpuslim never reached
		exec 4>&-
		wait "$cat_pid"
	else
		kill "$cat_pid"
		wait "$cat_pid" 2>/dev/null
	fi
	if [ "$rc" -eq 0 ] && [ -p "$d/fifo" ] && grep -q '^<testsuites' "$d/fifo.out"; then
		ok "cli: --junit FIFO is written through, the FIFO stays"
	else
		notok "cli: --junit FIFO (exit $rc)" "$(cat "$TMP/out"; ls -la "$d")"
	fi

	gs inspect "$img/small.tar" --markdown - >"$d/dash.out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q '^== ' "$d/dash.out" && grep -q '^## ' "$d/dash.out" && [ ! -e ./- ]; then
		ok "cli: --markdown - is stdout, after the summary"
	else
		notok "cli: --markdown - (exit $rc)" "$(cat "$TMP/err" "$d/dash.out")"
	fi
	gs gate "$img/small.tar" --recipe "$y" --docker "$fake" --junit /dev/fd/1 >"$d/fd1.out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q '^== ' "$d/fd1.out" && grep -q '^<testsuites' "$d/fd1.out"; then
		ok "cli: --junit /dev/fd/1 is the open stdout, not a file to replace"
	else
		notok "cli: --junit /dev/fd/1 (exit $rc)" "$(cat "$TMP/err" "$d/fd1.out")"
	fi

	echo "# earlier step" >"$d/summary.md"
	gs inspect "$img/small.tar" --markdown-append "$d/summary.md" >/dev/null 2>"$TMP/err" &&
		gs gate "$img/small.tar" --recipe "$y" --docker "$fake" \
			--markdown-append "$d/summary.md" >/dev/null 2>>"$TMP/err"
	rc=$?
	if [ "$rc" -eq 0 ] && [ "$(head -n1 "$d/summary.md")" = "# earlier step" ] &&
		[ "$(grep -c '^## ' "$d/summary.md")" -eq 2 ]; then
		ok "cli: --markdown-append adds to the file (\$GITHUB_STEP_SUMMARY)"
	else
		notok "cli: --markdown-append (exit $rc)" "$(cat "$TMP/err" "$d/summary.md")"
	fi

	# gate on an archive or a layout (--source auto): the smoke tests are skips that say
	# why, and docker never runs
	for src in small.tar layout; do
		: >"$d/docker.log"
		FAKE_DOCKER_LOG="$d/docker.log" gs gate "$img/$src" --recipe "$y" --docker "$fake" \
			>"$TMP/out" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ] && ! grep -q '^run ' "$d/docker.log" &&
			grep -q "^note: smoke tests skipped: '$img/$src' is a file" "$TMP/out" &&
			grep -qE "^  skip  smoke   smoke vadd +skipped: '$img/$src' is (a docker-save archive|an OCI image layout), not an image in the engine" "$TMP/out"; then
			ok "cli: gate on $src (source auto) skips the smoke tests, saying why"
		else
			notok "cli: gate on $src (source auto) (exit $rc)" "$(cat "$TMP/out" "$d/docker.log")"
		fi
	done
	# ARCHIVE:TAG is a file too (its tag holds ':' and '/'): no engine is asked at all.
	: >"$d/docker.log"
	FAKE_DOCKER_LOG="$d/docker.log" gs gate "$img/small.tar:gpuslim-test/small:1" --recipe "$y" \
		--docker "$fake" >"$TMP/out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$d/docker.log" ] &&
		grep -q "^note: smoke tests skipped: '$img/small.tar:gpuslim-test/small:1' is a file" "$TMP/out"; then
		ok "cli: gate on small.tar:TAG asks no engine and skips the smoke tests"
	else
		notok "cli: gate on small.tar:TAG (exit $rc)" "$(cat "$TMP/out" "$d/docker.log")"
	fi
}

# The command line's conventions: help CMD, -V, numbers, "-" as stdin, validate's files,
# signals, terminals.
cli_commands() {
	local y=$1 d="$TMP/cli-cmd" pid rc
	mkdir -p "$d"
	expect_cli "help CMD is CMD --help" 0 '^usage: gpuslim gate \[options\] IMAGE' help gate
	expect_cli "help of no command" 2 "'nope' is not a command" help nope
	expect_cli "-V" 0 '^gpuslim [0-9]' -V
	expect_cli "-j with a trailing space" 2 "^gpuslim: -j/--jobs wants a number from 1 to 1024, not '2 '$" \
		build "$y" -j "2 " --offline --docker "$TMP/no-docker"
	expect_cli "-j with a leading space" 2 "^gpuslim: -j/--jobs wants a number from 1 to 1024, not ' 2'$" \
		build "$y" -j " 2" --offline --docker "$TMP/no-docker"
	expect_cli "--top with a leading space" 2 "^gpuslim: --top wants a number from 1 to 100000, not ' 3'$" \
		gate some/image --recipe "$y" --top " 3"

	: >"$d/empty.json"
	echo '{"summary": {"size": -5}}' >"$d/negative.json"
	expect_cli "an empty --baseline" 2 "^gpuslim: baseline '$d/empty.json' is empty" \
		gate some/image --recipe "$y" --baseline "$d/empty.json"
	expect_cli "a --baseline with a negative size" 2 \
		"^gpuslim: baseline '$d/negative.json': summary.size: -5, want a size in bytes" \
		gate some/image --recipe "$y" --baseline "$d/negative.json"

	if gs validate - <"$y" >"$TMP/out" 2>&1 && grep -q '^<stdin>: ok' "$TMP/out"; then
		ok "cli: validate - reads the recipe from stdin"
	else
		notok "cli: validate -" "$(cat "$TMP/out")"
	fi
	printf 'name: x\nfrobnicate: 1\n' | gs validate - >"$TMP/out" 2>&1
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q '^<stdin>:2:1: frobnicate: ' "$TMP/out"; then
		ok "cli: a recipe on stdin is '<stdin>' in errors"
	else
		notok "cli: a bad recipe on stdin (exit $rc)" "$(cat "$TMP/out")"
	fi
	# the current directory is the recipe's: the default build directory lands there
	(cd "$d" && FAKE_BUILD_STATE="$d/state" "$GPUSLIM" build - --offline --no-gate \
		--docker "$ROOT/tests/fake/docker-builds" <"$ROOT/$y") >"$TMP/out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ -f "$d/.gpuslim/build/Dockerfile.cuda-vadd" ]; then
		ok "cli: build - builds from the current directory"
	else
		notok "cli: build - (exit $rc)" "$(cat "$TMP/out")"
	fi

	gs validate "$y" tests/bad/001-unknown-key-suggestion.yaml recipes/torch-cpu/gpuslim.yaml \
		>"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q "^$y: ok" "$TMP/out" &&
		grep -q '^recipes/torch-cpu/gpuslim.yaml: ok' "$TMP/out" &&
		grep -q '^tests/bad/001-unknown-key-suggestion.yaml:' "$TMP/err"; then
		ok "cli: validate takes several files, reports each, exits with the worst"
	else
		notok "cli: validate of several files (exit $rc)" "$(cat "$TMP/out" "$TMP/err")"
	fi
	cp "$y" "$d/gpuslim.yaml"
	mkdir -p "$d/none"
	# The runner's own directory changes here: back to $ROOT whatever happens.
	if cd "$d"; then
		expect_cli "validate without an argument validates ./gpuslim.yaml" 0 \
			'^gpuslim.yaml: ok' validate
	else
		notok "cli: cannot enter $d"
	fi
	if cd "$d/none"; then
		expect_cli "validate without an argument nor ./gpuslim.yaml says so" 2 \
			"^gpuslim: no recipe given and no 'gpuslim.yaml' in the current directory" validate
	else
		notok "cli: cannot enter $d/none"
	fi
	cd "$ROOT" || exit 2

	# SIGTERM is 130, as the README's table says. inspect waits on a FIFO: once our open for
	# writing returns, gpuslim has it open, so its handlers are in place.
	mkfifo "$d/in.tar"
	"$GPUSLIM" inspect "$d/in.tar" >"$TMP/out" 2>&1 &
	pid=$!
	exec 4>"$d/in.tar"
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	exec 4>&-
	if [ "$rc" -eq 130 ] && grep -q '^gpuslim: interrupted by SIGTERM$' "$TMP/out"; then
		ok "cli: inspect stopped by SIGTERM exits 130"
	else
		notok "cli: inspect stopped by SIGTERM: exit $rc, want 130" "$(cat "$TMP/out")"
	fi

	# The live block's cursor movements only on a terminal that takes them: `script` gives
	# gpuslim a terminal; TERM=xterm proves this test sees them when they are there.
	if ! command -v script >/dev/null; then
		skip "cli: TERM=dumb (no script(1) to make a terminal)"
		return
	fi
	for term in xterm dumb unset; do
		rm -rf "$d/live"
		(if [ "$term" = unset ]; then unset TERM; else export TERM=$term; fi
		 FAKE_BUILD_STATE="$d/state" script -qec "'$GPUSLIM' build '$ROOT/$y' --offline --no-gate \
			--docker '$ROOT/tests/fake/docker-builds' -o '$d/live'" /dev/null) >"$TMP/out" 2>&1
		rc=$?
		if [ "$term" = xterm ] && [ "$rc" -eq 0 ] && grep -q $'\033\\[' "$TMP/out"; then
			ok "cli: TERM=xterm on a terminal gets the live block"
		elif [ "$term" != xterm ] && [ "$rc" -eq 0 ] && ! grep -q $'\033' "$TMP/out" &&
			grep -q 'cuda-vadd\] done' "$TMP/out"; then
			ok "cli: TERM=$term on a terminal gets plain lines, no escapes"
		else
			notok "cli: TERM=$term on a terminal (exit $rc)" "$(cat -v "$TMP/out")"
		fi
	done
}

# The shipped example and every recipe under recipes/ plan cleanly, offline.
group_examples() {
	local y
	for y in gpuslim.yaml.example recipes/*/gpuslim.yaml; do
		if gs validate "$y" >"$TMP/out" 2>&1; then
			ok "example $y: $(cat "$TMP/out")"
		else
			notok "example $y does not validate" "$(cat "$TMP/out")"
		fi
	done
}

# The Makefile, in a scratch copy of the tree that starts from this tree's objects (little
# is rebuilt): `make install PREFIX=...` gives a gpuslim that finds its data from any
# directory, by the prefix built in, and by its own place once the prefix has moved; DESTDIR
# stages; `make uninstall` leaves nothing; new flags rebuild an object, the same flags do not.
group_make() {
	local src=$TMP/make-src prefix=$TMP/make-prefix stage=$TMP/make-stage
	local lonely=$TMP/make-lonely/gpuslim obj=build/orchestrator/util/strbuf.o
	mkdir -p "$src/build" "$TMP/make-elsewhere" "${lonely%/*}"
	cp -a Makefile orchestrator plugins schemas "$src/"
	[ ! -d build/orchestrator ] || cp -a build/orchestrator build/GPUSLIM-* "$src/build/"
	cp -a recipes/cuda-vadd/. "$TMP/make-elsewhere/"
	# mk ARGS...: make in the copy, never silenced by an outer make; its output in make.out.
	# Nothing of the caller's make (make test SANITIZE=address, DESTDIR=...) reaches the copy.
	mk() {
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u SANITIZE -u DESTDIR \
			-u PREFIX -u DEV -u CFLAGS -u LDFLAGS make -j2 -C "$src" "$@" >"$TMP/make.out" 2>&1
	}

	if ! mk install PREFIX="$prefix"; then
		notok "make install PREFIX=..." "$(cat "$TMP/make.out")"
		return
	fi
	if [ -x "$prefix/bin/gpuslim" ] && diff -r plugins "$prefix/share/gpuslim/plugins" >/dev/null &&
		diff -r schemas "$prefix/share/gpuslim/schemas" >/dev/null; then
		ok "make install: bin/gpuslim, share/gpuslim/plugins and schemas"
	else
		notok "make install: files" "$(cd "$TMP" && find make-prefix)"
	fi
	cp "$prefix/bin/gpuslim" "$lonely"
	installed_runs "$prefix/bin/gpuslim" "installed"
	installed_runs "$lonely" "a copy of the binary alone (the prefix built in)"
	mv "$prefix" "$prefix-moved"
	installed_runs "$prefix-moved/bin/gpuslim" "the prefix moved elsewhere"
	if installed_runs "$lonely" >/dev/null; then
		notok "make install: a binary with neither its prefix nor a share/ beside it planned"
	elif grep -q "'$prefix/share/gpuslim/plugins'" "$TMP/make.out"; then
		ok "make install: with its data gone, the error names the directory: $(head -n1 "$TMP/make.out")"
	else
		notok "make install: with its data gone, the error names no directory" "$(cat "$TMP/make.out")"
	fi
	mv "$prefix-moved" "$prefix"
	if mk uninstall PREFIX="$prefix" && [ -z "$(find "$prefix" ! -type d)" ] &&
		[ ! -e "$prefix/share/gpuslim" ]; then
		ok "make uninstall leaves nothing"
	else
		notok "make uninstall" "$(cat "$TMP/make.out"; find "$prefix")"
	fi
	if mk install DESTDIR="$stage" PREFIX=/opt/gpuslim-test && [ ! -e /opt/gpuslim-test ]; then
		installed_runs "$stage/opt/gpuslim-test/bin/gpuslim" "DESTDIR=... PREFIX=/opt/..."
	else
		notok "make install DESTDIR=..." "$(cat "$TMP/make.out")"
	fi
	if mk uninstall DESTDIR="$stage" PREFIX=/opt/gpuslim-test && [ -z "$(find "$stage" ! -type d)" ]; then
		ok "make uninstall DESTDIR=... leaves nothing"
	else
		notok "make uninstall DESTDIR=..." "$(cat "$TMP/make.out"; find "$stage")"
	fi

	# The flags, last: each change below rewrites build/GPUSLIM-CFLAGS in the copy.
	compiled() { grep -q -- "-o $obj " "$TMP/make.out"; }
	has_asan() { nm "$src/$obj" | grep -q __asan; }
	if mk "$obj" && mk "$obj" && ! compiled; then ok "make: the same flags rebuild nothing"
	else notok "make: the same flags rebuilt $obj" "$(cat "$TMP/make.out")"; fi
	if mk "$obj" SANITIZE=address && compiled && has_asan; then
		ok "make: SANITIZE=address after make rebuilds with ASan"
	else
		notok "make: SANITIZE=address after make did not rebuild with ASan" "$(cat "$TMP/make.out")"
	fi
	if mk "$obj" SANITIZE=address && ! compiled && mk "$obj" && compiled && ! has_asan; then
		ok "make: then the same flags rebuild nothing, and make rebuilds without ASan"
	else
		notok "make: rebuilds after SANITIZE=address" "$(cat "$TMP/make.out")"
	fi
}

# installed_runs GPUSLIM [WHAT]: validate and plan the cuda-vadd recipe from a directory far
# from any source tree, with no GPUSLIM_PLUGIN_DIR; ok or notok when WHAT is given, else
# only the status. The output is in make.out.
installed_runs() {
	if (cd "$TMP/make-elsewhere" && env -u GPUSLIM_PLUGIN_DIR "$1" validate gpuslim.yaml &&
		env -u GPUSLIM_PLUGIN_DIR "$1" plan gpuslim.yaml) >"$TMP/make.out" 2>&1; then
		[ $# -lt 2 ] || ok "make install: $2: validate and plan work from elsewhere"
	else
		[ $# -lt 2 ] || notok "make install: $2: validate or plan failed" "$(cat "$TMP/make.out")"
		return 1
	fi
}

# A sub-runner that closes on "<word>: N passed, M failed[, K skipped]". Exiting nonzero
# having counted no failure (a crash, valgrind's 99) is one failure more.
run_counted() {
	local what=$1 out rc p f s
	shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^(ok|not ok|skip) ' || true
	summary_counts '^[a-z]*: \([0-9]*\) passed, \([0-9]*\) failed\(, \([0-9]*\) skipped\)\{0,1\}.*'
	if [ -z "$p" ]; then
		notok "$what: no summary line (exit $rc)" "$out"
		return
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		notok "$what: exit $rc after $p passed, 0 failed" "$out"
	fi
}

# The runner's own test: group_unit and run_counted, each alone with fresh counters, on
# deliberately bad unit binaries (tests/fake/unit_case.c, its name picks its behaviour) and
# sub-runners; each case must add exactly "passed/failed/skipped".
# shellcheck disable=SC2030,SC2031 # the subshell keeps the real counters untouched
runner_counts() {
	(
		passed=0 failed=0 skipped=0 RUNNER=()
		"$@" >"$TMP/runner.out" 2>&1
		echo "$passed/$failed/$skipped"
	)
}

group_runner() {
	local c name want got rc
	if [ ! -x build/tests/unit_case ]; then
		notok "runner: build/tests/unit_case is not built (make unit)"
		return
	fi
	for c in good:2/0/0 fail:1/1/0 exit99:2/1/0 crash:1/1/0 nosummary:0/1/0 skip:1/0/1; do
		name=${c%%:*} want=${c#*:}
		mkdir -p "$TMP/runner/$name"
		ln -sf "$ROOT/build/tests/unit_case" "$TMP/runner/$name/test_$name"
		got=$(GPUSLIM_UNIT_DIR="$TMP/runner/$name" runner_counts group_unit)
		if [ "$got" = "$want" ]; then
			ok "runner: a unit binary that does '$name' counts $want"
		else
			notok "runner: a unit binary that does '$name' counts $got, want $want" \
				"$(cat "$TMP/runner.out")"
		fi
	done
	for c in 'exit 99 after 0 failed:3/1/0:echo "x: 3 passed, 0 failed"; exit 99' \
		'crash after 0 failed:1/1/0:echo "x: 1 passed, 0 failed"; kill -SEGV $$' \
		'failures:2/1/0:echo "x: 2 passed, 1 failed"; exit 1' \
		'no summary:0/1/0:echo "ok - a"' \
		'skips:1/0/2:echo "x: 1 passed, 0 failed, 2 skipped"'; do
		name=${c%%:*} c=${c#*:} want=${c%%:*}
		got=$(runner_counts run_counted "sub-runner" bash -c "${c#*:}")
		if [ "$got" = "$want" ]; then
			ok "runner: a sub-runner with $name counts $want"
		else
			notok "runner: a sub-runner with $name counts $got, want $want" \
				"$(cat "$TMP/runner.out")"
		fi
	done
	# The whole runner: its closing line and exit status.
	GPUSLIM_UNIT_DIR="$TMP/runner/exit99" tests/run.sh unit >"$TMP/runner.out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$(tail -n1 "$TMP/runner.out")" = "tests: 2 passed, 1 failed, 0 skipped" ]; then
		ok "runner: tests/run.sh exits 1 on a unit binary that exits 99 after 0 failed"
	else
		notok "runner: tests/run.sh on a unit binary that exits 99: exit $rc" "$(cat "$TMP/runner.out")"
	fi
}

group_schema() {
	if ! "$PY" -c 'import jsonschema, yaml' 2>/dev/null; then
		notok "schema: python3-jsonschema and python3-yaml are missing (run scripts/setup.sh)"
		return
	fi
	run_counted schema "$PY" tests/schema/check.py
}

group_hcl() {
	if ! scripts/install-hcl2json.sh >&2; then
		notok "hcl: @cdktf/hcl2json could not be installed (scripts/install-hcl2json.sh)"
		return
	fi
	run_counted hcl node tests/hcl/check.js "$GPUSLIM"
}

# The CI files (gpuslim ci github|gitlab) through GitHub's own workflow parser and a YAML
# parser, SARIF against the OASIS schema, GitHub annotations (tests/ci/check.mjs).
group_ci() {
	if ! scripts/install-hcl2json.sh >&2; then
		notok "ci: the node packages could not be installed (scripts/install-hcl2json.sh)"
		return
	fi
	run_counted ci node tests/ci/check.mjs "$GPUSLIM"
}

# Every fuzz target over its seeds (tests/fuzz/seeds.sh, made here) and its regression
# inputs (tests/fuzz/regressions/TARGET, when there are any), under valgrind: a crash, a
# memory error or a leak fails. The fuzzing itself is bench/fuzz.sh, not a test.
group_fuzz() {
	local seeds t args
	seeds="$TMP/fuzz-seeds"
	if ! tests/fuzz/seeds.sh "$seeds" >"$TMP/fuzz-seeds.log" 2>&1; then
		notok "fuzz: tests/fuzz/seeds.sh failed" "$(cat "$TMP/fuzz-seeds.log")"
		return
	fi
	for t in recipe elf image pyindex lock; do
		args=("$seeds/$t")
		[ -d "tests/fuzz/regressions/$t" ] && args+=("tests/fuzz/regressions/$t")
		run_counted "fuzz $t" valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite,indirect "build/tests/fuzz_$t-replay" "${args[@]}"
	done
}

group_integration() {
	local t
	for t in tests/integration/test_*.sh; do
		[ -f "$t" ] || continue
		run_counted integration bash "$t"
	done
}

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(runner make unit cli bad plugins golden examples schema hcl ci fuzz integration)
if [ ! -x "$GPUSLIM" ]; then
	echo "tests: ./gpuslim is not built (run make)" >&2
	exit 2
fi
for g in "${groups[@]}"; do
	echo "# $g"
	"group_$g"
done
# shellcheck disable=SC2031 # runner_counts' subshell left these alone
{
	echo "tests: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}
