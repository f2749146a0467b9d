#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/knowledge.h"
#include "core/refresh.h"
#include "util/fs.h"
#include "util/strbuf.h"

/*
 * knowledge refresh: rebuild cuda.json, bases.json and frameworks.json from
 * a CUDA base repository's tags and image configs and a PyTorch wheel index
 * (core/refresh.h), then write them (temp name + rename) or show the diff.
 */

static const char *registry = "docker.io";
static const char *repository = "nvidia/cuda";
static const char *index_url = "https://download.pytorch.org/whl";
static struct vec variants = VEC_INIT(free);
static const char *in_dir;
static const char *out_dir;
static const char *now_arg;
static int no_cuda, no_frameworks, releases, no_releases, show_diff, dry_run;
static const char *action;

static const struct cli_opt refresh_opts[] = {
    {CLI_OPT_ARG, "action", 0, &action, "refresh", "what to do: refresh", CLI_REQUIRED},
    {CLI_OPT_VALUE, "registry", 0, &registry, "HOST",
     "the registry of the CUDA base repository (default docker.io)", 0},
    {CLI_OPT_VALUE, "repository", 0, &repository, "REPO",
     "the CUDA base repository (default nvidia/cuda)", 0},
    {CLI_OPT_SWITCH, "releases", 0, &releases, NULL,
     "update cuda.json's known releases from this repository's image configs (the default "
     "for nvidia/cuda; other repositories only add releases cuda.json lacks)",
     0},
    {CLI_OPT_SWITCH, "no-releases", 0, &no_releases, NULL,
     "leave cuda.json's known releases as they are", 0},
    {CLI_OPT_VALUE, "index", 0, &index_url, "URL",
     "the framework wheel index whose URL/cuXYZ/torch/ pages are read (default "
     "https://download.pytorch.org/whl)",
     0},
    {CLI_OPT_LIST, "variant", 0, &variants, "cuXYZ",
     "read only this variant's pages (default: every CUDA minor cuda.json knows "
     "and every variant frameworks.json names)",
     0},
    {CLI_OPT_SWITCH, "no-cuda", 0, &no_cuda, NULL, "leave cuda.json and bases.json alone", 0},
    {CLI_OPT_SWITCH, "no-frameworks", 0, &no_frameworks, NULL, "leave frameworks.json alone", 0},
    {CLI_OPT_VALUE, "plugins", 0, &in_dir, "DIR",
     "the plugin directory read (default: the built-in one)", 0},
    {CLI_OPT_VALUE, "out", 'o', &out_dir, "DIR",
     "write the files there (default: the directory read)", 0},
    {CLI_OPT_SWITCH, "diff", 0, &show_diff, NULL, "print what changed, as a line diff", 0},
    {CLI_OPT_SWITCH, "dry-run", 'n', &dry_run, NULL, "write nothing", 0},
    {CLI_OPT_VALUE, "now", 0, &now_arg, "TIME",
     "the refresh time written (RFC 3339 UTC; default $SOURCE_DATE_EPOCH, else now)", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

static int refresh_now(char *buf, size_t n)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = time(NULL);
	struct tm tm;

	if (now_arg) {
		if (strlen(now_arg) != 20 || now_arg[4] != '-' || now_arg[10] != 'T' ||
		    now_arg[19] != 'Z') {
			cli_error("--now wants a UTC time like 2026-12-03T12:00:00Z, not '%s'",
				  now_arg);
			return -1;
		}
		snprintf(buf, n, "%s", now_arg);
		return 0;
	}
	if (sde && *sde) {
		long v;

		if (cli_parse_number("SOURCE_DATE_EPOCH", sde, 0, 253402300799L, &v))
			return -1;
		t = (time_t)v;
	}
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return 0;
}

/*
 * The refreshed files must load with the others (os.json names the OSes
 * bases.json may use, cuda.json the releases): the built-in directory, then
 * the one read, then the three new files in a scratch directory, as plan
 * would load them. Nothing is written when they do not.
 */
static int refresh_check_loads(const char *dir, const struct refresh_result *res)
{
	char tmpl[] = "/tmp/gpuslim-refresh-XXXXXX";
	char *tmp = mkdtemp(tmpl), *paths[3] = {NULL, NULL, NULL};
	struct vec dirs = VEC_INIT(NULL);
	struct knowledge *kb = NULL;
	int ret = 0;

	if (!tmp) {
		cli_error("cannot make a scratch directory: %s", strerror(errno));
		return EXIT_INFRA;
	}
	for (size_t i = 0; i < 3 && !ret; i++) {
		if (!res->files[i].new.len)
			continue; /* neither read nor refreshed */
		paths[i] = fs_join(tmp, res->files[i].name);
		if (fs_write_atomic(paths[i], res->files[i].new.buf ? res->files[i].new.buf : "",
				    res->files[i].new.len) < 0)
			ret = -1;
	}
	if (ret) {
		cli_error_last();
		ret = EXIT_INFRA;
		goto done;
	}
	if (strcmp(dir, knowledge_builtin_dir()))
		vec_push(&dirs, (void *)knowledge_builtin_dir());
	vec_push(&dirs, (void *)dir);
	vec_push(&dirs, tmp);
	if (knowledge_load_dirs(&kb, &dirs) < 0) {
		cli_error("the refreshed tables do not load (nothing written): %s", error_last());
		ret = EXIT_USAGE;
	}
	knowledge_free(kb);
done:
	for (size_t i = 0; i < 3; i++) {
		if (paths[i])
			unlink(paths[i]);
		free(paths[i]);
	}
	rmdir(tmp);
	vec_release(&dirs);
	return ret;
}

int cmd_knowledge(int argc, char **argv)
{
	struct refresh_opts o = {0};
	struct refresh_result res;
	struct strbuf diff = STRBUF_INIT;
	char now[32];
	const char *dir;
	int ret, code = EXIT_OK, changed = 0;

	ret = cli_parse(cli_find_cmd("knowledge"), refresh_opts, argc, argv);
	if (ret) {
		vec_release(&variants);
		return ret < 0 ? EXIT_OK : ret;
	}
	if (strcmp(action, "refresh")) {
		fprintf(stderr, "gpuslim knowledge: unknown action '%s'; known: refresh\n", action);
		vec_release(&variants);
		return EXIT_USAGE;
	}
	if (releases && no_releases) {
		fprintf(stderr, "gpuslim knowledge: --releases and --no-releases exclude each "
				"other\n");
		vec_release(&variants);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < variants.nr; i++) {
		const char *v = variants.items[i];

		if (!starts_with(v, "cu") || strlen(v) < 4 || strspn(v + 2, "0123456789") != strlen(v + 2)) {
			fprintf(stderr, "gpuslim knowledge: --variant wants a CUDA wheel variant like "
					"cu130, not '%s'\n", v);
			vec_release(&variants);
			return EXIT_USAGE;
		}
	}
	if (refresh_now(now, sizeof(now))) {
		vec_release(&variants);
		return EXIT_USAGE;
	}
	dir = in_dir ? in_dir : knowledge_builtin_dir();
	o.registry = registry;
	o.repository = no_cuda ? NULL : repository;
	o.releases = releases || (!no_releases && !strcmp(repository, "nvidia/cuda"));
	o.index_url = no_frameworks ? NULL : index_url;
	o.variants = variants;
	o.now = now;
	ret = knowledge_refresh(dir, &o, &res);
	for (size_t i = 0; i < res.notes.nr; i++)
		fprintf(stderr, "gpuslim knowledge: %s\n", (const char *)res.notes.items[i]);
	if (ret < 0) {
		cli_error_last();
		code = cli_exit_for(ret);
		goto done;
	}
	if ((code = refresh_check_loads(dir, &res)) != EXIT_OK)
		goto done;
	for (size_t i = 0; i < 3; i++) {
		struct refresh_file *f = &res.files[i];
		const char *to = out_dir ? out_dir : dir;
		/* Written to another directory, every file lands there. */
		int write =
		    !dry_run && f->refreshed && (f->changed || (out_dir && strcmp(out_dir, dir)));

		if (!f->refreshed)
			continue;
		if (show_diff)
			refresh_diff(f->name, &f->old, &f->new, &diff);
		changed |= f->changed;
		if (write) {
			char *path = fs_join(to, f->name);

			if (fs_mkdir_p(to, 0777) < 0 ||
			    fs_write_atomic(path, f->new.buf, f->new.len) < 0) {
				cli_error_last();
				free(path);
				code = EXIT_INFRA;
				goto done;
			}
			free(path);
		}
		fprintf(stderr, "gpuslim knowledge: %s %s%s\n", f->name,
			f->changed ? "changed" : "unchanged",
			write			? " (written)"
			: dry_run && f->changed ? " (not written: --dry-run)"
						: "");
	}
	if (show_diff)
		fwrite(diff.buf ? diff.buf : "", 1, diff.len, stdout);
	(void)changed;
done:
	refresh_result_release(&res);
	strbuf_release(&diff);
	vec_release(&variants);
	return cli_finish_stdout(code);
}
