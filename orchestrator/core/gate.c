#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gate.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/utf8.h"

/* Findings quoted in a rule's message; the report has them all. */
#define GATE_FINDINGS_SHOWN 3
/* Packages named in a growth gate's message; the report's "baseline" has them all. */
#define GATE_GROWERS_SHOWN 5

void gate_result_free(void *p)
{
	struct gate_result *g = p;

	if (!g)
		return;
	free(g->name);
	free(g->message);
	free(g->output);
	free(g);
}

struct gate_result *gate_add(struct vec *results, enum gate_kind kind, const char *name,
			     enum gate_status status, const char *fmt, ...)
{
	struct gate_result *g = xcalloc(1, sizeof(*g));
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	g->name = xstrdup(name);
	g->kind = kind;
	g->status = status;
	g->message = strbuf_detach(&sb, NULL);
	vec_push(results, g);
	return g;
}

const char *gate_kind_name(enum gate_kind k)
{
	static const char *const names[] = {"budget", "rule", "smoke", "growth"};

	return names[k];
}

const char *gate_status_name(enum gate_status s)
{
	static const char *const names[] = {"pass", "fail", "warn", "skip"};

	return names[s];
}

void gate_human_size(char *buf, size_t n, long long bytes)
{
	long long a = bytes < 0 ? -bytes : bytes;
	const char *sign = bytes < 0 ? "-" : "";

	if (a < 1000)
		snprintf(buf, n, "%s%lld B", sign, a);
	else if (a < 1000 * 1000)
		snprintf(buf, n, "%s%.1f kB", sign, (double)a / 1e3);
	else if (a < 1000LL * 1000 * 1000)
		snprintf(buf, n, "%s%.1f MB", sign, (double)a / 1e6);
	else
		snprintf(buf, n, "%s%.2f GB", sign, (double)a / 1e9);
}

/* ---- reading the report ------------------------------------------------ */

