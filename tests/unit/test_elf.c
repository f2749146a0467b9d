/* The forward-only ELF reader on files compiled here with cc, fed through
 * a read callback in small chunks (as an image layer stream would). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/elf.h"
#include "unit.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strbuf.h"

static char tmp[] = "/tmp/gs-test-elf.XXXXXX";

/* Run argv (NULL-terminated) in tmp; 1 on exit 0. */
static int run(const char *arg0, ...)
{
	struct process p;
	struct process_result res;
	va_list ap;
	int ok;

	process_init(&p);
	vec_pushstr(&p.argv, arg0);
	va_start(ap, arg0);
	for (const char *a; (a = va_arg(ap, const char *));)
		vec_pushstr(&p.argv, a);
	va_end(ap);
	p.cwd = tmp;
	p.output = PROCESS_OUTPUT_CAPTURE;
	ok = process_run(&p, 60000, &res) == 0 && res.exited && res.exit_code == 0;
	if (!ok)
		printf("# %s failed: %s\n", arg0, p.out.buf);
	process_release(&p);
	return ok;
}

static void write_file(const char *name, const char *text)
{
	char *path = xstrfmt("%s/%s", tmp, name);
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	free(path);
}

struct mem_reader {
	const unsigned char *data;
	size_t len, pos, chunk;
};

