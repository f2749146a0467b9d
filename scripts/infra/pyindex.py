#!/usr/bin/python3
"""A local Python package index for the tests (standard library only).

Serves what scripts/infra/build-wheels.sh built into DIR (DIR/index.json and
DIR/packages/), on 127.0.0.1 only:

  /simple/                  the default index (like PyPI): pure-Python projects and
                            NVIDIA's CUDA wheels; file URLs are absolute, as PyPI's are
  /whl/cu130/, /whl/cpu/    framework indexes (like download.pytorch.org/whl/cu130):
                            torch +cu130 and the nvidia-* wheels it requires, torch +cpu;
                            file URLs are host-relative, as download.pytorch.org's are
  /packages/FILE            the files, and FILE.metadata (PEP 658) for each wheel

Each index root answers PEP 503 HTML or PEP 691 JSON (api-version 1.1, PEP 700), chosen
by content negotiation on Accept (q-values honoured; 406 when nothing acceptable; no
Accept header or */* gives text/html, as PyPI does); `?format=TYPE` overrides Accept, as
on PyPI. Every file carries its sha256, requires-python, yanked (PEP 592) and, for wheels,
core-metadata (PEP 658/714: core-metadata in JSON; data-core-metadata and the
older data-dist-info-metadata in HTML, never dist-info-metadata in JSON). A project name that is not normalized (PEP 503) redirects
(301) to the normalized one; an unknown project is a 404.

index.json is reread when its mtime changes, so a rebuild needs no restart.

    pyindex.py serve --dir DIR [--host 127.0.0.1] [--port 5080] [--port-file FILE]
                     [--log FILE] [--pidfile FILE] [--auth USER:PASSWORD]

--port 0 binds a free port; --port-file FILE gets the bound port (written once the
socket listens, renamed into place), so a test can run an instance of its own.

--auth: every request needs HTTP basic auth with USER:PASSWORD (401 with
WWW-Authenticate otherwise): the credentials tests run a second instance so, on a
port of their own.
"""

import argparse
import base64
import html
import json
import os
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "1.1"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_V1_TYPE = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
# Media type -> the type answered. Order breaks ties between equal q-values.
SUPPORTED = [
    (JSON_TYPE, JSON_TYPE),
    ("application/vnd.pypi.simple.latest+json", JSON_TYPE),
    (HTML_V1_TYPE, HTML_V1_TYPE),
    ("application/vnd.pypi.simple.latest+html", HTML_V1_TYPE),
    (TEXT_HTML, TEXT_HTML),
]
# Wildcards: the server's choice for them.
WILDCARDS = {"*/*": TEXT_HTML, "text/*": TEXT_HTML, "application/*": JSON_TYPE}


def normalize(name):
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def negotiate(accept):
    """The media type to answer for an Accept header, or None (406).

    Each clause is TYPE[;q=Q][;other params]. The highest q wins; among equal q an
    exact type beats a wildcard, then SUPPORTED's order decides. q=0 excludes.
    """
    if accept is None or not accept.strip():
        return TEXT_HTML
    best = None  # (q, specificity, -order, answer)
    for clause in accept.split(","):
        parts = [p.strip() for p in clause.split(";")]
        mtype = parts[0].lower()
        if not mtype:
            continue
        q = 1.0
        for p in parts[1:]:
            k, _, v = p.partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v.strip())
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        cand = None
        for order, (t, answer) in enumerate(SUPPORTED):
            if t == mtype:
                cand = (q, 1, -order, answer)
                break
        if cand is None and mtype in WILDCARDS:
            answer = WILDCARDS[mtype]
            order = [a for _, a in SUPPORTED].index(answer)
            cand = (q, 0, -order, answer)
        if cand is not None and (best is None or cand[:3] > best[:3]):
            best = cand
    return best[3] if best else None


