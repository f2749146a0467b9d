#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pep440.h"
#include "core/plan.h"
#include "core/pyindex.h"
#include "core/wheel.h"
#include "util/executor.h"
#include "util/strbuf.h"

/*
 * plan_resolve_wheels(): every Python requirement of a cell pinned to one
 * wheel file, as pip --only-binary :all: would pick it for the cell's
 * interpreter and platform, then installed with --require-hashes --no-deps.
 *
 * Where each requirement is looked up:
 * - a framework (torch==2.11.0+cu130): its own index only, never the
 *   recipe's. A same-named project on the default index must not win
 *   (dependency confusion), so there is no fallback;
 * - what a framework requires (nvidia-cublas, filelock): its index first,
 *   as pip --index-url <framework index> would; a project it lacks comes
 *   from the recipe's index;
 * - python_packages and what they require: the recipe's index.
 * A project already pinned for the cell is never looked up again: its pin
 * must satisfy every later requirement, whichever index that came from.
 *
 * The resolver is greedy, breadth first and newest first. On a conflict it
 * learns (the conflicting requirement's range becomes a constraint of the
 * project from the start, or the requiring version is ruled out) and runs
 * again, at most PW_MAX_RUNS times. Cells resolve in parallel on the
 * executor and share the index client, so each page is fetched once.
 */

#define PW_MAX_RUNS 32
#define PW_JOBS	    8
#define PW_LIST_MAX 12 /* versions or files named in one message */

/* Where a requirement came from in the recipe: the diagnostics point there. */
struct pw_root {
	char *field; /* "python_packages[1]", "frameworks.torch" */
	struct rpos pos;
	const char *text;  /* the requirement: "torch==2.11.0+cu130", "gsfx-a>=1" */
	int framework;	   /* a framework: from its index only */
	const char *index; /* the index it is looked up in (borrowed or index_auth) */
	char *index_auth;  /* the recipe's URL of it with credentials, owned; NULL: none */
	int dropped;	   /* its marker rules it out of the cell */
};

struct pw_req {
	struct pyreq r;
	char *text;	   /* as written, for messages */
	char *by_name;	   /* the project that requires it; NULL for a root */
	char *by_version;  /* its version */
	size_t root;	   /* index into roots */
	int framework;	   /* in a framework's tree: its index first */
	int fw_only;	   /* the framework itself: its index only */
	const char *index; /* the framework's index (framework), else the default */
	int root_order;	   /* roots keep their order in the install list; -1 */
};

struct pw_pin {
	char *name;
	char *version;
	const struct pyindex_file *file;
	const char *index; /* borrowed: the index it came from */
	int framework;
	char *required_by;
	int root_order;
	struct pyindex_metadata md;
	char *deps_done;   /* per md.requires_dist item: already queued */
	struct vec extras; /* extras whose requirements are queued */
	struct vec asked;  /* "spec (by)" of every requirement it met */
	struct vec specs;  /* their specifier texts */
};

/* A constraint learned from a conflict, kept across runs of one cell. */
struct pw_learned {
	char *name;
	char *spec;    /* a range the project must be in; NULL: see version */
	char *version; /* a version ruled out */
	char *why;     /* the conflict that taught it */
};

struct pw_cell {
	struct plan *p;
	struct plan_cell *c;
	struct pyindex_client *ic;
	const char *default_index;
	struct wheel_target target;
	char *tags_text; /* "cp311 manylinux_2_36_x86_64" */
	struct pyenv env;
	char *pyver; /* "3.11", for Requires-Python */

	struct pw_root *roots;
	size_t roots_nr;
	struct pw_req *queue;
	size_t queue_nr, queue_alloc, queue_head;
	struct pw_pin *pins;
	size_t pins_nr, pins_alloc;
	struct pw_learned *learned;
	size_t learned_nr, learned_alloc;

	struct diag *dg;
	size_t dg_nr, dg_alloc;
	char *infra; /* the index failed: its message */
	int code;
};

/* ---- small helpers ------------------------------------------------------- */

static void pw_diag(struct pw_cell *pc, size_t root, const char *fmt, ...) GS_FMT(3, 4);

static void pw_diag(struct pw_cell *pc, size_t root, const char *fmt, ...)
{
	const struct pw_root *rt = &pc->roots[root];
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	strbuf_addf(&sb, "cell '%s': ", pc->c->id);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ALLOC_GROW(pc->dg, pc->dg_nr + 1, pc->dg_alloc);
	diag_set(&pc->dg[pc->dg_nr++], pc->p->recipe->file, rt->pos, rt->field, "%s", sb.buf);
	strbuf_release(&sb);
}

/* The index as messages and the plan name it: no credentials. */
static char *pw_redact(const char *url)
{
	return pyindex_redact_url(url);
}

static int pw_spec_contains(const char *spec, const char *version, int prereleases)
{
	struct pep440_spec *s;
	int in;

	/* "" too: it matches every final release, and pre-releases only
	 * when asked for. */
	if (pep440_spec_parse(spec ? spec : "", &s) < 0)
		return 0;
	in = pep440_spec_contains(s, version, prereleases);
	pep440_spec_free(s);
	return in;
}

