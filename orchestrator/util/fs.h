#ifndef GS_FS_H
#define GS_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/strbuf.h"
#include "util/vec.h"

/* Read a whole file into `out` (appended). Fails when larger than `max`
 * bytes (0: no limit). Errors name the path: "cannot read 'x': ...". */
int fs_read_file(const char *path, struct strbuf *out, size_t max);

/* Read `fd` to its end into `out` (appended), at most `max` bytes (0: no
 * limit); `name` names it in errors ("cannot read '<stdin>': ..."). */
int fs_read_fd(int fd, const char *name, struct strbuf *out, size_t max);

/* Write `len` bytes to `path` through a temporary file in the same
 * directory, fsync'd and renamed over `path`: readers see the old file or
 * the new one, never half of it. */
int fs_write_atomic(const char *path, const void *data, size_t len);

/*
 * Write a report or any output file the user named, never clobbering what
 * the name points at:
 *   "-", or a path that is this process's stdout or stderr (/dev/stdout,
 *       /proc/self/fd/1): written to that descriptor (flush stdio first);
 *   a FIFO, a character device or anything else that is neither a regular
 *       file nor a directory: opened and written straight through;
 *   a symbolic link: followed to its end, which is written as below (the
 *       link stays a link);
 *   a regular file or a new path: fs_write_atomic(), or with
 *       FS_OUTPUT_APPEND added at its end (created when absent).
 * A directory is an error. Errors name the path: "cannot write 'x': ...".
 */
enum { FS_OUTPUT_APPEND = 1 };
int fs_write_output(const char *path, const void *data, size_t len, unsigned flags);

/*
 * Several files written as one: fs_batch_add() writes each to a temporary
 * beside its destination, fs_batch_commit() makes them all durable with one
 * syncfs() and then renames each over its destination; fs_batch_release()
 * removes any temporary not committed. One sync instead of one fsync per
 * file is what makes writing a thousand Dockerfiles fast. The batch owns
 * its path strings; the data is copied to disk at fs_batch_add().
 */
struct fs_batch {
	struct vec paths; /* destinations */
	struct vec tmps;  /* their temporaries, same order; NULL once renamed */
	int sync_fd;	  /* a descriptor on the destinations' file system */
};

void fs_batch_init(struct fs_batch *b);
int fs_batch_add(struct fs_batch *b, const char *path, const void *data, size_t len);
int fs_batch_commit(struct fs_batch *b);
void fs_batch_release(struct fs_batch *b);

/*
 * One file of fs_fill_empty_dir(): `name` is a plain name (no '/'). A file
 * whose `same_as` is the index of an earlier file gets a hard link to it
 * instead of a copy of the same bytes; -1 otherwise.
 */
struct fs_file {
	const char *name;
	const void *data;
	size_t len;
	long same_as;
};

/*
 * Fill `dir`, when it is empty or absent, with `n` files at once: they are
 * written into a new sibling directory on the same file system, synced once,
 * and that directory is renamed over `dir`. A reader sees `dir` empty or
 * complete; creating, renaming and syncing each file apart costs several
 * times more on a thousand files. Returns 0, 1 when `dir` holds something
 * (nothing was done: write file by file), or -1 with "cannot write ...".
 */
int fs_fill_empty_dir(const char *dir, const struct fs_file *files, size_t n);

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
