/* Gates on hand-written reports (tests/data/reports, core/analyze.h's
 * layout): budgets at their edges, growth, per-path, rules tuned, the
 * recipe's rules and growth fields, smoke tests on a fake docker. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/gate.h"
#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/smoke.h"
#include "util/fs.h"
#include "unit.h"

static json_t *load(const char *name)
{
	char *path = xstrfmt("tests/data/reports/%s", name);
	json_t *j = json_load_file(path, 0, NULL);

	if (!j)
		printf("# cannot load %s\n", path);
	free(path);
	return j;
}

static struct recipe *parse(const char *tail, struct vec *diags)
{
	struct strbuf sb = STRBUF_INIT;
	struct recipe *r = NULL;

	strbuf_addf(&sb, "name: t\nbase:\n  os: debian12\ncuda: \"13.0\"\n%s", tail);
	if (recipe_parse("t.yaml", sb.buf, sb.len, &r, diags) < 0)
		r = NULL;
	strbuf_release(&sb);
	return r;
}

static const struct gate_result *find(const struct vec *res, const char *name)
{
	for (size_t i = 0; i < res->nr; i++)
		if (!strcmp(((struct gate_result *)res->items[i])->name, name))
			return res->items[i];
	return NULL;
}

/* The status of gate `name` after checking budgets of `yaml` against `report`. */
static int budget_status(const json_t *report, const json_t *baseline, const char *yaml,
			 const char *name)
{
	struct vec diags = VEC_INIT(free), res = VEC_INIT(gate_result_free);
	struct recipe *r = parse(yaml, &diags);
	const struct gate_result *g;
	int st = -1;

	if (!r) {
		printf("# recipe: %s\n", diags.nr ? (char *)diags.items[0] : "?");
		goto done;
	}
	if (gate_check_budgets(report, r, baseline, &res) < 0) {
		printf("# %s\n", error_last());
		goto done;
	}
	if ((g = find(&res, name)))
		st = (int)g->status;
done:
	recipe_free(r);
	vec_release(&res);
	vec_release(&diags);
	return st;
}

