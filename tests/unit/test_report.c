/* Reports: JUnit is valid XML (checked by Python's xml.etree), one
 * testcase per gate with failure/skipped elements; Markdown tables; the
 * human summary puts the worst first. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/gate.h"
#include "core/report.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/utf8.h"
#include "unit.h"

/* Python's verdict on the XML in `xml`: "tests failures skipped cases" or an error. */
static char *junit_check(const char *xml)
{
	static const char script[] =
	    "import sys, xml.etree.ElementTree as ET\n"
	    "r = ET.parse(sys.argv[1]).getroot()\n"
	    "cases = r.findall('./testsuite/testcase')\n"
	    "f = sum(1 for c in cases if c.find('failure') is not None)\n"
	    "s = sum(1 for c in cases if c.find('skipped') is not None)\n"
	    "print(r.tag, r.get('tests'), r.get('failures'), r.get('skipped'), len(cases), f, s)\n"
	    "for c in cases:\n"
	    "    for e in list(c):\n"
	    "        if e.tag in ('failure', 'skipped'): print(c.get('name'), e.tag, "
	    "e.get('message'))\n";
	char path[] = "/tmp/gpuslim-junit.XXXXXX";
	int fd = mkstemp(path);
	struct process p;
	struct process_result res;
	char *out;

	if (fd < 0 || write(fd, xml, strlen(xml)) != (ssize_t)strlen(xml))
		return xstrdup("cannot write");
	close(fd);
	process_init(&p);
	vec_pushstr(&p.argv, "/usr/bin/python3");
	vec_pushstr(&p.argv, "-c");
	vec_pushstr(&p.argv, script);
	vec_pushstr(&p.argv, path);
	p.output = PROCESS_OUTPUT_CAPTURE;
	p.stdin_null = 1;
	process_run(&p, 30000, &res);
	out = xstrfmt("%s%s", res.exited && res.exit_code == 0 ? "" : "ERROR ", p.out.buf);
	process_release(&p);
	unlink(path);
	return out;
}

static void gates_for(const json_t *report, struct vec *res)
{
	struct gate_result *g;

	gate_check_rules(report, NULL, res);
	g = gate_add(res, GATE_BUDGET, "size", GATE_FAIL,
		     "2.70 GB (2700000000 bytes) exceeds the budget of 400MB <&\"'>");
	g->has_limit = g->has_value = 1;
	g->limit = 400000000;
	g->value = 2700000000LL;
	gate_add(res, GATE_SMOKE, "smoke vadd", GATE_SKIP,
		 "skipped: no GPU (the engine has no nvidia runtime)");
	g = gate_add(res, GATE_SMOKE, "smoke program-starts", GATE_PASS, "passed in 0.3s");
	/* output with invalid UTF-8 and a control character */
	g->output = xstrdup("vadd: \x01 CUDA \xff\xfe error ]]> & done\n");
	g->seconds = 0.25;
}

static void test_junit(void)
{
	json_t *devel = json_load_file("tests/data/reports/devel.json", 0, NULL);
	struct vec res = VEC_INIT(gate_result_free);
	struct strbuf sb = STRBUF_INIT;
	struct report_item items[2];
	char *v;

	gates_for(devel, &res);
	items[0] = (struct report_item){"cuda:13.0.2-devel \"x\" <y>", devel, &res, NULL};
	report_junit(items, 1, &sb);
	v = junit_check(sb.buf);
	/* 12 rules + size + 2 smoke = 15; failures: devel-toolchain, duplicate-library,
	 * missing-library, size = 4; skipped: smoke vadd = 1 */
	CHECK(starts_with(v, "testsuites 15 4 1 15 4 1\n"),
	      "JUnit parses; one testcase per gate, failures and skips counted: %s", v);
	CHECK(
	    strstr(v, "size failure 2.70 GB (2700000000 bytes) exceeds the budget of 400MB <&\"'>"),
	    "a failure's message survives escaping");
	CHECK(strstr(v, "smoke vadd skipped skipped: no GPU (the engine has no nvidia runtime)"),
	      "a skip is <skipped> with its message");
	CHECK(strstr(sb.buf, "classname=\"gpuslim.rule\" name=\"devel-toolchain\""),
	      "classname names the kind");
	free(v);

	strbuf_reset(&sb);
	items[1] = (struct report_item){"cell-b", NULL, NULL, "build failed (exit 1)"};
	report_junit(items, 2, &sb);
	v = junit_check(sb.buf);
	CHECK(starts_with(v, "testsuites 16 5 1 16 5 1\n") &&
		  strstr(v, "analyze failure build failed"),
	      "an item without a report is one failed testcase: %s", v);
	free(v);
	strbuf_release(&sb);
	vec_release(&res);
	json_decref(devel);
}

