#include <stdlib.h>
#include <unistd.h>

#include "core/knowledge.h"
#include "core/render.h"
#include "unit.h"
#include "util/fs.h"
#include "util/strbuf.h"

/* The renderer on hand-built plans: quoting, escaping, and the structure of
 * what it writes. Whole-file output is checked by the golden cases. */

static char *quote_with(void (*fn)(struct strbuf *, const char *), const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	fn(&sb, s);
	return strbuf_detach(&sb, NULL);
}

/* CHECK_STR on a newly allocated string, then freed. */
#define CHECK_OWNED(expr, want, what)                                                              \
	do {                                                                                       \
		char *got_ = (expr);                                                               \
		CHECK_STR(got_, want, what);                                                       \
		free(got_);                                                                        \
	} while (0)
#define CHECK_QUOTE(fn, in, want, what)	      CHECK_OWNED(quote_with(fn, in), want, what)
#define CHECK_PATH_FROM(from, to, want, what) CHECK_OWNED(render_path_from(from, to), want, what)

static void test_shell_quote(void)
{
	CHECK_QUOTE(render_shell_quote, "torch==2.4.1", "'torch==2.4.1'", "shell: plain word");
	CHECK_QUOTE(render_shell_quote, "", "''", "shell: empty string is one empty word");
	CHECK_QUOTE(render_shell_quote, "it's", "'it'\\''s'", "shell: a single quote");
	CHECK_QUOTE(render_shell_quote, "$(rm -rf /); `x` \"y\" \\", "'$(rm -rf /); `x` \"y\" \\'",
		    "shell: $(), backquotes, quotes and backslash stay literal");
	CHECK_QUOTE(render_shell_quote, "a b\nc", "'a b\nc'",
		    "shell: blanks and newline stay inside");
}

static void test_docker_escapes(void)
{
	CHECK_QUOTE(render_docker_quote, "plain", "\"plain\"", "docker quote: plain");
	CHECK_QUOTE(render_docker_quote, "a\"b\\c$HOME", "\"a\\\"b\\\\c\\$HOME\"",
		    "docker quote: \", \\ and $ escaped");
	CHECK_QUOTE(render_docker_quote, "${X}", "\"\\${X}\"", "docker quote: ${ not expanded");
	CHECK_QUOTE(render_docker_word, "/models/my model", "/models/my\\ model",
		    "docker word: blank escaped");
	CHECK_QUOTE(render_docker_word, "$x'\"\\", "\\$x\\'\\\"\\\\", "docker word: $, quotes, \\");
	CHECK_QUOTE(render_json_string, "say \"hi\"\\\n\t\x01",
		    "\"say \\\"hi\\\"\\\\\\n\\t\\u0001\"",
		    "json: quotes, backslash, control characters");
	CHECK_QUOTE(render_json_string, "caf\xc3\xa9", "\"caf\xc3\xa9\"", "json: UTF-8 kept");
}

static void test_hcl_escapes(void)
{
	CHECK_QUOTE(render_hcl_string, "plain", "\"plain\"", "hcl: plain");
	CHECK_QUOTE(render_hcl_string, "${USER}", "\"$${USER}\"", "hcl: ${ becomes $${");
	CHECK_QUOTE(render_hcl_string, "%{ if x }", "\"%%{ if x }\"", "hcl: %{ becomes %%{");
	CHECK_QUOTE(render_hcl_string, "$HOME 100% {", "\"$HOME 100% {\"",
		    "hcl: $ and % without { stay");
	CHECK_QUOTE(render_hcl_string, "a\"b\\c\nd", "\"a\\\"b\\\\c\\nd\"",
		    "hcl: quote, backslash, newline");
	CHECK_QUOTE(render_hcl_string, "$${x}", "\"$$${x}\"", "hcl: an already doubled $${ grows");
}

