#ifndef GS_VEC_H
#define GS_VEC_H

#include <stddef.h>

#include "util/error.h"

/*
 * A growable array of pointers, kept NULL-terminated so that a vector of
 * strings is also an argv. The vector owns its items when `free_item` is
 * set: vec_release() calls it on each. vec_pushstr()/vec_pushf() push a
 * copy, so use them only on vectors whose free_item is free().
 */
struct vec {
	void **items;
	size_t nr;
	size_t alloc;
	void (*free_item)(void *);
};

#define VEC_INIT(freefn)                                                                           \
	{                                                                                          \
		NULL, 0, 0, (freefn)                                                               \
	}

void vec_init(struct vec *v, void (*free_item)(void *));
/* Frees the items (with free_item) and the array; the vector is empty after. */
void vec_release(struct vec *v);
/* Hand the NULL-terminated array to the caller; the vector is empty after. */
void **vec_detach(struct vec *v, size_t *nr);
void vec_push(struct vec *v, void *item);
void vec_pushstr(struct vec *v, const char *s);
void vec_pushf(struct vec *v, const char *fmt, ...) GS_FMT(2, 3);
/* Index of the string equal to s, or -1. */
long vec_findstr(const struct vec *v, const char *s);
void vec_sort(struct vec *v, int (*cmp)(const void *, const void *));
/* qsort comparator for a vector of strings. */
int vec_cmpstr(const void *a, const void *b);

#endif
