/* Artifacts attached to a manifest: push and list (core/referrers.h). */
#include <stdlib.h>
#include <string.h>

#include "core/referrers.h"
#include "util/error.h"
#include "util/strbuf.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX    "application/vnd.oci.image.index.v1+json"

char *referrers_tag(const char *digest)
{
	const char *colon = strchr(digest, ':');
	struct strbuf sb = STRBUF_INIT;

	if (!colon)
		return xstrdup(digest);
	strbuf_add(&sb, digest, (size_t)(colon - digest) > 32 ? 32 : (size_t)(colon - digest));
	strbuf_addch(&sb, '-');
	for (const char *p = colon + 1; *p && p - colon <= 64; p++)
		strbuf_addch(&sb, (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
					  (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
					  *p == '-'
				      ? *p
				      : '-');
	return strbuf_detach(&sb, NULL);
}

/* The descriptors of `index` ("manifests") whose artifactType is `type`. */
static json_t *referrers_filter(const json_t *index, const char *type)
{
	json_t *out = json_array(), *m;
	size_t i;

	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		const char *t = json_string_value(json_object_get(m, "artifactType"));

		if (!json_is_string(json_object_get(m, "digest")))
			continue;
		if (!type || (t && !strcmp(t, type)))
			json_array_append(out, m);
	}
	return json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", OCI_INDEX, "manifests",
			 out);
}

/* The referrers tag's index of `subject`, or a new empty one when there is
 * no tag (or it holds no index: the spec says to take that as none). */
static int referrers_read_tag(struct registry_client *c, const char *registry,
			      const char *repository, const char *tag, json_t **index)
{
	struct strbuf body = STRBUF_INIT;
	json_t *root = NULL;
	int ret;

	*index = NULL;
	ret = registry_get_manifest(c, registry, repository, tag, OCI_INDEX, &body, NULL, NULL);
	if (ret == GS_ENOTFOUND) {
		ret = 0;
	} else if (ret == 0) {
		root = json_loadb(body.buf, body.len, 0, NULL);
		if (!json_is_array(json_object_get(root, "manifests"))) {
			json_decref(root);
			root = NULL;
		}
	}
	if (!ret)
		*index = root ? root
			      : json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType",
					  OCI_INDEX, "manifests");
	strbuf_release(&body);
	return ret;
}

static int referrers_has(const json_t *index, const char *digest)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		const char *d = json_string_value(json_object_get(m, "digest"));

		if (d && !strcmp(d, digest))
			return 1;
	}
	return 0;
}

/* Add `desc` to the subject's referrers tag, and check it stayed there. */
static int referrers_add_to_tag(struct registry_client *c, const char *registry,
				const char *repository, const char *subject, const json_t *desc)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	char *tag = referrers_tag(subject);
	json_t *index = NULL;
	int ret = 0;

	for (int i = 0; i < REFERRERS_TAG_TRIES; i++) {
		char *text;

		json_decref(index);
		if ((ret = referrers_read_tag(c, registry, repository, tag, &index)) < 0)
			goto done;
		if (i && referrers_has(index, digest))
			goto done; /* written and still there */
		if (!referrers_has(index, digest))
			json_array_append(json_object_get(index, "manifests"), (json_t *)desc);
		text = json_dumps(index, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!text) {
			ret = error_set("cannot write the referrers index: out of memory");
			goto done;
		}
		ret = registry_put_manifest(c, registry, repository, tag, OCI_INDEX, text,
					    strlen(text), NULL, NULL);
		free(text);
		if (ret < 0)
			goto done;
	}
	json_decref(index);
	index = NULL;
	if ((ret = referrers_read_tag(c, registry, repository, tag, &index)) == 0 &&
	    !referrers_has(index, digest))
		ret = error_setc(GS_EINFRA,
				 "the referrers tag '%s' of '%s/%s' lost the entry %s %d times: "
				 "another client keeps rewriting it",
				 tag, registry, repository, digest, REFERRERS_TAG_TRIES);
done:
	json_decref(index);
	free(tag);
	return ret;
}