static long mem_read(void *ctx, void *buf, size_t len)
{
	struct mem_reader *m = ctx;
	size_t n = m->len - m->pos;

	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (long)n;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/*
 * Offsets near 2^64 must not wrap into range (found by tests/fuzz/fuzz_elf.c):
 * a 64-bit little-endian ELF of 4 KiB whose section table lies past the
 * header (so the scanner keeps the bytes before it, where .shstrtab usually
 * is), and whose one section header puts the section names at `off`; or
 * whose header puts the section table itself at `off`.
 */
static void test_wrapping_offsets(void)
{
	/* The last: 16 MiB of names "16 MiB before" the kept bytes, read from
	 * memory far outside any buffer (a crash) before the fix. */
	static const uint64_t offs[] = {UINT64_MAX - 0xff, UINT64_MAX,
					UINT64_MAX - ((uint64_t)16 << 20) + 0x41};
	static const uint64_t sizes[] = {0x200, 0x2dff, (uint64_t)16 << 20};
	static unsigned char f[4096];

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (int where = 0; where < 2; where++) {
			struct elf_scanner sc = ELF_SCANNER_INIT;
			struct elf_info info;
			struct mem_reader m = {f, sizeof(f), 0, 0};
			int ret;

			memset(f, 0, sizeof(f));
			memcpy(f, "\177ELF\2\1\1", 7);
			f[16] = 3;				      /* ET_DYN */
			f[18] = 62;				      /* EM_X86_64 */
			put64(f + 40, where ? offs[i] - 0x20 : 2048); /* e_shoff */
			f[58] = 64;				      /* e_shentsize */
			f[60] = 1;				      /* e_shnum */
			f[62] = 0;				      /* e_shstrndx */
			put64(f + 2048 + 24, offs[i]);		      /* sh_offset of the names */
			put64(f + 2048 + 32, sizes[i]);		      /* sh_size */
			elf_info_init(&info);
			ret = elf_scan(&sc, mem_read, &m, m.len, &info);
			CHECK(ret == 0 && info.is_elf && !info.has_debug,
			      "%s at %#llx: no read out of range, no error",
			      where ? "section table" : "section names",
			      (unsigned long long)(where ? offs[i] - 0x20 : offs[i]));
			elf_info_release(&info);
			elf_scanner_release(&sc);
		}
	}
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The file tmp/name with its PT_DYNAMIC's p_filesz set to `filesz`
 * (ELF64 LE); NULL when it has none. */
static unsigned char *with_dynamic_size(const char *name, uint64_t filesz, size_t *len)
{
	char *path = xstrfmt("%s/%s", tmp, name);
	struct strbuf sb = STRBUF_INIT;
	unsigned char *f;
	uint64_t phoff;
	unsigned phentsize, phnum;
	int found = 0;

	fs_read_file(path, &sb, 0);
	free(path);
	f = (unsigned char *)strbuf_detach(&sb, len);
	if (*len < 64) {
		free(f);
		return NULL;
	}
	phoff = get64(f + 32);
	phentsize = f[54] | f[55] << 8;
	phnum = f[56] | f[57] << 8;
	for (unsigned i = 0; i < phnum && phoff + (uint64_t)(i + 1) * phentsize <= *len; i++) {
		unsigned char *ph = f + phoff + (size_t)i * phentsize;

		if (ph[0] == 2 && !ph[1] && !ph[2] && !ph[3]) { /* PT_DYNAMIC */
			put64(ph + 32, filesz);
			found = 1;
		}
	}
	if (!found) {
		free(f);
		return NULL;
	}
	return f;
}

/* A .dynamic over 1 MiB is not read: the file says why (issue 7 item 19). */
static void test_huge_dynamic(void)
{
	size_t len = 0;
	unsigned char *f = with_dynamic_size("app", ((uint64_t)1 << 20) + 16, &len);
	struct elf_scanner sc = ELF_SCANNER_INIT;
	struct elf_info info;
	struct mem_reader m = {f, len, 0, 0};

	CHECK(f != NULL, "app has a PT_DYNAMIC to enlarge");
	if (!f)
		return;
	elf_info_init(&info);
	CHECK(elf_scan(&sc, mem_read, &m, m.len, &info) == 0 && info.is_elf,
	      "a .dynamic of 1 MiB + 16: still ELF, no error");
	CHECK(!info.needed.nr && info.unchecked && strstr(info.unchecked, "larger than 1 MiB"),
	      "its DT_NEEDED list unread, and `unchecked` says why: %s",
	      info.unchecked ? info.unchecked : "(null)");
	elf_info_release(&info);
	elf_scanner_release(&sc);
	free(f);
}

/* Scan tmp/name through chunks of `chunk` bytes, prefix capped at `cap`. */
static int scan(const char *name, size_t chunk, size_t cap, struct elf_info *info, size_t len_cut)
{
	char *path = xstrfmt("%s/%s", tmp, name);
	struct strbuf sb = STRBUF_INIT;
	struct elf_scanner sc = ELF_SCANNER_INIT;
	struct mem_reader m;
	int ret;

	elf_info_init(info);
	if (fs_read_file(path, &sb, 0) < 0) {
		free(path);
		return -2;
	}
	m = (struct mem_reader){(unsigned char *)sb.buf, len_cut ? len_cut : sb.len, 0, chunk};
	sc.cap = cap;
	ret = elf_scan(&sc, mem_read, &m, m.len, info);
	elf_scanner_release(&sc);
	strbuf_release(&sb);
	free(path);
	return ret;
}

int main(void)
{
	struct elf_info info;

	if (!mkdtemp(tmp)) {
		CHECK(0, "mkdtemp");
		return unit_done();
	}
	write_file("foo.c", "#include <math.h>\nint foo(double x){return (int)sqrt(x);}\n");
	write_file("main.c", "int foo(double);\nint main(void){return foo(4.0);}\n");
	write_file("hello.txt", "not an ELF file, just text long enough to be read as a header\n");
	if (!run("cc", "-shared", "-fPIC", "-g", "-o", "libfoo.so.1.2.3", "-Wl,-soname,libfoo.so.1",
		 "foo.c", "-lm", NULL) ||
	    !run("ln", "-sf", "libfoo.so.1.2.3", "libfoo.so", NULL) ||
	    !run("cc", "-o", "app", "main.c", "-L.", "-lfoo", "-Wl,--enable-new-dtags",
		 "-Wl,-rpath,$ORIGIN/../lib", NULL) ||
	    !run("cc", "-o", "app-rpath", "main.c", "-L.", "-lfoo", "-Wl,--disable-new-dtags",
		 "-Wl,-rpath,/opt/x/lib", NULL) ||
	    !run("cp", "libfoo.so.1.2.3", "libfoo-stripped.so", NULL) ||
	    !run("strip", "--strip-all", "libfoo-stripped.so", NULL) ||
	    !run("cp", "libfoo.so.1.2.3", "libfoo-nodebug.so", NULL) ||
	    !run("strip", "--strip-debug", "libfoo-nodebug.so", NULL)) {
		CHECK(0, "cc and strip build the test files");
		return unit_done();
	}

	CHECK(scan("libfoo.so.1.2.3", 0, 0, &info, 0) == 0 && info.is_elf, "a .so is ELF");
	CHECK(info.class64 && !info.big_endian && info.type == 3, "ELF64 LE ET_DYN");
	CHECK_STR(info.soname, "libfoo.so.1", "DT_SONAME");
	CHECK(vec_findstr(&info.needed, "libm.so.6") >= 0, "DT_NEEDED libm.so.6");
	CHECK(info.has_symtab && info.has_debug && elf_info_unstripped(&info),
	      "-g: .symtab and .debug_*");
	CHECK(!info.strings_missing, "strings found");
	elf_info_release(&info);

	/* Chunks of 7 bytes: nothing assumes a read returns what was asked. */
	CHECK(scan("libfoo.so.1.2.3", 7, 0, &info, 0) == 0 && info.is_elf, "7-byte reads");
	CHECK_STR(info.soname, "libfoo.so.1", "DT_SONAME through 7-byte reads");
	CHECK(info.has_debug, ".debug_* through 7-byte reads");
	elf_info_release(&info);

	CHECK(scan("app", 4096, 0, &info, 0) == 0 && info.is_elf, "an executable is ELF");
	CHECK_STR(info.runpath, "$ORIGIN/../lib", "DT_RUNPATH with $ORIGIN kept as written");
	CHECK(!info.rpath, "no DT_RPATH with new dtags");
	CHECK(vec_findstr(&info.needed, "libfoo.so.1") >= 0, "DT_NEEDED libfoo.so.1 (the soname)");
	CHECK(info.interp && strstr(info.interp, "ld-linux"), "PT_INTERP '%s'",
	      info.interp ? info.interp : "");
	CHECK(!info.soname, "an executable has no soname");
	CHECK(!info.unchecked, "its DT_NEEDED list read whole");
	elf_info_release(&info);

	CHECK(scan("app-rpath", 0, 0, &info, 0) == 0, "scan app-rpath");
	CHECK_STR(info.rpath, "/opt/x/lib", "DT_RPATH with old dtags");
	CHECK(!info.runpath, "no DT_RUNPATH with old dtags");
	elf_info_release(&info);

	CHECK(scan("libfoo-stripped.so", 0, 0, &info, 0) == 0 && info.is_elf, "stripped .so");
	CHECK(!info.has_symtab && !info.has_debug && !elf_info_unstripped(&info),
	      "strip --strip-all: stripped");
	CHECK_STR(info.soname, "libfoo.so.1", "stripped keeps DT_SONAME");
	elf_info_release(&info);

	CHECK(scan("libfoo-nodebug.so", 0, 0, &info, 0) == 0, "strip-debug .so");
	CHECK(info.has_symtab && !info.has_debug && elf_info_unstripped(&info),
	      "strip --strip-debug: symbols left, no debug: still unstripped");
	elf_info_release(&info);

	CHECK(scan("hello.txt", 0, 0, &info, 0) == 0 && !info.is_elf, "text is not ELF");
	elf_info_release(&info);

	/* A truncated file: headers cut short, no crash, no error. */
	CHECK(scan("libfoo.so.1.2.3", 0, 0, &info, 200) == 0 && info.is_elf && !info.soname,
	      "truncated ELF: header only");
	elf_info_release(&info);

	/* A prefix too small for .dynstr: the names are reported missing, or
	 * read forward when the string table lies after .dynamic. */
	CHECK(scan("libfoo.so.1.2.3", 0, 700, &info, 0) == 0 && info.is_elf,
	      "tiny prefix cap: still ELF");
	CHECK(info.soname || info.strings_missing, "tiny prefix cap: soname or strings_missing");
	CHECK(info.needed.nr || (info.unchecked && strstr(info.unchecked, "DT_NEEDED")),
	      "tiny prefix cap: DT_NEEDED read, or `unchecked` says its name was out of reach");
	elf_info_release(&info);

	test_huge_dynamic();

	test_wrapping_offsets();
	run("rm", "-rf", tmp, NULL);
	return unit_done();
}
