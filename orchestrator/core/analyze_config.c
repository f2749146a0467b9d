/*
 * The image's config: user, command (resolved in the final tree), the
 * NVIDIA environment (core/analyze_private.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"
#include "util/strbuf.h"

json_t *an_config_obj(const struct image_meta *meta)
{
	json_t *c = meta && meta->config ? json_object_get(meta->config, "config") : NULL;

	if (!c && meta && meta->config)
		c = json_object_get(meta->config, "Config");
	return json_is_object(c) ? c : NULL;
}

/* The value of KEY in the config's Env, or NULL. */
const char *an_config_env(json_t *cfg, const char *key)
{
	json_t *env = cfg ? json_object_get(cfg, "Env") : NULL;
	size_t i, klen = strlen(key);
	json_t *v;

	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);

		if (s && !strncmp(s, key, klen) && s[klen] == '=')
			return s + klen + 1;
	}
	return NULL;
}

uint32_t an_command_resolve(struct analysis *an, json_t *cfg, const char *c0, struct strbuf *out)
{
	json_t *wd = cfg ? json_object_get(cfg, "WorkingDir") : NULL;
	const char *w = json_string_value(wd);
	uint32_t wdir = FSI_ROOT, found = FSI_NONE;
	struct strbuf *sbp = out;

	strbuf_reset(out);
	if (w && *w) {
		wdir = fsi_resolve(&an->fsi, FSI_ROOT, w, 1);
		if (wdir == FSI_NONE)
			wdir = FSI_ROOT;
	}
	if (strchr(c0, '/')) {
		found = fsi_resolve(&an->fsi, wdir, c0, 1);
		if (found != FSI_NONE)
			fsi_path(&an->fsi, fsi_resolve(&an->fsi, wdir, c0, 0), sbp);
	} else {
		const char *path = an_config_env(cfg, "PATH");

		if (!path)
			path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
		for (const char *p = path; *p && found == FSI_NONE;) {
			const char *end = strchrnul(p, ':');
			struct strbuf one = STRBUF_INIT;
			uint32_t d;

			strbuf_add(&one, p, (size_t)(end - p));
			d = fsi_resolve(&an->fsi, wdir, one.len ? one.buf : ".", 1);
			if (d != FSI_NONE && fsi_node(&an->fsi, d)->type == FSI_DIR) {
				found = fsi_resolve(&an->fsi, d, c0, 1);
				if (found != FSI_NONE && fsi_node(&an->fsi, found)->type == FSI_DIR)
					found = FSI_NONE;
				if (found != FSI_NONE)
					fsi_path(&an->fsi, fsi_resolve(&an->fsi, d, c0, 0), sbp);
			}
			strbuf_release(&one);
			p = *end ? end + 1 : end;
		}
	}
	if (found != FSI_NONE && fsi_node(&an->fsi, found)->type == FSI_DIR)
		found = FSI_NONE;
	return found;
}

static int is_root_user(const char *u)
{
	if (!u || !*u)
		return 1;
	return !strcmp(u, "0") || !strcmp(u, "root") || starts_with(u, "0:") ||
	       starts_with(u, "root:");
}

json_t *an_config_json(struct analysis *an, json_t *cfg, json_t *findings)
{
	static const char *const env_keys[] = {"NVIDIA_VISIBLE_DEVICES",
					       "NVIDIA_DRIVER_CAPABILITIES",
					       "NVIDIA_REQUIRE_CUDA",
					       "LD_LIBRARY_PATH",
					       "PATH",
					       "CUDA_VERSION",
					       NULL};
	json_t *user = cfg ? json_object_get(cfg, "User") : NULL;
	json_t *ep = cfg ? json_object_get(cfg, "Entrypoint") : NULL;
	json_t *cmd = cfg ? json_object_get(cfg, "Cmd") : NULL;
	json_t *wd = cfg ? json_object_get(cfg, "WorkingDir") : NULL;
	const char *u = json_string_value(user), *w = json_string_value(wd), *c0 = NULL;
	json_t *env = json_object(), *obj, *command = json_null(), *exists = json_null();
	int root = is_root_user(u);

	for (size_t i = 0; env_keys[i]; i++)
		AN_SET(an, env, env_keys[i], jstr(an_config_env(cfg, env_keys[i])));
	if (json_is_array(ep) && json_array_size(ep))
		c0 = json_string_value(json_array_get(ep, 0));
	else if (json_is_array(cmd) && json_array_size(cmd))
		c0 = json_string_value(json_array_get(cmd, 0));
	if (c0 && *c0) {
		struct strbuf sb = STRBUF_INIT;
		uint32_t found = an_command_resolve(an, cfg, c0, &sb);

		command = jstr(found != FSI_NONE ? sb.buf : NULL);
		exists = json_boolean(found != FSI_NONE);
		if (found == FSI_NONE) {
			char *msg = xstrfmt("the image's command '%s' is not in the image", c0);

			an_finding(an, findings, "missing-command", "error", msg, c0, NULL);
			free(msg);
		}
		strbuf_release(&sb);
	}
	if (root)
		an_finding(an, findings, "root-user", "warn",
			   u && *u ? "the image runs as root (USER is root)"
				   : "the image runs as root (no USER)",
			   NULL, NULL);
	{
		const char *vis = an_config_env(cfg, "NVIDIA_VISIBLE_DEVICES");
		const char *caps = an_config_env(cfg, "NVIDIA_DRIVER_CAPABILITIES");

		if (!caps || !strcmp(caps, "all")) {
			char *msg =
			    xstrfmt("NVIDIA_DRIVER_CAPABILITIES is %s: name what the app needs "
				    "(compute,utility)",
				    caps ? "\"all\"" : "unset");

			an_finding(an, findings, "nvidia-env", "warn", msg, NULL, NULL);
			free(msg);
		}
		if (!vis)
			an_finding(an, findings, "nvidia-env", "warn",
				   "NVIDIA_VISIBLE_DEVICES is unset: the NVIDIA runtime will not "
				   "expose GPUs",
				   NULL, NULL);
	}
	obj =
	    AN_OK(an, json_pack("{s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:o}", "user", jstr(u), "root", root,
				"entrypoint", json_is_array(ep) ? json_deep_copy(ep) : json_null(),
				"cmd", json_is_array(cmd) ? json_deep_copy(cmd) : json_null(),
				"workdir", jstr(w && *w ? w : NULL), "env", env, "command", command,
				"command_exists", exists));
	return obj;
}

/* created_by per layer from the config's history, empty layers skipped. */
