#ifndef GS_KNOWLEDGE_H
#define GS_KNOWLEDGE_H

#include <stddef.h>

#include "util/vec.h"

/*
 * The knowledge plugins: CUDA releases and their tags per base repository
 * and OS, driver minimums, framework wheels, OS Pythons, library rules.
 * Loaded from JSON files in plugin directories (plugins/ of the install,
 * then each --plugins DIR in order; a later entry with the same key
 * replaces an earlier one). The knowledge owns all its data: every string
 * below points into a JSON document it keeps alive, every vec holds
 * borrowed strings, and all of it lives until knowledge_free().
 *
 * Files a plugin directory may hold (each optional in a user directory,
 * each with "schema_version": 1): cuda.json, bases.json, os.json,
 * frameworks.json, libraries.json, render.json. The layout of each is described by the
 * "notes" of the built-in files and in README.
 */

/* cuda.json: one CUDA release (key: version). */
struct kb_cuda_release {
	const char *version; /* "12.4.1" */
	int major, minor, patch;
	const char *cudnn_tag;	   /* "cudnn8", "cudnn9", "cudnn"; NULL: no cuDNN images */
	const char *cudnn_version; /* "9.1.0.70"; NULL: no cuDNN images, or unknown */
	const char *driver;	   /* driver shipped with the toolkit; NULL: unknown */
	const char *driver_floor;  /* minor-version-compatibility floor; NULL: unknown */
	const char *unverified;	   /* what no source confirms; NULL: all verified */
	long branches[16];	   /* NVIDIA_REQUIRE_CUDA driver branches, in order */
	size_t branches_nr;
	const char *brands; /* name of a brand set */
	char *origin;	    /* "FILE: releases[3]", for messages */
};

/* cuda.json: a named list of GPU brands (key: name). */
struct kb_brand_set {
	const char *name;
	struct vec brands;
	char *origin;
};

/* bases.json: the flavors one OS has for one image version. */
struct kb_image_os {
	const char *os;
	struct vec flavors;
};

/* bases.json: one CUDA version of a repository (key: repository + version). */
struct kb_base_image {
	const char *version;
	int major, minor, patch;
	const char *cudnn_version; /* what these images carry; NULL: the release's */
	/* what no source confirms: a string for every OS, or an object with
	 * one per OS (borrowed JSON); NULL: all verified */
	const void *unverified;
	struct kb_image_os *os;
	size_t os_nr;
	char *origin;
};

/* bases.json: one base image repository (key: repository). */
struct kb_repository {
	const char *name;	  /* "nvidia/cuda" */
	const char *tag_template; /* "{version}-{flavor}-{os}" */
	struct kb_base_image *images;
	size_t images_nr;
	char *origin;
};

/* os.json: package names for one Python version. */
struct kb_python_pkgs {
	const char *python; /* NULL in the template entry */
	struct vec builder; /* "python{v}", "python{v}-venv" */
	struct vec final;
};

/* os.json: one operating system (key: name). */
struct kb_os {
	const char *name;	     /* "ubuntu22.04" */
	const char *family;	     /* "ubuntu" */
	const char *package_manager; /* "apt" | "dnf" */
	const char *python_default;  /* "3.10" */
	const char *glibc;	     /* "2.35": picks manylinux wheels; NULL when unknown */
	const char *python_bin;	     /* "/usr/bin/python{v}" */
	int lts;		     /* a long-term support release */
	const char *released;	     /* "2024-04"; NULL when unknown (required when lts) */
	struct vec pythons;	     /* versions the default repositories carry */
	struct kb_python_pkgs pkgs;  /* template */
	struct kb_python_pkgs *overrides;
	size_t overrides_nr;
	const char *unverified; /* what no source confirms; NULL: all verified */
	char *origin;
};

/* frameworks.json: one release of a framework (key: framework + version). */
struct kb_fw_release {
	const char *version;
	struct vec variants;	     /* wheel variants "cu118", "cu124"; empty: none */
	const char *default_variant; /* PyPI's default, NULL when unknown */
	const char *python_min;	     /* NULL: no lower bound */
	const char *python_max;	     /* NULL: no upper bound */
	struct vec pair_names;	     /* child frameworks ("torchvision") ... */
	struct vec pair_versions;    /* ... and their paired versions */
	long cuda_majors[8];	     /* for frameworks without variants: CUDA majors it supports */
	size_t cuda_majors_nr;
	long cudnn_major; /* cuDNN major it needs from the base; 0: any */
	const char *unverified; /* what no source confirms; NULL: all verified */
	char *origin;
};

/* frameworks.json: a default smoke test of a framework. The strings may
 * hold {version}, {variant}, {name} and {pip_name}, expanded per cell. */
struct kb_smoke {
	const char *name;
	struct vec run; /* argv templates, borrowed */
	int gpu;
	const char *expect; /* NULL: none */
	const char *reject; /* NULL: none; the output must not contain it */
	int any_exit;	    /* the exit status (or a timeout) does not fail the test */
	long timeout;	    /* seconds; 0: the default */
};

