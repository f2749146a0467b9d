#ifndef GS_ELF_H
#define GS_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "util/vec.h"

/*
 * A forward-only ELF reader for files streamed out of an image layer: the
 * bytes come once, in order, through a read callback, and cannot be
 * sought back to (libelf wants a file descriptor or the whole image in
 * memory). It reads ELF32/ELF64, little or big endian:
 *
 *   header -> program headers -> PT_INTERP -> PT_DYNAMIC (DT_NEEDED,
 *   DT_SONAME, DT_RUNPATH, DT_RPATH, DT_STRTAB/DT_STRSZ) -> the section
 *   header table at e_shoff (.symtab, .debug_* / .zdebug_* by name)
 *
 * The dynamic string table normally lies in the first PT_LOAD segment,
 * before .dynamic, so the scanner keeps a prefix of the file (the first
 * PT_LOAD, at most `cap` bytes, 64 MiB by default) in one buffer reused from
 * file to file; a string table after .dynamic is read when the stream gets
 * there. Section names come from .shstrtab, which linkers put just before
 * the section header table: the last 64 KiB before e_shoff are kept.
 *
 * Limits, by design: a string table before .dynamic but past the prefix
 * leaves the names unknown (`strings_missing`), and a .dynamic over 1 MiB
 * is not read (both set `unchecked` when DT_NEEDED entries are lost); extended section numbering
 * (more than 65279 sections) is treated as "no sections"; a file is read
 * to its section header table (the image stream reads skipped bytes
 * anyway).
 *
 * Ownership: struct elf_info owns its strings; elf_info_release() frees them.
 */

/* Returns bytes read (0 at the end) or -1 with error_last() set. */
typedef long (*elf_read_fn)(void *ctx, void *buf, size_t len);

struct elf_scanner {
	unsigned char *buf; /* the file's prefix, reused */
	size_t alloc;
	size_t cap;		/* 0: 64 MiB */
	unsigned char *scratch; /* skipped bytes and the tail before e_shoff */
	size_t scratch_alloc;
};

#define ELF_SCANNER_INIT                                                                           \
	{                                                                                          \
		NULL, 0, 0, NULL, 0                                                                \
	}

struct elf_info {
	int is_elf;
	int class64, big_endian;
	unsigned type;	  /* ET_EXEC, ET_DYN, ... */
	unsigned machine; /* EM_X86_64, ... */
	int has_dynamic;
	int has_symtab;	     /* .symtab present */
	int has_debug;	     /* .debug_* or .zdebug_* present */
	int strings_missing; /* .dynamic found but its string table was out of reach */
	/* Why the DT_NEEDED list could not be read whole, NULL when it was: a
	 * .dynamic larger than 1 MiB, or a DT_NEEDED whose name lies out of
	 * reach. A static string; the closure reports such a file as not
	 * checked instead of passing it in silence. */
	const char *unchecked;
	char *interp; /* PT_INTERP, NULL when none */
	char *soname; /* NULL when none */
	char *runpath;
	char *rpath;
	struct vec needed; /* strings, in file order */
};

void elf_info_init(struct elf_info *info);
void elf_info_release(struct elf_info *info);
/* Unstripped: a symbol table or debug sections. */
int elf_info_unstripped(const struct elf_info *info);

/* Read one file of `size` bytes (its whole stream, from byte 0) and fill
 * `info` (initialized by the caller). A file that is not ELF, or whose
 * headers are absurd, gives is_elf 0 (or partial info) and returns 0: only
 * a read error returns -1. Reads stop early when nothing more is needed. */
int elf_scan(struct elf_scanner *sc, elf_read_fn read, void *ctx, uint64_t size,
	     struct elf_info *info);
void elf_scanner_release(struct elf_scanner *sc);

#endif
