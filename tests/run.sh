#!/usr/bin/env bash
# Runs every test of gpuslim and closes on one line: "tests: N passed, N failed, N skipped".
#
#   tests/run.sh                 everything
#   tests/run.sh unit bad        only these groups (runner make unit cli bad plugins golden
#                                examples schema hcl fuzz integration)
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

# Golden cases: plan JSON and every generated file, byte for byte, and twice the same.
group_golden() {
	local d name exp out
	for d in tests/golden/*/; do
		d=${d%/}
		[ -f "$d/gpuslim.yaml" ] || continue
		name=$(basename "$d")
		exp="$d/expected"
		out="$TMP/golden-$name"
		mkdir -p "$out/a" "$out/b"
		if ! gs plan "$d/gpuslim.yaml" --json >"$out/plan.json" 2>"$out/err"; then
			notok "golden $name: plan failed" "$(cat "$out/err")"
			continue
		fi
		if diff -u "$exp/plan.json" "$out/plan.json" >"$out/diff"; then
			ok "golden $name: plan.json"
		else
			notok "golden $name: plan.json differs" "$(cat "$out/diff")"
		fi
		if ! gs generate "$d/gpuslim.yaml" -o "$out/a" >/dev/null 2>"$out/err"; then
			notok "golden $name: generate failed" "$(cat "$out/err")"
			continue
		fi
		cp "$exp/plan.json" "$out/a/plan.json"
		if diff -ru "$exp" "$out/a" >"$out/diff"; then
			ok "golden $name: generated files"
		else
			notok "golden $name: generated files differ" "$(cat "$out/diff")"
		fi
		gs generate "$d/gpuslim.yaml" -o "$out/b" >/dev/null 2>&1
		cp "$exp/plan.json" "$out/b/plan.json"
		if diff -r "$out/a" "$out/b" >/dev/null; then
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
	gs "$@" >"$TMP/out" 2>&1
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
	expect_cli "gate without --recipe" 2 "^gpuslim gate: missing option --recipe$" gate some/image
	expect_cli "inspect --source nope" 2 \
		"^gpuslim: --source wants auto, engine, registry, archive or oci, not 'nope'$" \
		inspect some/image --source nope
	expect_cli "gate --top abc" 2 "^gpuslim: --top wants a number from 1 to 100000, not 'abc'$" \
		gate some/image --recipe "$y" --top abc
	expect_cli "unwritable output directory is exit 3" 3 "cannot (create|write)" \
		generate "$y" -o /proc/gpuslim-cannot-write
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
	mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j2 -C "$src" "$@" >"$TMP/make.out" 2>&1; }

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
	for t in recipe elf image; do
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
[ ${#groups[@]} -gt 0 ] || groups=(runner make unit cli bad plugins golden examples schema hcl fuzz integration)
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
