/*
 * core/refresh: how the plugin files are written (one entry per line,
 * the rest wrapped at 100 columns, byte-stable), the line diff --diff
 * prints, and that every built-in plugin file is already in that form (a
 * first refresh then changes facts only, not layout).
 */
#include <stdlib.h>
#include <string.h>

#include "core/knowledge.h"
#include "core/refresh.h"
#include "unit.h"
#include "util/fs.h"

static void test_format(void)
{
	json_t *doc = json_pack(
	    "{s:i,s:[{s:s,s:[i,i],s:s}],s:{s:[s,s]},s:[]}", "schema_version", 1, "releases",
	    "version", "13.0.2", "require_branches", 535, 550, "notes",
	    "a note long enough that the line goes well past one hundred columns of text, "
	    "which a record may",
	    "os", "debian12", "base", "runtime", "empty");
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

	refresh_format(doc, &a);
	CHECK_STR(a.buf,
		  "{\n"
		  "  \"schema_version\": 1,\n"
		  "  \"releases\": [\n"
		  "    {\"version\": \"13.0.2\", \"require_branches\": [535, 550], \"notes\": \"a "
		  "note long enough that the line goes well past one hundred columns of text, "
		  "which a record may\"}\n"
		  "  ],\n"
		  "  \"os\": {\"debian12\": [\"base\", \"runtime\"]},\n"
		  "  \"empty\": []\n"
		  "}\n",
		  "a record on one line, the rest wrapped at 100 columns, empty lists inline");
	refresh_format(doc, &b);
	CHECK(a.len == b.len && !memcmp(a.buf, b.buf, a.len), "the same document, the same bytes");
	json_decref(doc);
	strbuf_release(&a);
	strbuf_release(&b);
}

static void test_diff(void)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT, d = STRBUF_INIT;

	strbuf_addstr(&a, "one\ntwo\nthree\nfour\n");
	strbuf_addstr(&b, "one\nthree\nfour\nfive\n");
	refresh_diff("x.json", &a, &a, &d);
	CHECK(d.len == 0, "equal files: no diff");
	refresh_diff("x.json", &a, &b, &d);
	CHECK_STR(d.buf, "--- a/x.json\n+++ b/x.json\n-two\n+five\n",
		  "a removed and an added line, headers first");
	strbuf_release(&a);
	strbuf_release(&b);
	strbuf_release(&d);
}

/* Every built-in file refresh rewrites reads back into the same bytes. */
static void test_builtin_layout(void)
{
	static const char *const files[] = {"cuda.json", "bases.json", "frameworks.json", "os.json",
					    "libraries.json"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *path = fs_join(knowledge_builtin_dir(), files[i]);
		struct strbuf bytes = STRBUF_INIT, out = STRBUF_INIT;
		json_error_t jerr;
		json_t *doc;

		if (fs_read_file(path, &bytes, 0) < 0) {
			CHECK(0, "read %s", path);
			free(path);
			continue;
		}
		doc = json_loadb(bytes.buf, bytes.len, 0, &jerr);
		if (doc)
			refresh_format(doc, &out);
		CHECK(doc && out.len == bytes.len && !memcmp(out.buf, bytes.buf, out.len),
		      "plugins/%s is in the layout refresh writes", files[i]);
		json_decref(doc);
		strbuf_release(&bytes);
		strbuf_release(&out);
		free(path);
	}
}

int main(void)
{
	/* Run from the source tree (tests/run.sh), as test_plan is. */
	if (!getenv("GPUSLIM_PLUGIN_DIR"))
		setenv("GPUSLIM_PLUGIN_DIR", "plugins", 1);
	test_format();
	test_diff();
	test_builtin_layout();
	return unit_done();
}