static void test_budgets(void)
{
	json_t *vadd = load("vadd.json"), *devel = load("devel.json");
	json_t *base = load("baseline-100MB.json");
	struct vec diags = VEC_INIT(free), res = VEC_INIT(gate_result_free);
	struct recipe *r;
	const struct gate_result *g;

	/* size 117398528 */
	CHECK(budget_status(vadd, NULL, "budgets:\n  size: 117398528\n", "size") == GATE_PASS,
	      "size exactly at the budget passes");
	CHECK(budget_status(vadd, NULL, "budgets:\n  size: 117398527\n", "size") == GATE_FAIL,
	      "size one byte over the budget fails");
	CHECK(budget_status(vadd, NULL, "budgets:\n  size: 400MB\n", "size") == GATE_PASS,
	      "size under 400MB passes");
	CHECK(budget_status(vadd, NULL, "budgets:\n  compressed: 1MB\n", "compressed") == GATE_SKIP,
	      "compressed on an engine report (null) is a skip, never a pass");
	CHECK(budget_status(devel, NULL, "budgets:\n  compressed: 1200000000\n", "compressed") ==
		  GATE_PASS,
	      "compressed exactly at the budget passes");
	CHECK(budget_status(devel, NULL, "budgets:\n  compressed: 1199999999\n", "compressed") ==
		  GATE_FAIL,
	      "compressed one byte over fails");
	CHECK(budget_status(vadd, NULL, "budgets:\n  layers: 6\n", "layers") == GATE_PASS,
	      "layers at the budget pass");
	CHECK(budget_status(vadd, NULL, "budgets:\n  layers: 5\n", "layers") == GATE_FAIL,
	      "one layer over fails");
	CHECK(budget_status(vadd, NULL, "budgets:\n  wasted: 2048\n", "wasted") == GATE_PASS,
	      "wasted at the budget passes");
	CHECK(budget_status(vadd, NULL, "budgets:\n  wasted: 2047\n", "wasted") == GATE_FAIL,
	      "wasted one byte over fails");
	CHECK(budget_status(vadd, NULL, "budgets:\n  paths:\n    usr/local/cuda: 36000000\n",
			    "paths usr/local/cuda") == GATE_PASS,
	      "per-path at the budget passes");
	CHECK(budget_status(vadd, NULL, "budgets:\n  paths:\n    usr/local/cuda: 35999999\n",
			    "paths usr/local/cuda") == GATE_FAIL,
	      "per-path one byte over fails");
	CHECK(budget_status(vadd, NULL, "budgets:\n  paths:\n    site-packages/nvidia: 1GB\n",
			    "paths site-packages/nvidia") == GATE_SKIP,
	      "per-path the report does not measure is a skip");
	/* The analyzer lists every key it was given, 0 bytes when nothing matches. */
	json_array_append_new(
	    json_object_get(vadd, "paths"),
	    json_pack("{s:s,s:i,s:i}", "path", "site-packages/nvidia", "bytes", 0, "files", 0));
	CHECK(budget_status(vadd, NULL, "budgets:\n  paths:\n    site-packages/nvidia: 1GB\n",
			    "paths site-packages/nvidia") == GATE_PASS,
	      "per-path measured at 0 bytes passes (a measurement, not a skip)");
	CHECK(budget_status(vadd, NULL, "budgets:\n  paths:\n    site-packages/nvidia: 0\n",
			    "paths site-packages/nvidia") == GATE_PASS,
	      "per-path 0 bytes at a budget of 0 passes");

	/* growth: baseline 100000000 */
	json_object_set_new(json_object_get(vadd, "summary"), "size", json_integer(110000000));
	CHECK(budget_status(vadd, base, "budgets:\n  growth: 10%\n", "growth") == GATE_PASS,
	      "growth of exactly 10%% passes a 10%% budget");
	CHECK(budget_status(vadd, base, "budgets:\n  growth: 10MB\n", "growth") == GATE_PASS,
	      "growth of exactly 10MB passes a 10MB budget");
	CHECK(budget_status(vadd, base, "budgets:\n  growth: 9.9%\n", "growth") == GATE_FAIL,
	      "10%% growth fails a 9.9%% budget");
	json_object_set_new(json_object_get(vadd, "summary"), "size", json_integer(110000001));
	CHECK(budget_status(vadd, base, "budgets:\n  growth: 10%\n", "growth") == GATE_FAIL,
	      "one byte over 10%% growth fails");
	CHECK(budget_status(vadd, base, "budgets:\n  growth: 10MB\n", "growth") == GATE_FAIL,
	      "one byte over 10MB growth fails");
	CHECK(budget_status(vadd, base, "budgets:\n  growth: 10000001\n", "growth") == GATE_PASS,
	      "a growth budget in plain bytes");
	json_object_set_new(json_object_get(vadd, "summary"), "size", json_integer(90000000));
	CHECK(budget_status(vadd, base, "budgets:\n  growth: 0%\n", "growth") == GATE_PASS,
	      "shrinking passes any growth budget");
	CHECK(budget_status(vadd, NULL, "budgets:\n  growth: 10%\n", "growth") == GATE_SKIP,
	      "growth without a baseline is a skip");
	CHECK(budget_status(vadd, base, "budgets:\n  size: 6GB\n", "growth") == GATE_PASS,
	      "a baseline without a growth budget reports growth as a pass");
	CHECK(budget_status(vadd, NULL, "budgets:\n  size: 6GB\n", "growth") == -1,
	      "no baseline and no growth budget: no growth gate");

	/* messages say the numbers exactly */
	r = parse("budgets:\n  size: 117398527\n", &diags);
	json_object_set_new(json_object_get(vadd, "summary"), "size", json_integer(117398528));
	gate_check_budgets(vadd, r, NULL, &res);
	g = find(&res, "size");
	CHECK(g && strstr(g->message, "117398528 bytes") &&
		  strstr(g->message, "by 1 B (1 bytes)") && g->limit == 117398527 &&
		  g->value == 117398528,
	      "a failed budget names the value, the limit and the excess: %s",
	      g ? g->message : "(none)");
	recipe_free(r);
	vec_release(&res);
	vec_release(&diags);
	json_decref(vadd);
	json_decref(devel);
	json_decref(base);
}

