#ifndef GS_YAMLTREE_H
#define GS_YAMLTREE_H

#include <stddef.h>

#include "core/diag.h"

/*
 * A YAML document as a plain tree built from libyaml's event API, keeping
 * the 1-based line:col of every node and whether each scalar was plain
 * (unquoted), which is what decides how other YAML tools type it. Anchors,
 * aliases and explicit tags are refused while building: a recipe never
 * needs them and refusing them defeats alias bombs. The tree owns every
 * node and string in it; ytree_free() releases all of it.
 */

enum ynode_type { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
	enum ynode_type type;
	int line, col; /* 1-based, of the node's first character */
	/* scalars */
	char *text; /* NUL-terminated; may hold an embedded NUL ("\0" escape) */
	size_t len;
	int plain; /* written without quotes and not as a block scalar */
	/* sequences: items[]; mappings: keys[i] -> items[i] */
	struct ynode **keys;
	struct ynode **items;
	size_t nr, alloc;
	struct ynode *pending_key; /* while building a mapping */
};

/* Deeper nesting than this is refused: the tree walkers recurse. */
#define YTREE_MAX_DEPTH 64

/*
 * Build the tree of the single document in `data`. A UTF-8 byte order mark
 * at the start is skipped, as PyYAML and editors do; columns on the first
 * line do not count it. Returns 0 and sets *root (NULL when the stream
 * holds no document: empty or only comments), or -1 with `err` set (its
 * place and message; no file, no field; diag_release() it): a YAML syntax
 * error, an anchor, alias or tag, a second document, or nesting past
 * YTREE_MAX_DEPTH.
 */
int ytree_parse(const char *data, size_t len, struct ynode **root, struct diag *err);
void ytree_free(struct ynode *n);

/* The value of `key` in mapping `map` (its first occurrence), or NULL. */
struct ynode *ytree_get(const struct ynode *map, const char *key);

/* How PyYAML (YAML 1.1 implicit resolvers) types a plain scalar. */
enum yaml11_kind {
	YAML11_STR = 0,
	YAML11_NULL,
	YAML11_BOOL,
	YAML11_INT,
	YAML11_FLOAT,
	YAML11_TIMESTAMP,
	YAML11_OTHER, /* "=" (value) and "<<" (merge): no safe constructor */
};
enum yaml11_kind ytree_yaml11_kind(const char *plain);
/* 1/0 for a YAML 1.1 bool ("yes", "On", "FALSE"...), -1 when not a bool. */
int ytree_yaml11_bool(const char *plain);
/* Value of a YAML 1.1 int (0x, 0b, 0 octal, underscores, sexagesimal)
 * into *out: 0, or -1 when not an int or out of range. */
int ytree_yaml11_int(const char *plain, long *out);

/* 1 when `s` matches the POSIX extended regular expression `re`. Each
 * expression is compiled once and kept for the life of the process, so
 * `re` must be one of the program's constant patterns, never built from
 * input. An expression that does not compile matches nothing. */
int ytree_re_match(const char *re, const char *s);

/* Levenshtein distance between two short strings. */
size_t ytree_edit_distance(const char *a, const char *b);

#endif
