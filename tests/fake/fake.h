#ifndef GS_TEST_FAKE_H
#define GS_TEST_FAKE_H
/*
 * Test helpers around tests/fake/fake_child.c: fake_build() compiles it (with
 * $CC, default cc) into a temporary directory through the process API itself,
 * fake_cleanup() removes it. pid_alive() tells a live process from a dead or
 * zombie one (a killed orphan stays a zombie until its reaper collects it).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/process.h"

static char fake_dir[64];
static char fake_path[128];

/* Where fake_child.c is: $GS_SRCDIR, else next to this header as compiled
 * (a path relative to the repository root, where tests run), else two
 * levels above the test binary (build/tests/test_x). */
static void fake_source(struct strbuf *src)
{
	const char *root = getenv("GS_SRCDIR");
	const char *file = __FILE__, *slash = strrchr(file, '/');
	char exe[4096];
	ssize_t n;

	if (root && *root) {
		strbuf_addf(src, "%s/tests/fake/fake_child.c", root);
		return;
	}
	strbuf_add(src, file, slash ? (size_t)(slash - file + 1) : 0);
	strbuf_addstr(src, "fake_child.c");
	if (!access(src->buf, R_OK))
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 3 && strrchr(exe, '/'); up++)
			*strrchr(exe, '/') = '\0';
		strbuf_reset(src);
		strbuf_addf(src, "%s/tests/fake/fake_child.c", exe);
	}
}

static const char *fake_build(void)
{
	struct process p;
	struct process_result res;
	struct strbuf src = STRBUF_INIT;
	const char *cc = getenv("CC");
	int ok;

	snprintf(fake_dir, sizeof(fake_dir), "/tmp/gs-fake-XXXXXX");
	if (!mkdtemp(fake_dir))
		return NULL;
	snprintf(fake_path, sizeof(fake_path), "%s/fake_child", fake_dir);
	fake_source(&src);

	process_init(&p);
	vec_pushstr(&p.argv, cc && *cc ? cc : "cc");
	vec_pushstr(&p.argv, "-O1");
	vec_pushstr(&p.argv, "-o");
	vec_pushstr(&p.argv, fake_path);
	vec_pushstr(&p.argv, src.buf);
	ok = process_run(&p, 60000, &res) == 0 && res.exited && res.exit_code == 0;
	if (!ok)
		fprintf(stderr,
			"# cannot build the fake child (run from the repository root "
			"or set GS_SRCDIR): %s%s\n",
			error_last(), p.out.buf);
	process_release(&p);
	strbuf_release(&src);
	if (!ok)
		rmdir(fake_dir);
	return ok ? fake_path : NULL;
}

static void fake_cleanup(void)
{
	if (fake_path[0])
		unlink(fake_path);
	if (fake_dir[0])
		rmdir(fake_dir);
}

static int pid_alive(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	const char *rp;
	int alive = 0;

	if (pid <= 0 || kill(pid, 0) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')) && rp[1] == ' ')
		alive = rp[2] != 'Z' && rp[2] != 'X';
	fclose(f);
	return alive;
}

/* The number after "key " in `text`, or -1. */
static long fake_field(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return atol(p + klen + 1);
	return -1;
}

/* 1 when this process has no child left to reap (none running, no zombie). */
static int no_children_left(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0;
}

#endif