static int rule_status(const json_t *report, const char *yaml, const char *id)
{
	struct vec diags = VEC_INIT(free), res = VEC_INIT(gate_result_free);
	struct recipe *r = yaml ? parse(yaml, &diags) : NULL;
	const struct gate_result *g;
	int st = -1;

	if (gate_check_rules(report, r, &res) == 0 && (g = find(&res, id)))
		st = (int)g->status;
	recipe_free(r);
	vec_release(&res);
	vec_release(&diags);
	return st;
}

/* A report of `size` bytes with packages given as "mgr name bytes" triples. */
static json_t *pkg_report(long long size, const char *const *pkgs)
{
	json_t *r = json_pack("{s:{s:I},s:[]}", "summary", "size", (json_int_t)size, "packages");

	for (size_t i = 0; pkgs[i]; i += 3)
		json_array_append_new(json_object_get(r, "packages"),
				      json_pack("{s:s,s:s,s:I}", "manager", pkgs[i], "name",
						pkgs[i + 1], "bytes",
						(json_int_t)atoll(pkgs[i + 2])));
	return r;
}

static void test_growth_packages(void)
{
	static const char *const before[] = {"pip",	 "torch", "800000000", "dpkg",	  "libc6",
					     "12000000", "pip",	  "gone",      "5000000", NULL};
	static const char *const after[] = {"pip",	"torch", "1200000000", "dpkg",	   "libc6",
					    "12000100", "pip",	 "new",	       "30000000", NULL};
	json_t *b = pkg_report(1000000000, before), *a = pkg_report(1425000100, after), *cmp;
	struct vec diags = VEC_INIT(free), res = VEC_INIT(gate_result_free);
	struct recipe *r;
	const struct gate_result *g;

	CHECK(budget_status(a, b, "budgets:\n  growth: {package: 50%}\n", "growth packages") ==
		  GATE_PASS,
	      "torch +50%% exactly passes package: 50%%; a new package is no percent of anything");
	CHECK(budget_status(a, b, "budgets:\n  growth: {package: 49.9%}\n", "growth packages") ==
		  GATE_FAIL,
	      "torch +50%% fails package: 49.9%%");
	CHECK(budget_status(a, b, "budgets:\n  growth: {package: 400MB}\n", "growth packages") ==
		  GATE_PASS,
	      "+400MB exactly passes package: 400MB");
	CHECK(budget_status(a, b, "budgets:\n  growth: {package: [50%, 20MB]}\n",
			    "growth packages") == GATE_FAIL,
	      "both limits must hold: +400MB is over 20MB");
	CHECK(budget_status(a, b, "budgets:\n  growth: {total: 42.5%}\n", "growth") == GATE_FAIL,
	      "total +42.50001%% fails 42.5%%");
	CHECK(budget_status(a, b, "budgets:\n  growth: {total: 42.5%}\n", "growth packages") == -1,
	      "no package limits: no 'growth packages' gate");
	r = parse("budgets:\n  growth: {total: [50%, 425MB], package: [10%, 1MB]}\n", &diags);
	CHECK(r && gate_check_budgets(a, r, b, &res) == 0, "growth gates run");
	g = find(&res, "growth packages");
	CHECK(g && g->status == GATE_FAIL && g->value == 2 &&
		  !strcmp(g->message,
			  "2 packages grew beyond 10% and 1MB: pip torch 800.0 MB -> 1.20 GB "
			  "(+400.0 MB, +50.0%); pip new 0 B (new) -> 30.0 MB (+30.0 MB, new)"),
	      "the packages beyond the limits, the most grown first, before and after: %s",
	      g ? g->message : "(none)");
	g = find(&res, "growth");
	CHECK(g && g->status == GATE_FAIL && g->limit == 425000000 &&
		  strstr(g->message, "over 50% and 425MB (425000000 bytes); grew most: pip torch "
				     "800.0 MB -> 1.20 GB (+400.0 MB, +50.0%); pip new"),
	      "the total over its size limit names the packages that grew most: %s",
	      g ? g->message : "(none)");
	cmp = gate_growth_compare(a, b);
	CHECK(cmp && json_integer_value(json_object_get(cmp, "growth")) == 425000100 &&
		  json_array_size(json_object_get(cmp, "packages")) == 4 &&
		  !strcmp(json_string_value(json_object_get(
			      json_array_get(json_object_get(cmp, "packages"), 3), "name")),
			  "gone") &&
		  json_is_null(json_object_get(json_array_get(json_object_get(cmp, "packages"), 3),
					       "after")),
	      "the comparison lists every changed package, a removed one last with after null");
	json_decref(cmp);
	recipe_free(r);
	vec_release(&res);
	vec_release(&diags);
	json_decref(a);
	json_decref(b);
}

