#!/usr/bin/env node
// The CI files `gpuslim ci github|gitlab` writes, and the reports CI reads
// (SARIF, GitHub annotations), checked with tools other than gpuslim:
//
//   - the GitHub workflow with GitHub's own parser (@actions/workflow-parser,
//     the schema and converter of GitHub's Actions language service): no
//     error, and the jobs, triggers, matrix and steps the README promises;
//   - the .gitlab-ci.yml parsed as YAML (the `yaml` package) and held to the
//     keys GitLab documents: stages, a script per job, parallel:matrix with
//     every cell of the plan, artifacts:reports:junit, rules;
//   - `gpuslim gate --sarif` validated against the OASIS SARIF 2.1.0 schema
//     (tests/ci/sarif-schema-2.1.0.json, see tests/ci/README.md) with ajv;
//   - `--github-annotations` lines, and bad input (cron, paths, files gpuslim
//     did not write) refused with exit 2 naming the flag or the field.
//
// Prints "ok"/"not ok" lines and "ci: N passed, M failed".
//
//   node tests/ci/check.mjs [path/to/gpuslim]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire, register } from "node:module";
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const nodeModules = path.join(root, "tests/node/node_modules");
const gpuslim = path.resolve(process.argv[2] || path.join(root, "gpuslim"));
const require = createRequire(path.join(nodeModules, "noop.js"));

// @actions/workflow-parser imports its JSON schema without an import
// attribute, which Node 20 refuses; the hook adds `type: "json"`.
register(pathToFileURL(path.join(here, "json-hook.mjs")).href);
const wp = await import(pathToFileURL(path.join(nodeModules,
  "@actions/workflow-parser/dist/index.js")).href);
const YAML = require("yaml");
const Ajv4 = require("ajv-draft-04");
const addFormats = require("ajv-formats");

let passed = 0, failed = 0;
function check(cond, what, detail) {
  if (cond) { passed++; console.log(`ok - ${what}`); return true; }
  failed++;
  console.log(`not ok - ${what}`);
  if (detail) console.log(String(detail).split("\n").slice(0, 30).map((l) => `#   ${l}`).join("\n"));
  return false;
}

