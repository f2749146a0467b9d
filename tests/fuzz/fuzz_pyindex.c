/* Fuzz target: the Python packaging parsers. The first byte picks one, the
 * rest is its input (the seeds in tests/fuzz/seeds/pyindex/ start with it):
 *   'j' a PEP 691 JSON project page    'h' a PEP 503 HTML project page
 *   'm' a METADATA file                'w' a wheel file name
 *   'v' two versions and a specifier, one a line: parse, compare, match
 *   'r' a PEP 508 requirement, its marker evaluated */
#include <stdlib.h>
#include <string.h>

#include "core/pep440.h"
#include "core/pyindex.h"
#include "core/wheel.h"
#include "fuzz.h"
#include "util/error.h"
#include "util/strbuf.h"

static const char page_url[] = "https://user:pw@idx.example/simple/pkg/";

/* The input as a C string (a NUL inside ends it, as it would a C caller's). */
static char *fuzz_cstr(const uint8_t *data, size_t size)
{
	return xstrndup((const char *)data, size);
}

static void fuzz_versions(char *s)
{
	char *a = s, *b = strchr(a, '\n'), *spec_text = NULL;
	struct pep440_spec *spec = NULL;

	if (b) {
		*b++ = '\0';
		spec_text = strchr(b, '\n');
		if (spec_text)
			*spec_text++ = '\0';
	} else {
		b = a;
	}
	if (pep440_valid(a) == 0) {
		char *n = pep440_normalize(a), *p = pep440_public(a);

		/* Normalizing keeps the version's place. */
		if (!n || pep440_cmp(n, a) != 0)
			abort();
		free(n);
		free(p);
	}
	if (pep440_cmp(a, b) != -pep440_cmp(b, a))
		abort();
	pep440_is_prerelease(a);
	pep440_local(a);
	if (spec_text && pep440_spec_parse(spec_text, &spec) == 0) {
		pep440_spec_contains(spec, a, 0);
		pep440_spec_contains(spec, b, 1);
	}
	pep440_spec_free(spec);
}

static void fuzz_requirement(const char *s)
{
	static const struct pyenv env = {"3.11",  "3.11.4", "linux",   "x86_64",
					 "Linux", "posix",  "cpython", "CPython"};
	struct pyreq r;
	int result;

	if (pyreq_parse(s, &r) == 0 && r.marker) {
		pyreq_marker_eval(r.marker, &env, NULL, &result);
		pyreq_marker_eval(r.marker, &env, "cuda", &result);
	}
	pyreq_release(&r);
	pyreq_marker_eval(s, &env, "x", &result);
	free(pyname_normalize(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pyindex_project p;
	struct pyindex_metadata m;
	struct wheel_name w;
	char *s;

	if (size < 1)
		return 0;
	switch (data[0]) {
	case 'j':
		if (pyindex_parse_json((const char *)data + 1, size - 1, page_url, &p) == 0)
			pyindex_project_release(&p);
		break;
	case 'h':
		if (pyindex_parse_html((const char *)data + 1, size - 1, page_url, &p) == 0)
			pyindex_project_release(&p);
		break;
	case 'm':
		if (pyindex_parse_metadata((const char *)data + 1, size - 1, &m) == 0)
			pyindex_metadata_release(&m);
		break;
	case 'w': {
		static const struct wheel_target t = {"3.11", 2, 36, "x86_64"};

		s = fuzz_cstr(data + 1, size - 1);
		if (wheel_name_parse(s, &w) == 0) {
			wheel_compatible(&w, &t);
			wheel_name_release(&w);
		}
		free(s);
		break;
	}
	case 'v':
		s = fuzz_cstr(data + 1, size - 1);
		fuzz_versions(s);
		free(s);
		break;
	case 'r':
		s = fuzz_cstr(data + 1, size - 1);
		fuzz_requirement(s);
		free(s);
		break;
	default:
		break;
	}
	error_clear();
	return 0;
}