static void test_rules(void)
{
	json_t *vadd = load("vadd.json"), *devel = load("devel.json");
	struct vec diags = VEC_INIT(free), res = VEC_INIT(gate_result_free);
	struct recipe *r;
	const struct gate_result *g;

	CHECK(rule_status(devel, NULL, "devel-toolchain") == GATE_FAIL,
	      "devel-toolchain findings fail by default (error)");
	CHECK(rule_status(devel, NULL, "root-user") == GATE_WARN, "root-user warns by default");
	CHECK(rule_status(devel, NULL, "caches") == GATE_PASS, "an info finding passes");
	CHECK(rule_status(vadd, NULL, "devel-toolchain") == GATE_PASS, "no findings pass");
	CHECK(rule_status(devel, "rules:\n  root-user: error\n", "root-user") == GATE_FAIL,
	      "a warn rule tuned to error fails");
	CHECK(rule_status(devel, "rules:\n  devel-toolchain: warn\n", "devel-toolchain") ==
		  GATE_WARN,
	      "an error rule tuned to warn warns");
	CHECK(rule_status(devel, "rules:\n  devel-toolchain: off\n", "devel-toolchain") ==
		  GATE_SKIP,
	      "a rule turned off (plain YAML off) is a skip");
	CHECK(rule_status(devel, "rules:\n  root-user: \"off\"\n", "root-user") == GATE_SKIP,
	      "a rule turned off (quoted) is a skip");
	CHECK(rule_status(vadd, "rules:\n  unstripped-elf: error\n", "unstripped-elf") == GATE_FAIL,
	      "unstripped-elf tuned to error fails the vadd report");

	gate_check_rules(devel, NULL, &res);
	CHECK(res.nr == 12, "one gate per rule id (%zu)", res.nr);
	g = find(&res, "devel-toolchain");
	CHECK(g && g->value == 4 && strstr(g->message, "4 findings") &&
		  strstr(g->message, "and 1 more"),
	      "a rule's message counts its findings and quotes the first: %s",
	      g ? g->message : "(none)");
	CHECK(gate_failed(&res), "the devel report fails its rules");
	vec_release(&res);

	r = parse("rules:\n  root-usr: off\n", &diags);
	CHECK(!r && diags.nr == 1 &&
		  !strcmp(diags.items[0], "t.yaml:6:3: rules.root-usr: unknown rule; did you mean "
					  "'root-user'?"),
	      "an unknown rule id is an error with a suggestion: %s",
	      diags.nr ? (char *)diags.items[0] : "");
	recipe_free(r);
	vec_release(&diags);
	r = parse("rules:\n  frobnicate: warn\n", &diags);
	CHECK(!r && diags.nr == 1 &&
		  strstr(diags.items[0], "unknown rule; expected one of devel-toolchain"),
	      "an unknown rule id far from any lists them");
	recipe_free(r);
	vec_release(&diags);
	r = parse("budgets:\n  growth: 12.5%\n", &diags);
	CHECK(r && r->budgets.growth.set && r->budgets.growth.total_percent.set &&
		  r->budgets.growth.total_percent.permille == 125 &&
		  !r->budgets.growth.total_size.set && !r->budgets.growth.package_percent.set,
	      "growth: 12.5%% is the total's, 125 per mille");
	recipe_free(r);
	vec_release(&diags);
	r = parse("budgets:\n  growth: 200MB\n", &diags);
	CHECK(r && r->budgets.growth.set && r->budgets.growth.total_size.set &&
		  !r->budgets.growth.total_size.percent &&
		  r->budgets.growth.total_size.bytes == 200000000,
	      "growth: 200MB is bytes");
	recipe_free(r);
	vec_release(&diags);
	r = parse("budgets:\n  growth:\n    total: [5%, 200MB]\n    package: 20MB\n", &diags);
	CHECK(r && r->budgets.growth.total_percent.permille == 50 &&
		  r->budgets.growth.total_size.bytes == 200000000 &&
		  r->budgets.growth.package_size.bytes == 20000000 &&
		  !r->budgets.growth.package_percent.set,
	      "growth: {total: [5%%, 200MB], package: 20MB}");
	recipe_free(r);
	vec_release(&diags);
	r = parse("budgets:\n  growth:\n    total: [5%, 6%]\n", &diags);
	CHECK(!r && diags.nr == 1 && strstr(diags.items[0], "t.yaml:7:17:") &&
		  strstr(diags.items[0], "budgets.growth.total[1]: a second percent limit (the "
					 "first is 5%, line 7)"),
	      "two percent limits are refused: %s", diags.nr ? (char *)diags.items[0] : "");
	recipe_free(r);
	vec_release(&diags);
	r = parse("budgets:\n  growth:\n    packages: 5%\n", &diags);
	CHECK(!r && diags.nr == 1 && strstr(diags.items[0], "budgets.growth.packages") &&
		  strstr(diags.items[0], "'package'"),
	      "an unknown growth key suggests 'package': %s",
	      diags.nr ? (char *)diags.items[0] : "");
	recipe_free(r);
	vec_release(&diags);
	r = parse("budgets:\n  growth:\n    package: {max: 5%}\n", &diags);
	CHECK(!r && diags.nr == 1 && strstr(diags.items[0], "budgets.growth.package"),
	      "a mapping as a limit is refused: %s", diags.nr ? (char *)diags.items[0] : "");
	recipe_free(r);
	vec_release(&diags);
	r = parse("budgets:\n  growth: 12.55%\n", &diags);
	CHECK(!r, "growth with two decimals is refused");
	recipe_free(r);
	vec_release(&diags);
	json_decref(vadd);
	json_decref(devel);
}

