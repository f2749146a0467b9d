#!/usr/bin/python3
"""Check schemas/recipe.schema.json against the recipes it must take and
the bad recipes it must refuse, and schemas/report.schema.json against the
reports gpuslim writes.

(a) The schema is a valid 2020-12 schema, and every good recipe
    (recipes/*.yaml, recipes/*/gpuslim.yaml, tests/golden/*/gpuslim.yaml,
    gpuslim.yaml.example)
    validates against it.
(b) Every recipe-level bad case (tests/bad/0*.yaml) is refused by PyYAML's
    safe loader or by the schema, except the cases listed in SCHEMA_BLIND:
    rules gpuslim checks that a JSON Schema cannot state.

(d) schemas/lock.schema.json is a valid 2020-12 schema; tests/data/locks/good.lock
    (which gpuslim writes back byte for byte, tests/unit/test_lock.c) validates,
    and every bad lock of tests/data/locks/bad/ is refused by json.load or the
    schema, except those in LOCK_SCHEMA_BLIND.

(c) schemas/report.schema.json is a valid 2020-12 schema; the hand-written
    reports (tests/data/reports/*.json) validate against it, and so does the
    report `./gpuslim inspect --json` writes of a docker-save archive made
    here, whose names hold bytes that are not UTF-8: each is there, written
    \\xNN (an ELF at usr/bin/ap<0xff>p that needs a libc the image lacks, a
    file l<0xfe>st deleted by the next layer).

Prints one TAP-like line per check and a final "schema: N passed, M failed";
exits 1 when anything failed. Run with /usr/bin/python3 (Debian's
python3-jsonschema and python3-yaml).
"""
import glob
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import yaml
from jsonschema import Draft202012Validator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "schemas", "recipe.schema.json")
REPORT_SCHEMA = os.path.join(ROOT, "schemas", "report.schema.json")
LOCK_SCHEMA = os.path.join(ROOT, "schemas", "lock.schema.json")

# Bad locks the schema by nature accepts, with why (checked like SCHEMA_BLIND).
LOCK_SCHEMA_BLIND = {
    "007-duplicate-cell-id": "uniqueness of one property across list items is not expressible",
    "016-duplicate-key": "json.load keeps the last of duplicate keys silently",
    "022-wheel-version-pep440": "PEP 440 validity is code (core/pep440.c), not a pattern",
    "023-wheel-filename-other-version": "a file name agreeing with name and version is not expressible",
    "024-wheel-filename-other-name": "a file name agreeing with name and version is not expressible",
}

# Bad cases the schema by nature accepts, with why. Each is still checked:
# if the schema starts refusing one, the entry is stale and fails.
SCHEMA_BLIND = {
    "002-duplicate-key": "PyYAML keeps the last of duplicate keys silently; JSON has no duplicates to see",
    "019-matrix-unknown-axis": "framework axes are named by the 'frameworks' mapping; a schema cannot refer to sibling keys",
    "020-exclude-undeclared-key": "an exclude may name only the axes this matrix declares; a schema cannot refer to sibling keys",
    "024-duplicate-model-names": "uniqueness of one property across list items is not expressible (uniqueItems compares whole items)",
    "031-too-large": "the 1 MiB size cap is gpuslim's own limit, not a property of the document",
    "035-duplicate-smoke-names": "uniqueness of one property across list items is not expressible (uniqueItems compares whole items)",
    "077-env-duplicate-key": "uniqueness of the KEY part of KEY=value items is not expressible (uniqueItems compares whole items)",
    "079-matrix-2-pow-70": "the cell count is the product of the axes' lengths; a schema cannot multiply",
    "080-matrix-10-pow-9": "the cell count is the product of the axes' lengths; a schema cannot multiply",
}

passed = failed = 0


def report(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what)


