#!/usr/bin/env bash
# torch-cuda side by side (issue 8, item 6): the same app (recipes/torch-cuda/app) built
# three ways on the local fixtures (scripts/infra/up.sh first), in one run, each with
# --network host (the package index is on 127.0.0.1:5080):
#   naive   bench/torch-cuda/Dockerfile.naive  cudnn-runtime + pip install torch
#   guide   bench/torch-cuda/Dockerfile.guide  the slimming guide's multi-stage pattern
#   gpuslim gpuslim build recipes/torch-cuda/gpuslim.yaml (gates included)
# then `gpuslim inspect --json` of each: size, duplicated libraries (by soname) and their
# bytes counted once. Prints a table and the ratio gpuslim/naive (target <= 0.55), and
# appends a Markdown row to $BENCH_OUT when it is set. Builds reuse BuildKit's cache
# (BENCH_NO_CACHE=1 rebuilds all three). Images: h7bench-*:1, removed at exit unless
# BENCH_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/infra/lib.sh
DOCKER=$(docker_client)
engine_up 5 || { echo "bench: no engine answers (run scripts/infra/up.sh)" >&2; exit 3; }
index_up "$INDEX_ADDR" || { echo "bench: no package index on $INDEX_ADDR (run scripts/infra/up.sh)" >&2; exit 3; }
TMP=$(mktemp -d /tmp/gpuslim-bench-torch.XXXXXX)
NAIVE=h7bench-torch-naive:1 GUIDE=h7bench-torch-guide:1 SLIM=h7bench-torch-gpuslim
cleanup() {
	rm -rf "$TMP"
	[ "${BENCH_KEEP:-0}" = 1 ] || "$DOCKER" rmi -f "$NAIVE" "$GUIDE" "$SLIM:latest" >/dev/null 2>&1 || true
}
trap cleanup EXIT
nocache=()
[ "${BENCH_NO_CACHE:-0}" = 1 ] && nocache=(--no-cache)
s() { date +%s; }

t0=$(s)
DOCKER_BUILDKIT=1 "$DOCKER" build -q --network host "${nocache[@]}" -f bench/torch-cuda/Dockerfile.naive \
	-t "$NAIVE" recipes/torch-cuda >/dev/null
naive_s=$(($(s) - t0))
t0=$(s)
DOCKER_BUILDKIT=1 "$DOCKER" build -q --network host "${nocache[@]}" -f bench/torch-cuda/Dockerfile.guide \
	-t "$GUIDE" recipes/torch-cuda >/dev/null
guide_s=$(($(s) - t0))
# gpuslim: the recipe as it is, tagged with this run's name.
cp -r recipes/torch-cuda "$TMP/recipe"
sed -i "s|^image: .*|image: $SLIM|" "$TMP/recipe/gpuslim.yaml"
t0=$(s)
if ! ./gpuslim build "$TMP/recipe/gpuslim.yaml" "${nocache[@]}" --progress plain -o "$TMP/build" \
	--json "$TMP/build.json" >"$TMP/build.log" 2>&1; then
	tail -n 40 "$TMP/build.log" >&2
	echo "bench: gpuslim build failed (or its gates did)" >&2
	exit 1
fi
slim_s=$(($(s) - t0))

for i in naive guide slim; do
	case $i in naive) ref=$NAIVE ;; guide) ref=$GUIDE ;; slim) ref=$SLIM:latest ;; esac
	./gpuslim inspect "$ref" --json >"$TMP/$i.json"
done
/usr/bin/python3 - "$TMP" "$naive_s" "$guide_s" "$slim_s" "${BENCH_OUT:-}" <<'PY'
import datetime, json, os, platform, sys
tmp, secs, out = sys.argv[1], sys.argv[2:5], sys.argv[5]
rows = []
for name, s in zip(("naive", "guide", "gpuslim"), secs):
    r = json.load(open(os.path.join(tmp, ("slim" if name == "gpuslim" else name) + ".json")))
    dups = r["cuda"]["duplicates"]
    cuda = [d for d in dups if not d["soname"].startswith("libfakeroot")]
    rows.append((name, r["summary"]["size"], len(cuda), sum(d["bytes"] for d in cuda), len(dups), s))
naive = rows[0][1]
print("%-8s %14s %9s %10s %14s %8s" % ("image", "bytes", "MB", "x naive", "dup CUDA libs", "build s"))
for n, size, nd, db, nall, s in rows:
    print("%-8s %14d %9.1f %10.3f %6d %7.1f MB %8s" % (n, size, size / 1e6, size / naive, nd, db / 1e6, s))
ratio = rows[2][1] / naive
print("gpuslim/naive: %.3f (target <= 0.55): %s" % (ratio, "met" if ratio <= 0.55 else "NOT met"))
if out:
    with open(out, "a") as f:
        f.write("| %s | %s, %d cores | %s |\n" % (
            datetime.date.today().isoformat(), platform.processor() or platform.machine(), os.cpu_count(),
            " | ".join("%.1f MB (%d dup CUDA sonames, %.1f MB)" % (size / 1e6, nd, db / 1e6)
                       for _, size, nd, db, _, _ in rows) + " | %.3f" % ratio))
sys.exit(0 if ratio <= 0.55 and rows[2][2] == 0 else 1)
PY
