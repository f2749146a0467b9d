#!/usr/bin/env bash
# A recipe whose build context is a git source (app.git), built on the real engine: the
# commit's tree is the context, so untracked and ignored files, .git and gpuslim's own mark
# are in no layer, and the repository's .dockerignore still keeps its secret out; `plan`
# offline leaves the commit null, `plan --resolve --json` names the commit, a new commit on
# the branch changes it (and the image), a missing ref fails naming the ref and the
# repository at app.git.ref, a path that is no repository fails at app.git.url.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

export XDG_CACHE_HOME=$IT_TMP/cache
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t
export GIT_COMMITTER_EMAIL=t@example.com
REPO=$IT_TMP/repo
RDIR=$IT_TMP/recipe
mkdir -p "$REPO/app" "$RDIR"
git -C "$REPO" init -q -b main
echo "git-source: v1" >"$REPO/app/main.txt"
printf 'ignored.txt\n' >"$REPO/.gitignore"
printf 'secret.env\n' >"$REPO/.dockerignore"
echo "TOKEN=git-secret" >"$REPO/secret.env"
git -C "$REPO" add -A
git -C "$REPO" commit -qm v1
echo untracked >"$REPO/untracked.txt"
echo ignored >"$REPO/ignored.txt"
commit1=$(git -C "$REPO" rev-parse main)

# recipe REF FILE: a recipe in $RDIR taking the repository by a relative path.
recipe() {
	cat >"$RDIR/$2" <<EOF
name: h5-git-source
image: h5-git-source
base:
  os: debian12
  registry: 127.0.0.1:5000
  repository: gpuslim-fixtures/cuda
cuda: "13.0"
app:
  git:
    url: ../repo
    ref: $1
  copy: ["."]
  cmd: ["cat", "/app/app/main.txt"]
output:
  cache: none
EOF
}
recipe main gpuslim.yaml
recipe nope missing-ref.yaml
sed 's|url: ../repo|url: ../no-repo|' "$RDIR/gpuslim.yaml" >"$RDIR/no-repo.yaml"
# json FILE EXPR: a value of a JSON file, printed by Python (None for null).
json() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# --- offline: the plan names the source, not yet a commit.
if "$GPUSLIM" plan "$RDIR/gpuslim.yaml" --json >"$IT_TMP/plan-offline.json" 2>"$IT_TMP/plan-offline.err" &&
	[ "$(json "$IT_TMP/plan-offline.json" 'd["git"]')" = "{'url': '../repo', 'ref': 'main', 'commit': None}" ]; then
	ok "git: plan offline names url and ref, commit null"
else
	notok "git: plan offline" "$(cat "$IT_TMP/plan-offline.err" "$IT_TMP/plan-offline.json")"
fi

# --- a file of the user's where generate would write: nothing written, no export.
mkdir -p "$IT_TMP/gen-user" "$IT_TMP/gen-ctx/context"
echo "FROM scratch" >"$IT_TMP/gen-user/Dockerfile.h5-git-source"
"$GPUSLIM" generate "$RDIR/gpuslim.yaml" -o "$IT_TMP/gen-user" >/dev/null 2>"$IT_TMP/gen-user.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "gpuslim did not write" "$IT_TMP/gen-user.err" &&
	[ ! -e "$IT_TMP/gen-user/context" ] && [ ! -e "$IT_TMP/gen-user/docker-bake.hcl" ]; then
	ok "git: a user's Dockerfile in OUT stops generate before the export (exit 2)"
else
	notok "git: a user's Dockerfile in OUT (exit $rc)" "$(cat "$IT_TMP/gen-user.err"; ls -a "$IT_TMP/gen-user")"
fi
echo mine >"$IT_TMP/gen-ctx/context/mine.txt"
"$GPUSLIM" generate "$RDIR/gpuslim.yaml" -o "$IT_TMP/gen-ctx" >/dev/null 2>"$IT_TMP/gen-ctx.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "gpuslim did not write" "$IT_TMP/gen-ctx.err" &&
	[ "$(ls -A "$IT_TMP/gen-ctx/context")" = mine.txt ]; then
	ok "git: a context directory of the user's in OUT is left alone (exit 2)"
else
	notok "git: a user's context directory (exit $rc)" "$(cat "$IT_TMP/gen-ctx.err"; ls -a "$IT_TMP/gen-ctx/context")"
fi

it_require_infra "git: plan --resolve names the commit" "git: the image holds the commit's tree only" \
	"git: a new commit changes the resolved commit" "git: a missing ref"

# --- plan --resolve: the commit of main.
if "$GPUSLIM" plan "$RDIR/gpuslim.yaml" --resolve --json >"$IT_TMP/plan1.json" 2>"$IT_TMP/plan1.err" &&
	[ "$(json "$IT_TMP/plan1.json" 'd["git"]["commit"]')" = "$commit1" ]; then
	ok "git: plan --resolve --json names the commit of main ($commit1)"
else
	notok "git: plan --resolve" "$(cat "$IT_TMP/plan1.err" "$IT_TMP/plan1.json")"
fi

# --- generate: the context is exported beside the build files.
gen=$IT_TMP/gen
if "$GPUSLIM" generate "$RDIR/gpuslim.yaml" -o "$gen" >"$IT_TMP/gen.out" 2>&1 &&
	[ -f "$gen/context/app/main.txt" ] && [ ! -e "$gen/context/.git" ] &&
	[ ! -e "$gen/context/untracked.txt" ] && [ ! -e "$gen/context/ignored.txt" ] &&
	grep -q 'context    = "context"' "$gen/docker-bake.hcl" &&
	grep -qx 'secret.env' "$gen/Dockerfile.h5-git-source.dockerignore" &&
	grep -qx '\.gpuslim-export' "$gen/Dockerfile.h5-git-source.dockerignore"; then
	ok "git: generate exports the commit into OUT/context, the bake file's context"
