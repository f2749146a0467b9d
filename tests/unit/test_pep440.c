/* PEP 440 versions and specifiers, PEP 508 requirements and markers, PEP 503
 * names. Many cases are those of PEP 440 itself and of pypa/packaging's test
 * suite (tests/test_version.py, test_specifiers.py, test_requirements.py,
 * test_markers.py), so that gpuslim reads them as pip does. */
#include <stdlib.h>

#include "core/pep440.h"
#include "unit.h"
#include "util/error.h"
#include "util/strbuf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* In PEP 440 order (packaging's VERSIONS). */
static const char *const ordered[] = {
    "1.0.dev0",
    "1.0.dev456",
    "1.0.dev456+local",
    "1.0a0",
    "1.0a0.post0.dev0",
    "1.0a0.post0",
    "1.0a1.dev1",
    "1.0a1.dev1+local",
    "1.0a1",
    "1.0a1+local",
    "1.0b0",
    "1.0b1.dev456",
    "1.0b2",
    "1.0b2.post345.dev456",
    "1.0b2.post345",
    "1.0b2-346",
    "1.0rc0",
    "1.0rc1.dev1",
    "1.0c1",
    "1.0rc2",
    "1.0",
    "1.0.post0.dev0",
    "1.0.post0",
    "1.0.post456.dev34",
    "1.0.post456",
    "1.0.post456+local",
    "1.0.1.dev1",
    "1.0.1a1",
    "1.0.1",
    "1.0.1+local",
    "1.0.1.post1",
    "1.1.dev1",
    "1.2+a",
    "1.2+abc",
    "1.2+abcdef",
    "1.2+def",
    "1.2+0",
    "1.2+1",
    "1.2+1.abc",
    "1.2+1.1",
    "1.2+1.1.0",
    "1.2+2",
    "1.2+123",
    "1.2+123456",
    "1.2.r32+123456",
    "1.2.rev33+123456",
    "1!1.0.dev0",
    "1!1.0a1",
    "1!1.0rc1",
    "1!1.0",
    "1!1.0.post1",
    "1!1.2+abc",
    "1!1.2.rev33+123456",
};

static void test_order(void)
{
	int bad = 0;

	for (size_t i = 0; i < N(ordered); i++) {
		for (size_t j = 0; j < N(ordered); j++) {
			int c = pep440_cmp(ordered[i], ordered[j]);
			int want = i < j ? -1 : i > j;

			if (c != want) {
				printf("#   cmp('%s', '%s') = %d, want %d\n", ordered[i],
				       ordered[j], c, want);
				bad++;
			}
		}
	}
	CHECK(bad == 0, "PEP 440 order of %zu versions, every pair both ways", N(ordered));
}

static void test_equal_forms(void)
{
	static const char *const eq[][2] = {
	    {"1.0RC1", "1.0rc1"},
	    {"1.0", "1.0.0"},
	    {"1.0c1", "1.0rc1"},
	    {"1.0-1", "1.0.post1"},
	    {"1.0.r1", "1.0.post1"},
	    {"v1.0", "1.0"},
	    {"1.01", "1.1"},
	    {"0!1.0", "1.0"},
	    {"1.0+AbC", "1.0+abc"},
	    {"1.0+a-b_c", "1.0+a.b.c"},
	    {"2.0+deadbeef.0", "2.0+deadbeef.00"},
	    {" 1.0\t", "1.0"},
	    {"1.0alpha1", "1.0a1"},
	    {"1.0preview2", "1.0rc2"},
	    {"1.0-dev", "1.0.dev0"},
	};

	for (size_t i = 0; i < N(eq); i++)
		CHECK(pep440_cmp(eq[i][0], eq[i][1]) == 0, "'%s' == '%s'", eq[i][0], eq[i][1]);
	CHECK(pep440_cmp("2.11.0", "2.11.0+cpu") < 0, "2.11.0 < 2.11.0+cpu");
	CHECK(pep440_cmp("2.11.0+cu130", "2.11.0+cu129") > 0, "+cu130 > +cu129");
	CHECK(pep440_cmp("1.10", "1.9") > 0, "1.10 > 1.9 (numbers, not strings)");
	CHECK(pep440_cmp("20240101123456789012345", "20240101123456789012344") > 0,
	      "numbers longer than 64 bits");
	CHECK(pep440_cmp("nonsense", "1.0") < 0 && pep440_cmp("1.0", "nonsense") > 0,
	      "an invalid version sorts first");
}

