#ifndef GS_UNIT_H
#define GS_UNIT_H
/*
 * A minimal TAP-style harness for C unit tests. Each test binary prints
 * "ok N - what" / "not ok N - what" / "skip - why" lines and a final
 * "# N passed, N failed, N skipped"; tests/run.sh adds the counts up, and
 * counts a binary that exits nonzero (a crash, a sanitizer or valgrind
 * finding at exit) or prints no summary as one more failure. Exit status is
 * 1 when anything failed.
 */
#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed, unit_skipped;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			unit_passed++;                                                             \
			printf("ok %d - ", unit_passed + unit_failed);                             \
		} else {                                                                           \
			unit_failed++;                                                             \
			printf("not ok %d - %s:%d: ", unit_passed + unit_failed, __FILE__,         \
			       __LINE__);                                                          \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		putchar('\n');                                                                     \
	} while (0)

#define CHECK_STR(got, want, what)                                                                 \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		CHECK(g_ &&w_ ? !strcmp(g_, w_) : g_ == w_, "%s", what);                           \
		if (!(g_ && w_ ? !strcmp(g_, w_) : g_ == w_))                                      \
			printf("#   got:  '%s'\n#   want: '%s'\n", g_ ? g_ : "(null)",             \
			       w_ ? w_ : "(null)");                                                \
	} while (0)

/* A check that cannot run here (no zstd, no engine): said, and counted apart. */
#define SKIP(...)                                                                                  \
	do {                                                                                       \
		unit_skipped++;                                                                    \
		printf("skip - ");                                                                 \
		printf(__VA_ARGS__);                                                               \
		putchar('\n');                                                                     \
	} while (0)

static inline int unit_done(void)
{
	printf("# %d passed, %d failed, %d skipped\n", unit_passed, unit_failed, unit_skipped);
	return unit_failed ? 1 : 0;
}

#endif
