#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* The command table: name, entry point, one-line summary. */
static const struct cli_cmd commands[] = {
    {"validate", cmd_validate, "parse and check a recipe", NULL},
    {"plan", cmd_plan, "expand the matrix and resolve every version", NULL},
    {"lock", cmd_lock, "pin base images, wheels and git commits in gpuslim.lock", LOCK_USAGE_TAIL},
    {"generate", cmd_generate, "write the Dockerfiles, docker-bake.hcl and .dockerignore", NULL},
    {"build", cmd_build, "build every matrix cell into an image, in parallel", BUILD_USAGE_TAIL},
    {"inspect", cmd_inspect, "analyze an image: layers, packages, waste, CUDA, libraries",
     INSPECT_USAGE_TAIL},
    {"gate", cmd_gate, "hold an image to a recipe's budgets, rules and smoke tests",
     GATE_USAGE_TAIL},
    {"knowledge", cmd_knowledge, "refresh the knowledge plugins from a registry and a wheel index",
     KNOWLEDGE_USAGE_TAIL},
    {"diff", cmd_diff, "what changed between two images or saved reports, biggest first",
     DIFF_USAGE_TAIL},
    {"run", cmd_run, "run a command in an image's filesystem, without an engine", RUN_USAGE_TAIL},
    {"report", cmd_report, "merge a CI matrix's build reports; promote its staged images", NULL},
    {"ci", cmd_ci, "write a CI file: scheduled matrix, one job per cell, all-or-nothing release",
     CI_USAGE_TAIL},
    {NULL, NULL, NULL, NULL},
};

const struct cli_cmd *cli_find_cmd(const char *name)
{
	for (const struct cli_cmd *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void usage(FILE *out)
{
	fputs("usage: gpuslim <command> [options]\n\ncommands:\n", out);
	for (const struct cli_cmd *c = commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fputs("\n'gpuslim help <command>' or 'gpuslim <command> --help' shows a command's "
	      "options;\n'gpuslim -V' (--version) its version.\n"
	      "exit codes: 0 ok, 1 build or gate failed, 2 bad usage or input,\n"
	      "            3 infrastructure error, 130 interrupted\n",
	      out);
}

/* `gpuslim help [CMD]`: the usage, or CMD's own --help. */
static int help(int argc, char **argv)
{
	const struct cli_cmd *cmd;
	char *args[] = {NULL, "--help", NULL};

	if (argc < 3) {
		usage(stdout);
		return cli_finish_stdout(EXIT_OK);
	}
	cmd = cli_find_cmd(argv[2]);
	if (!cmd || argc > 3) {
		if (!cmd)
			fprintf(stderr, "gpuslim: '%s' is not a command\n\n", argv[2]);
		else
			fprintf(stderr, "gpuslim help: unexpected argument '%s'\n\n", argv[3]);
		usage(stderr);
		return EXIT_USAGE;
	}
	args[0] = argv[2];
	return cmd->fn(2, args);
}

int main(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	cli_signals_exit();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return help(argc, argv);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") ||
	    !strcmp(argv[1], "version")) {
		printf("gpuslim %s\n", GPUSLIM_VERSION);
		return cli_finish_stdout(EXIT_OK);
	}
	cmd = cli_find_cmd(argv[1]);
	if (!cmd) {
		fprintf(stderr, "gpuslim: '%s' is not a command\n\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return cmd->fn(argc - 1, argv + 1);
}