static void test_valid(void)
{
	static const char *const good[] = {
	    "2.11.0+cu130", "1.0rc1",	"1!2.0.post1.dev3", "1.0a-",	    "1.0.post",
	    "1.0-5",	    "v1.0",	"13.0.0.19",	    "1.0+1.2.abc",  "1.0.DEV",
	    "1.0r",	    "0100!0.0", "1.0a.post1",	    "1.0.post-dev",
	};
	static const char *const bad[] = {
	    "french toast",
	    "1.0+a+",
	    "1.0++",
	    "1.0+_foobar",
	    "1.0+foo&asd",
	    "1.0+1+1",
	    "1. 0",
	    "1 .0",
	    "1.0 a1",
	    "1.0a 1",
	    ".",
	    "..",
	    "1..0",
	    "1.0.",
	    ".1.0",
	    "1..2.3",
	    "",
	    "1.0+",
	    "1!",
	    "!1.0",
	    "1.0-",
	    "1.0.post1.post2",
	    "1.0a1b1",
	    "1.0+\xc4\xb0",
	    "1.0dev1dev2",
	};

	for (size_t i = 0; i < N(good); i++)
		CHECK(pep440_valid(good[i]) == 0, "valid: '%s'", good[i]);
	for (size_t i = 0; i < N(bad); i++)
		CHECK(pep440_valid(bad[i]) == GS_EINVAL, "invalid: '%s'", bad[i]);
	pep440_valid("1..2");
	CHECK_STR(error_last(), "invalid version '1..2'", "the error names the version");
}

static void test_normalize(void)
{
	static const char *const cases[][2] = {
	    {"1.0dev", "1.0.dev0"},
	    {"1.0-DEV1", "1.0.dev1"},
	    {"1.0.a", "1.0a0"},
	    {"1.0-ALPHA1", "1.0a1"},
	    {"1.0BETA", "1.0b0"},
	    {"1.0.c1", "1.0rc1"},
	    {"1.0RC1", "1.0rc1"},
	    {"1.0post", "1.0.post0"},
	    {"1.0-r5", "1.0.post5"},
	    {"1.0-rev5", "1.0.post5"},
	    {"1.0-5", "1.0.post5"},
	    {"1.0+AbC", "1.0+abc"},
	    {"1.01", "1.1"},
	    {"1.0a05", "1.0a5"},
	    {"1.0c056", "1.0rc56"},
	    {"1.0.post000", "1.0.post0"},
	    {"1.1.dev09000", "1.1.dev9000"},
	    {"00!1.2", "1.2"},
	    {"0100!0.0", "100!0.0"},
	    {"v1.0", "1.0"},
	    {"   v1.0\t\n", "1.0"},
	    {"7!1.0b2.post345.dev456", "7!1.0b2.post345.dev456"},
	    {"2.11.0+CU130", "2.11.0+cu130"},
	    {"1.0+a-b_c", "1.0+a.b.c"},
	};

	for (size_t i = 0; i < N(cases); i++) {
		char *n = pep440_normalize(cases[i][0]);

		CHECK_STR(n, cases[i][1], cases[i][0]);
		free(n);
	}
	CHECK(pep440_normalize("1..0") == NULL, "normalize refuses an invalid version");
}

