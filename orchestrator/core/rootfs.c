/*
 * Unpacking an image into a directory: the walk spools each layer, then
 * the spools are applied bottom first (rootfs.h says why and how safely).
 *
 * A spool is a sequence of records: a fixed header, the path, the link
 * target, the file's bytes. Applying one reads it twice: the whiteouts
 * first, then everything else, so that a whiteout only ever deletes what
 * the layers below made, whatever the order of the entries in its own
 * layer (OCI image spec, "Whiteouts"), without remembering this layer's
 * paths.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/rootfs.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/vec.h"

#define SPOOL_BUF (1u << 20)

struct rec_hdr {
	uint32_t type; /* enum image_entry_type */
	uint32_t mode, uid, gid;
	uint32_t path_len, link_len;
	uint64_t size;
};

struct spool {
	const struct image_layer *layer; /* the image's; valid until image_close() */
	int fd;
	uint64_t len;
};

struct unpack {
	const char *name;
	const struct rootfs_opts *o;
	const char *spool_dir;
	int abort_fd;
	int rootfd;
	struct vec spools; /* struct spool *, as streamed */
	struct spool *cur;
	char *buf; /* the current spool's write buffer, then the read buffer */
	size_t buf_len;
	uint64_t entries;
	struct rootfs_stats st;
	/* while applying */
	size_t layer_index;
	const char *layer_digest;
};

static void spool_free(void *p)
{
	struct spool *s = p;

	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static int aborted(const struct unpack *u)
{
	struct pollfd pfd = {u->abort_fd, POLLIN, 0};

	return u->abort_fd >= 0 && poll(&pfd, 1, 0) > 0;
}

/* ---- resolving paths inside the root ---- */

/*
 * Without openat2 (Linux before 5.6, valgrind): RESOLVE_IN_ROOT by hand, one
 * component at a time, never following a link by the kernel: a symbolic
 * link is read and its target walked from the root (absolute) or from where
 * it is, ".." stops at the root, and more than 40 links is ELOOP, as the
 * kernel counts. Nothing else writes the tree meanwhile, so the walk sees
 * what the kernel would.
 */
static int open_walk(int rootfd, const char *path, int flags)
{
	struct strbuf todo = STRBUF_INIT, comp = STRBUF_INIT;
	struct vec up = VEC_INIT(NULL); /* directory fds above cur, as (void *)(intptr_t) */
	int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 0), links = 0, saved = 0, fd = -1;
	size_t pos = 0;

	strbuf_addstr(&todo, path);
	while (cur >= 0) {
		struct stat st;
		char target[PATH_MAX];
		ssize_t n;
		const char *p, *slash;
		int last;

		while (pos < todo.len && todo.buf[pos] == '/')
			pos++;
		p = todo.buf + pos;
		slash = strchrnul(p, '/');
		strbuf_reset(&comp);
		strbuf_add(&comp, p, (size_t)(slash - p));
		pos = (size_t)(slash - todo.buf);
		while (pos < todo.len && todo.buf[pos] == '/')
			pos++;
		last = pos >= todo.len;
		if (!comp.len || !strcmp(comp.buf, ".")) {
			if (last) {
				fd = openat(cur, ".", flags | O_CLOEXEC);
				saved = errno;
				break;
			}
			continue;
		}
		if (!strcmp(comp.buf, "..")) {
			if (up.nr) {
				close(cur);
				cur = (int)(intptr_t)up.items[--up.nr];
			}
			if (last) {
				fd = openat(cur, ".", flags | O_CLOEXEC);
				saved = errno;
				break;
			}
			continue;
		}
		if (fstatat(cur, comp.buf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			saved = errno;
			break;
		}
		if (S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
			struct strbuf rest = STRBUF_INIT;

			n = readlinkat(cur, comp.buf, target, sizeof(target) - 1);
			if (n < 0 || ++links > 40) {
				saved = n < 0 ? errno : ELOOP;
				break;
			}
			target[n] = '\0';
			/* The link's target, then what was left of the path. */
			strbuf_addstr(&rest, target);
			if (!last)
				strbuf_addf(&rest, "/%s", todo.buf + pos);
			strbuf_reset(&todo);
			strbuf_addstr(&todo, rest.buf);
			strbuf_release(&rest);
			pos = 0;
			if (target[0] == '/') {
				while (up.nr) {
					close(cur);
					cur = (int)(intptr_t)up.items[--up.nr];
				}
			}
			continue;
		}
		if (last) {
			fd = openat(cur, comp.buf, flags | O_NOFOLLOW | O_CLOEXEC);
			saved = errno;
			break;
		}
		fd = openat(cur, comp.buf, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			saved = errno;
			break;
		}
		vec_push(&up, (void *)(intptr_t)cur);
		cur = fd;
		fd = -1;
	}
	if (cur >= 0)
		close(cur);
	for (size_t i = 0; i < up.nr; i++)
		close((int)(intptr_t)up.items[i]);
	vec_release(&up);
	strbuf_release(&todo);
	strbuf_release(&comp);
	if (fd < 0)
		errno = saved ? saved : ENOENT;
	return fd;
}

int rootfs_open(int rootfd, const char *path, int flags)
{
	static int no_openat2;
	struct open_how how;
	long fd = -1;

	if (!*path)
		path = ".";
	/* The tests walk by hand too, where openat2 is there. */
	if (!no_openat2 && !getenv("GPUSLIM_ROOTFS_NO_OPENAT2")) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_CLOEXEC);
		how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
		/* EAGAIN: a rename raced the lookup; nothing renames here, but be sure. */
		for (int i = 0; i < 16; i++) {
			fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
			if (fd >= 0 || errno != EAGAIN)
				break;
		}
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
		no_openat2 = 1;
	}
	return open_walk(rootfd, path, flags);
}

