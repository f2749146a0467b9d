#ifndef GS_BASELINE_H
#define GS_BASELINE_H

#include <jansson.h>

#include "core/registry.h"

/*
 * The release baseline: gpuslim's report kept with the image it describes,
 * in the registry (core/referrers.h), so that the next release can be held
 * to the last one (`gpuslim gate IMAGE --baseline REF`, budgets.growth).
 *
 * A report is attached as an OCI artifact of type BASELINE_REPORT_TYPE:
 * the report JSON is its one layer, its subject the image manifest the
 * report describes (for an index, the platform's manifest that was
 * analyzed), and its annotations say when it was made
 * (org.opencontainers.image.created, RFC 3339 with nanoseconds) and its
 * verdict (io.gpuslim.report.status). Reading it back takes the newest
 * report attached to the manifest.
 *
 * Ownership: out-parameters are new (JSON references, strings) and the
 * caller's.
 */

#define BASELINE_REPORT_TYPE "application/vnd.gpuslim.report.v1+json"
#define BASELINE_REPORT_CAP  (256u << 20)

/*
 * How --baseline's value is read: 1 when it names a saved report file, 0
 * when it is an image reference. A file is one that exists (anything but a
 * directory), or a name that can only be a path: it starts with "/", "./"
 * or "../", or ends with ".json" (a missing report is then "no such file",
 * never a registry lookup). Everything else is an image reference.
 */
int baseline_arg_is_file(const char *arg);

/* Where a report came from, for the report's "baseline" object and notes. */
struct baseline_origin {
	char *ref;	       /* the reference as given */
	char *manifest_digest; /* the manifest the report is of */
	char *artifact;	       /* the artifact manifest holding the report; NULL: none */
	int via_api;	       /* 1: found through the referrers API, 0: the referrers tag */
};
void baseline_origin_release(struct baseline_origin *o);

/*
 * Attach `report` to `image`, a registry reference (tag or digest; for an
 * index, the manifest of `platform`, NULL: linux/amd64). The report must be
 * of that image: its image.manifest_digest when it has one, else its
 * image.id (the config digest, as an engine's report has), must match the
 * registry's, or it is GS_EINVAL ("the report is of manifest X, the registry's
 * image is Y").
 * `origin` (optional) gets where it went. Errors: registry.h's.
 */
int baseline_attach_report(struct registry_client *c, const char *image, const char *platform,
			   const json_t *report, struct baseline_origin *origin);

/*
 * The newest report attached to `ref` (its manifest for `platform`) into
 * *report, checked as gate_check_baseline() checks a file; *report NULL
 * (and 0) when none is attached. `origin` gets what was read either way.
 * Errors: GS_EINVAL (a bad reference, an artifact that is not a report),
 * GS_ENOTFOUND (no such image), GS_EINFRA (the registry).
 */
int baseline_fetch_report(struct registry_client *c, const char *ref, const char *platform,
			  json_t **report, struct baseline_origin *origin);

#endif