static void test_parts(void)
{
	char *p = pep440_public("2.11.0+cu130");

	CHECK_STR(p, "2.11.0", "public part");
	free(p);
	p = pep440_public("1.0");
	CHECK_STR(p, "1.0", "public part of a public version");
	free(p);
	CHECK_STR(pep440_local("2.11.0+cu130"), "cu130", "local label");
	CHECK(pep440_local("2.11.0") == NULL, "no local label");
	CHECK(pep440_is_prerelease("1.0rc1") && pep440_is_prerelease("2.0.dev3") &&
		  pep440_is_prerelease("1.0a1.post1") && !pep440_is_prerelease("1.0.post1") &&
		  !pep440_is_prerelease("1.0+dev"),
	      "pre-releases are a, b, rc and dev releases");
}

struct contains_case {
	const char *version, *spec;
	int want;
};

/* With pre-releases allowed (packaging's test_specifiers, prereleases=True). */
static const struct contains_case contains[] = {
    {"2.0", "==2", 1},
    {"2.0", "==2.0", 1},
    {"2.0", "==2.0.0", 1},
    {"2.0+deadbeef", "==2", 1},
    {"2.0+deadbeef", "==2.0+deadbeef", 1},
    {"2.0+deadbeef", "==2.0.0+deadbeef", 1},
    {"2.0+deadbeef.0", "==2.0.0+deadbeef.00", 1},
    {"2.dev1", "==2.*", 1},
    {"2a1", "==2.*", 1},
    {"2a1.post1", "==2.*", 1},
    {"2c1.post1.dev1", "==2.0.*", 1},
    {"2rc1", "==2.0.*", 1},
    {"2", "==2.0.0.*", 1},
    {"2", "==0!2.*", 1},
    {"2.0.0.0", "==2.0.*", 1},
    {"2.1+local.version", "==2.1.*", 1},
    {"2.1", "!=2", 1},
    {"2.0.1", "!=2.0.0", 1},
    {"2.0", "!=2.0+deadbeef", 1},
    {"2.0", "!=3.*", 1},
    {"2.1.0.0", "!=2.0.*", 1},
    {"2.0.post1", ">=2", 1},
    {"2.0.post1.dev1", ">=2", 1},
    {"3.0.0a8", ">=3.0.0a7", 1},
    {"2.0.dev1", "<=2", 1},
    {"2.0c1.post1.dev1", "<=2", 1},
    {"3.0.0a7", "<=3.0.0a8", 1},
    {"2.0.1", ">2", 1},
    {"2.1.post1", ">2", 1},
    {"2.1+local.version", ">2", 1},
    {"2.0.dev0", "<2.1", 1},
    {"3.0.0a7", "<3.0.0a8", 1},
    {"1", "~=1.0", 1},
    {"1.9999999", "~=1.0", 1},
    {"1.1", "~=1.0a1", 1},
    {"2022.01.01", "~=2022.01.01", 1},
    {"2!1.0", "~=2!1.0", 1},
    {"2!1.0.0", "==2!1.0.0.0.*", 1},
    {"1.0", "!=2!1.0", 1},
    {"1.0", "<=2!0.1", 1},
    {"2!1.0", ">2.0", 1},
    {"2.0.5", ">2.0dev", 1},
    {"1.0+local", ">1.0.dev1", 1},
    {"1.0a2+local", ">1.0a1", 1},
    {"1.0.post2+local", ">1.0.post1", 1},
    {"2.1", "==2", 0},
    {"2.0", "==2.0+deadbeef", 0},
    {"2.1", "==2.0.*", 0},
    {"3", "==2.0.0.*", 0},
    {"2.1.0.0", "==2.0.*", 0},
    {"2.0+deadbeef", "!=2", 0},
    {"2.0+deadbeef", "!=2.0.0+deadbeef", 0},
    {"2c1.post1.dev1", "!=2.0.*", 0},
    {"2.0.0", "!=2.*", 0},
    {"2.0.dev1", ">=2", 0},
    {"2.0b1.post1", ">=2", 0},
    {"2.0.post1", "<=2", 0},
    {"2.0.post1.dev1", "<=2", 0},
    {"2.0", ">2", 0},
    {"2.0.post1", ">2", 0},
    {"2.0.post1.dev1", ">2", 0},
    {"2.0+local.version", ">2", 0},
    {"4.1.0a2.dev1234+local", ">4.1.0a2.dev1234", 0},
    {"1.0a1+local", ">1.0a1", 0},
    {"1.0.post1+local", ">1.0.post1", 0},
    {"2.0.dev1", "<2", 0},
    {"2.0a1.post1", "<2", 0},
    {"2.0b2.dev1", "<2", 0},
    {"2.0", "<2", 0},
    {"2.post1", "<2", 0},
    {"2.0", "~=1.0", 0},
    {"1.1.0", "~=1.0.0", 0},
    {"1.1.post1", "~=1.0.0", 0},
    {"1.0", "~=2!1.0", 0},
    {"2!1.0", "==1.0", 0},
    {"2!1.0", "==1.*", 0},
    {"1.0", "==2!1.*", 0},
    /* PEP 440's exclusive comparisons on post- and pre-releases of V itself. */
    {"1.0.post0", ">1.0.dev1", 1},
    {"1.0.post0", ">1.0a1", 1},
    {"1.0a1.post0", ">1.0a1", 0},
    {"1.0a2.post0", ">1.0a1", 1},
    {"1.0.post0", ">1.0", 0},
    {"2.0.post0", ">1.0", 1},
    {"1.0.post1.dev0", "<1.0.post1", 0},
    {"1.0.dev0", "<1.0.post1", 1},
    {"1.0rc1", "<1.0.post1", 1},
    {"1.0.post0.dev0", "<1.0.post1", 1},
    {"2.0a1", "<2.0", 0},
    {"2.0a1", "<2.0a2", 1},
    /* Sets. */
    {"2.11.0+cu130", ">=2.10,<2.12", 1},
    {"2.11.0+cu130", "==2.11.0+cu130", 1},
    {"2.11.0+cpu", "==2.11.0+cu130", 0},
    {"2.11.0+cu130", "==2.11.0", 1},
    {"1.5.3", ">=1.0,<2,!=1.5.*", 0},
    {"1.6", ">=1.0, <2, !=1.5.*", 1},
    {"1.6", " >= 1.0 ,, < 2 ", 1},
    {"7", "", 1},
    /* ===: the text, case aside. */
    {"1.0", "===1.0", 1},
    {"1.0.0", "===1.0", 0},
    {"1.0+downstream1", "===1.0", 0},
    {"1.0A1", "===1.0a1", 1},
    {"lolwat", "===LoLWaT", 1},
    {"foobar", "===baz", 0},
    {"1.01", "===1.1", 0},
    {"not a valid version", "==1.0", 0},
    {"not a valid version", "!=1.*", 0},
    {"invalid", "===invalid", 1},
};

