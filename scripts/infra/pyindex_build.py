#!/usr/bin/python3
"""Build the wheels of the local package index (scripts/infra/build-wheels.sh runs this).

  pyindex_build.py --cuda-root DIR --out STATE/pyindex [--force]

Writes STATE/pyindex -> pyindex.<hash> (a symlink, swapped atomically) holding
packages/ (the files, FILE.metadata beside each wheel) and index.json (what
scripts/infra/pyindex.py serves). Skips the build when STATE/pyindex/stamp already holds
the hash of the inputs: this script, the torch sources, the compiler's version and the
path, size and mtime of every toolkit file a wheel carries.

What it builds:

* NVIDIA's CUDA 13 runtime wheels, from the toolkit at --cuda-root. That toolkit was laid
  out from NVIDIA's own wheels and keeps their .dist-info (DIR/dist-info/NAME-VER.dist-info
  with METADATA, WHEEL, RECORD, licenses and direct_url.json, the original file name):
  each wheel is rebuilt with that METADATA, WHEEL and top_level.txt and exactly the files
  its RECORD lists (nvidia/cu13/lib, nvidia/cu13/include, nvidia/cudnn/..., nvidia/nccl/...),
  taken from the toolkit's lib64/ and include/ and checked against RECORD's sha256, so the
  wheels carry the real bytes of the real wheels (stored, not deflated, to build fast).
* torch 2.11.0 and 2.10.0, +cu130 and +cpu: the tests' own torch (fixture-torch/): a real
  CPython 3.11 extension module torch._C; in +cu130 it links torch/lib/libtorch_cuda.so,
  which links libcudart.so.13, libcublas.so.13, libcudnn.so.9, libnccl.so.2 and the rest
  through DT_RPATH into site-packages/nvidia/..., as real torch's wheels do (patchelf
  --force-rpath there), and Requires-Dist pins the nvidia-* wheels built here.
* A decoy torch 2.11.1 (py3-none-any, no CUDA) on the default index, the same-named
  package that `--extra-index-url` lets win (dependency confusion).
* gsfx-* pure-Python wheels with dependencies between them, a yanked version, an extra,
  an environment marker, a Requires-Python that excludes 3.11, and an sdist-only project.

All archives are reproducible: fixed timestamps and modes, sorted entries.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_SRC = os.path.join(HERE, "fixture-torch")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
TAR_MTIME = 1577836800  # 2020-01-01

# The CUDA wheels real torch +cu130 requires, in the order of its Requires-Dist
# (pytorch .github/scripts/generate_binary_build_matrix.py, PYTORCH_EXTRA_INSTALL_REQUIREMENTS
# "13.0"). cuda-bindings (Python bindings), nvidia-cusparselt-cu13, nvidia-nvshmem-cu13 and
# nvidia-cufile are not part of the toolkit here and are left out.
TORCH_CUDA_WHEELS = [
    "nvidia-cuda-nvrtc", "nvidia-cuda-runtime", "nvidia-cuda-cupti", "nvidia-cudnn-cu13",
    "nvidia-cublas", "nvidia-cufft", "nvidia-curand", "nvidia-cusolver", "nvidia-cusparse",
    "nvidia-nccl-cu13", "nvidia-nvtx", "nvidia-nvjitlink",
]
# Sonames libtorch_cuda.so and libtorch_global_deps.so link (the runtime libraries torch uses).
TORCH_CUDA_SONAMES = [
    "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9", "libnccl.so.2",
    "libnvrtc.so.13", "libnvJitLink.so.13", "libcufft.so.12", "libcurand.so.10",
    "libcusolver.so.12", "libcusparse.so.12", "libcupti.so.13",
]
# Real torch's RPATH for CUDA 13 wheels (.ci/manywheel/build_cuda.sh: CUDA_RPATHS, then
# LIB_SO_RPATH=$CUDA_RPATHS:$ORIGIN and C_SO_RPATH=$CUDA_RPATHS:$ORIGIN:$ORIGIN/lib).
CUDA_RPATHS = ("$ORIGIN/../../nvidia/cudnn/lib:$ORIGIN/../../nvidia/nvshmem/lib:"
               "$ORIGIN/../../nvidia/nccl/lib:$ORIGIN/../../nvidia/cusparselt/lib:"
               "$ORIGIN/../../nvidia/cu13/lib")
TORCH_VERSIONS = ["2.11.0", "2.10.0"]
TORCH_TAG = "cp311-cp311-manylinux_2_28_x86_64"


def die(msg):
    sys.stderr.write("error: %s\n" % msg)
    sys.exit(1)


def log(msg):
    sys.stdout.write("[build-wheels] %s\n" % msg)
    sys.stdout.flush()


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def b64sha(digest):
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_metadata(text):
    """The header fields of a METADATA/PKG-INFO text: {field: [values]}."""
    fields = {}
    for line in text.split("\n"):
        if not line.strip():
            break
        if line[0] in " \t" or ":" not in line:
            continue
        k, _, v = line.partition(":")
        fields.setdefault(k.strip(), []).append(v.strip())
    return fields


# ---------------------------------------------------------------- wheel writer

class Wheel:
    """Collects the files of one wheel and writes it with its RECORD."""

    def __init__(self, name, version, tag):
        self.name, self.version, self.tag = name, version, tag
        self.distinfo = "%s-%s.dist-info" % (wheel_name(name), version)
        self.files = []  # (arcname, bytes | path, mode, expected b64 sha or None)

    @property
    def filename(self):
        return "%s-%s-%s.whl" % (wheel_name(self.name), self.version, self.tag)

    def add(self, arcname, content, mode=0o644, expect=None):
        self.files.append((arcname, content, mode, expect))

    def write(self, path, metadata, wheel_text, extra_distinfo=()):
        record = []
        entries = list(self.files)
        entries.append((self.distinfo + "/METADATA", metadata.encode(), 0o644, None))
        entries.append((self.distinfo + "/WHEEL", wheel_text.encode(), 0o644, None))
        for arc, content in extra_distinfo:
            entries.append((self.distinfo + "/" + arc, content, 0o644, None))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            for arc, content, mode, expect in entries:
                zi = zipfile.ZipInfo(arc, ZIP_TIME)
                zi.external_attr = (0o100000 | mode) << 16
                zi.create_system = 3
                h = hashlib.sha256()
                size = 0
                if isinstance(content, bytes):
                    h.update(content)
                    size = len(content)
                    zf.writestr(zi, content)
                else:
                    fsize = os.path.getsize(content)
                    with open(content, "rb") as src, zf.open(zi, "w", force_zip64=fsize > 0x7FFF0000) as dst:
                        for chunk in iter(lambda: src.read(1 << 20), b""):
                            h.update(chunk)
                            dst.write(chunk)
                            size += len(chunk)
                digest = b64sha(h.digest())
                if expect is not None and digest != expect:
                    die("%s: %s from %s has sha256 %s, NVIDIA's RECORD says %s" % (
                        self.filename, arc, content, digest, expect))
                record.append("%s,sha256=%s,%d" % (arc, digest, size))
            record.append("%s/RECORD,," % self.distinfo)
            zi = zipfile.ZipInfo(self.distinfo + "/RECORD", ZIP_TIME)
            zi.external_attr = (0o100644) << 16
            zi.create_system = 3
            zf.writestr(zi, "\n".join(record) + "\n")


# ---------------------------------------------------------------- the index being built

class Index:
    def __init__(self, out):
        self.out = out
        self.pkgdir = os.path.join(out, "packages")
        os.makedirs(self.pkgdir)
        self.files = {}
        self.roots = {"simple": [], "whl/cu130": [], "whl/cpu": []}

    def add_file(self, fn, roots, project, version, requires_python=None, yanked=False, metadata=None):
        path = os.path.join(self.pkgdir, fn)
        e = {"project": project, "version": version, "sha256": sha256_file(path),
             "size": os.path.getsize(path)}
        if requires_python:
            e["requires_python"] = requires_python
        if yanked is not False:
            e["yanked"] = yanked
        if metadata is not None:
            with open(path + ".metadata", "wb") as f:
                f.write(metadata)
            e["metadata_sha256"] = hashlib.sha256(metadata).hexdigest()
        self.files[fn] = e
        for r in roots:
            self.roots[r].append(fn)

    def add_wheel(self, wheel, metadata, wheel_text, roots, extra_distinfo=(), yanked=False):
        wheel.write(os.path.join(self.pkgdir, wheel.filename), metadata, wheel_text, extra_distinfo)
        rp = parse_metadata(metadata).get("Requires-Python", [None])[0]
        self.add_file(wheel.filename, roots, wheel.name, wheel.version, rp, yanked, metadata.encode())
        return wheel.filename

    def save(self, extra):
        data = dict(extra)
        data["roots"] = self.roots
        data["files"] = self.files
        tmp = os.path.join(self.out, "index.json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(self.out, "index.json"))


# ---------------------------------------------------------------- NVIDIA wheels

class Toolkit:
    def __init__(self, root):
        self.root = os.path.realpath(root)
        lib = os.path.join(self.root, "lib64")
        if not os.path.isdir(lib):
            lib = os.path.join(self.root, "lib")
        self.lib = os.path.realpath(lib)
        self.inc = os.path.realpath(os.path.join(self.root, "include"))
        self.distinfo = {}  # normalized name -> dist-info dir
        d = os.path.join(self.root, "dist-info")
        if os.path.isdir(d):
            for e in sorted(os.listdir(d)):
                meta = os.path.join(d, e, "METADATA")
                if e.endswith(".dist-info") and os.path.isfile(meta):
                    with open(meta, encoding="utf-8") as f:
                        name = parse_metadata(f.read()).get("Name", [""])[0]
                    self.distinfo[normalize(name)] = os.path.join(d, e)

    def local_path(self, arc):
        """Toolkit file for a RECORD path nvidia/<pkg>/<kind>/<rest>."""
        parts = arc.split("/")
        if len(parts) < 4 or parts[0] != "nvidia":
            return None
        base = {"lib": self.lib, "include": self.inc, "bin": os.path.join(self.root, "bin"),
                "nvvm": os.path.join(self.root, "nvvm")}.get(parts[2])
        return os.path.join(base, *parts[3:]) if base else None

    def nvidia_wheel(self, name):
        """(Wheel, METADATA text, WHEEL text, extra dist-info files, input paths)."""
        d = self.distinfo.get(name)
        if d is None:
            die("%s: no %s-*.dist-info in %s/dist-info; this builder takes the names, versions, tags and "
                "file lists of NVIDIA's wheels from the dist-info of the wheels the toolkit was laid out from"
                % (name, wheel_name(name), self.root))

        def read(rel, mode="r"):
            with open(os.path.join(d, rel), mode) as f:
                return f.read()

        metadata = read("METADATA")
        wheel_text = read("WHEEL")
        fields = parse_metadata(metadata)
        version = fields["Version"][0]
        tags = parse_metadata(wheel_text).get("Tag", [])
        fn = None
        if os.path.isfile(os.path.join(d, "direct_url.json")):
            url = json.loads(read("direct_url.json")).get("url", "")
            fn = url.rsplit("/", 1)[-1] or None
        if fn:
            m = re.match(r"^([^-]+)-([^-]+)-(.+)\.whl$", fn)
            if not m or normalize(m.group(1)) != name or m.group(2) != version:
                die("%s: direct_url.json names %s, not a wheel of %s %s" % (d, fn, name, version))
            tag = m.group(3)
        else:
            # py3-none-A, py3-none-B -> py3-none-A.B (compressed tag set, PEP 425)
            plats = [t.split("-", 2)[2] for t in tags]
            tag = "py3-none-" + ".".join(plats)
        w = Wheel(fields["Name"][0], version, tag)
        inputs = [os.path.join(d, "METADATA"), os.path.join(d, "WHEEL"), os.path.join(d, "RECORD")]
        extra = []
        for line in read("RECORD").splitlines():
            if not line.strip():
                continue
            arc, h, _size = line.rsplit(",", 2)
            if arc.startswith(os.path.basename(d) + "/"):
                rel = arc.split("/", 1)[1]
                if rel in ("METADATA", "WHEEL", "RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
                    continue  # written anew, or made by the installer
                extra.append((rel, read(rel, "rb")))
                inputs.append(os.path.join(d, rel))
                continue
            src = self.local_path(arc)
            if src is None or not os.path.isfile(src):
                die("%s: %s (listed in %s/RECORD) is not in the toolkit (looked for %s)" % (name, arc, d, src))
            mode = 0o755 if ".so" in os.path.basename(arc) else 0o644
            w.add(arc, src, mode, h[len("sha256="):] if h.startswith("sha256=") else None)
            inputs.append(src)
        return w, metadata, wheel_text, extra, inputs


# ---------------------------------------------------------------- torch

def run(cmd, logf):
    logf.write("$ " + " ".join(cmd) + "\n")
    logf.flush()
    r = subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        die("command failed (exit %d), see %s: %s" % (r.returncode, logf.name, " ".join(cmd)))


def compile_torch(tk, cc, work, logf):
    """Compile the shared objects of both builds into work/{cu130,cpu}/."""
    csrc = os.path.join(TORCH_SRC, "csrc")
    pyinc = sysconfig.get_paths()["include"]
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    if ext != ".cpython-311-x86_64-linux-gnu.so":
        die("torch._C is tagged cp311 for x86_64 Linux; this Python's extension suffix is %s (run me with "
            "/usr/bin/python3, Debian 12's 3.11)" % ext)
    common = [cc, "-O2", "-fPIC", "-shared", "-g0", "-Wall", "-Wextra", "-Werror"]
    cuda_links = ["-L" + tk.lib, "-Wl,-rpath-link," + tk.lib, "-Wl,--no-as-needed"]
    cuda_links += ["-l:" + s for s in TORCH_CUDA_SONAMES]
    for s in TORCH_CUDA_SONAMES:
        if not os.path.exists(os.path.join(tk.lib, s)):
            die("%s not in %s" % (s, tk.lib))
    rpath = ["-Wl,--disable-new-dtags"]  # DT_RPATH, as real torch's (patchelf --force-rpath)
    cu = os.path.join(work, "cu130")
    cpu = os.path.join(work, "cpu")
    os.makedirs(cu)
    os.makedirs(cpu)
    run(common + ["-I" + tk.inc, os.path.join(csrc, "torch_cuda.c"), "-o", os.path.join(cu, "libtorch_cuda.so"),
                  "-Wl,-soname,libtorch_cuda.so"] + cuda_links + rpath + ["-Wl,-rpath," + CUDA_RPATHS + ":$ORIGIN"],
        logf)
    run(common + [os.path.join(csrc, "global_deps.c"), "-o", os.path.join(cu, "libtorch_global_deps.so"),
                  "-Wl,-soname,libtorch_global_deps.so"] + cuda_links + rpath +
        ["-Wl,-rpath," + CUDA_RPATHS + ":$ORIGIN"], logf)
    run(common + ["-DTORCH_WITH_CUDA", "-I" + csrc, "-I" + pyinc, os.path.join(csrc, "_C.c"),
                  "-o", os.path.join(cu, "_C" + ext), "-L" + cu, "-Wl,-rpath-link," + tk.lib,
                  "-Wl,--no-as-needed", "-l:libtorch_cuda.so"] + rpath +
        ["-Wl,-rpath," + CUDA_RPATHS + ":$ORIGIN:$ORIGIN/lib"], logf)
    run(common + [os.path.join(csrc, "global_deps.c"), "-o", os.path.join(cpu, "libtorch_global_deps.so"),
                  "-Wl,-soname,libtorch_global_deps.so"] + rpath + ["-Wl,-rpath,$ORIGIN"], logf)
    run(common + ["-I" + pyinc, os.path.join(csrc, "_C.c"), "-o", os.path.join(cpu, "_C" + ext)] + rpath +
        ["-Wl,-rpath,$ORIGIN:$ORIGIN/lib"], logf)
    return ext


def torch_wheel(version, variant, built, ext, nv_versions):
    """Wheel, METADATA and WHEEL text of torch VERSION+VARIANT (cu130 or cpu)."""
    local = "%s+%s" % (version, variant)
    w = Wheel("torch", local, TORCH_TAG)
    for rel in ("__init__.py", "cuda/__init__.py"):
        w.add("torch/" + rel, os.path.join(TORCH_SRC, "torch", rel))
    cuda = '"13.0"' if variant == "cu130" else "None"
    w.add("torch/version.py", ("# Written by gpuslim scripts/infra/pyindex_build.py\n"
                               "__version__ = %r\ndebug = False\ncuda = %s\nhip = None\nxpu = None\n"
                               "git_version = 'gpuslim-fixture'\n" % (local, cuda)).encode())
    d = os.path.join(built, variant)
    w.add("torch/_C" + ext, os.path.join(d, "_C" + ext), 0o755)
    w.add("torch/lib/libtorch_global_deps.so", os.path.join(d, "libtorch_global_deps.so"), 0o755)
    if variant == "cu130":
        w.add("torch/lib/libtorch_cuda.so", os.path.join(d, "libtorch_cuda.so"), 0o755)
    w.files.sort(key=lambda f: f[0])
    lines = ["Metadata-Version: 2.1", "Name: torch", "Version: " + local,
             "Summary: Tensors and Dynamic neural networks in Python with strong GPU acceleration "
             "(the gpuslim tests' own small stand-in)",
             "Home-page: https://pytorch.org/", "License: BSD-3-Clause", "Requires-Python: >=3.10"]
    if variant == "cu130":
        for n in TORCH_CUDA_WHEELS:
            lines.append('Requires-Dist: %s==%s; platform_system == "Linux"' % (n, nv_versions[n]))
    lines += ["", "A stand-in for PyTorch %s for gpuslim's tests: torch._C is a real extension module%s." % (
        local, "; the CUDA libraries come from NVIDIA's wheels through RPATH" if variant == "cu130" else "")]
    wheel_text = ("Wheel-Version: 1.0\nGenerator: gpuslim-pyindex-build\nRoot-Is-Purelib: false\nTag: %s\n"
                  % TORCH_TAG)
    return w, "\n".join(lines) + "\n", wheel_text


# ---------------------------------------------------------------- pure-Python projects

PURE = [
    # (name, version, requires_python, requires_dist, extras, yanked)
    ("gsfx-core", "1.0.0", ">=3.8", [], [], False),
    ("gsfx-core", "1.2.0", ">=3.8", [], [], False),
    ("gsfx-core", "1.3.0", ">=3.8", [], [], "1.3.0 broke gsfx-utils; use 1.2.0"),
    ("gsfx-core", "2.0.0rc1", ">=3.9", [], [], False),
    ("gsfx-utils", "1.0.0", ">=3.8", ["gsfx-core>=1.0"], [], False),
    ("gsfx-utils", "1.1.0", ">=3.8",
     ["gsfx-core<2,>=1.2", 'gsfx-fmt>=0.1; extra == "fmt"', 'gsfx-legacy>=1.0; python_version < "3.10"'],
     ["fmt"], False),
    ("gsfx-fmt", "0.1.0", ">=3.8", [], [], False),
    ("gsfx-fmt", "0.2.0", ">=3.12", [], [], False),
]


def pure_wheel(name, version, rp, reqs, extras, summary=None, module=None, body=None):
    w = Wheel(name, version, "py3-none-any")
    mod = module or wheel_name(name)
    w.add("%s/__init__.py" % mod, (body or '"""%s, a pure-Python package of gpuslim\'s test index."""\n'
                                   '__version__ = "%s"\n' % (name, version)).encode())
    lines = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + version,
             "Summary: " + (summary or "gpuslim test index: %s %s" % (name, version))]
    if rp:
        lines.append("Requires-Python: " + rp)
    lines += ["Provides-Extra: " + e for e in extras]
    lines += ["Requires-Dist: " + r for r in reqs]
    metadata = "\n".join(lines) + "\n"
    wheel_text = "Wheel-Version: 1.0\nGenerator: gpuslim-pyindex-build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return w, metadata, wheel_text, [("top_level.txt", (mod + "\n").encode())]


