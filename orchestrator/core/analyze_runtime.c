/*
 * missing-runtime-file: what an image without an OS (final.mode closure)
 * can lack that its ELF files do not show (core/analyze_private.h). A base
 * image brings a shell, a loader cache and a passwd file; a closure image
 * has only what was put in, so each is checked:
 *
 *   - in a closure image (label io.gpuslim.final=closure: no OS under it),
 *     each command of opts->commands (the smoke tests' argv[0]) exists as
 *     the image would run it, and so does the interpreter its "#!" line or
 *     its PT_INTERP names (a "#!/usr/bin/env NAME" also needs NAME in PATH);
 *     a GPU smoke test is skipped on a host without a GPU, and this is
 *     then what says its program and loader are there. Other images are
 *     listed in the report, not judged: their OS brings the shell;
 *   - each directory ld.so.conf names that holds a library is listed in
 *     /etc/ld.so.cache: ld.so reads the cache, never ld.so.conf, so a
 *     directory outside its defaults is searched only through it;
 *   - a non-root USER has its /etc/passwd entry (Docker refuses a name it
 *     cannot find; a uid without one breaks getpwuid(): Python's
 *     getpass.getuser(), ~), and a group name its /etc/group entry.
 */
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"
#include "util/strbuf.h"

#define LDCACHE_MAGIC	  "glibc-ld.so.cache"
#define LDCACHE_VERSION	  "1.1"
#define LDCACHE_OLD_MAGIC "ld.so-1.7.0"
#define LDCACHE_HEADER	  48 /* magic[17], version[3], nlibs, len_strings, flags... */
#define LDCACHE_ENTRY	  24 /* flags, key, value, osversion (4 each), hwcap (8) */

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v)); /* the cache is in the host's byte order */
	return v;
}

char *an_ldcache_parse(const unsigned char *data, size_t len)
{
	static const char magic[] = LDCACHE_MAGIC LDCACHE_VERSION;
	const unsigned char *base = NULL;
	struct strbuf out = STRBUF_INIT;
	uint32_t nlibs;
	size_t avail;

	/* the new format alone, or after the old table (glibc before 2.32) */
	if (len >= sizeof(magic) - 1 && !memcmp(data, magic, sizeof(magic) - 1))
		base = data;
	else if (len >= strlen(LDCACHE_OLD_MAGIC) &&
		 !memcmp(data, LDCACHE_OLD_MAGIC, strlen(LDCACHE_OLD_MAGIC)))
		base = memmem(data, len, magic, sizeof(magic) - 1);
	if (!base)
		return NULL;
	avail = len - (size_t)(base - data);
	if (avail < LDCACHE_HEADER)
		return NULL;
	nlibs = get_u32(base + 20);
	if ((size_t)nlibs > (avail - LDCACHE_HEADER) / LDCACHE_ENTRY)
		return NULL;
	for (uint32_t i = 0; i < nlibs; i++) {
		const unsigned char *e = base + LDCACHE_HEADER + (size_t)i * LDCACHE_ENTRY;
		uint32_t value = get_u32(e + 8);
		const unsigned char *end;

		/* string offsets count from the start of the new-format header */
		if (value >= avail)
			continue;
		end = memchr(base + value, '\0', avail - value);
		if (!end || end == base + value)
			continue;
		strbuf_add(&out, base + value, (size_t)(end - (base + value)));
		strbuf_addch(&out, '\n');
	}
	return strbuf_detach(&out, NULL);
}

/* ---- commands ------------------------------------------------------------ */

/* The interpreter of the file `f` (a "#!" line's first word, or PT_INTERP),
 * newly allocated, or NULL; *arg gets an "env NAME" line's NAME. */
static char *command_interpreter(struct analysis *an, uint32_t f, char **arg)
{
	struct fsi_node *nd = fsi_node(&an->fsi, f);
	const struct content *c;

	*arg = NULL;
	if (nd->type != FSI_FILE || nd->data == FSI_NONE)
		return NULL;
	c = &an->contents[nd->data];
	if (c->kind == C_ELF)
		return c->u.elf->interp ? xstrdup(fsi_str(&an->fsi, c->u.elf->interp)) : NULL;
	if (c->kind == C_SHEBANG) {
		const char *s = c->u.text + strspn(c->u.text, " \t");
		size_t n = strcspn(s, " \t");
		char *interp = xstrndup(s, n);
		const char *rest = s + n + strspn(s + n, " \t");

		if (!strcmp(base_name(interp), "env") && *rest && *rest != '-')
			*arg = xstrndup(rest, strcspn(rest, " \t"));
		return interp;
	}
	return NULL;
}