static void test_markdown(void)
{
	json_t *devel = json_load_file("tests/data/reports/devel.json", 0, NULL);
	struct vec res = VEC_INIT(gate_result_free);
	struct strbuf sb = STRBUF_INIT;
	struct report_item it;

	gates_for(devel, &res);
	it = (struct report_item){"devel", devel, &res, NULL};
	report_markdown(&it, 1, 0, &sb);
	CHECK(starts_with(sb.buf, "## devel: **FAIL**\n"), "a heading with the verdict");
	CHECK(strstr(sb.buf, "| size | compressed | layers | files | base | own | wasted |\n"
			     "|---:|---:|---:|---:|---|---:|---:|\n| 2.70 GB | 1.20 GB | 7 |"),
	      "the summary table");
	CHECK(strstr(sb.buf, "| status | kind | gate | message |\n|---|---|---|---|\n| **fail** |"),
	      "the gates table, failures first");
	CHECK(strstr(sb.buf, "400MB \\<&\"'\\> |"), "table cells escape markup");
	CHECK(strstr(sb.buf, "### Biggest layers\n") && strstr(sb.buf, "### Biggest packages\n") &&
		  strstr(sb.buf, "### Wasted\n") && strstr(sb.buf, "### Duplicate libraries\n") &&
		  strstr(sb.buf, "### Missing libraries\n"),
	      "tables of layers, packages, waste, duplicates, missing libraries");
	CHECK(strstr(sb.buf, "RUN useradd app \\| tee \\<log\\> & echo \"done\""),
	      "a pipe in a cell does not break the table");
	strbuf_release(&sb);
	vec_release(&res);
	json_decref(devel);
}

static void test_human(void)
{
	json_t *devel = json_load_file("tests/data/reports/devel.json", 0, NULL);
	struct vec res = VEC_INIT(gate_result_free);
	struct strbuf sb = STRBUF_INIT;
	struct report_item it;
	const char *fail, *pass, *layers, *pkgs, *wasted, *dups, *missing, *l0, *l1, *p0, *p1;

	gates_for(devel, &res);
	it = (struct report_item){"devel", devel, &res, NULL};
	report_human(&it, 3, &sb);
	fail = strstr(sb.buf, "  FAIL  ");
	pass = strstr(sb.buf, "  pass  ");
	layers = strstr(sb.buf, "biggest layers:");
	pkgs = strstr(sb.buf, "biggest packages:");
	wasted = strstr(sb.buf, "wasted (");
	dups = strstr(sb.buf, "duplicate libraries");
	missing = strstr(sb.buf, "missing libraries:");
	CHECK(starts_with(sb.buf, "== devel: FAIL\nsize 2.70 GB, compressed 1.20 GB, 7 layers"),
	      "the header: verdict, sizes human-readable");
	CHECK(fail && pass && fail < pass && pass < layers && layers < pkgs && pkgs < wasted &&
		  wasted < dups && dups < missing,
	      "worst first: failing gates, passes, layers, packages, wasted, duplicates, missing");
	l0 = strstr(sb.buf, "80.0 MB  #0");
	l1 = strstr(sb.buf, "36.0 MB  #1");
	CHECK(l0 && l1 && l0 < l1 && !strstr(sb.buf, "#2 "), "layers biggest first, --top 3 cut");
	p0 = strstr(sb.buf, "cuda-cudart-13-0");
	p1 = strstr(sb.buf, "coreutils");
	CHECK(p0 && p1 && p0 < p1, "packages biggest first");
	CHECK(strstr(sb.buf, "usr/local/bin/tool needs libfoo.so.1 via DT_NEEDED"),
	      "missing libraries named");
	CHECK(strstr(sb.buf, "gates: 8 passed, 4 failed, 2 warnings, 1 skipped"), "gate counts");
	strbuf_release(&sb);
	vec_release(&res);
	json_decref(devel);
}

