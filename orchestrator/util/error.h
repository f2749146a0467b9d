#ifndef GS_ERROR_H
#define GS_ERROR_H

/*
 * The per-thread last error. core/ and util/ functions return 0 or a
 * negative code and leave one line here: lowercase, subject in quotes,
 * e.g. "cannot read 'gpuslim.yaml': no such file". Only cli/ prints it.
 * The string is owned by the thread and valid until the next error_set().
 */

#define GS_FMT(a, b) __attribute__((format(printf, a, b)))

/* Error codes; functions return -1 for a plain failure. */
enum {
	GS_ERR = -1,	   /* generic failure, message in error_last() */
	GS_ENOTFOUND = -2, /* the thing asked for does not exist */
	GS_EINVAL = -3,	   /* bad input (recipe, plugin, image content) */
	GS_EINFRA = -4,	   /* infrastructure: engine, registry, network */
};

/* Set the last error; returns `code` so callers can `return error_setc(...)`. */
int error_setc(int code, const char *fmt, ...) GS_FMT(2, 3);
/* Shorthand for error_setc(GS_ERR, ...). */
int error_set(const char *fmt, ...) GS_FMT(1, 2);
/* Prefix the current last error with "<prefix>: ". */
void error_prefix(const char *fmt, ...) GS_FMT(1, 2);
/* The last error of this thread, "" when none. Never NULL. */
const char *error_last(void);
void error_clear(void);

#endif
