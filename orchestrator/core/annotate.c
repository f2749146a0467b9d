#include <string.h>

#include "core/annotate.h"
#include "core/gate.h"
#include "util/utf8.h"

static void annotate_escape(struct strbuf *out, const char *s, int property)
{
	struct strbuf tmp = STRBUF_INIT;

	/* Bytes that are not UTF-8 (a smoke test's output) as \xNN first: the
	 * runner reads the log as UTF-8. */
	utf8_escape(&tmp, s ? s : "");
	for (const char *p = tmp.buf; *p; p++) {
		switch (*p) {
		case '%':
			strbuf_addstr(out, "%25");
			break;
		case '\r':
			strbuf_addstr(out, "%0D");
			break;
		case '\n':
			strbuf_addstr(out, "%0A");
			break;
		case ':':
			strbuf_addstr(out, property ? "%3A" : ":");
			break;
		case ',':
			strbuf_addstr(out, property ? "%2C" : ",");
			break;
		default:
			strbuf_addch(out, *p);
		}
	}
	strbuf_release(&tmp);
}

void annotate_escape_data(struct strbuf *out, const char *s)
{
	annotate_escape(out, s, 0);
}

void annotate_escape_property(struct strbuf *out, const char *s)
{
	annotate_escape(out, s, 1);
}

/* "::error file=F,line=L,col=C,title=T::MESSAGE\n" */
static void annotate_line(struct strbuf *out, const char *cmd, const char *file,
			  const struct rpos *pos, const char *title, const char *msg)
{
	strbuf_addf(out, "::%s ", cmd);
	if (file) {
		strbuf_addstr(out, "file=");
		annotate_escape_property(out, file);
		if (pos && pos->line > 0)
			strbuf_addf(out, ",line=%d,col=%d", pos->line, pos->col);
		strbuf_addch(out, ',');
	}
	strbuf_addstr(out, "title=");
	annotate_escape_property(out, title);
	strbuf_addstr(out, "::");
	annotate_escape_data(out, msg);
	strbuf_addch(out, '\n');
}

void annotate_github(const struct report_item *items, size_t n, const struct recipe *recipe,
		     const char *recipe_file, struct strbuf *out)
{
	struct strbuf title = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		const struct report_item *it = &items[i];

		if (it->error) {
			strbuf_reset(&title);
			strbuf_addf(&title, "gpuslim %s", it->name);
			annotate_line(out, "error", recipe_file, NULL, title.buf, it->error);
		}
		for (size_t k = 0; it->gates && k < it->gates->nr; k++) {
			const struct gate_result *g = it->gates->items[k];
			struct rpos pos;

			if (g->status != GATE_FAIL && g->status != GATE_WARN)
				continue;
			gate_recipe_pos(recipe, g, &pos);
			strbuf_reset(&title);
			strbuf_addf(&title, "gpuslim %s: %s %s", it->name, gate_kind_name(g->kind),
				    g->name);
			annotate_line(out, g->status == GATE_FAIL ? "error" : "warning",
				      recipe_file, &pos, title.buf, g->message);
		}
	}
	strbuf_release(&title);
}
