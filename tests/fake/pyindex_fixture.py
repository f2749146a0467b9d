#!/usr/bin/env python3
"""A small Python package index for the resolver's tests.

    pyindex_fixture.py SPEC.json DIR/port [USER:PASSWORD]

Writes, under DIR/root/, PEP 503 simple pages (one per project, with
sha256 fragments, data-requires-python, data-yanked and
data-core-metadata), tiny wheels (deterministic: fixed timestamps, so
their hashes are stable) and PEP 658 .metadata files, then serves DIR/root
on 127.0.0.1 at a free port, written to DIR/port once it listens. Every
request's path is appended to DIR/requests.log. With USER:PASSWORD, every
request needs HTTP basic auth with them (401 otherwise; the log line then
ends with " 401").

SPEC: {"INDEX": {"PROJECT": [FILE, ...]}}, INDEX a path like "simple" or
"whl/cu130", FILE: {"version": "1.0", "tags": "py3-none-any" (a wheel; or
"sdist": true for NAME-VERSION.tar.gz), "requires_dist": [...],
"requires_python": ">=3.8" (page and metadata), "yanked": true or
"reason", "nohash": true (no #sha256= fragment), "name": the distribution
name as written (default PROJECT)}.
"""
import base64
import hashlib
import html
import http.server
import io
import json
import os
import sys
import zipfile

STAMP = (2020, 1, 1, 0, 0, 0)


def metadata_text(name, f):
    lines = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + f["version"]]
    if f.get("requires_python"):
        lines.append("Requires-Python: " + f["requires_python"])
    for extra in f.get("provides_extra", []):
        lines.append("Provides-Extra: " + extra)
    for r in f.get("requires_dist", []):
        lines.append("Requires-Dist: " + r)
    return "\n".join(lines) + "\n\n"


def make_wheel(name, f, meta):
    dist = name.replace("-", "_")
    di = "%s-%s.dist-info" % (dist, f["version"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        def add(path, data):
            info = zipfile.ZipInfo(path, STAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, data)
        add(dist + "/__init__.py", "VERSION = %r\n" % f["version"])
        add(di + "/METADATA", meta)
        add(di + "/WHEEL", "Wheel-Version: 1.0\nGenerator: gpuslim-tests\nRoot-Is-Purelib: true\nTag: %s\n" % f["tags"])
        add(di + "/RECORD", "")
    return buf.getvalue()


def build(spec, root):
    for index, projects in spec.items():
        for project, files in projects.items():
            links = []
            for f in files:
                name = f.get("name", project)
                meta = metadata_text(name, f)
                dist = name.replace("-", "_")
                if f.get("sdist"):
                    filename = "%s-%s.tar.gz" % (name, f["version"])
                    data = ("sdist of %s %s\n" % (name, f["version"])).encode()
                else:
                    filename = "%s-%s-%s.whl" % (dist, f["version"], f["tags"])
                    data = make_wheel(name, f, meta)
                fdir = os.path.join(root, "files", index)
                os.makedirs(fdir, exist_ok=True)
                with open(os.path.join(fdir, filename), "wb") as out:
                    out.write(data)
                attrs = ""
                if not f.get("sdist"):
                    mdata = meta.encode()
                    with open(os.path.join(fdir, filename + ".metadata"), "wb") as out:
                        out.write(mdata)
                    attrs += ' data-core-metadata="sha256=%s"' % hashlib.sha256(mdata).hexdigest()
                if f.get("requires_python"):
                    attrs += ' data-requires-python="%s"' % html.escape(f["requires_python"])
                y = f.get("yanked")
                if y is True:
                    attrs += " data-yanked"
                elif y:
                    attrs += ' data-yanked="%s"' % html.escape(y)
                href = "/files/%s/%s" % (index, filename)
                if not f.get("nohash"):
                    href += "#sha256=%s" % hashlib.sha256(data).hexdigest()
                links.append('    <a href="%s"%s>%s</a><br/>' % (html.escape(href), attrs, html.escape(filename)))
            pdir = os.path.join(root, index, project)
            os.makedirs(pdir, exist_ok=True)
            with open(os.path.join(pdir, "index.html"), "w") as out:
                out.write("<!DOCTYPE html>\n<html><body>\n<h1>Links for %s</h1>\n%s\n</body></html>\n"
                          % (project, "\n".join(links)))


def main():
    spec_path, portfile = sys.argv[1], sys.argv[2]
    auth = sys.argv[3] if len(sys.argv) > 3 else None
    want = ("Basic " + base64.b64encode(auth.encode()).decode()) if auth else None
    base = os.path.dirname(os.path.abspath(portfile))
    root = os.path.join(base, "root")
    with open(spec_path) as fh:
        build(json.load(fh), root)
    log = open(os.path.join(base, "requests.log"), "a", buffering=1)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

        def log_message(self, fmt, *args):
            pass

        def do_GET(self):
            if want and self.headers.get("Authorization") != want:
                log.write(self.path + " 401\n")
                body = b"authentication required\n"
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="gpuslim-fixture"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            log.write(self.path + "\n")
            super().do_GET()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as out:
        out.write(str(srv.server_address[1]))
    os.rename(tmp, portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