/* PEP 592: a yanked file is taken only when the requirement pins its
 * version with == (or ===). */
static int pw_spec_pins(const char *spec)
{
	const char *p = spec;

	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!strncmp(p, "==", 2))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

/* "name-version.tar.gz" (or .zip): the version, for listing what an index
 * has; NULL for anything else. */
static char *pw_sdist_version(const char *filename)
{
	static const char *const exts[] = {".tar.gz", ".zip", ".tar.bz2", ".tgz", NULL};
	const char *dash;

	for (size_t i = 0; exts[i]; i++) {
		size_t n = strlen(filename), e = strlen(exts[i]);

		if (n <= e || !ends_with(filename, exts[i]))
			continue;
		dash = NULL;
		for (const char *p = filename; p < filename + n - e; p++)
			if (*p == '-')
				dash = p;
		if (!dash)
			return NULL;
		return xstrndup(dash + 1, (size_t)(filename + n - e - dash - 1));
	}
	return NULL;
}

static struct pw_pin *pw_find_pin(struct pw_cell *pc, const char *name)
{
	for (size_t i = 0; i < pc->pins_nr; i++)
		if (!strcmp(pc->pins[i].name, name))
			return &pc->pins[i];
	return NULL;
}

static void pw_pin_release(struct pw_pin *pin)
{
	free(pin->name);
	free(pin->version);
	free(pin->required_by);
	pyindex_metadata_release(&pin->md);
	free(pin->deps_done);
	vec_release(&pin->extras);
	vec_release(&pin->asked);
	vec_release(&pin->specs);
}

static void pw_req_release(struct pw_req *rq)
{
	pyreq_release(&rq->r);
	free(rq->text);
	free(rq->by_name);
	free(rq->by_version);
}

/* The run's state, not what it learned. */
static void pw_reset(struct pw_cell *pc)
{
	for (size_t i = 0; i < pc->queue_nr; i++)
		pw_req_release(&pc->queue[i]);
	pc->queue_nr = pc->queue_head = 0;
	for (size_t i = 0; i < pc->pins_nr; i++)
		pw_pin_release(&pc->pins[i]);
	pc->pins_nr = 0;
}

/* Queue `text` (a PEP 508 requirement); GS_EINVAL when it does not parse. */
static int pw_enqueue(struct pw_cell *pc, const char *text, const struct pw_pin *by, size_t root,
		      int framework, int fw_only, const char *index, int root_order)
{
	struct pw_req *rq;

	ALLOC_GROW(pc->queue, pc->queue_nr + 1, pc->queue_alloc);
	rq = &pc->queue[pc->queue_nr];
	memset(rq, 0, sizeof(*rq));
	if (pyreq_parse(text, &rq->r) < 0)
		return GS_EINVAL;
	rq->text = xstrdup(text);
	rq->by_name = by ? xstrdup(by->name) : NULL;
	rq->by_version = by ? xstrdup(by->version) : NULL;
	rq->root = root;
	rq->framework = framework;
	rq->fw_only = fw_only;
	rq->index = index;
	rq->root_order = root_order;
	pc->queue_nr++;
	return 0;
}

static void pw_req_by(const struct pw_req *rq, struct strbuf *sb)
{
	if (rq->by_name)
		strbuf_addf(sb, "%s %s", rq->by_name, rq->by_version);
	else
		strbuf_addstr(sb, rq->fw_only ? "frameworks" : "recipe");
}

/* "gsfx-b>=2 (required by gsfx-a 1.0)" or "gsfx-b>=2". */
static void pw_req_says(const struct pw_req *rq, struct strbuf *sb)
{
	strbuf_addf(sb, "'%s'", rq->text);
	if (rq->by_name)
		strbuf_addf(sb, " (required by %s %s)", rq->by_name, rq->by_version);
}

/* ---- choosing a file ------------------------------------------------------ */

/* The files of one version of a project. */
struct pw_version {
	char *version;
	struct vec files; /* const struct pyindex_file *, borrowed */
};

static int pw_version_cmp_desc(const void *a, const void *b)
{
	const struct pw_version *x = a, *y = b;

	return pep440_cmp(y->version, x->version);
}

/* The project's versions, newest first (wheels and sdists). */
static void pw_versions(const struct pyindex_project *proj, struct pw_version **out, size_t *out_nr)
{
	struct pw_version *v = NULL;
	size_t nr = 0, alloc = 0;

	for (size_t i = 0; i < proj->files_nr; i++) {
		const struct pyindex_file *f = &proj->files[i];
		struct wheel_name wn;
		char *ver = NULL;
		size_t k;

		if (!wheel_name_parse(f->filename, &wn)) {
			ver = xstrdup(wn.version);
			wheel_name_release(&wn);
		} else {
			ver = pw_sdist_version(f->filename);
		}
		if (!ver || pep440_valid(ver) < 0) {
			free(ver);
			continue;
		}
		for (k = 0; k < nr; k++)
			if (!pep440_cmp(v[k].version, ver))
				break;
		if (k == nr) {
			ALLOC_GROW(v, nr + 1, alloc);
			v[nr].version = ver;
			vec_init(&v[nr].files, NULL);
			nr++;
		} else {
			free(ver);
		}
		vec_push(&v[k].files, (void *)f);
	}
	if (nr)
		qsort(v, nr, sizeof(*v), pw_version_cmp_desc);
	*out = v;
	*out_nr = nr;
}

