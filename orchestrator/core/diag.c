#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "util/strbuf.h"

void diag_vset(struct diag *d, const char *file, struct rpos pos, const char *field,
	       const char *fmt, va_list ap)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_vaddf(&sb, fmt, ap);
	d->file = file;
	d->pos = pos;
	d->field = field ? xstrdup(field) : NULL;
	d->msg = strbuf_detach(&sb, NULL);
}

void diag_set(struct diag *d, const char *file, struct rpos pos, const char *field, const char *fmt,
	      ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vset(d, file, pos, field, fmt, ap);
	va_end(ap);
}

void diag_release(struct diag *d)
{
	free(d->field);
	free(d->msg);
	d->field = d->msg = NULL;
}

char *diag_format(const struct diag *d)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, d->file ? d->file : "-");
	if (d->pos.line > 0)
		strbuf_addf(&sb, ":%d:%d", d->pos.line, d->pos.col);
	strbuf_addstr(&sb, ": ");
	if (d->field)
		strbuf_addf(&sb, "%s: ", d->field);
	strbuf_addstr(&sb, d->msg ? d->msg : "");
	return strbuf_detach(&sb, NULL);
}

int diag_push(struct vec *out, size_t start, const struct diag *d, int unique)
{
	char *line = diag_format(d);

	if (!out) {
		error_setc(GS_EINVAL, "%s", line);
		free(line);
		return 0;
	}
	/* The distinct problems are few, so the linear search stays cheap. */
	for (size_t i = start; unique && i < out->nr; i++)
		if (!strcmp(out->items[i], line)) {
			free(line);
			return 0;
		}
	if (out->nr == start)
		error_setc(GS_EINVAL, "%s", line);
	vec_push(out, line);
	return 1;
}
