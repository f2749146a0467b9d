#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/strbuf.h"

static int is_positional(const struct cli_opt *o)
{
	return o->type == CLI_OPT_ARG || o->type == CLI_OPT_ARGS;
}

static const struct cli_opt *find_long(const struct cli_opt *spec, const char *name, size_t len)
{
	for (const struct cli_opt *o = spec; o->name; o++)
		if (!is_positional(o) && strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
	return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *spec, char c)
{
	for (const struct cli_opt *o = spec; o->name; o++)
		if (!is_positional(o) && o->alias == c)
			return o;
	return NULL;
}

static int usage_error(const struct cli_cmd *cmd, const struct cli_opt *spec, const char *fmt, ...)
    GS_FMT(3, 4);

static int usage_error(const struct cli_cmd *cmd, const struct cli_opt *spec, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gpuslim %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	cli_usage(stderr, cmd, spec);
	return EXIT_USAGE;
}

static void set_value(const struct cli_opt *o, const char *v)
{
	if (o->type == CLI_OPT_LIST)
		vec_pushstr((struct vec *)o->value, v);
	else
		*(const char **)o->value = v;
}

int cli_parse(const struct cli_cmd *cmd, const struct cli_opt *spec, int argc, char **argv)
{
	const struct cli_opt *next_arg = spec;
	int only_args = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct cli_opt *o = NULL;
		const char *inline_value = NULL;

		if (!only_args && !strcmp(a, "--")) {
			only_args = 1;
			continue;
		}
		if (!only_args && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			cli_usage(stdout, cmd, spec);
			cli_finish_stdout(0);
			return -1;
		}
		if (!only_args && a[0] == '-' && a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

			o = find_long(spec, a + 2, len);
			if (!o)
				return usage_error(cmd, spec, "unknown option '%s'", a);
			if (eq)
				inline_value = eq + 1;
		} else if (!only_args && a[0] == '-' && a[1]) {
			o = find_short(spec, a[1]);
			if (!o)
				return usage_error(cmd, spec, "unknown option '-%c'", a[1]);
			/* -j2: a short option's value may follow the letter */
			if (a[2]) {
				if (o->type == CLI_OPT_SWITCH)
					return usage_error(cmd, spec, "unknown option '%s'", a);
				inline_value = a + 2;
			}
		}

		if (!o) {
			while (next_arg->name && next_arg->type != CLI_OPT_ARG &&
			       next_arg->type != CLI_OPT_ARGS)
				next_arg++;
			if (!next_arg->name)
				return usage_error(cmd, spec, "unexpected argument '%s'", a);
			if (next_arg->type == CLI_OPT_ARGS) {
				vec_pushstr((struct vec *)next_arg->value, a);
				continue;
			}
			*(const char **)next_arg->value = a;
			next_arg++;
			continue;
		}
		if (o->type == CLI_OPT_SWITCH) {
			if (inline_value)
				return usage_error(cmd, spec, "option '--%s' takes no value",
						   o->name);
			*(int *)o->value = 1;
			continue;
		}
		if (!inline_value) {
			if (i + 1 >= argc)
				return usage_error(cmd, spec, "option '--%s' needs a value",
						   o->name);
			inline_value = argv[++i];
		}
		set_value(o, inline_value);
	}
	for (const struct cli_opt *o = spec; o->name; o++)
		if ((o->flags & CLI_REQUIRED) && o->type == CLI_OPT_ARG &&
		    !*(const char **)o->value)
			return usage_error(cmd, spec, "missing argument %s",
					   o->value_name ? o->value_name : o->name);
		else if ((o->flags & CLI_REQUIRED) && o->type == CLI_OPT_VALUE &&
			 !*(const char **)o->value)
			return usage_error(cmd, spec, "missing option --%s", o->name);
	return 0;
}

