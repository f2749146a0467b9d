/* core/diff.c: the difference of two reports, from hand-made reports. */
#include <stdlib.h>
#include <string.h>

#include "core/diff.h"
#include "unit.h"
#include "util/error.h"

/* The path entry `path` of d.paths, or NULL. */
static json_t *path_entry(const json_t *d, const char *path)
{
	json_t *v;
	size_t i;

	json_array_foreach(
	    json_object_get(d, "paths"), i,
	    v) if (!strcmp(json_string_value(json_object_get(v, "path")), path)) return v;
	return NULL;
}

static long long num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "(null)";
}

/* A report: layers (diff_id, size), packages, components, a sizemap. */
static json_t *report(const char *layers, const char *packages, const char *comps,
		      const char *sizemap, long long size)
{
	json_error_t err;
	json_t *r = json_pack(
	    "{s:{s:I,s:I,s:n},s:o,s:o,s:{s:o},s:o}", "summary", "size", (json_int_t)size, "files",
	    (json_int_t)3, "compressed_size", "layers", json_loads(layers, 0, &err), "packages",
	    json_loads(packages, 0, &err), "cuda", "components", json_loads(comps, 0, &err),
	    "sizemap", sizemap ? json_loads(sizemap, 0, &err) : json_null());

	if (!sizemap)
		json_object_del(r, "sizemap");
	return r;
}

static void test_paths(void)
{
	/* A: usr/lib (libx 1000, a rest of 300), opt/app/model 5000; B: a layer with another
	 * copy of libx (1500) and /new instead of the model's layer. */
	json_t *a = report(
	    "[{\"index\":0,\"diff_id\":\"sha256:1\",\"size\":1300},"
	    "{\"index\":1,\"diff_id\":\"sha256:2\",\"size\":5000,\"created_by\":\"COPY model\"}]",
	    "[{\"manager\":\"dpkg\",\"name\":\"libc6\",\"version\":\"2.36\",\"bytes\":1000},"
	    "{\"manager\":\"pip\",\"name\":\"torch\",\"version\":\"2.1\",\"bytes\":500}]",
	    "[{\"name\":\"cublas\",\"bytes\":100}]",
	    "{\"min_bytes\":10,\"owners\":[[\"base\",null]],\"layers\":["
	    "[[\"usr/lib\",1300,0,[[\"libx\",1000,0],[\"\",300,0,7]]]],"
	    "[[\"opt/app\",5000,0,[[\"model\",5000,0]]]]]}",
	    6300);
	json_t *b =
	    report("[{\"index\":0,\"diff_id\":\"sha256:1\",\"size\":1300},"
		   "{\"index\":1,\"diff_id\":\"sha256:3\",\"size\":2000,\"created_by\":\"RUN x\"}]",
		   "[{\"manager\":\"dpkg\",\"name\":\"libc6\",\"version\":\"2.37\",\"bytes\":1000},"
		   "{\"manager\":\"dpkg\",\"name\":\"zlib\",\"version\":\"1\",\"bytes\":20}]",
		   "[{\"name\":\"cublas\",\"bytes\":150},{\"name\":\"cudnn\",\"bytes\":70}]",
		   "{\"min_bytes\":10,\"owners\":[[\"base\",null]],\"layers\":["
		   "[[\"usr/lib\",1300,0,[[\"libx\",1000,0],[\"\",300,0,7]]]],"
		   "[[\"usr/lib\",1500,0,[[\"libx\",1500,0]]],[\"new\",500,0]]]}",
		   3300);
	json_t *d = NULL, *e;
	struct strbuf sb = STRBUF_INIT;

	CHECK(diff_reports(a, b, "A", "B", 0, &d) == 0 && d, "diff of two reports (%s)",
	      error_last());
	if (!d)
		goto done;
	CHECK(num(json_object_get(json_object_get(d, "summary"), "size"), "delta") == -3000,
	      "summary.size delta -3000");
	CHECK(json_is_null(json_object_get(
		  json_object_get(json_object_get(d, "summary"), "compressed_size"), "delta")),
	      "a value null on one side: delta null");
	e = path_entry(d, "/opt");
	CHECK(e && !strcmp(str(e, "change"), "removed") && num(e, "delta") == -5000,
	      "/opt removed, whole (%s)", e ? str(e, "change") : "absent");
	CHECK(!path_entry(d, "/opt/app") && !path_entry(d, "/opt/app/model"),
	      "a removed directory is one entry");
	e = path_entry(d, "/usr/lib/libx");
	CHECK(e && !strcmp(str(e, "change"), "grew") && num(e, "bytes_a") == 1000 &&
		  num(e, "bytes_b") == 2500,
	      "libx grew: every layer's copy counted (1000 -> 2500)");
	e = path_entry(d, "/new");
	CHECK(e && !strcmp(str(e, "change"), "added") && num(e, "delta") == 500, "/new added");
	{
		long long sum = 0;
		json_t *v;
		size_t i;

		json_array_foreach(json_object_get(d, "paths"), i, v) sum += num(v, "delta");
		CHECK(sum == -3000, "the paths add up to the size's delta (%lld)", sum);
		CHECK(num(d, "paths_total") == 3, "three paths changed (%lld)",
		      num(d, "paths_total"));
	}
	e = json_array_get(json_object_get(d, "paths"), 0);
	CHECK(e && !strcmp(str(e, "path"), "/opt"), "biggest change first");
	e = json_object_get(d, "layers");
	CHECK(json_array_size(e) == 2 && !strcmp(str(json_array_get(e, 0), "change"), "removed") &&
		  num(json_array_get(e, 0), "bytes") == 5000 &&
		  !strcmp(str(json_array_get(e, 1), "change"), "added"),
	      "layers by diff_id: sha256:2 removed (5000), sha256:3 added, sha256:1 kept");
	e = json_object_get(d, "packages");
	CHECK(json_array_size(e) == 3 && !strcmp(str(json_array_get(e, 0), "name"), "torch") &&
		  !strcmp(str(json_array_get(e, 0), "change"), "removed") &&
		  !strcmp(str(json_array_get(e, 1), "name"), "zlib") &&
		  !strcmp(str(json_array_get(e, 2), "change"), "changed") &&
		  !strcmp(str(json_array_get(e, 2), "version_b"), "2.37"),
	      "packages: torch removed, zlib added, libc6 changed version at the same bytes");
	e = json_object_get(d, "cuda");
	CHECK(json_array_size(e) == 2 && !strcmp(str(json_array_get(e, 0), "name"), "cudnn") &&
		  !strcmp(str(json_array_get(e, 0), "change"), "added") &&
		  !strcmp(str(json_array_get(e, 1), "change"), "grew"),
	      "components: cudnn added (70), cublas grew (50)");
	e = json_object_get(d, "tree");
	CHECK(json_is_array(e) && json_array_size(json_array_get(e, 3)) == 3,
	      "the tree: usr, opt, new at the top");
	diff_markdown(d, 0, &sb);
	CHECK(strstr(sb.buf, "| removed | /opt | 5.0 kB | 0 B | -5.0 kB |") != NULL,
	      "markdown row of /opt");
	strbuf_reset(&sb);
	diff_human(d, 0, &sb);
	CHECK(strstr(sb.buf, "  added    +500 B  /new\n") != NULL, "text line of /new");
done:
	strbuf_release(&sb);
	json_decref(a);
	json_decref(b);
	json_decref(d);
}

