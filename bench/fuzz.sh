#!/usr/bin/env bash
# Fuzzes gpuslim's input parsers with libFuzzer (clang, ASan + UBSan), each target for
# SECONDS (default 60) from the seeds of tests/fuzz/seeds.sh:
#   recipe  a recipe's bytes through the parser, the planner and the renderer
#   elf     any bytes through the ELF scanner, in chunks of varying size
#   image   any bytes as a docker-save archive through the image reader and the analyzer
#   pyindex the package index's JSON and HTML pages, METADATA, wheel names, PEP 440
#           versions and specifiers, PEP 508 requirements and markers
#   lock    any bytes as gpuslim.lock through the lock reader; what it accepts writes back
#           and reads again to the same bytes
# Prints per target the runs, the coverage and whether it found a crash (the input is kept
# under bench/out/fuzz/crash-TARGET-*; add it as a unit test or under
# tests/fuzz/regressions/TARGET once fixed). Installs clang and libclang-rt-14-dev when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if ! command -v clang >/dev/null 2>&1 || ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
	[ "$(id -u)" -eq 0 ] || { echo "bench/fuzz.sh: needs clang and libclang-rt-14-dev (apt-get install them as root)" >&2; exit 1; }
	apt-get update -qq && apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
fi
make -s -j2 fuzz
out=bench/out/fuzz
rm -rf "$out/seeds"
mkdir -p "$out"
tests/fuzz/seeds.sh "$out/seeds"
status=0
for t in recipe elf image pyindex lock; do
	case $t in elf) ml=300000 ;; *) ml=65536 ;; esac
	mkdir -p "$out/corpus/$t"
	rc=0
	build/fuzz/fuzz_$t -max_total_time="$secs" -max_len=$ml -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/crash-$t-" -print_final_stats=1 \
		"$out/corpus/$t" "$out/seeds/$t" >"$out/$t.log" 2>&1 || rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$out/$t.log" | tail -n1)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz $t: ${runs:-?} runs in ${secs}s, $cov, no crash"
	else
		status=1
		echo "fuzz $t: CRASH after ${runs:-?} runs: $(grep -m1 -E 'ERROR|runtime error' "$out/$t.log")"
		ls "$out"/crash-$t-* 2>/dev/null | sed 's/^/  input: /'
	fi
done
echo "machine: $(nproc) cores, $(clang --version | head -n1), $(date +%F)"
exit $status
