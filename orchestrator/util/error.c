#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

#define ERROR_MAX 2048

static _Thread_local char last_error[ERROR_MAX];

/* Formats into a scratch buffer first: callers may pass error_last() itself
 * as an argument ("%s", error_last()) to change only the code. */
static void error_vset(const char *fmt, va_list ap)
{
	char scratch[ERROR_MAX];

	vsnprintf(scratch, sizeof(scratch), fmt, ap);
	memcpy(last_error, scratch, sizeof(last_error));
}

int error_setc(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(fmt, ap);
	va_end(ap);
	return code;
}

int error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(fmt, ap);
	va_end(ap);
	return GS_ERR;
}

void error_prefix(const char *fmt, ...)
{
	char old[ERROR_MAX];
	size_t n;
	va_list ap;

	memcpy(old, last_error, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	n = strlen(last_error);
	if (n + 2 < sizeof(last_error)) {
		memcpy(last_error + n, ": ", 3);
		n += 2;
		memcpy(last_error + n, old, strnlen(old, sizeof(last_error) - n - 1));
		last_error[n + strnlen(old, sizeof(last_error) - n - 1)] = '\0';
	}
}

const char *error_last(void)
{
	return last_error;
}

void error_clear(void)
{
	last_error[0] = '\0';
}
