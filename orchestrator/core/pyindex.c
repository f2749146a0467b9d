#include "core/pyindex.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <jansson.h>

#include "core/pep440.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/retry.h"
#include "util/strbuf.h"

#define PYINDEX_TIMEOUT_MS	   30000
#define PYINDEX_CONNECT_TIMEOUT_MS 10000
#define PYINDEX_BODY_CAP	   (32u << 20)
#define PYINDEX_WHEEL_CAP	   (4ull << 30)

/* PEP 691 first; the HTML forms as the fallback (PEP 691's own example). */
#define PYINDEX_ACCEPT                                                                             \
	"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "         \
	"text/html;q=0.01"
#define PYINDEX_ACCEPT_HTML "application/vnd.pypi.simple.v1+html, text/html;q=0.9"

/* ---- URLs ---- */

/* Where the authority of `url` starts and ends ("scheme://AUTHORITY/..."); 0 when none. */
static int pyindex_authority(const char *url, size_t *start, size_t *end)
{
	const char *sep = strstr(url, "://");

	if (!sep || strcspn(url, "/?#") < (size_t)(sep - url))
		return 0;
	*start = sep - url + 3;
	*end = *start + strcspn(url + *start, "/?#");
	return 1;
}

char *pyindex_redact_url(const char *url)
{
	size_t a, b;
	const char *at;

	if (!pyindex_authority(url, &a, &b))
		return xstrdup(url);
	at = NULL;
	for (size_t i = a; i < b; i++)
		if (url[i] == '@')
			at = url + i;
	if (!at)
		return xstrdup(url);
	return xstrfmt("%.*s%s", (int)a, url, at + 1);
}

int pyindex_url_credentials(const char *url, struct pyindex_credentials *out)
{
	CURLU *u = curl_url();
	char *host = NULL, *user = NULL, *password = NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!u)
		return 0;
	/* CURLU_URLDECODE: netrc and pip want the user and password as they are. */
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ||
	    curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) || !user ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) || !host)
		goto done;
	if (curl_url_get(u, CURLUPART_PASSWORD, &password, CURLU_URLDECODE))
		password = NULL;
	out->host = xstrdup(host);
	out->user = xstrdup(user);
	out->password = xstrdup(password ? password : "");
	ret = 1;
done:
	curl_free(host);
	curl_free(user);
	curl_free(password);
	curl_url_cleanup(u);
	return ret;
}

void pyindex_credentials_release(struct pyindex_credentials *c)
{
	free(c->host);
	free(c->user);
	free(c->password);
	memset(c, 0, sizeof(*c));
}

/* Same scheme, host and port. */
static int pyindex_same_origin(CURLU *a, CURLU *b)
{
	static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
	int same = 1;

	for (size_t i = 0; i < 3 && same; i++) {
		char *x = NULL, *y = NULL;

		curl_url_get(a, parts[i], &x, CURLU_DEFAULT_PORT);
		curl_url_get(b, parts[i], &y, CURLU_DEFAULT_PORT);
		same = x && y && !strcasecmp(x, y);
		curl_free(x);
		curl_free(y);
	}
	return same;
}

/* Give `to` the credentials of `from` when it has none and is on the same origin: a
 * link on an index behind auth needs the index's credentials, as pip sends them. */