static void test_ignore_paths(void)
{
	CHECK_QUOTE(render_ignore_path, "weights/llama-8b.bin", "weights/llama-8b.bin",
		    "ignore: a plain path as it is");
	CHECK_QUOTE(render_ignore_path, "!app", "\\!app", "ignore: a leading ! is no exception");
	CHECK_QUOTE(render_ignore_path, "#x", "\\#x", "ignore: a leading # is no comment");
	CHECK_QUOTE(render_ignore_path, "a!b#c", "a!b#c", "ignore: ! and # inside stay");
	CHECK_QUOTE(render_ignore_path, ".//./!x/./y/", "\\!x/y",
		    "ignore: cleaned first, so the ! Docker would see first is escaped");
	CHECK_QUOTE(render_ignore_path, "./", "", "ignore: the context itself is no line");
	CHECK_QUOTE(render_ignore_path, "**", "\\*\\*", "ignore: ** matches only itself");
	CHECK_QUOTE(render_ignore_path, "w[1]+(a|b)^{2}$?\\",
		    "w\\[1\\]\\+\\(a\\|b\\)\\^\\{2\\}\\$\\?\\\\",
		    "ignore: glob and regexp characters escaped");
	CHECK_QUOTE(render_ignore_path, " lead/trail\t", "[ ]lead/trail[\t]",
		    "ignore: blanks Docker would trim kept as classes");
}

static void test_path_from(void)
{
	CHECK_PATH_FROM("/a/b/out", "/a/b", "..", "path_from: the context above the output");
	CHECK_PATH_FROM("/a/b", "/a/b/out/Dockerfile.x", "out/Dockerfile.x",
			"path_from: the Dockerfile below the context");
	CHECK_PATH_FROM("/a/ctx", "/a/elsewhere/Dockerfile.x", "../elsewhere/Dockerfile.x",
			"path_from: a common ancestor below /");
	CHECK_PATH_FROM("/tmp/out", "/work/ctx", "/work/ctx",
			"path_from: only / in common: absolute");
	CHECK_PATH_FROM("/", "/work/ctx", "/work/ctx", "path_from: from / itself: absolute");
	CHECK_PATH_FROM("/work/x", "/workshop/y", "/workshop/y",
			"path_from: a shared prefix is not a shared component");
}

static void test_target_names(void)
{
	CHECK(render_is_target_name("cuda12-4_py3-11"), "target: letters, digits, - and _");
	CHECK(!render_is_target_name("cuda12.4"), "target: a dot is refused");
	CHECK(!render_is_target_name(""), "target: empty is refused");
	CHECK(!render_is_target_name(NULL), "target: NULL is refused");
	CHECK(!render_is_target_name("a b"), "target: blank is refused");
}

/* ---- a hand-built plan -------------------------------------------------- */

/* The built-in plugins (tests run from the repository root): the paths and
 * names RUN lines take from render.json. */
static struct knowledge *kb;

struct fixture {
	struct recipe r;
	struct plan p;
	struct plan_cell cell;
	struct plan_framework fw;
	struct recipe_label labels[2];
	struct rstr copy[1], cmd[2], env[1], build[1], artifacts[1];
	struct recipe_model models[2];
};

static struct rstr S(const char *v) {
	struct rstr s = {(char *)v, {1, 1}};
	return s;
}