static void test_contains(void)
{
	for (size_t i = 0; i < N(contains); i++) {
		struct pep440_spec *s = NULL;
		int ok = pep440_spec_parse(contains[i].spec, &s) == 0;

		CHECK(ok && pep440_spec_contains(s, contains[i].version, 1) == contains[i].want,
		      "'%s' %s '%s'", contains[i].version, contains[i].want ? "in" : "not in",
		      contains[i].spec);
		pep440_spec_free(s);
	}
}

/* Without asking for pre-releases: they match only when a clause names one. */
static void test_prereleases(void)
{
	static const struct contains_case cases[] = {
	    {"2.0.dev1", ">=1.0", 0},
	    {"2.0a1", ">=2.0.dev1", 1},
	    {"2.0a1.dev1", "==2.0.*", 0},
	    {"1.0.dev1", "<=2.0", 0},
	    {"1.0a1", "<=2.0.dev1", 1},
	    {"0.9.dev1", "<1.0.dev1", 0},
	    {"1.1.dev1", ">1.0.dev1", 0},
	    {"1.0rc1", "==1.0rc1", 1},
	    {"1.1rc1", "~=1.0rc1", 1},
	    {"1.0rc1", "!=1.0rc2", 0},
	    {"1.0rc1", "", 0},
	    {"2.0", ">=1.0", 1},
	    {"1.0a1", "===1.0a1", 1},
	    {"2.0rc1", ">=1,<=2.0rc1", 1},
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct pep440_spec *s = NULL;
		int ok = pep440_spec_parse(cases[i].spec, &s) == 0;

		CHECK(ok && pep440_spec_contains(s, cases[i].version, 0) == cases[i].want,
		      "no pre-releases asked: '%s' %s '%s'", cases[i].version,
		      cases[i].want ? "in" : "not in", cases[i].spec);
		pep440_spec_free(s);
	}
}

