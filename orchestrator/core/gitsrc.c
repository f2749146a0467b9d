#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/gitsrc.h"
#include "core/diag.h"
#include "core/plan.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/strbuf.h"

/* Deeper trees than this are refused: each level holds a descriptor. */
#define GITSRC_MAX_DEPTH 256

/* ---- URLs ---------------------------------------------------------------- */

static pthread_once_t gitsrc_once = PTHREAD_ONCE_INIT;
static int gitsrc_init_ret;

static void gitsrc_init_once(void)
{
	gitsrc_init_ret = git_libgit2_init();
}

static int gitsrc_init(void)
{
	pthread_once(&gitsrc_once, gitsrc_init_once);
	if (gitsrc_init_ret < 0)
		return error_setc(GS_EINFRA, "cannot start libgit2");
	return 0;
}

/* Where the user information of a scheme URL starts and ends ("user:pw@"
 * after "://", before the host), or NULL when it has none. */
static const char *gitsrc_userinfo(const char *url, size_t *len)
{
	const char *sep = strstr(url, "://"), *start, *at;
	size_t auth;

	if (!sep || strcspn(url, "/") < (size_t)(sep - url))
		return NULL;
	start = sep + 3;
	auth = strcspn(start, "/?#");
	at = memrchr(start, '@', auth);
	if (!at)
		return NULL;
	*len = (size_t)(at + 1 - start);
	return start;
}

char *gitsrc_redact_url(const char *url)
{
	size_t len;
	const char *info = gitsrc_userinfo(url, &len);

	if (!info)
		return xstrdup(url);
	return xstrfmt("%.*s%s", (int)(info - url), url, info + len);
}

/* A path, not a URL: no "scheme://" and no scp-like "host:" before the
 * first '/' (git's rule for telling them apart). */
static int gitsrc_is_path(const char *url)
{
	size_t colon = strcspn(url, ":"), slash = strcspn(url, "/");

	if (strstr(url, "://"))
		return 0;
	return !url[colon] || slash < colon;
}

int gitsrc_url_is_local(const char *url)
{
	return gitsrc_is_path(url) || starts_with(url, "file://");
}

char *gitsrc_location(const char *url, const char *base_dir)
{
	char *joined, *abs;

	if (!gitsrc_is_path(url))
		return xstrdup(url);
	joined = fs_join(base_dir ? base_dir : ".", url);
	abs = fs_abspath(joined);
	free(joined);
	return abs;
}

/* `s` with every occurrence of `secret` replaced by "***". */
static char *gitsrc_replace(char *s, const char *secret)
{
	struct strbuf sb = STRBUF_INIT;
	size_t n = strlen(secret);
	const char *p = s, *hit;

	if (!n)
		return s;
	while ((hit = strstr(p, secret))) {
		strbuf_add(&sb, p, (size_t)(hit - p));
		strbuf_addstr(&sb, "***");
		p = hit + n;
	}
	strbuf_addstr(&sb, p);
	free(s);
	return strbuf_detach(&sb, NULL);
}

/* libgit2's last message, with the location's credentials taken out: the
 * user information, its password, and a user name that stands alone (a
 * token given as the user). */
static char *gitsrc_git_message(const char *location)
{
	const git_error *e = git_error_last();
	char *msg = xstrdup(e && e->message ? e->message : "unknown error"), *info;
	size_t len;
	const char *start = gitsrc_userinfo(location, &len);
	char *colon;

	if (!start)
		return msg;
	info = xstrndup(start, len - 1);
	msg = gitsrc_replace(msg, info);
	if ((colon = strchr(info, ':')))
		msg = gitsrc_replace(msg, colon + 1);
	else
		msg = gitsrc_replace(msg, info);
	free(info);
	return msg;
}

/* error_setc(code, "<what> '<url>': <libgit2's message>"). */
static int gitsrc_fail(int code, const char *what, const char *location)
{
	char *url = gitsrc_redact_url(location), *msg = gitsrc_git_message(location);

	code = error_setc(code, "%s '%s': %s", what, url, msg);
	free(url);
	free(msg);
	return code;
}

/* ---- the cache ----------------------------------------------------------- */

static char *gitsrc_cache_root(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (xdg && *xdg == '/')
		return fs_join(xdg, "gpuslim/git");
	if (home && *home == '/')
		return fs_join(home, ".cache/gpuslim/git");
	error_setc(GS_EINFRA, "cannot find a cache directory for git sources: set XDG_CACHE_HOME "
			      "or HOME");
	return NULL;
}

