/*
 * A unit test binary that misbehaves on purpose, for the runner's own test
 * (tests/run.sh, group runner): its name, test_CASE, picks what it does.
 *
 *   test_good       two checks pass, exit 0
 *   test_fail       one check passes, one fails, exit 1
 *   test_exit99     two checks pass, then exit 99 (valgrind's --error-exitcode)
 *   test_crash      one check passes, the summary, then SIGSEGV
 *   test_nosummary  one check passes, exit 0 without the summary line
 *   test_skip       one check passes, one is skipped, exit 0
 */
#include <signal.h>
#include <stdlib.h>

#include "unit.h"

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *c = strncmp(name, "test_", 5) ? "" : name + 5;

	(void)argc;
	CHECK(1, "the first check");
	if (!strcmp(c, "good") || !strcmp(c, "exit99"))
		CHECK(1, "the second check");
	else if (!strcmp(c, "fail"))
		CHECK(0, "a check that fails");
	else if (!strcmp(c, "skip"))
		SKIP("a check that cannot run here");
	else if (!strcmp(c, "nosummary"))
		return 0;
	else if (strcmp(c, "crash"))
		CHECK(0, "unknown case '%s'", c);
	if (!strcmp(c, "exit99")) {
		unit_done();
		return 99;
	}
	if (!strcmp(c, "crash")) {
		unit_done();
		fflush(stdout);
		raise(SIGSEGV);
	}
	return unit_done();
}
