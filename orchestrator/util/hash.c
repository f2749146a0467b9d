#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/hash.h"
#include "util/strbuf.h"

struct hash_sha256 {
	EVP_MD_CTX *md;
};

struct hash_sha256 *hash_sha256_new(void)
{
	struct hash_sha256 *h = xmalloc(sizeof(*h));

	h->md = EVP_MD_CTX_new();
	/* Only an allocation can fail here: the policy of xmalloc(). */
	if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		abort();
	return h;
}

void hash_sha256_update(struct hash_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->md, data, len);
}

void hash_sha256_final_hex(struct hash_sha256 *h, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_DigestFinal_ex(h->md, md, &mdlen);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = '\0';
}

void hash_sha256_free(struct hash_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
}

void hash_sha256_hex(const void *data, size_t len, char hex[65])
{
	struct hash_sha256 *h = hash_sha256_new();

	hash_sha256_update(h, data, len);
	hash_sha256_final_hex(h, hex);
	hash_sha256_free(h);
}
