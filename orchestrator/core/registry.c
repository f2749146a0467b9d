#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "core/registry.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/process.h"
#include "util/retry.h"
#include "util/signals.h"

#define REGISTRY_TIMEOUT_MS	    30000
#define REGISTRY_CONNECT_TIMEOUT_MS 10000
#define REGISTRY_BODY_CAP	    (8u << 20)
/* A tag list longer than this many pages is a registry looping on us. */
#define REGISTRY_MAX_PAGES 10000
/* A credential helper may ask for a passphrase: wait this long for its answer. */
#define REGISTRY_HELPER_TIMEOUT_MS 60000
/* Bytes kept of a credential helper's answer. */
#define REGISTRY_HELPER_CAP 65536

struct registry_token {
	char *key; /* "<base> <scope>" */
	char *token;
};

/* The credentials of one registry in one docker config. */
struct registry_cred {
	char *config; /* the config.json path, "" when there is none */
	char *registry;
	char *user, *pass; /* both NULL: none */
	char *source;	   /* for messages: "the docker config", "docker-credential-pass" */
};

struct registry_client {
	long timeout_ms, connect_timeout_ms;
	char *username, *password;
	char *docker_config;
	size_t body_cap;
	char *user_agent;
	struct retry_policy retry;
	pthread_mutex_t lock;	/* guards tokens and basic_hosts */
	struct vec tokens;	/* struct registry_token * */
	struct vec basic_hosts; /* bases that asked for Basic auth: send it up front */
};

/* Credentials looked up, for the whole process as the Docker CLI does for one command:
 * a helper that asks for a passphrase asks once. struct registry_cred *, never freed. */
static struct vec registry_creds = VEC_INIT(NULL);
static pthread_mutex_t registry_creds_lock = PTHREAD_MUTEX_INITIALIZER;

/* One operation on one repository: where to send it and how to name it. */
struct registry_call {
	struct registry_client *c;
	const char *registry;	  /* as the caller named it, for messages */
	char *base;		  /* "http://127.0.0.1:5000", "https://registry-1.docker.io" */
	char *repo;		  /* the repository as the registry knows it */
	char *what;		  /* "127.0.0.1:5000/x/y:tag", for messages */
	char *user, *pass;	  /* credentials, looked up on the first 401 */
	const char *creds_source; /* where they were looked for (static, or the cache's) */
	int creds_looked_up;
	long waited_ms; /* between tries, over the whole operation (the policy's total) */
	int push;	/* asks for push access too (token scope "pull,push") */
	/* A request body (PUT, POST): its bytes and Content-Type; none when send_type is NULL. */
	const char *send_type;
	const void *send_buf;
	size_t send_len;
};

/* What one HTTP exchange brought back. */
struct registry_resp {
	long status;
	struct strbuf body; /* capped; error bodies too in streaming mode */
	char *digest;	    /* Docker-Content-Digest */
	char *ctype;	    /* Content-Type without parameters */
	char *www_auth;
	char *next; /* the Link rel="next" target */
	char *location;	   /* Location (uploads) */
	char *oci_subject; /* OCI-Subject: the registry indexed the manifest's subject */
	int overflow;
	registry_sink_fn sink; /* streaming: 2xx bodies go here */
	void *sink_data;
	int sink_failed;
	size_t sink_bytes; /* of this try, handed to the sink: a try after them cannot be made */
	EVP_MD_CTX *sha;
	char *retry_after; /* Retry-After */
	int cc;		   /* the try's CURLcode */
	long os_errno;	   /* and its errno */
	unsigned tries;	   /* made for the last exchange */
	char *gave_up;	   /* " after 4 tries", for a final message; "" when not retried */
};

static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static CURLcode registry_init_rc;

static void registry_global_init(void)
{
	registry_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void registry_token_free(void *p)
{
	struct registry_token *t = p;

	free(t->key);
	if (t->token)
		memset(t->token, 0, strlen(t->token));
	free(t->token);
	free(t);
}

static void registry_secret_free(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

static void registry_cred_free(void *p)
{
	struct registry_cred *cr = p;

	free(cr->config);
	free(cr->registry);
	free(cr->user);
	registry_secret_free(cr->pass);
	free(cr->source);
	free(cr);
}

struct registry_client *registry_client_new(const struct registry_opts *opts)
{
	struct registry_client *c = xcalloc(1, sizeof(*c));
	static const struct registry_opts none;

	if (!opts)
		opts = &none;
	pthread_once(&registry_once, registry_global_init);
	c->timeout_ms =
	    opts->timeout_ms > 0 ? opts->timeout_ms : retry_http_timeout_ms(REGISTRY_TIMEOUT_MS);
	c->connect_timeout_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : REGISTRY_CONNECT_TIMEOUT_MS;
	if (c->connect_timeout_ms > c->timeout_ms)
		c->connect_timeout_ms = c->timeout_ms;
	if (opts->username && opts->password) {
		c->username = xstrdup(opts->username);
		c->password = xstrdup(opts->password);
	}
	c->docker_config = opts->docker_config ? xstrdup(opts->docker_config) : NULL;
	c->body_cap = opts->body_cap ? opts->body_cap : REGISTRY_BODY_CAP;
	c->user_agent = xstrdup(opts->user_agent ? opts->user_agent : "gpuslim");
	if (opts->retry)
		c->retry = *opts->retry;
	else
		retry_policy_default(&c->retry);
	pthread_mutex_init(&c->lock, NULL);
	vec_init(&c->tokens, registry_token_free);
	vec_init(&c->basic_hosts, free);
	return c;
}

void registry_client_free(struct registry_client *c)
{
	if (!c)
		return;
	free(c->username);
	registry_secret_free(c->password);
	free(c->docker_config);
	free(c->user_agent);
	vec_release(&c->tokens);
	vec_release(&c->basic_hosts);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- references ---- */

static int registry_is_docker_hub(const char *registry)
{
	return !strcmp(registry, "docker.io") || !strcmp(registry, "index.docker.io") ||
	       !strcmp(registry, "registry-1.docker.io");
}

int registry_ref_names_host(const char *repo)
{
	struct registry_ref ref;
	int named;

	if (registry_ref_parse(repo, &ref) < 0) {
		error_clear();
		return 0;
	}
	named = starts_with(repo, ref.registry) && repo[strlen(ref.registry)] == '/';
	registry_ref_release(&ref);
	return named;
}

void registry_ref_release(struct registry_ref *ref)
{
	free(ref->registry);
	free(ref->repository);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

static int registry_valid_repo(const char *s)
{
	if (!*s || *s == '/' || ends_with(s, "/") || strstr(s, "//"))
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		      strchr("._-/", *s)))
			return 0;
	return 1;
}

static int registry_valid_tag(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 128 || *s == '.' || *s == '-')
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr("_.-", *s)))
			return 0;
	return 1;
}

static int registry_valid_digest(const char *s)
{
	const char *hex;

	if (!starts_with(s, "sha256:"))
		return 0;
	hex = s + strlen("sha256:");
	if (strlen(hex) != 64)
		return 0;
	for (; *hex; hex++)
		if (!isdigit((unsigned char)*hex) && !(*hex >= 'a' && *hex <= 'f'))
			return 0;
	return 1;
}

