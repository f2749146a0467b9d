#ifndef GS_RECIPE_H
#define GS_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/diag.h"
#include "util/vec.h"

/*
 * A parsed gpuslim.yaml: typed values, each with the line and column it
 * came from so that later stages (the planner) can point at the recipe.
 * The recipe owns every string in it; recipe_free() releases all of it.
 * An absent string field has v == NULL and pos.line == 0; a default is
 * never written into the struct, so "absent" stays visible to the planner
 * (it explains its choices by whether the user asked).
 */

struct rstr {
	char *v;
	struct rpos pos;
};

struct rstrlist {
	struct rstr *items;
	size_t nr;
	struct rpos pos; /* of the sequence itself; line 0 when absent */
};

struct rbool {
	int v;
	int set; /* 1 when the recipe gave the field */
	struct rpos pos;
};

/* A byte count from "6GB", "500MiB" or an integer. */
struct rsize {
	uint64_t bytes;
	int set;
	struct rpos pos;
	char *text; /* as written, for messages */
};

enum python_source { PYTHON_SOURCE_OS = 0, PYTHON_SOURCE_MANAGED };
enum strip_mode { STRIP_NONE = 0, STRIP_DEBUG, STRIP_UNNEEDED };
enum model_mode { MODEL_BAKE = 0, MODEL_VOLUME };

/* frameworks: {torch: "2.4", torchvision: auto}; order as written. */
struct recipe_framework {
	struct rstr name;
	struct rstr version; /* "auto" means: the version paired with its parent */
};

struct recipe_model {
	struct rstr name;   /* [a-z0-9][a-z0-9._-]* */
	struct rstr path;   /* relative to app.path (the build context) */
	struct rstr target; /* absent: /models/<name> */
	enum model_mode mode;
	struct rpos mode_pos;
	struct rpos pos;
};

struct recipe_smoke {
	struct rstr name;
	struct rstrlist run; /* exec form, never a shell string */
	struct rbool gpu;
	struct rstr expect; /* optional substring the output must contain */
	long timeout;	    /* seconds; 0 when absent */
	struct rpos timeout_pos;
	struct rpos pos;
};

/* One matrix axis: `cuda: ["12.1", "12.4"]`. Keys: cuda, os, python,
 * python_source, cudnn, strip (trim.strip per cell), and any framework
 * name. */
struct recipe_axis {
	struct rstr key;
	struct rstrlist values;
};

/* One include/exclude entry: a map of axis key to value. */
struct recipe_cellspec {
	struct rstr *keys;
	struct rstr *values;
	size_t nr;
	struct rpos pos;
};

struct recipe_path_budget {
	struct rstr path; /* a substring of the image path, e.g. site-packages/nvidia */
	struct rsize size;
};

/* One growth limit: "10%" (of the baseline's bytes) or a size ("200MB"). */
struct recipe_growth_limit {
	int set;
	int percent;	   /* 1: `permille` applies; 0: `bytes` applies */
	uint64_t permille; /* "10%" -> 100, "2.5%" -> 25 (tenths of a percent) */
	uint64_t bytes;
	struct rpos pos;
	char *text; /* as written, for messages */
};

/*
 * budgets.growth, against a baseline report: for the image's total size and
 * for each package (dpkg or pip, by manager and name), a percent limit, a
 * size limit, or both (both must hold). "growth: 10%" is {total: 10%}.
 */
struct recipe_growth {
	int set; /* any limit set */
	struct recipe_growth_limit total_percent, total_size;
	struct recipe_growth_limit package_percent, package_size;
	struct rpos pos;
};

/* rules: {unstripped-elf: error, root-user: off}; order as written. */
enum rule_severity { RULE_ERROR = 0, RULE_WARN, RULE_OFF };

struct recipe_rule {
	struct rstr id; /* one of recipe_rule_ids */
	enum rule_severity severity;
	struct rpos severity_pos;
};

struct recipe_label {
	struct rstr key;
	struct rstr value;
};

struct recipe {
	char *file;	 /* the path as given on the command line */
	char *dir;	 /* its directory; relative paths resolve against it */
	char sha256[65]; /* of the file's bytes, lowercase hex */
	struct rpos pos; /* of the top-level mapping: where a problem with an
			  * absent field (a default) points */

