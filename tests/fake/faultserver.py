#!/usr/bin/python3
"""A fault-injecting HTTP server: an OCI distribution registry, or any scripted paths.

    faultserver.py [--port N] [--portfile FILE] [--log FILE] [--script JSON]
                   [--script-file FILE] [--user USER --password PASSWORD]
                   [--token TOKEN]

Listens on 127.0.0.1 (port N, default 0: a free one), writes the port to FILE
(renamed into place, so a reader never sees half of it) and serves until
killed (SIGTERM or SIGINT end it cleanly). Python 3 standard library only.

The registry (OCI distribution API v2), for every repository name:
    GET /v2/                          200 {} (or the Bearer challenge, with --user)
    HEAD/GET /v2/REPO/manifests/REF   an OCI image manifest with Docker-Content-Digest,
                                      REF a tag of the tag list or the manifest's digest
    GET /v2/REPO/tags/list[?n=&last=] the tag list, paged by n= with Link rel="next"
    HEAD/GET /v2/REPO/blobs/DIGEST    the config and the one layer of a small image it
                                      makes up (a gzip tar of app/hello.txt and 96 KiB of
                                      app/noise.bin that does not compress), the same for
                                      every run
With --user and --password, /v2/ paths want "Authorization: Bearer TOKEN" and answer
401 with `WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service=
"faultserver",scope="repository:REPO:pull"`; GET /token wants Basic USER:PASSWORD and
answers {"token": TOKEN} (--token, default "faultserver-token").

The script (JSON; --script, --script-file, or POST /_fault/script at any time):
    {"tags": ["t1", "t2"],                       the tag list (default t1 t2 t3)
     "routes": {"/simple/pkg/": {"status": 200, "body": "...", "headers": {...},
                                 "content_type": "text/html"}},
     "faults": {"PATTERN": [FAULT, ...]}}
"routes" serve arbitrary GET/HEAD paths (a body is "body" text, "body_b64" or
"body_file"), for clients other than the registry's. PATTERN is an fnmatch pattern
on the request path without its query ("/v2/*/manifests/t1", "/token"), optionally
prefixed by a method ("HEAD /v2/x/manifests/t1"). A request whose path matches takes
the first FAULT left in the first matching list; each FAULT applies "times" times
(default 1), then the next one; when all are spent the path is served normally.
A FAULT is one of:
    {"status": 503}                 that status, a short JSON error body
    {"status": 429, "retry_after": "1"}           with Retry-After: 1 (sent as given)
    {"status": 429, "retry_after_date": 2}        with Retry-After: an HTTP date 2 s ahead
    {"truncate": 100}               the real answer's headers (its full Content-Length),
                                    only 100 bytes of its body, then the connection closes
    {"reset_after": 100}            the same, then a TCP reset instead of a close
    {"reset": true}                 a TCP reset before any answer
    {"close": true}                 closed before any answer
    {"slow": true}                  no answer at all until the client gives up and closes
                                    (at most 600 s)
    {"corrupt": true}               the real answer with its body's last byte changed, its
                                    headers (Content-Length, Docker-Content-Digest) intact
    {"digest": "sha256:..."}        the real answer, Docker-Content-Digest set to this
A fault may also carry "headers": {...} added to its answer, and "auth": "Bearer" (or
"Basic", or null) to apply only to requests with that Authorization scheme (others
pass untouched, the fault still waiting): "fail only after the token was fetched".

The log: every request but /_fault/ ones is appended to --log as one JSON line
(written before the answer, so a client that has exited has been logged whole):
    {"n": 1, "t": MONOTONIC_SECONDS, "method": "GET", "path": "/v2/x/manifests/t1",
     "query": "", "auth": "Bearer" | "Basic" | null, "fault": {...} | null}
Only the scheme of an Authorization header is logged, never its value.
    GET /_fault/log      {"requests": [...], "counts": {"/path": N}} (the same entries)
    POST /_fault/reset   forgets the log and the faults spent
    POST /_fault/script  replaces the script (and forgets the faults spent)
"""
import argparse
import base64
import email.utils
import fnmatch
import gzip
import hashlib
import io
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_image():
    """The manifest, config and layer of a small made-up image, byte-identical per run."""
    files = [("app/hello.txt", b"hello from the fault server\n")]
    noise, block = bytearray(), b"faultserver"
    while len(noise) < 96 * 1024:
        block = hashlib.sha256(block).digest()
        noise += block
    files.append(("app/noise.bin", bytes(noise)))
    tar_io = io.BytesIO()
    with tarfile.open(fileobj=tar_io, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("app")
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1577836800
        tar.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1577836800
            tar.addfile(info, io.BytesIO(data))
    raw = tar_io.getvalue()
    gz_io = io.BytesIO()
    with gzip.GzipFile(fileobj=gz_io, mode="wb", mtime=0) as gz:
        gz.write(raw)
    layer = gz_io.getvalue()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(raw)]},
        "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "faultserver"}],
    }, separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}],
    }, separators=(",", ":")).encode()
    return manifest, {sha256(config): config, sha256(layer): layer}


