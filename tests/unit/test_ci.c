/* What CI reads: cron expressions (core/ci.h), the escaping of GitHub's
 * workflow commands and the annotation lines (core/annotate.h), the SARIF log
 * of a hand-written report (core/sarif.h), and the recipe's ci.schedule. The
 * files themselves are checked by tests/ci/check.mjs with GitHub's parser. */
#include <stdlib.h>
#include <string.h>

#include "core/annotate.h"
#include "core/ci.h"
#include "core/gate.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/sarif.h"
#include "util/strbuf.h"
#include "unit.h"

static void test_cron(void)
{
	static const char *const good[] = {
	    "0 0 * * *",	"23 3 * * *",	"*/15 * * * *",
	    "0 9-17/2 * * 1-5", "0 0 1,15 * *", "5 4 * JAN-jun SUN",
	    "59 23 31 12 6",	"0 0 * * sat",	"0-59/59 0 1 1 0",
	};
	static const struct {
		const char *expr, *msg;
	} bad[] = {
	    {"", "is empty: want five fields, e.g. '23 3 * * *'"},
	    {"60 * * * *", "field 1 (minute): 60 is not from 0 to 59"},
	    {"* 24 * * *", "field 2 (hour): 24 is not from 0 to 23"},
	    {"* * 0 * *", "field 3 (day of month): 0 is not from 1 to 31"},
	    {"* * * 13 *", "field 4 (month): 13 is not from 1 to 12"},
	    {"* * * * 7", "field 5 (day of week): 7 is not from 0 to 6"},
	    {"* * * * MOX", "field 5 (day of week): 'MOX' is not a number or a day (SUN-SAT)"},
	    {"* * * * *  *", "'* * * * *  *' has more than 5 fields: want 5 (minute hour "
			     "day-of-month month day-of-week)"},
	    {"* * *", "'* * *' has 3 fields: want 5 (minute hour day-of-month month day-of-week)"},
	    {"5-1 * * * *", "field 1 (minute): range 5-1 runs backwards"},
	    {"*/0 * * * *", "field 1 (minute): step 0 is not from 1 to 60"},
	    {"*/ * * * *", "field 1 (minute): a step is missing after '/'"},
	    {"1,,2 * * * *", "field 1 (minute): an empty list item"},
	    {"1, * * * *", "field 1 (minute): an empty list item"},
	    {"@hourly", "'@hourly' is not taken by GitHub or GitLab schedules: write the five "
			"fields, e.g. '0 0 * * *' for daily"},
	    {"0 3 * * *\n", "character '\n' is not taken: fields are separated by single spaces "
			    "and hold digits, names, '*', ',', '-', '/'"},
	    {"0\t3 * * *", "character '\\t' is not taken: fields are separated by single spaces "
			   "and hold digits, names, '*', ',', '-', '/'"},
	    {"0 3 * * 1-", "field 5 (day of week): a value is missing"},
	    {"-1 3 * * *", "field 1 (minute): a value is missing"},
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		CHECK(ci_check_cron(good[i]) == 0, "cron '%s' is taken", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int ret = ci_check_cron(bad[i].expr);
		char shown[64];

		/* the test's name on one line */
		snprintf(shown, sizeof(shown), "%s", bad[i].expr);
		for (char *c = shown; *c; c++)
			if (*c == '\n' || *c == '\t')
				*c = '?';
		CHECK(ret == GS_EINVAL, "cron '%s' is refused", shown);
		CHECK_STR(ret < 0 ? error_last() : NULL, bad[i].msg, "... with its message");
	}
}

static void test_names(void)
{
	struct strbuf sb = STRBUF_INIT;

	CHECK(ci_check_path("recipes/a/gpuslim.yaml") == 0, "a repository path is taken");
	CHECK(ci_check_path("/abs/gpuslim.yaml") == GS_EINVAL, "an absolute path is not");
	CHECK(ci_check_path("a/../gpuslim.yaml") == GS_EINVAL, "a path with '..' is not");
	CHECK(ci_check_path("a//b.yaml") == GS_EINVAL, "a path with an empty component is not");
	CHECK(ci_check_path("my recipe.yaml") == GS_EINVAL, "a path with a blank is not");
	CHECK(ci_check_path("$HOME.yaml") == GS_EINVAL, "a path with '$' is not");
	CHECK(ci_check_path("a\"b.yaml") == GS_EINVAL, "a path with a quote is not");
	CHECK(ci_check_repo("https://github.com/acme/gpuslim.git") == 0, "an https URL is taken");
	CHECK(ci_check_repo("git@github.com:acme/gpuslim.git") == 0, "an scp-like URL is taken");
	CHECK(ci_check_repo("file:///tmp/x") == GS_EINVAL, "a file:// URL is not");
	CHECK(ci_check_repo("https://x/$(id)") == GS_EINVAL, "a URL with '$' is not");
	CHECK(ci_check_ref("v0.1.0") == 0 && ci_check_ref("release/1.x") == 0,
	      "tags and branches are taken");
	CHECK(ci_check_ref("-x") == GS_EINVAL && ci_check_ref("a..b") == GS_EINVAL &&
		  ci_check_ref("a b") == GS_EINVAL,
	      "a ref that is an option, has '..' or a blank is not");
	CHECK(ci_check_label("ubuntu-24.04") == 0 && ci_check_label("gpu runner") == GS_EINVAL,
	      "runner labels");

	ci_yaml_quote(&sb, "a\"b\\c\nd\x01\xc3\xa9");
	CHECK_STR(sb.buf, "\"a\\\"b\\\\c\\x0ad\\x01\\xc3\\xa9\"",
		  "YAML double quotes escape quotes, backslashes and every non-ASCII byte");
	strbuf_release(&sb);
}

static void test_escape(void)
{
	struct strbuf sb = STRBUF_INIT;

	annotate_escape_data(&sb, "100% of a:b,c\r\nnext ::error::x");
	CHECK_STR(sb.buf, "100%25 of a:b,c%0D%0Anext ::error::x",
		  "a message escapes %, CR and LF (and keeps ':' and ',')");
	strbuf_reset(&sb);
	annotate_escape_property(&sb, "100% of a:b,c\r\nd");
	CHECK_STR(sb.buf, "100%25 of a%3Ab%2Cc%0D%0Ad",
		  "a property escapes %, CR, LF, ':' and ','");
	strbuf_reset(&sb);
	annotate_escape_data(&sb, "%0A already");
	CHECK_STR(sb.buf, "%250A already", "an escape sequence in the text is not taken as one");
	strbuf_reset(&sb);
	annotate_escape_data(&sb, "bad \xff byte");
	CHECK_STR(sb.buf, "bad \\xff byte", "a byte that is not UTF-8 is \\xNN");
	strbuf_release(&sb);
}

static struct recipe *parse(const char *text, struct vec *diags)
{
	struct recipe *r = NULL;

	if (recipe_parse("recipes/x/gpuslim.yaml", text, strlen(text), &r, diags) < 0)
		return NULL;
	return r;
}

static void test_annotations(void)
{
	struct vec diags = VEC_INIT(free), res = VEC_INIT(gate_result_free);
	struct recipe *r = parse("name: t\ncuda: \"13.0\"\nbudgets:\n  size: 1GB\n"
				 "rules:\n  root-user: error\nsmoke:\n  - name: vadd\n"
				 "    run: [/app/vadd]\n",
				 &diags);
	struct strbuf sb = STRBUF_INIT;
	struct report_item items[2];

	CHECK(r != NULL, "the recipe parses");
	if (!r)
		goto done;
	gate_add(&res, GATE_BUDGET, "size", GATE_FAIL, "2 GB exceeds 1 GB, by 100%%");
	gate_add(&res, GATE_RULE, "root-user", GATE_FAIL, "error: the image runs as root");
	gate_add(&res, GATE_RULE, "caches", GATE_WARN, "warn: pip cache\nin /root");
	gate_add(&res, GATE_SMOKE, "smoke vadd", GATE_FAIL, "exit 1: a, b");
	gate_add(&res, GATE_RULE, "nvidia-env", GATE_PASS, "no findings");
	memset(items, 0, sizeof(items));
	items[0].name = "cell-a:1";
	items[0].gates = &res;
	items[1].name = "cell-b";
	items[1].error = "not built: exit 1";
	annotate_github(items, 2, r, "recipes/x/gpuslim.yaml", &sb);
	CHECK_STR(sb.buf,
		  "::error file=recipes/x/gpuslim.yaml,line=4,col=9,title=gpuslim cell-a%3A1%3A "
		  "budget size::2 GB exceeds 1 GB, by 100%25\n"
		  "::error file=recipes/x/gpuslim.yaml,line=6,col=3,title=gpuslim cell-a%3A1%3A "
		  "rule root-user::error: the image runs as root\n"
		  "::warning file=recipes/x/gpuslim.yaml,title=gpuslim cell-a%3A1%3A rule "
		  "caches::warn: pip cache%0Ain /root\n"
		  "::error file=recipes/x/gpuslim.yaml,line=8,col=5,title=gpuslim cell-a%3A1%3A "
		  "smoke smoke vadd::exit 1: a, b\n"
		  "::error file=recipes/x/gpuslim.yaml,title=gpuslim cell-b::not built: exit 1\n",
		  "one line per failed or warned gate and per error, at the recipe's line");
	strbuf_reset(&sb);
	annotate_github(items, 1, NULL, NULL, &sb);
	CHECK(starts_with(sb.buf, "::error title=gpuslim cell-a%3A1%3A budget size::"),
	      "without a recipe: no file=");
done:
	strbuf_release(&sb);
	vec_release(&res);
	vec_release(&diags);
	recipe_free(r);
}

static void test_sarif(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r = parse(
	    "name: t\ncuda: \"13.0\"\nrules:\n  devel-toolchain: warn\n  caches: off\n", &diags);
	json_t *report = json_load_file("tests/data/reports/devel.json", 0, NULL);
	struct report_item it = {"devel-cell", report, NULL, NULL};
	struct sarif_opts o = {r, "recipes/x/gpuslim.yaml", "0.1.0"};
	json_t *log = NULL, *results, *rules, *res0;
	size_t i, n_findings = 0, n_caches = 0;
	json_t *f;

	CHECK(r && report, "the recipe and tests/data/reports/devel.json load");
	if (!r || !report)
		goto done;
	for (i = 0; recipe_rule_ids[i]; i++)
		CHECK(sarif_rule_summary(recipe_rule_ids[i]) != NULL, "rule %s has a description",
		      recipe_rule_ids[i]);
	log = sarif_log(&it, 1, &o);
	CHECK(log != NULL, "a SARIF log is made");
	if (!log)
		goto done;
	CHECK_STR(json_string_value(json_object_get(log, "version")), "2.1.0", "version 2.1.0");
	rules = json_object_get(
	    json_object_get(
		json_object_get(json_array_get(json_object_get(log, "runs"), 0), "tool"), "driver"),
	    "rules");
	results = json_object_get(json_array_get(json_object_get(log, "runs"), 0), "results");
	json_array_foreach(json_object_get(report, "findings"), i, f)
	{
		n_findings++;
		n_caches +=
		    !strcmp(json_string_value(json_object_get(f, "rule")), "caches") ? 1 : 0;
	}
	CHECK(json_array_size(results) == n_findings - n_caches,
	      "one result per finding, none for a rule turned off (%zu of %zu)",
	      json_array_size(results), n_findings);
	res0 = json_array_get(results, 0);
	CHECK_STR(json_string_value(json_object_get(res0, "ruleId")), "devel-toolchain",
		  "the first result's rule");
	CHECK_STR(json_string_value(json_object_get(res0, "level")), "warning",
		  "the recipe's severity (warn) wins over the finding's (error)");
	CHECK(json_integer_value(json_object_get(
		  json_object_get(
		      json_object_get(json_array_get(json_object_get(res0, "locations"), 0),
				      "physicalLocation"),
		      "region"),
		  "startLine")) == 4,
	      "located at the rule's line in the recipe");
	CHECK_STR(json_string_value(json_object_get(
		      json_array_get(
			  rules, (size_t)json_integer_value(json_object_get(res0, "ruleIndex"))),
		      "id")),
		  "devel-toolchain", "ruleIndex points at the rule");
done:
	json_decref(log);
	json_decref(report);
	recipe_free(r);
	vec_release(&diags);
}

static void test_recipe_schedule(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r =
	    parse("name: t\ncuda: \"13.0\"\nci:\n  schedule: \"0 4 * * MON\"\n", &diags);

	CHECK(r && r->ci.schedule.v && !strcmp(r->ci.schedule.v, "0 4 * * MON") &&
		  r->ci.schedule.pos.line == 4,
	      "ci.schedule is read with its position");
	recipe_free(r);
	vec_release(&diags);
	r = parse("name: t\ncuda: \"13.0\"\nci:\n  schedule: \"0 4 * *\"\n", &diags);
	CHECK(!r && diags.nr == 1, "a bad ci.schedule is refused");
	if (diags.nr)
		CHECK_STR(diags.items[0],
			  "recipes/x/gpuslim.yaml:4:13: ci.schedule: '0 4 * *' has 4 fields: want "
			  "5 (minute hour day-of-month month day-of-week)",
			  "... naming the file, line and field");
	recipe_free(r);
	vec_release(&diags);
	r = parse("name: t\ncuda: \"13.0\"\nci:\n  cron: \"0 4 * * *\"\n", &diags);
	CHECK(!r && diags.nr == 1 && strstr(diags.items[0], "ci.cron"),
	      "an unknown ci field is refused");
	recipe_free(r);
	vec_release(&diags);
}

/* The renderers' refusals; what they write is checked by tests/ci/check.mjs. */
static void test_render_limits(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r = parse("name: t\ncuda: \"13.0\"\n", &diags);
	struct plan p;
	struct ci_opts o = {"gpuslim.yaml", NULL, CI_DEFAULT_CRON, NULL, "v0.1.0", NULL, 0, NULL};
	struct strbuf sb = STRBUF_INIT;

	memset(&p, 0, sizeof(p));
	p.recipe = r;
	CHECK(ci_render_github(&p, &o, &sb) == GS_EINVAL && sb.len == 0,
	      "github: a plan without cells is refused, nothing written");
	CHECK(ci_render_gitlab(&p, &o, &sb) == GS_EINVAL && sb.len == 0,
	      "gitlab: a plan without cells is refused, nothing written");
	p.cells_nr = CI_GITLAB_MAX_JOBS + 1;
	CHECK(ci_render_gitlab(&p, &o, &sb) == GS_EINVAL && sb.len == 0,
	      "gitlab: more cells than one parallel:matrix runs are refused");
	CHECK_STR(error_last(),
		  "the recipe has 201 cells; GitLab runs at most 200 jobs from one parallel:matrix",
		  "... saying so");
	strbuf_release(&sb);
	recipe_free(r);
	vec_release(&diags);
}

int main(void)
{
	test_cron();
	test_names();
	test_escape();
	test_annotations();
	test_sarif();
	test_recipe_schedule();
	test_render_limits();
	return unit_done();
}
