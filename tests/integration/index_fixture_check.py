#!/usr/bin/python3
"""Checks of the local package index fixture, for tests/integration/test_index_fixture.sh.

  index_fixture_check.py CHECK BASE [ARGS]     BASE: http://127.0.0.1:5080

Each check prints what it saw and exits 0, or prints why not and exits 1.
"""

import hashlib
import html.parser
import shutil
import tempfile
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile

JSON = "application/vnd.pypi.simple.v1+json"
HTML1 = "application/vnd.pypi.simple.v1+html"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def get(url, accept=None):
    """(status, headers, body) without following redirects."""
    req = urllib.request.Request(url)
    if accept is not None:
        req.add_header("Accept", accept)
    try:
        with OPENER.open(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def fail(msg):
    print(msg)
    sys.exit(1)


def page_json(base, root, project=None):
    url = "%s/%s/%s" % (base, root, project + "/" if project else "")
    code, h, body = get(url, JSON)
    if code != 200 or h.get("Content-Type") != JSON:
        fail("%s: %d %s" % (url, code, h.get("Content-Type")))
    return json.loads(body)


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []
        self.meta = {}
        self._a = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._a = [dict(attrs), ""]
        elif tag == "meta":
            d = dict(attrs)
            self.meta[d.get("name")] = d.get("content")

    def handle_data(self, data):
        if self._a is not None:
            self._a[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._a is not None:
            self.links.append((self._a[1], self._a[0]))
            self._a = None


def page_html(base, root, project=None):
    url = "%s/%s/%s" % (base, root, project + "/" if project else "")
    code, h, body = get(url, "text/html")
    if code != 200 or not h.get("Content-Type", "").startswith("text/html"):
        fail("%s: %d %s" % (url, code, h.get("Content-Type")))
    p = Links()
    p.feed(body.decode())
    return p


# ---------------------------------------------------------------- checks

def negotiate(base):
    url = base + "/simple/gsfx-core/"
    cases = [
        (None, "text/html; charset=utf-8"),
        ("*/*", "text/html; charset=utf-8"),
        (JSON, JSON),
        (HTML1, HTML1),
        ("text/html", "text/html; charset=utf-8"),
        # pip's own header
        (JSON + ", " + HTML1 + "; q=0.1, text/html; q=0.01", JSON),
        ("text/html;q=0.9, " + JSON + ";q=0.5", "text/html; charset=utf-8"),
        (HTML1 + ";q=0.2, " + JSON + ";q=0.3", JSON),
        ("application/vnd.pypi.simple.latest+json", JSON),
        ("application/json, text/plain", None),
        (JSON + ";q=0", None),
    ]
    for accept, want in cases:
        code, h, body = get(url, accept)
        got = h.get("Content-Type") if code == 200 else None
        if (want is None and code != 406) or (want is not None and (code != 200 or got != want)):
            fail("Accept %r: %d %s (want %s)" % (accept, code, got, want or "406"))
        if code == 200 and "Accept" not in (h.get("Vary") or ""):
            fail("Accept %r: no Vary: Accept" % accept)
    code, h, _ = get(url + "?format=" + urllib.parse.quote(JSON), "text/html")
    if code != 200 or h.get("Content-Type") != JSON:
        fail("?format=%s: %d %s" % (JSON, code, h.get("Content-Type")))
    p = page_html(base, "simple", "gsfx-core")
    if p.meta.get("pypi:repository-version") != "1.1":
        fail("HTML: pypi:repository-version %r" % p.meta.get("pypi:repository-version"))
    print("%d Accept headers, ?format= and the HTML version meta as expected" % len(cases))


def roots(base):
    want = {
        "simple": ({"gsfx-core", "gsfx-utils", "gsfx-fmt", "gsfx-srconly", "torch", "nvidia-cublas",
                    "nvidia-cuda-runtime", "nvidia-cudnn-cu13", "nvidia-nccl-cu13"}, set()),
        "whl/cu130": ({"torch", "nvidia-cublas", "nvidia-cuda-runtime", "nvidia-cudnn-cu13", "nvidia-nccl-cu13",
                       "nvidia-cuda-nvrtc", "nvidia-nvjitlink"}, {"gsfx-core"}),
        "whl/cpu": ({"torch"}, {"nvidia-cublas", "gsfx-core"}),
    }
    for root, (must, mustnot) in want.items():
        j = page_json(base, root)
        if j["meta"]["api-version"] != "1.1":
            fail("%s: api-version %s" % (root, j["meta"]["api-version"]))
        names = {p["name"] for p in j["projects"]}
        h = {text for text, _ in page_html(base, root).links}
        if names != h:
            fail("%s: JSON and HTML project lists differ: %s" % (root, sorted(names ^ h)))
        if not must <= names or names & mustnot:
            fail("%s: projects %s" % (root, sorted(names)))
    tv = [f["filename"] for f in page_json(base, "whl/cu130", "torch")["files"]]
    cv = [f["filename"] for f in page_json(base, "whl/cpu", "torch")["files"]]
    sv = [f["filename"] for f in page_json(base, "simple", "torch")["files"]]
    if not all("+cu130-cp311-cp311-manylinux_2_28_x86_64.whl" in f for f in tv) or len(tv) != 2:
        fail("whl/cu130 torch files: %s" % tv)
    if not all("+cpu-cp311-cp311-manylinux_2_28_x86_64.whl" in f for f in cv) or len(cv) != 2:
        fail("whl/cpu torch files: %s" % cv)
    if sv != ["torch-2.11.1-py3-none-any.whl"]:
        fail("simple torch (the decoy): %s" % sv)
    print("roots: simple %d, whl/cu130 %d, whl/cpu %d projects; torch %s | %s | decoy %s" % (
        len(page_json(base, "simple")["projects"]), len(page_json(base, "whl/cu130")["projects"]),
        len(page_json(base, "whl/cpu")["projects"]), tv, cv, sv))


def all_files(base):
    """{url: (root, project, json file entry)} over every root and project."""
    out = {}
    for root in ("simple", "whl/cu130", "whl/cpu"):
        for p in page_json(base, root)["projects"]:
            for f in page_json(base, root, p["name"])["files"]:
                out.setdefault(urllib.parse.urljoin(base + "/" + root + "/" + p["name"] + "/", f["url"]),
                               (root, p["name"], f))
    return out


def hashes(base):
    """Every file: sha256 and size as the JSON says; the HTML page's fragment the same."""
    n = total = 0
    for root in ("simple", "whl/cu130", "whl/cpu"):
        for p in page_json(base, root)["projects"]:
            j = {f["filename"]: f for f in page_json(base, root, p["name"])["files"]}
            h = page_html(base, root, p["name"]).links
            if sorted(j) != sorted(t for t, _ in h):
                fail("%s/%s: JSON and HTML list different files" % (root, p["name"]))
            for text, attrs in h:
                frag = attrs["href"].split("#", 1)[1]
                if frag != "sha256=" + j[text]["hashes"]["sha256"]:
                    fail("%s/%s %s: HTML %s, JSON %s" % (root, p["name"], text, frag, j[text]["hashes"]))
                want_url = j[text]["url"]
                if attrs["href"].split("#", 1)[0] != want_url:
                    fail("%s %s: HTML href %s, JSON url %s" % (root, text, attrs["href"], want_url))
                if root.startswith("whl") and not want_url.startswith("/packages/"):
                    fail("%s %s: want a host-relative URL, got %s" % (root, text, want_url))
                if root == "simple" and not want_url.startswith(base + "/packages/"):
                    fail("%s %s: want an absolute URL, got %s" % (root, text, want_url))
    for url, (root, proj, f) in sorted(all_files(base).items()):
        h = hashlib.sha256()
        size = 0
        with urllib.request.urlopen(url, timeout=300) as r:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
        if h.hexdigest() != f["hashes"]["sha256"] or size != f["size"]:
            fail("%s: sha256 %s size %d, index says %s %d" % (url, h.hexdigest(), size, f["hashes"]["sha256"],
                                                              f["size"]))
        n += 1
        total += size
    print("%d files (%d MB): sha256 and size match the index; HTML fragments equal the JSON hashes" % (
        n, total >> 20))


def metadata(base):
    n = 0
    for url, (root, proj, f) in sorted(all_files(base).items()):
        if not f["filename"].endswith(".whl"):
            if f["core-metadata"] is not False:
                fail("%s: core-metadata on a non-wheel" % f["filename"])
            continue
        cm = f["core-metadata"]
        if not cm or "dist-info-metadata" in f:
            # PEP 714: servers must not send dist-info-metadata in JSON (pip 22.3-23.1 crash on it)
            fail("%s: core-metadata %r, dist-info-metadata %r" % (f["filename"], cm, f.get("dist-info-metadata")))
        code, _, meta = get(url + ".metadata")
        if code != 200 or hashlib.sha256(meta).hexdigest() != cm["sha256"]:
            fail("%s.metadata: %d, sha256 %s, index says %s" % (url, code, hashlib.sha256(meta).hexdigest(), cm))
        # the METADATA inside the wheel as served (spooled to disk: some are 500 MB)
        tmp = tempfile.TemporaryFile()
        with urllib.request.urlopen(url, timeout=300) as r:
            shutil.copyfileobj(r, tmp, 1 << 20)
        with tmp, zipfile.ZipFile(tmp) as z:
            inner = [n_ for n_ in z.namelist() if n_.endswith(".dist-info/METADATA")]
            if len(inner) != 1 or z.read(inner[0]) != meta:
                fail("%s: .metadata differs from the wheel's %s" % (f["filename"], inner))
            rp = [l.split(":", 1)[1].strip() for l in meta.decode().split("\n\n")[0].split("\n")
                  if l.startswith("Requires-Python:")]
            if (rp[0] if rp else None) != f.get("requires-python"):
                fail("%s: Requires-Python %r, index says %r" % (f["filename"], rp, f.get("requires-python")))
        n += 1
    h = page_html(base, "simple", "gsfx-core").links
    for text, attrs in h:
        if not attrs.get("data-core-metadata", "").startswith("sha256=") or \
                attrs.get("data-dist-info-metadata") != attrs.get("data-core-metadata"):
            fail("HTML %s: data-core-metadata %r data-dist-info-metadata %r" % (
                text, attrs.get("data-core-metadata"), attrs.get("data-dist-info-metadata")))
    print("%d wheels: .metadata served, its sha256 as indexed, equal to the wheel's METADATA" % n)


def yanked(base):
    j = {f["filename"]: f for f in page_json(base, "simple", "gsfx-core")["files"]}
    y = {fn: f["yanked"] for fn, f in j.items() if f["yanked"] is not False}
    if list(y) != ["gsfx_core-1.3.0-py3-none-any.whl"] or not isinstance(y["gsfx_core-1.3.0-py3-none-any.whl"], str):
        fail("yanked in JSON: %r" % y)
    h = {t: a for t, a in page_html(base, "simple", "gsfx-core").links}
    hy = {t: a["data-yanked"] for t, a in h.items() if "data-yanked" in a}
    if hy != y:
        fail("data-yanked in HTML %r, JSON %r" % (hy, y))
    fm = {f["filename"]: f.get("requires-python") for f in page_json(base, "simple", "gsfx-fmt")["files"]}
    hf = {t: a.get("data-requires-python") for t, a in page_html(base, "simple", "gsfx-fmt").links}
    if fm.get("gsfx_fmt-0.2.0-py3-none-any.whl") != ">=3.12" or fm != hf:
        fail("requires-python JSON %r HTML %r" % (fm, hf))
    vs = page_json(base, "simple", "gsfx-core")["versions"]
    if sorted(vs) != ["1.0.0", "1.2.0", "1.3.0", "2.0.0rc1"]:
        fail("versions %r" % vs)
    sd = [f["filename"] for f in page_json(base, "simple", "gsfx-srconly")["files"]]
    if sd != ["gsfx_srconly-0.5.0.tar.gz"]:
        fail("gsfx-srconly files %r" % sd)
    print("yanked %r; requires-python %r; versions %r; sdist only %r" % (y, fm, vs, sd))


def errors(base):
    cases = [
        ("/simple/no-such-project/", JSON, 404, None),
        ("/whl/cu130/gsfx-core/", JSON, 404, None),
        ("/packages/no-such-file.whl", None, 404, None),
        ("/packages/gsfx_srconly-0.5.0.tar.gz.metadata", None, 404, None),
        ("/nowhere/", None, 404, None),
        ("/simple/GSFX_Core/", JSON, 301, "/simple/gsfx-core/"),
        ("/simple/gsfx.core/", "text/html", 301, "/simple/gsfx-core/"),
        ("/simple/gsfx-core", JSON, 301, "/simple/gsfx-core/"),
        ("/whl/cu130/Torch/", JSON, 301, "/whl/cu130/torch/"),
        ("/simple", None, 301, "/simple/"),
    ]
    for path, accept, want, loc in cases:
        code, h, _ = get(base + path, accept)
        if code != want or (loc and h.get("Location") != loc):
            fail("%s: %d Location %r (want %d %r)" % (path, code, h.get("Location"), want, loc))
    print("%d 404s and redirects as expected" % len(cases))


def requires(base):
    """torch +cu130 pins exactly the nvidia-* files /whl/cu130 serves; +cpu pins nothing."""
    served = {}
    for p in page_json(base, "whl/cu130")["projects"]:
        if p["name"].startswith("nvidia-"):
            served[p["name"]] = [f for f in page_json(base, "whl/cu130", p["name"])["files"]]
    for root, variant in (("whl/cu130", "cu130"), ("whl/cpu", "cpu")):
        for f in page_json(base, root, "torch")["files"]:
            meta = get(urllib.parse.urljoin(base + "/", f["url"]) + ".metadata")[2].decode()
            reqs = [l.split(":", 1)[1].strip() for l in meta.split("\n") if l.startswith("Requires-Dist:")]
            if variant == "cpu":
                if reqs:
                    fail("%s: Requires-Dist %r" % (f["filename"], reqs))
                continue
            names = set()
            for r in reqs:
                spec, _, marker = r.partition(";")
                name, _, ver = spec.strip().partition("==")
                if marker.strip() != 'platform_system == "Linux"' or name not in served:
                    fail("%s: %r" % (f["filename"], r))
                if [x for x in served[name] if ("-%s-" % ver) in x["filename"]] == []:
                    fail("%s: %s==%s not served (%s)" % (f["filename"], name, ver,
                                                        [x["filename"] for x in served[name]]))
                names.add(name)
            if names != set(served):
                fail("%s: requires %s, /whl/cu130 serves %s" % (f["filename"], sorted(names), sorted(served)))
    print("torch +cu130 pins %d nvidia wheels, each served; +cpu none" % len(served))


def requirements(base, root, spec_file):
    """A --require-hashes requirements file: torch==V (from ROOT) and, for +cu130, every
    nvidia-* pin of its METADATA, each with the index's sha256."""
    want = open(spec_file).read().split()
    lines = []
    for w in want:
        name, _, ver = w.partition("==")
        files = [f for f in page_json(base, root, name)["files"] if ("-%s-" % ver) in f["filename"]]
        if len(files) != 1:
            fail("%s %s: %r" % (root, w, [f["filename"] for f in files]))
        f = files[0]
        lines.append("%s --hash=sha256:%s" % (w, f["hashes"]["sha256"]))
        if name == "torch":
            meta = get(urllib.parse.urljoin(base + "/", f["url"]) + ".metadata")[2].decode()
            for l in meta.split("\n"):
                if l.startswith("Requires-Dist:"):
                    req = l.split(":", 1)[1].split(";")[0].strip()
                    rn, _, rv = req.partition("==")
                    rf = [x for x in page_json(base, root, rn)["files"] if ("-%s-" % rv) in x["filename"]]
                    lines.append("%s --hash=sha256:%s" % (req, rf[0]["hashes"]["sha256"]))
    print("\n".join(lines))


if __name__ == "__main__":
    check, base = sys.argv[1], sys.argv[2].rstrip("/")
    globals()[check](base, *sys.argv[3:])
