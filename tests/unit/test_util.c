#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/hashpool.h"
#include "util/strbuf.h"
#include "util/vec.h"

static void test_strbuf(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *s;
	size_t len;

	CHECK_STR(strbuf_cstr(&sb), "", "empty strbuf is an empty string");
	strbuf_addstr(&sb, "abc");
	strbuf_addf(&sb, "-%d-%s", 42, "x");
	CHECK_STR(sb.buf, "abc-42-x", "strbuf_addf appends");
	strbuf_addstr(&sb, "  \n");
	strbuf_rtrim(&sb);
	CHECK_STR(sb.buf, "abc-42-x", "strbuf_rtrim drops trailing space");
	s = strbuf_detach(&sb, &len);
	CHECK(len == 8 && sb.len == 0, "detach hands over the buffer and empties the strbuf");
	free(s);

	sb.cap = 4;
	CHECK(strbuf_addstr(&sb, "12345") < 0, "a capped strbuf refuses to grow past its cap");
	CHECK(strbuf_addstr(&sb, "1234") == 0, "a capped strbuf takes up to its cap");
	strbuf_release(&sb);
}

/* ALLOC_GROW: room for nr items, capacity doubling from 16, never less than nr. */
static void test_alloc_grow(void)
{
	int *a = NULL;
	size_t nr = 0, alloc = 0;

	for (int i = 0; i < 1000; i++) {
		ALLOC_GROW(a, nr + 1, alloc);
		a[nr++] = i;
	}
	CHECK(nr == 1000 && alloc == 1024 && a[0] == 0 && a[999] == 999,
	      "1000 appends: capacity %zu, contents kept", alloc);
	ALLOC_GROW(a, 5000, alloc);
	CHECK(alloc == 5000 && a[999] == 999, "a jump past twice grows to nr exactly (%zu)", alloc);
	CHECK(alloc_grow_nr(0, 1) == 16 && alloc_grow_nr(16, 17) == 32 &&
		  alloc_grow_nr(SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 2) == SIZE_MAX,
	      "capacities: 16 first, then doubled, saturated at SIZE_MAX");
	free(a);
}

static void test_vec(void)
{
	struct vec v = VEC_INIT(free);

	vec_pushstr(&v, "b");
	vec_pushf(&v, "%s", "a");
	CHECK(v.nr == 2 && v.items[2] == NULL, "vec stays NULL-terminated");
	vec_sort(&v, vec_cmpstr);
	CHECK_STR(v.items[0], "a", "vec_sort sorts strings");
	CHECK(vec_findstr(&v, "b") == 1 && vec_findstr(&v, "c") == -1, "vec_findstr");
	vec_release(&v);
	CHECK(v.nr == 0 && v.items == NULL, "vec_release empties");
}