static void test_attach(void)
{
	json_t *vadd = load("vadd.json"), *gates;
	struct vec res = VEC_INIT(gate_result_free);

	gate_check_rules(vadd, NULL, &res);
	gate_attach(vadd, &res);
	gates = json_object_get(vadd, "gates");
	CHECK(json_array_size(gates) == 12 &&
		  !strcmp(json_string_value(json_object_get(vadd, "status")), "pass"),
	      "gates and status attached (warnings pass)");
	CHECK(!strcmp(json_string_value(json_object_get(json_array_get(gates, 0), "kind")), "rule"),
	      "a gate's kind");
	gate_add(&res, GATE_BUDGET, "size", GATE_FAIL, "too big");
	gate_attach(vadd, &res);
	CHECK(!strcmp(json_string_value(json_object_get(vadd, "status")), "fail"),
	      "one failed gate fails the report");
	vec_release(&res);
	json_decref(vadd);
}

/* ---- smoke, on tests/fake/docker-smoke ------------------------------- */

static struct plan_smoke mk(const char *name, const char *const *argv, int gpu, const char *expect,
			    const char *reject, int any_exit, long timeout)
{
	struct plan_smoke s;

	memset(&s, 0, sizeof(s));
	s.name = xstrdup(name);
	vec_init(&s.run, free);
	for (size_t i = 0; argv[i]; i++)
		vec_pushstr(&s.run, argv[i]);
	s.gpu = gpu;
	s.expect = expect ? xstrdup(expect) : NULL;
	s.reject = reject ? xstrdup(reject) : NULL;
	s.any_exit = any_exit;
	s.timeout = timeout;
	return s;
}

static void smoke_free(struct plan_smoke *s)
{
	free(s->name);
	vec_release(&s->run);
	free(s->expect);
	free(s->reject);
}

