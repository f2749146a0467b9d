#ifndef GS_FS_H
#define GS_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/strbuf.h"

/* Read a whole file into `out` (appended). Fails when larger than `max`
 * bytes (0: no limit). Errors name the path: "cannot read 'x': ...". */
int fs_read_file(const char *path, struct strbuf *out, size_t max);

/* Write `len` bytes to `path` through a temporary file in the same
 * directory, fsync'd and renamed over `path`: readers see the old file or
 * the new one, never half of it. */
int fs_write_atomic(const char *path, const void *data, size_t len);

/* mkdir -p. */
int fs_mkdir_p(const char *path, mode_t mode);

/* Newly allocated directory part of `path` ("." when it has none). */
char *fs_dirname(const char *path);
/* Newly allocated "a/b"; `b` absolute returns a copy of `b`. */
char *fs_join(const char *a, const char *b);
/* Newly allocated path of `to` relative to the directory `from_dir`, both
 * taken lexically (no symlinks resolved) after making them absolute. */
char *fs_relpath(const char *from_dir, const char *to);
/* Newly allocated lexically normalized absolute path (no "." or ".."). */
char *fs_abspath(const char *path);
int fs_is_dir(const char *path);
int fs_exists(const char *path);

#endif
