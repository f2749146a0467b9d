#ifndef GS_PYINDEX_H
#define GS_PYINDEX_H

/*
 * A client for Python package indexes: the simple repository API as JSON
 * (PEP 691, asked for first with Accept:
 * application/vnd.pypi.simple.v1+json) or HTML (PEP 503, the fallback),
 * with hashes (the URL fragment or "hashes"), data-requires-python,
 * data-yanked (PEP 592) and core metadata (PEP 658/714: the file's URL +
 * ".metadata"). pypi.org, download.pytorch.org/whl/<variant> and the local
 * fixture index go through the same code, over libcurl, with the retries of
 * util/retry.h (429, 5xx, resets, timeouts; Retry-After honoured).
 *
 * URLs may carry credentials (https://user:token@host/simple): they are used
 * for the requests and never appear in an error, a plan or a lock
 * (pyindex_redact_url()).
 *
 * Ownership: a client owns its page cache; a project returned by
 * pyindex_get_project() is owned by the client and valid until
 * pyindex_client_free(). pyindex_get_metadata() fills a caller-owned
 * struct released with pyindex_metadata_release() (a copy of the client's).
 * Thread safety: one client may serve many threads; each page and each
 * wheel's metadata is fetched once per client (concurrent askers of the
 * same one wait for the first).
 *
 * Errors: GS_ENOTFOUND when the index has no such project (404);
 * GS_EINFRA when it cannot be reached, times out or fails after the
 * retries; GS_EINVAL when it answers with something unusable (a page that
 * does not parse, a body over the cap, metadata whose hash differs).
 */

#include <stddef.h>

#include "util/vec.h"

struct pyindex_file {
	char *filename; /* "torch-2.11.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl" */
	char *url;	/* absolute, fragment removed, credentials as the index URL had them */
	char *sha256;	/* lowercase hex, NULL when the index gives none */
	char *requires_python; /* ">=3.10", NULL when none */
	int yanked;	       /* PEP 592 */
	char *yanked_reason;   /* NULL when none given */
	int has_metadata;      /* PEP 658/714: <url>.metadata exists */
	char *metadata_sha256; /* its hash when the index gives one, else NULL */
};

struct pyindex_project {
	char *name;	/* normalized */
	char *page_url; /* the page it came from, redacted */
	struct pyindex_file *files;
	size_t files_nr;
};

struct pyindex_metadata {
	char *name; /* as Name: spells it */
	char *version;
	char *requires_python;	  /* NULL when none */
	struct vec requires_dist; /* each Requires-Dist value (PEP 508 text), owned */
};

struct pyindex_opts {
	long timeout_ms;	      /* whole request; 0: 30000 */
	long connect_timeout_ms;      /* 0: 10000 */
	size_t body_cap;	      /* bytes kept of a page or metadata file; 0: 32 MiB */
	const char *user_agent;	      /* NULL: "gpuslim" */
	unsigned long long wheel_cap; /* bytes of a wheel downloaded for its METADATA; 0: 4 GiB */
};

struct pyindex_client;
struct pyindex_client *pyindex_client_new(const struct pyindex_opts *opts);
void pyindex_client_free(struct pyindex_client *c);

/* The project page <index_url>/<normalized name>/ (index_url with or without
 * a trailing '/'), fetched once per client. */
int pyindex_get_project(struct pyindex_client *c, const char *index_url, const char *name,
			const struct pyindex_project **out);

/* The core metadata of a wheel, fetched once per client (by url and
 * sha256): PEP 658's "<url>.metadata" when the index says it has one
 * (checked against metadata_sha256), else the wheel itself downloaded
 * (checked against sha256) and its *.dist-info/METADATA read. */
int pyindex_get_metadata(struct pyindex_client *c, const struct pyindex_file *f,
			 struct pyindex_metadata *out);
void pyindex_metadata_release(struct pyindex_metadata *m);

/* Parsers, for the client, the tests and the fuzz targets. `page_url`
 * resolves relative links. A project parsed here is released with
 * pyindex_project_release(). */
int pyindex_parse_json(const char *body, size_t len, const char *page_url,
		       struct pyindex_project *out);
int pyindex_parse_html(const char *body, size_t len, const char *page_url,
		       struct pyindex_project *out);
/* A METADATA file (RFC 822 headers) into `out`. */
int pyindex_parse_metadata(const char *body, size_t len, struct pyindex_metadata *out);
void pyindex_project_release(struct pyindex_project *p);

/* `url` without its user:password@ part (newly allocated). */
char *pyindex_redact_url(const char *url);

/* The user:password@ of an index URL, percent-decoded, with its host
 * (a netrc entry for pip in the build). Owned; released with
 * pyindex_credentials_release(). */
struct pyindex_credentials {
	char *host;
	char *user;
	char *password; /* "" when the URL gives none */
};
/* 1 with `out` filled when `url` carries a user, else 0. */
int pyindex_url_credentials(const char *url, struct pyindex_credentials *out);
void pyindex_credentials_release(struct pyindex_credentials *c);

#endif