/*
 * A name that an *at() call with it would take outside the directory it is
 * relative to: "", "." and "..". Every last component that is created,
 * opened without in-root resolution or removed is checked: "a/.." as the
 * base of a WorkingDir or ".wh..." as a whiteout of ".." would otherwise
 * climb out of the root (EINVAL).
 */
static int bad_name(const char *name)
{
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		errno = EINVAL;
		return 1;
	}
	return 0;
}

/* Whether `path` has a "." or ".." component: never one to create, delete or mount on. */
static int has_dot_component(const char *path)
{
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, "/");

		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return 1;
		p += len;
		while (*p == '/')
			p++;
	}
	return 0;
}

/*
 * The directory `dir` (relative, "" the root), created with its missing
 * parents when `create`: one component at a time, each parent resolved
 * inside the root again, each new name a plain one (no "." or "..", which
 * would climb out of the parent it is made in).
 */
static int open_dir(int rootfd, const char *dir, int create)
{
	const char *slash, *base;
	int fd, pfd, saved;

	if (has_dot_component(dir)) {
		errno = EINVAL;
		return -1;
	}
	fd = rootfs_open(rootfd, dir, O_DIRECTORY | O_RDONLY);
	if (fd >= 0 || errno != ENOENT || !create)
		return fd;
	slash = strrchr(dir, '/');
	base = slash ? slash + 1 : dir;
	if (bad_name(base))
		return -1;
	if (slash) {
		char *parent = xstrndup(dir, (size_t)(slash - dir));

		pfd = open_dir(rootfd, parent, 1);
		free(parent);
	} else {
		pfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	}
	if (pfd < 0)
		return -1;
	/* EEXIST: a dangling symbolic link is there; the open then fails with ELOOP. */
	if (!*base)
		errno = EINVAL, fd = -1;
	else if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
		fd = -1;
	else
		fd = rootfs_open(rootfd, dir, O_DIRECTORY | O_RDONLY | O_NOFOLLOW);
	saved = errno;
	close(pfd);
	errno = saved;
	return fd;
}

/* The directory holding `path`'s last component (*base points at it there). */
static int open_parent(int rootfd, const char *path, const char **base, int create)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	*base = slash ? slash + 1 : path;
	if (has_dot_component(path) || bad_name(*base)) {
		errno = EINVAL;
		return -1;
	}
	if (!slash)
		return fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	dir = xstrndup(path, (size_t)(slash - path));
	fd = open_dir(rootfd, dir, create);
	free(dir);
	return fd;
}

/* ---- removing ---- */

static int remove_at(int dfd, const char *name);

