/* Fuzz target: any bytes as a docker-save archive (or a gzip/zstd stream of
 * one) through the image reader and the analyzer, as `gpuslim inspect
 * FILE` reads it. The bytes are handed over as a memfd, so nothing is
 * written to disk. */
#include <sys/mman.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "core/analyze.h"
#include "core/image.h"
#include "fuzz.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-image", 0);
	char path[64];
	struct image_opts io = {0};
	struct analyze_opts ao = {0};
	struct image *img = NULL;
	json_t *report = NULL;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	io.source = IMAGE_SOURCE_ARCHIVE;
	io.max_entry_size = 1 << 20;
	io.max_entries = 10000;
	ao.kb = fuzz_kb();
	if (image_open(path, &io, &img) == 0)
		analyze_image(img, &ao, &report);
	json_decref(report);
	if (img)
		image_close(img);
	close(fd);
	error_clear();
	return 0;
}