char *gitsrc_cache_dir(const char *location)
{
	char hex[65], *root = gitsrc_cache_root(), *dir;

	if (!root)
		return NULL;
	hash_sha256_hex(location, strlen(location), hex);
	dir = fs_join(root, hex);
	free(root);
	return dir;
}

static int gitsrc_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf `path`, never following a link. */
static int gitsrc_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	if (nftw(path, gitsrc_rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return error_setc(GS_EINFRA, "cannot remove '%s': %s", path, strerror(errno));
	return 0;
}

/* The cache repository of `location`, opened, with its lock held: *lock_fd
 * is the lock's descriptor (closing it releases the lock). */
static int gitsrc_open_cache(const char *location, git_repository **repo, int *lock_fd)
{
	char *dir = gitsrc_cache_dir(location), *root = NULL, *lock = NULL, *tmp = NULL;
	int ret = 0, fd = -1;

	*repo = NULL;
	*lock_fd = -1;
	if (!dir)
		return GS_EINFRA;
	root = fs_dirname(dir);
	if (fs_mkdir_p(root, 0700) < 0) {
		ret = error_setc(GS_EINFRA, "%s", error_last());
		goto done;
	}
	lock = xstrfmt("%s.lock", dir);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		ret = error_setc(GS_EINFRA, "cannot lock '%s': %s", lock, strerror(errno));
		goto done;
	}
	if (!fs_is_dir(dir)) {
		/* made aside and renamed: a crash never leaves half a repository
		 * under the final name */
		tmp = xstrfmt("%s.tmp-XXXXXX", dir);
		if (!mkdtemp(tmp)) {
			ret = error_setc(GS_EINFRA, "cannot create '%s': %s", tmp, strerror(errno));
			free(tmp);
			tmp = NULL;
			goto done;
		}
		if (git_repository_init(repo, tmp, 1) < 0) {
			ret = gitsrc_fail(GS_EINFRA, "cannot create a cache for", location);
			goto done;
		}
		git_repository_free(*repo);
		*repo = NULL;
		if (rename(tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY) {
			ret = error_setc(GS_EINFRA, "cannot rename '%s' to '%s': %s", tmp, dir,
					 strerror(errno));
			goto done;
		}
	}
	if (git_repository_open_bare(repo, dir) < 0)
		ret = gitsrc_fail(GS_EINFRA, "cannot open the cache of", location);
done:
	if (tmp) {
		gitsrc_rmtree(tmp); /* gone already after a rename */
		free(tmp);
	}
	if (ret < 0) {
		git_repository_free(*repo);
		*repo = NULL;
		if (fd >= 0)
			close(fd);
	} else {
		*lock_fd = fd;
	}
	free(lock);
	free(root);
	free(dir);
	return ret;
}

static void gitsrc_close_cache(git_repository *repo, int lock_fd)
{
	git_repository_free(repo);
	if (lock_fd >= 0)
		close(lock_fd); /* releases the lock */
}

/* ---- talking to the remote ------------------------------------------------ */

struct gitsrc_cred {
	int tries;
};

/* ssh: the agent's keys, once (libgit2 asks again after each refusal).
 * https: the URL's own user information, which libgit2 applies itself, or
 * nothing. */
static int gitsrc_credentials(git_credential **out, const char *url, const char *user,
			      unsigned int allowed, void *payload)
{
	struct gitsrc_cred *c = payload;

	(void)url;
	if (c->tries++ || !(allowed & GIT_CREDENTIAL_SSH_KEY))
		return GIT_PASSTHROUGH;
	return git_credential_ssh_key_from_agent(out, user ? user : "git");
}

static void gitsrc_callbacks(git_remote_callbacks *cb, struct gitsrc_cred *cred)
{
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = gitsrc_credentials;
	cb->payload = cred;
}

/* A local location libgit2 cannot open: missing, or no repository. */
static int gitsrc_local_fail(const char *location)
{
	const char *path = starts_with(location, "file://") ? location + 7 : location;
	struct stat st;
	char *msg;
	int ret;

	if (stat(path, &st) < 0)
		return error_setc(GS_EINVAL, "cannot read the repository '%s': %s", location,
				  strerror(errno));
	msg = gitsrc_git_message(location);
	ret = error_setc(GS_EINVAL, "'%s' is not a git repository: %s", location, msg);
	free(msg);
	return ret;
}

static int gitsrc_connect(git_repository *repo, const char *location, git_remote **remote,
			  struct gitsrc_cred *cred)
{
	git_remote_create_options opts;
	git_remote_callbacks cb;

	gitsrc_callbacks(&cb, cred);
	git_remote_create_options_init(&opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	opts.repository = repo; /* no name: anonymous, nothing in the config */
	/* the user's url.*.insteadOf would make the URL depend on this
	 * machine's git config, which the lock cannot say (libgit2 1.5 also
	 * leaks its pcre2 match data there) */
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(remote, location, &opts) < 0)
		return gitsrc_fail(GS_EINVAL, "cannot use", location);
	if (git_remote_connect(*remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0) {
		if (gitsrc_url_is_local(location))
			return gitsrc_local_fail(location);
		return gitsrc_fail(GS_EINFRA, "cannot reach", location);
	}
	return 0;
}

/* Fetch `specs` (refspecs) from the connected `remote`; no tags follow. */
static int gitsrc_fetch(git_remote *remote, const char *location, const char *const *specs,
			size_t n, struct gitsrc_cred *cred)
{
	git_fetch_options opts;
	git_strarray arr = {(char **)specs, n};

	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	gitsrc_callbacks(&opts.callbacks, cred);
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	opts.update_fetchhead = 0;
	if (git_remote_fetch(remote, &arr, &opts, "gpuslim fetch") < 0)
		return gitsrc_fail(GS_EINFRA, "cannot fetch from", location);
	return 0;
}

static const char *const gitsrc_all_refs[] = {"+refs/heads/*:refs/heads/*",
					      "+refs/tags/*:refs/tags/*"};

/* 1 when `s` is 4 to 40 hex digits: maybe a commit id. */
static int gitsrc_is_hex_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	return !s[n] && n >= 4 && n <= GITSRC_OID_HEXSZ;
}

/* The advertised ref `name`, or NULL. */
static const git_remote_head *gitsrc_find_head(const git_remote_head **heads, size_t n,
					       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(heads[i]->name, name))
			return heads[i];
	return NULL;
}

