/* Wheel file names and their ranking for a target, against pip's own order
 * of tags (tests/data/wheel-tags/, made with pip's vendored packaging). */
#include <stdlib.h>

#include "core/wheel.h"
#include "unit.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char *joined(const struct vec *v)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_init(&sb, 0);
	for (size_t i = 0; i < v->nr; i++)
		strbuf_addf(&sb, "%s%s", i ? "." : "", (char *)v->items[i]);
	return strbuf_detach(&sb, NULL);
}

static void test_parse(void)
{
	static const struct {
		const char *file, *name, *version, *build, *python, *abi, *platform;
	} ok[] = {
	    {"torch-2.11.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl", "torch", "2.11.0+cu130",
	     NULL, "cp311", "cp311", "manylinux_2_28_x86_64"},
	    {"nvidia_cublas-13.0.0.19-py3-none-manylinux_2_27_x86_64.whl", "nvidia-cublas",
	     "13.0.0.19", NULL, "py3", "none", "manylinux_2_27_x86_64"},
	    {"nvidia_cudnn_cu13-9.13.0.50-py3-none-manylinux_2_27_aarch64.whl", "nvidia-cudnn-cu13",
	     "9.13.0.50", NULL, "py3", "none", "manylinux_2_27_aarch64"},
	    {"six-1.16.0-py2.py3-none-any.whl", "six", "1.16.0", NULL, "py2.py3", "none", "any"},
	    {"numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "numpy",
	     "2.0.0", NULL, "cp311", "cp311", "manylinux_2_17_x86_64.manylinux2014_x86_64"},
	    {"foo_bar-1.0-1-py3-none-any.whl", "foo-bar", "1.0", "1", "py3", "none", "any"},
	    {"Foo.Bar-2.0rc1-42abc-cp38.cp39-abi3-linux_x86_64.whl", "foo-bar", "2.0rc1", "42abc",
	     "cp38.cp39", "abi3", "linux_x86_64"},
	};
	static const char *const bad[] = {
	    "x.tar.gz",
	    "foo-1.0.tar.gz",
	    "foo-1.0-py3-none.whl",
	    "foo-1.0-a-py3-none-any.whl",
	    "foo-1.0-1-2-py3-none-any.whl",
	    "foo-1..0-py3-none-any.whl",
	    "foo-1.0-py3..py2-none-any.whl",
	    "foo-1.0-py3-none-.whl",
	    "-1.0-py3-none-any.whl",
	    "f+o-1.0-py3-none-any.whl",
	    ".whl",
	    "foo-1.0--py3-none-any.whl",
	};

	for (size_t i = 0; i < N(ok); i++) {
		struct wheel_name w;
		char *py, *abi, *plat;

		CHECK(wheel_name_parse(ok[i].file, &w) == 0, "parse '%s' (%s)", ok[i].file,
		      error_last());
		py = joined(&w.python);
		abi = joined(&w.abi);
		plat = joined(&w.platform);
		CHECK_STR(w.name, ok[i].name, "  name");
		CHECK_STR(w.version, ok[i].version, "  version");
		CHECK_STR(w.build, ok[i].build, "  build tag");
		CHECK_STR(py, ok[i].python, "  python tags");
		CHECK_STR(abi, ok[i].abi, "  abi tags");
		CHECK_STR(plat, ok[i].platform, "  platform tags");
		free(py);
		free(abi);
		free(plat);
		wheel_name_release(&w);
	}
	for (size_t i = 0; i < N(bad); i++) {
		struct wheel_name w;

		CHECK(wheel_name_parse(bad[i], &w) == GS_EINVAL && !w.name, "not a wheel: '%s'",
		      bad[i]);
		wheel_name_release(&w);
	}
	{
		struct wheel_name w;

		wheel_name_parse("foo-1.0-py3-none.whl", &w);
		CHECK_STR(
		    error_last(),
		    "'foo-1.0-py3-none.whl' is not a wheel file name: it has fewer parts than "
		    "NAME-VERSION[-BUILD]-PYTHON-ABI-PLATFORM.whl",
		    "the error names the file and what is wrong");
	}
}

static int rank_of(const char *file, const struct wheel_target *t)
{
	struct wheel_name w;
	int r;

	if (wheel_name_parse(file, &w) < 0)
		return -1;
	r = wheel_compatible(&w, t);
	wheel_name_release(&w);
	return r;
}

/* Every tag pip lists, in its order: the rank falls by one per line. */
static void test_pip_order(const char *data, const struct wheel_target *t)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = getenv("GS_SRCDIR") && *getenv("GS_SRCDIR")
			 ? xstrfmt("%s/%s", getenv("GS_SRCDIR"), data)
			 : xstrdup(data);
	size_t lines = 0, bad = 0;
	int first = 0;

	if (fs_read_file(path, &sb, 0) < 0) {
		CHECK(0, "read %s: %s", path, error_last());
		free(path);
		return;
	}
	for (char *line = sb.buf; *line;) {
		char *nl = strchr(line, '\n'), *file;
		int r;

		if (nl)
			*nl = '\0';
		file = xstrfmt("x-1.0-%s.whl", line);
		r = rank_of(file, t);
		if (!lines)
			first = r;
		if (r != first - (int)lines && bad++ < 5)
			printf("#   %s: rank %d, want %d\n", line, r, first - (int)lines);
		free(file);
		lines++;
		line = nl ? nl + 1 : line + strlen(line);
	}
	CHECK(lines > 100 && bad == 0 && first == (int)lines,
	      "%s: %zu tags ranked %d down to 1 in pip's order (%zu out of place)", data, lines,
	      first, bad);
	strbuf_release(&sb);
	free(path);
}