/* Let the owner write into the open directory `fd` (a tree's program may have taken it away). */
static void make_writable(int fd)
{
	struct stat st;

	if (!fstat(fd, &st) && (st.st_mode & 0700) != 0700)
		fchmod(fd, (st.st_mode & 07777) | 0700);
}

/* Remove every entry of the open directory `fd`. */
static int clear_dir(int fd)
{
	struct vec names = VEC_INIT(free);
	struct dirent *de;
	DIR *d;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0), ret = 0;

	if (dup_fd < 0)
		return -1;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -1;
	}
	/* Names first, removal after: a directory changing under readdir() may skip entries. */
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			vec_pushstr(&names, de->d_name);
	closedir(d);
	for (size_t i = 0; i < names.nr && !ret; i++)
		ret = remove_at(fd, names.items[i]);
	vec_release(&names);
	return ret;
}

/* Remove `name` in `dfd`, a directory with all it holds; a missing one is success. */
static int remove_at(int dfd, const char *name)
{
	struct stat st;
	int fd, ret;

	/* "." or ".." would be the directory itself or the one above it: never. */
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/')) {
		errno = EINVAL;
		return -1;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode)) {
		if (!unlinkat(dfd, name, 0) || errno == ENOENT)
			return 0;
		if (errno != EACCES && errno != EPERM)
			return -1;
		make_writable(dfd);
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	}
	fd = openat(dfd, name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && !fchmodat(dfd, name, 0700, AT_SYMLINK_NOFOLLOW))
		fd = openat(dfd, name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	make_writable(fd);
	ret = clear_dir(fd);
	close(fd);
	if (ret < 0)
		return -1;
	if (!unlinkat(dfd, name, AT_REMOVEDIR) || errno == ENOENT)
		return 0;
	if (errno != EACCES && errno != EPERM)
		return -1;
	make_writable(dfd);
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -1 : 0;
}

