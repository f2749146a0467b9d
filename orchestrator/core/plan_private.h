#ifndef GS_PLAN_PRIVATE_H
#define GS_PLAN_PRIVATE_H

#include <stdarg.h>

#include "core/plan.h"

/*
 * What plan.c (planning offline) and plan_resolve.c (asking the
 * registries) share; not for other modules.
 */

/* Set a cell's cuDNN value and reason from its final flavor and the cuDNN
 * version the images carry (NULL: unknown). Frees nothing: `cudnn` must
 * be empty. */
void plan_set_cudnn(struct plan_value *cudnn, const char *final_flavor, const char *version,
		    const char *repository, const char *cuda);

/* Append "file:line:col: field: message" ("file: field: message" when
 * `pos` is absent) to `diags`, unless one appended since `start` says the
 * same: every cell of a matrix may hit the same problem, and it is said
 * once. The first since `start` also becomes error_last(). */
void plan_diag_vadd(struct vec *diags, size_t start, const char *file, const char *field,
		    struct rpos pos, const char *fmt, va_list ap) GS_FMT(6, 0);

#endif
