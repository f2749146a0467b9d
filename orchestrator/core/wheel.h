#ifndef GS_WHEEL_H
#define GS_WHEEL_H

/*
 * Wheel file names (PEP 427, PEP 491) and their compatibility tags (PEP 425,
 * PEP 600 manylinux, PEP 656 musllinux) for one target interpreter and
 * platform. Pure functions. Ownership: wheel_name_parse() fills `out`,
 * which the caller releases with wheel_name_release().
 */

#include "util/vec.h"

struct wheel_name {
	char *name;	     /* normalized: "nvidia-cublas" */
	char *version;	     /* "13.0.0.19", "2.11.0+cu130", as the file name spells it */
	char *build;	     /* build tag or NULL */
	struct vec python;   /* "cp311", "py3" ... (compressed tag sets split on '.') */
	struct vec abi;	     /* "cp311", "abi3", "none" */
	struct vec platform; /* "manylinux_2_28_x86_64", "linux_x86_64", "any" */
};
/* GS_EINVAL for a name that is not a wheel ("x.tar.gz", missing parts). */
int wheel_name_parse(const char *filename, struct wheel_name *out);
void wheel_name_release(struct wheel_name *w);

/* Where a wheel is to be installed. */
struct wheel_target {
	const char *python;   /* "3.11" (CPython) */
	unsigned glibc_major; /* 2 */
	unsigned glibc_minor; /* 36 */
	const char *arch;     /* "x86_64" */
};
/* 0 when no tag of `w` installs on `t`; else a rank, higher for a better
 * match, in the order of pip's sys_tags(): interpreter first (cp311-cp311 >
 * cp311-abi3 > cp311-none > cp310..cp32-abi3 > py311/py3/py310..py30-none),
 * then platform (the newest manylinux_2_N with N <= glibc_minor, each legacy
 * alias manylinux2014/2010/1 right after its 2_17/2_12/2_5, > linux_<arch>),
 * and last the "any" tags (cp311-none-any > py311-none-any > py3-none-any >
 * py310-none-any ...). The rank is the number of sys_tags() entries from the
 * wheel's best tag to the end: 1 for the last, py30-none-any. A target with
 * glibc_major 0 (unknown) takes linux_<arch> and "any" only. */
int wheel_compatible(const struct wheel_name *w, const struct wheel_target *t);

#endif
