#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/hash.h"
#include "util/hashpool.h"
#include "util/strbuf.h"

#define HASH_POOL_BUF (1u << 20)
#define HASH_POOL_MAX 8

struct job {
	struct hash_range r;
	enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE } state;
	int err;     /* errno of a failed read; -1: the file ended early */
	uint64_t at; /* bytes read when it failed */
	char hex[65];
};

struct hash_pool {
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t done; /* a job finished */
	struct job *jobs;
	size_t *order; /* job indexes, biggest first */
	size_t nr, next;
	int stop;
	pthread_t *threads;
	int nthreads;
};

int hash_pool_default_threads(void)
{
	const char *env = getenv("GPUSLIM_HASH_THREADS");
	cpu_set_t set;
	int n;

	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);

		if (!*end && v >= 0)
			return v > HASH_POOL_MAX ? HASH_POOL_MAX : (int)v;
	}
	if (sched_getaffinity(0, sizeof(set), &set))
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	else
		n = CPU_COUNT(&set);
	/* The caller is busy parsing, then hashes what is left: one thread
	 * less than the CPUs, none with one CPU (it would only add a second
	 * read of every byte). */
	n--;
	return n < 1 ? 0 : n > HASH_POOL_MAX ? HASH_POOL_MAX : n;
}

/* A cheap look at the flag, once a block: hash_pool_free() waits. */
static int stopping(struct hash_pool *p)
{
	int stop;

	pthread_mutex_lock(&p->lock);
	stop = p->stop;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

/*
 * A mapped range is hashed where it lies in the page cache, with no copy
 * (pread() would copy every byte once more: a tenth of the time). A file
 * cut short while it is mapped raises SIGBUS at the first page past its
 * new end; the handler sends this thread back to hash_mapped(), which
 * reports the end of the file as a short read would. Any other SIGBUS
 * kills the process as it would have.
 */
static __thread sigjmp_buf *bus_jump;

static void on_sigbus(int sig)
{
	if (bus_jump)
		siglongjmp(*bus_jump, 1);
	signal(sig, SIG_DFL); /* the faulting access runs again and kills */
}

static void install_sigbus(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

#define HASH_POOL_WINDOW (32u << 20) /* mapped at a time: bounded memory */

/* 1: hashed from mappings (or *err set); 0: cannot map, read it instead. */
static int hash_mapped(struct hash_pool *p, struct job *j, struct hash_sha256 *h,
		       uint64_t *done_out, int *err, int *stop)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	long page = sysconf(_SC_PAGESIZE);
	volatile uint64_t done = 0;
	char *volatile map = NULL;
	volatile size_t len = 0;
	sigjmp_buf jump;
	struct stat st;

	if (page <= 0 || fstat(p->fd, &st) < 0)
		return 0;
	if (st.st_size < j->r.offset || (uint64_t)(st.st_size - j->r.offset) < j->r.size) {
		*err = -1; /* already shorter than the range */
		*done_out = st.st_size > j->r.offset ? (uint64_t)(st.st_size - j->r.offset) : 0;
		return 1;
	}
	pthread_once(&once, install_sigbus);
	if (sigsetjmp(jump, 1)) {
		/* The file ends inside this window: say where, as a short read would. */
		bus_jump = NULL;
		*err = -1;
		if (fstat(p->fd, &st) == 0)
			done = st.st_size <= j->r.offset ? 0
			       : (uint64_t)(st.st_size - j->r.offset) < j->r.size
				   ? (uint64_t)(st.st_size - j->r.offset)
				   : done;
		goto out;
	}
	while (done < j->r.size) {
		off_t at = j->r.offset + (off_t)done, start = at - at % page;
		size_t lead = (size_t)(at - start), want = HASH_POOL_WINDOW - lead;

		if (j->r.size - done < want)
			want = (size_t)(j->r.size - done);
		len = lead + want;
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, p->fd, start);
		if (map == MAP_FAILED) {
			map = NULL;
			if (!done)
				return 0;
			*err = errno;
			break;
		}
		madvise(map, len, MADV_SEQUENTIAL);
		bus_jump = &jump;
		hash_sha256_update(h, map + lead, want);
		bus_jump = NULL;
		munmap(map, len);
		map = NULL;
		done += want;
		if ((*stop = stopping(p)))
			break;
	}
out:
	if (map)
		munmap(map, len);
	*done_out = done;
	return 1;
}

