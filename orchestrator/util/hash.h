#ifndef GS_HASH_H
#define GS_HASH_H

#include <stddef.h>

/*
 * SHA-256, of a whole buffer or of a stream as it goes by (a layer's
 * diff_id, a blob being downloaded): hash_sha256_new(), then
 * hash_sha256_update() with each block, then hash_sha256_final_hex() once.
 * The caller owns the struct and frees it with hash_sha256_free(),
 * finished or not. Running out of memory aborts, as xmalloc() does.
 */

struct hash_sha256;

struct hash_sha256 *hash_sha256_new(void);
void hash_sha256_update(struct hash_sha256 *h, const void *data, size_t len);
/* Lowercase hex of everything added (65 bytes with the NUL); the hash
 * takes no more bytes after. */
void hash_sha256_final_hex(struct hash_sha256 *h, char hex[65]);
/* NULL is fine. */
void hash_sha256_free(struct hash_sha256 *h);

/* Lowercase hex SHA-256 of `len` bytes into `hex` (65 bytes with the NUL). */
void hash_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
