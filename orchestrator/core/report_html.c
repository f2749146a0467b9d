/*
 * The HTML page of a report (core/report.h): one self-contained file, the
 * data as JSON in a <script type="application/json"> element, drawn by the
 * inline script of report_html.js (treemap, tables, budget bars) with the
 * style of report_html.css. Nothing is fetched: no network, no font.
 *
 * Escaping: the report's strings are UTF-8 already (a byte of the image
 * that is not is \xNN, util/utf8.h); the JSON is written with '<', '>'
 * and '&' as \u003c, \u003e, \u0026, so no name closes the script
 * element; the script puts text into the page only through textContent
 * and setAttribute. The little HTML written here goes through html_text().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gate.h"
#include "core/report.h"
#include "util/utf8.h"

static const char html_js[] =
#include "report_html_js.h"
    ;
static const char html_css[] =
#include "report_html_css.h"
    ;

/* Text for HTML (util/utf8.h): escaped, control characters '?'. */
static void html_text(struct strbuf *out, const char *s)
{
	utf8_escape_markup(out, s, UTF8_MARKUP_HTML);
}

/* `data` as JSON safe inside a <script> element. */
static int html_json(struct strbuf *out, const json_t *data)
{
	char *s = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (!s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p == '<')
			strbuf_addstr(out, "\\u003c");
		else if (*p == '>')
			strbuf_addstr(out, "\\u003e");
		else if (*p == '&')
			strbuf_addstr(out, "\\u0026");
		else
			strbuf_addch(out, *p);
	}
	free(s);
	return 0;
}

static void html_head(struct strbuf *out, const char *title)
{
	strbuf_addstr(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
			   "<meta name=\"viewport\" content=\"width=device-width\">\n"
			   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
			   "'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'\">\n"
			   "<title>");
	html_text(out, title);
	strbuf_addstr(out, " \xe2\x80\x94 gpuslim</title>\n<style>\n");
	strbuf_addstr(out, html_css);
	strbuf_addstr(out, "</style></head>\n<body>\n");
}

static int html_page(struct strbuf *out, const char *title, const json_t *data)
{
	html_head(out, title);
	strbuf_addstr(out, "<div id=\"main\"></div>\n"
			   "<script type=\"application/json\" id=\"gpuslim-data\">");
	if (html_json(out, data) < 0)
		return -1;
	strbuf_addstr(out, "</script>\n<script>\n");
	strbuf_addstr(out, html_js);
	strbuf_addstr(
	    out, "</script>\n<noscript>This page draws its content with JavaScript.</noscript>\n"
		 "</body></html>\n");
	return 0;
}

const char *report_verdict(const struct report_item *it)
{
	int fail = 0, warn = 0;

	if (it->error)
		return "error";
	if (!it->gates)
		return NULL;
	for (size_t i = 0; i < it->gates->nr; i++) {
		const struct gate_result *g = it->gates->items[i];

		fail |= g->status == GATE_FAIL;
		warn |= g->status == GATE_WARN;
	}
	return fail ? "fail" : warn ? "warn" : "pass";
}

static json_t *html_gates(const struct vec *gates)
{
	json_t *arr = json_array();

	for (size_t i = 0; gates && i < gates->nr; i++) {
		const struct gate_result *g = gates->items[i];

		json_array_append_new(
		    arr, json_pack("{s:o,s:s,s:s,s:o,s:o,s:o}", "name", utf8_json_string(g->name),
				   "kind", gate_kind_name(g->kind), "status",
				   gate_status_name(g->status), "message",
				   utf8_json_string(g->message ? g->message : ""), "limit",
				   g->has_limit ? json_integer(g->limit) : json_null(), "value",
				   g->has_value ? json_integer(g->value) : json_null()));
	}
	return arr;
}