/* An integer at obj.key: 1 when present, 0 when null, -1 when absent or not an integer. */
static int gate_jint(const json_t *obj, const char *key, long long *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return -1;
	if (json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return -1;
	*out = (long long)json_integer_value(v);
	return 1;
}

static int gate_summary_int(const json_t *report, const char *key, long long *out)
{
	json_t *summary = json_object_get(report, "summary");
	int ret;

	if (!json_is_object(summary))
		return error_setc(GS_EINVAL, "the report has no 'summary'");
	ret = gate_jint(summary, key, out);
	if (ret < 0)
		return error_setc(GS_EINVAL, "the report's summary has no integer '%s'", key);
	return ret;
}

int gate_path_bytes(const json_t *report, const char *substr, uint64_t *bytes)
{
	json_t *paths = json_object_get(report, "paths"), *p;
	size_t i;

	json_array_foreach(paths, i, p)
	{
		json_t *path = json_object_get(p, "path"), *b = json_object_get(p, "bytes");

		if (json_is_string(path) && !strcmp(json_string_value(path), substr) &&
		    json_is_integer(b) && json_integer_value(b) >= 0) {
			*bytes = (uint64_t)json_integer_value(b);
			return 0;
		}
	}
	return error_setc(GS_ENOTFOUND, "the report has no size for paths containing '%s'", substr);
}

/* ---- budgets ----------------------------------------------------------- */

/* One budget: value <= limit passes. `what` names the quantity in the
 * message ("size", "layers"); sizes print human-readable and exact. */
static void gate_budget(struct vec *results, const char *name, const char *text, long long value,
			long long limit, int is_bytes)
{
	struct gate_result *g;
	char v[32], l[32], d[32];

	if (!is_bytes) {
		if (value <= limit)
			g = gate_add(results, GATE_BUDGET, name, GATE_PASS,
				     "%lld is within the budget of %lld", value, limit);
		else
			g = gate_add(results, GATE_BUDGET, name, GATE_FAIL,
				     "%lld exceeds the budget of %lld by %lld", value, limit,
				     value - limit);
	} else {
		gate_human_size(v, sizeof(v), value);
		gate_human_size(l, sizeof(l), limit);
		gate_human_size(d, sizeof(d), value - limit);
		if (value <= limit)
			g = gate_add(results, GATE_BUDGET, name, GATE_PASS,
				     "%s (%lld bytes) is within the budget of %s (%lld bytes)", v,
				     value, text ? text : l, limit);
		else
			g = gate_add(results, GATE_BUDGET, name, GATE_FAIL,
				     "%s (%lld bytes) exceeds the budget of %s (%lld bytes) by %s "
				     "(%lld bytes)",
				     v, value, text ? text : l, limit, d, value - limit);
	}
	g->has_limit = g->has_value = 1;
	g->limit = limit;
	g->value = value;
}

int gate_check_baseline(const json_t *baseline)
{
	json_t *summary = json_object_get(baseline, "summary");
	json_t *size = json_object_get(summary, "size");

	if (!json_is_object(baseline) || !json_is_object(summary))
		return error_setc(GS_EINVAL, "not a gpuslim report (no \"summary\")");
	if (!json_is_integer(size))
		return error_setc(GS_EINVAL, "summary.size: %s, want a size in bytes",
				  size ? "not an integer" : "missing");
	if (json_integer_value(size) < 0)
		return error_setc(GS_EINVAL, "summary.size: %lld, want a size in bytes (0 or more)",
				  (long long)json_integer_value(size));
	return 0;
}

/* ---- growth against a baseline ------------------------------------------ */

/* A package's bytes before and after; before < 0: new, after < 0: removed. */
struct gate_pkg_growth {
	const char *manager, *name;
	long long before, after, grew;
	int over; /* beyond budgets.growth.package */
};

static int gate_pkg_cmp(const void *a, const void *b)
{
	const struct gate_pkg_growth *x = a, *y = b;
	int c;

	if (x->grew != y->grew)
		return x->grew > y->grew ? -1 : 1;
	if ((c = strcmp(x->manager, y->manager)))
		return c;
	return strcmp(x->name, y->name);
}

/* Every package whose bytes changed between the reports, the most grown
 * first; *nr gets the count. Packages are matched by manager and name. */
static struct gate_pkg_growth *gate_pkg_growths(const json_t *report, const json_t *baseline,
						size_t *nr)
{
	json_t *now = json_object_get(report, "packages"),
	       *then = json_object_get(baseline, "packages");
	struct gate_pkg_growth *out = NULL;
	size_t n = 0, alloc = 0, i, k;
	json_t *p, *q;

	json_array_foreach(now, i, p)
	{
		const char *mgr = json_string_value(json_object_get(p, "manager"));
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *b = json_object_get(p, "bytes");
		long long before = -1;

		if (!mgr || !name || !json_is_integer(b))
			continue;
		json_array_foreach(then, k, q)
		{
			const char *m2 = json_string_value(json_object_get(q, "manager"));
			const char *n2 = json_string_value(json_object_get(q, "name"));

			if (m2 && n2 && !strcmp(m2, mgr) && !strcmp(n2, name) &&
			    json_is_integer(json_object_get(q, "bytes"))) {
				before = (long long)json_integer_value(json_object_get(q, "bytes"));
				break;
			}
		}
		if (before == (long long)json_integer_value(b))
			continue;
		ALLOC_GROW(out, n + 1, alloc);
		out[n] = (struct gate_pkg_growth){
		    mgr, name, before, (long long)json_integer_value(b), 0, 0};
		out[n].grew = out[n].after - (before < 0 ? 0 : before);
		n++;
	}
	json_array_foreach(then, k, q)
	{
		const char *mgr = json_string_value(json_object_get(q, "manager"));
		const char *name = json_string_value(json_object_get(q, "name"));
		json_t *b = json_object_get(q, "bytes");
		int found = 0;

		if (!mgr || !name || !json_is_integer(b))
			continue;
		json_array_foreach(now, i, p)
		{
			const char *m2 = json_string_value(json_object_get(p, "manager"));
			const char *n2 = json_string_value(json_object_get(p, "name"));

			if (m2 && n2 && !strcmp(m2, mgr) && !strcmp(n2, name)) {
				found = 1;
				break;
			}
		}
		if (found)
			continue;
		ALLOC_GROW(out, n + 1, alloc);
		out[n] = (struct gate_pkg_growth){mgr,
						  name,
						  (long long)json_integer_value(b),
						  -1,
						  -(long long)json_integer_value(b),
						  0};
		n++;
	}
	if (n)
		qsort(out, n, sizeof(*out), gate_pkg_cmp);
	*nr = n;
	return out;
}

/* grew <= before * permille / 1000, exactly: no rounding at the edge. */
static int gate_within_percent(long long grew, long long before, uint64_t permille)
{
	return (__int128)grew * 1000 <= (__int128)before * (__int128)permille;
}

/* Is `grew` over either limit of a pair? A percent limit needs a size to
 * be a percent of: it does not judge what was not there (before < 0). */
static int gate_over(long long grew, long long before, const struct recipe_growth_limit *pct,
		     const struct recipe_growth_limit *size)
{
	if (size->set && grew > (long long)size->bytes)
		return 1;
	if (pct->set && before >= 0 && !gate_within_percent(grew, before, pct->permille))
		return 1;
	return 0;
}

/* "10%", "200MB", "10% and 200MB": a pair as written. */
static void gate_limits_text(struct strbuf *sb, const struct recipe_growth_limit *pct,
			     const struct recipe_growth_limit *size)
{
	if (pct->set)
		strbuf_addstr(sb, pct->text);
	if (pct->set && size->set)
		strbuf_addstr(sb, " and ");
	if (size->set)
		strbuf_addstr(sb, size->text);
}

/* "(+12.5%)" of `grew` over `before`, or "" when there was nothing before. */
static void gate_pct(char *buf, size_t n, long long grew, long long before)
{
	if (before > 0)
		snprintf(buf, n, "%+.1f%%", 100.0 * (double)grew / (double)before);
	else
		snprintf(buf, n, "new");
}

/* "pip torch 800.0 MB -> 1.20 GB (+400.0 MB, +50.0%)" */
static void gate_pkg_line(struct strbuf *sb, const struct gate_pkg_growth *g)
{
	char a[32], b[32], d[32], pct[32];

	gate_human_size(b, sizeof(b), g->before < 0 ? 0 : g->before);
	gate_human_size(a, sizeof(a), g->after < 0 ? 0 : g->after);
	gate_human_size(d, sizeof(d), g->grew);
	gate_pct(pct, sizeof(pct), g->grew, g->before);
	strbuf_addf(sb, "%s %s %s%s -> %s%s (%s%s, %s)", g->manager, g->name, b,
		    g->before < 0 ? " (new)" : "", a, g->after < 0 ? " (removed)" : "",
		    g->grew >= 0 ? "+" : "", d, g->after < 0 ? "removed" : pct);
}

/* "; grew most: a ...; b ...; and 3 more": the packages that grew, the most
 * first; `only_over` keeps those beyond the package limits. */
static void gate_pkg_list(struct strbuf *sb, const char *lead, const struct gate_pkg_growth *g,
			  size_t nr, int only_over)
{
	size_t shown = 0, more = 0;

	for (size_t i = 0; i < nr && g[i].grew > 0; i++) {
		if (only_over && !g[i].over)
			continue;
		if (shown == GATE_GROWERS_SHOWN) {
			more++;
			continue;
		}
		strbuf_addstr(sb, shown ? "; " : lead);
		gate_pkg_line(sb, &g[i]);
		shown++;
	}
	if (more)
		strbuf_addf(sb, "; and %zu more", more);
}

json_t *gate_growth_compare(const json_t *report, const json_t *baseline)
{
	json_t *out, *pkgs = json_array();
	long long now = 0, before = 0;
	struct gate_pkg_growth *g;
	size_t nr = 0;

	gate_summary_int(report, "size", &now);
	gate_summary_int(baseline, "size", &before);
	g = gate_pkg_growths(report, baseline, &nr);
	for (size_t i = 0; i < nr; i++)
		json_array_append_new(
		    pkgs,
		    json_pack(
			"{s:s,s:s,s:o,s:o,s:I,s:o}", "manager", g[i].manager, "name", g[i].name,
			"before", g[i].before < 0 ? json_null() : json_integer(g[i].before),
			"after", g[i].after < 0 ? json_null() : json_integer(g[i].after), "growth",
			(json_int_t)g[i].grew, "percent",
			g[i].before > 0 ? json_real(100.0 * (double)g[i].grew / (double)g[i].before)
					: json_null()));
	free(g);
	out = json_pack(
	    "{s:o,s:I,s:I,s:I,s:o,s:o}", "image",
	    json_object_get(baseline, "image") ? json_deep_copy(json_object_get(baseline, "image"))
					       : json_null(),
	    "size", (json_int_t)before, "size_now", (json_int_t)now, "growth",
	    (json_int_t)(now - before), "percent",
	    before > 0 ? json_real(100.0 * (double)(now - before) / (double)before) : json_null(),
	    "packages", pkgs);
	return out;
}

static int gate_check_growth(const json_t *report, const struct recipe *r, const json_t *baseline,
			     struct vec *results)
{
	const struct recipe_growth *gr = r ? &r->budgets.growth : NULL;
	int total_set = gr && (gr->total_percent.set || gr->total_size.set);
	int pkg_set = gr && (gr->package_percent.set || gr->package_size.set);
	long long now, before, grew, allowed = -1;
	struct gate_pkg_growth *g = NULL;
	struct strbuf sb = STRBUF_INIT, lim = STRBUF_INIT;
	struct gate_result *res;
	char a[32], b[32], c[32], pct[32];
	size_t nr = 0, over = 0;
	int ret, fail;

	if (!baseline) {
		if (gr && gr->set)
			gate_add(results, GATE_GROWTH, "growth", GATE_SKIP,
				 "skipped: no baseline (--baseline FILE or REF)");
		return 0;
	}
	if ((ret = gate_summary_int(report, "size", &now)) <= 0 ||
	    (ret = gate_summary_int(baseline, "size", &before)) <= 0) {
		if (!ret)
			return error_setc(GS_EINVAL, "a report has no size");
		error_prefix("baseline or report");
		return GS_EINVAL;
	}
	g = gate_pkg_growths(report, baseline, &nr);
	for (size_t i = 0; pkg_set && i < nr; i++) {
		g[i].over =
		    gate_over(g[i].grew, g[i].before, &gr->package_percent, &gr->package_size);
		over += g[i].over;
	}
	grew = now - before;
	gate_human_size(a, sizeof(a), now);
	gate_human_size(b, sizeof(b), before);
	gate_human_size(c, sizeof(c), grew);
	if (before > 0)
		snprintf(pct, sizeof(pct), "%+.1f%%", 100.0 * (double)grew / (double)before);
	else
		snprintf(pct, sizeof(pct), "n/a");
	strbuf_addf(&sb, "%s against the baseline's %s: %s%s (%lld bytes, %s)", a, b,
		    grew >= 0 ? "+" : "", c, grew, pct);
	if (!total_set) {
		strbuf_addstr(&sb, "; no growth budget for the total");
		fail = 0;
	} else {
		fail = gate_over(grew, before, &gr->total_percent, &gr->total_size);
		gate_limits_text(&lim, &gr->total_percent, &gr->total_size);
		/* The limit in bytes: the tighter of the two. */
		if (gr->total_size.set)
			allowed = (long long)gr->total_size.bytes;
		if (gr->total_percent.set) {
			long long p = (long long)((__int128)before *
						  (__int128)gr->total_percent.permille / 1000);

			if (allowed < 0 || p < allowed)
				allowed = p;
		}
		strbuf_addf(&sb, ", %s %s (%lld bytes)", fail ? "over" : "within", lim.buf,
			    allowed);
		if (fail)
			gate_pkg_list(&sb, "; grew most: ", g, nr, 0);
	}
	res = gate_add(results, GATE_GROWTH, "growth", fail ? GATE_FAIL : GATE_PASS, "%s", sb.buf);
	res->has_value = 1;
	res->value = grew;
	if (total_set) {
		res->has_limit = 1;
		res->limit = allowed;
	}
	if (pkg_set) {
		strbuf_reset(&sb);
		strbuf_reset(&lim);
		gate_limits_text(&lim, &gr->package_percent, &gr->package_size);
		if (over) {
			strbuf_addf(&sb, "%zu package%s grew beyond %s", over, over == 1 ? "" : "s",
				    lim.buf);
			gate_pkg_list(&sb, ": ", g, nr, 1);
		} else {
			strbuf_addf(&sb, "no package grew beyond %s", lim.buf);
			if (nr && g[0].grew > 0)
				gate_pkg_list(&sb, "; grew most: ", g, nr > 1 ? 1 : nr, 0);
		}
		res = gate_add(results, GATE_GROWTH, "growth packages",
			       over ? GATE_FAIL : GATE_PASS, "%s", sb.buf);
		res->has_value = 1;
		res->value = (long long)over;
	}
	strbuf_release(&sb);
	strbuf_release(&lim);
	free(g);
	return 0;
}

int gate_check_budgets(const json_t *report, const struct recipe *r, const json_t *baseline,
		       struct vec *results)
{
	long long v;
	int ret;

	if (r && r->budgets.size.set) {
		if ((ret = gate_summary_int(report, "size", &v)) < 0)
			return ret;
		gate_budget(results, "size", r->budgets.size.text, v,
			    (long long)r->budgets.size.bytes, 1);
	}
	if (r && r->budgets.compressed.set) {
		if ((ret = gate_summary_int(report, "compressed_size", &v)) < 0)
			return ret;
		if (ret == 0)
			gate_add(results, GATE_BUDGET, "compressed", GATE_SKIP,
				 "skipped: this source stores no compressed sizes (an engine or a "
				 "docker-save archive); --source registry or oci measures them");
		else
			gate_budget(results, "compressed", r->budgets.compressed.text, v,
				    (long long)r->budgets.compressed.bytes, 1);
	}
	if (r && r->budgets.layers) {
		if ((ret = gate_summary_int(report, "layers", &v)) <= 0)
			return ret < 0 ? ret
				       : error_setc(GS_EINVAL, "the report has no layer count");
		gate_budget(results, "layers", NULL, v, r->budgets.layers, 0);
	}
	if (r && r->budgets.wasted.set) {
		if ((ret = gate_summary_int(report, "wasted_bytes", &v)) <= 0)
			return ret < 0 ? ret
				       : error_setc(GS_EINVAL, "the report has no wasted bytes");
		gate_budget(results, "wasted", r->budgets.wasted.text, v,
			    (long long)r->budgets.wasted.bytes, 1);
	}
	for (size_t i = 0; r && i < r->budgets.paths_nr; i++) {
		const struct recipe_path_budget *pb = &r->budgets.paths[i];
		char *name = xstrfmt("paths %s", pb->path.v);
		uint64_t bytes;

		if (gate_path_bytes(report, pb->path.v, &bytes) < 0) {
			gate_add(results, GATE_BUDGET, name, GATE_SKIP,
				 "skipped: the report has no size for paths containing '%s' (its "
				 "analyzer does not measure \"paths\")",
				 pb->path.v);
			free(name);
			continue;
		}
		gate_budget(results, name, pb->size.text, (long long)bytes,
			    (long long)pb->size.bytes, 1);
		free(name);
	}
	return gate_check_growth(report, r, baseline, results);
}

/* ---- rules --------------------------------------------------------------- */

static int gate_severity_rank(const char *s)
{
	return !s ? 0 : !strcmp(s, "error") ? 3 : !strcmp(s, "warn") ? 2 : 1;
}

static void gate_rule(const json_t *findings, const char *id, const struct recipe *r,
		      struct vec *results)
{
	const struct recipe_rule *tuned = NULL;
	struct strbuf sb = STRBUF_INIT;
	size_t i, n = 0, shown = 0;
	long long bytes = 0;
	int worst = 0;
	json_t *f;

	for (i = 0; r && i < r->rules_nr; i++)
		if (!strcmp(r->rules[i].id.v, id))
			tuned = &r->rules[i];
	json_array_foreach(findings, i, f)
	{
		json_t *rule = json_object_get(f, "rule"), *msg = json_object_get(f, "message");
		json_t *path = json_object_get(f, "path"), *b = json_object_get(f, "bytes");
		int rank;

		if (!json_is_string(rule) || strcmp(json_string_value(rule), id))
			continue;
		n++;
		rank = gate_severity_rank(json_string_value(json_object_get(f, "severity")));
		if (rank > worst)
			worst = rank;
		if (json_is_integer(b))
			bytes += (long long)json_integer_value(b);
		if (shown < GATE_FINDINGS_SHOWN) {
			strbuf_addstr(&sb, shown ? "; " : ": ");
			if (json_is_string(msg))
				strbuf_addstr(&sb, json_string_value(msg));
			else if (json_is_string(path))
				strbuf_addstr(&sb, json_string_value(path));
			shown++;
		}
	}
	if (n > shown)
		strbuf_addf(&sb, "; and %zu more", n - shown);
	if (tuned) {
		worst = tuned->severity == RULE_ERROR ? 3 : tuned->severity == RULE_WARN ? 2 : -1;
	}
	{
		char sz[32] = "";
		enum gate_status st;
		const char *sev = worst == 3 ? "error" : worst == 2 ? "warn" : "info";
		struct gate_result *g;

		if (bytes)
			gate_human_size(sz, sizeof(sz), bytes);
		if (worst < 0) {
			st = GATE_SKIP;
			g = gate_add(results, GATE_RULE, id, st,
				     "skipped: off in the recipe (%zu finding%s ignored)", n,
				     n == 1 ? "" : "s");
		} else if (!n) {
			g = gate_add(results, GATE_RULE, id, GATE_PASS, "no findings");
		} else {
			st = worst == 3 ? GATE_FAIL : worst == 2 ? GATE_WARN : GATE_PASS;
			g = gate_add(results, GATE_RULE, id, st, "%s%s: %zu finding%s%s%s%s%s", sev,
				     tuned ? " (set in the recipe)" : "", n, n == 1 ? "" : "s",
				     bytes ? " (" : "", sz, bytes ? ")" : "", sb.buf);
		}
		g->has_value = 1;
		g->value = (long long)n;
	}
	strbuf_release(&sb);
}

int gate_check_rules(const json_t *report, const struct recipe *r, struct vec *results)
{
	json_t *findings = json_object_get(report, "findings"), *f;
	struct vec extra = VEC_INIT(free);
	size_t i;

	if (!json_is_array(findings))
		return error_setc(GS_EINVAL, "the report has no 'findings' list");
	for (i = 0; recipe_rule_ids[i]; i++)
		gate_rule(findings, recipe_rule_ids[i], r, results);
	/* A rule a newer analyzer knows and this gate does not still counts. */
	json_array_foreach(findings, i, f)
	{
		const char *id = json_string_value(json_object_get(f, "rule"));
		size_t k;

		if (!id)
			continue;
		for (k = 0; recipe_rule_ids[k] && strcmp(recipe_rule_ids[k], id); k++)
			;
		if (!recipe_rule_ids[k] && vec_findstr(&extra, id) < 0)
			vec_pushstr(&extra, id);
	}
	for (i = 0; i < extra.nr; i++)
		gate_rule(findings, extra.items[i], r, results);
	vec_release(&extra);
	return 0;
}

/* ---- results ------------------------------------------------------------- */

int gate_failed(const struct vec *results)
{
	return gate_count(results, GATE_FAIL) > 0;
}

size_t gate_count(const struct vec *results, enum gate_status s)
{
	size_t n = 0;

	for (size_t i = 0; i < results->nr; i++)
		n += ((const struct gate_result *)results->items[i])->status == s;
	return n;
}

json_t *gate_results_to_json(const struct vec *results)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < results->nr; i++) {
		const struct gate_result *g = results->items[i];
		/* A smoke test's message quotes its output: escaped, never refused. */
		json_t *o =
		    json_pack("{s:o,s:s,s:s,s:o,s:o,s:o}", "name", utf8_json_string(g->name),
			      "kind", gate_kind_name(g->kind), "status",
			      gate_status_name(g->status), "message", utf8_json_string(g->message),
			      "limit", g->has_limit ? json_integer(g->limit) : json_null(), "value",
			      g->has_value ? json_integer(g->value) : json_null());

		if (json_array_append_new(arr, o) < 0 || !o) {
			json_decref(arr);
			arr = NULL;
		}
	}
	if (!arr)
		error_set("cannot build the gates' JSON: out of memory");
	return arr;
}

