#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/ci.h"
#include "core/recipe.h"
#include "core/registry.h"
#include "util/error.h"

/* ---- cron ---------------------------------------------------------------- */

struct cron_field {
	const char *name;
	int min, max;
	const char *const *names; /* names for min, min+1, ... (case-insensitive), or NULL */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
					  "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct cron_field cron_fields[] = {
    {"minute", 0, 59, NULL},	      {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day of week", 0, 6, day_names},
};

/* One value of field `f` from s[0..len): a number or a name. */
static int cron_value(const struct cron_field *f, int i, const char *s, size_t len, int *out)
{
	long v = 0;

	if (!len)
		return error_setc(GS_EINVAL, "field %d (%s): a value is missing", i + 1, f->name);
	if (isalpha((unsigned char)s[0]) && f->names) {
		for (int k = 0; f->names[k]; k++)
			if (len == 3 && !strncasecmp(s, f->names[k], 3)) {
				*out = f->min + k;
				return 0;
			}
	}
	for (size_t k = 0; k < len; k++) {
		if (!isdigit((unsigned char)s[k]))
			return error_setc(GS_EINVAL, "field %d (%s): '%.*s' is not a number%s",
					  i + 1, f->name, (int)len, s,
					  f->names == month_names ? " or a month (JAN-DEC)"
					  : f->names		  ? " or a day (SUN-SAT)"
								  : "");
		if (v < 1000)
			v = v * 10 + (s[k] - '0');
	}
	if (v < f->min || v > f->max)
		return error_setc(GS_EINVAL, "field %d (%s): %.*s is not from %d to %d", i + 1,
				  f->name, (int)len, s, f->min, f->max);
	*out = (int)v;
	return 0;
}

/* One comma-separated item: "*", "*\/n", "a", "a-b", "a/n" or "a-b/n". */
static int cron_item(const struct cron_field *f, int i, const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len), *dash;
	size_t head = slash ? (size_t)(slash - s) : len;
	int a, b, step;

	if (slash) {
		const char *st = slash + 1;
		size_t sl = len - head - 1;
		long v = 0;

		if (!sl)
			return error_setc(GS_EINVAL, "field %d (%s): a step is missing after '/'",
					  i + 1, f->name);
		for (size_t k = 0; k < sl; k++) {
			if (!isdigit((unsigned char)st[k]))
				return error_setc(GS_EINVAL,
						  "field %d (%s): step '%.*s' is not a number",
						  i + 1, f->name, (int)sl, st);
			if (v < 1000)
				v = v * 10 + (st[k] - '0');
		}
		step = (int)v;
		if (step < 1 || step > f->max - f->min + 1)
			return error_setc(GS_EINVAL, "field %d (%s): step %.*s is not from 1 to %d",
					  i + 1, f->name, (int)sl, st, f->max - f->min + 1);
	}
	if (head == 1 && s[0] == '*')
		return 0;
	dash = memchr(s, '-', head);
	if (!dash)
		return cron_value(f, i, s, head, &a);
	if (cron_value(f, i, s, (size_t)(dash - s), &a) < 0 ||
	    cron_value(f, i, dash + 1, head - (size_t)(dash - s) - 1, &b) < 0)
		return GS_EINVAL;
	if (a > b)
		return error_setc(GS_EINVAL, "field %d (%s): range %.*s runs backwards", i + 1,
				  f->name, (int)head, s);
	return 0;
}

