/* Fuzz target: any bytes as a docker-save archive (or a gzip/zstd stream of
 * one) through the image reader and the analyzer, as `gpuslim inspect
 * FILE` reads it. The bytes are handed over as a memfd, so the archive is
 * never written to disk. When they are a tar holding an image layout (an
 * `oci-layout` file, or skopeo's dir: `version`), its regular files are
 * also unpacked into a new directory under $TMPDIR (plain names, 8 MiB at
 * most) and read as that layout, as `gpuslim inspect DIR` reads it; the
 * directory is removed after. */
#include <sys/mman.h>
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/analyze.h"
#include "core/diff.h"
#include "core/image.h"
#include "core/report.h"
#include "fuzz.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define LAYOUT_MAX (8u << 20)

static void analyze_one(const char *path, enum image_source source)
{
	struct image_opts io = {0};
	struct analyze_opts ao = {0};
	struct image *img = NULL;
	json_t *report = NULL;

	io.source = source;
	io.max_entry_size = 1 << 20;
	io.max_entries = 10000;
	ao.kb = fuzz_kb();
	ao.sizemap = 1; /* the HTML page's treemap and gpuslim diff read it */
	if (image_open(path, &io, &img) == 0 && analyze_image(img, &ao, &report) == 0) {
		struct report_item it = {path, report, NULL, NULL};
		struct strbuf sb = STRBUF_INIT;
		json_t *d = NULL;

		report_html(&it, &sb);
		if (diff_reports(report, report, "a", "b", 0, &d) == 0)
			report_html_diff(d, &sb);
		json_decref(d);
		strbuf_release(&sb);
	}
	json_decref(report);
	if (img)
		image_close(img);
	error_clear();
}

/* A member name that stays inside the directory: "a/b", no "..", no "//". */
static int plain_name(const char *name)
{
	size_t len = strlen(name);

	return len && len < 200 && name[0] != '/' && !strstr(name, "..") && !strstr(name, "//") &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF._-/") == len;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The tar in `fd` unpacked into `dir`: 1 when it holds a layout, else 0. */
static int unpack_layout(int fd, const char *dir)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t total = 0;
	int layout = 0;

	archive_read_support_format_tar(a);
	if (lseek(fd, 0, SEEK_SET) < 0 || archive_read_open_fd(a, fd, 10240) != ARCHIVE_OK)
		goto done;
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ae);
		char buf[65536], *path, *parent;
		la_ssize_t n;
		int out;

		while (name && !strncmp(name, "./", 2))
			name += 2;
		if (!name || archive_entry_filetype(ae) != AE_IFREG || !plain_name(name))
			continue;
		layout |= !strcmp(name, "oci-layout") || !strcmp(name, "version");
		path = fs_join(dir, name);
		parent = fs_dirname(path);
		fs_mkdir_p(parent, 0755);
		free(parent);
		out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		free(path);
		if (out < 0)
			continue;
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0 && total < LAYOUT_MAX) {
			total += (size_t)n;
			if (write(out, buf, (size_t)n) != n)
				break;
		}
		close(out);
	}
done:
	archive_read_free(a);
	return layout;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-image", 0);
	char path[64], dir[4096];
	const char *tmp = getenv("TMPDIR");

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	analyze_one(path, IMAGE_SOURCE_ARCHIVE);
	snprintf(dir, sizeof(dir), "%s/fuzz-layout.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir)) {
		if (unpack_layout(fd, dir))
			analyze_one(dir, IMAGE_SOURCE_OCI);
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	close(fd);
	return 0;
}
