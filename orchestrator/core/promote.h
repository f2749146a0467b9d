#ifndef GS_PROMOTE_H
#define GS_PROMOTE_H

#include <jansson.h>
#include <stddef.h>

#include "core/registry.h"
#include "util/strbuf.h"
#include "util/vec.h"

/*
 * Promotion of staged images, all or nothing (`gpuslim report promote`):
 * each cell of a CI matrix was built, gated and pushed by its own job to a
 * staging tag (`build --cell ID --push --stage SUFFIX`), its digest in the
 * job's report; the merged report (core/buildreport.h) names them all.
 * Promotion moves every cell's final tag to exactly its staged digest, and
 * only when every cell of the matrix passed and every staged manifest is
 * still in the registry: all are checked first, then the manifests are PUT
 * through the registry API (core/registry.h; no engine). When a PUT fails
 * midway, the tags already moved are put back to the manifests they had
 * (read before anything was written); a tag that did not exist before
 * cannot be removed alone through the distribution API, and is said to be
 * left at its new digest.
 *
 * Ownership: a struct promotion owns every string and buffer in it;
 * promote_release() frees them. It borrows nothing.
 */

enum promote_state {
	PROMOTE_PENDING,	/* checked, not written */
	PROMOTE_MOVED,		/* the tag points at the staged digest */
	PROMOTE_FAILED,		/* its PUT failed */
	PROMOTE_RESTORED,	/* moved, then put back to its old manifest */
	PROMOTE_LEFT,		/* moved, and there was no tag before to put back */
	PROMOTE_RESTORE_FAILED, /* moved, and putting it back failed */
};

struct promote_cell {
	char *id;
	char *image; /* the final ref "REG/REPO:TAG" */
	char *registry, *repository, *tag;
	char *staged_ref;	/* "REG/REPO:TAG-SUFFIX", as pushed */
	char *digest;		/* the staged manifest's "sha256:..." */
	struct strbuf manifest; /* its bytes, and media type */
	char *media_type;
	int had_tag;		    /* the final tag existed before */
	char *old_digest;	    /* what it pointed at, NULL when absent */
	struct strbuf old_manifest; /* and those bytes, to put back */
	char *old_type;
	enum promote_state state;
	char *error; /* why a PUT or a restore failed */
	char *now;   /* after a failure: the digest the tag points at, NULL unknown or none */
};

struct promotion {
	struct promote_cell *cells;
	size_t nr;
};

/*
 * The cells to promote out of a build report (`path` names it in
 * messages): every cell of its matrix_cells must be there, built, passed
 * its gates (or not gated) and pushed with a digest, its push ref in the
 * same repository as its image. Otherwise GS_EINVAL and one line per
 * problem in `problems` ("cell 'x' failed its gates", "cell 'y' is not in
 * the report (no job's report had it)"), nothing in `pr`.
 */
int promote_from_report(const json_t *report, const char *path, struct promotion *pr,
			struct vec *problems);

/*
 * Check every cell against the registry before anything is written: its
 * staged manifest, by digest, must still be there (a missing one is a line
 * in `problems`, all of them are looked for, then GS_ENOTFOUND); the final
 * tag's current manifest is read, to be put back if need be. GS_EINFRA
 * (error_last()) when a registry cannot be asked, GS_EINVAL when it refuses
 * the credentials or sends what is no manifest.
 */
int promote_fetch(struct registry_client *rc, struct promotion *pr, struct vec *problems);

/*
 * PUT every cell's staged manifest as its final tag, in order. On the
 * first failure, every cell moved so far is put back (PROMOTE_RESTORED, or
 * PROMOTE_LEFT when its tag did not exist before, or
 * PROMOTE_RESTORE_FAILED), the failed one is PROMOTE_FAILED, and each
 * touched tag's digest is read again into `now`; the call returns the
 * PUT's error (GS_EINFRA or GS_EINVAL, error_last() naming the tag). A
 * signal caught (util/signals.h) before a PUT is such a failure too
 * (GS_ERR, "interrupted before ..."): the cells not yet moved stay
 * PROMOTE_PENDING.
 */
int promote_apply(struct registry_client *rc, struct promotion *pr);

void promote_release(struct promotion *pr);

#endif
