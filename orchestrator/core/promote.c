#include <stdlib.h>
#include <string.h>

#include "core/buildreport.h"
#include "core/promote.h"
#include "util/error.h"
#include "util/signals.h"

static void promote_cell_release(struct promote_cell *pc)
{
	free(pc->id);
	free(pc->image);
	free(pc->registry);
	free(pc->repository);
	free(pc->tag);
	free(pc->staged_ref);
	free(pc->digest);
	strbuf_release(&pc->manifest);
	free(pc->media_type);
	free(pc->old_digest);
	strbuf_release(&pc->old_manifest);
	free(pc->old_type);
	free(pc->error);
	free(pc->now);
}

void promote_release(struct promotion *pr)
{
	for (size_t i = 0; i < pr->nr; i++)
		promote_cell_release(&pr->cells[i]);
	free(pr->cells);
	memset(pr, 0, sizeof(*pr));
}

/* Why a cell of the report cannot be promoted, or NULL (newly allocated). */
static char *promote_refusal(const json_t *c, const char *id)
{
	const char *st = json_string_value(json_object_get(c, "status"));
	const json_t *gate = json_object_get(c, "gate"), *push = json_object_get(c, "push");
	const char *gs = json_string_value(json_object_get(gate, "status"));
	const char *ps = json_string_value(json_object_get(push, "status"));

	if (strcmp(st, "ok"))
		return xstrfmt("cell '%s' did not build (status %s)", id, st);
	if (!buildreport_cell_passed(c))
		return xstrfmt("cell '%s' %s its gates", id,
			       gs && !strcmp(gs, "error") ? "could not run" : "failed");
	if (!ps || strcmp(ps, "pushed"))
		return xstrfmt("cell '%s' was not pushed (push: %s): build it with --push --stage",
			       id, ps ? ps : "?");
	if (!json_is_string(json_object_get(push, "digest")) ||
	    !json_is_string(json_object_get(push, "ref")))
		return xstrfmt("cell '%s': its push has no ref and digest (a report of an older "
			       "gpuslim?)",
			       id);
	return NULL;
}

int promote_from_report(const json_t *report, const char *path, struct promotion *pr,
			struct vec *problems)
{
	const json_t *cells = json_object_get(report, "cells");
	struct vec missing = VEC_INIT(NULL);
	size_t i, before = problems->nr;
	json_t *c;

	memset(pr, 0, sizeof(*pr));
	buildreport_missing(report, &missing);
	for (i = 0; i < missing.nr; i++)
		vec_pushf(problems, "cell '%s' is not in %s (no job's report had it)",
			  (const char *)missing.items[i], path);
	vec_release(&missing);
	pr->cells =
	    xcalloc(json_array_size(cells) ? json_array_size(cells) : 1, sizeof(*pr->cells));
	json_array_foreach(cells, i, c)
	{
		const char *id = json_string_value(json_object_get(c, "id"));
		const json_t *push = json_object_get(c, "push");
		struct promote_cell *pc = &pr->cells[pr->nr];
		struct registry_ref fin, stg;
		char *why = promote_refusal(c, id);

		if (why) {
			vec_push(problems, why);
			continue;
		}
		if (registry_ref_parse(json_string_value(json_object_get(c, "image")), &fin) < 0) {
			vec_pushf(problems, "cell '%s': %s", id, error_last());
			continue;
		}
		if (registry_ref_parse(json_string_value(json_object_get(push, "ref")), &stg) < 0) {
			vec_pushf(problems, "cell '%s': %s", id, error_last());
			registry_ref_release(&fin);
			continue;
		}
		if (strcmp(fin.registry, stg.registry) || strcmp(fin.repository, stg.repository) ||
		    !fin.tag || fin.digest) {
			vec_pushf(
			    problems,
			    "cell '%s': its image '%s' and its staged '%s' are not tags of one "
			    "repository (a tag moves within its repository)",
			    id, json_string_value(json_object_get(c, "image")),
			    json_string_value(json_object_get(push, "ref")));
		} else {
			pc->id = xstrdup(id);
			pc->image = xstrdup(json_string_value(json_object_get(c, "image")));
			pc->registry = fin.registry;
			pc->repository = fin.repository;
			pc->tag = fin.tag;
			fin.registry = fin.repository = fin.tag = NULL;
			pc->staged_ref = xstrdup(json_string_value(json_object_get(push, "ref")));
			pc->digest = xstrdup(json_string_value(json_object_get(push, "digest")));
			strbuf_init(&pc->manifest, 0);
			strbuf_init(&pc->old_manifest, 0);
			pr->nr++;
		}
		registry_ref_release(&fin);
		registry_ref_release(&stg);
	}
	if (problems->nr > before) {
		promote_release(pr);
		return error_setc(GS_EINVAL, "%zu cell%s cannot be promoted", problems->nr - before,
				  problems->nr - before == 1 ? "" : "s");
	}
	return 0;
}

