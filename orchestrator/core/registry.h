#ifndef GS_REGISTRY_H
#define GS_REGISTRY_H

#include <stddef.h>

#include <jansson.h>

#include "util/retry.h"
#include "util/strbuf.h"
#include "util/vec.h"

/*
 * A client for the OCI distribution API (v2) on libcurl: resolve a tag to a
 * digest, list tags, fetch manifests and stream blobs, with the Bearer token
 * and Basic auth flows. docker.io and the local fixture registries go
 * through the same code.
 *
 * Registries are named as in image references: "docker.io",
 * "127.0.0.1:5000", "nvcr.io". docker.io is reached at registry-1.docker.io
 * and a one-component repository there gets "library/". Hosts on 127.0.0.0/8,
 * ::1 and "localhost" are spoken to over plain http, every other over https,
 * as Docker does by default.
 *
 * Credentials, as the Docker CLI finds them: the client's username/password;
 * else, from $DOCKER_CONFIG/config.json (default ~/.docker/config.json), the
 * "credHelpers" entry for the registry, else "credsStore": the helper
 * `docker-credential-NAME get` is run (util/process) with the server on stdin
 * and answers {"Username", "Secret"}; else the "auths" entry (base64
 * "user:password" in "auth"); else none. They are looked up once per client
 * and registry, on the first request that needs them. A helper that is
 * missing, fails, times out or answers nonsense is GS_EINFRA naming the
 * helper; no message holds a secret.
 *
 * Ownership: a registry_client owns copies of its options and a token cache;
 * registry_client_free() frees them. Out-parameters (char **) receive newly
 * allocated strings the caller frees; vectors and strbufs are the caller's
 * and are appended to. Thread safety: one client may serve many threads at
 * once: every call uses its own curl handle, the token cache is locked.
 *
 * Faults: every request (token, manifest HEAD and GET, each page of tags,
 * blob) is retried under util/retry.h's policy when it fails transiently
 * (408, 425, 429, 500, 502, 503, 504; connection refused or reset, no
 * answer, a timeout, a body shorter than its Content-Length), waiting as
 * Retry-After asks (seconds or an HTTP date; more than the policy's cap of
 * 10 s ends the retries) or else a jittered exponential backoff; the waits
 * of one operation (a call below, with its auth dance and pages) add up to
 * at most GPUSLIM_RETRY_MAX_WAIT seconds (default 30), and one request is
 * tried at most GPUSLIM_RETRIES times (default 4). The timeout of each try is
 * the client's (GPUSLIM_HTTP_TIMEOUT_MS when the options set none). A blob
 * stream is retried only until its first byte reaches the sink: a sink
 * cannot take bytes back (image_registry.c's feeds a reader that has seen
 * them), so a blob cut short after that fails, saying how many bytes came.
 * A final transient failure says how many tries were made and the last
 * answer: "registry 'H' answered 503 Service Unavailable for 'H/x/y:1' after
 * 4 tries". A wrong digest, a refusal and a 404 are final at once.
 *
 * Errors: GS_ENOTFOUND when the registry lacks the repository, tag or blob
 * ("'127.0.0.1:5000/x/y:tag' does not exist in the registry"); GS_EINFRA when
 * it cannot be reached, times out or fails (5xx, 429); GS_EINVAL when it
 * refuses the credentials or access, or answers with something unusable
 * (bad JSON, a body over the cap, a digest that does not match the content).
 * No message holds a credential, a token or a URL's query.
 */

struct registry_opts {
	long timeout_ms; /* each try of a request, blobs excepted (for them: the longest stall);
			    0: $GPUSLIM_HTTP_TIMEOUT_MS, else 30000 */
	long connect_timeout_ms; /* 0: 10000 */
	const char *username;	 /* explicit credentials, both or neither */
	const char *password;
	const char *docker_config; /* directory of config.json; NULL: $DOCKER_CONFIG, ~/.docker */
	size_t body_cap;	   /* bytes kept of a manifest, tag list, token; 0: 8 MiB */
	const char *user_agent;	   /* NULL: "gpuslim" */
	const struct retry_policy *retry; /* copied; NULL: retry_policy_default() */
};

struct registry_client;

/* Never NULL (out of memory aborts); initializes libcurl once per process. */
struct registry_client *registry_client_new(const struct registry_opts *opts);
void registry_client_free(struct registry_client *c);

/* A parsed image reference. Every field is owned; tag and digest may both
 * be set ("x:1@sha256:..."), or neither (then the tag "latest" is meant). */
struct registry_ref {
	char *registry;	  /* "docker.io" when the reference names none */
	char *repository; /* "library/ubuntu", "gpuslim-fixtures/cuda" */
	char *tag;
	char *digest;
};