else
	notok "git: generate" "$(cat "$IT_TMP/gen.out"; ls -la "$gen" "$gen/context" 2>&1)"
fi

# build NAME: build the recipe into $IT_TMP/NAME; prints the image ref. Each build's image
# is removed at exit by its id: the second build takes the tag from the first.
build() {
	local ref
	"$GPUSLIM" build "$RDIR/gpuslim.yaml" -o "$IT_TMP/$1" --progress plain \
		--json "$IT_TMP/$1.json" >"$IT_TMP/$1.out" 2>&1 || return 1
	ref=$(json "$IT_TMP/$1.json" 'd["cells"][0]["image"]')
	"$DOCKER" image inspect --format '{{.Id}}' "$ref" >>"$IT_TMP/image-ids"
	echo "$ref"
}
# shellcheck disable=SC2317 # run by the EXIT trap
it_cleanup_git() {
	local id
	[ -f "$IT_TMP/image-ids" ] && while read -r id; do IT_IMAGES+=("$id"); done <"$IT_TMP/image-ids"
	it_cleanup
}
trap it_cleanup_git EXIT
# layer_files IMAGE: every path in every layer of IMAGE.
layer_files() {
	"$DOCKER" save -o "$IT_TMP/image.tar" "$1" || return 1
	/usr/bin/python3 - "$IT_TMP/image.tar" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as image:
    for member in image.getmembers():
        if not member.isfile():
            continue
        try:
            with tarfile.open(fileobj=image.extractfile(member), mode="r:*") as layer:
                for name in layer.getnames():
                    print(name)
        except tarfile.ReadError:
            pass  # the config and the manifest
EOF
}

# --- build: the image holds the tree of the commit, nothing else of the checkout.
if ref=$(build build1); then
	IT_IMAGES+=("$ref")
	ok "git: the recipe builds from its git source"
	layer_files "$ref" >"$IT_TMP/files1"
	leaked=$(grep -E '(^|/)(untracked\.txt|ignored\.txt|secret\.env|\.gpuslim-export|\.git)(/|$)' "$IT_TMP/files1")
	if grep -qx 'app/app/main.txt' "$IT_TMP/files1" && [ -z "$leaked" ]; then
		ok "git: untracked and ignored files, .git, the mark and secret.env are in no layer"
	else
		notok "git: the image's files" "$leaked$(grep '^app/' "$IT_TMP/files1")"
	fi
	out=$("$DOCKER" run --rm "$ref" 2>&1)
	if [ "$out" = "git-source: v1" ]; then ok "git: the image runs the commit's file"
	else notok "git: run" "$out"; fi
	rev=$("$DOCKER" image inspect --format '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$ref")
	if [ "$rev" = "$commit1" ]; then ok "git: the image's org.opencontainers.image.revision is the commit"
	else notok "git: image.revision label" "$rev"; fi
else
	notok "git: build" "$(cat "$IT_TMP/build1.out")"
fi

# --- a new commit on main: a new commit resolved, and built.
echo "git-source: v2" >"$REPO/app/main.txt"
git -C "$REPO" commit -qam v2
commit2=$(git -C "$REPO" rev-parse main)
if "$GPUSLIM" plan "$RDIR/gpuslim.yaml" --resolve --json >"$IT_TMP/plan2.json" 2>"$IT_TMP/plan2.err" &&
	got=$(json "$IT_TMP/plan2.json" 'd["git"]["commit"]') && [ "$got" = "$commit2" ] &&
	[ "$got" != "$commit1" ]; then
	ok "git: a new commit on main changes the resolved commit ($commit2)"
else
	notok "git: a new commit on main" "$(cat "$IT_TMP/plan2.err" "$IT_TMP/plan2.json")"
fi
if ref=$(build build2) && out=$("$DOCKER" run --rm "$ref" 2>&1) && [ "$out" = "git-source: v2" ]; then
	ok "git: the rebuilt image has the new commit's file"
else
	notok "git: rebuild after a new commit" "$(cat "$IT_TMP/build2.out"; echo "${out:-}")"
fi

# --- a ref the repository lacks, a path that is no repository: exit 2, at the field.
"$GPUSLIM" plan "$RDIR/missing-ref.yaml" --resolve >/dev/null 2>"$IT_TMP/missing.err"
rc=$?
if [ "$rc" -eq 2 ] &&
	grep -q "missing-ref.yaml:11:10: app.git.ref: '$REPO' has no branch, tag or commit 'nope'" "$IT_TMP/missing.err"; then
	ok "git: a missing ref fails (exit 2) naming the ref and the repository at app.git.ref"
else
	notok "git: a missing ref (exit $rc)" "$(cat "$IT_TMP/missing.err")"
fi
"$GPUSLIM" generate "$RDIR/no-repo.yaml" -o "$IT_TMP/gen-no-repo" >/dev/null 2>"$IT_TMP/no-repo.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "no-repo.yaml:10:10: app.git.url: .*$IT_TMP/no-repo" "$IT_TMP/no-repo.err" &&
	[ ! -e "$IT_TMP/gen-no-repo/context" ]; then
	ok "git: a url that is no repository fails (exit 2) at app.git.url, nothing exported"
else
	notok "git: not a repository (exit $rc)" "$(cat "$IT_TMP/no-repo.err")"
fi
it_done