int registry_ref_parse(const char *s, struct registry_ref *ref)
{
	const char *rest = s, *slash = strchr(s, '/'), *at, *colon;
	char *name = NULL;
	int ret = 0;

	memset(ref, 0, sizeof(*ref));
	/* The first component is a registry when it looks like a host, as
	 * Docker decides: it has a dot or a port, or is "localhost". */
	if (slash && (memchr(s, '.', slash - s) || memchr(s, ':', slash - s) ||
		      (slash - s == 9 && !strncmp(s, "localhost", 9)))) {
		ref->registry = xstrndup(s, slash - s);
		rest = slash + 1;
	} else {
		ref->registry = xstrdup("docker.io");
	}
	at = strchr(rest, '@');
	if (at) {
		ref->digest = xstrdup(at + 1);
		name = xstrndup(rest, at - rest);
	} else {
		name = xstrdup(rest);
	}
	colon = strrchr(name, ':');
	if (colon && !strchr(colon, '/')) {
		ref->tag = xstrdup(colon + 1);
		name[colon - name] = '\0';
	}
	if (registry_is_docker_hub(ref->registry) && !strchr(name, '/')) {
		ref->repository = xstrfmt("library/%s", name);
	} else {
		ref->repository = name;
		name = NULL;
	}
	if (!*ref->registry || !registry_valid_repo(ref->repository) ||
	    (ref->tag && !registry_valid_tag(ref->tag)) ||
	    (ref->digest && !registry_valid_digest(ref->digest))) {
		ret = error_setc(GS_EINVAL, "'%s' is not a valid image reference", s);
		registry_ref_release(ref);
	}
	free(name);
	return ret;
}

/* http for loopback hosts, as Docker treats them as insecure registries by
 * default; https for everything else. */
static int registry_is_loopback(const char *registry)
{
	char host[256];
	size_t n;

	if (registry[0] == '[') {
		n = strcspn(registry + 1, "]");
		snprintf(host, sizeof(host), "%.*s", (int)n, registry + 1);
	} else {
		n = strcspn(registry, ":");
		snprintf(host, sizeof(host), "%.*s", (int)n, registry);
	}
	return !strcmp(host, "localhost") || starts_with(host, "127.") || !strcmp(host, "::1");
}

static int registry_call_init(struct registry_call *call, struct registry_client *c,
			      const char *registry, const char *repository, const char *reference,
			      int is_digest)
{
	int ret = 0;

	memset(call, 0, sizeof(*call));
	call->c = c;
	call->registry = registry;
	if (registry_is_docker_hub(registry)) {
		call->base = xstrdup("https://registry-1.docker.io");
		call->repo = strchr(repository, '/') ? xstrdup(repository)
						     : xstrfmt("library/%s", repository);
	} else {
		call->base =
		    xstrfmt("%s://%s", registry_is_loopback(registry) ? "http" : "https", registry);
		call->repo = xstrdup(repository);
	}
	if (!reference)
		call->what = xstrfmt("%s/%s", registry, call->repo);
	else
		call->what =
		    xstrfmt("%s/%s%s%s", registry, call->repo, is_digest ? "@" : ":", reference);
	/* Names go into URLs: anything outside the grammar could smuggle a
	 * path or a query. */
	if (!*registry || strpbrk(registry, "/?#@ ") || !registry_valid_repo(call->repo)) {
		ret = error_setc(GS_EINVAL, "'%s' is not a valid repository", call->what);
		goto done;
	}
	if (reference &&
	    !(is_digest ? registry_valid_digest(reference) : registry_valid_tag(reference))) {
		ret = error_setc(GS_EINVAL, "'%s' is not a valid %s", call->what,
				 is_digest ? "sha256 digest" : "tag");
		goto done;
	}
done:
	return ret;
}

static void registry_call_release(struct registry_call *call)
{
	free(call->base);
	free(call->repo);
	free(call->what);
	free(call->user);
	registry_secret_free(call->pass);
}

/* ---- credentials ---- */

static char *registry_config_path(const struct registry_client *c)
{
	const char *dir = c->docker_config ? c->docker_config : getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");

	if (dir && *dir)
		return xstrfmt("%s/config.json", dir);
	if (home && *home)
		return xstrfmt("%s/.docker/config.json", home);
	return NULL;
}

/* Does a config.json "auths" key ("https://index.docker.io/v1/",
 * "127.0.0.1:5001", "http://127.0.0.1:5001") name this registry? */
static int registry_auth_key_matches(const char *key, const char *registry)
{
	const char *k = key;
	size_t n;

	if (starts_with(k, "https://"))
		k += strlen("https://");
	else if (starts_with(k, "http://"))
		k += strlen("http://");
	n = strcspn(k, "/");
	if (registry_is_docker_hub(registry))
		return (n == 15 && !strncmp(k, "index.docker.io", n)) ||
		       (n == 9 && !strncmp(k, "docker.io", n)) ||
		       (n == 20 && !strncmp(k, "registry-1.docker.io", n));
	return strlen(registry) == n && !strncmp(k, registry, n);
}

/* base64 "user:password" into its halves; 0 on success. */
static int registry_decode_auth(const char *b64, char **user, char **pass)
{
	size_t n = strlen(b64), pad = 0;
	unsigned char *out;
	char *colon;
	int len, ret = -1;

	if (!n || n % 4)
		return -1;
	out = xmalloc(n / 4 * 3 + 1);
	len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
	if (len < 0)
		goto done;
	pad = (b64[n - 1] == '=') + (n > 1 && b64[n - 2] == '=');
	len -= (int)pad;
	out[len] = '\0';
	colon = memchr(out, ':', len);
	if (!colon || memchr(out, '\0', len))
		goto done;
	*user = xstrndup((char *)out, colon - (char *)out);
	*pass = xstrdup(colon + 1);
	ret = 0;
done:
	memset(out, 0, n / 4 * 3 + 1);
	free(out);
	return ret;
}

/*
 * Run `docker-credential-NAME get` as the Docker CLI does: the server on
 * stdin, {"Username": ..., "Secret": ...} on stdout. Fills cr->user and
 * cr->pass; "credentials not found" leaves them NULL. A helper that is
 * missing, fails or answers nonsense is an error naming the helper; the
 * secret is in no message.
 */