static void
fixture_init(struct fixture *f, int compiles)
{
	memset(f, 0, sizeof(*f));
	f->r.file = "tests/x/gpuslim.yaml";
	f->r.dir = "tests/x";
	memset(f->r.sha256, 'a', 64);
	f->r.name = S("demo");
	f->labels[0].key = S("org.example.note");
	f->labels[0].value = S("costs ${PRICE} \"now\" $HOME");
	f->labels[1].key = S("team");
	f->labels[1].value = S("ml\\infra");
	f->r.labels = f->labels;
	f->r.labels_nr = 2;
	f->copy[0] = S("app");
	f->r.app.copy.items = f->copy;
	f->r.app.copy.nr = 1;
	f->cmd[0] = S("python");
	f->cmd[1] = S("-c \"print('hi')\"");
	f->r.app.cmd.items = f->cmd;
	f->r.app.cmd.nr = 2;
	f->env[0] = S("GREETING=hello \"$USER\"");
	f->r.app.env.items = f->env;
	f->r.app.env.nr = 1;
	f->models[0].name = S("resnet50");
	f->models[0].path = S("models/resnet50");
	f->models[1].name = S("big-llm");
	f->models[1].path = S("weights/big");
	f->models[1].mode = MODEL_VOLUME;
	f->r.models = f->models;
	f->r.models_nr = 2;

	f->cell.id = "cu124-py311";
	f->cell.tag = "cu124-py311";
	f->cell.image_ref = "local/demo:cu124-py311";
	f->cell.os.value = "ubuntu22.04";
	f->cell.cuda.value = "12.4.1";
	f->cell.python.value = compiles ? NULL : "3.11";
	f->cell.python_source.value = "os";
	f->cell.python_bin = "/usr/bin/python3.11";
	f->cell.pkg_manager = "apt";
	f->cell.builder.ref = "docker.io/nvidia/cuda:12.4.1-base-ubuntu22.04";
	f->cell.builder.digest = "sha256:1111";
	f->cell.final.ref = "docker.io/nvidia/cuda:12.4.1-base-ubuntu22.04";
	f->cell.compiles = compiles;
	vec_init(&f->cell.axes, free);
	vec_init(&f->cell.builder_packages, free);
	vec_init(&f->cell.final_packages, free);
	vec_init(&f->cell.pip_requirements, free);
	vec_init(&f->cell.extra_index_urls, free);
	vec_init(&f->cell.closure_skip, free);
	vec_init(&f->cell.driver_sonames, free);
	vec_pushstr(&f->cell.final_packages, "python3.11");
	vec_pushstr(&f->cell.builder_packages, "python3.11-venv");
	vec_pushstr(&f->cell.pip_requirements, "fastapi==0.110.0");
	vec_pushstr(&f->cell.pip_requirements, "weird'name");
	vec_pushstr(&f->cell.extra_index_urls, "https://download.pytorch.org/whl/cu124");
	f->fw.name = "torch";
	f->fw.pip_spec = "torch==2.4.1+cu124";
	f->fw.index_url = "https://download.pytorch.org/whl/cu124";
	f->cell.frameworks = &f->fw;
	f->cell.frameworks_nr = compiles ? 0 : 1;
	if (compiles) {
		f->build[0] = S("nvcc -o /usr/local/bin/vadd vadd.cu");
		f->r.app.build.items = f->build;
		f->r.app.build.nr = 1;
		f->artifacts[0] = S("/usr/local/bin/vadd");
		f->r.app.artifacts.items = f->artifacts;
		f->r.app.artifacts.nr = 1;
		vec_pushstr(&f->cell.closure_skip, "libc.so.*");
		vec_pushstr(&f->cell.driver_sonames, "libcuda.so.*");
	}
	f->p.recipe = &f->r;
	f->p.kb = kb;
	f->p.cells = &f->cell;
	f->p.cells_nr = 1;
}

static void fixture_release(struct fixture *f)
{
	vec_release(&f->cell.axes);
	vec_release(&f->cell.builder_packages);
	vec_release(&f->cell.final_packages);
	vec_release(&f->cell.pip_requirements);
	vec_release(&f->cell.extra_index_urls);
	vec_release(&f->cell.closure_skip);
	vec_release(&f->cell.driver_sonames);
}