MANIFEST, BLOBS = make_image()
MANIFEST_DIGEST = sha256(MANIFEST)


class State:
    def __init__(self, script):
        self.lock = threading.Lock()
        self.log = []
        self.log_file = None
        self.set_script(script)

    def set_script(self, script):
        if not isinstance(script, dict):
            raise ValueError("the script is not a JSON object")
        self.script = script
        # per pattern, [fault index, times used of it]
        self.spent = {}

    def take_fault(self, method, path, scheme):
        """The fault this request gets, or None; counts it as used."""
        with self.lock:
            for pattern, faults in self.script.get("faults", {}).items():
                pmethod, _, ppath = pattern.rpartition(" ")
                if pmethod and pmethod != method:
                    continue
                if not fnmatch.fnmatchcase(path, ppath):
                    continue
                pos = self.spent.setdefault(pattern, [0, 0])
                while pos[0] < len(faults):
                    fault = faults[pos[0]]
                    if pos[1] < int(fault.get("times", 1)):
                        if "auth" in fault and fault["auth"] != scheme:
                            return None
                        pos[1] += 1
                        return fault
                    pos[0], pos[1] = pos[0] + 1, 0
                # this list is spent: a later pattern may still match
            return None

    def record(self, entry):
        with self.lock:
            entry["n"] = len(self.log) + 1
            self.log.append(entry)
            if self.log_file:
                with open(self.log_file, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")

    def dump(self):
        with self.lock:
            counts = {}
            for e in self.log:
                counts[e["path"]] = counts.get(e["path"], 0) + 1
            return {"requests": list(self.log), "counts": counts}


STATE = State({})
AUTH = {"user": None, "password": None, "token": "faultserver-token"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultserver"

    def log_message(self, *args):
        pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # the socket a fault closed or reset

    # ---- answers ----

    def answer(self, status, body=b"", headers=None, ctype="application/json", fault=None):
        """Send an answer, through the fault when there is one."""
        headers = dict(headers or {})
        fault = fault or {}
        headers.update(fault.get("headers", {}))
        if fault.get("digest"):
            headers["Docker-Content-Digest"] = fault["digest"]
        sent = body
        if fault.get("corrupt") and body:
            sent = body[:-1] + bytes([body[-1] ^ 0x01])
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        cut = fault.get("truncate", fault.get("reset_after"))
        if cut is None:
            self.wfile.write(sent)
            return
        self.wfile.write(sent[:int(cut)])
        self.wfile.flush()
        if "reset_after" in fault:
            self.reset()
        else:
            self.hang_up()

    def error(self, status, code, message, headers=None, fault=None):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.answer(status, body, headers, fault=fault)

    def hang_up(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def reset(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def wait_for_hangup(self):
        """Answer nothing until the client closes (its timeout), at most 600 s."""
        self.close_connection = True
        end = time.monotonic() + 600
        while time.monotonic() < end:
            ready, _, _ = select.select([self.connection], [], [], 1.0)
            if ready:
                try:
                    if not self.connection.recv(4096):
                        return
                except OSError:
                    return

    # ---- requests ----

    def do_HEAD(self):
        self.handle_request()

    def do_GET(self):
        self.handle_request()

    def do_POST(self):
        path = self.path.partition("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        if path == "/_fault/reset":
            with STATE.lock:
                STATE.log = []
                STATE.spent = {}
            return self.answer(200, b"{}")
        if path == "/_fault/script":
            try:
                script = json.loads(data or b"{}")
                with STATE.lock:
                    STATE.set_script(script)
            except ValueError as e:
                return self.error(400, "BAD_SCRIPT", str(e))
            return self.answer(200, b"{}")
        return self.error(405, "UNSUPPORTED", "only the control endpoints take POST")

    def handle_request(self):
        path, _, query = self.path.partition("?")
        if path == "/_fault/log":
            return self.answer(200, json.dumps(STATE.dump()).encode())
        auth = self.headers.get("Authorization")
        scheme = auth.split(" ", 1)[0] if auth else None
        fault = STATE.take_fault(self.command, path, scheme)
        STATE.record({"t": time.monotonic(), "method": self.command, "path": path,
                      "query": query, "auth": scheme, "fault": fault})
        if fault:
            if fault.get("slow"):
                return self.wait_for_hangup()
            if fault.get("reset"):
                return self.reset()
            if fault.get("close"):
                return self.hang_up()
            if "status" in fault:
                headers = {}
                if "retry_after" in fault:
                    headers["Retry-After"] = str(fault["retry_after"])
                if "retry_after_date" in fault:
                    headers["Retry-After"] = email.utils.formatdate(
                        time.time() + float(fault["retry_after_date"]), usegmt=True)
                status = int(fault["status"])
                return self.error(status, "FAULT", "injected %d" % status, headers,
                                  fault={"headers": fault.get("headers", {})})
        self.serve(path, query, fault)

    def serve(self, path, query, fault):
        routes = STATE.script.get("routes", {})
        if path in routes:
            return self.serve_route(routes[path], fault)
        if path == "/token":
            return self.serve_token(fault)
        if not path.startswith("/v2/"):
            return self.error(404, "NOT_FOUND", "no such path", fault=fault)
        m = re.match(r"^/v2/(.+)/(manifests|blobs|tags)/(.+)$", path)
        repo = m.group(1) if m else None
        if not self.authorized(repo):
            return None
        if path == "/v2/":
            return self.answer(200, b"{}", fault=fault)
        if not m:
            return self.error(404, "NOT_FOUND", "no such path", fault=fault)
        kind, ref = m.group(2), m.group(3)
        if kind == "tags":
            return self.serve_tags(repo, query, fault)
        if kind == "blobs":
            blob = BLOBS.get(ref)
            if blob is None:
                return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry", fault=fault)
            return self.answer(200, blob, {"Docker-Content-Digest": ref},
                               "application/octet-stream", fault)
        if ref != MANIFEST_DIGEST and ref not in self.tags():
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown", fault=fault)
        return self.answer(200, MANIFEST, {"Docker-Content-Digest": MANIFEST_DIGEST},
                           OCI_MANIFEST, fault)

    def serve_route(self, route, fault):
        if "body_b64" in route:
            body = base64.b64decode(route["body_b64"])
        elif "body_file" in route:
            with open(route["body_file"], "rb") as f:
                body = f.read()
        else:
            body = route.get("body", "").encode()
        self.answer(int(route.get("status", 200)), body, route.get("headers"),
                    route.get("content_type", "application/octet-stream"), fault)

    def serve_token(self, fault):
        want = "Basic " + base64.b64encode(
            ("%s:%s" % (AUTH["user"], AUTH["password"])).encode()).decode()
        if AUTH["user"] and self.headers.get("Authorization") != want:
            return self.error(401, "UNAUTHORIZED", "bad credentials", fault=fault)
        self.answer(200, json.dumps({"token": AUTH["token"], "expires_in": 300}).encode(),
                    fault=fault)

    def authorized(self, repo):
        if not AUTH["user"]:
            return True
        if self.headers.get("Authorization") == "Bearer " + AUTH["token"]:
            return True
        port = self.server.server_address[1]
        challenge = 'Bearer realm="http://127.0.0.1:%d/token",service="faultserver"' % port
        if repo:
            challenge += ',scope="repository:%s:pull"' % repo
        self.error(401, "UNAUTHORIZED", "authentication required",
                   {"WWW-Authenticate": challenge})
        return False

    def tags(self):
        return list(STATE.script.get("tags", ["t1", "t2", "t3"]))

    def serve_tags(self, repo, query, fault):
        tags = sorted(self.tags())
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        last = params.get("last")
        if last:
            tags = [t for t in tags if t > last]
        headers = {}
        n = int(params.get("n") or 0)
        if n and len(tags) > n:
            tags = tags[:n]
            headers["Link"] = '</v2/%s/tags/list?n=%d&last=%s>; rel="next"' % (
                repo, n, tags[-1])
        self.answer(200, json.dumps({"name": repo, "tags": tags}).encode(), headers,
                    fault=fault)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--portfile")
    ap.add_argument("--log")
    ap.add_argument("--script")
    ap.add_argument("--script-file")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--token", default="faultserver-token")
    args = ap.parse_args()
    if args.script_file:
        with open(args.script_file, encoding="utf-8") as f:
            STATE.set_script(json.load(f))
    elif args.script:
        STATE.set_script(json.loads(args.script))
    STATE.log_file = args.log
    AUTH.update(user=args.user, password=args.password, token=args.token)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.portfile:
        tmp = args.portfile + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(str(server.server_address[1]))
        os.replace(tmp, args.portfile)
    else:
        print(server.server_address[1], flush=True)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