static void pw_versions_free(struct pw_version *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(v[i].version);
		vec_release(&v[i].files);
	}
	free(v);
}

/* The conflict that ruled `version` out, or NULL. */
static const char *pw_learned_excludes(const struct pw_cell *pc, const char *name,
				       const char *version)
{
	for (size_t i = 0; i < pc->learned_nr; i++) {
		const struct pw_learned *l = &pc->learned[i];

		if (strcmp(l->name, name))
			continue;
		if ((l->version && !pep440_cmp(l->version, version)) ||
		    (l->spec && !pw_spec_contains(l->spec, version, 1)))
			return l->why;
	}
	return NULL;
}

static int pw_preferred(const struct pw_cell *pc, const char *name, const char *version)
{
	const struct vec *pref = &pc->c->wheel_prefer;

	for (size_t i = 0; i < pref->nr; i++) {
		const char *s = pref->items[i], *eq = strstr(s, "==");
		char *n;
		int same;

		if (!eq)
			continue;
		n = xstrndup(s, (size_t)(eq - s));
		{
			char *norm = pyname_normalize(n);

			same = !strcmp(norm, name) && !pep440_cmp(eq + 2, version);
			free(norm);
		}
		free(n);
		if (same)
			return 1;
	}
	return 0;
}

struct pw_choice {
	const struct pyindex_file *file;
	char *version;
	const char *index;
	int framework;
};

/* Why one version that matched the requirement was not taken. */
static void pw_explain_version(const struct pw_cell *pc, const struct pw_version *v,
			       int allow_yanked, const char *shown, struct strbuf *why)
{
	struct vec wheels = VEC_INIT(NULL), sdists = VEC_INIT(NULL);
	const char *yanked = NULL, *reqpy = NULL, *nohash = NULL;
	int yanked_any = 0;

	for (size_t i = 0; i < v->files.nr; i++) {
		const struct pyindex_file *f = v->files.items[i];
		struct wheel_name wn;

		if (wheel_name_parse(f->filename, &wn) < 0) {
			vec_push(&sdists, f->filename);
			continue;
		}
		if (wheel_compatible(&wn, &pc->target) > 0) {
			if (f->yanked && !allow_yanked) {
				yanked_any = 1;
				if (f->yanked_reason)
					yanked = f->yanked_reason;
			} else if (f->requires_python &&
				   !pw_spec_contains(f->requires_python, pc->pyver, 1)) {
				reqpy = f->requires_python;
			} else if (!f->sha256) {
				nohash = f->filename;
			}
		}
		vec_push(&wheels, f->filename);
		wheel_name_release(&wn);
	}
	strbuf_addf(why, "%s ", v->version);
	if (yanked_any)
		strbuf_addf(why, "(yanked%s%s; pin it with == to take it anyway)",
			    yanked ? ": " : "", yanked ? yanked : "");
	else if (reqpy)
		strbuf_addf(why, "(requires python %s)", reqpy);
	else if (nohash)
		strbuf_addf(why,
			    "(%s on %s has no sha256, which pip --require-hashes needs: the "
			    "index must give one)",
			    nohash, shown);
	else if (!wheels.nr)
		strbuf_addf(why, "(sdist only: %s)", sdists.nr ? (char *)sdists.items[0] : "?");
	else {
		strbuf_addstr(why, "(wheels only for other targets: ");
		for (size_t i = 0; i < wheels.nr && i < 3; i++)
			strbuf_addf(why, "%s%s", i ? ", " : "", (char *)wheels.items[i]);
		if (wheels.nr > 3)
			strbuf_addf(why, ", and %zu more", wheels.nr - 3);
		strbuf_addch(why, ')');
	}
	vec_release(&wheels);
	vec_release(&sdists);
}

static void pw_list_versions(const struct pw_version *v, size_t nr, struct strbuf *sb)
{
	if (!nr) {
		strbuf_addstr(sb, "no files");
		return;
	}
	for (size_t i = 0; i < nr && i < PW_LIST_MAX; i++)
		strbuf_addf(sb, "%s%s", i ? ", " : "", v[i].version);
	if (nr > PW_LIST_MAX)
		strbuf_addf(sb, " and %zu older", nr - PW_LIST_MAX);
}

/*
 * Pick the newest version of `rq` (within `specs` too and what the cell
 * learned; a wheel_prefer pin first) with a wheel for the cell, and its
 * best file. 0 with `out` filled; 1 when nothing fits (the index lacks the
 * project, or answers with nothing usable), with the reason in `why`;
 * GS_EINFRA when the index cannot be reached.
 */