def load(path):
    """The document as PyYAML reads it, or the loader's error."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return yaml.safe_load(data), None
    except yaml.YAMLError as e:
        return None, "yaml: " + str(e).replace("\n", " ")


def first_error(validator, doc):
    # iter_errors is lazy: take one, so that a pathological document does
    # not get walked whole.
    err = next(validator.iter_errors(doc), None)
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(top)"
    return "%s: %s" % (where, err.message)


def tar_bytes(members):
    """A tar (GNU format, names as raw bytes) of (name, data or None for a
    directory) pairs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT,
                      encoding="utf-8", errors="surrogateescape") as t:
        for name, data in members:
            info = tarfile.TarInfo(name.decode("utf-8", "surrogateescape"))
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o755
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def odd_names_archive(path):
    """A docker-save archive of two layers whose names are not UTF-8."""
    with open("/bin/true", "rb") as f:
        elf = f.read()
    layers = [
        tar_bytes([(b"usr", None), (b"usr/bin", None), (b"usr/bin/ap\xffp", elf),
                   (b"opt", None), (b"opt/l\xfest", b"x" * 300)]),
        tar_bytes([(b"opt", None), (b"opt/.wh.l\xfest", b"")]),
    ]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "1000", "Env": ["NVIDIA_DRIVER_CAPABILITIES=compute"]},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]},
        "history": [{"created_by": "ADD x /"}, {"created_by": "RUN rm /opt/l*"}],
    }).encode()
    chex = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": chex + ".json", "RepoTags": ["gpuslim-odd:1"],
                            "Layers": ["l%d/layer.tar" % i for i in range(len(layers))]}]).encode()
    members = [(chex.encode() + b".json", config)]
    for i, l in enumerate(layers):
        members += [(b"l%d" % i, None), (b"l%d/layer.tar" % i, l)]
    members.append((b"manifest.json", manifest))
    with open(path, "wb") as f:
        f.write(tar_bytes(members))


def check_reports():
    with open(REPORT_SCHEMA) as f:
        schema = json.load(f)
    try:
        Draft202012Validator.check_schema(schema)
        report(True, "schemas/report.schema.json is a valid 2020-12 schema")
    except Exception as e:
        report(False, "schemas/report.schema.json is a valid 2020-12 schema: %s" % e)
        return
    validator = Draft202012Validator(schema)
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "reports", "*.json"))):
        rel = os.path.relpath(path, ROOT)
        with open(path) as f:
            err = first_error(validator, json.load(f))
        report(err is None, "valid report: %s%s" % (rel, " (" + err + ")" if err else ""))

    gpuslim = os.path.join(ROOT, "gpuslim")
    if not os.access(gpuslim, os.X_OK):
        report(False, "./gpuslim is built (run make)")
        return
    with tempfile.TemporaryDirectory(prefix="gpuslim-schema.") as tmp:
        tar = os.path.join(tmp, "odd.tar")
        odd_names_archive(tar)
        p = subprocess.run([gpuslim, "inspect", tar, "--json"], capture_output=True)
        try:
            r = json.loads(p.stdout)
        except ValueError:
            r = None
        report(p.returncode == 0 and r is not None,
               "inspect --json of an archive with names that are not UTF-8 (exit %d%s)"
               % (p.returncode, ": " + p.stderr.decode("utf-8", "replace").strip()
                  if p.returncode else ""))
        if r is None:
            return
        err = first_error(validator, r)
        report(err is None, "its report validates%s" % (" (" + err + ")" if err else ""))
        missing = r["closure"]["missing"]
        report([m["file"] for m in missing] == ["/usr/bin/ap\\xffp"],
               "closure.missing keeps /usr/bin/ap\\xffp: %s" % missing)
        found = [f for f in r["findings"] if f["rule"] == "missing-library"]
        report(len(found) == 1 and found[0]["path"] == "/usr/bin/ap\\xffp"
               and found[0]["severity"] == "error",
               "a missing-library error for it: %s" % found)
        report([w["path"] for w in r["wasted"]] == ["/opt/l\\xfest"],
               "wasted keeps /opt/l\\xfest: %s" % r["wasted"])
        # --sizemap (the HTML page's treemap) and gpuslim diff (schemas/diff.schema.json)
        p = subprocess.run([gpuslim, "inspect", tar, "--json", "--sizemap"], capture_output=True)
        sm = json.loads(p.stdout) if p.returncode == 0 else None
        err = first_error(validator, sm) if sm else "exit %d" % p.returncode
        report(err is None and "sizemap" in sm,
               "inspect --sizemap: its report validates%s" % (" (" + err + ")" if err else ""))
        saved = os.path.join(tmp, "saved.json")
        with open(saved, "w") as f:
            json.dump(r, f)
        with open(os.path.join(ROOT, "schemas", "diff.schema.json")) as f:
            dschema = json.load(f)
        p = subprocess.run([gpuslim, "diff", saved, tar, "--json"], capture_output=True)
        d = json.loads(p.stdout) if p.returncode == 0 else None
        try:
            Draft202012Validator.check_schema(dschema)
            err = first_error(Draft202012Validator(dschema), d) if d else "exit %d: %s" % (
                p.returncode, p.stderr.decode("utf-8", "replace").strip())
        except Exception as e:
            err = str(e)
        report(err is None, "schemas/diff.schema.json takes gpuslim diff --json%s"
               % (" (" + err + ")" if err else ""))


