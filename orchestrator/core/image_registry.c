/*
 * Images in a registry: manifest (an index or list picks the platform),
 * config, then each layer blob. registry_get_blob() pushes bytes into a
 * callback while libarchive pulls them, so each blob downloads on its own
 * thread into a bounded ring (CHAN_CAP bytes) that the layer reader drains:
 * memory stays bounded whatever the layer's size, and a reader that stops
 * early cancels the download.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/image_private.h"
#include "util/error.h"

#define CHAN_CAP (4u << 20)
#define CHAN_OUT (256u << 10)

struct chan {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *ring;
	size_t head, len; /* bytes waiting start at head, wrapping at CHAN_CAP */
	int done, cancelled;
	int prod_ret;
	char *prod_err;
	char *out; /* the block handed to the reader */
	/* what the download thread fetches */
	struct image *img;
	const char *digest;
};

static int chan_sink(void *data, const void *buf, size_t len)
{
	struct chan *ch = data;
	const char *p = buf;

	pthread_mutex_lock(&ch->mu);
	while (len) {
		size_t tail, room;

		while (ch->len == CHAN_CAP && !ch->cancelled)
			pthread_cond_wait(&ch->cv, &ch->mu);
		if (ch->cancelled) {
			pthread_mutex_unlock(&ch->mu);
			error_set("the reader stopped");
			return 1;
		}
		tail = (ch->head + ch->len) % CHAN_CAP;
		room = CHAN_CAP - ch->len;
		if (room > CHAN_CAP - tail)
			room = CHAN_CAP - tail;
		if (room > len)
			room = len;
		memcpy(ch->ring + tail, p, room);
		ch->len += room;
		p += room;
		len -= room;
		pthread_cond_broadcast(&ch->cv);
	}
	pthread_mutex_unlock(&ch->mu);
	return 0;
}

static void *chan_download(void *data)
{
	struct chan *ch = data;
	struct image *img = ch->img;
	int ret = registry_get_blob(img->reg, img->ref.registry, img->ref.repository, ch->digest,
				    chan_sink, ch);

	pthread_mutex_lock(&ch->mu);
	ch->done = 1;
	ch->prod_ret = ret;
	if (ret < 0)
		ch->prod_err = xstrdup(error_last());
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->mu);
	return NULL;
}

static long chan_read(void *data, const void **buf)
{
	struct chan *ch = data;
	size_t n;

	pthread_mutex_lock(&ch->mu);
	while (!ch->len && !ch->done)
		pthread_cond_wait(&ch->cv, &ch->mu);
	if (!ch->len) {
		int ret = ch->prod_ret;

		pthread_mutex_unlock(&ch->mu);
		if (ret < 0)
			return error_setc(ret, "%s", ch->prod_err);
		return 0;
	}
	n = ch->len;
	if (n > CHAN_CAP - ch->head)
		n = CHAN_CAP - ch->head;
	if (n > CHAN_OUT)
		n = CHAN_OUT;
	memcpy(ch->out, ch->ring + ch->head, n);
	ch->head = (ch->head + n) % CHAN_CAP;
	ch->len -= n;
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->mu);
	*buf = ch->out;
	return (long)n;
}

/* The config, no longer than its descriptor's size. */
struct config_sink {
	struct strbuf sb;
	uint64_t size;
	int overflow;
};

static int sink_config(void *data, const void *buf, size_t len)
{
	struct config_sink *cs = data;

	if (len > cs->size - cs->sb.len) {
		cs->overflow = 1;
		return error_set("it is larger than its descriptor's size of %" PRIu64 " bytes",
				 cs->size);
	}
	strbuf_add(&cs->sb, buf, len);
	return 0;
}

static int fetch_config(struct image *img, json_t *desc)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	struct config_sink cs = {STRBUF_INIT, 0, 0};
	json_t *config = NULL;
	int ret;

	if ((ret = image_desc_size(img, desc, "the config's descriptor", IMAGE_JSON_CAP,
				   &cs.size)) < 0)
		return ret;
	if (!digest)
		return error_setc(GS_EINVAL, "image '%s': the config has no digest", img->name);
	ret = registry_get_blob(img->reg, img->ref.registry, img->ref.repository, digest,
				sink_config, &cs);
	if (cs.overflow)
		ret = GS_EINVAL; /* the content, not the registry */
	else if (!ret && cs.sb.len != cs.size)
		ret = error_setc(GS_EINVAL, "it has %zu bytes, its descriptor says %" PRIu64,
				 cs.sb.len, cs.size);
	if (ret < 0) {
		error_prefix("image '%s': config %s", img->name, digest);
		goto done;
	}
	if ((ret = image_json_parse(img, "the config", cs.sb.buf, cs.sb.len, &config)) < 0)
		goto done;
	ret = image_set_config(img, config, digest);
done:
	strbuf_release(&cs.sb);
	return ret;
}

