#!/usr/bin/python3
"""A fault-injecting OCI distribution registry for tests/unit/test_registry.c.

    registry_fake.py PORTFILE

Listens on 127.0.0.1 on a free port, writes the port to PORTFILE (renamed into
place, so a reader never sees half of it) and serves until killed. The
repository name picks the behaviour:

    ok/img          manifest "v1" (HEAD and GET, Docker-Content-Digest), blob,
                    blob via a redirect (/v2/ok/img/blobs/<d> -> /storage/<d>)
    nodigest/img    no Docker-Content-Digest header: the client hashes the body
    headless/img    HEAD answers 405: the client falls back to GET
    lying/img       Docker-Content-Digest does not match the body; blob too
    err500/img      500 for everything
    slow/img        answers after 600 s (only a client timeout ends the wait)
    big/img         a 200 KB manifest
    garbage/img     tags/list is not JSON
    paged/img       tags/list: 5 tags, honours n= and sends Link rel="next"
    bearer/img      Bearer flow; the token service wants gpuslim:gpuslim-test
    anon/img        Bearer flow; the token service gives anonymous tokens
    basic/img       Basic auth, gpuslim:gpuslim-test
    anything else   404 NAME_UNKNOWN; tag "gone" of ok/img: 404 MANIFEST_UNKNOWN

GET /stats answers {"token": N, "requests": N} (token fetches, all requests).
"""
import base64
import hashlib
import json
import re
import sys
import threading
import time

# the HTTP plumbing shared by the fakes beside this file, imported without leaving a
# __pycache__ in the tree
sys.dont_write_bytecode = True
import fakehttp  # noqa: E402

USER, PASSWORD = "gpuslim", "gpuslim-test"
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + "0" * 64, "size": 2},
    "layers": [],
}, separators=(",", ":")).encode()
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
BLOB = b"gpuslim blob " * 10000
TAGS = ["1.0", "1.1", "1.2", "2.0", "latest"]
STATS = {"token": 0, "requests": 0}
LOCK = threading.Lock()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Handler(fakehttp.Handler):
    def basic_ok(self):
        auth = self.headers.get("Authorization", "")
        want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return auth == want

    def token(self, query):
        with LOCK:
            STATS["token"] += 1
        auth = self.headers.get("Authorization")
        scope = re.search(r"scope=([^&]*)", query)
        scope = scope.group(1) if scope else ""
        if "anon" in scope and not auth:
            return self.send(200, json.dumps({"token": "anon-token"}).encode())
        if not self.basic_ok():
            return self.error(401, "UNAUTHORIZED", "bad credentials")
        self.send(200, json.dumps({"access_token": "good-token", "expires_in": 300}).encode())

    def challenge(self, repo):
        host = f"127.0.0.1:{self.server.server_port}"
        if repo == "basic/img":
            if self.basic_ok():
                return True
            self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                      {"WWW-Authenticate": 'Basic realm="fake"'})
            return False
        if repo in ("bearer/img", "anon/img"):
            want = "Bearer anon-token" if repo == "anon/img" else "Bearer good-token"
            if self.headers.get("Authorization") == want:
                return True
            self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
                "WWW-Authenticate": f'Bearer realm="http://{host}/token",service="fake",'
                                    f'scope="repository:{repo}:pull"'})
            return False
        return True

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        with LOCK:
            STATS["requests"] += 1
        path, _, query = self.path.partition("?")
        if path == "/token":
            return self.token(query)
        if path == "/stats":
            return self.send(200, json.dumps(STATS).encode())
        if path.startswith("/storage/"):
            return self.send(200, BLOB, ctype="application/octet-stream")
        m = re.match(r"^/v2/(.+)/(manifests|blobs|tags)/(.+)$", path)
        if not m:
            return self.send(200, b"{}") if path == "/v2/" else self.error(404, "NOT_FOUND", path)
        repo, kind, ref = m.groups()
        if repo == "slow/img":
            time.sleep(600)
        if repo == "err500/img":
            return self.send(500, b"internal error", ctype="text/plain")
        if not self.challenge(repo):
            return None
        if repo not in ("ok/img", "nodigest/img", "headless/img", "lying/img", "big/img",
                        "garbage/img", "paged/img", "bearer/img", "anon/img", "basic/img",
                        "slow/img"):
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        if kind == "tags":
            return self.tags(repo, query)
        if kind == "blobs":
            if repo == "lying/img":
                return self.send(200, BLOB + b"x", ctype="application/octet-stream")
            if ref != digest(BLOB):
                return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            if repo == "ok/img":
                return self.send(307, b"", {"Location": f"/storage/{ref}"})
            return self.send(200, BLOB, ctype="application/octet-stream")
        if ref == "gone":
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        body = MANIFEST
        if repo == "big/img":
            body = json.dumps({"schemaVersion": 2, "pad": "x" * 200000}).encode()
        if ref.startswith("sha256:") and ref != digest(body):
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        headers = {"Docker-Content-Digest": digest(body)}
        if repo == "nodigest/img":
            headers = {}
        if repo == "lying/img":
            headers = {"Docker-Content-Digest": "sha256:" + "1" * 64}
            if self.command == "HEAD":
                headers = {}
        if repo == "headless/img" and self.command == "HEAD":
            return self.send(405, b"", ctype="text/plain")
        self.send(200, body, headers, ctype=OCI_MANIFEST)

    def tags(self, repo, query):
        if repo == "garbage/img":
            return self.send(200, b"{not json at all")
        if repo != "paged/img":
            return self.send(200, json.dumps({"name": repo, "tags": ["v1"]}).encode())
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        n = int(params.get("n", "100"))
        start = TAGS.index(params["last"]) + 1 if "last" in params else 0
        page = TAGS[start:start + n]
        headers = {}
        if start + n < len(TAGS):
            headers["Link"] = f'</v2/{repo}/tags/list?last={page[-1]}&n={n}>; rel="next"'
        self.send(200, json.dumps({"name": repo, "tags": page}).encode(), headers)


def main():
    fakehttp.serve(Handler, sys.argv[1])


if __name__ == "__main__":
    main()