int promote_fetch(struct registry_client *rc, struct promotion *pr, struct vec *problems)
{
	size_t before = problems->nr;

	for (size_t i = 0; i < pr->nr; i++) {
		struct promote_cell *pc = &pr->cells[i];
		int ret = registry_get_manifest(rc, pc->registry, pc->repository, pc->digest, NULL,
						&pc->manifest, NULL, &pc->media_type);

		if (ret == GS_ENOTFOUND) {
			vec_pushf(
			    problems,
			    "cell '%s': its staged image %s@%s is not in the registry any more",
			    pc->id, pc->staged_ref, pc->digest);
			continue;
		}
		if (ret < 0)
			return ret;
		if (!pc->media_type) {
			vec_pushf(problems, "cell '%s': the registry gave %s@%s no media type",
				  pc->id, pc->staged_ref, pc->digest);
			continue;
		}
		ret = registry_get_manifest(rc, pc->registry, pc->repository, pc->tag, NULL,
					    &pc->old_manifest, &pc->old_digest, &pc->old_type);
		if (ret == GS_ENOTFOUND) {
			error_clear();
			continue;
		}
		if (ret < 0)
			return ret;
		pc->had_tag = 1;
	}
	if (problems->nr > before)
		return error_setc(GS_ENOTFOUND, "%zu staged image%s missing", problems->nr - before,
				  problems->nr - before == 1 ? " is" : "s are");
	return 0;
}

int promote_apply(struct registry_client *rc, struct promotion *pr)
{
	struct strbuf why = STRBUF_INIT;
	size_t failed = pr->nr;
	int ret = 0;

	for (size_t i = 0; i < pr->nr; i++) {
		struct promote_cell *pc = &pr->cells[i];

		/* An interrupt stops the moves and puts back what moved, as a failure does. */
		int interrupted = signals_caught();

		if (interrupted)
			ret = error_setc(GS_ERR, "interrupted before '%s' was moved", pc->image);
		else
			ret = registry_put_manifest(rc, pc->registry, pc->repository, pc->tag,
						    pc->media_type, pc->manifest.buf,
						    pc->manifest.len, NULL, NULL);
		if (ret < 0) {
			if (!interrupted) /* else it was not sent: it stays PENDING */
				pc->state = PROMOTE_FAILED;
			pc->error = xstrdup(error_last());
			failed = i;
			break;
		}
		pc->state = PROMOTE_MOVED;
	}
	if (failed == pr->nr)
		return 0;
	strbuf_addstr(&why, pr->cells[failed].error);
	/* Put back what moved, and the failed one too: its PUT may have
	 * landed before the answer was lost. */
	for (size_t i = 0; i <= failed; i++) {
		struct promote_cell *pc = &pr->cells[i];

		if (pc->state == PROMOTE_PENDING)
			continue;
		if (pc->had_tag) {
			if (registry_put_manifest(rc, pc->registry, pc->repository, pc->tag,
						  pc->old_type, pc->old_manifest.buf,
						  pc->old_manifest.len, NULL, NULL) < 0) {
				if (pc->state == PROMOTE_MOVED) {
					pc->state = PROMOTE_RESTORE_FAILED;
					pc->error = xstrdup(error_last());
				}
			} else if (pc->state == PROMOTE_MOVED) {
				pc->state = PROMOTE_RESTORED;
			}
		} else if (pc->state == PROMOTE_MOVED) {
			pc->state = PROMOTE_LEFT;
		}
		if (registry_resolve_digest(rc, pc->registry, pc->repository, pc->tag, &pc->now,
					    NULL) < 0)
			error_clear();
	}
	ret = error_setc(ret, "%s", why.buf);
	strbuf_release(&why);
	return ret;
}
