#include <stdlib.h>
#include <string.h>

#include "core/elf.h"
#include "util/error.h"
#include "util/strbuf.h"

#define ELF_PREFIX_CAP ((size_t)64 << 20)
#define ELF_TAIL       (64u << 10)
#define ELF_DYN_MAX    ((size_t)1 << 20)
#define ELF_STR_MAX    ((size_t)16 << 20)
#define ELF_SHT_MAX    ((size_t)4 << 20)
#define ELF_LOADS      16

enum { PT_LOAD_ = 1, PT_DYNAMIC_ = 2, PT_INTERP_ = 3 };
enum {
	DT_NULL_ = 0,
	DT_NEEDED_ = 1,
	DT_STRTAB_ = 5,
	DT_STRSZ_ = 10,
	DT_SONAME_ = 14,
	DT_RPATH_ = 15,
	DT_RUNPATH_ = 29
};
enum { SHT_SYMTAB_ = 2 };

void elf_info_init(struct elf_info *info)
{
	memset(info, 0, sizeof(*info));
	vec_init(&info->needed, free);
}

void elf_info_release(struct elf_info *info)
{
	free(info->interp);
	free(info->soname);
	free(info->runpath);
	free(info->rpath);
	vec_release(&info->needed);
	elf_info_init(info);
}

int elf_info_unstripped(const struct elf_info *info)
{
	return info->is_elf && (info->has_symtab || info->has_debug);
}

void elf_scanner_release(struct elf_scanner *sc)
{
	free(sc->buf);
	free(sc->scratch);
	sc->buf = sc->scratch = NULL;
	sc->alloc = sc->scratch_alloc = 0;
}

/* One file being read: the prefix kept in sc->buf is [0, len); `pos` is
 * how far the stream has been read (pos >= len once past the prefix). */
struct elf_stream {
	struct elf_scanner *sc;
	elf_read_fn read;
	void *ctx;
	uint64_t size;
	uint64_t pos;
	size_t len;
	int eof;
	int be, c64;
};

static uint64_t rd_u(const unsigned char *p, int n, int be)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[be ? i : n - 1 - i] << (8 * (n - 1 - i));
	return v;
}

/* Read into `dst` exactly `n` bytes (less at the end of the stream). */
static long es_read(struct elf_stream *es, void *dst, size_t n)
{
	size_t got = 0;

	while (got < n && !es->eof) {
		long r = es->read(es->ctx, (char *)dst + got, n - got);

		if (r < 0)
			return -1;
		if (r == 0) {
			es->eof = 1;
			break;
		}
		got += (size_t)r;
	}
	es->pos += got;
	return (long)got;
}

/* Grow the prefix to `n` bytes (within the cap); only while pos == len. */
static int es_fill(struct elf_stream *es, size_t n)
{
	struct elf_scanner *sc = es->sc;
	size_t cap = sc->cap ? sc->cap : ELF_PREFIX_CAP;
	long r;

	if (n > cap)
		n = cap;
	if (n > es->size)
		n = (size_t)es->size;
	if (n <= es->len || es->pos != es->len)
		return 0;
	if (n > sc->alloc) {
		size_t a = sc->alloc ? sc->alloc : 4096;

		while (a < n)
			a *= 2;
		if (a > cap)
			a = cap;
		sc->buf = xrealloc(sc->buf, a);
		sc->alloc = a;
	}
	r = es_read(es, sc->buf + es->len, n - es->len);
	if (r < 0)
		return -1;
	es->len += (size_t)r;
	return 0;
}

static unsigned char *es_scratch(struct elf_stream *es, size_t n)
{
	struct elf_scanner *sc = es->sc;

	if (n > sc->scratch_alloc) {
		sc->scratch = xrealloc(sc->scratch, n);
		sc->scratch_alloc = n;
	}
	return sc->scratch;
}

/* Skip forward to `off` (no-op if already past). */
static int es_skip(struct elf_stream *es, uint64_t off)
{
	unsigned char *s = es_scratch(es, 256u << 10);

	while (es->pos < off && !es->eof) {
		uint64_t left = off - es->pos;
		long r = es_read(es, s, left < (256u << 10) ? (size_t)left : (256u << 10));

		if (r < 0)
			return -1;
	}
	return 0;
}