	struct rstr name;  /* required */
	struct rstr image; /* repository to tag and push; absent: local/<name> */
	struct rstr tag;   /* tag prefix; absent: none */
	struct {
		struct rstr os;		/* absent: the knowledge's default per cell */
		struct rstr registry;	/* absent: docker.io */
		struct rstr repository; /* absent: nvidia/cuda */
		struct rstr flavor;	/* auto|base|runtime|cudnn-runtime; absent: auto */
		struct rpos pos;
	} base;
	struct rstr cuda; /* required; "12.4" or "12.4.1" */
	struct rbool cudnn;
	struct rstr python;	   /* absent: no Python in the image */
	struct rstr python_source; /* "os" | "managed"; absent: os */
	enum python_source python_source_v;

	struct recipe_framework *frameworks;
	size_t frameworks_nr;
	struct rpos frameworks_pos;

	struct rstrlist system_packages;
	struct rstrlist python_packages;

	/* Where pip takes wheels from (issue 8). Each install uses one
	 * --index-url, never --extra-index-url: a same-named package on another
	 * index can never win. */
	struct {
		struct rstr index_url; /* python_packages' index; absent: https://pypi.org/simple */
		/* the frameworks' index, replacing frameworks.json's
		 * index_url_template; "{variant}" is the cell's wheel variant */
		struct rstr framework_index_url;
		struct rpos pos;
	} pip;

	struct {
		struct rstr path;	    /* build context; absent: "." */
		struct rstrlist copy;	    /* context paths copied into the image */
		struct rstrlist build;	    /* shell commands run in the builder stage */
		struct rstrlist artifacts;  /* absolute builder paths the final stage needs */
		struct rstrlist cmd;	    /* exec form */
		struct rstrlist entrypoint; /* exec form */
		struct rstr workdir;	    /* absent: /app */
		struct rstrlist env;	    /* "KEY=value" */
		struct rstrlist ports;	    /* "8000" or "8000/tcp" */
		struct rpos pos;
		/* app.git: the context is a commit of a repository, not a
		 * directory beside the recipe (app.path and app.git exclude
		 * each other). pos.line is 0 when absent. */
		struct {
			struct rstr url;    /* required: a path (relative to the
					     * recipe's directory), file://,
					     * https://, ssh:// or user@host:path */
			struct rstr ref;    /* branch, tag or commit; absent: the
					     * remote's HEAD */
			struct rstr subdir; /* the context inside the repository;
					     * absent: its root */
			struct rpos pos;
		} git;
	} app;

	struct recipe_model *models;
	size_t models_nr;

	struct rstrlist capabilities; /* absent: [compute, utility] */

	/* final: what the final stage is built from (issue 9). */
	struct {
		/* "image" (FROM the CUDA base flavor) | "closure" (FROM scratch:
		 * the app and its ELF closure, glibc and the loader included);
		 * absent: image */
		struct rstr mode;
		int closure;		      /* mode is "closure" */
		struct rbool ca_certificates; /* closure: ship /etc/ssl/certs */
		struct rbool tmp;	      /* closure: ship an empty /tmp (1777) */
		/* closure, Python: stdlib parts otherwise left out (test, idlelib,
		 * tkinter, ensurepip, lib2to3) that the image keeps */
		struct rstrlist keep_stdlib;
		struct rpos pos;
	} final;

	struct {
		struct rstr strip; /* none|debug|unneeded; absent: unneeded */
		enum strip_mode strip_v;
		struct rstrlist keep_symbols;
		struct rstrlist prune; /* absent: every prune class */
		struct rpos pos;
	} trim;

	struct {
		struct recipe_axis *axes;
		size_t axes_nr;
		struct recipe_cellspec *include;
		size_t include_nr;
		struct recipe_cellspec *exclude;
		size_t exclude_nr;
		struct rpos exclude_pos; /* of the exclude list; line 0 when absent */
		long max_cells;		 /* the recipe's matrix.max_cells, 0 when absent */
		struct rpos max_cells_pos;
		struct rpos pos;
	} matrix;