static void test_bad_specs(void)
{
	static const char *const bad[] = {
	    "2.0",	    "=>2.0",	      "==",	      "~=1.0+5",   ">=1.0+deadbeef",
	    "<=1.0+abc123", ">1.0+ww",	      "<1.0+1.0",     "~=1.0.*",   ">=1.0.*",
	    "<=1.0.*",	    ">1.0.*",	      "<1.0.*",	      "==1.0.*+5", "!=1.0.*+de",
	    "==2.0a1.*",    "==2.0.post1.*",  "!=2.0.dev1.*", "==1.0+5.*", "==1.0.*.5",
	    "~=1",	    "==1.2+\xc4\xb0", ">=1.0,<",      "== 1.0 2",  "===",
	    ">=1.0;",
	};
	static const char *const good[] = {"~=2.0",	 "==2.1.*",  "==2.1.0.3", "!=2.2.*",
					   "!=2.2.0.5",	 "<=5",	     ">=7.9a1",	  "<1.0.dev1",
					   ">2.0.post1", "< 2",	     "===foobar", "== 1.0+local",
					   "~=1.0.dev1", ">=1.0RC1", "==v1.0",	  ""};

	for (size_t i = 0; i < N(bad); i++) {
		struct pep440_spec *s = NULL;

		CHECK(pep440_spec_parse(bad[i], &s) == GS_EINVAL && !s, "invalid specifier: '%s'",
		      bad[i]);
	}
	for (size_t i = 0; i < N(good); i++) {
		struct pep440_spec *s = NULL;

		CHECK(pep440_spec_parse(good[i], &s) == 0 && s, "valid specifier: '%s'", good[i]);
		pep440_spec_free(s);
	}
	{
		struct pep440_spec *s = NULL;

		pep440_spec_parse(">=1.0,<2..0", &s);
		CHECK_STR(error_last(), "invalid specifier '<2..0' in '>=1.0,<2..0'",
			  "the error names the clause and the set");
	}
}

struct req_case {
	const char *text;
	const char *name, *name_raw, *extras, *spec, *url, *marker;
};

