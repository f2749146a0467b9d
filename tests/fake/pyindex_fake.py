#!/usr/bin/python3
"""A small fault-injecting Python package index for tests/unit/test_pyindex.c.

    pyindex_fake.py PORTFILE

Listens on 127.0.0.1 on a free port, writes the port to PORTFILE (renamed into
place) and serves until killed. Project pages live under /simple/NAME/; the
name picks the behaviour:

    demo        PEP 691 JSON when Accept asks for it, else PEP 503 HTML; its
                files: demo-1.0 (PEP 658 metadata with its hash), demo-1.1
                (no metadata file: the wheel is read), demo-2.0rc1 (yanked),
                demo-0.9 (metadata whose hash the page gets wrong), demo-0.8
                (a wheel whose hash the page gets wrong)
    htmlonly    text/html whatever the Accept header says
    strict      406 unless Accept asks for HTML only
    moved       a 302 to /mirror/simple/moved/ (its links are relative to there:
                /mirror/files/...)
    flaky       503 with Retry-After: 0 twice, then the page
    down        503 with Retry-After: 0, always
    cut         the first answer is cut short (Content-Length says more), then the page
    private     401 without Basic auth gpuslim:s3cret
    slow        answers after 0.3 s (for concurrent askers of one page)
    anything else  404

GET /stats answers {"/path": count, ...}: requests per path.
"""
import base64
import hashlib
import io
import json
import sys
import threading
import time
import zipfile

# the HTTP plumbing shared by the fakes beside this file, imported without leaving a
# __pycache__ in the tree
sys.dont_write_bytecode = True
import fakehttp  # noqa: E402

COUNTS = {}
LOCK = threading.Lock()
USER, PASSWORD = "gpuslim", "s3cret"


def metadata(name, version, requires=()):
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        "Summary: a test package",
        "Requires-Python: >=3.8",
    ]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return ("\n".join(lines) + "\n\nThe description.\nRequires-Dist: not-a-header\n").encode()


def wheel(name, version, requires=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}/__init__.py", "")
        z.writestr(f"{name}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        z.writestr(f"{name}-{version}.dist-info/METADATA", metadata(name, version, requires))
        z.writestr(f"{name}-{version}.dist-info/RECORD", "")
    return buf.getvalue()


def sha(data):
    return hashlib.sha256(data).hexdigest()


FILES = {}  # file name -> bytes
for v, req in (("1.0", ["six>=1.0", "torch==2.11.0+cu130; extra == 'cuda'"]),
               ("1.1", ["six"]), ("2.0rc1", []), ("0.9", []), ("0.8", [])):
    fn = f"demo-{v}-py3-none-any.whl"
    FILES[fn] = wheel("demo", v, req)
    FILES[fn + ".metadata"] = metadata("demo", v, req)


def demo_files():
    files = []
    for v in ("1.0", "1.1", "2.0rc1", "0.9", "0.8"):
        fn = f"demo-{v}-py3-none-any.whl"
        f = {"filename": fn, "url": f"../../files/{fn}", "hashes": {"sha256": sha(FILES[fn])},
             "requires-python": ">=3.8"}
        if v in ("1.0", "0.9", "2.0rc1"):
            f["core-metadata"] = {"sha256": sha(FILES[fn + ".metadata"])}
        if v == "0.9":
            f["core-metadata"] = {"sha256": "0" * 64}
        if v == "0.8":
            f["hashes"] = {"sha256": "1" * 64}
        if v == "2.0rc1":
            f["yanked"] = "broken build"
        files.append(f)
    return files


def html_page(name, files):
    out = ["<!DOCTYPE html><html><head><title>Links for %s</title></head><body>" % name]
    for f in files:
        attrs = ' data-requires-python="%s"' % f["requires-python"].replace(">", "&gt;")
        if "core-metadata" in f:
            attrs += ' data-dist-info-metadata="sha256=%s"' % f["core-metadata"]["sha256"]
        if "yanked" in f:
            attrs += ' data-yanked="%s"' % f["yanked"]
        out.append('<a href="%s#sha256=%s"%s>%s</a><br/>'
                   % (f["url"], f["hashes"]["sha256"], attrs, f["filename"]))
    out.append("</body></html>")
    return "\n".join(out).encode()


def json_page(name, files):
    return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files}).encode()


class Handler(fakehttp.Handler):
    def send(self, code, body=b"", ctype="text/plain", headers=None, length=None):
        super().send(code, body, headers, ctype, length)

    def page(self, name, force_html=False):
        files = demo_files()
        accept = self.headers.get("Accept", "")
        if "application/vnd.pypi.simple.v1+json" in accept and not force_html:
            self.send(200, json_page(name, files), "application/vnd.pypi.simple.v1+json")
        else:
            self.send(200, html_page(name, files), "text/html; charset=utf-8")

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        with LOCK:
            n = COUNTS[path] = COUNTS.get(path, 0) + 1
        if path == "/stats":
            with LOCK:
                body = json.dumps(COUNTS).encode()
            return self.send(200, body, "application/json")
        for prefix in ("/files/", "/mirror/files/"):
            if path.startswith(prefix):
                data = FILES.get(path[len(prefix):])
                return self.send(200, data) if data is not None else self.send(404, b"no file")
        if path == "/mirror/simple/moved/":
            return self.page("moved")
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "simple":
            return self.send(404, b"not found")
        name = parts[1]
        if name == "demo":
            return self.page(name)
        if name == "htmlonly":
            return self.page(name, force_html=True)
        if name == "strict":
            if "json" in self.headers.get("Accept", ""):
                return self.send(406, b"not acceptable")
            return self.page(name)
        if name == "moved":
            return self.send(302, b"", headers={"Location": "/mirror/simple/moved/"})
        if name == "flaky" and n <= 2:
            return self.send(503, b"busy", headers={"Retry-After": "0"})
        if name == "flaky":
            return self.page(name)
        if name == "down":
            return self.send(503, b"busy", headers={"Retry-After": "0"})
        if name == "cut":
            body = json_page(name, demo_files())
            if n == 1:
                self.send(200, body[: len(body) // 2], "application/vnd.pypi.simple.v1+json",
                          length=len(body))
                self.close_connection = True
                return None
            return self.page(name)
        if name == "private":
            want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.send(401, b"who are you", headers={"WWW-Authenticate": 'Basic realm="x"'})
            return self.page(name)
        if name == "slow":
            time.sleep(0.3)
            return self.page(name)
        return self.send(404, b"no such project")


def main():
    fakehttp.serve(Handler, sys.argv[1])


if __name__ == "__main__":
    main()