static int exists_file(struct analysis *an, const char *path)
{
	uint32_t n = fsi_resolve(&an->fsi, FSI_ROOT, path, 1);

	return n != FSI_NONE && fsi_node(&an->fsi, n)->type != FSI_DIR;
}

static json_t *runtime_commands(struct analysis *an, json_t *cfg, json_t *findings)
{
	const struct vec *cmds = an->opts->commands;
	json_t *labels = cfg ? json_object_get(cfg, "Labels") : NULL;
	const char *final = json_string_value(json_object_get(labels, "io.gpuslim.final"));
	int judge = final && !strcmp(final, "closure");
	json_t *arr = json_array();
	struct strbuf path = STRBUF_INIT, tmp = STRBUF_INIT;

	for (size_t i = 0; cmds && i < cmds->nr; i++) {
		const char *cmd = cmds->items[i];
		uint32_t f = an_command_resolve(an, cfg, cmd, &path);
		char *interp = NULL, *arg = NULL, *msg = NULL;
		int interp_ok = 1;

		if (f == FSI_NONE) {
			msg = xstrfmt("the smoke test command '%s' is not in the image", cmd);
		} else if ((interp = command_interpreter(an, f, &arg))) {
			interp_ok = exists_file(an, interp);
			if (!interp_ok)
				msg = xstrfmt("'%s' (the smoke test command '%s') needs the "
					      "interpreter '%s', which is not in the image",
					      path.buf, cmd, interp);
			else if (arg && an_command_resolve(an, cfg, arg, &tmp) == FSI_NONE) {
				interp_ok = 0;
				msg =
				    xstrfmt("'%s' (the smoke test command '%s') runs '%s %s', and "
					    "'%s' is not in the image's PATH",
					    path.buf, cmd, interp, arg, arg);
			}
		}
		if (msg && judge)
			an_finding(an, findings, "missing-runtime-file", "error", msg,
				   f != FSI_NONE ? path.buf : cmd, NULL);
		AN_PUSH(an, arr,
			json_pack("{s:o,s:o,s:b,s:o,s:o}", "command", jstr(cmd), "path",
				  jstr(f != FSI_NONE ? path.buf : NULL), "exists", f != FSI_NONE,
				  "interpreter", jstr(interp), "interpreter_exists",
				  interp ? json_boolean(interp_ok) : json_null()));
		free(msg);
		free(interp);
		free(arg);
	}
	strbuf_release(&path);
	strbuf_release(&tmp);
	return arr;
}

/* ---- ld.so.cache ---------------------------------------------------------- */

/* A library in `dir`: a regular file named lib*.so*, or an ELF with a soname. */
static uint32_t dir_library(struct analysis *an, uint32_t dir)
{
	for (uint32_t c = fsi_node(&an->fsi, dir)->child; c != FSI_NONE;
	     c = fsi_node(&an->fsi, c)->sibling) {
		struct fsi_node *nd = fsi_node(&an->fsi, c);
		const char *name = fsi_str(&an->fsi, nd->name);

		if (nd->type != FSI_FILE)
			continue;
		if (nd->data != FSI_NONE && an->contents[nd->data].kind == C_ELF &&
		    an->contents[nd->data].u.elf->soname)
			return c;
		if (starts_with(name, "lib") && strstr(name, ".so"))
			return c;
	}
	return FSI_NONE;
}

