#ifndef GS_PEP440_H
#define GS_PEP440_H

/*
 * Python package versions and specifiers (PEP 440), and requirements with
 * environment markers (PEP 508), as pip reads them. Pure functions: no I/O.
 *
 * Ownership: every out-parameter is allocated here and released by the
 * caller with the matching _release/_free; inputs are borrowed.
 * Errors: GS_EINVAL with error_last() naming the text ("invalid version
 * '1..2'").
 */

#include "util/vec.h"

/* 0 when `v` is a valid PEP 440 version ("2.11.0+cu130", "1.0rc1", "1!2.0.post1.dev3"). */
int pep440_valid(const char *v);
/* <0, 0, >0 as PEP 440 orders a and b (local versions included: 2.11.0 <
 * 2.11.0+cpu). Both must be valid; an invalid one sorts first. */
int pep440_cmp(const char *a, const char *b);
/* 1 for a pre- or dev-release ("1.0rc1", "2.0.dev3"). */
int pep440_is_prerelease(const char *v);
/* The public part: "2.11.0+cu130" -> "2.11.0" (newly allocated). */
char *pep440_public(const char *v);
/* The local label or NULL: "2.11.0+cu130" -> "cu130" (borrowed, points into v). */
const char *pep440_local(const char *v);
/* The normalized form PEP 440 prints: "1.0RC1" -> "1.0rc1", "v1.01-2" ->
 * "1.1.post2", "2.0+CU130" -> "2.0+cu130" (newly allocated); NULL with
 * GS_EINVAL's message for an invalid version. */
char *pep440_normalize(const char *v);

/* A specifier set: ">=1.0,<2,!=1.5.*", "==2.11.0+cu130", "~=1.4", "===x"; "" matches all. */
struct pep440_spec;
int pep440_spec_parse(const char *s, struct pep440_spec **out);
void pep440_spec_free(struct pep440_spec *s);
/* 1 when `version` satisfies every clause. Pre-releases match only when
 * `prereleases` is set or a clause names one (PEP 440's rule). */
int pep440_spec_contains(const struct pep440_spec *s, const char *version, int prereleases);

/* A PEP 508 requirement: "name[extra1,extra2] (>=1,<2) ; python_version < '3.12'". */
struct pyreq {
	char *name;	   /* normalized (PEP 503): "nvidia-cuda-runtime" */
	char *name_raw;	   /* as written */
	struct vec extras; /* normalized, owned */
	char *spec;	   /* specifier text, "" when none */
	char *url;	   /* "name @ URL" direct reference, else NULL */
	char *marker;	   /* marker text after ';', NULL when none */
};
int pyreq_parse(const char *s, struct pyreq *out);
void pyreq_release(struct pyreq *r);

/* The target a marker is evaluated against: a cell's interpreter and platform. */
struct pyenv {
	const char *python_version;		    /* "3.11" */
	const char *python_full_version;	    /* "3.11.2"; NULL: python_version + ".0" */
	const char *sys_platform;		    /* "linux" */
	const char *platform_machine;		    /* "x86_64" */
	const char *platform_system;		    /* "Linux" */
	const char *os_name;			    /* "posix" */
	const char *implementation_name;	    /* "cpython" */
	const char *platform_python_implementation; /* "CPython" */
};
/* *result = 1 when `marker` holds for `env` with `extra` (NULL: no extra
 * asked, so `extra == "x"` is false). GS_EINVAL for a marker it cannot parse. */
int pyreq_marker_eval(const char *marker, const struct pyenv *env, const char *extra, int *result);

/* PEP 503 normalization: lowercase, runs of -_. become '-'. Newly allocated. */
char *pyname_normalize(const char *name);

#endif
