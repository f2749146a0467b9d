#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gate.h"
#include "core/report.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/utf8.h"

/* ---- reading the report ------------------------------------------------ */

static const char *rp_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static long long rp_int(const json_t *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static const char *rp_size(char *buf, size_t n, long long bytes)
{
	if (bytes < 0)
		snprintf(buf, n, "?");
	else
		gate_human_size(buf, n, bytes);
	return buf;
}

/* Gate order for reading: failures, warnings, skips, passes; stable. */
static void rp_sorted_gates(const struct vec *gates, struct vec *out)
{
	static const enum gate_status order[] = {GATE_FAIL, GATE_WARN, GATE_SKIP, GATE_PASS};

	vec_init(out, NULL);
	for (size_t k = 0; gates && k < 4; k++)
		for (size_t i = 0; i < gates->nr; i++)
			if (((struct gate_result *)gates->items[i])->status == order[k])
				vec_push(out, gates->items[i]);
}

/* Indexes of the `top` biggest entries of `arr` by `key`, biggest first. */
static size_t rp_biggest(const json_t *arr, const char *key, size_t top, size_t *idx)
{
	size_t n = 0, i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		long long b = rp_int(v, key, 0);
		size_t at = n;

		while (at > 0 && rp_int(json_array_get(arr, idx[at - 1]), key, 0) < b)
			at--;
		if (at >= top)
			continue;
		if (n < top)
			n++;
		memmove(idx + at + 1, idx + at, (n - 1 - at) * sizeof(*idx));
		idx[at] = i;
	}
	return n;
}

/* One line of `s`, cut to `max` bytes (never inside a character), for a
 * table cell; a byte that is not UTF-8 is \xNN (util/utf8.h). */
static void rp_oneline(struct strbuf *out, const char *s, size_t max, int md)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	while (*p && n < max) {
		size_t len = utf8_seq_len(p);

		if (!len) {
			strbuf_addf(out, "\\x%02x", *p++);
			n += 4;
		} else if (*p == '\n' || *p == '\r' || *p == '\t') {
			strbuf_addch(out, ' ');
		} else if (md && (*p == '|' || *p == '`' || *p == '<' || *p == '>' || *p == '*' ||
				  *p == '_' || *p == '[')) {
			strbuf_addf(out, "\\%c", *p);
		} else {
			strbuf_add(out, p, len);
		}
		if (len) {
			p += len;
			n += len;
		}
	}
	if (*p)
		strbuf_addstr(out, "...");
}

/* Text that did not come out of a report (a gate's message, an error, an
 * image name), escaped as util/utf8.h says. */
static void rp_text(struct strbuf *out, const char *s)
{
	utf8_escape(out, s ? s : "");
}

/* ---- the human summary ----------------------------------------------- */

static void rp_header(const json_t *r, struct strbuf *out)
{
	const json_t *s = json_object_get(r, "summary"), *base = json_object_get(s, "base");
	char a[32], b[32], c[32], d[32];
	long long comp = rp_int(s, "compressed_size", -1);

	strbuf_addf(out, "size %s", rp_size(a, sizeof(a), rp_int(s, "size", -1)));
	if (comp >= 0)
		strbuf_addf(out, ", compressed %s", rp_size(b, sizeof(b), comp));
	strbuf_addf(out, ", %lld layers, %lld files\n", rp_int(s, "layers", 0),
		    rp_int(s, "files", 0));
	strbuf_addf(out, "base %s (%lld layers, matched by %s): %s; own layers: %s\n",
		    json_is_string(json_object_get(base, "name")) ? rp_str(base, "name")
								  : "unknown",
		    rp_int(base, "layers", 0), rp_str(base, "matched_by"),
		    rp_size(a, sizeof(a), rp_int(s, "base_bytes", -1)),
		    rp_size(b, sizeof(b), rp_int(s, "own_bytes", -1)));
	strbuf_addf(out, "wasted %s, owned by no package %s\n",
		    rp_size(c, sizeof(c), rp_int(s, "wasted_bytes", -1)),
		    rp_size(d, sizeof(d), rp_int(s, "unowned_bytes", -1)));
}

/* An item's verdict in its heading: an error (gating stopped, the image
 * unreadable) is never "pass", whatever gates ran before it. */
