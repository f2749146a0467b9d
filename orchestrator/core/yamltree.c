#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/yamltree.h"
#include "util/strbuf.h"

void ytree_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nr; i++) {
		if (n->keys)
			ytree_free(n->keys[i]);
		ytree_free(n->items[i]);
	}
	ytree_free(n->pending_key);
	free(n->keys);
	free(n->items);
	free(n->text);
	free(n);
}

struct ynode *ytree_get(const struct ynode *map, const char *key)
{
	if (!map || map->type != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->nr; i++)
		if (map->keys[i]->type == YNODE_SCALAR && !strcmp(map->keys[i]->text, key))
			return map->items[i];
	return NULL;
}

static struct ynode *ytree_new(enum ynode_type type, const yaml_mark_t *mark)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

/* A mapping takes its children in pairs: the first is held as the pending
 * key until its value arrives. */
static void ytree_attach(struct ynode *parent, struct ynode *child)
{
	if (parent->type == YNODE_MAP && !parent->pending_key) {
		parent->pending_key = child;
		return;
	}
	if (parent->nr == parent->alloc) {
		parent->alloc = parent->alloc ? 2 * parent->alloc : 8;
		parent->items = xrealloc(parent->items, parent->alloc * sizeof(*parent->items));
		if (parent->type == YNODE_MAP)
			parent->keys =
			    xrealloc(parent->keys, parent->alloc * sizeof(*parent->keys));
	}
	if (parent->type == YNODE_MAP) {
		parent->keys[parent->nr] = parent->pending_key;
		parent->pending_key = NULL;
	}
	parent->items[parent->nr++] = child;
}

static struct rpos ytree_pos(const yaml_mark_t *mark)
{
	return (struct rpos){(int)mark->line + 1, (int)mark->column + 1};
}

static int ytree_fail(struct diag *err, const yaml_mark_t *mark, const char *fmt, ...) GS_FMT(3, 4);

static int ytree_fail(struct diag *err, const yaml_mark_t *mark, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vset(err, NULL, ytree_pos(mark), NULL, fmt, ap);
	va_end(ap);
	return -1;
}

/* libyaml's own message: its problem, where it saw it, and what it was
 * parsing (with where that started). */
static int ytree_syntax_error(yaml_parser_t *p, const char *data, size_t len, struct diag *err)
{
	struct strbuf sb = STRBUF_INIT;
	yaml_mark_t mark = p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR) {
		strbuf_addstr(&sb, "out of memory while parsing");
		mark.line = mark.column = 0;
	} else if (p->error == YAML_READER_ERROR) {
		/* The reader has no mark: count lines up to the offset. */
		mark.line = mark.column = 0;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (data[i] == '\n')
				mark.line++, mark.column = 0;
			else if (((unsigned char)data[i] & 0xc0) != 0x80)
				mark.column++;
		}
		strbuf_addf(&sb, "syntax error: %s", p->problem ? p->problem : "unreadable input");
		if (p->problem_value >= 0)
			strbuf_addf(&sb, " (character 0x%02x)", (unsigned)p->problem_value);
	} else {
		strbuf_addf(&sb, "syntax error: %s", p->problem ? p->problem : "invalid YAML");
		if (p->context)
			strbuf_addf(&sb, "; %s that started at line %zu column %zu", p->context,
				    p->context_mark.line + 1, p->context_mark.column + 1);
	}
	diag_set(err, NULL, ytree_pos(&mark), NULL, "%s", sb.buf);
	strbuf_release(&sb);
	return -1;
}

/* Anchors, aliases and explicit tags on a node event: refused. */
static int ytree_check_props(const yaml_event_t *ev, const yaml_char_t *anchor,
			     const yaml_char_t *tag, struct diag *err)
{
	if (anchor)
		return ytree_fail(err, &ev->start_mark,
				  "anchor '&%s': anchors and aliases are not supported in recipes; "
				  "repeat the value instead",
				  (const char *)anchor);
	if (tag)
		return ytree_fail(err, &ev->start_mark,
				  "tag '%s': tags are not supported in recipes; quote the value "
				  "to make it a string",
				  (const char *)tag);
	return 0;
}

/* One event into the tree; 1 at the end of the stream, -1 on error. */
static int ytree_event(yaml_event_t *ev, struct ynode **root, struct ynode **stack, int *depth,
		       int *docs, struct diag *err)
{
	struct ynode *n = NULL;

	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if ((*docs)++)
			return ytree_fail(err, &ev->start_mark,
					  "multiple YAML documents in one recipe; keep only one");
		return 0;
	case YAML_ALIAS_EVENT:
		return ytree_fail(err, &ev->start_mark,
				  "alias '*%s': aliases are not supported in recipes",
				  (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		if (ytree_check_props(ev, ev->data.scalar.anchor, ev->data.scalar.tag, err))
			return -1;
		n = ytree_new(YNODE_SCALAR, &ev->start_mark);
		n->text = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (ytree_check_props(ev, ev->data.sequence_start.anchor,
				      ev->data.sequence_start.tag, err))
			return -1;
		n = ytree_new(YNODE_SEQ, &ev->start_mark);
		break;
	case YAML_MAPPING_START_EVENT:
		if (ytree_check_props(ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag,
				      err))
			return -1;
		n = ytree_new(YNODE_MAP, &ev->start_mark);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		(*depth)--;
		return 0;
	default:
		return 0;
	}
	if (*depth)
		ytree_attach(stack[*depth - 1], n);
	else
		*root = n;
	if (n->type != YNODE_SCALAR) {
		if (*depth == YTREE_MAX_DEPTH)
			return ytree_fail(err, &ev->start_mark, "nesting is deeper than %d levels",
					  YTREE_MAX_DEPTH);
		stack[(*depth)++] = n;
	}
	return 0;
}

int ytree_parse(const char *data, size_t len, struct ynode **root, struct diag *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ynode *stack[YTREE_MAX_DEPTH];
	int depth = 0, docs = 0, ret = 0;

	*root = NULL;
	memset(err, 0, sizeof(*err));
	/* With the encoding set, libyaml would take a BOM for content. */
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		data += 3, len -= 3;
	if (!yaml_parser_initialize(&parser)) {
		diag_set(err, NULL, (struct rpos){1, 1}, NULL, "out of memory while parsing");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev)) {
			ret = ytree_syntax_error(&parser, data, len, err);
			goto done;
		}
		ret = ytree_event(&ev, root, stack, &depth, &docs, err);
		yaml_event_delete(&ev);
		if (ret)
			break;
	}
	ret = ret < 0 ? -1 : 0;