static void pyindex_copy_creds(CURLU *to, CURLU *from)
{
	char *user = NULL, *pass = NULL, *have = NULL;

	if (curl_url_get(to, CURLUPART_USER, &have, 0) == CURLUE_OK) {
		curl_free(have);
		return;
	}
	if (curl_url_get(from, CURLUPART_USER, &user, 0) != CURLUE_OK)
		return;
	if (pyindex_same_origin(to, from)) {
		curl_url_set(to, CURLUPART_USER, user, 0);
		if (curl_url_get(from, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
			curl_url_set(to, CURLUPART_PASSWORD, pass, 0);
	}
	if (pass)
		memset(pass, 0, strlen(pass));
	curl_free(user);
	curl_free(pass);
}

/*
 * `href` resolved against `base` (RFC 3986, by libcurl's URL API): the
 * absolute URL without its fragment, the fragment, and the file name (the
 * last path segment, percent-decoded: "torch-2.9.0%2Bcu130-..." is
 * "torch-2.9.0+cu130-..."). 0, or -1 when either does not parse.
 */
static int pyindex_resolve(const char *base, const char *href, char **url, char **fragment,
			   char **filename)
{
	CURLU *b = curl_url(), *u = curl_url();
	char *s = NULL, *path = NULL;
	int ret = -1;

	*url = *fragment = *filename = NULL;
	if (!b || !u)
		goto done;
	if (curl_url_set(b, CURLUPART_URL, base, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		goto done;
	if (curl_url_set(u, CURLUPART_URL, base, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		goto done;
	if (curl_url_set(u, CURLUPART_URL, href, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		goto done;
	if (curl_url_get(u, CURLUPART_FRAGMENT, &s, 0) == CURLUE_OK) {
		*fragment = xstrdup(s);
		curl_free(s);
		s = NULL;
	}
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	pyindex_copy_creds(u, b);
	if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
		goto done;
	*url = xstrdup(s);
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
		const char *last = strrchr(path, '/');
		int n = 0;
		char *dec = curl_easy_unescape(NULL, last ? last + 1 : path, 0, &n);

		if (dec && n > 0 && !memchr(dec, '\0', n) && !memchr(dec, '/', n))
			*filename = xstrndup(dec, n);
		curl_free(dec);
	}
	ret = 0;
done:
	if (s)
		memset(s, 0, strlen(s));
	curl_free(s);
	curl_free(path);
	curl_url_cleanup(b);
	curl_url_cleanup(u);
	if (ret < 0) {
		free(*url);
		free(*fragment);
		*url = *fragment = NULL;
	}
	return ret;
}

/* ---- projects ---- */

static void pyindex_file_release(struct pyindex_file *f)
{
	free(f->filename);
	free(f->url);
	free(f->sha256);
	free(f->requires_python);
	free(f->yanked_reason);
	free(f->metadata_sha256);
	memset(f, 0, sizeof(*f));
}

void pyindex_project_release(struct pyindex_project *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->files_nr; i++)
		pyindex_file_release(&p->files[i]);
	free(p->files);
	free(p->name);
	free(p->page_url);
	memset(p, 0, sizeof(*p));
}

/* The project's normalized name from its page URL: ".../simple/Torch/" -> "torch". */
static char *pyindex_name_from_url(const char *page_url)
{
	size_t n = strcspn(page_url, "?#"), end;
	char *raw, *name;

	while (n && page_url[n - 1] == '/')
		n--;
	end = n;
	while (n && page_url[n - 1] != '/')
		n--;
	raw = xstrndup(page_url + n, end - n);
	name = pyname_normalize(raw);
	free(raw);
	return name;
}

static void pyindex_project_init(struct pyindex_project *p, const char *page_url)
{
	memset(p, 0, sizeof(*p));
	p->name = pyindex_name_from_url(page_url);
	p->page_url = pyindex_redact_url(page_url);
}

/* A 64-digit hex SHA-256, lowercased; NULL when `hex` is not one. */
static char *pyindex_sha256(const char *hex, size_t n)
{
	char *out;

	if (n != 64)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return NULL;
	out = xstrndup(hex, n);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

/* "sha256=HEX" in a URL fragment or a data-*-metadata value (other hashes may stand
 * beside it, '&'-separated). 0 with *out set or left NULL; -1 for a malformed one. */
static int pyindex_hash_param(const char *s, char **out)
{
	const char *p = s;

	*out = NULL;
	while (p && *p) {
		size_t n = strcspn(p, "&");

		if (n > 7 && !strncasecmp(p, "sha256=", 7)) {
			*out = pyindex_sha256(p + 7, n - 7);
			return *out ? 0 : -1;
		}
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

/* Fill `f` from an href (resolved against `base`); the fragment's sha256 when given. */
static int pyindex_file_from_href(struct pyindex_file *f, const char *base, const char *href,
				  const char *text)
{
	char *fragment = NULL, *redacted;
	int ret = 0;

	if (pyindex_resolve(base, href, &f->url, &fragment, &f->filename) < 0) {
		redacted = pyindex_redact_url(href);
		ret = error_setc(GS_EINVAL, "link '%.300s' is not a URL", redacted);
		free(redacted);
		return ret;
	}
	if (!f->filename && text && *text)
		f->filename = xstrdup(text);
	if (!f->filename) {
		redacted = pyindex_redact_url(f->url);
		ret = error_setc(GS_EINVAL, "link '%.300s' names no file", redacted);
		free(redacted);
	} else if (fragment && pyindex_hash_param(fragment, &f->sha256) < 0) {
		ret = error_setc(GS_EINVAL, "file '%.200s': malformed sha256 in its URL",
				 f->filename);
	}
	free(fragment);
	return ret;
}

static struct pyindex_file *pyindex_add_file(struct pyindex_project *p, size_t *alloc)
{
	ALLOC_GROW(p->files, p->files_nr + 1, *alloc);
	memset(&p->files[p->files_nr], 0, sizeof(p->files[0]));
	return &p->files[p->files_nr++];
}

/* ---- PEP 691 JSON ---- */

/* "core-metadata": true | false | {"sha256": ...} (and PEP 714's older names). */
static int pyindex_json_metadata(struct pyindex_file *f, json_t *file)
{
	static const char *const keys[] = {"core-metadata", "dist-info-metadata",
					   "data-dist-info-metadata"};

	for (size_t i = 0; i < 3; i++) {
		json_t *m = json_object_get(file, keys[i]);
		json_t *h;

		if (!m)
			continue;
		if (json_is_object(m)) {
			f->has_metadata = 1;
			h = json_object_get(m, "sha256");
			if (json_is_string(h)) {
				f->metadata_sha256 =
				    pyindex_sha256(json_string_value(h), json_string_length(h));
				if (!f->metadata_sha256)
					return error_setc(
					    GS_EINVAL, "file '%.200s': malformed metadata sha256",
					    f->filename);
			}
		} else {
			f->has_metadata = json_is_true(m);
		}
		return 0;
	}
	return 0;
}

int pyindex_parse_json(const char *body, size_t len, const char *page_url,
		       struct pyindex_project *out)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr), *files, *meta, *name;
	size_t alloc = 0, i;
	int ret = 0;

	pyindex_project_init(out, page_url);
	if (!root || !json_is_object(root)) {
		ret = error_setc(GS_EINVAL, "not a PEP 691 project page: %s",
				 root ? "not a JSON object" : jerr.text);
		goto done;
	}
	meta = json_object_get(root, "meta");
	if (meta) {
		json_t *v = json_object_get(meta, "api-version");

		if (json_is_string(v) && strtol(json_string_value(v), NULL, 10) != 1) {
			ret = error_setc(GS_EINVAL, "PEP 691 api-version '%.20s' is not 1.x",
					 json_string_value(v));
			goto done;
		}
	}
	name = json_object_get(root, "name");
	if (json_is_string(name)) {
		free(out->name);
		out->name = pyname_normalize(json_string_value(name));
	}
	files = json_object_get(root, "files");
	if (!json_is_array(files)) {
		ret = error_setc(GS_EINVAL, "not a PEP 691 project page: no \"files\" array");
		goto done;
	}
	for (i = 0; i < json_array_size(files); i++) {
		json_t *file = json_array_get(files, i);
		json_t *fn = json_object_get(file, "filename"), *url = json_object_get(file, "url");
		json_t *hashes, *rp, *y;
		struct pyindex_file *f;

		if (!json_is_string(fn) || !json_is_string(url) || !json_string_length(fn)) {
			ret = error_setc(GS_EINVAL,
					 "PEP 691 file %zu has no \"filename\" or \"url\" string",
					 i + 1);
			goto done;
		}
		f = pyindex_add_file(out, &alloc);
		ret = pyindex_file_from_href(f, page_url, json_string_value(url), NULL);
		if (ret < 0)
			goto done;
		/* The page's filename is the truth; a URL may be a redirector's. */
		free(f->filename);
		f->filename = xstrndup(json_string_value(fn), json_string_length(fn));
		hashes = json_object_get(file, "hashes");
		if (json_is_string(json_object_get(hashes, "sha256"))) {
			json_t *h = json_object_get(hashes, "sha256");

			free(f->sha256);
			f->sha256 = pyindex_sha256(json_string_value(h), json_string_length(h));
			if (!f->sha256) {
				ret = error_setc(GS_EINVAL, "file '%.200s': malformed sha256",
						 f->filename);
				goto done;
			}
		}
		rp = json_object_get(file, "requires-python");
		if (json_is_string(rp) && json_string_length(rp))
			f->requires_python = xstrdup(json_string_value(rp));
		y = json_object_get(file, "yanked");
		if (json_is_string(y)) {
			f->yanked = 1;
			if (json_string_length(y))
				f->yanked_reason = xstrdup(json_string_value(y));
		} else {
			f->yanked = json_is_true(y);
		}
		ret = pyindex_json_metadata(f, file);
		if (ret < 0)
			goto done;
	}
done:
	json_decref(root);
	if (ret < 0)
		pyindex_project_release(out);
	return ret;
}

/* ---- PEP 503 HTML ---- */

static void pyindex_utf8(struct strbuf *sb, unsigned long cp)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		strbuf_addch(sb, (int)cp);
	} else if (cp < 0x800) {
		strbuf_addch(sb, 0xc0 | (int)(cp >> 6));
		strbuf_addch(sb, 0x80 | (int)(cp & 0x3f));
	} else if (cp < 0x10000) {
		strbuf_addch(sb, 0xe0 | (int)(cp >> 12));
		strbuf_addch(sb, 0x80 | (int)((cp >> 6) & 0x3f));
		strbuf_addch(sb, 0x80 | (int)(cp & 0x3f));
	} else {
		strbuf_addch(sb, 0xf0 | (int)(cp >> 18));
		strbuf_addch(sb, 0x80 | (int)((cp >> 12) & 0x3f));
		strbuf_addch(sb, 0x80 | (int)((cp >> 6) & 0x3f));
		strbuf_addch(sb, 0x80 | (int)(cp & 0x3f));
	}
}

/* s[0..n) with its character references decoded (&amp; &lt; &#62; &#x3e; ...);
 * one that is not known stays as written. */
static char *pyindex_html_decode(const char *s, size_t n)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
	struct strbuf sb = STRBUF_INIT;

	strbuf_init(&sb, n);
	for (size_t i = 0; i < n; i++) {
		size_t k, rest = n - i - 1;

		if (s[i] != '&') {
			strbuf_addch(&sb, s[i]);
			continue;
		}
		for (k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
			size_t l = strlen(named[k].name);

			if (rest >= l && !strncmp(s + i + 1, named[k].name, l)) {
				strbuf_addch(&sb, named[k].c);
				i += l;
				break;
			}
		}
		if (k < sizeof(named) / sizeof(named[0]))
			continue;
		if (rest >= 3 && s[i + 1] == '#') {
			int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
			size_t j = i + 2 + hex, start = j;
			unsigned long cp = 0;

			while (j < n && (hex ? isxdigit((unsigned char)s[j])
					     : isdigit((unsigned char)s[j]))) {
				if (cp <= 0x10ffff)
					cp = cp * (hex ? 16 : 10) +
					     (unsigned long)(isdigit((unsigned char)s[j])
								 ? s[j] - '0'
								 : tolower((unsigned char)s[j]) -
								       'a' + 10);
				j++;
			}
			if (j > start && j < n && s[j] == ';') {
				pyindex_utf8(&sb, cp);
				i = j;
				continue;
			}
		}
		strbuf_addch(&sb, '&');
	}
	return strbuf_detach(&sb, NULL);
}

struct html_attr {
	char *name;  /* lowercase */
	char *value; /* decoded; "" for a bare attribute */
};

struct html_tag {
	char name[8]; /* lowercase, "" for one not kept */
	struct html_attr *attrs;
	size_t nr, alloc;
};

static void html_tag_release(struct html_tag *t)
{
	for (size_t i = 0; i < t->nr; i++) {
		free(t->attrs[i].name);
		free(t->attrs[i].value);
	}
	free(t->attrs);
	memset(t, 0, sizeof(*t));
}

/* The value of attribute `name`, or NULL when the tag has none. */
static const char *html_attr(const struct html_tag *t, const char *name)
{
	for (size_t i = 0; i < t->nr; i++)
		if (!strcmp(t->attrs[i].name, name))
			return t->attrs[i].value;
	return NULL;
}

static int html_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* A start tag at s[*i] == '<'; *i is left after its '>'. Only <a> and <base> keep
 * their attributes. */
static void html_read_tag(const char *s, size_t n, size_t *i, struct html_tag *t)
{
	size_t j = *i + 1, k = 0;

	memset(t, 0, sizeof(*t));
	while (j < n && isalnum((unsigned char)s[j])) {
		if (k < sizeof(t->name) - 1)
			t->name[k++] = (char)tolower((unsigned char)s[j]);
		j++;
	}
	t->name[k] = '\0';
	if (strcmp(t->name, "a") && strcmp(t->name, "base"))
		t->name[0] = '\0';
	while (j < n && s[j] != '>') {
		size_t a, b;
		char *value = NULL;

		if (html_space(s[j]) || s[j] == '/') {
			j++;
			continue;
		}
		a = j;
		while (j < n && !html_space(s[j]) && s[j] != '=' && s[j] != '>' && s[j] != '/')
			j++;
		b = j;
		while (j < n && html_space(s[j]))
			j++;
		if (j < n && s[j] == '=') {
			size_t vs, ve;

			j++;
			while (j < n && html_space(s[j]))
				j++;
			if (j < n && (s[j] == '"' || s[j] == '\'')) {
				char q = s[j++];

				vs = j;
				while (j < n && s[j] != q)
					j++;
				ve = j;
				if (j < n)
					j++;
			} else {
				vs = j;
				while (j < n && !html_space(s[j]) && s[j] != '>')
					j++;
				ve = j;
			}
			if (t->name[0])
				value = pyindex_html_decode(s + vs, ve - vs);
		} else if (t->name[0]) {
			value = xstrdup("");
		}
		if (value && b > a) {
			char *name = xstrndup(s + a, b - a);

			for (char *p = name; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			ALLOC_GROW(t->attrs, t->nr + 1, t->alloc);
			t->attrs[t->nr].name = name;
			t->attrs[t->nr++].value = value;
		} else {
			free(value);
		}
		if (b == a && j < n && s[j] != '>')
			j++; /* a stray '=': step over it */
	}
	*i = j < n ? j + 1 : n;
}

/* The text of an <a> up to its "</a", decoded and trimmed. */
static char *html_anchor_text(const char *s, size_t n, size_t *i)
{
	size_t j = *i, a, b;

	while (j < n && !(s[j] == '<' && j + 2 < n && s[j + 1] == '/' &&
			  (s[j + 2] == 'a' || s[j + 2] == 'A')))
		j++;
	a = *i;
	b = j;
	while (a < b && html_space(s[a]))
		a++;
	while (b > a && html_space(s[b - 1]))
		b--;
	*i = j;
	return pyindex_html_decode(s + a, b - a);
}

static int pyindex_html_anchor(struct pyindex_project *p, size_t *alloc, const char *base,
			       const struct html_tag *t, const char *text)
{
	const char *href = html_attr(t, "href"), *rp, *y, *m;
	struct pyindex_file *f;
	int ret;

	if (!href || !*href)
		return 0;
	f = pyindex_add_file(p, alloc);
	ret = pyindex_file_from_href(f, base, href, text);
	if (ret < 0)
		return ret;
	rp = html_attr(t, "data-requires-python");
	if (rp && *rp)
		f->requires_python = xstrdup(rp);
	y = html_attr(t, "data-yanked");
	if (y) {
		f->yanked = 1;
		if (*y)
			f->yanked_reason = xstrdup(y);
	}
	/* PEP 714: data-core-metadata, else PEP 658's data-dist-info-metadata. */
	m = html_attr(t, "data-core-metadata");
	if (!m)
		m = html_attr(t, "data-dist-info-metadata");
	if (m && strcasecmp(m, "false")) {
		f->has_metadata = 1;
		if (pyindex_hash_param(m, &f->metadata_sha256) < 0)
			return error_setc(GS_EINVAL, "file '%.200s': malformed metadata sha256",
					  f->filename);
	}
	return 0;
}

int pyindex_parse_html(const char *body, size_t len, const char *page_url,
		       struct pyindex_project *out)
{
	char *base = xstrdup(page_url);
	size_t alloc = 0, i = 0;
	int ret = 0;

	pyindex_project_init(out, page_url);
	while (i < len) {
		struct html_tag t;
		char *text = NULL;

		if (body[i] != '<') {
			i++;
			continue;
		}
		if (len - i >= 4 && !memcmp(body + i, "<!--", 4)) {
			const char *end = NULL;

			for (size_t j = i + 4; j + 3 <= len && !end; j++)
				if (!memcmp(body + j, "-->", 3))
					end = body + j;
			i = end ? (size_t)(end - body) + 3 : len;
			continue;
		}
		if (i + 1 >= len || !isalpha((unsigned char)body[i + 1])) {
			i++;
			continue;
		}
		html_read_tag(body, len, &i, &t);
		if (!strcmp(t.name, "base") && html_attr(&t, "href") && !strcmp(base, page_url)) {
			char *url, *frag, *file;

			/* <base href> moves where relative links point (pip honours it). */
			if (pyindex_resolve(page_url, html_attr(&t, "href"), &url, &frag, &file) ==
			    0) {
				free(base);
				base = url;
				free(frag);
				free(file);
			}
		} else if (!strcmp(t.name, "a")) {
			text = html_anchor_text(body, len, &i);
			ret = pyindex_html_anchor(out, &alloc, base, &t, text);
		}
		free(text);
		html_tag_release(&t);
		if (ret < 0)
			break;
	}
	free(base);
	if (ret < 0)
		pyindex_project_release(out);
	return ret;
}

/* ---- core metadata ---- */

void pyindex_metadata_release(struct pyindex_metadata *m)
{
	free(m->name);
	free(m->version);
	free(m->requires_python);
	vec_release(&m->requires_dist);
	memset(m, 0, sizeof(*m));
	vec_init(&m->requires_dist, free);
}

static void pyindex_metadata_field(struct pyindex_metadata *m, const char *name, char *value)
{
	char **slot = NULL;

	if (!strcasecmp(name, "Requires-Dist")) {
		vec_push(&m->requires_dist, value);
		return;
	}
	if (!strcasecmp(name, "Name"))
		slot = &m->name;
	else if (!strcasecmp(name, "Version"))
		slot = &m->version;
	else if (!strcasecmp(name, "Requires-Python"))
		slot = &m->requires_python;
	if (slot && !*slot) {
		*slot = value;
		return;
	}
	free(value);
}

/* Trim blanks around a header value and give it to the metadata. */
static void pyindex_metadata_flush(struct pyindex_metadata *m, struct strbuf *name,
				   struct strbuf *value)
{
	size_t a = 0, b = value->len;

	if (name->len) {
		while (a < b && isspace((unsigned char)value->buf[a]))
			a++;
		while (b > a && isspace((unsigned char)value->buf[b - 1]))
			b--;
		pyindex_metadata_field(m, name->buf, xstrndup(value->buf + a, b - a));
	}
	strbuf_reset(name);
	strbuf_reset(value);
}

int pyindex_parse_metadata(const char *body, size_t len, struct pyindex_metadata *out)
{
	struct strbuf name = STRBUF_INIT, value = STRBUF_INIT;
	size_t i = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	vec_init(&out->requires_dist, free);
	strbuf_init(&name, 32);
	strbuf_init(&value, 128);
	while (i < len) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - body) : len, e = end;
		const char *line = body + i, *colon;

		if (e > i && body[e - 1] == '\r')
			e--;
		i = nl ? end + 1 : len;
		if (e == (size_t)(line - body))
			break; /* the blank line: the description follows */
		if (*line == ' ' || *line == '\t') {
			/* A folded line continues the header before it (RFC 5322 unfolding). */
			if (name.len) {
				strbuf_addch(&value, ' ');
				strbuf_add(&value, line, e - (line - body));
			}
			continue;
		}
		pyindex_metadata_flush(out, &name, &value);
		colon = memchr(line, ':', e - (line - body));
		if (!colon)
			continue; /* not a header: the email parser passes over it too */
		strbuf_add(&name, line, colon - line);
		strbuf_add(&value, colon + 1, e - (colon + 1 - body));
		if (memchr(name.buf, '\0', name.len) || memchr(value.buf, '\0', value.len))
			strbuf_reset(&name);
	}
	pyindex_metadata_flush(out, &name, &value);
	if (!out->name || !*out->name || !out->version || !*out->version) {
		ret = error_setc(GS_EINVAL, "core metadata without %s",
				 !out->name || !*out->name ? "a Name" : "a Version");
		pyindex_metadata_release(out);
	}
	strbuf_release(&name);
	strbuf_release(&value);
	return ret;
}

/* ---- the client ---- */

struct pyindex_page {
	char *url; /* the page, credentials included: the cache key */
	int done;  /* 0 while its first asker fetches it */
	int ret;
	char *err;
	struct pyindex_project project;
};

/* A wheel's core metadata, fetched once per client like a page: the cells
 * of a matrix that take the same wheel share one request. */
struct pyindex_meta {
	char *key; /* the file's url (credentials included), '#', its sha256 */
	int done;
	int ret;
	char *err;
	struct pyindex_metadata md;
};

struct pyindex_client {
	long timeout_ms, connect_timeout_ms;
	size_t body_cap;
	unsigned long long wheel_cap;
	char *user_agent;
	pthread_mutex_t lock; /* guards pages and metas */
	pthread_cond_t cond;  /* a page or a metadata is done */
	struct pyindex_page **pages;
	size_t pages_nr, pages_alloc;
	struct pyindex_meta **metas;
	size_t metas_nr, metas_alloc;
};

static pthread_once_t pyindex_once = PTHREAD_ONCE_INIT;
static CURLcode pyindex_init_rc;

static void pyindex_global_init(void)
{
	pyindex_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct pyindex_client *pyindex_client_new(const struct pyindex_opts *opts)
{
	static const struct pyindex_opts none;
	struct pyindex_client *c = xcalloc(1, sizeof(*c));

	if (!opts)
		opts = &none;
	pthread_once(&pyindex_once, pyindex_global_init);
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : PYINDEX_TIMEOUT_MS;
	c->connect_timeout_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : PYINDEX_CONNECT_TIMEOUT_MS;
	c->body_cap = opts->body_cap ? opts->body_cap : PYINDEX_BODY_CAP;
	c->wheel_cap = opts->wheel_cap ? opts->wheel_cap : PYINDEX_WHEEL_CAP;
	c->user_agent = xstrdup(opts->user_agent ? opts->user_agent : "gpuslim");
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	return c;
}

static void pyindex_secret_free(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

void pyindex_client_free(struct pyindex_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->pages_nr; i++) {
		pyindex_secret_free(c->pages[i]->url);
		free(c->pages[i]->err);
		pyindex_project_release(&c->pages[i]->project);
		free(c->pages[i]);
	}
	free(c->pages);
	for (size_t i = 0; i < c->metas_nr; i++) {
		pyindex_secret_free(c->metas[i]->key);
		free(c->metas[i]->err);
		pyindex_metadata_release(&c->metas[i]->md);
		vec_release(&c->metas[i]->md.requires_dist);
		free(c->metas[i]);
	}
	free(c->metas);
	free(c->user_agent);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

/* What one exchange brought back. */
struct pyindex_resp {
	long status;
	struct strbuf body; /* capped at the client's body_cap */
	char *ctype;	    /* Content-Type, lowercase, without parameters */
	char *retry_after;
	char *effective_url; /* after redirects */
	int overflow;
	/* Streaming to a file (a wheel): 2xx bodies go to `fd`, hashed, capped. */
	int fd;
	struct hash_sha256 *sha;
	unsigned long long streamed, stream_cap;
	int stream_failed;
};

static void pyindex_resp_init(struct pyindex_resp *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->body, 0);
	r->body.cap = cap;
	r->fd = -1;
}

static void pyindex_resp_reset(struct pyindex_resp *r)
{
	strbuf_reset(&r->body);
	free(r->ctype);
	free(r->retry_after);
	r->ctype = r->retry_after = NULL;
	r->status = 0;
	r->overflow = 0;
	r->stream_failed = 0;
	if (r->fd >= 0) {
		hash_sha256_free(r->sha);
		r->sha = hash_sha256_new();
		r->streamed = 0;
		if (ftruncate(r->fd, 0) < 0 || lseek(r->fd, 0, SEEK_SET) < 0)
			r->stream_failed = 1;
	}
}

static void pyindex_resp_release(struct pyindex_resp *r)
{
	pyindex_resp_reset(r);
	strbuf_release(&r->body);
	hash_sha256_free(r->sha);
	r->sha = NULL;
	free(r->effective_url);
	r->effective_url = NULL;
}

static size_t pyindex_on_header(char *buf, size_t size, size_t nitems, void *data)
{
	struct pyindex_resp *r = data;
	size_t len = size * nitems, n;
	const char *colon;
	char **slot = NULL;

	/* A new status line starts a new response (a redirect, a 100). */
	if (len > 5 && !strncmp(buf, "HTTP/", 5)) {
		const char *sp = memchr(buf, ' ', len);

		pyindex_resp_reset(r);
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return len;
	}
	colon = memchr(buf, ':', len);
	if (!colon)
		return len;
	if ((size_t)(colon - buf) == 12 && !strncasecmp(buf, "Content-Type", 12))
		slot = &r->ctype;
	else if ((size_t)(colon - buf) == 11 && !strncasecmp(buf, "Retry-After", 11))
		slot = &r->retry_after;
	if (!slot)
		return len;
	colon++;
	n = len - (colon - buf);
	while (n && (*colon == ' ' || *colon == '\t'))
		colon++, n--;
	while (n && (colon[n - 1] == '\r' || colon[n - 1] == '\n' || colon[n - 1] == ' '))
		n--;
	free(*slot);
	*slot = xstrndup(colon, n);
	if (slot == &r->ctype) {
		(*slot)[strcspn(*slot, "; ")] = '\0';
		for (char *p = *slot; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	return len;
}

static size_t pyindex_on_body(char *buf, size_t size, size_t nmemb, void *data)
{
	struct pyindex_resp *r = data;
	size_t len = size * nmemb;

	if (r->fd >= 0 && r->status >= 200 && r->status < 300) {
		if (r->stream_failed)
			return 0;
		if (r->streamed + len > r->stream_cap) {
			r->overflow = 1;
			return 0;
		}
		for (size_t off = 0; off < len;) {
			ssize_t w = write(r->fd, buf + off, len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				r->stream_failed = 1;
				return 0;
			}
			off += (size_t)w;
		}
		hash_sha256_update(r->sha, buf, len);
		r->streamed += len;
		return len;
	}
	if (strbuf_add(&r->body, buf, len) < 0) {
		r->overflow = 1;
		return 0;
	}
	return len;
}

/* One request; the CURLcode, with r filled as far as the server answered. */
static CURLcode pyindex_exchange(struct pyindex_client *c, const char *url, const char *accept,
				 struct pyindex_resp *r)
{
	struct curl_slist *hdrs = NULL;
	CURL *h = curl_easy_init();
	CURLcode cc;
	char *line, *eff = NULL;

	if (!h)
		return CURLE_FAILED_INIT;
	pyindex_resp_reset(r);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	if (r->fd >= 0) {
		/* A wheel may be large; only a stall is a failure. */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (c->timeout_ms + 999) / 1000);
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	}
	/* Credentials in the URL are curl's to send; it does not send them to
	 * another host after a redirect. */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, pyindex_on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, pyindex_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (accept) {
		line = xstrfmt("Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, line);
		free(line);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) {
		free(r->effective_url);
		r->effective_url = xstrdup(eff);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return cc;
}

static const char *pyindex_tries(unsigned tries, char *buf, size_t n)
{
	if (tries <= 1)
		return "";
	snprintf(buf, n, " (after %u tries)", tries);
	return buf;
}

/*
 * GET `url` with the retries of util/retry.h. 0 with a 2xx answer in `r`;
 * else the error, naming the URL redacted: GS_ENOTFOUND for a 404 or 410,
 * GS_EINFRA for a transport failure or a server error after the retries,
 * GS_EINVAL for other answers and bodies over the cap.
 */
static int pyindex_get(struct pyindex_client *c, const char *url, const char *accept,
		       struct pyindex_resp *r, int *not_acceptable)
{
	struct retry_policy policy;
	char *shown = pyindex_redact_url(url), tries_buf[32], msg[256];
	const char *tries;
	unsigned attempt = 0;
	long waited = 0;
	CURLcode cc;
	int ret = 0;

	if (pyindex_init_rc != CURLE_OK) {
		ret = error_setc(GS_EINFRA, "cannot initialize libcurl: %s",
				 curl_easy_strerror(pyindex_init_rc));
		goto done;
	}
	retry_policy_default(&policy);
	for (;;) {
		long wait;

		attempt++;
		cc = pyindex_exchange(c, url, accept, r);
		if (cc == CURLE_WRITE_ERROR && (r->overflow || r->stream_failed))
			break;
		if (cc == CURLE_OK && r->status >= 200 && r->status < 300)
			break;
		if (!retry_transient(cc, cc == CURLE_OK ? r->status : 0))
			break;
		wait = retry_delay_ms(&policy, attempt, cc == CURLE_OK ? r->retry_after : NULL,
				      waited);
		if (wait < 0)
			break;
		retry_sleep_ms(wait);
		waited += wait;
	}
	tries = pyindex_tries(attempt, tries_buf, sizeof(tries_buf));
	if (cc == CURLE_WRITE_ERROR && r->overflow) {
		ret = error_setc(GS_EINVAL, "'%s' sent more than %llu bytes", shown,
				 r->fd >= 0 ? r->stream_cap : (unsigned long long)r->body.cap);
	} else if (cc == CURLE_WRITE_ERROR && r->stream_failed) {
		ret = error_setc(GS_ERR, "cannot save '%s': %s", shown, strerror(errno));
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		ret = error_setc(GS_EINFRA, "'%s' did not answer within %ld ms%s", shown,
				 c->timeout_ms, tries);
	} else if (cc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s", curl_easy_strerror(cc));
		msg[0] = (char)tolower((unsigned char)msg[0]);
		ret = error_setc(GS_EINFRA, "cannot fetch '%s': %s%s", shown, msg, tries);
	} else if (r->status >= 200 && r->status < 300) {
		ret = 0;
	} else if (r->status == 404 || r->status == 410) {
		ret = error_setc(GS_ENOTFOUND, "'%s' does not exist (%ld)", shown, r->status);
	} else if (r->status == 406 && not_acceptable) {
		*not_acceptable = 1;
		ret = error_setc(GS_EINVAL, "'%s' answered 406", shown);
	} else if (r->status >= 500 || retry_transient(0, r->status)) {
		ret = error_setc(GS_EINFRA, "'%s' answered %ld%s", shown, r->status, tries);
	} else if (r->status == 401 || r->status == 403) {
		ret = error_setc(GS_EINVAL, "'%s' refused access (%ld): check the credentials",
				 shown, r->status);
	} else {
		ret = error_setc(GS_EINVAL, "'%s' answered %ld", shown, r->status);
	}
done:
	free(shown);
	return ret;
}

/* The page URL of a project: <index_url>/<normalized>/. */
static char *pyindex_page_url(const char *index_url, const char *name)
{
	size_t n = strlen(index_url);
	char *norm = pyname_normalize(name), *url;

	while (n && index_url[n - 1] == '/')
		n--;
	url = xstrfmt("%.*s/%s/", (int)n, index_url, norm);
	free(norm);
	return url;
}

/* The page the answer came from, for relative links: curl's effective URL,
 * with the asked URL's credentials when curl left them out. */
static char *pyindex_base_url(const char *asked, const char *effective)
{
	CURLU *a = curl_url(), *e = curl_url();
	char *s = NULL, *out;

	if (!effective || !a || !e ||
	    curl_url_set(a, CURLUPART_URL, asked, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_set(e, CURLUPART_URL, effective, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		curl_url_cleanup(a);
		curl_url_cleanup(e);
		return xstrdup(asked);
	}
	pyindex_copy_creds(e, a);
	out = curl_url_get(e, CURLUPART_URL, &s, 0) == CURLUE_OK ? xstrdup(s) : xstrdup(asked);
	if (s)
		memset(s, 0, strlen(s));
	curl_free(s);
	curl_url_cleanup(a);
	curl_url_cleanup(e);
	return out;
}

static int pyindex_fetch_page(struct pyindex_client *c, const char *url, const char *name,
			      struct pyindex_project *out)
{
	struct pyindex_resp r;
	char *base = NULL, *shown = pyindex_redact_url(url);
	int not_acceptable = 0, ret, json;

	pyindex_resp_init(&r, c->body_cap);
	ret = pyindex_get(c, url, PYINDEX_ACCEPT, &r, &not_acceptable);
	if (ret < 0 && not_acceptable)
		ret = pyindex_get(c, url, PYINDEX_ACCEPT_HTML, &r, NULL);
	if (ret == GS_ENOTFOUND) {
		ret = error_setc(GS_ENOTFOUND, "the index has no project '%s' ('%s' answered %ld)",
				 name, shown, r.status);
		goto done;
	}
	if (ret < 0)
		goto done;
	base = pyindex_base_url(url, r.effective_url);
	if (r.ctype)
		json = strstr(r.ctype, "json") != NULL;
	else
		json = r.body.len && r.body.buf[strspn(r.body.buf, " \t\r\n")] == '{';
	if (json)
		ret = pyindex_parse_json(r.body.buf, r.body.len, base, out);
	else
		ret = pyindex_parse_html(r.body.buf, r.body.len, base, out);
	if (ret < 0) {
		error_prefix("'%s'", shown);
		goto done;
	}
	/* The project is the one asked for, whatever the page calls itself. */
	free(out->name);
	out->name = pyname_normalize(name);
	free(out->page_url);
	out->page_url = xstrdup(shown);
done:
	pyindex_secret_free(base);
	free(shown);
	pyindex_resp_release(&r);
	return ret;
}

int pyindex_get_project(struct pyindex_client *c, const char *index_url, const char *name,
			const struct pyindex_project **out)
{
	char *url = pyindex_page_url(index_url, name);
	struct pyindex_page *page = NULL;
	int ret, first = 0;

	*out = NULL;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->pages_nr && !page; i++)
		if (!strcmp(c->pages[i]->url, url))
			page = c->pages[i];
	if (!page) {
		page = xcalloc(1, sizeof(*page));
		page->url = url;
		url = NULL;
		ALLOC_GROW(c->pages, c->pages_nr + 1, c->pages_alloc);
		c->pages[c->pages_nr++] = page;
		first = 1;
	}
	while (!first && !page->done)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pyindex_secret_free(url);

	if (first) {
		struct pyindex_project p;

		ret = pyindex_fetch_page(c, page->url, name, &p);
		pthread_mutex_lock(&c->lock);
		page->ret = ret;
		if (ret < 0)
			page->err = xstrdup(error_last());
		else
			page->project = p;
		page->done = 1;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	/* Done pages do not change: read without the lock. */
	if (page->ret < 0)
		return error_setc(page->ret, "%s", page->err);
	*out = &page->project;
	return 0;
}

/* METADATA of the wheel in `fd`: the top-level *.dist-info/METADATA. */
static int pyindex_wheel_metadata(struct pyindex_client *c, int fd, const char *what,
				  struct strbuf *out)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int ret = GS_EINVAL, r;

	archive_read_support_format_zip(a);
	if (lseek(fd, 0, SEEK_SET) < 0 || archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		ret = error_setc(GS_EINVAL, "'%s' is not a zip archive: %s", what,
				 archive_error_string(a) ? archive_error_string(a) : "unreadable");
		goto done;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(e);
		const char *slash = path ? strchr(path, '/') : NULL;

		if (!slash || strcmp(slash, "/METADATA") || slash - path < 11 ||
		    strncmp(slash - 10, ".dist-info", 10))
			continue;
		strbuf_reset(out);
		out->cap = c->body_cap;
		for (;;) {
			char buf[16384];
			la_ssize_t n = archive_read_data(a, buf, sizeof(buf));

			if (n == 0)
				break;
			if (n < 0 || strbuf_add(out, buf, (size_t)n) < 0) {
				ret =
				    error_setc(GS_EINVAL, "cannot read '%s' in '%s': %s", path,
					       what, n < 0 ? archive_error_string(a) : "too large");
				goto done;
			}
		}
		ret = 0;
		goto done;
	}
	if (r != ARCHIVE_EOF)
		ret = error_setc(GS_EINVAL, "'%s' is not a readable wheel: %s", what,
				 archive_error_string(a) ? archive_error_string(a) : "bad zip");
	else
		ret = error_setc(GS_EINVAL, "'%s' has no *.dist-info/METADATA", what);
done:
	archive_read_free(a);
	return ret;
}

/* A file for a download, in $TMPDIR, unlinked at once. */
static int pyindex_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	char *path = xstrfmt("%s/gpuslim-wheel-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	free(path);
	return fd;
}

static int pyindex_fetch_metadata(struct pyindex_client *c, const struct pyindex_file *f,
				  struct pyindex_metadata *out)
{
	struct pyindex_resp r;
	char *url = NULL, *shown = NULL, hex[65];
	int ret = 0;

	memset(out, 0, sizeof(*out));
	vec_init(&out->requires_dist, free);
	pyindex_resp_init(&r, c->body_cap);
	if (f->has_metadata) {
		url = xstrfmt("%s.metadata", f->url);
		shown = pyindex_redact_url(url);
		ret = pyindex_get(c, url, NULL, &r, NULL);
		if (ret == 0) {
			hash_sha256_hex(r.body.buf, r.body.len, hex);
			if (f->metadata_sha256 && strcmp(hex, f->metadata_sha256)) {
				ret = error_setc(GS_EINVAL, "'%s' has sha256 %s, the index says %s",
						 shown, hex, f->metadata_sha256);
				goto done;
			}
			ret = pyindex_parse_metadata(r.body.buf, r.body.len, out);
			if (ret < 0)
				error_prefix("'%s'", shown);
			goto done;
		}
		if (ret != GS_ENOTFOUND)
			goto done;
		/* The index promised metadata it does not have: read the wheel, as pip does. */
		free(url);
		free(shown);
	}
	url = xstrdup(f->url);
	shown = pyindex_redact_url(url);
	r.fd = pyindex_tmpfile();
	if (r.fd < 0) {
		ret = error_setc(GS_ERR, "cannot make a temporary file for '%s': %s", shown,
				 strerror(errno));
		goto done;
	}
	r.stream_cap = c->wheel_cap;
	ret = pyindex_get(c, url, NULL, &r, NULL);
	if (ret < 0)
		goto done;
	hash_sha256_final_hex(r.sha, hex);
	if (f->sha256 && strcmp(hex, f->sha256)) {
		ret = error_setc(GS_EINVAL, "'%s' has sha256 %s, the index says %s", shown, hex,
				 f->sha256);
		goto done;
	}
	strbuf_reset(&r.body);
	ret = pyindex_wheel_metadata(c, r.fd, shown, &r.body);
	if (ret == 0) {
		ret = pyindex_parse_metadata(r.body.buf, r.body.len, out);
		if (ret < 0)
			error_prefix("METADATA of '%s'", shown);
	}
done:
	if (r.fd >= 0)
		close(r.fd);
	r.fd = -1;
	pyindex_resp_release(&r);
	pyindex_secret_free(url);
	free(shown);
	return ret;
}

static char *pyindex_strdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int pyindex_get_metadata(struct pyindex_client *c, const struct pyindex_file *f,
			 struct pyindex_metadata *out)
{
	char *key = xstrfmt("%s#%s", f->url, f->sha256 ? f->sha256 : "");
	struct pyindex_meta *m = NULL;
	int first = 0;

	memset(out, 0, sizeof(*out));
	vec_init(&out->requires_dist, free);
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->metas_nr && !m; i++)
		if (!strcmp(c->metas[i]->key, key))
			m = c->metas[i];
	if (!m) {
		m = xcalloc(1, sizeof(*m));
		m->key = key;
		key = NULL;
		ALLOC_GROW(c->metas, c->metas_nr + 1, c->metas_alloc);
		c->metas[c->metas_nr++] = m;
		first = 1;
	}
	while (!first && !m->done)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pyindex_secret_free(key);

	if (first) {
		struct pyindex_metadata md;
		int ret = pyindex_fetch_metadata(c, f, &md);

		pthread_mutex_lock(&c->lock);
		m->ret = ret;
		if (ret < 0) {
			m->err = xstrdup(error_last());
			pyindex_metadata_release(&md);
			vec_release(&md.requires_dist);
		} else
			m->md = md;
		m->done = 1;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	/* Done entries do not change: read without the lock; the caller owns a copy. */
	if (m->ret < 0)
		return error_setc(m->ret, "%s", m->err);
	out->name = pyindex_strdup_or_null(m->md.name);
	out->version = pyindex_strdup_or_null(m->md.version);
	out->requires_python = pyindex_strdup_or_null(m->md.requires_python);
	for (size_t i = 0; i < m->md.requires_dist.nr; i++)
		vec_pushstr(&out->requires_dist, m->md.requires_dist.items[i]);
	return 0;
}