static void test_requirements(void)
{
	static const struct req_case ok[] = {
	    {"name", "name", "name", "", "", NULL, NULL},
	    {"Foo_Bar.baz", "foo-bar-baz", "Foo_Bar.baz", "", "", NULL, NULL},
	    {"name[extra1,extra2] (>=1,<2) ; python_version < '3.12'", "name", "name",
	     "extra1,extra2", ">=1,<2", NULL, "python_version < '3.12'"},
	    {"name>=1.0", "name", "name", "", ">=1.0", NULL, NULL},
	    {"name >= 1.0 , < 2", "name", "name", "", ">=1.0,<2", NULL, NULL},
	    {"name(==1.0)", "name", "name", "", "==1.0", NULL, NULL},
	    {"name ( )", "name", "name", "", "", NULL, NULL},
	    {"name[]", "name", "name", "", "", NULL, NULL},
	    {"name[ Bar_Baz , quux ]>1", "name", "name", "bar-baz,quux", ">1", NULL, NULL},
	    {"name==2.11.0+cu130", "name", "name", "", "==2.11.0+cu130", NULL, NULL},
	    {"name==1.0.*;python_version>='3'", "name", "name", "", "==1.0.*", NULL,
	     "python_version>='3'"},
	    {"name @ https://example.com/name-1.0-py3-none-any.whl#sha256=00", "name", "name", "",
	     "", "https://example.com/name-1.0-py3-none-any.whl#sha256=00", NULL},
	    {"name[x] @ file:///tmp/a.whl ; os_name == 'posix'", "name", "name", "x", "",
	     "file:///tmp/a.whl", "os_name == 'posix'"},
	    {"name @ git+https://h/r.git@v1;x", "name", "name", "", "", "git+https://h/r.git@v1;x",
	     NULL},
	    {"nvidia-cublas==13.0.0.19; platform_system == \"Linux\" and platform_machine == "
	     "\"x86_64\"",
	     "nvidia-cublas", "nvidia-cublas", "", "==13.0.0.19", NULL,
	     "platform_system == \"Linux\" and platform_machine == \"x86_64\""},
	    {"  name  ", "name", "name", "", "", NULL, NULL},
	    {"A", "a", "A", "", "", NULL, NULL},
	    {"name===arbitrary", "name", "name", "", "===arbitrary", NULL, NULL},
	    {"name; extra == 'cuda'", "name", "name", "", "", NULL, "extra == 'cuda'"},
	};
	static const char *const bad[] = {
	    "",
	    "-name",
	    "name-",
	    "name[",
	    "name[extra",
	    "name[extra;]",
	    "name[,]",
	    "name (>=1",
	    "name >=",
	    "name >=1.0,",
	    "name =>1.0",
	    "name 1.0",
	    "name @",
	    "name @ http://x; python_version>'3'",
	    "name @ http://x junk",
	    "name ; ",
	    "name ; python_version",
	    "name ; python_version < ",
	    "name ; nosuchvar == '1'",
	    "name ; (python_version < '3'",
	    "name ; python_version < '3' and",
	    "name ; python_version < '3",
	    "name==1.0 junk",
	    "name>=1.0..",
	    "name ; python_version ~= 'linux'x",
	};

	for (size_t i = 0; i < N(ok); i++) {
		struct pyreq r;
		int ret = pyreq_parse(ok[i].text, &r);
		struct strbuf ex = STRBUF_INIT;

		CHECK(ret == 0, "requirement '%s' parses (%s)", ok[i].text, error_last());
		if (ret)
			continue;
		strbuf_init(&ex, 0);
		for (size_t k = 0; k < r.extras.nr; k++)
			strbuf_addf(&ex, "%s%s", k ? "," : "", (char *)r.extras.items[k]);
		CHECK_STR(r.name, ok[i].name, "  name");
		CHECK_STR(r.name_raw, ok[i].name_raw, "  name as written");
		CHECK_STR(ex.buf, ok[i].extras, "  extras");
		CHECK_STR(r.spec, ok[i].spec, "  specifier");
		CHECK_STR(r.url, ok[i].url, "  url");
		CHECK_STR(r.marker, ok[i].marker, "  marker");
		strbuf_release(&ex);
		pyreq_release(&r);
	}
	for (size_t i = 0; i < N(bad); i++) {
		struct pyreq r;

		CHECK(pyreq_parse(bad[i], &r) == GS_EINVAL && !r.name, "invalid requirement '%s'",
		      bad[i]);
		pyreq_release(&r);
	}
	{
		struct pyreq r;

		pyreq_parse("name >=1 junk", &r);
		CHECK_STR(error_last(),
			  "invalid requirement 'name >=1 junk': unexpected text at column 10",
			  "a requirement's error names it and the column");
	}
}

static const struct pyenv env311 = {
    "3.11", NULL, "linux", "x86_64", "Linux", "posix", "cpython", "CPython",
};