class Index:
    """index.json, reloaded when it changes on disk."""

    def __init__(self, directory):
        self.dir = directory
        self.path = os.path.join(directory, "index.json")
        self.lock = threading.Lock()
        self.mtime = None
        self.data = None
        self.roots = {}

    def get(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        with self.lock:
            key = (st.st_mtime_ns, st.st_ino) if st else None
            if key != self.mtime:
                self._load(st is not None)
                self.mtime = key
            return self.data, self.roots

    def _load(self, present):
        if not present:
            self.data, self.roots = {"files": {}, "roots": {}}, {}
            return
        with open(self.path, encoding="utf-8") as f:
            data = json.load(f)
        roots = {}
        for root, filenames in data["roots"].items():
            projects = {}
            for fn in filenames:
                meta = data["files"][fn]
                projects.setdefault(normalize(meta["project"]), []).append(fn)
            roots[root] = projects
        self.data, self.roots = data, roots


class Handler(BaseHTTPRequestHandler):
    server_version = "gpuslim-pyindex/1"
    protocol_version = "HTTP/1.1"

    # -- plumbing

    def log_message(self, fmt, *args):
        self.server.log("%s %s" % (self.address_string(), fmt % args))

    def send_body(self, code, ctype, body, extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, msg, extra=None):
        self.send_body(code, "text/plain; charset=utf-8", (msg + "\n").encode(), extra)

    def redirect(self, location, query):
        if query:
            location += "?" + query
        self.send_body(301, "text/plain; charset=utf-8", ("moved to %s\n" % location).encode(),
                       {"Location": location})

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        want = self.server.auth
        if want and self.headers.get("Authorization") != want:
            self.server.log("401 %s %s" % (self.command, self.path))
            return self.error(401, "authentication required",
                              {"WWW-Authenticate": 'Basic realm="gpuslim-fixture"'})
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        data, roots = self.server.index.get()
        if path.startswith("/packages/"):
            return self.serve_file(data, path[len("/packages/"):])
        for root in sorted(roots, key=len, reverse=True):
            base = "/" + root.strip("/")
            if path == base:
                return self.redirect(base + "/", url.query)
            if path.startswith(base + "/"):
                return self.serve_root(data, root, roots[root], path[len(base) + 1:], url.query)
        self.error(404, "not found: %s (index roots: %s)" % (path, ", ".join(
            "/" + r.strip("/") + "/" for r in sorted(roots))))

    # -- simple pages

    def pick_type(self, query):
        fmt = urllib.parse.parse_qs(query).get("format")
        return negotiate(fmt[0] if fmt else self.headers.get("Accept"))

    def serve_root(self, data, root, projects, rest, query):
        ctype = self.pick_type(query)
        vary = {"Vary": "Accept"}
        if ctype is None:
            return self.error(406, "not acceptable: %r; this index answers %s, %s, %s" % (
                self.headers.get("Accept"), JSON_TYPE, HTML_V1_TYPE, TEXT_HTML), vary)
        base = "/" + root.strip("/") + "/"
        if rest == "":
            return self.project_list(ctype, projects)
        name = rest[:-1] if rest.endswith("/") else rest
        if "/" in name or not name:
            return self.error(404, "not found: %s%s" % (base, rest), vary)
        norm = normalize(name)
        if norm != name or not rest.endswith("/"):
            return self.redirect(base + norm + "/", query)
        if norm not in projects:
            return self.error(404, "no project %r on %s" % (name, base), vary)
        self.project_page(ctype, data, root, norm, projects[norm])

    def file_url(self, root, fn):
        rel = "/packages/" + urllib.parse.quote(fn)
        if root.startswith("whl"):
            return rel  # host-relative, as download.pytorch.org
        return "http://%s:%d%s" % (self.server.server_address[0], self.server.server_address[1], rel)

    def project_list(self, ctype, projects):
        names = sorted(projects)
        if ctype == JSON_TYPE:
            body = {"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n in names]}
            return self.send_json(body)
        lines = ['<a href="%s/">%s</a><br/>' % (n, n) for n in names]
        self.send_html(ctype, "Simple index", lines)

    def project_page(self, ctype, data, root, name, filenames):
        files = [(fn, data["files"][fn]) for fn in filenames]
        if ctype == JSON_TYPE:
            out = []
            versions = []
            for fn, m in files:
                if m["version"] not in versions:
                    versions.append(m["version"])
                e = {"filename": fn, "url": self.file_url(root, fn),
                     "hashes": {"sha256": m["sha256"]}, "size": m["size"]}
                if m.get("requires_python"):
                    e["requires-python"] = m["requires_python"]
                cm = {"sha256": m["metadata_sha256"]} if m.get("metadata_sha256") else False
                # PEP 714: "core-metadata" only; the old "dist-info-metadata" key makes
                # pip 22.3 to 23.1 (Debian 12's pip is 23.0.1) fail on every JSON page.
                e["core-metadata"] = cm
                e["yanked"] = m.get("yanked", False)
                out.append(e)
            return self.send_json({"meta": {"api-version": API_VERSION}, "name": name,
                                   "versions": versions, "files": out})
        lines = []
        for fn, m in files:
            attrs = ['href="%s#sha256=%s"' % (html.escape(self.file_url(root, fn)), m["sha256"])]
            if m.get("requires_python"):
                attrs.append('data-requires-python="%s"' % html.escape(m["requires_python"]))
            y = m.get("yanked", False)
            if y is not False:
                attrs.append('data-yanked="%s"' % html.escape(y if isinstance(y, str) else ""))
            if m.get("metadata_sha256"):
                attrs.append('data-dist-info-metadata="sha256=%s"' % m["metadata_sha256"])
                attrs.append('data-core-metadata="sha256=%s"' % m["metadata_sha256"])
            lines.append("<a %s>%s</a><br/>" % (" ".join(attrs), html.escape(fn)))
        self.send_html(ctype, "Links for %s" % name, lines)

    def send_json(self, obj):
        body = json.dumps(obj, indent=1).encode()
        self.send_body(200, JSON_TYPE, body, {"Vary": "Accept"})

    def send_html(self, ctype, title, lines):
        page = ("<!DOCTYPE html>\n<html>\n<head>\n"
                '<meta name="pypi:repository-version" content="%s">\n'
                "<title>%s</title>\n</head>\n<body>\n<h1>%s</h1>\n%s\n</body>\n</html>\n") % (
                    API_VERSION, html.escape(title), html.escape(title), "\n".join(lines))
        ct = ctype if ctype != TEXT_HTML else "text/html; charset=utf-8"
        self.send_body(200, ct, page.encode(), {"Vary": "Accept"})

    # -- files

    def serve_file(self, data, fn):
        meta = fn.endswith(".metadata")
        base = fn[: -len(".metadata")] if meta else fn
        m = data["files"].get(base)
        if "/" in fn or m is None or (meta and not m.get("metadata_sha256")):
            return self.error(404, "no file %r" % fn)
        path = os.path.join(self.server.index.dir, "packages", fn)
        try:
            f = open(path, "rb")
        except OSError as e:
            return self.error(404, "%s: %s" % (fn, e.strerror))
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            if meta:
                ctype = "text/plain; charset=utf-8"
            elif fn.endswith(".whl"):
                ctype = "application/zip"
            else:
                ctype = "application/octet-stream"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if self.command == "HEAD":
                return
            try:
                offset = 0
                while offset < size:
                    n = os.sendfile(self.wfile.fileno(), f.fileno(), offset, min(size - offset, 1 << 24))
                    if n == 0:
                        break
                    offset += n
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default of 5 drops connections when a lock asks for a
    # 16-cell matrix's pages at once.
    request_queue_size = 128

    def __init__(self, addr, index, logf, auth=None):
        self.auth = ("Basic " + base64.b64encode(auth.encode()).decode()) if auth else None
        self.index = index
        self.logf = logf
        self.loglock = threading.Lock()
        super().__init__(addr, Handler)

    def log(self, line):
        if self.logf is None:
            return
        import time
        with self.loglock:
            self.logf.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), line))
            self.logf.flush()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=5080)
    s.add_argument("--port-file")
    s.add_argument("--log")
    s.add_argument("--pidfile")
    s.add_argument("--auth", metavar="USER:PASSWORD")
    a = ap.parse_args(argv)
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--host %s: this fixture binds the loopback address only" % a.host)
    index = Index(a.dir)
    index.get()
    logf = open(a.log, "a", encoding="utf-8") if a.log else None
    if a.auth is not None and ":" not in a.auth:
        ap.error("--auth wants USER:PASSWORD")
    srv = Server((a.host, a.port), index, logf, a.auth)
    port = srv.server_address[1]
    for path, value in ((a.pidfile, os.getpid()), (a.port_file, port)):
        if path:
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % value)
            os.replace(tmp, path)
    srv.log("serving %s on http://%s:%d/" % (a.dir, a.host, port))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