int ci_check_cron(const char *expr)
{
	const char *p = expr;
	int n = 0;

	while (*p == ' ')
		p++;
	if (!*p)
		return error_setc(GS_EINVAL, "is empty: want five fields, e.g. '%s'",
				  CI_DEFAULT_CRON);
	if (*p == '@')
		return error_setc(GS_EINVAL,
				  "'%s' is not taken by GitHub or GitLab schedules: write the five "
				  "fields, e.g. '0 0 * * *' for daily",
				  expr);
	for (const char *c = expr; *c; c++)
		if (*c != ' ' && !isalnum((unsigned char)*c) && !strchr("*,-/", *c))
			return error_setc(
			    GS_EINVAL,
			    "character '%s%c' is not taken: fields are separated by "
			    "single spaces and hold digits, names, '*', ',', '-', '/'",
			    *c == '\t' ? "\\" : "", *c == '\t' ? 't' : *c);
	while (*p) {
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *item = p;

		if (n == 5) {
			n++;
			break;
		}
		while (item < p + len) {
			const char *comma = memchr(item, ',', (size_t)(p + len - item));
			size_t il = comma ? (size_t)(comma - item) : (size_t)(p + len - item);

			if (!il)
				return error_setc(GS_EINVAL, "field %d (%s): an empty list item",
						  n + 1, cron_fields[n].name);
			if (cron_item(&cron_fields[n], n, item, il) < 0)
				return GS_EINVAL;
			item += il;
			if (comma) {
				item++;
				if (item == p + len)
					return error_setc(GS_EINVAL,
							  "field %d (%s): an empty list item",
							  n + 1, cron_fields[n].name);
			}
		}
		n++;
		p += len;
		while (*p == ' ')
			p++;
	}
	if (n != 5)
		return error_setc(GS_EINVAL,
				  "'%s' has %s%d fields: want 5 (minute hour day-of-month month "
				  "day-of-week)",
				  expr, n > 5 ? "more than " : "", n > 5 ? 5 : n);
	return 0;
}

/* ---- names that go into the files ---------------------------------------- */

static int ci_safe_char(int c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"'`\\$", c);
}

int ci_check_path(const char *path)
{
	const char *p = path;

	if (!*path)
		return error_setc(GS_EINVAL, "the path is empty");
	if (*path == '/')
		return error_setc(GS_EINVAL, "'%s' is absolute: CI files name repository paths",
				  path);
	for (const char *c = path; *c; c++)
		if (!ci_safe_char((unsigned char)*c))
			return error_setc(GS_EINVAL,
					  "'%s' holds a character a CI file cannot carry plainly "
					  "(blanks, quotes, '\\', '$', or not ASCII)",
					  path);
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (!len || (len == 1 && p[0] == '.') || (len == 2 && !strncmp(p, "..", 2)))
			return error_setc(GS_EINVAL,
					  "'%s' has an empty, '.' or '..' component: name it from "
					  "the repository's root",
					  path);
		p += len;
		if (*p == '/')
			p++;
	}
	return 0;
}

int ci_check_repo(const char *url)
{
	if (!starts_with(url, "https://") && !starts_with(url, "http://") &&
	    !starts_with(url, "ssh://") && !starts_with(url, "git@"))
		return error_setc(GS_EINVAL,
				  "'%s' is not a git URL (https://, ssh:// or git@host:path)", url);
	for (const char *c = url; *c; c++)
		if (!ci_safe_char((unsigned char)*c))
			return error_setc(
			    GS_EINVAL, "'%s' holds a blank, a quote, '\\' or '$', or is not ASCII",
			    url);
	return 0;
}

int ci_check_ref(const char *ref)
{
	if (!*ref || *ref == '-' || *ref == '/' || strstr(ref, "..") || ends_with(ref, "/") ||
	    ends_with(ref, ".lock"))
		return error_setc(GS_EINVAL, "'%s' is not a branch or tag name", ref);
	for (const char *c = ref; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._/-+", *c))
			return error_setc(GS_EINVAL,
					  "'%s' is not a branch or tag name (letters, digits, '.', "
					  "'_', '/', '-', '+')",
					  ref);
	return 0;
}

int ci_check_label(const char *label)
{
	if (!*label)
		return error_setc(GS_EINVAL, "the runner label is empty");
	for (const char *c = label; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
			return error_setc(GS_EINVAL,
					  "'%s' is not a runner label (letters, digits, '.', '_', "
					  "'-')",
					  label);
	return 0;
}

void ci_yaml_quote(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_addf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			strbuf_addf(out, "\\x%02x", *p);
		else
			strbuf_addch(out, *p);
	}
	strbuf_addch(out, '"');
}

/* `s` inside a single-quoted GitHub expression string: ' doubled. */
static void ci_expr_quote(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addch(out, '\'');
		strbuf_addch(out, *s);
	}
	strbuf_addch(out, '\'');
}