/* `obj` peeled to a commit, its id into `commit`. */
static int gitsrc_peel(git_object *obj, const char *ref, const char *location,
		       char commit[GITSRC_OID_HEXSZ + 1])
{
	git_object *peeled = NULL;
	int ret = 0;

	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		char *url = gitsrc_redact_url(location);

		ret = error_setc(GS_EINVAL, "'%s' in '%s' names a %s, not a commit", ref, url,
				 git_object_type2string(git_object_type(obj)));
		free(url);
		return ret;
	}
	git_oid_tostr(commit, GITSRC_OID_HEXSZ + 1, git_object_id(peeled));
	git_object_free(peeled);
	return 0;
}

/* An abbreviated or full commit id, looked up in the cache. */
static int gitsrc_lookup_id(git_repository *repo, const char *id, const char *location,
			    char commit[GITSRC_OID_HEXSZ + 1])
{
	git_oid oid;
	git_object *obj = NULL;
	size_t len = strlen(id);
	int ret, err;
	char *url;

	if (git_oid_fromstrn(&oid, id, len) < 0)
		return gitsrc_fail(GS_EINVAL, "not a commit id in", location);
	err = git_object_lookup_prefix(&obj, repo, &oid, len, GIT_OBJECT_ANY);
	if (!err) {
		ret = gitsrc_peel(obj, id, location, commit);
		git_object_free(obj);
		return ret;
	}
	url = gitsrc_redact_url(location);
	if (err == GIT_EAMBIGUOUS)
		ret = error_setc(GS_EINVAL,
				 "'%s' is an ambiguous commit id in '%s': give more of its digits",
				 id, url);
	else if (err == GIT_ENOTFOUND)
		ret = error_setc(GS_ENOTFOUND, "'%s' has no branch, tag or commit '%s'", url, id);
	else
		ret = gitsrc_fail(GS_EINFRA, "cannot read the cache of", location);
	free(url);
	return ret;
}

/* gitsrc_resolve(); *at_url is set when the location, not the ref, is at
 * fault (not a repository). */