static int pw_choose(struct pw_cell *pc, const struct pw_req *rq, const struct vec *specs,
		     const struct vec *skip, struct pw_choice *out, struct strbuf *why)
{
	const struct pyindex_project *proj = NULL;
	const char *index = rq->framework ? rq->index : pc->default_index;
	struct pw_version *v = NULL;
	size_t nr = 0, matched = 0, best_v = (size_t)-1;
	const struct pyindex_file *best = NULL;
	int ret, allow_yanked = pw_spec_pins(rq->r.spec), pass, best_rank = 0;
	struct strbuf rejected = STRBUF_INIT, pre = STRBUF_INIT;
	char *shown;

	memset(out, 0, sizeof(*out));
	ret = pyindex_get_project(pc->ic, index, rq->r.name, &proj);
	if (ret == GS_ENOTFOUND && rq->framework && !rq->fw_only &&
	    strcmp(index, pc->default_index)) {
		/* A framework's dependency its index does not carry. */
		index = pc->default_index;
		ret = pyindex_get_project(pc->ic, index, rq->r.name, &proj);
	}
	shown = pw_redact(index);
	if (ret == GS_ENOTFOUND) {
		strbuf_addf(why, "%s has no project '%s'%s", shown, rq->r.name,
			    rq->fw_only ? " (a framework comes from its own index only)" : "");
		ret = 1;
		goto done;
	}
	if (ret == GS_EINVAL) {
		/* The index answered with something unusable: this requirement's
		 * problem, said where it is. */
		strbuf_addstr(why, error_last());
		ret = 1;
		goto done;
	}
	if (ret < 0)
		goto done;
	pw_versions(proj, &v, &nr);

	/* Pass 0: a wheel_prefer pin, if it still fits; pass 1: newest first. */
	for (pass = 0; pass < 2 && !best; pass++) {
		for (size_t i = 0; i < nr && !best; i++) {
			const char *ruled;
			int ok = 1, yanked_ok;

			if (pass == 0 && !pw_preferred(pc, rq->r.name, v[i].version))
				continue;
			if (!pw_spec_contains(rq->r.spec, v[i].version, 0))
				continue;
			for (size_t k = 0; k < specs->nr && ok; k++)
				ok = pw_spec_contains(specs->items[k], v[i].version, 1);
			if (!ok)
				continue;
			if (pass == 1)
				matched++;
			ruled = pw_learned_excludes(pc, rq->r.name, v[i].version);
			if (ruled) {
				if (pass == 1)
					strbuf_addf(&rejected, "%s%s (ruled out: %s)",
						    rejected.len ? "; " : "", v[i].version, ruled);
				continue;
			}
			if (skip && vec_findstr(skip, v[i].version) >= 0) {
				if (pass == 1)
					strbuf_addf(&rejected,
						    "%s%s (its metadata requires another python)",
						    rejected.len ? "; " : "", v[i].version);
				continue;
			}
			yanked_ok = allow_yanked || pass == 0;
			for (size_t k = 0; k < v[i].files.nr; k++) {
				const struct pyindex_file *f = v[i].files.items[k];
				struct wheel_name wn;
				int rank;

				if (wheel_name_parse(f->filename, &wn) < 0)
					continue;
				rank = wheel_compatible(&wn, &pc->target);
				wheel_name_release(&wn);
				/* No sha256, no pin: the build installs with
				 * --require-hashes. */
				if (rank <= 0 || !f->sha256 || (f->yanked && !yanked_ok) ||
				    (f->requires_python &&
				     !pw_spec_contains(f->requires_python, pc->pyver, 1)))
					continue;
				/* A file not yanked first (PEP 592): a yanked one
				 * only when the pin matches nothing else. */
				if (!best || (best->yanked && !f->yanked) ||
				    (rank > best_rank && (!f->yanked || best->yanked))) {
					best = f;
					best_rank = rank;
					best_v = i;
				}
			}
			if (!best && pass == 1) {
				if (rejected.len)
					strbuf_addstr(&rejected, "; ");
				pw_explain_version(pc, &v[i], allow_yanked, shown, &rejected);
			}
		}
	}
	if (best) {
		out->file = best;
		out->version = xstrdup(v[best_v].version);
		out->index = index;
		out->framework = index == rq->index && rq->framework;
		ret = 0;
		goto done;
	}
	ret = 1;
	if (!matched) {
		/* Pre-releases are not taken unless asked for: say which match. */
		for (size_t i = 0; i < nr; i++)
			if (pep440_is_prerelease(v[i].version) == 1 &&
			    pw_spec_contains(rq->r.spec, v[i].version, 1))
				strbuf_addf(&pre, "%s%s", pre.len ? ", " : "", v[i].version);
		strbuf_addf(why, "no version matches");
		if (specs->nr) {
			strbuf_addstr(why, " it and");
			for (size_t k = 0; k < specs->nr; k++)
				strbuf_addf(why, "%s '%s'", k ? "," : "", (char *)specs->items[k]);
		}
		if (pre.len)
			strbuf_addf(why,
				    " (pre-releases %s do: ask for one, like '%s>=%s', to take "
				    "it)",
				    pre.buf, rq->r.name, pre.buf);
		strbuf_addf(why, "; %s has %s ", shown, rq->r.name);
	} else {
		strbuf_addf(why, "no wheel for %s: %s; %s has %s ", pc->tags_text, rejected.buf,
			    shown, rq->r.name);
	}
	pw_list_versions(v, nr, why);
done:
	pw_versions_free(v, nr);
	strbuf_release(&rejected);
	strbuf_release(&pre);
	free(shown);
	return ret;
}

