#ifndef GS_CLI_H
#define GS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "util/error.h"
#include "util/vec.h"

/* Exit codes, documented in the README. */
enum {
	EXIT_OK = 0,	 /* success, every gate passed */
	EXIT_FAILED = 1, /* a build or a gate failed */
	EXIT_USAGE = 2,	 /* bad usage or bad input (recipe, plugin, image) */
	EXIT_INFRA = 3,	 /* infrastructure: no engine, registry down, disk */
	EXIT_INTERRUPTED = 130,
};

enum cli_opt_type {
	CLI_OPT_SWITCH, /* --flag: sets *(int *)value to 1 */
	CLI_OPT_VALUE,	/* --name VALUE or --name=VALUE: sets *(const char **)value */
	CLI_OPT_LIST,	/* repeatable --name VALUE: pushes onto *(struct vec *)value */
	CLI_OPT_ARG,	/* a positional argument: sets *(const char **)value */
	CLI_OPT_ARGS,	/* the remaining positional arguments: pushes onto *(struct vec *)value */
};

enum {
	CLI_REQUIRED = 1,
};

/* One entry of a command's option table; the table drives parsing and --help.
 * The table ends with an entry whose type is CLI_OPT_SWITCH and name NULL. */
struct cli_opt {
	enum cli_opt_type type;
	const char *name; /* long name without dashes, or the ARG's name */
	char alias;	  /* short letter, 0 for none */
	void *value;
	const char *value_name; /* shown in help: --out DIR */
	const char *help;
	unsigned flags;
};

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage_tail; /* extra help text after the options, or NULL */
};

/* Parse argv (argv[0] is the command name) against `spec`. Returns 0, or
 * prints the problem and the usage to stderr and returns EXIT_USAGE; with
 * --help prints the usage to stdout and returns -1 (the caller exits 0). */
int cli_parse(const struct cli_cmd *cmd, const struct cli_opt *spec, int argc, char **argv);
void cli_usage(FILE *out, const struct cli_cmd *cmd, const struct cli_opt *spec);
const struct cli_cmd *cli_find_cmd(const char *name);

/* "gpuslim: <error_last()>" on stderr. */
void cli_error_last(void);
void cli_error(const char *fmt, ...) GS_FMT(1, 2);
/* Print each diagnostic (already "file:line:col: ..." formatted) to stderr;
 * with none, the last error: a failure that is not about one recipe value
 * (a file that cannot be read) leaves its message there instead. */
void cli_print_diags(const struct vec *diags);
/* Map a core return code to an exit code. */
int cli_exit_for(int core_ret);
/* Flush and close stdout, reporting a write error (full disk, closed pipe). */
int cli_finish_stdout(int code);