static void test_fs(void)
{
	char dir[] = "/tmp/gpuslim-unit-XXXXXX";
	struct strbuf sb = STRBUF_INIT;
	char *p, *rel;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	p = fs_join(dir, "a/b/c");
	CHECK(fs_mkdir_p(p, 0755) == 0 && fs_is_dir(p), "fs_mkdir_p makes every level");
	free(p);
	p = fs_join(dir, "a/f.txt");
	CHECK(fs_write_atomic(p, "hello", 5) == 0, "fs_write_atomic writes");
	CHECK(fs_read_file(p, &sb, 0) == 0 && !strcmp(sb.buf, "hello"),
	      "fs_read_file reads it back");
	strbuf_reset(&sb);
	CHECK(fs_read_file(p, &sb, 3) < 0, "fs_read_file enforces its limit");
	unlink(p);
	free(p);
	CHECK(fs_read_file("/nonexistent/x", &sb, 0) == GS_ENOTFOUND &&
		  strstr(error_last(), "'/nonexistent/x'"),
	      "a missing file is GS_ENOTFOUND and named in the error");

	rel = fs_relpath("/a/b", "/a/b/c/d");
	CHECK_STR(rel, "c/d", "relpath down");
	free(rel);
	rel = fs_relpath("/a/b/out", "/a/b");
	CHECK_STR(rel, "..", "relpath up");
	free(rel);
	rel = fs_relpath("/a/x", "/a/y/z");
	CHECK_STR(rel, "../y/z", "relpath across");
	free(rel);
	rel = fs_relpath("/a/b", "/a/b");
	CHECK_STR(rel, ".", "relpath same");
	free(rel);
	rel = fs_relpath("/ab", "/a");
	CHECK_STR(rel, "../a", "relpath respects component boundaries");
	free(rel);
	p = fs_abspath("/a/./b/../c//d/");
	CHECK_STR(p, "/a/c/d", "abspath normalizes");
	free(p);
	strbuf_release(&sb);
	p = fs_join(dir, "a/b/c");
	rmdir(p);
	free(p);
	p = fs_join(dir, "a/b");
	rmdir(p);
	free(p);
	p = fs_join(dir, "a");
	rmdir(p);
	free(p);
	rmdir(dir);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_fill_empty_dir(void)
{
	char parent[] = "/tmp/gpuslim-fill-XXXXXX";
	struct fs_file files[] = {
	    {"a", "one", 3, -1},
	    {"b", "two", 3, -1},
	    {"c", "one", 3, 0},
	};
	struct fs_file bad[] = {{"x/y", "z", 1, -1}};
	struct strbuf sb = STRBUF_INIT;
	struct stat st_a, st_c;
	char *dir, *p;

	CHECK(mkdtemp(parent) != NULL, "fill: mkdtemp");
	dir = fs_join(parent, "out");
	CHECK(fs_fill_empty_dir(dir, files, 3) == 0 && count_entries(dir) == 3,
	      "fill: an absent directory is made with every file");
	p = fs_join(dir, "b");
	CHECK(fs_read_file(p, &sb, 0) == 0 && !strcmp(sb.buf, "two"), "fill: contents");
	free(p);
	p = fs_join(dir, "a");
	stat(p, &st_a);
	free(p);
	p = fs_join(dir, "c");
	stat(p, &st_c);
	free(p);
	CHECK(st_a.st_ino == st_c.st_ino && st_c.st_nlink == 2,
	      "fill: a same_as file is a hard link, not a copy");
	CHECK(fs_fill_empty_dir(dir, files, 3) == 1,
	      "fill: a directory with files is left alone (1)");
	CHECK(count_entries(parent) == 1, "fill: no temporary left beside it");
	p = fs_join(parent, "empty");
	mkdir(p, 0750);
	CHECK(fs_fill_empty_dir(p, files, 2) == 0 && count_entries(p) == 2,
	      "fill: an existing empty directory is filled");
	CHECK(stat(p, &st_a) == 0 && (st_a.st_mode & 07777) == 0750,
	      "fill: it keeps its permissions");
	{
		char *q = fs_join(parent, "empty2");

		mkdir(q, 0755);
		CHECK(fs_fill_empty_dir(q, bad, 1) == 1 && count_entries(q) == 0,
		      "fill: a name with '/' is not for it: nothing done");
		rmdir(q);
		free(q);
	}
	for (const char *n = "abc"; *n; n++) {
		char name[2] = {*n, 0};
		char *f = fs_join(dir, name), *g = fs_join(p, name);

		unlink(f);
		unlink(g);
		free(f);
		free(g);
	}
	rmdir(dir);
	rmdir(p);
	rmdir(parent);
	free(p);
	free(dir);
	strbuf_release(&sb);
}

/* The cases the CLI tests cannot reach: a loop of links, a directory, a
 * new file through a chain of relative links, append on a new file. */
static void test_write_output(void)
{
	char dir[] = "/tmp/gpuslim-unit-XXXXXX";
	struct strbuf sb = STRBUF_INIT;
	struct stat before, after;
	char *a, *b, *sub, *target, *loop1, *loop2;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	a = fs_join(dir, "a");
	b = fs_join(dir, "sub/b");
	sub = fs_join(dir, "sub");
	target = fs_join(dir, "sub/target");
	loop1 = fs_join(dir, "loop1");
	loop2 = fs_join(dir, "loop2");
	mkdir(sub, 0755);
	CHECK(symlink("sub/b", a) == 0 && symlink("target", b) == 0, "links");
	CHECK(fs_write_output(a, "one", 3, 0) == 0 && fs_read_file(target, &sb, 0) == 0 &&
		  !strcmp(sb.buf, "one"),
	      "a chain of relative links ends at a new file, created");
	lstat(a, &before);
	CHECK(S_ISLNK(before.st_mode), "the first link stays a link");
	stat(target, &before);
	CHECK(fs_write_output(a, "two", 3, 0) == 0, "written again through the links");
	stat(target, &after);
	CHECK(before.st_ino != after.st_ino, "the target is replaced by rename, not rewritten");
	CHECK(fs_write_output(a, "+3", 2, FS_OUTPUT_APPEND) == 0, "appended through the links");
	strbuf_reset(&sb);
	CHECK(fs_read_file(target, &sb, 0) == 0 && !strcmp(sb.buf, "two+3"),
	      "append keeps what was there");
	CHECK(symlink("loop2", loop1) == 0 && symlink("loop1", loop2) == 0, "a loop of links");
	CHECK(fs_write_output(loop1, "x", 1, 0) < 0 &&
		  strstr(error_last(), "levels of symbolic links"),
	      "a loop of links is an error, not a hang");
	CHECK(fs_write_output(sub, "x", 1, 0) < 0 && strstr(error_last(), "s a directory"),
	      "a directory is an error");
	chmod(target, 0600);
	CHECK(fs_write_output(target, "three", 5, 0) == 0 && stat(target, &after) == 0 &&
		  (after.st_mode & 07777) == 0600,
	      "a replaced file keeps its mode (0%o)", (unsigned)(after.st_mode & 07777));
	{
		/* A socket (a block device alike): neither replaced nor written. */
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		char *sock = fs_join(dir, "sock");
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "a socket");
		CHECK(
		    fs_write_output(sock, "x", 1, 0) < 0 &&
			strstr(error_last(), "not a regular file, a FIFO or a character device") &&
			stat(sock, &after) == 0 && S_ISSOCK(after.st_mode),
		    "a socket is refused and left as it is: %s", error_last());
		if (fd >= 0)
			close(fd);
		unlink(sock);
		free(sock);
	}
	unlink(a);
	unlink(b);
	unlink(target);
	unlink(loop1);
	unlink(loop2);
	rmdir(sub);
	rmdir(dir);
	free(a);
	free(b);
	free(sub);
	free(target);
	free(loop1);
	free(loop2);
	strbuf_release(&sb);
}

