#!/usr/bin/python3
"""Fixtures for test_knowledge_refresh.sh (standard library only).

  push REGISTRY FROM_REPO TO_REPO TAG=SRC_TAG:KEY=VALUE,... ...
      For each TAG: the manifest of FROM_REPO:SRC_TAG again under TO_REPO:TAG, its
      layers mounted from FROM_REPO (no bytes copied), its config the source's with
      the given Env variables set (the cheap way to get many CUDA versions and
      flavors: same blobs, another config).
  delete REGISTRY REPO TAG
      Delete the manifest TAG points at (each pushed tag has a config of its own,
      so only that tag goes).
  index DIR
      A static wheel index for pyindex.py (DIR/index.json, DIR/packages/*.metadata):
      torch 2.13.0, 2.13.1, 2.14.0 and 2.15.0rc1 on /whl/cu126 and /whl/cu130 (2.14.0 on
      cu130 only up to cp313, a macOS wheel and a +cpu file that must not count),
      torchvision 0.29.0 requiring torch==2.14.0 and 0.28.1 requiring torch==2.13.1
      (PEP 658 metadata only: no wheel bytes are needed).
"""

import hashlib
import json
import os
import sys
import urllib.request

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def req(method, url, data=None, headers=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(r) as resp:
        return resp.status, dict(resp.headers), resp.read()


def push(registry, src_repo, dst_repo, specs):
    base = "http://%s/v2" % registry
    for spec in specs:
        tag, rest = spec.split("=", 1)
        src_tag, _, envs = rest.partition(":")
        _, _, body = req("GET", "%s/%s/manifests/%s" % (base, src_repo, src_tag),
                         headers={"Accept": MANIFEST})
        man = json.loads(body)
        _, _, cfg = req("GET", "%s/%s/blobs/%s" % (base, src_repo, man["config"]["digest"]))
        cfg = json.loads(cfg)
        env = cfg["config"]["Env"]
        for kv in filter(None, envs.split(",")):
            k, v = kv.split("=", 1)
            env = [e for e in env if not e.startswith(k + "=")]
            env.append("%s=%s" % (k, v.replace(";", ",").replace("~", " ")))
        cfg["config"]["Env"] = env
        data = json.dumps(cfg, sort_keys=True).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        for layer in man["layers"]:
            req("POST", "%s/%s/blobs/uploads/?mount=%s&from=%s" % (base, dst_repo, layer["digest"], src_repo))
        _, hdr, _ = req("POST", "%s/%s/blobs/uploads/" % (base, dst_repo))
        loc = hdr["Location"]
        if loc.startswith("/"):
            loc = "http://%s%s" % (registry, loc)
        loc += ("&" if "?" in loc else "?") + "digest=" + digest
        req("PUT", loc, data=data, headers={"Content-Type": "application/octet-stream"})
        man["config"]["digest"] = digest
        man["config"]["size"] = len(data)
        req("PUT", "%s/%s/manifests/%s" % (base, dst_repo, tag), data=json.dumps(man).encode(),
            headers={"Content-Type": MANIFEST})


def delete(registry, repo, tag):
    base = "http://%s/v2/%s/manifests" % (registry, repo)
    _, hdr, _ = req("HEAD", "%s/%s" % (base, tag), headers={"Accept": MANIFEST})
    req("DELETE", "%s/%s" % (base, hdr["Docker-Content-Digest"]))


def index(d):
    os.makedirs(os.path.join(d, "packages"), exist_ok=True)
    files, roots = {}, {"whl/cu126": [], "whl/cu130": []}

    def add(root, project, version, tag, plat="manylinux_2_28_x86_64", requires=()):
        fn = "%s-%s-%s-%s-%s.whl" % (project, version, tag, tag, plat)
        meta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (project, version)
        meta += "".join("Requires-Dist: %s\n" % r for r in requires)
        path = os.path.join(d, "packages", fn + ".metadata")
        with open(path, "w", encoding="utf-8") as f:
            f.write(meta)
        files[fn] = {"project": project, "version": version,
                     "sha256": hashlib.sha256(fn.encode()).hexdigest(), "size": 1,
                     "metadata_sha256": hashlib.sha256(meta.encode()).hexdigest(),
                     "requires_python": ">=3.10"}
        roots[root].append(fn)

    for var in ("cu126", "cu130"):
        root = "whl/" + var
        for v in ("2.13.0", "2.13.1"):
            for py in ("cp310", "cp311", "cp312", "cp313", "cp314"):
                add(root, "torch", "%s+%s" % (v, var), py)
        for py in ("cp310", "cp311", "cp312", "cp313") + (("cp314",) if var == "cu126" else ()):
            add(root, "torch", "2.14.0+%s" % var, py)
        add(root, "torch", "2.15.0rc1+%s" % var, "cp312")
        add(root, "torch", "2.14.0+%s" % var, "cp312", plat="macosx_11_0_arm64")
        add(root, "torch", "2.14.0+cpu", "cp312")
        add(root, "torchvision", "0.29.0+%s" % var, "cp312", requires=["torch==2.14.0"])
        add(root, "torchvision", "0.28.1+%s" % var, "cp312", requires=["torch==2.13.1"])
        add(root, "torchvision", "0.28.0+%s" % var, "cp312", requires=["torch==2.13.0"])
    with open(os.path.join(d, "index.json.tmp"), "w", encoding="utf-8") as f:
        json.dump({"files": files, "roots": roots}, f)
    os.rename(os.path.join(d, "index.json.tmp"), os.path.join(d, "index.json"))


def main(argv):
    if argv[1] == "push":
        push(argv[2], argv[3], argv[4], argv[5:])
    elif argv[1] == "delete":
        delete(argv[2], argv[3], argv[4])
    elif argv[1] == "index":
        index(argv[2])
    else:
        sys.exit("usage: see the docstring")


if __name__ == "__main__":
    main(sys.argv)