/* [off, off+n) lies within [0, size), without computing off+n (a hostile
 * header's offset near 2^64 would wrap it into range). */
static int in_range(uint64_t off, uint64_t n, uint64_t size)
{
	return off <= size && n <= size - off;
}

/* Bytes [off, off+n) of the file into a new buffer: from the prefix, or by
 * reading forward. NULL (no error) when they are behind the stream. */
static int es_get(struct elf_stream *es, uint64_t off, size_t n, unsigned char **out)
{
	unsigned char *p;

	*out = NULL;
	if (!in_range(off, n, es->size))
		return 0;
	if (in_range(off, n, es->len)) {
		p = xmalloc(n + 1);
		memcpy(p, es->sc->buf + off, n);
		p[n] = 0;
		*out = p;
		return 0;
	}
	if (off < es->pos)
		return 0;
	if (es_skip(es, off) < 0)
		return -1;
	p = xmalloc(n + 1);
	if (es_read(es, p, n) != (long)n) {
		free(p);
		return es->eof ? 0 : -1;
	}
	p[n] = 0;
	*out = p;
	return 0;
}

static char *str_at(const unsigned char *strtab, size_t strsz, uint64_t off)
{
	if (!strtab || off >= strsz)
		return NULL;
	return xstrndup((const char *)strtab + off,
			strnlen((const char *)strtab + off, strsz - off));
}

struct elf_load {
	uint64_t vaddr, off, filesz;
};

static int elf_sections(struct elf_stream *es, uint64_t shoff, unsigned shentsize, unsigned shnum,
			unsigned shstrndx, struct elf_info *info)
{
	size_t tbl_n = (size_t)shentsize * shnum, tail_len = 0;
	uint64_t tail_off = 0, shstr_off = 0, shstr_size = 0;
	unsigned char *tbl = NULL, *names = NULL, *tail;
	int ret = 0;

	if (!shnum || !in_range(shoff, tbl_n, es->size) || tbl_n > ELF_SHT_MAX ||
	    shentsize < (es->c64 ? 64u : 40u))
		return 0;
	/* Keep what lies just before the table: .shstrtab is usually there. */
	if (shoff > es->pos && shoff >= es->len) {
		uint64_t from = shoff > ELF_TAIL ? shoff - ELF_TAIL : 0;

		if (from < es->pos)
			from = es->pos;
		if ((ret = es_skip(es, from)) < 0)
			goto done;
		tail_off = es->pos;
		tail_len = (size_t)(shoff - es->pos);
		tail = es_scratch(es, ELF_TAIL > (256u << 10) ? ELF_TAIL : (256u << 10));
		if (es_read(es, tail, tail_len) != (long)tail_len)
			goto done;
	}
	if ((ret = es_get(es, shoff, tbl_n, &tbl)) < 0 || !tbl)
		goto done;
	for (unsigned i = 0; i < shnum; i++) {
		const unsigned char *sh = tbl + (size_t)i * shentsize;

		if (rd_u(sh + 4, 4, es->be) == SHT_SYMTAB_)
			info->has_symtab = 1;
		if (i == shstrndx) {
			shstr_off = rd_u(sh + (es->c64 ? 24 : 16), es->c64 ? 8 : 4, es->be);
			shstr_size = rd_u(sh + (es->c64 ? 32 : 20), es->c64 ? 8 : 4, es->be);
		}
	}
	if (!shstr_size || shstr_size > ELF_STR_MAX)
		goto done;
	if (tail_len && shstr_off >= tail_off &&
	    in_range(shstr_off - tail_off, shstr_size, tail_len)) {
		names = xmalloc(shstr_size + 1);
		memcpy(names, es->sc->scratch + (shstr_off - tail_off), shstr_size);
		names[shstr_size] = 0;
	} else if ((ret = es_get(es, shstr_off, shstr_size, &names)) < 0 || !names) {
		goto done;
	}
	for (unsigned i = 0; i < shnum; i++) {
		const unsigned char *sh = tbl + (size_t)i * shentsize;
		uint64_t name = rd_u(sh, 4, es->be);

		if (name >= shstr_size)
			continue;
		if (!strncmp((char *)names + name, ".debug_", 7) ||
		    !strncmp((char *)names + name, ".zdebug_", 8))
			info->has_debug = 1;
	}
done:
	free(tbl);
	free(names);
	return ret;
}