static int gitsrc_resolve_at(const char *location, const char *ref,
			     char commit[GITSRC_OID_HEXSZ + 1], int *at_url)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_reference *local = NULL;
	git_object *obj = NULL;
	const git_remote_head **heads = NULL, *head = NULL;
	git_buf def = GIT_BUF_INIT;
	struct gitsrc_cred cred = {0};
	char *full = NULL, *spec = NULL, *url = gitsrc_redact_url(location);
	git_oid head_oid;
	int ret, lock_fd = -1, by_id = 0, detached = 0;
	size_t n = 0;

	commit[0] = '\0';
	if ((ret = gitsrc_init()) < 0 || (ret = gitsrc_open_cache(location, &repo, &lock_fd)) < 0)
		goto done;
	if ((ret = gitsrc_connect(repo, location, &remote, &cred)) < 0) {
		*at_url = 1;
		goto done;
	}
	if (git_remote_ls(&heads, &n, remote) < 0) {
		ret = gitsrc_fail(GS_EINFRA, "cannot list the refs of", location);
		goto done;
	}
	if (!ref || !strcmp(ref, "HEAD")) {
		head = gitsrc_find_head(heads, n, "HEAD");
		if (!head) {
			ret =
			    error_setc(GS_ENOTFOUND, "'%s' has no HEAD: it has no commit yet", url);
			goto done;
		}
		if (git_remote_default_branch(&def, remote) == 0 && def.ptr &&
		    gitsrc_find_head(heads, n, def.ptr)) {
			full = xstrdup(def.ptr);
		} else {
			/* a detached HEAD: its commit, from whichever branch has it */
			git_oid_cpy(&head_oid, &head->oid);
			detached = 1;
		}
	} else if (starts_with(ref, "refs/")) {
		if (gitsrc_find_head(heads, n, ref))
			full = xstrdup(ref);
	} else {
		char *branch = xstrfmt("refs/heads/%s", ref), *tag = xstrfmt("refs/tags/%s", ref);

		if (gitsrc_find_head(heads, n, branch))
			full = xstrdup(branch);
		else if (gitsrc_find_head(heads, n, tag))
			full = xstrdup(tag);
		free(branch);
		free(tag);
	}
	if (!full && !detached) {
		if (!gitsrc_is_hex_id(ref)) {
			ret = error_setc(GS_ENOTFOUND, "'%s' has no branch, tag or commit '%s'",
					 url, ref);
			goto done;
		}
		by_id = 1;
	}

	if (full) {
		const char *one[1];

		spec = xstrfmt("+%s:%s", full, full);
		one[0] = spec;
		ret = gitsrc_fetch(remote, location, one, 1, &cred);
	} else {
		ret = gitsrc_fetch(remote, location, gitsrc_all_refs, 2, &cred);
	}
	if (ret < 0)
		goto done;

	if (by_id) {
		ret = gitsrc_lookup_id(repo, ref, location, commit);
	} else if (detached) {
		if (git_object_lookup(&obj, repo, &head_oid, GIT_OBJECT_ANY) < 0)
			ret = error_setc(GS_ENOTFOUND,
					 "the HEAD of '%s' is on no branch or tag; name one in "
					 "app.git.ref",
					 url);
		else
			ret = gitsrc_peel(obj, "HEAD", location, commit);
	} else if (git_reference_lookup(&local, repo, full) < 0 ||
		   git_reference_peel(&obj, local, GIT_OBJECT_ANY) < 0) {
		ret = gitsrc_fail(GS_EINFRA, "cannot read what was fetched from", location);
	} else {
		ret = gitsrc_peel(obj, ref ? ref : "HEAD", location, commit);
	}
done:
	git_object_free(obj);
	git_reference_free(local);
	git_buf_dispose(&def);
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	gitsrc_close_cache(repo, lock_fd);
	free(spec);
	free(full);
	free(url);
	return ret;
}

int gitsrc_resolve(const char *location, const char *ref, char commit[GITSRC_OID_HEXSZ + 1])
{
	int at_url = 0;

	return gitsrc_resolve_at(location, ref, commit, &at_url);
}

/* ---- export -------------------------------------------------------------- */

struct gitsrc_export {
	git_repository *repo;
	struct timespec times[2]; /* the commit's time, for every entry */
	const char *url;	  /* redacted, for messages */
	struct strbuf path;	  /* the entry's path, for messages */
};

/* A name the tree may not hold: it would climb out, or be git's own. */
static int gitsrc_bad_name(const char *name)
{
	return !*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/') ||
	       !strcasecmp(name, ".git");
}

static int gitsrc_write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

static int gitsrc_io_fail(struct gitsrc_export *x, const char *what)
{
	if (errno == EEXIST) /* only a tree with two entries of one name */
		return error_setc(GS_EINVAL, "'%s' comes twice in the tree of '%s'", x->path.buf,
				  x->url);
	return error_setc(GS_EINFRA, "cannot %s '%s' of '%s': %s", what, x->path.buf, x->url,
			  strerror(errno));
}

