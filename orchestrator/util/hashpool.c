#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	/* One CPU: a thread would only add a second copy of every byte. */
	if (n < 2)
		return 0;
	return n > HASH_POOL_MAX ? HASH_POOL_MAX : n;
}

static void run_job(struct hash_pool *p, struct job *j, char *buf)
{
	struct hash_sha256 *h = hash_sha256_new();
	uint64_t done = 0;
	int err = 0, stop = 0;

	while (done < j->r.size && !err) {
		size_t want =
		    j->r.size - done < HASH_POOL_BUF ? (size_t)(j->r.size - done) : HASH_POOL_BUF;
		ssize_t n = pread(p->fd, buf, want, j->r.offset + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : -1;
			break;
		}
		hash_sha256_update(h, buf, (size_t)n);
		done += (uint64_t)n;
		/* A cheap look at the flag, once a block: hash_pool_free() waits. */
		pthread_mutex_lock(&p->lock);
		stop = p->stop;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
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

static void *worker(void *arg)
{
	struct hash_pool *p = arg;
	char *buf = xmalloc(HASH_POOL_BUF);

	for (;;) {
		struct job *j = NULL;

		pthread_mutex_lock(&p->lock);
		if (!p->stop && p->next < p->nr) {
			j = &p->jobs[p->order[p->next++]];
			j->state = JOB_RUNNING;
		}
		pthread_mutex_unlock(&p->lock);
		if (!j)
			break;
		run_job(p, j, buf);
	}
	free(buf);
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
	while (j->state != JOB_DONE)
		pthread_cond_wait(&p->done, &p->lock);
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