int elf_scan(struct elf_scanner *sc, elf_read_fn read, void *ctx, uint64_t size,
	     struct elf_info *info)
{
	struct elf_stream es = {sc, read, ctx, size, 0, 0, 0, 0, 0};
	struct elf_load loads[ELF_LOADS];
	size_t loads_nr = 0, phdr_end, keep;
	uint64_t phoff, shoff, dyn_off = 0, dyn_size = 0, strtab = 0, strsz = 0, interp_off = 0,
			       interp_size = 0;
	unsigned phentsize, phnum, shentsize, shnum, shstrndx;
	unsigned char *hdr, *dyn = NULL, *strs = NULL;
	int have_strtab = 0, ret = 0, w;

	if (size < 52)
		return 0;
	if (es_fill(&es, 64) < 0)
		return -1;
	hdr = sc->buf;
	if (es.len < 52 || memcmp(hdr, "\177ELF", 4) || (hdr[4] != 1 && hdr[4] != 2) ||
	    (hdr[5] != 1 && hdr[5] != 2))
		return 0;
	es.c64 = hdr[4] == 2;
	es.be = hdr[5] == 2;
	if (es.c64 && es.len < 64)
		return 0;
	info->is_elf = 1;
	info->class64 = es.c64;
	info->big_endian = es.be;
	info->type = (unsigned)rd_u(hdr + 16, 2, es.be);
	info->machine = (unsigned)rd_u(hdr + 18, 2, es.be);
	w = es.c64 ? 8 : 4;
	phoff = rd_u(hdr + (es.c64 ? 32 : 28), w, es.be);
	shoff = rd_u(hdr + (es.c64 ? 40 : 32), w, es.be);
	phentsize = (unsigned)rd_u(hdr + (es.c64 ? 54 : 42), 2, es.be);
	phnum = (unsigned)rd_u(hdr + (es.c64 ? 56 : 44), 2, es.be);
	shentsize = (unsigned)rd_u(hdr + (es.c64 ? 58 : 46), 2, es.be);
	shnum = (unsigned)rd_u(hdr + (es.c64 ? 60 : 48), 2, es.be);
	shstrndx = (unsigned)rd_u(hdr + (es.c64 ? 62 : 50), 2, es.be);

	/* Program headers: in the prefix (they follow the ELF header). */
	if (phnum && phentsize >= (es.c64 ? 56u : 32u) && phoff < size &&
	    in_range(phoff, (uint64_t)phnum * phentsize, sc->cap ? sc->cap : ELF_PREFIX_CAP)) {
		phdr_end = (size_t)(phoff + (uint64_t)phnum * phentsize);
		if (es_fill(&es, phdr_end) < 0)
			return -1;
		if (es.len < phdr_end)
			phnum = 0;
	} else {
		phnum = 0;
	}
	for (unsigned i = 0; i < phnum; i++) {
		const unsigned char *ph = sc->buf + phoff + (size_t)i * phentsize;
		uint32_t type = (uint32_t)rd_u(ph, 4, es.be);
		uint64_t off = rd_u(ph + (es.c64 ? 8 : 4), w, es.be);
		uint64_t vaddr = rd_u(ph + (es.c64 ? 16 : 8), w, es.be);
		uint64_t filesz = rd_u(ph + (es.c64 ? 32 : 16), w, es.be);

		if (type == PT_LOAD_ && loads_nr < ELF_LOADS)
			loads[loads_nr++] = (struct elf_load){vaddr, off, filesz};
		else if (type == PT_DYNAMIC_)
			dyn_off = off, dyn_size = filesz;
		else if (type == PT_INTERP_)
			interp_off = off, interp_size = filesz;
	}
	if (!dyn_size && !interp_size)
		goto sections;

