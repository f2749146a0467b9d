#!/usr/bin/python3
"""An in-memory OCI registry for tests/unit/test_referrers.c.

    registry_oci11.py MODE PORTFILE

Listens on 127.0.0.1 on a free port, writes the port to PORTFILE (renamed into
place) and serves until killed: blobs (HEAD, GET, POST + PUT uploads),
manifests (HEAD, GET, PUT by tag or digest). MODE says what it is:

    api      distribution spec 1.1: GET /v2/<name>/referrers/<digest> lists the
             manifests whose subject is <digest> (artifactType filter applied,
             OCI-Filters-Applied), and a PUT of a manifest with a subject
             answers OCI-Subject. No registry on this machine has the
             referrers API (Debian's docker-registry is distribution 2.8), so
             this is how gpuslim's API path is tested.
    racing   distribution 2.8 (404 for /referrers/), and another client races
             on the referrers tag: the first write of each "sha256-..." tag is
             overwritten at once by an index holding only a foreign entry, as
             a concurrent read-modify-write would leave it.

Every answer is logged to stderr with --verbose. GET /stats answers
{"tag_writes": N, "referrers_calls": N}.
"""
import hashlib
import json
import re
import sys
import threading
import uuid

# the HTTP plumbing shared by the fakes beside this file, imported without leaving a
# __pycache__ in the tree
sys.dont_write_bytecode = True
import fakehttp  # noqa: E402

MODE = sys.argv[1]
LOCK = threading.Lock()
BLOBS = {}      # digest -> bytes (all repositories share them: this is a test)
MANIFESTS = {}  # (repo, digest) -> (media type, bytes)
TAGS = {}       # (repo, tag) -> digest
UPLOADS = set()
STATS = {"tag_writes": 0, "referrers_calls": 0}
FOREIGN = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": "sha256:" + "f" * 64, "size": 1,
           "artifactType": "application/vnd.example.other"}


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Handler(fakehttp.Handler):
    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/stats":
            return self.send(200, json.dumps(STATS).encode())
        m = re.match(r"^/v2/(.+)/(manifests|blobs|referrers)/([^/]+)$", path)
        if not m:
            return self.error(404, "NOT_FOUND", path)
        repo, kind, ref = m.groups()
        with LOCK:
            if kind == "blobs":
                if ref not in BLOBS:
                    return self.error(404, "BLOB_UNKNOWN", ref)
                return self.send(200, BLOBS[ref], {"Docker-Content-Digest": ref},
                                 "application/octet-stream")
            if kind == "referrers":
                STATS["referrers_calls"] += 1
                if MODE != "api":
                    return self.send(404, b"404 page not found\n", ctype="text/plain")
                return self.referrers(repo, ref, query)
            d = ref if ref.startswith("sha256:") else TAGS.get((repo, ref))
            if not d or (repo, d) not in MANIFESTS:
                return self.error(404, "MANIFEST_UNKNOWN", ref)
            mt, data = MANIFESTS[(repo, d)]
            return self.send(200, data, {"Docker-Content-Digest": d}, mt)

    def referrers(self, repo, subject, query):
        want = None
        for p in query.split("&"):
            if p.startswith("artifactType="):
                want = p.split("=", 1)[1].replace("%2F", "/").replace("%2B", "+")
        out = []
        for (r, d), (mt, data) in MANIFESTS.items():
            if r != repo:
                continue
            doc = json.loads(data)
            if (doc.get("subject") or {}).get("digest") != subject:
                continue
            at = doc.get("artifactType") or doc.get("config", {}).get("mediaType")
            if want and at != want:
                continue
            desc = {"mediaType": mt, "digest": d, "size": len(data), "artifactType": at}
            if doc.get("annotations"):
                desc["annotations"] = doc["annotations"]
            out.append(desc)
        headers = {"OCI-Filters-Applied": "artifactType"} if want else {}
        body = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.index.v1+json",
                           "manifests": out}).encode()
        self.send(200, body, headers, "application/vnd.oci.image.index.v1+json")

    def do_POST(self):
        path, _, _ = self.path.partition("?")
        m = re.match(r"^/v2/(.+)/blobs/uploads/$", path)
        self.body()
        if not m:
            return self.error(404, "NOT_FOUND", path)
        u = str(uuid.uuid4())
        with LOCK:
            UPLOADS.add(u)
        self.send(202, b"", {"Location": f"/v2/{m.group(1)}/blobs/uploads/{u}?_state=x"})

    def do_PUT(self):
        path, _, query = self.path.partition("?")
        data = self.body()
        m = re.match(r"^/v2/(.+)/blobs/uploads/([^/]+)$", path)
        if m:
            want = re.search(r"digest=([^&]+)", query)
            want = want.group(1).replace("%3A", ":") if want else ""
            with LOCK:
                if m.group(2) not in UPLOADS or "_state=x" not in query:
                    return self.error(404, "BLOB_UPLOAD_UNKNOWN", m.group(2))
                UPLOADS.discard(m.group(2))
                if digest(data) != want:
                    return self.error(400, "DIGEST_INVALID", want)
                BLOBS[want] = data
            return self.send(201, b"", {"Location": f"/v2/{m.group(1)}/blobs/{want}",
                                        "Docker-Content-Digest": want})
        m = re.match(r"^/v2/(.+)/manifests/([^/]+)$", path)
        if not m:
            return self.error(404, "NOT_FOUND", path)
        repo, ref = m.groups()
        try:
            doc = json.loads(data)
        except ValueError:
            return self.error(400, "MANIFEST_INVALID", "not JSON")
        mt = self.headers.get("Content-Type", "")
        d = digest(data)
        if ref.startswith("sha256:") and ref != d:
            return self.error(400, "DIGEST_INVALID", ref)
        with LOCK:
            for desc in [doc.get("config")] + doc.get("layers", []):
                if desc and desc.get("digest") not in BLOBS:
                    return self.error(400, "MANIFEST_BLOB_UNKNOWN", desc.get("digest"))
            MANIFESTS[(repo, d)] = (mt, data)
            if not ref.startswith("sha256:"):
                TAGS[(repo, ref)] = d
                if ref.startswith("sha256-"):
                    STATS["tag_writes"] += 1
                    if MODE == "racing" and STATS["tag_writes"] == 1:
                        # Another client wrote the tag right after us, from
                        # what it had read before our write.
                        other = json.dumps({"schemaVersion": 2, "mediaType": mt,
                                            "manifests": [FOREIGN]}).encode()
                        MANIFESTS[(repo, digest(other))] = (mt, other)
                        TAGS[(repo, ref)] = digest(other)
        headers = {"Docker-Content-Digest": d, "Location": f"/v2/{repo}/manifests/{d}"}
        if MODE == "api" and doc.get("subject"):
            headers["OCI-Subject"] = doc["subject"]["digest"]
        self.send(201, b"", headers)


def main():
    fakehttp.serve(Handler, sys.argv[2])


if __name__ == "__main__":
    main()
