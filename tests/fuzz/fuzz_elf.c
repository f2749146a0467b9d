/* Fuzz target: any bytes as a file through the ELF scanner, read in chunks
 * of varying size as a tar stream would hand them over. */
#include <string.h>

#include "core/elf.h"
#include "fuzz.h"
#include "util/error.h"

struct mem {
	const uint8_t *data;
	size_t size, off, chunk;
};

static long mem_read(void *ctx, void *buf, size_t len)
{
	struct mem *m = ctx;
	size_t n = m->size - m->off;

	if (n > len)
		n = len;
	if (n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->data + m->off, n);
	m->off += n;
	return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_scanner sc = ELF_SCANNER_INIT;
	struct elf_info info;
	/* The first byte picks the chunk size (1..4081), the rest is the file. */
	struct mem m = {data + (size > 0), size - (size > 0), 0,
			size ? 1 + (size_t)data[0] * 16 : 1};

	elf_info_init(&info);
	elf_scan(&sc, mem_read, &m, m.size, &info);
	elf_info_unstripped(&info);
	elf_info_release(&info);
	elf_scanner_release(&sc);
	error_clear();
	return 0;
}
