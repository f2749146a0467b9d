#ifndef GS_CLI_RESOLVE_H
#define GS_CLI_RESOLVE_H

#include "core/plan.h"

/*
 * --resolve of plan and generate: ask the base images' registries, pin
 * every image by digest and let what they have win over the tables
 * (plan_resolve_images). Credentials come from the Docker config
 * ($DOCKER_CONFIG or ~/.docker). Prints the problems; returns the exit
 * code: EXIT_OK, EXIT_USAGE (a recipe value the registry cannot satisfy)
 * or EXIT_INFRA (a registry cannot be reached).
 */
int cli_resolve_images(struct plan *p);

#endif