/* ---- the resolver --------------------------------------------------------- */

/* 1 when the dependency at `i` of `pin` applies with `extra` (NULL: none). */
static int pw_dep_applies(struct pw_cell *pc, const struct pyreq *dep, const char *extra, int *ret)
{
	int res = 0;

	*ret = 0;
	if (!dep->marker)
		return extra == NULL;
	if (pyreq_marker_eval(dep->marker, &pc->env, extra, &res) < 0) {
		*ret = GS_EINVAL;
		return 0;
	}
	return res;
}

/* Queue what `pin` requires with its extras (the base requirements when
 * not yet queued, and those of each extra in `extras`). */
static int pw_queue_deps(struct pw_cell *pc, size_t pin_i, const struct vec *extras,
			 const struct pw_req *from)
{
	struct pw_pin *pin = &pc->pins[pin_i];
	int ret = 0;

	for (size_t i = 0; i < pin->md.requires_dist.nr && !ret; i++) {
		const char *text = pin->md.requires_dist.items[i];
		struct pyreq dep;
		int applies = 0;

		if (pin->deps_done[i])
			continue;
		if (pyreq_parse(text, &dep) < 0) {
			pw_diag(pc, from->root, "%s %s requires '%s', which does not parse: %s",
				pin->name, pin->version, text, error_last());
			return 1;
		}
		applies = pw_dep_applies(pc, &dep, NULL, &ret);
		for (size_t k = 0; !ret && !applies && k < extras->nr; k++)
			applies = pw_dep_applies(pc, &dep, extras->items[k], &ret);
		if (ret) {
			pw_diag(pc, from->root, "%s %s: marker of '%s': %s", pin->name,
				pin->version, text, error_last());
			pyreq_release(&dep);
			return 1;
		}
		if (applies && dep.url) {
			pw_diag(
			    pc, from->root,
			    "%s %s requires '%s', a direct URL: it cannot be pinned from an index",
			    pin->name, pin->version, text);
			pyreq_release(&dep);
			return 1;
		}
		pyreq_release(&dep);
		if (!applies)
			continue;
		pin->deps_done[i] = 1;
		/* Strip the marker: it has been evaluated. */
		{
			char *req = xstrdup(text), *semi = strchr(req, ';');

			if (semi) {
				*semi = '\0';
				while (semi > req && semi[-1] == ' ')
					*--semi = '\0';
			}
			pw_enqueue(pc, req, pin, from->root, pin->framework, 0,
				   pin->framework ? pin->index : pc->default_index, -1);
			free(req);
			pin = &pc->pins[pin_i];
		}
	}
	return 0;
}

/* The pin of `rq` and its requirements queued. 0, 1 (a diagnostic), 2 (run
 * again: something was learned), or a negative code (the index failed). */
static int pw_pin_new(struct pw_cell *pc, const struct pw_req *rq)
{
	struct vec specs = VEC_INIT(free), skip = VEC_INIT(free);
	struct strbuf why = STRBUF_INIT, sb = STRBUF_INIT;
	struct pw_choice ch = {0};
	struct pw_pin *pin;
	int ret;

	for (;;) {
		struct pyindex_metadata md = {0};

		ret = pw_choose(pc, rq, &specs, &skip, &ch, &why);
		if (ret == 1) {
			pw_req_says(rq, &sb);
			pw_diag(pc, rq->root, "%s: %s", sb.buf, why.buf);
			ret = 1;
			goto done;
		}
		if (ret < 0)
			goto done;
		ret = pyindex_get_metadata(pc->ic, ch.file, &md);
		if (ret == GS_EINVAL || ret == GS_ENOTFOUND) {
			pw_req_says(rq, &sb);
			pw_diag(pc, rq->root, "%s: %s", sb.buf, error_last());
			free(ch.version);
			ret = 1;
			goto done;
		}
		if (ret < 0) {
			free(ch.version);
			goto done;
		}
		if (md.requires_python && !pw_spec_contains(md.requires_python, pc->pyver, 1)) {
			/* The index did not say; the metadata does. */
			vec_pushstr(&skip, ch.version);
			free(ch.version);
			pyindex_metadata_release(&md);
			continue;
		}
		ALLOC_GROW(pc->pins, pc->pins_nr + 1, pc->pins_alloc);
		pin = &pc->pins[pc->pins_nr++];
		memset(pin, 0, sizeof(*pin));
		pin->name = xstrdup(rq->r.name);
		pin->version = ch.version;
		pin->file = ch.file;
		pin->index = ch.index;
		pin->framework = ch.framework;
		pin->root_order = rq->root_order;
		pin->md = md;
		pin->deps_done = xcalloc(md.requires_dist.nr ? md.requires_dist.nr : 1, 1);
		vec_init(&pin->extras, free);
		vec_init(&pin->asked, free);
		vec_init(&pin->specs, free);
		pw_req_by(rq, &sb);
		pin->required_by = rq->by_name ? xstrdup(rq->by_name) : strbuf_detach(&sb, NULL);
		strbuf_reset(&sb);
		pw_req_by(rq, &sb);
		vec_pushf(&pin->asked, "%s (%s)", rq->text, sb.buf);
		vec_pushstr(&pin->specs, rq->r.spec);
		for (size_t i = 0; i < rq->r.extras.nr; i++)
			vec_pushstr(&pin->extras, rq->r.extras.items[i]);
		ret = pw_queue_deps(pc, pc->pins_nr - 1, &pc->pins[pc->pins_nr - 1].extras, rq);
		goto done;
	}
done:
	vec_release(&specs);
	vec_release(&skip);
	strbuf_release(&why);
	strbuf_release(&sb);
	return ret;
}

