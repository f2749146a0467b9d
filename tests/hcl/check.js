#!/usr/bin/env node
// Parses every docker-bake.hcl that `gpuslim generate` writes for the golden
// cases with a real HCL parser (@cdktf/hcl2json, HashiCorp's hcl library
// compiled to wasm) and checks its shape: one target per cell (per
// Dockerfile.<id>), a default group listing them all, valid target names,
// and labels that read back as the recipe wrote them (so `${` survived as
// `$${`). Prints "ok"/"not ok" lines and "hcl: N passed, M failed".
//
//   node tests/hcl/check.js [path/to/gpuslim]
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");
const { parse } = require(path.join(__dirname, "../node/node_modules/@cdktf/hcl2json"));

const root = path.resolve(__dirname, "../..");
const gpuslim = path.resolve(process.argv[2] || path.join(root, "gpuslim"));
let passed = 0, failed = 0;

function check(cond, what, detail) {
  if (cond) { passed++; console.log(`ok - ${what}`); return; }
  failed++;
  console.log(`not ok - ${what}`);
  if (detail) console.log(String(detail).split("\n").slice(0, 20).map((l) => `#   ${l}`).join("\n"));
}

// The labels the recipe declares, read back from the recipe with the
// planner's own view of it (plan --json carries no labels, so parse YAML
// minimally through python3 when it is there; skip the label check if not).
function recipeLabels(recipe) {
  try {
    const out = execFileSync("python3", ["-c",
      "import json,sys,yaml; d=yaml.safe_load(open(sys.argv[1])); print(json.dumps(d.get('labels') or {}))",
      recipe], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return JSON.parse(out);
  } catch (e) {
    return null;
  }
}

async function checkCase(dir) {
  const name = path.basename(dir);
  const recipe = path.join("tests/golden", name, "gpuslim.yaml");
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "gpuslim-hcl-"));
  try {
    execFileSync(gpuslim, ["generate", recipe, "-o", out], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    check(false, `hcl ${name}: generate`, e.stderr);
    return;
  }
  const text = fs.readFileSync(path.join(out, "docker-bake.hcl"), "utf8");
  const cells = fs.readdirSync(out).filter((f) => /^Dockerfile\.[A-Za-z0-9_-]+$/.test(f)).map((f) => f.slice(11)).sort();
  let doc;
  try {
    doc = await parse("docker-bake.hcl", text);
  } catch (e) {
    check(false, `hcl ${name}: parses`, e);
    fs.rmSync(out, { recursive: true, force: true });
    return;
  }
  check(true, `hcl ${name}: parses`);
  const targets = doc.target || {};
  const ids = Object.keys(targets).sort();
  check(JSON.stringify(ids) === JSON.stringify(cells), `hcl ${name}: one target per cell (${cells.length})`,
    `targets: ${ids.join(" ")}\ncells:   ${cells.join(" ")}`);
  const group = ((doc.group || {}).default || [])[0] || {};
  check(JSON.stringify((group.targets || []).slice().sort()) === JSON.stringify(cells),
    `hcl ${name}: default group lists every cell`, JSON.stringify(group));
  check(ids.every((id) => /^[a-zA-Z0-9_-]+$/.test(id)), `hcl ${name}: target names are [a-zA-Z0-9_-]+`, ids.join(" "));
  const bad = ids.filter((id) => {
    const t = targets[id][0];
    return !t.context || t.dockerfile !== "${GPUSLIM_DOCKERFILE_DIR}/Dockerfile." + id ||
      !Array.isArray(t.tags) || t.tags.length !== 1 || !Array.isArray(t.output) ||
      !Array.isArray(t.platforms) || t.platforms.length === 0;
  });
  check(bad.length === 0, `hcl ${name}: every target has context, dockerfile, tags, platforms, output`, bad.join(" "));
  const want = recipeLabels(path.join(root, recipe));
  if (want !== null && ids.length) {
    // hcl2json keeps templates as written: a literal "${x}" reads back as
    // "$${x}", which HCL evaluates to "${x}". Undo exactly that.
    const got = targets[ids[0]][0].labels || {};
    const flat = Array.isArray(got) ? Object.assign({}, ...got) : got;
    const evald = {};
    for (const [k, v] of Object.entries(flat)) evald[k] = String(v).replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{");
    const sorted = (o) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
    check(sorted(evald) === sorted(want), `hcl ${name}: labels read back as the recipe wrote them`,
      `got:  ${JSON.stringify(evald)}\nwant: ${JSON.stringify(want)}`);
  }
  fs.rmSync(out, { recursive: true, force: true });
}

(async () => {
  const base = path.join(root, "tests/golden");
  for (const d of fs.readdirSync(base).sort()) {
    if (fs.existsSync(path.join(base, d, "gpuslim.yaml"))) await checkCase(path.join(base, d));
  }
  console.log(`hcl: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