static json_t *runtime_ldcache(struct analysis *an, json_t *findings)
{
	const struct knowledge *kb = an->opts->kb;
	const char *cache =
	    an_visible_text(an, fsi_resolve(&an->fsi, FSI_ROOT, "etc/ld.so.cache", 1), C_LDCACHE);
	size_t nr = 0;
	uint32_t *dirs = an_ldconf_dirs(an, &nr);
	json_t *unlisted = json_array();
	struct strbuf path = STRBUF_INIT, line = STRBUF_INIT;

	for (size_t i = 0; i < nr; i++) {
		uint32_t lib = dir_library(an, dirs[i]), listed = 0;
		int is_default = 0;
		char *msg;

		if (lib == FSI_NONE)
			continue;
		for (size_t k = 0; kb && k < kb->analysis.library_dirs.nr; k++)
			if (fsi_resolve(&an->fsi, FSI_ROOT, kb->analysis.library_dirs.items[k],
					1) == dirs[i])
				is_default = 1;
		if (is_default)
			continue; /* ld.so searches it without the cache */
		for (const char *p = cache; p && *p && !listed;) {
			const char *nl = strchrnul(p, '\n'), *slash;

			strbuf_reset(&line);
			strbuf_add(&line, p, (size_t)(nl - p));
			slash = strrchr(line.buf, '/');
			if (slash) {
				strbuf_setlen(&line,
					      slash > line.buf ? (size_t)(slash - line.buf) : 1);
				if (fsi_resolve(&an->fsi, FSI_ROOT, line.buf, 1) == dirs[i])
					listed = 1;
			}
			p = *nl ? nl + 1 : nl;
		}
		if (listed)
			continue;
		fsi_path(&an->fsi, dirs[i], &path);
		AN_PUSH(an, unlisted, jstr(path.buf));
		fsi_path(&an->fsi, lib, &line);
		msg = cache ? xstrfmt("/etc/ld.so.cache lists no library in '%s', which ld.so.conf "
				      "names and where '%s' lies: the loader reads only the cache "
				      "(run ldconfig after the libraries are in place)",
				      path.buf, line.buf)
			    : xstrfmt("the image has no /etc/ld.so.cache, so the loader never "
				      "searches '%s', which ld.so.conf names and where '%s' lies",
				      path.buf, line.buf);
		an_finding(an, findings, "missing-runtime-file", "error", msg, path.buf, NULL);
		free(msg);
	}
	free(dirs);
	strbuf_release(&path);
	strbuf_release(&line);
	return json_pack("{s:b,s:o}", "present", cache != NULL, "unlisted", unlisted);
}

/* ---- user ------------------------------------------------------------------ */

/* 1 when the colon-separated `db` (passwd or group text) has an entry whose
 * name (field 0) or id (field 2) is `who`. */
static int db_has(const char *db, const char *who, size_t wlen)
{
	int numeric = wlen && strspn(who, "0123456789") >= wlen;

	for (const char *p = db; p && *p;) {
		const char *nl = strchrnul(p, '\n'), *c1 = memchr(p, ':', (size_t)(nl - p));

		if (c1) {
			const char *c2 = memchr(c1 + 1, ':', (size_t)(nl - c1 - 1));
			const char *c3 = c2 ? memchr(c2 + 1, ':', (size_t)(nl - c2 - 1)) : NULL;

			if (!numeric && (size_t)(c1 - p) == wlen && !memcmp(p, who, wlen))
				return 1;
			if (numeric && c2) {
				const char *id = c2 + 1, *idend = c3 ? c3 : nl;

				if ((size_t)(idend - id) == wlen && !memcmp(id, who, wlen))
					return 1;
			}
		}
		p = *nl ? nl + 1 : nl;
	}
	return 0;
}

static json_t *runtime_user(struct analysis *an, json_t *cfg, json_t *findings)
{
	const char *u = json_string_value(cfg ? json_object_get(cfg, "User") : NULL);
	const char *passwd, *group, *colon;
	size_t ulen;
	int ok = 1;

	if (!u || !*u)
		return json_null();
	colon = strchr(u, ':');
	ulen = colon ? (size_t)(colon - u) : strlen(u);
	if ((ulen == 1 && *u == '0') || (ulen == 4 && !memcmp(u, "root", 4)))
		return json_null();
	passwd = an_visible_text(an, fsi_resolve(&an->fsi, FSI_ROOT, "etc/passwd", 1), C_TEXT);
	group = an_visible_text(an, fsi_resolve(&an->fsi, FSI_ROOT, "etc/group", 1), C_TEXT);
	if (!passwd || !db_has(passwd, u, ulen)) {
		char *msg = xstrfmt("USER '%s' has no entry in /etc/passwd%s", u,
				    passwd ? "" : " (the image has no /etc/passwd)");

		an_finding(an, findings, "missing-runtime-file", "error", msg, "/etc/passwd", NULL);
		free(msg);
		ok = 0;
	}
	if (colon && colon[1] && strspn(colon + 1, "0123456789") < strlen(colon + 1) &&
	    (!group || !db_has(group, colon + 1, strlen(colon + 1)))) {
		char *msg =
		    xstrfmt("USER '%s': group '%s' has no entry in /etc/group", u, colon + 1);

		an_finding(an, findings, "missing-runtime-file", "error", msg, "/etc/group", NULL);
		free(msg);
		ok = 0;
	}
	return json_boolean(ok);
}

json_t *an_runtime_json(struct analysis *an, json_t *cfg, json_t *findings)
{
	return AN_OK(an, json_pack("{s:o,s:o,s:o}", "commands", runtime_commands(an, cfg, findings),
				   "ld_so_cache", runtime_ldcache(an, findings), "user_entry",
				   runtime_user(an, cfg, findings)));
}
