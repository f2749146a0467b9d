#ifndef GS_REFERRERS_H
#define GS_REFERRERS_H

#include <jansson.h>
#include <stddef.h>

#include "core/registry.h"

/*
 * Artifacts attached to a manifest in a registry (OCI image spec 1.1
 * artifacts, distribution spec 1.1 referrers): an image manifest with an
 * `artifactType`, the empty config, one layer holding the artifact's bytes
 * and a `subject` naming the manifest it belongs to.
 *
 * Found again through the referrers API (GET /v2/<name>/referrers/<digest>)
 * where the registry has it, else through the referrers tag schema: the tag
 * "sha256-<hex>" of the subject's digest holds an OCI image index of its
 * referrers, which the client that pushes an artifact keeps up to date
 * (read, add, write). distribution 2.8 (Debian's docker-registry) has no
 * referrers API: there the tag is the only way.
 *
 * The tag is read-modify-write with no lock (distribution has no
 * conditional PUT): two writers at once could each drop the other's entry.
 * referrers_attach() reads the tag back after writing it and writes again
 * (up to REFERRERS_TAG_TRIES times) while its entry is missing, so each
 * writer ends with its own entry in.
 *
 * Ownership: JSON out-parameters are new references the caller decrefs;
 * strings are the caller's to free.
 */

#define REFERRERS_EMPTY_CONFIG_TYPE "application/vnd.oci.empty.v1+json"
#define REFERRERS_TAG_TRIES	    5

struct referrers_artifact {
	const char *artifact_type; /* "application/vnd.gpuslim.report.v1+json" */
	const char *layer_type;	   /* the layer's media type (NULL: artifact_type) */
	const void *data;	   /* the artifact's bytes, the one layer */
	size_t len;
	const char *title;	   /* org.opencontainers.image.title of the layer, or NULL */
	const json_t *annotations; /* the manifest's, strings (borrowed), or NULL */
};

/* "sha256-<hex>": the referrers tag of a digest. */
char *referrers_tag(const char *digest);

/*
 * Push `a` as an artifact whose subject is the manifest `subject_digest` of
 * registry/repository (which must exist: its media type and size go into
 * the subject descriptor), then make it findable: nothing more when the
 * registry answered OCI-Subject, else by adding it to the referrers tag.
 * *digest (optional) gets the artifact manifest's digest, *via_api
 * (optional) 1 when the registry indexes referrers itself, 0 for the tag.
 * Errors: registry.h's; GS_EINFRA when the tag keeps losing the entry.
 */
int referrers_attach(struct registry_client *c, const char *registry, const char *repository,
		     const char *subject_digest, const struct referrers_artifact *a, char **digest,
		     int *via_api);

/*
 * The referrers of `subject_digest` whose artifactType is `artifact_type`
 * (NULL: all), as an OCI image index (*index), from the referrers API or,
 * where the registry has none (404), the referrers tag; no tag means no
 * referrers (an empty index). *via_api (optional) says which was read.
 */
int referrers_list(struct registry_client *c, const char *registry, const char *repository,
		   const char *subject_digest, const char *artifact_type, json_t **index,
		   int *via_api);

#endif
