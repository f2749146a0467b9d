#!/usr/bin/python3
"""A registry serving the images of OCI layouts, for tests/unit/test_image.c.

    registry_image.py ROOT PORTFILE

Listens on 127.0.0.1 on a free port and writes the port to PORTFILE (renamed into
place). Repository MODE/NAME holds the images of the layout ROOT/NAME: a manifest by
the tag its index.json descriptor names (org.opencontainers.image.ref.name; "latest":
the first descriptor) or by digest, and every blob of blobs/sha256/. MODE picks the
behaviour:

    ok/NAME         as stored
    endless/NAME    a layer blob never ends: the bytes it has, then zeros, forever,
                    without Content-Length (a reader must stop at the descriptor's size)
"""
import json
import os
import re
import sys

# the HTTP plumbing (send, error, quiet logs, the server) of the fake registry beside this
# file, imported without leaving a __pycache__ in the tree
sys.dont_write_bytecode = True
import registry_fake  # noqa: E402
from registry_fake import Handler as FakeHandler  # noqa: E402

ROOT = ""


def blob_path(layout, digest):
    if not re.match(r"^sha256:[0-9a-f]{64}$", digest):
        return None
    return os.path.join(layout, "blobs", "sha256", digest[7:])


def layer_digests(layout):
    """Digests of every layer of every manifest of the layout."""
    out = set()
    for name in os.listdir(os.path.join(layout, "blobs", "sha256")):
        try:
            with open(os.path.join(layout, "blobs", "sha256", name), "rb") as f:
                doc = json.load(f)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict):
            out.update(layer["digest"] for layer in doc.get("layers", []))
    return out


class Handler(FakeHandler):
    def manifest(self, layout, ref):
        if not ref.startswith("sha256:"):
            with open(os.path.join(layout, "index.json")) as f:
                index = json.load(f)
            named = [d for d in index["manifests"]
                     if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
            if ref == "latest":
                named = index["manifests"][:1]
            if not named:
                return self.error(404, "MANIFEST_UNKNOWN", "MANIFEST_UNKNOWN")
            ref = named[0]["digest"]
        path = blob_path(layout, ref)
        if not path or not os.path.exists(path):
            return self.error(404, "MANIFEST_UNKNOWN", "MANIFEST_UNKNOWN")
        with open(path, "rb") as f:
            body = f.read()
        mt = json.loads(body).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
        self.send(200, body, {"Docker-Content-Digest": ref}, ctype=mt)

    def blob(self, mode, layout, digest):
        path = blob_path(layout, digest)
        if not path or not os.path.exists(path):
            return self.error(404, "BLOB_UNKNOWN", "BLOB_UNKNOWN")
        with open(path, "rb") as f:
            body = f.read()
        if mode != "endless" or digest not in layer_digests(layout) or self.command == "HEAD":
            return self.send(200, body, ctype="application/octet-stream")
        # No Content-Length: the body ends when the connection does, which is never.
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = body + b"\0" * 65536
        try:
            while True:
                self.wfile.write(chunk)
                chunk = b"\0" * 65536
        except (ConnectionError, OSError):
            pass

    def do_GET(self):
        path = self.path.partition("?")[0]
        if path == "/v2/":
            return self.send(200, b"{}")
        m = re.match(r"^/v2/(.+)/(manifests|blobs)/(.+)$", path)
        if not m:
            return self.error(404, "NOT_FOUND", "NOT_FOUND")
        repo, kind, ref = m.groups()
        mode, _, name = repo.partition("/")
        layout = os.path.join(ROOT, name)
        if mode not in ("ok", "endless") or "/" in name or not name or \
                not os.path.exists(os.path.join(layout, "index.json")):
            return self.error(404, "NAME_UNKNOWN", "NAME_UNKNOWN")
        if kind == "manifests":
            return self.manifest(layout, ref)
        return self.blob(mode, layout, ref)


def main():
    global ROOT
    ROOT = sys.argv.pop(1)
    # registry_fake.main() serves PORTFILE with the Handler of its module: this one
    registry_fake.Handler = Handler
    registry_fake.main()


if __name__ == "__main__":
    main()
