#include <stdlib.h>
#include <string.h>

#include "core/recipe.h"
#include "core/yamltree.h"
#include "unit.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/strbuf.h"
#include "util/vec.h"

/* Parse `text` as "t.yaml"; the diagnostics are kept in `diags`. */
static struct recipe *parse(const char *text, struct vec *diags, int *ret)
{
	struct recipe *r = NULL;

	vec_release(diags);
	*ret = recipe_parse("t.yaml", text, strlen(text), &r, diags);
	return r;
}

/* The first diagnostic of a recipe that must fail, or "(parsed)". */
static char *first_diag(const char *text)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r;
	char *s;
	int ret;

	r = parse(text, &diags, &ret);
	s = xstrdup(ret == GS_EINVAL && diags.nr ? (char *)diags.items[0] : "(parsed)");
	recipe_free(r);
	vec_release(&diags);
	return s;
}

#define MIN "name: app\nbase:\n  os: ubuntu22.04\ncuda: \"12.4\"\n"

#define CHECK_DIAG(text, want, what)                                                               \
	do {                                                                                       \
		char *d_ = first_diag(text);                                                       \
		CHECK_STR(d_, want, what);                                                         \
		free(d_);                                                                          \
	} while (0)

static const char full[] = "name: resnet-serve\n"
			   "image: registry.example.com/acme/resnet-serve\n"
			   "base:\n"
			   "  os: ubuntu22.04\n"
			   "  registry: 127.0.0.1:5000\n"
			   "cuda: \"12.4\"\n"
			   "cudnn: yes\n"
			   "python: '3.11'\n"
			   "python_source: managed\n"
			   "frameworks:\n"
			   "  torch: \"2.4\"\n"
			   "  torchvision: auto\n"
			   "app:\n"
			   "  copy: [\"app/\"]\n"
			   "  build: [\"nvcc v.cu -o /out/v\"]\n"
			   "  artifacts: [/out/v]\n"
			   "  ports: [8000, \"53/udp\"]\n"
			   "models:\n"
			   "  - name: resnet50\n"
			   "    path: models/r.safetensors\n"
			   "    mode: volume\n"
			   "  - {name: bert, path: m/bert}\n"
			   "trim:\n"
			   "  strip: debug\n"
			   "matrix:\n"
			   "  cuda: [\"12.1\", \"12.4\"]\n"
			   "  cudnn: [true, false]\n"
			   "  torch: [\"2.3\", \"2.4\"]\n"
			   "  exclude:\n"
			   "    - {cuda: \"12.1\", torch: \"2.4\"}\n"
			   "  include:\n"
			   "    - {cuda: \"12.6\", python: \"3.12\"}\n"
			   "budgets:\n"
			   "  size: 6GB\n"
			   "  wasted: 0x10\n"
			   "  layers: 30\n"
			   "  paths:\n"
			   "    site-packages/nvidia: 1.5 GiB\n"
			   "smoke:\n"
			   "  - name: import\n"
			   "    run: [python, -c, import torch]\n"
			   "    gpu: On\n"
			   "    timeout: 1_0\n"
			   "labels:\n"
			   "  org.opencontainers.image.source: \"https://x\"\n"
			   "output:\n"
			   "  compression: gzip\n"
			   "  compression_level: 9\n";