/*
 * "ubuntu:22.04", "127.0.0.1:5000/x/y:t", "nvcr.io/nvidia/cuda@sha256:..."
 * into `ref` (which the caller releases with registry_ref_release()).
 * GS_EINVAL for a malformed reference.
 */
int registry_ref_parse(const char *s, struct registry_ref *ref);
void registry_ref_release(struct registry_ref *ref);
/* 1 when `repo` names its registry host as Docker reads a reference (a first
 * component with a dot or a port, or "localhost"); "local/x" and "user/x"
 * are Docker Hub's. */
int registry_ref_names_host(const char *repo);

/* Media types a manifest request accepts, in preference order. */
#define REGISTRY_ACCEPT_MANIFESTS                                                                  \
	"application/vnd.oci.image.index.v1+json, "                                                \
	"application/vnd.docker.distribution.manifest.list.v2+json, "                              \
	"application/vnd.oci.image.manifest.v1+json, "                                             \
	"application/vnd.docker.distribution.manifest.v2+json"

/*
 * The digest ("sha256:...") of `reference` (a tag or a digest) in
 * registry/repository, and its media type (either out-pointer may be NULL).
 * HEAD first; a registry that answers HEAD without Docker-Content-Digest
 * (or refuses HEAD) is asked with GET and the body is hashed.
 */
int registry_resolve_digest(struct registry_client *c, const char *registry, const char *repository,
			    const char *reference, char **digest, char **media_type);

/*
 * Every tag of the repository, appended to `tags` (free_item free()), in
 * the registry's order, following Link: rel="next" pages (`page_size`
 * tags each, 0: the registry's default).
 */
int registry_list_tags(struct registry_client *c, const char *registry, const char *repository,
		       size_t page_size, struct vec *tags);

/*
 * The manifest for `reference`, appended to `body`; `accept` NULL means
 * REGISTRY_ACCEPT_MANIFESTS. Its digest and media type go to the optional
 * out-pointers. A manifest asked for by digest is checked against it.
 */
int registry_get_manifest(struct registry_client *c, const char *registry, const char *repository,
			  const char *reference, const char *accept, struct strbuf *body,
			  char **digest, char **media_type);

/*
 * Stream the blob `digest` to `sink` as it arrives (redirects to storage
 * are followed), checking the content against the digest at the end. A
 * sink that returns nonzero stops the transfer: the call returns GS_ERR with
 * the error the sink left. The transfer has no overall timeout, only one on
 * stalls (no byte for the client's timeout).
 */
typedef int (*registry_sink_fn)(void *data, const void *buf, size_t len);
int registry_get_blob(struct registry_client *c, const char *registry, const char *repository,
		      const char *digest, registry_sink_fn sink, void *data);

/*
 * Pushing (push access: a token with scope "pull,push", or Basic credentials).
 *
 * registry_put_blob(): upload `len` bytes as a blob of the repository unless
 * it has them already (HEAD), monolithically (POST, then PUT to the
 * Location with ?digest=); *digest (optional) gets "sha256:...". An upload
 * Location on another host than the registry's is GS_EINVAL: credentials
 * go nowhere else.
 *
 * registry_put_manifest(): PUT a manifest of `media_type` under `reference`
 * (a tag; or NULL or its own digest: by digest); *digest (optional) gets
 * its digest. *indexed_subject (optional) is 1 when the registry answered
 * OCI-Subject: it keeps the referrers of the manifest's subject itself
 * (distribution spec 1.1), 0 when the client must keep the referrers tag.
 * A 400 names the registry's error code ("MANIFEST_BLOB_UNKNOWN: ...").
 *
 * Retries as for reads: a PUT or POST that fails transiently is sent again
 * (manifests and blobs are content-addressed, so a repeat stores the same
 * thing); a blob PUT goes again to the same upload, and a registry that
 * dropped the upload meanwhile answers 404, which fails the call.
 */
int registry_put_blob(struct registry_client *c, const char *registry, const char *repository,
		      const void *buf, size_t len, char **digest);
int registry_put_manifest(struct registry_client *c, const char *registry, const char *repository,
			  const char *reference, const char *media_type, const void *buf,
			  size_t len, char **digest, int *indexed_subject);

/*
 * The referrers API (GET /v2/<name>/referrers/<digest>, distribution spec
 * 1.1): *index (newly made) gets an OCI image index of every page's
 * descriptors. `artifact_type` (NULL: none) is sent as the filter; a
 * registry may ignore it, so callers filter again. GS_ENOTFOUND when the
 * registry answers 404: it has no referrers API (distribution 2.8), and
 * the referrers tag is to be read instead (core/referrers.h).
 */
int registry_get_referrers(struct registry_client *c, const char *registry, const char *repository,
			   const char *digest, const char *artifact_type, json_t **index);

#endif