static int registry_creds_from_helper(struct registry_cred *cr, const char *name,
				      const char *config)
{
	const char *server =
	    registry_is_docker_hub(cr->registry) ? "https://index.docker.io/v1/" : cr->registry;
	struct itimerspec at = {{0, 0}, {REGISTRY_HELPER_TIMEOUT_MS / 1000, 0}};
	struct strbuf answer = STRBUF_INIT;
	struct process p;
	struct process_result res;
	json_t *root = NULL;
	const char *u, *secret;
	char buf[4096];
	long n;
	int ret = 0;

	cr->source = xstrfmt("docker-credential-%s", name);
	process_init(&p);
	vec_pushstr(&p.argv, cr->source);
	vec_pushstr(&p.argv, "get");
	p.input = server;
	p.input_len = strlen(server);
	p.output = PROCESS_OUTPUT_PIPE;
	p.new_pgroup = 1;
	/* The timer is the cancel fd: it stops a helper waiting for a passphrase. */
	p.cancel_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (p.cancel_fd < 0 || timerfd_settime(p.cancel_fd, 0, &at, NULL) < 0) {
		ret = error_setc(GS_EINFRA, "cannot get credentials for '%s': a timer: %s",
				 cr->registry, strerror(errno));
		goto done;
	}
	ret = process_start(&p);
	if (ret == GS_ENOTFOUND) {
		ret = error_setc(GS_EINFRA,
				 "cannot get credentials for '%s': the credential helper '%s' "
				 "that '%s' names is not on PATH",
				 cr->registry, cr->source, config);
		goto done;
	}
	if (ret < 0) {
		ret = error_setc(GS_EINFRA, "cannot get credentials for '%s': %s", cr->registry,
				 error_last());
		goto done;
	}
	while ((n = process_read_stdout(&p, buf, sizeof(buf))) > 0)
		if (answer.len < REGISTRY_HELPER_CAP)
			strbuf_add(&answer, buf, (size_t)n);
	memset(buf, 0, sizeof(buf));
	if (process_wait(&p, 0, &res) < 0) {
		ret = error_setc(GS_EINFRA, "cannot get credentials for '%s': %s", cr->registry,
				 error_last());
		goto done;
	}
	if (res.cancelled) {
		ret = error_setc(GS_EINFRA,
				 "cannot get credentials for '%s': '%s' did not answer in %d s",
				 cr->registry, cr->source, REGISTRY_HELPER_TIMEOUT_MS / 1000);
		goto done;
	}
	if (!res.exited || res.exit_code) {
		/* Helpers say why on stdout; only its first line, and nothing of an
		 * answer that may hold a secret (a helper that printed one, then
		 * failed). */
		const char *why = answer.len ? answer.buf : p.out.buf ? p.out.buf : "";

		if (strstr(why, "credentials not found"))
			goto done;
		if (strchr(why, '{') || strstr(why, "Secret"))
			why = "";
		process_check_result(&p, &res);
		ret =
		    error_setc(GS_EINFRA, "cannot get credentials for '%s': %s%s%.*s", cr->registry,
			       error_last(), *why ? ": " : "", (int)strcspn(why, "\n"), why);
		goto done;
	}
	root = json_loadb(answer.buf ? answer.buf : "", answer.len, 0, NULL);
	u = json_string_value(json_object_get(root, "Username"));
	secret = json_string_value(json_object_get(root, "Secret"));
	if (!u || !secret) {
		ret = error_setc(GS_EINFRA,
				 "cannot get credentials for '%s': '%s' answered no Username and "
				 "Secret",
				 cr->registry, cr->source);
		goto done;
	}
	if (!strcmp(u, "<token>")) {
		ret = error_setc(GS_EINFRA,
				 "cannot get credentials for '%s': '%s' holds an identity token, "
				 "which gpuslim cannot use (log in with a password or an access "
				 "token)",
				 cr->registry, cr->source);
		goto done;
	}
	cr->user = xstrdup(u);
	cr->pass = xstrdup(secret);
done:
	json_decref(root);
	if (answer.buf)
		memset(answer.buf, 0, answer.len);
	strbuf_release(&answer);
	if (p.cancel_fd >= 0)
		close(p.cancel_fd);
	process_release(&p);
	return ret;
}

/*
 * The credentials of cr->registry in the docker config cr->config, in the
 * Docker CLI's order: the "credHelpers" entry for the registry, else the
 * "credsStore" helper, else the "auths" entry. None found is no error.
 */
static int registry_creds_from_config(struct registry_cred *cr)
{
	json_t *root = *cr->config ? json_load_file(cr->config, 0, NULL) : NULL;
	json_t *helpers = json_object_get(root, "credHelpers"), *entry;
	const char *helper = NULL, *key;
	int ret = 0;

	json_object_foreach(helpers, key, entry)
	{
		if (registry_auth_key_matches(key, cr->registry) && json_string_value(entry)) {
			helper = json_string_value(entry);
			break;
		}
	}
	if (!helper)
		helper = json_string_value(json_object_get(root, "credsStore"));
	if (helper && *helper) {
		ret = registry_creds_from_helper(cr, helper, cr->config);
		goto done;
	}
	cr->source = xstrdup("the docker config");
	json_object_foreach(json_object_get(root, "auths"), key, entry)
	{
		const char *a = json_string_value(json_object_get(entry, "auth"));
		const char *u = json_string_value(json_object_get(entry, "username"));
		const char *p = json_string_value(json_object_get(entry, "password"));

		if (!registry_auth_key_matches(key, cr->registry))
			continue;
		if (a && !registry_decode_auth(a, &cr->user, &cr->pass))
			break;
		if (u && p) {
			cr->user = xstrdup(u);
			cr->pass = xstrdup(p);
			break;
		}
	}
done:
	json_decref(root);
	return ret;
}

/* Fill call->user/pass from the options or the docker config (looked up once
 * per process, config and registry); absence is no error, a failing helper is. */
static int registry_lookup_creds(struct registry_call *call)
{
	struct registry_client *c = call->c;
	struct registry_cred *cr = NULL;
	char *config;
	int ret = 0;

	if (call->creds_looked_up)
		return 0;
	call->creds_looked_up = 1;
	if (c->username) {
		call->user = xstrdup(c->username);
		call->pass = xstrdup(c->password);
		call->creds_source = "the options";
		return 0;
	}
	config = registry_config_path(c);
	if (!config)
		config = xstrdup("");
	/* Under the lock: one helper run per registry, however many threads ask. */
	pthread_mutex_lock(&registry_creds_lock);
	for (size_t i = 0; i < registry_creds.nr && !cr; i++) {
		struct registry_cred *k = registry_creds.items[i];

		if (!strcmp(k->registry, call->registry) && !strcmp(k->config, config))
			cr = k;
	}
	if (!cr) {
		cr = xcalloc(1, sizeof(*cr));
		cr->config = config;
		config = NULL;
		cr->registry = xstrdup(call->registry);
		ret = registry_creds_from_config(cr);
		if (ret < 0) {
			registry_cred_free(cr);
			cr = NULL;
		} else {
			vec_push(&registry_creds, cr);
		}
	}
	if (cr && cr->user) {
		call->user = xstrdup(cr->user);
		call->pass = xstrdup(cr->pass);
	}
	if (cr)
		call->creds_source = cr->source;
	pthread_mutex_unlock(&registry_creds_lock);
	free(config);
	return ret;
}

/* ---- token cache ---- */

static char *registry_token_get(struct registry_client *c, const char *key)
{
	char *tok = NULL;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->tokens.nr; i++) {
		struct registry_token *t = c->tokens.items[i];

		if (!strcmp(t->key, key)) {
			tok = xstrdup(t->token);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return tok;
}

static void registry_token_put(struct registry_client *c, const char *key, const char *token)
{
	struct registry_token *t = NULL;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->tokens.nr && !t; i++)
		if (!strcmp(((struct registry_token *)c->tokens.items[i])->key, key))
			t = c->tokens.items[i];
	if (t) {
		free(t->token);
	} else {
		t = xcalloc(1, sizeof(*t));
		t->key = xstrdup(key);
		vec_push(&c->tokens, t);
	}
	t->token = xstrdup(token);
	pthread_mutex_unlock(&c->lock);
}

