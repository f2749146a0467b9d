#include <stdlib.h>

#include "core/plan.h"
#include "core/pyindex.h"
#include "util/strbuf.h"

/*
 * TEMP stub, drop at merge: stands in for helper h3's plan_resolve_wheels()
 * (core/plan_wheels.c) and h2's index client (core/pyindex.c) so that
 * `gpuslim lock` links and runs before they arrive. It pins no wheel.
 */

struct pyindex_client {
	int unused;
};

struct pyindex_client *pyindex_client_new(const struct pyindex_opts *opts)
{
	(void)opts;
	return xcalloc(1, sizeof(struct pyindex_client));
}

void pyindex_client_free(struct pyindex_client *c)
{
	free(c);
}

int plan_resolve_wheels(struct plan *p, struct pyindex_client *ic, struct vec *diags)
{
	(void)p;
	(void)ic;
	(void)diags;
	return 0;
}
