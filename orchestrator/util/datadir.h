#ifndef GS_DATADIR_H
#define GS_DATADIR_H

/*
 * Where gpuslim's data (plugins/, schemas/) is, for a binary run from its
 * source tree, from the prefix it was installed into, or from a copy of that
 * prefix moved elsewhere: the first of
 *
 *   the executable's own directory, when it holds plugins/ (a source tree)
 *   GPUSLIM_DATADIR, fixed at build time: $(PREFIX)/share/gpuslim
 *   the executable's ../share/gpuslim (a relocated prefix, or a DESTDIR)
 *
 * that holds a plugins/ directory, else GPUSLIM_DATADIR (whose absence the
 * caller reports). The executable is /proc/self/exe. Computed once, on first
 * use; call it from the main thread before workers start. The string is
 * static: never free it.
 */
const char *datadir(void);

#endif