	struct {
		struct rsize size;
		struct rsize compressed;
		struct rsize wasted;
		long layers; /* 0 when absent */
		struct rpos layers_pos;
		struct recipe_path_budget *paths;
		size_t paths_nr;
		struct recipe_growth growth; /* against a baseline report */
		struct rpos pos;
	} budgets;

	struct recipe_rule *rules; /* severities the recipe tunes, order as written */
	size_t rules_nr;
	struct rpos rules_pos;

	struct recipe_smoke *smoke;
	size_t smoke_nr;

	struct recipe_label *labels; /* extra OCI labels, order as written */
	size_t labels_nr;

	struct {
		struct rstr cache;	 /* registry|inline|local|none; absent: registry */
		struct rstr compression; /* gzip|zstd|estargz|uncompressed; absent: zstd */
		long compression_level;	 /* 0 when absent */
		struct rpos compression_level_pos; /* line 0 when absent */
		struct rstrlist platforms;	   /* absent: [linux/amd64] */
		/* RUN steps' network, Docker's names: "host" reaches an index on
		 * 127.0.0.1; absent: the engine's default */
		struct rstr network;
		/* Engines `gpuslim build` spreads the cells over (core/engine.h
		 * ENGINE_SPEC_RE: a DOCKER_HOST URL or a context name, =JOBS);
		 * GPUSLIM_ENGINES and --engine win over it; absent: none */
		struct rstrlist engines;
		struct rpos pos;
	} output;

	/* ci: what `gpuslim ci github|gitlab` writes into the CI files. */
	struct {
		struct rstr schedule; /* cron (core/ci.h); absent: CI_DEFAULT_CRON */
		struct rpos pos;
	} ci;
};

/* How many cells a matrix may have (the product of its axes' value counts
 * plus its includes) when matrix.max_cells is absent, and the most that
 * matrix.max_cells may allow. */
#define RECIPE_MAX_CELLS_DEFAULT 256
#define RECIPE_MAX_CELLS_LIMIT	 4096

/* The stdlib parts a closure image leaves out unless final.keep_stdlib
 * keeps them, NULL-terminated. */
extern const char *const recipe_stdlib_dropped[];
/* The prune classes trim.prune accepts, NULL-terminated, in canonical order. */
extern const char *const recipe_prune_classes[];
/* The analyzer's finding rule ids (core/analyze.h) `rules` accepts,
 * NULL-terminated. */
extern const char *const recipe_rule_ids[];
/* "error", "warn", "off". */
const char *recipe_severity_name(enum rule_severity s);
/* The capability names `capabilities` accepts, NULL-terminated. */
extern const char *const recipe_capability_names[];

/*
 * A list of problems found in a recipe, each already formatted as
 * "file:line:col: field: message". Owned by the caller: init with
 * VEC_INIT(free) and vec_release() it.
 */

/*
 * Parse and type-check the recipe at `path`. On success returns 0 and sets
 * *out (free with recipe_free()). On failure returns GS_EINVAL with every
 * problem found appended to `diags` (at least one), and error_last() set
 * to the first; or GS_ENOTFOUND / GS_ERR when the file cannot be read.
 * Checks here are the recipe's own: field names and types, formats,
 * required fields, references inside the recipe. Whether versions exist
 * is the planner's business.
 */
int recipe_load(const char *path, struct recipe **out, struct vec *diags);
/* The same, for a recipe already in memory; `path` only names it. */
int recipe_parse(const char *path, const char *data, size_t len, struct recipe **out,
		 struct vec *diags);
void recipe_free(struct recipe *r);

/* Where a problem with the base repository points: base.repository, else
 * the base mapping, else the recipe itself (every default). */
struct rpos recipe_base_pos(const struct recipe *r);

/* The default index of python_packages when the recipe gives no
 * pip.index_url. */
#define RECIPE_DEFAULT_INDEX_URL "https://pypi.org/simple"

/* Parse "6GB", "1.5 GiB", "500MB", "123" into bytes: 0 or -1 (no message). */
int recipe_parse_size(const char *text, uint64_t *bytes);

#endif
