#ifndef GS_HASH_H
#define GS_HASH_H

#include <stddef.h>

/* Lowercase hex SHA-256 of `len` bytes into `hex` (65 bytes with the NUL). */
void hash_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