static void test_hash(void)
{
	char hex[65];

	hash_sha256_hex("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  "sha256 of 'abc'");
	{
		/* The same bytes streamed in uneven blocks: the same digest. */
		static char buf[100000];
		struct hash_sha256 *h = hash_sha256_new();
		char whole[65], streamed[65];

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (char)(i * 7);
		hash_sha256_hex(buf, sizeof(buf), whole);
		for (size_t off = 0, n = 1; off < sizeof(buf); off += n, n = n * 3 + 1)
			hash_sha256_update(h, buf + off,
					   n < sizeof(buf) - off ? n : sizeof(buf) - off);
		hash_sha256_final_hex(h, streamed);
		hash_sha256_free(h);
		CHECK_STR(streamed, whole, "sha256 streamed in blocks of 1, 4, 13... bytes");
		hash_sha256_free(NULL);
	}
}

/*
 * The hash pool: ranges of one file hashed on 0..3 threads besides the
 * caller (who hashes what is still queued while it waits) give the digests
 * of their bytes; a range past the end says where the file ends; a file cut
 * short while its ranges are mapped and hashed gives that error, naming the
 * byte where it now ends, or, had the hash finished first, the right digest:
 * never a crash (SIGBUS).
 */
static void test_hash_pool(void)
{
	char path[] = "/tmp/gpuslim-hashpool.XXXXXX";
	/* the last range spans windows of the mapping (32 MiB) */
	const size_t big = (40u << 20) + 123;
	struct hash_range ranges[] = {{0, 0}, {1, 4095}, {4096, 5000}, {9000, 1}, {512, big}};
	const size_t nr = sizeof(ranges) / sizeof(*ranges);
	char *data = xmalloc(big + 4096), want[5][65], why[128];
	int fd = mkstemp(path);

	for (size_t i = 0; i < big + 4096; i++)
		data[i] = (char)(i * 131 + (i >> 12));
	CHECK(fd >= 0 && write(fd, data, big + 4096) == (ssize_t)(big + 4096), "pool file written");
	for (size_t i = 0; i < nr; i++)
		hash_sha256_hex(data + ranges[i].offset, ranges[i].size, want[i]);
	for (int threads = 1; threads <= 3; threads++) {
		struct hash_pool *p = hash_pool_start(fd, ranges, nr, threads);
		int same = p != NULL;

		/* smallest first: the caller runs the big one itself when no thread has */
		for (size_t i = 0; p && i < nr; i++) {
			char hex[65] = "";

			same &= hash_pool_wait(p, i, hex, why, sizeof(why)) == 0 &&
				!strcmp(hex, want[i]);
		}
		CHECK(same, "hash pool on %d thread(s): every range's digest", threads);
		hash_pool_free(p);
	}
	CHECK(hash_pool_start(fd, ranges, nr, 0) == NULL &&
		  hash_pool_start(fd, ranges, 0, 2) == NULL,
	      "hash pool: no threads or no ranges, no pool (the caller hashes inline)");
	{
		struct hash_range past = {4096, big + 1};
		struct hash_pool *p = hash_pool_start(fd, &past, 1, 1);
		char hex[65];

		CHECK(p && hash_pool_wait(p, 0, hex, why, sizeof(why)) < 0 &&
			  strstr(why, "the file ends at byte"),
		      "hash pool: a range past the end of the file: '%s'", why);
		hash_pool_free(p);
	}
	{
		struct hash_range all = {0, big + 4096};
		struct hash_pool *p = hash_pool_start(fd, &all, 1, 1);
		char hex[65] = "", whole[65];
		int r;

		hash_sha256_hex(data, big + 4096, whole);
		CHECK(!ftruncate(fd, 1 << 20), "pool file cut to 1 MiB while it is hashed");
		r = p ? hash_pool_wait(p, 0, hex, why, sizeof(why)) : -2;
		CHECK((r < 0 && r != -2 && strstr(why, "the file ends at byte 1048576 of")) ||
			  (r == 0 && !strcmp(hex, whole)),
		      "hash pool: a file cut short while hashed: %s",
		      r < 0 ? why : "hashed before the cut");
		hash_pool_free(p);
	}
	free(data);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static void test_error(void)
{
	error_set("cannot read '%s': %s", "x.yaml", "no such file");
	CHECK(error_setc(GS_EINFRA, "%s", error_last()) == GS_EINFRA &&
		  !strcmp(error_last(), "cannot read 'x.yaml': no such file"),
	      "error_setc keeps the message when given error_last() itself");
	error_prefix("recipe '%s'", "x.yaml");
	CHECK_STR(error_last(), "recipe 'x.yaml': cannot read 'x.yaml': no such file",
		  "error_prefix puts its text before the last error");
}

int main(void)
{
	test_error();
	test_strbuf();
	test_alloc_grow();
	test_vec();
	test_fs();
	test_fill_empty_dir();
	test_write_output();
	test_hash();
	test_hash_pool();
	return unit_done();
}