/* Bytes that are not UTF-8 in what a report shows but did not get from the
 * JSON (a gate's name and message, an image name): \xNN everywhere, and a
 * cut cell never splits a character. */
static void test_bad_bytes(void)
{
	struct vec res = VEC_INIT(gate_result_free);
	struct strbuf human = STRBUF_INIT, junit = STRBUF_INIT, md = STRBUF_INIT,
		      long_name = STRBUF_INIT;
	struct report_item it;
	struct gate_result *g;
	char *v;

	g = gate_add(&res, GATE_SMOKE, "smoke ap\xffp", GATE_FAIL, "'/usr/bin/ap\xffp' failed");
	g->output = xstrdup("vadd: \x01 CUDA \xff\xfe error ]]> & done\n");
	for (int i = 0; i < 199; i++)
		strbuf_addch(&long_name, 'a');
	strbuf_addstr(&long_name, "\xc3\xa9 and more");
	it = (struct report_item){"img\xfe", NULL, &res, NULL};
	report_human(&it, 0, &human);
	CHECK(strstr(human.buf, "== img\\xfe: FAIL") && strstr(human.buf, "smoke ap\\xffp") &&
		  strstr(human.buf, "'/usr/bin/ap\\xffp' failed") && utf8_valid(human.buf),
	      "the text summary: each bad byte as \\xNN");
	report_junit(&it, 1, &junit);
	v = junit_check(junit.buf);
	CHECK(!starts_with(v, "ERROR") &&
		  strstr(v, "smoke ap\\xffp failure '/usr/bin/ap\\xffp' failed"),
	      "JUnit parses and keeps the escaped names: %s", v);
	CHECK(strstr(junit.buf, "CUDA \\xff\\xfe error ]]&gt; &amp; done"),
	      "JUnit: a child's output escaped the same way");
	free(v);
	it.name = long_name.buf;
	report_markdown(&it, 1, 0, &md);
	CHECK(strstr(md.buf, "| smoke ap\\xffp | '/usr/bin/ap\\xffp' failed |"),
	      "Markdown: the gate's cells escaped");
	CHECK(utf8_valid(md.buf) && strstr(md.buf, "a\xc3\xa9..."),
	      "Markdown: a cut never splits a character");
	{
		json_t *j = gate_results_to_json(&res);

		CHECK_STR(json_string_value(json_object_get(json_array_get(j, 0), "message")),
			  "'/usr/bin/ap\\xffp' failed", "the gates' JSON: the message escaped");
		json_decref(j);
	}
	strbuf_release(&human);
	strbuf_release(&junit);
	strbuf_release(&md);
	strbuf_release(&long_name);
	vec_release(&res);
}

/* A cell whose gating stopped with an error after some gates passed: its
 * heading says so, never "pass". */
static void test_error_verdict(void)
{
	struct vec res = VEC_INIT(gate_result_free);
	struct strbuf sb = STRBUF_INIT;
	struct report_item it;

	gate_add(&res, GATE_SMOKE, "smoke program-starts", GATE_PASS, "passed in 0.3s");
	it = (struct report_item){"cell", NULL, &res, "gating stopped: docker save interrupted"};
	report_human(&it, 0, &sb);
	CHECK(starts_with(sb.buf, "== cell: ERROR\nerror: gating stopped"),
	      "text: an error with passed gates is ERROR (%.40s)", sb.buf);
	strbuf_reset(&sb);
	report_markdown(&it, 1, 0, &sb);
	CHECK(strstr(sb.buf, "## cell: **ERROR**\n") && !strstr(sb.buf, ": pass"),
	      "markdown: an error with passed gates is **ERROR**");
	strbuf_release(&sb);
	vec_release(&res);
}

int main(void)
{
	test_junit();
	test_bad_bytes();
	test_markdown();
	test_human();
	test_error_verdict();
	return unit_done();
}