static void test_full(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r;
	char hex[65];
	int ret;

	r = parse(full, &diags, &ret);
	CHECK(ret == 0 && r, "a full recipe parses");
	for (size_t i = 0; i < diags.nr; i++)
		printf("#   %s\n", (char *)diags.items[i]);
	if (!r)
		goto done;
	CHECK_STR(r->file, "t.yaml", "file is the path as given");
	CHECK_STR(r->dir, ".", "dir of a bare file name is '.'");
	hash_sha256_hex(full, strlen(full), hex);
	CHECK_STR(r->sha256, hex, "sha256 is of the file's bytes");
	CHECK_STR(r->name.v, "resnet-serve", "name");
	CHECK(r->name.pos.line == 1 && r->name.pos.col == 7, "name at 1:7");
	CHECK_STR(r->base.registry.v, "127.0.0.1:5000", "base.registry with a port");
	CHECK(r->base.pos.line == 4 && r->base.pos.col == 3, "base mapping at 4:3");
	CHECK(r->cuda.pos.line == 6 && r->cuda.pos.col == 7,
	      "a quoted value's column is its quote");
	CHECK(r->cudnn.set && r->cudnn.v == 1, "cudnn: yes is true");
	CHECK(r->python_source_v == PYTHON_SOURCE_MANAGED, "python_source managed");
	CHECK(r->frameworks_nr == 2 && !strcmp(r->frameworks[1].name.v, "torchvision") &&
		  !strcmp(r->frameworks[1].version.v, "auto"),
	      "frameworks in order as written");
	CHECK(r->frameworks[0].name.pos.line == 11 && r->frameworks[0].name.pos.col == 3,
	      "framework name keeps its key's position");
	CHECK(r->app.ports.nr == 2 && !strcmp(r->app.ports.items[0].v, "8000"),
	      "a plain integer port is taken");
	CHECK(r->models_nr == 2 && r->models[0].mode == MODEL_VOLUME &&
		  r->models[1].mode == MODEL_BAKE && r->models[1].mode_pos.line == 0,
	      "model mode and its default");
	CHECK(r->trim.strip_v == STRIP_DEBUG, "strip debug");
	CHECK(r->matrix.axes_nr == 3 && !strcmp(r->matrix.axes[1].key.v, "cudnn") &&
		  !strcmp(r->matrix.axes[1].values.items[0].v, "true") &&
		  !strcmp(r->matrix.axes[1].values.items[1].v, "false"),
	      "cudnn axis values become true/false");
	CHECK(r->matrix.exclude_nr == 1 && r->matrix.exclude[0].nr == 2 &&
		  !strcmp(r->matrix.exclude[0].keys[1].v, "torch") &&
		  !strcmp(r->matrix.exclude[0].values[1].v, "2.4"),
	      "exclude entry");
	CHECK(r->matrix.include_nr == 1 && !strcmp(r->matrix.include[0].keys[1].v, "python"),
	      "include may name a field the matrix does not vary");
	CHECK(r->budgets.size.set && r->budgets.size.bytes == 6000000000ULL &&
		  !strcmp(r->budgets.size.text, "6GB"),
	      "budgets.size");
	CHECK(r->budgets.wasted.bytes == 16, "a plain YAML int (0x10) is a byte count");
	CHECK(r->budgets.layers == 30 && r->budgets.layers_pos.line == 36, "budgets.layers");
	CHECK(r->budgets.paths_nr == 1 && r->budgets.paths[0].size.bytes == 1610612736ULL,
	      "budgets.paths with a spaced binary unit");
	CHECK(r->smoke_nr == 1 && r->smoke[0].run.nr == 3 && r->smoke[0].gpu.v == 1 &&
		  r->smoke[0].timeout == 10,
	      "smoke test fields");
	CHECK(r->labels_nr == 1 && !strcmp(r->labels[0].value.v, "https://x"), "labels");
	CHECK(r->output.compression_level == 9 && r->output.compression_level_pos.line == 48,
	      "compression level 9 with gzip");
done:
	recipe_free(r);
	vec_release(&diags);
}

static void test_absent(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r;
	int ret;

	r = parse(MIN "app:\n  copy: []\n", &diags, &ret);
	CHECK(ret == 0 && r, "a minimal recipe parses");
	if (!r)
		goto done;
	CHECK(!r->image.v && r->image.pos.line == 0, "absent string: NULL, line 0");
	CHECK(!r->python.v && !r->base.registry.v && !r->base.flavor.v, "no defaults written");
	CHECK(!r->cudnn.set && r->cudnn.pos.line == 0, "absent bool is not set");
	CHECK(r->app.copy.pos.line == 6 && r->app.copy.nr == 0,
	      "present empty list has a position");
	CHECK(r->app.cmd.pos.line == 0 && !r->app.cmd.items, "absent list: line 0");
	CHECK(r->capabilities.pos.line == 0, "absent capabilities");
	CHECK(r->python_source_v == PYTHON_SOURCE_OS, "python_source defaults to os");
	CHECK(r->trim.strip_v == STRIP_UNNEEDED && !r->trim.strip.v,
	      "strip defaults to unneeded, string stays absent");
	CHECK(!r->budgets.size.set && r->budgets.layers == 0 && r->budgets.pos.line == 0,
	      "absent budgets");
	CHECK(r->matrix.axes_nr == 0 && r->matrix.pos.line == 0, "absent matrix");
done:
	recipe_free(r);
	vec_release(&diags);
}