int report_html(const struct report_item *it, struct strbuf *out)
{
	const char *verdict = report_verdict(it);
	json_t *item = json_pack("{s:o,s:O?,s:o,s:o,s:o}", "name", utf8_json_string(it->name),
				 "report", it->report, "gates", html_gates(it->gates), "error",
				 it->error ? utf8_json_string(it->error) : json_null(), "verdict",
				 verdict ? json_string(verdict) : json_null());
	json_t *data = item ? json_pack("{s:s,s:o}", "page", "report", "item", item) : NULL;
	int ret;

	if (!data)
		return error_setc(GS_ERR, "cannot build the HTML page of '%s'", it->name);
	ret = html_page(out, it->name, data);
	json_decref(data);
	return ret < 0 ? error_setc(GS_ERR, "cannot encode the HTML page of '%s'", it->name) : 0;
}

void report_html_index(const struct report_item *items, const char *const *pages, size_t n,
		       struct strbuf *out)
{
	html_head(out, "gpuslim build");
	strbuf_addstr(out, "<div id=\"main\"><header><h1>gpuslim: ");
	strbuf_addf(out,
		    "%zu images</h1></header>\n<table><thead><tr><th>cell</th><th>verdict</th>"
		    "<th>size</th><th>wasted</th><th>gates failed</th></tr></thead><tbody>\n",
		    n);
	for (size_t i = 0; i < n; i++) {
		const struct report_item *it = &items[i];
		const char *verdict = report_verdict(it);
		const json_t *s = it->report ? json_object_get(it->report, "summary") : NULL;
		char size[64] = "?", wasted[64] = "?";
		size_t failed = 0;

		if (json_is_integer(json_object_get(s, "size")))
			gate_human_size(size, sizeof(size),
					json_integer_value(json_object_get(s, "size")));
		if (json_is_integer(json_object_get(s, "wasted_bytes")))
			gate_human_size(wasted, sizeof(wasted),
					json_integer_value(json_object_get(s, "wasted_bytes")));
		for (size_t k = 0; it->gates && k < it->gates->nr; k++)
			failed += ((struct gate_result *)it->gates->items[k])->status == GATE_FAIL;
		strbuf_addstr(out, "<tr><td><a href=\"");
		html_text(out, pages[i]);
		strbuf_addstr(out, "\">");
		html_text(out, it->name);
		strbuf_addstr(out, "</a></td><td class=\"s-");
		html_text(out, verdict ? verdict : "info");
		strbuf_addstr(out, "\">");
		html_text(out, verdict ? verdict : "not gated");
		strbuf_addstr(out, "</td><td class=\"n\">");
		html_text(out, size);
		strbuf_addstr(out, "</td><td class=\"n\">");
		html_text(out, wasted);
		strbuf_addf(out, "</td><td class=\"n\">%zu</td></tr>\n", failed);
		if (it->error) {
			strbuf_addstr(out, "<tr><td></td><td colspan=\"4\" class=\"error\">");
			html_text(out, it->error);
			strbuf_addstr(out, "</td></tr>\n");
		}
	}
	strbuf_addstr(out, "</tbody></table></div>\n</body></html>\n");
}

int report_html_diff(const json_t *diff, struct strbuf *out)
{
	json_t *data = json_pack("{s:s,s:O}", "page", "diff", "diff", diff);
	const json_t *a = json_object_get(diff, "a"), *b = json_object_get(diff, "b");
	struct strbuf title = STRBUF_INIT;
	int ret;

	if (!data)
		return error_setc(GS_ERR, "cannot build the HTML page of the diff");
	const char *an = json_string_value(json_object_get(a, "name"));
	const char *bn = json_string_value(json_object_get(b, "name"));

	strbuf_addf(&title, "%s \xe2\x86\x92 %s", an ? an : "?", bn ? bn : "?");
	ret = html_page(out, title.buf, data);
	strbuf_release(&title);
	json_decref(data);
	return ret < 0 ? error_setc(GS_ERR, "cannot encode the HTML page of the diff") : 0;
}