static void run_job(struct hash_pool *p, struct job *j)
{
	struct hash_sha256 *h = hash_sha256_new();
	uint64_t done = 0;
	int err = 0, stop = 0;

	if (!hash_mapped(p, j, h, &done, &err, &stop)) {
		char *buf = xmalloc(HASH_POOL_BUF);

		while (done < j->r.size && !err) {
			size_t want = j->r.size - done < HASH_POOL_BUF ? (size_t)(j->r.size - done)
								       : HASH_POOL_BUF;
			ssize_t n = pread(p->fd, buf, want, j->r.offset + (off_t)done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				err = n < 0 ? errno : -1;
				break;
			}
			hash_sha256_update(h, buf, (size_t)n);
			done += (uint64_t)n;
			if ((stop = stopping(p)))
				break;
		}
		free(buf);
	}
	pthread_mutex_lock(&p->lock);
	if (!err && !stop)
		hash_sha256_final_hex(h, j->hex);
	j->err = stop ? ECANCELED : err;
	j->at = done;
	j->state = JOB_DONE;
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->lock);
	hash_sha256_free(h);
}

/* The next job to run, biggest first, marked running; NULL when none is left.
 * Called with the lock held. */
static struct job *take_job(struct hash_pool *p)
{
	struct job *j;

	if (p->stop || p->next >= p->nr)
		return NULL;
	j = &p->jobs[p->order[p->next++]];
	j->state = JOB_RUNNING;
	return j;
}

static void *worker(void *arg)
{
	struct hash_pool *p = arg;

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&p->lock);
		j = take_job(p);
		pthread_mutex_unlock(&p->lock);
		if (!j)
			break;
		run_job(p, j);
	}
	return NULL;
}

struct hash_pool *hash_pool_start(int fd, const struct hash_range *ranges, size_t nr, int threads)
{
	struct hash_pool *p;

	if (threads < 1 || !nr)
		return NULL;
	if ((size_t)threads > nr)
		threads = (int)nr;
	p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	p->nr = nr;
	p->jobs = xcalloc(nr, sizeof(*p->jobs));
	p->order = xcalloc(nr, sizeof(*p->order));
	/* biggest first (insertion: a few dozen layers; stable, so ties keep their order) */
	for (size_t i = 0; i < nr; i++) {
		size_t k = i;

		p->jobs[i].r = ranges[i];
		while (k && p->jobs[p->order[k - 1]].r.size < ranges[i].size) {
			p->order[k] = p->order[k - 1];
			k--;
		}
		p->order[k] = i;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->done, NULL);
	p->threads = xcalloc((size_t)threads, sizeof(*p->threads));
	for (int i = 0; i < threads; i++)
		if (!pthread_create(&p->threads[p->nthreads], NULL, worker, p))
			p->nthreads++;
	if (!p->nthreads) {
		hash_pool_free(p);
		return NULL;
	}
	return p;
}

int hash_pool_wait(struct hash_pool *p, size_t i, char hex[65], char *why, size_t why_len)
{
	struct job *j;
	int ret = 0;

	if (i >= p->nr) {
		snprintf(why, why_len, "no such range");
		return -1;
	}
	j = &p->jobs[i];
	pthread_mutex_lock(&p->lock);
	while (j->state != JOB_DONE) {
		/* The caller waits by hashing what is still queued, biggest first. */
		struct job *mine = take_job(p);

		if (!mine) {
			pthread_cond_wait(&p->done, &p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		run_job(p, mine);
		pthread_mutex_lock(&p->lock);
	}
	if (j->err == -1) {
		snprintf(why, why_len,
			 "the file ends at byte %" PRIu64 " of a %" PRIu64 "-byte member", j->at,
			 j->r.size);
		ret = -1;
	} else if (j->err) {
		snprintf(why, why_len, "%s", strerror(j->err));
		ret = -1;
	} else {
		memcpy(hex, j->hex, 65);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void hash_pool_free(struct hash_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->done);
	free(p->threads);
	free(p->jobs);
	free(p->order);
	free(p);
}
