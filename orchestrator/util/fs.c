#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/vec.h"

int fs_read_fd(int fd, const char *name, struct strbuf *out, size_t max)
{
	char chunk[65536];
	size_t total = 0;

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_set("cannot read '%s': %s", name, strerror(errno));
		}
		if (n == 0)
			return 0;
		total += (size_t)n;
		if (max && total > max)
			return error_set("cannot read '%s': larger than %zu bytes", name, max);
		strbuf_add(out, chunk, (size_t)n);
	}
}

int fs_read_file(const char *path, struct strbuf *out, size_t max)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_setc(errno == ENOENT ? GS_ENOTFOUND : GS_ERR, "cannot read '%s': %s",
				  path, strerror(errno));
	ret = fs_read_fd(fd, path, out, max);
	close(fd);
	return ret;
}

/* write() all of `data` to `fd`; errors name `path`. */
static int fs_write_all(int fd, const char *path, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_set("cannot write '%s': %s", path, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write all of `data` to the new file `fd`, give it the mode of the regular
 * file at `path` it will replace (a report made 0600 stays 0600), else 0644
 * whatever the umask, fsync it when asked, and close it. Errors name `path`,
 * the destination.
 */
static int fs_write_fd(int fd, const char *path, const void *data, size_t len, int do_fsync)
{
	int ret = fs_write_all(fd, path, data, len);
	struct stat st;
	mode_t mode = 0644;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		mode = st.st_mode & 07777;
	if (!ret && fchmod(fd, mode) < 0)
		ret = error_set("cannot write '%s': %s", path, strerror(errno));
	if (!ret && do_fsync && fsync(fd) < 0)
		ret = error_set("cannot write '%s': %s", path, strerror(errno));
	if (close(fd) < 0 && !ret)
		ret = error_set("cannot write '%s': %s", path, strerror(errno));
	return ret;
}

/* Write `len` bytes to a new temporary beside `path`; *tmp_out names it. */
static int fs_write_temp(const char *path, const void *data, size_t len, int do_fsync,
			 char **tmp_out)
{
	char *tmp = xstrfmt("%s.tmp-XXXXXX", path);
	int fd, ret;

	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = error_set("cannot write '%s': %s", path, strerror(errno));
		free(tmp);
		return ret;
	}
	ret = fs_write_fd(fd, path, data, len, do_fsync);
	if (ret) {
		unlink(tmp);
		free(tmp);
		return ret;
	}
	*tmp_out = tmp;
	return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len)
{
	char *tmp = NULL;
	int ret = fs_write_temp(path, data, len, 1, &tmp);

	if (ret < 0)
		return ret;
	if (rename(tmp, path) < 0) {
		ret = error_set("cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ret;
}

/*
 * The file a chain of symbolic links ends at, newly allocated: `path`
 * itself when it is no link; a relative target is taken from the link's
 * directory. The end need not exist (a dangling link names the file to
 * create). NULL and "too many levels of symbolic links" after 40 links.
 */
static char *fs_follow_links(const char *path)
{
	char *cur = xstrdup(path);

	for (int hops = 0; hops <= 40; hops++) {
		char target[PATH_MAX], *dir;
		ssize_t n = readlink(cur, target, sizeof(target) - 1);

		if (n < 0)
			return cur; /* not a link (or not there): the end */
		target[n] = '\0';
		dir = fs_dirname(cur);
		free(cur);
		cur = fs_join(dir, target);
		free(dir);
	}
	error_set("cannot write '%s': %s", path, strerror(ELOOP));
	free(cur);
	return NULL;
}

/* Straight through to what `path` already is (a FIFO, a device): no
 * temporary, no rename, nothing created. */
static int fs_write_through(const char *path, const void *data, size_t len, int append)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | (append ? O_APPEND : 0));
	int ret;

	if (fd < 0)
		return error_set("cannot write '%s': %s", path, strerror(errno));
	ret = fs_write_all(fd, path, data, len);
	if (close(fd) < 0 && !ret)
		ret = error_set("cannot write '%s': %s", path, strerror(errno));
	return ret;
}

/* The end of the file `path`, created 0644 when absent; not atomic, as
 * appending never is, but never truncating either. */
static int fs_write_append(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	int ret;

	if (fd < 0)
		return error_set("cannot write '%s': %s", path, strerror(errno));
	ret = fs_write_all(fd, path, data, len);
	if (!ret && fsync(fd) < 0 && errno != EINVAL)
		ret = error_set("cannot write '%s': %s", path, strerror(errno));
	if (close(fd) < 0 && !ret)
		ret = error_set("cannot write '%s': %s", path, strerror(errno));
	return ret;
}

/* 1 when `st` is the file open on descriptor `fd`. */
static int fs_same_file(const struct stat *st, int fd)
{
	struct stat fst;

	return fstat(fd, &fst) == 0 && fst.st_dev == st->st_dev && fst.st_ino == st->st_ino;
}

int fs_write_output(const char *path, const void *data, size_t len, unsigned flags)
{
	int append = (flags & FS_OUTPUT_APPEND) != 0;
	struct stat st;
	char *end;
	int ret;

	if (!strcmp(path, "-"))
		return fs_write_all(STDOUT_FILENO, "-", data, len);
	if (stat(path, &st) == 0) {
		/* /dev/stdout, /proc/self/fd/2: the descriptor itself, at its offset */
		if (fs_same_file(&st, STDOUT_FILENO))
			return fs_write_all(STDOUT_FILENO, path, data, len);
		if (fs_same_file(&st, STDERR_FILENO))
			return fs_write_all(STDERR_FILENO, path, data, len);
		if (S_ISDIR(st.st_mode))
			return error_set("cannot write '%s': %s", path, strerror(EISDIR));
		if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))
			return fs_write_through(path, data, len, append);
		if (!S_ISREG(st.st_mode))
			return error_set("cannot write '%s': not a regular file, a FIFO or a "
					 "character device",
					 path);
	}
	/* A regular file or a new one; through a link, the file it points to. */
	end = fs_follow_links(path);
	if (!end)
		return -1;
	ret = append ? fs_write_append(end, data, len) : fs_write_atomic(end, data, len);
	if (ret < 0 && strcmp(end, path))
		error_prefix("'%s' links to '%s'", path, end);
	free(end);
	return ret;
}