/* The registry host the recipe's images are pushed to: docker.io for an
 * image that names none; NULL (nothing to push) without `image`. */
static char *ci_registry_host(const struct plan *p)
{
	const char *image = p->recipe->image.v, *slash;

	if (!image)
		return NULL;
	if (!registry_ref_names_host(image))
		return xstrdup("docker.io");
	slash = strchr(image, '/');
	return xstrndup(image, (size_t)(slash - image));
}

static void ci_header(struct strbuf *out, const char *what, const struct ci_opts *o)
{
	strbuf_addf(out, CI_HEADER " %s from %s: edit the recipe and run\n", what, o->recipe);
	strbuf_addf(out, "# `%s` again rather than editing this file.\n",
		    o->generator ? o->generator : "gpuslim ci");
}

/* Values every job sees, as environment variables: scripts read them from
 * there, so that no recipe value is pasted into a shell line. */
static void ci_env(struct strbuf *out, const char *indent, const struct ci_opts *o,
		   const char *registry)
{
	strbuf_addf(out, "%sGPUSLIM_RECIPE: ", indent);
	ci_yaml_quote(out, o->recipe);
	strbuf_addf(out, "\n%sGPUSLIM_SRC: ", indent);
	/* outside the checkout: a clone there would join a build context of "." */
	ci_yaml_quote(out, o->gpuslim_repo ? "/tmp/gpuslim-src" : ".");
	if (o->gpuslim_repo) {
		strbuf_addf(out, "\n%sGPUSLIM_REPO: ", indent);
		ci_yaml_quote(out, o->gpuslim_repo);
		strbuf_addf(out, "\n%sGPUSLIM_REF: ", indent);
		ci_yaml_quote(out, o->gpuslim_ref);
	}
	if (registry) {
		strbuf_addf(out, "\n%sGPUSLIM_REGISTRY: ", indent);
		ci_yaml_quote(out, registry);
	}
	strbuf_addf(out, "\n%sDOCKER_BUILDKIT: \"1\"\n", indent);
}

/* The shell lines that build and install gpuslim (Debian or Ubuntu), each
 * prefixed with `indent`; `sudo` where the job is not root. */
static void ci_install_lines(struct strbuf *out, const char *indent, const char *sudo,
			     const struct ci_opts *o)
{
	if (o->gpuslim_repo)
		strbuf_addf(out,
			    "%sgit clone --quiet --depth 1 --branch \"$GPUSLIM_REF\" "
			    "\"$GPUSLIM_REPO\" \"$GPUSLIM_SRC\"\n",
			    indent);
	strbuf_addf(out, "%s%sapt-get update -qq\n", indent, sudo);
	strbuf_addf(out,
		    "%s%sapt-get install -y -qq --no-install-recommends build-essential "
		    "pkg-config libyaml-dev libjansson-dev libcurl4-openssl-dev libgit2-dev "
		    "libssl-dev libarchive-dev\n",
		    indent, sudo);
	strbuf_addf(out, "%smake -C \"$GPUSLIM_SRC\" -j\"$(nproc)\" gpuslim\n", indent);
	strbuf_addf(out, "%s%smake -C \"$GPUSLIM_SRC\" install PREFIX=/usr/local\n", indent, sudo);
	strbuf_addf(out, "%sgpuslim --version\n", indent);
}

/* ---- GitHub Actions ------------------------------------------------------ */

static void gh_checkout_install(struct strbuf *out, const struct ci_opts *o)
{
	strbuf_addstr(out, "      - uses: actions/checkout@v4\n"
			   "      - name: Install gpuslim\n"
			   "        run: |\n");
	ci_install_lines(out, "          ", "sudo ", o);
}

/* docker login to the recipe's registry: ghcr.io with the job's own token,
 * any other with the GPUSLIM_REGISTRY_USER / _PASSWORD secrets. */