/* The commands, one file each. */
int cmd_validate(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_gate(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_ci(int argc, char **argv);
int cmd_knowledge(int argc, char **argv);

/* knowledge's exit codes and output, after its options in --help. */
#define KNOWLEDGE_USAGE_TAIL                                                                       \
	"'gpuslim knowledge refresh' reads the tags and image configs of the CUDA base\n"          \
	"repository and the torch pages of the wheel index, and rewrites cuda.json, bases.json\n"  \
	"and frameworks.json (sorted; unchanged upstream, unchanged bytes). exit codes: 0 done,\n" \
	"2 bad usage or a plugin file that does not parse, 3 registry or index unreachable.\n"

/*
 * The value of a numeric option: decimal digits only (no sign, no space
 * before or after), from `min` to `max`. Prints "OPT wants a number from
 * MIN to MAX, not 'ARG'" and returns -1 otherwise. Every numeric option
 * goes through it, so all refuse the same inputs with the same words.
 */
int cli_parse_number(const char *opt, const char *arg, long min, long max, long *out);
/* --top N (1..100000) into *top (0 when absent); prints the problem. */
int cli_parse_top(const char *arg, size_t *top);

/* 1 when `fd` is a terminal that takes cursor movements: not when TERM is
 * unset or "dumb" (an editor's shell, a CI log viewer). */
int cli_term_redraws(int fd);

/* main(): SIGINT, SIGTERM and SIGHUP end the process with "gpuslim:
 * interrupted by SIG..." and exit 130, as the README's table says. A
 * command that can stop its children cleanly installs util/signals.h's
 * handlers over these for that time (build, gate's smoke tests); signals
 * ignored on entry (nohup, a background job) stay ignored. */
void cli_signals_exit(void);
/* "SIGINT", "SIGTERM", "SIGHUP", else "a signal". */
const char *cli_signal_name(int sig);
/* "gpuslim: interrupted by SIGTERM" (after a clean stop), and 130. */
int cli_interrupted(int sig);

struct recipe;
/* The files a command writes its reports to, each NULL when not asked. */
struct cli_report_files {
	const char *junit;	     /* --junit FILE */
	const char *markdown;	     /* --markdown FILE */
	const char *markdown_append; /* --markdown-append FILE ($GITHUB_STEP_SUMMARY) */
	const char *sarif;	     /* --sarif FILE: the rule findings as SARIF 2.1.0 */
	/* --github-annotations / --no-github-annotations as given; the command
	 * turns them into `annotate` with cli_want_annotations(). */
	int github_annotations, no_github_annotations, annotate;
	/* The recipe (NULL: inspect), for SARIF locations and annotation lines. */
	const struct recipe *recipe;
	const char *html;	     /* --html FILE */
};

/* 1 when GitHub annotations are to be printed: --github-annotations, or
 * GITHUB_ACTIONS=true without --no-github-annotations. Sets f->annotate. */
int cli_want_annotations(struct cli_report_files *f);
/* `path` relative to the current directory (the repository's root in CI)
 * when it lies under it, else as given; newly allocated. */
char *cli_repo_path(const char *path);

/* Option-table entries for the report files of `f` (a struct cli_report_files). */
/* clang-format off */
#define CLI_OPT_JUNIT(f)                                                                \
	{CLI_OPT_VALUE, "junit", 0, &(f).junit, "FILE",                                 \
	 "write the gates as JUnit XML, one testcase per gate (\"-\": stdout)", 0}
#define CLI_OPTS_MARKDOWN(f)                                                            \
	{CLI_OPT_VALUE, "markdown", 0, &(f).markdown, "FILE",                           \
	 "write the report as Markdown (\"-\": stdout)", 0},                              \
	{CLI_OPT_VALUE, "markdown-append", 0, &(f).markdown_append, "FILE",             \
	 "append the Markdown report to FILE ($GITHUB_STEP_SUMMARY)", 0}
#define CLI_OPT_SARIF(f)                                                                \
	{CLI_OPT_VALUE, "sarif", 0, &(f).sarif, "FILE",                                 \
	 "write the rule findings as SARIF 2.1.0 (code scanning; \"-\": stdout)", 0}
#define CLI_OPTS_GITHUB_ANNOTATIONS(f)                                                  \
	{CLI_OPT_SWITCH, "github-annotations", 0, &(f).github_annotations, NULL,        \
	 "print ::error/::warning lines for failed and warned gates on stderr "         \
	 "(the default when GITHUB_ACTIONS=true)", 0},                                   \
	{CLI_OPT_SWITCH, "no-github-annotations", 0, &(f).no_github_annotations, NULL,  \
	 "no annotations, even under GITHUB_ACTIONS=true", 0}
#define CLI_OPT_HTML(f)                                                                 \
	{CLI_OPT_VALUE, "html", 0, &(f).html, "FILE",                                   \
	 "write the report as one self-contained HTML page (a matrix: FILE is an index, " \
	 "each cell's page beside it as FILE-CELL.html)", 0}
/* clang-format on */

struct report_item;
/* The JUnit, Markdown and HTML reports of `items` written to the files of
 * `f` (util/fs.h's fs_write_output(): "-" is stdout). 0, or -1 when a file
 * could not be written (said on stderr; the others still are). */
int cli_write_reports(const struct report_item *items, size_t n, size_t top,
		      const struct cli_report_files *f);
/* inspect's and gate's output for one image: the report as JSON
 * (`as_json`) or as text on stdout, then cli_write_reports(). */
int cli_print_report(const struct report_item *it, int as_json, size_t top,
		     const struct cli_report_files *f);

/* build's exit codes, after its options in --help. */
#define BUILD_USAGE_TAIL                                                                           \
	"exit codes: 0 every cell built, passed its gates (and was pushed), 1 a cell failed,\n"    \
	"was cancelled, failed a gate, or a push failed, 2 bad usage or input, 3 infrastructure\n" \
	"(no engine, registry down), 130 interrupted (every build stopped).\n"

/* gate's exit codes, after its options in --help. */
#define GATE_USAGE_TAIL                                                                            \
	"exit codes: 0 every gate passed (warnings and skips included), 1 a gate failed,\n"        \
	"2 bad usage or input (recipe, baseline, image that is not one), 3 infrastructure\n"       \
	"(no engine, registry down). A gpu smoke test without a GPU is \"skipped: no GPU\",\n"     \
	"never passed; --require-gpu makes it a failure.\n"

/* lock's exit codes, after its options in --help. */
#define LOCK_USAGE_TAIL                                                                            \
	"exit codes: 0 the lock was written (--check: it holds), 1 --check: the lock is missing\n" \
	"or stale, 2 bad usage or input (recipe, lock file, a pin nothing satisfies),\n"           \
	"3 infrastructure (a registry or an index cannot be reached, the file cannot be "          \
	"written).\n"

#define INSPECT_USAGE_TAIL                                                                         \
	"exit codes: 0 the image was analyzed, 2 bad usage or not an image, 3 the image\n"         \
	"cannot be reached (no engine, registry down).\n"

#define DIFF_USAGE_TAIL                                                                            \
	"A saved report (gpuslim inspect --json --sizemap) works as A or B; without its sizemap\n" \
	"the paths are not compared.\n"                                                            \
	"exit codes: 0 the difference was shown, 1 B grew more than --fail-on-growth allows,\n"    \
	"2 bad usage or input (an option, a report, an image that is not one), 3 an image\n"       \
	"cannot be reached (no engine, registry down).\n"

/* run's own exit codes, beside the command's (forwarded), as `docker run` has them. */
enum {
	RUN_EXIT_SELF = 125,	  /* run itself failed: usage, the image, the sandbox */
	RUN_EXIT_CANNOT = 126,	  /* the command cannot be run */
	RUN_EXIT_NOT_FOUND = 127, /* the command is not in the image */
};

#define RUN_USAGE_TAIL                                                                             \
	"The command follows '--': gpuslim run IMAGE -- ls -l /. It replaces the image's\n"        \
	"Entrypoint and Cmd; the image's Env, WorkingDir and User apply.\n"                        \
	"exit codes: the command's own; 125 run failed (usage, an image that cannot be read\n"     \
	"or unpacked, no sandbox, --gpu on without a driver), 126 the command cannot be run,\n"    \
	"127 it is not in the image, 128+N the command died of signal N, 130 interrupted\n"        \
	"(the command stopped, the tree removed).\n"

#define CI_USAGE_TAIL                                                                              \
	"The jobs call gpuslim plan --ci-matrix, build --cell --push --stage, report merge and\n"  \
	"report promote. exit codes: 0 the file was written, 2 bad usage or input (recipe,\n"      \
	"cron, a file gpuslim did not write), 3 the file cannot be written.\n"

#define GPUSLIM_VERSION "0.1.0"

#endif
