#include "util/retry.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110 10.2.3); -1 when neither. */
static long retry_after_ms(const char *v)
{
	char *end;
	long secs;
	struct tm tm;

	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		secs = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (errno || *end || secs > 86400)
			return errno || *end ? -1 : 86400L * 1000;
		return secs * 1000;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return -1;
	{
		time_t when = timegm(&tm), now = time(NULL);

		return when > now ? (long)(when - now) * 1000 : 0;
	}
}

static long retry_env_long(const char *name, long dflt, long min, long max)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return dflt;
	return n;
}

void retry_policy_default(struct retry_policy *p)
{
	p->attempts = (unsigned)retry_env_long("GPUSLIM_RETRIES", 4, 1, 100);
	p->base_ms = 500;
	p->cap_ms = 10000;
	p->total_ms = retry_env_long("GPUSLIM_RETRY_MAX_WAIT", 30, 0, 3600) * 1000;
}

int retry_transient(int curl_code, long status)
{
	switch (curl_code) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
	switch (status) {
	case 408:
	case 425:
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
		return 1;
	default:
		return 0;
	}
}

long retry_delay_ms(const struct retry_policy *p, unsigned attempt, const char *retry_after,
		    long waited_ms)
{
	unsigned attempts = p->attempts ? p->attempts : 4;
	long base = p->base_ms > 0 ? p->base_ms : 500;
	long cap = p->cap_ms > 0 ? p->cap_ms : 10000;
	long total = p->total_ms >= 0 ? p->total_ms : 30000;
	long ms = retry_after_ms(retry_after);

	if (attempt >= attempts)
		return -1;
	if (ms < 0) {
		/* Exponential, with "equal jitter": half fixed, half random. */
		ms = base;
		for (unsigned i = 1; i < attempt && ms < cap; i++)
			ms *= 2;
		if (ms > cap)
			ms = cap;
		ms = ms / 2 + (long)((unsigned long)rand() % (unsigned long)(ms / 2 + 1));
	}
	if (ms > cap)
		return -1; /* the server asks for longer than we will wait */
	if (waited_ms + ms > total)
		return -1;
	return ms;
}

void retry_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