static void gh_login(struct strbuf *out, const char *registry, const char *cond)
{
	int ghcr = !strcmp(registry, "ghcr.io");

	strbuf_addstr(out, "      - name: Log in to the registry\n");
	if (cond)
		strbuf_addf(out, "        if: %s\n", cond);
	strbuf_addstr(out, "        uses: docker/login-action@v3\n"
			   "        with:\n"
			   "          registry: ${{ env.GPUSLIM_REGISTRY }}\n");
	if (ghcr)
		strbuf_addstr(out, "          username: ${{ github.actor }}\n"
				   "          password: ${{ secrets.GITHUB_TOKEN }}\n");
	else
		strbuf_addstr(out,
			      "          username: ${{ secrets.GPUSLIM_REGISTRY_USER }}\n"
			      "          password: ${{ secrets.GPUSLIM_REGISTRY_PASSWORD }}\n");
}

/* Pushing (staging, release) happens on a schedule or a manual run of the
 * default branch, never for a pull request (a fork has no secrets). */
#define GH_RELEASE_COND                                                                            \
	"github.event_name != 'pull_request' && github.ref == format('refs/heads/{0}', "           \
	"github.event.repository.default_branch)"

int ci_render_github(const struct plan *p, const struct ci_opts *o, struct strbuf *out)
{
	char *registry;

	if (!p->cells_nr)
		return error_setc(GS_EINVAL, "the recipe has no cells to build");
	registry = ci_registry_host(p);
	ci_header(out, "github", o);
	strbuf_addstr(out, "name: ");
	{
		char *name = xstrfmt("gpuslim %s", p->recipe->name.v);

		ci_yaml_quote(out, name);
		free(name);
	}
	strbuf_addstr(out, "\n\non:\n  schedule:\n    - cron: ");
	ci_yaml_quote(out, o->cron);
	strbuf_addstr(out, "\n  pull_request:\n  workflow_dispatch:\n\n");
	strbuf_addstr(out, "permissions:\n  contents: read\n");
	if (registry && !strcmp(registry, "ghcr.io"))
		strbuf_addstr(out, "  packages: write\n");
	if (o->code_scanning)
		strbuf_addstr(out, "  security-events: write\n");
	strbuf_addstr(out, "\n# One run per branch at a time; a newer push to a pull request "
			   "cancels the older run.\n"
			   "concurrency:\n"
			   "  group: gpuslim-${{ github.workflow }}-${{ github.ref }}\n"
			   "  cancel-in-progress: ${{ github.event_name == 'pull_request' }}\n\n");
	strbuf_addstr(out, "env:\n");
	ci_env(out, "  ", o, registry);

	/* plan */
	strbuf_addstr(out, "\njobs:\n  plan:\n    runs-on: ");
	ci_yaml_quote(out, o->runs_on ? o->runs_on : "ubuntu-latest");
	strbuf_addstr(out, "\n    outputs:\n"
			   "      matrix: ${{ steps.plan.outputs.matrix }}\n"
			   "    steps:\n");
	gh_checkout_install(out, o);
	strbuf_addstr(out, "      - name: Plan the matrix\n"
			   "        id: plan\n"
			   "        run: |\n"
			   "          matrix=$(gpuslim plan \"$GPUSLIM_RECIPE\" --ci-matrix)\n"
			   "          echo \"matrix=$matrix\" >> \"$GITHUB_OUTPUT\"\n");

	/* build: one job per cell */
	strbuf_addstr(out, "\n  build:\n"
			   "    needs: plan\n"
			   "    name: build ${{ matrix.cell }}\n"
			   "    runs-on: ");
	ci_yaml_quote(out, o->runs_on ? o->runs_on : "ubuntu-latest");
	strbuf_addstr(out, "\n    strategy:\n"
			   "      fail-fast: false\n"
			   "      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}\n"
			   "    env:\n"
			   "      CELL: ${{ matrix.cell }}\n"
			   "      GPUSLIM_PUSH: ${{ " GH_RELEASE_COND " }}\n"
			   "    steps:\n");
	gh_checkout_install(out, o);
	strbuf_addstr(out, "      - name: Set up Docker Buildx (cache export)\n"
			   "        uses: docker/setup-buildx-action@v3\n");
	if (registry)
		gh_login(out, registry, "env.GPUSLIM_PUSH == 'true'");
	strbuf_addstr(out, "      - name: Restore the BuildKit cache (for output.cache local)\n"
			   "        uses: actions/cache@v4\n"
			   "        with:\n"
			   "          path: ${{ runner.temp }}/gpuslim-build/cache\n"
			   "          key: gpuslim-${{ matrix.cell }}-${{ hashFiles(");
	ci_expr_quote(out, o->recipe);
	if (o->lock) {
		strbuf_addstr(out, ", ");
		ci_expr_quote(out, o->lock);
	}
	strbuf_addstr(out, ") }}-${{ github.run_id }}\n"
			   "          restore-keys: |\n"
			   "            gpuslim-${{ matrix.cell }}-${{ hashFiles(");
	ci_expr_quote(out, o->recipe);
	if (o->lock) {
		strbuf_addstr(out, ", ");
		ci_expr_quote(out, o->lock);
	}
	strbuf_addstr(out, ") }}-\n"
			   "            gpuslim-${{ matrix.cell }}-\n");
	strbuf_addstr(out, "      - name: Build and gate the cell\n"
			   "        run: |\n"
			   "          mkdir -p reports\n"
			   "          set -- --json \"reports/$CELL.json\" --junit "
			   "\"reports/$CELL.xml\"\n"
			   "          set -- \"$@\" --markdown \"reports/$CELL.md\" --sarif "
			   "\"reports/$CELL.sarif\"\n");
	if (registry)
		strbuf_addstr(out, "          # staged as <tag>-<stage>; the release job "
				   "promotes every cell or none\n"
				   "          if [ \"$GPUSLIM_PUSH\" = true ]; then\n"
				   "            set -- \"$@\" --push --stage "
				   "\"ci-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT\"\n"
				   "          fi\n");
	strbuf_addstr(out,
		      "          gpuslim build \"$GPUSLIM_RECIPE\" --cell \"$CELL\" -o "
		      "\"$RUNNER_TEMP/gpuslim-build\" \"$@\"\n"
		      "      - name: Summary\n"
		      "        if: always()\n"
		      "        run: |\n"
		      "          if [ -f \"reports/$CELL.md\" ]; then cat \"reports/$CELL.md\" "
		      ">> \"$GITHUB_STEP_SUMMARY\"; fi\n"
		      "      - name: Upload the reports\n"
		      "        if: always()\n"
		      "        uses: actions/upload-artifact@v4\n"
		      "        with:\n"
		      "          name: gpuslim-report-${{ matrix.cell }}\n"
		      "          path: reports/\n"
		      "          if-no-files-found: warn\n");
	if (o->code_scanning)
		/* A pull request from a fork gets no security-events token. */
		strbuf_addstr(
		    out, "      - name: Upload the findings to code scanning\n"
			 "        if: always() && hashFiles(format('reports/{0}.sarif', "
			 "matrix.cell)) != '' "
			 "&& (github.event_name != 'pull_request' || "
			 "github.event.pull_request.head.repo.full_name == github.repository)\n"
			 "        uses: github/codeql-action/upload-sarif@v3\n"
			 "        with:\n"
			 "          sarif_file: reports/${{ matrix.cell }}.sarif\n"
			 "          category: gpuslim-${{ matrix.cell }}\n");

	if (!registry) {
		strbuf_addstr(out, "\n# The recipe names no `image`: nothing is pushed, so there "
				   "is no release job.\n");
		goto done;
	}
	/* release: all or nothing */
	strbuf_addstr(out, "\n  release:\n"
			   "    # Runs only when every build job passed (the default `success()` "
			   "of `needs`).\n"
			   "    needs: [plan, build]\n"
			   "    if: " GH_RELEASE_COND "\n"
			   "    runs-on: ");
	ci_yaml_quote(out, o->runs_on ? o->runs_on : "ubuntu-latest");
	strbuf_addstr(out, "\n    steps:\n");
	gh_checkout_install(out, o);
	gh_login(out, registry, NULL);
	strbuf_addstr(out, "      - name: Download the reports\n"
			   "        uses: actions/download-artifact@v4\n"
			   "        with:\n"
			   "          pattern: gpuslim-report-*\n"
			   "          path: reports\n"
			   "          merge-multiple: true\n"
			   "      - name: Merge the reports\n"
			   "        run: |\n"
			   "          gpuslim report merge reports/*.json --json merged.json "
			   "--junit merged.xml --markdown merged.md\n"
			   "          cat merged.md >> \"$GITHUB_STEP_SUMMARY\"\n"
			   "      - name: Promote the staged images (all or nothing)\n"
			   "        run: gpuslim report promote merged.json\n"
			   "      - name: Upload the merged report\n"
			   "        if: always()\n"
			   "        uses: actions/upload-artifact@v4\n"
			   "        with:\n"
			   "          name: gpuslim-release-report\n"
			   "          path: |\n"
			   "            merged.json\n"
			   "            merged.xml\n"
			   "            merged.md\n"
			   "          if-no-files-found: warn\n");
done:
	free(registry);
	return 0;
}

