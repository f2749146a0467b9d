#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/datadir.h"
#include "util/fs.h"

/* The Makefile defines it for this file alone: a new PREFIX rebuilds only this object. */
#ifndef GPUSLIM_DATADIR
#define GPUSLIM_DATADIR "/usr/local/share/gpuslim"
#endif

/* Whether `dir` holds gpuslim's data; if so, it becomes the answer. */
static int datadir_take(char *out, size_t size, const char *dir)
{
	char *plugins = fs_join(dir, "plugins");
	int ok = fs_is_dir(plugins) && strlen(dir) < size;

	if (ok)
		memcpy(out, dir, strlen(dir) + 1);
	free(plugins);
	return ok;
}

const char *datadir(void)
{
	static char dir[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *exe_dir, *share, *up;

		exe[n] = '\0';
		exe_dir = fs_dirname(exe);
		share = fs_join(exe_dir, "../share/gpuslim");
		up = fs_abspath(share);
		if (!datadir_take(dir, sizeof(dir), exe_dir) &&
		    !datadir_take(dir, sizeof(dir), GPUSLIM_DATADIR))
			datadir_take(dir, sizeof(dir), up);
		free(up);
		free(share);
		free(exe_dir);
	}
	if (!dir[0])
		memcpy(dir, GPUSLIM_DATADIR, sizeof(GPUSLIM_DATADIR));
	return dir;
}