int referrers_attach(struct registry_client *c, const char *registry, const char *repository,
		     const char *subject_digest, const struct referrers_artifact *a, char **digest,
		     int *via_api)
{
	struct strbuf subject = STRBUF_INIT;
	char *subject_type = NULL, *config = NULL, *layer = NULL, *mdigest = NULL, *text = NULL;
	json_t *manifest = NULL, *desc = NULL, *layer_desc;
	int ret, indexed = 0;

	if (digest)
		*digest = NULL;
	if (via_api)
		*via_api = 0;
	ret = registry_get_manifest(c, registry, repository, subject_digest, NULL, &subject, NULL,
				    &subject_type);
	if (ret < 0)
		goto done;
	if (!subject_type) {
		json_t *root = json_loadb(subject.buf, subject.len, 0, NULL);
		const char *mt = json_string_value(json_object_get(root, "mediaType"));

		subject_type = xstrdup(mt ? mt : OCI_MANIFEST);
		json_decref(root);
	}
	if ((ret = registry_put_blob(c, registry, repository, "{}", 2, &config)) < 0 ||
	    (ret = registry_put_blob(c, registry, repository, a->data, a->len, &layer)) < 0)
		goto done;
	layer_desc = json_pack("{s:s,s:s,s:I}", "mediaType",
			       a->layer_type ? a->layer_type : a->artifact_type, "digest", layer,
			       "size", (json_int_t)a->len);
	if (a->title)
		json_object_set_new(layer_desc, "annotations",
				    json_pack("{s:s}", "org.opencontainers.image.title", a->title));
	manifest =
	    json_pack("{s:i,s:s,s:s,s:{s:s,s:s,s:i,s:s},s:[o],s:{s:s,s:s,s:I}}", "schemaVersion", 2,
		      "mediaType", OCI_MANIFEST, "artifactType", a->artifact_type, "config",
		      "mediaType", REFERRERS_EMPTY_CONFIG_TYPE, "digest", config, "size", 2, "data",
		      "e30=", "layers", layer_desc, "subject", "mediaType", subject_type, "digest",
		      subject_digest, "size", (json_int_t)subject.len);
	if (!manifest) {
		ret = error_set("cannot make the artifact manifest: out of memory");
		goto done;
	}
	if (a->annotations)
		json_object_set(manifest, "annotations", (json_t *)a->annotations);
	text = json_dumps(manifest, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text) {
		ret = error_set("cannot make the artifact manifest: out of memory");
		goto done;
	}
	ret = registry_put_manifest(c, registry, repository, NULL, OCI_MANIFEST, text, strlen(text),
				    &mdigest, &indexed);
	if (ret < 0)
		goto done;
	if (!indexed) {
		/* The referrers API lists what the manifest says: copy its type and
		 * annotations into the tag's descriptor, as the spec asks. */
		desc =
		    json_pack("{s:s,s:s,s:I,s:s}", "mediaType", OCI_MANIFEST, "digest", mdigest,
			      "size", (json_int_t)strlen(text), "artifactType", a->artifact_type);
		if (a->annotations)
			json_object_set(desc, "annotations", (json_t *)a->annotations);
		ret = referrers_add_to_tag(c, registry, repository, subject_digest, desc);
		if (ret < 0)
			goto done;
	}
	if (via_api)
		*via_api = indexed;
	if (digest) {
		*digest = mdigest;
		mdigest = NULL;
	}
done:
	json_decref(manifest);
	json_decref(desc);
	strbuf_release(&subject);
	free(subject_type);
	free(config);
	free(layer);
	free(mdigest);
	free(text);
	return ret;
}

int referrers_list(struct registry_client *c, const char *registry, const char *repository,
		   const char *subject_digest, const char *artifact_type, json_t **index,
		   int *via_api)
{
	json_t *all = NULL;
	char *tag = NULL;
	int ret;

	*index = NULL;
	if (via_api)
		*via_api = 1;
	ret = registry_get_referrers(c, registry, repository, subject_digest, artifact_type, &all);
	if (ret == GS_ENOTFOUND) {
		if (via_api)
			*via_api = 0;
		tag = referrers_tag(subject_digest);
		ret = referrers_read_tag(c, registry, repository, tag, &all);
	}
	if (ret == 0)
		*index = referrers_filter(all, artifact_type);
	json_decref(all);
	free(tag);
	return ret;
}