/* ---- GitLab CI ----------------------------------------------------------- */

/* A pipeline that may push: a schedule or a manual ("web") run of the
 * default branch. */
#define GL_RELEASE_RULE                                                                            \
	"($CI_PIPELINE_SOURCE == \"schedule\" || $CI_PIPELINE_SOURCE == \"web\") && "              \
	"$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"

static void gl_before_script(struct strbuf *out, const struct ci_opts *o, const char *registry)
{
	strbuf_addstr(out, "  before_script:\n");
	strbuf_addstr(out, "    - apt-get update -qq && apt-get install -y -qq "
			   "--no-install-recommends docker.io git ca-certificates\n");
	{
		struct strbuf sb = STRBUF_INIT;

		ci_install_lines(&sb, "", "", o);
		for (char *line = sb.buf; *line;) {
			char *nl = strchr(line, '\n');

			*nl = '\0';
			/* apt-get update ran above */
			if (!strstr(line, "apt-get update")) {
				strbuf_addstr(out, "    - ");
				ci_yaml_quote(out, line);
				strbuf_addch(out, '\n');
			}
			line = nl + 1;
		}
		strbuf_release(&sb);
	}
	if (registry)
		strbuf_addstr(out, "    - 'if [ -n \"${GPUSLIM_REGISTRY_PASSWORD:-}\" ]; then "
				   "printf \"%s\" \"$GPUSLIM_REGISTRY_PASSWORD\" | docker login "
				   "--username \"$GPUSLIM_REGISTRY_USER\" --password-stdin "
				   "\"$GPUSLIM_REGISTRY\"; fi'\n");
}

