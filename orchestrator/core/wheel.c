#include "core/wheel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pep440.h"
#include "util/error.h"
#include "util/strbuf.h"

void wheel_name_release(struct wheel_name *w)
{
	free(w->name);
	free(w->version);
	free(w->build);
	vec_release(&w->python);
	vec_release(&w->abi);
	vec_release(&w->platform);
	memset(w, 0, sizeof(*w));
	vec_init(&w->python, free);
	vec_init(&w->abi, free);
	vec_init(&w->platform, free);
}

/* A compressed tag set ("py2.py3") into `out`; -1 when a member is empty. */
static int wheel_split_tags(const char *s, size_t n, struct vec *out)
{
	size_t i = 0;

	while (i <= n) {
		size_t j = i;

		while (j < n && s[j] != '.')
			j++;
		if (j == i)
			return -1;
		vec_push(out, xstrndup(s + i, j - i));
		i = j + 1;
	}
	return 0;
}

static int wheel_valid_name(const char *s, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

int wheel_name_parse(const char *filename, struct wheel_name *out)
{
	const char *part[7];
	size_t len[7], nparts = 0, n = strlen(filename);
	const char *p = filename;
	char *raw = NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	vec_init(&out->python, free);
	vec_init(&out->abi, free);
	vec_init(&out->platform, free);
	if (n < 4 || strcmp(filename + n - 4, ".whl")) {
		ret =
		    error_setc(GS_EINVAL, "'%.200s' is not a wheel file name: no '.whl'", filename);
		goto done;
	}
	n -= 4;
	while (nparts < 7) {
		const char *dash = memchr(p, '-', n - (p - filename));
		size_t l = dash ? (size_t)(dash - p) : n - (p - filename);

		part[nparts] = p;
		len[nparts++] = l;
		if (!dash)
			break;
		p = dash + 1;
	}
	if (nparts != 5 && nparts != 6) {
		ret = error_setc(GS_EINVAL,
				 "'%.200s' is not a wheel file name: it has %s parts than "
				 "NAME-VERSION[-BUILD]-PYTHON-ABI-PLATFORM.whl",
				 filename, nparts < 5 ? "fewer" : "more");
		goto done;
	}
	if (!wheel_valid_name(part[0], len[0])) {
		ret = error_setc(GS_EINVAL, "'%.200s' is not a wheel file name: bad project name",
				 filename);
		goto done;
	}
	raw = xstrndup(part[0], len[0]);
	out->name = pyname_normalize(raw);
	out->version = xstrndup(part[1], len[1]);
	if (pep440_valid(out->version) < 0) {
		ret =
		    error_setc(GS_EINVAL, "'%.200s' is not a wheel file name: invalid version '%s'",
			       filename, out->version);
		goto done;
	}
	if (nparts == 6) {
		if (!len[2] || part[2][0] < '0' || part[2][0] > '9') {
			ret = error_setc(GS_EINVAL,
					 "'%.200s' is not a wheel file name: the build tag must "
					 "start with a digit",
					 filename);
			goto done;
		}
		out->build = xstrndup(part[2], len[2]);
	}
	if (wheel_split_tags(part[nparts - 3], len[nparts - 3], &out->python) < 0 ||
	    wheel_split_tags(part[nparts - 2], len[nparts - 2], &out->abi) < 0 ||
	    wheel_split_tags(part[nparts - 1], len[nparts - 1], &out->platform) < 0) {
		ret = error_setc(GS_EINVAL, "'%.200s' is not a wheel file name: an empty tag",
				 filename);
		goto done;
	}
done:
	free(raw);
	if (ret < 0)
		wheel_name_release(out);
	return ret;
}

/*
 * The target's tags, as pip's sys_tags() orders them (packaging.tags):
 *
 *   cpython_tags:    cpXY-cpXY-P, cpXY-abi3-P, cpXY-none-P, cpXW-abi3-P (W = Y-1 .. 2)
 *   compatible_tags: pyXY-none-P, pyX-none-P, pyXW-none-P (W = Y-1 .. 0),
 *                    cpXY-none-any, pyXY-none-any, pyX-none-any, pyXW-none-any
 *
 * each over the platforms P: manylinux_2_N_ARCH for N from the target's
 * glibc down to the oldest manylinux of ARCH (2.5 on x86_64 and i686, 2.17
 * elsewhere), each followed by its legacy alias (manylinux2014 = 2.17,
 * manylinux2010 = 2.12, manylinux1 = 2.5), then linux_ARCH. A tag's index
 * in that list is computed from its parts rather than found in it.
 */
struct wheel_tags {
	unsigned major, minor;
	struct vec platforms;
	size_t rows_a; /* cpython_tags' interpreter/abi rows */
	size_t rows_b; /* compatible_tags' pyXY rows */
};

static int wheel_tags_init(struct wheel_tags *t, const struct wheel_target *target)
{
	const char *arch = target->arch ? target->arch : "x86_64";
	unsigned oldest = !strcmp(arch, "x86_64") || !strcmp(arch, "i686") ? 5 : 17;
	char *end;

	memset(t, 0, sizeof(*t));
	vec_init(&t->platforms, free);
	if (!target->python)
		return -1;
	t->major = (unsigned)strtoul(target->python, &end, 10);
	if (end == target->python || *end != '.')
		return -1;
	t->minor = (unsigned)strtoul(end + 1, &end, 10);
	if (*end && *end != '.')
		return -1;
	if (t->major != 3 || t->minor > 99)
		return -1;
	if (target->glibc_major == 2) {
		for (unsigned n = target->glibc_minor + 1; n-- > oldest;) {
			vec_pushf(&t->platforms, "manylinux_2_%u_%s", n, arch);
			if (n == 17)
				vec_pushf(&t->platforms, "manylinux2014_%s", arch);
			else if (n == 12)
				vec_pushf(&t->platforms, "manylinux2010_%s", arch);
			else if (n == 5)
				vec_pushf(&t->platforms, "manylinux1_%s", arch);
		}
	}
	vec_pushf(&t->platforms, "linux_%s", arch);
	/* cpXY-cpXY, cpXY-abi3, cpXY-none, then cpXW-abi3 for W = Y-1 .. 2 */
	t->rows_a = 3 + (t->minor > 2 ? t->minor - 2 : 0);
	/* pyXY, pyX, pyXW for W = Y-1 .. 0 */
	t->rows_b = 2 + t->minor;
	return 0;
}

/* Row of a "py" interpreter in _py_interpreter_range(): pyXY, pyX, pyXW...; -1 when none. */
static long wheel_py_row(const struct wheel_tags *t, const char *interp)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "py%u%u", t->major, t->minor);
	if (!strcasecmp(interp, buf))
		return 0;
	snprintf(buf, sizeof(buf), "py%u", t->major);
	if (!strcasecmp(interp, buf))
		return 1;
	for (unsigned w = t->minor; w-- > 0;) {
		snprintf(buf, sizeof(buf), "py%u%u", t->major, w);
		if (!strcasecmp(interp, buf))
			return 2 + (t->minor - 1 - w);
	}
	return -1;
}