static int registry_is_basic_host(struct registry_client *c, const char *base)
{
	int yes;

	pthread_mutex_lock(&c->lock);
	yes = vec_findstr(&c->basic_hosts, base) >= 0;
	pthread_mutex_unlock(&c->lock);
	return yes;
}

static void registry_add_basic_host(struct registry_client *c, const char *base)
{
	pthread_mutex_lock(&c->lock);
	if (vec_findstr(&c->basic_hosts, base) < 0)
		vec_pushstr(&c->basic_hosts, base);
	pthread_mutex_unlock(&c->lock);
}

/* ---- one HTTP exchange ---- */

static void registry_resp_init(struct registry_resp *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->body, 0);
	r->body.cap = cap;
}

/* Forget a previous attempt's answer; keeps the sink. */
static void registry_resp_reset(struct registry_resp *r)
{
	strbuf_reset(&r->body);
	free(r->digest);
	free(r->ctype);
	free(r->www_auth);
	free(r->next);
	free(r->retry_after);
	free(r->location);
	free(r->oci_subject);
	r->digest = r->ctype = r->www_auth = r->next = r->retry_after = NULL;
	r->location = r->oci_subject = NULL;
	r->status = 0;
	r->overflow = 0;
	r->sink_bytes = 0;
	if (r->sha)
		EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL);
}

static void registry_resp_release(struct registry_resp *r)
{
	registry_resp_reset(r);
	strbuf_release(&r->body);
	free(r->gave_up);
	r->gave_up = NULL;
	if (r->sha)
		EVP_MD_CTX_free(r->sha);
	r->sha = NULL;
}

static int registry_2xx(long status)
{
	return status >= 200 && status < 300;
}

/* The target of a Link header's rel="next" entry. */
static char *registry_parse_link_next(const char *v)
{
	while (*v) {
		const char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		const char *end;

		if (!gt)
			return NULL;
		end = strchr(gt, ',');
		if (!end)
			end = gt + strlen(gt);
		{
			char *params = xstrndup(gt + 1, end - gt - 1);
			int next = strstr(params, "rel=\"next\"") || strstr(params, "rel=next");

			free(params);
			if (next)
				return xstrndup(lt + 1, gt - lt - 1);
		}
		v = *end ? end + 1 : end;
	}
	return NULL;
}

static size_t registry_on_header(char *buf, size_t size, size_t nitems, void *data)
{
	struct registry_resp *r = data;
	size_t len = size * nitems, n;
	const char *colon;
	char *name, *value;

	/* A new status line starts a new response (a redirect, a 100). */
	if (len > 5 && !strncmp(buf, "HTTP/", 5)) {
		const char *sp = memchr(buf, ' ', len);

		registry_resp_reset(r);
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return len;
	}
	colon = memchr(buf, ':', len);
	if (!colon)
		return len;
	name = xstrndup(buf, colon - buf);
	colon++;
	n = len - (colon - buf);
	while (n && (*colon == ' ' || *colon == '\t')) {
		colon++;
		n--;
	}
	while (n && (colon[n - 1] == '\r' || colon[n - 1] == '\n' || colon[n - 1] == ' '))
		n--;
	value = xstrndup(colon, n);
	if (!strcasecmp(name, "Docker-Content-Digest")) {
		free(r->digest);
		r->digest = value;
	} else if (!strcasecmp(name, "Content-Type")) {
		value[strcspn(value, "; ")] = '\0';
		free(r->ctype);
		r->ctype = value;
	} else if (!strcasecmp(name, "WWW-Authenticate")) {
		free(r->www_auth);
		r->www_auth = value;
	} else if (!strcasecmp(name, "Retry-After")) {
		free(r->retry_after);
		r->retry_after = value;
	} else if (!strcasecmp(name, "Location")) {
		free(r->location);
		r->location = value;
	} else if (!strcasecmp(name, "OCI-Subject")) {
		free(r->oci_subject);
		r->oci_subject = value;
	} else if (!strcasecmp(name, "Link")) {
		free(r->next);
		r->next = registry_parse_link_next(value);
		free(value);
	} else {
		free(value);
	}
	free(name);
	return len;
}

static size_t registry_on_body(char *buf, size_t size, size_t nmemb, void *data)
{
	struct registry_resp *r = data;
	size_t len = size * nmemb;

	if (r->sink && registry_2xx(r->status)) {
		EVP_DigestUpdate(r->sha, buf, len);
		r->sink_bytes += len;
		if (r->sink(r->sink_data, buf, len)) {
			r->sink_failed = 1;
			return 0;
		}
		return len;
	}
	if (strbuf_add(&r->body, buf, len) < 0) {
		r->overflow = 1;
		return 0;
	}
	return len;
}

/* Auth for one exchange: a bearer token, or Basic credentials, or none. */
struct registry_auth {
	const char *bearer;
	const char *user, *pass;
};

/* The tries an exchange made, for a final message: " after 4 tries" when
 * the last failure was a transient one (with why no further try was made
 * when the policy had tries left), "" when it was final at once. */
static char *registry_gave_up(const struct registry_call *call, const struct registry_resp *r,
			      int transient)
{
	const struct retry_policy *p = &call->c->retry;
	long asked = retry_after_ms(r->retry_after);
	unsigned attempts = p->attempts ? p->attempts : 4;
	struct strbuf sb = STRBUF_INIT;

	if (!transient)
		return xstrdup("");
	if (r->sink_bytes)
		return xstrfmt(" after %zu bytes of the blob (not retried: they were passed on "
			       "already)",
			       r->sink_bytes);
	strbuf_addf(&sb, " after %u %s", r->tries, r->tries == 1 ? "try" : "tries");
	if (signals_caught())
		strbuf_addstr(&sb, " (interrupted)");
	else if (r->tries < attempts && asked > (p->cap_ms > 0 ? p->cap_ms : 10000))
		strbuf_addf(&sb, " (it asked to wait %ld s, longer than gpuslim waits)",
			    asked / 1000);
	else if (r->tries < attempts)
		strbuf_addf(&sb, " (%ld s of waiting spent: GPUSLIM_RETRY_MAX_WAIT)",
			    call->waited_ms / 1000);
	return strbuf_detach(&sb, NULL);
}

/* Message for a transport failure; the registry is named as the caller knows
 * it, and r->gave_up says how many tries were made. */
