#!/usr/bin/python3
"""A registry whose tags a test rewrites between checks, for tests/unit/test_plan_resolve.c.

    registry_tags.py TAGSFILE PORTFILE

Listens on 127.0.0.1 on a free port and writes the port to PORTFILE (renamed
into place). TAGSFILE is read again on every request:

    {"nvidia/cuda": ["12.4.1-base-ubuntu22.04", ...], "broken/cuda": 500}

A repository mapped to a list has exactly those tags: tags/list lists them and
each one has a manifest (HEAD and GET, Docker-Content-Digest) whose body is
MANIFEST_FMT with the repository and tag filled in, so a test can compute the
digest itself. A repository mapped to a number answers that HTTP status to
everything; one not in the file is 404 NAME_UNKNOWN, a tag not in its list
404 MANIFEST_UNKNOWN.

GET /stats answers {"tags": N, "manifests": N}: tag listings and manifest
requests so far.
"""
import hashlib
import json
import re
import sys
import threading

# the HTTP plumbing shared by the fakes beside this file, imported without leaving a
# __pycache__ in the tree
sys.dont_write_bytecode = True
import fakehttp  # noqa: E402

MANIFEST_FMT = ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
                '"config":{"mediaType":"application/vnd.oci.image.config.v1+json",'
                '"digest":"sha256:%s","size":2},"layers":[],'
                '"annotations":{"ref":"%s:%s"}}')
STATS = {"tags": 0, "manifests": 0}
LOCK = threading.Lock()
TAGSFILE = ""


class Handler(fakehttp.Handler):
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.partition("?")[0]
        if path == "/stats":
            with LOCK:
                return self.send(200, json.dumps(STATS).encode())
        if path == "/v2/":
            return self.send(200, b"{}")
        m = re.match(r"^/v2/(.+)/(manifests|tags)/(.+)$", path)
        if not m:
            return self.error(404, "NOT_FOUND", path)
        repo, kind, ref = m.groups()
        with LOCK:
            STATS["tags" if kind == "tags" else "manifests"] += 1
        with open(TAGSFILE) as f:
            repos = json.load(f)
        tags = repos.get(repo)
        if tags is None:
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        if isinstance(tags, int):
            return self.send(tags, b"injected failure", ctype="text/plain")
        if kind == "tags":
            return self.send(200, json.dumps({"name": repo, "tags": tags}).encode())
        if ref not in tags:
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        body = (MANIFEST_FMT % ("0" * 64, repo, ref)).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        self.send(200, body, {"Docker-Content-Digest": digest},
                  ctype="application/vnd.oci.image.manifest.v1+json")


def main():
    global TAGSFILE
    TAGSFILE = sys.argv[1]
    fakehttp.serve(Handler, sys.argv[2])


if __name__ == "__main__":
    main()