static void pw_learn(struct pw_cell *pc, const char *name, const char *spec, const char *version,
		     char *why)
{
	struct pw_learned *l;

	ALLOC_GROW(pc->learned, pc->learned_nr + 1, pc->learned_alloc);
	l = &pc->learned[pc->learned_nr++];
	l->name = xstrdup(name);
	l->spec = spec ? xstrdup(spec) : NULL;
	l->version = version ? xstrdup(version) : NULL;
	l->why = why;
}

/* `rq` meets a project already pinned. */
static int pw_meet_pin(struct pw_cell *pc, size_t pin_i, const struct pw_req *rq)
{
	struct pw_pin *pin = &pc->pins[pin_i];
	struct strbuf sb = STRBUF_INIT, why = STRBUF_INIT;
	struct vec extras = VEC_INIT(free);
	int ret = 0;

	pw_req_by(rq, &sb);
	if (pw_spec_contains(rq->r.spec, pin->version, 1)) {
		vec_pushf(&pin->asked, "%s (%s)", rq->text, sb.buf);
		vec_pushstr(&pin->specs, rq->r.spec);
		for (size_t i = 0; i < rq->r.extras.nr; i++)
			if (vec_findstr(&pin->extras, rq->r.extras.items[i]) < 0) {
				vec_pushstr(&pin->extras, rq->r.extras.items[i]);
				vec_pushstr(&extras, rq->r.extras.items[i]);
			}
		if (extras.nr)
			ret = pw_queue_deps(pc, pin_i, &extras, rq);
		goto done;
	}

	/* A conflict. Another version that fits every requirement so far? */
	{
		struct pw_choice ch;
		struct vec specs = VEC_INIT(free);
		struct pw_req probe = *rq;

		for (size_t i = 0; i < pin->specs.nr; i++)
			vec_pushstr(&specs, pin->specs.items[i]);
		probe.framework = pin->framework;
		probe.fw_only = 0;
		probe.index = pin->index;
		ret = pw_choose(pc, &probe, &specs, NULL, &ch, &why);
		vec_release(&specs);
		if (ret == 0) {
			free(ch.version);
			pw_learn(pc, rq->r.name, rq->r.spec, NULL,
				 xstrfmt("'%s' (%s)", rq->text, sb.buf));
			ret = 2;
			goto done;
		}
		if (ret < 0)
			goto done;
	}
	strbuf_reset(&why);
	for (size_t i = 0; i < pin->asked.nr; i++)
		strbuf_addf(&why, "%s%s", i ? ", " : "", (char *)pin->asked.items[i]);
	strbuf_reset(&sb);
	pw_req_says(rq, &sb);
	/* No: rule out the version that asks, when the resolver may pick
	 * another (never a framework's: its version is the plan's). */
	if (rq->by_name) {
		const struct pw_pin *parent = pw_find_pin(pc, rq->by_name);

		if (parent && !parent->framework) {
			pw_learn(pc, rq->by_name, NULL, rq->by_version,
				 xstrfmt("it requires %s, and %s %s is pinned for %s", rq->text,
					 pin->name, pin->version, why.buf));
			ret = 2;
			goto done;
		}
	}
	pw_diag(pc, rq->root, "%s conflicts with %s %s, pinned for %s", sb.buf, pin->name,
		pin->version, why.buf);
	ret = 1;
done:
	strbuf_release(&sb);
	strbuf_release(&why);
	vec_release(&extras);
	return ret;
}

/* One greedy run over the queue: 0, 1 (diagnostics), 2 (learned: run
 * again) or a negative code. */
static int pw_run(struct pw_cell *pc)
{
	int ret = 0, failed = 0;

	pw_reset(pc);
	for (size_t i = 0; i < pc->roots_nr; i++) {
		const struct pw_root *rt = &pc->roots[i];

		if (rt->dropped)
			continue;
		if (pw_enqueue(pc, rt->text, NULL, i, rt->framework, rt->framework, rt->index,
			       (int)i) < 0) {
			pw_diag(pc, i, "%s", error_last());
			failed = 1;
		}
	}
	while (pc->queue_head < pc->queue_nr) {
		/* A copy: the queue may grow under it; its strings stay. */
		struct pw_req rq = pc->queue[pc->queue_head++];
		struct pw_pin *pin = pw_find_pin(pc, rq.r.name);

		if (rq.r.url) {
			pw_diag(pc, rq.root,
				"'%s' is a direct URL: it cannot be pinned from an index", rq.text);
			failed = 1;
			continue;
		}
		ret = pin ? pw_meet_pin(pc, (size_t)(pin - pc->pins), &rq) : pw_pin_new(pc, &rq);
		if (ret < 0 || ret == 2)
			return ret;
		if (ret == 1)
			failed = 1;
	}
	return failed;
}

