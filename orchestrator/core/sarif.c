#include <string.h>

#include "core/sarif.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/utf8.h"

#define SARIF_SCHEMA                                                                               \
	"https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"                      \
	"sarif-schema-2.1.0.json"

/* What each rule of core/analyze.h finds and what to do about it. */
static const struct sarif_rule {
	const char *id, *name, *summary, *help;
} sarif_rules[] = {
    {"devel-toolchain", "DevelToolchain",
     "nvcc, compilers, linkers, CUDA/C headers or static libraries in the final image",
     "Build in a builder stage and copy only what the program needs (app.artifacts); "
     "never install a -dev package or the CUDA toolkit in the final stage."},
    {"driver-in-image", "DriverInImage",
     "the NVIDIA driver's libraries (libcuda.so*, libnvidia-*.so*) inside the image",
     "The driver comes from the host at run time (the NVIDIA container toolkit mounts it): "
     "remove the copy from the image."},
    {"missing-library", "MissingLibrary",
     "a library an ELF file needs (DT_NEEDED or a dlopen rule) that no path in the image "
     "resolves",
     "Install the package that ships the library, or copy it into the image; a driver "
     "library is not missing (the host brings it)."},
    {"dangling-interpreter", "DanglingInterpreter",
     "an interpreter symlink (bin/python3, a venv's python) whose target is not in the image",
     "Copy the interpreter with the environment that links to it (a venv needs its Python)."},
    {"duplicate-library", "DuplicateLibrary",
     "the same library (soname and version) at several paths, or one soname at versions "
     "that disagree",
     "Keep one copy: a framework that brings its own CUDA libraries wants the `base` "
     "flavor, not `runtime`."},
    {"missing-command", "MissingCommand",
     "the entrypoint's or cmd's program does not exist in the image",
     "Fix app.entrypoint / app.cmd, or copy the program into the final stage."},
    {"unstripped-elf", "UnstrippedElf", "ELF files with symbol tables or debug information",
     "Strip them (trim.strip: unneeded, the default) or list what must keep its symbols in "
     "trim.keep_symbols."},
    {"caches", "Caches", "package manager and model hub caches, __pycache__ in the image",
     "Let trim.prune remove them (the default), or clean them in the same RUN step."},
    {"tests-examples", "TestsExamples", "tests/ and examples/ directories in site-packages",
     "Let trim.prune remove them (the default prune class tests-examples)."},
    {"root-user", "RootUser", "the image runs as root",
     "Run as an unprivileged user: set USER in the image."},
    {"nvidia-env", "NvidiaEnv",
     "NVIDIA_VISIBLE_DEVICES or NVIDIA_DRIVER_CAPABILITIES unset or \"all\"",
     "Name the capabilities the app needs (recipe `capabilities`, default compute and "
     "utility)."},
    {"missing-runtime-file", "MissingRuntimeFile",
     "a file the program needs at run time that ELF does not show: a smoke test's command or "
     "its interpreter, an ld.so.cache entry, a passwd/group entry",
     "Add the file to the closure (app.artifacts) or use final.mode: image."},
};

#define SARIF_RULES_NR (sizeof(sarif_rules) / sizeof(sarif_rules[0]))

const char *sarif_rule_summary(const char *id)
{
	for (size_t i = 0; i < SARIF_RULES_NR; i++)
		if (!strcmp(sarif_rules[i].id, id))
			return sarif_rules[i].summary;
	return NULL;
}

static json_t *sarif_text(const char *s)
{
	return json_pack("{s:o}", "text", utf8_json_string(s ? s : ""));
}

static const char *sarif_level_of(const char *severity)
{
	if (severity && !strcmp(severity, "error"))
		return "error";
	if (severity && !strcmp(severity, "warn"))
		return "warning";
	return "note";
}

static json_t *sarif_rule(const struct sarif_rule *r, const char *level)
{
	return json_pack("{s:s,s:s,s:o,s:o,s:{s:s,s:s},s:{s:s}}", "id", r->id, "name", r->name,
			 "shortDescription", sarif_text(r->summary), "fullDescription",
			 sarif_text(r->summary), "help", "text", r->help, "markdown", r->help,
			 "defaultConfiguration", "level", level);
}

/* The default level of each rule: the one its findings carry most often
 * is not known here, so the analyzer's table (analyze.h) decides. */
static const char *sarif_default_level(const char *id)
{
	static const char *const warn[] = {"unstripped-elf", "caches",	   "tests-examples",
					   "root-user",	     "nvidia-env", NULL};

	for (size_t i = 0; warn[i]; i++)
		if (!strcmp(warn[i], id))
			return "warning";
	return "error";
}

/* A URI reference for a name that may hold ':' (an image ref): every byte
 * outside RFC 3986's unreserved characters and '/' percent-encoded. */
