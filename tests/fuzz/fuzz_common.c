#include <stdlib.h>

#include "fuzz.h"
#include "util/vec.h"

/* The shipped plugins/, loaded once from the working directory (the
 * repository root); a failure is the set-up's, not the input's. */
const struct knowledge *fuzz_kb(void)
{
	static struct knowledge *kb;

	if (!kb) {
		struct vec dirs = VEC_INIT(NULL);

		vec_push(&dirs, (void *)"plugins");
		if (knowledge_load_dirs(&kb, &dirs) < 0)
			abort();
		vec_release(&dirs);
	}
	return kb;
}