void fs_batch_init(struct fs_batch *b)
{
	vec_init(&b->paths, free);
	vec_init(&b->tmps, free);
	b->sync_fd = -1;
}

int fs_batch_add(struct fs_batch *b, const char *path, const void *data, size_t len)
{
	char *tmp = NULL;

	if (fs_write_temp(path, data, len, 0, &tmp) < 0)
		return -1;
	if (b->sync_fd < 0)
		b->sync_fd = open(tmp, O_RDONLY | O_CLOEXEC);
	vec_pushstr(&b->paths, path);
	vec_push(&b->tmps, tmp);
	return 0;
}

int fs_batch_commit(struct fs_batch *b)
{
	if (b->sync_fd >= 0 && syncfs(b->sync_fd) < 0)
		return error_set("cannot write '%s': %s", (char *)b->paths.items[0],
				 strerror(errno));
	for (size_t i = 0; i < b->paths.nr; i++) {
		if (rename(b->tmps.items[i], b->paths.items[i]) < 0)
			return error_set("cannot write '%s': %s", (char *)b->paths.items[i],
					 strerror(errno));
		free(b->tmps.items[i]);
		b->tmps.items[i] = NULL;
	}
	return 0;
}

void fs_batch_release(struct fs_batch *b)
{
	for (size_t i = 0; i < b->tmps.nr; i++)
		if (b->tmps.items[i])
			unlink(b->tmps.items[i]);
	if (b->sync_fd >= 0)
		close(b->sync_fd);
	vec_release(&b->paths);
	vec_release(&b->tmps);
	b->sync_fd = -1;
}

/* 1 when `dir` has an entry, 0 when it is empty or absent, -1 on error. */
static int fs_dir_has_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	if (!d)
		return errno == ENOENT ? 0
				       : error_set("cannot read '%s': %s", dir, strerror(errno));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			found = 1;
			break;
		}
	closedir(d);
	return found;
}

/* Remove the temporary directory and the first `n` files made in it. */
static void fs_fill_undo(const char *tmp, const struct fs_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *p = fs_join(tmp, files[i].name);

		unlink(p);
		free(p);
	}
	rmdir(tmp);
}

static int fs_fill_one(const char *tmp, const struct fs_file *files, size_t i)
{
	char *path = fs_join(tmp, files[i].name);
	int fd, ret = 0;

	if (files[i].same_as >= 0 && (size_t)files[i].same_as < i) {
		char *src = fs_join(tmp, files[files[i].same_as].name);

		if (link(src, path) < 0)
			ret = error_set("cannot write '%s': %s", path, strerror(errno));
		free(src);
	} else if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		ret = error_set("cannot write '%s': %s", path, strerror(errno));
	} else {
		/* no fsync here: the caller syncs the whole directory once */
		ret = fs_write_fd(fd, path, files[i].data, files[i].len, 0);
	}
	free(path);
	return ret;
}