static void test_diags(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r;
	int ret;

	CHECK_DIAG(
	    "name: app\nbase:\n  os: ubuntu22.04\ncuda: \"twelve\"\n",
	    "t.yaml:4:7: cuda: expected a version like \"12.4\" or \"12.4.1\", got \"twelve\"",
	    "bad version, with position and field");
	CHECK_DIAG("name: app\nbase:\n  os: ubuntu22.04\n",
		   "t.yaml:1:1: cuda: required field is missing",
		   "missing field points at the top mapping");
	CHECK_DIAG(MIN "python: 3.10\n",
		   "t.yaml:5:9: python: 3.10 is a number to YAML tools; quote it: \"3.10\"",
		   "YAML 1.1 float trap");
	CHECK_DIAG(MIN "pyhton_packages: []\n",
		   "t.yaml:5:1: pyhton_packages: unknown field; did you mean 'python_packages'?",
		   "unknown field with a suggestion");
	CHECK_DIAG(MIN "zzz: 1\n",
		   "t.yaml:5:1: zzz: unknown field; gpuslim.yaml.example lists every field",
		   "unknown field far from any");
	CHECK_DIAG(MIN "app:\n  cmd: [a]\n  cmd: [b]\n",
		   "t.yaml:7:3: app.cmd: duplicate key; first given at line 6",
		   "duplicate key names the first");
	CHECK_DIAG(MIN "app:\n  cmd: [a, b, {x: 1}]\n",
		   "t.yaml:6:15: app.cmd[2]: expected a string, got a mapping", "indexed field");
	CHECK_DIAG(
	    MIN
	    "matrix:\n  cuda: [\"12.4\"]\n  exclude:\n    - {cuda: \"12.4\", os: ubuntu22.04}\n",
	    "t.yaml:8:22: matrix.exclude[0].os: 'os' is not an axis of this matrix; an "
	    "exclude names only axes declared under matrix",
	    "exclude names an undeclared axis");
	CHECK_DIAG(MIN "models:\n  - {name: a, path: x}\n  - {name: b, path: y, mode: vol}\n",
		   "t.yaml:7:30: models[1].mode: expected one of bake, volume, got \"vol\"",
		   "bad model mode");
	CHECK_DIAG("", "t.yaml:1:1: recipe is empty; it needs at least name and cuda",
		   "empty file");
	CHECK_DIAG("# nothing\n", "t.yaml:1:1: recipe is empty; it needs at least name and cuda",
		   "only comments");
	CHECK_DIAG("---\n", "t.yaml:2:1: recipe is empty; it needs at least name and cuda",
		   "an empty document");
	CHECK_DIAG("just text\n",
		   "t.yaml:1:1: recipe: expected a mapping of fields like 'name: my-app', got a "
		   "string \"just text\"",
		   "top level must be a mapping");
	CHECK_DIAG(MIN "a: &x [1]\nb: *x\n",
		   "t.yaml:5:4: anchor '&x': anchors and aliases are not supported in recipes; "
		   "repeat the value instead",
		   "anchors refused");
	CHECK_DIAG(MIN "a: *x\n", "t.yaml:5:4: alias '*x': aliases are not supported in recipes",
		   "aliases refused");
	CHECK_DIAG("name: a\n---\nname: b\n",
		   "t.yaml:2:1: multiple YAML documents in one recipe; keep only one",
		   "second document refused");
	CHECK_DIAG("name: \"caf\xc3\xa9\xc3\n",
		   "t.yaml:1:12: invalid UTF-8 (byte 0xc3); save the recipe as UTF-8",
		   "invalid UTF-8 at its character column");
	CHECK_DIAG("name: \"\xed\xa0\x80\"\n",
		   "t.yaml:1:8: invalid UTF-8 (byte 0xed); save the recipe as UTF-8",
		   "UTF-8 surrogates refused");
	CHECK_DIAG("name: app\nbase:\n \tos: x\n",
		   "t.yaml:3:2: tab character in indentation; indent with spaces",
		   "tab indentation");
	CHECK_DIAG(MIN "build: |\n  make\n  \t-j4\n",
		   "t.yaml:5:1: build: unknown field; gpuslim.yaml.example lists every field",
		   "a tab inside a block scalar is content, not indentation");
	CHECK_DIAG(
	    "name: [a\n",
	    "t.yaml:2:1: syntax error: did not find expected ',' or ']'; while parsing a flow "
	    "sequence that started at line 1 column 7",
	    "syntax error with libyaml's context");
	CHECK_DIAG(MIN "labels: {a: \"x\\0y\"}\n",
		   "t.yaml:5:13: labels.a: contains a NUL character", "embedded NUL refused");
	CHECK_DIAG(MIN "python_packages: [\"-e .\"]\n",
		   "t.yaml:5:19: python_packages[0]: \"-e .\" starts with '-'; pip options are not "
		   "allowed in python_packages",
		   "pip options refused");
	CHECK_DIAG(MIN "app:\n  copy: [a/../../b]\n",
		   "t.yaml:6:10: app.copy[0]: \"a/../../b\" escapes the build context; keep paths "
		   "inside app.path",
		   "'..' in a context path");
	CHECK_DIAG(MIN "app:\n  copy: [a..b, ./x]\n  artifacts: [/o]\n  build: []\n",
		   "t.yaml:7:14: app.artifacts: artifacts come from the builder stage; add the "
		   "commands that make them under app.build",
		   "'a..b' is a name, artifacts need build commands");
	CHECK_DIAG(MIN "output:\n  compression: uncompressed\n  compression_level: 1\n",
		   "t.yaml:7:22: output.compression_level: has no effect with compression "
		   "\"uncompressed\"; remove it",
		   "level with uncompressed");
	CHECK_DIAG(MIN "frameworks: {torch: \"2.4\"}\nmatrix:\n  torhc: [\"2.3\"]\n",
		   "t.yaml:7:3: matrix.torhc: unknown matrix axis; did you mean 'torch'?",
		   "matrix axis suggestion includes framework names");
	CHECK_DIAG(MIN "image: localhost:5000/a/b\ntag: v1.0-rc_1\nlabels: {\"1\": x}\n",
		   "(parsed)", "registry with port, tag, quoted numeric key");
	CHECK_DIAG(MIN "image: acme/app\n", "(parsed)", "image without registry");
	CHECK_DIAG(
	    MIN "image: Acme/app\n",
	    "t.yaml:5:8: image: expected a repository like \"registry.example.com/acme/app\" "
	    "(lowercase path, no tag), got \"Acme/app\"",
	    "an uppercase first component is a path, not a host");

	/* every problem in one pass, sorted by position */
	r = parse("cuda: 12.4\nname: Bad\nbase: {os: x, flavor: y}\nzz: 1\n", &diags, &ret);
	CHECK(ret == GS_EINVAL && !r && diags.nr == 5, "all schema problems collected (%zu)",
	      diags.nr);
	if (diags.nr == 5) {
		CHECK_STR(diags.items[0],
			  "t.yaml:1:7: cuda: 12.4 is a number to YAML tools; quote it: \"12.4\"",
			  "sorted: first");
		CHECK_STR(diags.items[2],
			  "t.yaml:3:12: base.os: expected an OS like \"ubuntu22.04\", "
			  "\"debian12\", \"rockylinux9\" or \"ubi9\", got \"x\"",
			  "sorted: flow mapping value position");
		CHECK_STR(diags.items[4],
			  "t.yaml:4:1: zz: unknown field; gpuslim.yaml.example lists every field",
			  "sorted: last");
		CHECK_STR(error_last(), diags.items[0], "error_last() is the first diagnostic");
	}

	/* the cap */
	{
		struct strbuf sb = STRBUF_INIT;

		strbuf_addstr(&sb, MIN "capabilities:\n");
		for (int i = 0; i < 60; i++)
			strbuf_addstr(&sb, "  - nope\n");
		r = parse(sb.buf, &diags, &ret);
		CHECK(ret == GS_EINVAL && diags.nr == 51, "diagnostics capped at 50 plus a count");
		if (diags.nr == 51)
			CHECK_STR(diags.items[50], "t.yaml: 10 more problems not shown",
				  "the count");
		strbuf_release(&sb);
	}
	vec_release(&diags);
}