/* A child only one side details, where the other has a rest: pooled, never "added". */
static void test_rest_pool(void)
{
	json_t *a = report("[]", "[]", "[]",
			   "{\"layers\":[[[\"d\",100,0,[[\"big\",60,0],[\"\",40,0,9]]]]]}", 100);
	json_t *b = report(
	    "[]", "[]", "[]",
	    "{\"layers\":[[[\"d\",150,0,[[\"big\",60,0],[\"mid\",50,0],[\"\",40,0,9]]]]]}", 150);
	json_t *c = report("[]", "[]", "[]", NULL, 150);
	json_t *d = NULL, *e;

	CHECK(diff_reports(a, b, "A", "B", 0, &d) == 0 && d, "diff with rests");
	e = d ? path_entry(d, "/d/(smaller files)") : NULL;
	CHECK(e && num(e, "bytes_a") == 40 && num(e, "bytes_b") == 90 && !path_entry(d, "/d/mid"),
	      "mid may have been in A's rest: the rests compared with it (40 -> 90)");
	json_decref(d);
	CHECK(diff_reports(a, c, "A", "C", 0, &d) == 0 && d &&
		  json_is_null(json_object_get(d, "paths")) &&
		  json_is_null(json_object_get(d, "tree")),
	      "a report without a sizemap: paths null");
	json_decref(d);
	json_object_del(c, "summary");
	CHECK(diff_reports(a, c, "A", "C", 0, &d) == GS_EINVAL &&
		  strstr(error_last(), "'C' is no report: no summary.size"),
	      "no summary.size: GS_EINVAL naming it (%s)", error_last());
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

int main(void)
{
	test_paths();
	test_rest_pool();
	return unit_done();
}