int rootfs_remove_tree(const char *path)
{
	char *parent, *slash;
	const char *base;
	int dfd, ret;

	if (!*path)
		return error_set("cannot remove '': empty path");
	parent = xstrdup(path);
	slash = strrchr(parent, '/');
	if (slash == parent) {
		parent[1] = '\0';
		base = path + 1;
	} else if (slash) {
		*slash = '\0';
		base = path + (slash - parent) + 1;
	} else {
		free(parent);
		parent = xstrdup(".");
		base = path;
	}
	dfd = open(parent, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	ret = dfd < 0 ? -1 : remove_at(dfd, base);
	if (ret < 0)
		ret = error_set("cannot remove '%s': %s", path, strerror(errno));
	if (dfd >= 0)
		close(dfd);
	free(parent);
	return ret;
}

/* ---- spooling: the walk's visitor ---- */

static int spool_flush(struct unpack *u)
{
	size_t off = 0;

	while (off < u->buf_len) {
		ssize_t n = write(u->cur->fd, u->buf + off, u->buf_len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set("image '%s': cannot write a layer's spool in '%s': %s",
					 u->name, u->spool_dir, strerror(errno));
		off += (size_t)n;
	}
	u->cur->len += u->buf_len;
	u->buf_len = 0;
	return 0;
}

static int spool_add(struct unpack *u, const void *data, size_t len)
{
	while (len) {
		size_t take = SPOOL_BUF - u->buf_len;

		if (take > len)
			take = len;
		memcpy(u->buf + u->buf_len, data, take);
		u->buf_len += take;
		data = (const char *)data + take;
		len -= take;
		if (u->buf_len == SPOOL_BUF && spool_flush(u) < 0)
			return -1;
	}
	return 0;
}

static int on_layer_begin(void *ctx, const struct image_layer *layer)
{
	struct unpack *u = ctx;
	struct spool *s = xcalloc(1, sizeof(*s));

	s->layer = layer;
	s->fd = open(u->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* No O_TMPFILE on this file system: a named file, unlinked at once. */
		char *tmpl = xstrfmt("%s/gpuslim-spool-XXXXXX", u->spool_dir);

		s->fd = mkostemp(tmpl, O_CLOEXEC);
		if (s->fd >= 0)
			unlink(tmpl);
		free(tmpl);
	}
	if (s->fd < 0) {
		int saved = errno;

		free(s);
		return error_set("image '%s': cannot create a layer's spool in '%s': %s", u->name,
				 u->spool_dir, strerror(saved));
	}
	vec_push(&u->spools, s);
	u->cur = s;
	u->buf_len = 0;
	return 0;
}

static int on_entry(void *ctx, const struct image_layer *layer, const struct image_entry *e,
		    struct image_reader *rd)
{
	struct unpack *u = ctx;
	struct rec_hdr h;
	uint64_t left;

	if (!(++u->entries & 255) && aborted(u))
		return error_set("image '%s': interrupted", u->name);
	memset(&h, 0, sizeof(h));
	h.type = (uint32_t)e->type;
	h.mode = e->mode;
	h.uid = e->uid;
	h.gid = e->gid;
	h.path_len = (uint32_t)strlen(e->path);
	h.link_len = e->link ? (uint32_t)strlen(e->link) : 0;
	h.size = e->type == IMAGE_ENTRY_FILE ? e->size : 0;
	if (spool_add(u, &h, sizeof(h)) < 0 || spool_add(u, e->path, h.path_len) < 0 ||
	    (h.link_len && spool_add(u, e->link, h.link_len) < 0))
		return -1;
	for (left = h.size; left;) {
		long n;

		if (u->buf_len == SPOOL_BUF && spool_flush(u) < 0)
			return -1;
		n = image_read(rd, u->buf + u->buf_len,
			       left < SPOOL_BUF - u->buf_len ? (size_t)left
							     : SPOOL_BUF - u->buf_len);
		if (n < 0)
			return -1;
		if (!n)
			return error_setc(GS_EINVAL,
					  "image '%s': entry '%s' ends %" PRIu64
					  " bytes before its size",
					  u->name, e->path, left);
		u->buf_len += (size_t)n;
		left -= (uint64_t)n;
	}
	return 0;
}

static int on_layer_end(void *ctx, const struct image_layer *layer)
{
	struct unpack *u = ctx;

	if (aborted(u))
		return error_set("image '%s': interrupted", u->name);
	return spool_flush(u);
}

/* ---- applying a spool ---- */

struct spool_reader {
	int fd;
	uint64_t len, off; /* the spool's length, the next record */
	char *buf;	   /* SPOOL_BUF bytes: the window [buf_off, buf_off + buf_len) */
	uint64_t buf_off;
	size_t buf_len;
};

/* Make the `n` bytes at `off` readable at the returned pointer. */
static const char *spool_need(struct spool_reader *r, uint64_t off, size_t n)
{
	if (off < r->buf_off || off + n > r->buf_off + r->buf_len) {
		ssize_t got;

		if (n > SPOOL_BUF || off + n > r->len)
			return NULL;
		r->buf_off = off;
		r->buf_len = 0;
		while (r->buf_len < n) {
			got = pread(r->fd, r->buf + r->buf_len, SPOOL_BUF - r->buf_len,
				    (off_t)(off + r->buf_len));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return NULL;
			r->buf_len += (size_t)got;
		}
	}
	return r->buf + (off - r->buf_off);
}

/* One record at r->off: its header and strings (NUL-terminated copies); data at *data_off. */
static int spool_next(struct spool_reader *r, struct rec_hdr *h, struct strbuf *path,
		      struct strbuf *link, uint64_t *data_off)
{
	const char *p = spool_need(r, r->off, sizeof(*h));

	if (!p)
		return -1;
	memcpy(h, p, sizeof(*h));
	strbuf_reset(path);
	strbuf_reset(link);
	if (h->path_len + (uint64_t)h->link_len > SPOOL_BUF - sizeof(*h) ||
	    !(p = spool_need(r, r->off + sizeof(*h), h->path_len + h->link_len)))
		return -1;
	strbuf_add(path, p, h->path_len);
	strbuf_add(link, p + h->path_len, h->link_len);
	*data_off = r->off + sizeof(*h) + h->path_len + h->link_len;
	r->off = *data_off + h->size;
	return 0;
}

static int GS_FMT(3, 4) entry_error(struct unpack *u, const char *path, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	error_set("image '%s': layer %zu (%.19s…): entry '%s': %s", u->name, u->layer_index,
		  u->layer_digest ? u->layer_digest : "", path, sb.buf);
	strbuf_release(&sb);
	return -1;
}

static int copy_data(struct spool_reader *r, uint64_t off, uint64_t size, int out)
{
	loff_t in_off = (loff_t)off;

	while (size) {
		ssize_t n = copy_file_range(r->fd, &in_off, out, NULL, size, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 &&
		    (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
			break;
		if (n <= 0)
			return -1;
		size -= (uint64_t)n;
	}
	/* A file system that copy_file_range() cannot do: through the buffer. */
	while (size) {
		size_t chunk = size < SPOOL_BUF ? (size_t)size : SPOOL_BUF;
		ssize_t n = pread(r->fd, r->buf, chunk, (off_t)in_off);

		r->buf_len = 0; /* the window is gone */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, r->buf + done, (size_t)(n - done));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			done += w;
		}
		in_off += n;
		size -= (uint64_t)n;
	}
	return 0;
}

static unsigned perm_of(const struct unpack *u, const struct rec_hdr *h)
{
	return u->o->keep_owner ? h->mode & 07777 : h->mode & 01777;
}

static int apply_deletion(struct unpack *u, const struct rec_hdr *h, const char *path)
{
	const char *base;
	int fd, ret = 0;

	if (h->type == IMAGE_ENTRY_OPAQUE) {
		fd = rootfs_open(u->rootfd, path, O_DIRECTORY | O_RDONLY);
		if (fd < 0)
			return errno == ENOENT || errno == ENOTDIR
				   ? 0
				   : entry_error(u, path, "cannot open the opaque directory: %s",
						 strerror(errno));
		if (clear_dir(fd) < 0)
			ret = entry_error(u, path, "cannot empty the opaque directory: %s",
					  strerror(errno));
		close(fd);
		u->st.whiteouts++;
		return ret;
	}
	fd = open_parent(u->rootfd, path, &base, 0);
	if (fd < 0 && errno == EINVAL)
		return entry_error(u, path, "a whiteout of '.' or '..' is refused");
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR
			   ? 0
			   : entry_error(u, path, "cannot open its directory: %s", strerror(errno));
	if (remove_at(fd, base) < 0)
		ret = entry_error(u, path, "cannot delete it (whiteout): %s", strerror(errno));
	close(fd);
	u->st.whiteouts++;
	return ret;
}

static int apply_dir(struct unpack *u, const struct rec_hdr *h, const char *path)
{
	const char *base;
	struct stat st;
	int pfd = open_parent(u->rootfd, path, &base, 1), fd = -1, ret = -1;

	if (pfd < 0)
		return entry_error(u, path, "cannot create its directory: %s", strerror(errno));
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		if (remove_at(pfd, base) < 0 || mkdirat(pfd, base, 0700) < 0) {
			entry_error(u, path, "cannot create it: %s", strerror(errno));
			goto done;
		}
	}
	fd = openat(pfd, base, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (u->o->keep_owner && fchown(fd, h->uid, h->gid) < 0) ||
	    fchmod(fd, perm_of(u, h) | (u->o->keep_owner ? 0 : 0700)) < 0) {
		entry_error(u, path, "cannot set it up: %s", strerror(errno));
		goto done;
	}
	u->st.dirs++;
	ret = 0;
done:
	if (fd >= 0)
		close(fd);
	close(pfd);
	return ret;
}

static int apply_file(struct unpack *u, struct spool_reader *r, const struct rec_hdr *h,
		      const char *path, uint64_t data_off)
{
	const char *base;
	int pfd = open_parent(u->rootfd, path, &base, 1), fd = -1, ret = -1;

	if (pfd < 0)
		return entry_error(u, path, "cannot create its directory: %s", strerror(errno));
	if (remove_at(pfd, base) < 0 ||
	    (fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) <
		0) {
		entry_error(u, path, "cannot create it: %s", strerror(errno));
		goto done;
	}
	if (copy_data(r, data_off, h->size, fd) < 0) {
		entry_error(u, path, "cannot write it: %s", strerror(errno));
		goto done;
	}
	if ((u->o->keep_owner && fchown(fd, h->uid, h->gid) < 0) || fchmod(fd, perm_of(u, h)) < 0) {
		entry_error(u, path, "cannot set its mode: %s", strerror(errno));
		goto done;
	}
	u->st.files++;
	u->st.bytes += h->size;
	ret = 0;
done:
	if (fd >= 0)
		close(fd);
	close(pfd);
	return ret;
}

static int apply_symlink(struct unpack *u, const struct rec_hdr *h, const char *path,
			 const char *target)
{
	const char *base;
	int pfd = open_parent(u->rootfd, path, &base, 1), ret = 0;

	if (pfd < 0)
		return entry_error(u, path, "cannot create its directory: %s", strerror(errno));
	if (remove_at(pfd, base) < 0 || symlinkat(target, pfd, base) < 0 ||
	    (u->o->keep_owner && fchownat(pfd, base, h->uid, h->gid, AT_SYMLINK_NOFOLLOW) < 0))
		ret = entry_error(u, path, "cannot create the symbolic link: %s", strerror(errno));
	else
		u->st.symlinks++;
	close(pfd);
	return ret;
}

static int apply_hardlink(struct unpack *u, const char *path, const char *target)
{
	const char *base, *tbase;
	struct stat tst, st;
	int tfd = open_parent(u->rootfd, target, &tbase, 0), pfd = -1, ret = -1;

	if (tfd < 0 || fstatat(tfd, tbase, &tst, AT_SYMLINK_NOFOLLOW) < 0) {
		entry_error(u, path, "hard link to '%s', which is not in the image", target);
		goto done;
	}
	if (S_ISDIR(tst.st_mode)) {
		entry_error(u, path, "hard link to '%s', a directory", target);
		goto done;
	}
	pfd = open_parent(u->rootfd, path, &base, 1);
	if (pfd < 0) {
		entry_error(u, path, "cannot create its directory: %s", strerror(errno));
		goto done;
	}
	if (!fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) && st.st_dev == tst.st_dev &&
	    st.st_ino == tst.st_ino) {
		ret = 0; /* already that file */
		goto done;
	}
	/* flags 0: the target itself, a symbolic link included, is linked, never followed. */
	if (remove_at(pfd, base) < 0 || linkat(tfd, tbase, pfd, base, 0) < 0) {
		entry_error(u, path, "cannot create the hard link to '%s': %s", target,
			    strerror(errno));
		goto done;
	}
	u->st.hardlinks++;
	ret = 0;
done:
	if (tfd >= 0)
		close(tfd);
	if (pfd >= 0)
		close(pfd);
	return ret;
}