static int registry_curl_error(const struct registry_call *call, const struct registry_resp *r,
			       const char *what)
{
	CURLcode cc = (CURLcode)r->cc;
	const char *tries = r->gave_up ? r->gave_up : "";
	char msg[256];

	if (cc == CURLE_WRITE_ERROR && r->sink_failed)
		return GS_ERR; /* the sink's message stands */
	if (cc == CURLE_WRITE_ERROR && r->overflow)
		return error_setc(GS_EINVAL, "registry '%s' sent more than %zu bytes for '%s'",
				  call->registry, r->body.cap, what);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return error_setc(GS_EINFRA,
				  "registry '%s' did not answer within %ld ms for '%s'%s",
				  call->registry, call->c->timeout_ms, what, tries);
	if (cc == CURLE_COULDNT_CONNECT && r->os_errno == ECONNREFUSED)
		return error_setc(GS_EINFRA, "cannot reach registry '%s': connection refused%s",
				  call->registry, tries);
	if (cc == CURLE_COULDNT_RESOLVE_HOST)
		return error_setc(GS_EINFRA, "cannot reach registry '%s': unknown host",
				  call->registry);
	if (cc == CURLE_PARTIAL_FILE)
		return error_setc(GS_EINFRA, "registry '%s' cut short its answer for '%s'%s",
				  call->registry, what, tries);
	if ((cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR) && r->os_errno == ECONNRESET)
		return error_setc(GS_EINFRA, "registry '%s' reset the connection for '%s'%s",
				  call->registry, what, tries);
	if (cc == CURLE_GOT_NOTHING)
		return error_setc(GS_EINFRA,
				  "registry '%s' closed the connection without an answer for "
				  "'%s'%s",
				  call->registry, what, tries);
	snprintf(msg, sizeof(msg), "%s", curl_easy_strerror(cc));
	msg[0] = (char)tolower((unsigned char)msg[0]);
	return error_setc(GS_EINFRA, "cannot reach registry '%s': %s%s", call->registry, msg,
			  tries);
}

/*
 * One try of one request, no auth and no retry: r->cc (CURLE_OK when the
 * registry answered, whatever the status) and r->status say how it went.
 * Negative only when no request could be made.
 */
static int registry_exchange_once(const struct registry_call *call, const char *method,
				  const char *url, const char *accept,
				  const struct registry_auth *auth, struct registry_resp *r)
{
	struct registry_client *c = call->c;
	struct curl_slist *hdrs = NULL;
	CURL *h = NULL;
	char *line = NULL;

	if (registry_init_rc != CURLE_OK)
		return error_setc(GS_EINFRA, "cannot initialize libcurl: %s",
				  curl_easy_strerror(registry_init_rc));
	h = curl_easy_init();
	if (!h)
		return error_setc(GS_EINFRA, "cannot initialize a libcurl handle");
	registry_resp_reset(r);
	r->sink_failed = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	if (r->sink) {
		/* A large blob may take long; only a stall is a failure. */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (c->timeout_ms + 999) / 1000);
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	}
	/* Blob GETs are redirected to storage; credentials set below are not
	 * sent to another host (curl drops them unless told otherwise). An
	 * upload's answer carries a Location that is not a redirect. */
	if (!call->send_type) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	}
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (call->send_type) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->send_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->send_len ? call->send_buf : "");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		line = xstrfmt("Content-Type: %s", call->send_type);
		hdrs = curl_slist_append(hdrs, line);
		free(line);
		hdrs = curl_slist_append(hdrs, "Expect:");
	}
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, registry_on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, registry_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (accept) {
		line = xstrfmt("Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, line);
		free(line);
	}
	if (auth && auth->bearer) {
		line = xstrfmt("Authorization: Bearer %s", auth->bearer);
		hdrs = curl_slist_append(hdrs, line);
		memset(line, 0, strlen(line));
		free(line);
	} else if (auth && auth->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, auth->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, auth->pass);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	r->cc = curl_easy_perform(h);
	r->os_errno = 0;
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &r->os_errno);
	if (r->cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	for (struct curl_slist *l = hdrs; l; l = l->next)
		memset(l->data, 0, strlen(l->data)); /* the bearer token */
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return 0;
}

/*
 * One request under the client's retry policy (util/retry.h): a transient
 * failure (429, 5xx, refused, reset, timed out, cut short) is tried again
 * after Retry-After or a backoff, while the policy has tries and waiting
 * time left; the waits count against the whole operation's total
 * (call->waited_ms). A blob that already handed bytes to its sink is never
 * tried again (the sink cannot take them back). 0 with r->status set when
 * the registry answered, whatever the status (r->gave_up then says how
 * many tries a transient status took, for the caller's message); negative
 * on a transport failure, with a message that counts the tries.
 */
static int registry_exchange(struct registry_call *call, const char *method, const char *url,
			     const char *accept, const struct registry_auth *auth,
			     struct registry_resp *r, const char *what)
{
	unsigned tries = 0;
	int transient, ret;

	free(r->gave_up);
	r->gave_up = NULL;
	for (;;) {
		long wait;

		ret = registry_exchange_once(call, method, url, accept, auth, r);
		if (ret < 0)
			return ret;
		tries++;
		transient = retry_transient(r->cc, r->status);
		if (!transient || r->sink_bytes || signals_caught())
			break;
		wait = retry_delay_ms(&call->c->retry, tries, r->retry_after, call->waited_ms);
		if (wait < 0)
			break;
		retry_sleep_ms(wait);
		call->waited_ms += wait;
		if (signals_caught())
			break;
	}
	r->tries = tries;
	r->gave_up = registry_gave_up(call, r, transient);
	if (r->cc != CURLE_OK)
		return registry_curl_error(call, r, what);
	return 0;
}

/* `Bearer realm="...",service="...",scope="..."` → scheme and parameters. */
static char *registry_challenge_param(const char *ch, const char *key)
{
	const char *p = ch + strcspn(ch, " ");
	size_t klen = strlen(key);

	while (*p) {
		const char *k, *v;
		size_t kn;

		while (*p == ' ' || *p == ',')
			p++;
		k = p;
		kn = strcspn(p, "=, ");
		p += kn;
		if (*p != '=')
			continue;
		p++;
		if (*p == '"') {
			struct strbuf sb = STRBUF_INIT;

			for (v = p + 1; *v && *v != '"'; v++) {
				if (*v == '\\' && v[1])
					v++;
				strbuf_addch(&sb, *v);
			}
			p = *v ? v + 1 : v;
			if (kn == klen && !strncasecmp(k, key, klen))
				return strbuf_detach(&sb, NULL);
			strbuf_release(&sb);
		} else {
			v = p;
			p += strcspn(p, ",");
			if (kn == klen && !strncasecmp(k, key, klen))
				return xstrndup(v, p - v);
		}
	}
	return NULL;
}

static int registry_refused(struct registry_call *call, const char *what)
{
	const char *src = call->creds_source ? call->creds_source : "the docker config";

	if (call->user && !strcmp(src, "the options"))
		return error_setc(GS_EINVAL, "registry '%s' refused the credentials for user '%s'",
				  call->registry, call->user);
	if (call->user)
		return error_setc(GS_EINVAL,
				  "registry '%s' refused the credentials for user '%s' (from %s)",
				  call->registry, call->user, src);
	return error_setc(GS_EINVAL,
			  "registry '%s' requires credentials for '%s': none given and none in "
			  "%s (docker login %s)",
			  call->registry, what, src, call->registry);
}

