#!/usr/bin/python3
"""Image archives for tests/unit/test_image.c, made at test time (nothing binary committed).

  image_tars.py hostile DIR              docker-save archives with one hostile layer each
  image_tars.py oci SAVE.tar DIR COMP    an OCI layout from a docker-save archive, layers
                                         recompressed: none, gzip or zstd (/usr/bin/zstd)
  image_tars.py ocisave SAVE.tar OUT.tar a newer engine's OCI-style docker save of the same image
  image_tars.py ocitags SAVE.tar DIR     an OCI layout of two images tagged v1 and v2 (umoci)
  image_tars.py ociplatforms SAVE.tar DIR  an OCI layout whose tag is linux/amd64 + linux/arm64
  image_tars.py ocilie DIR WHAT SIZE     the layout's config or layerN descriptor says SIZE
  image_tars.py dockerarchive OUT.tar SAVE.tar TAG [SAVE2.tar TAG2...]
                                         skopeo's / podman's docker-archive: (podman save -m)
  image_tars.py dirlayout SAVE.tar DIR   skopeo's / podman's dir: layout
  image_tars.py small DIR                a 3-layer docker-save archive (overwrite, whiteout, opaque),
                                         and opaque-root.tar (an opaque marker at a layer's root)
"""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile


def tar_bytes(members):
    """members: list of (TarInfo, bytes or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def reg(name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = 1700000000
    return (ti, data)


def dirent(name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    return (ti, None)


def link(name, target, kind=tarfile.SYMTYPE):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = target
    return (ti, None)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def docker_save(path, layers, with_manifest=True, tags=("gpuslim-test/hostile:1",),
                with_config=True):
    """A docker 20.10-style save: layer dirs, config, manifest.json last."""
    diff_ids = ["sha256:" + sha(layer) for layer in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "layer %d" % i} for i in range(len(layers))],
    }).encode()
    cid = sha(config)
    members, names = [], []
    for i, layer in enumerate(layers):
        d = sha(b"v1 layer %d" % i)
        members.append(dirent(d))
        members.append(reg(d + "/VERSION", b"1.0"))
        members.append(reg(d + "/json", b"{}"))
        members.append(reg(d + "/layer.tar", layer))
        names.append(d + "/layer.tar")
    if with_config:
        members.append(reg(cid + ".json", config))
    if with_manifest:
        manifest = [{"Config": cid + ".json", "RepoTags": list(tags), "Layers": names}]
        members.append(reg("manifest.json", json.dumps(manifest).encode()))
    with open(path, "wb") as f:
        f.write(tar_bytes(members))


def absurd_layer():
    ti = tarfile.TarInfo("huge.bin")
    ti.size = 1 << 50  # one petabyte, base-256 in a GNU header
    ti.mode = 0o644
    hdr = ti.tobuf(format=tarfile.GNU_FORMAT)
    return hdr + b"x" * 512 + b"\0" * 1024


def hostile(out):
    os.makedirs(out, exist_ok=True)
    ok = reg("etc/ok", b"fine\n")
    big = reg("usr/big.bin", b"A" * 20000)
    cases = {
        "traversal": [tar_bytes([ok, reg("../../etc/passwd", b"root::0:0\n")])],
        "absolute": [tar_bytes([reg("/etc/abs", b"abs\n"), reg("//usr///./lib/x", b"x")])],
        "absolute-escape": [tar_bytes([reg("/../etc/shadow", b"x")])],
        "hardlink-escape": [tar_bytes([ok, link("etc/hl", "../../etc/passwd", tarfile.LNKTYPE)])],
        "symlink-loop": [tar_bytes([link("a", "b"), link("b", "a"), link("c", "c"),
                                    link("up", "../../../../etc/passwd"),
                                    link("abs", "/etc/passwd"), reg("etc/after", b"after\n")])],
        "absurd-size": [absurd_layer()],
        "truncated": [tar_bytes([ok, big])[:512 * 3 + 4000]],
        "not-a-tar": [b"this is not a tar archive, only text\n" * 64],
        "no-manifest": [tar_bytes([ok])],
    }
    for name, layers in cases.items():
        docker_save(os.path.join(out, name + ".tar"), layers, with_manifest=(name != "no-manifest"))
    # manifest.json names a config the archive lacks (it once leaked the manifest's
    # layer list: tests/run.sh's fuzz group replays this under valgrind)
    docker_save(os.path.join(out, "no-config.tar"), [tar_bytes([ok])], with_config=False)
    # an outer archive cut in the middle of its layer
    with open(os.path.join(out, "traversal.tar"), "rb") as f:
        whole = f.read()
    good = os.path.join(out, "good.tar")
    docker_save(good, [tar_bytes([ok, big])])
    with open(good, "rb") as f:
        whole = f.read()
    with open(os.path.join(out, "outer-truncated.tar"), "wb") as f:
        f.write(whole[:512 * 12])
    with open(os.path.join(out, "garbage.tar"), "wb") as f:
        f.write(b"garbage, not an archive\n" * 100)


def small(out):
    """Three layers: base; overwrite + whiteout + new dir; opaque dir."""
    os.makedirs(out, exist_ok=True)
    l0 = tar_bytes([dirent("etc"), reg("etc/hello", b"hello\n"), reg("etc/gone", b"gone\n"),
                    dirent("opt"), dirent("opt/d"), reg("opt/d/old", b"old\n"),
                    reg("./usr/bin/tool", b"\x7fELF" + b"\0" * 60, 0o755)])
    l1 = tar_bytes([dirent("etc"), reg("etc/hello", b"hello again\n"), reg("etc/.wh.gone", b""),
                    link("etc/hello-link", "hello"),
                    link("usr/bin/tool2", "usr/bin/tool", tarfile.LNKTYPE)])
    l2 = tar_bytes([dirent("opt/d"), reg("opt/d/.wh..wh..opq", b""), reg("opt/d/new", b"new\n")])
    docker_save(os.path.join(out, "small.tar"), [l0, l1, l2], tags=("gpuslim-test/small:1",))
    # an opaque marker at the root of a layer hides everything below it
    r1 = tar_bytes([reg(".wh..wh..opq", b""), dirent("etc"), reg("etc/new", b"new\n")])
    docker_save(os.path.join(out, "opaque-root.tar"), [l0, r1], tags=("gpuslim-test/opq:1",))
    # files bigger than a read of the layer: skipped, not read, when hashed apart
    b1 = tar_bytes([reg("opt/blob", bytes(range(256)) * 2400), reg("opt/after", b"after\n"),
                    reg("opt/blob2", bytes(range(255, -1, -1)) * 1300), dirent("opt/z")])
    docker_save(os.path.join(out, "big.tar"), [l0, b1], tags=("gpuslim-test/big:1",))


def read_save(path):
    """The image of a docker 20.10 save: config bytes, layer tar bytes in order, tags."""
    with tarfile.open(path) as t:
        manifest = json.load(t.extractfile("manifest.json"))[0]
        config = t.extractfile(manifest["Config"]).read()
        layers = [t.extractfile(name).read() for name in manifest["Layers"]]
    return config, layers, manifest.get("RepoTags") or []


def compress(data, comp):
    if comp == "gzip":
        return gzip.compress(data, 6, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if comp == "zstd":
        z = subprocess.run(["/usr/bin/zstd", "-q", "-c", "-3"], input=data, check=True,
                           stdout=subprocess.PIPE).stdout
        return z, "application/vnd.oci.image.layer.v1.tar+zstd"
    return data, "application/vnd.oci.image.layer.v1.tar"


def write_blob(root, data):
    d = sha(data)
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(root, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d


def oci_image(save, out, comp, arch="amd64"):
    """The blobs of SAVE's image in the layout OUT: its manifest's descriptor."""
    config, layers, _ = read_save(save)
    if arch != "amd64":
        c = json.loads(config)
        c["architecture"] = arch
        config = json.dumps(c).encode()
    descs = []
    for i, layer in enumerate(layers):
        # mix: with "mixed" the layers alternate zstd, gzip, none
        c = comp if comp != "mixed" else ("zstd", "gzip", "none")[i % 3]
        blob, mt = compress(layer, c)
        descs.append({"mediaType": mt, "digest": write_blob(out, blob), "size": len(blob)})
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": write_blob(out, config), "size": len(config)},
        "layers": descs}).encode()
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": write_blob(out, manifest), "size": len(manifest)}


def write_index(out, manifests):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": manifests}, f)


def oci(save, out, comp):
    desc = oci_image(save, out, comp)
    desc["platform"] = {"os": "linux", "architecture": "amd64"}
    write_index(out, [desc])


def ocitags(save, out):
    """Two images tagged v1 and v2 (as `umoci repack` or two `skopeo copy` leave them),
    and an attestation manifest (BuildKit's), which is no image."""
    v1, v2 = oci_image(save, out, "none"), oci_image(save, out, "gzip")
    v1["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
    v2["annotations"] = {"org.opencontainers.image.ref.name": "v2"}
    att = dict(v2, annotations={"vnd.docker.reference.type": "attestation-manifest"})
    write_index(out, [v1, v2, att])


def ociplatforms(save, out):
    """One tag for two platforms: index.json -> an index of linux/amd64 and linux/arm64."""
    amd, arm = oci_image(save, out, "none"), oci_image(save, out, "none", "arm64")
    amd["platform"] = {"os": "linux", "architecture": "amd64"}
    arm["platform"] = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    nested = json.dumps({"schemaVersion": 2,
                         "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": [amd, arm]}).encode()
    write_index(out, [{"mediaType": "application/vnd.oci.image.index.v1+json",
                       "digest": write_blob(out, nested), "size": len(nested),
                       "annotations": {"org.opencontainers.image.ref.name": "multi"}}])


def ocilie(out, what, value):
    """Make the only manifest's WHAT ("config" or "layerN") descriptor say size VALUE
    (a number, or "none": no size), keeping every digest right."""
    with open(os.path.join(out, "index.json")) as f:
        index = json.load(f)
    desc = index["manifests"][0]
    with open(os.path.join(out, "blobs", "sha256", desc["digest"][7:]), "rb") as f:
        manifest = json.load(f)
    d = manifest["config"] if what == "config" else manifest["layers"][int(what[5:])]
    if value == "none":
        del d["size"]
    else:
        d["size"] = int(value)
    body = json.dumps(manifest).encode()
    desc["digest"], desc["size"] = write_blob(out, body), len(body)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)


def archive_members(save, tag):
    """skopeo's (and podman's) docker-archive: layers at the root as <diff_id>.tar, each
    behind a "<v1 id>/layer.tar" symlink."""
    config, layers, _ = read_save(save)
    members, names = [], []
    for i, layer in enumerate(layers):
        name = sha(layer) + ".tar"
        if name not in names:
            members.append(reg(name, layer))
        names.append(name)
    cid = sha(config)
    members.append(reg(cid + ".json", config))
    for i, name in enumerate(names):
        d = sha(b"v1 %s %d" % (cid.encode(), i))
        members.append(dirent(d))
        members.append(link(d + "/layer.tar", "../" + name))
        members.append(reg(d + "/VERSION", b"1.0"))
    return members, {"Config": cid + ".json", "RepoTags": [tag], "Layers": names}


def dockerarchive(out, *pairs):
    """A docker-archive: of one image or, as `podman save -m` writes it, several:
    pairs of SAVE.tar and the tag to give it."""
    members, manifest = [], []
    for save, tag in zip(pairs[::2], pairs[1::2]):
        m, entry = archive_members(save, tag)
        members += [x for x in m if x[0].name not in {y[0].name for y in members}]
        manifest.append(entry)
    members.append(reg("manifest.json", json.dumps(manifest).encode()))
    members.append(reg("repositories", b"{}"))
    with open(out, "wb") as f:
        f.write(tar_bytes(members))


def dirlayout(save, out):
    """skopeo's and podman's dir: a version file, manifest.json, blobs by their hex digest."""
    config, layers, _ = read_save(save)
    os.makedirs(out, exist_ok=True)

    def blob(data):
        with open(os.path.join(out, sha(data)), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + sha(data), "size": len(data)}

    manifest = {"schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": dict(blob(config),
                               mediaType="application/vnd.docker.container.image.v1+json"),
                "layers": [dict(blob(gzip.compress(layer, 6, mtime=0)),
                                mediaType="application/vnd.docker.image.rootfs.diff.tar.gzip")
                           for layer in layers]}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    with open(os.path.join(out, "version"), "w") as f:
        f.write("Directory Transport Version: 1.1\n")


def ocisave(save, out):
    """Docker 25+'s save: an OCI layout in a tar plus manifest.json, blobs first."""
    config, layers, tags = read_save(save)
    members, blobs = [], {}

    def blob(data):
        d = sha(data)
        blobs[d] = data
        return "sha256:" + d

    descs = [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
              "digest": blob(layer), "size": len(layer)} for layer in layers]
    cdig = blob(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig,
                   "size": len(config)}, "layers": descs}).encode()
    mdig = blob(manifest)
    members.append(dirent("blobs"))
    members.append(dirent("blobs/sha256"))
    for d in sorted(blobs):
        members.append(reg("blobs/sha256/" + d, blobs[d]))
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdig,
         "size": len(manifest)}]}
    members.append(reg("index.json", json.dumps(index).encode()))
    dm = [{"Config": "blobs/sha256/" + cdig[7:], "RepoTags": tags,
           "Layers": ["blobs/sha256/" + x["digest"][7:] for x in descs]}]
    members.append(reg("manifest.json", json.dumps(dm).encode()))
    members.append(reg("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'))
    with open(out, "wb") as f:
        f.write(tar_bytes(members))


def reformat(save, out, fmt):
    """The same members in another tar dialect: "pax" (a global header, and a pax
    header before every member), "gnu" (GNU headers; a long-named member first, so an
    'L' header), "lie" (as it is, one byte of layer 1's content changed) or "cut"
    (as it is, but layer 0's entry etc/gone claims 1 MiB: its layer ends inside it)."""
    with open(save, "rb") as f:
        raw = f.read()
    if fmt == "cut":
        at = raw.index(b"etc/gone\0")
        h = bytearray(raw[at:at + 512])
        h[124:136] = b"%011o\0" % (1 << 20)
        h[148:156] = b"        "
        h[148:156] = b"%06o\0 " % sum(h)
        with open(out, "wb") as f:
            f.write(raw[:at] + bytes(h) + raw[at + 512:])
        return
    if fmt == "lie":
        assert raw.count(b"hello again") == 1
        with open(out, "wb") as f:
            f.write(raw.replace(b"hello again", b"HELLO again"))
        return
    with tarfile.open(save) as t:
        members = [(m, t.extractfile(m).read() if m.isreg() else None) for m in t.getmembers()]
    buf = io.BytesIO()
    if fmt == "pax":
        t = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT,
                         pax_headers={"comment": "global"})
        for m, _ in members:
            m.pax_headers = {"comment": "member " + m.name}
    else:
        t = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)
        ti, data = reg("x" * 150, b"a member with a long name\n")
        t.addfile(ti, io.BytesIO(data))
    for m, data in members:
        t.addfile(m, io.BytesIO(data) if data is not None else None)
    t.close()
    with open(out, "wb") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "hostile":
        hostile(sys.argv[2])
    elif cmd == "small":
        small(sys.argv[2])
    elif cmd == "oci":
        oci(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "ocisave":
        ocisave(sys.argv[2], sys.argv[3])
    elif cmd == "ocitags":
        ocitags(sys.argv[2], sys.argv[3])
    elif cmd == "ociplatforms":
        ociplatforms(sys.argv[2], sys.argv[3])
    elif cmd == "ocilie":
        ocilie(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "dockerarchive":
        dockerarchive(sys.argv[2], *sys.argv[3:])
    elif cmd == "dirlayout":
        dirlayout(sys.argv[2], sys.argv[3])
    elif cmd == "reformat":
        reformat(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("unknown command " + cmd)
