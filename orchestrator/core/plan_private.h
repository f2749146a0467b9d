#ifndef GS_PLAN_PRIVATE_H
#define GS_PLAN_PRIVATE_H

#include "core/plan.h"

/*
 * What plan.c (planning offline) and plan_resolve.c (asking the
 * registries) share; not for other modules.
 */

/* Set a cell's cuDNN value and reason from its final flavor and the cuDNN
 * version the images carry (NULL: unknown). Frees nothing: `cudnn` must
 * be empty. */
void plan_set_cudnn(struct plan_value *cudnn, const char *final_flavor, const char *version,
		    const char *repository, const char *cuda);

#endif