static int gitsrc_write_blob(struct gitsrc_export *x, int dirfd, const char *name,
			     const git_tree_entry *e, mode_t mode)
{
	git_blob *blob = NULL;
	int fd = -1, ret = 0;

	if (git_blob_lookup(&blob, x->repo, git_tree_entry_id(e)) < 0)
		return error_setc(GS_EINFRA, "cannot read '%s' of '%s': %s", x->path.buf, x->url,
				  git_error_last() ? git_error_last()->message : "");
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 ||
	    gitsrc_write_all(fd, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob)) < 0 ||
	    fchmod(fd, mode) < 0 || futimens(fd, x->times) < 0)
		ret = gitsrc_io_fail(x, "write");
	if (fd >= 0 && close(fd) < 0 && !ret)
		ret = gitsrc_io_fail(x, "write");
	git_blob_free(blob);
	return ret;
}

static int gitsrc_write_link(struct gitsrc_export *x, int dirfd, const char *name,
			     const git_tree_entry *e)
{
	git_blob *blob = NULL;
	char *target = NULL;
	int ret = 0;

	if (git_blob_lookup(&blob, x->repo, git_tree_entry_id(e)) < 0)
		return error_setc(GS_EINFRA, "cannot read '%s' of '%s': %s", x->path.buf, x->url,
				  git_error_last() ? git_error_last()->message : "");
	target = xstrndup(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	if (!*target || strlen(target) != (size_t)git_blob_rawsize(blob))
		ret = error_setc(GS_EINVAL, "'%s' of '%s' is a link with an empty or NUL target",
				 x->path.buf, x->url);
	else if (symlinkat(target, dirfd, name) < 0 ||
		 utimensat(dirfd, name, x->times, AT_SYMLINK_NOFOLLOW) < 0)
		ret = gitsrc_io_fail(x, "write");
	free(target);
	git_blob_free(blob);
	return ret;
}

static int gitsrc_write_tree(struct gitsrc_export *x, const git_tree *tree, int dirfd, int depth);

/* mkdir `name` in `dirfd` and fill it with `tree` (NULL: left empty). */
static int gitsrc_write_dir(struct gitsrc_export *x, int dirfd, const char *name,
			    const git_tree *tree, int depth)
{
	int fd, ret = 0;

	if (mkdirat(dirfd, name, 0700) < 0)
		return gitsrc_io_fail(x, "create");
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return gitsrc_io_fail(x, "open");
	if (tree)
		ret = gitsrc_write_tree(x, tree, fd, depth + 1);
	/* after its entries, which change the directory's mtime */
	if (!ret && (fchmod(fd, 0755) < 0 || futimens(fd, x->times) < 0))
		ret = gitsrc_io_fail(x, "write");
	close(fd);
	return ret;
}

static int gitsrc_write_entry(struct gitsrc_export *x, const git_tree_entry *e, int dirfd,
			      int depth)
{
	const char *name = git_tree_entry_name(e);
	git_tree *sub = NULL;
	int ret;

	if (gitsrc_bad_name(name))
		return error_setc(GS_EINVAL,
				  "the tree of '%s' has an entry named '%s' (in '%s'), which git "
				  "refuses to check out",
				  x->url, name, x->path.len ? x->path.buf : ".");
	strbuf_addf(&x->path, "%s%s", x->path.len ? "/" : "", name);
	switch (git_tree_entry_filemode(e)) {
	case GIT_FILEMODE_BLOB:
		ret = gitsrc_write_blob(x, dirfd, name, e, 0644);
		break;
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		ret = gitsrc_write_blob(x, dirfd, name, e, 0755);
		break;
	case GIT_FILEMODE_LINK:
		ret = gitsrc_write_link(x, dirfd, name, e);
		break;
	case GIT_FILEMODE_TREE:
		if (git_tree_lookup(&sub, x->repo, git_tree_entry_id(e)) < 0) {
			ret = error_setc(GS_EINFRA, "cannot read '%s' of '%s': %s", x->path.buf,
					 x->url, git_error_last() ? git_error_last()->message : "");
			break;
		}
		ret = gitsrc_write_dir(x, dirfd, name, sub, depth);
		git_tree_free(sub);
		break;
	case GIT_FILEMODE_COMMIT:
		/* a submodule: another repository's commit, not exported */
		ret = gitsrc_write_dir(x, dirfd, name, NULL, depth);
		break;
	default:
		ret = error_setc(GS_EINVAL, "'%s' of '%s' has an unknown file mode %o", x->path.buf,
				 x->url, (unsigned)git_tree_entry_filemode(e));
	}
	return ret;
}

static int gitsrc_write_tree(struct gitsrc_export *x, const git_tree *tree, int dirfd, int depth)
{
	size_t n = git_tree_entrycount(tree), keep = x->path.len;
	int ret = 0;

	if (depth > GITSRC_MAX_DEPTH)
		return error_setc(GS_EINVAL, "'%s' of '%s' is nested deeper than %d directories",
				  x->path.buf, x->url, GITSRC_MAX_DEPTH);
	for (size_t i = 0; i < n && !ret; i++) {
		ret = gitsrc_write_entry(x, git_tree_entry_byindex(tree, i), dirfd, depth);
		strbuf_setlen(&x->path, keep);
	}
	return ret;
}

/* "./a//b/" -> "a/b"; "" for the root. */
static char *gitsrc_clean_subdir(const char *subdir)
{
	struct strbuf sb = STRBUF_INIT;

	while (subdir && *subdir) {
		size_t n = strcspn(subdir, "/");

		if (n && !(n == 1 && *subdir == '.'))
			strbuf_addf(&sb, "%s%.*s", sb.len ? "/" : "", (int)n, subdir);
		subdir += n + (subdir[n] == '/');
	}
	strbuf_addstr(&sb, "");
	return strbuf_detach(&sb, NULL);
}

/* The commit `id` from the cache, fetching every branch and tag first when
 * the cache lacks it. */
static int gitsrc_find_commit(git_repository *repo, const char *location, const char *id,
			      git_commit **out)
{
	git_remote *remote = NULL;
	struct gitsrc_cred cred = {0};
	git_oid oid;
	char *url = gitsrc_redact_url(location);
	int ret = 0;

	if (strlen(id) != GITSRC_OID_HEXSZ || !gitsrc_is_hex_id(id) ||
	    git_oid_fromstr(&oid, id) < 0) {
		ret = error_setc(GS_EINVAL, "'%s' is not a commit id of 40 hex digits", id);
		goto done;
	}
	if (!git_commit_lookup(out, repo, &oid))
		goto done;
	if ((ret = gitsrc_connect(repo, location, &remote, &cred)) < 0 ||
	    (ret = gitsrc_fetch(remote, location, gitsrc_all_refs, 2, &cred)) < 0)
		goto done;
	if (git_commit_lookup(out, repo, &oid) < 0)
		ret = error_setc(GS_ENOTFOUND, "commit %s is in no branch or tag of '%s'", id, url);
done:
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	free(url);
	return ret;
}

/* The tree to export: the commit's, or its directory `subdir`. */
static int gitsrc_subtree(git_repository *repo, git_commit *commit, const char *subdir,
			  const char *url, git_tree **out)
{
	git_tree *root = NULL;
	git_tree_entry *e = NULL;
	char *clean = gitsrc_clean_subdir(subdir), hex[GITSRC_OID_HEXSZ + 1];
	int ret = 0;

	git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
	if (git_commit_tree(&root, commit) < 0) {
		ret = error_setc(GS_EINFRA, "cannot read the tree of commit %s of '%s': %s", hex,
				 url, git_error_last() ? git_error_last()->message : "");
		goto done;
	}
	if (!*clean) {
		*out = root;
		root = NULL;
		goto done;
	}
	if (git_tree_entry_bypath(&e, root, clean) < 0)
		ret = error_setc(GS_ENOTFOUND, "commit %s of '%s' has no directory '%s'", hex, url,
				 clean);
	else if (git_tree_entry_type(e) != GIT_OBJECT_TREE)
		ret = error_setc(GS_EINVAL, "'%s' in commit %s of '%s' is not a directory", clean,
				 hex, url);
	else if (git_tree_lookup(out, repo, git_tree_entry_id(e)) < 0)
		ret =
		    error_setc(GS_EINFRA, "cannot read '%s' in commit %s of '%s'", clean, hex, url);
done:
	git_tree_entry_free(e);
	git_tree_free(root);
	free(clean);
	return ret;
}

/* mkdir `dest`, or take it when it is an empty directory; *made says which. */
static int gitsrc_make_dest(const char *dest, int *made)
{
	DIR *d;
	struct dirent *de;
	int empty = 1;

	*made = 0;
	if (mkdir(dest, 0755) == 0) {
		*made = 1;
		return 0;
	}
	if (errno != EEXIST || !(d = opendir(dest)))
		return error_setc(GS_EINFRA, "cannot create '%s': %s", dest, strerror(errno));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	closedir(d);
	if (!empty)
		return error_setc(GS_EINVAL, "cannot export into '%s': it is not empty", dest);
	return 0;
}

/* Write `mark` (NULL: none) as GITSRC_MARK_FILE in the directory `fd`. */
static int gitsrc_write_mark(struct gitsrc_export *x, int fd, const char *dest, const char *mark)
{
	int mfd = openat(fd, GITSRC_MARK_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			 0644);
	int ret = 0;

	if (mfd < 0 && errno == EEXIST)
		return error_setc(GS_EINVAL,
				  "the tree of '%s' has '%s', a name gpuslim keeps for its mark of "
				  "an export",
				  x->url, GITSRC_MARK_FILE);
	if (mfd < 0 || gitsrc_write_all(mfd, mark, strlen(mark)) < 0 || futimens(mfd, x->times) < 0)
		ret = error_setc(GS_EINFRA, "cannot write '%s/%s': %s", dest, GITSRC_MARK_FILE,
				 strerror(errno));
	if (mfd >= 0)
		close(mfd);
	return ret;
}

static int gitsrc_export_marked(const char *location, const char *commit, const char *subdir,
				const char *dest, const char *mark)
{
	struct gitsrc_export x = {NULL, {{0, 0}, {0, 0}}, NULL, STRBUF_INIT};
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	char *url = gitsrc_redact_url(location);
	int ret, lock_fd = -1, made = 0, fd = -1;

	x.url = url;
	if ((ret = gitsrc_init()) < 0 || (ret = gitsrc_open_cache(location, &repo, &lock_fd)) < 0 ||
	    (ret = gitsrc_find_commit(repo, location, commit, &c)) < 0 ||
	    (ret = gitsrc_subtree(repo, c, subdir, url, &tree)) < 0 ||
	    (ret = gitsrc_make_dest(dest, &made)) < 0)
		goto done;
	x.repo = repo;
	x.times[0].tv_sec = x.times[1].tv_sec = (time_t)git_commit_time(c);
	fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = error_setc(GS_EINFRA, "cannot open '%s': %s", dest, strerror(errno));
		goto done;
	}
	ret = gitsrc_write_tree(&x, tree, fd, 0);
	if (!ret && mark)
		ret = gitsrc_write_mark(&x, fd, dest, mark);
	if (!ret && (fchmod(fd, 0755) < 0 || futimens(fd, x.times) < 0))
		ret = error_setc(GS_EINFRA, "cannot write '%s': %s", dest, strerror(errno));
done:
	if (fd >= 0)
		close(fd);
	if (ret < 0 && made)
		gitsrc_rmtree(dest);
	strbuf_release(&x.path);
	git_tree_free(tree);
	git_commit_free(c);
	gitsrc_close_cache(repo, lock_fd);
	free(url);
	return ret;
}