	/* Keep the first PT_LOAD (it holds .dynstr), and .dynamic when it lies
	 * inside it: small files are then read whole into the prefix. */
	keep = 0;
	for (size_t i = 0; i < loads_nr; i++)
		if (loads[i].off == 0 && loads[i].filesz > keep)
			keep = (size_t)(loads[i].filesz < SIZE_MAX ? loads[i].filesz : SIZE_MAX);
	/* es_fill() caps what it keeps; only the sums must not wrap. */
	if (dyn_size && dyn_off < keep && !in_range(dyn_off, dyn_size, keep))
		keep =
		    in_range(dyn_off, dyn_size, SIZE_MAX) ? (size_t)(dyn_off + dyn_size) : SIZE_MAX;
	if (interp_size && interp_off < 65536 && !in_range(interp_off, interp_size, keep))
		keep = in_range(interp_off, interp_size, SIZE_MAX)
			   ? (size_t)(interp_off + interp_size)
			   : SIZE_MAX;
	if (es_fill(&es, keep) < 0)
		return -1;

	if (interp_size && interp_size < 4096) {
		unsigned char *p;

		if ((ret = es_get(&es, interp_off, (size_t)interp_size, &p)) < 0)
			goto done;
		if (p) {
			info->interp = xstrndup((char *)p, strnlen((char *)p, (size_t)interp_size));
			free(p);
		}
	}
	if (dyn_size > ELF_DYN_MAX)
		info->unchecked = "its .dynamic is larger than 1 MiB";
	if (!dyn_size || dyn_size > ELF_DYN_MAX)
		goto sections;
	if ((ret = es_get(&es, dyn_off, (size_t)dyn_size, &dyn)) < 0)
		goto done;
	if (!dyn)
		goto sections;
	info->has_dynamic = 1;
	{
		size_t ent = es.c64 ? 16 : 8, n = (size_t)dyn_size / ent;

		for (size_t i = 0; i < n; i++) {
			uint64_t tag = rd_u(dyn + i * ent, w, es.be);
			uint64_t val = rd_u(dyn + i * ent + w, w, es.be);

			if (tag == DT_NULL_)
				break;
			if (tag == DT_STRTAB_)
				strtab = val, have_strtab = 1;
			else if (tag == DT_STRSZ_)
				strsz = val;
		}
		if (have_strtab && strsz && strsz <= ELF_STR_MAX) {
			uint64_t off = 0;
			int found = 0;

			for (size_t i = 0; i < loads_nr; i++)
				if (strtab >= loads[i].vaddr &&
				    strtab - loads[i].vaddr < loads[i].filesz) {
					off = loads[i].off + (strtab - loads[i].vaddr);
					found = 1;
					break;
				}
			if (found && (ret = es_get(&es, off, (size_t)strsz, &strs)) < 0)
				goto done;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t tag = rd_u(dyn + i * ent, w, es.be);
			uint64_t val = rd_u(dyn + i * ent + w, w, es.be);
			char *s;

			if (tag == DT_NULL_)
				break;
			if (tag != DT_NEEDED_ && tag != DT_SONAME_ && tag != DT_RPATH_ &&
			    tag != DT_RUNPATH_)
				continue;
			if (!(s = str_at(strs, (size_t)strsz, val))) {
				info->strings_missing = 1;
				if (tag == DT_NEEDED_)
					info->unchecked =
					    "the name of a DT_NEEDED lies out of reach";
				continue;
			}
			if (tag == DT_NEEDED_) {
				vec_push(&info->needed, s);
			} else {
				char **slot = tag == DT_SONAME_	 ? &info->soname
					      : tag == DT_RPATH_ ? &info->rpath
								 : &info->runpath;
				free(*slot);
				*slot = s;
			}
		}
	}

sections:
	if (shoff)
		ret = elf_sections(&es, shoff, shentsize, shnum, shstrndx, info);
done:
	free(dyn);
	free(strs);
	return ret < 0 ? -1 : 0;
}
