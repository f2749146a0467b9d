#!/usr/bin/env node
// Parses every docker-bake.hcl that `gpuslim generate` writes for the golden
// cases with a real HCL parser (@cdktf/hcl2json, HashiCorp's hcl library
// compiled to wasm) and checks its shape: one target per cell (per
// Dockerfile.<id>), a default group listing them all, valid target names,
// and labels that read back as the recipe wrote them (so `${` survived as
// `$${`). And that it works as generated, run from its own directory: each
// context is the recipe's app.path and each dockerfile, against its context,
// is the Dockerfile beside the bake file, whether the output lies inside the
// recipe's directory (relative paths) or elsewhere (absolute ones), with no
// variable to set; no registry cache for an image without a registry host;
// the builder it needs named in the header. Prints "ok"/"not ok" lines and
// "hcl: N passed, M failed".
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

// The recipe as data, read with the planner's own view of it (plan --json
// carries no labels or app.path, so parse YAML through python3 when it is
// there; null if not, and the checks that need it are skipped).
function readRecipe(recipe) {
  try {
    const out = execFileSync("python3", ["-c",
      "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
      recipe], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return JSON.parse(out);
  } catch (e) {
    return null;
  }
}

// Docker's rule: the first component names a registry when it has a dot or a
// port, or is localhost; anything else goes to Docker Hub.
function namesRegistry(ref) {
  const slash = ref.indexOf("/");
  if (slash < 0) return false;
  const first = ref.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost";
}

// Generate `recipe` into `out` and parse the bake file; null (after a failed
// check) when either fails.
async function generateAndParse(name, what, recipe, out) {
  try {
    execFileSync(gpuslim, ["generate", recipe, "-o", out], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    check(false, `hcl ${name}: generate ${what}`, e.stderr);
    return null;
  }
  const text = fs.readFileSync(path.join(out, "docker-bake.hcl"), "utf8");
  try {
    return { text, doc: await parse("docker-bake.hcl", text) };
  } catch (e) {
    check(false, `hcl ${name}: parses (${what})`, e);
    return null;
  }
}

// Run from the bake file's directory `out`: every context is `ctx` and every
// dockerfile, against it, is out/Dockerfile.<id> (as bake resolves them).
function checkPaths(name, what, doc, out, ctx) {
  const targets = doc.target || {};
  const bad = [];
  for (const id of Object.keys(targets)) {
    const t = targets[id][0];
    const context = path.resolve(out, t.context || ".");
    const dockerfile = path.resolve(context, t.dockerfile || "Dockerfile");
    const want = path.join(out, "Dockerfile." + id);
    if (context !== ctx || dockerfile !== want || !fs.existsSync(dockerfile) || /\$\{/.test(t.context + t.dockerfile))
      bad.push(`${id}: context ${t.context} -> ${context} (want ${ctx}), dockerfile ${t.dockerfile} -> ${dockerfile} (want ${want})`);
  }
  check(bad.length === 0 && !doc.variable, `hcl ${name}: paths right as generated, no variable to set (${what})`,
    bad.join("\n") + (doc.variable ? `\nvariables: ${JSON.stringify(doc.variable)}` : ""));
}

async function checkCase(dir) {
  const name = path.basename(dir);
  const recipe = path.join("tests/golden", name, "gpuslim.yaml");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpuslim-hcl-"));
  // Elsewhere: only / in common with the recipe's tree (absolute paths).
  const outside = fs.mkdtempSync("/var/tmp/gpuslim-hcl-");
  const data = readRecipe(path.join(root, recipe));
  const appPath = (data && data.app && data.app.path) || ".";
  try {
    // Beside the recipe, as a user would (a copy of the case): relative paths.
    const caseDir = path.join(tmp, "case"), inside = path.join(caseDir, "out");
    fs.cpSync(dir, caseDir, { recursive: true, filter: (src) => path.basename(src) !== "expected" });
    const got = await generateAndParse(name, "beside the recipe", path.join(caseDir, "gpuslim.yaml"), inside);
    if (!got) return;
    const far = await generateAndParse(name, "elsewhere", recipe, outside);
    if (!far) return;
    checkShape(name, got.text, got.doc, inside, data);
    if (data) {
      checkPaths(name, "beside the recipe", got.doc, inside, path.resolve(caseDir, appPath));
      checkPaths(name, "elsewhere", far.doc, outside, path.resolve(root, "tests/golden", name, appPath));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  }
}

function checkShape(name, text, doc, out, data) {
  const cells = fs.readdirSync(out).filter((f) => /^Dockerfile\.[A-Za-z0-9_-]+$/.test(f)).map((f) => f.slice(11)).sort();
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
    return !t.context || !t.dockerfile ||
      !Array.isArray(t.tags) || t.tags.length !== 1 || !Array.isArray(t.output) ||
      !Array.isArray(t.platforms) || t.platforms.length === 0;
  });
  check(bad.length === 0, `hcl ${name}: every target has context, dockerfile, tags, platforms, output`, bad.join(" "));
  const toHub = ids.filter((id) => {
    const t = targets[id][0];
    const caches = [].concat(t["cache-from"] || [], t["cache-to"] || []);
    return !namesRegistry(t.tags[0]) && caches.some((c) => /type=registry/.test(c));
  });
  check(toHub.length === 0, `hcl ${name}: no registry cache for an image without a registry host`, toHub.join(" "));
  const header = text.split("\n").filter((l) => l.startsWith("#")).join("\n");
  check(/docker-container/.test(header), `hcl ${name}: the header names the builder it needs`, header);
  const want = data && (data.labels || {});
  if (want && ids.length) {
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
}

(async () => {
  const base = path.join(root, "tests/golden");
  for (const d of fs.readdirSync(base).sort()) {
    if (fs.existsSync(path.join(base, d, "gpuslim.yaml"))) await checkCase(path.join(base, d));
  }
  console.log(`hcl: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