int gitsrc_export(const char *location, const char *commit, const char *subdir, const char *dest)
{
	return gitsrc_export_marked(location, commit, subdir, dest, NULL);
}

#define GITSRC_MARK_TEXT "# Generated by gpuslim"

/* 1 when `dir` holds GITSRC_MARK_FILE, a regular file starting with
 * GITSRC_MARK_TEXT: an export of ours. Never blocks on a FIFO. */
static int gitsrc_is_export(const char *dir)
{
	char head[sizeof(GITSRC_MARK_TEXT) - 1], *path = fs_join(dir, GITSRC_MARK_FILE);
	struct stat st;
	ssize_t got = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

	free(path);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		got = read(fd, head, sizeof(head));
	close(fd);
	return got == (ssize_t)sizeof(head) && !memcmp(head, GITSRC_MARK_TEXT, sizeof(head));
}

/* Put the directory `tmp` where `dir` is, which is ours: swapped in one
 * rename where the file system can, else moved aside first. The old one
 * ends up at `tmp` or in a sibling, removed either way. */
static int gitsrc_swap_in(const char *tmp, const char *dir)
{
	char *old = NULL;
	int ret = 0;

	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0)
		return gitsrc_rmtree(tmp);
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return error_setc(GS_EINFRA, "cannot rename '%s' to '%s': %s", tmp, dir,
				  strerror(errno));
	old = xstrfmt("%s.old-XXXXXX", dir);
	if (!mkdtemp(old) || rename(dir, old) < 0 || rename(tmp, dir) < 0)
		ret = error_setc(GS_EINFRA, "cannot replace '%s': %s", dir, strerror(errno));
	else
		ret = gitsrc_rmtree(old);
	free(old);
	return ret;
}

