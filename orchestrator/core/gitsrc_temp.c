#include "core/plan.h"

/*
 * TEMP stub, drop at merge: stands in for helper h5's plan_resolve_git()
 * (core/gitsrc.c) so that `gpuslim lock` links before it arrives. The
 * recipe has no app.git yet, so there is nothing to resolve.
 */
int plan_resolve_git(struct plan *p, struct vec *diags)
{
	(void)p;
	(void)diags;
	return 0;
}