static int apply_spool(struct unpack *u, struct spool *s)
{
	struct spool_reader r = {s->fd, s->len, 0, u->buf, 0, 0};
	struct strbuf path = STRBUF_INIT, link = STRBUF_INIT;
	struct rec_hdr h;
	uint64_t data_off, n = 0;
	int ret = 0;

	for (int pass = 0; pass < 2 && !ret; pass++) {
		for (r.off = 0; r.off < r.len && !ret;) {
			errno = 0;
			if (spool_next(&r, &h, &path, &link, &data_off) < 0) {
				ret = error_set("image '%s': cannot read back the spool of layer "
						"%zu: %s",
						u->name, u->layer_index,
						errno ? strerror(errno) : "damaged");
				break;
			}
			if (!(++n & 1023) && aborted(u)) {
				ret = error_set("image '%s': interrupted", u->name);
				break;
			}
			if (h.type == IMAGE_ENTRY_WHITEOUT || h.type == IMAGE_ENTRY_OPAQUE) {
				if (!pass)
					ret = apply_deletion(u, &h, path.buf);
				continue;
			}
			if (!pass)
				continue;
			switch (h.type) {
			case IMAGE_ENTRY_FILE:
				ret = apply_file(u, &r, &h, path.buf, data_off);
				break;
			case IMAGE_ENTRY_DIR:
				ret = apply_dir(u, &h, path.buf);
				break;
			case IMAGE_ENTRY_SYMLINK:
				ret = apply_symlink(u, &h, path.buf, link.buf);
				break;
			case IMAGE_ENTRY_HARDLINK:
				ret = apply_hardlink(u, path.buf, link.buf);
				break;
			default:
				u->st.skipped++;
				break;
			}
		}
	}
	strbuf_release(&path);
	strbuf_release(&link);
	return ret;
}