/* GET a token from the challenge's realm, with Basic credentials if any. */
static int registry_fetch_token(struct registry_call *call, const char *challenge, const char *what,
				char **token)
{
	char *realm = registry_challenge_param(challenge, "realm");
	char *service = registry_challenge_param(challenge, "service");
	char *scope = registry_challenge_param(challenge, "scope");
	struct strbuf url = STRBUF_INIT;
	struct registry_resp r;
	struct registry_auth auth = {NULL, call->user, call->pass};
	json_t *root = NULL;
	const char *tok;
	int ret = 0;

	*token = NULL;
	registry_resp_init(&r, call->c->body_cap);
	if (!realm || !(starts_with(realm, "http://") || starts_with(realm, "https://"))) {
		ret = error_setc(GS_EINVAL,
				 "registry '%s' sent a Bearer challenge without a usable "
				 "realm",
				 call->registry);
		goto done;
	}
	if (!scope)
		scope = xstrfmt("repository:%s:%s", call->repo, call->push ? "pull,push" : "pull");
	strbuf_addf(&url, "%s%c", realm, strchr(realm, '?') ? '&' : '?');
	{
		char *s = curl_easy_escape(NULL, scope, 0);

		strbuf_addf(&url, "scope=%s", s);
		curl_free(s);
		if (service) {
			s = curl_easy_escape(NULL, service, 0);
			strbuf_addf(&url, "&service=%s", s);
			curl_free(s);
		}
	}
	ret = registry_exchange(call, "GET", url.buf, "application/json", &auth, &r, what);
	if (ret < 0)
		goto done;
	if (r.status == 401 || r.status == 403) {
		ret = registry_refused(call, what);
		goto done;
	}
	if (!registry_2xx(r.status)) {
		ret =
		    error_setc(GS_EINFRA, "the token service of registry '%s' answered %ld%s%s%s",
			       call->registry, r.status, *retry_status_reason(r.status) ? " " : "",
			       retry_status_reason(r.status), r.gave_up ? r.gave_up : "");
		goto done;
	}
	root = json_loadb(r.body.buf, r.body.len, 0, NULL);
	tok = json_string_value(json_object_get(root, "token"));
	if (!tok)
		tok = json_string_value(json_object_get(root, "access_token"));
	if (!tok || !*tok) {
		ret = error_setc(GS_EINVAL, "the token service of registry '%s' sent no token",
				 call->registry);
		goto done;
	}
	*token = xstrdup(tok);
done:
	json_decref(root);
	registry_resp_release(&r);
	strbuf_release(&url);
	free(realm);
	free(service);
	free(scope);
	return ret;
}

/*
 * One request with the auth dance: a cached token or known Basic host is
 * used up front; a 401 is answered once (Bearer: fetch a token; Basic:
 * send credentials) and a second 401 is a refusal. 0 with r->status set
 * when the registry answered; the caller judges the status.
 */
static int registry_request(struct registry_call *call, const char *method, const char *url,
			    const char *accept, struct registry_resp *r, const char *what)
{
	struct registry_client *c = call->c;
	struct registry_auth auth = {0};
	char *scope_key = xstrfmt("%s repository:%s:%s", call->base, call->repo,
				  call->push ? "pull,push" : "pull");
	char *token = registry_token_get(c, scope_key);
	char *scheme = NULL;
	int ret = 0;

	if (token) {
		auth.bearer = token;
	} else if (registry_is_basic_host(c, call->base)) {
		ret = registry_lookup_creds(call);
		if (ret < 0)
			goto done;
		auth.user = call->user;
		auth.pass = call->pass;
	}
	ret = registry_exchange(call, method, url, accept, &auth, r, what);
	if (ret < 0 || r->status != 401)
		goto done;

	if (!r->www_auth) {
		ret = registry_refused(call, what);
		goto done;
	}
	scheme = xstrndup(r->www_auth, strcspn(r->www_auth, " "));
	ret = registry_lookup_creds(call);
	if (ret < 0)
		goto done;
	memset(&auth, 0, sizeof(auth));
	if (!strcasecmp(scheme, "Bearer")) {
		char *challenge = xstrdup(r->www_auth);

		free(token);
		ret = registry_fetch_token(call, challenge, what, &token);
		free(challenge);
		if (ret < 0)
			goto done;
		registry_token_put(c, scope_key, token);
		auth.bearer = token;
	} else if (!strcasecmp(scheme, "Basic")) {
		if (!call->user) {
			ret = registry_refused(call, what);
			goto done;
		}
		registry_add_basic_host(c, call->base);
		auth.user = call->user;
		auth.pass = call->pass;
	} else {
		ret = error_setc(GS_EINVAL,
				 "registry '%s' asks for '%s' authentication, which "
				 "gpuslim does not speak",
				 call->registry, scheme);
		goto done;
	}
	ret = registry_exchange(call, method, url, accept, &auth, r, what);
	if (ret < 0)
		goto done;
	if (r->status == 401)
		ret = registry_refused(call, what);
done:
	if (token)
		memset(token, 0, strlen(token));
	free(token);
	free(scheme);
	free(scope_key);
	return ret;
}

/* The error for a status the operation cannot use. */
static int registry_status_error(const struct registry_call *call, const struct registry_resp *r,
				 const char *what)
{
	if (r->status == 404)
		return error_setc(GS_ENOTFOUND, "'%s' does not exist in the registry", what);
	if (r->status == 403)
		return error_setc(GS_EINVAL, "registry '%s' denied access to '%s'", call->registry,
				  what);
	return error_setc(GS_EINFRA, "registry '%s' answered %ld%s%s for '%s'%s", call->registry,
			  r->status, *retry_status_reason(r->status) ? " " : "",
			  retry_status_reason(r->status), what, r->gave_up ? r->gave_up : "");
}

/* ---- operations ---- */

/* Send `method` (GET or HEAD) for the manifest `reference` of
 * registry/repository; a reference "sha256:..." is checked as a digest,
 * anything else as a tag. `call` and `r` are set up here and are the
 * caller's to release, whatever this returns. */
static int registry_manifest_request(struct registry_call *call, struct registry_resp *r,
				     struct registry_client *c, const char *registry,
				     const char *repository, const char *reference,
				     const char *method, const char *accept)
{
	char *url;
	int ret;

	registry_resp_init(r, c->body_cap);
	ret = registry_call_init(call, c, registry, repository, reference,
				 starts_with(reference, "sha256:"));
	if (ret < 0)
		return ret;
	url = xstrfmt("%s/v2/%s/manifests/%s", call->base, call->repo, reference);
	ret = registry_request(call, method, url, accept, r, call->what);
	free(url);
	return ret;
}

