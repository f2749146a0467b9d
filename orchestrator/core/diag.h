#ifndef GS_DIAG_H
#define GS_DIAG_H

#include <stdarg.h>
#include <stddef.h>

#include "util/error.h"
#include "util/vec.h"

/*
 * A problem at a place in a file: the one shape of every error about a
 * recipe (its parse, its checks, its plan) and about a knowledge plugin,
 * written "file:line:col: field: message". The diag owns `field` and
 * `msg` and borrows `file`; diag_release() frees what it owns.
 */

/* A place in a file. */
struct rpos {
	int line; /* 1-based; 0 when there is no place (absent value, whole file) */
	int col;  /* 1-based */
};

struct diag {
	const char *file; /* the path as the user gave it */
	struct rpos pos;
	char *field; /* "app.env[2]", "releases[3].driver"; NULL: none */
	char *msg;   /* one line, lowercase */
};

void diag_set(struct diag *d, const char *file, struct rpos pos, const char *field, const char *fmt,
	      ...) GS_FMT(5, 6);
void diag_vset(struct diag *d, const char *file, struct rpos pos, const char *field,
	       const char *fmt, va_list ap) GS_FMT(5, 0);
void diag_release(struct diag *d);

/* "file:line:col: field: msg"; without a place "file: field: msg"; without
 * a field the "field: " part is left out. Newly allocated. */
char *diag_format(const struct diag *d);

/*
 * Append `d`, formatted, to `out` (a vector of owned strings); the first
 * line appended since index `start` also becomes error_last() (GS_EINVAL).
 * With `unique`, a line equal to one appended since `start` is dropped:
 * every cell of a matrix may hit the same problem, and it is said once.
 * `out` may be NULL: then only error_last() is set. Returns 1 when
 * appended, 0 when dropped.
 */
int diag_push(struct vec *out, size_t start, const struct diag *d, int unique);

#endif
