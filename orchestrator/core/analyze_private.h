#ifndef GS_ANALYZE_PRIVATE_H
#define GS_ANALYZE_PRIVATE_H

#include "core/analyze.h"

/*
 * The analyzer apart from the image reader, for analyze_image() and for
 * unit tests that drive the visitor with synthetic layers: create it, hand
 * its visitor to image_walk() (or call the callbacks directly), then build
 * the report. The analysis owns everything it keeps; `opts` (and what it
 * points to) must outlive it.
 */

struct analysis;
typedef long (*analysis_read_fn)(struct image_reader *rd, void *buf, size_t len);

struct analysis *analysis_new(const struct analyze_opts *opts, analysis_read_fn read);
void analysis_free(struct analysis *an);
/* The visitor whose ctx is `an`. */
void analysis_visitor(struct analysis *an, struct image_visitor *v);
/* Replay the layers bottom up and build the report. `meta` may be NULL
 * when the meta callback already gave it. The image_layer structs the
 * callbacks got must still be alive (their final facts are read here). */
int analysis_report(struct analysis *an, const struct image_meta *meta, json_t **report);

#endif
