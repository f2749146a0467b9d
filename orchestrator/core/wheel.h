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
	char *name;	 /* normalized: "nvidia-cublas" */
	char *version;	 /* "13.0.0.19", "2.11.0+cu130", as the file name spells it */
	char *build;	 /* build tag or NULL */
	struct vec python; /* "cp311", "py3" ... (compressed tag sets split on '.') */
	struct vec abi;	   /* "cp311", "abi3", "none" */
	struct vec platform; /* "manylinux_2_28_x86_64", "linux_x86_64", "any" */
};
/* GS_EINVAL for a name that is not a wheel ("x.tar.gz", missing parts). */
int wheel_name_parse(const char *filename, struct wheel_name *out);
void wheel_name_release(struct wheel_name *w);

/* Where a wheel is to be installed. */
struct wheel_target {
	const char *python;	/* "3.11" (CPython) */
	unsigned glibc_major;	/* 2 */
	unsigned glibc_minor;	/* 36 */
	const char *arch;	/* "x86_64" */
};
/* 0 when no tag of `w` installs on `t`; else a rank, higher for a better
 * match, in the order of pip's sys_tags(): interpreter first (cp311-cp311 >
 * cp311-abi3 > cp3x-abi3 > cp311-none > py3-none), then platform (the newest
 * manylinux_2_N with N <= glibc_minor, legacy manylinux2014/2010/1 aliases
 * included, > linux_<arch> > any). */
int wheel_compatible(const struct wheel_name *w, const struct wheel_target *t);

#endif