static int has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static void test_dockerfile_python(void)
{
	struct fixture f;
	struct strbuf sb = STRBUF_INIT;
	const char *s;

	fixture_init(&f, 0);
	CHECK(render_dockerfile(&f.p, &f.cell, "0.0.0", &sb) == 0, "dockerfile: renders");
	s = sb.buf;
	CHECK(!has(s, "# syntax") && !has(s, "--link") && !has(s, "<<"),
	      "dockerfile: no syntax line, no COPY --link, no heredoc");
	CHECK(has(s, "FROM docker.io/nvidia/cuda:12.4.1-base-ubuntu22.04@sha256:1111 AS builder"),
	      "dockerfile: builder pinned by digest");
	CHECK(has(s, "\nFROM docker.io/nvidia/cuda:12.4.1-base-ubuntu22.04 AS final"),
	      "dockerfile: final without digest when the plan has none");
	CHECK(has(s, "'weird'\\''name'"), "dockerfile: pip requirement shell-quoted");
	CHECK(has(s, "pip install \\\n      --index-url 'https://download.pytorch.org/whl/cu124' "
		     "\\\n      'torch==2.4.1+cu124'\n") &&
		  !has(s, "--extra-index-url "),
	      "dockerfile: unpinned, the framework from its own index (--index-url, quoted), "
	      "never --extra-index-url");
	CHECK(has(s, "pip install \\\n      'fastapi==0.110.0'"),
	      "dockerfile: the rest in a run of its own, from pip's default index");
	CHECK(strstr(s, "'torch==2.4.1+cu124'") < strstr(s, "'fastapi==0.110.0'"),
	      "dockerfile: framework wheel first");
	CHECK(has(s, "\"org.example.note\"=\"costs \\${PRICE} \\\"now\\\" \\$HOME\""),
	      "dockerfile: label value escaped for Dockerfile syntax");
	CHECK(has(s, "\"team\"=\"ml\\\\infra\""), "dockerfile: backslash in label doubled");
	CHECK(has(s, "GREETING=\"hello \\\"\\$USER\\\"\""), "dockerfile: app.env value escaped");
	CHECK(has(s, "CMD [\"python\", \"-c \\\"print('hi')\\\"\"]"),
	      "dockerfile: CMD exec-form JSON");
	CHECK(has(s, "COPY [\"models/resnet50\", \"/models/resnet50\"]"),
	      "dockerfile: baked model");
	CHECK(strstr(s, "/models/resnet50\"]") < strstr(s, "COPY [\"app\""),
	      "dockerfile: models before app code");
	CHECK(has(s, "VOLUME [\"/models/big-llm\"]") &&
		  has(s, "GPUSLIM_MODEL_BIG_LLM=\"/models/big-llm\""),
	      "dockerfile: volume model and its env");
	CHECK(has(s, "USER 10001:10001") && has(s, "useradd --uid 10001"),
	      "dockerfile: non-root user");
	CHECK(has(s, "NVIDIA_DRIVER_CAPABILITIES=\"compute,utility\""),
	      "dockerfile: default capabilities");
	CHECK(has(s, "--system-site-packages"), "dockerfile: os python venv sees OS packages");
	CHECK(has(s, "path-exclude=/usr/share/doc/*"), "dockerfile: docs pruned by dpkg");
	CHECK(has(s, "-mindepth 2 -type d \\( -name tests -o -name test \\)"),
	      "dockerfile: tests pruned only inside packages");
	CHECK(strrchr(s, 'C') && has(strstr(s, "COPY [\"app\""), "LABEL"),
	      "dockerfile: LABEL after app code");
	strbuf_release(&sb);

	{
		/* render.json's words go unquoted: a blank or a $ would be shell */
		struct vec *sites = &kb->render.os_site_packages;
		void *was = sites->items[0];

		sites->items[0] = "/usr/lib/py thon";
		CHECK(render_dockerfile(&f.p, &f.cell, "0.0.0", &sb) == GS_EINVAL &&
			  has(error_last(), "render.json: os_site_packages: '/usr/lib/py thon'"),
		      "dockerfile: a render.json word with a blank is refused");
		sites->items[0] = was;
		strbuf_release(&sb);
	}
	f.env[0] = S("BAD=line1\nline2");
	CHECK(render_dockerfile(&f.p, &f.cell, "0.0.0", &sb) == GS_EINVAL &&
		  has(error_last(), "app.env"),
	      "dockerfile: a newline in a value is refused, naming the field");
	strbuf_release(&sb);
	fixture_release(&f);
}

/* Pinned wheels: exactly those, hash-checked, one run per index. */
static void test_dockerfile_wheels(void)
{
	static const char want[] = "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
				   "    set -eu; \\\n"
				   "    printf '%s\\n' \\\n"
				   "      'torch==2.4.1+cu124 --hash=sha256:aaaa' \\\n"
				   "      'nvidia-cublas-cu12==12.4.5.8 --hash=sha256:bbbb' \\\n"
				   "      >/tmp/gpuslim-wheels-1.txt; \\\n"
				   "    /opt/venv/bin/pip install --require-hashes --no-deps \\\n"
				   "      --index-url 'https://download.pytorch.org/whl/cu124' \\\n"
				   "      -r /tmp/gpuslim-wheels-1.txt; \\\n"
				   "    rm -f /tmp/gpuslim-wheels-1.txt\n"
				   "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
				   "    set -eu; \\\n"
				   "    printf '%s\\n' \\\n"
				   "      'fastapi==0.110.0 --hash=sha256:cccc' \\\n"
				   "      >/tmp/gpuslim-wheels-2.txt; \\\n"
				   "    /opt/venv/bin/pip install --require-hashes --no-deps \\\n"
				   "      --index-url 'https://pypi.org/simple' \\\n"
				   "      -r /tmp/gpuslim-wheels-2.txt; \\\n"
				   "    rm -f /tmp/gpuslim-wheels-2.txt\n";
	struct plan_wheel w[3] = {
	    {"torch", "2.4.1+cu124", "torch-2.4.1+cu124-cp311-cp311-linux_x86_64.whl", "u1", "aaaa",
	     "https://download.pytorch.org/whl/cu124", "frameworks", 1, NULL},
	    {"nvidia-cublas-cu12", "12.4.5.8", "f2", "u2", "bbbb",
	     "https://download.pytorch.org/whl/cu124", "torch", 1, NULL},
	    {"fastapi", "0.110.0", "f3", "u3", "cccc", "https://pypi.org/simple", "recipe", 0,
	     NULL},
	};
	struct fixture f;
	struct strbuf sb = STRBUF_INIT;

	fixture_init(&f, 0);
	f.cell.wheels = w;
	f.cell.wheels_nr = 3;
	CHECK(render_dockerfile(&f.p, &f.cell, "0.0.0", &sb) == 0, "wheels: renders");
	CHECK(has(sb.buf, want),
	      "wheels: one hash-checked pip run per index, the framework's first");
	if (!has(sb.buf, want))
		printf("# got:\n%s\n", sb.buf);
	CHECK(!has(sb.buf, "--extra-index-url ") && !has(sb.buf, "'weird'") && !has(sb.buf, "<<"),
	      "wheels: no extra index, no unpinned requirement, no heredoc");
	f.cell.wheels = NULL;
	f.cell.wheels_nr = 0;
	strbuf_release(&sb);
	fixture_release(&f);
}