/* frameworks.json: one framework (key: name). */
struct kb_framework {
	const char *name;
	const char *pip_name;
	const char *parent;		/* "torch" for torchvision; NULL */
	const char *index_url_template; /* "https://download.pytorch.org/whl/{variant}" */
	int brings_cuda;		/* its wheels carry their own CUDA libraries */
	int needs_base_cuda;		/* it loads CUDA libraries from the base */
	int needs_cudnn;		/* it loads cuDNN from the base */
	struct kb_fw_release *releases; /* in file order, merged by version */
	size_t releases_nr;
	struct kb_smoke *smoke; /* default smoke tests; a later file replaces the list */
	size_t smoke_nr;
	char *origin;
};

/* libraries.json: one dlopen rule (key: soname). */
struct kb_dlopen_rule {
	const char *soname; /* may hold {cuda_major} / {cuda_minor} */
	struct vec loads;
};

/* libraries.json: sonames one base flavor provides (key: flavor). */
struct kb_flavor_libs {
	const char *flavor;
	const char *inherits; /* NULL or another flavor */
	struct vec provides;  /* sonames or globs, may hold {cuda_major} */
	/* "provides_until": entries of `provides` the flavor has only up to a
	 * CUDA major.minor (libnvToolsExt: gone from 12.9 on); parallel vecs */
	struct vec until_names, until_versions;
	char *origin;
};
/* 1 when `fl` provides its `provides` entry `name` for CUDA major.minor. */
int kb_flavor_provides_at(const struct kb_flavor_libs *fl, const char *name, int major, int minor);

/* libraries.json: one CUDA component, for sizes per component (key: name). */
struct kb_component {
	const char *name;    /* "cublas" */
	struct vec patterns; /* globs on file names: "libcublas.so*" */
};

/* render.json: what the Dockerfiles' RUN lines name (one object; a later
 * file replaces each key it has). Lists of borrowed strings. */
struct kb_render {
	const char *uv_version;	      /* the uv release that installs managed CPythons */
	const char *uv_url;	      /* its download URL, with {version} and {arch} */
	struct vec apt_nodocs;	      /* dpkg path-exclude/path-include rules (prune docs) */
	struct vec os_site_packages;  /* globs: the OS's Python package directories */
	struct vec os_python_dirs;    /* globs: the OS's Python library directories */
	struct vec library_dirs;      /* where the closure looks past ldconfig's cache */
	struct vec base_cuda_lib_dirs;	/* globs: a CUDA base image's library directories */
	struct vec wheel_cuda_lib_dirs; /* globs under site-packages: NVIDIA wheels' libraries */
	struct vec prune_tests;	      /* directory names, inside a package */
	struct vec prune_examples;    /* directory names, inside a package */
	/* find -path globs of test programs inside a package (tests class;
	 * closure images: a test binary links libraries no package ships) */
	struct vec prune_test_programs;
	/* sonames a closure image always ships (the injected driver needs them) */
	struct vec closure_always;
	struct vec prune_headers;     /* file globs, under an include directory */
	struct vec prune_static_libs; /* file globs */
	struct vec prune_docs;	      /* directories under each trim root */
};

/* libraries.json: one kind of cache the analyzer reports (key: kind). */
struct kb_cache {
	const char *kind;  /* "pip-cache" */
	struct vec paths;  /* globs on a file's absolute path ('*' crosses '/') */
	struct vec except; /* globs on the same path that are no cache (a "lock" file) */
};

/* libraries.json: the names the analyzer looks for in an image. Each list
 * is the union of every file's, first seen first; caches merge by kind. */
struct kb_analysis {
	struct vec devel_tools;	 /* globs on file names: compilers, linkers, nvcc */
	struct vec interpreters; /* file names; "python{version}" is python, python3.11... */
	struct vec library_dirs; /* ld.so's default directories, in search order */
	struct vec test_dirs;	 /* "tests", "examples": directories under a site dir */
	struct vec site_dirs;	 /* "site-packages", "dist-packages" */
	struct kb_cache *caches; /* in file order; a file counts for the first that matches */
	size_t caches_nr;
};

/* The "schema_version" every plugin file has (the only one read). */
#define KB_SCHEMA_VERSION 1