static void sarif_uri_escape(struct strbuf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p))
			strbuf_addch(out, *p);
		else
			strbuf_addf(out, "%%%02X", *p);
	}
}

static json_t *sarif_location(const struct report_item *it, const json_t *f,
			      const struct sarif_opts *o, const struct recipe_rule *tuned)
{
	struct strbuf uri = STRBUF_INIT;
	const char *path = json_string_value(json_object_get(f, "path"));
	json_t *loc = json_object(), *phys = json_object(), *art = json_object();

	if (o->recipe_uri) {
		sarif_uri_escape(&uri, o->recipe_uri);
		json_object_set_new(art, "uri", json_string(uri.buf));
		json_object_set_new(phys, "artifactLocation", art);
		if (tuned && tuned->id.pos.line > 0)
			json_object_set_new(phys, "region",
					    json_pack("{s:i,s:i}", "startLine", tuned->id.pos.line,
						      "startColumn", tuned->id.pos.col));
	} else {
		struct strbuf d = STRBUF_INIT;

		sarif_uri_escape(&uri, it->name);
		json_object_set_new(art, "uri", json_string(uri.buf));
		strbuf_addf(&d, "the image %s", it->name);
		json_object_set_new(art, "description", sarif_text(d.buf));
		json_object_set_new(phys, "artifactLocation", art);
		strbuf_release(&d);
	}
	json_object_set_new(loc, "physicalLocation", phys);
	if (path) {
		struct strbuf fq = STRBUF_INIT;

		strbuf_addf(&fq, "%s:%s", it->name, path);
		json_object_set_new(loc, "logicalLocations",
				    json_pack("[{s:o,s:o,s:s}]", "name", utf8_json_string(path),
					      "fullyQualifiedName", utf8_json_string(fq.buf),
					      "kind", "resource"));
		strbuf_release(&fq);
	}
	strbuf_release(&uri);
	return loc;
}

json_t *sarif_log(const struct report_item *items, size_t n, const struct sarif_opts *o)
{
	json_t *rules = json_array(), *results = json_array(), *log;
	struct vec ids = VEC_INIT(free);

	for (size_t i = 0; i < SARIF_RULES_NR; i++) {
		json_array_append_new(
		    rules, sarif_rule(&sarif_rules[i], sarif_default_level(sarif_rules[i].id)));
		vec_pushstr(&ids, sarif_rules[i].id);
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *findings = json_object_get(items[i].report, "findings");
		json_t *f;
		size_t k;

		json_array_foreach(findings, k, f)
		{
			const char *id = json_string_value(json_object_get(f, "rule"));
			const char *sev = json_string_value(json_object_get(f, "severity"));
			const struct recipe_rule *tuned = NULL;
			const char *level;
			json_t *res, *props;
			long idx;

			if (!id)
				continue;
			for (size_t r = 0; o->recipe && r < o->recipe->rules_nr; r++)
				if (!strcmp(o->recipe->rules[r].id.v, id))
					tuned = &o->recipe->rules[r];
			if (tuned && tuned->severity == RULE_OFF)
				continue;
			level = tuned ? (tuned->severity == RULE_ERROR ? "error" : "warning")
				      : sarif_level_of(sev);
			if ((idx = vec_findstr(&ids, id)) < 0) {
				/* a rule a newer analyzer knows: listed, undescribed */
				struct sarif_rule unknown = {id, id, id,
							     "See the analyzer's "
							     "documentation."};

				json_array_append_new(rules, sarif_rule(&unknown, "warning"));
				vec_pushstr(&ids, id);
				idx = (long)ids.nr - 1;
			}
			props = json_pack("{s:o}", "cell", utf8_json_string(items[i].name));
			if (json_is_integer(json_object_get(f, "bytes")))
				json_object_set(props, "bytes", json_object_get(f, "bytes"));
			res = json_pack(
			    "{s:s,s:i,s:s,s:o,s:[o],s:o}", "ruleId", id, "ruleIndex", (int)idx,
			    "level", level, "message",
			    sarif_text(json_string_value(json_object_get(f, "message"))
					   ? json_string_value(json_object_get(f, "message"))
					   : id),
			    "locations", sarif_location(&items[i], f, o, tuned), "properties",
			    props);
			json_array_append_new(results, res);
		}
	}
	vec_release(&ids);
	log = json_pack("{s:s,s:s,s:[{s:{s:{s:s,s:s,s:s,s:o}},s:[{s:b}],s:o,s:s}]}", "$schema",
			SARIF_SCHEMA, "version", "2.1.0", "runs", "tool", "driver", "name",
			"gpuslim", "version", o->version, "semanticVersion", o->version, "rules",
			rules, "invocations", "executionSuccessful", 1, "results", results,
			"columnKind", "unicodeCodePoints");
	if (!log)
		error_set("cannot build the SARIF log: out of memory");
	return log;
}
