#include <stdlib.h>
#include <string.h>

#include "core/pkgdb.h"
#include "util/strbuf.h"

void pkgdb_pkg_free(void *p)
{
	struct pkgdb_pkg *pkg = p;

	if (!pkg)
		return;
	free(pkg->name);
	free(pkg->version);
	free(pkg);
}

static void flush_pkg(struct vec *out, char **name, char **version, int installed)
{
	if (*name && installed) {
		struct pkgdb_pkg *pkg = xcalloc(1, sizeof(*pkg));

		pkg->name = *name;
		pkg->version = *version;
		vec_push(out, pkg);
	} else {
		free(*name);
		free(*version);
	}
	*name = *version = NULL;
}

void pkgdb_parse_dpkg_status(const char *text, size_t len, struct vec *out)
{
	const char *p = text, *end = text + len;
	char *name = NULL, *version = NULL;
	int installed = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *v;

		if (n == 0) {
			flush_pkg(out, &name, &version, installed);
			installed = 1;
		} else if (*p != ' ' && *p != '\t' && (v = memchr(p, ':', n))) {
			size_t klen = (size_t)(v - p);
			const char *val = v + 1;
			size_t vlen = n - klen - 1;

			while (vlen && (*val == ' ' || *val == '\t'))
				val++, vlen--;
			while (vlen && (val[vlen - 1] == ' ' || val[vlen - 1] == '\r'))
				vlen--;
			if (klen == 7 && !strncmp(p, "Package", 7)) {
				flush_pkg(out, &name, &version, installed);
				installed = 1;
				name = xstrndup(val, vlen);
			} else if (klen == 7 && !strncmp(p, "Version", 7)) {
				free(version);
				version = xstrndup(val, vlen);
			} else if (klen == 6 && !strncmp(p, "Status", 6)) {
				installed =
				    vlen >= 10 && !strncmp(val + vlen - 10, " installed", 10);
			}
		}
		p += n + 1;
	}
	flush_pkg(out, &name, &version, installed);
}

char *pkgdb_list_package(const char *base)
{
	size_t n = strlen(base);
	const char *colon;

	if (n <= 5 || strcmp(base + n - 5, ".list"))
		return NULL;
	n -= 5;
	colon = memchr(base, ':', n);
	return xstrndup(base, colon ? (size_t)(colon - base) : n);
}

void pkgdb_each_line(const char *text, size_t len, void (*fn)(void *ctx, const char *s, size_t n),
		     void *ctx)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n && p[n - 1] == '\r')
			n--;
		if (n)
			fn(ctx, p, n);
		p += (nl ? (size_t)(nl - p) : n) + 1;
	}
}

void pkgdb_each_record_path(const char *text, size_t len,
			    void (*fn)(void *ctx, const char *s, size_t n), void *ctx)
{
	const char *p = text, *end = text + len;
	struct strbuf sb = STRBUF_INIT;

	while (p < end) {
		strbuf_reset(&sb);
		if (*p == '"') {
			/* A quoted field: "" is a quote. */
			for (p++; p < end; p++) {
				if (*p == '"') {
					if (p + 1 < end && p[1] == '"') {
						strbuf_addch(&sb, '"');
						p++;
						continue;
					}
					p++;
					break;
				}
				strbuf_addch(&sb, *p);
			}
		} else {
			const char *q = p;

			while (q < end && *q != ',' && *q != '\n' && *q != '\r')
				q++;
			strbuf_add(&sb, p, (size_t)(q - p));
			p = q;
		}
		if (sb.len)
			fn(ctx, sb.buf, sb.len);
		while (p < end && *p != '\n')
			p++;
		p++;
	}
	strbuf_release(&sb);
}

int pkgdb_distinfo_name(const char *dirname, char **name, char **version)
{
	size_t n = strlen(dirname);
	const char *dash;

	*name = *version = NULL;
	if (n <= 10 || strcmp(dirname + n - 10, ".dist-info"))
		return -1;
	n -= 10;
	dash = memchr(dirname, '-', n);
	if (!dash || dash == dirname)
		return -1;
	*name = xstrndup(dirname, (size_t)(dash - dirname));
	*version = xstrndup(dash + 1, n - (size_t)(dash - dirname) - 1);
	return 0;
}