static const char *rp_verdict(const struct report_item *it, const char *error, const char *fail)
{
	if (it->error)
		return error;
	return gate_failed(it->gates) ? fail : "pass";
}

void report_human(const struct report_item *it, size_t top, struct strbuf *out)
{
	const json_t *r = it->report;
	struct vec sorted;
	size_t *idx, n, i;
	char a[32];
	json_t *arr, *v;

	if (!top)
		top = REPORT_DEFAULT_TOP;
	idx = xcalloc(top, sizeof(*idx));
	strbuf_addstr(out, "== ");
	rp_text(out, it->name);
	if (it->gates || it->error)
		strbuf_addf(out, ": %s", rp_verdict(it, "ERROR", "FAIL"));
	strbuf_addch(out, '\n');
	if (it->error) {
		strbuf_addstr(out, "error: ");
		rp_text(out, it->error);
		strbuf_addch(out, '\n');
	}
	if (r)
		rp_header(r, out);

	rp_sorted_gates(it->gates, &sorted);
	if (sorted.nr) {
		strbuf_addf(out, "\ngates: %zu passed, %zu failed, %zu warnings, %zu skipped\n",
			    gate_count(it->gates, GATE_PASS), gate_count(it->gates, GATE_FAIL),
			    gate_count(it->gates, GATE_WARN), gate_count(it->gates, GATE_SKIP));
		for (i = 0; i < sorted.nr; i++) {
			const struct gate_result *g = sorted.items[i];
			struct strbuf name = STRBUF_INIT, msg = STRBUF_INIT;

			rp_text(&name, g->name);
			rp_text(&msg, g->message);
			strbuf_addf(out, "  %-4s  %-7s %-26s %s\n",
				    g->status == GATE_FAIL ? "FAIL" : gate_status_name(g->status),
				    gate_kind_name(g->kind), name.buf, msg.buf);
			strbuf_release(&name);
			strbuf_release(&msg);
		}
	}
	vec_release(&sorted);
	if (!r)
		goto done;

	arr = json_object_get(r, "layers");
	if ((n = rp_biggest(arr, "size", top, idx))) {
		strbuf_addstr(out, "\nbiggest layers:\n");
		for (i = 0; i < n; i++) {
			v = json_array_get(arr, idx[i]);
			strbuf_addf(out, "  %10s  #%-3lld %-4s ",
				    rp_size(a, sizeof(a), rp_int(v, "size", 0)),
				    rp_int(v, "index", 0),
				    json_is_true(json_object_get(v, "base")) ? "base" : "own");
			rp_oneline(out, rp_str(v, "created_by"), 100, 0);
			strbuf_addch(out, '\n');
		}
	}
	arr = json_object_get(r, "packages");
	if ((n = rp_biggest(arr, "bytes", top, idx))) {
		strbuf_addstr(out, "\nbiggest packages:\n");
		for (i = 0; i < n; i++) {
			v = json_array_get(arr, idx[i]);
			strbuf_addf(out, "  %10s  %-4s %s %s\n",
				    rp_size(a, sizeof(a), rp_int(v, "bytes", 0)),
				    rp_str(v, "manager"), rp_str(v, "name"), rp_str(v, "version"));
		}
	}
	arr = json_object_get(r, "wasted");
	if ((n = rp_biggest(arr, "bytes", top, idx))) {
		strbuf_addstr(out, "\nwasted (written, then overwritten or deleted):\n");
		for (i = 0; i < n; i++) {
			v = json_array_get(arr, idx[i]);
			strbuf_addf(out, "  %10s  %s (layer %lld, %s by layer %lld)\n",
				    rp_size(a, sizeof(a), rp_int(v, "bytes", 0)), rp_str(v, "path"),
				    rp_int(v, "layer", 0), rp_str(v, "reason"),
				    rp_int(v, "by_layer", 0));
		}
	}
	arr = json_object_get(json_object_get(r, "cuda"), "duplicates");
	if ((n = rp_biggest(arr, "bytes", top, idx))) {
		strbuf_addstr(out, "\nduplicate libraries (same soname and version):\n");
		for (i = 0; i < n; i++) {
			json_t *p;
			size_t k;

			v = json_array_get(arr, idx[i]);
			strbuf_addf(out,
				    "  %10s  %s %s:", rp_size(a, sizeof(a), rp_int(v, "bytes", 0)),
				    rp_str(v, "soname"), rp_str(v, "version"));
			json_array_foreach(json_object_get(v, "paths"), k, p) strbuf_addf(
			    out, " %s", json_string_value(p) ? json_string_value(p) : "");
			strbuf_addch(out, '\n');
		}
	}
	arr = json_object_get(json_object_get(r, "closure"), "missing");
	if (json_array_size(arr)) {
		strbuf_addstr(out, "\nmissing libraries:\n");
		json_array_foreach(arr, i, v)
		{
			if (i >= top) {
				strbuf_addf(out, "  ... and %zu more\n",
					    json_array_size(arr) - top);
				break;
			}
			strbuf_addf(out, "  %s needs %s%s%s\n", rp_str(v, "file"),
				    rp_str(v, "needed"), *rp_str(v, "via") ? " via " : "",
				    rp_str(v, "via"));
		}
	}
	arr = json_object_get(json_object_get(r, "closure"), "driver_in_image");
	if (json_array_size(arr)) {
		strbuf_addstr(
		    out, "\ndriver libraries inside the image (they must come from the host):\n");
		json_array_foreach(arr, i, v)
		    strbuf_addf(out, "  %10s  %s\n", rp_size(a, sizeof(a), rp_int(v, "bytes", 0)),
				rp_str(v, "path"));
	}
done:
	free(idx);
}