int ci_render_gitlab(const struct plan *p, const struct ci_opts *o, struct strbuf *out)
{
	char *registry;

	if (!p->cells_nr)
		return error_setc(GS_EINVAL, "the recipe has no cells to build");
	if (p->cells_nr > CI_GITLAB_MAX_JOBS)
		return error_setc(GS_EINVAL,
				  "the recipe has %zu cells; GitLab runs at most %d jobs from "
				  "one parallel:matrix",
				  p->cells_nr, CI_GITLAB_MAX_JOBS);
	registry = ci_registry_host(p);
	ci_header(out, "gitlab", o);
	strbuf_addf(out,
		    "#\n# GitLab takes schedules from the project's settings, not from this "
		    "file:\n# create one under Build > Pipeline schedules with the cron "
		    "\"%s\"\n# (UTC) on the default branch.%s\n\n",
		    o->cron,
		    registry ? "\n# Set GPUSLIM_REGISTRY_USER and GPUSLIM_REGISTRY_PASSWORD "
			       "(masked) as CI/CD variables\n# to push."
			     : "");
	strbuf_addstr(out, "stages:\n  - build\n  - release\n\n");
	strbuf_addstr(out, "workflow:\n  rules:\n"
			   "    - if: $CI_PIPELINE_SOURCE == \"schedule\"\n"
			   "    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"\n"
			   "    - if: $CI_PIPELINE_SOURCE == \"web\"\n\n");
	strbuf_addstr(out, "variables:\n");
	ci_env(out, "  ", o, registry);
	strbuf_addstr(out, "  DOCKER_HOST: \"tcp://docker:2375\"\n"
			   "  DOCKER_TLS_CERTDIR: \"\"\n"
			   "  GPUSLIM_STAGE: \"ci-$CI_PIPELINE_ID\"\n\n");

	strbuf_addstr(out, "build:\n  stage: build\n  image: debian:12\n"
			   "  services:\n    - docker:27-dind\n");
	gl_before_script(out, o, registry);
	strbuf_addstr(out, "  parallel:\n    matrix:\n      - CELL:\n");
	for (size_t i = 0; i < p->cells_nr; i++) {
		strbuf_addstr(out, "          - ");
		ci_yaml_quote(out, p->cells[i].id);
		strbuf_addch(out, '\n');
	}
	strbuf_addstr(out,
		      "  script:\n"
		      "    - mkdir -p reports\n"
		      "    - set -- --json \"reports/$CELL.json\" --junit \"reports/$CELL.xml\" "
		      "--markdown \"reports/$CELL.md\" --sarif \"reports/$CELL.sarif\"\n");
	if (registry)
		strbuf_addstr(out, "    - 'if [ \"$CI_PIPELINE_SOURCE\" != merge_request_event ] "
				   "&& [ \"$CI_COMMIT_BRANCH\" = \"$CI_DEFAULT_BRANCH\" ]; then "
				   "set -- \"$@\" --push --stage \"$GPUSLIM_STAGE\"; fi'\n");
	/* The default build directory, beside the recipe: GitLab caches only
	 * paths inside the project, and the generated .dockerignore keeps it out
	 * of the build context. */
	strbuf_addstr(out, "    - gpuslim build \"$GPUSLIM_RECIPE\" --cell \"$CELL\" \"$@\"\n"
			   "  interruptible: true\n"
			   "  cache:\n"
			   "    key: gpuslim-$CELL\n"
			   "    paths:\n"
			   "      - ");
	{
		const char *slash = strrchr(o->recipe, '/');
		struct strbuf cache = STRBUF_INIT;

		if (slash)
			strbuf_add(&cache, o->recipe, (size_t)(slash - o->recipe + 1));
		strbuf_addstr(&cache, ".gpuslim/build/cache/");
		ci_yaml_quote(out, cache.buf);
		strbuf_release(&cache);
	}
	strbuf_addstr(out, "\n"
			   "  artifacts:\n"
			   "    when: always\n"
			   "    paths:\n"
			   "      - reports/\n"
			   "    reports:\n"
			   "      junit: reports/$CELL.xml\n\n");
	if (!registry) {
		strbuf_addstr(out, "# The recipe names no `image`: nothing is pushed, so there "
				   "is no release job.\n");
		goto done;
	}
	strbuf_addstr(out, "release:\n  stage: release\n  image: debian:12\n"
			   "  services:\n    - docker:27-dind\n"
			   "  # every build job must have passed: a later stage runs only then\n"
			   "  needs:\n    - job: build\n      artifacts: true\n"
			   "  rules:\n    - if: '" GL_RELEASE_RULE "'\n");
	gl_before_script(out, o, registry);
	strbuf_addstr(out, "  script:\n"
			   "    - gpuslim report merge reports/*.json --json merged.json --junit "
			   "merged.xml --markdown merged.md\n"
			   "    - gpuslim report promote merged.json\n"
			   "  artifacts:\n"
			   "    when: always\n"
			   "    paths:\n"
			   "      - merged.json\n"
			   "      - merged.xml\n"
			   "      - merged.md\n"
			   "    reports:\n"
			   "      junit: merged.xml\n");
done:
	free(registry);
	return 0;
}
