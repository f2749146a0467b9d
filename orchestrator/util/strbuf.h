#ifndef GS_STRBUF_H
#define GS_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "util/error.h"

/*
 * A growable, always NUL-terminated byte string. The strbuf owns `buf`;
 * strbuf_detach() hands it to the caller, who then frees it. `buf` is
 * never NULL after strbuf_init(). `cap`, when nonzero, caps `len`: an
 * append past it fails with -1 (used for a child's output or an HTTP body).
 */
struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t cap;
};

#define STRBUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);
int strbuf_grow(struct strbuf *sb, size_t extra);
int strbuf_add(struct strbuf *sb, const void *data, size_t len);
int strbuf_addstr(struct strbuf *sb, const char *s);
int strbuf_addch(struct strbuf *sb, int c);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...) GS_FMT(2, 3);
int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_reset(struct strbuf *sb);
void strbuf_setlen(struct strbuf *sb, size_t len);
/* Strip trailing whitespace. */
void strbuf_rtrim(struct strbuf *sb);
const char *strbuf_cstr(const struct strbuf *sb);

/* Helpers on plain strings. xstrdup()/xmalloc() abort on OOM: there is no
 * sane recovery from it in a CLI and every caller would only exit. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
/* realloc() of `n` items of `size` bytes; aborts on overflow as on OOM. */
void *xreallocarray(void *p, size_t n, size_t size);
/* The new capacity of an array of `alloc` items that must hold `nr`: twice
 * as many (16 at first), at least `nr`. */
size_t alloc_grow_nr(size_t alloc, size_t nr);
/*
 * Make room for `nr` items in the array `x` whose capacity is `alloc` (git's
 * ALLOC_GROW): `x` and `alloc` are updated when it grows, never shrink.
 */
#define ALLOC_GROW(x, nr, alloc)                                                                   \
	do {                                                                                       \
		if ((size_t)(nr) > (size_t)(alloc)) {                                              \
			(alloc) = alloc_grow_nr((alloc), (nr));                                    \
			(x) = xreallocarray((x), (alloc), sizeof(*(x)));                           \
		}                                                                                  \
	} while (0)
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xstrfmt(const char *fmt, ...) GS_FMT(1, 2);
int starts_with(const char *s, const char *prefix);
int ends_with(const char *s, const char *suffix);

#endif
