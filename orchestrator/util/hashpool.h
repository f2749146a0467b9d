#ifndef GS_HASHPOOL_H
#define GS_HASHPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * SHA-256 of byte ranges of one file, on worker threads: each range is
 * hashed where it lies, mapped a window at a time (pread() where it cannot
 * be mapped), so several ranges are hashed at once (the layers of a
 * docker-save tar, while the caller parses the same file's headers). One
 * range is one SHA-256 stream: a range is never split, and the biggest go
 * first. The caller waits for a range's digest when it needs it, and while
 * it waits it hashes the ranges no thread has taken yet.
 *
 * A file cut short while mapped (SIGBUS) is the same error as a short
 * read: the pool installs a SIGBUS handler that only acts for its own
 * mappings.
 *
 * Threads only read and hash; they set no error: hash_pool_wait() turns a
 * failed read into the caller's error. hash_pool_free() stops the workers
 * (between blocks) and joins them, finished or not.
 */

struct hash_pool;

struct hash_range {
	off_t offset;
	uint64_t size;
};

/* The threads a pool would start by default, besides the caller: one less
 * than the CPUs this process may run on (sched_getaffinity), at most 8, or
 * 0 (the caller hashes inline) with one CPU; GPUSLIM_HASH_THREADS=N
 * overrides it (0: inline). */
int hash_pool_default_threads(void);

/*
 * Start hashing `nr` ranges of `fd` (which must stay open until
 * hash_pool_free()) on min(threads, nr) threads. Returns NULL when
 * threads < 1, nr == 0, or no thread could be started.
 */
struct hash_pool *hash_pool_start(int fd, const struct hash_range *ranges, size_t nr, int threads);

/*
 * Wait for range `i`: 0 and its lowercase hex digest (65 bytes with the NUL),
 * or -1 with the reason in `why` ("end of file at byte N", strerror()).
 */
int hash_pool_wait(struct hash_pool *p, size_t i, char hex[65], char *why, size_t why_len);

/* Stop and join the workers; NULL is fine. */
void hash_pool_free(struct hash_pool *p);

#endif