/* The spool of the image's layer `i`: by place, else (a layer streamed twice) by diff_id. */
static struct spool *spool_for(struct unpack *u, const struct image *img, size_t i)
{
	const struct image_layer *want = image_get_layer(img, i);

	for (size_t j = 0; j < u->spools.nr; j++) {
		struct spool *s = u->spools.items[j];

		if (s->fd >= 0 && s->layer->index == i)
			return s;
	}
	for (size_t j = 0; want && j < u->spools.nr; j++) {
		struct spool *s = u->spools.items[j];

		if (s->fd >= 0 && s->layer->diff_id && want->diff_id &&
		    !strcmp(s->layer->diff_id, want->diff_id))
			return s;
	}
	return NULL;
}

int rootfs_unpack(const char *name, const struct rootfs_opts *o, const char *dir, json_t **config,
		  struct rootfs_stats *st)
{
	struct image_opts io_default = {0};
	const struct image_opts *io = o->image ? o->image : &io_default;
	struct image_visitor v = {0};
	struct unpack u = {0};
	struct image *img = NULL;
	char *tmpdir = NULL;
	int ret;

	u.name = name;
	u.o = o;
	u.abort_fd = io->abort_fd ? *io->abort_fd : -1;
	vec_init(&u.spools, spool_free);
	if (o->spool_dir) {
		u.spool_dir = o->spool_dir;
	} else {
		const char *t = getenv("TMPDIR");

		tmpdir = xstrdup(t && *t ? t : "/tmp");
		u.spool_dir = tmpdir;
	}
	u.rootfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (u.rootfd < 0) {
		ret = error_set("cannot open '%s': %s", dir, strerror(errno));
		goto done;
	}
	u.buf = xmalloc(SPOOL_BUF);
	v.ctx = &u;
	v.layer_begin = on_layer_begin;
	v.entry = on_entry;
	v.layer_end = on_layer_end;
	if ((ret = image_open(name, io, &img)) < 0 || (ret = image_walk(img, &v)) < 0)
		goto done;
	for (size_t i = 0; i < image_layers_nr(img); i++) {
		struct spool *s = spool_for(&u, img, i);

		if (!s) {
			ret =
			    error_setc(GS_EINVAL, "image '%s': layer %zu was never read", name, i);
			goto done;
		}
		u.layer_index = i;
		u.layer_digest = image_get_layer(img, i)->diff_id;
		/* Kept open to the end: an image may hold the same layer twice. */
		if ((ret = apply_spool(&u, s)) < 0)
			goto done;
		u.st.layers++;
	}
	if (config)
		*config = json_incref(image_get_meta(img)->config);
	if (st)
		*st = u.st;
done:
	if (img)
		image_close(img);
	if (u.rootfd >= 0)
		close(u.rootfd);
	vec_release(&u.spools);
	free(u.buf);
	free(tmpdir);
	return ret < 0 ? ret : 0;
}