int registry_get_manifest(struct registry_client *c, const char *registry, const char *repository,
			  const char *reference, const char *accept, struct strbuf *body,
			  char **digest, char **media_type)
{
	struct registry_call call;
	struct registry_resp r;
	int by_digest;
	char hex[65], *computed = NULL;
	int ret = 0;

	if (!reference)
		reference = "latest";
	by_digest = starts_with(reference, "sha256:");
	if (digest)
		*digest = NULL;
	if (media_type)
		*media_type = NULL;
	ret = registry_manifest_request(&call, &r, c, registry, repository, reference, "GET",
					accept ? accept : REGISTRY_ACCEPT_MANIFESTS);
	if (ret < 0)
		goto done;
	if (!registry_2xx(r.status)) {
		ret = registry_status_error(&call, &r, call.what);
		goto done;
	}
	hash_sha256_hex(r.body.buf, r.body.len, hex);
	computed = xstrfmt("sha256:%s", hex);
	/* A manifest is content-addressed: whatever the registry claims or we
	 * asked for must be the hash of what came. */
	if ((by_digest && strcmp(reference, computed)) ||
	    (r.digest && starts_with(r.digest, "sha256:") && strcmp(r.digest, computed))) {
		ret = error_setc(GS_EINVAL,
				 "registry '%s' sent a manifest for '%s' that does not match its "
				 "digest (%s)",
				 call.registry, call.what, by_digest ? reference : r.digest);
		goto done;
	}
	strbuf_add(body, r.body.buf, r.body.len);
	if (digest) {
		*digest = computed;
		computed = NULL;
	}
	if (media_type && r.ctype)
		*media_type = xstrdup(r.ctype);
done:
	free(computed);
	registry_resp_release(&r);
	registry_call_release(&call);
	return ret;
}

int registry_resolve_digest(struct registry_client *c, const char *registry, const char *repository,
			    const char *reference, char **digest, char **media_type)
{
	struct registry_call call;
	struct registry_resp r;
	struct strbuf body = STRBUF_INIT;
	int ret = 0;

	if (!reference)
		reference = "latest";
	if (digest)
		*digest = NULL;
	if (media_type)
		*media_type = NULL;
	ret = registry_manifest_request(&call, &r, c, registry, repository, reference, "HEAD",
					REGISTRY_ACCEPT_MANIFESTS);
	if (ret < 0)
		goto done;
	if (registry_2xx(r.status) && r.digest && registry_valid_digest(r.digest)) {
		if (digest) {
			*digest = r.digest;
			r.digest = NULL;
		}
		if (media_type && r.ctype)
			*media_type = xstrdup(r.ctype);
		goto done;
	}
	if (r.status == 404 ||
	    (!registry_2xx(r.status) && r.status != 405 && r.status != 400 && r.status != 501)) {
		ret = registry_status_error(&call, &r, call.what);
		goto done;
	}
	/* HEAD without a digest, or refused: the digest is the body's hash. */
	ret = registry_get_manifest(c, registry, repository, reference, NULL, &body, digest,
				    media_type);
done:
	strbuf_release(&body);
	registry_resp_release(&r);
	registry_call_release(&call);
	return ret;
}

int registry_list_tags(struct registry_client *c, const char *registry, const char *repository,
		       size_t page_size, struct vec *tags)
{
	struct registry_call call;
	struct registry_resp r;
	char *url = NULL;
	json_t *root = NULL;
	int ret = 0;

	registry_resp_init(&r, c->body_cap);
	ret = registry_call_init(&call, c, registry, repository, NULL, 0);
	if (ret < 0)
		goto done;
	url = page_size ? xstrfmt("%s/v2/%s/tags/list?n=%zu", call.base, call.repo, page_size)
			: xstrfmt("%s/v2/%s/tags/list", call.base, call.repo);
	for (int page = 0; url; page++) {
		json_error_t jerr;
		json_t *list, *tag;
		size_t i;

		if (page == REGISTRY_MAX_PAGES) {
			ret = error_setc(GS_EINVAL,
					 "registry '%s' sent more than %d pages of tags "
					 "for '%s'",
					 call.registry, REGISTRY_MAX_PAGES, call.what);
			goto done;
		}
		ret = registry_request(&call, "GET", url, "application/json", &r, call.what);
		if (ret < 0)
			goto done;
		if (!registry_2xx(r.status)) {
			ret = registry_status_error(&call, &r, call.what);
			goto done;
		}
		json_decref(root);
		root = json_loadb(r.body.buf, r.body.len, 0, &jerr);
		if (!json_is_object(root)) {
			ret = error_setc(GS_EINVAL,
					 "registry '%s' sent invalid JSON for the tags of "
					 "'%s': %s",
					 call.registry, call.what,
					 root ? "not an object" : jerr.text);
			goto done;
		}
		list = json_object_get(root, "tags");
		if (list && !json_is_array(list) && !json_is_null(list)) {
			ret = error_setc(GS_EINVAL,
					 "registry '%s' sent a tag list for '%s' whose "
					 "\"tags\" is not an array",
					 call.registry, call.what);
			goto done;
		}
		json_array_foreach(list, i, tag) if (json_is_string(tag))
		    vec_pushstr(tags, json_string_value(tag));
		free(url);
		url = NULL;
		/* Distribution sends a path ("/v2/x/tags/list?last=..&n=.."); others
		 * may send a full URL. */
		if (r.next && r.next[0] == '/')
			url = xstrfmt("%s%s", call.base, r.next);
		else if (r.next && starts_with(r.next, call.base))
			url = xstrdup(r.next);
		else if (r.next)
			url = xstrfmt("%s/v2/%s/tags/list?%s", call.base, call.repo,
				      r.next[0] == '?' ? r.next + 1 : r.next);
	}
done:
	json_decref(root);
	free(url);
	registry_resp_release(&r);
	registry_call_release(&call);
	return ret;
}

int registry_get_blob(struct registry_client *c, const char *registry, const char *repository,
		      const char *digest, registry_sink_fn sink, void *data)
{
	struct registry_call call;
	struct registry_resp r;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1], *url = NULL;
	int ret = 0;

	memset(&call, 0, sizeof(call));
	registry_resp_init(&r, c->body_cap);
	r.sink = sink;
	r.sink_data = data;
	r.sha = EVP_MD_CTX_new();
	if (!r.sha) {
		ret = error_set("cannot allocate a sha256 context");
		goto done;
	}
	EVP_DigestInit_ex(r.sha, EVP_sha256(), NULL);
	ret = registry_call_init(&call, c, registry, repository, digest, 1);
	if (ret < 0)
		goto done;
	url = xstrfmt("%s/v2/%s/blobs/%s", call.base, call.repo, digest);
	ret = registry_request(&call, "GET", url, NULL, &r, call.what);
	if (ret < 0)
		goto done;
	if (!registry_2xx(r.status)) {
		ret = registry_status_error(&call, &r, call.what);
		goto done;
	}
	EVP_DigestFinal_ex(r.sha, md, &mdlen);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(digest + strlen("sha256:"), hex)) {
		ret = error_setc(GS_EINVAL,
				 "registry '%s' sent a blob for '%s' that does not match "
				 "its digest",
				 call.registry, call.what);
		goto done;
	}
done:
	free(url);
	registry_resp_release(&r);
	registry_call_release(&call);
	return ret;
}

/* ---- pushing and referrers ---- */

/* The URL to send an upload to: the registry's Location, relative or on
 * the same base (credentials go nowhere else), with `digest` added to its
 * query. NULL (error set) for a Location elsewhere. */
static char *registry_upload_url(const struct registry_call *call, const char *loc,
				 const char *digest)
{
	char *url;

	if (loc[0] == '/')
		url = xstrfmt("%s%s", call->base, loc);
	else if (starts_with(loc, call->base) && strchr("/?", loc[strlen(call->base)]))
		url = xstrdup(loc);
	else {
		error_setc(GS_EINVAL,
			   "registry '%s' sent an upload location on another host for '%s': "
			   "gpuslim uploads only to the registry itself",
			   call->registry, call->what);
		return NULL;
	}
	{
		char *full = xstrfmt("%s%cdigest=%s", url, strchr(url, '?') ? '&' : '?', digest);

		free(url);
		return full;
	}
}