int fs_fill_empty_dir(const char *dir, const struct fs_file *files, size_t n)
{
	struct stat st;
	mode_t mode = 0755;
	char *base = xstrdup(dir), *tmp;
	size_t made = 0;
	int ret, fd;

	while (strlen(base) > 1 && ends_with(base, "/"))
		base[strlen(base) - 1] = '\0';
	ret = fs_dir_has_entries(base);
	if (ret != 0) {
		free(base);
		return ret;
	}
	for (size_t i = 0; i < n; i++)
		if (strchr(files[i].name, '/')) {
			free(base);
			return 1;
		}
	if (stat(base, &st) == 0)
		mode = st.st_mode & 07777;
	tmp = xstrfmt("%s.tmp-XXXXXX", base);
	if (!mkdtemp(tmp)) {
		ret = error_set("cannot write '%s': %s", base, strerror(errno));
		goto done;
	}
	for (; made < n && !ret; made++)
		ret = fs_fill_one(tmp, files, made);
	if (!ret) {
		/* one sync for every file, then the directory appears whole */
		fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd) < 0 || chmod(tmp, mode) < 0)
			ret = error_set("cannot write '%s': %s", base, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (!ret && rename(tmp, base) < 0) {
		/* Filled meanwhile, or in use (EBUSY): the caller goes file by file. */
		if (errno == ENOTEMPTY || errno == EEXIST || errno == EBUSY)
			ret = 1;
		else
			ret = error_set("cannot write '%s': %s", base, strerror(errno));
	}
	if (ret)
		fs_fill_undo(tmp, files, made);
done:
	free(tmp);
	free(base);
	return ret;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				ret = error_set("cannot create directory '%s': %s", p,
						strerror(errno));
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	if (!ret && !fs_is_dir(path))
		ret = error_set("cannot create directory '%s': a file is in the way", path);
	free(p);
	return ret;
}

char *fs_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

char *fs_join(const char *a, const char *b)
{
	if (b[0] == '/' || !a[0])
		return xstrdup(b);
	if (ends_with(a, "/"))
		return xstrfmt("%s%s", a, b);
	return xstrfmt("%s/%s", a, b);
}

char *fs_abspath(const char *path)
{
	struct vec parts = VEC_INIT(NULL);
	struct strbuf sb = STRBUF_INIT;
	char *full, *s, *save = NULL;

	if (path[0] == '/') {
		full = xstrdup(path);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			cwd[0] = '/', cwd[1] = '\0';
		full = fs_join(cwd, path);
	}
	for (s = strtok_r(full, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (!strcmp(s, "."))
			continue;
		if (!strcmp(s, "..")) {
			if (parts.nr)
				parts.items[--parts.nr] = NULL;
			continue;
		}
		vec_push(&parts, s);
	}
	for (size_t i = 0; i < parts.nr; i++)
		strbuf_addf(&sb, "/%s", (char *)parts.items[i]);
	if (!sb.len)
		strbuf_addch(&sb, '/');
	vec_release(&parts);
	free(full);
	return strbuf_detach(&sb, NULL);
}

char *fs_relpath(const char *from_dir, const char *to)
{
	char *a = fs_abspath(from_dir), *b = fs_abspath(to);
	struct strbuf sb = STRBUF_INIT;
	size_t i = 0, common = 0;

	/* longest common prefix ending at a component boundary */
	while (a[i] && a[i] == b[i]) {
		i++;
		if ((a[i] == '/' || a[i] == '\0') && (b[i] == '/' || b[i] == '\0'))
			common = i;
	}
	if (!strcmp(a, "/"))
		common = 0;
	for (const char *s = a + common; *s; s++)
		if (*s == '/')
			strbuf_addstr(&sb, sb.len ? "/.." : "..");
	const char *rest = b + common;
	while (*rest == '/')
		rest++;
	if (*rest) {
		if (sb.len)
			strbuf_addch(&sb, '/');
		strbuf_addstr(&sb, rest);
	}
	if (!sb.len)
		strbuf_addch(&sb, '.');
	free(a);
	free(b);
	return strbuf_detach(&sb, NULL);
}

int fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}