static void test_compatible(void)
{
	static const struct wheel_target t = {"3.11", 2, 36, "x86_64"};
	static const struct wheel_target arm = {"3.12", 2, 28, "aarch64"};
	static const struct wheel_target old = {"3.11", 2, 17, "x86_64"};
	int cp = rank_of("a-1-cp311-cp311-manylinux_2_28_x86_64.whl", &t);
	int abi3 = rank_of("a-1-cp311-abi3-manylinux_2_36_x86_64.whl", &t);
	int abi3old = rank_of("a-1-cp38-abi3-manylinux_2_36_x86_64.whl", &t);
	int none = rank_of("a-1-cp311-none-manylinux_2_36_x86_64.whl", &t);
	int py3plat = rank_of("a-1-py3-none-manylinux_2_36_x86_64.whl", &t);
	int cpany = rank_of("a-1-cp311-none-any.whl", &t);
	int py3 = rank_of("a-1-py3-none-any.whl", &t);

	CHECK(cp > abi3 && abi3 > none && none > abi3old && abi3old > py3plat && py3plat > cpany &&
		  cpany > py3 && py3 > 0,
	      "cp311-cp311 > cp311-abi3 > cp311-none > cp38-abi3 > py3-none-P > cp311-none-any > "
	      "py3-none-any > 0 (%d %d %d %d %d %d %d)",
	      cp, abi3, none, abi3old, py3plat, cpany, py3);
	CHECK(rank_of("a-1-cp311-cp311-manylinux_2_28_x86_64.whl", &t) >
		      rank_of("a-1-cp311-cp311-manylinux_2_17_x86_64.whl", &t) &&
		  rank_of("a-1-cp311-cp311-manylinux_2_17_x86_64.whl", &t) ==
		      rank_of("a-1-cp311-cp311-manylinux2014_x86_64.whl", &t) + 1 &&
		  rank_of("a-1-cp311-cp311-manylinux2010_x86_64.whl", &t) >
		      rank_of("a-1-cp311-cp311-manylinux1_x86_64.whl", &t) &&
		  rank_of("a-1-cp311-cp311-manylinux1_x86_64.whl", &t) >
		      rank_of("a-1-cp311-cp311-linux_x86_64.whl", &t),
	      "newer manylinux first, each legacy alias right after its glibc, linux_ARCH last");
	CHECK(rank_of("a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", &t) ==
		  rank_of("a-1-cp311-cp311-manylinux_2_17_x86_64.whl", &t),
	      "a compressed tag set ranks as its best member");
	CHECK(rank_of("a-1-py2.py3-none-any.whl", &t) == py3, "py2.py3-none-any is py3-none-any");
	static const char *const never[] = {
	    "a-1-cp312-cp312-manylinux_2_28_x86_64.whl",
	    "a-1-cp311-cp311-manylinux_2_37_x86_64.whl",
	    "a-1-cp311-cp311-manylinux_2_28_aarch64.whl",
	    "a-1-cp311-cp311-musllinux_1_2_x86_64.whl",
	    "a-1-cp311-cp311-macosx_11_0_arm64.whl",
	    "a-1-cp311-cp311-win_amd64.whl",
	    "a-1-cp311-cp311-any.whl",
	    "a-1-cp310-cp310-manylinux_2_28_x86_64.whl",
	    "a-1-cp312-abi3-manylinux_2_28_x86_64.whl",
	    "a-1-py312-none-any.whl",
	    "a-1-py2-none-any.whl",
	    "a-1-pp310-pypy310_pp73-manylinux_2_28_x86_64.whl",
	    "a-1-cp311-cp311d-manylinux_2_28_x86_64.whl",
	    "a-1-py3-abi3-any.whl",
	    "a-1-cp311-cp311-manylinux_2_4_x86_64.whl",
	};
	for (size_t i = 0; i < N(never); i++)
		CHECK(rank_of(never[i], &t) == 0,
		      "'%s' does not install on CPython 3.11, glibc "
		      "2.36, x86_64",
		      never[i]);
	CHECK(rank_of("a-1-cp311-cp311-manylinux_2_28_x86_64.whl", &old) == 0 &&
		  rank_of("a-1-cp311-cp311-manylinux2014_x86_64.whl", &old) > 0,
	      "glibc 2.17 takes manylinux2014, not manylinux_2_28");
	CHECK(rank_of("a-1-cp312-cp312-manylinux2014_aarch64.whl", &arm) > 0 &&
		  rank_of("a-1-cp312-cp312-manylinux2010_aarch64.whl", &arm) == 0 &&
		  rank_of("a-1-cp312-cp312-manylinux_2_16_aarch64.whl", &arm) == 0,
	      "aarch64 starts at manylinux2014 (glibc 2.17)");
	{
		struct wheel_target bad = {"three", 2, 36, "x86_64"};

		CHECK(rank_of("a-1-py3-none-any.whl", &bad) == 0, "an unreadable Python: no match");
	}
	test_pip_order("tests/data/wheel-tags/cp311-glibc2.36-x86_64.txt", &t);
	test_pip_order("tests/data/wheel-tags/cp312-glibc2.28-aarch64.txt", &arm);
}

int main(void)
{
	test_parse();
	test_compatible();
	return unit_done();
}