static const struct gate_result *smoke1(struct vec *res, struct smoke_opts *o, struct plan_smoke s)
{
	size_t before = res->nr;

	smoke_run(o, &s, 1, res);
	smoke_free(&s);
	return res->nr > before ? res->items[res->nr - 1] : NULL;
}

static void test_smoke(void)
{
	char tmpl[] = "/tmp/gpuslim-smoke.XXXXXX", *dir = mkdtemp(tmpl), *log, *docker, *smi, *path;
	const char *const echo_torch[] = {"/bin/echo", "torch 2.4.1+cu124", NULL};
	const char *const exit3[] = {"/bin/sh", "-c", "echo boom; exit 3", NULL};
	const char *const loader[] = {
	    "/bin/sh", "-c",
	    "echo 'vadd: error while loading shared libraries: libcudart.so.13: cannot open'; exit "
	    "127",
	    NULL};
	const char *const nodriver[] = {
	    "/bin/sh", "-c", "echo 'vadd: CUDA error: cudaErrorInsufficientDriver'; exit 1", NULL};
	const char *const sleep5[] = {"/bin/sleep", "5", NULL};
	const char *const conflict[] = {
	    "/bin/sh", "-c",
	    "echo 'docker: Error response from daemon: Conflict. The container name is already "
	    "in use.' >&2; echo \"See 'docker run --help'.\" >&2; exit 125",
	    NULL};
	struct smoke_gpu gpu;
	struct smoke_opts o;
	struct vec res = VEC_INIT(gate_result_free);
	struct strbuf sb = STRBUF_INIT;
	const struct gate_result *g;
	char *old_path = xstrdup(getenv("PATH"));
	char cwd[4096];

	if (!dir || !getcwd(cwd, sizeof(cwd))) {
		CHECK(0, "temporary directory");
		return;
	}
	docker = xstrfmt("%s/tests/fake/docker-smoke", cwd);
	smi = xstrfmt("%s/nvidia-smi", dir);
	log = xstrfmt("%s/docker.log", dir);
	path = xstrfmt("%s:/usr/bin:/bin", dir);
	setenv("FAKE_DOCKER_LOG", log, 1);
	setenv("PATH", path, 1);
	unsetenv("FAKE_DOCKER_RUNTIMES");

	smoke_detect_gpu(docker, &gpu);
	CHECK(!gpu.available && strstr(gpu.why, "no nvidia runtime"),
	      "no nvidia runtime: no GPU (%s)", gpu.why);
	memset(&o, 0, sizeof(o));
	o.docker = docker;
	o.image = "example/img:1";
	o.gpu = &gpu;
	o.abort_fd = -1;

	g = smoke1(&res, &o, mk("gpu", echo_torch, 1, NULL, NULL, 0, 0));
	CHECK(g && g->status == GATE_SKIP && starts_with(g->message, "skipped: no GPU"),
	      "a gpu test without a GPU is 'skipped: no GPU', never passed: %s",
	      g ? g->message : "");
	o.require_gpu = 1;
	g = smoke1(&res, &o, mk("gpu", echo_torch, 1, NULL, NULL, 0, 0));
	CHECK(g && g->status == GATE_FAIL && strstr(g->message, "--require-gpu"),
	      "--require-gpu turns the skip into a failure: %s", g ? g->message : "");
	o.require_gpu = 0;

	g = smoke1(&res, &o, mk("import", echo_torch, 0, "torch 2.4.1", NULL, 0, 0));
	CHECK(g && g->status == GATE_PASS, "expect found: pass (%s)", g ? g->message : "");
	CHECK(g && g->output && strstr(g->output, "torch 2.4.1+cu124"), "the output is kept");
	strbuf_reset(&sb);
	fs_read_file(log, &sb, 0);
	CHECK(strstr(sb.buf, "run --rm --name gpuslim-smoke-") &&
		  strstr(sb.buf, "--network none --entrypoint /bin/echo example/img:1 torch "
				 "2.4.1+cu124") &&
		  !strstr(sb.buf, "--gpus"),
	      "docker run --rm --network none --entrypoint CMD IMAGE ARGS, no --gpus");
	g = smoke1(&res, &o, mk("import", echo_torch, 0, "torch 2.5", NULL, 0, 0));
	CHECK(g && g->status == GATE_FAIL && strstr(g->message, "lacks 'torch 2.5'"),
	      "expect missing: fail (%s)", g ? g->message : "");
	g = smoke1(&res, &o, mk("exit", exit3, 0, NULL, NULL, 0, 0));
	CHECK(g && g->status == GATE_FAIL && strstr(g->message, "exit 3") &&
		  strstr(g->message, "boom"),
	      "a nonzero exit fails and quotes the output: %s", g ? g->message : "");
	g = smoke1(&res, &o,
		   mk("program", loader, 0, NULL, "error while loading shared libraries", 1, 0));
	CHECK(g && g->status == GATE_FAIL && strstr(g->message, "error while loading"),
	      "a loader error fails the program test: %s", g ? g->message : "");
	g = smoke1(&res, &o,
		   mk("program", nodriver, 0, NULL, "error while loading shared libraries", 1, 0));
	CHECK(g && g->status == GATE_PASS && strstr(g->message, "exit 1 accepted"),
	      "the CUDA no-driver error passes the program test: %s", g ? g->message : "");
	g = smoke1(&res, &o, mk("slow", sleep5, 0, NULL, NULL, 0, 1));
	CHECK(g && g->status == GATE_FAIL && strstr(g->message, "timed out after 1s"),
	      "a timeout fails: %s", g ? g->message : "");
	strbuf_reset(&sb);
	fs_read_file(log, &sb, 0);
	CHECK(strstr(sb.buf, "rm -f gpuslim-smoke-"), "a timed-out container is removed");
	g = smoke1(&res, &o, mk("server", sleep5, 0, NULL, NULL, 1, 1));
	CHECK(g && g->status == GATE_PASS,
	      "a program still running at its timeout started (any_exit)");
	g = smoke1(&res, &o, mk("conflict", conflict, 0, NULL, NULL, 1, 0));
	CHECK(g && g->status == GATE_FAIL &&
		  strstr(g->message, "did not start (docker run exit 125): docker: Error response "
				     "from daemon: Conflict."),
	      "docker's own refusal is quoted, not its 'See docker run --help': %s",
	      g ? g->message : "");
	{
		/* Cells are gated on several threads: no container name twice. */
		struct vec names = VEC_INIT(free);
		int twice = 0;

		strbuf_reset(&sb);
		fs_read_file(log, &sb, 0);
		for (const char *q = sb.buf; (q = strstr(q, "--name "));) {
			q += 7;
			vec_push(&names, xstrndup(q, strcspn(q, " \n")));
		}
		for (size_t i = 0; i < names.nr; i++)
			for (size_t j = i + 1; j < names.nr; j++)
				twice |= !strcmp(names.items[i], names.items[j]);
		CHECK(names.nr >= 8 && !twice, "%zu smoke containers, each its own name", names.nr);
		vec_release(&names);
	}
	smoke_gpu_release(&gpu);

	/* The nvidia runtime alone is not a GPU. */
	setenv("FAKE_DOCKER_RUNTIMES",
	       "{\"nvidia\":{\"path\":\"nvidia-container-runtime\"},\"runc\":{}}", 1);
	smoke_detect_gpu(docker, &gpu);
	CHECK(!gpu.available && strstr(gpu.why, "no nvidia-smi"), "runtime but no nvidia-smi: %s",
	      gpu.why);
	smoke_gpu_release(&gpu);
	{
		char *src = xstrfmt("%s/tests/fake/nvidia-smi", cwd);

		CHECK(symlink(src, smi) == 0, "fake nvidia-smi on PATH");
		free(src);
	}
	setenv("FAKE_NVIDIA_SMI", "No devices were found", 1);
	setenv("FAKE_NVIDIA_SMI_EXIT", "6", 1);
	smoke_detect_gpu(docker, &gpu);
	CHECK(!gpu.available, "nvidia-smi finds no device: no GPU (%s)", gpu.why);
	smoke_gpu_release(&gpu);
	unsetenv("FAKE_NVIDIA_SMI");
	unsetenv("FAKE_NVIDIA_SMI_EXIT");
	smoke_detect_gpu(docker, &gpu);
	CHECK(gpu.available && starts_with(gpu.why, "GPU 0:"), "runtime and a GPU: available (%s)",
	      gpu.why);
	unlink(log);
	g = smoke1(&res, &o, mk("gpu", echo_torch, 1, "torch", NULL, 0, 0));
	CHECK(g && g->status == GATE_PASS, "a gpu test runs where there is a GPU (%s)",
	      g ? g->message : "");
	strbuf_reset(&sb);
	fs_read_file(log, &sb, 0);
	CHECK(strstr(sb.buf, "--gpus all"), "with --gpus all");
	smoke_gpu_release(&gpu);

	unsetenv("FAKE_DOCKER_RUNTIMES");
	unsetenv("FAKE_DOCKER_LOG");
	setenv("PATH", old_path, 1);
	unlink(smi);
	unlink(log);
	rmdir(dir);
	free(old_path);
	free(docker);
	free(smi);
	free(log);
	free(path);
	strbuf_release(&sb);
	vec_release(&res);
}