int image_open_registry(struct image *img)
{
	struct strbuf body = STRBUF_INIT;
	char *digest = NULL, *mt = NULL;
	const char *reference;
	json_t *doc = NULL, *layers, *pick;
	uint64_t want = 0;
	int ret, picked = 0;

	if ((ret = registry_ref_parse(img->name, &img->ref)) < 0)
		return ret;
	if (!img->reg) {
		img->reg = registry_client_new(NULL);
		img->own_reg = 1;
	}
	reference = img->ref.digest ? img->ref.digest : img->ref.tag ? img->ref.tag : "latest";
	for (int depth = 0;; depth++) {
		strbuf_reset(&body);
		free(digest);
		free(mt);
		digest = mt = NULL;
		ret = registry_get_manifest(img->reg, img->ref.registry, img->ref.repository,
					    reference, NULL, &body, &digest, &mt);
		img->not_in_registry = ret == GS_ENOTFOUND && !depth;
		if (ret < 0)
			goto done;
		if (picked && body.len != want) {
			ret = error_setc(GS_EINVAL,
					 "image '%s': manifest %s has %zu bytes, its descriptor "
					 "says %" PRIu64,
					 img->name, reference, body.len, want);
			goto done;
		}
		json_decref(doc);
		if ((ret = image_json_parse(img, "the manifest", body.buf, body.len, &doc)) < 0)
			goto done;
		if (!image_is_index(doc, mt))
			break;
		if (depth == IMAGE_MAX_DEPTH) {
			ret =
			    error_setc(GS_EINVAL, "image '%s': indexes nested too deep", img->name);
			goto done;
		}
		if ((ret = image_pick(img, doc, 0, &pick)) < 0 ||
		    (ret = image_desc_size(img, pick, "a manifest's descriptor", IMAGE_JSON_CAP,
					   &want)) < 0)
			goto done;
		free(img->meta.manifest_digest);
		img->meta.manifest_digest =
		    xstrdup(json_string_value(json_object_get(pick, "digest")));
		reference = img->meta.manifest_digest;
		picked = 1;
	}
	free(img->meta.manifest_digest);
	img->meta.manifest_digest = digest;
	digest = NULL;
	layers = json_object_get(doc, "layers");
	if (!json_is_array(layers)) {
		ret =
		    error_setc(GS_EINVAL, "image '%s': the manifest has no layers (media type %s)",
			       img->name, mt ? mt : "unknown");
		goto done;
	}
	ret = fetch_config(img, json_object_get(doc, "config"));
	if (ret < 0)
		goto done;
	if (json_array_size(layers) != img->meta.diff_ids.nr) {
		ret = error_setc(GS_EINVAL,
				 "image '%s': the manifest names %zu layers, the config %zu",
				 img->name, json_array_size(layers), img->meta.diff_ids.nr);
		goto done;
	}
	img->manifest = doc;
	doc = NULL;
done:
	json_decref(doc);
	free(digest);
	free(mt);
	strbuf_release(&body);
	return ret;
}

static int read_one(struct image *img, size_t i, json_t *desc)
{
	struct image_layer *layer = image_layer_new(img);
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	struct chan ch = {0};
	/* An endless blob ends at its descriptor's size. */
	struct image_src src = {chan_read, &ch, 1, 0, NULL, 0, NULL};
	pthread_t th;
	char *label, what[64];
	int ret;

	layer->index = i;
	layer->blob_digest = digest ? xstrdup(digest) : NULL;
	layer->media_type = mt ? xstrdup(mt) : NULL;
	if (!digest)
		return error_setc(GS_EINVAL, "image '%s': layer %zu has no digest", img->name, i);
	snprintf(what, sizeof(what), "layer %zu's descriptor", i);
	if ((ret = image_desc_size(img, desc, what, 0, &src.size)) < 0)
		return ret;
	pthread_mutex_init(&ch.mu, NULL);
	pthread_cond_init(&ch.cv, NULL);
	ch.ring = xmalloc(CHAN_CAP);
	ch.out = xmalloc(CHAN_OUT);
	ch.img = img;
	ch.digest = digest;
	if (pthread_create(&th, NULL, chan_download, &ch)) {
		ret =
		    error_setc(GS_EINFRA, "image '%s': cannot start a download thread", img->name);
		goto done;
	}
	label = xstrfmt("%zu", i);
	ret = image_layer_read(img, layer, label, &src);
	free(label);
	pthread_mutex_lock(&ch.mu);
	ch.cancelled = 1;
	pthread_cond_broadcast(&ch.cv);
	pthread_mutex_unlock(&ch.mu);
	pthread_join(th, NULL);
done:
	pthread_mutex_destroy(&ch.mu);
	pthread_cond_destroy(&ch.cv);
	free(ch.ring);
	free(ch.out);
	free(ch.prod_err);
	return ret;
}

int image_walk_registry(struct image *img)
{
	json_t *layers = json_object_get(img->manifest, "layers"), *l;
	size_t i;
	int ret;

	if ((ret = image_send_meta(img)) < 0)
		return ret;
	json_array_foreach(layers, i, l) if ((ret = read_one(img, i, l)) < 0) return ret;
	return 0;
}