/* strip as a matrix axis: the values trim.strip takes, the same messages. */
static void test_strip_axis(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r;
	int ret;

	r = parse(MIN "trim: {strip: debug}\n"
		      "matrix:\n"
		      "  strip: [none, unneeded]\n"
		      "  exclude:\n"
		      "    - {strip: none}\n"
		      "  include:\n"
		      "    - {strip: debug}\n",
		  &diags, &ret);
	CHECK(ret == 0 && r, "strip is a matrix axis");
	if (!r)
		goto done;
	CHECK(r->matrix.axes_nr == 1 && !strcmp(r->matrix.axes[0].key.v, "strip") &&
		  r->matrix.axes[0].values.nr == 2 &&
		  !strcmp(r->matrix.axes[0].values.items[1].v, "unneeded") &&
		  r->matrix.axes[0].values.items[1].pos.line == 7,
	      "strip axis values and positions");
	CHECK(r->matrix.exclude_nr == 1 && !strcmp(r->matrix.exclude[0].keys[0].v, "strip") &&
		  !strcmp(r->matrix.exclude[0].values[0].v, "none"),
	      "an exclude names the strip axis");
	CHECK(r->matrix.include_nr == 1 && !strcmp(r->matrix.include[0].values[0].v, "debug"),
	      "an include sets strip");
	CHECK(r->trim.strip_v == STRIP_DEBUG, "trim.strip stays the recipe's own");
	recipe_free(r);
	r = NULL;

	CHECK_DIAG(MIN "matrix:\n  strip: [none, unneded]\n",
		   "t.yaml:6:17: matrix.strip[1]: expected one of none, debug, unneeded, got "
		   "\"unneded\"; did you mean 'unneeded'?",
		   "bad strip axis value, with trim.strip's message");
	CHECK_DIAG(MIN "matrix:\n  strip: [none, none]\n",
		   "t.yaml:6:17: matrix.strip[1]: \"none\" is listed twice; first at line 6",
		   "duplicate strip axis value");
	CHECK_DIAG(MIN "matrix:\n  strip: none\n",
		   "t.yaml:6:10: matrix.strip: expected a non-empty list of values, got a string "
		   "\"none\"",
		   "a strip axis is a list");
	CHECK_DIAG(MIN "matrix:\n  strip: [no]\n",
		   "t.yaml:6:11: matrix.strip[0]: no is a boolean to YAML tools; quote it: \"no\"",
		   "YAML 1.1 boolean trap in the strip axis");
	CHECK_DIAG(MIN "matrix:\n  cuda: [\"12.4\"]\n  include:\n    - {strip: full}\n",
		   "t.yaml:8:15: matrix.include[0].strip: expected one of none, debug, unneeded, "
		   "got \"full\"",
		   "bad strip in an include");
	CHECK_DIAG(MIN "matrix:\n  cuda: [\"12.4\"]\n  exclude:\n    - {strip: none}\n",
		   "t.yaml:8:8: matrix.exclude[0].strip: 'strip' is not an axis of this matrix; an "
		   "exclude names only axes declared under matrix",
		   "an exclude names strip only when the matrix varies it");
	CHECK_DIAG(MIN "matrix:\n  stirp: [none]\n",
		   "t.yaml:6:3: matrix.stirp: unknown matrix axis; did you mean 'strip'?",
		   "strip is suggested for a typo");
done:
	recipe_free(r);
	vec_release(&diags);
}

