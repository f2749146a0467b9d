/* Fuzz target: the lock reader (core/lock.c) on any bytes, as gpuslim.lock.
 * A lock it accepts must write back to text it reads again, to the same
 * bytes: what the reader lets through, the writer and the next read agree
 * on (a wheel's fields valid, index URLs without credentials). */
#include <stdlib.h>
#include <string.h>

#include "core/lock.h"
#include "fuzz.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lock *l = NULL, *again = NULL;
	char *text = NULL, *text2 = NULL;

	if (lock_parse("gpuslim.lock", (const char *)data, size, &l) == 0) {
		text = lock_format(l);
		if (!text || lock_parse("gpuslim.lock", text, strlen(text), &again) != 0)
			abort();
		text2 = lock_format(again);
		if (!text2 || strcmp(text, text2))
			abort();
	}
	free(text);
	free(text2);
	lock_free(again);
	lock_free(l);
	error_clear();
	return 0;
}