done:
	yaml_parser_delete(&parser);
	if (ret) {
		ytree_free(*root);
		*root = NULL;
	}
	return ret;
}

/*
 * PyYAML's implicit resolvers (yaml/resolver.py), translated to POSIX
 * EREs. A plain scalar that matches one of these is not a string to
 * PyYAML, so a JSON Schema check of the same file sees a number, a bool
 * or null where the recipe meant a string.
 */
static const struct {
	enum yaml11_kind kind;
	const char *re;
} yaml11_resolvers[] = {
    {YAML11_BOOL, "^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|"
		  "Off|OFF)$"},
    {YAML11_INT, "^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|"
		 "[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$"},
    {YAML11_FLOAT, "^([-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?|"
		   "\\.[0-9][0-9_]*([eE][-+][0-9]+)?|"
		   "[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|"
		   "[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$"},
    {YAML11_NULL, "^(~|null|Null|NULL)$"},
    {YAML11_TIMESTAMP, "^([0-9]{4}-[0-9]{2}-[0-9]{2}|"
		       "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
		       "(\\.[0-9]*)?([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)$"},
    {YAML11_OTHER, "^(<<|=)$"},
};

/* Compiled expressions, kept for the life of the process (their number is
 * the number of patterns in the source). */
struct ytree_regex {
	const char *re;
	regex_t rx;
	int ok;
	struct ytree_regex *next;
};

static struct ytree_regex *ytree_regexes;
static pthread_mutex_t ytree_regex_lock = PTHREAD_MUTEX_INITIALIZER;

int ytree_re_match(const char *re, const char *s)
{
	struct ytree_regex *e;

	pthread_mutex_lock(&ytree_regex_lock);
	for (e = ytree_regexes; e && e->re != re && strcmp(e->re, re); e = e->next)
		;
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		e->re = re;
		e->ok = !regcomp(&e->rx, re, REG_EXTENDED | REG_NOSUB);
		e->next = ytree_regexes;
		ytree_regexes = e;
	}
	pthread_mutex_unlock(&ytree_regex_lock);
	/* regexec() only reads the compiled expression: no lock needed. */
	return e->ok && regexec(&e->rx, s, 0, NULL, 0) == 0;
}

enum yaml11_kind ytree_yaml11_kind(const char *plain)
{
	if (!*plain)
		return YAML11_NULL;
	/* PyYAML consults resolvers by first character: this is only a fast
	 * path, the expressions decide. */
	if (*plain && !strchr("yYnNtTfFoO0123456789+-.~<=", *plain))
		return YAML11_STR;
	for (size_t i = 0; i < sizeof(yaml11_resolvers) / sizeof(yaml11_resolvers[0]); i++)
		if (ytree_re_match(yaml11_resolvers[i].re, plain))
			return yaml11_resolvers[i].kind;
	return YAML11_STR;
}

int ytree_yaml11_bool(const char *plain)
{
	static const char *const yes[] = {"yes",  "Yes", "YES", "true", "True",
					  "TRUE", "on",	 "On",	"ON",	NULL};

	if (ytree_yaml11_kind(plain) != YAML11_BOOL)
		return -1;
	for (size_t i = 0; yes[i]; i++)
		if (!strcmp(plain, yes[i]))
			return 1;
	return 0;
}

/* PyYAML's construct_yaml_int, with overflow checks. */
int ytree_yaml11_int(const char *plain, long *out)
{
	char digits[64], *end;
	size_t n = 0;
	int neg = 0, base = 10;
	long v = 0;
	const char *p;

	if (ytree_yaml11_kind(plain) != YAML11_INT)
		return -1;
	for (p = plain; *p; p++)
		if (*p != '_') {
			if (n + 1 >= sizeof(digits))
				return -1;
			digits[n++] = *p;
		}
	digits[n] = '\0';
	p = digits;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (strchr(p, ':')) {
		/* sexagesimal: 1:30:00 */
		while (*p) {
			long part = strtol(p, &end, 10);

			if (v > (LONG_MAX - part) / 60)
				return -1;
			v = v * 60 + part;
			p = *end == ':' ? end + 1 : end;
		}
		*out = neg ? -v : v;
		return 0;
	}
	if (p[0] == '0' && p[1] == 'b')
		base = 2, p += 2;
	else if (p[0] == '0' && p[1] == 'x')
		base = 16, p += 2;
	else if (p[0] == '0' && p[1])
		base = 8, p += 1;
	errno = 0;
	v = strtol(p, &end, base);
	if (errno || *end)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

size_t ytree_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xmalloc((lb + 1) * sizeof(*row));
	size_t d;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	d = row[lb];
	free(row);
	return d;
}