static void test_dockerfile_compiled(void)
{
	struct fixture f;
	struct strbuf sb = STRBUF_INIT;
	const char *s;

	fixture_init(&f, 1);
	CHECK(render_dockerfile(&f.p, &f.cell, "0.0.0", &sb) == 0, "compiled: renders");
	s = sb.buf;
	CHECK(has(s, "RUN nvcc -o /usr/local/bin/vadd vadd.cu"),
	      "compiled: build command as written");
	CHECK(has(s, "skip='libc.so.*'") && has(s, "driver='libcuda.so.*'"),
	      "compiled: closure skip and driver lists");
	CHECK(has(s, "COPY --from=builder [\"/opt/gpuslim/closure/\", \"/\"]\nRUN ldconfig"),
	      "compiled: closure copied, ldconfig run");
	CHECK(has(s, "COPY --from=builder [\"/usr/local/bin/vadd\", \"/usr/local/bin/vadd\"]"),
	      "compiled: artifact copied");
	CHECK(!has(strstr(s, "AS final"), "COPY [\"app\""),
	      "compiled: sources stay in the builder");
	CHECK(!has(s, "/opt/venv"), "compiled without python: no venv");
	strbuf_release(&sb);
	fixture_release(&f);
}

static void test_bake(void)
{
	struct fixture f;
	struct strbuf sb = STRBUF_INIT;
	char *cwd = fs_abspath("."), *want;

	fixture_init(&f, 0);
	CHECK(render_bake(&f.p, "tests/x/out", "0.0.0", &sb) == 0, "bake: renders");
	CHECK(has(sb.buf, "group \"default\" {\n  targets    = [\"cu124-py311\"]"),
	      "bake: default group lists the cell");
	CHECK(has(sb.buf, "\"org.example.note\" = \"costs $${PRICE} \\\"now\\\" $HOME\""),
	      "bake: label ${ written $${");
	CHECK(has(sb.buf, "context    = \"..\"\n  dockerfile = \"out/Dockerfile.cu124-py311\"\n"),
	      "bake: context relative to the bake file, dockerfile to the context");
	CHECK(!has(sb.buf, "\"${") && !has(sb.buf, "variable"),
	      "bake: no variable to set: correct as generated");
	CHECK(has(sb.buf, "docker-container"), "bake: the header names the builder it needs");
	CHECK(!has(sb.buf, "type=registry") &&
		  has(sb.buf,
		      "cache-to   = [\"type=local,dest=.gpuslim-cache/cu124-py311,mode=max\"]"),
	      "bake: cache registry for local/demo: a local cache, nothing to Docker Hub");
	CHECK(has(sb.buf, "compression=zstd,force-compression=true"),
	      "bake: zstd by default, forced");
	strbuf_reset(&sb);

	f.r.image = S("user/demo");
	CHECK(render_bake(&f.p, "tests/x/out", "0.0.0", &sb) == 0 && !has(sb.buf, "type=registry"),
	      "bake: an image without a registry host exports no registry cache");
	strbuf_reset(&sb);
	f.r.image = S("127.0.0.1:5000/demo");
	f.cell.image_ref = "127.0.0.1:5000/demo:cu124-py311";
	CHECK(render_bake(&f.p, "tests/x/out", "0.0.0", &sb) == 0 &&
		  has(sb.buf,
		      "type=registry,ref=127.0.0.1:5000/demo:buildcache-cu124-py311,mode=max"),
	      "bake: an image with a registry host gets the registry cache");
	strbuf_reset(&sb);
	f.r.output.cache = S("inline");
	f.r.image = S("local/demo");
	CHECK(render_bake(&f.p, "tests/x/out", "0.0.0", &sb) == 0 &&
		  !has(sb.buf, "type=registry") && has(sb.buf, "type=inline"),
	      "bake: cache inline for local/demo: exported inline, imported from no registry");
	strbuf_reset(&sb);

	want = xstrfmt("context    = \"%s/tests/x\"\n  dockerfile = \"/elsewhere/out/Dockerfile.",
		       cwd);
	CHECK(render_bake(&f.p, "/elsewhere/out", "0.0.0", &sb) == 0 && has(sb.buf, want),
	      "bake: only / in common with the output: absolute paths");
	free(want);
	free(cwd);
	strbuf_release(&sb);
	fixture_release(&f);
}