/* Row of cpython_tags() for (interp, abi); -1 when none. */
static long wheel_cp_row(const struct wheel_tags *t, const char *interp, const char *abi)
{
	char cp[16];

	snprintf(cp, sizeof(cp), "cp%u%u", t->major, t->minor);
	if (!strcasecmp(interp, cp)) {
		if (!strcasecmp(abi, cp))
			return 0;
		if (!strcasecmp(abi, "abi3"))
			return 1;
		if (!strcasecmp(abi, "none"))
			return 2;
		return -1;
	}
	if (strcasecmp(abi, "abi3"))
		return -1;
	for (unsigned w = t->minor; w-- > 2;) {
		snprintf(cp, sizeof(cp), "cp%u%u", t->major, w);
		if (!strcasecmp(interp, cp))
			return 3 + (t->minor - 1 - w);
	}
	return -1;
}

/* The index of one tag in sys_tags() order, or -1 when the target does not take it. */
static long wheel_tag_index(const struct wheel_tags *t, const char *interp, const char *abi,
			    const char *plat)
{
	size_t np = t->platforms.nr;
	long p = -1, row;

	if (strcasecmp(plat, "any")) {
		for (size_t i = 0; i < np && p < 0; i++)
			if (!strcasecmp(plat, t->platforms.items[i]))
				p = (long)i;
		if (p < 0)
			return -1;
		row = wheel_cp_row(t, interp, abi);
		if (row >= 0)
			return row * (long)np + p;
		if (strcasecmp(abi, "none"))
			return -1;
		row = wheel_py_row(t, interp);
		if (row >= 0)
			return (long)(t->rows_a * np) + row * (long)np + p;
		return -1;
	}
	/* The platform-independent tail: cpXY-none-any, then the py rows. */
	if (strcasecmp(abi, "none"))
		return -1;
	{
		long base = (long)((t->rows_a + t->rows_b) * np);
		char cp[16];

		snprintf(cp, sizeof(cp), "cp%u%u", t->major, t->minor);
		if (!strcasecmp(interp, cp))
			return base;
		row = wheel_py_row(t, interp);
		return row >= 0 ? base + 1 + row : -1;
	}
}

int wheel_compatible(const struct wheel_name *w, const struct wheel_target *t)
{
	struct wheel_tags tags;
	long best = -1, total;

	if (wheel_tags_init(&tags, t) < 0) {
		vec_release(&tags.platforms);
		return 0;
	}
	total = (long)((tags.rows_a + tags.rows_b) * tags.platforms.nr + 1 + tags.rows_b);
	for (size_t i = 0; i < w->python.nr; i++)
		for (size_t j = 0; j < w->abi.nr; j++)
			for (size_t k = 0; k < w->platform.nr; k++) {
				long idx = wheel_tag_index(&tags, w->python.items[i],
							   w->abi.items[j], w->platform.items[k]);

				if (idx >= 0 && (best < 0 || idx < best))
					best = idx;
			}
	vec_release(&tags.platforms);
	return best < 0 ? 0 : (int)(total - best);
}
