#ifndef GS_PKGDB_H
#define GS_PKGDB_H

#include <stddef.h>

#include "util/vec.h"

/*
 * Package databases found in an image, parsed from their text as it comes
 * out of the layer stream:
 *
 *   dpkg   var/lib/dpkg/status (names, versions, installed or not) and
 *          var/lib/dpkg/info/NAME[:ARCH].list (the absolute paths a package
 *          owns, directories included)
 *   pip    SITE/NAME-VERSION.dist-info/RECORD (CSV: path,hash,size; paths
 *          relative to SITE, "../../bin/x" for scripts)
 *
 * Ownership: every string handed out is newly allocated and the caller's.
 */

struct pkgdb_pkg {
	char *name;
	char *version;
};

/* Installed packages ("Status: install ok installed", or no Status line)
 * of a dpkg status file; appends struct pkgdb_pkg * to `out` (free them
 * with pkgdb_pkg_free). */
void pkgdb_parse_dpkg_status(const char *text, size_t len, struct vec *out);
void pkgdb_pkg_free(void *pkg);

/* The package of a .list file's base name: "libc6:amd64.list" -> "libc6";
 * NULL when it is not a .list name. */
char *pkgdb_list_package(const char *basename);

/* Call `fn` on each line of a .list file (paths, without the newline). */
void pkgdb_each_line(const char *text, size_t len, void (*fn)(void *ctx, const char *s, size_t n),
		     void *ctx);

/* Call `fn` on the path (first CSV field, quotes undone) of each RECORD line. */
void pkgdb_each_record_path(const char *text, size_t len,
			    void (*fn)(void *ctx, const char *s, size_t n), void *ctx);

/* Name and version of "NAME-VERSION.dist-info": 0, or -1 when not that form. */
int pkgdb_distinfo_name(const char *dirname, char **name, char **version);

#endif
