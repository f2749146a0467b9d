#ifndef GS_ANNOTATE_H
#define GS_ANNOTATE_H

#include <stddef.h>

#include "core/recipe.h"
#include "core/report.h"
#include "util/strbuf.h"

/*
 * GitHub Actions workflow commands for a report: one `::error` line per
 * failed gate (a rule gate carries its findings in its message) and per
 * item that has an error (not built, not gated), one `::warning` line per
 * gate that warned. GitHub shows them on the run and, with file= and
 * line=, on the recipe's line in a pull request. Text is escaped as the
 * workflow-command format demands (annotate_escape_data() and
 * annotate_escape_property()): a message can never end the command early
 * or start another.
 */

/* A command's message: '%' as %25, CR as %0D, LF as %0A. */
void annotate_escape_data(struct strbuf *out, const char *s);
/* A property value (file=, title=): the same, and ':' as %3A, ',' as %2C. */
void annotate_escape_property(struct strbuf *out, const char *s);

/*
 * The lines for `items`, appended to `out`. `recipe` (may be NULL) gives
 * each gate its line (gate_recipe_pos()); `recipe_file` (may be NULL) is
 * the file= property, a path relative to the repository's root.
 */
void annotate_github(const struct report_item *items, size_t n, const struct recipe *recipe,
		     const char *recipe_file, struct strbuf *out);

#endif