/* ---- JUnit --------------------------------------------------------------- */

/* Text for an XML attribute or element: escaped, only XML 1.0 characters
 * (util/utf8.h). */
static void rp_xml(struct strbuf *out, const char *s)
{
	utf8_escape_markup(out, s, UTF8_MARKUP_XML);
}

static void rp_junit_item(const struct report_item *it, struct strbuf *out)
{
	size_t tests = 0, failures = 0, skipped = 0;
	double secs = 0;

	if (it->gates) {
		tests = it->gates->nr;
		failures = gate_count(it->gates, GATE_FAIL);
		skipped = gate_count(it->gates, GATE_SKIP);
		for (size_t i = 0; i < it->gates->nr; i++)
			secs += ((struct gate_result *)it->gates->items[i])->seconds;
	}
	if (it->error && !tests)
		tests = failures = 1;
	strbuf_addstr(out, "  <testsuite name=\"");
	rp_xml(out, it->name);
	strbuf_addf(out,
		    "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" "
		    "time=\"%.3f\">\n",
		    tests, failures, skipped, secs);
	if (it->error && (!it->gates || !it->gates->nr)) {
		strbuf_addstr(out, "    <testcase classname=\"gpuslim.analyze\" name=\"analyze\" "
				   "time=\"0\">\n      <failure message=\"");
		rp_xml(out, it->error);
		strbuf_addstr(out, "\" type=\"error\"/>\n    </testcase>\n");
	}
	for (size_t i = 0; it->gates && i < it->gates->nr; i++) {
		const struct gate_result *g = it->gates->items[i];

		strbuf_addf(out, "    <testcase classname=\"gpuslim.%s\" name=\"",
			    gate_kind_name(g->kind));
		rp_xml(out, g->name);
		strbuf_addf(out, "\" time=\"%.3f\">\n", g->seconds);
		if (g->status == GATE_FAIL) {
			strbuf_addstr(out, "      <failure message=\"");
			rp_xml(out, g->message);
			strbuf_addf(out, "\" type=\"%s\">", gate_kind_name(g->kind));
			rp_xml(out, g->message);
			strbuf_addstr(out, "</failure>\n");
		} else if (g->status == GATE_SKIP) {
			strbuf_addstr(out, "      <skipped message=\"");
			rp_xml(out, g->message);
			strbuf_addstr(out, "\"/>\n");
		}
		if (g->status == GATE_WARN || g->status == GATE_PASS || g->output) {
			strbuf_addstr(out, "      <system-out>");
			rp_xml(out, g->status == GATE_WARN ? "warning: " : "");
			rp_xml(out, g->message);
			if (g->output) {
				rp_xml(out, "\n--- output ---\n");
				rp_xml(out, g->output);
			}
			strbuf_addstr(out, "</system-out>\n");
		}
		strbuf_addstr(out, "    </testcase>\n");
	}
	strbuf_addstr(out, "  </testsuite>\n");
}