def sdist(path, name, version):
    base = "%s-%s" % (wheel_name(name), version)
    pkginfo = "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: gpuslim test index: an sdist-only project\n" % (
        name, version)
    files = {
        "PKG-INFO": pkginfo,
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
                          '[project]\nname = "%s"\nversion = "%s"\n' % (name, version),
        "%s/__init__.py" % wheel_name(name): '__version__ = "%s"\n' % version,
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for rel in sorted(files):
            data = files[rel].encode()
            ti = tarfile.TarInfo(base + "/" + rel)
            ti.size, ti.mtime, ti.mode = len(data), TAR_MTIME, 0o644
            tf.addfile(ti, io.BytesIO(data))
    import gzip
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=TAR_MTIME, filename="") as gz:
            gz.write(raw.getvalue())


# ---------------------------------------------------------------- main

def inputs_hash(paths, cc):
    h = hashlib.sha256()
    for p in [os.path.abspath(__file__)] + sorted(
            os.path.join(dp, f) for dp, _, fs in os.walk(TORCH_SRC) for f in fs):
        with open(p, "rb") as f:
            h.update(p.encode() + b"\0" + hashlib.sha256(f.read()).digest())
    ccv = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    h.update(ccv.encode() + b"\0" + sys.version.encode() + b"\0")
    for p in paths:
        st = os.stat(p)
        h.update(("%s %d %d\n" % (p, st.st_size, st.st_mtime_ns)).encode())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description="Build the local package index's wheels.")
    ap.add_argument("--cuda-root", required=True)
    ap.add_argument("--out", required=True, help="STATE/pyindex (a symlink to the current build)")
    ap.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()

    tk = Toolkit(a.cuda_root)
    nv = {}
    inputs = []
    for name in TORCH_CUDA_WHEELS:
        nv[name] = tk.nvidia_wheel(name)
        inputs += nv[name][4]
    nv_versions = {n: v[0].version for n, v in nv.items()}
    stamp = inputs_hash(inputs, a.cc)
    out = os.path.abspath(a.out)
    cur = os.path.join(out, "stamp")
    if not a.force and os.path.isfile(cur) and open(cur).read().strip() == stamp:
        log("up to date (%s, inputs %s)" % (os.path.realpath(out), stamp[:12]))
        return 0

    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    final = "%s.%s" % (out, stamp[:12])
    if os.path.exists(final):
        shutil.rmtree(final)
    build = tempfile.mkdtemp(prefix=os.path.basename(out) + ".build.", dir=parent)
    try:
        idx = Index(os.path.join(build, "out"))
        work = os.path.join(build, "work")
        os.makedirs(work)
        for name in TORCH_CUDA_WHEELS:
            w, metadata, wheel_text, extra, _ = nv[name]
            fn = idx.add_wheel(w, metadata, wheel_text, ["simple", "whl/cu130"], extra)
            log("%s (%d MB)" % (fn, idx.files[fn]["size"] >> 20))

        with open(os.path.join(build, "out", "compile.log"), "w") as logf:
            ext = compile_torch(tk, a.cc, work, logf)
        for version in TORCH_VERSIONS:
            for variant, root in (("cu130", "whl/cu130"), ("cpu", "whl/cpu")):
                w, metadata, wheel_text = torch_wheel(version, variant, work, ext, nv_versions)
                log(idx.add_wheel(w, metadata, wheel_text, [root]))
        decoy = ('"""A decoy: a same-named torch on the default index (gpuslim\'s test index). Whoever\n'
                 'installs this torch took it from the wrong index."""\n__version__ = "2.11.1"\n'
                 '__gpuslim_decoy__ = True\n\n\nclass version:\n    cuda = None\n')
        w, metadata, wheel_text, extra = pure_wheel(
            "torch", "2.11.1", ">=3.10", [], [], module="torch", body=decoy,
            summary="A decoy torch on the default index: the framework must come from its own index")
        log(idx.add_wheel(w, metadata, wheel_text, ["simple"], extra))
        for name, version, rp, reqs, extras, yanked in PURE:
            w, metadata, wheel_text, extra = pure_wheel(name, version, rp, reqs, extras)
            log(idx.add_wheel(w, metadata, wheel_text, ["simple"], extra, yanked))
        fn = "gsfx_srconly-0.5.0.tar.gz"
        sdist(os.path.join(idx.pkgdir, fn), "gsfx-srconly", "0.5.0")
        idx.add_file(fn, ["simple"], "gsfx-srconly", "0.5.0")
        log(fn)

        idx.save({"inputs": stamp, "cuda_root": tk.root, "torch_versions": TORCH_VERSIONS,
                  "nvidia_versions": nv_versions})
        with open(os.path.join(build, "out", "stamp"), "w") as f:
            f.write(stamp + "\n")
        os.rename(os.path.join(build, "out"), final)
    finally:
        shutil.rmtree(build, ignore_errors=True)

    # Swap the symlink atomically; remove the builds it no longer points at.
    if os.path.exists(out) and not os.path.islink(out):
        die("%s exists and is not a symlink" % out)
    old = os.path.realpath(out) if os.path.islink(out) else None
    tmp_link = out + ".link.tmp"
    if os.path.lexists(tmp_link):
        os.remove(tmp_link)
    os.symlink(os.path.basename(final), tmp_link)
    os.replace(tmp_link, out)
    if old and old != final and os.path.isdir(old):
        shutil.rmtree(old, ignore_errors=True)
    total = sum(e["size"] for e in json.load(open(os.path.join(final, "index.json")))["files"].values())
    log("built %s (%d files, %d MB)" % (final, len(os.listdir(os.path.join(final, "packages"))), total >> 20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