void cli_usage(FILE *out, const struct cli_cmd *cmd, const struct cli_opt *spec)
{
	struct strbuf line = STRBUF_INIT;

	fprintf(out, "usage: gpuslim %s [options]", cmd->name);
	for (const struct cli_opt *o = spec; o->name; o++)
		if (o->type == CLI_OPT_ARG)
			fprintf(out, (o->flags & CLI_REQUIRED) ? " %s" : " [%s]",
				o->value_name ? o->value_name : o->name);
		else if (o->type == CLI_OPT_ARGS)
			fprintf(out, " [%s...]", o->value_name ? o->value_name : o->name);
	fprintf(out, "\n\n%s.\n\noptions:\n", cmd->summary);
	for (const struct cli_opt *o = spec; o->name; o++) {
		strbuf_reset(&line);
		if (is_positional(o))
			strbuf_addf(&line, "%s", o->value_name ? o->value_name : o->name);
		else if (o->alias)
			strbuf_addf(&line, "-%c, --%s", o->alias, o->name);
		else
			strbuf_addf(&line, "    --%s", o->name);
		if (o->type == CLI_OPT_VALUE || o->type == CLI_OPT_LIST)
			strbuf_addf(&line, " %s", o->value_name ? o->value_name : "VALUE");
		fprintf(out, "  %-28s %s%s\n", line.buf, o->help,
			o->type == CLI_OPT_LIST ? " (repeatable)" : "");
	}
	fprintf(out, "  %-28s %s\n", "-h, --help", "show this help");
	if (cmd->usage_tail)
		fprintf(out, "\n%s", cmd->usage_tail);
	strbuf_release(&line);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gpuslim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_error_last(void)
{
	cli_error("%s", error_last());
}

void cli_print_diags(const struct vec *diags)
{
	if (!diags->nr)
		cli_error_last();
	for (size_t i = 0; i < diags->nr; i++)
		fprintf(stderr, "%s\n", (const char *)diags->items[i]);
}

int cli_exit_for(int core_ret)
{
	switch (core_ret) {
	case 0:
		return EXIT_OK;
	case GS_EINFRA:
		return EXIT_INFRA;
	case GS_EINVAL:
	case GS_ENOTFOUND:
		return EXIT_USAGE;
	default:
		return EXIT_FAILED;
	}
}

int cli_parse_number(const char *opt, const char *arg, long min, long max, long *out)
{
	char *end;
	long v;

	/* strtol() alone would take " 2" (leading blanks) and "+2", but not "2 " */
	errno = 0;
	v = arg[0] >= '0' && arg[0] <= '9' ? strtol(arg, &end, 10) : 0;
	if (arg[0] < '0' || arg[0] > '9' || errno || *end || v < min || v > max) {
		cli_error("%s wants a number from %ld to %ld, not '%s'", opt, min, max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_parse_top(const char *arg, size_t *top)
{
	long v;

	*top = 0;
	if (!arg)
		return 0;
	if (cli_parse_number("--top", arg, 1, 100000, &v) < 0)
		return -1;
	*top = (size_t)v;
	return 0;
}

int cli_term_redraws(int fd)
{
	const char *term = getenv("TERM");

	return isatty(fd) && term && *term && strcmp(term, "dumb");
}

static void on_signal_exit(int sig)
{
	static const char intr[] = "gpuslim: interrupted by SIGINT\n",
			  term[] = "gpuslim: interrupted by SIGTERM\n",
			  hup[] = "gpuslim: interrupted by SIGHUP\n";
	const char *msg = sig == SIGINT ? intr : sig == SIGTERM ? term : hup;
	size_t len = sig == SIGINT ? sizeof(intr) : sig == SIGTERM ? sizeof(term) : sizeof(hup);
	ssize_t n = write(STDERR_FILENO, msg, len - 1);

	(void)n;
	_exit(EXIT_INTERRUPTED);
}

void cli_signals_exit(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal_exit;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
}

const char *cli_signal_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	case SIGQUIT:
		return "SIGQUIT";
	}
	return "a signal";
}

int cli_interrupted(int sig)
{
	cli_error("interrupted by %s", cli_signal_name(sig));
	return EXIT_INTERRUPTED;
}

int cli_finish_stdout(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			cli_error("cannot write to standard output: %s", strerror(errno));
		return code ? code : EXIT_INFRA;
	}
	if (fclose(stdout) != 0) {
		if (errno != EPIPE)
			cli_error("cannot write to standard output: %s", strerror(errno));
		return code ? code : EXIT_INFRA;
	}
	return code;
}