/* Install order: roots as the recipe lists them (frameworks first), then
 * the rest by name; the framework's index before the default one. */
static int pw_pin_cmp(const void *a, const void *b)
{
	const struct pw_pin *x = a, *y = b;

	if (x->framework != y->framework)
		return y->framework - x->framework;
	if ((x->root_order >= 0) != (y->root_order >= 0))
		return x->root_order >= 0 ? -1 : 1;
	if (x->root_order >= 0)
		return x->root_order - y->root_order;
	return strcmp(x->name, y->name);
}

static void pw_fill(struct pw_cell *pc)
{
	struct plan_cell *c = pc->c;

	qsort(pc->pins, pc->pins_nr, sizeof(*pc->pins), pw_pin_cmp);
	plan_wheels_release(c->wheels, c->wheels_nr);
	c->wheels = xcalloc(pc->pins_nr ? pc->pins_nr : 1, sizeof(*c->wheels));
	c->wheels_nr = pc->pins_nr;
	for (size_t i = 0; i < pc->pins_nr; i++) {
		const struct pw_pin *pin = &pc->pins[i];
		struct plan_wheel *w = &c->wheels[i];

		w->name = xstrdup(pin->name);
		w->version = xstrdup(pin->version);
		w->filename = xstrdup(pin->file->filename);
		w->url = pw_redact(pin->file->url);
		w->sha256 = xstrdup(pin->file->sha256);
		w->index_url = pw_redact(pin->index);
		w->required_by = xstrdup(pin->required_by);
		w->framework = pin->framework;
		if (pin->file->yanked)
			w->yanked =
			    xstrdup(pin->file->yanked_reason ? pin->file->yanked_reason : "");
	}
}

/* Roots: the frameworks (from their index only), then python_packages;
 * a root whose marker rules it out of the cell is kept, dropped, so that
 * root indexes stay the recipe's. */
static void pw_roots(struct pw_cell *pc)
{
	const struct recipe *r = pc->p->recipe;
	const struct plan_cell *c = pc->c;

	pc->roots = xcalloc(c->frameworks_nr + r->python_packages.nr + 1, sizeof(*pc->roots));
	for (size_t i = 0; i < c->frameworks_nr; i++) {
		const struct plan_framework *f = &c->frameworks[i];
		struct pw_root *rt = &pc->roots[pc->roots_nr++];

		rt->field = xstrfmt("frameworks.%s", f->name);
		rt->pos = r->frameworks_pos.line ? r->frameworks_pos : r->pos;
		for (size_t k = 0; k < r->frameworks_nr; k++)
			if (r->frameworks[k].name.v && !strcmp(r->frameworks[k].name.v, f->name))
				rt->pos = r->frameworks[k].version.pos.line
					      ? r->frameworks[k].version.pos
					      : r->frameworks[k].name.pos;
		rt->text = f->pip_spec;
		rt->framework = 1;
		/* A framework without an index of its own (PyPI's wheels) is
		 * the default index's. */
		rt->index = f->index_url ? f->index_url : pc->default_index;
		/* The plan's URL is redacted: ask with the recipe's. */
		rt->index_auth = plan_index_credentialed(r, f->index_url, f->variant);
		if (rt->index_auth)
			rt->index = rt->index_auth;
	}
	for (size_t i = 0; i < r->python_packages.nr; i++) {
		struct pw_root *rt = &pc->roots[pc->roots_nr++];
		struct pyreq req;
		int res = 1;

		rt->field = xstrfmt("python_packages[%zu]", i);
		rt->pos = r->python_packages.items[i].pos;
		rt->text = r->python_packages.items[i].v;
		rt->index = pc->default_index;
		if (pyreq_parse(rt->text, &req) < 0)
			continue; /* pw_run says it */
		if (req.marker && pyreq_marker_eval(req.marker, &pc->env, NULL, &res) < 0)
			pw_diag(pc, pc->roots_nr - 1, "%s", error_last());
		else
			rt->dropped = !res;
		pyreq_release(&req);
	}
}

static int pw_cell_target(struct pw_cell *pc)
{
	const struct kb_os *os = pc->c->os.value ? kb_find_os(pc->p->kb, pc->c->os.value) : NULL;
	unsigned maj = 0, min = 0;

	if (!os || !os->glibc || sscanf(os->glibc, "%u.%u", &maj, &min) != 2) {
		ALLOC_GROW(pc->dg, pc->dg_nr + 1, pc->dg_alloc);
		diag_set(&pc->dg[pc->dg_nr++], pc->p->recipe->file, recipe_base_pos(pc->p->recipe),
			 "base.os",
			 "cell '%s': os.json gives no glibc for '%s'; wheels cannot be picked "
			 "without it",
			 pc->c->id, pc->c->os.value ? pc->c->os.value : "?");
		return 1;
	}
	pc->target.python = pc->c->python.value;
	pc->target.glibc_major = maj;
	pc->target.glibc_minor = min;
	pc->target.arch = "x86_64";
	{
		const char *dot = strchr(pc->c->python.value, '.');

		pc->tags_text = xstrfmt("cp%.*s%s manylinux_%u_%u_x86_64",
					dot ? (int)(dot - pc->c->python.value) : 1,
					pc->c->python.value, dot ? dot + 1 : "", maj, min);
	}
	pc->pyver = xstrdup(pc->c->python.value);
	pc->env.python_version = pc->c->python.value;
	pc->env.python_full_version = NULL;
	pc->env.sys_platform = "linux";
	pc->env.platform_machine = "x86_64";
	pc->env.platform_system = "Linux";
	pc->env.os_name = "posix";
	pc->env.implementation_name = "cpython";
	pc->env.platform_python_implementation = "CPython";
	return 0;
}