/* The absolute path of the open `fd`, from /proc/self/fd (newly allocated), NULL on error. */
static char *fd_path(int fd)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

int rootfs_mountpoint(int rootfd, const char *path, int dir, char **real)
{
	const char *base;
	struct stat st;
	char *root = NULL, *at = NULL;
	int pfd = open_parent(rootfd, path, &base, 1), fd = -1, ret = -1;
	size_t len;

	*real = NULL;
	if (pfd < 0) {
		error_set("cannot create the directory of '/%s' in the root: %s", path,
			  strerror(errno));
		goto done;
	}
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		if (remove_at(pfd, base) < 0 ||
		    (dir ? mkdirat(pfd, base, 0755)
			 : (fd = openat(pfd, base,
					O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					0644))) < 0) {
			error_set("cannot create '/%s' in the root: %s", path, strerror(errno));
			goto done;
		}
		if (fd >= 0)
			close(fd);
	}
	fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	root = fd_path(rootfd);
	at = fd < 0 ? NULL : fd_path(fd);
	len = root ? strlen(root) : 0;
	if (!root || !at || strncmp(at, root, len) || (at[len] && at[len] != '/')) {
		error_set("cannot find '/%s' in the root", path);
		goto done;
	}
	*real = xstrdup(at[len] ? at + len + 1 : "");
	ret = 0;
done:
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	free(root);
	free(at);
	return ret;
}