int registry_put_blob(struct registry_client *c, const char *registry, const char *repository,
		      const void *buf, size_t len, char **digest)
{
	struct registry_call call;
	struct registry_resp r;
	char hex[65], *d, *url = NULL;
	int ret;

	hash_sha256_hex(buf, len, hex);
	d = xstrfmt("sha256:%s", hex);
	registry_resp_init(&r, c->body_cap);
	ret = registry_call_init(&call, c, registry, repository, d, 1);
	if (ret < 0)
		goto done;
	call.push = 1;
	url = xstrfmt("%s/v2/%s/blobs/%s", call.base, call.repo, d);
	if ((ret = registry_request(&call, "HEAD", url, NULL, &r, call.what)) < 0)
		goto done;
	if (registry_2xx(r.status))
		goto done; /* already there */
	free(url);
	url = xstrfmt("%s/v2/%s/blobs/uploads/", call.base, call.repo);
	call.send_type = "application/octet-stream";
	call.send_buf = "";
	call.send_len = 0;
	if ((ret = registry_request(&call, "POST", url, NULL, &r, call.what)) < 0)
		goto done;
	if (r.status != 202 || !r.location) {
		ret = r.status == 202 ? error_setc(GS_EINVAL,
						   "registry '%s' started an upload for '%s' "
						   "without a Location",
						   call.registry, call.what)
				      : registry_status_error(&call, &r, call.what);
		goto done;
	}
	free(url);
	if (!(url = registry_upload_url(&call, r.location, d))) {
		ret = GS_EINVAL;
		goto done;
	}
	call.send_buf = buf;
	call.send_len = len;
	if ((ret = registry_request(&call, "PUT", url, NULL, &r, call.what)) < 0)
		goto done;
	if (!registry_2xx(r.status))
		ret = registry_status_error(&call, &r, call.what);
done:
	if (!ret && digest) {
		*digest = d;
		d = NULL;
	}
	free(d);
	free(url);
	registry_resp_release(&r);
	registry_call_release(&call);
	return ret;
}

int registry_put_manifest(struct registry_client *c, const char *registry, const char *repository,
			  const char *reference, const char *media_type, const void *buf,
			  size_t len, char **digest, int *indexed_subject)
{
	struct registry_call call;
	struct registry_resp r;
	char hex[65], *d, *url = NULL;
	int ret;

	hash_sha256_hex(buf, len, hex);
	d = xstrfmt("sha256:%s", hex);
	if (!reference)
		reference = d;
	if (indexed_subject)
		*indexed_subject = 0;
	registry_resp_init(&r, c->body_cap);
	ret = registry_call_init(&call, c, registry, repository, reference,
				 starts_with(reference, "sha256:"));
	if (ret < 0)
		goto done;
	if (starts_with(reference, "sha256:") && strcmp(reference, d)) {
		ret = error_setc(GS_EINVAL, "'%s': the manifest's digest is %s", call.what, d);
		goto done;
	}
	call.push = 1;
	call.send_type = media_type;
	call.send_buf = buf;
	call.send_len = len;
	url = xstrfmt("%s/v2/%s/manifests/%s", call.base, call.repo, reference);
	if ((ret = registry_request(&call, "PUT", url, NULL, &r, call.what)) < 0)
		goto done;
	if (!registry_2xx(r.status)) {
		/* The registry says why in its body ({"errors": [{"code", "message"}]}). */
		json_t *root = json_loadb(r.body.buf, r.body.len, 0, NULL);
		json_t *e = json_array_get(json_object_get(root, "errors"), 0);
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));

		if (r.status == 400 && code)
			ret = error_setc(
			    GS_EINVAL, "registry '%s' refused the manifest '%s': %s%s%s",
			    call.registry, call.what, code, msg ? ": " : "", msg ? msg : "");
		else
			ret = registry_status_error(&call, &r, call.what);
		json_decref(root);
		goto done;
	}
	if (indexed_subject)
		*indexed_subject = r.oci_subject != NULL;
done:
	if (!ret && digest) {
		*digest = d;
		d = NULL;
	}
	free(d);
	free(url);
	registry_resp_release(&r);
	registry_call_release(&call);
	return ret;
}

int registry_get_referrers(struct registry_client *c, const char *registry, const char *repository,
			   const char *digest, const char *artifact_type, json_t **index)
{
	struct registry_call call;
	struct registry_resp r;
	json_t *all = json_array(), *root = NULL;
	char *url = NULL;
	int ret;

	*index = NULL;
	registry_resp_init(&r, c->body_cap);
	ret = registry_call_init(&call, c, registry, repository, digest, 1);
	if (ret < 0)
		goto done;
	if (artifact_type) {
		char *t = curl_easy_escape(NULL, artifact_type, 0);

		url = xstrfmt("%s/v2/%s/referrers/%s?artifactType=%s", call.base, call.repo, digest,
			      t);
		curl_free(t);
	} else {
		url = xstrfmt("%s/v2/%s/referrers/%s", call.base, call.repo, digest);
	}
	for (int page = 0; url; page++) {
		json_t *list, *m;
		size_t i;

		if (page == REGISTRY_MAX_PAGES) {
			ret = error_setc(
			    GS_EINVAL,
			    "registry '%s' sent more than %d pages of referrers for '%s'",
			    call.registry, REGISTRY_MAX_PAGES, call.what);
			goto done;
		}
		ret = registry_request(&call, "GET", url, "application/vnd.oci.image.index.v1+json",
				       &r, call.what);
		if (ret < 0)
			goto done;
		if (r.status == 404) {
			ret = error_setc(GS_ENOTFOUND,
					 "registry '%s' has no referrers API (404 for '%s')",
					 call.registry, call.what);
			goto done;
		}
		if (!registry_2xx(r.status)) {
			ret = registry_status_error(&call, &r, call.what);
			goto done;
		}
		json_decref(root);
		root = json_loadb(r.body.buf, r.body.len, 0, NULL);
		list = json_object_get(root, "manifests");
		if (!json_is_object(root) || !json_is_array(list)) {
			ret =
			    error_setc(GS_EINVAL,
				       "registry '%s' sent referrers of '%s' that are not an image "
				       "index",
				       call.registry, call.what);
			goto done;
		}
		json_array_foreach(list, i, m) json_array_append(all, m);
		free(url);
		url = NULL;
		if (r.next && r.next[0] == '/')
			url = xstrfmt("%s%s", call.base, r.next);
		else if (r.next && starts_with(r.next, call.base))
			url = xstrdup(r.next);
	}
	*index = json_pack("{s:i,s:s,s:O}", "schemaVersion", 2, "mediaType",
			   "application/vnd.oci.image.index.v1+json", "manifests", all);
done:
	json_decref(all);
	json_decref(root);
	free(url);
	registry_resp_release(&r);
	registry_call_release(&call);
	return ret;
}