/* Default smoke tests: the recipe's first, each framework's from
 * frameworks.json with {version} expanded, the compiled program's. */
static void test_plan_smoke(void)
{
	static const char yaml[] =
	    "name: t\nbase:\n  os: ubuntu22.04\ncuda: \"12.4\"\npython: \"3.11\"\n"
	    "frameworks:\n  torch: \"2.4\"\n"
	    "app:\n  build: [\"nvcc -o /usr/local/bin/x x.cu\"]\n  artifacts: "
	    "[\"/usr/local/bin/x\"]\n"
	    "  entrypoint: [\"/usr/local/bin/x\"]\n  cmd: [\"--n\", \"4\"]\n"
	    "smoke:\n  - name: mine\n    run: [\"x\"]\n  - name: torch-cuda\n    run: [\"y\"]\n";
	struct vec diags = VEC_INIT(free);
	struct recipe *r = NULL;
	struct knowledge *kb = NULL;
	struct plan *p = NULL;
	const struct plan_cell *c;

	if (recipe_parse("t.yaml", yaml, strlen(yaml), &r, &diags) < 0 ||
	    knowledge_load(&kb, NULL) < 0 || plan_build(r, kb, &p, &diags) < 0) {
		CHECK(0, "plan: %s", diags.nr ? (char *)diags.items[0] : error_last());
		goto done;
	}
	c = &p->cells[0];
	CHECK(c->smoke_nr == 4, "4 smoke tests (%zu)", c->smoke_nr);
	if (c->smoke_nr != 4)
		goto done;
	CHECK(!strcmp(c->smoke[0].name, "mine") && !strcmp(c->smoke[1].name, "torch-cuda") &&
		  !strcmp(c->smoke[1].run.items[0], "y"),
	      "the recipe's tests first; one named like a default replaces it");
	CHECK(!strcmp(c->smoke[2].name, "torch-import") &&
		  !strcmp(c->smoke[2].expect, "torch 2.4.1") && !c->smoke[2].gpu &&
		  !strcmp(c->smoke[2].origin, "frameworks.json torch"),
	      "torch's default expects the planned version: %s", c->smoke[2].expect);
	CHECK(!strcmp(c->smoke[3].name, "program-starts") && c->smoke[3].any_exit &&
		  !strcmp(c->smoke[3].reject, "error while loading shared libraries") &&
		  c->smoke[3].run.nr == 3 &&
		  !strcmp(c->smoke[3].run.items[0], "/usr/local/bin/x") &&
		  !strcmp(c->smoke[3].run.items[2], "4"),
	      "a compiled program runs as the image starts it; a loader error fails it");
done:
	plan_free(p);
	knowledge_free(kb);
	recipe_free(r);
	vec_release(&diags);
}

int main(void)
{
	test_growth_packages();
	if (!getenv("GPUSLIM_PLUGIN_DIR"))
		setenv("GPUSLIM_PLUGIN_DIR", "plugins", 1);
	test_plan_smoke();
	test_budgets();
	test_rules();
	test_attach();
	test_smoke();
	return unit_done();
}