int gitsrc_export_dir(const char *location, const char *display_url, const char *commit,
		      const char *subdir, const char *dir)
{
	char *parent = fs_dirname(dir), *tmp = NULL, *mark = NULL;
	struct stat st;
	int ret = 0, exists;

	if (fs_mkdir_p(parent, 0755) < 0) {
		ret = error_setc(GS_EINFRA, "%s", error_last());
		goto done;
	}
	exists = lstat(dir, &st) == 0;
	if (exists && (!S_ISDIR(st.st_mode) || !gitsrc_is_export(dir))) {
		ret = error_setc(GS_EINVAL,
				 "cannot export the build context into '%s': something gpuslim did "
				 "not write is there (it has no %s); move it, or write elsewhere",
				 dir, GITSRC_MARK_FILE);
		goto done;
	}
	tmp = xstrfmt("%s.tmp-XXXXXX", dir);
	if (!mkdtemp(tmp)) {
		ret = error_setc(GS_EINFRA, "cannot create '%s': %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto done;
	}
	mark = xstrfmt(GITSRC_MARK_TEXT ": the tree of %s at %s%s%s, exported; the next export "
					"replaces this directory.\n",
		       display_url, commit, subdir ? ", directory " : "", subdir ? subdir : "");
	ret = gitsrc_export_marked(location, commit, subdir, tmp, mark);
	if (ret < 0)
		goto done;
	if (!exists) {
		if (rename(tmp, dir) < 0)
			ret = error_setc(GS_EINFRA, "cannot rename '%s' to '%s': %s", tmp, dir,
					 strerror(errno));
	} else {
		ret = gitsrc_swap_in(tmp, dir);
	}
done:
	if (tmp) {
		int saved = ret;
		char *keep = saved < 0 ? xstrdup(error_last()) : NULL;

		gitsrc_rmtree(tmp); /* gone already after a rename */
		if (keep) {
			error_setc(saved, "%s", keep);
			free(keep);
		}
		free(tmp);
	}
	free(mark);
	free(parent);
	return ret;
}

/* ---- the plan ------------------------------------------------------------ */

int plan_resolve_git(struct plan *p, struct vec *diags)
{
	const struct recipe *r = p->recipe;
	char commit[GITSRC_OID_HEXSZ + 1], *location;
	int ret, at_url = 0;

	if (!r->app.git.url.v)
		return 0;
	location = gitsrc_location(r->app.git.url.v, r->dir);
	ret = gitsrc_resolve_at(location, r->app.git.ref.v, commit, &at_url);
	free(location);
	if (ret == GS_ENOTFOUND || ret == GS_EINVAL) {
		struct diag d;
		const char *field = at_url	       ? "app.git.url"
				    : r->app.git.ref.v ? "app.git.ref"
						       : "app.git";
		struct rpos pos = at_url	     ? r->app.git.url.pos
				  : r->app.git.ref.v ? r->app.git.ref.pos
						     : r->app.git.pos;

		diag_set(&d, r->file, pos, field, "%s", error_last());
		diag_push(diags, diags->nr, &d, 0);
		diag_release(&d);
		return GS_EINVAL;
	}
	if (ret < 0)
		return ret;
	if (!p->git.url) {
		p->git.url = gitsrc_redact_url(r->app.git.url.v);
		p->git.ref = r->app.git.ref.v ? xstrdup(r->app.git.ref.v) : NULL;
	}
	free(p->git.commit);
	p->git.commit = xstrdup(commit);
	return 0;
}

int plan_export_git(struct plan *p, const char *dir)
{
	const struct recipe *r = p->recipe;
	char *location;
	int ret;

	if (!r->app.git.url.v)
		return 0;
	if (!p->git.commit)
		return error_setc(GS_EINVAL, "the git source '%s' is not resolved to a commit",
				  p->git.url ? p->git.url : "");
	location = gitsrc_location(r->app.git.url.v, r->dir);
	ret = gitsrc_export_dir(location, p->git.url, p->git.commit, r->app.git.subdir.v, dir);
	free(location);
	if (ret < 0)
		return ret;
	free(p->context);
	p->context = fs_abspath(dir);
	return 0;
}
