/*
 * util/retry: which failures are transient, Retry-After in its four
 * spellings, the backoff's bounds (never its exact values: the jitter is
 * random), the attempt and total limits, the environment's overrides and
 * the sleep. No check depends on how fast the machine is: dates are a day
 * or more away from "now", or a check allows the whole of it.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"
#include "util/retry.h"

/* Now + `secs`, in the format `fmt` (strftime, GMT; English names as in C). */
static void http_date(char *buf, size_t n, const char *fmt, long secs)
{
	static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *wdl[] = {"Sunday",	"Monday", "Tuesday", "Wednesday",
				    "Thursday", "Friday", "Saturday"};
	static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = time(NULL) + secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	if (!strcmp(fmt, "imf"))
		snprintf(buf, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
			 mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else if (!strcmp(fmt, "rfc850"))
		snprintf(buf, n, "%s, %02d-%s-%02d %02d:%02d:%02d GMT", wdl[tm.tm_wday], tm.tm_mday,
			 mon[tm.tm_mon], tm.tm_year % 100, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		snprintf(buf, n, "%s %s %2d %02d:%02d:%02d %04d", wd[tm.tm_wday], mon[tm.tm_mon],
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

static void test_transient(void)
{
	static const long yes[] = {408, 425, 429, 500, 502, 503, 504};
	static const long no[] = {200, 206, 301, 400, 401, 403, 404, 405, 409, 410, 416, 501, 505};
	static const int curl_yes[] = {CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT,
				       CURLE_SEND_ERROR,      CURLE_RECV_ERROR,
				       CURLE_GOT_NOTHING,     CURLE_PARTIAL_FILE};
	static const int curl_no[] = {CURLE_COULDNT_RESOLVE_HOST, CURLE_WRITE_ERROR,
				      CURLE_URL_MALFORMAT, CURLE_PEER_FAILED_VERIFICATION,
				      CURLE_TOO_MANY_REDIRECTS};
	int ok = 1;

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		ok &= retry_transient(0, yes[i]) == 1;
	CHECK(ok, "408, 425, 429, 500, 502, 503, 504 are transient");
	ok = 1;
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		ok &= retry_transient(0, no[i]) == 0;
	CHECK(ok, "2xx, 3xx, the other 4xx, 501 and 505 are final");
	ok = 1;
	for (size_t i = 0; i < sizeof(curl_yes) / sizeof(*curl_yes); i++)
		ok &= retry_transient(curl_yes[i], 0) == 1;
	CHECK(ok, "refused, timed out, reset, nothing, cut short: transient");
	ok = 1;
	for (size_t i = 0; i < sizeof(curl_no) / sizeof(*curl_no); i++)
		ok &= retry_transient(curl_no[i], 503) == 0;
	CHECK(ok, "unknown host, a sink's refusal, a bad URL, TLS, redirect loops: final");
}

static void test_retry_after(void)
{
	char d[64];
	long ms;

	CHECK(retry_after_ms("3") == 3000, "delay-seconds");
	CHECK(retry_after_ms(" 0 \r\n") == 0, "0 with spaces and CRLF around it");
	CHECK(retry_after_ms("120") == 120000, "two minutes");
	CHECK(retry_after_ms("999999999999999999999999") == 86400000L,
	      "more digits than a long: a day, not garbage");
	CHECK(retry_after_ms("100000") == 86400000L, "over a day: a day");
	CHECK(retry_after_ms(NULL) == -1, "none");
	CHECK(retry_after_ms("") == -1 && retry_after_ms("soon") == -1 &&
		  retry_after_ms("-5") == -1 && retry_after_ms("1.5") == -1 &&
		  retry_after_ms("5s") == -1,
	      "empty, words, negative, fractions, units: not a Retry-After");

	http_date(d, sizeof(d), "imf", 86400 * 2);
	ms = retry_after_ms(d);
	CHECK(ms == 86400000L, "an IMF-fixdate two days ahead: capped at a day (%s: %ld)", d, ms);
	http_date(d, sizeof(d), "imf", 3600);
	ms = retry_after_ms(d);
	CHECK(ms > 3000000 && ms <= 3600000, "an IMF-fixdate an hour ahead (%s: %ld ms)", d, ms);
	http_date(d, sizeof(d), "rfc850", 3600);
	ms = retry_after_ms(d);
	CHECK(ms > 3000000 && ms <= 3600000, "an RFC 850 date an hour ahead (%s: %ld ms)", d, ms);
	http_date(d, sizeof(d), "asctime", 3600);
	ms = retry_after_ms(d);
	CHECK(ms > 3000000 && ms <= 3600000, "an asctime date an hour ahead (%s: %ld ms)", d, ms);
	http_date(d, sizeof(d), "imf", -3600);
	CHECK(retry_after_ms(d) == 0, "a date in the past: no wait (%s)", d);
	CHECK(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT") == 0, "RFC 9110's example: past");
	CHECK(retry_after_ms("Sun, 06 Nov 1994 08:49:37 CET") == -1, "not GMT: refused");
	CHECK(retry_after_ms("Sun, 06 Foo 1994 08:49:37 GMT") == -1, "no such month");
	CHECK(retry_after_ms("Sun, 06 Nov 1994 25:49:37 GMT") == -1, "no such hour");
	CHECK(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT tomorrow") == -1, "trailing words");
}

static void test_delay(void)
{
	struct retry_policy p = {4, 500, 10000, 30000};
	char d[64];
	long ms, lo = 1L << 30, hi = 0;
	int ok = 1;

	for (int i = 0; i < 200; i++) {
		ms = retry_delay_ms(&p, 1, NULL, 0);
		ok &= ms >= 250 && ms <= 500;
		lo = ms < lo ? ms : lo;
		hi = ms > hi ? ms : hi;
	}
	CHECK(ok, "after the first try: between half the base and the base (%ld..%ld)", lo, hi);
	CHECK(lo < hi, "the wait is jittered (%ld..%ld over 200 draws)", lo, hi);
	ok = 1;
	for (int i = 0; i < 200; i++) {
		ms = retry_delay_ms(&p, 3, NULL, 0);
		ok &= ms >= 1000 && ms <= 2000;
	}
	CHECK(ok, "after the third: base * 4, jittered");
	p.attempts = 100;
	ok = 1;
	for (int i = 0; i < 200; i++) {
		ms = retry_delay_ms(&p, 40, NULL, 0);
		ok &= ms >= 5000 && ms <= 10000;
	}
	CHECK(ok, "doubling stops at the cap (and does not overflow)");
	p.attempts = 4;

	CHECK(retry_delay_ms(&p, 1, "7", 0) == 7000, "Retry-After wins over the backoff");
	CHECK(retry_delay_ms(&p, 1, "10", 0) == 10000, "Retry-After equal to the cap: waited");
	CHECK(retry_delay_ms(&p, 1, "11", 0) == -1, "Retry-After over the cap: no retry");
	http_date(d, sizeof(d), "imf", 3600);
	CHECK(retry_delay_ms(&p, 1, d, 0) == -1, "an HTTP date an hour ahead: no retry");
	http_date(d, sizeof(d), "imf", -60);
	CHECK(retry_delay_ms(&p, 1, d, 0) == 0, "an HTTP date past: retry at once");
	ms = retry_delay_ms(&p, 1, "junk", 0);
	CHECK(ms >= 250 && ms <= 500, "an unusable Retry-After: the backoff");

	CHECK(retry_delay_ms(&p, 3, "1", 0) == 1000, "the third try may be followed by a fourth");
	CHECK(retry_delay_ms(&p, 4, "1", 0) == -1, "the fourth is the last of 4");
	CHECK(retry_delay_ms(&p, 1, "5", 25000) == 5000, "a wait that fills the total exactly");
	CHECK(retry_delay_ms(&p, 1, "5", 25001) == -1, "a wait that would pass the total: none");
	CHECK(retry_delay_ms(&p, 2, NULL, 29900) == -1, "backoff past the total: none");
	p.total_ms = 0;
	CHECK(retry_delay_ms(&p, 1, NULL, 0) == -1, "total 0: no waiting");
	CHECK(retry_delay_ms(&p, 1, "0", 0) == 0, "total 0: Retry-After: 0 still retries");

	{
		struct retry_policy z = {0, 0, 0, -1};

		CHECK(retry_delay_ms(&z, 4, "1", 0) == -1 && retry_delay_ms(&z, 3, "1", 0) == 1000,
		      "attempts 0: the default 4");
		CHECK(retry_delay_ms(&z, 1, "10", 0) == 10000 &&
			  retry_delay_ms(&z, 1, "11", 0) == -1,
		      "cap 0: the default 10 s");
		CHECK(retry_delay_ms(&z, 1, "10", 20000) == 10000 &&
			  retry_delay_ms(&z, 1, "10", 20001) == -1,
		      "total negative: the default 30 s");
		ms = retry_delay_ms(&z, 1, NULL, 0);
		CHECK(ms >= 250 && ms <= 500, "base 0: the default 500 ms");
	}
}

static void test_env(void)
{
	struct retry_policy p;

	unsetenv("GPUSLIM_RETRIES");
	unsetenv("GPUSLIM_RETRY_MAX_WAIT");
	retry_policy_default(&p);
	CHECK(p.attempts == 4 && p.base_ms == 500 && p.cap_ms == 10000 && p.total_ms == 30000,
	      "defaults: 4 tries, 500 ms, 10 s cap, 30 s in all");
	setenv("GPUSLIM_RETRIES", "1", 1);
	setenv("GPUSLIM_RETRY_MAX_WAIT", "120", 1);
	retry_policy_default(&p);
	CHECK(p.attempts == 1 && p.total_ms == 120000,
	      "GPUSLIM_RETRIES=1, GPUSLIM_RETRY_MAX_WAIT=120");
	CHECK(retry_delay_ms(&p, 1, "0", 0) == -1, "GPUSLIM_RETRIES=1: no retry");
	setenv("GPUSLIM_RETRIES", "0", 1);
	setenv("GPUSLIM_RETRY_MAX_WAIT", "0", 1);
	retry_policy_default(&p);
	CHECK(p.attempts == 4 && p.total_ms == 0,
	      "GPUSLIM_RETRIES=0 is out of range: 4; MAX_WAIT=0");
	setenv("GPUSLIM_RETRIES", "3x", 1);
	setenv("GPUSLIM_RETRY_MAX_WAIT", "-1", 1);
	retry_policy_default(&p);
	CHECK(p.attempts == 4 && p.total_ms == 30000,
	      "values that are not numbers in range: ignored");
	setenv("GPUSLIM_RETRIES", "101", 1);
	setenv("GPUSLIM_RETRY_MAX_WAIT", "3601", 1);
	retry_policy_default(&p);
	CHECK(p.attempts == 4 && p.total_ms == 30000, "over the limits: ignored");
	unsetenv("GPUSLIM_RETRIES");
	unsetenv("GPUSLIM_RETRY_MAX_WAIT");

	unsetenv("GPUSLIM_HTTP_TIMEOUT_MS");
	CHECK(retry_http_timeout_ms(30000) == 30000, "no GPUSLIM_HTTP_TIMEOUT_MS: the default");
	setenv("GPUSLIM_HTTP_TIMEOUT_MS", "250", 1);
	CHECK(retry_http_timeout_ms(30000) == 250, "GPUSLIM_HTTP_TIMEOUT_MS=250");
	setenv("GPUSLIM_HTTP_TIMEOUT_MS", "0", 1);
	CHECK(retry_http_timeout_ms(30000) == 30000, "GPUSLIM_HTTP_TIMEOUT_MS=0: ignored");
	unsetenv("GPUSLIM_HTTP_TIMEOUT_MS");
}

static void test_misc(void)
{
	struct timespec a, b;
	long ms;

	CHECK(!strcmp(retry_status_reason(503), "Service Unavailable") &&
		  !strcmp(retry_status_reason(429), "Too Many Requests") &&
		  !strcmp(retry_status_reason(599), ""),
	      "reason phrases, none for an unknown status");
	clock_gettime(CLOCK_MONOTONIC, &a);
	retry_sleep_ms(0);
	retry_sleep_ms(-5);
	retry_sleep_ms(30);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (long)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	CHECK(ms >= 30, "retry_sleep_ms(30) sleeps at least 30 ms (%ld)", ms);
}

int main(void)
{
	test_transient();
	test_retry_after();
	test_delay();
	test_env();
	test_misc();
	return unit_done();
}
