#include "util/retry.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/signals.h"

#define RETRY_ATTEMPTS	  4
#define RETRY_BASE_MS	  500
#define RETRY_CAP_MS	  10000
#define RETRY_TOTAL_MS	  30000
#define RETRY_AFTER_MAX_S 86400L

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

/* The HTTP-date formats of RFC 9110 5.6.7: IMF-fixdate, then the obsolete
 * RFC 850 and asctime() ones, which a recipient must still accept. Month
 * and day names are English whatever the locale, so they are matched here,
 * not with strptime's %a and %b. */
static int retry_month(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (!strncmp(s, months + 3 * i, 3))
			return i;
	return -1;
}

static int retry_parse_date(const char *v, time_t *when)
{
	struct tm tm;
	char mon[4] = "", wday[16] = "", zone[4] = "";
	int n = 0;

	memset(&tm, 0, sizeof(tm));
	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (sscanf(v, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3[A-Z]%n", wday, &tm.tm_mday,
		   mon, &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, zone, &n) == 8)
		goto got;
	/* "Sunday, 06-Nov-94 08:49:37 GMT" */
	n = 0;
	if (sscanf(v, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d %3[A-Z]%n", wday, &tm.tm_mday,
		   mon, &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, zone, &n) == 8) {
		/* RFC 9110: a two-digit year more than 50 years ahead is in the past century */
		tm.tm_year += tm.tm_year < 70 ? 2000 : 1900;
		goto got;
	}
	/* "Sun Nov  6 08:49:37 1994" (asctime, GMT implied) */
	n = 0;
	if (sscanf(v, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wday, mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &tm.tm_year, &n) == 7) {
		memcpy(zone, "GMT", 4);
		goto got;
	}
	return -1;
got:
	v += n;
	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	tm.tm_mon = retry_month(mon);
	if (*v || strcmp(zone, "GMT") || tm.tm_mon < 0 || tm.tm_year < 1970 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	*when = timegm(&tm);
	return *when == (time_t)-1 ? -1 : 0;
}

long retry_after_ms(const char *v)
{
	char *end;
	long secs;
	time_t when, now;

	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		secs = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end)
			return -1;
		/* More digits than a long holds is still a number: a very long delay. */
		if (errno == ERANGE || secs > RETRY_AFTER_MAX_S)
			secs = RETRY_AFTER_MAX_S;
		return secs * 1000;
	}
	if (retry_parse_date(v, &when) < 0)
		return -1;
	now = time(NULL);
	if (when <= now)
		return 0;
	if (when - now > RETRY_AFTER_MAX_S)
		return RETRY_AFTER_MAX_S * 1000;
	return (long)(when - now) * 1000;
}

void retry_policy_default(struct retry_policy *p)
{
	p->attempts = (unsigned)retry_env_long("GPUSLIM_RETRIES", RETRY_ATTEMPTS, 1, 100);
	p->base_ms = RETRY_BASE_MS;
	p->cap_ms = RETRY_CAP_MS;
	p->total_ms =
	    retry_env_long("GPUSLIM_RETRY_MAX_WAIT", RETRY_TOTAL_MS / 1000, 0, 3600) * 1000;
}

long retry_http_timeout_ms(long dflt)
{
	return retry_env_long("GPUSLIM_HTTP_TIMEOUT_MS", dflt, 1, 3600000);
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

/* xorshift64*, one state per thread, seeded from the clock, the pid and
 * the state's own address: rand() would give every gpuslim process the same
 * "random" waits, which is what jitter is there to avoid. */
static unsigned long retry_random(void)
{
	static __thread uint64_t state;
	uint64_t x;

	if (!state) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		state = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
			((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&state;
		if (!state)
			state = 0x9e3779b97f4a7c15u;
	}
	x = state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	state = x;
	return (unsigned long)((x * 0x2545f4914f6cdd1du) >> 33);
}

long retry_delay_ms(const struct retry_policy *p, unsigned attempt, const char *retry_after,
		    long waited_ms)
{
	unsigned attempts = p->attempts ? p->attempts : RETRY_ATTEMPTS;
	long base = p->base_ms > 0 ? p->base_ms : RETRY_BASE_MS;
	long cap = p->cap_ms > 0 ? p->cap_ms : RETRY_CAP_MS;
	long total = p->total_ms >= 0 ? p->total_ms : RETRY_TOTAL_MS;
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
		ms = ms - ms / 2 + (long)(retry_random() % (unsigned long)(ms / 2 + 1));
	}
	if (ms > cap)
		return -1; /* the server asks for longer than we will wait */
	if (waited_ms < 0)
		waited_ms = 0;
	if (ms > total - waited_ms)
		return -1;
	return ms;
}

void retry_sleep_ms(long ms)
{
	struct timespec ts, end, now;
	int fd = signals_fd();

	if (ms <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		long long left_ns;
		long left;

		if (signals_caught())
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ns = (long long)(end.tv_sec - now.tv_sec) * 1000000000LL +
			  (end.tv_nsec - now.tv_nsec);
		/* rounded up: a wait never ends before its time */
		left = (long)((left_ns + 999999) / 1000000);
		if (left <= 0)
			return;
		if (fd >= 0) {
			struct pollfd pfd = {fd, POLLIN, 0};

			/* readable: a signal came; the loop's check ends the wait */
			if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
				return;
		} else {
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		}
	}
}

const char *retry_status_reason(long status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Content Too Large";
	case 416:
		return "Range Not Satisfiable";
	case 425:
		return "Too Early";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}