/* A scratch directory with `name` holding `content` in it; NULL: none. */
static char *scratch_with(const char *name, const char *content)
{
	char *dir = xstrdup("/tmp/gpuslim-render-XXXXXX"), *p;

	if (!mkdtemp(dir))
		return dir;
	if (content) {
		p = fs_join(dir, name);
		fs_write_atomic(p, content, strlen(content));
		free(p);
	}
	return dir;
}

static void scratch_remove(const char *dir)
{
	const char *extra[] = {"Dockerfile.ok", "docker-bake.hcl", ".dockerignore", "gpuslim.yaml",
			       "Dockerfile.ok.dockerignore"};

	for (size_t i = 0; i < sizeof(extra) / sizeof(*extra); i++) {
		char *p = fs_join(dir, extra[i]);

		unlink(p);
		free(p);
	}
	rmdir(dir);
}

static void test_ignore(void)
{
	struct fixture f;
	struct strbuf sb = STRBUF_INIT;
	char *dir;
	const char *user;

	fixture_init(&f, 0);
	CHECK(render_dockerignore(&f.p, "tests/x/out", &sb) == 0, "dockerignore: renders");
	CHECK(has(sb.buf, "\n**/*.pyc\n**/__pycache__\n.git\n.gpuslim-cache\nout\nweights/big\n"),
	      "dockerignore: sorted, with the output dir and volume models");
	strbuf_reset(&sb);

	/* the context's own rules first, less BOM and CR, then gpuslim's */
	dir = scratch_with(".dockerignore", "\xef\xbb\xbfsecret.env\r\n*.key\n!public.key");
	f.r.dir = dir;
	CHECK(render_dockerignore(&f.p, "/elsewhere", &sb) == 0 &&
		  (user = strstr(sb.buf, "secret.env\n*.key\n!public.key\n")) &&
		  strstr(user, "\nweights/big\n") && !has(sb.buf, "\xef\xbb\xbf") &&
		  !has(sb.buf, "\r"),
	      "dockerignore: the context's rules first, gpuslim's after");
	/* written into the context, that file is ours: only its user part again */
	{
		char *p = fs_join(dir, ".dockerignore");
		struct strbuf again = STRBUF_INIT;

		fs_write_atomic(p, sb.buf, sb.len);
		CHECK(render_dockerignore(&f.p, "/elsewhere", &again) == 0 &&
			  !strcmp(again.buf, sb.buf),
		      "dockerignore: regenerated over its own output, the same bytes");
		strbuf_release(&again);
		free(p);
	}
	scratch_remove(dir);
	free(dir);
	strbuf_release(&sb);
	fixture_release(&f);
}

/* app.git: the plan's exported context is the bake file's context and the
 * ignore file's source, and the image names the commit. */