/* One cell, on a worker thread: it writes only `pc` and its cell. */
static int pw_cell_resolve(struct pw_cell *pc)
{
	int ret = 0, runs;

	if (pw_cell_target(pc))
		return 0;
	pw_roots(pc);
	if (pc->dg_nr)
		return 0;
	for (runs = 0; runs < PW_MAX_RUNS; runs++)
		if ((ret = pw_run(pc)) != 2)
			break;
	if (runs == PW_MAX_RUNS) {
		pw_diag(pc, 0, "no set of versions fits every requirement after %d tries",
			PW_MAX_RUNS);
		ret = 1;
	}
	if (ret < 0) {
		pc->code = ret;
		pc->infra = xstrdup(error_last());
	} else if (ret == 0 && !pc->dg_nr) {
		pw_fill(pc);
	}
	return 0;
}

/* ---- the cells, in parallel ------------------------------------------------ */

struct pw_all {
	struct pw_cell *cells;
	size_t nr, next;
};

static int pw_job(struct exec_job *job)
{
	return pw_cell_resolve(job->data);
}

static int pw_get_next(void *ctx, struct exec_job *job)
{
	struct pw_all *all = ctx;

	if (all->next >= all->nr)
		return 1;
	job->fn = pw_job;
	job->data = &all->cells[all->next++];
	return 0;
}

static int pw_cell_needs(const struct plan *p, const struct plan_cell *c)
{
	return c->python.value && (c->frameworks_nr || p->recipe->python_packages.nr);
}

int plan_needs_wheels(const struct plan *p)
{
	for (size_t i = 0; i < p->cells_nr; i++)
		if (pw_cell_needs(p, &p->cells[i]))
			return 1;
	return 0;
}

int plan_resolve_wheels(struct plan *p, struct pyindex_client *ic, struct vec *diags)
{
	const struct recipe *r = p->recipe;
	struct pw_all all = {NULL, 0, 0};
	struct exec_opts eo = EXEC_OPTS_INIT;
	size_t start = diags->nr;
	int ret = 0;

	all.cells = xcalloc(p->cells_nr ? p->cells_nr : 1, sizeof(*all.cells));
	for (size_t i = 0; i < p->cells_nr; i++) {
		struct pw_cell *pc;

		if (!pw_cell_needs(p, &p->cells[i]))
			continue;
		pc = &all.cells[all.nr++];
		pc->p = p;
		pc->c = &p->cells[i];
		pc->ic = ic;
		pc->default_index =
		    r->pip.index_url.v ? r->pip.index_url.v : RECIPE_DEFAULT_INDEX_URL;
	}
	eo.jobs = all.nr < PW_JOBS ? (int)(all.nr ? all.nr : 1) : PW_JOBS;
	eo.get_next = pw_get_next;
	eo.ctx = &all;
	if (all.nr && executor_run(&eo) < 0 && all.next < all.nr) {
		ret = error_setc(GS_ERR, "cannot resolve wheels: %s", error_last());
		goto done;
	}
	for (size_t i = 0; i < all.nr; i++) {
		struct pw_cell *pc = &all.cells[i];

		if (pc->code < 0 && !ret) {
			ret = error_setc(pc->code, "cell '%s': %s", pc->c->id, pc->infra);
		}
		for (size_t k = 0; k < pc->dg_nr; k++)
			diag_push(diags, start, &pc->dg[k], 1);
	}
	if (!ret && diags->nr > start)
		ret = GS_EINVAL;
done:
	for (size_t i = 0; i < all.nr; i++) {
		struct pw_cell *pc = &all.cells[i];

		pw_reset(pc);
		free(pc->queue);
		free(pc->pins);
		for (size_t k = 0; k < pc->learned_nr; k++) {
			free(pc->learned[k].name);
			free(pc->learned[k].spec);
			free(pc->learned[k].version);
			free(pc->learned[k].why);
		}
		free(pc->learned);
		for (size_t k = 0; k < pc->roots_nr; k++) {
			free(pc->roots[k].field);
			free(pc->roots[k].index_auth);
		}
		free(pc->roots);
		for (size_t k = 0; k < pc->dg_nr; k++)
			diag_release(&pc->dg[k]);
		free(pc->dg);
		free(pc->infra);
		free(pc->tags_text);
		free(pc->pyver);
	}
	free(all.cells);
	return ret;
}
