#!/usr/bin/env bash
# The build context's own .dockerignore holds on the real engine. A secret it excludes, in
# the directory app.copy names, is in no layer of the built image (BuildKit reads the
# generated Dockerfile.<cell>.dockerignore, not the context's, so that file must carry the
# user's rules); the user's exception (`!app/public.key`) is honoured; volume models whose
# paths are .dockerignore syntax (`!weights`, `#cache`, `**`, globs, regexp characters,
# blanks at the ends) stay out too. Before the
# engine: `generate -o` naming the context leaves the user's .dockerignore as it is, and a
# Dockerfile of the user's in the output directory stops generate before it writes anything.
. "$(dirname "$0")/lib.sh"

CTX=$IT_TMP/render-ctx
mkdir -p "$CTX/app" "$CTX/!weights" "$CTX/#cache" "$CTX/w+(1)" "$CTX/**" "$CTX/w[1]" \
	"$CTX/a^{2}\$" "$CTX/ lead" "$CTX/trail "
cat >"$CTX/gpuslim.yaml" <<'EOF'
name: render-ignore
image: 127.0.0.1:5000/gpuslim-it/render-ignore
base:
  os: debian12
  registry: 127.0.0.1:5000
  repository: gpuslim-fixtures/cuda
cuda: "13.0"
app:
  copy: ["."]
  cmd: ["cat", "/app/app/main.txt"]
models:
  - {name: weights, path: "!weights", mode: volume}
  - {name: cache, path: "#cache", mode: volume}
  - {name: regexp, path: "w+(1)", mode: volume}
  - {name: stars, path: "**", mode: volume}
  - {name: class, path: "w[1]", mode: volume}
  - {name: anchors, path: "a^{2}$", mode: volume}
  - {name: lead, path: " lead", mode: volume}
  - {name: trail, path: "trail ", mode: volume}
output:
  cache: none
EOF
printf '# the user'"'"'s rules\nsecret.env\n**/*.key\n!app/public.key\n' >"$CTX/.dockerignore"
echo "render: ok" >"$CTX/app/main.txt"
echo "TOKEN=render-secret" >"$CTX/secret.env"
echo "private" >"$CTX/app/id.key"
echo "public" >"$CTX/app/public.key"
echo w >"$CTX/!weights/w.bin"
echo c >"$CTX/#cache/c.bin"
echo r >"$CTX/w+(1)/r.bin"
echo s >"$CTX/**/s.bin"
echo b >"$CTX/w[1]/b.bin"
echo a >"$CTX/a^{2}\$/a.bin"
echo l >"$CTX/ lead/l.bin"
echo t >"$CTX/trail /t.bin"

# --- generate -o naming the context: the user's .dockerignore is theirs.
before=$(cksum <"$CTX/.dockerignore")
"$GPUSLIM" generate "$CTX/gpuslim.yaml" -o "$CTX" >"$IT_TMP/render-gen.out" 2>"$IT_TMP/render-gen.err"
rc=$?
if [ "$rc" -eq 0 ] && [ "$(cksum <"$CTX/.dockerignore")" = "$before" ] &&
	grep -q "note: left '.*/.dockerignore' as it is" "$IT_TMP/render-gen.err"; then
	ok "render: generate -o CONTEXT leaves the user's .dockerignore as it is, with a note"
else
	notok "render: generate -o CONTEXT (exit $rc)" "$(cat "$IT_TMP/render-gen.err" "$CTX/.dockerignore")"
fi
ign="$CTX/Dockerfile.render-ignore.dockerignore"
if [ -f "$ign" ] && grep -qx 'secret.env' "$ign" && grep -qx '!app/public.key' "$ign" &&
	grep -qxF '\!weights' "$ign" && grep -qxF '\#cache' "$ign" && grep -qxF 'w\+\(1\)' "$ign"; then
	ok "render: Dockerfile.<cell>.dockerignore carries the user's rules and escaped model paths"
else
	notok "render: Dockerfile.<cell>.dockerignore" "$(cat "$ign" 2>&1)"
fi
rm -f "$CTX"/Dockerfile.render-ignore* "$CTX/docker-bake.hcl"

# --- a Dockerfile of the user's where generate would write: nothing is written.
mkdir -p "$IT_TMP/render-out"
echo "FROM scratch" >"$IT_TMP/render-out/Dockerfile.render-ignore"
"$GPUSLIM" generate "$CTX/gpuslim.yaml" -o "$IT_TMP/render-out" >/dev/null 2>"$IT_TMP/render-out.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "gpuslim did not write" "$IT_TMP/render-out.err" &&
	[ ! -e "$IT_TMP/render-out/docker-bake.hcl" ] &&
	[ "$(cat "$IT_TMP/render-out/Dockerfile.render-ignore")" = "FROM scratch" ]; then
	ok "render: a user's Dockerfile in the output directory: exit 2, nothing written"
else
	notok "render: a user's Dockerfile in the way (exit $rc)" "$(cat "$IT_TMP/render-out.err")"
fi

it_require_infra "render: the secret is in no layer"

# --- the real build: every file of every layer, from docker save.
if "$GPUSLIM" build "$CTX/gpuslim.yaml" -o "$IT_TMP/render-build" --progress plain \
	--json "$IT_TMP/render.json" >"$IT_TMP/render-build.out" 2>&1; then
	ok "render: the recipe builds"
else
	notok "render: build" "$(cat "$IT_TMP/render-build.out")"
	it_done
fi
ref=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cells"][0]["image"])' \
	"$IT_TMP/render.json")
IT_IMAGES+=("$ref")
"$DOCKER" save -o "$IT_TMP/render.tar" "$ref"
/usr/bin/python3 - "$IT_TMP/render.tar" >"$IT_TMP/render.files" <<'EOF'
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
if grep -qx 'app/app/main.txt' "$IT_TMP/render.files" &&
	grep -qx 'app/app/public.key' "$IT_TMP/render.files"; then
	ok "render: the app and the user's exception (app/public.key) are in the image"
else
	notok "render: app/main.txt or app/public.key missing" "$(grep '^app/' "$IT_TMP/render.files")"
fi
leaked=$(grep -E '(^|/)(secret\.env|id\.key|[wcrsbalt]\.bin)$' "$IT_TMP/render.files")
if [ -z "$leaked" ]; then
	ok "render: secret.env, *.key and the volume models are in no layer"
else
	notok "render: shipped what the .dockerignore excludes" "$leaked"
fi
it_done
