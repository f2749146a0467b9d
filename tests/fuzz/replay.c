/* Replays files through a fuzz target: `fuzz_X-replay FILE|DIR...`. Each file
 * is one input; a crash (or, under valgrind, a memory error) is the failure.
 * Prints one TAP line per directory or file argument, then a summary line. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "util/fs.h"
#include "util/strbuf.h"

static size_t replay_file(const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	if (fs_read_file(path, &sb, 0) < 0) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		exit(2);
	}
	LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
	strbuf_release(&sb);
	return 1;
}

static size_t replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d) {
		fprintf(stderr, "replay: cannot open %s\n", dir);
		exit(2);
	}
	while ((de = readdir(d))) {
		char *p;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		p = fs_join(dir, de->d_name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			n += replay_file(p);
		free(p);
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	int args = 0;

	for (int i = 1; i < argc; i++, args++) {
		struct stat st;
		size_t n;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
			return 2;
		}
		n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]);
		printf("ok - %s: %zu input%s replayed\n", argv[i], n, n == 1 ? "" : "s");
	}
	printf("fuzz: %d passed, 0 failed\n", args);
	return 0;
}