function run(args, cwd, env) {
  const r = spawnSync(gpuslim, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpuslim-ci-check."));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

// A repository with the golden case's files under recipes/NAME/, as a user
// keeps several recipes in one repository; the CI file is written from its root.
function repoWith(name, recipeText) {
  const repo = path.join(tmp, `repo-${name}`);
  const dir = path.join(repo, "recipes", name);
  fs.mkdirSync(dir, { recursive: true });
  const golden = path.join(root, "tests/golden", name);
  if (fs.existsSync(golden)) {
    fs.cpSync(golden, dir, { recursive: true });
    fs.rmSync(path.join(dir, "expected"), { recursive: true, force: true });
  }
  if (recipeText) fs.writeFileSync(path.join(dir, "gpuslim.yaml"), recipeText);
  return { repo, recipe: `recipes/${name}/gpuslim.yaml` };
}

function cells(repo, recipe) {
  const r = run(["plan", recipe, "--json"], repo);
  if (r.code !== 0) return null;
  return JSON.parse(r.out).cells.map((c) => c.id);
}

// ---- GitHub -----------------------------------------------------------------

async function checkGithub(name, recipeText, extra, want) {
  const { repo, recipe } = repoWith(name, recipeText);
  const r = run(["ci", "github", recipe, ...extra], repo);
  const file = path.join(repo, ".github/workflows", `gpuslim-${want.recipeName}.yml`);
  if (!check(r.code === 0 && fs.existsSync(file), `github ${name}: written to ${path.relative(repo, file)}`,
    `exit ${r.code}\n${r.err}`)) return;
  const content = fs.readFileSync(file, "utf8");
  const parsed = wp.parseWorkflow({ name: "gpuslim.yml", content }, new wp.NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  check(errors.length === 0, `github ${name}: GitHub's workflow parser finds no error`, errors.join("\n"));
  const tpl = await wp.convertWorkflowTemplate(parsed.context, parsed.value);
  const terr = (tpl.errors || []).map((e) => e.Message || e.message);
  check(terr.length === 0, `github ${name}: the workflow converts to GitHub's template`, terr.join("\n"));
  const jobs = (tpl.jobs || []).map((j) => j.id.value);
  const wantJobs = want.release ? ["plan", "build", "release"] : ["plan", "build"];
  check(JSON.stringify(jobs) === JSON.stringify(wantJobs), `github ${name}: jobs ${wantJobs.join(", ")}`,
    JSON.stringify(jobs));

  let w;
  try {
    w = YAML.parse(content, { uniqueKeys: true, strict: true });
  } catch (e) {
    check(false, `github ${name}: parses as YAML`, e.message);
    return;
  }
  const on = w.on || {};
  check(on.schedule && on.schedule[0].cron === want.cron && "pull_request" in on &&
    "workflow_dispatch" in on, `github ${name}: on schedule "${want.cron}", pull_request, workflow_dispatch`,
  JSON.stringify(on));
  const plan = w.jobs.plan, build = w.jobs.build;
  check(/^\$\{\{ *steps\.plan\.outputs\.matrix *\}\}$/.test(plan.outputs.matrix) &&
    plan.steps.some((s) => s.id === "plan" && /gpuslim plan "\$GPUSLIM_RECIPE" --ci-matrix/.test(s.run) &&
      /GITHUB_OUTPUT/.test(s.run)),
  `github ${name}: plan emits plan --ci-matrix as the output 'matrix'`);
  check(build.needs === "plan" && build.strategy["fail-fast"] === false &&
    /fromJSON\(needs\.plan\.outputs\.matrix\)/.test(build.strategy.matrix),
  `github ${name}: build's matrix is fromJSON(needs.plan.outputs.matrix), fail-fast false`);
  const runs = build.steps.map((s) => s.run || "").join("\n");
  check(/make -C "\$GPUSLIM_SRC"/.test(runs) && /install PREFIX=/.test(runs) &&
    (!want.repo || /git clone .*"\$GPUSLIM_REPO"/.test(runs)),
  `github ${name}: gpuslim built and installed from ${want.repo ? "--gpuslim-repo" : "the repository"} (make)`);
  check(/gpuslim build "\$GPUSLIM_RECIPE" --cell "\$CELL"/.test(runs) && /--json "reports\/\$CELL.json"/.test(runs) &&
    /--junit/.test(runs) && /--markdown/.test(runs) && /--sarif/.test(runs),
  `github ${name}: build --cell with --json, --junit, --markdown and --sarif`);
  check(want.release === /--push --stage/.test(runs), `github ${name}: ${want.release ? "pushes to a staging tag" : "pushes nothing (no image)"}`);
  check(build.steps.some((s) => s.if === "always()" && /GITHUB_STEP_SUMMARY/.test(s.run || "")) &&
    build.steps.some((s) => /^actions\/upload-artifact@/.test(s.uses || "") && s.if === "always()"),
  `github ${name}: the Markdown goes to $GITHUB_STEP_SUMMARY and the reports are uploaded, pass or fail`);
  check(build.steps.some((s) => /^docker\/setup-buildx-action@/.test(s.uses || "")) &&
    build.steps.some((s) => /^actions\/cache@/.test(s.uses || "") && /gpuslim-build\/cache/.test(s.with.path)),
  `github ${name}: BuildKit (buildx) and its cache directory are set up`);
  check(build.env.CELL === "${{ matrix.cell }}" && !/\$\{\{/.test(runs),
    `github ${name}: no expression is pasted into a script (values reach it through env)`);
  const up = build.steps.find((s) => /^github\/codeql-action\/upload-sarif@/.test(s.uses || ""));
  check(want.codeScanning ? up && up.with.sarif_file === "reports/${{ matrix.cell }}.sarif" &&
    w.permissions["security-events"] === "write" && /always\(\)/.test(up.if)
    : !up && !w.permissions["security-events"],
  `github ${name}: ${want.codeScanning ? "--code-scanning uploads the SARIF (security-events: write)" : "no code-scanning upload unless asked"}`);
  if (want.release) {
    const rel = w.jobs.release;
    const rr = rel.steps.map((s) => s.run || "").join("\n");
    check(JSON.stringify(rel.needs) === JSON.stringify(["plan", "build"]) && /pull_request/.test(rel.if) &&
      /default_branch/.test(rel.if) && !/always\(\)|failure\(\)|cancelled\(\)/.test(rel.if),
    `github ${name}: release needs every build job and runs only on a schedule or dispatch of the default branch`);
    check(rel.steps.some((s) => /^actions\/download-artifact@/.test(s.uses || "")) &&
      /gpuslim report merge reports\/\*\.json --json merged\.json --junit \S+ --markdown \S+/.test(rr) &&
      /gpuslim report promote merged\.json/.test(rr),
    `github ${name}: release downloads the reports, merges them and promotes the staged images`);
    const login = build.steps.find((s) => /^docker\/login-action@/.test(s.uses || ""));
    check(login && (want.ghcr ? login.with.password === "${{ secrets.GITHUB_TOKEN }}" && w.permissions.packages === "write"
      : login.with.password === "${{ secrets.GPUSLIM_REGISTRY_PASSWORD }}"),
    `github ${name}: logs in to ${want.ghcr ? "ghcr.io with the job's token" : "the registry with secrets"}`);
  }
  // Written again: byte for byte the same, and it replaces its own file.
  const again = run(["ci", "github", recipe, ...extra], repo);
  check(again.code === 0 && fs.readFileSync(file, "utf8") === content, `github ${name}: written again, the same bytes`);
}

// ---- GitLab -----------------------------------------------------------------

function checkGitlab(name, recipeText, want) {
  const { repo, recipe } = repoWith(name, recipeText);
  const r = run(["ci", "gitlab", recipe], repo);
  const file = path.join(repo, ".gitlab-ci.yml");
  if (!check(r.code === 0 && fs.existsSync(file), `gitlab ${name}: written to .gitlab-ci.yml`, `exit ${r.code}\n${r.err}`))
    return;
  let g;
  try {
    g = YAML.parse(fs.readFileSync(file, "utf8"), { uniqueKeys: true, strict: true });
  } catch (e) {
    check(false, `gitlab ${name}: parses as YAML`, e.message);
    return;
  }
  check(true, `gitlab ${name}: parses as YAML`);
  const reserved = new Set(["stages", "variables", "workflow", "default", "include", "image", "services",
    "cache", "before_script", "after_script"]);
  const jobs = Object.keys(g).filter((k) => !reserved.has(k) && !k.startsWith("."));
  const wantJobs = want.release ? ["build", "release"] : ["build"];
  check(JSON.stringify(jobs) === JSON.stringify(wantJobs), `gitlab ${name}: jobs ${wantJobs.join(", ")}`, JSON.stringify(jobs));
  check(Array.isArray(g.stages) && jobs.every((j) => g.stages.includes(g[j].stage)),
    `gitlab ${name}: every job's stage is in stages`);
  check(jobs.every((j) => Array.isArray(g[j].script) && g[j].script.every((l) => typeof l === "string")),
    `gitlab ${name}: every job has a script of strings`);
  check(g.workflow && g.workflow.rules.some((x) => /schedule/.test(x.if)) &&
    g.workflow.rules.some((x) => /merge_request_event/.test(x.if)),
  `gitlab ${name}: workflow:rules run it for schedules and merge requests`);
  const b = g.build;
  const matrix = b.parallel && b.parallel.matrix;
  const ids = cells(repo, recipe);
  check(Array.isArray(matrix) && matrix.length === 1 && JSON.stringify(matrix[0].CELL) === JSON.stringify(ids),
    `gitlab ${name}: parallel:matrix lists the plan's ${ids ? ids.length : "?"} cells`, JSON.stringify(matrix));
  check(b.artifacts && b.artifacts.when === "always" && b.artifacts.reports && b.artifacts.reports.junit === "reports/$CELL.xml",
    `gitlab ${name}: artifacts:reports:junit, kept pass or fail`);
  check(b.script.some((l) => /gpuslim build "\$GPUSLIM_RECIPE" --cell "\$CELL"/.test(l)),
    `gitlab ${name}: build --cell $CELL`);
  check(b.cache && b.cache.paths[0] === want.cache, `gitlab ${name}: caches ${want.cache}`, JSON.stringify(b.cache));
  check(g.variables.GPUSLIM_RECIPE === recipe, `gitlab ${name}: GPUSLIM_RECIPE is ${recipe}`);
  if (want.release) {
    const rel = g.release;
    check(rel.stage === "release" && g.stages.indexOf("release") > g.stages.indexOf("build") &&
      Array.isArray(rel.rules) && rel.rules.length === 1 && /schedule/.test(rel.rules[0].if) &&
      /CI_DEFAULT_BRANCH/.test(rel.rules[0].if) && !rel.rules[0].when,
    `gitlab ${name}: release runs after build, only for schedules (and manual runs) of the default branch`);
    check(rel.script.some((l) => /gpuslim report merge reports\/\*\.json --json merged\.json/.test(l)) &&
      rel.script.some((l) => /gpuslim report promote merged\.json/.test(l)) && rel.artifacts.reports.junit,
    `gitlab ${name}: release merges the reports and promotes`);
    check(b.script.some((l) => /--push --stage "\$GPUSLIM_STAGE"/.test(l)), `gitlab ${name}: build pushes to a staging tag`);
  }
}

// ---- SARIF and annotations --------------------------------------------------

function checkReports() {
  const dir = path.join(tmp, "reports");
  fs.mkdirSync(dir);
  const tar = path.join(dir, "image.tar");
  const mk = spawnSync("python3", [path.join(here, "make_image.py"), tar], { encoding: "utf8" });
  if (!check(mk.status === 0, "sarif: a docker-save archive with findings is made", mk.stderr)) return;
  fs.writeFileSync(path.join(dir, "gpuslim.yaml"),
    "name: ci-findings\nimage: ghcr.io/acme/ci-findings\ncuda: \"12.4\"\nrules:\n  root-user: error\n  caches: \"off\"\n");
  const sarifPath = path.join(dir, "out.sarif");
  const env = { GITHUB_ACTIONS: "true" };
  const r = run(["gate", "image.tar", "--recipe", "gpuslim.yaml", "--no-smoke", "--sarif", "out.sarif"], dir, env);
  check(r.code === 1 && fs.existsSync(sarifPath), "sarif: gate --sarif writes the file (the gate fails: exit 1)",
    `exit ${r.code}\n${r.err}`);
  let log;
  try {
    log = JSON.parse(fs.readFileSync(sarifPath, "utf8"));
  } catch (e) {
    check(false, "sarif: the file is JSON", e.message);
    return;
  }
  const schema = JSON.parse(fs.readFileSync(path.join(here, "sarif-schema-2.1.0.json"), "utf8"));
  const ajv = new Ajv4({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  check(validate(log), "sarif: valid against the OASIS SARIF 2.1.0 schema", JSON.stringify(validate.errors, null, 1));
  const run0 = log.runs[0], rules = run0.tool.driver.rules;
  check(log.version === "2.1.0" && run0.tool.driver.name === "gpuslim" && rules.length >= 12 &&
    rules.every((x) => x.id && x.help && x.help.text && x.shortDescription.text && x.defaultConfiguration.level),
  "sarif: tool.driver lists every rule with its id, help and default level");
  const by = (id) => run0.results.filter((x) => x.ruleId === id);
  check(run0.results.every((x) => rules[x.ruleIndex].id === x.ruleId), "sarif: each result's ruleIndex names its ruleId");
  const root = by("root-user")[0];
  check(root && root.level === "error" && root.locations[0].physicalLocation.artifactLocation.uri === "gpuslim.yaml" &&
    root.locations[0].physicalLocation.region.startLine === 5,
  "sarif: a rule the recipe tunes is at its level, located at its line in the recipe", JSON.stringify(root));
  const drv = by("driver-in-image")[0];
  check(drv && drv.level === "error" && drv.locations[0].logicalLocations[0].name === "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
    "sarif: a finding's path in the image is its logical location", JSON.stringify(drv));
  check(by("nvidia-env").length === 2 && by("nvidia-env").every((x) => x.level === "warning"),
    "sarif: a warn finding is a warning");
  check(by("caches").length === 0, "sarif: a rule turned off in the recipe has no result");

  // GITHUB_ACTIONS=true: annotations without asking; the lines on stderr.
  const lines = r.err.split("\n").filter((l) => l.startsWith("::"));
  check(lines.some((l) => l.startsWith("::error file=gpuslim.yaml,line=5,col=3,title=gpuslim image.tar%3A rule root-user::")) &&
    lines.some((l) => l.startsWith("::warning file=gpuslim.yaml,title=gpuslim image.tar%3A rule nvidia-env::")) &&
    !lines.some((l) => / caches/.test(l)),
  "annotations: GITHUB_ACTIONS=true prints ::error/::warning per failed/warned gate, at the recipe line",
  r.err);
  const quiet = run(["gate", "image.tar", "--recipe", "gpuslim.yaml", "--no-smoke", "--no-github-annotations"], dir, env);
  check(quiet.code === 1 && !/^::/m.test(quiet.err), "annotations: --no-github-annotations turns them off", quiet.err);
  const asked = run(["gate", "image.tar", "--recipe", "gpuslim.yaml", "--no-smoke", "--github-annotations"], dir,
    { GITHUB_ACTIONS: "" });
  check(asked.code === 1 && /^::error /m.test(asked.err), "annotations: --github-annotations prints them outside Actions");
  const both = run(["gate", "image.tar", "--recipe", "gpuslim.yaml", "--github-annotations", "--no-github-annotations"], dir);
  check(both.code === 2 && /contradict/.test(both.err), "annotations: both flags are a usage error (exit 2)", both.err);
  const insp = run(["inspect", "image.tar", "--sarif", "-"], dir);
  let ilog = null;
  try { ilog = JSON.parse(insp.out.slice(insp.out.indexOf("{\n  \"$schema\""))); } catch (e) { /* checked below */ }
  check(insp.code === 0 && ilog && validate(ilog) &&
    ilog.runs[0].results.every((x) => x.locations[0].physicalLocation.artifactLocation.uri === "image.tar"),
  "sarif: inspect --sarif (no recipe) is valid, its results located at the image", insp.err);
}

// ---- bad input --------------------------------------------------------------

function checkBad() {
  const { repo, recipe } = repoWith("resnet-serve");
  const bad = [
    [["--cron", "61 3 * * *"], /^gpuslim: --cron: field 1 \(minute\): 61 is not from 0 to 59$/m, "a minute of 61"],
    [["--cron", "0 3 * *"], /--cron: .* has 4 fields: want 5/, "four fields"],
    [["--cron", "@daily"], /--cron: '@daily' is not taken/, "@daily"],
    [["--cron", "0 3 * FOO *"], /--cron: field 4 \(month\): 'FOO' is not a number or a month/, "a month FOO"],
    [["--cron", "0 3 * * 1-7"], /--cron: field 5 \(day of week\): 7 is not from 0 to 6/, "a weekday 7"],
    [["--cron", "*/0 * * * *"], /--cron: field 1 \(minute\): step 0 is not from 1 to 60/, "a step of 0"],
    [["--gpuslim-repo", "https://x/y;rm -rf /"], /--gpuslim-repo: .* holds a blank/, "a repository URL with a blank"],
    [["--gpuslim-ref", "v1"], /--gpuslim-ref names a ref of --gpuslim-repo/, "--gpuslim-ref alone"],
  ];
  for (const [args, re, what] of bad) {
    const r = run(["ci", "github", recipe, "-o", "-", ...args], repo);
    check(r.code === 2 && re.test(r.err) && r.out === "", `bad: ${what} is refused (exit 2, naming the flag)`,
      `exit ${r.code}\n${r.err}`);
  }
  const ok = run(["ci", "github", recipe, "-o", "-", "--cron", "*/15 1-5,22 1,15 JAN-jun mon-FRI"], repo);
  check(ok.code === 0 && /cron: "\*\/15 1-5,22 1,15 JAN-jun mon-FRI"/.test(ok.out), "cron: steps, ranges, lists and names are taken",
    ok.err);
  const badRecipe = fs.readFileSync(path.join(repo, recipe), "utf8") + "ci:\n  schedule: \"0 25 * * *\"\n";
  fs.writeFileSync(path.join(repo, "recipes/resnet-serve/bad.yaml"), badRecipe);
  const line = badRecipe.split("\n").length - 1;
  const r = run(["ci", "gitlab", "recipes/resnet-serve/bad.yaml", "-o", "-"], repo);
  check(r.code === 2 && r.err.includes(`recipes/resnet-serve/bad.yaml:${line}:13: ci.schedule: field 2 (hour): 25 is not from 0 to 23`),
    "bad: ci.schedule in the recipe is refused at its line (exit 2)", r.err);
  const good = badRecipe.replace("0 25 * * *", "5 4 * * SUN");
  fs.writeFileSync(path.join(repo, "recipes/resnet-serve/good.yaml"), good);
  const g = run(["ci", "github", "recipes/resnet-serve/good.yaml", "-o", "-"], repo);
  const gf = run(["ci", "github", "recipes/resnet-serve/good.yaml", "-o", "-", "--cron", "1 2 * * *"], repo);
  check(g.code === 0 && /cron: "5 4 \* \* SUN"/.test(g.out) && /cron: "1 2 \* \* \*"/.test(gf.out),
    "cron: the recipe's ci.schedule is taken, --cron wins over it");
  fs.writeFileSync(path.join(repo, ".gitlab-ci.yml"), "stages: [test]\n");
  const foreign = run(["ci", "gitlab", recipe], repo);
  check(foreign.code === 2 && /'.gitlab-ci.yml' exists and gpuslim did not write it/.test(foreign.err) &&
    fs.readFileSync(path.join(repo, ".gitlab-ci.yml"), "utf8") === "stages: [test]\n",
  "bad: a .gitlab-ci.yml gpuslim did not write is left alone (exit 2)", foreign.err);
  const forced = run(["ci", "gitlab", recipe, "--force"], repo);
  check(forced.code === 0 && fs.readFileSync(path.join(repo, ".gitlab-ci.yml"), "utf8").startsWith("# Generated by gpuslim ci"),
    "--force replaces it");
  fs.mkdirSync(path.join(tmp, "elsewhere"));
  const outside = run(["ci", "github", path.join(repo, recipe), "-o", "-"], path.join(tmp, "elsewhere"));
  check(outside.code === 2 && /is outside the current directory: run gpuslim ci from the repository's root/.test(outside.err),
    "bad: a recipe outside the current directory is refused (exit 2)", outside.err);
  const prov = run(["ci", "jenkins", recipe], repo);
  check(prov.code === 2 && /'jenkins' is not a CI provider/.test(prov.err), "bad: an unknown provider (exit 2)");
}

// The validators themselves bite: a workflow with an unknown key, a SARIF
// log of another version.
{
  const bad = wp.parseWorkflow({ name: "bad.yml", content: "on: push\njobs:\n  a:\n    runs-on: x\n    stepz: []\n" },
    new wp.NoOperationTraceWriter());
  check(bad.context.errors.getErrors().length > 0, "github: the parser refuses a workflow with an unknown key");
  const ajv = new Ajv4({ strict: false });
  addFormats(ajv);
  const v = ajv.compile(JSON.parse(fs.readFileSync(path.join(here, "sarif-schema-2.1.0.json"), "utf8")));
  check(!v({ version: "2.0.0", runs: [] }) && v({ version: "2.1.0", runs: [] }),
    "sarif: the schema refuses a log of version 2.0.0 and takes an empty 2.1.0 one");
}

await checkGithub("resnet-serve", null, [], { recipeName: "resnet-serve", cron: "23 3 * * *", release: true });
await checkGithub("matrix-include-exclude", null, ["--cron", "0 2 * * 1-5", "--gpuslim-repo",
  "https://github.com/example/gpuslim.git", "--gpuslim-ref", "v0.1.0", "--runs-on", "ubuntu-24.04"],
{ recipeName: "matrix-demo", cron: "0 2 * * 1-5", release: false, repo: true });
await checkGithub("ghcr", "name: ghcr-app\nimage: ghcr.io/acme/app\ncuda: \"12.4\"\nci:\n  schedule: \"30 1 * * *\"\n",
  ["--code-scanning"], { recipeName: "ghcr-app", cron: "30 1 * * *", release: true, ghcr: true, codeScanning: true });
checkGitlab("resnet-serve", null, { release: true, cache: "recipes/resnet-serve/.gpuslim/build/cache/" });
checkGitlab("matrix-include-exclude", null, { release: false, cache: "recipes/matrix-include-exclude/.gpuslim/build/cache/" });
checkReports();
checkBad();
console.log(`ci: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