def check_locks():
    with open(LOCK_SCHEMA) as f:
        schema = json.load(f)
    try:
        Draft202012Validator.check_schema(schema)
        report(True, "schemas/lock.schema.json is a valid 2020-12 schema")
    except Exception as e:
        report(False, "schemas/lock.schema.json is a valid 2020-12 schema: %s" % e)
        return
    validator = Draft202012Validator(schema)
    with open(os.path.join(ROOT, "tests", "data", "locks", "good.lock")) as f:
        err = first_error(validator, json.load(f))
    report(err is None, "valid: tests/data/locks/good.lock%s" % (" (" + err + ")" if err else ""))
    seen = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "locks", "bad", "*.lock"))):
        rel = os.path.relpath(path, ROOT)
        case = os.path.basename(path)[:-len(".lock")]
        seen.add(case)
        try:
            with open(path) as f:
                err = first_error(validator, json.load(f))
        except ValueError as e:
            err = "json: " + str(e)
        if case in LOCK_SCHEMA_BLIND:
            report(err is None, "schema-blind: %s # skip %s%s" % (
                rel, LOCK_SCHEMA_BLIND[case],
                "" if err is None else " (but it is refused now: " + err + ")"))
        else:
            report(err is not None, "refused: %s%s" % (rel, " (" + err + ")" if err else " (the schema accepts it)"))
    for case in sorted(set(LOCK_SCHEMA_BLIND) - seen):
        report(False, "LOCK_SCHEMA_BLIND names tests/data/locks/bad/%s.lock, which does not exist" % case)


def check_build_reports():
    """schemas/build-report.schema.json is valid; the build reports of tests/data/fanout
    (report merge's cases) validate, but for bad-gate-status.json and not-json.json."""
    path = os.path.join(ROOT, "schemas", "build-report.schema.json")
    with open(path) as f:
        schema = json.load(f)
    try:
        Draft202012Validator.check_schema(schema)
        report(True, "schemas/build-report.schema.json is a valid 2020-12 schema")
    except Exception as e:
        report(False, "schemas/build-report.schema.json is a valid 2020-12 schema: %s" % e)
        return
    validator = Draft202012Validator(schema)
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "fanout", "*.json"))):
        rel = os.path.relpath(path, ROOT)
        if os.path.basename(path) == "not-json.json":
            continue
        with open(path) as f:
            err = first_error(validator, json.load(f))
        if os.path.basename(path) == "bad-gate-status.json":
            report(err is not None, "refused build report: %s" % rel)
        else:
            report(err is None, "valid build report: %s%s" % (rel, " (" + err + ")" if err else ""))


def main():
    check_reports()
    check_build_reports()
    check_locks()
    with open(SCHEMA) as f:
        schema = json.load(f)
    try:
        Draft202012Validator.check_schema(schema)
        report(True, "schemas/recipe.schema.json is a valid 2020-12 schema")
    except Exception as e:  # SchemaError, or anything else wrong with it
        report(False, "schemas/recipe.schema.json is a valid 2020-12 schema: %s" % e)
        print("schema: %d passed, %d failed" % (passed, failed))
        return 1
    validator = Draft202012Validator(schema)

    good = sorted(glob.glob(os.path.join(ROOT, "recipes", "*.yaml")))
    good += sorted(glob.glob(os.path.join(ROOT, "recipes", "*", "gpuslim.yaml")))
    good += sorted(glob.glob(os.path.join(ROOT, "tests", "golden", "*", "gpuslim.yaml")))
    good.append(os.path.join(ROOT, "gpuslim.yaml.example"))
    for path in good:
        rel = os.path.relpath(path, ROOT)
        doc, yerr = load(path)
        err = yerr or first_error(validator, doc)
        report(err is None, "valid: %s%s" % (rel, " (" + err + ")" if err else ""))

    seen = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "bad", "0*.yaml"))):
        rel = os.path.relpath(path, ROOT)
        case = os.path.basename(path)[:-len(".yaml")]
        seen.add(case)
        doc, yerr = load(path)
        err = yerr or first_error(validator, doc)
        if case in SCHEMA_BLIND:
            report(err is None, "schema-blind: %s # skip %s%s" % (
                rel, SCHEMA_BLIND[case],
                "" if err is None else " (but it is refused now: " + err + "; drop it from SCHEMA_BLIND)"))
        else:
            report(err is not None, "refused: %s%s" % (rel, " (" + err + ")" if err else " (the schema accepts it)"))
    for case in sorted(set(SCHEMA_BLIND) - seen):
        report(False, "SCHEMA_BLIND names tests/bad/%s.yaml, which does not exist" % case)

    print("schema: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