json_t *gate_results_to_json_full(const struct vec *results)
{
	json_t *arr = gate_results_to_json(results);

	for (size_t i = 0; arr && i < results->nr; i++) {
		const struct gate_result *g = results->items[i];
		json_t *o = json_array_get(arr, i);

		/* milliseconds, as every time of a build report */
		if (json_object_set_new(o, "elapsed_ms",
					json_integer((json_int_t)(g->seconds * 1000.0 + 0.5))) <
			0 ||
		    json_object_set_new(
			o, "output", g->output ? utf8_json_string(g->output) : json_null()) < 0) {
			json_decref(arr);
			arr = NULL;
			error_set("cannot build the gates' JSON: out of memory");
		}
	}
	return arr;
}

/* The index of `s` in `names` (n of them), or -1. */
static int gate_name_index(const char *s, const char *const *names, int n)
{
	for (int i = 0; s && i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int gate_results_from_json(const json_t *arr, const char *what, struct vec *results)
{
	static const char *const kinds[] = {"budget", "rule", "smoke", "growth"};
	static const char *const statuses[] = {"pass", "fail", "warn", "skip"};
	size_t i;
	json_t *o;

	if (!json_is_array(arr))
		return error_setc(GS_EINVAL, "%s: expected an array of gates", what);
	json_array_foreach(arr, i, o)
	{
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *msg = json_string_value(json_object_get(o, "message"));
		const json_t *out = json_object_get(o, "output"),
			     *secs = json_object_get(o, "elapsed_ms");
		const json_t *lim = json_object_get(o, "limit"), *val = json_object_get(o, "value");
		int kind = gate_name_index(json_string_value(json_object_get(o, "kind")), kinds, 4);
		int st =
		    gate_name_index(json_string_value(json_object_get(o, "status")), statuses, 4);
		struct gate_result *g;

		if (!name || !msg)
			return error_setc(GS_EINVAL, "%s[%zu].%s: expected a string", what, i,
					  !name ? "name" : "message");
		if (kind < 0)
			return error_setc(GS_EINVAL,
					  "%s[%zu].kind: expected budget, rule, smoke or growth",
					  what, i);
		if (st < 0)
			return error_setc(GS_EINVAL,
					  "%s[%zu].status: expected pass, fail, warn or skip", what,
					  i);
		if ((out && !json_is_null(out) && !json_is_string(out)) ||
		    (secs && !json_is_integer(secs)))
			return error_setc(GS_EINVAL, "%s[%zu].%s: expected %s", what, i,
					  secs && !json_is_integer(secs) ? "elapsed_ms" : "output",
					  secs && !json_is_integer(secs) ? "an integer"
									 : "a string or null");
		g = gate_add(results, (enum gate_kind)kind, name, (enum gate_status)st, "%s", msg);
		g->has_limit = json_is_integer(lim);
		g->limit = g->has_limit ? (long long)json_integer_value(lim) : 0;
		g->has_value = json_is_integer(val);
		g->value = g->has_value ? (long long)json_integer_value(val) : 0;
		g->output = json_is_string(out) ? xstrdup(json_string_value(out)) : NULL;
		g->seconds = secs ? (double)json_integer_value(secs) / 1000.0 : 0;
	}
	return 0;
}

int gate_attach(json_t *report, const struct vec *results)
{
	if (json_object_set_new(report, "gates", gate_results_to_json(results)) < 0 ||
	    json_object_set_new(report, "status",
				json_string(gate_failed(results) ? "fail" : "pass")) < 0)
		return error_set("cannot add the gates to the report: out of memory");
	return 0;
}

/* ---- where a gate comes from in the recipe -------------------------------- */

int gate_recipe_pos(const struct recipe *r, const struct gate_result *g, struct rpos *pos)
{
	pos->line = pos->col = 0;
	if (!r)
		return 0;
	switch (g->kind) {
	case GATE_BUDGET:
		if (!strcmp(g->name, "size"))
			*pos = r->budgets.size.pos;
		else if (!strcmp(g->name, "compressed"))
			*pos = r->budgets.compressed.pos;
		else if (!strcmp(g->name, "wasted"))
			*pos = r->budgets.wasted.pos;
		else if (!strcmp(g->name, "layers"))
			*pos = r->budgets.layers_pos;
		else if (starts_with(g->name, "paths "))
			for (size_t i = 0; i < r->budgets.paths_nr; i++)
				if (!strcmp(r->budgets.paths[i].path.v, g->name + 6))
					*pos = r->budgets.paths[i].size.pos;
		break;
	case GATE_GROWTH:
		*pos = r->budgets.growth.pos;
		break;
	case GATE_RULE:
		for (size_t i = 0; i < r->rules_nr; i++)
			if (!strcmp(r->rules[i].id.v, g->name))
				*pos = r->rules[i].id.pos;
		break;
	case GATE_SMOKE:
		for (size_t i = 0; i < r->smoke_nr; i++)
			if (starts_with(g->name, "smoke ") &&
			    !strcmp(r->smoke[i].name.v, g->name + 6))
				*pos = r->smoke[i].pos;
		break;
	}
	return pos->line > 0;
}
