#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/vec.h"

void vec_init(struct vec *v, void (*free_item)(void *))
{
	v->items = NULL;
	v->nr = v->alloc = 0;
	v->free_item = free_item;
}

void vec_release(struct vec *v)
{
	if (v->free_item)
		for (size_t i = 0; i < v->nr; i++)
			v->free_item(v->items[i]);
	free(v->items);
	v->items = NULL;
	v->nr = v->alloc = 0;
}

void **vec_detach(struct vec *v, size_t *nr)
{
	void **items;

	if (!v->items)
		vec_push(v, NULL), v->nr = 0;
	items = v->items;
	if (nr)
		*nr = v->nr;
	v->items = NULL;
	v->nr = v->alloc = 0;
	return items;
}

void vec_push(struct vec *v, void *item)
{
	if (v->nr + 2 > v->alloc) {
		v->alloc = v->alloc ? v->alloc * 2 : 8;
		v->items = xrealloc(v->items, v->alloc * sizeof(*v->items));
	}
	v->items[v->nr++] = item;
	v->items[v->nr] = NULL;
}

void vec_pushstr(struct vec *v, const char *s)
{
	vec_push(v, xstrdup(s));
}

void vec_pushf(struct vec *v, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	vec_push(v, strbuf_detach(&sb, NULL));
}

long vec_findstr(const struct vec *v, const char *s)
{
	for (size_t i = 0; i < v->nr; i++)
		if (v->items[i] && !strcmp(v->items[i], s))
			return (long)i;
	return -1;
}

int vec_cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void vec_sort(struct vec *v, int (*cmp)(const void *, const void *))
{
	if (v->nr > 1)
		qsort(v->items, v->nr, sizeof(*v->items), cmp);
}