void report_junit(const struct report_item *items, size_t n, struct strbuf *out)
{
	size_t tests = 0, failures = 0, skipped = 0;

	for (size_t i = 0; i < n; i++) {
		size_t t = items[i].gates ? items[i].gates->nr : 0;

		if (items[i].error && !t) {
			tests++;
			failures++;
			continue;
		}
		tests += t;
		if (items[i].gates) {
			failures += gate_count(items[i].gates, GATE_FAIL);
			skipped += gate_count(items[i].gates, GATE_SKIP);
		}
	}
	strbuf_addstr(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	strbuf_addf(out,
		    "<testsuites name=\"gpuslim\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
		    "skipped=\"%zu\">\n",
		    tests, failures, skipped);
	for (size_t i = 0; i < n; i++)
		rp_junit_item(&items[i], out);
	strbuf_addstr(out, "</testsuites>\n");
}

/* ---- Markdown ------------------------------------------------------------ */

static void rp_md_cell(struct strbuf *out, const char *s, size_t max)
{
	strbuf_addstr(out, " ");
	rp_oneline(out, s, max, 1);
	strbuf_addstr(out, " |");
}

static void rp_md_item(const struct report_item *it, size_t top, struct strbuf *out)
{
	const json_t *r = it->report, *s = json_object_get(r, "summary");
	struct vec sorted;
	size_t *idx = xcalloc(top, sizeof(*idx)), n, i;
	char a[32], b[32];
	json_t *arr, *v;

	strbuf_addstr(out, "## ");
	rp_oneline(out, it->name, 200, 1);
	if (it->gates || it->error)
		strbuf_addf(out, ": %s", rp_verdict(it, "**ERROR**", "**FAIL**"));
	strbuf_addstr(out, "\n\n");
	if (it->error) {
		strbuf_addstr(out, "**error:** ");
		rp_oneline(out, it->error, 500, 1);
		strbuf_addstr(out, "\n\n");
	}
	if (r) {
		long long comp = rp_int(s, "compressed_size", -1);
		const json_t *base = json_object_get(s, "base");

		strbuf_addstr(out, "| size | compressed | layers | files | base | own | wasted |\n"
				   "|---:|---:|---:|---:|---|---:|---:|\n");
		strbuf_addf(out, "| %s |", rp_size(a, sizeof(a), rp_int(s, "size", -1)));
		strbuf_addf(out, " %s | %lld | %lld |",
			    comp >= 0 ? rp_size(b, sizeof(b), comp) : "n/a", rp_int(s, "layers", 0),
			    rp_int(s, "files", 0));
		rp_md_cell(out,
			   json_is_string(json_object_get(base, "name")) ? rp_str(base, "name")
									 : "unknown",
			   100);
		strbuf_addf(out, " %s |", rp_size(a, sizeof(a), rp_int(s, "own_bytes", -1)));
		strbuf_addf(out, " %s |\n\n", rp_size(a, sizeof(a), rp_int(s, "wasted_bytes", -1)));
	}
	rp_sorted_gates(it->gates, &sorted);
	if (sorted.nr) {
		strbuf_addf(out, "### Gates: %zu passed, %zu failed, %zu warnings, %zu skipped\n\n",
			    gate_count(it->gates, GATE_PASS), gate_count(it->gates, GATE_FAIL),
			    gate_count(it->gates, GATE_WARN), gate_count(it->gates, GATE_SKIP));
		strbuf_addstr(out, "| status | kind | gate | message |\n|---|---|---|---|\n");
		for (i = 0; i < sorted.nr; i++) {
			const struct gate_result *g = sorted.items[i];

			strbuf_addf(out, "| %s | %s |",
				    g->status == GATE_FAIL ? "**fail**"
							   : gate_status_name(g->status),
				    gate_kind_name(g->kind));
			rp_md_cell(out, g->name, 100);
			rp_md_cell(out, g->message, 300);
			strbuf_addch(out, '\n');
		}
		strbuf_addch(out, '\n');
	}
	vec_release(&sorted);
	if (!r)
		goto done;
	arr = json_object_get(r, "layers");
	if ((n = rp_biggest(arr, "size", top, idx))) {
		strbuf_addstr(out, "### Biggest layers\n\n| # | size | base | created by |\n"
				   "|---:|---:|---|---|\n");
		for (i = 0; i < n; i++) {
			v = json_array_get(arr, idx[i]);
			strbuf_addf(out, "| %lld | %s | %s |", rp_int(v, "index", 0),
				    rp_size(a, sizeof(a), rp_int(v, "size", 0)),
				    json_is_true(json_object_get(v, "base")) ? "yes" : "no");
			rp_md_cell(out, rp_str(v, "created_by"), 100);
			strbuf_addch(out, '\n');
		}
		strbuf_addch(out, '\n');
	}
	arr = json_object_get(r, "packages");
	if ((n = rp_biggest(arr, "bytes", top, idx))) {
		strbuf_addstr(out,
			      "### Biggest packages\n\n| package | manager | version | size |\n"
			      "|---|---|---|---:|\n");
		for (i = 0; i < n; i++) {
			v = json_array_get(arr, idx[i]);
			strbuf_addstr(out, "|");
			rp_md_cell(out, rp_str(v, "name"), 100);
			rp_md_cell(out, rp_str(v, "manager"), 10);
			rp_md_cell(out, rp_str(v, "version"), 60);
			strbuf_addf(out, " %s |\n", rp_size(a, sizeof(a), rp_int(v, "bytes", 0)));
		}
		strbuf_addch(out, '\n');
	}
	arr = json_object_get(r, "wasted");
	if ((n = rp_biggest(arr, "bytes", top, idx))) {
		strbuf_addstr(out, "### Wasted\n\n| path | size | layer | by layer | reason |\n"
				   "|---|---:|---:|---:|---|\n");
		for (i = 0; i < n; i++) {
			v = json_array_get(arr, idx[i]);
			strbuf_addstr(out, "|");
			rp_md_cell(out, rp_str(v, "path"), 200);
			strbuf_addf(out, " %s | %lld | %lld | %s |\n",
				    rp_size(a, sizeof(a), rp_int(v, "bytes", 0)),
				    rp_int(v, "layer", 0), rp_int(v, "by_layer", 0),
				    rp_str(v, "reason"));
		}
		strbuf_addch(out, '\n');
	}
	arr = json_object_get(json_object_get(r, "cuda"), "duplicates");
	if ((n = rp_biggest(arr, "bytes", top, idx))) {
		strbuf_addstr(
		    out, "### Duplicate libraries\n\n| soname | version | copies | extra bytes |\n"
			 "|---|---|---|---:|\n");
		for (i = 0; i < n; i++) {
			struct strbuf paths = STRBUF_INIT;
			json_t *p;
			size_t k;

			v = json_array_get(arr, idx[i]);
			json_array_foreach(json_object_get(v, "paths"), k, p)
			    strbuf_addf(&paths, "%s%s", k ? ", " : "",
					json_string_value(p) ? json_string_value(p) : "");
			strbuf_addstr(out, "|");
			rp_md_cell(out, rp_str(v, "soname"), 100);
			rp_md_cell(out, rp_str(v, "version"), 40);
			rp_md_cell(out, paths.buf, 400);
			strbuf_addf(out, " %s |\n", rp_size(a, sizeof(a), rp_int(v, "bytes", 0)));
			strbuf_release(&paths);
		}
		strbuf_addch(out, '\n');
	}
	arr = json_object_get(json_object_get(r, "closure"), "missing");
	if (json_array_size(arr)) {
		strbuf_addstr(out,
			      "### Missing libraries\n\n| file | needs | via |\n|---|---|---|\n");
		json_array_foreach(arr, i, v)
		{
			if (i >= top)
				break;
			strbuf_addstr(out, "|");
			rp_md_cell(out, rp_str(v, "file"), 200);
			rp_md_cell(out, rp_str(v, "needed"), 100);
			rp_md_cell(out, rp_str(v, "via"), 20);
			strbuf_addch(out, '\n');
		}
		strbuf_addch(out, '\n');
	}
done:
	free(idx);
}

void report_markdown(const struct report_item *items, size_t n, size_t top, struct strbuf *out)
{
	if (!top)
		top = REPORT_DEFAULT_TOP;
	for (size_t i = 0; i < n; i++)
		rp_md_item(&items[i], top, out);
}

int report_write(const char *path, const struct strbuf *sb, unsigned flags)
{
	if (fs_write_output(path, sb->buf, sb->len, flags) < 0)
		return error_setc(GS_EINFRA, "%s", error_last());
	return 0;
}
