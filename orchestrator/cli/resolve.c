#include <stdlib.h>

#include "cli/cli.h"
#include "cli/resolve.h"
#include "core/registry.h"

int cli_resolve_images(struct plan *p)
{
	struct registry_opts opts = {0};
	struct registry_client *rc = registry_client_new(&opts);
	struct vec diags = VEC_INIT(free);
	int ret = plan_resolve_images(p, rc, &diags);

	if (ret < 0) {
		if (ret == GS_EINVAL && diags.nr)
			cli_print_diags(&diags);
		else
			cli_error_last();
	}
	registry_client_free(rc);
	vec_release(&diags);
	return cli_exit_for(ret);
}
