/*
 * Duplicate libraries: one soname and version at several paths (CUDA
 * twice), and one soname at versions that disagree (core/analyze_private.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"
#include "util/strbuf.h"

struct dup_rec {
	const char *soname;
	const char *version; /* NULL when the names carry none */
	uint32_t node, inode;
	uint64_t size;
};

static int cmp_dup(const void *a, const void *b)
{
	const struct dup_rec *x = a, *y = b;
	int c = strcmp(x->soname, y->soname);

	if (c)
		return c;
	if (!x->version || !y->version)
		return !x->version - !y->version;
	return strcmp(x->version, y->version);
}

/* "12" and "12.4.5.8" name the same library; "12.4" and "12.6" do not. */
static int versions_agree(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return 1;
	la = strlen(a);
	lb = strlen(b);
	if (la > lb)
		return !strncmp(a, b, lb) && a[lb] == '.';
	if (lb > la)
		return !strncmp(a, b, la) && b[la] == '.';
	return !strcmp(a, b);
}

/*
 * One soname at versions that disagree ("12.4.5.8" in the base's lib64,
 * "12.6.4.1" in a conda or pip tree): two CUDAs all the same, of which a
 * process loads one by that soname. A warning, as a different version may be
 * wanted; its bytes are one copy per version group beyond the largest, so the
 * error findings of each group's own copies are not counted twice.
 */
struct dup_versions {
	const char *soname;
	size_t groups;
	uint64_t sum, max;
	struct strbuf where;
	char *first_path;
};

static void dup_versions_begin(struct dup_versions *dv, const struct dup_rec *recs, size_t nr,
			       size_t i, size_t *soname_end)
{
	size_t e = i;

	while (e < nr && !strcmp(recs[e].soname, recs[i].soname))
		e++;
	*soname_end = e;
	dv->soname = recs[i].soname;
	dv->groups = 0;
	dv->sum = dv->max = 0;
	strbuf_reset(&dv->where);
	free(dv->first_path);
	dv->first_path = NULL;
}

static void dup_versions_add(struct dup_versions *dv, struct analysis *an,
			     const struct dup_rec *first, const char *version, uint64_t max)
{
	struct strbuf p = STRBUF_INIT;

	fsi_path(&an->fsi, first->node, &p);
	if (!dv->groups)
		dv->first_path = xstrdup(p.buf);
	if (dv->groups < 3)
		strbuf_addf(&dv->where, "%s%s at %s", dv->groups ? ", " : "",
			    version ? version : "unversioned", p.buf);
	else if (dv->groups == 3)
		strbuf_addstr(&dv->where, ", ...");
	dv->groups++;
	dv->sum += max;
	if (max > dv->max)
		dv->max = max;
	strbuf_release(&p);
}

static void dup_versions_end(struct dup_versions *dv, struct analysis *an, json_t *findings)
{
	char *msg;

	if (dv->groups < 2)
		return;
	msg =
	    xstrfmt("'%s' is in the image at %zu versions (%s): %llu bytes in the versions "
		    "beyond one",
		    dv->soname, dv->groups, dv->where.buf, (unsigned long long)(dv->sum - dv->max));
	an_finding(an, findings, "duplicate-library", "warn", msg, dv->first_path,
		   jint(dv->sum - dv->max));
	free(msg);
}

json_t *an_duplicates_json(struct analysis *an, struct tally *t, json_t *findings)
{
	struct dup_rec *recs = xcalloc(t->elves_nr + 1, sizeof(*recs));
	struct dup_versions dv = {NULL, 0, 0, 0, STRBUF_INIT, NULL};
	size_t nr = 0, soname_end = 0;
	json_t *arr = json_array();
	struct strbuf path = STRBUF_INIT;

	for (size_t i = 0; i < t->elves_nr; i++) {
		const struct elf_rec *er = t->elves[i].er;
		struct fsi_node *nd = fsi_node(&an->fsi, t->elves[i].node);
		const char *b = fsi_str(&an->fsi, nd->name), *full, *v;
		const char *so = er->soname ? fsi_str(&an->fsi, er->soname) : NULL;

		if (er->type != 3)
			continue;
		/* Link-time stubs (CUDA's lib64/stubs) are no copy of a library. */
		if (!strcmp(fsi_str(&an->fsi, fsi_node(&an->fsi, nd->parent)->name), "stubs"))
			continue;
		if (!so) {
			/* Without a SONAME only a versioned library name counts: plugin
			 * modules (perl's auto/.../Util.so) share base names freely. */
			if (!starts_with(b, "lib") || !strstr(b, ".so."))
				continue;
			so = b;
		}
		full = starts_with(b, so) ? b : so;
		v = strstr(full, ".so.");
		recs[nr++] = (struct dup_rec){so, v ? v + 4 : NULL, t->elves[i].node, nd->inode,
					      an->inodes[nd->inode].size};
	}
	qsort(recs, nr, sizeof(*recs), cmp_dup);
	for (size_t i = 0; i < nr;) {
		size_t j = i + 1;
		const char *version = recs[i].version;
		uint64_t sum = recs[i].size, max = recs[i].size;
		size_t distinct = 1;

		if (i == soname_end) /* a new soname: its version groups follow */
			dup_versions_begin(&dv, recs, nr, i, &soname_end);
		while (j < soname_end && versions_agree(version, recs[j].version)) {
			int same = 0;

			for (size_t k = i; k < j; k++)
				if (recs[k].inode == recs[j].inode)
					same = 1;
			if (recs[j].version &&
			    (!version || strlen(recs[j].version) > strlen(version)))
				version = recs[j].version;
			if (!same) {
				distinct++;
				sum += recs[j].size;
				if (recs[j].size > max)
					max = recs[j].size;
			} else {
				recs[j].inode = FSI_NONE; /* mark: another name of one file */
			}
			j++;
		}
		if (distinct > 1) {
			json_t *paths = json_array(), *copies = json_array();
			char *msg;

			for (size_t k = i; k < j; k++) {
				if (recs[k].inode == FSI_NONE)
					continue;
				fsi_path(&an->fsi, recs[k].node, &path);
				AN_PUSH(an, paths, jstr(path.buf));
				AN_PUSH(an, copies,
					json_pack("{s:o,s:I}", "path", jstr(path.buf), "bytes",
						  (json_int_t)recs[k].size));
			}
			msg =
			    xstrfmt("'%s'%s%s is in the image %zu times (%s, %s%s): %llu bytes in "
				    "extra copies",
				    recs[i].soname, version ? " " : "", version ? version : "",
				    distinct, json_string_value(json_array_get(paths, 0)),
				    json_string_value(json_array_get(paths, 1)),
				    distinct > 2 ? ", ..." : "", (unsigned long long)(sum - max));
			an_finding(an, findings, "duplicate-library", "error", msg,
				   json_string_value(json_array_get(paths, 1)), jint(sum - max));
			free(msg);
			AN_PUSH(an, arr,
				json_pack("{s:o,s:o,s:o,s:o,s:I}", "soname", jstr(recs[i].soname),
					  "version", jstr(version), "paths", paths, "copies",
					  copies, "bytes", (json_int_t)(sum - max)));
		}
		dup_versions_add(&dv, an, &recs[i], version, max);
		if (j == soname_end)
			dup_versions_end(&dv, an, findings);
		i = j;
	}
	free(recs);
	strbuf_release(&path);
	strbuf_release(&dv.where);
	free(dv.first_path);
	return arr;
}