struct knowledge {
	struct vec docs; /* json_t roots the strings point into */
	/* The plugins' version: SHA-256 of "NAME\0SHA256-OF-ITS-BYTES\n" for
	 * each file loaded, in load order (gpuslim.lock records it). */
	char sha256[65];
	/* The oldest "refreshed" time of the files loaded (RFC 3339 UTC), and
	 * the file it is from; "" when no file says. */
	char refreshed[32];
	char *refreshed_file;
	struct kb_cuda_release *cuda;
	size_t cuda_nr;
	struct kb_brand_set *brand_sets;
	size_t brand_sets_nr;
	struct kb_repository *repos;
	size_t repos_nr;
	struct kb_os *systems;
	size_t systems_nr;
	/* os.json "default_family": a recipe without base.os takes the newest
	 * LTS system of this family the base repository has the CUDA for;
	 * NULL: no default. */
	const char *default_os_family;
	char *default_os_origin; /* "FILE: default_family", for messages */
	struct kb_framework *frameworks;
	size_t frameworks_nr;
	struct kb_dlopen_rule *dlopen;
	size_t dlopen_nr;
	struct kb_flavor_libs *flavor_libs;
	size_t flavor_libs_nr;
	struct vec driver_sonames;	 /* union of every file's, first-seen order */
	struct kb_component *components; /* in file order, merged by name */
	size_t components_nr;
	struct kb_render render;
	struct kb_analysis analysis;
};

/* Load the built-in plugin directory, then each directory in `extra_dirs`
 * (strings, may be NULL). Errors name the file, line and column. */
int knowledge_load(struct knowledge **out, const struct vec *extra_dirs);
/* Load only the given directories, in order (tests; no built-in dir). */
int knowledge_load_dirs(struct knowledge **out, const struct vec *dirs);
void knowledge_free(struct knowledge *kb);

/* The built-in plugin directory: $GPUSLIM_PLUGIN_DIR, else the plugins/ of
 * gpuslim's data directory (util/datadir.h: the source tree, the install
 * prefix, or the executable's ../share/gpuslim). */
const char *knowledge_builtin_dir(void);

/* Lookups; all return borrowed pointers or NULL. */
const struct kb_cuda_release *kb_find_cuda(const struct knowledge *kb, const char *version);
const struct kb_brand_set *kb_find_brand_set(const struct knowledge *kb, const char *name);
const struct kb_repository *kb_find_repository(const struct knowledge *kb, const char *name);
const struct kb_base_image *kb_repo_find_image(const struct kb_repository *repo,
					       const char *version);
const struct kb_image_os *kb_image_find_os(const struct kb_base_image *img, const char *os);
/* What is unverified about `img`'s images for `os`, or NULL. */
const char *kb_image_unverified(const struct kb_base_image *img, const char *os);
/* The cuDNN version images of `rel` carry in a repository: the image's own
 * (bases.json), else the release's (cuda.json); NULL when unknown. `img`
 * may be NULL. */
const char *kb_image_cudnn_version(const struct kb_base_image *img,
				   const struct kb_cuda_release *rel);
/* NVIDIA_REQUIRE_CUDA of a release: "cuda>=X.Y" and one
 * "brand=B,driver>=N,driver<N+1" per branch and brand. Newly allocated. */
char *kb_require_cuda(const struct knowledge *kb, const struct kb_cuda_release *rel);
int kb_image_os_has_flavor(const struct kb_image_os *ios, const char *flavor);
const struct kb_os *kb_find_os(const struct knowledge *kb, const char *name);
int kb_os_has_python(const struct kb_os *os, const char *python);
/* The OS a recipe without base.os gets for CUDA major.minor[.patch] (patch
 * -1: any) in `repo`: the newest (by "released") LTS system of the default
 * family that some image of that version has. NULL when there is none. */
const struct kb_os *kb_default_os(const struct knowledge *kb, const struct kb_repository *repo,
				  int major, int minor, int patch);
/* The package lists for `python` on `os` (an override or the template). */
const struct kb_python_pkgs *kb_os_python_pkgs(const struct kb_os *os, const char *python);
const struct kb_framework *kb_find_framework(const struct knowledge *kb, const char *name);
/* Exact release, or for a prefix ("2.4") the newest release of it. */
const struct kb_fw_release *kb_find_release(const struct kb_framework *fw, const char *version);
/* The paired version of `child` in a release, or NULL. */
const char *kb_release_pair(const struct kb_fw_release *rel, const char *child);
const struct kb_flavor_libs *kb_find_flavor_libs(const struct knowledge *kb, const char *flavor);

/* Compare dotted numeric versions ("3.9" < "3.10"); a missing part is 0. */
int kb_version_cmp(const char *a, const char *b);
/* 1 when `version` is `prefix` or starts with `prefix` + ".". */
int kb_version_matches(const char *version, const char *prefix);
/* Parse "X.Y" or "X.Y.Z" (patch -1 when absent): 0 or -1. */
int kb_parse_version(const char *s, int *major, int *minor, int *patch);

/* Expand a template: each "{name}" is replaced by the value paired with it
 * in `keys`/`values` (n entries); unknown placeholders stay as written.
 * Newly allocated. */
char *kb_expand(const char *tmpl, const char *const *keys, const char *const *values, size_t n);

/* The tag of a base image: the repository's tag template with the flavor
 * spelled as tags spell it (cudnn-runtime -> cudnn9-runtime). Newly
 * allocated. */
char *kb_format_tag(const struct kb_repository *repo, const struct kb_cuda_release *rel,
		    const char *flavor, const char *os);

#endif
