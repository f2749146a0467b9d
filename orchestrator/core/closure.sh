# The library closure of a compiled program, run in the builder stage: every
# ELF file under $roots is run through ldd, and each library it resolves
# outside $roots is copied by soname into $dest, then walked in turn, with
# what the CUDA libraries dlopen() ($rules: "soname=load,load ..."). Skipped:
# what the final base already has ($skip) and the driver, which the host
# injects at run time ($driver; ldd reports it "not found" here). A "not
# found" that is neither the driver's nor a file shipped under $roots fails
# the build: pip's CUDA wheels ship libraries without a RUNPATH beside the
# ones that need them (torch loads them all by path first), so ldd, which
# looks at one file alone, cannot find them; whether ld.so finds them in the
# image is the missing-library check's to say. A soname ldconfig does not
# know is looked for in LD_LIBRARY_PATH, then $libdirs.
#
# A closure image (final.mode closure) sets $stage, the root the final
# stage copies whole: $roots is then that root, $dest its library
# directory, $skip only the driver, and the loader each file names
# (PT_INTERP, the one ldd line that is a path) is copied to its own path
# under $stage, and $always (sonames) are shipped whether or not a file
# needs them. Without it, $stage is empty and the loader stays the base's.
#
# render_dockerfile.c embeds this file (a build-time C string, see the
# Makefile) into one RUN, after the lines that set dest, roots, skip,
# driver, libdirs and rules and define is_elf, under `set -eu; set -f` (the lists
# are split on blanks, their globs stay patterns). Comment lines and blank
# lines are dropped and the others joined with " \" line continuations: so
# every line must end where a newline and a blank mean the same, after ";",
# "{", "then", "do", "else", "|", "&&" or "||" (tests/run.sh golden checks
# that, and runs shellcheck on this file).
#
# shellcheck shell=sh
# shellcheck disable=SC2154 # dest, roots, skip, driver, libdirs, rules, stage: set before it
# shellcheck disable=SC2086,SC2254 # the lists are split, their globs match, on purpose
matches() { n=$1; shift; for g in "$@"; do case "$n" in $g) return 0;; esac; done; return 1; };
in_roots() { for r in $roots; do case "$1" in "$r"|"$r"/*) return 0;; esac; done; return 1; };
resolve() {
  p=$(ldconfig -p | awk -v n="$1" '$1 == n { print $NF; exit }');
  for dir in $(echo "${LD_LIBRARY_PATH:-}" | tr : ' ') $libdirs; do
    if [ -z "$p" ] && [ -e "$dir/$1" ]; then p=$dir/$1; fi;
  done;
  echo "$p"; };
ship() {
  if matches "$1" $driver $skip || [ -e "$dest/$1" ]; then return 0; fi;
  cp -L "$2" "$dest/$1" || { echo "gpuslim: cannot copy $2" >&2; exit 1; };
  echo "$2" >> /tmp/gpuslim-queue;
  for rule in $rules; do
    matches "$1" "${rule%%=*}" || continue;
    for l in $(echo "${rule#*=}" | tr , ' '); do
      lp=$(resolve "$l");
      if [ -n "$lp" ]; then ship "$l" "$lp";
      else echo "gpuslim: $l (dlopen()ed with $1) is not in the builder; not shipped" >&2; fi;
    done;
  done; };
ship_interp() {
  if [ -z "${stage:-}" ] || [ -e "$stage$1" ]; then return 0; fi;
  mkdir -p "$stage${1%/*}";
  cp -L "$1" "$stage$1" || { echo "gpuslim: cannot copy the loader $1" >&2; exit 1; }; };
find $roots -type f | while IFS= read -r f; do if is_elf "$f"; then echo "$f"; fi; done > /tmp/gpuslim-queue;
sed 's|.*/||' /tmp/gpuslim-queue | sort -u > /tmp/gpuslim-have;
for l in ${always:-}; do lp=$(resolve "$l"); if [ -n "$lp" ]; then ship "$l" "$lp"; fi; done;
i=0;
while i=$((i + 1)); f=$(sed -n "${i}p" /tmp/gpuslim-queue); [ -n "$f" ]; do
  ldd "$f" > /tmp/gpuslim-ldd 2>&1 || true;
  while read -r name arrow path rest; do
    case "$name" in /*) ship_interp "$name"; continue;; esac;
    [ "$arrow" = "=>" ] || continue;
    if [ "$path" = not ]; then
      matches "$name" $driver && continue;
      if [ -e "$dest/$name" ] || grep -qxF "$name" /tmp/gpuslim-have; then continue; fi;
      echo "gpuslim: $f needs $name, found in neither the builder, the image nor the driver" >&2; exit 1;
    fi;
    in_roots "$path" || ship "$name" "$path";
  done < /tmp/gpuslim-ldd;
done;
rm -f /tmp/gpuslim-queue /tmp/gpuslim-ldd /tmp/gpuslim-have;
ls -l "$dest"