static void test_git_context(void)
{
	struct fixture f;
	struct strbuf sb = STRBUF_INIT;
	char *dir = scratch_with(".dockerignore", "from-the-repo\n"), *ctx;

	fixture_init(&f, 0);
	f.p.git.url = "https://example.com/acme/app.git";
	f.p.git.commit = "0123456789abcdef0123456789abcdef01234567";
	ctx = fs_abspath(dir);
	f.p.context = ctx;
	CHECK(render_dockerfile(&f.p, &f.cell, "0.0.0", &sb) == 0 &&
		  has(sb.buf, "\"org.opencontainers.image.revision\"="
			      "\"0123456789abcdef0123456789abcdef01234567\"") &&
		  has(sb.buf, "\"org.opencontainers.image.source\"="
			      "\"https://example.com/acme/app.git\""),
	      "git: the Dockerfile labels the commit and the source");
	strbuf_reset(&sb);
	f.p.git.url = "../app";
	CHECK(render_dockerfile(&f.p, &f.cell, "0.0.0", &sb) == 0 && !has(sb.buf, "image.source") &&
		  has(sb.buf, "image.revision"),
	      "git: a local path is no image.source");
	strbuf_reset(&sb);
	{
		char *out = fs_dirname(ctx),
		     *want = xstrfmt("context    = \"%s\"\n", strrchr(ctx, '/') + 1);

		CHECK(render_bake(&f.p, out, "0.0.0", &sb) == 0 && has(sb.buf, want),
		      "git: the bake file's context is the export");
		free(want);
		free(out);
	}
	strbuf_reset(&sb);
	CHECK(render_dockerignore(&f.p, "/elsewhere", &sb) == 0 && has(sb.buf, "from-the-repo\n") &&
		  has(sb.buf, "\n.gpuslim-export\n"),
	      "git: the export's .dockerignore first, its mark ignored");
	scratch_remove(dir);
	free(dir);
	free(ctx);
	strbuf_release(&sb);
	fixture_release(&f);
}

static void test_plan_and_write(void)
{
	struct fixture f;
	struct vec files = VEC_INIT(render_file_free);
	char *dir, *p;
	struct strbuf sb = STRBUF_INIT;

	fixture_init(&f, 0);
	f.cell.id = "bad.id";
	CHECK(render_plan(&f.p, "out", "0.0.0", &files) == GS_EINVAL,
	      "plan: a bad target name fails");
	vec_release(&files);
	f.cell.id = "ok";
	CHECK(render_plan(&f.p, "out", "0.0.0", &files) == 0 && files.nr == 4,
	      "plan: Dockerfile, bake file, its .dockerignore, .dockerignore");
	dir = scratch_with(NULL, NULL);
	CHECK(render_write(&files, dir) == 0, "write: into a directory");
	CHECK(render_write(&files, dir) == 0, "write: again over its own files");
	CHECK(render_write(&files, "/nonexistent/dir") == GS_EINFRA &&
		  has(error_last(), "cannot write"),
	      "write: failure says cannot write");
	scratch_remove(dir);
	free(dir);

	/* a Dockerfile of the user's in the way: nothing written at all */
	dir = scratch_with("Dockerfile.ok", "FROM scratch\n");
	p = fs_join(dir, "docker-bake.hcl");
	CHECK(render_write(&files, dir) == GS_EINVAL && has(error_last(), "Dockerfile.ok") &&
		  has(error_last(), "gpuslim did not write") && !fs_exists(p),
	      "write: a file of the user's in the way fails before writing anything");
	free(p);
	scratch_remove(dir);
	free(dir);

	/* the user's .dockerignore: left as it is, the rest written */
	dir = scratch_with(".dockerignore", "secret.env\n");
	p = fs_join(dir, ".dockerignore");
	CHECK(render_write(&files, dir) == 0 &&
		  ((struct render_file *)files.items[files.nr - 1])->skipped &&
		  fs_read_file(p, &sb, 0) == 0 && !strcmp(sb.buf, "secret.env\n"),
	      "write: the user's .dockerignore is skipped, not overwritten");
	free(p);
	scratch_remove(dir);
	free(dir);
	strbuf_release(&sb);
	vec_release(&files);
	fixture_release(&f);
}

int main(void)
{
	struct vec dirs = VEC_INIT(NULL);

	vec_push(&dirs, "plugins");
	if (knowledge_load_dirs(&kb, &dirs) < 0) {
		printf("# cannot load plugins/: %s\n", error_last());
		return 1;
	}
	vec_release(&dirs);
	test_shell_quote();
	test_docker_escapes();
	test_hcl_escapes();
	test_target_names();
	test_dockerfile_python();
	test_dockerfile_wheels();
	test_dockerfile_compiled();
	test_ignore_paths();
	test_path_from();
	test_bake();
	test_ignore();
	test_plan_and_write();
	test_git_context();
	knowledge_free(kb);
	return unit_done();
}
