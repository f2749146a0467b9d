#ifndef GS_SARIF_H
#define GS_SARIF_H

#include <jansson.h>
#include <stddef.h>

#include "core/recipe.h"
#include "core/report.h"

/*
 * The rule findings of reports as a SARIF 2.1.0 log (OASIS), the format
 * code-scanning services read: one run whose tool.driver lists every rule
 * of core/analyze.h (id, descriptions, help, default level), and one result
 * per finding with its ruleId, level and message. The level is the rule's
 * severity in the recipe when the recipe tunes it (`rules:`; "off" drops
 * the finding), else the finding's own (error, warning, note). A result
 * points at the recipe (the line of its `rules:` entry when there is one)
 * when a recipe is known, else at the image; the path in the image is a
 * logical location. Items without a report (not built) have no results.
 */

struct sarif_opts {
	const struct recipe *recipe; /* NULL: inspect, no recipe */
	const char *recipe_uri;	     /* the recipe's path relative to the repository, or NULL */
	const char *version;	     /* gpuslim's */
};

/* A new SARIF log document, or NULL (error set) when out of memory. */
json_t *sarif_log(const struct report_item *items, size_t n, const struct sarif_opts *o);

/* The short description of a rule id of core/analyze.h, or NULL for one
 * this table lacks. */
const char *sarif_rule_summary(const char *id);

#endif
