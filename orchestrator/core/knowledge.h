#ifndef GS_KNOWLEDGE_H
#define GS_KNOWLEDGE_H

#include "util/vec.h"

/*
 * The knowledge plugins: CUDA releases and their tags per base repository
 * and OS, driver minimums, framework wheels, OS Pythons, library rules.
 * Loaded from JSON files in plugin directories (plugins/ of the install,
 * then each --plugins DIR in order; a later entry with the same key
 * replaces an earlier one). The knowledge owns all its data.
 *
 * (The struct layout is filled in by the planner's module.)
 */
struct knowledge;

/* Load the built-in plugin directory, then each directory in `extra_dirs`
 * (strings, may be NULL). Errors name the file, line and column. */
int knowledge_load(struct knowledge **out, const struct vec *extra_dirs);
void knowledge_free(struct knowledge *kb);

/* The built-in plugin directory: $GPUSLIM_PLUGIN_DIR, else plugins/ beside
 * the executable (a source tree), else the installed share directory. */
const char *knowledge_builtin_dir(void);

#endif