static void test_sizes(void)
{
	static const struct {
		const char *text;
		int ok;
		uint64_t bytes;
	} cases[] = {
	    {"123", 1, 123},
	    {"0", 1, 0},
	    {"6GB", 1, 6000000000ULL},
	    {"500MB", 1, 500000000ULL},
	    {"1.5GiB", 1, 1610612736ULL},
	    {"1.5 GiB", 1, 1610612736ULL},
	    {"0.1KB", 1, 100},
	    {"0.001KiB", 1, 1},
	    {"1.5B", 1, 1},
	    {"2TiB", 1, 2199023255552ULL},
	    {"18446744073709551615", 1, 18446744073709551615ULL},
	    {"18446744073709551616", 0, 0},
	    {"18446744073.709551615GB", 1, 18446744073709551615ULL},
	    {"18446744073.709551616GB", 0, 0},
	    {"18446744074GB", 0, 0},
	    {"6gb", 0, 0},
	    {"6G", 0, 0},
	    {"6  GB", 0, 0},
	    {"6 ", 0, 0},
	    {" 6GB", 0, 0},
	    {"", 0, 0},
	    {".5GB", 0, 0},
	    {"1.GB", 0, 0},
	    {"-1", 0, 0},
	    {"1e3", 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t b = 0;
		int ok = recipe_parse_size(cases[i].text, &b) == 0;

		CHECK(ok == cases[i].ok && (!ok || b == cases[i].bytes), "size '%s' -> %s %llu",
		      cases[i].text, ok ? "ok" : "refused", (unsigned long long)b);
	}
}

static void test_yaml11(void)
{
	static const struct {
		const char *text;
		enum yaml11_kind kind;
	} cases[] = {
	    {"3.10", YAML11_FLOAT},
	    {"12.4", YAML11_FLOAT},
	    {"12.4.1", YAML11_STR},
	    {"1.", YAML11_FLOAT},
	    {".5", YAML11_FLOAT},
	    {"1.0e+5", YAML11_FLOAT},
	    {"1.0e5", YAML11_STR},
	    {"1e5", YAML11_STR},
	    {".inf", YAML11_FLOAT},
	    {"-.Inf", YAML11_FLOAT},
	    {".NaN", YAML11_FLOAT},
	    {"1:30.5", YAML11_FLOAT},
	    {"yes", YAML11_BOOL},
	    {"Off", YAML11_BOOL},
	    {"oFF", YAML11_STR},
	    {"y", YAML11_STR},
	    {"n", YAML11_STR},
	    {"~", YAML11_NULL},
	    {"", YAML11_NULL},
	    {"Null", YAML11_NULL},
	    {"nULL", YAML11_STR},
	    {"0x1F", YAML11_INT},
	    {"0o17", YAML11_STR},
	    {"017", YAML11_INT},
	    {"018", YAML11_STR},
	    {"1_000", YAML11_INT},
	    {"1:30", YAML11_INT},
	    {"0b101", YAML11_INT},
	    {"+12", YAML11_INT},
	    {"2024-06-01", YAML11_TIMESTAMP},
	    {"2024-6-1 1:00:00", YAML11_TIMESTAMP},
	    {"2024-6-1", YAML11_STR},
	    {"=", YAML11_OTHER},
	    {"<<", YAML11_OTHER},
	    {"ubuntu22.04", YAML11_STR},
	    {"6GB", YAML11_STR},
	    {"8000/tcp", YAML11_STR},
	    {"auto", YAML11_STR},
	};
	long v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(ytree_yaml11_kind(cases[i].text) == cases[i].kind, "yaml 1.1 kind of '%s'",
		      cases[i].text);
	CHECK(ytree_yaml11_bool("ON") == 1 && ytree_yaml11_bool("no") == 0 &&
		  ytree_yaml11_bool("1") == -1,
	      "yaml 1.1 bool values");
	CHECK(!ytree_yaml11_int("0x1F", &v) && v == 31, "0x1F is 31");
	CHECK(!ytree_yaml11_int("017", &v) && v == 15, "017 is octal 15");
	CHECK(!ytree_yaml11_int("-1_000", &v) && v == -1000, "underscores dropped");
	CHECK(!ytree_yaml11_int("1:30:00", &v) && v == 5400, "sexagesimal");
	CHECK(!ytree_yaml11_int("0b110", &v) && v == 6, "binary");
	CHECK(ytree_yaml11_int("99999999999999999999", &v) == -1, "int overflow refused");
	CHECK(ytree_yaml11_int("3.0", &v) == -1, "a float is not an int");
}

static void test_edit_distance(void)
{
	CHECK(ytree_edit_distance("pyhton_packages", "python_packages") == 2, "transposition is 2");
	CHECK(ytree_edit_distance("kitten", "sitting") == 3, "kitten/sitting");
	CHECK(ytree_edit_distance("", "abc") == 3, "from empty");
	CHECK(ytree_edit_distance("cuda", "cuda") == 0, "equal");
	CHECK_DIAG(MIN "cdua: x\n", "t.yaml:5:1: cdua: unknown field; did you mean 'cuda'?",
		   "short key suggestion");
	CHECK_DIAG("name: a\nbase:\n  os: ubuntu22.04\n  fl: x\ncuda: \"1.2\"\n",
		   "t.yaml:4:3: base.fl: unknown field; expected one of os, registry, repository, "
		   "flavor",
		   "no close match lists a small mapping's fields");
}

static void test_load(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r = NULL;
	int ret;

	ret = recipe_load("/nonexistent/gpuslim.yaml", &r, &diags);
	CHECK(ret == GS_ENOTFOUND && !r && diags.nr == 0, "missing file: GS_ENOTFOUND, no diags");
	ret = recipe_load("gpuslim.yaml.example", &r, &diags);
	CHECK(ret == 0 && r && !strcmp(r->dir, "."), "gpuslim.yaml.example loads");
	recipe_free(r);
	r = NULL;
	ret = recipe_parse("dir/sub/g.yaml", MIN, strlen(MIN), &r, NULL);
	CHECK(ret == 0 && r && !strcmp(r->dir, "dir/sub"), "dir of a nested path");
	recipe_free(r);
	vec_release(&diags);
}

/* A BOM (as editors on Windows save) parses, as PyYAML takes it; columns
 * on the first line do not count it. */
static void test_bom(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r;
	int ret;

	r = parse("\xef\xbb\xbf" MIN, &diags, &ret);
	CHECK(ret == 0 && r && r->name.v && !strcmp(r->name.v, "app") && r->name.pos.col == 7,
	      "a recipe with a UTF-8 BOM parses, the name at column 7 (%d)",
	      r ? r->name.pos.col : -1);
	recipe_free(r);
	CHECK_DIAG("\xef\xbb\xbfname: app\xff\n",
		   "t.yaml:1:10: invalid UTF-8 (byte 0xff); save the recipe as UTF-8",
		   "the BOM is no column of its own");
	vec_release(&diags);
}

/* max_cells and the bound, counted before anything is judged. */
static void test_matrix_bound(void)
{
	CHECK_DIAG(MIN "matrix:\n  max_cells: 4\n  cuda: [\"12.1\", \"12.4\"]\n"
		       "  python: [\"3.10\", \"3.11\"]\n",
		   "(parsed)", "max_cells is not an axis, and 4 cells fit 4");
	CHECK_DIAG(MIN "matrix:\n  max_cells: 3\n  cuda: [\"12.1\", \"12.4\"]\n"
		       "  python: [\"3.10\", \"3.11\"]\n",
		   "t.yaml:6:3: matrix: expands to 4 cells (the product of its axes' value counts, "
		   "plus its includes), more than matrix.max_cells (3); remove values or raise "
		   "matrix.max_cells (at most 4096)",
		   "one cell over max_cells");
	CHECK_DIAG(MIN "matrix:\n  max_cells: 3\n  include:\n    - {cuda: \"12.1\"}\n"
		       "    - {cuda: \"12.2\"}\n    - {cuda: \"12.3\"}\n    - {cuda: \"12.4\"}\n",
		   "t.yaml:6:3: matrix: expands to 4 cells (the product of its axes' value counts, "
		   "plus its includes), more than matrix.max_cells (3); remove values or raise "
		   "matrix.max_cells (at most 4096)",
		   "includes count");
}

/* The expressions are compiled once; a second use of a pattern, by
 * another pointer to the same text, gives the same answers. */
static void test_regex_cache(void)
{
	char copy[] = "^[a-z]+$";

	CHECK(ytree_re_match("^[a-z]+$", "abc") && !ytree_re_match("^[a-z]+$", "ab1"),
	      "a pattern matches");
	CHECK(ytree_re_match(copy, "xyz") && !ytree_re_match(copy, "X"),
	      "the same pattern at another address");
	CHECK(!ytree_re_match("([", "(["), "a pattern that does not compile matches nothing");
}

/* app.git: url required, ref and subdir optional; each value checked. */
static void test_app_git(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r;
	int ret;

	r = parse(MIN "app:\n  git:\n    url: ../app\n    ref: v1.0\n    subdir: svc/api\n", &diags,
		  &ret);
	CHECK(ret == 0 && r, "app.git parses");
	if (r) {
		CHECK_STR(r->app.git.url.v, "../app", "app.git.url");
		CHECK_STR(r->app.git.ref.v, "v1.0", "app.git.ref");
		CHECK_STR(r->app.git.subdir.v, "svc/api", "app.git.subdir");
		CHECK(r->app.git.pos.line == 7 && r->app.git.url.pos.line == 7 &&
			  r->app.git.ref.pos.line == 8 && r->app.git.ref.pos.col == 10,
		      "app.git positions");
		CHECK(!r->app.path.v, "app.path stays absent");
	}
	recipe_free(r);
	r = parse(MIN "app:\n  git:\n    url: file:///srv/app.git\n", &diags, &ret);
	CHECK(ret == 0 && r && !r->app.git.ref.v && !r->app.git.subdir.v,
	      "ref and subdir are optional");
	recipe_free(r);
	r = parse(MIN, &diags, &ret);
	CHECK(ret == 0 && r && !r->app.git.url.v && r->app.git.pos.line == 0, "no app.git: absent");
	recipe_free(r);
	for (size_t i = 0; i < 4; i++) {
		static const char *const ok_urls[] = {"https://example.com/a/b.git",
						      "git@example.com:a/b.git",
						      "ssh://git@example.com:22/a/b", "/srv/app"};
		char *text = xstrfmt(MIN "app:\n  git:\n    url: \"%s\"\n", ok_urls[i]);

		r = parse(text, &diags, &ret);
		CHECK(ret == 0 && r, "url %s is taken", ok_urls[i]);
		recipe_free(r);
		free(text);
	}
	CHECK_DIAG(MIN "app:\n  git:\n    url: \"file://host/x\"\n",
		   "t.yaml:7:10: app.git.url: \"file://host/x\": a file:// URL names an absolute "
		   "path, like \"file:///srv/app.git\"",
		   "file:// with a host");
	CHECK_DIAG(MIN "app:\n  git:\n    url: \"-oProxy\"\n",
		   "t.yaml:7:10: app.git.url: \"-oProxy\" starts with '-'",
		   "url starting with '-'");
	CHECK_DIAG(MIN "app:\n  git:\n    url: \"https://u@-x/r\"\n",
		   "t.yaml:7:10: app.git.url: \"https://u@-x/r\": the host starts with '-'",
		   "host after credentials starting with '-'");
	CHECK_DIAG(MIN "app:\n  git:\n    url: \"https:///r\"\n",
		   "t.yaml:7:10: app.git.url: \"https:///r\" has no host", "url without a host");
	CHECK_DIAG(MIN "app:\n  git:\n    url: \"a b\"\n",
		   "t.yaml:7:10: app.git.url: \"a b\" contains a blank or a control character",
		   "url with a blank");
	CHECK_DIAG(MIN "app:\n  git:\n    url: x\n    ref: \"\"\n",
		   "t.yaml:8:10: app.git.ref: expected a branch, a tag or a commit, got an empty "
		   "string; leave app.git.ref out for the repository's HEAD",
		   "empty ref");
	CHECK_DIAG(MIN "app:\n  git:\n    url: x\n    ref: a.lock\n",
		   "t.yaml:8:10: app.git.ref: \"a.lock\" is not a git ref name: it has a component "
		   "that ends in \".lock\"",
		   "ref ending in .lock");
	CHECK_DIAG(MIN "app:\n  git:\n    url: x\n    ref: \"main^\"\n",
		   "t.yaml:8:10: app.git.ref: \"main^\" is not a git ref name: it has a blank, a "
		   "control character or one of ~ ^ : ? * [ \\",
		   "ref with ^ (revision syntax)");
	CHECK_DIAG(MIN "app:\n  git:\n    url: x\n    subdir: /abs\n",
		   "t.yaml:8:13: app.git.subdir: \"/abs\" is an absolute path; give a directory "
		   "relative to the repository's root, like \"app\"",
		   "absolute subdir");
	CHECK_DIAG(MIN "app:\n  git: x\n",
		   "t.yaml:6:8: app.git: expected a mapping, got a string \"x\"",
		   "app.git not a mapping");
	vec_release(&diags);
}

int main(void)
{
	test_full();
	test_absent();
	test_diags();
	test_strip_axis();
	test_sizes();
	test_yaml11();
	test_edit_distance();
	test_load();
	test_bom();
	test_matrix_bound();
	test_regex_cache();
	test_app_git();
	return unit_done();
}
