/*
 * Bench harness: the analyzer core (core/analyze.c) driven over an
 * uncompressed docker-save tar with pread(), without core/image.c. It
 * measures the analyzer alone (index, ELF reads, replay, report) and is
 * what bench/inspect.sh used before the image reader landed. Usage:
 *   analyze-tar IMAGE.tar OUT.json [BASE_DIFF_ID...]
 * Handles ustar + pax/GNU long names, whiteouts; no compressed layers.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/analyze_private.h"
#include "util/strbuf.h"

struct image_reader { int fd; off_t off; uint64_t left; };
static long rd_read(struct image_reader *r, void *buf, size_t len)
{
	if (len > r->left) len = r->left;
	if (!len) return 0;
	ssize_t n = pread(r->fd, buf, len, r->off);
	if (n <= 0) return -1;
	r->off += n; r->left -= (uint64_t)n;
	return n;
}
static uint64_t oct(const char *p, size_t n)
{
	uint64_t v = 0;
	if ((unsigned char)p[0] & 0x80) { for (size_t i = 1; i < n; i++) v = (v << 8) | (unsigned char)p[i]; return v; }
	for (size_t i = 0; i < n && p[i]; i++) if (p[i] >= '0' && p[i] <= '7') v = v * 8 + (uint64_t)(p[i] - '0');
	return v;
}
struct member { char name[256]; off_t off; uint64_t size; };
static struct member mem[4096]; static int nmem;
static void norm(const char *in, struct strbuf *out)
{
	strbuf_reset(out);
	while (*in == '.' && in[1] == '/') in += 2;
	while (*in == '/') in++;
	strbuf_addstr(out, in);
	while (out->len && out->buf[out->len - 1] == '/') strbuf_setlen(out, out->len - 1);
	if (!strcmp(out->buf, ".")) strbuf_reset(out);
}
static void pax(const char *b, size_t n, struct strbuf *path, struct strbuf *link)
{
	size_t i = 0;
	while (i < n) {
		size_t len = strtoul(b + i, NULL, 10); const char *sp = memchr(b + i, ' ', n - i);
		if (!len || !sp) break;
		const char *kv = sp + 1; size_t kvlen = b + i + len - kv - 1;
		if (!strncmp(kv, "path=", 5)) { strbuf_reset(path); strbuf_add(path, kv + 5, kvlen - 5); }
		if (!strncmp(kv, "linkpath=", 9)) { strbuf_reset(link); strbuf_add(link, kv + 9, kvlen - 9); }
		i += len;
	}
}
int main(int argc, char **argv)
{
	int fd = open(argv[1], O_RDONLY);
	char h[512]; off_t off = 0;
	struct strbuf sb = STRBUF_INIT;
	while (pread(fd, h, 512, off) == 512 && h[0]) {
		uint64_t sz = oct(h + 124, 12);
		snprintf(mem[nmem].name, 256, "%s", h); mem[nmem].off = off + 512; mem[nmem].size = sz; nmem++;
		off += 512 + ((sz + 511) & ~(uint64_t)511);
	}
	json_t *manifest = NULL, *config = NULL;
	for (int i = 0; i < nmem; i++) if (!strcmp(mem[i].name, "manifest.json")) {
		char *b = malloc(mem[i].size); pread(fd, b, mem[i].size, mem[i].off);
		manifest = json_loadb(b, mem[i].size, 0, NULL); free(b);
	}
	json_t *m0 = json_array_get(manifest, 0);
	const char *cfgname = json_string_value(json_object_get(m0, "Config"));
	for (int i = 0; i < nmem; i++) if (!strcmp(mem[i].name, cfgname)) {
		char *b = malloc(mem[i].size); pread(fd, b, mem[i].size, mem[i].off);
		config = json_loadb(b, mem[i].size, 0, NULL); free(b);
	}
	struct image_meta meta; memset(&meta, 0, sizeof(meta));
	meta.name = argv[1]; meta.source = IMAGE_SOURCE_ARCHIVE; meta.config = config;
	vec_init(&meta.diff_ids, NULL); vec_init(&meta.created_by, NULL); vec_init(&meta.repo_tags, NULL);
	json_t *d; size_t k;
	json_array_foreach(json_object_get(json_object_get(config, "rootfs"), "diff_ids"), k, d) vec_push(&meta.diff_ids, (void *)json_string_value(d));
	struct knowledge *kb = NULL; knowledge_load(&kb, NULL);
	struct analyze_opts o = {0}; o.kb = kb;
	o.sizemap = getenv("GPUSLIM_BENCH_SIZEMAP") != NULL; /* bench/html.sh */
	struct vec base = VEC_INIT(NULL);
	for (int i = 3; i < argc; i++) vec_push(&base, argv[i]);
	if (base.nr) o.base_diff_ids = &base;
	struct analysis *an = analysis_new(&o, rd_read);
	struct image_visitor v; analysis_visitor(an, &v);
	v.meta(v.ctx, &meta);
	json_t *ly; size_t li;
	static struct image_layer layers[256];
	json_array_foreach(json_object_get(m0, "Layers"), li, ly) {
		int mi = -1;
		for (int i = 0; i < nmem; i++) if (!strcmp(mem[i].name, json_string_value(ly))) mi = i;
		struct image_layer *L = &layers[li]; L->index = li; L->diff_id = (char *)meta.diff_ids.items[li];
		v.layer_begin(v.ctx, L);
		off_t o2 = mem[mi].off, end = mem[mi].off + (off_t)mem[mi].size;
		struct strbuf path = STRBUF_INIT, link = STRBUF_INIT, np = STRBUF_INIT, nl = STRBUF_INIT; int have_pax = 0;
		while (o2 + 512 <= end && pread(fd, h, 512, o2) == 512 && h[0]) {
			uint64_t sz = oct(h + 124, 12); char type = h[156];
			off_t data = o2 + 512; o2 = data + ((sz + 511) & ~(uint64_t)511);
			if (type == 'x' || type == 'L' || type == 'K') {
				char *b = malloc(sz + 1); pread(fd, b, sz, data); b[sz] = 0;
				if (type == 'x') pax(b, sz, &path, &link); else if (type == 'L') { strbuf_reset(&path); strbuf_addstr(&path, b); } else { strbuf_reset(&link); strbuf_addstr(&link, b); }
				free(b); have_pax = 1; continue;
			}
			if (type == 'g') continue;
			if (!have_pax || !path.len) { strbuf_reset(&path); if (h[345]) { strbuf_add(&path, h + 345, strnlen(h + 345, 155)); strbuf_addch(&path, '/'); } strbuf_add(&path, h, strnlen(h, 100)); }
			if (!have_pax || !link.len) { strbuf_reset(&link); strbuf_add(&link, h + 157, strnlen(h + 157, 100)); }
			have_pax = 0;
			norm(path.buf, &np);
			struct image_entry e = {0}; struct image_reader r = {fd, data, 0};
			const char *b = strrchr(np.buf, '/'); b = b ? b + 1 : np.buf;
			if (!strcmp(b, ".wh..wh..opq")) { strbuf_setlen(&np, b > np.buf ? (size_t)(b - np.buf - 1) : 0); e.type = IMAGE_ENTRY_OPAQUE; }
			else if (!strncmp(b, ".wh.", 4)) { size_t pre = (size_t)(b - np.buf); memmove(np.buf + pre, b + 4, strlen(b + 4) + 1); np.len = strlen(np.buf); e.type = IMAGE_ENTRY_WHITEOUT; }
			else if (type == '0' || type == 0 || type == '7') { e.type = IMAGE_ENTRY_FILE; e.size = sz; r.left = sz; }
			else if (type == '5') e.type = IMAGE_ENTRY_DIR;
			else if (type == '2') { e.type = IMAGE_ENTRY_SYMLINK; e.link = link.buf; }
			else if (type == '1') { e.type = IMAGE_ENTRY_HARDLINK; norm(link.buf, &nl); e.link = nl.buf; }
			else e.type = IMAGE_ENTRY_OTHER;
			e.path = np.buf;
			if (v.entry(v.ctx, L, &e, &r) < 0) { fprintf(stderr, "entry %s: %s\n", np.buf, error_last()); return 1; }
			strbuf_reset(&path); strbuf_reset(&link);
		}
		v.layer_end(v.ctx, L);
		strbuf_release(&path); strbuf_release(&link); strbuf_release(&np); strbuf_release(&nl);
	}
	json_t *rep = NULL;
	if (analysis_report(an, &meta, &rep) < 0) { fprintf(stderr, "report: %s\n", error_last()); return 1; }
	json_dump_file(rep, argv[2], JSON_INDENT(2));
	json_decref(rep); analysis_free(an); knowledge_free(kb);
	return 0;
}
/* analyze_image() is not used here; these keep the link whole without core/image.c. */
__attribute__((weak)) int image_walk(struct image *img, const struct image_visitor *v) { (void)img; (void)v; return -1; }
__attribute__((weak)) const struct image_meta *image_get_meta(const struct image *img) { (void)img; return NULL; }
