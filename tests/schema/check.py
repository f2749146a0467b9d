#!/usr/bin/python3
"""Check schemas/recipe.schema.json against the recipes it must take and
the bad recipes it must refuse.

(a) The schema is a valid 2020-12 schema, and every good recipe
    (recipes/*.yaml, recipes/*/gpuslim.yaml, tests/golden/*/gpuslim.yaml,
    gpuslim.yaml.example)
    validates against it.
(b) Every recipe-level bad case (tests/bad/0*.yaml) is refused by PyYAML's
    safe loader or by the schema, except the cases listed in SCHEMA_BLIND:
    rules gpuslim checks that a JSON Schema cannot state.

Prints one TAP-like line per check and a final "schema: N passed, M failed";
exits 1 when anything failed. Run with /usr/bin/python3 (Debian's
python3-jsonschema and python3-yaml).
"""
import glob
import json
import os
import sys

import yaml
from jsonschema import Draft202012Validator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "schemas", "recipe.schema.json")

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


def main():
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