static void test_markers(void)
{
	static const struct {
		const char *marker, *extra;
		int want;
	} cases[] = {
	    {"python_version < '3.12'", NULL, 1},
	    {"python_version >= \"3.11\"", NULL, 1},
	    {"python_version > '3.8'", NULL, 1}, /* 3.11 > 3.8 as versions, not strings */
	    {"python_version < '3.9'", NULL, 0},
	    {"'3.12' > python_version", NULL, 1},
	    {"python_full_version == '3.11.0'", NULL, 1},
	    {"python_full_version >= '3.11.1'", NULL, 0},
	    {"python_version == '3.*'", NULL, 1},
	    {"python_version ~= '3.10'", NULL, 1},
	    {"sys_platform == 'linux'", NULL, 1},
	    {"sys_platform == 'win32'", NULL, 0},
	    {"sys_platform != 'win32' and platform_machine == 'x86_64'", NULL, 1},
	    {"platform_machine == 'aarch64' or platform_machine == 'x86_64'", NULL, 1},
	    {"platform_machine == 'aarch64' or platform_machine == 'arm64' and os_name == 'posix'",
	     NULL, 0},
	    {"(platform_machine == 'aarch64' or platform_machine == 'x86_64') and "
	     "platform_system == 'Linux'",
	     NULL, 1},
	    {"platform_system=='Linux'and(python_version<'3.12')", NULL, 1},
	    {"'linux' in sys_platform", NULL, 1},
	    {"'lin' in sys_platform", NULL, 1},
	    {"'win' not in sys_platform", NULL, 1},
	    {"sys_platform in 'linux cygwin'", NULL, 1},
	    {"implementation_name == 'cpython' and platform_python_implementation == 'CPython'",
	     NULL, 1},
	    {"python_implementation == 'CPython'", NULL, 1},
	    {"os.name == 'posix'", NULL, 1},
	    {"sys.platform == 'linux'", NULL, 1},
	    {"extra == 'cuda'", NULL, 0},
	    {"extra == 'cuda'", "cuda", 1},
	    {"extra == 'CUDA_12'", "cuda-12", 1},
	    {"extra == \"test\" and python_version < '3.13'", "test", 1},
	    {"platform_release == ''", NULL, 1},
	    {"python_version > 'abc'", NULL, 0}, /* string comparison: '3.11' < 'abc' */
	    {"os_name < 'q'", NULL, 1},
	    {"'3.11' == python_version", NULL, 1},
	    {"implementation_version >= '3.11'", NULL, 1},
	};

	for (size_t i = 0; i < N(cases); i++) {
		int r = -1, ret = pyreq_marker_eval(cases[i].marker, &env311, cases[i].extra, &r);

		CHECK(ret == 0 && r == cases[i].want, "marker '%s'%s%s is %s (%s)", cases[i].marker,
		      cases[i].extra ? " with extra " : "", cases[i].extra ? cases[i].extra : "",
		      cases[i].want ? "true" : "false", ret ? error_last() : "");
	}
	{
		struct pyenv full = env311;
		int r = 0;

		full.python_full_version = "3.11.4";
		CHECK(pyreq_marker_eval("python_full_version >= '3.11.3'", &full, NULL, &r) == 0 &&
			  r == 1,
		      "python_full_version from the env");
		CHECK(pyreq_marker_eval("python_version ~= 'abc'", &full, NULL, &r) == GS_EINVAL,
		      "~= on a non-version is an error");
		CHECK(pyreq_marker_eval("nope == '1'", &full, NULL, &r) == GS_EINVAL,
		      "an unknown variable is an error");
		CHECK_STR(error_last(),
			  "invalid marker 'nope == '1'': unknown variable at column 1",
			  "the marker error names it and the column");
		CHECK(pyreq_marker_eval("python_version < '3' junk", &full, NULL, &r) == GS_EINVAL,
		      "text after a marker is an error");
	}
}

static void test_names(void)
{
	static const char *const cases[][2] = {
	    {"Foo", "foo"},	      {"Foo_Bar", "foo-bar"},
	    {"foo.bar", "foo-bar"},   {"foo--bar", "foo-bar"},
	    {"Foo-._Bar", "foo-bar"}, {"nvidia_cudnn_cu13", "nvidia-cudnn-cu13"},
	    {"torch", "torch"},
	};

	for (size_t i = 0; i < N(cases); i++) {
		char *n = pyname_normalize(cases[i][0]);

		CHECK_STR(n, cases[i][1], cases[i][0]);
		free(n);
	}
}

int main(void)
{
	test_order();
	test_equal_forms();
	test_valid();
	test_normalize();
	test_parts();
	test_contains();
	test_prereleases();
	test_bad_specs();
	test_requirements();
	test_markers();
	test_names();
	return unit_done();
}
